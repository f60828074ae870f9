//! The machine report: one JSON object, a public interface documented in schema/report.schema.json.
//! Bump [`SCHEMA_VERSION`] on any incompatible change.

use std::io::{self, Write};

use serde::Serialize;

use crate::allowlist::{AllowEntry, BuildConfig};
use crate::finding::Finding;
use crate::gate::{Outcome, Side};
use crate::matching::MovedBy;

/// 2: flow steps became objects (`text`, `changed`) instead of strings with a
/// `[changed]` suffix; `kind` names the heap finding (`moved_to_heap`,
/// `escapes_to_heap`) so it no longer reads like the `moved` array.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub new: &'a [Finding],
    /// New findings in functions under `profile.cold_below_percent` that no entry
    /// allows: listed, never failing.
    pub cold: &'a [Finding],
    pub fixed: &'a [Finding],
    pub moved: Vec<MovedJson<'a>>,
    pub allowed: Vec<AllowedJson<'a>>,
    pub stale_allow: Vec<StaleJson<'a>>,
    pub expired_allow: Vec<EntryJson<'a>>,
    pub warnings: &'a [String],
    /// What the head changes in the allowlist compared with the base; null when
    /// nothing (or when the allowlist is a file outside the repository).
    pub config_change: Option<ConfigChangeJson<'a>>,
    pub summary: Summary<'a>,
    /// The checks compared (`escapes`, `variable-make`, `inlining`, `bounds`,
    /// `gcassert`); `kind` of each finding says which one reported it.
    pub checks: Vec<crate::finding::Check>,
    /// With `diff --shard I/N`: what this shard's packages gave on both sides, for
    /// `escape-gate merge`. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<&'a crate::gate::ShardData>,
}

#[derive(Debug, Serialize)]
pub struct ConfigChangeJson<'a> {
    /// Repository-relative path of the allowlist compared.
    pub file: &'a str,
    /// Which side's allowlist ruled the comparison: `head` or `base`.
    pub rules: &'static str,
    /// Whether the base has no such file.
    pub base_missing: bool,
    /// Entries the head adds (or changes), each with the new escapes it allows (or
    /// would allow, when the base rules).
    pub added: Vec<AddedJson<'a>>,
    pub removed: Vec<EntryJson<'a>>,
    pub build: Option<BuildChangeJson<'a>>,
    /// `hot:` entries of the base the head no longer has.
    pub hot_removed: Vec<HotJson<'a>>,
    /// The checks of each side's file, when they differ.
    pub checks: Option<ChecksChangeJson>,
    /// The profile section of each side's file, when they differ.
    pub profile: Option<ProfileChangeJson<'a>>,
    /// Every new escape the head's allowlist allows (or would allow, when the base
    /// rules) that the base's allowlist would not, on the same findings, with the
    /// head's entry that allows it: the effect of the change, whatever its text (a
    /// reordering can allow more without adding an entry).
    pub loosened: Vec<AllowedJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ProfileChangeJson<'a> {
    pub base: &'a crate::allowlist::ProfileConfig,
    pub head: &'a crate::allowlist::ProfileConfig,
    pub line: Option<usize>,
    /// The changes that let more through (`hot_percent: 10 → 20`,
    /// `cold_below_percent: none → 1`, other files).
    pub loosens: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct HotJson<'a> {
    pub path: &'a str,
    pub function: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct ChecksChangeJson {
    pub base: Vec<crate::finding::Check>,
    pub head: Vec<crate::finding::Check>,
    pub line: Option<usize>,
    /// Checks the base has on that the head turns off.
    pub turned_off: Vec<crate::finding::Check>,
}

#[derive(Debug, Serialize)]
pub struct AddedJson<'a> {
    #[serde(flatten)]
    pub entry: EntryJson<'a>,
    pub covers: &'a [Finding],
}

#[derive(Debug, Serialize)]
pub struct BuildChangeJson<'a> {
    pub base: BuildJson<'a>,
    pub head: BuildJson<'a>,
    pub line: Option<usize>,
    /// Head packages the base's build section analyses and the head's does not;
    /// null when not computed (the base rules).
    pub no_longer_analysed: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
pub struct BuildJson<'a> {
    pub packages: &'a [String],
    pub exclude: &'a [String],
    pub tags: &'a [String],
    pub flags: &'a [String],
    /// `10m`, when the section has a timeout.
    pub timeout: Option<String>,
    /// The allowlist's `platforms:` (empty: the default platform).
    pub platforms: &'a [crate::go::Platform],
}

fn build_json(b: &BuildConfig) -> BuildJson<'_> {
    BuildJson {
        packages: &b.packages,
        exclude: &b.exclude,
        tags: &b.tags,
        flags: &b.flags,
        timeout: b.timeout.map(crate::interrupt::describe_duration),
        platforms: &b.platforms,
    }
}

fn config_change(outcome: &Outcome) -> Option<ConfigChangeJson<'_>> {
    let change = outcome.config_change.as_ref()?;
    Some(ConfigChangeJson {
        file: &change.file,
        rules: outcome.config_from.name(),
        base_missing: change.base_missing,
        added: change
            .added
            .iter()
            .map(|a| AddedJson {
                entry: entry(&change.file, &a.entry),
                covers: &a.covers,
            })
            .collect(),
        removed: change
            .removed
            .iter()
            .map(|e| EntryJson {
                line: None,
                ..entry(&change.file, e)
            })
            .collect(),
        build: change.build.as_ref().map(|b| BuildChangeJson {
            base: build_json(&b.base),
            head: build_json(&b.head),
            line: b.line,
            no_longer_analysed: b.no_longer_analysed.as_deref(),
        }),
        hot_removed: change
            .hot_removed
            .iter()
            .map(|h| HotJson {
                path: &h.path,
                function: h.function.as_deref(),
            })
            .collect(),
        checks: change.checks.as_ref().map(|c| ChecksChangeJson {
            base: c.base.iter().collect(),
            head: c.head.iter().collect(),
            line: c.line,
            turned_off: c.turned_off(),
        }),
        profile: change.profile.as_ref().map(|p| ProfileChangeJson {
            base: &p.base,
            head: &p.head,
            line: p.line,
            loosens: p
                .changes()
                .into_iter()
                .filter(|(_, weakens)| *weakens)
                .map(|(text, _)| text)
                .collect(),
        }),
        loosened: change
            .loosened
            .iter()
            .flat_map(|l| {
                l.findings.iter().map(|finding| AllowedJson {
                    finding,
                    allowed_by: entry(&change.file, &l.entry),
                })
            })
            .collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct MovedJson<'a> {
    #[serde(flatten)]
    pub to: &'a Finding,
    pub from: Location<'a>,
    /// What pairs them: `line` (the same line, in a renamed function), `package` (the
    /// package has as many of this escape as before), `name` (the same function, moved
    /// to another package), `rename` (the same place in the code, its names renamed).
    pub by: MovedBy,
    /// With `by: rename`: each identifier of the message renamed, old and new.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub renames: &'a [crate::matching::Rename],
}

#[derive(Debug, Serialize)]
pub struct Location<'a> {
    pub package: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
    pub function: &'a str,
    /// The base's message, when it differs from the head's (`by: rename`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct AllowedJson<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    pub allowed_by: EntryJson<'a>,
}

/// An entry that allowed nothing, with why.
#[derive(Debug, Serialize)]
pub struct StaleJson<'a> {
    #[serde(flatten)]
    pub entry: EntryJson<'a>,
    /// `in_base` (keep until the change that added the escape merges), `merged` or
    /// `gone` (remove), `unknown`.
    pub stale_because: &'static str,
    /// The same, in words, with what to do.
    pub advice: String,
}

#[derive(Debug, Serialize)]
pub struct EntryJson<'a> {
    pub file: &'a str,
    pub line: Option<usize>,
    pub path: &'a str,
    pub function: Option<&'a str>,
    pub message: Option<&'a str>,
    pub count: Option<u32>,
    pub reason: &'a str,
    pub expires: Option<String>,
    /// The check whose findings the entry allows (`escapes` unless it names one).
    pub check: crate::finding::Check,
    /// `stale: never`: a lasting rule, never reported stale.
    pub policy: bool,
    /// The platforms the entry is limited to (`platforms:`); absent for every one.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub platforms: &'a [crate::go::Platform],
}

#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub new: usize,
    pub fixed: usize,
    pub moved: usize,
    pub allowed: usize,
    pub unchanged: usize,
    pub go_version: &'a str,
    pub goos: &'a str,
    pub goarch: &'a str,
    pub base: RevisionJson,
    pub head: RevisionJson,
    /// Packages analysed (built with `-m` on both sides).
    pub packages: usize,
    /// Packages of the head in all, those the build section leaves out included.
    pub packages_total: usize,
    /// Packages of the head that the build section leaves out.
    pub packages_excluded: usize,
    /// Importers of changed packages not analysed: they refer to none of the changed
    /// declarations (symbol-level selection).
    pub packages_unaffected: usize,
    /// Which side's allowlist ruled: `head` or `base` (`--config-from`).
    pub config_from: &'static str,
    /// Why every package was analysed, when it was (null: only those the change can affect).
    pub all_packages_because: Option<&'a str>,
    pub cold: usize,
    /// The profiles that weighed the findings; null when none was read.
    pub profile: Option<&'a crate::gate::ProfileSummary>,
}

#[derive(Debug, Serialize)]
pub struct RevisionJson {
    /// What was asked for, or how it was chosen.
    pub spec: String,
    /// Full commit id; null for the working tree.
    pub commit: Option<String>,
    /// Whether its analysis came from the findings cache.
    pub cached: bool,
}

fn revision(side: &Side) -> RevisionJson {
    RevisionJson {
        spec: side.revision.spec.clone(),
        commit: side.revision.commit.map(|c| c.to_string()),
        cached: side.cached,
    }
}

fn entry<'a>(origin: &'a str, e: &'a AllowEntry) -> EntryJson<'a> {
    EntryJson {
        file: origin,
        line: e.line,
        path: &e.path,
        function: e.function.as_deref(),
        message: e.message.as_deref(),
        count: e.count,
        reason: &e.reason,
        expires: e.expires.map(|d| d.to_string()),
        check: e.check,
        policy: e.policy,
        platforms: &e.platforms,
    }
}

pub fn report(outcome: &Outcome) -> Report<'_> {
    let cmp = &outcome.comparison;
    let origin = outcome.config.origin.file.as_str();
    Report {
        schema_version: SCHEMA_VERSION,
        new: outcome.failing(),
        cold: &outcome.cold,
        fixed: &cmp.fixed,
        moved: cmp
            .moved
            .iter()
            .map(|m| MovedJson {
                to: &m.to,
                from: Location {
                    package: &m.from.package,
                    file: &m.from.file,
                    line: m.from.line,
                    column: m.from.column,
                    function: &m.from.function,
                    message: (m.from.message != m.to.message).then_some(m.from.message.as_str()),
                },
                by: m.by,
                renames: &m.renames,
            })
            .collect(),
        allowed: outcome
            .allowed()
            .map(|(finding, e)| AllowedJson {
                finding,
                allowed_by: entry(origin, e),
            })
            .collect(),
        stale_allow: outcome
            .stale_entries()
            .map(|(e, why)| StaleJson {
                entry: entry(origin, e),
                stale_because: why.name(),
                advice: why.advice(),
            })
            .collect(),
        expired_allow: outcome
            .expired_entries()
            .map(|e| entry(origin, e))
            .collect(),
        warnings: &outcome.warnings,
        config_change: config_change(outcome),
        summary: Summary {
            new: outcome.failing().len(),
            fixed: cmp.fixed.len(),
            moved: cmp.moved.len(),
            allowed: outcome.allow.allowed.len(),
            unchanged: cmp.unchanged.len(),
            go_version: &outcome.go.version,
            goos: &outcome.go.goos,
            goarch: &outcome.go.goarch,
            base: revision(&outcome.base),
            head: revision(&outcome.head),
            packages: outcome.scope.analysed,
            packages_total: outcome.scope.total,
            packages_excluded: outcome.scope.excluded,
            packages_unaffected: outcome.scope.unaffected,
            config_from: outcome.config_from.name(),
            all_packages_because: outcome.scope.all_because.as_deref(),
            cold: outcome.cold.len(),
            profile: outcome.profile.as_ref(),
        },
        checks: outcome.checks.iter().collect(),
        shard: outcome.shard.as_ref(),
    }
}

pub fn write(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &report(outcome))?;
    writeln!(out)
}
