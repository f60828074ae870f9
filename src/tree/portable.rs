//! Path-based fallback for systems without `openat`: every ancestor is checked with
//! `symlink_metadata` and created by this module, every file created new. Compiled on
//! Unix for its tests.

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
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Source::Missing),
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
