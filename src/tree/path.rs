//! Paths built from checked names, and where links in a tree lead.

use std::fmt;

use super::name::{check_name, os_name, BadName, MAX_DEPTH};

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
