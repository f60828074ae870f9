//! The pipeline, end to end: two revisions in, an [`Outcome`] out (resolve,
//! materialise, build, parse, attribute, match, allow). Reporters turn the outcome into
//! text; commands turn it into an exit code.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::allowlist::{AllowEntry, AllowOutcome, Date, Staleness};
use crate::checks::Checks;
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::excerpt::Excerpts;
use crate::finding::Finding;
use crate::git::{Repo, Revision};
use crate::go::{self, GoEnv};
use crate::home::CONFIG_FILE;
use crate::lines::ChangedLines;
use crate::matching::Comparison;
use crate::parse::InlineCall;

mod analyse;
mod config;
mod phases;
mod platforms;
mod scope;
mod shard;
mod single;
mod stale;
mod weigh;

pub(crate) use crate::progress::Progress;
pub(crate) use config::{ConfigChoice, ConfigPlace, LoadedConfig, Origin, MAX_CONFIG_READ};
pub(crate) use scope::Scope;
pub(crate) use shard::{Shard, ShardData};
pub(crate) use single::{explain_at, single, ExplainRequest, Explained};
pub(crate) use weigh::ProfileSummary;

use analyse::{unrecognised_warning, Work};
use phases::{explain, Plan};

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

/// Runs the whole comparison, in seven phases (in `phases.rs`):
///
/// 1. **Read** ([`Plan::read`]): resolve the two revisions, load the allowlist (and,
///    when the head changes it, the base's too), apply its time limit, and settle the
///    checks, the build settings and the platforms.
/// 2. **Select** ([`Plan::select`]): git's change set, whether every package must be
///    analysed and why, and whether the findings cache may answer and with which keys.
/// 3. **Build** ([`Plan::build`]): each platform's two sides, built or read from the
///    findings cache (every platform's head, then every base:
///    [`platforms::PlatformJob`]), or with `merge`, put together from the shards
///    ([`shard::merge_parts`]).
/// 4. **Shard** ([`ShardData::of_parts`]): with `--shard`, what this shard keeps for
///    `merge`.
/// 5. **Compare** ([`Plan::compare`]): each platform's sides compared by the checks,
///    the verdicts put together, renamed code paired.
/// 6. **Explain** ([`explain`]): with `--explain`, the `-m=2` flow of each new escape.
/// 7. **Allow** ([`Plan::allow`]): profile weights, source excerpts, the allowlist,
///    cold findings, what the head's allowlist change does, and why each stale entry
///    allowed nothing; the [`Outcome`].
///
/// Only the packages the change can affect are built (see [`crate::select`]), both
/// sides with the same flags into the same build cache, so the head build reuses what
/// the base build compiled. The analysis of a commit is kept in the findings cache
/// ([`crate::cache`]), so a repeated comparison builds nothing it built before.
pub fn diff(req: &DiffRequest) -> Result<Outcome> {
    crate::interrupt::set_stage("reading the revisions and the allowlist");
    let session = Session::open(&req.repo)?;
    let mut plan = Plan::read(&session, req)?;
    let selection = plan.select(&session, req)?;
    let parts = plan.build(&session, req, &selection)?;
    let shard = req
        .shard
        .map(|s| ShardData::of_parts(s, plan.base_commit, &plan.shard_settings, &parts));
    session.progress.clear();
    crate::interrupt::set_stage("comparing the findings of base and head");
    let mut compared = plan.compare(&session, req, &selection.changes, &parts)?;
    if req.explain && !compared.comparison.new.is_empty() {
        explain(&session, &parts, &selection.changes, &mut compared)?;
    }
    plan.allow(&session, req, &selection.changes, compared, shard)
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
    /// directory, for the single-revision commands; also whether a Go file of it may
    /// import "C" (see [`Work::checkout_with_cgo`]).
    pub(crate) fn checkout_one(&self, spec: Option<&str>) -> Result<(Revision, PathBuf, bool)> {
        let rev = self.revision(spec)?;
        self.progress.say(&format!("checking out {}", rev.label()));
        let (tree, may_use_cgo) = self.work.checkout_with_cgo(&self.repo, &rev)?;
        Ok((rev, tree, may_use_cgo))
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
