//! What an install test reports: the packages installed, each smoke command with its output and
//! time, the time of each phase; and the verdict on the smoke commands.

use std::time::Duration;

use camino::Utf8PathBuf;

use super::{shell_words, Smoke};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct SmokeResult {
    pub package: String,
    pub command: String,
    /// stdout then stderr.
    pub output: String,
    pub duration: Duration,
    /// The exit status (`None`: killed by a signal).
    pub status: Option<i32>,
    pub ok: bool,
}

/// Wall-clock time of each phase.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Building the collection (`build_rpms`), when the caller did and says so; not in `total`'s
    /// engine part, added to it by the caller.
    pub build: Duration,
    /// The mock backend: vendoring and writing the source RPMs.
    pub sources: Duration,
    /// Copying the collection and `createrepo_c`.
    pub repo: Duration,
    /// Generating the base-system package and installing it in the root.
    pub base: Duration,
    /// `dnf install`, scriptlets included.
    pub install: Duration,
    /// `rpm -V`.
    pub verify: Duration,
    pub smoke: Duration,
    /// Removing the root.
    pub cleanup: Duration,
    pub total: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// NEVRA of each package installed from the collection (the base package not included).
    pub installed: Vec<String>,
    pub smokes: Vec<SmokeResult>,
    /// Smoke commands of packages the install did not bring in (an internal project's
    /// package that no installed package requires): not run.
    pub skipped: Vec<Smoke>,
    pub timings: Timings,
    /// The kept root (with `keep_root`).
    pub root: Option<Utf8PathBuf>,
    /// The command that opens a shell in the kept root, overlay mounted.
    pub enter: Option<Vec<String>>,
}

impl Report {
    /// The end-of-run summary: each package, each smoke command with its output and time, the times.
    pub fn render(&self) -> String {
        let mut out = format!("installed {} package(s):\n", self.installed.len());
        for nevra in &self.installed {
            out.push_str(&format!("  {nevra}\n"));
        }
        if self.smokes.is_empty() && self.skipped.is_empty() {
            out.push_str("smoke commands: none ran\n");
        } else {
            out.push_str(&format!("smoke commands ({}):\n", self.smokes.len()));
        }
        for s in &self.smokes {
            let verdict = if s.ok { "ok" } else { "FAILED" };
            out.push_str(&format!("  {}: `{}` {verdict} in {}\n", s.package, s.command, secs(s.duration)));
            for line in s.output.lines() {
                out.push_str(&format!("      {line}\n"));
            }
        }
        for s in &self.skipped {
            out.push_str(&format!("  {}: `{}` skipped: the package was not installed\n", s.package, s.command));
        }
        let t = &self.timings;
        let phases = [
            ("build", t.build),
            ("sources", t.sources),
            ("repository", t.repo),
            ("base", t.base),
            ("install", t.install),
            ("verify", t.verify),
            ("smoke", t.smoke),
            ("cleanup", t.cleanup),
        ];
        // Phases a backend does not have (mock has no base package) are left out.
        let shown: Vec<String> =
            phases.iter().filter(|(_, d)| !d.is_zero()).map(|(name, d)| format!("{name} {}", secs(*d))).collect();
        out.push_str(&format!("time: {}; total {}\n", shown.join(", "), secs(t.total)));
        if let Some(root) = &self.root {
            out.push_str(&format!("root kept at {root}\n"));
            if let Some(enter) = &self.enter {
                out.push_str(&format!("enter it with: {}\n", shell_words(enter)));
            }
        }
        out
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// The failure naming each smoke command that failed, its package and its output; `Ok` when all passed.
pub fn smoke_verdict(smokes: &[SmokeResult]) -> Result<()> {
    let failed: Vec<&SmokeResult> = smokes.iter().filter(|s| !s.ok).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("smoke commands failed in the installed root:");
    let mut network = false;
    for s in &failed {
        let how = match s.status {
            Some(0) => "exited 0 but did not print what was expected".to_string(),
            Some(124) | Some(137) => "timed out and was killed".to_string(),
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        };
        msg.push_str(&format!("\n  - {}: `{}` {how}", s.package, s.command));
        for line in s.output.lines().take(20) {
            msg.push_str(&format!("\n      {line}"));
        }
        network |= mentions_network(&s.output);
    }
    let mut help = String::from(
        "a smoke command sees only the installed root: no network, no build tree, no home directory; \
         files the binary reads must be installed where it looks for them",
    );
    if network {
        help = format!("the output mentions the network, which the sandbox does not have: a smoke command must not reach for it\n{help}");
    }
    Err(Error::failed(msg).with_help(help))
}

fn mentions_network(output: &str) -> bool {
    ["Network is unreachable", "Connection refused", "name resolution", "Could not resolve", "connect:"]
        .iter()
        .any(|m| output.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

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
