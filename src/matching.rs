//! The "Match" stage: the heap findings of base and head in, a [`Comparison`] out.
//! Pure: the only knowledge of the change it needs is a [`LineMap`] built from the two
//! trees' files.
//!
//! A finding's identity is its [`Key`]: package, enclosing function, kind and normalised
//! expression, but not its file or line, so code that moved within its package keeps its
//! identity. Occurrences are counted per key: a function with two identical escapes that
//! gains a third has one new escape. When a key has several occurrences, the line map
//! decides which ones are the old ones. A second pass pairs leftover new and fixed
//! escapes only on evidence that they are the same code: the head line is the base line
//! carried through the diff (a renamed function), or the function kept its name and
//! moved to another package.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::finding::{normalise_expr, Finding, Key};

/// How the lines of each base file map to lines of its head counterpart (the same
/// path, or the file it was renamed to).
#[derive(Debug, Default, Clone)]
pub struct LineMap {
    files: HashMap<String, FileMap>,
}

#[derive(Debug, Clone)]
struct FileMap {
    head_path: String,
    /// `lines[base_line - 1]` is the head line, or 0 when the base line was changed.
    lines: Vec<u32>,
}

impl LineMap {
    pub fn new() -> LineMap {
        LineMap::default()
    }

    /// Records that `base_path` became `head_path`, with their contents.
    pub fn add_file(&mut self, base_path: &str, head_path: &str, base_text: &str, head_text: &str) {
        let base_count = base_text.lines().count();
        let lines = if base_text == head_text {
            (1..=base_count as u32).collect()
        } else {
            let mut lines = vec![0u32; base_count];
            let diff = similar::TextDiff::configure()
                .algorithm(similar::Algorithm::Patience)
                .diff_lines(base_text, head_text);
            for op in diff.ops() {
                if let similar::DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } = *op
                {
                    for i in 0..len {
                        if let Some(slot) = lines.get_mut(old_index + i) {
                            *slot = (new_index + i + 1) as u32;
                        }
                    }
                }
            }
            lines
        };
        self.files.insert(
            base_path.to_string(),
            FileMap {
                head_path: head_path.to_string(),
                lines,
            },
        );
    }

    /// Where an unchanged base line is in the head, if it is unchanged.
    pub fn map(&self, base_file: &str, base_line: u32) -> Option<(&str, u32)> {
        let file = self.files.get(base_file)?;
        let line = *file.lines.get(base_line.checked_sub(1)? as usize)?;
        (line != 0).then_some((file.head_path.as_str(), line))
    }

    fn maps_to(&self, base: &Finding, head: &Finding) -> bool {
        self.map(&base.file, base.line) == Some((head.file.as_str(), head.line))
    }
}

/// The head lines a change touched, per head file: lines that are not the image of any
/// base line. Reporters put escapes on these lines first, because GitHub shows only the
/// first few annotations of a step and the lines a pull request changed are where a
/// reviewer looks. A file without a base counterpart (a new file) is touched throughout.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChangedLines {
    files: HashMap<String, Touched>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Touched {
    /// The file did not exist in the base.
    All,
    /// 1-based head lines that are not carried over from the base.
    Lines(std::collections::BTreeSet<u32>),
}

impl ChangedLines {
    pub fn new() -> ChangedLines {
        ChangedLines::default()
    }

    /// Records the changed lines of `head_path`; `base_text` is its base counterpart
    /// (same path or the file it was renamed from), `None` when there is none.
    pub fn add_file(&mut self, head_path: &str, base_text: Option<&str>, head_text: &str) {
        let touched = match base_text {
            None => Touched::All,
            Some(base_text) => {
                let head_count = head_text.lines().count();
                let mut carried = vec![false; head_count];
                let diff = similar::TextDiff::configure()
                    .algorithm(similar::Algorithm::Patience)
                    .diff_lines(base_text, head_text);
                for op in diff.ops() {
                    if let similar::DiffOp::Equal { new_index, len, .. } = *op {
                        for slot in carried.iter_mut().skip(new_index).take(len) {
                            *slot = true;
                        }
                    }
                }
                Touched::Lines(
                    (1..=head_count as u32)
                        .filter(|&line| !carried[line as usize - 1])
                        .collect(),
                )
            }
        };
        self.files.insert(head_path.to_string(), touched);
    }

    /// Whether the change touched `line` of `file`. Files never added are unknown and
    /// count as untouched.
    pub fn contains(&self, file: &str, line: u32) -> bool {
        match self.files.get(file) {
            None => false,
            Some(Touched::All) => true,
            Some(Touched::Lines(lines)) => lines.contains(&line),
        }
    }
}

/// A heap escape whose code moved in a way the key does not follow (renamed function,
/// function moved to another package): the same allocation, not a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub from: Finding,
    pub to: Finding,
}

/// The outcome of matching base findings to head findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// In the head, not in the base.
    pub new: Vec<Finding>,
    /// In the base, not in the head.
    pub fixed: Vec<Finding>,
    pub moved: Vec<Moved>,
    /// Pairs of (base, head) findings that are the same escape.
    pub unchanged: Vec<(Finding, Finding)>,
}

/// Collapses findings that are the same allocation site reported more than once:
/// generic code is compiled once per shape and in every instantiating package, so one
/// source position can carry the same message several times. Sorting first makes the
/// result independent of the order in which `go build` printed its package blocks.
pub fn dedupe(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.kind, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.kind, &b.message))
    });
    findings.dedup_by(|later, first| {
        later.file == first.file
            && later.line == first.line
            && later.column == first.column
            && later.kind == first.kind
            && normalise_expr(&later.expr) == normalise_expr(&first.expr)
    });
    findings
}

/// Matches base findings to head findings. Both inputs should be [`dedupe`]d.
pub fn compare(base: &[Finding], head: &[Finding], lines: &LineMap) -> Comparison {
    let mut groups: BTreeMap<Key, (Vec<&Finding>, Vec<&Finding>)> = BTreeMap::new();
    for f in base {
        groups.entry(f.key()).or_default().0.push(f);
    }
    for f in head {
        groups.entry(f.key()).or_default().1.push(f);
    }

    let mut out = Comparison::default();
    let mut new: Vec<&Finding> = Vec::new();
    let mut fixed: Vec<&Finding> = Vec::new();
    for (_, (bases, heads)) in groups {
        let (pairs, left_base, left_head) = pair_occurrences(&bases, &heads, lines);
        out.unchanged
            .extend(pairs.into_iter().map(|(b, h)| (b.clone(), h.clone())));
        fixed.extend(left_base);
        new.extend(left_head);
    }

    // Second pass: evidence-only pairing of what is left.
    new.sort_by(|a, b| position(a).cmp(&position(b)));
    fixed.sort_by(|a, b| position(a).cmp(&position(b)));
    let mut fixed_used = vec![false; fixed.len()];
    for h in new {
        let same_alloc =
            |b: &Finding| b.kind == h.kind && normalise_expr(&b.expr) == normalise_expr(&h.expr);
        let by_line = fixed
            .iter()
            .enumerate()
            .find(|(i, b)| !fixed_used[*i] && same_alloc(b) && lines.maps_to(b, h));
        let by_name = || {
            fixed.iter().enumerate().find(|(i, b)| {
                !fixed_used[*i]
                    && same_alloc(b)
                    && b.function == h.function
                    && b.package != h.package
                    && !is_init(&b.function)
            })
        };
        match by_line.or_else(by_name) {
            Some((i, b)) => {
                fixed_used[i] = true;
                out.moved.push(Moved {
                    from: (*b).clone(),
                    to: h.clone(),
                });
            }
            None => out.new.push(h.clone()),
        }
    }
    out.fixed = fixed
        .into_iter()
        .zip(fixed_used)
        .filter(|(_, used)| !used)
        .map(|(b, _)| b.clone())
        .collect();
    out
}

fn is_init(function: &str) -> bool {
    function == "init" || function.starts_with("init.")
}

fn position(f: &Finding) -> (&str, u32, u32) {
    (&f.file, f.line, f.column)
}

type Pairing<'a> = (
    Vec<(&'a Finding, &'a Finding)>,
    Vec<&'a Finding>,
    Vec<&'a Finding>,
);

/// Pairs the occurrences of one key: first lines the diff carries unchanged from base
/// to head, then identical source lines, then what remains in source order. Returns the
/// pairs and the unpaired base (fixed) and head (new) occurrences.
fn pair_occurrences<'a>(
    bases: &[&'a Finding],
    heads: &[&'a Finding],
    lines: &LineMap,
) -> Pairing<'a> {
    let mut base_left: Vec<&Finding> = bases.to_vec();
    let mut head_left: Vec<&Finding> = heads.to_vec();
    base_left.sort_by(|a, b| position(a).cmp(&position(b)));
    head_left.sort_by(|a, b| position(a).cmp(&position(b)));
    let mut pairs = Vec::new();

    type Same<'s> = &'s dyn Fn(&Finding, &Finding) -> bool;
    let steps: [Same; 3] = [
        &|b, h| lines.maps_to(b, h) && b.column == h.column,
        &|b, h| lines.maps_to(b, h),
        &|b, h| !b.source.is_empty() && b.source == h.source,
    ];
    for same in steps {
        let mut i = 0;
        while i < base_left.len() {
            let b = base_left[i];
            if let Some(j) = head_left.iter().position(|h| same(b, h)) {
                pairs.push((b, head_left.remove(j)));
                base_left.remove(i);
            } else {
                i += 1;
            }
        }
    }
    let n = base_left.len().min(head_left.len());
    let rest_base = base_left.split_off(n);
    let rest_head = head_left.split_off(n);
    pairs.extend(base_left.into_iter().zip(head_left));
    (pairs, rest_base, rest_head)
}

/// One line per heap finding, `package function: message`, sorted: the per-function
/// listing whose unified diff shows moved code as unchanged.
pub fn listing(findings: &[Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            let function = if is_init(&f.function) {
                format!("{} ({})", f.function, file_name(&f.file))
            } else {
                f.function.clone()
            };
            let message = f.kind.describe(&normalise_expr(&f.expr));
            format!("{} {function}: {message}\n", f.package)
        })
        .collect();
    lines.sort();
    lines.concat()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(file: &str, line: u32, function: &str, expr: &str) -> Finding {
        let package = match file.rfind('/') {
            Some(i) => format!("example.com/m/{}", &file[..i]),
            None => "example.com/m".to_string(),
        };
        Finding {
            package,
            file: file.to_string(),
            line,
            column: 2,
            function: function.to_string(),
            kind: crate::finding::Kind::Escapes,
            message: format!("{expr} escapes to heap"),
            expr: expr.to_string(),
            source: String::new(),
            flow: Vec::new(),
        }
    }

    fn positions(fs: &[Finding]) -> Vec<String> {
        fs.iter()
            .map(|f| format!("{}:{} {}", f.file, f.line, f.function))
            .collect()
    }

    #[test]
    fn changed_lines_are_the_head_lines_not_carried_from_the_base() {
        let mut changed = ChangedLines::new();
        changed.add_file("a.go", Some("a\nb\nc\n"), "a\nnew\nb\nc2\n");
        changed.add_file("new.go", None, "x\ny\n");
        changed.add_file("same.go", Some("p\nq\n"), "p\nq\n");
        let table = [
            ("a.go", 1, false),
            ("a.go", 2, true),
            ("a.go", 3, false),
            ("a.go", 4, true),
            ("new.go", 1, true),
            ("new.go", 7, true),
            ("same.go", 1, false),
            ("same.go", 2, false),
            ("unknown.go", 1, false),
        ];
        for (file, line, want) in table {
            assert_eq!(changed.contains(file, line), want, "{file}:{line}");
        }
    }

    #[test]
    fn moving_within_the_package_changes_nothing() {
        let base = vec![f("a.go", 10, "F", "&T{}"), f("a.go", 20, "G", "&U{}")];
        let head = vec![f("b.go", 3, "F", "&T{}"), f("a.go", 40, "G", "&U{}")];
        let cmp = compare(&base, &head, &LineMap::new());
        assert!(
            cmp.new.is_empty() && cmp.fixed.is_empty() && cmp.moved.is_empty(),
            "{cmp:?}"
        );
        assert_eq!(cmp.unchanged.len(), 2);
    }

    #[test]
    fn counts_per_key_and_the_line_map_picks_the_new_one() {
        let base_src = "a\nx1\nb\nx2\n";
        let head_src = "a\nx1\nb\nx3\nx2\n";
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", base_src, head_src);
        let base = vec![f("a.go", 2, "F", "&T{}"), f("a.go", 4, "F", "&T{}")];
        let head = vec![
            f("a.go", 2, "F", "&T{}"),
            f("a.go", 4, "F", "&T{}"),
            f("a.go", 5, "F", "&T{}"),
        ];
        let cmp = compare(&base, &head, &lines);
        assert_eq!(positions(&cmp.new), vec!["a.go:4 F"]);
        assert!(cmp.fixed.is_empty());
    }

    #[test]
    fn fewer_occurrences_are_fixed() {
        let base = vec![f("a.go", 2, "F", "&T{}"), f("a.go", 4, "F", "&T{}")];
        let head = vec![f("a.go", 2, "F", "&T{}")];
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", "a\nb\nc\nd\n", "a\nb\nc\n");
        let cmp = compare(&base, &head, &lines);
        assert!(cmp.new.is_empty());
        assert_eq!(positions(&cmp.fixed), vec!["a.go:4 F"]);
    }

    #[test]
    fn renamed_function_is_moved_when_the_line_carries_over() {
        let mut lines = LineMap::new();
        lines.add_file(
            "a.go",
            "a.go",
            "func Old() {\n\tx := &T{}\n}\n",
            "func New() {\n\tx := &T{}\n}\n",
        );
        let base = vec![f("a.go", 2, "Old", "&T{}")];
        let head = vec![f("a.go", 2, "New", "&T{}")];
        let cmp = compare(&base, &head, &lines);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved.len(), 1);
        assert_eq!(cmp.moved[0].from.function, "Old");
    }

    #[test]
    fn function_moved_to_another_package_is_moved() {
        let base = vec![f("a/a.go", 5, "Parse", "&T{}")];
        let head = vec![f("b/b.go", 9, "Parse", "&T{}")];
        let cmp = compare(&base, &head, &LineMap::new());
        assert_eq!(cmp.moved.len(), 1, "{cmp:?}");
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty());
    }

    #[test]
    fn unrelated_functions_allocating_alike_are_not_paired() {
        let base = vec![f("a.go", 5, "Old", "&T{}")];
        let head = vec![f("a.go", 30, "Other", "&T{}")];
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", &"x\n".repeat(40), &"y\n".repeat(40));
        let cmp = compare(&base, &head, &lines);
        assert_eq!(positions(&cmp.new), vec!["a.go:30 Other"]);
        assert_eq!(positions(&cmp.fixed), vec!["a.go:5 Old"]);
        assert!(cmp.moved.is_empty());
    }

    #[test]
    fn init_keeps_its_file() {
        let base = vec![f("a.go", 3, "init", "&T{}")];
        let head = vec![f("b.go", 3, "init", "&T{}")];
        let cmp = compare(&base, &head, &LineMap::new());
        assert_eq!(positions(&cmp.new), vec!["b.go:3 init"]);
        assert_eq!(positions(&cmp.fixed), vec!["a.go:3 init"]);
    }

    #[test]
    fn dedupe_collapses_generic_shapes_at_one_site() {
        let findings = vec![
            f("gen/g.go", 6, "Box", "&Boxed[go.shape.string]{...}"),
            f("gen/g.go", 6, "Box", "&Boxed[go.shape.int]{...}"),
            f("gen/g.go", 6, "Box", "&Boxed[go.shape.int]{...}"),
            f("gen/g.go", 7, "Box", "&Boxed[go.shape.int]{...}"),
        ];
        let deduped = dedupe(findings);
        assert_eq!(
            positions(&deduped),
            vec!["gen/g.go:6 Box", "gen/g.go:7 Box"]
        );
        assert_eq!(deduped[0].expr, "&Boxed[go.shape.int]{...}");
    }

    #[test]
    fn listing_is_sorted_and_line_free() {
        let text = listing(&[f("b.go", 9, "G", "&U{}"), f("a.go", 1, "F", "&T{}")]);
        assert_eq!(
            text,
            "example.com/m F: &T{} escapes to heap\nexample.com/m G: &U{} escapes to heap\n"
        );
    }
}
