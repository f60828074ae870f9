//! The verdict is per package and counts every copy (docs/architecture.md, "How it works"): a new
//! inlined copy of an existing allocation is new, code that moved between the functions
//! of a package is moved, hot paths stay strict, and findings the compiler places in
//! files that are not in the checkout (`//line`) are compared, never dropped.

use serde_json::Value;

use crate::support::{items, json_diff, Run, TestRepo};

/// `file:line function: message` of each finding of `field`, sorted.
fn described(json: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = items(json, field)
        .iter()
        .map(|f| {
            format!(
                "{}:{} {}: {}",
                f["file"].as_str().unwrap_or("?"),
                f["line"],
                f["function"].as_str().unwrap_or("?"),
                f["message"].as_str().unwrap_or("?")
            )
        })
        .collect();
    out.sort();
    out
}

const OPTIONS: &str = r#"package a

import "fmt"

const Min = 1024

// WithSize returns an option that checks its size.
func WithSize(n int) func() error {
	return func() error {
		if n < Min {
			return fmt.Errorf("size below %d", Min)
		}
		return nil
	}
}

// Check uses the option once.
func Check() error {
	return WithSize(5)()
}
"#;

/// The line of `needle` in `text`, 1-based.
fn line_of(text: &str, needle: &str) -> u64 {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..i].matches('\n').count() as u64 + 1
}

#[test]
fn a_new_inlined_copy_of_an_existing_allocation_is_new() {
    let (repo, base) = TestRepo::go_module(&[("a/options.go", OPTIONS)]);
    let encode = "package a\n\n// Encode applies the option again.\nfunc Encode() error {\n\treturn WithSize(7)()\n}\n";
    repo.write("a/encode.go", encode);
    let head = repo.commit("Encode inlines WithSize's closure");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let errorf = line_of(OPTIONS, "fmt.Errorf");
    let new = items(&json, "new");
    // The closure's body is compiled once more, inside Encode: its allocation at the
    // unchanged Errorf line is a new heap allocation.
    let copy = new
        .iter()
        .find(|f| f["file"] == "a/options.go" && f["line"] == errorf)
        .unwrap_or_else(|| panic!("no new copy at a/options.go:{errorf} in {json:#}"));
    assert_eq!(copy["function"], "WithSize.func1", "{json:#}");
    assert_eq!(
        copy["inlined_into"]["function"], "Encode",
        "the copy says where it was inlined: {json:#}"
    );
    assert_eq!(copy["inlined_into"]["file"], "a/encode.go");
    assert_eq!(copy["inlined_into"]["line"], 5);

    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(1);
    assert!(
        text.stdout.contains("inlined into Encode at a/encode.go:5"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_copy_inlined_into_an_importer_is_new_and_counted_there() {
    let (repo, base) = TestRepo::go_module(&[("a/options.go", OPTIONS)]);
    repo.write(
        "b/b.go",
        "package b\n\nimport \"example.com/m/a\"\n\n// B applies a's option.\nfunc B() error {\n\treturn a.WithSize(9)()\n}\n",
    );
    let head = repo.commit("b inlines a's closure");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let errorf = line_of(OPTIONS, "fmt.Errorf");
    let copy = items(&json, "new")
        .iter()
        .find(|f| f["file"] == "a/options.go" && f["line"] == errorf)
        .unwrap_or_else(|| panic!("no copy of a/options.go:{errorf} in {json:#}"));
    assert_eq!(copy["package"], "example.com/m/a");
    assert_eq!(copy["compiled_in"], "example.com/m/b", "{json:#}");
}

const BEFORE: &str = r#"package m

var names map[string]int

var ids map[int]string

// Load builds its tables inline.
func Load(n int) {
	names = make(map[string]int, n)
	ids = make(map[int]string, n)
}
"#;

const AFTER: &str = r#"package m

var names map[string]int

var ids map[int]string

// Load builds its tables with a helper.
func Load(n int) {
	tables(n)
}

//go:noinline
func tables(n int) {
	names = make(map[string]int, n) // by name
	ids = make(map[int]string, n)   // by id
}
"#;

#[test]
fn allocations_moved_into_a_helper_are_moved_not_new() {
    let (repo, base) = TestRepo::go_module(&[("m.go", BEFORE)]);
    repo.write("m.go", AFTER);
    let head = repo.commit("move the tables into a helper");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    assert!(items(&json, "new").is_empty(), "{json:#}");
    assert!(items(&json, "fixed").is_empty(), "{json:#}");
    let moved = items(&json, "moved");
    assert_eq!(moved.len(), 2, "both maps moved: {json:#}");
    for m in moved {
        assert_eq!(m["by"], "package", "{json:#}");
        assert_eq!(m["from"]["function"], "Load");
        assert_eq!(m["function"], "tables");
    }
}

#[test]
fn an_escape_moving_into_a_function_marked_hot_is_new() {
    let (repo, base) = TestRepo::go_module(&[("m.go", BEFORE)]);
    repo.write(
        "m.go",
        &AFTER.replace("//go:noinline\n", "//go:noinline\n//escape-gate:hot\n"),
    );
    let head = repo.commit("move the tables into a hot helper");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = described(&json, "new");
    assert_eq!(new.len(), 2, "{json:#}");
    assert!(new.iter().all(|d| d.contains(" tables: ")), "{new:?}");
    assert_eq!(described(&json, "fixed").len(), 2, "{json:#}");
    assert!(items(&json, "new").iter().all(|f| f["hot"] == true));
    let text = repo.run_untouched(&["diff", &base, &head]);
    assert!(text.stdout.contains("in a hot path"), "{}", text.stdout);
}

#[test]
fn hot_entries_of_the_allowlist_keep_a_function_strict_and_removing_one_is_reported() {
    let config = "version: 1\nhot:\n  - path: \"*.go\"\n    function: tables\n";
    let (repo, base) = TestRepo::go_module(&[("m.go", BEFORE), (".escape-gate.yml", config)]);
    repo.write("m.go", AFTER);
    let strict = repo.commit("move the tables into a helper named hot");
    let (run, json) = json_diff(&repo, &[&base, &strict]);
    run.assert_code(1);
    assert_eq!(items(&json, "new").len(), 2, "{json:#}");

    // A head that also drops the entry passes, and every report says so.
    repo.write(".escape-gate.yml", "version: 1\n");
    let loosened = repo.commit("and drop the hot entry");
    let (run, json) = json_diff(&repo, &[&base, &loosened]);
    run.assert_code(0);
    let removed = items(&json["config_change"], "hot_removed");
    assert_eq!(removed.len(), 1, "{json:#}");
    assert_eq!(removed[0]["function"], "tables");
    let text = repo.run_untouched(&["diff", &base, &loosened]);
    assert!(
        text.stdout.contains("hot path removed (*.go tables)")
            || text.stderr.contains("hot path removed (*.go tables)"),
        "{}{}",
        text.stdout,
        text.stderr
    );
    // With the base's allowlist ruling, the entry still applies.
    let (run, _) = json_diff(&repo, &["--config-from", "base", &base, &loosened]);
    run.assert_code(1);
}

const GRAMMAR: &str =
    "package p\n\n//line parser.y:10\nfunc Value(n int) *int {\n\tx := n\n\treturn &x\n}\n";

#[test]
fn an_escape_in_a_line_directed_file_is_compared_and_reported() {
    let (repo, base) = TestRepo::go_module(&[("p/parser.go", GRAMMAR)]);
    repo.write(
        "p/parser.go",
        &GRAMMAR.replace(
            "\treturn &x\n}\n",
            "\treturn &x\n}\n\nvar sink *int\n\nfunc Keep(n int) {\n\ty := n\n\tsink = &y\n}\n",
        ),
    );
    let head = repo.commit("an escape in generated code");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["file"], "parser.y", "{json:#}");
    assert_eq!(new[0]["message"], "moved to heap: y");
    assert_eq!(new[0]["unplaced"], true);
    assert_eq!(new[0]["package"], "example.com/m/p");
    // The old escape at its remapped position is unchanged, not fixed and new again.
    assert!(items(&json, "fixed").is_empty(), "{json:#}");
}

#[test]
fn a_line_directive_naming_a_standard_library_file_does_not_hide_an_escape() {
    let goroot = String::from_utf8(
        std::process::Command::new("go")
            .args(["env", "GOROOT"])
            .output()
            .expect("go env GOROOT")
            .stdout,
    )
    .expect("utf-8");
    let hidden = format!("{}/src/fmt/print.go", goroot.trim());
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    repo.write(
        "p/p.go",
        &format!("package p\n\nfunc F() {{}}\n\nvar sink *int\n\n//line {hidden}:100\nfunc Keep(n int) {{\n\ty := n\n\tsink = &y\n}}\n"),
    );
    let head = repo.commit("an escape behind a line directive");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "moved to heap: y");
    assert_eq!(new[0]["file"], hidden.as_str());
}

/// A file name that is not UTF-8 is checked out with its bytes, and its escapes are
/// placed in it (the compiler prints the bytes; escape-gate reads them as text).
#[cfg(unix)]
#[test]
fn an_escape_in_a_file_whose_name_is_not_utf8_is_found_and_placed() {
    use std::os::unix::ffi::OsStrExt;
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    let name = std::ffi::OsStr::from_bytes(b"g\xff.go");
    std::fs::write(
        repo.path().join("p").join(name),
        "package p\n\nvar sink *int\n\nfunc G(n int) {\n\tx := n\n\tsink = &x\n}\n",
    )
    .expect("write");
    let head = repo.commit("a file whose name is not UTF-8");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "moved to heap: x");
    assert_eq!(new[0]["function"], "G", "placed in its file: {json:#}");
    assert_eq!(new[0]["file"], "p/g\u{fffd}.go");
    assert!(new[0].get("unplaced").is_none(), "{json:#}");
}

/// A submodule holding Go code of the module is checked out at the commit each side
/// records (its objects are in `.git/modules` after `git submodule update`), so a new
/// escape in it is found; a clone without the submodule's objects says so.
#[test]
fn a_submodule_is_checked_out_at_its_recorded_commit() {
    let lib = TestRepo::new();
    lib.write("lib.go", "package lib\n\nfunc F(n int) int { return n }\n");
    let lib_base = lib.commit("lib base");
    lib.write(
        "lib.go",
        "package lib\n\nvar sink *int\n\nfunc F(n int) int {\n\tx := n\n\tsink = &x\n\treturn n\n}\n",
    );
    lib.commit("lib escapes");

    let (repo, _) = TestRepo::go_module(&[(
        "main.go",
        "package m\n\nimport \"example.com/m/vendored/lib\"\n\nfunc G() int { return lib.F(1) }\n",
    )]);
    let url = lib.path().to_string_lossy().to_string();
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        &url,
        "vendored/lib",
    ]);
    let sub = repo.path().join("vendored/lib");
    crate::support::git_in(&sub, &["checkout", "-q", &lib_base]);
    let base = repo.commit("the submodule at its base");
    crate::support::git_in(&sub, &["checkout", "-q", "main"]);
    let head = repo.commit("the submodule moves to a commit that escapes");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = described(&json, "new");
    // The escape in the submodule, and its copy inlined into G.
    assert_eq!(
        new,
        vec![
            "main.go:5 G: moved to heap: lib.x",
            "vendored/lib/lib.go:6 F: moved to heap: x"
        ],
        "{json:#}"
    );
    assert_eq!(
        json["summary"]["all_packages_because"], "the submodule vendored/lib changed",
        "{json:#}"
    );

    // A clone that never fetched the submodule: its directory is empty, the build
    // fails on the import, and the warning names the submodule and the fix.
    let clone = tempfile::tempdir().expect("temp dir");
    crate::support::git_in(
        clone.path(),
        &["clone", "-q", &repo.path().to_string_lossy(), "c"],
    );
    let run = crate::support::escape_gate()
        .args(["list", &head])
        .current_dir(clone.path().join("c"))
        .output()
        .expect("run");
    let run = Run::from_output(run);
    run.assert_code(2);
    let listed = crate::support::escape_gate()
        .args(["diff", &base, &head])
        .current_dir(clone.path().join("c"))
        .output()
        .expect("run");
    let listed = Run::from_output(listed);
    listed.assert_code(2);
    assert!(listed.stderr.contains("vendored/lib"), "{}", listed.stderr);
}

/// A newline in a file name splits the compiler's line in two: the escape after it is
/// still counted, at the position as printed, and the rest is a warning.
#[cfg(unix)]
#[test]
fn an_escape_in_a_file_with_a_newline_in_its_name_is_still_counted() {
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    repo.write(
        "p/g\nh.go",
        "package p\n\nvar sink *int\n\nfunc G(n int) {\n\tx := n\n\tsink = &x\n}\n",
    );
    let head = repo.commit("a file name with a newline");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "moved to heap: x");
    assert_eq!(new[0]["unplaced"], true, "{json:#}");
    assert!(!items(&json, "warnings").is_empty(), "{json:#}");
}

/// A `.go` file stored in Git LFS is a pointer in git's objects: the commit cannot be
/// checked out faithfully, so the run stops with exit 2, naming the file and the fix.
#[test]
fn a_go_file_stored_in_git_lfs_is_exit_2_naming_it() {
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    repo.write(
        "p/big.go",
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    );
    let head = repo.commit("a Go file in LFS");
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("p/big.go in commit") && run.stderr.contains("Git LFS pointer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("git lfs untrack"), "{}", run.stderr);
}

/// A package `go list` reports as broken (two package names in one directory) is not
/// skipped: the side does not build, exit 2, and the error names the directory.
#[test]
fn a_package_go_list_calls_broken_is_exit_2_not_skipped() {
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    repo.write(
        "q/q.go",
        "package q\n\nvar sink *int\n\nfunc G(n int) {\n\tx := n\n\tsink = &x\n}\n",
    );
    repo.write("q/r.go", "package r\n\nfunc H() {}\n");
    let head = repo.commit("two package names in q");
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("does not build")
            && run.stderr.contains("found packages q (q.go) and r (r.go)"),
        "{}",
        run.stderr
    );
}

/// The GOROOT of the `go` on PATH.
fn goroot() -> String {
    let out = std::process::Command::new("go")
        .args(["env", "GOROOT"])
        .output()
        .expect("go env GOROOT");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A head adds `name` with `text` to package p (next to a harmless p.go); the escape in
/// it must be new, whatever the line directive names.
#[track_caller]
fn assert_line_directive_does_not_hide(name: &std::ffi::OsStr, text: &str) {
    let (repo, base) = TestRepo::go_module(&[(
        "p/p.go",
        "package p\n\ntype T struct{ X int }\n\nfunc Keep() int { return 1 }\n",
    )]);
    std::fs::write(repo.path().join("p").join(name), text).expect("write");
    let head = repo.commit("an escape behind a line directive");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "&T{...} escapes to heap", "{json:#}");
}

const MK: &str = "func Mk() *T {\n\treturn &T{X: 1}\n}\n";

#[test]
fn a_line_directive_naming_generated_or_cgo_code_does_not_hide_an_escape() {
    for target in ["<autogenerated>:1", "_cgo_x.go:1"] {
        assert_line_directive_does_not_hide(
            std::ffi::OsStr::new("x.go"),
            &format!("package p\n\n//line {target}\n{MK}"),
        );
    }
}

#[cfg(unix)]
#[test]
fn a_line_directive_in_a_file_whose_name_is_not_utf8_does_not_hide_an_escape() {
    use std::os::unix::ffi::OsStrExt;
    let print = format!("{}/src/fmt/print.go:100", goroot());
    assert_line_directive_does_not_hide(
        std::ffi::OsStr::from_bytes(b"x\xff.go"),
        &format!("package p\n\n//line {print}\n{MK}"),
    );
}

#[cfg(unix)]
#[test]
fn a_line_directive_in_a_linked_file_does_not_hide_an_escape() {
    let (repo, base) = TestRepo::go_module(&[(
        "p/p.go",
        "package p\n\ntype T struct{ X int }\n\nfunc Keep() int { return 1 }\n",
    )]);
    let print = format!("{}/src/fmt/print.go:100", goroot());
    repo.write(
        "data/src.txt",
        &format!("package p\n\n//line {print}\n{MK}"),
    );
    std::os::unix::fs::symlink("../data/src.txt", repo.path().join("p/y.go")).expect("link");
    let head = repo.commit("an escape behind a line directive, in a linked file");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    assert_eq!(items(&json, "new").len(), 1, "{json:#}");
}

/// A generic function of a package with a line directive, instantiated in another
/// package: the copy is printed under the importer, at the directive's position.
#[test]
fn a_generic_behind_a_line_directive_instantiated_elsewhere_is_still_counted() {
    let print = format!("{}/src/fmt/print.go:100", goroot());
    let generic = format!(
        "package p\n\ntype Box[U any] struct{{ V U }}\n\n//line {print}\n//go:noinline\nfunc Mk[U any](u U) *Box[U] {{ return &Box[U]{{V: u}} }}\n"
    );
    let (repo, base) = TestRepo::go_module(&[
        ("p/p.go", generic.as_str()),
        ("q/q.go", "package q\n\nfunc Use() int { return 1 }\n"),
    ]);
    repo.write(
        "q/q.go",
        "package q\n\nimport \"example.com/m/p\"\n\nfunc Use() *p.Box[int] { return p.Mk(3) }\n",
    );
    let head = repo.commit("q instantiates Mk");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert!(
        new.iter()
            .any(|f| f["package"] == "example.com/m/q" && f["unplaced"] == true),
        "{json:#}"
    );
}

/// Found in review: a head can record gitlinks to any commit this clone has, its base
/// included; one commit written again and again would make a checkout without end.
#[test]
fn a_commit_recorded_by_two_gitlinks_stops_the_run() {
    let (repo, base) = TestRepo::go_module(&[("p/p.go", "package p\n\nfunc F() {}\n")]);
    for path in ["x", "y"] {
        repo.git(&[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{base},{path}"),
        ]);
    }
    repo.git(&["commit", "-q", "-m", "two gitlinks to the base"]);
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(run.stderr.contains("recorded twice"), "{}", run.stderr);
}

/// Found in review: a head that deletes `//escape-gate:hot` and moves an escape into
/// the function in the same change; the base's mark keeps the function strict.
#[test]
fn deleting_the_hot_directive_in_the_same_change_does_not_loosen_the_gate() {
    let base_src = "package p\n\ntype T struct{ X int }\n\nvar G *T\n\nfunc Slow() { G = &T{X: 1} }\n\n//escape-gate:hot\nfunc Hot() int { return 1 }\n";
    let (repo, base) = TestRepo::go_module(&[("p/p.go", base_src)]);
    repo.write(
        "p/p.go",
        "package p\n\ntype T struct{ X int }\n\nvar G *T\n\nfunc Slow() {}\n\nfunc Hot() int { G = &T{X: 1}; return 1 }\n",
    );
    let head = repo.commit("move the allocation into Hot and drop its mark");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["function"], "Hot");
    assert_eq!(new[0]["hot"], true);
}
