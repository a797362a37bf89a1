//! `[workspace.metadata.trainyard]` in the root `Cargo.toml`.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::cli::project_var;
use crate::error::{io, Error, Result};
use crate::version::Precision;

/// The configuration of a workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The application's name: RPM names, notifications, and its own make variable.
    /// Defaults to the workspace directory's name.
    pub name: Option<String>,
    /// Release tags are `<tag-prefix><version>`: `rpm-1.2`.
    #[serde(default = "default_tag_prefix")]
    pub tag_prefix: String,
    /// The branch that carries the next release train.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// Release branch names; `{version}` is `MAJOR.MINOR`.
    #[serde(default = "default_release_branch")]
    pub release_branch: String,
    /// Directory of the channels' requirement files, relative to the workspace root.
    #[serde(default = "default_reqs_dir")]
    pub reqs_dir: Utf8PathBuf,
    /// Where checkouts of internal projects live; default `$XDG_CACHE_HOME/trainyard/checkouts/<name>-<key>`
    /// (outside the workspace directory: see [`crate::workspace::Workspace::checkout_cache_dir`]).
    pub cache_dir: Option<Utf8PathBuf>,
    /// Internal projects: other git repositories the workspace builds against.
    #[serde(default)]
    pub internal: BTreeMap<String, InternalProject>,
    /// Settings of `build_rpms`.
    #[serde(default)]
    pub rpm: RpmSettings,
    /// Settings of the channels' repositories (`release publish`, `promote`, `rollback`).
    #[serde(default)]
    pub publish: crate::release::repo::PublishSettings,
    /// The cargo registry (a name of the user's cargo configuration) `release publish-crates` publishes to.
    pub registry: Option<String>,
    /// Where `docs` publishes the HTML documentation, one directory per version and `latest`.
    pub docs_dir: Option<Utf8PathBuf>,
    /// Settings of `tests`.
    #[serde(default)]
    pub tests: TestSettings,
    /// How many numbers the release line writes: `"X.Y"` (`rpm-1.2`) or `"X.Y.Z"` (`v0.17.0`).
    /// Default: what the existing release tags show, else what `release start` is given.
    pub version_precision: Option<String>,
    /// What a branch's dev builds lead to after a release: the next minor (default) or patch.
    #[serde(default)]
    pub version_scheme: VersionScheme,
    /// The branch model of releases.
    #[serde(default)]
    pub flow: Flow,
    /// The rc branch of the `rc-beta` flow.
    #[serde(default = "default_rc_branch")]
    pub rc_branch: String,
    /// What `ci` does for each CI event (`[workspace.metadata.trainyard.ci]`).
    #[serde(default)]
    pub ci: CiSettings,
}

/// `[workspace.metadata.trainyard.ci]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiSettings {
    /// A push to the default branch: `"nothing"` (the default: its tag builds release it, and a
    /// push build racing a tag build publishes nothing) or `"dev-release"`.
    pub default_branch_push: Option<String>,
    /// The channel a release tag publishes to (default `prod`; betas and rcs go to `dev`).
    pub tag_channel: Option<String>,
    /// The package repositories, one directory per channel (default `target/trainyard/repos`).
    pub repo_dir: Option<Utf8PathBuf>,
    /// Whether `ci` runs `mock` before publishing (default true).
    pub mock: Option<bool>,
    /// Whether `ci` builds the container image (default true).
    pub image: Option<bool>,
    /// Where `ci` pushes the image (`registry.example.com/team/portal`); none: not pushed.
    pub image_repository: Option<String>,
    /// Push over plain HTTP (a registry on the local network).
    pub image_insecure: Option<bool>,
    /// The image's base, `DIR:TAG` of a local OCI layout (default: an empty base).
    pub image_base: Option<String>,
}

/// `version-scheme`: what dev builds after a release lead to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionScheme {
    /// `1.2` + 5 commits on the default branch -> `1.3.dev5`: the release-branch processes.
    #[default]
    NextMinor,
    /// `1.2.3` + 5 commits -> `1.2.4.dev5`: the dev-release process (setuptools_scm's).
    NextPatch,
}

/// `flow`: the branch model releases follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// The default branch carries the next train; `X.Y-release` branches carry releases and fixes.
    #[default]
    ReleaseBranch,
    /// master, rc and version branches (`0.12`) with betas and release candidates.
    RcBeta,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InternalProject {
    /// Any URL git accepts, including a local path or `file://`.
    pub git: String,
    /// The crates of that repository the workspace uses (default: the project's name).
    #[serde(default)]
    pub crates: Vec<String>,
    /// The cargo registry the workspace takes the crates from (by version) instead of git;
    /// `git` is still where an override (`SERVER_CORE=rpm-2.0`) checks the project out.
    pub registry: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmSettings {
    /// zstd level per channel; defaults: dev 3, stage and prod 19.
    #[serde(default)]
    pub compression_level: BTreeMap<String, i32>,
    /// The `Release:` of every RPM (default "1").
    pub release: Option<String>,
}

/// `[workspace.metadata.trainyard.tests]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestSettings {
    /// What the suite needs installed, checked before it runs: a command on PATH
    /// (`rpm = "rpm"`) or a Python module (`"python3:packaging" = "python3-packaging"`),
    /// each with the Debian package that provides it.
    #[serde(default)]
    pub needs: BTreeMap<String, String>,
    /// Cargo versions the suite needs, each with the rustup toolchain that provides one:
    /// `nightly = ">=1.97"` is met by any cargo of this machine (`$CARGO`, PATH's, rustup's)
    /// at 1.97 or later, else installed with `rustup toolchain install nightly`.
    #[serde(default)]
    pub toolchains: BTreeMap<String, String>,
}

fn default_tag_prefix() -> String {
    "rpm-".into()
}
fn default_branch() -> String {
    "main".into()
}
fn default_release_branch() -> String {
    "{version}-release".into()
}
fn default_rc_branch() -> String {
    "rc".into()
}
fn default_reqs_dir() -> Utf8PathBuf {
    "reqs".into()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            name: None,
            tag_prefix: default_tag_prefix(),
            default_branch: default_branch(),
            release_branch: default_release_branch(),
            reqs_dir: default_reqs_dir(),
            cache_dir: None,
            internal: BTreeMap::new(),
            rpm: RpmSettings::default(),
            publish: Default::default(),
            registry: None,
            docs_dir: None,
            tests: TestSettings::default(),
            version_precision: None,
            version_scheme: VersionScheme::default(),
            flow: Flow::default(),
            rc_branch: default_rc_branch(),
            ci: CiSettings::default(),
        }
    }
}

#[derive(Deserialize)]
struct Root {
    workspace: Option<WorkspaceTable>,
}
#[derive(Deserialize)]
struct WorkspaceTable {
    metadata: Option<MetadataTable>,
}
#[derive(Deserialize)]
struct MetadataTable {
    trainyard: Option<Config>,
}

/// An unknown key that is a known one with underscores (`tag_prefix` for `tag-prefix`, as Rust
/// code would spell it), from serde's "unknown field `X`, expected one of `a`, `b`" message.
fn misspelled_key(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (written, expected) = rest.split_once('`')?;
    let meant = written.replace('_', "-");
    (meant != written && expected.split('`').any(|known| known == meant)).then(|| (written.to_string(), meant))
}

/// A character that may appear in a project or application name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

impl Config {
    /// Parses the configuration out of a root `Cargo.toml`'s text.
    pub fn parse(manifest: &Utf8Path, text: &str, workspace_dir_name: &str) -> Result<Config> {
        let root: Root = toml::from_str(text).map_err(|err| {
            let message = format!(
                "{manifest}: invalid [workspace.metadata.trainyard] configuration\n{}",
                err.to_string().trim_end()
            );
            let help = match misspelled_key(err.message()) {
                Some((written, meant)) => {
                    format!("write `{meant}`, not `{written}`: trainyard's keys are spelled with dashes")
                }
                None => "see the README's configuration section for every key and its type".to_string(),
            };
            Error::caused_by(crate::error::Kind::Usage, message, err).with_help(help)
        })?;
        let mut config = root.workspace.and_then(|w| w.metadata).and_then(|m| m.trainyard).unwrap_or_default();
        if config.name.is_none() {
            config.name = Some(workspace_dir_name.to_string());
        }
        config.validate(manifest)?;
        Ok(config)
    }

    pub fn load(manifest: &Utf8Path) -> Result<Config> {
        let text = std::fs::read_to_string(manifest).map_err(io(manifest))?;
        let dir_name = manifest.parent().and_then(|p| p.file_name()).unwrap_or("app");
        Config::parse(manifest, &text, dir_name)
    }

    fn validate(&self, manifest: &Utf8Path) -> Result<()> {
        let key = |k: &str| format!("{manifest}: [workspace.metadata.trainyard] {k}");
        let name = self.name();
        if !valid_name(name) {
            return Err(Error::usage(format!("{}: `{name}` is not a valid name", key("name")))
                .with_help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit"));
        }
        if crate::git::validate_ref(&format!("{}1.0", self.tag_prefix)).is_err() || self.tag_prefix.contains('/') {
            return Err(Error::usage(format!("{}: `{}` cannot start a git tag", key("tag-prefix"), self.tag_prefix))
                .with_help("use letters, digits, `-`, `_` and `.`, as in tag-prefix = \"rpm-\""));
        }
        crate::git::validate_ref(&self.default_branch).map_err(|e| e.context(key("default-branch")))?;
        if !self.release_branch.contains("{version}")
            || crate::git::validate_ref(&self.release_branch_for("1.2")).is_err()
        {
            return Err(Error::usage(format!(
                "{}: `{}` is not a branch name template with `{{version}}`",
                key("release-branch"),
                self.release_branch
            ))
            .with_help("for example release-branch = \"{version}-release\""));
        }
        if let Some(text) = &self.version_precision {
            if Precision::parse(text).is_none() {
                return Err(Error::usage(format!(
                    "{}: `{text}` is not a release line's precision",
                    key("version-precision")
                ))
                .with_help("version-precision = \"X.Y\" (tags rpm-1.2, fixes rpm-1.2.1) or \"X.Y.Z\" (tags v0.17.0)"));
            }
        }
        crate::git::validate_ref(&self.rc_branch).map_err(|e| e.context(key("rc-branch")))?;
        if self.flow == Flow::RcBeta && (self.rc_branch == self.default_branch) {
            return Err(Error::usage(format!(
                "{}: the rc branch cannot be the default branch `{}`",
                key("rc-branch"),
                self.rc_branch
            ))
            .with_help("rc-branch = \"rc\""));
        }
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        vars.insert(project_var(name), format!("the workspace itself (name = \"{name}\")"));
        for (project, spec) in &self.internal {
            let here = key(&format!("internal.{project}"));
            if !valid_name(project) {
                return Err(Error::usage(format!("{here}: `{project}` is not a valid project name")));
            }
            if spec.git.trim().is_empty() || spec.git.starts_with('-') {
                return Err(Error::usage(format!("{here}.git: `{}` is not a git URL", spec.git))
                    .with_help("give any URL git accepts: https://..., ssh://..., file:///path, or a path"));
            }
            crate::redact::register_url_credentials(&spec.git);
            let var = project_var(project);
            if let Some(other) = vars.get(&var) {
                return Err(Error::usage(format!(
                    "{here}: internal project `{project}` and {other} both map to the variable {var}"
                ))
                .with_help("rename one of them: each project needs its own PROJECT=ref variable"));
            }
            vars.insert(var, format!("internal project `{project}`"));
        }
        if let Some(push) = &self.ci.default_branch_push {
            if !matches!(push.as_str(), "nothing" | "dev-release") {
                return Err(Error::usage(format!("{}: `{push}` is not an action", key("ci.default-branch-push")))
                    .with_help("default-branch-push = \"nothing\" (the default) or \"dev-release\""));
            }
        }
        if let Some(channel) = &self.ci.tag_channel {
            crate::channel::Channel::parse(channel).map_err(|e| e.context(key("ci.tag-channel")))?;
        }
        for (channel, level) in &self.rpm.compression_level {
            crate::channel::Channel::parse(channel).map_err(|e| e.context(key("rpm.compression-level")))?;
            if !(1..=22).contains(level) {
                return Err(Error::usage(format!(
                    "{}.{channel}: zstd level {level} is outside 1..=22",
                    key("rpm.compression-level")
                )));
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("app")
    }

    /// The make variable of the workspace itself (`ACCOUNT_PORTAL`).
    pub fn self_var(&self) -> String {
        project_var(self.name())
    }

    /// The make variables of every internal project, then of the workspace itself.
    pub fn project_vars(&self) -> Vec<String> {
        let mut vars: Vec<String> = self.internal.keys().map(|p| project_var(p)).collect();
        vars.push(self.self_var());
        vars
    }

    /// The configured precision of the release line (`version-precision`), if any.
    pub fn precision(&self) -> Option<Precision> {
        self.version_precision.as_deref().and_then(Precision::parse)
    }

    /// The release tag of a version rendered for tags: `rpm-1.2`.
    pub fn tag_for(&self, version_text: &str) -> String {
        format!("{}{version_text}", self.tag_prefix)
    }

    /// The release branch of a `MAJOR.MINOR`: `1.2-release`.
    pub fn release_branch_for(&self, major_minor: &str) -> String {
        self.release_branch.replace("{version}", major_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Utf8Path::new("Cargo.toml"), text, "portal")
    }

    #[test]
    fn defaults() {
        let c = parse("[workspace]\nmembers = []\n").unwrap();
        assert_eq!(c.name(), "portal");
        assert_eq!(c.tag_prefix, "rpm-");
        assert_eq!(c.default_branch, "main");
        assert_eq!(c.release_branch_for("1.2"), "1.2-release");
        assert_eq!(c.tag_for("1.2"), "rpm-1.2");
    }

    #[test]
    fn internal_projects() {
        let c = parse(
            "[workspace.metadata.trainyard]\nname = \"account-portal\"\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"file:///srv/git/server-core\"\ncrates = [\"server-core\"]\n",
        )
        .unwrap();
        assert_eq!(c.project_vars(), vec!["SERVER_CORE".to_string(), "ACCOUNT_PORTAL".to_string()]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse("[workspace]\n\n[workspace.metadata.trainyard]\ntag-prefx = \"x\"\n").unwrap_err();
        assert!(err.message.contains("tag-prefx"), "{}", err.message);
        assert!(err.message.contains("line 4"), "{}", err.message);
    }

    /// Rust's spelling of a key (`tag_prefix`, tried adopting hexyl) is answered with the key meant.
    #[test]
    fn underscored_key_is_answered_with_the_dashed_one() {
        let err = parse("[workspace.metadata.trainyard]\ntag_prefix = \"v\"\n").unwrap_err();
        assert!(err.message.contains("line 2"), "{}", err.message);
        let help = err.help.as_deref().unwrap_or_default();
        assert!(help.contains("write `tag-prefix`, not `tag_prefix`"), "{help}");
        let err = parse("[workspace.metadata.trainyard.rpm]\ncompression_level = 3\n").unwrap_err();
        let help = err.help.as_deref().unwrap_or_default();
        assert!(help.contains("write `compression-level`"), "{help}");
        // An unknown key that no dash fixes keeps the general help.
        let err = parse("[workspace.metadata.trainyard]\ntag_prefx = \"v\"\n").unwrap_err();
        assert!(err.help.as_deref().unwrap_or_default().contains("configuration section"), "{:?}", err.help);
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let err = parse("[workspace.metadata.trainyard]\nname = \"x\"\ntag-prefix = 3\n").unwrap_err();
        assert!(err.message.contains("line 3"), "{}", err.message);
        assert!(err.message.contains("tag-prefix"), "{}", err.message);
    }

    #[test]
    fn colliding_variables() {
        let err = parse(
            "[workspace.metadata.trainyard.internal.server-core]\ngit = \"a\"\n[workspace.metadata.trainyard.internal.server_core]\ngit = \"b\"\n",
        )
        .unwrap_err();
        assert!(err.message.contains("server-core") && err.message.contains("server_core"), "{}", err.message);
        assert!(err.message.contains("SERVER_CORE"));
    }

    #[test]
    fn tag_prefix_and_release_branch_must_make_valid_refs() {
        for bad in ["-rpm", "rpm~", "rpm:", "r..", "a b", "rpm/"] {
            let text = format!("[workspace.metadata.trainyard]\ntag-prefix = \"{bad}\"\n");
            assert!(parse(&text).is_err(), "{bad}");
        }
        for bad in ["release", "{version}..x", "-{version}"] {
            let text = format!("[workspace.metadata.trainyard]\nrelease-branch = \"{bad}\"\n");
            assert!(parse(&text).is_err(), "{bad}");
        }
        parse("[workspace.metadata.trainyard]\ntag-prefix = \"v\"\nrelease-branch = \"release/{version}\"\n").unwrap();
    }

    #[test]
    fn version_line_settings() {
        let c = parse("[workspace.metadata.trainyard]\nversion-precision = \"X.Y.Z\"\nversion-scheme = \"next-patch\"\nflow = \"rc-beta\"\nrc-branch = \"rc\"\n").unwrap();
        assert_eq!(c.precision(), Some(Precision::Full));
        assert_eq!(c.version_scheme, VersionScheme::NextPatch);
        assert_eq!(c.flow, Flow::RcBeta);
        let d = parse("[workspace]\n").unwrap();
        assert_eq!((d.precision(), d.version_scheme, d.flow), (None, VersionScheme::NextMinor, Flow::ReleaseBranch));
        let err = parse("[workspace.metadata.trainyard]\nversion-precision = \"X\"\n").unwrap_err();
        assert!(err.help.unwrap().contains("X.Y.Z"));
        assert!(parse("[workspace.metadata.trainyard]\nversion-scheme = \"next-major\"\n").is_err());
        assert!(parse("[workspace.metadata.trainyard]\nflow = \"rc-beta\"\nrc-branch = \"main\"\n").is_err());
    }

    #[test]
    fn git_url_that_looks_like_an_option() {
        let err = parse("[workspace.metadata.trainyard.internal.core]\ngit = \"--upload-pack=x\"\n").unwrap_err();
        assert!(err.message.contains("not a git URL"), "{}", err.message);
    }
}
