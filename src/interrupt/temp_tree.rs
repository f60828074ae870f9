//! Temporary directories (`TempTree`): private to this user, locked while in use,
//! registered so that an interruption or a time limit removes them, and swept by the
//! next run when the run that made them was killed outright.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::registry;

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
