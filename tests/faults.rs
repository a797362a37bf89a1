//! Fault injection: `build`, `build_rpms` and the whole `release X.Y` SIGKILLed at moments
//! spread over their run (bounded: fifteen kills, a few minutes at most), and after each kill:
//!
//! - the user's files as `git status` shows them are unchanged, `Cargo.lock` byte for byte
//!   (for the release: only the release's own commits, and at most the files of the step the
//!   kill interrupted between its write and its commit, which the next run commits);
//! - the output directory shows the old collection or the new one, whole (its manifest lists
//!   exactly the RPMs there, each with its checksum);
//! - the next run succeeds (for an interrupted release, `--resume`) and ends where an
//!   uninterrupted run ends.
//!
//! The delays are printed with their seed; `TRAINYARD_FAULT_SEED=N` repeats a run's (the same
//! delays: what a delay hits still depends on the machine's speed, so after each kill of a
//! release the test prints what the kill interrupted, from the journal and git). A window found
//! this way gets a test of its own that reaches it every time
//! (`a_release_killed_inside_a_checkout_resumes_and_aborts`).

use crate::support::portal::{Made, Origin, Portal, BUG_COMMIT, MAIN_WITH_VERSION};
use crate::support::workspace as support;

use crate::support::git as git_support;

use crate::support::collection as collection_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use collection_support::*;
use support::{is_root, trainyard, trainyard_command, TempDir};

/// `git status` of everything but ignored files, and the text of `Cargo.lock`.
fn user_state(dir: &Path) -> (String, String) {
    let status = support::git(dir, &["status", "--porcelain", "--untracked-files=all"]);
    (status, String::from_utf8_lossy(&std::fs::read(dir.join("Cargo.lock")).unwrap()).into_owned())
}

/// Marks the portal's source as changed (its content is not: git sees nothing), so that the
/// next run compiles it: every run then has a build to be killed in.
fn touch(portal: &Path) {
    let main = portal.join("portal/src/main.rs");
    std::fs::File::options().append(true).open(&main).unwrap().set_modified(std::time::SystemTime::now()).unwrap();
}

/// How long a run takes (with a build to do), measured.
fn timed(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Duration {
    touch(dir);
    let started = Instant::now();
    trainyard(dir, args, env).ok();
    started.elapsed()
}

/// The demo's account-portal (using server-core from its own repository).
fn demo() -> (TempDir, PathBuf) {
    let tmp = TempDir::new("faults-demo");
    trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
    let portal = tmp.path().join("account-portal");
    (tmp, portal)
}

/// `build`, killed while it resolves, checks out server-core and compiles: the user's files
/// never change, and the next build succeeds.
#[test]
fn builds_killed_anywhere_leave_the_users_files_and_the_next_build_works() {
    let (_tmp, portal) = demo();
    let before = user_state(&portal);
    // Two builds that differ (server-core 1.0 as Cargo.toml says, and its rpm-2.0 checkout), so
    // that each killed run has work to do.
    let builds: [&[&str]; 2] = [&["build"], &["build", "SERVER_CORE=rpm-2.0"]];
    // Timed once warm: each switch between the two rebuilds server-core and the portal.
    trainyard(&portal, builds[1], &[]).ok();
    trainyard(&portal, builds[0], &[]).ok();
    let span = timed(&portal, builds[1], &[]).max(timed(&portal, builds[0], &[]));
    for (i, wait) in spread(span, 4).into_iter().enumerate() {
        let args = builds[(i + 1) % 2];
        let how = if i % 2 == 0 { Kill::Group } else { Kill::Alone };
        touch(&portal);
        let ended = run_killed(trainyard_command(&portal, args, &[]), wait, how);
        println!(
            "build {args:?}: {how:?} kill after {wait:?}: {}",
            if ended.is_some() { "finished first" } else { "killed" }
        );
        assert_eq!(user_state(&portal), before, "the user's files after killing {args:?} at {wait:?}");
        trainyard(&portal, args, &[]).ok();
        assert_eq!(user_state(&portal), before, "the user's files after the run that followed");
    }
}

/// `build_rpms`, killed anywhere from its build to its switch: the user's files never change,
/// `<out>` shows the old collection or the new one, whole, and the next run succeeds.
#[test]
fn build_rpms_killed_anywhere_leaves_the_old_or_the_new_collection() {
    let (_tmp, portal) = demo();
    let before = user_state(&portal);
    let out = portal.join("target/rpms/dev");
    let args = ["build_rpms", "RPM_CHANNEL=dev"];
    // Two collections of the same files with other bytes (other timestamps), and a third that
    // rebuilds against another server-core (other files, a rebuild of the binary).
    let runs: [&[(&str, &str)]; 3] =
        [&[("SOURCE_DATE_EPOCH", "1000000000")], &[("SOURCE_DATE_EPOCH", "1100000000")], &[("SERVER_CORE", "rpm-2.0")]];
    let mut manifests = Vec::new();
    let mut span = Duration::ZERO;
    for env in runs {
        trainyard(&portal, &args, env).ok();
        manifests.push(whole_collection(&out, true).unwrap());
    }
    // Timed once warm: every run rebuilds (the server-core changes) or re-encodes.
    for env in runs {
        span = span.max(timed(&portal, &args, env));
    }
    let mut current = 2;
    let mut outcomes = BTreeMap::new();
    for (i, wait) in spread(span, 6).into_iter().enumerate() {
        let target = (current + 1) % 3;
        let how = if i % 3 == 2 { Kill::Alone } else { Kill::Group };
        touch(&portal);
        let ended = run_killed(trainyard_command(&portal, &args, runs[target]), wait, how);
        let seen = whole_collection(&out, true).unwrap_or_else(|e| panic!("{how:?} kill after {wait:?}: {e}"));
        let shows = if seen == manifests[current] {
            "old"
        } else if seen == manifests[target] {
            "new"
        } else {
            panic!("{how:?} kill after {wait:?}: <out> shows neither the old nor the new collection")
        };
        println!(
            "build_rpms: {how:?} kill after {wait:?}: {}, <out> shows the {shows} collection",
            if ended.is_some() { "finished first" } else { "killed" }
        );
        *outcomes.entry(shows).or_insert(0) += 1;
        assert_eq!(user_state(&portal), before, "the user's files after a kill at {wait:?}");
        trainyard(&portal, &args, runs[target]).ok();
        assert_eq!(whole_collection(&out, true).unwrap(), manifests[target], "the run after a kill at {wait:?}");
        store_is_tidy(&out).unwrap();
        current = target;
    }
    println!("outcomes: {outcomes:?}");
}

/// A workspace `portal` ready for `release 1.2` (as tests/release.rs makes it): one member
/// using `leftpad` from a local registry, two commits with bug numbers, a bare `origin`.
struct ReleaseFixture {
    repo: git_support::Repo,
    tmp: git_support::TempDir,
}

impl ReleaseFixture {
    fn new() -> ReleaseFixture {
        let Made { repo, tmp, .. } = Portal {
            description: true,
            main_rs: MAIN_WITH_VERSION,
            reqs: [Some("leftpad == 1.0.0\n"), None, Some("")],
            commits: &[BUG_COMMIT],
            origin: Origin::Pushed,
            ..Portal::default()
        }
        .make("faults-release");
        std::fs::write(tmp.path.join("ops"), "Ops\n").unwrap();
        ReleaseFixture { repo, tmp }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = git_support::command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env("SOURCE_DATE_EPOCH", "1767225600").env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL");
        cmd.env_remove("EDITOR").env_remove("VISUAL");
        cmd
    }

    fn args(&self, extra: &[&'static str]) -> Vec<String> {
        let mut args: Vec<String> = ["release", "1.2", "--message-file"].map(String::from).to_vec();
        args.push(self.tmp.path.join("ops").to_str().unwrap().into());
        args.push("--repo-dir".into());
        args.push(self.tmp.path.join("repos").to_str().unwrap().into());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn release(&self, extra: &[&'static str]) -> git_support::Run {
        let args = self.args(extra);
        git_support::run(self.command(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    }

    /// Every ref's name, and the subject of every commit reachable from them, sorted: what
    /// the release did to the repository, apart from commit ids (they hold the fixture's paths).
    fn history(&self) -> (Vec<String>, Vec<String>) {
        let mut refs: Vec<String> =
            self.repo.git(&["for-each-ref", "--format=%(refname)"]).lines().map(String::from).collect();
        refs.sort();
        let mut subjects: Vec<String> =
            self.repo.git(&["log", "--all", "--format=%s"]).lines().map(String::from).collect();
        subjects.sort();
        (refs, subjects)
    }

    fn status(&self) -> String {
        self.repo.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    /// Runs the release to its end after an interruption: `--resume` if the run says so.
    fn finish(&self) {
        let again = self.release(&[]);
        if again.code == Some(2) && format!("{}{}", again.stdout, again.stderr).contains("--resume") {
            self.release(&["--resume"]).ok();
        } else {
            again.ok();
        }
    }
}

/// What a kill left, as the journal and git show it: the step it interrupted, the checkout
/// it may have been inside, whether git's index lock was left, and the files that differ.
fn interrupted(repo: &Path) -> String {
    let journal = std::fs::read_to_string(repo.join("target/trainyard/release/1.2.json")).unwrap_or_default();
    let field = |name: &str| -> String {
        let key = format!("\"{name}\": \"");
        journal
            .find(&key)
            .map(|at| journal[at + key.len()..].split('"').next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let done = journal
        .split("\"done\": [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or("")
        .split_whitespace()
        .collect::<String>();
    let status = support::git(repo, &["status", "--porcelain", "--untracked-files=all"]);
    format!(
        "journal: {}; done [{done}]; inside `{}`; last checkout begun: {}; .git/index.lock {}; work tree: {:?}",
        if journal.is_empty() { "none" } else { "in progress" },
        field("step"),
        field("checkout"),
        if repo.join(".git/index.lock").exists() { "left" } else { "absent" },
        status.lines().collect::<Vec<_>>()
    )
}

/// `release 1.2` (start, pin, notes, tag, build_rpms, mock, publish), killed at moments spread
/// over its run: after each kill the work tree is clean and the repository holds only commits
/// and refs the release makes; the next run (`--resume` when the release was interrupted)
/// finishes it, with exactly the refs and commits of an uninterrupted release.
#[test]
fn whole_releases_killed_anywhere_resume_to_the_same_end() {
    if !is_root() {
        println!("NOTICE: skipping: the whole release path's mock step needs root");
        return;
    }
    let reference = ReleaseFixture::new();
    let started = Instant::now();
    reference.release(&[]).ok();
    let span = started.elapsed();
    let (refs, subjects) = reference.history();
    let published = rpm_names(&reference.tmp.path.join("repos/prod"));
    assert!(!published.is_empty());
    drop(reference);

    // For a loop hunting a rare window: TRAINYARD_FAULT_KILLS=N kills N releases instead of
    // five, and TRAINYARD_FAULT_SPAN_MS=M spreads them over the first M ms (the git steps
    // take the first second or two) instead of the whole release.
    let kills = std::env::var("TRAINYARD_FAULT_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(5);
    let span = match std::env::var("TRAINYARD_FAULT_SPAN_MS").ok().and_then(|n| n.parse().ok()) {
        Some(ms) => Duration::from_millis(ms),
        None => span,
    };
    for (i, wait) in spread(span, kills).into_iter().enumerate() {
        let f = ReleaseFixture::new();
        let (refs_before, _) = f.history();
        let args = f.args(&[]);
        let how = if i % 2 == 0 { Kill::Group } else { Kill::Alone };
        let ended = run_killed(f.command(&args.iter().map(String::as_str).collect::<Vec<_>>()), wait, how);
        println!("release: {how:?} kill after {wait:?}: {}", if ended.is_some() { "finished first" } else { "killed" });
        println!("release: {}", interrupted(&f.repo.dir));
        // A step writes its files, then commits them: killed in between, the files it was
        // writing stay changed until `--resume` commits them (or `--abort` restores them).
        // Nothing else may change.
        let status = f.status();
        let stepping: Vec<&str> = status.lines().map(|l| l[3..].trim()).collect();
        // Also the temporary file of an atomic write the kill cut short (`.Cargo.toml.tmp.PID`),
        // which `--resume` removes.
        let release_file = |p: &str| ["Cargo.toml", "Cargo.lock", "RELEASE.txt"].contains(&p) || p.starts_with("reqs/");
        let release_files = |p: &&str| {
            let (dir, name) = p.rsplit_once('/').map_or(("", *p), |(d, n)| (d, n));
            let written = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp.")).map(|(n, _)| n);
            release_file(p)
                || written
                    .is_some_and(|n| release_file(&if dir.is_empty() { n.to_string() } else { format!("{dir}/{n}") }))
        };
        assert!(stepping.iter().all(release_files), "the work tree after a kill at {wait:?}:\n{status}");
        if !stepping.is_empty() {
            println!("release: killed between a step's write and its commit: {stepping:?}");
        }
        let (refs_now, subjects_now) = f.history();
        for r in &refs_now {
            assert!(refs.contains(r) || refs_before.contains(r), "kill at {wait:?}: ref {r} is not the release's");
        }
        let mut left = subjects.clone();
        for s in &subjects_now {
            let at = left.iter().position(|x| x == s);
            assert!(at.is_some(), "kill at {wait:?}: commit `{s}` is not one the release makes (or is made twice)");
            left.remove(at.unwrap());
        }
        let out = f.repo.dir.join("target/rpms/prod");
        if std::fs::symlink_metadata(&out).is_ok() {
            whole_collection(&out, true).unwrap_or_else(|e| panic!("kill at {wait:?}: {e}"));
        }
        f.finish();
        assert_eq!(f.history(), (refs.clone(), subjects.clone()), "the release resumed after a kill at {wait:?}");
        assert_eq!(f.status(), "");
        assert_eq!(rpm_names(&f.tmp.path.join("repos/prod")), published);
        whole_collection(&out, true).unwrap();
    }
}

/// Makes git stop for a minute the next time it converts `Cargo.lock` with a `filter`
/// (`smudge`: in a checkout, after git removed the old file and before it writes the new one;
/// `clean`: in `git add`, while git holds `index.lock`): the windows a kill inside a git
/// command hits. Returns the marker the filter removes when it begins to wait.
fn slow_git_on_the_lock(f: &ReleaseFixture, filter: &str) -> PathBuf {
    let marker = f.tmp.path.join("slow-filter");
    let script = f.tmp.path.join("slow-filter.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nif [ -e '{0}' ]; then rm -f '{0}'; sleep 60; fi\nexec cat\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An index entry written in the second its file was is "racily clean": git would filter
    // the file again for `git status`. The file made older and the index refreshed, only
    // a checkout or an add filters it.
    let lock = std::fs::File::options().append(true).open(f.repo.dir.join("Cargo.lock")).unwrap();
    lock.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600)).unwrap();
    f.repo.git(&["update-index", "--refresh"]);
    std::fs::write(f.repo.dir.join(".git/info/attributes"), "Cargo.lock filter=slow\n").unwrap();
    f.repo.git(&["config", &format!("filter.slow.{filter}"), script.to_str().unwrap()]);
    std::fs::write(&marker, "").unwrap();
    marker
}

/// `release 1.2` killed inside a git command of its start step: inside its `git switch`, while
/// `Cargo.lock` is removed and not yet written again, and inside its `git add`; both leave
/// git's `index.lock`. `--resume` takes what the command left as the release's (and removes
/// the lock no process holds) and finishes as an uninterrupted release does; `--abort` puts
/// everything back.
#[test]
fn a_release_killed_inside_a_git_command_resumes_and_aborts() {
    if !is_root() {
        println!("NOTICE: skipping: the whole release path's mock step needs root");
        return;
    }
    let reference = ReleaseFixture::new();
    reference.release(&[]).ok();
    for (filter, resume) in [("smudge", true), ("smudge", false), ("clean", true)] {
        let f = ReleaseFixture::new();
        let before = (f.history(), std::fs::read(f.repo.dir.join("Cargo.lock")).unwrap());
        let marker = slow_git_on_the_lock(&f, filter);
        let args = f.args(&[]);
        let mut cmd = f.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
        use std::os::unix::process::CommandExt;
        let mut child = cmd.process_group(0).stdout(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let lock = f.repo.dir.join("Cargo.lock");
        while marker.exists() || (filter == "smudge" && lock.exists()) {
            assert!(Instant::now() < deadline, "the release never reached git's {filter} filter");
            assert!(child.try_wait().unwrap().is_none(), "the release ended before git's {filter} filter");
            std::thread::sleep(Duration::from_millis(5));
        }
        signal_group(child.id(), "-KILL");
        child.wait().unwrap();
        while signal_group(child.id(), "-0") {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = interrupted(&f.repo.dir);
        println!("{filter}: {left}");
        assert!(left.contains(".git/index.lock left"), "{left}");
        f.repo.git(&["config", "--unset", &format!("filter.slow.{filter}")]);
        let said = if resume {
            let run = f.release(&["--resume"]);
            run.ok();
            assert_eq!(f.history(), reference.history());
            format!("{}{}", run.stdout, run.stderr)
        } else {
            let run = f.release(&["--abort"]);
            run.ok();
            assert_eq!((f.history(), std::fs::read(&lock).unwrap()), before);
            format!("{}{}", run.stdout, run.stderr)
        };
        println!("{said}");
        assert!(said.contains("index.lock, left by the git command the kill interrupted"), "{said}");
        if filter == "smudge" {
            assert!(said.contains("put back Cargo.lock"), "{said}");
        }
        if !resume {
            assert!(said.contains("deleted branch 1.2-release"), "{said}");
        }
        assert_eq!(f.status(), "");
    }
}
