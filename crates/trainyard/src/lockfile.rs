//! `Cargo.lock`: reading the resolved graph, and building with another resolution
//! without leaving the user's lock file changed.
//!
//! Cargo (1.95) has no stable option for another lock file path. A build that needs
//! another resolution (the dev channel, an internal-project override) swaps its lock
//! in for the duration of the cargo calls. Before the swap the user's lock is saved
//! under `target/trainyard/lock-swap/` with a journal; it is put back when the build
//! ends, on error, on panic, and, if the process was killed, by the next trainyard
//! run before it does anything else.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::error::{io, Error, Result};
use crate::exec::write_atomic;
use crate::workspace::Workspace;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default, skip_serializing)]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing)]
    pub dependencies: Vec<String>,
}

impl LockedPackage {
    /// A crate from a registry (crates.io or a replacement): an external package.
    pub fn is_registry(&self) -> bool {
        self.source.as_deref().is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
    }
    /// A crate from a git repository (an internal project, usually).
    pub fn is_git(&self) -> bool {
        self.source.as_deref().is_some_and(|s| s.starts_with("git+"))
    }
}

#[derive(Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

/// Parses a `Cargo.lock`.
pub fn parse(path: &Utf8Path, text: &str) -> Result<Vec<LockedPackage>> {
    let lock: LockFile = toml::from_str(text)
        .map_err(|e| Error::usage(format!("{path}: not a valid Cargo.lock\n{}", e.to_string().trim_end())))?;
    Ok(lock.package)
}

pub fn read(path: &Utf8Path) -> Result<Vec<LockedPackage>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io(path)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it"))?;
    parse(path, &text)
}

/// A lock file swapped in place of the user's one; put back on [`Swap::finish`] or drop.
pub struct Swap {
    lock: Utf8PathBuf,
    dir: Utf8PathBuf,
    keep_as: Utf8PathBuf,
    done: bool,
    /// Held for the whole swap: another run neither recovers nor swaps meanwhile.
    _guard: std::fs::File,
}

/// Opens (creating) the lock file that serialises swaps of one workspace.
fn guard_file(dir: &Utf8Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("lock");
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))
}

fn swap_dir(ws: &Workspace) -> Utf8PathBuf {
    ws.state_dir().join("lock-swap")
}

/// Puts the user's lock file back if an earlier run was killed while it was swapped.
pub fn recover(ws: &Workspace) -> Result<()> {
    let dir = swap_dir(ws);
    if !dir.join("journal").exists() {
        return Ok(());
    }
    let guard = guard_file(&dir)?;
    if guard.try_lock().is_err() {
        // A live run holds the swap: its journal is not a leftover.
        return Ok(());
    }
    recover_locked(ws, &dir)
}

/// Restores from the journal; the caller holds the swap lock.
fn recover_locked(ws: &Workspace, dir: &Utf8Path) -> Result<()> {
    let journal = dir.join("journal");
    if !journal.exists() {
        return Ok(());
    }
    // The journal names the lock file that was swapped (a checkout's, possibly).
    let lock = std::fs::read_to_string(&journal)
        .ok()
        .map(|s| Utf8PathBuf::from(s.trim_end()))
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| ws.lock_path());
    restore(&lock, dir)?;
    eprintln!("trainyard: restored {} from an interrupted earlier run", ws.display(&lock));
    Ok(())
}

fn restore(lock: &Utf8Path, dir: &Utf8Path) -> Result<()> {
    let saved = dir.join("original.lock");
    if saved.exists() {
        let bytes = std::fs::read(&saved).map_err(io(&saved))?;
        if std::fs::read(lock).ok().as_deref() != Some(&bytes[..]) {
            write_atomic(lock, &bytes)?;
        }
    } else if lock.exists() {
        // There was no lock file before the swap.
        std::fs::remove_file(lock).map_err(io(lock))?;
    }
    let journal = dir.join("journal");
    std::fs::remove_file(&journal).map_err(io(&journal))?;
    let _ = std::fs::remove_file(&saved);
    Ok(())
}

impl Swap {
    /// Saves the user's lock, then puts `alternative` (or, if it does not exist
    /// yet, a copy of the user's lock) in its place. The resolution cargo leaves
    /// behind is kept at `alternative` by [`Swap::finish`].
    pub fn begin(ws: &Workspace, alternative: &Utf8Path) -> Result<Swap> {
        let lock = ws.lock_path();
        let dir = swap_dir(ws);
        let guard = guard_file(&dir)?;
        if guard.try_lock().is_err() {
            eprintln!("trainyard: waiting for another trainyard run of this workspace to finish its build");
            guard.lock().map_err(io(dir.join("lock")))?;
        }
        recover_locked(ws, &dir)?;
        let original = std::fs::read(&lock).ok();
        if let Some(bytes) = &original {
            write_atomic(&dir.join("original.lock"), bytes)?;
        }
        // The journal is written after the saved copy and before the lock is touched,
        // so a crash at any point leaves something `recover` can undo.
        write_atomic(&dir.join("journal"), lock.as_str().as_bytes())?;
        let swap = Swap { lock: lock.clone(), dir, keep_as: alternative.to_path_buf(), done: false, _guard: guard };
        if let Ok(bytes) = std::fs::read(alternative) {
            write_atomic(&lock, &bytes)?;
        }
        Ok(swap)
    }

    /// Keeps the resolution cargo produced and puts the user's lock back.
    pub fn finish(mut self) -> Result<()> {
        self.done = true;
        if let Ok(bytes) = std::fs::read(&self.lock) {
            write_atomic(&self.keep_as, &bytes)?;
        }
        restore(&self.lock, &self.dir)
    }
}

impl Drop for Swap {
    fn drop(&mut self) {
        if !self.done {
            if let Err(err) = restore(&self.lock, &self.dir) {
                eprintln!("{err}\nhelp: the next trainyard run restores it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_packages_and_sources() {
        let text = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.219"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abc"

[[package]]
name = "core"
version = "2.0.0"
source = "git+file:///srv/core?tag=rpm-2.0#0123"
"#;
        let pkgs = parse(Utf8Path::new("Cargo.lock"), text).unwrap();
        assert_eq!(pkgs.len(), 3);
        assert!(!pkgs[0].is_registry());
        assert!(pkgs[1].is_registry());
        assert!(pkgs[2].is_git());
        assert!(parse(Utf8Path::new("Cargo.lock"), "[[package]]\nname = 3\n").is_err());
    }
}

/// Index into `lock` of the package a dependency entry (`name`, `name version`,
/// or `name version (source)`) names.
fn find_dependency(lock: &[LockedPackage], entry: &str) -> Option<usize> {
    let mut parts = entry.splitn(3, ' ');
    let name = parts.next()?;
    let version = parts.next();
    let source = parts.next().map(|s| s.trim_start_matches('(').trim_end_matches(')'));
    lock.iter().position(|p| {
        p.name == name
            && version.is_none_or(|v| p.version == v)
            && source.is_none_or(|s| p.source.as_deref() == Some(s))
    })
}

/// Every package `root` depends on, directly or indirectly (not `root` itself), in lock order.
/// The lock holds the dependencies of every feature and platform, so this is an upper bound
/// of what a binary links.
pub fn closure<'a>(lock: &'a [LockedPackage], root: &str) -> Vec<&'a LockedPackage> {
    let Some(start) = lock.iter().position(|p| p.name == root && p.source.is_none()) else {
        return Vec::new();
    };
    let mut seen = vec![false; lock.len()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(i) = stack.pop() {
        for dep in &lock[i].dependencies {
            if let Some(j) = find_dependency(lock, dep) {
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
    }
    seen[start] = false;
    lock.iter().zip(seen).filter(|(_, s)| *s).map(|(p, _)| p).collect()
}

/// The packages a locked package depends on directly.
pub fn direct_dependencies<'a>(lock: &'a [LockedPackage], package: &LockedPackage) -> Vec<&'a LockedPackage> {
    package.dependencies.iter().filter_map(|d| find_dependency(lock, d)).map(|i| &lock[i]).collect()
}

#[cfg(test)]
mod closure_tests {
    use super::*;

    fn pkg(name: &str, version: &str, source: Option<&str>, deps: &[&str]) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            source: source.map(Into::into),
            checksum: None,
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn closure_follows_versions_and_skips_unrelated() {
        let reg = Some("registry+x");
        let lock = vec![
            pkg("app", "0.1.0", None, &["leftpad", "syn 2.0.1"]),
            pkg("leftpad", "1.0.0", reg, &["syn 1.0.9"]),
            pkg("syn", "1.0.9", reg, &[]),
            pkg("syn", "2.0.1", reg, &[]),
            pkg("unrelated", "1.0.0", reg, &[]),
        ];
        let names: Vec<String> = closure(&lock, "app").iter().map(|p| format!("{} {}", p.name, p.version)).collect();
        assert_eq!(names, ["leftpad 1.0.0", "syn 1.0.9", "syn 2.0.1"]);
        assert_eq!(direct_dependencies(&lock, &lock[1]).len(), 1);
        assert!(closure(&lock, "nope").is_empty());
    }
}
