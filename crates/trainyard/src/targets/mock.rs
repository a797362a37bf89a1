//! `mock [RPM_CHANNEL=prod] [--backend sandbox|mock]`: the Makefile's `mock` target. Builds the
//! RPM collection (as `build_rpms`), installs the workspace's packages into a clean root with
//! a real resolver, and runs each package's smoke command there; ends with a report.
//!
//! The backend's preflight runs first: a host that cannot run it is told which backend and
//! why before anything is built.

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

use crate::cli::{Args, FlagSpec, TargetSpec, VarSpec};
use crate::collection_manifest::Kind;
use crate::error::{io, Error, Result};
use crate::exec;
use crate::members::workspace_members;
use crate::plan::{self, Action};
use crate::rpmpkg::{assets, FileKind};
use crate::sandbox::mock::{self as mock_backend, Asset, MockPackage, MockPlan};
use crate::sandbox::{self, Backend, InstallTest, Report, Smoke, SmokeResult};
use crate::targets::build_rpms::{self, Collection};
use crate::targets::options::{self, CollectionArgs};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "mock",
    summary: "install the RPM collection into a clean root with dnf and run each package's smoke command",
    usage: "[RPM_CHANNEL=dev|stage|prod] [PROJECT=ref ...] [--backend sandbox|mock] [--keep-root] \
            [--out DIR] [--no-deps] [--package CRATE] [--mock-config CFG] [--trigger push|tag|auto] [--dry-run]",
    about: "Builds the collection as build_rpms does (same variables and options), then proves that its\n\
            packages install and start on a clean system:\n\
            \n\
            sandbox backend (the default where Fedora's mock is absent; needs root, rpm, dnf,\n\
            createrepo_c, bubblewrap): a repository of every RPM of the collection; a fresh root whose\n\
            /usr is an overlay of the host's, mounted only in private mount namespaces; a package\n\
            standing for the host's C library, loader and /bin/sh; `dnf --installroot` installs the\n\
            workspace's packages, so every Requires must be met by the collection or that base;\n\
            dnf, rpm and every scriptlet run inside the root, entered by bubblewrap with pivot_root\n\
            in new PID, network, IPC and UTS namespaces with few capabilities; a failed scriptlet,\n\
            or a process one leaves running, fails the run; `rpm -V`; then each package's smoke\n\
            command (default `BIN --version`, which must print the computed version) under\n\
            `bwrap --unshare-all`: no network, no build tree, no home directory. The root is\n\
            removed unless --keep-root.\n\
            \n\
            mock backend (the default where Fedora's mock is installed): a source RPM per workspace\n\
            package (spec, workspace sources, vendored crates), `mock --rebuild` with --mock-config,\n\
            `mock --install` of the results and the internal projects' RPMs, smoke commands with\n\
            `mock --chroot`.\n\
            \n\
            Preflight runs before anything is built. Exit codes: 0 every package installed and every\n\
            smoke command passed; 1 a package failed (unmet Requires, a failed scriptlet, rpm -V, a\n\
            smoke command); 2 bad input, or the host cannot run the backend (not root, no user\n\
            namespaces, no overlay, bubblewrap refused, unknown mock configuration); 3 a tool the\n\
            backend needs is missing (the message names the package to install).",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "dev, stage or prod (default prod)" }],
    flags: &FLAGS,
    takes_projects: true,
    max_positional: 0,
    passthrough: false,
};

/// The collection's flags (as `build_rpms`), then the install test's own.
const FLAGS: [FlagSpec; 16] = options::collection_flags_and([
    FlagSpec {
        name: "backend",
        value: Some("NAME"),
        help: "sandbox or mock (default: mock where Fedora's mock is installed, else sandbox)",
        var: None,
    },
    FlagSpec {
        name: "keep-root",
        value: None,
        help: "keep the installed root for inspection (the report says how to enter it)",
        var: None,
    },
    FlagSpec {
        name: "mock-config",
        value: Some("CFG"),
        help: "mock backend: mock's configuration, a name or a .cfg file (default: default)",
        var: None,
    },
    FlagSpec {
        name: "smoke-timeout",
        value: Some("SECS"),
        help: "a smoke command still running after this is killed and fails (default 60)",
        var: None,
    },
]);

/// Mock's own configuration when none is named: `/etc/mock/default.cfg`.
const DEFAULT_MOCK_CONFIG: &str = "default";

/// `mock`'s arguments, parsed once.
#[derive(Debug, Clone)]
pub struct MockArgs {
    pub collection: CollectionArgs,
    /// `--backend`, or what the host has.
    pub backend: Backend,
    pub keep_root: bool,
    pub mock_config: String,
    pub smoke_timeout: Duration,
}

impl MockArgs {
    pub fn parse(args: &Args) -> Result<MockArgs> {
        let requested = match args.value("backend") {
            Some(name) => Some(name.parse::<Backend>()?),
            None => None,
        };
        Ok(MockArgs {
            backend: Backend::choose(requested),
            smoke_timeout: smoke_timeout(args)?,
            keep_root: args.flag("keep-root"),
            mock_config: args.value("mock-config").unwrap_or(DEFAULT_MOCK_CONFIG).to_string(),
            collection: CollectionArgs::parse(args)?,
        })
    }
}

/// Checks that the chosen backend can run here, before anything is built (the release
/// path calls this before its first step).
pub fn preflight(ctx: &Context) -> Result<Backend> {
    let args = MockArgs::parse(&ctx.args)?;
    check_backend(ctx, &args)?;
    Ok(args.backend)
}

fn check_backend(ctx: &Context, args: &MockArgs) -> Result<()> {
    match args.backend {
        Backend::Sandbox => sandbox::preflight(&ctx.ws.state_dir().join("sandbox")).map(|_| ()),
        Backend::Mock => mock_backend::preflight(&args.mock_config),
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let args = MockArgs::parse(&ctx.args)?;
    let smoke_timeout = args.smoke_timeout;
    // Read before anything is built: a bad value is refused at once.
    let limits = sandbox::Limits::from_env()?;
    let work_dir = ctx.ws.state_dir().join("sandbox");
    let mock_config = args.mock_config.clone();

    // Preflight: before anything is built. Whether the backend can run here comes first: it
    // needs nothing else (not even a cargo this user may run).
    check_backend(ctx, &args)?;
    crate::toolchain::check(&ctx.ws)?;
    let backend = args.backend;
    ctx.effects.say(format!("{backend} backend: preflight passed"));

    let started = Instant::now();
    let build_rpms::Planned { mut plan, rest } = build_rpms::plan(ctx, &args.collection)?;
    // The sandbox's install test is one action after the collection's stages; what it installs
    // is read from the collection once written. The mock backend's part is planned then.
    let session = match backend {
        Backend::Sandbox => {
            let out = build_rpms::out_dir(ctx, &args.collection)?.path;
            let session = sandbox::Session::of_collection(&out, &work_dir, args.keep_root);
            plan.push(Action::Sandbox(Box::new(session.clone())));
            Some(session)
        }
        Backend::Mock => {
            plan.later(format!(
                "install the collection into a clean root and run the smoke commands ({backend} backend)"
            ));
            None
        }
    };
    let mut written = None;
    let mut build = Duration::ZERO;
    let executed = ctx.effects.execute_then(&plan, || {
        let collection = rest.run(ctx, &args.collection)?;
        build = started.elapsed();
        let smoke: Vec<Smoke> = collection
            .smoke
            .iter()
            .map(|s| Smoke { package: s.package.clone(), command: s.command.clone(), expect_output: s.expect.clone() })
            .collect();
        if let Some(session) = &session {
            let mut test = InstallTest::new(&work_dir);
            test.repo_rpms = collection.manifest.packages.iter().map(|p| collection.out_dir.join(&p.file)).collect();
            test.install = collection.workspace_packages.clone();
            test.smoke = smoke.clone();
            test.keep_root = args.keep_root;
            test.smoke_timeout = smoke_timeout;
            test.limits = limits;
            session.provide(test);
        }
        let m = &collection.manifest;
        written = Some(format!("{backend} backend, {} {} for {}:", m.workspace, m.version, m.channel));
        Ok((collection, smoke))
    });
    // A dry-run printed the plan; a run that failed before the collection was written has no report.
    let Some(header) = written else {
        return executed.map(|_| ());
    };
    let (mut report, result) = match (session, executed) {
        (Some(session), executed) => (session.report(), executed.map(|_| ())),
        (None, Err(e)) => return Err(e),
        (None, Ok(None)) => return Ok(()),
        (None, Ok(Some((collection, smoke)))) => {
            let mut report = Report::default();
            let mock_started = Instant::now();
            let result = run_mock(ctx, &args, &collection, &mock_config, &smoke, smoke_timeout, &mut report);
            report.timings.total = mock_started.elapsed();
            (report, result)
        }
    };
    report.timings.build = build;
    report.timings.total += build;
    println!("{header}");
    print!("{}", report.render());
    result.map_err(|e| e.context(format!("mock ({backend} backend)")))
}

fn smoke_timeout(args: &Args) -> Result<Duration> {
    match args.value("smoke-timeout") {
        None => Ok(Duration::from_secs(60)),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(Error::usage(format!("--smoke-timeout {v}: not a number of seconds"))
                .with_help("give a whole number of seconds, such as --smoke-timeout 120")),
        },
    }
}

// ---------------------------------------------------------------- the mock backend

/// Source RPMs, `mock --rebuild`, `mock --install`, smoke commands with `mock --chroot`.
fn run_mock(
    ctx: &Context,
    args: &MockArgs,
    collection: &Collection,
    config: &str,
    smoke: &[Smoke],
    smoke_timeout: Duration,
    report: &mut Report,
) -> Result<()> {
    let fx = &ctx.effects;
    let dir = ctx.ws.state_dir().join("mock");
    let sources = dir.join("sources");
    let result_dir = dir.join("result");
    let packages = mock_packages(ctx, args, collection)?;
    if packages.is_empty() {
        return Err(Error::usage("nothing to build with mock: the collection has no workspace package"));
    }

    let phase = crate::ui::Phase::start("mock: vendoring and writing source RPMs");
    let vendor_dir = dir.join("vendor");
    fx.apply(&Action::RemoveDir(vendor_dir.clone()))?;
    let printed = mock_backend::vendor(fx, &ctx.ws.manifest, &vendor_dir)?.unwrap_or_default();
    // cargo prints the vendor directory as given; in the source RPM it is `vendor/` of the tree.
    let vendor_config = printed.replace(&format!("\"{vendor_dir}\""), "\"vendor\"");
    let vendored = vendor_dir.is_dir();
    let mut plans: Vec<(MockPlan, Utf8PathBuf)> = Vec::new();
    for pkg in &packages {
        let plan = mock_backend::mock_plan(pkg, config, &result_dir)?;
        let srpm =
            plan.write_srpm(fx, &ctx.ws.root, vendored.then_some(vendor_dir.as_path()), &vendor_config, &sources)?;
        plans.push((plan, srpm));
    }
    report.timings.sources = phase.elapsed();

    let phase = crate::ui::Phase::start("mock: building and installing in its chroot");
    let first = &plans[0].0;
    fx.apply(&Action::RemoveDir(result_dir.clone()))?;
    run_argv(fx, &first.init_command(), "mock could not create its chroot")?;
    for (plan, srpm) in &plans {
        run_argv(fx, &plan.rebuild_command(srpm), &format!("mock could not rebuild {}", plan.srpm))
            .map_err(|e| e.with_help(format!("mock's build log is in {}/build.log", result_dir)))?;
    }
    let mut rpms = built_rpms(&result_dir)?;
    rpms.extend(
        collection
            .manifest
            .packages
            .iter()
            .filter(|p| p.kind == Kind::Internal)
            .map(|p| collection.out_dir.join(&p.file)),
    );
    run_argv(fx, &first.install_command(&rpms), "mock could not install the packages into its chroot")?;
    report.installed =
        rpms.iter().filter_map(|p| p.file_name()).map(|n| n.trim_end_matches(".rpm").to_string()).collect();
    report.timings.install = phase.elapsed();

    let phase = crate::ui::Phase::start("mock: running the smoke commands");
    for s in smoke {
        let argv = first.smoke_command(s);
        report.smokes.push(mock_smoke(s, &argv, smoke_timeout)?);
    }
    report.timings.smoke = phase.elapsed();
    let verdict = sandbox::smoke_verdict(&report.smokes);
    if !args.keep_root {
        run_argv(fx, &first.clean_command(), "mock could not remove its chroot")?;
    }
    verdict
}

/// What mock should build for each workspace package of the collection, from the same
/// packaging tables `build_rpms` read.
fn mock_packages(ctx: &Context, args: &MockArgs, collection: &Collection) -> Result<Vec<MockPackage>> {
    let ws = &ctx.ws;
    let release_dir = ws.target_dir.join("release");
    let arch = assets::rpm_arch(std::env::consts::ARCH);
    let internal: Vec<&str> =
        collection.manifest.packages.iter().filter(|p| p.kind == Kind::Internal).map(|p| p.name.as_str()).collect();
    let build_version = crate::scm::describe(ws, args.collection.build.trigger)?.semver();
    let mut out = Vec::new();
    let members = workspace_members(ws)?;
    let variants = build_rpms::variants(&args.collection.variants, &members.iter().collect::<Vec<_>>())?;
    for member in members {
        let read = assets::from_metadata_with_variants(&member.info, &member.metadata, &release_dir, arch, &variants);
        let Some(crate_pkg) = read? else {
            continue;
        };
        let pkg = &crate_pkg.package;
        if !collection.workspace_packages.contains(&pkg.name) {
            continue;
        }
        let mut binaries = Vec::new();
        let mut package_assets = Vec::new();
        for f in &pkg.files {
            if f.kind == FileKind::Dir {
                continue;
            }
            let file_name = f.source.file_name().unwrap_or_default();
            let built = f.source.starts_with(&release_dir);
            if built && f.kind == FileKind::Binary && f.dest == format!("/usr/bin/{file_name}") {
                binaries.push(file_name.to_string());
                continue;
            }
            let source = if built {
                Utf8Path::new("target/release").join(file_name)
            } else {
                f.source.strip_prefix(&ws.root).map(Utf8Path::to_path_buf).map_err(|_| {
                    Error::usage(format!(
                        "crate `{}`: asset {} is outside the workspace; the mock backend ships the workspace only",
                        member.info.name, f.source
                    ))
                })?
            };
            package_assets.push(Asset { source: source.to_string(), dest: f.dest.clone(), mode: u32::from(f.mode) });
        }
        // Requires the table declares, plus those on internal projects' packages build_rpms added.
        let mut requires: Vec<String> = pkg.requires.iter().map(|d| d.to_string()).collect();
        if let Some(entry) = collection.manifest.packages.iter().find(|p| p.name == pkg.name) {
            for r in &entry.requires {
                let name = r.split_whitespace().next().unwrap_or("");
                if internal.contains(&name) && !requires.contains(r) {
                    requires.push(r.clone());
                }
            }
        }
        out.push(MockPackage {
            name: pkg.name.clone(),
            version: collection.manifest.version.clone(),
            release: ws.config.rpm.release.clone().unwrap_or_else(|| "1".into()),
            summary: pkg.summary.clone(),
            license: pkg.license.clone(),
            cargo_package: member.info.name.clone(),
            binaries,
            assets: package_assets,
            requires,
            build_version: Some(build_version.clone()),
        });
    }
    Ok(out)
}

/// Binary RPMs mock left in its result directory.
fn built_rpms(result_dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let mut rpms = Vec::new();
    for entry in result_dir.read_dir_utf8().map_err(io(result_dir))? {
        let entry = entry.map_err(io(result_dir))?;
        let name = entry.file_name();
        if name.ends_with(".rpm") && !name.ends_with(".src.rpm") {
            rpms.push(entry.path().to_path_buf());
        }
    }
    rpms.sort();
    if rpms.is_empty() {
        return Err(Error::failed(format!("mock left no binary RPM in {result_dir}")));
    }
    Ok(rpms)
}

fn run_argv(fx: &exec::Effects, argv: &[String], what: &str) -> Result<()> {
    let cmd = plan::Command::program(&argv[0]).args(argv[1..].iter().cloned());
    fx.apply(&Action::Run(cmd)).map_err(|e| e.context(what))
}

fn mock_smoke(smoke: &Smoke, argv: &[String], timeout: Duration) -> Result<SmokeResult> {
    let sh = xshell::Shell::new().map_err(exec::command_error)?;
    eprintln!("$ {}", sandbox::shell_words(argv));
    let started = Instant::now();
    let secs = timeout.as_secs().max(1).to_string();
    let out = sh
        .cmd("timeout")
        .args(["--kill-after=5", &secs])
        .args(argv)
        .quiet()
        .ignore_status()
        .output()
        .map_err(exec::command_error)?;
    let output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let expected = smoke.expect_output.as_deref().is_none_or(|want| output.contains(want));
    Ok(SmokeResult {
        package: smoke.package.clone(),
        command: smoke.command.clone(),
        ok: out.status.success() && expected,
        output,
        duration: started.elapsed(),
        status: out.status.code(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `collect` reads build_rpms' variables and options from the arguments: `mock` must
    /// accept every one of them, or `mock --no-deps` would be refused.
    #[test]
    fn accepts_everything_build_rpms_reads() {
        for flag in build_rpms::SPEC.flags {
            assert!(
                SPEC.flags
                    .iter()
                    .any(|f| f.name == flag.name && f.value.is_some() == flag.value.is_some() && f.var == flag.var),
                "mock lacks --{}",
                flag.name
            );
        }
        for var in build_rpms::SPEC.vars {
            assert!(SPEC.vars.iter().any(|v| v.name == var.name), "mock lacks {}", var.name);
        }
        const { assert!(SPEC.takes_projects) };
    }

    #[test]
    fn about_documents_every_exit_code() {
        for code in ["0 ", "1 ", "2 ", "3 "] {
            assert!(SPEC.about.contains(code), "{code}");
        }
    }
}
