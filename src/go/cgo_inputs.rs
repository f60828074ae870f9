//! Inputs of cgo packages that the Go build cache does not hash.
//!
//! cmd/go keys a package's build (cmd/go/internal/work/exec.go, `buildActionID`) by the
//! files of its own directory (Go, C, headers, assembly, `.syso`), the files it embeds,
//! its flags and its dependencies. What cgo's C preprocessor reads from elsewhere is not
//! in the key: `#include "../inc/n.h"`, `#cgo CFLAGS: -I${SRCDIR}/../inc`, a header in a
//! subdirectory, any file of any name. Such a file decides the Go types and constants
//! cgo generates (`C.BUFN`), hence what escapes, and both sides build at the same path:
//! a head that changes only such a file would replay the base's compiler output.
//!
//! So every directory of the tree holding a Go file that may import "C" gets a header
//! of its own, `zz_escape_gate_cgo_inputs.h`, holding a digest of every file of the tree
//! that is not Go source (path and content, a link by its target). A header in the
//! package's directory is one of the files go hashes, and nothing includes it, so the
//! package's key changes exactly when one of those files does: a tree whose files are
//! unchanged keeps its cache entries, packages without cgo are untouched, and so are
//! the standard library's (a `-D` in `CGO_CPPFLAGS` would have reached runtime/cgo and
//! net, 7 s of recompiling on every new digest). The digest is the same on every
//! machine, so a shared cache's keys stay shared.
//!
//! Go files are left out of the digest, so that a change to Go code alone keeps every
//! cgo package's cache entries; a Go file used as a C header is not covered.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The name of the header, before any suffix that keeps it clear of the tree's files.
const MARKER: &str = "zz_escape_gate_cgo_inputs";

/// The largest Go file read to see whether it imports "C"; a larger one is taken to.
const MAX_GO_SCAN: u64 = 64 * 1024 * 1024;

/// Writes the digest header into every directory of `tree` (a fresh checkout) that
/// holds a Go file that may use cgo. Returns the directories, tree-relative.
pub fn mark_cgo_inputs(tree: &Path) -> Result<Vec<PathBuf>> {
    // Every file that is not Go source, and whether it is a link.
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut cgo_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = tree.join(&rel);
        let entries = fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let rel_path = rel.join(entry.file_name());
            // Not followed: a link is hashed by its target, as git stores it.
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", entry.path().display()))?;
            if kind.is_dir() {
                stack.push(rel_path);
                continue;
            }
            if entry.file_name().as_encoded_bytes().ends_with(b".go") {
                if may_use_cgo(&entry.path()) {
                    cgo_dirs.insert(rel.clone());
                }
                continue;
            }
            if kind.is_symlink() || kind.is_file() {
                files.push((rel_path, kind.is_symlink()));
            }
        }
    }
    // Nothing is read when no package uses cgo.
    if cgo_dirs.is_empty() {
        return Ok(Vec::new());
    }
    let mut inputs: Vec<(Vec<u8>, String)> = Vec::with_capacity(files.len());
    for (rel_path, link) in files {
        let path = tree.join(&rel_path);
        let id = if link {
            let target =
                fs::read_link(&path).with_context(|| format!("reading {}", path.display()))?;
            format!("link {}", hash(target.as_os_str().as_encoded_bytes())?)
        } else {
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            format!("file {}", hash(&bytes)?)
        };
        inputs.push((rel_path.as_os_str().as_encoded_bytes().to_vec(), id));
    }
    inputs.sort();
    let mut listing = Vec::new();
    for (path, id) in &inputs {
        listing.extend_from_slice(path);
        listing.push(0);
        listing.extend_from_slice(id.as_bytes());
        listing.push(b'\n');
    }
    let digest = hash(&listing)?;
    let text = format!(
        "/* escape-gate: the files of this tree that are not Go source, which cgo may \
         read and the Go build cache does not hash: {digest} */\n"
    );
    for rel in &cgo_dirs {
        write_marker(&tree.join(rel), &text)?;
    }
    Ok(cgo_dirs.into_iter().collect())
}

/// Writes the header into `dir` under the first of `zz_escape_gate_cgo_inputs.h`,
/// `zz_escape_gate_cgo_inputs_1.h`, … that the tree does not have: a file of the tree
/// is never replaced. The name is part of the key, and the same for the same tree.
fn write_marker(dir: &Path, text: &str) -> Result<()> {
    for n in 0..1000u32 {
        let name = match n {
            0 => format!("{MARKER}.h"),
            n => format!("{MARKER}_{n}.h"),
        };
        let path = dir.join(name);
        // `create_new` follows no link and replaces nothing.
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                return file
                    .write_all(text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()));
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("writing {}", path.display()));
            }
        }
    }
    anyhow::bail!(
        "{} holds a thousand files named {MARKER}*.h; escape-gate cannot add its own\n\
         hint: rename them",
        dir.display()
    )
}

/// Whether a Go file may import "C": it holds `"C"` or `` `C` `` anywhere. A file too
/// large to read is taken to; what is not a regular file (through a link) is not read.
fn may_use_cgo(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    if meta.len() > MAX_GO_SCAN {
        return true;
    }
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    bytes.windows(3).any(|w| w == b"\"C\"" || w == b"`C`")
}

/// Git's blob id of `bytes` (SHA-1 with collision detection): a digest no file can be
/// made to share with another.
fn hash(bytes: &[u8]) -> Result<String> {
    Ok(git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .context("hashing a file")?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    fn marker(root: &Path, dir: &str) -> String {
        fs::read_to_string(root.join(dir).join(format!("{MARKER}.h"))).expect("marker")
    }

    fn tree(header: &str, go: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp");
        write(dir.path(), "go.mod", "module m\n");
        write(dir.path(), "inc/n.h", header);
        write(
            dir.path(),
            "p/p.go",
            "package p\n\n// #include \"../inc/n.h\"\nimport \"C\"\n",
        );
        write(dir.path(), "q/q.go", go);
        dir
    }

    #[test]
    fn cgo_directories_get_a_digest_of_the_files_go_does_not_hash() {
        let a = tree("#define N 1\n", "package q\n");
        let b = tree("#define N 2\n", "package q\n");
        let c = tree("#define N 1\n", "package q\n\nfunc F() {}\n");
        let dirs = mark_cgo_inputs(a.path()).expect("mark");
        assert_eq!(dirs, vec![PathBuf::from("p")]);
        mark_cgo_inputs(b.path()).expect("mark");
        mark_cgo_inputs(c.path()).expect("mark");
        assert!(!a.path().join("q").join(format!("{MARKER}.h")).exists());
        // A header changed: another digest. Go code changed: the same one.
        assert_ne!(marker(a.path(), "p"), marker(b.path(), "p"));
        assert_eq!(marker(a.path(), "p"), marker(c.path(), "p"));
    }

    #[test]
    fn a_file_of_the_tree_with_the_markers_name_is_kept() {
        let a = tree("#define N 1\n", "package q\n");
        write(a.path(), &format!("p/{MARKER}.h"), "#define MINE 1\n");
        mark_cgo_inputs(a.path()).expect("mark");
        assert_eq!(marker(a.path(), "p"), "#define MINE 1\n");
        let ours = fs::read_to_string(a.path().join(format!("p/{MARKER}_1.h"))).expect("ours");
        assert!(ours.starts_with("/* escape-gate: "), "{ours}");
    }

    #[test]
    fn raw_string_imports_count() {
        let a = tree("", "package q\n\nimport `C`\n");
        assert_eq!(
            mark_cgo_inputs(a.path()).expect("mark"),
            vec![PathBuf::from("p"), PathBuf::from("q")]
        );
    }
}
