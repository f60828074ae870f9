//! The "Allow" stage: the text of `.escape-gate.yml` in, a validated [`Config`] out; the
//! new findings in, which of them are allowed, which remain (and fail the gate) and which
//! allowlist entries are stale or expired out. Pure: no I/O, and "today" is a parameter.
//!
//! Validation happens while deserialising (custom visitors that return
//! `serde::de::Error::custom`), because that is the only way yaml_serde attaches the
//! position and path of the offending *value* to the error; a check made after the value
//! has been deserialised only gets the position of the enclosing mapping.
//!
//! An empty document (empty file, only comments, only `---`, or `null`) is accepted as
//! `version: 1` with no build settings and no entries: a freshly created file should not
//! break the gate. Any other document must say `version: 1`.

pub mod edit;
pub mod prescan;

mod date;
mod de;
mod error;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

pub use date::Date;
pub use error::ConfigError;

use std::fmt;

use globset::GlobMatcher;

use crate::checks::{Check, Checks};
use crate::finding::Finding;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub build: BuildConfig,
    pub allow: Vec<AllowEntry>,
    /// `hot:`: functions where an escape that moves in is new, not moved.
    pub hot: Vec<HotPath>,
    /// `checks:`, when the file names them; the default set
    /// ([`crate::checks::Checks::default`]) otherwise.
    pub checks: Option<Checks>,
    /// `profile:`: which profiles weigh the findings, and the policy on their shares.
    pub profile: ProfileConfig,
}

/// The `profile:` section: CPU profiles in the repository and what their shares decide.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ProfileConfig {
    /// Repository-relative paths of pprof profiles (no `..`, no link), read from the
    /// revision whose allowlist rules.
    pub files: Vec<String>,
    /// Functions with at least this share of the samples (`cum_percent`) are hot.
    pub hot_percent: Option<f64>,
    /// New findings in functions under this share are `cold`: listed, never failing.
    pub cold_below_percent: Option<f64>,
}

// The percentages are validated finite numbers.
impl Eq for ProfileConfig {}

impl ProfileConfig {
    /// What the head's section (`self`) changes compared with the base's, each change
    /// with whether it lets through what the base's would fail (a higher or removed
    /// hot threshold, a higher or new cold one, other profiles).
    pub fn changes_from(&self, base: &ProfileConfig) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let number = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
        if base.hot_percent != self.hot_percent {
            let weakens = match (base.hot_percent, self.hot_percent) {
                (Some(_), None) => true,
                (Some(b), Some(h)) => h > b,
                _ => false,
            };
            out.push((
                format!(
                    "hot_percent: {} → {}",
                    number(base.hot_percent),
                    number(self.hot_percent)
                ),
                weakens,
            ));
        }
        if base.cold_below_percent != self.cold_below_percent {
            let weakens = match (base.cold_below_percent, self.cold_below_percent) {
                (None, Some(_)) => true,
                (Some(b), Some(h)) => h > b,
                _ => false,
            };
            out.push((
                format!(
                    "cold_below_percent: {} → {}",
                    number(base.cold_below_percent),
                    number(self.cold_below_percent)
                ),
                weakens,
            ));
        }
        if base.files != self.files {
            out.push((
                format!(
                    "files: {} → {}",
                    flow_list(&base.files),
                    flow_list(&self.files)
                ),
                true,
            ));
        }
        out
    }
}

/// `["a", "b"]`, or `[]`: YAML's flow style, the way the file spells it.
pub(crate) fn flow_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// One `hot:` entry: the functions it names are hot paths, where the gate stays strict
/// (an escape that moves into one from elsewhere in the package is new).
#[derive(Clone)]
pub struct HotPath {
    /// Glob on the repository-relative path, as in `allow`.
    pub path: String,
    /// Wildcard (`*`, `?`) on the compiler's function name; every function of the
    /// files when absent.
    pub function: Option<String>,
    path_matcher: GlobMatcher,
    function_matcher: Option<Wildcard>,
}

impl PartialEq for HotPath {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.function == other.function
    }
}

impl Eq for HotPath {}

impl fmt::Debug for HotPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotPath")
            .field("path", &self.path)
            .field("function", &self.function)
            .finish()
    }
}

impl HotPath {
    /// Whether the finding's function is one this entry names.
    pub fn matches(&self, finding: &Finding) -> bool {
        !finding.function.is_empty()
            && self.path_matcher.is_match(&finding.file)
            && self
                .function_matcher
                .as_ref()
                .is_none_or(|w| w.is_match(&finding.function))
    }

    /// `path` or `path function`, for reports.
    pub fn describe(&self) -> String {
        match &self.function {
            Some(function) => format!("{} {function}", self.path),
            None => self.path.clone(),
        }
    }
}

impl Config {
    /// Whether a `hot:` entry names the finding's function.
    pub fn is_hot(&self, finding: &Finding) -> bool {
        self.hot.iter().any(|h| h.matches(finding))
    }

    /// The checks the file asks for, or the default ones.
    pub fn checks(&self) -> Checks {
        self.checks.clone().unwrap_or_default()
    }
}

/// The optional `build:` section: what to compile and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildConfig {
    pub packages: Vec<String>,
    pub exclude: Vec<String>,
    pub tags: Vec<String>,
    pub flags: Vec<String>,
    /// `timeout: 10m`: how long a run may take (see `--timeout`).
    pub timeout: Option<std::time::Duration>,
    /// The top-level `platforms:` (`GOOS/GOARCH`): what each side is built for; the
    /// default platform when empty. Kept with the build section because it decides
    /// what is built, so that a head that narrows it is reported as a build change.
    pub platforms: Vec<crate::go::Platform>,
}

impl BuildConfig {
    /// Whether the two sections compile the same packages the same way (they may differ
    /// in `timeout`, which changes no result).
    pub fn compiles_like(&self, other: &BuildConfig) -> bool {
        (
            &self.packages,
            &self.exclude,
            &self.tags,
            &self.flags,
            &self.platforms,
        ) == (
            &other.packages,
            &other.exclude,
            &other.tags,
            &other.flags,
            &other.platforms,
        )
    }
}

/// Field-for-field the YAML entry, validated, plus its compiled matchers.
#[derive(Clone)]
pub struct AllowEntry {
    /// Glob on the repository-relative, `/`-separated path (`*` stops at `/`, `**` does not).
    pub path: String,
    /// Wildcard (`*`, `?`) on the compiler's function name.
    pub function: Option<String>,
    /// Wildcard (`*`, `?`) on the full compiler message.
    pub message: Option<String>,
    /// At most this many new findings are allowed by this entry; `None` is unlimited.
    pub count: Option<u32>,
    pub reason: String,
    /// Last day (inclusive) on which the entry allows anything.
    pub expires: Option<Date>,
    /// 1-based line of the entry in the file, when known
    pub line: Option<usize>,
    /// The check whose findings the entry allows (`check:`); `escapes` when left out,
    /// which keeps allowlists written before there were checks meaning what they did.
    pub check: Check,
    /// `platforms:`: the entry allows only findings of these platforms (every one of
    /// the finding's); every platform when empty.
    pub platforms: Vec<crate::go::Platform>,
    /// `stale: never`: a lasting rule (every `append` of the `Append*` functions), not
    /// an exception that travels with one change; reported as policy and never stale.
    pub policy: bool,
    path_matcher: GlobMatcher,
    function_matcher: Option<Wildcard>,
    message_matcher: Option<Wildcard>,
}

// The compiled matchers are derived from the public source text, so comparing and
// printing the public fields is enough (and GlobMatcher has no PartialEq).
impl PartialEq for AllowEntry {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.function == other.function
            && self.message == other.message
            && self.count == other.count
            && self.reason == other.reason
            && self.expires == other.expires
            && self.line == other.line
            && self.check == other.check
            && self.platforms == other.platforms
            && self.policy == other.policy
    }
}

impl Eq for AllowEntry {}

impl fmt::Debug for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowEntry")
            .field("path", &self.path)
            .field("function", &self.function)
            .field("message", &self.message)
            .field("count", &self.count)
            .field("reason", &self.reason)
            .field("expires", &self.expires)
            .field("line", &self.line)
            .field("check", &self.check)
            .field("platforms", &self.platforms)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AllowEntry {
    /// Whether two entries say the same thing, whatever their lines (which moving an
    /// entry, or an edit above it, shifts).
    pub fn same_content(&self, other: &AllowEntry) -> bool {
        self.path == other.path
            && self.function == other.function
            && self.message == other.message
            && self.count == other.count
            && self.reason == other.reason
            && self.expires == other.expires
            && self.check == other.check
            && self.platforms == other.platforms
            && self.policy == other.policy
    }

    /// Whether the glob of `path:` matches a repository-relative path.
    pub fn path_matches(&self, path: &str) -> bool {
        self.path_matcher.is_match(path)
    }

    /// Whether the finding is in this entry's scope (ignoring `count` and `expires`).
    pub fn matches(&self, finding: &Finding) -> bool {
        self.matches_except_platforms(finding)
            && (self.platforms.is_empty()
                || (!finding.platforms.is_empty()
                    && finding.platforms.iter().all(|p| self.platforms.contains(p))))
    }

    /// [`AllowEntry::matches`] without the entry's `platforms:`.
    fn matches_except_platforms(&self, finding: &Finding) -> bool {
        finding.kind.check() == Some(self.check)
            && self.path_matcher.is_match(&finding.file)
            && self
                .function_matcher
                .as_ref()
                .is_none_or(|w| w.is_match(&finding.function))
            && self
                .message_matcher
                .as_ref()
                .is_none_or(|w| w.is_match(&finding.message))
    }

    fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|last| today > last)
    }
}

/// A finding that an allowlist entry let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub finding: Finding,
    /// index into Config::allow
    pub entry: usize,
}

/// What [`apply`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowOutcome {
    /// New findings no entry covers: these fail the gate.
    pub remaining: Vec<Finding>,
    pub allowed: Vec<Allowed>,
    /// Indices of entries that allowed nothing (not expired, not `stale: never`).
    pub stale: Vec<usize>,
    /// Indices of expired entries (past `expires`), whether or not they would have matched; they allow nothing.
    pub expired: Vec<usize>,
}

/// Why an entry allowed nothing in a comparison, judged by the base's findings: what to
/// do with it depends on whether its escape is already in the base, and whether the
/// change that added it has merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// The base has an escape the entry names, and the base is not on the default
    /// branch: not needed against this base, but the change that added the escape has
    /// not merged, so a comparison with the default branch still needs it.
    InBase,
    /// The base has the escape and is on the default branch `branch`: the change that
    /// added it has merged, and no comparison needs the entry any more.
    Merged { branch: String },
    /// Neither revision has an escape the entry names.
    Gone,
    /// Whether the base has the escape is not known: its packages were not analysed
    /// (a shard, which builds only its own part, or a base that does not build there).
    Unknown,
}

impl Staleness {
    /// Whether the entry can go (`allow --prune` removes it).
    pub fn removable(&self) -> bool {
        matches!(self, Staleness::Merged { .. } | Staleness::Gone)
    }

    /// The name in the JSON report (`stale_because`).
    pub fn name(&self) -> &'static str {
        match self {
            Staleness::InBase => "in_base",
            Staleness::Merged { .. } => "merged",
            Staleness::Gone => "gone",
            Staleness::Unknown => "unknown",
        }
    }

    /// Why `allow --prune` removes or keeps the entry.
    pub fn why(&self) -> String {
        match self {
            Staleness::InBase => "the base already has its escape, but the base is not on the \
                default branch: a comparison with it still needs the entry until the change \
                that added the escape has merged"
                .to_string(),
            Staleness::Merged { branch } => format!(
                "the base already has its escape and is on {branch}: the change that added it \
                 has merged"
            ),
            Staleness::Gone => "no revision has its escape any more".to_string(),
            Staleness::Unknown => "its packages were not analysed, so whether the base has its \
                escape is not known"
                .to_string(),
        }
    }

    /// What is the case and what to do, after "allowlist entry at X allowed nothing: ".
    pub fn advice(&self) -> String {
        match self {
            Staleness::InBase => "the base already has this escape: the entry is not needed \
                against this base (keep it until the change that added the escape has merged)"
                .to_string(),
            Staleness::Merged { branch } => format!(
                "the base already has this escape and is on {branch}, so the change that added \
                 it has merged: remove the entry (`escape-gate allow --prune`)"
            ),
            Staleness::Gone => "no revision has this escape any more: remove the entry \
                (`escape-gate allow --prune`)"
                .to_string(),
            Staleness::Unknown => "its packages were not analysed, so whether the base has its \
                escape is not known"
                .to_string(),
        }
    }
}

/// Applies the allowlist to the new findings (in the order given). Each finding is allowed by the first entry, in file order,
/// that is not expired on `today`, matches path/function/message, and has count left (count = at most that many new findings allowed by that entry; None = unlimited).
pub fn apply(config: &Config, new: Vec<Finding>, today: Date) -> AllowOutcome {
    let new = split_by_platforms(config, new);
    let assigned = assign(config, &new, today);
    let mut used = vec![false; config.allow.len()];
    let mut remaining = Vec::new();
    let mut allowed = Vec::new();
    for (finding, hit) in new.into_iter().zip(assigned) {
        match hit {
            Some(i) => {
                used[i] = true;
                allowed.push(Allowed { finding, entry: i });
            }
            None => remaining.push(finding),
        }
    }
    let expired_flags: Vec<bool> = config.allow.iter().map(|e| e.is_expired(today)).collect();
    let stale = (0..config.allow.len())
        .filter(|&i| !expired_flags[i] && !used[i] && !config.allow[i].policy)
        .collect();
    let expired = (0..config.allow.len())
        .filter(|&i| expired_flags[i])
        .collect();
    AllowOutcome {
        remaining,
        allowed,
        stale,
        expired,
    }
}

/// Splits each finding of several platforms that an entry limited to some of them
/// (`platforms:`) matches, so that each part is on or off every such entry's list: the
/// entry then allows its part, and the rest goes on to the other entries.
fn split_by_platforms(config: &Config, new: Vec<Finding>) -> Vec<Finding> {
    let mut out = Vec::with_capacity(new.len());
    for f in new {
        let filters: Vec<&AllowEntry> = config
            .allow
            .iter()
            .filter(|e| !e.platforms.is_empty() && e.matches_except_platforms(&f))
            .collect();
        if f.platforms.len() < 2 || filters.is_empty() {
            out.push(f);
            continue;
        }
        let mut parts: Vec<(Vec<bool>, Vec<crate::go::Platform>)> = Vec::new();
        for p in &f.platforms {
            let on: Vec<bool> = filters.iter().map(|e| e.platforms.contains(p)).collect();
            match parts.iter_mut().find(|(sig, _)| *sig == on) {
                Some((_, list)) => list.push(p.clone()),
                None => parts.push((on, vec![p.clone()])),
            }
        }
        for (_, platforms) in parts {
            let mut part = f.clone();
            part.platforms = platforms;
            out.push(part);
        }
    }
    out
}

/// The entry that allows each finding (an index into `config.allow`), by the rules of
/// [`apply`], or `None` where no entry does: one slot per finding, in the order given.
pub fn assign(config: &Config, new: &[Finding], today: Date) -> Vec<Option<usize>> {
    let expired_flags: Vec<bool> = config.allow.iter().map(|e| e.is_expired(today)).collect();
    let mut used = vec![0u32; config.allow.len()];
    new.iter()
        .map(|finding| {
            let hit = config.allow.iter().enumerate().position(|(i, e)| {
                !expired_flags[i] && e.count.is_none_or(|c| used[i] < c) && e.matches(finding)
            });
            if let Some(i) = hit {
                used[i] += 1;
            }
            hit
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Wildcards for `function` and `message`.

/// `*` is any run of characters, `?` exactly one, everything else literal, over the whole
/// string. Not a globset glob: function names and compiler messages are full of `[`, `{`
/// and `(` that globset would read as syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wildcard {
    text: String,
    pattern: Vec<char>,
}

impl Wildcard {
    fn new(text: &str) -> Wildcard {
        Wildcard {
            text: text.to_string(),
            pattern: text.chars().collect(),
        }
    }

    /// Greedy match with backtracking to the last `*` only: linear in practice and
    /// O(pattern × text) at worst, never exponential.
    fn is_match(&self, text: &str) -> bool {
        let pat = &self.pattern;
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        // Where the last `*` was and how much text it has swallowed so far.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pat.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        p = sp + 1;
                        t = st + 1;
                    }
                    None => return false,
                },
            }
        }
        pat[p..].iter().all(|&c| c == '*')
    }
}
