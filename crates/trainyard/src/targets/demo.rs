//! `demo --dir DIR`: materialises two small git repositories to try the mission's own
//! example against: `server-core` (a library, and a `server-core` binary) tagged
//! `rpm-1.0` and `rpm-2.0`, and `account-portal` (a service depending on it as a git
//! dependency) tagged `rpm-1.2`. The end-to-end tests build on the same repositories.

use camino::{Utf8Path, Utf8PathBuf};
use xshell::cmd;

use crate::cli::{FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::git::Git;
use crate::targets::build::{cargo_program, shell};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "demo",
    summary: "create two sample repositories (server-core, account-portal) to try trainyard on",
    usage: "--dir DIR [--dry-run]",
    about: "Creates DIR/server-core (tags rpm-1.0, rpm-2.0) and DIR/account-portal (tag rpm-1.2),\n\
            whose Cargo.toml uses server-core at rpm-1.0 through a file:// git URL. Then, in\n\
            DIR/account-portal: cargo xtask build SERVER_CORE=rpm-2.0 (or `trainyard build ...`).",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "dir", value: Some("DIR"), help: "where to create the repositories", var: None },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

pub fn run(ctx: &Context) -> Result<()> {
    let dir = ctx
        .args
        .value("dir")
        .ok_or_else(|| Error::usage("demo needs --dir DIR").with_help("for example: demo --dir /tmp/trainyard-demo"))?;
    let dir = Utf8PathBuf::from(dir);
    let dir = if dir.is_absolute() { dir } else { ctx.ws.root.join(dir) };
    create(ctx, &dir)?;
    if !ctx.effects.dry_run {
        println!("created {dir}/server-core and {dir}/account-portal");
        println!("try: cd {dir}/account-portal && {} build SERVER_CORE=rpm-2.0", ctx.program);
    }
    Ok(())
}

/// Creates both repositories under `dir`, which must not hold them yet.
pub fn create(ctx: &Context, dir: &Utf8Path) -> Result<()> {
    let core = dir.join("server-core");
    let portal = dir.join("account-portal");
    for repo in [&core, &portal] {
        if repo.exists() {
            return Err(Error::usage(format!("{repo} already exists")).with_help("choose another --dir"));
        }
    }
    let fx = &ctx.effects;
    let core_git = Git::new(&core);
    fx.create_dir(&core)?;
    core_git.run(fx, &["init", "-q", "-b", "main"])?;
    write_core(ctx, &core, "1.0.0", "server-core 1.0")?;
    commit(ctx, &core_git, "server-core 1.0")?;
    core_git.run(fx, &["tag", "-a", "-m", "release 1.0", "rpm-1.0"])?;
    write_core(ctx, &core, "2.0.0", "server-core 2.0")?;
    commit(ctx, &core_git, "server-core 2.0")?;
    core_git.run(fx, &["tag", "-a", "-m", "release 2.0", "rpm-2.0"])?;
    write_core(ctx, &core, "2.1.0", "server-core 2.1 (unreleased)")?;
    commit(ctx, &core_git, "start 2.1")?;

    let url = format!("file://{core}");
    let portal_git = Git::new(&portal);
    fx.create_dir(&portal)?;
    portal_git.run(fx, &["init", "-q", "-b", "main"])?;
    write_portal(ctx, &portal, &url, "1.2.0")?;
    if !fx.dry_run {
        let sh = shell()?;
        sh.change_dir(&portal);
        let cargo = cargo_program();
        fx.run(cmd!(sh, "{cargo} generate-lockfile --quiet"))?;
    }
    commit(ctx, &portal_git, "account-portal 1.2")?;
    portal_git.run(fx, &["tag", "-a", "-m", "release 1.2", "rpm-1.2"])?;
    write_portal_main(ctx, &portal, "account-portal (after 1.2)")?;
    commit(ctx, &portal_git, "work after 1.2")?;
    Ok(())
}

fn commit(ctx: &Context, git: &Git, message: &str) -> Result<()> {
    git.run(&ctx.effects, &["add", "-A"])?;
    git.run(
        &ctx.effects,
        &["-c", "user.name=trainyard demo", "-c", "user.email=demo@example.invalid", "commit", "-q", "-m", message],
    )
}

fn write_core(ctx: &Context, dir: &Utf8Path, version: &str, greeting: &str) -> Result<()> {
    let fx = &ctx.effects;
    fx.write(
        &dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "server-core"
version = "{version}"
edition = "2021"
license = "MIT"
description = "Core services shared by the portal applications"

[lib]
path = "src/lib.rs"

[[bin]]
name = "server-core"
path = "src/main.rs"

# Packaged as /usr/bin/server-core; `mock` runs `server-core --version`.
[package.metadata.trainyard.rpm]

[workspace]

[workspace.metadata.trainyard]
name = "server-core"
"#
        )
        .as_bytes(),
    )?;
    fx.write(
        &dir.join("src/lib.rs"),
        format!("/// Which server-core this is: differs between tags.\npub fn greeting() -> &'static str {{\n    \"{greeting}\"\n}}\n").as_bytes(),
    )?;
    fx.write(
        &dir.join("src/main.rs"),
        b"fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"server-core {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n        return;\n    }\n    println!(\"{}\", server_core::greeting());\n}\n",
    )?;
    fx.write(&dir.join(".gitignore"), b"/target\n")?;
    fx.write(&dir.join("LICENSE"), b"MIT License (demo)\n")
}

fn write_portal(ctx: &Context, dir: &Utf8Path, core_url: &str, version: &str) -> Result<()> {
    let fx = &ctx.effects;
    fx.write(
        &dir.join("Cargo.toml"),
        format!(
            r#"[workspace]
members = ["portal"]
resolver = "2"

[workspace.package]
version = "{version}"
edition = "2021"
license = "MIT"

[workspace.metadata.trainyard]
name = "account-portal"
default-branch = "main"

[workspace.metadata.trainyard.internal.server-core]
git = "{core_url}"
crates = ["server-core"]
"#
        )
        .as_bytes(),
    )?;
    fx.write(
        &dir.join("portal/Cargo.toml"),
        format!(
            r#"[package]
name = "account-portal"
version.workspace = true
edition.workspace = true
license.workspace = true
description = "Account portal service"

[dependencies]
server-core = {{ git = "{core_url}", tag = "rpm-1.0" }}

# Packaged as /usr/bin/account-portal; `mock` runs `account-portal --version`.
[package.metadata.trainyard.rpm]
"#
        )
        .as_bytes(),
    )?;
    write_portal_main(ctx, dir, "account-portal")?;
    fx.write(&dir.join(".gitignore"), b"/target\n")?;
    fx.write(&dir.join("LICENSE"), b"MIT License (demo)\n")?;
    for channel in ["dev", "stage", "prod"] {
        fx.write(
            &dir.join(format!("reqs/{channel}-reqs.txt")),
            format!("# {channel} channel of account-portal\n").as_bytes(),
        )?;
    }
    Ok(())
}

fn write_portal_main(ctx: &Context, dir: &Utf8Path, label: &str) -> Result<()> {
    ctx.effects.write(
        &dir.join("portal/src/main.rs"),
        format!(
            r#"fn main() {{
    if std::env::args().nth(1).as_deref() == Some("--version") {{
        println!("account-portal {{}}", option_env!("TRAINYARD_VERSION").unwrap_or(env!("CARGO_PKG_VERSION")));
        return;
    }}
    println!("{label} using {{}}", server_core::greeting());
}}
"#
        )
        .as_bytes(),
    )
}
