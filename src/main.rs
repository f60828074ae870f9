use std::process::ExitCode;

use clap::Parser;

use escape_gate::commands::{self, Cli};
use escape_gate::exit::Exit;
use escape_gate::{inert, problem_matcher};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = escape_gate::interrupt::install() {
        eprint!(
            "{}",
            inert::stopped(&inert::block(&format!("error: {err:#}\n")))
        );
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
            // Relayed compiler errors and quoted repository text must not turn into
            // annotations at wrong paths, terminal control or workflow commands.
            let message = inert::block(&format!("error: {err:#}"));
            eprint!(
                "{}",
                inert::stopped(&format!("{}\n", problem_matcher::unmatched(&message)))
            );
            Exit::Error.into()
        }
    }
}
