//! Reading RPMs back (what the image target takes the files from): the headers, and the
//! entries of the cpio payload, decompressed as they stream (zstd or gzip).

use std::io::{BufReader, Read};

use camino::Utf8Path;

use super::encode::tag;
use super::header::Parsed;
use crate::error::{Error, Result};

/// A package opened for reading: its headers read, its payload next.
pub struct Opened {
    pub signature: Parsed,
    pub header: Parsed,
    payload: Box<dyn Read>,
}

/// One entry of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Absolute: `/usr/bin/demo`.
    pub path: String,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    pub size: u64,
}

impl ArchiveEntry {
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }
    pub fn is_file(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & 0o170000 == 0o120000
    }
}

/// Opens an RPM file: the lead and both headers are read; errors name the file.
pub fn open(path: &Utf8Path) -> Result<Opened> {
    let bad = |what: String| Error::failed(format!("{path}: cannot read the RPM: {what}"));
    let file = std::fs::File::open(path).map_err(crate::error::io(path))?;
    let mut input = BufReader::with_capacity(1 << 16, file);
    let (signature, header) = headers(&mut input).map_err(bad)?;
    let compressor = header.string(tag::PAYLOADCOMPRESSOR).unwrap_or_else(|| "gzip".into());
    let payload: Box<dyn Read> = match compressor.as_str() {
        "zstd" => Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(|e| bad(e.to_string()))?),
        "gzip" => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        other => {
            return Err(bad(format!("its payload is compressed with {other}, which trainyard does not read"))
                .with_help("write the package with trainyard, or with rpmbuild's zstd or gzip payloads"))
        }
    };
    Ok(Opened { signature, header, payload })
}

/// Reads the lead and both headers (signature, main) from the start of a package.
pub fn headers(input: &mut impl Read) -> std::result::Result<(Parsed, Parsed), String> {
    let mut lead = [0u8; 96];
    input.read_exact(&mut lead).map_err(|e| format!("no lead: {e}"))?;
    if lead[..4] != [0xed, 0xab, 0xee, 0xdb] {
        return Err("not an RPM file (no lead magic)".into());
    }
    let signature = Parsed::read(input).map_err(|e| format!("signature header: {e}"))?;
    let mut pad = [0u8; 8];
    let padding = signature.len.next_multiple_of(8) - signature.len;
    input.read_exact(&mut pad[..padding]).map_err(|e| format!("signature header: {e}"))?;
    let header = Parsed::read(input).map_err(|e| format!("header: {e}"))?;
    Ok((signature, header))
}

impl Opened {
    /// Calls `visit` with each entry of the payload and a reader of its data, in archive order.
    /// Data `visit` does not read is skipped.
    pub fn for_each_entry(
        mut self,
        path: &Utf8Path,
        mut visit: impl FnMut(&ArchiveEntry, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        let bad = |what: String| Error::failed(format!("{path}: cannot read its payload: {what}"));
        let input = &mut self.payload;
        loop {
            let mut head = [0u8; 110];
            input.read_exact(&mut head).map_err(|e| bad(format!("entry header: {e}")))?;
            if &head[..6] != b"070701" && &head[..6] != b"070702" {
                return Err(bad("not a cpio (newc) archive".into()));
            }
            let field = |i: usize| -> Result<u64> {
                let text = std::str::from_utf8(&head[6 + i * 8..14 + i * 8]).unwrap_or("?");
                u64::from_str_radix(text, 16).map_err(|_| bad(format!("`{text}` is not a cpio number")))
            };
            let (mode, size, name_len) = (field(1)? as u32, field(6)?, field(11)? as usize);
            if name_len == 0 || name_len > 4096 {
                return Err(bad(format!("a name of {name_len} bytes")));
            }
            let mut name = vec![0u8; (110 + name_len).next_multiple_of(4) - 110];
            input.read_exact(&mut name).map_err(|e| bad(format!("entry name: {e}")))?;
            name.truncate(name_len - 1);
            let name = String::from_utf8_lossy(&name).into_owned();
            if name == "TRAILER!!!" {
                return Ok(());
            }
            let entry =
                ArchiveEntry { path: format!("/{}", name.trim_start_matches('.').trim_start_matches('/')), mode, size };
            let mut data = (&mut *input).take(size);
            visit(&entry, &mut data)?;
            std::io::copy(&mut data, &mut std::io::sink()).map_err(|e| bad(format!("{}: {e}", entry.path)))?;
            if data.limit() > 0 {
                return Err(bad(format!("{} is cut short", entry.path)));
            }
            let mut pad = [0u8; 3];
            input.read_exact(&mut pad[..(size.next_multiple_of(4) - size) as usize]).map_err(|e| bad(e.to_string()))?;
        }
    }
}
