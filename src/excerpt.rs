//! Source excerpts: the head's lines around each new finding and the line of each of
//! its flow steps, for the reports that show code (`--format html`). The gate reads the
//! files (from git for a commit, from disk for the working tree) while it still has the
//! revisions; the reports only look lines up, so they stay pure. A pure function of the
//! findings and a way to read a file: tests call it with strings.

use std::collections::BTreeMap;

use crate::finding::{Finding, FlowStep};

/// Lines shown above and below a finding's own line.
pub const CONTEXT: u32 = 2;

/// The most of one source line kept, in bytes: a generated file's megabyte line must
/// not make the page that big.
pub const MAX_LINE: usize = 400;

/// Head source lines by repository-relative file and 1-based line number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Excerpts {
    files: BTreeMap<String, BTreeMap<u32, String>>,
}

impl Excerpts {
    /// The lines of `findings` and their flows: [`CONTEXT`] lines around each finding,
    /// and each step's line. `read` gives a head file's text, `None` when it cannot be
    /// read (outside the repository, not UTF-8-decodable is still read lossily by the
    /// caller, too large); each file is read once.
    pub fn collect(findings: &[Finding], read: &dyn Fn(&str) -> Option<String>) -> Excerpts {
        let mut wanted: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
        let mut step_candidates: Vec<(&str, u32)> = Vec::new();
        for f in findings {
            if !f.unplaced {
                wanted
                    .entry(f.file.as_str())
                    .or_default()
                    .push((f.line.saturating_sub(CONTEXT).max(1), f.line + CONTEXT));
            }
            for step in &f.flow {
                step_candidates.extend(step.places());
            }
        }
        for (file, line) in step_candidates {
            if is_repository_path(file) {
                wanted.entry(file).or_default().push((line, line));
            }
        }
        let mut files = BTreeMap::new();
        for (file, ranges) in wanted {
            let Some(text) = read(file) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let mut kept = BTreeMap::new();
            for (from, to) in ranges {
                for n in from..=to {
                    if let Some(line) = lines.get(n as usize - 1) {
                        kept.insert(n, clip(line));
                    }
                }
            }
            files.insert(file.to_string(), kept);
        }
        Excerpts { files }
    }

    /// Line `line` of `file`, if it was collected.
    pub fn line(&self, file: &str, line: u32) -> Option<&str> {
        self.files.get(file)?.get(&line).map(String::as_str)
    }

    /// The collected lines of `file` within [`CONTEXT`] of `line`, in order.
    pub fn around(&self, file: &str, line: u32) -> Vec<(u32, &str)> {
        let Some(lines) = self.files.get(file) else {
            return Vec::new();
        };
        lines
            .range(line.saturating_sub(CONTEXT)..=line + CONTEXT)
            .map(|(n, text)| (*n, text.as_str()))
            .collect()
    }

    /// Where a flow step is, as a place whose line was collected: the first of
    /// [`FlowStep::places`] that is.
    pub fn step_place<'a>(&self, step: &'a FlowStep) -> Option<(&'a str, u32)> {
        step.places()
            .into_iter()
            .find(|(file, line)| self.line(file, *line).is_some())
    }
}

/// Whether a step's file is one of the repository's (the compiler prints standard
/// library and module cache files absolute).
fn is_repository_path(file: &str) -> bool {
    !file.is_empty()
        && !file.starts_with('/')
        && !file.starts_with('<')
        && !file.contains('\\')
        && !file.split('/').any(|part| part == ".." || part.is_empty())
}

/// `line` without a trailing carriage return, cut to [`MAX_LINE`] bytes at a character
/// boundary (with `…` when cut).
fn clip(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.len() <= MAX_LINE {
        return line.to_string();
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Kind;

    #[test]
    fn collects_context_and_step_lines() {
        let mut f = Finding::example("a.go", 5, "F", Kind::Moved, "x");
        f.flow = vec![
            FlowStep::plain("flow: {heap} ← &x"),
            FlowStep::plain("  from &x (address-of) at b at b.go:2"),
            FlowStep::plain("  from fmt.a (call parameter) at /usr/lib/go/src/fmt/print.go:3:2"),
        ];
        let a: String = (1..=10).map(|i| format!("a{i}\r\n")).collect();
        let long = format!("b1\n{}\n", "é".repeat(300));
        let read = |file: &str| match file {
            "a.go" => Some(a.clone()),
            "b.go" => Some(long.clone()),
            _ => None,
        };
        let ex = Excerpts::collect(&[f.clone()], &read);
        let around: Vec<u32> = ex.around("a.go", 5).iter().map(|(n, _)| *n).collect();
        assert_eq!(around, [3, 4, 5, 6, 7]);
        assert_eq!(ex.line("a.go", 5), Some("a5"));
        assert_eq!(ex.line("a.go", 1), None);
        let step = ex.line("b.go", 2).expect("the step's line");
        assert!(step.len() <= MAX_LINE + '…'.len_utf8() && step.ends_with('…'));
        // The step's file is found although its description holds ` at `.
        assert_eq!(ex.step_place(&f.flow[1]), Some(("b.go", 2)));
        assert_eq!(ex.step_place(&f.flow[2]), None);
        assert_eq!(ex.step_place(&f.flow[0]), None);
    }

    #[test]
    fn only_repository_paths_are_read() {
        for (path, want) in [
            ("a/b.go", true),
            ("/usr/lib/go/src/fmt/print.go", false),
            ("../x.go", false),
            ("<autogenerated>", false),
            ("a//b.go", false),
            ("C:\\w\\a.go", false),
        ] {
            assert_eq!(is_repository_path(path), want, "{path}");
        }
    }
}
