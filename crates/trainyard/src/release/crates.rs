//! `release publish-crates`: the workspace's publishable crates to the team's private cargo
//! registry (`[workspace.metadata.trainyard] registry = "NAME"`, defined in the user's cargo
//! configuration), in dependency order.
//!
//! The token is cargo's business: `CARGO_REGISTRIES_<NAME>_TOKEN` from the CI's secret store,
//! or cargo's credential providers. trainyard never reads, prints or passes it. A crate whose
//! version the registry already has is skipped, so a run that failed half-way is finished by
//! running it again: nothing is published twice.

use std::collections::{BTreeMap, BTreeSet};

use crate::cargo::{program as cargo_program, Invocation};
use crate::error::{Error, Result};
use crate::exec;
use crate::lockfile::{self, LockSite};
use crate::plan::{self, Plan};
use crate::Context;

/// One crate to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publishable {
    pub name: String,
    pub version: String,
    /// Other publishable crates of the workspace it depends on (normal and build dependencies).
    pub depends_on: Vec<String>,
}

/// The members whose `publish` allows `registry`, in dependency order (a crate after every
/// workspace crate it needs). A cycle is impossible in cargo; ties keep the name order.
pub fn order(crates: &[Publishable]) -> Vec<Publishable> {
    let names: BTreeSet<&str> = crates.iter().map(|c| c.name.as_str()).collect();
    let mut done: Vec<Publishable> = Vec::new();
    let mut left: BTreeMap<&str, &Publishable> = crates.iter().map(|c| (c.name.as_str(), c)).collect();
    while !left.is_empty() {
        let ready: Vec<&str> = left
            .values()
            .filter(|c| c.depends_on.iter().all(|d| !names.contains(d.as_str()) || done.iter().any(|p| &p.name == d)))
            .map(|c| c.name.as_str())
            .collect();
        if ready.is_empty() {
            // Not reachable with cargo's own checks; publish the rest by name.
            done.extend(left.values().map(|c| (*c).clone()));
            break;
        }
        for name in ready {
            done.push(left.remove(name).expect("ready").clone());
        }
    }
    done
}

/// The workspace's members that may go to `registry` (`publish` absent, or naming it).
fn publishable(ctx: &Context, registry: &str) -> Result<Vec<Publishable>> {
    let metadata = Invocation::new("metadata")
        .args(["--format-version", "1", "--no-deps"])
        .manifest_path(&ctx.ws.manifest)
        .dir(&ctx.ws.root)
        .command();
    let json = exec::read_command(&metadata)?;
    let meta: cargo_metadata::Metadata =
        serde_json::from_str(&json).map_err(|e| Error::failed(format!("reading cargo metadata: {e}")))?;
    let members: BTreeSet<_> = meta.workspace_members.iter().collect();
    let mut out = Vec::new();
    for p in meta.packages.iter().filter(|p| members.contains(&p.id)) {
        let allowed = match &p.publish {
            None => true,
            Some(list) => list.iter().any(|r| r == registry),
        };
        if !allowed {
            continue;
        }
        let depends_on = p
            .dependencies
            .iter()
            .filter(|d| d.kind != cargo_metadata::DependencyKind::Development && d.path.is_some())
            .map(|d| d.name.clone())
            .collect();
        out.push(Publishable { name: p.name.to_string(), version: p.version.to_string(), depends_on });
    }
    Ok(out)
}

/// Validates a registry name as cargo does (it becomes an environment variable's name).
fn check_registry_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "registry `{}` in [workspace.metadata.trainyard] is not a registry name",
            name.escape_debug()
        ))
        .with_help("name a registry of your cargo configuration ([registries.NAME] index = \"sparse+https://...\")"))
    }
}

/// The environment variable cargo reads the registry's token from.
pub fn token_var(registry: &str) -> String {
    format!("CARGO_REGISTRIES_{}_TOKEN", registry.to_uppercase().replace('-', "_"))
}

/// Where cargo takes the registry's token from, said without it: its variable (the token,
/// cargo's to use, is registered as a secret here, where it enters the program: no error cargo
/// prints and trainyard passes on shows it), else cargo's credential providers.
fn token_source(var: &str, value: Option<&str>) -> String {
    match value.filter(|v| !v.is_empty()) {
        Some(token) => {
            crate::redact::register(token);
            format!("${var}")
        }
        None => "cargo's credential providers".to_string(),
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let ws = &ctx.ws;
    let fx = &ctx.effects;
    let Some(registry) = ws.config.registry.clone() else {
        return Err(Error::usage(format!("{} names no registry to publish crates to", ws.display(&ws.manifest)))
            .with_help(
                "add `registry = \"NAME\"` to [workspace.metadata.trainyard], NAME a registry of your cargo \
                 configuration ([registries.NAME] index = \"sparse+https://...\")",
            ));
    };
    check_registry_name(&registry)?;
    let crates = order(&publishable(ctx, &registry)?);
    if crates.is_empty() {
        return Err(Error::usage(format!("no crate of {} may be published to {registry}", ws.config.name()))
            .with_help(format!(
                "a crate is published when its [package] has no `publish` key or `publish = [\"{registry}\"]`"
            )));
    }
    check_trigger(ctx, &crates, &|name| std::env::var(name).ok())?;
    let from = token_source(&token_var(&registry), std::env::var(token_var(&registry)).ok().as_deref());
    println!("publishing to registry `{registry}` (token from {from}), in this order:");
    for c in &crates {
        println!("  {} {}", c.name, c.version);
    }

    // Every cargo call reads trainyard's copy of Cargo.lock, never the user's.
    let cargo = cargo_program();
    let mechanism = lockfile::Mechanism::of(&cargo)?;
    let site = LockSite::new(ws, ws.state_dir().join("publish"), mechanism);
    let lock = ws.lock_path();
    let seed = std::fs::read(&lock).map_err(|e| {
        crate::error::io(&lock)(e).with_help("generate the lock file with `cargo generate-lockfile` and commit it")
    })?;
    let _guard = fx.hold(|| lockfile::BuildLock::acquire(ws))?;
    let mut prepare = Plan::new();
    if mechanism == lockfile::Mechanism::LockfilePath {
        // trainyard's copy of Cargo.lock, which every publish reads.
        prepare.extend(site.prepare_plan(ws, Some(&seed))?);
    }
    // cargo publish checks the git status of what it packages, which it cannot do through the
    // shadow an older cargo builds from: there it runs on the workspace itself, `--locked`, so
    // cargo refuses rather than writes Cargo.lock (and the index check never writes it).
    let at = match mechanism {
        lockfile::Mechanism::LockfilePath => site.cargo_args(),
        lockfile::Mechanism::Shadow => vec!["--manifest-path".to_string(), ws.manifest.to_string()],
    };
    let target_dir = ws.state_dir().join("publish-target");
    // The crates the registry lacks, each with its publish (cargo reads the registry's
    // definition from the workspace's configuration too: it runs in the workspace).
    let mut publishes = Vec::new();
    for c in &crates {
        if in_registry(ctx, &cargo, &registry, c)? {
            println!("{} {}: already in {registry}, skipped", c.name, c.version);
            continue;
        }
        let publish = Invocation::new("publish")
            .args(["--registry", &registry, "--package", &c.name, "--locked"])
            .args(at.iter().cloned())
            .args(["--target-dir", target_dir.as_str()])
            .dir(&ws.root)
            .command();
        publishes.push((c, publish));
    }
    fx.execute(&prepare)?;
    let mut published = Vec::new();
    for (c, publish) in &publishes {
        fx.announce_command(publish).map_err(|e| {
            let done = if published.is_empty() {
                "nothing was published".to_string()
            } else {
                format!("published: {}", published.join(", "))
            };
            // The error keeps its kind (cargo missing is exit 3), its cause and its own help.
            let help = e.help.clone().unwrap_or_else(|| {
                format!(
                    "fix the cause and run `{} release publish-crates` again: crates already in {registry} are skipped",
                    ctx.program
                )
            });
            e.context(format!("publishing {} {} to {registry} failed ({done})", c.name, c.version)).with_help(help)
        })?;
        fx.outcome(format!("{} {}: published to {registry}", c.name, c.version));
        published.push(format!("{} {}", c.name, c.version));
    }
    Ok(())
}

/// Under a trigger (`--trigger push|tag`, or `auto` in CI), as `release publish` has it: a
/// registry keeps every version for good, so a push build publishes no crate, and a tag build
/// only crates at the version of HEAD's release tag. Outside CI with `auto`, nothing is checked.
fn check_trigger(ctx: &Context, crates: &[Publishable], env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    use crate::scm::{self, Mode};
    let ws = &ctx.ws;
    let trigger = crate::targets::options::trigger(&ctx.args)?;
    let mode = scm::resolve_trigger(trigger, scm::ci_build(env).as_ref(), &ws.config.tag_prefix);
    match mode {
        Mode::Local => Ok(()),
        Mode::Push => Err(Error::usage("a push build publishes no crate: a registry keeps every version for good")
            .with_help("publish the crates from the release tag's build (--trigger tag), or the whole-path release")),
        Mode::Tag => {
            let tagged = scm::describe_with(ws, trigger, env)?.semver();
            let other: Vec<String> =
                crates.iter().filter(|c| c.version != tagged).map(|c| format!("{} {}", c.name, c.version)).collect();
            if other.is_empty() {
                return Ok(());
            }
            Err(Error::usage(format!(
                "this tag build may publish crates at {tagged} only, and these are not: {}",
                other.join(", ")
            ))
            .with_help(
                "set their version to the release's (version.workspace = true), or publish them from their own tag",
            ))
        }
    }
}

/// Whether the registry's index has `c` at its version (`cargo info NAME@VERSION`, which
/// reads the index; not found is cargo's "could not find").
fn in_registry(ctx: &Context, cargo: &str, registry: &str, c: &Publishable) -> Result<bool> {
    let spec = format!("{}@{}", c.name, c.version);
    let asked = plan::Command::program(cargo)
        .args(["info", "--quiet", "--registry", registry, &spec])
        .dir(&ctx.ws.root)
        .network(format!("asking {registry} for {spec}"));
    let (ok, _, err) = exec::read_command_output(&asked)?;
    if ok {
        return Ok(true);
    }
    if err.contains("could not find") {
        return Ok(false);
    }
    Err(Error::failed(format!("asking {registry} for {spec} failed:\n{}", err.trim_end())).with_help(format!(
        "check that your cargo configuration defines [registries.{registry}] and that it is reachable"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, deps: &[&str]) -> Publishable {
        Publishable {
            name: name.into(),
            version: "1.0.0".into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn dependencies_go_first() {
        let got = order(&[c("app", &["core", "serde"]), c("core", &["util"]), c("util", &[])]);
        let names: Vec<&str> = got.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["util", "core", "app"]);
    }

    #[test]
    fn a_registry_token_is_a_secret_from_where_it_enters() {
        let token = "cio-registry-token-7734";
        assert_eq!(token_source("CARGO_REGISTRIES_CORP_TOKEN", Some(token)), "$CARGO_REGISTRIES_CORP_TOKEN");
        let said = crate::redact::text(&format!("error: 403 for token {token}"));
        assert!(!said.contains(token), "{said}");
        assert_eq!(token_source("CARGO_REGISTRIES_CORP_TOKEN", None), "cargo's credential providers");
        assert_eq!(token_source("CARGO_REGISTRIES_CORP_TOKEN", Some("")), "cargo's credential providers");
    }

    #[test]
    fn registry_names_become_variables() {
        assert_eq!(token_var("corp-crates"), "CARGO_REGISTRIES_CORP_CRATES_TOKEN");
        assert!(check_registry_name("--index=x").is_err());
    }
}
