//! Several platforms (`--platforms`, `platforms:`): real cross-compiled builds of
//! standard-library-only modules, one verdict whose findings name their platforms.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{items, json_diff, Run, TestRepo};

const BOTH: &str = "linux/amd64,linux/arm64";
const CONFIG_BOTH: &str = "version: 1\nplatforms: [linux/amd64, linux/arm64]\n";

/// The `platforms` of a finding of a JSON report.
fn platforms(finding: &Value) -> Vec<String> {
    finding["platforms"]
        .as_array()
        .unwrap_or_else(|| panic!("no platforms in {finding:#}"))
        .iter()
        .map(|p| p.as_str().expect("a string").to_string())
        .collect()
}

/// `go env GOOS GOARCH`: the platform a run without platforms analyses.
fn host() -> (String, String) {
    let out = Command::new("go")
        .args(["env", "GOOS", "GOARCH"])
        .output()
        .expect("go env (Go must be installed for these tests)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let goos = lines.next().expect("GOOS").trim().to_string();
    let goarch = lines.next().expect("GOARCH").trim().to_string();
    (goos, goarch)
}

/// An architecture that is not the host's, among amd64 and arm64.
fn other_arch() -> &'static str {
    if host().1 == "amd64" {
        "arm64"
    } else {
        "amd64"
    }
}

const ARM_BASE: &str = "//go:build arm64\n\npackage m\n\nfunc Arm(n int) int { return n }\n";
const ARM_HEAD: &str =
    "//go:build arm64\n\npackage m\n\nvar sink *int\n\nfunc Arm(n int) int {\n\tx := n\n\tsink = &x\n\treturn x\n}\n";

#[test]
fn an_escape_only_in_an_arm64_file_names_arm64_in_every_format() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        ("arm.go", ARM_BASE),
        (".escape-gate.yml", CONFIG_BOTH),
    ]);
    repo.write("arm.go", ARM_HEAD);
    let head = repo.commit("arm64 escape");

    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(new[0]["file"], "arm.go");
    assert_eq!(platforms(&new[0]), vec!["linux/arm64"]);

    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(1);
    assert!(
        text.stdout.contains("new arm.go:9:2 in Arm [linux/arm64]")
            || text.stdout.contains("in Arm [linux/arm64]"),
        "{}",
        text.stdout
    );

    let sarif = repo.run_untouched(&["diff", "--format", "sarif", &base, &head]);
    sarif.assert_code(1);
    let sarif = sarif.json();
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["platforms"],
        serde_json::json!(["linux/arm64"]),
        "{sarif:#}"
    );
    let markdown = repo.run_untouched(&["diff", "--format", "markdown", &base, &head]);
    assert!(
        markdown.stdout.contains("linux/arm64"),
        "{}",
        markdown.stdout
    );
    let html = repo.run_untouched(&["diff", "--format", "html", &base, &head]);
    assert!(
        html.stdout.contains("[linux/arm64]</h3>"),
        "{}",
        html.stdout
    );
    let github = repo.run_untouched_with(&["diff", "--format", "github", &base, &head], |c| {
        c.env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT");
    });
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::error ") && l.contains("[linux/arm64]")),
        "{}",
        github.stdout
    );
}

#[test]
fn an_escape_in_a_file_for_every_platform_is_one_finding_naming_both() {
    let (repo, base) =
        TestRepo::go_module(&[("a.go", "package m\n\nfunc Keep(n int) int { return n }\n")]);
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(n int) int {\n\ty := n\n\tsink = &y\n\treturn y\n}\n",
    );
    let head = repo.commit("escape everywhere");
    let (run, json) = json_diff(&repo, &["--platforms", BOTH, &base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(platforms(&new[0]), vec!["linux/amd64", "linux/arm64"]);
    let text = repo.run_untouched(&["diff", "--platforms", BOTH, &base, &head]);
    assert!(
        text.stdout.contains("in Keep [linux/amd64, linux/arm64]"),
        "{}",
        text.stdout
    );
}

#[test]
fn an_escape_that_leaves_one_platform_is_fixed_there() {
    let escaping = "package m\n\nvar sink *int\n\nfunc Keep(n int) int {\n\ty := n\n\tsink = &y\n\treturn y\n}\n";
    let (repo, base) =
        TestRepo::go_module(&[("k.go", escaping), (".escape-gate.yml", CONFIG_BOTH)]);
    // The head keeps the escape on amd64 and drops it elsewhere.
    repo.remove("k.go");
    repo.write("k_amd64.go", escaping);
    repo.write(
        "k_other.go",
        "//go:build !amd64\n\npackage m\n\nfunc Keep(n int) int { return n }\n",
    );
    let head = repo.commit("no escape on arm64");
    let (run, json) = json_diff(&repo, &["--show-fixed", &base, &head]);
    run.assert_code(0);
    assert!(items(&json, "new").is_empty(), "{json:#}");
    let fixed = items(&json, "fixed");
    assert_eq!(fixed.len(), 1, "{json:#}");
    assert_eq!(platforms(&fixed[0]), vec!["linux/arm64"]);
}

#[test]
fn a_changed_file_no_analysed_platform_compiles_is_warned_about() {
    let other = other_arch();
    let file = format!("only_{other}.go");
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        (&file, "package m\n\nfunc Other(n int) int { return n }\n"),
    ]);
    repo.write(
        &file,
        "package m\n\nvar sink *int\n\nfunc Other(n int) int {\n\tx := n\n\tsink = &x\n\treturn x\n}\n",
    );
    let head = repo.commit("change a file the host does not compile");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    let warnings = items(&json, "warnings");
    let warning = warnings
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.starts_with(&file))
        .unwrap_or_else(|| panic!("no warning about {file}: {json:#}"));
    assert!(warning.contains(&format!("linux/{other}")), "{warning}");
    assert!(warning.contains("platforms:"), "{warning}");

    // Analysing that platform too: the escape is found, and the warning is gone.
    let (host_os, host_arch) = host();
    let list = format!("{host_os}/{host_arch},linux/{other}");
    let (run, json) = json_diff(&repo, &["--platforms", &list, &base, &head]);
    run.assert_code(1);
    assert_eq!(
        platforms(&items(&json, "new")[0]),
        vec![format!("linux/{other}")]
    );
    assert!(
        !items(&json, "warnings")
            .iter()
            .filter_map(Value::as_str)
            .any(|w| w.starts_with(&file)),
        "{json:#}"
    );
}

#[test]
fn an_allowlist_entry_limited_to_one_platform_allows_only_there() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        (
            ".escape-gate.yml",
            "version: 1\nplatforms: [linux/amd64, linux/arm64]\nallow:\n  - path: \"a.go\"\n    reason: arm64 only\n    platforms: [linux/arm64]\n",
        ),
    ]);
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(n int) int {\n\ty := n\n\tsink = &y\n\treturn y\n}\n",
    );
    let head = repo.commit("escape everywhere");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(1);
    let new = items(&json, "new");
    assert_eq!(new.len(), 1, "{json:#}");
    assert_eq!(platforms(&new[0]), vec!["linux/amd64"]);
    let allowed = items(&json, "allowed");
    assert_eq!(allowed.len(), 1, "{json:#}");
    assert_eq!(
        allowed[0]["allowed_by"]["platforms"],
        serde_json::json!(["linux/arm64"])
    );
    assert_eq!(platforms(&allowed[0]), vec!["linux/arm64"], "{json:#}");
}

#[test]
fn narrowing_the_platforms_in_the_head_is_a_config_change() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        (".escape-gate.yml", CONFIG_BOTH),
    ]);
    repo.write(".escape-gate.yml", "version: 1\nplatforms: [linux/amd64]\n");
    let head = repo.commit("only amd64");
    let (run, json) = json_diff(&repo, &[&base, &head]);
    run.assert_code(0);
    let build = &json["config_change"]["build"];
    assert_eq!(
        build["head"]["platforms"],
        serde_json::json!(["linux/amd64"]),
        "{json:#}"
    );
    let text = repo.run_untouched(&["diff", &base, &head]);
    assert!(
        text.stdout
            .contains("platforms: [\"linux/amd64\", \"linux/arm64\"] → [\"linux/amd64\"]"),
        "{}",
        text.stdout
    );
}

#[test]
fn shards_over_two_platforms_merge_into_one_run() {
    let mut files: Vec<(String, String)> = Vec::new();
    for p in ["a", "b", "c", "d"] {
        files.push((
            format!("{p}/{p}.go"),
            format!("package {p}\n\nfunc Keep(n int) int {{ return n }}\n"),
        ));
    }
    files.push((
        "a/a_arm64.go".to_string(),
        "package a\n\nfunc Arm(n int) int { return n }\n".to_string(),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (repo, base) = TestRepo::go_module(&refs);
    for p in ["a", "b", "c", "d"] {
        repo.write(
            &format!("{p}/{p}.go"),
            &format!("package {p}\n\nvar sink *int\n\nfunc Keep(n int) int {{\n\ty := n\n\tsink = &y\n\treturn y\n}}\n"),
        );
    }
    repo.write(
        "a/a_arm64.go",
        "package a\n\nfunc Arm(n int) int {\n\tx := n\n\tsink = &x\n\treturn x\n}\n",
    );
    let head = repo.commit("escapes");
    let whole = repo.run_untouched(&[
        "diff",
        "--format",
        "json",
        "--platforms",
        BOTH,
        &base,
        &head,
    ]);
    whole.assert_code(1);
    let whole = whole.json();
    assert_eq!(items(&whole, "new").len(), 5, "{whole:#}");

    let dir = tempfile::tempdir().expect("temp dir");
    let mut merge: Vec<String> = ["merge", "--format", "json", "--platforms", BOTH]
        .iter()
        .map(ToString::to_string)
        .collect();
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let part = repo.run_untouched(&[
            "diff",
            "--format",
            "json",
            "--platforms",
            BOTH,
            "--shard",
            &shard,
            &base,
            &head,
        ]);
        part.assert_code(0);
        let file: PathBuf = dir.path().join(format!("shard-{i}.json"));
        std::fs::write(&file, &part.stdout).expect("write");
        merge.push(file.to_string_lossy().to_string());
    }
    let refs: Vec<&str> = merge.iter().map(String::as_str).collect();
    let merged: Run = repo.run_untouched(&refs);
    merged.assert_code(1);
    let merged = merged.json();
    for field in ["new", "fixed", "moved", "allowed"] {
        assert_eq!(merged[field], whole[field], "{field}: {merged:#}");
    }
}

#[test]
fn a_cgo_package_on_a_foreign_platform_stops_the_run() {
    let other = format!("linux/{}", other_arch());
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        (
            "c/c.go",
            "package c\n\n// int one(void) { return 1; }\nimport \"C\"\n\nfunc One() int { return int(C.one()) }\n",
        ),
    ]);
    repo.write(
        "a.go",
        "package m\n\nfunc Keep(n int) int { return n + 1 }\n",
    );
    let head = repo.commit("change");
    let run = repo.run_untouched(&["diff", "--platforms", &other, &base, &head]);
    run.assert_code(2);
    assert!(run.stderr.contains(&other), "{}", run.stderr);
    assert!(run.stderr.contains("example.com/m/c"), "{}", run.stderr);
    assert!(run.stderr.contains("CGO_ENABLED=0"), "{}", run.stderr);

    // With cgo off, the platform is analysed without the cgo package.
    let run = repo.run_untouched_with(&["diff", "--platforms", &other, &base, &head], |c| {
        c.env("CGO_ENABLED", "0");
    });
    run.assert_code(0);

    // Or with the package left out.
    repo.write(
        ".escape-gate.yml",
        "version: 1\nbuild:\n  exclude: [\"c/...\"]\n",
    );
    let head = repo.commit("exclude c");
    let run = repo.run_untouched(&["diff", "--platforms", &other, &base, &head]);
    run.assert_code(0);
}

#[test]
fn a_platform_go_does_not_know_is_refused() {
    let (repo, _) = TestRepo::go_module(&[("a.go", "package m\n")]);
    let run = repo.run_untouched(&["diff", "--platforms", "linux/x86", "HEAD", "HEAD"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("\"x86\" is not a GOARCH"),
        "{}",
        run.stderr
    );
    repo.write(".escape-gate.yml", "version: 1\nplatforms: [linux]\n");
    repo.commit("bad platform");
    let run = repo.run_untouched(&["diff", "HEAD", "HEAD"]);
    run.assert_code(2);
    assert!(run.stderr.contains("is not GOOS/GOARCH"), "{}", run.stderr);
}

#[test]
fn allow_limits_an_entry_for_a_platform_specific_escape_to_its_platform() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        ("arm.go", ARM_BASE),
        (".escape-gate.yml", CONFIG_BOTH),
    ]);
    repo.write("arm.go", ARM_HEAD);
    repo.write(
        "a.go",
        "package m\n\nvar sink2 *int\n\nfunc Keep(n int) int {\n\ty := n\n\tsink2 = &y\n\treturn y\n}\n",
    );
    let head = repo.commit("two escapes");
    let run = repo.run(&["allow", "--reason", "accepted", &base, &head]);
    run.assert_code(0);
    let config = repo.read(".escape-gate.yml");
    assert!(
        config.contains("platforms: [linux/arm64]"),
        "the arm64-only escape's entry names its platform:\n{config}"
    );
    assert_eq!(
        config.matches("platforms:").count(),
        2,
        "the escape of both platforms gets an entry for every platform:\n{config}"
    );
    repo.commit("accept");
    let run = repo.run_untouched(&["diff", &base, "HEAD"]);
    run.assert_code(0);
}

/// A module whose `other.go` only the non-host architecture compiles, with one escape.
fn module_with_a_foreign_file() -> (TestRepo, String) {
    let other = other_arch();
    let (repo, _) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        (
            "other.go",
            &format!(
                "//go:build {other}\n\npackage m\n\nvar sink *int\n\nfunc Other(n int) int {{\n\tx := n\n\tsink = &x\n\treturn x\n}}\n"
            ),
        ),
    ]);
    let platform = format!("linux/{other}");
    (repo, platform)
}

#[test]
fn list_and_explain_build_for_the_platform_they_are_given() {
    let (repo, platform) = module_with_a_foreign_file();

    // The host does not compile other.go: list has nothing there, explain says which
    // platform to name.
    let run = repo.run_untouched(&["list", "--format", "json"]);
    run.assert_code(0);
    assert!(!run.stdout.contains("other.go"), "{}", run.stdout);
    let run = repo.run_untouched(&["explain", "other.go:8"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("other.go is not compiled for linux/")
            && run
                .stderr
                .contains(&format!("--platform {platform} other.go:LINE")),
        "{}",
        run.stderr
    );

    let run = repo.run_untouched(&["list", "--format", "json", "--platform", &platform]);
    run.assert_code(0);
    let json = run.json();
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["file"], "other.go");
    assert_eq!(platforms(&findings[0]), vec![platform.clone()]);
    assert!(run.stderr.contains(&platform), "{}", run.stderr);

    let run = repo.run_untouched(&["explain", "--platform", &platform, "other.go:8"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("1 heap escape at other.go:8")
            && run.stdout.contains(&format!("[{platform}]")),
        "{}",
        run.stdout
    );
    let run = repo.run_untouched(&["explain", "--platform", "linux/x86", "other.go:8"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("\"x86\" is not a GOARCH"),
        "{}",
        run.stderr
    );
}

#[test]
fn list_for_a_foreign_platform_refuses_a_package_that_needs_cgo() {
    let (repo, _) = TestRepo::go_module(&[(
        "c.go",
        "package m\n\n// int twice(int n) { return 2 * n; }\nimport \"C\"\n\nfunc Twice(n int) int { return int(C.twice(C.int(n))) }\n",
    )]);
    let platform = format!("linux/{}", other_arch());
    let run = repo.run_untouched_with(&["list", "--platform", &platform], |c| {
        c.env("CGO_ENABLED", "1");
    });
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!(
            "{platform}: package example.com/m uses cgo (c.go)"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn allow_takes_the_platforms_diff_was_given() {
    let (repo, base) = TestRepo::go_module(&[
        ("a.go", "package m\n\nfunc Keep(n int) int { return n }\n"),
        ("arm.go", ARM_BASE),
    ]);
    repo.write("arm.go", ARM_HEAD);
    let head = repo.commit("arm64 escape");
    repo.run_untouched(&["diff", "--platforms", BOTH, &base, &head])
        .assert_code(1);
    let run = repo.run(&[
        "allow",
        "--platforms",
        BOTH,
        "--reason",
        "accepted",
        &base,
        &head,
    ]);
    run.assert_code(0);
    let config = repo.read(".escape-gate.yml");
    assert!(config.contains("platforms: [linux/arm64]"), "{config}");
    repo.commit("accept");
    repo.run_untouched(&["diff", "--platforms", BOTH, &base, "HEAD"])
        .assert_code(0);
}
