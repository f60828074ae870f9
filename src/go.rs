//! The "Build" stage: a materialised tree in, the compiler's `-m` output out.
//!
//! Both sides of a comparison are built by the same `go` with the same settings:
//! `GOTOOLCHAIN=local` so a `toolchain` line cannot switch compilers between sides, in
//! the same directory one after the other (so the build cache, which keys packages by
//! directory when builds are not `-trimpath`, serves the second side everything the
//! change did not touch, and the standard library from ordinary builds), and
//! `-gcflags=-m` on the command line's packages only, so the standard library and
//! dependencies stay quiet. Packages are compiled with `go list -export`, which runs
//! the compiler exactly as `go build` does but never the linker: escape analysis needs
//! no executable, and a linker run is both time and a way for a hostile flag to run a
//! program. File names are made tree-relative as the output is parsed. A failing build
//! is an error that names the side; it is never read as "no escapes".
//!
//! The allowlist's `build.flags` come from the revision under test, so they are
//! checked against a list of flags known to be safe ([`check_flags`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::interrupt::{self, TempTree};
use crate::parse::{ParsedOutput, Parser};

/// The `go` command on PATH and what it builds for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoEnv {
    pub go: PathBuf,
    /// `go1.26.8`
    pub version: String,
    pub goos: String,
    pub goarch: String,
    /// Every `go env` setting that changes the compiler's decisions, for cache keys.
    pub fingerprint: String,
}

/// The `go env` variables that can change escape analysis or inlining for the same
/// source: the toolchain, the target and its microarchitecture level, experiments and
/// FIPS mode (which swaps inlined standard library code), cgo and its compiler and
/// flags (which shape the Go types cgo generates), flags, the workspace file.
const FINGERPRINT_VARS: [&str; 20] = [
    "GOVERSION",
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GO386",
    "GOPPC64",
    "GORISCV64",
    "GOMIPS",
    "GOWASM",
    "GOEXPERIMENT",
    "GOFIPS140",
    "CGO_ENABLED",
    "CC",
    "CGO_CFLAGS",
    "CGO_CPPFLAGS",
    "GOFLAGS",
    "GOWORK",
    "GOROOT",
];

impl GoEnv {
    /// Finds `go` on PATH and asks it for its version and target.
    pub fn detect() -> Result<GoEnv> {
        let go = find_on_path("go").ok_or_else(|| {
            anyhow!(
                "the `go` command was not found on PATH\n\
                 hint: install Go (https://go.dev/dl/) and make sure `go version` works in this shell"
            )
        })?;
        let output = interrupt::run_captured(
            Command::new(&go)
                .arg("env")
                .args(FINGERPRINT_VARS)
                .env("GOTOOLCHAIN", "local"),
        )
        .with_context(|| format!("running {} env", go.display()))?;
        if !output.status.success() {
            bail!(
                "`{} env` failed:\n{}\nhint: check the Go installation (`go env` shows the same error)",
                go.display(),
                String::from_utf8_lossy(&output.stderr).trim_end()
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let values: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
        let value = |i: usize| values.get(i).cloned().unwrap_or_default();
        let (version, goos, goarch) = (value(0), value(1), value(2));
        let fingerprint = FINGERPRINT_VARS
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name}={}", value(i)))
            .collect::<Vec<_>>()
            .join(" ");
        if version.is_empty() {
            bail!(
                "`{} env GOVERSION` printed nothing\nhint: use Go 1.22 or newer (`go version`)",
                go.display()
            );
        }
        Ok(GoEnv {
            go,
            version,
            goos,
            goarch,
            fingerprint,
        })
    }

    /// `go1.26.8 linux/amd64`
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.version, self.goos, self.goarch)
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let exe = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(&exe))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// What to build, from the allowlist's `build` section and the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// Package patterns, resolved in each module's directory; `./...` when empty.
    pub packages: Vec<String>,
    /// Repository-relative directory patterns to leave out (`internal/gen/...`).
    pub exclude: Vec<String>,
    pub tags: Vec<String>,
    /// Extra `go build` flags, the same for both sides.
    pub flags: Vec<String>,
}

pub use crate::modules::Module;

/// What the compiler said for one side, and where its modules live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOutput {
    /// The compiler's output, parsed as it was printed.
    pub parsed: ParsedOutput,
    pub modules: Vec<Module>,
    /// Import paths of the packages analysed.
    pub packages: Vec<String>,
}

impl BuildOutput {
    /// Maps a file name from the compiler (already made tree-relative by the build, see
    /// [`relocate`]) to the tree-relative path and the import path of its package, when
    /// the file belongs to one of the tree's modules. Standard library, module cache and
    /// generated files give `None`.
    pub fn locate(&self, file: &str) -> Option<(String, String)> {
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

fn is_windows_absolute(file: &str) -> bool {
    let b = file.as_bytes();
    b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
}

/// Makes a file name the compiler printed tree-relative. Without `-trimpath` it prints
/// names relative to the directory `go` ran in (`unit`, tree-relative) when that is
/// shorter (`./a.go`, `sub/b.go`, `../lib/c.go`), else absolute. A name outside the tree
/// comes back absolute or starting with `../`, which [`BuildOutput::locate`] rejects.
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
fn relocate_existing(tree: &Path, units: &[&str], file: &str) -> String {
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
fn is_unplaced(tree: &Path, name: &str) -> bool {
    let outside = name.starts_with('/') || name.starts_with('<') || name.starts_with("../");
    !outside && name.ends_with(".go") && !tree.join(name).is_file()
}

/// Every `.go` file of the tree, tree-relative.
fn go_files(tree: &Path) -> Vec<String> {
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
fn by_suffix(files: &[String], name: &str, home: Option<&str>) -> Option<String> {
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

/// How much the compiler is asked to say about each escape.
///
/// `-m=2` adds, for every heap allocation, the flow that explains it, but it prints
/// several times as much text, and a different flag is a different build-cache key. The
/// gate therefore builds everything with `-m` and, only when an explanation is wanted,
/// rebuilds the few packages that hold new escapes with `-m=2` (see [`build_packages`]
/// and the measurement in the README, "Explaining and accepting escapes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// `-gcflags=-m`: one line per decision.
    Summary,
    /// `-gcflags=-m=2`: plus the escape flow of every heap allocation.
    Flow,
}

impl Detail {
    fn gcflags(self) -> &'static str {
        match self {
            Detail::Summary => "-gcflags=-m",
            Detail::Flow => "-gcflags=-m=2",
        }
    }
}

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
    /// Left out of the analysis by the build settings (`packages`, `exclude`), but
    /// part of the import graph.
    pub excluded: bool,
    /// The directory `go` runs in for it (its module's, or the workspace's).
    unit: String,
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
    for unit in &units {
        let dir = unit_dir(&tree, unit);
        let mut listed = list_packages(env, &tree, &dir, unit, settings, &patterns, side)?;
        // Packages left out by the build settings still carry a change to the packages
        // that import them, so the import graph needs them too.
        if !settings.packages.is_empty() {
            let all = list_packages(
                env,
                &tree,
                &dir,
                unit,
                settings,
                &["./...".to_string()],
                side,
            )?;
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
             hint: check the `build` section of .escape-gate.yml",
            yaml_list(&patterns),
            yaml_list(&settings.exclude)
        );
    }
    Ok(Listing { modules, packages })
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
    for (unit, packages) in by_unit {
        let dir = unit_dir(&tree, unit);
        run_build(
            env,
            &tree,
            &dir,
            &packages,
            settings,
            Detail::Summary,
            side,
            &mut out,
        )?;
    }
    out.packages.sort();
    out.packages.dedup();
    Ok(out)
}

fn unit_dir(tree: &Path, unit: &str) -> PathBuf {
    if unit.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(unit)
    }
}

/// Builds only `packages` (import paths of the tree's modules) at the given detail,
/// each in the directory of its module, with the same tags and flags as [`build`].
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
        ..BuildOutput::default()
    };
    for (unit, patterns) in by_module {
        let dir = unit_dir(&tree, unit);
        let listed = list_packages(env, &tree, &dir, unit, settings, &patterns, side)?;
        run_build(env, &tree, &dir, &listed, settings, detail, side, &mut out)?;
    }
    out.packages.sort();
    out.packages.dedup();
    Ok(out)
}

fn canonical(tree: &Path) -> Result<PathBuf> {
    let path = tree
        .canonicalize()
        .with_context(|| format!("resolving {}", tree.display()))?;
    // Windows gives `\\?\C:\…`, which `go` never prints.
    #[cfg(windows)]
    let path = match path.to_str().and_then(|p| p.strip_prefix(r"\\?\")) {
        Some(plain) if !plain.starts_with("UNC") => PathBuf::from(plain),
        _ => path,
    };
    Ok(path)
}

fn modules_of(tree: &Path, side: &str) -> Result<Vec<Module>> {
    let modules = find_modules(tree)?;
    if modules.is_empty() {
        bail!(
            "{side} has no go.mod: escape-gate compares Go modules\n\
             hint: run it in a repository with a go.mod (or a go.work), or pass --repo DIR"
        );
    }
    Ok(modules)
}

/// The longest line of compiler output kept whole. The compiler shortens long
/// expressions and string literals itself (`"xxx..."`), so real lines are short, but
/// an identifier or a path can be as long as a hostile tree makes it; a longer line is
/// kept cut, as an unrecognised line, never as a finding.
const MAX_OUTPUT_LINE: usize = 64 * 1024;

/// One compilation (`go list -export`) of `packages` in `dir`, appending the
/// compiler's output to `out`.
#[allow(clippy::too_many_arguments)]
fn run_build(
    env: &GoEnv,
    tree: &Path,
    dir: &Path,
    packages: &[Package],
    settings: &BuildSettings,
    detail: Detail,
    side: &str,
    out: &mut BuildOutput,
) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let flags = resolve_flags(tree, settings, side)?;
    let mut cmd = go_command(env, dir);
    // `go list -export` compiles the packages (or replays them from the build cache),
    // printing the compiler's diagnostics as `go build` does, but links nothing: no
    // linker runs, so no linker flag can run a program or write a file, and no main
    // package costs a link. It exits 1 when a package does not compile.
    // No -trimpath: the tree's path is the same for both sides (and every run), so the
    // build cache, which then keys packages by directory, is shared between them, and
    // standard library packages come from the entries ordinary builds left there.
    cmd.args(["list", "-export", "-buildvcs=false", detail.gcflags()]);
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
        let errors = compiler_errors(parser.unrecognised_lines());
        bail!(
            "{side} does not build, so its escapes cannot be known (go list -export {}):\n{errors}\n\
             hint: fix the build of {side} (run `go build ./...` there), or compare other revisions",
            ended(status)
        );
    }
    let mut parsed = parser.finish();
    let unit = dir
        .strip_prefix(tree)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    // A package's output replayed from the build cache keeps the names of the run
    // that stored it, which may have run in another module's directory (the same
    // package before a go.mod was added or removed): a name that does not resolve from
    // this unit is tried from the other module directories and the root.
    let mut units: Vec<&str> = vec![unit.as_str()];
    units.extend(out.modules.iter().map(|m| m.dir.as_str()));
    units.push("");
    let mut files: Option<Vec<String>> = None;
    for finding in &mut parsed.findings {
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
    out.parsed.findings.extend(parsed.findings);
    out.parsed.unrecognised.extend(parsed.unrecognised);
    out.parsed.informational += parsed.informational;
    out.packages
        .extend(packages.iter().map(|p| p.import_path.clone()));
    Ok(())
}

fn go_command(env: &GoEnv, dir: &Path) -> Command {
    let mut cmd = Command::new(&env.go);
    // go takes its working directory from $PWD when that names the same directory;
    // the caller's $PWD names another one, so set it to what the file names in the
    // compiler's output are made relative to.
    cmd.current_dir(dir)
        .env("PWD", dir)
        .env("GOTOOLCHAIN", "local");
    // -trimpath in the user's GOFLAGS would make the compiler print import-path names,
    // which are not paths in the tree: every finding would look like it came from
    // outside the repository, and the gate would pass. Both sides are built without it.
    if let Some(flags) = std::env::var_os("GOFLAGS") {
        let flags = flags.to_string_lossy().into_owned();
        let kept: Vec<&str> = flags
            .split_whitespace()
            .filter(|f| !is_trimpath_flag(f))
            .collect();
        cmd.env("GOFLAGS", kept.join(" "));
    }
    cmd
}

fn is_trimpath_flag(flag: &str) -> bool {
    let name = flag.trim_start_matches('-');
    name == "trimpath" || name.starts_with("trimpath=")
}

/// Checks extra `go build` flags from the allowlist's `build.flags` against an
/// allowlist. The file comes from the revision being checked, so in a pull request a
/// stranger writes it: only flags that run no program, write no file, read no file
/// outside the tree, still compile every package, and leave the compiler's output where
/// and as escape-gate reads it are accepted. Everything else is refused with the reason.
///
/// | flag | why it is safe |
/// |---|---|
/// | `-tags=LIST` | selects which files of the tree are compiled; nothing else |
/// | `-mod=readonly\|vendor\|mod` | how go.mod is used; `mod` may rewrite go.mod and go.sum, but only in escape-gate's temporary checkout |
/// | `-race`, `-msan`, `-asan` (alone or `=true`/`=false`) | instrument the compiled code; the C toolchain they need is the user's own `CC` |
/// | `-pgo=off\|auto` | turn profile-guided optimisation off, or use `default.pgo` from the tree |
/// | `-pgo=FILE` | a profile at a tree-relative path without `..`, checked at build time to be a regular file in the checkout (no link), and passed to go as that absolute path |
/// | `-p=N` | how many compilers run at once (1 to 1024) |
///
/// A flag may be written `-flag` or `--flag`; a flag with a value must have it in the
/// same item (`-tags=x`): an item after a bare `-tags` would be read by go as the value,
/// or as a package, which the list could not check.
pub fn check_flags(flags: &[String]) -> std::result::Result<(), String> {
    for flag in flags {
        if let Err(why) = check_flag(flag) {
            return Err(format!(
                "build.flags: {flag:?} is not allowed: {why} (allowed: {ALLOWED_FLAGS})"
            ));
        }
    }
    Ok(())
}

/// What [`check_flags`] accepts, for its messages.
const ALLOWED_FLAGS: &str =
    "-tags=LIST, -mod=readonly|vendor|mod, -race, -msan, -asan, -pgo=off|auto|FILE, -p=N";

/// Splits `-name=value`, `--name=value`, `-name` into the name and the value.
fn split_flag(flag: &str) -> Option<(&str, Option<&str>)> {
    let name = flag.strip_prefix("--").or_else(|| flag.strip_prefix('-'))?;
    if name.is_empty() || name.starts_with('-') {
        return None;
    }
    Some(match name.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (name, None),
    })
}

fn check_flag(flag: &str) -> std::result::Result<(), String> {
    let Some((name, value)) = split_flag(flag) else {
        return Err(
            "it is not a flag (package patterns belong in build.packages, and go would read \
             this as one)"
                .to_string(),
        );
    };
    let needs_value = |what: &str| {
        format!("-{name} takes {what}, written in the same item: \"-{name}=VALUE\" (a value in the next item is refused, go would read it unchecked)")
    };
    match (name, value) {
        ("tags", Some(_)) => Ok(()),
        ("tags", None) => Err(needs_value("a list of build tags")),
        ("mod", Some("readonly" | "vendor" | "mod")) => Ok(()),
        ("mod", Some(other)) => Err(format!(
            "-mod must be readonly, vendor or mod, not {other:?}"
        )),
        ("mod", None) => Err(needs_value("readonly, vendor or mod")),
        ("race" | "msan" | "asan", None | Some("true" | "false")) => Ok(()),
        ("race" | "msan" | "asan", Some(other)) => {
            Err(format!("-{name} is true or false, not {other:?}"))
        }
        ("pgo", Some("off" | "auto")) => Ok(()),
        ("pgo", Some(path)) => tree_relative(path)
            .map_err(|why| format!("-pgo=FILE must name a profile inside the repository: {why}")),
        ("pgo", None) => Err(needs_value("off, auto or a profile's path")),
        ("p", Some(n)) => match n.parse::<u32>() {
            Ok(1..=1024) => Ok(()),
            _ => Err(format!("-p is a number from 1 to 1024, not {n:?}")),
        },
        ("p", None) => Err(needs_value("a number")),
        _ => Err(refusal(name).to_string()),
    }
}

/// Why a flag that is not on the list is refused; the specific reason for those
/// `go help build` lists.
fn refusal(name: &str) -> &'static str {
    match name {
        "gcflags" => "escape-gate passes -gcflags=-m itself, and a second -gcflags replaces it",
        "trimpath" => "escape-gate builds without -trimpath to share the build cache with your builds, and maps file names itself",
        "o" => "it writes the build's output to a path of the file's choosing",
        "toolexec" => "it runs a program of the file's choosing instead of the compiler",
        "ldflags" => "it passes flags to the linker, which can run programs (-extld) and write files (-o); escape-gate does not link",
        "asmflags" | "gccgoflags" => "it passes arbitrary flags to a tool, which can read and write files",
        "compiler" => "escape analysis is the gc compiler's; another compiler reports none",
        "n" => "go would print the commands without running them: nothing would be compiled and every package would look free of escapes",
        "x" | "v" | "json" | "work" => "it changes what go prints, or keeps its work directory; escape-gate reads the compiler's plain output",
        "C" => "it makes go run in a directory of the file's choosing",
        "overlay" => "its JSON file replaces source files with files anywhere on disk",
        "modfile" => "it reads (and may write) a go.mod anywhere on disk",
        "pkgdir" | "installsuffix" => "it loads and installs packages in another directory",
        "a" => "it recompiles every package, the standard library included, and finds nothing more",
        "buildvcs" => "it runs version-control programs; escape-gate passes -buildvcs=false itself",
        "buildmode" | "linkshared" => "it changes how packages are linked and loads shared libraries; escape-gate does not link",
        "cover" | "covermode" | "coverpkg" => "coverage instrumentation changes the code, so its escapes are not those of the code you ship",
        "modcacherw" => "it changes the permissions of your module cache",
        _ => "it is not on escape-gate's list of build flags known to be safe",
    }
}

/// Checks that a path from the allowlist stays inside the tree: relative, without `..`,
/// `\`, NUL or a drive letter.
fn tree_relative(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("the path is empty");
    }
    if path.starts_with('/') || is_windows_absolute(path) || path.contains(':') {
        return Err("the path is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return Err("the path holds a backslash or NUL");
    }
    if path.split('/').any(|part| part == "..") {
        return Err("the path leaves the repository with ..");
    }
    Ok(())
}

/// The build settings' tags and extra flags as `go` gets them in `tree`. Tags from
/// `build.tags`, `--tags` and any `-tags=` in `build.flags` become one `-tags=`, since
/// go keeps only the last one given (a `-tags=` in the allowlist would otherwise drop
/// the user's `--tags`). A `-pgo=FILE` names the regular file at that tree-relative
/// path, absolute, so that it means the same in every module's directory, after
/// checking that no part of the path is a link (a link in a hostile tree could point
/// anywhere on disk).
fn resolve_flags(tree: &Path, settings: &BuildSettings, side: &str) -> Result<Vec<OsString>> {
    let mut tags: Vec<&str> = settings.tags.iter().map(String::as_str).collect();
    for flag in &settings.flags {
        if let Some(("tags", Some(list))) = split_flag(flag) {
            // go reads a comma-separated list (space-separated is the old form).
            tags.extend(list.split([',', ' ']).filter(|t| !t.is_empty()));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    tags.retain(|t| seen.insert(*t));
    let mut out = Vec::with_capacity(settings.flags.len() + 1);
    if !tags.is_empty() {
        out.push(OsString::from(format!("-tags={}", tags.join(","))));
    }
    for flag in &settings.flags {
        match split_flag(flag) {
            Some(("tags", _)) => {}
            Some(("pgo", Some(path))) if !matches!(path, "off" | "auto") => {
                let mut at = tree.to_path_buf();
                for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
                    at.push(part);
                    let meta = fs::symlink_metadata(&at).map_err(|_| {
                        anyhow!(
                            "build.flags: -pgo={path}: there is no such file in {side}\n\
                             hint: commit the profile, or use -pgo=auto with a default.pgo"
                        )
                    })?;
                    if meta.file_type().is_symlink() {
                        bail!(
                            "build.flags: -pgo={path}: {} is a link in {side}; the profile must be a regular file in the repository\n\
                             hint: commit the profile itself, not a link to it",
                            at.strip_prefix(tree).unwrap_or(&at).display()
                        );
                    }
                }
                if !fs::symlink_metadata(&at).is_ok_and(|m| m.is_file()) {
                    bail!(
                        "build.flags: -pgo={path} is not a file in {side}\n\
                         hint: name a profile file, or use -pgo=auto with a default.pgo"
                    );
                }
                let mut arg = OsString::from("-pgo=");
                arg.push(at.as_os_str());
                out.push(arg);
            }
            _ => out.push(OsString::from(flag)),
        }
    }
    Ok(out)
}

/// Whether extra flags name files whose content the tree id does not cover (a PGO
/// profile or an overlay): such builds analyse everything and are not cached.
pub fn flags_read_files(flags: &[String]) -> bool {
    flags.iter().any(|f| {
        let name = f.trim_start_matches('-');
        (name.starts_with("pgo=") && !matches!(&name[4..], "off" | "auto"))
            || name.starts_with("overlay=")
    })
}

/// Refuses package patterns that go would read as flags. They are passed after `--`
/// anyway; a pattern starting with `-` matches nothing, so saying so is kinder than
/// analysing less than the allowlist seems to ask for.
fn check_patterns(settings: &BuildSettings) -> Result<()> {
    for (field, patterns) in [
        ("packages", &settings.packages),
        ("exclude", &settings.exclude),
    ] {
        if let Some(bad) = patterns.iter().find(|p| p.starts_with('-')) {
            bail!(
                "build.{field}: {bad:?} is not a package pattern: it starts with `-`, and go would read it as a flag\n\
                 hint: build flags go under build.flags (only those escape-gate knows to be safe); \
                 patterns look like ./... or internal/gen/..."
            );
        }
    }
    Ok(())
}

/// `["./...", "./cmd/..."]`: a list as the allowlist spells it, for messages.
fn yaml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// How a process ended, for messages: `exited with code 1`, `was killed by signal 9`.
fn ended(status: std::process::ExitStatus) -> String {
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

fn effective_patterns(settings: &BuildSettings) -> Vec<String> {
    if settings.packages.is_empty() {
        vec!["./...".to_string()]
    } else {
        settings.packages.clone()
    }
}

fn list_packages(
    env: &GoEnv,
    tree: &Path,
    dir: &Path,
    unit: &str,
    settings: &BuildSettings,
    patterns: &[String],
    side: &str,
) -> Result<Vec<Package>> {
    let mut cmd = go_command(env, dir);
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
         {{join .Imports \" \"}}\t{{join .EmbedFiles \"\\x1f\"}}\t{{.Dir}}",
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
            stderr.trim_end()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut packages = Vec::new();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        let [import_path, name, files, imports, embeds, pkg_dir] = fields[..] else {
            continue;
        };
        if files.bytes().all(|b| b == b'0') {
            continue;
        }
        let rel_dir = Path::new(pkg_dir)
            .strip_prefix(tree)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let embeds = embeds
            .split('\x1f')
            .filter(|e| !e.is_empty())
            .map(|e| {
                if rel_dir.is_empty() {
                    e.to_string()
                } else {
                    format!("{rel_dir}/{e}")
                }
            })
            .collect();
        packages.push(Package {
            import_path: import_path.to_string(),
            name: name.to_string(),
            dir: rel_dir,
            imports: imports.split_whitespace().map(str::to_string).collect(),
            embeds,
            excluded: false,
            unit: unit.to_string(),
        });
    }
    Ok(packages)
}

fn rel_display(tree: &Path, dir: &Path) -> String {
    match dir.strip_prefix(tree) {
        Ok(p) if p.as_os_str().is_empty() => "the repository root".to_string(),
        Ok(p) => p.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}

/// `go: downloading example.com/dep v1.2.3`: the go command fetching a dependency,
/// not something the compiler said.
fn is_module_progress(line: &str) -> bool {
    ["go: downloading ", "go: finding ", "go: extracting "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// The lines of a failed build worth showing: everything but `-m` diagnostics.
fn compiler_errors(lines: &[String]) -> String {
    const MAX: usize = 40;
    let mut text: Vec<String> = lines.iter().take(MAX).map(|l| format!("  {l}")).collect();
    if lines.len() > MAX {
        text.push(format!("  … and {} more lines", lines.len() - MAX));
    }
    text.join("\n")
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

fn wildcard_dots(pattern: &str, text: &str) -> bool {
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

fn build_units(tree: &Path, modules: &[Module]) -> Result<Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flags_known_to_be_safe_are_accepted() {
        let accepted = [
            "-tags=integration,foo",
            "--tags=x",
            "-tags=",
            "-mod=readonly",
            "-mod=vendor",
            "--mod=mod",
            "-race",
            "-race=true",
            "-msan=false",
            "-asan",
            "-pgo=off",
            "-pgo=auto",
            "-pgo=profiles/cpu.pgo",
            "-pgo=./default.pgo",
            "-p=1",
            "-p=1024",
        ];
        for flag in accepted {
            assert_eq!(check_flags(&[flag.to_string()]), Ok(()), "{flag}");
        }
        let refused = [
            (
                "-ldflags=-linkmode=external \"-extld=sh -c 'touch x' x\"",
                "linker",
            ),
            ("-ldflags=-o=/tmp/x", "linker"),
            ("-gcflags=all=-l", "passes -gcflags=-m itself"),
            ("-trimpath", "without -trimpath"),
            ("-o=/tmp/x", "writes the build's output"),
            ("-toolexec=/bin/true", "runs a program"),
            ("--toolexec=/bin/true", "runs a program"),
            ("-n", "without running them"),
            ("-x", "changes what go prints"),
            ("-v", "changes what go prints"),
            ("-json", "changes what go prints"),
            ("-work", "work directory"),
            ("-C=/", "directory of the file's choosing"),
            ("-overlay=o.json", "files anywhere on disk"),
            ("-modfile=/tmp/go.mod", "go.mod anywhere"),
            ("-pkgdir=/tmp/p", "another directory"),
            ("-installsuffix=x", "another directory"),
            ("-a", "recompiles every package"),
            ("-asmflags=-I/", "arbitrary flags"),
            ("-gccgoflags=x", "arbitrary flags"),
            ("-compiler=gccgo", "another compiler"),
            ("-buildvcs=true", "version-control"),
            ("-buildmode=plugin", "does not link"),
            ("-linkshared", "does not link"),
            ("-cover", "coverage"),
            ("-coverpkg=./...", "coverage"),
            ("-modcacherw", "module cache"),
            ("-exec=x", "not on escape-gate's list"),
            ("-Race", "not on escape-gate's list"),
            ("---race", "not a flag"),
            ("-", "not a flag"),
            ("./...", "not a flag"),
            ("-tags", "in the same item"),
            ("-mod", "in the same item"),
            ("-pgo", "in the same item"),
            ("-p", "in the same item"),
            ("-mod=other", "readonly, vendor or mod"),
            ("-race=yes", "true or false"),
            ("-p=0", "1 to 1024"),
            ("-p=99999", "1 to 1024"),
            ("-pgo=/etc/passwd", "absolute"),
            ("-pgo=C:/x.pgo", "absolute"),
            ("-pgo=../outside.pgo", "leaves the repository"),
            ("-pgo=a/../../b.pgo", "leaves the repository"),
            ("-pgo=a\\b.pgo", "backslash"),
            ("-pgo=", "empty"),
        ];
        for (flag, why) in refused {
            let err = check_flags(&["-tags=ok".to_string(), flag.to_string()]).expect_err(flag);
            assert!(
                err.starts_with(&format!("build.flags: {flag:?} is not allowed: "))
                    && err.contains(why)
                    && err.contains("(allowed: -tags=LIST"),
                "{flag}: {err}"
            );
        }
    }

    #[test]
    fn a_pgo_profile_must_be_a_regular_file_of_the_tree() {
        let tree = tempfile::tempdir().expect("temp");
        let root = tree.path();
        fs::create_dir_all(root.join("prof")).expect("mkdir");
        fs::write(root.join("prof/cpu.pgo"), "x").expect("write");
        let flags = |f: &str| BuildSettings {
            flags: vec!["-tags=t".to_string(), f.to_string()],
            ..BuildSettings::default()
        };
        let got = resolve_flags(root, &flags("-pgo=prof/cpu.pgo"), "head").expect("resolves");
        let mut want = OsString::from("-pgo=");
        want.push(root.join("prof/cpu.pgo").as_os_str());
        assert_eq!(got, vec![OsString::from("-tags=t"), want]);
        let err = |f: &str| format!("{:#}", resolve_flags(root, &flags(f), "head").expect_err(f));
        assert!(err("-pgo=prof/none.pgo").contains("no such file in head"));
        assert!(err("-pgo=prof").contains("is not a file in head"));
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().expect("temp");
            fs::write(outside.path().join("secret"), "s").expect("write");
            std::os::unix::fs::symlink(outside.path().join("secret"), root.join("link.pgo"))
                .expect("symlink");
            std::os::unix::fs::symlink(outside.path(), root.join("dir")).expect("symlink");
            assert!(err("-pgo=link.pgo").contains("link.pgo is a link in head"));
            assert!(err("-pgo=dir/secret").contains("dir is a link in head"));
        }
        for keep in ["-pgo=off", "-pgo=auto", "-race"] {
            let settings = BuildSettings {
                flags: vec![keep.to_string()],
                ..BuildSettings::default()
            };
            assert_eq!(
                resolve_flags(root, &settings, "head").expect("kept"),
                vec![OsString::from(keep)]
            );
        }
    }

    #[test]
    fn tags_from_every_source_become_one_flag() {
        let settings = BuildSettings {
            tags: vec!["integration".to_string(), "a".to_string()],
            flags: vec![
                "-race".to_string(),
                "-tags=a,b".to_string(),
                "--tags=c d".to_string(),
                "-tags=".to_string(),
            ],
            ..BuildSettings::default()
        };
        assert_eq!(
            resolve_flags(Path::new("/nonexistent"), &settings, "head").expect("resolves"),
            vec![
                OsString::from("-tags=integration,a,b,c,d"),
                OsString::from("-race")
            ]
        );
        assert_eq!(
            resolve_flags(Path::new("/nonexistent"), &BuildSettings::default(), "head")
                .expect("resolves"),
            Vec::<OsString>::new()
        );
    }

    #[test]
    fn dir_patterns() {
        let cases = [
            ("internal/gen/...", "internal/gen", true),
            ("internal/gen/...", "internal/gen/x/y", true),
            ("internal/gen/...", "internal/generic", false),
            ("./cmd/tool", "cmd/tool", true),
            ("cmd/tool", "cmd/tools", false),
            (".../mocks", "a/b/mocks", true),
        ];
        for (pattern, dir, want) in cases {
            assert_eq!(dir_matches(pattern, dir), want, "{pattern} vs {dir}");
        }
    }

    #[test]
    fn locate_places_tree_relative_go_files() {
        let out = BuildOutput {
            modules: vec![
                Module {
                    path: "example.com/m".into(),
                    dir: String::new(),
                },
                Module {
                    path: "example.com/tools".into(),
                    dir: "tools".into(),
                },
            ],
            ..BuildOutput::default()
        };
        let cases = [
            ("a.go", Some(("a.go", "example.com/m"))),
            ("sub/s.go", Some(("sub/s.go", "example.com/m/sub"))),
            (
                "tools/x/t.go",
                Some(("tools/x/t.go", "example.com/tools/x")),
            ),
            ("tools/t.go", Some(("tools/t.go", "example.com/tools"))),
            ("gen.y", None),
            ("/usr/local/go/src/fmt/print.go", None),
            ("/root/go/pkg/mod/golang.org/x/text@v0.3.0/a.go", None),
            ("../other/a.go", None),
            ("<autogenerated>", None),
        ];
        for (file, want) in cases {
            let got = out.locate(file);
            let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(got, want, "{file}");
        }
    }

    #[test]
    fn relocate_makes_compiler_names_tree_relative() {
        let tree = Path::new("/tmp/w/tree");
        let cases = [
            ("", "./a.go", "a.go"),
            ("", "sub/b.go", "sub/b.go"),
            ("svc", "./svc.go", "svc/svc.go"),
            ("svc", "../lib/lib.go", "lib/lib.go"),
            ("", "../outside/x.go", "../../outside/x.go"),
            ("", "/tmp/w/tree/lib/c.go", "lib/c.go"),
            (
                "",
                "/usr/local/go/src/fmt/print.go",
                "/usr/local/go/src/fmt/print.go",
            ),
            ("svc", "<autogenerated>", "<autogenerated>"),
        ];
        for (unit, file, want) in cases {
            assert_eq!(relocate(tree, unit, file), want, "{unit} {file}");
        }
        assert_eq!(
            relocate_flow(tree, "svc", "  from &t (address-of) at ./svc.go:10:9"),
            "  from &t (address-of) at svc/svc.go:10:9"
        );
        assert_eq!(
            relocate_flow(tree, "", "  from x (assign) at gen.y:101"),
            "  from x (assign) at gen.y:101"
        );
        assert_eq!(
            relocate_flow(tree, "", "flow: {heap} ← x:"),
            "flow: {heap} ← x:"
        );
    }
}
