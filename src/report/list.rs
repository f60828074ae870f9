//! The reports of the single-revision commands: `list` (the heap escapes of one
//! revision, by package and function) and `explain` (the escapes at one line, with
//! their flows), in text and JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::finding::Finding;
use crate::gate::{Explained, Side};
use crate::go::GoEnv;
use crate::inert::line;
use crate::report::{json::SCHEMA_VERSION, text, words, ListFormat};

#[derive(Debug, Serialize)]
struct ListJson<'a> {
    schema_version: u32,
    revision: String,
    commit: Option<String>,
    go_version: &'a str,
    packages: usize,
    findings: &'a [Finding],
}

/// `escape-gate list`: the findings grouped by package and function, or JSON, made
/// inert (see [`crate::inert`]).
pub fn write(format: ListFormat, go: &GoEnv, side: &Side, out: &mut dyn Write) -> io::Result<()> {
    let mut rendered = Vec::new();
    render(format, go, side, &mut rendered)?;
    out.write_all(&inert(format, rendered))
}

fn inert(format: ListFormat, rendered: Vec<u8>) -> Vec<u8> {
    match format {
        ListFormat::Json => super::inert_json(rendered),
        ListFormat::Text => super::inert_text(&rendered),
    }
}

fn render(format: ListFormat, go: &GoEnv, side: &Side, out: &mut dyn Write) -> io::Result<()> {
    match format {
        ListFormat::Json => {
            let report = ListJson {
                schema_version: SCHEMA_VERSION,
                revision: side.revision.spec.clone(),
                commit: side.revision.commit.map(|c| c.to_string()),
                go_version: &go.version,
                packages: side.packages.len(),
                findings: &side.findings,
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)
        }
        ListFormat::Text => write_text(out, &side.findings),
    }
}

/// The closing line of `list`, on stderr: `3 heap escapes in main · 2 packages · go…`.
pub fn summary(go: &GoEnv, side: &Side) -> String {
    format!(
        "{} in {} · {} · {}",
        words::count(side.findings.len(), "heap escape"),
        side.revision.label(),
        words::count(side.packages.len(), "package"),
        go.describe()
    )
}

fn write_text(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
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
        writeln!(out, "{} ({total})", line(package))?;
        for (function, fs) in functions {
            writeln!(out, "  {} ({})", line(function), fs.len())?;
            for f in fs {
                writeln!(out, "    {}: {}", line(&f.position()), line(&f.message))?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ExplainJson<'a> {
    schema_version: u32,
    revision: String,
    commit: Option<String>,
    go_version: &'a str,
    package: &'a str,
    file: &'a str,
    line: u32,
    source: &'a str,
    findings: &'a [Finding],
}

/// `escape-gate explain`: the escapes at one line with their flows, or JSON, made
/// inert (see [`crate::inert`]).
pub fn write_explained(
    format: ListFormat,
    explained: &Explained,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut rendered = Vec::new();
    render_explained(format, explained, color, &mut rendered)?;
    out.write_all(&inert(format, rendered))
}

fn render_explained(
    format: ListFormat,
    explained: &Explained,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        ListFormat::Json => {
            let json = ExplainJson {
                schema_version: SCHEMA_VERSION,
                revision: explained.revision.spec.clone(),
                commit: explained.revision.commit.map(|c| c.to_string()),
                go_version: &explained.go.version,
                package: &explained.package,
                file: &explained.file,
                line: explained.line,
                source: &explained.source,
                findings: &explained.findings,
            };
            serde_json::to_writer_pretty(&mut *out, &json)?;
            writeln!(out)
        }
        ListFormat::Text => text::write_explained(explained, color, out),
    }
}
