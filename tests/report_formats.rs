//! `--format github|sarif|markdown` on real repositories built by the real `go`: the
//! SARIF parsed back into typed values, the annotations of a hostile expression, the
//! job summary and outputs files.

use serde::Deserialize;

use crate::support::{Run, TestRepo};

const BASE_GO: &str = "package m

var sink *int
var text string

// Keep stays as it was.
func Keep(a int) {
\tx := a
\tsink = &x
}
";

/// The head adds an escape whose compiler message quotes a string literal that spells
/// a workflow command, and shifts Keep down by some lines.
const HEAD_GO: &str = "package m

var sink *int
var text string

// A comment that pushes Keep down.
// And another line.

// Keep stays as it was.
func Keep(a int) {
\tx := a
\tsink = &x
}

// Label builds a label on the heap.
func Label(a string) {
\ttext = a + \"%0A::warning::pwned\"
}
";

/// The GitHub variables a reporter reads. Tests that expect none must not inherit them
/// when they themselves run in GitHub Actions.
const GITHUB_VARS: [&str; 5] = [
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITHUB_WORKSPACE",
];

/// escape-gate in `repo`, outside any GitHub environment.
fn run_outside_github(repo: &TestRepo, args: &[&str]) -> Run {
    let mut cmd = crate::support::escape_gate();
    for var in GITHUB_VARS {
        cmd.env_remove(var);
    }
    Run::from_output(
        cmd.args(args)
            .current_dir(repo.path())
            .output()
            .expect("run"),
    )
}

fn repo() -> (TestRepo, String, String) {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("a.go", HEAD_GO);
    let head = repo.commit("head");
    (repo, base, head)
}

#[derive(Debug, Deserialize)]
struct Sarif {
    version: String,
    runs: Vec<SarifRun>,
}

#[derive(Debug, Deserialize)]
struct SarifRun {
    tool: Tool,
    results: Vec<SarifResult>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: String,
    version: String,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct Rule {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: String,
    message: Message,
    locations: Vec<Location>,
    partial_fingerprints: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: Physical,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Artifact,
    region: Region,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    uri: String,
    uri_base_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: Option<u32>,
}

fn sarif(run: &Run) -> Sarif {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not SARIF ({e}):\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn sarif_has_one_result_per_new_escape_with_stable_fingerprints() {
    let (repo, base, head) = repo();
    let run = repo.run_untouched(&["diff", "--format", "sarif", &base, &head]);
    run.assert_code(1);
    let log = sarif(&run);
    assert_eq!(log.version, "2.1.0");
    let driver = &log.runs[0].tool.driver;
    assert_eq!(driver.name, "escape-gate");
    assert_eq!(driver.version, env!("CARGO_PKG_VERSION"));
    let results = &log.runs[0].results;
    assert_eq!(results.len(), 1, "{results:#?}");
    let r = &results[0];
    assert_eq!(r.rule_id, "go-escape/escapes-to-heap");
    assert_eq!(driver.rules[r.rule_index].id, r.rule_id);
    assert_eq!(r.level, "error");
    assert!(
        r.message.text.contains("%0A::warning::pwned"),
        "{}",
        r.message.text
    );
    assert!(r.message.text.contains("in Label"), "{}", r.message.text);
    let place = &r.locations[0].physical_location;
    assert_eq!(place.artifact_location.uri, "a.go");
    assert_eq!(place.artifact_location.uri_base_id, "SRCROOT");
    assert_eq!(place.region.start_line, 17);
    assert!(place.region.start_column.is_some());

    // The same escape on another line (more lines inserted above it) keeps its
    // fingerprint, so code scanning tracks it as the same alert.
    let fp = r.partial_fingerprints["escapeGate/v1"].clone();
    repo.write(
        "a.go",
        &HEAD_GO.replace(
            "// And another line.\n",
            "// And another line.\n// More.\n// More.\n",
        ),
    );
    let shifted = repo.commit("shift");
    let run = repo.run_untouched(&["diff", "--format", "sarif", &base, &shifted]);
    let log = sarif(&run);
    let r = &log.runs[0].results[0];
    assert_eq!(r.locations[0].physical_location.region.start_line, 19);
    assert_eq!(r.partial_fingerprints["escapeGate/v1"], fp);
}

#[test]
fn github_format_cannot_be_hijacked_by_source_text() {
    let (repo, base, head) = repo();
    let dir = tempfile::tempdir().expect("tmp");
    let summary = dir.path().join("summary.md");
    let output = dir.path().join("output");
    let run = crate::support::escape_gate()
        .args(["diff", "--format", "github", &base, &head])
        .current_dir(repo.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/m")
        .env("GITHUB_WORKSPACE", repo.path())
        .output()
        .expect("run");
    let run = Run::from_output(run);
    run.assert_code(1);

    let lines: Vec<&str> = run.stdout.lines().collect();
    // The column of a binary expression has moved between Go releases.
    let col = regex::Regex::new(r"col=\d+,").expect("regex");
    assert_eq!(
        col.replace(lines[0], "col=N,"),
        "::error file=a.go,line=17,col=N,title=escape-gate%3A new heap escape in Label::a + \"%250A::warning::pwned\" escapes to heap%0A    17 | text = a + \"%250A::warning::pwned\"%0Awhy:%0A  flow: {heap} ← &{storage for a + \"%250A::warning::pwned\"}%0A  from a + \"%250A::warning::pwned\" (spill) at a.go:17  [changed]%0A  from text = a + \"%250A::warning::pwned\" (assign) at a.go:17  [changed]"
    );
    // Between the annotations and the end, commands are stopped under a random token,
    // and the only lines that would start a command are the annotation and that pair.
    let stop = lines[1]
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("no stop-commands: {}", run.stdout));
    assert!(stop.len() > 20, "token {stop:?}");
    assert_eq!(lines.last().copied(), Some(format!("::{stop}::").as_str()));
    let commands = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("::"))
        .count();
    assert_eq!(commands, 3, "{}", run.stdout);

    let summary = std::fs::read_to_string(&summary).expect("summary written");
    let summary = regex::Regex::new(r"a\.go:17:\d+")
        .expect("regex")
        .replace_all(&summary, "a.go:17:N");
    assert!(summary.contains(&format!(
        "| [`a.go:17:N`](https://github.com/acme/m/blob/{head}/a.go#L17) | `Label` | `a + \"%0A::warning::pwned\" escapes to heap` |"
    )), "{summary}");
    assert_eq!(
        std::fs::read_to_string(&output).expect("outputs written"),
        "new-escapes=1\nfixed-escapes=0\nallowed-escapes=0\n"
    );
}

#[test]
fn markdown_is_the_summary_for_a_comment() {
    let (repo, base, head) = repo();
    let run = run_outside_github(&repo, &["diff", "--format", "markdown", &base, &head]);
    run.assert_code(1);
    assert!(
        run.stdout
            .starts_with("### ❌ escape-gate: 1 new heap escape\n"),
        "{}",
        run.stdout
    );
    let positions = regex::Regex::new(r"a\.go:17:\d+").expect("regex");
    let doc = positions.replace_all(&run.stdout, "a.go:17:N");
    assert!(doc.contains("| `a.go:17:N` | `Label` |"), "{doc}");
    assert!(
        run.stdout.contains(&format!("head `{head}`")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.len() < 64 * 1000);

    let clean = run_outside_github(&repo, &["diff", "--format", "markdown", &head, &head]);
    clean.assert_code(0);
    assert!(
        clean
            .stdout
            .starts_with("### ✅ escape-gate: no new heap escapes\n"),
        "{}",
        clean.stdout
    );
}
