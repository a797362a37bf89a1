//! Publish: copy a collection's RPMs into the channel's package repository directory
//! (`<repo-dir>/<channel>/`) and refresh its metadata (`createrepo_c --update`), so that
//! `dnf --repofrompath` installs from it. A channel's repository never receives a dev
//! version unless it is the dev channel's.

use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::channel::Channel;
use crate::error::{io, Error, Result};
use crate::exec::{self, command_error, Effects};
use crate::version::{rpm_stage, Stage};

/// An RPM of the collection, as `rpm -qp` reads it.
#[derive(Debug, Clone)]
pub struct Package {
    pub path: Utf8PathBuf,
    pub nevra: String,
    pub version: String,
    pub release: String,
}

/// The channel's repository under `repo_dir`.
pub fn channel_dir(repo_dir: &Utf8Path, channel: Channel) -> Utf8PathBuf {
    repo_dir.join(channel.as_str())
}

/// Every `*.rpm` under `dir`, sorted.
pub fn rpm_files(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let Ok(path) = Utf8PathBuf::from_path_buf(entry.path()) else { continue };
            if entry.file_type().map_err(io(&path))?.is_dir() {
                if path.file_name() != Some("repodata") {
                    stack.push(path);
                }
            } else if path.extension() == Some("rpm") {
                out.push(path);
            }
        }
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
    let sh = Shell::new().map_err(command_error)?;
    let mut out = Vec::new();
    for path in files {
        let line = exec::read(cmd!(sh, "rpm -qp --nosignature --qf '%{NEVRA}\t%{VERSION}\t%{RELEASE}' {path}"))
            .map_err(|e| e.context(format!("reading {path}")))?;
        let mut f = line.split('\t');
        let (Some(nevra), Some(version), Some(release)) = (f.next(), f.next(), f.next()) else {
            return Err(Error::failed(format!("{path}: rpm printed `{line}`")));
        };
        out.push(Package { path: path.clone(), nevra: nevra.into(), version: version.into(), release: release.into() });
    }
    Ok(out)
}

/// Publishes the RPMs of `collection` to `<repo_dir>/<channel>/`; betas and release candidates
/// only to the dev channel.
pub fn publish(
    effects: &Effects,
    collection: &Utf8Path,
    repo_dir: &Utf8Path,
    channel: Channel,
) -> Result<Vec<Package>> {
    publish_allowing(effects, collection, repo_dir, channel, false)
}

/// [`publish`], with `allow_prerelease` letting betas and release candidates into stage and
/// prod (`--allow-prerelease`). Dev builds never go there.
pub fn publish_allowing(
    effects: &Effects,
    collection: &Utf8Path,
    repo_dir: &Utf8Path,
    channel: Channel,
    allow_prerelease: bool,
) -> Result<Vec<Package>> {
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
    let createrepo = exec::tool("createrepo_c", "createrepo-c")?;
    let dest = channel_dir(repo_dir, channel);
    effects.create_dir(&dest)?;
    for p in &packages {
        let name = p.path.file_name().unwrap_or("package.rpm");
        let bytes = std::fs::read(&p.path).map_err(io(&p.path))?;
        effects.write(&dest.join(name), &bytes)?;
    }
    let sh = Shell::new().map_err(command_error)?;
    let update = if dest.join("repodata").is_dir() { vec!["--update"] } else { vec![] };
    effects.run(cmd!(sh, "{createrepo} --quiet {update...} {dest}"))?;
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
