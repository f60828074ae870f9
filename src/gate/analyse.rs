//! One side's analysis: build the selected packages, place each finding in the tree
//! and name its function (attribution), and the line maps the matcher needs.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::explain;
use crate::finding::{Finding, FlowStep, RawFinding};
use crate::function::FunctionIndex;
use crate::git::{Repo, Revision};
use crate::go::{self, BuildOutput, BuildSettings, GoEnv};
use crate::interrupt::TempTree;
use crate::matching::{self, ChangedLines, LineMap};
use crate::tree_path::{self};

use super::*;

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
pub(super) fn explain_new(
    session: &Session,
    base: &Side,
    head: &Side,
    settings: &BuildSettings,
    renames: &HashMap<String, String>,
    new: &mut [Finding],
) -> Result<()> {
    let mut packages: Vec<String> = new.iter().map(|f| f.package.clone()).collect();
    packages.sort();
    packages.dedup();
    let (repo, go) = (&session.repo, &session.go);
    // The work tree holds the base now (or nothing, after a cache hit).
    let tree = session.work.checkout(repo, &head.revision)?;
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
/// are not `-trimpath` by default, so the Go build cache keys packages by their
/// directory, and a fixed directory lets the head build reuse what the base build
/// compiled (and a later run what an earlier one did), while the standard library
/// comes from the entries ordinary builds left. It is removed at the end of the run,
/// like every temporary tree.
///
/// The path is this machine's (under its temporary directory, named after the
/// checkout's path), so with it the keys are too. Making it the same on every machine
/// would not make the keys so: a package's key also holds what its dependencies
/// compiled to, whose file names without `-trimpath` are the module cache's, under each
/// machine's HOME. A shared cache (`GOCACHEPROG`) therefore gets `-trimpath` builds,
/// whose keys hold no directory and for which this path does not matter (see
/// [`crate::go::trimpath_wanted`], measured in BENCHMARKS.md).
#[derive(Debug)]
pub(crate) struct Work {
    dir: TempTree,
}

impl Work {
    pub(crate) fn new(repo: &Repo) -> Result<Work> {
        let name = format!(
            "work-{}",
            crate::cache::stable_hash(&repo.root().to_string_lossy())
        );
        Ok(Work {
            dir: TempTree::stable(&name)?,
        })
    }

    /// Replaces the tree with the files of `rev`; returns its path.
    pub(crate) fn checkout(&self, repo: &Repo, rev: &Revision) -> Result<PathBuf> {
        let tree = self.dir.path().join("tree");
        repo.materialise(rev, &tree)?;
        Ok(tree)
    }
}

/// The most of a working-tree file read for line maps and for the build-section check.
pub(super) const MAX_SOURCE_READ: u64 = 64 * 1024 * 1024;

/// A regular file of the working tree, read without following a link inside the
/// repository and at most [`MAX_SOURCE_READ`] bytes of it; `None` otherwise.
pub(super) fn read_worktree(repo: &Repo, rel: &str) -> Option<Vec<u8>> {
    tree_path::read_bytes_in_tree(repo.root(), rel, MAX_SOURCE_READ).ok()
}

/// A file of one side: from git for a commit, from disk for the working tree.
pub(super) fn read_side(repo: &Repo, side: &Side, path: &str) -> Option<String> {
    let bytes = match side.revision.commit {
        Some(commit) => repo.read_file(commit, path)?,
        None => read_worktree(repo, path)?,
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Builds the packages of `listing` that `scope` includes and turns the compiler's
/// output into findings.
pub(super) fn analyse(
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
pub(super) fn line_map(
    repo: &Repo,
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
) -> LineMap {
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
pub(super) fn changed_lines<'a>(
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

pub(super) fn unrecognised_warning(side: &Side) -> String {
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
