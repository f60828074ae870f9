//! The life of an allowlist entry: added with the change that brings its escape, kept
//! while that change is open (a comparison with the default branch needs it), pruned
//! once it has merged; and entries meant to last (`stale: never`), which are policy and
//! never stale. The stale warning tells these apart by the base's findings.

use std::fs;

use serde_json::Value;

use crate::support::{Run, TestRepo};

const CONFIG: &str = ".escape-gate.yml";

const BASE_GO: &str =
    "package p\n\nvar sink *int\n\n// Keep returns n.\nfunc Keep(n int) int {\n\treturn n\n}\n";

const HEAD_GO: &str = "package p\n\nvar sink *int\n\n// Keep keeps n.\nfunc Keep(n int) int {\n\tx := n\n\tsink = &x\n\treturn x\n}\n";

/// `other` is a package the later changes touch, so that `p` is not analysed by them.
const OTHER_GO: &str = "package other\n\n// Id returns n.\nfunc Id(n int) int { return n }\n";

fn stale(json: &Value) -> &Vec<Value> {
    json["stale_allow"].as_array().expect("stale_allow")
}

fn diff_json(repo: &TestRepo, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["diff", "--format", "json"];
    all.extend_from_slice(args);
    let run = repo.run_untouched(&all);
    let json = run.json();
    (run, json)
}

/// The user's first week: `allow`, commit, keep working, merge, keep working.
#[test]
fn an_entry_is_kept_until_its_change_merges_then_pruned() {
    let repo = TestRepo::go_module(&[("p/p.go", BASE_GO), ("other/other.go", OTHER_GO)]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("p/p.go", HEAD_GO);
    let run = repo.run(&["allow", "--reason", "the caller keeps it"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("added 1 entry to .escape-gate.yml (created)"),
        "{}",
        run.stdout
    );
    let with_entry = repo.read(CONFIG);
    repo.commit("Keep keeps n, allowed");

    // The next diff against the commit: the base (HEAD) has the escape, the feature
    // branch has not merged, so the entry must stay.
    let keep = "the base already has this escape: the entry is not needed against this base (keep it until the change that added the escape has merged)";
    let text = repo.run_untouched(&["diff", "HEAD"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains(&format!(
            "warning: allowlist entry at .escape-gate.yml:3 allowed nothing (path \"p/p.go\"): {keep}\n"
        )),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("remove the entry"), "{}", text.stdout);
    let (_, json) = diff_json(&repo, &["HEAD"]);
    assert_eq!(stale(&json)[0]["stale_because"], "in_base", "{json:#}");
    assert_eq!(stale(&json)[0]["advice"], keep);

    // A change elsewhere, compared with the feature commit: `p` is not analysed, and
    // the warning is the same (the base's `p` is looked at for it).
    repo.write(
        "other/other.go",
        &format!("{OTHER_GO}\n// More is new.\nfunc More() {{}}\n"),
    );
    let (run, json) = diff_json(&repo, &["HEAD"]);
    run.assert_code(0);
    assert_eq!(json["summary"]["packages"], 1, "{json:#}");
    assert_eq!(stale(&json)[0]["stale_because"], "in_base", "{json:#}");

    // `allow --prune` against the feature commit removes nothing, and says why.
    let prune = repo.run_untouched(&["allow", "--prune", "HEAD"]);
    prune.assert_code(0);
    assert!(
        prune.stdout.contains("removed nothing from .escape-gate.yml")
            && prune.stdout.contains("kept 1 stale entry:\n  .escape-gate.yml:3: path \"p/p.go\", function \"Keep\", message \"moved to heap: x\" (reason: the caller keeps it)\n      why: the base already has its escape, but the base is not on the default branch"),
        "{}",
        prune.stdout
    );
    assert_eq!(repo.read(CONFIG), with_entry);

    // Against main (the default base) the entry is what lets the change through.
    let (run, json) = diff_json(&repo, &[]);
    run.assert_code(0);
    assert_eq!(json["summary"]["allowed"], 1, "{json:#}");
    assert_eq!(stale(&json).len(), 0);
    repo.git(&["checkout", "-q", "--", "other/other.go"]);

    // The change merges: on main the entry is not needed by anything any more.
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "feature"]);
    let text = repo.run_untouched(&["diff", "HEAD"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("allowed nothing (path \"p/p.go\"): the base already has this escape and is on main, so the change that added it has merged: remove the entry (`escape-gate allow --prune`)\n"),
        "{}",
        text.stdout
    );
    let prune = repo.run(&["allow", "--prune"]);
    prune.assert_code(0);
    assert!(
        prune.stdout.contains("removed 1 stale entry from .escape-gate.yml, which matched no new escape in working tree compared with")
            && prune.stdout.contains("      why: the base already has its escape and is on main: the change that added it has merged\n"),
        "{}",
        prune.stdout
    );
    assert_eq!(repo.read(CONFIG), "version: 1\nallow:\n");
}

/// An entry whose escape no revision has any more: remove it.
#[test]
fn an_entry_whose_escape_is_gone_is_to_be_removed() {
    let repo = TestRepo::go_module(&[("p/p.go", HEAD_GO), ("other/other.go", OTHER_GO)]);
    repo.write(
        CONFIG,
        "version: 1\nallow:\n  - path: \"p/p.go\"\n    function: \"Keep\"\n    reason: the caller keeps it\n",
    );
    repo.commit("allowed");
    // The escape goes, in a commit; then a change elsewhere.
    repo.write("p/p.go", BASE_GO);
    repo.commit("Keep no longer keeps n");
    repo.write(
        "other/other.go",
        &format!("{OTHER_GO}\n// More is new.\nfunc More() {{}}\n"),
    );
    let text = repo.run_untouched(&["diff", "HEAD"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("allowed nothing (path \"p/p.go\"): no revision has this escape any more: remove the entry (`escape-gate allow --prune`)\n"),
        "{}",
        text.stdout
    );
    let prune = repo.run(&["allow", "--prune", "HEAD"]);
    prune.assert_code(0);
    assert!(
        prune
            .stdout
            .contains("removed 1 stale entry from .escape-gate.yml")
            && prune
                .stdout
                .contains("      why: no revision has its escape any more\n"),
        "{}",
        prune.stdout
    );
    assert_eq!(repo.read(CONFIG), "version: 1\nallow:\n");
}

const POLICY: &str = "version: 1\nallow:\n  - path: \"**\"\n    function: \"Append*\"\n    reason: appending is what they are for\n    stale: never\n  - path: \"**\"\n    function: \"Fill\"\n    reason: fills a fresh buffer\n    stale: never\n";

/// Entries meant to last: never stale, never pruned, reported as policy, and shown as a
/// config change when a head adds one.
#[test]
fn policy_entries_are_never_stale_and_are_shown_when_added() {
    let repo = TestRepo::go_module(&[("p/p.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("p/fill.go", "package p\n\nvar buf []byte\n\n// Fill fills.\nfunc Fill(n int) {\n\tbuf = make([]byte, n)\n}\n");
    repo.write(CONFIG, POLICY);
    let head = repo.commit("Fill, and the policy");

    let (run, json) = diff_json(&repo, &[&base, &head]);
    run.assert_code(0);
    assert_eq!(json["summary"]["allowed"], 1, "{json:#}");
    assert_eq!(json["allowed"][0]["allowed_by"]["policy"], true);
    // The Append* rule allows nothing here, and is not stale.
    assert_eq!(stale(&json).len(), 0, "{json:#}");
    let added = json["config_change"]["added"].as_array().expect("added");
    assert_eq!(added.len(), 2, "{json:#}");
    assert!(added.iter().all(|a| a["policy"] == true));
    let text = repo.run_untouched(&["diff", &base, &head]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("  + policy entry (stale: never) added at .escape-gate.yml:3 (path \"**\", function \"Append*\"; reason \"appending is what they are for\")")
            && text.stdout.contains("allowed by policy at .escape-gate.yml:7 (in head"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("allowed nothing"), "{}", text.stdout);

    // Later, nothing is new: prune leaves the policy alone.
    let prune = repo.run_untouched(&["allow", "--prune", "HEAD"]);
    prune.assert_code(0);
    assert!(
        prune.stdout.contains("no stale entries"),
        "{}",
        prune.stdout
    );
    assert_eq!(
        fs::read_to_string(repo.path().join(CONFIG)).expect("read"),
        POLICY
    );
}

#[test]
fn stale_takes_only_never() {
    let repo = TestRepo::go_module(&[("p/p.go", BASE_GO)]);
    repo.write(
        CONFIG,
        "version: 1\nallow:\n  - path: \"**\"\n    reason: x\n    stale: always\n",
    );
    let run = repo.run_untouched(&["diff", "HEAD"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(
            ".escape-gate.yml:5:12: allow[0].stale: \"always\": the only value is `never`"
        ),
        "{}",
        run.stderr
    );
}
