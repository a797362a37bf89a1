//! `build_rpms [RPM_CHANNEL=prod]`: the RPM collection of a channel — the workspace's
//! packaged binaries, the internal projects that ship binaries, and one `rust-NAME-devel`
//! package per external crate of the resolved graph — with a JSON manifest beside it.
//!
//! Planned in stages, each executed by [`Effects::execute_then`](crate::exec::Effects):
//! first every check, the build (see [`build::plan`]) and the internal projects' builds; once the
//! binaries exist, the vendoring of the dependencies' sources; once those exist, the packages
//! (read from what was built) and the collection, written whole.

mod changelog;
mod dependencies;
mod internal;
mod vendor;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::build_settings::BuildSettings;
use crate::cli::{TargetSpec, VarSpec};
use crate::collection::{self, Locked, Output};
use crate::collection_manifest::{Entry, Manifest};
use crate::error::{Error, Result};
use crate::lockfile;
use crate::plan::Plan;
use crate::projects;
use crate::rpmpkg::{self, assets, assets::CratePackage, Compression, Dependency, FileKind, Package};
use crate::scm;
use crate::targets::build::{self, BuildArgs};
use crate::targets::options::{self, CollectionArgs};
use crate::workspace::Workspace;
use crate::Context;
use std::collections::BTreeSet;

use crate::collection_manifest::Kind;
use crate::members::{workspace_members, Member};

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
            Reproducible: SOURCE_DATE_EPOCH or the commit time is every timestamp.\n\
            --dry-run prints the build's plan; what is packaged is planned once the binaries are\n\
            built (`would later: ...` says what). PROJECT=ref words, the workspace's own\n\
            included, are checked out into the checkout cache to plan from their trees.",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "dev, stage or prod (default prod)" }],
    flags: &options::COLLECTION_FLAGS,
    takes_projects: true,
    max_positional: 0,
    passthrough: false,
};

pub fn run(ctx: &Context) -> Result<()> {
    let args = CollectionArgs::parse(&ctx.args)?;
    let started = std::time::Instant::now();
    if let Some(collection) = collect_with(ctx, &args)? {
        ctx.effects.result(format!(
            "collection of {} {} for {} in {}; {:.1} s",
            collection.manifest.workspace,
            collection.manifest.version,
            collection.manifest.channel,
            ctx.ws.display(&collection.out_dir),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
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
    pub manifest: Manifest,
    /// Names of the workspace's own packages (what `mock` installs).
    pub workspace_packages: Vec<String>,
    pub smoke: Vec<Smoke>,
    /// No other run replaces `<out>` while this collection is in use (`mock` installs from it).
    _lock: Option<Locked>,
}

/// The output directory of a channel's collection, checked (see [`Output::check`]).
pub fn out_dir(ctx: &Context, args: &CollectionArgs) -> Result<Output> {
    let dir = match &args.out {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => ctx.ws.root.join(dir),
        None => ctx.ws.target_dir.join("rpms").join(args.channel.as_str()),
    };
    Output::check(&dir, &ctx.ws)
}

/// Builds and writes the collection as the command line says (`image` and `release` call this).
/// Panics never; in dry-run prints the plan and returns an error-free empty collection.
pub fn collect(ctx: &Context) -> Result<Collection> {
    let args = CollectionArgs::parse(&ctx.args)?;
    let out = out_dir(ctx, &args)?.path;
    Ok(collect_with(ctx, &args)?.unwrap_or_else(|| Collection {
        out_dir: out,
        manifest: Manifest {
            channel: args.channel,
            workspace: ctx.ws.config.name().to_string(),
            version: String::new(),
            commit: None,
            dirty: false,
            source_date: 0,
            internal: Vec::new(),
            packages: Vec::new(),
        },
        workspace_packages: Vec::new(),
        smoke: Vec::new(),
        _lock: None,
    }))
}

/// Plans the collection and runs the plan; `None` in dry-run (the plan is printed).
pub fn collect_with(ctx: &Context, args: &CollectionArgs) -> Result<Option<Collection>> {
    // `build_rpms`, and `image` and `release` through `collect`: refused before anything is planned.
    crate::toolchain::check(&ctx.ws)?;
    let Planned { plan, rest } = plan(ctx, args)?;
    ctx.effects.execute_then(&plan, || rest.run(ctx, args))
}

impl Rest {
    /// The stages planned at run time (what `plan`'s `later:` line stands for): planned and
    /// executed here, once the binaries exist.
    pub fn run(self, ctx: &Context, args: &CollectionArgs) -> Result<Collection> {
        let Rest { build: built, internal, stage, building } = self;
        building.elapsed();
        // The binaries exist: the dependencies' sources are vendored next.
        let graph = dependencies::resolved_graph(&ctx.ws.root, &built.site, &built.patches, !args.no_deps)?;
        let mut vendoring = Plan::new();
        let vendor_dir = if args.no_deps {
            None
        } else {
            let (dir, plan) =
                vendor::plan(&ctx.ws, args.channel, &built.site, &built.patches, &built.manifest.packages);
            vendoring.extend(plan);
            Some(dir)
        };
        vendoring.later("package the dependencies' vendored sources, read the built binaries and write the collection");
        let mut collection = None;
        let phase = (!args.no_deps).then(|| crate::ui::Phase::start("vendoring the dependencies' sources"));
        ctx.effects.execute_then(&vendoring, || {
            if let Some(phase) = &phase {
                phase.elapsed();
            }
            let (plan, made) = stage.packages(ctx, &built, &internal, &graph, vendor_dir.as_deref())?;
            ctx.effects.execute(&plan)?;
            collection = Some(made);
            Ok(())
        })?;
        let mut collection = collection.expect("planned in the run");
        collection.manifest.packages = written_entries(&collection.out_dir, ctx.ws.config.name())?;
        Ok(collection)
    }
}

/// A collection's plan: its first stage (every check, the build, the internal projects'
/// builds, ending with a `later:` line), and what the later stages need.
pub struct Planned {
    pub plan: Plan,
    pub rest: Rest,
}

/// What the first stage leaves for the later ones.
pub struct Rest {
    /// The phase of the first stage, which the run ends when the later part starts.
    building: crate::ui::Phase,
    build: build::BuildOutcome,
    internal: Vec<internal::Project>,
    stage: Stage,
}

/// What the packaging stage needs, checked before anything is built.
struct Stage {
    output: Output,
    lock: Option<Locked>,
    packaged: Vec<String>,
    members: Vec<Member>,
    variants: Vec<String>,
    release_dir: Utf8PathBuf,
    arch: String,
    release: String,
    version_rpm: String,
    semver: String,
    commit: Option<String>,
    dirty: bool,
    source_date: u64,
    compression: Compression,
    changelog: Vec<rpmpkg::ChangelogEntry>,
    channel: crate::channel::Channel,
}

/// The first stage: every check, the build, the internal projects' builds.
pub fn plan(ctx: &Context, args: &CollectionArgs) -> Result<Planned> {
    let ws = &ctx.ws;
    let channel = args.channel;
    let output = out_dir(ctx, args)?;
    let out = output.path.clone();
    let described = scm::describe(ws, args.build.trigger)?;
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
    let compression = match ws.config.rpm.compression_level.get(channel.as_str()) {
        Some(&level) => Compression::Zstd(level),
        None => Compression::default_for(channel),
    };
    // Every packaged crate of the workspace, checked before anything is built.
    let members = workspace_members(ws)?;
    let product = crate::product::Product::from_members(&members);
    let product_members: Vec<&Member> = members.iter().filter(|m| product.roots.contains(&m.info.name)).collect();
    let settings = BuildSettings::of(&args.build, &product_members)?;
    let arch = assets::rpm_arch(settings.arch()).to_string();
    // Every problem of the arguments and the packaging tables, reported at once.
    let mut problems: Vec<Error> = Vec::new();
    for name in &args.packages {
        match members.iter().find(|m| &m.info.name == name) {
            None => problems.push(
                Error::usage(format!("--package {name}: no crate `{name}` in the workspace")).with_help(format!(
                    "workspace crates: {}",
                    members.iter().map(|m| m.info.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            ),
            Some(m) if !m.packaged() => problems.push(
                Error::usage(format!("--package {name}: crate `{name}` has no packaging metadata")).with_help(format!(
                    "add [package.metadata.trainyard.rpm] (or [package.metadata.generate-rpm]) to {}/Cargo.toml",
                    ctx.ws.display(&m.info.manifest_dir)
                )),
            ),
            Some(_) => {}
        }
    }
    let packaged: Vec<&Member> = members
        .iter()
        .filter(|m| m.packaged() && (args.packages.is_empty() || args.packages.contains(&m.info.name)))
        .collect();
    if packaged.is_empty() && problems.is_empty() {
        problems.push(Error::usage(format!("no crate of {} has packaging metadata", ws.config.name())).with_help(
            "add [package.metadata.trainyard.rpm] to the Cargo.toml of each crate to package (an empty table packages its binaries into /usr/bin)",
        ));
    }

    // Packaging tables and their files, before a build that can take minutes (the binaries
    // themselves are read once built).
    let release_dir = settings.out_dir(&ws.target_dir);
    let variants = match variants(&args.variants, &packaged) {
        Ok(v) => v,
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    for member in &packaged {
        if let Err(e) = assets::check_metadata(&member.info, &member.metadata, &release_dir, &arch, &variants) {
            problems.push(e);
        }
    }
    if let Some(err) = all_at_once(problems) {
        return Err(err);
    }
    let changelog = changelog::changelog_from_release_txt(&ws.root.join("RELEASE.txt"), &release, source_date)?;

    // One run at a time writes an output directory: taken before the build, so that a second
    // run says at once that it waits. (Always before the build lock, never after: no two runs
    // can each hold the lock the other waits for.)
    let lock = ctx.effects.hold(|| output.lock())?;
    // Stripped as every build of the product is (`build` too: a build after it recompiles nothing).
    let build_args = BuildArgs { channel, refresh: false, flags: args.build.clone(), cargo_args: Vec::new() };
    let mut planned = build::plan(ctx, &build_args)?;
    let mut internal = Vec::new();
    for record in &planned.outcome.manifest.internal {
        if let Some(project) = internal::plan(ws, &ctx.effects, record)? {
            planned.plan.run(project.build.clone());
            internal.push(project);
        }
    }
    let packaged_names: Vec<String> = packaged.iter().map(|m| m.info.name.clone()).collect();
    let mut what = format!(
        "package {} {version_rpm} for {channel} into {out}: crate{} {}",
        ws.config.name(),
        if packaged_names.len() == 1 { "" } else { "s" },
        packaged_names.join(", ")
    );
    for p in &internal {
        what.push_str(&format!(", internal project {}", p.name));
    }
    if !args.no_deps {
        let registry = planned.outcome.manifest.packages.iter().filter(|p| p.is_registry()).count();
        what.push_str(&format!(", rust-NAME-devel packages of {registry} registry crates (their sources vendored)"));
    }
    what.push_str(" (the files, ELF requires and bundled crates are read from the binaries once built)");
    planned.plan.later(what);
    let stage = Stage {
        output,
        lock,
        packaged: packaged_names,
        members: Vec::new(),
        variants,
        release_dir,
        arch,
        release,
        version_rpm,
        semver: described.semver(),
        commit,
        dirty: described.dirty,
        source_date,
        compression,
        changelog,
        channel,
    };
    let stage = Stage { members, ..stage };
    let name = ws.config.name();
    let building =
        ctx.effects.phase(format!("building {name} for {channel}"), format_args!("build {name} for {channel}"));
    Ok(Planned { plan: planned.plan, rest: Rest { building, build: planned.outcome, internal, stage } })
}

impl Stage {
    /// The last stage, at run time: the packages, read from what was built and vendored, and the
    /// collection written whole.
    fn packages(
        self,
        ctx: &Context,
        built: &build::BuildOutcome,
        internal: &[internal::Project],
        graph: &dependencies::Graphs,
        vendor: Option<&Utf8Path>,
    ) -> Result<(Plan, Collection)> {
        let ws = &ctx.ws;
        let mut plan = Plan::new();
        let mut packages: Vec<(Package, Kind)> = Vec::new();
        let mut smoke = Vec::new();
        let mut workspace_packages = Vec::new();
        // Internal projects: their RPM versions, and their own packages.
        let mut internal_versions: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        let mut internal_packages = Vec::new();
        for project in internal {
            let found = project.packages(&self.release, &self.arch)?;
            let version = project.version.clone().or_else(|| found.first().map(|(p, _)| p.package.version.clone()));
            if let Some(v) = version.filter(|_| !found.is_empty()) {
                internal_versions.insert(project.name.clone(), (v, project.crates.clone()));
            }
            for (p, expect) in found {
                smoke.push(smoke_of(&p, expect));
                internal_packages.push(p.package);
            }
        }
        for member in self.members.iter().filter(|m| self.packaged.contains(&m.info.name)) {
            let read = assets::from_metadata_with_variants(
                &member.info,
                &member.metadata,
                &self.release_dir,
                &self.arch,
                &self.variants,
            )?;
            let Some(mut crate_pkg) = read else { continue };
            let pkg = &mut crate_pkg.package;
            pkg.version = self.version_rpm.clone();
            pkg.release = crate_pkg.release.clone().unwrap_or_else(|| self.release.clone());
            pkg.source_date = self.source_date;
            pkg.changelog = self.changelog.clone();
            if crate_pkg.auto_requires {
                pkg.add_elf_dependencies()?;
            }
            pkg.check_stripped()?;
            // Fedora's rule for bundled Rust dependencies: every crate linked in is provided as
            // bundled; exactly those, from cargo's resolved graph for the target (rpmpkg::bundled).
            for (name, version) in rpmpkg::bundled::linked_crates(&graph.linked, &member.info.name) {
                pkg.provides
                    .push(Dependency::eq(format!("bundled(crate({name}))"), crate::version::rpm_of_cargo(&version)));
            }
            let closure = lockfile::closure(&built.manifest.packages, &member.info.name);
            for (project, (v, crates)) in &internal_versions {
                if closure
                    .iter()
                    .any(|d| crates.iter().any(|c| crate::reqs::normalize(c) == crate::reqs::normalize(&d.name)))
                {
                    for name in internal_packages.iter().filter(|p| internal_rpm_of(p, project)).map(|p| p.name.clone())
                    {
                        pkg.requires.push(Dependency::eq(name, v.clone()));
                    }
                }
            }
            workspace_packages.push(pkg.name.clone());
            smoke.push(smoke_of(&crate_pkg, Some(self.semver.clone())));
            packages.push((crate_pkg.package, Kind::Workspace));
        }
        packages.extend(internal_packages.into_iter().map(|p| (p, Kind::Internal)));
        if let Some(vendor) = vendor {
            let (stubs, deps) =
                dependencies::dependency_packages(&built.manifest.packages, vendor, &self.release, graph)?;
            plan.extend(stubs);
            packages.extend(deps.into_iter().map(|p| (p, Kind::Dependency)));
        }
        let out = self.output.path.clone();
        let manifest = Manifest {
            channel: self.channel,
            workspace: ws.config.name().to_string(),
            version: self.version_rpm.clone(),
            commit: self.commit.clone(),
            dirty: self.dirty,
            source_date: self.source_date,
            internal: built.manifest.internal.clone(),
            packages: Vec::new(),
        };
        // Everything is assembled and validated: the collection is staged in a directory of its
        // own and shown as a whole (see crate::collection).
        plan.push(crate::plan::Action::Collection(Box::new(collection::Write {
            output: self.output,
            owner: ws.config.name().to_string(),
            packages,
            compression: self.compression,
            cache: Some(cache_path(ws, &out)),
            manifest: manifest.clone(),
        })));
        Ok((plan, Collection { out_dir: out, manifest, workspace_packages, smoke, _lock: self.lock }))
    }
}

/// The problems found, as one error: the only one as it is, several listed with their help.
fn all_at_once(mut problems: Vec<Error>) -> Option<Error> {
    if problems.len() <= 1 {
        return problems.pop();
    }
    let kind = if problems.iter().all(|e| e.kind == crate::error::Kind::Usage) {
        crate::error::Kind::Usage
    } else {
        crate::error::Kind::Failed
    };
    let mut message = format!("{} problems:", problems.len());
    let mut help = Vec::new();
    for p in &problems {
        message.push_str(&format!("\n  - {}", p.message));
        help.extend(p.help.clone());
    }
    let err = Error::new(kind, message);
    Some(if help.is_empty() { err } else { err.with_help(help.join("\n")) })
}

/// The entries `<out>`'s manifest of `owner` lists, as the collection was written.
fn written_entries(out: &Utf8Path, owner: &str) -> Result<Vec<Entry>> {
    let path = out.join(collection::MANIFEST);
    let bytes = std::fs::read(&path).map_err(crate::error::io(&path))?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::failed(format!("{path}: {e}")))?;
    if json["workspace"].as_str() != Some(owner) {
        return Err(Error::failed(format!("{path} is not the collection of {owner}")));
    }
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Ok(json["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| Entry {
            file: text(&p["file"]),
            name: text(&p["name"]),
            nevra: text(&p["nevra"]),
            kind: match p["kind"].as_str() {
                Some("workspace") => Kind::Workspace,
                Some("internal") => Kind::Internal,
                _ => Kind::Dependency,
            },
            sha256: text(&p["sha256"]),
            size: p["size"].as_u64().unwrap_or(0),
            provides: strings(&p["provides"]),
            requires: strings(&p["requires"]),
            unchanged: false,
            from_cache: false,
        })
        .collect())
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
pub fn variants(names: &[String], packaged: &[&Member]) -> Result<Vec<String>> {
    for name in names {
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
    Ok(names.to_vec())
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

/// Where the fingerprint cache of an output directory lives (a directory of one record a
/// package): under trainyard's state directory, not beside the RPMs (it names local paths, and
/// the collection is meant to be published).
pub fn cache_path(ws: &Workspace, out: &Utf8Path) -> Utf8PathBuf {
    use sha2::{Digest, Sha256};
    let key: String = Sha256::digest(out.as_str().as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    ws.state_dir().join("rpm-cache").join(key)
}
