//! `//gcassert:` directives (the annotations of github.com/jordanlewis/gcassert): read
//! from the head's Go files, then checked against the head's compiler output. They are
//! absolute assertions, not a comparison: a directive the head violates is a finding of
//! kind [`Kind::Gcassert`], new by construction (the base is never read for them), and
//! fails the gate whatever `--checks` says.
//!
//! A directive is a comment `//gcassert:D1,D2` at the end of a line (it applies to that
//! line) or on a line of its own (it applies to the next line that is not a comment):
//! - `inline` on a function declaration: the compiler can inline the function
//!   (`can inline F`). gcassert itself asserts that every *call* of the function is
//!   inlined; the declaration's own inlinability is what a change breaks, and each call
//!   that matters can carry its own directive.
//! - `inline` on any other line: a call on the line is inlined (`inlining call to F`).
//! - `bce`: no bounds check on the line (`Found IsInBounds`, `Found IsSliceInBounds`).
//! - `noescape`: nothing on the line is heap-allocated (`moved to heap`, `escapes to
//!   heap`). gcassert matches the `-m=2` explanation headers, which Go 1.25 changed
//!   (`escapes to heap in F:`); escape-gate reads the summary lines, the same on every
//!   version.
//!
//! A directive is checked only in a file the compiler printed something for: a file
//! left out by build constraints has no decisions to check.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::checks::Needs;
use crate::finding::{Finding, Kind};
use crate::function::FunctionIndex;
use crate::go::Listing;
use crate::tree;

/// What one directive asserts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Assertion {
    Inline,
    Bce,
    Noescape,
    /// A name gcassert does not know: reported, so that a typo does not pass silently.
    Unknown(String),
}

impl Assertion {
    fn parse(name: &str) -> Assertion {
        match name {
            "inline" => Assertion::Inline,
            "bce" => Assertion::Bce,
            "noescape" => Assertion::Noescape,
            other => Assertion::Unknown(other.to_string()),
        }
    }

    fn name(&self) -> &str {
        match self {
            Assertion::Inline => "inline",
            Assertion::Bce => "bce",
            Assertion::Noescape => "noescape",
            Assertion::Unknown(name) => name,
        }
    }
}

/// One directive, placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Directive {
    /// Import path of the package of the file.
    pub package: String,
    /// Tree-relative file.
    pub file: String,
    /// The line the directive applies to (1-based).
    pub line: u32,
    /// The line of the comment itself.
    pub comment_line: u32,
    pub assertion: Assertion,
    /// Whether the line is a function declaration.
    pub on_func: bool,
    /// The line, trimmed.
    pub source: String,
    /// The function enclosing the line (or declared on it).
    pub function: String,
}

/// The directives in a tree's analysed packages.
#[derive(Debug, Clone, Default)]
pub struct Directives {
    pub list: Vec<Directive>,
}

/// The most of a Go file read for directives.
const MAX_READ: u64 = 64 * 1024 * 1024;

impl Directives {
    /// Reads the Go files of the packages of `listing` that `selected` accepts.
    /// Files are read inside the tree only, never through a link.
    pub fn scan(tree: &Path, listing: &Listing, selected: &dyn Fn(&str) -> bool) -> Directives {
        let mut list = Vec::new();
        let packages: BTreeMap<&str, &str> = listing
            .packages
            .iter()
            .filter(|p| !p.excluded && selected(&p.import_path))
            .map(|p| (p.dir.as_str(), p.import_path.as_str()))
            .collect();
        for (dir, package) in packages {
            let Ok(entries) = fs::read_dir(tree.join(dir)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".go") && !n.ends_with("_test.go"))
                .collect();
            names.sort();
            for name in names {
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let Ok(bytes) = tree::read_bytes_in_tree(tree, &rel, MAX_READ) else {
                    continue;
                };
                if !contains(&bytes, b"//gcassert:") {
                    continue;
                }
                list.extend(in_source(package, &rel, &bytes));
            }
        }
        Directives { list }
    }

    /// The compiler output the directives need.
    pub fn needs(&self) -> Needs {
        Needs {
            inlining: self.list.iter().any(|d| d.assertion == Assertion::Inline),
            bounds: self.list.iter().any(|d| d.assertion == Assertion::Bce),
        }
    }

    /// The violations of the directives by the head's findings (all kinds, before the
    /// checks choose: see [`crate::checks::prepare`]).
    pub fn violations(&self, findings: &[Finding]) -> Vec<Finding> {
        let compiled: BTreeSet<&str> = findings.iter().map(|f| f.file.as_str()).collect();
        let mut by_line: BTreeMap<(&str, u32), Vec<&Finding>> = BTreeMap::new();
        for f in findings {
            by_line
                .entry((f.file.as_str(), f.line))
                .or_default()
                .push(f);
        }
        let mut out = Vec::new();
        for d in &self.list {
            if !compiled.contains(d.file.as_str()) {
                continue;
            }
            let here: &[&Finding] = by_line
                .get(&(d.file.as_str(), d.line))
                .map_or(&[], Vec::as_slice);
            let of = |kinds: &[Kind]| -> Vec<&Finding> {
                here.iter()
                    .copied()
                    .filter(|f| kinds.contains(&f.kind))
                    .collect()
            };
            let mut violation = |column: u32, what: String| {
                out.push(Finding {
                    package: d.package.clone(),
                    file: d.file.clone(),
                    line: d.line,
                    column,
                    function: d.function.clone(),
                    kind: Kind::Gcassert,
                    message: format!("//gcassert:{} violated: {what}", d.assertion.name()),
                    expr: d.assertion.name().to_string(),
                    source: d.source.clone(),
                    flow: Vec::new(),
                    compiled_in: None,
                    inlined_into: None,
                    unplaced: false,
                    hot: false,
                    profile: None,
                    platforms: Vec::new(),
                })
            };
            match &d.assertion {
                Assertion::Inline if d.on_func => {
                    if of(&[Kind::Inlinable]).is_empty() {
                        let why = of(&[Kind::NotInlinable]).first().map_or_else(
                            || {
                                "the compiler does not say `can inline` for this function"
                                    .to_string()
                            },
                            |f| format!("the compiler: \"{}\"", f.message),
                        );
                        violation(1, format!("the function is not inlinable ({why})"));
                    }
                }
                Assertion::Inline => {
                    if of(&[Kind::InlinedCall]).is_empty() {
                        violation(1, "no call on this line is inlined".to_string());
                    }
                }
                Assertion::Bce => {
                    for f in of(&[Kind::BoundsCheck]) {
                        violation(
                            f.column,
                            format!("bounds check kept (the compiler: \"Found {}\")", f.expr),
                        );
                    }
                }
                Assertion::Noescape => {
                    for f in of(&[Kind::Moved, Kind::Escapes]) {
                        violation(f.column, format!("the compiler: \"{}\"", f.message));
                    }
                }
                Assertion::Unknown(name) => {
                    violation(
                        1,
                        format!(
                            "unknown directive {name:?} (gcassert knows inline, bce, noescape)"
                        ),
                    );
                }
            }
        }
        out
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The directives of one file.
pub fn in_source(package: &str, file: &str, bytes: &[u8]) -> Vec<Directive> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let index = FunctionIndex::new(bytes);
    // The first line at or after each line that is code (not blank, not a comment),
    // found in one pass from the end: a run of comment lines costs its length once,
    // not once per directive in it.
    let mut next_code = vec![None; lines.len() + 1];
    for j in (0..lines.len()).rev() {
        let t = lines[j].trim();
        next_code[j] = if !t.is_empty() && !t.starts_with("//") {
            Some(j)
        } else {
            next_code[j + 1]
        };
    }
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = directive_start(line) else {
            continue;
        };
        let names = &line[at + "//gcassert:".len()..];
        let names = names.split_whitespace().next().unwrap_or("");
        let trailing = !line[..at].trim().is_empty();
        let target = if trailing { Some(i) } else { next_code[i + 1] };
        let Some(target) = target else {
            continue;
        };
        let source = lines[target].trim();
        let code = before_comment(source);
        let on_func = code.starts_with("func ") || code.starts_with("func(");
        let line_no = u32::try_from(target + 1).unwrap_or(u32::MAX);
        // The function declared on the line is the one the column of its name gives.
        let column = lines[target]
            .find(code)
            .map_or(1, |c| c + code.len() / 2 + 1);
        let function = index.function_at(line_no, u32::try_from(column).unwrap_or(1));
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            out.push(Directive {
                package: package.to_string(),
                file: file.to_string(),
                line: line_no,
                comment_line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                assertion: Assertion::parse(name),
                on_func,
                source: code.to_string(),
                function: function.clone(),
            });
        }
    }
    out
}

/// Where a `//gcassert:` comment starts on the line: the comment itself must begin
/// there, not sit in a string literal or inside another comment (`// see
/// //gcassert:bce`), as gcassert reads only comments that begin with it.
fn directive_start(line: &str) -> Option<usize> {
    let at = line.find("//gcassert:")?;
    let before = &line[..at];
    if before.contains("//") || before.contains("/*") || before.contains('`') {
        return None;
    }
    let mut quotes = 0;
    let mut escaped = false;
    for c in before.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => quotes += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    (quotes % 2 == 0).then_some(at)
}

fn before_comment(line: &str) -> &str {
    line.find("//").map_or(line, |at| line[..at].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_comments_that_begin_with_the_directive_count() {
        let table = [
            ("//gcassert:inline", true),
            ("\treturn xs[i] //gcassert:bce", true),
            ("s := \"a\\\"b\" //gcassert:bce", true),
            (
                "const Help = \"use //gcassert:inline or //gcassert:bce\"",
                false,
            ),
            ("// see //gcassert:bce for the bounds check", false),
            ("/* //gcassert:noescape */", false),
            ("x := `//gcassert:inline`", false),
        ];
        for (line, want) in table {
            assert_eq!(directive_start(line).is_some(), want, "{line}");
        }
    }

    fn finding(line: u32, column: u32, kind: Kind, expr: &str, message: &str) -> Finding {
        Finding {
            package: "m".to_string(),
            column,
            message: message.to_string(),
            ..Finding::example("a.go", line, "F", kind, expr)
        }
    }

    const SOURCE: &str = "package m\n\
        \n\
        //gcassert:inline\n\
        func F(xs []int) int {\n\
        \t//gcassert:bce,noescape\n\
        \tx := xs[3]\n\
        \treturn g(x) //gcassert:inline\n\
        }\n\
        //gcassert:typo\n\
        var v = 1\n";

    #[test]
    fn directives_above_and_after() {
        let d = in_source("m", "a.go", SOURCE.as_bytes());
        let got: Vec<(u32, &str, bool)> = d
            .iter()
            .map(|d| (d.line, d.assertion.name(), d.on_func))
            .collect();
        assert_eq!(
            got,
            vec![
                (4, "inline", true),
                (6, "bce", false),
                (6, "noescape", false),
                (7, "inline", false),
                (10, "typo", false),
            ]
        );
        assert_eq!(d[0].function, "F");
        let needs = Directives { list: d }.needs();
        assert!(needs.inlining && needs.bounds);
    }

    #[test]
    fn violations_and_satisfied_directives() {
        let directives = Directives {
            list: in_source("m", "a.go", SOURCE.as_bytes()),
        };
        // Satisfied: F inlinable, no bounds check or escape on line 6, g inlined on 7.
        let good = vec![
            finding(4, 6, Kind::Inlinable, "F", "can inline F"),
            finding(7, 10, Kind::InlinedCall, "g", "inlining call to g"),
        ];
        let got = directives.violations(&good);
        assert_eq!(got.len(), 1, "only the unknown directive: {got:?}");
        assert!(got[0].message.contains("unknown directive \"typo\""));
        let bad = vec![
            finding(
                4,
                6,
                Kind::NotInlinable,
                "F",
                "cannot inline F: function too complex: cost 90 exceeds budget 80",
            ),
            finding(6, 9, Kind::BoundsCheck, "IsInBounds", "Found IsInBounds"),
            finding(6, 2, Kind::Moved, "x", "moved to heap: x"),
        ];
        let got: Vec<String> = directives
            .violations(&bad)
            .into_iter()
            .map(|f| format!("{}:{} {}", f.line, f.expr, f.message))
            .collect();
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("4:inline //gcassert:inline violated: the function is not inlinable (the compiler: \"cannot inline F: function too complex"));
        assert!(got[1].contains("Found IsInBounds"));
        assert!(got[2].contains("moved to heap: x"));
        assert!(got[3].contains("no call on this line is inlined"));
        // A file the compiler printed nothing for is not checked.
        assert!(directives.violations(&[]).is_empty());
    }
}
