//! Parsing: the raw YAML shapes and the validating deserialisers that turn them into a
//! [`Config`], and the scan that finds the line of each entry.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::checks::{Check, Checks};

use super::*;

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

// ---------------------------------------------------------------------------------------
// The YAML shape. Every struct denies unknown fields so a misspelt key is an error at its
// own line and column; every validated scalar is a newtype whose visitor checks it.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
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
pub(super) struct RawProfile {
    #[serde(default, deserialize_with = "null_as_default")]
    files: Vec<ProfilePath>,
    #[serde(default)]
    hot_percent: Option<Percent>,
    #[serde(default)]
    cold_below_percent: Option<Percent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHot {
    path: PathGlob,
    #[serde(default)]
    function: Option<Wildcard>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuild {
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
pub(super) struct Timeout(std::time::Duration);

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
pub(super) struct RawEntry {
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
pub(super) struct Never;

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
pub(super) fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

pub(super) struct Version;

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

pub(super) struct PathGlob {
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

pub(super) struct Count(u32);

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
pub(super) struct ProfilePath(String);

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
pub(super) struct Percent(f64);

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

pub(super) struct Reason(String);

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

pub(super) struct DateValue(Date);

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
pub(super) fn entry_lines(text: &str) -> Vec<Option<usize>> {
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
pub(super) fn is_blank_or_comment(s: &str) -> bool {
    let t = s.trim_start();
    t.is_empty() || t.starts_with('#')
}
