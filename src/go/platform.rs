//! Target platforms (`GOOS/GOARCH`): what `--platforms` and the allowlist's
//! `platforms:` name, how a [`GoEnv`] cross-compiles for one, and which platforms a Go
//! file's build constraints (its name's `_GOOS_GOARCH` suffix and its `//go:build`
//! line) let compile it, so that a change to a file no analysed platform compiles is
//! said rather than passed over.
//!
//! The constraint evaluation follows go/build (`goodOSArchFile`, `matchTag`) for what
//! decides a platform; it is only used to name platforms in warnings and in `init`.
//! Which files a build compiles is always `go list`'s answer.

use super::GoEnv;
use crate::platform::{Platform, KNOWN_ARCH, KNOWN_OS};

/// go/build's `unixOS`: the systems the `unix` build tag is true on.
const UNIX_OS: [&str; 12] = [
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "linux",
    "netbsd",
    "openbsd",
    "solaris",
];

/// The platforms a warning or `init` names when the build constraints of a file let
/// them compile it: Go's first-class ports and the common others, in that order
/// (`go tool dist list` has about fifty; these are the ones a user ships).
pub const COMMON: [&str; 14] = [
    "linux/amd64",
    "linux/arm64",
    "darwin/arm64",
    "darwin/amd64",
    "windows/amd64",
    "windows/arm64",
    "linux/386",
    "linux/arm",
    "windows/386",
    "freebsd/amd64",
    "linux/riscv64",
    "linux/ppc64le",
    "linux/s390x",
    "js/wasm",
];

impl Platform {
    /// Whether a file's build constraints let this platform compile it: the name's
    /// `_GOOS`, `_GOARCH`, `_GOOS_GOARCH` suffix and the `//go:build` expression of its
    /// header, with `tags` (the build's tags) and `cgo` true or not. `None` when the
    /// expression cannot be read (go would refuse it; no platform is named then).
    pub fn compiles(&self, name: &str, source: &str, tags: &[String], cgo: bool) -> Option<bool> {
        let tag = |t: &str| self.matches_tag(t, tags, cgo);
        if !good_os_arch_file(name, &tag) {
            return Some(false);
        }
        if imports_c(source) && !cgo {
            return Some(false);
        }
        match build_line(source) {
            Some(expr) => eval(expr, &tag),
            None => Some(true),
        }
    }

    /// go/build's `matchTag`.
    fn matches_tag(&self, tag: &str, tags: &[String], cgo: bool) -> bool {
        let os = self.goos.as_str();
        if tag == os || tag == self.goarch {
            return true;
        }
        match tag {
            "unix" => UNIX_OS.contains(&os),
            "linux" => os == "android",
            "solaris" => os == "illumos",
            "darwin" => os == "ios",
            "gc" => true,
            "cgo" => cgo,
            _ if tag.starts_with("go1.") => true,
            // Microarchitecture levels: only the baseline one is on by default.
            "amd64.v1" => self.goarch == "amd64",
            "arm64.v8.0" => self.goarch == "arm64",
            _ => tags.iter().any(|t| t == tag),
        }
    }
}

/// go/build's `goodOSArchFile`: what the name's suffix says.
fn good_os_arch_file(name: &str, tag: &dyn Fn(&str) -> bool) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    let name = name.split('.').next().unwrap_or(name);
    let Some(i) = name.find('_') else {
        return true;
    };
    let mut parts: Vec<&str> = name[i..].split('_').collect();
    if parts.last() == Some(&"test") {
        parts.pop();
    }
    let n = parts.len();
    if n >= 2 && KNOWN_OS.contains(&parts[n - 2]) && KNOWN_ARCH.contains(&parts[n - 1]) {
        return tag(parts[n - 2]) && tag(parts[n - 1]);
    }
    if n >= 1 && (KNOWN_OS.contains(&parts[n - 1]) || KNOWN_ARCH.contains(&parts[n - 1])) {
        return tag(parts[n - 1]);
    }
    true
}

/// The `//go:build` expression of a file's header (the comments before the package
/// clause).
fn build_line(source: &str) -> Option<&str> {
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with("package ") || line == "package" {
            return None;
        }
        if let Some(expr) = line.strip_prefix("//go:build") {
            if expr.starts_with([' ', '\t']) {
                return Some(expr.trim());
            }
        }
    }
    None
}

/// Whether the file imports "C" (needs cgo).
pub(crate) fn imports_c(source: &str) -> bool {
    source.lines().any(|l| {
        let l = l.trim();
        l == "import \"C\"" || l == "\"C\"" || l.starts_with("import \"C\" ")
    })
}

/// Evaluates a `//go:build` expression (`||`, `&&`, `!`, parentheses, tags).
fn eval(expr: &str, tag: &dyn Fn(&str) -> bool) -> Option<bool> {
    let tokens = tokens(expr)?;
    let mut pos = 0;
    let value = or_expr(&tokens, &mut pos, tag)?;
    (pos == tokens.len()).then_some(value)
}

fn tokens(expr: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' || c == '!' {
            out.push(c.to_string());
            i += 1;
        } else if (c == '&' || c == '|') && chars.get(i + 1) == Some(&c) {
            out.push(format!("{c}{c}"));
            i += 2;
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            return None;
        }
    }
    Some(out)
}

fn or_expr(t: &[String], pos: &mut usize, tag: &dyn Fn(&str) -> bool) -> Option<bool> {
    let mut value = and_expr(t, pos, tag)?;
    while t.get(*pos).is_some_and(|s| s == "||") {
        *pos += 1;
        let right = and_expr(t, pos, tag)?;
        value = value || right;
    }
    Some(value)
}

fn and_expr(t: &[String], pos: &mut usize, tag: &dyn Fn(&str) -> bool) -> Option<bool> {
    let mut value = not_expr(t, pos, tag)?;
    while t.get(*pos).is_some_and(|s| s == "&&") {
        *pos += 1;
        let right = not_expr(t, pos, tag)?;
        value = value && right;
    }
    Some(value)
}

fn not_expr(t: &[String], pos: &mut usize, tag: &dyn Fn(&str) -> bool) -> Option<bool> {
    let token = t.get(*pos)?;
    *pos += 1;
    match token.as_str() {
        "!" => Some(!not_expr(t, pos, tag)?),
        "(" => {
            let value = or_expr(t, pos, tag)?;
            if t.get(*pos).is_some_and(|s| s == ")") {
                *pos += 1;
                Some(value)
            } else {
                None
            }
        }
        ")" | "&&" | "||" => None,
        name => Some(tag(name)),
    }
}

/// The platforms of [`COMMON`] whose build would compile the file, `analysed` left out.
pub fn compiling_platforms(
    name: &str,
    source: &str,
    tags: &[String],
    analysed: &[Platform],
) -> Vec<Platform> {
    COMMON
        .iter()
        .filter_map(|p| Platform::parse(p).ok())
        .filter(|p| !analysed.contains(p))
        .filter(|p| p.compiles(name, source, tags, true) == Some(true))
        .collect()
}

impl GoEnv {
    /// The platform `go` builds for by default (`go env GOOS GOARCH`).
    pub fn default_platform(&self) -> Platform {
        Platform {
            goos: self.goos.clone(),
            goarch: self.goarch.clone(),
        }
    }

    /// The same `go`, cross-compiling for `platform`: `GOOS` and `GOARCH` set on every
    /// command, and, for a platform other than the default one, `CGO_ENABLED=0` (go's
    /// own default when cross-compiling without a C cross-compiler), so that listing
    /// and building agree on the files. The fingerprint (cache keys) says so.
    pub fn for_platform(&self, platform: &Platform) -> GoEnv {
        let mut env = self.clone();
        let foreign = *platform != self.default_platform();
        env.target = Some(platform.clone());
        env.foreign = foreign;
        env.cgo = foreign.then_some(false);
        env.fingerprint = self
            .fingerprint
            .split(' ')
            .map(|item| match item.split_once('=') {
                Some(("GOOS", _)) => format!("GOOS={}", platform.goos),
                Some(("GOARCH", _)) => format!("GOARCH={}", platform.goarch),
                Some(("CGO_ENABLED", _)) if foreign => "CGO_ENABLED=0".to_string(),
                _ => item.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        env
    }

    /// Whether a build of this environment compiles cgo files.
    pub fn builds_cgo(&self) -> bool {
        self.cgo.unwrap_or(self.cgo_enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Platform {
        Platform::parse(text).expect("a valid platform")
    }

    #[test]
    fn parses_and_refuses_platforms() {
        assert_eq!(p("linux/arm64").to_string(), "linux/arm64");
        for bad in ["linux", "linux/x86", "lnux/amd64", "linux/amd64/v2"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        let list = Platform::parse_list("linux/amd64, linux/arm64,linux/amd64").expect("valid");
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn evaluates_build_constraints_like_go_build() {
        let none: Vec<String> = Vec::new();
        let cases: [(&str, &str, &str, bool); 12] = [
            ("linux/amd64", "a.go", "package a", true),
            ("linux/amd64", "a_arm64.go", "package a", false),
            ("linux/arm64", "a_arm64.go", "package a", true),
            ("linux/arm64", "a_linux_arm64_test.go", "package a", true),
            ("darwin/arm64", "a_linux.go", "package a", false),
            ("linux/amd64", "linux.go", "package a", true),
            (
                "linux/amd64",
                "g.go",
                "//go:build !amd64 || noasm\n\npackage a",
                false,
            ),
            (
                "linux/arm64",
                "g.go",
                "//go:build !amd64 || noasm\n\npackage a",
                true,
            ),
            (
                "darwin/arm64",
                "u.go",
                "//go:build unix && (arm64 || amd64)\n\npackage a",
                true,
            ),
            (
                "windows/amd64",
                "u.go",
                "//go:build unix\n\npackage a",
                false,
            ),
            (
                "linux/amd64",
                "v.go",
                "//go:build go1.21 && gc\npackage a",
                true,
            ),
            ("linux/amd64", "c.go", "package a\n\nimport \"C\"\n", false),
        ];
        for (platform, name, source, want) in cases {
            assert_eq!(
                p(platform).compiles(name, source, &none, false),
                Some(want),
                "{platform} {name} {source:?}"
            );
        }
        assert_eq!(
            p("linux/amd64").compiles("x.go", "//go:build (linux\npackage a", &none, false),
            None
        );
        let tags = vec!["noasm".to_string()];
        assert_eq!(
            p("linux/amd64").compiles(
                "g.go",
                "//go:build !amd64 || noasm\npackage a",
                &tags,
                false
            ),
            Some(true)
        );
    }

    #[test]
    fn names_the_platforms_that_compile_a_file() {
        let analysed = vec![p("linux/amd64")];
        let found = compiling_platforms(
            "d_generic.go",
            "//go:build !amd64\n\npackage d",
            &[],
            &analysed,
        );
        assert!(found.contains(&p("linux/arm64")));
        assert!(!found.contains(&p("linux/amd64")));
        assert!(!found.contains(&p("darwin/amd64")));
    }
}
