//! One side's Go file as the pass reads it: its tokens, comments left out, each
//! identifier with its syntactic role, and its top-level declarations with their names
//! and lines, for finding the declaration and the token at a compiler position.

use tree_sitter::Node;

use crate::go_syntax::{self, Step, Walk};

/// What an identifier is in the syntax: the alignment abstracts each to its role, and
/// a rename is one to one within a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Role {
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
pub(super) struct Token {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) role: Option<Role>,
}

#[derive(Debug, Clone)]
pub(super) struct Decl {
    /// `F` for a function, `T.M` for a method (whatever the receiver's pointer or type
    /// parameters), `var a,b` for variables; `None` for other declarations.
    pub(super) name: Option<String>,
    /// A type, constant or variable declaration.
    pub(super) package_level: bool,
    /// Its tokens: `tokens[first..last]` of the file.
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) first_line: u32,
    pub(super) last_line: u32,
}

impl Decl {
    pub(super) fn lines(&self) -> std::ops::RangeInclusive<u32> {
        self.first_line..=self.last_line
    }
}

/// One side's Go file: its tokens (comments left out) and top-level declarations.
#[derive(Debug)]
pub(super) struct Source {
    text: String,
    line_starts: Vec<usize>,
    pub(super) tokens: Vec<Token>,
    pub(super) decls: Vec<Decl>,
}

impl Source {
    pub(super) fn new(text: String) -> Source {
        let line_starts = go_syntax::line_starts(text.as_bytes());
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
    pub(super) fn decl_at(&self, line: u32, column: u32) -> Option<usize> {
        let offset = self.offset(line, column)?;
        let d = self
            .decls
            .partition_point(|d| self.tokens[d.first].start <= offset)
            .checked_sub(1)?;
        (offset < self.tokens[self.decls[d].last - 1].end).then_some(d)
    }

    /// The token of declaration `d` at a position: the one holding it, else the next.
    pub(super) fn token_at(&self, d: usize, line: u32, column: u32) -> Option<usize> {
        let offset = self.offset(line, column)?;
        let decl = &self.decls[d];
        let tokens = &self.tokens[decl.first..decl.last];
        let i = tokens.partition_point(|t| t.end <= offset);
        (i < tokens.len()).then_some(decl.first + i)
    }

    pub(super) fn text_of(&self, t: usize) -> &str {
        let token = &self.tokens[t];
        self.text.get(token.start..token.end).unwrap_or("")
    }

    /// What the alignment compares: identifiers as their role, the rest as written.
    pub(super) fn abstracted(&self, d: usize) -> Vec<Abstract<'_>> {
        let decl = &self.decls[d];
        (decl.first..decl.last)
            .map(|t| match self.tokens[t].role {
                Some(role) => Abstract::Name(role),
                None => Abstract::Text(self.text_of(t)),
            })
            .collect()
    }

    pub(super) fn shape(&self, d: usize) -> Vec<Abstract<'_>> {
        self.abstracted(d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Abstract<'a> {
    Name(Role),
    Text(&'a str),
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
