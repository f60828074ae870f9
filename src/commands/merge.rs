//! `escape-gate merge FILE...`: one verdict and one report from the JSON reports of a
//! `diff --shard I/N` matrix.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use crate::checks::Checks;
use crate::commands::diff::{parse_checks, render};
use crate::commands::shared::Repository;
use crate::config_change::ConfigFrom;
use crate::exit::Exit;
use crate::gate::{self, ConfigChoice, DiffRequest, ShardData};
use crate::report::{self, Format, Style};

/// Give the verdict of a comparison split with `diff --shard I/N`.
///
/// Reads the JSON report of every shard, checks they are the N parts of one comparison
/// made with the same escape-gate, Go and settings, and matches, allows and reports the
/// whole, as one `diff` of the same revisions would: escapes that moved between
/// packages of different shards are moved, and an allowlist entry is stale only if it
/// allows nothing in any shard. Run it in a clone of the repository (line maps and the
/// allowlist come from the two commits). Exits as `diff` does.
#[derive(Debug, clap::Args)]
#[command(after_long_help = crate::report::words::COUNTS_LEGEND)]
pub struct Args {
    /// The JSON reports of `diff --shard I/N --format json`, one per shard
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub repository: Repository,
    /// Which revision's allowlist rules, as the shards were run with
    #[arg(long, value_enum, value_name = "SIDE", default_value_t = ConfigFrom::Head)]
    pub config_from: ConfigFrom,
    /// The checks, as the shards were run with
    #[arg(long, value_name = "LIST", value_parser = parse_checks)]
    pub checks: Option<Checks>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also list the escapes the head no longer has, and those it has under new names
    #[arg(long)]
    pub show_fixed: bool,
    /// Show why each new escape happens (builds the packages with new escapes again,
    /// with -m=2; always on for github, sarif, markdown and html)
    #[arg(long)]
    pub explain: bool,
    /// A CPU profile (pprof, e.g. a default.pgo or `go test -cpuprofile`) to weigh the
    /// findings with, instead of the allowlist's profile.files or the main packages'
    /// default.pgo; repeat to merge several
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<PathBuf>,
    /// The platforms, as the shards were run with
    #[arg(long, value_name = "LIST", value_parser = crate::commands::diff::parse_platforms)]
    pub platforms: Option<crate::commands::diff::Platforms>,
}

/// The largest shard report read: the findings of both sides of a shard's packages.
const MAX_REPORT: u64 = 512 * 1024 * 1024;

pub fn run(args: Args) -> Result<Exit> {
    let mut shards = Vec::new();
    for file in &args.files {
        shards.push(read_shard(file)?);
    }
    let first = shards.first().expect("clap requires at least one file");
    let (base, head) = (first.base.clone(), first.head.clone());
    let style = Style {
        color: args.format == Format::Text && report::stdout_wants_color(),
        show_fixed: args.show_fixed,
    };
    let request = DiffRequest {
        repo: args.repository.repo.clone(),
        base: Some(base),
        head: Some(head),
        config: ConfigChoice::from_arg(args.repository.config.clone()),
        config_from: args.config_from,
        tags: args.repository.tags.clone(),
        today: None,
        explain: args.explain || args.format.always_explains(),
        all_packages: false,
        excerpts: args.format.shows_source(),
        checks: args.checks.clone(),
        shard: None,
        from_shards: Some(shards),
        profiles: args.profile.clone(),
        platforms: args.platforms.map(|p| p.0),
    };
    let outcome = gate::diff(&request)?;
    render(&outcome, args.format, style, &args.repository.repo)
}

/// The `shard` part of one shard's JSON report.
fn read_shard(file: &PathBuf) -> Result<ShardData> {
    let shown = file.display();
    let meta = std::fs::metadata(file).with_context(|| format!("reading {shown}"))?;
    if !meta.is_file() {
        return Err(anyhow!("{shown} is not a file"));
    }
    if meta.len() > MAX_REPORT {
        return Err(anyhow!(
            "{shown} is {} bytes, more than a shard's report can be ({MAX_REPORT})",
            meta.len()
        ));
    }
    let text = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    let mut report: serde_json::Value = serde_json::from_slice(&text).map_err(|err| {
        anyhow!(
            "{shown} is not a JSON report: {err}\n\
             hint: give the output of `escape-gate diff --shard I/N --format json`"
        )
    })?;
    let shard = report
        .get_mut("shard")
        .map(serde_json::Value::take)
        .filter(|s| !s.is_null())
        .ok_or_else(|| {
            anyhow!(
                "{shown} is not the report of a shard (it has no `shard` field)\n\
                 hint: run each part with `escape-gate diff --shard I/N --format json`"
            )
        })?;
    let mut shard: ShardData = serde_json::from_value(shard).map_err(|err| {
        anyhow!(
            "{shown}: its `shard` field is not one this escape-gate reads: {err}\n\
             hint: run the shards and the merge with the same escape-gate"
        )
    })?;
    shard.origin = shown.to_string();
    Ok(shard)
}
