//! `Cargo.lock`: reading the resolved graph, and pointing cargo at lock files of
//! trainyard's own, so that a build needing another resolution (the dev channel, an
//! internal-project override) never writes the user's `Cargo.lock`, not even for a moment.
//!
//! Every build resolves and builds against `target/trainyard/<key>/Cargo.lock`: `dev`,
//! `stage`, `prod` (a copy of the user's lock, checked and built as it is), or the channel
//! and a hash of the overrides (`prod-0123abcd4567`). Cargo 1.97 and newer read it through
//! the `resolver.lockfile-path` configuration. Older cargo has no stable way (1.95 ignores
//! the key with a warning and uses `Cargo.lock`), so trainyard points it at a shadow of the
//! workspace root beside the lock file: a directory of symbolic links to every entry of the
//! root except `Cargo.lock` and the target directory, whose own `Cargo.lock` is trainyard's.
//!
//! A new resolution is made in a scratch directory of the run and moved into place when
//! complete: a killed run's orphan cargo can only write its own scratch copy.

use std::path::PathBuf;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::error::{io, Error, Result};
use crate::plan::Plan;
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

/// The first cargo whose `resolver.lockfile-path` configuration is stable.
pub const LOCKFILE_PATH_SINCE: (u64, u64) = (1, 97);

/// How cargo is pointed at a lock file other than `<workspace>/Cargo.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `--config resolver.lockfile-path=...` (cargo 1.97 and newer).
    LockfilePath,
    /// `--manifest-path` of a shadow of the workspace root beside the lock file (older cargo).
    Shadow,
}

impl Mechanism {
    pub fn for_version(version: (u64, u64, u64)) -> Mechanism {
        if (version.0, version.1) >= LOCKFILE_PATH_SINCE {
            Mechanism::LockfilePath
        } else {
            Mechanism::Shadow
        }
    }

    /// The mechanism `cargo` supports, from its `cargo -V`.
    pub fn of(cargo: &str) -> Result<Mechanism> {
        CargoProbe::start(cargo).finish()
    }
}

/// `cargo -V` running in the background: through rustup's proxy it takes tens of
/// milliseconds, which a build spends on git and its requirement files meanwhile.
pub struct CargoProbe {
    program: String,
    child: std::io::Result<std::process::Child>,
}

impl CargoProbe {
    pub fn start(cargo: &str) -> CargoProbe {
        let child = std::process::Command::new(cargo)
            .arg("-V")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        CargoProbe { program: cargo.to_string(), child }
    }

    pub fn finish(self) -> Result<Mechanism> {
        let cargo = &self.program;
        let out = self.child.and_then(|c| c.wait_with_output()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::missing_tool(cargo, "cargo")
            } else {
                Error::failed(format!("running `{cargo} -V`: {e}"))
                    .with_help("install Rust with rustup, or set CARGO to a cargo binary")
            }
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_cargo_version(&text).filter(|_| out.status.success()).ok_or_else(|| {
            Error::failed(format!("`{cargo} -V` did not print a cargo version: {}", text.trim()))
                .with_help("set CARGO to a cargo binary, or unset it to use `cargo` from PATH")
        })?;
        Ok(Mechanism::for_version(version))
    }
}

/// `cargo 1.97.0-nightly (4d1f98451 2026-05-15)` -> (1, 97, 0).
pub fn parse_cargo_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut words = text.split_whitespace();
    if words.next()? != "cargo" {
        return None;
    }
    let core = words.next()?.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// A lock file of trainyard's, `<dir>/Cargo.lock`, and the arguments that make cargo read and
/// write it instead of the workspace's `Cargo.lock`.
#[derive(Debug, Clone)]
pub struct LockSite {
    pub dir: Utf8PathBuf,
    pub lock: Utf8PathBuf,
    pub mechanism: Mechanism,
    manifest: Utf8PathBuf,
}

impl LockSite {
    /// The site in `dir`; nothing is created until [`LockSite::prepare`].
    pub fn new(ws: &Workspace, dir: Utf8PathBuf, mechanism: Mechanism) -> LockSite {
        let manifest = match mechanism {
            Mechanism::LockfilePath => ws.manifest.clone(),
            Mechanism::Shadow => dir.join("shadow").join(ws.manifest.file_name().unwrap_or("Cargo.toml")),
        };
        LockSite { lock: dir.join("Cargo.lock"), dir, mechanism, manifest }
    }

    /// `--manifest-path M`, and for cargo 1.97+ `--config resolver.lockfile-path="L"`;
    /// with the global `--locked`/`--frozen`, that too.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = vec!["--manifest-path".to_string(), self.manifest.to_string()];
        args.extend(crate::global::cargo_args());
        if self.mechanism == Mechanism::LockfilePath {
            args.push("--config".to_string());
            args.push(format!("resolver.lockfile-path={}", toml::Value::String(self.lock.to_string())));
        }
        args
    }

    /// The actions that make the site ready for a build: its directory, its lock file holding
    /// `seed` (when given and different), and for older cargo its shadow of the workspace synced.
    pub fn prepare_plan(&self, ws: &Workspace, seed: Option<&[u8]>) -> Result<Plan> {
        let mut plan = Plan::new();
        if !self.dir.is_dir() {
            plan.create_dir(&self.dir);
        }
        if let Some(bytes) = seed {
            if std::fs::read(&self.lock).ok().as_deref() != Some(bytes) {
                plan.write(&self.lock, bytes.to_vec());
            }
        }
        if self.mechanism == Mechanism::Shadow {
            plan.extend(shadow_plan(ws, &self.dir.join("shadow"))?);
        }
        Ok(plan)
    }

    /// Makes the site ready at once ([`LockSite::prepare_plan`], applied): for a site in a
    /// temporary directory of the run, where a plan is computed.
    pub fn prepare(&self, ws: &Workspace, seed: Option<&[u8]>) -> Result<()> {
        self.prepare_plan(ws, seed)?.actions.iter().try_for_each(crate::plan::apply)
    }
}

/// What makes `shadow` a directory of symbolic links to every entry of the workspace root
/// except `Cargo.lock` and the target directory, plus `Cargo.lock -> ../Cargo.lock` (cargo
/// writes a lock file in place, so through the link). Synced on every run: a workspace copied
/// with its `target/` gets links to itself, not to the original.
fn shadow_plan(ws: &Workspace, shadow: &Utf8Path) -> Result<Plan> {
    let utf8 =
        |p: PathBuf| Utf8PathBuf::from_path_buf(p).map_err(|p| Error::usage(format!("{} is not UTF-8", p.display())));
    let root = utf8(std::path::absolute(&ws.root).map_err(io(&ws.root))?)?;
    let target = utf8(std::path::absolute(&ws.target_dir).map_err(io(&ws.target_dir))?)?;
    let target_entry: Option<String> =
        target.strip_prefix(&root).ok().and_then(|rest| rest.components().next()).map(|c| c.as_str().to_string());
    let mut wanted: Vec<(String, Utf8PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&root).map_err(io(&ws.root))? {
        let name = entry.map_err(io(&ws.root))?.file_name();
        let name = name.into_string().map_err(|n| Error::usage(format!("{root}/{n:?} is not UTF-8")))?;
        if name == "Cargo.lock" || Some(&name) == target_entry.as_ref() {
            continue;
        }
        wanted.push((name.clone(), root.join(&name)));
    }
    wanted.push(("Cargo.lock".into(), Utf8PathBuf::from("../Cargo.lock")));
    let mut plan = Plan::new();
    match std::fs::read_dir(shadow) {
        Err(_) => {
            plan.create_dir(shadow);
        }
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(io(shadow))?;
                let path = utf8(entry.path())?;
                let name = path.file_name().unwrap_or_default().to_string();
                let link = std::fs::read_link(&path).ok();
                if let Some(i) = wanted.iter().position(|(n, t)| *n == name && link.as_deref() == Some(t.as_std_path()))
                {
                    wanted.swap_remove(i);
                    continue;
                }
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    plan.remove_dir(path);
                } else {
                    plan.remove_file(path);
                }
            }
        }
    }
    wanted.sort();
    for (name, target) in wanted {
        plan.symlink(target, shadow.join(name));
    }
    Ok(plan)
}

/// Held by a build from its resolution to the end of the command. Builds into one target
/// directory share `target/release`: a second build waits rather than replacing binaries
/// the first is about to package. Re-entrant within a process (a file lock taken twice by one
/// process through two open files would wait for itself).
pub struct BuildLock {
    path: Utf8PathBuf,
}

/// The build locks this process holds: path, how many holders, the locked file.
static HELD: std::sync::Mutex<Vec<(Utf8PathBuf, usize, std::fs::File)>> = std::sync::Mutex::new(Vec::new());

impl BuildLock {
    pub fn acquire(ws: &Workspace) -> Result<BuildLock> {
        let dir = ws.target_dir.join("trainyard");
        let path = dir.join("build.lock");
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = held.iter_mut().find(|(p, _, _)| *p == path) {
            entry.1 += 1;
            return Ok(BuildLock { path });
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        let target = ws.display(&ws.target_dir);
        crate::bounded::lock(&file, &path, &format!("another trainyard build into {target} to finish"), || {
            eprintln!("trainyard: waiting for another trainyard build into {target} to finish");
        })?;
        held.push((path.clone(), 1, file));
        Ok(BuildLock { path })
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|(p, _, _)| *p == self.path) {
            held[i].1 -= 1;
            if held[i].1 == 0 {
                // Closing the file releases the lock.
                held.swap_remove(i);
            }
        }
    }
}

/// What an older trainyard, which swapped lock files, left when it was killed mid-build, and
/// the plan that removes it when that is safe:
/// `target/trainyard/lock-swap/` with a journal naming a lock file and a saved copy.
///
/// Nothing there is trusted: the journal may name any path (a copied workspace's names the
/// original; a planted one anything), and the saved copy may be anyone's. trainyard never
/// restores from it. When the saved copy is byte-identical to `Cargo.lock` there is nothing
/// to restore and the leftover is removed; otherwise it is left for the user, with a warning
/// on every run saying how to compare and clean up.
pub fn leftover_swap(ws: &Workspace) -> Plan {
    let dir = ws.state_dir().join("lock-swap");
    let mut plan = Plan::new();
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return plan;
    }
    let saved = dir.join("original.lock");
    let has_journal = std::fs::symlink_metadata(dir.join("journal")).is_ok();
    let saved_bytes = std::fs::symlink_metadata(&saved)
        .ok()
        .filter(|m| m.is_file() && m.len() <= 64 << 20)
        .and_then(|_| std::fs::read(&saved).ok());
    let current = std::fs::read(ws.lock_path()).ok();
    const OURS: [&str; 3] = ["journal", "original.lock", "lock"];
    if !has_journal || (saved_bytes.is_some() && saved_bytes == current) {
        // Nothing to restore: the leftover goes (only what an older trainyard put there).
        let entries: Vec<String> = std::fs::read_dir(&dir)
            .map(|es| es.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        if entries.iter().all(|e| OURS.contains(&e.as_str())) {
            plan.remove_dir(&dir);
        } else {
            for name in entries.iter().filter(|e| OURS.contains(&e.as_str())) {
                plan.remove_file(dir.join(name));
            }
        }
        return plan;
    }
    let shown = ws.display(&dir);
    eprintln!(
        "trainyard: warning: {shown}/ was left by an older trainyard killed while it had swapped another \
         resolution into Cargo.lock; Cargo.lock may still hold it. trainyard no longer swaps, and does not \
         restore from that directory (its journal could name any file).\n\
         help: compare `diff {shown}/original.lock Cargo.lock`; keep the lock you want (`git checkout -- Cargo.lock` \
         restores the committed one), then remove {shown}/"
    );
    plan
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

    #[test]
    fn the_shadow_links_every_root_entry_but_the_lock_and_target_and_follows_changes() {
        let base = std::env::temp_dir().join(format!("trainyard-shadow-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = Utf8PathBuf::from_path_buf(base.join("ws")).unwrap();
        for dir in ["src", "target", "reqs"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::write(root.join("Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(root.join("Cargo.lock"), "user's\n").unwrap();
        let ws = Workspace::detached(&root);
        let site = LockSite::new(&ws, root.join("target/trainyard/dev"), Mechanism::Shadow);
        site.prepare(&ws, Some(b"trainyard's\n")).unwrap();
        let shadow = site.dir.join("shadow");
        let names = |dir: &Utf8Path| -> Vec<String> {
            let mut v: Vec<String> =
                std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&shadow), ["Cargo.lock", "Cargo.toml", "reqs", "src"]);
        assert_eq!(std::fs::read_to_string(shadow.join("Cargo.lock")).unwrap(), "trainyard's\n");
        assert_eq!(std::fs::read_to_string(root.join("Cargo.lock")).unwrap(), "user's\n");
        assert_eq!(site.cargo_args(), ["--manifest-path", shadow.join("Cargo.toml").as_str()]);

        // An entry gone, one new, and a link to somewhere else (a copied workspace's): all synced.
        std::fs::remove_dir(root.join("reqs")).unwrap();
        std::fs::write(root.join("build.rs"), "").unwrap();
        std::fs::remove_file(shadow.join("src")).unwrap();
        std::os::unix::fs::symlink("/elsewhere/src", shadow.join("src")).unwrap();
        site.prepare(&ws, None).unwrap();
        assert_eq!(names(&shadow), ["Cargo.lock", "Cargo.toml", "build.rs", "src"]);
        assert_eq!(std::fs::read_link(shadow.join("src")).unwrap(), root.join("src").as_std_path());

        let native = LockSite::new(&ws, root.join("target/trainyard/dev"), Mechanism::LockfilePath);
        let lock = root.join("target/trainyard/dev/Cargo.lock");
        assert_eq!(
            native.cargo_args(),
            [
                "--manifest-path".to_string(),
                root.join("Cargo.toml").to_string(),
                "--config".into(),
                format!("resolver.lockfile-path=\"{lock}\"")
            ]
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_build_lock_is_reentrant_within_a_process() {
        let base = std::env::temp_dir().join(format!("trainyard-buildlock-unit-{}", std::process::id()));
        let ws = Workspace::detached(&Utf8PathBuf::from_path_buf(base.clone()).unwrap());
        let first = BuildLock::acquire(&ws).unwrap();
        let second = BuildLock::acquire(&ws).unwrap();
        drop(first);
        let other = std::fs::File::open(ws.target_dir.join("trainyard/build.lock")).unwrap();
        assert!(other.try_lock().is_err(), "still held by the second holder");
        drop(second);
        assert!(other.try_lock().is_ok(), "released with the last holder");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn cargo_versions_choose_the_mechanism() {
        assert_eq!(parse_cargo_version("cargo 1.95.0 (f2d3ce0bd 2026-03-21)\n"), Some((1, 95, 0)));
        assert_eq!(parse_cargo_version("cargo 1.97.0-nightly (4d1f98451 2026-05-15)"), Some((1, 97, 0)));
        assert_eq!(parse_cargo_version("cargo 2.0"), Some((2, 0, 0)));
        assert_eq!(parse_cargo_version("rustc 1.97.0"), None);
        assert_eq!(parse_cargo_version(""), None);
        assert_eq!(Mechanism::for_version((1, 95, 0)), Mechanism::Shadow);
        assert_eq!(Mechanism::for_version((1, 96, 9)), Mechanism::Shadow);
        assert_eq!(Mechanism::for_version((1, 97, 0)), Mechanism::LockfilePath);
        assert_eq!(Mechanism::for_version((2, 0, 0)), Mechanism::LockfilePath);
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
pub(crate) mod closure_tests {
    use super::*;

    /// A locked package for unit tests.
    pub(crate) fn pkg(name: &str, version: &str, source: Option<&str>, deps: &[&str]) -> LockedPackage {
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
