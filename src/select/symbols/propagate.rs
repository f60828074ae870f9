//! The references importers make: the changed names of each package carried, to a
//! fixed point, to the declarations that refer to them in the same package and in the
//! packages that import it, deciding which packages are affected.

use std::collections::{BTreeMap, BTreeSet};

use super::change::{Change, Changed};
use super::file::{Decl, Kind};

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
