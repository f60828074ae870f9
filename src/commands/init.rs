//! `escape-gate init`: writes a commented `.escape-gate.yml` and the example workflow
//! (`examples/escape-gate.yml`) as `.github/workflows/escape-gate.yml` at the root of
//! the repository, so a new user is one commit away from the gate in CI. Each file is
//! written when it is missing; one that exists is left alone (and named) unless told
//! to replace it (`--force`). It never writes through a link: each file is written
//! beside its place and renamed over it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Result};

use crate::exit::Exit;
use crate::home::{self, CONFIG_FILE};
use crate::safe_write::{self, Found, Options, WriteFileError};

/// Write .escape-gate.yml and .github/workflows/escape-gate.yml into the repository.
///
/// The allowlist starts empty, with every field explained in comments; the workflow
/// runs escape-gate on pull requests, the merge queue and pushes to the default branch
/// (a full clone, Go from go.mod). A file that is missing is written; one that exists
/// is left as it is, and named, unless --force is given (exit 2 when both exist).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (the files go to its root)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Replace the files if they exist
    #[arg(long)]
    pub force: bool,
}

/// Where the workflow goes, relative to the root.
pub const WORKFLOW: &str = ".github/workflows/escape-gate.yml";

/// The example workflow: the one the README shows and `.ci/validate-action` checks.
const EXAMPLE_WORKFLOW: &str = include_str!("../../examples/escape-gate.yml");

/// The allowlist `init` writes. `{schema}` is the schema's address.
const ALLOWLIST_TEMPLATE: &str = r#"# yaml-language-server: $schema={schema}
#
# escape-gate's allowlist: the new heap escapes a change may add without failing the
# gate. It is read from the revision being checked, so a change and the entry that
# accepts it travel together; every report says what a change does to this file.
# `escape-gate allow --reason "..."` adds the entries for the escapes a change adds.
version: 1

# How both sides are built (optional; every field may be left out):
# build:
#   packages: ["./..."]           # package patterns, in each module's directory
#   exclude: ["internal/gen/..."] # repository-relative directories (`...`: anything below)
#   tags: ["integration"]         # build tags, added to --tags
#   flags: ["-pgo=off"]           # only flags known to be safe: -tags=, -mod=, -race,
#                                 # -msan, -asan, -pgo=, -p= (see docs/reference.md)

# Each entry allows the new escapes it matches; the first entry that matches, has not
# expired and has count left takes an escape. For example:
#   - path: "internal/codec/*.go"         # glob on the repository-relative path (`*` stays
#                                         # in one directory, `**` crosses them)
#     function: "(*Encoder).Encode"       # optional: the compiler's function name,
#                                         # `*` any text, `?` one character
#     message: "make([]byte, *) escapes to heap"   # optional: the compiler's message
#     count: 2                            # optional: at most this many new escapes
#     reason: "the buffer is handed to the caller" # required: why it is acceptable
#     expires: 2027-06-30                 # optional: from the next day on it allows nothing
allow:
"#;

/// What `init` does with one of its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// It is missing: write it.
    Write,
    /// It exists and `--force` was given: replace it.
    Replace,
    /// It exists: leave it as it is.
    Keep,
}

impl Action {
    fn of(exists: bool, force: bool) -> Action {
        match (exists, force) {
            (false, _) => Action::Write,
            (true, true) => Action::Replace,
            (true, false) => Action::Keep,
        }
    }
}

pub fn run(args: Args) -> Result<Exit> {
    let root = repository_root(&args.repo)?;
    let mut allowlist = ALLOWLIST_TEMPLATE.replace("{schema}", &schema_url());
    let proposal = crate::go::GoEnv::detect()
        .ok()
        .and_then(|go| propose_platforms(&root, &go.default_platform()));
    if let Some(proposal) = &proposal {
        allowlist = allowlist.replacen(
            "\n# How both sides are built",
            &format!("\n{}\n# How both sides are built", proposal.yaml()),
            1,
        );
    }
    let go_version_file = go_version_file(&root);
    let branch = default_branch(&root);
    let workflow = workflow(go_version_file.unwrap_or("go.mod"), &branch);

    // Each file on its own: a repository that already has one (an allowlist `allow`
    // started, a workflow of its own) still gets the other. A link counts as a file:
    // --force replaces it, never writes through it. Checked before anything is
    // written: a link in place of a directory on the way (`.github` pointing
    // elsewhere) stops init with nothing written.
    let files: Vec<(&str, String, Action)> = [(CONFIG_FILE, allowlist), (WORKFLOW, workflow)]
        .into_iter()
        .map(|(rel, text)| {
            let found = safe_write::probe(&root, rel).map_err(|err| refusal(&root, rel, &err))?;
            Ok((rel, text, Action::of(found != Found::Nothing, args.force)))
        })
        .collect::<Result<_>>()?;
    let kept: Vec<&str> = files
        .iter()
        .filter(|(_, _, action)| *action == Action::Keep)
        .map(|(rel, _, _)| *rel)
        .collect();
    if kept.len() == files.len() {
        bail!(
            "{} already exist in {}; nothing was written\n\
             hint: replace them with `escape-gate init --force`, or move them aside, run \
             init again and merge by hand",
            kept.join(" and "),
            root.display(),
        );
    }

    let mut written = Vec::new();
    for (rel, text, action) in &files {
        if *action != Action::Keep {
            write_replacing(&root, rel, text)?;
            written.push(*rel);
        }
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (rel, _, action) in &files {
        match action {
            Action::Write => writeln!(out, "wrote {rel}")?,
            Action::Replace => writeln!(out, "replaced {rel}")?,
            Action::Keep => writeln!(
                out,
                "left {rel} alone: it exists (`escape-gate init --force` replaces it)"
            )?,
        }
    }
    if written.contains(&WORKFLOW) {
        writeln!(
            out,
            "\nThe workflow runs escape-gate on pull requests, the merge queue and pushes to {branch}."
        )?;
    } else {
        writeln!(out)?;
    }
    writeln!(out, "Next:")?;
    if let Some(proposal) = proposal.as_ref().filter(|_| written.contains(&CONFIG_FILE)) {
        writeln!(
            out,
            "  - {CONFIG_FILE} analyses {} (`platforms:`): {} of the repository's Go files are \
             compiled only for other platforms, for example {};",
            proposal.list(),
            proposal.files.len(),
            proposal
                .files
                .iter()
                .take(3)
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if go_version_file.is_none() && written.contains(&WORKFLOW) {
        writeln!(
            out,
            "  - no go.mod or go.work at the repository's root: point `go-version-file:` in \
             {WORKFLOW} at your module's go.mod;"
        )?;
    }
    writeln!(
        out,
        "  - try it: `escape-gate diff` compares your working tree with the merge-base of HEAD\n\
         \x20   and your branch's upstream (docs/guide.md says how to compare with main);\n\
         \x20 - commit {}: `git add {}`.",
        if written.len() == 1 {
            "it"
        } else {
            "both files"
        },
        written.join(" ")
    )?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// The platforms `init` proposes: the default one, and the common platforms that
/// compile files the default one does not (files under build constraints for other
/// architectures or systems).
#[derive(Debug, PartialEq, Eq)]
struct PlatformProposal {
    platforms: Vec<crate::go::Platform>,
    /// Each file the default platform does not compile, with the proposed platforms
    /// that do.
    files: Vec<(String, Vec<crate::go::Platform>)>,
}

impl PlatformProposal {
    fn list(&self) -> String {
        self.platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The allowlist's `platforms:` with a comment that says why.
    fn yaml(&self) -> String {
        let mut text = String::from(
            "# Each side is built for every platform listed (cross-compiled by the same go):\n\
             # escape decisions differ where files differ by build constraint. These files\n\
             # are compiled only for other platforms than the one go builds for here:\n",
        );
        const SHOWN: usize = 10;
        for (file, platforms) in self.files.iter().take(SHOWN) {
            let names: Vec<String> = platforms.iter().map(ToString::to_string).collect();
            text.push_str(&format!("#   {file} ({})\n", names.join(", ")));
        }
        if self.files.len() > SHOWN {
            text.push_str(&format!("#   … and {} more\n", self.files.len() - SHOWN));
        }
        text.push_str(&format!("platforms: [{}]\n", self.list()));
        text
    }
}

/// The platforms most users ship, in the order `init` proposes them.
const PROPOSED: [&str; 4] = [
    "linux/amd64",
    "linux/arm64",
    "darwin/arm64",
    "windows/amd64",
];

/// Reads the Go files (not tests) of the tree at `root`, as `go list ./...` would find
/// them, and proposes platforms when some are compiled only for other platforms than
/// `host`. Links are not followed; each file's first 64 KiB are read (build
/// constraints are at the top).
fn propose_platforms(root: &Path, host: &crate::go::Platform) -> Option<PlatformProposal> {
    use std::io::Read;
    const MAX_FILES: usize = 100_000;
    let proposed: Vec<crate::go::Platform> = PROPOSED
        .iter()
        .filter_map(|p| crate::go::Platform::parse(p).ok())
        .filter(|p| p != host)
        .collect();
    let mut files: Vec<(String, Vec<crate::go::Platform>)> = Vec::new();
    let mut stack = vec![String::new()];
    let mut seen = 0;
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !crate::modules::is_skipped_dir(&name) {
                    stack.push(path);
                }
                continue;
            }
            if !kind.is_file() || !name.ends_with(".go") || name.ends_with("_test.go") {
                continue;
            }
            seen += 1;
            if seen > MAX_FILES {
                break;
            }
            let mut head = Vec::new();
            if std::fs::File::open(entry.path())
                .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
                .is_err()
            {
                continue;
            }
            let source = String::from_utf8_lossy(&head);
            if host.compiles(&path, &source, &[], true) != Some(false) {
                continue;
            }
            let others: Vec<crate::go::Platform> = proposed
                .iter()
                .filter(|p| p.compiles(&path, &source, &[], true) == Some(true))
                .cloned()
                .collect();
            if !others.is_empty() {
                files.push((path, others));
            }
        }
    }
    if files.is_empty() {
        return None;
    }
    files.sort();
    let mut platforms = vec![host.clone()];
    platforms.extend(
        proposed
            .into_iter()
            .filter(|p| files.iter().any(|(_, ps)| ps.contains(p))),
    );
    Some(PlatformProposal { platforms, files })
}

/// The example workflow for this repository: Go's version from `go_version_file`,
/// pushes to `branch`.
fn workflow(go_version_file: &str, branch: &str) -> String {
    EXAMPLE_WORKFLOW
        .replace(
            "go-version-file: go.mod",
            &format!("go-version-file: {go_version_file}"),
        )
        .replace("branches: [main]", &format!("branches: [{branch}]"))
}

/// Where `schema/allowlist.schema.json` of this version is served from.
fn schema_url() -> String {
    format!(
        "https://raw.githubusercontent.com/{}/v{}/schema/allowlist.schema.json",
        home::github_repository(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The root of the repository holding `dir`, by git's own rule (worktrees included).
fn repository_root(dir: &Path) -> Result<PathBuf> {
    let output = Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--show-toplevel"])
        .current_dir(dir)
        .output()
        .map_err(|err| {
            anyhow!(
                "running git in {} to find the repository's root: {err}\n\
                 hint: install git; escape-gate compares git revisions",
                dir.display()
            )
        })?;
    if !output.status.success() {
        bail!(
            "{} is not inside a git repository with a working tree: {}\n\
             hint: run escape-gate init inside your clone, or pass --repo DIR",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim_end_matches(['\n', '\r']),
    ))
}

/// What `actions/setup-go` reads the Go version from: the root's `go.mod`, else its
/// `go.work`; `None` when the root has neither.
fn go_version_file(root: &Path) -> Option<&'static str> {
    ["go.mod", "go.work"]
        .into_iter()
        .find(|name| root.join(name).is_file())
}

/// The branch pushes are checked on: the one `origin/HEAD` names, else `main` or
/// `master` when only that one exists, else `main`.
fn default_branch(root: &Path) -> String {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    if let Some(name) = git(&["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"]) {
        if let Some(branch) = name.strip_prefix("refs/remotes/origin/") {
            if is_plain_branch_name(branch) {
                return branch.to_string();
            }
        }
    }
    let has = |branch: &str| {
        git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])
        .is_some()
    };
    if !has("main") && has("master") {
        return "master".to_string();
    }
    "main".to_string()
}

/// Whether a branch name can go into the workflow's `branches: [NAME]` as it is: a
/// name with YAML or glob syntax in it is left for the user to write.
fn is_plain_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// Writes `text` to `root/rel` through a new file beside it, renamed over the old one;
/// no link on the way is followed (see [`safe_write`]).
fn write_replacing(root: &Path, rel: &str, text: &str) -> Result<()> {
    let options = Options {
        keep_mode: false,
        replace_link: true,
        ..Options::FILE
    };
    safe_write::write(root, rel, text.as_bytes(), options)
        .map_err(|err| anyhow!("{err}").context(format!("writing {rel} in {}", root.display())))?;
    Ok(())
}

/// The error for a file init cannot write where it belongs.
fn refusal(root: &Path, rel: &str, err: &WriteFileError) -> anyhow::Error {
    anyhow!(
        "cannot write {rel} in {}: {err}; nothing was written\n\
         hint: init writes only regular files inside the repository; remove or replace what is \
         at that path and run init again",
        root.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::Config;

    #[test]
    fn the_allowlist_template_is_an_empty_valid_allowlist() {
        let text = ALLOWLIST_TEMPLATE.replace("{schema}", &schema_url());
        let config = Config::parse(&text, CONFIG_FILE).expect("the template parses");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn the_workflow_is_the_example_unless_the_repository_differs() {
        assert_eq!(workflow("go.mod", "main"), EXAMPLE_WORKFLOW);
        let other = workflow("go.work", "master");
        assert!(other.contains("go-version-file: go.work"), "{other}");
        assert!(other.contains("branches: [master]"), "{other}");
    }

    #[test]
    fn the_example_names_this_release_of_the_home() {
        // `uses: <home>@vX.Y.Z` in the example is the release a user of this binary
        // gets: bumping the crate's version, or moving its home, must change it too.
        let want = format!("      - {}\n", home::action_uses());
        assert!(EXAMPLE_WORKFLOW.contains(&want), "{EXAMPLE_WORKFLOW}");
        let header: String = EXAMPLE_WORKFLOW
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect();
        assert!(header.contains(home::HOME), "{header}");
        assert!(!EXAMPLE_WORKFLOW.contains("OWNER"), "{EXAMPLE_WORKFLOW}");
    }

    #[test]
    fn each_file_is_written_unless_it_exists() {
        assert_eq!(Action::of(false, false), Action::Write);
        assert_eq!(Action::of(false, true), Action::Write);
        assert_eq!(Action::of(true, false), Action::Keep);
        assert_eq!(Action::of(true, true), Action::Replace);
    }

    #[test]
    fn proposes_the_platforms_that_compile_what_the_host_does_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        let host = crate::go::Platform::parse("linux/amd64").expect("valid");
        write("a.go", "package a\n");
        assert_eq!(propose_platforms(dir.path(), &host), None);
        write("d/dec_generic.go", "//go:build !amd64\n\npackage d\n");
        write("w/w_windows.go", "package w\n");
        write("testdata/t_arm64.go", "package t\n");
        let proposal = propose_platforms(dir.path(), &host).expect("a proposal");
        assert_eq!(
            proposal.list(),
            "linux/amd64, linux/arm64, darwin/arm64, windows/amd64"
        );
        let files: Vec<&str> = proposal.files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(files, vec!["d/dec_generic.go", "w/w_windows.go"]);
        let text = ALLOWLIST_TEMPLATE.replace("{schema}", "x").replacen(
            "\n# How both sides are built",
            &format!("\n{}\n# How both sides are built", proposal.yaml()),
            1,
        );
        let config = Config::parse(&text, CONFIG_FILE).expect("the proposal parses");
        assert_eq!(config.build.platforms, proposal.platforms);
    }

    #[test]
    fn branch_names_go_into_yaml_only_when_plain() {
        for name in ["main", "release/1.x", "dev_2"] {
            assert!(is_plain_branch_name(name), "{name}");
        }
        for name in ["", "a b", "x]", "*", "a:b", "#x"] {
            assert!(!is_plain_branch_name(name), "{name}");
        }
    }
}
