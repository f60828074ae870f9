//! The "Match" stage: the heap findings of base and head in, a [`Comparison`] out.
//! Pure: the only knowledge of the change it needs is a [`LineMap`]
//! built from the two trees' files.
//!
//! The verdict is per package (docs/architecture.md, "How it works"): a package has a new escape when
//! the head has more heap findings of one kind and normalised expression than the base,
//! counting every copy the compiler prints. An inlined body or a generic instantiation
//! compiled again, in the same package or an importer, is another allocation, so copies
//! are counted per compiling package.
//!
//! The function-level picture explains the verdict. A finding's identity is its
//! [`Key`]: compiling package, package, enclosing function, kind and normalised
//! expression, but not its file or line, so code that moved within its function keeps
//! its identity. Occurrences are counted per key; when a key has several, the line map
//! decides which ones are the old ones. Leftover new and fixed escapes are then paired
//! as [`Moved`], on evidence first (the head line is the base line carried through the
//! diff: a renamed function), then wherever they went in their package (same compiling
//! package, package, kind and expression: a refactor), and last across packages when
//! the function kept its name. An escape that moves into a hot function
//! ([`Finding::hot`]) is paired only when the function kept its name.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::finding::{normalise_expr, Finding, Key, Kind};
use crate::lines::LineMap;

/// One identifier renamed between the base and the head message of a pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Rename {
    pub old: String,
    pub new: String,
}

/// A heap escape whose code moved in a way the key does not follow (renamed function,
/// code moved between functions, function moved to another package): the same
/// allocation, not a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub from: Finding,
    pub to: Finding,
    /// What pairs them.
    pub by: MovedBy,
    /// With [`MovedBy::Rename`]: the identifiers of the message that were renamed.
    pub renames: Vec<Rename>,
}

/// The evidence that a new and a fixed finding are the same allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MovedBy {
    /// The head line is the base line, carried through the diff (a renamed function).
    Line,
    /// The package has as many of this kind and expression as before: the code moved
    /// between functions of the package.
    Package,
    /// The function kept its name and moved to another package.
    Name,
    /// The same place in the code, its names renamed (see [`crate::rename`]).
    Rename,
}

impl MovedBy {
    /// How reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            MovedBy::Line => "the same line, in a renamed function",
            MovedBy::Package => "moved between functions of the package",
            MovedBy::Name => "the same function, moved to another package",
            MovedBy::Rename => "the same place in the code, renamed",
        }
    }
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

/// Puts findings in a fixed order: file, position, kind, message, compiling package.
/// Every copy is kept (see the module documentation); the order makes the result
/// independent of the order in which `go` printed its package blocks.
pub fn sort(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (
            &a.file,
            a.line,
            a.column,
            a.kind,
            &a.message,
            a.compiling_package(),
        )
            .cmp(&(
                &b.file,
                b.line,
                b.column,
                b.kind,
                &b.message,
                b.compiling_package(),
            ))
    });
    findings
}

/// Matches base findings to head findings.
/// Matches base findings to head findings. `hot` says whether a head finding's function
/// is a hot path ([`Finding::hot`]); it is asked only of the findings left new after the
/// per-key pairing, and its answer is recorded in the `hot` field of what is reported.
pub fn compare(
    base: &[Finding],
    head: &[Finding],
    lines: &LineMap,
    hot: &dyn Fn(&Finding) -> bool,
) -> Comparison {
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

    // What is left is paired as moved: on the evidence of the line, then within the
    // package, then by name across packages. Each pass sees what the previous left, and
    // takes for each new finding (in position order) the first unused fixed one (in
    // position order) its rule accepts. Fixed findings are looked up by what the rule
    // needs equal, so a pass costs the findings it pairs, not new times fixed.
    new.sort_by(|a, b| position(a).cmp(&position(b)));
    fixed.sort_by(|a, b| position(a).cmp(&position(b)));
    let mut fixed_used = vec![false; fixed.len()];
    let mut new_used = vec![false; new.len()];
    let new_hot: Vec<bool> = new.iter().map(|h| hot(h)).collect();
    let fixed_expr: Vec<String> = fixed.iter().map(|b| normalise_expr(&b.expr)).collect();
    let new_expr: Vec<String> = new.iter().map(|h| normalise_expr(&h.expr)).collect();
    for by in [MovedBy::Line, MovedBy::Package, MovedBy::Name] {
        // In position order; taken from the front, almost always.
        let mut candidates: HashMap<RuleKey, VecDeque<usize>> = HashMap::new();
        for (i, b) in fixed.iter().enumerate() {
            if fixed_used[i] {
                continue;
            }
            let mapped = lines.map(&b.file, b.line);
            if let Some(k) = rule_key(by, b, &fixed_expr[i], mapped) {
                candidates.entry(k).or_default().push_back(i);
            }
        }
        for (j, h) in new.iter().enumerate() {
            // A hot function keeps its escapes strict, but for its own name.
            if new_used[j] || (new_hot[j] && by != MovedBy::Name) {
                continue;
            }
            let Some(k) = rule_key(by, h, &new_expr[j], Some((&h.file, h.line))) else {
                continue;
            };
            let Some(list) = candidates.get_mut(&k) else {
                continue;
            };
            // Across packages only: within one, the package pass has had its say.
            let found = list.iter().position(|&i| {
                !fixed_used[i] && (by != MovedBy::Name || fixed[i].package != h.package)
            });
            if let Some(at) = found {
                let i = list.remove(at).expect("`at` is a position in the list");
                fixed_used[i] = true;
                new_used[j] = true;
                out.moved.push(Moved {
                    from: fixed[i].clone(),
                    to: Finding {
                        hot: new_hot[j],
                        ..(*h).clone()
                    },
                    by,
                    renames: Vec::new(),
                });
            }
        }
    }
    out.moved
        .sort_by(|a, b| position(&a.to).cmp(&position(&b.to)));
    out.new = new
        .into_iter()
        .zip(new_used)
        .zip(new_hot)
        .filter(|((_, used), _)| !used)
        .map(|((h, _), hot)| Finding { hot, ..h.clone() })
        .collect();
    out.fixed = fixed
        .into_iter()
        .zip(fixed_used)
        .filter(|(_, used)| !used)
        .map(|(b, _)| b.clone())
        .collect();
    out
}

/// What a "moved" rule needs equal: kind, compiling package (but for [`MovedBy::Name`]),
/// normalised expression, and the head position (Line), the package (Package) or the
/// function (Name).
type RuleKey<'k> = (Kind, &'k str, &'k str, &'k str, u32);

/// The key of a finding for the rule `by`; `None` when the rule never pairs it.
/// `head_position` is where the finding is in the head: its own position for a head
/// finding, the line map's image for a base one.
fn rule_key<'k>(
    by: MovedBy,
    f: &'k Finding,
    expr: &'k str,
    head_position: Option<(&'k str, u32)>,
) -> Option<RuleKey<'k>> {
    match by {
        MovedBy::Line => {
            let (file, line) = head_position?;
            Some((f.kind, f.compiling_package(), expr, file, line))
        }
        MovedBy::Package => Some((f.kind, f.compiling_package(), expr, &f.package, 0)),
        MovedBy::Name => (!f.function.is_empty() && !is_init(&f.function)).then_some((
            f.kind,
            "",
            expr,
            &f.function,
            0,
        )),
        // Its own pass, on the source (`rename::pair_renames`).
        MovedBy::Rename => None,
    }
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
    lines: &'a LineMap,
) -> Pairing<'a> {
    let mut base_left: Vec<&Finding> = bases.to_vec();
    let mut head_left: Vec<&Finding> = heads.to_vec();
    base_left.sort_by(|a, b| position(a).cmp(&position(b)));
    head_left.sort_by(|a, b| position(a).cmp(&position(b)));
    let mut pairs = Vec::new();

    // Each step pairs every base occurrence, in position order, with the first head
    // occurrence left, in position order, that it accepts: the line the diff carries
    // the base line to and the same column, then that line, then the same source text.
    // Head occurrences are looked up by that key, so a key with many occurrences costs
    // their number, not its square.
    type StepKey<'k> = (&'k str, u32, u32);
    let head_key = |step: usize, h: &'a Finding| -> Option<StepKey<'a>> {
        match step {
            0 => Some((h.file.as_str(), h.line, h.column)),
            1 => Some((h.file.as_str(), h.line, 0)),
            _ => (!h.source.is_empty()).then_some((h.source.as_str(), 0, 0)),
        }
    };
    let base_key = |step: usize, b: &'a Finding| -> Option<StepKey<'a>> {
        match step {
            0 => lines.map(&b.file, b.line).map(|(f, l)| (f, l, b.column)),
            1 => lines.map(&b.file, b.line).map(|(f, l)| (f, l, 0)),
            _ => (!b.source.is_empty()).then_some((b.source.as_str(), 0, 0)),
        }
    };
    for step in 0..3 {
        let mut by_key: HashMap<StepKey, VecDeque<usize>> = HashMap::new();
        for (j, h) in head_left.iter().enumerate() {
            if let Some(k) = head_key(step, h) {
                by_key.entry(k).or_default().push_back(j);
            }
        }
        let mut head_used = vec![false; head_left.len()];
        let mut base_kept = Vec::with_capacity(base_left.len());
        for b in base_left {
            let found = base_key(step, b)
                .and_then(|k| by_key.get_mut(&k))
                .and_then(VecDeque::pop_front);
            match found {
                Some(j) => {
                    head_used[j] = true;
                    pairs.push((b, head_left[j]));
                }
                None => base_kept.push(b),
            }
        }
        base_left = base_kept;
        head_left = head_left
            .into_iter()
            .zip(head_used)
            .filter(|(_, used)| !used)
            .map(|(h, _)| h)
            .collect();
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
                f.function_display()
            };
            let message = f.kind.describe(&normalise_expr(&f.expr));
            match &f.compiled_in {
                Some(p) => format!("{} {function}: {message} (compiled in {p})\n", f.package),
                None => format!("{} {function}: {message}\n", f.package),
            }
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

    /// Whether `lines` carries `base`'s line to `head`'s.
    fn maps_to(lines: &LineMap, base: &Finding, head: &Finding) -> bool {
        lines.map(&base.file, base.line) == Some((head.file.as_str(), head.line))
    }

    fn f(file: &str, line: u32, function: &str, expr: &str) -> Finding {
        let package = match file.rfind('/') {
            Some(i) => format!("example.com/m/{}", &file[..i]),
            None => "example.com/m".to_string(),
        };
        Finding {
            package,
            ..Finding::example(file, line, function, crate::finding::Kind::Escapes, expr)
        }
    }

    fn positions(fs: &[Finding]) -> Vec<String> {
        fs.iter()
            .map(|f| format!("{}:{} {}", f.file, f.line, f.function))
            .collect()
    }

    #[test]
    fn moving_within_the_package_changes_nothing() {
        let base = vec![f("a.go", 10, "F", "&T{}"), f("a.go", 20, "G", "&U{}")];
        let head = vec![f("b.go", 3, "F", "&T{}"), f("a.go", 40, "G", "&U{}")];
        let cmp = compare(&base, &head, &LineMap::new(), &|f| f.hot);
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
        let cmp = compare(&base, &head, &lines, &|f| f.hot);
        assert_eq!(positions(&cmp.new), vec!["a.go:4 F"]);
        assert!(cmp.fixed.is_empty());
    }

    #[test]
    fn the_same_column_on_the_carried_line_is_the_old_occurrence() {
        let at = |line, column| Finding {
            column,
            ..f("a.go", line, "F", "&T{}")
        };
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", "a\nb\nc\n", "a\nb\nc\n");
        let cmp = compare(&[at(3, 9)], &[at(3, 4), at(3, 9)], &lines, &|f| f.hot);
        assert_eq!(cmp.unchanged[0].1.column, 9, "{cmp:?}");
        assert_eq!(cmp.new[0].column, 4);
    }

    #[test]
    fn fewer_occurrences_are_fixed() {
        let base = vec![f("a.go", 2, "F", "&T{}"), f("a.go", 4, "F", "&T{}")];
        let head = vec![f("a.go", 2, "F", "&T{}")];
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", "a\nb\nc\nd\n", "a\nb\nc\n");
        let cmp = compare(&base, &head, &lines, &|f| f.hot);
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
        let cmp = compare(&base, &head, &lines, &|f| f.hot);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved.len(), 1);
        assert_eq!(cmp.moved[0].from.function, "Old");
        assert_eq!(cmp.moved[0].by, MovedBy::Line);
    }

    #[test]
    fn function_moved_to_another_package_is_moved() {
        let base = vec![f("a/a.go", 5, "Parse", "&T{}")];
        let head = vec![f("b/b.go", 9, "Parse", "&T{}")];
        let cmp = compare(&base, &head, &LineMap::new(), &|f| f.hot);
        assert_eq!(cmp.moved.len(), 1, "{cmp:?}");
        assert_eq!(cmp.moved[0].by, MovedBy::Name);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty());
    }

    #[test]
    fn code_moved_between_functions_of_a_package_is_moved() {
        let base = vec![f("a.go", 5, "Old", "&T{}"), f("b/b.go", 5, "Other", "&T{}")];
        let head = vec![
            f("a.go", 30, "Helper", "&T{}"),
            f("b/b.go", 9, "Other", "&T{}"),
        ];
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", &"x\n".repeat(40), &"y\n".repeat(40));
        let cmp = compare(&base, &head, &lines, &|f| f.hot);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved.len(), 1);
        assert_eq!(cmp.moved[0].by, MovedBy::Package);
        assert_eq!(cmp.moved[0].from.function, "Old");
        assert_eq!(cmp.moved[0].to.function, "Helper");
    }

    #[test]
    fn an_escape_moving_into_a_hot_function_is_new() {
        let base = vec![f("a.go", 5, "Old", "&T{}")];
        let head = vec![f("a.go", 5, "Hot", "&T{}")];
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", "p\nq\nr\ns\nt\n", "p\nq\nr\ns\nt\n");
        let cmp = compare(&base, &head, &lines, &|f| f.function == "Hot");
        assert_eq!(positions(&cmp.new), vec!["a.go:5 Hot"]);
        assert!(cmp.new[0].hot, "the report says why it is new");
        assert_eq!(positions(&cmp.fixed), vec!["a.go:5 Old"]);
        assert!(cmp.moved.is_empty());
    }

    #[test]
    fn a_different_allocation_is_not_moved() {
        let base = vec![f("a.go", 5, "Old", "&T{}")];
        let head = vec![f("a.go", 30, "Other", "&U{}")];
        let cmp = compare(&base, &head, &LineMap::new(), &|f| f.hot);
        assert_eq!(positions(&cmp.new), vec!["a.go:30 Other"]);
        assert_eq!(positions(&cmp.fixed), vec!["a.go:5 Old"]);
    }

    #[test]
    fn init_moved_to_another_file_of_the_package_is_moved() {
        let base = vec![f("a.go", 3, "init", "&T{}")];
        let head = vec![f("b.go", 3, "init", "&T{}")];
        let cmp = compare(&base, &head, &LineMap::new(), &|f| f.hot);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved[0].by, MovedBy::Package);
    }

    #[test]
    fn every_copy_is_counted_per_compiling_package() {
        // One site: compiled once in its package in the base; the head compiles it
        // once more there (a new inlined copy) and once in an importer.
        let site = || f("a/a.go", 6, "Opt.func1", "n");
        let mut importer = site();
        importer.compiled_in = Some("example.com/m/b".to_string());
        let base = vec![site()];
        let head = vec![site(), site(), importer];
        let mut lines = LineMap::new();
        lines.add_file("a/a.go", "a/a.go", &"x\n".repeat(9), &"x\n".repeat(9));
        let cmp = compare(&sort(base), &sort(head), &lines, &|f| f.hot);
        assert_eq!(cmp.unchanged.len(), 1);
        assert_eq!(cmp.new.len(), 2, "{cmp:?}");
        let mut compiled: Vec<&str> = cmp.new.iter().map(|f| f.compiling_package()).collect();
        compiled.sort();
        assert_eq!(compiled, vec!["example.com/m/a", "example.com/m/b"]);
        assert!(cmp.moved.is_empty() && cmp.fixed.is_empty());
    }

    #[test]
    fn a_copy_compiled_elsewhere_does_not_pair_with_one_that_left() {
        let mut gone = f("a/a.go", 6, "F", "&T{}");
        gone.compiled_in = Some("example.com/m/b".to_string());
        let mut came = f("a/a.go", 6, "F", "&T{}");
        came.compiled_in = Some("example.com/m/c".to_string());
        let cmp = compare(&[gone], &[came], &LineMap::new(), &|f| f.hot);
        assert_eq!(cmp.new.len(), 1, "{cmp:?}");
        assert_eq!(cmp.fixed.len(), 1);
    }

    /// The per-key pairing as first written: each base occurrence scans the head ones.
    fn pair_by_scanning<'a>(
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
            &|b, h| maps_to(lines, b, h) && b.column == h.column,
            &|b, h| maps_to(lines, b, h),
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

    /// What a comparison decided, by position: unchanged pairs, moves, new, fixed.
    type Decided = (
        Vec<(String, String)>,
        Vec<(String, String, MovedBy)>,
        Vec<String>,
        Vec<String>,
    );

    fn decided(cmp: &Comparison) -> Decided {
        let mut unchanged: Vec<(String, String)> = cmp
            .unchanged
            .iter()
            .map(|(b, h)| (b.position(), h.position()))
            .collect();
        let mut moved: Vec<(String, String, MovedBy)> = cmp
            .moved
            .iter()
            .map(|m| (m.from.position(), m.to.position(), m.by))
            .collect();
        let mut new: Vec<String> = cmp.new.iter().map(Finding::position).collect();
        let mut fixed: Vec<String> = cmp.fixed.iter().map(Finding::position).collect();
        unchanged.sort();
        moved.sort();
        new.sort();
        fixed.sort();
        (unchanged, moved, new, fixed)
    }

    /// The comparison as first written: per key, each base occurrence scans the head
    /// ones; then each new finding scans every fixed one. The indexed [`compare`] must
    /// decide exactly as this does.
    fn compare_by_scanning(
        base: &[Finding],
        head: &[Finding],
        lines: &LineMap,
        hot: &dyn Fn(&Finding) -> bool,
    ) -> Decided {
        let mut groups: BTreeMap<Key, (Vec<&Finding>, Vec<&Finding>)> = BTreeMap::new();
        for f in base {
            groups.entry(f.key()).or_default().0.push(f);
        }
        for f in head {
            groups.entry(f.key()).or_default().1.push(f);
        }
        let (mut new, mut fixed, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
        for (_, (bases, heads)) in groups {
            let (pairs, left_base, left_head) = pair_by_scanning(&bases, &heads, lines);
            unchanged.extend(pairs.into_iter().map(|(b, h)| (b.position(), h.position())));
            fixed.extend(left_base);
            new.extend(left_head);
        }
        new.sort_by(|a, b| position(a).cmp(&position(b)));
        fixed.sort_by(|a, b| position(a).cmp(&position(b)));
        let mut fixed_used = vec![false; fixed.len()];
        let mut new_used = vec![false; new.len()];
        let same_alloc = |b: &Finding, h: &Finding| {
            b.kind == h.kind
                && b.compiling_package() == h.compiling_package()
                && normalise_expr(&b.expr) == normalise_expr(&h.expr)
        };
        let mut out = Vec::new();
        for by in [MovedBy::Line, MovedBy::Package, MovedBy::Name] {
            for (j, h) in new.iter().enumerate() {
                if new_used[j] {
                    continue;
                }
                let accepts = |b: &Finding| match by {
                    MovedBy::Line => !hot(h) && same_alloc(b, h) && maps_to(lines, b, h),
                    MovedBy::Package => !hot(h) && same_alloc(b, h) && b.package == h.package,
                    MovedBy::Name => {
                        b.kind == h.kind
                            && normalise_expr(&b.expr) == normalise_expr(&h.expr)
                            && b.function == h.function
                            && !b.function.is_empty()
                            && b.package != h.package
                            && !is_init(&b.function)
                    }
                    MovedBy::Rename => false,
                };
                if let Some(i) = (0..fixed.len()).find(|&i| !fixed_used[i] && accepts(fixed[i])) {
                    fixed_used[i] = true;
                    new_used[j] = true;
                    out.push((fixed[i].position(), h.position(), by));
                }
            }
        }
        let left = |fs: &[&Finding], used: &[bool]| -> Vec<String> {
            let mut v: Vec<String> = fs
                .iter()
                .zip(used)
                .filter(|(_, u)| !**u)
                .map(|(f, _)| f.position())
                .collect();
            v.sort();
            v
        };
        unchanged.sort();
        out.sort();
        (
            unchanged,
            out,
            left(&new, &new_used),
            left(&fixed, &fixed_used),
        )
    }

    proptest::proptest! {
        #[test]
        fn indexed_matching_decides_as_scanning_does(
            base in proptest::collection::vec(((0..3usize, 0..4usize, 0..3usize, 1..5u32, 0..2usize), (1..3u32, 0..3usize)), 0..16),
            head in proptest::collection::vec(((0..3usize, 0..4usize, 0..3usize, 1..5u32, 0..2usize), (1..3u32, 0..3usize)), 0..16),
            hot_function in 0..4usize,
        ) {
            let files = ["a/x.go", "a/y.go", "b/z.go"];
            let functions = ["F", "G", "init", ""];
            let exprs = ["&T{}", "make([]int, n)", "x"];
            let sources = ["", "x := &T{}", "y = append(y, x)"];
            type Shape = ((usize, usize, usize, u32, usize), (u32, usize));
            let build = |((file, function, expr, line, compiled), (column, source)): Shape| {
                let mut f = f(files[file], line, functions[function], exprs[expr]);
                if compiled == 1 {
                    f.compiled_in = Some("example.com/m/c".to_string());
                }
                f.column = column;
                f.source = sources[source].to_string();
                f
            };
            let base: Vec<Finding> = base.into_iter().map(build).collect();
            let head: Vec<Finding> = head.into_iter().map(build).collect();
            let mut lines = LineMap::new();
            lines.add_file("a/x.go", "a/y.go", "1\n2\n3\n4\n5\n6\n7\n8\n", "0\n1\n2\n3\n5\n4\n6\n7\n8\n");
            lines.add_file("b/z.go", "b/z.go", "1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\n5\n6\n7\n8\n");
            let hot = |f: &Finding| f.function == functions[hot_function];
            let cmp = compare(&base, &head, &lines, &hot);
            proptest::prop_assert_eq!(decided(&cmp), compare_by_scanning(&base, &head, &lines, &hot));
        }
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
