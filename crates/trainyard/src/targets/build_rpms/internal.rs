//! The internal projects' own packages: a project that ships binaries is built (stripped) from
//! its checkout into its own target directory under ours, and packaged at the version of its ref.

use camino::Utf8PathBuf;

use crate::cargo::Invocation;
use crate::config::Config;
use crate::error::Result;
use crate::exec::Effects;
use crate::members::{workspace_members, Member};
use crate::plan;
use crate::projects::{self, Record};
use crate::rpmpkg::{assets, assets::CratePackage};
use crate::version::Version;
use crate::workspace::Workspace;

/// An internal project of the build that ships binaries, planned: its build command, and what
/// is packaged once it ran.
pub struct Project {
    pub name: String,
    /// The crates of the project (what the workspace's crates depend on).
    pub crates: Vec<String>,
    /// The RPM version of its packages (its tag's, or the dev version at its commit).
    pub version: Option<String>,
    pub build: plan::Command,
    /// The time its packages record: `SOURCE_DATE_EPOCH`, else its own commit's time. Never
    /// the workspace's: the same project at the same commit must give the same bytes in every
    /// release of the workspace, or publishing the second release refuses them as changed.
    pub source_date: u64,
    members: Vec<Member>,
    release_dir: Utf8PathBuf,
}

/// The project of `record`, planned from its checkout (fetched into the checkout cache: the plan
/// is made from its tree); `None` when it ships no binaries or the build uses no commit of it.
pub fn plan(ws: &Workspace, effects: &Effects, record: &Record) -> Result<Option<Project>> {
    let Some(commit) = &record.commit else { return Ok(None) };
    let tag_version = record
        .requested_ref
        .as_deref()
        .and_then(|r| Version::parse_tag(r, &ws.config.tag_prefix))
        .and_then(|v| v.ok())
        .map(|v| v.to_rpm());
    let crates: Vec<String> = ws
        .config
        .internal
        .get(&record.name)
        .map(|p| if p.crates.is_empty() { vec![record.name.clone()] } else { p.crates.clone() })
        .unwrap_or_else(|| vec![record.name.clone()]);
    let cache = projects::cache(ws);
    let prepare = effects.preparing();
    let resolved = cache.resolve(&record.name, &record.url, commit, &prepare)?;
    let tree = cache.worktree(&resolved, &prepare)?;
    // At a branch or any other ref that is not a release tag (`SERVER_CORE=main`): the dev
    // version `version` computes there, never the release its Cargo.toml names.
    let version = match (tag_version, record.requested_ref.as_deref()) {
        (None, Some(reference)) => {
            let config = Config::load(&tree.join("Cargo.toml")).unwrap_or_else(|_| ws.config.clone());
            let git = crate::git::Git::new(cache.mirror_path(&record.name));
            Some(crate::scm::version_at(&git, commit, Some(reference), &config, "Cargo.toml")?.to_rpm())
        }
        (v, _) => v,
    };
    let source_date = match std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()) {
        Some(t) => t,
        None => {
            let git = crate::git::Git::new(cache.mirror_path(&record.name));
            git.read(&["show", "-s", "--format=%ct", commit])?.trim().parse().unwrap_or(0)
        }
    };
    let sub = Workspace::at(&tree.join("Cargo.toml"))?;
    let members = workspace_members(&sub)?;
    if !members.iter().any(Member::packaged) {
        return Ok(None);
    }
    let target = ws.state_dir().join("internal-target");
    // The project's product only: its xtask and tools are not built either.
    let selection = crate::product::Product::from_members(&members).cargo_args();
    let mut build = Invocation::new("build")
        .product_profile(&crate::build_settings::BuildSettings::default())
        .args(selection)
        .manifest_path(&tree.join("Cargo.toml"))
        .args(["--target-dir", target.as_str()]);
    if tree.join("Cargo.lock").exists() {
        build = build.locked();
    }
    if let Some(v) = version.as_deref().and_then(|v| Version::parse_rpm(v).ok()) {
        build = build.env("TRAINYARD_VERSION", &v.to_semver().to_string());
    }
    Ok(Some(Project {
        name: record.name.clone(),
        crates,
        version,
        build: build.dir(&tree).command(),
        source_date,
        members,
        release_dir: target.join("release"),
    }))
}

impl Project {
    /// Its packages, read from the binaries its build made, with what each one's smoke command
    /// must print.
    pub fn packages(&self, release: &str, arch: &str) -> Result<Vec<(CratePackage, Option<String>)>> {
        let mut out = Vec::new();
        for m in self.members.iter().filter(|m| m.packaged()) {
            let Some(mut p) = assets::from_metadata(&m.info, &m.metadata, &self.release_dir, arch)? else { continue };
            if let Some(v) = &self.version {
                p.package.version = v.to_string();
            }
            p.package.release = p.release.clone().unwrap_or_else(|| release.to_string());
            p.package.source_date = self.source_date;
            if p.auto_requires {
                p.package.add_elf_dependencies()?;
            }
            let expect =
                self.version.as_deref().and_then(|v| Version::parse_rpm(v).ok()).map(|v| v.to_semver().to_string());
            out.push((p, expect));
        }
        Ok(out)
    }
}
