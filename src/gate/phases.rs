//! The phases of [`super::diff`], in order: [`Plan::read`], [`Plan::select`],
//! [`Plan::build`], [`ShardData::of_parts`], [`Plan::compare`], [`explain`] and
//! [`Plan::allow`]. A [`Plan`] carries what they share; each phase takes what the
//! earlier ones produced ([`Selection`], the platforms' sides, [`Compared`]) and hands
//! on its own.

use anyhow::Result;

use super::analyse::{
    changed_lines, explain_new, inline_sites, line_map, read_side, Diffs, HotPaths,
};
use super::config::{build_settings, load_configs, ComparedConfigs};
use super::platforms::{
    merge_comparisons, merge_findings, merge_scopes, merge_sides, platforms_key,
    uncompiled_warning, PlatformCompared, PlatformJob, PlatformSides,
};
use super::scope::{base_view_settings, cacheable, everything_changed, Scope};
use super::shard::{self, ShardData};
use super::weigh::{by_share, load_profiles, ProfileRequest, Profiles};
use super::{
    limit_time, missing_submodules_warning, stale, DiffRequest, LoadedConfig, Outcome, Session,
    Side,
};
use crate::allowlist::{self, Date};
use crate::cache::Cache;
use crate::checks::{self, Checks};
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::excerpt::Excerpts;
use crate::finding::Finding;
use crate::git::{Changes, Revision};
use crate::go::{self, BuildSettings, GoEnv};
use crate::matching::{self, Comparison};

/// What `diff` settles before building anything (phase 1), and what the later phases
/// add to: the warnings, and the head's allowlist change.
pub(super) struct Plan {
    pub(super) base_rev: Revision,
    pub(super) head_rev: Revision,
    pub(super) base_commit: git2::Oid,
    /// The ruling allowlist.
    config: LoadedConfig,
    /// The base's and the head's allowlists and what the head changes, when it is one
    /// of the repository's.
    change: Option<ComparedConfigs>,
    checks: Checks,
    pub(super) settings: BuildSettings,
    /// The platforms each side is built for: `None` is the default platform, unnamed.
    pub(super) targets: Vec<Option<go::Platform>>,
    /// What shards must agree on to be merged.
    pub(super) shard_settings: String,
    /// When the head's build section rules and differs from the base's: the base's
    /// view of the head's packages, to say which ones the head stops analysing.
    base_view: Option<BuildSettings>,
    /// Things the user should know that do not change the verdict, in the order the
    /// phases found them.
    warnings: Vec<String>,
}

/// What the change asks to analyse, and how the findings cache answers for it
/// (phase 2).
pub(super) struct Selection {
    pub(super) changes: Changes,
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
pub(super) struct Compared {
    base: Side,
    head: Side,
    pub(super) comparison: Comparison,
    scope: Scope,
    profiles: Option<Profiles>,
    /// The file alignments computed so far, for the later phases.
    diffs: Diffs,
}

impl Plan {
    /// Phase 1: the revisions, the allowlist, the checks, the build settings and the
    /// platforms.
    pub(super) fn read(session: &Session, req: &DiffRequest) -> Result<Plan> {
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
    pub(super) fn select(&mut self, session: &Session, req: &DiffRequest) -> Result<Selection> {
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
    pub(super) fn build(
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
    pub(super) fn compare(
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
    pub(super) fn allow(
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
pub(super) fn explain(
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
