//! `escape-gate explain FILE:LINE [REV]`: the heap escapes at one line of one revision,
//! each with the compiler's escape flow (`-m=2`) that says why it escapes.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};

use crate::commands::shared::Repository;
use crate::exit::Exit;
use crate::gate::{self, ExplainRequest};
use crate::report::{self, ListFormat as Format};
use crate::tree_path::{self, BadName, PathProblem, TreePath};

/// Explain the heap escapes at one line: the compiler's escape flow for each.
///
/// Builds only the package that holds FILE, with `go build -gcflags=-m=2`, and prints
/// every heap escape reported at LINE with the chain of steps (`flow:` and `from … at
/// file:line`) that takes it to the heap. Exits 0, escapes or not.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The line: FILE:LINE or FILE:LINE:COL (as escape-gate diff prints it), FILE
    /// relative to the repository root
    #[arg(value_name = "FILE:LINE", value_parser = parse_location)]
    pub location: Location,
    /// The revision [default: the working tree, uncommitted changes included]
    pub rev: Option<String>,
    #[command(flatten)]
    pub repository: Repository,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A CPU profile (pprof) to give each escape its function's share of the samples
    /// with, instead of the allowlist's profile.files or the main packages'
    /// default.pgo; repeat to merge several
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<std::path::PathBuf>,
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

/// FILE must name a file inside the repository: repository-relative, no `..`, no
/// `.git`. (That it goes through no link is checked in the revision's checkout.)
fn check_inside(file: &str) -> Result<()> {
    const HINT: &str =
        "hint: give the path relative to the repository root, as escape-gate diff prints it";
    let shown = tree_path::printable(file.as_bytes());
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

pub fn run(args: Args) -> Result<Exit> {
    check_inside(&args.location.file)?;
    let explained = gate::explain_at(&ExplainRequest {
        repo: args.repository.repo,
        rev: args.rev,
        file: args.location.file,
        line: args.location.line,
        config: args.repository.config,
        tags: args.repository.tags,
        profiles: args.profile,
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let color = args.format == Format::Text && report::stdout_wants_color();
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
