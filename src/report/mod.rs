//! The "Report" stage: an [`Outcome`] in, bytes on a writer out. Each format is a
//! function of the outcome and a `&mut dyn Write`, so tests render into a `Vec<u8>`.

use std::io::{self, Write};

use clap::ValueEnum;

use crate::gate::Outcome;

pub mod json;
pub mod text;

/// Output formats of `escape-gate diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: each new escape with its source line, then a diff of the escape listings.
    Text,
    /// For programs: one JSON object, schema in the README.
    Json,
}

/// How a report is rendered, beyond the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colour (only on a terminal, never with NO_COLOR).
    pub color: bool,
    /// List fixed escapes too.
    pub show_fixed: bool,
}

pub fn write(
    format: Format,
    outcome: &Outcome,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write(outcome, style, out),
        Format::Json => json::write(outcome, out),
    }
}

/// Whether to colour what goes to stdout: a terminal, and NO_COLOR unset or empty.
pub fn stdout_wants_color() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && io::stdout().is_terminal()
}
