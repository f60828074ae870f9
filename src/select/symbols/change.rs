//! The declarations a change touches in one package: its changed files' declarations
//! compared base against head, by file and key, into the names that changed
//! ([`Changed`]), or the reason the change cannot be bounded by names
//! ([`Change::Package`]).

use std::collections::{BTreeMap, BTreeSet};

use super::file::{Decl, FileSymbols, Import, Kind};

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
    pub(super) fn add(&mut self, d: &Decl) -> bool {
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
