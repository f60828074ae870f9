//! One comparison over several platforms (`--platforms`, `platforms:`): each platform's
//! two sides are built by cross-compiling ([`PlatformJob`]) and compared on their own,
//! then put together into one verdict: a finding of several platforms is one finding
//! naming them all ([`merge_findings`]), an escape a platform gains is new there and
//! one it loses is fixed there. What is shared is done once: resolving, the allowlist,
//! the line maps; what differs per platform (the listing, the selection, the build,
//! the findings cache's entries, shards' units) is keyed by the platform.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Result};

use super::analyse::{analyse, read_side};
use super::scope::{build_id, no_longer_analysed, scope_of, MainPackage, Scope, Sources};
use super::shard::ShardData;
use super::{Analysis, DiffRequest, Session, Side};
use crate::cache::Cache;
use crate::finding::Finding;
use crate::finding::Kind;
use crate::gcassert::Directives;
use crate::git::Changes;
use crate::git::{Repo, Revision};
use crate::go::{self, GoEnv};
use crate::go::{BuildSettings, Platform};
use crate::home::CONFIG_FILE;
use crate::matching::Moved;
use crate::matching::{self, Comparison};

/// One platform's two sides, before comparison.
#[derive(Debug)]
pub(crate) struct PlatformSides {
    /// `None`: the default platform of a run that names none (findings name none).
    pub target: Option<Platform>,
    /// The `go` that built it.
    pub env: GoEnv,
    /// The settings it was built with (the directives' needs added).
    pub settings: BuildSettings,
    pub scope: Scope,
    pub base: Side,
    pub head: Side,
    pub dropped: Option<Vec<String>>,
    pub directives: Vec<crate::gcassert::Directive>,
}

/// The cache keys and shard settings part that names the platforms.
pub(crate) fn platforms_key(targets: &[Option<Platform>]) -> String {
    let named: Vec<String> = targets.iter().flatten().map(ToString::to_string).collect();
    if named.is_empty() {
        String::new()
    } else {
        format!(" platforms=[{}]", named.join(","))
    }
}

/// What building one platform's sides needs.
pub(crate) struct PlatformJob<'a> {
    pub session: &'a Session,
    pub req: &'a DiffRequest,
    pub env: GoEnv,
    pub target: Option<Platform>,
    pub settings: BuildSettings,
    pub changes: &'a Changes,
    pub all_because: Option<String>,
    pub base_view: Option<&'a BuildSettings>,
    pub cache: Option<&'a Cache>,
    pub base_rev: &'a Revision,
    pub head_rev: &'a Revision,
    pub base_tree_id: &'a str,
    pub head_tree_id: Option<&'a str>,
    pub all_key: &'a str,
    pub view_key: &'a str,
}

/// What [`PlatformJob::head`] hands to [`PlatformJob::base`].
pub(crate) struct HeadPart {
    /// The settings the head was built with (the directives' needs added).
    settings: BuildSettings,
    scope: Scope,
    head: Side,
    dropped: Option<Vec<String>>,
    directives: Vec<crate::gcassert::Directive>,
}

impl PlatformJob<'_> {
    /// Builds the head, read from the findings cache when it has it; its package graph
    /// decides what both sides analyse. Every platform's head is built before any
    /// base, so the shared work tree is checked out once per side, not per platform.
    pub(crate) fn head(&self) -> Result<HeadPart> {
        let PlatformJob {
            session,
            req,
            env: go,
            target,
            changes,
            all_because,
            base_view,
            cache,
            base_rev,
            head_rev,
            base_tree_id,
            head_tree_id,
            all_key,
            view_key,
            ..
        } = self;
        let mut settings = self.settings.clone();
        let (repo, work, progress) = (&session.repo, &session.work, &session.progress);
        let base_commit = base_rev.commit.expect("the base is a commit");
        let on = self.on();
        let fingerprint = self.fingerprint();
        let head_key = head_tree_id.map(|tree_id| {
            format!("head|{tree_id}|{base_tree_id}|{fingerprint}|{all_key}|base view {view_key}")
        });
        type HeadEntry = (Scope, Analysis, Option<Vec<String>>);
        let cached_head: Option<HeadEntry> = match (cache, &head_key) {
            (Some(cache), Some(key)) => cache.get(key),
            _ => None,
        };
        if let Some((scope, analysis, dropped)) = cached_head {
            return Ok(HeadPart {
                settings,
                scope,
                head: Side::new((*head_rev).clone(), analysis, true),
                dropped,
                directives: Vec::new(),
            });
        }
        progress.say(&format!("checking out head {}", head_rev.label()));
        let (tree, may_use_cgo) = work.checkout_with_cgo(repo, head_rev)?;
        let name = format!("head {}{on}", head_rev.label());
        // Before the listing: without its cgo files a package may have nothing left.
        refuse_cgo(go, &tree, may_use_cgo, &settings, &name)?;
        let listing = go::list(go, &tree, &settings, &name)?;
        let dropped =
            base_view.and_then(|view| no_longer_analysed(go, &tree, &listing, view, &name));
        let sources = Sources {
            repo,
            base: base_commit,
            tree: &tree,
        };
        let mut scope = scope_of(&listing, &changes.paths, all_because.clone(), sources);
        scope.mains = MainPackage::of(&listing, &tree);
        // The compiler output every directive of the comparison needs, in every shard:
        // a directive's line can be compiled again (inlined, instantiated) in another
        // shard's package.
        let whole = Directives::scan(&tree, &listing, &|p| scope.includes(p));
        let whole_needs = whole.needs();
        let scope = match req.shard {
            Some(shard) => {
                let all: Vec<String> = listing
                    .packages
                    .iter()
                    .filter(|p| !p.excluded)
                    .map(|p| p.import_path.clone())
                    .collect();
                shard.restrict_on(scope, &all, target.as_ref())
            }
            None => scope,
        };
        progress.say(&format!(
            "building {name}: {} of {} packages with {}",
            scope.analysed, scope.total, go.version
        ));
        // `//gcassert:` directives are enforced whatever the checks: the build prints
        // what they need, and the base is built the same way so that it shares the
        // build cache.
        let directives = match req.shard {
            Some(_) => Directives::scan(&tree, &listing, &|p| scope.includes(p)),
            None => whole,
        };
        settings.compiler = settings.compiler.union(whole_needs);
        let mut head = analyse(
            go,
            (*head_rev).clone(),
            &tree,
            &listing,
            &scope,
            &settings,
            &name,
        )?;
        let violations = directives.violations(&head.findings);
        head.findings.extend(violations);
        head.uncompiled = uncompiled_files(&listing, &changes.paths);
        if let (Some(cache), Some(key)) = (cache, &head_key) {
            cache.put(key, &(&scope, head.analysis(), &dropped));
        }
        Ok(HeadPart {
            settings,
            scope,
            head,
            dropped,
            directives: directives.list,
        })
    }

    /// Builds the base over the head's scope, read from the findings cache when it has
    /// it, and returns the platform's two sides.
    pub(crate) fn base(self, part: HeadPart) -> Result<PlatformSides> {
        let HeadPart {
            settings,
            scope,
            head,
            dropped,
            directives,
        } = part;
        let (repo, work, progress) = (
            &self.session.repo,
            &self.session.work,
            &self.session.progress,
        );
        let (go, base_rev, cache) = (&self.env, self.base_rev, self.cache);
        let base_key = format!(
            "base|{}|{}|{}",
            self.base_tree_id,
            self.fingerprint(),
            scope.key()
        );
        let base = match cache.and_then(|c| c.get::<Analysis>(&base_key)) {
            Some(analysis) => Side::new(base_rev.clone(), analysis, true),
            None => {
                let name = format!("base {}{}", base_rev.label(), self.on());
                let base = if scope.selected.as_ref().is_some_and(BTreeSet::is_empty) {
                    Side::new(base_rev.clone(), Analysis::default(), false)
                } else {
                    progress.say(&format!("checking out base {}", base_rev.label()));
                    // The same path as the head's: the build cache then serves the base
                    // every package the change did not touch.
                    let tree = work.checkout(repo, base_rev)?;
                    let listing = go::list(go, &tree, &settings, &name)?;
                    let count = listing
                        .packages
                        .iter()
                        .filter(|p| !p.excluded && scope.includes(&p.import_path))
                        .count();
                    progress.say(&format!(
                        "building {name}: {count} of {} packages with {}",
                        listing.packages.len(),
                        go.version
                    ));
                    let mut base = analyse(
                        go,
                        base_rev.clone(),
                        &tree,
                        &listing,
                        &scope,
                        &settings,
                        &name,
                    )?;
                    // Only the head's inlined calls are ever read (`inline_sites`).
                    base.inline_calls.clear();
                    base
                };
                if let Some(cache) = cache {
                    cache.put(&base_key, &base.analysis());
                }
                base
            }
        };
        Ok(PlatformSides {
            target: self.target,
            env: self.env,
            settings,
            scope,
            base,
            head,
            dropped,
            directives,
        })
    }

    /// ` for linux/arm64`, for the progress lines and messages of a named platform.
    fn on(&self) -> String {
        self.target
            .as_ref()
            .map_or_else(String::new, |p| format!(" for {p}"))
    }

    /// What the findings cache keys of both sides hold of the build: this binary, the
    /// `go` (its platform included) and the settings.
    fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}",
            build_id(),
            self.env.fingerprint,
            self.settings.cache_key()
        )
    }
}

/// Stops with exit 2 when a package the gate would analyse needs cgo on a platform
/// other than the default one: escape-gate cross-compiles without a C compiler for
/// the target, so the package's cgo files would be left out of its analysis. The cgo
/// listing is one more `go list`, run only for a foreign platform with cgo on and a
/// tree where some Go file names "C" (`may_use_cgo`, [`Work::checkout_with_cgo`](super::analyse::Work::checkout_with_cgo)).
pub(crate) fn refuse_cgo(
    go: &GoEnv,
    tree: &std::path::Path,
    may_use_cgo: bool,
    settings: &BuildSettings,
    name: &str,
) -> Result<()> {
    let Some(platform) = go.target.as_ref() else {
        return Ok(());
    };
    if !(go.foreign && go.cgo_enabled && may_use_cgo) {
        return Ok(());
    }
    let packages = go::cgo_packages(go, tree, settings, name)?;
    let Some((package, files)) = packages.first() else {
        return Ok(());
    };
    bail!(
        "{platform}: package {package} uses cgo ({}), which escape-gate cannot cross-compile \
         for {platform} from {}/{}{}\n\
         hint: set CGO_ENABLED=0 in the environment to analyse {platform} without cgo files, \
         or leave the package out (`build: exclude:` in {CONFIG_FILE})",
        files.join(", "),
        go.goos,
        go.goarch,
        if packages.len() > 1 {
            format!(" (and {} more package(s))", packages.len() - 1)
        } else {
            String::new()
        }
    )
}

/// The changed `.go` files (not tests, which the gate does not build) that the
/// listing has in no package: no build of this platform compiles them.
fn uncompiled_files(listing: &go::Listing, changed: &[String]) -> Vec<String> {
    let compiled: BTreeSet<&str> = listing
        .packages
        .iter()
        .flat_map(|p| p.files.iter().map(String::as_str))
        .collect();
    changed
        .iter()
        .filter(|f| f.ends_with(".go") && !f.ends_with("_test.go"))
        .filter(|f| !compiled.contains(f.as_str()))
        .cloned()
        .collect()
}

/// The warning for changed Go files that no analysed platform compiles but another
/// platform would (their build constraints say so), naming those platforms.
pub(crate) fn uncompiled_warning(
    repo: &Repo,
    parts: &[PlatformSides],
    settings: &BuildSettings,
) -> Vec<String> {
    let Some(first) = parts.first() else {
        return Vec::new();
    };
    let analysed: Vec<Platform> = parts
        .iter()
        .map(|p| p.target.clone().unwrap_or_else(|| p.env.default_platform()))
        .collect();
    let mut out = Vec::new();
    let mut candidates = first.head.uncompiled.clone();
    candidates.sort();
    candidates.dedup();
    for file in candidates {
        if !parts.iter().all(|p| p.head.uncompiled.contains(&file)) {
            continue;
        }
        let Some(source) = read_side(repo, &first.head, &file) else {
            continue;
        };
        // The file's own constraints must exclude every analysed platform: a file
        // outside every package (testdata, a directory the build leaves out) is not a
        // platform's matter.
        let excluded_everywhere = parts.iter().zip(&analysed).all(|(p, platform)| {
            platform.compiles(&file, &source, &settings.tags, p.env.builds_cgo()) == Some(false)
        });
        if !excluded_everywhere {
            continue;
        }
        let others = go::compiling_platforms(&file, &source, &settings.tags, &analysed);
        if others.is_empty() {
            continue;
        }
        let names = |list: &[Platform]| {
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut suggested = analysed.clone();
        suggested.extend(others.iter().take(1).cloned());
        out.push(format!(
            "{file} changed, but no analysed platform ({}) compiles it: its build constraints \
             exclude them; it would be compiled for {}\n\
             hint: analyse those platforms too: `platforms: [{}]` in {CONFIG_FILE}, or \
             --platforms {}",
            names(&analysed),
            names(&others),
            names(&suggested),
            suggested
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    out
}

/// What one platform's comparison gave.
pub(crate) struct PlatformCompared {
    pub base: Vec<Finding>,
    pub head: Vec<Finding>,
    pub comparison: Comparison,
}

/// The identity of a finding whatever its platforms: what makes the same finding
/// of two platforms one.
type Identity = (
    String,
    String,
    u32,
    u32,
    String,
    Kind,
    String,
    String,
    Option<String>,
    bool,
);

fn identity(f: &Finding) -> Identity {
    (
        f.package.clone(),
        f.file.clone(),
        f.line,
        f.column,
        f.function.clone(),
        f.kind,
        f.message.clone(),
        f.expr.clone(),
        f.compiled_in.clone(),
        f.unplaced,
    )
}

/// Puts the platforms' findings together: each finding once per copy, naming every
/// platform that has it (a copy is matched with at most one of each other platform's).
/// Findings of the unnamed default platform are passed through as they are.
pub(crate) fn merge_findings(lists: Vec<(&Option<Platform>, Vec<Finding>)>) -> Vec<Finding> {
    if lists.len() == 1 && lists[0].0.is_none() {
        return lists.into_iter().flat_map(|(_, l)| l).collect();
    }
    let mut out: Vec<Finding> = Vec::new();
    let mut index: HashMap<Identity, Vec<usize>> = HashMap::new();
    for (target, list) in lists {
        for mut f in list {
            let slots = index.entry(identity(&f)).or_default();
            let free = target.as_ref().and_then(|p| {
                slots
                    .iter()
                    .copied()
                    .find(|&i| !out[i].platforms.contains(p))
            });
            match (target, free) {
                (Some(p), Some(i)) => out[i].platforms.push(p.clone()),
                _ => {
                    if let Some(p) = target {
                        f.platforms = vec![p.clone()];
                    }
                    slots.push(out.len());
                    out.push(f);
                }
            }
        }
    }
    matching::sort(out)
}

/// The same for moved escapes: one per (from, to) pair, naming its platforms.
fn merge_moved(lists: Vec<(&Option<Platform>, Vec<Moved>)>) -> Vec<Moved> {
    let mut out: Vec<Moved> = Vec::new();
    let mut index: HashMap<(Identity, Identity), Vec<usize>> = HashMap::new();
    for (target, list) in lists {
        for mut m in list {
            let slots = index
                .entry((identity(&m.from), identity(&m.to)))
                .or_default();
            let free = target.as_ref().and_then(|p| {
                slots
                    .iter()
                    .copied()
                    .find(|&i| !out[i].to.platforms.contains(p))
            });
            match (target, free) {
                (Some(p), Some(i)) => {
                    out[i].from.platforms.push(p.clone());
                    out[i].to.platforms.push(p.clone());
                }
                _ => {
                    if let Some(p) = target {
                        m.from.platforms = vec![p.clone()];
                        m.to.platforms = vec![p.clone()];
                    }
                    slots.push(out.len());
                    out.push(m);
                }
            }
        }
    }
    out
}

/// A base finding and the head finding that is the same escape.
type Pair = (Finding, Finding);

/// The same for unchanged pairs.
fn merge_pairs(lists: Vec<(&Option<Platform>, Vec<Pair>)>) -> Vec<Pair> {
    let mut out: Vec<(Finding, Finding)> = Vec::new();
    let mut index: HashMap<(Identity, Identity), Vec<usize>> = HashMap::new();
    for (target, list) in lists {
        for (mut b, mut h) in list {
            let slots = index.entry((identity(&b), identity(&h))).or_default();
            let free = target.as_ref().and_then(|p| {
                slots
                    .iter()
                    .copied()
                    .find(|&i| !out[i].1.platforms.contains(p))
            });
            match (target, free) {
                (Some(p), Some(i)) => {
                    out[i].0.platforms.push(p.clone());
                    out[i].1.platforms.push(p.clone());
                }
                _ => {
                    if let Some(p) = target {
                        b.platforms = vec![p.clone()];
                        h.platforms = vec![p.clone()];
                    }
                    slots.push(out.len());
                    out.push((b, h));
                }
            }
        }
    }
    out
}

/// One comparison out of the platforms' comparisons.
pub(crate) fn merge_comparisons(
    parts: &[PlatformSides],
    compared: &[PlatformCompared],
) -> Comparison {
    let each = || parts.iter().map(|p| &p.target).zip(compared);
    Comparison {
        new: merge_findings(each().map(|(t, c)| (t, c.comparison.new.clone())).collect()),
        fixed: merge_findings(
            each()
                .map(|(t, c)| (t, c.comparison.fixed.clone()))
                .collect(),
        ),
        moved: merge_moved(
            each()
                .map(|(t, c)| (t, c.comparison.moved.clone()))
                .collect(),
        ),
        unchanged: merge_pairs(
            each()
                .map(|(t, c)| (t, c.comparison.unchanged.clone()))
                .collect(),
        ),
    }
}

/// One side out of the platforms' builds of it: findings put together, the rest
/// united (the count of findings outside the repository is the largest platform's).
pub(crate) fn merge_sides(revision: Revision, sides: Vec<(&Option<Platform>, &Side)>) -> Side {
    let findings = merge_findings(
        sides
            .iter()
            .map(|(t, s)| (*t, s.findings.clone()))
            .collect(),
    );
    let mut analysis = Analysis {
        findings,
        ..Analysis::default()
    };
    let mut notes = Vec::new();
    let mut cached = true;
    for (_, side) in &sides {
        analysis.packages.extend(side.packages.iter().cloned());
        analysis.outside = analysis.outside.max(side.outside);
        analysis
            .unrecognised
            .extend(side.unrecognised.iter().cloned());
        analysis.unplaced.extend(side.unplaced.iter().cloned());
        for call in &side.inline_calls {
            if !analysis.inline_calls.contains(call) {
                analysis.inline_calls.push(call.clone());
            }
        }
        analysis.uncompiled.extend(side.uncompiled.iter().cloned());
        for note in &side.notes {
            if !notes.contains(note) {
                notes.push(note.clone());
            }
        }
        cached &= side.cached;
    }
    for list in [
        &mut analysis.packages,
        &mut analysis.unrecognised,
        &mut analysis.unplaced,
        &mut analysis.uncompiled,
    ] {
        list.sort();
        list.dedup();
    }
    let mut side = Side::new(revision, analysis, cached);
    side.notes = notes;
    side
}

/// The packages analysed on any platform.
pub(crate) fn merge_scopes(scopes: Vec<&Scope>) -> Scope {
    let mut out = scopes.first().map(|s| (*s).clone()).unwrap_or_default();
    for s in scopes.iter().skip(1) {
        out.total = out.total.max(s.total);
        out.excluded = out.excluded.max(s.excluded);
        out.unaffected = out.unaffected.max(s.unaffected);
        out.analysed = out.analysed.max(s.analysed);
        for main in &s.mains {
            if !out.mains.contains(main) {
                out.mains.push(main.clone());
            }
        }
        out.selected = match (out.selected.take(), &s.selected) {
            (Some(mut all), Some(part)) => {
                all.extend(part.iter().cloned());
                Some(all)
            }
            _ => None,
        };
    }
    out
}

/// The shards' parts grouped by platform, in the order of `targets`; each shard must
/// have analysed the same platforms.
pub(crate) fn shard_parts(
    shards: &[ShardData],
    targets: &[Option<Platform>],
) -> Result<Vec<(Option<Platform>, Vec<ShardData>)>> {
    let mut out: Vec<(Option<Platform>, Vec<ShardData>)> =
        targets.iter().map(|t| (t.clone(), Vec::new())).collect();
    for shard in shards {
        let mut parts = vec![shard.clone()];
        parts.extend(shard.other_platforms.iter().cloned());
        for mut part in parts {
            part.other_platforms.clear();
            part.origin.clone_from(&shard.origin);
            let Some(slot) = out.iter_mut().find(|(t, _)| *t == part.platform) else {
                bail!(
                    "shard {}/{} analysed {}, which this merge does not\n\
                     hint: run every shard and the merge with the same --platforms and allowlist",
                    shard.index,
                    shard.count,
                    part.platform
                        .as_ref()
                        .map_or_else(|| "the default platform".to_string(), ToString::to_string)
                );
            };
            slot.1.push(part);
        }
    }
    Ok(out)
}
