//! `escape-gate man`: the manual pages (clap_mangen), generated from the same clap
//! definitions as `--help`, so they cannot fall behind the options. The release
//! archives carry them (`.ci/package`); a `cargo install` user generates them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::commands::Cli;
use crate::exit::Exit;
use crate::safe_write::{self, Options};

/// Print the manual page, or write one per command into a directory.
///
/// Without --dir, prints escape-gate(1) in roff (`escape-gate man | man -l -`). With
/// --dir, writes escape-gate.1 and escape-gate-COMMAND.1 for each command there,
/// replacing pages of those names (e.g. `--dir ~/.local/share/man/man1`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<Exit> {
    let cmd = Cli::command();
    match args.dir {
        Some(dir) => {
            // The directory is the user's, created as named; each page is written in it
            // without following a link (see `safe_write`).
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            write_pages(cmd, &dir)
                .with_context(|| format!("writing the manual pages into {}", dir.display()))?;
            println!("wrote the manual pages into {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("rendering the manual page")?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(&page)?;
            out.flush()?;
        }
    }
    Ok(Exit::Clean)
}

/// One page per command, as `clap_mangen::generate_to` names them, each written by
/// [`safe_write::write`].
fn write_pages(cmd: clap::Command, dir: &Path) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        write_pages(sub, dir)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render(&mut page).context("rendering a manual page")?;
    let name = man.get_filename();
    let options = Options {
        keep_mode: false,
        create_dirs: false,
        ..Options::FILE
    };
    safe_write::write(dir, &name, &page, options).map_err(|err| anyhow::anyhow!("{err}"))?;
    Ok(())
}
