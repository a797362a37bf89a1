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
//! The cache is a directory of small JSON files, one a package (named as the package's file):
//! what was written for it and the stamps of its files. A worker reads the record of the package
//! it writes, and writes the new record, so the cache in memory is the packages in flight, not
//! the collection (a collection of 90,000 source files holds ~25 MB of stamps). New records are
//! staged beside the others and take their place only when the collection is switched in
//! ([`Cache::commit`]): a run that fails changes nothing. A missing, unreadable or foreign
//! record is no record.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;

use camino::{Utf8Path, Utf8PathBuf};
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

/// One package's record: what was written for it, and the stamps of its files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    format: u32,
    /// [`writer_identity`] of the run that wrote the package.
    writer: String,
    package: Option<Cached>,
    /// By source path.
    files: BTreeMap<String, Stamp>,
}

/// The fingerprint cache of one output directory: a directory of records, and the records this
/// run staged, until [`Cache::commit`] (dropped without it, the staged records go).
#[derive(Debug)]
pub struct Cache {
    dir: Utf8PathBuf,
    staging: Utf8PathBuf,
    committed: bool,
}

/// Prefix of the directories of staged records (a killed run's are removed by the next run).
const STAGING_PREFIX: &str = ".staged-";

impl Cache {
    /// The cache in `dir`. Only one run at a time may use a cache (the output directory's lock
    /// says which): what other runs staged there was left by killed ones, and is removed.
    pub fn open(dir: &Utf8Path) -> Result<Cache> {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        // The single file of trainyard before records (`<dir>.json`) is not read any more.
        let _ = std::fs::remove_file(format!("{dir}.json"));
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let staging = dir.join(format!("{STAGING_PREFIX}{nanos:x}-{}", std::process::id()));
        Ok(Cache { dir: dir.to_path_buf(), staging, committed: false })
    }

    /// What the cache knows of the package written as `file_name`: the package, if this writer
    /// wrote it, and the hashes of its files (they do not depend on the writer).
    pub fn load(&self, file_name: &str) -> (Option<Cached>, FileHashes) {
        let path = self.dir.join(format!("{file_name}.json"));
        let record: Record =
            std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        if record.format != FORMAT {
            return (None, FileHashes::new(BTreeMap::new()));
        }
        let package = record.package.filter(|_| record.writer == writer_identity());
        (package, FileHashes::new(record.files))
    }

    /// Stages the record of the package written as `file_name`.
    pub fn stage(&self, file_name: &str, package: Cached, files: FileHashes) -> Result<()> {
        let record =
            Record { format: FORMAT, writer: writer_identity(), package: Some(package), files: files.into_stamps() };
        std::fs::create_dir_all(&self.staging).map_err(io(&self.staging))?;
        let path = self.staging.join(format!("{file_name}.json"));
        let json = serde_json::to_vec(&record).expect("a record serialises");
        std::fs::write(&path, json).map_err(io(&path))
    }

    /// Puts the staged records in place, and removes the records of packages not in `names`
    /// (the collection's package files).
    pub fn commit(mut self, names: &std::collections::BTreeSet<String>) -> Result<()> {
        self.committed = true;
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        if let Ok(entries) = std::fs::read_dir(&self.staging) {
            for entry in entries {
                let entry = entry.map_err(io(&self.staging))?;
                let to = self.dir.join(entry.file_name().to_string_lossy().as_ref());
                std::fs::rename(entry.path(), &to).map_err(io(&to))?;
            }
        }
        let _ = std::fs::remove_dir(&self.staging);
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(package) = name.strip_suffix(".json").filter(|n| !names.contains(*n)) {
                if !package.starts_with('.') {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            // The directory itself, if this run made it and nothing else is there.
            let _ = std::fs::remove_dir(&self.dir);
        }
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

/// Content hashes of one package's source files, remembered by `stat` identity.
pub struct FileHashes {
    /// By source path: the stamp, and whether this run used it (only those are kept).
    stamps: Mutex<BTreeMap<String, (Stamp, bool)>>,
    writer: String,
    /// How long ago a file must have changed for its hash to be remembered.
    settle: std::time::Duration,
}

impl FileHashes {
    /// Hashes that start from the remembered `stamps`.
    pub fn new(stamps: BTreeMap<String, Stamp>) -> FileHashes {
        FileHashes {
            stamps: Mutex::new(stamps.into_iter().map(|(path, s)| (path, (s, false))).collect()),
            writer: writer_identity(),
            settle: std::time::Duration::from_secs(2),
        }
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
        let files = FileHashes::new(BTreeMap::new());
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

    /// A file whose mtime is a minute old (its ctime is now: hashes of it are remembered only
    /// with the settling time lifted, [`unsettled`]).
    fn settled(path: &Utf8Path, text: &str) {
        std::fs::write(path, text).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(old).unwrap();
    }

    fn unsettled(mut files: FileHashes) -> FileHashes {
        files.settle = std::time::Duration::ZERO;
        files
    }

    fn cached(sha256: &str) -> Cached {
        Cached {
            fingerprint: "fp".into(),
            nevra: "p-1-1.noarch".into(),
            sha256: sha256.into(),
            size: 3,
            provides: vec!["p = 1-1".into()],
            requires: Vec::new(),
        }
    }

    #[test]
    fn records_are_staged_until_the_commit_and_keep_hex_digests() {
        let dir = scratch("records");
        let store = dir.join("cache");
        let file = dir.join("a");
        settled(&file, "one");
        let sha = hex(&Sha256::digest(b"one"));

        // A run that does not commit leaves nothing.
        let cache = Cache::open(&store).unwrap();
        let (none, files) = cache.load("p.rpm");
        assert!(none.is_none());
        files.hash(&file).unwrap();
        cache.stage("p.rpm", cached(&sha), files).unwrap();
        drop(cache);
        assert!(!store.exists());

        // A committed record: the package, and its file's hash in hex, as the file says.
        let cache = Cache::open(&store).unwrap();
        let (_, files) = cache.load("p.rpm");
        let files = unsettled(files);
        files.hash(&file).unwrap();
        cache.stage("p.rpm", cached(&sha), files).unwrap();
        cache.stage("q.rpm", cached(&sha), FileHashes::new(BTreeMap::new())).unwrap();
        cache.commit(&["p.rpm".to_string(), "q.rpm".to_string()].into()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.join("p.rpm.json")).unwrap()).unwrap();
        assert_eq!(json["files"][file.as_str()]["sha256"], sha.as_str());
        let cache = Cache::open(&store).unwrap();
        let (package, files) = cache.load("p.rpm");
        assert_eq!(package, Some(cached(&sha)));
        assert_eq!(files.hash(&file).unwrap().0, sha);
        assert_eq!(files.into_stamps().len(), 1);

        // A record of a package no longer in the collection goes; one staged by a killed run too.
        std::fs::create_dir_all(store.join(".staged-dead-1")).unwrap();
        let (_, files) = cache.load("p.rpm");
        cache.stage("p.rpm", cached(&sha), files).unwrap();
        cache.commit(&["p.rpm".to_string()].into()).unwrap();
        let cache = Cache::open(&store).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["p.rpm.json"]);
        // A damaged record is no record.
        std::fs::write(store.join("p.rpm.json"), "{").unwrap();
        let (package, files) = cache.load("p.rpm");
        assert!(package.is_none() && files.into_stamps().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn remembered_hashes_are_checked_against_the_file() {
        let dir = scratch("stamps");
        let file = dir.join("a");
        settled(&file, "one");
        // Just changed: not remembered (the test then lifts the settling time).
        std::fs::write(dir.join("b"), "new").unwrap();
        let files = FileHashes::new(BTreeMap::new());
        files.hash(&dir.join("b")).unwrap();
        assert!(files.into_stamps().is_empty());
        let files = unsettled(FileHashes::new(BTreeMap::new()));
        let first = files.hash(&file).unwrap();
        let stamps = files.into_stamps();
        assert_eq!(stamps.len(), 1);
        let files = FileHashes::new(stamps.clone());
        assert_eq!(files.hash(&file).unwrap(), first);
        // A stamp not asked for in a run is not kept.
        assert!(FileHashes::new(stamps.clone()).into_stamps().is_empty());
        // Same size, same mtime, new content: the ctime tells.
        settled(&file, "two");
        let files = FileHashes::new(stamps);
        assert_ne!(files.hash(&file).unwrap().0, first.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
