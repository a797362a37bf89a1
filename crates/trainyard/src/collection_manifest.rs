//! `collection.json`: what a collection holds, written beside its packages.

use serde::Serialize;

use crate::channel::Channel;
use crate::projects::Record;
use crate::rpmpkg::{Package, Written};

/// What kind of package a collection entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Workspace,
    Internal,
    Dependency,
}

/// One package of the collection.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub file: String,
    pub name: String,
    pub nevra: String,
    pub kind: Kind,
    pub sha256: String,
    pub size: u64,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
    #[serde(skip)]
    pub unchanged: bool,
    #[serde(skip)]
    pub from_cache: bool,
}

impl Entry {
    /// The entry of package `p` of kind `kind`, written as `w` into `out`.
    pub fn of(w: &Written, p: &Package, kind: Kind, out: &camino::Utf8Path) -> Entry {
        Entry {
            file: w.path.strip_prefix(out).unwrap_or(&w.path).to_string(),
            name: p.name.clone(),
            nevra: w.nevra.clone(),
            kind,
            sha256: w.sha256.clone(),
            size: w.size,
            provides: w.provides.clone(),
            requires: w.requires.clone(),
            unchanged: w.unchanged,
            from_cache: w.from_cache,
        }
    }
}

/// `collection.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub channel: Channel,
    pub workspace: String,
    pub version: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub source_date: u64,
    pub internal: Vec<Record>,
    pub packages: Vec<Entry>,
}
