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
    /// For a stable directory: the locked file that makes it this process's.
    lock: Option<std::fs::File>,
}

impl TempTree {
    /// Creates `escape-gate-<what>-XXXX` in the system temporary directory.
    pub fn new(what: &str) -> Result<TempTree> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("escape-gate-{what}-"))
            .tempdir()
            .context("creating a temporary directory")?;
        Ok(TempTree::owning(dir.keep(), None))
    }

    /// Uses `escape-gate-<name>` in the system temporary directory: the same path
    /// every time, because the Go build cache keys packages by their directory when
    /// builds are not `-trimpath`. The directory must be this user's alone (mode 0700,
    /// not a link), and it is taken by an exclusive lock on a file inside it, which the
    /// system releases when a process ends, however it ends. When it is locked by
    /// another run, or not safe to use, a fresh directory is used instead: correct,
    /// only slower.
    pub fn stable(name: &str) -> Result<TempTree> {
        let path = std::env::temp_dir().join(format!("escape-gate-{name}"));
        match lock_stable(&path) {
            Ok(Some(lock)) => Ok(TempTree::owning(path, Some(lock))),
            _ => TempTree::new(name),
        }
    }

    fn owning(path: PathBuf, lock: Option<std::fs::File>) -> TempTree {
        registry().dirs.push(path.clone());
        TempTree { path, lock }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn lock_stable(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let meta = std::fs::symlink_metadata(path)?;
    let mine = meta.uid() == rustix::process::getuid().as_raw();
    if !meta.is_dir() || !mine || meta.mode() & 0o077 != 0 {
        return Ok(None);
    }
    let lock_path = path.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&lock_path)?;
    if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(None);
    }
    // The file locked must still be the one at the path: the previous owner renames
    // the directory away before it lets go.
    let at_path = std::fs::symlink_metadata(&lock_path)?;
    if at_path.ino() != file.metadata()?.ino() || at_path.dev() != file.metadata()?.dev() {
        return Ok(None);
    }
    Ok(Some(file))
}

#[cfg(not(unix))]
fn lock_stable(_path: &Path) -> std::io::Result<Option<std::fs::File>> {
    Ok(None)
}

impl Drop for TempTree {
    fn drop(&mut self) {
        registry().dirs.retain(|d| d != &self.path);
        let mut target = self.path.clone();
        if self.lock.is_some() {
            // Move the directory out of the way while still holding its lock, so that
            // the next run never sees it half removed.
            let trash = self.path.with_file_name(format!(
                "{}.removing-{}",
                file_name(&self.path),
                std::process::id()
            ));
            if std::fs::rename(&self.path, &trash).is_ok() {
                target = trash;
            }
        }
        if std::fs::remove_dir_all(&target).is_err() {
            // Files written read-only by the Go toolchain (module cache copies) would make
            // removal fail; make them writable first.
            make_writable(&target);
            let _ = std::fs::remove_dir_all(&target);
        }
        self.lock = None;
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Adds the owner's write permission to every directory below `path`, never following
/// a link.
fn make_writable(path: &Path) {
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() | 0o700;
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            }
            make_writable(&p);
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

/// One line of a streamed command's stderr, without its line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The line, or its first `max_line` bytes when it was longer (decoded lossily, so
    /// a cut inside a character shows as U+FFFD).
    pub text: &'a str,
    /// The whole line's length in bytes when it was longer than `max_line` and `text`
    /// is only its start; the rest was read and thrown away.
    pub cut_from: Option<u64>,
}

/// Runs `cmd` in its own process group, registered for interruption, handing each line
/// of its stderr to `on_line` as it arrives (stdout is discarded). At most `max_line`
/// bytes of a line are kept, so neither a command that prints a lot nor one that prints
/// one gigantic line costs more than that here; a longer line is handed on cut, and
/// says so ([`Line::cut_from`]).
pub fn run_streaming(
    cmd: &mut Command,
    max_line: usize,
    on_line: &mut dyn FnMut(Line<'_>),
) -> std::io::Result<ExitStatus> {
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
    let read = read_lines(&mut reader, max_line, on_line);
    let status = child.wait();
    drop(group);
    read?;
    status
}

/// Splits `reader` into lines of at most `max_line` kept bytes (see [`run_streaming`]).
fn read_lines(
    reader: &mut dyn std::io::BufRead,
    max_line: usize,
    on_line: &mut dyn FnMut(Line<'_>),
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    // Bytes of the current line read so far, kept or not.
    let mut len: u64 = 0;
    let mut emit = |buf: &mut Vec<u8>, len: &mut u64| {
        let text = String::from_utf8_lossy(buf);
        let cut_from = (*len > buf.len() as u64).then_some(*len);
        on_line(Line {
            text: &text,
            cut_from,
        });
        buf.clear();
        *len = 0;
    };
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            if len > 0 {
                emit(&mut buf, &mut len);
            }
            return Ok(());
        }
        let (chunk, ends_line) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        let room = max_line.saturating_sub(buf.len()).min(chunk.len());
        buf.extend_from_slice(&chunk[..room]);
        len += chunk.len() as u64;
        let used = chunk.len() + usize::from(ends_line);
        reader.consume(used);
        if ends_line {
            emit(&mut buf, &mut len);
        }
    }
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

#[cfg(test)]
mod line_tests {
    use super::*;

    fn lines(input: &[u8], max: usize, capacity: usize) -> Vec<(String, Option<u64>)> {
        let mut reader = std::io::BufReader::with_capacity(capacity, input);
        let mut out = Vec::new();
        read_lines(&mut reader, max, &mut |line| {
            out.push((line.text.to_string(), line.cut_from))
        })
        .expect("read");
        out
    }

    #[test]
    fn lines_are_split_and_long_ones_cut_and_marked() {
        for capacity in [1, 3, 8, 1024] {
            assert_eq!(
                lines(b"a\nbcdefgh\n\nxyz", 4, capacity),
                vec![
                    ("a".to_string(), None),
                    ("bcde".to_string(), Some(7)),
                    (String::new(), None),
                    ("xyz".to_string(), None),
                ],
                "buffer of {capacity}"
            );
            // Exactly the limit is whole; a line end is not part of the line.
            assert_eq!(
                lines(b"abcd\r\nabcd", 4, capacity),
                vec![("abcd".to_string(), Some(5)), ("abcd".to_string(), None)]
            );
        }
        assert!(lines(b"", 4, 8).is_empty());
    }

    #[test]
    fn a_gigantic_line_costs_only_the_limit() {
        // 64 MiB without a line end, read through a small buffer: only 16 bytes are kept.
        let big = vec![b'x'; 64 << 20];
        let got = lines(&big, 16, 8192);
        assert_eq!(got, vec![("x".repeat(16), Some(64 << 20))]);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_stable_directory_has_one_owner_at_a_time() {
        let tmp = tempfile::tempdir().expect("temp");
        let path = tmp.path().join("escape-gate-work-x");
        let first = lock_stable(&path).expect("lock").expect("free");
        assert_eq!(mode(&path), 0o700);
        assert!(lock_stable(&path).expect("lock").is_none(), "taken twice");
        drop(first);
        // Left behind by a process that is gone: the lock is free again.
        assert!(lock_stable(&path).expect("lock").is_some());
    }

    #[test]
    fn a_planted_link_or_a_shared_directory_is_never_used() {
        let tmp = tempfile::tempdir().expect("temp");
        let victim = tmp.path().join("victim");
        std::fs::create_dir_all(victim.join("secret")).expect("mkdir");
        std::fs::set_permissions(
            victim.join("secret"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod");
        let link = tmp.path().join("escape-gate-work-y");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(lock_stable(&link).expect("checked").is_none());
        assert!(!victim.join("lock").exists());
        assert_eq!(mode(&victim.join("secret")), 0o700);

        let shared = tmp.path().join("escape-gate-work-z");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(lock_stable(&shared).expect("checked").is_none());
    }

    #[test]
    fn make_writable_adds_only_owner_permissions_and_follows_no_link() {
        let tmp = tempfile::tempdir().expect("temp");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o500)).expect("chmod");
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("ro")).expect("mkdir");
        std::fs::set_permissions(tree.join("ro"), std::fs::Permissions::from_mode(0o500))
            .expect("chmod");
        std::os::unix::fs::symlink(&outside, tree.join("link")).expect("symlink");
        make_writable(&tree);
        assert_eq!(mode(&tree.join("ro")), 0o700);
        assert_eq!(mode(&outside), 0o500);
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
}
