//! The RPM v4 writer: one pass over the files, streamed.
//!
//! A package file is the lead (96 bytes), the signature header (padded to 8 bytes), the main
//! header and the compressed cpio payload. The headers hold digests of what follows them, but
//! never change size with the digests' values (fixed-length hex), so the writer encodes both
//! headers with placeholder digests, writes them, streams the payload after them (each file
//! read once: hashed for `FILEDIGESTS` while it goes into the cpio archive, through the
//! compressor, into the output, the archive and the compressed bytes hashed on the way), then
//! seeks back and writes the headers again with the real digests. Memory is the buffers and
//! the header, whatever the size of the files.

use std::io::{Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use super::header::{Header, Value, IMMUTABLE, SIGNATURES};
use super::{caps, hex, Compression, DepFlags, Dependency, FileEntry, FileKind, Package, SCRIPTLET_SLOTS};
use crate::error::{io, Error, Result};

/// Header tags (`rpmTag` in rpm's `lib/rpmtag.h`).
pub mod tag {
    pub const I18NTABLE: u32 = 100;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SUMMARY: u32 = 1004;
    pub const DESCRIPTION: u32 = 1005;
    pub const BUILDTIME: u32 = 1006;
    pub const BUILDHOST: u32 = 1007;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const PACKAGER: u32 = 1015;
    pub const GROUP: u32 = 1016;
    pub const URL: u32 = 1020;
    pub const OS: u32 = 1021;
    pub const ARCH: u32 = 1022;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILERDEVS: u32 = 1033;
    pub const FILEMTIMES: u32 = 1034;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILELINKTOS: u32 = 1036;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const FILEVERIFYFLAGS: u32 = 1045;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIREFLAGS: u32 = 1048;
    pub const REQUIRENAME: u32 = 1049;
    pub const REQUIREVERSION: u32 = 1050;
    pub const CONFLICTFLAGS: u32 = 1053;
    pub const CONFLICTNAME: u32 = 1054;
    pub const CONFLICTVERSION: u32 = 1055;
    pub const RPMVERSION: u32 = 1064;
    pub const CHANGELOGTIME: u32 = 1080;
    pub const CHANGELOGNAME: u32 = 1081;
    pub const CHANGELOGTEXT: u32 = 1082;
    pub const OBSOLETENAME: u32 = 1090;
    pub const FILEDEVICES: u32 = 1095;
    pub const FILEINODES: u32 = 1096;
    pub const FILELANGS: u32 = 1097;
    pub const PROVIDEFLAGS: u32 = 1112;
    pub const PROVIDEVERSION: u32 = 1113;
    pub const OBSOLETEFLAGS: u32 = 1114;
    pub const OBSOLETEVERSION: u32 = 1115;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const PAYLOADFORMAT: u32 = 1124;
    pub const PAYLOADCOMPRESSOR: u32 = 1125;
    pub const PAYLOADFLAGS: u32 = 1126;
    pub const FILECAPS: u32 = 5010;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const RECOMMENDNAME: u32 = 5046;
    pub const SUGGESTNAME: u32 = 5049;
    pub const SUPPLEMENTNAME: u32 = 5052;
    pub const ENHANCENAME: u32 = 5055;
    pub const ENCODING: u32 = 5062;
    pub const PAYLOADDIGEST: u32 = 5092;
    pub const PAYLOADDIGESTALGO: u32 = 5093;
    pub const PAYLOADDIGESTALT: u32 = 5097;

    /// Signature header: SHA-256 of the main header, header + payload size, the archive's
    /// uncompressed size, and zeros kept for a signature added later in place.
    pub const SIG_SHA256: u32 = 273;
    pub const SIG_SIZE: u32 = 1000;
    pub const SIG_PAYLOADSIZE: u32 = 1007;
    pub const SIG_RESERVEDSPACE: u32 = 1008;

    /// Scriptlet slots in [`super::SCRIPTLET_SLOTS`] order: (text, interpreter, flags) tags and
    /// the dependency flag of the interpreter's Requires.
    pub const SCRIPTLETS: [(u32, u32, u32, u32); 8] = [
        (1023, 1085, 5020, 1 << 9),  // %pre
        (1024, 1086, 5021, 1 << 10), // %post
        (1025, 1087, 5022, 1 << 11), // %preun
        (1026, 1088, 5023, 1 << 12), // %postun
        (1151, 1153, 5024, 1 << 7),  // %pretrans
        (1152, 1154, 5025, 1 << 5),  // %posttrans
        (5103, 5105, 5107, 1 << 20), // %preuntrans
        (5104, 5106, 5108, 1 << 21), // %postuntrans
    ];
}

/// Dependency flags (`rpmsenseFlags`).
mod sense {
    pub const LESS: u32 = 1 << 1;
    pub const GREATER: u32 = 1 << 2;
    pub const EQUAL: u32 = 1 << 3;
    pub const INTERP: u32 = 1 << 8;
    pub const SCRIPT_PRE: u32 = 1 << 9;
    pub const SCRIPT_POSTUN: u32 = 1 << 12;
    pub const RPMLIB: u32 = 1 << 24;
    pub const CONFIG: u32 = 1 << 28;
}

/// File flags (`rpmfileAttrs`).
mod attr {
    pub const CONFIG: u32 = 1;
    pub const DOC: u32 = 1 << 1;
    pub const NOREPLACE: u32 = 1 << 4;
    pub const LICENSE: u32 = 1 << 7;
}

/// rpm's `PGPHASHALGO_SHA256`: the algorithm of the file and payload digests.
const SHA256_ALGO: u32 = 8;
/// What rpmbuild reserves in the signature header for signing in place (4096 + 32).
const RESERVED_SPACE: usize = 4128;
const LEAD_LEN: u64 = 96;
/// A SHA-256 digest in hex: the placeholder has the real one's length.
const NO_DIGEST_YET: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const BUFFER: usize = 1 << 17;

/// What was encoded, beside the bytes.
pub(crate) struct Encoded {
    /// The whole package's length.
    pub size: u64,
    /// As in the header, rendered `name OP version`.
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

/// One dependency as the header stores it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Dep {
    name: String,
    version: String,
    flags: u32,
}

impl Dep {
    fn new(name: impl Into<String>, flags: u32, version: impl Into<String>) -> Dep {
        Dep { name: name.into(), version: version.into(), flags }
    }

    fn from(d: &Dependency) -> Dep {
        let flags = match d.flags {
            DepFlags::Any => 0,
            DepFlags::Less => sense::LESS,
            DepFlags::LessEq => sense::LESS | sense::EQUAL,
            DepFlags::Eq => sense::EQUAL,
            DepFlags::GreaterEq => sense::GREATER | sense::EQUAL,
            DepFlags::Greater => sense::GREATER,
        };
        let version = if d.flags == DepFlags::Any { String::new() } else { d.version.clone() };
        Dep::new(&d.name, flags, version)
    }

    fn rpmlib(feature: &str, version: &str) -> Dep {
        Dep::new(format!("rpmlib({feature})"), sense::RPMLIB | sense::LESS | sense::EQUAL, version)
    }

    fn show(&self) -> String {
        let op = match self.flags & (sense::LESS | sense::GREATER | sense::EQUAL) {
            f if f == sense::LESS | sense::EQUAL => "<=",
            f if f == sense::LESS => "<",
            f if f == sense::GREATER | sense::EQUAL => ">=",
            f if f == sense::GREATER => ">",
            f if f == sense::EQUAL => "=",
            _ => "",
        };
        if op.is_empty() || self.version.is_empty() {
            self.name.clone()
        } else {
            format!("{} {op} {}", self.name, self.version)
        }
    }
}

/// Sorted by name, version, flags (as rpmbuild sorts them), without duplicates.
fn sorted(mut deps: Vec<Dep>) -> Vec<Dep> {
    deps.sort();
    deps.dedup();
    deps
}

fn set_deps(h: &mut Header, name_tag: u32, version_tag: u32, flags_tag: u32, deps: &[Dep]) {
    h.set(name_tag, Value::StringArray(deps.iter().map(|d| d.name.clone()).collect()));
    h.set(version_tag, Value::StringArray(deps.iter().map(|d| d.version.clone()).collect()));
    h.set(flags_tag, Value::Int32(deps.iter().map(|d| d.flags).collect()));
}

/// rpm's ISA name of an architecture, for the `name(ISA)` Provides rpmbuild adds.
fn isa(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "x86_64" => "x86-64",
        "i386" | "i486" | "i586" | "i686" => "x86-32",
        "aarch64" => "aarch-64",
        "ppc64le" | "ppc64" => "ppc-64",
        "s390x" => "s390-64",
        "riscv64" => "riscv-64",
        "loongarch64" => "loongarch-64",
        "armv7hl" => "armv7hl-32",
        _ => return None,
    })
}

/// One file of the package, in payload order.
struct Planned<'a> {
    entry: &'a FileEntry,
    /// `./usr/bin/demo`, as the archive names it.
    archive_name: String,
    /// Bytes, from the file's metadata (directories: 0).
    size: u64,
    /// `st_mode`: type and permission bits.
    mode: u32,
}

impl Planned<'_> {
    fn is_dir(&self) -> bool {
        self.entry.kind == FileKind::Dir
    }
}

/// The package's files, sorted by destination, with their sizes; refuses what cannot be packaged.
fn plan(pkg: &Package) -> Result<Vec<Planned<'_>>> {
    let mut files: Vec<&FileEntry> = pkg.files.iter().collect();
    files.sort_by(|a, b| a.dest.trim_end_matches('/').cmp(b.dest.trim_end_matches('/')));
    let mut planned = Vec::with_capacity(files.len());
    let mut total: u64 = 0;
    for f in files {
        let dest = f.dest.trim_end_matches('/');
        if let Some(c) = &f.caps {
            caps::validate(c).map_err(|e| {
                Error::usage(format!("package {}: file {}: caps `{c}`: {e}", pkg.name, f.dest))
                    .with_help("write capabilities as `%caps` takes them: \"cap_net_bind_service=ep\"")
            })?;
        }
        let (size, kind_bits) = if f.kind == FileKind::Dir {
            (0, 0o040000)
        } else {
            let meta = std::fs::metadata(&f.source).map_err(io(&f.source))?;
            if !meta.is_file() {
                return Err(Error::usage(format!(
                    "package {}: {} (for {}) is not a regular file",
                    pkg.name, f.source, f.dest
                )));
            }
            (meta.len(), 0o100000)
        };
        total += size;
        planned.push(Planned { entry: f, archive_name: format!(".{dest}"), size, mode: kind_bits | u32::from(f.mode) });
    }
    if total >= u64::from(u32::MAX) - (64 << 20) {
        return Err(Error::usage(format!(
            "package {}: its files add up to {total} bytes; trainyard writes packages under 4 GiB",
            pkg.name
        ))
        .with_help("split the files over several packages"));
    }
    Ok(planned)
}

/// The cpio (newc) archive's length: every entry's header, name and data, padded to 4 bytes,
/// and the trailer. Known before writing, so zstd can size its window for it.
fn archive_len(files: &[Planned]) -> u64 {
    let entry = |name: usize, size: u64| (110 + name as u64 + 1).next_multiple_of(4) + size.next_multiple_of(4);
    files.iter().map(|f| entry(f.archive_name.len(), f.size)).sum::<u64>() + entry("TRAILER!!!".len(), 0)
}

/// The main header, with the digests given (placeholders before the payload is written).
struct Headers {
    header: Header,
    provides: Vec<Dep>,
    requires: Vec<Dep>,
}

fn headers(pkg: &Package, files: &[Planned], compression: Compression) -> Result<Headers> {
    let date = pkg.source_date as u32;
    let mut h = Header::new();
    h.set(tag::I18NTABLE, Value::StringArray(vec!["C".into()]));
    h.set(tag::NAME, Value::String(pkg.name.clone()));
    h.set(tag::VERSION, Value::String(pkg.version.clone()));
    h.set(tag::RELEASE, Value::String(pkg.release.clone()));
    if let Some(epoch) = pkg.epoch {
        h.set(tag::EPOCH, Value::Int32(vec![epoch]));
    }
    h.set(tag::SUMMARY, Value::I18n(pkg.summary.clone()));
    let description = if pkg.description.is_empty() { &pkg.summary } else { &pkg.description };
    h.set(tag::DESCRIPTION, Value::I18n(description.clone()));
    h.set(tag::BUILDTIME, Value::Int32(vec![date]));
    // The build host of reproducible builds: the real host name would make two machines'
    // packages differ. Group is deprecated, but rpm tools expect it.
    h.set(tag::BUILDHOST, Value::String("reproducible".into()));
    h.set(tag::GROUP, Value::I18n("Unspecified".into()));
    h.set(tag::SIZE, Value::Int32(vec![files.iter().map(|f| f.size).sum::<u64>() as u32]));
    h.set(tag::LICENSE, Value::String(pkg.license.clone()));
    for (t, v) in [(tag::VENDOR, &pkg.vendor), (tag::PACKAGER, &pkg.packager), (tag::URL, &pkg.url)] {
        if let Some(v) = v {
            h.set(t, Value::String(v.clone()));
        }
    }
    h.set(tag::OS, Value::String("linux".into()));
    h.set(tag::ARCH, Value::String(pkg.arch.clone()));
    // Its presence is what makes a header a binary package's.
    h.set(tag::SOURCERPM, Value::String("(none)".into()));
    h.set(tag::RPMVERSION, Value::String(format!("trainyard {}", env!("CARGO_PKG_VERSION"))));
    h.set(tag::ENCODING, Value::String("utf-8".into()));
    h.set(tag::PAYLOADFORMAT, Value::String("cpio".into()));
    let (compressor, level) = match compression {
        Compression::Zstd(l) => ("zstd", l.to_string()),
        Compression::Gzip(l) => ("gzip", l.to_string()),
    };
    h.set(tag::PAYLOADCOMPRESSOR, Value::String(compressor.into()));
    h.set(tag::PAYLOADFLAGS, Value::String(level));

    // Files, with compressed file names: a list of directories and, per file, its base name
    // and the index of its directory.
    if !files.is_empty() {
        let mut dirs: Vec<&str> = files.iter().map(|f| parent(&f.archive_name[1..])).collect();
        dirs.sort_unstable();
        dirs.dedup();
        let dir_index =
            |f: &Planned| dirs.binary_search(&parent(&f.archive_name[1..])).expect("every parent is listed") as u32;
        let strings = |f: &dyn Fn(&Planned) -> String| files.iter().map(f).collect::<Vec<_>>();
        let ints = |f: &dyn Fn(&Planned) -> u32| files.iter().map(f).collect::<Vec<_>>();
        h.set(tag::FILESIZES, Value::Int32(ints(&|f| f.size as u32)));
        h.set(tag::FILEMODES, Value::Int16(files.iter().map(|f| f.mode as u16).collect()));
        h.set(tag::FILERDEVS, Value::Int16(vec![0; files.len()]));
        h.set(tag::FILEMTIMES, Value::Int32(vec![date; files.len()]));
        h.set(tag::FILEDIGESTS, Value::StringArray(placeholder_digests(files)));
        h.set(tag::FILELINKTOS, Value::StringArray(vec![String::new(); files.len()]));
        h.set(tag::FILEFLAGS, Value::Int32(ints(&|f| file_flags(f.entry.kind))));
        h.set(tag::FILEUSERNAME, Value::StringArray(strings(&|f| f.entry.user.clone())));
        h.set(tag::FILEGROUPNAME, Value::StringArray(strings(&|f| f.entry.group.clone())));
        h.set(tag::FILEVERIFYFLAGS, Value::Int32(vec![u32::MAX; files.len()]));
        h.set(tag::FILEDEVICES, Value::Int32(vec![1; files.len()]));
        h.set(tag::FILEINODES, Value::Int32((1..=files.len() as u32).collect()));
        h.set(tag::FILELANGS, Value::StringArray(vec![String::new(); files.len()]));
        h.set(tag::DIRINDEXES, Value::Int32(ints(&|f| dir_index(f))));
        h.set(tag::BASENAMES, Value::StringArray(strings(&|f| base(&f.archive_name).to_string())));
        h.set(tag::DIRNAMES, Value::StringArray(dirs.iter().map(|d| d.to_string()).collect()));
        if files.iter().any(|f| f.entry.caps.is_some()) {
            let caps = strings(&|f| f.entry.caps.as_deref().map(caps::normalize).unwrap_or_default());
            h.set(tag::FILECAPS, Value::StringArray(caps));
        }
    }
    h.set(tag::FILEDIGESTALGO, Value::Int32(vec![SHA256_ALGO]));
    h.set(tag::PAYLOADDIGEST, Value::StringArray(vec![NO_DIGEST_YET.into()]));
    h.set(tag::PAYLOADDIGESTALT, Value::StringArray(vec![NO_DIGEST_YET.into()]));
    h.set(tag::PAYLOADDIGESTALGO, Value::Int32(vec![SHA256_ALGO]));

    // Dependencies, with what rpmbuild adds itself.
    let epoch = pkg.epoch.map(|e| format!("{e}:")).unwrap_or_default();
    let evr = format!("{epoch}{}-{}", pkg.version, pkg.release);
    let has_config = files.iter().any(|f| matches!(f.entry.kind, FileKind::Config { .. }));
    let mut provides: Vec<Dep> = pkg.provides.iter().map(Dep::from).collect();
    provides.push(Dep::new(&pkg.name, sense::EQUAL, &evr));
    if let Some(isa) = isa(&pkg.arch) {
        provides.push(Dep::new(format!("{}({isa})", pkg.name), sense::EQUAL, &evr));
    }
    let mut requires: Vec<Dep> = pkg.requires.iter().map(Dep::from).collect();
    if has_config {
        let config = Dep::new(format!("config({})", pkg.name), sense::CONFIG | sense::EQUAL, &evr);
        provides.push(config.clone());
        requires.push(config);
    }
    requires.push(Dep::rpmlib("CompressedFileNames", "3.0.4-1"));
    requires.push(Dep::rpmlib("FileDigests", "4.6.0-1"));
    requires.push(Dep::rpmlib("PayloadFilesHavePrefix", "4.0-1"));
    if matches!(compression, Compression::Zstd(_)) {
        requires.push(Dep::rpmlib("PayloadIsZstd", "5.4.18-1"));
    }
    if files.iter().any(|f| f.entry.caps.is_some()) {
        requires.push(Dep::rpmlib("FileCaps", "4.6.1-1"));
    }
    let mut recommends: Vec<Dep> = pkg.recommends.iter().map(Dep::from).collect();
    // Users and groups the files belong to: rpm >= 4.19 creates them (sysusers) when asked;
    // only recommended, since older rpm cannot provide them.
    for f in files {
        for (kind, who) in [("user", &f.entry.user), ("group", &f.entry.group)] {
            if who != "root" {
                recommends.push(Dep::new(format!("{kind}({who})"), sense::SCRIPT_PRE | sense::SCRIPT_POSTUN, ""));
            }
        }
    }

    let mut scriptlets = pkg.scriptlets.clone();
    let options = std::mem::take(&mut scriptlets.options);
    for (slot, (text_tag, prog_tag, flags_tag, phase)) in SCRIPTLET_SLOTS.iter().zip(tag::SCRIPTLETS) {
        let Some(text) = scriptlets.slot(slot).and_then(|t| t.take()) else { continue };
        let o = options.get(*slot).cloned().unwrap_or_default();
        let prog = o.prog.filter(|p| !p.is_empty()).unwrap_or_else(|| vec!["/bin/sh".into()]);
        requires.push(Dep::new(&prog[0], sense::INTERP | phase, ""));
        h.set(text_tag, Value::String(text));
        h.set(prog_tag, if prog.len() == 1 { Value::String(prog[0].clone()) } else { Value::StringArray(prog) });
        if let Some(flags) = o.flags {
            h.set(flags_tag, Value::Int32(vec![flags]));
        }
    }

    let provides = sorted(provides);
    let requires = sorted(requires);
    set_deps(&mut h, tag::PROVIDENAME, tag::PROVIDEVERSION, tag::PROVIDEFLAGS, &provides);
    set_deps(&mut h, tag::REQUIRENAME, tag::REQUIREVERSION, tag::REQUIREFLAGS, &requires);
    let deps = |list: &[Dependency]| sorted(list.iter().map(Dep::from).collect());
    set_deps(&mut h, tag::CONFLICTNAME, tag::CONFLICTVERSION, tag::CONFLICTFLAGS, &deps(&pkg.conflicts));
    set_deps(&mut h, tag::OBSOLETENAME, tag::OBSOLETEVERSION, tag::OBSOLETEFLAGS, &deps(&pkg.obsoletes));
    // The weak dependencies' tags follow each other: name, version, flags.
    for (name_tag, list) in [
        (tag::RECOMMENDNAME, sorted(recommends)),
        (tag::SUGGESTNAME, deps(&pkg.suggests)),
        (tag::SUPPLEMENTNAME, deps(&pkg.supplements)),
        (tag::ENHANCENAME, deps(&pkg.enhances)),
    ] {
        set_deps(&mut h, name_tag, name_tag + 1, name_tag + 2, &list);
    }

    if !pkg.changelog.is_empty() {
        let mut times = Vec::with_capacity(pkg.changelog.len());
        for c in &pkg.changelog {
            times.push(u32::try_from(c.time).map_err(|_| {
                Error::usage(format!("package {}: changelog time {} is out of range", pkg.name, c.time))
            })?);
        }
        let names = pkg.changelog.iter().map(|c| format!("{} - {}", c.author, c.version)).collect();
        h.set(tag::CHANGELOGTIME, Value::Int32(times));
        h.set(tag::CHANGELOGNAME, Value::StringArray(names));
        h.set(tag::CHANGELOGTEXT, Value::StringArray(pkg.changelog.iter().map(|c| c.text.clone()).collect()));
    }
    Ok(Headers { header: h, provides, requires })
}

fn placeholder_digests(files: &[Planned]) -> Vec<String> {
    files.iter().map(|f| if f.is_dir() { String::new() } else { NO_DIGEST_YET.to_string() }).collect()
}

fn file_flags(kind: FileKind) -> u32 {
    match kind {
        FileKind::Config { noreplace: true } => attr::CONFIG | attr::NOREPLACE,
        FileKind::Config { noreplace: false } => attr::CONFIG,
        FileKind::Doc => attr::DOC,
        FileKind::License => attr::LICENSE,
        FileKind::Binary | FileKind::Regular | FileKind::Dir => 0,
    }
}

/// `/usr/bin/` of `/usr/bin/demo` (with the trailing slash, as `DIRNAMES` has it).
fn parent(path: &str) -> &str {
    &path[..path.rfind('/').map_or(0, |i| i + 1)]
}

fn base(path: &str) -> &str {
    &path[path.rfind('/').map_or(0, |i| i + 1)..]
}

/// The signature header for a main header of these bytes followed by a payload.
fn signature(header: &[u8], payload_len: u64, archive_len: u64) -> Vec<u8> {
    let mut s = Header::new();
    s.set(tag::SIG_SHA256, Value::String(hex(&Sha256::digest(header))));
    s.set(tag::SIG_SIZE, Value::Int32(vec![(header.len() as u64 + payload_len) as u32]));
    s.set(tag::SIG_PAYLOADSIZE, Value::Int32(vec![archive_len as u32]));
    s.set(tag::SIG_RESERVEDSPACE, Value::Bin(vec![0; RESERVED_SPACE]));
    let mut bytes = s.encode(SIGNATURES);
    bytes.resize(bytes.len().next_multiple_of(8), 0);
    bytes
}

/// The lead: obsolete, but rpm still checks its magic; the name is for `file(1)`.
fn lead(pkg: &Package) -> [u8; LEAD_LEN as usize] {
    let mut lead = [0u8; LEAD_LEN as usize];
    lead[..4].copy_from_slice(&[0xed, 0xab, 0xee, 0xdb]);
    lead[4] = 3; // major version
    let name = format!("{}-{}-{}", pkg.name, pkg.version, pkg.release);
    let n = name.len().min(65);
    lead[10..10 + n].copy_from_slice(&name.as_bytes()[..n]);
    lead[77] = 1; // os: Linux
    lead[79] = 5; // signature type: a header
    lead
}

/// Writes the package into `out` from its current position, which must be the start; returns
/// what [`super::Written`] reports. Same package, same inputs: same bytes.
pub(crate) fn encode<W: Write + Seek>(pkg: &Package, compression: Compression, out: &mut W) -> Result<Encoded> {
    pkg.validate()?;
    compression.validate()?;
    let failed = |e: std::io::Error| Error::failed(format!("package {}: writing: {e}", pkg.nevra()));
    let files = plan(pkg)?;
    let Headers { mut header, provides, requires } = headers(pkg, &files, compression)?;
    let archive_len = archive_len(&files);

    // The headers as they will be, but with placeholder digests: the payload goes after them.
    let draft = header.encode(IMMUTABLE);
    let draft_sig = signature(&draft, 0, archive_len);
    let start = out.stream_position().map_err(failed)?;
    out.write_all(&lead(pkg)).map_err(failed)?;
    out.write_all(&draft_sig).map_err(failed)?;
    out.write_all(&draft).map_err(failed)?;

    let payload = Hashing::new(std::io::BufWriter::with_capacity(BUFFER, &mut *out));
    let compressor = Compressor::new(compression, payload, archive_len).map_err(failed)?;
    let mut archive = Hashing::new(compressor);
    let mut digests = Vec::with_capacity(files.len());
    let mut buf = vec![0u8; BUFFER];
    for (i, f) in files.iter().enumerate() {
        cpio_entry(&mut archive, &f.archive_name, i as u32 + 1, f.mode, f.size, pkg.source_date as u32)
            .map_err(failed)?;
        if f.is_dir() {
            digests.push(String::new());
            continue;
        }
        let source = &f.entry.source;
        let mut file = std::fs::File::open(source).map_err(io(source))?;
        let mut sha = Sha256::new();
        let mut copied = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(source)(e)),
            };
            copied += n as u64;
            if copied > f.size {
                break;
            }
            sha.update(&buf[..n]);
            archive.write_all(&buf[..n]).map_err(failed)?;
        }
        if copied != f.size {
            return Err(Error::failed(format!(
                "package {}: {source} changed while it was packaged ({} bytes, then {copied})",
                pkg.name, f.size
            ))
            .with_help("build the packages when nothing else writes the files"));
        }
        archive.write_all(&[0u8; 3][..pad4(f.size)]).map_err(failed)?;
        digests.push(hex(&sha.finalize()));
    }
    cpio_entry(&mut archive, "TRAILER!!!", 0, 0, 0, 0).map_err(failed)?;
    let (compressor, archive_sha, written_archive) = archive.finish();
    debug_assert_eq!(written_archive, archive_len);
    let (payload_sha, payload_len) = {
        let payload = compressor.finish().map_err(failed)?;
        let (buffered, sha, len) = payload.finish();
        buffered.into_inner().map_err(|e| failed(e.into_error()))?;
        (sha, len)
    };

    header.set(tag::FILEDIGESTS, Value::StringArray(digests));
    header.set(tag::PAYLOADDIGEST, Value::StringArray(vec![hex(&payload_sha)]));
    header.set(tag::PAYLOADDIGESTALT, Value::StringArray(vec![hex(&archive_sha)]));
    let header = header.encode(IMMUTABLE);
    let sig = signature(&header, payload_len, archive_len);
    assert_eq!((header.len(), sig.len()), (draft.len(), draft_sig.len()), "digests changed a header's size");
    if header.len() as u64 + payload_len > u64::from(u32::MAX) {
        return Err(Error::failed(format!("package {}: the package is larger than 4 GiB", pkg.name)));
    }
    out.seek(SeekFrom::Start(start + LEAD_LEN)).map_err(failed)?;
    out.write_all(&sig).map_err(failed)?;
    out.write_all(&header).map_err(failed)?;
    let size = LEAD_LEN + sig.len() as u64 + header.len() as u64 + payload_len;
    out.seek(SeekFrom::Start(start + size)).map_err(failed)?;
    Ok(Encoded {
        size,
        provides: provides.iter().map(Dep::show).collect(),
        requires: requires.iter().map(Dep::show).collect(),
    })
}

fn pad4(n: u64) -> usize {
    (n.next_multiple_of(4) - n) as usize
}

/// One cpio "new ASCII" (newc) entry header and its name; the data follows.
fn cpio_entry(out: &mut impl Write, name: &str, ino: u32, mode: u32, size: u64, mtime: u32) -> std::io::Result<()> {
    let nlink = 1;
    let mut head = String::with_capacity(112 + name.len());
    head.push_str("070701");
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    for field in [ino, mode, 0, 0, nlink, mtime, size as u32, 0, 0, 0, 0, name.len() as u32 + 1, 0] {
        use std::fmt::Write as _;
        let _ = write!(head, "{field:08x}");
    }
    head.push_str(name);
    head.push('\0');
    let padded = head.len().next_multiple_of(4);
    head.extend(std::iter::repeat_n('\0', padded - head.len()));
    out.write_all(head.as_bytes())
}

/// A writer that hashes (SHA-256) and counts what goes through it.
struct Hashing<W> {
    inner: W,
    sha256: Sha256,
    len: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Hashing<W> {
        Hashing { inner, sha256: Sha256::new(), len: 0 }
    }

    fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.sha256.finalize().into(), self.len)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The payload's compressor, writing into `W`.
enum Compressor<W: Write> {
    Zstd(zstd::stream::Encoder<'static, W>),
    Gzip(flate2::write::GzEncoder<W>),
}

impl<W: Write> Compressor<W> {
    fn new(compression: Compression, out: W, archive_len: u64) -> std::io::Result<Compressor<W>> {
        Ok(match compression {
            Compression::Zstd(level) => {
                let mut z = zstd::stream::Encoder::new(out, level)?;
                // The size up front lets zstd pick parameters for it (small packages compress
                // faster) and records it in the frame.
                z.set_pledged_src_size(Some(archive_len))?;
                z.include_contentsize(true)?;
                Compressor::Zstd(z)
            }
            // flate2's gzip header has no time and no name: the same bytes every time.
            Compression::Gzip(level) => {
                Compressor::Gzip(flate2::write::GzEncoder::new(out, flate2::Compression::new(level)))
            }
        })
    }

    fn finish(self) -> std::io::Result<W> {
        match self {
            Compressor::Zstd(z) => z.finish(),
            Compressor::Gzip(g) => g.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compressor::Zstd(z) => z.write(buf),
            Compressor::Gzip(g) => g.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compressor::Zstd(z) => z.flush(),
            Compressor::Gzip(g) => g.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmpkg::header::Parsed;

    #[test]
    fn cpio_entries_are_padded_to_four_bytes() {
        for name in ["./a", "./ab", "./abc", "./abcd", "TRAILER!!!"] {
            let mut out = Vec::new();
            cpio_entry(&mut out, name, 1, 0o100644, 5, 0).unwrap();
            assert_eq!(out.len() % 4, 0, "{name}");
            assert_eq!(out.len(), (110 + name.len() + 1).next_multiple_of(4));
            assert!(out.starts_with(b"070701"));
        }
    }

    #[test]
    fn the_signature_header_is_padded_and_sized_the_same_for_any_digest() {
        let a = signature(b"one header", 10, 20);
        let b = signature(b"another, longer header", 1 << 30, 1 << 31);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len() % 8, 0);
        let parsed = Parsed::read(&mut a.as_slice()).unwrap();
        assert_eq!(parsed.tags().collect::<Vec<_>>(), [SIGNATURES, 273, 1000, 1007, 1008]);
        assert_eq!(parsed.string(273), Some(hex(&Sha256::digest(b"one header"))));
        assert_eq!(parsed.int32s(1000), Some(vec![20]));
        assert_eq!(parsed.bin(1008).map(<[u8]>::len), Some(RESERVED_SPACE));
    }

    #[test]
    fn dependencies_sort_and_render_as_rpm_does() {
        let deps = sorted(vec![
            Dep::from(&Dependency::new("b", DepFlags::GreaterEq, "2")),
            Dep::rpmlib("FileDigests", "4.6.0-1"),
            Dep::from(&Dependency::any("a")),
            Dep::from(&Dependency::any("a")),
        ]);
        let shown: Vec<String> = deps.iter().map(Dep::show).collect();
        assert_eq!(shown, ["a", "b >= 2", "rpmlib(FileDigests) <= 4.6.0-1"]);
        assert_eq!(deps[2].flags, (1 << 24) | 2 | 8);
    }

    #[test]
    fn directories_and_base_names() {
        assert_eq!((parent("/usr/bin/demo"), base("./usr/bin/demo")), ("/usr/bin/", "demo"));
        assert_eq!(parent("/demo"), "/");
    }
}
