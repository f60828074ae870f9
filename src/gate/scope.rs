//! Which packages a comparison analyses ([`crate::select`] on the head's package
//! graph), why every package is analysed when it is, and what keys the findings cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::allowlist;
use crate::git::{Changes, Repo, Revision};
use crate::go::{self, BuildSettings, GoEnv};
use crate::select::symbols::{self, Change, FileSymbols, PackageSymbols};
use crate::select::{self, PackageInfo, Selection};

use super::analyse::read_worktree;

/// Which packages a comparison analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Packages of the head analysed (built with `-m`) on both sides.
    pub analysed: usize,
    /// Packages of the head in all, those the build section leaves out included.
    pub total: usize,
    /// Packages of the head that the build section (`packages`, `exclude`) leaves out.
    #[serde(default)]
    pub excluded: usize,
    /// Why every package was analysed, when it was.
    pub all_because: Option<String>,
    /// The selected import paths; `None` means every package.
    pub selected: Option<BTreeSet<String>>,
    /// Packages of the head that import a changed package, directly or not, but refer
    /// to none of the declarations the change can reach, so were not analysed (the
    /// package-level rule would have analysed them).
    #[serde(default)]
    pub unaffected: usize,
    /// The head's main packages: their symbols are `main.F` in a profile, and their
    /// `default.pgo` is the profile a PGO build uses.
    #[serde(default)]
    pub mains: Vec<MainPackage>,
}

/// A main package of the head.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MainPackage {
    pub import_path: String,
    /// Repository-relative directory, `""` for the root.
    pub dir: String,
    /// Whether the directory has a `default.pgo` (a regular file).
    pub default_pgo: bool,
}

impl MainPackage {
    /// The main packages of a listing of `tree`.
    pub(crate) fn of(listing: &crate::go::Listing, tree: &std::path::Path) -> Vec<MainPackage> {
        listing
            .packages
            .iter()
            .filter(|p| p.name == "main")
            .map(|p| {
                let mut main = MainPackage {
                    import_path: p.import_path.clone(),
                    dir: p.dir.clone(),
                    default_pgo: false,
                };
                main.default_pgo = std::fs::symlink_metadata(tree.join(main.default_pgo_path()))
                    .is_ok_and(|m| m.is_file());
                main
            })
            .collect()
    }

    /// `cmd/server/default.pgo`.
    pub fn default_pgo_path(&self) -> String {
        if self.dir.is_empty() {
            "default.pgo".to_string()
        } else {
            format!("{}/default.pgo", self.dir)
        }
    }
}

impl Scope {
    pub(crate) fn includes(&self, import_path: &str) -> bool {
        self.selected
            .as_ref()
            .is_none_or(|s| s.contains(import_path))
    }

    pub(crate) fn key(&self) -> String {
        match &self.selected {
            None => "all".to_string(),
            // Length-prefixed, so no set of import paths reads as another.
            Some(set) => set
                .iter()
                .map(|p| format!("{}:{p}", p.len()))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// This build of escape-gate: its version, and the size and time of its executable, so
/// that a rebuilt binary (a development build, an upgrade) never reads what another one
/// cached.
pub(super) fn build_id() -> String {
    let exe = std::env::current_exe()
        .and_then(|p| p.metadata())
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{}+{exe}", env!("CARGO_PKG_VERSION"))
}

/// Why the change can affect every package, if it can: a module or workspace file, a
/// PGO profile or vendored code changed (see [`select::affects_everything`]), or a build
/// constraint changed. (A change to the ruling `build` section is decided by the
/// caller, from the [`crate::config_change::ConfigChange`] it already has.)
pub(super) fn everything_changed(
    repo: &Repo,
    changes: &Changes,
    base: git2::Oid,
    head: &Revision,
) -> Result<Option<String>> {
    // The modules the build knows, by the one rule (go.work's `use`s included).
    let base_modules = repo.go_modules(base).unwrap_or_default();
    let head_text = |path: &str| -> Option<String> {
        match head.commit {
            Some(commit) => repo.read_file(commit, path),
            None => read_worktree(repo, path),
        }
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let base_text = |path: &str| {
        repo.read_file(base, path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    // A submodule's files are not in git's diff of the two trees, only its commit.
    if let Some(sub) = changes.submodules.first() {
        return Ok(Some(format!("the submodule {sub} changed")));
    }
    for path in &changes.paths {
        if let Some(reason) = select::affects_everything(path) {
            return Ok(Some(reason));
        }
        // A file below a directory `./...` skips (`_gen/`, `testdata/`) within its
        // module is in no package a build compiles, so its constraints change nothing.
        // Its module is the nearest one of the build's (a go.work's `use ./_tools`
        // included).
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let module_dir = base_modules
            .iter()
            .map(|m| m.dir.as_str())
            .filter(|m| m.is_empty() || dir == *m || dir.starts_with(&format!("{m}/")))
            .max_by_key(|m| m.len())
            .unwrap_or("");
        let rest = dir[module_dir.len()..].trim_start_matches('/');
        let built = !rest.split('/').any(crate::modules::is_skipped_dir);
        if built && path.ends_with(".go") && !path.ends_with("_test.go") {
            if let (Some(b), Some(h)) = (base_text(path), head_text(path)) {
                if select::constraints_differ(&b, &h) {
                    return Ok(Some(format!("the build constraints of {path} changed")));
                }
            }
        }
    }
    Ok(None)
}

/// Where the sources of the two sides are, for symbol-level selection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sources<'a> {
    pub repo: &'a Repo,
    pub base: git2::Oid,
    /// The head's checkout.
    pub tree: &'a Path,
}

/// The packages of the head to analyse for `changed` paths: those the change touches
/// and, of the packages that import them, those that refer to what changed
/// ([`crate::select::symbols`]).
pub(super) fn scope_of(
    listing: &go::Listing,
    changed: &[String],
    all_because: Option<String>,
    sources: Sources,
) -> Scope {
    let analysable = || listing.packages.iter().filter(|p| !p.excluded);
    let total = listing.packages.len();
    let excluded = total - analysable().count();
    let infos: Vec<PackageInfo> = listing
        .packages
        .iter()
        .map(|p| PackageInfo {
            import_path: p.import_path.clone(),
            dir: p.dir.clone(),
            imports: p.imports.clone(),
            embeds: p.embeds.clone(),
            cgo: p.cgo,
        })
        .collect();
    // A package deleted by the change has no head package to select it; its import
    // path still names it on the base side, and its importers changed with it.
    let mut deleted = BTreeSet::new();
    for path in changed {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        if listing.packages.iter().any(|p| p.dir == dir) {
            continue;
        }
        if let Some(import_path) = go::import_path_of(&listing.modules, dir) {
            deleted.insert(import_path);
        }
    }
    let selection = match all_because {
        Some(reason) => Selection::All(reason),
        None => select::select_from(changed, &infos, &deleted),
    };
    match selection {
        Selection::All(reason) => Scope {
            analysed: total - excluded,
            total,
            excluded,
            all_because: Some(reason),
            selected: None,
            unaffected: 0,
            mains: Vec::new(),
        },
        Selection::Some(package_level) => {
            let set = by_symbols(&infos, changed, &deleted, &package_level, sources);
            let count = |set: &BTreeSet<String>| {
                analysable()
                    .filter(|p| set.contains(&p.import_path))
                    .count()
            };
            Scope {
                analysed: count(&set),
                total,
                excluded,
                all_because: None,
                unaffected: count(&package_level) - count(&set),
                selected: Some(set),
                mains: Vec::new(),
            }
        }
    }
}

/// Narrows the package-level selection to the packages whose escape analysis the
/// changed declarations can reach ([`crate::select::symbols`]).
fn by_symbols(
    infos: &[PackageInfo],
    changed: &[String],
    deleted: &BTreeSet<String>,
    package_level: &BTreeSet<String>,
    sources: Sources,
) -> BTreeSet<String> {
    let direct = select::changed_packages(changed, infos, deleted);
    let by_path: BTreeMap<&str, &PackageInfo> =
        infos.iter().map(|p| (p.import_path.as_str(), p)).collect();
    // Only the selected packages and what they depend on matter.
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = package_level.iter().map(String::as_str).collect();
    while let Some(p) = stack.pop() {
        if !wanted.insert(p) {
            continue;
        }
        if let Some(info) = by_path.get(p) {
            stack.extend(info.imports.iter().map(String::as_str));
        }
    }
    let mut packages: BTreeMap<String, PackageSymbols> = BTreeMap::new();
    for path in wanted {
        let Some(info) = by_path.get(path) else {
            continue;
        };
        let mut p = PackageSymbols {
            imports: info
                .imports
                .iter()
                .filter(|i| by_path.contains_key(i.as_str()))
                .cloned()
                .collect(),
            ..PackageSymbols::default()
        };
        for file in head_files(sources.tree, &info.dir) {
            p.dot_import |= file.dot_imports();
            if p.unreadable.is_none() {
                p.unreadable = file.unreadable.clone();
            }
            p.decls.extend(file.decls);
        }
        if let Some(d) = direct.get(path) {
            p.change = Some(match &d.whole {
                Some(why) => Change::Package(why.clone()),
                None => {
                    let files: Vec<(String, FileSymbols, FileSymbols, bool, bool)> = d
                        .go_files
                        .iter()
                        .map(|f| {
                            let (base, in_base) = base_file(sources, f);
                            let (head, in_head) = head_file(sources.tree, f);
                            (f.clone(), base, head, in_base, in_head)
                        })
                        .collect();
                    for (_, base, _, in_base, _) in &files {
                        if *in_base {
                            p.decls.extend(base.decls.iter().cloned());
                        }
                    }
                    let pairs: Vec<_> = files
                        .iter()
                        .map(|(f, b, h, in_b, in_h)| {
                            (f.as_str(), in_b.then_some(b), in_h.then_some(h))
                        })
                        .collect();
                    symbols::changed_decls(&pairs)
                }
            });
        }
        packages.insert(path.to_string(), p);
    }
    let states = symbols::propagate(&packages);
    package_level
        .iter()
        .filter(|p| deleted.contains(*p) || states.get(*p).is_none_or(|s| s.affected))
        .cloned()
        .collect()
}

/// The symbols of the Go files (not `_test.go`) of a directory of the head's checkout.
fn head_files(tree: &Path, dir: &str) -> Vec<FileSymbols> {
    let path = if dir.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(dir)
    };
    let Ok(entries) = std::fs::read_dir(&path) else {
        return vec![FileSymbols::unknown(
            "is in a directory that could not be read",
        )];
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        files.push(head_file(tree, &rel).0);
    }
    files
}

/// One file of the head's checkout, and whether it exists.
fn head_file(tree: &Path, rel: &str) -> (FileSymbols, bool) {
    let path = tree.join(rel);
    match std::fs::symlink_metadata(&path) {
        Err(_) => (FileSymbols::default(), false),
        Ok(m) if !m.is_file() => (FileSymbols::unknown("is not a regular file"), true),
        Ok(m) if m.len() > crate::go_syntax::MAX_SOURCE as u64 => {
            (FileSymbols::unknown("is over 16 MiB"), true)
        }
        Ok(_) => match std::fs::read(&path) {
            Ok(bytes) => (symbols::parse_file(&bytes), true),
            Err(_) => (FileSymbols::unknown("could not be read"), true),
        },
    }
}

/// One file of the base, and whether it exists.
fn base_file(sources: Sources, rel: &str) -> (FileSymbols, bool) {
    if !sources.repo.has_path(sources.base, rel) {
        return (FileSymbols::default(), false);
    }
    match sources.repo.read_file(sources.base, rel) {
        Some(bytes) => (symbols::parse_file(&bytes), true),
        None => (
            FileSymbols::unknown("could not be read from the base"),
            true,
        ),
    }
}

/// The build settings under which the base's `build` section would analyse the head:
/// its package patterns, exclusions and tags (plus the command line's), with the
/// ruling flags (listing packages does not depend on them, and the base's may not be
/// allowed any more).
pub(super) fn base_view_settings(
    base: &allowlist::BuildConfig,
    ruling: &BuildSettings,
    tags: &[String],
) -> BuildSettings {
    let mut settings = BuildSettings {
        packages: base.packages.clone(),
        exclude: base.exclude.clone(),
        tags: base.tags.clone(),
        flags: ruling.flags.clone(),
        compiler: ruling.compiler,
    };
    for tag in tags {
        if !settings.tags.contains(tag) {
            settings.tags.push(tag.clone());
        }
    }
    settings
}

/// The head packages that `base_view` analyses and the head's listing leaves out;
/// `None` when the base's settings cannot list the head (patterns that match nothing
/// there), and the report then says nothing rather than something untrue.
pub(super) fn no_longer_analysed(
    go: &GoEnv,
    tree: &Path,
    listing: &go::Listing,
    base_view: &BuildSettings,
    name: &str,
) -> Option<Vec<String>> {
    let analysed: BTreeSet<&str> = listing
        .packages
        .iter()
        .filter(|p| !p.excluded)
        .map(|p| p.import_path.as_str())
        .collect();
    // Patterns of the base's that match nothing in the head: not known, so not said.
    let base = go::list(go, tree, base_view, name).ok()?;
    let mut dropped: Vec<String> = base
        .packages
        .iter()
        .filter(|p| !p.excluded && !analysed.contains(p.import_path.as_str()))
        .map(|p| p.import_path.clone())
        .collect();
    dropped.sort();
    dropped.dedup();
    Some(dropped)
}

/// Whether analyses of these revisions may be cached: only commits are keyed by their
/// tree, and a `replace` or a symbolic link pointing outside the repository brings in
/// content the tree id does not cover. (A submodule's commit is in the tree id, but the
/// checkout depends on whether this clone has it: the caller leaves revisions with a
/// missing submodule out.)
pub(super) fn cacheable(repo: &Repo, base: &Revision, head: &Revision) -> bool {
    [base.commit, head.commit]
        .into_iter()
        .flatten()
        .all(|commit| {
            repo.go_module_files(commit).is_ok_and(|files| {
                files
                    .iter()
                    .all(|(path, text)| !crate::modules::leaves_repository(path, text))
            }) && repo.links_outside(commit).is_ok_and(|outside| !outside)
        })
}
