//! Shards: one comparison split over several machines. `diff --shard I/N` analyses a
//! fixed part of the selected packages and writes, with its JSON report, what both of
//! its sides found ([`ShardData`]); `merge` puts the parts back together and runs the
//! rest of the pipeline (match, allow, report) once, over everything, so that the
//! cross-package "moved" pass and the allowlist's stale entries see the whole
//! comparison, exactly as one unsharded run would.
//!
//! Why findings and not verdicts: a finding is compiled in exactly one package (its
//! `compiled_in`), so the packages partition the findings, and the union of the
//! shards' findings is the unsharded run's. Verdicts do not add up: an escape that
//! moved from a package of one shard to a package of another is new in one shard and
//! fixed in the other.
//!
//! A shard file is trusted input: `merge` cannot rebuild what a shard built, so a
//! file that drops a finding is not detectable. What can be checked is checked
//! ([`merge`], [`check_sources`]): each shard holds exactly the packages its `I/N` owns,
//! on both sides, with findings only in those packages; every shard agrees on the
//! revisions, settings and scope; and each placed finding's source line is the line
//! its revision has at that position, so findings copied from the other side (or
//! invented) are refused. Shard files must come from jobs of the same trusted workflow.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::phases::Plan;
use super::platforms::{shard_parts, PlatformSides};
use super::scope::Scope;
use super::{Analysis, Session, Side};
use crate::gcassert::{Directive, Directives};
use crate::git::Revision;

/// `--shard I/N`: the I-th of N parts (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a comparison can be split into.
pub const MAX_SHARDS: u32 = 1000;

impl Shard {
    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not I/N (for example 2/4)"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?} is not I/N: {s:?} is not a whole number"))
        };
        let (index, count) = (number(i)?, number(n)?);
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("{text:?}: N must be 1 to {MAX_SHARDS}"));
        }
        if index == 0 || index > count {
            return Err(format!("{text:?}: I must be 1 to N ({count})"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the package belongs to this shard: a fixed hash of its import path
    /// (FNV-1a, 64 bits), so that every machine and both sides split alike.
    pub fn owns(&self, import_path: &str) -> bool {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in import_path.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// Whether the unit (platform, package) belongs to this shard: with a platform,
    /// the units are platform × package; without, packages.
    pub fn owns_on(&self, import_path: &str, platform: Option<&crate::go::Platform>) -> bool {
        match platform {
            Some(platform) => self.owns(&format!("{platform} {import_path}")),
            None => self.owns(import_path),
        }
    }

    /// [`Shard::restrict`] for one platform of several: the units split are
    /// platform × package, so that each platform's packages spread over the shards.
    pub fn restrict_on(
        &self,
        scope: Scope,
        all: &[String],
        platform: Option<&crate::go::Platform>,
    ) -> Scope {
        let Some(platform) = platform else {
            return self.restrict(scope, all);
        };
        let owns = |p: &String| self.owns_on(p, Some(platform));
        let selected: BTreeSet<String> = match &scope.selected {
            Some(set) => set.iter().filter(|p| owns(p)).cloned().collect(),
            None => all.iter().filter(|p| owns(p)).cloned().collect(),
        };
        Scope {
            analysed: selected.len(),
            selected: Some(selected),
            ..scope
        }
    }

    /// The part of `scope` this shard analyses: of the packages it would analyse
    /// (`all` when it selects every one), those this shard owns.
    pub fn restrict(&self, scope: Scope, all: &[String]) -> Scope {
        let selected: BTreeSet<String> = match &scope.selected {
            Some(set) => set.iter().filter(|p| self.owns(p)).cloned().collect(),
            None => all.iter().filter(|p| self.owns(p)).cloned().collect(),
        };
        Scope {
            analysed: selected.len(),
            selected: Some(selected),
            ..scope
        }
    }
}

/// What one shard found, as `diff --shard` writes it into its JSON report (the
/// `shard` field) for `merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardData {
    pub index: u32,
    pub count: u32,
    /// The commits compared, full ids.
    pub base: String,
    pub head: String,
    /// escape-gate's version, the Go version and the build settings: shards made
    /// otherwise cannot be merged.
    pub settings: String,
    /// The packages this shard analysed, and why all of them were when they were.
    pub scope: Scope,
    /// Head packages the base's build section analyses and the head's does not.
    pub no_longer_analysed: Option<Vec<String>>,
    pub base_analysis: Analysis,
    /// The head's findings, without the violations of `//gcassert:` directives: a
    /// directive and the copy that violates it can be in packages of two shards, so the
    /// merge checks the directives of every shard against every finding.
    pub head_analysis: Analysis,
    /// The `//gcassert:` directives in this shard's packages.
    #[serde(default)]
    pub directives: Vec<Directive>,
    /// The platform this part was built for, when the comparison names platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::go::Platform>,
    /// The same shard's parts for the other platforms of the comparison.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_platforms: Vec<ShardData>,
    /// The file the shard was read from, for messages (`merge` sets it).
    #[serde(skip)]
    pub origin: String,
}

impl ShardData {
    /// `shard 2/4 (reports/2.json)`: how messages name it.
    pub fn name(&self) -> String {
        match self.origin.as_str() {
            "" => format!("shard {}/{}", self.index, self.count),
            origin => format!("shard {}/{} ({origin})", self.index, self.count),
        }
    }
}

impl ShardData {
    /// What this shard keeps for `merge` (phase 4 of [`super::diff`]): both sides of
    /// each platform as they were analysed, the first platform's at the top and the
    /// others in [`ShardData::other_platforms`].
    pub(super) fn of_parts(
        shard: Shard,
        base: git2::Oid,
        settings: &str,
        parts: &[PlatformSides],
    ) -> ShardData {
        let mut data: Vec<ShardData> = parts
            .iter()
            .map(|part| ShardData {
                index: shard.index,
                count: shard.count,
                base: base.to_string(),
                head: part
                    .head
                    .revision
                    .commit
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                settings: settings.to_string(),
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
    }
}

/// `merge`'s phase 3 of [`super::diff`]: each platform's two sides put together from
/// the shards, once every shard's findings are checked against the revisions' sources.
pub(super) fn merge_parts(
    session: &Session,
    plan: &Plan,
    shards: &[ShardData],
) -> Result<Vec<PlatformSides>> {
    let (repo, go) = (&session.repo, &session.go);
    if let Some(head_commit) = plan.head_rev.commit {
        for s in shards {
            check_sources(repo, s, plan.base_commit, head_commit)?;
            for part in &s.other_platforms {
                check_sources(repo, part, plan.base_commit, head_commit)?;
            }
        }
    }
    let mut parts = Vec::new();
    for (target, group) in shard_parts(shards, &plan.targets)? {
        let merged = merge(
            &group,
            plan.base_rev.clone(),
            plan.head_rev.clone(),
            &plan.shard_settings,
        )?;
        let env = target
            .as_ref()
            .map_or_else(|| go.clone(), |p| go.for_platform(p));
        parts.push(PlatformSides {
            target,
            env,
            settings: plan.settings.clone(),
            scope: merged.scope,
            head: merged.head,
            base: merged.base,
            dropped: merged.no_longer_analysed,
            directives: Vec::new(),
        });
    }
    Ok(parts)
}

/// The hint of every refusal of a shard's content.
const TAMPERED_HINT: &str = "hint: merge only the reports the shard jobs of one workflow run \
     wrote; a report from anywhere else (a fork's artifact, an edited file) can say anything";

/// What is wrong with `s`'s content, if anything, as one sentence: it must hold exactly
/// what `diff --shard I/N` writes for the part of `first`'s comparison it owns.
fn content_problem(s: &ShardData, first: &ShardData) -> Option<String> {
    let shard = Shard {
        index: s.index,
        count: s.count,
    };
    if s.index == 0 || s.count == 0 || s.count > MAX_SHARDS || s.index > s.count {
        return Some(format!("{}/{} is not a shard number", s.index, s.count));
    }
    let (scope, top) = (&s.scope, &first.scope);
    if (
        scope.total,
        scope.excluded,
        scope.unaffected,
        &scope.all_because,
    ) != (top.total, top.excluded, top.unaffected, &top.all_because)
    {
        return Some(format!(
            "its scope ({} packages, {} left out, {} unaffected, all because {:?}) is not \
             shard {}/{}'s ({} packages, {} left out, {} unaffected, all because {:?})",
            scope.total,
            scope.excluded,
            scope.unaffected,
            scope.all_because,
            first.index,
            first.count,
            top.total,
            top.excluded,
            top.unaffected,
            top.all_because
        ));
    }
    if s.no_longer_analysed != first.no_longer_analysed {
        return Some(format!(
            "the packages it says the head stops analysing ({:?}) are not shard {}/{}'s ({:?})",
            s.no_longer_analysed, first.index, first.count, first.no_longer_analysed
        ));
    }
    let Some(selected) = &scope.selected else {
        return Some("it does not list the packages it analysed".to_string());
    };
    if scope.analysed != selected.len() {
        return Some(format!(
            "it says it analysed {} packages but lists {}",
            scope.analysed,
            selected.len()
        ));
    }
    if let Some(p) = selected
        .iter()
        .find(|p| !shard.owns_on(p, s.platform.as_ref()))
    {
        return Some(format!(
            "it analysed package {p}, which shard {}/{} does not own",
            s.index, s.count
        ));
    }
    for (side, analysis) in [("base", &s.base_analysis), ("head", &s.head_analysis)] {
        if let Some(p) = analysis.packages.iter().find(|p| !selected.contains(*p)) {
            return Some(format!(
                "its {side} side built package {p}, which is not one of the packages it analysed"
            ));
        }
        if let Some(f) = analysis
            .findings
            .iter()
            .find(|f| !selected.contains(f.compiling_package()))
        {
            return Some(format!(
                "its {side} side has a finding compiled in package {}, which is not one of the \
                 packages it analysed ({}:{}: {})",
                f.compiling_package(),
                f.file,
                f.line,
                f.message
            ));
        }
    }
    if let Some(d) = s.directives.iter().find(|d| !selected.contains(&d.package)) {
        return Some(format!(
            "it has a //gcassert: directive of package {}, which is not one of the packages \
             it analysed ({}:{})",
            d.package, d.file, d.line
        ));
    }
    None
}

/// Checks that every placed finding of the shard is where its revision has it: the
/// file exists in that commit and its trimmed line at that position is the finding's
/// `source`, as the analysis read it from the checkout. Files the repository's objects
/// cannot show (in a submodule, larger than escape-gate reads, links) are skipped.
pub(crate) fn check_sources(
    repo: &crate::git::Repo,
    s: &ShardData,
    base: git2::Oid,
    head: git2::Oid,
) -> Result<()> {
    let mut files: std::collections::HashMap<(git2::Oid, String), Option<Vec<String>>> =
        std::collections::HashMap::new();
    for (side, analysis, commit) in [
        ("base", &s.base_analysis, base),
        ("head", &s.head_analysis, head),
    ] {
        for f in analysis.findings.iter().filter(|f| !f.unplaced) {
            let lines = files.entry((commit, f.file.clone())).or_insert_with(|| {
                repo.read_file(commit, &f.file).map(|bytes| {
                    String::from_utf8_lossy(&bytes)
                        .lines()
                        .map(|l| l.trim().to_string())
                        .collect()
                })
            });
            let label = format!("{side} {}", crate::git::short_oid(commit));
            let problem = match lines {
                Some(lines) => match lines.get((f.line as usize).wrapping_sub(1)) {
                    Some(line) if *line == f.source => None,
                    Some(line) => Some(format!(
                        "its {side} side has a finding at {}:{} ({}) on the line `{}`, but \
                         {label} has `{line}` there",
                        f.file, f.line, f.message, f.source
                    )),
                    None => Some(format!(
                        "its {side} side has a finding at {}:{} ({}), past the end of that \
                         file in {label}",
                        f.file, f.line, f.message
                    )),
                },
                None if repo.has_path(commit, &f.file)
                    || repo.under_submodule(commit, &f.file)
                    || f.file.contains('\u{fffd}') =>
                {
                    None
                }
                None => Some(format!(
                    "its {side} side has a finding in {} ({}), which is not a file of {label}",
                    f.file, f.message
                )),
            };
            if let Some(problem) = problem {
                bail!(
                    "{} does not hold what the shard found: {problem}\n{TAMPERED_HINT}",
                    s.name()
                );
            }
        }
    }
    Ok(())
}

/// The shards put together: what one unsharded run would have analysed.
#[derive(Debug)]
pub(crate) struct Merged {
    pub scope: Scope,
    pub base: Side,
    pub head: Side,
    pub no_longer_analysed: Option<Vec<String>>,
}

/// Checks that `shards` are the whole of one comparison of `base` and `head` with
/// these `settings`, and merges them.
pub(crate) fn merge(
    shards: &[ShardData],
    base: Revision,
    head: Revision,
    settings: &str,
) -> Result<Merged> {
    let Some(first) = shards.first() else {
        bail!("no shard to merge\nhint: name the JSON reports of every `diff --shard I/N` run");
    };
    let count = first.count;
    let hex = |rev: &Revision| rev.commit.map(|c| c.to_string()).unwrap_or_default();
    let mut seen = BTreeSet::new();
    for s in shards {
        if s.count != count {
            bail!(
                "shard {}/{} does not belong with shard {}/{}: they split the packages differently\n\
                 hint: merge the reports of one `diff --shard I/N` matrix, every I from 1 to N",
                s.index,
                s.count,
                first.index,
                count
            );
        }
        if s.base != hex(&base) || s.head != hex(&head) {
            bail!(
                "shard {}/{count} compares {} with {}, not {} with {}\n\
                 hint: merge the reports of one comparison",
                s.index,
                short(&s.head),
                short(&s.base),
                short(&hex(&head)),
                short(&hex(&base))
            );
        }
        if s.settings != settings {
            bail!(
                "shard {}/{count} was made with other settings ({}) than this merge ({settings})\n\
                 hint: run every shard and the merge with the same escape-gate, Go version, \
                 allowlist and build flags",
                s.index,
                s.settings
            );
        }
        if !seen.insert(s.index) {
            bail!("shard {}/{count} is given twice", s.index);
        }
        if let Some(problem) = content_problem(s, first) {
            bail!(
                "{} is not what `diff --shard {}/{count}` writes: {problem}\n{TAMPERED_HINT}",
                s.name(),
                s.index
            );
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !seen.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard(s) {} missing: a merge needs every part to give the verdict\n\
             hint: wait for every shard job (or re-run the failed ones) and pass all N reports",
            missing.join(", ")
        );
    }

    let mut scope = Scope {
        analysed: 0,
        selected: Some(BTreeSet::new()),
        ..first.scope.clone()
    };
    let (mut base_all, mut head_all) = (Analysis::default(), Analysis::default());
    for s in shards {
        scope.analysed += s.scope.analysed;
        if let (Some(all), Some(part)) = (scope.selected.as_mut(), s.scope.selected.as_ref()) {
            all.extend(part.iter().cloned());
        }
        for (all, part) in [
            (&mut base_all, &s.base_analysis),
            (&mut head_all, &s.head_analysis),
        ] {
            all.findings.extend(part.findings.iter().cloned());
            all.packages.extend(part.packages.iter().cloned());
            all.outside += part.outside;
            all.unrecognised.extend(part.unrecognised.iter().cloned());
            all.unplaced.extend(part.unplaced.iter().cloned());
            all.inline_calls.extend(part.inline_calls.iter().cloned());
            all.uncompiled.extend(part.uncompiled.iter().cloned());
        }
    }
    let directives = Directives {
        list: shards
            .iter()
            .flat_map(|s| s.directives.iter().cloned())
            .collect(),
    };
    let violations = directives.violations(&head_all.findings);
    head_all.findings.extend(violations);
    for all in [&mut base_all, &mut head_all] {
        all.findings = crate::matching::sort(std::mem::take(&mut all.findings));
        all.packages.sort();
        all.unplaced.sort();
    }
    Ok(Merged {
        scope,
        base: Side::new(base, base_all, false),
        head: Side::new(head, head_all, false),
        no_longer_analysed: first.no_longer_analysed.clone(),
    })
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_every_package_once() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/1001"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let packages: Vec<String> = (0..200).map(|i| format!("example.com/m/p{i}")).collect();
        let shards: Vec<Shard> = (1..=3).map(|index| Shard { index, count: 3 }).collect();
        for p in &packages {
            let owners = shards.iter().filter(|s| s.owns(p)).count();
            assert_eq!(owners, 1, "{p}");
        }
        // Each shard gets a fair part (the hash spreads them).
        for s in &shards {
            let n = packages.iter().filter(|p| s.owns(p)).count();
            assert!((40..=100).contains(&n), "shard {} has {n}", s.index);
        }
    }
}
