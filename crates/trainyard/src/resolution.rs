//! Channels applied to the resolved graph: checking a lock against a requirement
//! file (stage, prod), and the pins that `pin` writes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use camino::Utf8PathBuf;

use crate::lockfile::LockedPackage;
use crate::reqs::{normalize, Requirement};

/// One disagreement between a lock file and a requirement file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// In the graph, not in the file.
    Unpinned { name: String, locked: String },
    /// In the file with another version (or not with `==`).
    Mismatch { name: String, locked: Vec<String>, wanted: String, file: Utf8PathBuf, line: usize },
    /// Pinned in the file, absent from the graph.
    Absent { name: String, wanted: String, file: Utf8PathBuf, line: usize },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unpinned { name, locked } => {
                write!(f, "{name} {locked} is in the resolved graph but not pinned")
            }
            Problem::Mismatch { name, locked, wanted, file, line } => {
                write!(f, "{name}: {file}:{line} wants `{wanted}` but the lock has {}", locked.join(" and "))
            }
            Problem::Absent { name, wanted, file, line } => {
                write!(f, "{name}: {file}:{line} pins `{wanted}` but {name} is not in the resolved graph")
            }
        }
    }
}

/// The external packages of a lock: registry crates that are not internal projects' crates.
pub fn external<'a>(lock: &'a [LockedPackage], internal: &BTreeSet<String>) -> Vec<&'a LockedPackage> {
    lock.iter().filter(|p| p.is_registry() && !internal.contains(&normalize(&p.name))).collect()
}

/// Everything that keeps `lock` from satisfying `reqs` for a pinned channel.
///
/// Every external package must be pinned with `==` to its locked version. A crate
/// that appears at two semver-incompatible versions needs a pin line for each.
pub fn check(lock: &[LockedPackage], reqs: &[Requirement], internal: &BTreeSet<String>) -> Vec<Problem> {
    let mut locked: BTreeMap<String, Vec<&LockedPackage>> = BTreeMap::new();
    for p in external(lock, internal) {
        locked.entry(normalize(&p.name)).or_default().push(p);
    }
    let mut by_name: BTreeMap<String, Vec<&Requirement>> = BTreeMap::new();
    for r in reqs {
        if !internal.contains(&r.key()) {
            by_name.entry(r.key()).or_default().push(r);
        }
    }
    let mut problems = Vec::new();
    for (key, pkgs) in &locked {
        let Some(lines) = by_name.get(key) else {
            for p in pkgs {
                problems.push(Problem::Unpinned { name: p.name.clone(), locked: p.version.clone() });
            }
            continue;
        };
        let versions: Vec<String> = pkgs.iter().map(|p| p.version.clone()).collect();
        let before = problems.len();
        for r in lines {
            let pinned_here = r.pinned().map(|v| pkgs.iter().any(|p| same_version(&p.version, v)));
            if pinned_here != Some(true) {
                problems.push(Problem::Mismatch {
                    name: pkgs[0].name.clone(),
                    locked: versions.clone(),
                    wanted: spec_text(r),
                    file: r.file.clone(),
                    line: r.line,
                });
            }
        }
        for p in pkgs {
            let covered = lines.iter().any(|r| r.pinned().is_some_and(|v| same_version(&p.version, v)));
            // A mismatch already names this package; "unpinned" would say it twice.
            if !covered && problems.len() == before {
                problems.push(Problem::Unpinned { name: p.name.clone(), locked: p.version.clone() });
            }
        }
    }
    for (key, lines) in &by_name {
        if !locked.contains_key(key) {
            for r in lines {
                problems.push(Problem::Absent {
                    name: r.name.clone(),
                    wanted: spec_text(r),
                    file: r.file.clone(),
                    line: r.line,
                });
            }
        }
    }
    problems
}

/// `1.0` and `1.0.0` are the same release; build metadata does not count.
pub fn same_version(locked: &str, pinned: &str) -> bool {
    locked == pinned
        || match (crate::version::cargo_version_of(locked), crate::version::cargo_version_of(pinned)) {
            (Some(a), Some(b)) => a.cmp_precedence(&b).is_eq(),
            _ => false,
        }
}

fn spec_text(r: &Requirement) -> String {
    if r.specifiers.is_empty() {
        return format!("{} (unpinned)", r.name);
    }
    let specs: Vec<String> = r.specifiers.iter().map(|s| format!("{} {}", op_text(s.op), s.version)).collect();
    format!("{} {}", r.name, specs.join(", "))
}

pub fn op_text(op: crate::reqs::Op) -> &'static str {
    op.as_str()
}

/// The `(name, version)` pins of every external package of a lock, sorted.
pub fn pins(lock: &[LockedPackage], internal: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut pins: Vec<(String, String)> =
        external(lock, internal).into_iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    pins.sort_by(|a, b| {
        (normalize(&a.0), semver::Version::parse(&a.1).ok()).cmp(&(normalize(&b.0), semver::Version::parse(&b.1).ok()))
    });
    pins.dedup();
    pins
}
