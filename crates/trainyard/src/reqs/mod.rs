//! Requirement files in pip's syntax: `reqs/<channel>-reqs.txt`.
//!
//! The subset of pip's format that means something for crates:
//!
//! ```text
//! # a comment
//! -r base-reqs.txt            # include, relative to this file (also `--requirement FILE`)
//! serde == 1.0.219            # a pin
//! SQLAlchemy <= 0.6.99
//! tokio >= 1.0, < 2           # comma-joined specifiers
//! anyhow                      # unpinned
//! ```
//!
//! Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`; `== 1.4.*` and `!= 1.4.*` match a prefix.
//! Versions are release numbers (`1`, `0.2`, `1.0.7`) with an optional pre-release, either
//! semver's (`1.0.0-beta.1`) or PEP 440's (`2.0rc1`, `1.0.dev3`), and an optional `+build`
//! (`+local`) part that comparisons ignore. pip's other features (extras, markers, URLs,
//! `-e`, `--hash`, line continuations) have no meaning for crates and are errors.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io_error, Error, Result};
use crate::version::Loose;

mod duplicates;
mod files;
mod line;
mod render;
mod specifier;
#[cfg(test)]
mod tests;

use duplicates::*;
use files::*;
use line::*;
pub use render::render_pins;
use specifier::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Compatible,
}

impl Op {
    /// The operator as written in a requirement file.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Compatible => "~=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    pub op: Op,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The package name as written.
    pub name: String,
    pub specifiers: Vec<Specifier>,
    pub file: Utf8PathBuf,
    /// 1-based.
    pub line: usize,
}

impl Requirement {
    pub fn key(&self) -> String {
        normalize(&self.name)
    }

    /// The version when the requirement is exactly one `==` specifier (not a `.*` prefix).
    pub fn pinned(&self) -> Option<&str> {
        match self.specifiers.as_slice() {
            [Specifier { op: Op::Eq, version }] if !version.ends_with(".*") => Some(version),
            _ => None,
        }
    }

    /// Whether a crate version satisfies every specifier (PEP 440's rules, on zero-padded
    /// release numbers; a pre-release sorts below its release).
    pub fn allows(&self, version: &semver::Version) -> bool {
        let candidate = Loose::of_cargo(version);
        self.specifiers.iter().all(|spec| match Version::parse(&spec.version) {
            Some(wanted) => satisfies(&candidate, spec.op, &wanted),
            // parse() never stores a version it cannot read; a hand-made one allows nothing.
            None => false,
        })
    }

    /// The line as it would be written: `name == 1.0, != 1.0.3`.
    fn text(&self) -> String {
        let specs: Vec<String> = self.specifiers.iter().map(|s| format!("{} {}", s.op.as_str(), s.version)).collect();
        if specs.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, specs.join(", "))
        }
    }
}

/// Package names compare as Cargo compares them: case-insensitive, `-` and `_` alike.
pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The requirements of one file, in order; `-r` includes are not followed (see [`load`]).
pub fn parse(path: &Utf8Path, text: &str) -> Result<Vec<Requirement>> {
    Ok(entries(path, text)?
        .into_iter()
        .filter_map(|entry| match entry {
            Entry::Requirement(r) => Some(r),
            Entry::Include { .. } => None,
        })
        .collect())
}

/// Loads a channel's requirement file. A missing file is empty for dev and an error otherwise
/// (`program`: how the user runs trainyard, for the help line).
pub fn load_channel(
    ws: &crate::workspace::Workspace,
    channel: crate::channel::Channel,
    program: &str,
) -> crate::error::Result<Vec<Requirement>> {
    let path = ws.reqs_path(channel);
    if !path.exists() {
        if channel == crate::channel::Channel::Dev {
            return Ok(Vec::new());
        }
        return Err(crate::error::Error::usage(format!("{} does not exist", ws.display(&path)))
            .with_help(format!("write it from the current lock: {program} pin CHANNEL={channel}")));
    }
    load(&path)
}

/// The requirements of a file and of the files it includes (`-r`), depth-first in order.
///
/// A file reached twice through different includes is read once. An include cycle, a missing
/// included file and a package required twice (other than as `==` pins of different versions,
/// which a Cargo graph can hold: syn 1 and syn 2) are errors.
pub fn load(path: &Utf8Path) -> Result<Vec<Requirement>> {
    let mut loader = Loader::default();
    loader.file(path, None)?;
    check_duplicates(&loader.requirements)?;
    Ok(loader.requirements)
}
