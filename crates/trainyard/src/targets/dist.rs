//! `dist [RPM_CHANNEL=prod] [PROJECT=ref ...] [--head] [--out DIR]`: the source release.
//!
//! From the commit of the release tag: a tarball of the workspace with every dependency
//! vendored (the lock file the channel's build used, internal-project overrides included as
//! path sources), and a source RPM whose spec builds it with `cargo build --offline --frozen`.
//! Both are reproducible (sorted entries, every time the commit's, owner 0, no pax headers)
//! and listed in `dist.json` beside the collection.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::cargo::Invocation;
use crate::channel::Channel;
use crate::cli::{FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::exec;
use crate::git::Git;
use crate::members::{workspace_members, Member};
use crate::plan::{Action, Command as PlanCommand, Plan};
use crate::projects;
use crate::resolve::shadow_hint;
use crate::scm::{self, Trigger};
use crate::targets::build::{self, BuildArgs};
use crate::targets::options::BuildFlags;
use crate::targets::options::{self, OUT_FLAG, RPM_CHANNEL_FLAG, TRIGGER_FLAG};
use crate::Context;

pub const HEAD_FLAG: FlagSpec = FlagSpec {
    name: "head",
    value: None,
    help: "a source release of HEAD at its dev version (default: HEAD must carry the release tag)",
    var: None,
};

pub const COLLECTION_FLAG: FlagSpec = FlagSpec {
    name: "collection",
    value: Some("DIR"),
    help: "also list the tarball and the source RPM in the collection build_rpms wrote to DIR (its \
           collection.json, switched atomically); the whole-path release does this",
    var: None,
};

pub const REBUILD_FLAG: FlagSpec = FlagSpec {
    name: "rebuild",
    value: None,
    help: "then rebuild the source RPM with rpmbuild --rebuild in a clean sandbox root with no network",
    var: None,
};

pub const SPEC: TargetSpec = TargetSpec {
    name: "dist",
    summary: "the source release: a vendored source tarball and a source RPM that builds offline",
    usage: "[RPM_CHANNEL=prod] [PROJECT=ref ...] [--head] [--out DIR] [--collection DIR] [--rebuild] \
            [--trigger push|tag|auto] [--dry-run]",
    about: "From the release tag on HEAD (a clean tree): builds the workspace for the channel as `build`\n\
            does, then writes NAME-VERSION.tar.gz (the tagged tree, the lock file the build used as\n\
            Cargo.lock, every dependency vendored under vendor/, internal-project overrides under\n\
            internal/, and a .cargo/config.toml that points cargo at them) and NAME-VERSION-1.src.rpm,\n\
            whose spec runs `cargo build --release --offline --frozen`. Both are byte-identical on every\n\
            run (sorted entries, the commit time on every file, owner 0), and dist.json lists them, in\n\
            target/dist/<channel>/ (or --out): not in the collection directory, which build_rpms\n\
            switches as a whole. With --collection DIR (as in the whole-path release), they are then also\n\
            listed in DIR's collection.json under `sources`: a new collection directory with them linked in,\n\
            switched by one rename like build_rpms's; the collection owns them until its next build_rpms.\n\
            --rebuild proves the source release builds offline: `rpmbuild --rebuild` of the source RPM in a\n\
            clean root (the sandbox backend: dnf into a fresh root from a local repository, bubblewrap with\n\
            no network), with the host's Rust toolchain bound read-only; the binary RPMs it yields go to\n\
            target/trainyard/dist-rebuilt/.",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "dev, stage or prod (default prod): whose lock file is vendored" }],
    flags: &[DRY_RUN, RPM_CHANNEL_FLAG, OUT_FLAG, HEAD_FLAG, COLLECTION_FLAG, REBUILD_FLAG, TRIGGER_FLAG],
    takes_projects: true,
    max_positional: 0,
    passthrough: false,
};

/// One file of the source release, as `dist.json` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DistFile {
    pub file: String,
    pub kind: &'static str,
    pub sha256: String,
    pub size: u64,
}

/// `dist.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DistManifest {
    pub workspace: String,
    pub channel: Channel,
    /// RPM rendering (`1.2`, `1.3~~dev5`).
    pub version: String,
    pub tag: Option<String>,
    pub commit: String,
    pub source_date: u64,
    /// SHA-256 of the lock file shipped as the tarball's `Cargo.lock`.
    pub lock_sha256: String,
    pub internal: Vec<projects::Record>,
    pub files: Vec<DistFile>,
}

pub fn run(ctx: &Context) -> Result<()> {
    let collection = match ctx.args.value("collection") {
        Some("") => {
            return Err(Error::usage("--collection is empty")
                .with_help("give the collection's directory (--collection target/rpms/prod)"))
        }
        Some(dir) if Utf8Path::new(dir).is_absolute() => Some(Utf8PathBuf::from(dir)),
        Some(dir) => Some(ctx.ws.root.join(dir)),
        None => None,
    };
    run_into(ctx, collection.as_deref())
}

/// The source release, also listed in the collection at `collection` when given.
pub fn run_into(ctx: &Context, collection: Option<&Utf8Path>) -> Result<()> {
    let ws = &ctx.ws;
    let fx = &ctx.effects;
    let channel = options::channel(&ctx.args, "RPM_CHANNEL", Channel::Prod)?;
    for (tool, package) in [("git", "git"), ("tar", "tar"), ("gzip", "gzip"), ("rpmbuild", "rpm")] {
        exec::tool(tool, package)?;
    }
    crate::toolchain::check(&ctx.ws)?;
    if ws.checkout.is_some() {
        return Err(Error::usage(format!(
            "dist makes the source release of {} from its own repository",
            ws.config.name()
        ))
        .with_help(format!(
            "check the tag out (git checkout {}X.Y) and run `{} dist` there",
            ws.config.tag_prefix, ctx.program
        )));
    }
    // As build_rpms: a push build never ships a release version, a tag build only HEAD's tag.
    let trigger = options::trigger(&ctx.args)?;
    let described = scm::describe(ws, trigger)?;
    let Some(commit) = described.commit.clone() else {
        return Err(Error::usage(format!("{} sets the version: dist needs the git commit it ships", scm::PRETEND_ENV))
            .with_help(format!("unset {} and run it in the git repository", scm::PRETEND_ENV)));
    };
    let head = ctx.args.flag("head");
    let mut problems = Vec::new();
    if described.dirty {
        problems.push("the work tree has uncommitted changes: a source release ships a commit".to_string());
    }
    if !described.version.is_release() && !head {
        problems.push(if trigger == Trigger::Push {
            format!("a push build ships no release: its version is {} (add --head to ship it)", described.pep440())
        } else {
            format!(
                "HEAD ({}) carries no release tag: its version is {}",
                &commit[..12.min(commit.len())],
                described.pep440()
            )
        });
    }
    // Every problem of the inputs at once, before anything is built.
    let mut refused = Vec::new();
    if !problems.is_empty() {
        let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
        refused.push(Error::usage(format!("no source release of {}:{list}", ws.config.name())).with_help(format!(
            "commit or stash your changes, check out the release tag (git checkout {}X.Y), or add --head for a source \
             release of HEAD at its dev version",
            ws.config.tag_prefix
        )));
    }
    let rebuild = ctx.args.flag("rebuild");
    if rebuild {
        // The clean root must be possible here before anything is built.
        let checks = crate::sandbox::rebuild::Toolchain::host()
            .and_then(|_| crate::sandbox::preflight(&ws.state_dir().join("sandbox")));
        refused.extend(checks.err());
    }
    let name = ws.config.name().to_string();
    let version = described.rpm();
    let top = format!("{name}-{version}");
    let release = ws.config.rpm.release.clone().unwrap_or_else(|| "1".into());
    let source_date = source_date(ws, &commit).map_err(|e| refused.push(e)).ok();
    let out = out_dir(ctx, channel).map_err(|e| refused.push(e)).ok();
    let members = workspace_members(ws)?;
    let packaged: Vec<&Member> = members
        .iter()
        .filter(|m| m.metadata.pointer("/trainyard/rpm").is_some() || m.metadata.get("generate-rpm").is_some())
        .collect();
    let spec = spec_text(&SpecInput {
        name: &name,
        version: &version,
        release: &release,
        semver: &described.semver(),
        commit: &commit,
        license: packaged
            .iter()
            .map(|m| &m.info)
            .chain(members.iter().map(|m| &m.info))
            .find_map(|i| i.license.clone())
            .unwrap_or_else(|| "Unknown".into()),
        packages: packaged.iter().map(|m| m.info.name.clone()).collect(),
        binaries: packaged.iter().flat_map(|m| m.info.bins.clone()).collect(),
    })
    .map_err(|e| refused.push(e))
    .ok();
    // A collection of this workspace must be there to list the source release in.
    let collection = collection.and_then(|dir| {
        crate::collection::read(dir)
            .and_then(|_| crate::collection::Output::check(dir, ws))
            .map_err(|e| refused.push(e))
            .ok()
    });
    let flags = BuildFlags::parse(&ctx.args).map_err(|e| refused.push(e)).ok();
    let (Some(source_date), Some(out), Some(spec), Some(flags)) = (source_date, out, spec, flags) else {
        return Err(all_at_once(refused));
    };
    if !refused.is_empty() {
        return Err(all_at_once(refused));
    }
    // The commit's own cargo configuration (aliases and the like) is kept in the tarball's.
    let original_config = Git::new(&ws.root).try_read(&["show", &format!("{commit}:.cargo/config.toml")])?;
    fx.planned_from(format_args!(
        "source release of {name} {version} from {} ({commit}), {channel} channel's lock file, into {}",
        described.tag.as_deref().filter(|_| described.version.is_release()).unwrap_or("HEAD"),
        ws.display(&out)
    ));
    // The channel's build: its resolution (and overrides) is what gets vendored, and it proves
    // the tree builds before anything is written. The build lock is held to the end.
    let build_args = BuildArgs { channel, refresh: false, flags, cargo_args: Vec::new() };
    let build::Planned { mut plan, outcome: built } = build::plan(ctx, &build_args)?;
    let internal = internal_trees(ctx, &built)?;

    let work = ws.state_dir().join("dist");
    let stage = work.join(&top);
    let vendor_dir = stage.join("vendor");
    let tarball = format!("{top}.tar.gz");
    let srpm = format!("{top}-{release}.src.rpm");
    let rpm_dir = work.join("rpmbuild");
    let spec_file = rpm_dir.join(format!("{name}.spec"));

    plan.remove_dir(&work).create_dir(&work);
    let archive = work.join(format!("{top}.git.tar"));
    unpack(&mut plan, &Git::new(&ws.root), &commit, &format!("{top}/"), &archive, &work);
    plan.copy(&built.site.lock, stage.join("Cargo.lock"));
    let mut patch_lines = Vec::new();
    for (project, tree, crates) in &internal {
        let commit = built.manifest.internal.iter().find(|r| &r.name == project).and_then(|r| r.commit.clone());
        let Some(commit) = commit else { continue };
        let mirror = Git::new(projects::cache(ws).mirror_path(project));
        let into = work.join(format!("{project}.git.tar"));
        unpack(&mut plan, &mirror, &commit, &format!("{top}/internal/{project}/"), &into, &work);
        for (url, krate, dir) in crates {
            let rel = dir.strip_prefix(tree).unwrap_or(Utf8Path::new(""));
            let path = Utf8Path::new("internal").join(project).join(rel);
            patch_lines.push((url.clone(), krate.clone(), path.to_string()));
        }
    }
    // `--quiet` would silence the configuration too (cargo 1.95): stderr is kept for a failure.
    let vendor = Invocation::new("vendor")
        .args(["--versioned-dirs", "--respect-source-config"])
        .at(&built.site)
        .locked()
        .patches(&built.patches)
        .arg(vendor_dir.as_str())
        .dir(&ws.root)
        .command()
        .network("cargo vendor");
    let config_path = stage.join(".cargo/config.toml");
    plan.later(format!(
        "vendor every dependency ({vendor}), then write {} from the sources cargo vendor prints",
        ws.display(&config_path)
    ));
    let tar_file = work.join(format!("{top}.tar"));
    plan.run(PlanCommand::program("tar").args([
        "--create".to_string(),
        "--file".into(),
        tar_file.to_string(),
        "--sort=name".into(),
        "--format=gnu".into(),
        "--owner=0".into(),
        "--group=0".into(),
        "--numeric-owner".into(),
        format!("--mtime=@{source_date}"),
        "--mode=u+rw,go=rX".into(),
        "-C".into(),
        work.to_string(),
        top.clone(),
    ]));
    plan.run(PlanCommand::program("gzip").args(["--no-name", "--best", "--force", tar_file.as_str()]));
    plan.create_dir(&rpm_dir);
    plan.rename(work.join(&tarball), rpm_dir.join(&tarball));
    plan.write(&spec_file, spec.into_bytes());
    // rpm records each source's mtime (and does not clamp them in a source RPM): the commit's.
    plan.run(PlanCommand::program("touch").args([
        "--no-create".to_string(),
        format!("--date=@{source_date}"),
        rpm_dir.join(&tarball).to_string(),
        spec_file.to_string(),
    ]));
    plan.run(rpmbuild_command(&rpm_dir, &spec_file, source_date));
    plan.remove_dir(&stage);
    // Both files in place, then (planned from their bytes) the manifest that names them.
    plan.create_dir(&out);
    for file in [&tarball, &srpm] {
        plan.rename(rpm_dir.join(file), out.join(file));
    }
    plan.remove_dir(&work);
    fx.execute_then(&plan, || {
        let Some(printed) = fx.apply_read(&vendor)? else { return Ok(()) };
        let config = offline_config(original_config.as_deref(), &printed, &vendor_dir, &patch_lines)?;
        let mut part = Plan::new();
        part.create_dir(&vendor_dir).write(&config_path, config.into_bytes());
        fx.execute(&part)
    })
    .map_err(|e| shadow_hint(e, &built.site))?;

    let listed_in = match &collection {
        Some(c) => format!(" and in {}/{}", c.path, crate::collection::MANIFEST),
        None => String::new(),
    };
    let what = format!(
        "list {tarball} and {srpm}, with their checksums, in {}{listed_in}",
        ws.display(&out.join("dist.json"))
    );
    fx.later(what, || {
        let mut files = Vec::new();
        for (file, kind) in [(&tarball, "source-tarball"), (&srpm, "source-rpm")] {
            let path = out.join(file);
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            files.push(DistFile { file: file.clone(), kind, sha256: sha256_hex(&bytes), size: bytes.len() as u64 });
        }
        let lock_bytes = std::fs::read(&built.site.lock).map_err(io(&built.site.lock))?;
        let sources: Vec<crate::collection::Source> = files
            .iter()
            .map(|f| crate::collection::Source {
                path: out.join(&f.file),
                kind: f.kind,
                sha256: f.sha256.clone(),
                size: f.size,
            })
            .collect();
        let manifest = DistManifest {
            workspace: name.clone(),
            channel,
            version: version.clone(),
            tag: described.tag.clone().filter(|_| described.version.is_release()),
            commit: commit.clone(),
            source_date,
            lock_sha256: sha256_hex(&lock_bytes),
            internal: built.manifest.internal.clone(),
            files,
        };
        let mut part = Plan::new();
        part.write(out.join("dist.json"), manifest_json(&manifest));
        if let Some(c) = &collection {
            let listing = crate::collection::Listing { output: c.clone(), owner: name.clone(), sources };
            part.push(Action::ListSources(Box::new(listing)));
        }
        fx.execute(&part)?;
        if let Some(c) = &collection {
            fx.done(format_args!("{tarball} and {srpm} listed in {}/{}", c.path, crate::collection::MANIFEST));
        }
        Ok(())
    })?;
    if rebuild {
        let rebuilt = ws.state_dir().join("dist-rebuilt");
        let what = format!(
            "rebuild {srpm} with rpmbuild --rebuild in a clean sandbox root with no network, into {}",
            ws.display(&rebuilt)
        );
        fx.later(what, || {
            let mut part = Plan::new();
            part.remove_dir(&rebuilt);
            fx.execute(&part)?;
            let sandbox = ws.state_dir().join("sandbox");
            for rpm in crate::sandbox::rebuild::rebuild(&out.join(&srpm), &sandbox, &rebuilt)? {
                println!("rebuilt offline in a clean root: {}", ws.display(&rpm));
            }
            Ok(())
        })?;
    }
    fx.result(format_args!("source release of {name} {version}: {tarball} and {srpm} in {}", ws.display(&out)));
    Ok(())
}

/// One error for every problem found: the first's kind (its exit code), each message and help.
fn all_at_once(mut errors: Vec<Error>) -> Error {
    if errors.len() == 1 {
        return errors.remove(0);
    }
    let kind = errors.first().map_or(crate::error::Kind::Failed, |e| e.kind);
    let mut message = String::from("the source release cannot be made:");
    let mut helps = Vec::new();
    for e in &errors {
        message.push_str(&format!("\n  - {}", e.message.replace('\n', "\n    ")));
        helps.extend(e.help.clone());
    }
    let joined = Error::new(kind, message);
    if helps.is_empty() {
        joined
    } else {
        joined.with_help(helps.join("\n"))
    }
}

/// Adds to `plan` what unpacks `commit` of `git` under `prefix` into `into`, through the
/// archive file `archive`.
fn unpack(plan: &mut Plan, git: &Git, commit: &str, prefix: &str, archive: &Utf8Path, into: &Utf8Path) {
    plan.run(git.planned(&[
        "archive",
        "--format=tar",
        &format!("--prefix={prefix}"),
        "--output",
        archive.as_str(),
        commit,
    ]));
    plan.run(PlanCommand::program("tar").args(["--extract", "--file", archive.as_str(), "-C", into.as_str()]));
    plan.remove_file(archive);
}

/// Where the source release goes: `--out`, or `target/dist/<channel>/`. Not the collection's
/// directory: `build_rpms` replaces that as a whole, and a file written into it would race with
/// the switch.
fn out_dir(ctx: &Context, channel: Channel) -> Result<Utf8PathBuf> {
    match ctx.args.value("out") {
        Some("") => Err(Error::usage("--out is empty")
            .with_help("give --out a directory, or leave it out for target/dist/<channel>")),
        Some(dir) if Utf8Path::new(dir).is_absolute() => Ok(dir.into()),
        Some(dir) => Ok(ctx.ws.root.join(dir)),
        None => Ok(ctx.ws.target_dir.join("dist").join(channel.as_str())),
    }
}

/// `dist.json`'s bytes.
fn manifest_json(manifest: &DistManifest) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(manifest).expect("dist manifest serialises");
    json.push(b'\n');
    json
}

/// Each overridden internal project: its name, its checkout, and each patched crate
/// (source URL, crate, directory in the checkout), read back from the build's patches.
#[allow(clippy::type_complexity)]
fn internal_trees(
    ctx: &Context,
    built: &build::BuildOutcome,
) -> Result<Vec<(String, Utf8PathBuf, Vec<(String, String, Utf8PathBuf)>)>> {
    let cache = projects::cache(&ctx.ws);
    let mut out: Vec<(String, Utf8PathBuf, Vec<(String, String, Utf8PathBuf)>)> = Vec::new();
    for arg in built.patches.iter().filter(|a| a.as_str() != "--config") {
        let table: toml::Table =
            toml::from_str(arg).map_err(|e| Error::failed(format!("reading the override patch `{arg}`: {e}")))?;
        let Some(toml::Value::Table(patch)) = table.get("patch") else { continue };
        for (url, crates) in patch {
            let Some(crates) = crates.as_table() else { continue };
            for (krate, entry) in crates {
                let Some(dir) = entry.get("path").and_then(|p| p.as_str()) else { continue };
                let dir = Utf8PathBuf::from(dir);
                let owner = built.manifest.internal.iter().find_map(|r| {
                    let tree = cache.tree_path(&r.name, r.commit.as_deref()?);
                    dir.starts_with(&tree).then(|| (r.name.clone(), tree))
                });
                let Some((project, tree)) = owner else {
                    return Err(Error::failed(format!(
                        "the override of {krate} ({dir}) is not in a checkout of an internal project"
                    )));
                };
                match out.iter_mut().find(|(p, _, _)| *p == project) {
                    Some((_, _, list)) => list.push((url.clone(), krate.clone(), dir)),
                    None => out.push((project, tree, vec![(url.clone(), krate.clone(), dir)])),
                }
            }
        }
    }
    Ok(out)
}

/// The tarball's `.cargo/config.toml`: the workspace's own (aliases and the like) without its
/// `[source]` replacements, the vendored sources `cargo vendor` printed (at `vendor/`), and a
/// `[patch]` per internal-project override (at `internal/PROJECT/...`).
pub fn offline_config(
    original: Option<&str>,
    vendor_printed: &str,
    vendor_dir: &Utf8Path,
    patches: &[(String, String, String)],
) -> Result<String> {
    let mut config: toml::Table = match original {
        Some(text) => {
            toml::from_str(text).map_err(|e| Error::usage(format!(".cargo/config.toml of the workspace: {e}")))?
        }
        None => toml::Table::new(),
    };
    config.remove("source");
    let printed = vendor_printed.replace(&format!("\"{vendor_dir}\""), "\"vendor\"");
    let vendored: toml::Table =
        toml::from_str(&printed).map_err(|e| Error::failed(format!("reading what cargo vendor printed: {e}")))?;
    if let Some(source) = vendored.get("source") {
        config.insert("source".into(), source.clone());
    }
    if !patches.is_empty() {
        let patch = config.entry("patch").or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(patch) = patch.as_table_mut() else {
            return Err(Error::usage("`patch` in the workspace's .cargo/config.toml is not a table"));
        };
        for (url, krate, path) in patches {
            let per_url = patch.entry(url.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let Some(per_url) = per_url.as_table_mut() {
                let mut entry = toml::Table::new();
                entry.insert("path".into(), toml::Value::String(path.clone()));
                per_url.insert(krate.clone(), toml::Value::Table(entry));
            }
        }
    }
    let mut text = String::from("# Written by trainyard dist: every dependency comes from this tree.\n");
    text.push_str(&toml::to_string(&config).map_err(|e| Error::failed(format!("writing .cargo/config.toml: {e}")))?);
    Ok(text)
}

struct SpecInput<'a> {
    name: &'a str,
    version: &'a str,
    release: &'a str,
    semver: &'a str,
    commit: &'a str,
    license: String,
    /// The packaged crates (`cargo build --package`); none: the whole workspace.
    packages: Vec<String>,
    binaries: Vec<String>,
}

/// The spec of the source RPM: the tarball built offline and frozen, the packaged binaries installed.
fn spec_text(input: &SpecInput<'_>) -> Result<String> {
    let plain = |what: &str, v: &str| {
        if !v.is_empty() && !v.starts_with('-') && v.chars().all(|c| c.is_ascii_alphanumeric() || "._+~^-".contains(c))
        {
            Ok(())
        } else {
            Err(Error::usage(format!("{what} `{}` cannot go into a spec file", v.escape_debug())))
        }
    };
    plain("name", input.name)?;
    plain("version", input.version)?;
    plain("release", input.release)?;
    plain("version", input.semver)?;
    for v in input.packages.iter().chain(&input.binaries) {
        plain("crate or binary", v)?;
    }
    if input.license.contains('\n') || input.license.contains('%') {
        return Err(Error::usage(format!("license `{}` cannot go into a spec file", input.license.escape_debug())));
    }
    let mut s = String::new();
    s.push_str(&format!(
        "# Written by trainyard dist: {} at {}, every dependency vendored; builds with no network.\n",
        input.name, input.commit
    ));
    s.push_str("%global debug_package %{nil}\n\n");
    s.push_str(&format!("Name:           {}\n", input.name));
    s.push_str(&format!("Version:        {}\n", input.version));
    s.push_str(&format!("Release:        {}%{{?dist}}\n", input.release));
    s.push_str(&format!("Summary:        {} built from its source release\n", input.name));
    s.push_str(&format!("License:        {}\n", input.license));
    s.push_str("Source0:        %{name}-%{version}.tar.gz\n");
    s.push_str("BuildRequires:  cargo\nBuildRequires:  rust\n\n");
    s.push_str(&format!(
        "%description\n{} {}, built offline from its vendored sources.\n\n",
        input.name, input.version
    ));
    s.push_str("%prep\n%setup -q -n %{name}-%{version}\n\n");
    s.push_str("%build\nexport CARGO_HOME=\"$PWD/.cargo-home\"\n");
    s.push_str(&format!("export TRAINYARD_VERSION={}\n", input.semver));
    s.push_str("cargo build --release --offline --frozen");
    if input.packages.is_empty() {
        s.push_str(" --workspace");
    }
    for p in &input.packages {
        s.push_str(&format!(" --package {p}"));
    }
    s.push_str("\n\n%install\n");
    for bin in &input.binaries {
        s.push_str(&format!("install -D -m 0755 target/release/{bin} %{{buildroot}}%{{_bindir}}/{bin}\n"));
    }
    s.push_str("\n%files\n");
    for bin in &input.binaries {
        s.push_str(&format!("%{{_bindir}}/{bin}\n"));
    }
    Ok(s)
}

/// `rpmbuild -bs` with every time the commit's and a fixed build host: the same bytes each run.
fn rpmbuild_command(dir: &Utf8Path, spec: &Utf8Path, source_date: u64) -> PlanCommand {
    let defines = [
        format!("_sourcedir {dir}"),
        format!("_srcrpmdir {dir}"),
        "dist %{nil}".to_string(),
        "use_source_date_epoch_as_buildtime 1".to_string(),
        "clamp_mtime_to_source_epoch 1".to_string(),
        "_buildhost reproducible".to_string(),
    ];
    PlanCommand::program("rpmbuild")
        .env("SOURCE_DATE_EPOCH", source_date.to_string())
        .args(["-bs", "--quiet"])
        .args(defines.iter().flat_map(|d| ["--define".to_string(), d.clone()]))
        .arg(spec.as_str())
}

fn source_date(ws: &crate::workspace::Workspace, commit: &str) -> Result<u64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        return v.trim().parse().map_err(|_| {
            Error::usage(format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"))
                .with_help("unset it, or give seconds since 1970-01-01")
        });
    }
    let t = Git::new(&ws.root).read(&["show", "-s", "--format=%ct", commit])?;
    t.trim().parse().map_err(|_| Error::failed(format!("git gave `{t}` as the time of {commit}")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_config_replaces_sources_keeps_aliases_and_adds_patches() {
        let original = "[alias]\nxtask = \"run -p xtask --\"\n\n[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\nlocal-registry = \"/r\"\n";
        let printed = "[source.crates-io]\nreplace-with = \"vendored-sources\"\n\n[source.vendored-sources]\ndirectory = \"/w/t/vendor\"\n";
        let patches =
            [("file:///x/server-core".to_string(), "server-core".to_string(), "internal/server-core/core".to_string())];
        let text = offline_config(Some(original), printed, Utf8Path::new("/w/t/vendor"), &patches).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(t["alias"]["xtask"].as_str(), Some("run -p xtask --"));
        assert_eq!(t["source"]["crates-io"]["replace-with"].as_str(), Some("vendored-sources"));
        assert_eq!(t["source"]["vendored-sources"]["directory"].as_str(), Some("vendor"));
        assert!(t["source"].get("fixture").is_none());
        assert_eq!(
            t["patch"]["file:///x/server-core"]["server-core"]["path"].as_str(),
            Some("internal/server-core/core")
        );
    }

    #[test]
    fn spec_builds_frozen_offline_and_refuses_what_a_spec_cannot_hold() {
        let input = SpecInput {
            name: "portal",
            version: "1.3~~dev2",
            release: "1",
            semver: "1.3.0-0.dev.2",
            commit: "abc",
            license: "MIT".into(),
            packages: vec!["app".into()],
            binaries: vec!["app".into()],
        };
        let s = spec_text(&input).unwrap();
        assert!(s.contains("cargo build --release --offline --frozen --package app\n"), "{s}");
        assert!(s.contains("%{_bindir}/app\n"));
        let bad = SpecInput { binaries: vec!["app; rm -rf /".into()], ..input };
        assert_eq!(spec_text(&bad).unwrap_err().exit_code(), 2);
    }
}
