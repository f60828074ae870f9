//! Hostile input: what cgo reads that the Go build cache does not hash. A head that
//! changes only a file outside the package's directory, which the package's C code
//! includes, must be analysed anew, never answered from the base's cached build (both
//! sides build at the same path), nor from the findings cache.
//!
//! Each case: the base's header makes `C.BUFN` 16, so `make([]byte, C.BUFN)` stays on
//! the stack; the head's makes it 1,000,000, which goes to the heap. One new escape,
//! whether every package is analysed or only those the change affects, with the
//! findings cache on and off.

use crate::support::{Run, Sentinel, TestRepo};

/// The package: its cgo preamble is `preamble`.
fn package(preamble: &str) -> String {
    format!(
        "package p

{preamble}
import \"C\"

// Fill fills a buffer of C.BUFN bytes.
func Fill() int {{
\tb := make([]byte, C.BUFN)
\tfor i := range b {{
\t\tb[i] = 1
\t}}
\treturn len(b)
}}
"
    )
}

/// A repository whose base has `header_path` defining BUFN as 16 and whose head
/// changes only that file, to 1000000.
fn repo(files: &[(&str, &str)], header_path: &str) -> (TestRepo, String, String) {
    crate::support::require_go();
    let (repo, _) = TestRepo::go_module(files);
    repo.write(header_path, "#define BUFN 16\n");
    let base = repo.commit("base");
    repo.write(header_path, "#define BUFN 1000000\n");
    let head = repo.commit("head: only the header changes");
    (repo, base, head)
}

/// Runs `diff` the ways that once replayed the base: every package, only the affected
/// ones, the findings cache on and off. Each must find the one new escape.
fn assert_found_every_way(repo: &TestRepo, base: &str, head: &str) {
    let sentinel = Sentinel::new();
    let outside = sentinel.snapshot();
    for (extra, cache) in [
        (None, "on"),
        (Some("--all-packages"), "off"),
        (Some("--all-packages"), "on"),
        (None, "off"),
    ] {
        let mut args = vec!["diff", "--format", "json"];
        args.extend(extra);
        args.extend([base, head]);
        let run: Run = repo.run_untouched_with(&args, |cmd| {
            if cache == "off" {
                cmd.env("ESCAPE_GATE_CACHE", "off");
            }
        });
        run.assert_code(1);
        let json = run.json();
        assert_eq!(
            json["summary"]["new"], 1,
            "{args:?} with the findings cache {cache}: {json:#}"
        );
        let new = &json["new"][0];
        assert_eq!(new["file"], "p/p.go", "{new:#}");
        assert!(
            new["message"]
                .as_str()
                .is_some_and(|m| m.contains("escapes to heap")),
            "{new:#}"
        );
        sentinel.assert_unchanged(&outside, &run);
    }
}

#[test]
fn a_header_outside_the_package_included_by_a_relative_path() {
    let p = package("// #include \"../inc/n.h\"");
    let (repo, base, head) = repo(&[("p/p.go", &p)], "inc/n.h");
    assert_found_every_way(&repo, &base, &head);
}

#[test]
fn a_header_found_through_an_include_directory_under_srcdir() {
    let p = package("// #cgo CFLAGS: -I${SRCDIR}/../inc\n// #include \"n.h\"");
    let (repo, base, head) = repo(&[("p/p.go", &p)], "inc/n.h");
    assert_found_every_way(&repo, &base, &head);
}

#[test]
fn a_header_in_a_subdirectory_of_the_package() {
    // go hashes the headers of the package's own directory, not of those below it.
    let p = package("// #include \"sub/n.h\"");
    let (repo, base, head) = repo(&[("p/p.go", &p)], "p/sub/n.h");
    assert_found_every_way(&repo, &base, &head);
}

#[test]
fn an_included_file_whose_name_is_not_a_c_files() {
    // Not a header by its name, so not "C code changed" either: the package must still
    // be selected, and built anew.
    let p = package("// #include \"../data/sizes.def\"");
    let (repo, base, head) = repo(&[("p/p.go", &p)], "data/sizes.def");
    assert_found_every_way(&repo, &base, &head);
}

#[test]
fn an_unchanged_tree_keeps_its_answer() {
    // The same header on both sides, only Go code elsewhere changed: no new escape, and
    // the package that uses cgo is not reported.
    let p = package("// #include \"../inc/n.h\"");
    let (repo, _) = TestRepo::go_module(&[
        ("p/p.go", &p),
        ("inc/n.h", "#define BUFN 16\n"),
        (
            "q/q.go",
            "package q\n\n// Q is one.\nfunc Q() int { return 1 }\n",
        ),
    ]);
    crate::support::require_go();
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "q/q.go",
        "package q\n\n// Q is two.\nfunc Q() int { return 2 }\n",
    );
    let head = repo.commit("head: Go code only");
    let run = repo.run_untouched(&["diff", "--format", "json", "--all-packages", &base, &head]);
    run.assert_code(0);
    assert_eq!(run.json()["summary"]["new"], 0, "{}", run.stdout);
}
