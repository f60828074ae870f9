//! Stage "Match", last pass: identity by place in the code, not by spelling. The
//! compiler prints the names it sees (`moved to heap: n`), so renaming a local, a
//! parameter, a type or a field changes the text of a finding that is still the same
//! allocation. Given the new and fixed findings [`crate::matching::compare`] left, and
//! the Go source of both sides, this pass pairs a new finding with a fixed one when:
//!
//! - they are of the same kind and compiling package (every copy is counted);
//! - their top-level declarations correspond: the same function name, else the
//!   declaration whose lines the line diff carries into the head one, else the one with
//!   the same syntax once identifiers are abstracted (a function renamed with its type);
//! - the base position, carried through a token alignment of the two declarations
//!   (identifiers abstracted to their syntactic role, so a renamed name still aligns),
//!   is the head position;
//! - their expressions are equal but for identifiers the alignments found renamed: a
//!   rename is a name whose aligned occurrences, within a declaration pair and one
//!   syntactic role, became mostly one new name that mostly came from it, the old name
//!   gone from the head declaration and the new one absent from the base one. The
//!   renames of the declaration come first, then those of any declaration pair of the
//!   change and of the type, constant and variable declarations of its changed files
//!   in the same directories (a callee's allocation reported at an unchanged call site
//!   prints the callee's names; a constant is printed by its value where it is used).
//!
//! So an allocation at a node without a counterpart, a changed kind at the same node,
//! and an extra copy stay new. An escape of a hot function ([`Finding::hot`]) pairs
//! only within the function of the same name, as everywhere else: renaming the hot
//! function itself (or its receiver's type) makes its escapes new. Pure: the caller
//! reads the files.
//!
//! This file is the pass over the findings; [`source`] reads each side's Go file
//! into tokens and declarations, [`pair`](mod@pair) pairs the declarations,
//! [`align`](mod@align) aligns a pair token by token, [`expr`] compares the compiler's
//! expressions modulo the renames.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::finding::{normalise_expr, Finding, Kind};
use crate::lines::LineMap;
use crate::matching::{Comparison, Moved, MovedBy};

use align::align;
use expr::same_modulo;
use source::Source;

mod align;
mod expr;
mod pair;
mod source;
#[cfg(test)]
mod tests;

/// A declaration of one side: its package, its file, its index in the file's
/// declarations.
type Group = (String, String, usize);

/// A declaration of one side and the findings in it (indices into `new` or `fixed`).
type Groups = BTreeMap<Group, Vec<usize>>;

/// One side's files, each read and parsed once; `None`: not on that side.
type Files = HashMap<String, Option<Source>>;

/// The kinds whose text names what the code names.
fn renamable(kind: Kind) -> bool {
    matches!(kind, Kind::Moved | Kind::Escapes | Kind::VariableMake)
}

/// Pairs the new and fixed findings of `cmp` that are one allocation renamed (see the
/// module documentation), moving them to `cmp.moved` with [`MovedBy::Rename`]. `read_base`
/// and `read_head` give a file's text on each side.
pub fn pair_renames(
    cmp: &mut Comparison,
    lines: &LineMap,
    changed: &[String],
    read_base: &dyn Fn(&str) -> Option<String>,
    read_head: &dyn Fn(&str) -> Option<String>,
) {
    let wanted_new: Vec<usize> = (0..cmp.new.len())
        .filter(|&i| placed(&cmp.new[i]))
        .collect();
    let wanted_fixed: Vec<usize> = (0..cmp.fixed.len())
        .filter(|&i| placed(&cmp.fixed[i]))
        .collect();
    if wanted_new.is_empty() || wanted_fixed.is_empty() {
        return;
    }
    let mut base_files: Files = HashMap::new();
    let mut head_files: Files = HashMap::new();

    // Each finding's top-level declaration: (file, index in the file's declarations).
    let mut new_decl: Vec<Option<usize>> = vec![None; cmp.new.len()];
    let mut fixed_decl: Vec<Option<usize>> = vec![None; cmp.fixed.len()];
    for &i in &wanted_new {
        let f = &cmp.new[i];
        let src = head_files
            .entry(f.file.clone())
            .or_insert_with(|| read_head(&f.file).map(Source::new));
        new_decl[i] = src.as_ref().and_then(|s| s.decl_at(f.line, f.column));
    }
    for &i in &wanted_fixed {
        let f = &cmp.fixed[i];
        let src = base_files
            .entry(f.file.clone())
            .or_insert_with(|| read_base(&f.file).map(Source::new));
        fixed_decl[i] = src.as_ref().and_then(|s| s.decl_at(f.line, f.column));
    }

    // Groups: a declaration of one side and the findings in it.
    let mut head_groups: Groups = BTreeMap::new();
    for &i in &wanted_new {
        if let Some(d) = new_decl[i] {
            let f = &cmp.new[i];
            head_groups
                .entry((f.package.clone(), f.file.clone(), d))
                .or_default()
                .push(i);
        }
    }
    let mut base_groups: Groups = BTreeMap::new();
    for &i in &wanted_fixed {
        if let Some(d) = fixed_decl[i] {
            let f = &cmp.fixed[i];
            base_groups
                .entry((f.package.clone(), f.file.clone(), d))
                .or_default()
                .push(i);
        }
    }

    // Whether a declaration of one side is still declared on the other: each file's
    // other side too.
    for (_, file, _) in head_groups.keys() {
        base_files
            .entry(file.clone())
            .or_insert_with(|| read_base(file).map(Source::new));
    }
    for (_, file, _) in base_groups.keys() {
        head_files
            .entry(file.clone())
            .or_insert_with(|| read_head(file).map(Source::new));
    }
    let pairs = pair::pair_decls(
        cmp,
        lines,
        &base_groups,
        &head_groups,
        &base_files,
        &head_files,
    );
    let mut everywhere: BTreeSet<(String, String)> = pairs
        .iter()
        .flat_map(|(_, _, a)| a.renames.iter().cloned())
        .collect();
    // A constant or a variable is printed by its value where it is used
    // (`Error("…") escapes to heap` at `return ErrShort`): the renames of the
    // package-level type, constant and variable declarations of the changed files of
    // these packages count too, declaration by declaration when a file keeps their
    // number and order.
    let dirs: BTreeSet<&str> = head_groups
        .keys()
        .chain(base_groups.keys())
        .map(|(_, file, _)| file.rsplit_once('/').map_or("", |(d, _)| d))
        .collect();
    for path in changed {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        if !path.ends_with(".go") || path.ends_with("_test.go") || !dirs.contains(dir) {
            continue;
        }
        let base_src = base_files
            .entry(path.clone())
            .or_insert_with(|| read_base(path).map(Source::new));
        let Some(base_src) = base_src.as_ref() else {
            continue;
        };
        let head_src = head_files
            .entry(path.clone())
            .or_insert_with(|| read_head(path).map(Source::new));
        let Some(head_src) = head_src.as_ref() else {
            continue;
        };
        if base_src.decls.len() != head_src.decls.len() {
            continue;
        }
        for d in 0..base_src.decls.len() {
            if base_src.decls[d].package_level && head_src.decls[d].package_level {
                if let Some(a) = align(base_src, d, head_src, d) {
                    everywhere.extend(a.renames);
                }
            }
        }
    }

    let mut new_used = vec![false; cmp.new.len()];
    let mut fixed_used = vec![false; cmp.fixed.len()];
    let mut moved = Vec::new();
    for (bg, hg, alignment) in &pairs {
        let (Some(Some(base_src)), Some(Some(head_src))) =
            (base_files.get(&bg.1), head_files.get(&hg.1))
        else {
            continue;
        };
        let (Some(news), Some(fixeds)) = (head_groups.get(hg), base_groups.get(bg)) else {
            continue;
        };
        for &j in news {
            if new_used[j] {
                continue;
            }
            let h = &cmp.new[j];
            let Some(head_tok) = head_src.token_at(hg.2, h.line, h.column) else {
                continue;
            };
            for &i in fixeds {
                if fixed_used[i] {
                    continue;
                }
                let b = &cmp.fixed[i];
                if b.kind != h.kind || b.compiling_package() != h.compiling_package() {
                    continue;
                }
                let carried = base_src
                    .token_at(bg.2, b.line, b.column)
                    .and_then(|t| alignment.map.get(&t).copied());
                if carried != Some(head_tok) {
                    continue;
                }
                let local = |a: &str, b: &str| alignment.renames.contains(&pair(a, b));
                let global = |a: &str, b: &str| everywhere.contains(&pair(a, b));
                let (be, he) = (normalise_expr(&b.expr), normalise_expr(&h.expr));
                let Some(renames) =
                    same_modulo(&be, &he, &local).or_else(|| same_modulo(&be, &he, &global))
                else {
                    continue;
                };
                // Hot paths stay strict: as in `matching::compare`, an escape pairs
                // with one of another function only when the function kept its name.
                if h.hot && b.function != h.function {
                    continue;
                }
                new_used[j] = true;
                fixed_used[i] = true;
                moved.push(Moved {
                    from: b.clone(),
                    to: h.clone(),
                    by: MovedBy::Rename,
                    renames,
                });
                break;
            }
        }
    }
    if moved.is_empty() {
        return;
    }
    let keep = |v: Vec<Finding>, used: &[bool]| -> Vec<Finding> {
        v.into_iter()
            .zip(used)
            .filter(|(_, u)| !**u)
            .map(|(f, _)| f)
            .collect()
    };
    cmp.new = keep(std::mem::take(&mut cmp.new), &new_used);
    cmp.fixed = keep(std::mem::take(&mut cmp.fixed), &fixed_used);
    cmp.moved.extend(moved);
    cmp.moved.sort_by(|a, b| {
        (&a.to.file, a.to.line, a.to.column).cmp(&(&b.to.file, b.to.line, b.to.column))
    });
}

pub(super) fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Whether the finding has a position in a Go file of the tree to align.
fn placed(f: &Finding) -> bool {
    renamable(f.kind) && !f.unplaced && f.column > 0 && f.line > 0 && !f.function.is_empty()
}

pub(super) fn is_init(function: &str) -> bool {
    function == "init" || function.starts_with("init.")
}

/// The declared function a function name belongs to: `F` for `F.func1.2`, `(*T).M` for
/// `(*T).M.func1`.
pub(super) fn top_function(function: &str) -> &str {
    let bytes = function.as_bytes();
    let mut from = 0;
    while let Some(i) = function[from..].find(".func") {
        let at = from + i;
        if bytes
            .get(at + ".func".len())
            .is_some_and(u8::is_ascii_digit)
        {
            return &function[..at];
        }
        from = at + 1;
    }
    function
}
