//! `docs [--docs-dir DIR]`: `cargo doc` of the product crates at the computed version, published
//! to `DIR/<version>/` with an atomic switch, and `DIR/latest` pointing at the newest release.
//!
//! `latest` is a symbolic link replaced by a rename, so a reader sees the old documentation or
//! the new one, never a half-copied tree; a dev, beta or rc build, or a release older than the
//! one `latest` shows, is published beside it and leaves `latest` alone.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use xshell::cmd;

use crate::cli::{FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::exec;
use crate::lockfile::{self, LockSite};
use crate::scm::{self, Trigger};
use crate::targets::build::{cargo_program, shell};
use crate::targets::build_rpms;
use crate::version::Version;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "docs",
    summary: "build the crates' documentation and publish it to docs-dir/<version>, latest -> newest release",
    usage: "[--docs-dir DIR] [--dry-run]",
    about: "Runs `cargo doc --no-deps` for the product crates (those with packaging metadata and the workspace\n\
            crates they use; without any, every member but xtask) at the version computed from git, against a\n\
            copy of Cargo.lock (--locked), then copies target/doc to DIR/<version>/ (1.2, 1.3.dev5) by a rename.\n\
            DIR/latest is a symbolic link moved (atomically) only to a release newer than the one it shows:\n\
            dev, beta and rc builds never become latest.\n\
            DIR is --docs-dir, else docs-dir in [workspace.metadata.trainyard] (relative to the workspace).",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "docs-dir", value: Some("DIR"), help: "where the documentation is published", var: None },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

pub fn run(ctx: &Context) -> Result<()> {
    let ws = &ctx.ws;
    let fx = &ctx.effects;
    let docs_dir = match (ctx.args.value("docs-dir"), &ws.config.docs_dir) {
        (Some(d), _) => absolute(Utf8Path::new(d)),
        (None, Some(d)) if d.is_absolute() => d.clone(),
        (None, Some(d)) => ws.root.join(d),
        (None, None) => {
            return Err(Error::usage("no directory to publish the documentation to")
                .with_help("give --docs-dir DIR, or set docs-dir = \"DIR\" in [workspace.metadata.trainyard]"))
        }
    };
    let described = scm::describe(ws, Trigger::Auto)?;
    let version = described.version;
    let name = version.to_pep440();
    if name.contains('/') || name.starts_with('.') || name == "latest" {
        return Err(Error::usage(format!("version `{name}` cannot name a directory")));
    }
    let crates = product_crates(ws)?;
    if crates.is_empty() {
        return Err(Error::usage(format!("{} has no crate to document", ws.config.name())));
    }

    // cargo doc resolves against trainyard's copy of Cargo.lock, never the user's file.
    let cargo = cargo_program();
    let mechanism = lockfile::Mechanism::of(&cargo)?;
    let site = LockSite::new(ws, ws.state_dir().join("docs"), mechanism);
    let lock = ws.lock_path();
    let seed = std::fs::read(&lock)
        .map_err(|e| io(&lock)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it"))?;
    let sh = shell()?;
    sh.change_dir(&ws.root);
    let at = site.cargo_args();
    let target_dir = ws.state_dir().join("docs-target");
    let packages: Vec<String> = crates.iter().flat_map(|c| ["--package".to_string(), c.clone()]).collect();
    let semver = described.semver();
    let doc = cmd!(sh, "{cargo} doc --no-deps --locked {at...} {packages...} --target-dir {target_dir}")
        .env("TRAINYARD_VERSION", &semver);
    let built = target_dir.join("doc");
    let dest = docs_dir.join(&name);
    let latest = docs_dir.join("latest");
    let current = latest_version(&latest);
    let moves_latest = version.is_release() && current.as_ref().is_none_or(|c| *c <= version);

    if fx.dry_run {
        println!("documentation of {} {name}: {}", ws.config.name(), crates.join(", "));
        println!("would copy Cargo.lock to {} and document with it", ws.display(&site.lock));
        println!("would run: {doc}");
        println!("would copy {} to {dest} (through a temporary directory and a rename)", ws.display(&built));
        if moves_latest {
            println!("would point {latest} at {name}");
        } else {
            let why = if !version.is_release() { "not a release" } else { "an older release than latest's" };
            println!("would leave {latest} as it is ({name} is {why})");
        }
        return Ok(());
    }
    let _guard = lockfile::BuildLock::acquire(ws)?;
    site.prepare(ws, Some(&seed))?;
    let _ = std::fs::remove_dir_all(&built);
    eprintln!("$ {doc}");
    let (ok, _, err) = exec::output(doc)?;
    if !ok {
        return Err(Error::failed(format!("cargo doc failed:\n{}", err.trim_end())));
    }
    std::fs::create_dir_all(&docs_dir).map_err(io(&docs_dir))?;
    let pid = std::process::id();
    let tmp = docs_dir.join(format!(".{name}.tmp-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&built, &tmp)?;
    if dest.exists() {
        // The same version again (a rebuilt dev version): the old tree goes aside, then away.
        let old = docs_dir.join(format!(".{name}.old-{pid}"));
        std::fs::rename(&dest, &old).map_err(io(&dest))?;
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    }
    if moves_latest {
        let link = docs_dir.join(format!(".latest.tmp-{pid}"));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&name, &link).map_err(io(&link))?;
        std::fs::rename(&link, &latest).map_err(io(&latest))?;
        eprintln!("trainyard: documentation {name} published to {dest}; latest -> {name}");
    } else {
        eprintln!("trainyard: documentation {name} published to {dest}; latest unchanged");
    }
    Ok(())
}

/// The version `latest` points at, if it is a link to a release's directory.
fn latest_version(latest: &Utf8Path) -> Option<Version> {
    let target = std::fs::read_link(latest).ok()?;
    let text = target.to_str()?;
    Version::parse_pep440(text).ok().filter(Version::is_release)
}

fn absolute(path: &Utf8Path) -> Utf8PathBuf {
    std::path::absolute(path).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok()).unwrap_or_else(|| path.to_owned())
}

/// The product: crates with packaging metadata and every workspace crate they depend on; a
/// workspace with none documents every member except `xtask`.
fn product_crates(ws: &crate::workspace::Workspace) -> Result<Vec<String>> {
    let members = build_rpms::workspace_members(ws)?;
    let names: BTreeSet<String> = members.iter().map(|m| m.info.name.clone()).collect();
    let packaged: Vec<String> = members
        .iter()
        .filter(|m| m.metadata.pointer("/trainyard/rpm").is_some() || m.metadata.get("generate-rpm").is_some())
        .map(|m| m.info.name.clone())
        .collect();
    if packaged.is_empty() {
        return Ok(names.into_iter().filter(|n| n != "xtask").collect());
    }
    let lock = ws.lock_path();
    let locked = lockfile::read(&lock).unwrap_or_default();
    let mut out: BTreeSet<String> = BTreeSet::new();
    for p in &packaged {
        out.insert(p.clone());
        for dep in lockfile::closure(&locked, p) {
            if dep.source.is_none() && names.contains(&dep.name) {
                out.insert(dep.name.clone());
            }
        }
    }
    Ok(out.into_iter().collect())
}

fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let (src, dst) = (from.join(name), to.join(name));
        let kind = entry.file_type().map_err(io(&src))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}
