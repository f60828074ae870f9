//! `escape-gate allow --reason "…" [BASE] [HEAD]`: accept the current new heap escapes
//! by appending one allowlist entry per escape to the allowlist file; `--prune` removes
//! instead the entries no comparison needs any more (their escape is gone, or merged),
//! saying why for each. The file is edited as text
//! ([`crate::allowlist::edit`]), so its comments and order stay as they were.
//!
//! Which file: `--config FILE`, else `.escape-gate.yml` in the repository's working
//! tree, whatever HEAD is, because that is the file you edit and commit. The
//! comparison is run with that same file as its allowlist, so the entries added (or
//! found stale) are exactly those the file needs. The gate itself reads the allowlist of
//! the head revision: with a committed HEAD, the new entries count once the file is
//! committed (or when `diff` is given `--config .escape-gate.yml`); the command says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::allowlist::edit::{self, NewEntry};
use crate::allowlist::{Config, Date, Staleness};
use crate::commands::shared::Repository;
use crate::config_change::ConfigFrom;
use crate::exit::Exit;
use crate::gate::{
    self, ConfigChoice, ConfigPlace, DiffRequest, LoadedConfig, Origin, MAX_CONFIG_READ,
};
use crate::git::Repo;
use crate::home::CONFIG_FILE;
use crate::report::words::{self, entry_place};
use crate::safe_write::{self, Options};
use crate::tree::{self, ReadError};

/// Accept the new heap escapes: append an allowlist entry for each, with a reason.
///
/// Runs the same comparison as `escape-gate diff BASE HEAD` and appends one entry per
/// new escape (path, function, message, count when it repeats, the reason, the expiry
/// date if given) to the allowlist, keeping the file's content, comments and order; the
/// file is created with `version: 1` when absent. Afterwards the gate passes on these
/// revisions. With --prune, removes instead the entries no comparison needs any more
/// (their escape is gone, or has merged), saying why for each.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The revision to compare against [default: as for diff]
    pub base: Option<String>,
    /// The revision to check [default: the working tree]
    pub head: Option<String>,
    /// Why these allocations are acceptable; stored in every entry (required)
    #[arg(long, value_name = "TEXT", required_unless_present = "prune")]
    pub reason: Option<String>,
    /// Last day the entries allow anything (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with = "prune")]
    pub expires: Option<Date>,
    /// Print what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove the entries no comparison needs any more: those that matched no new escape
    /// because their escape is gone, or is in a base on the default branch (merged);
    /// says why for each, and keeps those whose escape has not merged yet
    #[arg(long, conflicts_with = "reason")]
    pub prune: bool,
    /// The checks to compare, as for diff --checks, instead of the allowlist's
    /// `checks:`: what `diff --checks LIST` reported is accepted with the same LIST
    #[arg(long, value_name = "LIST", value_parser = crate::commands::diff::parse_checks)]
    pub checks: Option<crate::checks::Checks>,
    /// The platforms to build, as for diff --platforms, instead of the allowlist's
    /// `platforms:`; an escape of some of them gets an entry limited to those
    #[arg(long, value_name = "LIST", value_parser = crate::commands::diff::parse_platforms)]
    pub platforms: Option<crate::commands::diff::Platforms>,
    #[command(flatten)]
    pub repository: Repository,
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).ok_or_else(|| format!("{s:?} is not a date (expected YYYY-MM-DD)"))
}

pub fn run(args: Args) -> Result<Exit> {
    // What is printed quotes the compiler and the repository: it is printed inert
    // (see `inert`), also when the edit then fails.
    let mut out = Vec::new();
    let result = edit_allowlist(args, &mut out);
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    stdout.write_all(&crate::report::inert_text(&out))?;
    stdout.flush()?;
    result
}

fn edit_allowlist(args: Args, out: &mut Vec<u8>) -> Result<Exit> {
    let repo = Repo::open(&args.repository.repo)?;
    let file = AllowlistFile::of(&repo, args.repository.config.as_deref());
    let origin = file.origin.clone();
    let existing = file.read()?;
    let text = existing.clone().unwrap_or_default();
    let config = Config::parse(&text, &origin)?;
    if let Some(reason) = &args.reason {
        if reason.trim().is_empty() {
            bail!("--reason is empty\nhint: say why the allocation is acceptable, for the reviewer who reads the entry");
        }
    }
    let today = Date::today_utc();
    if let Some(expires) = args.expires {
        if expires < today {
            bail!(
                "--expires {expires} is in the past: the entries would never allow anything\n\
                 hint: give a date from today on (YYYY-MM-DD)"
            );
        }
    }

    // Compare with the file about to be edited as the allowlist; an absent file is
    // an empty one, not the head revision's.
    let outcome = gate::diff(&DiffRequest {
        repo: args.repository.repo.clone(),
        base: args.base.clone(),
        head: args.head.clone(),
        config: ConfigChoice::Given(Box::new(LoadedConfig {
            origin: Origin::file(origin.clone()),
            path: None,
            config: config.clone(),
        })),
        // The file being edited is the one the comparison must use.
        config_from: ConfigFrom::Head,
        tags: args.repository.tags.clone(),
        today: Some(today),
        explain: false,
        all_packages: false,
        excerpts: false,
        checks: args.checks.clone(),
        shard: None,
        from_shards: None,
        profiles: Vec::new(),
        platforms: args.platforms.clone().map(|p| p.0),
    })?;
    let verb = |done: &str, would: &str| {
        if args.dry_run {
            would.to_string()
        } else {
            done.to_string()
        }
    };
    for &i in &outcome.allow.expired {
        let entry = &config.allow[i];
        let expires = entry.expires.map(|d| d.to_string()).unwrap_or_default();
        writeln!(
            out,
            "note: the entry at {} expired on {expires}; it allows nothing (path {:?})",
            entry_place(&Origin::file(origin.clone()), entry),
            entry.path
        )?;
    }
    let comparing = format!(
        "{} compared with {}",
        outcome.head.revision.label(),
        outcome.base.revision.label()
    );

    if args.prune {
        let stale: Vec<(usize, Staleness)> = outcome
            .allow
            .stale
            .iter()
            .copied()
            .zip(outcome.stale_entries().map(|(_, why)| why))
            .collect();
        if stale.is_empty() {
            writeln!(out, "no stale entries in {origin} ({comparing})")?;
            return Ok(Exit::Clean);
        }
        let (removed, kept): (Vec<_>, Vec<_>) = stale.iter().partition(|(_, why)| why.removable());
        let describe = |i: usize| {
            let entry = &config.allow[i];
            format!(
                "{}: path {:?}{}{} (reason: {})",
                entry_place(&Origin::file(origin.clone()), entry),
                entry.path,
                entry
                    .function
                    .as_ref()
                    .map(|f| format!(", function {f:?}"))
                    .unwrap_or_default(),
                entry
                    .message
                    .as_ref()
                    .map(|m| format!(", message {m:?}"))
                    .unwrap_or_default(),
                entry.reason
            )
        };
        if removed.is_empty() {
            writeln!(
                out,
                "removed nothing from {origin}: no entry that matched no new escape in \
                 {comparing} can go yet"
            )?;
        } else {
            writeln!(
                out,
                "{} {} from {origin}, which matched no new escape in {comparing}:",
                verb("removed", "would remove"),
                words::count(removed.len(), "stale entry"),
            )?;
            for (i, why) in &removed {
                writeln!(out, "  {}\n      why: {}", describe(*i), why.why())?;
            }
        }
        if !kept.is_empty() {
            writeln!(out, "kept {}:", words::count(kept.len(), "stale entry"))?;
        }
        for (i, why) in &kept {
            writeln!(out, "  {}\n      why: {}", describe(*i), why.why())?;
        }
        if !args.dry_run && !removed.is_empty() {
            let indices: Vec<usize> = removed.iter().map(|(i, _)| *i).collect();
            let edited = edit::remove(&text, &config, &indices)
                .with_context(|| format!("removing stale entries from {origin}"))?;
            file.write(&edited)?;
        }
        return Ok(Exit::Clean);
    }

    let failing = outcome.failing();
    if failing.is_empty() {
        writeln!(out, "nothing to allow: no new heap escapes in {comparing}")?;
        return Ok(Exit::Clean);
    }
    let reason = args
        .reason
        .as_deref()
        .expect("clap requires --reason unless --prune");
    let mut entries = NewEntry::for_findings(failing, reason, args.expires);
    // An escape of every analysed platform is allowed on every platform.
    for e in &mut entries {
        if e.platforms == outcome.go.analysed {
            e.platforms.clear();
        }
    }
    let edited =
        edit::append(&text, &entries).with_context(|| format!("adding entries to {origin}"))?;
    writeln!(
        out,
        "{} {} to {origin}{} for {} in {comparing}:",
        verb("added", "would add"),
        words::count(entries.len(), "entry"),
        if existing.is_none() {
            verb(" (created)", " (to be created)")
        } else {
            String::new()
        },
        words::count(failing.len(), "new heap escape"),
    )?;
    for e in &entries {
        write!(out, "{}", e.to_yaml("  ", "\n"))?;
    }
    if !args.dry_run {
        file.write(&edited)?;
    }
    if args.repository.config.is_none() && !outcome.head.revision.is_working_tree() {
        writeln!(
            out,
            "note: the gate reads {CONFIG_FILE} from the head revision ({}), which does not have these entries yet:\n\
             \x20     commit the file and compare the new commit, or pass `--config {CONFIG_FILE}` to escape-gate diff",
            outcome.head.revision.label()
        )?;
    }
    Ok(Exit::Clean)
}

/// The allowlist file `allow` edits: a directory reached as the user named it (the
/// repository's root, or the directory of a `--config` file outside the repository)
/// and a path below it that is read and written without following any link, so a
/// link committed as `.escape-gate.yml` (or as a directory on the way) is refused.
struct AllowlistFile {
    anchor: PathBuf,
    rel: String,
    origin: String,
}

impl AllowlistFile {
    fn of(repo: &Repo, config: Option<&Path>) -> AllowlistFile {
        let origin = config.map_or_else(|| CONFIG_FILE.to_string(), |p| p.display().to_string());
        match ConfigPlace::of(repo, config) {
            ConfigPlace::Repo { rel, .. } => AllowlistFile {
                anchor: repo.root().to_path_buf(),
                rel,
                origin,
            },
            ConfigPlace::Outside(path) => {
                let anchor = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let rel = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                AllowlistFile {
                    anchor,
                    rel,
                    origin,
                }
            }
        }
    }

    /// The file's text, `None` when there is none; at most [`MAX_CONFIG_READ`] bytes.
    fn read(&self) -> Result<Option<String>> {
        match tree::read_bytes_in_tree(&self.anchor, &self.rel, MAX_CONFIG_READ) {
            Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                anyhow::anyhow!(
                    "the allowlist {} is not UTF-8 text
hint: save it as UTF-8 (YAML files are)",
                    self.origin
                )
            }),
            Err(ReadError::Missing) => Ok(None),
            Err(err) => bail!(
                "cannot read the allowlist {}: {err}\n\
                 hint: escape-gate reads and writes the allowlist without following links; \
                 make {} a regular file, or pass --config FILE",
                self.origin,
                self.origin
            ),
        }
    }

    fn write(&self, text: &str) -> Result<()> {
        safe_write::write(&self.anchor, &self.rel, text.as_bytes(), Options::FILE).map_err(
            |err| {
                anyhow::anyhow!(
                    "cannot write the allowlist {}: {err}; nothing was written\n\
                     hint: make {} a regular file (not a link), or pass --config FILE",
                    self.origin,
                    self.origin
                )
            },
        )?;
        Ok(())
    }
}
