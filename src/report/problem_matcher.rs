//! Keeps escape-gate's lines away from CI problem matchers for Go.
//!
//! `actions/setup-go` registers a problem matcher for the whole job:
//! `^\s*(\.{0,2}[\/\\].+\.go):(?:(\d+):(\d+):)? (.*)`. Every log line that matches it
//! becomes an error annotation on that file and line. escape-gate prints compiler
//! lines in two places, a build that failed (its errors) and a warning about lines it
//! does not recognise, and the compiler writes the files of the package in the current
//! directory as `./a.go:3:4: ...`. Those paths are relative to a module directory in
//! escape-gate's temporary checkout, not to the workspace, so an annotation made from
//! them would point at the wrong file for any module below the root, and absolute ones
//! (the checkout, GOROOT, the module cache) at none. escape-gate reports its errors
//! itself (its own `::error` annotations, exit 2 in the Action), so none of its lines
//! is meant for the matcher: [`unmatched`] rewrites each line that would match, `./a.go`
//! as the same relative path `a.go`, anything else behind `> `.

use std::borrow::Cow;

/// Whether `actions/setup-go`'s matcher reads `line` as an error, exactly as its
/// regular expression does (tested against the expression itself).
pub fn setup_go_matches(line: &str) -> bool {
    let rest = line.trim_start();
    let dots = rest.bytes().take_while(|&b| b == b'.').count();
    if dots > 2 {
        return false;
    }
    let Some(after_dots) = rest.get(dots..) else {
        return false;
    };
    if !after_dots.starts_with(['/', '\\']) {
        return false;
    }
    // `.+\.go`: at least one character after the separator, then `.go:`, then either
    // a space or `LINE:COL: `; any occurrence will do, as the regex backtracks.
    let path_start = dots + 1;
    let Some(first) = rest[path_start..].chars().next() else {
        return false;
    };
    let mut from = path_start + first.len_utf8();
    while let Some(i) = rest.get(from..).and_then(|s| s.find(".go:")) {
        let after = &rest[from + i + 4..];
        if after.starts_with(' ') || line_col_then_space(after) {
            return true;
        }
        from += i + 1;
    }
    false
}

/// `\d+:\d+: ` at the start of `s`.
fn line_col_then_space(s: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let a = digits(s);
    if a == 0 || s.as_bytes().get(a) != Some(&b':') {
        return false;
    }
    let s = &s[a + 1..];
    let b = digits(s);
    b > 0 && s[b..].starts_with(": ")
}

/// `line`, rewritten when the matcher would read it: `./` dropped from the front of its
/// path (the same path), or else `> ` put before it; the indentation kept.
pub fn unmatched_line(line: &str) -> Cow<'_, str> {
    if !setup_go_matches(line) {
        return Cow::Borrowed(line);
    }
    let indent = &line[..line.len() - line.trim_start().len()];
    let rest = line.trim_start();
    if let Some(shorter) = rest.strip_prefix("./") {
        // `./a.go` and `a.go` are the same path; `.//a.go` and `/a.go` are not, and the
        // check below keeps those (they still match) from being shortened.
        let candidate = format!("{indent}{shorter}");
        if !setup_go_matches(&candidate) {
            return Cow::Owned(candidate);
        }
    }
    Cow::Owned(format!("{indent}> {rest}"))
}

/// [`unmatched_line`] on every line of `text`; line endings are kept.
pub fn unmatched(text: &str) -> Cow<'_, str> {
    if !text.split('\n').any(setup_go_matches) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.strip_suffix('\r') {
            Some(bare) => {
                out.push_str(&unmatched_line(bare));
                out.push('\r');
            }
            None => out.push_str(&unmatched_line(line)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expression `actions/setup-go` registers (matchers.json), verbatim.
    const SETUP_GO: &str = r"^\s*(\.{0,2}[\/\\].+\.go):(?:(\d+):(\d+):)? (.*)";

    fn regex() -> regex::Regex {
        regex::Regex::new(SETUP_GO).expect("setup-go's expression compiles")
    }

    const LINES: &[&str] = &[
        "./a.go:3:12: undefined: y",
        "  ./b.go:3:12: undefined: y",
        "\t../c/d.go:1:2: x",
        "/tmp/escape-gate-work-1/tree/a.go:1:2: syntax error",
        "    /usr/local/go/src/fmt/print.go:10:2: x",
        "\\w\\a.go:1:1: x",
        ".\\a.go:1:1: x",
        "./a.go: no line",
        "./a.go:1: not line and column",
        "./a.go:1:2:no space",
        "./x.go:1:2:  two spaces",
        "././a.go:1:2: twice",
        "...//a.go:1:2: three dots",
        "./.go:1:2: nothing between",
        "./a.go.go:1:2: x",
        "./a.gox.go:1:2: x",
        "./a.go:b.go:1:2: x",
        "a.go:3:12: undefined: y",
        "sub/s.go:3:23: undefined: undefined",
        "new a.go:6:2 in Keep",
        "    6 | x := a",
        "      from &x (address-of) at a.go:7  [changed]",
        "::error file=a.go,line=6::moved to heap: x",
        "",
        "   ",
        "./",
        "/",
        ". /a.go:1:2: x",
        "é/a.go:1:2: x",
        "/é.go:1:2: é",
    ];

    #[test]
    fn agrees_with_setup_go_expression() {
        let re = regex();
        for line in LINES {
            assert_eq!(setup_go_matches(line), re.is_match(line), "{line:?}");
        }
    }

    #[test]
    fn rewritten_lines_no_longer_match_and_keep_their_meaning() {
        let re = regex();
        for line in LINES {
            let out = unmatched_line(line);
            assert!(!re.is_match(&out), "{line:?} -> {out:?}");
            if !re.is_match(line) {
                assert_eq!(out, *line, "a line the matcher ignores stays as it is");
            }
        }
        assert_eq!(
            unmatched_line("  ./b.go:3:12: undefined: y"),
            "  b.go:3:12: undefined: y"
        );
        assert_eq!(
            unmatched_line("  /tmp/t/a.go:1:2: x"),
            "  > /tmp/t/a.go:1:2: x"
        );
        assert_eq!(unmatched_line(".//a.go:1:2: x"), "> .//a.go:1:2: x");
        assert_eq!(unmatched_line("././a.go:1:2: x"), "> ././a.go:1:2: x");
        assert_eq!(
            unmatched("error: x:\n  ./a.go:1:2: y\r\n  sub/b.go:1:2: z\n"),
            "error: x:\n  a.go:1:2: y\r\n  sub/b.go:1:2: z\n"
        );
    }

    /// Every format, on an outcome whose compiler lines look like errors: a warning
    /// relaying unrecognised lines, a finding whose source and expression hold paths.
    #[test]
    fn no_format_prints_a_line_the_matcher_reads() {
        use crate::finding::Kind;
        use crate::report::{fixture, write_with, Ci, Format, Style};
        let mut f = fixture::finding("a.go", 3, "F", Kind::Escapes, "\"./x.go:1:2: y\"");
        f.source = "./a.go:1:2: source".to_string();
        let mut outcome = fixture::with_extras(fixture::outcome(vec![f]));
        outcome.warnings.push(
            "the compiler printed 2 line(s) for head that escape-gate does not recognise:\n    \
             ./a.go:5:6: something new\n    /tmp/escape-gate-work-1/tree/b.go:1:2: other"
                .to_string(),
        );
        let re = regex();
        for &format in <Format as clap::ValueEnum>::value_variants() {
            let mut out = Vec::new();
            let style = Style {
                color: false,
                show_fixed: true,
            };
            write_with(format, &outcome, style, &Ci::default(), &mut out).expect("render");
            let text = String::from_utf8(out).expect("utf-8");
            // SARIF has no place for the engine's warnings.
            if format != Format::Sarif {
                assert!(
                    text.contains("a.go:5:6: something new"),
                    "{format:?}: {text}"
                );
            }
            for line in text.lines() {
                assert!(!re.is_match(line), "{format:?}: {line:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_on_path_like_lines(line in r"[ \t]{0,2}\.{0,3}[/\\]?[a-z./\\]{0,6}(\.go)?(:[0-9]{0,2}){0,3}:? ?[a-z ]{0,3}") {
            let re = regex();
            proptest::prop_assert_eq!(setup_go_matches(&line), re.is_match(&line));
            proptest::prop_assert!(!re.is_match(&unmatched(&line)));
        }
    }
}
