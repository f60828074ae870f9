//! SARIF 2.1.0 (`--format sarif`), for GitHub code scanning
//! (`github/codeql-action/upload-sarif`) and other SARIF viewers.
//!
//! One result per new escape the allowlist does not cover, with a repository-relative
//! URI under the `SRCROOT` base, a region, a rule per kind of escape, and a
//! `partialFingerprints` entry built from what identifies the allocation across
//! revisions (package, function, kind, normalised expression, and which occurrence of
//! that key it is), never from line numbers, so code scanning recognises the same
//! escape after lines above it moved.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::finding::{normalise_expr, Finding, Kind};
use crate::gate::Outcome;
use crate::home::CONFIG_FILE;
use crate::report::{config_changes, Ci};

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The `partialFingerprints` key; bump the version if the fingerprint's recipe changes.
pub const FINGERPRINT_KEY: &str = "escapeGate/v1";

#[derive(Debug, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: Vec<Run>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub tool: Tool,
    pub original_uri_base_ids: HashMap<&'static str, UriBase>,
    pub results: Vec<SarifResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_control_provenance: Vec<VersionControl>,
    /// Present when the head changes the allowlist: its changes, as configuration
    /// notifications (they are about the tool's configuration, not the code).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invocations: Vec<Invocation>,
    pub properties: RunProperties,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    pub execution_successful: bool,
    pub tool_configuration_notifications: Vec<Notification>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub level: &'static str,
    pub message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<NotificationLocation>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationLocation {
    pub physical_location: PhysicalLocation,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    pub name: &'static str,
    pub version: &'static str,
    pub semantic_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub information_uri: Option<&'static str>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub short_description: Text,
    pub full_description: Text,
    pub help: Help,
    pub default_configuration: Configuration,
    pub properties: RuleProperties,
}

#[derive(Debug, Serialize)]
pub struct Text {
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Help {
    pub text: String,
    pub markdown: String,
}

#[derive(Debug, Serialize)]
pub struct Configuration {
    pub level: &'static str,
}

#[derive(Debug, Serialize)]
pub struct RuleProperties {
    pub tags: Vec<&'static str>,
    pub precision: &'static str,
}

#[derive(Debug, Serialize)]
pub struct UriBase {
    pub description: Text,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionControl {
    pub repository_uri: String,
    pub revision_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunProperties {
    pub go_version: String,
    pub base: Option<String>,
    pub head: Option<String>,
    pub fixed: usize,
    pub moved: usize,
    pub allowed: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    pub rule_id: &'static str,
    pub rule_index: usize,
    pub level: &'static str,
    /// The function's share of the profile's samples (`cum_percent`), when a profile
    /// was read: SARIF's priority of a result, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<f64>,
    pub message: Text,
    pub locations: Vec<Location>,
    pub partial_fingerprints: HashMap<&'static str, String>,
    /// The platforms (`GOOS/GOARCH`) whose builds have the finding, when the run
    /// named platforms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<ResultProperties>,
}

#[derive(Debug, Serialize)]
pub struct ResultProperties {
    pub platforms: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub physical_location: PhysicalLocation,
    pub logical_locations: Vec<LogicalLocation>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    pub artifact_location: ArtifactLocation,
    pub region: Region,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    pub uri: String,
    pub uri_base_id: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<Text>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogicalLocation {
    pub name: String,
    pub fully_qualified_name: String,
    pub kind: &'static str,
}

/// The id of the rule of a heap finding's kind.
fn rule_id(kind: Kind) -> &'static str {
    match kind {
        Kind::Moved => "go-escape/moved-to-heap",
        Kind::Escapes => "go-escape/escapes-to-heap",
        Kind::NotInlinable | Kind::NotInlined | Kind::Inlinable | Kind::InlinedCall => {
            "go-escape/inlining"
        }
        Kind::BoundsCheck => "go-escape/bounds-check",
        Kind::VariableMake => "go-escape/variable-make",
        Kind::Gcassert => "go-escape/gcassert",
        Kind::ConcatConvert => "go-escape/concat-convert",
    }
}

/// The rule of a heap finding's kind: its id and its index in `rules`, found there so
/// that the index cannot disagree with the list.
fn rule_of(rules: &[Rule], kind: Kind) -> (&'static str, usize) {
    let id = rule_id(kind);
    let index = rules
        .iter()
        .position(|r| r.id == id)
        .expect("every kind's rule is in rules()");
    (id, index)
}

/// The advice of the escape rules, before the allowlist's file name.
const KEEP: &str = "Keep the value on the stack (do not let its address outlive the \
                    function, or store it in something that does), or accept the escape with an \
                    entry in";

fn rules() -> Vec<Rule> {
    let rule = |id, name, short: &str, full: &str| Rule {
        id,
        name,
        short_description: Text {
            text: short.to_string(),
        },
        full_description: Text {
            text: full.to_string(),
        },
        help: Help {
            text: format!("{full} {KEEP} {CONFIG_FILE} (path, function, message, reason)."),
            markdown: format!(
                "{full}\n\n{KEEP} `{CONFIG_FILE}` (`path`, `function`, `message`, `reason`). Run \
                 `escape-gate diff` locally to see the escape flow."
            ),
        },
        default_configuration: Configuration { level: "error" },
        properties: RuleProperties {
            tags: vec!["performance", "go", "heap-allocation"],
            precision: "very-high",
        },
    };
    let other = |id, name, short: &str, full: &str, fix: &str| Rule {
        help: Help {
            text: format!("{full} {fix}"),
            markdown: format!("{full}\n\n{fix}"),
        },
        ..rule(id, name, short, full)
    };
    let accept =
        |check: &str| format!("accept it with an entry with `check: {check}` in {CONFIG_FILE}.");
    vec![
        rule(
            "go-escape/moved-to-heap",
            "MovedToHeap",
            "A new variable moved to the heap",
            "The Go compiler's escape analysis moved a variable to the heap (`moved to heap: NAME`) that the base revision kept on the stack.",
        ),
        rule(
            "go-escape/escapes-to-heap",
            "EscapesToHeap",
            "A new value escapes to the heap",
            "The Go compiler's escape analysis reports a value that escapes to the heap (`EXPR escapes to heap`) and that the base revision did not allocate.",
        ),
        other(
            "go-escape/inlining",
            "Inlining",
            "A function or call is no longer inlined",
            "The Go compiler inlined this function (`can inline F`) or this call (`inlining call to F`) in the base revision and no longer does (`cannot inline F: REASON`).",
            &format!("Bring the function back under the inlining budget (80 nodes), or {}", accept("inlining")),
        ),
        other(
            "go-escape/bounds-check",
            "BoundsCheck",
            "A new bounds check",
            "The Go compiler keeps a bounds check here (`Found IsInBounds` / `Found IsSliceInBounds` under -d=ssa/check_bce/debug=1) that the base revision did not need.",
            &format!("Prove the index in range before the loop (for example `_ = s[n-1]`, or a length check), or {}", accept("bounds")),
        ),
        other(
            "go-escape/variable-make",
            "VariableMake",
            "A make whose size is not a constant",
            "Since Go 1.25 the compiler reports `make([]T, n)` with a non-constant size as `does not escape`, but keeps only 32 bytes for it on the stack: a larger slice is allocated on the heap.",
            &format!("Use a constant size (and reslice), or {}", accept("variable-make")),
        ),
        other(
            "go-escape/gcassert",
            "Gcassert",
            "A //gcassert: directive is violated",
            "A `//gcassert:inline`, `//gcassert:bce` or `//gcassert:noescape` directive of the head states a compiler decision that the compiler did not make.",
            "Restore the decision the directive asserts, or remove the directive.",
        ),
        other(
            "go-escape/concat-convert",
            "ConcatConvert",
            "A string concatenation or conversion that may allocate",
            "The compiler reports `a + b`, `string(b)`, `([]byte)(s)` or `([]rune)(s)` as `does not escape`, but gives it only a 32-byte buffer on the stack (tmpstringbufsize in cmd/compile/internal/walk): a larger result is allocated on the heap.",
            &format!("Build the result in a reused buffer (a strings.Builder or an append to a kept slice), or {}", accept("concat-convert")),
        ),
    ]
}

/// FNV-1a, 128 bits: stable across Rust releases and platforms, unlike the standard
/// library's hasher, and plenty to tell allocation sites apart.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    for &b in bytes {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The fingerprint of a finding: a hash of package, function, kind and normalised
/// expression, then `:N` for the N-th occurrence of that key (in position order), as
/// CodeQL numbers its line hashes.
pub fn fingerprint(f: &Finding, occurrence: usize) -> String {
    let identity = format!(
        "{}\0{}\0{}\0{}",
        f.package,
        f.function,
        f.kind.fingerprint_name(),
        normalise_expr(&f.expr)
    );
    format!("{:032x}:{occurrence}", fnv1a_128(identity.as_bytes()))
}

/// The message, and the first steps of the escape flow when the compiler explained it.
/// A failing finding's level: `error`, or, when `profile.hot_percent` is set, `error`
/// only at or above that share and `warning` below it (it still fails the gate).
fn level(outcome: &Outcome, f: &Finding) -> &'static str {
    let threshold = outcome.profile.as_ref().and_then(|p| p.hot_percent);
    match (threshold, f.profile) {
        (Some(n), Some(share)) if share.cum_percent < n && !f.hot => "warning",
        _ => "error",
    }
}

fn message_text(f: &Finding) -> String {
    const FLOW_LINES: usize = 8;
    let mut text = format!(
        "{} ({} in {}){}",
        f.message,
        f.kind.noun(),
        f.function_display(),
        f.platforms_suffix()
    );
    if let Some(from) = crate::report::words::provenance(f) {
        text.push_str(&format!("\n{from}"));
    }
    if !f.flow.is_empty() {
        text.push_str("\nWhy:");
        for line in f.flow.iter().take(FLOW_LINES) {
            text.push('\n');
            text.push_str(&line.display());
        }
        if f.flow.len() > FLOW_LINES {
            text.push_str(&format!("\n… {} more steps", f.flow.len() - FLOW_LINES));
        }
    }
    text
}

pub fn log(outcome: &Outcome, ci: &Ci) -> Log {
    let rules = rules();
    // Occurrences are numbered in source order, so that a fingerprint does not depend
    // on the profile; the results are then ordered by share.
    let mut failing: Vec<(&Finding, &'static str)> = outcome
        .failing()
        .iter()
        .map(|f| (f, level(outcome, f)))
        .chain(outcome.cold.iter().map(|f| (f, "note")))
        .collect();
    failing.sort_by_key(|(f, _)| (f.file.clone(), f.line, f.column));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut results: Vec<SarifResult> = failing
        .into_iter()
        .map(|(f, level)| {
            let base = fingerprint(f, 0);
            let n = seen.entry(base).or_insert(0);
            *n += 1;
            let (rule_id, rule_index) = rule_of(&rules, f.kind);
            let share = outcome.profile.as_ref().zip(f.profile);
            let mut text = message_text(f);
            if let Some((profile, share)) = share {
                text.push_str(&format!("\nProfile: {}", share.describe(&profile.of)));
            }
            SarifResult {
                rule_id,
                rule_index,
                level,
                rank: share.map(|(_, s)| s.cum_percent),
                message: Text { text },
                locations: vec![Location {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation {
                            uri: uri_path(&f.file),
                            uri_base_id: "SRCROOT",
                        },
                        region: Region {
                            start_line: f.line.max(1),
                            start_column: (f.column > 0).then_some(f.column),
                            snippet: (!f.source.is_empty()).then(|| Text {
                                text: f.source.clone(),
                            }),
                        },
                    },
                    logical_locations: vec![LogicalLocation {
                        name: f.function.clone(),
                        fully_qualified_name: format!("{}.{}", f.package, f.function),
                        kind: "function",
                    }],
                }],
                partial_fingerprints: HashMap::from([(FINGERPRINT_KEY, fingerprint(f, *n))]),
                properties: (!f.platforms.is_empty()).then(|| ResultProperties {
                    platforms: f.platforms.iter().map(ToString::to_string).collect(),
                }),
            }
        })
        .collect();
    results.sort_by(|a, b| b.rank.unwrap_or(0.0).total_cmp(&a.rank.unwrap_or(0.0)));
    let head = outcome.head.revision.commit.map(|c| c.to_string());
    let version_control_provenance = match (&ci.server_url, &ci.repository, &head) {
        (Some(server), Some(repository), Some(head)) => vec![VersionControl {
            repository_uri: format!("{}/{repository}", server.trim_end_matches('/')),
            revision_id: head.clone(),
        }],
        _ => Vec::new(),
    };
    let invocations = match config_changes::notes(outcome) {
        Some(notes) => {
            let file = outcome
                .config_change
                .as_ref()
                .map(|c| c.file.clone())
                .unwrap_or_default();
            let notifications = notes
                .items
                .iter()
                .map(|item| {
                    let mut text = format!("{} {}", notes.heading, item.title);
                    for detail in &item.details {
                        text.push_str(&format!("\n  {detail}"));
                    }
                    Notification {
                        level: "warning",
                        message: Text { text },
                        locations: item
                            .line
                            .map(|line| NotificationLocation {
                                physical_location: PhysicalLocation {
                                    artifact_location: ArtifactLocation {
                                        uri: uri_path(&file),
                                        uri_base_id: "SRCROOT",
                                    },
                                    region: Region {
                                        start_line: line as u32,
                                        start_column: None,
                                        snippet: None,
                                    },
                                },
                            })
                            .into_iter()
                            .collect(),
                    }
                })
                .collect();
            vec![Invocation {
                execution_successful: true,
                tool_configuration_notifications: notifications,
            }]
        }
        None => Vec::new(),
    };
    let repository = env!("CARGO_PKG_REPOSITORY");
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "escape-gate",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: (!repository.is_empty()).then_some(repository),
                    rules,
                },
            },
            original_uri_base_ids: HashMap::from([(
                "SRCROOT",
                UriBase {
                    description: Text {
                        text: "The root of the git repository that was checked.".to_string(),
                    },
                },
            )]),
            results,
            version_control_provenance,
            invocations,
            properties: RunProperties {
                go_version: outcome.go.describe(),
                base: outcome.base.revision.commit.map(|c| c.to_string()),
                head,
                fixed: outcome.comparison.fixed.len(),
                moved: outcome.comparison.moved.len(),
                allowed: outcome.allow.allowed.len(),
            },
        }],
    }
}

/// A repository-relative path as a relative URI reference: each segment
/// percent-encoded, `/` kept.
fn uri_path(file: &str) -> String {
    file.split('/')
        .map(|segment| {
            let mut out = String::with_capacity(segment.len());
            for b in segment.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn write(outcome: &Outcome, ci: &Ci, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(outcome, ci))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FlowStep;
    use crate::report::fixture::{self, finding};

    #[test]
    fn fingerprints_ignore_lines_and_files_but_not_identity() {
        let a = finding(
            "a.go",
            10,
            "F",
            Kind::Escapes,
            "&gen.Box[go.shape.int]{...}",
        );
        let mut moved = a.clone();
        moved.line = 99;
        moved.file = "b.go".to_string();
        moved.expr = "&gen.Box[go.shape.string]{...}".to_string();
        assert_eq!(fingerprint(&a, 1), fingerprint(&moved, 1));
        let other_fn = finding(
            "a.go",
            10,
            "G",
            Kind::Escapes,
            "&gen.Box[go.shape.int]{...}",
        );
        let other_kind = finding("a.go", 10, "F", Kind::Moved, "&gen.Box[go.shape.int]{...}");
        assert_ne!(fingerprint(&a, 1), fingerprint(&other_fn, 1));
        assert_ne!(fingerprint(&a, 1), fingerprint(&other_kind, 1));
        assert_ne!(fingerprint(&a, 1), fingerprint(&a, 2));
        // Pinned: a change of recipe must bump FINGERPRINT_KEY.
        assert_eq!(
            fingerprint(&a, 1),
            format!(
                "{:032x}:1",
                fnv1a_128(b"example.com/m\0F\0escapes\0&gen.Box[go.shape]{...}")
            )
        );
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    #[test]
    fn messages_carry_the_first_flow_steps() {
        let mut f = finding("a.go", 3, "Keep", Kind::Moved, "x");
        assert_eq!(
            message_text(&f),
            "moved to heap: x (new heap escape in Keep)"
        );
        f.flow = (1..=10)
            .map(|i| FlowStep::plain(format!("  from step {i}")))
            .collect();
        let text = message_text(&f);
        assert!(
            text.starts_with("moved to heap: x (new heap escape in Keep)\nWhy:\n  from step 1\n"),
            "{text}"
        );
        assert!(text.contains("  from step 8\n… 2 more steps"), "{text}");
        assert!(!text.contains("step 9"), "{text}");
    }

    #[test]
    fn every_kind_has_its_rule_at_its_index() {
        let rules = rules();
        for kind in Kind::ALL {
            let (id, index) = rule_of(&rules, kind);
            assert_eq!(rules[index].id, id, "{kind:?}");
        }
    }

    #[test]
    fn results_are_typed_and_numbered_per_key() {
        let outcome = fixture::outcome(vec![
            finding("dir/a b.go", 4, "F", Kind::Escapes, "&T{}"),
            finding("dir/a b.go", 3, "F", Kind::Escapes, "&T{}"),
            finding("c.go", 1, "G", Kind::Moved, "x"),
        ]);
        let json = serde_json::to_value(log(&outcome, &Ci::default())).expect("json");
        let results = json["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["ruleId"], "go-escape/moved-to-heap");
        assert_eq!(results[0]["ruleIndex"], 0);
        let uri = &results[1]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(uri["uri"], "dir/a%20b.go");
        assert_eq!(uri["uriBaseId"], "SRCROOT");
        let fp = |i: usize| {
            results[i]["partialFingerprints"][FINGERPRINT_KEY]
                .as_str()
                .expect("fp")
                .to_string()
        };
        assert!(
            fp(1).ends_with(":1") && fp(2).ends_with(":2"),
            "{} {}",
            fp(1),
            fp(2)
        );
        assert_eq!(fp(1).split(':').next(), fp(2).split(':').next());
        assert_eq!(
            json["runs"][0]["tool"]["driver"]["rules"][1]["id"],
            "go-escape/escapes-to-heap"
        );
        assert!(json["runs"][0].get("versionControlProvenance").is_none());
    }
}
