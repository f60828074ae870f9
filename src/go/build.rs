//! Compiling: `go list -export -gcflags=-m` of the chosen packages in each unit, the
//! compiler's stderr parsed line by line as it arrives, file names placed in the tree.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::flags::resolve_flags;
use super::list::{list_packages, modules_of, Listing, Package};
use super::paths::{
    by_suffix, go_files, import_path_of, is_unplaced, is_windows_absolute, relocate_existing,
    relocate_flow,
};
use super::{canonical, go_command, rel_display, BuildSettings, Detail, GoEnv, Unit};
use crate::interrupt::{self, TempTree};
use crate::modules::Module;
use crate::parse::{ParsedOutput, Parser};

/// What the compiler said for one side, and where its modules live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOutput {
    /// The compiler's output, parsed as it was printed.
    pub parsed: ParsedOutput,
    pub modules: Vec<Module>,
    /// Import paths of the packages analysed.
    pub packages: Vec<String>,
    /// Built `-trimpath`: the file names are the compiler's, import-path based
    /// (`example.com/m/sub/f.go`, `mod@v1.2.3/f.go`, `slices/sort.go`), and
    /// [`BuildOutput::locate`] maps them to the tree.
    pub trimmed: bool,
}

impl BuildOutput {
    /// Maps a file name from the compiler (already made tree-relative by the build, see
    /// [`relocate`](super::paths::relocate), or as printed by a `-trimpath` build) to the tree-relative path and
    /// the import path of its package, when the file belongs to one of the tree's
    /// modules. Standard library, module cache and generated files give `None`.
    pub fn locate(&self, file: &str) -> Option<(String, String)> {
        if self.trimmed {
            return locate_trimmed(&self.modules, file);
        }
        // Only Go files count: a `//line` directive can name a grammar file.
        if file.starts_with('/')
            || file.starts_with('<')
            || file.starts_with("../")
            || is_windows_absolute(file)
            || !file.ends_with(".go")
        {
            return None;
        }
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        let package = import_path_of(&self.modules, dir)?;
        Some((file.to_string(), package))
    }
}

/// [`BuildOutput::locate`] for a `-trimpath` build. cmd/go rewrites each package's
/// directory to its import path (cmd/go/internal/work/gc.go, `trimpath`), or to
/// `module@version/…` for a package of a module with a version (the module cache, and
/// modules replaced by a directory), so a name is the tree's exactly when its directory
/// is the import path of a package of one of the tree's modules, which have no version:
/// the module whose path is the longest prefix of it (Go allows no two modules of a
/// build to provide one import path, and no module path to be a standard library one).
/// The file is then at the module's directory joined with the rest. No name is ever
/// guessed from the tree's files: what cmd/go printed decides.
fn locate_trimmed(modules: &[Module], file: &str) -> Option<(String, String)> {
    if file.starts_with('/')
        || file.starts_with('<')
        || file.starts_with('.')
        || file.contains('\\')
        || is_windows_absolute(file)
        || !file.ends_with(".go")
    {
        return None;
    }
    let (dir, base) = file.rsplit_once('/')?;
    if dir
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == ".." || part.contains('@'))
    {
        return None;
    }
    let candidates: Vec<&Module> = modules
        .iter()
        .filter(|m| {
            dir == m.path
                || (dir.starts_with(m.path.as_str())
                    && dir.as_bytes().get(m.path.len()) == Some(&b'/'))
        })
        .collect();
    let longest = candidates.iter().map(|m| m.path.len()).max()?;
    let mut best = candidates.into_iter().filter(|m| m.path.len() == longest);
    let module = best.next()?;
    // Two modules of the tree with the same path: a trimmed name cannot say which one
    // it is in, so it is not placed (the finding is compared as printed, never given
    // to the other module's file, where an allowlist entry could cover it).
    if best.next().is_some() {
        return None;
    }
    let rest = dir[module.path.len()..].trim_start_matches('/');
    let rel = [module.dir.as_str(), rest, base]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    Some((rel, dir.to_string()))
}

/// Builds the listed packages that `selected` accepts with `-m`, returning the
/// compiler's output. Nothing is built when it accepts none.
pub fn build_selected(
    env: &GoEnv,
    tree: &Path,
    listing: &Listing,
    selected: &dyn Fn(&str) -> bool,
    settings: &BuildSettings,
    side: &str,
) -> Result<BuildOutput> {
    let tree = canonical(tree)?;
    let mut out = BuildOutput {
        modules: listing.modules.clone(),
        trimmed: env.trimpath,
        ..BuildOutput::default()
    };
    let mut by_unit: BTreeMap<&str, Vec<Package>> = BTreeMap::new();
    for p in listing
        .packages
        .iter()
        .filter(|p| !p.excluded && selected(&p.import_path))
    {
        by_unit.entry(p.unit.as_str()).or_default().push(p.clone());
    }
    for (rel, packages) in by_unit {
        let unit = Unit::new(env, &tree, rel, settings, side);
        run_build(&unit, &packages, Detail::Summary, &mut out)?;
    }
    out.packages.sort();
    out.packages.dedup();
    Ok(out)
}

/// Builds only `packages` (import paths of the tree's modules) at the given detail,
/// each in the directory of its module, with the same tags and flags as [`build_selected`].
/// Their dependencies were compiled by the first build, so this recompiles just these
/// packages (or replays them from the cache).
pub fn build_packages(
    env: &GoEnv,
    tree: &Path,
    settings: &BuildSettings,
    packages: &[String],
    detail: Detail,
    side: &str,
) -> Result<BuildOutput> {
    let tree = canonical(tree)?;
    let modules = modules_of(&tree, side)?;
    let mut by_module: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for package in packages {
        let module = modules
            .iter()
            .filter(|m| {
                package == &m.path
                    || (package.starts_with(m.path.as_str())
                        && package.as_bytes().get(m.path.len()) == Some(&b'/'))
            })
            .max_by_key(|m| m.path.len())
            .ok_or_else(|| {
                anyhow!(
                    "{package} is not a package of {side}\n\
                     hint: this is a bug in escape-gate; please report it with the repository's layout"
                )
            })?;
        by_module
            .entry(module.dir.as_str())
            .or_default()
            .push(package.clone());
    }
    let mut out = BuildOutput {
        modules: modules.clone(),
        trimmed: env.trimpath,
        ..BuildOutput::default()
    };
    for (rel, patterns) in by_module {
        let unit = Unit::new(env, &tree, rel, settings, side);
        let listed = list_packages(&unit, &patterns)?;
        run_build(&unit, &listed, detail, &mut out)?;
    }
    out.packages.sort();
    out.packages.dedup();
    Ok(out)
}

/// The longest line of compiler output kept whole. The compiler shortens long
/// expressions and string literals itself (`"xxx..."`), so real lines are short, but
/// an identifier or a path can be as long as a hostile tree makes it; a longer line is
/// kept cut, as an unrecognised line, never as a finding.
pub(super) const MAX_OUTPUT_LINE: usize = 64 * 1024;

/// One compilation (`go list -export`) of `packages` in `dir`, appending the
/// compiler's output to `out`.
pub(super) fn run_build(
    unit: &Unit,
    packages: &[Package],
    detail: Detail,
    out: &mut BuildOutput,
) -> Result<()> {
    let Unit {
        env,
        tree,
        ref dir,
        settings,
        side,
        ..
    } = *unit;
    if packages.is_empty() {
        return Ok(());
    }
    let flags = resolve_flags(tree, settings, side)?;
    // go list applies a PGO profile only once go's cache holds its preprocessed form
    // (see `pgo`): without this, the escapes would be a PGO build's or not depending on
    // what the user's cache holds.
    for profile in super::pgo::profiles(unit, packages, &flags)? {
        super::pgo::preprocess(unit, &profile)?;
    }
    let mut cmd = go_command(env, tree, dir);
    // `go list -export` compiles the packages (or replays them from the build cache),
    // printing the compiler's diagnostics as `go build` does, but links nothing: no
    // linker runs, so no linker flag can run a program or write a file, and no main
    // package costs a link. It exits 1 when a package does not compile.
    // -trimpath (in GOFLAGS, see `go_command`) only with a shared cache: otherwise the
    // tree's path is the same for both sides (and every run), so the build cache, which
    // then keys packages by directory, is shared between them, and standard library
    // packages come from the entries ordinary builds left there.
    // One -gcflags with everything the checks need: one build gives every check its lines.
    let gcflags = settings.compiler.gcflags(detail == Detail::Flow);
    cmd.args(["list", "-export", "-buildvcs=false", gcflags.as_str()]);
    cmd.args(flags);
    // `--`: whatever follows is a package, never a flag.
    cmd.arg("--");
    cmd.args(packages.iter().map(|p| p.import_path.as_str()));
    // go's own work directory, so that an interrupted build leaves nothing behind.
    let work = TempTree::new("gotmp")?;
    cmd.env("GOTMPDIR", work.path());
    let mut parser = Parser::default();
    let status =
        interrupt::run_streaming(&mut cmd, MAX_OUTPUT_LINE, &mut |line| match line.cut_from {
            Some(len) => parser.cut_line(line.text, len),
            None if is_module_progress(line.text) => {}
            None => parser.line(line.text),
        })
        .with_context(|| format!("running go list -export for {side}"))?;
    if !status.success() {
        let errors = compiler_errors(parser.unrecognised_lines(), unit);
        bail!(
            "{side} does not build, so its escapes cannot be known (go list -export {}):\n{errors}\n\
             hint: fix the build of {side} (run `go build ./...` there), or compare other revisions",
            ended(status)
        );
    }
    let mut parsed = parser.finish();
    // A build that succeeds still relays the C compiler's warnings, which quote the
    // file they are about (a `#line` directive can name any file of the machine).
    parsed.unrecognised = withhold_outside(&parsed.unrecognised, tree, unit.rel);
    // With -trimpath the names are import-path based, the same whichever directory go
    // ran in or stored the cache entry from: `locate` reads them as printed, but for
    // the tree's modules that this unit uses under a version (see `versioned_names`).
    if env.trimpath {
        versioned_names(unit, packages, &out.modules, &mut parsed)?;
    } else {
        relocate_all(tree, dir, packages, &out.modules, &mut parsed);
    }
    out.parsed.findings.extend(parsed.findings);
    out.parsed.inline_calls.extend(parsed.inline_calls);
    out.parsed.checked.extend(parsed.checked);
    out.parsed.unrecognised.extend(parsed.unrecognised);
    out.parsed.informational += parsed.informational;
    out.packages
        .extend(packages.iter().map(|p| p.import_path.clone()));
    Ok(())
}

/// Whether a `-trimpath` name is `module@version/…`.
fn is_versioned(name: &str) -> bool {
    name.rsplit_once('/')
        .is_some_and(|(dir, _)| dir.contains('@'))
}

/// Renames `module@version/…` names of a `-trimpath` build that are files of the tree.
///
/// cmd/go names a package's files after its module's path and version when the module
/// has one, and a module of the tree has one when this unit uses it through a
/// `replace` directive pointing at its directory (`replace example.com/b => ../b`):
/// generic code of that module instantiated here, or an `-m=2` flow through it, is then
/// printed as `example.com/b@v1.2.3/b.go`, which the module cache's copy would be too.
/// Only go knows which copy this build used, so it is asked (`go list -deps`, only when
/// such a name appears), and each dependency whose directory is in the tree gets the
/// import-path name of that directory, which [`BuildOutput::locate`] places. Names of
/// copies outside the tree are left as printed: outside the repository.
fn versioned_names(
    unit: &Unit,
    packages: &[Package],
    modules: &[Module],
    parsed: &mut ParsedOutput,
) -> Result<()> {
    let versioned = parsed.findings.iter().any(|f| {
        is_versioned(&f.file)
            || f.flow
                .iter()
                .any(|s| crate::parse::split_step(s).is_some_and(|(_, file, _)| is_versioned(file)))
    });
    if !versioned {
        return Ok(());
    }
    let Unit {
        env,
        tree,
        ref dir,
        side,
        ..
    } = *unit;
    let mut cmd = go_command(env, tree, dir);
    cmd.args(["list", "-e", "-deps", "-buildvcs=false"]);
    cmd.args(resolve_flags(tree, unit.settings, side)?);
    cmd.args([
        "-f",
        "{{with .Module}}{{.Path}}\t{{.Version}}\t{{end}}{{.ImportPath}}\t{{.Dir}}",
        "--",
    ]);
    cmd.args(packages.iter().map(|p| p.import_path.as_str()));
    let output = interrupt::run_captured(&mut cmd)
        .with_context(|| format!("running go list -deps for {side}"))?;
    if !output.status.success() {
        bail!(
            "{side}: `go list -deps` failed in {}:\n{}\n\
             hint: check go.mod and go.work of {side}",
            rel_display(tree, dir),
            withhold_outside(
                &String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
                tree,
                unit.rel
            )
            .join("\n")
        );
    }
    // The printed directory (`example.com/b@v1.2.3/sub`) → the import-path name of the
    // tree directory it is.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let [module, version, import_path, pkg_dir] = line.splitn(4, '\t').collect::<Vec<_>>()[..]
        else {
            continue;
        };
        let Ok(rel) = Path::new(pkg_dir).strip_prefix(tree) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let (Some(rest), false) = (import_path.strip_prefix(module), version.is_empty()) else {
            continue;
        };
        if let Some(name) = import_path_of(modules, &rel) {
            names.insert(format!("{module}@{version}{rest}"), name);
        }
    }
    let rename = |file: &str| -> Option<String> {
        let (dir, base) = file.rsplit_once('/')?;
        names.get(dir).map(|d| format!("{d}/{base}"))
    };
    for finding in &mut parsed.findings {
        if let Some(name) = rename(&finding.file) {
            finding.file = name;
        }
        for step in &mut finding.flow {
            if let Some((what, file, numbers)) = crate::parse::split_step(step) {
                if let Some(name) = rename(file) {
                    *step = format!("{what} at {name}{numbers}");
                }
            }
        }
    }
    Ok(())
}

/// Makes the file names of a build without `-trimpath`, run in `dir`, tree-relative.
fn relocate_all(
    tree: &Path,
    dir: &Path,
    packages: &[Package],
    modules: &[Module],
    parsed: &mut ParsedOutput,
) {
    let unit = dir
        .strip_prefix(tree)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    // A package's output replayed from the build cache keeps the names of the run
    // that stored it, which may have run in another module's directory (the same
    // package before a go.mod was added or removed): a name that does not resolve from
    // this unit is tried from the other module directories and the root.
    let mut units: Vec<&str> = vec![unit.as_str()];
    units.extend(modules.iter().map(|m| m.dir.as_str()));
    units.push("");
    let mut files: Option<Vec<String>> = None;
    for finding in parsed.findings.iter_mut().chain(parsed.checked.iter_mut()) {
        let mut name = relocate_existing(tree, &units, &finding.file);
        if is_unplaced(tree, &name) {
            // Stored by a run in a directory that no module here has (the package was
            // in another module then): the tree file whose path ends with the name,
            // preferring the compiling package's directory.
            let files = files.get_or_insert_with(|| go_files(tree));
            let home = packages
                .iter()
                .find(|p| p.import_path == finding.block.split(' ').next().unwrap_or(""))
                .map(|p| p.dir.as_str());
            if let Some(found) = by_suffix(files, &finding.file, home) {
                name = found;
            }
        }
        finding.file = name;
        for step in &mut finding.flow {
            *step = relocate_flow(tree, &unit, step);
        }
    }
    for call in &mut parsed.inline_calls {
        call.file = relocate_existing(tree, &units, &call.file);
    }
}

/// How a process ended, for messages: `exited with code 1`, `was killed by signal 9`.
pub(super) fn ended(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    "ended without an exit code".to_string()
}

/// `go: downloading example.com/dep v1.2.3`: the go command fetching a dependency,
/// not something the compiler said.
pub(super) fn is_module_progress(line: &str) -> bool {
    ["go: downloading ", "go: finding ", "go: extracting "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// The lines of a failed build worth showing: everything but `-m` diagnostics, with
/// what the compilers said about files outside the checkout withheld
/// ([`withhold_outside`]).
pub(super) fn compiler_errors(lines: &[String], unit: &Unit) -> String {
    const MAX: usize = 40;
    let lines = withhold_outside(lines, unit.tree, unit.rel);
    let mut text: Vec<String> = lines.iter().take(MAX).map(|l| format!("  {l}")).collect();
    if lines.len() > MAX {
        text.push(format!("  … and {} more lines", lines.len() - MAX));
    }
    text.join("\n")
}

/// `lines` of go's output (run in `rel`, tree-relative, of the canonical `tree`), with
/// every diagnostic about a file outside the checkout replaced by one line naming the
/// file, and the lines that continue it (gcc's quoted source and carets, indented
/// notes) dropped. A pull request can `#include` any file of the machine, or point a
/// `#line` directive at one, and gcc then quotes its lines (and the words it trips
/// on) in its errors: a runner's secrets would reach the log.
///
/// A diagnostic is a line whose path is followed by `:LINE` or by `: In`/`: At`
/// (gcc's "In function", "At top level"), after an optional `In file included from `
/// or `from `. The path is inside when it is relative and stays in the tree from the
/// directory go ran in (go prints paths relative to it), absolute below the tree, or
/// in go's own work directory (`$WORK`, the files cgo generated from the checkout).
pub(super) fn withhold_outside(lines: &[String], tree: &Path, rel: &str) -> Vec<String> {
    let depth = rel.split('/').filter(|p| !p.is_empty()).count();
    let mut out = Vec::new();
    let mut named = std::collections::BTreeSet::new();
    let mut hiding = false;
    for line in lines {
        match diagnostic_path(line) {
            Some(path) if is_outside(path, tree, depth) => {
                hiding = true;
                if named.insert(path.to_string()) {
                    out.push(format!(
                        "{}: outside the repository; what the compiler said about it is not shown",
                        crate::tree::printable(path.as_bytes())
                    ));
                }
            }
            Some(_) => {
                hiding = false;
                out.push(line.clone());
            }
            // gcc's quoted lines and carets, and indented continuations, belong to the
            // diagnostic before them.
            None if hiding
                && (line.starts_with([' ', '\t']) || line.trim_start().starts_with('|')) => {}
            None => {
                hiding = false;
                out.push(line.clone());
            }
        }
    }
    out
}

/// The file a compiler diagnostic is about, if `line` is one (see [`withhold_outside`]).
fn diagnostic_path(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in ["In file included from ", "from ", "go: "] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r;
            break;
        }
    }
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(i) = rest[from..].find(':') {
        let at = from + i;
        let after = &rest[at + 1..];
        if at > 0
            && (bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
                || after.starts_with(" In ")
                || after.starts_with(" At "))
        {
            return Some(&rest[..at]);
        }
        from = at + 1;
    }
    None
}

fn is_outside(path: &str, tree: &Path, depth: usize) -> bool {
    if path.starts_with("$WORK/") {
        return false;
    }
    if path.starts_with('/') {
        let lexical = super::lexical(Path::new(path));
        return !lexical.starts_with(tree) || lexical == tree;
    }
    crate::tree::leaves_tree(depth, path)
}
