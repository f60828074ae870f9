//! The end-to-end essentials, small enough to run under every supported Go release:
//! one new escape, code that moved (silent), a fixed escape, a build that fails.
//! `.ci/go-versions` runs this module once per Go minor version with that toolchain
//! first on PATH and `EG_EXPECT_GO` naming it, so that the report's Go version proves
//! which compiler ran.

use serde_json::Value;

use crate::support::{Run, TestRepo};

const BASE_GO: &str = "package m

var sink *int

// Keep stores the address of a local in a package variable.
func Keep(a int) {
\tx := a
\tsink = &x
}

// Local keeps its value on the stack.
func Local(a int) int {
\ty := a
\treturn y * 2
}
";

fn diff(repo: &TestRepo, base: &str, head: &str, code: i32) -> Value {
    let run = repo.run(&["diff", "--format", "json", base, head]);
    run.assert_code(code);
    let report = run.json();
    if let Ok(want) = std::env::var("EG_EXPECT_GO") {
        assert_eq!(report["summary"]["go_version"], want.as_str(), "{report:#}");
    }
    report
}

fn messages(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["function"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_new_escape_fails_the_gate() {
    let (repo, base) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write(
        "a.go",
        &BASE_GO.replace(
            "\ty := a\n\treturn y * 2",
            "\ty := a\n\tsink = &y\n\treturn y * 2",
        ),
    );
    let head = repo.commit("Local lets y escape");
    let report = diff(&repo, &base, &head, 1);
    assert_eq!(
        messages(&report, "new"),
        ["Local moved to heap: y"],
        "{report:#}"
    );
    assert_eq!(report["new"][0]["kind"], "moved_to_heap");
    assert_eq!(report["new"][0]["line"], 13);
}

#[test]
fn code_that_moved_is_silent() {
    let (repo, base) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    // Keep goes to a file of its own below some new code; a.go is renamed.
    repo.remove("a.go");
    repo.write(
        "local.go",
        "package m\n\n// Local keeps its value on the stack.\nfunc Local(a int) int {\n\ty := a\n\treturn y * 2\n}\n",
    );
    repo.write(
        "keep.go",
        "package m\n\nvar sink *int\n\n// Twice is new and keeps its value on the stack.\nfunc Twice(a int) int {\n\treturn a * 2\n}\n\n// Keep stores the address of a local in a package variable.\nfunc Keep(a int) {\n\tx := a\n\tsink = &x\n}\n",
    );
    let head = repo.commit("move Keep");
    let report = diff(&repo, &base, &head, 0);
    assert!(messages(&report, "new").is_empty(), "{report:#}");
    assert!(messages(&report, "fixed").is_empty(), "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 1, "{report:#}");
}

#[test]
fn a_fixed_escape_is_reported_and_passes() {
    let (repo, base) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write(
        "a.go",
        &BASE_GO.replace("\tx := a\n\tsink = &x", "\tx := a\n\tsink = nil\n\t_ = x"),
    );
    let head = repo.commit("Keep no longer escapes");
    let report = diff(&repo, &base, &head, 0);
    assert_eq!(
        messages(&report, "fixed"),
        ["Keep moved to heap: x"],
        "{report:#}"
    );
    let text = repo.run(&["diff", "--show-fixed", &base, &head]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("fixed a.go:7:2 in Keep"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_build_that_fails_is_exit_2_with_the_compiler_errors() {
    let (repo, base) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write(
        "b.go",
        "package m\n\nfunc Broken() int { return undefinedName }\n",
    );
    let head = repo.commit("does not build");
    let run: Run = repo.run(&["diff", "--format", "json", &base, &head]);
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "no report: {}", run.stdout);
    assert!(run.stderr.contains("does not build"), "{}", run.stderr);
    assert!(
        run.stderr.contains("b.go:3:28: undefined: undefinedName"),
        "{}",
        run.stderr
    );
}
