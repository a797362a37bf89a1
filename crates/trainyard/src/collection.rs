//! A collection on disk: the output directory `build_rpms` writes, how a run replaces it as a
//! whole, and how a reader takes it.
//!
//! `<out>` (`target/rpms/<channel>` unless `--out` says otherwise) is a symbolic link to one
//! directory of a store kept beside it:
//!
//! ```text
//! target/rpms/prod -> .prod.collections/c-18c2f0a1b2c3d4e5-4242
//! target/rpms/.prod.collections/
//!     lock                  one run at a time writes <out> (flock); holds that run's pid
//!     previous -> c-...     what <out> showed before the last switch
//!     c-<run id>/           a collection: the RPMs, collection.json, .collections/<workspace>.json
//! ```
//!
//! A run, holding the lock, stages the whole new collection in a directory of its own,
//! `c-<run id>`: the packages that changed are encoded and written (and synced), the unchanged
//! ones and every file it does not own are hard links to the current ones. Only then is `<out>`
//! switched to it, by one `rename` of a symbolic link. A collection directory is never changed
//! once `<out>` points to it. The store keeps the current collection and the previous one;
//! anything else in it (the staging directory of a killed run) is removed by the next run.
//!
//! What a reader gets: whoever opens `<out>/collection.json`, lists `<out>` or globs
//! `<out>/*.rpm` sees the old collection or the new one, never a mix, and `collection.json`
//! names exactly the packages beside it, with their checksums. A reader that resolves `<out>`
//! once (`cd`, `realpath`; `release publish --from` does) keeps one consistent collection while
//! runs replace `<out>`: the directory it resolved stays until the second switch after it.
//! Staging directories live in the store, outside `<out>`, so no glob of `<out>`, no
//! `createrepo_c <out>` and no `release publish --from <out>` can see a half-made collection.
//!
//! A collection owns only the files its own manifest lists: every workspace writing into
//! `<out>` keeps its manifest in `<out>/.collections/<workspace>.json` (`collection.json` is
//! the one written last). A run replaces the files its workspace's previous manifest listed and
//! carries every other file over, so workspaces can share an `--out`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::error::{io, Error, Result};
use crate::rpmpkg::{self, cache, Compression, FileKind, Package, Written};
use crate::workspace::Workspace;

/// The manifest of the collection written last.
pub const MANIFEST: &str = "collection.json";
/// Where each workspace's own manifest is kept, inside the collection.
pub const OWNERS_DIR: &str = ".collections";
const LOCK: &str = "lock";
const PREVIOUS: &str = "previous";
/// Prefix of the store's collection directories (staged or linked).
const COLLECTION_PREFIX: &str = "c-";
/// What `createrepo_c DIR` adds to a directory of packages.
const REPODATA: &str = "repodata";
/// Where trainyard before collection directories staged packages, inside the output directory.
const OLD_STAGING: &str = ".trainyard-staging";
/// Suffix of a plain output directory moved into the store when it first became a link.
const MIGRATED_SUFFIX: &str = "-old";

/// The output directory of a collection, checked: where it is, and where its store is.
#[derive(Debug, Clone)]
pub struct Output {
    /// `<out>` as named (absolute): what messages show.
    pub path: Utf8PathBuf,
    /// `<out>` after following a link of the user's own (ours are not followed).
    real: Utf8PathBuf,
    /// `<parent>/.<name>.collections`.
    store: Utf8PathBuf,
}

impl Output {
    /// Checks an output directory before anything is built: it must name a directory (not a
    /// file, not the workspace or a directory holding it, not a mount point, not a directory of
    /// other things trainyard would turn into a link), and trainyard must be able to write
    /// beside it (see [`crate::access::can_create`]: asked, not tried). Every refusal is bad
    /// input (exit 2); the check creates nothing.
    pub fn check(path: &Utf8Path, ws: &Workspace) -> Result<Output> {
        let shown = path.as_str();
        // Without a trailing `/` (or `/.`), which would make the link `<out>` resolve as its target.
        let path: Utf8PathBuf = path.components().collect();
        let path = path.as_path();
        let help =
            "give --out a new or empty directory, or one build_rpms wrote before (default target/rpms/<channel>)";
        let refuse = |what: String| Error::usage(format!("--out {shown}: {what}")).with_help(help);
        let real = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(refuse("is not a directory: a file stands in its path".into()))
            }
            Err(e) => return Err(refuse(format!("cannot be read: {e}"))),
            Ok(m) if m.file_type().is_symlink() && link_is_ours(path) => path.to_path_buf(),
            Ok(m) if m.file_type().is_symlink() => match path.canonicalize_utf8() {
                Ok(target) if target.is_dir() => target,
                Ok(target) => return Err(refuse(format!("is a link to {target}, which is not a directory"))),
                Err(e) => return Err(refuse(format!("is a link to something that cannot be reached: {e}"))),
            },
            Ok(m) if m.is_dir() => path.to_path_buf(),
            Ok(_) => return Err(refuse("is a file, not a directory".into())),
        };
        // `dir/..` names the directory above: the same checks as for its own name.
        let real = match real.file_name() {
            None => real.canonicalize_utf8().unwrap_or(real),
            Some(_) => real,
        };
        let (Some(parent), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(refuse("does not name a directory trainyard can replace".into()));
        };
        let store = parent.join(format!(".{name}.collections"));
        let output = Output { path: path.to_path_buf(), real: real.clone(), store };

        if std::fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir()) {
            // A plain directory becomes a link to the store on the first run: only a directory
            // of packages may be taken over that way.
            let canonical = real.canonicalize_utf8().map_err(io(&real))?;
            let root = ws.root.canonicalize_utf8().unwrap_or_else(|_| ws.root.clone());
            if root.starts_with(&canonical) {
                return Err(refuse(format!("holds the workspace {}", ws.root)));
            }
            let parent_dev = std::fs::metadata(parent).map_err(io(parent))?.dev();
            if std::fs::metadata(&real).map_err(io(&real))?.dev() != parent_dev {
                return Err(refuse("is a mount point; trainyard replaces --out by a link to the collection".into())
                    .with_help(format!("give a directory inside it, such as {real}/rpms")));
            }
            let mut foreign = Vec::new();
            for entry in std::fs::read_dir(&real).map_err(io(&real))? {
                let entry = entry.map_err(io(&real))?;
                let file_name = entry.file_name().to_string_lossy().into_owned();
                let ours = [REPODATA, OWNERS_DIR, OLD_STAGING].contains(&file_name.as_str());
                if entry.file_type().map_err(io(&real))?.is_dir() && !ours {
                    foreign.push(file_name);
                }
            }
            if !foreign.is_empty() {
                foreign.sort();
                return Err(refuse(format!(
                    "holds directories ({}): it is not a directory of packages, and trainyard replaces --out by a link to the collection",
                    foreign.join(", ")
                )));
            }
            if canonical.starts_with(&root) {
                let tracked = crate::git::Git::new(&ws.root)
                    .try_read(&["ls-files", "--", canonical.as_str()])
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                if !tracked.trim().is_empty() {
                    return Err(refuse("holds files tracked by git".into()));
                }
            }
        }
        crate::access::can_create(&output.store)
            .map_err(|e| refuse(e).with_help("give --out a directory you can write in"))?;
        Ok(output)
    }

    /// Takes the lock of `<out>` (waiting, with a message, while another run holds it), then
    /// cleans what killed runs left in the store.
    pub fn lock(&self) -> Result<Locked> {
        {
            let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = held.iter_mut().find(|(s, _, _)| *s == self.store) {
                entry.1 += 1;
                return Ok(Locked { output: self.clone() });
            }
        }
        std::fs::create_dir_all(&self.store).map_err(io(&self.store))?;
        let path = self.store.join(LOCK);
        let mut file =
            File::options().read(true).write(true).create(true).truncate(false).open(&path).map_err(io(&path))?;
        let holder = || {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim().to_string();
            if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            }
        };
        let what = format!("the lock of the output directory {}{}", self.path, holder());
        crate::bounded::lock(&file, &path, &what, || {
            eprintln!("trainyard: waiting for another run writing {}{}; it holds {path}", self.path, holder());
        })?;
        file.set_len(0).map_err(io(&path))?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(io(&path))?;
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push((self.store.clone(), 1, file));
        let locked = Locked { output: self.clone() };
        locked.recover()?;
        Ok(locked)
    }
}

/// A collection to write into `<out>`: what [`crate::plan::Action::Collection`] carries.
#[derive(Debug, Clone)]
pub struct Write {
    pub output: Output,
    /// Whose collection it is (the workspace's name).
    pub owner: String,
    pub packages: Vec<(Package, crate::collection_manifest::Kind)>,
    pub compression: Compression,
    /// The fingerprint cache (see [`crate::rpmpkg::cache`]).
    pub cache: Option<Utf8PathBuf>,
    /// The manifest; its `packages` are filled in from what is written.
    pub manifest: crate::collection_manifest::Manifest,
}

impl PartialEq for Write {
    fn eq(&self, other: &Write) -> bool {
        self.output.path == other.output.path
            && self.owner == other.owner
            && self.packages == other.packages
            && self.compression == other.compression
            && self.cache == other.cache
            && serde_json::to_vec(&self.manifest).ok() == serde_json::to_vec(&other.manifest).ok()
    }
}

impl Eq for Write {}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.packages.iter().map(|(p, _)| p.file_name()).collect();
        write!(f, "{} ({} packages: {}, and {MANIFEST})", self.output.path, names.len(), names.join(", "))
    }
}

/// Writes a collection (the executor's body for [`crate::plan::Action::Collection`]): staged
/// whole under `<out>`'s lock, then switched in by one rename (see the module documentation).
pub fn write(w: &Write) -> Result<()> {
    let locked = w.output.lock()?;
    // References, not copies: the models of a large collection (one entry per packaged file)
    // are tens of megabytes.
    let only: Vec<&Package> = w.packages.iter().map(|(p, _)| p).collect();
    let writing = std::time::Instant::now();
    let phase = crate::ui::Phase::counted(format!("writing {} packages", only.len()), only.len());
    let staged = locked.stage(&w.owner, &only, w.compression, w.cache.as_deref())?;
    phase.elapsed();
    let written = &staged.written;
    for x in written {
        crate::ui::event(serde_json::json!({
            "reason": "package-written", "file": x.path, "nevra": x.nevra, "sha256": x.sha256,
            "unchanged": x.unchanged, "from_cache": x.from_cache,
        }));
    }
    let encoded = written.iter().filter(|x| !x.from_cache).count();
    eprintln!(
        "trainyard: {} packages ({encoded} encoded, {} from the cache) in {:.1} s, {:?}, {} threads",
        written.len(),
        written.len() - encoded,
        writing.elapsed().as_secs_f64(),
        w.compression,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let changed = written.iter().filter(|x| !x.unchanged).count();
    let cached = written.iter().filter(|x| x.from_cache).count();
    let what = if changed == 0 {
        format!("nothing changed, nothing rewritten ({cached} of {} taken from the cache)", written.len())
    } else {
        format!("{changed} written, {} unchanged ({cached} taken from the cache)", written.len() - changed)
    };
    eprintln!("trainyard: {} packages in {}: {what}", written.len(), w.output.path);
    let mut manifest = w.manifest.clone();
    manifest.packages = written
        .iter()
        .zip(&w.packages)
        .map(|(x, (p, kind))| crate::collection_manifest::Entry::of(x, p, *kind, &w.output.path))
        .collect();
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    staged.commit(&json)?;
    Ok(())
}

/// Whether `path` is a link trainyard made: `.<name>.collections/c-...`, beside it.
fn link_is_ours(path: &Utf8Path) -> bool {
    let (Ok(target), Some(name)) = (std::fs::read_link(path), path.file_name()) else { return false };
    let parts: Vec<_> = target.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.len() == 2 && parts[0] == format!(".{name}.collections") && parts[1].starts_with(COLLECTION_PREFIX)
}

/// `<out>`, locked: no other trainyard run writes it until this is dropped. Re-entrant within a
/// process (the run that holds it writes the collection through its plan's executor).
pub struct Locked {
    output: Output,
}

/// The output locks this process holds: store, how many holders, the locked file.
static HELD: std::sync::Mutex<Vec<(Utf8PathBuf, usize, File)>> = std::sync::Mutex::new(Vec::new());

impl Drop for Locked {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|(s, _, _)| *s == self.output.store) {
            held[i].1 -= 1;
            if held[i].1 == 0 {
                // Closing the file releases the lock.
                held.swap_remove(i);
            }
        }
    }
}

impl Locked {
    /// The directory `<out>` shows now: a collection of the store, a plain directory (before
    /// trainyard's first run into it), or nothing.
    pub fn current(&self) -> Option<Utf8PathBuf> {
        let real = &self.output.real;
        let meta = std::fs::symlink_metadata(real).ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(real).ok()?;
            let name = target.file_name()?.to_str()?;
            let dir = self.output.store.join(name);
            return dir.is_dir().then_some(dir);
        }
        meta.is_dir().then(|| real.clone())
    }

    /// Removes what killed runs left: staging directories, temporary links, and collections
    /// older than the previous one. A run killed between the two renames that turned a plain
    /// `<out>` into a link left `<out>` missing: the plain directory is linked back.
    fn recover(&self) -> Result<()> {
        let store = &self.output.store;
        let previous = read_link_name(&store.join(PREVIOUS));
        if std::fs::symlink_metadata(&self.output.real).is_err() {
            if let Some(prev) = previous.as_deref().filter(|p| p.ends_with(MIGRATED_SUFFIX)) {
                if store.join(prev).is_dir() {
                    self.link(prev)?;
                }
            }
        }
        let current = self.current().and_then(|c| c.file_name().map(String::from));
        self.remove_collections_but(&[current.as_deref(), previous.as_deref()])
    }

    /// Removes every collection directory and temporary link of the store except `keep`.
    fn remove_collections_but(&self, keep: &[Option<&str>]) -> Result<()> {
        let store = &self.output.store;
        for entry in std::fs::read_dir(store).map_err(io(store))? {
            let entry = entry.map_err(io(store))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = store.join(&name);
            if name.starts_with(COLLECTION_PREFIX) && !keep.contains(&Some(name.as_str())) {
                remove_tree(&path)?;
            } else if name.starts_with("link-") {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    /// Points `<out>` at the store's collection `name`, with one rename.
    fn link(&self, name: &str) -> Result<()> {
        let out = &self.output.real;
        let tmp = self.output.store.join(format!("link-{}", run_id()));
        let target = format!("{}/{name}", self.output.store.file_name().expect("store has a name"));
        std::os::unix::fs::symlink(&target, &tmp).map_err(io(&tmp))?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::rename(&tmp, out).map_err(io(out))?;
        if let Some(parent) = out.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    /// Stages the collection of `owner` (a workspace's name): each package of `pkgs` encoded
    /// (in parallel, the largest first) unless the fingerprint cache at `cache_path` or the
    /// current bytes show it unchanged, every file of other owners carried over. `<out>` does
    /// not change until [`Staged::commit`].
    pub fn stage<P: std::borrow::Borrow<Package> + Sync>(
        &self,
        owner: &str,
        pkgs: &[P],
        compression: Compression,
        cache_path: Option<&Utf8Path>,
    ) -> Result<Staged<'_>> {
        compression.validate()?;
        let mut names = BTreeSet::new();
        for p in pkgs.iter().map(P::borrow) {
            p.validate()?;
            if !names.insert(p.file_name()) {
                return Err(Error::usage(format!("two packages of the collection are both {}", p.file_name()))
                    .with_help("give each packaged crate its own RPM name ([package.metadata.trainyard.rpm] name)"));
            }
        }
        let owner = owner_file_name(owner);
        let current = self.current();
        let owners = current.as_deref().map(read_owners).unwrap_or_default();
        let dir = self.output.store.join(format!("{COLLECTION_PREFIX}{}", run_id()));
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        let mut staged =
            Staged { locked: self, dir, owner, current, owners, written: Vec::new(), cache: None, done: false };
        staged.packages(pkgs, compression, cache_path)?;
        staged.check_conflicts()?;
        staged.carry_over()?;
        Ok(staged)
    }
}

/// A file of the source release (`dist`) listed in a collection beside its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where the file is now (it is hard-linked, or copied, into the collection).
    pub path: Utf8PathBuf,
    /// `source-tarball` or `source-rpm`.
    pub kind: &'static str,
    pub sha256: String,
    pub size: u64,
}

/// Source release files to list in the collection of `owner` at `output`: what
/// [`crate::plan::Action::ListSources`] carries.
#[derive(Debug, Clone)]
pub struct Listing {
    pub output: Output,
    pub owner: String,
    pub sources: Vec<Source>,
}

impl PartialEq for Listing {
    fn eq(&self, other: &Listing) -> bool {
        self.output.path == other.output.path && self.owner == other.owner && self.sources == other.sources
    }
}

impl Eq for Listing {}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sources.iter().filter_map(|s| s.path.file_name()).collect();
        write!(f, "{} in {}/{MANIFEST} (a new collection directory, one rename)", names.join(" and "), self.output.path)
    }
}

/// Lists source release files in a collection (the executor's body for
/// [`crate::plan::Action::ListSources`]), under `<out>`'s lock.
pub fn list_sources(l: &Listing) -> Result<()> {
    l.output.lock()?.add_sources(&l.owner, &l.sources).map(|_| ())
}

impl Locked {
    /// A new collection: the current one, with `sources` listed by the collection of `owner`
    /// (its manifest's `sources`, replacing the ones it listed before), switched in with one
    /// rename as `build_rpms` does. The sources belong to `owner`'s collection until its next
    /// `build_rpms`, which drops them. Returns whether `<out>` changed.
    pub fn add_sources(&self, owner: &str, sources: &[Source]) -> Result<bool> {
        let out = &self.output.path;
        let help = "run build_rpms for the channel first (the whole-path release does), then dist";
        let Some(current) = self.current() else {
            return Err(
                Error::usage(format!("{out} holds no collection to list the source release in")).with_help(help)
            );
        };
        let owner = owner_file_name(owner);
        let owners = read_owners(&current);
        let Some((mine, _)) = owners.get(&owner) else {
            return Err(Error::usage(format!("{out} holds no collection of {owner}")).with_help(help));
        };
        let mut manifest: serde_json::Value =
            serde_json::from_slice(mine).map_err(|e| Error::failed(format!("{out}/{OWNERS_DIR}/{owner}.json: {e}")))?;
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                s.path.file_name().map(String::from).ok_or_else(|| Error::failed(format!("{} has no name", s.path)))
            })
            .collect::<Result<_>>()?;
        for (name, source) in names.iter().zip(sources) {
            let clash = owners.iter().filter(|(o, _)| **o != owner).find_map(|(o, (_, listed))| {
                listed.iter().any(|l| &l.file == name && l.sha256 != source.sha256).then_some(o)
            });
            if let Some(other) = clash {
                return Err(Error::usage(format!(
                    "{out}: {name} is also in the collection of {other}, with other bytes"
                ))
                .with_help("give each workspace its own --out"));
            }
        }
        let listed = serde_json::Value::Array(
            names
                .iter()
                .zip(sources)
                .map(
                    |(name, s)| serde_json::json!({ "file": name, "kind": s.kind, "sha256": s.sha256, "size": s.size }),
                )
                .collect(),
        );
        manifest["sources"] = listed;
        let mut bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        bytes.push(b'\n');

        let dir = self.output.store.join(format!("{COLLECTION_PREFIX}{}", run_id()));
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        let staged = Staged {
            locked: self,
            dir: dir.clone(),
            owner: owner.clone(),
            current: Some(current.clone()),
            owners: owners.clone(),
            written: Vec::new(),
            cache: None,
            done: false,
        };
        let my_old_sources: BTreeSet<String> = parse_sources(mine).into_iter().map(|l| l.file).collect();
        for entry in std::fs::read_dir(&current).map_err(io(&current))? {
            let entry = entry.map_err(io(&current))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if [MANIFEST, OWNERS_DIR, OLD_STAGING].contains(&name.as_str())
                || names.contains(&name)
                || my_old_sources.contains(&name)
            {
                continue;
            }
            copy_tree(&current.join(&name), &dir.join(&name))?;
        }
        for (name, source) in names.iter().zip(sources) {
            link_or_copy(&source.path, &dir.join(name))?;
        }
        let owners_dir = dir.join(OWNERS_DIR);
        for (other, (bytes, _)) in owners.iter().filter(|(o, _)| **o != owner) {
            std::fs::create_dir_all(&owners_dir).map_err(io(&owners_dir))?;
            write_synced(&owners_dir.join(format!("{other}.json")), bytes)?;
        }
        staged.commit(&bytes)
    }
}

/// The source release files a manifest lists (`sources[].file`, `sha256`, `size`), if any.
pub fn parse_sources(bytes: &[u8]) -> Vec<Listed> {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Vec::new() };
    let Some(sources) = json["sources"].as_array() else { return Vec::new() };
    sources
        .iter()
        .filter_map(|s| {
            Some(Listed {
                file: s["file"].as_str()?.to_string(),
                sha256: s["sha256"].as_str()?.to_string(),
                size: s["size"].as_u64().unwrap_or(0),
            })
        })
        .collect()
}

/// The name a link in the store points to.
fn read_link_name(path: &Utf8Path) -> Option<String> {
    std::fs::read_link(path).ok()?.file_name()?.to_str().map(String::from)
}

/// A name unique to this run: the time in nanoseconds and the pid.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{}", std::process::id())
}

/// A workspace's name as a file name (anything but `[A-Za-z0-9._-]` becomes `_`).
fn owner_file_name(owner: &str) -> String {
    let name: String = owner
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "workspace".into()
    } else {
        name.to_string()
    }
}

/// A file a collection's manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

/// The packages a manifest lists (`packages[].file`, `sha256`, `size`).
pub fn parse_manifest(bytes: &[u8]) -> std::result::Result<Vec<Listed>, String> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let packages = json["packages"].as_array().ok_or("it has no `packages` list")?;
    packages
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().map(String::from).ok_or(format!("a package has no `{k}`"));
            Ok(Listed { file: field("file")?, sha256: field("sha256")?, size: p["size"].as_u64().unwrap_or(0) })
        })
        .collect()
}

/// Each owner's manifest in the collection at `dir`, by owner file name. A directory written by
/// an older trainyard has only `collection.json`: its workspace owns what it lists.
fn read_owners(dir: &Utf8Path) -> BTreeMap<String, (Vec<u8>, Vec<Listed>)> {
    let mut out = BTreeMap::new();
    let owners = dir.join(OWNERS_DIR);
    if let Ok(entries) = std::fs::read_dir(&owners) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.strip_suffix(".json") else { continue };
            let Ok(bytes) = std::fs::read(entry.path()) else { continue };
            // A collection owns its packages and the source release it lists.
            let mut listed = parse_manifest(&bytes).unwrap_or_default();
            listed.extend(parse_sources(&bytes));
            out.insert(owner.to_string(), (bytes, listed));
        }
        return out;
    }
    if let Ok(bytes) = std::fs::read(dir.join(MANIFEST)) {
        let workspace = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|j| j["workspace"].as_str().map(owner_file_name));
        if let (Some(owner), Ok(listed)) = (workspace, parse_manifest(&bytes)) {
            out.insert(owner, (bytes, listed));
        }
    }
    out
}

/// A collection staged in the store, not yet shown: dropping it without [`Staged::commit`]
/// removes it and leaves `<out>` as it was.
pub struct Staged<'a> {
    locked: &'a Locked,
    dir: Utf8PathBuf,
    owner: String,
    current: Option<Utf8PathBuf>,
    owners: BTreeMap<String, (Vec<u8>, Vec<Listed>)>,
    /// One per package, in the order given; `path` is the package's path under `<out>`.
    pub written: Vec<Written>,
    cache: Option<cache::Cache>,
    done: bool,
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_tree(&self.dir);
        }
    }
}

impl Staged<'_> {
    fn packages<P: std::borrow::Borrow<Package> + Sync>(
        &mut self,
        pkgs: &[P],
        compression: Compression,
        cache_path: Option<&Utf8Path>,
    ) -> Result<()> {
        let cache = cache_path.map(cache::Cache::open).transpose()?;
        let out = &self.locked.output.path;
        let dir = &self.dir;
        let current = self.current.as_deref();
        // The largest first: sizes of the inputs stand in for the work each package is.
        let weight = |p: &Package| -> u64 {
            p.files
                .iter()
                .filter(|f| f.kind != FileKind::Dir)
                .filter_map(|f| std::fs::metadata(&f.source).ok())
                .map(|m| m.len())
                .sum()
        };
        let weights: Vec<u64> = pkgs.iter().map(|p| weight(p.borrow())).collect();
        let mut order: Vec<usize> = (0..pkgs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));

        let prepare = |i: usize| -> Result<Written> {
            let pkg: &Package = pkgs[i].borrow();
            let name = pkg.file_name();
            let (known, files) = match &cache {
                Some(cache) => cache.load(&name),
                None => (None, cache::FileHashes::new(BTreeMap::new())),
            };
            let fingerprint = cache::fingerprint(pkg, compression, &files)?;
            let staged = dir.join(&name);
            let now = current.map(|c| c.join(&name));
            let reused = match (known.filter(|c| c.fingerprint == fingerprint), &now) {
                (Some(c), Some(now)) if rpmpkg::same_content(now, c.size, &c.sha256) => {
                    link_or_copy(now, &staged)?;
                    Some(Written {
                        path: out.join(&name),
                        nevra: c.nevra,
                        sha256: c.sha256,
                        size: c.size,
                        provides: c.provides,
                        requires: c.requires,
                        unchanged: true,
                        from_cache: true,
                    })
                }
                _ => None,
            };
            let w = match reused {
                Some(w) => w,
                None => {
                    // Streamed into the staging directory; replaced by a link when the current
                    // file has the same bytes.
                    let mut w = rpmpkg::encode_into(pkg, &staged, compression)?;
                    if let Some(now) = now.as_ref().filter(|now| rpmpkg::same_content(now, w.size, &w.sha256)) {
                        std::fs::remove_file(&staged).map_err(io(&staged))?;
                        link_or_copy(now, &staged)?;
                        w.unchanged = true;
                    }
                    w.path = out.join(&name);
                    w
                }
            };
            if let Some(cache) = &cache {
                let record = cache::Cached {
                    fingerprint,
                    nevra: w.nevra.clone(),
                    sha256: w.sha256.clone(),
                    size: w.size,
                    provides: w.provides.clone(),
                    requires: w.requires.clone(),
                };
                cache.stage(&name, record, files)?;
            }
            Ok(w)
        };
        self.written = rpmpkg::first_error(rpmpkg::parallel(pkgs.len(), &order, |i| {
            let result = prepare(i);
            crate::ui::tick(&pkgs[i].borrow().name);
            result
        }))?;
        self.cache = cache;
        Ok(())
    }

    /// A package of this collection whose name another workspace's collection in `<out>` lists
    /// with other bytes is refused: one of the two collections would no longer match its files.
    fn check_conflicts(&self) -> Result<()> {
        let mut clashes = Vec::new();
        for w in &self.written {
            let name = w.path.file_name().unwrap_or_default();
            for (owner, (_, listed)) in self.owners.iter().filter(|(o, _)| **o != self.owner) {
                if listed.iter().any(|l| l.file == name && l.sha256 != w.sha256) {
                    clashes.push(format!("{name} (also in the collection of {owner})"));
                }
            }
        }
        if clashes.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{}: another workspace's collection there has packages of the same names:\n  - {}",
            self.locked.output.path,
            clashes.join("\n  - ")
        ))
        .with_help("give each workspace its own --out"))
    }

    /// Carries over from the current directory everything this collection does not own: the
    /// other workspaces' files and manifests, and files no manifest lists.
    fn carry_over(&self) -> Result<()> {
        let Some(current) = &self.current else { return Ok(()) };
        let mine: BTreeSet<&str> = self.written.iter().filter_map(|w| w.path.file_name()).collect();
        let others: BTreeSet<&str> = self
            .owners
            .iter()
            .filter(|(o, _)| **o != self.owner)
            .flat_map(|(_, (_, listed))| listed.iter().map(|l| l.file.as_str()))
            .collect();
        let previously_mine: BTreeSet<&str> = self
            .owners
            .get(&self.owner)
            .map(|(_, listed)| listed.iter().map(|l| l.file.as_str()).collect())
            .unwrap_or_default();
        for entry in std::fs::read_dir(current).map_err(io(current))? {
            let entry = entry.map_err(io(current))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let dropped = previously_mine.contains(name.as_str()) && !others.contains(name.as_str());
            if [MANIFEST, OWNERS_DIR, OLD_STAGING].contains(&name.as_str()) || mine.contains(name.as_str()) || dropped {
                continue;
            }
            copy_tree(&current.join(&name), &self.dir.join(&name))?;
        }
        let owners_dir = self.dir.join(OWNERS_DIR);
        for (owner, (bytes, _)) in self.owners.iter().filter(|(o, _)| **o != self.owner) {
            std::fs::create_dir_all(&owners_dir).map_err(io(&owners_dir))?;
            let from = current.join(OWNERS_DIR).join(format!("{owner}.json"));
            let to = owners_dir.join(format!("{owner}.json"));
            if from.is_file() {
                link_or_copy(&from, &to)?;
            } else {
                write_synced(&to, bytes)?;
            }
        }
        Ok(())
    }

    /// Writes the collection's manifest and shows the staged collection: `<out>` switches to it
    /// with one rename. A collection identical to the current one is dropped instead, and
    /// `<out>` is not touched. Returns whether `<out>` changed.
    pub fn commit(mut self, manifest: &[u8]) -> Result<bool> {
        let owners_dir = self.dir.join(OWNERS_DIR);
        std::fs::create_dir_all(&owners_dir).map_err(io(&owners_dir))?;
        write_synced(&owners_dir.join(format!("{}.json", self.owner)), manifest)?;
        write_synced(&self.dir.join(MANIFEST), manifest)?;
        let locked = self.locked;
        let store = &locked.output.store;
        let migrating = self.current.as_ref().is_some_and(|c| c == &locked.output.real);
        let changed = match &self.current {
            Some(current) => migrating || !same_tree(current, &self.dir)?,
            None => true,
        };
        if changed {
            sync_dir(&owners_dir);
            sync_dir(&self.dir);
            let name = self.dir.file_name().expect("a collection has a name").to_string();
            // What <out> shows now stays, as the previous collection, until the next switch.
            let previous = match &self.current {
                Some(_) if migrating => Some(format!("{name}{MIGRATED_SUFFIX}")),
                Some(current) => current.file_name().map(String::from),
                None => None,
            };
            if let Some(previous) = &previous {
                let tmp = store.join(format!("link-{}", run_id()));
                std::os::unix::fs::symlink(previous, &tmp).map_err(io(&tmp))?;
                std::fs::rename(&tmp, store.join(PREVIOUS)).map_err(io(store.join(PREVIOUS)))?;
            }
            if migrating {
                // A plain directory cannot be replaced by a link in one rename: it moves into the
                // store first. A run killed between the two renames is repaired by the next one.
                let moved = store.join(previous.as_deref().expect("set when migrating"));
                std::fs::rename(&locked.output.real, &moved).map_err(io(&locked.output.real))?;
            }
            locked.link(&name)?;
            self.done = true;
            locked.remove_collections_but(&[Some(name.as_str()), previous.as_deref()])?;
        }
        if let Some(cache) = self.cache.take() {
            let names = self.written.iter().filter_map(|w| w.path.file_name()).map(String::from).collect();
            cache.commit(&names)?;
        }
        Ok(changed)
    }
}

/// Whether two collection directories hold the same entries with the same bytes (hard links of
/// one another, or equal content).
fn same_tree(a: &Utf8Path, b: &Utf8Path) -> Result<bool> {
    let list = |dir: &Utf8Path| -> Result<BTreeMap<String, std::fs::Metadata>> {
        let mut out = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let meta = entry.metadata().map_err(io(dir))?;
            out.insert(entry.file_name().to_string_lossy().into_owned(), meta);
        }
        Ok(out)
    };
    let (la, lb) = (list(a)?, list(b)?);
    if la.keys().ne(lb.keys()) {
        return Ok(false);
    }
    for (name, ma) in &la {
        let mb = &lb[name];
        let (pa, pb) = (a.join(name), b.join(name));
        let same = if ma.is_dir() && mb.is_dir() {
            same_tree(&pa, &pb)?
        } else if ma.file_type().is_symlink() || mb.file_type().is_symlink() {
            std::fs::read_link(&pa).ok() == std::fs::read_link(&pb).ok()
        } else if ma.is_file() && mb.is_file() {
            (ma.dev(), ma.ino()) == (mb.dev(), mb.ino())
                || (ma.len() == mb.len()
                    && ma.permissions().mode() == mb.permissions().mode()
                    && std::fs::read(&pa).map_err(io(&pa))? == std::fs::read(&pb).map_err(io(&pb))?)
        } else {
            false
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Hard-links `from` to `to` (a new name), or copies it where a link cannot be made.
fn link_or_copy(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(io(to))?;
    File::open(to).and_then(|f| f.sync_all()).map_err(io(to))
}

/// Recreates `from` at `to`: directories made anew, files hard-linked (or copied), links
/// remade; anything else is left out.
fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(from).map_err(io(from))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(io(from))?;
        std::os::unix::fs::symlink(target, to).map_err(io(to))
    } else if meta.is_dir() {
        std::fs::create_dir(to).map_err(io(to))?;
        std::fs::set_permissions(to, meta.permissions()).map_err(io(to))?;
        for entry in std::fs::read_dir(from).map_err(io(from))? {
            let entry = entry.map_err(io(from))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            copy_tree(&from.join(&name), &to.join(&name))?;
        }
        Ok(())
    } else if meta.is_file() {
        link_or_copy(from, to)
    } else {
        Ok(())
    }
}

/// Writes a new file, world-readable like rpmbuild's output, and syncs it to disk.
fn write_synced(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Syncs a directory's entries to disk (best effort: a crash, not a kill, needs it).
fn sync_dir(dir: &Utf8Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Removes a directory tree, or a file; what is already gone is fine.
fn remove_tree(path: &Utf8Path) -> Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// A collection as a reader takes it: the directory `dir` resolved once, and the packages its
/// `collection.json` lists, each checked to exist with its recorded size. Nothing else in the
/// directory is part of it. (Checksums are the caller's to check when it reads the bytes.)
pub fn read(dir: &Utf8Path) -> Result<(Utf8PathBuf, Vec<Listed>)> {
    let help = "build it with build_rpms (--out DIR), and give that directory";
    let real = match dir.canonicalize_utf8() {
        Ok(real) if real.is_dir() => real,
        Ok(_) => return Err(Error::usage(format!("the collection {dir} is not a directory")).with_help(help)),
        Err(_) => return Err(Error::usage(format!("the collection {dir} does not exist")).with_help(help)),
    };
    let manifest = real.join(MANIFEST);
    let bytes = match std::fs::read(&manifest) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!("{dir} holds no {MANIFEST}: it is not a collection")).with_help(help))
        }
        Err(e) => return Err(io(&manifest)(e)),
    };
    let listed = parse_manifest(&bytes).map_err(|e| Error::failed(format!("{dir}/{MANIFEST}: {e}")))?;
    for l in listed.iter().chain(&parse_sources(&bytes)) {
        if l.file.is_empty() || l.file.contains('/') || l.file.starts_with('.') {
            return Err(Error::failed(format!(
                "{dir}/{MANIFEST} lists `{}`, which is not a file of the collection",
                l.file
            )));
        }
        let path = real.join(&l.file);
        let size = std::fs::symlink_metadata(&path).ok().filter(|m| m.is_file()).map(|m| m.len());
        if size != Some(l.size) {
            return Err(Error::failed(format!(
                "{dir}/{} does not match {MANIFEST} (missing, or not the size it lists)",
                l.file
            ))
            .with_help("the collection was changed by something other than build_rpms: build it again"));
        }
    }
    Ok((real, listed))
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmpkg::FileEntry;

    fn scratch(name: &str) -> Utf8PathBuf {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("trainyard-collection-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A package of one file `dir/NAME` holding `text` (a missing file when `None`).
    fn one_file(dir: &Utf8Path, name: &str, text: Option<&str>) -> Package {
        let source = dir.join(name);
        if let Some(text) = text {
            std::fs::write(&source, text).unwrap();
        }
        Package {
            name: name.into(),
            version: "1.3~~dev5".into(),
            release: "1".into(),
            arch: "noarch".into(),
            summary: "A demo".into(),
            license: "MIT".into(),
            files: vec![FileEntry::new(source, format!("/usr/share/{name}/{name}.txt"), 0o644, FileKind::Regular)],
            ..Package::default()
        }
    }

    /// Every entry under `dir`, hidden ones too: relative path, bytes (files), mtime.
    fn listing(dir: &Utf8Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries {
                let path = Utf8PathBuf::from_path_buf(e.unwrap().path()).unwrap();
                let meta = std::fs::metadata(&path).unwrap();
                let rel = path.strip_prefix(dir).unwrap().to_string();
                if meta.is_dir() {
                    stack.push(path.clone());
                    out.push((rel, Vec::new(), meta.modified().unwrap()));
                } else {
                    out.push((rel, std::fs::read(&path).unwrap(), meta.modified().unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    /// The collection directories of a store (staged or linked).
    fn collections(store: &Utf8Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(store)
            .map(|es| es.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
            .unwrap_or_default();
        out.retain(|n| n.starts_with(COLLECTION_PREFIX));
        out.sort();
        out
    }

    /// Writes `pkgs` as `owner`'s collection into `out`, with a manifest naming them.
    fn write(out: &Utf8Path, owner: &str, pkgs: &[Package], cache: &Utf8Path) -> Result<(Vec<Written>, bool)> {
        let ws = Workspace::detached(out.parent().unwrap());
        let locked = Output::check(out, &ws)?.lock()?;
        let staged = locked.stage(owner, pkgs, Compression::Zstd(3), Some(cache))?;
        let packages: Vec<serde_json::Value> = staged
            .written
            .iter()
            .map(|w| serde_json::json!({"file": w.path.file_name(), "sha256": w.sha256, "size": w.size}))
            .collect();
        let written = staged.written.clone();
        let json = serde_json::to_vec(&serde_json::json!({"workspace": owner, "packages": packages})).unwrap();
        let changed = staged.commit(&json)?;
        Ok((written, changed))
    }

    #[test]
    fn a_collection_is_switched_whole_and_reused_from_the_cache() {
        let dir = scratch("whole");
        let out = dir.join("out");
        let store = dir.join(".out.collections");
        let cache = dir.join("cache.json");
        let good: Vec<Package> = (0..4).map(|i| one_file(&dir, &format!("good{i}"), Some("text"))).collect();
        let mut with_bad = good.clone();
        with_bad.insert(2, one_file(&dir, "missing", None));

        // A failure leaves no output directory behind, and no staged collection.
        let err = write(&out, "ws", &with_bad, &cache).unwrap_err();
        assert!(err.message.contains("missing"), "{}", err.message);
        assert!(std::fs::symlink_metadata(&out).is_err());
        assert!(collections(&store).is_empty());
        assert!(!cache.exists());

        let (first, changed) = write(&out, "ws", &good, &cache).unwrap();
        assert!(changed);
        assert!(first.iter().all(|w| !w.unchanged && !w.from_cache && w.path.parent() == Some(&out)));
        assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        let before = listing(&out);
        let names: Vec<&str> = before.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                ".collections",
                ".collections/ws.json",
                "collection.json",
                "good0-1.3~~dev5-1.noarch.rpm",
                "good1-1.3~~dev5-1.noarch.rpm",
                "good2-1.3~~dev5-1.noarch.rpm",
                "good3-1.3~~dev5-1.noarch.rpm"
            ]
        );
        let link = std::fs::read_link(&out).unwrap();

        // ...and, once there, a failure leaves it exactly as it was.
        let mut changed_pkgs = with_bad.clone();
        changed_pkgs[0] = one_file(&dir, "good0", Some("new text"));
        write(&out, "ws", &changed_pkgs, &cache).unwrap_err();
        assert_eq!(listing(&out), before);
        assert_eq!(std::fs::read_link(&out).unwrap(), link);
        assert_eq!(collections(&store).len(), 1);
        std::fs::write(dir.join("good0"), "text").unwrap();

        // Nothing changed: nothing encoded, nothing written, no switch (named with a trailing
        // `/`, which resolves the link: still the link that is switched, not its target).
        let (again, changed) = write(&dir.join("out/"), "ws", &good, &cache).unwrap();
        assert!(!changed);
        assert!(again.iter().all(|w| w.unchanged && w.from_cache));
        assert_eq!(
            again.iter().map(|w| &w.sha256).collect::<Vec<_>>(),
            first.iter().map(|w| &w.sha256).collect::<Vec<_>>()
        );
        assert_eq!(listing(&out), before);
        assert_eq!(std::fs::read_link(&out).unwrap(), link);

        // A changed input is encoded again, the rest comes from the cache, as hard links of the
        // files the previous collection has; that one stays in the store as the previous.
        std::fs::write(dir.join("good1"), "other text").unwrap();
        let (third, changed) = write(&out, "ws", &good, &cache).unwrap();
        assert!(changed);
        let cached: Vec<bool> = third.iter().map(|w| w.from_cache).collect();
        assert_eq!(cached, [true, false, true, true]);
        assert_ne!(third[1].sha256, first[1].sha256);
        let old = store.join(link.file_name().unwrap().to_str().unwrap());
        let ino = |p: &Utf8Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&out.join(good[0].file_name())), ino(&old.join(good[0].file_name())));
        assert_eq!(listing(&old), before, "the previous collection was changed");
        assert_eq!(collections(&store).len(), 2);

        // A file damaged in place is not trusted from the cache; the oldest collection goes.
        std::fs::remove_file(out.join(good[2].file_name())).unwrap();
        std::fs::write(out.join(good[2].file_name()), "damaged").unwrap();
        let (fourth, _) = write(&out, "ws", &good, &cache).unwrap();
        assert!(!fourth[2].from_cache && !fourth[2].unchanged);
        assert_eq!(fourth[2].sha256, first[2].sha256);
        assert_eq!(collections(&store).len(), 2);
        assert!(!old.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn workspaces_sharing_an_output_directory_keep_each_others_files() {
        let dir = scratch("shared");
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        // A file of another tool, there before trainyard's first run.
        std::fs::write(out.join("other-team-9.9-1.x86_64.rpm"), "not ours").unwrap();
        let a1 = one_file(&dir, "alpha", Some("a1"));
        let b = one_file(&dir, "beta", Some("b"));
        write(&out, "alpha-ws", std::slice::from_ref(&a1), &dir.join("a.json")).unwrap();
        write(&out, "beta-ws", std::slice::from_ref(&b), &dir.join("b.json")).unwrap();
        // alpha renames its package: its old file goes, beta's and the other team's stay.
        let mut a2 = one_file(&dir, "alpha", Some("a2"));
        a2.name = "alpha2".into();
        write(&out, "alpha-ws", &[a2.clone()], &dir.join("a.json")).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".collections",
                "alpha2-1.3~~dev5-1.noarch.rpm",
                "beta-1.3~~dev5-1.noarch.rpm",
                "collection.json",
                "other-team-9.9-1.x86_64.rpm"
            ]
        );
        assert_eq!(std::fs::read(out.join("other-team-9.9-1.x86_64.rpm")).unwrap(), b"not ours");
        let owned =
            |o: &str| parse_manifest(&std::fs::read(out.join(OWNERS_DIR).join(format!("{o}.json"))).unwrap()).unwrap();
        assert_eq!(owned("beta-ws")[0].file, b.file_name());
        assert_eq!(owned("alpha-ws")[0].file, a2.file_name());
        // collection.json is the collection written last; publish reads only what it lists.
        let (real, listed) = read(&out).unwrap();
        assert_eq!(real, out.canonicalize_utf8().unwrap());
        assert_eq!(listed.iter().map(|l| l.file.as_str()).collect::<Vec<_>>(), [a2.file_name()]);

        // beta may not take alpha's package name with other bytes: refused, nothing changed.
        let before = listing(&out);
        let mut clash = one_file(&dir, "alpha", Some("clash"));
        clash.name = "alpha2".into();
        let err = write(&out, "beta-ws", &[clash], &dir.join("b.json")).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(
            err.message.contains("alpha2-1.3~~dev5-1.noarch.rpm (also in the collection of alpha-ws)"),
            "{}",
            err.message
        );
        assert_eq!(listing(&out), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_a_killed_run_left_is_cleaned_or_repaired_by_the_next() {
        let dir = scratch("killed");
        let out = dir.join("out");
        let store = dir.join(".out.collections");
        let cache = dir.join("cache.json");
        let p = one_file(&dir, "p", Some("p"));
        write(&out, "ws", std::slice::from_ref(&p), &cache).unwrap();
        let link = std::fs::read_link(&out).unwrap();
        // A staging directory and a temporary link of a run killed before its switch.
        std::fs::create_dir_all(store.join("c-dead-1")).unwrap();
        std::fs::write(store.join("c-dead-1").join("p-1.3~~dev5-1.noarch.rpm"), "half").unwrap();
        std::os::unix::fs::symlink("nowhere", store.join("link-dead-1")).unwrap();
        let ws = Workspace::detached(&dir);
        let locked = Output::check(&out, &ws).unwrap().lock().unwrap();
        assert_eq!(collections(&store), [link.file_name().unwrap().to_str().unwrap()]);
        assert!(!store.join("link-dead-1").exists());
        drop(locked);

        // A run killed between the two renames that turn a plain directory into a link.
        let plain = dir.join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::write(plain.join("x.rpm"), "x").unwrap();
        let plain_store = dir.join(".plain.collections");
        std::fs::create_dir_all(&plain_store).unwrap();
        std::fs::rename(&plain, plain_store.join("c-1-2-old")).unwrap();
        std::os::unix::fs::symlink("c-1-2-old", plain_store.join(PREVIOUS)).unwrap();
        let locked = Output::check(&plain, &ws).unwrap().lock().unwrap();
        assert_eq!(std::fs::read(plain.join("x.rpm")).unwrap(), b"x");
        drop(locked);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_plain_directory_of_an_earlier_trainyard_becomes_a_link_keeping_other_files() {
        let dir = scratch("plain");
        let out = dir.join("out");
        std::fs::create_dir_all(out.join(".trainyard-staging")).unwrap();
        std::fs::write(out.join(".trainyard-staging/half.rpm"), "staged by a killed run").unwrap();
        std::fs::write(out.join("old-1-1.noarch.rpm"), "old").unwrap();
        std::fs::write(out.join("other-team-9.9-1.x86_64.rpm"), "not ours").unwrap();
        let old = serde_json::json!({"workspace": "ws", "packages": [{"file": "old-1-1.noarch.rpm", "sha256": sha256(b"old"), "size": 3}]});
        std::fs::write(out.join(MANIFEST), serde_json::to_vec(&old).unwrap()).unwrap();
        let p = one_file(&dir, "p", Some("p"));
        write(&out, "ws", std::slice::from_ref(&p), &dir.join("cache.json")).unwrap();
        assert!(std::fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        let mut names: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(
            names,
            [".collections", "collection.json", "other-team-9.9-1.x86_64.rpm", "p-1.3~~dev5-1.noarch.rpm"]
        );
        // The plain directory is the previous collection, as it was.
        let store = dir.join(".out.collections");
        let previous = store.join(read_link_name(&store.join(PREVIOUS)).unwrap());
        assert!(previous.join("old-1-1.noarch.rpm").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn output_directories_that_cannot_be_taken_are_refused() {
        let dir = scratch("refused");
        let ws_root = dir.join("ws");
        std::fs::create_dir_all(ws_root.join("src")).unwrap();
        let ws = Workspace::detached(&ws_root);
        let file = dir.join("a-file");
        std::fs::write(&file, "x").unwrap();
        let refused = |path: &Utf8Path, needle: &str| {
            let err = Output::check(path, &ws).unwrap_err();
            assert_eq!(err.kind, crate::error::Kind::Usage, "{path}");
            assert!(err.message.contains(needle), "{path}: {}", err.message);
            assert!(err.help.is_some());
        };
        refused(&file, "is a file");
        refused(&file.join("sub"), "is not a directory");
        refused(&ws_root, "holds the workspace");
        refused(&dir, "holds the workspace");
        refused(&ws_root.join("src").parent().unwrap().join("src/.."), "holds the workspace");
        std::fs::create_dir_all(dir.join("home/docs")).unwrap();
        refused(&dir.join("home"), "holds directories (docs)");
        std::os::unix::fs::symlink("a-file", dir.join("to-file")).unwrap();
        refused(&dir.join("to-file"), "not a directory");
        assert!(Output::check(&dir.join("new/deep/out"), &ws).is_ok());
        assert!(!dir.join("new").exists(), "checking created something");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
