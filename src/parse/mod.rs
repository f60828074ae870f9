//! Stage "Parse": the compiler's escape-analysis output (what `go build -gcflags=-m` or
//! `-m=2` wrote on stderr) in, raw heap findings out. Pure: no I/O, no knowledge of the
//! repository; positions stay exactly as the compiler printed them. Every line ends up in
//! exactly one place: a block header, a heap finding, the informational count, an `-m=2`
//! explanation (attached to its heap finding, or recognised and dropped), or
//! [`ParsedOutput::unrecognised`], so that a build error or a message added by a new Go
//! release is surfaced instead of silently dropped.
//!
//! This file reads the lines: package headers, positions, explanations paired with
//! their summaries. What each message says is in `messages.rs`, the part a new Go
//! release touches.

use std::collections::HashMap;

use crate::finding::{Kind, RawFinding};

mod messages;

pub use messages::{classify, is_concat_convert, is_variable_make, Message};
use messages::{classify_message, found_message, Class, ZERO_COPY};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedOutput {
    /// Heap findings only (Kind::Moved, Kind::Escapes), in output order, with `-m=2` flow attached.
    pub findings: Vec<RawFinding>,
    /// What the other checks read, in output order: inlining decisions, bounds
    /// checks, variable-size `make` (see [`crate::checks`]). Their lines are also
    /// counted in `informational`.
    pub checked: Vec<RawFinding>,
    /// Lines that are neither a block header, nor a recognised diagnostic, nor part of an -m=2 explanation,
    /// e.g. compiler errors or a message a new Go release added. Never silently dropped.
    pub unrecognised: Vec<String>,
    /// Number of informational diagnostics recognised (can inline, does not escape,
    /// leaking param, ...), whether or not they were also kept as a finding of a check.
    /// Lines of `-m=2` explanations (headers, `flow:`, `from`, `warning:`) are not counted here:
    /// they belong to a heap finding or to a parameter leak.
    pub informational: usize,
    /// Every `inlining call to F` line: where copies of `F`'s allocations come from.
    pub inline_calls: Vec<InlineCall>,
}

/// One `FILE:LINE:COL: inlining call to F` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlineCall {
    /// The `# pkg` header of the block (the compiling package).
    pub block: String,
    /// As printed, made tree-relative by the build stage.
    pub file: String,
    pub line: u32,
    /// `F` as printed: `WithWindowSize`, `a.Opt`, `bytes.(*Buffer).Write`, `Use.Opt.func1`.
    pub callee: String,
}

/// Parses `go build` stderr.
///
/// Lines before the first `# pkg` header get the block `""`. Flow lines are stored as
/// printed after `POS: `, less the two spaces all of them share: `flow: DST ← SRC:`,
/// `  from WHERE (WHY) at POS2`, `warning: …`; the arrow is kept as printed (`=` before
/// Go 1.25).
pub fn parse(stderr: &str) -> ParsedOutput {
    let mut parser = Parser::default();
    for line in stderr.split('\n') {
        parser.line(line);
    }
    parser.finish()
}

/// Splits an `-m=2` flow step `WHAT at FILE:LINE:COL` (or `FILE:LINE`: `//line`
/// positions have no column) into `WHAT`, `FILE` and `:LINE:COL`. The file name may
/// itself hold a colon (Windows), so the numbers are taken from the right.
pub fn split_step(line: &str) -> Option<(&str, &str, &str)> {
    let at = line.rfind(" at ")?;
    let pos = &line[at + 4..];
    let mut cut = pos.len();
    for _ in 0..2 {
        match pos[..cut].rfind(':') {
            Some(i) if i + 1 < cut && pos[i + 1..cut].bytes().all(|b| b.is_ascii_digit()) => {
                cut = i
            }
            _ => break,
        }
    }
    (cut < pos.len() && cut > 0).then(|| (&line[..at], &pos[..cut], &pos[cut..]))
}

/// `file:line:col` (or `file:line`) as the compiler printed a finding's position.
fn position_of(f: &RawFinding) -> String {
    match f.column {
        Some(col) => format!("{}:{}:{col}", f.file, f.line),
        None => format!("{}:{}", f.file, f.line),
    }
}

/// A diagnostic line cut at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Diagnostic<'a> {
    file: &'a str,
    line: u32,
    column: Option<u32>,
    /// `FILE:LINE[:COL]`, the key explanations and summaries are paired on.
    position: &'a str,
    message: &'a str,
}

/// Finds the first `:LINE:COL: ` or `:LINE: ` from the left. Scanning from the left keeps
/// a message that itself contains positions (`from x at a.go:3:4`) intact, and skips a
/// drive letter (`C:\`) or any other colon in the file name that is not followed by digits.
fn split_position(text: &str) -> Option<Diagnostic<'_>> {
    let bytes = text.as_bytes();
    // The file name is never empty; its first character may be several bytes long
    // (a file named `é.go`).
    let mut from = text.chars().next().map_or(1, char::len_utf8);
    while from < bytes.len() {
        let colon = from + text[from..].find(':')?;
        if let Some((line, line_end)) = number(bytes, colon + 1) {
            if bytes.get(line_end) == Some(&b':') {
                if bytes.get(line_end + 1) == Some(&b' ') {
                    return Some(Diagnostic {
                        file: &text[..colon],
                        line,
                        column: None,
                        position: &text[..line_end],
                        message: &text[line_end + 2..],
                    });
                }
                if let Some((column, col_end)) = number(bytes, line_end + 1) {
                    if bytes[col_end..].starts_with(b": ") {
                        return Some(Diagnostic {
                            file: &text[..colon],
                            line,
                            column: Some(column),
                            position: &text[..col_end],
                            message: &text[col_end + 2..],
                        });
                    }
                }
            }
        }
        from = colon + 1;
    }
    None
}

/// A decimal number starting at `start`: its value and the index after it.
fn number(bytes: &[u8], start: usize) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    let mut end = start;
    while let Some(&b) = bytes.get(end) {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
        end += 1;
    }
    (end > start).then_some((value, end))
}

/// An `-m=2` explanation of a heap allocation, waiting for its summary line.
#[derive(Debug)]
struct Explanation {
    expr: String,
    flow: Vec<String>,
}

/// The explanation whose lines are being read.
#[derive(Debug)]
struct Open {
    position: String,
    /// `None` for a parameter leak: its lines are recognised but not kept.
    heap: Option<Explanation>,
}

/// The parser fed one line at a time, as `go build` prints them, so that a build's
/// output is never held whole: memory follows the findings, not the output.
#[derive(Debug, Default)]
pub struct Parser {
    out: ParsedOutput,
    block: String,
    open: Option<Open>,
    /// Explanations by position, in output order. The compiler prints a batch's
    /// explanations before the batch's summaries, so this holds at most one batch.
    pending: HashMap<String, Vec<Explanation>>,
    /// Positions (block and position) of `zero-copy string->[]byte conversion`: a
    /// conversion there shares the string's bytes and allocates nothing.
    zero_copy: std::collections::HashSet<(String, String)>,
}

impl Parser {
    /// Reads one line of output (with or without its line end).
    pub fn line(&mut self, line: &str) {
        let line = line.strip_suffix('\n').unwrap_or(line);
        // Output captured on Windows, or passed through a tool that rewrote line ends.
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return;
        }
        if let Some(header) = line.strip_prefix("# ") {
            self.close();
            // Explanations never cross a package block.
            self.pending.clear();
            self.block = header.trim().to_string();
            return;
        }
        let Some(diag) = split_position(line) else {
            self.unrecognised(line);
            return;
        };
        match classify_message(diag.message) {
            Some(Class::Flow(_)) => self.flow(&diag),
            Some(Class::EscapeHeader(expr)) => {
                self.close();
                self.open = Some(Open {
                    position: diag.position.to_string(),
                    heap: Some(Explanation {
                        expr: expr.to_string(),
                        flow: Vec::new(),
                    }),
                });
            }
            Some(Class::LeakHeader(_)) => {
                self.close();
                self.open = Some(Open {
                    position: diag.position.to_string(),
                    heap: None,
                });
            }
            Some(Class::Heap(kind, subject)) => {
                self.close();
                let flow = self.take_flow(diag.position, subject);
                self.out.findings.push(RawFinding {
                    block: self.block.clone(),
                    file: diag.file.to_string(),
                    line: diag.line,
                    column: diag.column,
                    kind,
                    expr: subject.to_string(),
                    message: diag.message.to_string(),
                    flow,
                });
            }
            Some(Class::Found(kind, subject)) => {
                self.close();
                self.out.informational += 1;
                if kind == Kind::InlinedCall {
                    self.out.inline_calls.push(InlineCall {
                        block: self.block.clone(),
                        file: diag.file.to_string(),
                        line: diag.line,
                        callee: subject.to_string(),
                    });
                }
                self.out.checked.push(RawFinding {
                    block: self.block.clone(),
                    file: diag.file.to_string(),
                    line: diag.line,
                    column: diag.column,
                    kind,
                    expr: subject.to_string(),
                    message: found_message(kind, diag.message, subject),
                    flow: Vec::new(),
                });
            }
            Some(Class::Plain(..)) => {
                self.close();
                self.out.informational += 1;
                if diag.message == ZERO_COPY {
                    self.zero_copy
                        .insert((self.block.clone(), diag.position.to_string()));
                }
            }
            None => self.unrecognised(line),
        }
    }

    fn flow(&mut self, diag: &Diagnostic<'_>) {
        // A flow line belongs to the explanation opened at the same position; one that
        // does not (never seen from the compiler) is still an explanation line, so it is
        // recognised and dropped rather than attached to the wrong finding.
        if let Some(open) = &mut self.open {
            if open.position == diag.position {
                if let Some(heap) = &mut open.heap {
                    // Keep the nesting (`from` under `flow:`), drop the indent common to all.
                    let text = diag.message.strip_prefix("  ").unwrap_or(diag.message);
                    heap.flow.push(text.to_string());
                }
            }
        }
    }

    /// Reads a line that was too long to keep whole: `start` is its beginning and `len`
    /// its length in bytes. Its end is unknown, so it is never a finding (the subject
    /// or the position might be cut); it is kept as unrecognised, shortened, so that the
    /// user hears about it.
    pub fn cut_line(&mut self, start: &str, len: u64) {
        const SHOWN: usize = 200;
        let mut end = start.len().min(SHOWN);
        while !start.is_char_boundary(end) {
            end -= 1;
        }
        self.unrecognised(&format!(
            "{}… (a line of {len} bytes, too long to read; cut here)",
            &start[..end]
        ));
    }

    /// Lines read so far that were not recognised.
    pub fn unrecognised_lines(&self) -> &[String] {
        &self.out.unrecognised
    }

    /// What the lines said.
    pub fn finish(mut self) -> ParsedOutput {
        if !self.zero_copy.is_empty() {
            let zero_copy = std::mem::take(&mut self.zero_copy);
            self.out.checked.retain(|f| {
                f.kind != Kind::ConcatConvert
                    || !zero_copy.contains(&(f.block.clone(), position_of(f)))
            });
        }
        self.out
    }

    fn close(&mut self) {
        if let Some(Open {
            position,
            heap: Some(explanation),
        }) = self.open.take()
        {
            self.pending.entry(position).or_default().push(explanation);
        }
    }

    /// The flow of the explanation printed for this summary: same position, same text if
    /// there is one (several allocations can share a position), else the oldest at the
    /// position (the header and summary texts differ for `append(s, v)` / `append` and for
    /// constants propagated into the summary, `n` / `7`).
    fn take_flow(&mut self, position: &str, subject: &str) -> Vec<String> {
        let Some(list) = self.pending.get_mut(position) else {
            return Vec::new();
        };
        let at = list.iter().position(|e| e.expr == subject).unwrap_or(0);
        let flow = list.remove(at).flow;
        if list.is_empty() {
            self.pending.remove(position);
        }
        flow
    }

    fn unrecognised(&mut self, line: &str) {
        self.close();
        self.out.unrecognised.push(line.to_string());
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
