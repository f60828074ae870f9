//! The README and `docs/` say what the tool does today: the README's sample failing run
//! and the reference's sample JSON report are what `escape-gate demo` prints (the report
//! is also valid against the schema), the README's workflow is
//! `examples/escape-gate.yml`, every command is documented, the README's first screen
//! gets a new user to a first result with two commands, the README stays a front page,
//! and every relative link of the README and `docs/` leads somewhere.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::schemas::fenced_blocks;
use crate::support::{escape_gate, normalise_machine, Run};

const README: &str = include_str!("../README.md");
const REFERENCE: &str = include_str!("../docs/reference.md");

fn demo(args: &[&str]) -> Run {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let run = Run::from_output(escape_gate().args(&all).output().expect("run demo"));
    run.assert_code(0);
    run
}

/// `go1.26` of the first `go1.26.8` in `text`.
fn go_minor(text: &str) -> String {
    let re = regex::Regex::new(r"go1\.\d+").expect("regex");
    re.find(text)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default()
}

/// The first fenced block of `lang` after `marker` in `doc`.
fn block_in(doc: &str, marker: &str, lang: &str) -> String {
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("the document has {marker:?}"));
    fenced_blocks(&doc[at..], lang)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("a ```{lang} block after {marker:?}"))
}

/// The first fenced block of `lang` after `marker` in the README.
fn block_after(marker: &str, lang: &str) -> String {
    block_in(README, marker, lang)
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
    let (sample, report) = (normalise_machine(&sample), normalise_machine(report));
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
    let sample: Value = serde_json::from_str(&block_in(REFERENCE, "A whole report:", "json"))
        .expect("the sample is JSON");
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
        assert_eq!(
            sample, actual,
            "update docs/reference.md's sample JSON report"
        );
    } else {
        // Another Go release: the same new escape and counts, other unchanged ones.
        assert_eq!(
            sample["new"], actual["new"],
            "update docs/reference.md's sample"
        );
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
    let all: String = documents().into_iter().map(|(_, text)| text).collect();
    for command in commands {
        assert!(
            all.contains(&format!("escape-gate {command}")),
            "neither the README nor docs/ mention `escape-gate {command}`"
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

/// The README is a front page; the rest is in `docs/`.
#[test]
fn the_readme_fits_on_a_few_screens() {
    let lines = README.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines: move the detail to docs/ (guide, reference, security, \
         architecture, contributing) and link to it"
    );
}

/// README.md and every `docs/*.md`, read from the source tree, with their paths.
fn documents() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    let mut in_docs: Vec<PathBuf> = docs
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    in_docs.sort();
    paths.extend(in_docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, text)
        })
        .collect()
}

/// The lines of `markdown` outside fenced code blocks, with their 1-based numbers.
fn prose_lines(markdown: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (n, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((n + 1, line));
        }
    }
    lines
}

/// The anchors GitHub gives the headings of `markdown`: lower case, punctuation other
/// than `-` and `_` dropped, spaces as `-`, and `-1`, `-2`, ... after a repeated one.
fn heading_anchors(markdown: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (_, line) in prose_lines(markdown) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        let anchor = if *count == 0 {
            slug.clone()
        } else {
            format!("{slug}-{count}")
        };
        *count += 1;
        anchors.insert(anchor);
    }
    anchors
}

#[test]
fn heading_anchors_follow_githubs_rules() {
    let anchors = heading_anchors(
        "# Guide\n## JSON output (`--format json`), schema version 2\n## Use\n### Use\n\
         ```sh\n# not a heading\n```\n## A shared build cache (GOCACHEPROG)\n#hashtag\n",
    );
    let mut anchors: Vec<&str> = anchors.iter().map(String::as_str).collect();
    anchors.sort_unstable();
    assert_eq!(
        anchors,
        [
            "a-shared-build-cache-gocacheprog",
            "guide",
            "json-output---format-json-schema-version-2",
            "use",
            "use-1",
        ]
    );
}

/// Every relative link of the README and `docs/` names a file of the repository, and
/// its `#anchor`, if any, a heading of that file (as GitHub makes anchors).
#[test]
fn every_relative_link_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let link = regex::Regex::new(r"\]\(([^()\s]+)\)").expect("regex");
    let code = regex::Regex::new(r"`[^`]*`").expect("regex");
    let mut broken = Vec::new();
    let mut checked = 0;
    for (path, text) in documents() {
        let dir = path.parent().expect("a directory");
        let name = path
            .strip_prefix(root)
            .expect("in the repository")
            .display();
        for (n, line) in prose_lines(&text) {
            let line = code.replace_all(line, "");
            for target in link.captures_iter(&line).map(|c| c[1].to_string()) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target.as_str(), None),
                };
                let linked = if file.is_empty() {
                    path.clone()
                } else {
                    dir.join(file)
                };
                if !linked.exists() {
                    broken.push(format!("{name}:{n}: {target}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                let Ok(markdown) = std::fs::read_to_string(&linked) else {
                    broken.push(format!("{name}:{n}: {target}: not a readable file"));
                    continue;
                };
                if !heading_anchors(&markdown).contains(anchor) {
                    broken.push(format!("{name}:{n}: {target}: no heading #{anchor}"));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} relative links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The supported Go versions are listed once, in `.ci/go-versions.txt` (which
/// `.ci/go-versions` runs): the reference states its range, CI tests its oldest and
/// newest, and the parser has captured output of each of them and of no other.
#[test]
fn the_supported_go_versions_are_listed_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = std::fs::read_to_string(root.join(".ci/go-versions.txt")).expect("the list");
    let minors: Vec<String> = list
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|version| {
            let mut parts = version.trim().split('.');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("1"), Some(minor), Some(_)) => format!("1.{minor}"),
                _ => panic!("{version:?} is not a Go release 1.N.P"),
            }
        })
        .collect();
    let (oldest, newest) = match minors.as_slice() {
        [first, .., last] => (first, last),
        _ => panic!("at least two Go versions: {minors:?}"),
    };

    assert!(
        REFERENCE.contains(&format!("escape-gate supports Go {oldest} to {newest}")),
        "docs/reference.md's Go versions say Go {oldest} to {newest}"
    );
    let range = regex::Regex::new(r"Go 1\.\d+ to 1\.\d+").expect("regex");
    for (path, text) in documents() {
        let ranges = range.find_iter(&text).count();
        let allowed = usize::from(path.ends_with("docs/reference.md"));
        assert_eq!(
            ranges,
            allowed,
            "{}: link to the reference's Go versions instead of stating the range",
            path.display()
        );
    }

    let ci = std::fs::read_to_string(root.join(".github/workflows/ci.yml")).expect("ci.yml");
    for minor in [oldest, newest] {
        assert!(
            ci.contains(&format!("go: \"{minor}\"")),
            "ci.yml tests Go {minor}"
        );
    }

    let fixtures = std::fs::read_dir(root.join("tests/fixtures/go-output")).expect("fixtures");
    let mut captured: Vec<String> = fixtures
        .filter_map(|entry| {
            let name = entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("utf-8");
            let minor = name.strip_prefix("m1-go")?.strip_suffix(".txt")?;
            Some(minor.to_string())
        })
        .collect();
    captured.sort_by_key(|minor| {
        minor
            .split('.')
            .map(|n| n.parse::<u32>().expect("a number"))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        captured, minors,
        "tests/fixtures/go-output/m1-go1.N.txt for each version of .ci/go-versions.txt"
    );
}
