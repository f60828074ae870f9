//! The README says what the tool does today: its sample failing run and its sample JSON
//! report are what `escape-gate demo` prints (the report is also valid against the
//! schema), its workflow is `examples/escape-gate.yml`, every command is documented,
//! and its first screen gets a new user to a first result with two commands.

use serde_json::Value;

use crate::schemas::fenced_blocks;
use crate::support::{escape_gate, Run};

const README: &str = include_str!("../README.md");

fn demo(args: &[&str]) -> Run {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let run = Run::from_output(escape_gate().args(&all).output().expect("run demo"));
    run.assert_code(0);
    run
}

/// `go1.26.8 linux/amd64` and the like, which depend on the machine.
fn without_go_version(text: &str) -> String {
    let re = regex::Regex::new(r"go1\.\d+(\.\d+)?(rc\d+)? \w+/\w+").expect("regex");
    re.replace_all(text, "GO").into_owned()
}

/// `go1.26` of the first `go1.26.8` in `text`.
fn go_minor(text: &str) -> String {
    let re = regex::Regex::new(r"go1\.\d+").expect("regex");
    re.find(text)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default()
}

/// The first fenced block of `lang` after `marker` in the README.
fn block_after(marker: &str, lang: &str) -> String {
    let at = README
        .find(marker)
        .unwrap_or_else(|| panic!("the README has {marker:?}"));
    fenced_blocks(&README[at..], lang)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a ```{lang} block after {marker:?}"))
}

#[test]
fn the_sample_failing_run_is_what_the_demo_prints() {
    let sample = block_after("What a failing run prints", "text");
    let run = demo(&[]);
    let start = run
        .stdout
        .find("error: ")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    let report = &run.stdout[start..];
    let end = report.find("\nhint: ").expect("a hint line");
    let hint_end = report[end + 1..].find('\n').expect("end of the hint") + end + 2;
    let report = &report[..hint_end];
    let (sample, report) = (without_go_version(&sample), without_go_version(report));
    if go_minor(&block_after("What a failing run prints", "text")) == go_minor(&run.stdout) {
        assert_eq!(
            sample, report,
            "update the README's sample to what the demo prints"
        );
    } else {
        // Another Go release reports the standard library's escapes differently: the
        // escape the demo adds, and the verdict, are still the same.
        let parts = |text: &str| {
            let listing = text.find("heap escapes per function").expect("a listing");
            let counts = text.find("\n1 new, ").expect("the counts");
            (text[..listing].to_string(), text[counts..].to_string())
        };
        assert_eq!(parts(&sample), parts(&report), "update the README's sample");
    }
}

#[test]
fn the_sample_json_report_is_the_demos_and_follows_the_schema() {
    let sample: Value =
        serde_json::from_str(&block_after("A whole report:", "json")).expect("the sample is JSON");
    let run = demo(&["--format", "json"]);
    let start = run.stdout.find("{\n").expect("a JSON report");
    let end = run.stdout[start..].find("\n}\n").expect("its end") + start + 2;
    let mut actual: Value = serde_json::from_str(&run.stdout[start..end]).expect("JSON");
    // What depends on the machine and on earlier runs.
    for key in ["go_version", "goos", "goarch"] {
        actual["summary"][key] = sample["summary"][key].clone();
    }
    for side in ["base", "head"] {
        actual["summary"][side]["cached"] = sample["summary"][side]["cached"].clone();
    }
    if sample["summary"]["go_version"].as_str().map(go_minor) == Some(go_minor(&run.stdout)) {
        assert_eq!(sample, actual, "update the README's sample JSON report");
    } else {
        // Another Go release: the same new escape and counts, other unchanged ones.
        assert_eq!(sample["new"], actual["new"], "update the README's sample");
        for key in ["new", "fixed", "moved", "allowed", "packages"] {
            assert_eq!(sample["summary"][key], actual["summary"][key], "{key}");
        }
    }

    let schema: Value = serde_json::from_str(include_str!("../schema/report.schema.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sample)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_workflow_shown_is_the_example_without_its_comments() {
    let shown = block_after("## GitHub Action", "yaml");
    let example = include_str!("../examples/escape-gate.yml");
    let mut stripped = String::new();
    for line in example.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        stripped.push_str(line);
        stripped.push('\n');
    }
    assert_eq!(
        shown, stripped,
        "the README's workflow is examples/escape-gate.yml"
    );
}

#[test]
fn every_command_is_documented() {
    let help = Run::from_output(escape_gate().arg("--help").output().expect("help"));
    help.assert_code(0);
    let commands: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{}", help.stdout);
    for command in commands {
        assert!(
            README.contains(&format!("escape-gate {command}")),
            "the README does not mention `escape-gate {command}`"
        );
    }
}

/// The README's first screen: what the tool does, then the two commands.
#[test]
fn two_commands_from_zero_to_a_first_result() {
    let first = block_after("## Try it", "sh");
    let commands: Vec<&str> = first
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, ["cargo run --release -- demo", "cargo test"]);
    let try_it = README.find("## Try it").expect("Try it");
    assert!(
        README[..try_it].lines().count() < 20,
        "the commands are on the first screen"
    );
}
