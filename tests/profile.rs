//! Weighing findings by a CPU profile (README, "Profiles"): profiles recorded here, by
//! running a small main package under runtime/pprof for a second, then compared with
//! the new escapes of a change: the hot loop first with its share, start-up code at
//! `0 samples`, a policy that fails only above a share, and a file that is not a
//! profile refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::schemas::assert_valid;
use crate::support::{items, require_go, run_dir, scratch_dir, TestRepo, GO_MOD};

/// The program: `setup` runs once at start-up, `step` in a loop for a second of CPU
/// time. Each program records its CPU profile into the file named by its first
/// argument.
const BASE: &str = r#"package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// cpuTime is the process's CPU time: the programs run for a CPU budget, so that a
// loaded machine gives their profiles as many samples as an idle one.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type point struct{ x, y int }

var sink *point

// setup runs once.
//
//go:noinline
func setup() int {
	q := point{1, 2}
	return q.x + q.y
}

// step runs in the hot loop.
//
//go:noinline
func step(i int) int {
	p := point{i, i + 1}
	for k := 0; k < 200; k++ {
		p.x = p.x*31 + k
	}
	return p.x*p.y + p.x
}

func hotLoop(d time.Duration) int {
	start := cpuTime()
	s := 0
	for cpuTime()-start < d {
		for i := 0; i < 100; i++ {
			s += step(i)
		}
	}
	return s
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	s := setup()
	s += hotLoop(time.Second)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
	fmt.Println(s)
}
"#;

/// The change: both functions now keep a pointer to their point, so each adds a heap
/// escape (`moved to heap: q` in `setup`, above `moved to heap: p` in `step`).
fn head_go() -> String {
    BASE.replace("\treturn q.x + q.y", "\tsink = &q\n\treturn q.x + q.y")
        .replace(
            "\treturn p.x*p.y + p.x",
            "\tsink = &p\n\treturn p.x*p.y + p.x",
        )
}

/// Runs `go run . OUT` in a module holding `main_go`, in a directory of its own.
pub fn record(main_go: &str, out: &Path) {
    require_go();
    let dir = scratch_dir("eg-prof-");
    std::fs::write(dir.path().join("go.mod"), GO_MOD).expect("go.mod");
    std::fs::write(dir.path().join("main.go"), main_go).expect("main.go");
    let output = Command::new("go")
        .args(["run", "-buildvcs=false", "."])
        .arg(out)
        .current_dir(dir.path())
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go");
    assert!(
        output.status.success(),
        "recording a profile failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The base program's CPU profile, recorded once for this test run (in the run's
/// directory, which the harness removes).
fn recorded() -> &'static Path {
    static PROFILE: OnceLock<PathBuf> = OnceLock::new();
    PROFILE.get_or_init(|| {
        let path = run_dir().join("profile-cpu.pprof");
        record(BASE, &path);
        path
    })
}

/// A repository with the base program committed, and the head's change committed on
/// top; returns it with both commits.
fn two_escapes(extra: &[(&str, &[u8])]) -> (TestRepo, String, String) {
    let (repo, _) = TestRepo::go_module(&[("main.go", BASE)]);
    for (path, bytes) in extra {
        let full = repo.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, bytes).expect("write");
    }
    let base = repo.commit("base");
    repo.write("main.go", &head_go());
    let head = repo.commit("head");
    (repo, base, head)
}

/// `function cum_percent` of each finding of `field`, in report order.
fn weighed(json: &Value, field: &str) -> Vec<(String, f64)> {
    items(json, field)
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("?").to_string(),
                f["profile"]["cum_percent"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

#[test]
fn the_hot_loop_comes_first_with_its_share() {
    let (repo, base, head) = two_escapes(&[]);
    let profile = recorded().to_str().expect("UTF-8 path");
    let run = repo.run_untouched(&[
        "diff",
        "--format",
        "json",
        "--profile",
        profile,
        &base,
        &head,
    ]);
    run.assert_code(1);
    let json = run.json();
    let new = weighed(&json, "new");
    assert_eq!(new.len(), 2, "{json:#}");
    assert_eq!(
        new[0].0, "step",
        "the hot loop's escape comes first: {new:?}"
    );
    assert!(new[0].1 >= 50.0, "step runs most of the second: {new:?}");
    assert_eq!(new[1], ("setup".to_string(), 0.0), "{new:?}");
    let flat = items(&json, "new")[0]["profile"]["flat_percent"]
        .as_f64()
        .expect("flat_percent");
    assert!(flat > 0.0 && flat <= new[0].1, "{json:#}");
    let summary = &json["summary"]["profile"];
    assert_eq!(summary["files"][0]["file"], profile, "{summary:#}");
    assert!(
        summary["files"][0]["samples"].as_u64().unwrap_or(0) > 0,
        "{summary:#}"
    );
    assert_eq!(summary["sample_type"], "cpu nanoseconds", "{summary:#}");
    assert_valid("a report weighed by --profile", &json);

    // The text report says it too, in the same order.
    let run = repo.run(&["diff", "--profile", profile, &base, &head]);
    run.assert_code(1);
    let text = &run.stdout;
    let (step, setup) = (
        text.find("in step").expect("step reported"),
        text.find("in setup").expect("setup reported"),
    );
    assert!(step < setup, "{text}");
    let share = format!("{}% of CPU samples", one_decimal(new[0].1));
    assert!(text.contains(&share), "{share:?} in\n{text}");
    assert!(text.contains("    0 samples\n"), "{text}");
    assert!(text.contains(&format!("· profile {profile}")), "{text}");

    // `explain` says the share of the function at the line too.
    let line = head_go()
        .lines()
        .position(|l| l.contains("p := point{i, i + 1}"))
        .expect("the line of p")
        + 1;
    let at = format!("main.go:{line}");
    let run = repo.run_untouched(&["explain", &at, &head, "--profile", profile]);
    run.assert_code(0);
    assert!(run.stdout.contains(&share), "{share:?} in\n{}", run.stdout);
}

/// `41.2` as the text report prints a share of 1% or more.
fn one_decimal(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").unwrap_or(&text).to_string()
}

#[test]
fn a_team_fails_only_above_a_share() {
    let bytes = std::fs::read(recorded()).expect("profile");
    let config = "version: 1\nprofile:\n  files: [prof/cpu.pprof]\n  cold_below_percent: 1\n";
    let (repo, base, head) = two_escapes(&[
        ("prof/cpu.pprof", &bytes),
        (".escape-gate.yml", config.as_bytes()),
    ]);
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &head]);
    run.assert_code(1);
    let json = run.json();
    assert_eq!(weighed(&json, "new").len(), 1, "{json:#}");
    assert_eq!(weighed(&json, "new")[0].0, "step", "{json:#}");
    assert_eq!(weighed(&json, "cold"), vec![("setup".to_string(), 0.0)]);
    assert_eq!(json["summary"]["cold"], 1);
    assert_eq!(
        json["summary"]["profile"]["files"][0]["file"],
        "prof/cpu.pprof"
    );

    // A change that adds only the start-up escape passes, listed as cold; without
    // the policy it fails.
    repo.git(&["checkout", "-q", &base]);
    repo.write(
        "main.go",
        &BASE.replace("\treturn q.x + q.y", "\tsink = &q\n\treturn q.x + q.y"),
    );
    let startup_only = repo.commit("start-up only");
    let run = repo.run_untouched(&["diff", &base, &startup_only]);
    run.assert_code(0);
    assert!(run.stdout.contains("\ncold main.go:"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("0 new, 0 fixed, 0 moved, 0 allowed, 1 cold heap escapes"),
        "{}",
        run.stdout
    );
    repo.write(
        ".escape-gate.yml",
        "version: 1\nprofile:\n  files: [prof/cpu.pprof]\n",
    );
    let no_policy = repo.commit("no cold rule");
    let run = repo.run_untouched(&["diff", "--config-from", "base", &base, &no_policy]);
    run.assert_code(0);
    let run = repo.run_untouched(&["diff", &base, &no_policy]);
    run.assert_code(1);

    // A head that raises the threshold loosens the gate, and every report says so.
    repo.write(
        ".escape-gate.yml",
        &config.replace("cold_below_percent: 1", "cold_below_percent: 50"),
    );
    repo.write("main.go", &head_go());
    let looser = repo.commit("colder");
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &looser]);
    run.assert_code(1);
    let json = run.json();
    assert_valid("a report weighed by a profile", &json);
    let change = &json["config_change"]["profile"];
    assert_eq!(
        change["loosens"][0], "cold_below_percent: 1 → 50",
        "{change:#}"
    );
    assert_eq!(change["line"], 2, "{change:#}");
    let run = repo.run_untouched(&["diff", &base, &looser]);
    assert!(
        run.stdout
            .contains("profile section changed at .escape-gate.yml:2: cold_below_percent: 1 → 50"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("loosens the gate"), "{}", run.stdout);
}

#[test]
fn a_hot_share_keeps_an_escape_moving_into_the_loop_new() {
    // The same allocation moves from start-up code into the loop: moved, unless the
    // loop's share makes it hot.
    let base_go = BASE.replace(
        "\treturn q.x + q.y",
        "\tsink = &point{1, 2}\n\treturn q.x + q.y",
    );
    let head_go = BASE.replace(
        "\treturn p.x*p.y + p.x",
        "\tsink = &point{1, 2}\n\treturn p.x*p.y + p.x",
    );
    let bytes = std::fs::read(recorded()).expect("profile");
    let (repo, _) = TestRepo::go_module(&[("main.go", &base_go)]);
    repo.write("prof/cpu.pprof", "");
    std::fs::write(repo.path().join("prof/cpu.pprof"), &bytes).expect("write");
    repo.write(
        ".escape-gate.yml",
        "version: 1\nprofile:\n  files: [prof/cpu.pprof]\n",
    );
    let base = repo.commit("base");
    repo.write("main.go", &head_go);
    let plain = repo.commit("head");
    let run = repo.run(&["diff", "--format", "json", &base, &plain]);
    run.assert_code(0);
    assert_eq!(items(&run.json(), "moved").len(), 1, "{}", run.stdout);

    repo.write(
        ".escape-gate.yml",
        "version: 1\nprofile:\n  files: [prof/cpu.pprof]\n  hot_percent: 5\n",
    );
    let strict = repo.commit("head, hot above 5%");
    let run = repo.run(&["diff", "--format", "json", &base, &strict]);
    run.assert_code(1);
    let json = run.json();
    let new = &items(&json, "new")[0];
    assert_eq!(new["function"], "step", "{json:#}");
    assert_eq!(new["hot"], true, "{json:#}");
}

#[test]
fn a_file_that_is_not_a_profile_is_an_error() {
    let (repo, base, head) = two_escapes(&[("notes.txt", b"not a profile\n")]);
    let notes = repo.path().join("notes.txt");
    let notes = notes.to_str().expect("UTF-8 path");
    let run = repo.run_untouched(&["diff", "--profile", notes, &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("{notes} is not a pprof profile")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);

    // The same from the allowlist, naming the file in the repository.
    repo.write("notes.txt", "not a profile\n");
    repo.write(
        ".escape-gate.yml",
        "version: 1\nprofile:\n  files: [notes.txt]\n",
    );
    let head = repo.commit("head names a text file");
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("notes.txt is not a pprof profile"),
        "{}",
        run.stderr
    );
}

/// A hot function whose call PGO inlines: with the profile, `hotLoop` (loops and calls
/// over the budget) is inlined into `main`, so `big`'s escape gets a copy there too.
const PGO_BASE: &str = r#"package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// cpuTime is the process's CPU time: the programs run for a CPU budget, so that a
// loaded machine gives their profiles as many samples as an idle one.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var keep *int

func big(i int) int {
	z := i
	for k := 0; k < 50; k++ {
		z = z*31 + k
		if z%7 == 0 {
			z += 3
		} else if z%11 == 0 {
			z -= 5
		}
	}
	return z
}

func hotLoop(d time.Duration) int {
	start := cpuTime()
	s := 0
	for cpuTime()-start < d {
		for i := 0; i < 100; i++ {
			s += big(i)
		}
	}
	return s
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	s := hotLoop(time.Second)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
	fmt.Println(s)
}
"#;

#[test]
fn a_profile_in_the_repository_is_never_read_through_a_link() {
    let (repo, base, _) = two_escapes(&[]);
    // A link inside the repository is reproduced in the checkout; the profile is still
    // not read through it.
    repo.write("notes.txt", "not a profile\n");
    std::os::unix::fs::symlink("notes.txt", repo.path().join("cpu.pprof")).expect("link");
    repo.write(
        ".escape-gate.yml",
        "version: 1\nprofile:\n  files: [cpu.pprof]\n",
    );
    repo.write("main.go", &head_go());
    let head = repo.commit("a profile that is a link");
    let run = repo.run_untouched(&["diff", &base, &head]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("the profile cpu.pprof in head")
            && run.stderr.contains("is not a regular file"),
        "{}",
        run.stderr
    );
    // The working tree's is not read through it either.
    let run = repo.run_untouched(&["diff", &base]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("cannot read the profile cpu.pprof"),
        "{}",
        run.stderr
    );
}

/// Runs escape-gate with go's build cache in `gocache` and a findings cache of its own,
/// so that only go's cache carries anything from one run to the next.
fn in_cache(repo: &TestRepo, gocache: &Path, args: &[&str]) -> crate::support::Run {
    let own = scratch_dir("eg-pgo-cache-");
    repo.run_untouched_with(args, |cmd| {
        cmd.env("GOCACHE", gocache)
            .env("ESCAPE_GATE_CACHE_DIR", own.path());
    })
}

/// The temporary directory reached through a link (macOS's TMPDIR, under /var →
/// /private/var): the checkout's `default.pgo` is still inside the repository, whose
/// path the builds resolve before comparing.
#[test]
fn a_default_pgo_is_used_when_the_temporary_directory_is_reached_through_a_link() {
    let dir = scratch_dir("eg-pgo-");
    let pgo = dir.path().join("default.pgo");
    record(PGO_BASE, &pgo);
    let (repo, _) = TestRepo::go_module(&[("main.go", PGO_BASE)]);
    std::fs::copy(&pgo, repo.path().join("default.pgo")).expect("copy");
    let base = repo.commit("base with its profile");
    repo.write(
        "main.go",
        &PGO_BASE.replace("\treturn z\n", "\tkeep = &z\n\treturn z\n"),
    );
    let head = repo.commit("head");
    let real = scratch_dir("eg-pgo-tmp-");
    let links = scratch_dir("eg-pgo-tmplink-");
    let tmpdir = links.path().join("tmp");
    std::os::unix::fs::symlink(real.path(), &tmpdir).expect("link");
    let gocache = scratch_dir("eg-pgo-gocache-");
    let run = repo.run_untouched_with(&["diff", "--format", "json", &base, &head], |cmd| {
        cmd.env("TMPDIR", &tmpdir).env("GOCACHE", gocache.path());
    });
    run.assert_code(1);
    let new = weighed(&run.json(), "new");
    assert!(
        new.iter().any(|(f, _)| f == "main"),
        "{new:?}\n{}",
        run.stderr
    );
}

#[test]
fn a_default_pgo_weighs_the_findings_and_the_build() {
    let dir = scratch_dir("eg-pgo-");
    let pgo = dir.path().join("default.pgo");
    record(PGO_BASE, &pgo);
    let bytes = std::fs::read(&pgo).expect("profile");
    let (repo, _) = TestRepo::go_module(&[("main.go", PGO_BASE)]);
    std::fs::write(repo.path().join("default.pgo"), &bytes).expect("write");
    let base = repo.commit("base with its profile");
    repo.write(
        "main.go",
        &PGO_BASE.replace("\treturn z\n", "\tkeep = &z\n\treturn z\n"),
    );
    let head = repo.commit("head");
    // A go build cache of the test's own, empty: nothing has built the program or
    // preprocessed its profile, yet the build analysed is the PGO build `go build` makes.
    let gocache = scratch_dir("eg-pgo-gocache-");
    let cold = in_cache(
        &repo,
        gocache.path(),
        &["diff", "--format", "json", &base, &head],
    );
    cold.assert_code(1);
    let json = cold.json();
    assert_eq!(
        json["summary"]["profile"]["files"][0]["file"],
        "default.pgo"
    );
    // The copy of `big`'s escape in `main` exists only because PGO inlined the hot
    // call of `hotLoop` into `main`: the build used the profile the weights come from.
    let new = weighed(&json, "new");
    let functions: Vec<&str> = new.iter().map(|(f, _)| f.as_str()).collect();
    assert!(functions.contains(&"main"), "{new:?}");
    assert!(new.iter().all(|(_, cum)| *cum >= 50.0), "{new:?}");
    let mut by_share = new.clone();
    by_share.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(new, by_share, "ordered by share");
    // The same verdict from the warm cache, compiled again (escape-gate's own cache is
    // new too): the state of go's cache decides nothing.
    let warm = in_cache(
        &repo,
        gocache.path(),
        &["diff", "--format", "json", &base, &head],
    );
    warm.assert_code(1);
    assert_eq!(weighed(&warm.json(), "new"), new);

    // A change that only adds the profile: the PGO build's copy of the escape in
    // `main` is new, cold cache or not.
    repo.git(&["checkout", "-q", &base]);
    repo.remove("default.pgo");
    repo.write(
        "main.go",
        &PGO_BASE.replace("\treturn z\n", "\tkeep = &z\n\treturn z\n"),
    );
    let unprofiled = repo.commit("escape, no profile");
    std::fs::write(repo.path().join("default.pgo"), &bytes).expect("write");
    let profiled = repo.commit("add the profile");
    let fresh = scratch_dir("eg-pgo-gocache-");
    let run = in_cache(
        &repo,
        fresh.path(),
        &["diff", "--format", "json", &unprofiled, &profiled],
    );
    run.assert_code(1);
    let new = weighed(&run.json(), "new");
    assert_eq!(
        new.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        ["main"],
        "{new:?}"
    );

    // The same head built without PGO has no such copy, and is weighed all the same.
    repo.write(
        ".escape-gate.yml",
        "version: 1\nbuild:\n  flags: [\"-pgo=off\"]\n",
    );
    let no_pgo = repo.commit("head without PGO");
    let run = repo.run_untouched(&["diff", "--format", "json", &base, &no_pgo]);
    run.assert_code(1);
    let json = run.json();
    let new = weighed(&json, "new");
    assert!(!new.iter().any(|(f, _)| f == "main"), "{new:?}");
    assert_eq!(
        json["summary"]["profile"]["files"][0]["file"],
        "default.pgo"
    );
}

/// A method, a generic function and a closure, each hot: their escapes get the shares
/// the profile's names (`main.(*ring).push`, `main.spin[go.shape.string]`,
/// `main.run.func1` or the closure's inlined frame) give them.
const NAMES_BASE: &str = r#"package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// cpuTime is the process's CPU time: the programs run for a CPU budget, so that a
// loaded machine gives their profiles as many samples as an idle one.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var sink *int

type ring struct{ n int }

//go:noinline
func (r *ring) push(v int) int {
	x := v
	for k := 0; k < 200; k++ {
		x = x*31 + k
	}
	r.n += x
	return r.n
}

//go:noinline
func spin[T any](v T, n int) int {
	x := n
	for k := 0; k < 200; k++ {
		x = x*17 + k
	}
	return x
}

func run(d time.Duration) int {
	work := func(i int) int {
		y := i
		for k := 0; k < 200; k++ {
			y = y*13 + k
		}
		return y
	}
	r := &ring{}
	start := cpuTime()
	s := 0
	for cpuTime()-start < d {
		for i := 0; i < 100; i++ {
			s += r.push(i) + spin("x", i) + work(i)
		}
	}
	return s
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	s := run(time.Second)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
	fmt.Println(s)
}
"#;

#[test]
fn methods_generics_and_closures_get_their_share() {
    let dir = scratch_dir("eg-pgo-");
    let cpu = dir.path().join("cpu.pprof");
    record(NAMES_BASE, &cpu);
    let (repo, base) = TestRepo::go_module(&[("main.go", NAMES_BASE)]);
    repo.write(
        "main.go",
        &NAMES_BASE
            .replace("\tr.n += x\n", "\tsink = &x\n\tr.n += x\n")
            .replace(
                "\treturn x\n}\n\nfunc run",
                "\tsink = &x\n\treturn x\n}\n\nfunc run",
            )
            .replace("\t\treturn y\n", "\t\tsink = &y\n\t\treturn y\n"),
    );
    let head = repo.commit("head");
    let cpu = cpu.to_str().expect("UTF-8 path");
    let run = repo.run_untouched(&["diff", "--format", "json", "--profile", cpu, &base, &head]);
    run.assert_code(1);
    let json = run.json();
    let new = weighed(&json, "new");
    for function in ["(*ring).push", "spin", "run.func1"] {
        let share = new
            .iter()
            .find(|(f, _)| f == function)
            .unwrap_or_else(|| panic!("{function} in {new:?}"));
        assert!(share.1 >= 10.0, "{function}: {new:?}");
    }
}

#[test]
fn a_default_pgo_go_cannot_use_fails_the_side() {
    let (repo, base) = TestRepo::go_module(&[("main.go", PGO_BASE)]);
    // A profile that is not one: `go build` fails on it, so the side does not build.
    repo.write("default.pgo", "not a profile\n");
    let garbage = repo.commit("a default.pgo that is text");
    let run = repo.run_untouched(&["diff", &base, &garbage]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("does not build: go cannot use its PGO profile default.pgo"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);

    // A link out of the repository is never handed to go as the profile: the checkout
    // refuses it.
    let outside = scratch_dir("eg-pgo-outside-");
    std::fs::write(outside.path().join("secret"), "secret\n").expect("write");
    repo.remove("default.pgo");
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        repo.path().join("default.pgo"),
    )
    .expect("link");
    let link = repo.commit("a default.pgo that leads out");
    let run = repo.run_untouched(&["diff", &base, &link]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("default.pgo in commit")
            && run.stderr.contains("outside the repository"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("secret\n"), "{}", run.stderr);
}
