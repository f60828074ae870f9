//! What users see, pinned: the text report and the JSON document of real comparisons,
//! compared byte for byte with the files in `tests/golden/`. A change to a report shows
//! up as a diff of those files in review. To accept a deliberate change, run the tests
//! with `ESCAPE_GATE_BLESS=1` and commit the rewritten files.
//!
//! The Go version and target are the only machine-dependent text; they are replaced by
//! `GO_VERSION`, `GOOS` and `GOARCH`. The findings cache is off, so `cached` is always
//! false; commit ids are stable because the test repositories' dates are fixed.

use std::path::PathBuf;

use crate::support::{normalise_machine, Run, TestRepo};

const BASE_GO: &str = "package shop

// Cart holds items.
type Cart struct{ items []string }

var last *Cart

// Add appends an item.
func (c *Cart) Add(item string) { c.items = append(c.items, item) }

// Total counts the items.
func Total(c Cart) int { return len(c.items) }
";

/// The head moves `Total` above `Add`, adds `Remember` (a new escape, allowed by a new
/// entry) and `Copy` (a new escape, not allowed).
const HEAD_GO: &str = "package shop

// Cart holds items.
type Cart struct{ items []string }

var last *Cart

// Total counts the items.
func Total(c Cart) int { return len(c.items) }

// Add appends an item.
func (c *Cart) Add(item string) { c.items = append(c.items, item) }

// Remember keeps a copy of the cart.
func Remember(c Cart) {
\tlast = &c
}

// Copy returns a copy on the heap.
func Copy(c Cart) *Cart {
\td := c
\treturn &d
}
";

const HEAD_CONFIG: &str = "version: 1
allow:
  - path: \"shop/*.go\"
    function: Remember
    reason: \"kept for the audit log\"
  - path: \"gone/*.go\"
    reason: \"no longer needed\"
";

fn golden_repo() -> (TestRepo, String, String) {
    let (repo, base) = TestRepo::go_module(&[("shop/shop.go", BASE_GO)]);
    repo.write("shop/shop.go", HEAD_GO);
    repo.write(".escape-gate.yml", HEAD_CONFIG);
    let head = repo.commit("head");
    (repo, base, head)
}

fn run(repo: &TestRepo, args: &[&str]) -> Run {
    repo.run_with(args, |cmd| {
        cmd.env("ESCAPE_GATE_CACHE", "off");
    })
}

#[track_caller]
fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let actual = normalise_machine(actual);
    if std::env::var_os("ESCAPE_GATE_BLESS").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run with ESCAPE_GATE_BLESS=1 to create it. Output:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!(
            "{} differs from the output (ESCAPE_GATE_BLESS=1 accepts it):\n{diff}",
            path.display()
        );
    }
}

#[test]
fn text_report() {
    let (repo, base, head) = golden_repo();
    let run = run(&repo, &["diff", "--show-fixed", &base, &head]);
    run.assert_code(1);
    assert_golden("diff.txt", &run.stdout);
}

#[test]
fn text_report_with_explanations() {
    let (repo, base, head) = golden_repo();
    let run = run(&repo, &["diff", "--explain", &base, &head]);
    run.assert_code(1);
    assert_golden("diff-explain.txt", &run.stdout);
}

#[test]
fn json_report() {
    let (repo, base, head) = golden_repo();
    let run = run(
        &repo,
        &["diff", "--format", "json", "--explain", &base, &head],
    );
    run.assert_code(1);
    assert_golden("diff.json", &run.stdout);
}

#[test]
fn clean_text_report() {
    let (repo, base, _) = golden_repo();
    let run = run(&repo, &["diff", &base, &base]);
    run.assert_code(0);
    assert_golden("clean.txt", &run.stdout);
}
