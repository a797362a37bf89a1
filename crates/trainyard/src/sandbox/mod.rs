//! The install test behind `cargo xtask mock`: install an RPM collection into a clean root
//! with a real resolver, run its smoke commands there, and leave the host as it was.
//!
//! Two backends. `sandbox` (this module) works on any Linux host with rpm, dnf,
//! createrepo_c and bubblewrap; `mock` ([`mock`]) hands the same job to Fedora's mock.
//!
//! The sandbox, step by step ([`run`]):
//! 1. a local repository of the collection (`createrepo_c`);
//! 2. a fresh root whose `/usr` is an overlay over the host's, mounted only inside private
//!    mount namespaces ([`root`]): nothing on the host changes, nothing stays mounted;
//! 3. a package standing for the host's base system ([`base`]) goes in first;
//! 4. `dnf --installroot /` installs the requested packages, resolving every Requires;
//! 5. scriptlet failures are read from the output (rpm and dnf exit 0 for them), and so are
//!    the processes a scriptlet left running;
//! 6. `rpm -V` over everything installed;
//! 7. each smoke command runs in the root under `bwrap --unshare-all`, read-only;
//! 8. the run's directory is removed unless the root is kept.
//!
//! rpm and dnf (steps 3 to 6) and so every scriptlet run inside the root, entered by
//! bubblewrap with `pivot_root`, in namespaces of their own and with few capabilities
//! ([`confine`]); no process of theirs outlives its step.
//!
//! Files, one concern each: `preflight` (can the sandbox run here), `session` (one run: every
//! process it starts), [`root`] (the overlay root), [`confine`] (namespaces and capabilities),
//! [`base`] (the package standing for the host), [`diagnose`] (reading rpm's and dnf's output),
//! `report` (what a run did, and the smoke verdict), [`mock`] (the Fedora mock backend).
//! The install test is one action for the plan executor: its commands depend on what the earlier
//! ones printed, so the session (and mock's) start their processes themselves.

pub mod base;
pub mod confine;
pub mod diagnose;
pub mod mock;
pub mod root;

mod preflight;
mod report;
mod session;

pub(crate) use preflight::effective_uid;
pub use preflight::preflight;
pub use report::{smoke_verdict, Report, SmokeResult, Timings};
pub use session::shell_words;
use session::*;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::error::{io, Error, Kind, Result};
use crate::exec::{self, Effects};
use root::{Privilege, Root};

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
        }
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Installs the collection into a fresh root and runs the smoke commands; see the module docs.
pub fn run(test: &InstallTest, effects: &Effects) -> Result<Report> {
    let (report, result) = run_with_report(test, effects);
    result.map(|()| report)
}

/// [`run`], returning what was done so far even when it failed (the packages installed,
/// the smoke commands that ran), for the end-of-run report.
pub fn run_with_report(test: &InstallTest, effects: &Effects) -> (Report, Result<()>) {
    let mut report = Report::default();
    let started = Instant::now();
    let result = run_into(test, effects, &mut report);
    report.timings.total = started.elapsed();
    (report, result)
}

fn run_into(test: &InstallTest, effects: &Effects, report: &mut Report) -> Result<()> {
    validate(test, effects.dry_run)?;
    let privilege = preflight(&test.work_dir)?;
    let run_dir = test.work_dir.join(format!("run-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::SeqCst)));
    let root = Root::new(&run_dir)?;
    let sandbox = Sandbox { root, privilege, effects: *effects, sh: shell()? };
    if effects.dry_run {
        return sandbox.print_plan(test);
    }
    remove_stale_runs(&test.work_dir);
    let result = sandbox.install_and_smoke(test, report);
    let cleanup = Instant::now();
    if test.keep_root {
        report.root = Some(sandbox.root.tree.clone());
        report.enter = Some(sandbox.enter_command());
    } else {
        let removed = sandbox.root.remove();
        if result.is_ok() {
            removed?;
        }
    }
    report.timings.cleanup = cleanup.elapsed();
    result
}

/// In a dry run the RPMs need not exist yet: the collection is only planned.
fn validate(test: &InstallTest, dry_run: bool) -> Result<()> {
    if test.install.is_empty() {
        return Err(Error::usage("nothing to install: the install test names no package"));
    }
    for name in test.install.iter().chain(test.smoke.iter().map(|s| &s.package)) {
        if name.is_empty() || name.starts_with('-') || name.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(Error::usage(format!("`{}` is not a package name", name.escape_debug())));
        }
    }
    for rpm in &test.repo_rpms {
        if !rpm.as_str().ends_with(".rpm") || rpm.as_str().ends_with(".src.rpm") {
            return Err(Error::usage(format!("{rpm} is not a binary RPM")));
        }
        if !dry_run && !rpm.is_file() {
            return Err(Error::failed(format!("{rpm} does not exist")).with_help("run build_rpms first"));
        }
    }
    Ok(())
}

/// Runs left behind by a process that no longer exists (killed mid-run): nothing of them is
/// mounted (their namespaces died with them), so their directories just go.
fn remove_stale_runs(work_dir: &Utf8Path) {
    let Ok(entries) = work_dir.read_dir_utf8() else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.strip_prefix("run-").or_else(|| name.strip_prefix("probe-")) else { continue };
        let Some(pid) = pid.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Utf8Path::new("/proc").join(pid.to_string()).exists() {
            if let Ok(root) = Root::new(entry.path()) {
                let _ = root.remove();
            }
        }
    }
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
    fn smoke_failures_name_package_and_command() {
        let result = |ok, status, output: &str| SmokeResult {
            package: "web".into(),
            command: "web --version".into(),
            output: output.into(),
            duration: Duration::ZERO,
            status,
            ok,
        };
        assert!(smoke_verdict(&[result(true, Some(0), "web 1.0")]).is_ok());
        let err = smoke_verdict(&[result(false, Some(1), "bash: connect: Network is unreachable")]).unwrap_err();
        assert!(err.message.contains("web: `web --version` exited with status 1"), "{}", err.message);
        assert!(err.help.unwrap().contains("network"));
    }
}
