//! The install test behind `cargo xtask mock`: install an RPM collection into a clean root
//! with a real resolver, run its smoke commands there, and leave the host as it was.
//!
//! Two backends. `sandbox` (this module) works on any Linux host with rpm, dnf,
//! createrepo_c and bubblewrap; `mock` ([`mock`]) hands the same job to Fedora's mock.
//!
//! An install test is one action of a plan, [`Action::Sandbox`] (a [`Session`]): the dry-run
//! prints its one line, and the executor hands it to [`session::run`], which makes its own
//! changes, because each step depends on what the one before it printed:
//! 1. a local repository of the collection (`createrepo_c`);
//! 2. a fresh root whose `/usr` is an overlay over the host's, mounted only inside private
//!    mount namespaces ([`root`]): nothing on the host changes, nothing stays mounted;
//! 3. a package standing for the host's base system ([`base`]) goes in first;
//! 4. `dnf --installroot /` installs the requested packages, resolving every Requires ([`dnf`]);
//! 5. scriptlet failures are read from the output (rpm and dnf exit 0 for them), and so are
//!    the processes a scriptlet left running ([`diagnose`]);
//! 6. `rpm -V` over everything installed;
//! 7. each smoke command runs in the root under `bwrap --unshare-all`, read-only;
//! 8. the run's directory is removed unless the root is kept.
//!
//! rpm and dnf (steps 3 to 6) and so every scriptlet run inside the root, entered by
//! bubblewrap with `pivot_root`, in namespaces of their own and with few capabilities
//! ([`confine`]), within [`Limits`]; no process of theirs outlives its step. Whether the
//! host can do all that is asked first ([`preflight()`]), and the run ends with a [`Report`].

pub mod base;
pub mod confine;
pub mod diagnose;
pub mod dnf;
pub mod limits;
pub mod mock;
pub mod preflight;
pub mod rebuild;
pub mod report;
pub mod root;
pub mod session;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use camino::Utf8PathBuf;
use xshell::Shell;

use crate::error::{Error, Result};
use crate::exec::{self, Effects};
use crate::plan::{Action, Plan};

pub use limits::Limits;
pub use preflight::preflight;
pub use report::{smoke_verdict, Report, SmokeResult, Timings};
pub use session::Session;

/// Which machinery installs and smoke-tests the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Built in: dnf into an overlay root, smoke commands under bubblewrap.
    Sandbox,
    /// Fedora's `mock`: rebuild source RPMs in its chroot, install, run with `--chroot`.
    Mock,
}

impl Backend {
    /// `--backend` wins; else `mock` where Fedora's mock is installed, `sandbox` elsewhere.
    pub fn choose(requested: Option<Backend>) -> Backend {
        requested.unwrap_or_else(|| if which::which("mock").is_ok() { Backend::Mock } else { Backend::Sandbox })
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sandbox => "sandbox",
            Backend::Mock => "mock",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backend> {
        match s {
            "sandbox" => Ok(Backend::Sandbox),
            "mock" => Ok(Backend::Mock),
            other => {
                Err(Error::usage(format!("unknown backend `{other}`"))
                    .with_help("use --backend sandbox or --backend mock"))
            }
        }
    }
}

/// A command that must pass in the installed root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smoke {
    /// The package it belongs to (named in failures).
    pub package: String,
    /// Shell text, run with `/bin/sh -c` inside the root.
    pub command: String,
    /// When set, the output (stdout and stderr) must contain it.
    pub expect_output: Option<String>,
}

impl Smoke {
    /// The default smoke command of a packaged binary: `BIN --version`, printing the version.
    pub fn version(package: &str, binary: &str, version: &str) -> Smoke {
        Smoke {
            package: package.to_string(),
            command: format!("{binary} --version"),
            expect_output: Some(version.to_string()),
        }
    }
}

/// What to install and check.
#[derive(Debug, Clone)]
pub struct InstallTest {
    /// Every RPM of the collection: the repository dnf resolves from.
    pub repo_rpms: Vec<Utf8PathBuf>,
    /// Package names to install (their dependencies come along).
    pub install: Vec<String>,
    pub smoke: Vec<Smoke>,
    /// Leave the run's root (and its overlay layer) on disk for inspection.
    pub keep_root: bool,
    /// Where runs live (under `target/`); each run takes a fresh directory inside.
    pub work_dir: Utf8PathBuf,
    /// A smoke command still running after this is killed and fails.
    pub smoke_timeout: Duration,
    /// What each command in the sandbox may use.
    pub limits: Limits,
}

impl InstallTest {
    pub fn new(work_dir: impl Into<Utf8PathBuf>) -> InstallTest {
        InstallTest {
            repo_rpms: Vec::new(),
            install: Vec::new(),
            smoke: Vec::new(),
            keep_root: false,
            work_dir: work_dir.into(),
            smoke_timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }

    /// Refuses, before anything runs, what no run could install: no package named, a name that
    /// is not a package name, a repository file that is not a binary RPM. (Whether the files
    /// exist is asked when the session runs: a planned collection is written just before.)
    pub fn check(&self) -> Result<()> {
        if self.install.is_empty() {
            return Err(Error::usage("nothing to install: the install test names no package"));
        }
        for name in self.install.iter().chain(self.smoke.iter().map(|s| &s.package)) {
            if name.is_empty() || name.starts_with('-') || name.chars().any(|c| c.is_whitespace() || c == ',') {
                return Err(Error::usage(format!("`{}` is not a package name", name.escape_debug())));
            }
        }
        for rpm in &self.repo_rpms {
            if !rpm.as_str().ends_with(".rpm") || rpm.as_str().ends_with(".src.rpm") {
                return Err(Error::usage(format!("{rpm} is not a binary RPM")));
            }
        }
        Ok(())
    }
}

/// Installs the collection into a fresh root and runs the smoke commands; see the module docs.
/// The test is checked, then planned as one [`Action::Sandbox`] and executed by `effects`
/// (printed, in a dry-run, which returns an empty report).
pub fn run(test: &InstallTest, effects: &Effects) -> Result<Report> {
    test.check()?;
    let session = Session::of(test.clone());
    let mut plan = Plan::new();
    plan.push(Action::Sandbox(Box::new(session.clone())));
    effects.execute(&plan)?;
    Ok(session.report())
}

fn command<'a>(sh: &'a Shell, argv: &[String]) -> xshell::Cmd<'a> {
    sh.cmd(&argv[0]).args(&argv[1..])
}

fn shell() -> Result<Shell> {
    Shell::new().map_err(exec::command_error)
}

/// An argument vector as a shell would need it typed (for plans and messages only).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names() {
        assert_eq!("sandbox".parse::<Backend>().unwrap(), Backend::Sandbox);
        assert_eq!("mock".parse::<Backend>().unwrap(), Backend::Mock);
        assert_eq!("chroot".parse::<Backend>().unwrap_err().exit_code(), 2);
        assert_eq!(Backend::choose(Some(Backend::Mock)), Backend::Mock);
    }

    #[test]
    fn quotes_words_for_display() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo 'hi'".into(), "".into()];
        assert_eq!(shell_words(&argv), r#"sh -c 'echo '\''hi'\''' ''"#);
    }

    #[test]
    fn an_install_test_names_packages_and_binary_rpms() {
        let mut test = InstallTest::new("/w");
        assert!(test.check().unwrap_err().message.contains("nothing to install"));
        test.install = vec!["--force".into()];
        assert_eq!(test.check().unwrap_err().exit_code(), 2);
        test.install = vec!["web".into()];
        test.repo_rpms = vec!["/c/web-1.0-1.src.rpm".into()];
        assert!(test.check().unwrap_err().message.contains("is not a binary RPM"));
        test.repo_rpms = vec!["/c/web-1.0-1.x86_64.rpm".into()];
        assert!(test.check().is_ok(), "a file that does not exist yet is checked when the session runs");
    }
}
