//! The single-revision pipelines: `list` (every heap escape of one revision) and
//! `explain` (the escapes at one line, with their `-m=2` flows).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config_change::ConfigFrom;
use crate::explain;
use crate::finding::{normalise_expr, Finding, RawFinding};
use crate::git::Revision;
use crate::go::{self, GoEnv, Platform};
use crate::matching::{self};

use super::analyse::{analyse, attribute};
use super::config::{build_settings, load_config};
use super::platforms::refuse_cgo;
use super::scope::{MainPackage, Scope};
use super::weigh::{load_profiles, ProfileRequest, ProfileSummary, Profiles};
use super::{limit_time, missing_submodules_warning, Session, Side};

/// Analyses one revision on its own (for `escape-gate list`), for `platform` (`None`:
/// the platform go builds for).
pub fn single(
    repo_dir: &Path,
    spec: Option<&str>,
    config: Option<&Path>,
    tags: &[String],
    platform: Option<&Platform>,
) -> Result<(GoEnv, Side)> {
    let session = Session::open(repo_dir)?;
    let (rev, tree, may_use_cgo) = session.checkout_one(spec)?;
    let Session {
        repo, go, progress, ..
    } = session;
    let go = targeting(go, platform);
    let loaded = load_config(&repo, config, &rev)?;
    limit_time(&loaded, None, ConfigFrom::Head)?;
    let settings = build_settings(&loaded, tags)?;
    let name = format!("revision {}{}", rev.label(), for_platform(platform));
    refuse_cgo(&go, &tree, may_use_cgo, &settings, &name)?;
    let listing = go::list(&go, &tree, &settings, &name)?;
    progress.say(&format!("building {name} with {}", go.version));
    let missing = missing_submodules_warning(&rev, &repo.missing_submodules(&rev));
    let mut side = analyse(
        &go,
        rev,
        &tree,
        &listing,
        &Scope::default(),
        &settings,
        &name,
    )?;
    side.notes.extend(missing);
    name_platform(&mut side.findings, platform);
    progress.clear();
    Ok((go, side))
}

/// `go` building for `platform`, which reports then name; `go` itself for `None`.
fn targeting(go: GoEnv, platform: Option<&Platform>) -> GoEnv {
    match platform {
        Some(platform) => {
            let mut go = go.for_platform(platform);
            go.analysed = vec![platform.clone()];
            go
        }
        None => go,
    }
}

/// Each finding names `platform` when one was named, as `diff --platforms` does.
fn name_platform(findings: &mut [Finding], platform: Option<&Platform>) {
    if let Some(platform) = platform {
        for f in findings {
            f.platforms = vec![platform.clone()];
        }
    }
}

/// ` for linux/arm64` when a platform was named, for progress and error messages.
fn for_platform(platform: Option<&Platform>) -> String {
    platform.map_or_else(String::new, |p| format!(" for {p}"))
}

/// What `escape-gate explain FILE:LINE [REV]` asks for.
#[derive(Debug, Clone, Default)]
pub struct ExplainRequest {
    pub repo: PathBuf,
    /// The revision; `None` is the working tree.
    pub rev: Option<String>,
    /// Repository-relative, `/`-separated.
    pub file: String,
    /// The same FILE read from the repository's root (as `diff` prints paths), tried
    /// when `file` is not a file of the revision: a path pasted from a report in a
    /// subdirectory.
    pub also: Option<String>,
    pub line: u32,
    pub config: Option<PathBuf>,
    pub tags: Vec<String>,
    /// `--profile FILE`: CPU profiles to give each escape its function's share with.
    pub profiles: Vec<PathBuf>,
    /// `--platform GOOS/GOARCH`: build for it; `None` is the platform go builds for.
    pub platform: Option<Platform>,
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
    /// The profiles that weighed the findings, when any was read.
    pub profile: Option<ProfileSummary>,
}

/// Builds only the package holding `req.file`, with `-m=2`, and keeps the heap findings
/// at `req.line` (their flows rendered with repository-relative positions).
pub fn explain_at(req: &ExplainRequest) -> Result<Explained> {
    let session = Session::open(&req.repo)?;
    let (rev, tree, may_use_cgo) = session.checkout_one(req.rev.as_deref())?;
    let Session {
        repo, go, progress, ..
    } = session;
    let platform = req.platform.as_ref();
    let go = targeting(go, platform);
    // Never through a link in the tree: it could point anywhere.
    let read = |file: &str| crate::tree::read_in_tree(&tree, file);
    let (file, text) = match (read(&req.file), &req.also) {
        (Ok(text), _) => (req.file.clone(), text),
        (Err(err), also) => match also.as_deref().map(|also| (also, read(also))) {
            Some((also, Ok(text))) => (also.to_string(), text),
            _ => bail!(
                "{} is not a readable file in {} ({err})\n\
                 hint: give the path relative to the current directory or to the repository \
                 root (as escape-gate diff prints it), or an absolute path inside the repository",
                req.file,
                rev.label()
            ),
        },
    };
    let req = &ExplainRequest {
        file,
        also: None,
        ..req.clone()
    };
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
    limit_time(&loaded, None, ConfigFrom::Head)?;
    let settings = build_settings(&loaded, &req.tags)?;
    not_compiled(&go, &req.file, &text, &settings.tags, &rev)?;
    let package = package_of(&tree, &req.file, &rev)?;
    let name = format!(
        "{} (package {package}{}, with -m=2)",
        rev.label(),
        for_platform(platform)
    );
    refuse_cgo(&go, &tree, may_use_cgo, &settings, &name)?;
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
    let findings = attribute(raw, &output, &tree, false).findings;
    // One line per allocation site: the copies the compiler prints of a site (generic
    // shapes, inlined bodies) all say the same thing about this line.
    let mut findings: Vec<Finding> = matching::sort(findings)
        .into_iter()
        .filter(|f| f.file == req.file)
        .collect();
    findings.dedup_by(|later, first| {
        (
            later.line,
            later.column,
            later.kind,
            normalise_expr(&later.expr),
        ) == (
            first.line,
            first.column,
            first.kind,
            normalise_expr(&first.expr),
        )
    });
    explain::render_in_place(&mut findings, &output);
    name_platform(&mut findings, platform);
    // The profile as `diff` reads it: `--profile`, else the allowlist's, else the
    // main packages' default.pgo (which needs the revision's package list).
    let mut scope = Scope::default();
    if req.profiles.is_empty() && loaded.config.profile.files.is_empty() {
        let listing = go::list(&go, &tree, &settings, &name)?;
        scope.mains = MainPackage::of(&listing, &tree);
    } else if text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("package "))
        .is_some_and(|rest| rest.split_whitespace().next() == Some("main"))
    {
        // The file's package is a main package: its symbols are `main.F`.
        scope.mains.push(MainPackage {
            import_path: package.clone(),
            ..MainPackage::default()
        });
    }
    let mut ignored = Vec::new();
    let profiles = load_profiles(
        &ProfileRequest {
            repo: &repo,
            given: &req.profiles,
            config: &loaded.config.profile,
            config_from: crate::config_change::ConfigFrom::Head,
            base: &rev,
            head: &rev,
            scope: &scope,
        },
        &mut ignored,
    )?;
    if let Some(p) = &profiles {
        p.weigh(&mut findings);
    }
    Ok(Explained {
        profile: profiles.as_ref().map(Profiles::summary),
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
pub(super) fn package_of(tree: &Path, file: &str, rev: &Revision) -> Result<String> {
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

/// Stops with exit 2 when the platform's build constraints leave `file` out: no build
/// for it compiles the line, so there would be nothing to explain. Names the platforms
/// that do compile it.
fn not_compiled(go: &GoEnv, file: &str, text: &str, tags: &[String], rev: &Revision) -> Result<()> {
    let platform = go.target.clone().unwrap_or_else(|| go.default_platform());
    if !file.ends_with(".go") || platform.compiles(file, text, tags, go.builds_cgo()) != Some(false)
    {
        return Ok(());
    }
    let others = go::compiling_platforms(file, text, tags, std::slice::from_ref(&platform));
    let Some(first) = others.first() else {
        bail!(
            "{file} is not compiled for {platform} in {}: its build constraints exclude it, \
             and every platform escape-gate proposes (`escape-gate init`)\n\
             hint: check the file's //go:build line and name, and the tags (--tags, build: tags:)",
            rev.label()
        );
    };
    let names: Vec<String> = others.iter().map(ToString::to_string).collect();
    bail!(
        "{file} is not compiled for {platform} in {}: its build constraints exclude it; it is \
         compiled for {}\n\
         hint: name one of those: escape-gate explain --platform {first} {file}:LINE",
        rev.label(),
        names.join(", ")
    )
}
