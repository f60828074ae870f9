//! Pairing the declarations: each head declaration holding new findings with the base
//! declaration holding fixed ones that it continues (the same function name, else the
//! one whose lines the line diff carries into it, else the one of the same shape), when
//! that is a rename, and the two aligned.

use crate::lines::LineMap;
use crate::matching::Comparison;

use super::align::{align, Alignment};
use super::{is_init, top_function, Files, Group, Groups};

/// The declaration pairs of the change, each with its alignment. Every file of a group
/// is in `base_files` and `head_files`, read or not (`None`).
pub(super) fn pair_decls(
    cmp: &Comparison,
    lines: &LineMap,
    base_groups: &Groups,
    head_groups: &Groups,
    base_files: &Files,
    head_files: &Files,
) -> Vec<(Group, Group, Alignment)> {
    let declares = |files: &Files, file: &str, name: &str| {
        files
            .get(file)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.decls.iter().any(|d| d.name.as_deref() == Some(name)))
    };
    // A declaration of the base pairs with one of another name only when that is a
    // rename: the old name is gone from the head, the new one was not in the base.
    let renamed_decl = |bg: &Group, hg: &Group| -> bool {
        let (Some(Some(bs)), Some(Some(hs))) = (base_files.get(&bg.1), head_files.get(&hg.1))
        else {
            return false;
        };
        match (&bs.decls[bg.2].name, &hs.decls[hg.2].name) {
            // A file's `func init()`s: told apart by their lines; a variable by its name.
            (Some(old), Some(new)) if old == "init" && new == "init" => true,
            (Some(old), Some(new)) if old == new && old.starts_with("var ") => true,
            (Some(old), Some(new)) => {
                old != new
                    && !declares(head_files, &hg.1, old)
                    && !declares(head_files, &bg.1, old)
                    && !declares(base_files, &bg.1, new)
                    && !declares(base_files, &hg.1, new)
            }
            // Package-level variables: on the evidence of the lines alone.
            (None, None) => true,
            _ => false,
        }
    };

    // Pair the declarations, then align each pair.
    let mut pairs: Vec<(Group, Group, Alignment)> = Vec::new();
    for (hg, news) in head_groups {
        let Some(Some(head_src)) = head_files.get(&hg.1) else {
            continue;
        };
        let head_top = top_function(&cmp.new[news[0]].function);
        let candidates: Vec<(&Group, &Vec<usize>)> =
            base_groups.iter().filter(|(bg, _)| bg.0 == hg.0).collect();
        let by_name = candidates.iter().find(|(_, fixed)| {
            !is_init(head_top) && top_function(&cmp.fixed[fixed[0]].function) == head_top
        });
        let by_lines = || {
            candidates
                .iter()
                .filter_map(|(bg, fixed)| {
                    let base_src = base_files.get(&bg.1)?.as_ref()?;
                    let carried = base_src.decls[bg.2]
                        .lines()
                        .filter(|&l| {
                            lines.map(&bg.1, l).is_some_and(|(file, hl)| {
                                file == hg.1 && head_src.decls[hg.2].lines().contains(&hl)
                            })
                        })
                        .count();
                    (carried > 0 && renamed_decl(bg, hg)).then_some((carried, *bg, *fixed))
                })
                .max_by_key(|(carried, _, _)| *carried)
                .map(|(_, bg, fixed)| (bg, fixed))
        };
        let by_shape = || {
            let shape = head_src.shape(hg.2);
            candidates.iter().copied().find(|(bg, _)| {
                base_files
                    .get(&bg.1)
                    .and_then(Option::as_ref)
                    .is_some_and(|s| s.decls[bg.2].name.is_some() && s.shape(bg.2) == shape)
                    && renamed_decl(bg, hg)
            })
        };
        let Some((bg, _)) = by_name.copied().or_else(by_lines).or_else(by_shape) else {
            continue;
        };
        let Some(Some(base_src)) = base_files.get(&bg.1) else {
            continue;
        };
        if let Some(alignment) = align(base_src, bg.2, head_src, hg.2) {
            pairs.push((bg.clone(), hg.clone(), alignment));
        }
    }
    pairs
}
