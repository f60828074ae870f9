use std::process::ExitCode;

use clap::Parser;

use escape_gate::commands::{self, Cli};
use escape_gate::exit::Exit;
use escape_gate::problem_matcher;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = escape_gate::interrupt::install() {
        eprintln!("error: {err:#}");
        return Exit::Error.into();
    }
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(_) if escape_gate::interrupt::interrupted() => escape_gate::interrupt::wait_for_exit(),
        Err(err) => {
            // A closed pipe (`escape-gate diff | head`) is not an error worth a message.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            // Relayed compiler errors must not turn into annotations at wrong paths.
            let message = format!("{err:#}");
            eprintln!("error: {}", problem_matcher::unmatched(&message));
            Exit::Error.into()
        }
    }
}
