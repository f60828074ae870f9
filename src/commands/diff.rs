//! `escape-gate diff [BASE] [HEAD]`: the gate itself.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::exit::Exit;
use crate::gate::{self, DiffRequest};
use crate::report::{self, Format, Style};

/// Compare the heap escapes of two revisions; fail when the head adds some.
///
/// Prints each new heap escape (position, function, compiler message, source line), a
/// diff of the per-function escape listings, and a line of counts. Exits 1 when there
/// are new escapes the allowlist does not cover.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to compare against [default: the merge-base of HEAD with the
    /// branch's upstream, else origin/HEAD, main or master]
    pub base: Option<String>,
    /// The revision to check [default: the working tree, uncommitted changes included]
    pub head: Option<String>,
    /// The repository to check
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Allowlist file to use instead of .escape-gate.yml at the root of the head
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Build tags for both sides, added to the allowlist's build.tags (comma-separated)
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Also list the escapes the head no longer has
    #[arg(long)]
    pub show_fixed: bool,
    /// Show why each new escape happens: the compiler's escape flow (-m=2), steps on
    /// changed lines marked [changed]
    #[arg(long)]
    pub explain: bool,
    /// Analyse every package, not only those the change can affect (the changed
    /// packages and every package that imports them)
    #[arg(long)]
    pub all_packages: bool,
}

impl From<Args> for DiffRequest {
    fn from(args: Args) -> Self {
        DiffRequest {
            repo: args.repo,
            base: args.base,
            head: args.head,
            config: args.config,
            tags: args.tags,
            today: None,
            explain: args.explain,
            all_packages: args.all_packages,
        }
    }
}

pub fn run(args: Args) -> Result<Exit> {
    let format = args.format;
    let style = Style {
        color: format == Format::Text && report::stdout_wants_color(),
        show_fixed: args.show_fixed,
    };
    let outcome = gate::diff(&DiffRequest::from(args))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report::write(format, &outcome, style, &mut out)?;
    out.flush()?;
    Ok(if outcome.failing().is_empty() {
        Exit::Clean
    } else {
        Exit::NewEscapes
    })
}
