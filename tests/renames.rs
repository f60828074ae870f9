//! An allocation keeps its identity through renames (README, "How it works"): the
//! compiler prints the names it sees, so a renamed local, parameter, result, receiver,
//! type, field, import name or type parameter changes a finding's text, not the
//! allocation. Each rename alone is silent and reported as `moved` with `by: rename`;
//! a real new allocation among renames is still new, and so is a changed kind.

use serde_json::Value;

use crate::support::{items, json_diff, TestRepo};

/// Commits `base`, then `head` (both `(path, text)` lists over a fresh module), and
/// returns the JSON report of the change.
fn change(base: &[(&str, &str)], head: &[(&str, &str)]) -> (i32, Value, TestRepo, String, String) {
    let repo = TestRepo::go_module(base);
    let b = repo.commit("base");
    for (path, text) in head {
        repo.write(path, text);
    }
    let h = repo.commit("head");
    let (run, json) = json_diff(&repo, &[&b, &h]);
    (run.code, json, repo, b, h)
}

/// `message <- from.message (old->new, ...)` of each moved finding with `by: rename`.
fn renamed(json: &Value) -> Vec<String> {
    let mut out: Vec<String> = items(json, "moved")
        .iter()
        .filter(|m| m["by"] == "rename")
        .map(|m| {
            let renames: Vec<String> = m["renames"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| {
                            format!(
                                "{}->{}",
                                r["old"].as_str().unwrap_or("?"),
                                r["new"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} <- {} ({})",
                m["message"].as_str().unwrap_or("?"),
                m["from"]["message"].as_str().unwrap_or("?"),
                renames.join(", ")
            )
        })
        .collect();
    out.sort();
    out
}

fn messages(json: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = items(json, field)
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["function"].as_str().unwrap_or("?"),
                f["message"].as_str().unwrap_or("?")
            )
        })
        .collect();
    out.sort();
    out
}

/// A rename is silent: exit 0, nothing new or fixed, and each renamed escape is moved
/// `by: rename` with its old and new names.
#[track_caller]
fn assert_silent(code: i32, json: &Value, want: &[&str]) {
    assert_eq!(code, 0, "{json:#}");
    assert!(items(json, "new").is_empty(), "{json:#}");
    assert!(items(json, "fixed").is_empty(), "{json:#}");
    assert_eq!(renamed(json), want, "{json:#}");
}

#[test]
fn the_issue_example_a_renamed_local_is_silent() {
    let (code, json, repo, b, h) = change(
        &[(
            "p.go",
            "package p\n\nfunc P(x int) *int { n := x * 2; return &n }\n",
        )],
        &[(
            "p.go",
            "package p\n\nfunc P(x int) *int { val := x * 2; return &val }\n",
        )],
    );
    assert_silent(
        code,
        &json,
        &["moved to heap: val <- moved to heap: n (n->val)"],
    );
    let moved = &items(&json, "moved")[0];
    assert_eq!(moved["function"], "P");
    assert_eq!(moved["from"]["function"], "P");

    // The text report says nothing of it, but with --show-fixed.
    let text = repo.run_untouched(&["diff", &b, &h]);
    text.assert_code(0);
    assert!(!text.stdout.contains("renamed"), "{}", text.stdout);
    let shown = repo.run_untouched(&["diff", "--show-fixed", &b, &h]);
    shown.assert_code(0);
    assert!(
        shown.stdout.contains("renamed p.go:3:")
            && shown.stdout.contains("was `moved to heap: n`")
            && shown.stdout.contains("(renamed: n → val)"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_renamed_parameter_is_silent() {
    let (code, json, ..) = change(
        &[(
            "p.go",
            "package p\n\nfunc Param(p int) *int {\n\treturn &p\n}\n",
        )],
        &[(
            "p.go",
            "package p\n\nfunc Param(q int) *int {\n\treturn &q\n}\n",
        )],
    );
    assert_silent(
        code,
        &json,
        &["moved to heap: q <- moved to heap: p (p->q)"],
    );
}

#[test]
fn a_renamed_named_result_is_silent() {
    let (code, json, ..) = change(
        &[(
            "p.go",
            "package p\n\nvar sink any\n\nfunc Named() (r int) {\n\tsink = &r\n\treturn\n}\n",
        )],
        &[(
            "p.go",
            "package p\n\nvar sink any\n\nfunc Named() (res int) {\n\tsink = &res\n\treturn\n}\n",
        )],
    );
    assert_silent(
        code,
        &json,
        &["moved to heap: res <- moved to heap: r (r->res)"],
    );
}

const CONFIG: &str = r#"package p

import "fmt"

type Config struct {
	name string
	n    int
}

func NewConfig(name string) *Config {
	return &Config{name: name}
}

func (c *Config) Show() {
	fmt.Println(c.name)
}
"#;

#[test]
fn a_renamed_type_is_silent() {
    let head = CONFIG.replace("Config", "Options");
    let (code, json, ..) = change(&[("p.go", CONFIG)], &[("p.go", &head)]);
    assert_silent(
        code,
        &json,
        &["&Options{...} escapes to heap <- &Config{...} escapes to heap (Config->Options)"],
    );
    // The method's name follows its receiver's type: the same place, renamed.
    let show = items(&json, "moved")
        .iter()
        .find(|m| m["message"] == "c.name escapes to heap")
        .map(|m| {
            (
                m["from"]["function"].clone(),
                m["function"].clone(),
                m["by"].clone(),
            )
        });
    assert_eq!(
        show,
        Some((
            "(*Config).Show".into(),
            "(*Options).Show".into(),
            "line".into()
        )),
        "{json:#}"
    );
}

#[test]
fn a_renamed_field_is_silent() {
    let head = CONFIG
        .replace("\tname string", "\tlabel string")
        .replace("c.name", "c.label")
        .replace("{name: name}", "{label: name}");
    let (code, json, ..) = change(&[("p.go", CONFIG)], &[("p.go", &head)]);
    assert_silent(
        code,
        &json,
        &["c.label escapes to heap <- c.name escapes to heap (name->label)"],
    );
}

#[test]
fn a_renamed_import_is_silent() {
    let base = "package p\n\nimport (\n\t\"fmt\"\n\tstr \"strings\"\n)\n\nfunc Alias(name string) {\n\tfmt.Println(str.ToUpper(name), &str.Builder{})\n}\n";
    let head = base
        .replace("str \"strings\"", "text \"strings\"")
        .replace("str.", "text.");
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", &head)]);
    // The compiler prints the package's name, not the local one: nothing to pair.
    assert_eq!(code, 0, "{json:#}");
    assert!(
        items(&json, "new").is_empty() && items(&json, "fixed").is_empty(),
        "{json:#}"
    );
}

#[test]
fn a_renamed_receiver_is_silent() {
    let base = "package p\n\ntype Config struct{ n int }\n\nfunc (c Config) Addr() *Config {\n\treturn &c\n}\n";
    let head = base
        .replace("(c Config)", "(cfg Config)")
        .replace("&c\n", "&cfg\n");
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", &head)]);
    assert_silent(
        code,
        &json,
        &["moved to heap: cfg <- moved to heap: c (c->cfg)"],
    );
}

#[test]
fn a_renamed_type_parameter_and_local_of_generic_code_are_silent() {
    let base = "package p\n\nfunc Gen[E any](v E) any {\n\tw := v\n\treturn &w\n}\n\nfunc Use() any {\n\treturn Gen[int](1)\n}\n";
    let head = base
        .replace("[E any](v E)", "[T any](v T)")
        .replace("w", "tmp");
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", &head)]);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        items(&json, "new").is_empty() && items(&json, "fixed").is_empty(),
        "{json:#}"
    );
    // In Gen, and where Use inlines it: the compiler prints Gen's name there too.
    let r = renamed(&json);
    assert!(!r.is_empty(), "{json:#}");
    assert!(
        r.iter()
            .all(|m| m == "moved to heap: tmp <- moved to heap: w (w->tmp)"),
        "{r:?}"
    );
    assert!(
        items(&json, "moved")
            .iter()
            .any(|m| m["function"] == "Use" && m["by"] == "rename"),
        "the copy inlined into Use is paired by the renames of Gen: {json:#}"
    );
}

#[test]
fn renames_and_a_new_escape_in_one_function_report_the_new_one_alone() {
    let base = "package p\n\nvar sink any\n\nfunc F(x int) *int {\n\tn := x * 2\n\tsink = &x\n\treturn &n\n}\n";
    let head = "package p\n\nvar sink any\n\nfunc F(y int) *int {\n\tval := y * 2\n\textra := val + 1\n\tsink = &y\n\tsink = &extra\n\treturn &val\n}\n";
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", head)]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        messages(&json, "new"),
        vec!["F: moved to heap: extra"],
        "{json:#}"
    );
    assert!(items(&json, "fixed").is_empty(), "{json:#}");
    assert_eq!(
        renamed(&json),
        vec![
            "moved to heap: val <- moved to heap: n (n->val)",
            "moved to heap: y <- moved to heap: x (x->y)",
        ]
    );
}

#[test]
fn a_rename_that_changes_the_kind_at_the_node_is_reported() {
    // `n` escapes as an interface value; `val` is moved to the heap: another
    // allocation, at another node, of another kind.
    let base = "package p\n\nfunc K(x int) any {\n\tn := x * 2\n\treturn n\n}\n";
    let head = "package p\n\nfunc K(x int) any {\n\tval := x * 2\n\treturn &val\n}\n";
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", head)]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        messages(&json, "new"),
        vec!["K: moved to heap: val"],
        "{json:#}"
    );
    assert_eq!(
        messages(&json, "fixed"),
        vec!["K: n escapes to heap"],
        "{json:#}"
    );
    assert!(renamed(&json).is_empty(), "{json:#}");
}

#[test]
fn a_rename_inside_a_hot_function_is_silent_and_moving_into_it_is_not() {
    let base = "package p\n\n//escape-gate:hot\nfunc Hot(x int) *int {\n\tn := x * 2\n\treturn &n\n}\n\nfunc Cold(x int) *int {\n\tc := x * 3\n\treturn &c\n}\n";
    let head = base.replace("n := x * 2\n\treturn &n", "val := x * 2\n\treturn &val");
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", &head)]);
    assert_silent(
        code,
        &json,
        &["moved to heap: val <- moved to heap: n (n->val)"],
    );
    assert_eq!(items(&json, "moved")[0]["hot"], true, "{json:#}");

    // Cold's code moved into Hot under new names: new, as any move into a hot path.
    let moved_in = "package p\n\n//escape-gate:hot\nfunc Hot(x int) *int {\n\tn := x * 2\n\treturn &n\n}\n\n//escape-gate:hot\nfunc Cold2(x int) *int {\n\tk := x * 3\n\treturn &k\n}\n";
    let (code, json, ..) = change(&[("p.go", base)], &[("p.go", moved_in)]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        messages(&json, "new"),
        vec!["Cold2: moved to heap: k"],
        "{json:#}"
    );
}

#[test]
fn a_type_renamed_in_one_package_and_used_in_another_is_silent() {
    let a = "package a\n\ntype Config struct{ N int }\n\nfunc New() *Config {\n\treturn &Config{N: 1}\n}\n";
    let b = "package b\n\nimport \"example.com/m/a\"\n\nfunc Make() *a.Config {\n\treturn &a.Config{}\n}\n";
    let (code, json, ..) = change(
        &[("a/a.go", a), ("b/b.go", b)],
        &[
            ("a/a.go", &a.replace("Config", "Options")),
            ("b/b.go", &b.replace("Config", "Options")),
        ],
    );
    assert_silent(
        code,
        &json,
        &[
            "&Options{...} escapes to heap <- &Config{...} escapes to heap (Config->Options)",
            "&a.Options{} escapes to heap <- &a.Config{} escapes to heap (Config->Options)",
        ],
    );
}
