//! Symbol-level package selection: Go source of the packages in, the packages whose
//! escape analysis a change can affect out. Pure: the caller reads the files.
//!
//! [`crate::select`] selects every package that imports a changed package. Yet an
//! importer's compilation only sees a dependency through what it uses by name: the
//! escape tags and inline bodies of the functions it calls, the methods it calls (also
//! through interfaces the compiler devirtualises after inlining), the types it embeds.
//! So, per package:
//!
//! 1. **Changed declarations.** The top-level declarations of the changed files are
//!    compared, base against head, by key (`func F`, `method T.M`, `type T`, `const a`,
//!    …) and text (directives before it such as `//go:noinline` included, doc comments
//!    not).
//!    Added, removed and edited functions and methods are *changed names*; so are added
//!    types, constants and variables (nothing could refer to them before).
//! 2. **Closure.** A declaration of any package that refers to a changed name is changed
//!    too: its own escape tags or inline body may change. A name counts as referred to
//!    when it appears as an identifier in the same package, as `x.Name` (a selector or
//!    a qualified type) when its package is imported directly, as any identifier when a
//!    package is dot-imported; a changed method `M` of any type counts for every `x.M`
//!    (interface calls can be devirtualised once inlined, anywhere); a type embedding a
//!    type whose methods changed has changed methods itself.
//! 3. **Affected.** A package is analysed when its files changed, or when one of its
//!    declarations refers to a changed name of a package it depends on (a changed
//!    method counts when the method's package is among its dependencies, direct or
//!    not). A package that refers to none is not analysed, on either side, and passes
//!    nothing on to its importers but the names that refer to changed methods.
//!
//! Whatever these rules cannot bound falls back to the package level (the package and
//! every package that imports it, directly or not, as [`crate::select`] does): an
//! edited or removed type, constant or variable (its size, value or initialiser can
//! change any user's code), an `init` function, a changed package clause, an import
//! that now names another package or a dot import, cgo, `//go:linkname`, generated code,
//! source that does not parse, any other changed file of the package's directory
//! (assembly, embedded files), and a package that was deleted.

use std::collections::{BTreeMap, BTreeSet};

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
        text: format!(
            "{directives}{}",
            String::from_utf8_lossy(&source[node.start_byte()..node.end_byte()])
        ),
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

/// What a change does to one package's declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The rules cannot bound it: the package and all its importers are affected.
    Package(String),
    /// These declarations changed (keys), with the names and methods they declare.
    Decls(Changed),
}

/// Changed names of one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Top-level names (functions, types, constants, variables).
    pub names: BTreeSet<String>,
    /// Method names (any receiver).
    pub methods: BTreeSet<String>,
    /// Types whose method set changed (for embedding).
    pub receivers: BTreeSet<String>,
}

impl Changed {
    fn add(&mut self, d: &Decl) -> bool {
        let mut grew = false;
        match d.kind {
            Kind::Method => {
                for n in &d.names {
                    grew |= self.methods.insert(n.clone());
                }
                if let Some((recv, generic)) = &d.receiver {
                    grew |= self.receivers.insert(recv.clone());
                    // A generic type's methods are compiled where it is instantiated.
                    if *generic {
                        grew |= self.names.insert(recv.clone());
                    }
                }
            }
            Kind::Init => {}
            Kind::Func | Kind::Type | Kind::Const | Kind::Var => {
                for n in &d.names {
                    if n != "_" {
                        grew |= self.names.insert(n.clone());
                    }
                }
            }
        }
        grew
    }
}

/// The changed declarations of one package from the base and head versions of its
/// changed files (`None`: the file does not exist on that side). `files` names each
/// pair for the reasons.
pub fn changed_decls(files: &[(&str, Option<&FileSymbols>, Option<&FileSymbols>)]) -> Change {
    // Keyed by file as well as name: the same text in another file can mean something
    // else (the file binds its import names, and build constraints choose files), so a
    // declaration that moved between files, or whose variants swapped files, changed.
    let mut base: BTreeMap<(&str, &str), Vec<&Decl>> = BTreeMap::new();
    let mut head: BTreeMap<(&str, &str), Vec<&Decl>> = BTreeMap::new();
    for (path, b, h) in files {
        for side in [b, h].into_iter().flatten() {
            if let Some(why) = &side.unsure {
                return Change::Package(format!("{path} {why}"));
            }
        }
        if let (Some(b), Some(h)) = (b, h) {
            if b.package != h.package {
                return Change::Package(format!("the package clause of {path} changed"));
            }
            if let Some(why) = imports_rebound(&b.imports, &h.imports) {
                return Change::Package(format!("{path}: {why}"));
            }
        }
        for side in [b, h].into_iter().flatten() {
            if side.dot_imports() {
                return Change::Package(format!("{path} has a dot import"));
            }
        }
        for d in b.iter().flat_map(|f| &f.decls) {
            base.entry((path, d.key.as_str())).or_default().push(d);
        }
        for d in h.iter().flat_map(|f| &f.decls) {
            head.entry((path, d.key.as_str())).or_default().push(d);
        }
    }
    fn texts<'a>(v: Option<&Vec<&'a Decl>>) -> Vec<&'a str> {
        let mut t: Vec<&str> = v.into_iter().flatten().map(|d| d.text.as_str()).collect();
        t.sort_unstable();
        t
    }
    let keys: BTreeSet<(&str, &str)> = base.keys().chain(head.keys()).copied().collect();
    let mut changed = Changed::default();
    for file_key in keys {
        let key = file_key.1;
        let (b, h) = (base.get(&file_key), head.get(&file_key));
        if texts(b) == texts(h) {
            continue;
        }
        let d = b
            .or(h)
            .and_then(|v| v.first())
            .expect("a key comes from a decl");
        match d.kind {
            Kind::Init => return Change::Package(format!("an init function changed ({key})")),
            // Edited or removed: its size, value or initialiser can change code that
            // never names it. Added: nothing could refer to it before.
            Kind::Type | Kind::Const | Kind::Var if b.is_some() => {
                return Change::Package(format!("`{key}` changed"));
            }
            _ => {}
        }
        for d in b.into_iter().chain(h).flatten() {
            changed.add(d);
        }
    }
    Change::Decls(changed)
}

/// Why the imports of a file now bind a name differently, if they may: an import both
/// added and removed (its name may now mean another package), or a dot import.
fn imports_rebound(base: &[Import], head: &[Import]) -> Option<String> {
    let removed = base.iter().any(|i| !head.contains(i));
    let added = head.iter().any(|i| !base.contains(i));
    if removed && added {
        return Some("imports were both added and removed".into());
    }
    None
}

/// One package as the propagation sees it.
#[derive(Debug, Clone, Default)]
pub struct PackageSymbols {
    /// Direct imports within the repository.
    pub imports: Vec<String>,
    /// The declarations of its files on the head, and of the base versions of its
    /// changed files.
    pub decls: Vec<Decl>,
    /// Whether a file dot-imports a package.
    pub dot_import: bool,
    /// Why its references cannot be read (a syntax error): it is then affected by any
    /// change below it, and passes everything on.
    pub unreadable: Option<String>,
    /// What the change does to it directly, when its files changed.
    pub change: Option<Change>,
}

/// Where each package stands once the change is propagated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Its escape analysis can change: analyse it on both sides.
    pub affected: bool,
    /// Every importer is affected (the package level).
    pub all: bool,
    pub changed: Changed,
}

/// Propagates the changes through the packages (keyed by import path) to a fixed point.
pub fn propagate(packages: &BTreeMap<String, PackageSymbols>) -> BTreeMap<String, State> {
    let mut states: BTreeMap<String, State> = packages
        .keys()
        .map(|k| (k.clone(), State::default()))
        .collect();
    let deps = transitive_deps(packages);
    for (path, p) in packages {
        let state = states.get_mut(path).expect("one state per package");
        match &p.change {
            Some(Change::Package(_)) => {
                state.affected = true;
                state.all = true;
            }
            Some(Change::Decls(changed)) => {
                state.affected = true;
                state.changed = changed.clone();
            }
            None => {}
        }
    }
    loop {
        let mut grew = false;
        let all_methods: BTreeSet<String> = states
            .values()
            .flat_map(|s| s.changed.methods.iter().cloned())
            .collect();
        let all_receivers: BTreeSet<String> = states
            .values()
            .flat_map(|s| s.changed.receivers.iter().cloned())
            .collect();
        for (path, p) in packages {
            let state = &states[path];
            if state.all {
                continue;
            }
            let imported: Vec<&State> = p.imports.iter().filter_map(|i| states.get(i)).collect();
            let below: Vec<&State> = deps[path].iter().filter_map(|d| states.get(d)).collect();
            let mut next = state.clone();
            let any_below = below.iter().any(|s| **s != State::default());
            if imported.iter().any(|s| s.all) || (p.unreadable.is_some() && any_below) {
                next.affected = true;
                next.all = true;
            } else {
                let ext_names: BTreeSet<&String> =
                    imported.iter().flat_map(|s| &s.changed.names).collect();
                let dep_methods: BTreeSet<&String> =
                    below.iter().flat_map(|s| &s.changed.methods).collect();
                let dep_receivers: BTreeSet<&String> =
                    below.iter().flat_map(|s| &s.changed.receivers).collect();
                let mut changed_here = vec![false; p.decls.len()];
                for (i, d) in p.decls.iter().enumerate() {
                    let by_name = d.fields.iter().any(|f| ext_names.contains(f))
                        || (p.dot_import && d.idents.iter().any(|n| ext_names.contains(n)));
                    let by_dep_method = d.fields.iter().any(|f| dep_methods.contains(f))
                        || d.embeds.iter().any(|e| dep_receivers.contains(e));
                    if by_name || by_dep_method {
                        next.affected = true;
                    }
                    if by_name
                        || d.fields.iter().any(|f| all_methods.contains(f))
                        || d.embeds.iter().any(|e| all_receivers.contains(e))
                    {
                        changed_here[i] = true;
                    }
                }
                // Within the package, to a fixed point.
                loop {
                    let mut more = false;
                    for (i, d) in p.decls.iter().enumerate() {
                        if changed_here[i] {
                            more |= next.changed.add(d);
                            if d.kind == Kind::Type && !d.embeds.is_empty() {
                                // A type whose embedded type's methods changed: its
                                // promoted methods changed too.
                                more |= next.changed.receivers.insert(d.names[0].clone());
                            }
                            continue;
                        }
                        let c = &next.changed;
                        if d.idents.iter().any(|n| c.names.contains(n))
                            || d.fields.iter().any(|f| c.methods.contains(f))
                            || d.embeds.iter().any(|e| c.receivers.contains(e))
                        {
                            changed_here[i] = true;
                            more = true;
                        }
                    }
                    if !more {
                        break;
                    }
                }
            }
            if next != *state {
                grew = true;
                states.insert(path.clone(), next);
            }
        }
        if !grew {
            break;
        }
    }
    states
}

/// Each package's dependencies within the repository, direct or not.
fn transitive_deps(
    packages: &BTreeMap<String, PackageSymbols>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for path in packages.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![path.as_str()];
        while let Some(p) = stack.pop() {
            for i in packages.get(p).map(|p| p.imports.as_slice()).unwrap_or(&[]) {
                if seen.insert(i.clone()) {
                    stack.push(i);
                }
            }
        }
        out.insert(path.clone(), seen);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One package: import path, imports within the repository, base files, head files
    /// (`(name, source)`; a file on one side only was added or removed).
    #[derive(Clone)]
    struct Pkg {
        path: String,
        imports: Vec<String>,
        base: Vec<(String, String)>,
        head: Vec<(String, String)>,
    }

    fn pkg(path: &str, imports: &[&str], base: &[(&str, &str)], head: &[(&str, &str)]) -> Pkg {
        let files = |f: &[(&str, &str)]| {
            f.iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect()
        };
        Pkg {
            path: path.to_string(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
            base: files(base),
            head: files(head),
        }
    }

    /// A package whose one file did not change.
    fn same(path: &str, imports: &[&str], file: &str) -> Pkg {
        pkg(path, imports, &[("x.go", file)], &[("x.go", file)])
    }

    /// What the scope does, on sources in memory: the affected packages, and why each
    /// package-level fallback happened.
    fn run(pkgs: &[Pkg]) -> (BTreeSet<String>, BTreeMap<String, String>) {
        let mut packages = BTreeMap::new();
        let mut fallbacks = BTreeMap::new();
        for Pkg {
            path,
            imports,
            base,
            head,
        } in pkgs
        {
            let mut p = PackageSymbols {
                imports: imports.clone(),
                ..PackageSymbols::default()
            };
            let parsed: Vec<(&str, Option<FileSymbols>, Option<FileSymbols>)> = base
                .iter()
                .map(|(n, _)| n.as_str())
                .chain(head.iter().map(|(n, _)| n.as_str()))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter_map(|name| {
                    let b = base.iter().find(|(n, _)| n == name).map(|(_, s)| s);
                    let h = head.iter().find(|(n, _)| n == name).map(|(_, s)| s);
                    (b != h).then(|| {
                        (
                            name,
                            b.map(|s| parse_file(s.as_bytes())),
                            h.map(|s| parse_file(s.as_bytes())),
                        )
                    })
                })
                .collect();
            for (_, source) in head.iter() {
                let f = parse_file(source.as_bytes());
                p.dot_import |= f.dot_imports();
                p.unreadable = p.unreadable.or(f.unreadable.clone());
                p.decls.extend(f.decls);
            }
            for (_, b, _) in &parsed {
                p.decls.extend(b.iter().flat_map(|f| f.decls.clone()));
            }
            if !parsed.is_empty() {
                let pairs: Vec<_> = parsed
                    .iter()
                    .map(|(n, b, h)| (*n, b.as_ref(), h.as_ref()))
                    .collect();
                let change = changed_decls(&pairs);
                if let Change::Package(why) = &change {
                    fallbacks.insert(path.to_string(), why.clone());
                }
                p.change = Some(change);
            }
            packages.insert(path.clone(), p);
        }
        let affected = propagate(&packages)
            .into_iter()
            .filter(|(_, s)| s.affected)
            .map(|(p, _)| p)
            .collect();
        (affected, fallbacks)
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const A: &str = "package a

type T struct{ n int }

func (t *T) M() int { return t.n }

func F(p *int) int { return *p }

func helper(p *int) int { return *p + 1 }

func G(p *int) int { return helper(p) }
";

    /// `A` with `old` replaced by `new`.
    fn a_with(old: &str, new: &str) -> String {
        assert!(A.contains(old), "{old:?} not in A");
        A.replace(old, new)
    }

    const C_CALLS_B: &str = "package c

import \"m/b\"

func UseB() int { return b.UseF() }
";
    const D_USES_B_ONLY_ELSEWHERE: &str = "package d

import \"m/b\"

func Other() int { return b.Unrelated() }
";
    const B_WITH_UNRELATED: &str = "package b

import \"m/a\"

func UseF() int { x := 1; return a.F(&x) }

func Unrelated() int { return 2 }
";

    /// The graph a ← b ← {c, d}, with a's head given.
    fn chain(a_head: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
        run(&[
            pkg("m/a", &[], &[("a.go", A)], &[("a.go", a_head)]),
            same("m/b", &["m/a"], B_WITH_UNRELATED),
            same("m/c", &["m/b"], C_CALLS_B),
            same("m/d", &["m/b"], D_USES_B_ONLY_ELSEWHERE),
        ])
    }

    #[test]
    fn what_a_change_reaches() {
        let new_func = format!("{A}\nfunc New() int {{ return 3 }}\n");
        let cases: &[(&str, String, &[&str])] = &[
            (
                "a doc comment",
                a_with("func F(", "// F reads p.\nfunc F("),
                &["m/a"],
            ),
            (
                "a type's doc comment",
                a_with("type T", "// T.\ntype T"),
                &["m/a"],
            ),
            ("a new function nobody calls", new_func, &["m/a"]),
            (
                "a called function changed",
                a_with("return *p }", "q := *p; return q }"),
                &["m/a", "m/b", "m/c"],
            ),
            (
                "a function nobody calls changed",
                a_with("return helper(p)", "return helper(p) * 2"),
                &["m/a"],
            ),
            (
                "its callee changed: closure inside the package",
                a_with("return *p + 1", "return *p + 2"),
                &["m/a"],
            ),
            (
                "a directive before a called function",
                a_with("func F(", "//go:noinline\nfunc F("),
                &["m/a", "m/b", "m/c"],
            ),
            (
                "a method nobody calls by name",
                a_with("return t.n", "return t.n + 1"),
                &["m/a"],
            ),
            (
                "a changed type falls back",
                a_with("n int", "n, k int"),
                &["m/a", "m/b", "m/c", "m/d"],
            ),
            (
                "an init function falls back",
                format!("{A}\nfunc init() {{}}\n"),
                &["m/a", "m/b", "m/c", "m/d"],
            ),
        ];
        for (what, head, want) in cases {
            let (affected, _) = chain(head);
            assert_eq!(affected, set(want), "{what}");
        }
        let (_, why) = chain(&a_with("type T", "const N = 1\n\ntype T"));
        assert!(
            why.is_empty(),
            "an added constant is bounded by its name: {why:?}"
        );
        let (_, why) = chain(&a_with("n int", "n, k int"));
        assert_eq!(why["m/a"], "`type T` changed");
    }

    #[test]
    fn a_callee_reached_through_an_unexported_helper() {
        // b calls a.G, G calls helper: helper's change reaches b through G.
        let b = "package b\n\nimport \"m/a\"\n\nfunc UseG() int { x := 1; return a.G(&x) }\n";
        let (affected, _) = run(&[
            pkg(
                "m/a",
                &[],
                &[("a.go", A)],
                &[("a.go", &a_with("return *p + 1", "return *p + 2"))],
            ),
            same("m/b", &["m/a"], b),
        ]);
        assert_eq!(affected, set(&["m/a", "m/b"]));
    }

    #[test]
    fn methods_count_by_name_through_any_package() {
        let head = a_with("return t.n", "return t.n + 1");
        let by_name = "package b\n\nimport \"m/a\"\n\nfunc Call(t *a.T) int { return t.M() }\n";
        let other_name = "package b\n\nimport \"m/a\"\n\nfunc Call(t *a.T) int { return 0 }\n";
        let embeds = "package b\n\nimport \"m/a\"\n\ntype S struct{ *a.T }\n";
        let calls_promoted =
            "package c\n\nimport \"m/b\"\n\nfunc Call(s b.S) int { return s.M() }\n";
        // q knows nothing of a, but its inlinable Do calls M through an interface; r
        // passes Do an *a.T, and once Do is inlined the call can be devirtualised.
        let q = "package q\n\ntype I interface{ M() int }\n\nfunc Do(i I) int { return i.M() }\n";
        let r = "package r\n\nimport (\n\t\"m/a\"\n\t\"m/q\"\n)\n\nfunc Run() int { return q.Do(&a.T{}) }\n";
        let cases: Vec<(&str, Vec<Pkg>, &[&str])> = vec![
            (
                "called by name",
                vec![same("m/b", &["m/a"], by_name)],
                &["m/a", "m/b"],
            ),
            (
                "not called",
                vec![same("m/b", &["m/a"], other_name)],
                &["m/a"],
            ),
            (
                "promoted through an embedded type",
                vec![
                    same("m/b", &["m/a"], embeds),
                    same("m/c", &["m/b"], calls_promoted),
                ],
                &["m/a", "m/b", "m/c"],
            ),
            (
                "devirtualised after inlining another package's function",
                vec![same("m/q", &[], q), same("m/r", &["m/a", "m/q"], r)],
                &["m/a", "m/r"],
            ),
        ];
        for (what, rest, want) in cases {
            let mut pkgs: Vec<Pkg> = vec![pkg("m/a", &[], &[("a.go", A)], &[("a.go", &head)])];
            pkgs.extend(rest.iter().cloned());
            let (affected, _) = run(&pkgs);
            assert_eq!(affected, set(want), "{what}");
        }
    }

    #[test]
    fn dot_imports_and_generics() {
        let dot = "package b\n\nimport . \"m/a\"\n\nfunc UseF() int { x := 1; return F(&x) }\n";
        let head = a_with("return *p }", "q := *p; return q }");
        let (affected, _) = run(&[
            pkg("m/a", &[], &[("a.go", A)], &[("a.go", &head)]),
            same("m/b", &["m/a"], dot),
        ]);
        assert_eq!(affected, set(&["m/a", "m/b"]), "dot import");

        // A generic type's methods are compiled where it is instantiated: naming the
        // type is enough.
        let g = "package g\n\ntype Box[E any] struct{ v E }\n\nfunc (b *Box[E]) Get() E { return b.v }\n";
        let g2 = g.replace("return b.v", "v := b.v; return v");
        let user = "package u\n\nimport \"m/g\"\n\nvar B g.Box[int]\n";
        let (affected, _) = run(&[
            pkg("m/g", &[], &[("g.go", g)], &[("g.go", &g2)]),
            same("m/u", &["m/g"], user),
        ]);
        assert_eq!(affected, set(&["m/g", "m/u"]), "generic method");
    }

    #[test]
    fn what_cannot_be_bounded_falls_back_to_the_package() {
        let cases: &[(&str, String, &str)] = &[
            ("changed constant", "package a\n\nconst N = 2\n".into(), "`const N` changed"),
            (
                "removed variable",
                "package a\n\nimport x \"m/x\"\n\nconst N = 1\n\nvar _ = x.Y\n".into(),
                "`var V` changed",
            ),
            (
                "cgo",
                "package a\n\nimport \"C\"\n\nconst N = 1\n\nvar V = 1\n".into(),
                "a.go uses cgo",
            ),
            (
                "linkname",
                "package a\n\nimport _ \"unsafe\"\n\n//go:linkname x runtime.x\nconst N = 1\n\nvar V = 1\n".into(),
                "a.go uses //go:linkname",
            ),
            (
                "generated",
                "// Code generated by gen. DO NOT EDIT.\n\npackage a\n\nconst N = 1\n\nvar V = 1\n\nfunc F() {}\n".into(),
                "a.go is generated code",
            ),
            ("syntax error", "package a\n\nconst N = 1\n\nvar V = 1\n\nfunc F( {\n".into(), "a.go has a syntax error"),
            ("package clause", "package b\n\nconst N = 1\n\nvar V = 1\n".into(), "the package clause of a.go changed"),
            (
                "an import name rebound",
                "package a\n\nimport x \"m/y\"\n\nconst N = 1\n\nvar V = 1\n\nvar _ = x.Y\n".into(),
                "a.go: imports were both added and removed",
            ),
        ];
        let base = "package a\n\nimport x \"m/x\"\n\nconst N = 1\n\nvar V = 1\n\nvar _ = x.Y\n";
        let user = "package b\n\nimport \"m/a\"\n\nfunc Nothing() {}\n";
        for (what, head, want) in cases {
            let (affected, why) = run(&[
                pkg("m/a", &[], &[("a.go", base)], &[("a.go", head)]),
                same("m/b", &["m/a"], user),
            ]);
            assert_eq!(affected, set(&["m/a", "m/b"]), "{what}");
            assert_eq!(why.get("m/a").map(String::as_str), Some(*want), "{what}");
        }
    }

    #[test]
    fn an_unreadable_importer_takes_everything() {
        let broken = "package b\n\nimport \"m/a\"\n\nfunc Nothing( {\n";
        let (affected, _) = run(&[
            pkg(
                "m/a",
                &[],
                &[("a.go", A)],
                &[("a.go", &format!("{A}\nfunc New() {{}}\n"))],
            ),
            same("m/b", &["m/a"], broken),
        ]);
        assert_eq!(affected, set(&["m/a", "m/b"]));
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
