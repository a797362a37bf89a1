//! Publish: copy a collection's RPMs into the channel's repository (`<repo>/<channel>/`,
//! local or over SSH, see [`super::repo`]), sign the copies and the metadata, and record
//! the publish in the channel's history. A channel's repository never receives a dev
//! version unless it is the dev channel's, and a published file never changes: the same
//! name with other bytes is refused, the same bytes are a no-op.

use camino::{Utf8Path, Utf8PathBuf};

use super::history::{self, Action, FileRecord, Record};
use super::repo::{self, Destination, Session, Signer};
use crate::channel::Channel;
use crate::error::{io, Error, Result};
use crate::exec;
use crate::version::{rpm_stage, Stage};
use crate::Context;

/// An RPM of the collection, as `rpm -qp` reads it.
#[derive(Debug, Clone)]
pub struct Package {
    pub path: Utf8PathBuf,
    pub nevra: String,
    pub version: String,
    pub release: String,
    pub name: String,
    /// SHA-256 of the immutable header (which holds the payload's digest): the same before
    /// and after signing, so it tells a signed copy of a build from another build.
    pub header_digest: String,
}

impl Package {
    pub fn file_name(&self) -> &str {
        self.path.file_name().unwrap_or("package.rpm")
    }
}

/// The channel's repository under `repo_dir`.
pub fn channel_dir(repo_dir: &Utf8Path, channel: Channel) -> Utf8PathBuf {
    repo_dir.join(channel.as_str())
}

/// The RPMs a collection's `collection.json` lists, nothing else of its directory: in the
/// directory `dir` resolves to now (a build_rpms switching `dir` later does not change them),
/// each checked against the size and SHA-256 the manifest gives.
pub fn rpm_files(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let (real, listed) = crate::collection::read(dir)?;
    let mut out = Vec::new();
    for l in &listed {
        let path = real.join(&l.file);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        if crate::collection::sha256(&bytes) != l.sha256 {
            return Err(Error::failed(format!("{dir}/{}: its SHA-256 is not the one collection.json lists", l.file))
                .with_help("the collection was changed by something other than build_rpms: build it again"));
        }
        out.push(path);
    }
    out.sort();
    Ok(out)
}

/// Reads the collection's RPMs back with `rpm -qp`.
pub fn read_packages(files: &[Utf8PathBuf]) -> Result<Vec<Package>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    exec::tool("rpm", "rpm")?;
    let mut out = Vec::new();
    for path in files {
        let query = crate::plan::Command::program("rpm").args([
            "-qp",
            "--nosignature",
            "--qf",
            "%{NEVRA}\t%{VERSION}\t%{RELEASE}\t%{NAME}\t%{SHA256HEADER}",
            path.as_str(),
        ]);
        let line = exec::read_command(&query).map_err(|e| e.context(format!("reading {path}")))?;
        let mut f = line.split('\t');
        let (Some(nevra), Some(version), Some(release), Some(name), Some(digest)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(Error::failed(format!("{path}: rpm printed `{line}`")));
        };
        out.push(Package {
            path: path.clone(),
            nevra: nevra.into(),
            version: version.into(),
            release: release.into(),
            name: name.into(),
            header_digest: digest.into(),
        });
    }
    Ok(out)
}

/// Where the channels' repositories are: `--repo-dir` (given as `repo_dir`), else
/// `$TRAINYARD_REPO`, else `publish.repo` in the configuration, else `target/trainyard/repos`.
pub fn destination(ctx: &Context, repo_dir: Option<&str>) -> Result<Destination> {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
        .unwrap_or_else(|| ctx.ws.root.clone());
    if let Some(r) = repo_dir {
        return Destination::parse(r, &cwd);
    }
    if let Ok(r) = std::env::var(repo::REPO_VAR) {
        if !r.trim().is_empty() {
            return Destination::parse(r.trim(), &cwd);
        }
    }
    match &ctx.ws.config.publish.repo {
        Some(r) => Destination::parse(r, &ctx.ws.root),
        None => Ok(Destination::Local(ctx.ws.state_dir().join("repos"))),
    }
}

/// Where remote repositories are mirrored while they change.
pub fn mirrors(ctx: &Context) -> Utf8PathBuf {
    ctx.ws.state_dir().join("repo-mirrors")
}

/// The URL clients use (the `.repo` file's `baseurl`): `$TRAINYARD_REPO_URL` or `publish.base-url`.
pub fn base_url(ctx: &Context) -> Option<String> {
    std::env::var(repo::BASE_URL_VAR).ok().filter(|v| !v.trim().is_empty()).or(ctx.ws.config.publish.base_url.clone())
}

/// Where a file of a release stands in a channel's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Not there: it will be copied.
    New,
    /// There with the same bytes, or a signed copy of the same build: nothing to do.
    Present,
    /// In the archive (a rollback took it out): it goes back.
    Restore,
    /// The same name with another build: refused.
    Conflict { theirs: String },
}

/// Compares a package with the file of the same name in the channel's repository.
pub fn place(session: &Session, file: &str, path: &Utf8Path, header_digest: &str) -> Result<Placement> {
    let ours = repo::sha256_file(path)?;
    for (at, found) in [(session.dir.join(file), Placement::Present), (session.archive_path(file), Placement::Restore)]
    {
        if !at.is_file() {
            continue;
        }
        let theirs = repo::sha256_file(&at)?;
        if theirs == ours {
            return Ok(found);
        }
        let digest = read_packages(std::slice::from_ref(&at))?.remove(0).header_digest;
        if digest == header_digest && digest != "(none)" {
            return Ok(found);
        }
        return Ok(Placement::Conflict { theirs });
    }
    Ok(Placement::New)
}

/// The error for files whose name is taken by other bytes.
pub fn conflicts_error(where_: &str, conflicts: &[(String, String, String)]) -> Error {
    let mut message = format!("refusing to overwrite published files in {where_}:");
    for (file, theirs, ours) in conflicts {
        message.push_str(&format!("\n  - {file}: the repository has sha256 {theirs}, this one is sha256 {ours}"));
    }
    Error::failed(message).with_help(
        "a published package never changes: build the change as a new release (release fix) or raise the RPM Release",
    )
}

/// The release a collection is: `collection.json`'s version and commit, else the one version
/// all its packages share.
fn collection_release(collection: &Utf8Path, packages: &[Package]) -> Result<(String, Option<String>)> {
    let manifest = collection.join("collection.json");
    if let Ok(text) = std::fs::read_to_string(&manifest) {
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::usage(format!("{manifest}: not valid JSON: {e}")).with_help("run build_rpms again"))?;
        if let Some(v) = json["version"].as_str() {
            return Ok((v.to_string(), json["commit"].as_str().map(String::from)));
        }
    }
    let mut versions: Vec<&str> = packages.iter().map(|p| p.version.as_str()).collect();
    versions.sort();
    versions.dedup();
    match versions.as_slice() {
        [one] => Ok((one.to_string(), None)),
        _ => Err(Error::usage(format!(
            "{collection} has no collection.json and its packages have several versions ({})",
            versions.join(", ")
        ))
        .with_help("publish the output of build_rpms, whose collection.json names the release")),
    }
}

/// Publishes the RPMs of `collection` to the channel's repository; betas and release
/// candidates only to the dev channel.
pub fn publish(ctx: &Context, collection: &Utf8Path, repo_dir: &Utf8Path, channel: Channel) -> Result<Vec<Package>> {
    publish_allowing(ctx, collection, repo_dir, channel, false)
}

/// [`publish`], with `allow_prerelease` letting betas and release candidates into stage and
/// prod (`--allow-prerelease`). Dev builds never go there.
pub fn publish_allowing(
    ctx: &Context,
    collection: &Utf8Path,
    repo_dir: &Utf8Path,
    channel: Channel,
    allow_prerelease: bool,
) -> Result<Vec<Package>> {
    let dest = destination(ctx, Some(repo_dir.as_str()))?;
    publish_to(ctx, collection, &dest, channel, allow_prerelease)
}

/// Publishes to a [`Destination`] (a directory or a remote repository).
pub fn publish_to(
    ctx: &Context,
    collection: &Utf8Path,
    dest: &Destination,
    channel: Channel,
    allow_prerelease: bool,
) -> Result<Vec<Package>> {
    let effects = &ctx.effects;
    if !collection.is_dir() {
        return Err(Error::usage(format!("the collection {collection} does not exist"))
            .with_help("build it first (build_rpms), or give the directory of its RPMs"));
    }
    let packages = read_packages(&rpm_files(collection)?)?;
    if packages.is_empty() {
        return Err(Error::usage(format!("{collection} holds no RPM to publish")));
    }
    if channel != Channel::Dev {
        let of = |stage: Stage| -> Vec<String> {
            packages.iter().filter(|p| rpm_stage(&p.version, &p.release) == stage).map(|p| p.nevra.clone()).collect()
        };
        let dev = of(Stage::Dev);
        if !dev.is_empty() {
            return Err(Error::usage(format!(
                "refusing to publish development builds to the {channel} repository:\n  - {}",
                dev.join("\n  - ")
            ))
            .with_help(
                "only the dev channel's repository takes dev versions: publish a tagged release, or RPM_CHANNEL=dev",
            ));
        }
        let pre = of(Stage::Prerelease);
        if !pre.is_empty() && !allow_prerelease {
            return Err(Error::usage(format!(
                "refusing to publish betas and release candidates to the {channel} repository:\n  - {}",
                pre.join("\n  - ")
            ))
            .with_help(
                "betas and release candidates go to the dev channel (the testing channel): RPM_CHANNEL=dev; \
                 to put one in stage or prod anyway, add --allow-prerelease",
            ));
        }
    }
    let mut names: Vec<&str> = packages.iter().map(Package::file_name).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::usage(format!("{collection} holds two packages named {}", w[0])));
    }
    let (version, commit) = collection_release(collection, &packages)?;
    exec::tool("createrepo_c", "createrepo-c")?;
    let signer = Signer::for_channel(&ctx.ws.config.publish, channel)?;
    if let Some(s) = &signer {
        s.key_id()?;
    } else if channel != Channel::Dev {
        eprintln!(
            "trainyard: note: the {channel} repository is not signed: set ${} (or publish.gpg-key) to sign it",
            repo::KEY_VAR
        );
    }
    let session = Session::open(effects, dest, channel, &mirrors(ctx))?;
    let mut conflicts = Vec::new();
    let mut todo = Vec::new();
    for p in &packages {
        let file = p.file_name().to_string();
        let place = place(&session, &file, &p.path, &p.header_digest)?;
        if let Placement::Conflict { theirs } = &place {
            conflicts.push((file.clone(), theirs.clone(), repo::sha256_file(&p.path)?));
        }
        todo.push((p, file, place));
    }
    if !conflicts.is_empty() {
        return Err(conflicts_error(&dest.describe(channel), &conflicts));
    }
    let where_ = dest.describe(channel);
    let mut listed = session.listed()?;
    if todo.iter().all(|(_, file, place)| *place == Placement::Present && listed.contains(file)) {
        eprintln!("trainyard: nothing to publish: {where_} already holds every file of {version}, as published");
        return Ok(packages);
    }
    let copies: Vec<(Utf8PathBuf, String)> =
        todo.iter().filter(|t| t.2 == Placement::New).map(|(p, file, _)| (p.path.clone(), file.clone())).collect();
    let mut plan = crate::plan::Plan::new();
    session.plan_copies(&mut plan, &copies, signer.as_ref())?;
    for (_, file, place) in &todo {
        if *place == Placement::Restore {
            plan.rename(session.archive_path(file), session.dir.join(file));
        }
    }
    let app = ctx.ws.config.name().to_string();
    listed.extend(todo.iter().map(|(_, file, _)| file.clone()));
    let metadata = session.plan_metadata(&mut plan, &listed, signer.as_ref(), &app, base_url(ctx).as_deref())?;
    let git = crate::git::Git::new(&ctx.ws.root);
    let commit = commit.or_else(|| git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]).ok().flatten());
    let dir = session.dir.clone();
    let record = || -> Result<Record> {
        let mut files = Vec::new();
        for (p, file, _) in &todo {
            // As published: signed, so only known once signed.
            let sha256 = repo::sha256_file(&dir.join(file))?;
            files.push(FileRecord { file: file.clone(), nevra: p.nevra.clone(), sha256 });
        }
        Ok(Record {
            action: Action::Publish,
            channel: channel.as_str().into(),
            version: version.clone(),
            from: None,
            time: history::now(),
            commit,
            who: history::who(&git),
            files,
            archived: Vec::new(),
        })
    };
    session.change(
        effects,
        plan,
        &metadata,
        &format!("publish {version} (the SHA-256 of each file as published)"),
        record,
        &[],
    )?;
    let count = format!("{} package{}", packages.len(), if packages.len() == 1 { "" } else { "s" });
    let signed = if signer.is_some() { ", signed" } else { "" };
    effects.result(format!("published {version} ({count}{signed}) to {where_}"));
    Ok(packages)
}

/// A publish under a trigger (`release publish --trigger push|tag`, or `auto` in CI) publishes
/// only the version that trigger gives HEAD: a push build never a release, a tag build only
/// HEAD's release tag. The collection's `collection.json` names its version; outside CI with
/// `auto` nothing is checked beyond the channel rules.
pub fn check_trigger(
    ws: &crate::workspace::Workspace,
    collection: &Utf8Path,
    trigger: crate::scm::Trigger,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    use crate::scm::{self, Mode};
    let ci = scm::ci_build(env);
    let mode = scm::resolve_trigger(trigger, ci.as_ref(), &ws.config.tag_prefix);
    if mode == Mode::Local {
        return Ok(());
    }
    let manifest = collection.join("collection.json");
    let text = match std::fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!(
                "a {} publish needs the collection's version, but {manifest} does not exist",
                if mode == Mode::Push { "push" } else { "tag" }
            ))
            .with_help("publish a collection build_rpms wrote (it writes collection.json beside the RPMs)"))
        }
        Err(e) => return Err(io(&manifest)(e)),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::usage(format!("{manifest}: not a collection manifest: {e}")))?;
    let Some(built) = json.get("version").and_then(|v| v.as_str()) else {
        return Err(Error::usage(format!("{manifest}: no `version`")));
    };
    let allowed =
        scm::describe_with(ws, trigger, env).map_err(|e| e.context("the version this build may publish"))?.rpm();
    if built != allowed {
        let help = match mode {
            Mode::Push => {
                "a push build publishes only the dev version of HEAD: build_rpms --trigger push, then publish"
            }
            _ => "a tag build publishes only HEAD's release: check out the tag, build_rpms --trigger tag, then publish",
        };
        return Err(Error::usage(format!(
            "refusing to publish {built}: this {} build may publish only {allowed}",
            if mode == Mode::Push { "push" } else { "tag" }
        ))
        .with_help(help));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_of_rpm_versions() {
        for dev in ["1.3~~dev5", "1.3.dev5", "1.3dev", "dev1", "0.12.0~b2~~dev3", "1.2~rc1~~dev1"] {
            assert_eq!(rpm_stage(dev, "1"), Stage::Dev, "{dev}");
        }
        assert_eq!(rpm_stage("1.3", "0.dev.5"), Stage::Dev);
        for pre in ["0.12.0~b1", "1.2~rc1", "0.18.0~rc2"] {
            assert_eq!(rpm_stage(pre, "1"), Stage::Prerelease, "{pre}");
        }
        // A dependency's own pre-release (its source RPM) is not this project's.
        for release in ["1.2", "1.2.1", "1", "1.devices", "0.18.0", "0.9.0~beta.1"] {
            assert_eq!(rpm_stage(release, "1"), Stage::Final, "{release}");
        }
    }
}
