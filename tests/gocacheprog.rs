//! A shared build cache (GOCACHEPROG) serves a second machine everything the first
//! compiled: real `gocached` (server) and `go-cacher` (client) from
//! github.com/bradfitz/go-tool-cache, installed by `.ci/install-go-tool-cache`, and two
//! "machines" that share nothing but the server: their own HOME, TMPDIR, GOCACHE,
//! go-cacher directory, escape-gate findings cache, and a clone of the repository at a
//! path of their own.
//!
//! The proof that the second machine compiled nothing: the server's own count of new
//! entries (`gocached_puts` less `gocached_puts_dup`, uploads of an entry it already
//! holds, on its metrics page). go looks every compilation up before running it and
//! uploads every output it computes, compiled packages and the compiler's `-m` text
//! among them, so a package compiled again is an entry the server did not have. (go
//! re-uploads a few entries it did not compute, such as what it learnt about the C
//! compiler for `go env CGO_CFLAGS`: those are the duplicates.) Both machines run with
//! `GODEBUG=goindex=0`: go otherwise also stores an index of each package directory,
//! keyed by the directory's path, which is no compilation (a few kB each, from a
//! directory listing) but would be a new entry from every machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{escape_gate, git_in, require_go, Run, TestRepo};

/// `.ci/install-go-tool-cache`: installs the pinned gocached and go-cacher when they are
/// not there yet (which needs the Go module proxy) and prints their directory.
fn tool_dir() -> PathBuf {
    require_go();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-go-tool-cache");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run .ci/install-go-tool-cache");
    assert!(
        output.status.success(),
        "{} failed: gocached and go-cacher are needed (run it by hand to see why; it \
         fetches them from the Go module proxy)",
        script.display()
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    for tool in ["gocached", "go-cacher"] {
        assert!(dir.join(tool).is_file(), "{} has no {tool}", dir.display());
    }
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("address")
        .port()
}

/// A running gocached, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    debug_port: u16,
    log: PathBuf,
}

impl Server {
    fn start(tools: &Path, store: &Path) -> Server {
        let (port, debug_port) = (free_port(), free_port());
        let log = store.with_extension("log");
        let child = Command::new(tools.join("gocached"))
            .arg(format!("--cache-dir={}", store.display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--debug-listen=127.0.0.1:{debug_port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("gocached log"))
            .spawn()
            .expect("start gocached");
        let server = Server {
            child,
            port,
            debug_port,
            log,
        };
        let started = Instant::now();
        while server.try_metrics().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "gocached did not answer on 127.0.0.1:{debug_port} within 60 s:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn try_metrics(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.debug_port)).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.starts_with("HTTP/1.0 200").then_some(text)
    }

    /// A counter from the metrics page, e.g. `gocached_puts`.
    fn counter(&self, name: &str) -> u64 {
        let text = self.try_metrics().expect("gocached's metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or_else(|| panic!("no {name} on gocached's metrics page"))
    }

    fn counts(&self) -> Counts {
        Counts {
            gets: self.counter("gocached_gets"),
            hits: self.counter("gocached_get_hits"),
            puts: self.counter("gocached_puts") - self.counter("gocached_puts_dup"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    gets: u64,
    hits: u64,
    /// New entries: uploads less those of an entry the server already held.
    puts: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, before: Counts) -> Counts {
        Counts {
            gets: self.gets - before.gets,
            hits: self.hits - before.hits,
            puts: self.puts - before.puts,
        }
    }
}

/// One machine: directories of its own under `root`, the repository cloned to a path
/// of its own.
struct Machine {
    root: PathBuf,
    checkout: PathBuf,
}

impl Machine {
    fn new(root: &Path, checkout_rel: &str, origin: &Path) -> Machine {
        for dir in ["home", "tmp", "gocache", "go-cacher", "findings"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        let checkout = root.join(checkout_rel);
        std::fs::create_dir_all(checkout.parent().expect("parent")).expect("mkdir");
        git_in(
            root,
            &[
                "clone",
                "-q",
                origin.to_str().expect("utf-8"),
                checkout.to_str().expect("utf-8"),
            ],
        );
        Machine {
            root: root.to_path_buf(),
            checkout,
        }
    }

    fn diff(&self, tools: &Path, server: &Server) -> Run {
        let at = |d: &str| self.root.join(d);
        let cacheprog = format!(
            "{} --cache-dir={} --cache-server=http://127.0.0.1:{}",
            tools.join("go-cacher").display(),
            at("go-cacher").display(),
            server.port
        );
        let output = escape_gate()
            .args(["diff", "--format", "json", "base", "head"])
            .current_dir(&self.checkout)
            .env("HOME", at("home"))
            .env("TMPDIR", at("tmp"))
            .env("GOCACHE", at("gocache"))
            .env("GOPATH", at("home").join("go"))
            .env("GOCACHEPROG", cacheprog)
            .env("GODEBUG", "goindex=0")
            .env("GOFLAGS", "")
            .env("ESCAPE_GATE_CACHE_DIR", at("findings"))
            .output()
            .expect("run escape-gate");
        Run::from_output(output)
    }
}

/// The shared server's store, kept between test runs under target/ so that the
/// standard library, which escape-gate's `-trimpath` builds compile once per cache
/// (about a minute on 2 cores), is there after the first run. The repository's
/// packages are new to it in every run: their source holds the run's nonce.
fn server_store() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocacheprog-server");
    std::fs::create_dir_all(&dir).expect("mkdir the server's store");
    dir
}

fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    format!("{}-{}", t.as_nanos(), std::process::id())
}

#[test]
fn a_second_machine_compiles_nothing_the_first_compiled() {
    let tools = tool_dir();
    let nonce = nonce();
    // The nonce in every package: new to the server in every run.
    let stamp = format!("// Test run {nonce}.\n");
    let codec = |body: &str| format!("{stamp}package codec\n\n{body}");
    let sum = "func Sum(b []byte) int {\n\tn := 0\n\tfor _, c := range b {\n\t\tn += int(c)\n\t}\n\treturn n\n}\n";
    let (origin, _) = TestRepo::go_module(&[
        ("run.go", &format!("{stamp}package m\n\nconst Run = {nonce:?}\n")),
        ("codec/codec.go", &codec(sum)),
        (
            "api/api.go",
            &format!("{stamp}package api\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/codec\"\n)\n\nfunc Describe(b []byte) string {{\n\treturn fmt.Sprint(codec.Sum(b))\n}}\n"),
        ),
    ]);
    origin.git(&["tag", "base"]);
    origin.write(
        "codec/codec.go",
        &codec(&format!(
            "var last *int\n\n{}",
            sum.replace("\treturn n", "\tlast = &n\n\treturn n")
        )),
    );
    origin.commit("head: Sum keeps a pointer to its total");
    origin.git(&["tag", "head"]);

    let server = Server::start(&tools, &server_store());
    let machines = tempfile::Builder::new()
        .prefix("eg-machines-")
        .tempdir()
        .expect("temp dir");
    let first = Machine::new(&machines.path().join("one"), "src/repo", origin.path());
    let second = Machine::new(
        &machines.path().join("two"),
        "elsewhere/deeper/clone",
        origin.path(),
    );

    let before = server.counts();
    let started = Instant::now();
    let one = first.diff(&tools, &server);
    let after_one = server.counts();
    one.assert_code(1);
    let took_one = started.elapsed();
    let started = Instant::now();
    let two = second.diff(&tools, &server);
    let after_two = server.counts();
    two.assert_code(1);
    // For the log only: tests assert no time (BENCHMARKS.md has the measurement).
    eprintln!(
        "gocacheprog: first machine {took_one:.1?}, second {:.1?}",
        started.elapsed()
    );

    let (a, b) = (one.json(), two.json());
    let new = |j: &serde_json::Value| j["new"].clone();
    assert_eq!(new(&a), new(&b), "the same answer on both machines");
    // Sum's new escape, and again where api inlined it: placed in the tree from the
    // `-trimpath` names (`example.com/m/codec/codec.go`).
    let mut new: Vec<(String, String)> = a["new"]
        .as_array()
        .expect("new")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().expect("file").to_string(),
                f["message"].as_str().expect("message").to_string(),
            )
        })
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            (
                "api/api.go".to_string(),
                "moved to heap: codec.n".to_string()
            ),
            ("codec/codec.go".to_string(), "moved to heap: n".to_string())
        ],
        "{a:#}"
    );
    // Nothing go-cacher says reaches the report as compiler output.
    for j in [&a, &b] {
        assert_eq!(j["warnings"], serde_json::json!([]), "{j:#}");
    }

    let (m1, m2) = (after_one - before, after_two - after_one);
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(
        m1.puts > 0,
        "the first machine stored nothing on the server ({m1:?}): it did not use GOCACHEPROG\n{log}"
    );
    assert!(
        m2.gets > 0 && m2.hits > 0,
        "the second machine did not read the server ({m2:?})\n{log}"
    );
    assert_eq!(
        m2.puts, 0,
        "the second machine compiled something the first had compiled (first {m1:?}, second \
         {m2:?}): its cache keys differ from the first machine's\n{log}"
    );
}

/// The `-trimpath` scheme finds what the default one finds, also where cmd/go names a
/// tree's module by a version: module `a` uses module `b` of the same repository
/// through `replace example.com/b => ../b`, and instantiates b's generic function, whose
/// escape the compiler reports in b's file while compiling a, as
/// `example.com/b@v1.0.0/b.go` (the module cache's copy would have that name too).
#[test]
fn trimpath_names_of_a_replaced_module_of_the_tree_are_placed() {
    let repo = TestRepo::new();
    repo.write("b/go.mod", "module example.com/b\n\ngo 1.22\n");
    repo.write(
        "b/b.go",
        "package b\n\nvar Sink any\n\n// Keep keeps its argument.\nfunc Keep[T any](v T) {\n\tSink = &v\n}\n",
    );
    repo.write(
        "a/go.mod",
        "module example.com/a\n\ngo 1.22\n\nrequire example.com/b v1.0.0\n\nreplace example.com/b => ../b\n",
    );
    repo.write(
        "a/a.go",
        "package a\n\nfunc F(x int) int {\n\treturn x\n}\n",
    );
    let base = repo.commit("base");
    repo.write(
        "a/a.go",
        "package a\n\nimport \"example.com/b\"\n\nfunc F(x int) int {\n\tb.Keep(x)\n\treturn x\n}\n",
    );
    let head = repo.commit("a keeps x through b");
    let run = |goflags: &str| {
        let run = repo.run_untouched_with(&["diff", "--format", "json", &base, &head], |cmd| {
            cmd.env("GOFLAGS", goflags).env("ESCAPE_GATE_CACHE", "off");
        });
        run.assert_code(1);
        let json = run.json();
        let mut new: Vec<String> = json["new"]
            .as_array()
            .expect("new")
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{} {}",
                    f["package"], f["file"], f["line"], f["message"]
                )
            })
            .collect();
        new.sort();
        (new, json)
    };
    let (plain, plain_json) = run("");
    let (trimmed, trimmed_json) = run("-trimpath");
    assert!(
        plain.iter().any(|f| f.contains("\"b/b.go\"")),
        "the default scheme places b's escape in b/b.go: {plain_json:#}"
    );
    assert_eq!(plain, trimmed, "{plain_json:#}\n{trimmed_json:#}");
}

/// The cache program is the user's choice, never the repository's: go reads
/// `GOCACHEPROG` (and `GOFLAGS`) from the environment and the user's go env file only,
/// and escape-gate points neither at the tree. A head whose files look like go
/// configuration, naming a program for both, runs nothing.
#[test]
fn a_repository_cannot_name_a_cache_program() {
    let outside = tempfile::tempdir().expect("temp dir");
    let marker = outside.path().join("ran");
    let program = outside.path().join("prog.sh");
    std::fs::write(
        &program,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
    )
    .expect("write the program");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let (repo, base) = TestRepo::go_module(&[("a.go", "package m\n\nvar sink *int\n")]);
    let config = format!(
        "GOCACHEPROG={p}\nGOFLAGS=-toolexec={p}\nGOENV={p}\n",
        p = program.display()
    );
    for file in [
        "go.env",
        ".config/go/env",
        "Library/Application Support/go/env",
    ] {
        repo.write(file, &config);
    }
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) {\n\tx := a\n\tsink = &x\n}\n",
    );
    let head = repo.commit("an escape, and go configuration naming a program");
    let run = repo.run_untouched_with(&["diff", "--format", "json", &base, &head], |cmd| {
        cmd.env_remove("GOCACHEPROG")
            .env_remove("GOENV")
            .env("GOFLAGS", "");
    });
    run.assert_code(1);
    assert_eq!(run.json()["summary"]["new"], 1, "{}", run.stdout);
    assert!(!marker.exists(), "a program the repository named ran");
}
