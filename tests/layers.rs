//! The top-level modules form layers: each depends only on modules below it, never
//! back up. This reads `crate::…` paths in every source file per top-level module and
//! fails on a cycle, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to: `src/git.rs` and `src/git/x.rs`
/// are `git`; `lib.rs` and `main.rs` are the crate root and take no part.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The top-level modules named by `crate::` paths in `text`, including every item of a
/// `use crate::{a::X, b, c::{…}}` group. Comment lines do not count: a doc link to a
/// module above is a pointer for the reader, not a dependency.
fn referenced(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| [line, "\n"])
        .collect();
    let text = code.as_str();
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("crate::") {
        let start = at + found;
        at = start + "crate::".len();
        // `$crate::` in macros and `some_crate::` are other paths.
        if start > 0 {
            let before = bytes[start - 1];
            if before == b'$' || before == b'_' || before.is_ascii_alphanumeric() {
                continue;
            }
        }
        if bytes.get(at) == Some(&b'{') {
            let mut depth = 0usize;
            let mut item_start = true;
            let mut i = at;
            while i < bytes.len() {
                let c = bytes[i];
                match c {
                    b'{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && (c.is_ascii_alphabetic() || c == b'_') => {
                        let end = text[i..]
                            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                            .map_or(text.len(), |e| i + e);
                        out.insert(text[i..end].to_string());
                        item_start = false;
                        i = end;
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            let end = text[at..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(text.len(), |e| at + e);
            if end > at {
                out.insert(text[at..end].to_string());
            }
        }
    }
    out
}

/// The dependency graph between top-level modules.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(src, file) else {
            continue;
        };
        let text = fs::read_to_string(file).expect("source file is UTF-8");
        let deps = graph.entry(module.clone()).or_default();
        for dep in referenced(&text) {
            if dep != module && dep != "self" && dep != "super" {
                deps.insert(dep);
            }
        }
    }
    graph
}

/// A cycle through `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack
                    .iter()
                    .position(|n| n == node)
                    .expect("open node is on the stack");
                let mut cycle = stack[from..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(node, graph, &mut marks, &mut stack) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    assert!(
        graph.len() > 10,
        "found only {} modules under {}",
        graph.len(),
        src.display()
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the top-level modules depend on each other in a cycle: {}\n\
             move the shared data down a layer (see docs/architecture.md)",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_reads_use_groups() {
    let uses = referenced("use crate::{finding::{Finding, Kind}, gate};\nuse crate::go::x; $crate::no; my_crate::no\n/// [`crate::report`]");
    assert_eq!(
        uses,
        BTreeSet::from(["finding".into(), "gate".into(), "go".into()])
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), BTreeSet::from(["b".into()]));
    g.insert("b".into(), BTreeSet::from(["c".into()]));
    g.insert("c".into(), BTreeSet::from(["a".into()]));
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
}

/// One layout for modules with submodules: `x/mod.rs`, never `x.rs` beside a folder `x/`.
#[test]
fn folder_modules_are_mod_rs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let pairs: Vec<String> = files
        .iter()
        .filter(|file| file.with_extension("").is_dir())
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        pairs.is_empty(),
        "these modules are a file beside a folder of the same name: {}\n\
         hint: move x.rs to x/mod.rs (see docs/architecture.md)",
        pairs.join(", ")
    );
}

/// A module names what it re-exports: behind `pub use x::*` a reader must search every
/// submodule for a name.
#[test]
fn no_module_re_exports_with_a_glob() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut globs = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source file is UTF-8");
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("pub") && line.contains(" use ") && line.ends_with("::*;") {
                globs.push(format!("{}:{}: {line}", file.display(), n + 1));
            }
        }
    }
    assert!(
        globs.is_empty(),
        "glob re-exports:\n{}\nhint: list the items used outside the module",
        globs.join("\n")
    );
}
