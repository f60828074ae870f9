//! Which lines of a base file are unchanged in its head version: a line diff whose cost
//! stays near-linear on any input, hostile files included.
//!
//! A patience diff, as `similar`'s: the lines that occur exactly once in each file are
//! the anchors, the longest sequence of them in the same order on both sides is kept,
//! and the gaps between anchors are diffed line by line. `similar` finds that sequence
//! with Myers' algorithm, whose cost grows with the square of the number of unique lines
//! that differ (a file of 20,000 new one-line functions took seconds per diff), and
//! diffs every gap with Myers too, quadratic in a gap of repeated lines. Here the
//! sequence is a longest increasing subsequence (n log n; the unique lines pair one to
//! one, so it is the same length), each gap is trimmed of its common first and last
//! lines, and what remains of a gap is diffed with Myers only while it is small
//! ([`MAX_GAP`] lines a side); a larger remainder counts as changed. The work is then
//! at most n log n plus `MAX_GAP` per line.

use std::collections::HashMap;

/// The most lines a side of a gap between anchors may have, after trimming its common
/// first and last lines, to be diffed line by line. Myers costs at most the square of
/// a gap's size, so this bounds the work per line at about `2 * MAX_GAP` steps.
const MAX_GAP: usize = 1000;

/// The equal runs of a line diff of two texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alignment {
    /// Lines of the base text.
    pub base_lines: usize,
    /// Lines of the head text.
    pub head_lines: usize,
    /// `(base_index, head_index, len)`, 0-based, in order on both sides.
    pub runs: Vec<(usize, usize, usize)>,
}

impl Alignment {
    /// Aligns the lines of two texts (each line with its line ending, as `similar`
    /// compares them).
    pub fn new(base_text: &str, head_text: &str) -> Alignment {
        let base: Vec<&str> = base_text.split_inclusive('\n').collect();
        let head: Vec<&str> = head_text.split_inclusive('\n').collect();
        // Lines as numbers: equal lines get equal ids, so every comparison is cheap.
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let a = intern(&mut ids, &base);
        let b = intern(&mut ids, &head);
        let mut runs = Vec::new();
        align(&a, &b, &mut runs);
        Alignment {
            base_lines: a.len(),
            head_lines: b.len(),
            runs: merge_runs(runs),
        }
    }
}

/// The ids of `lines`, equal for equal lines.
fn intern<'t>(ids: &mut HashMap<&'t str, u32>, lines: &[&'t str]) -> Vec<u32> {
    lines
        .iter()
        .map(|l| {
            let next = ids.len() as u32;
            *ids.entry(l).or_insert(next)
        })
        .collect()
}

/// Appends the equal runs of `a` against `b` to `runs`.
fn align(a: &[u32], b: &[u32], runs: &mut Vec<(usize, usize, usize)>) {
    // Lines that occur once on each side, as (base index, head index), by base index.
    let mut count: HashMap<u32, (u32, u32, usize, usize)> = HashMap::new();
    for (i, &line) in a.iter().enumerate() {
        let entry = count.entry(line).or_insert((0, 0, i, 0));
        entry.0 += 1;
    }
    for (j, &line) in b.iter().enumerate() {
        if let Some(entry) = count.get_mut(&line) {
            entry.1 += 1;
            entry.3 = j;
        }
    }
    let mut pairs: Vec<(usize, usize)> = count
        .values()
        .filter(|&&(in_a, in_b, _, _)| in_a == 1 && in_b == 1)
        .map(|&(_, _, i, j)| (i, j))
        .collect();
    pairs.sort_unstable();
    let anchors = longest_increasing(&pairs);
    let (mut i, mut j) = (0, 0);
    for (ai, bj) in anchors {
        gap(a, b, i..ai, j..bj, runs);
        runs.push((ai, bj, 1));
        (i, j) = (ai + 1, bj + 1);
    }
    gap(a, b, i..a.len(), j..b.len(), runs);
}

/// The equal runs of the lines between two anchors: their common first and last lines,
/// and, when what is left is small, a Myers diff of it.
fn gap(
    a: &[u32],
    b: &[u32],
    ra: std::ops::Range<usize>,
    rb: std::ops::Range<usize>,
    runs: &mut Vec<(usize, usize, usize)>,
) {
    let (sa, sb) = (&a[ra.clone()], &b[rb.clone()]);
    let prefix = sa.iter().zip(sb).take_while(|(x, y)| x == y).count();
    let suffix = sa[prefix..]
        .iter()
        .rev()
        .zip(sb[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    if prefix > 0 {
        runs.push((ra.start, rb.start, prefix));
    }
    let (ma, mb) = (
        &sa[prefix..sa.len() - suffix],
        &sb[prefix..sb.len() - suffix],
    );
    if !ma.is_empty() && !mb.is_empty() && ma.len() <= MAX_GAP && mb.len() <= MAX_GAP {
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, ma, mb) {
            if let similar::DiffOp::Equal {
                old_index,
                new_index,
                len,
            } = op
            {
                runs.push((
                    ra.start + prefix + old_index,
                    rb.start + prefix + new_index,
                    len,
                ));
            }
        }
    }
    if suffix > 0 {
        runs.push((ra.end - suffix, rb.end - suffix, suffix));
    }
}

/// A longest subsequence of `pairs` (sorted by the first field, which is distinct)
/// whose second fields increase: patience sorting, n log n.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index in `pairs` of the smallest end of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; pairs.len()];
    for (n, &(_, j)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].1 < j);
        if k > 0 {
            previous[n] = Some(tails[k - 1]);
        }
        if k == tails.len() {
            tails.push(n);
        } else {
            tails[k] = n;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(n) = at {
        out.push(pairs[n]);
        at = previous[n];
    }
    out.reverse();
    out
}

/// Joins adjacent runs.
fn merge_runs(runs: Vec<(usize, usize, usize)>) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::with_capacity(runs.len());
    for run in runs.into_iter().filter(|r| r.2 > 0) {
        match out.last_mut() {
            Some(last) if last.0 + last.2 == run.0 && last.1 + last.2 == run.1 => last.2 += run.2,
            _ => out.push(run),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base lines each head line is carried from, as `similar`'s patience diff says.
    fn similar_runs(base: &str, head: &str) -> Vec<(usize, usize, usize)> {
        let diff = similar::TextDiff::configure()
            .algorithm(similar::Algorithm::Patience)
            .diff_lines(base, head);
        let runs = diff
            .ops()
            .iter()
            .filter_map(|op| match *op {
                similar::DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => Some((old_index, new_index, len)),
                _ => None,
            })
            .collect();
        merge_runs(runs)
    }

    #[test]
    fn agrees_with_similar_on_ordinary_edits() {
        let base =
            "package a\n\nfunc A() {\n\tx := 1\n}\n\nfunc B() {\n}\n\nfunc C() {\n\ty := 2\n}\n";
        let cases = [
            base.to_string(),
            base.replace("x := 1", "x := 3"),
            base.replace("func B() {\n}\n\n", ""),
            format!("// header\n{base}"),
            format!("{base}\nfunc D() {{\n}}\n"),
            base.replace("func A", "func A2")
                .replace("y := 2", "y := 2\n\ty++"),
            String::new(),
            "no newline at the end".to_string(),
        ];
        for head in &cases {
            let got = Alignment::new(base, head);
            assert_eq!(got.runs, similar_runs(base, head), "{head:?}");
            assert_eq!(got.base_lines, base.lines().count());
            assert_eq!(got.head_lines, head.lines().count());
        }
    }

    #[test]
    fn runs_pair_equal_lines_in_order() {
        let base: String = (0..300).map(|i| format!("l{}\n", i % 7)).collect();
        let head: String = (0..300)
            .map(|i| format!("l{}\n", (i * 3) % 11))
            .chain(["}\n".to_string()])
            .collect();
        let a: Vec<&str> = base.split_inclusive('\n').collect();
        let b: Vec<&str> = head.split_inclusive('\n').collect();
        let got = Alignment::new(&base, &head);
        let (mut last_a, mut last_b) = (0, 0);
        for &(i, j, len) in &got.runs {
            assert!(i >= last_a && j >= last_b, "{:?}", got.runs);
            for k in 0..len {
                assert_eq!(a[i + k], b[j + k]);
            }
            (last_a, last_b) = (i + len, j + len);
        }
    }

    #[test]
    fn a_large_change_is_aligned_by_its_unique_lines() {
        // The shape of a large pull request: one in a hundred functions in the base.
        let line = |i: usize| format!("func f{i}(v int) {{ x := v; sink = &x }}\n");
        let base: String = (0..20_000).step_by(100).map(line).collect();
        let head: String = (0..20_000).map(line).collect();
        let got = Alignment::new(&base, &head);
        let carried: usize = got.runs.iter().map(|r| r.2).sum();
        assert_eq!(carried, 200);
        assert!(got.runs.iter().all(|&(i, j, _)| j == i * 100));
    }

    #[test]
    fn repeated_lines_are_trimmed_from_both_ends() {
        let base = "x\n".repeat(5000);
        let head = format!("{}y\n{}", "x\n".repeat(2000), "x\n".repeat(3000));
        let got = Alignment::new(&base, &head);
        assert_eq!(got.runs, vec![(0, 0, 2000), (2000, 2001, 3000)]);
    }
}
