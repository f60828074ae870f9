//! The checks beyond heap escapes (`--checks`, `checks:`), the variable-size `make`
//! kind and `//gcassert:` directives, end to end on real Go code.

use serde_json::Value;

use crate::support::TestRepo;

const ALL: &str = "escapes,variable-make,inlining,bounds";

/// Commits `base`, then `head`, and runs `diff --format json` on the two commits.
fn compare(base: &[(&str, &str)], head: &[(&str, &str)], args: &[&str], code: i32) -> Value {
    let (repo, base_commit) = TestRepo::go_module(base);
    for (path, text) in head {
        repo.write(path, text);
    }
    let head_commit = repo.commit("head");
    let mut full = vec!["diff", "--format", "json", &base_commit, &head_commit];
    full.extend_from_slice(args);
    let run = repo.run(&full);
    run.assert_code(code);
    run.json()
}

/// `kind function expr` of each new finding.
fn new(report: &Value) -> Vec<String> {
    report["new"]
        .as_array()
        .expect("new is an array")
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["kind"].as_str().unwrap_or(""),
                f["function"].as_str().unwrap_or(""),
                f["expr"].as_str().unwrap_or("")
            )
        })
        .collect()
}

const SMALL: &str = "package m

// Small is well under the inlining budget.
func Small(x int) int {
\treturn x*3 + 1
}

func Caller(x int) int {
\treturn Small(x) + 2
}
";

/// Small, grown past the budget of 80.
const GROWN: &str = "package m

// Small is well under the inlining budget.
func Small(x int) int {
\ts := 0
\tfor i := 0; i < x; i++ {
\t\tfor j := 0; j < i; j++ {
\t\t\ts += i * j
\t\t\tif s > 1000 {
\t\t\t\ts -= 7; s *= 3; s /= 2; s += x; s -= i; s ^= j; s |= 4
\t\t\t}
\t\t\tswitch s % 7 {
\t\t\tcase 1: s++
\t\t\tcase 2: s--
\t\t\tcase 3: s += 2
\t\t\tcase 4: s -= 2
\t\t\t}
\t\t}
\t}
\treturn s
}

func Caller(x int) int {
\treturn Small(x) + 2
}
";

#[test]
fn a_function_that_grows_past_the_budget() {
    let report = compare(
        &[("a.go", SMALL)],
        &[("a.go", GROWN)],
        &["--checks", ALL],
        1,
    );
    assert_eq!(
        new(&report),
        vec!["not_inlinable Small Small"],
        "{report:#}"
    );
    let message = report["new"][0]["message"].as_str().expect("a message");
    assert!(
        message.starts_with("cannot inline Small: function too complex: cost")
            && message.contains("exceeds budget 80"),
        "the compiler's reason: {message}"
    );
    assert_eq!(
        report["checks"],
        serde_json::json!(["escapes", "inlining", "bounds", "variable-make", "gcassert"])
    );
    // The default checks do not look at inlining.
    let report = compare(&[("a.go", SMALL)], &[("a.go", GROWN)], &[], 0);
    assert_eq!(new(&report), Vec::<String>::new(), "{report:#}");
    // The fixed side: back under the budget.
    let report = compare(
        &[("a.go", GROWN)],
        &[("a.go", SMALL)],
        &["--checks", "inlining", "--show-fixed"],
        0,
    );
    let fixed: Vec<&str> = report["fixed"]
        .as_array()
        .expect("fixed")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert_eq!(fixed, vec!["not_inlinable"], "{report:#}");
}

const CALL_BASE: &str = "package m

func Leaf(x int) int {
\treturn x + 1
}

func Caller(x int) int {
\treturn Leaf(x) * 2
}
";

#[test]
fn a_call_site_that_stops_being_inlined() {
    // Caller's call to Leaf is on an unchanged line; Leaf is now marked noinline.
    let head = CALL_BASE.replace("func Leaf", "//go:noinline\nfunc Leaf");
    let report = compare(
        &[("a.go", CALL_BASE)],
        &[("a.go", &head)],
        &["--checks", "inlining"],
        1,
    );
    let got = new(&report);
    // Leaf itself is no longer inlinable ("marked go:noinline"): that finding says it,
    // and the call sites of a function that lost inlinability are not repeated.
    assert_eq!(got, vec!["not_inlinable Leaf Leaf"], "{report:#}");
}

#[test]
fn a_call_site_on_an_unchanged_line_that_is_no_longer_inlined() {
    // Caller calls Leaf on a line the change leaves alone; the head makes T an
    // interface, so the same call is dynamic and no longer inlined.
    let base = "package m

type T struct{}

func (T) Leaf(x int) int { return x + 1 }

func Caller(t T, x int) int {
\treturn t.Leaf(x) * 2
}
";
    let head = "package m

type T interface{ Leaf(int) int }

type impl struct{}

func (impl) Leaf(x int) int { return x + 1 }

func Caller(t T, x int) int {
\treturn t.Leaf(x) * 2
}
";
    let report = compare(
        &[("a.go", base)],
        &[("a.go", head)],
        &["--checks", "inlining"],
        1,
    );
    let got = new(&report);
    assert_eq!(got.len(), 1, "{report:#}");
    assert!(got[0].starts_with("not_inlined Caller "), "{got:?}");
    let f = &report["new"][0];
    assert_eq!(f["line"], 10, "{report:#}");
    assert!(f["message"]
        .as_str()
        .unwrap_or("")
        .contains("no longer inlined"));
}

const BOUNDED: &str = "package m

func Third(xs []int) int {
\tif len(xs) < 3 {
\t\treturn 0
\t}
\treturn xs[2]
}
";

#[test]
fn a_removed_length_check_adds_a_bounds_check() {
    let head = "package m

func Third(xs []int) int {
\treturn xs[2]
}
";
    let report = compare(
        &[("a.go", BOUNDED)],
        &[("a.go", head)],
        &["--checks", "bounds"],
        1,
    );
    assert_eq!(
        new(&report),
        vec!["bounds_check Third IsInBounds"],
        "{report:#}"
    );
    assert_eq!(report["new"][0]["line"], 4);
    // Escapes alone: nothing.
    compare(&[("a.go", BOUNDED)], &[("a.go", head)], &[], 0);
}

#[test]
fn moved_and_commented_code_is_silent_with_every_check() {
    let base = "package m

var sink *int

func Keep(a int) {
\tx := a
\tsink = &x
}

func Third(xs []int, i int) int {
\treturn xs[i] + Small(i)
}

func Small(x int) int { return x + 1 }

func Buf(n int) int {
\tb := make([]byte, n)
\treturn len(b)
}
";
    // Everything moved to another file, below new comments, in another order.
    let moved = "package m

// Small adds one.
func Small(x int) int { return x + 1 }

// Buf makes a buffer.
func Buf(n int) int {
\tb := make([]byte, n)
\treturn len(b)
}

// Third indexes.
func Third(xs []int, i int) int {
\treturn xs[i] + Small(i)
}

var sink *int

// Keep keeps.
func Keep(a int) {
\tx := a
\tsink = &x
}
";
    let (repo, base_commit) = TestRepo::go_module(&[("a.go", base)]);
    repo.remove("a.go");
    repo.write("moved.go", moved);
    let head_commit = repo.commit("move");
    let run = repo.run(&[
        "diff",
        "--format",
        "json",
        "--checks",
        ALL,
        &base_commit,
        &head_commit,
    ]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(new(&report), Vec::<String>::new(), "{report:#}");
}

#[test]
fn checks_from_the_allowlist_and_a_head_that_turns_one_off() {
    let config_on = "version: 1\nchecks: [escapes, bounds]\n";
    let head_code = "package m

func Third(xs []int) int {
\treturn xs[2]
}
";
    let report = compare(
        &[("a.go", BOUNDED), (".escape-gate.yml", config_on)],
        &[("a.go", head_code)],
        &[],
        1,
    );
    assert_eq!(
        new(&report),
        vec!["bounds_check Third IsInBounds"],
        "{report:#}"
    );
    // The head turns bounds off: the gate passes, and the config change says so.
    let report = compare(
        &[("a.go", BOUNDED), (".escape-gate.yml", config_on)],
        &[
            ("a.go", head_code),
            (".escape-gate.yml", "version: 1\nchecks: [escapes]\n"),
        ],
        &[],
        0,
    );
    assert_eq!(
        report["config_change"]["checks"]["turned_off"],
        serde_json::json!(["bounds"]),
        "{report:#}"
    );
    // An allowlist entry naming the check allows it; one without (escapes) does not.
    let allow = "version: 1\nchecks: [escapes, bounds]\nallow:\n  - path: a.go\n    check: bounds\n    reason: checked by the caller\n";
    let report = compare(
        &[("a.go", BOUNDED), (".escape-gate.yml", allow)],
        &[("a.go", head_code)],
        &[],
        0,
    );
    assert_eq!(
        report["allowed"][0]["allowed_by"]["check"], "bounds",
        "{report:#}"
    );
    let escapes_only =
        "version: 1\nchecks: [escapes, bounds]\nallow:\n  - path: a.go\n    reason: escapes only\n";
    compare(
        &[("a.go", BOUNDED), (".escape-gate.yml", escapes_only)],
        &[("a.go", head_code)],
        &[],
        1,
    );
}

#[test]
fn a_constant_make_that_becomes_variable() {
    let base = "package m

func Sum(n int) int {
\tb := make([]byte, 16)
\treturn len(b) + n
}
";
    let head = base.replace("make([]byte, 16)", "make([]byte, n)");
    let version = go_minor();
    let report = compare(&[("a.go", base)], &[("a.go", &head)], &[], 1);
    if version >= 25 {
        assert_eq!(
            new(&report),
            vec!["variable_make Sum make([]byte, n)"],
            "{report:#}"
        );
        let message = report["new"][0]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("may allocate on the heap") && message.contains("32 bytes"),
            "{message}"
        );
    } else {
        // Before Go 1.25 a variable-size make is always on the heap, and says so.
        assert_eq!(
            new(&report),
            vec!["escapes_to_heap Sum make([]byte, n)"],
            "{report:#}"
        );
    }
    // Switched off in the config: not compared (and from Go 1.25 nothing else sees it).
    let config = "version: 1\nchecks: [escapes]\n";
    let code = if version >= 25 { 0 } else { 1 };
    compare(
        &[("a.go", base), (".escape-gate.yml", config)],
        &[("a.go", &head)],
        &[],
        code,
    );
}

/// The minor version of the `go` on PATH.
fn go_minor() -> u32 {
    crate::support::require_go();
    let out = std::process::Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go env runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("go1.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|minor| minor.parse().ok())
        .unwrap_or_else(|| panic!("unexpected go version {text:?}"))
}

const GCASSERT_OK: &str = "package m

//gcassert:inline
func Double(x int) int { return x * 2 }

func Use(xs []int) int {
\tif len(xs) < 4 {
\t\treturn 0
\t}
\tsum := Double(1) //gcassert:inline
\t//gcassert:bce
\tsum += xs[3]
\ty := sum //gcassert:noescape
\treturn y
}
";

#[test]
fn gcassert_directives_satisfied_and_violated() {
    // Satisfied: exit 0 whatever the checks.
    let report = compare(&[("a.go", "package m\n")], &[("a.go", GCASSERT_OK)], &[], 0);
    assert_eq!(new(&report), Vec::<String>::new(), "{report:#}");

    let cases: [(&str, &str, &str); 3] = [
        // inline on a declaration: the function must be inlinable.
        (
            "//gcassert:inline\nfunc Double",
            "//gcassert:inline\n//go:noinline\nfunc Double",
            "inline",
        ),
        // bce: the length check is gone.
        ("\tif len(xs) < 4 {\n\t\treturn 0\n\t}\n", "", "bce"),
        // noescape: y escapes now.
        (
            "\ty := sum //gcassert:noescape\n\treturn y",
            "\ty := sum //gcassert:noescape\n\tsink = &y\n\treturn y",
            "noescape",
        ),
    ];
    for (from, to, directive) in cases {
        let mut head = GCASSERT_OK.replace(from, to);
        if directive == "noescape" {
            head.push_str("\nvar sink *int\n");
        }
        assert_ne!(head, GCASSERT_OK, "the case {directive} changes the code");
        let report = compare(&[("a.go", GCASSERT_OK)], &[("a.go", &head)], &[], 1);
        let gcassert: Vec<&Value> = report["new"]
            .as_array()
            .expect("new")
            .iter()
            .filter(|f| f["kind"] == "gcassert")
            .collect();
        // A function that is not inlinable also leaves its call line's
        // `//gcassert:inline` unmet: both directives are reported.
        let want = if directive == "inline" { 2 } else { 1 };
        assert_eq!(gcassert.len(), want, "{directive}: {report:#}");
        assert_eq!(gcassert[0]["expr"], directive, "{report:#}");
        assert!(
            gcassert[0]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("//gcassert:{directive} violated")),
            "{report:#}"
        );
    }
}

#[test]
fn gcassert_inline_on_a_call_line() {
    let head = GCASSERT_OK
        .replace("func Double", "//go:noinline\nfunc Double")
        .replace("//gcassert:inline\n//go:noinline", "//go:noinline");
    let report = compare(&[("a.go", GCASSERT_OK)], &[("a.go", &head)], &[], 1);
    let got: Vec<String> = report["new"]
        .as_array()
        .expect("new")
        .iter()
        .filter(|f| f["kind"] == "gcassert")
        .map(|f| format!("{} {}", f["line"], f["message"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        got,
        vec!["10 //gcassert:inline violated: no call on this line is inlined"],
        "{report:#}"
    );
}

/// Go 1.25 changed the `-m=2` header gcassert matched for `noescape`; escape-gate
/// reads the summary lines, so the directive holds on every version.
#[test]
fn gcassert_noescape_on_every_go_version() {
    let head = "package m

type foo struct{ a, b int }

var sink *foo

func F() {
\t//gcassert:noescape
\tf := foo{a: 1, b: 2}
\tsink = &f
}
";
    let report = compare(
        &[("a.go", "package m\n")],
        &[("a.go", head)],
        &["--checks", "inlining"],
        1,
    );
    let got: Vec<String> = report["new"]
        .as_array()
        .expect("new")
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["kind"].as_str().unwrap_or(""),
                f["line"],
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        got,
        vec!["gcassert 9 //gcassert:noescape violated: the compiler: \"moved to heap: f\""],
        "escapes are not compared (--checks inlining), the directive is: {report:#}"
    );
}

/// `escape-gate allow` on a finding of another check writes an entry that names it
/// (`check: bounds`), so the entry allows what it was written for.
#[test]
fn allow_writes_the_check_of_what_it_accepts() {
    let config = "version: 1\nchecks: [escapes, bounds]\n";
    let (repo, _) = TestRepo::go_module(&[("a.go", BOUNDED), (".escape-gate.yml", config)]);
    repo.write(
        "a.go",
        "package m\n\nfunc Third(xs []int) int {\n\treturn xs[2]\n}\n",
    );
    let before = repo.run(&["diff", "HEAD"]);
    before.assert_code(1);
    // With the bounds check on, the report counts findings, not heap escapes.
    assert!(
        before.stdout.starts_with("error: 1 new finding in ")
            && before
                .stdout
                .contains("1 new, 0 fixed, 0 moved, 0 allowed findings"),
        "{}",
        before.stdout
    );
    let allowed = repo.run(&["allow", "--reason", "the caller checks the length", "HEAD"]);
    allowed.assert_code(0);
    let written = repo.read(".escape-gate.yml");
    assert!(written.contains("check: bounds"), "{written}");
    let after = repo.run(&["diff", "--format", "json", "HEAD"]);
    after.assert_code(0);
    let report = after.json();
    assert_eq!(
        report["allowed"][0]["allowed_by"]["check"], "bounds",
        "{report:#}"
    );
}

const JOIN: &str = "package m

// Join returns the sum of the lengths.
func Join(a, b string) int {
\treturn len(a) + len(b)
}
";

/// Join, building the string: `a + b` and `string(buf)` do not escape, yet above
/// 32 bytes each is a heap allocation.
const JOINED: &str = "package m

// Join returns the sum of the lengths.
func Join(a, b string) int {
\ts := a + b
\tbuf := []byte{'x'}
\tt := string(buf)
\treturn len(s) + len(t)
}
";

#[test]
fn concat_convert_is_off_by_default_and_reports_new_concatenations_and_conversions() {
    let report = compare(&[("m.go", JOIN)], &[("m.go", JOINED)], &[], 0);
    assert!(new(&report).is_empty(), "{report:#}");
    let report = compare(
        &[("m.go", JOIN)],
        &[("m.go", JOINED)],
        &["--checks", "escapes,concat-convert"],
        1,
    );
    assert_eq!(
        new(&report),
        vec![
            "concat_convert Join a + b".to_string(),
            "concat_convert Join string(buf)".to_string()
        ],
        "{report:#}"
    );
    let message = report["new"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("on the stack only up to 32 bytes"),
        "{message}"
    );

    // The allowlist accepts them with `check: concat-convert`, and the checks can be
    // turned on in the file.
    let allow = "version: 1\nchecks: [escapes, concat-convert]\nallow:\n  - path: m.go\n    check: concat-convert\n    reason: short keys\n";
    let report = compare(
        &[("m.go", JOIN), (".escape-gate.yml", allow)],
        &[("m.go", JOINED)],
        &[],
        0,
    );
    assert_eq!(
        report["allowed"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
}

#[test]
fn allow_takes_the_checks_diff_was_given() {
    let (repo, _) = TestRepo::go_module(&[("a.go", BOUNDED)]);
    repo.write(
        "a.go",
        "package m\n\nfunc Third(xs []int) int {\n\treturn xs[2]\n}\n",
    );
    repo.run(&["diff", "--checks", "bounds", "HEAD"])
        .assert_code(1);
    // Without the same checks there is nothing to accept.
    let plain = repo.run(&["allow", "--dry-run", "--reason", "checked", "HEAD"]);
    plain.assert_code(0);
    assert!(
        plain.stdout.contains("nothing to allow"),
        "{}",
        plain.stdout
    );
    let allowed = repo.run(&[
        "allow",
        "--checks",
        "bounds",
        "--reason",
        "the caller checks the length",
        "HEAD",
    ]);
    allowed.assert_code(0);
    assert!(repo.read(".escape-gate.yml").contains("check: bounds"));
    repo.run(&["diff", "--checks", "bounds", "HEAD"])
        .assert_code(0);
}
