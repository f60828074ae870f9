//! The compiler's expressions compared as Go tokens: two messages are one allocation's
//! when they differ only by identifiers the alignments found renamed.

use std::collections::BTreeSet;

use crate::matching::Rename;

/// `a` and `b` as Go tokens are the same but for identifiers `renamed(old, new)`
/// accepts: the identifiers that differ, or `None` when they are not the same.
pub(super) fn same_modulo(
    a: &str,
    b: &str,
    renamed: &dyn Fn(&str, &str) -> bool,
) -> Option<Vec<Rename>> {
    let (ta, tb) = (lex(a), lex(b));
    if ta.len() != tb.len() {
        return None;
    }
    let mut renames = BTreeSet::new();
    for ((ia, sa), (ib, sb)) in ta.into_iter().zip(tb) {
        if sa == sb {
            continue;
        }
        if !(ia && ib && renamed(sa, sb)) {
            return None;
        }
        renames.insert(Rename {
            old: sa.to_string(),
            new: sb.to_string(),
        });
    }
    Some(renames.into_iter().collect())
}

/// Go-like tokens of a compiler message: `(is an identifier, text)`; spaces dropped,
/// string and rune literals whole.
fn lex(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        if c.is_alphabetic() || c == '_' || c.is_ascii_digit() {
            while let Some(&(i, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((!c.is_ascii_digit(), &s[start..end]));
        } else if matches!(c, '"' | '\'' | '`') {
            let mut escaped = false;
            for (i, d) in chars.by_ref() {
                end = i + d.len_utf8();
                if escaped {
                    escaped = false;
                } else if d == '\\' && c != '`' {
                    escaped = true;
                } else if d == c {
                    break;
                }
            }
            out.push((false, &s[start..end]));
        } else {
            out.push((false, &s[start..end]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_modulo_compares_tokens() {
        let yes = |a: &str, b: &str| (a, b) == ("Config", "Options") || (a, b) == ("n", "val");
        type Case<'c> = (&'c str, &'c str, Option<&'c [(&'c str, &'c str)]>);
        let cases: &[Case] = &[
            (
                "&Config{...}",
                "&Options{...}",
                Some(&[("Config", "Options")]),
            ),
            (
                "&a.Config{}",
                "&a.Options{}",
                Some(&[("Config", "Options")]),
            ),
            ("&Config{...}", "&Other{...}", None),
            ("n", "val", Some(&[("n", "val")])),
            ("n + 1", "val+1", Some(&[("n", "val")])),
            ("n + 1", "val + 2", None),
            ("\"n\" + n", "\"val\" + val", None),
            ("make([]int, n)", "make([]int, val)", Some(&[("n", "val")])),
            ("x", "x", Some(&[])),
        ];
        for &(a, b, want) in cases {
            let got = same_modulo(a, b, &yes);
            let want: Option<Vec<Rename>> = want.map(|w| {
                w.iter()
                    .map(|&(o, n)| Rename {
                        old: o.into(),
                        new: n.into(),
                    })
                    .collect()
            });
            assert_eq!(got, want, "{a:?} vs {b:?}");
        }
    }
}
