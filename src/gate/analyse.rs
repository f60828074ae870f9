//! One side's analysis: build the selected packages, place each finding in the tree
//! and name its function (attribution), and the line maps the matcher needs.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::explain;
use crate::finding::{Finding, FlowStep, InlineSite, RawFinding};
use crate::function::FunctionIndex;
use crate::git::{Repo, Revision};
use crate::go::{self, BuildOutput, BuildSettings, GoEnv};
use crate::interrupt::TempTree;
use crate::lines::{Alignment, ChangedLines, LineMap};
use crate::matching;
use crate::tree::{self};

use super::scope::Scope;
use super::{Analysis, Session, Side};

/// Rebuilds the head packages that hold new escapes with `-m=2` and attaches each new
/// escape's flow.
///
/// Why a second build rather than `-m=2` for every build: measured on
/// klauspost/compress v1.18.0 (31 packages, one leaf package changed, Go 1.26, 2 busy
/// cores; table in docs/architecture.md, "Why `-m=2` only on demand"). `go build`
/// itself is not measurably slower with `-m=2` (noise is about a second), but its
/// output is 4x larger (4.0 MB against 0.97 MB per side; parse 5-7 ms against 1.5-2
/// ms), paid on every run although explanations are read only when an escape is new.
/// This build costs nothing when there is nothing to explain and about 0.15 s (one
/// package recompiled with `-m=2`) when there is.
#[allow(clippy::too_many_arguments)] // one platform's view of the two sides and what the change did
pub(super) fn explain_new(
    session: &Session,
    go: &GoEnv,
    base: &Side,
    head: &Side,
    settings: &BuildSettings,
    renames: &HashMap<String, String>,
    diffs: &Diffs,
    new: &mut [Finding],
) -> Result<()> {
    let mut packages: Vec<String> = new.iter().map(|f| f.package.clone()).collect();
    packages.sort();
    packages.dedup();
    let repo = &session.repo;
    // The work tree holds the base now (or nothing, after a cache hit).
    let tree = session.work.checkout(repo, &head.revision)?;
    let name = format!(
        "head {} (with -m=2, to explain its new escapes)",
        head.revision.label()
    );
    let mut output = go::build_packages(go, &tree, settings, &packages, go::Detail::Flow, &name)?;
    let raw = std::mem::take(&mut output.parsed.findings);
    let files = explain::flow_files(&raw, &output);
    let changed = changed_lines(
        repo,
        base,
        head,
        renames,
        diffs,
        files.iter().map(String::as_str),
    );
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
    /// The revision the tree holds (its commit; `None` the working tree) and whether
    /// a Go file of it may import "C": a second checkout of it is skipped (builds do
    /// not write into the tree).
    holds: std::cell::RefCell<Option<(Option<git2::Oid>, bool)>>,
}

impl Work {
    pub(crate) fn new(repo: &Repo) -> Result<Work> {
        let name = format!(
            "work-{}",
            crate::cache::stable_hash(&repo.root().to_string_lossy())
        );
        Ok(Work {
            dir: TempTree::stable(&name)?,
            holds: std::cell::RefCell::new(None),
        })
    }

    /// Replaces the tree with the files of `rev`; returns its path. Directories of cgo
    /// packages get the digest of what cgo may read that the build cache does not hash
    /// ([`go::mark_cgo_inputs`]).
    pub(crate) fn checkout(&self, repo: &Repo, rev: &Revision) -> Result<PathBuf> {
        Ok(self.checkout_with_cgo(repo, rev)?.0)
    }

    /// [`Work::checkout`], also saying whether any Go file of the tree may import "C"
    /// (a superset: `false` means no package of the tree uses cgo).
    pub(crate) fn checkout_with_cgo(&self, repo: &Repo, rev: &Revision) -> Result<(PathBuf, bool)> {
        let tree = self.dir.path().join("tree");
        if let Some((held, may_use_cgo)) = *self.holds.borrow() {
            if held == rev.commit {
                return Ok((tree, may_use_cgo));
            }
        }
        // Whatever the tree held is gone once materialising starts.
        self.holds.replace(None);
        repo.materialise(rev, &tree)?;
        let cgo_dirs = go::mark_cgo_inputs(&tree)
            .with_context(|| format!("hashing the files of {} that cgo may read", rev.label()))?;
        let may_use_cgo = !cgo_dirs.is_empty();
        self.holds.replace(Some((rev.commit, may_use_cgo)));
        Ok((tree, may_use_cgo))
    }
}

/// The most of a working-tree file read for line maps and for the build-section check.
pub(super) const MAX_SOURCE_READ: u64 = 64 * 1024 * 1024;

/// A regular file of the working tree, read without following a link inside the
/// repository and at most [`MAX_SOURCE_READ`] bytes of it; `None` otherwise.
pub(super) fn read_worktree(repo: &Repo, rel: &str) -> Option<Vec<u8>> {
    tree::read_bytes_in_tree(repo.root(), rel, MAX_SOURCE_READ).ok()
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
    let mut parsed = std::mem::take(&mut output.parsed);
    // The inlining lines are many; kept only when a check or a directive reads them.
    parsed.checked.retain(|f| settings.compiler.keeps(f.kind));
    let mut raw = parsed.findings;
    raw.append(&mut parsed.checked);
    let directed = line_directed(tree, listing);
    let Attributed {
        findings,
        outside,
        unplaced,
    } = attribute(raw, &output, tree, directed);
    // Tree-relative, as findings are (a -trimpath build prints import-path names).
    let inline_calls = parsed
        .inline_calls
        .into_iter()
        .filter_map(|mut c| {
            c.file = output.locate(&c.file)?.0;
            Some(c)
        })
        .collect();
    let analysis = Analysis {
        findings: matching::sort(findings),
        packages: output.packages,
        outside,
        unrecognised: parsed.unrecognised,
        unplaced,
        inline_calls,
        uncompiled: Vec::new(),
    };
    Ok(Side::new(revision, analysis, false))
}

/// Whether a Go file of any package of the tree (excluded and unselected ones too: a
/// generic function is compiled where it is instantiated) holds a `//line` or `/*line`
/// directive. A directive can name any file, `<autogenerated>` or a standard library
/// file included, so when the tree has one, no position counts as "outside the
/// repository": every heap finding is compared. Names are read as bytes, links inside
/// the checkout are followed, and a file too large to read counts as having one.
pub(super) fn line_directed(tree: &Path, listing: &go::Listing) -> bool {
    let mut dirs: Vec<&str> = listing.packages.iter().map(|p| p.dir.as_str()).collect();
    dirs.sort();
    dirs.dedup();
    dirs.into_iter().any(|dir| {
        let dir = if dir.is_empty() {
            tree.to_path_buf()
        } else {
            tree.join(dir)
        };
        let Ok(entries) = fs::read_dir(&dir) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            if !name.as_encoded_bytes().ends_with(b".go") {
                return false;
            }
            // `metadata` follows a link: go compiles what it points at. Only regular
            // files are read (a FIFO would block).
            let Ok(meta) = fs::metadata(entry.path()) else {
                return false;
            };
            if !meta.is_file() {
                return false;
            }
            if meta.len() > MAX_SOURCE_READ {
                return true;
            }
            fs::read(entry.path()).is_ok_and(|bytes| has_line_directive(&bytes))
        })
    })
}

/// Whether Go source holds a line directive (`//line` at the start of a line, or
/// `/*line`), which remaps the positions the compiler prints.
fn has_line_directive(source: &[u8]) -> bool {
    source.windows(7).enumerate().any(|(i, w)| {
        (w == b"//line " && (i == 0 || source[i - 1] == b'\n')) || w.starts_with(b"/*line")
    })
}

/// Places raw findings in the tree and names their enclosing functions.
///
/// Findings in files outside the repository (standard library, module cache, cgo and
/// compiler-generated code) are only counted, unless the tree has a line directive
/// (`directed`, see [`line_directed`]). A position that cannot be placed in the tree (a `//line`
/// file, a name that is not there) is kept as printed and marked
/// [`Finding::unplaced`]: it is compared like any other.
pub fn attribute(
    raw: Vec<RawFinding>,
    output: &BuildOutput,
    tree: &Path,
    directed: bool,
) -> Attributed {
    let mut by_file: HashMap<String, Vec<RawFinding>> = HashMap::new();
    for r in raw {
        by_file.entry(r.file.clone()).or_default().push(r);
    }
    let mut out = Attributed::default();
    let mut files: Vec<(String, Vec<RawFinding>)> = by_file.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (file, raws) in files {
        let base_name = file.rsplit('/').next().unwrap_or(&file);
        let generated = file.starts_with('<') || base_name.starts_with("_cgo_");
        let elsewhere = file.starts_with('/') || file.starts_with("../") || file.contains(":\\");
        if generated || elsewhere {
            for r in raws {
                if directed {
                    out.add_unplaced(r);
                } else if r.kind.is_heap() {
                    // Only heap findings are counted outside: the other kinds are not
                    // escapes.
                    out.outside += 1;
                }
            }
            continue;
        }
        let placed = output.locate(&file).and_then(|(rel, package)| {
            let source = fs::read(tree.join(&rel))
                .ok()
                .or_else(|| read_lossy_name(tree, &rel))?;
            Some((rel, package, source))
        });
        let Some((rel, package, source)) = placed else {
            // A `//line` file (`parser.y`), or a name the compiler printed that is not
            // a file of this tree: compared as printed.
            for r in raws {
                out.add_unplaced(r);
            }
            continue;
        };
        let index = FunctionIndex::new(&source);
        let text = String::from_utf8_lossy(&source);
        let lines: Vec<&str> = text.lines().collect();
        for r in raws {
            let column = r.column.unwrap_or(0);
            let function = index.function_at(r.line, column);
            let compiled = compiling(&r);
            out.findings.push(Finding {
                compiled_in: (compiled != package && !compiled.is_empty())
                    .then(|| compiled.to_string()),
                package: package.clone(),
                file: rel.clone(),
                line: r.line,
                column,
                hot: index.is_hot(&function),
                profile: None,
                function,
                kind: r.kind,
                message: r.message,
                expr: r.expr,
                source: lines
                    .get((r.line as usize).wrapping_sub(1))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_default(),
                // As printed; `explain::render_in_place` makes them readable.
                flow: r.flow.into_iter().map(FlowStep::plain).collect(),
                inlined_into: None,
                unplaced: false,
                platforms: Vec::new(),
            });
        }
    }
    out.unplaced.sort();
    out.unplaced.dedup();
    out
}

/// The file whose name, with invalid UTF-8 replaced, is `rel`: the compiler prints a
/// name's bytes, and escape-gate reads its output as text, so a name that is not UTF-8
/// reaches here with U+FFFD in it.
fn read_lossy_name(tree: &Path, rel: &str) -> Option<Vec<u8>> {
    if !rel.contains('\u{fffd}') {
        return None;
    }
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = if dir.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(dir)
    };
    let mut matches = fs::read_dir(&dir).ok()?.flatten().filter(|e| {
        e.file_name().to_string_lossy() == name && e.file_type().is_ok_and(|t| t.is_file())
    });
    let only = matches.next()?;
    // Two names that read alike cannot be told apart: compare as printed instead.
    if matches.next().is_some() {
        return None;
    }
    fs::read(only.path()).ok()
}

/// The import path of the package whose compilation printed a raw finding (`# p` or
/// `# p [p.test]`).
fn compiling(r: &RawFinding) -> &str {
    r.block.split(' ').next().unwrap_or("")
}

/// What [`attribute`] made of raw findings.
#[derive(Debug, Default)]
pub struct Attributed {
    pub findings: Vec<Finding>,
    /// Findings in files outside the repository (standard library, module cache,
    /// generated code), which never fail the gate.
    pub outside: usize,
    /// The files of findings that could not be placed in the tree (see
    /// [`Finding::unplaced`]), as printed.
    pub unplaced: Vec<String>,
}

impl Attributed {
    fn add_unplaced(&mut self, r: RawFinding) {
        self.unplaced.push(r.file.clone());
        self.findings.push(Finding {
            package: compiling(&r).to_string(),
            file: r.file,
            line: r.line,
            column: r.column.unwrap_or(0),
            function: String::new(),
            kind: r.kind,
            message: r.message,
            expr: r.expr,
            source: String::new(),
            flow: r.flow.into_iter().map(FlowStep::plain).collect(),
            compiled_in: None,
            inlined_into: None,
            unplaced: true,
            hot: false,
            profile: None,
            platforms: Vec::new(),
        });
    }
}

/// Names, for each new finding that is a copy compiled into another function, the
/// inlined call that made it: a call of the finding's function, in the same compiling
/// package, on a head line the change touched (the new call that made a new copy of an
/// allocation at a line the change did not touch). Display only: the verdict does not
/// depend on it.
pub(super) fn inline_sites(
    repo: &Repo,
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
    diffs: &Diffs,
    new: &mut [Finding],
) {
    // A call `inlining call to CALLEE` inlines a finding's function F (or the function
    // a closure F belongs to: `Opt` for `Opt.func1`) when CALLEE is F or ends with `.F`
    // (`a.Opt`, `Use.Opt.func1`). The calls are indexed by compiling package and by
    // every name the callee can be written as (`a.(*T).M`: itself, `(*T).M`, `M`), so
    // that each finding looks its calls up instead of scanning every call: a large
    // change has thousands of each. Only the names after the last few dots are
    // indexed, so that a hostile name full of dots costs no more than its length; a
    // function nested deeper than that gets no inline site (display only).
    const MAX_DOTS: usize = 8;
    let mut by_name: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (n, c) in head.inline_calls.iter().enumerate() {
        let package = c.block.split(' ').next().unwrap_or("");
        let names = std::iter::once(c.callee.as_str()).chain(
            c.callee
                .rmatch_indices('.')
                .take(MAX_DOTS)
                .map(|(i, _)| &c.callee[i + 1..]),
        );
        for name in names {
            let list = by_name.entry((package, name)).or_default();
            if list.last() != Some(&n) {
                list.push(n);
            }
        }
    }
    let names_of = |f: &Finding| -> Vec<(String, String)> {
        if f.function.is_empty() || f.function == "init" {
            return Vec::new();
        }
        let package = f.compiling_package().to_string();
        let top = f
            .function
            .find(".func")
            .map_or(f.function.as_str(), |i| &f.function[..i]);
        let mut names = vec![(package.clone(), top.to_string())];
        if top != f.function {
            names.push((package, f.function.clone()));
        }
        names
    };
    let mut files: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut seen: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
    for f in new.iter() {
        for key in names_of(f) {
            if !seen.insert(key.clone()) {
                continue;
            }
            if let Some(list) = by_name.get(&(key.0.as_str(), key.1.as_str())) {
                files.extend(list.iter().map(|&n| head.inline_calls[n].file.as_str()));
            }
        }
    }
    if files.is_empty() {
        return;
    }
    let changed = changed_lines(repo, base, head, renames, diffs, files.iter().copied());
    // Per name, the first call on a touched line, and the first on a touched line at
    // another position than that one: a finding takes the first of its candidates that
    // is not at its own position, which is one of these.
    let position = |n: usize| {
        let c = &head.inline_calls[n];
        (c.file.as_str(), c.line)
    };
    let firsts: HashMap<(&str, &str), (usize, Option<usize>)> = by_name
        .iter()
        .filter_map(|(key, list)| {
            let mut touched = list.iter().copied().filter(|&n| {
                let (file, line) = position(n);
                changed.contains(file, line)
            });
            let first = touched.next()?;
            let other = touched.find(|&n| position(n) != position(first));
            Some((*key, (first, other)))
        })
        .collect();
    let mut indexes: HashMap<String, Option<FunctionIndex>> = HashMap::new();
    for f in new.iter_mut() {
        let own = (f.file.as_str(), f.line);
        let call = names_of(f)
            .iter()
            .filter_map(|(package, name)| firsts.get(&(package.as_str(), name.as_str())))
            .flat_map(|&(first, other)| [Some(first), other])
            .flatten()
            .filter(|&n| position(n) != own)
            .min();
        let Some(call) = call.map(|n| &head.inline_calls[n]) else {
            continue;
        };
        let index = indexes.entry(call.file.clone()).or_insert_with(|| {
            read_side(repo, head, &call.file).map(|text| FunctionIndex::new(text.as_bytes()))
        });
        let Some(index) = index else {
            continue;
        };
        f.inlined_into = Some(InlineSite {
            function: index.function_at(call.line, 0),
            file: call.file.clone(),
            line: call.line,
        });
    }
}

/// Which functions are hot paths ([`crate::matching::compare`] asks only about the few
/// findings left new): those the head marks (`//escape-gate:hot`, read with the source),
/// those a `hot:` entry of the ruling allowlist names, and those the base's version of
/// the file marks. The last keeps a head that deletes the directive, in the change that
/// moves an escape in, from loosening the gate without a word.
pub(super) struct HotPaths<'a> {
    repo: &'a Repo,
    base: &'a Side,
    renames: &'a HashMap<String, String>,
    config: &'a crate::allowlist::Config,
    /// The base's version of each head file asked about, indexed when it has the
    /// directive at all.
    base_files: std::cell::RefCell<HashMap<String, Option<FunctionIndex>>>,
}

impl<'a> HotPaths<'a> {
    pub(super) fn new(
        repo: &'a Repo,
        base: &'a Side,
        renames: &'a HashMap<String, String>,
        config: &'a crate::allowlist::Config,
    ) -> HotPaths<'a> {
        HotPaths {
            repo,
            base,
            renames,
            config,
            base_files: std::cell::RefCell::new(HashMap::new()),
        }
    }

    pub(super) fn is_hot(&self, f: &Finding) -> bool {
        if f.hot || self.config.is_hot(f) {
            return true;
        }
        if f.unplaced || f.function.is_empty() {
            return false;
        }
        let mut files = self.base_files.borrow_mut();
        let index = files.entry(f.file.clone()).or_insert_with(|| {
            let base_file = self
                .renames
                .get(&f.file)
                .map_or(f.file.as_str(), String::as_str);
            read_side(self.repo, self.base, base_file)
                .filter(|text| text.contains(crate::function::HOT_DIRECTIVE))
                .map(|text| FunctionIndex::new(text.as_bytes()))
        });
        index.as_ref().is_some_and(|i| i.is_hot(&f.function))
    }
}

/// The line alignment of each (base file, head file) pair a run asks about, each
/// computed once: the line maps, the touched lines of new escapes, of inlined calls and
/// of explained flows all come from the same diff of a file.
#[derive(Debug, Default)]
pub(crate) struct Diffs {
    memo: std::cell::RefCell<HashMap<FilePair, Option<std::rc::Rc<Alignment>>>>,
}

/// `(base file, head file)`.
type FilePair = (String, String);

impl Diffs {
    /// The alignment of `base_file` of `base` with `head_file` of `head`; `None` when
    /// either cannot be read.
    fn get(
        &self,
        repo: &Repo,
        base: &Side,
        head: &Side,
        base_file: &str,
        head_file: &str,
    ) -> Option<std::rc::Rc<Alignment>> {
        let key = (base_file.to_string(), head_file.to_string());
        if let Some(known) = self.memo.borrow().get(&key) {
            return known.clone();
        }
        let alignment = match (
            read_side(repo, base, base_file),
            read_side(repo, head, head_file),
        ) {
            (Some(base_text), Some(head_text)) => {
                Some(std::rc::Rc::new(Alignment::new(&base_text, &head_text)))
            }
            _ => None,
        };
        self.memo.borrow_mut().insert(key, alignment.clone());
        alignment
    }
}

/// Line maps for every base file that has findings, to its head counterpart.
pub(super) fn line_map(
    repo: &Repo,
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
    diffs: &Diffs,
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
        if let Some(alignment) = diffs.get(repo, base, head, base_file, head_file) {
            map.add_alignment(base_file, head_file, &alignment);
        }
    }
    map
}

/// The touched head lines of `head_files` (each once, however often it is named): lines
/// that are not the image of a base line (through `renames`, head path → base path).
pub(super) fn changed_lines<'a>(
    repo: &Repo,
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
    diffs: &Diffs,
    head_files: impl IntoIterator<Item = &'a str>,
) -> ChangedLines {
    let files: std::collections::BTreeSet<&str> = head_files.into_iter().collect();
    let mut changed = ChangedLines::new();
    for head_file in files {
        let base_file = renames.get(head_file).map_or(head_file, String::as_str);
        match diffs.get(repo, base, head, base_file, head_file) {
            Some(alignment) => changed.add_alignment(head_file, Some(&alignment)),
            // No base counterpart: touched throughout, if the head has the file.
            None if read_side(repo, head, head_file).is_some() => {
                changed.add_alignment(head_file, None)
            }
            None => {}
        }
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
