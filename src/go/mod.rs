//! The "Build" stage: a materialised tree in, the compiler's `-m` output out.
//!
//! Both sides of a comparison are built by the same `go` with the same settings:
//! `GOTOOLCHAIN=local` so a `toolchain` line cannot switch compilers between sides, in
//! the same directory one after the other (so the build cache, which keys packages by
//! directory when builds are not `-trimpath`, serves the second side everything the
//! change did not touch, and the standard library from ordinary builds), and
//! `-gcflags=-m` on the command line's packages only, so the standard library and
//! dependencies stay quiet. With a shared build cache (`GOCACHEPROG`) builds are
//! `-trimpath` instead, so that their cache keys are the same on every machine (see
//! [`GoEnv::trimpath`]). Packages are compiled with `go list -export`, which runs
//! the compiler exactly as `go build` does but never the linker: escape analysis needs
//! no executable, and a linker run is both time and a way for a hostile flag to run a
//! program. File names are made tree-relative as the output is parsed. A failing build
//! is an error that names the side; it is never read as "no escapes".
//!
//! The allowlist's `build.flags` come from the revision under test, so they are
//! checked against a list of flags known to be safe ([`check_flags`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::interrupt;

mod build;
mod cgo_inputs;
mod flags;
mod list;
mod paths;
mod pgo;
mod platform;
#[cfg(test)]
mod tests;

pub(crate) use build::{build_packages, build_selected, BuildOutput};
pub(crate) use cgo_inputs::mark_cgo_inputs;
pub(crate) use flags::{check_flags, flags_read_files, tree_relative};
pub(crate) use list::{cgo_packages, find_modules, list, Listing};
/// For `explain`'s tests, which relocate flows as the build does.
#[cfg(test)]
pub(crate) use paths::relocate_flow;
pub(crate) use paths::{import_path_of, lexical};
pub(crate) use platform::compiling_platforms;

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
    /// `go env GOFLAGS`: the environment's and the go env file's (`go env -w`), which
    /// escape-gate's `go` commands get back with `-trimpath` as [`GoEnv::trimpath`]
    /// says (see `go_command`).
    pub goflags: String,
    /// Whether builds are `-trimpath`: when the user's go has a `GOCACHEPROG` or the
    /// user's `GOFLAGS` ask for `-trimpath`. See [`trimpath_wanted`].
    pub trimpath: bool,
    /// The platform every command cross-compiles for (`GOOS`, `GOARCH` set), when one
    /// was asked for ([`GoEnv::for_platform`]).
    pub target: Option<Platform>,
    /// `CGO_ENABLED` set on every command (`Some(false)` for a platform other than the
    /// default one; see [`GoEnv::for_platform`]).
    pub cgo: Option<bool>,
    /// Whether `target` is a platform other than the one `go` builds for by default.
    pub foreign: bool,
    /// `go env CGO_ENABLED` of the user's environment.
    pub cgo_enabled: bool,
    /// The platforms a comparison analysed, when it named them: what reports show
    /// instead of the default platform.
    pub analysed: Vec<Platform>,
}

/// Which cache-key scheme the builds use: `-trimpath` when `cacheprog` (`go env
/// GOCACHEPROG`) is set or `goflags` (`go env GOFLAGS`) turns `-trimpath` on; the
/// package's directory in the key otherwise.
///
/// cmd/go's build action id (cmd/go/internal/work/exec.go, `buildActionID`) holds the
/// package's absolute directory unless the build is `-trimpath` (or the package is in
/// GOROOT), and a package's id holds the content of what its dependencies compiled to,
/// which without `-trimpath` holds their directories too, module cache included
/// (`$HOME/go/pkg/mod/…`). No fixed work directory can make those the same on every
/// machine; `-trimpath` does: the key then holds the import path and `module@version`,
/// never a directory. But it also holds the word `trimpath`, for every package, the
/// standard library included, so a local cache filled by ordinary builds serves a
/// `-trimpath` build none of its standard library (a first run on compress took 17.7 s
/// instead of 1.5 s, on 2 cores). Hence both: a shared cache (`GOCACHEPROG`, whose whole point is other
/// machines) gets machine-independent keys and pays the standard library once for
/// every machine; an ordinary local cache keeps what ordinary builds left, at the
/// fixed work directory; and a user whose own builds are `-trimpath` gets it too,
/// which is what their cache holds. Measured in BENCHMARKS.md, "A shared build cache".
///
/// Both values come from the user's environment and go env file, never from the
/// repository: go reads neither from a module (only `$GOROOT/go.env` and the user's
/// `GOENV` file), and escape-gate sets neither from the tree.
pub fn trimpath_wanted(cacheprog: &str, goflags: &str) -> bool {
    let from_flags = goflags
        .split_whitespace()
        .rfind(|f| is_trimpath_flag(f))
        .is_some_and(|f| !f.ends_with("=false"));
    !cacheprog.trim().is_empty() || from_flags
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
        // GOCACHEPROG last: where the cache lives changes no result, so it stays out of
        // the fingerprint; it only decides the cache-key scheme.
        let output = interrupt::run_captured(
            Command::new(&go)
                .arg("env")
                .args(FINGERPRINT_VARS)
                .arg("GOCACHEPROG")
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
        // Before Go 1.24 GOCACHEPROG was an experiment (GOEXPERIMENT=cacheprog) that
        // `go env` does not show; go read the variable itself.
        let mut cacheprog = value(FINGERPRINT_VARS.len());
        if cacheprog.is_empty() {
            cacheprog = std::env::var("GOCACHEPROG").unwrap_or_default();
        }
        let goflags = FINGERPRINT_VARS
            .iter()
            .position(|name| *name == "GOFLAGS")
            .map(value)
            .unwrap_or_default();
        Ok(GoEnv {
            go,
            version,
            goos,
            goarch,
            fingerprint,
            trimpath: trimpath_wanted(&cacheprog, &goflags),
            goflags,
            target: None,
            cgo: None,
            foreign: false,
            cgo_enabled: value(13) == "1",
            analysed: Vec::new(),
        })
    }

    /// `go1.26.8 linux/amd64`
    pub fn describe(&self) -> String {
        if self.analysed.is_empty() {
            return format!("{} {}/{}", self.version, self.goos, self.goarch);
        }
        let names: Vec<String> = self.analysed.iter().map(ToString::to_string).collect();
        format!("{} {}", self.version, names.join(", "))
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
    /// What the compiler must print beyond `-m` for the checks (see [`crate::checks`]).
    pub compiler: crate::checks::Needs,
}

impl BuildSettings {
    /// The settings as text for the findings cache's keys: every field by name, each
    /// item length-prefixed so no two settings give the same text. Written out rather
    /// than `Debug`, whose form is no contract.
    pub fn cache_key(&self) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| format!("{}:{i}", i.len()))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "packages=[{}] exclude=[{}] tags=[{}] flags=[{}] compiler=[{}]",
            list(&self.packages),
            list(&self.exclude),
            list(&self.tags),
            list(&self.flags),
            self.compiler.cache_key()
        )
    }
}

pub use crate::platform::Platform;

/// Where and how `go` runs for one unit of one side (a module's directory, or the
/// workspace's): what every `go` command of the build stage needs, as one value.
#[derive(Debug, Clone)]
pub(crate) struct Unit<'a> {
    pub env: &'a GoEnv,
    /// The checkout, canonical.
    pub tree: &'a Path,
    /// The directory `go` runs in.
    pub dir: PathBuf,
    /// `dir` relative to the tree, `/`-separated, `""` for the root.
    pub rel: &'a str,
    pub settings: &'a BuildSettings,
    /// The side, for messages: `head 1a2b3c4`.
    pub side: &'a str,
}

impl<'a> Unit<'a> {
    /// The unit at `rel` (tree-relative, `""` for the root) of the canonical `tree`.
    pub(crate) fn new(
        env: &'a GoEnv,
        tree: &'a Path,
        rel: &'a str,
        settings: &'a BuildSettings,
        side: &'a str,
    ) -> Unit<'a> {
        Unit {
            env,
            tree,
            dir: unit_dir(tree, rel),
            rel,
            settings,
            side,
        }
    }
}

/// How much the compiler is asked to say about each escape.
///
/// `-m=2` adds, for every heap allocation, the flow that explains it, but it prints
/// several times as much text, and a different flag is a different build-cache key. The
/// gate therefore builds everything with `-m` and, only when an explanation is wanted,
/// rebuilds the few packages that hold new escapes with `-m=2` (see [`build_packages`]
/// and the measurement in docs/architecture.md, "Why `-m=2` only on demand").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// `-gcflags=-m`: one line per decision.
    Summary,
    /// `-gcflags=-m=2`: plus the escape flow of every heap allocation.
    Flow,
}

// The -gcflags value, with the checks' flags, is composed by
// `crate::checks::Needs::gcflags`.

fn unit_dir(tree: &Path, unit: &str) -> PathBuf {
    if unit.is_empty() {
        tree.to_path_buf()
    } else {
        tree.join(unit)
    }
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

fn go_command(env: &GoEnv, tree: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(&env.go);
    // go takes its working directory from $PWD when that names the same directory;
    // the caller's $PWD names another one, so set it to what the file names in the
    // compiler's output are made relative to.
    cmd.current_dir(dir)
        .env("PWD", dir)
        .env("GOTOOLCHAIN", "local");
    // -trimpath is escape-gate's decision, made once for both sides ([`trimpath_wanted`]):
    // the user's own -trimpath flags are replaced by it, whether they come from the
    // environment or from `go env -w` (the environment variable, always set, overrides
    // the go env file), since file names are read differently with it
    // ([`BuildOutput::locate`]).
    // An empty GOFLAGS counts as unset, and go would read the file's again: the
    // variable always holds at least a flag every escape-gate command passes anyway.
    let mut kept: Vec<&str> = vec!["-buildvcs=false"];
    if env.trimpath {
        kept.push("-trimpath");
    }
    kept.extend(
        env.goflags
            .split_whitespace()
            .filter(|f| !is_trimpath_flag(f)),
    );
    cmd.env("GOFLAGS", kept.join(" "));
    if let Some(target) = &env.target {
        cmd.env("GOOS", &target.goos).env("GOARCH", &target.goarch);
    }
    if let Some(cgo) = env.cgo {
        cmd.env("CGO_ENABLED", if cgo { "1" } else { "0" });
    }
    // The workspace is the checkout's own go.work or none: left unset, go would look
    // for a go.work in the directories above the checkout (the temporary directory,
    // where anyone can put one) and use the user's GOWORK.
    let work = tree.join("go.work");
    if work.is_file() {
        cmd.env("GOWORK", work);
    } else {
        cmd.env("GOWORK", "off");
    }
    cmd
}

fn is_trimpath_flag(flag: &str) -> bool {
    let name = flag.trim_start_matches('-');
    name == "trimpath" || name.starts_with("trimpath=")
}

fn rel_display(tree: &Path, dir: &Path) -> String {
    match dir.strip_prefix(tree) {
        Ok(p) if p.as_os_str().is_empty() => "the repository root".to_string(),
        Ok(p) => p.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}
