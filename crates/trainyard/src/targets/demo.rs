//! `demo --dir DIR`: materialises two small git repositories to try the mission's own
//! example against: `server-core` (a library, and a `server-core` binary) tagged
//! `rpm-1.0` and `rpm-2.0`, and `account-portal` (a service depending on it as a git
//! dependency) tagged `rpm-1.2`. The end-to-end tests build on the same repositories.

use camino::{Utf8Path, Utf8PathBuf};

use crate::cargo;
use crate::cli::{Args, FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::git::Git;
use crate::plan::{Command as PlanCommand, Plan};
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

/// What `demo` was asked: where to create the repositories.
struct DemoOptions {
    dir: Utf8PathBuf,
}

impl DemoOptions {
    fn parse(args: &Args, base: &Utf8Path) -> Result<DemoOptions> {
        let dir = args.value("dir").ok_or_else(|| {
            Error::usage("demo needs --dir DIR").with_help("for example: demo --dir /tmp/trainyard-demo")
        })?;
        let dir = Utf8PathBuf::from(dir);
        Ok(DemoOptions { dir: if dir.is_absolute() { dir } else { base.join(dir) } })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let DemoOptions { dir } = DemoOptions::parse(&ctx.args, &ctx.ws.root)?;
    ctx.effects.execute(&plan(&dir)?)?;
    ctx.effects.done(format_args!("created {dir}/server-core and {dir}/account-portal"));
    ctx.effects.done(format_args!("try: cd {dir}/account-portal && {} build SERVER_CORE=rpm-2.0", ctx.program));
    Ok(())
}

/// Both repositories under `dir`, which must not hold them yet.
pub fn plan(dir: &Utf8Path) -> Result<Plan> {
    let core = dir.join("server-core");
    let portal = dir.join("account-portal");
    let taken: Vec<String> = [&core, &portal].iter().filter(|r| r.exists()).map(|r| r.to_string()).collect();
    if !taken.is_empty() {
        return Err(Error::usage(format!(
            "{} already exist{}",
            taken.join(" and "),
            if taken.len() == 1 { "s" } else { "" }
        ))
        .with_help("choose another --dir"));
    }
    let mut plan = Plan::new();
    let core_git = Git::new(&core);
    plan.create_dir(core.clone());
    plan.run(core_git.planned(&["init", "-q", "-b", "main"]));
    write_core(&mut plan, &core, "1.0.0", "server-core 1.0");
    commit(&mut plan, &core_git, "server-core 1.0");
    plan.run(core_git.planned(&["tag", "-a", "-m", "release 1.0", "rpm-1.0"]));
    write_core(&mut plan, &core, "2.0.0", "server-core 2.0");
    commit(&mut plan, &core_git, "server-core 2.0");
    plan.run(core_git.planned(&["tag", "-a", "-m", "release 2.0", "rpm-2.0"]));
    write_core(&mut plan, &core, "2.1.0", "server-core 2.1 (unreleased)");
    commit(&mut plan, &core_git, "start 2.1");

    let url = format!("file://{core}");
    let portal_git = Git::new(&portal);
    plan.create_dir(portal.clone());
    plan.run(portal_git.planned(&["init", "-q", "-b", "main"]));
    write_portal(&mut plan, &portal, &url, "1.2.0");
    plan.run(PlanCommand::program(cargo::program()).args(["generate-lockfile", "--quiet"]).dir(&portal));
    commit(&mut plan, &portal_git, "account-portal 1.2");
    plan.run(portal_git.planned(&["tag", "-a", "-m", "release 1.2", "rpm-1.2"]));
    write_portal_main(&mut plan, &portal, "account-portal (after 1.2)");
    commit(&mut plan, &portal_git, "work after 1.2");
    Ok(plan)
}

fn commit(plan: &mut Plan, git: &Git, message: &str) {
    plan.run(git.planned(&["add", "-A"]));
    plan.run(git.planned(&[
        "-c",
        "user.name=trainyard demo",
        "-c",
        "user.email=demo@example.invalid",
        "commit",
        "-q",
        "-m",
        message,
    ]));
}

fn write_core(plan: &mut Plan, dir: &Utf8Path, version: &str, greeting: &str) {
    plan.write(
        dir.join("Cargo.toml"),
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
        .into_bytes(),
    );
    plan.write(
        dir.join("src/lib.rs"),
        format!("/// Which server-core this is: differs between tags.\npub fn greeting() -> &'static str {{\n    \"{greeting}\"\n}}\n").into_bytes(),
    );
    plan.write(
        dir.join("src/main.rs"),
        b"fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"server-core {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n        return;\n    }\n    println!(\"{}\", server_core::greeting());\n}\n".to_vec(),
    );
    plan.write(dir.join(".gitignore"), b"/target\n".to_vec());
    plan.write(dir.join("LICENSE"), b"MIT License (demo)\n".to_vec());
}

fn write_portal(plan: &mut Plan, dir: &Utf8Path, core_url: &str, version: &str) {
    plan.write(
        dir.join("Cargo.toml"),
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
        .into_bytes(),
    );
    plan.write(
        dir.join("portal/Cargo.toml"),
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
        .into_bytes(),
    );
    write_portal_main(plan, dir, "account-portal");
    plan.write(dir.join(".gitignore"), b"/target\n".to_vec());
    plan.write(dir.join("LICENSE"), b"MIT License (demo)\n".to_vec());
    for channel in ["dev", "stage", "prod"] {
        plan.write(
            dir.join(format!("reqs/{channel}-reqs.txt")),
            format!("# {channel} channel of account-portal\n").into_bytes(),
        );
    }
}

fn write_portal_main(plan: &mut Plan, dir: &Utf8Path, label: &str) {
    plan.write(
        dir.join("portal/src/main.rs"),
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
        .into_bytes(),
    );
}
