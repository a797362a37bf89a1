//! `tests`: the workspace's test suite, with a JUnit report CI systems read.
//!
//! Before the suite runs, what it needs (`[workspace.metadata.trainyard.tests] needs`) is
//! checked: as root with apt-get, what is missing is installed; otherwise the run stops
//! before starting anything, naming each missing tool, its package and the command that
//! installs them. A test needing an absent tool is never counted as passed.

use std::collections::BTreeMap;
use std::ffi::OsStr;

use camino::Utf8PathBuf;

use crate::cargo::Invocation;
use crate::cli::{TargetSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::exec;
use crate::plan::{Action, Command, Plan};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "tests",
    summary: "run the test suite (cargo nextest with a JUnit report, else cargo test)",
    usage: "[--dry-run] [-- ARGS...]",
    about: "With cargo-nextest installed: `cargo nextest run --workspace` with a JUnit XML report at\n\
            target/nextest/trainyard/junit.xml. Without it: `cargo test --workspace`, with a notice.\n\
            Words after `--` go to the test runner. The exit code is the test run's.\n\
            First, the tools [workspace.metadata.trainyard.tests] needs are checked: as root with\n\
            apt-get, missing ones are installed (the command is printed); otherwise, or with\n\
            TRAINYARD_NO_INSTALL=1, the run stops (exit 3) naming each tool and its package.\n\
            With CI=true, `cargo fmt --all --check` and `cargo clippy --workspace --all-targets\n\
            -- -D warnings` run first; if either fails, no test runs (exit 1).",
    vars: &[],
    flags: &[DRY_RUN],
    takes_projects: false,
    max_positional: 0,
    passthrough: true,
};

/// nextest profile trainyard defines in its tool configuration.
const PROFILE: &str = "trainyard";

const NEXTEST_TOOL_CONFIG: &str = r#"# Written by trainyard: the profile `cargo xtask tests` runs.
[profile."trainyard"]
fail-fast = false
failure-output = "immediate-final"

[profile."trainyard".junit]
path = "junit.xml"
"#;

/// Where the JUnit report lands (nextest puts it under `target/nextest/<profile>/`).
pub fn junit_path(ctx: &Context) -> Utf8PathBuf {
    ctx.ws.target_dir.join("nextest").join("trainyard").join("junit.xml")
}

fn has_nextest() -> bool {
    exec::read_command(&Invocation::new("nextest").arg("--version").command()).is_ok()
}

/// Set (to anything but `0` or empty) to forbid `tests` from installing what the suite needs.
pub const NO_INSTALL_ENV: &str = "TRAINYARD_NO_INSTALL";

/// One thing the suite needs, and the Debian package that provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// A command on PATH (`rpm`), or `python3:packaging` for a Python module.
    pub name: String,
    pub package: String,
}

impl Need {
    fn present(&self, path: &OsStr) -> Result<bool> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let find = |program: &str| which::which_in(program, Some(path), &cwd).ok();
        match self.name.split_once(':') {
            None => Ok(find(&self.name).is_some()),
            Some((python, module)) => {
                if module.is_empty() || !module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    return Err(Error::usage(format!("`{}` in tests.needs is not `PYTHON:MODULE`", self.name))
                        .with_help(
                            "write a command name (`rpm`) or an interpreter and a module (`python3:packaging`)",
                        ));
                }
                let Some(python) = find(python) else { return Ok(false) };
                let import = Command::program(python.to_string_lossy())
                    .args(["-c", &format!("import {module}")])
                    .env("PATH", path.to_string_lossy());
                Ok(exec::read_command(&import).is_ok())
            }
        }
    }
}

/// What of `needs` is absent with this `PATH`.
pub fn missing(needs: &BTreeMap<String, String>, path: &OsStr) -> Result<Vec<Need>> {
    let mut out = Vec::new();
    for (name, package) in needs {
        let need = Need { name: name.clone(), package: package.clone() };
        if !need.present(path)? {
            out.push(need);
        }
    }
    Ok(out)
}

/// The Debian packages of `missing`, each once, in order.
fn packages(missing: &[Need]) -> Vec<String> {
    let mut out: Vec<String> = missing.iter().map(|n| n.package.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// Whether this process may install packages: root, apt-get on PATH, not forbidden.
fn may_install(path: &OsStr, forbidden: bool) -> bool {
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    !forbidden && crate::access::effective_uid() == Some(0) && which::which_in("apt-get", Some(path), &cwd).is_ok()
}

/// The error that stops the run: each missing tool, its package, the commands that install them.
pub fn missing_error(missing: &[Need], toolchains: &[(String, String)], root: bool, program: &str) -> Error {
    let mut rows: Vec<(String, String)> =
        missing.iter().map(|n| (n.name.clone(), format!("Debian package {}", n.package))).collect();
    rows.extend(toolchains.iter().map(|(t, r)| (format!("cargo {r}"), format!("rustup toolchain {t}"))));
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut message = String::from("the test suite needs what is not installed; no test was run:");
    for (name, from) in &rows {
        message.push_str(&format!("\n  {name:<width$}  ({from})"));
    }
    let mut commands = Vec::new();
    if !missing.is_empty() {
        let sudo = if root { "" } else { "sudo " };
        commands.push(format!("{sudo}apt-get install -y {}", packages(missing).join(" ")));
    }
    if !toolchains.is_empty() {
        let names: Vec<&str> = toolchains.iter().map(|(t, _)| t.as_str()).collect();
        commands.push(format!("rustup toolchain install --profile minimal {}", names.join(" ")));
    }
    Error::new(crate::error::Kind::MissingTool, message).with_help(format!(
        "install them: {}\n(`{program} tests` installs them itself, apt-get packages as root, unless {NO_INSTALL_ENV}=1)",
        commands.join(" && ")
    ))
}

/// The (major, minor) of every cargo of this machine: `$CARGO`, PATH's, each rustup toolchain's.
fn cargo_versions(path: &OsStr) -> Vec<(u64, u64)> {
    let path = path.to_string_lossy();
    // Probes: a cargo or rustup that is absent or fails stands in for nothing.
    let read = |program: &str, args: &[&str]| {
        exec::read_command(&Command::program(program).args(args.iter().copied()).env("PATH", path.as_ref())).ok()
    };
    let version = |cargo: &str| -> Option<(u64, u64)> {
        let (major, minor, _) = crate::lockfile::parse_cargo_version(&read(cargo, &["-V"])?)?;
        Some((major, minor))
    };
    let mut cargos: Vec<String> = vec![crate::cargo::program(), "cargo".into()];
    let rustup = |args: &[&str]| read("rustup", args);
    for line in rustup(&["toolchain", "list"]).unwrap_or_default().lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        if let Some(cargo) = rustup(&["which", "--toolchain", name, "cargo"]) {
            cargos.push(cargo.trim().into());
        }
    }
    cargos.iter().filter_map(|c| version(c)).collect()
}

/// Whether (major, minor) meets `>=X.Y` or `<X.Y`.
fn meets(version: (u64, u64), requirement: &str) -> Result<bool> {
    let parse = |text: &str| -> Option<(u64, u64)> {
        let (major, minor) = text.trim().split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let bad = || {
        Error::usage(format!("`{requirement}` in tests.toolchains is not `>=X.Y` or `<X.Y`"))
            .with_help("for example: nightly = \">=1.97\"")
    };
    if let Some(v) = requirement.strip_prefix(">=") {
        Ok(version >= parse(v).ok_or_else(bad)?)
    } else if let Some(v) = requirement.strip_prefix('<') {
        Ok(version < parse(v).ok_or_else(bad)?)
    } else {
        Err(bad())
    }
}

/// The toolchains of `[tests] toolchains` no cargo of this machine stands in for.
fn missing_toolchains(ctx: &Context, path: &OsStr) -> Result<Vec<(String, String)>> {
    let wanted = &ctx.ws.config.tests.toolchains;
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let versions = cargo_versions(path);
    let mut out = Vec::new();
    for (toolchain, requirement) in wanted {
        let mut met = false;
        for v in &versions {
            met |= meets(*v, requirement)?;
        }
        if !met {
            out.push((toolchain.clone(), requirement.clone()));
        }
    }
    Ok(out)
}

/// Checks what the suite needs and installs it when permitted; see the module docs.
pub fn preflight(ctx: &Context, path: &OsStr, forbidden: bool) -> Result<()> {
    let needs = &ctx.ws.config.tests.needs;
    let absent = missing(needs, path)?;
    let chains = missing_toolchains(ctx, path)?;
    if absent.is_empty() && chains.is_empty() {
        return Ok(());
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let apt = absent.is_empty() || may_install(path, forbidden);
    let rustup = chains.is_empty() || (!forbidden && which::which_in("rustup", Some(path), &cwd).is_ok());
    let root = crate::access::effective_uid() == Some(0);
    if !apt || !rustup {
        return Err(missing_error(&absent, &chains, root, &ctx.program));
    }
    let plan = install_plan(&absent, &chains);
    // The user is told what is done to their system, whatever the verbosity.
    let commands: Vec<String> =
        plan.actions.iter().filter(|a| !matches!(a, Action::Later(_))).map(|a| a.to_string()).collect();
    ctx.effects.result(format_args!("the test suite needs what is not installed; {}", commands.join("; ")));
    ctx.effects
        .execute_then(&plan, || {
            let (still, chains) = (missing(needs, path)?, missing_toolchains(ctx, path)?);
            if still.is_empty() && chains.is_empty() {
                Ok(())
            } else {
                Err(missing_error(&still, &chains, root, &ctx.program).context("after installing"))
            }
        })
        .map(|_| ())
}

/// What installs the missing packages (apt-get) and toolchains (rustup), then the check that
/// they are found, made when they are installed.
fn install_plan(absent: &[Need], chains: &[(String, String)]) -> Plan {
    let mut plan = Plan::new();
    let apt =
        |args: &[&str]| Command::program("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(args.iter().copied());
    if !absent.is_empty() {
        plan.run(apt(&["update", "-qq"]));
        plan.run(apt(&["install", "-y", "-qq"]).args(packages(absent)));
    }
    if !chains.is_empty() {
        plan.run(
            Command::program("rustup")
                .args(["toolchain", "install", "--profile", "minimal"])
                .args(chains.iter().map(|(t, _)| t.clone())),
        );
    }
    plan.later("check again that what the test suite needs is found");
    plan
}

pub fn run(ctx: &Context) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let forbidden = std::env::var(NO_INSTALL_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    crate::toolchain::check(&ctx.ws)?;
    preflight(ctx, &path, forbidden)?;
    let manifest = &ctx.ws.manifest;
    let extra = ctx.args.passthrough.iter().cloned();
    if in_ci() {
        ci_checks(ctx, manifest)?;
    }
    let status = if has_nextest() {
        let config = ctx.ws.state_dir().join("nextest.toml");
        let mut plan = Plan::new();
        plan.write(&config, NEXTEST_TOOL_CONFIG.as_bytes().to_vec());
        ctx.effects.execute(&plan)?;
        let c = Invocation::new("nextest")
            .args(["run", "--workspace"])
            .manifest_path(manifest)
            .args(["--tool-config-file".to_string(), format!("trainyard:{config}"), "--profile".into(), PROFILE.into()])
            .args(extra);
        ctx.effects.say(format!("JUnit report: {}", ctx.ws.display(&junit_path(ctx))));
        ctx.effects.run_status(&c.command())?
    } else {
        eprintln!("trainyard: cargo-nextest is not installed; running `cargo test` (no JUnit report). Install it with: cargo install cargo-nextest");
        ctx.effects
            .run_status(&Invocation::new("test").arg("--workspace").manifest_path(manifest).args(extra).command())?
    };
    match status {
        0 => Ok(()),
        code => Err(Error::quiet(crate::error::Kind::Failed, u8::try_from(code).unwrap_or(1))),
    }
}

/// Whether this is a CI run: `CI` set to anything but empty or `false`.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// In CI, `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings` on the workspace
/// of `manifest`, before any test: the first that fails stops the run (exit 1) and no test runs.
pub fn ci_checks(ctx: &Context, manifest: &camino::Utf8Path) -> Result<()> {
    let checks = [
        (
            Invocation::new("fmt").args(["--all", "--check"]).manifest_path(manifest),
            "the workspace is not formatted",
            "run `cargo fmt --all` and commit the result",
        ),
        (
            Invocation::new("clippy")
                .args(["--workspace", "--all-targets"])
                .manifest_path(manifest)
                .args(["--", "-D", "warnings"]),
            "clippy warns about the workspace",
            "fix the warnings above (`cargo clippy --workspace --all-targets` shows them)",
        ),
    ];
    for (c, failure, help) in checks {
        if ctx.effects.run_status(&c.command())? != 0 {
            return Err(Error::failed(format!("CI: {failure}; no test was run")).with_help(help));
        }
    }
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn cargo_version_requirements() {
        assert!(meets((1, 97), ">=1.97").unwrap());
        assert!(!meets((1, 96), ">=1.97").unwrap());
        assert!(meets((1, 95), "<1.97").unwrap());
        assert!(!meets((2, 0), "<1.97").unwrap());
        assert_eq!(meets((1, 95), "~1.95").unwrap_err().exit_code(), 2);
        assert_eq!(meets((1, 95), ">=1").unwrap_err().exit_code(), 2);
    }
}
