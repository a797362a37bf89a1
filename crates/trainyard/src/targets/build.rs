//! `build [CHANNEL=dev|stage|prod]`: apply the channel, build the workspace in release mode,
//! write the build manifest.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use xshell::{cmd, Shell};

use crate::channel::Channel;
use crate::cli::{FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::exec::{self, command_error};
use crate::lockfile::{self, LockSite, LockedPackage};
use crate::product::Product;
use crate::projects;
use crate::reqs::{self, Requirement};
use crate::resolution;
use crate::version;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "build",
    summary: "build the workspace in release mode for a channel (CHANNEL=dev by default)",
    usage: "[CHANNEL=dev|stage|prod] [PROJECT=ref ...] [--dry-run] [--refresh] [--features F] [--profile P] [--target T] [--trigger push|tag|auto] [-- CARGO-BUILD-ARGS...]",
    about: "dev takes the newest versions reqs/dev-reqs.txt allows (its == pins are honoured) and keeps\n\
            that resolution under target/trainyard/dev/, never in your Cargo.lock. stage and prod build\n\
            --locked and refuse a Cargo.lock that disagrees with reqs/<channel>-reqs.txt.\n\
            The build manifest is written to target/trainyard/build-<channel>.json.\n\
            Words after `--` go to `cargo build` (`-- --timings`).",
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
        FEATURES_FLAG,
        ALL_FEATURES_FLAG,
        NO_DEFAULT_FEATURES_FLAG,
        PROFILE_FLAG,
        TARGET_FLAG,
        TRIGGER_FLAG,
    ],
    takes_projects: true,
    max_positional: 0,
    passthrough: true,
};

// How the product is built (`build`, `build_rpms` and `mock` take them); each may also come from
// the packaging table of a crate (`features = [...]`, `profile = "..."`).
pub const FEATURES_FLAG: FlagSpec = FlagSpec {
    name: "features",
    value: Some("LIST"),
    help: "cargo features to enable (comma- or space-separated, `crate/feature` for one crate; repeatable)",
    var: None,
};
pub const ALL_FEATURES_FLAG: FlagSpec =
    FlagSpec { name: "all-features", value: None, help: "enable every feature of the product crates", var: None };
pub const NO_DEFAULT_FEATURES_FLAG: FlagSpec =
    FlagSpec { name: "no-default-features", value: None, help: "leave out the default features", var: None };
pub const PROFILE_FLAG: FlagSpec = FlagSpec {
    name: "profile",
    value: Some("NAME"),
    help: "cargo profile (default release); binaries are then in target/NAME/",
    var: None,
};
pub const TARGET_FLAG: FlagSpec = FlagSpec {
    name: "target",
    value: Some("TRIPLE"),
    help: "build for this target (default: CARGO_BUILD_TARGET, else the host); binaries in target/TRIPLE/",
    var: None,
};

/// `--trigger`: which versions this build may have (see `version --help`); every target that
/// computes a version takes it.
pub const TRIGGER_FLAG: FlagSpec = FlagSpec {
    name: "trigger",
    value: Some("TRIGGER"),
    help: "push (never a release version), tag (HEAD's release tag) or auto (default: the CI system decides)",
    var: None,
};

/// The `--trigger` of a command, `auto` when absent.
pub fn trigger_arg(ctx: &Context) -> Result<crate::scm::Trigger> {
    match ctx.args.value("trigger") {
        Some(t) => crate::scm::Trigger::parse(t),
        None => Ok(crate::scm::Trigger::Auto),
    }
}

/// How long a dev resolution is reused when nothing it depends on changed.
const DEV_RESOLUTION_TTL_SECS: u64 = 24 * 3600;

pub fn run(ctx: &Context) -> Result<()> {
    let channel = channel_arg(ctx, "CHANNEL", Channel::Dev)?;
    let options = BuildOptions { refresh: ctx.args.flag("refresh"), cargo_args: ctx.args.passthrough.clone() };
    let phase = crate::ui::Phase::start(format!("building {} for {channel}", ctx.ws.config.name()));
    let outcome = build(ctx, channel, &options)?;
    phase.elapsed();
    if let Some(path) = outcome.manifest_path {
        eprintln!("trainyard: built {} for {channel}; manifest {}", ctx.ws.config.name(), ctx.ws.display(&path));
    }
    Ok(())
}

/// Reads a channel variable (CHANNEL or RPM_CHANNEL) or its default.
pub fn channel_arg(ctx: &Context, var: &str, default: Channel) -> Result<Channel> {
    match ctx.args.var(var) {
        Some(v) => {
            Channel::parse(&v.value).map_err(|e| e.context(format!("{var}={} (from the {})", v.value, v.origin)))
        }
        None => Ok(default),
    }
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

pub struct BuildOutcome {
    pub manifest: BuildManifest,
    /// The `--config` patch arguments of the internal-project overrides.
    pub patches: Vec<String>,
    pub manifest_path: Option<Utf8PathBuf>,
    /// The lock file the build used and how cargo reads it: later cargo calls of the same
    /// command (`cargo vendor`) use the same.
    pub site: LockSite,
    /// Held until the command ends (see [`lockfile::BuildLock`]).
    _guard: Option<lockfile::BuildLock>,
}

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
fn shadow_hint(err: Error, site: &LockSite) -> Error {
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

/// The crate names of internal projects: never pinned, never checked as external.
pub fn internal_crates(ctx: &Context) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for (name, project) in &ctx.ws.config.internal {
        set.insert(reqs::normalize(name));
        set.extend(project.crates.iter().map(|c| reqs::normalize(c)));
    }
    set
}

/// Loads a channel's requirement file. A missing file is empty for dev and an error otherwise.
pub fn load_reqs(ctx: &Context, channel: Channel) -> Result<Vec<Requirement>> {
    let path = ctx.ws.reqs_path(channel);
    if !path.exists() {
        if channel == Channel::Dev {
            return Ok(Vec::new());
        }
        return Err(Error::usage(format!("{} does not exist", ctx.ws.display(&path)))
            .with_help(format!("write it from the current lock: {} pin CHANNEL={channel}", ctx.program)));
    }
    reqs::load(&path)
}

pub fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub fn shell() -> Result<Shell> {
    Shell::new().map_err(command_error)
}

/// Applies the channel and runs `cargo build --release` over the workspace.
/// Features, profile and target of a build: from the command line, `CARGO_BUILD_TARGET`, and the
/// product crates' packaging tables (`features = [...]`, `profile = "..."`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// `--features` values as cargo takes them (`crate/feature` for one crate).
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    /// `None`: `--release`.
    pub profile: Option<String>,
    pub target: Option<String>,
}

impl BuildSettings {
    /// The settings of this run, for the product `members` (the crates whose tables count).
    pub fn of(ctx: &Context, members: &[&crate::targets::build_rpms::Member]) -> Result<BuildSettings> {
        let mut features: Vec<String> = ctx
            .args
            .values("features")
            .iter()
            .flat_map(|v| v.split([',', ' ']).filter(|f| !f.is_empty()).map(str::to_string).collect::<Vec<_>>())
            .collect();
        let mut table_profiles: Vec<(String, String)> = Vec::new();
        for m in members {
            let Some(table) = m.metadata.pointer("/trainyard/rpm") else { continue };
            let name = &m.info.name;
            let bad = |key: &str, what: &str| {
                Error::usage(format!("crate `{name}`: [package.metadata.trainyard.rpm] {key} must be {what}"))
                    .with_help(format!(
                        "for example: {key} = {}",
                        if key == "profile" { "\"release-lto\"" } else { "[\"tls\"]" }
                    ))
            };
            if let Some(list) = table.get("features") {
                let list = list.as_array().ok_or_else(|| bad("features", "a list of feature names"))?;
                for f in list {
                    let f = f.as_str().ok_or_else(|| bad("features", "a list of feature names"))?;
                    features.push(format!("{name}/{f}"));
                }
            }
            if let Some(profile) = table.get("profile") {
                let profile = profile.as_str().ok_or_else(|| bad("profile", "a profile name"))?;
                table_profiles.push((name.clone(), profile.to_string()));
            }
        }
        let profile = match ctx.args.value("profile") {
            Some(p) => Some(p.to_string()),
            None => {
                let mut names: Vec<&str> = table_profiles.iter().map(|(_, p)| p.as_str()).collect();
                names.sort();
                names.dedup();
                if names.len() > 1 {
                    let who: Vec<String> = table_profiles.iter().map(|(c, p)| format!("{c} asks for {p}")).collect();
                    return Err(Error::usage(format!(
                        "the packaging tables ask for different profiles: {}",
                        who.join(", ")
                    ))
                    .with_help(
                        "one build uses one profile: give the same `profile` in each table, or --profile NAME",
                    ));
                }
                names.first().map(|p| p.to_string())
            }
        };
        let target = match ctx.args.value("target") {
            Some(t) => Some(t.to_string()),
            None => std::env::var("CARGO_BUILD_TARGET").ok().filter(|t| !t.is_empty()),
        };
        for value in profile.iter().chain(target.iter()) {
            if value.starts_with('-') || value.is_empty() || value.contains(['/', '\\']) {
                return Err(Error::usage(format!("`{}` is not a profile or target name", value.escape_debug()))
                    .with_help("give a name such as release-lto or x86_64-unknown-linux-musl"));
            }
        }
        Ok(BuildSettings {
            features,
            all_features: ctx.args.flag("all-features"),
            no_default_features: ctx.args.flag("no-default-features"),
            profile,
            target,
        })
    }

    /// The profile's name (`release` unless another is chosen).
    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or("release")
    }

    /// The cargo arguments: `--release` or `--profile NAME`, the features, `--target`.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = match &self.profile {
            None => vec!["--release".to_string()],
            Some(p) => vec!["--profile".to_string(), p.clone()],
        };
        if !self.features.is_empty() {
            args.push("--features".into());
            args.push(self.features.join(","));
        }
        if self.all_features {
            args.push("--all-features".into());
        }
        if self.no_default_features {
            args.push("--no-default-features".into());
        }
        if let Some(t) = &self.target {
            args.push("--target".into());
            args.push(t.clone());
        }
        args
    }

    /// Where cargo puts the binaries: `<target-dir>[/<triple>]/<profile dir>` (`dev` builds into
    /// `debug`, `bench` into `release`, a custom profile into its own name).
    pub fn out_dir(&self, target_dir: &Utf8Path) -> Utf8PathBuf {
        let dir = match self.profile_name() {
            "dev" | "test" => "debug",
            "bench" => "release",
            other => other,
        };
        match &self.target {
            Some(t) => target_dir.join(t).join(dir),
            None => target_dir.join(dir),
        }
    }

    /// `--config profile.<profile>.strip=true`: stripped binaries with no binutils.
    pub fn strip_args(&self) -> Vec<String> {
        vec!["--config".into(), format!("profile.{}.strip=true", self.profile_name())]
    }

    /// The architecture of the binaries, as Rust names it (the target's first part, else the host's).
    pub fn arch(&self) -> &str {
        match &self.target {
            Some(t) => t.split('-').next().unwrap_or(t),
            None => std::env::consts::ARCH,
        }
    }
}

/// How a build runs beyond its channel.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Resolve the dev channel again even if nothing changed.
    pub refresh: bool,
    /// More arguments for `cargo build` (`build_rpms` strips the binaries).
    pub cargo_args: Vec<String>,
}

pub fn build(ctx: &Context, channel: Channel, options: &BuildOptions) -> Result<BuildOutcome> {
    let refresh = options.refresh;
    let ws = &ctx.ws;
    let cargo = cargo_program();
    let probe = lockfile::CargoProbe::start(&cargo);
    let requirements = load_reqs(ctx, channel)?;
    // Every build exports the computed version: `option_env!("TRAINYARD_VERSION")` in the crates.
    let version = crate::scm::version_env_for(ws, trigger_arg(ctx)?)?;
    let projects = projects::plan(ctx, channel, &requirements)?;
    let patches = projects::patch_args(&projects);
    let mut internal = internal_crates(ctx);
    for p in &projects {
        internal.insert(reqs::normalize(&p.name));
        internal.extend(p.crates.iter().map(|(c, _)| reqs::normalize(c)));
    }
    // Only the product is built, checked and recorded: never the xtask or other tools.
    let members = crate::targets::build_rpms::workspace_members(ws)?;
    let product = Product::from_members(&members);
    let sh = shell()?;
    // Cargo reads `.cargo/config.toml` from the current directory up: the workspace's own.
    sh.change_dir(&ws.root);
    let mechanism = probe.finish()?;
    // Every build resolves and builds against a lock file of its own under target/trainyard/.
    let site = LockSite::new(ws, ws.state_dir().join(resolution_key(channel, &patches)), mechanism);
    if ctx.effects.dry_run && mechanism == lockfile::Mechanism::Shadow {
        println!(
            "would link a shadow of the workspace root in {}/shadow (this cargo is older than {}.{}: no resolver.lockfile-path)",
            ws.display(&site.dir),
            lockfile::LOCKFILE_PATH_SINCE.0,
            lockfile::LOCKFILE_PATH_SINCE.1
        );
    }
    // Taken once the checks that need no resolution have passed, held to the end of the command.
    let mut guard = None;
    let mut take_guard = || -> Result<()> {
        if !ctx.effects.dry_run && guard.is_none() {
            guard = Some(lockfile::BuildLock::acquire(ws)?);
        }
        Ok(())
    };
    let target_dir = &ws.target_dir;
    let patch_list = &patches;
    let extra = &options.cargo_args;
    let selection = product.cargo_args();
    let roots: Vec<&crate::targets::build_rpms::Member> =
        members.iter().filter(|m| product.roots.contains(&m.info.name)).collect();
    let settings = BuildSettings::of(ctx, &roots)?.cargo_args();
    // `locked`: the build must not change the lock (the global `--locked` may have said so already;
    // cargo refuses the flag twice).
    let build_cmd = |site: &LockSite, locked: bool| {
        let mut at = site.cargo_args();
        if locked && !at.iter().any(|a| a == "--locked" || a == "--frozen") {
            at.push("--locked".into());
        }
        let c = cmd!(
            sh,
            "{cargo} build {settings...} {selection...} {at...} --target-dir {target_dir} {patch_list...} {extra...}"
        );
        match &version {
            Some(v) => c.env("TRAINYARD_VERSION", v),
            None => c,
        }
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
    let packages = if channel.is_pinned() && patches.is_empty() {
        // The user's lock as it is, copied once: what is checked is what is built.
        let (bytes, lock) = user_lock()?;
        // Only the product's graph is checked and recorded: never the xtask's.
        let lock = product.graph_owned(&lock);
        check_pinned(ctx, channel, &lock, &requirements, &internal)?;
        take_guard()?;
        if ctx.effects.dry_run {
            println!("would copy Cargo.lock to {} and build with it", ws.display(&site.lock));
        } else {
            site.prepare(ws, Some(&bytes))?;
        }
        ctx.effects.run(build_cmd(&site, true)).map_err(|e| shadow_hint(e, &site))?;
        lock
    } else if channel.is_pinned() {
        // Overrides change the resolution of the internal crates only; every external
        // package must still be the pinned one.
        let (bytes, before) = user_lock()?;
        let mut specs: Vec<String> = Vec::new();
        for p in projects.iter().filter(|p| p.checkout.is_some()) {
            for (krate, _) in &p.crates {
                for l in before.iter().filter(|l| reqs::normalize(&l.name) == reqs::normalize(krate)) {
                    specs.push("-p".into());
                    specs.push(format!("{}@{}", l.name, l.version));
                }
            }
        }
        if ctx.effects.dry_run {
            println!("would resolve the overrides from Cargo.lock into {}", ws.display(&site.lock));
            ctx.effects.run(build_cmd(&site, true))?;
            Vec::new()
        } else {
            // Resolved from the user's lock in a scratch site, moved into place once checked.
            take_guard()?;
            let scratch = site.scratch(ws)?;
            scratch.prepare(ws, Some(&bytes))?;
            let at = &scratch.cargo_args();
            if !specs.is_empty() {
                let specs = &specs;
                offline_first(|| cmd!(sh, "{cargo} update {at...} {specs...} {patch_list...}"))
                    .map_err(|e| shadow_hint(e.context("resolving the workspace with the overrides"), &scratch))?;
            }
            offline_first(|| cmd!(sh, "{cargo} metadata --format-version 1 {at...} {patch_list...}"))
                .map_err(|e| shadow_hint(e.context("resolving the workspace with the overrides"), &scratch))?;
            let lock = product.graph_owned(&lockfile::read(&scratch.lock)?);
            projects::check_patched(&projects, &lock)?;
            check_pinned(ctx, channel, &lock, &requirements, &internal)?;
            site.prepare(ws, None)?;
            site.adopt(&scratch)?;
            ctx.effects.run(build_cmd(&site, true)).map_err(|e| shadow_hint(e, &site))?;
            lock
        }
    } else {
        take_guard()?;
        let fingerprint = dev_fingerprint(ctx, &requirements, &patches)?;
        let stamp = site.dir.join("fingerprint");
        let fresh = !refresh && site.lock.exists() && is_fresh(&stamp, &fingerprint);
        if ctx.effects.dry_run {
            if !fresh {
                println!("would resolve the newest versions into {}", ws.display(&site.lock));
                let at = site.cargo_args();
                ctx.effects.run(cmd!(sh, "{cargo} update {at...} {patch_list...}"))?;
                println!(
                    "would pin the == lines of {} with cargo update --precise",
                    ws.display(&ws.reqs_path(channel))
                );
            }
            ctx.effects.run(build_cmd(&site, false))?;
            Vec::new()
        } else {
            if !fresh {
                // The stamp goes first: a run killed before the new one is written resolves again.
                let _ = std::fs::remove_file(&stamp);
                let scratch = site.scratch(ws)?;
                let seed = std::fs::read(ws.lock_path()).ok();
                scratch.prepare(ws, seed.as_deref())?;
                resolve_dev(ctx, &scratch, &product, &requirements, &internal, &patches)
                    .map_err(|e| shadow_hint(e, &scratch))?;
                site.prepare(ws, None)?;
                site.adopt(&scratch)?;
            } else {
                site.prepare(ws, None)?;
            }
            ctx.effects.run(build_cmd(&site, false)).map_err(|e| shadow_hint(e, &site))?;
            let packages = product.graph_owned(&lockfile::read(&site.lock)?);
            projects::check_patched(&projects, &packages)?;
            if !fresh {
                exec::write_atomic(&stamp, fingerprint.as_bytes())?;
            }
            packages
        }
    };
    let lock_file = site.lock.clone();
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
        lock_file,
        internal: projects::records(&projects, &packages),
        packages,
    };
    let path = ws.state_dir().join(format!("build-{channel}.json"));
    if ctx.effects.dry_run {
        println!("would write: {}", ws.display(&path));
        return Ok(BuildOutcome { manifest, patches, manifest_path: None, site, _guard: guard });
    }
    write_if_changed(&path, &serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))?;
    Ok(BuildOutcome { manifest, patches, manifest_path: Some(path), site, _guard: guard })
}

/// Runs a resolving cargo command `--offline` first, then online if that fails.
///
/// A pinned channel moves only the overridden crates to their checkouts: everything else is
/// locked, and cargo's own git database already holds the git dependencies `Cargo.toml` names
/// (cargo fetched them when the lock was made). Offline, a build against a cached tag works with
/// the project's remote gone; online is needed only when something is missing locally.
fn offline_first<'a>(command: impl Fn() -> xshell::Cmd<'a>) -> Result<String> {
    match exec::output(command().arg("--offline"))? {
        (true, out, _) => Ok(out.trim_end().to_string()),
        (false, _, _) => {
            // Online: cargo reaches the registry or a git dependency.
            let out = crate::bounded::network(command().into(), "cargo, resolving online")?;
            if !out.success() {
                return Err(Error::failed(format!("cargo failed:\n{}", crate::redact::text(out.stderr.trim_end()))));
            }
            Ok(out.stdout.trim_end().to_string())
        }
    }
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

/// Updates the lock of `site` to the newest compatible versions, then applies the
/// `==` lines of the dev file and checks its other specifiers.
fn resolve_dev(
    ctx: &Context,
    site: &LockSite,
    product: &Product,
    requirements: &[Requirement],
    internal: &BTreeSet<String>,
    patches: &[String],
) -> Result<()> {
    let sh = shell()?;
    sh.change_dir(&ctx.ws.root);
    let cargo = cargo_program();
    let at = &site.cargo_args();
    if let Err(err) = ctx.effects.run_network(cmd!(sh, "{cargo} update {at...} {patches...}"), "cargo update") {
        // A remote out of reach (an internal project's git dependency, the registry): resolve
        // from what cargo has cached, and say so; a failure offline too is the real error.
        ctx.effects
            .say("cargo update failed online; resolving offline (the newest versions cargo's cache holds)".to_string());
        ctx.effects.run(cmd!(sh, "{cargo} update --offline {at...} {patches...}")).map_err(|_| err)?;
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
                ctx.effects
                    .run_network(
                        cmd!(sh, "{cargo} update {at...} -p {spec} --precise {pinned} {patches...}"),
                        "cargo update --precise",
                    )
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
fn dev_fingerprint(ctx: &Context, requirements: &[Requirement], patches: &[String]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for p in patches {
        hash.update(p.as_bytes());
        hash.update([0]);
    }
    let mut files: Vec<Utf8PathBuf> = vec![ctx.ws.lock_path(), ctx.ws.manifest.clone()];
    files.extend(member_manifests(&ctx.ws.root)?);
    files.extend(requirements.iter().map(|r| r.file.clone()));
    files.sort();
    files.dedup();
    for f in files {
        hash.update(f.as_str().as_bytes());
        hash.update(std::fs::read(&f).unwrap_or_default());
    }
    Ok(format!("{:x}", hash.finalize()))
}

/// Every `Cargo.toml` below the root, outside `target/` and hidden directories (regular files).
fn member_manifests(root: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let Ok(path) = Utf8PathBuf::from_path_buf(entry.path()) else { continue };
            let name = path.file_name().unwrap_or("");
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
            } else if name == "Cargo.toml" && entry.file_type().is_ok_and(|t| t.is_file()) {
                // Regular files only: reading a FIFO named Cargo.toml would wait forever.
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn is_fresh(stamp: &Utf8Path, fingerprint: &str) -> bool {
    let Ok(meta) = std::fs::metadata(stamp) else { return false };
    let young =
        meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age.as_secs() < DEV_RESOLUTION_TTL_SECS);
    young && std::fs::read_to_string(stamp).is_ok_and(|s| s == fingerprint)
}

/// Writes only when the content differs, so a no-op build leaves files (and mtimes) alone.
pub fn write_if_changed(path: &Utf8Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    exec::write_atomic(path, bytes)?;
    Ok(true)
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
