//! Hostile input: a head that loosens its allowlist without adding a line. Each escape
//! is allowed by the first entry that matches it and has count left, so the order of
//! the entries decides what each allows; swapping two entries can let through an
//! escape the base's list would refuse. The effect, not the text, must reach every
//! format's account of the allowlist change.

use serde_json::Value;

use crate::support::{Run, Sentinel, TestRepo};

const BASE_GO: &str = "package m

var sinkBuf *[64]byte
var sinkX *int

// F fills a buffer.
func F() {
\tvar buf [64]byte
\tbuf[0] = 1
}

// G counts.
func G() int {
\tx := 1
\treturn x
}
";

/// Two new escapes: `buf` (line 9) sorts before `x` (line 16).
const HEAD_GO: &str = "package m

var sinkBuf *[64]byte
var sinkX *int

// F fills a buffer.
func F() {
\tvar buf [64]byte
\tsinkBuf = &buf
}

// G counts.
func G() int {
\tx := 1
\tsinkX = &x
\treturn x
}
";

/// Entry A (`a.go`, count 1) first: it takes `buf`, the first new escape, and B
/// (`moved to heap: buf` anywhere) cannot take `x`, which stays new.
const BASE_LIST: &str = "version: 1
allow:
  - path: a.go
    count: 1
    reason: one escape in a.go
  - path: \"**\"
    message: \"moved to heap: buf\"
    reason: buffers may live on the heap
";

/// The same two entries, swapped: B takes `buf`, so A's count is left for `x`.
const HEAD_LIST: &str = "version: 1
allow:
  - path: \"**\"
    message: \"moved to heap: buf\"
    reason: buffers may live on the heap
  - path: a.go
    count: 1
    reason: one escape in a.go
";

fn run(repo: &TestRepo, args: &[&str]) -> Run {
    let sentinel = Sentinel::new();
    let before = sentinel.snapshot();
    let run = repo.run_untouched(args);
    sentinel.assert_unchanged(&before, &run);
    run
}

#[test]
fn swapping_two_entries_that_allows_more_is_a_config_change_in_every_format() {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO), (".escape-gate.yml", BASE_LIST)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("a.go", HEAD_GO);
    let with_base_list = repo.commit("two escapes, the base's allowlist");
    repo.write(".escape-gate.yml", HEAD_LIST);
    let head = repo.commit("swap the two allowlist entries");

    // The base's list on these escapes: one stays new.
    let strict = run(&repo, &["diff", "--format", "json", &base, &with_base_list]);
    strict.assert_code(1);
    let strict = strict.json();
    assert_eq!(strict["summary"]["new"], 1);
    assert_eq!(strict["new"][0]["message"], "moved to heap: x");
    assert_eq!(strict["config_change"], Value::Null);

    // The head's list, the same entries swapped: both are allowed, and the report says
    // which escape only the head's order lets through.
    let json = run(&repo, &["diff", "--format", "json", &base, &head]);
    json.assert_code(0);
    let json = json.json();
    assert_eq!(json["summary"]["allowed"], 2);
    let change = &json["config_change"];
    assert_ne!(change, &Value::Null, "{json}");
    assert_eq!(change["added"], Value::Array(vec![]));
    assert_eq!(change["removed"], Value::Array(vec![]));
    let loosened = change["loosened"].as_array().expect("loosened");
    assert_eq!(loosened.len(), 1, "{change}");
    assert_eq!(loosened[0]["message"], "moved to heap: x");
    assert_eq!(loosened[0]["file"], "a.go");
    assert_eq!(loosened[0]["allowed_by"]["path"], "a.go");
    assert_eq!(loosened[0]["allowed_by"]["line"], 6);

    let title = "allowlist entry at .escape-gate.yml:6 (path \"a.go\", count 1; reason \"one escape in a.go\") allows 1 new heap escape that the base's allowlist would not";
    let text = run(&repo, &["diff", &base, &head]);
    text.assert_code(0);
    assert!(
        text.stdout.contains(
            "config: the head changes the allowlist .escape-gate.yml, and the head's allowlist rules this comparison:\n"
        ) && text.stdout.contains(&format!("  ~ {title}"))
            && text.stdout.contains("      a.go:14:2 in G: moved to heap: x\n"),
        "{}",
        text.stdout
    );

    let github = run(&repo, &["diff", "--format", "github", &base, &head]);
    github.assert_code(0);
    assert!(
        github.stdout.lines().any(|l| l.starts_with(
            "::warning file=.escape-gate.yml,line=6,title=escape-gate%3A the head changes the allowlist::"
        ) && l.contains("allows 1 new heap escape that the base's allowlist would not")
            && l.contains("a.go:14:2 in G: moved to heap: x")),
        "{}",
        github.stdout
    );

    let sarif = run(&repo, &["diff", "--format", "sarif", &base, &head]);
    sarif.assert_code(0);
    let sarif = sarif.json();
    let notifications = sarif["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
        .as_array()
        .expect("notifications");
    assert!(
        notifications.iter().any(|n| {
            n["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains(title))
                && n["locations"][0]["physicalLocation"]["region"]["startLine"] == 6
        }),
        "{notifications:?}"
    );

    let markdown = run(&repo, &["diff", "--format", "markdown", &base, &head]);
    markdown.assert_code(0);
    assert!(
        markdown
            .stdout
            .contains("#### ⚠️ The head changes the allowlist .escape-gate.yml")
            && markdown
                .stdout
                .contains("allows 1 new heap escape that the base")
            && markdown
                .stdout
                .contains("`a.go:14:2 in G: moved to heap: x`"),
        "{}",
        markdown.stdout
    );

    // With the base's rules the swap takes effect only once merged, and is said so.
    let ruled = run(&repo, &["diff", "--config-from", "base", &base, &head]);
    ruled.assert_code(1);
    assert!(
        ruled
            .stdout
            .contains("would allow 1 new heap escape that the base's allowlist would not"),
        "{}",
        ruled.stdout
    );
}

/// A reordering that allows nothing more is no change: the effect decides both ways.
#[test]
fn a_reordering_that_allows_nothing_more_says_nothing() {
    let list = |first: &str, second: &str| format!("version: 1\nallow:\n{first}{second}");
    let a = "  - path: a.go\n    reason: anything in a.go\n";
    let b = "  - path: \"**\"\n    message: \"moved to heap: buf\"\n    reason: buffers\n";
    let repo = TestRepo::go_module(&[("a.go", BASE_GO), (".escape-gate.yml", &list(a, b))]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("a.go", HEAD_GO);
    repo.write(".escape-gate.yml", &list(b, a));
    let head = repo.commit("swap two entries that allow the same");
    let json = run(&repo, &["diff", "--format", "json", &base, &head]);
    json.assert_code(0);
    assert_eq!(json.json()["config_change"], Value::Null, "{}", json.stdout);
}
