//! A run that cannot have the repository's work directory (another run holds it) builds
//! in a directory of its own, gives the same answer, and says so on stderr, so that
//! the user knows why it is slower.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{escape_gate, Run, TestRepo};

/// The work directory escape-gate uses in `tmp` while it runs `diff` on `repo`: found
/// by watching `tmp` during a first run (its name is a hash of the repository's path).
fn work_directory_name(repo: &TestRepo, tmp: &std::path::Path) -> (String, Run) {
    let child = escape_gate()
        .args(["diff", "HEAD~1", "HEAD"])
        .current_dir(repo.path())
        .env("TMPDIR", tmp)
        .env("ESCAPE_GATE_CACHE", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run escape-gate");
    let started = Instant::now();
    let mut seen = None;
    while seen.is_none() && started.elapsed() < Duration::from_secs(60) {
        seen = fs::read_dir(tmp).expect("ls").find_map(|e| {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            (name.starts_with("escape-gate-work-") && !name.contains('.')).then_some(name)
        });
        std::thread::sleep(Duration::from_millis(2));
    }
    let first = Run::from_output(child.wait_with_output().expect("wait"));
    (seen.expect("the first run's work directory"), first)
}

#[test]
fn a_second_run_says_it_builds_elsewhere() {
    let (repo, _) = TestRepo::go_module(&[("a.go", "package m\n\nvar sink *int\n")]);
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) {\n\tx := a\n\tsink = &x\n}\n",
    );
    repo.commit("escape");
    let tmp = tempfile::tempdir().expect("tmp");
    let (name, first) = work_directory_name(&repo, tmp.path());
    first.assert_code(1);
    assert!(!first.stderr.contains("note:"), "{}", first.stderr);

    // Another run holds the directory: the same lock escape-gate takes.
    let held: PathBuf = tmp.path().join(&name);
    fs::create_dir(&held).expect("mkdir");
    fs::set_permissions(&held, fs::Permissions::from_mode(0o700)).expect("chmod");
    let dir = fs::File::open(&held).expect("open");
    rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("lock");

    let second = Run::from_output(
        escape_gate()
            .args(["diff", "HEAD~1", "HEAD"])
            .current_dir(repo.path())
            .env("TMPDIR", tmp.path())
            .env("ESCAPE_GATE_CACHE", "off")
            .output()
            .expect("run"),
    );
    second.assert_code(1);
    assert_eq!(second.stdout, first.stdout, "the same answer");
    assert!(
        second.stderr.starts_with(&format!(
            "escape-gate: note: {} is in use by another escape-gate run (or is not a private \
             directory of this user); building in a separate directory instead, which is \
             slower",
            held.display()
        )),
        "{}",
        second.stderr
    );
    assert!(held.is_dir(), "the held directory is left alone");
    drop(dir);
}
