//! Exit codes, as diff(1): 0 clean, 1 regressions found, 2 could not decide.

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No new heap escapes (after the allowlist).
    Clean = 0,
    /// New heap escapes that the allowlist does not cover.
    NewEscapes = 1,
    /// The tool could not decide: usage, allowlist, git or build error.
    Error = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}
