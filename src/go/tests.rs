//! The build stage's unit tests.

use std::ffi::OsString;

use super::build::withhold_outside;
use super::flags::resolve_flags;
use super::list::dir_matches;
use super::paths::relocate;
use super::*;
use crate::modules::Module;

#[test]
fn only_flags_known_to_be_safe_are_accepted() {
    let accepted = [
        "-tags=integration,foo",
        "--tags=x",
        "-tags=",
        "-mod=readonly",
        "-mod=vendor",
        "--mod=mod",
        "-race",
        "-race=true",
        "-msan=false",
        "-asan",
        "-pgo=off",
        "-pgo=auto",
        "-pgo=profiles/cpu.pgo",
        "-pgo=./default.pgo",
        "-p=1",
        "-p=1024",
    ];
    for flag in accepted {
        assert_eq!(check_flags(&[flag.to_string()]), Ok(()), "{flag}");
    }
    let refused = [
        (
            "-ldflags=-linkmode=external \"-extld=sh -c 'touch x' x\"",
            "linker",
        ),
        ("-ldflags=-o=/tmp/x", "linker"),
        ("-gcflags=all=-l", "passes -gcflags=-m itself"),
        ("-trimpath", "decides -trimpath itself"),
        ("-o=/tmp/x", "writes the build's output"),
        ("-toolexec=/bin/true", "runs a program"),
        ("--toolexec=/bin/true", "runs a program"),
        ("-n", "without running them"),
        ("-x", "changes what go prints"),
        ("-v", "changes what go prints"),
        ("-json", "changes what go prints"),
        ("-work", "work directory"),
        ("-C=/", "directory of the file's choosing"),
        ("-overlay=o.json", "files anywhere on disk"),
        ("-modfile=/tmp/go.mod", "go.mod anywhere"),
        ("-pkgdir=/tmp/p", "another directory"),
        ("-installsuffix=x", "another directory"),
        ("-a", "recompiles every package"),
        ("-asmflags=-I/", "arbitrary flags"),
        ("-gccgoflags=x", "arbitrary flags"),
        ("-compiler=gccgo", "another compiler"),
        ("-buildvcs=true", "version-control"),
        ("-buildmode=plugin", "does not link"),
        ("-linkshared", "does not link"),
        ("-cover", "coverage"),
        ("-coverpkg=./...", "coverage"),
        ("-modcacherw", "module cache"),
        ("-exec=x", "not on escape-gate's list"),
        ("-Race", "not on escape-gate's list"),
        ("---race", "not a flag"),
        ("-", "not a flag"),
        ("./...", "not a flag"),
        ("-tags", "in the same item"),
        ("-mod", "in the same item"),
        ("-pgo", "in the same item"),
        ("-p", "in the same item"),
        ("-mod=other", "readonly, vendor or mod"),
        ("-race=yes", "true or false"),
        ("-p=0", "1 to 1024"),
        ("-p=99999", "1 to 1024"),
        ("-pgo=/etc/passwd", "absolute"),
        ("-pgo=C:/x.pgo", "absolute"),
        ("-pgo=../outside.pgo", "leaves the repository"),
        ("-pgo=a/../../b.pgo", "leaves the repository"),
        ("-pgo=a\\b.pgo", "backslash"),
        ("-pgo=", "empty"),
    ];
    for (flag, why) in refused {
        let err = check_flags(&["-tags=ok".to_string(), flag.to_string()]).expect_err(flag);
        assert!(
            err.starts_with(&format!("build.flags: {flag:?} is not allowed: "))
                && err.contains(why)
                && err.contains("(allowed: -tags=LIST"),
            "{flag}: {err}"
        );
    }
}

#[test]
fn a_pgo_profile_must_be_a_regular_file_of_the_tree() {
    let tree = tempfile::tempdir().expect("temp");
    let root = tree.path();
    fs::create_dir_all(root.join("prof")).expect("mkdir");
    fs::write(root.join("prof/cpu.pgo"), "x").expect("write");
    let flags = |f: &str| BuildSettings {
        flags: vec!["-tags=t".to_string(), f.to_string()],
        ..BuildSettings::default()
    };
    let got = resolve_flags(root, &flags("-pgo=prof/cpu.pgo"), "head").expect("resolves");
    let mut want = OsString::from("-pgo=");
    want.push(root.join("prof/cpu.pgo").as_os_str());
    assert_eq!(got, vec![OsString::from("-tags=t"), want]);
    let err = |f: &str| format!("{:#}", resolve_flags(root, &flags(f), "head").expect_err(f));
    assert!(err("-pgo=prof/none.pgo").contains("no such file in head"));
    assert!(err("-pgo=prof").contains("is not a file in head"));
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().expect("temp");
        fs::write(outside.path().join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("link.pgo"))
            .expect("symlink");
        std::os::unix::fs::symlink(outside.path(), root.join("dir")).expect("symlink");
        assert!(err("-pgo=link.pgo").contains("link.pgo is a link in head"));
        assert!(err("-pgo=dir/secret").contains("dir is a link in head"));
    }
    for keep in ["-pgo=off", "-pgo=auto", "-race"] {
        let settings = BuildSettings {
            flags: vec![keep.to_string()],
            ..BuildSettings::default()
        };
        assert_eq!(
            resolve_flags(root, &settings, "head").expect("kept"),
            vec![OsString::from(keep)]
        );
    }
}

#[test]
fn tags_from_every_source_become_one_flag() {
    let settings = BuildSettings {
        tags: vec!["integration".to_string(), "a".to_string()],
        flags: vec![
            "-race".to_string(),
            "-tags=a,b".to_string(),
            "--tags=c d".to_string(),
            "-tags=".to_string(),
        ],
        ..BuildSettings::default()
    };
    assert_eq!(
        resolve_flags(Path::new("/nonexistent"), &settings, "head").expect("resolves"),
        vec![
            OsString::from("-tags=integration,a,b,c,d"),
            OsString::from("-race")
        ]
    );
    assert_eq!(
        resolve_flags(Path::new("/nonexistent"), &BuildSettings::default(), "head")
            .expect("resolves"),
        Vec::<OsString>::new()
    );
}

#[test]
fn dir_patterns() {
    let cases = [
        ("internal/gen/...", "internal/gen", true),
        ("internal/gen/...", "internal/gen/x/y", true),
        ("internal/gen/...", "internal/generic", false),
        ("./cmd/tool", "cmd/tool", true),
        ("cmd/tool", "cmd/tools", false),
        (".../mocks", "a/b/mocks", true),
    ];
    for (pattern, dir, want) in cases {
        assert_eq!(dir_matches(pattern, dir), want, "{pattern} vs {dir}");
    }
}

#[test]
fn locate_places_tree_relative_go_files() {
    let out = BuildOutput {
        modules: vec![
            Module {
                path: "example.com/m".into(),
                dir: String::new(),
            },
            Module {
                path: "example.com/tools".into(),
                dir: "tools".into(),
            },
        ],
        ..BuildOutput::default()
    };
    let cases = [
        ("a.go", Some(("a.go", "example.com/m"))),
        ("sub/s.go", Some(("sub/s.go", "example.com/m/sub"))),
        (
            "tools/x/t.go",
            Some(("tools/x/t.go", "example.com/tools/x")),
        ),
        ("tools/t.go", Some(("tools/t.go", "example.com/tools"))),
        ("gen.y", None),
        ("/usr/local/go/src/fmt/print.go", None),
        ("/root/go/pkg/mod/golang.org/x/text@v0.3.0/a.go", None),
        ("../other/a.go", None),
        ("<autogenerated>", None),
    ];
    for (file, want) in cases {
        let got = out.locate(file);
        let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn locate_reads_trimpath_names_by_import_path() {
    let out = BuildOutput {
        modules: vec![
            Module {
                path: "example.com/m".into(),
                dir: String::new(),
            },
            Module {
                path: "example.com/m/tools".into(),
                dir: "tools".into(),
            },
            Module {
                path: "example.com/lib/v2".into(),
                dir: "lib".into(),
            },
        ],
        trimmed: true,
        ..BuildOutput::default()
    };
    let cases = [
        ("example.com/m/a.go", Some(("a.go", "example.com/m"))),
        (
            "example.com/m/sub/s.go",
            Some(("sub/s.go", "example.com/m/sub")),
        ),
        // The nested module wins over the root one: the longest module path.
        (
            "example.com/m/tools/x/t.go",
            Some(("tools/x/t.go", "example.com/m/tools/x")),
        ),
        (
            "example.com/m/tools/t.go",
            Some(("tools/t.go", "example.com/m/tools")),
        ),
        (
            "example.com/lib/v2/l.go",
            Some(("lib/l.go", "example.com/lib/v2")),
        ),
        (
            "example.com/lib/v2/in/l.go",
            Some(("lib/in/l.go", "example.com/lib/v2/in")),
        ),
        // A path that merely starts like a module's is another module's.
        ("example.com/mm/a.go", None),
        // The standard library, the module cache (and modules replaced by a
        // directory): never the tree's.
        ("slices/sort.go", None),
        ("example.com/m@v1.2.3/a.go", None),
        ("golang.org/x/text@v0.3.0/a.go", None),
        // Names a trimmed build does not print for the tree.
        ("a.go", None),
        ("sub/s.go", None),
        ("./a.go", None),
        ("/usr/local/go/src/fmt/print.go", None),
        ("example.com/m/../../etc/x.go", None),
        ("example.com/m//a.go", None),
        ("example.com/m/gen.y", None),
        ("<autogenerated>", None),
    ];
    for (file, want) in cases {
        let got = out.locate(file);
        let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn trimpath_follows_the_users_cache_and_flags() {
    let cases = [
        ("", "", false),
        ("", "-mod=mod", false),
        ("go-cacher --cache-server=http://127.0.0.1:1", "", true),
        ("  ", "", false),
        ("", "-trimpath", true),
        ("", "--trimpath=true", true),
        ("", "-trimpath -trimpath=false", false),
        ("", "-trimpath=false -trimpath", true),
        ("gocacheprog", "-trimpath=false", true),
    ];
    for (cacheprog, goflags, want) in cases {
        assert_eq!(
            trimpath_wanted(cacheprog, goflags),
            want,
            "{cacheprog:?} {goflags:?}"
        );
    }
}

#[test]
fn relocate_makes_compiler_names_tree_relative() {
    let tree = Path::new("/tmp/w/tree");
    let cases = [
        ("", "./a.go", "a.go"),
        ("", "sub/b.go", "sub/b.go"),
        ("svc", "./svc.go", "svc/svc.go"),
        ("svc", "../lib/lib.go", "lib/lib.go"),
        ("", "../outside/x.go", "../../outside/x.go"),
        ("", "/tmp/w/tree/lib/c.go", "lib/c.go"),
        (
            "",
            "/usr/local/go/src/fmt/print.go",
            "/usr/local/go/src/fmt/print.go",
        ),
        ("svc", "<autogenerated>", "<autogenerated>"),
    ];
    for (unit, file, want) in cases {
        assert_eq!(relocate(tree, unit, file), want, "{unit} {file}");
    }
    assert_eq!(
        relocate_flow(tree, "svc", "  from &t (address-of) at ./svc.go:10:9"),
        "  from &t (address-of) at svc/svc.go:10:9"
    );
    assert_eq!(
        relocate_flow(tree, "", "  from x (assign) at gen.y:101"),
        "  from x (assign) at gen.y:101"
    );
    assert_eq!(
        relocate_flow(tree, "", "flow: {heap} ← x:"),
        "flow: {heap} ← x:"
    );
}

#[test]
fn cache_keys_tell_settings_apart() {
    let settings = |packages: &[&str], tags: &[&str]| BuildSettings {
        packages: packages.iter().map(|s| s.to_string()).collect(),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        ..BuildSettings::default()
    };
    let a = settings(&["a,b"], &[]);
    let b = settings(&["a", "b"], &[]);
    let c = settings(&[], &["a,b"]);
    assert_ne!(a.cache_key(), b.cache_key());
    assert_ne!(a.cache_key(), c.cache_key());
    assert_eq!(
        a.cache_key(),
        "packages=[3:a,b] exclude=[] tags=[] flags=[] compiler=[inlining=false bounds=false]"
    );
}

#[test]
fn diagnostics_about_files_outside_the_checkout_are_withheld() {
    let tree = Path::new("/tmp/eg-tree");
    let lines: Vec<String> = [
        "# example.com/m/p",
        "In file included from p/p.go:3:",
        "../h18secret:1:1: warning: data definition has no type or storage class",
        "    1 | RUNNER_SECRET=abc123",
        "      | ^~~~~~~~~~~~~",
        "/etc/secret.h:1:15: error: 'abc123' undeclared here (not in a function)",
        "    1 | RUNNER_SECRET=abc123",
        "/etc/secret.h: In function 'f':",
        "../h18secret:1:15: error: 'abc123' undeclared",
        "In file included from p/p.go:4:",
        "p/../inc/n.h:1:1: error: expected ';' before 'int'",
        "    1 | int broken(",
        "/tmp/eg-tree/inc/m.h:2:3: error: in the tree",
        "    2 | x",
        "$WORK/b001/_cgo_export.c:3:1: error: generated",
        "go: errors parsing go.mod:",
        "cc1: some warnings being treated as errors",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let shown = withhold_outside(&lines, tree, "");
    assert_eq!(
        shown,
        [
            "# example.com/m/p",
            "In file included from p/p.go:3:",
            "../h18secret: outside the repository; what the compiler said about it is not shown",
            "/etc/secret.h: outside the repository; what the compiler said about it is not shown",
            "In file included from p/p.go:4:",
            "p/../inc/n.h:1:1: error: expected ';' before 'int'",
            "    1 | int broken(",
            "/tmp/eg-tree/inc/m.h:2:3: error: in the tree",
            "    2 | x",
            "$WORK/b001/_cgo_export.c:3:1: error: generated",
            "go: errors parsing go.mod:",
            "cc1: some warnings being treated as errors",
        ]
    );
    // From a module one directory down, `../x` is still in the tree; `../../x` is not.
    let lines = vec![
        "../inc/n.h:1:1: e".to_string(),
        "../../x:1:1: e".to_string(),
    ];
    let shown = withhold_outside(&lines, tree, "sub");
    assert_eq!(shown[0], "../inc/n.h:1:1: e");
    assert!(shown[1].starts_with("../../x: outside the repository"));
}
