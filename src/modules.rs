//! Go modules in a repository: which `go.mod` files are the modules escape-gate
//! analyses, and what `go.mod` and `go.work` files say. One rule for every caller (the
//! build, the pre-push hook deciding whether a commit is a Go repository, the findings
//! cache), on the file names and texts the caller found, so the rule cannot differ
//! between a checkout on disk and a commit in git. Pure: no I/O.
//!
//! The rule is `./...`'s, from the repository's root: a `go.mod` counts when no
//! directory on its way starts with `.` or `_` or is `testdata` or `vendor`. A `go.work`
//! at the root adds the directories it `use`s, wherever they are (`use ./_tools` makes
//! `_tools` a module of the build, as it does for `go`).

use std::collections::BTreeSet;

/// A Go module inside a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Module path from `go.mod`.
    pub path: String,
    /// Tree-relative directory, `/`-separated, `""` for the root.
    pub dir: String,
}

/// Whether `./...` leaves out a directory of this name (and everything below it).
pub fn is_skipped_dir(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_') || name == "testdata" || name == "vendor"
}

/// Whether a file of these names is one [`discover`] reads: `go.mod` anywhere, `go.work`
/// at the root.
pub fn is_module_file(path: &str) -> bool {
    path == "go.work" || path == "go.mod" || path.ends_with("/go.mod")
}

/// One directive of a `go.mod` or `go.work`, block forms expanded: `replace ( a => b )`
/// gives `("replace", "a => b")`. Comments are removed.
fn directives(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(verb) = &block {
            if line == ")" {
                block = None;
            } else {
                out.push((verb.clone(), line.to_string()));
            }
            continue;
        }
        let (verb, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(v, r)| (v, r.trim()));
        // `use(` and `replace (` alike.
        let (verb, rest) = match verb.strip_suffix('(') {
            Some(v) => (v, "("),
            None => (verb, rest),
        };
        if rest == "(" {
            block = Some(verb.to_string());
        } else {
            out.push((verb.to_string(), rest.to_string()));
        }
    }
    out
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"').trim_matches('`')
}

/// The module path of a go.mod: `module example.com/m`, possibly quoted, possibly
/// followed by a comment.
pub fn module_path(go_mod: &str) -> Option<String> {
    directives(go_mod)
        .into_iter()
        .find(|(verb, _)| verb == "module")
        .map(|(_, rest)| unquote(&rest).to_string())
        .filter(|p| !p.is_empty())
}

/// The directories a go.work `use`s, tree-relative (`./a/` → `a`, `.` → ``); a
/// directory that leaves the tree is kept as written (callers check it).
pub fn work_uses(go_work: &str) -> Vec<String> {
    directives(go_work)
        .into_iter()
        .filter(|(verb, _)| verb == "use")
        .map(|(_, rest)| clean_dir(unquote(&rest)))
        .collect()
}

fn clean_dir(dir: &str) -> String {
    let dir = dir.replace('\\', "/");
    let parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if dir.starts_with('/') {
        return dir;
    }
    parts.join("/")
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Why [`discover`] failed: a go.mod without a module line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} has no `module` line\nhint: start it with `module example.com/yourmodule`")]
pub struct NoModuleLine {
    pub file: String,
}

/// The modules of a tree, from `found`: the `go.mod` files (tree-relative path, text)
/// in directories the rule keeps, and the root `go.work` if there is one. `read` gives
/// the text of another tree file, for the `go.mod` of a directory the go.work uses
/// below a skipped directory. Sorted by directory.
pub fn discover(
    found: &[(String, String)],
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Module>, NoModuleLine> {
    let mut modules = Vec::new();
    let mut dirs = BTreeSet::new();
    let mut add = |dir: &str, text: &str| -> Result<(), NoModuleLine> {
        if !dirs.insert(dir.to_string()) {
            return Ok(());
        }
        let path = module_path(text).ok_or_else(|| NoModuleLine {
            file: join(dir, "go.mod"),
        })?;
        modules.push(Module {
            path,
            dir: dir.to_string(),
        });
        Ok(())
    };
    for (file, text) in found {
        if file == "go.mod" {
            add("", text)?;
        } else if let Some(dir) = file.strip_suffix("/go.mod") {
            if !dir.split('/').any(is_skipped_dir) {
                add(dir, text)?;
            }
        }
    }
    if let Some((_, work)) = found.iter().find(|(file, _)| file == "go.work") {
        for dir in work_uses(work) {
            if dir.starts_with('/') || dir.split('/').any(|p| p == "..") {
                continue;
            }
            if let Some(text) = read(&join(&dir, "go.mod")) {
                add(&dir, &text)?;
            }
        }
    }
    modules.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(modules)
}

/// Whether a go.mod or go.work at `path` names a directory outside the repository (a
/// `replace` target, or a go.work `use`): absolute, or climbing above the root. Content
/// that a commit's tree id does not cover.
pub fn leaves_repository(path: &str, text: &str) -> bool {
    let depth = path.matches('/').count();
    let is_work = path == "go.work" || path.ends_with("/go.work");
    directives(text).into_iter().any(|(verb, rest)| {
        let (target, always_dir) = match verb.as_str() {
            "replace" => match rest.split_once("=>") {
                Some((_, target)) => (target.split_whitespace().next().unwrap_or(""), false),
                None => return false,
            },
            // A go.work `use` names a directory, however it is spelt (`sub/../..`).
            "use" if is_work => (rest.as_str(), true),
            _ => return false,
        };
        let target = unquote(target);
        // A replacement module path (`example.com/x v1.2.3`) is not a directory.
        let is_dir = always_dir
            || target.starts_with('/')
            || target.contains(':')
            || target.starts_with("./")
            || target.starts_with("../")
            || target.starts_with(".\\")
            || target.starts_with("..\\")
            || target == "."
            || target == "..";
        is_dir && crate::tree::leaves_tree(depth, target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect()
    }

    fn dirs(modules: &[Module]) -> Vec<(&str, &str)> {
        modules
            .iter()
            .map(|m| (m.dir.as_str(), m.path.as_str()))
            .collect()
    }

    #[test]
    fn the_shapes_go_accepts() {
        let none = |_: &str| None;
        // A root module, nested modules, and the directories ./... never enters.
        let found = files(&[
            ("go.mod", "module example.com/m\n"),
            ("svc/go.mod", "module example.com/m/svc // the service\n"),
            ("_tools/go.mod", "module tools\n"),
            (".hidden/go.mod", "module hidden\n"),
            ("a/testdata/go.mod", "module td\n"),
            ("vendor/x/go.mod", "module v\n"),
            ("a/b/go.mod", "module \"example.com/quoted\"\n"),
        ]);
        let modules = discover(&found, &none).expect("modules");
        assert_eq!(
            dirs(&modules),
            [
                ("", "example.com/m"),
                ("a/b", "example.com/quoted"),
                ("svc", "example.com/m/svc")
            ]
        );
        // Only a module under `_tools`: none, as `go build ./...` at the root finds none.
        assert!(
            discover(&files(&[("_tools/go.mod", "module tools\n")]), &none)
                .expect("ok")
                .is_empty()
        );
        // A go.work that uses it: it is a module of the build.
        let read = |path: &str| (path == "_tools/go.mod").then(|| "module tools\n".to_string());
        let found = files(&[("go.work", "go 1.22\n\nuse (\n\t./_tools\n\t./missing\n)\n")]);
        assert_eq!(
            dirs(&discover(&found, &read).expect("modules")),
            [("_tools", "tools")]
        );
        // A go.mod without a module line names itself.
        let err = discover(&files(&[("x/go.mod", "go 1.22\n")]), &none).expect_err("no module");
        assert_eq!(err.file, "x/go.mod");
    }

    #[test]
    fn directives_and_uses() {
        assert_eq!(
            work_uses("go 1.22\nuse ./a\nuse (\n  ./b/ // b\n  \"./c d\"\n  .\n)\nuse(./e)\n"),
            ["a", "b", "c d", ""]
        );
        assert_eq!(
            module_path("// c\nmodule   example.com/x  // y\n").as_deref(),
            Some("example.com/x")
        );
        assert_eq!(module_path("modulex example.com/x\n"), None);
        assert_eq!(module_path("go 1.22\n"), None);
    }

    #[test]
    fn replaces_and_uses_leaving_the_repository() {
        let cases = [
            ("go.mod", "module m\nreplace example.com/x => ../x\n", true),
            ("go.mod", "module m\nreplace example.com/x => ./x\n", false),
            (
                "sub/go.mod",
                "module m\nreplace example.com/x => ../x\n",
                false,
            ),
            (
                "sub/go.mod",
                "module m\nreplace example.com/x => ../../x\n",
                true,
            ),
            (
                "go.mod",
                "module m\nreplace (\n\texample.com/x v1.0.0 => /abs/x\n)\n",
                true,
            ),
            (
                "go.mod",
                "module m\nreplace example.com/x => example.com/y v1.2.3\n",
                false,
            ),
            ("go.mod", "module m\nreplace example.com/x => C:\\x\n", true),
            ("go.work", "go 1.22\nuse ../other\n", true),
            ("go.work", "go 1.22\nuse (\n\t./a\n\t./b\n)\n", false),
            ("go.work", "go 1.22\nuse sub/../../x\n", true),
            ("go.work", "go 1.22\nuse sub\n", false),
            ("go.mod", "module m\n// replace x => ../x\n", false),
        ];
        for (path, text, want) in cases {
            assert_eq!(leaves_repository(path, text), want, "{path}: {text:?}");
        }
    }

    #[test]
    fn skipped_directories() {
        for (name, want) in [
            (".git", true),
            ("_tools", true),
            ("testdata", true),
            ("vendor", true),
            ("tools", false),
            ("testdatax", false),
        ] {
            assert_eq!(is_skipped_dir(name), want, "{name}");
        }
        assert!(is_module_file("go.work") && is_module_file("a/go.mod"));
        assert!(!is_module_file("a/go.work") && !is_module_file("a/xgo.mod"));
    }
}
