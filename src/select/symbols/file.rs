//! One Go file read for symbol-level selection: its package clause, its imports, and
//! each top-level declaration with its key, its text (and directives) and the names it
//! mentions, plus what makes the file untrustworthy (cgo, `//go:linkname`, generated
//! code, a syntax error, too large).

use std::collections::BTreeSet;

use tree_sitter::Node;

use crate::go_syntax::{self, field_text, text as node_text, Step, Unparsed, Walk};

/// What kind of top-level declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Func,
    Method,
    Type,
    Const,
    Var,
    Init,
}

/// One top-level declaration of a Go file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decl {
    pub kind: Kind,
    /// What identifies it across revisions: `func F`, `method T.M`, `type T`, `var a,b`.
    pub key: String,
    /// The names it declares (the method's name for a method).
    pub names: Vec<String>,
    /// A method's receiver type name, and whether that type is generic.
    pub receiver: Option<(String, bool)>,
    /// Its text, with the directives (`//go:…`) of the comments right before it.
    pub text: String,
    /// Every name it mentions: identifiers, type, field and package identifiers.
    pub idents: BTreeSet<String>,
    /// The names it reaches through a dot: `x.Name` selectors and `pkg.Type`.
    pub fields: BTreeSet<String>,
    /// The names of the types it embeds (struct fields and interface elements).
    pub embeds: BTreeSet<String>,
}

/// One import of a file: its local name (`None` for the default) and its path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Import {
    pub name: Option<String>,
    pub path: String,
}

/// The declarations of one Go file, and what makes its symbols untrustworthy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSymbols {
    pub package: String,
    pub imports: Vec<Import>,
    pub decls: Vec<Decl>,
    /// Why this file's declarations cannot be compared by name, when it changed: cgo,
    /// `//go:linkname`, generated code, a syntax error, too large.
    pub unsure: Option<String>,
    /// Why its references cannot be trusted even unchanged: a syntax error (names may
    /// be missing), too large to parse.
    pub unreadable: Option<String>,
}

impl FileSymbols {
    /// A file whose text was not read (too large, not a regular file): nothing about it
    /// is known.
    pub fn unknown(why: &str) -> FileSymbols {
        FileSymbols {
            unsure: Some(why.to_string()),
            unreadable: Some(why.to_string()),
            ..FileSymbols::default()
        }
    }

    /// Whether the file imports a package with `import . "path"`.
    pub fn dot_imports(&self) -> bool {
        self.imports.iter().any(|i| i.name.as_deref() == Some("."))
    }
}

/// Parses one Go file.
pub fn parse_file(source: &[u8]) -> FileSymbols {
    let tree = match go_syntax::parse(source) {
        Ok(tree) => tree,
        Err(Unparsed::TooLarge) => return FileSymbols::unknown("is over 16 MiB, not parsed"),
        Err(Unparsed::GaveUp) => return FileSymbols::unknown("was not parsed"),
    };
    let root = tree.root_node();
    let mut file = FileSymbols::default();
    if root.has_error() {
        let why = "has a syntax error".to_string();
        file.unsure = Some(why.clone());
        file.unreadable = Some(why);
    }
    let text = String::from_utf8_lossy(source);
    if text.contains("//go:linkname") {
        file.unsure
            .get_or_insert_with(|| "uses //go:linkname".into());
    }
    if is_generated(&text) {
        file.unsure
            .get_or_insert_with(|| "is generated code".into());
    }

    let mut cursor = root.walk();
    let children: Vec<Node> = root.children(&mut cursor).collect();
    let mut comments_start: Option<usize> = None;
    for node in children {
        let start = comments_start.take().unwrap_or(node.start_byte());
        match node.kind() {
            "comment" => {
                comments_start = Some(start);
                continue;
            }
            "package_clause" => {
                file.package = node
                    .named_child(0)
                    .map(|n| node_text(n, source))
                    .unwrap_or_default();
            }
            "import_declaration" => collect_imports(node, source, &mut file.imports),
            "function_declaration" => {
                let name = field_text(node, "name", source).unwrap_or_default();
                let kind = if name == "init" {
                    Kind::Init
                } else {
                    Kind::Func
                };
                file.decls.push(decl(
                    node,
                    start,
                    source,
                    kind,
                    format!("func {name}"),
                    vec![name],
                    None,
                ));
            }
            "method_declaration" => {
                let name = field_text(node, "name", source).unwrap_or_default();
                let receiver = go_syntax::receiver(node, source).map(|r| (r.name, r.generic));
                let recv_name = receiver.as_ref().map_or("?", |(n, _)| n.as_str());
                file.decls.push(decl(
                    node,
                    start,
                    source,
                    Kind::Method,
                    format!("method {recv_name}.{name}"),
                    vec![name],
                    receiver,
                ));
            }
            "type_declaration" => {
                // One declaration per type: a group of types is edited one at a time.
                let mut specs = node.walk();
                for spec in node.named_children(&mut specs) {
                    if !matches!(spec.kind(), "type_spec" | "type_alias") {
                        continue;
                    }
                    let name = field_text(spec, "name", source).unwrap_or_default();
                    let mut d = decl(
                        spec,
                        spec.start_byte(),
                        source,
                        Kind::Type,
                        format!("type {name}"),
                        vec![name],
                        None,
                    );
                    // The group's directives belong to every type in it.
                    let group = decl(node, start, source, Kind::Type, String::new(), vec![], None);
                    let directives = group.text.len() - node.byte_range().len();
                    d.text = format!("{}{}", &group.text[..directives], d.text);
                    file.decls.push(d);
                }
            }
            kind @ ("const_declaration" | "var_declaration") => {
                // A whole group at once: `iota` ties a constant to its neighbours.
                let names = go_syntax::spec_names(node, source);
                let (kind, word) = if kind == "const_declaration" {
                    (Kind::Const, "const")
                } else {
                    (Kind::Var, "var")
                };
                let key = format!("{word} {}", names.join(","));
                file.decls
                    .push(decl(node, start, source, kind, key, names, None));
            }
            _ => {}
        }
    }
    if file
        .imports
        .iter()
        .any(|i| i.path == "C" && i.name.is_none())
    {
        file.unsure.get_or_insert_with(|| "uses cgo".into());
    }
    file
}

/// Go's marker of generated code: a line `// Code generated … DO NOT EDIT.`.
fn is_generated(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_end();
        l.starts_with("// Code generated ") && l.ends_with(" DO NOT EDIT.")
    })
}

fn collect_imports(node: Node, source: &[u8], out: &mut Vec<Import>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "import_spec" => {
                let path = field_text(child, "path", source)
                    .unwrap_or_default()
                    .trim_matches(|c| c == '"' || c == '`')
                    .to_string();
                let name = field_text(child, "name", source);
                out.push(Import { name, path });
            }
            "import_spec_list" => collect_imports(child, source, out),
            _ => {}
        }
    }
}

fn decl(
    node: Node,
    start: usize,
    source: &[u8],
    kind: Kind,
    key: String,
    names: Vec<String>,
    receiver: Option<(String, bool)>,
) -> Decl {
    // Of the comments before it, only directives (`//go:noinline`, `//go:embed`)
    // change what the compiler does.
    let directives: String = String::from_utf8_lossy(&source[start..node.start_byte()])
        .lines()
        .filter(|l| l.trim_start().starts_with("//go:"))
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    let mut d = Decl {
        kind,
        key,
        names,
        receiver,
        text: format!("{directives}{}", node_text(node, source)),
        idents: BTreeSet::new(),
        fields: BTreeSet::new(),
        embeds: BTreeSet::new(),
    };
    collect_refs(node, source, &mut d);
    d
}

/// Every name a declaration mentions, in an iterative walk (generated code nests deep).
fn collect_refs(root: Node, source: &[u8], d: &mut Decl) {
    for step in Walk::new(root) {
        let Step::Enter(node) = step else {
            continue;
        };
        match node.kind() {
            "identifier" | "type_identifier" | "package_identifier" | "field_identifier" => {
                d.idents.insert(node_text(node, source));
            }
            "selector_expression" => {
                if let Some(field) = node.child_by_field_name("field") {
                    d.fields.insert(node_text(field, source));
                }
            }
            "qualified_type" => {
                if let Some(name) = node.child_by_field_name("name") {
                    d.fields.insert(node_text(name, source));
                }
            }
            "field_declaration" if node.child_by_field_name("name").is_none() => {
                if let Some(ty) = node.child_by_field_name("type") {
                    type_names(ty, source, &mut d.embeds);
                }
            }
            "type_elem" => type_names(node, source, &mut d.embeds),
            _ => {}
        }
    }
}

/// The type names inside a type expression (`*pkg.T` gives `T`).
fn type_names(ty: Node, source: &[u8], out: &mut BTreeSet<String>) {
    if ty.kind() == "type_identifier" {
        out.insert(node_text(ty, source));
    }
    let mut cursor = ty.walk();
    for child in ty.named_children(&mut cursor) {
        type_names(child, source, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn declarations_are_keyed_and_read() {
        let src = "package p

import (
\t\"fmt\"
\ty \"m/y\"
)

// Doc.
//go:noinline
func F(x int) { fmt.Println(y.Z, x) }

func (b *Box[E]) M() {}

func (T) N() {}

type (
\tT struct{ y.Embedded; n int }
\tA = int
)

const (
\tc0 = iota
\tc1
)

var v, w = 1, 2
";
        let f = parse_file(src.as_bytes());
        assert_eq!(f.package, "p");
        assert_eq!(f.unsure, None);
        let keys: Vec<&str> = f.decls.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "func F",
                "method Box.M",
                "method T.N",
                "type T",
                "type A",
                "const c0,c1",
                "var v,w"
            ]
        );
        assert!(
            f.decls[0].text.starts_with("//go:noinline\nfunc F"),
            "{}",
            f.decls[0].text
        );
        assert_eq!(f.decls[0].fields, set(&["Println", "Z"]));
        assert_eq!(f.decls[1].receiver, Some(("Box".to_string(), true)));
        assert_eq!(f.decls[2].receiver, Some(("T".to_string(), false)));
        assert_eq!(f.decls[3].embeds, set(&["Embedded"]));
        assert_eq!(
            f.imports,
            [
                Import {
                    name: None,
                    path: "fmt".into()
                },
                Import {
                    name: Some("y".into()),
                    path: "m/y".into()
                }
            ]
        );
    }
}
