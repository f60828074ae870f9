//! The Unix implementation: every step is an `*at` system call relative to a directory
//! handle this module opened with `O_NOFOLLOW`, so a name is resolved in the directory
//! it was checked in, and never through a link.

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
