//! Hostile input: sizes. An allowlist built to make the YAML parser work far harder
//! than its length (aliases that expand exponentially, nesting a hundred thousand
//! deep, megabytes of text), a compiler line longer than any real one, a source file
//! too large to parse for attribution, a file name the parser once sliced wrongly.
//! Each run finishes with a clear message (exit 2 for the allowlist), and the
//! repository is left as it was. (Times are measured by hand, never asserted.)

use crate::support::{Run, TestRepo};

const LIB_GO: &str = "package lib

// Sink keeps what it is given.
var Sink *int

// Keep stores a copy of n.
func Keep(n int) {
\tp := n
\tSink = &p
}
";

/// Runs `escape-gate diff` on a base and a head whose allowlist is `config`.
fn diff_with_config(config: &str) -> Run {
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    repo.write(".escape-gate.yml", config);
    let head = repo.commit("a hostile allowlist");
    repo.run_untouched(&["diff", &base, &head])
}

#[track_caller]
fn assert_config_error(run: &Run, phrase: &str) {
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.starts_with("error: .escape-gate.yml (in ")
            && run.stderr.contains(phrase)
            && run.stderr.contains("\nhint: "),
        "{}",
        run.stderr
    );
}

/// Nine levels of nine aliases each: 9^9 strings once expanded.
fn alias_bomb(width: usize) -> String {
    let mut text = String::from("version: 1\nbuild:\n");
    text.push_str(&format!(
        "  tags: &a0 [{}]\n",
        vec!["\"lol\""; width].join(", ")
    ));
    for level in 1..9 {
        let refs = vec![format!("*a{}", level - 1); width].join(", ");
        text.push_str(&format!("  packages: &a{level} [{refs}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_is_refused_at_its_first_anchor() {
    let run = diff_with_config(&alias_bomb(9));
    assert_config_error(
        &run,
        ":3:9: YAML anchors (&name) are not supported in an allowlist",
    );
}

#[test]
fn a_big_alias_bomb_is_refused_for_its_size() {
    // The shape that aborted the process: 1.35 MB of aliases.
    let mut text = alias_bomb(9);
    while text.len() < 1_350_000 {
        text.push_str(&format!("# {}\n", "*a8 ".repeat(40)));
    }
    let run = diff_with_config(&text);
    assert_config_error(&run, "an allowlist may be at most 1048576 bytes (1 MiB)");
}

#[test]
fn deep_flow_nesting_is_refused() {
    let text = format!("version: 1\nallow: {}\n", "[".repeat(100_000));
    let run = diff_with_config(&text);
    assert_config_error(&run, ":2:24: `[` and `{` are nested more than 16 deep");
    let closed = format!(
        "version: 1\nbuild:\n  tags: {}{}\n",
        "[{x: ".repeat(20_000),
        "}]".repeat(20_000)
    );
    assert_config_error(&diff_with_config(&closed), "nested more than 16 deep");
}

#[test]
fn deep_block_nesting_is_refused() {
    // The typed reader stops at the first key or item out of place, before
    // yaml_serde's depth limit of 128; either way the run ends at once, with a line.
    let text: String = std::iter::once("version: 1\nbuild:\n".to_string())
        .chain((1..1200).map(|i| format!("{}k:\n", " ".repeat(i))))
        .collect();
    let run = diff_with_config(&text);
    assert_config_error(&run, ":3:2: build: unknown field `k`");
    let dashes = format!("version: 1\nallow:\n{}x\n", "- ".repeat(100_000));
    assert_config_error(
        &diff_with_config(&dashes),
        ":3:3: allow[0]: invalid type: sequence",
    );
}

#[test]
fn an_oversized_allowlist_is_refused_for_its_size() {
    // 13.8 MB of ordinary entries took 910 MB of memory to parse.
    let entry = "  - path: \"internal/codec/*.go\"\n    function: \"(*Encoder).Encode\"\n    reason: \"the buffer is handed to the caller\"\n";
    let mut text = String::from("version: 1\nallow:\n");
    while text.len() < 13_800_000 {
        text.push_str(entry);
    }
    let run = diff_with_config(&text);
    assert_config_error(&run, "the file is 13800");
    assert!(
        run.stderr.contains("at most 1048576 bytes (1 MiB)"),
        "{}",
        run.stderr
    );
}

/// Found by the parser's property tests: a line starting with a character of more than
/// one byte panicked. A `//line` directive makes the compiler print any file name.
#[test]
fn a_line_directive_naming_a_wide_character_file_does_not_crash() {
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    repo.write(
        "lib/other.go",
        "package lib\n\n//line é.go:10:1\nfunc Other(n int) {\n\tq := n\n\tSink = &q\n}\n",
    );
    let head = repo.commit("a //line directive");
    let run = repo.run_untouched(&["diff", &base, &head]);
    // é.go is not a file of the repository: its finding is compared as printed, and
    // it is new.
    run.assert_code(1);
    assert!(run.stdout.contains("new é.go:11:2"), "{}", run.stdout);
    assert!(run.stdout.contains("moved to heap: q"), "{}", run.stdout);
}

#[test]
fn a_compiler_line_too_long_to_read_is_a_warning_and_the_rest_is_still_read() {
    // A function name of 70,000 characters: the compiler's `can inline NAME` line is
    // longer than escape-gate reads (64 KiB). The escape inside is a short line.
    let name = format!("F{}", "x".repeat(70_000));
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    repo.write(
        "lib/long.go",
        &format!(
            "package lib\n\n// {name} keeps n.\nfunc {name}(n int) {{\n\tq := n\n\tSink = &q\n}}\n"
        ),
    );
    let head = repo.commit("a long name");
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    let json = run.json();
    let new = json["new"].as_array().expect("new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["message"], "moved to heap: q");
    let warnings = json["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("bytes, too long to read; cut here)"))),
        "{json:#}"
    );
    // Only the start of the line is kept in the warning.
    let warning = warnings
        .iter()
        .filter_map(|w| w.as_str())
        .find(|w| w.contains("too long to read"))
        .expect("the warning");
    assert!(warning.len() < 1_000, "{} bytes", warning.len());
}

#[test]
fn a_source_file_too_large_to_attribute_is_compared_under_a_name_that_says_so() {
    // 17 MiB of comments around one new escape: compiled, but not given to tree-sitter.
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    let mut big = String::from(
        "package lib\n\n// Big keeps n.\nfunc Big(n int) {\n\tq := n\n\tSink = &q\n}\n",
    );
    let comment = format!("// {}\n", "padding ".repeat(12));
    while big.len() < 17 << 20 {
        big.push_str(&comment);
    }
    repo.write("lib/big.go", &big);
    let head = repo.commit("a very large file");
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    let json = run.json();
    let new = json["new"].as_array().expect("new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["file"], "lib/big.go");
    assert_eq!(new[0]["function"], "(file over 16 MiB: not attributed)");
    assert_eq!(new[0]["message"], "moved to heap: q");
}

/// One file of `n` one-line functions, each with one escape, every `step`-th of them.
fn one_line_functions(n: usize, step: usize) -> String {
    let mut text = String::from("package p\n\nvar sink *int\n\n");
    for i in (0..n).step_by(step) {
        text.push_str(&format!("func f{i}(v int) {{ x := v; sink = &x }}\n"));
    }
    text
}

#[test]
fn a_pull_request_with_thousands_of_new_escapes_counts_each_once() {
    // The shape that once took cubic time (a diff of the file per new escape): one in
    // a hundred functions in the base, all of them in the head. (Times are measured by
    // bench/large-pr.sh, never asserted.)
    crate::support::require_go();
    let (repo, base) = TestRepo::go_module(&[("p/p.go", &one_line_functions(2000, 100))]);
    repo.write("p/p.go", &one_line_functions(2000, 1));
    let head = repo.commit("1,980 new functions");
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["summary"]["new"], 1980, "{}", json["summary"]);
    assert_eq!(json["summary"]["unchanged"], 20, "{}", json["summary"]);
    assert_eq!(json["summary"]["fixed"], 0, "{}", json["summary"]);
    let new = json["new"].as_array().expect("new");
    let mut functions: Vec<&str> = new
        .iter()
        .map(|f| f["function"].as_str().expect("function"))
        .collect();
    functions.sort();
    functions.dedup();
    assert_eq!(functions.len(), 1980);
    assert!(!functions.contains(&"f100") && functions.contains(&"f101"));
    // The text report's per-function listing shows each new escape once.
    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(1);
    let added = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("+example.com/m/p "))
        .count();
    assert_eq!(added, 1980, "{}", text.stdout);
}
