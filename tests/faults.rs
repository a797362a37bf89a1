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
//! The delays are printed with their seed; `TRAINYARD_FAULT_SEED=N` repeats a run's.

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

    for (i, wait) in spread(span, 5).into_iter().enumerate() {
        let f = ReleaseFixture::new();
        let (refs_before, _) = f.history();
        let args = f.args(&[]);
        let how = if i % 2 == 0 { Kill::Group } else { Kill::Alone };
        let ended = run_killed(f.command(&args.iter().map(String::as_str).collect::<Vec<_>>()), wait, how);
        println!("release: {how:?} kill after {wait:?}: {}", if ended.is_some() { "finished first" } else { "killed" });
        // A step writes its files, then commits them: killed in between, the files it was
        // writing stay changed until `--resume` commits them (or `--abort` restores them).
        // Nothing else may change.
        let status = f.status();
        let stepping: Vec<&str> = status.lines().map(|l| l[3..].trim()).collect();
        let release_files =
            |p: &&str| ["Cargo.toml", "Cargo.lock", "RELEASE.txt"].contains(p) || p.starts_with("reqs/");
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
