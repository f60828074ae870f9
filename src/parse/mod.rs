//! Stage "Parse": the compiler's escape-analysis output (what `go build -gcflags=-m` or
//! `-m=2` wrote on stderr) in, raw heap findings out. Pure: no I/O, no knowledge of the
//! repository; positions stay exactly as the compiler printed them. Every line ends up in
//! exactly one place: a block header, a heap finding, the informational count, an `-m=2`
//! explanation (attached to its heap finding, or recognised and dropped), or
//! [`ParsedOutput::unrecognised`], so that a build error or a message added by a new Go
//! release is surfaced instead of silently dropped.

use std::collections::HashMap;

use crate::finding::{Kind, RawFinding};

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

/// Classifies one diagnostic message (the text after `FILE:LINE:COL: `). Returns the kind and the subject
/// (variable name for `moved to heap: x`, EXPR for `EXPR escapes to heap` / `EXPR does not escape`, the param for leaking param, function for inlining),
/// or None when the message is not something `-m`/`-m=2` prints on purpose.
///
/// The lines of an `-m=2` explanation are recognised as [`Message::Info`], never as a
/// heap allocation, even `EXPR escapes to heap in FUNC:`: that header explains a finding
/// that is reported separately, and counting it would count the allocation twice.
pub fn classify(message: &str) -> Option<(Message, &str)> {
    Some(match classify_message(message)? {
        Class::Heap(kind, subject) | Class::Found(kind, subject) => (Message::from(kind), subject),
        Class::Plain(message, subject) => (message, subject),
        Class::EscapeHeader(expr) => (Message::Info, expr),
        Class::LeakHeader(param) => (Message::Info, param),
        Class::Flow(text) => (Message::Info, text),
    })
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

/// What one compiler message says: the parser's classification. Only the first two are
/// heap allocations (a finding's [`Kind`]); the others are recognised so that anything
/// *not* recognised can be surfaced instead of silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// `moved to heap: NAME`
    Moved,
    /// `EXPR escapes to heap`
    Escapes,
    /// `EXPR does not escape`
    DoesNotEscape,
    /// `leaking param: p`, `leaking param content: p`, `leaking param: p to result ~r0 level=0`
    LeakingParam,
    /// `can inline F`, `cannot inline F: …`, `inlining call to F`
    Inlining,
    /// Everything else the compiler prints on purpose under `-m`: devirtualisation,
    /// bounds-check notes, zero-copy conversions, uintptr notes, explanation lines.
    Info,
}

impl Message {
    /// The heap finding's kind, for the two messages that are heap allocations.
    pub fn heap(self) -> Option<Kind> {
        match self {
            Message::Moved => Some(Kind::Moved),
            Message::Escapes => Some(Kind::Escapes),
            Message::DoesNotEscape | Message::LeakingParam | Message::Inlining | Message::Info => {
                None
            }
        }
    }
}

impl From<Kind> for Message {
    fn from(kind: Kind) -> Message {
        match kind {
            Kind::Moved => Message::Moved,
            Kind::Escapes => Message::Escapes,
            Kind::Inlinable | Kind::InlinedCall | Kind::NotInlinable | Kind::NotInlined => {
                Message::Inlining
            }
            Kind::VariableMake | Kind::ConcatConvert => Message::DoesNotEscape,
            Kind::BoundsCheck | Kind::Gcassert => Message::Info,
        }
    }
}

/// What a message is, finer than [`Message`]: the parser must tell explanation lines apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class<'a> {
    /// `moved to heap: x`, `EXPR escapes to heap`.
    Heap(Kind, &'a str),
    /// An informational diagnostic that a check reads (`can inline F`, `Found
    /// IsInBounds`, a variable-size `make` that "does not escape"), as a finding.
    Found(Kind, &'a str),
    /// Any other `-m` diagnostic.
    Plain(Message, &'a str),
    /// `EXPR escapes to heap in FUNC:` (Go 1.25+) or `EXPR escapes to heap:`.
    EscapeHeader(&'a str),
    /// `parameter P leaks to DST [for FUNC] with derefs=N:`.
    LeakHeader(&'a str),
    /// `  flow: …`, `    from …`, `  warning: truncated explanation …` (text without the indent).
    Flow(&'a str),
}

const ESCAPES: &str = " escapes to heap";

fn classify_message(msg: &str) -> Option<Class<'_>> {
    if msg.starts_with(' ') {
        let text = msg.trim_start();
        return (text.starts_with("flow: ")
            || text.starts_with("from ")
            || text.starts_with("warning: truncated explanation"))
        .then_some(Class::Flow(text));
    }
    // Headers end with `:`; no summary line does, so test them first.
    if let Some(head) = msg.strip_suffix(':') {
        if let Some(expr) = head.strip_suffix(ESCAPES) {
            return non_empty(expr).map(Class::EscapeHeader);
        }
        // Function names never contain the marker, the expression could (a string literal).
        if let Some(at) = head.rfind(" escapes to heap in ") {
            return non_empty(&head[..at]).map(Class::EscapeHeader);
        }
        if let Some(rest) = head.strip_prefix("parameter ") {
            if let Some(at) = rest.find(" leaks to ") {
                if rest.contains(" with derefs=") {
                    return Some(Class::LeakHeader(&rest[..at]));
                }
            }
        }
    }
    if let Some(expr) = msg.strip_suffix(ESCAPES) {
        return non_empty(expr).map(|e| Class::Heap(Kind::Escapes, e));
    }
    if let Some(name) = msg.strip_prefix("moved to heap: ") {
        return non_empty(name).map(|n| Class::Heap(Kind::Moved, n));
    }
    if let Some(what) = msg.strip_prefix("Found ") {
        // `-d=ssa/check_bce/debug=1`.
        if what == "IsInBounds" || what == "IsSliceInBounds" {
            return Some(Class::Found(Kind::BoundsCheck, what));
        }
    }
    let (message, subject) = classify_plain(msg)?;
    Some(match message {
        Message::Inlining if msg.starts_with("can inline ") => {
            Class::Found(Kind::Inlinable, subject)
        }
        Message::Inlining if msg.starts_with("inlining call to ") => {
            Class::Found(Kind::InlinedCall, subject)
        }
        Message::Inlining
            if msg.starts_with("cannot inline ") && !before(msg, ": ").contains(" into ") =>
        {
            Class::Found(Kind::NotInlinable, subject)
        }
        Message::DoesNotEscape
            if msg.ends_with(" does not escape") && is_variable_make(subject) =>
        {
            Class::Found(Kind::VariableMake, subject)
        }
        Message::DoesNotEscape
            if msg.ends_with(" does not escape") && is_concat_convert(subject) =>
        {
            Class::Found(Kind::ConcatConvert, subject)
        }
        _ => Class::Plain(message, subject),
    })
}

/// The message a finding of a check carries: the compiler's words, and for the two
/// that need it, what they mean.
fn found_message(kind: Kind, message: &str, subject: &str) -> String {
    match kind {
        Kind::VariableMake => format!(
            "{subject} may allocate on the heap: its size is not a constant, so it is on the \
             stack only up to 32 bytes (Go 1.25+), on the heap above (the compiler: \"{message}\")"
        ),
        Kind::ConcatConvert => format!(
            "{subject} may allocate on the heap: its result is on the stack only up to 32 \
             bytes, on the heap above (the compiler: \"{message}\")"
        ),
        Kind::BoundsCheck => format!("bounds check kept (the compiler: \"{message}\")"),
        _ => message.to_string(),
    }
}

/// Whether `expr` is a slice `make` whose capacity (its last argument) is not a
/// constant: `make([]byte, n)`, `make([]int, 0, n)`, but not `make([]byte, 16)` or
/// `make([]byte, n, 16)`. The compiler prints constant sizes folded to a decimal
/// number (`make([]byte, N*2)` is printed `make([]byte, 16)`, Go 1.22 to 1.27), so a
/// last argument that is not one is a size known only when the code runs.
pub fn is_variable_make(expr: &str) -> bool {
    let Some(inner) = expr
        .strip_prefix("make([]")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return false;
    };
    // The last argument at depth 0 (the element type may hold commas: `[]func(a, b int)`).
    let mut depth = 0i32;
    let mut last = None;
    for (i, c) in inner.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => last = Some(i),
            _ => {}
        }
    }
    let Some(at) = last else {
        return false;
    };
    let size = inner[at + 1..].trim();
    !size.is_empty() && !size.bytes().all(|b| b.is_ascii_digit())
}

/// `file:line:col` (or `file:line`) as the compiler printed a finding's position.
fn position_of(f: &RawFinding) -> String {
    match f.column {
        Some(col) => format!("{}:{}:{col}", f.file, f.line),
        None => format!("{}:{}", f.file, f.line),
    }
}

/// Whether `expr` is a string concatenation or a conversion that the compiler gives a
/// 32-byte stack buffer (cmd/compile/internal/walk: `tmpstringbufsize`): `a + b` (a
/// `+` outside brackets and quotes), `string(b)`, `([]byte)(s)`, `([]rune)(s)`. A
/// conversion of a string literal is left out: its size is a constant, and the compiler
/// sizes its stack array to it.
pub fn is_concat_convert(expr: &str) -> bool {
    for prefix in ["string(", "([]byte)(", "([]rune)("] {
        if let Some(inner) = expr.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            let literal = (inner.starts_with('"') && inner.ends_with('"') && inner.len() >= 2)
                || (inner.starts_with('`') && inner.ends_with('`') && inner.len() >= 2);
            return !inner.is_empty() && !literal;
        }
    }
    // A `+` at depth 0, outside string literals.
    let (mut depth, mut quote) = (0i32, None::<char>);
    let mut escaped = false;
    let chars: Vec<char> = expr.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '+' if depth == 0 && i > 0 && chars[i - 1] == ' ' && chars.get(i + 1) == Some(&' ') => {
                return true
            }
            _ => {}
        }
    }
    false
}

/// The informational messages, most frequent first.
fn classify_plain(msg: &str) -> Option<(Message, &str)> {
    if let Some(rest) = msg.strip_prefix("can inline ") {
        return Some((Message::Inlining, before(rest, " with cost ")));
    }
    if let Some(rest) = msg.strip_prefix("inlining call to ") {
        // `with score N` under GOEXPERIMENT=newinliner.
        return Some((Message::Inlining, before(rest, " with score ")));
    }
    if let Some(expr) = msg.strip_suffix(" does not escape") {
        return non_empty(expr).map(|e| (Message::DoesNotEscape, e));
    }
    if let Some(rest) = msg
        .strip_prefix("leaking param: ")
        .or_else(|| msg.strip_prefix("leaking param content: "))
    {
        return non_empty(before(rest, " to result ")).map(|p| (Message::LeakingParam, p));
    }
    if let Some(rest) = msg.strip_prefix("cannot inline ") {
        // `cannot inline F: REASON`, `cannot inline F into G: REASON` (the callee is the subject).
        let callee = before(before(rest, ": "), " into ");
        return Some((Message::Inlining, callee));
    }
    if let Some(rest) = msg.strip_prefix("function ") {
        if let Some(func) = rest.strip_suffix(" considered 'big'; reducing max cost of inlinees") {
            return Some((Message::Inlining, func));
        }
    }
    // `-d=escapemutationscalls`: same tags, finer detail.
    if let Some(expr) = msg.strip_suffix(" does not escape, mutate, or call") {
        return non_empty(expr).map(|e| (Message::DoesNotEscape, e));
    }
    if let Some(rest) = msg
        .strip_prefix("mutates param: ")
        .or_else(|| msg.strip_prefix("calls param: "))
    {
        return Some((Message::LeakingParam, before(rest, " derefs=")));
    }
    info(msg).map(|subject| (Message::Info, subject))
}

/// The remaining messages printed under `-m`/`-m=2` (cmd/compile/internal: escape,
/// devirtualize, walk, bloop, liveness). Returns the subject.
fn info(msg: &str) -> Option<&str> {
    const EXACT: [&str; 6] = [
        "zero-copy string->[]byte conversion",
        "index bounds check elided",
        "imprecise interface call",
        "expr will be kept alive",
        "expr is unknown to bloop pass",
        "unrecognized shape for assign list stmt for blank assignment",
    ];
    if EXACT.contains(&msg) {
        return Some(msg);
    }
    const PREFIXES: [&str; 6] = [
        "devirtualizing ",
        "partially devirtualizing ",
        "PGO devirtualizing ",
        "cannot devirtualize ",
        "should not PGO devirtualize ",
        "stack object ",
    ];
    for prefix in PREFIXES {
        if let Some(rest) = msg.strip_prefix(prefix) {
            return Some(before(before(rest, " to "), ": "));
        }
    }
    // `F capturing by ref: x (addr=true assign=false width=8)`
    for how in [" capturing by ref: ", " capturing by value: "] {
        if let Some(at) = msg.find(how) {
            if msg.ends_with(')') {
                return Some(before(&msg[at + how.len()..], " ("));
            }
        }
    }
    // `F ignoring self-assignment in b.b = b.b[1:]`
    if let Some(at) = msg.find(" ignoring self-assignment in ") {
        return Some(&msg[at + " ignoring self-assignment in ".len()..]);
    }
    if let Some(rest) = msg.strip_prefix("assuming ") {
        return rest.strip_suffix(" is unsafe uintptr");
    }
    if let Some(rest) = msg.strip_prefix("marking ") {
        return rest
            .strip_suffix(" as escaping uintptr")
            .or_else(|| rest.strip_suffix(" as escaping ...uintptr"));
    }
    // testing.B.Loop keep-alive notes (Go 1.26+): `x will be kept alive`, `function results will …`.
    msg.strip_suffix(" will be kept alive")
}

fn before<'a>(s: &'a str, marker: &str) -> &'a str {
    s.find(marker).map_or(s, |at| &s[..at])
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
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
                if diag.message == "zero-copy string->[]byte conversion" {
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
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/go-output/",
                $name
            ))
        };
    }

    /// A finding without its message and flow, for compact expectations.
    fn brief(f: &RawFinding) -> (&str, &str, u32, Option<u32>, Kind, &str) {
        (
            f.block.as_str(),
            f.file.as_str(),
            f.line,
            f.column,
            f.kind,
            f.expr.as_str(),
        )
    }

    fn count(out: &ParsedOutput, kind: Kind) -> usize {
        out.findings.iter().filter(|f| f.kind == kind).count()
    }

    fn find<'a>(
        out: &'a ParsedOutput,
        file: &str,
        line: u32,
        col: u32,
        expr: &str,
    ) -> &'a RawFinding {
        out.findings
            .iter()
            .find(|f| f.file == file && f.line == line && f.column == Some(col) && f.expr == expr)
            .unwrap_or_else(|| panic!("no finding {file}:{line}:{col} {expr:?}"))
    }

    #[test]
    fn classify_messages() {
        use Message::*;
        let cases: &[(&str, Option<(Message, &str)>)] = &[
            // Heap allocations, in every rendering the fixtures show.
            ("moved to heap: t", Some((Moved, "t"))),
            ("moved to heap: a", Some((Moved, "a"))),
            ("&S{} escapes to heap", Some((Escapes, "&S{}"))),
            ("&T{...} escapes to heap", Some((Escapes, "&T{...}"))),
            ("make([]byte, 0, 16) escapes to heap", Some((Escapes, "make([]byte, 0, 16)"))),
            ("make([]int, n) escapes to heap", Some((Escapes, "make([]int, n)"))),
            ("func literal escapes to heap", Some((Escapes, "func literal"))),
            ("a + b escapes to heap", Some((Escapes, "a + b"))),
            ("string(b) escapes to heap", Some((Escapes, "string(b)"))),
            ("x escapes to heap", Some((Escapes, "x"))),
            ("1 escapes to heap", Some((Escapes, "1"))),
            ("~r0 escapes to heap", Some((Escapes, "~r0"))),
            ("append escapes to heap", Some((Escapes, "append"))),
            ("... argument escapes to heap", Some((Escapes, "... argument"))),
            ("\"string too large\" escapes to heap", Some((Escapes, "\"string too large\""))),
            ("\"x\" + s escapes to heap", Some((Escapes, "\"x\" + s"))),
            (
                "&gen.Boxed[go.shape.*uint8]{...} escapes to heap",
                Some((Escapes, "&gen.Boxed[go.shape.*uint8]{...}")),
            ),
            ("testdeps.TestDeps{} escapes to heap", Some((Escapes, "testdeps.TestDeps{}"))),
            // -m=2 headers explain a finding; they are not one.
            ("t escapes to heap in newT:", Some((Info, "t"))),
            ("t escapes to heap:", Some((Info, "t"))),
            ("append(s, v) escapes to heap in appendy:", Some((Info, "append(s, v)"))),
            (
                "&gen.Boxed[go.shape.*uint8]{...} escapes to heap in Box[*main.T]:",
                Some((Info, "&gen.Boxed[go.shape.*uint8]{...}")),
            ),
            (
                "&reflect.ValueError{...} escapes to heap in struct { reflect.typ_ *internal/abi.Type; reflect.ptr unsafe.Pointer; reflect.flag }.reflect.mustBe:",
                Some((Info, "&reflect.ValueError{...}")),
            ),
            ("parameter p leaks to {heap} with derefs=0:", Some((Info, "p"))),
            ("parameter p leaks to {heap} for g with derefs=0:", Some((Info, "p"))),
            (
                "parameter ~p0 leaks to {heap} for interface { Get() *int }.Get with derefs=0:",
                Some((Info, "~p0")),
            ),
            ("  flow: ~r0 = &t:", Some((Info, "flow: ~r0 = &t:"))),
            ("  flow: {heap} ← *pp:", Some((Info, "flow: {heap} ← *pp:"))),
            (
                "    from &t (address-of) at ./x.go:10:9",
                Some((Info, "from &t (address-of) at ./x.go:10:9")),
            ),
            (
                "  warning: truncated explanation due to assignment cycle; see golang.org/issue/35518",
                Some((Info, "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518")),
            ),
            // Informational.
            ("p does not escape", Some((DoesNotEscape, "p"))),
            ("make([]int, 10) does not escape", Some((DoesNotEscape, "make([]int, 10)"))),
            ("... argument does not escape", Some((DoesNotEscape, "... argument"))),
            ("append does not escape", Some((DoesNotEscape, "append"))),
            ("42 does not escape", Some((DoesNotEscape, "42"))),
            ("([]byte)(\"x\") does not escape", Some((DoesNotEscape, "([]byte)(\"x\")"))),
            ("p does not escape, mutate, or call", Some((DoesNotEscape, "p"))),
            ("leaking param: p", Some((LeakingParam, "p"))),
            ("leaking param content: pp", Some((LeakingParam, "pp"))),
            ("leaking param: p to result ~r0 level=0", Some((LeakingParam, "p"))),
            ("leaking param: i to result ~r0 level=1", Some((LeakingParam, "i"))),
            ("mutates param: p derefs=0", Some((LeakingParam, "p"))),
            ("calls param: f derefs=1", Some((LeakingParam, "f"))),
            ("can inline helper", Some((Inlining, "helper"))),
            ("can inline (*Inner).Get", Some((Inlining, "(*Inner).Get"))),
            ("can inline gen.Box[go.shape.*uint8]", Some((Inlining, "gen.Box[go.shape.*uint8]"))),
            (
                "can inline f with cost 10 as: func(int) *T { t := T{...}; return &t }",
                Some((Inlining, "f")),
            ),
            ("cannot inline main: unhandled op GO", Some((Inlining, "main"))),
            (
                "cannot inline BenchmarkArea: function too complex: cost 146 exceeds budget 80",
                Some((Inlining, "BenchmarkArea")),
            ),
            ("cannot inline F into G: repeated recursive cycle", Some((Inlining, "F"))),
            ("inlining call to fmt.Println", Some((Inlining, "fmt.Println"))),
            ("inlining call to F with score 12", Some((Inlining, "F"))),
            ("function main considered 'big'; reducing max cost of inlinees", Some((Inlining, "main"))),
            ("devirtualizing s.Area to Sq", Some((Info, "s.Area"))),
            ("partially devirtualizing s.Area to Sq", Some((Info, "s.Area"))),
            ("PGO devirtualizing interface call s.Area to Sq.Area", Some((Info, "interface call s.Area"))),
            ("cannot devirtualize s.M(): shaped receiver go.shape.int", Some((Info, "s.M()"))),
            ("index bounds check elided", Some((Info, "index bounds check elided"))),
            ("zero-copy string->[]byte conversion", Some((Info, "zero-copy string->[]byte conversion"))),
            ("closure capturing by ref: x (addr=false assign=true width=8)", Some((Info, "x"))),
            ("main capturing by value: t (addr=false assign=false width=8)", Some((Info, "t"))),
            ("(*Buf).Trim ignoring self-assignment in b.b = b.b[1:]", Some((Info, "b.b = b.b[1:]"))),
            ("assuming ~p1 is unsafe uintptr", Some((Info, "~p1"))),
            ("marking p as escaping uintptr", Some((Info, "p"))),
            ("marking ps as escaping ...uintptr", Some((Info, "ps"))),
            ("function result will be kept alive", Some((Info, "function result"))),
            ("expr is unknown to bloop pass", Some((Info, "expr is unknown to bloop pass"))),
            ("stack object x [8]int", Some((Info, "x [8]int"))),
            // Not escape analysis: errors, and what a future release may add.
            ("undefined: y", None),
            ("declared and not used: x", None),
            ("x escapes to heap, not allowed in runtime", None),
            ("moved to heap: ", None),
            (" escapes to heap", None),
            ("escapes to heap", None),
            ("  something new: x", None),
            ("marking p as special", None),
            ("assuming p is fine", None),
            ("parameter p is unused:", None),
            ("", None),
        ];
        for &(message, want) in cases {
            assert_eq!(classify(message), want, "message {message:?}");
        }
    }

    #[test]
    fn split_positions() {
        /// file, line, column, position, message
        type Split = (&'static str, u32, Option<u32>, &'static str, &'static str);
        let cases: &[(&str, Option<Split>)] = &[
            (
                "./a.go:13:6: can inline x",
                Some(("./a.go", 13, Some(6), "./a.go:13:6", "can inline x")),
            ),
            (
                "sub/sub.go:9:6: m",
                Some(("sub/sub.go", 9, Some(6), "sub/sub.go:9:6", "m")),
            ),
            (
                "<autogenerated>:1: m",
                Some(("<autogenerated>", 1, None, "<autogenerated>:1", "m")),
            ),
            (
                "gen.y:101: x escapes to heap",
                Some(("gen.y", 101, None, "gen.y:101", "x escapes to heap")),
            ),
            (
                r"C:\x\a.go:3:4: msg",
                Some((r"C:\x\a.go", 3, Some(4), r"C:\x\a.go:3:4", "msg")),
            ),
            (
                "my dir/a b.go:3:4: m",
                Some(("my dir/a b.go", 3, Some(4), "my dir/a b.go:3:4", "m")),
            ),
            (
                "dir:1/a.go:3:4: m",
                Some(("dir:1/a.go", 3, Some(4), "dir:1/a.go:3:4", "m")),
            ),
            (
                "x:12:a.go:3:4: m",
                Some(("x:12:a.go", 3, Some(4), "x:12:a.go:3:4", "m")),
            ),
            // The explanation lines keep their indent in the message.
            (
                "a.go:9:2:   flow: x ← y:",
                Some(("a.go", 9, Some(2), "a.go:9:2", "  flow: x ← y:")),
            ),
            // A position inside the message is not the line's position.
            (
                "a.go:9:2:     from &t at b.go:1:1",
                Some(("a.go", 9, Some(2), "a.go:9:2", "    from &t at b.go:1:1")),
            ),
            ("a.go:3:4: ", Some(("a.go", 3, Some(4), "a.go:3:4", ""))),
            // An absurd line number is not one: the colon then counts as part of the file name.
            (
                "a.go:99999999999:4: m",
                Some(("a.go:99999999999", 4, None, "a.go:99999999999:4", "m")),
            ),
            ("a.go:3:4:m", None),
            ("a.go:3:x: m", None),
            ("go: downloading example.com/x v1.0.0", None),
            ("note: module requires Go 1.30 (running go 1.26.8)", None),
            ("too many errors", None),
        ];
        for &(text, want) in cases {
            let got =
                split_position(text).map(|d| (d.file, d.line, d.column, d.position, d.message));
            assert_eq!(got, want, "line {text:?}");
        }
    }

    /// Per fixture: heap findings, of which moved, informational count, unrecognised count,
    /// and the blocks in order of first appearance.
    #[test]
    fn fixture_counts() {
        /// name, text, heap, moved, informational, unrecognised, blocks
        type Case = (
            &'static str,
            &'static str,
            usize,
            usize,
            usize,
            usize,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "m1-go1.22.txt",
                fixture!("m1-go1.22.txt"),
                25,
                5,
                86,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-go1.23.txt",
                fixture!("m1-go1.23.txt"),
                25,
                5,
                86,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-go1.24.txt",
                fixture!("m1-go1.24.txt"),
                26,
                6,
                86,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-go1.25.txt",
                fixture!("m1-go1.25.txt"),
                26,
                6,
                88,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-go1.26.txt",
                fixture!("m1-go1.26.txt"),
                26,
                6,
                88,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-go1.27.txt",
                fixture!("m1-go1.27.txt"),
                26,
                6,
                88,
                0,
                &["example.com/m/sub", "example.com/m"],
            ),
            (
                "m1-trimpath-local.txt",
                fixture!("m1-trimpath-local.txt"),
                31,
                7,
                100,
                0,
                &["example.com/m/sub", "example.com/m", "example.com/m/cg"],
            ),
            (
                "m1-test-local.txt",
                fixture!("m1-test-local.txt"),
                5,
                0,
                32,
                0,
                &[
                    "example.com/msg [example.com/msg.test]",
                    "example.com/msg.test",
                ],
            ),
            (
                "m2-small-go1.24.txt",
                fixture!("m2-small-go1.24.txt"),
                2,
                1,
                4,
                0,
                &["example.com/m2"],
            ),
            (
                "m2-small-go1.26.txt",
                fixture!("m2-small-go1.26.txt"),
                2,
                1,
                4,
                0,
                &["example.com/m2"],
            ),
            (
                "m2-trimpath-go1.26.txt",
                fixture!("m2-trimpath-go1.26.txt"),
                22,
                5,
                90,
                0,
                &["example.com/m"],
            ),
            (
                "m2-trimpath-local.txt",
                fixture!("m2-trimpath-local.txt"),
                31,
                7,
                119,
                0,
                &["example.com/m/sub", "example.com/m", "example.com/m/cg"],
            ),
            (
                "m2-test-local.txt",
                fixture!("m2-test-local.txt"),
                5,
                0,
                37,
                0,
                &[
                    "example.com/msg [example.com/msg.test]",
                    "example.com/msg.test",
                ],
            ),
            (
                "m1-error-local.txt",
                fixture!("m1-error-local.txt"),
                1,
                1,
                1,
                2,
                &["example.com/bad/ok"],
            ),
        ];
        for &(name, text, heap, moved, informational, unrecognised, blocks) in cases {
            let out = parse(text);
            assert_eq!(out.findings.len(), heap, "{name}: heap findings");
            assert_eq!(count(&out, Kind::Moved), moved, "{name}: moved");
            assert_eq!(count(&out, Kind::Escapes), heap - moved, "{name}: escapes");
            assert_eq!(out.informational, informational, "{name}: informational");
            assert_eq!(
                out.unrecognised.len(),
                unrecognised,
                "{name}: {:?}",
                out.unrecognised
            );
            let mut seen: Vec<&str> = Vec::new();
            for f in &out.findings {
                if !seen.contains(&f.block.as_str()) {
                    seen.push(&f.block);
                }
            }
            assert_eq!(seen, blocks, "{name}: blocks");
            let m2 = name.starts_with("m2-");
            for f in &out.findings {
                assert_eq!(
                    f.message.ends_with("escapes to heap"),
                    f.kind == Kind::Escapes,
                    "{name}: {f:?}"
                );
                // Every heap line of these -m=2 outputs has its explanation.
                assert_eq!(!f.flow.is_empty(), m2, "{name}: flow of {f:?}");
            }
        }
    }

    /// In -m output every line is a header, a heap finding or an informational one.
    #[test]
    fn m1_lines_all_accounted_for() {
        for text in [
            fixture!("m1-go1.22.txt"),
            fixture!("m1-go1.24.txt"),
            fixture!("m1-go1.27.txt"),
            fixture!("m1-trimpath-local.txt"),
            fixture!("m1-test-local.txt"),
        ] {
            let out = parse(text);
            let lines = text.lines().count();
            let headers = text.lines().filter(|l| l.starts_with("# ")).count();
            assert_eq!(out.findings.len() + out.informational + headers, lines);
        }
    }

    #[test]
    fn specific_findings() {
        let go126 = parse(fixture!("m1-go1.26.txt"));
        let append = find(&go126, "./a.go", 61, 51, "append");
        assert_eq!(
            brief(append),
            (
                "example.com/m",
                "./a.go",
                61,
                Some(51),
                Kind::Escapes,
                "append"
            )
        );
        assert_eq!(append.message, "append escapes to heap");
        assert!(append.flow.is_empty());
        let moved = find(&go126, "sub/sub.go", 14, 6, "a");
        assert_eq!(
            brief(moved),
            (
                "example.com/m/sub",
                "sub/sub.go",
                14,
                Some(6),
                Kind::Moved,
                "a"
            )
        );
        assert_eq!(moved.message, "moved to heap: a");
        assert_eq!(
            brief(&go126.findings[0]),
            (
                "example.com/m/sub",
                "sub/sub.go",
                6,
                Some(15),
                Kind::Escapes,
                "&S{}"
            )
        );
        let last = go126.findings.last().expect("fixture has findings");
        assert_eq!(
            brief(last),
            (
                "example.com/m",
                "./gen/gen.go",
                5,
                Some(6),
                Kind::Escapes,
                "&gen.Boxed[go.shape.int]{...}"
            )
        );
        // The same generic allocation is reported once per shape.
        let shapes = go126
            .findings
            .iter()
            .filter(|f| f.file == "./gen/gen.go" && f.line == 6)
            .count();
        assert_eq!(shapes, 3);

        // Before 1.25 there is no `append` message and no constant propagation.
        let go124 = parse(fixture!("m1-go1.24.txt"));
        assert!(go124.findings.iter().all(|f| f.expr != "append"));
        find(&go124, "./a.go", 69, 8, "make([]int, n)");
        // Before 1.24, `a` in sub.Big was small enough for the stack.
        let go122 = parse(fixture!("m1-go1.22.txt"));
        assert!(go122
            .findings
            .iter()
            .all(|f| !(f.file == "sub/sub.go" && f.line == 14)));

        // -trimpath names, //line positions without a column, cgo.
        let local = parse(fixture!("m1-trimpath-local.txt"));
        let yacc = local
            .findings
            .iter()
            .find(|f| f.file == "gen.y")
            .expect("gen.y finding");
        assert_eq!(
            brief(yacc),
            ("example.com/m", "gen.y", 101, None, Kind::Moved, "x")
        );
        let cgo = find(&local, "_cgo_gotypes.go", 60, 9, "\"string too large\"");
        assert_eq!(cgo.block, "example.com/m/cg");
        find(&local, "example.com/m/cg/cg.go", 14, 7, "&R{...}");
        find(&local, "example.com/m/a.go", 64, 11, "t");

        // Test builds: `[p.test]` blocks and `<autogenerated>` positions.
        let test = parse(fixture!("m1-test-local.txt"));
        assert_eq!(
            brief(&test.findings[0]),
            (
                "example.com/msg [example.com/msg.test]",
                "example.com/msg/msg.go",
                36,
                Some(26),
                Kind::Escapes,
                "n"
            )
        );
        let auto: Vec<_> = test
            .findings
            .iter()
            .filter(|f| f.file == "<autogenerated>")
            .map(brief)
            .collect();
        assert_eq!(
            auto,
            vec![
                (
                    "example.com/msg.test",
                    "<autogenerated>",
                    1,
                    None,
                    Kind::Escapes,
                    "&reflect.ValueError{...}"
                );
                2
            ]
        );
    }

    #[test]
    fn m2_flow_before_go_1_25() {
        let out = parse(fixture!("m2-small-go1.24.txt"));
        assert_eq!(out.informational, 4);
        let t = &out.findings[0];
        assert_eq!(
            brief(t),
            ("example.com/m2", "./x.go", 9, Some(2), Kind::Moved, "t")
        );
        assert_eq!(
            t.flow,
            [
                "flow: ~r0 = &t:",
                "  from &t (address-of) at ./x.go:10:9",
                "  from return &t (return) at ./x.go:10:2"
            ]
        );
        let lit = &out.findings[1];
        assert_eq!(
            brief(lit),
            (
                "example.com/m2",
                "./x.go",
                18,
                Some(7),
                Kind::Escapes,
                "&T{...}"
            )
        );
        assert_eq!(lit.flow.len(), 6);
        assert_eq!(lit.flow[3], "flow: {heap} = x:");
    }

    #[test]
    fn m2_flow_from_go_1_25() {
        let out = parse(fixture!("m2-small-go1.26.txt"));
        assert_eq!(out.findings.len(), 2);
        assert_eq!(
            out.findings[0].flow,
            [
                "flow: ~r0 ← &t:",
                "  from &t (address-of) at ./x.go:10:9",
                "  from return &t (return) at ./x.go:10:2"
            ]
        );
        assert_eq!(
            out.findings[1].flow,
            [
                "flow: x ← &{storage for &T{...}}:",
                "  from &T{...} (spill) at ./x.go:18:7",
                "  from x := &T{...} (assign) at ./x.go:18:4",
                "flow: {heap} ← x:",
                "  from x (interface-converted) at ./x.go:19:9",
                "  from sink = x (assign) at ./x.go:19:7"
            ]
        );
        // Same source, older compiler: identical findings apart from the arrow.
        let old = parse(fixture!("m2-small-go1.24.txt"));
        for (new, old) in out.findings.iter().zip(&old.findings) {
            assert_eq!(brief(new), brief(old));
            let arrow: Vec<String> = old
                .flow
                .iter()
                .map(|l| {
                    if l.starts_with("flow: ") {
                        l.replacen(" = ", " ← ", 1)
                    } else {
                        l.clone()
                    }
                })
                .collect();
            assert_eq!(new.flow, arrow);
        }
    }

    #[test]
    fn m2_pairing_by_position_and_text() {
        let out = parse(fixture!("m2-trimpath-go1.26.txt"));
        // x's explanation (49:2) follows the func literal's (50:9); the summaries come
        // later, in the other order.
        let x = find(&out, "example.com/m/a.go", 49, 2, "x");
        assert_eq!(x.kind, Kind::Moved);
        assert_eq!(
            x.flow,
            [
                "flow: {storage for func literal} ← &x:",
                "  from x (captured by a closure) at example.com/m/a.go:50:22",
                "  from x (reference) at example.com/m/a.go:50:22"
            ]
        );
        let lit = find(&out, "example.com/m/a.go", 50, 9, "func literal");
        assert_eq!(lit.flow[0], "flow: ~r0 ← &{storage for func literal}:");
        assert_eq!(lit.flow.len(), 3);
        // Header `append(s, v)`, summary `append`: paired by position; the parameter-leak
        // explanation in between is not attached.
        let append = find(&out, "example.com/m/a.go", 61, 51, "append");
        assert_eq!(append.flow.len(), 3);
        assert_eq!(append.flow[0], "flow: ~r0 ← &{storage for append(s, v)}:");
        // Explanation far from its summary, with three flows.
        let t = find(&out, "example.com/m/a.go", 64, 11, "t");
        assert_eq!(t.flow.len(), 7);
        assert_eq!(
            t.flow[6],
            "  from ch <- t (send) at example.com/m/a.go:87:5"
        );
        // Several instantiations at one position each get their own explanation.
        let boxes: Vec<_> = out
            .findings
            .iter()
            .filter(|f| f.file == "example.com/m/gen/gen.go" && f.line == 5)
            .map(|f| (f.expr.as_str(), f.flow.len()))
            .collect();
        assert_eq!(
            boxes,
            [
                ("&gen.Boxed[go.shape.*uint8]{...}", 5),
                ("&gen.Boxed[go.shape.string]{...}", 5),
                ("&gen.Boxed[go.shape.int]{...}", 5)
            ]
        );
        // //line position without a column.
        let yacc = out
            .findings
            .iter()
            .find(|f| f.file == "gen.y")
            .expect("gen.y finding");
        assert_eq!((yacc.line, yacc.column, yacc.flow.len()), (101, None, 3));

        // A constant propagated into the summary (`7`) keeps the header's text (`n`).
        let test = parse(fixture!("m2-test-local.txt"));
        let seven = find(&test, "example.com/msg/msg_test.go", 13, 5, "7");
        assert_eq!(
            seven.flow,
            [
                "flow: {heap} ← &{storage for n}:",
                "  from n (spill) at example.com/msg/msg_test.go:13:5",
                "  from sink = n (assign) at example.com/msg/msg_test.go:13:5"
            ]
        );
    }

    #[test]
    fn m1_and_m2_agree_on_findings() {
        let m1 = parse(fixture!("m1-trimpath-local.txt"));
        let m2 = parse(fixture!("m2-trimpath-local.txt"));
        let mut a: Vec<_> = m1.findings.iter().map(brief).collect();
        let mut b: Vec<_> = m2.findings.iter().map(brief).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn build_errors_are_unrecognised() {
        let out = parse(fixture!("m1-error-local.txt"));
        assert_eq!(
            out.unrecognised,
            [
                "./bad.go:4:2: declared and not used: x",
                "./bad.go:5:10: undefined: y"
            ]
        );
        assert_eq!(out.informational, 1);
        assert_eq!(
            out.findings.iter().map(brief).collect::<Vec<_>>(),
            [(
                "example.com/bad/ok",
                "ok/ok.go",
                3,
                Some(17),
                Kind::Moved,
                "x"
            )]
        );

        let text = "go: downloading example.com/x v1.0.0\r\n\
                    note: module requires Go 1.30 (running go 1.26.8)\r\n\
                    C:\\w\\a.go:3:4: moved to heap: v\r\n\
                    \r\n\
                    # example.com/p\r\n\
                    C:\\w\\a.go:5:1: new(T) escapes to heap\r\n\
                    C:\\w\\a.go:5:1: something the next release says\r\n\
                    #\r\n";
        let out = parse(text);
        assert_eq!(
            out.unrecognised,
            [
                "go: downloading example.com/x v1.0.0",
                "note: module requires Go 1.30 (running go 1.26.8)",
                "C:\\w\\a.go:5:1: something the next release says",
                "#"
            ]
        );
        assert_eq!(
            out.findings.iter().map(brief).collect::<Vec<_>>(),
            [
                ("", "C:\\w\\a.go", 3, Some(4), Kind::Moved, "v"),
                (
                    "example.com/p",
                    "C:\\w\\a.go",
                    5,
                    Some(1),
                    Kind::Escapes,
                    "new(T)"
                )
            ]
        );
        assert_eq!(out.informational, 0);
    }

    #[test]
    fn explanation_edge_cases() {
        let text = "# p\n\
            a.go:1:5: x escapes to heap in F:\n\
            a.go:1:5:   flow: {heap} ← &x:\n\
            a.go:1:5: &T{} escapes to heap in F:\n\
            a.go:1:5:   flow: y ← &{storage for &T{}}:\n\
            a.go:1:5:   warning: truncated explanation due to assignment cycle; see golang.org/issue/35518\n\
            a.go:2:1:   flow: stray ← line:\n\
            a.go:3:1: unexpected text\n\
            a.go:3:1:   flow: after ← unrecognised:\n\
            a.go:1:5: &T{} escapes to heap\n\
            a.go:1:5: moved to heap: x\n\
            a.go:9:9: z escapes to heap\n\
            a.go:1:5: w escapes to heap in G:\n\
            a.go:1:5:   flow: {heap} ← &w:\n\
            # q\n\
            a.go:1:5: moved to heap: x\n";
        let out = parse(text);
        assert_eq!(out.unrecognised, ["a.go:3:1: unexpected text"]);
        assert_eq!(out.informational, 0);
        let got: Vec<_> = out
            .findings
            .iter()
            .map(|f| (f.block.as_str(), f.expr.as_str(), f.flow.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "p",
                    "&T{}",
                    vec![
                        "flow: y ← &{storage for &T{}}:".to_string(),
                        "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518"
                            .to_string()
                    ]
                ),
                ("p", "x", vec!["flow: {heap} ← &x:".to_string()]),
                ("p", "z", vec![]),
                // An explanation left without a summary does not leak into the next block.
                ("q", "x", vec![]),
            ]
        );
    }

    #[test]
    fn empty_input() {
        assert_eq!(parse(""), ParsedOutput::default());
        assert_eq!(parse("\n\n"), ParsedOutput::default());
    }

    /// A large input, to catch accidental quadratic behaviour; counts must be exact.
    #[test]
    fn large_synthetic_input() {
        let text = synthetic(200_000);
        assert_eq!(text.lines().count(), 200_000);
        let out = parse(&text);
        // Per 20-line package: 1 header, 4 heap, 5 informational, 9 explanation lines, 1 error.
        let packages = 200_000 / 20;
        assert_eq!(out.findings.len(), packages * 4);
        assert_eq!(count(&out, Kind::Moved), packages);
        assert_eq!(out.informational, packages * 5);
        assert_eq!(out.unrecognised.len(), packages);
        let flows: Vec<usize> = out.findings[..4].iter().map(|f| f.flow.len()).collect();
        assert_eq!(flows, [3, 2, 0, 0]);
        assert_eq!(
            out.findings.iter().filter(|f| f.flow.len() == 3).count(),
            packages
        );
        assert_eq!(
            out.findings.iter().filter(|f| f.flow.len() == 2).count(),
            packages
        );
        let f = &out.findings[out.findings.len() - 1];
        assert_eq!(
            brief(f),
            (
                "example.com/p9999",
                "example.com/p9999/a.go",
                12,
                Some(3),
                Kind::Escapes,
                "func literal"
            )
        );
    }

    fn synthetic(lines: usize) -> String {
        let mut text = String::with_capacity(lines * 60);
        for p in 0..lines / 20 {
            let f = format!("example.com/p{p}/a.go");
            text.push_str(&format!("# example.com/p{p}\n"));
            text.push_str(&format!("{f}:3:6: can inline newT with cost 12 as: func() *T {{ t := T{{...}}; return &t }}\n"));
            text.push_str(&format!("{f}:4:2: t escapes to heap in newT:\n"));
            text.push_str(&format!("{f}:4:2:   flow: ~r0 ← &t:\n"));
            text.push_str(&format!("{f}:4:2:     from &t (address-of) at {f}:5:9\n"));
            text.push_str(&format!(
                "{f}:4:2:     from return &t (return) at {f}:5:2\n"
            ));
            text.push_str(&format!(
                "{f}:7:12: parameter p leaks to {{heap}} for store with derefs=0:\n"
            ));
            text.push_str(&format!("{f}:7:12:   flow: {{heap}} ← p:\n"));
            text.push_str(&format!("{f}:8:9: make([]int, n) escapes to heap in mk:\n"));
            text.push_str(&format!(
                "{f}:8:9:   flow: ~r0 ← &{{storage for make([]int, n)}}:\n"
            ));
            text.push_str(&format!("{f}:8:9:     from return s (return) at {f}:8:2\n"));
            text.push_str(&format!("{f}:4:2: moved to heap: t\n"));
            text.push_str(&format!("{f}:7:12: leaking param: p\n"));
            text.push_str(&format!("{f}:8:9: make([]int, n) escapes to heap\n"));
            text.push_str(&format!("{f}:10:2: p does not escape\n"));
            text.push_str(&format!("{f}:11:2: ... argument does not escape\n"));
            text.push_str(&format!("{f}:11:3: x escapes to heap\n"));
            text.push_str(&format!("{f}:12:3: func literal escapes to heap\n"));
            text.push_str(&format!("{f}:13:3: undefined: q\n"));
            text.push_str(&format!("{f}:14:3: index bounds check elided\n"));
        }
        text
    }

    /// Found by `arbitrary_lines_never_panic`: a line whose first character is more
    /// than one byte (a file named `é.go`) made the position search slice inside it.
    #[test]
    fn a_file_name_starting_with_a_wide_character_is_read() {
        let out = parse("é.go:3:2: moved to heap: x\n←\n𝚨:1: y\n");
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].file, "é.go");
        assert_eq!(out.unrecognised, vec!["←", "𝚨:1: y"]);
    }

    #[test]
    fn a_cut_heap_line_is_a_warning_not_a_finding() {
        let mut parser = Parser::default();
        parser.cut_line("a.go:1:2: moved to heap: xxxxxxxx", 1 << 30);
        let out = parser.finish();
        assert!(out.findings.is_empty());
        assert_eq!(
            out.unrecognised,
            vec!["a.go:1:2: moved to heap: xxxxxxxx… (a line of 1073741824 bytes, too long to read; cut here)"]
        );
    }
}

/// Property tests ("fuzzing" on stable Rust): arbitrary lines, and real compiler lines
/// mutated, never make the parser panic, and what it makes of them keeps its
/// invariants. `cargo test` runs proptest's default number of cases;
/// `bench/fuzz.sh` runs many more (`PROPTEST_CASES`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Every line of every captured compiler output.
    fn fixture_lines() -> Vec<&'static str> {
        const FIXTURES: [&str; 14] = [
            include_str!("../../tests/fixtures/go-output/m1-error-local.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.22.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.23.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.24.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.25.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.26.txt"),
            include_str!("../../tests/fixtures/go-output/m1-go1.27.txt"),
            include_str!("../../tests/fixtures/go-output/m1-test-local.txt"),
            include_str!("../../tests/fixtures/go-output/m1-trimpath-local.txt"),
            include_str!("../../tests/fixtures/go-output/m2-small-go1.24.txt"),
            include_str!("../../tests/fixtures/go-output/m2-small-go1.26.txt"),
            include_str!("../../tests/fixtures/go-output/m2-test-local.txt"),
            include_str!("../../tests/fixtures/go-output/m2-trimpath-go1.26.txt"),
            include_str!("../../tests/fixtures/go-output/m2-trimpath-local.txt"),
        ];
        FIXTURES.iter().flat_map(|f| f.lines()).collect()
    }

    /// One edit of a line: what a new Go release, a hostile file name or a damaged
    /// stream could do to it.
    #[derive(Debug, Clone)]
    enum Mutation {
        Insert(usize, String),
        Delete(usize, usize),
        Truncate(usize),
        Duplicate(usize, usize),
        /// Replaces a run of digits (a line or column) with another number.
        Renumber(usize, String),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let text = prop_oneof![
            "[:# \t\r←=~*&{}()\\[\\]0-9a-z.\"'\\\\/-]{1,6}",
            Just(": ".to_string()),
            Just(" escapes to heap".to_string()),
            Just("moved to heap: ".to_string()),
            Just(" in F:".to_string()),
            Just("  flow: ".to_string()),
            Just("    from x (assign) at a.go:1:2".to_string()),
            Just(":4294967296:".to_string()),
            Just("\u{0}\u{feff}é😀".to_string()),
        ];
        prop_oneof![
            (any::<usize>(), text).prop_map(|(at, s)| Mutation::Insert(at, s)),
            (any::<usize>(), 0usize..12).prop_map(|(at, n)| Mutation::Delete(at, n)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), 1usize..12).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
            (any::<usize>(), "[0-9]{0,12}").prop_map(|(at, n)| Mutation::Renumber(at, n)),
        ]
    }

    /// The nearest character boundary at or before `at % (len + 1)`.
    fn boundary(s: &str, at: usize) -> usize {
        let mut at = at % (s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn apply(line: &str, m: &Mutation) -> String {
        let mut s = line.to_string();
        match m {
            Mutation::Insert(at, text) => s.insert_str(boundary(&s, *at), text),
            Mutation::Delete(at, n) => {
                let from = boundary(&s, *at);
                let to = boundary(&s, (from + n).min(s.len()));
                if to > from {
                    s.replace_range(from..to, "");
                }
            }
            Mutation::Truncate(at) => s.truncate(boundary(&s, *at)),
            Mutation::Duplicate(at, n) => {
                let from = boundary(&s, *at);
                let to = boundary(&s, (from + n).min(s.len()));
                let piece = s[from.min(to)..to].to_string();
                s.insert_str(to, &piece);
            }
            Mutation::Renumber(at, digits) => {
                let bytes = s.as_bytes();
                let start = boundary(&s, *at);
                if let Some(d) = bytes[start..].iter().position(u8::is_ascii_digit) {
                    let from = start + d;
                    let len = bytes[from..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    s.replace_range(from..from + len, digits);
                }
            }
        }
        s
    }

    /// The parser's invariants for `lines` fed one at a time.
    fn check(lines: &[String]) -> Result<(), TestCaseError> {
        let mut parser = Parser::default();
        for line in lines {
            parser.line(line);
        }
        let out = parser.finish();
        // The same text parsed whole gives the same result as streamed; lines with a
        // `\n` inside are several lines to `parse`, so only compare when there are none.
        if lines.iter().all(|l| !l.contains('\n')) {
            prop_assert_eq!(&parse(&lines.join("\n")), &out);
        }
        let content: Vec<&str> = lines
            .iter()
            .map(|l| l.strip_suffix('\n').unwrap_or(l))
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
            .collect();
        // Each line in at most one place.
        prop_assert!(
            out.findings.len() + out.unrecognised.len() + out.informational <= content.len()
        );
        for finding in &out.findings {
            prop_assert!(matches!(finding.kind, Kind::Moved | Kind::Escapes));
            prop_assert!(!finding.expr.is_empty() && !finding.file.is_empty());
            // The finding is the message of an input line that starts with its file.
            let file = format!("{}:", finding.file);
            prop_assert!(
                content
                    .iter()
                    .any(|l| l.starts_with(&file) && l.ends_with(&finding.message)),
                "{:?} is in no input line",
                finding
            );
            prop_assert_eq!(
                classify(&finding.message).and_then(|(m, _)| m.heap()),
                Some(finding.kind)
            );
        }
        for line in &out.unrecognised {
            prop_assert!(
                content.contains(&line.as_str()),
                "{} is no input line",
                line
            );
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(any::<String>(), 0..20)) {
            check(&lines)?;
        }

        #[test]
        fn arbitrary_diagnostic_shaped_lines_never_panic(
            lines in proptest::collection::vec(
                "(# |[a-z./]{0,8}:[0-9]{0,11}(:[0-9]{0,11})?: ){0,2}( {0,4}(flow: |from |moved to heap: |warning: )?[a-z&*(){}\\[\\]~ .:←=\"]{0,12}( escapes to heap| does not escape| with derefs=0)?( in [A-Za-z.]{1,5})?:?)",
                0..30,
            )
        ) {
            check(&lines)?;
        }

        #[test]
        fn mutated_compiler_lines_never_panic(
            picks in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::collection::vec(mutation(), 0..4)), 1..40)
        ) {
            let all = fixture_lines();
            let lines: Vec<String> = picks
                .iter()
                .map(|(index, mutations)| {
                    let line = all[index.index(all.len())];
                    mutations.iter().fold(line.to_string(), |l, m| apply(&l, m))
                })
                .collect();
            check(&lines)?;
        }

        #[test]
        fn cut_lines_are_unrecognised_never_findings(
            start in any::<String>(),
            len in any::<u64>(),
            before in proptest::collection::vec(any::<proptest::sample::Index>(), 0..5),
        ) {
            let all = fixture_lines();
            let mut parser = Parser::default();
            for index in &before {
                parser.line(all[index.index(all.len())]);
            }
            let findings = parser.out.findings.len();
            let unrecognised = parser.out.unrecognised.len();
            parser.cut_line(&start, len);
            let out = parser.finish();
            prop_assert_eq!(out.findings.len(), findings);
            prop_assert_eq!(out.unrecognised.len(), unrecognised + 1);
            let last = out.unrecognised.last().map(String::as_str).unwrap_or("");
            let expected_suffix = format!("… (a line of {len} bytes, too long to read; cut here)");
            prop_assert!(last.ends_with(&expected_suffix));
        }
    }
}

#[cfg(test)]
mod checks_tests {
    use super::*;

    /// `go build -gcflags='-m=2 -d=ssa/check_bce/debug=1'` of
    /// tests/fixtures/go-output/checks-source.go.txt with Go 1.24 and 1.26.
    fn checked(name: &str, text: &str) -> Vec<(u32, Kind, String)> {
        let out = parse(text);
        assert!(
            out.unrecognised.is_empty(),
            "{name}: {:?}",
            out.unrecognised
        );
        out.checked
            .iter()
            .map(|f| (f.line, f.kind, f.expr.clone()))
            .collect()
    }

    #[test]
    fn inlining_bounds_and_variable_make_from_two_go_versions() {
        let go124 = include_str!("../../tests/fixtures/go-output/checks-m2-bce-go1.24.txt");
        let go126 = include_str!("../../tests/fixtures/go-output/checks-m2-bce-go1.26.txt");
        for (name, text) in [("go1.24", go124), ("go1.26", go126)] {
            let got = checked(name, text);
            let has = |line: u32, kind: Kind, expr: &str| {
                got.iter()
                    .any(|(l, k, e)| *l == line && *k == kind && e == expr)
            };
            assert!(has(7, Kind::Inlinable, "Sum"), "{name}: {got:?}");
            assert!(has(20, Kind::Inlinable, "Idx"), "{name}");
            assert!(has(21, Kind::BoundsCheck, "IsInBounds"), "{name}");
            assert!(has(25, Kind::BoundsCheck, "IsSliceInBounds"), "{name}");
            let makes: Vec<&str> = got
                .iter()
                .filter(|(_, k, _)| *k == Kind::VariableMake)
                .map(|(_, _, e)| e.as_str())
                .collect();
            if name == "go1.24" {
                // Before 1.25 a variable-size make is on the heap and says so.
                assert!(makes.is_empty(), "{makes:?}");
                let heap = parse(text).findings;
                assert!(heap.iter().any(|f| f.expr == "make([]byte, n)"));
            } else {
                assert_eq!(
                    makes,
                    vec!["make([]byte, n)", "make([]int, 0, n)", "make([]big, n)"],
                    "constant sizes, folded (N*2) or capped (n, 16), are not variable"
                );
            }
        }
    }

    #[test]
    fn concat_convert_shapes_and_zero_copy() {
        for (expr, want) in [
            ("a + b", true),
            ("a + b + c", true),
            ("\"prefix-\" + a", true),
            ("string(b)", true),
            ("string(b[:n])", true),
            ("([]byte)(s)", true),
            ("([]rune)(s)", true),
            ("string(r)", true),
            ("([]byte)(\"x\")", false),
            ("string(\"x\")", false),
            ("f(a + b)", false),
            ("\"a + b\"", false),
            ("make([]byte, n + 1)", false),
            ("&T{...}", false),
        ] {
            assert_eq!(is_concat_convert(expr), want, "{expr}");
        }
        let text = "# example.com/m\n./a.go:4:13: a + b + c does not escape\n./a.go:10:14: ([]byte)(s) does not escape\n./a.go:10:14: zero-copy string->[]byte conversion\n./a.go:11:14: ([]rune)(s) does not escape\n./a.go:13:14: ([]byte)(\"constant\") does not escape\n";
        let got: Vec<(u32, String)> = parse(text)
            .checked
            .iter()
            .filter(|f| f.kind == Kind::ConcatConvert)
            .map(|f| (f.line, f.expr.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, "a + b + c".to_string()),
                (11, "([]rune)(s)".to_string())
            ],
            "the zero-copy conversion and the constant one allocate nothing"
        );
    }

    #[test]
    fn variable_make_shapes() {
        for (expr, want) in [
            ("make([]byte, n)", true),
            ("make([]int, 0, n)", true),
            ("make([]byte, len(s) + 1)", true),
            ("make([]func(a, b int), n)", true),
            ("make([]byte, 16)", false),
            ("make([]byte, n, 16)", false),
            ("make([]func(a, b int), 4)", false),
            ("make(map[string]int, n)", false),
            ("make(chan int, n)", false),
            ("new(T)", false),
        ] {
            assert_eq!(is_variable_make(expr), want, "{expr}");
        }
        assert_eq!(
            classify("Found IsInBounds"),
            Some((Message::Info, "IsInBounds"))
        );
    }
}
