//! The allowlist end to end: it allows, counts, expires, reports stale entries, and a
//! malformed one stops the run with its file, line and field.

use serde_json::Value;

use crate::support::TestRepo;

const BASE_GO: &str = r#"package codec

type Encoder struct{ buf []byte }

var last *Encoder

func (e *Encoder) Encode(n int) int {
	return len(e.buf) + n
}
"#;

/// Head: a new escape in `(*Encoder).Encode` (the buffer stored through the leaking
/// receiver) and one in `Reset`.
const HEAD_GO: &str = r#"package codec

type Encoder struct{ buf []byte }

var last *Encoder

func (e *Encoder) Encode(n int) int {
	e.buf = make([]byte, n)
	last = e
	return len(e.buf) + n
}

func Reset() {
	x := Encoder{}
	last = &x
}
"#;

/// A repository whose head commit adds two escapes; returns (repo, base, head).
fn repo_with_new_escapes() -> (TestRepo, String, String) {
    let repo = TestRepo::go_module(&[("internal/codec/codec.go", BASE_GO)]);
    let base = repo.commit("base");
    repo.write("internal/codec/codec.go", HEAD_GO);
    let head = repo.commit("head");
    (repo, base, head)
}

fn diff_json(repo: &TestRepo, base: &str, head: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["diff", "--format", "json", base, head];
    args.extend_from_slice(extra);
    let run = repo.run_untouched(&args);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    (run.code, run.json())
}

#[test]
fn without_allowlist_both_fail() {
    let (repo, base, head) = repo_with_new_escapes();
    let (code, json) = diff_json(&repo, &base, &head, &[]);
    assert_eq!(code, 1);
    let mut messages: Vec<&str> = json["new"]
        .as_array()
        .expect("new")
        .iter()
        .map(|f| f["message"].as_str().expect("message"))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        ["make([]byte, n) escapes to heap", "moved to heap: x"]
    );
}

#[test]
fn entries_allow_by_path_function_and_message() {
    let (repo, base, head) = repo_with_new_escapes();
    let config = repo.path().join("allow.yml");
    std::fs::write(
        &config,
        "version: 1\n# accepted by the codec owners\nallow:\n  - path: \"internal/codec/*.go\"\n    function: \"(*Encoder).Encode\"\n    reason: \"the buffer is handed to the caller\"\n  - path: \"internal/**\"\n    function: \"Reset\"\n    message: \"moved to heap: *\"\n    reason: \"reset is rare\"\n",
    )
    .expect("write config");
    // The file is outside the commits, so it is untracked: copy it to a place outside
    // the repository to keep the repository untouched by the test itself.
    let outside = tempfile::NamedTempFile::new().expect("temp");
    std::fs::copy(&config, outside.path()).expect("copy");
    std::fs::remove_file(&config).expect("remove");
    let path = outside.path().to_str().expect("utf-8");
    let (code, json) = diff_json(&repo, &base, &head, &["--config", path]);
    assert_eq!(code, 0, "{json:#}");
    let allowed = json["allowed"].as_array().expect("allowed");
    assert_eq!(
        allowed.len(),
        json["summary"]["allowed"].as_u64().expect("count") as usize
    );
    assert_eq!(allowed.len(), 2, "{json:#}");
    assert!(
        allowed
            .iter()
            .any(|a| a["function"] == "Reset" && a["allowed_by"]["line"] == 7),
        "{json:#}"
    );
    assert!(
        allowed
            .iter()
            .any(|a| a["function"] == "(*Encoder).Encode" && a["allowed_by"]["line"] == 4),
        "{json:#}"
    );
    assert_eq!(json["new"].as_array().expect("new").len(), 0);
    assert_eq!(json["stale_allow"].as_array().expect("stale").len(), 0);
}

#[test]
fn the_allowlist_is_read_from_the_head_and_counts() {
    let (repo, base, _) = repo_with_new_escapes();
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"internal/codec/codec.go\"\n    count: 1\n    reason: \"one is fine\"\n",
    );
    let head = repo.commit("allow one");
    let (code, json) = diff_json(&repo, &base, &head, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["summary"]["allowed"], 1, "{json:#}");
    assert_eq!(json["new"].as_array().expect("new").len(), 1, "{json:#}");
    assert_eq!(json["allowed"][0]["allowed_by"]["reason"], "one is fine");
}

#[test]
fn expired_entries_stop_allowing_and_unused_entries_are_stale() {
    let (repo, base, _) = repo_with_new_escapes();
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"internal/codec/*.go\"\n    reason: \"until the rewrite\"\n    expires: 2020-01-31\n  - path: \"cmd/**\"\n    reason: \"nothing there\"\n",
    );
    let head = repo.commit("expired allowlist");
    let (code, json) = diff_json(&repo, &base, &head, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["summary"]["allowed"], 0);
    assert_eq!(json["expired_allow"][0]["line"], 3, "{json:#}");
    assert_eq!(json["expired_allow"][0]["expires"], "2020-01-31");
    assert_eq!(
        json["stale_allow"].as_array().expect("stale").len(),
        1,
        "{json:#}"
    );
    assert_eq!(json["stale_allow"][0]["path"], "cmd/**");
    assert_eq!(json["stale_allow"][0]["line"], 6);
    // No revision has a file under cmd/: the entry can go.
    assert_eq!(json["stale_allow"][0]["stale_because"], "gone");

    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(1);
    let short = &head[..10];
    assert!(
        text.stdout.contains(&format!(
            "warning: allowlist entry at .escape-gate.yml:3 (in head {short}) expired on 2020-01-31"
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!(
            "warning: allowlist entry at .escape-gate.yml:6 (in head {short}) allowed nothing (path \"cmd/**\"): no revision has this escape any more: remove the entry (`escape-gate allow --prune`)\n"
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn a_malformed_allowlist_names_file_line_and_field() {
    let (repo, base, _) = repo_with_new_escapes();
    let cases = [
        (
            "version: 1\nallow:\n  - path: \"a/*.go\"\n    reson: \"typo\"\n",
            ":4:5: ",
            "reson",
        ),
        ("version: 1\nallow:\n  - path: \"a/*.go\"\n", ":3:", "reason"),
        (
            "version: 1\nallow:\n  - path: \"a/[b\"\n    reason: \"x\"\n",
            ":3:",
            "path",
        ),
        (
            "version: 1\nallow:\n  - path: \"a/*.go\"\n    reason: \"x\"\n    expires: 2027-02-30\n",
            ":5:",
            "expires",
        ),
        ("version: 1\nbuld:\n  tags: [x]\n", ":2:1: ", "buld"),
    ];
    for (text, place, field) in cases {
        repo.write(".escape-gate.yml", text);
        let head = repo.commit("bad allowlist");
        let run = repo.run_untouched(&["diff", &base, &head]);
        run.assert_code(2);
        assert!(
            run.stderr.starts_with("error: .escape-gate.yml (in "),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(place),
            "want {place:?} in {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(field),
            "want {field:?} in {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}
