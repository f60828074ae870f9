//! Where escape-gate is published and where it looks in a repository, written once:
//! Cargo.toml's `repository` is its home (the source, the Action `uses:` names, the
//! release archives), crates.io has the crate, and the allowlist is [`CONFIG_FILE`].
//! `init`'s workflow, the hook's hint and every error that says how to install or what
//! to edit read these constants; tests hold the README and `action.yml` to them.

/// The allowlist file, at the root of the head revision unless `--config` names one.
pub const CONFIG_FILE: &str = ".escape-gate.yml";

/// The repository: `https://github.com/<owner>/<name>`.
pub const HOME: &str = env!("CARGO_PKG_REPOSITORY");

/// How to install escape-gate, as every hint says it.
pub const INSTALL: &str = "cargo install --locked escape-gate";

/// Where the release archives are.
pub fn releases() -> String {
    format!("{HOME}/releases")
}

/// `<owner>/<name>` of [`HOME`]: what a workflow's `uses:` names.
pub fn github_repository() -> &'static str {
    let path = HOME.strip_prefix("https://github.com/").unwrap_or(HOME);
    path.trim_end_matches('/')
}

/// `uses: <owner>/<name>@v<this version>`: the Action of this release.
pub fn action_uses() -> String {
    format!(
        "uses: {}@v{}",
        github_repository(),
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_is_a_github_repository() {
        let path = HOME
            .strip_prefix("https://github.com/")
            .expect("Cargo.toml's repository is on GitHub: the Action lives there");
        assert_eq!(path.split('/').count(), 2, "{HOME}");
        assert!(!path.ends_with(".git") && !path.ends_with('/'), "{HOME}");
        assert_eq!(github_repository(), path);
        assert_eq!(env!("CARGO_PKG_HOMEPAGE"), HOME, "one home, not two");
    }
}
