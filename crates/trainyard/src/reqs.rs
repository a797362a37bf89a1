//! Requirement files in pip's syntax: `reqs/<channel>-reqs.txt`.
//! (Being implemented: see the reqs work item. API is fixed.)

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Result;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    pub op: Op,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub specifiers: Vec<Specifier>,
    pub file: Utf8PathBuf,
    pub line: usize,
}

impl Requirement {
    pub fn key(&self) -> String {
        normalize(&self.name)
    }
    pub fn pinned(&self) -> Option<&str> {
        todo!()
    }
    pub fn allows(&self, _version: &semver::Version) -> bool {
        todo!()
    }
}

pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

pub fn parse(_path: &Utf8Path, _text: &str) -> Result<Vec<Requirement>> {
    todo!()
}

pub fn load(_path: &Utf8Path) -> Result<Vec<Requirement>> {
    todo!()
}

pub fn render_pins(_existing: Option<&str>, _pins: &[(String, String)]) -> String {
    todo!()
}
