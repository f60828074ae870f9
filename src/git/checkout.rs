//! Checkout: writing a commit's tree (submodules included, LFS pointers refused) or
//! the working tree into a temporary directory, keeping only files a Go build reads.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use git2::{ObjectType, Oid, Repository, StatusOptions};

use crate::tree::{self, Source, SourceTree, TreePath, TreeWriter, WriteError};

use super::*;

impl Repo {
    /// Writes the files of `rev` that a build can read into `dest`, a directory of
    /// escape-gate's own that is replaced (or created; its parent must exist).
    ///
    /// Only `dest` is written, whatever the revision holds: every name is checked
    /// before use, every directory created here, every file created new, never
    /// through a link (see [`crate::tree`]). A tree that cannot be reproduced
    /// exactly is an error that names the path.
    pub fn materialise(&self, rev: &Revision, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            // The previous checkout of this run; a link in its place is removed, not
            // followed.
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(dest),
            Ok(_) => fs::remove_file(dest),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
        .with_context(|| format!("emptying {}", dest.display()))?;
        let mut out =
            TreeWriter::create(dest).with_context(|| format!("creating {}", dest.display()))?;
        match rev.commit {
            Some(oid) => self
                .write_commit(oid, &mut out)
                .with_context(|| format!("writing {} into its temporary tree", rev.label())),
            None => self
                .copy_working_tree(&mut out)
                .context("copying the working tree into a temporary tree"),
        }
    }

    fn write_commit(&self, oid: Oid, out: &mut TreeWriter) -> Result<()> {
        let tree = self
            .repo
            .find_commit(oid)?
            .tree()
            .map_err(|err| unparsable(oid, "its root directory", err))?;
        let entries = self.tree_entries(oid, tree, TreePath::root())?;
        let links: std::collections::HashSet<String> = entries
            .iter()
            .filter(|e| e.mode == 0o120000)
            .map(|e| e.path.to_slash_lossy())
            .collect();
        for entry in entries.iter().filter(|e| e.mode == 0o120000) {
            let target = self
                .repo
                .find_blob(entry.id)
                .map(|b| String::from_utf8_lossy(b.content()).into_owned())
                .with_context(|| format!("reading {}", entry.path))?;
            let path = entry.path.to_slash_lossy();
            let dir: Vec<String> = match path.rsplit_once('/') {
                Some((dir, _)) => dir.split('/').map(str::to_string).collect(),
                None => Vec::new(),
            };
            if let Some(crossed) = tree::through_link(&dir, &target, &links) {
                bail!(
                    "{} in commit {oid} is a symbolic link to {} through the link {crossed}: \
                     only a path that never passes through a link can be checked to stay \
                     inside the repository\n\
                     hint: point the link at the file itself, not through another link",
                    entry.path,
                    tree::printable(target.as_bytes())
                );
            }
        }
        let mut embeds = false;
        let mut deferred = Vec::new();
        for entry in entries {
            match build_use(&entry.path.to_slash_lossy()) {
                BuildUse::Never => continue,
                BuildUse::IfEmbedded => {
                    deferred.push(entry);
                    continue;
                }
                BuildUse::Always => {}
            }
            let content = self.write_entry(oid, &entry, out)?;
            embeds |= entry.path.to_slash_lossy().ends_with(".go") && has_embed(&content);
        }
        if embeds {
            for entry in deferred {
                self.write_entry(oid, &entry, out)?;
            }
        }
        Ok(())
    }

    /// Every file and link of a commit's tree, each name checked on its own: no `..`,
    /// `.`, `.git` or separator, no name twice in one directory (which a tree made by
    /// hand can hold), nothing deeper than `MAX_DEPTH` (`tree`).
    fn tree_entries(
        &self,
        commit: Oid,
        tree: git2::Tree<'_>,
        at: TreePath,
    ) -> Result<Vec<TreeEntry>> {
        let mut entries = Vec::new();
        // Each submodule commit is written once: a head can record a gitlink to any
        // commit this clone has, its own included, and a loop or many links to one
        // large commit would otherwise write without end.
        let mut submodules: std::collections::HashSet<Oid> = std::collections::HashSet::new();
        let mut pending = vec![(at, tree)];
        while let Some((dir, tree)) = pending.pop() {
            let mut seen: HashMap<Vec<u8>, &'static str> = HashMap::new();
            for entry in tree.iter() {
                let name = entry.name_bytes();
                let path = dir.join(name).map_err(|err| {
                    unfaithful(
                        commit,
                        &format!("its tree has the entry `{}`: {}", err.path, err.problem),
                    )
                })?;
                let kind = match entry.kind() {
                    Some(ObjectType::Tree) => "a directory",
                    Some(ObjectType::Blob) if entry.filemode() == 0o120000 => "a symbolic link",
                    Some(ObjectType::Blob) => "a file",
                    Some(ObjectType::Commit) => "a submodule",
                    _ => "an object of another kind",
                };
                if let Some(first) = seen.insert(name.to_vec(), kind) {
                    return Err(unfaithful(
                        commit,
                        &format!("`{path}` is in its tree twice, as {first} and as {kind}"),
                    ));
                }
                match entry.kind() {
                    Some(ObjectType::Tree) => {
                        let sub = self.repo.find_tree(entry.id()).map_err(|err| {
                            unparsable(commit, &format!("the directory `{path}`"), err)
                        })?;
                        pending.push((path, sub));
                    }
                    Some(ObjectType::Blob) => entries.push(TreeEntry {
                        path,
                        id: entry.id(),
                        mode: entry.filemode(),
                    }),
                    // A submodule: its tree at the recorded commit, when this clone
                    // has the commit (`git submodule update` puts a submodule's
                    // objects in .git/modules, which `Repo::open` makes readable).
                    // Without it, the directory stays empty, and
                    // `Repo::missing_submodules` says so.
                    Some(ObjectType::Commit) => {
                        if let Ok(sub) = self.repo.find_commit(entry.id()) {
                            if entry.id() == commit || !submodules.insert(entry.id()) {
                                return Err(anyhow!(
                                    "commit {commit}: the submodule `{path}` records commit {}, \
                                     which this checkout already holds (a submodule loop, or \
                                     one commit recorded twice)\n\
                                     hint: a real submodule records a commit of another \
                                     repository; see it with `git ls-tree {commit} {path}`",
                                    entry.id()
                                ));
                            }
                            if submodules.len() > MAX_SUBMODULES {
                                return Err(anyhow!(
                                    "commit {commit} records more than {MAX_SUBMODULES} \
                                     submodules; escape-gate checks out at most that many\n\
                                     hint: compare a revision with fewer submodules"
                                ));
                            }
                            let tree = sub.tree().map_err(|err| {
                                unparsable(commit, &format!("the submodule `{path}`"), err)
                            })?;
                            pending.push((path, tree));
                        }
                    }
                    _ => {
                        return Err(unfaithful(
                            commit,
                            &format!("`{path}` is {kind}, neither a file nor a directory"),
                        ))
                    }
                }
            }
        }
        Ok(entries)
    }

    /// Writes one blob as a file or a link; returns the file's content.
    fn write_entry(&self, commit: Oid, entry: &TreeEntry, out: &mut TreeWriter) -> Result<Vec<u8>> {
        let blob = self
            .repo
            .find_blob(entry.id)
            .with_context(|| format!("reading {}", entry.path))?;
        let name = entry.path.to_slash_lossy();
        if is_lfs_pointer(&name, blob.content()) {
            return Err(anyhow!(
                "{name} in commit {commit} is a Git LFS pointer, not the file: escape-gate \
                 reads git's objects, not the LFS store, and the Go build needs the file \
                 itself\n\
                 hint: keep Go source and module files out of LFS (`git lfs untrack`, then \
                 `git add --renormalize .`); escape-gate cannot compare this commit"
            ));
        }
        let written = if entry.mode == 0o120000 {
            if is_module_file(&entry.path) {
                return Err(linked_module_file(
                    &entry.path,
                    &format!("in commit {commit}"),
                ));
            }
            let depth = entry.path.components().len().saturating_sub(1);
            if link_leaves(depth, blob.content()) {
                return Err(anyhow!(
                    "{} in commit {commit} is a symbolic link to {}, outside the repository: go \
                     would read a file of this machine as part of the build, and print what it \
                     holds in a compile error\n\
                     hint: links inside the repository are reproduced; commit the file itself \
                     instead of a link out of the repository",
                    entry.path,
                    tree::printable(blob.content())
                ));
            }
            out.symlink(&entry.path, blob.content())
        } else {
            out.file(&entry.path, &mut blob.content(), entry.mode == 0o100755)
        };
        written.map_err(|err| not_written(commit, err))?;
        Ok(if entry.mode == 0o120000 {
            Vec::new()
        } else {
            blob.content().to_vec()
        })
    }

    /// The submodules of `rev` whose recorded commit this clone does not have: their
    /// directories are empty in escape-gate's checkout. For the working tree, the
    /// commits the index records.
    pub fn missing_submodules(&self, rev: &Revision) -> Vec<String> {
        let mut missing = Vec::new();
        match rev.commit {
            Some(commit) => {
                let Ok(tree) = self.repo.find_commit(commit).and_then(|c| c.tree()) else {
                    return missing;
                };
                // Nested submodules of a submodule that is here are walked too.
                let mut pending = vec![(String::new(), tree)];
                while let Some((dir, tree)) = pending.pop() {
                    for entry in tree.iter() {
                        let path = format!("{dir}{}", String::from_utf8_lossy(entry.name_bytes()));
                        match entry.kind() {
                            Some(ObjectType::Tree) => {
                                if let Ok(sub) = self.repo.find_tree(entry.id()) {
                                    pending.push((format!("{path}/"), sub));
                                }
                            }
                            Some(ObjectType::Commit) => {
                                match self.repo.find_commit(entry.id()).and_then(|c| c.tree()) {
                                    Ok(sub) => pending.push((format!("{path}/"), sub)),
                                    Err(_) => missing.push(path),
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            None => {
                if let Ok(index) = self.repo.index() {
                    for entry in index.iter().filter(|e| e.mode == 0o160000) {
                        if self.repo.find_commit(entry.id).is_err() {
                            missing.push(String::from_utf8_lossy(&entry.path).into_owned());
                        }
                    }
                }
            }
        }
        missing.sort();
        missing
    }

    /// Copies tracked files as they are on disk now, plus untracked files that are not
    /// ignored: what `git add -A && git commit` would record, without doing it.
    ///
    /// Files are read as git sees them: a tracked path below a directory that a link
    /// has replaced is not a file of the working tree (`git status` calls it deleted),
    /// so nothing is read through a link inside the repository; a link is copied as a
    /// link, with its target as written; sources are only opened for reading.
    fn copy_working_tree(&self, out: &mut TreeWriter) -> Result<()> {
        let index = self.repo.index().context("reading the index")?;
        let mut paths: Vec<String> = Vec::new();
        let mut submodules = Vec::new();
        for entry in index.iter() {
            // Gitlinks (submodules) are another repository: written below at the
            // commit the index records, when this clone has it.
            if entry.mode == 0o160000 {
                submodules.push((String::from_utf8_lossy(&entry.path).into_owned(), entry.id));
                continue;
            }
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
        let mut opts = StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .exclude_submodules(true);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .context("listing untracked files")?;
        for status in statuses.iter() {
            if status.status().is_wt_new() {
                if let Ok(path) = status.path() {
                    // `sub/`: a repository of its own inside this one, not its files.
                    if !path.ends_with('/') {
                        paths.push(path.to_string());
                    }
                }
            }
        }
        paths.sort();
        paths.dedup();
        let mut files = Vec::new();
        for rel in paths {
            let path = TreePath::parse(&rel).map_err(|err| {
                anyhow!(
                    "`{}` in the index or the working tree cannot be a file in a tree: {}\n\
                     hint: git itself would not check it out; remove it from the index with \
                     `git rm --cached`, and look at how it got there",
                    err.path,
                    err.problem
                )
            })?;
            files.push(path);
        }
        let mut source = SourceTree::open(&self.root)
            .with_context(|| format!("opening {}", self.root.display()))?;
        let mut embeds = false;
        let mut deferred = Vec::new();
        for path in files {
            match build_use(&path.to_slash_lossy()) {
                BuildUse::Never => continue,
                BuildUse::IfEmbedded => {
                    deferred.push(path);
                    continue;
                }
                BuildUse::Always => {}
            }
            embeds |= copy_source(&mut source, &path, out)?;
        }
        if embeds {
            for path in deferred {
                copy_source(&mut source, &path, out)?;
            }
        }
        for (rel, id) in submodules {
            let Ok(commit) = self.repo.find_commit(id) else {
                continue;
            };
            let at = TreePath::parse(&rel).map_err(|err| {
                anyhow!(
                    "the submodule `{}` cannot be a directory in a tree: {}",
                    err.path,
                    err.problem
                )
            })?;
            let tree = commit
                .tree()
                .map_err(|err| unparsable(id, &format!("the submodule `{rel}`"), err))?;
            for entry in self.tree_entries(id, tree, at)? {
                if build_use(&entry.path.to_slash_lossy()) != BuildUse::Never {
                    self.write_entry(id, &entry, out)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether `go build` can read a file: `_test.go` files never (only `go test` does);
/// files under `testdata` only through `//go:embed`; everything else may be a source,
/// an assembly or cgo file, a module file, or embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BuildUse {
    Always,
    IfEmbedded,
    Never,
}

pub(super) fn build_use(rel: &str) -> BuildUse {
    if rel.ends_with("_test.go") {
        BuildUse::Never
    } else if rel.split('/').any(|part| part == "testdata") {
        BuildUse::IfEmbedded
    } else {
        BuildUse::Always
    }
}

pub(super) fn has_embed(content: &[u8]) -> bool {
    content.windows(10).any(|w| w == b"//go:embed")
}

/// One file or link of a commit's tree.
#[derive(Debug)]
struct TreeEntry {
    path: TreePath,
    id: Oid,
    mode: i32,
}

/// The most submodules one checkout writes (nested ones included).
const MAX_SUBMODULES: usize = 256;

/// Whether a blob is a Git LFS pointer standing for a file the Go build reads (a `.go`
/// file or a module file): a commit that holds one cannot be checked out faithfully.
fn is_lfs_pointer(path: &str, content: &[u8]) -> bool {
    (path.ends_with(".go") || crate::modules::is_module_file(path))
        && content.len() < 1024
        && content.starts_with(b"version https://git-lfs.github.com/spec/v1\n")
}

/// Makes the objects of the repository's submodules (`.git/modules/NAME`, where `git
/// submodule update` keeps them, nested submodules included) readable through this
/// repository's object database, in memory only: nothing is written to the user's
/// repository.
pub(super) fn add_submodule_objects(repo: &Repository) {
    let Ok(odb) = repo.odb() else {
        return;
    };
    let mut pending = vec![(repo.path().join("modules"), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if depth > 8 {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            let objects = path.join("objects");
            if objects.join("info").is_dir() || objects.join("pack").is_dir() {
                // A submodule's repository; its own submodules are in its `modules`.
                let _ = odb.add_disk_alternate(&objects.to_string_lossy());
                pending.push((path.join("modules"), depth + 1));
            } else {
                // A submodule name with slashes (`lib/sub`) is nested directories.
                pending.push((path, depth + 1));
            }
        }
    }
}

/// A commit whose tree git itself would not check out.
fn unfaithful(commit: Oid, what: &str) -> anyhow::Error {
    anyhow!(
        "commit {commit} cannot be reproduced faithfully: {what}\n\
         hint: git refuses to check out such a tree, so the commit was made by hand \
         (`git hash-object --literally`, `git mktree`) or is damaged; escape-gate writes \
         nothing it cannot reproduce exactly. See it with `git ls-tree -r {commit}`, \
         and compare other revisions"
    )
}

/// A directory of a commit that libgit2 cannot read: a crafted tree (an empty name, a
/// bad mode) is one git would refuse too.
fn unparsable(commit: Oid, what: &str, err: git2::Error) -> anyhow::Error {
    if err.class() == git2::ErrorClass::Tree {
        unfaithful(
            commit,
            &format!("{what} cannot be parsed ({})", err.message()),
        )
    } else {
        anyhow!(
            "reading {what} of commit {commit}: {}\n\
             hint: the repository may be damaged or missing objects (`git fsck` says which)",
            err.message()
        )
    }
}

/// A write into the temporary tree that failed, for a commit.
fn not_written(commit: Oid, err: WriteError) -> anyhow::Error {
    match err {
        WriteError::Io { .. } => anyhow::Error::new(err),
        WriteError::Exists(_) | WriteError::NotADirectory { .. } => anyhow!(
            "commit {commit} cannot be reproduced faithfully: {err}\n\
             hint: the tree holds names that are one file on this file system (they differ \
             only in case or Unicode normalisation), which git cannot check out here \
             either; see them with `git ls-tree -r {commit}`, and compare other revisions"
        ),
    }
}

/// Copies one path of the working tree as git sees it; returns whether it is Go source
/// with a `//go:embed` directive.
fn copy_source(source: &mut SourceTree, path: &TreePath, out: &mut TreeWriter) -> Result<bool> {
    let found = source
        .get(path)
        .with_context(|| format!("reading {path} in the working tree"))?;
    let not_copied = |err: WriteError| {
        anyhow!(
            "{path} cannot be copied faithfully: {err}\n\
             hint: escape-gate copies the working tree into a directory of its own and never \
             writes through a link; commit or stash the change and compare commits"
        )
    };
    match found {
        // Gone, below a link, or a directory now: no file of the working tree, as git
        // sees it; its files, if any, are listed on their own.
        Source::Missing | Source::BeyondLink { .. } | Source::Directory => Ok(false),
        Source::Link(_) if is_module_file(path) => {
            Err(linked_module_file(path, "in the working tree"))
        }
        Source::Link(target) => {
            out.symlink(path, &target).map_err(not_copied)?;
            Ok(false)
        }
        Source::File {
            mut file,
            executable,
        } => {
            if path.to_slash_lossy().ends_with(".go") {
                let mut content = Vec::new();
                file.read_to_end(&mut content)
                    .with_context(|| format!("reading {path} in the working tree"))?;
                out.file(path, &mut content.as_slice(), executable)
                    .map_err(not_copied)?;
                Ok(has_embed(&content))
            } else {
                out.file(path, &mut file, executable).map_err(not_copied)?;
                Ok(false)
            }
        }
        Source::Special => bail!(
            "{path} in the working tree is a FIFO, a socket or a device, not a file git can \
             record\n\
             hint: remove it, or restore the tracked file with `git checkout -- {path}`"
        ),
    }
}
