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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tree_sitter::Node;

use crate::finding::{normalise_expr, Finding, Kind};
use crate::go_syntax::{self, Step, Walk};
use crate::matching::{Comparison, LineMap, Moved, MovedBy, Rename};

/// The largest declaration, in tokens, that is aligned. Token alignment costs the
/// product of the two sizes when they differ much; a larger declaration's findings are
/// left as they are (new and fixed), never guessed.
const MAX_TOKENS: usize = 50_000;

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
    let mut base_files: HashMap<String, Option<Source>> = HashMap::new();
    let mut head_files: HashMap<String, Option<Source>> = HashMap::new();

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
    type Group = (String, String, usize); // package, file, declaration
    let mut head_groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for &i in &wanted_new {
        if let Some(d) = new_decl[i] {
            let f = &cmp.new[i];
            head_groups
                .entry((f.package.clone(), f.file.clone(), d))
                .or_default()
                .push(i);
        }
    }
    let mut base_groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
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
    let declares = |files: &HashMap<String, Option<Source>>, file: &str, name: &str| {
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
                    && !declares(&head_files, &hg.1, old)
                    && !declares(&head_files, &bg.1, old)
                    && !declares(&base_files, &bg.1, new)
                    && !declares(&base_files, &hg.1, new)
            }
            // Package-level variables: on the evidence of the lines alone.
            (None, None) => true,
            _ => false,
        }
    };

    // Pair the declarations, then align each pair.
    let mut pairs: Vec<(Group, Group, Alignment)> = Vec::new();
    for (hg, news) in &head_groups {
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

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Whether the finding has a position in a Go file of the tree to align.
fn placed(f: &Finding) -> bool {
    renamable(f.kind) && !f.unplaced && f.column > 0 && f.line > 0 && !f.function.is_empty()
}

fn is_init(function: &str) -> bool {
    function == "init" || function.starts_with("init.")
}

/// The declared function a function name belongs to: `F` for `F.func1.2`, `(*T).M` for
/// `(*T).M.func1`.
fn top_function(function: &str) -> &str {
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

/// `a` and `b` as Go tokens are the same but for identifiers `renamed(old, new)`
/// accepts: the identifiers that differ, or `None` when they are not the same.
fn same_modulo(a: &str, b: &str, renamed: &dyn Fn(&str, &str) -> bool) -> Option<Vec<Rename>> {
    let (ta, tb) = (lex(a), lex(b));
    if ta.len() != tb.len() {
        return None;
    }
    let mut renames = BTreeSet::new();
    for ((ia, sa), (ib, sb)) in ta.into_iter().zip(tb) {
        if sa == sb {
            continue;
        }
        if !(ia && ib && renamed(sa, sb)) {
            return None;
        }
        renames.insert(Rename {
            old: sa.to_string(),
            new: sb.to_string(),
        });
    }
    Some(renames.into_iter().collect())
}

/// Go-like tokens of a compiler message: `(is an identifier, text)`; spaces dropped,
/// string and rune literals whole.
fn lex(s: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        if c.is_alphabetic() || c == '_' || c.is_ascii_digit() {
            while let Some(&(i, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push((!c.is_ascii_digit(), &s[start..end]));
        } else if matches!(c, '"' | '\'' | '`') {
            let mut escaped = false;
            for (i, d) in chars.by_ref() {
                end = i + d.len_utf8();
                if escaped {
                    escaped = false;
                } else if d == '\\' && c != '`' {
                    escaped = true;
                } else if d == c {
                    break;
                }
            }
            out.push((false, &s[start..end]));
        } else {
            out.push((false, &s[start..end]));
        }
    }
    out
}

/// What an identifier is in the syntax: the alignment abstracts each to its role, and
/// a rename is one to one within a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Role {
    Value,
    Field,
    Type,
    Package,
    Label,
    /// The key of a keyed element, `T{name: name}`: a field's name, or a map key's
    /// expression; not the variable of the same name beside it.
    Key,
    /// A name of another package, `io.ReadSeeker`: not the package's own `ReadSeeker`.
    Qualified,
}

fn is_qualified(node: Node) -> bool {
    node.parent().is_some_and(|p| {
        p.kind() == "qualified_type"
            && p.child_by_field_name("name")
                .is_some_and(|n| n.id() == node.id())
    })
}

fn is_key(node: Node) -> bool {
    let Some(element) = node.parent().filter(|p| p.kind() == "literal_element") else {
        return false;
    };
    element
        .parent()
        .filter(|k| k.kind() == "keyed_element")
        .and_then(|k| k.child_by_field_name("key"))
        .is_some_and(|key| key.id() == element.id())
}

fn role(node: Node) -> Option<Role> {
    Some(match node.kind() {
        "type_identifier" if is_qualified(node) => Role::Qualified,
        "identifier" if is_key(node) => Role::Key,
        "identifier" => Role::Value,
        "field_identifier" => Role::Field,
        "type_identifier" => Role::Type,
        "package_identifier" => Role::Package,
        "label_name" => Role::Label,
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Token {
    start: usize,
    end: usize,
    role: Option<Role>,
}

#[derive(Debug, Clone)]
struct Decl {
    /// `F` for a function, `T.M` for a method (whatever the receiver's pointer or type
    /// parameters), `var a,b` for variables; `None` for other declarations.
    name: Option<String>,
    /// A type, constant or variable declaration.
    package_level: bool,
    /// Its tokens: `tokens[first..last]` of the file.
    first: usize,
    last: usize,
    first_line: u32,
    last_line: u32,
}

impl Decl {
    fn lines(&self) -> std::ops::RangeInclusive<u32> {
        self.first_line..=self.last_line
    }
}

/// One side's Go file: its tokens (comments left out) and top-level declarations.
#[derive(Debug)]
struct Source {
    text: String,
    line_starts: Vec<usize>,
    tokens: Vec<Token>,
    decls: Vec<Decl>,
}

impl Source {
    fn new(text: String) -> Source {
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        let mut src = Source {
            text,
            line_starts,
            tokens: Vec::new(),
            decls: Vec::new(),
        };
        let Ok(tree) = go_syntax::parse(src.text.as_bytes()) else {
            return src;
        };
        let root = tree.root_node();
        let mut top = root.walk();
        for decl in root.named_children(&mut top) {
            if decl.kind() == "comment" {
                continue;
            }
            let first = src.tokens.len();
            for step in Walk::new(decl) {
                // Comments are leaves: they hold no tokens.
                let Step::Enter(node) = step else {
                    continue;
                };
                if node.kind() != "comment"
                    && node.child_count() == 0
                    && node.end_byte() > node.start_byte()
                {
                    src.tokens.push(Token {
                        start: node.start_byte(),
                        end: node.end_byte(),
                        role: role(node),
                    });
                }
            }
            if src.tokens.len() == first {
                continue;
            }
            let line = |p: tree_sitter::Point| u32::try_from(p.row + 1).unwrap_or(u32::MAX);
            src.decls.push(Decl {
                name: decl_name(decl, src.text.as_bytes()),
                package_level: matches!(
                    decl.kind(),
                    "type_declaration" | "const_declaration" | "var_declaration"
                ),
                first,
                last: src.tokens.len(),
                first_line: line(decl.start_position()),
                last_line: line(decl.end_position()),
            });
        }
        src
    }

    fn offset(&self, line: u32, column: u32) -> Option<usize> {
        let start = *self
            .line_starts
            .get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        Some(start + usize::try_from(column).ok()?.checked_sub(1)?)
    }

    /// The top-level declaration holding a position.
    fn decl_at(&self, line: u32, column: u32) -> Option<usize> {
        let offset = self.offset(line, column)?;
        let d = self
            .decls
            .partition_point(|d| self.tokens[d.first].start <= offset)
            .checked_sub(1)?;
        (offset < self.tokens[self.decls[d].last - 1].end).then_some(d)
    }

    /// The token of declaration `d` at a position: the one holding it, else the next.
    fn token_at(&self, d: usize, line: u32, column: u32) -> Option<usize> {
        let offset = self.offset(line, column)?;
        let decl = &self.decls[d];
        let tokens = &self.tokens[decl.first..decl.last];
        let i = tokens.partition_point(|t| t.end <= offset);
        (i < tokens.len()).then_some(decl.first + i)
    }

    fn text_of(&self, t: usize) -> &str {
        let token = &self.tokens[t];
        self.text.get(token.start..token.end).unwrap_or("")
    }

    /// What the alignment compares: identifiers as their role, the rest as written.
    fn abstracted(&self, d: usize) -> Vec<Abstract<'_>> {
        let decl = &self.decls[d];
        (decl.first..decl.last)
            .map(|t| match self.tokens[t].role {
                Some(role) => Abstract::Name(role),
                None => Abstract::Text(self.text_of(t)),
            })
            .collect()
    }

    fn shape(&self, d: usize) -> Vec<Abstract<'_>> {
        self.abstracted(d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Abstract<'a> {
    Name(Role),
    Text(&'a str),
}

/// How two declarations correspond.
#[derive(Debug, Default)]
struct Alignment {
    /// Base token → head token, for the tokens the alignment pairs.
    map: HashMap<usize, usize>,
    /// `(old, new)` identifiers renamed one to one and wholly, within a role.
    renames: BTreeSet<(String, String)>,
}

/// Aligns two declarations in two passes. The first compares identifiers by role
/// only, and finds the renames: an old name whose aligned occurrences became mostly one
/// new name, which mostly came from it, the old name gone from the head declaration and
/// the new one absent from the base one. The second compares the base, renamed, with
/// the head token for token, so that a position is carried by the names as well as the
/// shape (`sink = &x` does not align with an inserted `sink = &extra`).
fn align(base: &Source, bd: usize, head: &Source, hd: usize) -> Option<Alignment> {
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
            || head_names.contains(&(role, old))
            || base_names.contains(&(role, new))
        {
            continue;
        }
        renamed.insert((role, old), new);
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
        .map(|((_, old), new)| pair(old, new))
        .collect();
    Some(out)
}

/// The name of a function or method declaration (see [`Decl::name`]).
fn decl_name(decl: Node, source: &[u8]) -> Option<String> {
    match decl.kind() {
        "var_declaration" => {
            // `var a, b = …`: by the names it declares.
            let mut names = go_syntax::spec_names(decl, source);
            names.sort();
            Some(format!("var {}", names.join(",")))
        }
        "function_declaration" => go_syntax::field_text(decl, "name", source),
        "method_declaration" => {
            let name = go_syntax::field_text(decl, "name", source)?;
            let receiver = go_syntax::receiver(decl, source)?;
            Some(format!("{}.{name}", receiver.name))
        }
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(
        file: &str,
        src: &str,
        needle: &str,
        function: &str,
        kind: Kind,
        expr: &str,
    ) -> Finding {
        let offset = src
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the source"));
        let before = &src[..offset];
        let line = before.matches('\n').count() + 1;
        let column = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        let mut f = Finding::example(file, line as u32, function, kind, expr);
        f.column = column as u32;
        f
    }

    fn run(base_src: &str, head_src: &str, base: Vec<Finding>, head: Vec<Finding>) -> Comparison {
        let mut lines = LineMap::new();
        lines.add_file("a.go", "a.go", base_src, head_src);
        let mut cmp = crate::matching::compare(&base, &head, &lines, &|f| f.hot);
        let (b, h) = (base_src.to_string(), head_src.to_string());
        pair_renames(&mut cmp, &lines, &[], &|_| Some(b.clone()), &|_| {
            Some(h.clone())
        });
        cmp
    }

    const BASE: &str = "package p\n\nfunc P(x int) *int {\n\tn := x * 2\n\treturn &n\n}\n";
    const HEAD: &str = "package p\n\nfunc P(x int) *int {\n\tval := x * 2\n\treturn &val\n}\n";

    #[test]
    fn a_renamed_local_is_moved_by_rename() {
        let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
        let head = vec![finding("a.go", HEAD, "val :=", "P", Kind::Moved, "val")];
        let cmp = run(BASE, HEAD, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved.len(), 1);
        assert_eq!(cmp.moved[0].by, MovedBy::Rename);
        assert_eq!(
            cmp.moved[0].renames,
            vec![Rename {
                old: "n".into(),
                new: "val".into()
            }]
        );
    }

    #[test]
    fn another_kind_at_the_same_node_stays_new() {
        let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
        let head = vec![finding("a.go", HEAD, "val :=", "P", Kind::Escapes, "val")];
        let cmp = run(BASE, HEAD, base, head);
        assert_eq!(cmp.new.len(), 1, "{cmp:?}");
        assert_eq!(cmp.fixed.len(), 1);
    }

    #[test]
    fn an_unaligned_node_and_an_extra_copy_stay_new() {
        let head_src = "package p\n\nfunc P(x int) *int {\n\tval := x * 2\n\tk := 1\n\tsink = &k\n\treturn &val\n}\n";
        let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
        let mut copy = finding("a.go", head_src, "val :=", "P", Kind::Moved, "val");
        copy.compiled_in = Some("example.com/m/b".into());
        let head = vec![
            finding("a.go", head_src, "val :=", "P", Kind::Moved, "val"),
            copy,
            finding("a.go", head_src, "k :=", "P", Kind::Moved, "k"),
        ];
        let cmp = run(BASE, head_src, base, head);
        let mut new: Vec<(&str, Option<&str>)> = cmp
            .new
            .iter()
            .map(|f| (f.expr.as_str(), f.compiled_in.as_deref()))
            .collect();
        new.sort();
        assert_eq!(
            new,
            vec![("k", None), ("val", Some("example.com/m/b"))],
            "{cmp:?}"
        );
        assert_eq!(cmp.moved.len(), 1);
    }

    #[test]
    fn a_name_still_used_is_not_a_rename() {
        // `n` is still a name of the head function: the expression at that node changed.
        let head_src = "package p\n\nfunc P(x int) *int {\n\tval := x * 2\n\tn := 3\n\t_ = n\n\treturn &val\n}\n";
        let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
        let head = vec![finding("a.go", head_src, "val :=", "P", Kind::Moved, "val")];
        let cmp = run(BASE, head_src, base, head);
        assert_eq!(cmp.new.len(), 1, "{cmp:?}");
    }

    #[test]
    fn a_hot_function_pairs_only_with_itself() {
        let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
        let mut h = finding("a.go", HEAD, "val :=", "P", Kind::Moved, "val");
        h.hot = true;
        let cmp = run(BASE, HEAD, base.clone(), vec![h.clone()]);
        assert!(cmp.new.is_empty(), "{cmp:?}");
        // The same code under another function name: as with any move into a hot
        // function, and as `matching` does for a renamed hot function, new.
        let head_src = HEAD.replace("func P(", "func Q(");
        let mut h = finding("a.go", &head_src, "val :=", "Q", Kind::Moved, "val");
        h.hot = true;
        let cmp = run(BASE, &head_src, base, vec![h]);
        assert_eq!(cmp.new.len(), 1, "{cmp:?}");
    }

    #[test]
    fn a_function_that_still_exists_is_not_renamed_into_another() {
        // Old keeps its name (and loses its escape); Keep is new, with the same shape.
        let base_src = "package p\n\nfunc Old(a int) {\n\ty := a\n\tsink = &y\n}\n";
        let head_src = "package p\n\nfunc Old(a int) int {\n\ty := a\n\treturn y\n}\n\nfunc Keep(a int) {\n\tx := a\n\tsink = &x\n}\n";
        let base = vec![finding("a.go", base_src, "y :=", "Old", Kind::Moved, "y")];
        let head = vec![finding("a.go", head_src, "x :=", "Keep", Kind::Moved, "x")];
        let cmp = run(base_src, head_src, base, head);
        assert_eq!((cmp.new.len(), cmp.fixed.len()), (1, 1), "{cmp:?}");
        // Renamed, it is the same function.
        let renamed = head_src.replace("func Old(a int) int {\n\ty := a\n\treturn y\n}\n\n", "");
        let base = vec![finding("a.go", base_src, "y :=", "Old", Kind::Moved, "y")];
        let head = vec![finding("a.go", &renamed, "x :=", "Keep", Kind::Moved, "x")];
        let cmp = run(base_src, &renamed, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved[0].by, MovedBy::Rename);
    }

    #[test]
    fn a_local_renamed_in_an_init_function_is_moved() {
        let base_src = "package p\n\nfunc init() {\n\tn := 1\n\tsink = &n\n}\n";
        let head_src = "package p\n\nfunc init() {\n\tval := 1\n\tsink = &val\n}\n";
        let base = vec![finding("a.go", base_src, "n :=", "init", Kind::Moved, "n")];
        let head = vec![finding(
            "a.go",
            head_src,
            "val :=",
            "init",
            Kind::Moved,
            "val",
        )];
        let cmp = run(base_src, head_src, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
    }

    #[test]
    fn a_parameter_named_like_the_field_it_fills_is_renamed() {
        let base_src =
            "package p\n\nfunc New(level int) *W {\n\tsink = level\n\treturn &W{level: level}\n}\n";
        let head_src =
            "package p\n\nfunc New(lvl int) *W {\n\tsink = lvl\n\treturn &W{level: lvl}\n}\n";
        let base = vec![finding(
            "a.go",
            base_src,
            "level\n",
            "New",
            Kind::Escapes,
            "level",
        )];
        let head = vec![finding(
            "a.go",
            head_src,
            "lvl\n",
            "New",
            Kind::Escapes,
            "lvl",
        )];
        let cmp = run(base_src, head_src, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
    }

    #[test]
    fn a_type_named_like_another_packages_is_renamed() {
        let base_src = "package p\n\nfunc (r *R) S() any {\n\t_, ok := r.r.(io.ReadSeeker)\n\t_ = ok\n\treturn &ReadSeeker{}\n}\n";
        let head_src = base_src.replace("&ReadSeeker{", "&Seeker{");
        let base = vec![finding(
            "a.go",
            base_src,
            "&Read",
            "(*R).S",
            Kind::Escapes,
            "&ReadSeeker{}",
        )];
        let head = vec![finding(
            "a.go",
            &head_src,
            "&Seeker",
            "(*R).S",
            Kind::Escapes,
            "&Seeker{}",
        )];
        let cmp = run(base_src, &head_src, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
    }

    #[test]
    fn a_type_renamed_in_a_package_variable_is_moved() {
        let base_src = "package p\n\nvar pool = sync.Pool{New: func() any { return &Writer{} }}\n";
        let head_src = base_src.replace("&Writer{", "&W{");
        let base = vec![finding(
            "a.go",
            base_src,
            "&Writer",
            "init.func1",
            Kind::Escapes,
            "&Writer{}",
        )];
        let head = vec![finding(
            "a.go",
            &head_src,
            "&W{",
            "init.func1",
            Kind::Escapes,
            "&W{}",
        )];
        let cmp = run(base_src, &head_src, base, head);
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
    }

    #[test]
    fn a_constant_of_a_renamed_type_printed_where_it_is_used_is_moved() {
        let files = |error: &str| -> Vec<(&'static str, String)> {
            vec![
                (
                    "p/errors.go",
                    format!(
                        "package p\n\ntype {error} string\n\nconst ErrShort {error} = \"short\"\n"
                    ),
                ),
                (
                    "p/block.go",
                    "package p\n\nfunc F() error {\n\treturn ErrShort\n}\n".to_string(),
                ),
            ]
        };
        let (base_files, head_files) = (files("Error"), files("Failure"));
        let block = &base_files[1].1;
        let at = |expr: &str| {
            let mut f = finding("p/block.go", block, "ErrShort", "F", Kind::Escapes, expr);
            f.package = "example.com/m/p".into();
            f
        };
        let mut lines = LineMap::new();
        lines.add_file("p/block.go", "p/block.go", block, block);
        let base = vec![at("Error(\"short\")")];
        let head = vec![at("Failure(\"short\")")];
        let mut cmp = crate::matching::compare(&base, &head, &lines, &|f| f.hot);
        let read = |files: &Vec<(&'static str, String)>, path: &str| {
            files
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, t)| t.clone())
        };
        let changed = vec!["p/errors.go".to_string()];
        pair_renames(&mut cmp, &lines, &[], &|p| read(&base_files, p), &|p| {
            read(&head_files, p)
        });
        assert_eq!(
            cmp.new.len(),
            1,
            "without the declaration, no rename: {cmp:?}"
        );
        let mut cmp = crate::matching::compare(&base, &head, &lines, &|f| f.hot);
        pair_renames(
            &mut cmp,
            &lines,
            &changed,
            &|p| read(&base_files, p),
            &|p| read(&head_files, p),
        );
        assert!(cmp.new.is_empty() && cmp.fixed.is_empty(), "{cmp:?}");
        assert_eq!(cmp.moved[0].by, MovedBy::Rename);
    }

    #[test]
    fn same_modulo_compares_tokens() {
        let yes = |a: &str, b: &str| (a, b) == ("Config", "Options") || (a, b) == ("n", "val");
        type Case<'c> = (&'c str, &'c str, Option<&'c [(&'c str, &'c str)]>);
        let cases: &[Case] = &[
            (
                "&Config{...}",
                "&Options{...}",
                Some(&[("Config", "Options")]),
            ),
            (
                "&a.Config{}",
                "&a.Options{}",
                Some(&[("Config", "Options")]),
            ),
            ("&Config{...}", "&Other{...}", None),
            ("n", "val", Some(&[("n", "val")])),
            ("n + 1", "val+1", Some(&[("n", "val")])),
            ("n + 1", "val + 2", None),
            ("\"n\" + n", "\"val\" + val", None),
            ("make([]int, n)", "make([]int, val)", Some(&[("n", "val")])),
            ("x", "x", Some(&[])),
        ];
        for &(a, b, want) in cases {
            let got = same_modulo(a, b, &yes);
            let want: Option<Vec<Rename>> = want.map(|w| {
                w.iter()
                    .map(|&(o, n)| Rename {
                        old: o.into(),
                        new: n.into(),
                    })
                    .collect()
            });
            assert_eq!(got, want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn top_function_strips_closures() {
        for (name, want) in [
            ("F", "F"),
            ("F.func1", "F"),
            ("F.func1.2", "F"),
            ("(*T).M.func3", "(*T).M"),
            ("T.funcX", "T.funcX"),
            ("T.funcX.func1", "T.funcX"),
        ] {
            assert_eq!(top_function(name), want);
        }
    }
}
