//! The pass on findings and sources in memory: what pairs as renamed, what stays new.

use crate::finding::{Finding, Kind};
use crate::lines::LineMap;
use crate::matching::{Comparison, MovedBy, Rename};

use super::*;

fn finding(file: &str, src: &str, needle: &str, function: &str, kind: Kind, expr: &str) -> Finding {
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
    let head_src =
        "package p\n\nfunc P(x int) *int {\n\tval := x * 2\n\tn := 3\n\t_ = n\n\treturn &val\n}\n";
    let base = vec![finding("a.go", BASE, "n :=", "P", Kind::Moved, "n")];
    let head = vec![finding("a.go", head_src, "val :=", "P", Kind::Moved, "val")];
    let cmp = run(BASE, head_src, base, head);
    assert_eq!(cmp.new.len(), 1, "{cmp:?}");
}

#[test]
fn names_swapped_or_renamed_along_a_chain_are_renames() {
    // `a` → `b` while `b` → `a` (a swap) or `b` → `c` (a chain): the new name was in the
    // base and the old one is in the head, each explained by the other rename.
    let base_src =
        "package p\n\nfunc P(x int) *int {\n\ta := x * 2\n\tb := 1\n\t_ = b\n\treturn &a\n}\n";
    for (head_src, shape) in [
        (
            "package p\n\nfunc P(x int) *int {\n\tb := x * 2\n\ta := 1\n\t_ = a\n\treturn &b\n}\n",
            "swap",
        ),
        (
            "package p\n\nfunc P(x int) *int {\n\tb := x * 2\n\tc := 1\n\t_ = c\n\treturn &b\n}\n",
            "chain",
        ),
    ] {
        let base = vec![finding("a.go", base_src, "a :=", "P", Kind::Moved, "a")];
        let head = vec![finding("a.go", head_src, "b :=", "P", Kind::Moved, "b")];
        let cmp = run(base_src, head_src, base, head);
        assert!(
            cmp.new.is_empty() && cmp.fixed.is_empty(),
            "{head_src}\n{cmp:?}"
        );
        assert_eq!(cmp.moved.len(), 1, "{cmp:?}");
        // The note names the renames the message needs.
        assert_eq!(
            cmp.moved[0].renames,
            vec![Rename {
                old: "a".into(),
                new: "b".into()
            }],
            "{shape}"
        );
    }
}

#[test]
fn half_a_swap_is_not_a_rename() {
    // `a` → `b`, but the base's `b` is still `b` in the head: the node now escapes
    // another variable, which is new.
    let base_src =
        "package p\n\nfunc P(x int) *int {\n\ta := x * 2\n\tb := 1\n\t_ = b\n\treturn &a\n}\n";
    let head_src =
        "package p\n\nfunc P(x int) *int {\n\tb := x * 2\n\tb = 1\n\t_ = b\n\treturn &b\n}\n";
    let base = vec![finding("a.go", base_src, "a :=", "P", Kind::Moved, "a")];
    let head = vec![finding("a.go", head_src, "b :=", "P", Kind::Moved, "b")];
    let cmp = run(base_src, head_src, base, head);
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
                format!("package p\n\ntype {error} string\n\nconst ErrShort {error} = \"short\"\n"),
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
