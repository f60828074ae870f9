//! Arguments every analysing command takes (`diff`, `list`, `explain`, `allow`, `merge`), as
//! one clap group flattened into each, so their names, defaults and help cannot drift.

use std::path::PathBuf;

/// Where the repository is, and how to build it.
#[derive(Debug, Clone, clap::Args)]
pub struct Repository {
    /// The repository
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Allowlist file to use instead of .escape-gate.yml at the root of the revision
    /// (its build section decides how packages are built; `allow` edits this file)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Build tags for every build, added to the allowlist's build.tags (comma-separated)
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Stop after this long (90s, 10m, 1h): the builds are stopped, the temporary trees
    /// removed, and escape-gate exits 2 naming the stage it stopped in. The build
    /// section's `timeout:` applies too; the shorter limit wins
    #[arg(long, value_name = "DURATION", value_parser = crate::interrupt::parse_duration)]
    pub timeout: Option<std::time::Duration>,
}
