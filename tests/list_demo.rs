//! `escape-gate list` and `escape-gate demo`, and the command line's basics.

use crate::support::{escape_gate, require_go, Run, TestRepo};

const SHAPES_GO: &str = r#"package shapes

type Point struct{ X, Y int }

var origin *Point

func Reset() {
	origin = &Point{}
}

func Pair() (*Point, *Point) {
	a := Point{1, 2}
	b := Point{3, 4}
	return &a, &b
}
"#;

#[test]
fn list_groups_by_package_and_function_with_counts() {
    let (repo, _) = TestRepo::go_module(&[("shapes/shapes.go", SHAPES_GO)]);
    repo.commit("shapes");
    let run = repo.run_untouched(&["list"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "example.com/m/shapes (3)\n  Pair (2)\n    shapes/shapes.go:12:2: moved to heap: a\n    shapes/shapes.go:13:2: moved to heap: b\n  Reset (1)\n    shapes/shapes.go:8:11: &Point{} escapes to heap\n"
    );
    assert!(
        run.stderr
            .contains("3 heap escapes in working tree · 1 package · "),
        "{}",
        run.stderr
    );

    let json = repo.run_untouched(&["list", "--format", "json", "HEAD"]);
    json.assert_code(0);
    let value = json.json();
    assert_eq!(value["findings"].as_array().expect("findings").len(), 3);
    assert_eq!(value["revision"], "HEAD");
}

#[test]
fn demo_finds_exactly_one_new_escape_and_cleans_up() {
    require_go();
    let tmp = tempfile::tempdir().expect("temp");
    let output = escape_gate()
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .output()
        .expect("run demo");
    let run = Run::from_output(output);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("new report/report.go:22:2 in Summary\n    moved to heap: out\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("1 new, 0 fixed, 0 moved, 0 allowed heap escapes"),
        "{}",
        run.stdout
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("read").collect();
    assert!(left.is_empty(), "the demo left {left:?} behind");
}

#[test]
fn help_and_version() {
    let run = Run::from_output(escape_gate().arg("--help").output().expect("run"));
    run.assert_code(0);
    for word in ["diff", "list", "demo", "Exit codes"] {
        assert!(
            run.stdout.contains(word),
            "{word} missing from {}",
            run.stdout
        );
    }
    let run = Run::from_output(escape_gate().arg("--version").output().expect("run"));
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        format!("escape-gate {}\n", env!("CARGO_PKG_VERSION"))
    );
    let run = Run::from_output(
        escape_gate()
            .args(["diff", "--format", "yaml"])
            .output()
            .expect("run"),
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("invalid value 'yaml'"),
        "{}",
        run.stderr
    );
}

/// `list` says what `diff` says about lines it does not recognise (here a C compiler
/// warning from a cgo preamble, printed during a successful build): nothing the
/// compiler printed is dropped without a word.
#[test]
fn list_warns_about_lines_it_does_not_recognise() {
    let (repo, _) = TestRepo::go_module(&[(
        "cg/cg.go",
        "package cg\n\n/*\n#warning \"escape-gate test warning\"\nstatic int add(int a, int b) { return a + b; }\n*/\nimport \"C\"\n\n// Add adds.\nfunc Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }\n",
    )]);
    let run = repo.run_untouched(&["list", "HEAD"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("warning: the compiler printed")
            && run.stderr.contains("escape-gate test warning"),
        "{}",
        run.stderr
    );
}
