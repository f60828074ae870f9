//! The command line: one subcommand per file, each with its clap `Args` and its `run`.

use clap::{Parser, Subcommand};

use crate::exit::Exit;

pub mod allow;
pub mod completions;
pub mod demo;
pub mod diff;
pub mod explain;
pub mod hook;
pub mod init;
pub mod install_hook;
pub mod list;
pub mod man;
pub mod merge;
pub mod shared;

/// Keeps Go code from quietly gaining heap allocations.
///
/// escape-gate checks out a base and a head revision into temporary directories, runs
/// the Go compiler's escape analysis (`go build -gcflags=-m`) on both, matches the
/// findings so that code that merely moved is not reported, and fails when the head has
/// heap escapes that the base did not have and the allowlist (.escape-gate.yml) does not
/// cover. Your repository is only read.
///
/// Exit codes: 0 no new heap escapes, 1 new heap escapes, 2 could not decide (usage,
/// allowlist, git or build error).
#[derive(Debug, Parser)]
#[command(name = "escape-gate", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Diff(diff::Args),
    List(list::Args),
    Demo(demo::Args),
    Hook(hook::Args),
    InstallHook(install_hook::Args),
    Explain(explain::Args),
    Allow(allow::Args),
    Init(init::Args),
    Completions(completions::Args),
    Man(man::Args),
    Merge(merge::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    if let Some(limit) = cli.command.timeout() {
        let source = format!("--timeout {}", crate::interrupt::describe_duration(limit));
        crate::interrupt::limit_time(limit, &source)?;
    }
    match cli.command {
        Command::Diff(args) => diff::run(args),
        Command::List(args) => list::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Hook(args) => hook::run(args),
        Command::InstallHook(args) => install_hook::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Allow(args) => allow::run(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Merge(args) => merge::run(args),
    }
}

impl Command {
    /// `--timeout`, for the commands that build.
    fn timeout(&self) -> Option<std::time::Duration> {
        match self {
            Command::Diff(args) => args.repository.timeout,
            Command::List(args) => args.repository.timeout,
            Command::Explain(args) => args.repository.timeout,
            Command::Allow(args) => args.repository.timeout,
            Command::Merge(args) => args.repository.timeout,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
