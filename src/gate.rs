//! The pipeline, end to end: two revisions in, an [`Outcome`] out (resolve,
//! materialise, build, parse, attribute, match, allow). Reporters turn the outcome into
//! text; commands turn it into an exit code.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::allowlist::{self, AllowEntry, AllowOutcome, Config, Date};
use crate::cache::Cache;
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::explain;
use crate::finding::{Finding, FlowStep, RawFinding};
use crate::function::FunctionIndex;
use crate::git::{Changes, Repo, Revision};
use crate::go::{self, BuildOutput, BuildSettings, GoEnv};
use crate::interrupt::TempTree;
use crate::matching::{self, ChangedLines, Comparison, LineMap};
use crate::select::{self, PackageInfo, Selection};
use crate::tree_path::{self, ReadError};

/// The allowlist file, at the root of the head revision unless `--config` names one.
pub const CONFIG_FILE: &str = ".escape-gate.yml";

/// One analysed revision.
#[derive(Debug)]
pub struct Side {
    pub revision: Revision,
    /// Heap findings inside the repository, deduplicated per allocation site.
    pub findings: Vec<Finding>,
    /// Packages built with `-m`.
    pub packages: Vec<String>,
    /// Heap findings in files outside the repository (standard library, module cache,
    /// generated code), which never fail the gate.
    pub outside: usize,
    /// Compiler lines that were not recognised.
    pub unrecognised: Vec<String>,
    /// `file:line` of heap findings the compiler placed in files of the tree that are
    /// not there: they could not be compared.
    pub unplaced: Vec<String>,
    /// Whether the analysis was read from the findings cache.
    pub cached: bool,
}

/// What one side's analysis produced, as the findings cache stores it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Analysis {
    findings: Vec<Finding>,
    packages: Vec<String>,
    outside: usize,
    unrecognised: Vec<String>,
    #[serde(default)]
    unplaced: Vec<String>,
}

impl Side {
    fn new(revision: Revision, analysis: Analysis, cached: bool) -> Side {
        Side {
            revision,
            findings: analysis.findings,
            packages: analysis.packages,
            outside: analysis.outside,
            unrecognised: analysis.unrecognised,
            unplaced: analysis.unplaced,
            cached,
        }
    }

    fn analysis(&self) -> Analysis {
        Analysis {
            findings: self.findings.clone(),
            packages: self.packages.clone(),
            outside: self.outside,
            unrecognised: self.unrecognised.clone(),
            unplaced: self.unplaced.clone(),
        }
    }
}

/// Which packages a comparison analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Packages of the head analysed (built with `-m`) on both sides.
    pub analysed: usize,
    /// Packages of the head in all, those the build section leaves out included.
    pub total: usize,
    /// Packages of the head that the build section (`packages`, `exclude`) leaves out.
    #[serde(default)]
    pub excluded: usize,
    /// Why every package was analysed, when it was.
    pub all_because: Option<String>,
    /// The selected import paths; `None` means every package.
    pub selected: Option<BTreeSet<String>>,
}

impl Scope {
    fn includes(&self, import_path: &str) -> bool {
        self.selected
            .as_ref()
            .is_none_or(|s| s.contains(import_path))
    }

    fn key(&self) -> String {
        match &self.selected {
            None => "all".to_string(),
            Some(set) => set.iter().cloned().collect::<Vec<_>>().join(","),
        }
    }
}

/// How an allowlist file is named in messages: its name, and the revision it was read
/// from when it is a revision's blob (`.escape-gate.yml (in head 1a2b3c4)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The repository-relative path, or the path given on the command line; empty
    /// when there is no file.
    pub file: String,
    /// `head 1a2b3c4`, when the text came from a commit rather than from disk.
    pub revision: Option<String>,
}

impl Origin {
    /// A file on disk.
    pub fn file(file: impl Into<String>) -> Origin {
        Origin {
            file: file.into(),
            revision: None,
        }
    }

    /// `.escape-gate.yml:12 (in head 1a2b3c4)`: a line of the file.
    pub fn at(&self, line: Option<usize>) -> String {
        let file = match line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        };
        match &self.revision {
            Some(rev) => format!("{file} (in {rev})"),
            None => file,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.at(None))
    }
}

/// Where the allowlist came from and what it says.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub origin: Origin,
    /// The file's repository-relative path, when it is a file of the head that an
    /// annotation can point at (`None` for a file outside the repository, or the
    /// base's file, whose lines are not the head's).
    pub path: Option<String>,
    pub config: Config,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub go: GoEnv,
    pub base: Side,
    pub head: Side,
    pub comparison: Comparison,
    pub allow: AllowOutcome,
    pub config: LoadedConfig,
    /// Which revision's allowlist ruled (`--config-from`).
    pub config_from: ConfigFrom,
    /// What the head changes in the allowlist compared with the base, when the file is
    /// one of the repository's and the two differ.
    pub config_change: Option<ConfigChange>,
    pub scope: Scope,
    /// Things the user should know that do not change the verdict.
    pub warnings: Vec<String>,
    /// Head lines the change touched, for the files that have new escapes.
    pub changed: ChangedLines,
}

impl Outcome {
    /// New escapes that no allowlist entry covers: these fail the gate.
    pub fn failing(&self) -> &[Finding] {
        &self.allow.remaining
    }

    /// Each allowed escape with the entry that allowed it.
    pub fn allowed(&self) -> impl Iterator<Item = (&Finding, &AllowEntry)> {
        self.allow
            .allowed
            .iter()
            .map(|a| (&a.finding, &self.config.config.allow[a.entry]))
    }

    /// Entries that allowed nothing (and have not expired).
    pub fn stale_entries(&self) -> impl Iterator<Item = &AllowEntry> {
        self.allow
            .stale
            .iter()
            .map(|&i| &self.config.config.allow[i])
    }

    /// Entries past their `expires` date.
    pub fn expired_entries(&self) -> impl Iterator<Item = &AllowEntry> {
        self.allow
            .expired
            .iter()
            .map(|&i| &self.config.config.allow[i])
    }
}

/// Which allowlist a comparison uses.
#[derive(Debug, Clone, Default)]
pub enum ConfigChoice {
    /// `.escape-gate.yml` of the revision whose allowlist rules (`--config-from`).
    #[default]
    Revision,
    /// A file on disk (`--config FILE`).
    File(PathBuf),
    /// An allowlist already read (by `allow`, which edits exactly that text): used as
    /// it is, and compared with nothing.
    Given(LoadedConfig),
}

impl ConfigChoice {
    /// `--config FILE` when given, else the revision's file.
    pub fn from_arg(file: Option<PathBuf>) -> ConfigChoice {
        file.map_or(ConfigChoice::Revision, ConfigChoice::File)
    }
}

/// What the user asked to compare, after argument validation.
#[derive(Debug, Clone, Default)]
pub struct DiffRequest {
    pub repo: PathBuf,
    pub base: Option<String>,
    pub head: Option<String>,
    /// Which allowlist to use.
    pub config: ConfigChoice,
    /// Which revision's allowlist rules: the head's (default) or the base's.
    pub config_from: ConfigFrom,
    /// Build tags added to the allowlist's `build.tags`.
    pub tags: Vec<String>,
    pub today: Option<Date>,
    /// Give each new escape its `-m=2` flow ([`Finding::flow`]), marking the steps on
    /// lines the change touched. Costs one more `go build`, of only the packages with
    /// new escapes, and only when there are some.
    pub explain: bool,
    /// Analyse every package, not only those the change can affect.
    pub all_packages: bool,
}

/// Runs the whole comparison.
///
/// Only the packages the change can affect are built (see [`crate::select`]), both
/// sides with the same flags into the same build cache, so the head build reuses what
/// the base build compiled. The analysis of a commit is kept in the findings cache
/// ([`crate::cache`]), so a repeated comparison builds nothing it built before.
pub fn diff(req: &DiffRequest) -> Result<Outcome> {
    let (repo, go, head_rev) = open(&req.repo, req.head.as_deref())?;
    let base_rev = match &req.base {
        Some(spec) => repo.resolve(spec)?,
        None => repo.default_base(&head_rev)?,
    };
    let base_commit = base_rev
        .commit
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the base must be a commit, not the working tree\nhint: name a branch, tag or commit as BASE"
            )
        })?;
    let progress = Progress::new();
    let work = Work::new(&repo)?;

    let mut warnings = Vec::new();
    let (config, mut change) = load_configs(
        &repo,
        &req.config,
        req.config_from,
        &base_rev,
        &head_rev,
        &mut warnings,
    )?;
    let settings = build_settings(&config, &req.tags)?;
    // When the head's build section rules and differs from the base's: the base's
    // view of the head's packages, to say which ones the head stops analysing.
    let base_view = match (&change, req.config_from) {
        (Some((change, _)), ConfigFrom::Head) => change
            .build
            .as_ref()
            .map(|build| base_view_settings(&build.base, &settings, &req.tags)),
        _ => None,
    };
    let changes = repo.changes(&base_rev, &head_rev)?;
    // A PGO profile or an overlay named by a flag is content the tree ids do not cover.
    let env_flags: Vec<String> = std::env::var("GOFLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let flags_read_files =
        go::flags_read_files(&settings.flags) || go::flags_read_files(&env_flags);
    let all_because = if req.all_packages {
        Some("--all-packages".to_string())
    } else if flags_read_files {
        Some("a build flag names a file (-pgo=FILE or -overlay=FILE)".to_string())
    } else {
        everything_changed(&repo, &changes, base_commit, &head_rev, &config.config)?
    };

    let cache =
        Cache::from_env().filter(|_| !flags_read_files && cacheable(&repo, &base_rev, &head_rev));
    let fingerprint = format!("{}|{}|{settings:?}", build_id(), go.fingerprint);
    let base_tree_id = repo.tree_id(base_commit)?;
    let head_key = match head_rev.commit {
        Some(commit) => Some(format!(
            "head|{}|{base_tree_id}|{fingerprint}|{all_because:?}|{base_view:?}",
            repo.tree_id(commit)?
        )),
        None => None,
    };

    // The head first: its package graph decides what both sides analyse.
    type HeadEntry = (Scope, Analysis, Option<Vec<String>>);
    let cached_head: Option<HeadEntry> = match (&cache, &head_key) {
        (Some(cache), Some(key)) => cache.get(key),
        _ => None,
    };
    let (scope, head, dropped) = match cached_head {
        Some((scope, analysis, dropped)) => (scope, Side::new(head_rev, analysis, true), dropped),
        None => {
            progress.say(&format!("checking out head {}", head_rev.label()));
            let tree = work.checkout(&repo, &head_rev)?;
            let name = format!("head {}", head_rev.label());
            let listing = go::list(&go, &tree, &settings, &name)?;
            let dropped = base_view
                .as_ref()
                .map(|view| no_longer_analysed(&go, &tree, &listing, view, &name));
            let scope = scope_of(&listing, &changes.paths, all_because);
            progress.say(&format!(
                "building {name}: {} of {} packages with {}",
                scope.analysed, scope.total, go.version
            ));
            let head = analyse(&go, head_rev, &tree, &listing, &scope, &settings, &name)?;
            if let (Some(cache), Some(key)) = (&cache, &head_key) {
                cache.put(key, &(&scope, head.analysis(), &dropped));
            }
            (scope, head, dropped)
        }
    };
    if let Some(build) = change.as_mut().and_then(|(c, _)| c.build.as_mut()) {
        build.no_longer_analysed = dropped;
    }

    let base_key = format!("base|{base_tree_id}|{fingerprint}|{}", scope.key());
    let base = match cache.as_ref().and_then(|c| c.get::<Analysis>(&base_key)) {
        Some(analysis) => Side::new(base_rev, analysis, true),
        None => {
            let name = format!("base {}", base_rev.label());
            let base = if scope.selected.as_ref().is_some_and(BTreeSet::is_empty) {
                Side::new(base_rev, Analysis::default(), false)
            } else {
                progress.say(&format!("checking out base {}", base_rev.label()));
                // The same path as the head's: the build cache then serves the base
                // every package the change did not touch.
                let tree = work.checkout(&repo, &base_rev)?;
                let listing = go::list(&go, &tree, &settings, &name)?;
                let count = listing
                    .packages
                    .iter()
                    .filter(|p| scope.includes(&p.import_path))
                    .count();
                progress.say(&format!(
                    "building {name}: {count} of {} packages with {}",
                    listing.packages.len(),
                    go.version
                ));
                analyse(&go, base_rev, &tree, &listing, &scope, &settings, &name)?
            };
            if let Some(cache) = &cache {
                cache.put(&base_key, &base.analysis());
            }
            base
        }
    };
    progress.clear();

    let lines = line_map(&repo, &base, &head, &changes.renames);
    let mut comparison = matching::compare(&base.findings, &head.findings, &lines);
    if req.explain && !comparison.new.is_empty() {
        progress.say(&format!(
            "explaining the new escapes of head {}",
            head.revision.label()
        ));
        explain_new(
            &repo,
            &work,
            &go,
            &base,
            &head,
            &settings,
            &changes.renames,
            &mut comparison.new,
        )?;
        progress.clear();
    }
    let changed = changed_lines(
        &repo,
        &base,
        &head,
        &changes.renames,
        comparison.new.iter().map(|f| f.file.as_str()),
    );
    let today = req.today.unwrap_or_else(Date::today_utc);
    let allow = allowlist::apply(&config.config, comparison.new.clone(), today);
    if let Some((change, head_config)) = &mut change {
        change.cover(head_config, &comparison.new, today);
    }

    for side in [&base, &head] {
        if !side.unrecognised.is_empty() {
            warnings.push(unrecognised_warning(side));
        }
        if !side.unplaced.is_empty() {
            warnings.push(format!(
                "{} heap finding(s) of {} name files that are not in its checkout, so they were not \
                 compared: {} (please report this to escape-gate's maintainers)",
                side.unplaced.len(),
                side.revision.label(),
                side.unplaced.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(Outcome {
        go,
        base,
        head,
        comparison,
        allow,
        config,
        config_from: req.config_from,
        config_change: change.map(|(change, _)| change),
        scope,
        warnings,
        changed,
    })
}

/// This build of escape-gate: its version, and the size and time of its executable, so
/// that a rebuilt binary (a development build, an upgrade) never reads what another one
/// cached.
fn build_id() -> String {
    let exe = std::env::current_exe()
        .and_then(|p| p.metadata())
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    format!("{}+{exe}", env!("CARGO_PKG_VERSION"))
}

/// Why the change can affect every package, if it can: a module or workspace file, a
/// PGO profile or vendored code changed (see [`select::affects_everything`]), a build
/// constraint changed, or the allowlist's `build` section changed.
fn everything_changed(
    repo: &Repo,
    changes: &Changes,
    base: git2::Oid,
    head: &Revision,
    head_config: &Config,
) -> Result<Option<String>> {
    let head_text = |path: &str| -> Option<String> {
        match head.commit {
            Some(commit) => repo.read_file(commit, path),
            None => read_worktree(repo, path),
        }
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let base_text = |path: &str| {
        repo.read_file(base, path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    for path in &changes.paths {
        if let Some(reason) = select::affects_everything(path) {
            return Ok(Some(reason));
        }
        if path.ends_with(".go") && !path.ends_with("_test.go") {
            if let (Some(b), Some(h)) = (base_text(path), head_text(path)) {
                if select::constraints_differ(&b, &h) {
                    return Ok(Some(format!("the build constraints of {path} changed")));
                }
            }
        }
        if path == CONFIG_FILE {
            let base_build = base_text(path)
                .and_then(|text| Config::parse(&text, CONFIG_FILE).ok())
                .map(|c| c.build)
                .unwrap_or_default();
            if base_build != head_config.build {
                return Ok(Some(format!("the build section of {CONFIG_FILE} changed")));
            }
        }
    }
    Ok(None)
}

/// The packages of the head to analyse for `changed` paths.
fn scope_of(listing: &go::Listing, changed: &[String], all_because: Option<String>) -> Scope {
    let analysable = || listing.packages.iter().filter(|p| !p.excluded);
    let total = listing.packages.len();
    let excluded = total - analysable().count();
    let infos: Vec<PackageInfo> = listing
        .packages
        .iter()
        .map(|p| PackageInfo {
            import_path: p.import_path.clone(),
            dir: p.dir.clone(),
            imports: p.imports.clone(),
            embeds: p.embeds.clone(),
        })
        .collect();
    // A package deleted by the change has no head package to select it; its import
    // path still names it on the base side, and its importers changed with it.
    let mut deleted = BTreeSet::new();
    for path in changed {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        if listing.packages.iter().any(|p| p.dir == dir) {
            continue;
        }
        if let Some(import_path) = go::import_path_of(&listing.modules, dir) {
            deleted.insert(import_path);
        }
    }
    let selection = match all_because {
        Some(reason) => Selection::All(reason),
        None => select::select_from(changed, &infos, &deleted),
    };
    match selection {
        Selection::All(reason) => Scope {
            analysed: total - excluded,
            total,
            excluded,
            all_because: Some(reason),
            selected: None,
        },
        Selection::Some(set) => Scope {
            analysed: analysable()
                .filter(|p| set.contains(&p.import_path))
                .count(),
            total,
            excluded,
            all_because: None,
            selected: Some(set),
        },
    }
}

/// The build settings under which the base's `build` section would analyse the head:
/// its package patterns, exclusions and tags (plus the command line's), with the
/// ruling flags (listing packages does not depend on them, and the base's may not be
/// allowed any more).
fn base_view_settings(
    base: &allowlist::BuildConfig,
    ruling: &BuildSettings,
    tags: &[String],
) -> BuildSettings {
    let mut settings = BuildSettings {
        packages: base.packages.clone(),
        exclude: base.exclude.clone(),
        tags: base.tags.clone(),
        flags: ruling.flags.clone(),
    };
    for tag in tags {
        if !settings.tags.contains(tag) {
            settings.tags.push(tag.clone());
        }
    }
    settings
}

/// The head packages that `base_view` analyses and the head's listing leaves out. A
/// listing that fails under the base's settings (patterns that match nothing in the
/// head) drops nothing the head has.
fn no_longer_analysed(
    go: &GoEnv,
    tree: &Path,
    listing: &go::Listing,
    base_view: &BuildSettings,
    name: &str,
) -> Vec<String> {
    let analysed: BTreeSet<&str> = listing
        .packages
        .iter()
        .filter(|p| !p.excluded)
        .map(|p| p.import_path.as_str())
        .collect();
    let Ok(base) = go::list(go, tree, base_view, name) else {
        return Vec::new();
    };
    let mut dropped: Vec<String> = base
        .packages
        .iter()
        .filter(|p| !p.excluded && !analysed.contains(p.import_path.as_str()))
        .map(|p| p.import_path.clone())
        .collect();
    dropped.sort();
    dropped.dedup();
    dropped
}

/// Whether analyses of these revisions may be cached: only commits are keyed by their
/// tree, and a `replace` or a symbolic link pointing outside the repository brings in
/// content the tree id does not cover.
fn cacheable(repo: &Repo, base: &Revision, head: &Revision) -> bool {
    [base.commit, head.commit]
        .into_iter()
        .flatten()
        .all(|commit| {
            repo.go_module_files(commit).is_ok_and(|files| {
                files
                    .iter()
                    .all(|(path, text)| !crate::modules::leaves_repository(path, text))
            }) && repo.links_outside(commit).is_ok_and(|outside| !outside)
        })
}

/// Rebuilds the head packages that hold new escapes with `-m=2` and attaches each new
/// escape's flow.
///
/// Why a second build rather than `-m=2` for every build: measured on
/// klauspost/compress v1.18.0 (31 packages, one leaf package changed, Go 1.26, 2 busy
/// cores; table in the README section "Explaining and accepting escapes"). `go build`
/// itself is not measurably slower with `-m=2` (noise is about a second), but its
/// output is 4x larger (4.0 MB against 0.97 MB per side; parse 5-7 ms against 1.5-2
/// ms), paid on every run although explanations are read only when an escape is new.
/// This build costs nothing when there is nothing to explain and about 0.15 s (one
/// package recompiled with `-m=2`) when there is.
#[allow(clippy::too_many_arguments)]
fn explain_new(
    repo: &Repo,
    work: &Work,
    go: &GoEnv,
    base: &Side,
    head: &Side,
    settings: &BuildSettings,
    renames: &HashMap<String, String>,
    new: &mut [Finding],
) -> Result<()> {
    let mut packages: Vec<String> = new.iter().map(|f| f.package.clone()).collect();
    packages.sort();
    packages.dedup();
    // The work tree holds the base now (or nothing, after a cache hit).
    let tree = work.checkout(repo, &head.revision)?;
    let name = format!(
        "head {} (with -m=2, to explain its new escapes)",
        head.revision.label()
    );
    let mut output = go::build_packages(go, &tree, settings, &packages, go::Detail::Flow, &name)?;
    let raw = std::mem::take(&mut output.parsed.findings);
    let files = explain::flow_files(&raw, &output);
    let changed = changed_lines(repo, base, head, renames, files.iter().map(String::as_str));
    explain::attach(new, &raw, &output, Some(&changed));
    Ok(())
}

/// The directory where revisions are checked out, one after the other, to be built.
///
/// Both sides use the same path, and so does every run on the same repository: builds
/// are not `-trimpath`, so the Go build cache keys packages by their directory, and a
/// fixed directory lets the head build reuse what the base build compiled (and a later
/// run what an earlier one did), while the standard library comes from the entries
/// ordinary builds left. It is removed at the end of the run, like every temporary
/// tree.
#[derive(Debug)]
struct Work {
    dir: TempTree,
}

impl Work {
    fn new(repo: &Repo) -> Result<Work> {
        let name = format!(
            "work-{}",
            crate::cache::stable_hash(&repo.root().to_string_lossy())
        );
        Ok(Work {
            dir: TempTree::stable(&name)?,
        })
    }

    /// Replaces the tree with the files of `rev`; returns its path.
    fn checkout(&self, repo: &Repo, rev: &Revision) -> Result<PathBuf> {
        let tree = self.dir.path().join("tree");
        repo.materialise(rev, &tree)?;
        Ok(tree)
    }
}

/// The most of a working-tree file read for line maps and for the build-section check.
const MAX_SOURCE_READ: u64 = 64 * 1024 * 1024;
/// The most of a working-tree allowlist read; the allowlist's own, smaller limit then
/// names itself (see [`crate::allowlist`]).
const MAX_CONFIG_READ: u64 = 16 * 1024 * 1024;

/// A regular file of the working tree, read without following a link inside the
/// repository and at most [`MAX_SOURCE_READ`] bytes of it; `None` otherwise.
fn read_worktree(repo: &Repo, rel: &str) -> Option<Vec<u8>> {
    tree_path::read_bytes_in_tree(repo.root(), rel, MAX_SOURCE_READ).ok()
}

/// A file of one side: from git for a commit, from disk for the working tree.
fn read_side(repo: &Repo, side: &Side, path: &str) -> Option<String> {
    let bytes = match side.revision.commit {
        Some(commit) => repo.read_file(commit, path)?,
        None => read_worktree(repo, path)?,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Opens the repository, finds `go`, and resolves `spec` (the working tree when `None`).
fn open(repo_dir: &Path, spec: Option<&str>) -> Result<(Repo, GoEnv, Revision)> {
    let repo = Repo::open(repo_dir)?;
    let go = GoEnv::detect()?;
    let rev = match spec {
        Some(spec) => repo.resolve(spec)?,
        None => Revision::working_tree(),
    };
    Ok((repo, go, rev))
}

/// Analyses one revision on its own (for `escape-gate list`).
pub fn single(
    repo_dir: &Path,
    spec: Option<&str>,
    config: Option<&Path>,
    tags: &[String],
) -> Result<(GoEnv, Side)> {
    let (repo, go, rev) = open(repo_dir, spec)?;
    let progress = Progress::new();
    progress.say(&format!("checking out {}", rev.label()));
    let work = Work::new(&repo)?;
    let tree = work.checkout(&repo, &rev)?;
    let loaded = load_config(&repo, config, &rev)?;
    let settings = build_settings(&loaded, tags)?;
    let name = format!("revision {}", rev.label());
    let listing = go::list(&go, &tree, &settings, &name)?;
    progress.say(&format!("building {name} with {}", go.version));
    let side = analyse(
        &go,
        rev,
        &tree,
        &listing,
        &Scope::default(),
        &settings,
        &name,
    )?;
    progress.clear();
    Ok((go, side))
}

/// What `escape-gate explain FILE:LINE [REV]` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExplainRequest {
    pub repo: PathBuf,
    /// The revision; `None` is the working tree.
    pub rev: Option<String>,
    /// Repository-relative, `/`-separated.
    pub file: String,
    pub line: u32,
    pub config: Option<PathBuf>,
    pub tags: Vec<String>,
}

/// The heap escapes at one line of one revision, with their flows.
#[derive(Debug)]
pub struct Explained {
    pub go: GoEnv,
    pub revision: Revision,
    /// The import path of the package built with `-m=2`.
    pub package: String,
    pub file: String,
    pub line: u32,
    /// The source line, trimmed.
    pub source: String,
    pub findings: Vec<Finding>,
}

/// Builds only the package holding `req.file`, with `-m=2`, and keeps the heap findings
/// at `req.line` (their flows rendered with repository-relative positions).
pub fn explain_at(req: &ExplainRequest) -> Result<Explained> {
    let (repo, go, rev) = open(&req.repo, req.rev.as_deref())?;
    let progress = Progress::new();
    progress.say(&format!("checking out {}", rev.label()));
    let work = Work::new(&repo)?;
    let tree = work.checkout(&repo, &rev)?;
    // Never through a link in the tree: it could point anywhere.
    let text = crate::tree_path::read_in_tree(&tree, &req.file).map_err(|err| {
        anyhow::anyhow!(
            "{} is not a readable file in {} ({err})\n\
             hint: give the path relative to the repository root, as escape-gate diff prints it",
            req.file,
            rev.label()
        )
    })?;
    let source = text
        .lines()
        .nth((req.line as usize).saturating_sub(1))
        .filter(|_| req.line >= 1)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has {} lines in {}; there is no line {}\nhint: give a line of the file, as escape-gate diff prints it",
                req.file,
                text.lines().count(),
                rev.label(),
                req.line
            )
        })?
        .trim()
        .to_string();
    let loaded = load_config(&repo, req.config.as_deref(), &rev)?;
    let settings = build_settings(&loaded, &req.tags)?;
    let package = package_of(&tree, &req.file, &rev)?;
    let name = format!("{} (package {package}, with -m=2)", rev.label());
    progress.say(&format!("building {name} with {}", go.version));
    let mut output = go::build_packages(
        &go,
        &tree,
        &settings,
        std::slice::from_ref(&package),
        go::Detail::Flow,
        &name,
    )?;
    progress.clear();
    let raw: Vec<RawFinding> = std::mem::take(&mut output.parsed.findings)
        .into_iter()
        .filter(|r| r.line == req.line)
        .collect();
    let findings = attribute(raw, &output, &tree).findings;
    let mut findings: Vec<Finding> = matching::dedupe(findings)
        .into_iter()
        .filter(|f| f.file == req.file)
        .collect();
    explain::render_in_place(&mut findings, &output);
    Ok(Explained {
        go,
        revision: rev,
        package,
        file: req.file.clone(),
        line: req.line,
        source,
        findings,
    })
}

/// The import path of the package whose directory holds `file`: the module with the
/// longest directory containing it, plus the rest of the directory.
fn package_of(tree: &Path, file: &str, rev: &Revision) -> Result<String> {
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let modules = go::find_modules(tree)?;
    go::import_path_of(&modules, dir)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{file} is in no Go module of {}\n\
                 hint: explain works on files of the repository's modules (a directory with a go.mod, \
                 or below one)",
                rev.label()
            )
        })
}

/// Where the allowlist is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConfigPlace {
    /// A file of the repository, by its repository-relative path: `.escape-gate.yml`
    /// at the root, or a `--config` file inside the working tree (`explicit`, read
    /// from disk for the head). Each revision has its own version of it.
    Repo {
        rel: String,
        explicit: Option<PathBuf>,
    },
    /// A `--config` file outside the repository: the user's own, no revision's.
    Outside(PathBuf),
}

impl ConfigPlace {
    fn of(repo: &Repo, explicit: Option<&Path>) -> ConfigPlace {
        let Some(path) = explicit else {
            return ConfigPlace::Repo {
                rel: CONFIG_FILE.to_string(),
                explicit: None,
            };
        };
        // Lexically, not through `canonicalize`: a link inside the repository must
        // not carry the file outside it (it is refused when read, instead).
        let absolute = std::env::current_dir()
            .map(|cwd| lexical(&cwd.join(path)))
            .ok();
        let roots = [Some(lexical(repo.root())), repo.root().canonicalize().ok()];
        let rel = absolute.as_ref().and_then(|file| {
            roots.iter().flatten().find_map(|root| {
                file.strip_prefix(root).ok().map(|rel| {
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
            })
        });
        match rel {
            // Not the repository's own `.git` directory: no revision has that.
            Some(rel) if !rel.is_empty() && !rel.starts_with(".git/") => ConfigPlace::Repo {
                rel,
                explicit: Some(path.to_path_buf()),
            },
            _ => ConfigPlace::Outside(path.to_path_buf()),
        }
    }
}

/// `path` with `.` and `..` components resolved as text, links not followed.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The text of an allowlist file and how to name it, `None` when there is no file.
fn read_config(
    repo: &Repo,
    disk: Option<&Path>,
    rel: &str,
    rev: &Revision,
    side: &str,
) -> Result<Option<(String, Origin)>> {
    let (bytes, origin) = match (disk, rev.commit) {
        // A `--config` file inside the working tree is read like the tree's own files
        // (no link followed: in CI the checkout is the pull request's); one outside is
        // the user's own. Both are read with a bound.
        (Some(path), _) if !rel.is_empty() => {
            let origin = Origin::file(path.display().to_string());
            let bytes = tree_path::read_bytes_in_tree(repo.root(), rel, MAX_CONFIG_READ)
                .map_err(|err| {
                    anyhow::anyhow!(
                        "cannot read the allowlist {origin}: {err}\n\
                         hint: escape-gate reads the repository's files without following links"
                    )
                })?;
            (bytes, origin)
        }
        (Some(path), _) => {
            use std::io::Read;
            let origin = Origin::file(path.display().to_string());
            let mut bytes = Vec::new();
            fs::File::open(path)
                .and_then(|f| f.take(MAX_CONFIG_READ + 1).read_to_end(&mut bytes))
                .with_context(|| format!("reading the allowlist {origin}"))?;
            if bytes.len() as u64 > MAX_CONFIG_READ {
                anyhow::bail!("the allowlist {origin} is larger than {MAX_CONFIG_READ} bytes\nhint: an allowlist may be at most 1 MiB");
            }
            (bytes, origin)
        }
        (None, Some(commit)) => match repo.file_size(commit, rel) {
            Some(size) if size > MAX_CONFIG_READ => anyhow::bail!(
                "the allowlist {rel} in {side} {} is {size} bytes, too large to be an allowlist\n\
                 hint: an allowlist may be at most 1 MiB",
                rev.label()
            ),
            _ => match repo.read_file(commit, rel) {
            None if repo.has_path(commit, rel) => anyhow::bail!(
                "the allowlist {rel} in {side} {} is not a regular file (a symbolic link, a \
                 directory or a submodule)\n\
                 hint: the allowlist must be a plain file; escape-gate never follows a link to find it",
                rev.label()
            ),
            Some(bytes) => (
                bytes,
                Origin {
                    file: rel.to_string(),
                    revision: Some(format!("{side} {}", rev.label())),
                },
            ),
            None => return Ok(None),
            },
        },
        (None, None) => {
            match tree_path::read_bytes_in_tree(repo.root(), rel, MAX_CONFIG_READ) {
                Ok(bytes) => (bytes, Origin::file(rel)),
                Err(ReadError::Missing) => return Ok(None),
                Err(err) => anyhow::bail!(
                    "cannot read the allowlist {rel} of the working tree: {err}\n\
                     hint: escape-gate reads the working tree's files without following links; \
                     make {rel} a regular file, or pass --config FILE"
                ),
            }
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the allowlist {origin} is not UTF-8 text\nhint: save it as UTF-8 (YAML files are)"
        )
    })?;
    Ok(Some((text, origin)))
}

fn parse_config(text: &str, origin: &Origin) -> Result<Config> {
    Config::parse(text, &origin.to_string()).map_err(|err| {
        anyhow::anyhow!(
            "{err}\nhint: see the allowlist format in escape-gate's README (section \"The allowlist\")"
        )
    })
}

/// Reads the allowlist of one revision: `explicit` from disk, else `.escape-gate.yml`
/// of `rev` (the file in the working tree, or the blob in the commit).
fn load_config(repo: &Repo, explicit: Option<&Path>, rev: &Revision) -> Result<LoadedConfig> {
    let place = ConfigPlace::of(repo, explicit);
    let (disk, rel) = match &place {
        ConfigPlace::Repo { rel, explicit } => (explicit.as_deref(), rel.as_str()),
        ConfigPlace::Outside(path) => (Some(path.as_path()), ""),
    };
    let Some((text, origin)) = read_config(repo, disk, rel, rev, "revision")? else {
        return Ok(LoadedConfig::default());
    };
    let config = parse_config(&text, &origin)?;
    let path = match place {
        ConfigPlace::Repo { rel, .. } => Some(rel),
        ConfigPlace::Outside(_) => None,
    };
    Ok(LoadedConfig {
        origin,
        path,
        config,
    })
}

/// The allowlists of a comparison: the one that rules it (the head's, or the base's
/// with [`ConfigFrom::Base`]), and, when the file is one of the repository's, what the
/// head changes in it compared with the base, with the head's config (for
/// [`ConfigChange::cover`]). A file outside the repository is the user's own: it rules
/// and nothing is compared.
fn load_configs(
    repo: &Repo,
    choice: &ConfigChoice,
    from: ConfigFrom,
    base: &Revision,
    head: &Revision,
    warnings: &mut Vec<String>,
) -> Result<(LoadedConfig, Option<(ConfigChange, Config)>)> {
    let explicit = match choice {
        ConfigChoice::Revision => None,
        ConfigChoice::File(path) => Some(path.as_path()),
        ConfigChoice::Given(loaded) => return Ok((loaded.clone(), None)),
    };
    let (rel, disk) = match ConfigPlace::of(repo, explicit) {
        ConfigPlace::Outside(path) => {
            let Some((text, origin)) = read_config(repo, Some(&path), "", head, "head")? else {
                return Ok((LoadedConfig::default(), None));
            };
            let config = parse_config(&text, &origin)?;
            let loaded = LoadedConfig {
                origin,
                path: None,
                config,
            };
            return Ok((loaded, None));
        }
        ConfigPlace::Repo { rel, explicit } => (rel, explicit),
    };
    // The side that does not rule may hold anything: a base from before a format
    // change, a head with a typo or a link. Neither stops the comparison; both are said.
    let mut read = |disk: Option<&Path>, rev: &Revision, side: &str, rules: bool| match read_config(
        repo, disk, &rel, rev, side,
    ) {
        Err(err) if !rules => {
            warnings.push(format!("{err:#} (it does not rule this comparison)"));
            Ok(None)
        }
        other => other,
    };
    let head_file = read(disk.as_deref(), head, "head", from == ConfigFrom::Head)?;
    let base_file = read(None, base, "base", from == ConfigFrom::Base)?;
    let ruling = match from {
        ConfigFrom::Head => &head_file,
        ConfigFrom::Base => &base_file,
    };
    let loaded = match ruling {
        Some((text, origin)) => LoadedConfig {
            origin: origin.clone(),
            path: (from == ConfigFrom::Head).then(|| rel.clone()),
            config: parse_config(text, origin)?,
        },
        None => LoadedConfig::default(),
    };
    let lenient = |file: &Option<(String, Origin)>, rules: bool, warnings: &mut Vec<String>| {
        let (text, origin) = file.as_ref()?;
        if rules {
            return Some(loaded.config.clone());
        }
        match Config::parse(text, &origin.to_string()) {
            Ok(config) => Some(config),
            Err(err) => {
                warnings.push(format!("{err} (it does not rule this comparison)"));
                None
            }
        }
    };
    let head_config = lenient(&head_file, from == ConfigFrom::Head, warnings);
    let base_config = lenient(&base_file, from == ConfigFrom::Base, warnings);
    let change = match (&head_file, head_config) {
        (Some((text, _)), Some(head_config)) => {
            ConfigChange::between(&rel, base_config.as_ref(), &head_config, text)
                .map(|change| (change, head_config))
        }
        // The head has no file (or an invalid one): every base entry is gone.
        _ => {
            let empty = Config::default();
            ConfigChange::between(&rel, base_config.as_ref(), &empty, "")
                .filter(|_| base_file.is_some())
                .map(|change| (change, empty))
        }
    };
    Ok((loaded, change))
}

fn build_settings(config: &LoadedConfig, tags: &[String]) -> Result<BuildSettings> {
    let origin = if config.origin.file.is_empty() {
        CONFIG_FILE.to_string()
    } else {
        config.origin.to_string()
    };
    go::check_flags(&config.config.build.flags).map_err(|why| {
        anyhow::anyhow!("{origin}: {why}\nhint: remove it from the build section")
    })?;
    let config = &config.config;
    let mut settings = BuildSettings {
        packages: config.build.packages.clone(),
        exclude: config.build.exclude.clone(),
        tags: config.build.tags.clone(),
        flags: config.build.flags.clone(),
    };
    for tag in tags {
        if !settings.tags.contains(tag) {
            settings.tags.push(tag.clone());
        }
    }
    Ok(settings)
}

/// Builds the packages of `listing` that `scope` includes and turns the compiler's
/// output into findings.
fn analyse(
    go: &GoEnv,
    revision: Revision,
    tree: &Path,
    listing: &go::Listing,
    scope: &Scope,
    settings: &BuildSettings,
    name: &str,
) -> Result<Side> {
    let mut output = go::build_selected(go, tree, listing, &|p| scope.includes(p), settings, name)?;
    let parsed = std::mem::take(&mut output.parsed);
    let Attributed {
        findings,
        outside,
        unplaced,
    } = attribute(parsed.findings, &output, tree);
    let analysis = Analysis {
        findings: matching::dedupe(findings),
        packages: output.packages,
        outside,
        unrecognised: parsed.unrecognised,
        unplaced,
    };
    Ok(Side::new(revision, analysis, false))
}

/// Places raw findings in the tree and names their enclosing functions. Findings in
/// files that are not in the tree are only counted.
pub fn attribute(raw: Vec<RawFinding>, output: &BuildOutput, tree: &Path) -> Attributed {
    let mut by_file: HashMap<String, Vec<RawFinding>> = HashMap::new();
    for r in raw {
        by_file.entry(r.file.clone()).or_default().push(r);
    }
    let mut out = Attributed::default();
    let findings = &mut out.findings;
    for (file, raws) in by_file {
        let Some((rel, package)) = output.locate(&file) else {
            out.outside += raws.len();
            continue;
        };
        let base_name = rel.rsplit('/').next().unwrap_or(&rel);
        if base_name.starts_with("_cgo_") {
            out.outside += raws.len();
            continue;
        }
        let Ok(source) = fs::read(tree.join(&rel)) else {
            // A name the compiler printed as a file of this tree that is not one: a
            // finding that cannot be compared, which the user must hear about.
            out.unplaced.push(format!("{rel}:{}", raws[0].line));
            continue;
        };
        let index = FunctionIndex::new(&source);
        let text = String::from_utf8_lossy(&source);
        let lines: Vec<&str> = text.lines().collect();
        for r in raws {
            let column = r.column.unwrap_or(0);
            findings.push(Finding {
                package: package.clone(),
                file: rel.clone(),
                line: r.line,
                column,
                function: index.function_at(r.line, column),
                kind: r.kind,
                message: r.message,
                expr: r.expr,
                source: lines
                    .get((r.line as usize).wrapping_sub(1))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_default(),
                // As printed; `explain::render_in_place` makes them readable.
                flow: r.flow.into_iter().map(FlowStep::plain).collect(),
            });
        }
    }
    out.unplaced.sort();
    out
}

/// What [`attribute`] made of raw findings.
#[derive(Debug, Default)]
pub struct Attributed {
    pub findings: Vec<Finding>,
    /// Findings in files outside the repository (standard library, module cache,
    /// generated code), which never fail the gate.
    pub outside: usize,
    /// `file:line` of findings the compiler placed in files of the tree that are not
    /// there; they cannot be compared.
    pub unplaced: Vec<String>,
}

/// Line maps for every base file that has findings, to its head counterpart.
fn line_map(repo: &Repo, base: &Side, head: &Side, renames: &HashMap<String, String>) -> LineMap {
    let reverse: HashMap<&str, &str> = renames
        .iter()
        .map(|(h, b)| (b.as_str(), h.as_str()))
        .collect();
    let mut files: Vec<&str> = base.findings.iter().map(|f| f.file.as_str()).collect();
    files.sort();
    files.dedup();
    let mut map = LineMap::new();
    for base_file in files {
        let head_file = reverse.get(base_file).copied().unwrap_or(base_file);
        let (Some(base_text), Some(head_text)) = (
            read_side(repo, base, base_file),
            read_side(repo, head, head_file),
        ) else {
            continue;
        };
        map.add_file(base_file, head_file, &base_text, &head_text);
    }
    map
}

/// The touched head lines of `head_files`: lines that are not the image of a base line
/// (through `renames`, head path → base path).
fn changed_lines<'a>(
    repo: &Repo,
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
    head_files: impl IntoIterator<Item = &'a str>,
) -> ChangedLines {
    let mut changed = ChangedLines::new();
    for head_file in head_files {
        let Some(head_text) = read_side(repo, head, head_file) else {
            continue;
        };
        let base_file = renames.get(head_file).map_or(head_file, String::as_str);
        let base_text = read_side(repo, base, base_file);
        changed.add_file(head_file, base_text.as_deref(), &head_text);
    }
    changed
}

fn unrecognised_warning(side: &Side) -> String {
    const MAX: usize = 5;
    let mut text = format!(
        "the compiler printed {} line(s) for {} that escape-gate does not recognise (a newer Go release?):",
        side.unrecognised.len(),
        side.revision.label()
    );
    for line in side.unrecognised.iter().take(MAX) {
        text.push_str("\n    ");
        text.push_str(line);
    }
    if side.unrecognised.len() > MAX {
        text.push_str(&format!(
            "\n    … and {} more",
            side.unrecognised.len() - MAX
        ));
    }
    text
}

/// A one-line progress display on stderr, only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    pub fn say(&self, what: &str) {
        if self.enabled {
            eprint!("\r\x1b[2Kescape-gate: {what} …");
        }
    }

    pub fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error leaves the pipeline early; its message must start on a clean line.
        self.clear();
    }
}
