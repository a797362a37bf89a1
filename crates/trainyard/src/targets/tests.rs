//! `tests`: the workspace's test suite, with a JUnit report CI systems read.

use camino::Utf8PathBuf;
use xshell::cmd;

use crate::cli::{TargetSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::exec;
use crate::targets::build::{cargo_program, shell};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "tests",
    summary: "run the test suite (cargo nextest with a JUnit report, else cargo test)",
    usage: "[--dry-run] [-- ARGS...]",
    about: "With cargo-nextest installed: `cargo nextest run --workspace` with a JUnit XML report at\n\
            target/nextest/trainyard/junit.xml. Without it: `cargo test --workspace`, with a notice.\n\
            Words after `--` go to the test runner. The exit code is the test run's.",
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
    let sh = match shell() {
        Ok(sh) => sh,
        Err(_) => return false,
    };
    let cargo = cargo_program();
    exec::output(cmd!(sh, "{cargo} nextest --version")).is_ok_and(|(ok, _, _)| ok)
}

pub fn run(ctx: &Context) -> Result<()> {
    let sh = shell()?;
    let cargo = cargo_program();
    let manifest = &ctx.ws.manifest;
    let extra = &ctx.args.passthrough;
    let status = if has_nextest() {
        let config = ctx.ws.state_dir().join("nextest.toml");
        ctx.effects.write(&config, NEXTEST_TOOL_CONFIG.as_bytes())?;
        let tool_config = format!("trainyard:{config}");
        let c = cmd!(
            sh,
            "{cargo} nextest run --workspace --manifest-path {manifest} --tool-config-file {tool_config} --profile {PROFILE} {extra...}"
        );
        ctx.effects.say(format!("JUnit report: {}", ctx.ws.display(&junit_path(ctx))));
        run_status(ctx, c)?
    } else {
        eprintln!("trainyard: cargo-nextest is not installed; running `cargo test` (no JUnit report). Install it with: cargo install cargo-nextest");
        run_status(ctx, cmd!(sh, "{cargo} test --workspace --manifest-path {manifest} {extra...}"))?
    };
    match status {
        0 => Ok(()),
        code => Err(Error::failed(String::new()).with_code(u8::try_from(code).unwrap_or(1))),
    }
}

/// Runs the test command and returns its exit code (the test run's, passed through).
fn run_status(ctx: &Context, c: xshell::Cmd<'_>) -> Result<i32> {
    if ctx.effects.dry_run {
        println!("would run: {c}");
        return Ok(0);
    }
    eprintln!("$ {c}");
    let status = std::process::Command::from(c).status().map_err(|e| Error::failed(format!("running tests: {e}")))?;
    Ok(status.code().unwrap_or(1))
}
