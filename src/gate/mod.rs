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
use crate::git::{Changes, Repo, Revision};
use crate::go::{self, BuildSettings, GoEnv};
use crate::home::CONFIG_FILE;
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
pub(crate) use config::{ConfigChoice, ConfigPlace, LoadedConfig, Origin, MAX_CONFIG_READ};
pub(crate) use scope::Scope;
pub(crate) use shard::{Shard, ShardData};
pub(crate) use single::{explain_at, single, ExplainRequest, Explained};
pub(crate) use weigh::ProfileSummary;

use analyse::{
    changed_lines, explain_new, inline_sites, line_map, read_side, unrecognised_warning, Diffs,
    HotPaths, Work,
};
use config::{build_settings, load_configs, ComparedConfigs};
use platforms::{
    merge_comparisons, merge_findings, merge_scopes, merge_sides, platforms_key,
    uncompiled_warning, PlatformCompared, PlatformJob, PlatformSides,
};
use scope::{base_view_settings, cacheable, everything_changed};
use weigh::{by_share, load_profiles, ProfileRequest, Profiles};

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

/// Runs the whole comparison, in seven phases:
///
/// 1. **Read** ([`Plan::read`]): resolve the two revisions, load the allowlist (and,
///    when the head changes it, the base's too), apply its time limit, and settle the
///    checks, the build settings and the platforms.
/// 2. **Select** ([`Plan::select`]): git's change set, whether every package must be
///    analysed and why, and whether the findings cache may answer and with which keys.
/// 3. **Build** ([`Plan::build`]): each platform's two sides, built or read from the
///    findings cache ([`PlatformJob`]; every platform's head, then every base), or with
///    `merge`, put together from the shards ([`shard::merge_parts`]).
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

/// What `diff` settles before building anything (phase 1), and what the later phases
/// add to: the warnings, and the head's allowlist change.
struct Plan {
    base_rev: Revision,
    head_rev: Revision,
    base_commit: git2::Oid,
    /// The ruling allowlist.
    config: LoadedConfig,
    /// The base's and the head's allowlists and what the head changes, when it is one
    /// of the repository's.
    change: Option<ComparedConfigs>,
    checks: Checks,
    settings: BuildSettings,
    /// The platforms each side is built for: `None` is the default platform, unnamed.
    targets: Vec<Option<go::Platform>>,
    /// What shards must agree on to be merged.
    shard_settings: String,
    /// When the head's build section rules and differs from the base's: the base's
    /// view of the head's packages, to say which ones the head stops analysing.
    base_view: Option<BuildSettings>,
    /// Things the user should know that do not change the verdict, in the order the
    /// phases found them.
    warnings: Vec<String>,
}

/// What the change asks to analyse, and how the findings cache answers for it
/// (phase 2).
struct Selection {
    changes: Changes,
    /// Why every package is analysed, when it is.
    all_because: Option<String>,
    cache: Option<Cache>,
    /// The findings cache's key parts for what is analysed and the base's view.
    all_key: String,
    view_key: String,
    base_tree_id: String,
    /// `None` for the working tree.
    head_tree_id: Option<String>,
}

/// What comparing gave (phase 5): the sides as the checks compared them, with every
/// platform put together, and the verdict before the allowlist.
struct Compared {
    base: Side,
    head: Side,
    comparison: Comparison,
    scope: Scope,
    profiles: Option<Profiles>,
    /// The file alignments computed so far, for the later phases.
    diffs: Diffs,
}

impl Plan {
    /// Phase 1: the revisions, the allowlist, the checks, the build settings and the
    /// platforms.
    fn read(session: &Session, req: &DiffRequest) -> Result<Plan> {
        let (repo, go) = (&session.repo, &session.go);
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
        let (config, change) = load_configs(
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
        let targets = targets(go, req, &config);
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
        let base_view = match (&change, req.config_from) {
            (Some(compared), ConfigFrom::Head) => compared
                .change
                .build
                .as_ref()
                .map(|build| base_view_settings(&build.base, &settings, &req.tags)),
            _ => None,
        };
        Ok(Plan {
            base_rev,
            head_rev,
            base_commit,
            config,
            change,
            checks,
            settings,
            targets,
            shard_settings,
            base_view,
            warnings,
        })
    }

    /// Phase 2: what changed, whether everything must be analysed, and the findings
    /// cache with its keys.
    fn select(&mut self, session: &Session, req: &DiffRequest) -> Result<Selection> {
        let (repo, go) = (&session.repo, &session.go);
        let changes = repo.changes(&self.base_rev, &self.head_rev)?;
        let mut any_missing = false;
        for rev in [&self.base_rev, &self.head_rev] {
            let missing = repo.missing_submodules(rev);
            any_missing |= !missing.is_empty();
            self.warnings
                .extend(missing_submodules_warning(rev, &missing));
        }
        // A PGO profile or an overlay named by a flag is content the tree ids do not
        // cover. The user's GOFLAGS as go sees them: the variable's, or the go env file's.
        let env_flags: Vec<String> = go.goflags.split_whitespace().map(str::to_string).collect();
        let flags_read_files =
            go::flags_read_files(&self.settings.flags) || go::flags_read_files(&env_flags);
        let all_because = if req.all_packages {
            Some("--all-packages".to_string())
        } else if flags_read_files {
            Some("a build flag names a file (-pgo=FILE or -overlay=FILE)".to_string())
        } else if let Some(ConfigChange { file, .. }) =
            self.change.as_ref().map(|c| &c.change).filter(|c| {
                c.build
                    .as_ref()
                    .is_some_and(|b| !b.base.compiles_like(&b.head))
                    && req.config_from == ConfigFrom::Head
            })
        {
            // The build section that rules changed: what each side builds may change.
            Some(format!("the build section of {file} changed"))
        } else {
            everything_changed(repo, &changes, self.base_commit, &self.head_rev)?
        };

        // Neither a shard nor a merge is cached: a shard keeps its `//gcassert:`
        // directives for the merge, which the cache does not store.
        let cache = Cache::from_env().filter(|_| {
            !flags_read_files
                && req.from_shards.is_none()
                && req.shard.is_none()
                && !any_missing
                && cacheable(repo, &self.base_rev, &self.head_rev)
        });
        let all_key = match (&all_because, req.shard) {
            (Some(reason), None) => format!("all:{reason}"),
            (None, None) => "selected".to_string(),
            (Some(reason), Some(s)) => format!("all:{reason}|shard {}/{}", s.index, s.count),
            (None, Some(s)) => format!("selected|shard {}/{}", s.index, s.count),
        };
        let view_key = self
            .base_view
            .as_ref()
            .map_or_else(|| "none".to_string(), go::BuildSettings::cache_key);
        let base_tree_id = repo.tree_id(self.base_commit)?.to_string();
        let head_tree_id = match self.head_rev.commit {
            Some(commit) => Some(repo.tree_id(commit)?.to_string()),
            None => None,
        };
        Ok(Selection {
            changes,
            all_because,
            cache,
            all_key,
            view_key,
            base_tree_id,
            head_tree_id,
        })
    }

    /// Phase 3: each platform's two sides, built, or with `merge`, from the shards;
    /// notes the packages the head stops analysing in the allowlist change.
    fn build(
        &mut self,
        session: &Session,
        req: &DiffRequest,
        selection: &Selection,
    ) -> Result<Vec<PlatformSides>> {
        let parts = match &req.from_shards {
            Some(shards) => shard::merge_parts(session, self, shards)?,
            None => {
                let jobs: Vec<PlatformJob> = self
                    .targets
                    .iter()
                    .map(|target| PlatformJob {
                        session,
                        req,
                        env: target
                            .as_ref()
                            .map_or_else(|| session.go.clone(), |p| session.go.for_platform(p)),
                        target: target.clone(),
                        settings: self.settings.clone(),
                        changes: &selection.changes,
                        all_because: selection.all_because.clone(),
                        base_view: self.base_view.as_ref(),
                        cache: selection.cache.as_ref(),
                        base_rev: &self.base_rev,
                        head_rev: &self.head_rev,
                        base_tree_id: &selection.base_tree_id,
                        head_tree_id: selection.head_tree_id.as_deref(),
                        all_key: &selection.all_key,
                        view_key: &selection.view_key,
                    })
                    .collect();
                // Every head, then every base: the work tree is checked out once a side.
                let heads = jobs
                    .iter()
                    .map(PlatformJob::head)
                    .collect::<Result<Vec<_>>>()?;
                jobs.into_iter()
                    .zip(heads)
                    .map(|(job, head)| job.base(head))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        let first = parts.first().expect("at least one platform is analysed");
        let dropped = first.dropped.clone();
        if let Some(build) = self.change.as_mut().and_then(|c| c.change.build.as_mut()) {
            build.no_longer_analysed = dropped;
        }
        Ok(parts)
    }

    /// Phase 5: each platform compared on its own, then the verdicts put together: a
    /// finding of several platforms is one finding naming them all, and an escape that
    /// a platform gains or loses is new or fixed on that platform.
    fn compare(
        &mut self,
        session: &Session,
        req: &DiffRequest,
        changes: &Changes,
        parts: &[PlatformSides],
    ) -> Result<Compared> {
        let repo = &session.repo;
        let uncompiled = uncompiled_warning(repo, parts, &self.settings);
        self.warnings.extend(uncompiled);
        let merged_base = merge_sides(
            self.base_rev.clone(),
            parts.iter().map(|p| (&p.target, &p.base)).collect(),
        );
        let diffs = Diffs::default();
        let lines = line_map(repo, &merged_base, &parts[0].head, &changes.renames, &diffs);
        let scope = merge_scopes(parts.iter().map(|p| &p.scope).collect());
        let profiles = load_profiles(
            &ProfileRequest {
                repo,
                given: &req.profiles,
                config: &self.config.config.profile,
                config_from: req.config_from,
                base: &self.base_rev,
                head: &self.head_rev,
                scope: &scope,
            },
            &mut self.warnings,
        )?;
        let compared: Vec<PlatformCompared> = parts
            .iter()
            .map(|part| {
                let (base, head) = checks::prepare(
                    &part.base.findings,
                    &part.head.findings,
                    &lines,
                    &self.checks,
                );
                let hot = HotPaths::new(repo, &part.base, &changes.renames, &self.config.config);
                let comparison = matching::compare(&base, &head, &lines, &|f| {
                    hot.is_hot(f) || profiles.as_ref().is_some_and(|p| p.is_hot(f))
                });
                PlatformCompared {
                    base,
                    head,
                    comparison,
                }
            })
            .collect();
        let mut comparison = merge_comparisons(parts, &compared);
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
            self.base_rev.clone(),
            parts.iter().map(|p| (&p.target, &p.base)).collect(),
        );
        let mut head = merge_sides(
            self.head_rev.clone(),
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
        Ok(Compared {
            base,
            head,
            comparison,
            scope,
            profiles,
            diffs,
        })
    }

    /// Phase 7: weighs the new escapes, applies the allowlist, and puts the
    /// [`Outcome`] together.
    fn allow(
        mut self,
        session: &Session,
        req: &DiffRequest,
        changes: &Changes,
        compared: Compared,
        shard: Option<ShardData>,
    ) -> Result<Outcome> {
        let repo = &session.repo;
        let Compared {
            base,
            head,
            mut comparison,
            scope,
            profiles,
            diffs,
        } = compared;
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
        let mut allow = allowlist::apply(&self.config.config, comparison.new.clone(), today);
        let cold = match &profiles {
            Some(p) => {
                let (failing, cold) = p.split_cold(std::mem::take(&mut allow.remaining));
                allow.remaining = failing;
                cold
            }
            None => Vec::new(),
        };
        if let Some(compared) = &mut self.change {
            compared
                .change
                .effect(&compared.base, &compared.head, &comparison.new, today);
        }

        let staleness = stale::classify(
            session,
            &stale::StaleInput {
                config: &self.config.config,
                stale: &allow.stale,
                base: &base,
                head: &head,
                new: &comparison.new,
                scope: &scope,
                settings: &self.settings,
                may_build: req.shard.is_none(),
            },
        );
        for side in [&base, &head] {
            self.warnings.extend(side.warnings());
        }
        let mut go = session.go.clone();
        go.analysed = self.targets.iter().flatten().cloned().collect();
        Ok(Outcome {
            go,
            base,
            head,
            comparison,
            allow,
            staleness,
            config: self.config,
            config_from: req.config_from,
            config_change: self
                .change
                .map(|compared| compared.change)
                .filter(|change| !change.is_empty()),
            scope,
            warnings: self.warnings,
            changed,
            excerpts,
            checks: self.checks,
            shard,
            profile: profiles.as_ref().map(Profiles::summary),
            cold,
        })
    }
}

/// The platforms: `--platforms`, else the ruling allowlist's `platforms:`; the default
/// platform, unnamed, when neither names one. Findings name their platforms when
/// platforms were named, or when an allowlist entry is limited to some.
fn targets(go: &GoEnv, req: &DiffRequest, config: &LoadedConfig) -> Vec<Option<go::Platform>> {
    let named = req
        .platforms
        .clone()
        .unwrap_or_else(|| config.config.build.platforms.clone());
    if !named.is_empty() {
        named.iter().cloned().map(Some).collect()
    } else if config.config.allow.iter().any(|e| !e.platforms.is_empty()) {
        vec![Some(go.default_platform())]
    } else {
        vec![None]
    }
}

/// Phase 6: the `-m=2` flow of each new escape, from the build of its first platform.
fn explain(
    session: &Session,
    parts: &[PlatformSides],
    changes: &Changes,
    compared: &mut Compared,
) -> Result<()> {
    let Compared {
        base,
        head,
        comparison,
        diffs,
        ..
    } = compared;
    session.progress.say(&format!(
        "explaining the new escapes of head {}",
        head.revision.label()
    ));
    for part in parts {
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
        let mut subset: Vec<Finding> = mine.iter().map(|&i| comparison.new[i].clone()).collect();
        explain_new(
            session,
            &part.env,
            base,
            head,
            &part.settings,
            &changes.renames,
            diffs,
            &mut subset,
        )?;
        for (i, f) in mine.into_iter().zip(subset) {
            comparison.new[i] = f;
        }
    }
    session.progress.clear();
    Ok(())
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
