//! Fixtures for end-to-end tests: real git repositories in temporary directories, and the
//! real binary run inside them with a controlled environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("trainyard-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Variables a CI system sets that change what trainyard does; never inherited by a child.
pub fn is_ci_variable(name: &str) -> bool {
    name == "CI"
        || name.starts_with("GITHUB_")
        || name.starts_with("GITLAB_")
        || name.starts_with("CI_")
        || name.starts_with("TRAINYARD_")
}

/// A command with a reproducible environment: no CI variables, no user or system git
/// configuration, fixed author, committer and dates.
pub fn command(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_ci_variable) {
            cmd.env_remove(&name);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

/// The outcome of a command, with its text decoded.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout without the trailing newline, after asserting success.
    pub fn ok(&self) -> &str {
        assert!(
            self.success(),
            "expected success, got {:?}\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        self.stdout.trim_end()
    }

    /// Asserts the exit code and returns stderr.
    pub fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        &self.stderr
    }
}

/// Asserts that `run`'s stdout or stderr contains `needle`.
pub fn says(run: &Run, needle: &str) {
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
}

/// Whether the tests run as root; if not, prints that `what` is skipped.
pub fn is_root(what: &str) -> bool {
    let root = super::workspace::is_root();
    if !root {
        eprintln!("NOTICE: skipping {what}: needs root");
    }
    root
}

/// Runs a command built by [`command`] and returns what it did.
pub fn run(mut cmd: Command) -> Run {
    Run::from_output(cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")))
}

/// A git work tree in a temporary directory.
pub struct Repo {
    pub dir: PathBuf,
    _tmp: Option<TempDir>,
}

impl Repo {
    /// `git init -b <branch>` in a new temporary directory.
    pub fn init(label: &str, branch: &str) -> Repo {
        let tmp = TempDir::new(label);
        let repo = Repo { dir: tmp.path.join("repo"), _tmp: Some(tmp) };
        std::fs::create_dir_all(&repo.dir).unwrap();
        repo.git(&["init", "--quiet", "-b", branch]);
        repo
    }

    /// `git clone <args> file://<self> <new temp dir>`, e.g. `&["--depth", "1"]`.
    pub fn clone_with(&self, label: &str, args: &[&str]) -> Repo {
        let tmp = TempDir::new(label);
        let dir = tmp.path.join("clone");
        let url = format!("file://{}", self.dir.display());
        let mut cmd = command("git", &tmp.path);
        cmd.arg("clone").arg("--quiet").args(args).arg(&url).arg(&dir);
        run(cmd).ok();
        Repo { dir, _tmp: Some(tmp) }
    }

    /// Runs git in the work tree; panics unless it succeeds; returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = command("git", &self.dir);
        cmd.args(args);
        run(cmd).ok().to_string()
    }

    /// Writes a file (creating directories), relative to the work tree.
    pub fn write(&self, path: &str, contents: &str) {
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// `git add -A && git commit`; returns the new commit id.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.head()
    }

    /// `n` commits, each changing `history.txt`; returns the last commit id.
    pub fn commits(&self, n: usize, label: &str) -> String {
        for i in 1..=n {
            let path = self.dir.join("history.txt");
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str(&format!("{label} {i}\n"));
            std::fs::write(&path, text).unwrap();
            self.commit_all(&format!("{label} {i}"));
        }
        self.head()
    }

    /// An annotated tag on HEAD (what release tags are).
    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", "-m", name, name]);
    }

    /// A lightweight tag on HEAD.
    pub fn lightweight_tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    pub fn checkout_new(&self, branch: &str) {
        self.git(&["checkout", "--quiet", "-b", branch]);
    }

    pub fn checkout(&self, rev: &str) {
        self.git(&["checkout", "--quiet", rev]);
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs `program` in the work tree with the clean environment plus `env`.
    pub fn run(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = command(program, &self.dir);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    }
}
