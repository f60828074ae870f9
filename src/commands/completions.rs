//! `escape-gate completions SHELL`: a shell completion script (clap_complete),
//! generated from the same clap definitions as `--help`, so it cannot fall behind the
//! options. The release archives carry one per shell (`.ci/package`); a `cargo
//! install` user generates them.

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

use crate::commands::Cli;
use crate::exit::Exit;

/// Print a shell completion script.
///
/// bash: `escape-gate completions bash > ~/.local/share/bash-completion/completions/escape-gate`;
/// zsh: `escape-gate completions zsh > "${fpath[1]}/_escape-gate"`;
/// fish: `escape-gate completions fish > ~/.config/fish/completions/escape-gate.fish`;
/// PowerShell: `escape-gate completions powershell | Out-String | Invoke-Expression`
/// (in your profile).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: Args) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "escape-gate", &mut script);
    if args.shell == Shell::Bash {
        script = fix_bash_states(&script);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// clap_complete (4.6.12) spells the bash script's states two ways for a name with a
/// hyphen: the loop that reads the words sets `escape__gate__subcmd__diff`, the `case`
/// that completes them expects `escape__subcmd__gate__subcmd__diff`, so nothing after a
/// subcommand completes (clap-rs/clap#6421). The loop's spelling is the consistent one;
/// once clap writes it everywhere this changes nothing.
fn fix_bash_states(script: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(script)
        .replace("escape__subcmd__gate", "escape__gate")
        .into_bytes()
}
