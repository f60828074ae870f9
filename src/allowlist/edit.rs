//! Editing the allowlist file as text, for `escape-gate allow`: new entries in, the
//! file's text with those entries appended to its `allow:` list out; or entry lines in,
//! the text without those entries out. Pure.
//!
//! The file is never re-serialised: a reviewer's comments, the order of keys and the
//! quoting they chose stay exactly as written, and the change shows in review as a few
//! added (or removed) lines. Every edit is checked by parsing the result and comparing
//! its entries with what was intended; a layout the scan does not understand (flow-style
//! `allow: [...]`, anchors, an indented top level) is an error that asks for a hand edit,
//! never a silently wrong file.

use std::collections::HashMap;

use crate::allowlist::{AllowEntry, Config, Date};
use crate::checks::Check;
use crate::finding::Finding;

/// An entry to add, before it is YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The finding's repository-relative path, used as a glob that matches only it.
    pub path: String,
    pub function: String,
    pub message: String,
    /// Set when more than one new escape has this path, function and message.
    pub count: Option<u32>,
    pub reason: String,
    pub expires: Option<Date>,
    /// The check that reported the findings; written as `check:` unless it is
    /// `escapes`, the default.
    pub check: Check,
    /// The findings' platforms, written as `platforms:` when there are some: the
    /// caller clears them when they are every platform the run analysed.
    pub platforms: Vec<crate::go::Platform>,
}

impl NewEntry {
    /// One entry per (path, function, message) of `findings`, in the order of their
    /// first occurrence, counting repeats.
    pub fn for_findings(
        findings: &[Finding],
        reason: &str,
        expires: Option<Date>,
    ) -> Vec<NewEntry> {
        let mut entries: Vec<NewEntry> = Vec::new();
        type EntryKey<'a> = (&'a str, &'a str, &'a str, Check, &'a [crate::go::Platform]);
        let mut index: HashMap<EntryKey, usize> = HashMap::new();
        for f in findings {
            let check = f.kind.check().unwrap_or(Check::Escapes);
            let key = (
                f.file.as_str(),
                f.function.as_str(),
                f.message.as_str(),
                check,
                f.platforms.as_slice(),
            );
            match index.get(&key) {
                Some(&i) => {
                    let e = &mut entries[i];
                    e.count = Some(e.count.unwrap_or(1) + 1);
                }
                None => {
                    index.insert(key, entries.len());
                    entries.push(NewEntry {
                        // `function` and `message` are `*`/`?` wildcards without an escape,
                        // but a wildcard always matches its own text (`*` and `?` match
                        // themselves too), so the literal text is a pattern for itself.
                        // `path` is a globset glob, where `[`, `{` and `\` are syntax.
                        path: escape_glob(&f.file),
                        function: f.function.clone(),
                        message: f.message.clone(),
                        count: None,
                        reason: reason.to_string(),
                        expires,
                        check,
                        platforms: f.platforms.clone(),
                    });
                }
            }
        }
        entries
    }

    /// The entry as a YAML block-sequence item, each line starting with `indent`.
    pub fn to_yaml(&self, indent: &str, newline: &str) -> String {
        let mut s = format!("{indent}- path: {}{newline}", quote(&self.path));
        let field = |s: &mut String, key: &str, value: &str| {
            s.push_str(&format!("{indent}  {key}: {value}{newline}"));
        };
        field(&mut s, "function", &quote(&self.function));
        field(&mut s, "message", &quote(&self.message));
        if let Some(count) = self.count {
            field(&mut s, "count", &count.to_string());
        }
        field(&mut s, "reason", &quote(&self.reason));
        if let Some(expires) = self.expires {
            field(&mut s, "expires", &expires.to_string());
        }
        if self.check != Check::Escapes {
            field(&mut s, "check", self.check.name());
        }
        if !self.platforms.is_empty() {
            let names: Vec<String> = self.platforms.iter().map(ToString::to_string).collect();
            field(&mut s, "platforms", &format!("[{}]", names.join(", ")));
        }
        s
    }

    fn is(&self, entry: &AllowEntry) -> bool {
        entry.path == self.path
            && entry.function.as_deref() == Some(self.function.as_str())
            && entry.message.as_deref() == Some(self.message.as_str())
            && entry.count == self.count
            && entry.reason == self.reason
            && entry.expires == self.expires
            && entry.check == self.check
            && entry.platforms == self.platforms
    }
}

/// Backslash-escapes what globset reads as syntax, so the glob matches only this path.
fn escape_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A YAML double-quoted scalar: safe for every character a compiler message holds
/// (`:`, `#`, `[`, `{`, `*`, `&`, `"`, leading `-` or `?`, non-ASCII, control characters).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || crate::inert::is_hazard(c) => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EditError(String);

fn refuse(what: impl Into<String>) -> EditError {
    EditError(format!(
        "{}\nhint: edit the file by hand (escape-gate's docs/reference.md, section \"The allowlist file\", shows the format)",
        what.into()
    ))
}

/// Where the top-level `allow:` key is and what follows it on its line.
struct AllowKey {
    /// 0-based line index.
    line: usize,
    /// The value on the key's own line, without a comment: `""` for a block list.
    inline: String,
    /// The comment on the key's line, with its `#`.
    comment: Option<String>,
}

fn find_allow_key(lines: &[&str]) -> Option<AllowKey> {
    lines.iter().enumerate().find_map(|(i, l)| {
        ["allow", "\"allow\"", "'allow'"].iter().find_map(|key| {
            let rest = l
                .strip_prefix(key)?
                .trim_start_matches(' ')
                .strip_prefix(':')?;
            if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
                return None;
            }
            let (value, comment) = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(at) => (&rest[..at], Some(rest[at..].trim().to_string())),
                None if rest.trim_start().starts_with('#') => ("", Some(rest.trim().to_string())),
                None => (rest, None),
            };
            Some(AllowKey {
                line: i,
                inline: value.trim().to_string(),
                comment,
            })
        })
    })
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

fn is_item(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ") || rest.starts_with("-\t")
}

/// Appends `entries` to the `allow:` list of `text` (the file's content; empty for a new
/// file), adding `version: 1` and the `allow:` key when they are missing.
pub fn append(text: &str, entries: &[NewEntry]) -> Result<String, EditError> {
    let before = Config::parse(text, "the allowlist").map_err(|e| refuse(e.to_string()))?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .collect();

    let has_version = bare.iter().any(|l| {
        ["version", "\"version\"", "'version'"].iter().any(|k| {
            l.strip_prefix(k)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
    });
    let mut out = String::with_capacity(text.len() + 256 * entries.len());
    match find_allow_key(&bare) {
        None => {
            if !has_version && bare.iter().any(|l| !is_blank_or_comment(l) && *l != "---") {
                return Err(refuse("the allowlist has content but no `version: 1` line"));
            }
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push_str(newline);
            }
            if !has_version {
                out.push_str(&format!("version: 1{newline}"));
            }
            out.push_str(&format!("allow:{newline}"));
            for e in entries {
                out.push_str(&e.to_yaml("  ", newline));
            }
        }
        Some(key) => {
            let empty_value = matches!(key.inline.as_str(), "" | "[]" | "null" | "~");
            if !empty_value {
                return Err(refuse(format!(
                    "the `allow:` key on line {} is not a block list (`allow:` followed by `- path: …` lines)",
                    key.line + 1
                )));
            }
            // The list ends at the first top-level content line that is not an item.
            let mut last = key.line;
            let mut item_indent: Option<usize> = None;
            for (i, l) in bare.iter().enumerate().skip(key.line + 1) {
                if is_blank_or_comment(l) {
                    continue;
                }
                let indent = indent_of(l);
                let item = is_item(&l[indent..]);
                if indent == 0 && !item {
                    break;
                }
                if item && item_indent.is_none() {
                    item_indent = Some(indent);
                }
                last = i;
            }
            if !key.inline.is_empty() && last != key.line {
                return Err(refuse(format!(
                    "the `allow:` key on line {} has both a value and items",
                    key.line + 1
                )));
            }
            let indent = " ".repeat(item_indent.unwrap_or(2));
            for (i, l) in lines.iter().enumerate() {
                if i == key.line && !key.inline.is_empty() {
                    // `allow: []` (or null) becomes a block list; the comment stays.
                    out.push_str("allow:");
                    if let Some(c) = &key.comment {
                        out.push(' ');
                        out.push_str(c);
                    }
                    out.push_str(newline);
                } else {
                    out.push_str(l);
                }
                if i == last {
                    if !l.ends_with('\n') {
                        out.push_str(newline);
                    }
                    for e in entries {
                        out.push_str(&e.to_yaml(&indent, newline));
                    }
                }
            }
        }
    }

    let after = Config::parse(&out, "the edited allowlist")
        .map_err(|e| refuse(format!("adding the entries would break the file ({e})")))?;
    let n = before.allow.len();
    let kept = after.allow.len() == n + entries.len()
        && after.allow[..n]
            .iter()
            .zip(&before.allow)
            .all(|(a, b)| same_entry(a, b))
        && after.allow[n..].iter().zip(entries).all(|(a, e)| e.is(a));
    if !kept || after.build != before.build {
        return Err(refuse(
            "the allowlist's layout is one escape-gate cannot append to safely",
        ));
    }
    Ok(out)
}

/// Entries equal apart from their line, which an edit above them shifts.
fn same_entry(a: &AllowEntry, b: &AllowEntry) -> bool {
    a.same_content(b)
}

/// Removes the entries of `config` (parsed from `text`) whose indices are in `remove`.
/// An entry is its item line and the more-indented lines under it; comment and blank
/// lines around it are kept, since they may describe a neighbour.
pub fn remove(text: &str, config: &Config, remove: &[usize]) -> Result<String, EditError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .collect();
    let mut drop = vec![false; lines.len()];
    for &i in remove {
        let entry = config
            .allow
            .get(i)
            .ok_or_else(|| refuse(format!("there is no allowlist entry {i}")))?;
        let start = entry
            .line
            .and_then(|l| l.checked_sub(1))
            .filter(|&l| {
                bare.get(l)
                    .is_some_and(|t| is_item(t.trim_start_matches(' ')))
            })
            .ok_or_else(|| refuse("the lines of the allowlist's entries could not be found"))?;
        let item_indent = indent_of(bare[start]);
        let mut end = start;
        for (j, l) in bare.iter().enumerate().skip(start + 1) {
            if is_blank_or_comment(l) {
                continue;
            }
            if indent_of(l) <= item_indent {
                break;
            }
            end = j;
        }
        drop[start..=end].iter_mut().for_each(|d| *d = true);
    }
    let out: String = lines
        .iter()
        .zip(&drop)
        .filter(|(_, &d)| !d)
        .map(|(l, _)| *l)
        .collect();
    let after = Config::parse(&out, "the edited allowlist")
        .map_err(|e| refuse(format!("removing the entries would break the file ({e})")))?;
    let kept: Vec<&AllowEntry> = config
        .allow
        .iter()
        .enumerate()
        .filter(|(i, _)| !remove.contains(i))
        .map(|(_, e)| e)
        .collect();
    let same = after.allow.len() == kept.len()
        && after.allow.iter().zip(&kept).all(|(a, b)| same_entry(a, b))
        && after.build == config.build;
    if !same {
        return Err(refuse(
            "the allowlist's layout is one escape-gate cannot remove entries from safely",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::apply;
    use crate::finding::Kind;

    fn finding(file: &str, function: &str, message: &str) -> Finding {
        Finding {
            message: message.into(),
            ..Finding::example(file, 3, function, Kind::Escapes, "")
        }
    }

    fn entry(message: &str) -> NewEntry {
        NewEntry::for_findings(&[finding("a.go", "F", message)], "fine", None).remove(0)
    }

    fn parse(text: &str) -> Config {
        Config::parse(text, "t").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Every awkward message still parses back to itself and allows its own finding:
    /// `*` and `?` in a wildcard match themselves, globset syntax in paths is escaped.
    #[test]
    fn entries_round_trip_and_match_themselves() {
        let today = Date::parse("2026-01-01").expect("date");
        let cases = [
            (
                "a.go",
                "(*Encoder).Encode",
                "make([]byte, n) escapes to heap",
            ),
            ("a.go", "F", "*p escapes to heap"),
            ("a.go", "F", "\"what? #1: [x] {y} & *z\" escapes to heap"),
            (
                "a.go",
                "F.func1",
                "- leading dash: and \\ backslash escapes to heap",
            ),
            (
                "dir/[x]{y}*?.go",
                "G[go.shape.int]",
                "&T{...} escapes to heap",
            ),
            ("ü.go", "F", "\"tab\\there\" + s escapes to heap"),
            ("a.go", "F", "\"\u{7}bell\nnewline\" escapes to heap"),
        ];
        for (file, function, message) in cases {
            let f = finding(file, function, message);
            let new = NewEntry::for_findings(std::slice::from_ref(&f), "why: \"it\" is fine", None);
            let text = append("", &new).unwrap_or_else(|e| panic!("{message}: {e}"));
            let config = parse(&text);
            assert_eq!(config.allow.len(), 1, "{text}");
            assert_eq!(config.allow[0].function.as_deref(), Some(function));
            assert_eq!(config.allow[0].message.as_deref(), Some(message));
            assert_eq!(config.allow[0].reason, "why: \"it\" is fine");
            let outcome = apply(&config, vec![f], today);
            assert_eq!(outcome.allowed.len(), 1, "{message} not allowed by\n{text}");
        }
    }

    #[test]
    fn repeats_get_a_count() {
        let fs = [
            finding("a.go", "F", "&T{} escapes to heap"),
            finding("a.go", "G", "&T{} escapes to heap"),
            finding("a.go", "F", "&T{} escapes to heap"),
        ];
        let expires = Date::parse("2027-06-30");
        let entries = NewEntry::for_findings(&fs, "ok", expires);
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.function.as_str(), e.count))
                .collect::<Vec<_>>(),
            [("F", Some(2)), ("G", None)]
        );
        assert_eq!(
            entries[0].to_yaml("  ", "\n"),
            "  - path: \"a.go\"\n    function: \"F\"\n    message: \"&T{} escapes to heap\"\n    count: 2\n    reason: \"ok\"\n    expires: 2027-06-30\n"
        );
    }

    #[test]
    fn append_keeps_everything_else() {
        let e = entry("moved to heap: x");
        let added = e.to_yaml("  ", "\n");
        let cases: Vec<(&str, String)> = vec![
            // A new file.
            ("", format!("version: 1\nallow:\n{added}")),
            // Comments only: version added.
            ("# ours\n", format!("# ours\nversion: 1\nallow:\n{added}")),
            // No allow key, no final newline.
            (
                "version: 1 # v\nbuild:\n  tags: [x]",
                format!("version: 1 # v\nbuild:\n  tags: [x]\nallow:\n{added}"),
            ),
            // Entries, comments and a key after the list: appended inside the list.
            (
                "version: 1\nallow:\n  # first\n  - path: \"x/*.go\" # p\n    reason: \"r\"\n\n# about build\nbuild:\n  tags: [x]\n",
                format!("version: 1\nallow:\n  # first\n  - path: \"x/*.go\" # p\n    reason: \"r\"\n{added}\n# about build\nbuild:\n  tags: [x]\n"),
            ),
            // Items at column 0 keep their indentation.
            (
                "version: 1\nallow:\n- path: x\n  reason: r\n",
                format!("version: 1\nallow:\n- path: x\n  reason: r\n{}", e.to_yaml("", "\n")),
            ),
            // An empty list in flow style, with a comment.
            (
                "version: 1\nallow: [] # none yet\n",
                format!("version: 1\nallow: # none yet\n{added}"),
            ),
            ("version: 1\nallow:\n", format!("version: 1\nallow:\n{added}")),
            // CRLF files stay CRLF.
            (
                "version: 1\r\nallow:\r\n  - path: x\r\n    reason: r\r\n",
                format!("version: 1\r\nallow:\r\n  - path: x\r\n    reason: r\r\n{}", e.to_yaml("  ", "\r\n")),
            ),
        ];
        for (before, want) in cases {
            let got = append(before, std::slice::from_ref(&e))
                .unwrap_or_else(|err| panic!("{before:?}: {err}"));
            assert_eq!(got, want, "appending to {before:?}");
        }
    }

    #[test]
    fn append_refuses_what_it_cannot_edit_safely() {
        let e = entry("moved to heap: x");
        for text in [
            "version: 1\nallow: [{path: x, reason: r}]\n",
            "version: 1\nallow:\n  - path: [\n",
        ] {
            let err = append(text, std::slice::from_ref(&e))
                .expect_err(text)
                .to_string();
            assert!(err.contains("hint: edit the file by hand"), "{err}");
        }
    }

    #[test]
    fn remove_takes_only_the_named_entries() {
        let text = "version: 1\n# the list\nallow:\n  # keep me\n  - path: \"a.go\"\n    # inner\n    reason: \"a\"\n  # about b\n  - {path: \"b.go\", reason: \"b\"}\n  - path: \"c.go\"\n    reason: >\n      folded\n      reason\n\n# trailing\nbuild:\n  tags: [x]\n";
        let config = parse(text);
        assert_eq!(config.allow.len(), 3);
        let out = remove(text, &config, &[0, 2]).expect("remove");
        assert_eq!(
            out,
            "version: 1\n# the list\nallow:\n  # keep me\n  # about b\n  - {path: \"b.go\", reason: \"b\"}\n\n# trailing\nbuild:\n  tags: [x]\n"
        );
        let out = remove(text, &config, &[1]).expect("remove");
        let left = parse(&out);
        assert_eq!(
            left.allow
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["a.go", "c.go"]
        );
        // All of them: `allow:` with nothing under it is an empty list.
        let out = remove(text, &config, &[0, 1, 2]).expect("remove");
        assert!(parse(&out).allow.is_empty(), "{out}");
        assert!(
            out.contains("# keep me") && out.contains("# trailing"),
            "{out}"
        );
    }
}
