//! `build_rpms [RPM_CHANNEL=prod]`: the RPM collection of a channel — the workspace's
//! packaged binaries, the internal projects that ship binaries, and one `rust-NAME-devel`
//! package per external crate of the resolved graph — with a JSON manifest beside it.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use xshell::cmd;

use crate::channel::Channel;
use crate::cli::{FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::collection::{Locked, Output};
use crate::config::Config;
use crate::error::{io, Error, Result};
use crate::exec;
use crate::lockfile::{self, LockSite, LockedPackage};
use crate::projects::{self, Record};
use crate::rpmpkg::{
    self, assets, assets::CratePackage, ChangelogEntry, Compression, Dependency, FileEntry, FileKind, Package, Written,
};
use crate::scm;
use crate::targets::build::{self, cargo_program, channel_arg, shell, trigger_arg, BuildOptions, TRIGGER_FLAG};
use crate::version::Version;
use crate::workspace::Workspace;
use crate::Context;

// The flags that shape a collection; `mock`, which builds one, takes them too.
pub const RPM_CHANNEL_FLAG: FlagSpec =
    FlagSpec { name: "rpm-channel", value: Some("NAME"), help: "same as RPM_CHANNEL=NAME", var: Some("RPM_CHANNEL") };
pub const OUT_FLAG: FlagSpec = FlagSpec {
    name: "out",
    value: Some("DIR"),
    help: "where the collection is written (default target/rpms/<channel>)",
    var: None,
};
pub const NO_DEPS_FLAG: FlagSpec =
    FlagSpec { name: "no-deps", value: None, help: "leave out the rust-NAME-devel packages", var: None };
pub const VARIANT_FLAG: FlagSpec = FlagSpec {
    name: "variant",
    value: Some("NAME"),
    help: "apply [package.metadata.generate-rpm.variants.NAME] (repeatable, or NAME1,NAME2), as cargo generate-rpm --variant does",
    var: None,
};
pub const PACKAGE_FLAG: FlagSpec = FlagSpec {
    name: "package",
    value: Some("CRATE"),
    help: "package only this workspace crate (repeatable)",
    var: None,
};

pub const SPEC: TargetSpec = TargetSpec {
    name: "build_rpms",
    summary: "build the RPM collection of a channel (RPM_CHANNEL=prod by default)",
    usage: "[RPM_CHANNEL=dev|stage|prod] [PROJECT=ref ...] [--out DIR] [--no-deps] [--package NAME] [--variant NAME] [--trigger push|tag|auto] [--dry-run]",
    about: "Builds the workspace for the channel (as `build` does, stripped), then writes into\n\
            target/rpms/<channel>/ (or --out): one RPM per crate with [package.metadata.trainyard.rpm]\n\
            or [package.metadata.generate-rpm], one per internal project that ships binaries, and one\n\
            rust-NAME-devel package per external crate of the graph (--no-deps leaves those out),\n\
            plus collection.json naming each file, its NEVRA, SHA-256, provides and requires.\n\
            The output directory is a link to the whole collection, switched at once when a run ends\n\
            (a killed run leaves the previous one); runs into one --out take turns, and each keeps\n\
            the files of other workspaces there.\n\
            Reproducible: SOURCE_DATE_EPOCH or the commit time is every timestamp.",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "dev, stage or prod (default prod)" }],
    flags: &[
        DRY_RUN,
        RPM_CHANNEL_FLAG,
        OUT_FLAG,
        NO_DEPS_FLAG,
        PACKAGE_FLAG,
        VARIANT_FLAG,
        build::FEATURES_FLAG,
        build::ALL_FEATURES_FLAG,
        build::NO_DEFAULT_FEATURES_FLAG,
        build::PROFILE_FLAG,
        build::TARGET_FLAG,
        TRIGGER_FLAG,
    ],
    takes_projects: true,
    max_positional: 0,
    passthrough: false,
};

pub fn run(ctx: &Context) -> Result<()> {
    let started = std::time::Instant::now();
    let collection = collect(ctx)?;
    if ctx.effects.dry_run {
        return Ok(());
    }
    let packages = &collection.manifest.packages;
    let written = packages.iter().filter(|p| !p.unchanged).count();
    let cached = packages.iter().filter(|p| p.from_cache).count();
    let what = if written == 0 {
        format!("nothing changed, nothing rewritten ({cached} of {} taken from the cache)", packages.len())
    } else {
        format!("{written} written, {} unchanged ({cached} taken from the cache)", packages.len() - written)
    };
    eprintln!(
        "trainyard: {} packages for {} in {}: {what}; {:.1} s",
        packages.len(),
        collection.manifest.channel,
        ctx.ws.display(&collection.out_dir),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What kind of package a collection entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Workspace,
    Internal,
    Dependency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub file: String,
    pub name: String,
    pub nevra: String,
    pub kind: Kind,
    pub sha256: String,
    pub size: u64,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
    #[serde(skip)]
    pub unchanged: bool,
    #[serde(skip)]
    pub from_cache: bool,
}

/// `collection.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionManifest {
    pub channel: Channel,
    pub workspace: String,
    pub version: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub source_date: u64,
    pub internal: Vec<Record>,
    pub packages: Vec<Entry>,
}

/// A command to run once a package is installed (the `mock` target's smoke test).
#[derive(Debug, Clone)]
pub struct Smoke {
    pub package: String,
    pub command: String,
    /// What the output must contain (the computed version, for the default `BIN --version`).
    pub expect: Option<String>,
}

pub struct Collection {
    /// `<out>` as named: a link to the collection's directory (see [`crate::collection`]).
    pub out_dir: Utf8PathBuf,
    pub manifest: CollectionManifest,
    /// Names of the workspace's own packages (what `mock` installs).
    pub workspace_packages: Vec<String>,
    pub smoke: Vec<Smoke>,
    /// No other run replaces `<out>` while this collection is in use (`mock` installs from it).
    _lock: Option<Locked>,
}

/// The output directory of a channel's collection, checked (see [`Output::check`]).
pub fn out_dir(ctx: &Context, channel: Channel) -> Result<Output> {
    let dir = match ctx.args.value("out") {
        Some("") => {
            return Err(Error::usage("--out is empty: it would write the collection into the workspace root")
                .with_help("give --out a directory, or leave it out for target/rpms/<channel>"))
        }
        Some(dir) if Utf8Path::new(dir).is_absolute() => dir.into(),
        Some(dir) => ctx.ws.root.join(dir),
        None => ctx.ws.target_dir.join("rpms").join(channel.as_str()),
    };
    Output::check(&dir, &ctx.ws, ctx.effects.dry_run)
}

/// Builds and writes the collection (the `mock` target calls this too).
pub fn collect(ctx: &Context) -> Result<Collection> {
    let ws = &ctx.ws;
    let channel = channel_arg(ctx, "RPM_CHANNEL", Channel::Prod)?;
    let output = out_dir(ctx, channel)?;
    let out = output.path.clone();
    let described = scm::describe(ws, trigger_arg(ctx)?)?;
    let version_rpm = described.rpm();
    // A self checkout (ACCOUNT_PORTAL=rpm-1.2 on account-portal) is a tree without history:
    // its commit and commit time come from the checkout cache.
    let checkout = if described.commit.is_none() { self_checkout_commit(ws) } else { None };
    let commit = described.commit.clone().or_else(|| checkout.as_ref().map(|(c, _)| c.clone()));
    let source_date = match checkout {
        Some((_, time)) if std::env::var_os("SOURCE_DATE_EPOCH").is_none() => time,
        _ => source_date(ws, described.commit.as_deref())?,
    };
    let release = ws.config.rpm.release.clone().unwrap_or_else(|| "1".into());
    let level = ws.config.rpm.compression_level.get(channel.as_str()).copied().unwrap_or(match channel {
        Channel::Dev => 3,
        Channel::Stage | Channel::Prod => 19,
    });
    let compression = Compression::Zstd(level);
    // Every packaged crate of the workspace, checked before anything is built.
    let members = workspace_members(ws)?;
    let product = crate::product::Product::from_members(&members);
    let product_members: Vec<&Member> = members.iter().filter(|m| product.roots.contains(&m.info.name)).collect();
    let settings = crate::build_settings::BuildSettings::of(
        &crate::targets::options::BuildFlags::parse(&ctx.args)?,
        &product_members,
    )?;
    let arch = assets::rpm_arch(settings.arch()).to_string();
    let wanted: Vec<String> = ctx.args.values("package").to_vec();
    for name in &wanted {
        match members.iter().find(|m| &m.info.name == name) {
            None => {
                return Err(Error::usage(format!("--package {name}: no crate `{name}` in the workspace")).with_help(
                    format!(
                        "workspace crates: {}",
                        members.iter().map(|m| m.info.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
            Some(m) if !m.packaged() => {
                return Err(Error::usage(format!("--package {name}: crate `{name}` has no packaging metadata"))
                    .with_help(format!(
                        "add [package.metadata.trainyard.rpm] (or [package.metadata.generate-rpm]) to {}/Cargo.toml",
                        ctx.ws.display(&m.info.manifest_dir)
                    )))
            }
            Some(_) => {}
        }
    }
    let packaged: Vec<&Member> =
        members.iter().filter(|m| m.packaged() && (wanted.is_empty() || wanted.contains(&m.info.name))).collect();
    if packaged.is_empty() {
        return Err(Error::usage(format!("no crate of {} has packaging metadata", ws.config.name())).with_help(
            "add [package.metadata.trainyard.rpm] to the Cargo.toml of each crate to package (an empty table packages its binaries into /usr/bin)",
        ));
    }

    // Packaging tables and their files, before a build that can take minutes (the binaries
    // themselves are checked again once built).
    let release_dir = settings.out_dir(&ws.target_dir);
    let variants = variants(ctx, &packaged)?;
    for member in &packaged {
        assets::check_metadata(&member.info, &member.metadata, &release_dir, &arch, &variants)?;
    }

    if ctx.effects.dry_run {
        println!("collection of {} {} for {channel}: {}", ws.config.name(), version_rpm, out);
    }
    // One run at a time writes an output directory: taken before the build, so that a second
    // run says at once that it waits. (Always before the build lock, never after: no two runs
    // can each hold the lock the other waits for.)
    let locked = if ctx.effects.dry_run { None } else { Some(output.lock()?) };
    let options = BuildOptions { refresh: false, cargo_args: settings.strip_args(), flags: None };
    let phase = crate::ui::Phase::start(format!("building {} for {channel}", ws.config.name()));
    let built = build::build(ctx, channel, &options)?;
    phase.elapsed();

    let mut packages: Vec<(Package, Kind)> = Vec::new();
    let mut smoke = Vec::new();
    let mut workspace_packages = Vec::new();
    let changelog = changelog_from_release_txt(&ws.root.join("RELEASE.txt"), &release, source_date)?;

    // Internal projects: their RPM versions, and their own packages when they ship binaries.
    let mut internal_versions: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut internal_packages = Vec::new();
    for record in &built.manifest.internal {
        let Some(commit) = &record.commit else { continue };
        let project_version = record
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
        if ctx.effects.dry_run {
            println!("would package internal project {} at {commit} if it ships binaries", record.name);
            continue;
        }
        let cache = projects::cache(ws);
        let resolved = cache.resolve(&record.name, &record.url, commit, &ctx.effects)?;
        let tree = cache.worktree(&resolved, &ctx.effects)?;
        // At a branch or any other ref that is not a release tag (`SERVER_CORE=main`): the dev
        // version `version` computes there, never the release its Cargo.toml names.
        let project_version = match (project_version, record.requested_ref.as_deref()) {
            (None, Some(reference)) => {
                let config = Config::load(&tree.join("Cargo.toml")).unwrap_or_else(|_| ws.config.clone());
                let git = crate::git::Git::new(cache.mirror_path(&record.name));
                Some(scm::version_at(&git, commit, Some(reference), &config, "Cargo.toml")?.to_rpm())
            }
            (v, _) => v,
        };
        let found = internal_project_packages(ctx, &tree, project_version.as_deref(), &release, &arch, source_date)?;
        let rpm_names: Vec<String> = found.iter().map(|(p, _)| p.package.name.clone()).collect();
        if let Some(v) = project_version.clone().or_else(|| found.first().map(|(p, _)| p.package.version.clone())) {
            if !rpm_names.is_empty() {
                internal_versions.insert(record.name.clone(), (v, crates.clone()));
            }
        }
        for (p, expect) in found {
            smoke.push(smoke_of(&p, expect));
            internal_packages.push(p.package);
        }
    }

    let graph = if ctx.effects.dry_run {
        None
    } else {
        Some(resolved_graph(ctx, &built.site, &built.patches, !ctx.args.flag("no-deps"))?)
    };
    for member in &packaged {
        let read = if ctx.effects.dry_run {
            // What the build will make may not be there yet: the plan reads it as the check did.
            assets::check_metadata(&member.info, &member.metadata, &release_dir, &arch, &variants)
        } else {
            assets::from_metadata_with_variants(&member.info, &member.metadata, &release_dir, &arch, &variants)
        };
        let unbuilt = member.info.bins.iter().any(|b| !release_dir.join(b).exists());
        let read = match read {
            // A dry-run plans before anything is built: the binaries are not there to read yet.
            Err(_) if ctx.effects.dry_run && unbuilt => {
                println!("would package crate {} (its binaries are not built yet)", member.info.name);
                continue;
            }
            other => other?,
        };
        let Some(mut crate_pkg) = read else {
            continue;
        };
        if ctx.effects.dry_run && unbuilt {
            println!("would package crate {} (its binaries are not built yet)", member.info.name);
            continue;
        }
        let pkg = &mut crate_pkg.package;
        pkg.version = version_rpm.clone();
        pkg.release = crate_pkg.release.clone().unwrap_or_else(|| release.clone());
        pkg.source_date = source_date;
        pkg.changelog = changelog.clone();
        if !ctx.effects.dry_run {
            if crate_pkg.auto_requires {
                pkg.add_elf_dependencies()?;
            }
            pkg.check_stripped()?;
        }
        // Fedora's rule for bundled Rust dependencies: every crate linked in is provided as
        // bundled; exactly those, from cargo's resolved graph for the target (rpmpkg::bundled).
        if let Some(graph) = &graph {
            for (name, version) in rpmpkg::bundled::linked_crates(&graph.linked, &member.info.name) {
                pkg.provides
                    .push(Dependency::eq(format!("bundled(crate({name}))"), crate::version::rpm_of_cargo(&version)));
            }
        }
        let closure = lockfile::closure(&built.manifest.packages, &member.info.name);
        for (project, (v, crates)) in &internal_versions {
            if closure
                .iter()
                .any(|d| crates.iter().any(|c| crate::reqs::normalize(c) == crate::reqs::normalize(&d.name)))
            {
                for name in internal_packages.iter().filter(|p| internal_rpm_of(p, project)).map(|p| p.name.clone()) {
                    pkg.requires.push(Dependency::eq(name, v.clone()));
                }
            }
        }
        workspace_packages.push(pkg.name.clone());
        smoke.push(smoke_of(&crate_pkg, Some(described.semver())));
        packages.push((crate_pkg.package, Kind::Workspace));
    }
    packages.extend(internal_packages.into_iter().map(|p| (p, Kind::Internal)));

    if !ctx.args.flag("no-deps") {
        let phase = crate::ui::Phase::start("vendoring the dependencies' sources");
        let vendor = vendor(ctx, channel, &built.site, &built.patches, &built.manifest.packages)?;
        phase.elapsed();
        // A dry run resolves no graph: it names the packages it can without one.
        if let (Some(vendor), Some(graph)) = (vendor, &graph) {
            packages.extend(
                dependency_packages(&built.manifest.packages, &vendor, &release, graph)?
                    .into_iter()
                    .map(|p| (p, Kind::Dependency)),
            );
        }
    }

    let manifest_path = out.join("collection.json");
    if ctx.effects.dry_run {
        for (p, _) in &packages {
            println!("would write: {}", out.join(p.file_name()));
        }
        println!("would write: {manifest_path}");
        return Ok(Collection {
            out_dir: out,
            manifest: CollectionManifest {
                channel,
                workspace: ws.config.name().to_string(),
                version: version_rpm,
                commit: commit.clone(),
                dirty: described.dirty,
                source_date,
                internal: built.manifest.internal.clone(),
                packages: Vec::new(),
            },
            workspace_packages,
            smoke,
            _lock: None,
        });
    }

    // Everything is assembled and validated: only now is the new collection staged, in a
    // directory of its own, and shown as a whole (see crate::collection).
    let locked = locked.expect("locked unless dry-run");
    let only: Vec<Package> = packages.iter().map(|(p, _)| p.clone()).collect();
    let cache = cache_path(ws, &out);
    let writing = std::time::Instant::now();
    let phase = crate::ui::Phase::counted(format!("writing {} packages", only.len()), only.len());
    let staged = locked.stage(ws.config.name(), &only, compression, Some(&cache))?;
    let written = &staged.written;
    phase.elapsed();
    for w in written {
        crate::ui::event(serde_json::json!({
            "reason": "package-written", "file": w.path, "nevra": w.nevra, "sha256": w.sha256,
            "unchanged": w.unchanged, "from_cache": w.from_cache,
        }));
    }
    let encoded = written.iter().filter(|w| !w.from_cache).count();
    eprintln!(
        "trainyard: {} packages ({encoded} encoded, {} from the cache) in {:.1} s, {compression:?}, {} threads",
        written.len(),
        written.len() - encoded,
        writing.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let entries: Vec<Entry> = written.iter().zip(&packages).map(|(w, (p, kind))| entry(w, p, *kind, &out)).collect();
    let manifest = CollectionManifest {
        channel,
        workspace: ws.config.name().to_string(),
        version: version_rpm,
        commit,
        dirty: described.dirty,
        source_date,
        internal: built.manifest.internal.clone(),
        packages: entries,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    staged.commit(&json)?;
    Ok(Collection { out_dir: out, manifest, workspace_packages, smoke, _lock: Some(locked) })
}

fn entry(w: &Written, p: &Package, kind: Kind, out: &Utf8Path) -> Entry {
    Entry {
        file: w.path.strip_prefix(out).unwrap_or(&w.path).to_string(),
        name: p.name.clone(),
        nevra: w.nevra.clone(),
        kind,
        sha256: w.sha256.clone(),
        size: w.size,
        provides: w.provides.clone(),
        requires: w.requires.clone(),
        unchanged: w.unchanged,
        from_cache: w.from_cache,
    }
}

fn smoke_of(p: &CratePackage, expect: Option<String>) -> Smoke {
    let bin = p
        .package
        .files
        .iter()
        .find(|f| f.kind == FileKind::Binary || (f.dest.starts_with("/usr/bin/") && f.mode & 0o111 != 0))
        .map(|f| f.dest.rsplit('/').next().unwrap_or(&f.dest).to_string());
    match (&p.smoke, bin) {
        // A command of the package's own says what success is: its exit status.
        (Some(command), _) => Smoke { package: p.package.name.clone(), command: command.clone(), expect: None },
        (None, Some(bin)) => Smoke { package: p.package.name.clone(), command: format!("{bin} --version"), expect },
        (None, None) => Smoke { package: p.package.name.clone(), command: "true".into(), expect: None },
    }
}

fn internal_rpm_of(p: &Package, project: &str) -> bool {
    p.url.as_deref() == Some(project) || p.name == project || p.name.starts_with(&format!("{project}-"))
}

/// The `--variant` names, each defined by at least one packaged crate's cargo-generate-rpm
/// table (a crate without it keeps its table as it is, as `cargo generate-rpm` packages it).
pub fn variants(ctx: &Context, packaged: &[&Member]) -> Result<Vec<String>> {
    let names: Vec<String> =
        ctx.args.values("variant").iter().flat_map(|v| v.split(',')).map(|v| v.trim().to_string()).collect();
    for name in &names {
        if !packaged.iter().any(|m| assets::variant_names(&m.metadata).contains(name)) {
            let defined: BTreeSet<String> = packaged.iter().flat_map(|m| assets::variant_names(&m.metadata)).collect();
            let defined = if defined.is_empty() {
                "none is defined".to_string()
            } else {
                format!("defined: {}", defined.into_iter().collect::<Vec<_>>().join(", "))
            };
            return Err(Error::usage(format!(
                "--variant {name}: no packaged crate has [package.metadata.generate-rpm.variants.{name}]"
            ))
            .with_help(defined));
        }
    }
    Ok(names)
}

pub use crate::members::{workspace_members, Member};

/// The packages of an internal project's checkout: built (stripped) into its own target
/// directory under ours, at the version of its tag.
fn internal_project_packages(
    ctx: &Context,
    tree: &Utf8Path,
    version: Option<&str>,
    release: &str,
    arch: &str,
    source_date: u64,
) -> Result<Vec<(CratePackage, Option<String>)>> {
    let sub = Workspace::at(&tree.join("Cargo.toml"))?;
    let members = workspace_members(&sub)?;
    if !members.iter().any(Member::packaged) {
        return Ok(Vec::new());
    }
    let sh = shell()?;
    sh.change_dir(tree);
    let cargo = cargo_program();
    let manifest = tree.join("Cargo.toml");
    let target = ctx.ws.state_dir().join("internal-target");
    let strip = rpmpkg::STRIP_CARGO_ARGS;
    // The project's product only: its xtask and tools are not built either.
    let selection = crate::product::Product::from_members(&members).cargo_args();
    let mut c =
        cmd!(sh, "{cargo} build --release {selection...} --manifest-path {manifest} --target-dir {target} {strip...}");
    if tree.join("Cargo.lock").exists() {
        c = c.arg("--locked");
    }
    if let Some(v) = version.and_then(|v| Version::parse_rpm(v).ok()) {
        c = c.env("TRAINYARD_VERSION", v.to_semver().to_string());
    }
    ctx.effects.run(c)?;
    let release_dir = target.join("release");
    let mut out = Vec::new();
    for m in members.iter().filter(|m| m.packaged()) {
        let Some(mut p) = assets::from_metadata(&m.info, &m.metadata, &release_dir, arch)? else { continue };
        if let Some(v) = version {
            p.package.version = v.to_string();
        }
        p.package.release = p.release.clone().unwrap_or_else(|| release.to_string());
        p.package.source_date = source_date;
        if p.auto_requires {
            p.package.add_elf_dependencies()?;
        }
        let expect = version.and_then(|v| Version::parse_rpm(v).ok()).map(|v| v.to_semver().to_string());
        out.push((p, expect));
    }
    Ok(out)
}

/// The commit and commit time of a self checkout (`ACCOUNT_PORTAL=rpm-1.2` on account-portal):
/// a tree without history, whose commit the workspace records and whose mirror has the history.
fn self_checkout_commit(ws: &Workspace) -> Option<(String, u64)> {
    let checkout = ws.checkout.as_ref()?;
    let mirror = projects::cache(ws).mirror_path(ws.config.name());
    let time = crate::git::Git::new(mirror).read(&["show", "-s", "--format=%ct", &checkout.commit]).ok()?;
    Some((checkout.commit.clone(), time.trim().parse().ok()?))
}

/// `SOURCE_DATE_EPOCH`, else the commit time of HEAD, else 0.
fn source_date(ws: &Workspace, commit: Option<&str>) -> Result<u64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v.trim().parse().map_err(|_| {
            Error::usage(format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"))
                .with_help("unset it, or give seconds since 1970-01-01")
        });
    }
    match commit {
        Some(c) => {
            let t = crate::git::Git::new(&ws.root).read(&["show", "-s", "--format=%ct", c])?;
            Ok(t.trim().parse().unwrap_or(0))
        }
        None => Ok(0),
    }
}

/// Where the fingerprint cache of an output directory lives: under trainyard's state directory,
/// not beside the RPMs (it names local paths, and the collection is meant to be published).
pub fn cache_path(ws: &Workspace, out: &Utf8Path) -> Utf8PathBuf {
    use sha2::{Digest, Sha256};
    let key: String = Sha256::digest(out.as_str().as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    ws.state_dir().join("rpm-cache").join(format!("{key}.json"))
}

/// Vendors the sources of every package of the build's lock file (`site`) into
/// `target/trainyard/vendor/<channel>/`.
///
/// Skipped when the vendor directory was made from the same inputs (the lock file's content,
/// the override patches, the workspace's `.cargo/config.toml`, recorded in a stamp beside it)
/// and still holds every registry crate: `cargo vendor` copies every source again each time.
fn vendor(
    ctx: &Context,
    channel: Channel,
    site: &LockSite,
    patches: &[String],
    lock: &[LockedPackage],
) -> Result<Option<Utf8PathBuf>> {
    let lock_file = &site.lock;
    let ws = &ctx.ws;
    let dir = ws.state_dir().join("vendor").join(channel.as_str());
    let stamp_path = ws.state_dir().join("vendor").join(format!("{channel}.stamp"));
    let sh = shell()?;
    sh.change_dir(&ws.root);
    let cargo = cargo_program();
    let at = &site.cargo_args();
    let tmp = ws.state_dir().join("vendor").join(format!(".{channel}.tmp"));
    let c =
        cmd!(sh, "{cargo} vendor --quiet --locked --versioned-dirs --respect-source-config {at...} {patches...} {tmp}")
            .ignore_stdout();
    // In dry-run the lock file may not exist yet (a dev resolution is made by the build).
    let stamp = vendor_stamp(ws, lock_file, patches);
    let complete =
        || lock.iter().filter(|p| p.is_registry()).all(|p| dir.join(format!("{}-{}", p.name, p.version)).is_dir());
    let fresh = stamp.as_ref().is_some_and(|s| std::fs::read_to_string(&stamp_path).is_ok_and(|old| &old == s))
        && dir.is_dir()
        && complete();
    if fresh {
        if ctx.effects.dry_run {
            println!("would reuse {} (vendored from the same lock file)", ws.display(&dir));
        }
        return Ok(Some(dir));
    }
    if ctx.effects.dry_run {
        println!("would run: {c}");
        return Ok(None);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    // The stamp goes first: a run killed between the rename and a new stamp must not trust it.
    let _ = std::fs::remove_file(&stamp_path);
    ctx.effects.run(c)?;
    // cargo vendor creates nothing for a graph without registry crates.
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    if let Some(stamp) = vendor_stamp(ws, lock_file, patches) {
        exec::write_atomic(&stamp_path, stamp.as_bytes())?;
    }
    Ok(Some(dir))
}

/// What cargo's feature-resolved graph of the workspace says for the host target.
struct Graphs {
    /// `cargo tree` with [`rpmpkg::bundled::CARGO_TREE_ARGS`]: what each binary links.
    linked: String,
    /// Every crate a build or test of the workspace compiles for the target.
    compiled: BTreeSet<(String, String)>,
    target: String,
    cfgs: Vec<cargo_metadata::cargo_platform::Cfg>,
}

/// [`Graphs`], with the lock file and patches of the build (`--locked`: nothing is resolved
/// again, nothing written). `with_compiled`: also what a build or test compiles (the dependency
/// packages need it; it reads the manifests of dev-dependencies, which a build alone may not
/// have downloaded).
fn resolved_graph(ctx: &Context, site: &LockSite, patches: &[String], with_compiled: bool) -> Result<Graphs> {
    let ws = &ctx.ws;
    let sh = shell()?;
    sh.change_dir(&ws.root);
    let cargo = cargo_program();
    let at = &site.cargo_args();
    let target = host_target()?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let cfgs = rpmpkg::devel::parse_cfgs(&exec::read(cmd!(sh, "{rustc} --print cfg"))?);
    let tree =
        |args: &[&str]| exec::read(cmd!(sh, "{cargo} tree --locked {at...} --target {target} {args...} {patches...}"));
    let all = if with_compiled { tree(&rpmpkg::bundled::CARGO_TREE_ALL_ARGS)? } else { String::new() };
    let linked = tree(&rpmpkg::bundled::CARGO_TREE_ARGS)?;
    Ok(Graphs { linked, compiled: rpmpkg::bundled::all_crates(&all), target, cfgs })
}

/// The target triple rustc builds for when given none (`rustc -vV`'s `host:`).
fn host_target() -> Result<String> {
    let sh = shell()?;
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = exec::read(cmd!(sh, "{rustc} -vV"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| Error::failed(format!("`{rustc} -vV` names no host target:\n{out}")))
}

/// What a vendor directory is made from; `None` when the lock file cannot be read.
fn vendor_stamp(ws: &Workspace, lock_file: &Utf8Path, patches: &[String]) -> Option<String> {
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

/// One `rust-NAME-devel` package per registry crate: its sources under
/// `/usr/share/cargo/registry/NAME-VERSION/`, `Provides: crate(NAME) = VERSION`, and `Requires`
/// of its own non-optional dependencies for the target with their version ranges
/// ([`rpmpkg::devel`]: the same name-version-release has the same bytes whatever application
/// built it; a crate at several semver-incompatible versions gets Fedora's compat names).
///
/// A crate no build or test for this target compiles (only other platforms use it) is packaged
/// as `rust-NAME-stub`: its manifest and checksum, no sources, so that cargo still resolves the
/// lock file offline from the installed packages.
fn dependency_packages(
    lock: &[LockedPackage],
    vendor: &Utf8Path,
    release: &str,
    graph: &Graphs,
) -> Result<Vec<Package>> {
    let registry: Vec<&LockedPackage> = lock.iter().filter(|p| p.is_registry()).collect();
    let names =
        rpmpkg::devel::package_names(&registry.iter().map(|p| (p.name.clone(), p.version.clone())).collect::<Vec<_>>());
    let mut out = Vec::new();
    for p in registry {
        let dir = vendor.join(format!("{}-{}", p.name, p.version));
        if !dir.is_dir() {
            return Err(Error::failed(format!(
                "cargo vendor left no sources for {} {} in {vendor}",
                p.name, p.version
            )));
        }
        let manifest_path = dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
        let fields = crate_fields(&manifest_path);
        let dest_root = format!("/usr/share/cargo/registry/{}-{}", p.name, p.version);
        let mut files = vec![FileEntry::dir(dest_root.clone(), 0o755)];
        let name = names[&(p.name.clone(), p.version.clone())].clone();
        let compiled = graph.compiled.contains(&(p.name.clone(), p.version.clone()));
        let stub = match (&p.checksum, compiled) {
            (Some(checksum), false) => Some(checksum),
            _ => None,
        };
        let mut requires = Vec::new();
        let (name, summary) = if let Some(checksum) = stub {
            // What cargo reads of a directory source: the manifest, and a checksum file whose
            // `package` is the lock file's (its empty `files` list is all there is to verify).
            let stub_dir = vendor.with_extension("stubs").join(format!("{}-{}", p.name, p.version));
            let mut stub_files =
                rpmpkg::devel::stub_files(&manifest).map_err(|e| Error::failed(format!("{manifest_path}: {e}")))?;
            stub_files.push((".cargo-checksum.json", format!("{{\"files\":{{}},\"package\":\"{checksum}\"}}")));
            for (rel, content) in &stub_files {
                let path = stub_dir.join(rel);
                if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                    exec::write_atomic(&path, content.as_bytes())?;
                }
                files.push(FileEntry::new(path, format!("{dest_root}/{rel}"), 0o644, FileKind::Regular));
            }
            files.push(FileEntry::dir(format!("{dest_root}/src"), 0o755));
            let stub_name = format!("{}-stub", name.trim_end_matches("-devel"));
            (stub_name, format!("Stand-in for the Rust crate {} {} (used on other platforms only)", p.name, p.version))
        } else {
            // Everything cargo vendor wrote, .cargo-checksum.json included: with it the
            // installed directory is a cargo `directory` source whose checksums match the lock
            // file's, so the collection rebuilds the workspace offline (as Fedora's and
            // Debian's registries do).
            for (rel, path, is_dir, mode) in walk(&dir)? {
                let dest = format!("{dest_root}/{rel}");
                if is_dir {
                    files.push(FileEntry::dir(dest, 0o755));
                } else {
                    let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
                    files.push(FileEntry::new(path, dest, mode, FileKind::Regular));
                }
            }
            requires = rpmpkg::devel::manifest_requires(&manifest, &graph.target, &graph.cfgs)
                .map_err(|e| Error::failed(format!("{manifest_path}: {e}")))?;
            if requires.iter().any(rpmpkg::devel::is_rich) {
                requires.push(Dependency::new("rpmlib(RichDependencies)", rpmpkg::DepFlags::LessEq, "4.12.0-1"));
            }
            (name, format!("Source of the Rust crate {} {}", p.name, p.version))
        };
        out.push(Package {
            name,
            version: crate::version::rpm_of_cargo(&p.version),
            release: release.to_string(),
            arch: "noarch".into(),
            summary,
            description: rpmpkg::wrap(
                &fields.description.unwrap_or_else(|| format!("Source of the Rust crate {}.", p.name)),
            ),
            license: fields.license.unwrap_or_else(|| "LicenseRef-unknown".into()),
            url: fields.repository.or(fields.homepage),
            files,
            provides: if stub.is_some() {
                Vec::new()
            } else {
                vec![Dependency::eq(format!("crate({})", p.name), crate::version::rpm_of_cargo(&p.version))]
            },
            requires,
            // The crate's own timestamp, not the application's commit: same package, same bytes.
            source_date: rpmpkg::devel::CRATE_EPOCH,
            ..Package::default()
        });
    }
    Ok(out)
}

/// (path relative to `root`, full path, is a directory, mode) of everything under `root`, sorted.
fn walk(root: &Utf8Path) -> Result<Vec<(String, Utf8PathBuf, bool, u32)>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = Utf8PathBuf::from_path_buf(entry.path())
                .map_err(|p| Error::failed(format!("{} is not UTF-8", p.display())))?;
            let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            let rel = path.strip_prefix(root).expect("under root").to_string();
            if meta.is_dir() {
                stack.push(path.clone());
                out.push((rel, path, true, 0o755));
            } else if meta.is_file() {
                out.push((rel, path, false, meta.permissions().mode()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What a crate's manifest declares about it.
#[derive(Default)]
struct CrateFields {
    license: Option<String>,
    description: Option<String>,
    repository: Option<String>,
    homepage: Option<String>,
}

fn crate_fields(manifest: &Utf8Path) -> CrateFields {
    let Ok(text) = std::fs::read_to_string(manifest) else { return CrateFields::default() };
    let Ok(table) = text.parse::<toml::Table>() else { return CrateFields::default() };
    let package = table.get("package");
    let field = |k: &str| {
        package.and_then(|p| p.get(k)).and_then(|v| v.as_str()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    };
    CrateFields {
        license: field("license"),
        description: field("description"),
        repository: field("repository"),
        homepage: field("homepage"),
    }
}

/// `%changelog` entries from RELEASE.txt sections (`1.2 - 2011-02-28` then its lines), newest first.
pub fn changelog_from_release_txt(path: &Utf8Path, release: &str, fallback_time: u64) -> Result<Vec<ChangelogEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    crate::release::notes::check_dates(path, &text)?;
    Ok(parse_release_txt(&text)
        .into_iter()
        .map(|(version, date, lines)| ChangelogEntry {
            author: "trainyard <release@localhost>".into(),
            version: format!("{version}-{release}"),
            time: date.map(|(y, m, d)| days_from_civil(y, m, d) as u64 * 86400).unwrap_or(fallback_time),
            text: lines
                .iter()
                .map(|l| format!("- {}", l.trim_start_matches(['-', '*', '•', ' '])))
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect())
}

type Section = (String, Option<(i64, u32, u32)>, Vec<String>);

/// Sections of RELEASE.txt: (version, date, non-empty lines), in file order (newest first).
pub fn parse_release_txt(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        if let Some((version, date)) = line.split_once(" - ") {
            let version = version.trim();
            if !version.is_empty()
                && version.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !version.contains(' ')
                && Version::parse_pep440(version).is_ok()
            {
                sections.push((version.to_string(), parse_date(date.trim()), Vec::new()));
                continue;
            }
        }
        if let Some(last) = sections.last_mut() {
            let t = line.trim();
            if !t.is_empty() && !t.chars().all(|c| c == '=' || c == '-') {
                last.2.push(t.to_string());
            }
        }
    }
    sections
}

fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok().filter(|m| (1..=12).contains(m))?;
    let d = it.next()?.get(..2)?.parse().ok().filter(|d| (1..=31).contains(d))?;
    Some((y, m, d))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_txt_sections() {
        let text = "1.2 - 2011-02-28\n================\n\nImpacts:\n\n- Ops\n\nRelevant changes:\n\n- Bug 636294 - fixed\n\n1.1 - 2011-01-10\n\n- first\n";
        let s = parse_release_txt(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "1.2");
        assert_eq!(s[0].1, Some((2011, 2, 28)));
        assert_eq!(s[0].2, ["Impacts:", "- Ops", "Relevant changes:", "- Bug 636294 - fixed"]);
        assert_eq!(s[1].2, ["- first"]);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2011, 2, 28), 15033);
    }
}
