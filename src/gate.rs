//! The pipeline, end to end: two revisions in, an [`Outcome`] out (resolve,
//! materialise, build, parse, attribute, match, allow). Reporters turn the outcome into
//! text; commands turn it into an exit code.

use std::collections::HashMap;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::allowlist::{self, AllowOutcome, Config, Date};
use crate::finding::{Finding, RawFinding};
use crate::function::FunctionIndex;
use crate::git::{Repo, Revision};
use crate::go::{self, BuildOutput, BuildSettings, GoEnv};
use crate::interrupt::TempTree;
use crate::matching::{self, ChangedLines, Comparison, LineMap};
use crate::parse;

/// The allowlist file, at the root of the head revision unless `--config` names one.
pub const CONFIG_FILE: &str = ".escape-gate.yml";

/// One analysed revision. Holds its tree so reporters can read source lines.
#[derive(Debug)]
pub struct Side {
    pub revision: Revision,
    pub tree: TempTree,
    /// Heap findings inside the repository, deduplicated per allocation site.
    pub findings: Vec<Finding>,
    /// Packages built with `-m`.
    pub packages: Vec<String>,
    /// Heap findings in files outside the repository (standard library, module cache,
    /// generated code), which never fail the gate.
    pub outside: usize,
    /// Compiler lines that were not recognised.
    pub unrecognised: Vec<String>,
}

/// Where the allowlist came from and what it says.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// How to name the file in messages; empty when there is none.
    pub origin: String,
    pub config: Config,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub go: GoEnv,
    pub base: Side,
    pub head: Side,
    pub comparison: Comparison,
    pub allow: AllowOutcome,
    pub config: LoadedConfig,
    /// Things the user should know that do not change the verdict.
    pub warnings: Vec<String>,
    /// Head lines the change touched, for the files that have new escapes.
    pub changed: ChangedLines,
}

impl Outcome {
    /// New escapes that no allowlist entry covers: these fail the gate.
    pub fn failing(&self) -> &[Finding] {
        &self.allow.remaining
    }
}

/// What the user asked to compare, after argument validation.
#[derive(Debug, Clone, Default)]
pub struct DiffRequest {
    pub repo: PathBuf,
    pub base: Option<String>,
    pub head: Option<String>,
    /// An allowlist file on disk, instead of `.escape-gate.yml` of the head.
    pub config: Option<PathBuf>,
    /// Build tags added to the allowlist's `build.tags`.
    pub tags: Vec<String>,
    pub today: Option<Date>,
}

/// Runs the whole comparison.
pub fn diff(req: &DiffRequest) -> Result<Outcome> {
    let repo = Repo::open(&req.repo)?;
    let go = GoEnv::detect()?;
    let head_rev = match &req.head {
        Some(spec) => repo.resolve(spec)?,
        None => Revision::working_tree(),
    };
    let base_rev = match &req.base {
        Some(spec) => repo.resolve(spec)?,
        None => repo.default_base(&head_rev)?,
    };
    let progress = Progress::new();

    progress.say(&format!("checking out head {}", head_rev.label()));
    let head_tree = TempTree::new("head")?;
    repo.materialise(&head_rev, &head_tree)?;
    let config = load_config(req.config.as_deref(), &head_tree, &head_rev)?;
    let settings = build_settings(&config.config, &req.tags);

    progress.say(&format!("checking out base {}", base_rev.label()));
    let base_tree = TempTree::new("base")?;
    repo.materialise(&base_rev, &base_tree)?;

    let base = analyse(&go, base_rev, base_tree, &settings, "base", &progress)?;
    let head = analyse(&go, head_rev, head_tree, &settings, "head", &progress)?;
    progress.clear();

    let renames = repo.renames(&base.revision, &head.revision)?;
    let lines = line_map(&base, &head, &renames);
    let comparison = matching::compare(&base.findings, &head.findings, &lines);
    let changed = changed_lines(&base, &head, &renames, &comparison.new);
    let today = req.today.unwrap_or_else(Date::today_utc);
    let allow = allowlist::apply(&config.config, comparison.new.clone(), today);

    let mut warnings = Vec::new();
    for side in [&base, &head] {
        if !side.unrecognised.is_empty() {
            warnings.push(unrecognised_warning(side));
        }
    }
    Ok(Outcome {
        go,
        base,
        head,
        comparison,
        allow,
        config,
        warnings,
        changed,
    })
}

/// Analyses one revision on its own (for `escape-gate list`).
pub fn single(
    repo_dir: &Path,
    spec: Option<&str>,
    config: Option<&Path>,
    tags: &[String],
) -> Result<(GoEnv, Side)> {
    let repo = Repo::open(repo_dir)?;
    let go = GoEnv::detect()?;
    let rev = match spec {
        Some(spec) => repo.resolve(spec)?,
        None => Revision::working_tree(),
    };
    let progress = Progress::new();
    progress.say(&format!("checking out {}", rev.label()));
    let tree = TempTree::new("rev")?;
    repo.materialise(&rev, &tree)?;
    let loaded = load_config(config, &tree, &rev)?;
    let settings = build_settings(&loaded.config, tags);
    let side = analyse(&go, rev, tree, &settings, "revision", &progress)?;
    progress.clear();
    Ok((go, side))
}

fn load_config(
    explicit: Option<&Path>,
    head_tree: &TempTree,
    head: &Revision,
) -> Result<LoadedConfig> {
    let (path, origin) = match explicit {
        Some(path) => (path.to_path_buf(), path.display().to_string()),
        None => {
            let path = head_tree.path().join(CONFIG_FILE);
            if !path.is_file() {
                return Ok(LoadedConfig::default());
            }
            let origin = if head.is_working_tree() {
                CONFIG_FILE.to_string()
            } else {
                format!("{CONFIG_FILE} (in {})", head.label())
            };
            (path, origin)
        }
    };
    let text =
        fs::read_to_string(&path).with_context(|| format!("reading the allowlist {origin}"))?;
    let config = Config::parse(&text, &origin).map_err(|err| {
        anyhow::anyhow!("{err}\nhint: see the allowlist format in escape-gate's README (section \"The allowlist\")")
    })?;
    Ok(LoadedConfig { origin, config })
}

fn build_settings(config: &Config, tags: &[String]) -> BuildSettings {
    let mut settings = BuildSettings {
        packages: config.build.packages.clone(),
        exclude: config.build.exclude.clone(),
        tags: config.build.tags.clone(),
        flags: config.build.flags.clone(),
    };
    for tag in tags {
        if !settings.tags.contains(tag) {
            settings.tags.push(tag.clone());
        }
    }
    settings
}

fn analyse(
    go: &GoEnv,
    revision: Revision,
    tree: TempTree,
    settings: &BuildSettings,
    role: &str,
    progress: &Progress,
) -> Result<Side> {
    let name = format!("{role} {}", revision.label());
    progress.say(&format!("building {name} with {}", go.version));
    let output = go::build(go, tree.path(), settings, &name)?;
    let parsed = parse::parse(&output.stderr);
    let (findings, outside) = attribute(parsed.findings, &output, tree.path());
    Ok(Side {
        revision,
        tree,
        findings: matching::dedupe(findings),
        packages: output.packages,
        outside,
        unrecognised: parsed.unrecognised,
    })
}

/// Places raw findings in the tree and names their enclosing functions. Findings in
/// files that are not in the tree are only counted.
pub fn attribute(raw: Vec<RawFinding>, output: &BuildOutput, tree: &Path) -> (Vec<Finding>, usize) {
    let mut by_file: HashMap<String, Vec<RawFinding>> = HashMap::new();
    for r in raw {
        by_file.entry(r.file.clone()).or_default().push(r);
    }
    let mut findings = Vec::new();
    let mut outside = 0;
    for (file, raws) in by_file {
        let located = output.locate(&file).and_then(|(rel, package)| {
            let base_name = rel.rsplit('/').next().unwrap_or(&rel);
            if base_name.starts_with("_cgo_") || !rel.ends_with(".go") {
                return None;
            }
            let source = fs::read(tree.join(&rel)).ok()?;
            Some((rel, package, source))
        });
        let Some((rel, package, source)) = located else {
            outside += raws.len();
            continue;
        };
        let index = FunctionIndex::new(&source);
        let text = String::from_utf8_lossy(&source);
        let lines: Vec<&str> = text.lines().collect();
        for r in raws {
            let column = r.column.unwrap_or(0);
            findings.push(Finding {
                package: package.clone(),
                file: rel.clone(),
                line: r.line,
                column,
                function: index.function_at(r.line, column),
                kind: r.kind,
                message: r.message,
                expr: r.expr,
                source: lines
                    .get((r.line as usize).wrapping_sub(1))
                    .map(|l| l.trim().to_string())
                    .unwrap_or_default(),
                flow: r.flow,
            });
        }
    }
    (findings, outside)
}

/// Line maps for every base file that has findings, to its head counterpart.
fn line_map(base: &Side, head: &Side, renames: &HashMap<String, String>) -> LineMap {
    let reverse: HashMap<&str, &str> = renames
        .iter()
        .map(|(h, b)| (b.as_str(), h.as_str()))
        .collect();
    let mut files: Vec<&str> = base.findings.iter().map(|f| f.file.as_str()).collect();
    files.sort();
    files.dedup();
    let mut map = LineMap::new();
    for base_file in files {
        let head_file = reverse.get(base_file).copied().unwrap_or(base_file);
        let (Ok(base_text), Ok(head_text)) = (
            fs::read_to_string(base.tree.path().join(base_file)),
            fs::read_to_string(head.tree.path().join(head_file)),
        ) else {
            continue;
        };
        map.add_file(base_file, head_file, &base_text, &head_text);
    }
    map
}

/// The touched head lines of every head file that has a new escape.
fn changed_lines(
    base: &Side,
    head: &Side,
    renames: &HashMap<String, String>,
    new: &[Finding],
) -> ChangedLines {
    let mut files: Vec<&str> = new.iter().map(|f| f.file.as_str()).collect();
    files.sort();
    files.dedup();
    let mut changed = ChangedLines::new();
    for head_file in files {
        let Ok(head_text) = fs::read_to_string(head.tree.path().join(head_file)) else {
            continue;
        };
        let base_file = renames.get(head_file).map_or(head_file, String::as_str);
        let base_text = fs::read_to_string(base.tree.path().join(base_file)).ok();
        changed.add_file(head_file, base_text.as_deref(), &head_text);
    }
    changed
}

fn unrecognised_warning(side: &Side) -> String {
    const MAX: usize = 5;
    let mut text = format!(
        "the compiler printed {} line(s) for {} that escape-gate does not recognise (a newer Go release?):",
        side.unrecognised.len(),
        side.revision.label()
    );
    for line in side.unrecognised.iter().take(MAX) {
        text.push_str("\n    ");
        text.push_str(line);
    }
    if side.unrecognised.len() > MAX {
        text.push_str(&format!(
            "\n    … and {} more",
            side.unrecognised.len() - MAX
        ));
    }
    text
}

/// A one-line progress display on stderr, only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    pub fn say(&self, what: &str) {
        if self.enabled {
            eprint!("\r\x1b[2Kescape-gate: {what} …");
        }
    }

    pub fn clear(&self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error leaves the pipeline early; its message must start on a clean line.
        self.clear();
    }
}
