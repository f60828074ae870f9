//! A target platform (`GOOS/GOARCH`) as data: what `--platforms`, the allowlist's
//! `platforms:` and a finding name. Which files a platform compiles is `go`'s part.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One target: `linux/arm64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Platform {
    pub goos: String,
    pub goarch: String,
}

/// go/build's `knownOS`.
pub(crate) const KNOWN_OS: [&str; 18] = [
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// go/build's `knownArch`.
pub(crate) const KNOWN_ARCH: [&str; 24] = [
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

impl Platform {
    /// Parses `GOOS/GOARCH`, naming both known lists in the error.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let text = text.trim();
        let Some((goos, goarch)) = text.split_once('/') else {
            return Err(format!(
                "{text:?} is not GOOS/GOARCH (for example linux/arm64)"
            ));
        };
        if !KNOWN_OS.contains(&goos) {
            return Err(format!(
                "{text:?}: {goos:?} is not a GOOS Go knows ({})",
                KNOWN_OS.join(", ")
            ));
        }
        if !KNOWN_ARCH.contains(&goarch) {
            return Err(format!(
                "{text:?}: {goarch:?} is not a GOARCH Go knows ({})",
                KNOWN_ARCH.join(", ")
            ));
        }
        Ok(Platform {
            goos: goos.to_string(),
            goarch: goarch.to_string(),
        })
    }

    /// Parses a comma-separated list (`--platforms`), without duplicates.
    pub fn parse_list(text: &str) -> Result<Vec<Platform>, String> {
        let mut out: Vec<Platform> = Vec::new();
        for item in text.split(',').filter(|s| !s.trim().is_empty()) {
            let platform = Platform::parse(item)?;
            if !out.contains(&platform) {
                out.push(platform);
            }
        }
        if out.is_empty() {
            return Err("no platform named (for example linux/amd64,linux/arm64)".to_string());
        }
        Ok(out)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.goos, self.goarch)
    }
}

impl TryFrom<String> for Platform {
    type Error = String;
    fn try_from(text: String) -> Result<Platform, String> {
        Platform::parse(&text)
    }
}

impl From<Platform> for String {
    fn from(p: Platform) -> String {
        p.to_string()
    }
}
