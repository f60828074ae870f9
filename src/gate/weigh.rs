//! Weighing the findings by a CPU profile: which profiles are read, from where (the
//! trust rules of the allowlist: a repository's profile comes from the revision whose
//! allowlist rules, `--profile` from the user's own file system), each finding's share,
//! the order of the new findings, and the policy (`profile.hot_percent`,
//! `profile.cold_below_percent`).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::allowlist::ProfileConfig;
use crate::config_change::ConfigFrom;
use crate::finding::{Finding, Kind};
use crate::git::{Repo, Revision};
use crate::profile::{self, FileSummary, Share, Source, Weights};
use crate::tree::{self, ReadError};

use super::scope::Scope;

/// The profiles a comparison read, and the policy on their shares.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub weights: Weights,
    /// Import paths of the head's main packages.
    mains: HashSet<String>,
    pub hot_percent: Option<f64>,
    pub cold_below_percent: Option<f64>,
}

/// What the reports say about the profiles read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSummary {
    /// Each profile read, as the report names it, with its number of samples.
    pub files: Vec<FileSummary>,
    /// The type and unit of the values compared, e.g. `cpu nanoseconds`.
    pub sample_type: String,
    /// `profile.hot_percent` of the allowlist that rules.
    pub hot_percent: Option<f64>,
    /// `profile.cold_below_percent` of the allowlist that rules.
    pub cold_below_percent: Option<f64>,
    /// `CPU samples`: what the shares are of, for the human formats.
    #[serde(skip)]
    pub of: String,
}

impl Profiles {
    /// The share of `f`'s function.
    pub fn share(&self, f: &Finding) -> Share {
        if f.unplaced {
            return Share::default();
        }
        self.weights
            .share(&f.package, &f.function, self.mains.contains(&f.package))
    }

    /// Whether `f`'s function is hot by `profile.hot_percent`.
    pub fn is_hot(&self, f: &Finding) -> bool {
        self.hot_percent.is_some_and(|n| {
            !f.unplaced && !f.function.is_empty() && self.share(f).cum_percent >= n
        })
    }

    /// Sets each finding's share.
    pub fn weigh(&self, findings: &mut [Finding]) {
        for f in findings {
            f.profile = Some(self.share(f));
        }
    }

    /// Splits `remaining` (new findings no entry allows) into those that fail and those
    /// in functions under `profile.cold_below_percent`, which never fail. A gcassert
    /// violation is a promise the code made, never cold.
    pub fn split_cold(&self, remaining: Vec<Finding>) -> (Vec<Finding>, Vec<Finding>) {
        let Some(limit) = self.cold_below_percent else {
            return (remaining, Vec::new());
        };
        remaining.into_iter().partition(|f| {
            f.kind == Kind::Gcassert
                || f.unplaced
                || f.profile.unwrap_or_else(|| self.share(f)).cum_percent >= limit
        })
    }

    pub fn summary(&self) -> ProfileSummary {
        ProfileSummary {
            files: self.weights.files.clone(),
            sample_type: self.weights.sample_type.clone(),
            hot_percent: self.hot_percent,
            cold_below_percent: self.cold_below_percent,
            of: self.weights.of(),
        }
    }
}

/// Orders findings by their function's share, highest first; ties keep their order.
pub fn by_share(findings: &mut [Finding]) {
    let cum = |f: &Finding| f.profile.map_or(0.0, |s| s.cum_percent);
    findings.sort_by(|a, b| cum(b).total_cmp(&cum(a)));
}

/// Where the profiles of a comparison come from.
#[derive(Debug)]
pub(crate) struct ProfileRequest<'a> {
    pub repo: &'a Repo,
    /// `--profile FILE`: the user's own files, which replace the allowlist's.
    pub given: &'a [PathBuf],
    pub config: &'a ProfileConfig,
    pub config_from: ConfigFrom,
    pub base: &'a Revision,
    pub head: &'a Revision,
    pub scope: &'a Scope,
}

/// Reads the profiles: `--profile` files, else the allowlist's `profile.files`, else
/// the `default.pgo` of each main package of the head; `None` when there is none.
/// Repository files come from the revision whose allowlist rules, never through a link.
pub(crate) fn load_profiles(
    req: &ProfileRequest<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<Profiles>> {
    let (rev, side) = match req.config_from {
        ConfigFrom::Head => (req.head, "head"),
        ConfigFrom::Base => (req.base, "base"),
    };
    let mut sources = Vec::new();
    if !req.given.is_empty() {
        for path in req.given {
            sources.push(Source {
                name: path.display().to_string(),
                bytes: read_user_file(path)?,
                main_package: None,
            });
        }
    } else if !req.config.files.is_empty() {
        for rel in &req.config.files {
            let Some(bytes) = read_revision_file(req.repo, rev, rel, side)? else {
                bail!(
                    "profile.files: {rel} is not in {side} {}\n\
                     hint: commit the profile, or remove it from the allowlist's profile section",
                    rev.label()
                );
            };
            sources.push(Source {
                name: rel.clone(),
                bytes,
                main_package: None,
            });
        }
    } else {
        for main in req.scope.mains.iter().filter(|m| m.default_pgo) {
            let rel = main.default_pgo_path();
            match read_revision_file(req.repo, rev, &rel, side)? {
                Some(bytes) => sources.push(Source {
                    name: rel,
                    bytes,
                    main_package: Some(main.import_path.clone()),
                }),
                None => warnings.push(format!(
                    "{rel} of the head is not read: the {side}, whose allowlist rules, has no such \
                     file (--config-from {side})"
                )),
            }
        }
    }
    let policy = req.config.hot_percent.is_some() || req.config.cold_below_percent.is_some();
    // A head that edits the profile its own allowlist weighs it with changes what is hot
    // and cold as surely as an edit of the thresholds: say so, as for the allowlist.
    if policy && req.given.is_empty() && req.config_from == ConfigFrom::Head {
        for source in &sources {
            let base = read_revision_file(req.repo, req.base, &source.name, "base")
                .ok()
                .flatten();
            if base.as_deref() != Some(source.bytes.as_slice()) {
                warnings.push(format!(
                    "the head {} the profile {}, whose shares decide which new escapes are hot                      or cold in this comparison (profile.hot_percent, profile.cold_below_percent);                      review it as you review the allowlist, or compare with --config-from base",
                    if base.is_some() { "changes" } else { "adds" },
                    source.name
                ));
            }
        }
    }
    if sources.is_empty() {
        if policy {
            warnings.push(
                "the allowlist's profile section sets a policy, but no profile was read (no \
                 --profile, no profile.files, no default.pgo of a main package): no function \
                 is hot or cold by its share"
                    .to_string(),
            );
        }
        return Ok(None);
    }
    let weights = Weights::load(&sources)?;
    if weights.is_empty() {
        warnings.push(format!(
            "the profile{} {} hold no samples: every function has 0 samples",
            if sources.len() == 1 { "" } else { "s" },
            sources
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Some(Profiles {
        weights,
        mains: req
            .scope
            .mains
            .iter()
            .map(|m| m.import_path.clone())
            .collect(),
        hot_percent: req.config.hot_percent,
        cold_below_percent: req.config.cold_below_percent,
    }))
}

/// A `--profile` file: the user's own, read with a bound.
fn read_user_file(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(profile::MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading the profile {}", path.display()))?;
    if bytes.len() as u64 > profile::MAX_FILE_BYTES {
        bail!(
            "the profile {} is larger than {} bytes (64 MiB); escape-gate reads no larger profile",
            path.display(),
            profile::MAX_FILE_BYTES
        );
    }
    Ok(bytes)
}

/// The regular file `rel` of `rev` (a commit's blob, or the working tree's file read
/// without following a link), `None` when there is nothing at that path.
fn read_revision_file(
    repo: &Repo,
    rev: &Revision,
    rel: &str,
    side: &str,
) -> Result<Option<Vec<u8>>> {
    let limit = profile::MAX_FILE_BYTES;
    let too_large = |size: u64| {
        anyhow::anyhow!(
            "the profile {rel} in {side} {} is {size} bytes; escape-gate reads profiles of at most {limit} bytes (64 MiB)",
            rev.label()
        )
    };
    match rev.commit {
        Some(commit) => match repo.file_size(commit, rel) {
            Some(size) if size > limit => Err(too_large(size)),
            Some(_) => Ok(repo.read_file(commit, rel)),
            None if repo.has_path(commit, rel) => bail!(
                "the profile {rel} in {side} {} is not a regular file (a symbolic link, a directory \
                 or a submodule)\nhint: commit the profile itself; escape-gate never follows a link to read one",
                rev.label()
            ),
            None => Ok(None),
        },
        None => match tree::read_bytes_in_tree(repo.root(), rel, limit) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ReadError::Missing) => Ok(None),
            Err(ReadError::TooLarge(_)) => Err(too_large(limit + 1)),
            Err(err) => bail!(
                "cannot read the profile {rel} of the working tree: {err}\n\
                 hint: escape-gate reads the working tree's files without following links"
            ),
        },
    }
}
