//! `escape-gate list [REV]`: the heap escapes of one revision, grouped by package and
//! function, with counts.

use std::io::Write;

use anyhow::Result;

use crate::commands::shared::Repository;
use crate::exit::Exit;
use crate::gate;
use crate::report::{self, ListFormat as Format};

/// List the heap escapes of one revision, grouped by package and function.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to analyse [default: the working tree, uncommitted changes included]
    pub rev: Option<String>,
    #[command(flatten)]
    pub repository: Repository,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Build for this platform (GOOS/GOARCH, e.g. linux/arm64), cross-compiling, as
    /// `diff --platforms` does [default: the platform go builds for]
    #[arg(long, value_name = "GOOS/GOARCH", value_parser = crate::go::Platform::parse)]
    pub platform: Option<crate::go::Platform>,
}

pub fn run(args: Args) -> Result<Exit> {
    let (go, side) = gate::single(
        &args.repository.repo,
        args.rev.as_deref(),
        args.repository.config.as_deref(),
        &args.repository.tags,
        args.platform.as_ref(),
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report::list::write(args.format, &go, &side, &mut out)?;
    // The same warnings `diff` gives: nothing the compiler said is dropped unsaid. The
    // compiler lines they quote must not read as errors to a CI problem matcher.
    for warning in side.warnings() {
        writeln!(
            std::io::stderr(),
            "{}",
            String::from_utf8_lossy(&report::inert_text(
                crate::inert::block(&format!("warning: {warning}")).as_bytes()
            ))
            .trim_end()
        )?;
    }
    let summary = crate::inert::line(&report::list::summary(&go, &side)).into_owned();
    writeln!(std::io::stderr(), "{}", crate::inert::commands(&summary))?;
    out.flush()?;
    Ok(Exit::Clean)
}
