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
        let limit = network_timeout()?;
        let mut cmd = std::process::Command::new("git");
        cmd.arg("-C").arg(self.dir.as_str()).args(args);
        let done = crate::bounded::run(cmd, limit, None)?;
        if done.stopped.is_some() {
            return Err(Error::failed(format!("{what} did not finish in {}", crate::bounded::seconds(limit)))
                .with_help(format!("check that the remote is reachable; {}", crate::bounded::NETWORK.raise(limit))));
        }
        Ok((done.success(), done.stdout, done.stderr))
    }

    /// The git command `git -C DIR ARGS...`, as a plan runs it.
    pub fn command(&self, args: &[&str]) -> crate::plan::Command {
        self.planned(args)
    }

    /// Runs a git command that changes the repository, through the executor (dry-run aware).
    pub fn run(&self, effects: &Effects, args: &[&str]) -> Result<()> {
        exec::tool("git", "git")?;
        effects.apply(&crate::plan::Action::Run(self.command(args)))
    }

    /// `git -C DIR ARGS...` as a plan's command (see [`crate::plan`]): a change the executor runs.
    pub fn planned(&self, args: &[&str]) -> crate::plan::Command {
        crate::plan::Command::program("git").arg("-C").arg(self.dir.as_str()).args(args.iter().copied())
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
    crate::bounded::NETWORK.get()
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
