//! Binary RPMs, written in-process: the package model (plain data), the writer (RPM v4,
//! streamed, reproducible, atomic, parallel: [`encode`] over [`header`]), a reader of what it
//! wrote ([`read`]), and the pieces that fill the model in ([`elf`] for shared-library
//! capabilities, [`systemd`] for unit scriptlets, [`assets`] for
//! `[package.metadata.generate-rpm]` and `[package.metadata.trainyard.rpm]`).
//!
//! Named `rpmpkg`, not `rpm`, so that it is not mistaken for the `rpm` tool.
//!
//! Typical use (what `build_rpms` does for one crate):
//!
//! ```ignore
//! let mut crate_pkg = assets::from_metadata(&krate, &metadata, &target_release_dir)?.unwrap();
//! crate_pkg.package.version = rpm_version;            // from the version model
//! crate_pkg.package.source_date = source_date_epoch;
//! crate_pkg.package.add_elf_dependencies()?;          // after the binaries are built
//! let written = write_all(&[crate_pkg.package], &out_dir, Compression::Zstd(19))?;
//! ```
//!
//! Stripping: binaries are stripped by the compiler, not by binutils' `strip` (which a fresh
//! machine with only the Rust toolchain lacks): build with [`STRIP_CARGO_ARGS`]
//! (`--config profile.release.strip=true`, i.e. `-C strip=symbols`), then
//! [`Package::check_stripped`] refuses a binary that still carries symbols or debug info.

pub mod assets;
pub mod bundled;
pub mod cache;
pub mod caps;
pub mod devel;
pub mod elf;
mod encode;
pub mod header;
pub mod read;
pub mod systemd;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::error::{io, Error, Result};

/// Arguments for `cargo build` that make the release profile strip symbols and debug info
/// (`-C strip=symbols`), so packaged binaries need no `strip` from binutils.
pub const STRIP_CARGO_ARGS: [&str; 2] = ["--config", "profile.release.strip=true"];

/// One binary RPM, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Package {
    pub name: String,
    /// Rarely needed: only when a version scheme went backwards.
    pub epoch: Option<u32>,
    /// An RPM version: no `-`; `~` sorts before (`1.3~~dev5 < 1.3~beta1 < 1.3`).
    pub version: String,
    pub release: String,
    /// `x86_64`, `aarch64`, `noarch`, ...
    pub arch: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub url: Option<String>,
    pub vendor: Option<String>,
    pub packager: Option<String>,
    pub files: Vec<FileEntry>,
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    /// Weak dependencies: installed by default but not required (`Recommends`), only hinted
    /// (`Suggests`), and their reverse forms (`Supplements`, `Enhances`).
    pub recommends: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    pub scriptlets: Scriptlets,
    /// Newest first, as in a spec's `%changelog`.
    pub changelog: Vec<ChangelogEntry>,
    /// Seconds since the epoch: the build time and every file's mtime (`SOURCE_DATE_EPOCH`).
    pub source_date: u64,
}

/// One file or directory in the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The file on disk (ignored for [`FileKind::Dir`]).
    pub source: Utf8PathBuf,
    /// Absolute path on the installed system.
    pub dest: String,
    /// Permission bits, e.g. `0o755`.
    pub mode: u16,
    pub user: String,
    pub group: String,
    pub kind: FileKind,
    /// File capabilities as `%caps` takes them (`cap_net_bind_service=ep`).
    pub caps: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An executable or shared library: scanned for shared-library requires and provides.
    Binary,
    /// `%config`, or `%config(noreplace)`: an edited file survives upgrades, the new one lands as `.rpmnew`.
    Config {
        noreplace: bool,
    },
    /// `%doc`
    Doc,
    /// `%license`
    License,
    /// An owned directory (`%dir`).
    Dir,
    Regular,
}

impl FileEntry {
    /// A file owned by root:root.
    pub fn new(source: impl Into<Utf8PathBuf>, dest: impl Into<String>, mode: u16, kind: FileKind) -> FileEntry {
        FileEntry {
            source: source.into(),
            dest: dest.into(),
            mode,
            user: "root".into(),
            group: "root".into(),
            kind,
            caps: None,
        }
    }

    /// An owned directory, root:root.
    pub fn dir(dest: impl Into<String>, mode: u16) -> FileEntry {
        FileEntry::new(Utf8PathBuf::new(), dest, mode, FileKind::Dir)
    }
}

/// Version comparison of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepFlags {
    Any,
    Less,
    LessEq,
    Eq,
    GreaterEq,
    Greater,
}

impl DepFlags {
    pub fn symbol(self) -> &'static str {
        match self {
            DepFlags::Any => "",
            DepFlags::Less => "<",
            DepFlags::LessEq => "<=",
            DepFlags::Eq => "=",
            DepFlags::GreaterEq => ">=",
            DepFlags::Greater => ">",
        }
    }

    /// Parses `<`, `<=`, `=`, `==`, `>=`, `>`.
    pub fn parse(symbol: &str) -> Option<DepFlags> {
        Some(match symbol {
            "<" => DepFlags::Less,
            "<=" => DepFlags::LessEq,
            "=" | "==" => DepFlags::Eq,
            ">=" => DepFlags::GreaterEq,
            ">" => DepFlags::Greater,
            _ => return None,
        })
    }
}

/// A Requires/Provides/Conflicts/Obsoletes entry: `name`, or `name OP version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dependency {
    pub name: String,
    pub flags: DepFlags,
    pub version: String,
}

impl Dependency {
    pub fn any(name: impl Into<String>) -> Dependency {
        Dependency { name: name.into(), flags: DepFlags::Any, version: String::new() }
    }
    pub fn new(name: impl Into<String>, flags: DepFlags, version: impl Into<String>) -> Dependency {
        Dependency { name: name.into(), flags, version: version.into() }
    }
    pub fn eq(name: impl Into<String>, version: impl Into<String>) -> Dependency {
        Dependency::new(name, DepFlags::Eq, version)
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flags {
            DepFlags::Any => f.write_str(&self.name),
            flags => write!(f, "{} {} {}", self.name, flags.symbol(), self.version),
        }
    }
}

/// Install and erase scripts, shell text run by `/bin/sh` unless [`Scriptlets::options`] names
/// another interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scriptlets {
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
    /// Once per transaction, before and after it (`%pretrans`, `%posttrans`).
    pub pretrans: Option<String>,
    pub posttrans: Option<String>,
    /// Once per transaction that erases the package (`%preuntrans`, `%postuntrans`, rpm >= 4.20).
    pub preuntrans: Option<String>,
    pub postuntrans: Option<String>,
    /// Flags and interpreter of a scriptlet, by slot name (`pre`, `posttrans`, ...).
    pub options: BTreeMap<String, ScriptletOptions>,
}

/// How rpm runs one scriptlet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptletOptions {
    /// rpm's `RPMSCRIPT_FLAG_*` bits: 1 expand macros, 2 expand query formats, 4 critical.
    pub flags: Option<u32>,
    /// The interpreter and its arguments (default `/bin/sh`).
    pub prog: Option<Vec<String>>,
}

/// The scriptlet slots, by the names [`Scriptlets::options`] uses.
pub const SCRIPTLET_SLOTS: [&str; 8] =
    ["pre", "post", "preun", "postun", "pretrans", "posttrans", "preuntrans", "postuntrans"];

impl Scriptlets {
    /// The text slot of a scriptlet name of [`SCRIPTLET_SLOTS`].
    pub fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "pre" => &mut self.pre,
            "post" => &mut self.post,
            "preun" => &mut self.preun,
            "postun" => &mut self.postun,
            "pretrans" => &mut self.pretrans,
            "posttrans" => &mut self.posttrans,
            "preuntrans" => &mut self.preuntrans,
            "postuntrans" => &mut self.postuntrans,
            _ => return None,
        })
    }

    /// Appends `text` to a scriptlet, after what is already there.
    pub fn append(slot: &mut Option<String>, text: &str) {
        match slot {
            Some(existing) => {
                if !existing.ends_with('\n') {
                    existing.push('\n');
                }
                existing.push_str(text);
            }
            None => *slot = Some(text.to_string()),
        }
    }
}

/// One `%changelog` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// `Name <email>`
    pub author: String,
    /// `version-release` the entry describes.
    pub version: String,
    /// Seconds since the epoch.
    pub time: u64,
    /// Lines, conventionally each starting with `- `.
    pub text: String,
}

/// Payload compression and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Levels 1..=22; 3 is fast (dev), 19 small (stage, prod).
    Zstd(i32),
    /// Levels 0..=9.
    Gzip(u32),
}

impl Compression {
    /// The compression of a channel when the configuration names none, chosen from the measured
    /// size/time curve (README, "Packaging speed"): dev is written on every CI run and never
    /// downloaded far, so time counts; stage and prod are kept in repositories and downloaded,
    /// so size counts, as long as the time stays within a CI run's budget.
    pub fn default_for(channel: crate::channel::Channel) -> Compression {
        use crate::channel::Channel;
        match channel {
            Channel::Dev => Compression::Zstd(3),
            Channel::Stage | Channel::Prod => Compression::Zstd(19),
        }
    }

    pub(crate) fn validate(self) -> Result<()> {
        match self {
            Compression::Zstd(1..=22) | Compression::Gzip(0..=9) => Ok(()),
            other => Err(Error::usage(format!("compression {other:?} is out of range"))
                .with_help("zstd takes levels 1 to 22, gzip 0 to 9")),
        }
    }
}

impl Package {
    /// `name-[epoch:]version-release.arch`
    pub fn nevra(&self) -> String {
        let epoch = self.epoch.map(|e| format!("{e}:")).unwrap_or_default();
        format!("{}-{epoch}{}-{}.{}", self.name, self.version, self.release, self.arch)
    }

    /// `name-version-release.arch.rpm` (the epoch is never in file names)
    pub fn file_name(&self) -> String {
        format!("{}-{}-{}.{}.rpm", self.name, self.version, self.release, self.arch)
    }

    /// Checks what the writer or `rpm` itself would reject, with a message naming the package.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let name_ok = |s: &str| {
            !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._+".contains(c))
        };
        let version_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._+~^".contains(c));
        if !name_ok(&self.name) {
            problems.push(format!("name `{}`: use letters, digits and `-._+`", self.name));
        }
        if !version_ok(&self.version) {
            problems.push(format!("version `{}`: use letters, digits and `._+~^` (no `-`)", self.version));
        }
        if !version_ok(&self.release) {
            problems.push(format!("release `{}`: use letters, digits and `._+~^` (no `-`)", self.release));
        }
        if !name_ok(&self.arch) {
            problems.push(format!("arch `{}`", self.arch));
        }
        if self.summary.trim().is_empty() || self.summary.contains('\n') {
            problems.push("summary: one non-empty line".to_string());
        }
        if u32::try_from(self.source_date).is_err() {
            problems.push(format!("source date {} does not fit in 32 bits", self.source_date));
        }
        // The header stores NUL-terminated strings, and one-line fields end up in repository
        // metadata: a control character there is refused rather than written.
        let mut one_line: Vec<(&str, &str)> =
            vec![("license", &self.license), ("url", self.url.as_deref().unwrap_or_default())];
        one_line.push(("vendor", self.vendor.as_deref().unwrap_or_default()));
        one_line.push(("packager", self.packager.as_deref().unwrap_or_default()));
        for f in &self.files {
            one_line.extend([("file", f.dest.as_str()), ("user", &f.user), ("group", &f.group)]);
        }
        let deps = [&self.requires, &self.provides, &self.conflicts, &self.obsoletes];
        let weak = [&self.recommends, &self.suggests, &self.supplements, &self.enhances];
        for d in deps.into_iter().chain(weak).flatten() {
            one_line.extend([("dependency", d.name.as_str()), ("dependency version", &d.version)]);
        }
        for (what, text) in one_line {
            if text.chars().any(char::is_control) {
                problems.push(format!("{what} `{}`: a control character in one line of text", text.escape_debug()));
            }
        }
        let texts = self.changelog.iter().flat_map(|c| [&c.author, &c.version, &c.text]);
        let scripts = [&self.scriptlets.pre, &self.scriptlets.post, &self.scriptlets.preun, &self.scriptlets.postun];
        let more = [&self.scriptlets.pretrans, &self.scriptlets.posttrans];
        let untrans = [&self.scriptlets.preuntrans, &self.scriptlets.postuntrans];
        let scripts = scripts.into_iter().chain(more).chain(untrans).flatten();
        if std::iter::once(&self.description).chain(texts).chain(scripts).any(|t| t.contains('\0')) {
            problems.push("a description, changelog entry or scriptlet holds a NUL byte".to_string());
        }
        let mut seen = BTreeSet::new();
        for f in &self.files {
            if !f.dest.starts_with('/') || f.dest == "/" || f.dest.split('/').any(|c| c == ".." || c == ".") {
                problems.push(format!("file `{}`: the destination must be an absolute path without `.`/`..`", f.dest));
            }
            if !seen.insert(f.dest.trim_end_matches('/')) {
                problems.push(format!("file `{}` is listed twice", f.dest));
            }
            if f.mode > 0o7777 {
                problems.push(format!("file `{}`: mode {:o} is not a permission mode", f.dest, f.mode));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::usage(format!("package {}: {}", self.name, problems.join("; "))))
        }
    }

    /// Adds the shared-library Requires and Provides rpm's `elfdeps` would generate for the
    /// package's ELF files (rpmbuild runs it on every file whose magic says ELF).
    pub fn add_elf_dependencies(&mut self) -> Result<()> {
        let mut requires = BTreeSet::new();
        let mut provides = BTreeSet::new();
        for f in &self.files {
            if f.kind == FileKind::Dir || !starts_with_elf_magic(&f.source)? {
                continue;
            }
            let bytes = std::fs::read(&f.source).map_err(io(&f.source))?;
            let base = f.dest.rsplit('/').next().unwrap_or(&f.dest);
            let deps = elf::dependencies(&bytes, base, f.mode & 0o111 != 0)
                .map_err(|e| Error::failed(format!("{} (packaged as {}): {e}", f.source, f.dest)))?;
            requires.extend(deps.requires);
            provides.extend(deps.provides);
        }
        for r in requires {
            push_unique(&mut self.requires, Dependency::any(r));
        }
        for p in provides {
            push_unique(&mut self.provides, Dependency::any(p));
        }
        Ok(())
    }

    /// Refuses Binary files that still carry a symbol table or debug sections.
    pub fn check_stripped(&self) -> Result<()> {
        for f in self.files.iter().filter(|f| f.kind == FileKind::Binary) {
            let bytes = std::fs::read(&f.source).map_err(io(&f.source))?;
            if !elf::is_elf(&bytes) {
                continue;
            }
            let info = elf::ElfInfo::parse(&bytes).map_err(|e| Error::failed(format!("{}: {e}", f.source)))?;
            if !info.is_stripped() {
                return Err(Error::failed(format!("{} is not stripped (it has symbols or debug info)", f.source))
                    .with_help(format!("build it with `cargo build --release {}`", STRIP_CARGO_ARGS.join(" "))));
            }
        }
        Ok(())
    }

    /// Builds the RPM in memory. Same package, same inputs: same bytes.
    pub fn to_bytes(&self, compression: Compression) -> Result<Vec<u8>> {
        let mut out = std::io::Cursor::new(Vec::new());
        encode::encode(self, compression, &mut out)?;
        Ok(out.into_inner())
    }
}

/// Text wrapped at 79 columns, as a spec's `%description` is by convention (rpmlint's
/// `description-line-too-long` is an error): long lines break at spaces; lines that fit, and
/// line breaks, stay as they are; a word longer than a line stays whole.
pub fn wrap(text: &str) -> String {
    const WIDTH: usize = 79;
    let mut out = String::new();
    for (i, line) in text.trim_end().lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.chars().count() <= WIDTH {
            out.push_str(line);
            continue;
        }
        let mut len = 0;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let n = word.chars().count();
            if len > 0 && len + 1 + n > WIDTH {
                out.push('\n');
                len = 0;
            } else if len > 0 {
                out.push(' ');
                len += 1;
            }
            out.push_str(word);
            len += n;
        }
    }
    out
}

fn starts_with_elf_magic(path: &Utf8Path) -> Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    match file.read_exact(&mut magic) {
        Ok(()) => Ok(elf::is_elf(&magic)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

fn push_unique(list: &mut Vec<Dependency>, dep: Dependency) {
    if !list.contains(&dep) {
        list.push(dep);
    }
}

/// What was written for one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: Utf8PathBuf,
    pub nevra: String,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    pub size: u64,
    /// As recorded in the header, including what rpm adds itself (`name = evr`, `rpmlib(...)`).
    pub provides: Vec<String>,
    pub requires: Vec<String>,
    /// The file was already there with these exact bytes, and was left untouched.
    pub unchanged: bool,
    /// Not even encoded: the fingerprint cache knew the package and the file still matched.
    pub from_cache: bool,
}

/// Writes one package into `out_dir` as [`Package::file_name`], atomically (temp name, rename).
/// An existing file with identical bytes is left untouched.
pub fn write(pkg: &Package, out_dir: &Utf8Path, compression: Compression) -> Result<Written> {
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let path = out_dir.join(pkg.file_name());
    let tmp = out_dir.join(format!(".{}.tmp.{}", pkg.file_name(), std::process::id()));
    let result = encode_into(pkg, &tmp, compression).and_then(|mut w| {
        w.path = path.clone();
        w.unchanged = same_content(&path, w.size, &w.sha256);
        if w.unchanged {
            std::fs::remove_file(&tmp).map_err(io(&tmp))?;
        } else {
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        Ok(w)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Encodes the package into a new file at `path` (world-readable like rpmbuild's, synced),
/// streaming: memory holds buffers and the header, never the files or the payload.
pub(crate) fn encode_into(pkg: &Package, path: &Utf8Path, compression: Compression) -> Result<Written> {
    use std::io::{Seek, SeekFrom};
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).map_err(io(path))?;
    let encoded = encode::encode(pkg, compression, &mut file)?;
    // The headers were written last, at the start: the file's digest is a second read of it,
    // from the page cache.
    file.seek(SeekFrom::Start(0)).map_err(io(path))?;
    let mut sha256 = Sha256::new();
    std::io::copy(&mut file, &mut sha256).map_err(io(path))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(Written {
        provides: encoded.provides,
        requires: encoded.requires,
        path: path.to_path_buf(),
        nevra: pkg.nevra(),
        sha256: hex(&sha256.finalize()),
        size: encoded.size,
        unchanged: false,
        from_cache: false,
    })
}

/// Whether `path` is a file of exactly `size` bytes whose SHA-256 is `sha256` (read in pieces).
pub(crate) fn same_content(path: &Utf8Path, size: u64, sha256: &str) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    if !file.metadata().is_ok_and(|m| m.len() == size) {
        return false;
    }
    let mut h = Sha256::new();
    std::io::copy(&mut file, &mut h).is_ok() && hex(&h.finalize()) == sha256
}

/// Writes several packages in parallel (one thread per core at most), each atomically. Results
/// are in the order of `pkgs`; the first failure is returned after every package was attempted,
/// with the count of the others. Packages that succeeded are written even when others fail: use
/// [`crate::collection`] for all or nothing.
pub fn write_all(pkgs: &[Package], out_dir: &Utf8Path, compression: Compression) -> Result<Vec<Written>> {
    let order: Vec<usize> = (0..pkgs.len()).collect();
    first_error(parallel(pkgs.len(), &order, |i| write(&pkgs[i], out_dir, compression)))
}

/// Runs `f` on the indices `0..n` on all cores, starting in `order`; results by index.
pub(crate) fn parallel<R: Send>(n: usize, order: &[usize], f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(n).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = f(i);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(|r| r.expect("every index ran")).collect()
}

/// All the values, or the first error (saying how many failed when more than one did).
pub(crate) fn first_error<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut ok = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => errors.push(e),
        }
    }
    let failed = errors.len();
    match errors.into_iter().next() {
        None => Ok(ok),
        Some(first) if failed == 1 => Err(first),
        Some(first) => Err(first.context(format!("{failed} packages failed; the first"))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Package {
        Package {
            name: "demo".into(),
            version: "1.3~~dev5".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            summary: "A demo".into(),
            license: "MIT".into(),
            ..Package::default()
        }
    }

    #[test]
    fn names() {
        let p = sample();
        assert_eq!(p.nevra(), "demo-1.3~~dev5-1.x86_64");
        assert_eq!(p.file_name(), "demo-1.3~~dev5-1.x86_64.rpm");
    }

    #[test]
    fn validation_names_each_problem() {
        let mut p = sample();
        p.version = "1.3.0-beta.1".into();
        p.files.push(FileEntry::dir("etc/demo", 0o755));
        p.files.push(FileEntry::dir("/usr/../etc", 0o755));
        let err = p.validate().unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(err.message.contains("version `1.3.0-beta.1`"), "{}", err.message);
        assert!(err.message.contains("file `etc/demo`"), "{}", err.message);
        assert!(err.message.contains("file `/usr/../etc`"), "{}", err.message);
        assert!(sample().validate().is_ok());

        let mut p = sample();
        p.license = "MIT\nor not".into();
        p.requires.push(Dependency::any("bash\u{0}"));
        p.description = "two\nlines are fine, a \u{0} is not".into();
        let err = p.validate().unwrap_err();
        assert!(err.message.contains("license `MIT\\nor not`: a control character"), "{}", err.message);
        assert!(err.message.contains("dependency `bash\\0`"), "{}", err.message);
        assert!(err.message.contains("NUL byte"), "{}", err.message);
    }

    #[test]
    fn dependency_display_and_parse() {
        assert_eq!(Dependency::any("bash").to_string(), "bash");
        assert_eq!(Dependency::new("bash", DepFlags::parse(">=").unwrap(), "5").to_string(), "bash >= 5");
        assert_eq!(DepFlags::parse("=="), Some(DepFlags::Eq));
        assert_eq!(DepFlags::parse("~="), None);
    }

    #[test]
    fn compression_levels_are_checked() {
        assert!(Compression::Zstd(0).validate().is_err());
        assert!(Compression::Gzip(10).validate().is_err());
        assert!(Compression::Zstd(19).validate().is_ok());
    }

    #[test]
    fn descriptions_wrap_at_79_columns() {
        let long = "word ".repeat(40);
        let wrapped = wrap(&format!("{long}\nShort line.\n\n{}", "x".repeat(90)));
        assert!(wrapped.lines().all(|l| l.len() <= 79 || !l.contains(' ')), "{wrapped}");
        assert_eq!(wrapped.lines().filter(|l| l.starts_with("word")).count(), 3);
        assert!(wrapped.contains("word\nShort line.\n\nxxxx"), "{wrapped}");
        assert_eq!(wrap("Fits as it is.\n  - indented"), "Fits as it is.\n  - indented");
    }

    /// rpm 4.18 (what CI has) does not read the untrans scriptlets: the header is read back here.
    #[test]
    fn every_scriptlet_is_written_with_its_interpreter_and_flags() {
        let mut p = sample();
        for (i, slot) in SCRIPTLET_SLOTS.iter().enumerate() {
            *p.scriptlets.slot(slot).unwrap() = Some(format!("echo {slot}"));
            if i % 2 == 0 {
                let prog = Some(vec!["/bin/bash".to_string(), "-e".to_string()]);
                p.scriptlets.options.insert(slot.to_string(), ScriptletOptions { flags: Some(4), prog });
            }
        }
        let bytes = p.to_bytes(Compression::Zstd(3)).unwrap();
        let (_, h) = read::headers(&mut bytes.as_slice()).unwrap();
        let requires = h.strings(encode::tag::REQUIRENAME).unwrap();
        let require_flags = h.int32s(encode::tag::REQUIREFLAGS).unwrap();
        for (i, (slot, (text, prog, flags, phase))) in SCRIPTLET_SLOTS.iter().zip(encode::tag::SCRIPTLETS).enumerate() {
            assert_eq!(h.string(text), Some(format!("echo {slot}")));
            let interpreter = if i % 2 == 0 {
                assert_eq!(h.strings(prog), Some(vec!["/bin/bash".to_string(), "-e".to_string()]), "{slot}");
                assert_eq!(h.int32s(flags), Some(vec![4]), "{slot}");
                "/bin/bash"
            } else {
                assert_eq!(h.strings(prog), Some(vec!["/bin/sh".to_string()]), "{slot}");
                assert_eq!(h.int32s(flags), None, "{slot}");
                "/bin/sh"
            };
            // The interpreter is required for the phase (rpmsenseFlags INTERP | phase).
            let found = requires.iter().zip(&require_flags).any(|(r, &f)| r == interpreter && f == (1 << 8) | phase);
            assert!(found, "{slot}: no Requires {interpreter} for its phase in {requires:?}");
        }
    }

    #[test]
    fn scriptlets_append() {
        let mut slot = Some("echo one".to_string());
        Scriptlets::append(&mut slot, "echo two\n");
        assert_eq!(slot.as_deref(), Some("echo one\necho two\n"));
    }
}
