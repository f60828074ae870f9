//! `escape-gate diff [BASE] [HEAD]`: the gate itself.

use std::io::Write;

use anyhow::Result;

use crate::checks::Checks;
use crate::commands::shared::Repository;
use crate::config_change::ConfigFrom;
use crate::exit::Exit;
use crate::gate::{self, ConfigChoice, DiffRequest, Shard};
use crate::git::Repo;
use crate::report::{self, Ci, Format, Style};

/// Compare the heap escapes of two revisions; fail when the head adds some.
///
/// Prints each new heap escape (position, function, compiler message, source line), a
/// diff of the per-function escape listings, and a line of counts. Exits 1 when there
/// are new escapes the allowlist does not cover.
#[derive(Debug, clap::Args)]
#[command(after_long_help = crate::report::words::COUNTS_LEGEND)]
pub struct Args {
    /// The revision to compare against [default: the merge-base of HEAD with the
    /// branch's upstream, else origin/HEAD, main or master]
    pub base: Option<String>,
    /// The revision to check [default: the working tree, uncommitted changes included]
    pub head: Option<String>,
    #[command(flatten)]
    pub repository: Repository,
    /// Which revision's allowlist (and build section) rules: the head's, so a change
    /// and the entry that accepts it travel together, or the base's, for CI that must
    /// not take its rules from a pull request. Either way every report says what the
    /// head changes in it
    #[arg(long, value_enum, value_name = "SIDE", default_value_t = ConfigFrom::Head)]
    pub config_from: ConfigFrom,
    /// Output format. `github` is for a GitHub Actions step (escape-gate's Action uses
    /// it): annotations, and the job summary and step outputs written to the files
    /// GitHub names. Text stays the default in Actions too, so a plain `run:` step
    /// prints what it prints at the desk.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also list the escapes the head no longer has, and those it has under new names
    #[arg(long)]
    pub show_fixed: bool,
    /// Show why each new escape happens: the compiler's escape flow (-m=2), steps on
    /// changed lines marked `[changed]` (always on for the formats that explain)
    #[arg(long, help = format!(
        "Show why each new escape happens: the compiler's escape flow (-m=2), steps on \
         changed lines marked `[changed]` (always on for {})",
        Format::always_explaining()
    ))]
    pub explain: bool,
    /// Analyse every package, not only those the change can affect (the changed
    /// packages and the importers that use what changed)
    #[arg(long)]
    pub all_packages: bool,
    /// The checks to compare, comma-separated, instead of the allowlist's `checks:`:
    /// escapes, variable-make, concat-convert, inlining, bounds [default:
    /// escapes,variable-make].
    /// `//gcassert:` directives are enforced whatever the list
    #[arg(long, value_name = "LIST", value_parser = parse_checks)]
    pub checks: Option<Checks>,
    /// Analyse only part I of N of the packages (split by import path, the same on
    /// every machine), for a CI matrix; needs `--format json`. The report carries
    /// what both sides found, for `escape-gate merge`, which gives the verdict: a
    /// shard exits 0 whenever it ran
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
    /// A CPU profile (pprof: a default.pgo, `go test -cpuprofile`, runtime/pprof) to
    /// weigh the findings with, instead of the allowlist's profile.files or the main
    /// packages' default.pgo; repeat to merge several. New findings are ordered by
    /// their function's share of the samples
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<std::path::PathBuf>,
    /// Build each side for these platforms (GOOS/GOARCH, comma-separated, e.g.
    /// linux/amd64,linux/arm64) by cross-compiling with the same go, instead of the
    /// allowlist's `platforms:` [default: the platform go builds for]. A finding of
    /// several platforms is reported once, naming them
    #[arg(long, value_name = "LIST", value_parser = parse_platforms)]
    pub platforms: Option<Platforms>,
}

/// A `--platforms` list (a newtype: clap would read a `Vec` as one value per use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platforms(pub Vec<crate::go::Platform>);

pub(crate) fn parse_platforms(text: &str) -> Result<Platforms, String> {
    crate::go::Platform::parse_list(text).map(Platforms)
}

pub(crate) fn parse_checks(text: &str) -> Result<Checks, String> {
    Checks::parse_list(text)
}

impl From<Args> for DiffRequest {
    fn from(args: Args) -> Self {
        DiffRequest {
            repo: args.repository.repo,
            base: args.base,
            head: args.head,
            config: ConfigChoice::from_arg(args.repository.config),
            config_from: args.config_from,
            tags: args.repository.tags,
            today: None,
            explain: args.explain || args.format.always_explains(),
            all_packages: args.all_packages,
            excerpts: args.format.shows_source(),
            checks: args.checks,
            shard: args.shard,
            from_shards: None,
            profiles: args.profile,
            platforms: args.platforms.map(|p| p.0),
        }
    }
}

pub fn run(args: Args) -> Result<Exit> {
    let format = args.format;
    let sharded = args.shard.is_some();
    if sharded && format != Format::Json {
        anyhow::bail!(
            "--shard writes what its packages' sides found for `escape-gate merge`, which only \
             the JSON report carries\nhint: add --format json and keep the output as a file"
        );
    }
    let style = Style {
        color: format == Format::Text && report::stdout_wants_color(),
        show_fixed: args.show_fixed,
    };
    let repo_dir = args.repository.repo.clone();
    let outcome = gate::diff(&DiffRequest::from(args))?;
    let exit = render(&outcome, format, style, &repo_dir)?;
    Ok(if sharded { Exit::Clean } else { exit })
}

/// Writes the outcome's report to stdout; the exit code of its verdict.
pub(crate) fn render(
    outcome: &gate::Outcome,
    format: Format,
    style: Style,
    repo_dir: &std::path::Path,
) -> Result<Exit> {
    let ci = match format {
        // Annotation paths are resolved against the workspace, so the GitHub format
        // needs to know where the repository's root is in it.
        Format::Github => Ci::from_env(Some(Repo::open(repo_dir)?.root())),
        _ => Ci::from_env(None),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report::write_with(format, outcome, style, &ci, &mut out)?;
    out.flush()?;
    Ok(if outcome.failing().is_empty() {
        Exit::Clean
    } else {
        Exit::NewEscapes
    })
}
