//! The findings cache: the analysed findings of a commit, kept in the user's cache
//! directory so that a repeated comparison (a pre-push after a fix, a re-run CI job)
//! does not materialise and build that commit again.
//!
//! An entry is keyed by everything that decides the compiler's output: the commit's
//! tree, the Go version and target, the build settings and the packages analysed. Each
//! file holds its full key and is only used when the key matches, so a hash collision
//! or a damaged file is a miss, never a wrong answer. Writes are atomic (a temporary
//! file renamed into place) and the directory is kept under a size bound, oldest
//! entries first.
//!
//! The directory the user names (`ESCAPE_GATE_CACHE_DIR`) may hold anything, so
//! escape-gate keeps its entries in a subdirectory of its own ([`SUBDIR`]) and, when
//! trimming, deletes only what it can prove it wrote: a regular file (never a link,
//! never followed) in that subdirectory (itself not a link), named as it names entries
//! (32 hex digits, `.json`), that starts with its [`HEADER`].

use std::fs;
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bump when the cached data or its meaning changes (and [`SUBDIR`] and [`HEADER`]
/// with it).
const FORMAT: u32 = 2;
/// escape-gate's own directory inside the cache directory.
pub const SUBDIR: &str = "findings-v2";
/// The first bytes of every entry: what makes a file provably escape-gate's.
pub const HEADER: &[u8] = b"escape-gate findings cache v2\n";
const MAX_ENTRIES: usize = 256;
const MAX_BYTES: u64 = 128 * 1024 * 1024;

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    format: u32,
    key: String,
    value: T,
}

impl Cache {
    /// The cache in `ESCAPE_GATE_CACHE_DIR`, else `$XDG_CACHE_HOME/escape-gate`, else
    /// the platform's user cache directory. `ESCAPE_GATE_CACHE=off` disables it.
    pub fn from_env() -> Option<Cache> {
        if std::env::var("ESCAPE_GATE_CACHE")
            .is_ok_and(|v| matches!(v.as_str(), "off" | "0" | "false"))
        {
            return None;
        }
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = if let Some(dir) = var("ESCAPE_GATE_CACHE_DIR") {
            dir
        } else if let Some(xdg) = var("XDG_CACHE_HOME") {
            xdg.join("escape-gate")
        } else if cfg!(target_os = "macos") {
            var("HOME")?.join("Library/Caches/escape-gate")
        } else if cfg!(windows) {
            var("LOCALAPPDATA")?.join("escape-gate")
        } else {
            var("HOME")?.join(".cache/escape-gate")
        };
        Some(Cache::at(dir))
    }

    pub fn at(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    fn entries(&self) -> PathBuf {
        self.dir.join(SUBDIR)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.entries()
            .join(format!("{:016x}{:016x}.json", hash(key, 0), hash(key, 1)))
    }

    /// The value stored under `key`, if there is a readable entry with exactly that key.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        if !self.own_dir() {
            return None;
        }
        let bytes = fs::read(self.path(key)).ok()?;
        let json = bytes.strip_prefix(HEADER)?;
        match serde_json::from_slice::<Entry<T>>(json) {
            Ok(entry) if entry.format == FORMAT && entry.key == key => Some(entry.value),
            // Damaged, from another format, or another key with the same hash.
            _ => None,
        }
    }

    /// Stores `value` under `key`. A cache is an optimisation: failures are ignored.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) {
        if self.try_put(key, value).is_ok() {
            self.trim();
        }
    }

    fn try_put<T: Serialize>(&self, key: &str, value: &T) -> std::io::Result<()> {
        fs::create_dir_all(self.entries())?;
        if !self.own_dir() {
            return Err(std::io::Error::other(
                "the cache's subdirectory is not a directory",
            ));
        }
        let entry = Entry {
            format: FORMAT,
            key: key.to_string(),
            value,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(self.entries())?;
        std::io::Write::write_all(&mut tmp, HEADER)?;
        serde_json::to_writer(&mut tmp, &entry)?;
        tmp.persist(self.path(key)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Whether [`SUBDIR`] is a real directory: a link there could lead the trim into
    /// a directory of someone else's files.
    fn own_dir(&self) -> bool {
        fs::symlink_metadata(self.entries()).is_ok_and(|m| m.is_dir())
    }

    /// Removes the oldest entries beyond the bounds, and only entries: see the module
    /// documentation.
    fn trim(&self) {
        if !self.own_dir() {
            return;
        }
        let Ok(dir) = fs::read_dir(self.entries()) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|e| is_entry_name(&e.file_name().to_string_lossy()))
            .filter_map(|e| {
                // DirEntry::metadata does not follow links.
                let meta = e.metadata().ok()?;
                if !meta.is_file() {
                    return None;
                }
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .filter(|(_, _, path)| has_header(path))
            .collect();
        entries.sort();
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        let mut count = entries.len();
        for (_, len, path) in entries {
            if count <= MAX_ENTRIES && total <= MAX_BYTES {
                break;
            }
            // Checked once more right before: the file must still be an entry.
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
                && has_header(&path)
                && fs::remove_file(&path).is_ok()
            {
                count -= 1;
                total = total.saturating_sub(len);
            }
        }
    }
}

/// `<32 lowercase hex digits>.json`, the names [`Cache::path`] gives.
fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(|stem| {
        stem.len() == 32 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether the file starts with [`HEADER`], read without following a link.
fn has_header(path: &Path) -> bool {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let Ok(file) = options.open(path) else {
        return false;
    };
    let mut start = Vec::with_capacity(HEADER.len());
    file.take(HEADER.len() as u64)
        .read_to_end(&mut start)
        .is_ok()
        && start == HEADER
}

/// A short stable name for `text` (16 hex digits), the same in every run.
pub fn stable_hash(text: &str) -> String {
    format!("{:016x}", hash(text, 0))
}

/// FNV-1a over the key with a seed byte: stable across runs and platforms, unlike
/// the standard library's hasher, so entries outlive the process that wrote them.
fn hash(key: &str, seed: u8) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(&[seed]);
    h.write(key.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_check() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::at(dir.path().join("c"));
        assert_eq!(cache.get::<Vec<u32>>("a"), None);
        cache.put("a", &vec![1u32, 2, 3]);
        assert_eq!(cache.get::<Vec<u32>>("a"), Some(vec![1, 2, 3]));
        assert_eq!(cache.get::<Vec<u32>>("b"), None);
        assert!(cache
            .path("a")
            .starts_with(dir.path().join("c").join(SUBDIR)));
        assert!(fs::read(cache.path("a"))
            .expect("entry")
            .starts_with(HEADER));
        // An entry whose stored key differs (a collision) is a miss.
        fs::copy(cache.path("a"), cache.path("b")).expect("copy");
        assert_eq!(cache.get::<Vec<u32>>("b"), None);
    }

    #[test]
    fn damaged_entries_are_misses() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::at(dir.path().to_path_buf());
        cache.put("k", &"value".to_string());
        let mut damaged = HEADER.to_vec();
        damaged.extend_from_slice(b"{\"format\":2,\"key\":\"k\",\"val");
        fs::write(cache.path("k"), damaged).expect("damage");
        assert_eq!(cache.get::<String>("k"), None);
        fs::write(cache.path("k"), b"").expect("empty");
        assert_eq!(cache.get::<String>("k"), None);
        // Without the header, even a well-formed entry is not one.
        fs::write(
            cache.path("k"),
            b"{\"format\":2,\"key\":\"k\",\"value\":\"v\"}",
        )
        .expect("bare");
        assert_eq!(cache.get::<String>("k"), None);
        // Wrong type of value.
        cache.put("k", &7u32);
        assert_eq!(cache.get::<String>("k"), None);
    }

    #[test]
    fn the_directory_stays_bounded() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::at(dir.path().to_path_buf());
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(&format!("key {i}"), &i);
        }
        let entries = dir.path().join(SUBDIR);
        let count = fs::read_dir(&entries).expect("read").count();
        assert_eq!(count, MAX_ENTRIES);
        let leftovers = fs::read_dir(&entries)
            .expect("read")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
    }

    /// Everything in a directory, by relative path: content, or the link's target.
    fn listing(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).expect("read").flatten() {
                let meta = fs::symlink_metadata(e.path()).expect("meta");
                let rel = e.path().strip_prefix(dir).expect("rel").to_path_buf();
                if meta.file_type().is_symlink() {
                    let target = fs::read_link(e.path()).expect("link");
                    out.insert(rel, target.to_string_lossy().as_bytes().to_vec());
                } else if meta.is_dir() {
                    stack.push(e.path());
                } else {
                    out.insert(rel, fs::read(e.path()).expect("read"));
                }
            }
        }
        out
    }

    #[test]
    fn trimming_deletes_only_what_escape_gate_wrote() {
        let dir = tempfile::tempdir().expect("temp");
        let user = dir.path();
        // The user's own files, some named like entries, some with the header.
        for i in 0..300 {
            fs::write(
                user.join(format!("{i:032x}.json")),
                format!("{{\"mine\":{i}}}"),
            )
            .expect("write");
        }
        let cache = Cache::at(user.to_path_buf());
        cache.put("first", &0u32);
        let entries = user.join(SUBDIR);
        // In escape-gate's directory, files it did not write: a wrong name with the
        // header, the right name without it, a directory with the right name, and
        // links with the right name to a file with the header and to a directory.
        let mut forged = HEADER.to_vec();
        forged.extend_from_slice(b"{}");
        fs::write(entries.join("notes.json"), &forged).expect("write");
        fs::write(entries.join(format!("{:032x}.json", 7)), b"{\"mine\":true}").expect("write");
        fs::create_dir(entries.join(format!("{:032x}.json", 8))).expect("mkdir");
        let outside = tempfile::tempdir().expect("temp");
        fs::write(outside.path().join("victim.json"), &forged).expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                outside.path().join("victim.json"),
                entries.join(format!("{:032x}.json", 9)),
            )
            .expect("symlink");
            std::os::unix::fs::symlink(outside.path(), entries.join(format!("{:032x}.json", 10)))
                .expect("symlink");
        }
        let user_before: Vec<_> = listing(user)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(SUBDIR))
            .collect();
        let first = cache.path("first");
        let first = first.strip_prefix(&entries).expect("in the subdirectory");
        let foreign_before: Vec<_> = listing(&entries)
            .into_iter()
            .filter(|(p, _)| p != first)
            .collect();
        let outside_before = listing(outside.path());
        for i in 0..(MAX_ENTRIES + 40) {
            cache.put(&format!("key {i}"), &i);
        }
        let user_after: Vec<_> = listing(user)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(SUBDIR))
            .collect();
        assert_eq!(user_before, user_after);
        assert_eq!(listing(outside.path()), outside_before);
        let after = listing(&entries);
        for (path, content) in &foreign_before {
            assert_eq!(after.get(path), Some(content), "{}", path.display());
        }
        let own = after
            .keys()
            .filter(|p| !foreign_before.iter().any(|(f, _)| f == *p))
            .count();
        assert_eq!(own, MAX_ENTRIES, "entries kept");
        assert!(
            !entries.join(first).exists(),
            "the oldest entry was trimmed"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_subdirectory_is_never_used() {
        let dir = tempfile::tempdir().expect("temp");
        let elsewhere = tempfile::tempdir().expect("temp");
        let mut forged = HEADER.to_vec();
        forged.extend_from_slice(b"{}");
        for i in 0..(MAX_ENTRIES + 5) {
            fs::write(elsewhere.path().join(format!("{i:032x}.json")), &forged).expect("write");
        }
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(SUBDIR)).expect("symlink");
        let before = listing(elsewhere.path());
        let cache = Cache::at(dir.path().to_path_buf());
        cache.put("k", &1u32);
        assert_eq!(cache.get::<u32>("k"), None);
        assert_eq!(listing(elsewhere.path()), before);
    }

    #[test]
    fn entry_names() {
        assert!(is_entry_name("0123456789abcdef0123456789abcdef.json"));
        for name in [
            "0123456789abcdef0123456789abcde.json",
            "0123456789ABCDEF0123456789abcdef.json",
            "0123456789abcdef0123456789abcdef.json.bak",
            "0123456789abcdef0123456789abcdef",
            ".tmp-abc",
            "x.json",
        ] {
            assert!(!is_entry_name(name), "{name}");
        }
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(hash("", 0), 0xaf63_bd4c_8601_b7df);
        assert_ne!(hash("a", 0), hash("a", 1));
    }
}
