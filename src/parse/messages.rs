//! The wording of the compiler's messages: which texts `go build -gcflags=-m` and
//! `-m=2` print, and what each one says ([`Message`], the finer [`Class`] the parser
//! reads). This is what a new Go release touches; the lines around the messages
//! (package headers, positions) are read in the parent module.

use crate::finding::Kind;

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
pub(super) enum Class<'a> {
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

/// A conversion that shares the string's bytes: the one at its position allocates
/// nothing.
pub(super) const ZERO_COPY: &str = "zero-copy string->[]byte conversion";

/// What `msg` is, as the parser needs to know it ([`Class`]); `None` when `-m`/`-m=2`
/// does not print it on purpose.
pub(super) fn classify_message(msg: &str) -> Option<Class<'_>> {
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
pub(super) fn found_message(kind: Kind, message: &str, subject: &str) -> String {
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
        ZERO_COPY,
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
