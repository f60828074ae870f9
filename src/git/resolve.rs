//! Resolving rev-specs to revisions, and the default base.

use anyhow::{anyhow, bail, Context, Result};
use git2::Oid;

use super::*;

impl Repo {
    /// Resolves a rev-spec to a commit, with a hint when the commit is simply not in
    /// this clone (a shallow checkout in CI is the usual cause).
    pub fn resolve(&self, spec: &str) -> Result<Revision> {
        match self
            .repo
            .revparse_single(spec)
            .and_then(|obj| obj.peel_to_commit())
        {
            Ok(commit) => Ok(Revision {
                spec: spec.to_string(),
                commit: Some(commit.id()),
            }),
            Err(err) => {
                let mut msg = format!("unknown revision `{spec}`: {}", err.message());
                if self.repo.is_shallow() {
                    msg.push_str(
                        "\nhint: this is a shallow clone, so the commit may exist but not be here; \
                         fetch the history with `git fetch --unshallow` \
                         (GitHub Actions: `fetch-depth: 0` on actions/checkout)",
                    );
                } else if is_hex(spec) {
                    msg.push_str(&format!(
                        "\nhint: the commit is not in this clone; fetch it with `git fetch origin {spec}`"
                    ));
                } else {
                    msg.push_str(
                        "\nhint: name a branch, tag or commit that exists here (see `git log --oneline`)",
                    );
                }
                Err(anyhow!(msg))
            }
        }
    }

    /// The commit `HEAD` points at.
    pub fn head_commit(&self) -> Result<Oid> {
        let head = self.repo.head().map_err(|err| {
            anyhow!(
                "the repository has no commit at HEAD yet ({})\nhint: commit once, or name the revisions to compare",
                err.message()
            )
        })?;
        Ok(head
            .peel_to_commit()
            .context("resolving HEAD to a commit")?
            .id())
    }

    /// The default base: the merge-base of `head` with the upstream of the current
    /// branch, else with `origin/HEAD`, `main` or `master`, in that order.
    pub fn default_base(&self, head: &Revision) -> Result<Revision> {
        let head_oid = match head.commit {
            Some(oid) => oid,
            None => self.head_commit()?,
        };
        let mut candidates: Vec<(String, Oid)> = Vec::new();
        if let Ok(head_ref) = self.repo.head() {
            if head_ref.is_branch() {
                if let Ok(name) = head_ref.shorthand() {
                    if let Ok(branch) = self.repo.find_branch(name, git2::BranchType::Local) {
                        if let Ok(upstream) = branch.upstream() {
                            if let (Some(up_name), Some(oid)) =
                                (upstream.name().ok().flatten(), upstream.get().target())
                            {
                                candidates.push((up_name.to_string(), oid));
                            }
                        }
                    }
                }
            }
        }
        for name in [
            "refs/remotes/origin/HEAD",
            "refs/heads/main",
            "refs/heads/master",
        ] {
            if let Ok(reference) = self.repo.find_reference(name) {
                if let Ok(commit) = reference.peel_to_commit() {
                    let short = name
                        .trim_start_matches("refs/remotes/")
                        .trim_start_matches("refs/heads/");
                    candidates.push((short.to_string(), commit.id()));
                }
            }
        }
        for (name, oid) in &candidates {
            if let Ok(base) = self.repo.merge_base(head_oid, *oid) {
                return Ok(Revision {
                    spec: format!("merge-base with {name}"),
                    commit: Some(base),
                });
            }
        }
        bail!(
            "could not choose a base revision: the current branch has no upstream and there is no \
             origin/HEAD, main or master sharing history with {}\n\
             hint: name the base explicitly: `escape-gate diff BASE`",
            head.label()
        )
    }

    /// Whether `spec` names a commit present in this repository.
    pub fn has_commit(&self, spec: &str) -> bool {
        self.repo
            .revparse_single(spec)
            .and_then(|obj| obj.peel_to_commit())
            .is_ok()
    }

    /// The merge-base of `head` with the first of `candidates` (full ref names) that
    /// exists and shares history with it, with the ref's name.
    pub fn merge_base_with_any(&self, head: &str, candidates: &[String]) -> Option<(String, Oid)> {
        let head = self
            .repo
            .revparse_single(head)
            .ok()?
            .peel_to_commit()
            .ok()?
            .id();
        candidates.iter().find_map(|name| {
            let target = self
                .repo
                .find_reference(name)
                .ok()?
                .peel_to_commit()
                .ok()?
                .id();
            let base = self.repo.merge_base(head, target).ok()?;
            Some((name.clone(), base))
        })
    }

    /// The default branch (`origin/HEAD`, `origin/main`, `origin/master`, `main`,
    /// `master`, the first that exists) when `commit` is in its history: what has
    /// merged. `ESCAPE_GATE_DEFAULT_BRANCH`, when set, names it first (the Action sets
    /// the repository's), as `origin/NAME` or `NAME`.
    pub fn default_branch_containing(&self, commit: Oid) -> Option<String> {
        let mut names: Vec<String> = Vec::new();
        if let Some(name) = std::env::var("ESCAPE_GATE_DEFAULT_BRANCH")
            .ok()
            .filter(|n| !n.trim().is_empty())
        {
            names.push(format!("refs/remotes/origin/{name}"));
            names.push(format!("refs/heads/{name}"));
        }
        names.extend(
            [
                "refs/remotes/origin/HEAD",
                "refs/remotes/origin/main",
                "refs/remotes/origin/master",
                "refs/heads/main",
                "refs/heads/master",
            ]
            .map(String::from),
        );
        let (name, tip) = names.iter().find_map(|name| {
            // `origin/HEAD` is named by the branch it points at.
            let reference = self.repo.find_reference(name).ok()?.resolve().ok()?;
            let tip = reference.peel_to_commit().ok()?.id();
            Some((reference.name().ok()?.to_string(), tip))
        })?;
        let contains = tip == commit || self.repo.graph_descendant_of(tip, commit).unwrap_or(false);
        let short = name
            .trim_start_matches("refs/remotes/")
            .trim_start_matches("refs/heads/");
        contains.then(|| short.to_string())
    }
}

fn is_hex(spec: &str) -> bool {
    spec.len() >= 7 && spec.chars().all(|c| c.is_ascii_hexdigit())
}
