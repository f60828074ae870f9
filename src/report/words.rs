//! The reports' shared vocabulary: every sentence that more than one format (or
//! command) says is written once, here, so the formats cannot drift apart. Formats
//! decorate these words (colour, Markdown, workflow-command escaping); they do not
//! rephrase them.

use crate::allowlist::{AllowEntry, Staleness};
use crate::finding::Finding;
use crate::gate::{Origin, Outcome, Scope};

/// The command that accepts the new escapes of `outcome`:
/// `escape-gate allow --reason "…" BASE [HEAD]`, with the checks and platforms the run
/// compared when they are not the allowlist's (`--checks`, `--platforms`), so that
/// `allow` compares what `diff` did. `on_branch`: for a report read away from the
/// checkout (a pull request's), the head is left out: the user runs it on the branch,
/// whose working tree is the head.
pub fn allow_command(outcome: &Outcome, on_branch: bool) -> String {
    let mut cmd = String::from("escape-gate allow --reason \"…\"");
    let config = &outcome.config.config;
    if config.checks.clone().unwrap_or_default() != outcome.checks {
        let names: Vec<&str> = outcome
            .checks
            .iter()
            .filter(|c| *c != crate::finding::Check::Gcassert)
            .map(crate::finding::Check::name)
            .collect();
        cmd.push_str(&format!(" --checks {}", names.join(",")));
    }
    if !outcome.go.analysed.is_empty() && outcome.go.analysed != config.build.platforms {
        let names: Vec<String> = outcome
            .go
            .analysed
            .iter()
            .map(ToString::to_string)
            .collect();
        cmd.push_str(&format!(" --platforms {}", names.join(",")));
    }
    for (side, wanted) in [(&outcome.base, true), (&outcome.head, !on_branch)] {
        match side.revision.commit {
            Some(commit) if wanted => {
                cmd.push(' ');
                cmd.push_str(&crate::git::short_oid(commit));
            }
            _ => {}
        }
    }
    cmd
}

/// `1 heap escape`, `2 heap escapes`, `1 entry`, `3 entries`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        return format!("{n} {noun}");
    }
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

/// Where a finding's copy comes from and how it was compared, when that is more than
/// its position says: `compiled in example.com/m/b; inlined into EncodeTo at
/// zstd/simple.go:25`, `in a hot path`, `position as the compiler printed it (not a
/// file of the checkout)`.
pub fn provenance(f: &Finding) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(site) = &f.inlined_into {
        parts.push(format!(
            "inlined into {} at {}:{}",
            site.function, site.file, site.line
        ));
    }
    if let Some(package) = &f.compiled_in {
        parts.push(format!("a copy compiled in package {package}"));
    }
    if f.unplaced {
        parts.push(
            "position as the compiler printed it (not a file of the checkout: a //line directive names it, or the name is not UTF-8)"
                .to_string(),
        );
    }
    if f.hot {
        parts.push("in a hot path".to_string());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A finding's share of the profile: `41.2% of CPU samples (3.0% in the function
/// itself)`, `0 samples`; `None` when no profile was read.
pub fn share(outcome: &Outcome, f: &Finding) -> Option<String> {
    let of = &outcome.profile.as_ref()?.of;
    Some(f.profile?.describe(of))
}

/// Why a cold finding does not fail: `cold: under 1% of CPU samples
/// (profile.cold_below_percent), so it does not fail the gate`.
pub fn cold_note(outcome: &Outcome) -> String {
    match &outcome.profile {
        Some(p) => format!(
            "cold: its function has under {} of {} (profile.cold_below_percent), so it does not fail the gate",
            crate::profile::percent(p.cold_below_percent.unwrap_or(0.0)),
            p.of
        ),
        None => "cold".to_string(),
    }
}

/// What a report counts: `heap escape` when every finding compared is a heap
/// allocation (escapes, variable-size make), `finding` when the inlining or bounds
/// checks, or `//gcassert:` directives, add findings of other kinds.
pub fn noun(outcome: &Outcome) -> &'static str {
    use crate::finding::Check;
    let other_checks =
        outcome.checks.contains(Check::Inlining) || outcome.checks.contains(Check::Bounds);
    let gcassert = [&outcome.base.findings, &outcome.head.findings]
        .iter()
        .any(|side| {
            side.iter()
                .any(|f| f.kind == crate::finding::Kind::Gcassert)
        });
    if other_checks || gcassert {
        "finding"
    } else {
        "heap escape"
    }
}

/// The first line of a comparison's report, without its `ok:`/`error:` label:
/// `no new heap escapes in H compared with B`, `2 new heap escapes in …`.
pub fn verdict(outcome: &Outcome) -> String {
    let failing = outcome.failing().len();
    let what = match failing {
        0 => format!("no new {}s", noun(outcome)),
        n => count(n, &format!("new {}", noun(outcome))),
    };
    format!(
        "{what} in {} compared with {}",
        outcome.head.revision.label(),
        outcome.base.revision.label()
    )
}

/// The parts of the closing summary line, for formats that decorate some of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `1 new, 0 fixed, 0 moved, 0 allowed heap escapes`
    pub counts: String,
    /// See [`scope`].
    pub scope: String,
    /// `go1.26.8 linux/amd64`
    pub go: String,
    pub base: String,
    pub head: String,
    /// `profile cmd/server/default.pgo`, when profiles weighed the findings.
    pub profile: Option<String>,
}

impl Summary {
    pub fn of(outcome: &Outcome) -> Summary {
        let cmp = &outcome.comparison;
        let cold = match &outcome.profile {
            Some(p) if p.cold_below_percent.is_some() => format!(", {} cold", outcome.cold.len()),
            _ => String::new(),
        };
        Summary {
            counts: format!(
                "{} new, {} fixed, {} moved, {} allowed{cold} {}s",
                outcome.failing().len(),
                cmp.fixed.len(),
                cmp.moved.len(),
                outcome.allow.allowed.len(),
                noun(outcome)
            ),
            profile: outcome.profile.as_ref().map(|p| {
                let files: Vec<&str> = p.files.iter().map(|f| f.file.as_str()).collect();
                format!(
                    "{} {}",
                    if files.len() == 1 {
                        "profile"
                    } else {
                        "profiles"
                    },
                    files.join(", ")
                )
            }),
            scope: scope(&outcome.scope),
            go: outcome.go.describe(),
            base: outcome.base.revision.label(),
            head: outcome.head.revision.label(),
        }
    }

    /// `1 new, … heap escapes · 3 of 3 packages analysed · go1.26.8 linux/amd64 · base B · head H`
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} · {} · {} · base {} · head {}",
            self.counts, self.scope, self.go, self.base, self.head
        );
        if let Some(profile) = &self.profile {
            line.push_str(&format!(" · {profile}"));
        }
        line
    }
}

/// What each count of the summary line means, for the `--help` of the commands that
/// print one (`diff`, `merge`). The JSON schema's `summary` says the same.
pub const COUNTS_LEGEND: &str = "\
The closing line counts heap escapes (findings, when other checks are on):
  new        in the head and not in the base, and not allowed: they fail the gate
  fixed      in the base, no longer in the head
  moved      the same allocation in another function of the head (a renamed function,
             code moved between functions or packages), or at the same place under
             renamed names (`--show-fixed` lists those): paired, neither new nor fixed
  allowed    new, but accepted by an allowlist entry
An escape that stays in its function is unchanged and not counted there, wherever the
function went (another line, another file, a renamed file); the report notes how many
changed place that way. `--format json` has every count, `unchanged` included.";

/// A note for when `moved` could surprise: escapes of the head at another line or file
/// than in the base, in the same function, are unchanged, not moved. `None` when no
/// unchanged escape changed place.
pub fn moved_note(outcome: &Outcome) -> Option<String> {
    let relocated = outcome
        .comparison
        .unchanged
        .iter()
        .filter(|(base, head)| (&base.file, base.line) != (&head.file, head.line))
        .count();
    (relocated > 0).then(|| {
        format!(
            "{} changed line or file, not function: unchanged, not moved \
             (see `escape-gate diff --help`)",
            count(relocated, noun(outcome))
        )
    })
}

/// `3 of 31 packages analysed`, with the packages the build section leaves out and why
/// every other one was analysed, when it was. Always true: the total counts every
/// package of the head.
pub fn scope(scope: &Scope) -> String {
    let mut text = format!(
        "{} of {} analysed",
        scope.analysed,
        count(scope.total, "package")
    );
    let mut why = Vec::new();
    if scope.excluded > 0 {
        why.push(format!("{} left out by the build section", scope.excluded));
    }
    if let Some(reason) = &scope.all_because {
        why.push(match scope.excluded {
            0 => format!("all because {reason}"),
            _ => format!("all the others because {reason}"),
        });
    }
    if !why.is_empty() {
        text.push_str(&format!(" ({})", why.join("; ")));
    }
    text
}

/// Where an allowlist entry is: `.escape-gate.yml:12 (in head 1a2b3c4)`, or the file
/// alone when the line is unknown.
pub fn entry_place(origin: &Origin, entry: &AllowEntry) -> String {
    origin.at(entry.line)
}

/// An entry that allowed nothing in this comparison, with why and what to do.
pub fn stale_entry(origin: &Origin, entry: &AllowEntry, why: &Staleness) -> String {
    format!(
        "allowlist entry at {} allowed nothing (path {:?}): {}",
        entry_place(origin, entry),
        entry.path,
        why.advice()
    )
}

/// An entry past its `expires` date.
pub fn expired_entry(origin: &Origin, entry: &AllowEntry) -> String {
    let expires = entry.expires.map(|d| d.to_string()).unwrap_or_default();
    format!(
        "allowlist entry at {} expired on {expires} and allows nothing (path {:?})",
        entry_place(origin, entry),
        entry.path
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1, "package"), "1 package");
        assert_eq!(count(0, "package"), "0 packages");
        assert_eq!(count(2, "new heap escape"), "2 new heap escapes");
        assert_eq!(count(1, "entry"), "1 entry");
        assert_eq!(count(3, "entry"), "3 entries");
        assert_eq!(count(2, "key"), "2 keys");
    }

    #[test]
    fn scope_is_always_true() {
        let scope_of = |analysed, total, excluded, all: Option<&str>| Scope {
            analysed,
            total,
            excluded,
            all_because: all.map(str::to_string),
            selected: None,
            unaffected: 0,
            mains: Vec::new(),
        };
        assert_eq!(
            scope(&scope_of(3, 31, 0, None)),
            "3 of 31 packages analysed"
        );
        assert_eq!(
            scope(&scope_of(31, 31, 0, Some("go.mod changed"))),
            "31 of 31 packages analysed (all because go.mod changed)"
        );
        assert_eq!(
            scope(&scope_of(12, 14, 2, Some("--all-packages"))),
            "12 of 14 packages analysed (2 left out by the build section; all the others because --all-packages)"
        );
        assert_eq!(scope(&scope_of(1, 1, 0, None)), "1 of 1 package analysed");
    }
}
