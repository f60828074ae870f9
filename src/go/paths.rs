//! File names the compiler printed, placed in the tree: made tree-relative from the
//! directory `go` ran in, found again when a cached package was compiled elsewhere,
//! and mapped to import paths.

use std::fs;
use std::path::{Path, PathBuf};

use crate::modules::Module;

/// The import path of a tree-relative directory: its module's path (the module with the
/// longest directory holding it) joined with the rest of the directory.
pub fn import_path_of(modules: &[Module], dir: &str) -> Option<String> {
    let module = modules
        .iter()
        .filter(|m| {
            m.dir.is_empty()
                || dir == m.dir
                || (dir.starts_with(m.dir.as_str())
                    && dir.as_bytes().get(m.dir.len()) == Some(&b'/'))
        })
        .max_by_key(|m| m.dir.len())?;
    let rest = if module.dir.is_empty() {
        dir
    } else {
        dir[module.dir.len()..].trim_start_matches('/')
    };
    Some(if rest.is_empty() {
        module.path.clone()
    } else {
        format!("{}/{rest}", module.path)
    })
}

pub(super) fn is_windows_absolute(file: &str) -> bool {
    let b = file.as_bytes();
    b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// Makes a file name the compiler printed tree-relative. Without `-trimpath` it prints
/// names relative to the directory `go` ran in (`unit`, tree-relative) when that is
/// shorter (`./a.go`, `sub/b.go`, `../lib/c.go`), else absolute. A name outside the tree
/// comes back absolute or starting with `../`, which [`BuildOutput::locate`](super::BuildOutput::locate) rejects.
pub fn relocate(tree: &Path, unit: &str, file: &str) -> String {
    if file.starts_with('<') {
        return file.to_string();
    }
    let path = Path::new(file);
    if path.is_absolute() || is_windows_absolute(file) {
        return match path.strip_prefix(tree) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => file.to_string(),
        };
    }
    let mut parts: Vec<&str> = unit.split('/').filter(|p| !p.is_empty()).collect();
    for part in file.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return format!("../{file}");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// [`relocate`] against each of `units` in turn, keeping the first name that is a file
/// in the tree; the first unit's name when none is.
pub(super) fn relocate_existing(tree: &Path, units: &[&str], file: &str) -> String {
    let first = relocate(tree, units.first().copied().unwrap_or(""), file);
    if first.starts_with('/')
        || first.starts_with('<')
        || first.starts_with("../")
        || tree.join(&first).is_file()
    {
        return first;
    }
    units
        .iter()
        .skip(1)
        .map(|unit| relocate(tree, unit, file))
        .find(|name| !name.starts_with("../") && tree.join(name).is_file())
        .unwrap_or(first)
}

/// A tree-relative Go file name that is not a file in the tree.
pub(super) fn is_unplaced(tree: &Path, name: &str) -> bool {
    let outside = name.starts_with('/') || name.starts_with('<') || name.starts_with("../");
    !outside && name.ends_with(".go") && !tree.join(name).is_file()
}

/// Every `.go` file of the tree, tree-relative.
pub(super) fn go_files(tree: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "go") => {
                    if let Ok(rel) = path.strip_prefix(tree) {
                        files.push(rel.to_string_lossy().replace('\\', "/"));
                    }
                }
                _ => {}
            }
        }
    }
    files
}

/// The file of `files` whose path ends with `name` (as printed, `./` and `../` parts
/// dropped): the one in `home` if several do, none if that does not decide.
pub(super) fn by_suffix(files: &[String], name: &str, home: Option<&str>) -> Option<String> {
    let tail: Vec<&str> = name
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let tail = tail.join("/");
    let matches: Vec<&String> = files
        .iter()
        .filter(|f| *f == &tail || f.ends_with(&format!("/{tail}")))
        .collect();
    match matches.as_slice() {
        [one] => Some((*one).clone()),
        [] => None,
        several => {
            let home = home?;
            let in_home: Vec<&&String> = several
                .iter()
                .filter(|f| f.rsplit_once('/').map_or("", |(d, _)| d) == home)
                .collect();
            match in_home.as_slice() {
                [one] => Some((**one).clone()),
                _ => None,
            }
        }
    }
}

/// [`relocate`] for the position at the end of an `-m=2` flow step (`from … at POS`).
pub fn relocate_flow(tree: &Path, unit: &str, line: &str) -> String {
    let Some((what, file, numbers)) = crate::parse::split_step(line) else {
        return line.to_string();
    };
    format!("{what} at {}{numbers}", relocate(tree, unit, file))
}

/// `path` with `.` and `..` components resolved as text, links not followed.
pub(crate) fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
