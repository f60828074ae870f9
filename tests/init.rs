//! `escape-gate init`: both files written at the repository's root, the allowlist
//! usable as it is (and by `escape-gate allow`), the workflow the example; an existing
//! file is never replaced without `--force` (it is named and left alone, the other one
//! written; exit 2 when both exist), and a link is replaced, never written through.

use std::fs;

use crate::support::{escape_gate, Run, TestRepo, GO_MOD};

const ALLOWLIST: &str = ".escape-gate.yml";
const WORKFLOW: &str = ".github/workflows/escape-gate.yml";
const EXAMPLE: &str = include_str!("../examples/escape-gate.yml");

fn init(repo: &TestRepo, args: &[&str]) -> Run {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    repo.run(&all)
}

#[test]
fn writes_a_usable_allowlist_and_the_example_workflow() {
    let repo = TestRepo::go_module(&[(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) int {\n\tx := a\n\treturn x\n}\n",
    )]);
    let run = init(&repo, &[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with(&format!("wrote {ALLOWLIST}\nwrote {WORKFLOW}\n")),
        "{}",
        run.stdout
    );
    // The workflow and the schema address name escape-gate's home, nothing to replace.
    assert!(!run.stdout.contains("OWNER"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "commit both files: `git add .escape-gate.yml .github/workflows/escape-gate.yml`"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(repo.read(WORKFLOW), EXAMPLE);
    assert!(
        EXAMPLE.contains(&format!("      - {}\n", escape_gate::home::action_uses())),
        "{EXAMPLE}"
    );
    let allowlist = repo.read(ALLOWLIST);
    assert!(
        allowlist.starts_with(&format!(
            "# yaml-language-server: $schema=https://raw.githubusercontent.com/{}/v{}/schema/allowlist.schema.json\n",
            escape_gate::home::github_repository(),
            env!("CARGO_PKG_VERSION")
        )),
        "{allowlist}"
    );
    use std::os::unix::fs::PermissionsExt;
    for file in [ALLOWLIST, WORKFLOW] {
        let mode = fs::metadata(repo.path().join(file))
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }

    // The allowlist works as written: the gate reads it, and `allow` appends to it.
    repo.commit("escape-gate init");
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) int {\n\tx := a\n\tsink = &x\n\treturn x\n}\n",
    );
    repo.run(&["diff", "HEAD"]).assert_code(1);
    repo.run(&["allow", "--reason", "measured: fine", "HEAD"])
        .assert_code(0);
    let edited = repo.read(ALLOWLIST);
    assert!(
        edited.starts_with(&allowlist),
        "allow only appends:\n{edited}"
    );
    assert!(
        edited.ends_with("allow:\n  - path: \"a.go\"\n    function: \"Keep\"\n    message: \"moved to heap: x\"\n    reason: \"measured: fine\"\n"),
        "{edited}"
    );
    repo.run(&["diff", "HEAD"]).assert_code(0);
}

#[test]
fn writes_the_missing_file_and_leaves_the_existing_one_alone() {
    let repo = TestRepo::go_module(&[]);
    repo.write(ALLOWLIST, "version: 1\n# mine\n");
    let run = init(&repo, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "left {ALLOWLIST} alone: it exists (`escape-gate init --force` replaces it)\n\
             wrote {WORKFLOW}\n"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("commit it: `git add {WORKFLOW}`")),
        "{}",
        run.stdout
    );
    assert_eq!(repo.read(ALLOWLIST), "version: 1\n# mine\n");
    assert_eq!(repo.read(WORKFLOW), EXAMPLE);

    // The workflow alone exists: the allowlist is written, the workflow kept.
    fs::remove_file(repo.path().join(ALLOWLIST)).expect("rm");
    repo.write(WORKFLOW, "name: mine\n");
    let run = init(&repo, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(&format!(
            "wrote {ALLOWLIST}\nleft {WORKFLOW} alone: it exists"
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("The workflow runs"),
        "the workflow was not written: {}",
        run.stdout
    );
    assert_eq!(repo.read(WORKFLOW), "name: mine\n");
    assert!(repo.read(ALLOWLIST).contains("\nversion: 1\n"));
}

#[test]
fn refuses_when_both_files_exist_and_names_them() {
    let repo = TestRepo::go_module(&[]);
    repo.write(ALLOWLIST, "version: 1\n");
    repo.write(WORKFLOW, "name: mine\n");
    let before = repo.snapshot();
    let run = init(&repo, &[]);
    run.assert_code(2);
    assert!(
        run.stderr.starts_with(&format!(
            "error: {ALLOWLIST} and {WORKFLOW} already exist in {}; nothing was written\n",
            repo.path().canonicalize().expect("path").display()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    before.assert_same(&repo.snapshot(), &run);
}

/// What a new user does first: `allow` an escape (which creates the allowlist), then
/// `init` for the workflow. init writes the workflow and keeps the entry.
#[test]
fn init_after_allow_writes_the_workflow() {
    let repo = TestRepo::go_module(&[(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) int {\n\tx := a\n\treturn x\n}\n",
    )]);
    repo.write(
        "a.go",
        "package m\n\nvar sink *int\n\nfunc Keep(a int) int {\n\tx := a\n\tsink = &x\n\treturn x\n}\n",
    );
    repo.run(&["allow", "--reason", "measured: fine", "HEAD"])
        .assert_code(0);
    let allowed = repo.read(ALLOWLIST);
    let run = init(&repo, &[]);
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!("left {ALLOWLIST} alone")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("wrote {WORKFLOW}\n")),
        "{}",
        run.stdout
    );
    assert_eq!(repo.read(ALLOWLIST), allowed);
    assert_eq!(repo.read(WORKFLOW), EXAMPLE);
    repo.run(&["diff", "HEAD"]).assert_code(0);
}

#[test]
fn force_replaces_files_and_links_but_never_writes_through_a_link() {
    let repo = TestRepo::go_module(&[]);
    let outside = tempfile::tempdir().expect("tmp");
    let target = outside.path().join("theirs.yml");
    fs::write(&target, "not yours\n").expect("write");
    std::os::unix::fs::symlink(&target, repo.path().join(ALLOWLIST)).expect("link");
    repo.write(WORKFLOW, "name: old\n");

    let run = init(&repo, &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{ALLOWLIST} and {WORKFLOW}")),
        "a link counts as a file: {}",
        run.stderr
    );

    let run = init(&repo, &["--force"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with(&format!("replaced {ALLOWLIST}\nreplaced {WORKFLOW}\n")),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(&target).expect("read"),
        "not yours\n",
        "written through the link"
    );
    let meta = fs::symlink_metadata(repo.path().join(ALLOWLIST)).expect("meta");
    assert!(meta.is_file(), "the link was replaced by a file");
    assert_eq!(repo.read(WORKFLOW), EXAMPLE);
}

#[test]
fn writes_at_the_root_and_follows_the_repository() {
    // A workspace root (go.work, no go.mod) on `master`, init run from a subdirectory.
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "-b", "master"]);
    repo.write("go.work", "go 1.22\n\nuse ./svc\n");
    repo.write("svc/go.mod", GO_MOD);
    repo.write("svc/a.go", "package m\n");
    repo.commit("workspace");
    let run = escape_gate()
        .args(["init"])
        .current_dir(repo.path().join("svc"))
        .output()
        .expect("run");
    let run = Run::from_output(run);
    run.assert_code(0);
    assert!(!repo.path().join("svc").join(ALLOWLIST).exists());
    let workflow = repo.read(WORKFLOW);
    assert!(
        workflow.contains("go-version-file: go.work\n"),
        "{workflow}"
    );
    assert!(workflow.contains("branches: [master]\n"), "{workflow}");
    assert!(repo.path().join(ALLOWLIST).is_file());

    // Without go.mod or go.work at the root, the user is told where to point setup-go.
    let bare = TestRepo::new();
    let run = init(&bare, &[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("no go.mod or go.work at the repository's root"),
        "{}",
        run.stdout
    );
}

#[test]
fn outside_a_repository_is_exit_2_with_a_hint() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = Run::from_output(
        escape_gate()
            .args(["init"])
            .current_dir(dir.path())
            .env(
                "GIT_CEILING_DIRECTORIES",
                dir.path().parent().expect("parent"),
            )
            .output()
            .expect("run"),
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("is not inside a git repository"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
    assert_eq!(
        fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "nothing written"
    );
}
