//! Build flags from the allowlist's `build.flags`: an allowlist of flags known to be
//! safe (they run no program, write no file, read nothing outside the checkout and
//! still compile every package), checked before any `go` runs, and resolved against
//! the checkout (`-pgo=FILE`).

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::paths::is_windows_absolute;
use super::BuildSettings;

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
pub(super) const ALLOWED_FLAGS: &str =
    "-tags=LIST, -mod=readonly|vendor|mod, -race, -msan, -asan, -pgo=off|auto|FILE, -p=N";

/// Splits `-name=value`, `--name=value`, `-name` into the name and the value.
pub(super) fn split_flag(flag: &str) -> Option<(&str, Option<&str>)> {
    let name = flag.strip_prefix("--").or_else(|| flag.strip_prefix('-'))?;
    if name.is_empty() || name.starts_with('-') {
        return None;
    }
    Some(match name.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (name, None),
    })
}

pub(super) fn check_flag(flag: &str) -> std::result::Result<(), String> {
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
pub(super) fn refusal(name: &str) -> &'static str {
    match name {
        "gcflags" => "escape-gate passes -gcflags=-m itself, and a second -gcflags replaces it",
        "trimpath" => "escape-gate decides -trimpath itself, from your environment: with a GOCACHEPROG or -trimpath in your GOFLAGS, so that its build cache keys are your cache's",
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
pub(crate) fn tree_relative(path: &str) -> std::result::Result<(), &'static str> {
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
pub(super) fn resolve_flags(
    tree: &Path,
    settings: &BuildSettings,
    side: &str,
) -> Result<Vec<OsString>> {
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
pub(super) fn check_patterns(settings: &BuildSettings) -> Result<()> {
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
pub(super) fn yaml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}
