//! `escape-gate list [REV]`: the heap escapes of one revision, grouped by package and
//! function, with counts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::exit::Exit;
use crate::finding::Finding;
use crate::gate;
use crate::report::ListFormat as Format;

/// List the heap escapes of one revision, grouped by package and function.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to analyse [default: the working tree, uncommitted changes included]
    pub rev: Option<String>,
    /// The repository to analyse
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Allowlist file whose build section to use instead of the revision's .escape-gate.yml
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Build tags, added to the allowlist's build.tags (comma-separated)
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ListJson<'a> {
    schema_version: u32,
    revision: String,
    commit: Option<String>,
    go_version: &'a str,
    packages: usize,
    findings: &'a [Finding],
}

pub fn run(args: Args) -> Result<Exit> {
    let (go, side) = gate::single(
        &args.repo,
        args.rev.as_deref(),
        args.config.as_deref(),
        &args.tags,
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            let report = ListJson {
                schema_version: crate::report::json::SCHEMA_VERSION,
                revision: side.revision.spec.clone(),
                commit: side.revision.commit.map(|c| c.to_string()),
                go_version: &go.version,
                packages: side.packages.len(),
                findings: &side.findings,
            };
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => write_text(&mut out, &side.findings)?,
    }
    writeln!(
        std::io::stderr(),
        "{} heap escapes in {} · {} packages · {}",
        side.findings.len(),
        side.revision.label(),
        side.packages.len(),
        go.describe()
    )?;
    out.flush()?;
    Ok(Exit::Clean)
}

fn write_text(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<&Finding>>> = BTreeMap::new();
    for f in findings {
        groups
            .entry(&f.package)
            .or_default()
            .entry(&f.function)
            .or_default()
            .push(f);
    }
    for (package, functions) in groups {
        let total: usize = functions.values().map(Vec::len).sum();
        writeln!(out, "{package} ({total})")?;
        for (function, fs) in functions {
            writeln!(out, "  {function} ({})", fs.len())?;
            for f in fs {
                writeln!(out, "    {}: {}", f.position(), f.message)?;
            }
        }
    }
    Ok(())
}
