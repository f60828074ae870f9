//! Package selection: the paths a change touched and the import graphs of both sides
//! in, the packages whose escape analysis the change can affect out. Pure.
//!
//! A package is affected when one of its compiled files changed, or when it imports an
//! affected package, directly or not: inlining and escape tags cross package
//! boundaries, so a change in a callee can make a caller's variable escape. Only
//! packages of the repository's own modules are considered; changes that can affect
//! every package (go.mod, go.sum, go.work, a PGO profile, vendored code, build
//! constraints, the allowlist's build section) select everything.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub mod symbols;

/// One package of a side, as `go list` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    pub import_path: String,
    /// Repository-relative directory, `/`-separated, `""` for the root.
    pub dir: String,
    /// Direct imports (import paths).
    pub imports: Vec<String>,
    /// Repository-relative paths of the files it embeds (`//go:embed`).
    pub embeds: Vec<String>,
    /// Whether it uses cgo, whose C code may include any file of the repository.
    pub cgo: bool,
}

/// What to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every package, and why.
    All(String),
    /// Only these import paths (possibly none).
    Some(BTreeSet<String>),
}

/// Why a changed path affects every package, if it does.
pub fn affects_everything(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let global = ["go.mod", "go.sum", "go.work", "go.work.sum", "default.pgo"];
    if global.contains(&name) {
        return Some(format!("{path} changed"));
    }
    if path.starts_with("vendor/") || path.contains("/vendor/") {
        return Some(format!("vendored code changed ({path})"));
    }
    // cgo compiles C with flags that can reach any directory (`-I../include`), and the
    // Go types it generates from C shape sizes, hence escapes.
    let c_like = ["h", "hh", "hpp", "hxx", "c", "cc", "cpp", "cxx", "m", "mm"];
    if let Some((_, ext)) = name.rsplit_once('.') {
        if c_like.contains(&ext) {
            return Some(format!("C code that cgo may use changed ({path})"));
        }
    }
    None
}

/// How the change touches one package directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Direct {
    /// Its changed `.go` files (not `_test.go`), repository-relative.
    pub go_files: Vec<String>,
    /// Why it is changed as a whole, when it is: another file of its directory (assembly,
    /// cgo sources, `.syso`) or a file it embeds changed, or it was deleted.
    pub whole: Option<String>,
}

/// The packages a change touches directly, by import path, with `seeds` (packages the
/// change deleted) among them.
pub fn changed_packages(
    changed: &[String],
    packages: &[PackageInfo],
    seeds: &BTreeSet<String>,
) -> BTreeMap<String, Direct> {
    let mut by_dir: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in packages {
        by_dir
            .entry(p.dir.as_str())
            .or_default()
            .insert(p.import_path.as_str());
    }
    let mut direct: BTreeMap<String, Direct> = BTreeMap::new();
    for seed in seeds {
        direct.entry(seed.clone()).or_default().whole = Some(format!("{seed} was deleted"));
    }
    for path in changed {
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path.as_str()),
        };
        if name.ends_with("_test.go") {
            // Tests are not part of `go build`.
            continue;
        }
        let in_dir = by_dir.get(dir).into_iter().flatten();
        if name.ends_with(".go") {
            for p in in_dir {
                direct
                    .entry(p.to_string())
                    .or_default()
                    .go_files
                    .push(path.clone());
            }
            continue;
        }
        // Any other file in a package's directory may be compiled with it (assembly,
        // cgo sources, .syso); anywhere, it may be embedded.
        for p in in_dir {
            direct
                .entry(p.to_string())
                .or_default()
                .whole
                .get_or_insert_with(|| format!("{path} changed"));
        }
        // cgo's C code may include a file of any name from anywhere in the repository
        // (`#include "../inc/table.def"`): a package that uses cgo is affected by every
        // file that is not Go source. (C and header files affect everything already.)
        for p in packages.iter().filter(|p| p.cgo) {
            direct
                .entry(p.import_path.clone())
                .or_default()
                .whole
                .get_or_insert_with(|| {
                    format!("{path} changed, and its C code may include any file")
                });
        }
        for p in packages {
            if p.embeds.iter().any(|e| e == path) {
                direct
                    .entry(p.import_path.clone())
                    .or_default()
                    .whole
                    .get_or_insert_with(|| format!("{path}, which it embeds, changed"));
            }
        }
    }
    direct
}

/// The packages to analyse for a change to `changed` paths, over one package graph,
/// with `seeds` (import paths) affected from the start, such as packages the change
/// deleted: the changed packages and every package that imports one, directly or not.
pub fn select_from(
    changed: &[String],
    packages: &[PackageInfo],
    seeds: &BTreeSet<String>,
) -> Selection {
    for path in changed {
        if let Some(reason) = affects_everything(path) {
            return Selection::All(reason);
        }
    }
    let direct = changed_packages(changed, packages, seeds);
    let mut affected: BTreeSet<&str> = direct.keys().map(String::as_str).collect();
    let mut importers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in packages {
        for import in &p.imports {
            importers
                .entry(import.as_str())
                .or_default()
                .insert(p.import_path.as_str());
        }
    }
    let mut queue: VecDeque<&str> = affected.iter().copied().collect();
    while let Some(pkg) = queue.pop_front() {
        if let Some(users) = importers.get(pkg) {
            for user in users {
                if affected.insert(user) {
                    queue.push_back(user);
                }
            }
        }
    }
    Selection::Some(affected.into_iter().map(str::to_string).collect())
}

/// Whether the `//go:build` (or `// +build`) lines of two versions of a Go file differ.
/// A changed constraint can move files between builds, so it selects everything.
pub fn constraints_differ(base: &str, head: &str) -> bool {
    constraint_lines(base) != constraint_lines(head)
}

fn constraint_lines(source: &str) -> Vec<&str> {
    // Constraints must come before the package clause.
    source
        .lines()
        .take_while(|l| !l.trim_start().starts_with("package "))
        .map(str::trim)
        .filter(|l| l.starts_with("//go:build") || l.starts_with("// +build"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The selection over both sides' packages: a package that exists on one side only
    /// is still selected by name.
    fn select(changed: &[String], base: &[PackageInfo], head: &[PackageInfo]) -> Selection {
        let packages: Vec<PackageInfo> = base.iter().chain(head).cloned().collect();
        select_from(changed, &packages, &BTreeSet::new())
    }

    fn pkg(import_path: &str, dir: &str, imports: &[&str]) -> PackageInfo {
        PackageInfo {
            import_path: import_path.to_string(),
            dir: dir.to_string(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            embeds: Vec::new(),
            cgo: false,
        }
    }

    fn graph() -> Vec<PackageInfo> {
        vec![
            pkg("m", "", &["m/app", "fmt"]),
            pkg("m/app", "app", &["m/core", "m/util"]),
            pkg("m/core", "core", &["m/util", "strings"]),
            pkg("m/util", "util", &["strings"]),
            pkg("m/leaf", "leaf", &["fmt"]),
            PackageInfo {
                embeds: vec!["assets/static/logo.svg".into()],
                ..pkg("m/assets", "assets", &[])
            },
        ]
    }

    fn some(paths: &[&str]) -> Selection {
        Selection::Some(paths.iter().map(|s| s.to_string()).collect())
    }

    fn changed(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn selection_follows_reverse_dependencies() {
        let g = graph();
        let cases: &[(&[&str], Selection)] = &[
            (&["leaf/leaf.go"], some(&["m/leaf"])),
            (&["util/u.go"], some(&["m", "m/app", "m/core", "m/util"])),
            (&["core/c.go"], some(&["m", "m/app", "m/core"])),
            (&["main.go"], some(&["m"])),
            (&["util/u_test.go", "README.md"], some(&["m"])),
            (&["docs/guide.md"], some(&[])),
            (&["assets/static/logo.svg"], some(&["m/assets"])),
            (&["assets/static/other.svg"], some(&[])),
            (&["leaf/asm_amd64.s"], some(&["m/leaf"])),
            (
                &["include/codec.h"],
                Selection::All("C code that cgo may use changed (include/codec.h)".into()),
            ),
            (&["go.sum"], Selection::All("go.sum changed".into())),
            (
                &["tools/go.mod"],
                Selection::All("tools/go.mod changed".into()),
            ),
            (
                &["default.pgo"],
                Selection::All("default.pgo changed".into()),
            ),
            (
                &["vendor/modules.txt"],
                Selection::All("vendored code changed (vendor/modules.txt)".into()),
            ),
        ];
        for (paths, want) in cases {
            assert_eq!(&select(&changed(paths), &g, &g), want, "{paths:?}");
        }
    }

    #[test]
    fn any_file_but_go_source_affects_packages_that_use_cgo() {
        let mut g = graph();
        g.push(PackageInfo {
            cgo: true,
            ..pkg("m/cgo", "cgo", &[])
        });
        g.push(pkg("m/cgouser", "cgouser", &["m/cgo"]));
        let cases: &[(&[&str], Selection)] = &[
            (&["inc/table.def"], some(&["m/cgo", "m/cgouser"])),
            (&["docs/guide.md"], some(&["m/cgo", "m/cgouser"])),
            (&["inc/table.go"], some(&[])),
            (&["leaf/leaf.go"], some(&["m/leaf"])),
        ];
        for (paths, want) in cases {
            assert_eq!(&select(&changed(paths), &g, &g), want, "{paths:?}");
        }
    }

    #[test]
    fn packages_of_either_side_count() {
        let base = vec![pkg("m/old", "old", &[]), pkg("m/user", "user", &["m/old"])];
        let head = vec![pkg("m/user", "user", &[])];
        assert_eq!(
            select(&changed(&["old/o.go", "user/u.go"]), &base, &head),
            some(&["m/old", "m/user"])
        );
        let head = vec![pkg("m/new", "new", &[]), pkg("m/user", "user", &["m/new"])];
        assert_eq!(
            select(&changed(&["new/n.go"]), &base, &head),
            some(&["m/new", "m/user"])
        );
    }

    #[test]
    fn build_constraint_changes_are_seen() {
        let cases = [
            ("package a\n", "package a\n", false),
            (
                "//go:build linux\n\npackage a\n",
                "//go:build linux\n\npackage a\n// x\n",
                false,
            ),
            (
                "//go:build linux\n\npackage a\n",
                "//go:build linux || darwin\n\npackage a\n",
                true,
            ),
            ("package a\n", "//go:build ignore\n\npackage a\n", true),
            ("package a\n//go:build x\n", "package a\n", false),
        ];
        for (base, head, want) in cases {
            assert_eq!(constraints_differ(base, head), want, "{base:?} -> {head:?}");
        }
    }
}
