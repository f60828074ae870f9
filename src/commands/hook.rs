//! `escape-gate hook pre-push [REMOTE] [URL]`: the body of the git pre-push hook.
//! Checks every pushed ref and refuses the push when one adds heap escapes.

use std::io::{Read, Write};

use anyhow::{Context, Result};

use crate::exit::Exit;
use crate::gate::{self, DiffRequest};
use crate::git::{short_oid, Repo};
use crate::home::CONFIG_FILE;
use crate::hook::{self, PushedRef};
use crate::report::{self, words, Format, Style};

/// Run as a git hook (installed by `escape-gate install-hook`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub kind: Kind,
}

#[derive(Debug, clap::Subcommand)]
pub enum Kind {
    /// The pre-push hook: reads git's `<local ref> <local oid> <remote ref> <remote oid>`
    /// lines on stdin and refuses the push when a pushed ref adds heap escapes.
    ///
    /// Skipped when ESCAPE_GATE_SKIP=1. Under the pre-commit framework,
    /// PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF are compared instead of stdin.
    PrePush {
        /// Name of the remote (git passes it)
        remote: Option<String>,
        /// URL of the remote (git passes it)
        url: Option<String>,
    },
}

/// One comparison the hook runs.
#[derive(Debug)]
struct Check {
    name: String,
    base: String,
    head: String,
}

pub fn run(args: Args) -> Result<Exit> {
    let Kind::PrePush { remote, url: _ } = args.kind;
    if std::env::var("ESCAPE_GATE_SKIP").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes")) {
        eprintln!("escape-gate: ESCAPE_GATE_SKIP is set; the push is not checked");
        return Ok(Exit::Clean);
    }
    let remote = remote.unwrap_or_default();
    let from_pre_commit = match (
        std::env::var("PRE_COMMIT_FROM_REF"),
        std::env::var("PRE_COMMIT_TO_REF"),
    ) {
        (Ok(from), Ok(to)) if !from.is_empty() && !to.is_empty() => Some((from, to)),
        _ => None,
    };
    let refs = match from_pre_commit {
        Some(_) => Vec::new(),
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the refs git is pushing from stdin")?;
            hook::parse_input(&input)?
        }
    };

    let sha256 = refs
        .iter()
        .any(|r| r.local_oid.len() == 64 || r.remote_oid.len() == 64);
    let repo = match Repo::open(std::path::Path::new(".")) {
        Ok(repo) => repo,
        Err(err) if sha256 || is_unsupported_format(&err) => {
            eprintln!(
                "escape-gate: warning: cannot read this repository ({}); escape-gate does not \
                 support SHA-256 repositories yet, so the push is not checked",
                first_line(&format!("{err:#}"))
            );
            return Ok(Exit::Clean);
        }
        Err(err) => return Err(err),
    };

    let mut checks = Vec::new();
    if let Some((from, to)) = from_pre_commit {
        checks.push(Check {
            name: "the pushed commits".to_string(),
            base: from,
            head: to,
        });
    }
    for pushed in &refs {
        if let Some(check) = plan(&repo, &remote, pushed) {
            checks.push(check);
        }
    }

    // Each refused ref: its name, its new escapes, the command that accepts them.
    let mut refused: Vec<(String, usize, String)> = Vec::new();
    let mut done: Vec<(String, String)> = Vec::new();
    for check in checks {
        if done.contains(&(check.base.clone(), check.head.clone())) {
            continue;
        }
        done.push((check.base.clone(), check.head.clone()));
        if !repo.has_go_module(&check.head)? {
            eprintln!(
                "escape-gate: {}: no Go module to check (no go.mod outside the directories \
                 `./...` skips, and no go.work using one)",
                check.name
            );
            continue;
        }
        // A base whose modules cannot be read (a go.mod without a module line in an
        // old commit) is no base to compare with either: the push goes through.
        if !repo.has_go_module(&check.base).unwrap_or(false) {
            eprintln!(
                "escape-gate: {}: the commit compared against ({}) has no Go module yet, so \
                 there is nothing to compare with; not checked",
                check.name,
                short(&check.base)
            );
            continue;
        }
        eprintln!(
            "escape-gate: checking {} ({}..{})",
            check.name,
            short(&check.base),
            short(&check.head)
        );
        let outcome = gate::diff(&DiffRequest {
            repo: repo.root().to_path_buf(),
            base: Some(check.base.clone()),
            head: Some(check.head.clone()),
            ..DiffRequest::default()
        })
        .with_context(|| format!("checking {}", check.name))?;
        let new = outcome.failing().len();
        if new > 0 {
            let mut err = std::io::stderr().lock();
            report::write(Format::Text, &outcome, Style::default(), &mut err)?;
            err.flush()?;
            refused.push((
                check.name.clone(),
                new,
                words::allow_command(&outcome, false),
            ));
        }
    }

    if refused.is_empty() {
        return Ok(Exit::Clean);
    }
    let what: Vec<String> = refused
        .iter()
        .map(|(name, n, _)| format!("{name}: {}", words::count(*n, "new heap escape")))
        .collect();
    let allow: Vec<&str> = refused
        .iter()
        .map(|(_, _, command)| command.as_str())
        .collect();
    eprintln!(
        "\nescape-gate: push refused: {}.\n\
         Ways forward:\n\
         \x20 - fix the escapes and push again;\n\
         \x20 - accept them: `{}` adds allowlist entries to {CONFIG_FILE}; commit it and push again;\n\
         \x20 - push once without the check: git push --no-verify",
        what.join(", "),
        allow.join("` / `")
    );
    Ok(Exit::NewEscapes)
}

/// Decides what to compare for one pushed ref, or why not to.
fn plan(repo: &Repo, remote: &str, pushed: &PushedRef) -> Option<Check> {
    if pushed.is_deletion() {
        return None;
    }
    if pushed.is_tag() {
        return None;
    }
    let name = pushed.to_string();
    if !pushed.is_new_branch() && repo.has_commit(&pushed.remote_oid) {
        return Some(Check {
            name,
            base: pushed.remote_oid.clone(),
            head: pushed.local_oid.clone(),
        });
    }
    let candidates = hook::default_branch_candidates(remote);
    match repo.merge_base_with_any(&pushed.local_oid, &candidates) {
        Some((_, base)) if base.to_string() == pushed.local_oid => None,
        Some((against, base)) => {
            let against = against
                .trim_start_matches("refs/remotes/")
                .trim_start_matches("refs/heads/");
            let why = if pushed.is_new_branch() {
                "new branch"
            } else {
                "the remote's commit is not here"
            };
            eprintln!(
                "escape-gate: {name}: {why}; comparing with its merge-base with {against} ({})",
                short_oid(base)
            );
            Some(Check {
                name,
                base: base.to_string(),
                head: pushed.local_oid.clone(),
            })
        }
        None => {
            eprintln!(
                "escape-gate: warning: {name}: found no default branch of {} to compare it with \
                 (tried {}); this ref is not checked",
                if remote.is_empty() {
                    "the remote"
                } else {
                    remote
                },
                candidates.join(", ")
            );
            None
        }
    }
}

fn is_unsupported_format(err: &anyhow::Error) -> bool {
    err.downcast_ref::<crate::git::Unsupported>().is_some()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(10)]
}
