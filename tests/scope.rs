//! Doing less without deciding differently: only the packages a change can affect are
//! analysed, analyses of commits are cached, and the results are the same as analysing
//! everything from scratch.

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use serde_json::Value;

use crate::support::{escape_gate, Run, TestRepo};

const CALLEE_GO: &str = r#"package callee

type T struct{ A [4]int }

// Use reads t and keeps nothing.
func Use(t *T) int {
	return t.A[0]
}
"#;

const CALLER_GO: &str = r#"package caller

import "example.com/m/callee"

func Sum() int {
	t := callee.T{}
	return callee.Use(&t)
}
"#;

const MIDDLE_GO: &str = r#"package middle

import "example.com/m/caller"

func Twice() int {
	return caller.Sum() * 2
}
"#;

const OTHER_GO: &str = r#"package other

var kept *int

func Keep() {
	x := 1
	kept = &x
}
"#;

fn module() -> (TestRepo, String) {
    TestRepo::go_module(&[
        ("callee/callee.go", CALLEE_GO),
        ("caller/caller.go", CALLER_GO),
        ("middle/middle.go", MIDDLE_GO),
        ("other/other.go", OTHER_GO),
    ])
}

fn diff_json(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> (Run, Value) {
    let before = repo.snapshot();
    let mut cmd: Command = escape_gate();
    cmd.args(["diff", "--format", "json"])
        .args(args)
        .current_dir(repo.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = Run::from_output(cmd.output().expect("run escape-gate"));
    before.assert_same(&repo.snapshot(), &run);
    let json = run.json();
    (run, json)
}

/// The verdict of a report, without the fields that describe how it was reached.
fn verdict(json: &Value) -> Vec<BTreeSet<String>> {
    ["new", "fixed", "moved", "allowed"]
        .iter()
        .map(|field| {
            json[field]
                .as_array()
                .unwrap_or_else(|| panic!("{field} missing in {json:#}"))
                .iter()
                .map(|f| {
                    format!(
                        "{} {}:{}:{} {} {} from {}",
                        f["package"],
                        f["file"],
                        f["line"],
                        f["column"],
                        f["function"],
                        f["message"],
                        f["from"]
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_callee_change_that_makes_a_caller_escape_is_caught_through_reverse_dependencies() {
    let (repo, base) = module();
    repo.write(
        "callee/callee.go",
        &CALLEE_GO.replace(
            "func Use(t *T) int {\n\treturn t.A[0]\n}",
            "var last *T\n\nfunc Use(t *T) int {\n\tlast = t\n\treturn t.A[0]\n}",
        ),
    );
    let head = repo.commit("callee keeps t");
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(1);
    let new = json["new"].as_array().expect("new");
    assert!(
        new.iter()
            .any(|f| f["package"] == "example.com/m/caller" && f["message"] == "moved to heap: t"),
        "the caller's t escapes because of the callee's change: {json:#}"
    );
    // callee, caller and middle (which imports caller); not other.
    assert_eq!(json["summary"]["packages"], 3, "{json:#}");
    assert_eq!(json["summary"]["packages_total"], 4, "{json:#}");
    assert_eq!(json["summary"]["all_packages_because"], Value::Null);

    let text = repo.run_untouched(&["diff", &base, &head]);
    assert!(
        text.stdout.contains("3 of 4 packages analysed"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_go_mod_change_analyses_everything() {
    let (repo, base) = module();
    repo.write("go.mod", "module example.com/m\n\ngo 1.23\n");
    let head = repo.commit("go 1.23");
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(0);
    assert_eq!(
        json["summary"]["all_packages_because"], "go.mod changed",
        "{json:#}"
    );
    assert_eq!(json["summary"]["packages"], 4);
    assert_eq!(json["summary"]["packages_total"], 4);
}

#[test]
fn a_change_outside_the_packages_builds_nothing() {
    let (repo, base) = module();
    repo.write("docs/notes.md", "# notes\n");
    repo.write(
        "other/other_test.go",
        "package other\n\nimport \"testing\"\n\nfunc TestKeep(t *testing.T) { Keep() }\n",
    );
    let head = repo.commit("docs and a test");
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(0);
    assert_eq!(json["summary"]["packages"], 0, "{json:#}");
    assert_eq!(json["summary"]["packages_total"], 4);
}

/// A change with a new escape, a fixed one, a renamed function, a moved function and a
/// deleted package, judged four ways: selected packages, every package, without the
/// cache, and from the cache.
#[test]
fn results_are_identical_with_and_without_the_optimisations() {
    let (repo, _) = module();
    repo.write(
        "gone/gone.go",
        "package gone\n\nvar p *int\n\nfunc Set() {\n\tv := 2\n\tp = &v\n}\n",
    );
    let base = repo.commit("base");
    repo.remove("gone/gone.go");
    repo.write(
        "callee/callee.go",
        &CALLEE_GO.replace(
            "func Use(t *T) int {\n\treturn t.A[0]\n}",
            "var last *T\n\nfunc Use(t *T) int {\n\tlast = t\n\treturn t.A[0]\n}",
        ),
    );
    repo.write(
        "other/other.go",
        &OTHER_GO.replace("func Keep()", "func KeepOne()"),
    );
    repo.write(
        "middle/middle.go",
        &format!("{MIDDLE_GO}\nvar saved []int\n\nfunc Save(n int) {{\n\ts := make([]int, n)\n\tsaved = s\n}}\n"),
    );
    let head = repo.commit("several changes");

    let cache = tempfile::tempdir().expect("temp");
    let cache_env = [(
        "ESCAPE_GATE_CACHE_DIR",
        cache.path().to_str().expect("utf-8"),
    )];
    let (first_run, first) = diff_json(&repo, &[&base, &head], &cache_env);
    first_run.assert_code(1);
    assert_eq!(first["summary"]["base"]["cached"], false);
    assert_eq!(first["summary"]["head"]["cached"], false);
    let (_, cached) = diff_json(&repo, &[&base, &head], &cache_env);
    assert_eq!(cached["summary"]["base"]["cached"], true, "{cached:#}");
    assert_eq!(cached["summary"]["head"]["cached"], true, "{cached:#}");
    let (_, all) = diff_json(
        &repo,
        &["--all-packages", &base, &head],
        &[("ESCAPE_GATE_CACHE", "off")],
    );
    assert_eq!(all["summary"]["all_packages_because"], "--all-packages");
    let (_, uncached) = diff_json(&repo, &[&base, &head], &[("ESCAPE_GATE_CACHE", "off")]);
    assert_eq!(uncached["summary"]["base"]["cached"], false);

    let want = verdict(&all);
    assert_eq!(
        verdict(&first),
        want,
        "selected packages vs all:\n{first:#}\n{all:#}"
    );
    assert_eq!(verdict(&cached), want, "cached vs all");
    assert_eq!(verdict(&uncached), want, "uncached vs all");
    // The verdict itself: the caller's t (also where Sum is inlined into Twice) and the
    // new slice are new; the deleted package's v is fixed; the renamed KeepOne is moved.
    assert_eq!(first["summary"]["new"], 3, "{first:#}");
    assert!(
        first["new"]
            .as_array()
            .expect("new")
            .iter()
            .any(|f| f["function"] == "Twice" && f["message"] == "moved to heap: caller.t"),
        "{first:#}"
    );
    assert_eq!(first["summary"]["fixed"], 1, "{first:#}");
    assert_eq!(first["summary"]["moved"], 1, "{first:#}");
    assert_eq!(first["fixed"][0]["package"], "example.com/m/gone");

    // Damaged cache entries are ignored, not trusted.
    for entry in fs::read_dir(cache.path().join("findings-v2")).expect("cache dir") {
        fs::write(entry.expect("entry").path(), b"{ not json").expect("damage");
    }
    let (_, damaged) = diff_json(&repo, &[&base, &head], &cache_env);
    assert_eq!(damaged["summary"]["base"]["cached"], false);
    assert_eq!(verdict(&damaged), want);
}

/// A callee change that makes the caller's `t` escape: the escape that must be found.
fn callee_keeps_t(repo: &TestRepo) -> String {
    repo.write(
        "callee/callee.go",
        &CALLEE_GO.replace(
            "func Use(t *T) int {\n\treturn t.A[0]\n}",
            "var last *T\n\nfunc Use(t *T) int {\n\tlast = t\n\treturn t.A[0]\n}",
        ),
    );
    repo.commit("callee keeps t")
}

#[test]
fn trimpath_in_goflags_does_not_hide_escapes() {
    let (repo, base) = module();
    let head = callee_keeps_t(&repo);
    let (run, json) = diff_json(&repo, &[&base, &head], &[("GOFLAGS", "-trimpath -mod=mod")]);
    run.assert_code(1);
    assert!(
        json["new"]
            .as_array()
            .expect("new")
            .iter()
            .any(|f| f["file"] == "caller/caller.go"),
        "{json:#}"
    );
}

/// The same through `go env -w GOFLAGS=-trimpath` (the go env file), and a go.work
/// above the checkout is never used: the checkout's workspace is its own or none.
#[test]
fn trimpath_in_the_go_env_file_and_a_planted_go_work_change_nothing() {
    let (repo, base) = module();
    let head = callee_keeps_t(&repo);
    let env_dir = tempfile::tempdir().expect("temp");
    let goenv = env_dir.path().join("go.env");
    std::fs::write(&goenv, "GOFLAGS=-trimpath\n").expect("write the go env file");
    // A TMPDIR holding a go.work that names a module that does not exist: a go that
    // found it would fail.
    let tmp = env_dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    std::fs::write(tmp.join("go.work"), "go 1.22\n\nuse ./nowhere\n").expect("write go.work");
    let (run, json) = diff_json(
        &repo,
        &[&base, &head],
        &[
            ("GOENV", goenv.to_str().expect("utf-8")),
            ("TMPDIR", tmp.to_str().expect("utf-8")),
        ],
    );
    run.assert_code(1);
    assert!(
        json["new"]
            .as_array()
            .expect("new")
            .iter()
            .any(|f| f["file"] == "caller/caller.go"),
        "{json:#}"
    );
}

#[test]
fn build_flags_that_would_silence_the_compiler_are_refused() {
    let (repo, base) = module();
    for flag in ["-gcflags=all=-l", "-trimpath", "-toolexec=/bin/true"] {
        repo.write(
            ".escape-gate.yml",
            &format!("version: 1\nbuild:\n  flags: [\"{flag}\"]\n"),
        );
        let head = repo.commit("flags");
        let run = repo.run_untouched(&["diff", &base, &head]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("build.flags:") && run.stderr.contains("is not allowed"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn an_excluded_package_still_passes_its_change_on_to_its_importers() {
    let (repo, _) = module();
    repo.write(
        ".escape-gate.yml",
        "version: 1\nbuild:\n  exclude: [\"callee/...\"]\n",
    );
    let base = repo.commit("base");
    let head = callee_keeps_t(&repo);
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(1);
    let new = json["new"].as_array().expect("new");
    assert!(
        new.iter().any(|f| f["file"] == "caller/caller.go"),
        "{json:#}"
    );
    assert!(
        new.iter().all(|f| f["package"] != "example.com/m/callee"),
        "{json:#}"
    );
    // The total counts the excluded package too: the figure is always true.
    assert_eq!(json["summary"]["packages_total"], 4, "{json:#}");
    assert_eq!(json["summary"]["packages_excluded"], 1, "{json:#}");
}

/// A package that becomes its own module keeps its import path and its content, so the
/// build cache replays its output, printed relative to where it was first built.
#[test]
fn a_package_split_into_its_own_module_reports_nothing_new() {
    let (repo, _) = TestRepo::go_module(&[(
        "svc/app/app.go",
        OTHER_GO.replace("package other", "package app").as_str(),
    )]);
    let base = repo.commit("one module");
    repo.write("svc/go.mod", "module example.com/m/svc\n\ngo 1.22\n");
    let head = repo.commit("svc is a module");
    let cache = tempfile::tempdir().expect("temp");
    let gocache = cache.path().join("go");
    let env = [
        ("GOCACHE", gocache.to_str().expect("utf-8")),
        ("ESCAPE_GATE_CACHE", "off"),
    ];
    for _ in 0..2 {
        let (run, json) = diff_json(&repo, &[&base, &head], &env);
        run.assert_code(0);
        assert_eq!(json["summary"]["new"], 0, "{json:#}");
        assert_eq!(json["summary"]["fixed"], 0, "{json:#}");
        assert_eq!(json["summary"]["unchanged"], 1, "{json:#}");
    }
}

/// A build constraint changed in a directory `./...` skips (a generator in `_gen/`)
/// is in no package a build compiles: it does not make every package analysed.
#[test]
fn a_constraint_change_in_a_skipped_directory_selects_nothing() {
    let (repo, _) = module();
    repo.write(
        "_gen/gen.go",
        "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
    );
    let base = repo.commit("base");
    repo.write(
        "_gen/gen.go",
        "//go:build generate\n\npackage main\n\nfunc main() {}\n",
    );
    let head = repo.commit("generator constraint");
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(0);
    assert_eq!(
        json["summary"]["all_packages_because"],
        Value::Null,
        "{json:#}"
    );
    assert_eq!(json["summary"]["packages"], 0, "{json:#}");
}

/// ... but a module the root go.work uses is built wherever it is, so a constraint
/// change in `_tools/` (used by the workspace) analyses every package.
#[test]
fn a_constraint_change_in_a_workspace_module_counts() {
    let (repo, _) = TestRepo::go_module(&[("a/a.go", "package a\n\n// A is a.\nfunc A() {}\n")]);
    repo.write("_tools/go.mod", "module example.com/tools\n\ngo 1.22\n");
    repo.write(
        "_tools/t.go",
        "//go:build linux || darwin\n\npackage tools\n\n// T is t.\nfunc T() {}\n",
    );
    repo.write("go.work", "go 1.22\n\nuse (\n\t.\n\t./_tools\n)\n");
    let base = repo.commit("workspace");
    repo.write(
        "_tools/t.go",
        "//go:build linux\n\npackage tools\n\n// T is t.\nfunc T() {}\n",
    );
    let head = repo.commit("tools constraint");
    let (run, json) = diff_json(&repo, &[&base, &head], &[]);
    run.assert_code(0);
    assert_eq!(
        json["summary"]["all_packages_because"], "the build constraints of _tools/t.go changed",
        "{json:#}"
    );
}

// Symbol-level selection: of the importers of a changed package, only those that use
// what changed are analysed.

const A_GO: &str = r#"package a

const N = 4

// Keep reads p.
func Keep(p *int) int {
	return *p
}

// Other is something else.
func Other() int { return N }

type T struct{ n int }

// Hold reads p.
func (t *T) Hold(p *int) int {
	return *p + t.n
}
"#;

const B_GO: &str = r#"package b

import "example.com/m/a"

func UseKeep() int {
	x := 1
	return a.Keep(&x)
}
"#;

const C_GO: &str = r#"package c

import "example.com/m/a"

func UseOther() int { return a.Other() }

func Size() int { var t a.T; _ = t; return 0 }
"#;

const D_GO: &str = r#"package d

import "example.com/m/a"

func UseHold(t *a.T) int {
	y := 2
	return t.Hold(&y)
}
"#;

fn symbols_module() -> (TestRepo, String) {
    TestRepo::go_module(&[
        ("a/a.go", A_GO),
        ("b/b.go", B_GO),
        ("c/c.go", C_GO),
        ("d/d.go", D_GO),
    ])
}

/// The symbol-selected run and the `--all-packages` run of the same change give the
/// same verdict; returns the selected run's report.
fn same_verdict_as_all(repo: &TestRepo, base: &str, head: &str) -> Value {
    let off = [("ESCAPE_GATE_CACHE", "off")];
    let (run, json) = diff_json(repo, &[base, head], &off);
    let (all_run, all) = diff_json(repo, &["--all-packages", base, head], &off);
    assert_eq!(run.code, all_run.code, "{json:#}\n{all:#}");
    assert_eq!(verdict(&json), verdict(&all), "{json:#}\n{all:#}");
    assert_eq!(all["summary"]["packages"], 4, "{all:#}");
    json
}

#[test]
fn a_new_function_nobody_calls_analyses_only_its_package() {
    let (repo, base) = symbols_module();
    repo.write(
        "a/a.go",
        &format!("{A_GO}\n// Fresh is new.\nfunc Fresh() *int {{ v := 3; return &v }}\n"),
    );
    let head = repo.commit("a new function");
    let json = same_verdict_as_all(&repo, &base, &head);
    assert_eq!(json["summary"]["packages"], 1, "{json:#}");
    assert_eq!(json["summary"]["packages_unaffected"], 3, "{json:#}");
    // The new function's own escape is found in its package.
    assert_eq!(json["summary"]["new"], 1, "{json:#}");
    assert_eq!(json["new"][0]["function"], "Fresh", "{json:#}");
}

#[test]
fn a_caller_of_a_changed_inlinable_function_is_analysed_and_its_new_escape_caught() {
    let (repo, base) = symbols_module();
    repo.write(
        "a/a.go",
        &A_GO.replace(
            "func Keep(p *int) int {\n\treturn *p\n}",
            "func Keep(p *int) int {\n\tlast = p\n\treturn *p\n}\n\nvar last *int",
        ),
    );
    let head = repo.commit("Keep keeps p");
    let json = same_verdict_as_all(&repo, &base, &head);
    assert_eq!(json["summary"]["packages"], 2, "a and b: {json:#}");
    assert_eq!(
        json["summary"]["packages_unaffected"], 2,
        "c and d: {json:#}"
    );
    assert!(
        json["new"]
            .as_array()
            .expect("new")
            .iter()
            .any(|f| f["package"] == "example.com/m/b" && f["message"] == "moved to heap: x"),
        "b's x escapes once Keep (inlined into UseKeep) keeps it: {json:#}"
    );
}

#[test]
fn a_changed_method_counts_for_every_call_by_its_name() {
    let (repo, base) = symbols_module();
    repo.write(
        "a/a.go",
        &A_GO.replace(
            "\treturn *p + t.n\n}",
            "\theld = p\n\treturn *p + t.n\n}\n\nvar held *int",
        ),
    );
    let head = repo.commit("Hold keeps p");
    let json = same_verdict_as_all(&repo, &base, &head);
    // a and d (calls .Hold); c names a.T but calls nothing that changed.
    assert_eq!(json["summary"]["packages"], 2, "{json:#}");
    assert!(
        json["new"]
            .as_array()
            .expect("new")
            .iter()
            .any(|f| f["package"] == "example.com/m/d" && f["message"] == "moved to heap: y"),
        "{json:#}"
    );
}

#[test]
fn a_changed_constant_or_type_or_build_constraint_falls_back() {
    let (repo, base) = symbols_module();
    repo.write("a/a.go", &A_GO.replace("const N = 4", "const N = 5"));
    let constant = repo.commit("N is 5");
    let json = same_verdict_as_all(&repo, &base, &constant);
    assert_eq!(json["summary"]["packages"], 4, "{json:#}");
    assert_eq!(json["summary"]["packages_unaffected"], 0, "{json:#}");

    repo.write(
        "a/a.go",
        &A_GO.replace("struct{ n int }", "struct{ n, m int }"),
    );
    let typ = repo.commit("T grows");
    let json = same_verdict_as_all(&repo, &base, &typ);
    assert_eq!(json["summary"]["packages"], 4, "{json:#}");

    repo.write("a/a.go", &format!("//go:build !windows\n\n{A_GO}"));
    let constraint = repo.commit("not on windows");
    let json = same_verdict_as_all(&repo, &base, &constraint);
    assert_eq!(
        json["summary"]["all_packages_because"], "the build constraints of a/a.go changed",
        "{json:#}"
    );
}

/// Commits `files` (module `example.com/m`), then applies `head`, and checks that the
/// selection's verdict is the `--all-packages` one and that both find a new escape.
#[track_caller]
fn assert_selection_sees(files: &[(&str, &str)], head: &[(&str, &str)]) {
    let (repo, base) = TestRepo::go_module(files);
    for (path, text) in head {
        repo.write(path, text);
    }
    let head = repo.commit("head");
    let (all_run, all) = diff_json(&repo, &["--all-packages", &base, &head], &[]);
    let (sel_run, sel) = diff_json(&repo, &[&base, &head], &[]);
    all_run.assert_code(1);
    sel_run.assert_code(1);
    assert_eq!(
        verdict(&sel),
        verdict(&all),
        "selection {sel:#}\nall {all:#}"
    );
}

/// Found in review: a function moved, unchanged, to a file of its package that binds
/// the same import name to another package; its text is the same, its meaning is not.
#[test]
fn a_function_moved_to_a_file_that_binds_its_import_name_otherwise_is_a_change() {
    let x = "package a\n\nimport s \"example.com/m/a1\"\n\nfunc F(p *int) int { return s.Keep(p) }\n\nfunc X(p *int) int { return s.Keep(p) }\n";
    assert_selection_sees(
        &[
            ("a1/a1.go", "package a1\n\nfunc Keep(p *int) int { return *p }\n"),
            (
                "a2/a2.go",
                "package a2\n\nvar Sink *int\n\nfunc Keep(p *int) int { Sink = p; return *p }\n",
            ),
            ("a/x.go", x),
            (
                "a/y.go",
                "package a\n\nimport s \"example.com/m/a2\"\n\nfunc Y(p *int) int { return s.Keep(p) }\n",
            ),
            (
                "b/b.go",
                "package b\n\nimport \"example.com/m/a\"\n\nfunc Use() int {\n\tx := 1\n\treturn a.F(&x)\n}\n",
            ),
        ],
        &[
            ("a/x.go", &x.replace("func F(p *int) int { return s.Keep(p) }\n\n", "")),
            (
                "a/y.go",
                "package a\n\nimport s \"example.com/m/a2\"\n\nfunc Y(p *int) int { return s.Keep(p) }\n\nfunc F(p *int) int { return s.Keep(p) }\n",
            ),
        ],
    );
}

/// Found in review: the bodies of two build-constrained variants of a function swapped
/// files; each name's texts are the same set, but the one the build compiles is not.
#[test]
fn build_constrained_variants_that_swap_bodies_are_a_change() {
    let (escapes, keeps) = (
        "func F(p *int) int { Sink = p; return *p }\n",
        "func F(p *int) int { return *p }\n",
    );
    let on = |body: &str| format!("//go:build !variant_off\n\npackage a\n\n{body}");
    let off = |body: &str| format!("//go:build variant_off\n\npackage a\n\n{body}");
    assert_selection_sees(
        &[
            ("a/f_on.go", &on(keeps)),
            ("a/f_off.go", &off(escapes)),
            ("a/v.go", "package a\n\nvar Sink *int\n"),
            (
                "b/b.go",
                "package b\n\nimport \"example.com/m/a\"\n\nfunc Use() int {\n\tx := 1\n\treturn a.F(&x)\n}\n",
            ),
        ],
        &[("a/f_on.go", &on(escapes)), ("a/f_off.go", &off(keeps))],
    );
}

/// Found in review: with -trimpath (a shared cache), two modules of the repository with
/// the same path print the same names; a finding of one must never be placed in the
/// other's file, where an allowlist entry for that copy would accept it.
#[test]
fn with_trimpath_two_modules_of_one_path_never_lend_each_other_findings() {
    let repo = TestRepo::new();
    let module = "module m\n\ngo 1.22\n";
    let f = "package m\n\nfunc F() int {\n\tx := 1\n\treturn x\n}\n";
    repo.write("go.mod", module)
        .write("a.go", f)
        .write("legacy/go.mod", module)
        .write("legacy/a.go", f)
        .write(
            ".escape-gate.yml",
            "version: 1\nallow:\n  - path: \"legacy/**\"\n    reason: legacy copy, not shipped\n",
        );
    let base = repo.commit("base");
    repo.write(
        "a.go",
        "package m\n\nfunc F() *int {\n\tx := 1\n\treturn &x\n}\n",
    );
    let head = repo.commit("the root copy escapes");
    for env in [&[][..], &[("GOFLAGS", "-trimpath")][..]] {
        let (run, json) = diff_json(&repo, &["--config-from", "base", &base, &head], env);
        run.assert_code(1);
        assert!(
            json["allowed"].as_array().is_some_and(Vec::is_empty),
            "{env:?}: {json:#}"
        );
    }
}
