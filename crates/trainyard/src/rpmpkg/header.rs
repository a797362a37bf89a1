//! RPM v4 headers: the tag store both the signature header and the main header are made of,
//! encoded and parsed.
//!
//! A header is a magic, an index of 16-byte entries (tag, type, offset into the store, count)
//! and a store. Entries are sorted by tag; numbers are big-endian and aligned in the store to
//! their size. The first entry is the region tag (62 for the signature header, 63 for the main
//! header): its data, at the end of the store, is an index entry whose negative offset says how
//! many entries the region covers. rpm checks it, and `rpmsign` needs it to sign the header
//! later (the region is what the signature covers).

use std::collections::BTreeMap;

/// The 8 bytes every header starts with: magic, version 1, four reserved bytes.
pub const MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

/// Region tag of the signature header (`RPMTAG_HEADERSIGNATURES`).
pub const SIGNATURES: u32 = 62;
/// Region tag of the main header (`RPMTAG_HEADERIMMUTABLE`).
pub const IMMUTABLE: u32 = 63;

/// Entry types (`rpmTagType`).
const INT16: u32 = 3;
const INT32: u32 = 4;
const STRING: u32 = 6;
const BIN: u32 = 7;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// The value of one tag, as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int16(Vec<u16>),
    Int32(Vec<u32>),
    /// One NUL-terminated string.
    String(String),
    Bin(Vec<u8>),
    StringArray(Vec<String>),
    /// A translatable string, stored once for the `C` locale of `HEADERI18NTABLE`.
    I18n(String),
}

impl Value {
    fn kind(&self) -> u32 {
        match self {
            Value::Int16(_) => INT16,
            Value::Int32(_) => INT32,
            Value::String(_) => STRING,
            Value::Bin(_) => BIN,
            Value::StringArray(_) => STRING_ARRAY,
            Value::I18n(_) => I18NSTRING,
        }
    }

    fn count(&self) -> usize {
        match self {
            Value::Int16(v) => v.len(),
            Value::Int32(v) => v.len(),
            Value::String(_) | Value::I18n(_) => 1,
            Value::Bin(v) => v.len(),
            Value::StringArray(v) => v.len(),
        }
    }

    /// Appends the value to `store` after the padding its type needs; returns its offset.
    fn append(&self, store: &mut Vec<u8>) -> usize {
        let align = match self {
            Value::Int16(_) => 2,
            Value::Int32(_) => 4,
            _ => 1,
        };
        store.resize(store.len().next_multiple_of(align), 0);
        let offset = store.len();
        match self {
            Value::Int16(v) => v.iter().for_each(|n| store.extend_from_slice(&n.to_be_bytes())),
            Value::Int32(v) => v.iter().for_each(|n| store.extend_from_slice(&n.to_be_bytes())),
            Value::String(s) | Value::I18n(s) => {
                store.extend_from_slice(s.as_bytes());
                store.push(0);
            }
            Value::Bin(b) => store.extend_from_slice(b),
            Value::StringArray(v) => v.iter().for_each(|s| {
                store.extend_from_slice(s.as_bytes());
                store.push(0);
            }),
        }
        offset
    }
}

/// A header being built: tags and their values, kept in tag order.
#[derive(Debug, Clone, Default)]
pub struct Header {
    entries: BTreeMap<u32, Value>,
}

impl Header {
    pub fn new() -> Header {
        Header::default()
    }

    /// Sets a tag (replacing an earlier value). Empty arrays are left out, as rpm does.
    pub fn set(&mut self, tag: u32, value: Value) {
        if value.count() == 0 && !matches!(value, Value::String(_) | Value::I18n(_)) {
            self.entries.remove(&tag);
        } else {
            self.entries.insert(tag, value);
        }
    }

    /// The header as rpm reads it, with the region tag `region` covering every entry.
    pub fn encode(&self, region: u32) -> Vec<u8> {
        let mut store = Vec::new();
        let mut index = Vec::with_capacity((self.entries.len() + 1) * 16);
        for (&tag, value) in &self.entries {
            debug_assert!(tag > region, "tag {tag} sorts before the region tag");
            let offset = value.append(&mut store);
            push_entry(&mut index, tag, value.kind(), offset as i32, value.count() as u32);
        }
        // The region's trailer: an entry whose offset is minus the size of the region's index.
        let entries = self.entries.len() + 1;
        let trailer_offset = store.len();
        let mut trailer = Vec::with_capacity(16);
        push_entry(&mut trailer, region, BIN, -(entries as i32 * 16), 16);
        store.extend_from_slice(&trailer);

        let mut out = Vec::with_capacity(16 + entries * 16 + store.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(entries as u32).to_be_bytes());
        out.extend_from_slice(&(store.len() as u32).to_be_bytes());
        push_entry(&mut out, region, BIN, trailer_offset as i32, 16);
        out.extend_from_slice(&index);
        out.extend_from_slice(&store);
        out
    }
}

fn push_entry(out: &mut Vec<u8>, tag: u32, kind: u32, offset: i32, count: u32) {
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
}

/// A header read from bytes: what [`Parsed::string`] and friends look values up in.
#[derive(Debug)]
pub struct Parsed {
    /// tag -> (type, offset, count)
    index: BTreeMap<u32, (u32, usize, usize)>,
    store: Vec<u8>,
    /// Bytes the header took: 16 + index + store.
    pub len: usize,
}

impl Parsed {
    /// Reads a header from the start of `bytes`; errors say what is wrong with it.
    pub fn read(input: &mut impl std::io::Read) -> Result<Parsed, String> {
        let mut intro = [0u8; 16];
        input.read_exact(&mut intro).map_err(|e| format!("header cut short: {e}"))?;
        if intro[..3] != MAGIC[..3] {
            return Err("no header magic where a header should start".into());
        }
        let count = u32::from_be_bytes(intro[8..12].try_into().unwrap()) as usize;
        let size = u32::from_be_bytes(intro[12..16].try_into().unwrap()) as usize;
        if count > 0x10000 || size > 256 << 20 {
            return Err(format!("implausible header: {count} entries, {size} bytes of data"));
        }
        let mut rest = vec![0u8; count * 16 + size];
        input.read_exact(&mut rest).map_err(|e| format!("header cut short: {e}"))?;
        let store = rest.split_off(count * 16);
        let mut index = BTreeMap::new();
        for e in rest.chunks_exact(16) {
            let word = |i: usize| u32::from_be_bytes(e[i..i + 4].try_into().unwrap());
            let (tag, kind, offset, n) = (word(0), word(4), word(8) as i32, word(12) as usize);
            if offset < 0 || offset as usize > store.len() {
                return Err(format!("tag {tag}: offset {offset} outside the header's {size} bytes of data"));
            }
            index.insert(tag, (kind, offset as usize, n));
        }
        Ok(Parsed { index, store, len: 16 + count * 16 + size })
    }

    /// The tags present, in order.
    pub fn tags(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.keys().copied()
    }

    /// The (type, offset, count) of a tag's entry.
    pub fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.index.get(&tag).copied()
    }

    /// A string tag (STRING, I18NSTRING: the first; STRING_ARRAY: the first element).
    pub fn string(&self, tag: u32) -> Option<String> {
        self.strings(tag)?.into_iter().next()
    }

    /// The strings of a string or string-array tag.
    pub fn strings(&self, tag: u32) -> Option<Vec<String>> {
        let &(kind, offset, count) = self.index.get(&tag)?;
        let count = match kind {
            STRING | I18NSTRING => 1,
            STRING_ARRAY => count,
            _ => return None,
        };
        let mut out = Vec::with_capacity(count);
        let mut at = offset;
        for _ in 0..count {
            let end = at + self.store.get(at..)?.iter().position(|&b| b == 0)?;
            out.push(String::from_utf8_lossy(&self.store[at..end]).into_owned());
            at = end + 1;
        }
        Some(out)
    }

    /// The numbers of an INT32 tag.
    pub fn int32s(&self, tag: u32) -> Option<Vec<u32>> {
        let &(kind, offset, count) = self.index.get(&tag)?;
        if kind != INT32 {
            return None;
        }
        let bytes = self.store.get(offset..offset.checked_add(count.checked_mul(4)?)?)?;
        Some(bytes.chunks_exact(4).map(|c| u32::from_be_bytes(c.try_into().unwrap())).collect())
    }

    /// The numbers of an INT16 tag.
    pub fn int16s(&self, tag: u32) -> Option<Vec<u16>> {
        let &(kind, offset, count) = self.index.get(&tag)?;
        if kind != INT16 {
            return None;
        }
        let bytes = self.store.get(offset..offset.checked_add(count.checked_mul(2)?)?)?;
        Some(bytes.chunks_exact(2).map(|c| u16::from_be_bytes(c.try_into().unwrap())).collect())
    }

    /// The bytes of a BIN tag.
    pub fn bin(&self, tag: u32) -> Option<&[u8]> {
        let &(kind, offset, count) = self.index.get(&tag)?;
        if kind != BIN {
            return None;
        }
        self.store.get(offset..offset.checked_add(count)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        let mut h = Header::new();
        // Set out of order, with types that need padding after odd-length strings.
        h.set(1004, Value::I18n("a summary".into()));
        h.set(1000, Value::String("demo".into()));
        h.set(1030, Value::Int16(vec![0o100755, 0o40755]));
        h.set(1028, Value::Int32(vec![7, 0]));
        h.set(1117, Value::StringArray(vec!["bin".into(), "x".into()]));
        h.set(1048, Value::Int32(vec![]));
        h
    }

    #[test]
    fn entries_are_sorted_after_the_region_and_aligned() {
        let bytes = sample().encode(IMMUTABLE);
        assert_eq!(bytes[..8], MAGIC);
        let parsed = Parsed::read(&mut bytes.as_slice()).unwrap();
        assert_eq!(parsed.len, bytes.len());
        // The empty array is left out; the region tag comes first.
        let tags: Vec<u32> =
            bytes[16..16 + 6 * 16].chunks(16).map(|e| u32::from_be_bytes(e[..4].try_into().unwrap())).collect();
        assert_eq!(tags, [63, 1000, 1004, 1028, 1030, 1117]);
        for tag in [1028, 1030] {
            let (kind, offset, _) = parsed.entry(tag).unwrap();
            let align = if kind == INT32 { 4 } else { 2 };
            assert_eq!(offset % align, 0, "tag {tag} at {offset}");
        }
        assert_eq!(parsed.string(1000).as_deref(), Some("demo"));
        assert_eq!(parsed.string(1004).as_deref(), Some("a summary"));
        assert_eq!(parsed.int32s(1028), Some(vec![7, 0]));
        assert_eq!(parsed.int16s(1030), Some(vec![0o100755, 0o40755]));
        assert_eq!(parsed.strings(1117), Some(vec!["bin".to_string(), "x".to_string()]));
        assert_eq!(parsed.int32s(1048), None);
    }

    #[test]
    fn the_region_trailer_covers_every_entry() {
        let bytes = sample().encode(IMMUTABLE);
        let parsed = Parsed::read(&mut bytes.as_slice()).unwrap();
        let (kind, offset, count) = parsed.entry(IMMUTABLE).unwrap();
        assert_eq!((kind, count), (BIN, 16));
        let trailer = parsed.bin(IMMUTABLE).unwrap();
        // The trailer is the last 16 bytes of the store.
        assert_eq!(offset + 16, bytes.len() - 16 - 6 * 16);
        let word = |i: usize| u32::from_be_bytes(trailer[i..i + 4].try_into().unwrap());
        assert_eq!((word(0), word(4), word(12)), (IMMUTABLE, BIN, 16));
        assert_eq!(word(8) as i32, -6 * 16);
    }

    #[test]
    fn same_header_same_bytes_and_bad_bytes_are_errors() {
        assert_eq!(sample().encode(SIGNATURES), sample().encode(SIGNATURES));
        let bytes = sample().encode(IMMUTABLE);
        assert!(Parsed::read(&mut &bytes[..40]).unwrap_err().contains("cut short"));
        let mut wrong = bytes.clone();
        wrong[0] = 0;
        assert!(Parsed::read(&mut wrong.as_slice()).unwrap_err().contains("magic"));
    }
}
