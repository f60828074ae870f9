//! Token alignment of two declarations: which base token each head token continues,
//! and which identifiers were renamed one to one within their syntactic role.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::source::{Role, Source};

/// The largest declaration, in tokens, that is aligned. Token alignment costs the
/// product of the two sizes when they differ much; a larger declaration's findings are
/// left as they are (new and fixed), never guessed.
const MAX_TOKENS: usize = 50_000;

/// How two declarations correspond.
#[derive(Debug, Default)]
pub(super) struct Alignment {
    /// Base token → head token, for the tokens the alignment pairs.
    pub(super) map: HashMap<usize, usize>,
    /// `(old, new)` identifiers renamed one to one and wholly, within a role.
    pub(super) renames: BTreeSet<(String, String)>,
}

/// Aligns two declarations in two passes. The first compares identifiers by role
/// only, and finds the renames: an old name whose aligned occurrences became mostly one
/// new name, which mostly came from it, the old name gone from the head declaration and
/// the new one absent from the base one, unless the renames themselves explain it (a
/// swap, a chain). The second compares the base, renamed, with
/// the head token for token, so that a position is carried by the names as well as the
/// shape (`sink = &x` does not align with an inserted `sink = &extra`).
pub(super) fn align(base: &Source, bd: usize, head: &Source, hd: usize) -> Option<Alignment> {
    let (a, b) = (base.abstracted(bd), head.abstracted(hd));
    if a.len() > MAX_TOKENS || b.len() > MAX_TOKENS {
        return None;
    }
    let (a0, b0) = (base.decls[bd].first, head.decls[hd].first);
    // Per role: how often each old name became each new name.
    type Counts<'s> = HashMap<(Role, &'s str), BTreeMap<&'s str, usize>>;
    let mut became: Counts = HashMap::new();
    let mut came_from: Counts = HashMap::new();
    for (bt, ht) in equal_pairs(&a, &b) {
        if let Some(role) = base.tokens[a0 + bt].role {
            let (old, new) = (base.text_of(a0 + bt), head.text_of(b0 + ht));
            *became
                .entry((role, old))
                .or_default()
                .entry(new)
                .or_default() += 1;
            *came_from
                .entry((role, new))
                .or_default()
                .entry(old)
                .or_default() += 1;
        }
    }
    let (base_names, head_names) = (names_of(base, bd), names_of(head, hd));
    let majority = |counts: &BTreeMap<&str, usize>, name: &str| {
        2 * counts.get(name).copied().unwrap_or(0) > counts.values().sum::<usize>()
    };
    let mut renamed: HashMap<(Role, &str), &str> = HashMap::new();
    for (&(role, old), news) in &became {
        let Some((&new, _)) = news.iter().max_by_key(|(_, &n)| n) else {
            continue;
        };
        if old == new
            || !majority(news, new)
            || !came_from
                .get(&(role, new))
                .is_some_and(|c| majority(c, old))
        {
            continue;
        }
        renamed.insert((role, old), new);
    }
    // A rename must be whole: the old name gone from the head declaration and the new
    // one absent from the base one, unless another rename of the set explains it (the
    // old name is another's new name, the new name another's old one: a swap `a, b` →
    // `b, a`, a chain `a` → `b` → `c`). Dropping one can unexplain another: repeat until
    // none is dropped.
    loop {
        let olds: BTreeSet<(Role, &str)> = renamed.keys().copied().collect();
        let news: BTreeSet<(Role, &str)> = renamed.iter().map(|(&(r, _), &n)| (r, n)).collect();
        let before = renamed.len();
        renamed.retain(|&(role, old), new| {
            (!head_names.contains(&(role, old)) || news.contains(&(role, old)))
                && (!base_names.contains(&(role, *new)) || olds.contains(&(role, *new)))
        });
        if renamed.len() == before {
            break;
        }
    }
    let (ca, cb) = (
        concrete(base, bd, &renamed),
        concrete(head, hd, &HashMap::new()),
    );
    let mut out = Alignment::default();
    for (bt, ht) in equal_pairs(&ca, &cb) {
        out.map.insert(a0 + bt, b0 + ht);
    }
    out.renames = renamed
        .into_iter()
        .map(|((_, old), new)| (old.to_string(), new.to_string()))
        .collect();
    Some(out)
}

/// The names of a declaration, with their roles.
fn names_of(src: &Source, d: usize) -> BTreeSet<(Role, &str)> {
    let decl = &src.decls[d];
    (decl.first..decl.last)
        .filter_map(|t| Some((src.tokens[t].role?, src.text_of(t))))
        .collect()
}

/// A declaration's tokens as written, its names through `renamed`.
fn concrete<'s>(
    src: &'s Source,
    d: usize,
    renamed: &HashMap<(Role, &'s str), &'s str>,
) -> Vec<(Option<Role>, &'s str)> {
    let decl = &src.decls[d];
    (decl.first..decl.last)
        .map(|t| {
            let text = src.text_of(t);
            match src.tokens[t].role {
                Some(role) => (
                    Some(role),
                    renamed.get(&(role, text)).copied().unwrap_or(text),
                ),
                None => (None, text),
            }
        })
        .collect()
}

/// The index pairs a diff of `a` and `b` finds equal.
fn equal_pairs<T: Eq + std::hash::Hash + Ord>(a: &[T], b: &[T]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, a, b) {
        if let similar::DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            out.extend((0..len).map(|k| (old_index + k, new_index + k)));
        }
    }
    out
}
