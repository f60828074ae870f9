//! The HTML report: one self-contained page a reviewer opens from a pull request. The
//! verdict and counts, then each new escape as a card with the head's source around it
//! ([`crate::excerpt`]), the compiler's flow to the heap with each step's line, and the
//! steps on changed lines marked `changed`; the per-function escape listings of base and
//! head; fixed, moved and allowed escapes, stale and expired allowlist entries; the
//! head's changes to the gate's rules; a filter box.
//!
//! Self-contained: style and script are inline, nothing is loaded by URL (the page's
//! Content-Security-Policy forbids it), so it works from a file, offline, and from a CI
//! artifact. Everything but the filter works without JavaScript. Light and dark follow
//! `prefers-color-scheme`.
//!
//! Everything from the repository, the compiler or the environment is untrusted text:
//! it goes through [`esc`], which escapes it for text and quoted attributes alike and
//! writes newlines as character references, so every line of the page starts with a
//! tag or belongs to the page's own style and script (no line can read as a Go error to
//! a CI problem matcher). Links are made only from the repository's web address the
//! environment gives (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`), with percent-encoded
//! paths, never from text of the repository.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::finding::{Finding, FlowStep, Kind};
use crate::gate::{Outcome, Side};
use crate::matching;
use crate::report::{config_changes, words, Ci};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Writes the page.
pub fn write(outcome: &Outcome, ci: &Ci, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(outcome, ci).as_bytes())
}

/// The page as a string.
pub fn render(outcome: &Outcome, ci: &Ci) -> String {
    let page = Page {
        outcome,
        ci,
        head_commit: commit(&outcome.head),
        base_commit: commit(&outcome.base),
    };
    let mut h = String::with_capacity(64 * 1024);
    page.head(&mut h);
    page.top(&mut h);
    page.config(&mut h);
    page.filter(&mut h);
    page.new_findings(&mut h);
    page.functions(&mut h);
    page.others(&mut h);
    page.footer(&mut h);
    h
}

struct Page<'a> {
    outcome: &'a Outcome,
    ci: &'a Ci,
    head_commit: Option<String>,
    base_commit: Option<String>,
}

impl Page<'_> {
    fn head(&self, h: &mut String) {
        let failing = self.outcome.failing().len();
        let title = if failing == 0 {
            format!("escape-gate: no new {}s", words::noun(self.outcome))
        } else {
            format!(
                "escape-gate: {}",
                words::count(failing, &format!("new {}", words::noun(self.outcome)))
            )
        };
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
        // Nothing may be loaded from anywhere: the page works offline, and a link is
        // the only way out.
        h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n");
        h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
        let _ = writeln!(
            h,
            "<title>{} · {}</title>",
            esc(&title),
            esc(&self.outcome.head.revision.label())
        );
        let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>");
        let state = if failing == 0 { "ok" } else { "fail" };
        let _ = writeln!(h, "<body class=\"{state}\">\n<main>");
    }

    fn top(&self, h: &mut String) {
        let o = self.outcome;
        let failing = o.failing().len();
        let (badge, class) = if failing == 0 {
            ("ok", "ok")
        } else {
            ("error", "fail")
        };
        let _ = writeln!(
            h,
            "<header class=\"top {class}\"><h1><span class=\"badge\">{badge}</span> {}</h1>",
            esc(&words::verdict(o))
        );
        let summary = words::Summary::of(o);
        let _ = writeln!(h, "<p class=\"summary\">{}</p>", esc(&summary.line()));
        h.push_str("<dl class=\"meta\">\n");
        let _ = writeln!(
            h,
            "<div><dt>base</dt><dd>{}</dd></div>",
            self.revision(&o.base)
        );
        let _ = writeln!(
            h,
            "<div><dt>head</dt><dd>{}</dd></div>",
            self.revision(&o.head)
        );
        let _ = writeln!(
            h,
            "<div><dt>Go</dt><dd>{}</dd></div>",
            esc(&o.go.describe())
        );
        let checks: Vec<&str> = o.checks.iter().map(|c| c.name()).collect();
        let _ = writeln!(
            h,
            "<div><dt>checks</dt><dd>{}</dd></div>",
            esc(&checks.join(", "))
        );
        let _ = writeln!(
            h,
            "<div><dt>scope</dt><dd>{}</dd></div>",
            esc(&summary.scope)
        );
        h.push_str("</dl>\n");
        let counts = [
            ("new", failing, "#new"),
            ("fixed", o.comparison.fixed.len(), "#fixed"),
            ("moved", o.comparison.moved.len(), "#moved"),
            ("allowed", o.allow.allowed.len(), "#allowed"),
        ];
        h.push_str("<ul class=\"counts\">");
        for (what, n, anchor) in counts {
            let zero = if n == 0 { " zero" } else { "" };
            let _ = write!(
                h,
                "<li class=\"n-{what}{zero}\"><a href=\"{anchor}\"><b>{n}</b> {what}</a></li>"
            );
        }
        h.push_str("</ul>\n</header>\n");
    }

    /// What the head changes in the gate's own rules: first, as in every format.
    fn config(&self, h: &mut String) {
        let Some(notes) = config_changes::notes(self.outcome) else {
            return;
        };
        let _ = writeln!(
            h,
            "<section id=\"config\" class=\"box warn\"><h2>Config changes</h2><p>{}</p>",
            esc(&capitalise(&notes.heading))
        );
        h.push_str("<ul class=\"changes\">\n");
        for item in &notes.items {
            let class = match item.sign {
                '+' => "add",
                '-' => "del",
                _ => "mod",
            };
            let _ = write!(
                h,
                "<li class=\"{class}\"><span class=\"sign\">{}</span> {}",
                esc(&item.sign.to_string()),
                esc(&item.title)
            );
            if !item.details.is_empty() {
                h.push_str("<ul>");
                for d in &item.details {
                    let _ = write!(h, "<li><code>{}</code></li>", esc(d));
                }
                h.push_str("</ul>");
            }
            h.push_str("</li>\n");
        }
        h.push_str("</ul></section>\n");
    }

    /// The filter box: shown by the script, which is what makes it work.
    fn filter(&self, h: &mut String) {
        h.push_str("<div id=\"filter\" class=\"filter\" hidden><label for=\"q\">Filter</label><input id=\"q\" type=\"search\" autocomplete=\"off\" spellcheck=\"false\" placeholder=\"package, file, kind or check, e.g. kind:moved file:report/\"><span id=\"shown\" class=\"mute\"></span></div>\n");
    }

    fn new_findings(&self, h: &mut String) {
        let failing = self.outcome.failing();
        let _ = writeln!(
            h,
            "<section id=\"new\"><h2>New {}s <span class=\"num\">{}</span></h2>",
            words::noun(self.outcome),
            failing.len()
        );
        if failing.is_empty() {
            let _ = writeln!(
                h,
                "<p class=\"none\">None: the head adds no {} the allowlist does not cover.</p>",
                words::noun(self.outcome)
            );
        }
        for (i, f) in failing.iter().enumerate() {
            self.card(h, f, &format!("n{}", i + 1), None);
        }
        h.push_str("</section>\n");
    }

    /// One finding of the head as a card; `allowed` is the note of an allowed one.
    fn card(&self, h: &mut String, f: &Finding, id: &str, allowed: Option<String>) {
        let class = if allowed.is_some() {
            "card allowed"
        } else {
            "card"
        };
        let _ = write!(h, "<article class=\"{class}\" id=\"{id}\"");
        filter_data(h, f);
        h.push_str(">\n");
        let _ = writeln!(
            h,
            "<h3><span class=\"kind\">{}</span> {} in <code class=\"fn\">{}</code> <span class=\"pkg\">{}</span>{}</h3>",
            esc(kind_label(f.kind)),
            self.place(self.head_commit.as_deref(), &f.file, f.line, &f.position()),
            esc(&f.function_display()),
            esc(&f.package),
            esc(&f.platforms_suffix())
        );
        let _ = writeln!(h, "<p class=\"msg\"><code>{}</code></p>", esc(&f.message));
        if let Some(note) = allowed {
            let _ = writeln!(h, "<p class=\"note\">{note}</p>");
        }
        if let Some(from) = words::provenance(f) {
            let _ = writeln!(h, "<p class=\"prov\">{}</p>", esc(&from));
        }
        self.excerpt(h, f);
        self.flow(h, (&f.file, f.line), &f.flow);
        h.push_str("</article>\n");
    }

    /// The source around a finding, its line highlighted and changed lines marked `+`;
    /// the finding's own line alone when the head's file was not read.
    fn excerpt(&self, h: &mut String, f: &Finding) {
        let lines = self.outcome.excerpts.around(&f.file, f.line);
        let lines: Vec<(u32, String)> = if lines.is_empty() {
            if f.source.is_empty() {
                return;
            }
            vec![(f.line, f.source.clone())]
        } else {
            lines.into_iter().map(|(n, t)| (n, t.to_string())).collect()
        };
        h.push_str("<pre class=\"src\">");
        for (n, text) in lines {
            let changed = self.outcome.changed.contains(&f.file, n);
            let open = match (n == f.line, changed) {
                (true, true) => "<span class=\"h c\">",
                (true, false) => "<span class=\"h\">",
                (false, true) => "<span class=\"c\">",
                (false, false) => "<span>",
            };
            let mark = if changed { "<b>+</b>" } else { "" };
            let _ = writeln!(h, "{open}<i>{n}</i>{mark}{}</span>", esc(&text));
        }
        h.push_str("</pre>\n");
    }

    /// The compiler's flow as a chain: each `flow:` line starts one, each step shows
    /// its line of the head, and steps on changed lines say `changed`.
    fn flow(&self, h: &mut String, (card_file, card_line): (&str, u32), flow: &[FlowStep]) {
        if flow.is_empty() {
            return;
        }
        h.push_str("<div class=\"why\"><h4>Why <span class=\"mute\">the compiler's escape flow (-m=2)</span></h4><ol class=\"flow\">\n");
        // A step on the same line as the one before it shows no second copy of it.
        let mut previous: Option<(&str, u32)> = None;
        for step in flow {
            let text = step.text.trim();
            if let Some(rest) = text.strip_prefix("flow: ") {
                let _ = writeln!(
                    h,
                    "<li class=\"fl\"><span class=\"lab\">flow</span> <code>{}</code></li>",
                    esc(rest)
                );
                continue;
            }
            let changed = if step.changed { " c" } else { "" };
            let place = self.outcome.excerpts.step_place(step);
            match place {
                Some((file, line)) => {
                    let what = text
                        .strip_suffix(&format!(" at {file}:{line}"))
                        .unwrap_or(text);
                    // Not linked: the card's position is, and a page of a thousand
                    // findings must stay small.
                    // In the card's own file the line number says where.
                    let at = if file == card_file && line == card_line {
                        format!("<span class=\"here\">line {line}</span>")
                    } else if file == card_file {
                        format!("line {line}")
                    } else {
                        format!("<code>{}:{line}</code>", esc(file))
                    };
                    let _ = write!(
                        h,
                        "<li class=\"st{changed}\"><code>{}</code> <span class=\"at\">at {at}</span>",
                        esc(what),
                    );
                    if step.changed {
                        h.push_str(" <mark>changed</mark>");
                    }
                    // The card's own line is highlighted above (CSS says so).
                    if previous == Some((file, line)) || (file == card_file && line == card_line) {
                        h.push_str("</li>\n");
                    } else {
                        let source = self.outcome.excerpts.line(file, line).unwrap_or_default();
                        let _ = writeln!(
                            h,
                            "<pre class=\"src one\"><span><i>{line}</i>{}</span></pre></li>",
                            esc(source)
                        );
                    }
                    previous = Some((file, line));
                }
                None => {
                    let _ = write!(h, "<li class=\"st{changed}\"><code>{}</code>", esc(text));
                    if step.changed {
                        h.push_str(" <mark>changed</mark>");
                    }
                    h.push_str("</li>\n");
                }
            }
        }
        h.push_str("</ol></div>\n");
    }

    /// Per function with new findings: its escape listing, base → head.
    fn functions(&self, h: &mut String) {
        let o = self.outcome;
        let mut functions: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for f in o.failing() {
            functions.insert((&f.package, &f.function), ());
        }
        if functions.is_empty() {
            return;
        }
        let _ = writeln!(
            h,
            "<section id=\"functions\"><h2>{}s per function, base → head</h2>",
            capitalise(words::noun(o))
        );
        for (package, function) in functions.keys() {
            let of = |side: &[Finding]| -> Vec<Finding> {
                side.iter()
                    .filter(|f| f.package == *package && f.function == *function)
                    .cloned()
                    .collect()
            };
            let base = matching::listing(&of(&o.base.findings));
            let head = matching::listing(&of(&o.head.findings));
            let display = if function.is_empty() {
                "(unplaced)"
            } else {
                function
            };
            // The filter reads the function and package from the summary.
            let _ = write!(h, "<details class=\"fd\" open><summary><code>{}</code> <span class=\"pkg\">{}</span></summary><pre class=\"diff\">", esc(display), esc(package));
            let diff = similar::TextDiff::from_lines(&base, &head);
            let prefix = format!("{package} {function}: ");
            for change in diff.iter_all_changes() {
                let (sign, class) = match change.tag() {
                    similar::ChangeTag::Delete => ('-', "del"),
                    similar::ChangeTag::Insert => ('+', "add"),
                    similar::ChangeTag::Equal => (' ', "eq"),
                };
                let line = change.value().trim_end_matches('\n');
                let line = line.strip_prefix(&prefix).unwrap_or(line);
                let _ = writeln!(h, "<span class=\"{class}\">{sign} {}</span>", esc(line));
            }
            h.push_str("</pre></details>\n");
        }
        h.push_str("</section>\n");
    }

    /// Allowed, fixed, moved; stale and expired entries; warnings. Each collapsible.
    fn others(&self, h: &mut String) {
        let o = self.outcome;
        let origin = &o.config.origin;

        let allowed: Vec<_> = o.allowed().collect();
        if !allowed.is_empty() {
            let _ = writeln!(h, "<details id=\"allowed\" class=\"sec\"><summary><h2>Allowed <span class=\"num\">{}</span></h2></summary>", allowed.len());
            for (i, (f, entry)) in allowed.iter().enumerate() {
                let mut note = format!(
                    "<span class=\"lab\">allowed by</span> <code>{}</code>: {}",
                    esc(&words::entry_place(origin, entry)),
                    esc(&entry.reason)
                );
                if let Some(expires) = entry.expires {
                    let _ = write!(
                        note,
                        " <span class=\"exp\">expires {}</span>",
                        esc(&expires.to_string())
                    );
                }
                self.card(h, f, &format!("a{}", i + 1), Some(note));
            }
            h.push_str("</details>\n");
        }

        let fixed = &o.comparison.fixed;
        if !fixed.is_empty() {
            let _ = writeln!(h, "<details id=\"fixed\" class=\"sec\"><summary><h2>Fixed <span class=\"num\">{}</span></h2></summary>", fixed.len());
            h.push_str("<table><thead><tr><th>Where (base)</th><th>Function</th><th>Message</th></tr></thead><tbody>\n");
            for f in fixed {
                let _ = write!(h, "<tr");
                filter_data(h, f);
                let _ = writeln!(
                    h,
                    "><td>{}</td><td><code>{}</code></td><td><code>{}</code>{}</td></tr>",
                    self.place(self.base_commit.as_deref(), &f.file, f.line, &f.position()),
                    esc(&f.function_display()),
                    esc(&f.message),
                    source_line(f)
                );
            }
            h.push_str("</tbody></table></details>\n");
        }

        let moved = &o.comparison.moved;
        if !moved.is_empty() {
            let _ = writeln!(h, "<details id=\"moved\" class=\"sec\"><summary><h2>Moved <span class=\"num\">{}</span> <span class=\"mute\">not new: the same allocation</span></h2></summary>", moved.len());
            h.push_str("<table><thead><tr><th>From (base)</th><th></th><th>To (head)</th><th>Message</th><th>Matched by</th></tr></thead><tbody>\n");
            for m in moved {
                let _ = write!(h, "<tr");
                filter_data(h, &m.to);
                let _ = writeln!(
                    h,
                    "><td>{} <code>{}</code></td><td class=\"arrow\">→</td><td>{} <code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                    self.place(self.base_commit.as_deref(), &m.from.file, m.from.line, &m.from.position()),
                    esc(&m.from.function_display()),
                    self.place(self.head_commit.as_deref(), &m.to.file, m.to.line, &m.to.position()),
                    esc(&m.to.function_display()),
                    esc(&m.to.message),
                    esc(m.by.describe())
                );
            }
            h.push_str("</tbody></table></details>\n");
        }

        let stale: Vec<String> = o
            .stale_entries()
            .map(|(e, why)| words::stale_entry(origin, e, &why))
            .collect();
        list_section(h, "stale", "Stale allowlist entries", &stale);
        let expired: Vec<String> = o
            .expired_entries()
            .map(|e| words::expired_entry(origin, e))
            .collect();
        list_section(h, "expired", "Expired allowlist entries", &expired);
        if !o.warnings.is_empty() {
            let _ = writeln!(h, "<details id=\"warnings\" class=\"sec\"><summary><h2>Warnings <span class=\"num\">{}</span></h2></summary>", o.warnings.len());
            for w in &o.warnings {
                let _ = writeln!(h, "<pre class=\"warning\">{}</pre>", esc(w));
            }
            h.push_str("</details>\n");
        }
    }

    fn footer(&self, h: &mut String) {
        let _ = writeln!(
            h,
            "<footer>escape-gate {} · {} · base {} · head {}</footer>\n</main>",
            env!("CARGO_PKG_VERSION"),
            esc(&self.outcome.go.describe()),
            esc(&self.outcome.base.revision.label()),
            esc(&self.outcome.head.revision.label())
        );
        let _ = writeln!(h, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    }

    /// `label`, linked to the file's line at `commit` when the repository's address is
    /// known.
    fn place(&self, commit: Option<&str>, file: &str, line: u32, label: &str) -> String {
        match commit.and_then(|c| safe_url(self.ci.blob_url(c, file, line)?)) {
            Some(url) => format!(
                "<a class=\"pos\" href=\"{}\"><code>{}</code></a>",
                esc(&url),
                esc(label)
            ),
            None => format!("<code class=\"pos\">{}</code>", esc(label)),
        }
    }

    /// A revision's label and full id, the id linked to the commit when the
    /// repository's address is known.
    fn revision(&self, side: &Side) -> String {
        let label = side.revision.label();
        let Some(commit) = side.revision.commit.map(|c| c.to_string()) else {
            return format!("<code>{}</code>", esc(&label));
        };
        let url = match (&self.ci.server_url, &self.ci.repository) {
            (Some(server), Some(repository)) => safe_url(format!(
                "{}/{repository}/commit/{commit}",
                server.trim_end_matches('/')
            )),
            _ => None,
        };
        let id = match url {
            Some(url) => format!("<a href=\"{}\"><code>{commit}</code></a>", esc(&url)),
            None => format!("<code>{commit}</code>"),
        };
        if label.starts_with(&commit[..label.len().min(commit.len())]) {
            id
        } else {
            format!("<code>{}</code> {id}", esc(&label))
        }
    }
}

fn commit(side: &Side) -> Option<String> {
    side.revision.commit.map(|c| c.to_string())
}

/// A link only to a web address: `GITHUB_SERVER_URL` is the environment's, but a page
/// must never hold a `javascript:` link.
fn safe_url(url: String) -> Option<String> {
    (url.starts_with("https://") || url.starts_with("http://")).then_some(url)
}

/// The attributes the filter reads.
fn filter_data(h: &mut String, f: &Finding) {
    let check = f.kind.check().map_or("", |c| c.name());
    let _ = write!(
        h,
        " data-package=\"{}\" data-file=\"{}\" data-kind=\"{}\" data-check=\"{}\" data-function=\"{}\"",
        esc(&f.package),
        esc(&f.file),
        kind_label(f.kind),
        check,
        esc(&f.function)
    );
}

/// A finding's source line under its message, in a table cell.
fn source_line(f: &Finding) -> String {
    if f.source.is_empty() {
        String::new()
    } else {
        format!(
            "<pre class=\"src one\"><span><i>{}</i>{}</span></pre>",
            f.line,
            esc(&f.source)
        )
    }
}

fn list_section(h: &mut String, id: &str, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(h, "<details id=\"{id}\" class=\"sec\"><summary><h2>{title} <span class=\"num\">{}</span></h2></summary><ul class=\"entries\">", items.len());
    for item in items {
        let _ = writeln!(h, "<li>{}</li>", esc(item));
    }
    h.push_str("</ul></details>\n");
}

/// The kind in a few words, on the card.
fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Moved => "moved to heap",
        Kind::Escapes => "escapes to heap",
        Kind::NotInlinable => "not inlinable",
        Kind::NotInlined => "not inlined",
        Kind::BoundsCheck => "bounds check",
        Kind::VariableMake => "variable-size make",
        Kind::ConcatConvert => "concatenation or conversion",
        Kind::Gcassert => "gcassert",
        Kind::Inlinable => "inlinable",
        Kind::InlinedCall => "inlined call",
    }
}

/// `the head …` → `The head …`.
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Text escaped for HTML, in element content and in double- or single-quoted
/// attributes alike. Line breaks become character references, so text never starts a
/// line of the page; NUL and other C0 controls but tab become U+FFFD, as a parser would
/// make them.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::excerpt::Excerpts;
    use crate::finding::FlowStep;
    use crate::report::fixture::{self, finding};

    fn ci() -> Ci {
        Ci {
            server_url: Some("https://github.com".to_string()),
            repository: Some("acme/app".to_string()),
            ..Ci::default()
        }
    }

    /// A finding with a two-step flow, one step on a changed line, and the head's
    /// source for both.
    fn explained() -> Outcome {
        let mut f = finding("report/report.go", 23, "Summary", Kind::Moved, "out");
        f.package = "example.com/inventory/report".to_string();
        f.flow = vec![
            FlowStep::plain("flow: {heap} ← &out"),
            FlowStep {
                text: "  from &out (address-of) at report/report.go:24".to_string(),
                changed: true,
            },
            FlowStep::plain("  from lastSummary = &out (assign) at report/report.go:24"),
        ];
        let source: String = (1..=30).map(|i| format!("\tline {i}\n")).collect();
        let mut outcome = fixture::with_extras(fixture::outcome(vec![f.clone()]));
        outcome.excerpts = Excerpts::collect(&[f], &|file| {
            (file == "report/report.go").then(|| source.clone())
        });
        let base: String = (1..=30).map(|i| format!("{i}\n")).collect();
        outcome.changed.add_file(
            "report/report.go",
            Some(&base),
            &base.replace("\n24\n", "\nchanged\n"),
        );
        outcome
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            esc("<script>alert(\"x\" & 'y')</script>\nnext\r\u{0}\t"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;&#10;next&#13;\u{fffd}\t"
        );
    }

    #[test]
    fn a_card_holds_source_flow_and_changed_steps() {
        let page = render(&explained(), &ci());
        // The card, its link, its source with the line highlighted and the flow.
        assert!(page.contains("<article class=\"card\" id=\"n1\" data-package=\"example.com/inventory/report\" data-file=\"report/report.go\" data-kind=\"moved to heap\" data-check=\"escapes\" data-function=\"Summary\">"), "{page}");
        assert!(page.contains("<a class=\"pos\" href=\"https://github.com/acme/app/blob/2222222222222222222222222222222222222222/report/report.go#L23\"><code>report/report.go:23:2</code></a>"));
        assert!(page.contains("<span class=\"h\"><i>23</i>\tline 23</span>"));
        for n in 21..=25 {
            assert!(page.contains(&format!("<i>{n}</i>")), "line {n}");
        }
        assert!(page.contains("<span class=\"c\"><i>24</i><b>+</b>\tline 24</span>"));
        assert!(page.contains(
            "<li class=\"fl\"><span class=\"lab\">flow</span> <code>{heap} ← &amp;out</code></li>"
        ));
        assert!(page.contains("<li class=\"st c\"><code>from &amp;out (address-of)</code> <span class=\"at\">at line 24</span> <mark>changed</mark><pre class=\"src one\"><span><i>24</i>\tline 24</span></pre></li>"), "{page}");
        assert_eq!(page.matches("<mark>changed</mark>").count(), 1);
        // The per-function listing, the other sections, collapsible.
        assert!(
            page.contains("<span class=\"add\">+ moved to heap: out</span>"),
            "{page}"
        );
        for id in ["allowed", "fixed", "stale"] {
            assert!(
                page.contains(&format!("<details id=\"{id}\" class=\"sec\">")),
                "{id}"
            );
        }
        assert!(page.contains("buffer handed to the caller"));
        assert!(!page.contains("<details id=\"moved\""));
    }

    #[test]
    fn links_only_when_the_repository_is_known() {
        let page = render(&explained(), &Ci::default());
        assert!(!page.contains("href=\"http"), "{page}");
        let hostile = Ci {
            server_url: Some("javascript:alert(1)//".to_string()),
            repository: Some("a/b".to_string()),
            ..Ci::default()
        };
        assert!(!render(&explained(), &hostile).contains("javascript:"));
    }

    #[test]
    fn repository_text_is_escaped_everywhere() {
        let evil = "<script>alert('x')</script>\"&";
        let file = "dir/<img src=x onerror=alert(1)>.go";
        let mut f = finding(file, 3, evil, Kind::Escapes, evil);
        f.package = format!("example.com/{evil}");
        f.source = evil.to_string();
        f.flow = vec![FlowStep::plain(format!(
            "  from {evil} (assign) at {file}:3"
        ))];
        let mut outcome = fixture::with_extras(fixture::outcome(vec![f.clone()]));
        outcome.excerpts = Excerpts::collect(&[f], &|_| Some(format!("a\nb\n{evil}\nd\n")));
        outcome
            .warnings
            .push(format!("warning with {evil}\n./a.go:1:2: line"));
        let page = render(&outcome, &ci());
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        let script_tags = page.matches("<script>").count();
        assert_eq!(script_tags, 1, "only the page's own script");
        // The link's path is percent-encoded, its text escaped.
        assert!(page.contains("/blob/2222222222222222222222222222222222222222/dir/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.go#L3\"><code>dir/&lt;img src=x onerror=alert(1)&gt;.go:3:2</code></a>"), "{page}");
        // No attribute can be closed early: every quote in repository text is escaped.
        assert!(page.contains(
            "data-function=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;\""
        ));
        // Every line starts with a tag, or is the page's own style or script.
        let own: Vec<&str> = STYLE.lines().chain(SCRIPT.lines()).collect();
        for line in page.lines() {
            assert!(line.starts_with('<') || own.contains(&line), "{line:?}");
        }
    }

    #[test]
    fn a_clean_page_says_so() {
        let page = render(&fixture::outcome(Vec::new()), &Ci::default());
        assert!(page.contains("<body class=\"ok\">"));
        assert!(page.contains("<span class=\"badge\">ok</span> no new heap escapes in"));
        assert!(!page.contains("<article"));
        assert!(!page.contains("id=\"functions\""));
    }

    /// The page of 1,000 new escapes, each with seven lines of source and a three-step
    /// flow with its lines, stays well under 2 MB.
    #[test]
    fn a_thousand_findings_stay_small() {
        let many: Vec<Finding> = (1..=1000u32)
            .map(|i| {
                let file = format!("internal/service/handler{}.go", i % 40);
                let mut f = finding(
                    &file,
                    10 + i,
                    &format!("(*Server).Handle{}", i % 97),
                    Kind::Escapes,
                    "&Request{...}",
                );
                f.package = format!("example.com/project/internal/service{}", i % 7);
                f.message = "&Request{...} escapes to heap".to_string();
                f.flow = vec![
                    FlowStep::plain("flow: {heap} ← &Request{...}"),
                    FlowStep::plain(format!(
                        "  from &Request{{...}} (spill) at {file}:{}",
                        10 + i
                    )),
                    FlowStep::plain(format!(
                        "  from req := &Request{{...}} (assign) at {file}:{}",
                        10 + i
                    )),
                    FlowStep {
                        text: format!("  from s.queue <- req (send) at {file}:{}", 12 + i),
                        changed: true,
                    },
                ];
                f
            })
            .collect();
        // Lines of 60 characters, with two tabs of indentation.
        let source: String = (1..=1100)
            .map(|i| format!("\t\treq := &Request{{ID: id, Body: body, Line: {i:04}}} // ok\n"))
            .collect();
        let mut outcome = fixture::outcome(many.clone());
        outcome.excerpts = Excerpts::collect(&many, &|_| Some(source.clone()));
        let page = render(&outcome, &ci());
        eprintln!("1,000 findings: {} bytes", page.len());
        if let Some(path) = std::env::var_os("ESCAPE_GATE_HTML_SAMPLE") {
            std::fs::write(path, &page).expect("write the sample page");
        }
        assert!(page.len() < 2_000_000, "{} bytes", page.len());
    }
}
