//! Hostile input: links where escape-gate writes. Every file a command writes (`allow`'s
//! allowlist, `init`'s files, `install-hook`'s hook and backup, `man --dir`'s pages) is
//! written without following a link, as the file or as a directory on the way: the
//! command exits 2 naming the link, the repository is byte-identical and nothing
//! appears outside it.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::support::{Run, Sentinel, TestRepo};

const BASE_GO: &str = "package m\n\nvar sink *int\n";

/// `x$(touch pwned).go`: a name that is a shell command once written unquoted.
const SHELL_NAME: &str = "x$(touch pwned).go";
const LEAK_GO: &str = "package m\n\n// Leak keeps a pointer to its local.\nfunc Leak(v int) {\n\tx := v\n\tsink = &x\n}\n";

/// Runs `args` in `repo`; checks that the repository and `sentinel` are untouched.
fn run_guarded(repo: &TestRepo, sentinel: &Sentinel, args: &[&str]) -> Run {
    let before = sentinel.snapshot();
    let run = repo.run_untouched(args);
    sentinel.assert_unchanged(&before, &run);
    run
}

#[track_caller]
fn assert_refused(run: &Run, phrases: &[&str]) {
    run.assert_code(2);
    for phrase in phrases {
        assert!(
            run.stderr.contains(phrase),
            "stderr should contain {phrase:?}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
}

/// A branch that commits `.escape-gate.yml` as a link to `target` and a Go file with a
/// shell command for a name and a new escape; the working tree is that commit.
fn linked_allowlist_repo(target: &Path) -> TestRepo {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write(SHELL_NAME, LEAK_GO);
    symlink(target, repo.path().join(".escape-gate.yml")).expect("link");
    repo.commit("a link for an allowlist");
    repo
}

#[test]
fn allow_refuses_an_allowlist_that_is_a_link_to_a_missing_file_outside() {
    let sentinel = Sentinel::new();
    let target = sentinel.path().join("new_aliases");
    let repo = linked_allowlist_repo(&target);
    let run = run_guarded(&repo, &sentinel, &["allow", "--reason", "ok", "HEAD~1"]);
    assert_refused(
        &run,
        &[
            "error: cannot read the allowlist .escape-gate.yml: it is a symbolic link",
            "without following links",
        ],
    );
    assert!(!run.stdout.contains("added"), "{}", run.stdout);
    assert!(!target.exists());
}

#[test]
fn allow_refuses_an_allowlist_that_is_a_link_to_dev_zero() {
    let sentinel = Sentinel::new();
    let repo = linked_allowlist_repo(Path::new("/dev/zero"));
    // Read without bound, /dev/zero would never end: the link is refused unread.
    let run = run_guarded(&repo, &sentinel, &["allow", "--reason", "ok", "HEAD~1"]);
    assert_refused(
        &run,
        &["the allowlist .escape-gate.yml: it is a symbolic link"],
    );
}

#[test]
fn allow_refuses_a_config_below_a_linked_directory() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    repo.write(SHELL_NAME, LEAK_GO);
    symlink(sentinel.path(), repo.path().join("conf")).expect("link");
    repo.commit("a linked directory");
    let run = run_guarded(
        &repo,
        &sentinel,
        &[
            "allow",
            "--reason",
            "ok",
            "--config",
            "conf/gate.yml",
            "HEAD~1",
        ],
    );
    assert_refused(
        &run,
        &["cannot read the allowlist conf/gate.yml: it goes through the symbolic link conf"],
    );
}

#[test]
fn allow_writes_a_regular_allowlist_by_renaming_a_new_file_over_it() {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO), (".escape-gate.yml", "version: 1\n")]);
    repo.write(SHELL_NAME, LEAK_GO);
    // A second name for the allowlist: a file written in place would change it too.
    fs::hard_link(
        repo.path().join(".escape-gate.yml"),
        repo.path().join("other-name.yml"),
    )
    .expect("hard link");
    let run = repo.run(&["allow", "--reason", "ok"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("added 1 entry to .escape-gate.yml for"),
        "{}",
        run.stdout
    );
    assert!(repo
        .read(".escape-gate.yml")
        .contains("- path: \"x$(touch pwned).go\""));
    assert_eq!(repo.read("other-name.yml"), "version: 1\n");
    // No temporary file left beside it.
    let names: Vec<String> = fs::read_dir(repo.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("escape-gate-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn init_refuses_a_github_directory_that_is_a_link_outside() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::new();
    repo.write("go.mod", crate::support::GO_MOD);
    symlink(sentinel.path(), repo.path().join(".github")).expect("link");
    repo.commit("linked .github");
    let run = run_guarded(&repo, &sentinel, &["init"]);
    assert_refused(
        &run,
        &[
            "cannot write .github/workflows/escape-gate.yml in",
            ".github is a symbolic link, and escape-gate never writes through a link; nothing was written",
        ],
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn install_hook_refuses_a_hook_that_is_a_link() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::new();
    repo.commit("empty");
    let hooks = repo.path().join(".git/hooks");
    fs::create_dir_all(&hooks).expect("mkdir");
    symlink(sentinel.path().join("a.go"), hooks.join("pre-push")).expect("link");
    let run = run_guarded(&repo, &sentinel, &["install-hook", "--force"]);
    assert_refused(
        &run,
        &["pre-push: it is a symbolic link; nothing was changed"],
    );
}

#[test]
fn man_refuses_a_page_that_is_a_link() {
    let sentinel = Sentinel::new();
    let dir = tempfile::tempdir().expect("tempdir");
    symlink(
        sentinel.path().join("a.go"),
        dir.path().join("escape-gate.1"),
    )
    .expect("link");
    let before = sentinel.snapshot();
    let output = crate::support::escape_gate()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run");
    let run = Run::from_output(output);
    sentinel.assert_unchanged(&before, &run);
    run.assert_code(2);
    assert!(
        run.stderr.contains(
            "escape-gate.1 is a symbolic link, and escape-gate never writes through a link"
        ),
        "{}",
        run.stderr
    );
}
