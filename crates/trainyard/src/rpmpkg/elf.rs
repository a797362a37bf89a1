//! Reads the dynamic-linking facts of an ELF file in-process, and turns them into the
//! capability strings rpm's own generator (`/usr/lib/rpm/elfdeps`) produces, so packaging
//! needs nothing beyond the Rust toolchain (no `ldd`: it is transitive and breaks cross builds).
//!
//! What elfdeps emits, and so what we emit:
//! - Requires (for every file except an executable, one with a program interpreter, that
//!   lacks an execute bit): each `DT_NEEDED` library as
//!   `libfoo.so.1()(64bit)`, each version it needs from `.gnu.version_r` as
//!   `libfoo.so.1(FOO_1.0)(64bit)`, and `rtld(GNU_HASH)` when the file has a GNU hash table
//!   but no SysV one.
//! - Provides: each version defined in `.gnu.version_d` as `soname(VERSION)(64bit)`, and for a
//!   shared library (not a PIE executable, told apart by `DT_DEBUG`) its `DT_SONAME`, or its
//!   file name when it has none.
//! - Library names are filtered as elfdeps does: they must contain `.so` and start with `lib`
//!   (or be the dynamic linker, `ld.`/`ld-`/`ld64`); `(64bit)` is added for 64-bit classes
//!   except on Alpha.

use std::collections::BTreeSet;
use std::fmt;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_ALPHA: u16 = 41;
const EM_FAKE_ALPHA: u16 = 0x9026;

const PT_INTERP: u32 = 3;

const SHT_NOBITS: u32 = 8;
const SHT_DYNAMIC: u32 = 6;
const SHT_SYMTAB: u32 = 2;
const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

const DT_NEEDED: u64 = 1;
const DT_HASH: u64 = 4;
const DT_SONAME: u64 = 14;
const DT_DEBUG: u64 = 21;
const DT_GNU_HASH: u64 = 0x6fff_fef5;

const VER_FLG_BASE: u16 = 1;

/// Why a file could not be read as ELF. The caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfError(pub String);

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, ElfError>;

fn bad(what: impl Into<String>) -> ElfError {
    ElfError(what.into())
}

/// True when `bytes` start with the ELF magic number.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// The object's kind, from `e_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Executable,
    /// A shared library or a position-independent executable.
    SharedObject,
    /// Relocatable objects, core dumps: no dependencies.
    Other,
}

/// What one library needs from another: `libc.so.6` and `GLIBC_2.34`, `GLIBC_2.2.5`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    pub library: String,
    pub versions: Vec<String>,
}

/// The dynamic-linking facts of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub is_64: bool,
    pub big_endian: bool,
    pub machine: u16,
    pub kind: ObjectKind,
    /// `DT_NEEDED` entries, in file order.
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub version_needs: Vec<VersionNeed>,
    /// The base name defined in `.gnu.version_d` (normally the soname) and the versions it defines.
    pub version_defs: Vec<String>,
    pub version_base: Option<String>,
    pub has_hash: bool,
    pub has_gnu_hash: bool,
    pub has_debug: bool,
    /// The program interpreter (`PT_INTERP`), set for dynamically linked executables.
    pub interp: Option<String>,
    /// A `.symtab` section is present (the file is not stripped of symbols).
    pub has_symtab: bool,
    /// Some `.debug_*` section is present.
    pub has_debug_info: bool,
}

/// Requires and Provides, as rpm capability strings, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfDeps {
    pub requires: Vec<String>,
    pub provides: Vec<String>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn slice(&self, offset: u64, len: u64, what: &str) -> Result<&[u8]> {
        let start = usize::try_from(offset).map_err(|_| bad(format!("{what} lies beyond the end of the file")))?;
        let len = usize::try_from(len).map_err(|_| bad(format!("{what} is too large")))?;
        let end = start.checked_add(len).ok_or_else(|| bad(format!("{what} lies beyond the end of the file")))?;
        self.bytes.get(start..end).ok_or_else(|| {
            bad(format!(
                "{what} (bytes {start}..{end}) lies beyond the end of the file ({} bytes): truncated?",
                self.bytes.len()
            ))
        })
    }
    fn u16(&self, at: u64) -> Result<u16> {
        let b = self.slice(at, 2, "a header field")?;
        let b = [b[0], b[1]];
        Ok(if self.big_endian { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }
    fn u32(&self, at: u64) -> Result<u32> {
        let b = self.slice(at, 4, "a header field")?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }
    fn u64(&self, at: u64) -> Result<u64> {
        let b = self.slice(at, 8, "a header field")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(if self.big_endian { u64::from_be_bytes(a) } else { u64::from_le_bytes(a) })
    }
    /// A word: 8 bytes in 64-bit files, 4 in 32-bit ones.
    fn word(&self, at: u64, is_64: bool) -> Result<u64> {
        if is_64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

/// `SHF_ALLOC`: the section occupies memory when the file is loaded.
const SHF_ALLOC: u64 = 0x2;

#[derive(Debug, Clone, Copy)]
struct Section {
    kind: u32,
    name: u32,
    /// `sh_flags`: `SHF_ALLOC` sections are part of the loaded image, which `strip` keeps.
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    entsize: u64,
}

impl ElfInfo {
    /// Parses the ELF header, the section headers, and the dynamic and version sections.
    pub fn parse(bytes: &[u8]) -> Result<ElfInfo> {
        if !is_elf(bytes) {
            return Err(bad("not an ELF file (no \\x7fELF magic number)"));
        }
        if bytes.len() < 16 {
            return Err(bad("truncated ELF header"));
        }
        let is_64 = match bytes[4] {
            1 => false,
            2 => true,
            c => return Err(bad(format!("unknown ELF class {c}"))),
        };
        let big_endian = match bytes[5] {
            1 => false,
            2 => true,
            d => return Err(bad(format!("unknown ELF data encoding {d}"))),
        };
        let header_len = if is_64 { 64 } else { 52 };
        if bytes.len() < header_len {
            return Err(bad(format!("truncated ELF header ({} bytes, expected {header_len})", bytes.len())));
        }
        let r = Reader { bytes, big_endian };
        let e_type = r.u16(16)?;
        let machine = r.u16(18)?;
        let (shoff, shentsize_at, shnum_at, shstrndx_at) =
            if is_64 { (r.u64(40)?, 58, 60, 62) } else { (u64::from(r.u32(32)?), 46, 48, 50) };
        let shentsize = u64::from(r.u16(shentsize_at)?);
        let mut shnum = u64::from(r.u16(shnum_at)?);
        let _ = r.u16(shstrndx_at)?;
        let kind = match e_type {
            ET_EXEC => ObjectKind::Executable,
            ET_DYN => ObjectKind::SharedObject,
            _ => ObjectKind::Other,
        };

        let mut info = ElfInfo {
            is_64,
            big_endian,
            machine,
            kind,
            needed: Vec::new(),
            soname: None,
            version_needs: Vec::new(),
            version_defs: Vec::new(),
            version_base: None,
            has_hash: false,
            has_gnu_hash: false,
            has_debug: false,
            interp: None,
            has_symtab: false,
            has_debug_info: false,
        };
        info.interp = read_interp(&r, is_64)?;
        if shoff == 0 {
            return Ok(info);
        }
        let min_entsize = if is_64 { 64 } else { 40 };
        if shentsize < min_entsize {
            return Err(bad(format!("section header entries of {shentsize} bytes (expected {min_entsize})")));
        }
        let read_section = |i: u64| -> Result<Section> {
            let at = i
                .checked_mul(shentsize)
                .and_then(|o| o.checked_add(shoff))
                .ok_or_else(|| bad("section header table lies beyond the end of the file"))?;
            r.slice(at, shentsize, "a section header")?;
            Ok(if is_64 {
                Section {
                    name: r.u32(at)?,
                    kind: r.u32(at + 4)?,
                    flags: r.u64(at + 8)?,
                    offset: r.u64(at + 24)?,
                    size: r.u64(at + 32)?,
                    link: r.u32(at + 40)?,
                    info: r.u32(at + 44)?,
                    entsize: r.u64(at + 56)?,
                }
            } else {
                Section {
                    name: r.u32(at)?,
                    kind: r.u32(at + 4)?,
                    flags: u64::from(r.u32(at + 8)?),
                    offset: u64::from(r.u32(at + 16)?),
                    size: u64::from(r.u32(at + 20)?),
                    link: r.u32(at + 24)?,
                    info: r.u32(at + 28)?,
                    entsize: u64::from(r.u32(at + 36)?),
                }
            })
        };
        // Extended numbering: with 0xff00 sections or more, the count lives in section 0's size.
        if shnum == 0 {
            shnum = read_section(0)?.size;
        }
        if shnum > 65_536 {
            return Err(bad(format!("implausible section count {shnum}")));
        }
        let sections: Vec<Section> = (0..shnum).map(read_section).collect::<Result<_>>()?;
        let shstrndx = u64::from(r.u16(shstrndx_at)?);
        let shstrtab = sections.get(shstrndx as usize).copied();

        let section_data = |s: &Section, what: &str| -> Result<&[u8]> {
            if s.kind == SHT_NOBITS {
                return Ok(&[]);
            }
            r.slice(s.offset, s.size, what)
        };
        let string_table = |link: u32| -> Result<&[u8]> {
            let s = sections
                .get(link as usize)
                .ok_or_else(|| bad(format!("string table index {link} out of range ({shnum} sections)")))?;
            section_data(s, "a string table")
        };

        for s in &sections {
            if s.kind == SHT_SYMTAB {
                info.has_symtab = true;
            }
            if let Some(strtab) = shstrtab {
                if let Ok(names) = section_data(&strtab, "the section name table") {
                    // An allocated `.debug_*` section (rustc's `.debug_gdb_scripts`, written with
                    // `debug = 1` and up) is loaded at run time: `strip` leaves it, so it is no sign
                    // of an unstripped file.
                    let loaded = s.flags & SHF_ALLOC != 0;
                    let debug =
                        cstr(names, s.name).is_ok_and(|n| n.starts_with(".debug_") || n.starts_with(".zdebug_"));
                    if debug && !loaded {
                        info.has_debug_info = true;
                    }
                }
            }
            match s.kind {
                SHT_DYNAMIC => {
                    info.read_dynamic(&r, s, section_data(s, "the dynamic section")?, string_table(s.link)?)?
                }
                SHT_GNU_VERNEED => {
                    info.read_verneed(&r, s, section_data(s, ".gnu.version_r")?, string_table(s.link)?)?
                }
                SHT_GNU_VERDEF => info.read_verdef(&r, s, section_data(s, ".gnu.version_d")?, string_table(s.link)?)?,
                _ => {}
            }
        }
        Ok(info)
    }

    fn read_dynamic(&mut self, r: &Reader<'_>, s: &Section, data: &[u8], strtab: &[u8]) -> Result<()> {
        let entsize = if self.is_64 { 16 } else { 8 };
        if s.entsize != 0 && s.entsize != entsize {
            return Err(bad(format!("dynamic entries of {} bytes (expected {entsize})", s.entsize)));
        }
        let d = Reader { bytes: data, big_endian: r.big_endian };
        for i in 0..(data.len() as u64 / entsize) {
            let tag = d.word(i * entsize, self.is_64)?;
            let val = d.word(i * entsize + entsize / 2, self.is_64)?;
            let tag = if self.is_64 { tag } else { tag as u32 as u64 };
            match tag {
                DT_HASH => self.has_hash = true,
                DT_GNU_HASH => self.has_gnu_hash = true,
                DT_DEBUG => self.has_debug = true,
                DT_SONAME => self.soname = Some(string_at(strtab, val, "DT_SONAME")?),
                DT_NEEDED => self.needed.push(string_at(strtab, val, "DT_NEEDED")?),
                _ => {}
            }
        }
        Ok(())
    }

    fn read_verneed(&mut self, r: &Reader<'_>, s: &Section, data: &[u8], strtab: &[u8]) -> Result<()> {
        let d = Reader { bytes: data, big_endian: r.big_endian };
        let mut offset = 0u64;
        // sh_info holds the number of entries.
        for _ in 0..s.info {
            let count = d.u16(offset + 2)?;
            let file = string_at(strtab, u64::from(d.u32(offset + 4)?), "vn_file")?;
            let aux = u64::from(d.u32(offset + 8)?);
            let next = u64::from(d.u32(offset + 12)?);
            let mut need = VersionNeed { library: file, versions: Vec::new() };
            let mut aux_offset = offset + aux;
            for _ in 0..count {
                need.versions.push(string_at(strtab, u64::from(d.u32(aux_offset + 8)?), "vna_name")?);
                let aux_next = u64::from(d.u32(aux_offset + 12)?);
                if aux_next == 0 {
                    break;
                }
                aux_offset += aux_next;
            }
            self.version_needs.push(need);
            if next == 0 {
                break;
            }
            offset += next;
        }
        Ok(())
    }

    fn read_verdef(&mut self, r: &Reader<'_>, s: &Section, data: &[u8], strtab: &[u8]) -> Result<()> {
        let d = Reader { bytes: data, big_endian: r.big_endian };
        let mut offset = 0u64;
        for _ in 0..s.info {
            let flags = d.u16(offset + 2)?;
            let count = d.u16(offset + 6)?;
            let aux = u64::from(d.u32(offset + 12)?);
            let next = u64::from(d.u32(offset + 16)?);
            // The first auxiliary entry names the version; further ones name its parents,
            // which elfdeps does not turn into provides.
            if count > 0 {
                let name = string_at(strtab, u64::from(d.u32(offset + aux)?), "vda_name")?;
                if flags & VER_FLG_BASE != 0 {
                    self.version_base = Some(name);
                } else if self.version_base.is_some() {
                    self.version_defs.push(name);
                }
            }
            if next == 0 {
                break;
            }
            offset += next;
        }
        Ok(())
    }

    /// `(64bit)` for 64-bit classes except Alpha, as elfdeps marks them.
    pub fn marker(&self) -> &'static str {
        if self.is_64 && self.machine != EM_ALPHA && self.machine != EM_FAKE_ALPHA {
            "(64bit)"
        } else {
            ""
        }
    }

    /// The capabilities rpm's elfdeps would generate for this file.
    ///
    /// `file_name` is the installed base name (used as the provided soname of a library that
    /// declares none); `executable` is whether the packaged file has an execute bit (elfdeps
    /// generates no requires for a program, one with an interpreter, that lacks it).
    pub fn dependencies(&self, file_name: &str, executable: bool) -> ElfDeps {
        let mut requires = BTreeSet::new();
        let mut provides = BTreeSet::new();
        if self.kind == ObjectKind::Other {
            return ElfDeps::default();
        }
        let marker = self.marker();
        let dep = |soname: &str, version: Option<&str>| -> Option<String> {
            if skip_soname(soname) {
                return None;
            }
            Some(match (version, marker) {
                (None, "") => soname.to_string(),
                (v, m) => format!("{soname}({}){m}", v.unwrap_or("")),
            })
        };
        if let Some(base) = &self.version_base {
            provides.extend(self.version_defs.iter().filter_map(|v| dep(base, Some(v))));
        }
        if executable || self.interp.is_none() {
            for need in &self.version_needs {
                requires.extend(need.versions.iter().filter_map(|v| dep(&need.library, Some(v))));
            }
            requires.extend(self.needed.iter().filter_map(|n| dep(n, None)));
            if self.has_gnu_hash && !self.has_hash {
                requires.insert("rtld(GNU_HASH)".to_string());
            }
        }
        if self.kind == ObjectKind::SharedObject && !self.has_debug {
            let soname = self.soname.as_deref().unwrap_or(file_name);
            provides.extend(dep(soname, None));
        }
        ElfDeps { requires: requires.into_iter().collect(), provides: provides.into_iter().collect() }
    }

    /// No symbol table and no debug sections: nothing left for `strip` to remove.
    pub fn is_stripped(&self) -> bool {
        !self.has_symtab && !self.has_debug_info
    }
}

/// The `PT_INTERP` string, if the file has one.
fn read_interp(r: &Reader<'_>, is_64: bool) -> Result<Option<String>> {
    let (phoff, entsize, count) = if is_64 {
        (r.u64(32)?, u64::from(r.u16(54)?), u64::from(r.u16(56)?))
    } else {
        (u64::from(r.u32(28)?), u64::from(r.u16(42)?), u64::from(r.u16(44)?))
    };
    if phoff == 0 || count == 0 {
        return Ok(None);
    }
    let min = if is_64 { 56 } else { 32 };
    if entsize < min {
        return Err(bad(format!("program header entries of {entsize} bytes (expected {min})")));
    }
    for i in 0..count {
        let at = phoff
            .checked_add(i * entsize)
            .ok_or_else(|| bad("program header table lies beyond the end of the file"))?;
        r.slice(at, entsize, "a program header")?;
        if r.u32(at)? == PT_INTERP {
            let offset = if is_64 { r.u64(at + 8)? } else { u64::from(r.u32(at + 4)?) };
            let rest = r.slice(offset, (r.bytes.len() as u64).saturating_sub(offset), "the program interpreter")?;
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            return Ok(Some(String::from_utf8_lossy(&rest[..end]).into_owned()));
        }
    }
    Ok(None)
}

/// elfdeps' sanity filter on library names.
fn skip_soname(soname: &str) -> bool {
    if soname.trim().is_empty() {
        return true;
    }
    if !soname.contains(".so") {
        return true;
    }
    // elfdeps compares only three characters, so `ld6...` passes as well as `ld64`.
    if soname.starts_with("ld.") || soname.starts_with("ld-") || soname.starts_with("ld6") {
        return false;
    }
    !soname.starts_with("lib")
}

fn cstr(table: &[u8], offset: u32) -> Result<&str> {
    let rest = table.get(offset as usize..).ok_or_else(|| bad(format!("string offset {offset} out of range")))?;
    let end = rest.iter().position(|&b| b == 0).ok_or_else(|| bad("unterminated string"))?;
    std::str::from_utf8(&rest[..end]).map_err(|_| bad("a string is not UTF-8"))
}

fn string_at(table: &[u8], offset: u64, what: &str) -> Result<String> {
    let offset = u32::try_from(offset).map_err(|_| bad(format!("{what}: string offset {offset} out of range")))?;
    cstr(table, offset).map(str::to_string).map_err(|e| bad(format!("{what}: {e}")))
}

/// Parses `bytes` and returns the capabilities elfdeps would generate.
pub fn dependencies(bytes: &[u8], file_name: &str, executable: bool) -> Result<ElfDeps> {
    Ok(ElfInfo::parse(bytes)?.dependencies(file_name, executable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_truncated_input() {
        assert!(ElfInfo::parse(b"#!/bin/sh\necho hi\n").unwrap_err().0.contains("not an ELF file"));
        assert!(ElfInfo::parse(b"\x7fELF\x02\x01").unwrap_err().0.contains("truncated"));
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[16] = 3;
        // A section header table far beyond the end.
        header[40..48].copy_from_slice(&1_000_000u64.to_le_bytes());
        header[58..60].copy_from_slice(&64u16.to_le_bytes());
        header[60..62].copy_from_slice(&3u16.to_le_bytes());
        let err = ElfInfo::parse(&header).unwrap_err();
        assert!(err.0.contains("beyond the end"), "{err}");
        header[4] = 7;
        assert!(ElfInfo::parse(&header).unwrap_err().0.contains("class"));
    }

    #[test]
    fn soname_filter_matches_elfdeps() {
        assert!(!skip_soname("libc.so.6"));
        assert!(!skip_soname("ld-linux-x86-64.so.2"));
        assert!(skip_soname("foo.so"));
        assert!(skip_soname("libfoo"));
        assert!(skip_soname("  "));
    }

    #[test]
    fn capability_strings() {
        let info = ElfInfo {
            is_64: true,
            big_endian: false,
            machine: 62,
            kind: ObjectKind::SharedObject,
            needed: vec!["libc.so.6".into(), "weird".into()],
            soname: Some("libdemo.so.1".into()),
            version_needs: vec![VersionNeed { library: "libc.so.6".into(), versions: vec!["GLIBC_2.34".into()] }],
            version_defs: vec!["DEMO_1".into()],
            version_base: Some("libdemo.so.1".into()),
            has_hash: false,
            has_gnu_hash: true,
            has_debug: false,
            interp: None,
            has_symtab: false,
            has_debug_info: false,
        };
        let deps = info.dependencies("libdemo.so.1.0.0", true);
        assert_eq!(deps.requires, ["libc.so.6()(64bit)", "libc.so.6(GLIBC_2.34)(64bit)", "rtld(GNU_HASH)"]);
        assert_eq!(deps.provides, ["libdemo.so.1()(64bit)", "libdemo.so.1(DEMO_1)(64bit)"]);
        // A library needs its libraries whatever its mode; a program without an execute bit not.
        assert_eq!(info.dependencies("x", false).requires.len(), 3);
        let program = ElfInfo { interp: Some("/lib64/ld-linux-x86-64.so.2".into()), ..info.clone() };
        assert!(program.dependencies("x", false).requires.is_empty());
        let thirty_two = ElfInfo { is_64: false, soname: None, version_base: None, ..info };
        assert_eq!(thirty_two.dependencies("libdemo.so.1", true).provides, ["libdemo.so.1"]);
        assert!(thirty_two.dependencies("x", true).requires.contains(&"libc.so.6(GLIBC_2.34)".to_string()));
    }
}
