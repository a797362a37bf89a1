//! `docs [--docs-dir DIR]`: `cargo doc` of the product crates at the computed version, published
//! to `DIR/<version>/` with an atomic switch, and `DIR/latest` pointing at the newest release.
//!
//! `latest` is a symbolic link replaced by a rename, so a reader sees the old documentation or
//! the new one, never a half-copied tree; a dev, beta or rc build, or a release older than the
//! one `latest` shows, is published beside it and leaves `latest` alone.
//!
//! DIR may be on a host (`ssh://[user@]host[:port]/path`): the same order there, the way channel
//! repositories are published (`release::repo`): under the publishers' lock on the host, rsync
//! into a temporary directory, a rename, then `latest` replaced by a rename of a new link, read
//! again under the lock so it never moves backwards.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use xshell::cmd;

use crate::cargo::program as cargo_program;
use crate::cli::{FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::exec;
use crate::exec::shell;
use crate::lockfile::{self, LockSite};
use crate::members::workspace_members;
use crate::release::repo::{sh_quote, Destination, SshTarget};
use crate::scm;
use crate::targets::options::{self, TRIGGER_FLAG};
use crate::version::Version;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "docs",
    summary: "build the crates' documentation and publish it to docs-dir/<version>, latest -> newest release",
    usage: "[--docs-dir DIR|ssh://[user@]host[:port]/path] [--trigger push|tag|auto] [--dry-run]",
    about: "Runs `cargo doc --no-deps` for the product crates (those with packaging metadata and the workspace\n\
            crates they use; without any, every member but xtask) at the version computed from git, against a\n\
            copy of Cargo.lock (--locked), then copies target/doc to DIR/<version>/ (1.2, 1.3.dev5) by a rename.\n\
            DIR/latest is a symbolic link moved (atomically) only to a release newer than the one it shows:\n\
            dev, beta and rc builds never become latest.\n\
            DIR is --docs-dir, else docs-dir in [workspace.metadata.trainyard] (relative to the workspace); an\n\
            ssh://[user@]host[:port]/path is published the way package repositories are (rsync over ssh into a\n\
            temporary directory, renames on the host, under the publishers' lock; $TRAINYARD_SSH for options).\n\
            --trigger push documents a tagged commit as a dev build (it never moves latest), as build does.",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec {
            name: "docs-dir",
            value: Some("DIR"),
            help: "where the documentation is published: a directory or ssh://[user@]host[:port]/path",
            var: None,
        },
        TRIGGER_FLAG,
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

/// Where the documentation goes: a directory here, or one on a host reached over ssh.
enum Site {
    Local(Utf8PathBuf),
    Remote(SshTarget),
}

impl Site {
    fn show(&self, name: &str) -> String {
        match self {
            Site::Local(dir) => dir.join(name).to_string(),
            Site::Remote(t) => t.describe_path(&format!("{}/{name}", t.path)),
        }
    }

    /// The version `latest` points at, if it is a link to a release's directory.
    fn latest(&self) -> Result<Option<Version>> {
        let target = match self {
            Site::Local(dir) => std::fs::read_link(dir.join("latest")).ok().and_then(|t| t.to_str().map(String::from)),
            Site::Remote(t) => {
                let link = sh_quote(&format!("{}/latest", t.path));
                Some(t.run_script(&format!("readlink {link} || true"))?.trim().to_string())
            }
        };
        Ok(target.and_then(|t| Version::parse_pep440(&t).ok()).filter(Version::is_release))
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let ws = &ctx.ws;
    let fx = &ctx.effects;
    let configured = match (ctx.args.value("docs-dir"), &ws.config.docs_dir) {
        (Some(d), _) => Some((d.to_string(), true)),
        (None, Some(d)) => Some((d.to_string(), false)),
        (None, None) => None,
    };
    let site = match configured {
        Some((d, _)) if d.starts_with("ssh://") => match Destination::parse(&d, &ws.root)? {
            Destination::Ssh(t) => Site::Remote(t),
            Destination::Local(dir) => Site::Local(dir),
        },
        Some((d, true)) => Site::Local(absolute(Utf8Path::new(&d))),
        Some((d, false)) if Utf8Path::new(&d).is_absolute() => Site::Local(d.into()),
        Some((d, false)) => Site::Local(ws.root.join(d)),
        None => return Err(Error::usage("no directory to publish the documentation to").with_help(
            "give --docs-dir DIR (or ssh://[user@]host[:port]/path), or set docs-dir in [workspace.metadata.trainyard]",
        )),
    };
    let described = scm::describe(ws, options::trigger(&ctx.args)?)?;
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
    let site_lock = LockSite::new(ws, ws.state_dir().join("docs"), mechanism);
    let lock = ws.lock_path();
    let seed = std::fs::read(&lock)
        .map_err(|e| io(&lock)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it"))?;
    let sh = shell()?;
    sh.change_dir(&ws.root);
    let at = site_lock.cargo_args();
    let target_dir = ws.state_dir().join("docs-target");
    let packages: Vec<String> = crates.iter().flat_map(|c| ["--package".to_string(), c.clone()]).collect();
    let semver = described.semver();
    let doc = cmd!(sh, "{cargo} doc --no-deps --locked {at...} {packages...} --target-dir {target_dir}")
        .env("TRAINYARD_VERSION", &semver);
    let built = target_dir.join("doc");
    let current = site.latest()?;
    let moves_latest = version.is_release() && current.as_ref().is_none_or(|c| *c <= version);
    let (dest, latest) = (site.show(&name), site.show("latest"));

    if fx.dry_run {
        println!("documentation of {} {name}: {}", ws.config.name(), crates.join(", "));
        println!("would copy Cargo.lock to {} and document with it", ws.display(&site_lock.lock));
        println!("would run: {doc}");
        let how = match &site {
            Site::Local(_) => "through a temporary directory and a rename",
            Site::Remote(_) => {
                "rsync over ssh into a temporary directory, then a rename there, under the publishers' lock"
            }
        };
        println!("would copy {} to {dest} ({how})", ws.display(&built));
        if moves_latest {
            println!("would point {latest} at {name}");
        } else {
            let why = if !version.is_release() { "not a release" } else { "an older release than latest's" };
            println!("would leave {latest} as it is ({name} is {why})");
        }
        return Ok(());
    }
    let _guard = lockfile::BuildLock::acquire(ws)?;
    site_lock.prepare(ws, Some(&seed))?;
    let _ = std::fs::remove_dir_all(&built);
    eprintln!("$ {doc}");
    let (ok, _, err) = exec::output(doc)?;
    if !ok {
        return Err(Error::failed(format!("cargo doc failed:\n{}", err.trim_end())));
    }
    let moved = match &site {
        Site::Local(docs_dir) => publish_local(docs_dir, &built, &name, moves_latest)?,
        Site::Remote(t) => publish_remote(t, &built, &name, version)?,
    };
    if moved {
        eprintln!("trainyard: documentation {name} published to {dest}; latest -> {name}");
    } else {
        eprintln!("trainyard: documentation {name} published to {dest}; latest unchanged");
    }
    Ok(())
}

/// Copies `built` to `docs_dir/name` by a rename; moves `latest` when asked. Returns whether it did.
fn publish_local(docs_dir: &Utf8Path, built: &Utf8Path, name: &str, moves_latest: bool) -> Result<bool> {
    std::fs::create_dir_all(docs_dir).map_err(io(docs_dir))?;
    let dest = docs_dir.join(name);
    let latest = docs_dir.join("latest");
    let pid = std::process::id();
    let tmp = docs_dir.join(format!(".{name}.tmp-{pid}"));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(built, &tmp)?;
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
        std::os::unix::fs::symlink(name, &link).map_err(io(&link))?;
        std::fs::rename(&link, &latest).map_err(io(&latest))?;
    }
    Ok(moves_latest)
}

/// The same order on a host, as packages are published there: under the publishers' lock,
/// rsync into a temporary directory, then renames on the host; `latest` is read again under
/// the lock, so two publishers never move it backwards. Returns whether `latest` moved.
fn publish_remote(t: &SshTarget, built: &Utf8Path, name: &str, version: Version) -> Result<bool> {
    let _lock = t.lock_dir(&t.path)?;
    let site = Site::Remote(t.clone());
    let moves_latest = version.is_release() && site.latest()?.is_none_or(|c| c <= version);
    let pid = std::process::id();
    let tmp = format!(".{name}.tmp-{pid}");
    t.upload_dir(built, &format!("{}/{tmp}", t.path))?;
    let (q, tmp, old) = (sh_quote(name), sh_quote(&tmp), sh_quote(&format!(".{name}.old-{pid}")));
    let mut script = format!(
        "cd {} && if [ -e {q} ]; then mv -T {q} {old}; fi && mv -T {tmp} {q} && rm -rf {old}",
        sh_quote(&t.path)
    );
    if moves_latest {
        let link = sh_quote(&format!(".latest.tmp-{pid}"));
        script.push_str(&format!(" && ln -sfn {q} {link} && mv -T {link} latest"));
    }
    t.run_script(&script)?;
    Ok(moves_latest)
}

fn absolute(path: &Utf8Path) -> Utf8PathBuf {
    std::path::absolute(path).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok()).unwrap_or_else(|| path.to_owned())
}

/// The product: crates with packaging metadata and every workspace crate they depend on; a
/// workspace with none documents every member except `xtask`.
fn product_crates(ws: &crate::workspace::Workspace) -> Result<Vec<String>> {
    let members = workspace_members(ws)?;
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
