//! The "Resolve" and "Materialise" stages: rev-specs in, [`Revision`]s out; a revision
//! in, a checkout (a temporary directory holding exactly its files) out.
//!
//! Everything here only reads the user's repository: no index write, no ref, no
//! worktree entry, no object. The working tree is a pseudo-revision whose files are
//! copied from disk (tracked files as they are now, plus untracked files that are not
//! ignored), so uncommitted work is seen without being committed anywhere.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use git2::{ObjectType, Oid, Repository, StatusOptions};

use crate::tree_path::{self, Source, SourceTree, TreePath, TreeWriter, WriteError};

/// A resolved revision: a commit, or the working tree of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// What the user asked for (`main`, `HEAD~2`, `1a2b3c4`), or how it was chosen.
    pub spec: String,
    /// `None` for the working tree.
    pub commit: Option<Oid>,
}

impl Revision {
    pub fn working_tree() -> Revision {
        Revision {
            spec: "working tree".to_string(),
            commit: None,
        }
    }

    pub fn is_working_tree(&self) -> bool {
        self.commit.is_none()
    }

    /// A short label for messages: `main (1a2b3c4)` or `working tree`.
    pub fn label(&self) -> String {
        match self.commit {
            None => self.spec.clone(),
            Some(oid) => {
                let short = short_oid(oid);
                if self.spec.starts_with(&short) {
                    short
                } else {
                    format!("{} ({short})", self.spec)
                }
            }
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

pub fn short_oid(oid: Oid) -> String {
    let s = oid.to_string();
    s[..s.len().min(10)].to_string()
}

/// The user's repository, opened read-only in spirit.
pub struct Repo {
    repo: Repository,
    root: PathBuf,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repo").field("root", &self.root).finish()
    }
}

impl Repo {
    /// Finds the repository containing `dir`. A repository libgit2 cannot read
    /// because it uses SHA-256 object ids is an [`Unsupported`] error, so that callers
    /// (the hook) can tell it from every other failure.
    pub fn open(dir: &Path) -> Result<Repo> {
        let repo = Repository::discover(dir).map_err(|err| {
            if let Some(format) = object_format(dir).filter(|f| f != "sha1") {
                return anyhow::Error::new(Unsupported {
                    dir: dir.to_path_buf(),
                    object_format: format,
                    message: err.message().to_string(),
                });
            }
            anyhow!(
                "{} is not inside a git repository ({})\n\
                 hint: run escape-gate inside a clone of your Go repository, or pass --repo DIR",
                dir.display(),
                err.message()
            )
        })?;
        let root = repo
            .workdir()
            .ok_or_else(|| {
                anyhow!(
                    "{} is a bare repository; escape-gate needs a clone with a working tree\n\
                     hint: clone it (`git clone {} checkout`) and run escape-gate there",
                    repo.path().display(),
                    repo.path().display()
                )
            })?
            .to_path_buf();
        add_submodule_objects(&repo);
        Ok(Repo { repo, root })
    }

    /// The top directory of the working tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a rev-spec to a commit, with a hint when the commit is simply not in
    /// this clone (a shallow checkout in CI is the usual cause).
    pub fn resolve(&self, spec: &str) -> Result<Revision> {
        match self
            .repo
            .revparse_single(spec)
            .and_then(|obj| obj.peel_to_commit())
        {
            Ok(commit) => Ok(Revision {
                spec: spec.to_string(),
                commit: Some(commit.id()),
            }),
            Err(err) => {
                let mut msg = format!("unknown revision `{spec}`: {}", err.message());
                if self.repo.is_shallow() {
                    msg.push_str(
                        "\nhint: this is a shallow clone, so the commit may exist but not be here; \
                         fetch the history with `git fetch --unshallow` \
                         (GitHub Actions: `fetch-depth: 0` on actions/checkout)",
                    );
                } else if is_hex(spec) {
                    msg.push_str(&format!(
                        "\nhint: the commit is not in this clone; fetch it with `git fetch origin {spec}`"
                    ));
                } else {
                    msg.push_str(
                        "\nhint: name a branch, tag or commit that exists here (see `git log --oneline`)",
                    );
                }
                Err(anyhow!(msg))
            }
        }
    }

    /// The commit `HEAD` points at.
    pub fn head_commit(&self) -> Result<Oid> {
        let head = self.repo.head().map_err(|err| {
            anyhow!(
                "the repository has no commit at HEAD yet ({})\nhint: commit once, or name the revisions to compare",
                err.message()
            )
        })?;
        Ok(head
            .peel_to_commit()
            .context("resolving HEAD to a commit")?
            .id())
    }

    /// The default base: the merge-base of `head` with the upstream of the current
    /// branch, else with `origin/HEAD`, `main` or `master`, in that order.
    pub fn default_base(&self, head: &Revision) -> Result<Revision> {
        let head_oid = match head.commit {
            Some(oid) => oid,
            None => self.head_commit()?,
        };
        let mut candidates: Vec<(String, Oid)> = Vec::new();
        if let Ok(head_ref) = self.repo.head() {
            if head_ref.is_branch() {
                if let Ok(name) = head_ref.shorthand() {
                    if let Ok(branch) = self.repo.find_branch(name, git2::BranchType::Local) {
                        if let Ok(upstream) = branch.upstream() {
                            if let (Some(up_name), Some(oid)) =
                                (upstream.name().ok().flatten(), upstream.get().target())
                            {
                                candidates.push((up_name.to_string(), oid));
                            }
                        }
                    }
                }
            }
        }
        for name in [
            "refs/remotes/origin/HEAD",
            "refs/heads/main",
            "refs/heads/master",
        ] {
            if let Ok(reference) = self.repo.find_reference(name) {
                if let Ok(commit) = reference.peel_to_commit() {
                    let short = name
                        .trim_start_matches("refs/remotes/")
                        .trim_start_matches("refs/heads/");
                    candidates.push((short.to_string(), commit.id()));
                }
            }
        }
        for (name, oid) in &candidates {
            if let Ok(base) = self.repo.merge_base(head_oid, *oid) {
                return Ok(Revision {
                    spec: format!("merge-base with {name}"),
                    commit: Some(base),
                });
            }
        }
        bail!(
            "could not choose a base revision: the current branch has no upstream and there is no \
             origin/HEAD, main or master sharing history with {}\n\
             hint: name the base explicitly: `escape-gate diff BASE`",
            head.label()
        )
    }

    /// Whether `spec` names a commit present in this repository.
    pub fn has_commit(&self, spec: &str) -> bool {
        self.repo
            .revparse_single(spec)
            .and_then(|obj| obj.peel_to_commit())
            .is_ok()
    }

    /// The merge-base of `head` with the first of `candidates` (full ref names) that
    /// exists and shares history with it, with the ref's name.
    pub fn merge_base_with_any(&self, head: &str, candidates: &[String]) -> Option<(String, Oid)> {
        let head = self
            .repo
            .revparse_single(head)
            .ok()?
            .peel_to_commit()
            .ok()?
            .id();
        candidates.iter().find_map(|name| {
            let target = self
                .repo
                .find_reference(name)
                .ok()?
                .peel_to_commit()
                .ok()?
                .id();
            let base = self.repo.merge_base(head, target).ok()?;
            Some((name.clone(), base))
        })
    }

    /// Whether the commit is a Go repository by [`crate::modules`]' rule: the same rule
    /// the build uses, so the hook never refuses a push because it disagrees with the
    /// build about where the modules are.
    pub fn has_go_module(&self, spec: &str) -> Result<bool> {
        let commit = self.repo.revparse_single(spec)?.peel_to_commit()?.id();
        Ok(!self.go_modules(commit)?.is_empty())
    }

    /// The modules of a commit, by [`crate::modules`]' rule.
    pub fn go_modules(&self, commit: Oid) -> Result<Vec<crate::modules::Module>> {
        let files = self.go_module_files(commit)?;
        let read = |path: &str| {
            self.read_file(commit, path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        Ok(crate::modules::discover(&files, &read)?)
    }

    /// Writes the files of `rev` that a build can read into `dest`, a directory of
    /// escape-gate's own that is replaced (or created; its parent must exist).
    ///
    /// Only `dest` is written, whatever the revision holds: every name is checked
    /// before use, every directory created here, every file created new, never
    /// through a link (see [`crate::tree_path`]). A tree that cannot be reproduced
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
            if let Some(crossed) = tree_path::through_link(&dir, &target, &links) {
                bail!(
                    "{} in commit {oid} is a symbolic link to {} through the link {crossed}: \
                     only a path that never passes through a link can be checked to stay \
                     inside the repository\n\
                     hint: point the link at the file itself, not through another link",
                    entry.path,
                    tree_path::printable(target.as_bytes())
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
    /// hand can hold), nothing deeper than [`crate::tree_path::MAX_DEPTH`].
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
                    tree_path::printable(blob.content())
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

    /// The content of `path` in `commit`, if it is a file there.
    /// A symbolic link is not a file here: its blob is the link's target, not content.
    /// A file larger than [`MAX_BLOB_READ`] is not read (its size is looked up first).
    pub fn read_file(&self, commit: Oid, path: &str) -> Option<Vec<u8>> {
        let size = self.file_size(commit, path)?;
        if size > MAX_BLOB_READ {
            return None;
        }
        let tree = self.repo.find_commit(commit).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some(blob.content().to_vec())
    }

    /// The size of the regular file `path` in `commit`, from the object's header,
    /// without reading it.
    pub fn file_size(&self, commit: Oid, path: &str) -> Option<u64> {
        let tree = self.repo.find_commit(commit).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        if !matches!(entry.filemode(), 0o100644 | 0o100755 | 0o100664) {
            return None;
        }
        let (size, _) = self.repo.odb().ok()?.read_header(entry.id()).ok()?;
        Some(size as u64)
    }

    /// Whether `commit` has anything (file, link, directory, submodule) at `path`.
    pub fn has_path(&self, commit: Oid, path: &str) -> bool {
        self.repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .is_ok_and(|tree| tree.get_path(Path::new(path)).is_ok())
    }

    /// The repository-relative paths of the `.go` files of `commit` (regular files, not
    /// links, outside submodules).
    pub fn go_files(&self, commit: Oid) -> Result<Vec<String>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if matches!(entry.filemode(), 0o100644 | 0o100755) {
                if let Some(name) = entry.name().ok().filter(|n| n.ends_with(".go")) {
                    out.push(format!("{dir}{name}"));
                }
            }
            git2::TreeWalkResult::Ok
        })?;
        Ok(out)
    }

    /// The default branch (`origin/HEAD`, `origin/main`, `origin/master`, `main`,
    /// `master`, the first that exists) when `commit` is in its history: what has
    /// merged. `ESCAPE_GATE_DEFAULT_BRANCH`, when set, names it first (the Action sets
    /// the repository's), as `origin/NAME` or `NAME`.
    pub fn default_branch_containing(&self, commit: Oid) -> Option<String> {
        let mut names: Vec<String> = Vec::new();
        if let Some(name) = std::env::var("ESCAPE_GATE_DEFAULT_BRANCH")
            .ok()
            .filter(|n| !n.trim().is_empty())
        {
            names.push(format!("refs/remotes/origin/{name}"));
            names.push(format!("refs/heads/{name}"));
        }
        names.extend(
            [
                "refs/remotes/origin/HEAD",
                "refs/remotes/origin/main",
                "refs/remotes/origin/master",
                "refs/heads/main",
                "refs/heads/master",
            ]
            .map(String::from),
        );
        let (name, tip) = names.iter().find_map(|name| {
            // `origin/HEAD` is named by the branch it points at.
            let reference = self.repo.find_reference(name).ok()?.resolve().ok()?;
            let tip = reference.peel_to_commit().ok()?.id();
            Some((reference.name().ok()?.to_string(), tip))
        })?;
        let contains = tip == commit || self.repo.graph_descendant_of(tip, commit).unwrap_or(false);
        let short = name
            .trim_start_matches("refs/remotes/")
            .trim_start_matches("refs/heads/");
        contains.then(|| short.to_string())
    }

    /// Whether `path` lies inside a submodule of `commit` (a directory above it is a
    /// gitlink), whose files this repository's objects do not hold.
    pub fn under_submodule(&self, commit: Oid, path: &str) -> bool {
        let Ok(tree) = self.repo.find_commit(commit).and_then(|c| c.tree()) else {
            return false;
        };
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match tree.get_path(Path::new(&prefix)) {
                Ok(entry) if entry.filemode() == 0o160000 => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// The id of the tree of `commit`: the same content has the same id, whatever the
    /// commit, so it keys what was computed from the content.
    pub fn tree_id(&self, commit: Oid) -> Result<Oid> {
        Ok(self.repo.find_commit(commit)?.tree_id())
    }

    /// Whether a commit holds a symbolic link that leaves the repository (absolute, or
    /// climbing above its root): content its tree id does not cover.
    pub fn links_outside(&self, commit: Oid) -> Result<bool> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let mut found = false;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.filemode() == 0o120000 {
                if let Ok(blob) = self.repo.find_blob(entry.id()) {
                    if link_leaves(dir.matches('/').count(), blob.content()) {
                        found = true;
                        return git2::TreeWalkResult::Abort;
                    }
                }
            }
            git2::TreeWalkResult::Ok
        })
        .or_else(|err| if found { Ok(()) } else { Err(err) })?;
        Ok(found)
    }

    /// The `go.mod` files of a commit outside the directories `./...` skips, the root
    /// `go.work`, and the `go.mod` of every directory that go.work uses: every module
    /// file a build of the commit reads, with its path and text.
    pub fn go_module_files(&self, commit: Oid) -> Result<Vec<(String, String)>> {
        let tree = self.repo.find_commit(commit)?.tree()?;
        let mut files = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or_default();
            if entry.kind() == Some(ObjectType::Tree) && crate::modules::is_skipped_dir(name) {
                return git2::TreeWalkResult::Skip;
            }
            let path = format!("{dir}{name}");
            if crate::modules::is_module_file(&path) && entry.kind() == Some(ObjectType::Blob) {
                if let Some(bytes) = self.read_file(commit, &path) {
                    files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            git2::TreeWalkResult::Ok
        })?;
        let work = files
            .iter()
            .find(|(path, _)| path == "go.work")
            .map(|(_, text)| crate::modules::work_uses(text))
            .unwrap_or_default();
        for dir in work {
            let path = if dir.is_empty() {
                "go.mod".to_string()
            } else {
                format!("{dir}/go.mod")
            };
            if files.iter().all(|(p, _)| p != &path) {
                if let Some(bytes) = self.read_file(commit, &path) {
                    files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        Ok(files)
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

    /// What changed between the two revisions: every path added, removed, modified or
    /// renamed (both names of a rename), and the renames as head path → base path, by
    /// git's rename detection.
    pub fn changes(&self, base: &Revision, head: &Revision) -> Result<Changes> {
        let diff = self.diff(base, head).map_err(|err| {
            // libgit2 reads subtrees as the diff needs them: a tree it cannot parse
            // (an empty name, a bad mode) shows up here first.
            let hint = if err.class() == git2::ErrorClass::Tree {
                "\nhint: one of them holds a tree git would not accept, made by hand \
                 (`git hash-object --literally`) or damaged; `git fsck` names it. Compare \
                 other revisions"
            } else {
                ""
            };
            anyhow!(
                "comparing {} with {}: {}{hint}",
                base.label(),
                head.label(),
                err.message()
            )
        })?;
        let Some(mut diff) = diff else {
            return Ok(Changes::default());
        };
        let mut find = git2::DiffFindOptions::new();
        find.renames(true).for_untracked(true);
        diff.find_similar(Some(&mut find))
            .context("detecting renamed files")?;
        let mut changes = Changes::default();
        for delta in diff.deltas() {
            let old = delta.old_file().path().map(slash_path);
            let new = delta.new_file().path().map(slash_path);
            if delta.status() == git2::Delta::Renamed {
                if let (Some(old), Some(new)) = (&old, &new) {
                    changes.renames.insert(new.clone(), old.clone());
                }
            }
            let gitlink = |f: git2::DiffFile<'_>| f.mode() == git2::FileMode::Commit;
            if gitlink(delta.old_file()) || gitlink(delta.new_file()) {
                changes
                    .submodules
                    .extend(new.clone().or_else(|| old.clone()));
            }
            changes.paths.extend(old);
            changes.paths.extend(new);
        }
        changes.submodules.sort();
        changes.submodules.dedup();
        changes.paths.sort();
        changes.paths.dedup();
        Ok(changes)
    }

    /// git's diff of the two revisions, `None` when neither is a commit.
    fn diff(
        &self,
        base: &Revision,
        head: &Revision,
    ) -> Result<Option<git2::Diff<'_>>, git2::Error> {
        let base_tree = match base.commit {
            Some(oid) => Some(self.repo.find_commit(oid)?.tree()?),
            None => None,
        };
        let mut opts = git2::DiffOptions::new();
        let diff = match (&base_tree, head.commit) {
            (_, Some(oid)) => {
                let head_tree = self.repo.find_commit(oid)?.tree()?;
                self.repo.diff_tree_to_tree(
                    base_tree.as_ref(),
                    Some(&head_tree),
                    Some(&mut opts),
                )?
            }
            (Some(tree), None) => {
                opts.include_untracked(true)
                    .recurse_untracked_dirs(true)
                    .show_untracked_content(true);
                self.repo
                    .diff_tree_to_workdir_with_index(Some(tree), Some(&mut opts))?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(diff))
    }
}

/// The largest file [`Repo::read_file`] reads from a commit: sources for line maps and
/// allowlists are far smaller; a crafted blob is not loaded whole.
pub const MAX_BLOB_READ: u64 = 64 * 1024 * 1024;

/// A repository whose object format libgit2 cannot read (SHA-256).
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the repository at {}: it uses {object_format} object ids, which libgit2 (how \
     escape-gate reads repositories) does not support yet ({message})\n\
     hint: use escape-gate on a SHA-1 clone of the repository",
    dir.display()
)]
pub struct Unsupported {
    pub dir: PathBuf,
    /// `extensions.objectformat` of the repository's config, e.g. `sha256`.
    pub object_format: String,
    pub message: String,
}

/// The `extensions.objectformat` of the repository containing `dir` (the nearest
/// `.git` directory, or the one a `.git` file names), read from its config file
/// directly, since libgit2 refuses to open such repositories.
fn object_format(dir: &Path) -> Option<String> {
    let start = dir.canonicalize().ok()?;
    let git_dir = start.ancestors().find_map(|d| {
        let dot_git = d.join(".git");
        let meta = fs::symlink_metadata(&dot_git).ok()?;
        if meta.is_dir() {
            return Some(dot_git);
        }
        // A worktree or submodule: `gitdir: PATH`.
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.strip_prefix("gitdir:")?.trim();
        Some(d.join(target))
    })?;
    let config = fs::read_to_string(git_dir.join("config")).ok()?;
    let mut in_extensions = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_extensions = line
                .trim_matches(['[', ']'])
                .trim()
                .eq_ignore_ascii_case("extensions");
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if in_extensions && key.trim().eq_ignore_ascii_case("objectformat") {
                return Some(value.trim().to_ascii_lowercase());
            }
        }
    }
    None
}

/// See [`Repo::changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Repository-relative, `/`-separated, sorted.
    pub paths: Vec<String>,
    /// Head path → base path.
    pub renames: HashMap<String, String>,
    /// Submodules (gitlinks) added, removed or moved to another commit.
    pub submodules: Vec<String>,
}

/// Whether `go build` can read a file: `_test.go` files never (only `go test` does);
/// files under `testdata` only through `//go:embed`; everything else may be a source,
/// an assembly or cgo file, a module file, or embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildUse {
    Always,
    IfEmbedded,
    Never,
}

fn build_use(rel: &str) -> BuildUse {
    if rel.ends_with("_test.go") {
        BuildUse::Never
    } else if rel.split('/').any(|part| part == "testdata") {
        BuildUse::IfEmbedded
    } else {
        BuildUse::Always
    }
}

fn has_embed(content: &[u8]) -> bool {
    content.windows(10).any(|w| w == b"//go:embed")
}

fn slash_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn is_hex(spec: &str) -> bool {
    spec.len() >= 7 && spec.chars().all(|c| c.is_ascii_hexdigit())
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
fn add_submodule_objects(repo: &Repository) {
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

/// Whether a link `depth` directories below the root whose target is `target` points
/// outside the tree (see [`tree_path::leaves_tree`]).
fn link_leaves(depth: usize, target: &[u8]) -> bool {
    tree_path::leaves_tree(depth, &String::from_utf8_lossy(target))
}

/// The files `go` reads to know the module, and rewrites when a build flag allows it
/// (`-mod=mod`): `go.mod`, `go.sum`, `go.work`, `go.work.sum`.
fn is_module_file(path: &TreePath) -> bool {
    matches!(
        path.components().last().map(Vec::as_slice),
        Some(b"go.mod" | b"go.sum" | b"go.work" | b"go.work.sum")
    )
}

/// A module file that is a link: `go` would read, and with `-mod=mod` rewrite, the file
/// it points to, anywhere, so it is refused rather than reproduced.
fn linked_module_file(path: &TreePath, whence: &str) -> anyhow::Error {
    anyhow!(
        "{path} {whence} is a symbolic link: go reads module files, and rewrites them when a \
         build flag allows it (-mod=mod), which through a link would reach outside the \
         checkout\n\
         hint: commit {path} as a regular file"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_a_build_can_read_are_written() {
        let cases = [
            ("a.go", BuildUse::Always),
            ("sub/a_test.go", BuildUse::Never),
            ("testdata/big.bin", BuildUse::IfEmbedded),
            ("pkg/testdata/x.go", BuildUse::IfEmbedded),
            ("pkg/testdatax/x.go", BuildUse::Always),
            ("asm_amd64.s", BuildUse::Always),
            (".escape-gate.yml", BuildUse::Always),
        ];
        for (path, want) in cases {
            assert_eq!(build_use(path), want, "{path}");
        }
        assert!(has_embed(b"package a\n//go:embed x.txt\nvar x string\n"));
        assert!(!has_embed(b"package a\n"));
        assert!(!has_embed(b"package a\n// go:embed is not a directive\n"));
    }

    #[test]
    fn the_object_format_is_read_from_the_config() {
        let dir = tempfile::tempdir().expect("temp");
        let git = dir.path().join(".git");
        fs::create_dir_all(dir.path().join("sub/deeper")).expect("mkdir");
        fs::create_dir(&git).expect("mkdir .git");
        fs::write(git.join("config"), "[core]\n\tbare = false\n").expect("write");
        assert_eq!(object_format(&dir.path().join("sub/deeper")), None);
        fs::write(
            git.join("config"),
            "[core]\n\trepositoryformatversion = 1\n[Extensions]\n\tobjectFormat = SHA256\n",
        )
        .expect("write");
        assert_eq!(
            object_format(&dir.path().join("sub/deeper")).as_deref(),
            Some("sha256")
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_leaving_the_repository_are_found() {
        let cases = [
            ("sub/inside", "../a.go", false),
            ("sub/up", "../../etc/passwd", true),
            ("abs", "/etc/passwd", true),
            ("sub/deep/ok", "../../sub/x", false),
        ];
        for (link, target, want) in cases {
            let dir = tempfile::tempdir().expect("temp");
            let git = git2::Repository::init(dir.path()).expect("init");
            let path = dir.path().join(link);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::os::unix::fs::symlink(target, &path).expect("symlink");
            let mut index = git.index().expect("index");
            index.add_path(Path::new(link)).expect("add");
            let tree = git
                .find_tree(index.write_tree().expect("tree"))
                .expect("tree");
            let sig = git2::Signature::now("t", "t@example.com").expect("sig");
            let commit = git
                .commit(None, &sig, &sig, "links", &tree, &[])
                .expect("commit");
            let repo = Repo::open(dir.path()).expect("open");
            assert_eq!(
                repo.links_outside(commit).expect("walk"),
                want,
                "{link} -> {target}"
            );
        }
    }

    /// One raw tree entry: mode, name, object.
    type RawEntry<'a> = (&'a str, &'a [u8], Oid);

    /// A tree object with exactly these entries, in this order, as a crafted commit
    /// holds them (libgit2's tree builder would refuse most of them).
    fn raw_tree(git: &git2::Repository, entries: &[RawEntry<'_>]) -> Oid {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(name);
            bytes.push(0);
            bytes.extend_from_slice(id.as_bytes());
        }
        git.odb()
            .expect("odb")
            .write(ObjectType::Tree, &bytes)
            .expect("write tree")
    }

    fn commit_of(git: &git2::Repository, tree: Oid) -> Oid {
        let sig = git2::Signature::now("t", "t@example.com").expect("sig");
        let tree = git.find_tree(tree).expect("tree");
        git.commit(None, &sig, &sig, "crafted", &tree, &[])
            .expect("commit")
    }

    #[cfg(unix)]
    #[test]
    fn crafted_trees_are_refused_and_nothing_is_written_outside() {
        let dir = tempfile::tempdir().expect("temp");
        let git = git2::Repository::init(dir.path().join("repo")).expect("init");
        let blob = git.blob(b"package pwned\n").expect("blob");
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).expect("mkdir");
        let link = git
            .blob(outside.as_os_str().as_encoded_bytes())
            .expect("blob");
        let file = |name: &'static str| ("100644", name.as_bytes(), blob);
        let sub = raw_tree(&git, &[file("a.go")]);
        let up = raw_tree(&git, &[("40000", b"outside", sub)]);
        let cases: Vec<(&str, Vec<RawEntry<'_>>, &str)> = vec![
            (
                "dotdot",
                vec![("40000", b"..", up)],
                "the entry `..`: `..` names the parent",
            ),
            ("dotdot file", vec![file("..")], "the entry `..`"),
            ("dot", vec![("40000", b".", sub)], "the entry `.`"),
            (
                "git",
                vec![("40000", b".git", sub)],
                "the entry `.git`: a spelling of `.git`",
            ),
            ("GIT", vec![("40000", b".GIT", sub)], "the entry `.GIT`"),
            ("short", vec![file("git~1")], "the entry `git~1`"),
            (
                "slash",
                vec![file("x/a.go")],
                "the entry `x/a.go`: a name holding `/`",
            ),
            ("backslash", vec![file("..\\a.go")], "a name holding `\\`"),
            (
                "twice",
                vec![file("a.go"), file("a.go")],
                "`a.go` is in its tree twice, as a file and as a file",
            ),
            (
                "link then directory",
                vec![("120000", b"pkg", link), ("40000", b"pkg", sub)],
                "`pkg` is in its tree twice, as a symbolic link and as a directory",
            ),
            (
                "deep dotdot",
                vec![("40000", b"pkg", raw_tree(&git, &[("40000", b"..", up)]))],
                "the entry `pkg/..`",
            ),
        ];
        let repo = Repo::open(&dir.path().join("repo")).expect("open");
        for (what, entries, want) in cases {
            let commit = commit_of(&git, raw_tree(&git, &entries));
            let dest = dir.path().join("work/tree");
            fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            let rev = Revision {
                spec: what.to_string(),
                commit: Some(commit),
            };
            let err = format!("{:#}", repo.materialise(&rev, &dest).expect_err(what));
            assert!(err.contains(want), "{what}: {err}");
            assert!(err.contains(&commit.to_string()), "{what}: {err}");
            assert!(err.contains("\nhint: "), "{what}: {err}");
            assert_eq!(fs::read_dir(&outside).expect("read").count(), 0, "{what}");
            assert!(!dir.path().join("work/outside").exists(), "{what}");
            assert!(!dir.path().join("work/a.go").exists(), "{what}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_commit_is_written_faithfully() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp");
        let git = git2::Repository::init(dir.path().join("repo")).expect("init");
        let go = git.blob(b"package m\n").expect("blob");
        let script = git.blob(b"#!/bin/sh\n").expect("blob");
        let target = git.blob(b"../m.go").expect("blob");
        let sub = raw_tree(
            &git,
            &[
                ("120000", b"alias.go", target),
                ("100755", b"run.sh", script),
                ("100644", b"x_test.go", go),
                ("100644", b"\xff.txt", go),
            ],
        );
        let root = raw_tree(&git, &[("100644", b"m.go", go), ("40000", b"sub", sub)]);
        let commit = commit_of(&git, root);
        let repo = Repo::open(&dir.path().join("repo")).expect("open");
        let dest = dir.path().join("tree");
        let rev = Revision {
            spec: "c".into(),
            commit: Some(commit),
        };
        repo.materialise(&rev, &dest).expect("materialise");
        // Again: the previous checkout is replaced.
        repo.materialise(&rev, &dest).expect("materialise twice");
        assert_eq!(fs::read(dest.join("m.go")).expect("read"), b"package m\n");
        assert_eq!(
            fs::read_link(dest.join("sub/alias.go")).expect("link"),
            Path::new("../m.go")
        );
        let mode = fs::metadata(dest.join("sub/run.sh"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
        assert!(!dest.join("sub/x_test.go").exists());
        use std::os::unix::ffi::OsStrExt;
        assert!(dest
            .join(std::ffi::OsStr::from_bytes(b"sub/\xff.txt"))
            .exists());
    }
}
