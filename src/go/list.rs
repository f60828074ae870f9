//! Which packages a tree has: its modules (by [`crate::modules`]' rule), the units
//! `go` runs in (each module, or the workspace), and `go list` of the build settings'
//! patterns less the excluded directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::flags::{check_patterns, resolve_flags, yaml_list};
use super::platform::imports_c;
use super::{canonical, go_command, rel_display, BuildSettings, GoEnv, Unit};
use crate::home::CONFIG_FILE;
use crate::interrupt;
use crate::modules::Module;

/// The packages of a tree that the gate may analyse, and its modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub modules: Vec<Module>,
    pub packages: Vec<Package>,
}

/// One package of a tree, as `go list` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub import_path: String,
    pub name: String,
    /// Tree-relative directory, `/`-separated, `""` for the root.
    pub dir: String,
    /// Direct imports.
    pub imports: Vec<String>,
    /// Tree-relative paths of the files it embeds.
    pub embeds: Vec<String>,
    /// Whether it has cgo files (`import "C"`).
    pub cgo: bool,
    /// Tree-relative paths of the Go files the build compiles (cgo files included).
    pub files: Vec<String>,
    /// Left out of the analysis by the build settings (`packages`, `exclude`), but
    /// part of the import graph.
    pub excluded: bool,
    /// The directory `go` runs in for it (its module's, or the workspace's).
    pub(super) unit: String,
}

/// Lists the packages of every module of `tree` (the build settings' patterns, less
/// the excluded directories). `side` names the revision in errors.
pub fn list(env: &GoEnv, tree: &Path, settings: &BuildSettings, side: &str) -> Result<Listing> {
    check_patterns(settings)?;
    let tree = canonical(tree)?;
    let modules = modules_of(&tree, side)?;
    let units = build_units(&tree, &modules)?;
    let patterns = effective_patterns(settings);
    let mut packages = Vec::new();
    for rel in &units {
        let unit = Unit::new(env, &tree, rel, settings, side);
        let mut listed = list_packages(&unit, &patterns)?;
        // Packages left out by the build settings still carry a change to the packages
        // that import them, so the import graph needs them too.
        if !settings.packages.is_empty() {
            let all = list_packages(&unit, &["./...".to_string()])?;
            for mut p in all {
                if !listed.iter().any(|l| l.import_path == p.import_path) {
                    p.excluded = true;
                    listed.push(p);
                }
            }
        }
        for p in &mut listed {
            p.excluded |= settings.exclude.iter().any(|pat| dir_matches(pat, &p.dir));
        }
        packages.extend(listed);
    }
    if packages.iter().all(|p| p.excluded) {
        bail!(
            "{side} has no Go packages to build (packages {}, exclude {})\n\
             hint: check the `build` section of {CONFIG_FILE}",
            yaml_list(&patterns),
            yaml_list(&settings.exclude)
        );
    }
    Ok(Listing { modules, packages })
}

pub(super) fn modules_of(tree: &Path, side: &str) -> Result<Vec<Module>> {
    let modules = find_modules(tree)?;
    if modules.is_empty() {
        bail!(
            "{side} has no go.mod: escape-gate compares Go modules\n\
             hint: run it in a repository with a go.mod (or a go.work), or pass --repo DIR"
        );
    }
    Ok(modules)
}

pub(super) fn effective_patterns(settings: &BuildSettings) -> Vec<String> {
    if settings.packages.is_empty() {
        vec!["./...".to_string()]
    } else {
        settings.packages.clone()
    }
}

pub(super) fn list_packages(unit: &Unit, patterns: &[String]) -> Result<Vec<Package>> {
    let Unit {
        env,
        tree,
        ref dir,
        rel: unit,
        settings,
        side,
    } = *unit;
    let mut cmd = go_command(env, tree, dir);
    cmd.args(["list", "-e", "-buildvcs=false"]);
    // The same tags and flags as the build, so that the packages listed are those it
    // compiles (a directory whose files all need a tag from build.flags included).
    cmd.args(resolve_flags(tree, settings, side)?);
    // The third field counts the files `go build` would compile: a directory with only
    // _test.go files (or files all excluded by build constraints) is a package to `go
    // list` but an error to `go build` when named explicitly; `./...` skips it, and so
    // do we. Embedded file names may hold spaces, so they are separated by \x1f.
    cmd.args([
        "-f",
        "{{.ImportPath}}\t{{.Name}}\t{{len .GoFiles}}{{len .CgoFiles}}{{len .InvalidGoFiles}}\t\
         {{join .Imports \" \"}}\t{{join .EmbedFiles \"\\x1f\"}}\t\
         {{range .GoFiles}}{{printf \"%x \" .}}{{end}}{{range .CgoFiles}}{{printf \"%x \" .}}{{end}}\t\
         {{len .CgoFiles}}\t{{.Dir}}",
    ]);
    // `--`: a pattern from the allowlist is a package, never a flag.
    cmd.arg("--");
    cmd.args(patterns);
    let output =
        interrupt::run_captured(&mut cmd).with_context(|| format!("running go list for {side}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{side}: `go list` failed in {}:\n{}\n\
             hint: check go.mod and go.work of {side} (`go list ./...` there shows the same error)",
            rel_display(tree, dir),
            super::build::withhold_outside(
                &stderr
                    .trim_end()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
                tree,
                unit
            )
            .join("\n")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut packages = Vec::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.splitn(8, '\t').collect();
        let [import_path, name, files, imports, embeds, go_files, cgo, pkg_dir] = fields[..] else {
            continue;
        };
        if files.bytes().all(|b| b == b'0') {
            continue;
        }
        let rel_dir = Path::new(pkg_dir)
            .strip_prefix(tree)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let in_dir = |names: &str| -> Vec<String> {
            names
                .split('\x1f')
                .filter(|e| !e.is_empty())
                .map(|e| {
                    if rel_dir.is_empty() {
                        e.to_string()
                    } else {
                        format!("{rel_dir}/{e}")
                    }
                })
                .collect()
        };
        let embeds = in_dir(embeds);
        // Hexadecimal, so that no byte of a name (a newline) can break the line.
        let go_files: Vec<String> = go_files
            .split_whitespace()
            .filter_map(unhex)
            .map(|name| {
                if rel_dir.is_empty() {
                    name
                } else {
                    format!("{rel_dir}/{name}")
                }
            })
            .collect();
        packages.push(Package {
            import_path: import_path.to_string(),
            name: name.to_string(),
            dir: rel_dir,
            imports: imports.split_whitespace().map(str::to_string).collect(),
            embeds,
            cgo: cgo != "0",
            files: go_files,
            excluded: false,
            unit: unit.to_string(),
        });
    }
    Ok(packages)
}

/// Decodes what Go's `%x` made of a file name (its bytes, as text read elsewhere).
fn unhex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// Matches a repository-relative directory against a Go-style pattern where `...`
/// matches any string (`internal/gen/...` is the directory and everything below).
pub fn dir_matches(pattern: &str, dir: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    if let Some(prefix) = pattern.strip_suffix("/...") {
        if dir == prefix {
            return true;
        }
    }
    wildcard_dots(pattern, dir)
}

pub(super) fn wildcard_dots(pattern: &str, text: &str) -> bool {
    match pattern.find("...") {
        None => pattern == text,
        Some(i) => {
            let (head, tail) = (&pattern[..i], &pattern[i + 3..]);
            if !text.starts_with(head) {
                return false;
            }
            let rest = &text[head.len()..];
            (0..=rest.len())
                .filter(|&j| rest.is_char_boundary(j))
                .any(|j| wildcard_dots(tail, &rest[j..]))
        }
    }
}

/// The modules of a tree on disk, by [`crate::modules`]' rule: the `go.mod` files the
/// walk finds outside the directories `./...` skips, plus those the root `go.work` uses.
pub fn find_modules(tree: &Path) -> Result<Vec<Module>> {
    let mut found = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = if rel.is_empty() {
            tree.to_path_buf()
        } else {
            tree.join(&rel)
        };
        let entries = fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if !crate::modules::is_skipped_dir(&name) {
                    stack.push(path);
                }
            } else if file_type.is_file() && crate::modules::is_module_file(&path) {
                let text =
                    fs::read_to_string(entry.path()).with_context(|| format!("reading {path}"))?;
                found.push((path, text));
            }
        }
    }
    let read = |rel: &str| fs::read_to_string(tree.join(rel)).ok();
    Ok(crate::modules::discover(&found, &read)?)
}

pub(super) fn build_units(tree: &Path, modules: &[Module]) -> Result<Vec<String>> {
    let work = tree.join("go.work");
    if !work.is_file() {
        return Ok(modules.iter().map(|m| m.dir.clone()).collect());
    }
    let text = fs::read_to_string(&work).context("reading go.work")?;
    let used = crate::modules::work_uses(&text);
    let known: BTreeMap<&str, &Module> = modules.iter().map(|m| (m.dir.as_str(), m)).collect();
    let mut units = Vec::new();
    for dir in used {
        if known.contains_key(dir.as_str()) {
            units.push(dir);
        }
    }
    if units.is_empty() {
        bail!("go.work uses no module of this repository\nhint: add `use ./yourmodule` to go.work");
    }
    Ok(units)
}

/// The packages of `tree` that need cgo on `env`'s platform: listed with
/// `CGO_ENABLED=1`, the packages the build settings do not exclude that have a file
/// importing "C", each with those files. For a platform other than the default one,
/// whose builds have no cgo (no C cross-compiler is assumed), so that the user hears
/// which package it is rather than a build error or, worse, an analysis without it.
pub fn cgo_packages(
    env: &GoEnv,
    tree: &Path,
    settings: &BuildSettings,
    side: &str,
) -> Result<Vec<(String, Vec<String>)>> {
    let mut with_cgo = env.clone();
    with_cgo.cgo = Some(true);
    let listing = list(&with_cgo, tree, settings, side)?;
    let mut out = Vec::new();
    for p in listing.packages.iter().filter(|p| !p.excluded) {
        let files: Vec<String> = p
            .files
            .iter()
            .filter(|f| {
                crate::tree::read_bytes_in_tree(tree, f, 64 * 1024 * 1024)
                    .is_ok_and(|b| imports_c(&String::from_utf8_lossy(&b)))
            })
            .cloned()
            .collect();
        if !files.is_empty() {
            out.push((p.import_path.clone(), files));
        }
    }
    Ok(out)
}
