//! The JSON Schemas in `schema/`, for editors and programs: `allowlist.schema.json`
//! (`.escape-gate.yml`) and `report.schema.json` (`diff --format json`). They are
//! written by hand, with a description for every field, so nothing here runs in the
//! tool; the tests below hold the allowlist schema to the parser and to the build
//! flags check it mirrors (`tests/schemas.rs` holds the report schema to real output).

/// `schema/allowlist.schema.json`.
pub const ALLOWLIST: &str = include_str!("../schema/allowlist.schema.json");
/// `schema/report.schema.json`.
pub const REPORT: &str = include_str!("../schema/report.schema.json");

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::allowlist::Config;

    fn schema(text: &str) -> Value {
        serde_json::from_str(text).expect("the schema is JSON")
    }

    fn validator(text: &str) -> jsonschema::Validator {
        jsonschema::validator_for(&schema(text)).expect("the schema compiles")
    }

    #[test]
    fn both_are_valid_schemas_of_their_draft() {
        for text in [ALLOWLIST, REPORT] {
            let value = schema(text);
            if let Err(err) = jsonschema::meta::validate(&value) {
                panic!("{err}");
            }
        }
    }

    /// Every property of the allowlist schema says what it is for (an editor shows it
    /// on hover).
    #[test]
    fn every_allowlist_field_is_described() {
        fn walk(value: &Value, path: &str) {
            if let Some(props) = value.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    let here = format!("{path}.{name}");
                    assert!(
                        prop.get("description").and_then(Value::as_str).is_some(),
                        "{here} has no description"
                    );
                    walk(prop, &here);
                }
            }
            for key in ["items", "definitions"] {
                match value.get(key) {
                    Some(Value::Object(map)) if key == "definitions" => {
                        for (name, def) in map {
                            walk(def, &format!("{path}#{name}"));
                        }
                    }
                    Some(inner) => walk(inner, path),
                    None => {}
                }
            }
        }
        walk(&schema(ALLOWLIST), "");
    }

    /// YAML allowlists the parser accepts (true) or refuses (false): the schema must
    /// say the same of each.
    const ALLOWLISTS: &[(&str, bool)] = &[
        ("version: 1\n", true),
        ("version: 1\nallow:\n", true),
        ("version: 1\nbuild:\n", true),
        ("version: 1\nhot:\n  - path: \"codec/*.go\"\n    function: \"(*Encoder).Encode\"\n  - path: fast.go\n", true),
        ("version: 1\nhot:\n  - function: Encode\n", false),
        ("version: 1\nhot:\n  - path: a.go\n    reason: why\n", false),
        ("version: 1\nallow: []\nbuild: {}\n", true),
        ("version: 1\nprofile:\n  files: [cmd/server/default.pgo, ./prof/cpu.pprof]\n  hot_percent: 20\n  cold_below_percent: 0.5\n", true),
        ("version: 1\nprofile:\n", true),
        ("version: 1\nprofile:\n  files: [\"../cpu.pprof\"]\n", false),
        ("version: 1\nprofile:\n  files: [a/../../cpu.pprof]\n", false),
        ("version: 1\nprofile:\n  files: [/tmp/cpu.pprof]\n", false),
        ("version: 1\nprofile:\n  files: [\"C:/cpu.pprof\"]\n", false),
        ("version: 1\nprofile:\n  hot_percent: 0\n", false),
        ("version: 1\nprofile:\n  cold_below_percent: 101\n", false),
        ("version: 1\nprofile:\n  hot_percent: \"20\"\n", false),
        ("version: 1\nprofile:\n  hot: 20\n", false),
        ("version: 1\nallow:\n  - path: \"**\"\n    function: \"Append*\"\n    reason: appending is what they do\n    stale: never\n", true),
        ("version: 1\nallow:\n  - path: \"**\"\n    reason: policy\n    stale: always\n", false),
        ("version: 1\nallow:\n  - path: \"**\"\n    reason: policy\n    stale: false\n", false),
        (
            "version: 1\nbuild:\n  packages: [\"./...\"]\n  exclude: [\"internal/gen/...\"]\n  tags: [integration]\n  flags: [\"-pgo=off\", \"--tags=x\"]\n",
            true,
        ),
        (
            "version: 1\nallow:\n  - path: \"internal/codec/*.go\"\n    function: \"(*Encoder).Encode\"\n    message: \"make([]byte, *) escapes to heap\"\n    count: 2\n    reason: \"the buffer is handed to the caller\"\n    expires: 2027-06-30\n",
            true,
        ),
        (
            "version: 1\nallow:\n  - path: \"**\"\n    function:\n    message: ~\n    count:\n    expires:\n    reason: r\n",
            true,
        ),
        ("version: 1\nallow:\n  - {path: a.go, reason: r, count: 4294967295}\n", true),
        ("allow: []\n", false),
        ("version: 2\n", false),
        ("version: \"1\"\n", false),
        ("version: 1\nunknown: 1\n", false),
        ("version: 1\nbuild:\n  pakages: []\n", false),
        ("version: 1\nbuild:\n  tags: integration\n", false),
        ("version: 1\nallow: x\n", false),
        ("version: 1\nallow:\n  - reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    reason: \"\"\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    reason: \"  \"\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    reason:\n", false),
        ("version: 1\nallow:\n  - path: \"\"\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    function: \"\"\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    message: \"\"\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    count: 0\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    count: -1\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    count: 4294967296\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    count: \"2\"\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    expires: 2027-13-01\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    expires: 2027-6-30\n    reason: r\n", false),
        ("version: 1\nallow:\n  - path: a.go\n    reason: r\n    paths: b\n", false),
    ];

    #[test]
    fn the_allowlist_schema_agrees_with_the_parser() {
        let schema = validator(ALLOWLIST);
        for (yaml, accepted) in ALLOWLISTS {
            let parsed = Config::parse(yaml, "test");
            assert_eq!(parsed.is_ok(), *accepted, "parser on {yaml:?}: {parsed:?}");
            let value: Value = serde_yaml::from_str(yaml).expect("YAML");
            let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
            assert_eq!(
                errors.is_empty(),
                *accepted,
                "schema on {yaml:?}: {errors:?}"
            );
        }
    }

    /// What only the parser can tell: the schema accepts these, the parser refuses
    /// them with a message at their line. Listed so that the gap is known.
    #[test]
    fn what_the_schema_cannot_check() {
        let schema = validator(ALLOWLIST);
        for yaml in [
            // A glob that does not compile.
            "version: 1\nallow:\n  - path: \"a[\"\n    reason: r\n",
            // A day the month does not have.
            "version: 1\nallow:\n  - path: a.go\n    expires: 2027-02-30\n    reason: r\n",
        ] {
            assert!(Config::parse(yaml, "test").is_err(), "{yaml}");
            let value: Value = serde_yaml::from_str(yaml).expect("YAML");
            assert!(schema.is_valid(&value), "{yaml}");
        }
    }

    /// The `flags` pattern says what `go::check_flags` says.
    #[test]
    fn the_flags_pattern_agrees_with_the_build_check() {
        let schema = validator(ALLOWLIST);
        let flags = [
            "-tags=a,b",
            "--tags=x",
            "-tags=",
            "-mod=readonly",
            "-mod=vendor",
            "--mod=mod",
            "-race",
            "-race=false",
            "-msan=true",
            "-asan",
            "-pgo=off",
            "-pgo=auto",
            "-pgo=prof/default.pgo",
            "-pgo=.hidden/x.pgo",
            "-pgo=a..b/x",
            "-p=1",
            "-p=8",
            "-p=1024",
            "-tags",
            "-mod=x",
            "-mod",
            "-race=1",
            "-pgo",
            "-pgo=",
            "-pgo=/abs/default.pgo",
            "-pgo=../x.pgo",
            "-pgo=a/../x.pgo",
            "-pgo=a/..",
            "-pgo=C:x",
            "-pgo=a\\b",
            "-p=0",
            "-p=1025",
            "-p=x",
            "-p",
            "-ldflags=-s",
            "-toolexec=x",
            "-o=x",
            "-gcflags=-m",
            "-trimpath",
            "-n",
            "./...",
            "---tags=x",
            "-",
            "",
        ];
        for flag in flags {
            let check = crate::go::check_flags(&[flag.to_string()]);
            let doc = serde_json::json!({"version": 1, "build": {"flags": [flag]}});
            assert_eq!(
                schema.is_valid(&doc),
                check.is_ok(),
                "{flag:?}: check says {check:?}"
            );
        }
    }
}
