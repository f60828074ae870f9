//! Part of the "Materialise" stage: the names inside a materialised tree, and the only
//! way files get into one or are read out of a working tree.
//!
//! The names come from someone else: a pull request's tree, a working tree whose
//! directories may have been replaced by links. Each name is checked on its own, as one
//! component ([`check_name`](name::check_name)), before it is joined to anything: `..`, `.`, an empty name,
//! `.git` in every spelling git itself refuses, and names holding `/`, `\` or NUL never
//! become a [`TreePath`]. [`TreeWriter`] then creates every directory itself and every
//! file with `O_CREAT|O_EXCL|O_NOFOLLOW`, relative to directory handles it opened itself,
//! so nothing that is already there (a link above all) is ever written through or over.
//! [`SourceTree`] reads a working tree the same way: read-only, never through a link.

mod name;
mod path;
#[cfg(any(not(unix), test))]
mod portable;
#[cfg(unix)]
mod unix;

use std::io::{self, Read};
use std::path::Path;

pub use name::BadName;
pub use path::{leaves_tree, printable, through_link, PathError, PathProblem, TreePath};

#[cfg(unix)]
use name::os_name;

/// Why a write into a tree failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is taken already: two entries with one name, or names that the file
    /// system takes for one (case, Unicode normalisation).
    #[error("{0} is already in the tree: two entries have that name on this file system")]
    Exists(String),
    /// An ancestor is a link or a file, not a directory this writer made.
    #[error("{dir} is not a directory in the tree (a link or a file has that name), so {path} cannot be written below it")]
    NotADirectory { dir: String, path: String },
    #[error("writing {path}: {source}")]
    Io { path: String, source: io::Error },
}

impl WriteError {
    fn io(path: &TreePath, source: impl Into<io::Error>) -> WriteError {
        WriteError::Io {
            path: path.to_string(),
            source: source.into(),
        }
    }
}

/// What [`SourceTree::get`] finds at a path.
#[derive(Debug)]
pub enum Source {
    /// Nothing: absent, or below something that is not a directory.
    Missing,
    /// Below a symbolic link: git's view is that no such file exists (`git status`
    /// calls a tracked file there deleted).
    BeyondLink {
        link: String,
    },
    Directory,
    /// A symbolic link, with its target as written.
    Link(Vec<u8>),
    /// A regular file, opened read-only.
    File {
        file: std::fs::File,
        executable: bool,
    },
    /// A FIFO, socket or device: git records none of them.
    Special,
}

/// Why [`read_in_tree`] could not read a file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("there is no such file")]
    Missing,
    #[error("it goes through the symbolic link {0}")]
    BeyondLink(String),
    #[error("it is a symbolic link")]
    Link,
    #[error("it is a directory")]
    Directory,
    #[error("it is not a regular file")]
    Special,
    #[error("it is not UTF-8 text")]
    NotText,
    #[error("it is larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads the text of `rel` (repository-relative, `/`-separated) in the tree at `root`,
/// refusing any path that leaves the tree or goes through a link in it.
pub fn read_in_tree(root: &Path, rel: &str) -> Result<String, ReadError> {
    let bytes = read_bytes_in_tree(root, rel, u64::MAX)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

/// The bytes of the regular file `rel` in the tree at `root`, at most `limit` of them
/// (a larger file is [`ReadError::TooLarge`], never read whole), refusing any path that
/// leaves the tree or goes through a link in it: how the working tree's own files
/// (the allowlist, sources for line maps) are read.
pub fn read_bytes_in_tree(root: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
    let path = TreePath::parse(rel)?;
    let mut tree = SourceTree::open(root)?;
    match tree.get(&path)? {
        Source::Missing => Err(ReadError::Missing),
        Source::BeyondLink { link } => Err(ReadError::BeyondLink(link)),
        Source::Link(_) => Err(ReadError::Link),
        Source::Directory => Err(ReadError::Directory),
        Source::Special => Err(ReadError::Special),
        Source::File { file, .. } => {
            let mut bytes = Vec::new();
            file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
            if bytes.len() as u64 > limit {
                return Err(ReadError::TooLarge(limit));
            }
            Ok(bytes)
        }
    }
}

#[cfg(unix)]
pub use unix::{SourceTree, TreeWriter};

#[cfg(not(unix))]
pub use portable::{SourceTree, TreeWriter};

#[cfg(test)]
mod tests {
    use super::name::{check_name, is_git_dir, os_name, windows_forbidden, MAX_DEPTH};
    use super::*;

    #[test]
    fn a_link_target_never_passes_through_a_link() {
        let links: std::collections::HashSet<String> = ["d/l".to_string(), "pkg/x.go".to_string()]
            .into_iter()
            .collect();
        let dir = |d: &str| -> Vec<String> {
            d.split('/')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            through_link(&dir("pkg"), "../d/l/d/l/../../../etc/passwd", &links).as_deref(),
            Some("d/l")
        );
        // Pointing at a link is fine; so is a path beside the links.
        assert_eq!(through_link(&dir("pkg"), "x.go", &links), None);
        assert_eq!(through_link(&dir("pkg"), "../d/other", &links), None);
        assert_eq!(through_link(&dir(""), "d/l", &links), None);
    }
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::path::{Component, PathBuf};

    #[test]
    fn names_git_refuses_are_refused() {
        let bad: &[(&[u8], BadName)] = &[
            (b"", BadName::Empty),
            (b".", BadName::Dot),
            (b"..", BadName::DotDot),
            (b"a/b", BadName::Slash),
            (b"a\\b", BadName::Backslash),
            (b"..\\x", BadName::Backslash),
            (b"a\0b", BadName::Nul),
            (b".git", BadName::GitDir),
            (b".GIT", BadName::GitDir),
            (b".gIt", BadName::GitDir),
            (b".git.", BadName::GitDir),
            (b".git  . ", BadName::GitDir),
            (b".git::$INDEX_ALLOCATION", BadName::GitDir),
            (b"git~1", BadName::GitDir),
            (b"GIT~1", BadName::GitDir),
            (".g\u{200c}it".as_bytes(), BadName::GitDir),
            ("\u{feff}.GIT".as_bytes(), BadName::GitDir),
        ];
        for (name, want) in bad {
            assert_eq!(check_name(name), Err(*want), "{}", printable(name));
        }
        let good: &[&[u8]] = &[
            b"a.go",
            b"...",
            b".gitignore",
            b".gitmodules",
            b".git-blame-ignore-revs",
            b"git",
            b"git~2",
            b".github",
            b" .git",
            b"\xff\xfe",
            "é.go".as_bytes(),
        ];
        for name in good {
            assert_eq!(check_name(name), Ok(()), "{}", printable(name));
        }
    }

    #[test]
    fn windows_names() {
        for name in [
            "CON", "con.txt", "Nul", "aux.go", "COM1", "lpt9.x", "a:b", "a|b",
        ] {
            assert!(windows_forbidden(name.as_bytes()), "{name}");
        }
        for name in ["CONS", "console.go", "COM", "COMX", "a.go", "nul_test.go"] {
            assert!(!windows_forbidden(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn paths_are_checked_component_by_component() {
        let path = TreePath::parse("pkg/sub/a.go").expect("valid");
        assert_eq!(path.to_slash_lossy(), "pkg/sub/a.go");
        assert_eq!(path.to_relative(), PathBuf::from("pkg/sub/a.go"));
        for (bad, at) in [
            ("../x.go", ".."),
            ("pkg/../../x.go", "pkg/.."),
            ("/etc/passwd", ""),
            ("a//b", "a/"),
            ("pkg/.git/config", "pkg/.git"),
            ("pkg/", "pkg/"),
            ("./a.go", "."),
        ] {
            let err = TreePath::parse(bad).expect_err(bad);
            assert_eq!(err.path, at, "{bad}");
        }
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(
            TreePath::parse(&deep).expect_err("too deep").problem,
            PathProblem::TooDeep
        );
        assert!(TreePath::parse(&vec!["d"; MAX_DEPTH].join("/")).is_ok());
    }

    #[test]
    fn messages_show_control_characters_escaped() {
        let path = TreePath::root()
            .join(b"a\x1b[2J\nhint: b")
            .expect("a valid name on Unix");
        assert_eq!(path.to_string(), "a\\u{1b}[2J\\nhint: b");
    }

    /// A sandbox: `dest` for the writer, `outside` with a sentinel file beside it.
    struct Sandbox {
        dir: tempfile::TempDir,
    }

    impl Sandbox {
        fn new() -> Sandbox {
            let dir = tempfile::tempdir().expect("temp");
            fs_write(
                &dir.path().join("outside/sentinel.go"),
                b"package sentinel\n",
            );
            fs_write(&dir.path().join("outside/sub/keep"), b"keep\n");
            Sandbox { dir }
        }

        fn dest(&self) -> PathBuf {
            self.dir.path().join("dest")
        }

        fn outside(&self) -> PathBuf {
            self.dir.path().join("outside")
        }

        /// Every entry of the sandbox outside `dest`, with its content or link target.
        fn outside_state(&self) -> BTreeMap<PathBuf, Vec<u8>> {
            let mut out = BTreeMap::new();
            collect(
                self.dir.path(),
                self.dir.path(),
                &mut out,
                Some(&self.dest()),
            );
            out
        }
    }

    fn fs_write(path: &Path, content: &[u8]) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>, skip: Option<&Path>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if Some(path.as_path()) == skip {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                out.insert(rel, target.to_string_lossy().as_bytes().to_vec());
            } else if meta.is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                collect(root, &path, out, skip);
            } else {
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_writer_never_writes_through_a_link_or_over_a_file() {
        let sandbox = Sandbox::new();
        let before = sandbox.outside_state();
        let mut out = TreeWriter::create(&sandbox.dest()).expect("create");
        let p = |s: &str| TreePath::parse(s).expect("valid");
        let outside = sandbox.outside();
        out.symlink(&p("pkg"), outside.as_os_str().as_encoded_bytes())
            .expect("a link is written as a link");
        out.symlink(&p("rel"), b"../outside").expect("link");
        for path in [
            "pkg/sentinel.go",
            "pkg/new.go",
            "rel/sentinel.go",
            "rel/sub/x",
        ] {
            match out.file(&p(path), &mut &b"pwned"[..], false) {
                Err(WriteError::NotADirectory { dir, .. }) => {
                    assert_eq!(dir, path.split('/').next().expect("first"), "{path}");
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        for path in ["pkg", "rel"] {
            assert!(matches!(
                out.file(&p(path), &mut &b"pwned"[..], false),
                Err(WriteError::Exists(_))
            ));
            assert!(matches!(
                out.symlink(&p(path), b"/"),
                Err(WriteError::Exists(_))
            ));
        }
        out.file(&p("a/b.go"), &mut &b"package a\n"[..], true)
            .expect("write");
        assert!(matches!(
            out.file(&p("a/b.go/c"), &mut &b"x"[..], false),
            Err(WriteError::NotADirectory { .. })
        ));
        assert!(matches!(
            out.file(&p("a/b.go"), &mut &b"twice"[..], false),
            Err(WriteError::Exists(_))
        ));
        assert_eq!(sandbox.outside_state(), before);
        let written = sandbox.dest().join("a/b.go");
        assert_eq!(std::fs::read(&written).expect("read"), b"package a\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&written)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o100, 0o100, "executable");
    }

    #[test]
    fn the_portable_writer_never_writes_through_a_link_or_over_a_file() {
        let sandbox = Sandbox::new();
        let before = sandbox.outside_state();
        let mut out = portable::TreeWriter::create(&sandbox.dest()).expect("create");
        let p = |s: &str| TreePath::parse(s).expect("valid");
        #[cfg(unix)]
        std::os::unix::fs::symlink("../outside", sandbox.dest().join("rel")).expect("link");
        #[cfg(unix)]
        assert!(matches!(
            out.file(&p("rel/sentinel.go"), &mut &b"pwned"[..], false),
            Err(WriteError::NotADirectory { .. })
        ));
        out.file(&p("a/b.go"), &mut &b"package a\n"[..], false)
            .expect("write");
        assert!(matches!(
            out.file(&p("a/b.go"), &mut &b"again"[..], false),
            Err(WriteError::Exists(_))
        ));
        assert!(matches!(
            out.file(&p("a/b.go/c"), &mut &b"x"[..], false),
            Err(WriteError::NotADirectory { .. })
        ));
        assert_eq!(sandbox.outside_state(), before);
    }

    #[cfg(unix)]
    #[test]
    fn the_source_tree_never_reads_through_a_link() {
        let sandbox = Sandbox::new();
        let repo = sandbox.dir.path().join("repo");
        fs_write(&repo.join("other/a.go"), b"package other\n");
        fs_write(&repo.join("plain.go"), b"package m\n");
        std::os::unix::fs::symlink(sandbox.outside(), repo.join("abs")).expect("link");
        std::os::unix::fs::symlink("other", repo.join("rel")).expect("link");
        std::os::unix::fs::symlink("plain.go", repo.join("alias.go")).expect("link");
        let p = |s: &str| TreePath::parse(s).expect("valid");
        for tree in [
            &mut SourceTree::open(&repo).expect("open") as &mut dyn Get,
            &mut portable::SourceTree::open(&repo).expect("open"),
        ] {
            assert!(
                matches!(tree.get(&p("abs/sentinel.go")), Source::BeyondLink { link } if link == "abs")
            );
            assert!(
                matches!(tree.get(&p("rel/a.go")), Source::BeyondLink { link } if link == "rel")
            );
            assert!(matches!(tree.get(&p("alias.go")), Source::Link(t) if t == b"plain.go"));
            assert!(matches!(tree.get(&p("plain.go/x")), Source::Missing));
            assert!(matches!(tree.get(&p("nothing.go")), Source::Missing));
            assert!(matches!(tree.get(&p("other")), Source::Directory));
            match tree.get(&p("other/a.go")) {
                Source::File { mut file, .. } => {
                    let mut text = String::new();
                    file.read_to_string(&mut text).expect("read");
                    assert_eq!(text, "package other\n");
                }
                other => panic!("{other:?}"),
            }
        }
        match read_in_tree(&repo, "rel/a.go") {
            Err(ReadError::BeyondLink(link)) => assert_eq!(link, "rel"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_in_tree(&repo, "../outside/sentinel.go"),
            Err(ReadError::Path(_))
        ));
        assert!(matches!(
            read_in_tree(&repo, "alias.go"),
            Err(ReadError::Link)
        ));
        assert_eq!(
            read_in_tree(&repo, "plain.go").expect("read"),
            "package m\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_not_opened() {
        let dir = tempfile::tempdir().expect("temp");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe.go"))
            .status()
            .expect("run mkfifo");
        assert!(status.success());
        let mut tree = SourceTree::open(dir.path()).expect("open");
        let path = TreePath::parse("pipe.go").expect("valid");
        assert!(matches!(tree.get(&path).expect("get"), Source::Special));
    }

    trait Get {
        fn get(&mut self, path: &TreePath) -> Source;
    }

    #[cfg(unix)]
    impl Get for SourceTree {
        fn get(&mut self, path: &TreePath) -> Source {
            SourceTree::get(self, path).expect("get")
        }
    }

    impl Get for portable::SourceTree {
        fn get(&mut self, path: &TreePath) -> Source {
            portable::SourceTree::get(self, path).expect("get")
        }
    }

    // -----------------------------------------------------------------------------
    // Properties
    // -----------------------------------------------------------------------------

    /// A short run by default, since these run in `cargo test`; `PROPTEST_CASES=100000`
    /// for a long one.
    fn config() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 64;
        }
        config
    }

    /// Names a hostile tree would use, and arbitrary bytes.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"..".to_vec()),
            Just(b".".to_vec()),
            Just(Vec::new()),
            Just(b".git".to_vec()),
            Just(b".GIT".to_vec()),
            Just(b"git~1".to_vec()),
            Just(b"a".to_vec()),
            Just(b"b".to_vec()),
            Just(b"A".to_vec()),
            Just(b"../a".to_vec()),
            Just(b"..\\a".to_vec()),
            Just(b"/".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..6),
            "[a.~/\\\\:\\x00 ]{0,4}".prop_map(String::into_bytes),
        ]
    }

    /// Where a link in a hostile tree would point.
    fn target() -> impl Strategy<Value = usize> {
        0..LINK_TARGETS.len() + 1
    }

    const LINK_TARGETS: &[&str] = &["..", "../..", "../outside", "a", ".", "/", "a/../.."];

    #[derive(Debug, Clone)]
    enum Op {
        File(Vec<Vec<u8>>),
        Link(Vec<Vec<u8>>, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let path = || proptest::collection::vec(name(), 1..5);
        prop_oneof![
            path().prop_map(Op::File),
            (path(), target()).prop_map(|(p, t)| Op::Link(p, t)),
        ]
    }

    fn build(parts: &[Vec<u8>]) -> Result<TreePath, PathError> {
        parts
            .iter()
            .try_fold(TreePath::root(), |path, part| path.join(part))
    }

    proptest! {
        #![proptest_config(config())]

        /// A name that passes adds exactly one component below the directory.
        #[test]
        fn an_accepted_name_stays_one_level_below(name in name()) {
            if check_name(&name).is_ok() {
                let dest = Path::new("/dest");
                let joined = dest.join(os_name(&name).expect("accepted names are representable"));
                prop_assert_eq!(joined.parent(), Some(dest));
                prop_assert!(!is_git_dir(&name));
                prop_assert!(name != b".." && name != b"." && !name.is_empty());
            }
        }

        /// Whatever the text, a parsed path is below the destination, lexically.
        #[test]
        fn a_parsed_path_never_leaves_the_destination(text in "[a./\\\\:~GITgit\\x00 ]{0,12}|\\PC{0,12}") {
            if let Ok(path) = TreePath::parse(&text) {
                let dest = Path::new("/dest");
                let joined = dest.join(path.to_relative());
                prop_assert!(joined.starts_with(dest));
                prop_assert_eq!(joined.components().count(), 2 + path.components().len());
                prop_assert!(joined
                    .components()
                    .skip(2)
                    .all(|c| matches!(c, Component::Normal(_))));
                prop_assert_eq!(path.to_slash_lossy(), text);
            }
        }

        /// Whatever sequence of files and links a hostile tree asks for, nothing outside
        /// the destination changes, and the writer neither panics nor follows a link.
        #[test]
        fn writing_a_hostile_tree_changes_nothing_outside(ops in proptest::collection::vec(op(), 1..12)) {
            let sandbox = Sandbox::new();
            let before = sandbox.outside_state();
            let outside = sandbox.outside();
            let absolute = outside.to_string_lossy().into_owned();
            let mut writers: Vec<Box<dyn Writer>> = vec![Box::new(Portable {
                writer: portable::TreeWriter::create(&sandbox.dest()).expect("create"),
                dest: sandbox.dest(),
            })];
            #[cfg(unix)]
            {
                writers.push(Box::new(
                    TreeWriter::create(&sandbox.dir.path().join("dest2")).expect("create"),
                ));
            }
            for writer in &mut writers {
                for op in &ops {
                    match op {
                        Op::File(parts) => {
                            if let Ok(path) = build(parts) {
                                let _ = writer.file(&path);
                            }
                        }
                        Op::Link(parts, t) => {
                            if let Ok(path) = build(parts) {
                                let target = LINK_TARGETS.get(*t).copied().unwrap_or(&absolute);
                                let _ = writer.symlink(&path, target.as_bytes());
                            }
                        }
                    }
                }
            }
            let mut after = sandbox.outside_state();
            after.retain(|p, _| !p.starts_with("dest2"));
            prop_assert_eq!(after, before);
        }
    }

    trait Writer {
        fn file(&mut self, path: &TreePath) -> Result<(), WriteError>;
        fn symlink(&mut self, path: &TreePath, target: &[u8]) -> Result<(), WriteError>;
    }

    #[cfg(unix)]
    impl Writer for TreeWriter {
        fn file(&mut self, path: &TreePath) -> Result<(), WriteError> {
            TreeWriter::file(self, path, &mut &b"pwned"[..], false)
        }
        fn symlink(&mut self, path: &TreePath, target: &[u8]) -> Result<(), WriteError> {
            TreeWriter::symlink(self, path, target)
        }
    }

    /// The portable writer under test, with real links planted at the top of its tree
    /// (it writes links as text itself).
    struct Portable {
        writer: portable::TreeWriter,
        dest: PathBuf,
    }

    impl Writer for Portable {
        fn file(&mut self, path: &TreePath) -> Result<(), WriteError> {
            self.writer.file(path, &mut &b"pwned"[..], false)
        }
        fn symlink(&mut self, path: &TreePath, target: &[u8]) -> Result<(), WriteError> {
            #[cfg(unix)]
            if let [name] = path.components() {
                use std::os::unix::ffi::OsStrExt;
                let _ = std::os::unix::fs::symlink(
                    std::ffi::OsStr::from_bytes(target),
                    self.dest.join(std::ffi::OsStr::from_bytes(name)),
                );
                return Ok(());
            }
            self.writer.symlink(path, target)
        }
    }
}
