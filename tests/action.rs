//! The Action itself, run outside GitHub: action.yml's steps, in order, in the simulated
//! runner of `support::actions` (which says what it emulates and how), on a shallow
//! clone of a real Go repository, with the binary under test on PATH and the real `go`
//! and `git`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::{git_in, require_go, TestRepo};

use crate::support::actions::cache_store::CacheStore;
use crate::support::actions::github_api::{FakeGitHub, ACTIONS_BOT, BODY_LIMIT, TOKEN};
use crate::support::actions::{steps, ActionRun, Runner};

const A_GO: &str = "package m

type T struct{ A, B int }

var sink *T

// Keep stores a new T in a package variable, so it escapes.
func Keep(a int) {
\tsink = &T{A: a}
}

// Local keeps its T on the stack.
func Local(a int) int {
\tt := T{A: a}
\treturn t.A + t.B
}
";

/// The origin repository: `main` with a base commit and a later commit of its own, and
/// a `feature` branch from the base that adds one heap escape. Returns the repository,
/// the merge-base, main's tip and the feature's tip.
fn origin() -> (TestRepo, String, String, String) {
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    // main moves on after the branch point with an escape of its own: compared with
    // main's tip instead of the merge-base, the PR would look like it fixed it.
    repo.write(
        "later.go",
        "package m\n\n// Later is on main only.\nfunc Later() *int {\n\tx := 1\n\treturn &x\n}\n",
    );
    let main_tip = repo.commit("main moves on");
    repo.git(&["checkout", "-q", "-b", "feature", &base]);
    repo.write(
        "a.go",
        &A_GO.replace(
            "// Local keeps",
            "// Addr returns the address of a local.\nfunc Addr(a int) *int {\n\tx := a * 2\n\treturn &x\n}\n\n// Local keeps",
        ),
    );
    let feature = repo.commit("add Addr");
    repo.git(&["checkout", "-q", "main"]);
    (repo, base, main_tip, feature)
}

/// A `pull_request` payload as GitHub sends it (the fields the Action reads, and
/// enough around them to be realistic).
fn pull_request_event(base_sha: &str, head_sha: &str) -> Value {
    json!({
        "action": "synchronize",
        "number": 7,
        "before": "0000000000000000000000000000000000000000",
        "pull_request": {
            "number": 7,
            "state": "open",
            "title": "Add Addr",
            "html_url": "https://github.com/acme/inventory/pull/7",
            "user": {"login": "contributor", "type": "User"},
            "base": {
                "label": "acme:main",
                "ref": "main",
                "sha": base_sha,
                "repo": {"full_name": "acme/inventory", "default_branch": "main"}
            },
            "head": {
                "label": "contributor:feature",
                "ref": "feature",
                "sha": head_sha,
                "repo": {"full_name": "contributor/inventory", "fork": true}
            },
            "draft": false
        },
        "repository": {
            "full_name": "acme/inventory",
            "name": "inventory",
            "owner": {"login": "acme"},
            "default_branch": "main",
            "private": false
        },
        "sender": {"login": "contributor", "type": "User"}
    })
}

/// `actions/checkout` with its default depth of 1: the feature tip only.
fn shallow_checkout(origin: &TestRepo, temp: &Path, branch: &str) -> PathBuf {
    let workspace = temp.join("workspace");
    let url = format!("file://{}", origin.path().display());
    let target = workspace.to_str().expect("utf-8");
    git_in(
        temp,
        &["clone", "-q", "--depth=1", "--branch", branch, &url, target],
    );
    let shallow = git_in(&workspace, &["rev-parse", "--is-shallow-repository"]);
    assert_eq!(shallow.trim(), "true");
    workspace
}

fn runner(origin: &TestRepo, event: Value, sha: &str, inputs: &[(&str, &str)]) -> Runner {
    runner_on(origin, "feature", event, sha, inputs)
}

/// A runner whose workspace is a shallow clone of `branch`.
fn runner_on(
    origin: &TestRepo,
    branch: &str,
    event: Value,
    sha: &str,
    inputs: &[(&str, &str)],
) -> Runner {
    let temp = tempfile::Builder::new()
        .prefix("eg-action-")
        .tempdir()
        .expect("temp");
    let workspace = shallow_checkout(origin, temp.path(), branch);
    let (_, mut defaults) = steps();
    for (k, v) in inputs {
        assert!(defaults.contains_key(*k), "no input {k}");
        defaults.insert(k.to_string(), v.to_string());
    }
    Runner {
        workspace,
        temp,
        event,
        event_name: "pull_request".to_string(),
        sha: sha.to_string(),
        inputs: defaults,
        // The discard port, closed: a test that posts without a server fails to.
        api_url: "http://127.0.0.1:9".to_string(),
        cache: Arc::new(CacheStore::new()),
    }
}

#[test]
fn pull_request_with_a_new_escape_fails_with_annotation_summary_and_outputs() {
    require_go();
    let (origin, merge_base, main_tip, feature) = origin();
    let runner = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[],
    );
    let run = runner.run();

    // A pull request from a fork: the findings cache is restored, never saved.
    assert_eq!(
        run.ran,
        vec!["install", "refs", "cache", "restore", "gate", "upload", "link"],
        "{run:#?}"
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains("escape-gate: using escape-gate "),
        "the binary on PATH is used: {run:#?}"
    );
    // The base is the merge-base, fetched into the shallow clone, not main's tip.
    assert_eq!(run.outputs["refs"]["base"], merge_base, "{run:#?}");
    assert_eq!(run.outputs["refs"]["head"], feature);

    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(
        errors,
        // The escape flow comes along (always, in the CI formats), the step on the
        // line the PR changed marked.
        vec!["::error file=a.go,line=14,col=2,title=escape-gate%3A new heap escape in Addr::moved to heap: x%0A    14 | x := a * 2%0Awhy:%0A  flow: ~r0 ← &x%0A  from &x (address-of) at a.go:15  [changed]%0A  from return &x (return) at a.go:15  [changed]"],
        "{}",
        run.stdout
    );

    assert!(
        run.summary
            .starts_with("### ❌ escape-gate: 1 new heap escape\n"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains(&format!(
            "| [`a.go:14:2`](https://github.com/acme/inventory/blob/{feature}/a.go#L14) | `Addr` | `moved to heap: x` |"
        )),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains(
            "**1 new, 0 fixed, 0 moved, 0 allowed heap escapes** · 1 of 1 package analysed"
        ),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains(&format!("base `{merge_base}`")),
        "{}",
        run.summary
    );

    let gate = &run.outputs["gate"];
    assert_eq!(gate["new-escapes"], "1");
    assert_eq!(
        gate["fixed-escapes"], "0",
        "main's own escape is not the PR's"
    );
    assert_eq!(gate["allowed-escapes"], "0");
}

/// The HTML page, uploaded as an artifact on a pull request from a fork (no write
/// token needed) and linked from the job summary; `html: false` makes none.
#[test]
fn the_html_report_is_an_artifact_linked_from_the_summary() {
    require_go();
    let (origin, _, main_tip, feature) = origin();
    let runner = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[],
    );
    let run = runner.run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.codes["upload"], 0, "{run:#?}");
    let page = fs::read_to_string(
        runner
            .artifacts()
            .join("escape-gate-report-escapes")
            .join("escape-gate-report.html"),
    )
    .expect("the uploaded page");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(
        page.contains(&format!(
            "href=\"https://github.com/acme/inventory/blob/{feature}/a.go#L14\"><code>a.go:14:2</code></a> in <code class=\"fn\">Addr</code>"
        )),
        "{page}"
    );
    assert!(page.contains("<mark>changed</mark>"), "{page}");
    assert!(
        run.summary.contains(
            "📄 **[The report as a page](https://github.com/acme/inventory/actions/runs/4242#artifacts)**"
        ),
        "{}",
        run.summary
    );
    assert!(run
        .summary
        .contains("(artifact `escape-gate-report-escapes`: open escape-gate-report.html from it)"));

    let off = runner_with_inputs_again(&origin, &main_tip, &feature, &[("html", "false")]);
    assert_eq!(off.code, 1, "{off:#?}");
    assert!(
        !off.ran.iter().any(|s| s == "upload" || s == "link"),
        "{off:#?}"
    );
    assert!(!off.summary.contains("📄"), "{}", off.summary);
}

fn runner_with_inputs_again(
    origin: &TestRepo,
    main_tip: &str,
    feature: &str,
    inputs: &[(&str, &str)],
) -> ActionRun {
    runner(
        origin,
        pull_request_event(main_tip, feature),
        feature,
        inputs,
    )
    .run()
}

#[test]
fn fail_on_new_false_reports_without_failing() {
    require_go();
    let (origin, _, main_tip, feature) = origin();
    let runner = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[("fail-on-new", "false"), ("args", "--show-fixed")],
    );
    let run = runner.run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.outputs["gate"]["new-escapes"], "1");
    assert!(
        run.stdout.contains("::error file=a.go,line=14,"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("not failing the step"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_base_fails_and_names_fetch_depth() {
    require_go();
    let (origin, _, _, feature) = origin();
    // A base commit origin does not have (a force-pushed-away base, or a wrong payload).
    let other = TestRepo::new();
    other.write("x", "x\n");
    let unknown = other.commit("elsewhere");
    let runner = runner(
        &origin,
        pull_request_event(&unknown, &feature),
        &feature,
        &[],
    );
    let run = runner.run();
    assert_eq!(
        run.ran,
        vec!["install", "refs"],
        "the gate never runs: {run:#?}"
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stdout
            .contains("::error title=escape-gate%3A base commit missing::"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fetch-depth: 0"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("the commit {unknown} is not in this clone")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("fetch-depth: 0"), "{}", run.stderr);
    assert!(
        run.outputs["refs"].is_empty(),
        "no base was chosen: {run:#?}"
    );
}

/// A pull request that accepts its own escape in its `.escape-gate.yml`: with the
/// default `config-from: head` the step passes but annotates the entry; with
/// `config-from: base` the base's rules fail it.
#[test]
fn config_from_chooses_whose_allowlist_rules() {
    require_go();
    let (origin, _, main_tip, _) = origin();
    origin.git(&["checkout", "-q", "feature"]);
    origin.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"**\"\n    reason: \"trust me\"\n",
    );
    let feature = origin.commit("accept it");
    origin.git(&["checkout", "-q", "main"]);

    let head_rules = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[],
    )
    .run();
    assert_eq!(head_rules.code, 0, "{head_rules:#?}");
    assert!(
        head_rules.stdout.contains(
            "::warning file=.escape-gate.yml,line=3,title=escape-gate%3A the head changes the allowlist::"
        ),
        "{}",
        head_rules.stdout
    );

    let base_rules = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[("config-from", "base")],
    )
    .run();
    assert_eq!(base_rules.code, 1, "{base_rules:#?}");
    assert_eq!(base_rules.outputs["gate"]["new-escapes"], "1");
    assert!(
        base_rules.stdout.contains("would allow 1 new heap escape"),
        "{}",
        base_rules.stdout
    );
}

#[test]
fn the_platforms_input_analyses_each_platform() {
    require_go();
    let (origin, _, main_tip, feature) = origin();
    let run = runner(
        &origin,
        pull_request_event(&main_tip, &feature),
        &feature,
        &[("platforms", "linux/amd64,linux/arm64")],
    )
    .run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.outputs["gate"]["new-escapes"], "1");
    assert!(
        run.stdout
            .contains("escape-gate%3A new heap escape in Addr [linux/amd64%2C linux/arm64]"),
        "{}",
        run.stdout
    );
    // A matrix job per platform list gets its own page, not the other job's.
    assert_eq!(
        run.outputs["gate"]["html-name"],
        "escape-gate-report-escapes-linux_amd64_linux_arm64"
    );
}

/// A runner whose comment step talks to `server`, with `comment: true`.
fn commenting_runner(
    origin: &TestRepo,
    server: &FakeGitHub,
    base_sha: &str,
    head_sha: &str,
    inputs: &[(&str, &str)],
) -> Runner {
    let mut all = vec![("comment", "true")];
    all.extend_from_slice(inputs);
    let mut runner = runner(
        origin,
        pull_request_event(base_sha, head_sha),
        head_sha,
        &all,
    );
    runner.api_url = server.url();
    runner
}

const MARKER: &str = "<!-- escape-gate comment . -->\n";

#[test]
fn the_comment_is_made_once_edited_in_place_and_left_alone_when_unchanged() {
    require_go();
    let (origin, _, main_tip, feature) = origin();
    let server = FakeGitHub::start();
    // Two pages of other comments, one of them someone else's with the marker.
    server.state.lock().expect("state").page_size = 2;
    server.add_comment("reviewer", "Looks good to me.");
    let forged = server.add_comment("mallory", &format!("{MARKER}nothing to see"));
    server.add_comment(ACTIONS_BOT, "Another workflow's comment.");
    server.add_comment("reviewer", "One more thing.");

    let first = commenting_runner(&origin, &server, &main_tip, &feature, &[]).run();
    assert_eq!(
        first.ran,
        ["install", "refs", "cache", "restore", "gate", "upload", "link", "comment"],
        "{first:#?}"
    );
    assert_eq!(first.code, 1, "the gate decides the job: {first:#?}");
    assert_eq!(first.codes["comment"], 0, "{first:#?}");
    let writes = server.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    let create = &writes[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/repos/acme/inventory/issues/7/comments");
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(create.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(create.header("x-github-api-version"), Some("2022-11-28"));
    let body = create.body_field();
    assert!(
        body.starts_with(&format!("{MARKER}### ❌ escape-gate: 1 new heap escape\n")),
        "{body}"
    );
    assert!(
        body.ends_with("</sub>\n\n📄 **[The report as a page](https://github.com/acme/inventory/actions/runs/4242#artifacts)**: each new escape with its source, its escape flow and the lines the change touched (artifact `escape-gate-report-escapes`: open escape-gate-report.html from it).\n"),
        "the comment links the HTML report: {body}"
    );
    assert!(
        body.contains(&format!(
            "| [`a.go:14:2`](https://github.com/acme/inventory/blob/{feature}/a.go#L14) | `Addr` | `moved to heap: x` |"
        )),
        "{body}"
    );
    // Every page was read (the second through the `Link` header's address).
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/repositories/1296269/issues/7/comments"),
        "{:#?}",
        server.requests()
    );
    assert!(
        first.stdout.contains(
            "escape-gate: commented on the pull request: https://github.com/acme/inventory/pull/7#issuecomment-"
        ),
        "{}",
        first.stdout
    );
    let ours = server
        .comments()
        .into_iter()
        .find(|c| c.login == ACTIONS_BOT && c.body.starts_with(MARKER))
        .expect("the comment");

    // The same report again: nothing is written.
    let again = commenting_runner(&origin, &server, &main_tip, &feature, &[]).run();
    assert_eq!(again.codes["comment"], 0, "{again:#?}");
    assert_eq!(server.writes().len(), 1, "{:#?}", server.writes());
    assert!(
        again
            .stdout
            .contains("escape-gate: the pull request comment is up to date"),
        "{}",
        again.stdout
    );

    // The escape fixed: the same comment now says so.
    origin.git(&["checkout", "-q", "feature"]);
    origin.write("a.go", A_GO);
    let fixed = origin.commit("fix");
    origin.git(&["checkout", "-q", "main"]);
    let third = commenting_runner(&origin, &server, &main_tip, &fixed, &[]).run();
    assert_eq!(third.code, 0, "{third:#?}");
    let writes = server.writes();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert_eq!(writes[1].method, "PATCH");
    assert_eq!(
        writes[1].path,
        format!("/repos/acme/inventory/issues/comments/{}", ours.id)
    );
    assert!(
        writes[1].body_field().starts_with(&format!(
            "{MARKER}### ✅ escape-gate: no new heap escapes\n"
        )),
        "{}",
        writes[1].body_field()
    );
    let comments = server.comments();
    assert_eq!(
        comments.len(),
        5,
        "one comment of ours, edited: {comments:#?}"
    );
    let forged = comments.iter().find(|c| c.id == forged).expect("kept");
    assert_eq!(
        forged.body,
        format!("{MARKER}nothing to see"),
        "never edited"
    );
}

#[test]
fn a_pull_request_that_changes_no_heap_escape_gets_no_comment() {
    require_go();
    let (origin, _, main_tip, _) = origin();
    origin.git(&["checkout", "-q", "feature"]);
    origin.write(
        "a.go",
        &A_GO.replace("// Local keeps", "// Local still keeps"),
    );
    let quiet = origin.commit("a comment");
    origin.git(&["checkout", "-q", "main"]);
    let server = FakeGitHub::start();
    let run = commenting_runner(&origin, &server, &main_tip, &quiet, &[]).run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(server.writes().is_empty(), "{:#?}", server.writes());
    assert!(
        run.stdout
            .contains("escape-gate: the pull request changes no heap escape; no comment"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_token_that_cannot_write_leaves_the_job_to_the_gate() {
    require_go();
    let (origin, _, main_tip, feature) = origin();

    // A pull request from a fork: a read-only token, 403 on the create.
    let server = FakeGitHub::start();
    server.state.lock().expect("state").read_only = true;
    let fork = commenting_runner(&origin, &server, &main_tip, &feature, &[]).run();
    assert_eq!(fork.code, 1, "the gate's verdict: {fork:#?}");
    assert_eq!(fork.codes["comment"], 0, "{fork:#?}");
    assert!(
        fork.stdout.contains(
            "::notice title=escape-gate::cannot create the pull request comment (HTTP 403: Resource not accessible by integration): the token cannot write to this pull request"
        ),
        "{}",
        fork.stdout
    );
    assert!(server.comments().is_empty());

    // The API failing: a warning, and with fail-on-new off the job passes.
    let broken = FakeGitHub::start();
    broken.state.lock().expect("state").list_status = Some(500);
    let run = commenting_runner(
        &origin,
        &broken,
        &main_tip,
        &feature,
        &[("fail-on-new", "false")],
    )
    .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains(
            "::warning title=escape-gate::cannot read the pull request comment (HTTP 500: Server Error)"
        ),
        "{}",
        run.stdout
    );
    assert!(broken.writes().is_empty());

    // An answer that is not JSON: the step still ends well, with a warning.
    let garbage = FakeGitHub::start();
    garbage.state.lock().expect("state").list_garbage = true;
    let run = commenting_runner(&origin, &garbage, &main_tip, &feature, &[]).run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.codes["comment"], 0, "{run:#?}");
    assert!(
        run.stdout.contains(
            "::warning title=escape-gate::the pull request comment could not be made (line "
        ),
        "{}",
        run.stdout
    );
    assert!(garbage.writes().is_empty());
}

#[test]
fn without_a_report_or_a_pull_request_nothing_is_posted() {
    require_go();
    let (origin, merge_base, main_tip, feature) = origin();
    let server = FakeGitHub::start();

    // The base cannot be found: the gate never runs, the comment step says why.
    let other = TestRepo::new();
    other.write("x", "x\n");
    let unknown = other.commit("elsewhere");
    let run = commenting_runner(&origin, &server, &unknown, &feature, &[]).run();
    assert_eq!(run.ran, ["install", "refs", "comment"], "{run:#?}");
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.codes["comment"], 0);
    assert!(
        run.stdout
            .contains("the pull request comment is left as it was"),
        "{}",
        run.stdout
    );

    // A push: no pull request to comment on.
    let mut push = commenting_runner(&origin, &server, &main_tip, &feature, &[]);
    push.event_name = "push".to_string();
    push.event = json!({
        "before": merge_base,
        "after": feature,
        "ref": "refs/heads/feature",
        "repository": {"full_name": "acme/inventory", "default_branch": "main"}
    });
    let run = push.run();
    assert_eq!(run.codes["comment"], 0, "{run:#?}");
    assert!(
        run.stdout
            .contains("escape-gate: no pull request to comment on (event push)"),
        "{}",
        run.stdout
    );
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
}

#[test]
fn a_long_report_is_cut_under_githubs_limit_and_points_at_the_job_summary() {
    require_go();
    // A feature that adds 1,500 heap escapes.
    let (repo, base) = TestRepo::go_module(&[("a.go", A_GO)]);
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let mut many = String::from("package m\n");
    for i in 0..1500 {
        many.push_str(&format!(
            "\nfunc Escape{i}(a int) *int {{\n\tv{i} := a\n\treturn &v{i}\n}}\n"
        ));
    }
    repo.write("many.go", &many);
    let feature = repo.commit("many escapes");
    repo.git(&["checkout", "-q", "main"]);

    let server = FakeGitHub::start();
    let run = commenting_runner(&repo, &server, &base, &feature, &[]).run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.outputs["gate"]["new-escapes"], "1500");
    let writes = server.writes();
    assert_eq!(writes.len(), 1, "the create succeeded: {}", run.stdout);
    let body = writes[0].body_field();
    assert!(
        body.chars().count() <= BODY_LIMIT,
        "{} characters",
        body.chars().count()
    );
    assert!(body.starts_with(MARKER), "{}", &body[..200]);
    let note = body
        .lines()
        .find(|l| l.starts_with("> **Truncated**"))
        .expect("a truncation note");
    assert!(
        note.contains(" new escapes")
            && note.contains(" not shown. ")
            && note.ends_with(
                "They are all in the [job summary](https://github.com/acme/inventory/actions/runs/4242)."
            ),
        "{note}"
    );
    // The job summary has more of them than the comment.
    let rows = |text: &str| text.lines().filter(|l| l.contains("| `Escape")).count();
    assert!(
        rows(&run.summary) > rows(&body),
        "{} vs {}",
        rows(&run.summary),
        rows(&body)
    );
}

/// A head that does not build: exit 2 with the compiler's errors in the log, an error
/// annotation of the Action's own (none made by setup-go's problem matcher from the
/// relayed errors: `run` checks every line), and no comment.
#[test]
fn a_head_that_does_not_build_is_an_annotated_exit_2() {
    require_go();
    let (origin, _, main_tip, _) = origin();
    origin.git(&["checkout", "-q", "feature"]);
    origin.write(
        "b.go",
        "package m\n\nfunc Broken() int { return missing }\n",
    );
    let broken = origin.commit("does not build");
    origin.git(&["checkout", "-q", "main"]);
    let server = FakeGitHub::start();
    let run = commenting_runner(&origin, &server, &main_tip, &broken, &[]).run();
    // No comparison, so no HTML report to upload.
    assert_eq!(
        run.ran,
        ["install", "refs", "cache", "restore", "gate", "comment"],
        "{run:#?}"
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stdout.contains(
            "::error title=escape-gate::could not compare the heap escapes (exit 2): the error and what to do are in this step's log"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("\n  b.go:3:28: undefined: missing\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("the pull request comment is left as it was"),
        "{}",
        run.stdout
    );
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
}

/// A pull request from a branch of the repository itself (not a fork).
fn same_repository_pull_request(number: u64, base_sha: &str, head_sha: &str) -> Value {
    let mut event = pull_request_event(base_sha, head_sha);
    event["number"] = json!(number);
    event["pull_request"]["number"] = json!(number);
    event["pull_request"]["head"]["label"] = json!("acme:feature");
    event["pull_request"]["head"]["repo"] = json!({"full_name": "acme/inventory", "fork": false});
    event
}

/// `go env GOVERSION` of the `go` the tests use.
fn go_version() -> String {
    let out = Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go env");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The JSON report of `escape-gate diff BASE HEAD` in `runner`'s workspace with the
/// findings cache `cache`: what the Action's gate step, which ran the same comparison
/// there with the same binary and the cache as restored, decided about each side.
fn report_with_cache(runner: &Runner, cache: &Path, base: &str, head: &str) -> Value {
    let out = crate::support::escape_gate()
        .env("ESCAPE_GATE_CACHE_DIR", cache)
        .args(["diff", "--format", "json", "--repo"])
        .arg(&runner.workspace)
        .args([base, head])
        .output()
        .expect("run escape-gate");
    let run = crate::support::Run::from_output(out);
    assert!(run.code == 0 || run.code == 1, "{run:#?}");
    run.json()
}

/// The findings cache across runs of one pull request: the first run saves it under
/// the base commit's tree; the second, after another push to the same base, restores
/// it and escape-gate reads the base side from it instead of building it again.
#[test]
fn a_second_run_on_the_same_base_reads_the_base_side_from_the_cache() {
    require_go();
    let (origin, merge_base, main_tip, feature) = origin();
    let store = Arc::new(CacheStore::new());

    let mut first = runner(
        &origin,
        same_repository_pull_request(9, &main_tip, &feature),
        &feature,
        &[],
    );
    first.cache = store.clone();
    let run = first.run();
    assert_eq!(
        run.ran,
        ["install", "refs", "cache", "restore", "gate", "save", "upload", "link"],
        "{run:#?}"
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.outputs["gate"]["new-escapes"], "1");
    // Nothing to restore yet.
    assert!(
        !run.outputs["restore"].contains_key("cache-matched-key"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Cache not found for input keys: "));

    // The key: the runner, escape-gate's and Go's versions, the base branch and the
    // base commit's tree, then this run.
    let tree = origin
        .git(&["rev-parse", &format!("{merge_base}^{{tree}}")])
        .trim()
        .to_string();
    let on_branch = format!(
        "escape-gate-findings-Linux-X64-{}-{}-main-",
        env!("CARGO_PKG_VERSION"),
        go_version()
    );
    let on_base = format!("{on_branch}{tree}-");
    let cache = &run.outputs["cache"];
    assert_eq!(cache["on-branch"], on_branch);
    assert_eq!(cache["on-base"], on_base);
    let key = cache["key"].clone();
    assert!(key.starts_with(&format!("{on_base}4242-1-")), "{key}");
    assert_eq!(cache["save"], "true");
    // The cache is escape-gate's own directory under the runner's temp dir, and the
    // gate step pointed escape-gate at it.
    let dir = first.temp.path().join("runner/escape-gate-findings-cache");
    assert_eq!(cache["dir"], dir.display().to_string());
    assert_eq!(run.outputs["gate"]["cache-written"], "true");
    let saved = store.saved();
    assert_eq!(saved.len(), 1, "{saved:#?}");
    assert_eq!(saved[0].key, key);
    assert_eq!(saved[0].scope, "refs/pull/9/merge");
    assert!(run.stdout.contains(&format!("Cache saved with key: {key}")));
    // What was saved is escape-gate's cache and nothing else.
    let fresh = tempfile::tempdir().expect("temp");
    store.extract(&key, fresh.path());
    let mut names: Vec<String> = fs::read_dir(fresh.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["findings-v2"]);
    // The run started with nothing: neither side came from the cache.
    let empty = tempfile::tempdir().expect("temp");
    let report = report_with_cache(&first, empty.path(), &merge_base, &feature);
    assert_eq!(
        report["summary"]["base"]["cached"],
        json!(false),
        "{report:#}"
    );

    // Another push to the pull request, in the same package: a new head, the same base.
    origin.git(&["checkout", "-q", "feature"]);
    origin.write(
        "a.go",
        &fs::read_to_string(origin.path().join("a.go"))
            .expect("a.go")
            .replace("// Local keeps", "// Local, still, keeps"),
    );
    let second_head = origin.commit("reword a comment");
    origin.git(&["checkout", "-q", "main"]);

    let mut second = runner(
        &origin,
        same_repository_pull_request(9, &main_tip, &second_head),
        &second_head,
        &[],
    );
    second.cache = store.clone();
    let run = second.run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.outputs["refs"]["base"], merge_base);
    assert_eq!(run.outputs["gate"]["new-escapes"], "1");
    // Restored by the first restore key (same base), not an exact hit: every run's
    // key is its own.
    let restore = &run.outputs["restore"];
    assert_eq!(restore["cache-matched-key"], key, "{run:#?}");
    assert_eq!(restore["cache-hit"], "false");
    assert!(run
        .stdout
        .contains(&format!("Cache restored from key: {key}")));
    // The gate step began with the restored cache and added the new head's entry.
    assert!(
        run.stdout
            .contains("escape-gate: findings cache: 2 entries before the comparison, 3 after it"),
        "{}",
        run.stdout
    );
    // escape-gate, with the cache as restored, reads the base side from it and
    // analyses only the new head.
    let restored = tempfile::tempdir().expect("temp");
    store.extract(&key, restored.path());
    let report = report_with_cache(&second, restored.path(), &merge_base, &second_head);
    assert_eq!(
        report["summary"]["base"]["commit"],
        json!(merge_base),
        "{report:#}"
    );
    assert_base_from_the_cache(&report);
    assert_eq!(report["summary"]["new"], json!(1), "{report:#}");
    // It added to the cache, so it saved it again, under a key of its own.
    let saved = store.saved();
    assert_eq!(saved.len(), 2, "{saved:#?}");
    assert_ne!(saved[1].key, key);
    assert!(saved[1].key.starts_with(&on_base), "{}", saved[1].key);

    // With `cache: false` none of it: no key, no restore, no save.
    let mut off = runner(
        &origin,
        same_repository_pull_request(9, &main_tip, &second_head),
        &second_head,
        &[("cache", "false")],
    );
    off.cache = store.clone();
    let run = off.run();
    assert_eq!(
        run.ran,
        ["install", "refs", "gate", "upload", "link"],
        "{run:#?}"
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(!off
        .temp
        .path()
        .join("runner/escape-gate-findings-cache")
        .exists());
    assert_eq!(store.saved().len(), 2);
}

/// A push to main fills main's cache; a pull request from a fork against main
/// restores it (its base side is a hit) and never saves, though it added entries.
#[test]
fn a_fork_restores_the_cache_of_its_base_branch_and_never_saves() {
    require_go();
    let (origin, merge_base, main_tip, feature) = origin();
    let store = Arc::new(CacheStore::new());

    // The push of main's tip: compared with the previous tip, the merge-base.
    let mut push = runner_on(
        &origin,
        "main",
        json!({
            "before": merge_base,
            "after": main_tip,
            "ref": "refs/heads/main",
            "repository": {"full_name": "acme/inventory", "default_branch": "main"}
        }),
        &main_tip,
        &[],
    );
    push.event_name = "push".to_string();
    push.cache = store.clone();
    let run = push.run();
    // main's tip adds an escape of its own: the gate fails, and the cache is saved
    // all the same (what it holds is right either way).
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.ran,
        ["install", "refs", "cache", "restore", "gate", "save", "upload", "link"],
        "{run:#?}"
    );
    let main_key = run.outputs["cache"]["key"].clone();
    let saved = store.saved();
    assert_eq!(saved.len(), 1, "{saved:#?}");
    assert_eq!(saved[0].scope, "refs/heads/main");

    // main moves on again: a newer entry of the branch, for another base.
    origin.write(
        "more.go",
        "package m\n\n// More is on main only.\nfunc More() int { return 1 }\n",
    );
    let newer_tip = origin.commit("main moves on again");
    let mut push = runner_on(
        &origin,
        "main",
        json!({
            "before": main_tip,
            "after": newer_tip,
            "ref": "refs/heads/main",
            "repository": {"full_name": "acme/inventory", "default_branch": "main"}
        }),
        &newer_tip,
        &[],
    );
    push.event_name = "push".to_string();
    push.cache = store.clone();
    let run = push.run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.outputs["refs"]["base"], main_tip);
    // Nothing for this base yet: the branch's newest entry is a near hit.
    assert_eq!(run.outputs["restore"]["cache-matched-key"], main_key);
    assert_eq!(store.saved().len(), 2, "{:#?}", store.saved());

    // A fork's pull request #8, based on the same commit.
    let mut fork = runner(
        &origin,
        {
            let mut event = pull_request_event(&main_tip, &feature);
            event["number"] = json!(8);
            event["pull_request"]["number"] = json!(8);
            event
        },
        &feature,
        &[],
    );
    fork.cache = store.clone();
    let run = fork.run();
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.ran,
        ["install", "refs", "cache", "restore", "gate", "upload", "link"],
        "restored, never saved: {run:#?}"
    );
    assert!(
        run.stdout.contains(
            "escape-gate: a pull request from a fork: the findings cache is restored, never saved"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.outputs["cache"]["save"], "false");
    // From main's scope, by the same base's restore key: the entry for its base, not
    // the branch's newest.
    assert_eq!(run.outputs["restore"]["cache-matched-key"], main_key);
    // It did add the head's entry; it is not saved all the same.
    assert_eq!(run.outputs["gate"]["cache-written"], "true");
    assert_eq!(store.saved().len(), 2, "{:#?}", store.saved());
    // And the base side was read from main's cache.
    let restored = tempfile::tempdir().expect("temp");
    store.extract(&main_key, restored.path());
    let report = report_with_cache(&fork, restored.path(), &merge_base, &feature);
    assert_base_from_the_cache(&report);
}

/// The report read its base side from the findings cache and analysed its head.
#[track_caller]
fn assert_base_from_the_cache(report: &serde_json::Value) {
    assert_eq!(
        report["summary"]["base"]["cached"],
        json!(true),
        "{report:#}"
    );
    assert_eq!(
        report["summary"]["head"]["cached"],
        json!(false),
        "{report:#}"
    );
}

/// `stale-entries: true` on a push to the default branch lists the entries it no
/// longer needs (the change that brought their escape has merged), with why, as a
/// warning and in the job summary, without failing; on a pull request it does nothing.
#[test]
fn stale_entries_are_reported_on_a_push_to_the_default_branch() {
    require_go();
    let (origin, _) = TestRepo::go_module(&[(
        "p/p.go",
        "package p\n\n// Keep returns n.\nfunc Keep(n int) int {\n\treturn n\n}\n",
    )]);
    origin.write(
        "p/p.go",
        "package p\n\nvar sink *int\n\n// Keep keeps n.\nfunc Keep(n int) int {\n\tx := n\n\tsink = &x\n\treturn x\n}\n",
    );
    origin.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: p/p.go\n    function: Keep\n    reason: the caller keeps it\n",
    );
    let merged = origin.commit("Keep keeps n (merged pull request)");
    origin.write("NOTES.md", "notes\n");
    let tip = origin.commit("notes");
    let event = json!({
        "ref": "refs/heads/main",
        "before": merged,
        "after": tip,
        "repository": {"full_name": "acme/inventory", "default_branch": "main"},
    });
    let mut runner = runner_on(&origin, "main", event, &tip, &[("stale-entries", "true")]);
    runner.event_name = "push".to_string();
    let run = runner.run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.outputs["stale"]["stale-entries"], "1", "{run:#?}");
    assert!(
        run.stdout.contains("would remove 1 stale entry from .escape-gate.yml")
            && run.stdout.contains("why: the base already has its escape and is on origin/main: the change that added it has merged"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l.starts_with(
            "::warning title=escape-gate%3A stale allowlist entries::allowlist entries no longer needed on main: 1;"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.summary
            .contains("### escape-gate: allowlist entries main no longer needs")
            && run
                .summary
                .contains("    .escape-gate.yml:3: path \"p/p.go\", function \"Keep\""),
        "{}",
        run.summary
    );

    // On a pull request the step says why it does nothing.
    let pr = runner_on(
        &origin,
        "main",
        pull_request_event(&merged, &tip),
        &tip,
        &[("stale-entries", "true")],
    );
    let run = pr.run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout
            .contains("stale-entries reports on a push to the default branch only"),
        "{}",
        run.stdout
    );
}
