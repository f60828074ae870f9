//! `escape-gate completions SHELL` and `escape-gate man`: generated from the command
//! line's definitions. The bash script is run by bash (it completes subcommands, their
//! options and option values); the others are checked for what each shell needs; the
//! manual pages are rendered by man(1) when it is installed.

use std::fs;
use std::process::Command;

use crate::support::{escape_gate, Run};

fn run(args: &[&str]) -> Run {
    Run::from_output(escape_gate().args(args).output().expect("run escape-gate"))
}

/// What bash completes for the words of `line` (the last one being typed).
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("escape-gate.bash");
    fs::write(&path, script).expect("write");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let n = words.len() - 1;
    let prev = if n == 0 { "" } else { words[n - 1] };
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={n}\n_escape__gate escape-gate '{}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        path.display(),
        quoted.join(" "),
        words[n],
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_options_and_values() {
    let script = run(&["completions", "bash"]).assert_code(0).stdout.clone();
    let syntax = Command::new("bash")
        .args(["--noprofile", "--norc", "-n", "-c", &script])
        .output()
        .expect("bash -n");
    assert!(syntax.status.success(), "{syntax:?}");

    assert_eq!(
        bash_completes(&script, &["escape-gate", "in"]),
        ["install-hook", "init"]
    );
    // After a subcommand: the bug clap_complete has with a hyphen in the name.
    assert_eq!(
        bash_completes(&script, &["escape-gate", "diff", "--for"]),
        ["--format"]
    );
    assert_eq!(
        bash_completes(&script, &["escape-gate", "diff", "--format", ""]),
        crate::support::formats()
    );
    assert_eq!(
        bash_completes(&script, &["escape-gate", "diff", "--config-from", ""]),
        ["head", "base"]
    );
    let init = bash_completes(&script, &["escape-gate", "init", "--"]);
    assert!(init.contains(&"--force".to_string()), "{init:?}");
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    let markers = [
        ("zsh", "#compdef escape-gate"),
        ("fish", "complete -c escape-gate"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'escape-gate'",
        ),
        ("elvish", "set edit:completion:arg-completer[escape-gate]"),
    ];
    for (shell, marker) in markers {
        let run = run(&["completions", shell]);
        run.assert_code(0);
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        for command in [
            "diff",
            "list",
            "allow",
            "init",
            "completions",
            "man",
            "config-from",
        ] {
            assert!(run.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let bad = run(&["completions", "tcsh"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("possible values"), "{}", bad.stderr);
}

#[test]
fn manual_pages_for_the_tool_and_each_command() {
    let page = run(&["man"]).assert_code(0).stdout.clone();
    assert!(page.contains(".TH escape-gate 1"), "{page}");
    assert!(
        page.contains("Exit codes"),
        "the long help is the description"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("man1");
    let run = run(&["man", "--dir", out.to_str().expect("utf-8")]);
    run.assert_code(0);
    let mut names: Vec<String> = fs::read_dir(&out)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in [
        "escape-gate.1",
        "escape-gate-diff.1",
        "escape-gate-allow.1",
        "escape-gate-init.1",
        "escape-gate-completions.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let diff = fs::read_to_string(out.join("escape-gate-diff.1")).expect("read");
    assert!(diff.contains("config\\-from"), "{diff}");

    // Rendered the way a user reads it, where man(1) is installed (CI's Linux has it).
    if Command::new("man").arg("--version").output().is_ok() {
        let rendered = Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(out.join("escape-gate-diff.1"))
            .env("MANWIDTH", "80")
            .output()
            .expect("man");
        assert!(rendered.status.success(), "{rendered:?}");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("--config-from"), "{text}");
    }
}
