//! The pipeline, end to end: two revisions in, an [`Outcome`] out (resolve,
//! materialise, build, parse, attribute, match, allow). Reporters turn the outcome into
//! text; commands turn it into an exit code.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::allowlist::{self, AllowEntry, AllowOutcome, Date, Staleness};
use crate::cache::Cache;
use crate::checks::{self, Checks};
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::excerpt::Excerpts;
use crate::finding::Finding;
use crate::gcassert::Directives;
use crate::git::{Repo, Revision};
use crate::go::{self, GoEnv};
use crate::matching::{self, ChangedLines, Comparison};
use crate::parse::InlineCall;

mod analyse;
mod config;
mod platforms;
mod scope;
mod shard;
mod single;
mod stale;
mod weigh;

pub(crate) use crate::progress::Progress;
pub(crate) use analyse::*;
pub(crate) use config::*;
pub(crate) use platforms::*;
pub(crate) use scope::*;
pub(crate) use shard::*;
pub(crate) use single::*;
pub(crate) use weigh::*;

/// The allowlist file, at the root of the head revision unless `--config` names one.
pub const CONFIG_FILE: &str = ".escape-gate.yml";

/// One analysed revision.
#[derive(Debug)]
pub struct Side {
    pub revision: Revision,
    /// Heap findings inside the repository, every copy the compiler printed.
    pub findings: Vec<Finding>,
    /// Packages built with `-m`.
    pub packages: Vec<String>,
    /// Heap findings in files outside the repository (standard library, module cache,
    /// generated code), which never fail the gate.
    pub outside: usize,
    /// Compiler lines that were not recognised.
    pub unrecognised: Vec<String>,
    /// The files of heap findings that could not be placed in the checkout, as the
    /// compiler printed them; those findings are compared as printed.
    pub unplaced: Vec<String>,
    /// The `inlining call to F` lines in files of the tree.
    pub inline_calls: Vec<InlineCall>,
    /// Further things to say about this side (submodules not in the clone).
    pub notes: Vec<String>,
    /// Whether the analysis was read from the findings cache.
    pub cached: bool,
    /// Changed Go files (not tests) that no package of this side's build has: its
    /// platform's build constraints exclude them, or no package holds them.
    pub uncompiled: Vec<String>,
}

/// What one side's analysis produced, as the findings cache stores it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Analysis {
    pub(crate) findings: Vec<Finding>,
    pub(crate) packages: Vec<String>,
    pub(crate) outside: usize,
    pub(crate) unrecognised: Vec<String>,
    #[serde(default)]
    pub(crate) unplaced: Vec<String>,
    /// The `inlining call to F` lines in files of the tree: where copies come from.
    #[serde(default)]
    pub(crate) inline_calls: Vec<InlineCall>,
    /// See [`Side::uncompiled`].
    #[serde(default)]
    pub(crate) uncompiled: Vec<String>,
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
            inline_calls: analysis.inline_calls,
            uncompiled: analysis.uncompiled,
            notes: Vec::new(),
            cached,
        }
    }

    /// What the user must hear about this side's analysis: compiler lines escape-gate
    /// did not recognise, and heap findings it could not place in the checkout.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = self.notes.clone();
        if !self.unrecognised.is_empty() {
            warnings.push(unrecognised_warning(self));
        }
        if !self.unplaced.is_empty() {
            let count = self.findings.iter().filter(|f| f.unplaced).count();
            warnings.push(format!(
                "{count} heap finding(s) of {} are in files that are not in its checkout (a \
                 `//line` directive names them, or the compiler printed a name escape-gate \
                 could not place): {}; they are compared as the compiler printed them, \
                 without a function name",
                self.revision.label(),
                self.unplaced
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        warnings
    }

    fn analysis(&self) -> Analysis {
        Analysis {
            findings: self.findings.clone(),
            packages: self.packages.clone(),
            outside: self.outside,
            unrecognised: self.unrecognised.clone(),
            unplaced: self.unplaced.clone(),
            inline_calls: self.inline_calls.clone(),
            uncompiled: self.uncompiled.clone(),
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub go: GoEnv,
    pub base: Side,
    pub head: Side,
    pub comparison: Comparison,
    pub allow: AllowOutcome,
    /// Why each stale entry (`allow.stale`, in that order) allowed nothing.
    pub staleness: Vec<Staleness>,
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
    /// The head's source around each new escape and on its flow steps, when asked for
    /// ([`DiffRequest::excerpts`]); empty otherwise.
    pub excerpts: Excerpts,
    /// With `--shard`: what this shard found, for `merge`.
    pub shard: Option<ShardData>,
    /// The checks compared (`--checks`, else the ruling allowlist's `checks:`).
    pub checks: Checks,
    /// The profiles that weighed the findings, when any was read.
    pub profile: Option<ProfileSummary>,
    /// New findings in functions under `profile.cold_below_percent` that no entry
    /// allows: listed, never failing.
    pub cold: Vec<Finding>,
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

    /// Entries that allowed nothing (and have not expired, and are not `stale:
    /// never`), each with why.
    pub fn stale_entries(&self) -> impl Iterator<Item = (&AllowEntry, Staleness)> {
        self.allow.stale.iter().enumerate().map(|(k, &i)| {
            (
                &self.config.config.allow[i],
                self.staleness.get(k).cloned().unwrap_or(Staleness::Unknown),
            )
        })
    }

    /// Entries past their `expires` date.
    pub fn expired_entries(&self) -> impl Iterator<Item = &AllowEntry> {
        self.allow
            .expired
            .iter()
            .map(|&i| &self.config.config.allow[i])
    }
}

/// The warning for `missing`, the submodules of `rev` this clone does not have
/// ([`Repo::missing_submodules`]), if any.
pub(crate) fn missing_submodules_warning(rev: &Revision, missing: &[String]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{} of {} ({}): the commit it records is not in this clone, so its directory is empty \
         in escape-gate's checkout; packages in it are not analysed, and a package that \
         imports one does not build\n\
         hint: fetch submodules (`git submodule update --init --recursive`; in GitHub Actions, \
         actions/checkout with `submodules: recursive`)",
        count_submodules(missing.len()),
        rev.label(),
        missing.join(", ")
    ))
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
    /// Keep the head's source lines around each new escape and on its flow steps
    /// ([`Outcome::excerpts`]), for a report that shows code.
    pub excerpts: bool,
    /// `--checks`: the checks to compare, instead of the allowlist's `checks:`.
    pub checks: Option<Checks>,
    /// `--shard I/N`: analyse only this part of the packages, and keep what both
    /// sides found ([`Outcome::shard`]) for `merge`.
    pub shard: Option<Shard>,
    /// `merge`: the sides come from these shards instead of being built.
    pub from_shards: Option<Vec<ShardData>>,
    /// `--profile FILE`: CPU profiles of the user's, instead of the allowlist's
    /// `profile.files` or the main packages' `default.pgo`.
    pub profiles: Vec<PathBuf>,
    /// `--platforms`: the platforms to build each side for, instead of the
    /// allowlist's `platforms:`.
    pub platforms: Option<Vec<go::Platform>>,
}

/// Runs the whole comparison.
///
/// Only the packages the change can affect are built (see [`crate::select`]), both
/// sides with the same flags into the same build cache, so the head build reuses what
/// the base build compiled. The analysis of a commit is kept in the findings cache
/// ([`crate::cache`]), so a repeated comparison builds nothing it built before.
pub fn diff(req: &DiffRequest) -> Result<Outcome> {
    crate::interrupt::set_stage("reading the revisions and the allowlist");
    let session = Session::open(&req.repo)?;
    let (repo, go, progress) = (&session.repo, &session.go, &session.progress);
    let head_rev = session.revision(req.head.as_deref())?;
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
    let mut warnings = Vec::new();
    let (config, mut change) = load_configs(
        repo,
        &req.config,
        req.config_from,
        &base_rev,
        &head_rev,
        &mut warnings,
    )?;
    limit_time(&config, change.as_ref().map(|c| &c.change), req.config_from)?;
    let checks = req.checks.clone().unwrap_or_else(|| config.config.checks());
    let mut settings = build_settings(&config, &req.tags)?;
    settings.compiler = checks.needs();
    // The platforms: `--platforms`, else the ruling allowlist's `platforms:`; the
    // default platform, unnamed, when neither names one. Findings name their platforms
    // when platforms were named, or when an allowlist entry is limited to some.
    let named = req
        .platforms
        .clone()
        .unwrap_or_else(|| config.config.build.platforms.clone());
    let targets: Vec<Option<go::Platform>> = if !named.is_empty() {
        named.iter().cloned().map(Some).collect()
    } else if config.config.allow.iter().any(|e| !e.platforms.is_empty()) {
        vec![Some(go.default_platform())]
    } else {
        vec![None]
    };
    // What shards must agree on to be merged (before `//gcassert:` directives, which
    // each shard finds in its own packages, add to the compiler's flags).
    let shard_settings = format!(
        "escape-gate {} {} config from {} {}{}",
        env!("CARGO_PKG_VERSION"),
        go.version,
        req.config_from.name(),
        settings.cache_key(),
        platforms_key(&targets)
    );
    // When the head's build section rules and differs from the base's: the base's
    // view of the head's packages, to say which ones the head stops analysing.
    let base_view = match (&change, req.config_from) {
        (Some(compared), ConfigFrom::Head) => compared
            .change
            .build
            .as_ref()
            .map(|build| base_view_settings(&build.base, &settings, &req.tags)),
        _ => None,
    };
    let changes = repo.changes(&base_rev, &head_rev)?;
    let mut any_missing = false;
    for rev in [&base_rev, &head_rev] {
        let missing = repo.missing_submodules(rev);
        any_missing |= !missing.is_empty();
        warnings.extend(missing_submodules_warning(rev, &missing));
    }
    // A PGO profile or an overlay named by a flag is content the tree ids do not cover.
    // The user's GOFLAGS as go sees them: the variable's, or the go env file's.
    let env_flags: Vec<String> = go.goflags.split_whitespace().map(str::to_string).collect();
    let flags_read_files =
        go::flags_read_files(&settings.flags) || go::flags_read_files(&env_flags);
    let all_because = if req.all_packages {
        Some("--all-packages".to_string())
    } else if flags_read_files {
        Some("a build flag names a file (-pgo=FILE or -overlay=FILE)".to_string())
    } else if let Some(ConfigChange { file, .. }) = change.as_ref().map(|c| &c.change).filter(|c| {
        c.build
            .as_ref()
            .is_some_and(|b| !b.base.compiles_like(&b.head))
            && req.config_from == ConfigFrom::Head
    }) {
        // The build section that rules changed: what each side builds may change.
        Some(format!("the build section of {file} changed"))
    } else {
        everything_changed(repo, &changes, base_commit, &head_rev)?
    };

    // Neither a shard nor a merge is cached: a shard keeps its `//gcassert:` directives
    // for the merge, which the cache does not store.
    let cache = Cache::from_env().filter(|_| {
        !flags_read_files
            && req.from_shards.is_none()
            && req.shard.is_none()
            && !any_missing
            && cacheable(repo, &base_rev, &head_rev)
    });
    let all_key = match (&all_because, req.shard) {
        (Some(reason), None) => format!("all:{reason}"),
        (None, None) => "selected".to_string(),
        (Some(reason), Some(s)) => format!("all:{reason}|shard {}/{}", s.index, s.count),
        (None, Some(s)) => format!("selected|shard {}/{}", s.index, s.count),
    };
    let view_key = base_view
        .as_ref()
        .map_or_else(|| "none".to_string(), go::BuildSettings::cache_key);
    let base_tree_id = repo.tree_id(base_commit)?.to_string();
    let head_tree_id = match head_rev.commit {
        Some(commit) => Some(repo.tree_id(commit)?.to_string()),
        None => None,
    };

    let mut parts: Vec<PlatformSides> = Vec::new();
    match &req.from_shards {
        Some(shards) => {
            if let Some(head_commit) = head_rev.commit {
                for s in shards {
                    check_sources(repo, s, base_commit, head_commit)?;
                    for part in &s.other_platforms {
                        check_sources(repo, part, base_commit, head_commit)?;
                    }
                }
            }
            for (target, group) in shard_parts(shards, &targets)? {
                let merged = merge(&group, base_rev.clone(), head_rev.clone(), &shard_settings)?;
                let env = target
                    .as_ref()
                    .map_or_else(|| go.clone(), |p| go.for_platform(p));
                parts.push(PlatformSides {
                    target,
                    env,
                    settings: settings.clone(),
                    scope: merged.scope,
                    head: merged.head,
                    base: merged.base,
                    dropped: merged.no_longer_analysed,
                    directives: Vec::new(),
                });
            }
        }
        None => {
            let mut jobs = Vec::new();
            for target in &targets {
                let env = target
                    .as_ref()
                    .map_or_else(|| go.clone(), |p| go.for_platform(p));
                jobs.push(PlatformJob {
                    session: &session,
                    req,
                    env,
                    target: target.clone(),
                    settings: settings.clone(),
                    changes: &changes,
                    all_because: all_because.clone(),
                    base_view: base_view.as_ref(),
                    cache: cache.as_ref(),
                    base_rev: &base_rev,
                    head_rev: &head_rev,
                    base_tree_id: &base_tree_id,
                    head_tree_id: head_tree_id.as_deref(),
                    all_key: &all_key,
                    view_key: &view_key,
                });
            }
            // Every head, then every base: the work tree is checked out once a side.
            let heads = jobs
                .iter()
                .map(PlatformJob::head)
                .collect::<Result<Vec<_>>>()?;
            for (job, head) in jobs.into_iter().zip(heads) {
                parts.push(job.base(head)?);
            }
        }
    }
    let first = parts.first().expect("at least one platform is analysed");
    let dropped = first.dropped.clone();
    if let Some(build) = change.as_mut().and_then(|c| c.change.build.as_mut()) {
        build.no_longer_analysed = dropped.clone();
    }
    let shard = req.shard.map(|s| {
        let mut data: Vec<ShardData> = parts
            .iter()
            .map(|part| ShardData {
                index: s.index,
                count: s.count,
                base: base_commit.to_string(),
                head: part
                    .head
                    .revision
                    .commit
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                settings: shard_settings.clone(),
                scope: part.scope.clone(),
                no_longer_analysed: part.dropped.clone(),
                base_analysis: part.base.analysis(),
                head_analysis: {
                    let mut analysis = part.head.analysis();
                    analysis
                        .findings
                        .retain(|f| f.kind != crate::finding::Kind::Gcassert);
                    analysis
                },
                directives: part.directives.clone(),
                origin: String::new(),
                platform: part.target.clone(),
                other_platforms: Vec::new(),
            })
            .collect();
        let mut first = data.remove(0);
        first.other_platforms = data;
        first
    });
    progress.clear();
    crate::interrupt::set_stage("comparing the findings of base and head");

    // Each platform is compared on its own, then the verdicts are put together: a
    // finding of several platforms is one finding naming them all, and an escape
    // that a platform gains or loses is new or fixed on that platform.
    let uncompiled = uncompiled_warning(repo, &parts, &settings);
    warnings.extend(uncompiled);
    let merged_base = merge_sides(
        base_rev.clone(),
        parts.iter().map(|p| (&p.target, &p.base)).collect(),
    );
    let diffs = Diffs::default();
    let lines = line_map(repo, &merged_base, &parts[0].head, &changes.renames, &diffs);
    let scope = merge_scopes(parts.iter().map(|p| &p.scope).collect());
    let profiles = load_profiles(
        &ProfileRequest {
            repo,
            given: &req.profiles,
            config: &config.config.profile,
            config_from: req.config_from,
            base: &base_rev,
            head: &head_rev,
            scope: &scope,
        },
        &mut warnings,
    )?;
    let mut compared: Vec<PlatformCompared> = Vec::new();
    for part in &parts {
        let (base_compared, head_compared) =
            checks::prepare(&part.base.findings, &part.head.findings, &lines, &checks);
        let comparison = {
            let hot = HotPaths::new(repo, &part.base, &changes.renames, &config.config);
            matching::compare(&base_compared, &head_compared, &lines, &|f| {
                hot.is_hot(f) || profiles.as_ref().is_some_and(|p| p.is_hot(f))
            })
        };
        compared.push(PlatformCompared {
            base: base_compared,
            head: head_compared,
            comparison,
        });
    }
    let mut comparison = merge_comparisons(&parts, &compared);
    // Last, on the source: the same place in the code under new names.
    crate::rename::pair_renames(
        &mut comparison,
        &lines,
        &changes.paths,
        &|file| read_side(repo, &merged_base, file),
        &|file| read_side(repo, &parts[0].head, file),
    );
    // From here on each side is what the checks compared (the listings show that).
    let mut base = merge_sides(
        base_rev,
        parts.iter().map(|p| (&p.target, &p.base)).collect(),
    );
    let mut head = merge_sides(
        head_rev,
        parts.iter().map(|p| (&p.target, &p.head)).collect(),
    );
    base.findings = merge_findings(
        parts
            .iter()
            .zip(&compared)
            .map(|(p, c)| (&p.target, c.base.clone()))
            .collect(),
    );
    head.findings = merge_findings(
        parts
            .iter()
            .zip(&compared)
            .map(|(p, c)| (&p.target, c.head.clone()))
            .collect(),
    );
    inline_sites(
        repo,
        &base,
        &head,
        &changes.renames,
        &diffs,
        &mut comparison.new,
    );
    if req.explain && !comparison.new.is_empty() {
        progress.say(&format!(
            "explaining the new escapes of head {}",
            head.revision.label()
        ));
        for part in &parts {
            // Each new finding is explained by the build of its first platform.
            let mine: Vec<usize> = comparison
                .new
                .iter()
                .enumerate()
                .filter(|(_, f)| f.platforms.first() == part.target.as_ref())
                .map(|(i, _)| i)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut subset: Vec<Finding> =
                mine.iter().map(|&i| comparison.new[i].clone()).collect();
            explain_new(
                &session,
                &part.env,
                &base,
                &head,
                &part.settings,
                &changes.renames,
                &diffs,
                &mut subset,
            )?;
            for (i, f) in mine.into_iter().zip(subset) {
                comparison.new[i] = f;
            }
        }
        progress.clear();
    }
    let changed = changed_lines(
        repo,
        &base,
        &head,
        &changes.renames,
        &diffs,
        comparison.new.iter().map(|f| f.file.as_str()),
    );
    if let Some(p) = &profiles {
        p.weigh(&mut comparison.new);
        p.weigh(&mut comparison.fixed);
        for moved in &mut comparison.moved {
            p.weigh(std::slice::from_mut(&mut moved.to));
        }
        by_share(&mut comparison.new);
    }
    let excerpts = if req.excerpts {
        Excerpts::collect(&comparison.new, &|file| read_side(repo, &head, file))
    } else {
        Excerpts::default()
    };
    let today = req.today.unwrap_or_else(Date::today_utc);
    let mut allow = allowlist::apply(&config.config, comparison.new.clone(), today);
    let cold = match &profiles {
        Some(p) => {
            let (failing, cold) = p.split_cold(std::mem::take(&mut allow.remaining));
            allow.remaining = failing;
            cold
        }
        None => Vec::new(),
    };
    if let Some(compared) = &mut change {
        compared
            .change
            .effect(&compared.base, &compared.head, &comparison.new, today);
    }

    let staleness = stale::classify(
        &session,
        &stale::StaleInput {
            config: &config.config,
            stale: &allow.stale,
            base: &base,
            head: &head,
            new: &comparison.new,
            scope: &scope,
            settings: &settings,
            may_build: req.shard.is_none(),
        },
    );
    for side in [&base, &head] {
        warnings.extend(side.warnings());
    }
    let mut go = go.clone();
    go.analysed = targets.iter().flatten().cloned().collect();
    Ok(Outcome {
        go,
        base,
        head,
        comparison,
        allow,
        staleness,
        config,
        config_from: req.config_from,
        config_change: change
            .map(|compared| compared.change)
            .filter(|change| !change.is_empty()),
        scope,
        warnings,
        changed,
        excerpts,
        checks,
        shard,
        profile: profiles.as_ref().map(Profiles::summary),
        cold,
    })
}

/// Applies the build section's `timeout:` (see [`crate::interrupt::limit_time`]): the
/// ruling allowlist's, and when the head's rules, the base's too, so that a head can
/// shorten the limit but never lengthen it (a change to it is in `change` either way).
pub(crate) fn limit_time(
    config: &LoadedConfig,
    change: Option<&ConfigChange>,
    from: ConfigFrom,
) -> Result<()> {
    let file = if config.origin.file.is_empty() {
        CONFIG_FILE.to_string()
    } else {
        config.origin.to_string()
    };
    if let Some(limit) = config.config.build.timeout {
        crate::interrupt::limit_time(limit, &format!("timeout: in the build section of {file}"))?;
    }
    let base = change
        .and_then(|c| c.build.as_ref())
        .and_then(|b| b.base.timeout)
        .filter(|_| from == ConfigFrom::Head);
    if let Some(limit) = base {
        crate::interrupt::limit_time(
            limit,
            &format!("timeout: in the build section of the base's {CONFIG_FILE}, which the head may not lengthen"),
        )?;
    }
    Ok(())
}

/// What every pipeline (`diff`, `list`, `explain`) opens first, in one place: the
/// repository, the one `go` that builds every side, the work directory the sides are
/// checked out in, one after the other, and the progress line.
#[derive(Debug)]
pub(crate) struct Session {
    pub repo: Repo,
    pub go: GoEnv,
    pub work: Work,
    pub progress: Progress,
}

impl Session {
    pub(crate) fn open(repo_dir: &Path) -> Result<Session> {
        let repo = Repo::open(repo_dir)?;
        let go = GoEnv::detect()?;
        let work = Work::new(&repo)?;
        Ok(Session {
            repo,
            go,
            work,
            progress: Progress::new(),
        })
    }

    /// Resolves `spec` (the working tree when `None`) and checks it out in the work
    /// directory, for the single-revision commands.
    pub(crate) fn checkout_one(&self, spec: Option<&str>) -> Result<(Revision, PathBuf)> {
        let rev = self.revision(spec)?;
        self.progress.say(&format!("checking out {}", rev.label()));
        let tree = self.work.checkout(&self.repo, &rev)?;
        Ok((rev, tree))
    }

    /// The revision `spec` names; the working tree when `None`.
    pub(crate) fn revision(&self, spec: Option<&str>) -> Result<Revision> {
        match spec {
            Some(spec) => self.repo.resolve(spec),
            None => Ok(Revision::working_tree()),
        }
    }
}

/// `1 submodule`, `2 submodules`.
fn count_submodules(n: usize) -> String {
    if n == 1 {
        "1 submodule".to_string()
    } else {
        format!("{n} submodules")
    }
}
