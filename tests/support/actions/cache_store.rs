//! A stand-in for GitHub's cache service behind `actions/cache/restore` and
//! `actions/cache/save` (v4), so the simulated runner runs the Action's cache steps
//! with the rules they have on GitHub (github.com/actions/cache, `src/restoreImpl.ts`,
//! `src/saveImpl.ts`, and "Dependency caching reference" in GitHub's documentation):
//!
//! - an entry is a key, a *version* (a hash of the `path` input: a cache saved for one
//!   path is never restored into another) and a *scope*, the ref of the run that saved
//!   it; it can never be changed or saved again (the save warns and does not fail);
//! - a restore looks in the run's own ref, then (a pull request) its base branch, then
//!   the default branch; in each, first the exact key, then entries whose key starts with
//!   the key, then each restore key in order as a prefix, the newest entry first;
//! - keys: at most 512 characters, no comma, at most 10 restore keys (the step fails);
//!   `path` and `restore-keys` are read line by line, trimmed, empty lines dropped;
//! - outputs of the restore-only action: `cache-primary-key` always, `cache-matched-key`
//!   and `cache-hit` (`true` only for the exact key) when something was restored.
//!
//! Entries are tar archives of the path, in a directory of the store's own, extracted
//! over the path as actions/cache does. Each simulated runner has its own temporary
//! directory, where every hosted runner of an image has the same `RUNNER_TEMP`: the
//! version is taken from the path with the runner's temp directory written as a hosted
//! runner's, so that two simulated runs see the same version, as two hosted runs do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// `RUNNER_TEMP` on GitHub's hosted Linux runners.
const HOSTED_RUNNER_TEMP: &str = "/home/runner/work/_temp";

/// One saved entry.
#[derive(Debug, Clone)]
pub struct Saved {
    pub key: String,
    pub version: String,
    pub scope: String,
    archive: PathBuf,
}

/// What a cache step did: its exit code, its log, its outputs.
#[derive(Debug, Default)]
pub struct StepResult {
    pub code: i32,
    pub log: String,
    pub outputs: Vec<(String, String)>,
}

/// The cache service of one repository.
#[derive(Debug)]
pub struct CacheStore {
    dir: tempfile::TempDir,
    entries: Mutex<Vec<Saved>>,
}

/// What a restore or save step needs to know about the run it is in.
pub struct Run<'a> {
    /// `GITHUB_REF` of the run.
    pub git_ref: &'a str,
    /// The refs a restore may also read from, in order after `git_ref`.
    pub fallback_refs: Vec<String>,
    /// The runner's `RUNNER_TEMP`.
    pub runner_temp: &'a Path,
}

impl CacheStore {
    pub fn new() -> CacheStore {
        CacheStore {
            dir: tempfile::Builder::new()
                .prefix("eg-actions-cache-")
                .tempdir()
                .expect("temp dir for the cache store"),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Every entry saved so far, oldest first.
    pub fn saved(&self) -> Vec<Saved> {
        self.entries.lock().expect("entries").clone()
    }

    /// Extracts the entry saved under `key` into `dest`, as a restore into an empty
    /// directory does.
    pub fn extract(&self, key: &str, dest: &Path) {
        let entries = self.entries.lock().expect("entries");
        let entry = entries
            .iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("no entry {key}"));
        std::fs::create_dir_all(dest).expect("mkdir");
        tar(&["-xf", &entry.archive.display().to_string(), "-C"], dest);
    }

    /// `actions/cache/restore` with these inputs.
    pub fn restore(&self, run: &Run, path: &str, key: &str, restore_keys: &str) -> StepResult {
        let mut result = StepResult::default();
        let restore_keys = lines(restore_keys);
        let path = match one_path(path) {
            Ok(path) => path,
            Err(e) => return failed(result, &e),
        };
        if let Err(e) = check_keys(key, &restore_keys) {
            return failed(result, &e);
        }
        result
            .outputs
            .push(("cache-primary-key".into(), key.to_string()));
        let version = version(&path, run.runner_temp);
        let entries = self.entries.lock().expect("entries").clone();
        let mut scopes = vec![run.git_ref.to_string()];
        for r in &run.fallback_refs {
            if !scopes.contains(r) {
                scopes.push(r.clone());
            }
        }
        let found = scopes.iter().find_map(|scope| {
            let here: Vec<&Saved> = entries
                .iter()
                .filter(|e| &e.scope == scope && e.version == version)
                .collect();
            // The newest first.
            let newest = |prefix: &str| {
                here.iter()
                    .rev()
                    .find(|e| e.key.starts_with(prefix))
                    .copied()
            };
            here.iter()
                .rev()
                .find(|e| e.key == key)
                .copied()
                .or_else(|| newest(key))
                .or_else(|| restore_keys.iter().find_map(|k| newest(k)))
        });
        let Some(entry) = found else {
            let mut all = vec![key.to_string()];
            all.extend(restore_keys);
            result.log = format!("Cache not found for input keys: {}\n", all.join(", "));
            return result;
        };
        std::fs::create_dir_all(&path).expect("mkdir the cache path");
        tar(&["-xf", &entry.archive.display().to_string(), "-C"], &path);
        result
            .outputs
            .push(("cache-matched-key".into(), entry.key.clone()));
        result
            .outputs
            .push(("cache-hit".into(), (entry.key == key).to_string()));
        result.log = format!("Cache restored from key: {}\n", entry.key);
        result
    }

    /// `actions/cache/save` with these inputs.
    pub fn save(&self, run: &Run, path: &str, key: &str) -> StepResult {
        let mut result = StepResult::default();
        // The save action never fails its step: everything is a warning.
        let warn = |mut result: StepResult, message: &str| {
            result.log = format!("::warning::{message}\n::warning::Cache save failed.\n");
            result
        };
        let path = match one_path(path) {
            Ok(path) => path,
            Err(e) => return warn(result, &e),
        };
        if let Err(e) = check_keys(key, &[]) {
            return warn(result, &e);
        }
        if !path.is_dir() {
            return warn(
                result,
                "Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.",
            );
        }
        let version = version(&path, run.runner_temp);
        let mut entries = self.entries.lock().expect("entries");
        if entries
            .iter()
            .any(|e| e.key == key && e.version == version && e.scope == run.git_ref)
        {
            return warn(
                result,
                &format!(
                    "Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."
                ),
            );
        }
        let archive = self.dir.path().join(format!("{}.tar", entries.len()));
        tar(&["-cf", &archive.display().to_string(), "-C"], &path);
        entries.push(Saved {
            key: key.to_string(),
            version,
            scope: run.git_ref.to_string(),
            archive,
        });
        result.log = format!("Cache saved with key: {key}\n");
        result
    }
}

fn failed(mut result: StepResult, message: &str) -> StepResult {
    result.code = 1;
    result.log.push_str(&format!("::error::{message}\n"));
    result
}

/// An input read as `getInputAsArray` reads it.
fn lines(input: &str) -> Vec<String> {
    input
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The Action caches one directory; anything else is outside what this store models.
fn one_path(input: &str) -> Result<PathBuf, String> {
    match lines(input).as_slice() {
        [one] if Path::new(one).is_absolute() => Ok(PathBuf::from(one)),
        other => Err(format!(
            "the simulated cache takes one absolute path, not {other:?}"
        )),
    }
}

/// `checkKey` of @actions/cache, and its limit on the number of keys.
fn check_keys(key: &str, restore_keys: &[String]) -> Result<(), String> {
    if restore_keys.len() + 1 > 10 {
        return Err("Key Validation Error: Keys are limited to a maximum of 10.".into());
    }
    for k in std::iter::once(key).chain(restore_keys.iter().map(String::as_str)) {
        if k.len() > 512 {
            return Err(format!(
                "Key Validation Error: {k} cannot be larger than 512 characters."
            ));
        }
        if k.contains(',') {
            return Err(format!("Key Validation Error: {k} cannot contain commas."));
        }
    }
    Ok(())
}

fn version(path: &Path, runner_temp: &Path) -> String {
    match path.strip_prefix(runner_temp) {
        Ok(rest) => Path::new(HOSTED_RUNNER_TEMP)
            .join(rest)
            .display()
            .to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// `tar ARGS DIR .`, or for an extraction `tar ARGS DIR`.
fn tar(args: &[&str], dir: &Path) {
    let mut cmd = Command::new("tar");
    cmd.args(args).arg(dir);
    if args[0] == "-cf" {
        cmd.arg(".");
    }
    let out = cmd.output().expect("run tar");
    assert!(
        out.status.success(),
        "tar {args:?} {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
