//! Hostile input: a pull request's own `.escape-gate.yml`. The head may loosen the gate
//! (an entry that allows its new escape, a build section that stops analysing the
//! package that has it); every format must say so, the package count must stay true,
//! and `--config-from base` must take the rules from the base instead.

use serde_json::Value;

use crate::support::{Run, TestRepo};

const BASE_GO: &str = "package hot

// Sum adds up.
func Sum(xs []int) int {
\tt := 0
\tfor _, x := range xs {
\t\tt += x
\t}
\treturn t
}
";

/// The head: `Sum` now keeps a pointer to its local, a new heap escape.
const HEAD_GO: &str = "package hot

var last *int

// Sum adds up.
func Sum(xs []int) int {
\tt := 0
\tfor _, x := range xs {
\t\tt += x
\t}
\tlast = &t
\treturn t
}
";

const COLD_GO: &str = "package cold\n\n// Id returns x.\nfunc Id(x int) int { return x }\n";

/// A base with `hot` and `cold` packages and `base_config`; a head that adds an escape
/// to `hot` and writes `head_config`. Returns (repo, base, head).
fn repo(base_config: Option<&str>, head_config: &str) -> (TestRepo, String, String) {
    let mut files = vec![("hot/hot.go", BASE_GO), ("cold/cold.go", COLD_GO)];
    if let Some(config) = base_config {
        files.push((".escape-gate.yml", config));
    }
    let (repo, base) = TestRepo::go_module(&files);
    repo.write("hot/hot.go", HEAD_GO);
    repo.write(".escape-gate.yml", head_config);
    let head = repo.commit("head: an escape and a looser allowlist");
    (repo, base, head)
}

/// A directory outside the repository that no run may touch.
struct Sentinel {
    dir: tempfile::TempDir,
}

impl Sentinel {
    fn new() -> Sentinel {
        let dir = tempfile::Builder::new()
            .prefix("eg-sentinel-")
            .tempdir()
            .expect("sentinel dir");
        std::fs::write(dir.path().join("keep.txt"), "do not touch\n").expect("write");
        Sentinel { dir }
    }

    fn assert_intact(&self) {
        let names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("read sentinel")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["keep.txt"]);
        assert_eq!(
            std::fs::read_to_string(self.dir.path().join("keep.txt")).expect("read"),
            "do not touch\n"
        );
    }
}

fn gate_run(repo: &TestRepo, args: &[&str]) -> Run {
    let sentinel = Sentinel::new();
    let run = repo.run_untouched(args);
    sentinel.assert_intact();
    run
}

const ALLOW_EVERYTHING: &str = "version: 1
allow:
  - path: \"**\"
    reason: \"nothing to see here\"
";

#[test]
fn an_entry_the_head_adds_is_named_with_what_it_allows_in_every_format() {
    let (repo, base, head) = repo(None, ALLOW_EVERYTHING);

    let text = gate_run(&repo, &["diff", &base, &head]);
    text.assert_code(0);
    assert!(
        text.stdout.contains(
            "config: the head adds the allowlist .escape-gate.yml (the base has none), and it rules this comparison:\n  + allowlist entry added at .escape-gate.yml:3 (path \"**\"; reason \"nothing to see here\"): allows 1 new heap escape\n      hot/hot.go:7:2 in Sum: moved to heap: t\n"
        ),
        "{}",
        text.stdout
    );

    let json = gate_run(&repo, &["diff", "--format", "json", &base, &head]);
    json.assert_code(0);
    let json = json.json();
    let change = &json["config_change"];
    assert_eq!(change["file"], ".escape-gate.yml");
    assert_eq!(change["rules"], "head");
    assert_eq!(change["base_missing"], true);
    assert_eq!(change["added"][0]["path"], "**");
    assert_eq!(change["added"][0]["line"], 3);
    assert_eq!(
        change["added"][0]["covers"][0]["message"],
        "moved to heap: t"
    );
    assert_eq!(json["summary"]["allowed"], 1);
    assert_eq!(json["summary"]["config_from"], "head");

    let github = gate_run(&repo, &["diff", "--format", "github", &base, &head]);
    github.assert_code(0);
    assert!(
        github.stdout.lines().any(|l| l.starts_with(
            "::warning file=.escape-gate.yml,line=3,title=escape-gate%3A the head changes the allowlist::"
        ) && l.contains("allows 1 new heap escape%0A  hot/hot.go:7:2 in Sum: moved to heap: t")),
        "{}",
        github.stdout
    );

    let sarif = gate_run(&repo, &["diff", "--format", "sarif", &base, &head]);
    sarif.assert_code(0);
    let sarif = sarif.json();
    let notification = &sarif["runs"][0]["invocations"][0]["toolConfigurationNotifications"][0];
    assert_eq!(notification["level"], "warning");
    assert_eq!(
        notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        ".escape-gate.yml"
    );
    assert_eq!(
        notification["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert!(notification["message"]["text"]
        .as_str()
        .expect("text")
        .contains("allows 1 new heap escape"));

    let markdown = gate_run(&repo, &["diff", "--format", "markdown", &base, &head]);
    markdown.assert_code(0);
    assert!(
        markdown
            .stdout
            .contains("#### ⚠️ The head adds the allowlist .escape-gate.yml"),
        "{}",
        markdown.stdout
    );
    assert!(markdown
        .stdout
        .contains("`hot/hot.go:7:2 in Sum: moved to heap: t`"));
}

#[test]
fn with_config_from_base_the_heads_entry_allows_nothing() {
    let base_config = "version: 1\nallow: []\n";
    let (repo, base, head) = repo(Some(base_config), ALLOW_EVERYTHING);
    let run = gate_run(
        &repo,
        &[
            "diff",
            "--config-from",
            "base",
            "--format",
            "json",
            &base,
            &head,
        ],
    );
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["new"][0]["message"], "moved to heap: t");
    assert_eq!(json["config_change"]["rules"], "base");
    assert_eq!(json["config_change"]["base_missing"], false);
    assert_eq!(
        json["config_change"]["added"][0]["covers"][0]["message"],
        "moved to heap: t"
    );
    assert_eq!(json["summary"]["config_from"], "base");

    let text = gate_run(&repo, &["diff", "--config-from", "base", &base, &head]);
    text.assert_code(1);
    assert!(
        text.stdout
            .contains("(--config-from base), so these changes take effect once merged")
            && text.stdout.contains("would allow 1 new heap escape"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_build_section_that_stops_analysing_the_escape_is_said_and_counted() {
    for (head_config, what) in [
        (
            "version: 1\nbuild:\n  exclude: [\"hot\"]\n",
            "exclude: [] → [\"hot\"]",
        ),
        (
            "version: 1\nbuild:\n  packages: [\"./cold/...\"]\n",
            "packages: [] → [\"./cold/...\"]",
        ),
    ] {
        let (repo, base, head) = repo(None, head_config);
        let text = gate_run(&repo, &["diff", &base, &head]);
        // The head rules, so the escape is not seen; the report must say why.
        text.assert_code(0);
        assert!(
            text.stdout.contains(&format!(
                "  ~ build section changed at .escape-gate.yml:2: {what}\n      no longer analysed (1 package): example.com/m/hot\n"
            )),
            "{}",
            text.stdout
        );
        assert!(
            text.stdout
                .contains("1 of 2 packages analysed (1 left out by the build section;"),
            "{}",
            text.stdout
        );

        let json = gate_run(&repo, &["diff", "--format", "json", &base, &head]);
        let json: Value = json.json();
        let build = &json["config_change"]["build"];
        assert_eq!(build["no_longer_analysed"][0], "example.com/m/hot");
        assert_eq!(build["line"], 2);
        assert_eq!(json["summary"]["packages_total"], 2);
        assert_eq!(json["summary"]["packages_excluded"], 1);

        // The base's rules analyse the package and see the escape.
        let ruled = gate_run(&repo, &["diff", "--config-from", "base", &base, &head]);
        ruled.assert_code(1);
        assert!(
            ruled.stdout.contains("moved to heap: t"),
            "{}",
            ruled.stdout
        );
    }
}

#[test]
fn an_unchanged_allowlist_says_nothing() {
    let config = "version: 1\nallow:\n  - path: \"cold/*.go\"\n    reason: cold\n";
    let (repo, base, head) = repo(Some(config), config);
    let run = gate_run(&repo, &["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    assert_eq!(run.json()["config_change"], Value::Null);
    let text = gate_run(&repo, &["diff", &base, &head]);
    assert!(!text.stdout.contains("config:"), "{}", text.stdout);
}

#[test]
fn a_head_that_deletes_the_allowlist_shows_the_removed_entries() {
    let config = "version: 1\nbuild:\n  exclude: [\"cold\"]\nallow:\n  - path: \"cold/*.go\"\n    reason: cold\n";
    let (repo, base) = TestRepo::go_module(&[
        ("hot/hot.go", BASE_GO),
        ("cold/cold.go", COLD_GO),
        (".escape-gate.yml", config),
    ]);
    repo.remove(".escape-gate.yml");
    let head = repo.commit("drop the allowlist");
    let run = gate_run(&repo, &["diff", "--format", "json", &base, &head]);
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["config_change"]["removed"][0]["path"], "cold/*.go");
    assert_eq!(
        json["config_change"]["build"]["head"]["exclude"],
        Value::Array(vec![])
    );
}

#[test]
fn a_broken_base_allowlist_does_not_stop_the_head_and_is_said() {
    let (repo, base, head) = repo(
        Some("version: 1\nallow:\n  - path: \"[\"\n"),
        ALLOW_EVERYTHING,
    );
    let run = gate_run(&repo, &["diff", "--format", "json", &base, &head]);
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["config_change"]["added"][0]["path"], "**");
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("does not rule this comparison"),
        "{warnings}"
    );
    // With the base ruling, its broken file is an error that names it.
    let ruled = gate_run(&repo, &["diff", "--config-from", "base", &base, &head]);
    ruled.assert_code(2);
    assert!(
        ruled.stderr.contains(".escape-gate.yml (in base"),
        "{}",
        ruled.stderr
    );
}

/// An allowlist that is a link is never followed: in the working tree (where following
/// it would print another file's content in the parse error, or read /dev/zero
/// forever) and in a commit (where its blob is the link's target, not a config).
#[test]
fn an_allowlist_that_is_a_link_is_refused_and_never_read() {
    let secret = Sentinel::new();
    let secret_file = secret.dir.path().join("keep.txt");
    for target in [secret_file.to_str().expect("utf-8 path"), "/dev/zero"] {
        let (repo, base) = TestRepo::go_module(&[("hot/hot.go", BASE_GO)]);
        std::os::unix::fs::symlink(target, repo.path().join(".escape-gate.yml")).expect("link");
        let run = gate_run(&repo, &["diff", &base]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("cannot read the allowlist .escape-gate.yml of the working tree: it is a symbolic link"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("do not touch"), "{}", run.stderr);

        let head = repo.commit("a linked allowlist");
        let run = gate_run(&repo, &["diff", &base, &head]);
        run.assert_code(2);
        assert!(
            run.stderr.contains(&format!(
                "the allowlist .escape-gate.yml in head {} is not a regular file",
                &head[..10]
            )),
            "{}",
            run.stderr
        );
        // A link out of the repository is not even checked out.
        let ruled = gate_run(&repo, &["diff", "--config-from", "base", &base, &head]);
        ruled.assert_code(2);
        assert!(
            ruled.stderr.contains("outside the repository"),
            "{}",
            ruled.stderr
        );
    }
    secret.assert_intact();

    // A link inside the repository, while the base rules: only a warning.
    let (repo, base) =
        TestRepo::go_module(&[("hot/hot.go", BASE_GO), ("notes.yml", "version: 1\n")]);
    std::os::unix::fs::symlink("notes.yml", repo.path().join(".escape-gate.yml")).expect("link");
    let head = repo.commit("a linked allowlist inside");
    let ruled = gate_run(
        &repo,
        &[
            "diff",
            "--config-from",
            "base",
            "--format",
            "json",
            &base,
            &head,
        ],
    );
    ruled.assert_code(0);
    assert!(
        ruled.json()["warnings"]
            .to_string()
            .contains("is not a regular file"),
        "{}",
        ruled.stdout
    );
}

/// `--config FILE` inside the repository (the Action's `config` input, in a checkout of
/// the pull request) is read like the repository's own files: never through a link.
#[test]
fn a_config_file_inside_the_repository_is_never_read_through_a_link() {
    let secret = Sentinel::new();
    let (repo, base, head) = repo(None, ALLOW_EVERYTHING);
    std::fs::create_dir_all(repo.path().join(".github")).expect("mkdir");
    for target in [
        secret.dir.path().join("keep.txt"),
        std::path::PathBuf::from("/dev/zero"),
    ] {
        let link = repo.path().join(".github/eg.yml");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("link");
        let run = gate_run(&repo, &["diff", "--config", ".github/eg.yml", &base, &head]);
        run.assert_code(2);
        assert!(
            run.stderr
                .contains("cannot read the allowlist .github/eg.yml: it is a symbolic link"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("do not touch"), "{}", run.stderr);
    }
    secret.assert_intact();
}

/// A committed allowlist blob of 17 MiB is refused from its size, never loaded.
#[test]
fn a_huge_allowlist_blob_is_refused_from_its_size() {
    let (repo, base) = TestRepo::go_module(&[("hot/hot.go", BASE_GO)]);
    let mut big = String::from("version: 1\n");
    big.push_str(&"#".repeat(17 * 1024 * 1024));
    repo.write(".escape-gate.yml", &big);
    let head = repo.commit("a huge allowlist");
    let run = gate_run(&repo, &["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!(
            "the allowlist .escape-gate.yml in head {} is 17825803 bytes, too large",
            &head[..10]
        )),
        "{}",
        run.stderr
    );
}
