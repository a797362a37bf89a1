//! The fingerprint cache of a collection: what each package was written from, so that a run
//! with nothing changed encodes nothing (zstd at level 19 is most of a collection's time).
//!
//! A package's fingerprint is the SHA-256 of everything its bytes depend on: the whole
//! [`Package`] model (every field, through its `Debug` text, so a field added later is covered
//! without anyone remembering to add it here), the compression, each packaged file's content
//! hash, size and mode, and the identity of the writer itself (trainyard's version and the
//! executable running it: another build of the code may write other bytes). A cached package is
//! reused only when its fingerprint matches *and* the file in the output directory is still
//! there with the SHA-256 recorded for it; otherwise it is encoded again.
//!
//! Hashing every source file on every run would cost as much as a small compression (the
//! dependency collection of a middle-sized workspace is ~10,000 files, ~80 MB), so content
//! hashes are remembered per file with the file's `stat` identity (device, inode, size, mtime and
//! ctime to the nanosecond), as git's index does. A file changed in the two seconds before it
//! was read is not remembered: a file system with coarse timestamps could give a change right
//! after the read the same ctime.
//!
//! The cache is a plain JSON file; a missing, unreadable or foreign one is an empty cache.
//!
//! Its size follows the collection's file count (~280 bytes a file in the file, ~250 in
//! memory: a collection of 90,000 source files keeps 25 MB of it), so it is held once: the
//! hashes move out of the loaded cache into [`FileHashes`] (not copied), each file's digest is
//! kept as bytes (hex only in the file), and the file is written streaming, never built whole
//! in memory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{hex, Compression, FileKind, Package};
use crate::error::{io, Result};

/// Bumped when the fingerprint's recipe changes.
const FORMAT: u32 = 1;

/// What was written for one package, as remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    pub fingerprint: String,
    pub nevra: String,
    pub sha256: String,
    pub size: u64,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

/// A file's content hash and the `stat` identity it was computed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// Hex in the file.
    #[serde(with = "hex32")]
    sha256: [u8; 32],
}

/// A SHA-256 digest written as 64 hex digits.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(digest))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a SHA-256 in hex")))
    }

    fn parse(text: &str) -> Option<[u8; 32]> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks(2)) {
            *o = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(out)
    }
}

impl Stamp {
    fn same_file(&self, m: &std::fs::Metadata) -> bool {
        self.dev == m.dev()
            && self.ino == m.ino()
            && self.size == m.size()
            && self.mode == m.mode()
            && self.mtime == (m.mtime(), m.mtime_nsec())
            && self.ctime == (m.ctime(), m.ctime_nsec())
    }
}

/// The cache file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    format: u32,
    /// [`writer_identity`] of the run that wrote the packages below.
    writer: String,
    /// By file name in the output directory.
    pub packages: BTreeMap<String, Cached>,
    /// By source path.
    files: BTreeMap<String, Stamp>,
}

impl Cache {
    /// Reads the cache at `path`; anything unusable is an empty cache. Packages written by
    /// another writer are forgotten (file hashes stay: they do not depend on the writer).
    pub fn load(path: &Utf8Path) -> Cache {
        let cache: Cache =
            std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        if cache.format != FORMAT {
            return Cache::default();
        }
        if cache.writer != writer_identity() {
            return Cache { packages: BTreeMap::new(), ..cache };
        }
        cache
    }

    /// The package cached under `file_name` if it has this fingerprint.
    pub fn package(&self, file_name: &str, fingerprint: &str) -> Option<&Cached> {
        self.packages.get(file_name).filter(|c| c.fingerprint == fingerprint)
    }

    /// A cache holding `packages` and the file hashes of this run.
    pub fn new(packages: BTreeMap<String, Cached>, files: FileHashes) -> Cache {
        Cache { format: FORMAT, writer: writer_identity(), packages, files: files.into_stamps() }
    }

    /// Writes the cache if it differs from what is there (compared by digest, and written
    /// through a buffer: the JSON of a large collection's cache is tens of megabytes).
    pub fn save(&self, path: &Utf8Path) -> Result<()> {
        let mut digest = Sha256::new();
        serde_json::to_writer(&mut digest, self).expect("cache serialises");
        let digest = digest.finalize();
        let same = std::fs::File::open(path).is_ok_and(|mut file| {
            let mut old = Sha256::new();
            std::io::copy(&mut file, &mut old).is_ok() && old.finalize() == digest
        });
        if same {
            return Ok(());
        }
        let dir = path.parent().filter(|p| !p.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{}.tmp.{}", path.file_name().unwrap_or("cache"), std::process::id()));
        let result = (|| -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            serde_json::to_writer(&mut out, self)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io(path))
    }
}

/// Which code writes the packages: trainyard's version, the cache format, and the running
/// executable (size and mtime: cargo rewrites it on every rebuild). Conservative on purpose: a
/// rebuilt xtask encodes everything once more, but a package is never reused across writers.
pub fn writer_identity() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}:{}.{}", m.size(), m.mtime(), m.mtime_nsec()))
        .unwrap_or_default();
    format!("trainyard {} format {FORMAT} exe {exe}", env!("CARGO_PKG_VERSION"))
}

/// Content hashes of source files, remembered by `stat` identity (shared between threads).
pub struct FileHashes {
    /// By source path: the stamp, and whether this run used it (only those are kept).
    stamps: Mutex<BTreeMap<String, (Stamp, bool)>>,
    writer: String,
    /// How long ago a file must have changed for its hash to be remembered.
    settle: std::time::Duration,
}

impl FileHashes {
    /// Takes the remembered hashes out of `cache` (moved, not copied: they are most of it).
    pub fn take(cache: &mut Cache) -> FileHashes {
        let stamps = std::mem::take(&mut cache.files).into_iter().map(|(path, s)| (path, (s, false))).collect();
        FileHashes { stamps: Mutex::new(stamps), writer: writer_identity(), settle: std::time::Duration::from_secs(2) }
    }

    /// (SHA-256, size, mode) of the file at `path`.
    pub fn hash(&self, path: &Utf8Path) -> Result<(String, u64, u32)> {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        {
            let mut stamps = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((stamp, used)) = stamps.get_mut(path.as_str()).filter(|(s, _)| s.same_file(&meta)) {
                *used = true;
                return Ok((hex(&stamp.sha256), stamp.size, stamp.mode));
            }
        }
        let read_at = std::time::SystemTime::now();
        // Read in pieces: a source file may be large, and two threads hash at once.
        let mut digest = Sha256::new();
        let mut file = std::fs::File::open(path).map_err(io(path))?;
        let len = std::io::copy(&mut file, &mut digest).map_err(io(path))?;
        let sha256: [u8; 32] = digest.finalize().into();
        // Re-read the identity after hashing: a file written while we read it must not be remembered.
        let after = std::fs::metadata(path).map_err(io(path))?;
        let stamp = Stamp {
            dev: after.dev(),
            ino: after.ino(),
            size: after.size(),
            mode: after.mode(),
            mtime: (after.mtime(), after.mtime_nsec()),
            ctime: (after.ctime(), after.ctime_nsec()),
            sha256,
        };
        let changed = std::time::UNIX_EPOCH
            + std::time::Duration::new(after.ctime().max(0) as u64, after.ctime_nsec().clamp(0, 999_999_999) as u32);
        let settled = read_at.duration_since(changed).is_ok_and(|age| age >= self.settle);
        let mut stamps = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
        if settled && stamp.same_file(&meta) && len == stamp.size {
            stamps.insert(path.to_string(), (stamp, true));
        } else {
            // A stale stamp of this path is not kept either.
            stamps.remove(path.as_str());
        }
        Ok((hex(&sha256), len, meta.mode()))
    }

    /// The stamps this run used or made.
    fn into_stamps(self) -> BTreeMap<String, Stamp> {
        let stamps = self.stamps.into_inner().unwrap_or_else(|e| e.into_inner());
        stamps.into_iter().filter(|(_, (_, used))| *used).map(|(path, (stamp, _))| (path, stamp)).collect()
    }
}

/// The fingerprint of `pkg` written with `compression` (see the module documentation).
pub fn fingerprint(pkg: &Package, compression: Compression, files: &FileHashes) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!("{}\n{compression:?}\n{pkg:?}\n", files.writer));
    for f in pkg.files.iter().filter(|f| f.kind != FileKind::Dir) {
        let (sha, size, mode) = files.hash(&f.source)?;
        h.update(format!("{}\0{sha}\0{size}\0{mode:o}\n", f.source));
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmpkg::FileEntry;

    fn scratch(name: &str) -> camino::Utf8PathBuf {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("trainyard-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn fingerprint_follows_every_input() {
        let dir = scratch("fp");
        let file = dir.join("a");
        std::fs::write(&file, "one").unwrap();
        let pkg = Package {
            name: "p".into(),
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            summary: "s".into(),
            files: vec![FileEntry::new(file.clone(), "/usr/share/p/a", 0o644, FileKind::Regular)],
            ..Package::default()
        };
        let files = FileHashes::take(&mut Cache::default());
        let fp = |p: &Package, c| fingerprint(p, c, &files).unwrap();
        let base = fp(&pkg, Compression::Zstd(3));
        assert_eq!(base, fp(&pkg, Compression::Zstd(3)));
        assert_ne!(base, fp(&pkg, Compression::Zstd(19)));
        let mut other = pkg.clone();
        other.description = "d".into();
        assert_ne!(base, fp(&other, Compression::Zstd(3)));
        let mut other = pkg.clone();
        other.files[0].user = "nobody".into();
        assert_ne!(base, fp(&other, Compression::Zstd(3)));
        std::fs::write(&file, "two").unwrap();
        assert_ne!(base, fp(&pkg, Compression::Zstd(3)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_cache_file_keeps_hex_digests_and_is_rewritten_only_when_it_changes() {
        let dir = scratch("file");
        let file = dir.join("a");
        std::fs::write(&file, "one").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        let mut files = FileHashes::take(&mut Cache::default());
        files.settle = std::time::Duration::ZERO;
        let (sha, _, _) = files.hash(&file).unwrap();
        let cache = Cache::new(BTreeMap::new(), files);
        let path = dir.join("cache.json");
        cache.save(&path).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["files"][file.as_str()]["sha256"], sha.as_str());
        assert_eq!(sha, hex(&Sha256::digest(b"one")));
        assert_eq!(Cache::load(&path), cache);
        // The same cache again: the file is left as it is (same inode: not replaced).
        let ino = |p: &Utf8Path| std::fs::metadata(p).unwrap().ino();
        let before = ino(&path);
        cache.save(&path).unwrap();
        assert_eq!(ino(&path), before);
        // A file hashed from a loaded cache is used, and kept; one never asked for is dropped.
        let mut loaded = Cache::load(&path);
        let files = FileHashes::take(&mut loaded);
        assert_eq!(files.hash(&file).unwrap().0, sha);
        assert_eq!(Cache::new(BTreeMap::new(), files).files.len(), 1);
        let files = FileHashes::take(&mut Cache::load(&path));
        let dropped = Cache::new(BTreeMap::new(), files);
        assert!(dropped.files.is_empty());
        dropped.save(&path).unwrap();
        assert_ne!(ino(&path), before);
        assert_eq!(Cache::load(&path), dropped);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn remembered_hashes_are_checked_against_the_file() {
        let dir = scratch("stamps");
        let file = dir.join("a");
        std::fs::write(&file, "one").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        // Just changed: not remembered (the test then lifts the settling time).
        let files = FileHashes::take(&mut Cache::default());
        files.hash(&file).unwrap();
        assert!(Cache::new(BTreeMap::new(), files).files.is_empty());
        let mut files = FileHashes::take(&mut Cache::default());
        files.settle = std::time::Duration::ZERO;
        let first = files.hash(&file).unwrap();
        let cache = Cache::new(BTreeMap::new(), files);
        assert_eq!(cache.files.len(), 1);
        let files = FileHashes::take(&mut cache.clone());
        assert_eq!(files.hash(&file).unwrap(), first);
        // Same size, same mtime, new content: the ctime tells.
        std::fs::write(&file, "two").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        let files = FileHashes::take(&mut cache.clone());
        assert_ne!(files.hash(&file).unwrap().0, first.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
