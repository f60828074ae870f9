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

use std::fs;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bump when the cached data or its meaning changes.
const FORMAT: u32 = 1;
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{:016x}{:016x}.json", hash(key, 0), hash(key, 1)))
    }

    /// The value stored under `key`, if there is a readable entry with exactly that key.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        match serde_json::from_slice::<Entry<T>>(&bytes) {
            Ok(entry) if entry.format == FORMAT && entry.key == key => Some(entry.value),
            // Damaged, from another format, or another key with the same hash.
            _ => None,
        }
    }

    /// Stores `value` under `key`. A cache is an optimisation: failures are ignored.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) {
        let _ = self.try_put(key, value);
        self.trim();
    }

    fn try_put<T: Serialize>(&self, key: &str, value: &T) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let entry = Entry {
            format: FORMAT,
            key: key.to_string(),
            value,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)?;
        serde_json::to_writer(&mut tmp, &entry)?;
        tmp.persist(self.path(key)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes the oldest entries beyond the bounds.
    fn trim(&self) {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        entries.sort();
        let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
        let mut count = entries.len();
        for (_, len, path) in entries {
            if count <= MAX_ENTRIES && total <= MAX_BYTES {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                count -= 1;
                total = total.saturating_sub(len);
            }
        }
    }
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
        // An entry whose stored key differs (a collision) is a miss.
        fs::copy(cache.path("a"), cache.path("b")).expect("copy");
        assert_eq!(cache.get::<Vec<u32>>("b"), None);
    }

    #[test]
    fn damaged_entries_are_misses() {
        let dir = tempfile::tempdir().expect("temp");
        let cache = Cache::at(dir.path().to_path_buf());
        cache.put("k", &"value".to_string());
        fs::write(cache.path("k"), b"{\"format\":1,\"key\":\"k\",\"val").expect("damage");
        assert_eq!(cache.get::<String>("k"), None);
        fs::write(cache.path("k"), b"").expect("empty");
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
        let count = fs::read_dir(dir.path()).expect("read").count();
        assert_eq!(count, MAX_ENTRIES);
        let leftovers = fs::read_dir(dir.path())
            .expect("read")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(hash("", 0), 0xaf63_bd4c_8601_b7df);
        assert_ne!(hash("a", 0), hash("a", 1));
    }
}
