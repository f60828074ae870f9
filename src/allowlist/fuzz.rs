//! Property tests ("fuzzing" on stable Rust) for [`Config::parse`]: arbitrary text and
//! YAML-shaped structures never panic, every failure is a [`ConfigError`] that names
//! the file and a position inside the text, and the scan before the parser never lets
//! through what it is there to stop. `cargo test` runs proptest's default number of
//! cases; `bench/fuzz.sh` runs many more (`PROPTEST_CASES`).

use super::*;
use proptest::prelude::*;

const ORIGIN: &str = "fuzz.yml";

fn check(text: &str) -> Result<(), TestCaseError> {
    match Config::parse(text, ORIGIN) {
        Ok(config) => {
            // What was accepted is usable.
            let _ = apply(&config, Vec::new(), Date::today_utc());
        }
        Err(err) => {
            let shown = err.to_string();
            prop_assert!(shown.starts_with(ORIGIN), "{}", shown);
            prop_assert!(!err.message.is_empty());
            let lines = text.split(['\n', '\r']).count() + 1;
            if let Some(line) = err.line {
                prop_assert!(line >= 1 && line <= lines, "line {} of {}", line, lines);
            }
        }
    }
    Ok(())
}

/// A scalar as an allowlist might hold it, plain or quoted, with the characters
/// YAML gives meaning to.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("version".to_string()),
        Just("allow".to_string()),
        Just("build".to_string()),
        Just("path".to_string()),
        Just("reason".to_string()),
        Just("count".to_string()),
        Just("expires".to_string()),
        Just("2027-06-30".to_string()),
        Just("null".to_string()),
        "[a-z*?(){}.\\[\\] -]{1,8}",
        "'[a-z\\[\\]{}#&*!\" ]{0,6}'",
        "\"[a-z\\[\\]{}#&*!' ]{0,6}\"",
        "[&*!|>%@`#?:-][a-z]{0,4}",
    ]
}

/// YAML-shaped text: block mappings and sequences, flow collections, block scalars.
fn yamlish() -> impl Strategy<Value = String> {
    let leaf = scalar();
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((scalar(), inner.clone()), 0..5).prop_map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}:\n{}", indent(v)))
                    .collect::<String>()
            }),
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| items.iter().map(|v| format!("-\n{}", indent(v))).collect()),
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", ").replace('\n', " "))),
            proptest::collection::vec((scalar(), inner), 0..4).prop_map(|pairs| {
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", ").replace('\n', " "))
            }),
            "(\\||>)[-+1-9]{0,2}\n  [a-z*&!\\[{ ]{0,10}\n  [a-z ]{0,5}\n".prop_map(|s| s),
        ]
    })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Flow YAML whose scalars hold brackets and quotes, nested up to 24 deep: around
/// the scan's limit of 16.
fn flow() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z][a-z'\"&*]{0,3}",
        "'[\\[\\]{}\"# a-z]{0,4}'",
        "\"[\\[\\]{}'# a-z]{0,4}\"",
    ];
    leaf.prop_recursive(24, 400, 3, |inner| {
        prop_oneof![
            (
                proptest::collection::vec(inner.clone(), 0..3),
                "(,|\n|, # [\\[{]\n)"
            )
                .prop_map(|(items, sep)| format!("[{}]", items.join(&sep))),
            proptest::collection::vec(inner, 0..3).prop_map(|items| {
                let pairs: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("k{i}: {v}"))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }),
        ]
    })
}

/// A chain of `n` nested flow collections, each also holding a scalar with
/// brackets or quotes in it, with line breaks and comments between: a depth known
/// in advance, around the limit.
fn chain() -> impl Strategy<Value = String> {
    let junk = prop_oneof![
        "[a-z][a-z'\"&*]{0,3}",
        "'[\\[\\]{}\"# a-z]{0,4}'",
        "\"[\\[\\]{}'# a-z]{0,4}\"",
    ];
    let sep = "(, |,\n|, # [\\[{\\]}]\n)";
    (10usize..30).prop_flat_map(move |n| {
        proptest::collection::vec((junk.clone(), sep, any::<bool>()), n).prop_map(|levels| {
            let mut node = "x".to_string();
            for (junk, sep, mapping) in levels {
                node = if mapping {
                    format!("{{k: {junk}{sep}v: {node}}}")
                } else {
                    format!("[{junk}{sep}{node}]")
                };
            }
            node
        })
    })
}

fn depth(value: &serde_yaml::Value) -> usize {
    match value {
        serde_yaml::Value::Sequence(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_yaml::Value::Mapping(map) => {
            1 + map
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        serde_yaml::Value::Tagged(tagged) => depth(&tagged.value),
        _ => 0,
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn yaml_characters_never_panic(text in "[\\[\\]{}'\"#|>:?,&*!%@` \t\n\r-a1]{0,200}") {
        check(&text)?;
    }

    #[test]
    fn yaml_shaped_documents_never_panic(body in yamlish(), prefix in "(version: 1\n)?(---\n)?") {
        check(&format!("{prefix}{body}"))?;
    }

    #[test]
    fn allowlist_shaped_documents_never_panic(entries in proptest::collection::vec(proptest::collection::vec((scalar(), scalar()), 0..6), 0..6)) {
        let mut text = String::from("version: 1\nbuild:\n  flags: [\"-tags=x\"]\nallow:\n");
        for entry in &entries {
            for (i, (k, v)) in entry.iter().enumerate() {
                text.push_str(if i == 0 { "  - " } else { "    " });
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
        check(&text)?;
    }

    /// The scan's promise: what it accepts is never nested deeper than its limit in
    /// flow collections, so the parser's quadratic work is bounded; and nothing it
    /// accepts holds an anchor or alias (the parse would expand it).
    #[test]
    fn the_scan_lets_no_deep_flow_nesting_through(node in prop_oneof![flow(), chain()]) {
        let text = format!("a: {node}\n");
        let accepted = prescan::check(&text).is_ok();
        if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
            // The top-level mapping is one level, the flow node the rest.
            let flow_depth = depth(&value).saturating_sub(1);
            prop_assert!(!accepted || flow_depth <= prescan::MAX_FLOW_DEPTH, "depth {} accepted", flow_depth);
            prop_assert!(accepted || flow_depth > prescan::MAX_FLOW_DEPTH || text.contains(['&', '*']), "depth {} refused", flow_depth);
        }
        check(&text)?;
    }
}
