//! One place to install from: the README, `action.yml`, the example workflow and
//! Cargo.toml name the home `src/home.rs` reads (Cargo.toml's `repository`) and no
//! other; the README's download-and-verify command installs a release archive made
//! by `.ci/package` and refuses a damaged one; `cargo binstall`'s metadata names that
//! archive and the binary inside it.

use std::path::Path;
use std::process::Command;

use escape_gate::home;

use crate::schemas::fenced_blocks;
use crate::support::{scratch_dir, Run};

const README: &str = include_str!("../README.md");
const ACTION: &str = include_str!("../action.yml");
const EXAMPLE: &str = include_str!("../examples/escape-gate.yml");
const CARGO_TOML: &str = include_str!("../Cargo.toml");

#[test]
fn every_file_names_the_one_home() {
    let repository = home::github_repository();
    let github = regex::Regex::new(r"github\.com/([A-Za-z0-9_.<>-]+)/escape-gate\b").expect("re");
    let uses = regex::Regex::new(r"uses: *([A-Za-z0-9_.<>-]+)/escape-gate@").expect("re");
    for (name, text) in [
        ("README.md", README),
        ("action.yml", ACTION),
        ("examples/escape-gate.yml", EXAMPLE),
        ("Cargo.toml", CARGO_TOML),
    ] {
        assert!(
            text.contains(home::HOME),
            "{name} does not name {}",
            home::HOME
        );
        for found in github.captures_iter(text).chain(uses.captures_iter(text)) {
            assert_eq!(
                format!("{}/escape-gate", &found[1]),
                repository,
                "{name} names another home: {}",
                &found[0]
            );
        }
        for placeholder in ["OWNER/", "<owner>", "<this repository>"] {
            assert!(!text.contains(placeholder), "{name} has {placeholder}");
        }
    }
    // Every `cargo install` the README shows for escape-gate is the one the hints give,
    // or a build of the clone it is read in.
    for line in README.lines().filter(|l| l.contains("cargo install")) {
        for at in line.match_indices("cargo install").map(|(i, _)| i) {
            let rest = &line[at..];
            assert!(
                rest.starts_with(home::INSTALL)
                    || rest.starts_with("cargo install --locked --path ."),
                "another install command in the README: {line}"
            );
        }
    }
    assert!(README.contains(&format!("`{}`", home::INSTALL)), "README");
    assert!(README.contains("`cargo binstall escape-gate`"), "README");
}

/// The README's download-and-verify block, with the release URL pointed at a local
/// copy of a release as `.ci/package` makes it.
fn readme_download_block() -> String {
    let at = README
        .find("**Install**")
        .expect("the README's Install paragraph");
    fenced_blocks(&README[at..], "sh")
        .into_iter()
        .next()
        .expect("a ```sh block after **Install**")
}

/// Makes the release archive of `tag` for `target` with `.ci/package`, from the binary
/// under test, in `out`; returns the archive's name.
fn package(target: &str, tag: &str, out: &Path) -> String {
    let run = Run::from_output(
        Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/package"))
            .args([target, tag, env!("CARGO_BIN_EXE_escape-gate")])
            .arg(out)
            .env("TMPDIR", out.parent().expect("a parent"))
            .output()
            .expect("run .ci/package"),
    );
    run.assert_code(0);
    format!("escape-gate-{tag}-{target}.tar.gz")
}

#[test]
fn the_documented_download_installs_a_release_and_refuses_a_damaged_one() {
    let version = env!("CARGO_PKG_VERSION");
    let target = "x86_64-unknown-linux-musl";
    let scratch = scratch_dir("install");
    let releases = scratch.path().join("releases");
    let dir = releases.join("download").join(format!("v{version}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let archive = package(target, &format!("v{version}"), &dir);

    let block = readme_download_block();
    assert!(
        block.starts_with(&format!("v={version} t={target} ")),
        "the README's command installs this version: {block}"
    );
    let local = format!("file://{}", releases.display());
    let block = block.replace(&home::releases(), &local);
    assert!(block.contains(&local), "{block}");

    let install = |user_home: &Path| {
        std::fs::create_dir_all(user_home).expect("mkdir");
        Run::from_output(
            Command::new("bash")
                .args(["-euo", "pipefail", "-c", &block])
                .current_dir(user_home)
                .env("HOME", user_home)
                .output()
                .expect("run the README's block"),
        )
    };
    let user = scratch.path().join("user");
    install(&user).assert_code(0);
    let installed = user.join(".local/bin/escape-gate");
    let version_run = Run::from_output(
        Command::new(&installed)
            .arg("--version")
            .output()
            .expect("run the installed binary"),
    );
    version_run.assert_code(0);
    assert_eq!(version_run.stdout, format!("escape-gate {version}\n"));

    // One byte changed in the archive: the checksum refuses it and nothing is installed.
    let path = dir.join(&archive);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");
    let other = scratch.path().join("other");
    let run = install(&other);
    assert_ne!(run.code, 0, "a damaged archive was accepted: {run:?}");
    assert!(run.stdout.contains("FAILED"), "{run:?}");
    assert!(!other.join(".local/bin/escape-gate").exists());
}

/// `[package.metadata.binstall]`'s `key = "value"`.
fn binstall(key: &str) -> String {
    let section = CARGO_TOML
        .split("[package.metadata.binstall]")
        .nth(1)
        .expect("Cargo.toml has [package.metadata.binstall]");
    section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {key} in [package.metadata.binstall]"))
        .to_string()
}

#[test]
fn binstall_finds_the_release_archive_and_its_binary() {
    let version = env!("CARGO_PKG_VERSION");
    let target = "aarch64-apple-darwin";
    let expand = |template: &str| {
        template
            .replace("{ repo }", home::HOME)
            .replace("{ name }", "escape-gate")
            .replace("{ version }", version)
            .replace("{ target }", target)
            .replace("{ archive-suffix }", ".tar.gz")
            .replace("{ bin }", "escape-gate")
            .replace("{ binary-ext }", "")
    };
    assert_eq!(binstall("pkg-fmt"), "tgz");
    let url = expand(&binstall("pkg-url"));
    let scratch = scratch_dir("binstall");
    let archive = package(target, &format!("v{version}"), scratch.path());
    assert_eq!(
        url,
        format!("{}/download/v{version}/{archive}", home::releases()),
        "binstall's pkg-url is where the release workflow puts the archive"
    );
    let listing = Run::from_output(
        Command::new("tar")
            .arg("-tzf")
            .arg(scratch.path().join(&archive))
            .output()
            .expect("tar"),
    );
    listing.assert_code(0);
    let bin = expand(&binstall("bin-dir"));
    assert!(
        listing.stdout.lines().any(|l| l == bin),
        "no {bin} in the archive:\n{}",
        listing.stdout
    );
}
