//! `escape-gate man`: the manual pages (clap_mangen), generated from the same clap
//! definitions as `--help`, so they cannot fall behind the options. The release
//! archives carry them (`.ci/package`); a `cargo install` user generates them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::commands::Cli;
use crate::exit::Exit;

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
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
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
