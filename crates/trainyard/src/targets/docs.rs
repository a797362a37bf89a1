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

use crate::cargo::program as cargo_program;
use crate::cargo::Invocation;
use crate::cli::{FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::exec::Effects;
use crate::lockfile::{self, LockSite};
use crate::members::workspace_members;
use crate::plan::{Command as PlanCommand, Plan};
use crate::release::repo::{sh_quote, Destination, SshTarget};
use crate::scm;
use crate::targets::options::{self, TRIGGER_FLAG};
use crate::version::Version;
use crate::Context;
use camino::{Utf8Path, Utf8PathBuf};

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

    /// The version `latest` points at, if it is a link to a release's directory. A `latest`
    /// that is not a link (a directory someone made) is bad input: trainyard could never move
    /// it, and would find out only after building and copying the documentation.
    fn latest(&self) -> Result<Option<Version>> {
        let target = match self {
            Site::Local(dir) => {
                let link = dir.join("latest");
                match std::fs::symlink_metadata(&link) {
                    Ok(m) if !m.file_type().is_symlink() => return Err(not_a_link(link.as_str())),
                    _ => std::fs::read_link(&link).ok().and_then(|t| t.to_str().map(String::from)),
                }
            }
            Site::Remote(t) => {
                let link = sh_quote(&format!("{}/latest", t.path));
                let marker = sh_quote(NOT_A_LINK);
                let script = format!(
                    "if [ -e {link} ] && [ ! -L {link} ]; then echo {marker}; else readlink {link} || true; fi"
                );
                let said = t.run_script(&script)?.trim().to_string();
                if said == NOT_A_LINK {
                    return Err(not_a_link(&self.show("latest")));
                }
                Some(said)
            }
        };
        Ok(target.and_then(|t| Version::parse_pep440(&t).ok()).filter(Version::is_release))
    }
}

/// What the host's shell says of a `latest` that is not a link (a word no readlink prints).
const NOT_A_LINK: &str = "<not-a-link>";

fn not_a_link(shown: &str) -> Error {
    Error::usage(format!("{shown} is not a symbolic link: trainyard points it at the newest release's directory"))
        .with_help(format!("move {shown} away (it is not trainyard's), then run docs again"))
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
    crate::toolchain::check(&ctx.ws)?;
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
    let mechanism = lockfile::Mechanism::of(&cargo_program())?;
    let site_lock = LockSite::new(ws, ws.state_dir().join("docs"), mechanism);
    let lock = ws.lock_path();
    let seed = std::fs::read(&lock)
        .map_err(|e| io(&lock)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it"))?;
    let target_dir = ws.state_dir().join("docs-target");
    let doc = Invocation::new("doc")
        .arg("--no-deps")
        .at(&site_lock)
        .locked()
        .args(crates.iter().flat_map(|c| ["--package".to_string(), c.clone()]))
        .arg("--target-dir")
        .arg(target_dir.as_str())
        .dir(&ws.root)
        .env("TRAINYARD_VERSION", &described.semver())
        .command();
    let built = target_dir.join("doc");
    let current = site.latest()?;
    let moves_latest = version.is_release() && current.as_ref().is_none_or(|c| *c <= version);
    let (dest, latest) = (site.show(&name), site.show("latest"));

    fx.planned_from(format_args!("documentation of {} {name}: {}", ws.config.name(), crates.join(", ")));
    // The build lock is held to the end: the doc tree is this run's until it is published.
    let _guard = fx.hold(|| lockfile::BuildLock::acquire(ws))?;
    let mut plan = site_lock.prepare_plan(ws, Some(&seed))?;
    plan.remove_dir(&built);
    plan.run(doc);
    // The copy goes through names of this run (its process id), and on a host `latest` is read
    // again under the publishers' lock: that part is planned when the documentation exists.
    let how = match &site {
        Site::Local(_) => "copied into a temporary directory beside it, then renamed",
        Site::Remote(_) => "rsync over ssh into a temporary directory, then renamed there, under the publishers' lock",
    };
    let then = if moves_latest {
        format!("point {latest} at {name}")
    } else {
        let why = if !version.is_release() { "not a release" } else { "an older release than latest's" };
        format!("leave {latest} as it is ({name} is {why})")
    };
    plan.later(format!("publish {} to {dest} ({how}); {then}", ws.display(&built)));
    let published = fx.execute_then(&plan, || match &site {
        Site::Local(docs_dir) => {
            fx.execute(&publish_local(docs_dir, &built, &name, moves_latest))?;
            Ok(moves_latest)
        }
        Site::Remote(t) => publish_remote(fx, t, &built, &name, version),
    })?;
    match published {
        Some(true) => fx.result(format_args!("documentation {name} published to {dest}; latest -> {name}")),
        Some(false) => fx.result(format_args!("documentation {name} published to {dest}; latest unchanged")),
        None => {}
    }
    Ok(())
}

/// Copies `built` to `docs_dir/name` through a temporary directory and a rename; moves `latest`
/// (a new link renamed over it) when asked. The temporary names are this process's.
fn publish_local(docs_dir: &Utf8Path, built: &Utf8Path, name: &str, moves_latest: bool) -> Plan {
    let dest = docs_dir.join(name);
    let pid = std::process::id();
    let tmp = docs_dir.join(format!(".{name}.tmp-{pid}"));
    let mut plan = Plan::new();
    plan.create_dir(docs_dir);
    plan.remove_dir(&tmp);
    plan.run(PlanCommand::program("cp").args(["-R", "--", built.as_str(), tmp.as_str()]));
    if std::fs::symlink_metadata(&dest).is_ok() {
        // The same version again (a rebuilt dev version): the old tree goes aside, then away.
        let old = docs_dir.join(format!(".{name}.old-{pid}"));
        plan.rename(&dest, &old).rename(&tmp, &dest).remove_dir(&old);
    } else {
        plan.rename(&tmp, &dest);
    }
    if moves_latest {
        let link = docs_dir.join(format!(".latest.tmp-{pid}"));
        plan.remove_file(&link).symlink(name, &link).rename(&link, docs_dir.join("latest"));
    }
    plan
}

/// The same order on a host, as packages are published there: under the publishers' lock,
/// rsync into a temporary directory, then renames on the host, both planned as commands the
/// executor runs; `latest` is read again under the lock, so two publishers never move it
/// backwards. Returns whether `latest` moved.
fn publish_remote(fx: &Effects, t: &SshTarget, built: &Utf8Path, name: &str, version: Version) -> Result<bool> {
    let _lock = fx.hold(|| t.lock_dir(&t.path))?;
    let site = Site::Remote(t.clone());
    let moves_latest = version.is_release() && site.latest()?.is_none_or(|c| c <= version);
    let pid = std::process::id();
    let tmp = format!(".{name}.tmp-{pid}");
    let upload = t.upload_command(built, &format!("{}/{tmp}", t.path));
    let (q, tmp, old) = (sh_quote(name), sh_quote(&tmp), sh_quote(&format!(".{name}.old-{pid}")));
    let mut script = format!(
        "cd {} && if [ -e {q} ]; then mv -T {q} {old}; fi && mv -T {tmp} {q} && rm -rf {old}",
        sh_quote(&t.path)
    );
    if moves_latest {
        let link = sh_quote(&format!(".latest.tmp-{pid}"));
        script.push_str(&format!(" && ln -sfn {q} {link} && mv -T {link} latest"));
    }
    let mut plan = Plan::new();
    plan.run(upload).run(t.script_command(&script));
    fx.execute(&plan)?;
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
