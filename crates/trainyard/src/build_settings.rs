//! How the product is built beyond its channel: features, profile and target, from the command
//! line ([`BuildFlags`]), `CARGO_BUILD_TARGET`, and the product crates' packaging tables.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Result};
use crate::members::Member;
use crate::targets::options::BuildFlags;

/// Features, profile and target of a build: from the command line, `CARGO_BUILD_TARGET`, and the
/// product crates' packaging tables (`features = [...]`, `profile = "..."`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    /// `--features` values as cargo takes them (`crate/feature` for one crate).
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    /// `None`: `--release`.
    pub profile: Option<String>,
    pub target: Option<String>,
}

impl BuildSettings {
    /// The settings of this run, for the product `members` (the crates whose tables count).
    pub fn of(flags: &BuildFlags, members: &[&Member]) -> Result<BuildSettings> {
        let mut features = flags.features.clone();
        let mut table_profiles: Vec<(String, String)> = Vec::new();
        for m in members {
            let Some(table) = m.metadata.pointer("/trainyard/rpm") else { continue };
            let name = &m.info.name;
            let bad = |key: &str, what: &str| {
                Error::usage(format!("crate `{name}`: [package.metadata.trainyard.rpm] {key} must be {what}"))
                    .with_help(format!(
                        "for example: {key} = {}",
                        if key == "profile" { "\"release-lto\"" } else { "[\"tls\"]" }
                    ))
            };
            if let Some(list) = table.get("features") {
                let list = list.as_array().ok_or_else(|| bad("features", "a list of feature names"))?;
                for f in list {
                    let f = f.as_str().ok_or_else(|| bad("features", "a list of feature names"))?;
                    features.push(format!("{name}/{f}"));
                }
            }
            if let Some(profile) = table.get("profile") {
                let profile = profile.as_str().ok_or_else(|| bad("profile", "a profile name"))?;
                table_profiles.push((name.clone(), profile.to_string()));
            }
        }
        let profile = match &flags.profile {
            Some(p) => Some(p.clone()),
            None => {
                let mut names: Vec<&str> = table_profiles.iter().map(|(_, p)| p.as_str()).collect();
                names.sort();
                names.dedup();
                if names.len() > 1 {
                    let who: Vec<String> = table_profiles.iter().map(|(c, p)| format!("{c} asks for {p}")).collect();
                    return Err(Error::usage(format!(
                        "the packaging tables ask for different profiles: {}",
                        who.join(", ")
                    ))
                    .with_help(
                        "one build uses one profile: give the same `profile` in each table, or --profile NAME",
                    ));
                }
                names.first().map(|p| p.to_string())
            }
        };
        let target = match &flags.target {
            Some(t) => Some(t.clone()),
            None => std::env::var("CARGO_BUILD_TARGET").ok().filter(|t| !t.is_empty()),
        };
        for value in profile.iter().chain(target.iter()) {
            if value.starts_with('-') || value.is_empty() || value.contains(['/', '\\']) {
                return Err(Error::usage(format!("`{}` is not a profile or target name", value.escape_debug()))
                    .with_help("give a name such as release-lto or x86_64-unknown-linux-musl"));
            }
        }
        Ok(BuildSettings {
            features,
            all_features: flags.all_features,
            no_default_features: flags.no_default_features,
            profile,
            target,
        })
    }

    /// The profile's name (`release` unless another is chosen).
    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or("release")
    }

    /// The cargo arguments: `--release` or `--profile NAME`, the features, `--target`.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = match &self.profile {
            None => vec!["--release".to_string()],
            Some(p) => vec!["--profile".to_string(), p.clone()],
        };
        if !self.features.is_empty() {
            args.push("--features".into());
            args.push(self.features.join(","));
        }
        if self.all_features {
            args.push("--all-features".into());
        }
        if self.no_default_features {
            args.push("--no-default-features".into());
        }
        if let Some(t) = &self.target {
            args.push("--target".into());
            args.push(t.clone());
        }
        args
    }

    /// Where cargo puts the binaries: `<target-dir>[/<triple>]/<profile dir>` (`dev` builds into
    /// `debug`, `bench` into `release`, a custom profile into its own name).
    pub fn out_dir(&self, target_dir: &Utf8Path) -> Utf8PathBuf {
        let dir = match self.profile_name() {
            "dev" | "test" => "debug",
            "bench" => "release",
            other => other,
        };
        match &self.target {
            Some(t) => target_dir.join(t).join(dir),
            None => target_dir.join(dir),
        }
    }

    /// `--config profile.<profile>.strip=true`: stripped binaries with no binutils.
    pub fn strip_args(&self) -> Vec<String> {
        vec!["--config".into(), format!("profile.{}.strip=true", self.profile_name())]
    }

    /// The architecture of the binaries, as Rust names it (the target's first part, else the host's).
    pub fn arch(&self) -> &str {
        match &self.target {
            Some(t) => t.split('-').next().unwrap_or(t),
            None => std::env::consts::ARCH,
        }
    }
}
