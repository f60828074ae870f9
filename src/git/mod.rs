//! The "Resolve" and "Materialise" stages: rev-specs in, [`Revision`]s out; a revision
//! in, a checkout (a temporary directory holding exactly its files) out.
//!
//! Everything here only reads the user's repository: no index write, no ref, no
//! worktree entry, no object. The working tree is a pseudo-revision whose files are
//! copied from disk (tracked files as they are now, plus untracked files that are not
//! ignored), so uncommitted work is seen without being committed anywhere.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use git2::{ObjectType, Oid, Repository};

mod changes;
mod checkout;
mod resolve;

pub use changes::Changes;

use crate::tree::{self, TreePath};

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
        checkout::add_submodule_objects(&repo);
        Ok(Repo { repo, root })
    }

    /// The top directory of the working tree.
    pub fn root(&self) -> &Path {
        &self.root
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

/// Whether a link `depth` directories below the root whose target is `target` points
/// outside the tree (see [`tree::leaves_tree`]).
fn link_leaves(depth: usize, target: &[u8]) -> bool {
    tree::leaves_tree(depth, &String::from_utf8_lossy(target))
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

#[cfg(test)]
mod tests {
    use super::checkout::{build_use, has_embed, BuildUse};
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
            (crate::home::CONFIG_FILE, BuildUse::Always),
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
