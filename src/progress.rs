//! A one-line progress display on stderr, only when stderr is a terminal.

use std::io::IsTerminal;

/// A one-line progress display on stderr, only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Shows what the run is doing, and records it as the stage a time limit that runs
    /// out names.
    pub fn say(&self, what: &str) {
        crate::interrupt::set_stage(what);
        if self.enabled {
            eprint!("\r\x1b[2Kescape-gate: {} …", crate::inert::line(what));
        }
    }

    pub fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error leaves the pipeline early; its message must start on a clean line.
        self.clear();
    }
}
