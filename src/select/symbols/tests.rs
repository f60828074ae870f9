//! The whole of symbol-level selection on sources in memory: reading, comparing and
//! propagating, package graph by package graph.

use std::collections::{BTreeMap, BTreeSet};

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
    let calls_promoted = "package c\n\nimport \"m/b\"\n\nfunc Call(s b.S) int { return s.M() }\n";
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
    let g =
        "package g\n\ntype Box[E any] struct{ v E }\n\nfunc (b *Box[E]) Get() E { return b.v }\n";
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
