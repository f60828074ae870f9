//! What every format says about the head's changes to the allowlist: the same
//! sentences, rendered as text, Markdown, annotations and SARIF notifications, so no
//! format can hide a loosening the others show (see [`crate::config_change`]).

use crate::allowlist::AllowEntry;
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::finding::Finding;
use crate::gate::Outcome;
use crate::report::words::count;

/// The description of a [`ConfigChange`]: a heading and one item per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notes {
    pub heading: String,
    pub items: Vec<Item>,
}

/// One change: a sentence, the line of the head's file it is about (for an
/// annotation), and detail lines (the escapes an entry allows, the packages no longer
/// analysed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `+` added, `-` removed, `~` changed.
    pub sign: char,
    pub line: Option<usize>,
    pub title: String,
    pub details: Vec<String>,
}

/// How a finding is named in a detail line: `a.go:5:2 in F: moved to heap: x`.
pub fn finding_line(f: &Finding) -> String {
    format!(
        "{} in {}: {}",
        f.position(),
        f.function_display(),
        f.message
    )
}

/// The notes for the outcome's config change, if the head changes the allowlist.
pub fn notes(outcome: &Outcome) -> Option<Notes> {
    let change = outcome.config_change.as_ref()?;
    Some(describe(change, outcome.config_from))
}

/// `path "a.go", function "F", count 2`: what an entry says, for a title.
fn entry_fields(e: &AllowEntry) -> String {
    let mut what = format!("path {:?}", e.path);
    if let Some(function) = &e.function {
        what.push_str(&format!(", function {function:?}"));
    }
    if let Some(message) = &e.message {
        what.push_str(&format!(", message {message:?}"));
    }
    if let Some(count) = e.count {
        what.push_str(&format!(", count {count}"));
    }
    if let Some(expires) = e.expires {
        what.push_str(&format!(", expires {expires}"));
    }
    what
}

pub fn describe(change: &ConfigChange, from: ConfigFrom) -> Notes {
    let file = &change.file;
    let heading = match (from, change.base_missing) {
        (ConfigFrom::Head, false) => format!(
            "the head changes the allowlist {file}, and the head's allowlist rules this comparison:"
        ),
        (ConfigFrom::Head, true) => format!(
            "the head adds the allowlist {file} (the base has none), and it rules this comparison:"
        ),
        (ConfigFrom::Base, _) => format!(
            "the head changes the allowlist {file}; the base's rules this comparison \
             (--config-from base), so these changes take effect once merged:"
        ),
    };
    let allows = match from {
        ConfigFrom::Head => "allows",
        ConfigFrom::Base => "would allow",
    };
    let mut items = Vec::new();
    let place = |e: &AllowEntry| match e.line {
        Some(line) => format!("{file}:{line}"),
        None => file.clone(),
    };
    for added in &change.added {
        let e = &added.entry;
        let place = place(e);
        let what = entry_fields(e);
        let n = added.covers.len();
        let covers = match n {
            0 => format!("{allows} none of this comparison's new heap escapes"),
            _ => format!("{allows} {}", count(n, "new heap escape")),
        };
        // A lasting rule is worth a reviewer's second look: it never shows up as stale.
        let kind = if e.policy {
            "policy entry (stale: never)"
        } else {
            "allowlist entry"
        };
        items.push(Item {
            sign: '+',
            line: e.line,
            title: format!(
                "{kind} added at {place} ({what}; reason {:?}): {covers}",
                e.reason
            ),
            details: added.covers.iter().map(finding_line).collect(),
        });
    }
    // An entry the base has too that allows more than it did: the list around it
    // changed (an added entry ahead of it, or another order).
    for loosened in change.loosened.iter().filter(|l| !l.added) {
        let e = &loosened.entry;
        items.push(Item {
            sign: '~',
            line: e.line,
            title: format!(
                "allowlist entry at {} ({}; reason {:?}) {allows} {} that the base's allowlist \
                 would not: the entry is the base's, but the entries around it changed (each \
                 escape is allowed by the first entry that matches it and has count left)",
                place(e),
                entry_fields(e),
                e.reason,
                count(loosened.findings.len(), "new heap escape"),
            ),
            details: loosened.findings.iter().map(finding_line).collect(),
        });
    }
    for e in &change.removed {
        items.push(Item {
            sign: '-',
            line: None,
            title: format!(
                "allowlist entry removed (path {:?}; reason {:?})",
                e.path, e.reason
            ),
            details: Vec::new(),
        });
    }
    for h in &change.hot_removed {
        items.push(Item {
            sign: '-',
            line: None,
            title: format!(
                "hot path removed ({}): an escape that moves into it is no longer new",
                h.describe()
            ),
            details: Vec::new(),
        });
    }
    if let Some(build) = &change.build {
        let place = match build.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        };
        let mut details = Vec::new();
        match &build.no_longer_analysed {
            Some(dropped) if !dropped.is_empty() => details.push(format!(
                "no longer analysed ({}): {}",
                count(dropped.len(), "package"),
                dropped.join(", ")
            )),
            Some(_) => details.push("no package of the base's analysis is left out".to_string()),
            None => {}
        }
        items.push(Item {
            sign: '~',
            line: build.line,
            title: format!(
                "build section changed at {place}: {}",
                build.differences().join("; ")
            ),
            details,
        });
    }
    if let Some(checks) = &change.checks {
        let place = match checks.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        };
        let names = |list: Vec<crate::finding::Check>| {
            list.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        };
        let mut details = Vec::new();
        let off = checks.turned_off();
        if !off.is_empty() {
            details.push(format!(
                "turned off: {} (what they see is no longer compared)",
                names(off)
            ));
        }
        let on = checks.turned_on();
        if !on.is_empty() {
            details.push(format!("turned on: {}", names(on)));
        }
        items.push(Item {
            sign: '~',
            line: checks.line,
            title: format!(
                "checks changed at {place}: [{}] → [{}]",
                checks.base.display(),
                checks.head.display()
            ),
            details,
        });
    }
    if let Some(profile) = &change.profile {
        let place = match profile.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        };
        let changes = profile.changes();
        let loosened: Vec<&str> = changes
            .iter()
            .filter(|(_, weakens)| *weakens)
            .map(|(text, _)| text.as_str())
            .collect();
        let mut details = Vec::new();
        if !loosened.is_empty() {
            details.push(format!(
                "loosens the gate: {} (fewer functions hot, or more new escapes cold and not failing)",
                loosened.join("; ")
            ));
        }
        items.push(Item {
            sign: '~',
            line: profile.line,
            title: format!(
                "profile section changed at {place}: {}",
                changes
                    .iter()
                    .map(|(text, _)| text.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
        });
    }
    Notes { heading, items }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::Config;

    #[test]
    fn every_change_is_an_item() {
        let head_text = "version: 1\nbuild:\n  exclude: [\"hot/...\"]\nallow:\n  - path: \"**\"\n    count: 2\n    reason: anything\n";
        let base = Config::parse(
            "version: 1\nallow:\n  - path: old.go\n    reason: gone\nhot:\n  - path: \"codec/*.go\"\n    function: Encode\n",
            ".escape-gate.yml",
        )
        .expect("base");
        let head = Config::parse(head_text, ".escape-gate.yml").expect("head");
        let mut change = ConfigChange::between(".escape-gate.yml", Some(&base), &head, head_text)
            .expect("changed");
        change.build.as_mut().expect("build").no_longer_analysed =
            Some(vec!["example.com/m/hot".to_string()]);
        let notes = describe(&change, ConfigFrom::Head);
        assert!(notes.heading.contains("the head's allowlist rules"));
        let titles: Vec<(char, Option<usize>, &str)> = notes
            .items
            .iter()
            .map(|i| (i.sign, i.line, i.title.as_str()))
            .collect();
        assert_eq!(
            titles,
            vec![
                ('+', Some(5), "allowlist entry added at .escape-gate.yml:5 (path \"**\", count 2; reason \"anything\"): allows none of this comparison's new heap escapes"),
                ('-', None, "allowlist entry removed (path \"old.go\"; reason \"gone\")"),
                ('-', None, "hot path removed (codec/*.go Encode): an escape that moves into it is no longer new"),
                ('~', Some(2), "build section changed at .escape-gate.yml:2: exclude: [] → [\"hot/...\"]"),
            ]
        );
        assert_eq!(
            notes.items[3].details,
            vec!["no longer analysed (1 package): example.com/m/hot".to_string()]
        );
        let base_rules = describe(&change, ConfigFrom::Base);
        assert!(base_rules.heading.contains("--config-from base"));
        assert!(base_rules.items[0].title.contains("would allow"));
    }
}
