//! The pre-push hook with real `git push` to a bare remote in a temporary directory,
//! installed by `escape-gate install-hook`, and run by the pre-commit framework.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{git_in, hermetic, Run, TestRepo};

const A_GO: &str = r#"package m

type T struct{ A int }

var sink *T

func Keep(a int) {
	sink = &T{A: a}
}

func Local(a int) int {
	t := T{A: a}
	return t.A
}
"#;

/// A clone with a bare `origin`, `main` pushed, the hook installed. Returns the repo
/// and the remote's path.
fn pushed_repo() -> (TestRepo, tempfile::TempDir) {
    let repo = TestRepo::go_module(&[("a.go", A_GO)]);
    let remote = add_bare_origin(&repo);
    repo.git(&["push", "-q", "-u", "origin", "main"]);
    repo.git(&["remote", "set-head", "origin", "main"]);
    let run = repo.run(&["install-hook"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("installed the escape-gate pre-push hook"),
        "{run:?}"
    );
    (repo, remote)
}

/// A bare repository in a temporary directory, added to `repo` as `origin`.
fn add_bare_origin(repo: &TestRepo) -> tempfile::TempDir {
    let remote = tempfile::Builder::new()
        .prefix("eg-remote-")
        .tempdir()
        .expect("temp");
    git_in(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        remote.path().to_str().expect("utf-8"),
    ]);
    remote
}

/// `git push` with extra environment; returns what git (and the hook) printed.
fn push(repo: &TestRepo, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd)
        .arg("push")
        .args(args)
        .current_dir(repo.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from_output(cmd.output().expect("run git push"))
}

fn remote_ref(remote: &Path, name: &str) -> Option<String> {
    let output = hermetic(&mut Command::new("git"))
        .args(["rev-parse", "--verify", "--quiet", name])
        .current_dir(remote)
        .output()
        .expect("git rev-parse");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn add_escape(repo: &TestRepo) -> String {
    repo.write(
        "a.go",
        &A_GO.replace("\treturn t.A\n", "\tsink = &t\n\treturn t.A\n"),
    );
    repo.commit("keep t")
}

#[test]
fn a_push_of_moved_code_is_accepted() {
    let (repo, remote) = pushed_repo();
    let keep = "func Keep(a int) {\n\tsink = &T{A: a}\n}\n";
    repo.write("a.go", &A_GO.replace(keep, ""));
    repo.write(
        "keep.go",
        &format!("package m\n\n// Keep moved here.\n{keep}"),
    );
    let head = repo.commit("move Keep");
    let run = push(&repo, &["origin", "main"], &[]);
    run.assert_code(0);
    assert!(run.stderr.contains("escape-gate: checking main"), "{run:?}");
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );
}

#[test]
fn a_push_adding_an_escape_is_refused_and_the_remote_is_unchanged() {
    let (repo, remote) = pushed_repo();
    let before = remote_ref(remote.path(), "main");
    add_escape(&repo);
    let run = push(&repo, &["origin", "main"], &[]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("new a.go:12:2 in Local\n    moved to heap: t\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("push refused: main: 1 new heap escape."),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("git push --no-verify"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("failed to push some refs"),
        "{}",
        run.stderr
    );
    assert_eq!(remote_ref(remote.path(), "main"), before);

    // The suggested `escape-gate allow` command, committed, lets the push through.
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("accept them: `escape-gate allow --reason"))
        .unwrap_or_else(|| panic!("no allow suggestion in {}", run.stderr));
    let revs: Vec<&str> = line
        .split("escape-gate allow --reason \"…\" ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("revisions after the allow command")
        .split_whitespace()
        .collect();
    assert_eq!(revs.len(), 2, "{line}");
    let allow = repo.run(&[
        "allow",
        "--reason",
        "t is shared with the status page",
        revs[0],
        revs[1],
    ]);
    allow.assert_code(0);
    let head = repo.commit("accept t");
    let accepted = push(&repo, &["origin", "main"], &[]);
    accepted.assert_code(0);
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );
}

#[test]
fn an_allowlisted_escape_is_accepted() {
    let (repo, remote) = pushed_repo();
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: a.go\n    function: Local\n    reason: \"t is shared with the status page\"\n",
    );
    let head = add_escape(&repo);
    let run = push(&repo, &["origin", "main"], &[]);
    run.assert_code(0);
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );
}

#[test]
fn a_new_branch_with_an_escape_is_refused() {
    let (repo, remote) = pushed_repo();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    add_escape(&repo);
    let run = push(&repo, &["origin", "feature"], &[]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("feature: new branch; comparing with its merge-base with origin/HEAD"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("push refused: feature: 1 new heap escape."),
        "{}",
        run.stderr
    );
    assert_eq!(remote_ref(remote.path(), "feature"), None);
}

#[test]
fn a_multi_ref_push_with_one_bad_ref_is_refused_whole() {
    let (repo, remote) = pushed_repo();
    repo.git(&["checkout", "-q", "-b", "good"]);
    repo.write(
        "b.go",
        "package m\n\n// B is harmless.\nfunc B() int { return 1 }\n",
    );
    repo.commit("good work");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["checkout", "-q", "-b", "bad"]);
    add_escape(&repo);
    let run = push(&repo, &["origin", "good", "bad"], &[]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("escape-gate: checking good"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("push refused: bad: 1 new heap escape."),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("good: 1 new"), "{}", run.stderr);
    assert_eq!(remote_ref(remote.path(), "good"), None);
    assert_eq!(remote_ref(remote.path(), "bad"), None);
}

#[test]
fn deleting_a_branch_and_pushing_tags_are_not_checked() {
    let (repo, remote) = pushed_repo();
    repo.git(&["checkout", "-q", "-b", "old"]);
    let escaping = add_escape(&repo);
    push(&repo, &["--no-verify", "origin", "old"], &[]).assert_code(0);
    assert_eq!(
        remote_ref(remote.path(), "old").as_deref(),
        Some(escaping.as_str())
    );
    repo.git(&["tag", "v1.0.0"]);
    let tag = push(&repo, &["origin", "v1.0.0"], &[]);
    tag.assert_code(0);
    assert!(
        !tag.stderr.contains("escape-gate: checking"),
        "{}",
        tag.stderr
    );
    let delete = push(&repo, &["origin", "--delete", "old"], &[]);
    delete.assert_code(0);
    assert!(
        !delete.stderr.contains("escape-gate: checking"),
        "{}",
        delete.stderr
    );
    assert_eq!(remote_ref(remote.path(), "old"), None);
}

#[test]
fn no_verify_and_escape_gate_skip_bypass_the_hook() {
    let (repo, remote) = pushed_repo();
    let head = add_escape(&repo);
    let skipped = push(&repo, &["origin", "main"], &[("ESCAPE_GATE_SKIP", "1")]);
    skipped.assert_code(0);
    assert!(
        skipped.stderr.contains("ESCAPE_GATE_SKIP is set"),
        "{}",
        skipped.stderr
    );
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );

    repo.write(
        "c.go",
        "package m\n\nvar held *T\n\nfunc C() { held = &T{} }\n",
    );
    let head = repo.commit("another escape");
    let bypass = push(&repo, &["--no-verify", "origin", "main"], &[]);
    bypass.assert_code(0);
    assert!(!bypass.stderr.contains("escape-gate"), "{}", bypass.stderr);
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );
}

#[test]
fn a_foreign_hook_is_not_overwritten_unless_forced_and_uninstall_restores_it() {
    let repo = TestRepo::go_module(&[("a.go", A_GO)]);
    let hook = repo.path().join(".git/hooks/pre-push");
    let foreign = "#!/bin/sh\necho team hook\n";
    fs::write(&hook, foreign).expect("write hook");
    let run = repo.run(&["install-hook"]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("already exists and was not written by escape-gate"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("escape-gate hook pre-push"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(&hook).expect("read"), foreign);

    repo.run(&["install-hook", "--force"]).assert_code(0);
    assert!(fs::read_to_string(&hook)
        .expect("read")
        .contains("escape-gate-managed"));
    let backup = repo.path().join(".git/hooks/pre-push.escape-gate-backup");
    assert_eq!(fs::read_to_string(&backup).expect("backup"), foreign);

    // Installing again over its own hook is an update, not a conflict.
    repo.run(&["install-hook"]).assert_code(0);
    repo.run(&["install-hook", "--uninstall"]).assert_code(0);
    assert_eq!(fs::read_to_string(&hook).expect("restored"), foreign);
    assert!(!backup.exists());
    // And it will not remove a hook it did not write.
    let refused = repo.run(&["install-hook", "--uninstall"]);
    refused.assert_code(2);
    assert_eq!(fs::read_to_string(&hook).expect("read"), foreign);
}

#[test]
fn core_hooks_path_is_honoured() {
    let (repo, remote) = {
        let repo = TestRepo::go_module(&[("a.go", A_GO)]);
        let remote = add_bare_origin(&repo);
        repo.git(&["push", "-q", "-u", "origin", "main"]);
        (repo, remote)
    };
    repo.git(&["config", "core.hooksPath", "githooks"]);
    repo.run(&["install-hook"]).assert_code(0);
    assert!(repo.path().join("githooks/pre-push").is_file());
    assert!(!repo.path().join(".git/hooks/pre-push").exists());
    let before = remote_ref(remote.path(), "main");
    add_escape(&repo);
    let run = push(&repo, &["origin", "main"], &[]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("push refused"), "{}", run.stderr);
    assert_eq!(remote_ref(remote.path(), "main"), before);
}

#[test]
fn the_hook_says_so_when_the_binary_is_gone() {
    let repo = TestRepo::go_module(&[("a.go", A_GO)]);
    let remote = add_bare_origin(&repo);
    let bin = tempfile::tempdir().expect("temp");
    let copy = bin.path().join("escape-gate");
    fs::copy(env!("CARGO_BIN_EXE_escape-gate"), &copy).expect("copy binary");
    // A copy just written can be briefly "busy" to exec when another test forked while
    // its file was open for writing (ETXTBSY); that is the test's race, not the tool's.
    let output = (0..50)
        .find_map(|_| {
            match hermetic(&mut Command::new(&copy))
                .arg("install-hook")
                .current_dir(repo.path())
                .output()
            {
                Err(err) if err.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    None
                }
                other => Some(other.expect("install")),
            }
        })
        .expect("the copied binary stayed busy");
    Run::from_output(output).assert_code(0);
    fs::remove_file(&copy).expect("remove binary");
    let path = std::env::var("PATH").expect("PATH");
    let path: Vec<&str> = path
        .split(':')
        .filter(|dir| !Path::new(dir).join("escape-gate").exists())
        .collect();
    let run = push(&repo, &["origin", "main"], &[("PATH", &path.join(":"))]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("escape-gate is neither on PATH nor at"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(copy.to_str().expect("utf-8")),
        "{}",
        run.stderr
    );
    // How to install, from escape-gate's one home.
    assert!(
        run.stderr.contains(&format!(
            "hint: install it ({}, or a release archive from {}/releases)",
            escape_gate::home::INSTALL,
            escape_gate::home::HOME
        )),
        "{}",
        run.stderr
    );
    assert_eq!(remote_ref(remote.path(), "main"), None);
}

#[test]
fn a_sha256_repository_is_let_through_with_a_warning() {
    crate::support::require_go();
    let dir = tempfile::Builder::new()
        .prefix("eg-sha256-")
        .tempdir()
        .expect("temp");
    let work = dir.path().join("work");
    let remote = dir.path().join("remote.git");
    git_in(
        dir.path(),
        &["init", "-q", "--object-format=sha256", "-b", "main", "work"],
    );
    git_in(
        dir.path(),
        &[
            "init",
            "-q",
            "--bare",
            "--object-format=sha256",
            "-b",
            "main",
            "remote.git",
        ],
    );
    fs::write(work.join("go.mod"), crate::support::GO_MOD).expect("go.mod");
    fs::write(work.join("a.go"), A_GO).expect("a.go");
    git_in(&work, &["add", "-A"]);
    git_in(&work, &["commit", "-q", "-m", "base"]);
    git_in(
        &work,
        &["remote", "add", "origin", remote.to_str().expect("utf-8")],
    );
    let install = hermetic(&mut Command::new(env!("CARGO_BIN_EXE_escape-gate")))
        .arg("install-hook")
        .current_dir(&work)
        .output()
        .expect("install");
    Run::from_output(install).assert_code(0);
    let output = hermetic(&mut Command::new("git"))
        .args(["push", "origin", "main"])
        .current_dir(&work)
        .output()
        .expect("push");
    let run = Run::from_output(output);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("does not support SHA-256 repositories yet"),
        "{}",
        run.stderr
    );
    assert_eq!(
        git_in(&remote, &["rev-parse", "main"]).trim(),
        git_in(&work, &["rev-parse", "main"]).trim()
    );
}

/// The pre-commit framework, from PATH or installed into a virtualenv under the
/// target directory once. Fails loudly when neither works.
fn pre_commit() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if Command::new("pre-commit")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return PathBuf::from("pre-commit");
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-venv");
        let bin = venv.join("bin/pre-commit");
        if !bin.exists() {
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(venv.join("bin/python"))
                    .args(["-m", "pip", "install", "--quiet", "pre-commit"])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(
                ok,
                "the pre-commit framework is needed for this test: install it with \
                 `python3 -m pip install pre-commit` (python3 with venv and pip, and PyPI access)"
            );
        }
        bin
    })
    .clone()
}

#[test]
fn the_pre_commit_framework_runs_the_hook_on_a_real_push() {
    let pre_commit = pre_commit();
    // A repository holding this project's .pre-commit-hooks.yaml, as the framework
    // clones hook repositories.
    let hooks_repo = TestRepo::new();
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"))
            .expect("read .pre-commit-hooks.yaml");
    hooks_repo.write(".pre-commit-hooks.yaml", &manifest);
    let hooks_rev = hooks_repo.commit("hooks");

    let repo = TestRepo::go_module(&[("a.go", A_GO)]);
    let remote = add_bare_origin(&repo);
    repo.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {hooks_rev}\n    hooks:\n      - id: escape-gate-system\n",
            hooks_repo.path().display()
        ),
    );
    repo.commit("pre-commit config");
    repo.git(&["push", "-q", "-u", "origin", "main"]);

    let home = tempfile::tempdir().expect("temp");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_escape-gate"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").expect("PATH")
    );
    let env = [
        ("PRE_COMMIT_HOME", home.path().to_str().expect("utf-8")),
        ("PATH", path.as_str()),
    ];
    let mut install = Command::new(&pre_commit);
    hermetic(&mut install)
        .args(["install", "--hook-type", "pre-push"])
        .current_dir(repo.path());
    for (k, v) in env {
        install.env(k, v);
    }
    Run::from_output(install.output().expect("pre-commit install")).assert_code(0);

    let before = remote_ref(remote.path(), "main");
    add_escape(&repo);
    let refused = push(&repo, &["origin", "main"], &env);
    assert_ne!(refused.code, 0, "{refused:?}");
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(all.contains("new a.go:12:2 in Local"), "{all}");
    assert!(all.contains("push refused"), "{all}");
    assert_eq!(remote_ref(remote.path(), "main"), before);

    // Fixing the escape lets the push through.
    repo.write("a.go", A_GO);
    let head = repo.commit("fix");
    let accepted = push(&repo, &["origin", "main"], &env);
    accepted.assert_code(0);
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );
}

/// A repository whose only module is in `_tools/` (a directory `./...` skips) is not a
/// Go repository to the build, and so not to the hook either: the push goes through.
/// With a root go.work that uses `./_tools`, the module is the build's, and the hook
/// checks it (and refuses an escape in it).
#[test]
fn modules_are_found_by_the_same_rule_as_the_build() {
    let repo = TestRepo::new();
    repo.write("_tools/go.mod", "module example.com/tools\n\ngo 1.22\n");
    repo.write("_tools/a.go", A_GO);
    repo.commit("tools only");
    let remote = add_bare_origin(&repo);
    repo.git(&["push", "-q", "-u", "origin", "main"]);
    repo.git(&["remote", "set-head", "origin", "main"]);
    repo.run(&["install-hook"]).assert_code(0);

    repo.write(
        "_tools/a.go",
        &A_GO.replace("\treturn t.A\n", "\tsink = &t\n\treturn t.A\n"),
    );
    let head = repo.commit("keep t in tools");
    let run = push(&repo, &["origin", "main"], &[]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("main: no Go module to check"),
        "{run:?}"
    );
    assert_eq!(
        remote_ref(remote.path(), "main").as_deref(),
        Some(head.as_str())
    );

    // The workspace makes `_tools` a module of the build: the next escape is refused.
    repo.write("go.work", "go 1.22\n\nuse ./_tools\n");
    repo.commit("a workspace");
    push(&repo, &["origin", "main"], &[]).assert_code(0);
    repo.write(
        "_tools/b.go",
        "package m\n\n// Keep2 keeps a copy.\nfunc Keep2(t T) { sink = &t }\n",
    );
    repo.commit("keep another t");
    let run = push(&repo, &["origin", "main"], &[]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("push refused"), "{run:?}");
}
