//! `escape-gate diff` on real repositories: what is new, fixed, moved and unchanged.

use serde_json::Value;

use crate::support::{items as list, json_diff, TestRepo};

const A_GO: &str = r#"package m

type T struct{ A, B int }

var sink *T

var sinks []*T

// Keep stores a new T in a package variable, so it escapes.
func Keep(a int) {
	sink = &T{A: a}
}

// Many allocates two identical escaping values.
func Many() {
	sink = &T{}
	sink = &T{}
}

// Local keeps its T on the stack.
func Local(a int) int {
	t := T{A: a}
	return t.A + t.B
}

// Address returns the address of a local, which moves it to the heap.
func Address(a int) *int {
	x := a * 2
	return &x
}
"#;

fn summary(json: &Value) -> (u64, u64, u64, u64) {
    let s = &json["summary"];
    let n = |k: &str| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("summary.{k} missing in {json:#}"))
    };
    (n("new"), n("fixed"), n("moved"), n("allowed"))
}

/// Asserts the head only moved code: nothing new, nothing fixed, exit 0, and every
/// heap escape of the base still found in the head (as unchanged or moved), so that a
/// run that lost every finding cannot pass.
#[track_caller]
fn assert_only_moves(repo: &TestRepo, base: &str, head: &str) {
    let (run, json) = json_diff(repo, &["--all-packages", base, head]);
    run.assert_code(0);
    assert_eq!(summary(&json).0, 0, "new escapes in {json:#}");
    assert_eq!(summary(&json).1, 0, "fixed escapes in {json:#}");
    let listed = |rev: &str| {
        let run = repo.run_untouched(&["list", "--format", "json", rev]);
        run.assert_code(0);
        list(&run.json(), "findings").len() as u64
    };
    let (in_base, in_head) = (listed(base), listed(head));
    assert!(in_base > 0, "the base has no heap escape to move");
    assert_eq!(in_base, in_head, "the head lost or gained escapes");
    let kept = json["summary"]["unchanged"].as_u64().expect("unchanged") + summary(&json).2;
    assert_eq!(
        kept, in_head,
        "every escape is unchanged or moved in {json:#}"
    );
    let text = repo.run_untouched(&["diff", base, head]);
    text.assert_code(0);
    assert!(
        text.stdout.starts_with("ok: no new heap escapes"),
        "{}",
        text.stdout
    );
}

#[test]
fn comments_inserted_above_report_nothing() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write(
        "a.go",
        &A_GO.replace(
            "// Keep stores",
            "// A long explanation,\n// over several lines,\n// pushing everything down.\n\n// Keep stores",
        ),
    );
    let head = repo.commit("comments");
    assert_only_moves(&repo, &base, &head);
}

#[test]
fn function_moved_down_the_file_reports_nothing() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    let keep = "// Keep stores a new T in a package variable, so it escapes.\nfunc Keep(a int) {\n\tsink = &T{A: a}\n}\n";
    assert!(A_GO.contains(keep));
    let moved = format!("{}\n{keep}", A_GO.replace(keep, ""));
    repo.write("a.go", &moved);
    let head = repo.commit("move Keep down");
    assert_only_moves(&repo, &base, &head);
}

#[test]
fn function_moved_to_another_file_of_the_package_reports_nothing() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    let address = "// Address returns the address of a local, which moves it to the heap.\nfunc Address(a int) *int {\n\tx := a * 2\n\treturn &x\n}\n";
    assert!(A_GO.contains(address));
    repo.write("a.go", &A_GO.replace(address, ""));
    repo.write("address.go", &format!("package m\n\n{address}"));
    let head = repo.commit("move Address to its own file");
    assert_only_moves(&repo, &base, &head);
}

/// The shape of bench/rename's `moves` rewrite (ACCURACY.md, "Moves"): every second
/// function moved into a new file under the same build constraint, the rest written in
/// the reverse order, with the same message in functions that move and functions that
/// stay. Nothing is new; one allocation added to a moved function is exactly one.
#[test]
fn every_second_function_moved_to_a_new_file_and_the_rest_reversed_reports_nothing() {
    let header = "//go:build !escape_gate_unset_tag\n\npackage m\n";
    let fns = [
        "func One(a int) {\n\tsink = &T{A: a}\n}\n",
        "func Two(a int) {\n\tsink = &T{A: a}\n}\n",
        "func (t *T) Three() string {\n\treturn fmt.Sprint(t.A)\n}\n",
        "// Four keeps a copy.\nfunc (t *T) Four() {\n\tsink = &T{B: t.B}\n}\n",
        "func Five(s string) {\n\tsink = strings.ToUpper(s)\n}\n",
    ];
    let base = format!(
        "{header}\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\ntype T struct{{ A, B int }}\n\nvar sink any\n\n{}",
        fns.join("\n")
    );
    let (repo, b) = TestRepo::go_module(&[("a.go", &base)]);
    let kept = format!(
        "{header}\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\ntype T struct{{ A, B int }}\n\nvar sink any\n\n{}",
        [fns[4], fns[2], fns[0]].join("\n")
    );
    repo.write("a.go", &kept);
    repo.write(
        "zzmoveda.go",
        &format!("{header}\n{}", [fns[1], fns[3]].join("\n")),
    );
    let moved = repo.commit("move every second function, reverse the rest");
    assert_only_moves(&repo, &b, &moved);

    repo.write(
        "zzmoveda.go",
        &format!(
            "{header}\n{}",
            [
                fns[1],
                &fns[3].replace("{\n", "{\n\tsink = new([64]byte)\n")
            ]
            .join("\n")
        ),
    );
    let escape = repo.commit("one new allocation in a moved function");
    let (run, json) = json_diff(&repo, &["--all-packages", &b, &escape]);
    run.assert_code(1);
    assert_eq!(summary(&json), (1, 0, 0, 0), "{json:#}");
    let new = list(&json, "new");
    assert_eq!(new[0]["file"], "zzmoveda.go", "{json:#}");
    assert_eq!(new[0]["function"], "(*T).Four", "{json:#}");
    assert!(
        new[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("new([64]byte) escapes to heap")),
        "{json:#}"
    );
}

#[test]
fn renamed_file_reports_nothing() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.rename("a.go", "types.go");
    let head = repo.commit("rename");
    assert_only_moves(&repo, &base, &head);
}

#[test]
fn one_added_escape_is_reported_once_with_its_function() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write(
        "a.go",
        &A_GO.replace("\treturn t.A + t.B\n", "\tsink = &t\n\treturn t.A + t.B\n"),
    );
    let head = repo.commit("keep t");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    let f = &new[0];
    assert_eq!(f["function"], "Local");
    assert_eq!(f["file"], "a.go");
    assert_eq!(f["package"], "example.com/m");
    assert_eq!(f["kind"], "moved_to_heap");
    assert_eq!(f["message"], "moved to heap: t");
    assert_eq!(f["line"], 22);
    assert_eq!(f["column"], 2);
    assert_eq!(f["source"], "t := T{A: a}");
    assert_eq!(summary(&json), (1, 0, 0, 0));
    assert_eq!(json["summary"]["base"]["commit"], base.as_str());
    assert_eq!(json["summary"]["head"]["commit"], head.as_str());
    assert!(json["summary"]["go_version"]
        .as_str()
        .is_some_and(|v| v.starts_with("go1.")));

    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(1);
    assert!(
        text.stdout
            .contains("new a.go:22:2 in Local\n    moved to heap: t\n    22 | t := T{A: a}\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("+example.com/m Local: moved to heap: t\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("1 new, 0 fixed, 0 moved, 0 allowed heap escapes"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_third_identical_escape_is_one_new_escape_at_its_line() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write(
        "a.go",
        &A_GO.replace(
            "\tsink = &T{}\n\tsink = &T{}\n",
            "\tsink = &T{}\n\tsink = &T{}\n\tsink = &T{}\n",
        ),
    );
    let head = repo.commit("third");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["function"], "Many");
    assert_eq!(new[0]["message"], "&T{} escapes to heap");
    // The diff inserted the line after the two old ones, whichever copy git calls new.
    let line = new[0]["line"].as_u64().expect("line");
    assert!((16..=18).contains(&line), "line {line}");
    assert_eq!(summary(&json), (1, 0, 0, 0));
}

#[test]
fn a_traded_escape_is_one_fixed_and_one_new() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write(
        "a.go",
        &A_GO.replace(
            "\tx := a * 2\n\treturn &x\n",
            "\tx := new(int)\n\t*x = a * 2\n\treturn x\n",
        ),
    );
    let head = repo.commit("fix");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let fixed = list(&json, "fixed");
    assert_eq!(fixed.len(), 1, "{json:#}");
    assert_eq!(fixed[0]["message"], "moved to heap: x");
    assert_eq!(fixed[0]["function"], "Address");
    // new(int) escapes too: the change traded one heap allocation for another.
    let new = list(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "new(int) escapes to heap");
}

#[test]
fn a_fixed_escape_alone_exits_zero_and_shows_with_show_fixed() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write("a.go", &A_GO.replace("\tsink = &T{A: a}\n", "\t_ = a\n"));
    let head = repo.commit("fix");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    assert_eq!(summary(&json), (0, 1, 0, 0));
    let plain = repo.run_untouched(&["diff", &base, &head]);
    plain.assert_code(0);
    assert!(!plain.stdout.contains("fixed a.go"), "{}", plain.stdout);
    let shown = repo.run_untouched(&["diff", "--show-fixed", &base, &head]);
    shown.assert_code(0);
    assert!(
        shown
            .stdout
            .contains("fixed a.go:11:9 in Keep\n    &T{...} escapes to heap\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("0 new, 1 fixed, 0 moved"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_renamed_function_is_moved_not_new() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.write(
        "a.go",
        &A_GO.replace("func Address(a int)", "func AddressOf(a int)"),
    );
    let head = repo.commit("rename");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    assert_eq!(summary(&json), (0, 0, 1, 0), "{json:#}");
    let moved = &list(&json, "moved")[0];
    assert_eq!(moved["function"], "AddressOf");
    assert_eq!(moved["from"]["function"], "Address");
}

#[test]
fn a_function_moved_to_another_package_is_moved_not_new() {
    let parse = "package a\n\ntype Doc struct{ Body string }\n\nvar last *Doc\n\nfunc Parse(s string) {\n\tlast = &Doc{Body: s}\n}\n";
    let (repo, base) = TestRepo::go_module(&[("a/a.go", parse), ("b/b.go", "package b\n")]);
    repo.write("a/a.go", "package a\n");
    repo.write(
        "b/b.go",
        "package b\n\n// moved here from package a\n\ntype Doc struct{ Body string }\n\nvar last *Doc\n\nfunc Parse(s string) {\n\tlast = &Doc{Body: s}\n}\n",
    );
    let head = repo.commit("move Parse to b");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    assert_eq!(summary(&json), (0, 0, 1, 0), "{json:#}");
    let moved = &list(&json, "moved")[0];
    assert_eq!(moved["package"], "example.com/m/b");
    assert_eq!(moved["from"]["package"], "example.com/m/a");
}

const GEN_GO: &str = r#"package gen

type Boxed[T any] struct{ V T }

// Box is generic and small enough to inline.
func Box[T any](v T) *Boxed[T] {
	return &Boxed[T]{V: v}
}

// Scratch allocates a buffer that never leaves the caller once inlined.
func Scratch(n int) int {
	b := make([]byte, 8)
	return len(b) + n
}
"#;

const USE_GO: &str = r#"package use

import "example.com/m/gen"

var kept *gen.Boxed[int]

func Ints() {
	kept = gen.Box(1)
}
"#;

/// Every copy the compiler prints is an allocation (docs/architecture.md, "How it works"): a generic
/// function instantiated with new shapes in a package is compiled there again, so its
/// allocations are new copies, counted in the compiling package. Inlined calls whose
/// allocation stays on the caller's stack, and the old caller moved to another file,
/// add nothing.
#[test]
fn new_generic_instantiations_are_new_copies_and_inlined_calls_that_stay_local_are_not() {
    let (repo, base) = TestRepo::go_module(&[("gen/gen.go", GEN_GO), ("use/use.go", USE_GO)]);
    // New instantiations with new shapes, used without escaping, in a new package and
    // in the old one; new inlined calls of an allocating function; the old caller
    // moved to another file.
    repo.write(
        "other/other.go",
        r#"package other

import "example.com/m/gen"

func Strings() int {
	b := gen.Box("s")
	f := gen.Box(2.5)
	return len(b.V) + int(f.V) + gen.Scratch(1)
}
"#,
    );
    repo.write(
        "use/use.go",
        "package use\n\nfunc Local() int {\n\treturn 1\n}\n",
    );
    repo.write(
        "use/ints.go",
        "package use\n\nimport \"example.com/m/gen\"\n\nvar kept *gen.Boxed[int]\n\nfunc Ints() {\n\tkept = gen.Box(1)\n\t_ = gen.Scratch(2) + len(gen.Box([]int{}).V)\n}\n",
    );
    let head = repo.commit("more instantiations");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert!(!new.is_empty(), "{json:#}");
    for f in new {
        assert_eq!(f["file"], "gen/gen.go", "{json:#}");
        assert_eq!(f["function"], "Box", "only Box's copies are new: {json:#}");
        let compiled = f["compiled_in"].as_str().unwrap_or_default();
        assert!(
            compiled == "example.com/m/other" || compiled == "example.com/m/use",
            "a copy is counted where it is compiled: {json:#}"
        );
    }
    let shapes = |package: &str| -> Vec<String> {
        let mut s: Vec<String> = new
            .iter()
            .filter(|f| f["compiled_in"] == package)
            .map(|f| f["expr"].as_str().unwrap_or_default().to_string())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    assert_eq!(
        shapes("example.com/m/other"),
        vec![
            "&gen.Boxed[go.shape.float64]{...}",
            "&gen.Boxed[go.shape.string]{...}"
        ]
    );
    assert!(list(&json, "fixed").is_empty(), "{json:#}");
}

#[test]
fn uncommitted_and_untracked_changes_are_seen() {
    let (repo, _) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.commit("base");
    // The working tree is the default head; on main without upstream the base is HEAD.
    let clean = repo.run_untouched(&["diff"]);
    clean.assert_code(0);

    repo.write(
        "a.go",
        &A_GO.replace("\treturn t.A + t.B\n", "\tsink = &t\n\treturn t.A + t.B\n"),
    );
    let (run, json) = json_diff(&repo, &[]);
    run.assert_code(1);
    assert_eq!(list(&json, "new")[0]["function"], "Local");
    assert_eq!(json["summary"]["head"]["commit"], Value::Null);

    repo.git(&["checkout", "--", "a.go"]);
    repo.write(
        "extra.go",
        "package m\n\nfunc Extra() *T {\n\tt := T{}\n\treturn &t\n}\n",
    );
    let (run, json) = json_diff(&repo, &[]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["file"], "extra.go");
    assert_eq!(new[0]["message"], "moved to heap: t");
}

#[test]
fn default_base_is_the_merge_base_with_main() {
    let (repo, _) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("b.go", "package m\n\nfunc B() *T {\n\treturn &T{A: 1}\n}\n");
    repo.commit("feature work");
    let (run, json) = json_diff(&repo, &[]);
    run.assert_code(1);
    assert_eq!(json["summary"]["base"]["spec"], "merge-base with main");
    assert_eq!(list(&json, "new")[0]["function"], "B");
}

#[test]
fn two_modules_in_one_repository() {
    let repo = TestRepo::new();
    repo.write("lib/go.mod", "module example.com/lib\n\ngo 1.22\n");
    repo.write("lib/lib.go", "package lib\n\nfunc Sum(xs []int) int {\n\tn := 0\n\tfor _, x := range xs {\n\t\tn += x\n\t}\n\treturn n\n}\n");
    repo.write("svc/go.mod", "module example.com/svc\n\ngo 1.22\n");
    repo.write(
        "svc/svc.go",
        "package svc\n\nvar last *int\n\nfunc Run() {\n\tx := 1\n\tlast = &x\n}\n",
    );
    crate::support::require_go();
    let base = repo.commit("two modules");
    repo.write("lib/lib.go", "package lib\n\nvar keep []int\n\nfunc Sum(xs []int) int {\n\tkeep = xs\n\tn := 0\n\tfor _, x := range xs {\n\t\tn += x\n\t}\n\treturn n\n}\n\nfunc Grow() *[]int {\n\ts := []int{1}\n\treturn &s\n}\n");
    let head = repo.commit("lib escapes");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert_eq!(new.len(), 2, "{json:#}");
    assert!(
        new.iter()
            .all(|f| f["package"] == "example.com/lib" && f["file"] == "lib/lib.go"),
        "{json:#}"
    );
    assert!(
        new.iter().any(|f| f["message"] == "moved to heap: s"),
        "{json:#}"
    );
}

#[test]
fn a_go_work_workspace() {
    let repo = TestRepo::new();
    repo.write("go.work", "go 1.22\n\nuse (\n\t./lib\n\t./svc\n)\n");
    repo.write("lib/go.mod", "module example.com/lib\n\ngo 1.22\n");
    repo.write("lib/lib.go", "package lib\n\ntype Conf struct{ N int }\n\nfunc New(n int) *Conf {\n\treturn &Conf{N: n}\n}\n");
    repo.write(
        "svc/go.mod",
        "module example.com/svc\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n",
    );
    repo.write(
        "svc/svc.go",
        "package svc\n\nimport \"example.com/lib\"\n\nfunc Run() int {\n\treturn lib.New(1).N\n}\n",
    );
    crate::support::require_go();
    let base = repo.commit("workspace");
    repo.write("svc/svc.go", "package svc\n\nimport \"example.com/lib\"\n\nvar current *lib.Conf\n\nfunc Run() int {\n\tcurrent = lib.New(1)\n\treturn current.N\n}\n");
    let head = repo.commit("svc keeps its conf");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = list(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["package"], "example.com/svc");
    assert_eq!(new[0]["file"], "svc/svc.go");
    assert_eq!(new[0]["function"], "Run");
    assert_eq!(new[0]["message"], "&lib.Conf{...} escapes to heap");
}

#[test]
fn test_only_and_constraint_excluded_packages_are_skipped_like_go_build_does() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", A_GO),
        (
            "it/it_test.go",
            "package it\n\nimport \"testing\"\n\nfunc TestIt(t *testing.T) {}\n",
        ),
        (
            "plan9only/p.go",
            "//go:build plan9\n\npackage plan9only\n\nvar P = new(int)\n",
        ),
    ]);
    repo.write(
        "a.go",
        &A_GO.replace("\treturn t.A + t.B\n", "\tsink = &t\n\treturn t.A + t.B\n"),
    );
    let head = repo.commit("escape");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    assert_eq!(summary(&json).0, 1, "{json:#}");
    assert_eq!(json["summary"]["packages"], 1, "{json:#}");
}

/// "0 moved" on a change that moved code is explained where it is printed: the text
/// report and the Markdown summary note the escapes that changed place within their
/// function; `diff --help` and `merge --help` define every count of the closing line,
/// and the JSON schema describes every count of `summary`.
#[test]
fn every_count_is_explained_where_it_is_printed() {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    let address = "// Address returns the address of a local, which moves it to the heap.\nfunc Address(a int) *int {\n\tx := a * 2\n\treturn &x\n}\n";
    repo.write("a.go", &A_GO.replace(address, ""));
    repo.write("address.go", &format!("package m\n\n{address}"));
    let head = repo.commit("move Address to its own file");

    let note = "note: 1 heap escape changed line or file, not function: unchanged, not moved (see `escape-gate diff --help`)\n";
    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(0);
    let counts = text
        .stdout
        .lines()
        .find(|l| l.starts_with("0 new, "))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(
        counts.starts_with("0 new, 0 fixed, 0 moved, 0 allowed heap escapes · "),
        "{counts}"
    );
    assert!(
        text.stdout.contains(&format!("{counts}\n{note}")),
        "the note follows the counts:\n{}",
        text.stdout
    );
    let markdown = repo.run_untouched(&["diff", "--format", "markdown", &base, &head]);
    markdown.assert_code(0);
    assert!(
        markdown
            .stdout
            .contains("> 1 heap escape changed line or file, not function"),
        "{}",
        markdown.stdout
    );
    // Nothing changed place: no note.
    repo.write(
        "a.go",
        &A_GO
            .replace(address, "")
            .replace("\tsink = &T{}\n\tsink = &T{}\n", "\tsink = &T{}\n"),
    );
    let fewer = repo.commit("one T fewer");
    let text = repo.run_untouched(&["diff", &head, &fewer]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("0 new, 1 fixed, 0 moved"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("note: "), "{}", text.stdout);

    // The legend: each count of the closing line, defined in --help.
    let words: Vec<&str> = counts
        .split(" heap escapes")
        .next()
        .expect("counts")
        .split(", ")
        .map(|c| c.split_once(' ').expect("N word").1)
        .collect();
    assert_eq!(words, ["new", "fixed", "moved", "allowed"]);
    for command in ["diff", "merge"] {
        let help = repo.run(&[command, "--help"]);
        help.assert_code(0);
        for word in &words {
            assert!(
                help.stdout.contains(&format!("\n  {word:<10} ")),
                "`{command} --help` does not define {word}:\n{}",
                help.stdout
            );
        }
        assert!(help.stdout.contains("unchanged"), "{}", help.stdout);
    }
    // The schema: every count, and everything else of the summary, described.
    let schema: Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).expect("JSON");
    let summary = &schema["$defs"]["Summary"]["properties"];
    for (key, property) in summary.as_object().expect("properties") {
        let description = property["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "summary.{key} has no description");
    }
    for word in words.iter().chain(&["unchanged"]) {
        assert!(summary.get(*word).is_some(), "summary.{word}");
    }
    assert!(
        summary["moved"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("0 moved")),
        "the schema says when moved is 0"
    );
}
