//! `escape-gate init`: writes a commented `.escape-gate.yml` and the example workflow
//! (`examples/escape-gate.yml`) as `.github/workflows/escape-gate.yml` at the root of
//! the repository, so a new user is one commit away from the gate in CI. It never
//! replaces a file that exists unless told to (`--force`), and never writes through a
//! link: each file is written beside its place and renamed over it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Result};

use crate::exit::Exit;
use crate::safe_write::{self, Found, Options, WriteFileError};

/// Write .escape-gate.yml and .github/workflows/escape-gate.yml into the repository.
///
/// The allowlist starts empty, with every field explained in comments; the workflow
/// runs escape-gate on pull requests, the merge queue and pushes to the default branch
/// (a full clone, Go from go.mod). Neither file is replaced when it exists, unless
/// --force is given.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (the files go to its root)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Replace the files if they exist
    #[arg(long)]
    pub force: bool,
}

/// Where the allowlist goes, relative to the root.
pub const ALLOWLIST: &str = ".escape-gate.yml";
/// Where the workflow goes, relative to the root.
pub const WORKFLOW: &str = ".github/workflows/escape-gate.yml";

/// The example workflow: the one the README shows and `.ci/validate-action` checks.
const EXAMPLE_WORKFLOW: &str = include_str!("../../examples/escape-gate.yml");

/// The placeholder for the GitHub repository escape-gate is published under, in the
/// example workflow and the schema address.
const PLACEHOLDER: &str = "OWNER/escape-gate";

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
#                                 # -msan, -asan, -pgo=, -p= (see the README)

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

pub fn run(args: Args) -> Result<Exit> {
    let root = repository_root(&args.repo)?;
    let published = published_repository();
    let action = published.unwrap_or(PLACEHOLDER);

    let allowlist = ALLOWLIST_TEMPLATE.replace("{schema}", &schema_url(action));
    let go_version_file = go_version_file(&root);
    let branch = default_branch(&root);
    let workflow = workflow(action, go_version_file.unwrap_or("go.mod"), &branch);

    let files = [(ALLOWLIST, allowlist), (WORKFLOW, workflow)];
    // Checked before anything is written: a link in place of a directory on the way
    // (`.github` pointing elsewhere) stops init with both files unwritten. A link in
    // place of a file counts as a file: --force replaces it, never writes through it.
    let mut existing: Vec<&str> = Vec::new();
    for (rel, _) in &files {
        let found = safe_write::probe(&root, rel).map_err(|err| refusal(&root, rel, &err))?;
        if found != Found::Nothing {
            existing.push(rel);
        }
    }
    if !existing.is_empty() && !args.force {
        let (verb, them) = if existing.len() == 1 {
            ("exists", "it")
        } else {
            ("exist", "them")
        };
        bail!(
            "{} already {verb} in {}; nothing was written\n\
             hint: replace {them} with `escape-gate init --force`, or move {them} aside, run \
             init again and merge by hand",
            existing.join(" and "),
            root.display(),
        );
    }

    for (rel, text) in &files {
        write_replacing(&root, rel, text)?;
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (rel, _) in &files {
        let verb = if existing.contains(rel) {
            "replaced"
        } else {
            "wrote"
        };
        writeln!(out, "{verb} {rel}")?;
    }
    writeln!(
        out,
        "\nThe workflow runs escape-gate on pull requests, the merge queue and pushes to {branch}.\n\
         Next:"
    )?;
    if published.is_none() {
        writeln!(
            out,
            "  - replace {PLACEHOLDER} in both files with the GitHub repository escape-gate is \
             published under (owner/name);"
        )?;
    }
    if go_version_file.is_none() {
        writeln!(
            out,
            "  - no go.mod or go.work at the repository's root: point `go-version-file:` in \
             {WORKFLOW} at your module's go.mod;"
        )?;
    }
    writeln!(
        out,
        "  - try it: `escape-gate diff` compares your working tree with the merge-base of HEAD\n\
         \x20   and your branch's upstream (the README says how to compare with main);\n\
         \x20 - commit both files: `git add {ALLOWLIST} {WORKFLOW}`."
    )?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// The example workflow for this repository: the action's repository, Go's version from
/// `go_version_file`, pushes to `branch`.
fn workflow(action: &str, go_version_file: &str, branch: &str) -> String {
    EXAMPLE_WORKFLOW
        .replace(PLACEHOLDER, action)
        .replace(
            "go-version-file: go.mod",
            &format!("go-version-file: {go_version_file}"),
        )
        .replace("branches: [main]", &format!("branches: [{branch}]"))
}

/// Where `schema/allowlist.schema.json` of this version is served from.
fn schema_url(repository: &str) -> String {
    format!(
        "https://raw.githubusercontent.com/{repository}/v{}/schema/allowlist.schema.json",
        env!("CARGO_PKG_VERSION")
    )
}

/// `owner/name` when Cargo.toml's `repository` is a GitHub address; until escape-gate
/// has one, the files keep a placeholder and `init` says to replace it.
fn published_repository() -> Option<&'static str> {
    let url = env!("CARGO_PKG_REPOSITORY");
    let path = url
        .strip_prefix("https://github.com/")?
        .trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (path.split('/').count() == 2).then_some(path)
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
        let text = ALLOWLIST_TEMPLATE.replace("{schema}", &schema_url(PLACEHOLDER));
        let config = Config::parse(&text, ALLOWLIST).expect("the template parses");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn the_workflow_is_the_example_unless_the_repository_differs() {
        assert_eq!(workflow(PLACEHOLDER, "go.mod", "main"), EXAMPLE_WORKFLOW);
        let other = workflow("acme/escape-gate", "go.work", "master");
        assert!(other.contains("uses: acme/escape-gate@v"), "{other}");
        assert!(other.contains("go-version-file: go.work"), "{other}");
        assert!(other.contains("branches: [master]"), "{other}");
        assert!(!other.contains(PLACEHOLDER), "{other}");
    }

    #[test]
    fn the_example_names_this_version() {
        // `uses: OWNER/escape-gate@vX.Y.Z` in the example is the release a user of this
        // binary gets: bumping the crate's version must bump it too.
        let want = format!("uses: {PLACEHOLDER}@v{}\n", env!("CARGO_PKG_VERSION"));
        assert!(EXAMPLE_WORKFLOW.contains(&want), "{EXAMPLE_WORKFLOW}");
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
