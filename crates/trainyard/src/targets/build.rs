//! `build [CHANNEL=dev|stage|prod]`: apply the channel, build the workspace in release mode,
//! write the build manifest.
//!
//! Two phases: [`plan`] reads the inputs, computes the resolution the build uses (see
//! [`crate::resolve`]) and checks it, then [`Effects::execute`](crate::exec::Effects::execute)
//! runs the plan: the lock file written into `target/trainyard/<key>/`, `cargo build`, the
//! manifest.

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::build_settings::BuildSettings;
use crate::cargo::Invocation;
use crate::channel::Channel;
use crate::cli::{Args, FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::lockfile::{self, LockSite, LockedPackage};
use crate::members::{workspace_members, Member};
use crate::plan::{self, Plan};
use crate::product::Product;
use crate::projects;
use crate::reqs;
use crate::resolve::{self, check_pinned, resolution_key, shadow_hint};
use crate::scratch::TempDir;
use crate::targets::options::{self, BuildFlags};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "build",
    summary: "build the workspace in release mode for a channel (CHANNEL=dev by default)",
    usage: "[CHANNEL=dev|stage|prod] [PROJECT=ref ...] [--dry-run] [--refresh] [--features F] [--profile P] [--target T] [--trigger push|tag|auto] [-- CARGO-BUILD-ARGS...]",
    about: "dev takes the newest versions reqs/dev-reqs.txt allows (its == pins are honoured) and keeps\n\
            that resolution under target/trainyard/dev/, never in your Cargo.lock. stage and prod build\n\
            --locked and refuse a Cargo.lock that disagrees with reqs/<channel>-reqs.txt.\n\
            The build manifest is written to target/trainyard/build-<channel>.json.\n\
            Words after `--` go to `cargo build` (`-- --timings`).\n\
            --dry-run computes the resolution it would build with (in a temporary directory) and\n\
            checks it as the run does; overridden internal projects are fetched into the checkout\n\
            cache to plan from their trees.",
    vars: &[VarSpec { name: "CHANNEL", help: "dev (default), stage or prod" }],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "channel", value: Some("NAME"), help: "same as CHANNEL=NAME", var: Some("CHANNEL") },
        FlagSpec {
            name: "refresh",
            value: None,
            help: "dev: resolve the newest versions again even if nothing changed",
            var: None,
        },
        options::FEATURES_FLAG,
        options::ALL_FEATURES_FLAG,
        options::NO_DEFAULT_FEATURES_FLAG,
        options::PROFILE_FLAG,
        options::TARGET_FLAG,
        options::TRIGGER_FLAG,
    ],
    takes_projects: true,
    max_positional: 0,
    passthrough: true,
};

/// `build`'s arguments, parsed once.
#[derive(Debug, Clone)]
pub struct BuildArgs {
    pub channel: Channel,
    /// `--refresh`: resolve the dev channel again even if nothing changed.
    pub refresh: bool,
    pub flags: BuildFlags,
    /// Words after `--`, for `cargo build`.
    pub cargo_args: Vec<String>,
}

impl BuildArgs {
    pub fn parse(args: &Args) -> Result<BuildArgs> {
        Ok(BuildArgs {
            channel: options::channel(args, "CHANNEL", Channel::Dev)?,
            refresh: args.flag("refresh"),
            flags: BuildFlags::parse(args)?,
            cargo_args: args.passthrough.clone(),
        })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let args = BuildArgs::parse(&ctx.args)?;
    crate::toolchain::check(&ctx.ws)?;
    let channel = args.channel;
    let name = ctx.ws.config.name();
    let phase = ctx.effects.phase(format!("building {name} for {channel}"), format_args!("build {name} for {channel}"));
    let planned = plan(ctx, &args)?;
    ctx.effects.execute(&planned.plan).map_err(|e| shadow_hint(e, &planned.outcome.site))?;
    phase.elapsed();
    ctx.effects.result(format!(
        "built {} for {channel}; manifest {}",
        ctx.ws.config.name(),
        ctx.ws.display(&planned.outcome.manifest_path)
    ));
    Ok(())
}

/// What the build manifest records.
#[derive(Debug, Clone, Serialize)]
pub struct BuildManifest {
    pub channel: Channel,
    pub workspace: String,
    /// The computed version (Cargo semver rendering), exported to the build as TRAINYARD_VERSION.
    pub version: Option<String>,
    pub commit: Option<String>,
    pub dirty: bool,
    /// The lock file the build used: trainyard's, under `target/trainyard/` (for stage and prod
    /// without overrides a copy of the user's `Cargo.lock`).
    pub lock_file: Utf8PathBuf,
    /// Every internal project: requested ref, where the request came from, commit.
    pub internal: Vec<projects::Record>,
    pub packages: Vec<LockedPackage>,
}

/// What a build is, once planned: what it records, and how later cargo calls of the same command
/// (`cargo vendor`, `cargo tree`) reach its lock file.
pub struct BuildOutcome {
    pub manifest: BuildManifest,
    /// The `--config` patch arguments of the internal-project overrides.
    pub patches: Vec<String>,
    /// Where the manifest is written.
    pub manifest_path: Utf8PathBuf,
    /// The lock file the build uses and how cargo reads it.
    pub site: LockSite,
    /// Held until the command ends (see [`lockfile::BuildLock`]).
    _guard: Option<lockfile::BuildLock>,
}

/// A build's plan and what it will have made.
pub struct Planned {
    pub plan: Plan,
    pub outcome: BuildOutcome,
}

/// How a build runs beyond its channel (for targets that build as part of their work).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Resolve the dev channel again even if nothing changed.
    pub refresh: bool,
    /// More arguments for `cargo build` (never profile settings: every target builds the
    /// product with the same ones, [`Invocation::product_profile`]).
    pub cargo_args: Vec<String>,
    /// The build flags; `None`: as the command line says.
    pub flags: Option<BuildFlags>,
}

/// Plans and runs a build (for targets that build first: `dist`).
pub fn build(ctx: &Context, channel: Channel, options: &BuildOptions) -> Result<BuildOutcome> {
    let flags = match &options.flags {
        Some(f) => f.clone(),
        None => BuildFlags::parse(&ctx.args)?,
    };
    let args = BuildArgs { channel, refresh: options.refresh, flags, cargo_args: options.cargo_args.clone() };
    let planned = plan(ctx, &args)?;
    ctx.effects.execute(&planned.plan).map_err(|e| shadow_hint(e, &planned.outcome.site))?;
    Ok(planned.outcome)
}

/// The build's plan: every check made, the resolution computed (see [`crate::resolve`]).
pub fn plan(ctx: &Context, args: &BuildArgs) -> Result<Planned> {
    let channel = args.channel;
    let ws = &ctx.ws;
    let probe = lockfile::CargoProbe::start(&crate::cargo::program());
    let requirements = reqs::load_channel(ws, channel, &ctx.program)?;
    // Every build exports the computed version: `option_env!("TRAINYARD_VERSION")` in the crates.
    let version = crate::scm::version_env_for(ws, args.flags.trigger)?;
    let projects = projects::plan(ctx, channel, &requirements)?;
    let patches = projects::patch_args(&projects);
    let mut internal = projects::internal_crates(ws);
    for p in &projects {
        internal.insert(reqs::normalize(&p.name));
        internal.extend(p.crates.iter().map(|(c, _)| reqs::normalize(c)));
    }
    // Only the product is built, checked and recorded: never the xtask or other tools.
    let members = workspace_members(ws)?;
    let product = Product::from_members(&members);
    let mechanism = probe.finish()?;
    // Every build builds against a lock file of its own under target/trainyard/.
    let site = LockSite::new(ws, ws.state_dir().join(resolution_key(channel, &patches)), mechanism);
    let roots: Vec<&Member> = members.iter().filter(|m| product.roots.contains(&m.info.name)).collect();
    let settings = BuildSettings::of(&args.flags, &roots)?;
    // `locked`: the build must not change the lock.
    let build_cmd = |locked: bool| -> plan::Command {
        let mut c = Invocation::new("build").product_profile(&settings).args(product.cargo_args()).at(&site);
        if locked {
            c = c.locked();
        }
        c = c
            .arg("--target-dir")
            .arg(ws.target_dir.as_str())
            .patches(&patches)
            .args(args.cargo_args.iter().cloned())
            .dir(&ws.root);
        if let Some(v) = &version {
            c = c.env("TRAINYARD_VERSION", v);
        }
        c.command()
    };
    let user_lock = || -> Result<(Vec<u8>, Vec<LockedPackage>)> {
        let path = ws.lock_path();
        let bytes = std::fs::read(&path).map_err(|e| {
            io(&path)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it")
        })?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::usage(format!("{}: not valid UTF-8", ws.display(&path))))?;
        Ok((bytes, lockfile::parse(&path, &text)?))
    };
    // Taken once the checks that need no resolution have passed, held to the end of the command.
    let take_guard = || ctx.effects.hold(|| lockfile::BuildLock::acquire(ws));
    let mut plan = Plan::new();
    let (packages, guard) = if channel.is_pinned() && patches.is_empty() {
        // The user's lock as it is, copied: what is checked is what is built.
        let (bytes, lock) = user_lock()?;
        // Only the product's graph is checked and recorded: never the xtask's.
        let lock = product.graph_owned(&lock);
        check_pinned(ctx, channel, &lock, &requirements, &internal)?;
        let guard = take_guard()?;
        plan.extend(site.prepare_plan(ws, Some(&bytes))?);
        plan.run(build_cmd(true));
        (lock, guard)
    } else if channel.is_pinned() {
        // Overrides change the resolution of the internal crates only; every external
        // package must still be the pinned one.
        let (bytes, before) = user_lock()?;
        let guard = take_guard()?;
        let resolved = resolve::overrides(ctx, &site, &bytes, &before, &projects, &patches)?;
        let lock = product.graph_owned(&lockfile::parse(&site.lock, &String::from_utf8_lossy(&resolved))?);
        projects::check_patched(&projects, &lock)?;
        check_pinned(ctx, channel, &lock, &requirements, &internal)?;
        plan.extend(site.prepare_plan(ws, Some(&resolved))?);
        plan.run(build_cmd(true));
        (lock, guard)
    } else {
        let guard = take_guard()?;
        let fingerprint = resolve::dev_fingerprint(ctx, &requirements, &patches)?;
        let stamp = site.dir.join("fingerprint");
        let fresh = !args.refresh && site.lock.exists() && resolve::is_fresh(&stamp, &fingerprint);
        let lock = if fresh {
            plan.extend(site.prepare_plan(ws, None)?);
            lockfile::read(&site.lock)?
        } else {
            // Resolved in a scratch site from the user's lock; the plan writes the result.
            let tmp = TempDir::new("resolve")?;
            let scratch = LockSite::new(ws, tmp.path().to_path_buf(), mechanism);
            scratch.prepare(ws, std::fs::read(ws.lock_path()).ok().as_deref())?;
            resolve::resolve_dev(ctx, &scratch, &product, &requirements, &internal, &patches)
                .map_err(|e| shadow_hint(e, &scratch))?;
            let bytes = std::fs::read(&scratch.lock).map_err(io(&scratch.lock))?;
            // The stamp goes first: a run killed before the new one is written resolves again.
            if std::fs::symlink_metadata(&stamp).is_ok() {
                plan.remove_file(&stamp);
            }
            plan.extend(site.prepare_plan(ws, Some(&bytes))?);
            lockfile::parse(&site.lock, &String::from_utf8_lossy(&bytes))?
        };
        let packages = product.graph_owned(&lock);
        projects::check_patched(&projects, &packages)?;
        plan.run(build_cmd(false));
        if !fresh {
            plan.write(&stamp, fingerprint.into_bytes());
        }
        (packages, guard)
    };
    let (commit, dirty) = match &ws.checkout {
        Some(c) => (Some(c.commit.clone()), false),
        None => {
            let git = crate::git::Git::new(&ws.root);
            if crate::git::Git::is_repo(&ws.root) {
                let head = git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?;
                (head, git.is_dirty()?)
            } else {
                (None, false)
            }
        }
    };
    let manifest = BuildManifest {
        channel,
        workspace: ws.config.name().to_string(),
        version: version.clone(),
        commit,
        dirty,
        lock_file: site.lock.clone(),
        internal: projects::records(&projects, &packages),
        packages,
    };
    let manifest_path = ws.state_dir().join(format!("build-{channel}.json"));
    // Written only when it differs, so a no-op build leaves files (and mtimes) alone.
    let bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    if std::fs::read(&manifest_path).ok().as_deref() != Some(&bytes[..]) {
        plan.write(&manifest_path, bytes);
    }
    Ok(Planned { plan, outcome: BuildOutcome { manifest, patches, manifest_path, site, _guard: guard } })
}
