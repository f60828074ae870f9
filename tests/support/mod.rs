//! `TestRepo`: a git repository in a temporary directory with hermetic git settings,
//! and helpers to run escape-gate on it and to prove it was left untouched.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Once, OnceLock};

use tempfile::TempDir;

pub const GO_MOD: &str = "module example.com/m\n\ngo 1.22\n";

/// Fails loudly when Go is missing: these tests are never skipped.
pub fn require_go() {
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        let ok = Command::new("go")
            .arg("version")
            .env("GOTOOLCHAIN", "local")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "the end-to-end tests need Go: `go version` failed or `go` is not on PATH. \
             Install Go (https://go.dev/dl/) and run the tests again."
        );
    });
}

/// Environment that makes git independent of the machine's configuration.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_SYSTEM", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .env("NO_COLOR", "1")
        .env("ESCAPE_GATE_CACHE_DIR", test_cache_dir())
}

/// This test run's own directory, under target/: the findings cache its tests share and
/// their scratch files. It cannot be a `TempDir` in TMPDIR: a static is never dropped,
/// so it would be left behind by every run. Under target/ it is a cache like cargo's
/// own; each run removes the directories of runs that have ended.
pub fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let runs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-runs");
        fs::create_dir_all(&runs).expect("create target/tmp/test-runs");
        let own = std::process::id();
        for entry in fs::read_dir(&runs).expect("list target/tmp/test-runs") {
            let entry = entry.expect("entry of target/tmp/test-runs");
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok());
            if pid.is_some_and(|pid| pid == own || !is_running(pid)) {
                // Ours (a run with the same pid before) or a run that has ended.
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let dir = runs.join(own.to_string());
        fs::create_dir(&dir).expect("create this run's directory");
        dir
    })
}

/// Whether a process `pid` runs (`kill -0`, which sends nothing).
fn is_running(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(true)
}

/// A scratch directory in this run's directory (under target/, so inside this
/// repository's clone: never for a git repository of a test), removed when dropped.
pub fn scratch_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(run_dir())
        .expect("scratch directory")
}

/// The findings cache of this test run: shared by its tests (entries are keyed by
/// content, so sharing is what a user's cache does), never by another run.
pub fn test_cache_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = run_dir().join("findings-cache");
        fs::create_dir_all(&dir).expect("create the findings cache directory");
        dir
    })
}

/// Runs hermetic git in `dir`; panics on failure. Returns stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = hermetic(&mut Command::new("git"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code {} (want {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The names `diff --format` takes, in order, as the binary lists them: every test that
/// goes through the formats covers a new one without being edited.
pub fn formats() -> Vec<String> {
    let out = escape_gate()
        .args(["diff", "--format", "?"])
        .output()
        .expect("run escape-gate");
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let list = text
        .split("[possible values: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no list of formats in:\n{text}"));
    list.split(", ").map(str::to_string).collect()
}

/// The binary under test.
pub fn escape_gate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escape-gate"));
    hermetic(&mut cmd);
    cmd
}

pub struct TestRepo {
    dir: TempDir,
}

impl TestRepo {
    /// An empty repository on branch `main`.
    pub fn new() -> TestRepo {
        let dir = tempfile::Builder::new()
            .prefix("eg-test-")
            .tempdir()
            .expect("temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository with `go.mod` for `example.com/m` and the given files, committed.
    pub fn go_module(files: &[(&str, &str)]) -> TestRepo {
        require_go();
        let repo = TestRepo::new();
        repo.write("go.mod", GO_MOD);
        for (path, text) in files {
            repo.write(path, text);
        }
        repo.commit("base");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &TestRepo {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
        self
    }

    pub fn remove(&self, rel: &str) -> &TestRepo {
        fs::remove_file(self.path().join(rel)).expect("remove");
        self
    }

    pub fn rename(&self, from: &str, to: &str) -> &TestRepo {
        let to_path = self.path().join(to);
        fs::create_dir_all(to_path.parent().expect("parent")).expect("mkdir");
        fs::rename(self.path().join(from), to_path).expect("rename");
        self
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path().join(rel)).expect("read")
    }

    /// `git add -A && git commit`; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs git in the repository; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// Runs escape-gate in the repository.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = escape_gate()
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run escape-gate");
        Run::from_output(output)
    }

    /// Runs escape-gate, checking that the repository is exactly as it was before.
    pub fn run_untouched(&self, args: &[&str]) -> Run {
        let before = self.snapshot();
        let run = self.run(args);
        let after = self.snapshot();
        before.assert_same(&after, &run);
        run
    }

    /// Everything observable about the repository: every file (the `.git` directory
    /// included) with a hash of its content and its permissions, git's view of the
    /// status, refs and worktrees.
    pub fn snapshot(&self) -> Snapshot {
        let mut files = BTreeMap::new();
        walk(self.path(), self.path(), &mut files);
        Snapshot {
            files,
            status: self.git(&["status", "--porcelain", "--ignored"]),
            refs: self.git(&["for-each-ref"]),
            worktrees: self.git(&["worktree", "list", "--porcelain"]),
        }
    }
}

fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, (u64, u32)>) {
    for entry in fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            walk(root, &path, files);
            continue;
        }
        let mut hasher = DefaultHasher::new();
        if meta.is_file() {
            fs::read(&path).expect("read").hash(&mut hasher);
        } else if meta.file_type().is_symlink() {
            fs::read_link(&path).expect("readlink").hash(&mut hasher);
        }
        use std::os::unix::fs::PermissionsExt;
        let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
        files.insert(rel, (hasher.finish(), meta.permissions().mode()));
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    files: BTreeMap<PathBuf, (u64, u32)>,
    status: String,
    refs: String,
    worktrees: String,
}

impl Snapshot {
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, run: &Run) {
        if self == after {
            return;
        }
        let mut changes = Vec::new();
        for (path, v) in &self.files {
            match after.files.get(path) {
                None => changes.push(format!("removed {}", path.display())),
                Some(w) if w != v => changes.push(format!("changed {}", path.display())),
                _ => {}
            }
        }
        for path in after.files.keys() {
            if !self.files.contains_key(path) {
                changes.push(format!("added {}", path.display()));
            }
        }
        panic!(
            "escape-gate changed the repository: {changes:?}\nstatus before:\n{}\nafter:\n{}\nrefs before:\n{}\nafter:\n{}\nrun: {run:?}",
            self.status, after.status, self.refs, after.refs
        );
    }
}

/// Runs hermetic git in `dir` with `input` on stdin; panics on failure. Returns stdout.
pub fn git_with_input(dir: &Path, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = hermetic(&mut Command::new("git"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run git");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("write to git");
    let output = child.wait_with_output().expect("wait for git");
    assert!(
        output.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl TestRepo {
    /// Writes a tree object with exactly these entries (mode as git writes it, e.g.
    /// `100644`, `40000`, `120000`; raw name; object id), in this order, with
    /// `git hash-object --literally`: git's own checks would refuse most hostile trees.
    /// Returns its id.
    pub fn raw_tree(&self, entries: &[(&str, &[u8], &str)]) -> String {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(mode.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(name);
            bytes.push(0);
            let id = id.trim();
            assert_eq!(id.len(), 40, "a SHA-1 object id: {id}");
            for i in (0..40).step_by(2) {
                bytes.push(u8::from_str_radix(&id[i..i + 2], 16).expect("hex object id"));
            }
        }
        git_with_input(
            self.path(),
            &["hash-object", "--literally", "-t", "tree", "-w", "--stdin"],
            &bytes,
        )
        .trim()
        .to_string()
    }

    /// Writes a blob with `git hash-object -w`; returns its id.
    pub fn blob(&self, content: &[u8]) -> String {
        git_with_input(self.path(), &["hash-object", "-w", "--stdin"], content)
            .trim()
            .to_string()
    }

    /// A commit of `tree` with `parent` (no ref moves); returns its id.
    pub fn commit_tree(&self, tree: &str, parent: &str, message: &str) -> String {
        self.git(&["commit-tree", tree, "-p", parent, "-m", message])
            .trim()
            .to_string()
    }

    /// Runs escape-gate in the repository, letting `configure` adjust the command
    /// (environment) first.
    pub fn run_with(&self, args: &[&str], configure: impl FnOnce(&mut Command)) -> Run {
        let mut cmd = escape_gate();
        cmd.args(args).current_dir(self.path());
        configure(&mut cmd);
        Run::from_output(cmd.output().expect("run escape-gate"))
    }

    /// [`TestRepo::run_with`], checking that the repository is exactly as it was.
    pub fn run_untouched_with(&self, args: &[&str], configure: impl FnOnce(&mut Command)) -> Run {
        let before = self.snapshot();
        let run = self.run_with(args, configure);
        let after = self.snapshot();
        before.assert_same(&after, &run);
        run
    }
}

/// A directory outside every repository and every temporary directory escape-gate
/// uses, holding a few files: hostile input aims at such places, and escape-gate must
/// leave them byte-identical.
pub struct Sentinel {
    dir: TempDir,
}

impl Sentinel {
    /// A sentinel in its own temporary directory.
    pub fn new() -> Sentinel {
        let dir = tempfile::Builder::new()
            .prefix("eg-sentinel-")
            .tempdir()
            .expect("temp dir");
        Sentinel::fill(dir)
    }

    /// A sentinel at `parent/name` (for paths that climb to it with `..`); `parent`
    /// must outlive it.
    pub fn at(parent: &Path, name: &str) -> Sentinel {
        let dir = tempfile::Builder::new()
            .prefix(name)
            .rand_bytes(0)
            .tempdir_in(parent)
            .expect("sentinel dir");
        Sentinel::fill(dir)
    }

    fn fill(dir: TempDir) -> Sentinel {
        fs::write(dir.path().join("sentinel.go"), "package sentinel\n").expect("write");
        fs::write(
            dir.path().join("a.go"),
            "package sentinel\n\n// A is the sentinel's.\n",
        )
        .expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        fs::write(dir.path().join("sub/a.go"), "package sub\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        // Private like escape-gate's own directories, so that only its name tells
        // them apart.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        Sentinel { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every entry below the sentinel (directories included) with a hash of its
    /// content (a link: its target) and its mode.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (u64, u32)> {
        let mut files = BTreeMap::new();
        walk_all(self.path(), self.path(), &mut files);
        files
    }

    #[track_caller]
    pub fn assert_unchanged(&self, before: &BTreeMap<PathBuf, (u64, u32)>, run: &Run) {
        let after = self.snapshot();
        assert_eq!(
            &after,
            before,
            "escape-gate changed the sentinel directory {} outside the repository\nrun: {run:?}",
            self.path().display()
        );
    }
}

/// Like `walk`, with directories listed too: an empty directory created where it
/// should not be is a change.
fn walk_all(root: &Path, dir: &Path, entries: &mut BTreeMap<PathBuf, (u64, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let meta = fs::symlink_metadata(&path).expect("metadata");
        let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
        let mut hasher = DefaultHasher::new();
        if meta.is_dir() {
            entries.insert(rel, (0, meta.permissions().mode()));
            walk_all(root, &path, entries);
            continue;
        }
        if meta.is_file() {
            fs::read(&path).expect("read").hash(&mut hasher);
        } else if meta.file_type().is_symlink() {
            fs::read_link(&path).expect("readlink").hash(&mut hasher);
        }
        entries.insert(rel, (hasher.finish(), meta.permissions().mode()));
    }
}

/// `escape-gate diff --format json ARGS` in `repo`, which must stay as it was: the run
/// and its report.
pub fn json_diff(repo: &TestRepo, args: &[&str]) -> (Run, serde_json::Value) {
    let mut all = vec!["diff", "--format", "json"];
    all.extend_from_slice(args);
    let run = repo.run_untouched(&all);
    let json = run.json();
    (run, json)
}

/// The array `field` of a JSON report; panics (showing the report) when it is not one.
pub fn items<'a>(json: &'a serde_json::Value, field: &str) -> &'a Vec<serde_json::Value> {
    json[field]
        .as_array()
        .unwrap_or_else(|| panic!("`{field}` is not an array in {json:#}"))
}
