//! `escape-gate allow` end to end: after it the gate passes on the same revisions, it
//! touches only the allowlist file, keeps the file's comments and entries, needs a
//! reason, and `--prune` removes only the entries that matched nothing.

use std::fs;

use crate::support::TestRepo;

const BASE_GO: &str = "package m\n\nvar sink any\n\nvar sinkp *int\n";

/// Three new escapes, one of them twice, one with `*` in its message.
const HEAD_GO: &str = r#"package m

var sink any

var sinkp *int

func Deref(p *int) {
	sink = *p
}

func Twice(a, b int) {
	sink = &[2]int{a}
	sink = &[2]int{b}
}

func Keep(a int) {
	x := a
	sinkp = &x
}
"#;

const CONFIG: &str = ".escape-gate.yml";

/// A repository whose working tree adds escapes to its only commit.
fn repo_with_uncommitted_escapes() -> TestRepo {
    let (repo, _) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write("a.go", HEAD_GO);
    repo
}

/// Runs escape-gate and checks that nothing but the allowlist file changed.
fn run_touching_only_config(repo: &TestRepo, args: &[&str]) -> crate::support::Run {
    let path = repo.path().join(CONFIG);
    let before_text = fs::read_to_string(&path).ok();
    let before = repo.snapshot();
    let run = repo.run(args);
    let after_text = fs::read_to_string(&path).ok();
    // Put the allowlist back as it was: then the whole repository must be as it was.
    match &before_text {
        Some(text) => fs::write(&path, text).expect("restore"),
        None if after_text.is_some() => fs::remove_file(&path).expect("remove"),
        None => {}
    }
    before.assert_same(&repo.snapshot(), &run);
    if let Some(text) = &after_text {
        fs::write(&path, text).expect("re-apply");
    }
    run
}

#[test]
fn allow_round_trips_and_touches_only_the_allowlist() {
    let repo = repo_with_uncommitted_escapes();
    repo.run_untouched(&["diff", "HEAD"]).assert_code(1);

    // --dry-run prints the entries and writes nothing.
    let dry = repo.run_untouched(&[
        "allow",
        "--reason",
        "accepted: see #12",
        "--dry-run",
        "HEAD",
    ]);
    dry.assert_code(0);
    assert!(
        dry.stdout.starts_with(
            "would add 3 entries to .escape-gate.yml (to be created) for 4 new heap escapes"
        ),
        "{}",
        dry.stdout
    );

    let run = run_touching_only_config(&repo, &["allow", "--reason", "accepted: see #12", "HEAD"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("added 3 entries to .escape-gate.yml (created)"),
        "{}",
        run.stdout
    );
    let text = repo.read(CONFIG);
    assert_eq!(
        text,
        "version: 1\nallow:\n\
         \x20 - path: \"a.go\"\n    function: \"Deref\"\n    message: \"*p escapes to heap\"\n    reason: \"accepted: see #12\"\n\
         \x20 - path: \"a.go\"\n    function: \"Twice\"\n    message: \"&[2]int{...} escapes to heap\"\n    count: 2\n    reason: \"accepted: see #12\"\n\
         \x20 - path: \"a.go\"\n    function: \"Keep\"\n    message: \"moved to heap: x\"\n    reason: \"accepted: see #12\"\n"
    );
    let run = repo.run_untouched(&["diff", "--format", "json", "HEAD"]);
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["summary"]["allowed"], 4, "{json:#}");
    assert_eq!(json["stale_allow"].as_array().expect("stale").len(), 0);

    // Nothing new left: allow says so and leaves the file alone.
    let again = repo.run_untouched(&["allow", "--reason", "again", "HEAD"]);
    again.assert_code(0);
    assert!(
        again.stdout.starts_with("nothing to allow"),
        "{}",
        again.stdout
    );
}

#[test]
fn allow_keeps_comments_and_other_entries() {
    let repo = repo_with_uncommitted_escapes();
    let original = "# Reviewed by the runtime team.\nversion: 1\n\nallow:\n  # Deref boxes on purpose.\n  - path: 'a.go'   # single quotes stay\n    function: Deref\n    reason: >\n      the value is logged\n\n# Build settings below the list.\nbuild:\n  tags: [\"netgo\"]\n";
    repo.write(CONFIG, original);
    let run = run_touching_only_config(
        &repo,
        &[
            "allow",
            "--reason",
            "fine for now",
            "--expires",
            "2099-12-31",
            "HEAD",
        ],
    );
    run.assert_code(0);
    let text = repo.read(CONFIG);
    let (head, tail) = original.split_at(original.find("\n# Build settings").expect("marker"));
    assert!(text.starts_with(head), "{text}");
    assert!(text.ends_with(tail), "{text}");
    let added = &text[head.len()..text.len() - tail.len()];
    assert_eq!(
        added,
        "  - path: \"a.go\"\n    function: \"Twice\"\n    message: \"&[2]int{...} escapes to heap\"\n    count: 2\n    reason: \"fine for now\"\n    expires: 2099-12-31\n\
         \x20 - path: \"a.go\"\n    function: \"Keep\"\n    message: \"moved to heap: x\"\n    reason: \"fine for now\"\n    expires: 2099-12-31\n"
    );
    repo.run_untouched(&["diff", "HEAD"]).assert_code(0);
}

#[test]
fn allow_needs_a_reason() {
    let repo = repo_with_uncommitted_escapes();
    for args in [
        &["allow", "HEAD"][..],
        &["allow", "--reason", "  ", "HEAD"][..],
    ] {
        let run = repo.run_untouched(args);
        run.assert_code(2);
        assert!(run.stderr.contains("--reason"), "{}", run.stderr);
    }
    let run = repo.run_untouched(&["allow", "--reason", "x", "--expires", "2020-01-01", "HEAD"]);
    run.assert_code(2);
    assert!(run.stderr.contains("in the past"), "{}", run.stderr);
}

/// A committed head: the working tree's file is edited; the gate reads the head's, so
/// the command says how to make the entries count.
#[test]
fn allow_on_a_commit_edits_the_working_tree_file() {
    let (repo, base) = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write("a.go", HEAD_GO);
    let head = repo.commit("head");
    let run = run_touching_only_config(&repo, &["allow", "--reason", "ok", &base, &head]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("note: the gate reads .escape-gate.yml from the head revision"),
        "{}",
        run.stdout
    );
    repo.run_untouched(&["diff", &base, &head]).assert_code(1);
    repo.run_untouched(&["diff", "--config", CONFIG, &base, &head])
        .assert_code(0);
    let committed = repo.commit("allow");
    repo.run_untouched(&["diff", &base, &committed])
        .assert_code(0);
}

#[test]
fn prune_removes_only_stale_entries() {
    let repo = repo_with_uncommitted_escapes();
    let original = "version: 1\n# keep this comment\nallow:\n  # Deref is fine\n  - path: \"a.go\"\n    function: \"Deref\"\n    reason: \"logged\"\n  # gone since the rewrite\n  - path: \"cmd/**\"\n    reason: \"old tool\"\n  - path: \"a.go\"\n    function: \"Old*\"\n    reason: \"older\"\n  - path: \"a.go\"\n    function: \"Keep\"\n    reason: \"expired one\"\n    expires: 2020-01-01\n";
    repo.write(CONFIG, original);

    let dry = repo.run_untouched(&["allow", "--prune", "--dry-run", "HEAD"]);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("would remove 2 stale entries from .escape-gate.yml"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("  .escape-gate.yml:9: path \"cmd/**\" (reason: old tool)"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("  .escape-gate.yml:11: path \"a.go\", function \"Old*\" (reason: older)"),
        "{}",
        dry.stdout
    );
    // The expired entry is reported with its line, and kept.
    assert!(
        dry.stdout
            .contains("note: the entry at .escape-gate.yml:14 expired on 2020-01-01"),
        "{}",
        dry.stdout
    );

    let run = run_touching_only_config(&repo, &["allow", "--prune", "HEAD"]);
    run.assert_code(0);
    assert_eq!(
        repo.read(CONFIG),
        "version: 1\n# keep this comment\nallow:\n  # Deref is fine\n  - path: \"a.go\"\n    function: \"Deref\"\n    reason: \"logged\"\n  # gone since the rewrite\n  - path: \"a.go\"\n    function: \"Keep\"\n    reason: \"expired one\"\n    expires: 2020-01-01\n"
    );
    let again = repo.run_untouched(&["allow", "--prune", "HEAD"]);
    again.assert_code(0);
    assert!(
        again
            .stdout
            .contains("no stale entries in .escape-gate.yml"),
        "{}",
        again.stdout
    );
    // A reason makes no sense with --prune.
    repo.run_untouched(&["allow", "--prune", "--reason", "x", "HEAD"])
        .assert_code(2);
}
