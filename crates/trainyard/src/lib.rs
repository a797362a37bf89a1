//! trainyard: a team's release Makefile as typed Rust functions behind `cargo xtask`.
//!
//! The `xtask` binary and the `trainyard` binary both call [`main_with_args`].

// First: its `print!`/`println!` replace std's in the whole crate (see the module docs).
#[macro_use]
pub mod ui;

pub mod access;
pub mod bounded;
pub mod build_settings;
pub mod cargo;
pub mod channel;
pub mod checkout;
pub mod cli;
pub mod collection;
pub mod collection_manifest;
pub mod config;
pub mod date;
pub mod error;
pub mod exec;
pub mod git;
pub mod global;
pub mod lockfile;
pub mod members;
pub mod plan;
pub mod product;
pub mod projects;
pub mod redact;
pub mod release;
pub mod reqs;
pub mod resolution;
pub mod resolve;
pub mod rpmpkg;
pub mod sandbox;
pub mod scm;
pub mod scratch;
pub mod targets;
pub mod toolchain;
pub mod version;
pub mod walk;
pub mod workspace;

use std::ffi::OsString;
use std::process::ExitCode;

use camino::Utf8PathBuf;

use crate::cli::Args;
use crate::error::{Error, Result};
use crate::exec::Effects;
use crate::workspace::Workspace;

/// Everything a target needs to run.
pub struct Context {
    pub ws: Workspace,
    pub args: Args,
    pub effects: Effects,
    /// How the user invoked us (`cargo xtask` or `trainyard`), for messages.
    pub program: String,
}

/// Runs the command line and returns the documented exit code.
pub fn main_with_args(args: Vec<OsString>, program: &str) -> ExitCode {
    // A closed stdout unwinds with `ui::BrokenPipe` (destructors run); it ends the run quietly.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args, program))) {
        Ok(Ok(())) => {
            if let Some(target) = RAN.get() {
                ui::finish_run(target, 0, None);
            }
            ExitCode::SUCCESS
        }
        Ok(Err(err)) => {
            if !err.quiet {
                let printed = error::printable(&redact::text(&err.to_string()));
                ui::diagnostic(&printed);
                ui::event(serde_json::json!({
                    "reason": "problem", "level": "error",
                    "message": redact::text(&err.message), "help": err.help.as_deref().map(redact::text),
                }));
            }
            if let Some(target) = RAN.get() {
                let printed = (!err.quiet).then(|| error::printable(&redact::text(&err.to_string())));
                ui::finish_run(target, err.exit_code(), printed.as_deref());
            }
            ExitCode::from(err.exit_code())
        }
        Err(payload) if payload.is::<ui::BrokenPipe>() => ExitCode::from(ui::BROKEN_PIPE_STATUS),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// The target this process runs, once its arguments are accepted (for the final `result`).
static RAN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// A target's `--help`: its own options, then the global ones.
fn target_help(spec: &cli::TargetSpec, program: &str, project_vars: &[String]) -> String {
    let mut out = cli::target_help(spec, program, project_vars);
    out.push_str(&global::help_section());
    out
}

fn run(args: Vec<OsString>, program: &str) -> Result<()> {
    let words: Vec<String> = args
        .into_iter()
        .map(|a| a.into_string().map_err(|a| Error::usage(format!("argument {a:?} is not valid UTF-8"))))
        .collect::<Result<_>>()?;
    let env = |name: &str| std::env::var(name).ok();
    let (global, words) = match global::extract(&words) {
        Ok(found) => found,
        Err(err) => {
            ui::init(ui::Ui::new(0, ui::ColorChoice::from_env(&env)));
            return Err(err);
        }
    };
    let mut settings = ui::Ui::new(global.verbosity, global.color.unwrap_or_else(|| ui::ColorChoice::from_env(&env)));
    settings.json = global.json;
    ui::init(settings);
    let manifest_path = global.manifest_path.clone();
    global::apply(global);
    let Some(first) = words.first() else {
        print!("{}", targets::overview(program));
        return Err(Error::quiet(error::Kind::Usage, 2));
    };
    match first.as_str() {
        "help" if words.len() > 1 => {
            let Some(target) = targets::find(&words[1]) else { return Err(unknown_target(&words[1])) };
            let cwd = std::env::current_dir().ok().and_then(|d| Utf8PathBuf::from_path_buf(d).ok());
            let found = match (&manifest_path, cwd) {
                (Some(m), Some(cwd)) => Workspace::at(&cwd.join(m)).ok(),
                (None, Some(cwd)) => Workspace::discover(&cwd).ok(),
                _ => None,
            };
            let vars = found.map(|ws| ws.config.project_vars()).unwrap_or_default();
            print!("{}", target_help(target.spec, program, &vars));
            return Ok(());
        }
        "--help" | "-h" | "help" => {
            print!("{}{}", targets::overview(program), global::help_section());
            return Ok(());
        }
        "--version" | "-V" => {
            println!("trainyard {}", option_env!("TRAINYARD_VERSION").unwrap_or(env!("CARGO_PKG_VERSION")));
            return Ok(());
        }
        _ => {}
    }
    let Some(target) = targets::find(first) else { return Err(unknown_target(first)) };
    if ui::get().json && !global::JSON_TARGETS.contains(&target.spec.name) {
        return Err(Error::usage(format!("`{}` has no --message-format json", target.spec.name))
            .with_help(format!("targets with JSON events: {}", global::JSON_TARGETS.join(", "))));
    }
    let _ = RAN.set(target.spec.name.to_string());
    let cwd = std::env::current_dir().map_err(|e| Error::failed(format!("current directory: {e}")))?;
    let cwd = Utf8PathBuf::from_path_buf(cwd).map_err(|p| Error::usage(format!("{} is not UTF-8", p.display())))?;
    let rest = &words[1..];
    let wants_help = rest.iter().take_while(|w| *w != "--").any(|w| w == "--help" || w == "-h");
    let found = match &manifest_path {
        Some(m) => Workspace::at(&cwd.join(m)),
        None => Workspace::discover(&cwd),
    };
    let ws = match found {
        Ok(ws) => ws,
        Err(_) if wants_help => {
            print!("{}", target_help(target.spec, program, &[]));
            return Ok(());
        }
        Err(_) if !target.needs_workspace => Workspace::detached(&cwd),
        Err(err) => return Err(err),
    };
    let project_vars = ws.config.project_vars();
    let (args, notes) = cli::parse(target.spec, rest, &project_vars, targets::GLOBAL_VARS, &env)?;
    if args.help {
        print!("{}", target_help(target.spec, program, &project_vars));
        return Ok(());
    }
    for note in notes {
        ui::diagnostic(&note);
    }
    let mut effects = Effects::new(args.dry_run());
    effects.quiet = ui::quiet();
    let ws = match args.var(&ws.config.self_var()) {
        Some(var) if target.spec.takes_projects => self_checkout(&ws, &var.value, &effects)?,
        _ => ws,
    };
    // An older trainyard killed mid-build may have left its lock swap: reported, never trusted.
    effects.execute(&lockfile::leftover_swap(&ws))?;
    let ctx = Context { ws, args, effects, program: program.to_string() };
    (target.run)(&ctx)
}

fn unknown_target(word: &str) -> Error {
    let names: Vec<String> = targets::TARGETS.iter().map(|t| t.spec.name.to_string()).collect();
    let mut help = format!("targets: {}", names.join(", "));
    if let Some(near) = cli::closest(word, &names) {
        help = format!("did you mean `{near}`?\n{help}");
    }
    Error::usage(format!("unknown target `{word}`")).with_help(help)
}

/// `ACCOUNT_PORTAL=rpm-1.2` on account-portal itself: the workspace as it was at that ref,
/// checked out in the cache and built into the same target directory.
fn self_checkout(ws: &Workspace, reference: &str, effects: &Effects) -> Result<Workspace> {
    let var = ws.config.self_var();
    git::validate_ref(reference).map_err(|e| e.context(&var))?;
    let cache = projects::cache(ws);
    let name = ws.config.name();
    // The plan is made from the tree at that ref (its version, its lock, its packaging): checked
    // out into the checkout cache in a dry-run too, and said so.
    let prepare = effects.preparing();
    let resolved = cache.resolve(name, ws.root.as_str(), reference, &prepare)?;
    let tree = cache.worktree(&resolved, &prepare)?;
    effects.planned_from(format!("{name} {reference} ({var}), commit {}, checked out in {tree}", resolved.commit));
    // The checkout has no git history: its version comes from the mirror's tags, and reaches
    // the version module as a value on the workspace (a pretend version still wins).
    let version = match std::env::var_os(scm::PRETEND_ENV).filter(|v| !v.is_empty()) {
        Some(_) => None,
        None => Some(checkout_version(ws, &cache.mirror_path(name), &resolved.commit, reference)?),
    };
    let mut sub = Workspace::at(&tree.join("Cargo.toml"))?;
    sub.target_dir = ws.target_dir.clone();
    sub.checkout =
        Some(workspace::Checkout { reference: reference.to_string(), commit: resolved.commit.clone(), version });
    eprintln!("trainyard: building {name} as of {reference} ({}) from {tree}", resolved.commit);
    Ok(sub)
}

/// The version of `commit` from the mirror: the version `version` would compute there
/// (a tag on it, else the next version + `.devN`).
fn checkout_version(
    ws: &Workspace,
    mirror: &camino::Utf8Path,
    commit: &str,
    reference: &str,
) -> Result<version::Version> {
    let git = git::Git::new(mirror);
    let manifest = ws.manifest.strip_prefix(&ws.root).map(|m| m.as_str()).unwrap_or("Cargo.toml");
    scm::version_at(&git, commit, Some(reference), &ws.config, manifest)
}
