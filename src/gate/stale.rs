//! Why each stale allowlist entry allowed nothing: is its escape already in the base
//! (keep the entry until the change that added the escape has merged, or remove it
//! when the base is on the default branch), or in no revision at all (remove it)?
//!
//! The base's findings decide. A comparison analyses only the packages the change can
//! affect, so an entry about another package is looked up in one more build of the
//! base: only the packages holding files its `path` glob matches, which Go's build
//! cache usually replays.

use std::collections::BTreeSet;

use crate::allowlist::{AllowEntry, Config, Staleness};
use crate::finding::Finding;
use crate::git::Revision;
use crate::go::{self, BuildSettings};

use super::analyse::analyse;
use super::scope::Scope;
use super::{Session, Side};

/// What the classification reads.
pub(super) struct StaleInput<'a> {
    pub config: &'a Config,
    /// Indices of the stale entries.
    pub stale: &'a [usize],
    pub base: &'a Side,
    pub head: &'a Side,
    /// The comparison's new findings: a head finding that is new is not in the base.
    pub new: &'a [Finding],
    pub scope: &'a Scope,
    pub settings: &'a BuildSettings,
    /// Whether the base may be built again for the packages the comparison left out
    /// (not in a shard, whose stale entries `merge` judges again).
    pub may_build: bool,
}

/// One [`Staleness`] per stale entry, in the order of `input.stale`.
pub(super) fn classify(session: &Session, input: &StaleInput<'_>) -> Vec<Staleness> {
    let Some(base_commit) = input.base.revision.commit else {
        return vec![Staleness::Unknown; input.stale.len()];
    };
    let in_base = match session.repo.default_branch_containing(base_commit) {
        Some(branch) => Staleness::Merged { branch },
        None => Staleness::InBase,
    };
    // The head's findings that are not new are the base's too (unchanged, or moved).
    // New ones are told by position: the comparison adds to them (flows, inline sites).
    let place = |f: &Finding| {
        (
            f.file.clone(),
            f.line,
            f.column,
            f.message.clone(),
            f.compiling_package().to_string(),
        )
    };
    let new: BTreeSet<_> = input.new.iter().map(place).collect();
    let head_old: Vec<&Finding> = input
        .head
        .findings
        .iter()
        .filter(|f| !new.contains(&place(f)))
        .collect();
    let seen = |e: &AllowEntry| {
        input.base.findings.iter().any(|f| e.matches(f)) || head_old.iter().any(|f| e.matches(f))
    };
    let mut out = Vec::new();
    let mut unseen = Vec::new();
    for (k, &i) in input.stale.iter().enumerate() {
        let entry = &input.config.allow[i];
        if seen(entry) {
            out.push(in_base.clone());
        } else if input.scope.selected.is_none() {
            // Every package was analysed: nothing the entry names is anywhere.
            out.push(Staleness::Gone);
        } else {
            out.push(Staleness::Unknown);
            unseen.push(k);
        }
    }
    if unseen.is_empty() {
        return out;
    }
    // The directories of the base's Go files each entry's glob matches: an entry that
    // matches none names nothing the base has.
    let Ok(files) = session.repo.go_files(base_commit) else {
        return out;
    };
    let mut dirs = BTreeSet::new();
    let mut to_build: Vec<usize> = Vec::new();
    for &k in &unseen {
        let entry = &input.config.allow[input.stale[k]];
        let mine: BTreeSet<&str> = files
            .iter()
            .filter(|file| entry.path_matches(file))
            .map(|file| file.rsplit_once('/').map_or("", |(dir, _)| dir))
            .collect();
        if mine.is_empty() {
            out[k] = Staleness::Gone;
        } else {
            dirs.extend(mine.into_iter().map(str::to_string));
            to_build.push(k);
        }
    }
    if to_build.is_empty() || !input.may_build {
        return out;
    }
    // A base that does not build in those packages leaves them unknown: the verdict
    // does not depend on them.
    if let Ok(findings) = base_findings(session, &input.base.revision, &dirs, input) {
        for k in to_build {
            let entry = &input.config.allow[input.stale[k]];
            out[k] = if findings.iter().any(|f| entry.matches(f)) {
                in_base.clone()
            } else {
                Staleness::Gone
            };
        }
    }
    out
}

/// The base's findings in the packages of `dirs` that the comparison did not analyse.
fn base_findings(
    session: &Session,
    base: &Revision,
    dirs: &BTreeSet<String>,
    input: &StaleInput<'_>,
) -> anyhow::Result<Vec<Finding>> {
    let name = format!(
        "base {} (for the escapes of stale allowlist entries)",
        base.label()
    );
    session.progress.say(&format!("checking out {name}"));
    let tree = session.work.checkout(&session.repo, base)?;
    let listing = go::list(&session.go, &tree, input.settings, &name)?;
    let extra: BTreeSet<String> = listing
        .packages
        .iter()
        .filter(|p| !p.excluded && dirs.contains(&p.dir) && !input.scope.includes(&p.import_path))
        .map(|p| p.import_path.clone())
        .collect();
    if extra.is_empty() {
        session.progress.clear();
        return Ok(Vec::new());
    }
    let scope = Scope {
        analysed: extra.len(),
        selected: Some(extra),
        ..input.scope.clone()
    };
    session
        .progress
        .say(&format!("building {name}: {} packages", scope.analysed));
    let side = analyse(
        &session.go,
        base.clone(),
        &tree,
        &listing,
        &scope,
        input.settings,
        &name,
    )?;
    session.progress.clear();
    Ok(side.findings)
}
