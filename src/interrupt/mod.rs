//! Cleaning up when the user stops a run: temporary trees and the `go` processes
//! building in them are registered here, and SIGINT, SIGTERM or SIGHUP stops every
//! registered process group and removes every registered directory before exiting.
//!
//! `go build` starts compiler processes of its own, so each `go` runs in a process group
//! of its own and the whole group is signalled; a terminal's Ctrl-C would not reach it.
//!
//! A time limit (`--timeout`, `build.timeout`) ends a run the same way: a watchdog
//! thread stops every registered process group, removes every registered directory,
//! names the stage the run was in ([`set_stage`]) and exits 2.
//!
//! A run killed outright (SIGKILL, a crash, power loss) cleans nothing up; every
//! temporary tree is locked while in use, and the next run removes those whose lock is
//! free ([`sweep_stale`]).
//!
//! Signals and the registry of what to stop and remove are here; `timeout.rs` is the
//! time limit, `temp_tree.rs` the temporary directories, `process.rs` runs the child
//! processes in groups of their own.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use anyhow::Result;

mod process;
mod temp_tree;
mod timeout;

pub use process::{run_captured, run_status, run_streaming, Line};
pub use temp_tree::{sweep_stale, TempTree};
pub use timeout::{describe_duration, limit_time, parse_duration, set_stage};

/// What an interruption or a time limit stops and removes: the temporary directories
/// in use and the process groups of the children running.
#[derive(Default)]
struct Registry {
    dirs: Vec<PathBuf>,
    groups: Vec<u32>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    dirs: Vec::new(),
    groups: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves plain data behind; it is still usable.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Installs the signal handler. Call once, early in `main`.
#[cfg(unix)]
pub fn install() -> Result<()> {
    timeout::STARTED.get_or_init(std::time::Instant::now);
    use anyhow::Context;
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing signal handlers")?;
    std::thread::Builder::new()
        .name("escape-gate-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                SIGNAL.store(signal, Ordering::SeqCst);
                // The registry stays locked until the process exits, so the main thread,
                // which sees its `go` die, cannot report that as a build failure first.
                let mut reg = registry();
                cleanup(&mut reg);
                eprintln!("escape-gate: interrupted; temporary trees removed");
                std::process::exit(128 + signal);
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

#[cfg(not(unix))]
pub fn install() -> Result<()> {
    timeout::STARTED.get_or_init(std::time::Instant::now);
    Ok(())
}

/// The signal that interrupted the run, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Whether a signal is stopping the process: errors seen now are its consequences
/// (a killed `go`), not findings to report.
pub fn interrupted() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// Waits for the signal thread to end the process.
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// Stops registered process groups, then removes registered directories.
#[cfg_attr(not(unix), allow(dead_code))]
fn cleanup(reg: &mut Registry) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal};
        let pids: Vec<Pid> = reg
            .groups
            .iter()
            .filter_map(|&id| Pid::from_raw(id as i32))
            .collect();
        for pid in &pids {
            let _ = kill_process_group(*pid, Signal::TERM);
        }
        if !pids.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(200));
            for pid in &pids {
                let _ = kill_process_group(*pid, Signal::KILL);
            }
        }
    }
    reg.groups.clear();
    for dir in reg.dirs.drain(..) {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
