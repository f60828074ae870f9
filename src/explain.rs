//! Explanations: the compiler's `-m=2` escape flow of a heap finding, made readable.
//! Raw flow lines (as [`crate::parse`] attached them, positions as the compiler printed
//! them) and a way to place compiler file names in the repository go in; display lines
//! come out, with repository-relative `file:line` positions, one arrow style for every Go
//! release (`=` before 1.25, `←` since), and [`FlowStep::changed`] set on each step whose
//! position is on a line the change touched. That mark is how a user finds the edit
//! that made a declaration they did not touch escape. Pure: the touched lines come in as
//! a [`ChangedLines`].

use std::collections::HashMap;

use crate::finding::{Finding, FlowStep, RawFinding};
use crate::go::BuildOutput;
pub use crate::lines::ChangedLines;

/// Where the position at the end of a `from … at POS` step is: `(file, line)` as printed.
fn step_position(line: &str) -> Option<(&str, &str, u32)> {
    let (what, file, numbers) = crate::parse::split_step(line)?;
    let line_no = numbers
        .trim_start_matches(':')
        .split(':')
        .next()?
        .parse()
        .ok()?;
    Some((what, file, line_no))
}

/// Display lines for one raw flow. `place` maps a compiler file name to a
/// repository-relative path (`None` outside the repository: std, module cache);
/// `changed` marks touched steps, when there is a change to speak of.
pub fn render(
    flow: &[String],
    place: &dyn Fn(&str) -> Option<String>,
    changed: Option<&ChangedLines>,
) -> Vec<FlowStep> {
    flow.iter()
        .map(|raw| {
            let indent = raw.len() - raw.trim_start().len();
            let text = raw.trim_start();
            let pad = &raw[..indent];
            if let Some(rest) = text.strip_prefix("flow: ") {
                let rest = rest.strip_suffix(':').unwrap_or(rest);
                // Before Go 1.25 the arrow was `=`; the destination (a variable, `~r0`,
                // `{heap}`, `{storage for …}`) never contains ` = `.
                let rest = if rest.contains(" ← ") {
                    rest.to_string()
                } else {
                    rest.replacen(" = ", " ← ", 1)
                };
                return FlowStep::plain(format!("{pad}flow: {rest}"));
            }
            if text.starts_with("from ") {
                if let Some((step, file, line)) = step_position(text) {
                    return match place(file) {
                        Some(rel) => FlowStep {
                            changed: changed.is_some_and(|c| c.contains(&rel, line)),
                            text: format!("{pad}{step} at {rel}:{line}"),
                        },
                        None => FlowStep::plain(raw.clone()),
                    };
                }
            }
            FlowStep::plain(raw.clone())
        })
        .collect()
}

/// The repository-relative files the flows of these raw findings pass through.
pub fn flow_files(raw: &[RawFinding], output: &BuildOutput) -> Vec<String> {
    let mut files: Vec<String> = raw
        .iter()
        .flat_map(|r| r.flow.iter())
        .filter_map(|l| step_position(l.trim_start()))
        .filter_map(|(_, file, _)| output.locate(file).map(|(rel, _)| rel))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Gives each finding the rendered flow of the raw `-m=2` finding at the same place with
/// the same message, if there is one. Generic code repeats an allocation once per
/// shape; the first explanation is as good as any.
pub fn attach(
    findings: &mut [Finding],
    raw: &[RawFinding],
    output: &BuildOutput,
    changed: Option<&ChangedLines>,
) {
    let mut flows: HashMap<(String, u32, u32, &str), &[String]> = HashMap::new();
    for r in raw.iter().filter(|r| !r.flow.is_empty()) {
        if let Some((rel, _)) = output.locate(&r.file) {
            flows
                .entry((rel, r.line, r.column.unwrap_or(0), r.message.as_str()))
                .or_insert(&r.flow);
        }
    }
    let place = |file: &str| output.locate(file).map(|(rel, _)| rel);
    for f in findings {
        let key = (f.file.clone(), f.line, f.column, f.message.as_str());
        if let Some(flow) = flows.get(&key) {
            f.flow = render(flow, &place, changed);
        }
    }
}

/// Renders flows that attribution copied verbatim (a single revision: nothing changed).
pub fn render_in_place(findings: &mut [Finding], output: &BuildOutput) {
    let place = |file: &str| output.locate(file).map(|(rel, _)| rel);
    for f in findings {
        if !f.flow.is_empty() {
            let raw: Vec<String> = f.flow.iter().map(|s| s.text.clone()).collect();
            f.flow = render(&raw, &place, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Module;
    use crate::parse;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/go-output/",
                $name
            ))
        };
    }

    /// The steps as the plain-text formats show them.
    fn shown(steps: &[FlowStep]) -> Vec<String> {
        steps.iter().map(FlowStep::display).collect()
    }

    fn output(module: &str) -> BuildOutput {
        BuildOutput {
            modules: vec![Module {
                path: module.to_string(),
                dir: String::new(),
            }],
            ..BuildOutput::default()
        }
    }

    #[test]
    fn step_positions() {
        let cases = [
            (
                "from &t (address-of) at example.com/m/a.go:10:9",
                Some(("from &t (address-of)", "example.com/m/a.go", 10)),
            ),
            (
                "from x (assign) at gen.y:101",
                Some(("from x (assign)", "gen.y", 101)),
            ),
            (
                "from a at b (call parameter) at C:\\w\\a.go:3:4",
                Some(("from a at b (call parameter)", "C:\\w\\a.go", 3)),
            ),
            ("flow: {heap} ← x:", None),
            ("from x (spill)", None),
        ];
        for (line, want) in cases {
            assert_eq!(step_position(line), want, "{line}");
        }
    }

    /// Both header formats, positions placed in the repository, a touched step marked
    /// and a position outside the repository left as printed.
    #[test]
    fn renders_both_arrow_styles_and_marks_touched_lines() {
        let out = output("example.com/m");
        let place = |f: &str| out.locate(f).map(|(rel, _)| rel);
        let mut changed = ChangedLines::new();
        changed.add_file("a.go", Some("1\n2\n3\n"), "1\n2\nnew\n3\n");
        let flow = [
            "flow: {heap} = x:".to_string(),
            "  from x (interface-converted) at a.go:3:9".to_string(),
            "  from sink = x (assign) at a.go:4:7".to_string(),
            "  from fmt.a (call parameter) at /usr/local/go/src/fmt/print.go:3:2".to_string(),
            "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518"
                .to_string(),
        ];
        assert_eq!(
            shown(&render(&flow, &place, Some(&changed))),
            [
                "flow: {heap} ← x",
                "  from x (interface-converted) at a.go:3  [changed]",
                "  from sink = x (assign) at a.go:4",
                "  from fmt.a (call parameter) at /usr/local/go/src/fmt/print.go:3:2",
                "warning: truncated explanation due to assignment cycle; see golang.org/issue/35518",
            ]
        );
        // Without a change (a single revision) nothing is marked.
        assert_eq!(
            shown(&render(&flow[1..2], &place, None)),
            ["  from x (interface-converted) at a.go:3"]
        );
    }

    /// Real `-m=2` output of Go 1.24 and 1.26 for the same source renders identically,
    /// once the build has made its names tree-relative.
    #[test]
    fn old_and_new_compilers_render_alike() {
        let out = output("example.com/m2");
        let place = |f: &str| out.locate(f).map(|(rel, _)| rel);
        let relocated = |text: &str| {
            let mut findings = parse::parse(text).findings;
            for f in &mut findings {
                for step in &mut f.flow {
                    *step = crate::go::relocate_flow(std::path::Path::new("/w"), "", step);
                }
            }
            findings
        };
        let old = relocated(fixture!("m2-small-go1.24.txt"));
        let new = relocated(fixture!("m2-small-go1.26.txt"));
        assert_eq!(old.len(), new.len());
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(render(&o.flow, &place, None), render(&n.flow, &place, None));
        }
        assert_eq!(
            shown(&render(&new[0].flow, &place, None)),
            [
                "flow: ~r0 ← &t",
                "  from &t (address-of) at x.go:10",
                "  from return &t (return) at x.go:10"
            ]
        );
    }

    /// Attaching -m=2 flows to -m findings, on real output (captured with -trimpath,
    /// its import-path names made tree-relative as a build at the module root prints
    /// them): the closure capture of `x` and the generic allocation repeated per shape.
    #[test]
    fn attach_on_real_output() {
        let out = output("example.com/m");
        let text = fixture!("m2-trimpath-go1.26.txt").replace("example.com/m/", "");
        let raw = parse::parse(&text).findings;
        let finding = |line: u32, column: u32, message: &str| Finding {
            column,
            message: message.into(),
            ..Finding::example("a.go", line, "closure", crate::finding::Kind::Moved, "")
        };
        let mut findings = vec![
            finding(49, 2, "moved to heap: x"),
            finding(49, 2, "moved to heap: y"),
        ];
        let mut changed = ChangedLines::new();
        let head: String = (1..=60).map(|i| format!("{i}\n")).collect();
        let base = head.replace("50\n", "");
        changed.add_file("a.go", Some(&base), &head);
        attach(&mut findings, &raw, &out, Some(&changed));
        assert_eq!(
            shown(&findings[0].flow),
            [
                "flow: {storage for func literal} ← &x",
                "  from x (captured by a closure) at a.go:50  [changed]",
                "  from x (reference) at a.go:50  [changed]"
            ]
        );
        // No explanation with that message at that place: nothing invented.
        assert!(findings[1].flow.is_empty());
        // gen.y (a //line file) is not a Go file, so it is not placed.
        assert_eq!(flow_files(&raw, &out), ["a.go", "gen/gen.go"]);
    }
}
