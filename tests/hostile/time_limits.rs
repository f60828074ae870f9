//! Hostile input: time. A head can make its build take as long as it likes (a huge
//! package, a compiler that never ends); `--timeout` and the build section's `timeout:`
//! bound the whole run. When the limit runs out, every `go` is stopped, the temporary
//! trees are removed, and escape-gate exits 2 naming the stage it stopped in; a head
//! cannot lengthen the base's limit.
//!
//! The build is made to hang deterministically with the user's own `GOFLAGS`: a
//! `-toolexec` program that sleeps before running the compiler. Nothing but a build
//! runs it, so the limit runs out in the build stage. (No test asserts how long a run
//! took.)

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::{Run, Sentinel, TestRepo};

const LIB_GO: &str = "package lib

// Sink keeps what it is given.
var Sink *int

// Keep stores a copy of n.
func Keep(n int) {
\tp := n
\tSink = &p
}
";

/// A `-toolexec` program that sleeps for ten minutes before running the tool: a
/// compiler that hangs.
fn hanging_toolexec(dir: &Path) -> String {
    let path = dir.join("hang.sh");
    fs::write(&path, "#!/bin/sh\nsleep 600\nexec \"$@\"\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// A base and a head with one new escape; `base_config` and `head_config` are their
/// allowlists, when given.
fn repo(base_config: Option<&str>, head_config: Option<&str>) -> (TestRepo, String, String) {
    let (repo, _) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    if let Some(config) = base_config {
        repo.write(".escape-gate.yml", config);
    }
    let base = repo.commit("base");
    repo.write(
        "lib/more.go",
        "package lib\n\n// More stores n.\nfunc More(n int) {\n\tq := n\n\tSink = &q\n}\n",
    );
    if let Some(config) = head_config {
        repo.write(".escape-gate.yml", config);
    }
    let head = repo.commit("head");
    (repo, base, head)
}

/// Runs escape-gate with its builds hanging, its own TMPDIR, and checks that the
/// repository, a sentinel outside it and the TMPDIR are as they were.
fn run_hanging(repo: &TestRepo, args: &[&str]) -> Run {
    let tmp = tempfile::Builder::new()
        .prefix("eg-tmpdir-")
        .tempdir()
        .expect("temp dir");
    let tools = crate::support::scratch_dir("eg-tools-");
    let toolexec = hanging_toolexec(tools.path());
    let sentinel = Sentinel::new();
    let outside = sentinel.snapshot();
    let run = repo.run_untouched_with(args, |cmd: &mut Command| {
        cmd.env("TMPDIR", tmp.path())
            .env("GOFLAGS", format!("-toolexec={toolexec}"))
            .env("ESCAPE_GATE_CACHE", "off");
    });
    sentinel.assert_unchanged(&outside, &run);
    let left: Vec<String> = fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.is_empty(),
        "temporary directories were left behind: {left:?}\n{run:?}"
    );
    run
}

#[track_caller]
fn assert_stopped_building(run: &Run, limit: &str, source: &str) {
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("error: the time limit of {limit} ({source}"))
            && run.stderr.contains(") ran out while building ")
            && run
                .stderr
                .contains("the builds were stopped and the temporary trees removed")
            && run.stderr.contains("\nhint: allow more time"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_timeout_option_stops_a_hanging_build_and_cleans_up() {
    crate::support::require_go();
    let (repo, base, head) = repo(None, None);
    let run = run_hanging(&repo, &["diff", "--timeout", "12s", &base, &head]);
    assert_stopped_building(&run, "12s", "--timeout 12s");
    assert!(
        run.stderr.contains("while building head "),
        "{}",
        run.stderr
    );
}

#[test]
fn the_build_sections_timeout_stops_a_hanging_build_and_the_shorter_limit_wins() {
    crate::support::require_go();
    let config = "version: 1\nbuild:\n  timeout: 12s\n";
    let (repo, base, head) = repo(Some(config), Some(config));
    let run = run_hanging(&repo, &["diff", "--timeout", "1h", &base, &head]);
    assert_stopped_building(
        &run,
        "12s",
        "timeout: in the build section of .escape-gate.yml (in head ",
    );
}

#[test]
fn a_head_cannot_lengthen_the_bases_timeout() {
    crate::support::require_go();
    let (repo, base, head) = repo(
        Some("version: 1\nbuild:\n  timeout: 12s\n"),
        Some("version: 1\nbuild:\n  timeout: 10h\n"),
    );
    let run = run_hanging(&repo, &["diff", &base, &head]);
    assert_stopped_building(
        &run,
        "12s",
        "timeout: in the build section of the base's .escape-gate.yml, which the head may not lengthen",
    );
}

#[test]
fn a_changed_timeout_is_shown_as_a_build_section_change() {
    crate::support::require_go();
    let (repo, base, head) = repo(
        Some("version: 1\nbuild:\n  timeout: 10m\n"),
        Some("version: 1\nbuild:\n  timeout: 20m\n"),
    );
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    let build = &run.json()["config_change"]["build"];
    assert_eq!(build["base"]["timeout"], "10m", "{build:#}");
    assert_eq!(build["head"]["timeout"], "20m", "{build:#}");
    let run = repo.run_untouched(&["diff", &base, &head]);
    assert!(run.stdout.contains("timeout: 10m → 20m"), "{}", run.stdout);
}

#[test]
fn durations_without_a_unit_are_refused_with_the_fix() {
    crate::support::require_go();
    let (repo, base, head) = repo(None, None);
    let run = repo.run_untouched(&["diff", "--timeout", "90", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("--timeout") && run.stderr.contains("ms, s, m or h"),
        "{}",
        run.stderr
    );
    let (repo, base, head) = repo_with("version: 1\nbuild:\n  timeout: 90\n");
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(".escape-gate.yml")
            && run
                .stderr
                .contains("90 has no unit; write it with one: 90s"),
        "{}",
        run.stderr
    );
}

fn repo_with(head_config: &str) -> (TestRepo, String, String) {
    repo(None, Some(head_config))
}
