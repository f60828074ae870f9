//! Which allowlist rules a comparison, read from where: the head's or the base's
//! `.escape-gate.yml`, or a `--config` file, never through a link and never unbounded;
//! and what the head changes in it ([`crate::config_change`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::allowlist::Config;
use crate::config_change::{ConfigChange, ConfigFrom};
use crate::git::{Repo, Revision};
use crate::go::{self, lexical, BuildSettings};
use crate::tree::{self, ReadError};

use crate::home::CONFIG_FILE;

/// How an allowlist file is named in messages: its name, and the revision it was read
/// from when it is a revision's blob (`.escape-gate.yml (in head 1a2b3c4)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The repository-relative path, or the path given on the command line; empty
    /// when there is no file.
    pub file: String,
    /// `head 1a2b3c4`, when the text came from a commit rather than from disk.
    pub revision: Option<String>,
}

impl Origin {
    /// A file on disk.
    pub fn file(file: impl Into<String>) -> Origin {
        Origin {
            file: file.into(),
            revision: None,
        }
    }

    /// `.escape-gate.yml:12 (in head 1a2b3c4)`: a line of the file.
    pub fn at(&self, line: Option<usize>) -> String {
        let file = match line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        };
        match &self.revision {
            Some(rev) => format!("{file} (in {rev})"),
            None => file,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.at(None))
    }
}

/// Where the allowlist came from and what it says.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub origin: Origin,
    /// The file's repository-relative path, when it is a file of the head that an
    /// annotation can point at (`None` for a file outside the repository, or the
    /// base's file, whose lines are not the head's).
    pub path: Option<String>,
    pub config: Config,
}

/// Which allowlist a comparison uses.
#[derive(Debug, Clone, Default)]
pub enum ConfigChoice {
    /// `.escape-gate.yml` of the revision whose allowlist rules (`--config-from`).
    #[default]
    Revision,
    /// A file on disk (`--config FILE`).
    File(PathBuf),
    /// An allowlist already read (by `allow`, which edits exactly that text): used as
    /// it is, and compared with nothing.
    Given(Box<LoadedConfig>),
}

impl ConfigChoice {
    /// `--config FILE` when given, else the revision's file.
    pub fn from_arg(file: Option<PathBuf>) -> ConfigChoice {
        file.map_or(ConfigChoice::Revision, ConfigChoice::File)
    }
}

/// The most of a working-tree allowlist read; the allowlist's own, smaller limit then
/// names itself (see [`crate::allowlist`]).
pub(crate) const MAX_CONFIG_READ: u64 = 16 * 1024 * 1024;

/// Where the allowlist is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigPlace {
    /// A file of the repository, by its repository-relative path: `.escape-gate.yml`
    /// at the root, or a `--config` file inside the working tree (`explicit`, read
    /// from disk for the head). Each revision has its own version of it.
    Repo {
        rel: String,
        explicit: Option<PathBuf>,
    },
    /// A `--config` file outside the repository: the user's own, no revision's.
    Outside(PathBuf),
}

impl ConfigPlace {
    pub(crate) fn of(repo: &Repo, explicit: Option<&Path>) -> ConfigPlace {
        let Some(path) = explicit else {
            return ConfigPlace::Repo {
                rel: CONFIG_FILE.to_string(),
                explicit: None,
            };
        };
        // Lexically, not through `canonicalize`: a link inside the repository must
        // not carry the file outside it (it is refused when read, instead).
        let absolute = std::env::current_dir()
            .map(|cwd| lexical(&cwd.join(path)))
            .ok();
        let roots = [Some(lexical(repo.root())), repo.root().canonicalize().ok()];
        let rel = absolute.as_ref().and_then(|file| {
            roots.iter().flatten().find_map(|root| {
                file.strip_prefix(root).ok().map(|rel| {
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
            })
        });
        match rel {
            // Not the repository's own `.git` directory: no revision has that.
            Some(rel) if !rel.is_empty() && !rel.starts_with(".git/") => ConfigPlace::Repo {
                rel,
                explicit: Some(path.to_path_buf()),
            },
            _ => ConfigPlace::Outside(path.to_path_buf()),
        }
    }
}

/// The text of an allowlist file and how to name it, `None` when there is no file.
pub(super) fn read_config(
    repo: &Repo,
    disk: Option<&Path>,
    rel: &str,
    rev: &Revision,
    side: &str,
) -> Result<Option<(String, Origin)>> {
    let (bytes, origin) = match (disk, rev.commit) {
        // A `--config` file inside the working tree is read like the tree's own files
        // (no link followed: in CI the checkout is the pull request's); one outside is
        // the user's own. Both are read with a bound.
        (Some(path), _) if !rel.is_empty() => {
            let origin = Origin::file(path.display().to_string());
            let bytes = tree::read_bytes_in_tree(repo.root(), rel, MAX_CONFIG_READ)
                .map_err(|err| {
                    anyhow::anyhow!(
                        "cannot read the allowlist {origin}: {err}\n\
                         hint: escape-gate reads the repository's files without following links"
                    )
                })?;
            (bytes, origin)
        }
        (Some(path), _) => {
            use std::io::Read;
            let origin = Origin::file(path.display().to_string());
            let mut bytes = Vec::new();
            fs::File::open(path)
                .and_then(|f| f.take(MAX_CONFIG_READ + 1).read_to_end(&mut bytes))
                .with_context(|| format!("reading the allowlist {origin}"))?;
            if bytes.len() as u64 > MAX_CONFIG_READ {
                anyhow::bail!("the allowlist {origin} is larger than {MAX_CONFIG_READ} bytes\nhint: an allowlist may be at most 1 MiB");
            }
            (bytes, origin)
        }
        (None, Some(commit)) => match repo.file_size(commit, rel) {
            Some(size) if size > MAX_CONFIG_READ => anyhow::bail!(
                "the allowlist {rel} in {side} {} is {size} bytes, too large to be an allowlist\n\
                 hint: an allowlist may be at most 1 MiB",
                rev.label()
            ),
            _ => match repo.read_file(commit, rel) {
            None if repo.has_path(commit, rel) => anyhow::bail!(
                "the allowlist {rel} in {side} {} is not a regular file (a symbolic link, a \
                 directory or a submodule)\n\
                 hint: the allowlist must be a plain file; escape-gate never follows a link to find it",
                rev.label()
            ),
            Some(bytes) => (
                bytes,
                Origin {
                    file: rel.to_string(),
                    revision: Some(format!("{side} {}", rev.label())),
                },
            ),
            None => return Ok(None),
            },
        },
        (None, None) => {
            match tree::read_bytes_in_tree(repo.root(), rel, MAX_CONFIG_READ) {
                Ok(bytes) => (bytes, Origin::file(rel)),
                Err(ReadError::Missing) => return Ok(None),
                Err(err) => anyhow::bail!(
                    "cannot read the allowlist {rel} of the working tree: {err}\n\
                     hint: escape-gate reads the working tree's files without following links; \
                     make {rel} a regular file, or pass --config FILE"
                ),
            }
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the allowlist {origin} is not UTF-8 text\nhint: save it as UTF-8 (YAML files are)"
        )
    })?;
    Ok(Some((text, origin)))
}

pub(super) fn parse_config(text: &str, origin: &Origin) -> Result<Config> {
    Config::parse(text, &origin.to_string()).map_err(|err| {
        anyhow::anyhow!(
            "{err}\nhint: see the allowlist format in escape-gate's docs/reference.md (section \"The allowlist file\")"
        )
    })
}

/// Reads the allowlist of one revision: `explicit` from disk, else `.escape-gate.yml`
/// of `rev` (the file in the working tree, or the blob in the commit).
pub(super) fn load_config(
    repo: &Repo,
    explicit: Option<&Path>,
    rev: &Revision,
) -> Result<LoadedConfig> {
    let place = ConfigPlace::of(repo, explicit);
    let (disk, rel) = match &place {
        ConfigPlace::Repo { rel, explicit } => (explicit.as_deref(), rel.as_str()),
        ConfigPlace::Outside(path) => (Some(path.as_path()), ""),
    };
    let Some((text, origin)) = read_config(repo, disk, rel, rev, "revision")? else {
        return Ok(LoadedConfig::default());
    };
    let config = parse_config(&text, &origin)?;
    let path = match place {
        ConfigPlace::Repo { rel, .. } => Some(rel),
        ConfigPlace::Outside(_) => None,
    };
    Ok(LoadedConfig {
        origin,
        path,
        config,
    })
}

/// Both sides' allowlists, when the file is one of the repository's, and what the head
/// changes in its text ([`ConfigChange::unchanged`] when nothing): the effect of the
/// change on the comparison's new escapes is added once they are known
/// ([`ConfigChange::effect`]).
#[derive(Debug)]
pub(crate) struct ComparedConfigs {
    pub change: ConfigChange,
    /// The base's allowlist; empty when it has none (or an unreadable one that does
    /// not rule).
    pub base: Config,
    /// The head's, likewise.
    pub head: Config,
}

/// The allowlists of a comparison: the one that rules it (the head's, or the base's
/// with [`ConfigFrom::Base`]), and, when the file is one of the repository's, both
/// sides' (see [`ComparedConfigs`]). A file outside the repository is the user's own:
/// it rules and nothing is compared.
pub(super) fn load_configs(
    repo: &Repo,
    choice: &ConfigChoice,
    from: ConfigFrom,
    base: &Revision,
    head: &Revision,
    warnings: &mut Vec<String>,
) -> Result<(LoadedConfig, Option<ComparedConfigs>)> {
    let explicit = match choice {
        ConfigChoice::Revision => None,
        ConfigChoice::File(path) => Some(path.as_path()),
        ConfigChoice::Given(loaded) => return Ok(((**loaded).clone(), None)),
    };
    let (rel, disk) = match ConfigPlace::of(repo, explicit) {
        ConfigPlace::Outside(path) => {
            let Some((text, origin)) = read_config(repo, Some(&path), "", head, "head")? else {
                return Ok((LoadedConfig::default(), None));
            };
            let config = parse_config(&text, &origin)?;
            let loaded = LoadedConfig {
                origin,
                path: None,
                config,
            };
            return Ok((loaded, None));
        }
        ConfigPlace::Repo { rel, explicit } => (rel, explicit),
    };
    // The side that does not rule may hold anything: a base from before a format
    // change, a head with a typo or a link. Neither stops the comparison; both are said.
    let mut read = |disk: Option<&Path>, rev: &Revision, side: &str, rules: bool| match read_config(
        repo, disk, &rel, rev, side,
    ) {
        Err(err) if !rules => {
            warnings.push(format!("{err:#} (it does not rule this comparison)"));
            Ok(None)
        }
        other => other,
    };
    let head_file = read(disk.as_deref(), head, "head", from == ConfigFrom::Head)?;
    let base_file = read(None, base, "base", from == ConfigFrom::Base)?;
    let ruling = match from {
        ConfigFrom::Head => &head_file,
        ConfigFrom::Base => &base_file,
    };
    let loaded = match ruling {
        Some((text, origin)) => LoadedConfig {
            origin: origin.clone(),
            path: (from == ConfigFrom::Head).then(|| rel.clone()),
            config: parse_config(text, origin)?,
        },
        None => LoadedConfig::default(),
    };
    let lenient = |file: &Option<(String, Origin)>, rules: bool, warnings: &mut Vec<String>| {
        let (text, origin) = file.as_ref()?;
        if rules {
            return Some(loaded.config.clone());
        }
        match Config::parse(text, &origin.to_string()) {
            Ok(config) => Some(config),
            Err(err) => {
                warnings.push(format!("{err} (it does not rule this comparison)"));
                None
            }
        }
    };
    let head_config = lenient(&head_file, from == ConfigFrom::Head, warnings);
    let base_config = lenient(&base_file, from == ConfigFrom::Base, warnings);
    let base_missing = base_config.is_none();
    let change = match (&head_file, head_config) {
        (Some((text, _)), Some(head_config)) => Some(ComparedConfigs {
            change: ConfigChange::between(&rel, base_config.as_ref(), &head_config, text)
                .unwrap_or_else(|| ConfigChange::unchanged(&rel, base_missing)),
            base: base_config.unwrap_or_default(),
            head: head_config,
        }),
        // The head has no file (or an invalid one): every base entry is gone.
        _ => {
            let empty = Config::default();
            ConfigChange::between(&rel, base_config.as_ref(), &empty, "")
                .filter(|_| base_file.is_some())
                .map(|change| ComparedConfigs {
                    change,
                    base: base_config.unwrap_or_default(),
                    head: empty,
                })
        }
    };
    Ok((loaded, change))
}

pub(super) fn build_settings(config: &LoadedConfig, tags: &[String]) -> Result<BuildSettings> {
    let origin = if config.origin.file.is_empty() {
        CONFIG_FILE.to_string()
    } else {
        config.origin.to_string()
    };
    go::check_flags(&config.config.build.flags).map_err(|why| {
        anyhow::anyhow!("{origin}: {why}\nhint: remove it from the build section")
    })?;
    let config = &config.config;
    let mut settings = BuildSettings {
        packages: config.build.packages.clone(),
        exclude: config.build.exclude.clone(),
        tags: config.build.tags.clone(),
        flags: config.build.flags.clone(),
        compiler: crate::checks::Needs::default(),
    };
    for tag in tags {
        if !settings.tags.contains(tag) {
            settings.tags.push(tag.clone());
        }
    }
    Ok(settings)
}
