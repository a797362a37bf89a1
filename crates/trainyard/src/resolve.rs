//! Making a build's resolution, in the plan phase: the lock file a build will use is computed
//! here, in a scratch site of the run (a temporary directory, see [`crate::scratch`]), and the
//! plan then writes it into `target/trainyard/<key>/` as one action. The checks a resolution must
//! pass (a pinned channel's file, a dev file's `==` lines and ranges, the overrides patched in)
//! are made here too, so a dry-run refuses what the run would refuse.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};

use crate::cargo::Invocation;
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::exec::{self, Effects};
use crate::lockfile::{self, LockSite, LockedPackage};
use crate::plan;
use crate::product::Product;
use crate::reqs::{self, Requirement};
use crate::resolution;
use crate::version;
use crate::Context;

/// How long a dev resolution is reused when nothing it depends on changed.
const DEV_RESOLUTION_TTL_SECS: u64 = 24 * 3600;

/// Where a build's resolution lives under `target/trainyard/`: the channel, plus a hash of
/// the override patches when there are any, so concurrent runs never share a lock file.
pub fn resolution_key(channel: Channel, patches: &[String]) -> String {
    use sha2::{Digest, Sha256};
    if patches.is_empty() {
        return channel.as_str().to_string();
    }
    let mut hash = Sha256::new();
    for p in patches {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    let hex: String = hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{channel}-{hex}")
}

/// With cargo older than 1.97 a build runs through a shadow of the workspace root; a path that
/// leaves the root (`path = "../other"`) is then looked for beside the shadow. Says so.
pub fn shadow_hint(err: Error, site: &LockSite) -> Error {
    if site.mechanism != lockfile::Mechanism::Shadow || err.help.is_some() {
        return err;
    }
    let since = lockfile::LOCKFILE_PATH_SINCE;
    err.with_help(format!(
        "if cargo did not find a path: this cargo is older than {}.{}, so trainyard builds through a shadow \
         of the workspace root ({}/shadow) to keep your Cargo.lock untouched, and paths outside the workspace \
         root (`path = \"../other\"`) are not found from there. Cargo {}.{} or newer (CARGO=... or rustup) \
         reads trainyard's lock file through resolver.lockfile-path and has no such limit",
        since.0, since.1, site.dir, since.0, since.1
    ))
}

/// Runs a resolving cargo command (in a scratch site) `--offline` first, then online if that
/// fails; `command(offline)` makes it.
///
/// A pinned channel moves only the overridden crates to their checkouts: everything else is
/// locked, and cargo's own git database already holds the git dependencies `Cargo.toml` names
/// (cargo fetched them when the lock was made). Offline, a build against a cached tag works with
/// the project's remote gone; online is needed only when something is missing locally.
pub fn offline_first(fx: &Effects, command: impl Fn(bool) -> plan::Command) -> Result<String> {
    match exec::compute_output(fx, &command(true))? {
        (true, out, _) => Ok(out.trim_end().to_string()),
        // Online: cargo reaches the registry or a git dependency, within the network bound.
        (false, _, _) => exec::compute(fx, &command(false).network("cargo, resolving online")),
    }
}

/// The resolution of a pinned channel with overrides: the user's lock (`user_lock`, parsed as
/// `before`) with only the overridden crates moved to their checkouts, made in a scratch site of
/// the run. Returns the new lock file's bytes.
pub fn overrides(
    ctx: &Context,
    site: &LockSite,
    user_lock: &[u8],
    before: &[LockedPackage],
    projects: &[crate::projects::Project],
    patches: &[String],
) -> Result<Vec<u8>> {
    let mut specs: Vec<String> = Vec::new();
    for p in projects.iter().filter(|p| p.checkout.is_some()) {
        for (krate, _) in &p.crates {
            for l in before.iter().filter(|l| reqs::normalize(&l.name) == reqs::normalize(krate)) {
                specs.push("-p".into());
                specs.push(format!("{}@{}", l.name, l.version));
            }
        }
    }
    let tmp = crate::scratch::TempDir::new("resolve")?;
    let scratch = LockSite::new(&ctx.ws, tmp.path().to_path_buf(), site.mechanism);
    scratch.prepare(&ctx.ws, Some(user_lock))?;
    let cargo = |subcommand: &str, extra: &[String], offline: bool| {
        let mut c = Invocation::new(subcommand).at(&scratch);
        if offline {
            c = c.offline();
        }
        c.args(extra.iter().cloned()).patches(patches).dir(&ctx.ws.root).command()
    };
    let failed = |e: Error| shadow_hint(e.context("resolving the workspace with the overrides"), &scratch);
    if !specs.is_empty() {
        offline_first(&ctx.effects, |offline| cargo("update", &specs, offline)).map_err(failed)?;
    }
    let format = ["--format-version".to_string(), "1".to_string()];
    offline_first(&ctx.effects, |offline| cargo("metadata", &format, offline)).map_err(failed)?;
    std::fs::read(&scratch.lock).map_err(crate::error::io(&scratch.lock))
}

/// Refuses a lock that disagrees with a pinned channel's file, listing every problem.
pub fn check_pinned(
    ctx: &Context,
    channel: Channel,
    lock: &[LockedPackage],
    requirements: &[Requirement],
    internal: &BTreeSet<String>,
) -> Result<()> {
    let problems = resolution::check(lock, requirements, internal);
    if problems.is_empty() {
        return Ok(());
    }
    let reqs_path = ctx.ws.display(&ctx.ws.reqs_path(channel)).to_string();
    let mut message =
        format!("Cargo.lock disagrees with {reqs_path} ({} problem{}):", problems.len(), plural(problems.len()));
    for p in &problems {
        message.push_str(&format!("\n  - {}", display_problem(ctx, p)));
    }
    let mut help = format!("to pin what Cargo.lock has: {} pin CHANNEL={channel}", ctx.program);
    for p in &problems {
        if let resolution::Problem::Mismatch { name, locked, wanted, .. } = p {
            if let Some(v) = wanted.split("== ").nth(1).filter(|_| locked.len() == 1) {
                help.push_str(&format!(
                    "\nto move the lock to the pin instead: cargo update -p {name}@{} --precise {v}",
                    locked[0]
                ));
            }
        }
    }
    Err(Error::failed(message).with_help(help))
}

fn display_problem(ctx: &Context, p: &resolution::Problem) -> String {
    let root = format!("{}/", ctx.ws.root);
    p.to_string().replace(&root, "")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Updates the lock of `site` (a scratch site of the plan phase) to the newest compatible versions, then applies the
/// `==` lines of the dev file and checks its other specifiers.
pub fn resolve_dev(
    ctx: &Context,
    site: &LockSite,
    product: &Product,
    requirements: &[Requirement],
    internal: &BTreeSet<String>,
    patches: &[String],
) -> Result<()> {
    let fx = &ctx.effects;
    let update = || Invocation::new("update").at(site);
    let online = update().patches(patches).dir(&ctx.ws.root).command().network("cargo update");
    if let Err(err) = exec::compute(fx, &online) {
        // A remote out of reach (an internal project's git dependency, the registry): resolve
        // from what cargo has cached, and say so; a failure offline too is the real error.
        eprintln!("trainyard: cargo update failed online; resolving offline (the newest versions cargo's cache holds)");
        exec::compute(fx, &update().offline().patches(patches).dir(&ctx.ws.root).command()).map_err(|_| err)?;
    }
    let lock = product.graph_owned(&lockfile::read(&site.lock)?);
    let externals = resolution::external(&lock, internal);
    for r in requirements {
        let Some(pinned) = r.pinned() else { continue };
        let same_name: Vec<&&LockedPackage> =
            externals.iter().filter(|p| reqs::normalize(&p.name) == r.key()).collect();
        if same_name.iter().any(|p| resolution::same_version(&p.version, pinned)) {
            continue;
        }
        // A crate locked at two semver-incompatible versions has a pin line for each: a pin
        // moves only the locked version it is compatible with.
        for p in same_name.into_iter().filter(|p| compatible(&p.version, pinned)) {
            {
                let spec = format!("{}@{}", p.name, p.version);
                let pinned = padded(pinned).ok_or_else(|| {
                    Error::usage(format!(
                        "{}:{}: `{} == {pinned}` is not a Cargo version, which `cargo update --precise` needs",
                        ctx.ws.display(&r.file),
                        r.line,
                        r.name
                    ))
                    .with_help("pin a version Cargo can lock: at most three release numbers (`1.2.3`, `1.2.3-rc.1`)")
                })?;
                let precise = update().args(["-p", &spec, "--precise", &pinned]).patches(patches).dir(&ctx.ws.root);
                exec::compute(fx, &precise.command().network("cargo update --precise"))
                    .map_err(|e| e.context(format!("{}:{}: applying `{} == {}`", r.file, r.line, r.name, pinned)))?;
            }
        }
    }
    let lock = product.graph_owned(&lockfile::read(&site.lock)?);
    let mut violations = Vec::new();
    for r in requirements {
        let Some(pinned) = r.pinned() else { continue };
        let found: Vec<&LockedPackage> =
            resolution::external(&lock, internal).into_iter().filter(|p| reqs::normalize(&p.name) == r.key()).collect();
        let compatible_found = found.iter().any(|p| compatible(&p.version, pinned));
        if !found.is_empty() && !compatible_found {
            // No locked version can move to the pin: Cargo.toml's requirement keeps it away.
            violations.push(format!(
                "{}:{}: `{} == {pinned}` cannot be applied: the graph has {} {}, and Cargo.toml's requirement does not allow {pinned}",
                ctx.ws.display(&r.file),
                r.line,
                r.name,
                r.name,
                found.iter().map(|p| p.version.as_str()).collect::<Vec<_>>().join(", ")
            ));
        } else if compatible_found && !found.iter().any(|p| resolution::same_version(&p.version, pinned)) {
            violations.push(format!(
                "{}:{}: `{} == {pinned}` could not be applied: the graph has {}",
                ctx.ws.display(&r.file),
                r.line,
                r.name,
                found.iter().map(|p| p.version.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for r in requirements.iter().filter(|r| r.pinned().is_none() && !r.specifiers.is_empty()) {
        for p in resolution::external(&lock, internal).iter().filter(|p| reqs::normalize(&p.name) == r.key()) {
            if let Ok(v) = semver::Version::parse(&p.version) {
                if !r.allows(&v) {
                    violations.push(format!(
                        "{}:{}: `{}` does not allow {} {}, the newest version Cargo.toml allows",
                        ctx.ws.display(&r.file),
                        r.line,
                        r.name,
                        p.name,
                        p.version
                    ));
                }
            }
        }
    }
    if !violations.is_empty() {
        return Err(Error::failed(format!(
            "the dev resolution breaks dev-reqs.txt:\n  - {}",
            violations.join("\n  - ")
        ))
        .with_help("pin an allowed version with `NAME == VERSION` in the dev requirement file"));
    }
    Ok(())
}

/// Whether a locked version and a pin are semver-compatible: one `cargo update --precise`
/// moves between them.
fn compatible(locked: &str, pinned: &str) -> bool {
    match (version::cargo_version_of(locked), version::cargo_version_of(pinned)) {
        (Some(a), Some(b)) => version::cargo_compatible(&a, &b),
        _ => false,
    }
}

/// `1.0` -> `1.0.0`, `2.0rc1` -> `2.0.0-rc.1`: cargo's --precise wants a full semver version.
/// `None` when the pin has none (more than three release numbers).
fn padded(v: &str) -> Option<String> {
    version::cargo_version_of(v).map(|v| v.to_string())
}

/// What a dev resolution depends on: the user's lock, every manifest, the dev file.
pub fn dev_fingerprint(ctx: &Context, requirements: &[Requirement], patches: &[String]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for p in patches {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    let mut files: Vec<Utf8PathBuf> = vec![ctx.ws.lock_path(), ctx.ws.manifest.clone()];
    files.extend(crate::walk::files_named(&ctx.ws.root, "Cargo.toml")?);
    files.extend(requirements.iter().map(|r| r.file.clone()));
    files.sort();
    files.dedup();
    for f in files {
        hash.update(f.as_str().as_bytes());
        hash.update(std::fs::read(&f).unwrap_or_default());
    }
    Ok(format!("{:x}", hash.finalize()))
}

/// Whether the stamp of a dev resolution says it was made from `fingerprint` less than a day ago.
pub fn is_fresh(stamp: &Utf8Path, fingerprint: &str) -> bool {
    let Ok(meta) = std::fs::metadata(stamp) else { return false };
    let young =
        meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age.as_secs() < DEV_RESOLUTION_TTL_SECS);
    young && std::fs::read_to_string(stamp).is_ok_and(|s| s == fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_classes() {
        assert!(compatible("1.0.19", "1.0.2"));
        assert!(compatible("1.2.0", "1.9"));
        assert!(!compatible("1.0.19", "0.4.8"));
        assert!(compatible("0.4.8", "0.4.1"));
        assert!(!compatible("0.4.8", "0.5.0"));
        assert!(!compatible("0.0.1", "0.0.2"));
    }

    #[test]
    fn padding_versions_for_precise() {
        assert_eq!(padded("1.0").as_deref(), Some("1.0.0"));
        assert_eq!(padded("1").as_deref(), Some("1.0.0"));
        assert_eq!(padded("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(padded("1.2.3-beta.1").as_deref(), Some("1.2.3-beta.1"));
        assert_eq!(padded("1.0rc1").as_deref(), Some("1.0.0-rc.1"), "not mangled into 1.0rc1.0");
        assert_eq!(padded("1.2.3.4"), None);
    }
}
