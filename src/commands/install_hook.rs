//! `escape-gate install-hook`: writes the pre-push hook into the repository's hooks
//! directory (where `git rev-parse --git-path hooks` says: `core.hooksPath` and
//! worktrees honoured), never over a hook it did not write unless told to.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::exit::Exit;
use crate::hook::{hook_script, MARKER};

/// Install (or remove) the git pre-push hook that runs `escape-gate hook pre-push`.
///
/// The hook refuses a push that adds heap escapes. If a pre-push hook that escape-gate
/// did not write exists, nothing is changed unless --force is given (the old hook is
/// then kept as pre-push.escape-gate-backup).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Replace an existing pre-push hook that escape-gate did not write (keeps a backup)
    #[arg(long, conflicts_with = "uninstall")]
    pub force: bool,
    /// Remove the hook escape-gate installed (and restore a backup it made)
    #[arg(long)]
    pub uninstall: bool,
}

const BACKUP: &str = "pre-push.escape-gate-backup";

pub fn run(args: Args) -> Result<Exit> {
    let hooks = hooks_dir(&args.repo)?;
    let hook = hooks.join("pre-push");
    let backup = hooks.join(BACKUP);
    let existing = fs::read_to_string(&hook).ok();
    let ours = existing
        .as_deref()
        .is_some_and(|text| text.contains(MARKER));

    if args.uninstall {
        match existing {
            None => {
                println!("no pre-push hook in {}; nothing to remove", hooks.display());
            }
            Some(_) if !ours => bail!(
                "{} was not written by escape-gate; leaving it alone\n\
                 hint: remove the escape-gate lines from it yourself",
                hook.display()
            ),
            Some(_) => {
                fs::remove_file(&hook).with_context(|| format!("removing {}", hook.display()))?;
                if backup.is_file() {
                    fs::rename(&backup, &hook)
                        .with_context(|| format!("restoring {}", backup.display()))?;
                    println!("removed escape-gate's pre-push hook; restored the previous one from {BACKUP}");
                } else {
                    println!(
                        "removed escape-gate's pre-push hook from {}",
                        hooks.display()
                    );
                }
            }
        }
        return Ok(Exit::Clean);
    }

    if existing.is_some() && !ours {
        if !args.force {
            bail!(
                "{} already exists and was not written by escape-gate; it is left unchanged\n\
                 hint: to run both, add these lines to your hook (git gives the refs on stdin once):\n\
                 \x20     refs=$(cat)\n\
                 \x20     printf '%s\\n' \"$refs\" | escape-gate hook pre-push \"$@\" || exit 1\n\
                 \x20     (then let your hook read \"$refs\" instead of stdin)\n\
                 \x20 or replace it with `escape-gate install-hook --force` (a backup is kept as {BACKUP})",
                hook.display()
            );
        }
        fs::copy(&hook, &backup).with_context(|| format!("backing up {}", hook.display()))?;
    }

    let exe = std::env::current_exe().context("finding the escape-gate binary's path")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    fs::create_dir_all(&hooks).with_context(|| format!("creating {}", hooks.display()))?;
    fs::write(&hook, hook_script(&exe.to_string_lossy()))
        .with_context(|| format!("writing {}", hook.display()))?;
    make_executable(&hook)?;
    println!(
        "installed the escape-gate pre-push hook in {}{}\n\
         A push that adds Go heap escapes is now refused; skip the check once with git push --no-verify.",
        hooks.display(),
        if existing.is_some() && !ours {
            format!(" (the previous hook is kept as {BACKUP})")
        } else {
            String::new()
        }
    );
    Ok(Exit::Clean)
}

/// The hooks directory git uses for this repository.
fn hooks_dir(repo: &Path) -> Result<PathBuf> {
    let output = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
        .current_dir(repo)
        .output()
        .map_err(|err| anyhow!("running git to find the hooks directory: {err}\nhint: install git; hooks are run by it"))?;
    if !output.status.success() {
        bail!(
            "{} is not inside a git repository: {}\nhint: run escape-gate install-hook inside your clone, or pass --repo DIR",
            repo.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}
