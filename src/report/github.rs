//! The GitHub Actions report (`--format github`): one `::error` workflow command per
//! new escape, so GitHub annotates the pull request's lines; `::warning`s for allowlist
//! entries that allowed nothing; a full listing in the log; the Markdown job summary
//! appended to `$GITHUB_STEP_SUMMARY`; step outputs appended to `$GITHUB_OUTPUT`.
//!
//! GitHub shows at most 10 annotations of a level per step (and 50 per job), so the
//! escapes on lines the change touched come first, and the log and the summary say how
//! many were not annotated. Compiler messages carry source text that a pull request
//! chooses: data and properties are escaped exactly as GitHub's `@actions/core` does,
//! and the plain listing is printed with workflow commands stopped, under a token the
//! pull request cannot know, so no line of it can be read as a command.

use std::fs::OpenOptions;
use std::io::{self, Write};

use crate::allowlist::AllowEntry;
use crate::finding::Finding;
use crate::gate::Outcome;
use crate::report::markdown;
use crate::report::{config_changes, inert, words, Ci};

/// Annotations GitHub shows per step for one level (error, warning, notice).
pub const PER_STEP: usize = 10;
/// Annotations GitHub shows per job, all steps together.
pub const PER_JOB: usize = 50;
/// Flow lines shown in one annotation; the summary has them all.
const FLOW_LINES: usize = 12;

/// `%`, CR and LF, as `escapeData` in `@actions/core`'s `command.ts`.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// [`escape_data`] plus `:` and `,`, as `escapeProperty` in `@actions/core`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow-command annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// `error` or `warning`.
    pub level: &'static str,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub title: String,
    pub message: String,
}

impl Annotation {
    /// `::error file=…,line=…,col=…,title=…::message`
    pub fn command(&self) -> String {
        let mut props = Vec::new();
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        if let Some(col) = self.col {
            props.push(format!("col={col}"));
        }
        props.push(format!("title={}", escape_property(&self.title)));
        format!(
            "::{} {}::{}",
            self.level,
            props.join(","),
            escape_data(&inert::block(&self.message))
        )
    }
}

/// The failing escapes in the order they are annotated: those on lines the change
/// touched first, each group by its function's share of the profile (when one was
/// read), then in position order.
pub fn ordered(outcome: &Outcome) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = outcome.failing().iter().collect();
    let cum = |f: &Finding| f.profile.map_or(0.0, |s| s.cum_percent);
    findings.sort_by(|a, b| {
        let touched = |f: &Finding| !outcome.changed.contains(&f.file, f.line);
        touched(a)
            .cmp(&touched(b))
            .then(cum(b).total_cmp(&cum(a)))
            .then_with(|| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)))
    });
    findings
}

/// The annotation for one new escape: the message, the source line and, when the
/// compiler explained it (`-m=2`), the escape flow.
pub fn escape_annotation(f: &Finding, ci: &Ci) -> Annotation {
    let mut message = inert::line(&f.message).into_owned();
    if !f.source.is_empty() {
        message.push_str(&format!("\n    {} | {}", f.line, inert::line(&f.source)));
    }
    if !f.flow.is_empty() {
        message.push_str("\nwhy:");
        for line in f.flow.iter().take(FLOW_LINES) {
            message.push_str("\n  ");
            message.push_str(&inert::line(line.display().trim()));
        }
        if f.flow.len() > FLOW_LINES {
            message.push_str(&format!(
                "\n  … {} more lines in the job summary",
                f.flow.len() - FLOW_LINES
            ));
        }
    }
    Annotation {
        level: "error",
        file: Some(format!("{}{}", ci.workspace_prefix, f.file)),
        line: Some(f.line),
        col: (f.column > 0).then_some(f.column),
        title: format!(
            "escape-gate: new heap escape in {}{}",
            inert::line(&f.function_display()),
            f.platforms_suffix()
        ),
        message,
    }
}

/// Warnings: what the head changes in the allowlist (first: they are what a reviewer
/// must not miss), allowlist entries that allowed nothing or expired, and the
/// engine's own.
fn warning_annotations(outcome: &Outcome, ci: &Ci) -> Vec<Annotation> {
    let config = &outcome.config;
    let mut out = Vec::new();
    if let (Some(notes), Some(change)) = (config_changes::notes(outcome), &outcome.config_change) {
        for item in &notes.items {
            let mut message = format!("{} {}", notes.heading, item.title);
            for detail in &item.details {
                message.push_str("\n  ");
                message.push_str(detail);
            }
            out.push(Annotation {
                level: "warning",
                file: item
                    .line
                    .map(|_| format!("{}{}", ci.workspace_prefix, change.file)),
                line: item.line.map(|l| l as u32),
                col: None,
                title: "escape-gate: the head changes the allowlist".to_string(),
                message,
            });
        }
    }
    // Only a file of the head can be pointed at; a `--config` file may be anywhere.
    let file = config
        .path
        .as_ref()
        .map(|path| format!("{}{path}", ci.workspace_prefix));
    let origin = &config.origin;
    let entry_annotation = |entry: &AllowEntry, message: String| Annotation {
        level: "warning",
        file: file.clone(),
        line: file.as_ref().and(entry.line.map(|l| l as u32)),
        col: None,
        title: "escape-gate: allowlist entry".to_string(),
        message,
    };
    for (entry, why) in outcome.stale_entries() {
        out.push(entry_annotation(
            entry,
            words::stale_entry(origin, entry, &why),
        ));
    }
    for entry in outcome.expired_entries() {
        out.push(entry_annotation(entry, words::expired_entry(origin, entry)));
    }
    for w in &outcome.warnings {
        out.push(Annotation {
            level: "warning",
            file: None,
            line: None,
            col: None,
            title: "escape-gate".to_string(),
            message: w.clone(),
        });
    }
    out
}

/// What [`write()`] could not annotate, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unannotated {
    pub errors: usize,
    pub warnings: usize,
}

impl Unannotated {
    /// Sentences for the log and the summary; empty when everything was annotated.
    pub fn notes(&self, new: usize) -> Vec<String> {
        let mut notes = Vec::new();
        if self.errors > 0 {
            notes.push(format!(
                "{} of {new} new heap escapes are not annotated on the pull request: GitHub shows at most \
                 {PER_STEP} error annotations per step and {PER_JOB} per job. Escapes on lines the change \
                 touched were annotated first; all of them are listed here and in the log.",
                self.errors
            ));
        }
        if self.warnings > 0 {
            notes.push(format!(
                "{} warnings are not annotated (at most {PER_STEP} per step); they are listed here and in the log.",
                self.warnings
            ));
        }
        notes
    }
}

/// Prints the annotations and the log listing. `token` stops workflow commands while
/// the listing, which quotes the compiler, is printed.
pub fn write(
    outcome: &Outcome,
    ci: &Ci,
    token: &str,
    out: &mut dyn Write,
) -> io::Result<Unannotated> {
    let failing = ordered(outcome);
    for f in failing.iter().take(PER_STEP) {
        writeln!(out, "{}", escape_annotation(f, ci).command())?;
    }
    let warnings = warning_annotations(outcome, ci);
    for w in warnings.iter().take(PER_STEP) {
        writeln!(out, "{}", w.command())?;
    }
    let unannotated = Unannotated {
        errors: failing.len().saturating_sub(PER_STEP),
        warnings: warnings.len().saturating_sub(PER_STEP),
    };

    writeln!(out, "::stop-commands::{token}")?;
    let label = if failing.is_empty() { "ok" } else { "error" };
    writeln!(out, "{label}: {}", words::verdict(outcome))?;
    for f in &failing {
        let touched = if outcome.changed.contains(&f.file, f.line) {
            ""
        } else {
            " (on a line the change did not touch)"
        };
        writeln!(
            out,
            "\nnew {} in {}{}{touched}",
            one_line(&f.position()),
            one_line(&f.function_display()),
            f.platforms_suffix()
        )?;
        writeln!(out, "    {}", one_line(&f.message))?;
        if let Some(share) = words::share(outcome, f) {
            writeln!(out, "    {share}")?;
        }
        if !f.source.is_empty() {
            writeln!(out, "    {} | {}", f.line, one_line(&f.source))?;
        }
        if let Some(from) = words::provenance(f) {
            writeln!(out, "    {}", one_line(&from))?;
        }
        for line in &f.flow {
            writeln!(out, "      {}", one_line(line.display().trim()))?;
        }
    }
    for w in &warnings {
        // Engine warnings are several lines on purpose; each is indented.
        writeln!(
            out,
            "\nwarning: {}",
            inert::block(&w.message.replace('\r', "\n")).replace('\n', "\n    ")
        )?;
    }
    writeln!(out)?;
    for note in unannotated.notes(failing.len()) {
        writeln!(out, "note: {note}")?;
    }
    writeln!(out, "{}", one_line(&words::Summary::of(outcome).line()))?;
    writeln!(out, "::{token}::")?;
    Ok(unannotated)
}

/// Untrusted text on one log line, even with workflow commands stopped.
fn one_line(s: &str) -> String {
    inert::line(s).into_owned()
}

/// `name=value` lines for `$GITHUB_OUTPUT`.
pub fn outputs(outcome: &Outcome) -> String {
    format!(
        "new-escapes={}\nfixed-escapes={}\nallowed-escapes={}\n",
        outcome.failing().len(),
        outcome.comparison.fixed.len(),
        outcome.allow.allowed.len()
    )
}

fn stop_token() -> String {
    inert::token()
}

/// The whole `--format github` run: annotations and log on `out`, then the job summary
/// and the step outputs appended to the files GitHub names, when it names them.
pub fn run(outcome: &Outcome, ci: &Ci, out: &mut dyn Write) -> io::Result<()> {
    let unannotated = write(outcome, ci, &stop_token(), out)?;
    if let Some(path) = &ci.step_summary {
        // The 1 MiB limit is per step: leave room for what the step wrote before.
        let used = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let limit = markdown::SUMMARY_LIMIT.saturating_sub(used);
        let doc = markdown::render(
            outcome,
            ci,
            limit,
            &unannotated.notes(outcome.failing().len()),
        );
        append(path, &doc)?;
    }
    if let Some(path) = &ci.output {
        append(path, &outputs(outcome))?;
    }
    Ok(())
}

fn append(path: &std::path::Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FlowStep, Kind};
    use crate::lines::ChangedLines;
    use crate::report::fixture::{self, finding};

    fn render(outcome: &Outcome, ci: &Ci) -> (String, Unannotated) {
        let mut out = Vec::new();
        let un = write(outcome, ci, "TOKEN", &mut out).expect("write to a Vec");
        (String::from_utf8(out).expect("utf-8"), un)
    }

    #[test]
    fn escaping_matches_the_toolkit() {
        let cases = [
            ("plain", "plain", "plain"),
            ("100%", "100%25", "100%25"),
            ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
            ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
            ("%0A::x", "%250A::x", "%250A%3A%3Ax"),
        ];
        for (input, data, property) in cases {
            assert_eq!(escape_data(input), data, "data {input:?}");
            assert_eq!(escape_property(input), property, "property {input:?}");
        }
    }

    #[test]
    fn one_error_per_new_escape_then_the_log() {
        let mut f = finding("a.go", 3, "(*T).Keep", Kind::Moved, "x");
        f.flow = vec![
            FlowStep::plain("  flow: {heap} = &x:"),
            FlowStep::plain("    from &x (address-of) at ./a.go:4:9"),
        ];
        let outcome = fixture::with_extras(fixture::outcome(vec![f]));
        let ci = Ci {
            workspace_prefix: "sub/".to_string(),
            ..Ci::default()
        };
        let (text, un) = render(&outcome, &ci);
        assert_eq!(un, Unannotated::default());
        let want = "\
::error file=sub/a.go,line=3,col=2,title=escape-gate%3A new heap escape in (*T).Keep::moved to heap: x%0A    3 | src 3%0Awhy:%0A  flow: {heap} = &x:%0A  from &x (address-of) at ./a.go:4:9
::warning file=sub/.escape-gate.yml,line=6,title=escape-gate%3A allowlist entry::allowlist entry at .escape-gate.yml:6 allowed nothing (path \"gone/*.go\"): no revision has this escape any more: remove the entry (`escape-gate allow --prune`)
::stop-commands::TOKEN
error: 1 new heap escape in 2222222222 compared with 1111111111

new a.go:3:2 in (*T).Keep (on a line the change did not touch)
    moved to heap: x
    3 | src 3
      flow: {heap} = &x:
      from &x (address-of) at ./a.go:4:9

warning: allowlist entry at .escape-gate.yml:6 allowed nothing (path \"gone/*.go\"): no revision has this escape any more: remove the entry (`escape-gate allow --prune`)

1 new, 1 fixed, 0 moved, 1 allowed heap escapes · 1 of 1 package analysed · go1.26.8 linux/amd64 · base 1111111111 · head 2222222222
::TOKEN::
";
        assert_eq!(text, want);
    }

    /// A string literal in Go source reaches the compiler's message; it must not end
    /// the annotation and start a command of its own.
    #[test]
    fn hostile_expression_cannot_inject_a_command() {
        let expr = "a + \"%0A::warning::pwned\\n::error::x\"";
        let mut f = finding("evil,file:1.go", 9, "F", Kind::Escapes, expr);
        f.message.push_str("\n::warning::real newline");
        f.source = "s := a + \"%0A::warning::pwned\"\r::notice::cr".to_string();
        let outcome = fixture::outcome(vec![f]);
        let (text, _) = render(&outcome, &Ci::default());
        let lines: Vec<&str> = text.lines().collect();
        // The annotation is one line, and the only lines that start a command are ours.
        assert_eq!(lines[0], "::error file=evil%2Cfile%3A1.go,line=9,col=2,title=escape-gate%3A new heap escape in F::a + \"%250A::warning::pwned\\n::error::x\" escapes to heap\\n::warning::real newline%0A    9 | s := a + \"%250A::warning::pwned\"\\r::notice::cr");
        let stop = lines
            .iter()
            .position(|l| *l == "::stop-commands::TOKEN")
            .expect("stop");
        let resume = lines
            .iter()
            .position(|l| *l == "::TOKEN::")
            .expect("resume");
        for (i, line) in lines.iter().enumerate() {
            // The runner trims leading white space before it looks for `::`.
            let is_command = line.trim_start().starts_with("::");
            let ours = i == 0 || i == stop || i == resume;
            assert!(!is_command || ours, "line {i} starts a command: {line:?}");
        }
        // The runner's parser: decoding the data gives back the text with the line
        // breaks the message itself held written as escapes, and no unescaped one.
        let data = lines[0].splitn(3, "::").nth(2).expect("data");
        assert!(!data.contains('\n') && !data.contains('\r'));
        let decoded = data
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%");
        assert!(decoded.starts_with("a + \"%0A::warning::pwned\\n::error::x\" escapes to heap\\n::warning::real newline\n"), "{decoded}");
        // The stop token is random per run.
        assert_ne!(stop_token(), stop_token());
    }

    #[test]
    fn touched_lines_first_and_at_most_ten() {
        let findings: Vec<_> = (1..=14)
            .map(|i| finding("a.go", i * 10, "F", Kind::Escapes, &format!("&T{i}{{}}")))
            .collect();
        let mut outcome = fixture::outcome(findings);
        // The change touched lines 130 and 140 (and 5, where nothing escapes).
        let base: String = (1..=140).map(|i| format!("line {i}\n")).collect();
        let head = base
            .replace("line 130\n", "changed 130\n")
            .replace("line 140\n", "changed 140\n")
            .replace("line 5\n", "changed 5\n");
        let mut changed = ChangedLines::new();
        changed.add_file("a.go", Some(&base), &head);
        outcome.changed = changed;

        let order: Vec<u32> = ordered(&outcome).iter().map(|f| f.line).collect();
        assert_eq!(
            order,
            vec![130, 140, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
        );

        let (text, un) = render(&outcome, &Ci::default());
        assert_eq!(
            un,
            Unannotated {
                errors: 4,
                warnings: 0
            }
        );
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
        assert_eq!(errors.len(), PER_STEP);
        assert!(errors[0].contains("line=130,"), "{}", errors[0]);
        assert!(errors[1].contains("line=140,"), "{}", errors[1]);
        assert!(errors[9].contains("line=80,"), "{}", errors[9]);
        // Every escape is still in the log, and the log says how many were not annotated.
        assert_eq!(text.matches("\nnew a.go:").count(), 14);
        assert!(
            text.contains("note: 4 of 14 new heap escapes are not annotated"),
            "{text}"
        );
    }

    #[test]
    fn summary_and_outputs_are_appended() {
        let dir = tempfile::tempdir().expect("tmp");
        let summary = dir.path().join("summary.md");
        let output = dir.path().join("output");
        std::fs::write(&summary, "earlier\n").expect("write");
        std::fs::write(&output, "other=1\n").expect("write");
        let findings: Vec<_> = (1..=11)
            .map(|i| finding("a.go", i, "F", Kind::Escapes, "&T{}"))
            .collect();
        let outcome = fixture::with_extras(fixture::outcome(findings));
        let ci = Ci {
            step_summary: Some(summary.clone()),
            output: Some(output.clone()),
            ..Ci::default()
        };
        run(&outcome, &ci, &mut Vec::new()).expect("run");
        let summary = std::fs::read_to_string(&summary).expect("read");
        assert!(
            summary.starts_with("earlier\n### ❌ escape-gate: 11 new heap escapes\n"),
            "{summary}"
        );
        assert!(
            summary.contains("> 1 of 11 new heap escapes are not annotated"),
            "{summary}"
        );
        assert_eq!(
            std::fs::read_to_string(&output).expect("read"),
            "other=1\nnew-escapes=11\nfixed-escapes=1\nallowed-escapes=1\n"
        );
    }
}
