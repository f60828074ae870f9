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

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

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

/// A calendar date (proleptic Gregorian), ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Parses exactly `YYYY-MM-DD` naming a real calendar date.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        if !(digits(0..4) && digits(5..7) && digits(8..10)) {
            return None;
        }
        // All ASCII digits, so these slices are on char boundaries and parse.
        let year: i32 = s[0..4].parse().ok()?;
        let month: u32 = s[5..7].parse().ok()?;
        let day: u32 = s[8..10].parse().ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> Date {
        let secs = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock before 1970 is broken, but still gives a date rather than a panic.
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Date::from_days_since_epoch(secs.div_euclid(86_400))
    }

    /// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a Gregorian date.
    fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097); // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
        let mp = (5 * doy + 2) / 153; // [0, 11], March-based month
        let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
        let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            // Clamped only for clocks absurdly far from now.
            year: i32::try_from(year).unwrap_or(i32::MAX),
            // In [1, 12] and [1, 31] by construction.
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A configuration problem, located in the file: `FILE:LINE:COL: field: what is wrong`.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{}: {message}", location(*.line, *.column))]
pub struct ConfigError {
    pub origin: String,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// `field: what is wrong` (the field as a path such as `allow[1].expires`, 0-based
    /// indices), or just what is wrong when it concerns the top level.
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl ConfigError {
    fn from_yaml(err: &serde_yaml::Error, origin: &str) -> ConfigError {
        let mut message = err.to_string();
        let (mut line, mut column) = (None, None);
        if let Some(loc) = err.location() {
            line = Some(loc.line());
            column = Some(loc.column());
            // yaml_serde puts the position inside its message (` at line 7 column 14`,
            // or ` at position N` on the very first character); we print it in front.
            let at_line = format!(" at line {} column {}", loc.line(), loc.column());
            let at_pos = format!(" at position {}", loc.index());
            message = message.replacen(&at_line, "", 1).replacen(&at_pos, "", 1);
        }
        if message.starts_with("recursion limit exceeded") {
            message = "nested more than 128 levels deep; an allowlist needs 4".to_string();
        }
        if message == "missing field `version`" {
            message.push_str(" (the file must start with `version: 1`)");
        }
        ConfigError {
            origin: origin.to_string(),
            line,
            column,
            message,
        }
    }
}

impl Config {
    /// `origin` names the file in errors (e.g. ".escape-gate.yml in head 1a2b3c4" or a path).
    ///
    /// The text is bounded first ([`prescan`]): at most 1 MiB, no anchors, aliases,
    /// tags or directives, flow collections at most 16 deep; yaml_serde refuses block
    /// nesting deeper than 128. Each refusal is a [`ConfigError`] in far less than a
    /// second, whatever the text.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        prescan::check(text).map_err(|refusal| ConfigError {
            origin: origin.to_string(),
            line: refusal.line,
            column: refusal.column,
            message: refusal.message,
        })?;
        // `Option` so that an empty or comment-only document is `None` rather than an
        // error about the missing `version`.
        let raw: Option<RawConfig> =
            serde_yaml::from_str(text).map_err(|e| ConfigError::from_yaml(&e, origin))?;
        let Some(raw) = raw else {
            return Ok(Config::default());
        };
        let mut lines = entry_lines(text);
        if lines.len() != raw.allow.len() {
            // The scan could not follow this layout; better no lines than wrong ones.
            lines = vec![None; raw.allow.len()];
        }
        let allow = raw
            .allow
            .into_iter()
            .zip(lines)
            .map(|(e, line)| AllowEntry {
                path: e.path.text,
                function: e.function.as_ref().map(|w| w.text.clone()),
                message: e.message.as_ref().map(|w| w.text.clone()),
                count: e.count.map(|c| c.0),
                reason: e.reason.0,
                expires: e.expires.map(|d| d.0),
                line,
                check: e.check.unwrap_or(Check::Escapes),
                platforms: e.platforms,
                policy: e.stale.is_some(),
                path_matcher: e.path.matcher,
                function_matcher: e.function,
                message_matcher: e.message,
            })
            .collect();
        Ok(Config {
            build: BuildConfig {
                packages: raw.build.packages,
                exclude: raw.build.exclude,
                tags: raw.build.tags,
                flags: raw.build.flags,
                timeout: raw.build.timeout.map(|t| t.0),
                platforms: raw.platforms,
            },
            allow,
            hot: raw
                .hot
                .into_iter()
                .map(|h| HotPath {
                    path: h.path.text,
                    function: h.function.as_ref().map(|w| w.text.clone()),
                    path_matcher: h.path.matcher,
                    function_matcher: h.function,
                })
                .collect(),
            checks: raw.checks.map(|list| Checks::of(&list)),
            profile: ProfileConfig {
                files: raw.profile.files.into_iter().map(|p| p.0).collect(),
                hot_percent: raw.profile.hot_percent.map(|p| p.0),
                cold_below_percent: raw.profile.cold_below_percent.map(|p| p.0),
            },
        })
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

// ---------------------------------------------------------------------------------------
// The YAML shape. Every struct denies unknown fields so a misspelt key is an error at its
// own line and column; every validated scalar is a newtype whose visitor checks it.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    // Read only to validate it; there is only one version.
    #[allow(dead_code)]
    version: Version,
    #[serde(default, deserialize_with = "null_as_default")]
    build: RawBuild,
    #[serde(default, deserialize_with = "null_as_default")]
    allow: Vec<RawEntry>,
    #[serde(default)]
    checks: Option<Vec<Check>>,
    #[serde(default, deserialize_with = "null_as_default")]
    hot: Vec<RawHot>,
    #[serde(default, deserialize_with = "null_as_default")]
    profile: RawProfile,
    #[serde(default, deserialize_with = "null_as_default")]
    platforms: Vec<crate::go::Platform>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default, deserialize_with = "null_as_default")]
    files: Vec<ProfilePath>,
    #[serde(default)]
    hot_percent: Option<Percent>,
    #[serde(default)]
    cold_below_percent: Option<Percent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHot {
    path: PathGlob,
    #[serde(default)]
    function: Option<Wildcard>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[serde(default, deserialize_with = "null_as_default")]
    packages: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    exclude: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    flags: Vec<String>,
    #[serde(default)]
    timeout: Option<Timeout>,
}

/// `timeout: 10m`: a duration as `--timeout` takes it.
struct Timeout(std::time::Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with its unit: 90s, 10m, 1h")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                crate::interrupt::parse_duration(v)
                    .map(Timeout)
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timeout, E> {
                Err(E::custom(format!(
                    "{v} has no unit; write it with one: {v}s, {v}m or {v}h"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timeout, E> {
                Err(E::custom(format!("{v} is not a duration (90s, 10m, 1h)")))
            }
        }
        de.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    path: PathGlob,
    #[serde(default)]
    function: Option<Wildcard>,
    #[serde(default)]
    message: Option<Wildcard>,
    #[serde(default)]
    count: Option<Count>,
    reason: Reason,
    #[serde(default)]
    expires: Option<DateValue>,
    #[serde(default)]
    check: Option<Check>,
    #[serde(default, deserialize_with = "null_as_default")]
    platforms: Vec<crate::go::Platform>,
    #[serde(default)]
    stale: Option<Never>,
}

/// `stale: never`, the only value `stale` takes.
struct Never;

impl<'de> Deserialize<'de> for Never {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Never;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`never`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Never, E> {
                if v == "never" {
                    Ok(Never)
                } else {
                    Err(E::custom(format!(
                        "{v:?}: the only value is `never` (a lasting rule, never reported \
                         stale); leave the key out for an entry that is"
                    )))
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Never, E> {
                self.visit_str(&v.to_string())
            }
        }
        de.deserialize_any(V)
    }
}

/// `allow:` or `build:` with nothing after it is YAML null; read it as "none".
fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the number 1")
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Version, E> {
                if v == 1 {
                    Ok(Version)
                } else {
                    Err(E::custom(format!(
                        "unsupported version {v}; this escape-gate understands only version 1"
                    )))
                }
            }
        }
        // i128 so that every integer, even a negative or huge one, reaches the
        // visitor's own message rather than yaml_serde's "invalid type".
        de.deserialize_i128(V)
    }
}

struct PathGlob {
    text: String,
    matcher: GlobMatcher,
}

impl<'de> Deserialize<'de> for PathGlob {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PathGlob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a glob on the repository-relative path")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PathGlob, E> {
                if v.is_empty() {
                    return Err(E::custom("must not be empty (use \"**\" for every file)"));
                }
                let glob = GlobBuilder::new(v)
                    // `*` must not cross directories; `**` does.
                    .literal_separator(true)
                    // Fixed rather than the platform default, so one file means the
                    // same on every OS.
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| E::custom(format!("{v:?} is not a valid glob: {}", e.kind())))?;
                Ok(PathGlob {
                    text: v.to_string(),
                    matcher: glob.compile_matcher(),
                })
            }
        }
        de.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Wildcard {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Wildcard;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a pattern with `*` and `?` wildcards")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Wildcard, E> {
                if v.is_empty() {
                    // An empty pattern matches nothing the compiler prints, which is
                    // surely not what was meant.
                    return Err(E::custom(
                        "must not be empty (leave the key out to match any)",
                    ));
                }
                Ok(Wildcard::new(v))
            }
        }
        de.deserialize_str(V)
    }
}

struct Count(u32);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of at least 1")
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Count, E> {
                match u32::try_from(v) {
                    Ok(0) => Err(E::custom(
                        "must be at least 1 (leave it out for no limit, or remove the entry)",
                    )),
                    Ok(n) => Ok(Count(n)),
                    Err(_) if v < 0 => {
                        Err(E::custom(format!("{v} is negative; it must be at least 1")))
                    }
                    Err(_) => Err(E::custom(format!("{v} is too large"))),
                }
            }
        }
        // See Version: i128 lets negative counts reach the visitor.
        de.deserialize_i128(V)
    }
}

/// A profile's path in the repository, as `-pgo=FILE` takes one: relative, no `..`.
struct ProfilePath(String);

impl<'de> Deserialize<'de> for ProfilePath {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ProfilePath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a repository-relative path of a pprof profile")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProfilePath, E> {
                crate::go::tree_relative(v).map_err(|why| {
                    E::custom(format!(
                        "{v:?} must name a file inside the repository: {why}"
                    ))
                })?;
                Ok(ProfilePath(v.trim_start_matches("./").to_string()))
            }
        }
        de.deserialize_str(V)
    }
}

/// A share of the samples, above 0 and at most 100.
struct Percent(f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage above 0 and at most 100")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                if v.is_finite() && v > 0.0 && v <= 100.0 {
                    Ok(Percent(v))
                } else {
                    Err(E::custom(format!(
                        "{v} is not a percentage above 0 and at most 100"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                self.visit_f64(v as f64)
            }
        }
        de.deserialize_f64(V)
    }
}

struct Reason(String);

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        const EMPTY: &str = "must say why the allocation is acceptable; it is empty";
        impl Visitor<'_> for V {
            type Value = Reason;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty explanation")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Reason, E> {
                if v.trim().is_empty() {
                    return Err(E::custom(EMPTY));
                }
                Ok(Reason(v.to_string()))
            }
            // `reason:` with nothing after it.
            fn visit_unit<E: de::Error>(self) -> Result<Reason, E> {
                Err(E::custom(EMPTY))
            }
            fn visit_none<E: de::Error>(self) -> Result<Reason, E> {
                Err(E::custom(EMPTY))
            }
        }
        de.deserialize_str(V)
    }
}

struct DateValue(Date);

impl<'de> Deserialize<'de> for DateValue {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DateValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date as YYYY-MM-DD")
            }
            // yaml_serde has no timestamp type: an unquoted 2027-06-30 arrives as a
            // string just like a quoted one.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateValue, E> {
                Date::parse(v)
                    .map(DateValue)
                    .ok_or_else(|| E::custom(format!("{v:?} is not a date (expected YYYY-MM-DD)")))
            }
        }
        de.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------
// Entry lines. serde keeps no spans, so the lines are found by scanning the text for the
// block-sequence items of the top-level `allow:` key. Any layout the scan does not
// understand (flow style, anchors, an indented top level) yields no lines at all, and
// `Config::parse` also discards them if their number disagrees with the entries parsed.

/// 1-based line of each item of the top-level `allow:` block sequence.
fn entry_lines(text: &str) -> Vec<Option<usize>> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    // Find `allow:` at column 0 with nothing but a comment after it.
    let found = lines.by_ref().any(|(_, l)| {
        ["allow", "\"allow\"", "'allow'"].iter().any(|key| {
            l.strip_prefix(key)
                .and_then(|rest| rest.trim_start_matches(' ').strip_prefix(':'))
                .is_some_and(is_blank_or_comment)
        })
    });
    if !found {
        return Vec::new();
    }
    let mut item_indent: Option<usize> = None;
    let mut out = Vec::new();
    for (n, l) in lines {
        if is_blank_or_comment(l) {
            continue;
        }
        let indent = l.len() - l.trim_start_matches(' ').len();
        let rest = &l[indent..];
        let is_item = rest == "-" || rest.starts_with("- ") || rest.starts_with("-\t");
        match item_indent {
            // The first content line fixes the items' indentation; it must be an item.
            None if is_item => {
                item_indent = Some(indent);
                out.push(Some(n));
            }
            None => return Vec::new(),
            Some(i) if indent == i && is_item => out.push(Some(n)),
            // Inside an item (its keys, or continuation lines of its values).
            Some(i) if indent > i => {}
            // Back at the top level (or a document marker): the sequence is over.
            Some(_) => break,
        }
    }
    out
}

/// Whether the rest of a line holds no YAML content.
fn is_blank_or_comment(s: &str) -> bool {
    let t = s.trim_start();
    t.is_empty() || t.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Kind;

    const ORIGIN: &str = ".escape-gate.yml";

    fn err(text: &str) -> String {
        match Config::parse(text, ORIGIN) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn parse(text: &str) -> Config {
        match Config::parse(text, ORIGIN) {
            Ok(c) => c,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn date(s: &str) -> Date {
        Date::parse(s).expect("test date")
    }

    fn finding(file: &str, function: &str, message: &str) -> Finding {
        Finding {
            package: "example.com/m/internal/codec".to_string(),
            message: message.to_string(),
            ..Finding::example(file, 10, function, Kind::Escapes, "")
        }
    }

    #[test]
    fn parses_the_full_example() {
        let text = r#"version: 1
build:                        # optional
  packages: ["./..."]
  exclude: ["internal/gen/..."]
  tags: ["integration"]
  flags: ["-pgo=off"]
allow:
  - path: "internal/codec/*.go"          # glob on the repository-relative path
    function: "(*Encoder).Encode"         # optional glob
    message: "make([]byte, *) escapes to heap"   # optional glob on the compiler message
    count: 2                              # optional: at most this many new ones
    reason: "the buffer is handed to the caller"  # required
    expires: 2027-06-30                   # optional; after it the entry stops allowing
"#;
        let c = parse(text);
        assert_eq!(
            c.build,
            BuildConfig {
                packages: vec!["./...".into()],
                exclude: vec!["internal/gen/...".into()],
                tags: vec!["integration".into()],
                flags: vec!["-pgo=off".into()],
                timeout: None,
                platforms: Vec::new(),
            }
        );
        assert_eq!(c.allow.len(), 1);
        let e = &c.allow[0];
        assert_eq!(e.path, "internal/codec/*.go");
        assert_eq!(e.function.as_deref(), Some("(*Encoder).Encode"));
        assert_eq!(
            e.message.as_deref(),
            Some("make([]byte, *) escapes to heap")
        );
        assert_eq!(e.count, Some(2));
        assert_eq!(e.reason, "the buffer is handed to the caller");
        assert_eq!(
            e.expires,
            Some(Date {
                year: 2027,
                month: 6,
                day: 30
            })
        );
        assert_eq!(e.line, Some(8));
    }

    #[test]
    fn empty_documents_are_an_empty_config() {
        for text in [
            "",
            "\n\n",
            "# just a comment\n\n# another\n",
            "---\n",
            "~\n",
        ] {
            assert_eq!(
                Config::parse(text, ORIGIN).ok(),
                Some(Config::default()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn null_sections_are_empty() {
        let c = parse("version: 1\nbuild:\n  tags:\nallow:\n");
        assert_eq!(c, Config::default());
    }

    #[test]
    fn quoted_and_unquoted_dates_are_the_same() {
        let base = "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: ";
        for v in ["2027-06-30", "\"2027-06-30\"", "'2027-06-30'"] {
            let c = parse(&format!("{base}{v}\n"));
            assert_eq!(c.allow[0].expires, Some(date("2027-06-30")), "{v}");
        }
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "unknown top-level key",
                "version: 1\nallw: []\n",
                ".escape-gate.yml:2:1: unknown field `allw`, expected one of `version`, `build`, `allow`, `checks`, `hot`, `profile`, `platforms`",
            ),
            (
                "unknown key in build",
                "version: 1\nbuild:\n  tag: [x]\n",
                ".escape-gate.yml:3:3: build: unknown field `tag`, expected one of `packages`, `exclude`, `tags`, `flags`, `timeout`",
            ),
            (
                "unknown key inside an entry",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    owner: me\n",
                ".escape-gate.yml:5:5: allow[0]: unknown field `owner`, expected one of `path`, `function`, `message`, `count`, `reason`, `expires`, `check`, `platforms`, `stale`",
            ),
            (
                "misspelt reason",
                "version: 1\nallow:\n  - path: a\n    reason: r\n\n  - path: b\n    reson: r\n",
                ".escape-gate.yml:7:5: allow[1]: unknown field `reson`, expected one of `path`, `function`, `message`, `count`, `reason`, `expires`, `check`, `platforms`, `stale`",
            ),
            (
                "missing reason: located at the entry",
                "version: 1\nallow:\n  - path: a\n    count: 1\n",
                ".escape-gate.yml:3:5: allow[0]: missing field `reason`",
            ),
            (
                "missing path",
                "version: 1\nallow:\n  - reason: r\n",
                ".escape-gate.yml:3:5: allow[0]: missing field `path`",
            ),
            (
                "empty reason",
                "version: 1\nallow:\n  - path: a\n    reason: \"\"\n",
                ".escape-gate.yml:4:13: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "blank reason",
                "version: 1\nallow:\n  - path: a\n    reason: '   '\n",
                ".escape-gate.yml:4:13: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "null reason",
                "version: 1\nallow:\n  - path: a\n    reason:\n",
                ".escape-gate.yml:4:12: allow[0].reason: must say why the allocation is acceptable; it is empty",
            ),
            (
                "bad path glob",
                "version: 1\nallow:\n  - path: a/[b\n    reason: r\n",
                ".escape-gate.yml:3:11: allow[0].path: \"a/[b\" is not a valid glob: unclosed character class; missing ']'",
            ),
            (
                "empty path",
                "version: 1\nallow:\n  - path: ''\n    reason: r\n",
                ".escape-gate.yml:3:11: allow[0].path: must not be empty (use \"**\" for every file)",
            ),
            (
                "empty function",
                "version: 1\nallow:\n  - path: a\n    function: ''\n    reason: r\n",
                ".escape-gate.yml:4:15: allow[0].function: must not be empty (leave the key out to match any)",
            ),
            (
                "bad date, second entry, comments between",
                "version: 1\nallow:\n  - path: a\n    reason: r\n\n  # next\n  - path: b\n    reason: r\n    expires: 2027-02-30\n",
                ".escape-gate.yml:9:14: allow[1].expires: \"2027-02-30\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "Feb 29 in a non-leap year",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 2027-02-29\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"2027-02-29\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "Feb 29 in a century non-leap year",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: '2100-02-29'\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"2100-02-29\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "date in another format",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 30/06/2027\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"30/06/2027\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "date as a number (a plain scalar reaches visit_str as text)",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    expires: 20270630\n",
                ".escape-gate.yml:5:14: allow[0].expires: \"20270630\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "version 2",
                "version: 2\n",
                ".escape-gate.yml:1:10: version: unsupported version 2; this escape-gate understands only version 1",
            ),
            (
                "version 0",
                "version: 0\n",
                ".escape-gate.yml:1:10: version: unsupported version 0; this escape-gate understands only version 1",
            ),
            (
                "version as text",
                "version: one\n",
                ".escape-gate.yml:1:10: version: invalid type: string \"one\", expected the number 1",
            ),
            (
                "missing version",
                "allow: []\n",
                ".escape-gate.yml:1:1: missing field `version` (the file must start with `version: 1`)",
            ),
            (
                "count 0",
                "version: 1\nallow:\n  - path: a\n    count: 0\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: must be at least 1 (leave it out for no limit, or remove the entry)",
            ),
            (
                "count negative",
                "version: 1\nallow:\n  - path: a\n    count: -3\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: -3 is negative; it must be at least 1",
            ),
            (
                "count too large",
                "version: 1\nallow:\n  - path: a\n    count: 4294967296\n    reason: r\n",
                ".escape-gate.yml:4:12: allow[0].count: 4294967296 is too large",
            ),
            (
                "duplicate key",
                "version: 1\nallow:\n  - path: a\n    reason: r\n    reason: s\n",
                ".escape-gate.yml:3:5: allow[0]: duplicate field `reason`",
            ),
            (
                "flow style is located too",
                "version: 1\nallow: [{path: a, reason: r, expires: 2027-13-01}]\n",
                ".escape-gate.yml:2:39: allow[0].expires: \"2027-13-01\" is not a date (expected YYYY-MM-DD)",
            ),
            (
                "YAML syntax error",
                "version: 1\nallow: [\n",
                ".escape-gate.yml:3:1: did not find expected node content, while parsing a flow node",
            ),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter(|(_, text, want)| err(text) != *want)
            .map(|(name, text, want)| format!("{name}:\n   got {}\n  want {want}", err(text)))
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn error_fields_are_structured() {
        let e = Config::parse(
            "version: 1\nallow:\n  - path: a\n    reson: r\n",
            "cfg in head 1a2b3c4",
        )
        .expect_err("misspelt key");
        assert_eq!(e.origin, "cfg in head 1a2b3c4");
        assert_eq!((e.line, e.column), (Some(4), Some(5)));
        assert!(
            e.message.starts_with("allow[0]: unknown field `reson`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn dates_parse_only_real_calendar_days() {
        type Ymd = (i32, u32, u32);
        let cases: &[(&str, Option<Ymd>)] = &[
            ("2027-06-30", Some((2027, 6, 30))),
            ("2024-02-29", Some((2024, 2, 29))), // leap year
            ("2000-02-29", Some((2000, 2, 29))), // divisible by 400
            ("2023-02-29", None),
            ("1900-02-29", None), // divisible by 100, not 400
            ("2027-04-31", None),
            ("2027-12-31", Some((2027, 12, 31))),
            ("2027-00-10", None),
            ("2027-13-01", None),
            ("2027-01-00", None),
            ("2027-6-30", None),
            ("2027-06-30 ", None),
            ("2027/06/30", None),
            ("+027-06-30", None),
            ("２０２７-06-30", None),
            ("", None),
        ];
        for (s, want) in cases {
            let got = Date::parse(s).map(|d| (d.year, d.month, d.day));
            assert_eq!(got, *want, "{s:?}");
        }
        assert_eq!(date("0042-01-05").to_string(), "0042-01-05");
        assert!(date("2027-06-30") < date("2027-07-01"));
        assert!(date("2026-12-31") < date("2027-01-01"));
    }

    #[test]
    fn civil_from_days() {
        let cases = [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (11_017, "2000-03-01"),
            (19_723, "2024-01-01"),
            (19_782, "2024-02-29"),
            (19_783, "2024-03-01"),
        ];
        for (days, want) in cases {
            assert_eq!(
                Date::from_days_since_epoch(days).to_string(),
                want,
                "{days}"
            );
        }
        // Only a sanity check: the clock says some date this century.
        let today = Date::today_utc();
        assert!(
            today > date("2024-01-01") && today < date("2100-01-01"),
            "{today}"
        );
    }

    #[test]
    fn entry_lines_skip_comments_and_blank_lines() {
        let text = "\
# escape-gate allowlist
version: 1

allow:
  # codec
  - path: a.go
    reason: |
      multi-line
      reason

    # an inner comment
    function: F

# a top-level comment between items
  - path: b.go   # trailing
    reason: r
  -
    path: c.go
    reason: r
build:
  tags: [x]
";
        let c = parse(text);
        let lines: Vec<_> = c.allow.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(6), Some(15), Some(17)]);
        assert_eq!(c.build.tags, ["x"]);
    }

    #[test]
    fn entry_lines_layouts() {
        let cases: &[(&str, &str, &[Option<usize>])] = &[
            (
                "items at column 0",
                "version: 1\nallow:\n- path: a\n  reason: r\n- path: b\n  reason: r\n",
                &[Some(3), Some(5)],
            ),
            (
                "allow before version, comment on the key",
                "allow:   # entries\n    - path: a\n      reason: r\nversion: 1\n",
                &[Some(2)],
            ),
            (
                "flow style",
                "version: 1\nallow: [{path: a, reason: r}]\n",
                &[None],
            ),
            (
                "flow mappings in a block sequence",
                "version: 1\nallow:\n  - {path: a, reason: r}\n  - {path: b, reason: r}\n",
                &[Some(3), Some(4)],
            ),
            (
                "quoted key",
                "version: 1\n\"allow\":\n  - path: a\n    reason: r\n",
                &[Some(3)],
            ),
            (
                "a nested `allow:` is not the top-level one",
                "version: 1\nbuild:\n  tags: []\nallow:\n  - path: a\n    reason: \"allow:\"\n",
                &[Some(5)],
            ),
        ];
        for (name, text, want) in cases {
            let got: Vec<_> = parse(text).allow.iter().map(|e| e.line).collect();
            assert_eq!(got, *want, "case: {name}");
        }
    }

    #[test]
    fn wildcards() {
        let cases = [
            ("(*Encoder).Encode", "(*Encoder).Encode", true),
            ("(*Encoder).Encode", "(*Decoder).Encode", false),
            ("(*Encoder).*", "(*Encoder).Flush", true),
            (
                "make([]byte, *) escapes to heap",
                "make([]byte, 64) escapes to heap",
                true,
            ),
            (
                "make([]byte, *) escapes to heap",
                "make([]byte, n) escapes to heap",
                true,
            ),
            (
                "make([]byte, *) escapes to heap",
                "make([]int, 64) escapes to heap",
                false,
            ),
            (
                "&gen.Boxed[go.shape.*]{...} escapes to heap",
                "&gen.Boxed[go.shape.int]{...} escapes to heap",
                true,
            ),
            ("moved to heap: ?", "moved to heap: b", true),
            ("moved to heap: ?", "moved to heap: buf", false),
            ("moved to heap: *", "moved to heap: ", true),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("*escapes*", "x escapes to heap", true),
            ("F", "F.func1", false), // whole string
            ("F*", "F.func1", true),
            ("?é", "aé", true), // characters, not bytes
        ];
        for (pat, text, want) in cases {
            assert_eq!(
                Wildcard::new(pat).is_match(text),
                want,
                "{pat:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn path_globs_do_not_cross_directories_with_single_star() {
        let c = parse(
            "version: 1\nallow:\n  - path: 'internal/*.go'\n    reason: r\n  - path: 'cmd/**/*.go'\n    reason: r\n",
        );
        let cases = [
            ("internal/a.go", Some(0)),
            ("internal/codec/a.go", None),
            ("cmd/x/main.go", Some(1)),
            ("cmd/main.go", Some(1)),
            ("cmd/a/b/main.go", Some(1)),
            ("other/a.go", None),
        ];
        for (file, want) in cases {
            let got = c
                .allow
                .iter()
                .position(|e| e.matches(&finding(file, "F", "m")));
            assert_eq!(got, want, "{file}");
        }
    }

    #[test]
    fn apply_counts_order_and_staleness() {
        let c = parse(
            r#"version: 1
allow:
  - path: "internal/codec/*.go"
    function: "(*Encoder).Encode"
    message: "make([]byte, *) escapes to heap"
    count: 2
    reason: first, limited
  - path: "internal/codec/*.go"
    reason: catch-all for the codec
  - path: "never/**"
    reason: stale
  - path: "**"
    message: "moved to heap: *"
    count: 1
    reason: one moved variable
"#,
        );
        let enc = |n: u32| {
            let mut f = finding(
                "internal/codec/enc.go",
                "(*Encoder).Encode",
                &format!("make([]byte, {n}) escapes to heap"),
            );
            f.line = n;
            f
        };
        let moved_a = finding("a/a.go", "F", "moved to heap: a");
        let moved_b = finding("b/b.go", "G", "moved to heap: b");
        let other = finding("x/y.go", "H", "&T{} escapes to heap");
        let new = vec![
            enc(1),
            moved_a.clone(),
            enc(2),
            enc(3), // count of entry 0 used up: falls through to entry 1
            moved_b.clone(),
            other.clone(),
        ];
        let out = apply(&c, new, date("2026-01-01"));
        assert_eq!(
            out,
            AllowOutcome {
                remaining: vec![moved_b, other],
                allowed: vec![
                    Allowed {
                        finding: enc(1),
                        entry: 0
                    },
                    Allowed {
                        finding: moved_a,
                        entry: 3
                    },
                    Allowed {
                        finding: enc(2),
                        entry: 0
                    },
                    Allowed {
                        finding: enc(3),
                        entry: 1
                    },
                ],
                stale: vec![2],
                expired: vec![],
            }
        );
    }

    #[test]
    fn apply_with_nothing_new_makes_every_live_entry_stale() {
        let c = parse("version: 1\nallow:\n  - path: a\n    reason: r\n  - path: b\n    reason: r\n    expires: 2020-01-01\n");
        let out = apply(&c, Vec::new(), date("2026-01-01"));
        assert_eq!((out.stale, out.expired), (vec![0], vec![1]));
    }

    #[test]
    fn apply_expiry_is_inclusive_of_the_day() {
        let c = parse(
            "version: 1\nallow:\n  - path: '**'\n    reason: temporary\n    expires: 2027-06-30\n  - path: never\n    reason: old\n    expires: 2020-01-01\n",
        );
        let f = finding("a.go", "F", "moved to heap: x");
        let cases = [
            ("2027-06-29", true),
            ("2027-06-30", true), // the last day still allows
            ("2027-07-01", false),
        ];
        for (today, allowed) in cases {
            let out = apply(&c, vec![f.clone()], date(today));
            if allowed {
                assert_eq!(
                    out.allowed,
                    [Allowed {
                        finding: f.clone(),
                        entry: 0
                    }],
                    "{today}"
                );
                assert_eq!(out.remaining, [], "{today}");
                assert_eq!(out.expired, [1], "{today}");
                assert_eq!(out.stale, [] as [usize; 0], "{today}");
            } else {
                assert_eq!(out.allowed, [], "{today}");
                assert_eq!(out.remaining, std::slice::from_ref(&f), "{today}");
                // Both expired; an expired entry is never also reported stale.
                assert_eq!(out.expired, [0, 1], "{today}");
                assert_eq!(out.stale, [] as [usize; 0], "{today}");
            }
        }
    }

    #[test]
    fn apply_function_and_message_wildcards_with_brackets() {
        let c = parse(
            r#"version: 1
allow:
  - path: "**"
    function: "(*Pool[go.shape.*]).Get"
    reason: generic pool
  - path: "**"
    message: "&gen.Boxed[*]{...} escapes to heap"
    reason: boxed
"#,
        );
        let pool = finding(
            "p.go",
            "(*Pool[go.shape.int]).Get",
            "new(T) escapes to heap",
        );
        let boxed = finding(
            "b.go",
            "F",
            "&gen.Boxed[go.shape.*uint8]{...} escapes to heap",
        );
        let neither = finding("b.go", "(*Pool[int]).Put", "&gen.Boxed{} escapes to heap");
        let out = apply(
            &c,
            vec![pool.clone(), boxed.clone(), neither.clone()],
            date("2026-01-01"),
        );
        assert_eq!(
            out.allowed,
            [
                Allowed {
                    finding: pool,
                    entry: 0
                },
                Allowed {
                    finding: boxed,
                    entry: 1
                },
            ]
        );
        assert_eq!(out.remaining, [neither]);
        assert_eq!(out.stale, [] as [usize; 0]);
    }
}

/// Property tests ("fuzzing" on stable Rust) for [`Config::parse`]: arbitrary text and
/// YAML-shaped structures never panic, every failure is a [`ConfigError`] that names
/// the file and a position inside the text, and the scan before the parser never lets
/// through what it is there to stop. `cargo test` runs proptest's default number of
/// cases; `bench/fuzz.sh` runs many more (`PROPTEST_CASES`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const ORIGIN: &str = "fuzz.yml";

    fn check(text: &str) -> Result<(), TestCaseError> {
        match Config::parse(text, ORIGIN) {
            Ok(config) => {
                // What was accepted is usable.
                let _ = apply(&config, Vec::new(), Date::today_utc());
            }
            Err(err) => {
                let shown = err.to_string();
                prop_assert!(shown.starts_with(ORIGIN), "{}", shown);
                prop_assert!(!err.message.is_empty());
                let lines = text.split(['\n', '\r']).count() + 1;
                if let Some(line) = err.line {
                    prop_assert!(line >= 1 && line <= lines, "line {} of {}", line, lines);
                }
            }
        }
        Ok(())
    }

    /// A scalar as an allowlist might hold it, plain or quoted, with the characters
    /// YAML gives meaning to.
    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("1".to_string()),
            Just("version".to_string()),
            Just("allow".to_string()),
            Just("build".to_string()),
            Just("path".to_string()),
            Just("reason".to_string()),
            Just("count".to_string()),
            Just("expires".to_string()),
            Just("2027-06-30".to_string()),
            Just("null".to_string()),
            "[a-z*?(){}.\\[\\] -]{1,8}",
            "'[a-z\\[\\]{}#&*!\" ]{0,6}'",
            "\"[a-z\\[\\]{}#&*!' ]{0,6}\"",
            "[&*!|>%@`#?:-][a-z]{0,4}",
        ]
    }

    /// YAML-shaped text: block mappings and sequences, flow collections, block scalars.
    fn yamlish() -> impl Strategy<Value = String> {
        let leaf = scalar();
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec((scalar(), inner.clone()), 0..5).prop_map(|pairs| {
                    pairs
                        .iter()
                        .map(|(k, v)| format!("{k}:\n{}", indent(v)))
                        .collect::<String>()
                }),
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| items.iter().map(|v| format!("-\n{}", indent(v))).collect()),
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(", ").replace('\n', " "))),
                proptest::collection::vec((scalar(), inner), 0..4).prop_map(|pairs| {
                    let body: Vec<String> =
                        pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{{}}}", body.join(", ").replace('\n', " "))
                }),
                "(\\||>)[-+1-9]{0,2}\n  [a-z*&!\\[{ ]{0,10}\n  [a-z ]{0,5}\n".prop_map(|s| s),
            ]
        })
    }

    fn indent(text: &str) -> String {
        text.lines().map(|l| format!("  {l}\n")).collect()
    }

    /// Flow YAML whose scalars hold brackets and quotes, nested up to 24 deep: around
    /// the scan's limit of 16.
    fn flow() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "[a-z][a-z'\"&*]{0,3}",
            "'[\\[\\]{}\"# a-z]{0,4}'",
            "\"[\\[\\]{}'# a-z]{0,4}\"",
        ];
        leaf.prop_recursive(24, 400, 3, |inner| {
            prop_oneof![
                (
                    proptest::collection::vec(inner.clone(), 0..3),
                    "(,|\n|, # [\\[{]\n)"
                )
                    .prop_map(|(items, sep)| format!("[{}]", items.join(&sep))),
                proptest::collection::vec(inner, 0..3).prop_map(|items| {
                    let pairs: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("k{i}: {v}"))
                        .collect();
                    format!("{{{}}}", pairs.join(", "))
                }),
            ]
        })
    }

    /// A chain of `n` nested flow collections, each also holding a scalar with
    /// brackets or quotes in it, with line breaks and comments between: a depth known
    /// in advance, around the limit.
    fn chain() -> impl Strategy<Value = String> {
        let junk = prop_oneof![
            "[a-z][a-z'\"&*]{0,3}",
            "'[\\[\\]{}\"# a-z]{0,4}'",
            "\"[\\[\\]{}'# a-z]{0,4}\"",
        ];
        let sep = "(, |,\n|, # [\\[{\\]}]\n)";
        (10usize..30).prop_flat_map(move |n| {
            proptest::collection::vec((junk.clone(), sep, any::<bool>()), n).prop_map(|levels| {
                let mut node = "x".to_string();
                for (junk, sep, mapping) in levels {
                    node = if mapping {
                        format!("{{k: {junk}{sep}v: {node}}}")
                    } else {
                        format!("[{junk}{sep}{node}]")
                    };
                }
                node
            })
        })
    }

    fn depth(value: &serde_yaml::Value) -> usize {
        match value {
            serde_yaml::Value::Sequence(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_yaml::Value::Mapping(map) => {
                1 + map
                    .iter()
                    .map(|(k, v)| depth(k).max(depth(v)))
                    .max()
                    .unwrap_or(0)
            }
            serde_yaml::Value::Tagged(tagged) => depth(&tagged.value),
            _ => 0,
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn yaml_characters_never_panic(text in "[\\[\\]{}'\"#|>:?,&*!%@` \t\n\r-a1]{0,200}") {
            check(&text)?;
        }

        #[test]
        fn yaml_shaped_documents_never_panic(body in yamlish(), prefix in "(version: 1\n)?(---\n)?") {
            check(&format!("{prefix}{body}"))?;
        }

        #[test]
        fn allowlist_shaped_documents_never_panic(entries in proptest::collection::vec(proptest::collection::vec((scalar(), scalar()), 0..6), 0..6)) {
            let mut text = String::from("version: 1\nbuild:\n  flags: [\"-tags=x\"]\nallow:\n");
            for entry in &entries {
                for (i, (k, v)) in entry.iter().enumerate() {
                    text.push_str(if i == 0 { "  - " } else { "    " });
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
            check(&text)?;
        }

        /// The scan's promise: what it accepts is never nested deeper than its limit in
        /// flow collections, so the parser's quadratic work is bounded; and nothing it
        /// accepts holds an anchor or alias (the parse would expand it).
        #[test]
        fn the_scan_lets_no_deep_flow_nesting_through(node in prop_oneof![flow(), chain()]) {
            let text = format!("a: {node}\n");
            let accepted = prescan::check(&text).is_ok();
            if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                // The top-level mapping is one level, the flow node the rest.
                let flow_depth = depth(&value).saturating_sub(1);
                prop_assert!(!accepted || flow_depth <= prescan::MAX_FLOW_DEPTH, "depth {} accepted", flow_depth);
                prop_assert!(accepted || flow_depth > prescan::MAX_FLOW_DEPTH || text.contains(['&', '*']), "depth {} refused", flow_depth);
            }
            check(&text)?;
        }
    }
}
