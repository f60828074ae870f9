//! Every file escape-gate writes for the user goes through [`write()`]: the allowlist
//! `allow` edits, the two files `init` creates, the hook `install-hook` installs and its
//! backup, the pages `man --dir` writes.
//!
//! The place is a directory the user named (the repository's root, the hooks directory
//! git names, a `--dir`), reached as named, and a relative path below it whose every
//! component is checked as it is walked: a link is never followed, neither as the file
//! nor as a directory on the way, so a repository that makes `.github` or
//! `.escape-gate.yml` a link to somewhere else gets an error naming the link, never a
//! file written there. The content goes to a new file (`O_CREAT|O_EXCL|O_NOFOLLOW`) in
//! the same directory, flushed, then renamed over the name: a reader sees the old file
//! or the new one, and whatever replaced the name in between is replaced, not written
//! through.

use std::io;
use std::path::Path;

use crate::tree::{PathError, TreePath};

/// Why [`write()`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteFileError {
    #[error("{0}")]
    Name(#[from] PathError),
    #[error("{0} is a symbolic link, and escape-gate never writes through a link")]
    Link(String),
    #[error("{0} is not a directory")]
    NotADirectory(String),
    #[error("{0} is a directory, not a file")]
    Directory(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("{0} does not exist")]
    MissingDirectory(String),
    #[error("writing {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// What [`write()`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
}

/// How the written file's permissions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The mode of the file (umask not applied: the file is meant to be committed or
    /// run as it is).
    pub mode: u32,
    /// A file that exists keeps its own mode instead.
    pub keep_mode: bool,
    /// Directories on the way that are missing are created (0755).
    pub create_dirs: bool,
    /// A link at the file's own name is replaced by the file (never written through);
    /// otherwise it is refused.
    pub replace_link: bool,
}

impl Options {
    /// An ordinary file (0644), a replaced one keeping its mode, directories created.
    pub const FILE: Options = Options {
        mode: 0o644,
        keep_mode: true,
        create_dirs: true,
        replace_link: false,
    };
}

/// What is at a file's name, for [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Nothing,
    File,
    Link,
}

/// Writes `contents` to `rel` (`/`-separated) below `anchor`, following no link below
/// `anchor`, through a new file in the same directory renamed over the old one.
pub fn write(
    anchor: &Path,
    rel: &str,
    contents: &[u8],
    options: Options,
) -> Result<Written, WriteFileError> {
    let path = TreePath::parse(rel)?;
    if path.components().is_empty() {
        return Err(WriteFileError::Directory(rel.to_string()));
    }
    imp::write(anchor, &path, contents, options)
}

/// What is at `rel` below `anchor`, checked as [`write()`] would write it: a link on the
/// way, a directory or a special file there is the error [`write()`] would give; a
/// missing directory on the way means nothing.
pub fn probe(anchor: &Path, rel: &str) -> Result<Found, WriteFileError> {
    let path = TreePath::parse(rel)?;
    if path.components().is_empty() {
        return Err(WriteFileError::Directory(rel.to_string()));
    }
    imp::probe(anchor, &path)
}

/// A name for the temporary file that nothing else uses: the standard library's
/// per-process random hash keys, the process and a counter.
fn temporary_name(last: &[u8]) -> Vec<u8> {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::collections::hash_map::RandomState::new();
    let mut name = b".".to_vec();
    // Short enough for any file system's name limit.
    name.extend(last.iter().take(100));
    name.extend(
        format!(
            ".escape-gate-{:016x}",
            state.hash_one((std::process::id(), n))
        )
        .bytes(),
    );
    name
}

fn shown(parts: &[Vec<u8>]) -> String {
    crate::tree::printable(&parts.join(&b'/'))
}

#[cfg(unix)]
mod imp {
    use std::io::Write;
    use std::os::fd::{AsFd, OwnedFd};
    use std::path::Path;

    use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{shown, temporary_name, Found, Options, WriteFileError, Written};
    use crate::tree::TreePath;

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    fn name(part: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(part)
    }

    fn io(what: String) -> impl FnOnce(Errno) -> WriteFileError {
        move |err: Errno| WriteFileError::Io {
            path: what,
            source: err.into(),
        }
    }

    /// Opens the directory of the last component, checking each one on the way;
    /// `None` when one is missing and `create` is false.
    fn parent_dir(
        anchor: &Path,
        parts: &[Vec<u8>],
        create: bool,
    ) -> Result<Option<OwnedFd>, WriteFileError> {
        // The anchor is the user's: reached as named, links included.
        let mut dir: OwnedFd = rfs::open(
            anchor,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(anchor.display().to_string()))?;
        for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
            let here = shown(&parts[..=i]);
            match rfs::statat(&dir, name(part), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => {}
                    FileType::Symlink => return Err(WriteFileError::Link(here)),
                    _ => return Err(WriteFileError::NotADirectory(here)),
                },
                Err(Errno::NOENT) if create => {
                    match rfs::mkdirat(&dir, name(part), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(err) => return Err(io(here)(err)),
                    }
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(err) => return Err(io(here)(err)),
            }
            // NOFOLLOW again: a link put there since the check is refused here.
            dir = match rfs::openat(&dir, name(part), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::LOOP | Errno::NOTDIR) => return Err(WriteFileError::Link(here)),
                Err(err) => return Err(io(here)(err)),
            };
        }
        Ok(Some(dir))
    }

    /// What is at the last name in `dir`, with a regular file's mode.
    fn existing(dir: &OwnedFd, parts: &[Vec<u8>]) -> Result<Option<(Found, u32)>, WriteFileError> {
        let target = shown(parts);
        let last = parts.last().expect("a name");
        match rfs::statat(dir, name(last), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => Ok(Some((Found::File, st.st_mode & 0o7777))),
                FileType::Symlink => Ok(Some((Found::Link, 0))),
                FileType::Directory => Err(WriteFileError::Directory(target)),
                _ => Err(WriteFileError::NotAFile(target)),
            },
            Err(Errno::NOENT) => Ok(None),
            Err(err) => Err(io(target)(err)),
        }
    }

    pub(super) fn probe(anchor: &Path, path: &TreePath) -> Result<Found, WriteFileError> {
        let parts = path.components();
        match parent_dir(anchor, parts, false)? {
            Some(dir) => Ok(existing(&dir, parts)?.map_or(Found::Nothing, |(found, _)| found)),
            None => Ok(Found::Nothing),
        }
    }

    pub(super) fn write(
        anchor: &Path,
        path: &TreePath,
        contents: &[u8],
        options: Options,
    ) -> Result<Written, WriteFileError> {
        let parts = path.components();
        let last = parts.last().expect("write checks for a name");
        let Some(dir) = parent_dir(anchor, parts, options.create_dirs)? else {
            return Err(WriteFileError::MissingDirectory(shown(
                &parts[..parts.len() - 1],
            )));
        };
        let existing = existing(&dir, parts)?;
        let target = shown(parts);
        let mode = match existing {
            Some((Found::Link, _)) if !options.replace_link => {
                return Err(WriteFileError::Link(target))
            }
            Some((Found::File, mode)) if options.keep_mode => mode,
            _ => options.mode,
        };
        let temp = temporary_name(last);
        let fd = rfs::openat(
            &dir,
            name(&temp),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(io(target.clone()))?;
        let written = (|| -> std::io::Result<()> {
            rfs::fchmod(&fd, Mode::from_bits_truncate(mode))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(contents)?;
            file.sync_all()?;
            rfs::renameat(dir.as_fd(), name(&temp), dir.as_fd(), name(last))?;
            Ok(())
        })();
        if let Err(source) = written {
            let _ = rfs::unlinkat(&dir, name(&temp), AtFlags::empty());
            return Err(WriteFileError::Io {
                path: target,
                source,
            });
        }
        Ok(if existing.is_some() {
            Written::Replaced
        } else {
            Written::Created
        })
    }
}

/// Path-based fallback for systems without `openat`: every component checked with
/// `symlink_metadata` before the temporary file is written and renamed.
#[cfg(not(unix))]
mod imp {
    use std::fs;
    use std::io::Write;
    use std::path::Path;

    use super::{shown, temporary_name, Found, Options, WriteFileError, Written};
    use crate::tree::TreePath;

    pub(super) fn probe(anchor: &Path, path: &TreePath) -> Result<Found, WriteFileError> {
        let parts = path.components();
        let mut dir = anchor.to_path_buf();
        for (i, part) in parts.iter().enumerate() {
            dir.push(String::from_utf8_lossy(part).into_owned());
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() && i + 1 == parts.len() => {
                    return Ok(Found::Link)
                }
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(WriteFileError::Link(shown(&parts[..=i])))
                }
                Ok(m) if i + 1 == parts.len() => {
                    return if m.is_file() {
                        Ok(Found::File)
                    } else if m.is_dir() {
                        Err(WriteFileError::Directory(shown(parts)))
                    } else {
                        Err(WriteFileError::NotAFile(shown(parts)))
                    }
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(WriteFileError::NotADirectory(shown(&parts[..=i]))),
                Err(_) => return Ok(Found::Nothing),
            }
        }
        Ok(Found::Nothing)
    }

    pub(super) fn write(
        anchor: &Path,
        path: &TreePath,
        contents: &[u8],
        options: Options,
    ) -> Result<Written, WriteFileError> {
        let _ = options.mode;
        let parts = path.components();
        let (last, parents) = parts.split_last().expect("write checks for a name");
        let utf8 = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        let mut dir = anchor.to_path_buf();
        for (i, part) in parents.iter().enumerate() {
            let here = shown(&parts[..=i]);
            dir.push(utf8(part));
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => return Err(WriteFileError::Link(here)),
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(WriteFileError::NotADirectory(here)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && options.create_dirs => {
                    fs::create_dir(&dir)
                        .map_err(|source| WriteFileError::Io { path: here, source })?;
                }
                Err(_) => return Err(WriteFileError::MissingDirectory(here)),
            }
        }
        let target = shown(parts);
        let file_path = dir.join(utf8(last));
        let existing = match fs::symlink_metadata(&file_path) {
            Ok(m) if m.file_type().is_symlink() && options.replace_link => true,
            Ok(m) if m.file_type().is_symlink() => return Err(WriteFileError::Link(target)),
            Ok(m) if m.is_dir() => return Err(WriteFileError::Directory(target)),
            Ok(m) if m.is_file() => true,
            Ok(_) => return Err(WriteFileError::NotAFile(target)),
            Err(_) => false,
        };
        let temp = dir.join(utf8(&temporary_name(last)));
        let result = (|| -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(contents)?;
            file.sync_all()?;
            fs::rename(&temp, &file_path)
        })();
        if let Err(source) = result {
            let _ = fs::remove_file(&temp);
            return Err(WriteFileError::Io {
                path: target,
                source,
            });
        }
        Ok(if existing {
            Written::Replaced
        } else {
            Written::Created
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_are_refused_as_the_file_and_on_the_way() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        symlink(outside.path(), root.path().join("dir")).expect("link");
        symlink(outside.path().join("f"), root.path().join("f")).expect("link");
        match write(root.path(), "dir/x", b"x", Options::FILE) {
            Err(WriteFileError::Link(l)) => assert_eq!(l, "dir"),
            other => panic!("{other:?}"),
        }
        match write(root.path(), "f", b"x", Options::FILE) {
            Err(WriteFileError::Link(l)) => assert_eq!(l, "f"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 0);
        assert!(matches!(
            write(root.path(), "../x", b"x", Options::FILE),
            Err(WriteFileError::Name(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_is_created_then_replaced_with_its_mode_kept() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            write(root.path(), "a/b/c.txt", b"one", Options::FILE).expect("write"),
            Written::Created
        );
        let path = root.path().join("a/b/c.txt");
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            write(root.path(), "a/b/c.txt", b"two", Options::FILE).expect("write"),
            Written::Replaced
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(mode(&path), 0o600);
        let exec = Options {
            mode: 0o755,
            keep_mode: false,
            create_dirs: false,
            replace_link: false,
        };
        write(root.path(), "a/b/c.txt", b"three", exec).expect("write");
        assert_eq!(mode(&path), 0o755);
        // Nothing left behind but the file.
        assert_eq!(
            std::fs::read_dir(root.path().join("a/b"))
                .expect("ls")
                .count(),
            1
        );
        assert!(matches!(
            write(root.path(), "missing/x", b"x", exec),
            Err(WriteFileError::MissingDirectory(_))
        ));
    }
}
