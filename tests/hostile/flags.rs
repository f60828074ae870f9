//! Hostile input: build flags and package patterns in the head's `.escape-gate.yml`.
//!
//! A pull request's allowlist is a stranger's, and its `build` section reaches the
//! `go` command line. A flag that makes the linker run a program (`-extld`), writes a
//! file (`-o`), compiles nothing (`-n`) or changes what go prints (`-json`) must be
//! refused, with exit 2 and the flag named, before anything runs: the program's
//! sentinel file must not exist afterwards, and the repository and a directory outside
//! it are byte-identical. Through `escape-gate diff` and through the pre-push hook.
//! The flags on the allowlist still work end to end.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{git_in, hermetic, Run, TestRepo};

/// A command and a library: `go build ./...` would link `cmd/app`.
const LIB_GO: &str = "package lib

// Sink keeps what it is given.
var Sink *int

// Keep stores a copy of n.
func Keep(n int) {
\tp := n
\tSink = &p
}
";

const APP_GO: &str = "package main

import \"example.com/m/lib\"

func main() { lib.Keep(1) }
";

/// The head's change: one more escape in the library.
const LIB_HEAD_GO: &str = "package lib

// Sink keeps what it is given.
var Sink *int

// Keep stores a copy of n.
func Keep(n int) {
\tp := n
\tSink = &p
}

// Twice stores a copy of n too.
func Twice(n int) {
\tq := n
\tSink = &q
}
";

/// Everything in a directory, by relative path: content, mode, or a link's target.
pub(super) fn listing(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let rel = path.strip_prefix(dir).expect("prefix").to_path_buf();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).expect("readlink");
                out.insert(rel, (target.to_string_lossy().as_bytes().to_vec(), mode));
            } else if meta.is_dir() {
                out.insert(rel, (Vec::new(), mode));
                stack.push(path);
            } else {
                out.insert(rel, (fs::read(&path).expect("read"), mode));
            }
        }
    }
    out
}

/// A directory outside the repository with a file in it, where a hostile command
/// would leave its sentinel.
pub(super) fn sentinel_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("eg-sentinel-")
        .tempdir()
        .expect("temp");
    fs::write(dir.path().join("keep.txt"), "the user's file\n").expect("write");
    dir
}

/// The base commit, and a head that adds one escape and the given allowlist.
fn repo_with_head_config(config: &str) -> (TestRepo, String, String) {
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO), ("cmd/app/main.go", APP_GO)]);
    repo.write("lib/lib.go", LIB_HEAD_GO);
    repo.write(".escape-gate.yml", config);
    let head = repo.commit("head with its own allowlist");
    (repo, base, head)
}

fn flags_config(flags: &[&str]) -> String {
    let items: Vec<String> = flags
        .iter()
        .map(|f| serde_json::to_string(f).expect("json string"))
        .collect();
    format!("version: 1\nbuild:\n  flags: [{}]\n", items.join(", "))
}

/// Runs `escape-gate diff BASE HEAD`, checking that the repository and `outside` are
/// exactly as they were.
fn diff_untouched(repo: &TestRepo, outside: &Path, base: &str, head: &str) -> Run {
    let before = listing(outside);
    let run = repo.run_untouched(&["diff", base, head]);
    assert_eq!(
        listing(outside),
        before,
        "the directory outside changed: {run:?}"
    );
    run
}

#[track_caller]
fn assert_refused(run: &Run, flag_shown: &str) {
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.contains("build.flags: ")
            && run.stderr.contains(flag_shown)
            && run.stderr.contains("is not allowed: ")
            && run.stderr.contains("\nhint: "),
        "{}",
        run.stderr
    );
}

/// The linker's `-extld` names the program that links; with `-linkmode=external` the
/// linker runs it. `go build ./...` links every main package, so this ran as the user.
fn extld_flag(sentinel: &Path) -> String {
    format!(
        "-ldflags=-linkmode=external \"-extld=sh -c 'touch {}' x\"",
        sentinel.display()
    )
}

#[test]
fn a_linker_command_in_the_allowlist_is_refused_and_never_runs() {
    let outside = sentinel_dir();
    let ran = outside.path().join("ran");
    let flag = extld_flag(&ran);
    let (repo, base, head) = repo_with_head_config(&flags_config(&[&flag]));
    let run = diff_untouched(&repo, outside.path(), &base, &head);
    assert_refused(&run, "-ldflags=-linkmode=external");
    assert!(run.stderr.contains("linker"), "{}", run.stderr);
    assert!(!ran.exists(), "the linker command ran");
}

#[test]
fn a_linker_output_path_in_the_allowlist_is_refused_and_nothing_is_written() {
    let outside = sentinel_dir();
    let out = outside.path().join("app-binary");
    for flag in [
        format!("-ldflags=-o={}", out.display()),
        format!("-o={}", out.display()),
        format!("--o={}", out.display()),
    ] {
        let (repo, base, head) = repo_with_head_config(&flags_config(&[&flag]));
        let run = diff_untouched(&repo, outside.path(), &base, &head);
        assert_refused(&run, &format!("{flag:?}"));
        assert!(!out.exists(), "{flag} wrote a file");
    }
}

#[test]
fn flags_that_run_write_read_or_hide_are_refused() {
    let outside = sentinel_dir();
    let o = outside.path().display().to_string();
    let cases = [
        ("-n".to_string(), "nothing would be compiled"),
        ("-json".to_string(), "changes what go prints"),
        ("-x".to_string(), "changes what go prints"),
        (format!("-toolexec=sh -c 'touch {o}/ran'"), "runs a program"),
        (format!("-C={o}"), "directory of the file's choosing"),
        (
            format!("-overlay={o}/overlay.json"),
            "files anywhere on disk",
        ),
        (format!("-modfile={o}/go.mod"), "go.mod anywhere"),
        (format!("-pkgdir={o}/pkg"), "another directory"),
        ("-a".to_string(), "recompiles every package"),
        ("-gcflags=all=-l".to_string(), "passes -gcflags=-m itself"),
        ("-trimpath".to_string(), "decides -trimpath itself"),
        ("-buildvcs=true".to_string(), "version-control"),
        (format!("-pgo={o}/cpu.pgo"), "absolute"),
        ("-pgo=../cpu.pgo".to_string(), "leaves the repository"),
        // A value in the next item would be read by go unchecked.
        ("-tags".to_string(), "in the same item"),
    ];
    // One repository, one commit per flag: the refusal comes before any build.
    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO), ("cmd/app/main.go", APP_GO)]);
    for (flag, why) in cases {
        repo.write(".escape-gate.yml", &flags_config(&[&flag]));
        let head = repo.commit(&flag);
        let run = diff_untouched(&repo, outside.path(), &base, &head);
        assert_refused(&run, &format!("{flag:?}"));
        assert!(run.stderr.contains(why), "{flag}: {}", run.stderr);
    }
    assert!(!outside.path().join("ran").exists());
}

/// Found while doing this: package patterns reached `go list` where it still read
/// flags, so `-export` and `-toolexec` there compiled the tree through a program of
/// the allowlist's choosing.
#[test]
fn package_patterns_that_look_like_flags_are_refused_and_never_run() {
    let outside = sentinel_dir();
    let ran = outside.path().join("ran");
    let config = format!(
        "version: 1\nbuild:\n  packages: [\"-export\", \"-toolexec=sh -c 'touch {}'\", \"./...\"]\n",
        ran.display()
    );
    let (repo, base, head) = repo_with_head_config(&config);
    let run = diff_untouched(&repo, outside.path(), &base, &head);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("build.packages: \"-export\" is not a package pattern")
            && run.stderr.contains("\nhint: "),
        "{}",
        run.stderr
    );
    assert!(!ran.exists(), "the -toolexec program ran");
}

#[test]
fn the_flags_on_the_list_still_work() {
    // The new escapes are in files only `-tags=extra` compiles (one in a package that
    // has no other file) and in one only the user's `--tags cli` compiles: found only if
    // the flags reach the listing and the compiler, beside -race, -mod=mod, -p and
    // -pgo=off, and if the allowlist's -tags does not drop the user's.
    let (repo, _) = TestRepo::go_module(&[("lib/lib.go", LIB_GO), ("cmd/app/main.go", APP_GO)]);
    repo.write(
        ".escape-gate.yml",
        &flags_config(&["-tags=extra", "--mod=mod", "-race", "-p=2", "-pgo=off"]),
    );
    let base = repo.commit("flags");
    let keeper = |tag: &str, package: &str, name: &str| {
        format!(
            "//go:build {tag}\n\npackage {package}\n\nvar kept *int\n\n// {name} keeps a copy of n.\nfunc {name}(n int) {{\n\tr := n\n\tkept = &r\n}}\n"
        )
    };
    repo.write("lib/extra.go", &keeper("extra", "lib", "Extra"));
    repo.write("tagged/tagged.go", &keeper("extra", "tagged", "Tagged"));
    repo.write(
        "lib/cli.go",
        &keeper("cli", "lib", "Cli").replace("kept", "cliKept"),
    );
    let head = repo.commit("escapes behind build tags");
    let outside = sentinel_dir();
    let before = listing(outside.path());
    let run = repo.run_untouched(&["diff", "--tags", "cli", "--format", "json", &base, &head]);
    assert_eq!(listing(outside.path()), before);
    run.assert_code(1);
    let json = run.json();
    let mut new: Vec<String> = json["new"]
        .as_array()
        .expect("new")
        .iter()
        .map(|f| format!("{} {} {}", f["file"], f["function"], f["message"]))
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            "\"lib/cli.go\" \"Cli\" \"moved to heap: r\"",
            "\"lib/extra.go\" \"Extra\" \"moved to heap: r\"",
            "\"tagged/tagged.go\" \"Tagged\" \"moved to heap: r\"",
        ],
        "{json:#}"
    );
}

// ---------------------------------------------------------------------------------------
// Through the pre-push hook, pushed with git as tests/hook.rs does.

/// A clone with a bare `origin`, `main` pushed, the hook installed.
fn pushed_repo() -> (TestRepo, tempfile::TempDir) {
    let (repo, _) = TestRepo::go_module(&[("lib/lib.go", LIB_GO), ("cmd/app/main.go", APP_GO)]);
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
    repo.git(&["push", "-q", "-u", "origin", "main"]);
    repo.git(&["remote", "set-head", "origin", "main"]);
    repo.run(&["install-hook"]).assert_code(0);
    (repo, remote)
}

fn push(repo: &TestRepo) -> Run {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd)
        .args(["push", "origin", "main"])
        .current_dir(repo.path());
    Run::from_output(cmd.output().expect("run git push"))
}

#[test]
fn the_pre_push_hook_refuses_a_linker_command_and_never_runs_it() {
    let outside = sentinel_dir();
    let ran = outside.path().join("ran");
    let written = outside.path().join("app-binary");
    for flag in [
        extld_flag(&ran),
        format!("-ldflags=-o={}", written.display()),
    ] {
        let (repo, remote) = pushed_repo();
        let remote_before = git_in(remote.path(), &["rev-parse", "main"]);
        repo.write("lib/lib.go", LIB_HEAD_GO);
        repo.write(".escape-gate.yml", &flags_config(&[&flag]));
        repo.commit("head with its own allowlist");
        let before = repo.snapshot();
        let outside_before = listing(outside.path());
        let run = push(&repo);
        assert_ne!(run.code, 0, "{run:?}");
        assert!(
            run.stderr.contains("build.flags: ")
                && run.stderr.contains("-ldflags=")
                && run.stderr.contains("is not allowed: ")
                && run.stderr.contains("hint: "),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("failed to push some refs"),
            "{}",
            run.stderr
        );
        before.assert_same(&repo.snapshot(), &run);
        assert_eq!(listing(outside.path()), outside_before, "{run:?}");
        assert!(!ran.exists(), "the linker command ran");
        assert!(!written.exists(), "the linker wrote its output");
        assert_eq!(git_in(remote.path(), &["rev-parse", "main"]), remote_before);
    }
}
