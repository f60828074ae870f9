//! The Markdown report: counts, a table of new escapes linked to the head commit, fixed,
//! moved and allowed escapes, stale allowlist entries, the Go version and both commits.
//! It is the job summary of `--format github` and, on its own, `--format markdown` for a
//! pull request comment.
//!
//! Everything from the compiler or the source is untrusted text (a pull request chooses
//! it): it goes into code spans, with the backtick fence longer than any run inside and
//! `|` escaped for tables, so it can neither end the span nor the table cell; the few
//! places that must be prose go through [`text`], which also keeps `@` mentions and
//! bare links from working. Control and bidirectional characters are escaped. The
//! document is kept under a byte limit (GitHub takes 1 MiB of step summary and 65,536
//! characters of comment), with a note when rows were left out.

use std::fmt::Write as _;

use crate::finding::Finding;
use crate::gate::{Outcome, Side};
use crate::report::{config_changes, inert, words, Ci};

/// GitHub's limit for one step's summary is 1 MiB; stay a little under it.
pub const SUMMARY_LIMIT: usize = 1024 * 1024 - 1024;
/// GitHub's limit for a comment body is 65,536 characters; bytes are a safe bound.
pub const COMMENT_LIMIT: usize = 64 * 1000;

/// Room kept for the truncation note.
const NOTE_ROOM: usize = 400;

/// One section: a heading and table header, and its rows.
struct Section {
    head: String,
    rows: Vec<String>,
    /// Name of what the rows are, for the truncation note ("new escapes").
    what: &'static str,
}

/// Renders the report in at most `limit` bytes. `notes` are extra lines shown under the
/// counts (the annotations GitHub will not show, for instance).
pub fn render(outcome: &Outcome, ci: &Ci, limit: usize, notes: &[String]) -> String {
    let failing = outcome.failing();
    let cmp = &outcome.comparison;

    let mut top = String::new();
    if failing.is_empty() {
        top.push_str("### ✅ escape-gate: no new heap escapes\n\n");
    } else {
        let _ = writeln!(
            top,
            "### ❌ escape-gate: {}\n",
            words::count(failing.len(), "new heap escape")
        );
    }
    let summary = words::Summary::of(outcome);
    let _ = writeln!(
        top,
        "**{}** · {} · {}\n",
        text(&summary.counts),
        text(&summary.scope),
        code(&summary.go),
    );
    for note in notes.iter().cloned().chain(words::moved_note(outcome)) {
        let _ = writeln!(top, "> {}\n", text(&note));
    }
    if !failing.is_empty() {
        let _ = writeln!(
            top,
            "Fix them, or accept them on the branch with {} (it adds an entry per escape to the allowlist).\n",
            code(&words::allow_command(outcome, true))
        );
    }

    let head_commit = commit(&outcome.head);
    let base_commit = commit(&outcome.base);
    let mut sections = Vec::new();

    // First: a reviewer must see what the head changes in the gate's own rules.
    if let Some(notes) = config_changes::notes(outcome) {
        let mut config = Section {
            head: format!("#### ⚠️ {}\n\n", text(&capitalise(&notes.heading))),
            rows: Vec::new(),
            what: "allowlist changes",
        };
        for item in &notes.items {
            let mut row = format!("- {}\n", text(&item.title));
            for detail in &item.details {
                let _ = writeln!(row, "  - {}", code(detail));
            }
            config.rows.push(row);
        }
        config.rows.push("\n".to_string());
        sections.push(config);
    }

    // With a profile, a column of each function's share of the samples.
    let of = outcome.profile.as_ref().map(|p| p.of.clone());
    let share_head = of
        .as_ref()
        .map_or_else(String::new, |of| format!(" Share of {of} |"));
    let share_rule = if of.is_some() { " --- |" } else { "" };
    let share_cell = |f: &Finding| match (&of, f.profile) {
        (Some(_), Some(share)) if share.cum_percent > 0.0 => format!(
            " {} ({} flat) |",
            crate::profile::percent(share.cum_percent),
            crate::profile::percent(share.flat_percent)
        ),
        (Some(_), _) => " 0 samples |".to_string(),
        (None, _) => String::new(),
    };
    let mut new = Section {
        head: format!(
            "#### New heap escapes\n\n| Where | Function | Message |{share_head}\n| --- | --- | --- |{share_rule}\n"
        ),
        rows: Vec::new(),
        what: "new escapes",
    };
    for f in failing {
        let from = words::provenance(f).map_or_else(String::new, |p| format!(" ({})", cell(&p)));
        new.rows.push(format!(
            "| {}{} | {} | {}{from} |{}\n",
            place(ci, head_commit.as_deref(), f),
            cell(&text(&f.platforms_suffix())),
            cell(&code(&f.function_display())),
            cell(&code(&f.message)),
            share_cell(f)
        ));
    }
    sections.push(new);

    let mut cold = Section {
        head: format!(
            "#### Cold heap escapes (not failing: {})\n\n| Where | Function | Message |{share_head}\n| --- | --- | --- |{share_rule}\n",
            text(&words::cold_note(outcome))
        ),
        rows: Vec::new(),
        what: "cold escapes",
    };
    for f in &outcome.cold {
        cold.rows.push(format!(
            "| {} | {} | {} |{}\n",
            place(ci, head_commit.as_deref(), f),
            cell(&code(&f.function_display())),
            cell(&code(&f.message)),
            share_cell(f)
        ));
    }
    sections.push(cold);

    let mut flows = Section {
        head: "#### Why they escape\n\n".to_string(),
        rows: Vec::new(),
        what: "escape flows",
    };
    for f in failing.iter().filter(|f| !f.flow.is_empty()) {
        let body = f
            .flow
            .iter()
            .map(|l| inert::line(l.display().trim()).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        let fence = fence_for(&body);
        flows.rows.push(format!(
            "<details><summary>{} in {}</summary>\n\n{fence}text\n{body}\n{fence}\n\n</details>\n\n",
            text(&f.position()),
            text(&f.function_display()),
        ));
    }
    sections.push(flows);

    let mut fixed = Section {
        head: "#### Fixed heap escapes\n\n| Where (base) | Function | Message |\n| --- | --- | --- |\n"
            .to_string(),
        rows: Vec::new(),
        what: "fixed escapes",
    };
    for f in &cmp.fixed {
        fixed.rows.push(format!(
            "| {} | {} | {} |\n",
            place(ci, base_commit.as_deref(), f),
            cell(&code(&f.function_display())),
            cell(&code(&f.message))
        ));
    }
    sections.push(fixed);

    let mut moved = Section {
        head: "#### Moved heap escapes (not new)\n\n| Where | From (base) | Message | How |\n| --- | --- | --- | --- |\n"
            .to_string(),
        rows: Vec::new(),
        what: "moved escapes",
    };
    for m in &cmp.moved {
        moved.rows.push(format!(
            "| {} {} | {} {} | {} | {} |\n",
            place(ci, head_commit.as_deref(), &m.to),
            cell(&code(&m.to.function_display())),
            place(ci, base_commit.as_deref(), &m.from),
            cell(&code(&m.from.function_display())),
            cell(&code(&m.to.message)),
            m.by.describe()
        ));
    }
    sections.push(moved);

    let origin = &outcome.config.origin;
    let mut allowed = Section {
        head: "#### Allowed heap escapes\n\n| Where | Function | Message | Allowed by |\n| --- | --- | --- | --- |\n"
            .to_string(),
        rows: Vec::new(),
        what: "allowed escapes",
    };
    for (finding, entry) in outcome.allowed() {
        allowed.rows.push(format!(
            "| {} | {} | {} | {}{}: {} |\n",
            place(ci, head_commit.as_deref(), finding),
            cell(&code(&finding.function_display())),
            cell(&code(&finding.message)),
            if entry.policy { "policy at " } else { "" },
            cell(&code(&words::entry_place(origin, entry))),
            cell(&code(&entry.reason))
        ));
    }
    sections.push(allowed);

    let mut stale = Section {
        head: "#### Allowlist entries that allowed nothing\n\n".to_string(),
        rows: Vec::new(),
        what: "allowlist entries",
    };
    for (entry, why) in outcome.stale_entries() {
        stale.rows.push(format!(
            "- {}\n",
            text(&words::stale_entry(origin, entry, &why))
        ));
    }
    for entry in outcome.expired_entries() {
        stale.rows.push(format!(
            "- {}\n",
            text(&words::expired_entry(origin, entry))
        ));
    }
    sections.push(stale);

    let mut warnings = Section {
        head: "#### Warnings\n\n".to_string(),
        rows: Vec::new(),
        what: "warnings",
    };
    for w in &outcome.warnings {
        let w = &inert::block(w);
        let fence = fence_for(w);
        warnings.rows.push(format!("{fence}text\n{w}\n{fence}\n\n"));
    }
    sections.push(warnings);

    let footer = format!(
        "\n<sub>escape-gate {} · {} · base {} · head {}</sub>\n",
        env!("CARGO_PKG_VERSION"),
        text(&outcome.go.describe()),
        revision(&outcome.base),
        revision(&outcome.head),
    );

    assemble(top, sections, footer, limit)
}

/// Joins the parts, dropping rows from the point where the document would pass
/// `limit`, and says how many were dropped.
fn assemble(top: String, sections: Vec<Section>, footer: String, limit: usize) -> String {
    let budget = limit.saturating_sub(top.len() + footer.len() + NOTE_ROOM);
    let mut body = String::new();
    let mut left_out: Vec<String> = Vec::new();
    let mut full = false;
    for section in sections {
        if section.rows.is_empty() {
            continue;
        }
        let mut shown = 0;
        if !full && body.len() + section.head.len() <= budget {
            let mut part = section.head.clone();
            for row in &section.rows {
                if body.len() + part.len() + row.len() > budget {
                    full = true;
                    break;
                }
                part.push_str(row);
                shown += 1;
            }
            if shown > 0 {
                body.push_str(&part);
                body.push('\n');
            }
        } else {
            full = true;
        }
        if shown < section.rows.len() {
            left_out.push(format!("{} {}", section.rows.len() - shown, section.what));
        }
    }
    let mut doc = top;
    doc.push_str(&body);
    if !left_out.is_empty() {
        let _ = writeln!(
            doc,
            "> **Truncated** to stay within GitHub's size limit: {} not shown. \
             Run `escape-gate diff --format json` for everything.",
            left_out.join(", ")
        );
    }
    doc.push_str(&footer);
    doc
}

fn commit(side: &Side) -> Option<String> {
    side.revision.commit.map(|c| c.to_string())
}

fn revision(side: &Side) -> String {
    match side.revision.commit {
        Some(c) => code(&c.to_string()),
        None => text(&side.revision.spec),
    }
}

/// `file:line:col`, linked to the commit when the repository's address is known; a
/// code span either way, so a file name can neither mention nor link.
fn place(ci: &Ci, commit: Option<&str>, f: &Finding) -> String {
    let label = cell(&code(&f.position()));
    match commit.and_then(|c| ci.blob_url(c, &f.file, f.line)) {
        Some(url) => format!("[{label}]({url})"),
        None => label,
    }
}

/// A code span that holds `s` literally, whatever backticks it contains.
pub fn code(s: &str) -> String {
    let s = inert::line(&s.replace(['\r', '\n'], " ")).into_owned();
    if s.is_empty() {
        return String::new();
    }
    let longest = longest_run(&s, '`');
    let fence = "`".repeat(longest + 1);
    if s.starts_with('`') || s.ends_with('`') || (s.starts_with(' ') && s.ends_with(' ')) {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A fenced code block fence longer than any backtick run in `s` (at least three).
fn fence_for(s: &str) -> String {
    "`".repeat((longest_run(s, '`') + 1).max(3))
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// Plain text with Markdown and HTML punctuation escaped, on one line, controls
/// escaped ([`inert::line`]), and with a word joiner (U+2060) after each `@` and in
/// each `://` and `www.`, so that text from the repository neither mentions anyone
/// nor becomes a link: GitHub reads `@name` as a mention, and bare addresses as links.
pub fn text(s: &str) -> String {
    let s = inert::line(&s.replace(['\r', '\n'], " "))
        .replace("://", ":\u{2060}//")
        .replace("www.", "www\u{2060}.");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '@' => out.push_str("@\u{2060}"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Inline emphasis, code, links and strike-through; the rest of Markdown's
            // punctuation only matters at the start of a line, where this never goes.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `the head …` → `The head …`, for a heading.
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Makes text safe inside a table cell: GFM splits cells on `|` even in code spans.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FlowStep, Kind};
    use crate::report::fixture::{self, finding};

    fn ci() -> Ci {
        Ci {
            server_url: Some("https://github.com".to_string()),
            repository: Some("acme/app".to_string()),
            ..Ci::default()
        }
    }

    #[test]
    fn full_report() {
        let mut f = finding("a.go", 3, "Keep", Kind::Moved, "x");
        f.flow = vec![
            FlowStep::plain("  flow: {heap} = &x:"),
            FlowStep::plain("    from &x (address-of) at a.go:4:9"),
        ];
        let outcome = fixture::with_extras(fixture::outcome(vec![f]));
        let doc = render(&outcome, &ci(), SUMMARY_LIMIT, &["1 note".to_string()]);
        let want = "### ❌ escape-gate: 1 new heap escape

**1 new, 1 fixed, 0 moved, 1 allowed heap escapes** · 1 of 1 package analysed · `go1.26.8 linux/amd64`

> 1 note

Fix them, or accept them on the branch with `escape-gate allow --reason \"…\" 1111111111` (it adds an entry per escape to the allowlist).

#### New heap escapes

| Where | Function | Message |
| --- | --- | --- |
| [`a.go:3:2`](https://github.com/acme/app/blob/2222222222222222222222222222222222222222/a.go#L3) | `Keep` | `moved to heap: x` |

#### Why they escape

<details><summary>a.go:3:2 in Keep</summary>

```text
flow: {heap} = &x:
from &x (address-of) at a.go:4:9
```

</details>


#### Fixed heap escapes

| Where (base) | Function | Message |
| --- | --- | --- |
| [`old.go:7:2`](https://github.com/acme/app/blob/1111111111111111111111111111111111111111/old.go#L7) | `Gone` | `&T{} escapes to heap` |

#### Allowed heap escapes

| Where | Function | Message | Allowed by |
| --- | --- | --- | --- |
| [`codec/enc.go:12:2`](https://github.com/acme/app/blob/2222222222222222222222222222222222222222/codec/enc.go#L12) | `(*Enc).Encode` | `make([]byte, n) escapes to heap` | `.escape-gate.yml:3`: `buffer handed to the caller` |

#### Allowlist entries that allowed nothing

- allowlist entry at .escape-gate.yml:6 allowed nothing (path \"gone/\\*.go\"): no revision has this escape any more: remove the entry (\\`escape-gate allow --prune\\`)


<sub>escape-gate 0.1.0 · go1.26.8 linux/amd64 · base `1111111111111111111111111111111111111111` · head `2222222222222222222222222222222222222222`</sub>
";
        assert_eq!(
            doc,
            want.replace(
                "escape-gate 0.1.0",
                &format!("escape-gate {}", env!("CARGO_PKG_VERSION"))
            )
        );
    }

    #[test]
    fn clean_report_without_links() {
        let doc = render(
            &fixture::outcome(Vec::new()),
            &Ci::default(),
            COMMENT_LIMIT,
            &[],
        );
        assert!(
            doc.starts_with("### ✅ escape-gate: no new heap escapes\n"),
            "{doc}"
        );
        assert!(!doc.contains("####"), "{doc}");
    }

    #[test]
    fn hostile_text_stays_in_its_cell() {
        let f = finding(
            "a.go",
            3,
            "F",
            Kind::Escapes,
            "a + \"` | <img src=x> ``` [x](http://e) %0A::warning::pwned\"",
        );
        let doc = render(
            &fixture::outcome(vec![f]),
            &Ci::default(),
            COMMENT_LIMIT,
            &[],
        );
        let row = doc
            .lines()
            .find(|l| l.starts_with("| `a.go:3:2`"))
            .expect("a row for the escape");
        // Four backticks: longer than the three-backtick run inside.
        assert_eq!(
            row,
            "| `a.go:3:2` | `F` | ````a + \"` \\| <img src=x> ``` [x](http://e) %0A::warning::pwned\" escapes to heap```` |"
        );
    }

    #[test]
    fn code_spans_and_text() {
        let cases = [
            ("x", "`x`"),
            ("a`b", "``a`b``"),
            ("`a", "`` `a ``"),
            ("", ""),
            ("a\nb", "`a b`"),
        ];
        for (input, want) in cases {
            assert_eq!(code(input), want, "{input:?}");
        }
        assert_eq!(text("a_b <c> [d]"), "a\\_b &lt;c&gt; \\[d\\]");
    }

    #[test]
    fn stays_under_the_limit_and_says_so() {
        let many: Vec<_> = (1..=5000)
            .map(|i| finding("pkg/file.go", i, "Handler", Kind::Escapes, "&Request{...}"))
            .collect();
        let outcome = fixture::with_extras(fixture::outcome(many));
        for limit in [COMMENT_LIMIT, 10_000] {
            let doc = render(&outcome, &ci(), limit, &[]);
            assert!(doc.len() <= limit, "{} > {limit}", doc.len());
            assert!(doc.contains("**Truncated**"), "no note");
            assert!(
                doc.contains("new escapes not shown") || doc.contains("new escapes,"),
                "{}",
                &doc[doc.len() - 600..]
            );
            assert!(
                doc.contains("1 fixed escapes"),
                "the fixed section is counted as left out"
            );
            assert!(doc.ends_with("</sub>\n"), "footer kept");
        }
        let small = render(&fixture::outcome(Vec::new()), &ci(), COMMENT_LIMIT, &[]);
        assert!(!small.contains("Truncated"));
    }
}
