//! Part of the "Materialise" stage: the names inside a materialised tree, and the only
//! way files get into one or are read out of a working tree.
//!
//! The names come from someone else: a pull request's tree, a working tree whose
//! directories may have been replaced by links. Each name is checked on its own, as one
//! component ([`check_name`]), before it is joined to anything: `..`, `.`, an empty name,
//! `.git` in every spelling git itself refuses, and names holding `/`, `\` or NUL never
//! become a [`TreePath`]. [`TreeWriter`] then creates every directory itself and every
//! file with `O_CREAT|O_EXCL|O_NOFOLLOW`, relative to directory handles it opened itself,
//! so nothing that is already there (a link above all) is ever written through or over.
//! [`SourceTree`] reads a working tree the same way: read-only, never through a link.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// How deep a tree may go. Real repositories stay far below; the limit bounds the
/// directory handles a [`TreeWriter`] keeps open while it writes.
pub const MAX_DEPTH: usize = 256;

/// Why a name cannot be a file name in a materialised tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadName {
    Empty,
    Dot,
    DotDot,
    Slash,
    Backslash,
    Nul,
    /// `.git`, however spelt: git's own directory.
    GitDir,
    /// Not one plain name on this system (a drive prefix, a reserved device name).
    NotPortable,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadName::Empty => "an empty name",
            BadName::Dot => "`.` names the directory itself, not a file",
            BadName::DotDot => "`..` names the parent directory, not a file",
            BadName::Slash => "a name holding `/`",
            BadName::Backslash => "a name holding `\\`",
            BadName::Nul => "a name holding a NUL byte",
            BadName::GitDir => "a spelling of `.git`, git's own directory",
            BadName::NotPortable => "not a plain file name on this system",
        })
    }
}

/// Checks one path component, as git does before it checks a name out
/// (`verify_path`), on every platform at once: a tree is refused here for a name that
/// only Windows or macOS would misread, since the same tree is gated everywhere.
pub fn check_name(name: &[u8]) -> Result<(), BadName> {
    match name {
        b"" => return Err(BadName::Empty),
        b"." => return Err(BadName::Dot),
        b".." => return Err(BadName::DotDot),
        _ => {}
    }
    if name.contains(&b'/') {
        return Err(BadName::Slash);
    }
    if name.contains(&b'\\') {
        return Err(BadName::Backslash);
    }
    if name.contains(&0) {
        return Err(BadName::Nul);
    }
    if is_git_dir(name) {
        return Err(BadName::GitDir);
    }
    if cfg!(windows) && windows_forbidden(name) {
        return Err(BadName::NotPortable);
    }
    // Whatever the rules above missed on this platform: joined to a directory, the name
    // must add exactly itself.
    let Some(os) = os_name(name) else {
        return Err(BadName::NotPortable);
    };
    let mut parts = Path::new(os).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(one)), None) if one == os => Ok(()),
        _ => Err(BadName::NotPortable),
    }
}

/// `.git` as git refuses it (`is_ntfs_dotgit`, `is_hfs_dotgit`): any case; with trailing
/// spaces or dots, or an NTFS stream (`.git::$INDEX_ALLOCATION`), which Windows strips;
/// the NTFS short name `git~1`; and with the Unicode code points HFS+ ignores.
fn is_git_dir(name: &[u8]) -> bool {
    let base = name.split(|&b| b == b':').next().unwrap_or_default();
    let end = base
        .iter()
        .rposition(|&b| b != b' ' && b != b'.')
        .map_or(0, |i| i + 1);
    let ntfs = &base[..end];
    if ntfs.eq_ignore_ascii_case(b".git") || ntfs.eq_ignore_ascii_case(b"git~1") {
        return true;
    }
    let Ok(text) = std::str::from_utf8(name) else {
        return false;
    };
    let hfs: String = text.chars().filter(|&c| !hfs_ignorable(c)).collect();
    hfs.eq_ignore_ascii_case(".git")
}

/// The code points HFS+ leaves out of names when it compares them (git's
/// `next_hfs_char`).
fn hfs_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// Names Windows gives another meaning: device names (`CON`, `nul.txt`, `COM1`), and
/// characters it does not allow in a name (`C:` would be a drive).
fn windows_forbidden(name: &[u8]) -> bool {
    if name.iter().any(|&b| b < 0x20 || b"<>:\"|?*".contains(&b)) {
        return true;
    }
    let stem = name.split(|&b| b == b'.').next().unwrap_or_default();
    let stem = stem.trim_ascii_end();
    let device = |prefix: &[u8]| stem.len() >= 3 && stem[..3].eq_ignore_ascii_case(prefix);
    (stem.len() == 3
        && ["CON", "PRN", "AUX", "NUL"]
            .iter()
            .any(|d| device(d.as_bytes())))
        || (stem.len() == 4
            && ["COM", "LPT"].iter().any(|d| device(d.as_bytes()))
            && stem[3].is_ascii_digit())
}

/// A name as the operating system takes it: bytes on Unix, UTF-8 elsewhere.
#[cfg(unix)]
fn os_name(name: &[u8]) -> Option<&std::ffi::OsStr> {
    use std::os::unix::ffi::OsStrExt;
    Some(std::ffi::OsStr::from_bytes(name))
}

#[cfg(not(unix))]
fn os_name(name: &[u8]) -> Option<&std::ffi::OsStr> {
    std::str::from_utf8(name).ok().map(std::ffi::OsStr::new)
}

/// A relative path inside a materialised tree, every component checked by
/// [`check_name`]. The empty path is the tree's root.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreePath {
    parts: Vec<Vec<u8>>,
}

/// A path that cannot name a file inside a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct PathError {
    /// The path up to the offending component, printable.
    pub path: String,
    pub problem: PathProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("{0}")]
    Name(BadName),
    #[error("more than {MAX_DEPTH} directories deep")]
    TooDeep,
}

impl TreePath {
    /// The root of the tree.
    pub fn root() -> TreePath {
        TreePath::default()
    }

    /// A repository-relative, `/`-separated path, as git and the compiler print them.
    pub fn parse(path: &str) -> Result<TreePath, PathError> {
        let mut out = TreePath::root();
        for part in path.split('/') {
            out = out.join(part.as_bytes())?;
        }
        Ok(out)
    }

    /// This path with one more component, checked.
    pub fn join(&self, name: &[u8]) -> Result<TreePath, PathError> {
        let mut parts = self.parts.clone();
        parts.push(name.to_vec());
        let joined = TreePath { parts };
        if let Err(bad) = check_name(name) {
            return Err(PathError {
                path: joined.to_string(),
                problem: PathProblem::Name(bad),
            });
        }
        if joined.parts.len() > MAX_DEPTH {
            return Err(PathError {
                path: joined.to_string(),
                problem: PathProblem::TooDeep,
            });
        }
        Ok(joined)
    }

    pub fn components(&self) -> &[Vec<u8>] {
        &self.parts
    }

    /// The path as text for matching (`_test.go`, `testdata`), invalid UTF-8 replaced.
    pub fn to_slash_lossy(&self) -> String {
        self.parts
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The path relative to a directory, for the operating system (the portable
    /// writer's, which Unix builds only test).
    #[cfg_attr(unix, allow(dead_code))]
    pub fn to_relative(&self) -> std::path::PathBuf {
        self.parts.iter().filter_map(|p| os_name(p)).collect()
    }
}

/// Whether a relative path written in a file `depth` directories below a tree's root
/// (a link's target, a `replace` or `use` directory) points outside the tree: absolute,
/// a drive or scheme (`C:`), or `..` parts that climb above the root at any point. `\`
/// counts as a separator too, the cautious reading.
pub fn leaves_tree(depth: usize, target: &str) -> bool {
    if target.starts_with('/') || target.starts_with('\\') || target.contains(':') {
        return true;
    }
    let mut level = depth as i64;
    for part in target.split(['/', '\\']) {
        match part {
            ".." => level -= 1,
            "" | "." => {}
            _ => level += 1,
        }
        if level < 0 {
            return true;
        }
    }
    false
}

/// The first link of the tree (from `links`, tree-relative `/`-separated paths) that
/// the target of a link in directory `dir` passes through on its way, if any. Reading
/// a path lexically, as [`leaves_tree`] does, is only what the system does when no
/// component on the way is a link: `d/l -> ..` makes `d/l/d/l/../../..` climb above
/// the root while its text never does. So a link may point at a link, but never
/// through one.
pub fn through_link(
    dir: &[String],
    target: &str,
    links: &std::collections::HashSet<String>,
) -> Option<String> {
    let mut at: Vec<&str> = dir.iter().map(String::as_str).collect();
    let parts: Vec<&str> = target
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            at.pop();
        } else {
            at.push(part);
        }
        let last = i + 1 == parts.len();
        let here = at.join("/");
        if !last && links.contains(&here) {
            return Some(here);
        }
    }
    None
}

/// For messages: `/`-separated, with control characters escaped so that a crafted name
/// cannot rewrite the terminal or forge a line of escape-gate's output.
impl fmt::Display for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.parts.join(&b'/')))
    }
}

/// Bytes from a name, shown safely: invalid UTF-8 replaced, control and bidirectional
/// characters escaped ([`crate::inert::line`]).
pub fn printable(bytes: &[u8]) -> String {
    crate::inert::line(&String::from_utf8_lossy(bytes)).into_owned()
}

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

/// The Unix implementation: every step is an `*at` system call relative to a directory
/// handle this module opened with `O_NOFOLLOW`, so a name is resolved in the directory
/// it was checked in, and never through a link.
#[cfg(unix)]
mod unix {
    use std::io::{self, Read};
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{os_name, Source, TreePath, WriteError};

    /// Directory handles along the path last used: files are written and read in tree
    /// order, so most lookups reuse them.
    #[derive(Debug)]
    struct Dirs {
        root: OwnedFd,
        open: Vec<(Vec<u8>, OwnedFd)>,
    }

    impl Dirs {
        fn new(root: OwnedFd) -> Dirs {
            Dirs {
                root,
                open: Vec::new(),
            }
        }

        /// Keeps the open directories that are a prefix of `parents`; returns how many.
        fn keep_prefix(&mut self, parents: &[Vec<u8>]) -> usize {
            let common = self
                .open
                .iter()
                .zip(parents)
                .take_while(|((name, _), part)| name == *part)
                .count();
            self.open.truncate(common);
            common
        }

        fn last(&self) -> BorrowedFd<'_> {
            self.open
                .last()
                .map_or(self.root.as_fd(), |(_, fd)| fd.as_fd())
        }
    }

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    fn name(part: &[u8]) -> &std::ffi::OsStr {
        os_name(part).expect("every name is representable on Unix")
    }

    fn prefix(parts: &[Vec<u8>]) -> String {
        super::printable(&parts.join(&b'/'))
    }

    /// Writes files into a directory it created, and nowhere else.
    #[derive(Debug)]
    pub struct TreeWriter {
        dirs: Dirs,
    }

    impl TreeWriter {
        /// Creates `dest`, which must not exist yet (its parent must), and writes below
        /// it only.
        pub fn create(dest: &Path) -> io::Result<TreeWriter> {
            rfs::mkdir(dest, Mode::from_bits_truncate(0o755))?;
            let root = rfs::open(dest, DIR_FLAGS, Mode::empty())?;
            Ok(TreeWriter {
                dirs: Dirs::new(root),
            })
        }

        /// Creates the file `path` (it must not exist) with `content`.
        pub fn file(
            &mut self,
            path: &TreePath,
            content: &mut dyn Read,
            executable: bool,
        ) -> Result<(), WriteError> {
            let (last, parents) = split(path)?;
            let dir = self.enter(parents, path)?;
            let mode = if executable { 0o755 } else { 0o644 };
            let fd = rfs::openat(
                dir,
                name(last),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_bits_truncate(mode),
            )
            .map_err(|err| exists_or(err, path))?;
            let mut file = std::fs::File::from(fd);
            io::copy(content, &mut file).map_err(|err| WriteError::io(path, err))?;
            Ok(())
        }

        /// Creates the symbolic link `path` (it must not exist) with `target` as its
        /// text. The target is never looked at.
        pub fn symlink(&mut self, path: &TreePath, target: &[u8]) -> Result<(), WriteError> {
            let (last, parents) = split(path)?;
            let dir = self.enter(parents, path)?;
            rfs::symlinkat(target, dir, name(last)).map_err(|err| exists_or(err, path))
        }

        /// The directory `parents`, created as needed, each level opened without
        /// following a link.
        fn enter(
            &mut self,
            parents: &[Vec<u8>],
            path: &TreePath,
        ) -> Result<BorrowedFd<'_>, WriteError> {
            let start = self.dirs.keep_prefix(parents);
            for (i, part) in parents.iter().enumerate().skip(start) {
                let dir = self.dirs.last();
                match rfs::mkdirat(dir, name(part), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(err) => return Err(WriteError::io(path, err)),
                }
                let fd = match rfs::openat(dir, name(part), DIR_FLAGS, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(err) => {
                        let is_dir = rfs::statat(dir, name(part), AtFlags::SYMLINK_NOFOLLOW)
                            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode).is_dir());
                        return Err(if is_dir {
                            WriteError::io(path, err)
                        } else {
                            WriteError::NotADirectory {
                                dir: prefix(&parents[..=i]),
                                path: path.to_string(),
                            }
                        });
                    }
                };
                self.dirs.open.push((part.clone(), fd));
            }
            Ok(self.dirs.last())
        }
    }

    fn split(path: &TreePath) -> Result<(&Vec<u8>, &[Vec<u8>]), WriteError> {
        path.components().split_last().ok_or_else(|| {
            WriteError::io(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "the root is not a file"),
            )
        })
    }

    fn exists_or(err: Errno, path: &TreePath) -> WriteError {
        if err == Errno::EXIST {
            WriteError::Exists(path.to_string())
        } else {
            WriteError::io(path, err)
        }
    }

    /// Reads a working tree: read-only, never through a link.
    #[derive(Debug)]
    pub struct SourceTree {
        dirs: Dirs,
    }

    impl SourceTree {
        /// Opens the tree at `root` (the user's repository: `root` itself may be reached
        /// through links, as the user named it).
        pub fn open(root: &Path) -> io::Result<SourceTree> {
            let fd = rfs::open(
                root,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(SourceTree {
                dirs: Dirs::new(fd),
            })
        }

        /// What is at `path`, without following any link; a regular file is opened
        /// read-only.
        pub fn get(&mut self, path: &TreePath) -> io::Result<Source> {
            let Some((last, parents)) = path.components().split_last() else {
                return Ok(Source::Directory);
            };
            let start = self.dirs.keep_prefix(parents);
            for (i, part) in parents.iter().enumerate().skip(start) {
                let dir = self.dirs.last();
                let st = match rfs::statat(dir, name(part), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => st,
                    Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Source::Missing),
                    Err(err) => return Err(err.into()),
                };
                match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => {}
                    FileType::Symlink => {
                        return Ok(Source::BeyondLink {
                            link: prefix(&parents[..=i]),
                        })
                    }
                    _ => return Ok(Source::Missing),
                }
                // Changed since the check (the user is editing): a link now, or gone.
                let fd = match rfs::openat(dir, name(part), DIR_FLAGS, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(Source::Missing),
                    Err(err) => return Err(err.into()),
                };
                self.dirs.open.push((part.clone(), fd));
            }
            let dir = self.dirs.last();
            let st = match rfs::statat(dir, name(last), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Source::Missing),
                Err(err) => return Err(err.into()),
            };
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink => {
                    let target = rfs::readlinkat(dir, name(last), Vec::new())?;
                    Ok(Source::Link(target.into_bytes()))
                }
                FileType::Directory => Ok(Source::Directory),
                FileType::RegularFile => {
                    // O_NONBLOCK: should a FIFO have taken its place since the check,
                    // opening it must not wait for a writer.
                    let fd = match rfs::openat(
                        dir,
                        name(last),
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => fd,
                        Err(Errno::NOENT | Errno::LOOP) => return Ok(Source::Missing),
                        Err(err) => return Err(err.into()),
                    };
                    let opened = rfs::fstat(&fd)?;
                    if !FileType::from_raw_mode(opened.st_mode).is_file() {
                        return Ok(Source::Special);
                    }
                    let executable = Mode::from_raw_mode(opened.st_mode).contains(Mode::XUSR);
                    Ok(Source::File {
                        file: std::fs::File::from(fd),
                        executable,
                    })
                }
                _ => Ok(Source::Special),
            }
        }
    }
}

/// Path-based fallback for systems without `openat`: every ancestor is checked with
/// `symlink_metadata` and created by this module, every file created new. Compiled on
/// Unix for its tests.
#[cfg(any(not(unix), test))]
mod portable {
    use std::fs;
    use std::io::{self, Read};
    use std::path::{Path, PathBuf};

    use super::{printable, Source, TreePath, WriteError};

    /// Writes files into a directory it created, and nowhere else.
    #[derive(Debug)]
    pub struct TreeWriter {
        root: PathBuf,
    }

    impl TreeWriter {
        pub fn create(dest: &Path) -> io::Result<TreeWriter> {
            fs::create_dir(dest)?;
            Ok(TreeWriter {
                root: dest.to_path_buf(),
            })
        }

        pub fn file(
            &mut self,
            path: &TreePath,
            content: &mut dyn Read,
            _executable: bool,
        ) -> Result<(), WriteError> {
            let full = self.enter(path)?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&full)
                .map_err(|err| exists_or(err, path))?;
            io::copy(content, &mut file).map_err(|err| WriteError::io(path, err))?;
            Ok(())
        }

        /// Without symbolic links, the target's text in a file is what git does too.
        pub fn symlink(&mut self, path: &TreePath, target: &[u8]) -> Result<(), WriteError> {
            self.file(path, &mut &target[..], false)
        }

        /// Creates the ancestors of `path`; returns its full path.
        fn enter(&mut self, path: &TreePath) -> Result<PathBuf, WriteError> {
            let parts = path.components();
            let Some((_, parents)) = parts.split_last() else {
                return Err(WriteError::io(
                    path,
                    io::Error::new(io::ErrorKind::InvalidInput, "the root is not a file"),
                ));
            };
            let mut dir = self.root.clone();
            for (i, part) in parents.iter().enumerate() {
                dir.push(os(part));
                let not_dir = || WriteError::NotADirectory {
                    dir: printable(&parts[..=i].join(&b'/')),
                    path: path.to_string(),
                };
                match fs::symlink_metadata(&dir) {
                    Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => {}
                    Ok(_) => return Err(not_dir()),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        fs::create_dir(&dir).map_err(|err| WriteError::io(path, err))?;
                    }
                    Err(err) => return Err(WriteError::io(path, err)),
                }
            }
            Ok(self.root.join(path.to_relative()))
        }
    }

    fn exists_or(err: io::Error, path: &TreePath) -> WriteError {
        if err.kind() == io::ErrorKind::AlreadyExists {
            WriteError::Exists(path.to_string())
        } else {
            WriteError::io(path, err)
        }
    }

    /// Reads a working tree: read-only, never through a link.
    #[derive(Debug)]
    pub struct SourceTree {
        root: PathBuf,
    }

    impl SourceTree {
        pub fn open(root: &Path) -> io::Result<SourceTree> {
            if !fs::metadata(root)?.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a directory", root.display()),
                ));
            }
            Ok(SourceTree {
                root: root.to_path_buf(),
            })
        }

        pub fn get(&mut self, path: &TreePath) -> io::Result<Source> {
            let parts = path.components();
            let mut at = self.root.clone();
            for (i, part) in parts.iter().enumerate() {
                at.push(os(part));
                let meta = match fs::symlink_metadata(&at) {
                    Ok(meta) => meta,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {
                        return Ok(Source::Missing)
                    }
                    Err(err) => return Err(err),
                };
                let last = i + 1 == parts.len();
                if meta.file_type().is_symlink() {
                    if !last {
                        return Ok(Source::BeyondLink {
                            link: printable(&parts[..=i].join(&b'/')),
                        });
                    }
                    let target = fs::read_link(&at)?;
                    return Ok(Source::Link(
                        target.to_string_lossy().replace('\\', "/").into_bytes(),
                    ));
                }
                if !last {
                    if !meta.is_dir() {
                        return Ok(Source::Missing);
                    }
                    continue;
                }
                if meta.is_dir() {
                    return Ok(Source::Directory);
                }
                if !meta.is_file() {
                    return Ok(Source::Special);
                }
                #[cfg(unix)]
                let executable = {
                    use std::os::unix::fs::PermissionsExt;
                    meta.permissions().mode() & 0o100 != 0
                };
                #[cfg(not(unix))]
                let executable = false;
                let file = fs::File::open(&at)?;
                return Ok(Source::File { file, executable });
            }
            Ok(Source::Directory)
        }
    }

    fn os(part: &[u8]) -> &std::ffi::OsStr {
        super::os_name(part).expect("check_name admits only names this system can hold")
    }
}

#[cfg(test)]
mod tests {
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
