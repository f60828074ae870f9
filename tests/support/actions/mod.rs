//! A GitHub Actions runner for `action.yml`, outside GitHub: the `run:` scripts of
//! action.yml's steps, executed in order with bash the way the runner executes a
//! composite action, in a simulated GitHub environment (event payload, summary,
//! output, env and path files, RUNNER_* variables), in a checkout the test makes, with
//! the binary under test on PATH and the real `go` and `git`.
//!
//! The runner's expression language is reduced to what action.yml may use in a step's
//! `env:` and `with:`: `${{ <context>.<path> }}` over `inputs`, `github` (with
//! `github.event` read from the payload), `runner` and `steps.<id>.outputs`; and in a
//! step's `if:`, terms joined by `&&`: `!cancelled()`, `always()`, `success()`,
//! `failure()` and `inputs.<name>` or `steps.<id>.outputs.<name>` `== '<value>'` (or
//! `!=`), with GitHub's rule that a condition without a status function runs only while
//! every step before succeeded. Anything else in a `run:` step (another shell, an
//! expression inside a script) fails the test, so the Action cannot drift out of what is
//! tested here.
//!
//! `uses:` steps must name their action by a full commit id. `actions/cache/restore` and
//! `actions/cache/save` run against a local stand-in for GitHub's cache service
//! ([`cache_store`]) with actions/cache's matching rules: each runner has an empty one
//! unless a test gives several runs the same. The binary's tool cache (`actions/cache` with its post
//! step) only runs for a released version, never for the local action tested here.
//!
//! The comment step talks to `GITHUB_API_URL`: a loopback stand-in for GitHub's REST
//! API ([`github_api`]) where a test needs one, else a closed port, so no test can
//! reach the real one.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use serde_yaml::Value as Yaml;

use crate::support::hermetic;

pub mod cache_store;
pub mod github_api;
use cache_store::CacheStore;
use github_api::TOKEN;

/// action.yml's steps, parsed.
pub fn steps() -> (Vec<Yaml>, HashMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text = fs::read_to_string(&path).expect("read action.yml");
    let action: Yaml = serde_yaml::from_str(&text).expect("action.yml is YAML");
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let steps = action["runs"]["steps"]
        .as_sequence()
        .expect("runs.steps")
        .clone();
    let mut defaults = HashMap::new();
    for (name, input) in action["inputs"].as_mapping().expect("inputs") {
        let name = name.as_str().expect("input name").to_string();
        let default = input["default"].as_str().unwrap_or("").to_string();
        defaults.insert(name, default);
    }
    (steps, defaults)
}

/// A simulated runner for one job.
pub struct Runner {
    pub workspace: PathBuf,
    pub temp: tempfile::TempDir,
    pub event: Value,
    pub event_name: String,
    pub sha: String,
    pub inputs: HashMap<String, String>,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// The repository's cache service.
    pub cache: Arc<CacheStore>,
}

/// What running the Action produced.
#[derive(Debug)]
pub struct ActionRun {
    /// The job's result: the exit status of the first step that failed, else 0.
    pub code: i32,
    /// The exit status of each step that ran.
    pub codes: HashMap<String, i32>,
    pub stdout: String,
    pub stderr: String,
    /// Step summaries, concatenated in step order.
    pub summary: String,
    /// Outputs per step id.
    pub outputs: HashMap<String, HashMap<String, String>>,
    /// Ids (or names) of the steps that ran.
    pub ran: Vec<String>,
}

impl Runner {
    /// `GITHUB_REF`: a pull request's merge ref, a push's ref, else the default branch.
    pub fn git_ref(&self) -> String {
        match self.event_name.as_str() {
            "pull_request" | "pull_request_target" => {
                format!("refs/pull/{}/merge", self.event["number"])
            }
            "push" => self.event["ref"]
                .as_str()
                .expect("a push event names its ref")
                .to_string(),
            _ => format!("refs/heads/{}", self.default_branch()),
        }
    }

    pub fn default_branch(&self) -> String {
        self.event["repository"]["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string()
    }

    /// The refs whose caches a run may read besides its own: a pull request's base
    /// branch, then the default branch.
    pub fn fallback_refs(&self) -> Vec<String> {
        let mut refs = Vec::new();
        if let Some(base) = self.event["pull_request"]["base"]["ref"].as_str() {
            refs.push(format!("refs/heads/{base}"));
        }
        refs.push(format!("refs/heads/{}", self.default_branch()));
        refs
    }

    /// Runs a `uses:` step: the cache steps against the store, the binary's tool cache
    /// not at all (see the module documentation).
    pub fn uses(
        &self,
        id: &str,
        step: &Yaml,
        outputs: &HashMap<String, HashMap<String, String>>,
        runner_temp: &Path,
    ) -> Option<cache_store::StepResult> {
        let uses = step["uses"].as_str().expect("uses");
        let (action, commit) = uses.split_once('@').expect("uses: OWNER/REPO@REF");
        assert!(
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "step {id}: {uses} is not pinned by a commit id"
        );
        let with = |name: &str| {
            let value = step["with"][name].as_str().unwrap_or("");
            self.expand(value, outputs)
        };
        let git_ref = self.git_ref();
        let run = cache_store::Run {
            git_ref: &git_ref,
            fallback_refs: self.fallback_refs(),
            runner_temp,
        };
        match action {
            "actions/cache" => {
                assert_eq!(
                    step["if"].as_str(),
                    Some("inputs.version != '' || startsWith(github.action_ref, 'v')"),
                    "step {id}: the tool cache's condition changed; simulate it"
                );
                assert_eq!(
                    self.inputs["version"], "",
                    "the tool cache is not simulated"
                );
                None
            }
            "actions/cache/restore" => {
                Some(
                    self.cache
                        .restore(&run, &with("path"), &with("key"), &with("restore-keys")),
                )
            }
            "actions/cache/save" => Some(self.cache.save(&run, &with("path"), &with("key"))),
            "actions/upload-artifact" => Some(self.upload(id, step, &with("name"), &with("path"))),
            other => panic!("step {id}: no simulation of {other}"),
        }
    }

    /// `actions/upload-artifact`: the file into this runner's `artifacts/NAME/`, with
    /// the outputs the real action sets. The step must never fail the job, and a
    /// missing file is no artifact (`if-no-files-found: ignore`).
    pub fn upload(&self, id: &str, step: &Yaml, name: &str, path: &str) -> cache_store::StepResult {
        assert_eq!(
            step["continue-on-error"].as_bool(),
            Some(true),
            "step {id}: an upload that fails must not fail the job"
        );
        assert_eq!(step["with"]["if-no-files-found"].as_str(), Some("ignore"));
        assert!(
            !name.is_empty() && !name.contains(['/', ':', '"', '<', '>', '|', '*', '?', '\\']),
            "step {id}: artifact name {name:?}"
        );
        let file = Path::new(path);
        if !file.is_file() {
            return cache_store::StepResult {
                code: 0,
                log: format!("No files were found with the provided path: {path}. No artifacts will be uploaded.\n"),
                outputs: Vec::new(),
            };
        }
        let dir = self.artifacts().join(name);
        fs::create_dir_all(&dir).expect("artifact dir");
        let base = file.file_name().expect("a file name");
        fs::copy(file, dir.join(base)).expect("upload the artifact");
        cache_store::StepResult {
            code: 0,
            log: format!("Artifact {name} has been successfully uploaded!\n"),
            outputs: vec![
                ("artifact-id".to_string(), "1001".to_string()),
                (
                    "artifact-url".to_string(),
                    "https://github.com/acme/inventory/actions/runs/4242/artifacts/1001"
                        .to_string(),
                ),
            ],
        }
    }

    /// Where the simulated uploads go, one directory per artifact name.
    pub fn artifacts(&self) -> PathBuf {
        self.temp.path().join("artifacts")
    }

    /// Evaluates `${{ ... }}` in one `env:` value.
    pub fn expand(
        &self,
        value: &str,
        outputs: &HashMap<String, HashMap<String, String>>,
    ) -> String {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closing }}") + start;
            let expr = rest[start + 3..end].trim();
            out.push_str(&self.lookup(expr, outputs));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    pub fn lookup(&self, expr: &str, outputs: &HashMap<String, HashMap<String, String>>) -> String {
        let valid = expr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        assert!(valid, "expression outside the tested subset: {expr:?}");
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self
                .inputs
                .get(*name)
                .unwrap_or_else(|| panic!("unknown input {name}"))
                .clone(),
            ["github", "event", path @ ..] => {
                let mut v = &self.event;
                for p in path {
                    v = &v[*p];
                }
                match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            }
            ["github", "event_name"] => self.event_name.clone(),
            ["github", "ref"] => self.git_ref(),
            ["github", "token"] => TOKEN.to_string(),
            ["github", "sha"] => self.sha.clone(),
            ["github", "action_path"] => env!("CARGO_MANIFEST_DIR").to_string(),
            // A local action (`uses: ./`) has no repository or ref of its own.
            ["github", "action_repository"] | ["github", "action_ref"] => String::new(),
            ["runner", "temp"] => self.temp.path().join("runner").display().to_string(),
            ["steps", id, "outputs", name] => outputs
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!("expression outside the tested subset: {expr:?}"),
        }
    }

    pub fn run(&self) -> ActionRun {
        let (steps, _) = steps();
        let files = self.temp.path().join("files");
        let runner_temp = self.temp.path().join("runner");
        let tool_cache = self.temp.path().join("tool-cache");
        for dir in [&files, &runner_temp, &tool_cache] {
            fs::create_dir_all(dir).expect("mkdir");
        }
        let event_path = files.join("event.json");
        fs::write(&event_path, self.event.to_string()).expect("write event");
        let env_file = files.join("env");
        let path_file = files.join("path");
        fs::write(&env_file, "").expect("env file");
        fs::write(&path_file, "").expect("path file");

        let binary = Path::new(env!("CARGO_BIN_EXE_escape-gate"));
        let mut path_dirs: Vec<PathBuf> = vec![binary.parent().expect("bin dir").to_path_buf()];
        let mut job_env: Vec<(String, String)> = Vec::new();

        let mut result = ActionRun {
            code: 0,
            codes: HashMap::new(),
            stdout: String::new(),
            stderr: String::new(),
            summary: String::new(),
            outputs: HashMap::new(),
            ran: Vec::new(),
        };
        for (i, step) in steps.iter().enumerate() {
            let id = step["id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("step{i}"));
            if step.get("uses").is_some() {
                // The tool cache's condition is checked in `uses`, the others here.
                let tool_cache = step["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/cache@"));
                let condition = step["if"].as_str().unwrap_or("");
                if !tool_cache && !self.condition(condition, result.code != 0, &result.outputs) {
                    continue;
                }
                let Some(done) = self.uses(&id, step, &result.outputs, &runner_temp) else {
                    continue;
                };
                result.ran.push(id.clone());
                result.codes.insert(id.clone(), done.code);
                if result.code == 0 && step["continue-on-error"].as_bool() != Some(true) {
                    result.code = done.code;
                }
                result.stdout.push_str(&done.log);
                result
                    .outputs
                    .insert(id.clone(), done.outputs.into_iter().collect());
                continue;
            }
            let condition = step["if"].as_str().unwrap_or("");
            if !self.condition(condition, result.code != 0, &result.outputs) {
                continue;
            }
            assert_eq!(step["shell"].as_str(), Some("bash"), "step {id}: shell");
            let script = step["run"].as_str().expect("run script");
            assert!(
                !script.contains("${{"),
                "step {id}: expression inside the script"
            );

            let summary = files.join(format!("summary-{i}.md"));
            let output = files.join(format!("output-{i}"));
            fs::write(&summary, "").expect("summary");
            fs::write(&output, "").expect("output");
            let script_path = runner_temp.join(format!("{id}.sh"));
            fs::write(&script_path, script).expect("script");

            let system_path = std::env::var_os("PATH").expect("PATH");
            let mut all_dirs = path_dirs.clone();
            all_dirs.extend(std::env::split_paths(&system_path));
            let mut cmd = Command::new("bash");
            hermetic(&mut cmd);
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_path)
                .current_dir(&self.workspace)
                .env("PATH", std::env::join_paths(all_dirs).expect("PATH"))
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_EVENT_NAME", &self.event_name)
                .env("GITHUB_EVENT_PATH", &event_path)
                .env("GITHUB_SHA", &self.sha)
                .env("GITHUB_REF", self.git_ref())
                .env(
                    "GITHUB_REF_NAME",
                    self.git_ref()
                        .trim_start_matches("refs/heads/")
                        .trim_start_matches("refs/tags/")
                        .trim_start_matches("refs/pull/"),
                )
                .env("GITHUB_REPOSITORY", "acme/inventory")
                .env("GITHUB_SERVER_URL", "https://github.com")
                .env("GITHUB_WORKSPACE", &self.workspace)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_ENV", &env_file)
                .env("GITHUB_PATH", &path_file)
                .env("RUNNER_OS", "Linux")
                .env("RUNNER_ARCH", "X64")
                .env("GITHUB_API_URL", &self.api_url)
                .env("GITHUB_RUN_ID", "4242")
                .env("GITHUB_JOB", "escapes")
                .env("GITHUB_RUN_ATTEMPT", "1")
                .env("RUNNER_TEMP", &runner_temp)
                .env("RUNNER_TOOL_CACHE", &tool_cache);
            for (k, v) in &job_env {
                cmd.env(k, v);
            }
            if let Some(env) = step["env"].as_mapping() {
                for (k, v) in env {
                    let k = k.as_str().expect("env name");
                    let v = v
                        .as_str()
                        .unwrap_or_else(|| panic!("step {id}: env {k} is not a string"));
                    cmd.env(k, self.expand(v, &result.outputs));
                }
            }
            let out = cmd.output().expect("run bash");
            result.ran.push(id.clone());
            let code = out.status.code().unwrap_or(-1);
            result.codes.insert(id.clone(), code);
            if result.code == 0 {
                result.code = code;
            }
            result
                .stdout
                .push_str(&String::from_utf8_lossy(&out.stdout));
            result
                .stderr
                .push_str(&String::from_utf8_lossy(&out.stderr));
            result
                .summary
                .push_str(&fs::read_to_string(&summary).expect("summary"));
            let outputs = parse_kv(&fs::read_to_string(&output).expect("output"));
            result.outputs.insert(id.clone(), outputs);
            // Later steps see the PATH and environment this one added, as on a runner.
            for dir in fs::read_to_string(&path_file).expect("path").lines().rev() {
                if !dir.is_empty() && !path_dirs.iter().any(|d| d == Path::new(dir)) {
                    path_dirs.insert(0, PathBuf::from(dir));
                }
            }
            job_env = parse_kv(&fs::read_to_string(&env_file).expect("env"))
                .into_iter()
                .collect();
        }
        // setup-go's problem matcher sees every line of the job's log (see
        // tests/problem_matcher.rs): none of the Action's may read as a Go error.
        let matcher = regex::Regex::new(r"^\s*(\.{0,2}[\/\\].+\.go):(?:(\d+):(\d+):)? (.*)")
            .expect("setup-go's expression");
        for line in result.stdout.lines().chain(result.stderr.lines()) {
            assert!(!matcher.is_match(line), "setup-go would annotate {line:?}");
        }
        result
    }

    /// Whether a step with this `if:` runs, after a failure or not.
    pub fn condition(
        &self,
        condition: &str,
        failed: bool,
        outputs: &HashMap<String, HashMap<String, String>>,
    ) -> bool {
        let expr = condition.trim();
        let expr = expr
            .strip_prefix("${{")
            .and_then(|e| e.strip_suffix("}}"))
            .unwrap_or(expr)
            .trim();
        if expr.is_empty() {
            return !failed;
        }
        let mut status_function = false;
        let mut value = true;
        for term in expr.split("&&").map(str::trim) {
            let this = match term {
                "!cancelled()" | "always()" => {
                    status_function = true;
                    true
                }
                "success()" => {
                    status_function = true;
                    !failed
                }
                "failure()" => {
                    status_function = true;
                    failed
                }
                _ => {
                    let (name, op, literal) = ["==", "!="]
                        .iter()
                        .find_map(|op| {
                            let (l, r) = term.split_once(op)?;
                            Some((l.trim(), *op, r.trim()))
                        })
                        .unwrap_or_else(|| {
                            panic!("`if:` term outside the tested subset: {term:?}")
                        });
                    let literal = literal
                        .strip_prefix('\'')
                        .and_then(|l| l.strip_suffix('\''))
                        .unwrap_or_else(|| panic!("`if:` compares with a quoted string: {term:?}"));
                    let parts: Vec<&str> = name.split('.').collect();
                    let actual = match parts.as_slice() {
                        ["inputs", input] => self
                            .inputs
                            .get(*input)
                            .unwrap_or_else(|| panic!("unknown input {input}"))
                            .clone(),
                        // A step that did not run, or did not set it: the empty string.
                        ["steps", _, "outputs", _] => self.lookup(name, outputs),
                        _ => panic!("`if:` term outside the tested subset: {term:?}"),
                    };
                    (actual == literal) == (op == "==")
                }
            };
            value &= this;
        }
        value && (status_function || !failed)
    }
}

/// `name=value` lines (the only form escape-gate and the Action write).
pub fn parse_kv(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
