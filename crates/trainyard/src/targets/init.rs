//! `init`: adopt trainyard in an existing workspace without touching the application's graph.
//!
//! The xtask is written as a crate with its own `[workspace]` and its own lock file, excluded
//! from the application's workspace, and run through the alias
//! `xtask = "run --quiet --manifest-path xtask/Cargo.toml --"`. Measured on a public CLI
//! (README, "Adopting trainyard"): an xtask as a workspace member puts trainyard's whole
//! dependency graph into the application's `Cargo.lock`, moves its shared dependencies, and
//! compiles trainyard under the application's release profile; an xtask of its own changes none
//! of that, and the application's `Cargo.lock` stays byte for byte what it was.
//!
//! Every step is planned first; a step whose result is already there is skipped (running init
//! twice changes nothing), a file init did not create is never replaced (only tables and keys
//! are added to the manifests and the cargo configuration), and a tree with uncommitted changes
//! is refused when there is something to write.

use camino::{Utf8Path, Utf8PathBuf};

use crate::channel::Channel;
use crate::cli::{Args, FlagSpec, TargetSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::git::Git;
use crate::members::workspace_members;
use crate::plan::{Action, Command as PlanCommand, Plan};
use crate::product::is_xtask_like;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "init",
    summary: "adopt trainyard in this workspace: xtask (own lock), alias, configuration, reqs/, packaging",
    usage: "(--trainyard-path DIR | --trainyard-git URL [--trainyard-rev REV]) [--makefile] [--dry-run]",
    about: "Adds what `cargo xtask` needs, leaving the application's dependency graph alone:\n\
            xtask/ (its own [workspace] and Cargo.lock, excluded from yours), the alias in\n\
            .cargo/config.toml, [workspace.metadata.trainyard] with the tag prefix and default branch\n\
            found in the repository, reqs/<channel>-reqs.txt (stage and prod pinned from Cargo.lock),\n\
            and [package.metadata.trainyard.rpm] for each binary crate without packaging metadata\n\
            (a [package.metadata.generate-rpm] table is read as it is). --makefile adds a Makefile\n\
            forwarding `make build_rpms SERVER_CORE=rpm-2.0` to cargo xtask. Running it again changes\n\
            nothing; a file it did not create is never replaced; a dirty tree is refused.",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec {
            name: "trainyard-path",
            value: Some("DIR"),
            help: "the xtask depends on trainyard at this path (a checkout of trainyard)",
            var: None,
        },
        FlagSpec {
            name: "trainyard-git",
            value: Some("URL"),
            help: "the xtask depends on trainyard from this git repository",
            var: None,
        },
        FlagSpec {
            name: "trainyard-rev",
            value: Some("REV"),
            help: "with --trainyard-git: the tag or commit to use",
            var: None,
        },
        FlagSpec { name: "makefile", value: None, help: "also write a Makefile shim for CI scripts", var: None },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

/// The alias init writes.
pub const ALIAS: &str = "run --quiet --manifest-path xtask/Cargo.toml --";

/// `cargo xtask` runs in the dev profile: unoptimised, the RPM writer's digests and zstd make a
/// first collection several times slower (README, "Figures"). Its own workspace, its own profile.
const XTASK_PROFILE: &str =
    "\n# The RPM writer's hot loops, optimised even in the dev profile `cargo xtask` runs in.\n\
    [profile.dev.package.zstd-sys]\nopt-level = 3\ndebug = false\n\n\
    [profile.dev.package.sha2]\nopt-level = 1\ndebug = false\ndebug-assertions = false\noverflow-checks = false\n\n\
    [profile.dev.package.zlib-rs]\nopt-level = 1\ndebug = false\ndebug-assertions = false\noverflow-checks = false\n";

/// One change init makes: a file written whole, and why (printed beside the plan).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A new file.
    Create { path: Utf8PathBuf, text: String, why: String },
    /// Text added to an existing file (a table or a key); the rest of the file stays as it is.
    Edit { path: Utf8PathBuf, text: String, why: String },
}

/// Where the xtask gets trainyard from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A checkout of trainyard (`--trainyard-path`): the crate's directory and the checkout's.
    Path { lib: Utf8PathBuf, checkout: Utf8PathBuf },
    /// A git repository (`--trainyard-git URL [--trainyard-rev REV]`).
    Git { url: String, rev: Option<String> },
}

/// What `init` was asked.
struct InitOptions {
    source: Source,
    makefile: bool,
}

impl InitOptions {
    /// Parses and checks the options (`root` resolves a relative `--trainyard-path`).
    fn parse(args: &Args, root: &Utf8Path) -> Result<InitOptions> {
        let path = args.value("trainyard-path");
        let git = args.value("trainyard-git");
        let rev = args.value("trainyard-rev");
        let source = match (path, git) {
            (Some(_), Some(_)) => {
                return Err(Error::usage("--trainyard-path and --trainyard-git exclude each other")
                    .with_help("give one: where the xtask finds trainyard"))
            }
            (None, None) => {
                return Err(Error::usage("init needs to know where the xtask gets trainyard from")
                    .with_help("give --trainyard-git URL [--trainyard-rev TAG] or --trainyard-path DIR"))
            }
            (Some(dir), None) => {
                if rev.is_some() {
                    return Err(Error::usage("--trainyard-rev goes with --trainyard-git, not --trainyard-path"));
                }
                let dir = Utf8Path::new(dir);
                let dir = if dir.is_absolute() { dir.to_path_buf() } else { root.join(dir) };
                let lib = dir.join("crates/trainyard");
                let lib = if lib.join("Cargo.toml").is_file() { lib } else { dir.clone() };
                let ok = std::fs::read_to_string(lib.join("Cargo.toml"))
                    .ok()
                    .and_then(|t| t.parse::<toml::Table>().ok())
                    .is_some_and(|t| {
                        t.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) == Some("trainyard")
                    });
                if !ok {
                    return Err(Error::usage(format!("--trainyard-path {dir}: no trainyard crate there"))
                        .with_help("give the directory of a trainyard checkout (or its crates/trainyard)"));
                }
                Source::Path { lib, checkout: dir }
            }
            (None, Some(url)) => {
                if url.starts_with('-') || url.chars().any(char::is_control) {
                    return Err(Error::usage(format!("--trainyard-git `{}` is not a git URL", url.escape_debug())));
                }
                if let Some(r) = rev {
                    crate::git::validate_ref(r).map_err(|e| e.context("--trainyard-rev"))?;
                }
                Source::Git { url: url.to_string(), rev: rev.map(str::to_string) }
            }
        };
        Ok(InitOptions { source, makefile: args.flag("makefile") })
    }

    /// The `trainyard = ...` dependency line of the xtask.
    fn dependency(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        match &self.source {
            Source::Path { lib, .. } => format!("trainyard = {{ path = {} }}", quote(lib.as_str())),
            Source::Git { url, rev: Some(r) } => format!("trainyard = {{ git = {}, rev = {} }}", quote(url), quote(r)),
            Source::Git { url, rev: None } => format!("trainyard = {{ git = {} }}", quote(url)),
        }
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let ws = &ctx.ws;
    let root = &ws.root;
    if !Git::is_repo(root) {
        return Err(Error::usage(format!("{root} is not a git repository"))
            .with_help("trainyard versions from git tags: run init in a git work tree"));
    }
    let options = InitOptions::parse(&ctx.args, root)?;
    let (steps, notes) = plan(ctx, &options)?;
    for note in &notes {
        eprintln!("trainyard: note: {note}");
    }
    if steps.is_empty() {
        println!("trainyard is already set up here: nothing to do");
        return Ok(());
    }
    // A precondition of the run, so of its dry-run too: what init writes is all `git status` shows.
    if Git::new(root).is_dirty()? {
        return Err(Error::usage(format!("{root} has uncommitted changes"))
            .with_help("commit or stash them first, so that what init writes is all `git status` shows"));
    }
    let mut plan = Plan::new();
    for step in &steps {
        let (Step::Create { path, text, .. } | Step::Edit { path, text, .. }) = step;
        plan.write(path.clone(), text.as_bytes().to_vec());
    }
    for step in &steps {
        match step {
            Step::Create { path, why, .. } => eprintln!("trainyard: create {} ({why})", ws.display(path)),
            Step::Edit { path, why, .. } => eprintln!("trainyard: add to {}: {why}", ws.display(path)),
        }
    }
    ctx.effects.execute(&plan)?;
    if steps.iter().any(|s| matches!(s, Step::Create { path, .. } if path.ends_with("xtask/Cargo.lock"))) {
        ctx.effects.later(SETTLE_LOCK, || {
            if let Err(e) = settle_xtask_lock(ctx) {
                // The files are written and correct; only the lock is not fitted yet.
                eprintln!("trainyard: note: {e}\n  the first `cargo xtask` run fits xtask/Cargo.lock; commit it then");
            }
            Ok(())
        })?;
    }
    ctx.effects.done("next: review and commit these files, then `cargo xtask build_rpms` and `cargo xtask mock`");
    Ok(())
}

/// The plan's last part: which cargo call fits the lock is known only when it runs.
const SETTLE_LOCK: &str = "fit xtask/Cargo.lock to the xtask: cargo update --workspace, offline first";

/// Lets cargo fit the seeded lock to the xtask (drops trainyard's own members and what the xtask
/// does not use, keeps every other version), offline first: the first `cargo xtask` then leaves
/// the lock as committed.
fn settle_xtask_lock(ctx: &Context) -> Result<()> {
    let manifest = ctx.ws.root.join("xtask/Cargo.toml");
    let update = |offline: bool| {
        let cmd = PlanCommand::program(crate::cargo::program())
            .args(["update", "--workspace", "--quiet", "--manifest-path", manifest.as_str()])
            .dir(&ctx.ws.root);
        Action::Run(if offline { cmd.arg("--offline") } else { cmd })
    };
    ctx.effects
        .apply(&update(true))
        .or_else(|_| ctx.effects.apply(&update(false)))
        .map_err(|e| e.context("fitting xtask/Cargo.lock to the xtask (cargo update --workspace)"))
}

fn read_opt(path: &Utf8Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Computes every step (and notes on what init leaves to the user).
fn plan(ctx: &Context, options: &InitOptions) -> Result<(Vec<Step>, Vec<String>)> {
    let dependency = &options.dependency();
    let ws = &ctx.ws;
    let root = &ws.root;
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let git = Git::new(root);

    // The xtask: its own workspace and lock file.
    let xtask = root.join("xtask");
    if xtask.exists() {
        let text = read_opt(&xtask.join("Cargo.toml"))?.unwrap_or_default();
        if !text.contains("trainyard") {
            notes.push(format!(
                "xtask/ exists and does not use trainyard: add `{dependency}` to its [dependencies] and call \
                 trainyard::main_with_args from its main (README, \"Adopting trainyard\")"
            ));
        }
    } else {
        steps.push(Step::Create {
            path: xtask.join("Cargo.toml"),
            text: format!(
                "# Written by `trainyard init`: this workspace's release targets (`cargo xtask --help`).\n\
                 # A workspace of its own, with its own Cargo.lock: trainyard's dependencies never enter\n\
                 # the application's graph, lock file or release profile.\n\
                 [package]\nname = \"xtask\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\n{dependency}\n\n[workspace]\n{XTASK_PROFILE}"
            ),
            why: "the xtask, a workspace of its own".into(),
        });
        steps.push(Step::Create {
            path: xtask.join(".gitignore"),
            text: "/target\n".into(),
            why: "the xtask's build stays out of git status".into(),
        });
        steps.push(Step::Create {
            path: xtask.join("src/main.rs"),
            text: "//! `cargo xtask`: the release targets, as a call into trainyard.\n\
                   fn main() -> std::process::ExitCode {\n    \
                   trainyard::main_with_args(std::env::args_os().skip(1).collect(), \"cargo xtask\")\n}\n"
                .into(),
            why: "the xtask's main".into(),
        });
        // Seed the xtask's lock with the versions trainyard itself is built and tested with.
        if let Source::Path { checkout, .. } = &options.source {
            if let Some(lock) = read_opt(&checkout.join("Cargo.lock"))? {
                steps.push(Step::Create {
                    path: xtask.join("Cargo.lock"),
                    text: lock,
                    why: "the xtask's lock, seeded from trainyard's own".into(),
                });
            }
        }
    }

    // The alias.
    let config_path = root.join(".cargo/config.toml");
    let legacy = root.join(".cargo/config");
    let config_path = if !config_path.exists() && legacy.exists() { legacy } else { config_path };
    match read_opt(&config_path)? {
        None => steps.push(Step::Create {
            path: config_path.clone(),
            text: format!("[alias]\nxtask = \"{ALIAS}\"\n"),
            why: "the alias `cargo xtask`".into(),
        }),
        Some(text) => {
            let table: toml::Table = text.parse().map_err(|e| {
                Error::usage(format!("{}: not valid TOML: {e}", ws.display(&config_path)))
                    .with_help("fix it, then run init again")
            })?;
            match table.get("alias").and_then(|a| a.get("xtask")) {
                Some(existing) => {
                    if existing.as_str() != Some(ALIAS) {
                        notes.push(format!(
                            "{} already has an xtask alias ({existing}); left as it is",
                            ws.display(&config_path)
                        ));
                    }
                }
                None => {
                    let text = with_newline(&text);
                    let line = format!("xtask = \"{ALIAS}\"\n");
                    let new = match find_header(&text, "alias") {
                        Some(at) => format!("{}{line}{}", &text[..at], &text[at..]),
                        None => format!("{}\n[alias]\n{line}", with_newline(&text)),
                    };
                    steps.push(Step::Edit {
                        path: config_path.clone(),
                        text: new,
                        why: "the alias `cargo xtask`".into(),
                    });
                }
            }
        }
    }

    // [workspace.metadata.trainyard], `exclude = ["xtask"]`.
    let manifest_text = std::fs::read_to_string(&ws.manifest).map_err(io(&ws.manifest))?;
    let manifest: toml::Table = manifest_text.parse().map_err(|e| Error::usage(format!("{}: {e}", ws.manifest)))?;
    let workspace_table = manifest.get("workspace").and_then(|w| w.as_table());
    let mut new_manifest = with_newline(&manifest_text);
    let mut what = Vec::new();
    if let Some(w) = workspace_table {
        let excluded = w
            .get("exclude")
            .and_then(|e| e.as_array())
            .is_some_and(|e| e.iter().any(|x| x.as_str().is_some_and(|s| s.trim_end_matches('/') == "xtask")));
        let is_member = w
            .get("members")
            .and_then(|m| m.as_array())
            .is_some_and(|m| m.iter().any(|x| x.as_str().is_some_and(|s| s.trim_end_matches('/') == "xtask")));
        if is_member {
            notes.push(
                "xtask is a member of this workspace: its dependencies are in your Cargo.lock. trainyard leaves \
                 it out of the product either way; to take it out of the graph too, remove it from `members`"
                    .into(),
            );
        } else if !excluded && w.get("exclude").is_some() {
            notes.push("add \"xtask\" to [workspace] exclude (init does not rewrite an existing list)".into());
        } else if !excluded {
            if let Some(at) = find_header(&new_manifest, "workspace") {
                new_manifest = format!("{}exclude = [\"xtask\"]\n{}", &new_manifest[..at], &new_manifest[at..]);
                what.push("exclude = [\"xtask\"]");
            }
        }
    }
    let configured = workspace_table.and_then(|w| w.get("metadata")).and_then(|m| m.get("trainyard")).is_some();
    if !configured {
        let prefix = detect_tag_prefix(&git)?;
        let branch = detect_default_branch(&git)?;
        let name = ws.config.name();
        let mut table = String::new();
        if workspace_table.is_none() {
            // A single crate: an empty [workspace] makes it the root of a workspace of one,
            // which changes nothing in its resolution, and gives the configuration a home.
            table.push_str("\n[workspace]\nexclude = [\"xtask\"]\n");
            what.push("[workspace]");
        }
        table.push_str(&format!(
            "\n# trainyard's configuration (README, \"Configuration\"). Found in the repository: the\n\
             # release tags are `{prefix}X.Y.Z`, the next train is on `{branch}`.\n\
             [workspace.metadata.trainyard]\nname = {}\ntag-prefix = {}\ndefault-branch = {}\n",
            toml::Value::String(name.to_string()),
            toml::Value::String(prefix.clone()),
            toml::Value::String(branch.clone())
        ));
        new_manifest = format!("{}{table}", with_newline(&new_manifest));
        what.push("[workspace.metadata.trainyard]");
    }
    if new_manifest != with_newline(&manifest_text) {
        steps.push(Step::Edit { path: ws.manifest.clone(), text: new_manifest, why: what.join(", ") });
    }

    // Packaging metadata for each binary crate that has none.
    for m in workspace_members(ws)? {
        if is_xtask_like(&m.info.name) || m.info.bins.is_empty() || crate::product::is_packaged(&m.metadata) {
            continue;
        }
        let path = m.info.manifest_dir.join("Cargo.toml");
        let base = if path == ws.manifest {
            steps
                .iter()
                .find_map(|s| match s {
                    Step::Edit { path: p, text, .. } if *p == path => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or(manifest_text.clone())
        } else {
            std::fs::read_to_string(&path).map_err(io(&path))?
        };
        // `mock`'s default smoke command wants the computed version printed, which a binary
        // prints only once it reads TRAINYARD_VERSION; until then, its exit status is the test.
        let bin = &m.info.bins[0];
        let text = format!(
            "{}\n# Packaged by `cargo xtask build_rpms`: the binaries into /usr/bin (README, \"build_rpms\").\n\
             # `mock` runs the smoke command in a clean root; once `{bin} --version` prints\n\
             # option_env!(\"TRAINYARD_VERSION\"), remove `smoke` and mock checks the version it prints too.\n\
             [package.metadata.trainyard.rpm]\nsmoke = {}\n",
            with_newline(&base),
            toml::Value::String(format!("{bin} --version"))
        );
        if text.parse::<toml::Table>().is_err() {
            notes.push(format!(
                "{}: add [package.metadata.trainyard.rpm] by hand (its metadata tables do not allow appending one)",
                ws.display(&path)
            ));
            continue;
        }
        if m.info.description.is_none() {
            notes.push(format!("crate {} has no description: the RPM needs one for its Summary", m.info.name));
        }
        let mut why = format!("packaging metadata of {}", m.info.name);
        if let Some(Step::Edit { why: earlier, .. }) =
            steps.iter().find(|s| matches!(s, Step::Edit { path: p, .. } if *p == path))
        {
            why = format!("{earlier}, {why}");
        }
        steps.retain(|s| !matches!(s, Step::Edit { path: p, .. } if *p == path));
        steps.push(Step::Edit { path, text, why });
    }

    // reqs/: dev empty, stage and prod pinned from Cargo.lock.
    for channel in [Channel::Dev, Channel::Stage, Channel::Prod] {
        let path = ws.reqs_path(channel);
        if path.exists() {
            continue;
        }
        let text = if channel == Channel::Dev {
            "# The dev channel: the newest versions Cargo.toml allows; `name == version` pins one.\n".to_string()
        } else if ws.lock_path().exists() {
            let (_, _, pinned) = crate::targets::pin::pinned_file(ctx, channel)?;
            format!("# The {channel} channel: every external crate of the product, pinned (`cargo xtask pin CHANNEL={channel}`).\n{pinned}")
        } else {
            notes.push(format!("no Cargo.lock: pin {channel} later with `cargo xtask pin CHANNEL={channel}`"));
            format!("# The {channel} channel.\n")
        };
        steps.push(Step::Create { path, text, why: format!("the {channel} channel's requirements") });
    }

    if options.makefile {
        let path = root.join("Makefile");
        if path.exists() {
            notes.push("a Makefile exists: left as it is (init writes the shim only where there is none)".into());
        } else {
            steps.push(Step::Create {
                path,
                text: "# Written by `trainyard init --makefile`: the old make targets, forwarded to cargo xtask.\n\
                       # `make build_rpms SERVER_CORE=rpm-2.0` runs `cargo xtask build_rpms SERVER_CORE=rpm-2.0`.\n\
                       TARGETS := build tests build_rpms mock pin version\n\
                       .PHONY: $(TARGETS)\n\
                       $(TARGETS):\n\
                       \tcargo xtask $@ $(MAKEOVERRIDES)\n"
                    .into(),
                why: "a make shim for CI scripts".into(),
            });
        }
    }
    Ok((steps, notes))
}

/// The byte offset just after the `[name]` header line, if the text has one.
fn find_header(text: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let header = trimmed.split('#').next().unwrap_or("").trim();
        if header == format!("[{name}]") {
            let end = offset + line.len();
            // Callers pass text ending in a newline ([`with_newline`]): the next line starts here.
            return Some(end);
        }
        offset += line.len();
    }
    None
}

fn with_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// The prefix most release tags share: `v` (`v0.18.0`), `rpm-` (`rpm-1.2`), or none (`1.2.0`).
/// `v` when there are no release tags (cargo-release's habit).
fn detect_tag_prefix(git: &Git) -> Result<String> {
    let tags = git.try_read(&["tag", "--list"])?.unwrap_or_default();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for tag in tags.lines() {
        let Some(digit) = tag.find(|c: char| c.is_ascii_digit()) else { continue };
        let (prefix, rest) = tag.split_at(digit);
        if !rest.contains('.') || prefix.len() > 16 || prefix.contains('/') {
            continue;
        }
        match counts.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, n)) => *n += 1,
            None => counts.push((prefix.to_string(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(counts.into_iter().next().map(|(p, _)| p).unwrap_or_else(|| "v".into()))
}

/// The remote's default branch (`origin/HEAD`), else the current branch, else `main`.
fn detect_default_branch(git: &Git) -> Result<String> {
    if let Some(head) = git.try_read(&["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"])? {
        if let Some(branch) = head.trim().strip_prefix("refs/remotes/origin/") {
            return Ok(branch.to_string());
        }
    }
    Ok(git.current_branch()?.unwrap_or_else(|| "main".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_at_line_starts() {
        let text = "[package]\nname = \"a\"\n[workspace] # the root\nmembers = []\n";
        let at = find_header(text, "workspace").unwrap();
        assert_eq!(&text[at..], "members = []\n");
        assert!(find_header(text, "alias").is_none());
        assert!(find_header("[workspace.metadata.x]\n", "workspace").is_none());
    }
}
