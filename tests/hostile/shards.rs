//! Hostile input: the shard files `merge` reads. `merge` cannot rebuild what a shard
//! built, but it checks what can be checked: each shard holds exactly the packages its
//! `I/N` owns, with findings only in those, every shard agrees on the comparison, and
//! each finding is on a line its revision has. A tampered file is exit 2, naming the
//! file and what is wrong.

use std::path::Path;

use serde_json::Value;

use crate::support::{Run, Sentinel, TestRepo};

const BASE_GO: &str = "package p

// Keep returns n.
func Keep(n int) int {
\treturn n
}
";

const HEAD_GO: &str = "package p

var sink *int

// Keep keeps n.
func Keep(n int) int {
\tx := n
\tsink = &x
\treturn x
}
";

const Q_GO: &str = "package q\n\n// Id returns n.\nfunc Id(n int) int { return n }\n";

/// The shard that owns `import_path` among `count` (FNV-1a 64, as escape-gate splits).
fn owner(import_path: &str, count: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in import_path.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % count + 1
}

/// `p` gains an escape, `q` is touched so that both are analysed.
fn repo() -> (TestRepo, String, String) {
    let repo = TestRepo::go_module(&[("p/p.go", BASE_GO), ("q/q.go", Q_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("p/p.go", HEAD_GO);
    repo.write(
        "q/q.go",
        &format!("{Q_GO}\n// More is new.\nfunc More() {{}}\n"),
    );
    let head = repo.commit("an escape in p");
    (repo, base, head)
}

/// Runs `diff --shard I/N` and writes its report to `dir/I.json`; returns the report.
fn shard(repo: &TestRepo, dir: &Path, i: u64, n: u64, base: &str, head: &str) -> Value {
    let spec = format!("{i}/{n}");
    let run = repo.run_untouched(&["diff", "--format", "json", "--shard", &spec, base, head]);
    run.assert_code(0);
    let json = run.json();
    std::fs::write(dir.join(format!("{i}.json")), &run.stdout).expect("write");
    json
}

fn write(dir: &Path, i: u64, report: &Value) -> String {
    let file = dir.join(format!("{i}.json"));
    std::fs::write(&file, report.to_string()).expect("write");
    file.to_string_lossy().into_owned()
}

fn merge(repo: &TestRepo, files: &[String]) -> Run {
    let sentinel = Sentinel::new();
    let before = sentinel.snapshot();
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    let run = repo.run_untouched(&args);
    sentinel.assert_unchanged(&before, &run);
    run
}

#[track_caller]
fn assert_refused(run: &Run, file: &str, what: &str) {
    run.assert_code(2);
    assert!(
        run.stderr.contains("shard ") && run.stderr.contains(&format!("({file})")),
        "the message names the shard file {file}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains(what), "want {what:?}:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("hint: merge only the reports the shard jobs of one workflow run wrote"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("ok:"), "{}", run.stdout);
}

/// The case from the review: the head's findings copied into the base's side make
/// the new escape look old.
#[test]
fn a_shard_whose_base_side_holds_the_heads_findings_is_refused() {
    let (repo, base, head) = repo();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut report = shard(&repo, dir.path(), 1, 1, &base, &head);
    let untampered = merge(&repo, &[write(dir.path(), 1, &report)]);
    untampered.assert_code(1);
    assert!(
        untampered.stdout.contains("moved to heap: x"),
        "{}",
        untampered.stdout
    );

    let findings = report["shard"]["head_analysis"]["findings"].clone();
    assert!(!findings.as_array().expect("findings").is_empty());
    report["shard"]["base_analysis"]["findings"] = findings;
    let file = write(dir.path(), 1, &report);
    let run = merge(&repo, std::slice::from_ref(&file));
    assert_refused(
        &run,
        &file,
        &format!(
            "shard 1/1 ({file}) does not hold what the shard found: its base side has a finding at p/p.go:7 (moved to heap: x), past the end of that file in base {}",
            &base[..10]
        ),
    );
}

/// A finding moved into a shard that does not own its package, a package added to a
/// shard's list, a scope that disagrees with the other shards: each is refused.
#[test]
fn shards_that_hold_packages_they_do_not_own_or_disagree_are_refused() {
    let (repo, base, head) = repo();
    let n = (2..=8)
        .find(|&n| owner("example.com/m/p", n) != owner("example.com/m/q", n))
        .expect("some split puts p and q apart");
    let (p_shard, q_shard) = (owner("example.com/m/p", n), owner("example.com/m/q", n));
    let dir = tempfile::tempdir().expect("temp dir");
    let reports: Vec<Value> = (1..=n)
        .map(|i| shard(&repo, dir.path(), i, n, &base, &head))
        .collect();
    let files = |reports: &[Value]| -> Vec<String> {
        reports
            .iter()
            .zip(1..)
            .map(|(r, i)| write(dir.path(), i, r))
            .collect()
    };
    let untampered = merge(&repo, &files(&reports));
    untampered.assert_code(1);

    // p's new escape moved into q's shard (and out of p's): the count stays the same.
    let mut moved = reports.clone();
    let escapes = std::mem::replace(
        &mut moved[(p_shard - 1) as usize]["shard"]["head_analysis"]["findings"],
        Value::Array(Vec::new()),
    );
    moved[(q_shard - 1) as usize]["shard"]["head_analysis"]["findings"] = escapes;
    let written = files(&moved);
    let run = merge(&repo, &written);
    assert_refused(
        &run,
        &written[(q_shard - 1) as usize],
        "its head side has a finding compiled in package example.com/m/p, which is not one of the packages it analysed",
    );

    // q's shard claims p too.
    let mut claimed = reports.clone();
    claimed[(q_shard - 1) as usize]["shard"]["scope"]["selected"]
        .as_array_mut()
        .expect("selected")
        .push(Value::from("example.com/m/p"));
    let written = files(&claimed);
    let run = merge(&repo, &written);
    assert_refused(
        &run,
        &written[(q_shard - 1) as usize],
        "is not what `diff --shard",
    );

    // One shard says the head has more packages than the others do.
    let mut scoped = reports.clone();
    let last = (n - 1) as usize;
    let total = scoped[last]["shard"]["scope"]["total"]
        .as_u64()
        .expect("total");
    scoped[last]["shard"]["scope"]["total"] = Value::from(total + 1);
    let written = files(&scoped);
    let run = merge(&repo, &written);
    assert_refused(&run, &written[last], "its scope (");
}
