//! Every git call goes through here. Values that reach git are validated first.

use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::error::{Error, Result};
use crate::exec::{self, Effects};

/// Refuses ref names that git could read as options or that are not valid refs.
///
/// Accepts what `git check-ref-format --allow-onelevel` accepts, minus anything
/// starting with `-`, plus full or abbreviated commit ids (which are valid names too).
pub fn validate_ref(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::usage(format!("`{}` is not a usable git ref: {why}", name.escape_debug()))
            .with_help("give a tag (rpm-2.0), a branch (main) or a full commit id"))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.starts_with('-') {
        return bad("it starts with `-` and would be read as an option");
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return bad(&format!("it contains {:?}", c));
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if name.contains("@{") || name == "@" {
        return bad("it contains `@{` or is `@`");
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return bad(&format!("it contains `{c}`"));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return bad("it has an empty path component");
    }
    if name.ends_with('.') || name.ends_with(".lock") {
        return bad("it ends with `.` or `.lock`");
    }
    if name.split('/').any(|part| part.starts_with('.')) {
        return bad("a component starts with `.`");
    }
    Ok(())
}

/// A git repository (a work tree or a bare mirror).
#[derive(Debug, Clone)]
pub struct Git {
    pub dir: Utf8PathBuf,
}

impl Git {
    pub fn new(dir: impl Into<Utf8PathBuf>) -> Git {
        Git { dir: dir.into() }
    }

    fn sh() -> Result<Shell> {
        exec::tool("git", "git")?;
        Shell::new().map_err(exec::command_error)
    }

    /// Runs a read-only git command and returns its trimmed stdout.
    pub fn read(&self, args: &[&str]) -> Result<String> {
        let sh = Self::sh()?;
        let dir = &self.dir;
        exec::read(cmd!(sh, "git -C {dir} {args...}"))
    }

    /// Runs a read-only git command; `None` when git exits non-zero.
    pub fn try_read(&self, args: &[&str]) -> Result<Option<String>> {
        let sh = Self::sh()?;
        let dir = &self.dir;
        let (ok, out, _) = exec::output(cmd!(sh, "git -C {dir} {args...}"))?;
        Ok(ok.then(|| out.trim_end().to_string()))
    }

    /// Runs a git command and returns (success, stdout, stderr) without failing on its status,
    /// so the caller can turn git's own message into an error. Not dry-run aware: the caller
    /// decides (trainyard's own state under `target/`, for example the checkout cache).
    pub fn output(&self, args: &[&str]) -> Result<(bool, String, String)> {
        self.output_env(&[], args)
    }

    /// [`Git::output`] with extra environment variables (a throwaway `GIT_INDEX_FILE`, for example).
    pub fn output_env(&self, env: &[(&str, &str)], args: &[&str]) -> Result<(bool, String, String)> {
        let sh = Self::sh()?;
        let dir = &self.dir;
        let mut cmd = cmd!(sh, "git -C {dir} {args...}");
        for (key, value) in env {
            cmd = cmd.env(key, value);
        }
        exec::output(cmd)
    }

    /// [`Git::output`] for a command that talks to a remote (fetch, ls-remote): bounded by
    /// [`network_timeout`]. Past it, git and every process it started (its remote helper, ssh)
    /// are killed and the error says what was waited on and for how long.
    pub fn output_bounded(&self, args: &[&str], what: &str) -> Result<(bool, String, String)> {
        use std::io::Read;
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};

        let limit = network_timeout()?;
        let mut child = Command::new("git")
            .arg("-C")
            .arg(self.dir.as_str())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a kill reaches git's helpers as well.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::failed(format!("could not run git: {e}")))?;
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).into_owned()
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped")));
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| Error::failed(format!("waiting for git: {e}")))? {
                break status;
            }
            if start.elapsed() >= limit {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::failed(format!("{what} did not finish in {} s", limit.as_secs())).with_help(
                    "check that the remote is reachable; TRAINYARD_NETWORK_TIMEOUT=SECONDS gives network calls longer",
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        Ok((status.success(), out, err))
    }

    /// The git command `git -C DIR ARGS...`, as a plan runs it.
    pub fn command(&self, args: &[&str]) -> crate::plan::Command {
        crate::plan::Command::new("git").arg("-C").arg(self.dir.as_str()).args(args.iter().copied())
    }

    /// Runs a git command that changes the repository, through the executor (dry-run aware).
    pub fn run(&self, effects: &Effects, args: &[&str]) -> Result<()> {
        exec::tool("git", "git")?;
        effects.apply(&crate::plan::Action::Run(self.command(args)))
    }

    /// The commit id of HEAD.
    pub fn head(&self) -> Result<String> {
        self.read(&["rev-parse", "--verify", "HEAD^{commit}"])
    }

    /// True when tracked files differ from HEAD (untracked files do not count).
    pub fn is_dirty(&self) -> Result<bool> {
        Ok(!self.read(&["status", "--porcelain", "--untracked-files=no"])?.is_empty())
    }

    /// The current branch, or `None` on a detached HEAD.
    pub fn current_branch(&self) -> Result<Option<String>> {
        self.try_read(&["symbolic-ref", "--quiet", "--short", "HEAD"])
    }

    /// Whether `dir` is inside a git work tree.
    pub fn is_repo(dir: &Utf8Path) -> bool {
        Git::new(dir).try_read(&["rev-parse", "--git-dir"]).ok().flatten().is_some()
    }
}

/// How long one network call (a git fetch or ls-remote) may take in total:
/// `TRAINYARD_NETWORK_TIMEOUT` seconds, 600 by default.
pub fn network_timeout() -> Result<std::time::Duration> {
    match std::env::var("TRAINYARD_NETWORK_TIMEOUT") {
        Err(_) => Ok(std::time::Duration::from_secs(600)),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(std::time::Duration::from_secs(secs)),
            _ => Err(Error::usage(format!("TRAINYARD_NETWORK_TIMEOUT={v:?} is not a whole number of seconds above 0"))
                .with_help("set it to a number of seconds, e.g. TRAINYARD_NETWORK_TIMEOUT=120, or unset it for 600")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_that_are_refused() {
        for bad in [
            "",
            "-x",
            "--upload-pack=touch /tmp/x",
            "a b",
            "a\tb",
            "a..b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            "a.",
            "a.lock",
            ".a",
            "a/.b",
            "@",
            "a@{1}",
            "a\u{7}",
        ] {
            assert!(validate_ref(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refs_that_are_accepted() {
        for good in ["rpm-2.0", "main", "1.2-release", "feature/x", "0123456789abcdef0123456789abcdef01234567"] {
            validate_ref(good).unwrap();
        }
    }
}
