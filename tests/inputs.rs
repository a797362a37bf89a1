//! Hostile and mistaken input: each is refused with exit 2 (bad input), a message naming what
//! was wrong (file:line where there is one), control characters escaped, and nothing changed:
//! the same refs, a clean work tree, no output directory, no journal. Nothing hangs: every
//! run here is bounded by a timeout.

use crate::support::git as git_support;
use crate::support::portal::{Made, Portal};

use std::time::{Duration, Instant};

use git_support::{command, run, Repo, Run, TempDir};

/// A workspace `portal` (member `app` depending on `leftpad = "1"`, from a local registry that
/// also has leftpad 2.0.0), at 1.2.0-dev on `main`.
struct Fixture {
    repo: Repo,
    tmp: TempDir,
}

impl Fixture {
    fn new(label: &str) -> Fixture {
        let Made { repo, tmp, .. } = Portal {
            leftpad: &["1.0.0", "2.0.0"],
            reqs: [Some("leftpad == 1.0.0\n"), Some("leftpad == 1.0.0\n"), Some("")],
            ..Portal::default()
        }
        .make(label);
        Fixture { repo, tmp }
    }

    /// Runs trainyard, killed if it takes longer than 120 s (a hang fails the test).
    fn ty(&self, args: &[&str]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL").env_remove("EDITOR");
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                child.kill().unwrap();
                panic!("trainyard {args:?} hangs");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Run::from_output(child.wait_with_output().unwrap())
    }

    /// Refs, HEAD, the work tree's status (untracked files too) and the output directories.
    fn snapshot(&self) -> String {
        let outputs: Vec<String> = ["target/rpms", "target/trainyard/release", "--dry-run", "--out"]
            .iter()
            .filter(|p| self.repo.dir.join(p).exists())
            .map(|p| p.to_string())
            .collect();
        format!(
            "{}\n{}\nstatus: {}\noutputs: {outputs:?}",
            self.repo.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
            self.repo.git(&["rev-parse", "HEAD"]),
            self.repo.git(&["status", "--porcelain", "--untracked-files=all"]),
        )
    }

    /// `args` exit 2 with `needle` in stderr and change nothing; returns stderr.
    fn refused(&self, args: &[&str], needle: &str) -> String {
        let before = self.snapshot();
        let r = self.ty(args);
        let stderr = r.fails_with(2).to_string();
        assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in:\n{stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains('\0'), "{args:?}: raw control characters:\n{stderr:?}");
        assert_eq!(self.snapshot(), before, "{args:?} changed something");
        stderr
    }

    fn outside(&self, name: &str, text: &str) -> String {
        let path = self.tmp.path.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// A value that looks like an option is a forgotten value, and an empty one is no value.
#[test]
fn option_values_that_look_like_options_or_are_empty() {
    let f = Fixture::new("optvals");
    f.refused(
        &["build_rpms", "--out", "--dry-run"],
        "option `--out` needs a value, and `--dry-run` looks like an option",
    );
    f.refused(&["build_rpms", "--out", ""], "option `--out` needs a value, and it is empty");
    f.refused(&["build_rpms", "--out="], "option `--out` needs a value, and it is empty");
    f.refused(&["release", "1.2", "--message-file", "--dry-run"], "option `--message-file` needs a value");
    f.refused(&["demo", "--dir", ""], "option `--dir` needs a value, and it is empty");
    // Escape sequences in a value are shown escaped, never sent to the terminal.
    let stderr = f.refused(&["build", "--\u{1b}]0;evil\u{7}"], "unknown option `--");
    assert!(stderr.contains("\\u{1b}"), "{stderr}");
    let stderr = f.refused(&["build", "CHANEL=\u{1b}[31mred"], "unknown variable `CHANEL`");
    assert!(stderr.contains("\\u{1b}[31mred"), "{stderr}");
}

/// Every input of the whole path is checked before its first commit.
#[test]
fn release_inputs_are_checked_before_the_first_commit() {
    let f = Fixture::new("relinputs");
    let missing = f.tmp.path.join("missing.txt");
    f.refused(&["release", "1.2", "--message-file", missing.to_str().unwrap()], "--message-file");
    let empty = f.outside("empty", "# nothing\n\n");
    f.refused(&["release", "1.2", "--message-file", &empty], "has no Impacts lines");
    let dir = f.tmp.path.to_str().unwrap().to_string();
    f.refused(&["release", "1.2", "--message-file", &dir], "not a regular file");
    let ops = f.outside("ops", "Ops\n");
    f.refused(&["release", "1.2"], "no terminal to open $EDITOR");
    // A webhook file inside the repository, refused before anything is committed.
    f.repo.write("hook.txt", "http://127.0.0.1:9/hook\n");
    f.repo.commit_all("a hook file");
    f.refused(&["release", "1.2", "--message-file", &ops, "--webhook-file", "hook.txt"], "inside the repository");
    // Dates of RELEASE.txt: a day that does not exist, a day before 1970.
    for (date, why) in [("2024-02-31", "has no such day"), ("1969-12-31", "is before 1970")] {
        f.repo.write("RELEASE.txt", &format!("1.1 - 2024-03-01\n================\n\n- Ops\n\n1.0 - {date}\n"));
        f.repo.commit_all("notes");
        let stderr = f.refused(&["release", "1.2", "--message-file", &ops], why);
        assert!(stderr.contains("RELEASE.txt:6: the date of the 1.0 section"), "{stderr}");
    }
}

/// `-r` includes: inside the repository, regular files, bounded; errors at the including
/// line, never showing another file's content; non-UTF-8 located. Nothing hangs.
#[test]
fn requirement_includes_are_contained() {
    let f = Fixture::new("includes");
    let secret = f.outside("shadow", "root:$6$SECRETHASH:19000:0:99999:7:::\n");
    let fifo = f.repo.dir.join("reqs/fifo.txt");
    assert!(run(command("mkfifo", &f.repo.dir).tap(|c| {
        c.arg(&fifo);
    }))
    .success());
    std::os::unix::fs::symlink("/dev/zero", f.repo.dir.join("reqs/zero.txt")).unwrap();
    f.repo.write(".gitignore", "/target\n/reqs/fifo.txt\n/reqs/zero.txt\n");
    f.repo.commit_all("ignore the traps");
    for (line, why) in [
        (format!("-r {secret}"), "the file is outside the repository"),
        ("-r /dev/zero".to_string(), "the file is outside the repository"),
        ("-r zero.txt".to_string(), "the file is outside the repository"),
        ("-r fifo.txt".to_string(), "is not a regular file"),
    ] {
        f.repo.write("reqs/dev-reqs.txt", &format!("# dev\n{line}\n"));
        f.repo.commit_all("include");
        let stderr = f.refused(&["build"], why);
        assert!(stderr.contains("dev-reqs.txt:2:4: `-r "), "{stderr}");
        assert!(!stderr.contains("SECRETHASH"), "{stderr}");
    }
    // 2,000 nested includes: refused at the bound, no stack overflow.
    for i in 0..2_000 {
        std::fs::write(f.repo.dir.join(format!("reqs/n{i}.txt")), format!("-r n{}.txt\n", i + 1)).unwrap();
    }
    f.repo.write("reqs/dev-reqs.txt", "-r n0.txt\n");
    f.repo.write(".gitignore", "/target\n/reqs/fifo.txt\n/reqs/zero.txt\n/reqs/n*.txt\n");
    f.repo.commit_all("deep");
    f.refused(&["build"], "more than 32 nested includes");
    // Not UTF-8: file, line and column; a NUL byte is shown escaped.
    std::fs::write(f.repo.dir.join("reqs/dev-reqs.txt"), b"leftpad >= 1\nle\xfftpad == 1\n").unwrap();
    f.repo.commit_all("latin-1");
    f.refused(&["build"], "dev-reqs.txt:2:3: not UTF-8 text");
    std::fs::write(f.repo.dir.join("reqs/dev-reqs.txt"), b"leftpad\0 == 1\n").unwrap();
    f.repo.commit_all("nul");
    let stderr = f.refused(&["build"], "dev-reqs.txt:1:");
    assert!(stderr.contains("\\u{0}"), "{stderr}");
}

/// A FIFO named Cargo.toml in the tree and an `fd::` URL do not hang `build`; a dev pin
/// that cannot be applied is an error naming it; `== 1.0rc1` is not mangled.
#[test]
fn build_traps_and_dev_pins() {
    let f = Fixture::new("traps");
    std::fs::create_dir_all(f.repo.dir.join("junk")).unwrap();
    assert!(run(command("mkfifo", &f.repo.dir).tap(|c| {
        c.arg("junk/Cargo.toml");
    }))
    .success());
    f.repo.write(".gitignore", "/target\n/junk\n");
    f.repo.commit_all("a fifo");
    f.ty(&["build"]).ok();

    let manifest = std::fs::read_to_string(f.repo.dir.join("Cargo.toml")).unwrap();
    f.repo.write(
        "Cargo.toml",
        &format!("{manifest}\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"fd::3\"\n"),
    );
    f.repo.commit_all("fd url");
    f.refused(&["build", "SERVER_CORE=rpm-1.0"], "git's `fd::` transport is not allowed");
    f.repo.write("Cargo.toml", &manifest);
    f.repo.commit_all("no fd url");

    f.repo.write("reqs/dev-reqs.txt", "leftpad == 2.0.0\n");
    f.repo.commit_all("pin 2");
    let r = f.ty(&["build"]);
    assert!(!r.success(), "{r:?}");
    assert!(
        r.stderr.contains("dev-reqs.txt:1: `leftpad == 2.0.0` cannot be applied: the graph has leftpad 1.0.0"),
        "{}",
        r.stderr
    );
    // PEP 440's `1.0rc1` is Cargo's `1.0.0-rc.1`, never `1.0rc1.0`.
    f.repo.write("reqs/dev-reqs.txt", "leftpad == 1.0rc1\n");
    f.repo.commit_all("pin rc");
    let r = f.ty(&["build"]);
    assert!(!r.success(), "{r:?}");
    assert!(r.stderr.contains("1.0.0-rc.1") && !r.stderr.contains("1.0rc1.0"), "{}", r.stderr);
}

trait Tap: Sized {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl Tap for std::process::Command {}
