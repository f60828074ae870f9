//! `diff --shard I/N` and `merge`: the merged verdict and report equal one unsharded
//! run, on a real module with real changes, including an escape that moved between
//! packages of different shards and the allowlist's stale entries.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Run, TestRepo};

/// The shard that owns `import_path` among `count`, as escape-gate splits them
/// (FNV-1a 64 of the import path, modulo the count), 1-based.
fn owner(import_path: &str, count: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in import_path.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % count + 1
}

const PARSE: &str = "package a\n\nvar sink *int\n\n// Parse keeps its result.\nfunc Parse(n int) {\n\tx := n\n\tsink = &x\n}\n";

fn module() -> (TestRepo, String, String) {
    let mut files: Vec<(String, String)> = vec![("a/a.go".to_string(), PARSE.to_string())];
    for p in ["b", "c", "d", "e", "f"] {
        files.push((
            format!("{p}/{p}.go"),
            format!("package {p}\n\nvar sink *int\n\nfunc Keep{p}(n int) {{\n\ty := n\n\tsink = &y\n}}\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (repo, _) = TestRepo::go_module(&refs);
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"e/*.go\"\n    reason: e may allocate\n  - path: \"nowhere/*.go\"\n    reason: stale\n",
    );
    let base = repo.commit("base");
    // Parse moves from a to d (moved by name, across packages); b and e gain an
    // escape each (e's is allowed); c's escape is fixed.
    repo.write("a/a.go", "package a\n\nvar sink *int\n");
    repo.write(
        "d/parse.go",
        "package d\n\n// Parse keeps its result.\nfunc Parse(n int) {\n\tx := n\n\tsink = &x\n}\n",
    );
    repo.write(
        "b/more.go",
        "package b\n\nfunc More(n int) {\n\tz := n\n\tsink = &z\n}\n",
    );
    repo.write(
        "e/more.go",
        "package e\n\nfunc More(n int) {\n\tz := n\n\tsink = &z\n}\n",
    );
    repo.write(
        "c/c.go",
        "package c\n\nfunc Keepc(n int) int { return n }\n",
    );
    let head = repo.commit("changes across packages");
    (repo, base, head)
}

/// The parts of a report that must not depend on sharding.
fn verdict(json: &Value) -> Value {
    let mut summary = json["summary"].clone();
    for side in ["base", "head"] {
        summary[side]["cached"] = Value::Null;
    }
    serde_json::json!({
        "new": json["new"], "fixed": json["fixed"], "moved": json["moved"],
        "allowed": json["allowed"], "stale_allow": json["stale_allow"],
        "expired_allow": json["expired_allow"], "config_change": json["config_change"],
        "summary": summary,
    })
}

#[test]
fn merged_shards_give_the_unsharded_verdict_and_report() {
    let (repo, base, head) = module();
    let count = (2..=6)
        .find(|&n| owner("example.com/m/a", n) != owner("example.com/m/d", n))
        .expect("some split puts a and d apart");
    // With every package, and with the selection of the packages the change affects.
    for all in [true, false] {
        let extra: Vec<&str> = if all {
            vec!["--all-packages"]
        } else {
            Vec::new()
        };
        let with = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            v.extend(extra.iter().map(|a| a.to_string()));
            v.push(base.clone());
            v.push(head.clone());
            v
        };
        let run = |args: Vec<String>| {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            repo.run_untouched(&refs)
        };

        let whole = run(with(&["diff", "--format", "json"]));
        whole.assert_code(1);
        let whole = whole.json();
        assert_eq!(whole["moved"][0]["by"], "name", "{whole:#}");
        assert_eq!(
            whole["stale_allow"].as_array().map(Vec::len),
            Some(1),
            "{whole:#}"
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let mut files: Vec<String> = Vec::new();
        let mut analysed = 0;
        for i in 1..=count {
            let shard = format!("{i}/{count}");
            let part = run(with(&["diff", "--format", "json", "--shard", &shard]));
            // A shard's exit code says it ran; the merge gives the verdict.
            part.assert_code(0);
            analysed += part.json()["summary"]["packages"]
                .as_u64()
                .expect("packages");
            let file: PathBuf = dir.path().join(format!("shard-{i}.json"));
            std::fs::write(&file, &part.stdout).expect("write");
            files.push(file.to_string_lossy().to_string());
        }
        assert_eq!(
            Some(analysed),
            whole["summary"]["packages"].as_u64(),
            "all: {all}"
        );

        let mut merge = vec![
            "merge".to_string(),
            "--format".to_string(),
            "json".to_string(),
        ];
        merge.extend(files.iter().cloned());
        let merged = run_plain(&repo, &merge);
        merged.assert_code(1);
        assert_eq!(verdict(&merged.json()), verdict(&whole), "all: {all}");

        // The text report too.
        let mut text_args = vec!["merge".to_string()];
        text_args.extend(files.iter().cloned());
        let merged_text = run_plain(&repo, &text_args);
        merged_text.assert_code(1);
        let mut whole_args = vec!["diff".to_string()];
        whole_args.extend(extra.iter().map(|a| a.to_string()));
        whole_args.push(base.clone());
        whole_args.push(head.clone());
        let whole_text = run_plain(&repo, &whole_args);
        assert_eq!(merged_text.stdout, whole_text.stdout, "all: {all}");
    }
}

fn run_plain(repo: &TestRepo, args: &[String]) -> Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    repo.run_untouched(&refs)
}

#[test]
fn merge_refuses_an_incomplete_or_mixed_set_of_shards() {
    let (repo, base, head) = module();
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, run: &Run| {
        run.assert_code(0);
        let file = dir.path().join(name);
        std::fs::write(&file, &run.stdout).expect("write");
        file.to_string_lossy().to_string()
    };
    let one = write(
        "1.json",
        &repo.run_untouched(&["diff", "--format", "json", "--shard", "1/2", &base, &head]),
    );
    let missing = repo.run_untouched(&["merge", &one]);
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("shard(s) 2/2 missing"),
        "{}",
        missing.stderr
    );

    let other = write(
        "other.json",
        &repo.run_untouched(&["diff", "--format", "json", "--shard", "2/3", &base, &head]),
    );
    let mixed = repo.run_untouched(&["merge", &one, &other]);
    mixed.assert_code(2);
    assert!(
        mixed.stderr.contains("split the packages differently"),
        "{}",
        mixed.stderr
    );

    // The same flags as the shards: a merge under the base's allowlist is refused.
    let two = write(
        "2.json",
        &repo.run_untouched(&["diff", "--format", "json", "--shard", "2/2", &base, &head]),
    );
    let other_rules = repo.run_untouched(&["merge", "--config-from", "base", &one, &two]);
    other_rules.assert_code(2);
    assert!(
        other_rules.stderr.contains("other settings"),
        "{}",
        other_rules.stderr
    );

    let twice = repo.run_untouched(&["merge", &one, &one]);
    twice.assert_code(2);
    assert!(twice.stderr.contains("given twice"), "{}", twice.stderr);

    let plain = write(
        "plain.json",
        &repo.run_untouched(&["diff", "--format", "json", &base, &base]),
    );
    let not_shard = repo.run_untouched(&["merge", &plain]);
    not_shard.assert_code(2);
    assert!(
        not_shard.stderr.contains("no `shard` field"),
        "{}",
        not_shard.stderr
    );

    let text = repo.run_untouched(&["diff", "--shard", "1/2", &base, &head]);
    text.assert_code(2);
    assert!(text.stderr.contains("--format json"), "{}", text.stderr);
}

/// Found in review: a `//gcassert:noescape` in one shard's package, violated by a copy
/// compiled in another shard's package (a generic instantiated there); the merge checks
/// every shard's directives against every finding, as one run does.
#[test]
fn a_directive_violated_in_another_shard_fails_the_merge() {
    let count = (2..=6)
        .find(|&n| owner("example.com/m/p", n) != owner("example.com/m/q", n))
        .expect("some split puts p and q apart");
    let generic = "package p\n\ntype Box[U any] struct{ V U }\n\n//go:noinline\nfunc Mk[U any](u U) *Box[U] {\n\treturn &Box[U]{V: u}\n}\n";
    let user =
        "package q\n\nimport \"example.com/m/p\"\n\nfunc Use() *p.Box[int] { return p.Mk(3) }\n";
    let (repo, base) = TestRepo::go_module(&[("p/p.go", generic), ("q/q.go", user)]);
    repo.write(
        "p/p.go",
        &generic.replace(
            "return &Box[U]{V: u}\n",
            "return &Box[U]{V: u} //gcassert:noescape\n",
        ),
    );
    repo.write("q/q.go", &format!("{user}\n// Use boxes.\n"));
    let head = repo.commit("a noescape directive");

    let whole = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    whole.assert_code(1);
    let whole = whole.json();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec![
        "merge".to_string(),
        "--format".to_string(),
        "json".to_string(),
    ];
    for i in 1..=count {
        let shard = format!("{i}/{count}");
        let part =
            repo.run_untouched(&["diff", "--format", "json", "--shard", &shard, &base, &head]);
        part.assert_code(0);
        let file = dir.path().join(format!("{i}.json"));
        std::fs::write(&file, &part.stdout).expect("write");
        args.push(file.to_string_lossy().to_string());
    }
    let merged = run_plain(&repo, &args);
    merged.assert_code(1);
    assert_eq!(verdict(&merged.json()), verdict(&whole));
    assert!(
        whole["new"]
            .as_array()
            .is_some_and(|n| n.iter().any(|f| f["kind"] == "gcassert")),
        "{whole:#}"
    );
}
