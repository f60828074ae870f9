//! No line escape-gate prints is an error to `actions/setup-go`'s problem matcher, in
//! any format, on real repositories: a new escape (with a moved function, a fixed
//! escape and a stale allowlist entry around it), a C compiler's warning the report
//! quotes, and builds that fail, whose compiler errors are relayed. The relayed errors are meant as errors, but not as annotations
//! at their paths: those are relative to a module directory of escape-gate's
//! temporary checkout (see `src/report/problem_matcher.rs`), so none may match.

use regex::Regex;

use crate::support::{formats, Run, TestRepo};

/// setup-go's matchers.json, verbatim.
const SETUP_GO: &str = r"^\s*(\.{0,2}[\/\\].+\.go):(?:(\d+):(\d+):)? (.*)";

#[track_caller]
fn assert_no_line_matches(what: &str, run: &Run) {
    let re = Regex::new(SETUP_GO).expect("regex");
    for line in run.stdout.lines().chain(run.stderr.lines()) {
        assert!(
            !re.is_match(line),
            "{what}: setup-go would annotate {line:?}\nstdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn reports_of_a_new_escape_never_match() {
    let repo = TestRepo::go_module(&[
        (
            "a.go",
            "package m\n\nvar sink *int\n\nfunc Old(a int) {\n\ty := a\n\tsink = &y\n}\n\nfunc Mover(a int) {\n\tz := a\n\tsink = &z\n}\n",
        ),
        ("sub/s.go", "package sub\n\nfunc S() int { return 1 }\n"),
    ]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"gone/*.go\"\n    reason: \"stale\"\n",
    );
    // Old's escape fixed, Mover moved to another file, Keep new.
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Old(a int) int {\n\ty := a\n\treturn y\n}\n\nfunc Keep(a int) {\n\tx := a\n\tsink = &x\n}\n",
    );
    repo.write(
        "b.go",
        "package m\n\nfunc Mover(a int) {\n\tz := a\n\tsink = &z\n}\n",
    );
    let head = repo.commit("head");

    for format in formats() {
        let format = format.as_str();
        let run = repo.run(&["diff", "--format", format, "--show-fixed", &base, &head]);
        run.assert_code(1);
        assert_no_line_matches(format, &run);
    }
    let explained = repo.run(&["diff", "--explain", &base, &head]);
    explained.assert_code(1);
    assert!(explained.stdout.contains("flow:"), "{}", explained.stdout);
    assert_no_line_matches("text --explain", &explained);
    for args in [
        vec!["list", head.as_str()],
        vec!["explain", "a.go:11", head.as_str()],
    ] {
        let run = repo.run(&args);
        run.assert_code(0);
        assert_no_line_matches(&args.join(" "), &run);
    }
}

#[test]
fn relayed_compiler_errors_never_match() {
    let repo = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc A() int { return 1 }\n"),
        ("sub/s.go", "package sub\n\nfunc S() int { return 1 }\n"),
    ]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    // The compiler names the root package's files `./b.go`, the others `sub/s.go`.
    repo.write("b.go", "package m\n\nfunc B() { y }\n");
    repo.write(
        "sub/s.go",
        "package sub\n\nfunc S() int { return undefined }\n",
    );
    let head = repo.commit("does not build");

    for format in formats() {
        let format = format.as_str();
        let run = repo.run(&["diff", "--format", format, &base, &head]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("does not build"),
            "{format}: {}",
            run.stderr
        );
        // The errors are still shown, by a path that means the same.
        assert!(
            run.stderr.contains("\n  b.go:3:12: undefined: y\n"),
            "{format}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("\n  sub/s.go:3:23: undefined: undefined\n"),
            "{format}: {}",
            run.stderr
        );
        assert_no_line_matches(format, &run);
    }
    // The same for the base side, and for `list`.
    for args in [
        vec!["diff", head.as_str(), base.as_str()],
        vec!["list", head.as_str()],
    ] {
        let run = repo.run(&args);
        run.assert_code(2);
        assert_no_line_matches(&args.join(" "), &run);
    }
}

/// A cgo preamble's `#warning`: the C compiler prints it during a successful build as
/// `./cg.go:4:2: warning: …`, and escape-gate quotes it in a warning, in every format
/// and in `list`.
#[test]
fn quoted_compiler_warnings_never_match() {
    let cgo = "package m\n\n/*\n#warning \"escape-gate test warning\"\nstatic int add(int a, int b) { return a + b; }\n*/\nimport \"C\"\n\n// Add adds.\nfunc Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }\n";
    let repo = TestRepo::go_module(&[("cg.go", cgo)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "cg.go",
        &format!("{cgo}\nvar sink *int\n\nfunc Keep(a int) {{\n\tx := a\n\tsink = &x\n}}\n"),
    );
    let head = repo.commit("an escape");
    // First: the C compiler runs only on a build the Go build cache does not hold.
    let list = repo.run(&["list", &head]);
    list.assert_code(0);
    assert!(
        list.stderr.contains("\n    cg.go:4:2: warning: #warning"),
        "{}",
        list.stderr
    );
    assert_no_line_matches("list", &list);
    for format in formats() {
        let format = format.as_str();
        let run = repo.run(&["diff", "--format", format, &base, &head]);
        run.assert_code(1);
        if format != "sarif" {
            assert!(
                run.stdout.contains("escape-gate test warning"),
                "{format}: the warning is shown: {}",
                run.stdout
            );
        }
        assert_no_line_matches(format, &run);
    }
}
