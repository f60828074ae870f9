//! The change set between two revisions.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};

use super::*;

impl Repo {
    /// What changed between the two revisions: every path added, removed, modified or
    /// renamed (both names of a rename), and the renames as head path → base path, by
    /// git's rename detection.
    pub fn changes(&self, base: &Revision, head: &Revision) -> Result<Changes> {
        let diff = self.diff(base, head).map_err(|err| {
            // libgit2 reads subtrees as the diff needs them: a tree it cannot parse
            // (an empty name, a bad mode) shows up here first.
            let hint = if err.class() == git2::ErrorClass::Tree {
                "\nhint: one of them holds a tree git would not accept, made by hand \
                 (`git hash-object --literally`) or damaged; `git fsck` names it. Compare \
                 other revisions"
            } else {
                ""
            };
            anyhow!(
                "comparing {} with {}: {}{hint}",
                base.label(),
                head.label(),
                err.message()
            )
        })?;
        let Some(mut diff) = diff else {
            return Ok(Changes::default());
        };
        let mut find = git2::DiffFindOptions::new();
        find.renames(true).for_untracked(true);
        diff.find_similar(Some(&mut find))
            .context("detecting renamed files")?;
        let mut changes = Changes::default();
        for delta in diff.deltas() {
            let old = delta.old_file().path().map(slash_path);
            let new = delta.new_file().path().map(slash_path);
            if delta.status() == git2::Delta::Renamed {
                if let (Some(old), Some(new)) = (&old, &new) {
                    changes.renames.insert(new.clone(), old.clone());
                }
            }
            let gitlink = |f: git2::DiffFile<'_>| f.mode() == git2::FileMode::Commit;
            if gitlink(delta.old_file()) || gitlink(delta.new_file()) {
                changes
                    .submodules
                    .extend(new.clone().or_else(|| old.clone()));
            }
            changes.paths.extend(old);
            changes.paths.extend(new);
        }
        changes.submodules.sort();
        changes.submodules.dedup();
        changes.paths.sort();
        changes.paths.dedup();
        Ok(changes)
    }

    /// git's diff of the two revisions, `None` when neither is a commit.
    fn diff(
        &self,
        base: &Revision,
        head: &Revision,
    ) -> Result<Option<git2::Diff<'_>>, git2::Error> {
        let base_tree = match base.commit {
            Some(oid) => Some(self.repo.find_commit(oid)?.tree()?),
            None => None,
        };
        let mut opts = git2::DiffOptions::new();
        let diff = match (&base_tree, head.commit) {
            (_, Some(oid)) => {
                let head_tree = self.repo.find_commit(oid)?.tree()?;
                self.repo.diff_tree_to_tree(
                    base_tree.as_ref(),
                    Some(&head_tree),
                    Some(&mut opts),
                )?
            }
            (Some(tree), None) => {
                opts.include_untracked(true)
                    .recurse_untracked_dirs(true)
                    .show_untracked_content(true);
                self.repo
                    .diff_tree_to_workdir_with_index(Some(tree), Some(&mut opts))?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(diff))
    }
}

/// See [`Repo::changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Repository-relative, `/`-separated, sorted.
    pub paths: Vec<String>,
    /// Head path → base path.
    pub renames: HashMap<String, String>,
    /// Submodules (gitlinks) added, removed or moved to another commit.
    pub submodules: Vec<String>,
}

fn slash_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
