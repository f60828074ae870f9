//! Cleaning up when the user stops a run: temporary trees and the `go` processes
//! building in them are registered here, and SIGINT, SIGTERM or SIGHUP stops every
//! registered process group and removes every registered directory before exiting.
//!
//! `go build` starts compiler processes of its own, so each `go` runs in a process group
//! of its own and the whole group is signalled; a terminal's Ctrl-C would not reach it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};

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

/// A temporary directory removed on drop and on interruption.
#[derive(Debug)]
pub struct TempTree {
    path: PathBuf,
}

impl TempTree {
    /// Creates `escape-gate-<what>-XXXX` in the system temporary directory.
    pub fn new(what: &str) -> Result<TempTree> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("escape-gate-{what}-"))
            .tempdir()
            .context("creating a temporary directory")?;
        Ok(TempTree::owning(dir.keep()))
    }

    /// Creates `escape-gate-<name>` in the system temporary directory: the same path
    /// every time, because the Go build cache keys packages by their directory when
    /// builds are not `-trimpath`. When another live escape-gate holds that path, a
    /// fresh one is used instead (correct, only slower); a path left by a process that
    /// is gone is taken over.
    pub fn stable(name: &str) -> Result<TempTree> {
        let path = std::env::temp_dir().join(format!("escape-gate-{name}"));
        for _ in 0..2 {
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let tree = TempTree::owning(path.clone());
                    std::fs::write(path.join("pid"), std::process::id().to_string())
                        .context("writing the work directory's owner")?;
                    return Ok(tree);
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(path.join("pid")).ok();
                    let alive = owner
                        .and_then(|pid| pid.trim().parse::<u32>().ok())
                        .is_some_and(process_alive);
                    if alive {
                        break;
                    }
                    make_writable(&path);
                    let _ = std::fs::remove_dir_all(&path);
                }
                Err(err) => {
                    return Err(err).with_context(|| format!("creating {}", path.display()));
                }
            }
        }
        TempTree::new(name)
    }

    fn owning(path: PathBuf) -> TempTree {
        registry().dirs.push(path.clone());
        TempTree { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether a process is running. Where that cannot be known, it is assumed to be, so a
/// directory is never taken from a live owner.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        registry().dirs.retain(|d| d != &self.path);
        if std::fs::remove_dir_all(&self.path).is_err() {
            // Files written read-only by the Go toolchain (module cache copies) would make
            // removal fail; make them writable first.
            make_writable(&self.path);
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn make_writable(path: &Path) {
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let p = entry.path();
            if let Ok(meta) = std::fs::symlink_metadata(&p) {
                if meta.is_dir() {
                    #[allow(clippy::permissions_set_readonly_false)]
                    {
                        let mut perm = meta.permissions();
                        perm.set_readonly(false);
                        let _ = std::fs::set_permissions(&p, perm);
                    }
                    make_writable(&p);
                }
            }
        }
    }
}

/// Runs `cmd` to completion in its own process group, registered for interruption,
/// capturing stdout and stderr.
pub fn run_captured(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn()?;
    let group = Group::register(&child);
    let output = child.wait_with_output();
    drop(group);
    output
}

/// Runs `cmd` in its own process group, registered for interruption, handing each line
/// of its stderr to `on_line` as it arrives (stdout is discarded). Nothing is kept, so
/// a command that prints a lot costs no memory here.
pub fn run_streaming(
    cmd: &mut Command,
    on_line: &mut dyn FnMut(&str),
) -> std::io::Result<ExitStatus> {
    use std::io::BufRead;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let group = Group::register(&child);
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut buf = Vec::new();
    let read = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break Ok(()),
            Ok(_) => on_line(&String::from_utf8_lossy(&buf)),
            Err(err) => break Err(err),
        }
    };
    let status = child.wait();
    drop(group);
    read?;
    status
}

/// Runs `cmd` with inherited stdio in its own process group, registered.
pub fn run_status(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn()?;
    let group = Group::register(&child);
    let status = child.wait();
    drop(group);
    status
}

struct Group(u32);

impl Group {
    fn register(child: &Child) -> Group {
        let id = child.id();
        registry().groups.push(id);
        Group(id)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        registry().groups.retain(|&g| g != self.0);
    }
}
