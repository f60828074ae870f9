//! Go syntax trees, shared by the stages that read Go source: attribution
//! ([`crate::function`]), symbol-level package selection ([`crate::select::symbols`])
//! and rename pairing ([`crate::rename`]). One place builds the tree-sitter parser and
//! bounds what it is given; the helpers read what the stages all need from a tree: a
//! node's text, a field's text, a method's receiver type, the names a `var` or `const`
//! declares, an iterative walk; and where each line starts, for compiler positions.
//! Pure: source bytes in, trees and strings out. A leaf: it uses no other module of
//! the crate.

use tree_sitter::{Node, Parser, Tree, TreeCursor};

/// The largest Go file given to tree-sitter. Parsing costs time and memory in
/// proportion to the file (about 10 times its size), and generated files of several
/// megabytes exist, but a file from a hostile tree can be as large as git allows.
pub const MAX_SOURCE: usize = 16 * 1024 * 1024;

/// Why [`parse`] gave no tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparsed {
    /// Over [`MAX_SOURCE`]: not given to the parser.
    TooLarge,
    /// The parser gave up. It only does when cancelled or timed out, and neither is
    /// configured, so this is not expected; callers still answer safely.
    GaveUp,
}

/// Parses Go source. Syntax errors do not fail: tree-sitter recovers and marks them in
/// the tree ([`Node::has_error`]).
pub fn parse(source: &[u8]) -> Result<Tree, Unparsed> {
    if source.len() > MAX_SOURCE {
        return Err(Unparsed::TooLarge);
    }
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_go::LANGUAGE.into())
        .expect("tree-sitter-go is built for the linked tree-sitter ABI");
    parser.parse(source, None).ok_or(Unparsed::GaveUp)
}

/// The source text of a node; invalid UTF-8 (a hostile file) is replaced, not refused.
pub fn text(node: Node, source: &[u8]) -> String {
    String::from_utf8_lossy(&source[node.byte_range()]).into_owned()
}

/// The text of a node's child in `field` (`name`, `type`, `path`…), if it has one.
pub fn field_text(node: Node, field: &str, source: &[u8]) -> Option<String> {
    node.child_by_field_name(field).map(|n| text(n, source))
}

/// The byte offset at which each line of a source starts (`[0]` is 0), for turning the
/// compiler's 1-based line numbers into offsets.
pub fn line_starts(source: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            source
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// A method's receiver type: `*T`, `(T)`, `(*Box[E])` are the type `T` or `Box`
/// behind parentheses and pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The type's name without its type parameters: `Box` for `Box[E]`, `pkg.T` as
    /// written for a (non-compiling) qualified type.
    pub name: String,
    /// How many pointers wrap it: 1 for `*T`; Go accepts no more, the parser does.
    pub pointers: usize,
    /// Whether the type is generic (`Box[E]`).
    pub generic: bool,
}

/// The receiver type of a `method_declaration` node; `None` when the tree has no
/// receiver (a syntax error).
pub fn receiver(method: Node, source: &[u8]) -> Option<Receiver> {
    let params = method.child_by_field_name("receiver")?;
    let mut cursor = params.walk();
    let decl = params
        .named_children(&mut cursor)
        .find(|c| c.kind() == "parameter_declaration")?;
    let mut ty = decl.child_by_field_name("type")?;
    let mut pointers = 0;
    loop {
        match ty.kind() {
            "parenthesized_type" => ty = ty.named_child(0)?,
            "pointer_type" => {
                pointers += 1;
                ty = ty.named_child(0)?;
            }
            "generic_type" => {
                return Some(Receiver {
                    name: field_text(ty, "type", source)?,
                    pointers,
                    generic: true,
                });
            }
            _ => {
                return Some(Receiver {
                    name: text(ty, source),
                    pointers,
                    generic: false,
                });
            }
        }
    }
}

/// The names a `const_declaration` or `var_declaration` declares, in source order
/// (`var a, b = …` and every spec of a group).
pub fn spec_names(decl: Node, source: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    collect_spec_names(decl, source, &mut out);
    out
}

fn collect_spec_names(node: Node, source: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "const_spec" | "var_spec" => {
                let mut names = child.walk();
                for name in child.children_by_field_name("name", &mut names) {
                    out.push(text(name, source));
                }
            }
            "var_spec_list" => collect_spec_names(child, source, out),
            _ => {}
        }
    }
}

/// One step of a [`Walk`].
#[derive(Debug, Clone, Copy)]
pub enum Step<'t> {
    /// Down into a node, before its children.
    Enter(Node<'t>),
    /// Back out of a node, after its children.
    Leave(Node<'t>),
}

/// Every node under a root (itself included), depth first: each one entered, then its
/// children walked, then left. Iterative, unlike recursion: generated files nest
/// expressions deeper than the stack allows.
pub struct Walk<'t> {
    cursor: TreeCursor<'t>,
    entering: bool,
    done: bool,
}

impl<'t> Walk<'t> {
    pub fn new(root: Node<'t>) -> Walk<'t> {
        Walk {
            cursor: root.walk(),
            entering: true,
            done: false,
        }
    }
}

impl<'t> Iterator for Walk<'t> {
    type Item = Step<'t>;

    fn next(&mut self) -> Option<Step<'t>> {
        if self.done {
            return None;
        }
        let node = self.cursor.node();
        if self.entering {
            // Into the first child next, or out of this leaf.
            self.entering = self.cursor.goto_first_child();
            return Some(Step::Enter(node));
        }
        // The cursor is rooted at the walk's root: it has no sibling and no parent
        // there, so the walk ends with it.
        if self.cursor.goto_next_sibling() {
            self.entering = true;
        } else if !self.cursor.goto_parent() {
            self.done = true;
        }
        Some(Step::Leave(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> Tree {
        parse(src.as_bytes()).expect("test sources parse")
    }

    /// The first node of `kind` under `root`.
    fn first<'t>(root: Node<'t>, kind: &str) -> Node<'t> {
        Walk::new(root)
            .find_map(|s| match s {
                Step::Enter(n) if n.kind() == kind => Some(n),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {kind} in the tree"))
    }

    #[test]
    fn receivers_behind_parentheses_and_pointers() {
        let cases: &[(&str, &str, usize, bool)] = &[
            ("func (t T) M() {}", "T", 0, false),
            ("func (t *T) M() {}", "T", 1, false),
            ("func (*T) M() {}", "T", 1, false),
            ("func (T) M() {}", "T", 0, false),
            ("func (t (*T)) M() {}", "T", 1, false),
            ("func (t *(T)) M() {}", "T", 1, false),
            ("func (t (T)) M() {}", "T", 0, false),
            ("func (b *Box[E]) M() {}", "Box", 1, true),
            ("func (p Pair[K, V]) M() {}", "Pair", 0, true),
            ("func (b *Box[_]) M() {}", "Box", 1, true),
            // Go rejects these; the parser does not.
            ("func (t **T) M() {}", "T", 2, false),
            ("func (t x.T) M() {}", "x.T", 0, false),
        ];
        for &(decl, name, pointers, generic) in cases {
            let src = format!("package p\n\n{decl}\n");
            let tree = tree(&src);
            let method = first(tree.root_node(), "method_declaration");
            let got = receiver(method, src.as_bytes());
            let want = Some(Receiver {
                name: name.to_string(),
                pointers,
                generic,
            });
            assert_eq!(got, want, "{decl}");
        }
    }

    #[test]
    fn names_of_a_group_in_source_order() {
        let src = "package p\n\nvar (\n\tb, a = 1, 2\n\t// c\n\tc int\n)\n\nconst (\n\tx = iota\n\ty\n)\n\nvar z = 3\n";
        let tree = tree(src);
        let root = tree.root_node();
        let mut cursor = root.walk();
        let names: Vec<Vec<String>> = root
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "package_clause")
            .map(|n| spec_names(n, src.as_bytes()))
            .collect();
        assert_eq!(names, [vec!["b", "a", "c"], vec!["x", "y"], vec!["z"]]);
    }

    #[test]
    fn a_walk_enters_and_leaves_every_node_once_in_order() {
        let src = "package p\n\nfunc F() { g := func() { _ = 1 }; _ = g }\n";
        let tree = tree(src);
        let root = tree.root_node();
        let mut open: Vec<usize> = Vec::new();
        let mut entered = 0;
        for step in Walk::new(root) {
            match step {
                Step::Enter(n) => {
                    entered += 1;
                    open.push(n.id());
                }
                Step::Leave(n) => assert_eq!(open.pop(), Some(n.id()), "leaves in order"),
            }
        }
        assert!(open.is_empty());
        // Every node: count them recursively, the way a small tree allows.
        fn count(n: Node) -> usize {
            let mut c = n.walk();
            1 + n.children(&mut c).map(count).sum::<usize>()
        }
        assert_eq!(entered, count(root));
        // Under a node, only its subtree.
        let literal = first(root, "func_literal");
        let inside = Walk::new(literal)
            .filter(|s| matches!(s, Step::Enter(_)))
            .count();
        assert_eq!(inside, count(literal));
        assert!(
            matches!(Walk::new(literal).last(), Some(Step::Leave(n)) if n.id() == literal.id())
        );
    }

    #[test]
    fn line_starts_count_bytes_and_every_newline() {
        assert_eq!(line_starts(b""), [0]);
        assert_eq!(line_starts(b"a\n\xc3\xa9\r\n\nb"), [0, 2, 6, 7]);
    }

    #[test]
    fn text_of_invalid_utf8_is_replaced_and_large_sources_are_not_parsed() {
        let src = b"package p\n\nvar s = \"\xff\"\n";
        let tree = parse(src).expect("parses");
        let lit = first(tree.root_node(), "interpreted_string_literal");
        assert_eq!(text(lit, src), "\"\u{fffd}\"");
        assert_eq!(
            field_text(first(tree.root_node(), "var_spec"), "name", src).as_deref(),
            Some("s")
        );
        let mut big = b"package p\n".to_vec();
        big.resize(MAX_SOURCE + 1, b'\n');
        assert_eq!(parse(&big).err(), Some(Unparsed::TooLarge));
        big.truncate(MAX_SOURCE);
        assert!(parse(&big).is_ok());
    }
}
