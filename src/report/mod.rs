//! The "Report" stage: an [`Outcome`] in, bytes on a writer out. Each format is a
//! function of the outcome and a `&mut dyn Write`, so tests render into a `Vec<u8>`.
//!
//! The formats for GitHub also need to know where they run (the repository's web
//! address for links, the runner's summary and output files): that is a [`Ci`], read
//! from the environment once by the command and passed in, so the reporters stay pure.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::gate::Outcome;
use crate::inert;

pub mod config_changes;
pub mod github;
pub mod html;
pub mod json;
pub mod list;
pub mod markdown;
pub mod problem_matcher;
pub mod sarif;
pub mod text;
pub mod words;

/// Output formats of `escape-gate diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: each new escape with its source line, then a diff of the escape listings.
    Text,
    /// For programs: one JSON object, schema in schema/report.schema.json.
    Json,
    /// For GitHub Actions: an error annotation per new escape (changed lines first), the
    /// job summary in $GITHUB_STEP_SUMMARY and step outputs in $GITHUB_OUTPUT.
    Github,
    /// SARIF 2.1.0, for code scanning (github/codeql-action/upload-sarif).
    Sarif,
    /// Markdown, the job summary's content, for a pull request comment (under 64 KB).
    Markdown,
    /// One self-contained HTML page (no network needed) showing each new escape with
    /// its source, its escape flow and the lines the change touched.
    Html,
}

impl Format {
    /// Whether the format always carries each new escape's explanation (`--explain`):
    /// the reader of an annotation, a code-scanning alert or a comment cannot run
    /// `--explain` themselves.
    pub fn always_explains(self) -> bool {
        match self {
            Format::Github | Format::Sarif | Format::Markdown | Format::Html => true,
            Format::Text | Format::Json => false,
        }
    }

    /// The names of the formats that always explain, for the help of `--explain`:
    /// their names as a list, "a, b and c".
    pub fn always_explaining() -> String {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter(|format| format.always_explains())
            .filter_map(|format| format.to_possible_value())
            .map(|value| value.get_name().to_string())
            .collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Whether the format shows the head's source around each new escape and on its
    /// flow steps ([`crate::gate::Outcome::excerpts`]).
    pub fn shows_source(self) -> bool {
        match self {
            Format::Html => true,
            Format::Text | Format::Json | Format::Github | Format::Sarif | Format::Markdown => {
                false
            }
        }
    }
}

/// Output formats of `escape-gate list` and `escape-gate explain`, which have no
/// comparison to annotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Findings grouped by package and function.
    Text,
    /// One JSON object: the revision, the Go version and the findings, each a Finding
    /// of schema/report.schema.json (docs/reference.md lists the fields).
    Json,
}

/// How a report is rendered, beyond the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colour (only on a terminal, never with NO_COLOR).
    pub color: bool,
    /// List fixed escapes too.
    pub show_fixed: bool,
}

/// Where a report for GitHub is going: the values GitHub Actions puts in the
/// environment, each optional so the same formats work outside Actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ci {
    /// `GITHUB_SERVER_URL`, e.g. `https://github.com`.
    pub server_url: Option<String>,
    /// `GITHUB_REPOSITORY`, `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_STEP_SUMMARY`: the Markdown summary is appended here.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_OUTPUT`: step outputs are appended here.
    pub output: Option<PathBuf>,
    /// Where the repository's root is below `GITHUB_WORKSPACE` (`""` when it is the
    /// workspace itself, as with a plain `actions/checkout`). The runner resolves an
    /// annotation's relative `file` against the workspace, so repository-relative paths
    /// get this prefix.
    pub workspace_prefix: String,
}

impl Ci {
    /// Reads the Actions environment; `repo_root` is the root of the repository being
    /// checked, to place it in `GITHUB_WORKSPACE`.
    pub fn from_env(repo_root: Option<&Path>) -> Ci {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let workspace_prefix = match (var("GITHUB_WORKSPACE"), repo_root) {
            (Some(workspace), Some(root)) => workspace_prefix(Path::new(&workspace), root),
            _ => String::new(),
        };
        Ci {
            server_url: var("GITHUB_SERVER_URL"),
            repository: var("GITHUB_REPOSITORY"),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            workspace_prefix,
        }
    }

    /// `https://github.com/owner/name/blob/<commit>/<file>#L<line>`, when the
    /// repository's address is known.
    pub fn blob_url(&self, commit: &str, file: &str, line: u32) -> Option<String> {
        let server = self.server_url.as_deref()?.trim_end_matches('/');
        let repository = self.repository.as_deref()?;
        let path: Vec<String> = file.split('/').map(percent_encode_segment).collect();
        Some(format!(
            "{server}/{repository}/blob/{commit}/{}#L{line}",
            path.join("/")
        ))
    }
}

/// `root` relative to `workspace`, `/`-separated with a trailing `/`, or `""` when the
/// root is the workspace or not inside it (then the paths are left as they are).
fn workspace_prefix(workspace: &Path, root: &Path) -> String {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (workspace, root) = (canonical(workspace), canonical(root));
    match root.strip_prefix(&workspace) {
        Ok(rel) if !rel.as_os_str().is_empty() => {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            format!("{}/", parts.join("/"))
        }
        _ => String::new(),
    }
}

/// Percent-encodes one path segment for a URL: everything but RFC 3986 unreserved
/// characters, so a file name with spaces or `#` still links to the file.
fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders a report with the environment's [`Ci`] context (for `demo`).
pub fn write(
    format: Format,
    outcome: &Outcome,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_with(format, outcome, style, &Ci::from_env(None), out)
}

/// Renders a report. For [`Format::Github`] this also appends the job summary and the
/// step outputs to the files the [`Ci`] names.
///
/// The line-oriented formats go through [`problem_matcher::unmatched`], so that no
/// line of them is an error to a CI problem matcher for Go, and through
/// [`inert::commands`], so that none is a workflow command (the GitHub format stops
/// commands around its listing itself, and its own annotations must stay commands).
/// JSON and SARIF need neither: every line of them starts with a bracket or a quote;
/// [`inert_json`] keeps `##[` out of their strings. Nor does HTML, whose every line
/// starts with a tag or is the page's own style or script; [`inert_html`] keeps `##[`
/// out of its text.
pub fn write_with(
    format: Format,
    outcome: &Outcome,
    style: Style,
    ci: &Ci,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut rendered = Vec::new();
    match format {
        Format::Json => {
            json::write(outcome, &mut rendered)?;
            return out.write_all(&inert_json(rendered));
        }
        Format::Sarif => {
            sarif::write(outcome, ci, &mut rendered)?;
            return out.write_all(&inert_json(rendered));
        }
        Format::Html => {
            html::write(outcome, ci, &mut rendered)?;
            return out.write_all(&inert_html(rendered));
        }
        Format::Text => text::write(outcome, style, &mut rendered)?,
        Format::Github => {
            github::run(outcome, ci, &mut rendered)?;
            let text = String::from_utf8_lossy(&rendered);
            return out.write_all(problem_matcher::unmatched(&text).as_bytes());
        }
        Format::Markdown => {
            let doc = markdown::render(outcome, ci, markdown::COMMENT_LIMIT, &[]);
            rendered = doc.into_bytes();
        }
    }
    out.write_all(&inert_text(&rendered))
}

/// A line-oriented text output as it is printed: no line of it a Go error to a CI
/// problem matcher, nor a workflow command.
pub fn inert_text(rendered: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(rendered);
    inert::commands(&problem_matcher::unmatched(&text))
        .into_owned()
        .into_bytes()
}

/// JSON as it is printed: `##[`, which the GitHub Actions runner reads as a command
/// anywhere in a log line, written `##\u005b` (the same string to a JSON reader).
pub fn inert_json(rendered: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&rendered);
    if !text.contains("##[") {
        return rendered;
    }
    text.replace("##[", "##\\u005b").into_bytes()
}

/// `##[`, the old form of a workflow command that the runner takes anywhere in a line,
/// written as `##&#91;` in a page: the same text to a browser, none to the runner.
pub fn inert_html(rendered: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&rendered);
    if !text.contains("##[") {
        return rendered;
    }
    text.replace("##[", "##&#91;").into_bytes()
}

/// Whether to colour what goes to stdout: a terminal, and NO_COLOR unset or empty.
pub fn stdout_wants_color() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && io::stdout().is_terminal()
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A hand-made [`Outcome`] for the reporters' unit tests, no git or Go involved.

    use crate::allowlist::{AllowOutcome, Allowed, Config};
    use crate::finding::{Finding, Kind};
    use crate::gate::{LoadedConfig, Outcome, Scope, Side};
    use crate::git::Revision;
    use crate::go::GoEnv;
    use crate::lines::ChangedLines;
    use crate::matching::Comparison;

    pub const BASE: &str = "1111111111111111111111111111111111111111";
    pub const HEAD: &str = "2222222222222222222222222222222222222222";

    pub fn finding(file: &str, line: u32, function: &str, kind: Kind, expr: &str) -> Finding {
        Finding {
            source: format!("src {line}"),
            ..Finding::example(file, line, function, kind, expr)
        }
    }

    fn side(commit: &str, findings: Vec<Finding>) -> Side {
        Side {
            revision: Revision {
                spec: commit.to_string(),
                commit: Some(git2::Oid::from_str(commit).expect("test oid")),
            },
            findings,
            packages: vec!["example.com/m".to_string()],
            outside: 0,
            unrecognised: Vec::new(),
            unplaced: Vec::new(),
            inline_calls: Vec::new(),
            notes: Vec::new(),
            cached: false,
            uncompiled: Vec::new(),
        }
    }

    /// An outcome with the given failing escapes and nothing else.
    pub fn outcome(new: Vec<Finding>) -> Outcome {
        Outcome {
            go: GoEnv {
                go: "go".into(),
                version: "go1.26.8".to_string(),
                goos: "linux".to_string(),
                goarch: "amd64".to_string(),
                fingerprint: String::new(),
                goflags: String::new(),
                trimpath: false,
                target: None,
                cgo: None,
                foreign: false,
                cgo_enabled: true,
                analysed: Vec::new(),
            },
            base: side(BASE, Vec::new()),
            head: side(HEAD, new.clone()),
            comparison: Comparison {
                new: new.clone(),
                ..Comparison::default()
            },
            allow: AllowOutcome {
                remaining: new,
                allowed: Vec::new(),
                stale: Vec::new(),
                expired: Vec::new(),
            },
            staleness: Vec::new(),
            config: LoadedConfig::default(),
            config_from: crate::config_change::ConfigFrom::Head,
            config_change: None,
            checks: crate::checks::Checks::default(),
            shard: None,
            scope: Scope {
                analysed: 1,
                total: 1,
                ..Scope::default()
            },
            warnings: Vec::new(),
            changed: ChangedLines::new(),
            profile: None,
            cold: Vec::new(),
            excerpts: crate::excerpt::Excerpts::default(),
        }
    }

    /// Adds one fixed, one allowed escape and one stale allowlist entry.
    pub fn with_extras(mut outcome: Outcome) -> Outcome {
        outcome
            .comparison
            .fixed
            .push(finding("old.go", 7, "Gone", Kind::Escapes, "&T{}"));
        let yaml = "version: 1\nallow:\n  - path: \"codec/*.go\"\n    reason: buffer handed to the caller\n\n  - path: \"gone/*.go\"\n    reason: no longer needed\n";
        outcome.config = LoadedConfig {
            origin: crate::gate::Origin::file(".escape-gate.yml"),
            path: Some(".escape-gate.yml".to_string()),
            config: Config::parse(yaml, ".escape-gate.yml").expect("valid allowlist"),
        };
        outcome.allow.allowed.push(Allowed {
            finding: finding(
                "codec/enc.go",
                12,
                "(*Enc).Encode",
                Kind::Escapes,
                "make([]byte, n)",
            ),
            entry: 0,
        });
        outcome.allow.stale.push(1);
        outcome.staleness.push(crate::allowlist::Staleness::Gone);
        outcome
    }

    #[test]
    fn blob_urls_encode_path_segments() {
        let ci = super::Ci {
            server_url: Some("https://github.com/".to_string()),
            repository: Some("o/r".to_string()),
            ..super::Ci::default()
        };
        assert_eq!(
            ci.blob_url(HEAD, "dir/a b#.go", 3).as_deref(),
            Some(
                "https://github.com/o/r/blob/2222222222222222222222222222222222222222/dir/a%20b%23.go#L3"
            )
        );
        assert_eq!(super::Ci::default().blob_url(HEAD, "a.go", 1), None);
    }

    #[test]
    fn workspace_prefix_is_the_checkout_path() {
        let ws = tempfile::tempdir().expect("tmp");
        let sub = ws.path().join("src/repo");
        std::fs::create_dir_all(&sub).expect("mkdir");
        assert_eq!(super::workspace_prefix(ws.path(), &sub), "src/repo/");
        assert_eq!(super::workspace_prefix(ws.path(), ws.path()), "");
        let other = tempfile::tempdir().expect("tmp");
        assert_eq!(super::workspace_prefix(ws.path(), other.path()), "");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_structured_formats_keep_the_old_command_form_out() {
        let page = b"<p>x ##[error]forged</p>".to_vec();
        assert_eq!(
            crate::report::inert_html(page),
            b"<p>x ##&#91;error]forged</p>".to_vec()
        );
        let json = br###"{"m":"##[error]x"}"###.to_vec();
        assert_eq!(
            crate::report::inert_json(json),
            br###"{"m":"##\u005berror]x"}"###.to_vec()
        );
    }
}
