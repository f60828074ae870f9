//! A test run leaves the machine as it found it, apart from Go's and cargo's own
//! caches (target/ included): the harness's shared findings cache and scratch live in
//! the run's directory under target/, every repository and directory of a test is
//! removed with it. Checked by running tests of this binary in a child process with a
//! TMPDIR of its own, which must be empty afterwards.

use std::process::Command;

use crate::support::{run_dir, Run};

#[test]
fn a_test_run_leaves_nothing_in_tmpdir() {
    let tmp = tempfile::Builder::new()
        .prefix("eg-leftovers-")
        .tempdir()
        .expect("temp dir for the child's TMPDIR");
    // Tests that use the findings cache (diff, allow), a TestRepo, init's writes and
    // scratch directories.
    let tests = [
        "init::writes_a_usable_allowlist_and_the_example_workflow",
        "install::binstall_finds_the_release_archive_and_its_binary",
    ];
    let exe = std::env::current_exe().expect("the test binary");
    let run = Run::from_output(
        Command::new(exe)
            .args(["--exact", "--test-threads=2"])
            .args(tests)
            .env("TMPDIR", tmp.path())
            .output()
            .expect("run the tests in a child"),
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!("{} passed", tests.len())),
        "{}",
        run.stdout
    );
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("list the child's TMPDIR")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.is_empty(),
        "the tests left these in TMPDIR: {left:?}\nrun: {run:?}"
    );
    // The harness's own directory is under target/, where cargo's caches are.
    assert!(run_dir().starts_with(env!("CARGO_TARGET_TMPDIR")));
}
