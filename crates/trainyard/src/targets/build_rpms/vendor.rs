//! The vendored sources of a build's lock file, from which the `rust-NAME-devel` packages are
//! made: `target/trainyard/vendor/<channel>/`, with a stamp of what it was made from.

use camino::{Utf8Path, Utf8PathBuf};

use crate::cargo::Invocation;
use crate::channel::Channel;
use crate::lockfile::{LockSite, LockedPackage};
use crate::plan::Plan;
use crate::workspace::Workspace;

/// The vendor directory of `channel` and the plan that fills it with the sources of every
/// package of the build's lock file (`site`), planned once that lock file is written.
///
/// The plan is empty when the directory was made from the same inputs (the lock file's content,
/// the override patches, the workspace's `.cargo/config.toml`, recorded in a stamp beside it)
/// and still holds every registry crate: `cargo vendor` copies every source again each time.
pub fn plan(
    ws: &Workspace,
    channel: Channel,
    site: &LockSite,
    patches: &[String],
    lock: &[LockedPackage],
) -> (Utf8PathBuf, Plan) {
    let base = ws.state_dir().join("vendor");
    let dir = base.join(channel.as_str());
    let stamp_path = base.join(format!("{channel}.stamp"));
    let tmp = base.join(format!(".{channel}.tmp"));
    let stamp = stamp(ws, &site.lock, patches);
    let complete =
        || lock.iter().filter(|p| p.is_registry()).all(|p| dir.join(format!("{}-{}", p.name, p.version)).is_dir());
    let fresh = stamp.as_ref().is_some_and(|s| std::fs::read_to_string(&stamp_path).is_ok_and(|old| &old == s))
        && dir.is_dir()
        && complete();
    let mut plan = Plan::new();
    if fresh {
        return (dir, plan);
    }
    let exists = |p: &Utf8Path| std::fs::symlink_metadata(p).is_ok();
    if exists(&tmp) {
        plan.remove_dir(&tmp);
    }
    // The stamp goes first: a run killed between the rename and a new stamp must not trust it.
    if exists(&stamp_path) {
        plan.remove_file(&stamp_path);
    }
    let vendor = Invocation::new("vendor")
        .args(["--quiet", "--locked", "--versioned-dirs", "--respect-source-config"])
        .at(site)
        .patches(patches)
        .arg(tmp.as_str())
        .dir(&ws.root);
    plan.run(vendor.command().network("cargo vendor"));
    // cargo vendor creates nothing for a graph without registry crates.
    plan.create_dir(&tmp);
    if exists(&dir) {
        plan.remove_dir(&dir);
    }
    plan.rename(&tmp, &dir);
    if let Some(stamp) = stamp {
        plan.write(&stamp_path, stamp.into_bytes());
    }
    (dir, plan)
}

/// What a vendor directory is made from; `None` when the lock file cannot be read.
fn stamp(ws: &Workspace, lock_file: &Utf8Path, patches: &[String]) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"trainyard vendor 1\0");
    h.update(std::fs::read(lock_file).ok()?);
    for p in patches {
        h.update(b"\0");
        h.update(p.as_bytes());
    }
    h.update(b"\0");
    h.update(std::fs::read(ws.root.join(".cargo/config.toml")).unwrap_or_default());
    Some(format!("{:x}", h.finalize()))
}
