//! `diff --explain` and `escape-gate explain` on real compiler output: the common
//! causes of an escape each come with the flow that explains them, positions are
//! repository-relative, and a step on a line the change touched is marked.

use serde_json::Value;

use crate::support::{escape_gate, Run, TestRepo};

const BASE_GO: &str = "package m\n\ntype T struct{ A, B int }\n";

/// One function per common cause of a heap escape. Line numbers matter below.
const CAUSES_GO: &str = r#"package m

type T struct{ A, B int }

var sinkp *int

var saved any

var all []int

// NewT returns the address of a local.
func NewT(a int) *T {
	t := T{A: a}
	return &t
}

// Store stores the address of a local into a global.
func Store(a int) {
	x := a
	sinkp = &x
}

//go:noinline
func keep(v any) {
	saved = v
}

// Box converts to an interface and passes it to a function that keeps it.
func Box(n int) {
	keep(n)
}

// Counter's closure captures c.
func Counter() func() int {
	c := 0
	return func() int {
		c++
		return c
	}
}

// Add appends to a slice that escapes.
func Add(v int) {
	s := make([]int, 0, 4)
	s = append(s, v)
	all = s
}
"#;

fn new_escapes(json: &Value) -> &Vec<Value> {
    json["new"].as_array().expect("new is an array")
}

/// The flow of one new escape as the text report shows it: each step's `text`, and
/// `  [changed]` after the steps whose `changed` is true.
fn flow_of(json: &Value, line: u64, message: &str) -> Vec<String> {
    let f = new_escapes(json)
        .iter()
        .find(|f| f["line"] == line && f["message"] == message)
        .unwrap_or_else(|| panic!("no new escape {message:?} at line {line} in {json:#}"));
    f["flow"]
        .as_array()
        .unwrap_or_else(|| panic!("no flow for {message:?} in {json:#}"))
        .iter()
        .map(|s| {
            let text = s["text"].as_str().expect("flow step text");
            match s["changed"].as_bool().expect("flow step changed") {
                true => format!("{text}  [changed]"),
                false => text.to_string(),
            }
        })
        .collect()
}

#[track_caller]
fn assert_steps(flow: &[String], wanted: &[&str]) {
    for want in wanted {
        assert!(
            flow.iter()
                .any(|step| step.trim_start().trim_end_matches("  [changed]") == *want),
            "no step {want:?} in {flow:#?}"
        );
    }
}

#[test]
fn common_causes_are_explained() {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.commit("base");
    repo.write("a.go", CAUSES_GO);
    let head = repo.commit("head");

    // Without --explain there is no flow (and no second build).
    let plain = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    plain.assert_code(1);
    assert!(
        new_escapes(&plain.json())
            .iter()
            .all(|f| f.get("flow").is_none()),
        "{}",
        plain.stdout
    );

    let run = repo.run_untouched(&["diff", "--explain", "--format", "json", &base, &head]);
    run.assert_code(1);
    let json = run.json();

    // Returning the address of a local.
    let flow = flow_of(&json, 13, "moved to heap: t");
    assert_steps(
        &flow,
        &[
            "flow: ~r0 ← &t",
            "from &t (address-of) at a.go:14",
            "from return &t (return) at a.go:14",
        ],
    );
    // Storing into a global.
    let flow = flow_of(&json, 19, "moved to heap: x");
    assert_steps(
        &flow,
        &[
            "flow: {heap} ← &x",
            "from &x (address-of) at a.go:20",
            "from sinkp = &x (assign) at a.go:20",
        ],
    );
    // Interface conversion passed to a function that keeps it.
    let flow = flow_of(&json, 30, "n escapes to heap");
    // The boxed copy of n (its storage) goes to the heap through keep's parameter.
    assert!(flow[0].starts_with("flow: {heap} ← "), "{flow:#?}");
    assert!(
        flow.iter()
            .any(|s| s.contains("keep(n) (call parameter) at a.go:30")),
        "{flow:#?}"
    );
    // Closure capture.
    let flow = flow_of(&json, 35, "moved to heap: c");
    assert_steps(&flow, &["from c (captured by a closure) at a.go:37"]);
    // Append to a slice that escapes.
    let flow = flow_of(&json, 44, "make([]int, 0, 4) escapes to heap");
    // (The compiler leaves the self-assignment `s = append(s, v)` out of the flow.)
    assert_steps(&flow, &["from s := make([]int, 0, 4) (assign) at a.go:44"]);
    assert!(
        flow.iter()
            .any(|s| s.contains("all = s (assign) at a.go:46")),
        "{flow:#?}"
    );
    // Every flow position is repository-relative and nothing in a.go is unchanged
    // (the file is new), so every placed step is marked.
    for f in new_escapes(&json) {
        for step in f["flow"]
            .as_array()
            .expect("every new escape here has a flow")
        {
            let text = step["text"].as_str().expect("step text");
            assert!(!text.contains("example.com/m/"), "{step}");
            assert!(!text.contains("[changed]"), "{step}");
            if text.contains(" at a.go:") {
                assert_eq!(step["changed"], true, "{step}");
            }
        }
    }

    // The text report shows the same under each escape.
    let text = repo.run_untouched(&["diff", "--explain", &base, &head]);
    text.assert_code(1);
    assert!(
        text.stdout.contains(
            "new a.go:13:2 in NewT\n    moved to heap: t\n    13 | t := T{A: a}\n    why (the compiler's escape flow, -m=2):\n      flow: ~r0 ← &t\n        from &t (address-of) at a.go:14  [changed]\n"
        ),
        "{}",
        text.stdout
    );
}

const KEEP_BASE: &str = r#"package m

var sinkp *int

// Keep takes the address of a local but does not let it out.
func Keep(a int) int {
	x := a
	p := &x
	_ = p
	return x
}
"#;

/// The escape is reported at `x := a`, a line the change did not touch; the flow
/// points at the line that did.
#[test]
fn a_flow_through_a_changed_line_is_marked() {
    let repo = TestRepo::go_module(&[("a.go", KEEP_BASE)]);
    let base = repo.commit("base");
    repo.write("a.go", &KEEP_BASE.replace("\t_ = p\n", "\tsinkp = p\n"));
    let run = repo.run_untouched(&["diff", "--explain", "--format", "json", &base]);
    run.assert_code(1);
    let json = run.json();
    assert_eq!(new_escapes(&json).len(), 1, "{json:#}");
    let flow = flow_of(&json, 7, "moved to heap: x");
    assert_eq!(
        flow,
        [
            "flow: p ← &x",
            "  from &x (address-of) at a.go:8",
            "  from p := &x (assign) at a.go:8",
            "flow: {heap} ← p",
            "  from sinkp = p (assign) at a.go:9  [changed]",
        ]
    );
}

#[test]
fn explain_shows_the_escapes_at_one_line() {
    let repo = TestRepo::go_module(&[
        ("a.go", CAUSES_GO),
        (
            "sub/s.go",
            "package sub\n\nvar P *int\n\nfunc S() {\n\tv := 1\n\tP = &v\n}\n",
        ),
    ]);
    let commit = repo.commit("causes");
    // An uncommitted edit: the default revision is the working tree.
    repo.write(
        "a.go",
        &CAUSES_GO.replace("\tt := T{A: a}\n", "\tt := T{A: a + 1}\n"),
    );

    let run = repo.run_untouched(&["explain", "a.go:13"]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(
            "1 heap escape at a.go:13 in working tree\n\na.go:13:2 in NewT\n    moved to heap: t\n    13 | t := T{A: a + 1}\n    why (the compiler's escape flow, -m=2):\n      flow: ~r0 ← &t\n        from &t (address-of) at a.go:14\n        from return &t (return) at a.go:14\n"
        ),
        "{}",
        run.stdout
    );
    // FILE:LINE:COL as diff prints it, a committed revision, a package in a subdirectory, JSON.
    let run = repo.run_untouched(&["explain", "sub/s.go:6:2", &commit, "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["package"], "example.com/m/sub");
    assert_eq!(json["source"], "v := 1");
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["message"], "moved to heap: v");
    assert_eq!(
        findings[0]["flow"][2],
        serde_json::json!({"text": "  from P = &v (assign) at sub/s.go:7", "changed": false})
    );

    // A line without escapes says so; a line past the end is an error.
    let run = repo.run_untouched(&["explain", "a.go:3"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("no heap escapes at a.go:3 in working tree\n"),
        "{}",
        run.stdout
    );
    let run = repo.run_untouched(&["explain", "a.go:999"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("there is no line 999"),
        "{}",
        run.stderr
    );
    let run = repo.run_untouched(&["explain", "a.go"]);
    run.assert_code(2);
}

/// `explain` takes paths as `diff` is run: from a subdirectory, a path relative to it
/// (or the repository-relative one a report printed), an absolute path inside the
/// repository; a path outside it is exit 2, naming it.
#[test]
fn explain_takes_paths_from_the_current_directory() {
    let repo = TestRepo::go_module(&[
        ("a.go", CAUSES_GO),
        (
            "sub/s.go",
            "package sub\n\nvar P *int\n\nfunc S() {\n\tv := 1\n\tP = &v\n}\n",
        ),
    ]);
    let in_dir = |dir: &std::path::Path, args: &[&str]| {
        let before = repo.snapshot();
        let mut all = vec!["explain"];
        all.extend_from_slice(args);
        let run = Run::from_output(
            escape_gate()
                .args(&all)
                .current_dir(dir)
                .output()
                .expect("run escape-gate"),
        );
        before.assert_same(&repo.snapshot(), &run);
        run
    };
    let sub = repo.path().join("sub");
    let want =
        "1 heap escape at sub/s.go:6 in working tree\n\nsub/s.go:6:2 in S\n    moved to heap: v\n";
    let absolute = sub.join("s.go");
    let absolute = format!("{}:6", absolute.to_str().expect("utf-8"));
    for (dir, location) in [
        (&sub, "s.go:6"),
        (&sub, "./s.go:6:2"),
        (&sub, "sub/s.go:6"),
        (&sub, absolute.as_str()),
        (&repo.path().to_path_buf(), absolute.as_str()),
    ] {
        let run = in_dir(dir, &[location]);
        run.assert_code(0);
        assert!(
            run.stdout.starts_with(want),
            "{location} in {}: {}",
            dir.display(),
            run.stdout
        );
    }
    // `..` from the subdirectory, to a file at the root.
    let run = in_dir(&sub, &["../a.go:13"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("1 heap escape at a.go:13 in working tree\n"),
        "{}",
        run.stdout
    );

    // Outside the repository: exit 2, the path and the repository named, nothing read.
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("x.go"), "package x\n").expect("write");
    let path = outside.path().join("x.go");
    let path = path.to_str().expect("utf-8");
    let root = repo.path().canonicalize().expect("canonical");
    for location in [format!("{path}:1"), "../../x.go:1".to_string()] {
        let run = in_dir(&sub, &[&location]);
        run.assert_code(2);
        let file = location.trim_end_matches(":1");
        assert!(
            run.stderr
                .starts_with(&format!("error: {file} is outside the repository ")),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&root.display().to_string()),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
    }
    // A file of the subdirectory that does not exist: named as it was looked for.
    let run = in_dir(&sub, &["nope.go:1"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .starts_with("error: sub/nope.go is not a readable file in working tree"),
        "{}",
        run.stderr
    );
}
