//! `escape-gate explain FILE:LINE [REV]`: the heap escapes at one line of one revision,
//! each with the compiler's escape flow (`-m=2`) that says why it escapes.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use crate::commands::shared::Repository;
use crate::exit::Exit;
use crate::gate::{self, ExplainRequest};
use crate::report::{self, ListFormat};
use crate::tree::{self, BadName, PathProblem, TreePath};

/// Explain the heap escapes at one line: the compiler's escape flow for each.
///
/// Compiles only the package that holds FILE, with `-gcflags=-m=2`, and prints
/// every heap escape reported at LINE with the chain of steps (`flow:` and `from … at
/// file:line`) that takes it to the heap. Exits 0, escapes or not; 2 when it cannot
/// (no such file or line, a file the platform does not compile, a build that fails).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The line: FILE:LINE or FILE:LINE:COL (as escape-gate diff prints it), FILE
    /// relative to the current directory (--repo DIR when given), to the repository
    /// root (as diff prints it), or absolute inside the repository
    #[arg(value_name = "FILE:LINE", value_parser = parse_location)]
    pub location: Location,
    /// The revision [default: the working tree, uncommitted changes included]
    pub rev: Option<String>,
    #[command(flatten)]
    pub repository: Repository,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// A CPU profile (pprof) to give each escape its function's share of the samples
    /// with, instead of the allowlist's profile.files or the main packages'
    /// default.pgo; repeat to merge several
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<std::path::PathBuf>,
    /// Build for this platform (GOOS/GOARCH, e.g. linux/arm64), cross-compiling, as
    /// `diff --platforms` does [default: the platform go builds for]
    #[arg(long, value_name = "GOOS/GOARCH", value_parser = crate::go::Platform::parse)]
    pub platform: Option<crate::go::Platform>,
}

/// `FILE:LINE`, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: u32,
}

fn parse_location(s: &str) -> Result<Location, String> {
    let bad = || format!("{s:?} is not FILE:LINE (for example internal/codec/codec.go:42)");
    let number = |t: &str| t.parse::<u32>().ok().filter(|&n| n >= 1);
    let (rest, last) = s.rsplit_once(':').ok_or_else(bad)?;
    let last = number(last).ok_or_else(bad)?;
    // FILE:LINE:COL: the column is not needed, every escape on the line is shown.
    let (file, line) = match rest.rsplit_once(':') {
        Some((file, line)) if number(line).is_some() => (file, number(line).ok_or_else(bad)?),
        _ => (rest, last),
    };
    let file = file.trim_start_matches("./").replace('\\', "/");
    if file.is_empty() {
        return Err(bad());
    }
    Ok(Location { file, line })
}

const HINT: &str = "hint: give the path relative to the current directory or to the repository \
     root (as escape-gate diff prints it), or an absolute path inside the repository";

/// FILE must name a file inside the repository: repository-relative, no `..`, no
/// `.git`. (That it goes through no link is checked in the revision's checkout.)
fn check_inside(file: &str) -> Result<()> {
    let shown = tree::printable(file.as_bytes());
    if file.starts_with('/') || Path::new(file).is_absolute() {
        bail!("{shown} is an absolute path\n{HINT}");
    }
    if let Err(err) = TreePath::parse(file) {
        let why = match err.problem {
            PathProblem::Name(BadName::DotDot) => {
                "`..` would leave the repository, which escape-gate never reads outside of"
                    .to_string()
            }
            _ => err.to_string(),
        };
        bail!("{shown} is not a path inside the repository: {why}\n{HINT}");
    }
    Ok(())
}

/// FILE as typed, made repository-relative. A relative path is taken from `dir` (the
/// current directory, or --repo DIR), as git takes it; then, when `dir` is below the
/// root, the same text read from the root (as diff prints paths) is the alternative
/// tried when the first is not in the revision. An absolute path must be inside the
/// repository. `root` is the working tree's top directory.
fn locate(file: &str, dir: &Path, root: &Path) -> Result<(String, Option<String>)> {
    let roots = [root.to_path_buf(), canonical(root)];
    let given = Path::new(file);
    let outside = || {
        anyhow!(
            "{} is outside the repository {}\n{HINT}",
            tree::printable(file.as_bytes()),
            root.display()
        )
    };
    if given.is_absolute() {
        return [given.to_path_buf(), canonical(given)]
            .iter()
            .find_map(|path| roots.iter().find_map(|r| relative_to(r, path)))
            .map(|rel| (rel, None))
            .ok_or_else(outside);
    }
    let dirs = [std::path::absolute(dir).unwrap_or_default(), canonical(dir)];
    let Some((root, dir, prefix)) = dirs.iter().find_map(|d| {
        roots
            .iter()
            .find_map(|r| relative_to(r, d).map(|prefix| (r, d, prefix)))
    }) else {
        // Not below the root (a --repo inside .git): from the root, as before.
        return Ok((file.to_string(), None));
    };
    let rel = relative_to(root, &dir.join(given)).ok_or_else(outside)?;
    let also = (!prefix.is_empty() && rel != file && TreePath::parse(file).is_ok())
        .then(|| file.to_string());
    Ok((rel, also))
}

/// `path` without its `.` and `..` (taken by their text, as git takes them), relative
/// to `root` and `/`-separated; `None` when it is not below `root`.
fn relative_to(root: &Path, path: &Path) -> Option<String> {
    let rest = lexical(path)
        .strip_prefix(lexical(root))
        .ok()?
        .to_path_buf();
    let parts: Vec<String> = rest
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` with its links resolved, as far as it exists (a file of a commit may be
/// missing from the disk); itself when nothing of it does.
fn canonical(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        if let Ok(found) = at.canonicalize() {
            return missing.iter().rev().fold(found, |p, name| p.join(name));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

pub fn run(args: Args) -> Result<Exit> {
    let dir = &args.repository.repo;
    // Without the trailing `/` libgit2 gives it, for messages.
    let root: PathBuf = crate::git::Repo::open(dir)?.root().components().collect();
    let (file, also) = locate(&args.location.file, dir, &root)?;
    check_inside(&file)?;
    let explained = gate::explain_at(&ExplainRequest {
        repo: args.repository.repo,
        rev: args.rev,
        file,
        also,
        line: args.location.line,
        config: args.repository.config,
        tags: args.repository.tags,
        profiles: args.profile,
        platform: args.platform,
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let color = args.format == ListFormat::Text && report::stdout_wants_color();
    report::list::write_explained(args.format, &explained, color, &mut out)?;
    out.flush()?;
    Ok(Exit::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let ok = |file: &str, line| {
            Ok(Location {
                file: file.into(),
                line,
            })
        };
        let cases = [
            ("a.go:12", ok("a.go", 12)),
            (
                "internal/codec/codec.go:42:9",
                ok("internal/codec/codec.go", 42),
            ),
            ("./sub/s.go:3", ok("sub/s.go", 3)),
            ("dir:1/a.go:3", ok("dir:1/a.go", 3)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_location(input), want, "{input}");
        }
        for bad in ["a.go", "a.go:", "a.go:0", "a.go:x", ":3", "a.go:-1"] {
            assert!(parse_location(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_from_the_current_directory_or_absolute() {
        let root = Path::new("/nonexistent-eg/repo");
        let sub = root.join("sub");
        let some = |s: &str| Some(s.to_string());
        let cases = [
            ("a.go", root.to_path_buf(), ("a.go", None)),
            ("a.go", sub.clone(), ("sub/a.go", some("a.go"))),
            ("pkg/a.go", sub.clone(), ("sub/pkg/a.go", some("pkg/a.go"))),
            ("../b/a.go", sub.clone(), ("b/a.go", None)),
            ("../a.go", sub.join("deep"), ("sub/a.go", None)),
            (
                "/nonexistent-eg/repo/sub/a.go",
                sub.clone(),
                ("sub/a.go", None),
            ),
            (
                "/nonexistent-eg/repo/./x/../a.go",
                root.to_path_buf(),
                ("a.go", None),
            ),
            (
                "/nonexistent-eg/repo/a.go",
                Path::new("/elsewhere").to_path_buf(),
                ("a.go", None),
            ),
        ];
        for (file, dir, (want, also)) in cases {
            let got = locate(file, &dir, root).expect(file);
            assert_eq!(
                got,
                (want.to_string(), also),
                "{file} from {}",
                dir.display()
            );
        }
        for (file, dir) in [
            ("/etc/passwd", root.to_path_buf()),
            ("/nonexistent-eg/repository/a.go", root.to_path_buf()),
            ("../a.go", root.to_path_buf()),
            ("../../a.go", sub.clone()),
            ("pkg/../../x.go", root.to_path_buf()),
        ] {
            let err = format!("{:#}", locate(file, &dir, root).expect_err(file));
            assert!(
                err.starts_with(&format!(
                    "{file} is outside the repository {}\n",
                    root.display()
                )),
                "{err}"
            );
            assert!(err.contains("\nhint: "), "{err}");
        }
    }

    #[test]
    fn only_paths_inside_the_repository() {
        for ok in ["a.go", "sub/s.go", "dir:1/a.go", "...go", ".github/x.go"] {
            assert!(check_inside(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("../../../../etc/passwd", "`..` would leave the repository"),
            ("pkg/../../x.go", "`..` would leave the repository"),
            ("/etc/passwd", "is an absolute path"),
            (".git/config", ".git: a spelling of `.git`"),
            ("pkg/./a.go", "pkg/.: `.` names the directory itself"),
            ("pkg//a.go", "pkg/: an empty name"),
        ];
        for (bad, why) in cases {
            let err = format!("{:#}", check_inside(bad).expect_err(bad));
            assert!(err.starts_with(bad), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("\nhint: "), "{err}");
        }
    }
}
