//! The version of the workspace, from git, with no code change per build: setuptools_scm's
//! rule for Cargo workspaces, plus the trigger rule that keeps push builds and tag builds apart.
//!
//! - HEAD carries a version tag (`rpm-1.2`, `v0.12.0b1`): that version.
//! - Otherwise the next version after the latest version tag reachable from HEAD, `.devN`:
//!   after a beta or rc, the next one (`0.12.0b2.devN` after `v0.12.0b1`); after a final, the
//!   next MINOR on the default branch and any other branch (`version-scheme = "next-patch"`:
//!   the next PATCH), the next MICRO on a release branch `X.Y-release` (whose name fixes the
//!   train at `X.Y`). Off a release branch, the workspace version in `Cargo.toml` raises the
//!   train when it is above the latest tag (`release start` and `release freeze` set it).
//! - N counts from where the train started: the tag it follows, or the commit that set
//!   `Cargo.toml` to the train, whichever is later (that commit is `.dev1`).
//! - Every version is written with the line's precision (`X.Y` or `X.Y.Z`): the configuration's,
//!   else the newest tag's.
//! - No version tag: `0.1.devN` (N counting from the root commit), or the `Cargo.toml` train;
//!   tags that look like versions under another prefix get a warning naming the fix.
//! - [`dev_version`] is the one function: `version`, a workspace built at another ref and an
//!   internal project at a branch all call it.
//! - Uncommitted changes: a dev version with a local `+dirty` marker; a tag build refuses.
//! - A shallow clone, or tags not fetched, fail with the command that fixes them: the count
//!   would be silently wrong.
//! - `TRAINYARD_PRETEND_VERSION` replaces git, for packagers building from a tarball.
//!
//! The trigger rule: `push` never yields a release (tags on HEAD are ignored, the count runs
//! from the previous release tag), so a push build racing a tag build of the same commit can
//! never publish the same version; `tag` requires HEAD to carry exactly one release tag;
//! `auto` asks the CI system (GitHub Actions, GitLab CI) and, outside CI, behaves as
//! setuptools_scm does: a tagged commit gives its release.

use std::fmt;

use serde_json::json;

use crate::config::{Config, VersionScheme};
use crate::error::{Error, Result};
use crate::exec;
use crate::git::{validate_ref, Git};
use crate::version::{Pre, Precision, Version};
use crate::workspace::Workspace;

/// Replaces git as the source of the version (`TRAINYARD_PRETEND_VERSION=1.4.2`).
pub const PRETEND_ENV: &str = "TRAINYARD_PRETEND_VERSION";

/// The fix for a clone that lacks history or tags.
const FETCH_HELP: &str = "fetch the history and the tags: git fetch --unshallow --tags\n\
                          in CI: actions/checkout with `fetch-depth: 0`; GitLab `GIT_DEPTH: 0`";

/// What started this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A push: never a release version.
    Push,
    /// A release tag: HEAD must carry exactly one, and that is the version.
    Tag,
    /// Ask the CI system; outside CI, a tagged commit gives its release.
    Auto,
}

impl Trigger {
    pub fn parse(text: &str) -> Result<Trigger> {
        match text {
            "push" => Ok(Trigger::Push),
            "tag" => Ok(Trigger::Tag),
            "auto" => Ok(Trigger::Auto),
            _ => Err(Error::usage(format!("unknown trigger `{}`", text.escape_debug()))
                .with_help("--trigger push, --trigger tag or --trigger auto (the default: the CI system decides)")),
        }
    }
}

/// How the version is decided, once `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Push,
    Tag,
    /// Outside CI: a clean commit carrying a release tag gives its release.
    Local,
}

/// What a CI system's variables say about this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiBuild {
    /// `GitHub Actions` or `GitLab CI`.
    pub system: &'static str,
    /// The tag being built, for a tag build.
    pub tag: Option<String>,
    /// The branch being built (a pull request's source branch), when known.
    pub branch: Option<String>,
}

/// Reads the CI variables: `GITHUB_ACTIONS`, `GITHUB_REF_TYPE`, `GITHUB_REF`, `GITHUB_REF_NAME`,
/// `GITHUB_HEAD_REF`; `GITLAB_CI`, `CI_COMMIT_TAG`, `CI_COMMIT_BRANCH`,
/// `CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`. `None` outside a known CI system.
pub fn ci_build(env: &dyn Fn(&str) -> Option<String>) -> Option<CiBuild> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if var("GITHUB_ACTIONS").as_deref() == Some("true") || var("GITHUB_REF").is_some() {
        let full_ref = var("GITHUB_REF").unwrap_or_default();
        let name = var("GITHUB_REF_NAME");
        let is_tag = match var("GITHUB_REF_TYPE").as_deref() {
            Some(kind) => kind == "tag",
            None => full_ref.starts_with("refs/tags/"),
        };
        let tag =
            is_tag.then(|| name.clone().or_else(|| full_ref.strip_prefix("refs/tags/").map(String::from))).flatten();
        let branch = var("GITHUB_HEAD_REF")
            .or_else(|| (!is_tag).then(|| full_ref.strip_prefix("refs/heads/").map(String::from).or(name)).flatten());
        return Some(CiBuild { system: "GitHub Actions", tag, branch });
    }
    if var("GITLAB_CI").as_deref() == Some("true") || var("CI_COMMIT_TAG").is_some() {
        let branch = var("CI_COMMIT_BRANCH").or_else(|| var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"));
        return Some(CiBuild { system: "GitLab CI", tag: var("CI_COMMIT_TAG"), branch });
    }
    None
}

/// Resolves `auto`: a CI build of a release tag is a tag build, any other CI build a push build
/// (a tag that is not a release tag publishes no release), and outside CI, local.
pub fn resolve_trigger(trigger: Trigger, ci: Option<&CiBuild>, tag_prefix: &str) -> Mode {
    match (trigger, ci) {
        (Trigger::Push, _) => Mode::Push,
        (Trigger::Tag, _) => Mode::Tag,
        (Trigger::Auto, None) => Mode::Local,
        (Trigger::Auto, Some(ci)) => {
            let release_tag =
                ci.tag.as_deref().and_then(|t| Version::parse_tag(t, tag_prefix)).is_some_and(|r| r.is_ok());
            if release_tag {
                Mode::Tag
            } else {
                Mode::Push
            }
        }
    }
}

/// Which part of the version a branch bumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The default branch, or any branch that is not a release branch: the next MINOR.
    Train,
    /// A release branch of `MAJOR.MINOR`: the next MICRO.
    Release { major: u64, minor: u64 },
}

/// The release branch a branch name is, from the `release-branch` template (`{version}-release`).
pub fn release_line(branch: &str, template: &str) -> Line {
    let (before, after) = template.split_once("{version}").unwrap_or((template, ""));
    let numbers = branch.strip_prefix(before).and_then(|rest| rest.strip_suffix(after));
    match numbers.and_then(|n| Version::parse_pep440(n).ok()) {
        Some(v) if v.micro.is_none() && v.is_release() => Line::Release { major: v.major, minor: v.minor },
        _ => Line::Train,
    }
}

/// The release a dev version leads up to: the rule of the module documentation, pure.
///
/// `latest` is the latest version tag reachable from HEAD (a final, beta or rc), `workspace`
/// the version in `Cargo.toml`. After a beta or rc, the next one of the same release
/// (`0.12.0b1` -> `0.12.0b2`): a version branch's commits sort above what it released. After a
/// final, the next minor on a train ([`VersionScheme::NextMinor`]) or the next patch
/// ([`VersionScheme::NextPatch`]); the next micro on a release branch. The caller writes the
/// result with the line's precision.
pub fn next_version(
    latest: Option<&Version>,
    line: Line,
    workspace: Option<&Version>,
    scheme: VersionScheme,
) -> Version {
    // Tags written `1.2` make `1.3`; tags written `1.2.0` make `1.3.0`; no tag: `MAJOR.MINOR`.
    let three = latest.is_some_and(|l| l.micro.is_some());
    let styled = |v: Version| match v.micro {
        Some(0) if !three => Version { micro: None, ..v },
        _ => v,
    };
    if let Some(next) = latest.and_then(Version::next_pre) {
        let on_line = match line {
            Line::Release { major, minor } => (major, minor) == (next.major, next.minor),
            Line::Train => true,
        };
        if on_line {
            return match workspace {
                Some(w) if styled(w.target()) > next => styled(w.target()),
                _ => next,
            };
        }
    }
    match line {
        Line::Release { major, minor } => {
            let branch = Version::new(major, minor, three.then_some(0));
            match latest {
                Some(l) if (l.major, l.minor) == (major, minor) || l.release() > branch => l.release().next_micro(),
                _ => branch,
            }
        }
        Line::Train => {
            let next = match (latest, scheme) {
                (Some(l), VersionScheme::NextPatch) => l.release().next_micro(),
                (Some(l), VersionScheme::NextMinor) => l.release().next_minor(),
                (None, _) => Version::new(0, 1, None),
            };
            match workspace {
                Some(w) if latest.iter().all(|l| w.target() > **l) && styled(w.target()) > next => styled(w.target()),
                _ => next,
            }
        }
    }
}

/// A dev version and what it was counted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dev {
    pub version: Version,
    /// Commits since the train started (the first commit of a train is 1).
    pub distance: u64,
    /// The version tag the version follows, if any.
    pub tag: Option<String>,
}

/// The dev version of commit `rev` in the repository `git` works in: the one function behind
/// `version`, a workspace built at another ref (`ACCOUNT_PORTAL=main`) and an internal project
/// at a branch (`SERVER_CORE=main`).
///
/// `branch` names the branch being built (a release branch fixes its line), `manifest` is the
/// path of the root `Cargo.toml` in the repository, `skip_tags` are tags to ignore (a push
/// build ignores the tags on HEAD). The count runs from where the train started: the version
/// tag the version follows, or the commit that set `Cargo.toml` to the train (`release start`'s
/// "starting the 1.4 development", `release freeze`'s move to the next minor), whichever is
/// later; that commit itself is `.dev1`.
pub fn dev_version(
    git: &Git,
    rev: &str,
    branch: Option<&str>,
    config: &Config,
    manifest: &str,
    skip_tags: &[String],
) -> Result<Dev> {
    let prefix = config.tag_prefix.as_str();
    let mut all = version_tags(git, &["tag", "--list"], prefix)?;
    // git lists tags by name (`rpm-1.10.0` before `rpm-1.9`): the precision is the newest's.
    all.sort_by_key(|(v, _)| *v);
    if all.is_empty() {
        warn_foreign_tags(git, prefix)?;
    }
    let mut reachable = version_tags(git, &["tag", "--merged", rev], prefix)?;
    reachable.retain(|(_, tag)| !skip_tags.contains(tag));
    let latest = reachable.into_iter().max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let line = branch.map_or(Line::Train, |b| release_line(b, &config.release_branch));
    let at_rev = |commit: &str| -> Result<Option<Version>> {
        let text = git.try_read(&["show", &format!("{commit}:{manifest}")])?;
        Ok(text.as_deref().and_then(manifest_version))
    };
    let workspace = at_rev(rev)?;
    let train = next_version(latest.as_ref().map(|(v, _)| v), line, workspace.as_ref(), config.version_scheme);
    let mut newest_first: Vec<&Version> = all.iter().map(|(v, _)| v).collect();
    newest_first.reverse();
    let precision = config
        .precision()
        .or_else(|| Precision::of_tags(newest_first))
        // Cargo.toml always writes three numbers: it says nothing of the line's precision.
        .unwrap_or(Precision::MajorMinor);
    let train = train.with_precision(precision);

    // Where the train started: the commit that set Cargo.toml to it, when Cargo.toml names it.
    let mut start = None;
    if workspace.is_some_and(|w| w.target() == train) {
        // Only the commits whose diff touches a `version =` line of the manifest: the bumps
        // (git reads -G as an extended regular expression).
        let log = git.read(&[
            "log",
            "--first-parent",
            "--format=%H",
            r"-G^[[:space:]]*(package\.)?version[[:space:]]*=",
            rev,
            "--",
            manifest,
        ])?;
        for commit in log.lines() {
            if at_rev(commit)?.is_some_and(|w| w.target() == train) {
                start = Some(commit.to_string());
            } else {
                break;
            }
        }
    }
    let from_tag = |tag: &str| count(git, &format!("refs/tags/{tag}..{rev}"));
    let (distance, tag) = match (&latest, start) {
        (Some((_, tag)), Some(start)) if !is_ancestor(git, &format!("refs/tags/{tag}"), &start)? => {
            (from_tag(tag)?, Some(tag.clone()))
        }
        (_, Some(start)) => (1 + count_excluding(git, rev, &start)?, latest.as_ref().map(|(_, t)| t.clone())),
        (Some((_, tag)), None) => (from_tag(tag)?, Some(tag.clone())),
        (None, None) => (count(git, rev)?, None),
    };
    Ok(Dev { version: train.dev(distance), distance, tag })
}

/// The version of commit `rev`: the newest version tag on it, else its dev version
/// ([`dev_version`]). For a checkout with no history of its own (a ref of an internal project,
/// or of the workspace itself, from a mirror).
pub fn version_at(git: &Git, rev: &str, branch: Option<&str>, config: &Config, manifest: &str) -> Result<Version> {
    let mut at = version_tags(git, &["tag", "--points-at", rev], &config.tag_prefix)?;
    at.sort_by_key(|(v, _)| *v);
    match at.pop() {
        Some((v, _)) => Ok(v),
        None => dev_version(git, rev, branch, config, manifest, &[]).map(|d| d.version),
    }
}

/// The version a `Cargo.toml` text names (`[workspace.package]`, else `[package]`).
fn manifest_version(text: &str) -> Option<Version> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let version = table
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .or_else(|| table.get("package").and_then(|p| p.get("version")))?
        .as_str()?;
    semver::Version::parse(version).ok().map(|v| Version::of_cargo(&v))
}

fn is_ancestor(git: &Git, ancestor: &str, descendant: &str) -> Result<bool> {
    Ok(git.try_read(&["merge-base", "--is-ancestor", ancestor, descendant])?.is_some())
}

/// Commits reachable from `rev` but not from `start`.
fn count_excluding(git: &Git, rev: &str, start: &str) -> Result<u64> {
    count(git, &format!("{start}..{rev}"))
}

/// How the release tags are spelled, for messages: `X.Y.Z` where the configuration or the tags
/// say so (hexyl's `v0.17.0`), else `X.Y`.
fn tag_shape(git: &Git, config: &Config) -> Result<&'static str> {
    let mut tags = version_tags(git, &["tag", "--list"], &config.tag_prefix)?;
    tags.sort_by_key(|(v, _)| *v);
    let precision = config.precision().or_else(|| Precision::of_tags(tags.iter().rev().map(|(v, _)| v)));
    Ok(match precision {
        Some(Precision::Full) => "X.Y.Z",
        _ => "X.Y",
    })
}

/// Says so when no tag has the configured prefix but some look like versions with another
/// (`v0.17.0` under the default `rpm-`): the dev version would silently count from the root.
fn warn_foreign_tags(git: &Git, prefix: &str) -> Result<()> {
    let out = git.read(&["tag", "--list", "--sort=-creatordate"])?;
    let mut by_prefix: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for tag in out.lines() {
        let Some(at) = tag.find(|c: char| c.is_ascii_digit()) else { continue };
        if Version::parse_tag(tag, &tag[..at]).is_some_and(|r| r.is_ok()) {
            by_prefix.entry(tag[..at].to_string()).or_default().push(tag.to_string());
        }
    }
    let Some((other, tags)) = by_prefix.into_iter().max_by_key(|(_, t)| t.len()) else { return Ok(()) };
    let shown: Vec<&str> = tags.iter().take(3).map(String::as_str).collect();
    eprintln!(
        "trainyard: warning: no tag starts with the tag prefix `{prefix}`, but {} tag{} look like releases ({}{}); \
         dev versions count from the commit that set Cargo.toml's version (else from the first commit)\nhelp: if those are the releases, set in Cargo.toml under [workspace.metadata.trainyard]: tag-prefix = \"{other}\"",
        tags.len(),
        if tags.len() == 1 { "" } else { "s" },
        shown.join(", "),
        if tags.len() > shown.len() { ", ..." } else { "" }
    );
    Ok(())
}

/// Where the version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Git,
    /// `TRAINYARD_PRETEND_VERSION`.
    Pretend,
    /// The workspace as of a ref (`ACCOUNT_PORTAL=rpm-1.2`): the ref's version, computed from the
    /// mirror when it was checked out ([`crate::workspace::Checkout`]).
    Checkout,
}

/// The version of the workspace at HEAD, and what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub version: Version,
    /// HEAD's commit id (`None` for a pretend version or a checkout).
    pub commit: Option<String>,
    /// Commits since `tag` (or since the root, without a tag); 0 for a release.
    pub distance: u64,
    /// The release tag HEAD carries (a release), or the one the dev version counts from.
    pub tag: Option<String>,
    /// The branch being built (from git, or the CI system on a detached HEAD).
    pub branch: Option<String>,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
    pub source: Source,
    pub mode: Mode,
}

/// The renderings `version --format` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pep440,
    Semver,
    Rpm,
    Tag,
    Docker,
    Json,
}

impl Format {
    pub const NAMES: &'static str = "pep440, semver, rpm, tag, docker, json";

    pub fn parse(text: &str) -> Result<Format> {
        Ok(match text {
            "pep440" => Format::Pep440,
            "semver" | "cargo" => Format::Semver,
            "rpm" => Format::Rpm,
            "tag" => Format::Tag,
            "docker" | "container" => Format::Docker,
            "json" => Format::Json,
            _ => {
                return Err(Error::usage(format!("unknown version format `{}`", text.escape_debug()))
                    .with_help(format!("formats: {}", Format::NAMES)))
            }
        })
    }
}

impl Described {
    /// The local marker of a dirty tree, PEP 440 and semver style.
    fn local(&self) -> &'static str {
        if self.dirty {
            "+dirty"
        } else {
            ""
        }
    }

    pub fn pep440(&self) -> String {
        format!("{}{}", self.version.to_pep440(), self.local())
    }

    /// The Cargo version: what `TRAINYARD_VERSION` carries.
    pub fn semver(&self) -> String {
        format!("{}{}", self.version.to_semver(), self.local())
    }

    pub fn rpm(&self) -> String {
        format!("{}{}", self.version.to_rpm(), self.local())
    }

    /// The git tag of this version; `None` for a dev version (or a dirty tree), which has none.
    pub fn release_tag(&self, prefix: &str) -> Option<String> {
        self.version.to_tag(prefix).filter(|_| !self.dirty)
    }

    /// The container tag: the release's version, or the sanitised branch name for a dev
    /// version (its PEP 440 text when no branch is known), `-dirty` for a dirty tree.
    pub fn container_tag(&self) -> String {
        let tag = match (&self.branch, self.version.is_dev()) {
            (Some(branch), true) => self.version.to_container_tag(branch),
            _ => self.version.to_pep440(),
        };
        if self.dirty {
            format!("{tag}-dirty")
        } else {
            tag
        }
    }

    /// One rendering, as `version --format` prints it.
    pub fn render(&self, format: Format, tag_prefix: &str) -> Result<String> {
        Ok(match format {
            Format::Pep440 => self.pep440(),
            Format::Semver => self.semver(),
            Format::Rpm => self.rpm(),
            Format::Docker => self.container_tag(),
            Format::Json => self.to_json(tag_prefix).to_string(),
            Format::Tag => match self.release_tag(tag_prefix) {
                Some(tag) => tag,
                None if self.version.is_dev() => {
                    return Err(Error::failed(format!(
                        "{} is a dev version: dev versions have no git tag",
                        self.pep440()
                    ))
                    .with_help("release tags are made by `release tag`; use --format pep440|semver|rpm|docker"))
                }
                None => {
                    return Err(Error::failed(format!(
                        "{} has uncommitted changes on top: no release tag names it",
                        self.version
                    ))
                    .with_help("commit or stash the changes"))
                }
            },
        })
    }

    /// Every rendering and where the version came from.
    pub fn to_json(&self, tag_prefix: &str) -> serde_json::Value {
        json!({
            "version": self.pep440(),
            "pep440": self.pep440(),
            "semver": self.semver(),
            "rpm": self.rpm(),
            "tag": self.release_tag(tag_prefix),
            "docker": self.container_tag(),
            "release": self.version.is_release(),
            "dev": self.version.is_dev(),
            "commit": self.commit,
            "distance": self.distance,
            "dirty": self.dirty,
            "branch": self.branch,
            "base_tag": self.tag,
            "source": self.source,
            "trigger": self.mode,
        })
    }
}

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pep440())
    }
}

/// The workspace's version in the root `Cargo.toml`: `[workspace.package] version`, else the
/// root package's own. Its release part only (`1.3.0-alpha.1` -> `1.3.0`).
pub fn workspace_version(ws: &Workspace) -> Result<Option<Version>> {
    let text = std::fs::read_to_string(&ws.manifest).map_err(crate::error::io(&ws.manifest))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let message = format!("{}: {}", ws.manifest, e.to_string().trim_end());
        Error::caused_by(crate::error::Kind::Usage, message, e)
    })?;
    let field = |path: &[&str]| {
        let mut value = table.get(path[0])?;
        for key in &path[1..] {
            value = value.get(key)?;
        }
        value.as_str()
    };
    let (key, text) = match (field(&["workspace", "package", "version"]), field(&["package", "version"])) {
        (Some(v), _) => ("[workspace.package] version", v),
        (None, Some(v)) => ("[package] version", v),
        (None, None) => return Ok(None),
    };
    let v = semver::Version::parse(text).map_err(|e| {
        Error::usage(format!("{}: {key} = \"{text}\" is not a Cargo version: {e}", ws.manifest))
            .with_help("write MAJOR.MINOR.PATCH, for example version = \"1.3.0\"")
    })?;
    Ok(Some(Version::new(v.major, v.minor, Some(v.patch))))
}

/// The version of the workspace at HEAD (see the module documentation), from the process's
/// environment.
pub fn describe(ws: &Workspace, trigger: Trigger) -> Result<Described> {
    describe_with(ws, trigger, &|name| std::env::var(name).ok())
}

/// [`describe`] with the environment passed in.
pub fn describe_with(ws: &Workspace, trigger: Trigger, env: &dyn Fn(&str) -> Option<String>) -> Result<Described> {
    let prefix = ws.config.tag_prefix.as_str();
    let ci = ci_build(env);
    let mode = resolve_trigger(trigger, ci.as_ref(), prefix);
    let ci_branch = ci.as_ref().and_then(|c| c.branch.clone());
    if let Some(text) = env(PRETEND_ENV).filter(|v| !v.is_empty()) {
        return pretend(&text, mode, ci_branch);
    }
    if let Some(version) = ws.checkout.as_ref().and_then(|c| c.version) {
        // The ref the user named is that version, whatever triggered the build. Like a pretend
        // version, it has no commit here: the checkout is not a repository (its commit is
        // `ws.checkout`'s).
        let distance = match version.pre {
            Some(Pre::Dev(n)) => n,
            _ => 0,
        };
        return Ok(Described {
            version,
            commit: None,
            distance,
            tag: None,
            branch: ci_branch,
            dirty: false,
            source: Source::Checkout,
            mode,
        });
    }

    exec::tool("git", "git")?;
    let git = Git::new(&ws.root);
    let no_git_help = format!("build from a git clone, or give the version: {PRETEND_ENV}=1.4.2");
    if !Git::is_repo(&ws.root) {
        return Err(Error::failed(format!("{} is not in a git repository: its version comes from git", ws.root))
            .with_help(no_git_help));
    }
    let Some(commit) = git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])? else {
        return Err(
            Error::failed("the repository has no commit yet: its version comes from git").with_help(no_git_help)
        );
    };
    let dirty = git.is_dirty()?;
    let branch = git.current_branch()?.or(ci_branch);
    let mut at_head = version_tags(&git, &["tag", "--points-at", "HEAD"], prefix)?;
    at_head.sort_by_key(|(v, _)| *v);
    let described = |version: Version, distance: u64, tag: Option<String>| Described {
        version,
        commit: Some(commit.clone()),
        distance,
        tag,
        branch: branch.clone(),
        dirty,
        source: Source::Git,
        mode,
    };

    match mode {
        Mode::Tag => {
            let ci_tag = ci.as_ref().and_then(|c| c.tag.as_deref());
            if let Some(tag) = ci_tag.filter(|t| Version::parse_tag(t, prefix).is_some_and(|r| r.is_ok())) {
                check_ci_tag(&git, ci.as_ref().map_or("CI", |c| c.system), tag, &at_head)?;
            }
            let (version, tag) = match at_head.as_slice() {
                [one] => one.clone(),
                [] => {
                    let shape = tag_shape(&git, &ws.config)?;
                    return Err(Error::failed(format!(
                        "a tag build, but HEAD carries no release tag ({prefix}{shape})"
                    ))
                    .with_help(format!(
                        "tag the release (`release tag`, or git tag {prefix}{shape}), or build a dev version: --trigger push"
                    )));
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|(_, t)| t.as_str()).collect();
                    return Err(Error::failed(format!(
                        "a tag build needs exactly one release tag on HEAD; it carries {}",
                        names.join(", ")
                    ))
                    .with_help("delete the tags that are mistakes: git tag -d TAG (and on the remote)"));
                }
            };
            if dirty {
                return Err(Error::failed(format!(
                    "HEAD carries {tag} but tracked files have uncommitted changes: that is not the release"
                ))
                .with_help("build the release from a clean checkout of the tag (git status shows the changes)"));
            }
            return Ok(described(version, 0, Some(tag)));
        }
        Mode::Local if !dirty => {
            if let Some((version, tag)) = at_head.last() {
                return Ok(described(*version, 0, Some(tag.clone())));
            }
        }
        Mode::Local | Mode::Push => {}
    }

    // A dev version: count commits, which needs the whole history and every tag.
    if git.read(&["rev-parse", "--is-shallow-repository"])? == "true" {
        return Err(Error::failed(
            "this is a shallow clone: the commits since the last release tag cannot be counted, the dev version would be wrong",
        )
        .with_help(FETCH_HELP));
    }
    if let Some(config) = git.try_read(&["config", "--get-regexp", r"^remote\..*\.tagopt$"])? {
        if let Some(line) = config.lines().find(|l| l.ends_with(" --no-tags")) {
            let key = line.split_whitespace().next().unwrap_or("remote.origin.tagopt");
            return Err(Error::failed(format!(
                "tags are not fetched here ({key} = --no-tags): the last release tag may be missing, the dev version would be wrong"
            ))
            .with_help(format!("git config --unset {key} && git fetch --tags")));
        }
    }
    // The push/tag race: a tag on HEAD belongs to the tag build.
    let skip: Vec<String> =
        if mode == Mode::Push { at_head.iter().map(|(_, t)| t.clone()).collect() } else { Vec::new() };
    let prefix_dir = git.read(&["rev-parse", "--show-prefix"])?;
    let manifest = format!("{}Cargo.toml", prefix_dir.trim());
    let dev = dev_version(&git, "HEAD", branch.as_deref(), &ws.config, &manifest, &skip)?;
    Ok(described(dev.version, dev.distance, dev.tag))
}

/// A version from `TRAINYARD_PRETEND_VERSION`, which replaces git but not the trigger rule.
fn pretend(text: &str, mode: Mode, branch: Option<String>) -> Result<Described> {
    let version = Version::parse_any(text).map_err(|e| e.context(format!("{PRETEND_ENV}={text}")))?;
    match mode {
        Mode::Push if !version.is_dev() => {
            return Err(Error::usage(format!(
                "{PRETEND_ENV}={text} is a release, but a push build never yields a release version"
            ))
            .with_help(format!("pretend a dev version ({PRETEND_ENV}=1.4.dev3) or build with --trigger tag")))
        }
        Mode::Tag if version.is_dev() => {
            return Err(Error::usage(format!("{PRETEND_ENV}={text} is a dev version, but this is a tag build"))
                .with_help(format!("pretend the release ({PRETEND_ENV}=1.4.2) or build with --trigger push")))
        }
        _ => {}
    }
    let distance = match version.pre {
        Some(Pre::Dev(n)) => n,
        _ => 0,
    };
    Ok(Described { version, commit: None, distance, tag: None, branch, dirty: false, source: Source::Pretend, mode })
}

/// The version tags (finals, betas, rcs) among the names a git command lists; others are ignored.
fn version_tags(git: &Git, args: &[&str], prefix: &str) -> Result<Vec<(Version, String)>> {
    Ok(git
        .read(args)?
        .lines()
        .filter_map(|name| match Version::parse_tag(name, prefix) {
            Some(Ok(v)) => Some((v, name.to_string())),
            _ => None,
        })
        .collect())
}

fn count(git: &Git, range: &str) -> Result<u64> {
    let text = git.read(&["rev-list", "--count", range])?;
    text.trim().parse().map_err(|_| Error::failed(format!("git rev-list --count {range} printed {text:?}")))
}

/// A CI build of a release tag must build that tag, and the tag must be in the clone.
fn check_ci_tag(git: &Git, system: &str, tag: &str, at_head: &[(Version, String)]) -> Result<()> {
    if at_head.iter().any(|(_, t)| t == tag) {
        return Ok(());
    }
    validate_ref(tag).map_err(|e| e.context(format!("the tag {system} builds")))?;
    let here = git.try_read(&["rev-parse", "--verify", "--quiet", &format!("refs/tags/{tag}^{{commit}}")])?;
    match here {
        None => {
            Err(Error::failed(format!("{system} builds tag {tag}, but this clone does not have it"))
                .with_help(FETCH_HELP))
        }
        Some(_) => Err(Error::failed(format!("{system} builds tag {tag}, but HEAD is not the commit it names"))
            .with_help(format!("check out the tag: git checkout {tag}"))),
    }
}

/// `TRAINYARD_VERSION` for the builds trainyard runs: the Cargo rendering of [`describe`]
/// (`auto` trigger). `None` when there is nothing to compute it from (no git, not a
/// repository, no commit, and no pretend version): the build then keeps `Cargo.toml`'s.
pub fn version_env(ws: &Workspace) -> Result<Option<String>> {
    version_env_for(ws, Trigger::Auto)
}

/// [`version_env`] under a trigger (`build --trigger push`).
pub fn version_env_for(ws: &Workspace, trigger: Trigger) -> Result<Option<String>> {
    let pretend = std::env::var(PRETEND_ENV).is_ok_and(|v| !v.is_empty())
        || ws.checkout.as_ref().is_some_and(|c| c.version.is_some());
    if !pretend {
        let git = Git::new(&ws.root);
        if exec::tool("git", "git").is_err() || !Git::is_repo(&ws.root) {
            return Ok(None);
        }
        if git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?.is_none() {
            return Ok(None);
        }
    }
    describe(ws, trigger).map(|d| Some(d.semver()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse_pep440(text).unwrap()
    }

    fn nv(latest: Option<&Version>, line: Line, workspace: Option<&Version>) -> Version {
        next_version(latest, line, workspace, VersionScheme::NextMinor)
    }

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn default_branch_bumps_minor_release_branch_bumps_micro() {
        let release = Line::Release { major: 1, minor: 2 };
        assert_eq!(nv(Some(&v("1.2")), Line::Train, None).to_pep440(), "1.3");
        assert_eq!(nv(Some(&v("1.2")), release, None).to_pep440(), "1.2.1");
        assert_eq!(nv(Some(&v("1.2.1")), release, None).to_pep440(), "1.2.2");
        assert_eq!(nv(Some(&v("1.2.3")), Line::Train, None).to_pep440(), "1.3.0");
        // A release branch cut before its first tag: the branch names the train.
        assert_eq!(nv(Some(&v("1.1")), release, None).to_pep440(), "1.2");
        assert_eq!(nv(Some(&v("1.1.0")), release, None).to_pep440(), "1.2.0");
        // After a beta, the next beta: the branch's commits sort above what it released.
        assert_eq!(nv(Some(&v("0.12.0b1")), Line::Release { major: 0, minor: 12 }, None).to_pep440(), "0.12.0b2");
    }

    #[test]
    fn cargo_toml_train() {
        // `release start 1.2` set 1.3.0 on the default branch; rpm-1.2 is on the release branch.
        assert_eq!(nv(Some(&v("1.1")), Line::Train, Some(&v("1.3.0"))).to_pep440(), "1.3");
        // Not above the latest tag: ignored.
        assert_eq!(nv(Some(&v("1.2")), Line::Train, Some(&v("1.2.0"))).to_pep440(), "1.3");
        assert_eq!(nv(Some(&v("1.2")), Line::Train, Some(&v("1.1.0"))).to_pep440(), "1.3");
        // Equal to the next: the tags' style.
        assert_eq!(nv(Some(&v("1.2.0")), Line::Train, Some(&v("1.3.0"))).to_pep440(), "1.3.0");
        assert_eq!(nv(Some(&v("1.2")), Line::Train, Some(&v("2.0.0"))).to_pep440(), "2.0");
        assert_eq!(nv(Some(&v("1.2")), Line::Train, Some(&v("2.0.1"))).to_pep440(), "2.0.1");
        // No tag: 0.1, or the train.
        assert_eq!(next_version(None, Line::Train, None, VersionScheme::NextMinor).to_pep440(), "0.1");
        assert_eq!(nv(None, Line::Train, Some(&v("0.1.0"))).to_pep440(), "0.1");
        assert_eq!(nv(None, Line::Train, Some(&v("0.4.0"))).to_pep440(), "0.4");
        // A release branch ignores the Cargo.toml train.
        assert_eq!(nv(Some(&v("1.2")), Line::Release { major: 1, minor: 2 }, Some(&v("1.3.0"))).to_pep440(), "1.2.1");
    }

    #[test]
    fn dev_versions_sort_between_the_tag_and_the_next_release() {
        for (latest, line) in
            [("1.2", Line::Train), ("1.2", Line::Release { major: 1, minor: 2 }), ("1.2.4", Line::Train)]
        {
            let next = nv(Some(&v(latest)), line, None);
            let dev = next.with_pre(Pre::Dev(5));
            assert!(v(latest) < dev && dev < next, "{latest} < {dev} < {next}");
            assert_eq!(next.components(), dev.components());
        }
    }

    #[test]
    fn after_a_beta_the_next_beta() {
        let line = Line::Release { major: 0, minor: 12 };
        let m = VersionScheme::NextMinor;
        assert_eq!(next_version(Some(&v("0.12.0b1")), line, None, m).to_pep440(), "0.12.0b2");
        assert_eq!(next_version(Some(&v("0.12.0b1")), line, None, m).dev(3).to_pep440(), "0.12.0b2.dev3");
        assert_eq!(next_version(Some(&v("0.12.0rc1")), line, Some(&v("0.12.0rc2")), m).to_pep440(), "0.12.0rc2");
        // The branch moved to the release (`release rc` after betas): Cargo.toml raises it.
        assert_eq!(next_version(Some(&v("0.12.0b2")), line, Some(&v("0.12.0rc1")), m).to_pep440(), "0.12.0rc1");
        // After the final, the next micro.
        assert_eq!(next_version(Some(&v("0.12.0")), line, None, m).to_pep440(), "0.12.1");
        for (latest, next) in [("0.12.0b1", "0.12.0b2"), ("1.2rc1", "1.2rc2")] {
            let dev = next_version(Some(&v(latest)), Line::Train, None, m).dev(1);
            assert!(v(latest) < dev && dev < v(next), "{latest} < {dev} < {next}");
        }
    }

    #[test]
    fn next_patch_scheme() {
        let p = VersionScheme::NextPatch;
        assert_eq!(next_version(Some(&v("1.2.3")), Line::Train, None, p).dev(5).to_pep440(), "1.2.4.dev5");
        assert_eq!(next_version(Some(&v("1.2")), Line::Train, None, p).to_pep440(), "1.2.1");
        assert_eq!(next_version(None, Line::Train, None, p).to_pep440(), "0.1");
        // Cargo.toml still raises the train.
        assert_eq!(next_version(Some(&v("1.2.3")), Line::Train, Some(&v("1.4.0")), p).to_pep440(), "1.4.0");
    }

    #[test]
    fn release_branches_from_the_template() {
        assert_eq!(release_line("1.2-release", "{version}-release"), Line::Release { major: 1, minor: 2 });
        assert_eq!(release_line("release/1.2", "release/{version}"), Line::Release { major: 1, minor: 2 });
        for other in ["main", "1.2", "1.2.1-release", "x1.2-release", "1.2b1-release", "-release"] {
            assert_eq!(release_line(other, "{version}-release"), Line::Train, "{other}");
        }
    }

    #[test]
    fn github_actions() {
        let tag = ci_build(&env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF", "refs/tags/rpm-1.3"),
            ("GITHUB_REF_NAME", "rpm-1.3"),
        ]))
        .unwrap();
        assert_eq!(tag.tag.as_deref(), Some("rpm-1.3"));
        assert_eq!(tag.branch, None);
        assert_eq!(resolve_trigger(Trigger::Auto, Some(&tag), "rpm-"), Mode::Tag);
        assert_eq!(resolve_trigger(Trigger::Push, Some(&tag), "rpm-"), Mode::Push);

        let push = ci_build(&env_of(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF", "refs/heads/feature/x")])).unwrap();
        assert_eq!((push.tag, push.branch.as_deref()), (None, Some("feature/x")));
        let pr = ci_build(&env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF_TYPE", "branch"),
            ("GITHUB_REF", "refs/pull/7/merge"),
            ("GITHUB_HEAD_REF", "feature/y"),
        ]))
        .unwrap();
        assert_eq!(pr.branch.as_deref(), Some("feature/y"));
        assert_eq!(resolve_trigger(Trigger::Auto, Some(&pr), "rpm-"), Mode::Push);

        // A tag that is not a release tag publishes no release.
        let docs = ci_build(&env_of(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF", "refs/tags/docs-1")])).unwrap();
        assert_eq!(docs.tag.as_deref(), Some("docs-1"));
        assert_eq!(resolve_trigger(Trigger::Auto, Some(&docs), "rpm-"), Mode::Push);
    }

    #[test]
    fn gitlab_ci_and_no_ci() {
        let tag = ci_build(&env_of(&[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "rpm-1.2.1")])).unwrap();
        assert_eq!(resolve_trigger(Trigger::Auto, Some(&tag), "rpm-"), Mode::Tag);
        let push =
            ci_build(&env_of(&[("GITLAB_CI", "true"), ("CI_COMMIT_BRANCH", "main"), ("CI_COMMIT_TAG", "")])).unwrap();
        assert_eq!(push.branch.as_deref(), Some("main"));
        assert_eq!(resolve_trigger(Trigger::Auto, Some(&push), "rpm-"), Mode::Push);
        assert_eq!(ci_build(&env_of(&[("CI", "true")])), None);
        assert_eq!(resolve_trigger(Trigger::Auto, None, "rpm-"), Mode::Local);
        assert_eq!(resolve_trigger(Trigger::Tag, None, "rpm-"), Mode::Tag);
    }

    #[test]
    fn pretend_keeps_the_trigger_rule() {
        let d = pretend("1.4.2", Mode::Local, None).unwrap();
        assert_eq!((d.pep440(), d.semver(), d.source), ("1.4.2".into(), "1.4.2".into(), Source::Pretend));
        assert!(pretend("1.4.2", Mode::Push, None).is_err());
        assert!(pretend("1.4.dev3", Mode::Tag, None).is_err());
        assert_eq!(pretend("1.4.0-0.dev.3", Mode::Push, None).unwrap().distance, 3);
        let err = pretend("banana", Mode::Local, None).unwrap_err();
        assert!(err.message.contains(PRETEND_ENV), "{}", err.message);
    }

    fn dev(branch: Option<&str>, dirty: bool) -> Described {
        Described {
            version: v("1.3.dev5"),
            commit: Some("abc".into()),
            distance: 5,
            tag: Some("rpm-1.2".into()),
            branch: branch.map(String::from),
            dirty,
            source: Source::Git,
            mode: Mode::Push,
        }
    }

    #[test]
    fn renderings_of_a_described_version() {
        let d = dev(Some("feature/Add doodad"), false);
        assert_eq!(d.render(Format::Pep440, "rpm-").unwrap(), "1.3.dev5");
        assert_eq!(d.render(Format::Semver, "rpm-").unwrap(), "1.3.0-0.dev.5");
        assert_eq!(d.render(Format::Rpm, "rpm-").unwrap(), "1.3~~dev5");
        assert_eq!(d.render(Format::Docker, "rpm-").unwrap(), "feature-add-doodad");
        let err = d.render(Format::Tag, "rpm-").unwrap_err();
        assert!(err.message.contains("dev version"), "{}", err.message);
        assert_eq!(dev(None, false).container_tag(), "1.3.dev5");

        let dirty = dev(Some("main"), true);
        assert_eq!(dirty.pep440(), "1.3.dev5+dirty");
        assert_eq!(dirty.semver(), "1.3.0-0.dev.5+dirty");
        assert_eq!(dirty.rpm(), "1.3~~dev5+dirty");
        assert_eq!(dirty.container_tag(), "main-dirty");

        let json: serde_json::Value = serde_json::from_str(&d.render(Format::Json, "rpm-").unwrap()).unwrap();
        assert_eq!(json["rpm"], "1.3~~dev5");
        assert_eq!(json["tag"], serde_json::Value::Null);
        assert_eq!(json["distance"], 5);
        assert_eq!(json["branch"], "feature/Add doodad");
        assert_eq!(json["trigger"], "push");

        assert!(Format::parse("xml").unwrap_err().help.unwrap().contains("pep440"));
        assert!(Trigger::parse("cron").is_err());
    }
}
