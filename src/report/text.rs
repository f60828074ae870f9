//! The human report: each new escape with its position, function, message and source
//! line; allowed (and, when asked, fixed) escapes; a unified diff of the per-function
//! escape listings of base and head; allowlist warnings; one closing line of counts.
//! With `--explain`, each new escape also shows its escape flow, changed steps marked.

use std::io::{self, Write};

use crate::finding::Finding;
use crate::finding::CHANGED;
use crate::gate::{Explained, Outcome};
use crate::inert::{block, line};
use crate::matching;
use crate::report::{config_changes, words, Style};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn red(&self, t: &str) -> String {
        self.wrap("1;31", t)
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
}

pub fn write(outcome: &Outcome, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint { on: style.color };
    let failing = outcome.failing();
    let base_label = outcome.base.revision.label();
    let head_label = outcome.head.revision.label();

    let label = if failing.is_empty() {
        paint.green("ok:")
    } else {
        paint.red("error:")
    };
    writeln!(out, "{label} {}", words::verdict(outcome))?;
    let share = |f: &Finding| words::share(outcome, f);
    for f in failing {
        writeln!(out)?;
        finding_block(out, &paint, &paint.red("new"), f, share(f).as_deref(), None)?;
    }
    for f in &outcome.cold {
        writeln!(out)?;
        let note = words::cold_note(outcome);
        finding_block(
            out,
            &paint,
            &paint.dim("cold"),
            f,
            share(f).as_deref(),
            Some(&note),
        )?;
    }
    for (finding, entry) in outcome.allowed() {
        writeln!(out)?;
        let note = format!(
            "allowed by {}{}: {}",
            if entry.policy { "policy at " } else { "" },
            line(&words::entry_place(&outcome.config.origin, entry)),
            line(&entry.reason)
        );
        let label = paint.yellow("allowed");
        finding_block(
            out,
            &paint,
            &label,
            finding,
            share(finding).as_deref(),
            Some(&note),
        )?;
    }
    if style.show_fixed {
        for f in &outcome.comparison.fixed {
            writeln!(out)?;
            finding_block(
                out,
                &paint,
                &paint.green("fixed"),
                f,
                share(f).as_deref(),
                None,
            )?;
        }
        // The same allocations under new names: detail, never new.
        for m in &outcome.comparison.moved {
            if m.by != matching::MovedBy::Rename {
                continue;
            }
            writeln!(out)?;
            let renames: Vec<String> = m
                .renames
                .iter()
                .map(|r| format!("{} → {}", r.old, r.new))
                .collect();
            let note = format!(
                "was `{}` at {} in {}{}",
                m.from.message,
                m.from.position(),
                m.from.function_display(),
                if renames.is_empty() {
                    String::new()
                } else {
                    format!(" (renamed: {})", renames.join(", "))
                }
            );
            finding_block(out, &paint, &paint.dim("renamed"), &m.to, None, Some(&note))?;
        }
    }

    let base_list = matching::listing(&outcome.base.findings);
    let head_list = matching::listing(&outcome.head.findings);
    if base_list != head_list {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            paint.bold("heap escapes per function, base → head:")
        )?;
        let base_header = format!("base {base_label}");
        let head_header = format!("head {head_label}");
        let unified = listing_diff(&base_list, &head_list, &base_header, &head_header);
        for text in unified.lines() {
            let text = &line(text);
            let painted = if text.starts_with("+++") || text.starts_with("---") {
                paint.bold(text)
            } else if text.starts_with('+') {
                paint.red(text)
            } else if text.starts_with('-') {
                paint.green(text)
            } else if text.starts_with("@@") {
                paint.dim(text)
            } else {
                text.to_string()
            };
            writeln!(out, "{painted}")?;
        }
    }

    if let Some(notes) = config_changes::notes(outcome) {
        writeln!(out)?;
        writeln!(out, "{} {}", paint.yellow("config:"), line(&notes.heading))?;
        for item in &notes.items {
            writeln!(out, "  {} {}", item.sign, line(&item.title))?;
            for detail in &item.details {
                writeln!(out, "      {}", line(detail))?;
            }
        }
    }

    let origin = &outcome.config.origin;
    let mut warnings: Vec<String> = outcome.warnings.clone();
    warnings.extend(
        outcome
            .expired_entries()
            .map(|e| words::expired_entry(origin, e)),
    );
    warnings.extend(
        outcome
            .stale_entries()
            .map(|(e, why)| words::stale_entry(origin, e, &why)),
    );
    if !warnings.is_empty() {
        writeln!(out)?;
        for w in warnings {
            // Engine warnings are several lines on purpose.
            writeln!(out, "{} {}", paint.yellow("warning:"), block(&w))?;
        }
    }

    writeln!(out)?;
    writeln!(out, "{}", line(&words::Summary::of(outcome).line()))?;
    if let Some(note) = words::moved_note(outcome) {
        writeln!(out, "{}", paint.dim(&line(&format!("note: {note}"))))?;
    }
    if !failing.is_empty() {
        // Once flows are shown, pointing at --explain would only be noise.
        let explained = failing.iter().any(|f| !f.flow.is_empty());
        writeln!(
            out,
            "{}",
            paint.dim(&format!(
                "hint: {}fix the escape, or accept it with `{}`",
                if explained {
                    ""
                } else {
                    "see why with --explain; "
                },
                words::allow_command(outcome, false)
            ))
        )?;
    }
    Ok(())
}

fn finding_block(
    out: &mut dyn Write,
    paint: &Paint,
    label: &str,
    f: &Finding,
    share: Option<&str>,
    note: Option<&str>,
) -> io::Result<()> {
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("{label} ")
    };
    writeln!(
        out,
        "{label}{} in {}{}",
        paint.bold(&line(&f.position())),
        paint.bold(&line(&f.function_display())),
        f.platforms_suffix()
    )?;
    writeln!(out, "    {}", line(&f.message))?;
    if let Some(share) = share {
        writeln!(out, "    {}", paint.bold(share))?;
    }
    if !f.source.is_empty() {
        writeln!(
            out,
            "    {} | {}",
            paint.dim(&f.line.to_string()),
            line(&f.source)
        )?;
    }
    if let Some(note) = note {
        writeln!(out, "    {}", paint.dim(&line(note)))?;
    }
    if let Some(from) = words::provenance(f) {
        writeln!(out, "    {}", paint.dim(&line(&from)))?;
    }
    // Present only when an explanation was asked for (`--explain`).
    if !f.flow.is_empty() {
        writeln!(
            out,
            "    {}",
            paint.dim("why (the compiler's escape flow, -m=2):")
        )?;
        for step in &f.flow {
            if step.changed {
                writeln!(out, "      {}  {}", line(&step.text), paint.yellow(CHANGED))?;
            } else {
                writeln!(out, "      {}", line(&step.text))?;
            }
        }
    }
    Ok(())
}

/// The report of `escape-gate explain`: each heap escape at the line, with its flow.
pub fn write_explained(e: &Explained, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint { on: color };
    let place = format!("{}:{}", line(&e.file), e.line);
    if e.findings.is_empty() {
        writeln!(out, "no heap escapes at {place} in {}", e.revision.label())?;
        writeln!(
            out,
            "    {} | {}",
            paint.dim(&e.line.to_string()),
            line(&e.source)
        )?;
    } else {
        writeln!(
            out,
            "{} at {place} in {}",
            words::count(e.findings.len(), "heap escape"),
            e.revision.label()
        )?;
    }
    for f in &e.findings {
        writeln!(out)?;
        let share = e
            .profile
            .as_ref()
            .and_then(|p| Some(f.profile?.describe(&p.of)));
        finding_block(out, &paint, "", f, share.as_deref(), None)?;
        if f.flow.is_empty() {
            writeln!(
                out,
                "    {}",
                paint.dim("(the compiler printed no escape flow for it)")
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "package {} built with -gcflags=-m=2 · {}",
        line(&e.package),
        e.go.describe()
    )?;
    Ok(())
}

/// The unified diff (two lines of context) of two listings, each sorted
/// ([`matching::listing`]). Sorted lists are diffed by merging them, in linear time: their
/// longest common subsequence is the lines they have in common, in order. (A general
/// diff costs the square of the differences: seconds on a change with 20,000 new
/// escapes.) The output has `similar`'s unified format.
fn listing_diff(base: &str, head: &str, base_header: &str, head_header: &str) -> String {
    use similar::DiffOp;
    let a: Vec<&str> = base.split_inclusive('\n').collect();
    let b: Vec<&str> = head.split_inclusive('\n').collect();
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let (si, sj) = (i, j);
        while i < a.len() && j < b.len() && a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
        }
        if i > si {
            ops.push(DiffOp::Equal {
                old_index: si,
                new_index: sj,
                len: i - si,
            });
        }
        let (di, dj) = (i, j);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => break,
                (Some(x), Some(y)) if x < y => i += 1,
                (Some(_), None) => i += 1,
                _ => j += 1,
            }
        }
        if i > di {
            ops.push(DiffOp::Delete {
                old_index: di,
                old_len: i - di,
                new_index: dj,
            });
        }
        if j > dj {
            ops.push(DiffOp::Insert {
                old_index: i,
                new_index: dj,
                new_len: j - dj,
            });
        }
    }
    let mut out = String::new();
    for (n, group) in similar::group_diff_ops(ops, 2).into_iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        if n == 0 {
            out.push_str(&format!("--- {base_header}\n+++ {head_header}\n"));
        }
        out.push_str(&format!(
            "{}\n",
            similar::udiff::UnifiedHunkHeader::new(&group)
        ));
        for op in &group {
            let (sign, lines) = match *op {
                DiffOp::Equal { old_index, len, .. } => (' ', &a[old_index..old_index + len]),
                DiffOp::Delete {
                    old_index, old_len, ..
                } => ('-', &a[old_index..old_index + old_len]),
                DiffOp::Insert {
                    new_index, new_len, ..
                } => ('+', &b[new_index..new_index + new_len]),
                DiffOp::Replace { .. } => continue,
            };
            for line in lines {
                out.push(sign);
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push_str("\n\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod listing_diff_tests {
    use super::listing_diff;

    #[test]
    fn sorted_listings_diff_as_similar_does() {
        let lines = |items: &[&str]| items.iter().map(|l| format!("{l}\n")).collect::<String>();
        let cases: &[(&[&str], &[&str])] = &[
            (&["a", "b", "c"], &["a", "b", "c", "d"]),
            (
                &["a", "c", "e", "g", "i", "k", "m"],
                &["b", "c", "e", "h", "i", "k", "m", "n"],
            ),
            (&["a"], &[]),
            (&[], &["x", "y"]),
            (
                &["a", "b", "c", "d", "e", "f", "g", "h"],
                &["a", "b", "c", "d2", "e", "f", "g", "h"],
            ),
        ];
        for (base, head) in cases {
            let (base, head) = (lines(base), lines(head));
            let want = similar::TextDiff::from_lines(&base, &head)
                .unified_diff()
                .context_radius(2)
                .header("base b", "head h")
                .to_string();
            assert_eq!(
                listing_diff(&base, &head, "base b", "head h"),
                want,
                "{base:?} -> {head:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Kind;
    use crate::matching::{Moved, MovedBy, Rename};
    use crate::report::fixture;

    #[test]
    fn a_renamed_pair_shows_its_old_text_inert() {
        let mut outcome = fixture::outcome(Vec::new());
        let from = fixture::finding("a.go", 3, "P", Kind::Moved, "n\u{1b}[2J");
        let to = fixture::finding("a.go", 3, "P", Kind::Moved, "val");
        outcome.comparison.moved.push(Moved {
            from,
            to,
            by: MovedBy::Rename,
            renames: vec![Rename {
                old: "n\u{1b}[2J".into(),
                new: "val".into(),
            }],
        });
        let mut out = Vec::new();
        let style = Style {
            color: false,
            show_fixed: true,
        };
        write(&outcome, style, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("renamed a.go:3"), "{text}");
        assert!(text.contains("n\\u{1b}[2J"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
