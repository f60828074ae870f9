//! Text from the repository or the compiler, made inert before it is shown.
//!
//! A pull request chooses file names, function names, source lines, allowlist reasons
//! and, through them, what the compiler prints. Shown raw, that text can drive the
//! reader's terminal (ESC sequences that clear the screen or rewrite lines), reorder
//! what the reader sees (bidirectional controls, as in "Trojan Source"), start a new
//! line that looks like escape-gate's own verdict, or, in a GitHub Actions log, be a
//! workflow command (`::add-mask::…`, `::error …`, `::stop-commands::…` after any
//! leading whitespace, `##[command]` anywhere in a line). So:
//!
//! - every field of repository text goes through [`line()`] (one line, controls escaped);
//! - every multi-line text a command prints (reports, errors that quote the compiler)
//!   goes through [`commands`], which leaves no line that the runner reads as a
//!   command; and under GitHub Actions an error is also printed between
//!   `::stop-commands::TOKEN` and `::TOKEN::` ([`stopped`]), with a [`token`] the pull
//!   request cannot know.
//!
//! JSON and SARIF escape control characters by their own rules, and every line of
//! them starts with a bracket or a quote; only `##[` inside a string needs writing
//! differently there ([`crate::report::inert_json`]).

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Whether `c` is shown escaped: C0 controls but the tab, DEL, C1 controls, the
/// bidirectional controls (embeddings, overrides, isolates, marks) and the Unicode
/// line and paragraph separators.
pub fn is_hazard(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{a}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{061c}' | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}')
}

/// `s` on one line with every [`is_hazard`] character written as an escape: `\n`,
/// `\r`, else `\u{1b}`. The one escaping function for repository text in every text
/// format.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hazard) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_hazard(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` with its line breaks kept and every other [`is_hazard`] character escaped, for
/// text that is several lines on purpose (a failed build's compiler errors).
pub fn block(s: &str) -> String {
    s.split('\n')
        .map(|l| line(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with no line the GitHub Actions runner reads as a workflow command: a line
/// whose first non-blank character starts `::` gets its first `:` written `\u{3a}`,
/// and every `##[` becomes `##\u{5b}`. Whitespace is Unicode's, as the runner's
/// `TrimStart` reads it.
pub fn commands(text: &str) -> Cow<'_, str> {
    let hazardous =
        text.contains("##[") || text.split('\n').any(|l| l.trim_start().starts_with("::"));
    if !hazardous {
        return Cow::Borrowed(text);
    }
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.replace("##[", "##\\u{5b}");
            let rest = l.trim_start();
            if rest.starts_with("::") {
                let indent = &l[..l.len() - rest.len()];
                format!("{indent}\\u{{3a}}{}", &rest[1..])
            } else {
                l
            }
        })
        .collect();
    Cow::Owned(lines.join("\n"))
}

/// Whether this is a GitHub Actions job (`GITHUB_ACTIONS=true`), whose log the runner
/// reads for workflow commands.
pub fn under_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// A token for `::stop-commands::` that the pull request cannot guess: the standard
/// library's per-process random hash keys.
pub fn token() -> String {
    let state = RandomState::new();
    format!(
        "escape-gate-{:016x}{:016x}",
        state.hash_one(std::process::id()),
        state.hash_one("escape-gate")
    )
}

/// `text` (which ends with a newline) made inert by [`commands`], and under GitHub
/// Actions also between `::stop-commands::TOKEN` and `::TOKEN::` with a fresh token.
pub fn stopped(text: &str) -> String {
    let text = commands(text);
    if !under_github_actions() {
        return text.into_owned();
    }
    let token = token();
    format!("::stop-commands::{token}\n{text}::{token}::\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazards_are_escaped_on_one_line() {
        let cases = [
            ("plain\ttab", "plain\ttab"),
            (
                "\u{1b}[2J\u{1b}[H\nok: fine",
                "\\u{1b}[2J\\u{1b}[H\\nok: fine",
            ),
            ("a\rb", "a\\rb"),
            ("x\u{7f}\u{85}\u{9b}", "x\\u{7f}\\u{85}\\u{9b}"),
            (
                "if a \u{202e}} \u{2066}else\u{2069} \u{200f}\u{061c}",
                "if a \\u{202e}} \\u{2066}else\\u{2069} \\u{200f}\\u{61c}",
            ),
            ("käse → 🧀", "käse → 🧀"),
        ];
        for (input, want) in cases {
            assert_eq!(line(input), want, "{input:?}");
        }
        assert_eq!(block("a\u{1b}\nb\r\n"), "a\\u{1b}\nb\\r\n");
    }

    #[test]
    fn no_line_stays_a_workflow_command() {
        let cases = [
            ("ok\n", "ok\n"),
            ("::error::x\n", "\\u{3a}:error::x\n"),
            ("  \u{a0}::add-mask::s", "  \u{a0}\\u{3a}:add-mask::s"),
            ("a ##[error]b ##[x]", "a ##\\u{5b}error]b ##\\u{5b}x]"),
            ("a::b\n x: ::y", "a::b\n x: ::y"),
        ];
        for (input, want) in cases {
            assert_eq!(commands(input), want, "{input:?}");
        }
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(token(), token());
    }
}
