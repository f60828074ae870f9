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
    STARTED.get_or_init(std::time::Instant::now);
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
    STARTED.get_or_init(std::time::Instant::now);
    Ok(())
}

/// The signal that interrupted the run, or 0.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Whether a signal is stopping the process: errors seen now are its consequences
/// (a killed `go`), not findings to report.
pub fn interrupted() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// What the run is doing, for the message of a time limit that runs out.
static STAGE: Mutex<String> = Mutex::new(String::new());

/// Records what the run is doing now (`building head 1a2b3c4`), which a time limit
/// that runs out names.
pub fn set_stage(what: &str) {
    let mut stage = STAGE.lock().unwrap_or_else(|p| p.into_inner());
    stage.clear();
    stage.push_str(what);
}

/// When the process started, for time limits (set by [`install`]).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The time limit in force: how long the whole run may take, and what set it.
struct Limit {
    after: std::time::Duration,
    source: String,
}

static LIMIT: Mutex<Option<Limit>> = Mutex::new(None);
static LIMIT_CHANGED: std::sync::Condvar = std::sync::Condvar::new();

/// Limits the whole run (counted from the start of the process) to `after`, unless a
/// shorter limit is already in force: the smallest limit wins. `source` says where it
/// comes from (`--timeout 90s`), for the message. When it runs out, every `go` is
/// stopped, the temporary trees are removed and the process exits 2, naming the stage.
pub fn limit_time(after: std::time::Duration, source: &str) -> Result<()> {
    let started = *STARTED.get_or_init(std::time::Instant::now);
    let mut limit = LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    let first = limit.is_none();
    if limit.as_ref().is_some_and(|l| l.after <= after) {
        return Ok(());
    }
    *limit = Some(Limit {
        after,
        source: source.to_string(),
    });
    drop(limit);
    LIMIT_CHANGED.notify_all();
    if first {
        std::thread::Builder::new()
            .name("escape-gate-timeout".into())
            .spawn(move || watch(started))
            .context("starting the time limit's thread")?;
    }
    Ok(())
}

/// Waits for the time limit in force to run out, then ends the run.
fn watch(started: std::time::Instant) {
    let mut limit = LIMIT.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let Some(after) = limit.as_ref().map(|l| l.after) else {
            return;
        };
        let elapsed = started.elapsed();
        if elapsed >= after {
            break;
        }
        limit = LIMIT_CHANGED
            .wait_timeout(limit, after - elapsed)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    let (after, source) = limit
        .as_ref()
        .map(|l| (l.after, l.source.clone()))
        .unwrap_or_default();
    // From here on, errors the main thread sees are this stop's doing.
    SIGNAL.store(TIMED_OUT, Ordering::SeqCst);
    let stage = STAGE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let stage = if stage.is_empty() {
        "starting".to_string()
    } else {
        stage
    };
    // Kept locked until the process exits, as the signal thread does.
    let mut reg = registry();
    cleanup(&mut reg);
    // A progress line may be on the terminal: the message starts on a clean one.
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r\x1b[2K");
    }
    eprintln!(
        "error: the time limit of {} ({source}) ran out while {stage}; the builds were \
         stopped and the temporary trees removed\n\
         hint: allow more time (--timeout, or timeout: in the build section of \
         .escape-gate.yml), or analyse less at a time (build.packages, --shard)",
        describe_duration(after)
    );
    std::process::exit(2);
}

/// `SIGNAL`'s value when the time limit ended the run.
const TIMED_OUT: i32 = -1;

/// `90s`, `10m`, `1h30m`, `250ms`: a duration as `--timeout` takes it.
pub fn describe_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 || ms == 0 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// Parses a duration: a number and a unit, `ms`, `s`, `m` or `h`, repeated (`90s`,
/// `10m`, `1h30m`, `500ms`). Zero is refused: a limit must leave time to run.
pub fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "{text:?} is not a duration: write a number and a unit, ms, s, m or h (90s, 10m, 1h30m)"
        )
    };
    let mut total: u128 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let ms_per = match &rest[..unit] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit..];
        total += n * ms_per;
    }
    if total == 0 {
        return Err(format!("{text:?}: a time limit must be longer than zero"));
    }
    // A week is a limit no run reaches; longer ones are kept at that.
    let total = total.min(7 * 24 * 3_600_000);
    Ok(std::time::Duration::from_millis(total as u64))
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
///
/// Each is `escape-gate-<what>-<suffix>` in the system temporary directory, mode 0700,
/// and locked (an exclusive `flock` on the directory itself) for as long as it is in
/// use. The system drops the lock when the process ends, however it ends, so a
/// directory whose lock is free belongs to a run that is gone: the next run removes it
/// ([`sweep_stale`]), which is how a run killed with SIGKILL is cleaned up after.
#[derive(Debug)]
pub struct TempTree {
    path: PathBuf,
    /// Makes the directory this process's; released after it is removed.
    lock: Option<Lock>,
    /// The same path in every run: moved aside before it is removed.
    stable: bool,
}

/// Held for as long as a directory is in use: an exclusive lock on the directory
/// itself.
#[derive(Debug)]
struct Lock {
    #[cfg(unix)]
    _dir: std::fs::File,
}

/// The start of the name of every temporary directory escape-gate makes.
const PREFIX: &str = "escape-gate-";

impl TempTree {
    /// Creates `escape-gate-<what>-XXXXXX` in the system temporary directory; `what`
    /// is lowercase letters, which is what [`sweep_stale`] recognises.
    pub fn new(what: &str) -> Result<TempTree> {
        debug_assert!(
            KINDS.contains(&what),
            "{what} is not one of KINDS, which the sweep recognises"
        );
        sweep_once();
        // A run sweeping at the same moment may take a directory in the instant between
        // its creation and its lock; it then removes it, and another one is made.
        let prefix = format!("{PREFIX}{what}-");
        for _ in 0..8 {
            let mut builder = tempfile::Builder::new();
            builder.prefix(&prefix);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o700));
            }
            let path = builder
                .tempdir()
                .context("creating a temporary directory")?
                .keep();
            match take(&path) {
                Ok(Some(lock)) => return Ok(TempTree::owning(path, Some(lock), false)),
                Ok(None) => continue,
                Err(err) => {
                    let _ = std::fs::remove_dir(&path);
                    return Err(err).with_context(|| {
                        format!("locking the temporary directory {}", path.display())
                    });
                }
            }
        }
        anyhow::bail!(
            "could not keep a temporary directory in {}: each one was removed as soon as it \
             was made\nhint: another program is removing escape-gate's directories there; \
             set TMPDIR to another directory",
            std::env::temp_dir().display()
        )
    }

    /// Uses `escape-gate-<name>` in the system temporary directory: the same path
    /// every time, because the Go build cache keys packages by their directory when
    /// builds are not `-trimpath`. The directory must be this user's alone (mode 0700,
    /// not a link), and it is taken by an exclusive lock on it, which the system
    /// releases when a process ends, however it ends. When it is locked by another
    /// run, or not safe to use, a fresh directory is used instead: correct, only
    /// slower, and said on stderr.
    pub fn stable(name: &str) -> Result<TempTree> {
        sweep_once();
        let path = std::env::temp_dir().join(format!("{PREFIX}{name}"));
        let why = match lock_stable(&path) {
            Ok(Some(lock)) => return Ok(TempTree::owning(path, Some(lock), true)),
            Ok(None) => {
                "is in use by another escape-gate run (or is not a private directory of this user)"
                    .to_string()
            }
            Err(err) => format!("cannot be used ({err})"),
        };
        // Said on every run that falls back, so that a user who sees this run take
        // longer than the last one knows why. (Elsewhere than Unix there is no stable
        // directory to fall back from.)
        #[cfg(unix)]
        eprintln!(
            "escape-gate: note: {} {why}; building in a separate directory instead, which is \
             slower: the Go build cache keys packages by directory, so what runs there \
             compiled is not reused",
            path.display()
        );
        TempTree::new(name.split('-').next().unwrap_or("work"))
    }

    fn owning(path: PathBuf, lock: Option<Lock>, stable: bool) -> TempTree {
        registry().dirs.push(path.clone());
        TempTree { path, lock, stable }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn lock_stable(path: &Path) -> std::io::Result<Option<Lock>> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    take(path)
}

#[cfg(not(unix))]
fn lock_stable(_path: &Path) -> std::io::Result<Option<Lock>> {
    Ok(None)
}

/// Locks the directory at `path` for this process, if it is a directory (not a link)
/// of this user that no one else can read or write, no other process holds it, and it
/// is still the directory at `path` once locked: a previous owner moves it aside
/// before it lets go, and a sweeping run removes it.
#[cfg(unix)]
fn take(path: &Path) -> std::io::Result<Option<Lock>> {
    use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags};
    use rustix::io::Errno;
    let fd = match rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // A link or a file in its place, or gone.
        Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let st = rfs::fstat(&fd)?;
    let shared = Mode::from_raw_mode(st.st_mode).intersects(Mode::RWXG | Mode::RWXO);
    if st.st_uid != rustix::process::getuid().as_raw() || shared {
        return Ok(None);
    }
    if rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(None);
    }
    if !still_at(path, &st) {
        return Ok(None);
    }
    Ok(Some(Lock {
        _dir: std::fs::File::from(fd),
    }))
}

#[cfg(not(unix))]
fn take(_path: &Path) -> std::io::Result<Option<Lock>> {
    Ok(Some(Lock {}))
}

/// Whether the directory opened as `st` is still the one at `path`.
#[cfg(unix)]
fn still_at(path: &Path, st: &rustix::fs::Stat) -> bool {
    rustix::fs::statat(rustix::fs::CWD, path, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|at| at.st_ino == st.st_ino && at.st_dev == st.st_dev)
}

impl Drop for TempTree {
    fn drop(&mut self) {
        registry().dirs.retain(|d| d != &self.path);
        let mut target = self.path.clone();
        if self.stable {
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
        remove_tree(&target);
        self.lock = None;
    }
}

/// Removes a directory and everything in it, never following a link (the standard
/// library's `remove_dir_all` does not).
fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_err() {
        // Files written read-only by the Go toolchain (module cache copies) would make
        // removal fail; make them writable first.
        make_writable(path);
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Runs [`sweep_stale`] on the system temporary directory, once per process, before
/// its first temporary directory is made.
fn sweep_once() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_stale(&std::env::temp_dir()));
}

/// Removes, from `tmp`, the temporary directories of escape-gate runs that are gone:
/// those with escape-gate's names (`escape-gate-<what>-<suffix>`, and the same with
/// `.removing-<pid>`), that are directories and not links, belong to this user, are
/// private to it (mode 0700), and whose lock no process holds. Nothing else is touched,
/// and no link is followed. Each is locked before it is removed, so a run that is
/// creating it at that moment sees it go and makes another.
#[cfg(unix)]
pub fn sweep_stale(tmp: &Path) {
    use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags};
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let me = rustix::process::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(kind) = name.to_str().and_then(temp_name) else {
            continue;
        };
        let path = entry.path();
        let Ok(fd) = rfs::open(
            &path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(st) = rfs::fstat(&fd) else {
            continue;
        };
        // Private, as escape-gate makes them. (Before directories were locked, the
        // random ones were made with the default mode: an older escape-gate's
        // directories, which cannot be told from live ones, are left alone.)
        let shared = Mode::from_raw_mode(st.st_mode).intersects(Mode::RWXG | Mode::RWXO);
        if st.st_uid != me || shared {
            continue;
        }
        // Held: a live run's.
        if rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        // An older escape-gate locked its stable directory with a file `lock` inside.
        let legacy = rfs::openat(
            &fd,
            "lock",
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        );
        if let Ok(legacy) = &legacy {
            if rfs::flock(legacy, FlockOperation::NonBlockingLockExclusive).is_err() {
                continue;
            }
        }
        if !still_at(&path, &st) {
            continue;
        }
        let mut target = path.clone();
        if kind == TempName::InUse {
            // Aside first, still locked, so that a run taking this name (a stable
            // directory) never gets it half removed.
            let trash = path.with_file_name(format!(
                "{}.removing-{}",
                file_name(&path),
                std::process::id()
            ));
            if std::fs::rename(&path, &trash).is_ok() {
                target = trash;
            }
        }
        remove_tree(&target);
        drop((legacy, fd));
    }
}

#[cfg(not(unix))]
pub fn sweep_stale(_tmp: &Path) {}

/// What a name in the temporary directory is to escape-gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))]
enum TempName {
    /// `escape-gate-<what>-<suffix>`: a temporary directory.
    InUse,
    /// `escape-gate-<what>-<suffix>.removing-<pid>`: one being removed.
    Removing,
}

/// What escape-gate's temporary directories are for (the `<what>` of their names):
/// only these are ever swept, so a directory of the user's that happens to start with
/// `escape-gate-` (`escape-gate-backup-2024`) is never taken for one. `bin` is an older
/// escape-gate's.
const KINDS: [&str; 5] = ["bin", "demo", "gotmp", "unittest", "work"];

/// Recognises escape-gate's own names only: the prefix, lowercase letters naming what
/// it is for, a `-`, letters and digits (tempfile's random suffix, or a hash), and
/// `.removing-<pid>` for one moved aside to be removed.
#[cfg_attr(not(unix), allow(dead_code))]
fn temp_name(name: &str) -> Option<TempName> {
    let rest = name.strip_prefix(PREFIX)?;
    let (base, kind) = match rest.split_once(".removing-") {
        Some((base, pid)) if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) => {
            (base, TempName::Removing)
        }
        Some(_) => return None,
        None => (rest, TempName::InUse),
    };
    let (what, suffix) = base.split_once('-')?;
    let ok = KINDS.contains(&what)
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(kind)
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
mod duration_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_parse_and_print_as_written() {
        let ok = [
            ("90s", 90_000, "1m30s"),
            ("10m", 600_000, "10m"),
            ("1h30m", 5_400_000, "1h30m"),
            ("250ms", 250, "250ms"),
            ("1ms", 1, "1ms"),
            ("2h", 7_200_000, "2h"),
        ];
        for (text, ms, shown) in ok {
            let d = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d, Duration::from_millis(ms), "{text}");
            assert_eq!(describe_duration(d), shown, "{text}");
        }
        for bad in [
            "",
            "90",
            "s",
            "1d",
            "-1s",
            "1.5s",
            "0s",
            "9999999999999s",
            "1 m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
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
        let names: Vec<_> = std::fs::read_dir(&victim)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["secret"]);
        assert_eq!(mode(&victim.join("secret")), 0o700);

        let shared = tmp.path().join("escape-gate-work-z");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(lock_stable(&shared).expect("checked").is_none());
    }

    #[test]
    fn a_temporary_directory_is_private_and_locked_while_in_use() {
        let tree = TempTree::new("unittest").expect("temp tree");
        let path = tree.path().to_path_buf();
        assert_eq!(mode(&path), 0o700);
        assert!(take(&path).expect("checked").is_none(), "taken twice");
        std::fs::write(path.join("file"), "x").expect("write");
        drop(tree);
        assert!(!path.exists());
    }

    #[test]
    fn only_escape_gates_own_names_are_recognised() {
        let cases = [
            ("escape-gate-bin-a1B2c3", Some(TempName::InUse)),
            ("escape-gate-gotmp-XyZ09a", Some(TempName::InUse)),
            ("escape-gate-work-0123456789abcdef", Some(TempName::InUse)),
            (
                "escape-gate-work-0123456789abcdef.removing-4242",
                Some(TempName::Removing),
            ),
            ("escape-gate-bin-a1B2c3.removing-", None),
            ("escape-gate-bin-a1B2c3.removing-12x", None),
            ("escape-gate-bin-", None),
            ("escape-gate-bin", None),
            ("escape-gate--abc", None),
            ("escape-gate-Bin-abc", None),
            ("escape-gate-bin-a.b", None),
            ("escape-gate-bin-a-b", None),
            ("escape-gate-bin-a b", None),
            ("escape-gatebin-abc", None),
            ("eg-test-abc", None),
            ("my-escape-gate-bin-abc", None),
            ("escape-gate-backup-2024", None),
            ("escape-gate-notes-abc", None),
        ];
        for (name, want) in cases {
            assert_eq!(temp_name(name), want, "{name}");
        }
    }

    #[test]
    fn stale_directories_of_dead_runs_are_removed_and_nothing_else() {
        let tmp = tempfile::tempdir().expect("temp");
        let dir = |name: &str, mode: u32| {
            let path = tmp.path().join(name);
            std::fs::create_dir(&path).expect("mkdir");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            path
        };
        // Outside the temporary directory, reachable only through links.
        let elsewhere = tempfile::tempdir().expect("temp");
        let precious = elsewhere.path().join("precious");
        std::fs::create_dir(&precious).expect("mkdir");
        std::fs::set_permissions(&precious, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::write(precious.join("keep.go"), "package keep\n").expect("write");

        let dead = dir("escape-gate-bin-Ab12Cd", 0o700);
        std::fs::create_dir_all(dead.join("go-build1/ro")).expect("mkdir");
        std::fs::write(dead.join("go-build1/ro/a.o"), "x").expect("write");
        std::fs::set_permissions(
            dead.join("go-build1/ro"),
            std::fs::Permissions::from_mode(0o500),
        )
        .expect("chmod");
        std::os::unix::fs::symlink(&precious, dead.join("link")).expect("symlink");
        let dead_stable = dir("escape-gate-work-0123456789abcdef", 0o700);
        std::fs::create_dir(dead_stable.join("tree")).expect("mkdir");
        let dead_removing = dir("escape-gate-work-0123456789abcdef.removing-99999", 0o700);

        let live = dir("escape-gate-gotmp-LiVe01", 0o700);
        let held = take(&live).expect("lock").expect("free");
        let shared = dir("escape-gate-bin-Shared", 0o777);
        // Made by an older escape-gate, with the default mode: cannot be told from a
        // live one.
        let old_default_mode = dir("escape-gate-gotmp-Qq11Zz", 0o755);
        // An older escape-gate's stable directory, locked through a file inside.
        let legacy = dir("escape-gate-work-fedcba9876543210", 0o700);
        let legacy_lock = std::fs::File::create(legacy.join("lock")).expect("lock file");
        rustix::fs::flock(
            &legacy_lock,
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        )
        .expect("flock");
        let not_ours = [
            dir("escape-gate-notes", 0o700),
            dir("escape-gate-Bin-Abc", 0o700),
            dir("escape-gate-bin-a-b", 0o700),
            dir("other-bin-Abc123", 0o700),
        ];
        let link = tmp.path().join("escape-gate-bin-Link01");
        std::os::unix::fs::symlink(&precious, &link).expect("symlink");
        let file = tmp.path().join("escape-gate-bin-File01");
        std::fs::write(&file, "not a directory").expect("write");

        sweep_stale(tmp.path());

        for gone in [&dead, &dead_stable, &dead_removing] {
            assert!(!gone.exists(), "{} should be removed", gone.display());
        }
        for kept in [&live, &shared, &old_default_mode, &legacy, &link, &file]
            .into_iter()
            .chain(&not_ours)
        {
            assert!(
                std::fs::symlink_metadata(kept).is_ok(),
                "{} should be kept",
                kept.display()
            );
        }
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".removing-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(
            std::fs::read_to_string(precious.join("keep.go")).expect("read"),
            "package keep\n"
        );
        assert_eq!(mode(&precious), 0o700);
        drop((held, legacy_lock));
        sweep_stale(tmp.path());
        assert!(!live.exists(), "free once its run is gone");
        assert!(!legacy.exists(), "free once its run is gone");
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
