//! `escape-gate install-hook`: writes the pre-push hook into the repository's hooks
//! directory (where `git rev-parse --git-path hooks` says: `core.hooksPath` and
//! worktrees honoured), never over a hook it did not write unless told to.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::exit::Exit;
use crate::hook::{hook_script, MARKER};
use crate::safe_write::{self, Options};
use crate::tree::{self, ReadError};

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
/// The most of an existing hook read: hooks are scripts of a few kilobytes.
const MAX_HOOK_READ: u64 = 1024 * 1024;

pub fn run(args: Args) -> Result<Exit> {
    let hooks = hooks_dir(&args.repo)?;
    let hook = hooks.join("pre-push");
    let backup = hooks.join(BACKUP);
    // The hooks directory and the files in it are read and written below its parent
    // without following links (see `safe_write`), so neither a linked hooks directory
    // nor a linked hook sends a write elsewhere.
    let (anchor, dir_name) = match (hooks.parent(), hooks.file_name()) {
        (Some(parent), Some(name)) => (parent.to_path_buf(), name.to_string_lossy().into_owned()),
        _ => bail!(
            "git names {} as the hooks directory, which escape-gate cannot write into
             hint: set core.hooksPath to a directory of its own",
            hooks.display()
        ),
    };
    let rel = |file: &str| format!("{dir_name}/{file}");
    let existing = match tree::read_bytes_in_tree(&anchor, &rel("pre-push"), MAX_HOOK_READ) {
        Ok(bytes) => Some(bytes),
        Err(ReadError::Missing) => None,
        Err(err) => bail!(
            "cannot read {}: {err}; nothing was changed\n\
             hint: escape-gate never reads or writes a hook through a link; make the hook a \
             regular file, or add `escape-gate hook pre-push` to the script it points at yourself",
            hook.display()
        ),
    };
    let ours = existing
        .as_deref()
        .is_some_and(|bytes| String::from_utf8_lossy(bytes).contains(MARKER));
    let write = |file: &str, bytes: &[u8]| -> Result<()> {
        let options = Options {
            mode: 0o755,
            keep_mode: false,
            create_dirs: true,
            replace_link: false,
        };
        safe_write::write(&anchor, &rel(file), bytes, options)
            .map_err(|err| anyhow!("cannot write {file} in {}: {err}", anchor.display()))?;
        Ok(())
    };

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
                let backup_is_file = fs::symlink_metadata(&backup).is_ok_and(|m| m.is_file());
                if backup_is_file {
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
        write(BACKUP, existing.as_deref().unwrap_or_default())
            .with_context(|| format!("backing up {}", hook.display()))?;
    }

    let exe = std::env::current_exe().context("finding the escape-gate binary's path")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    write("pre-push", hook_script(&exe.to_string_lossy()).as_bytes())?;
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
