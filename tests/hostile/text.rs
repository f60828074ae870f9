//! Hostile input: text that becomes a command. What a pull request writes (source
//! lines, file names, allowlist reasons and keys) and what the compiler says about it
//! is relayed inert: no workflow command in a GitHub Actions log, no terminal control or
//! bidirectional character, no line of a secret file outside the checkout, no mention
//! in the Markdown report.

use crate::support::{Run, Sentinel, TestRepo};

const BASE_GO: &str = "package m\n\nvar sink any\n";

/// Runs `args` in `repo` as a GitHub Actions step would; checks that the repository
/// and `sentinel` are untouched.
fn run_in_actions(repo: &TestRepo, sentinel: &Sentinel, args: &[&str]) -> Run {
    let before = sentinel.snapshot();
    let run = repo.run_untouched_with(args, |cmd| {
        cmd.env("GITHUB_ACTIONS", "true");
    });
    sentinel.assert_unchanged(&before, &run);
    run
}

/// Asserts that the runner would execute no command from `text` but the stop and
/// resume lines, which must come first and last with one token.
#[track_caller]
fn assert_inert_stopped(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.first().copied().unwrap_or_default();
    let token = first
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("the error starts with stop-commands:\n{text}"));
    assert!(
        token.starts_with("escape-gate-") && token.len() > 20,
        "{token}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(format!("::{token}::").as_str()),
        "{text}"
    );
    for line in &lines[1..lines.len() - 1] {
        assert!(
            !line.trim_start().starts_with("::") && !line.contains("##["),
            "a workflow command in the log: {line:?}\n{text}"
        );
    }
}

/// Asserts that no line of `text` is a workflow command.
#[track_caller]
fn assert_no_command(text: &str) {
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("::") && !line.contains("##["),
            "a workflow command: {line:?}\n{text}"
        );
    }
}

#[test]
fn compiler_errors_relayed_under_github_actions_cannot_be_commands() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "e.go",
        "package m\n\nimport _ \"embed\"\n\n//go:embed \"zz\\n::add-mask::ghp_\\n::error file=README.md,line=1,title=escape-gate::forged\\n  ##[error]old form\\n::stop-commands::x\"\nvar s string\n",
    );
    let head = repo.commit("an embed pattern holding commands");
    let run = run_in_actions(&repo, &sentinel, &["diff", &base, &head]);
    run.assert_code(2);
    assert!(run.stderr.contains("does not build"), "{}", run.stderr);
    // The text is still there for the reader, inert.
    assert!(
        run.stderr.contains("\\u{3a}:add-mask::ghp_") || run.stderr.contains("add-mask"),
        "{}",
        run.stderr
    );
    assert_inert_stopped(&run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn an_allowlist_key_holding_commands_is_inert_in_the_error() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        ".escape-gate.yml",
        "version: 1\n\"x\\n::error file=a.go,line=1::forged\\n##[add-mask]y\": 1\n",
    );
    let head = repo.commit("an unknown key holding commands");
    let run = run_in_actions(&repo, &sentinel, &["diff", &base, &head]);
    run.assert_code(2);
    assert!(run.stderr.contains("unknown field"), "{}", run.stderr);
    assert_inert_stopped(&run.stderr);
    // Outside GitHub Actions there is no stop block, and still no command.
    let plain = repo.run_untouched(&["diff", &base, &head]);
    plain.assert_code(2);
    assert!(plain.stderr.starts_with("error: "), "{}", plain.stderr);
    assert_no_command(&plain.stderr);
}

#[test]
fn a_source_line_holding_commands_is_inert_in_every_text_format() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "b.go",
        "package m\n\n// F keeps its string.\nfunc F() {\n\ts := `##[add-mask]x`\n\tsink = &s\n}\n",
    );
    let head = repo.commit("a source line holding a command");
    for format in ["text", "markdown", "json", "sarif"] {
        let run = run_in_actions(
            &repo,
            &sentinel,
            &["diff", "--format", format, &base, &head],
        );
        run.assert_code(1);
        assert_no_command(&run.stdout);
        if format == "text" || format == "json" {
            assert!(run.stdout.contains("add-mask"), "{format}: {}", run.stdout);
        }
    }
    let json = repo
        .run_untouched(&["diff", "--format", "json", &base, &head])
        .json();
    assert_eq!(json["new"][0]["source"], "s := `##[add-mask]x`");
    let list = run_in_actions(&repo, &sentinel, &["list", &head]);
    list.assert_code(0);
    assert_no_command(&list.stdout);
    let explain = run_in_actions(&repo, &sentinel, &["explain", "b.go:5", &head]);
    explain.assert_code(0);
    assert_no_command(&explain.stdout);
    assert!(
        explain.stdout.contains("##\\u{5b}add-mask]x"),
        "{}",
        explain.stdout
    );
}

#[test]
fn gcc_errors_about_a_file_outside_the_checkout_do_not_quote_it() {
    let sentinel = Sentinel::new();
    let secret = sentinel.path().join("sub/runner.env");
    std::fs::write(&secret, "RUNNER_SECRET=abc123xyz\n").expect("write secret");
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "p/p.go",
        &format!(
            "package p\n\n// #include \"{}\"\nimport \"C\"\n\n// F is here.\nfunc F() {{}}\n",
            secret.display()
        ),
    );
    let head = repo.commit("cgo includes a file of the runner");
    let before = sentinel.snapshot();
    let run = repo.run_untouched_with(&["diff", &base, &head], |cmd| {
        cmd.env("CGO_ENABLED", "1");
    });
    sentinel.assert_unchanged(&before, &run);
    run.assert_code(2);
    assert!(run.stderr.contains("does not build"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{}: outside the repository; what the compiler said about it is not shown",
            secret.display()
        )) || run.stderr.contains(
            "runner.env: outside the repository; what the compiler said about it is not shown"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("RUNNER_SECRET"), "{}", run.stderr);
    assert!(!run.stderr.contains("abc123xyz"), "{}", run.stderr);
}

/// A reason that clears the screen and forges the verdict, a source line holding ESC
/// and a right-to-left override, and a second escape no entry allows.
fn terminal_repo() -> (TestRepo, String, String) {
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        "t.go",
        "package m\n\n// T keeps its string.\nfunc T() {\n\ts := `\u{1b}[2J\u{1b}[H\u{202e}gnp.exe`\n\tsink = &s\n}\n\n// U keeps its int.\nfunc U(v int) {\n\tx := v\n\tsink = &x\n}\n",
    );
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: t.go\n    function: T\n    reason: \"\\e[2J\\e[H\\nok: no new heap escapes\"\n",
    );
    let head = repo.commit("terminal control in a reason and a source line");
    (repo, base, head)
}

#[track_caller]
fn assert_no_control(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || c == '\t' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{c:?} printed raw:\n{text}"
        );
    }
}

#[test]
fn terminal_control_and_bidi_characters_are_escaped_in_every_text_format() {
    let sentinel = Sentinel::new();
    let (repo, base, head) = terminal_repo();
    let diff = run_in_actions(&repo, &sentinel, &["diff", &base, &head]);
    diff.assert_code(1);
    assert_no_control(&diff.stdout);
    assert!(
        !diff.stdout.lines().any(|l| l.starts_with("ok:")),
        "a forged verdict line:\n{}",
        diff.stdout
    );
    assert!(
        diff.stdout
            .contains("\\u{1b}[2J\\u{1b}[H\\nok: no new heap escapes"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("\\u{202e}gnp.exe"), "{}", diff.stdout);
    for args in [
        vec!["diff", "--format", "github", &base, &head],
        vec!["diff", "--format", "markdown", &base, &head],
        vec!["diff", "--explain", &base, &head],
    ] {
        let run = run_in_actions(&repo, &sentinel, &args);
        run.assert_code(1);
        assert_no_control(&run.stdout);
    }
    let list = run_in_actions(&repo, &sentinel, &["list", &head]);
    list.assert_code(0);
    assert_no_control(&list.stdout);
    assert_no_control(&list.stderr);
    let explain = run_in_actions(&repo, &sentinel, &["explain", "t.go:5", &head]);
    explain.assert_code(0);
    assert_no_control(&explain.stdout);
    assert!(explain.stdout.contains("\\u{202e}"), "{}", explain.stdout);
}

#[test]
fn the_markdown_report_mentions_nobody() {
    let sentinel = Sentinel::new();
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let leak = "package m\n\n// L keeps its int.\nfunc L(v int) {\n\tx := v\n\tsink = &x\n}\n";
    repo.write("c@octocat.go", leak);
    repo.write(
        "d.go",
        &leak
            .replace("L keeps", "D keeps")
            .replace("func L", "func D"),
    );
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: d.go\n    reason: \"ok @octo-org/security-team please merge, see https://evil.example/x\"\n",
    );
    let head = repo.commit("mentions in a file name and a reason");
    let run = run_in_actions(
        &repo,
        &sentinel,
        &["diff", "--format", "markdown", &base, &head],
    );
    run.assert_code(1);
    let doc = &run.stdout;
    assert!(doc.contains("octo-org/security-team"), "{doc}");
    assert!(doc.contains("octocat"), "{doc}");
    // Every `@name` is inside a code block or a code span (an odd number of backticks
    // before it on its line: every span here is fenced with one), or broken by a word
    // joiner.
    let mut in_block = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        for (i, _) in line.match_indices('@') {
            let inside = line[..i].matches('`').count() % 2 == 1;
            let broken = line[i + 1..].starts_with('\u{2060}');
            assert!(inside || broken, "a mention: {line}");
        }
        for (i, _) in line.match_indices("https://evil") {
            assert!(line[..i].matches('`').count() % 2 == 1, "a link: {line}");
        }
    }
}

#[test]
fn gcc_warnings_in_a_build_that_succeeds_do_not_quote_a_file_outside() {
    let sentinel = Sentinel::new();
    let secret = sentinel.path().join("sub/runner.env");
    std::fs::write(&secret, "RUNNER_SECRET=abc123xyz\n").expect("write secret");
    let repo = TestRepo::go_module(&[("a.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    // `#line` makes gcc report (and quote) the warning as if it were in that file.
    repo.write(
        "p/p.go",
        &format!(
            "package p\n\n// #line 1 \"{}\"\n// #warning hello\nimport \"C\"\n\n// F is here.\nfunc F() {{}}\n",
            secret.display()
        ),
    );
    let head = repo.commit("cgo warns in a file of the runner");
    for format in ["text", "github", "markdown", "json", "sarif"] {
        let before = sentinel.snapshot();
        let run = repo.run_untouched_with(&["diff", "--format", format, &base, &head], |cmd| {
            cmd.env("CGO_ENABLED", "1");
        });
        sentinel.assert_unchanged(&before, &run);
        run.assert_code(0);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(!all.contains("RUNNER_SECRET"), "{format}: {all}");
        assert!(!all.contains("abc123xyz"), "{format}: {all}");
        if format == "text" {
            assert!(
                all.contains("runner.env: outside the repository"),
                "{format}: {all}"
            );
        }
    }
}
