//! Names: one component of a path, checked on its own before it is joined to anything.

use std::fmt;
use std::path::Path;

/// How deep a tree may go. Real repositories stay far below; the limit bounds the
/// directory handles a [`TreeWriter`](super::TreeWriter) keeps open while it writes.
pub const MAX_DEPTH: usize = 256;

/// Why a name cannot be a file name in a materialised tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadName {
    Empty,
    Dot,
    DotDot,
    Slash,
    Backslash,
    Nul,
    /// `.git`, however spelt: git's own directory.
    GitDir,
    /// Not one plain name on this system (a drive prefix, a reserved device name).
    NotPortable,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadName::Empty => "an empty name",
            BadName::Dot => "`.` names the directory itself, not a file",
            BadName::DotDot => "`..` names the parent directory, not a file",
            BadName::Slash => "a name holding `/`",
            BadName::Backslash => "a name holding `\\`",
            BadName::Nul => "a name holding a NUL byte",
            BadName::GitDir => "a spelling of `.git`, git's own directory",
            BadName::NotPortable => "not a plain file name on this system",
        })
    }
}

/// Checks one path component, as git does before it checks a name out
/// (`verify_path`), on every platform at once: a tree is refused here for a name that
/// only Windows or macOS would misread, since the same tree is gated everywhere.
pub fn check_name(name: &[u8]) -> Result<(), BadName> {
    match name {
        b"" => return Err(BadName::Empty),
        b"." => return Err(BadName::Dot),
        b".." => return Err(BadName::DotDot),
        _ => {}
    }
    if name.contains(&b'/') {
        return Err(BadName::Slash);
    }
    if name.contains(&b'\\') {
        return Err(BadName::Backslash);
    }
    if name.contains(&0) {
        return Err(BadName::Nul);
    }
    if is_git_dir(name) {
        return Err(BadName::GitDir);
    }
    if cfg!(windows) && windows_forbidden(name) {
        return Err(BadName::NotPortable);
    }
    // Whatever the rules above missed on this platform: joined to a directory, the name
    // must add exactly itself.
    let Some(os) = os_name(name) else {
        return Err(BadName::NotPortable);
    };
    let mut parts = Path::new(os).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(one)), None) if one == os => Ok(()),
        _ => Err(BadName::NotPortable),
    }
}

/// `.git` as git refuses it (`is_ntfs_dotgit`, `is_hfs_dotgit`): any case; with trailing
/// spaces or dots, or an NTFS stream (`.git::$INDEX_ALLOCATION`), which Windows strips;
/// the NTFS short name `git~1`; and with the Unicode code points HFS+ ignores.
pub(super) fn is_git_dir(name: &[u8]) -> bool {
    let base = name.split(|&b| b == b':').next().unwrap_or_default();
    let end = base
        .iter()
        .rposition(|&b| b != b' ' && b != b'.')
        .map_or(0, |i| i + 1);
    let ntfs = &base[..end];
    if ntfs.eq_ignore_ascii_case(b".git") || ntfs.eq_ignore_ascii_case(b"git~1") {
        return true;
    }
    let Ok(text) = std::str::from_utf8(name) else {
        return false;
    };
    let hfs: String = text.chars().filter(|&c| !hfs_ignorable(c)).collect();
    hfs.eq_ignore_ascii_case(".git")
}

/// The code points HFS+ leaves out of names when it compares them (git's
/// `next_hfs_char`).
pub(super) fn hfs_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// Names Windows gives another meaning: device names (`CON`, `nul.txt`, `COM1`), and
/// characters it does not allow in a name (`C:` would be a drive).
pub(super) fn windows_forbidden(name: &[u8]) -> bool {
    if name.iter().any(|&b| b < 0x20 || b"<>:\"|?*".contains(&b)) {
        return true;
    }
    let stem = name.split(|&b| b == b'.').next().unwrap_or_default();
    let stem = stem.trim_ascii_end();
    let device = |prefix: &[u8]| stem.len() >= 3 && stem[..3].eq_ignore_ascii_case(prefix);
    (stem.len() == 3
        && ["CON", "PRN", "AUX", "NUL"]
            .iter()
            .any(|d| device(d.as_bytes())))
        || (stem.len() == 4
            && ["COM", "LPT"].iter().any(|d| device(d.as_bytes()))
            && stem[3].is_ascii_digit())
}

/// A name as the operating system takes it: bytes on Unix, UTF-8 elsewhere.
#[cfg(unix)]
pub(super) fn os_name(name: &[u8]) -> Option<&std::ffi::OsStr> {
    use std::os::unix::ffi::OsStrExt;
    Some(std::ffi::OsStr::from_bytes(name))
}

#[cfg(not(unix))]
pub(super) fn os_name(name: &[u8]) -> Option<&std::ffi::OsStr> {
    std::str::from_utf8(name).ok().map(std::ffi::OsStr::new)
}
