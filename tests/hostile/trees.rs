//! Hostile input: trees. Commits whose trees git itself would refuse to check out
//! (written with `git hash-object --literally -t tree` and `git commit-tree`), working
//! trees in which a link has replaced a tracked directory, `explain` paths that leave
//! the repository, and the temporary directories of runs that were killed.
//!
//! Every case runs the real binary (and the real `go` where the run gets that far) with
//! its TMPDIR beside a sentinel directory, so that a path climbing out of a checkout
//! (`TMPDIR/escape-gate-work-*/tree/../../..`) lands next to it; and checks the exit
//! code, the message, that the repository and the sentinel are byte-identical
//! afterwards, and that nothing is left in TMPDIR.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{escape_gate, require_go, Run, Sentinel, TestRepo, GO_MOD};

/// One heap escape: `moved to heap: n` at line 4.
const LEAK_GO: &str =
    "package pkg\n\n// Leak moves n to the heap.\nfunc Leak(n int) *int { return &n }\n";

/// One heap escape: `new(int) escapes to heap` at line 5.
const KEEP_GO: &str =
    "package other\n\n// Keep allocates.\nfunc Keep(n int) *int {\n\tp := new(int)\n\t*p = n\n\treturn p\n}\n";

/// What a crafted tree would like to plant outside the checkout.
const PWNED_GO: &[u8] = b"package pwned\n";

/// A scratch directory holding the TMPDIR of escape-gate's runs and, beside it, the
/// sentinel.
struct Area {
    dir: tempfile::TempDir,
    sentinel: Sentinel,
}

impl Area {
    fn new() -> Area {
        let dir = tempfile::Builder::new()
            .prefix("eg-area-")
            .tempdir()
            .expect("temp dir");
        fs::create_dir(dir.path().join("tmp")).expect("mkdir tmp");
        let sentinel = Sentinel::at(dir.path(), "sentinel");
        Area { dir, sentinel }
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// The sentinel's name, as a path climbing out of a checkout reaches it.
    fn sentinel_name(&self) -> String {
        self.sentinel
            .path()
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Runs escape-gate in `repo` with its TMPDIR here, and checks that the repository,
    /// the sentinel and the area are as they were, and that TMPDIR is empty again.
    fn run(&self, repo: &TestRepo, args: &[&str]) -> Run {
        let before = self.sentinel.snapshot();
        let area_before = Area::entries(self.dir.path());
        let run = repo.run_untouched_with(args, |cmd| {
            cmd.env("TMPDIR", self.tmp());
        });
        self.sentinel.assert_unchanged(&before, &run);
        assert_eq!(
            Area::entries(self.dir.path()),
            area_before,
            "escape-gate wrote beside its TMPDIR\nrun: {run:?}"
        );
        let left = Area::entries(&self.tmp());
        assert!(
            left.is_empty(),
            "escape-gate left temporary directories behind: {left:?}\nrun: {run:?}"
        );
        run
    }
}

/// A refused run: exit 2, no report, `error:` with every phrase, and a hint.
#[track_caller]
fn assert_refused(run: &Run, phrases: &[&str]) {
    run.assert_code(2);
    assert!(
        run.stdout.is_empty(),
        "a refused run prints no report:\n{}",
        run.stdout
    );
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    for phrase in phrases {
        assert!(
            run.stderr.contains(phrase),
            "stderr should contain {phrase:?}:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("\nhint: "),
        "a refusal says what to do:\n{}",
        run.stderr
    );
}

/// A module whose base commit has `go.mod` and `pkg/leak.go`.
fn base_repo() -> TestRepo {
    TestRepo::go_module(&[("pkg/leak.go", LEAK_GO)])
}

/// A commit on top of HEAD whose tree is the base's (`go.mod`, `pkg`) plus `extra`,
/// exactly as given. Returns its id.
fn crafted_commit(repo: &TestRepo, extra: &[(&str, &[u8], String)]) -> String {
    let go_mod = repo.git(&["rev-parse", "HEAD:go.mod"]);
    let pkg = repo.git(&["rev-parse", "HEAD:pkg"]);
    let mut entries: Vec<(&str, &[u8], &str)> = vec![
        ("100644", b"go.mod", go_mod.trim()),
        ("40000", b"pkg", pkg.trim()),
    ];
    entries.extend(extra.iter().map(|(m, n, id)| (*m, *n, id.as_str())));
    let tree = repo.raw_tree(&entries);
    repo.commit_tree(&tree, "HEAD", "crafted")
}

fn short(id: &str) -> &str {
    &id[..10]
}

// ---------------------------------------------------------------------------------------
// Commits git would not check out
// ---------------------------------------------------------------------------------------

#[test]
fn a_tree_entry_named_dotdot_cannot_climb_out_of_the_checkout() {
    require_go();
    let repo = base_repo();
    let area = Area::new();
    // tree/.. is the work directory, ../.. TMPDIR, ../../.. the area holding the
    // sentinel: `../../../sentinel/pwned.go`, and one more level for a fresh work
    // directory's fallback name would change nothing.
    let pwned = repo.blob(PWNED_GO);
    let inner = repo.raw_tree(&[("100644", b"pwned.go", &pwned)]);
    let name = area.sentinel_name();
    let mut climb = repo.raw_tree(&[("40000", name.as_bytes(), &inner)]);
    for _ in 0..2 {
        climb = repo.raw_tree(&[("40000", b"..", &climb)]);
    }
    let commit = crafted_commit(&repo, &[("40000", b"..", climb)]);

    for args in [
        vec!["diff", "HEAD", commit.as_str()],
        vec!["diff", commit.as_str(), "HEAD"],
        vec!["list", commit.as_str()],
        vec!["explain", "pkg/leak.go:4", commit.as_str()],
    ] {
        let run = area.run(&repo, &args);
        assert_refused(
            &run,
            &[
                short(&commit),
                "cannot be reproduced faithfully: its tree has the entry `..`: `..` names the parent directory",
                "git refuses to check out such a tree",
            ],
        );
    }
    assert!(
        !area.dir.path().join(&name).join("pwned.go").exists(),
        "planted outside the checkout"
    );
}

#[test]
fn names_git_refuses_are_refused() {
    require_go();
    let repo = base_repo();
    let area = Area::new();
    let config = repo.blob(b"[core]\n\tfsmonitor = touch /tmp/escape-gate-pwned\n");
    let dot_git = repo.raw_tree(&[("100644", b"config", &config)]);
    let go = repo.blob(PWNED_GO);
    let cases: [(&str, &[u8], &String, &str); 7] = [
        (
            "40000",
            b".git",
            &dot_git,
            "the entry `.git`: a spelling of `.git`",
        ),
        (
            "40000",
            b".GIT",
            &dot_git,
            "the entry `.GIT`: a spelling of `.git`",
        ),
        (
            "40000",
            b"git~1",
            &dot_git,
            "the entry `git~1`: a spelling of `.git`",
        ),
        (
            "40000",
            b".",
            &dot_git,
            "the entry `.`: `.` names the directory itself",
        ),
        (
            "100644",
            b"..",
            &go,
            "the entry `..`: `..` names the parent directory",
        ),
        (
            "100644",
            b"pkg/evil.go",
            &go,
            "the entry `pkg/evil.go`: a name holding `/`",
        ),
        ("100644", b"..\\evil.go", &go, "a name holding `\\`"),
    ];
    for (mode, name, id, want) in cases {
        let commit = crafted_commit(&repo, &[(mode, name, id.clone())]);
        let run = area.run(&repo, &["diff", "HEAD", &commit]);
        assert_refused(&run, &[short(&commit), want]);
    }
}

/// An empty name: git's tree format allows writing one, libgit2 will not parse it.
#[test]
fn a_tree_with_an_empty_name_is_refused() {
    require_go();
    let repo = base_repo();
    let area = Area::new();
    let go = repo.blob(PWNED_GO);
    let bad = repo.raw_tree(&[("100644", b"", &go)]);
    let at_root = crafted_commit(&repo, &[("100644", b"", go.clone())]);
    let below = crafted_commit(&repo, &[("40000", b"sub", bad)]);
    for (commit, what) in [
        (&at_root, "its root directory"),
        (&below, "the directory `sub`"),
    ] {
        let run = area.run(&repo, &["diff", "HEAD", commit]);
        assert_refused(
            &run,
            &[
                &format!(
                    "comparing HEAD ({}) with {}",
                    &repo.git(&["rev-parse", "HEAD"])[..10],
                    short(commit)
                ),
                "failed to parse tree",
                "`git fsck` names it",
            ],
        );
        let run = area.run(&repo, &["list", commit]);
        assert_refused(
            &run,
            &[
                commit,
                &format!("{what} cannot be parsed (failed to parse tree"),
            ],
        );
    }
}

#[test]
fn a_name_twice_in_one_directory_is_refused() {
    require_go();
    let repo = base_repo();
    let area = Area::new();
    let one = repo.blob(b"package m\n\n// One is the first.\nfunc One() {}\n");
    let two = repo.blob(b"package m\n\n// Two is the second.\nfunc Two() {}\n");
    let commit = crafted_commit(
        &repo,
        &[("100644", b"a.go", one.clone()), ("100644", b"a.go", two)],
    );
    let run = area.run(&repo, &["diff", "HEAD", &commit]);
    assert_refused(
        &run,
        &[
            short(&commit),
            "`a.go` is in its tree twice, as a file and as a file",
        ],
    );

    // Control characters in a name are shown escaped: a crafted name cannot clear the
    // terminal or forge a line of the message.
    let name: &[u8] = b"a\x1b[2J\nhint: all is well.go";
    let empty = repo.raw_tree(&[]);
    let commit = crafted_commit(&repo, &[("100644", name, one), ("40000", name, empty)]);
    let run = area.run(&repo, &["diff", "HEAD", &commit]);
    assert_refused(
        &run,
        &["`a\\u{1b}[2J\\nhint: all is well.go` is in its tree twice, as a file and as a directory"],
    );
    assert!(
        !run.stderr.contains('\x1b') && !run.stderr.contains("\nhint: all"),
        "a crafted name reaches the terminal unescaped:\n{}",
        run.stderr
    );
}

/// A link first, then a directory of the same name: written in that order, the
/// directory's files would go where the link points.
#[test]
fn a_name_both_link_and_directory_writes_nothing_outside() {
    require_go();
    let repo = base_repo();
    let area = Area::new();
    let pwned = repo.blob(PWNED_GO);
    let dir = repo.raw_tree(&[("100644", b"a.go", &pwned), ("100644", b"pwned.go", &pwned)]);
    let absolute = area.sentinel.path().to_string_lossy().into_owned();
    let relative = format!("../../../{}", area.sentinel_name());
    for target in [absolute, relative] {
        let link = repo.blob(target.as_bytes());
        let commit = crafted_commit(
            &repo,
            &[("120000", b"evil", link), ("40000", b"evil", dir.clone())],
        );
        let run = area.run(&repo, &["diff", "HEAD", &commit]);
        assert_refused(
            &run,
            &[
                short(&commit),
                "`evil` is in its tree twice, as a symbolic link and as a directory",
            ],
        );
        // A link on its own that leaves the repository is refused: go would read a
        // file of this machine.
        let commit = crafted_commit(&repo, &[("120000", b"evil", repo.blob(target.as_bytes()))]);
        let run = area.run(&repo, &["diff", "HEAD", &commit]);
        assert_refused(
            &run,
            &[short(&commit), "evil in commit", "outside the repository"],
        );
    }
    // A link inside the repository is written as a link, and the checkout builds.
    let commit = crafted_commit(&repo, &[("120000", b"alias", repo.blob(b"pkg"))]);
    area.run(&repo, &["diff", "HEAD", &commit]).assert_code(0);
}

/// `go.mod` as a link to a file outside, and the head's allowlist asks for `-mod=mod`:
/// go would rewrite the file the link points to (it adds the `go` line it lacks).
#[test]
fn a_module_file_that_is_a_link_is_refused() {
    require_go();
    let area = Area::new();
    let victim = area.sentinel.path().join("go.mod");
    fs::write(&victim, "module example.com/m\n").expect("write");
    let repo = base_repo();
    let base = repo.git(&["rev-parse", "HEAD"]);
    repo.write(
        ".escape-gate.yml",
        "version: 1\nbuild:\n  flags: [\"-mod=mod\"]\n",
    );
    fs::remove_file(repo.path().join("go.mod")).expect("rm go.mod");
    std::os::unix::fs::symlink(&victim, repo.path().join("go.mod")).expect("ln -s");

    let run = area.run(&repo, &["diff", base.trim()]);
    assert_refused(
        &run,
        &[
            "go.mod in the working tree is a symbolic link",
            "(-mod=mod)",
            "hint: commit go.mod as a regular file",
        ],
    );
    let head = repo.commit("go.mod as a link");
    let run = area.run(&repo, &["diff", base.trim(), &head]);
    assert_refused(
        &run,
        &[&format!("go.mod in commit {head} is a symbolic link")],
    );
}

// ---------------------------------------------------------------------------------------
// Working trees with a link in place of a tracked directory
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Link {
    /// `pkg -> other`
    Relative,
    /// `pkg -> /…/repo/other`
    Absolute,
    /// `pkg -> /…/sentinel`: outside the repository, holding an `a.go` of its own.
    Outside,
}

/// `pkg/a.go` (one escape) and `other/a.go` (another) committed on `main`; then `pkg`
/// replaced by a link in the working tree, as `rm -rf pkg && ln -s … pkg` leaves it.
fn linked_directory(link: Link, area: &Area) -> TestRepo {
    let repo = TestRepo::go_module(&[("pkg/a.go", LEAK_GO), ("other/a.go", KEEP_GO)]);
    fs::remove_dir_all(repo.path().join("pkg")).expect("rm -rf pkg");
    let target = match link {
        Link::Relative => PathBuf::from("other"),
        Link::Absolute => repo.path().join("other"),
        Link::Outside => area.sentinel.path().to_path_buf(),
    };
    std::os::unix::fs::symlink(target, repo.path().join("pkg")).expect("ln -s");
    repo
}

#[test]
fn a_directory_replaced_by_a_link_is_read_as_git_sees_it() {
    require_go();
    for link in [Link::Absolute, Link::Relative, Link::Outside] {
        let area = Area::new();
        let repo = linked_directory(link, &area);
        let status = repo.git(&["status", "--porcelain"]);
        assert_eq!(status, " D pkg/a.go\n?? pkg\n", "{link:?}");

        // pkg/a.go is deleted, as git sees it: its escape is gone, nothing is new, and
        // other/a.go (which the link leads to) is left exactly as it was.
        let run = area.run(&repo, &["diff", "main", "--show-fixed"]);
        run.assert_code(0);
        assert!(
            run.stdout.contains("0 new, 1 fixed, 0 moved"),
            "{link:?}: {run:?}"
        );
        assert!(run.stdout.contains("fixed pkg/a.go:4"), "{link:?}: {run:?}");

        let run = area.run(&repo, &["list"]);
        run.assert_code(0);
        assert_eq!(
            run.stdout,
            "example.com/m/other (1)\n  Keep (1)\n    other/a.go:5:10: new(int) escapes to heap\n",
            "{link:?}"
        );

        let run = area.run(&repo, &["explain", "pkg/a.go:4"]);
        assert_refused(
            &run,
            &[
                "pkg/a.go is not a readable file in working tree",
                "it goes through the symbolic link pkg",
            ],
        );
        if let Link::Absolute = link {
            let run = area.run(&repo, &["explain", "other/a.go:5"]);
            run.assert_code(0);
            assert!(run.stdout.contains("new(int) escapes to heap"), "{run:?}");
        }
    }
}

/// A tracked file replaced by a FIFO: git cannot record it, and opening it would wait
/// for a writer forever.
#[test]
fn a_fifo_in_place_of_a_tracked_file_is_refused_without_hanging() {
    require_go();
    let area = Area::new();
    let repo = base_repo();
    fs::remove_file(repo.path().join("pkg/leak.go")).expect("rm");
    let status = Command::new("mkfifo")
        .arg(repo.path().join("pkg/leak.go"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let run = area.run(&repo, &["list"]);
    assert_refused(
        &run,
        &["pkg/leak.go in the working tree is a FIFO, a socket or a device"],
    );
}

// ---------------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------------

#[test]
fn explain_reads_nothing_outside_the_repository() {
    require_go();
    let area = Area::new();
    let repo = base_repo();
    let outside = format!("../{}/a.go", area.sentinel_name());
    let absolute = area.sentinel.path().join("a.go");
    let absolute = absolute.to_str().expect("utf-8");
    for (path, why) in [
        ("../../../../etc/passwd", "is outside the repository"),
        (outside.as_str(), "is outside the repository"),
        ("pkg/../../x.go", "is outside the repository"),
        ("/etc/passwd", "is outside the repository"),
        (absolute, "is outside the repository"),
        (".git/config", ".git: a spelling of `.git`"),
    ] {
        let location = format!("{path}:1");
        let run = area.run(&repo, &["explain", &location]);
        assert_refused(&run, &[&format!("error: {path} "), why]);
        assert!(!run.stderr.contains("root:"), "{}", run.stderr);
    }

    // A committed link to a file outside is not even checked out.
    std::os::unix::fs::symlink(
        area.sentinel.path().join("a.go"),
        repo.path().join("pkg/link.go"),
    )
    .expect("ln -s");
    let commit = repo.commit("link out");
    let run = area.run(&repo, &["explain", "pkg/link.go:3", "HEAD"]);
    assert_refused(
        &run,
        &[
            short(&commit),
            "pkg/link.go in commit",
            "outside the repository",
        ],
    );
    assert!(!run.stderr.contains("the sentinel's"), "{}", run.stderr);

    // A committed link inside the repository is checked out as a link, which explain
    // does not follow.
    std::fs::remove_file(repo.path().join("pkg/link.go")).expect("rm");
    std::fs::create_dir_all(repo.path().join("other")).expect("mkdir");
    std::fs::write(repo.path().join("other/b.txt"), "not go\n").expect("write");
    std::os::unix::fs::symlink("../other/b.txt", repo.path().join("pkg/link.txt")).expect("ln -s");
    repo.commit("link in");
    let run = area.run(&repo, &["explain", "pkg/link.txt:1", "HEAD"]);
    assert_refused(
        &run,
        &[
            "pkg/link.txt is not a readable file in HEAD",
            "it is a symbolic link",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Temporary directories of runs that are gone
// ---------------------------------------------------------------------------------------

/// What a run killed with SIGKILL leaves: directories with escape-gate's names whose
/// lock no process holds. The next run removes them, and only them, following no link.
#[test]
fn the_next_run_removes_the_directories_of_a_dead_run_and_nothing_else() {
    use std::os::unix::fs::PermissionsExt;
    require_go();
    let area = Area::new();
    let tmp = area.tmp();
    let private = |name: &str| {
        let path = tmp.join(name);
        fs::create_dir(&path).expect("mkdir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).expect("chmod");
        path
    };
    let dead_bin = private("escape-gate-bin-Dead01");
    fs::write(dead_bin.join("main"), "binary").expect("write");
    std::os::unix::fs::symlink(area.sentinel.path(), dead_bin.join("link")).expect("ln -s");
    let dead_gotmp = private("escape-gate-gotmp-Dead02");
    fs::create_dir_all(dead_gotmp.join("go-build123/b001")).expect("mkdir");
    fs::write(dead_gotmp.join("go-build123/b001/_pkg_.a"), "x").expect("write");
    let dead_work = private("escape-gate-work-0123456789abcdef");
    fs::create_dir_all(dead_work.join("tree/pkg")).expect("mkdir");
    let dead_removing = private("escape-gate-work-0123456789abcdef.removing-4242");

    // Alive: locked by this test, as a running escape-gate locks its directories.
    let live = private("escape-gate-gotmp-Live01");
    let held = fs::File::open(&live).expect("open dir");
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("flock");
    // Not escape-gate's, or not safe to remove.
    let kept = [
        private("escape-gate-notes"),
        private("escape-gate-bin-with-dash"),
        private("escape-gate-Bin-Upper1"),
        tmp.join("escape-gate-bin-Shared"),
        tmp.join("escape-gate-bin-Link01"),
        tmp.join("escape-gate-bin-File01"),
    ];
    fs::create_dir(&kept[3]).expect("mkdir");
    fs::set_permissions(&kept[3], fs::Permissions::from_mode(0o777)).expect("chmod");
    std::os::unix::fs::symlink(area.sentinel.path(), &kept[4]).expect("ln -s");
    fs::write(&kept[5], "a file").expect("write");

    let repo = base_repo();
    let before = area.sentinel.snapshot();
    let run = repo.run_untouched_with(&["list"], |cmd| {
        cmd.env("TMPDIR", &tmp);
    });
    run.assert_code(0);
    area.sentinel.assert_unchanged(&before, &run);
    let mut want: Vec<String> = kept
        .iter()
        .chain([&live])
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    want.sort();
    assert_eq!(Area::entries(&tmp), want, "run: {run:?}");
    for gone in [&dead_bin, &dead_gotmp, &dead_work, &dead_removing] {
        assert!(!gone.exists(), "{}", gone.display());
    }

    drop(held);
    let run = repo.run_untouched_with(&["list"], |cmd| {
        cmd.env("TMPDIR", &tmp);
    });
    run.assert_code(0);
    assert!(!live.exists(), "removed once its run is gone");
}

/// A package whose compilation takes seconds, unique to this run so that no build
/// cache can serve it.
fn slow_package() -> String {
    use std::fmt::Write;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let mut text = format!(
        "package big\n\nconst seed = {seed}\n\ntype T struct {{\n\tA int\n\tS []int\n}}\n\n"
    );
    for i in 0..10_000 {
        write!(
            text,
            "func F{i}(n int) *T {{\n\treturn &T{{A: n + int(seed%1000) + {i}, S: make([]int, n)}}\n}}\n\n"
        )
        .expect("write to a String");
    }
    text
}

/// The process ids below `root`, from /proc.
fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut parent_of = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid, comm));
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for (child, _, comm) in parent_of.iter().filter(|(_, p, _)| *p == pid) {
            stack.push(*child);
            out.push((*child, comm.clone()));
        }
    }
    out
}

/// The real thing: escape-gate killed with SIGKILL in the middle of a build leaves its
/// directories; the next run, on another repository, removes them.
#[test]
fn directories_of_a_run_killed_with_sigkill_are_removed_by_the_next_run() {
    require_go();
    let area = Area::new();
    let tmp = area.tmp();
    let slow = TestRepo::new();
    slow.write("go.mod", GO_MOD);
    slow.write("big/big.go", &slow_package());
    slow.commit("base");
    slow.write("big/big.go", &slow_package());
    slow.commit("head");

    let mut child = escape_gate()
        .args(["diff", "HEAD~1", "HEAD"])
        .current_dir(slow.path())
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn escape-gate");
    let deadline = Instant::now() + Duration::from_secs(240);
    let procs = loop {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "escape-gate finished before it could be killed; the slow fixture is not slow enough"
        );
        let procs = descendants(child.id());
        let names = Area::entries(&tmp);
        if procs.iter().any(|(_, comm)| comm == "compile")
            && names.iter().any(|n| n.starts_with("escape-gate-gotmp-"))
        {
            break procs;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no `compile` under escape-gate within 240 s: {procs:?}");
        }
        sleep(Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL escape-gate");
    child.wait().expect("reap escape-gate");
    // Its `go` runs on in a process group of its own; stop the groups this test's
    // child started, by id.
    for (pid, comm) in &procs {
        if comm == "go" {
            if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while procs
        .iter()
        .any(|(pid, _)| Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(*pid))
    {
        assert!(Instant::now() < deadline, "go still runs: {procs:?}");
        sleep(Duration::from_millis(50));
    }

    let left = Area::entries(&tmp);
    assert!(
        left.iter().any(|n| n.starts_with("escape-gate-gotmp-"))
            && left.iter().any(|n| n.starts_with("escape-gate-work-")),
        "a killed run leaves its directories: {left:?}"
    );

    let repo = base_repo();
    let before = area.sentinel.snapshot();
    let run = repo.run_untouched_with(&["list"], |cmd| {
        cmd.env("TMPDIR", &tmp);
    });
    run.assert_code(0);
    area.sentinel.assert_unchanged(&before, &run);
    let left = Area::entries(&tmp);
    assert!(
        left.is_empty(),
        "left after the next run: {left:?}\nrun: {run:?}"
    );
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|close| {
                stat[close + 1..]
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
            })
            .is_some_and(|state| state == "Z" || state == "X")
    })
}

/// A pull request that links a Go file to a secret on the CI machine: go would compile
/// it and print its first token in the syntax error, into a public log. The link is
/// refused before anything is built, and the secret appears nowhere.
#[test]
fn a_link_to_a_secret_outside_the_repository_is_never_built() {
    require_go();
    let area = Area::new();
    let repo = base_repo();
    let secret = area.dir.path().join("token");
    fs::write(&secret, "ghp_SECRETSECRETSECRET\n").expect("write the secret");
    std::os::unix::fs::symlink(&secret, repo.path().join("pkg/zz.go")).expect("ln -s");
    let head = repo.commit("a link to the token");
    for args in [
        vec!["diff", "HEAD~1", "HEAD"],
        vec!["list", "HEAD"],
        vec!["diff", "--format", "github", "HEAD~1", "HEAD"],
    ] {
        let run = area.run(&repo, &args);
        assert_refused(
            &run,
            &[
                short(&head),
                "pkg/zz.go in commit",
                "outside the repository",
            ],
        );
        assert!(
            !run.stderr.contains("ghp_") && !run.stdout.contains("ghp_"),
            "{run:?}"
        );
    }
    fs::remove_file(&secret).expect("rm");
}

/// A link may point at a link, never through one: `d/l -> ..` stays inside, and so does
/// the text `d/l/d/l/../../../x`, but on disk each `d/l` is the root again and the
/// `..`s climb above it. Such a tree is refused before anything is built.
#[test]
fn a_link_through_a_link_cannot_climb_out() {
    require_go();
    let area = Area::new();
    let repo = base_repo();
    fs::create_dir_all(repo.path().join("d")).expect("mkdir");
    std::os::unix::fs::symlink("..", repo.path().join("d/l")).expect("ln -s");
    // From pkg/: `..` is the root, each `d/l` the root again, then three steps up.
    let escape = format!("../d/l/d/l/../../../{}/a.go", area.sentinel_name());
    std::os::unix::fs::symlink(&escape, repo.path().join("pkg/zz.go")).expect("ln -s");
    let head = repo.commit("a link through a link");
    let run = area.run(&repo, &["diff", "HEAD~1", "HEAD"]);
    assert_refused(
        &run,
        &[short(&head), "pkg/zz.go in commit", "through the link d/l"],
    );
}
