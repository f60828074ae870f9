//! `schema/report.schema.json` against real `diff --format json` reports of every
//! shape (new with flows, fixed, moved, allowed, stale, expired, a config change with
//! added and removed entries and a build change, the base's rules, a working-tree
//! head), also in a strict reading that refuses any field the schema does not name;
//! `schema/allowlist.schema.json` against the README's allowlists and the one
//! `escape-gate init` writes.

use serde_json::Value;

use crate::support::{Run, TestRepo};

fn schema(name: &str) -> Value {
    let path = format!("{}/schema/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read schema")).expect("JSON")
}

/// The schema, and the same schema refusing every property it does not name: what the
/// published one allows (a consumer must ignore fields it does not know), the tests
/// must not, or a field could be added without its documentation.
fn report_validators() -> [jsonschema::Validator; 2] {
    let published = schema("report.schema.json");
    let mut strict = published.clone();
    close_objects(&mut strict, "");
    [published, strict].map(|s| jsonschema::validator_for(&s).expect("compiles"))
}

/// Adds `unevaluatedProperties: false` to every object schema, except the `…Fields`
/// definitions that others extend (closing them would refuse the extension's fields).
fn close_objects(value: &mut Value, name: &str) {
    if let Value::Object(map) = value {
        let is_object_schema = map.contains_key("properties") || map.contains_key("$ref");
        if is_object_schema && !name.ends_with("Fields") {
            map.insert("unevaluatedProperties".to_string(), Value::Bool(false));
        }
        for (key, child) in map.iter_mut() {
            close_objects(child, key);
        }
    } else if let Value::Array(items) = value {
        for item in items {
            close_objects(item, "");
        }
    }
}

#[track_caller]
pub fn assert_valid(what: &str, report: &Value) {
    for (validator, kind) in report_validators().iter().zip(["published", "strict"]) {
        let errors: Vec<String> = validator
            .iter_errors(report)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: {kind} schema: {errors:#?}\n{report:#}"
        );
    }
}

fn json(run: &Run, code: i32) -> Value {
    run.assert_code(code);
    run.json()
}

const BASE_GO: &str = "package m

var sink *int

func Old(a int) {
\ty := a
\tsink = &y
}

func Mover(a int) {
\tz := a
\tsink = &z
}
";

const HEAD_GO: &str = "package m

var sink *int

func Old(a int) int {
\ty := a
\treturn y
}

func Renamed(a int) {
\tz := a
\tsink = &z
}

func Keep(a int) {
\tx := a
\tsink = &x
}

func Accepted(a int) *int {
\tw := a
\treturn &w
}
";

const BASE_ALLOWLIST: &str = "version: 1
build:
  packages: [\"./...\"]
allow:
  - path: \"gone/*.go\"
    reason: \"stale: nothing is there\"
  - path: \"old/*.go\"
    function: \"F\"
    message: \"moved to heap: *\"
    count: 2
    reason: \"expired long ago\"
    expires: 2020-01-01
  - path: \"removed.go\"
    reason: \"the head removes this entry\"
";

const HEAD_ALLOWLIST: &str = "version: 1
build:
  packages: [\"./...\"]
  exclude: [\"gen/...\"]
allow:
  - path: \"gone/*.go\"
    reason: \"stale: nothing is there\"
  - path: \"old/*.go\"
    function: \"F\"
    message: \"moved to heap: *\"
    count: 2
    reason: \"expired long ago\"
    expires: 2020-01-01
  - path: \"a.go\"
    function: \"Accepted\"
    reason: \"returned to the caller\"
";

#[test]
fn real_reports_of_every_shape_follow_the_report_schema() {
    let repo = TestRepo::go_module(&[
        ("a.go", BASE_GO),
        (".escape-gate.yml", BASE_ALLOWLIST),
        (
            "gen/g.go",
            "package gen\n\nfunc G() *int { v := 1; return &v }\n",
        ),
    ]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("a.go", HEAD_GO);
    repo.write(".escape-gate.yml", HEAD_ALLOWLIST);
    let head = repo.commit("head");

    let report = json(
        &repo.run(&["diff", "--format", "json", "--explain", &base, &head]),
        1,
    );
    // The shapes this is meant to cover are all there.
    let len = |key: &str| report[key].as_array().map_or(0, Vec::len);
    for key in [
        "new",
        "fixed",
        "moved",
        "allowed",
        "stale_allow",
        "expired_allow",
    ] {
        assert!(len(key) > 0, "no {key}: {report:#}");
    }
    assert!(report["new"][0]["flow"].is_array(), "{report:#}");
    let change = &report["config_change"];
    assert!(change["added"][0]["covers"][0].is_object(), "{report:#}");
    assert!(change["removed"][0].is_object(), "{report:#}");
    assert!(
        change["build"]["no_longer_analysed"].is_array(),
        "{report:#}"
    );
    assert_valid("every shape", &report);
    // The strict reading does refuse a field the schema does not name, at any depth.
    let [published, strict] = report_validators();
    for pointer in [
        "",
        "/new/0",
        "/moved/0",
        "/allowed/0/allowed_by",
        "/config_change/added/0",
        "/summary/base",
    ] {
        let mut extra = report.clone();
        extra
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .expect("an object")
            .insert("undocumented".to_string(), Value::Bool(true));
        assert!(published.is_valid(&extra), "{pointer}");
        assert!(!strict.is_valid(&extra), "{pointer}");
    }

    // The base's rules: no_longer_analysed is null, `rules` and `config_from` say base.
    let base_rules = json(
        &repo.run(&[
            "diff",
            "--format",
            "json",
            "--config-from",
            "base",
            &base,
            &head,
        ]),
        1,
    );
    assert_eq!(base_rules["summary"]["config_from"], "base");
    assert!(base_rules["config_change"]["build"]["no_longer_analysed"].is_null());
    assert_valid("config-from base", &base_rules);

    // A clean working tree against its own commit: no config change, a null commit.
    let clean = json(&repo.run(&["diff", "--format", "json", "HEAD"]), 0);
    assert!(clean["config_change"].is_null(), "{clean:#}");
    assert!(clean["summary"]["head"]["commit"].is_null(), "{clean:#}");
    assert_valid("clean working tree", &clean);

    // A shard's report, with what its sides found for `merge`.
    let shard = json(
        &repo.run(&["diff", "--format", "json", "--shard", "1/1", &base, &head]),
        0,
    );
    assert!(
        shard["shard"]["head_analysis"]["findings"].is_array(),
        "{shard:#}"
    );
    assert_valid("shard", &shard);
}

/// The ```yaml blocks of the README that are allowlists (they start with
/// `version: 1`), and the allowlist `escape-gate init` writes.
#[test]
fn the_readme_and_init_allowlists_follow_the_allowlist_schema() {
    let validator = jsonschema::validator_for(&schema("allowlist.schema.json")).expect("compiles");
    let readme = include_str!("../README.md");
    let blocks = fenced_blocks(readme, "yaml");
    let allowlists: Vec<&String> = blocks
        .iter()
        .filter(|b| b.starts_with("version: 1\n") || b.starts_with("# yaml-language-server"))
        .collect();
    assert!(!allowlists.is_empty(), "the README shows an allowlist");

    let repo = TestRepo::go_module(&[("a.go", "package m\n")]);
    repo.run(&["init"]).assert_code(0);
    let written = repo.read(".escape-gate.yml");

    for yaml in allowlists.into_iter().chain([&written]) {
        let value: Value = serde_yaml::from_str(yaml).expect("YAML");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{yaml}");
        // And escape-gate itself reads it (as `--config`, outside any build).
        let file = repo.path().join("example.yml");
        std::fs::write(&file, yaml).expect("write");
        let run = repo.run(&["list", "--config", file.to_str().expect("utf-8")]);
        assert_eq!(
            run.code, 0,
            "escape-gate refuses it: {}\n{yaml}",
            run.stderr
        );
    }
}

/// The contents of the fenced code blocks of `markdown` in language `lang`.
pub fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{lang}") => current = Some(String::new()),
            Some(_) if line.trim_start() == "```" => {
                blocks.push(current.take().expect("in a block"));
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}
