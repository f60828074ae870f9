//! The pre-push hook: what git tells a `pre-push` hook in, the comparisons to run out.
//!
//! Git passes `<remote> <url>` as arguments and one line per pushed ref on stdin:
//! `<local ref> <local oid> <remote ref> <remote oid>`. A deletion has an all-zero local
//! oid and is never checked; a new branch has an all-zero remote oid and is compared
//! with its merge-base with the remote's default branch. Zero oids are recognised by
//! being all zeros, whatever their length, so SHA-256 repositories work too.

use std::fmt;

use anyhow::{bail, Result};

/// One line of git's pre-push input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRef {
    pub local_ref: String,
    pub local_oid: String,
    pub remote_ref: String,
    pub remote_oid: String,
}

impl PushedRef {
    pub fn is_deletion(&self) -> bool {
        is_zero_oid(&self.local_oid)
    }

    pub fn is_new_branch(&self) -> bool {
        is_zero_oid(&self.remote_oid)
    }

    pub fn is_tag(&self) -> bool {
        self.remote_ref.starts_with("refs/tags/") || self.local_ref.starts_with("refs/tags/")
    }
}

impl fmt::Display for PushedRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .remote_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.remote_ref);
        f.write_str(name)
    }
}

/// An object id of only zeros: git's "nothing here" in hook input.
pub fn is_zero_oid(oid: &str) -> bool {
    !oid.is_empty() && oid.bytes().all(|b| b == b'0')
}

/// Parses git's pre-push standard input. Blank lines are ignored.
pub fn parse_input(input: &str) -> Result<Vec<PushedRef>> {
    let mut refs = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local_ref, local_oid, remote_ref, remote_oid] = fields[..] else {
            bail!(
                "line {} of the pre-push input is not `<local ref> <local oid> <remote ref> <remote oid>`: {line:?}\n\
                 hint: `escape-gate hook pre-push` is meant to be run by git as a pre-push hook (`escape-gate install-hook`)",
                i + 1
            );
        };
        for oid in [local_oid, remote_oid] {
            if !oid.bytes().all(|b| b.is_ascii_hexdigit()) || !(oid.len() == 40 || oid.len() == 64)
            {
                bail!(
                    "line {} of the pre-push input has {oid:?} where an object id belongs\n\
                     hint: `escape-gate hook pre-push` reads what git gives a pre-push hook on stdin",
                    i + 1
                );
            }
        }
        refs.push(PushedRef {
            local_ref: local_ref.to_string(),
            local_oid: local_oid.to_string(),
            remote_ref: remote_ref.to_string(),
            remote_oid: remote_oid.to_string(),
        });
    }
    Ok(refs)
}

/// The refs to consider for a remote's default branch, most specific first.
pub fn default_branch_candidates(remote: &str) -> Vec<String> {
    let mut names = Vec::new();
    if !remote.is_empty() && !remote.contains('/') && !remote.contains(':') {
        names.push(format!("refs/remotes/{remote}/HEAD"));
        names.push(format!("refs/remotes/{remote}/main"));
        names.push(format!("refs/remotes/{remote}/master"));
    }
    names.push("refs/heads/main".to_string());
    names.push("refs/heads/master".to_string());
    names
}

/// The script `escape-gate install-hook` writes. `MARKER` identifies it as ours. It
/// runs the binary that installed it, else the `escape-gate` on PATH (after a move or
/// an upgrade to another place), and says so plainly when there is neither.
pub const MARKER: &str = "# escape-gate-managed pre-push hook";

pub fn hook_script(installed_from: &str) -> String {
    let quoted = shell_quote(installed_from);
    let install = crate::home::INSTALL;
    let releases = crate::home::releases();
    format!(
        r#"#!/bin/sh
{MARKER}: written by `escape-gate install-hook`; remove with `escape-gate install-hook --uninstall`.
# Refuses a push that adds Go heap escapes. Skip once: git push --no-verify (or ESCAPE_GATE_SKIP=1).
if [ -x {quoted} ]; then
	exec {quoted} hook pre-push "$@"
elif command -v escape-gate >/dev/null 2>&1; then
	exec escape-gate hook pre-push "$@"
fi
echo "escape-gate pre-push hook: escape-gate is neither on PATH nor at "{quoted} >&2
echo "hint: install it ({install}, or a release archive from {releases})," >&2
echo "      or push once with git push --no-verify," >&2
echo "      or remove this hook with: escape-gate install-hook --uninstall" >&2
exit 1
"#
    )
}

/// Single-quotes a string for POSIX sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z40: &str = "0000000000000000000000000000000000000000";
    const A40: &str = "1111111111111111111111111111111111111111";
    const B64: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn zero_oids_of_any_length() {
        let cases = [
            (Z40, true),
            (&"0".repeat(64), true),
            (A40, false),
            ("0000000000000000000000000000000000000001", false),
            ("", false),
        ];
        for (oid, want) in cases {
            assert_eq!(is_zero_oid(oid), want, "{oid}");
        }
    }

    #[test]
    fn parses_every_line() {
        let input = format!(
            "refs/heads/a {A40} refs/heads/a {Z40}\n\nrefs/heads/b {Z40} refs/heads/b {A40}\nrefs/tags/v1 {B64} refs/tags/v1 {}\n",
            "0".repeat(64)
        );
        let refs = parse_input(&input).expect("valid input");
        assert_eq!(refs.len(), 3);
        assert!(refs[0].is_new_branch() && !refs[0].is_deletion());
        assert!(refs[1].is_deletion());
        assert!(refs[2].is_tag() && refs[2].is_new_branch());
        assert_eq!(refs[0].to_string(), "a");
    }

    #[test]
    fn rejects_malformed_lines() {
        for input in [
            "refs/heads/a 1234 refs/heads/a 5678\n".to_string(),
            format!("refs/heads/a {A40} refs/heads/a\n"),
            format!("refs/heads/a {A40} refs/heads/a {A40} extra\n"),
        ] {
            assert!(parse_input(&input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn candidates_for_named_and_url_remotes() {
        assert_eq!(
            default_branch_candidates("origin"),
            [
                "refs/remotes/origin/HEAD",
                "refs/remotes/origin/main",
                "refs/remotes/origin/master",
                "refs/heads/main",
                "refs/heads/master"
            ]
        );
        assert_eq!(
            default_branch_candidates("/tmp/remote.git"),
            ["refs/heads/main", "refs/heads/master"]
        );
    }

    #[test]
    fn script_quotes_the_install_path() {
        let script = hook_script("/opt/it's here/escape-gate");
        assert!(
            script.contains(r"'/opt/it'\''s here/escape-gate'"),
            "{script}"
        );
        assert!(script.starts_with("#!/bin/sh\n# escape-gate-managed"));
    }
}
