//! Cargo invocations: one typed builder for every cargo command trainyard runs or plans.
//!
//! The preamble every call needs (the `cargo` of `$CARGO`, the lock file trainyard points cargo
//! at, the global `--locked`/`--frozen`/`--quiet`, the override patches, `--locked` once) is
//! written here once; a target says what it wants and gets a [`plan::Command`] to put in its plan
//! (or to run for a computation of its plan phase, see [`crate::exec::compute`]).

use camino::Utf8Path;

use crate::build_settings::BuildSettings;
use crate::lockfile::LockSite;
use crate::plan;

/// The cargo trainyard runs: `$CARGO` (set when run by cargo, as `cargo xtask` is), else `cargo`.
pub fn program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// One cargo command being assembled, arguments in the order given.
#[derive(Debug, Clone)]
pub struct Invocation {
    cmd: plan::Command,
}

impl Invocation {
    /// `cargo SUBCOMMAND`.
    pub fn new(subcommand: &str) -> Invocation {
        Invocation { cmd: plan::Command::program(program()).arg(subcommand) }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Invocation {
        self.cmd = self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = self.cmd.args(args);
        self
    }

    /// The profile of a build of the product, the same for every target that builds it (`build`,
    /// `build_rpms`, `mock`, `dist`, the internal projects' builds): `--release` or `--profile
    /// NAME`, the features, `--target`, and `--config profile.<profile>.strip=true`. Profile
    /// settings are part of every unit's fingerprint: one target adding a setting another lacks
    /// recompiles the whole graph when they run one after the other.
    pub fn product_profile(self, settings: &BuildSettings) -> Invocation {
        self.args(settings.cargo_args()).args(settings.strip_args())
    }

    /// The workspace and lock file of `site`: `--manifest-path`, the global options, and (cargo
    /// 1.97+) `--config resolver.lockfile-path=...` (see [`LockSite::cargo_args`]).
    pub fn at(self, site: &LockSite) -> Invocation {
        self.args(site.cargo_args())
    }

    /// `--manifest-path PATH` (a workspace read or built with its own `Cargo.lock`).
    pub fn manifest_path(self, path: &Utf8Path) -> Invocation {
        self.arg("--manifest-path").arg(path.as_str())
    }

    /// `--locked`, unless the arguments so far already say `--locked` or `--frozen` (the global
    /// option: cargo refuses the flag twice).
    pub fn locked(self) -> Invocation {
        if self.cmd.args.iter().any(|a| a == "--locked" || a == "--frozen") {
            self
        } else {
            self.arg("--locked")
        }
    }

    /// `--offline`: from what cargo has cached, without the network.
    pub fn offline(self) -> Invocation {
        self.arg("--offline")
    }

    /// The `--config patch...` arguments of the internal-project overrides.
    pub fn patches(self, patches: &[String]) -> Invocation {
        self.args(patches.iter().cloned())
    }

    /// Runs in `dir` (cargo reads `.cargo/config.toml` from its working directory up).
    pub fn dir(mut self, dir: &Utf8Path) -> Invocation {
        self.cmd = self.cmd.dir(dir);
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Invocation {
        self.cmd = self.cmd.env(name, value);
        self
    }

    /// The command, for a plan or a computation.
    pub fn command(self) -> plan::Command {
        self.cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_is_added_once() {
        let c = Invocation::new("build").arg("--frozen").locked().command();
        assert_eq!(c.args, ["build", "--frozen"]);
        let c = Invocation::new("build").locked().locked().patches(&["--config".into(), "x".into()]).command();
        assert_eq!(c.args, ["build", "--locked", "--config", "x"]);
    }

    #[test]
    fn product_profile_strips_the_chosen_profile() {
        let c = Invocation::new("build").product_profile(&BuildSettings::default()).command();
        assert_eq!(c.args, ["build", "--release", "--config", "profile.release.strip=true"]);
        let settings = BuildSettings { profile: Some("release-lto".into()), ..BuildSettings::default() };
        let c = Invocation::new("build").product_profile(&settings).command();
        assert_eq!(c.args, ["build", "--profile", "release-lto", "--config", "profile.release-lto.strip=true"]);
    }
}
