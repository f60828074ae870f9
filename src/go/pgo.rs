//! PGO profiles before a build: `go list -export` (see [`run_build`](super::build)) applies
//! a profile only when go's build cache already holds its preprocessed form, so each
//! profile the build will use is preprocessed first, by a `go build` that compiles
//! nothing. In: the packages of one compilation and its flags; out: go's cache entries.
//!
//! What cmd/go does (Go 1.26): `load.PackagesAndErrors` attaches the profile to the
//! packages whatever the command (`setPGOProfilePath` in cmd/go/internal/load/pkg.go:
//! `-pgo=auto` gives each main package named on the command line its directory's
//! `default.pgo`, found with `os.Stat`, and all its dependencies; `-pgo=FILE` gives every
//! package that file). `CompileAction` (cmd/go/internal/work/action.go) makes each such
//! package's compile depend on a "preprocess PGO profile" action, whose actor
//! (`pgoActor.Act`) returns at once under `go list` (`b.IsCmdList`) when the cache does
//! not hold the result: it never runs `preprofile`. The compile then finds no preprocessed
//! file (`a1.built` is empty, cmd/go/internal/work/exec.go) and runs without
//! `-pgoprofile`: the escapes are a build's without PGO, under a cache key of their own.
//! The preprocess action's key is the `preprofile` tool's id and the profile's content
//! (`pgoActionID`), not its path, so one `go build` with that profile anywhere fills it
//! for every later `go list`. `go build -pgo=FILE unsafe` does it and nothing else:
//! `unsafe` has no code to compile, but its compile action gets the preprocess
//! dependency before it is found to be built in, and `go build` of a package that is not
//! `main` writes no file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::build::{ended, withhold_outside};
use super::go_command;
use super::list::Package;
use super::Unit;
use crate::interrupt::{self, TempTree};

/// The profiles a `go list -export` of `packages` with `flags` (already resolved, see
/// [`resolve_flags`](super::flags)) will apply, with the user's GOFLAGS under them, as
/// go picks them: the last `-pgo` on the command line, else in GOFLAGS, else `auto`.
pub(super) fn profiles(
    unit: &Unit,
    packages: &[Package],
    flags: &[OsString],
) -> Result<Vec<PathBuf>> {
    let flags: Vec<&str> = flags.iter().filter_map(|f| f.to_str()).collect();
    let value = pgo_setting(&flags, &unit.env.goflags);
    match value {
        "off" => Ok(Vec::new()),
        "auto" => {
            let mut out = Vec::new();
            for p in packages.iter().filter(|p| p.name == "main") {
                let rel = if p.dir.is_empty() {
                    "default.pgo".to_string()
                } else {
                    format!("{}/default.pgo", p.dir)
                };
                if let Some(path) = default_pgo(unit, &rel)? {
                    if !out.contains(&path) {
                        out.push(path);
                    }
                }
            }
            Ok(out)
        }
        // A profile named by `build.flags` is already an absolute path to a regular file
        // of the tree; one from GOFLAGS is the user's, relative to where go runs.
        file => {
            let path = unit.dir.join(file);
            Ok(if path.is_file() {
                vec![path]
            } else {
                Vec::new()
            })
        }
    }
}

/// go's `-pgo` setting for a command with `flags` and the user's `goflags`: the last
/// `-pgo` on the command line, else the last in GOFLAGS, else `auto`.
fn pgo_setting<'a>(flags: &[&'a str], goflags: &'a str) -> &'a str {
    let given = flags.iter().copied().filter_map(pgo_value).next_back();
    given
        .or_else(|| goflags.split_whitespace().filter_map(pgo_value).next_back())
        .unwrap_or("auto")
}

/// The value of a `-pgo=` or `--pgo=` flag.
fn pgo_value(flag: &str) -> Option<&str> {
    flag.strip_prefix("--pgo=")
        .or_else(|| flag.strip_prefix("-pgo="))
}

/// The `default.pgo` at tree-relative `rel`, when go will use it: go finds it with
/// `os.Stat`, which follows links, so a link counts when it leads to a regular file of
/// the repository; one that leads out of it is refused (go would read that file), one
/// that leads nowhere is no profile, to go as here.
fn default_pgo(unit: &Unit, rel: &str) -> Result<Option<PathBuf>> {
    let path = unit.tree.join(rel);
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    let inside = std::fs::canonicalize(&path).is_ok_and(|real| real.starts_with(unit.tree));
    if !inside {
        bail!(
            "{rel} in {} is a link that leads out of the repository; go would build with that file as the PGO profile\n\
             hint: commit the profile itself, or pass -pgo=off in build.flags",
            unit.side
        );
    }
    if !meta.is_file() {
        bail!(
            "{rel} in {} is not a file; go builds the main package beside it with it as the PGO profile\n\
             hint: remove it, or pass -pgo=off in build.flags",
            unit.side
        );
    }
    Ok(Some(path))
}

/// Leaves `profile`'s preprocessed form in go's build cache (a cache hit when it is
/// there already), so that the `go list -export` that follows compiles with it, as
/// `go build` would. A profile go cannot read fails the side, as it fails `go build`.
pub(super) fn preprocess(unit: &Unit, profile: &Path) -> Result<()> {
    let mut cmd = go_command(unit.env, unit.tree, &unit.dir);
    let mut pgo = OsString::from("-pgo=");
    pgo.push(profile.as_os_str());
    cmd.args(["build", "-buildvcs=false"]);
    cmd.arg(pgo);
    cmd.args(["--", "unsafe"]);
    let work = TempTree::new("gotmp")?;
    cmd.env("GOTMPDIR", work.path());
    let output = interrupt::run_captured(&mut cmd)
        .with_context(|| format!("preprocessing the PGO profile for {}", unit.side))?;
    if !output.status.success() {
        let lines: Vec<String> = String::from_utf8_lossy(&output.stderr)
            .lines()
            .map(str::to_string)
            .collect();
        let shown = withhold_outside(&lines, unit.tree, unit.rel)
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        let name = profile.strip_prefix(unit.tree).unwrap_or(profile);
        bail!(
            "{} does not build: go cannot use its PGO profile {} ({}):\n{shown}\n\
             hint: replace the profile with one go can read (a CPU profile in pprof format), or pass -pgo=off in build.flags",
            unit.side,
            name.display(),
            ended(output.status)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pgo_setting;

    #[test]
    fn the_command_line_overrides_goflags_and_the_last_flag_wins() {
        for (flags, goflags, want) in [
            (&[][..], "", "auto"),
            (&["-tags=x"][..], "-mod=mod", "auto"),
            (&[][..], "-pgo=off", "off"),
            (&[][..], "-pgo=off --pgo=p.pgo", "p.pgo"),
            (&["-pgo=auto"][..], "-pgo=off", "auto"),
            (&["-pgo=/t/a.pgo", "-pgo=off"][..], "", "off"),
            (&["-race"][..], "-pgo=off", "off"),
        ] {
            assert_eq!(pgo_setting(flags, goflags), want, "{flags:?} {goflags:?}");
        }
    }
}
