//! What the head changes in the gate's own configuration: the "trust" half of the
//! "Allow" stage. The base's and the head's allowlists in, a [`ConfigChange`] out.
//!
//! A pull request's `.escape-gate.yml` is written by whoever opens it, and the gate
//! reads the head's file, so that a change and the entry that accepts it travel
//! together. Code review is what protects a repository from a loosening; escape-gate's
//! part is to make every loosening impossible to miss: each report names the entries
//! the head adds (and which new escapes they cover), the entries it removes, and every
//! change to the `build` section, with the packages it stops analysing. Entries are
//! compared by their effect as well as their text: an allowlist allows each escape by
//! its first matching entry with count left, so reordering entries, or moving a count,
//! can allow more without adding a line; every escape the head's list allows that the
//! base's would not, on the same findings, is named ([`ConfigChange::loosened`]). Pure:
//! the package lists and the findings come from the caller.

use crate::allowlist::{self, AllowEntry, BuildConfig, Config, Date, HotPath, ProfileConfig};
use crate::checks::Checks;
use crate::finding::{Check, Finding};

/// Which revision's allowlist rules the comparison (`--config-from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFrom {
    /// The head's: a change and the entry that accepts it travel together.
    #[default]
    Head,
    /// The base's: the head's changes to the allowlist take effect once merged.
    Base,
}

impl ConfigFrom {
    pub fn name(self) -> &'static str {
        match self {
            ConfigFrom::Head => "head",
            ConfigFrom::Base => "base",
        }
    }
}

/// How the head's allowlist differs from the base's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange {
    /// Repository-relative path of the file compared.
    pub file: String,
    /// Whether the base has no such file (every entry of the head is then added).
    pub base_missing: bool,
    /// Entries of the head that the base does not have (added, or changed: a wider
    /// glob, a larger count, a later expiry are all new entries), in file order.
    pub added: Vec<AddedEntry>,
    /// Entries of the base that the head no longer has (or has changed).
    pub removed: Vec<AllowEntry>,
    /// The `build` section, when it differs.
    pub build: Option<BuildChange>,
    /// `hot:` entries of the base that the head no longer has: functions where an
    /// escape moving in stops counting as new.
    pub hot_removed: Vec<HotPath>,
    /// The `checks` the file asks for, when they differ (a head that turns a check
    /// off stops the gate from looking at what that check sees).
    pub checks: Option<ChecksChange>,
    /// The `profile` section, when it differs: the profiles that weigh the findings
    /// and the shares that make a function hot or cold.
    pub profile: Option<ProfileChange>,
    /// What the head's allowlist allows (or would allow, when the base's rules) that
    /// the base's would not, applied to the same new escapes, by the head's entry that
    /// allows it, in file order; see [`ConfigChange::effect`].
    pub loosened: Vec<Loosened>,
}

/// The `profile` sections of both sides, when they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub base: ProfileConfig,
    pub head: ProfileConfig,
    /// 1-based line of `profile:` in the head's file, when it has one.
    pub line: Option<usize>,
}

impl ProfileChange {
    /// Each change, `name: base → head`, and whether it lets more through.
    pub fn changes(&self) -> Vec<(String, bool)> {
        self.head.changes_from(&self.base)
    }
}

/// New escapes that one entry of the head's allowlist allows and the base's allowlist
/// would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loosened {
    /// Index into the head config's `allow`.
    pub index: usize,
    pub entry: AllowEntry,
    /// Whether the entry is one the head adds (it is then in [`ConfigChange::added`]
    /// too); otherwise the base has the same entry, and the order of the entries or
    /// their counts make it allow more.
    pub added: bool,
    pub findings: Vec<Finding>,
}

/// The checks each side's file asks for (the default set when it names none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksChange {
    pub base: Checks,
    pub head: Checks,
    /// 1-based line of `checks:` in the head's file, when it has one.
    pub line: Option<usize>,
}

impl ChecksChange {
    /// Checks the base's file has on and the head's turns off.
    pub fn turned_off(&self) -> Vec<Check> {
        self.base.missing_from(&self.head)
    }

    /// Checks the head's file turns on.
    pub fn turned_on(&self) -> Vec<Check> {
        self.head.missing_from(&self.base)
    }
}

/// An allowlist entry the head adds, and what it lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedEntry {
    /// Index into the head config's `allow`.
    pub index: usize,
    pub entry: AllowEntry,
    /// The new escapes of this comparison that the entry allows (or would allow, when
    /// the base's allowlist rules); see [`ConfigChange::effect`].
    pub covers: Vec<Finding>,
}

/// The `build` sections of both sides, when they differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildChange {
    pub base: BuildConfig,
    pub head: BuildConfig,
    /// 1-based line of `build:` in the head's file, when it has one.
    pub line: Option<usize>,
    /// Import paths of head packages that the base's build section analyses and the
    /// head's does not. `None` when it was not computed (the base's configuration
    /// rules, so the head's narrowing does not apply).
    pub no_longer_analysed: Option<Vec<String>>,
}

impl BuildChange {
    /// The fields that differ, as `name: base → head` phrases.
    pub fn differences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let fields: [(&str, &Vec<String>, &Vec<String>); 4] = [
            ("packages", &self.base.packages, &self.head.packages),
            ("exclude", &self.base.exclude, &self.head.exclude),
            ("tags", &self.base.tags, &self.head.tags),
            ("flags", &self.base.flags, &self.head.flags),
        ];
        for (name, base, head) in fields {
            if base != head {
                out.push(format!(
                    "{name}: {} → {}",
                    allowlist::flow_list(base),
                    allowlist::flow_list(head)
                ));
            }
        }
        if self.base.timeout != self.head.timeout {
            let show = |t: Option<std::time::Duration>| {
                t.map_or("none".to_string(), crate::interrupt::describe_duration)
            };
            out.push(format!(
                "timeout: {} → {}",
                show(self.base.timeout),
                show(self.head.timeout)
            ));
        }
        if self.base.platforms != self.head.platforms {
            let names = |ps: &[crate::go::Platform]| -> Vec<String> {
                ps.iter().map(ToString::to_string).collect()
            };
            out.push(format!(
                "platforms: {} → {}",
                allowlist::flow_list(&names(&self.base.platforms)),
                allowlist::flow_list(&names(&self.head.platforms))
            ));
        }
        out
    }
}

impl ConfigChange {
    /// The difference between the base's allowlist (`None`: the base has no file) and
    /// the head's, or `None` when they say the same thing. Entries are compared by
    /// content, not by line, so moving an entry or editing a comment is no change to the
    /// text; what a move changes in what the entries allow is [`Self::effect`]'s.
    pub fn between(
        file: &str,
        base: Option<&Config>,
        head: &Config,
        head_text: &str,
    ) -> Option<ConfigChange> {
        let empty = Config::default();
        let base_config = base.unwrap_or(&empty);
        // Multisets: a duplicated entry is one more entry.
        let mut unmatched_base: Vec<Option<&AllowEntry>> =
            base_config.allow.iter().map(Some).collect();
        let mut added = Vec::new();
        for (i, entry) in head.allow.iter().enumerate() {
            match unmatched_base
                .iter_mut()
                .find(|b| b.is_some_and(|b| b.same_content(entry)))
            {
                Some(slot) => *slot = None,
                None => added.push(AddedEntry {
                    index: i,
                    entry: entry.clone(),
                    covers: Vec::new(),
                }),
            }
        }
        let removed: Vec<AllowEntry> = unmatched_base.into_iter().flatten().cloned().collect();
        let build = (base_config.build != head.build).then(|| BuildChange {
            base: base_config.build.clone(),
            head: head.build.clone(),
            line: key_line(head_text, "build").or_else(|| key_line(head_text, "platforms")),
            no_longer_analysed: None,
        });
        let hot_removed: Vec<HotPath> = base_config
            .hot
            .iter()
            .filter(|h| !head.hot.contains(h))
            .cloned()
            .collect();
        let checks = (base_config.checks() != head.checks()).then(|| ChecksChange {
            base: base_config.checks(),
            head: head.checks(),
            line: key_line(head_text, "checks"),
        });
        let profile = (base_config.profile != head.profile).then(|| ProfileChange {
            base: base_config.profile.clone(),
            head: head.profile.clone(),
            line: key_line(head_text, "profile"),
        });
        let change = ConfigChange {
            file: file.to_string(),
            base_missing: base.is_none(),
            added,
            removed,
            build,
            hot_removed,
            checks,
            profile,
            loosened: Vec::new(),
        };
        (!change.is_empty()).then_some(change)
    }

    /// A change that says nothing yet, for [`ConfigChange::effect`] to fill in when the
    /// two files read the same (`base_missing` as for [`ConfigChange::between`]).
    pub fn unchanged(file: &str, base_missing: bool) -> ConfigChange {
        ConfigChange {
            file: file.to_string(),
            base_missing,
            ..ConfigChange::default()
        }
    }

    /// Whether the head changes nothing that a report must show.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.build.is_none()
            && self.hot_removed.is_empty()
            && self.checks.is_none()
            && self.profile.is_none()
            && self.loosened.is_empty()
    }

    /// Applies both allowlists to the same new escapes (`base` is the base's, empty
    /// when it has none): fills in which of them each added entry allows, and which
    /// ones the head's list allows that the base's would not ([`Self::loosened`]),
    /// whatever the text of the two files, so that a reordering or a moved count that
    /// allows more is shown like an added entry.
    pub fn effect(&mut self, base: &Config, head: &Config, new: &[Finding], today: Date) {
        let by_head = allowlist::assign(head, new, today);
        let by_base = allowlist::assign(base, new, today);
        for added in &mut self.added {
            added.covers = new
                .iter()
                .zip(&by_head)
                .filter(|(_, hit)| **hit == Some(added.index))
                .map(|(f, _)| f.clone())
                .collect();
        }
        let mut loosened: Vec<Loosened> = Vec::new();
        for ((finding, head_hit), base_hit) in new.iter().zip(&by_head).zip(&by_base) {
            let (Some(index), None) = (head_hit, base_hit) else {
                continue;
            };
            match loosened.iter_mut().find(|l| l.index == *index) {
                Some(group) => group.findings.push(finding.clone()),
                None => loosened.push(Loosened {
                    index: *index,
                    entry: head.allow[*index].clone(),
                    added: self.added.iter().any(|a| a.index == *index),
                    findings: vec![finding.clone()],
                }),
            }
        }
        loosened.sort_by_key(|l| l.index);
        self.loosened = loosened;
    }
}

/// The 1-based line of a top-level `key:` in a YAML text.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text, ".escape-gate.yml").expect("valid allowlist")
    }

    fn indices(change: &ConfigChange) -> Vec<usize> {
        change.added.iter().map(|a| a.index).collect()
    }

    /// What `head_text` changes compared with [`BASE`].
    fn against_base(head_text: &str) -> Option<ConfigChange> {
        ConfigChange::between(
            ".escape-gate.yml",
            Some(&parse(BASE)),
            &parse(head_text),
            head_text,
        )
    }

    const BASE: &str = "version: 1
allow:
  - path: a.go
    reason: kept
  - path: b.go
    reason: removed later
";

    #[test]
    fn an_identical_config_is_no_change_even_when_reordered() {
        let head_text = "# a comment\nversion: 1\nallow:\n  - path: b.go\n    reason: removed later\n  - path: a.go\n    reason: kept\n";
        assert_eq!(against_base(head_text), None);
    }

    #[test]
    fn added_changed_and_removed_entries() {
        let head_text = "version: 1
allow:
  - path: a.go
    reason: kept
  - path: \"**/*.go\"
    reason: everything
  - path: b.go
    count: 3
    reason: removed later
";
        let change = against_base(head_text).expect("a change");
        // The widened count is a new entry, and the old one is gone.
        assert_eq!(indices(&change), vec![1, 2]);
        assert_eq!(change.removed.len(), 1);
        assert_eq!(change.removed[0].path, "b.go");
        assert_eq!(change.removed[0].count, None);
        assert!(change.build.is_none());
        assert!(!change.base_missing);
    }

    #[test]
    fn duplicates_count() {
        let head_text = "version: 1\nallow:\n  - path: a.go\n    reason: kept\n  - path: a.go\n    reason: kept\n  - path: b.go\n    reason: removed later\n";
        let change = against_base(head_text).expect("a change");
        assert_eq!(indices(&change), vec![1]);
        assert!(change.removed.is_empty());
    }

    #[test]
    fn a_file_the_base_lacks_adds_every_entry() {
        let change =
            ConfigChange::between(".escape-gate.yml", None, &parse(BASE), BASE).expect("a change");
        assert!(change.base_missing);
        assert_eq!(indices(&change), vec![0, 1]);
    }

    #[test]
    fn removing_entries_tightens() {
        let head_text = "version: 1\nallow:\n  - path: a.go\n    reason: kept\n";
        let change = against_base(head_text).expect("a change");
        assert!(change.added.is_empty() && change.build.is_none());
        assert_eq!(change.removed.len(), 1);
    }

    #[test]
    fn build_changes_name_each_field_and_the_line() {
        let head_text = "version: 1\n\nbuild:\n  exclude: [\"internal/...\"]\n  tags: [x]\n";
        let change = ConfigChange::between(".escape-gate.yml", None, &parse(head_text), head_text)
            .expect("a change");
        let build = change.build.expect("build changed");
        assert_eq!(build.line, Some(3));
        assert_eq!(
            build.differences(),
            vec![
                "exclude: [] → [\"internal/...\"]".to_string(),
                "tags: [] → [\"x\"]".to_string()
            ]
        );
    }

    fn finding(file: &str, function: &str, message: &str) -> Finding {
        Finding {
            package: "example.com/m".to_string(),
            file: file.to_string(),
            line: 1,
            column: 1,
            function: function.to_string(),
            kind: crate::finding::Kind::Moved,
            message: message.to_string(),
            expr: String::new(),
            source: String::new(),
            flow: Vec::new(),
            compiled_in: None,
            inlined_into: None,
            unplaced: false,
            hot: false,
            profile: None,
            platforms: Vec::new(),
        }
    }

    /// The same entries in another order allow more: first match with count left.
    #[test]
    fn the_effect_of_a_reordering_is_what_it_allows_more() {
        let a = "  - path: a.go\n    count: 1\n    reason: one\n";
        let b = "  - path: \"**\"\n    message: \"moved to heap: buf\"\n    reason: buffers\n";
        let base_text = format!("version: 1\nallow:\n{a}{b}");
        let head_text = format!("version: 1\nallow:\n{b}{a}");
        let (base, head) = (parse(&base_text), parse(&head_text));
        let mut change = ConfigChange::between(".escape-gate.yml", Some(&base), &head, &head_text)
            .unwrap_or_else(|| ConfigChange::unchanged(".escape-gate.yml", false));
        assert!(change.is_empty());
        let new = [
            finding("a.go", "F", "moved to heap: buf"),
            finding("a.go", "G", "moved to heap: x"),
        ];
        let today = Date::parse("2026-01-01").expect("date");
        change.effect(&base, &head, &new, today);
        assert!(!change.is_empty());
        assert_eq!(change.loosened.len(), 1);
        let loosened = &change.loosened[0];
        assert_eq!((loosened.index, loosened.added), (1, false));
        assert_eq!(loosened.findings, vec![new[1].clone()]);
        // The other way round tightens: nothing to show.
        let mut back = ConfigChange::unchanged(".escape-gate.yml", false);
        back.effect(&head, &base, &new, today);
        assert!(back.is_empty());
    }

    #[test]
    fn key_lines_are_top_level_only() {
        let text = "allow:\n  - path: build\n    reason: x\nbuild :\n  tags: []\n";
        assert_eq!(key_line(text, "build"), Some(4));
        assert_eq!(key_line("builder: 1\n", "build"), None);
    }
}
