//! Bounds on the allowlist's text, checked before the YAML parser sees it.
//!
//! The allowlist of a pull request is written by its author, and a YAML parser can be
//! made to work far harder than the text is long: aliases expand a few kilobytes into
//! gigabytes (`a: &a [x, x]`, `b: &b [*a, *a]`, …), and the parser underneath
//! yaml_serde takes time quadratic in the depth of nested flow collections (50,000 `[`
//! take 12 s) before yaml_serde's own depth limit of 128 refuses them. An allowlist
//! needs none of this: no anchors, aliases, tags or directives, and a nesting depth of
//! three. So the text is capped in size, and scanned once, in linear time, the way the
//! parser's scanner splits it into tokens (libyaml's `yaml_parser_fetch_next_token`),
//! to refuse those tokens and flow nesting deeper than [`MAX_FLOW_DEPTH`] before the
//! parser starts.
//!
//! The scan must never skip text the parser reads as tokens; where it cannot be sure
//! what the parser does, it reads more, which can only refuse a file that is not an
//! allowlist anyway. It skips: comments, quoted scalars, the rest of a plain scalar on
//! its line, and the content lines of a block scalar (`|`, `>`), which it recognises
//! with the parser's own indentation rule. A plain scalar continued on the next line
//! is read there as new tokens (so a `*` that starts such a line is refused).

use std::fmt;

/// The largest allowlist read. Real ones are a few kilobytes; 1 MiB holds thousands of
/// entries, and parsing that much takes well under a second.
pub const MAX_BYTES: usize = 1024 * 1024;

/// The deepest nesting of `[…]` and `{…}` accepted (an allowlist needs two:
/// `allow: [{path: …}]`).
pub const MAX_FLOW_DEPTH: usize = 16;

/// Why the text was refused, and where (1-based line and column, when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks the size and scans the text; see the module documentation.
pub fn check(text: &str) -> Result<(), Refusal> {
    if text.len() > MAX_BYTES {
        return Err(Refusal {
            line: None,
            column: None,
            message: format!(
                "the file is {} bytes; an allowlist may be at most {MAX_BYTES} bytes (1 MiB)",
                text.len()
            ),
        });
    }
    Scanner::new(text).run()
}

/// A line break as the YAML parser sees one: LF, CR, CR LF, NEL, LS, PS.
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Blank, line break or end of text.
fn is_blankz(c: Option<char>) -> bool {
    c.is_none_or(|c| is_blank(c) || is_break(c))
}

struct Scanner {
    chars: Vec<char>,
    at: usize,
    line: usize,
    /// Index of the first character of the current line.
    line_start: usize,
    flow: usize,
    /// The parser's block indentation as far as the scan can tell: the column of the
    /// last `-`, `?` or key of a `:` read in block context (-1 before any). It is never
    /// below the parser's, so block scalar content is never skipped too far.
    indent: i64,
    /// Column of the first token since the last line start or block indicator: the
    /// column a simple key has if a `:` follows.
    node_column: Option<usize>,
    /// A plain scalar ended at a line break, where the parser may go on with it on the
    /// next line (always in flow context, when indented enough in block context): a
    /// quote or `|` starting that line may be plain text to the parser, so it is not
    /// taken as the start of a scalar the scan would skip.
    plain_may_continue: bool,
}

impl Scanner {
    fn new(text: &str) -> Scanner {
        Scanner {
            chars: text.chars().collect(),
            at: 0,
            line: 1,
            line_start: 0,
            flow: 0,
            indent: -1,
            node_column: None,
            plain_may_continue: false,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn column(&self) -> usize {
        self.at - self.line_start
    }

    /// Moves past one character, counting lines (CR LF is one break).
    fn bump(&mut self) {
        let Some(c) = self.peek(0) else {
            return;
        };
        self.at += 1;
        if is_break(c) {
            if c == '\r' && self.peek(0) == Some('\n') {
                self.at += 1;
            }
            self.line += 1;
            self.line_start = self.at;
            if self.flow == 0 {
                self.node_column = None;
            }
        }
    }

    fn refuse(&self, message: &str) -> Result<(), Refusal> {
        Err(Refusal {
            line: Some(self.line),
            column: Some(self.column() + 1),
            message: message.to_string(),
        })
    }

    fn run(mut self) -> Result<(), Refusal> {
        loop {
            self.skip_to_token();
            let Some(c) = self.peek(0) else {
                return Ok(());
            };
            let column = self.column();
            if self.flow == 0 && self.node_column.is_none() {
                self.node_column = Some(column);
            }
            let next = self.peek(1);
            if std::mem::take(&mut self.plain_may_continue) && matches!(c, '\'' | '"' | '|' | '>') {
                self.plain();
                continue;
            }
            match c {
                '%' if column == 0 => {
                    return self
                        .refuse("YAML directives (%YAML, %TAG) are not supported in an allowlist");
                }
                '-' | '.'
                    if column == 0
                        && self.peek(1) == Some(c)
                        && self.peek(2) == Some(c)
                        && is_blankz(self.peek(3)) =>
                {
                    self.at += 3;
                    self.node_column = None;
                }
                '[' | '{' => {
                    self.flow += 1;
                    if self.flow > MAX_FLOW_DEPTH {
                        return self.refuse(&format!(
                            "`[` and `{{` are nested more than {MAX_FLOW_DEPTH} deep; an allowlist needs at most 2"
                        ));
                    }
                    self.bump();
                }
                ']' | '}' => {
                    self.flow = self.flow.saturating_sub(1);
                    self.bump();
                }
                ',' => self.bump(),
                '-' if is_blankz(next) => self.block_indicator(column),
                '?' if self.flow > 0 || is_blankz(next) => self.block_indicator(column),
                ':' if self.flow > 0 || is_blankz(next) => {
                    if self.flow == 0 {
                        // The key before it is where the parser's indentation goes.
                        self.indent = self.node_column.map_or(column, |c| c.min(column)) as i64;
                        self.node_column = None;
                    }
                    self.bump();
                }
                '*' => {
                    return self.refuse(
                        "YAML aliases (*name) are not supported in an allowlist (quote a value that starts with `*`)",
                    );
                }
                '&' => {
                    return self.refuse(
                        "YAML anchors (&name) are not supported in an allowlist (quote a value that starts with `&`)",
                    );
                }
                '!' => {
                    return self.refuse(
                        "YAML tags (!name) are not supported in an allowlist (quote a value that starts with `!`)",
                    );
                }
                '|' | '>' if self.flow == 0 => self.block_scalar(),
                '\'' => self.single_quoted(),
                '"' => self.double_quoted(),
                _ => self.plain(),
            }
        }
    }

    /// `-`, `?` (and in block context, where they open a collection at their column).
    fn block_indicator(&mut self, column: usize) {
        if self.flow == 0 {
            self.indent = column as i64;
            self.node_column = None;
        }
        self.bump();
    }

    /// Blanks, line breaks and comments, as the parser skips them between tokens.
    fn skip_to_token(&mut self) {
        // A `#` starts a comment at a token's start (after a blank, a line start, or
        // the start of the text).
        while let Some(c) = self.peek(0) {
            if is_blank(c) || is_break(c) || c == '\u{feff}' {
                self.bump();
            } else if c == '#' {
                // A comment ends a plain scalar for good.
                self.plain_may_continue = false;
                self.skip_line();
            } else {
                break;
            }
        }
    }

    /// To the line break (not past it).
    fn skip_line(&mut self) {
        while self.peek(0).is_some_and(|c| !is_break(c)) {
            self.at += 1;
        }
    }

    /// A plain scalar: to its end on this line (`: `, ` #`, a line break, and in flow
    /// context `,[]{}`), which is where the parser ends it too.
    fn plain(&mut self) {
        self.at += 1;
        while let Some(c) = self.peek(0) {
            if is_break(c) {
                self.plain_may_continue = true;
                return;
            }
            let next = self.peek(1);
            if c == ':'
                && (is_blankz(next)
                    || (self.flow > 0
                        && next.is_some_and(|n| matches!(n, ',' | '?' | '[' | ']' | '{' | '}'))))
            {
                return;
            }
            if self.flow > 0 && matches!(c, ',' | '[' | ']' | '{' | '}') {
                return;
            }
            if is_blank(c) {
                // Blanks inside the scalar; blanks then `#` end it with a comment.
                let mut ahead = 1;
                while self.peek(ahead).is_some_and(is_blank) {
                    ahead += 1;
                }
                if self.peek(ahead).is_none_or(|c| c == '#' || is_break(c)) {
                    self.at += ahead;
                    self.plain_may_continue = self.peek(0).is_some_and(is_break);
                    return;
                }
                self.at += ahead;
                continue;
            }
            self.at += 1;
        }
    }

    /// `'…'`, where `''` is a quote; may span lines.
    fn single_quoted(&mut self) {
        self.bump();
        while let Some(c) = self.peek(0) {
            if c == '\'' {
                if self.peek(1) == Some('\'') {
                    self.at += 2;
                    continue;
                }
                self.bump();
                return;
            }
            self.bump();
        }
    }

    /// `"…"`, where `\` escapes the next character; may span lines.
    fn double_quoted(&mut self) {
        self.bump();
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    self.bump();
                    self.bump();
                }
                '"' => {
                    self.bump();
                    return;
                }
                _ => self.bump(),
            }
        }
    }

    /// `|` or `>`: the header line, then every line indented at least as deep as the
    /// content, which the parser takes from the indentation indicator or from the first
    /// line that is not empty, and never shallower than one more than its own block
    /// indentation (`yaml_parser_scan_block_scalar`).
    fn block_scalar(&mut self) {
        self.at += 1;
        let mut increment: Option<i64> = None;
        for _ in 0..2 {
            match self.peek(0) {
                Some('+' | '-') => self.at += 1,
                Some(d @ '1'..='9') => {
                    increment = Some(i64::from(d as u8 - b'0'));
                    self.at += 1;
                }
                _ => break,
            }
        }
        // The rest of the header: blanks and a comment, or the parser stops with an
        // error here; either way nothing more of this line is a token.
        self.skip_line();
        let floor = (self.indent + 1).max(1);
        let mut indent: Option<i64> =
            increment.map(|i| if self.indent >= 0 { self.indent + i } else { i });
        let mut widest_blank: i64 = 0;
        while let Some(c) = self.peek(0) {
            if !is_break(c) {
                break;
            }
            // At a line break: look at the next line.
            let mut probe = self.at + 1;
            if c == '\r' && self.chars.get(probe) == Some(&'\n') {
                probe += 1;
            }
            let mut spaces = 0usize;
            while self.chars.get(probe + spaces) == Some(&' ') {
                spaces += 1;
            }
            let rest = self.chars.get(probe + spaces).copied();
            let empty = rest.is_none_or(is_break);
            let needed = match indent {
                Some(i) => i,
                None if empty => {
                    widest_blank = widest_blank.max(spaces as i64);
                    self.bump();
                    self.skip_line();
                    continue;
                }
                None => {
                    let i = (spaces as i64).max(floor).max(widest_blank);
                    indent = Some(i);
                    i
                }
            };
            if empty || spaces as i64 >= needed {
                // Content (or an empty line inside it): skip the whole line.
                self.bump();
                self.skip_line();
            } else {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match check(text) {
            Ok(()) => panic!("accepted:\n{text}"),
            Err(r) => format!(
                "{}:{} {}",
                r.line.unwrap_or(0),
                r.column.unwrap_or(0),
                r.message
            ),
        }
    }

    #[test]
    fn ordinary_allowlists_pass() {
        let texts = [
            "",
            "version: 1\n",
            "# only a comment\n---\n",
            "version: 1\nbuild:\n  flags: [\"-tags=x\"]\n  packages: ['./...']\nallow:\n  - path: \"a/*.go\"\n    function: (*Encoder).Encode\n    message: make([]byte, *) escapes to heap\n    reason: it's the caller's & nobody else's # comment\n    expires: 2027-06-30\n",
            "version: 1\nallow: [{path: a.go, reason: x}, {path: '**', reason: \"y\"}]\n",
            "version: 1\nallow:\n- path: x\n  reason: |\n    *starred* text\n    &amp; [[[[ {{{{ !bang\n\n    more\n  function: F\n",
            "version: 1\nallow:\n  - path: x\n    reason: >-\n      folded *text* [\n      & more\n",
            "version: 1\nallow:\n  - path: x\n    function: \"*\"\n    message: '*escapes*'\n    reason: \"a \\\" quote [ and & and *\"\n",
            "version: 1\r\nallow:\r\n  - path: x\r\n    reason: y\r\n",
        ];
        for text in texts {
            assert_eq!(check(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn anchors_aliases_tags_and_directives_are_refused_where_they_are() {
        let cases = [
            ("a: &x [1]\nb: *x\n", "1:4 YAML anchors"),
            ("version: 1\nallow:\n  - *e\n", "3:5 YAML aliases"),
            ("a: [x, &y y]\n", "1:8 YAML anchors"),
            ("a: !!binary aGk=\n", "1:4 YAML tags"),
            ("%YAML 1.1\n---\na: 1\n", "1:1 YAML directives"),
            // A block scalar ends where the indentation does.
            ("a: |\n  text\n*b\n", "3:1 YAML aliases"),
            // A comment ends at any line break the parser knows, CR included.
            ("a: 1 # c\r*b: 2\n", "2:1 YAML aliases"),
            ("a: 1 # c\u{2028}*b: 2\n", "2:1 YAML aliases"),
            // A quote starts a scalar only at a token's start.
            ("a: it's\nb: *c\n", "2:4 YAML aliases"),
            // Nor at the start of a line that may continue a plain scalar.
            ("a: [x\n'y, &z ']\n", "2:5 YAML anchors"),
        ];
        // Plain text to the parser: `x "y &z"` is one scalar.
        assert_eq!(check("a: x\n  \"y &z\"\n"), Ok(()));
        for (text, want) in cases {
            let got = refused(text);
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_at_the_first_bracket_too_deep() {
        let text = format!("a: {}", "[".repeat(100_000));
        assert!(refused(&text).starts_with("1:20 `[` and `{` are nested more than 16"));
        let ok = format!(
            "a: {}{}",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(check(&ok), Ok(()));
        // A bracket inside a quoted scalar closes nothing.
        let quoted = format!("a: {}", "[\"]\" ".repeat(40));
        assert!(refused(&quoted).contains("nested more than"));
        // A quote on a line that continues a plain scalar in flow context is plain
        // text to the parser, and so are the brackets after it.
        let continued = format!("a: [x\n'{}'", "[".repeat(100));
        assert!(refused(&continued).contains("nested more than"));
    }

    #[test]
    fn the_size_is_capped() {
        let text = format!("version: 1\n#{}\n", "x".repeat(MAX_BYTES));
        assert!(refused(&text).contains("at most 1048576 bytes (1 MiB)"));
    }
}
