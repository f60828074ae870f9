//! Hostile input: the findings cache directory. `ESCAPE_GATE_CACHE_DIR` may name a
//! directory that holds the user's own files; escape-gate deletes only entries it can
//! prove it wrote (its `findings-v2/` subdirectory, its names, its header), never
//! follows a link, and leaves everything else byte-identical, however many entries its
//! trim removes.

use std::fs;
use std::path::Path;

use super::flags::listing;
use crate::support::{Run, TestRepo};

const LIB_GO: &str = "package lib

// Sink keeps what it is given.
var Sink *int

// Keep stores a copy of n.
func Keep(n int) {
\tp := n
\tSink = &p
}
";

/// The subdirectory and header of escape-gate's entries (src/cache.rs).
const SUBDIR: &str = "findings-v2";
const HEADER: &str = "escape-gate findings cache v2\n";

/// 300 of the user's `.json` files, some named exactly like escape-gate's entries,
/// some holding what an entry of the previous format held.
fn users_json_files(dir: &Path) {
    for i in 0..300u32 {
        let name = match i % 3 {
            0 => format!("{i:032x}.json"),
            1 => format!("report-{i}.json"),
            _ => format!("{:016x}{:016x}.json", i, u64::from(i) * 7919),
        };
        let content = match i % 2 {
            0 => format!("{{\"format\":1,\"key\":\"user {i}\",\"value\":[]}}"),
            _ => format!("{{\"user\": {i}}}\n"),
        };
        fs::write(dir.join(name), content).expect("write");
    }
}

fn diff(repo: &TestRepo, cache: &Path, base: &str, head: &str) -> Run {
    let output = crate::support::escape_gate()
        .args(["diff", "--format", "json", base, head])
        .current_dir(repo.path())
        .env("ESCAPE_GATE_CACHE_DIR", cache)
        .output()
        .expect("run escape-gate");
    Run::from_output(output)
}

/// Everything in `dir` but escape-gate's subdirectory.
fn users_view(dir: &Path) -> Vec<(std::path::PathBuf, (Vec<u8>, u32))> {
    listing(dir)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(SUBDIR))
        .collect()
}

#[test]
fn a_directory_of_the_users_json_files_stays_byte_identical_through_runs_that_trim() {
    let cache = tempfile::tempdir().expect("temp");
    users_json_files(cache.path());
    // escape-gate's own directory already over its bound of 256 entries: every run
    // trims it.
    let own = cache.path().join(SUBDIR);
    fs::create_dir(&own).expect("mkdir");
    for i in 0..300u32 {
        fs::write(
            own.join(format!("{:032x}.json", u128::from(i) << 64)),
            format!("{HEADER}{{}}"),
        )
        .expect("write");
    }
    let before = users_view(cache.path());
    assert_eq!(before.len(), 300);

    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    repo.write(
        "lib/lib.go",
        &LIB_GO.replace("\tp := n\n", "\tp := n\n\tq := n\n\tSink = &q\n"),
    );
    let head = repo.commit("one more escape");
    for round in 0..3 {
        let run = diff(&repo, cache.path(), &base, &head);
        run.assert_code(1);
        let json = run.json();
        assert_eq!(json["summary"]["new"], 1, "{json:#}");
        // The entries written by the first run serve the later ones.
        assert_eq!(json["summary"]["base"]["cached"], round > 0, "{json:#}");
        assert_eq!(users_view(cache.path()), before, "round {round}");
        let entries = fs::read_dir(&own).expect("read").count();
        assert_eq!(entries, 256, "round {round}: trimmed to the bound");
    }
}

#[test]
fn a_link_in_place_of_the_subdirectory_is_never_followed() {
    let cache = tempfile::tempdir().expect("temp");
    let elsewhere = tempfile::tempdir().expect("temp");
    users_json_files(elsewhere.path());
    // Even files that look like entries, header included, behind the link.
    for i in 0..300u32 {
        fs::write(
            elsewhere
                .path()
                .join(format!("{:032x}.json", u128::from(i) << 70)),
            format!("{HEADER}{{}}"),
        )
        .expect("write");
    }
    std::os::unix::fs::symlink(elsewhere.path(), cache.path().join(SUBDIR)).expect("symlink");
    let before = listing(elsewhere.path());

    let (repo, base) = TestRepo::go_module(&[("lib/lib.go", LIB_GO)]);
    repo.write(
        "lib/other.go",
        "package lib\n\n// Other is new.\nfunc Other() int { return 1 }\n",
    );
    let head = repo.commit("a new function");
    for _ in 0..2 {
        let run = diff(&repo, cache.path(), &base, &head);
        run.assert_code(0);
        assert_eq!(run.json()["summary"]["base"]["cached"], false);
    }
    assert_eq!(listing(elsewhere.path()), before);
}
