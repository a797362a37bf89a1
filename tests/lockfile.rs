//! The user's `Cargo.lock` is never written: each build resolves and builds against a lock
//! file of its own under `target/trainyard/`, read by cargo 1.97+ through
//! `resolver.lockfile-path` and by older cargo through a shadow of the workspace root.
//!
//! Every scenario runs twice, with a cargo that has `resolver.lockfile-path` and with one that
//! has not (found among rustup's toolchains; `rustup toolchain install nightly 1.95.0` provides
//! both), on the fixture workspace of tests/build.rs, whose `app` prints the versions of the
//! crates it was built with.

use crate::support::workspace as support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::*;

const PROD_VERSIONS: &str = "leftpad 1.0.0 padcore 0.3.0";
const DEV_VERSIONS: &str = "leftpad 1.1.0 padcore 0.3.1";

/// A cargo to run trainyard with, and the rustup toolchain its rustc comes from.
#[derive(Debug, Clone)]
struct Toolchain {
    cargo: String,
    rustup: Option<String>,
    has_lockfile_path: bool,
}

impl Toolchain {
    fn env(&self) -> Vec<(&str, &str)> {
        let mut env = vec![("CARGO", self.cargo.as_str())];
        if let Some(name) = &self.rustup {
            env.push(("RUSTUP_TOOLCHAIN", name.as_str()));
        }
        env
    }

    /// What trainyard's cargo command lines show for this mechanism.
    fn mark(&self) -> &'static str {
        if self.has_lockfile_path {
            "resolver.lockfile-path="
        } else {
            "/shadow/Cargo.toml"
        }
    }
}

fn cargo_minor(cargo: &str) -> Option<(u64, u64)> {
    let out = Command::new(cargo).arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().nth(1)?.split(['-', '.']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Every cargo this machine has: `$CARGO`, then each rustup toolchain's.
fn all_cargos() -> &'static [Toolchain] {
    static ALL: OnceLock<Vec<Toolchain>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut found: Vec<(String, Option<String>)> = Vec::new();
        if let Ok(cargo) = std::env::var("CARGO") {
            found.push((cargo, std::env::var("RUSTUP_TOOLCHAIN").ok()));
        }
        if let Ok(out) = Command::new("rustup").args(["toolchain", "list"]).output() {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Some(name) = line.split_whitespace().next() else { continue };
                let Ok(which) = Command::new("rustup").args(["which", "--toolchain", name, "cargo"]).output() else {
                    continue;
                };
                if which.status.success() {
                    found.push((String::from_utf8_lossy(&which.stdout).trim().to_string(), Some(name.to_string())));
                }
            }
        }
        found
            .into_iter()
            .filter_map(|(cargo, rustup)| {
                let v = cargo_minor(&cargo)?;
                Some(Toolchain { cargo, rustup, has_lockfile_path: v >= (1, 97) })
            })
            .collect()
    })
}

fn toolchain(has_lockfile_path: bool) -> Toolchain {
    all_cargos().iter().find(|t| t.has_lockfile_path == has_lockfile_path).cloned().unwrap_or_else(|| {
        panic!(
            "this test needs a cargo {} 1.97 (found: {:?}); install one with `rustup toolchain install --profile minimal {}`",
            if has_lockfile_path { "of at least" } else { "older than" },
            all_cargos(),
            if has_lockfile_path { "nightly" } else { "1.95.0" }
        )
    })
}

/// Runs `$scenario(&Toolchain)` once with each kind of cargo.
macro_rules! with_both_cargos {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn with_lockfile_path() {
                super::$scenario(&super::toolchain(true));
            }
            #[test]
            fn with_shadow_fallback() {
                super::$scenario(&super::toolchain(false));
            }
        }
    };
}

/// The workspace of tests/build.rs with `app` packaged: prod pins leftpad 1.0.0 and padcore
/// 0.3.0 (the committed lock), dev takes leftpad 1.1.0 and padcore 0.3.1.
struct Fixture {
    tmp: TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = TempDir::new("lockfile");
        let root = leftpad_workspace(
            tmp.path(),
            "license = \"MIT\"\ndescription = \"Pads on the left\"\n",
            "\n[package.metadata.trainyard.rpm]\n",
        );
        git(&root, &["tag", "-a", "-m", "release 0.1", "rpm-0.1"]);
        Fixture { tmp, root }
    }

    fn lock_bytes(&self) -> Vec<u8> {
        std::fs::read(self.root.join("Cargo.lock")).unwrap()
    }

    fn app_says(&self) -> String {
        sh(&self.root, &self.root.join("target/release/app").display().to_string(), &[])
    }
}

/// A cargo that, for `subcommand`, marks `marks/started`, waits `secs`, runs the real cargo
/// and marks `marks/finished`: a window in which a test starts another run or kills this one.
fn slow_cargo(dir: &Path, tc: &Toolchain, subcommand: &str, secs: f64) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let marks = dir.join(format!("marks-{subcommand}"));
    let _ = std::fs::remove_dir_all(&marks);
    std::fs::create_dir_all(&marks).unwrap();
    let script = dir.join(format!("slow-cargo-{subcommand}"));
    write(
        &script,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = {subcommand} ]; then\n  touch '{m}/started'\n  sleep {secs}\n  '{cargo}' \"$@\"\n  rc=$?\n  touch '{m}/finished'\n  exit $rc\nfi\nexec '{cargo}' \"$@\"\n",
            m = marks.display(),
            cargo = tc.cargo
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, marks)
}

fn wait_for(path: &Path, within: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < within, "{} did not appear within {within:?}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts trainyard in the background with `tc`, its cargo replaced by `cargo`.
fn spawn(root: &Path, args: &[&str], tc: &Toolchain, cargo: &Path) -> Child {
    let mut env = tc.env();
    let cargo = cargo.display().to_string();
    env.retain(|(k, _)| *k != "CARGO");
    env.push(("CARGO", &cargo));
    trainyard_command(root, args, &env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Unpacks the prod collection's `app` RPM and runs the binary inside it.
fn packaged_app_says(f: &Fixture, scratch: &str) -> String {
    let out = f.root.join("target/rpms/prod");
    let rpm = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("app-"))
        .unwrap_or_else(|| panic!("no app RPM in {}", out.display()));
    let dir = f.tmp.path().join(scratch);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("sh")
        .args(["-c", "rpm2cpio \"$1\" | cpio -idm --quiet", "sh"])
        .arg(&rpm)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "unpacking {}: {}", rpm.display(), String::from_utf8_lossy(&out.stderr));
    sh(&dir, &dir.join("usr/bin/app").display().to_string(), &[])
}

/// A dev build and a prod `build_rpms` at the same time, each started while the other is
/// inside its cargo build: the prod RPM's binary has the prod versions, the dev build the
/// dev ones, a `pin --check` meanwhile sees the prod lock, and Cargo.lock never changes.
fn concurrent_dev_build_and_prod_build_rpms(tc: &Toolchain) {
    let f = Fixture::new();
    let env = tc.env();
    trainyard(&f.root, &["pin", "CHANNEL=prod"], &env).ok();
    // pin keeps a file's own layout, so it may have nothing to commit.
    if !git(&f.root, &["status", "--porcelain"]).is_empty() {
        commit_all(&f.root, "pin prod in pin's layout");
    }
    let lock = f.lock_bytes();

    // The dev build is mid-build (its resolution made) when build_rpms and pin start.
    let (slow, marks) = slow_cargo(f.tmp.path(), tc, "build", 2.0);
    let dev = spawn(&f.root, &["-v", "build", "--refresh"], tc, &slow);
    wait_for(&marks.join("started"), Duration::from_secs(60));
    trainyard(&f.root, &["pin", "CHANNEL=prod", "--check"], &env).ok().says("is up to date");
    let prod = trainyard(&f.root, &["-v", "build_rpms"], &env);
    let dev = finish(dev);
    dev.ok().says(tc.mark());
    prod.ok().says(tc.mark());
    assert_eq!(packaged_app_says(&f, "round1"), PROD_VERSIONS, "prod RPM after a concurrent dev build");
    let collection = read(&f.root.join("target/rpms/prod/collection.json"));
    assert!(collection.contains("rust-leftpad-devel-1.0.0-1.noarch.rpm"), "{collection}");
    assert!(!collection.contains("1.1.0"), "{collection}");
    let dev_manifest = read(&f.root.join("target/trainyard/build-dev.json"));
    assert!(dev_manifest.contains("\"1.1.0\""), "{dev_manifest}");

    // The other way round: build_rpms is about to run its cargo build when the dev build starts.
    std::fs::remove_dir_all(f.root.join("target/rpms/prod")).unwrap();
    let (slow, marks) = slow_cargo(f.tmp.path(), tc, "build", 2.0);
    let prod = spawn(&f.root, &["build_rpms"], tc, &slow);
    wait_for(&marks.join("started"), Duration::from_secs(60));
    let dev = trainyard(&f.root, &["build", "--refresh"], &env);
    finish(prod).ok();
    dev.ok();
    assert_eq!(packaged_app_says(&f, "round2"), PROD_VERSIONS, "prod RPM when a dev build started during it");
    assert_eq!(f.app_says(), DEV_VERSIONS, "the dev build, which ran last");
    assert!(f.lock_bytes() == lock, "Cargo.lock changed");
    assert_eq!(tracked_changes(&f.root), "");
}
with_both_cargos!(concurrent_dev_build_and_prod_build_rpms);

/// kill -9 of trainyard alone (as a CI timeout does) while its `cargo update` runs: the orphan
/// cargo finishes on its own, and the user's Cargo.lock is byte-identical afterwards, each time.
fn kill_9_during_cargo_update_leaves_cargo_lock_unchanged(tc: &Toolchain) {
    let f = Fixture::new();
    let lock = f.lock_bytes();
    // Built once, so that later runs spend their time resolving, not compiling.
    trainyard(&f.root, &["build"], &tc.env()).ok();
    for (round, delay_ms) in [0u64, 300, 700].into_iter().enumerate() {
        let (slow, marks) = slow_cargo(f.tmp.path(), tc, "update", 1.0);
        let mut child = spawn(&f.root, &["build", "--refresh"], tc, &slow);
        wait_for(&marks.join("started"), Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        let _ = child.wait();
        // The orphan: the slow cargo, then the real `cargo update`, runs to its end.
        wait_for(&marks.join("finished"), Duration::from_secs(60));
        assert!(f.lock_bytes() == lock, "round {round}: Cargo.lock changed after kill -9 during cargo update");
        assert_eq!(tracked_changes(&f.root), "", "round {round}");
    }
    // The next run starts while the orphan still waits to run its `cargo update`.
    let (slow, marks) = slow_cargo(f.tmp.path(), tc, "update", 4.0);
    let mut child = spawn(&f.root, &["build", "--refresh"], tc, &slow);
    wait_for(&marks.join("started"), Duration::from_secs(60));
    child.kill().unwrap();
    let _ = child.wait();
    trainyard(&f.root, &["build", "--refresh"], &tc.env()).ok();
    assert!(!marks.join("finished").exists(), "the orphan ended before the next run did; the test proves nothing");
    wait_for(&marks.join("finished"), Duration::from_secs(60));
    assert!(f.lock_bytes() == lock, "Cargo.lock changed by an orphan after the next run");
    // The next resolution builds the dev versions; nothing of the killed runs is left.
    trainyard(&f.root, &["-v", "build", "--refresh"], &tc.env()).ok().says(tc.mark());
    assert_eq!(f.app_says(), DEV_VERSIONS);
    assert!(f.lock_bytes() == lock);
    let leftovers: Vec<String> = std::fs::read_dir(f.root.join("target/trainyard/dev"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".resolve-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
with_both_cargos!(kill_9_during_cargo_update_leaves_cargo_lock_unchanged);

/// A `Cargo.lock` that is a symbolic link stays one, and the file it points to keeps its bytes,
/// through dev and prod builds.
fn a_symlinked_cargo_lock_stays_a_link(tc: &Toolchain) {
    let f = Fixture::new();
    std::fs::create_dir_all(f.root.join("locks")).unwrap();
    std::fs::rename(f.root.join("Cargo.lock"), f.root.join("locks/Cargo.lock")).unwrap();
    std::os::unix::fs::symlink("locks/Cargo.lock", f.root.join("Cargo.lock")).unwrap();
    commit_all(&f.root, "the lock lives in locks/");
    let target = std::fs::read(f.root.join("locks/Cargo.lock")).unwrap();
    trainyard(&f.root, &["-v", "build"], &tc.env()).ok().says(tc.mark());
    assert_eq!(f.app_says(), DEV_VERSIONS);
    trainyard(&f.root, &["build", "CHANNEL=prod"], &tc.env()).ok();
    assert_eq!(f.app_says(), PROD_VERSIONS);
    let meta = std::fs::symlink_metadata(f.root.join("Cargo.lock")).unwrap();
    assert!(meta.file_type().is_symlink(), "Cargo.lock is no longer a symbolic link");
    assert_eq!(std::fs::read_link(f.root.join("Cargo.lock")).unwrap(), Path::new("locks/Cargo.lock"));
    assert!(std::fs::read(f.root.join("locks/Cargo.lock")).unwrap() == target, "the link's target changed");
    assert_eq!(tracked_changes(&f.root), "");
}
with_both_cargos!(a_symlinked_cargo_lock_stays_a_link);

/// A workspace copied (with its target/) after a killed build, then built: the copy builds its
/// own sources against its own lock, and the original keeps the commit made there since.
fn a_copied_workspace_after_a_killed_build(tc: &Toolchain) {
    let f = Fixture::new();
    let (slow, marks) = slow_cargo(f.tmp.path(), tc, "build", 1.0);
    let mut child = spawn(&f.root, &["build", "--refresh"], tc, &slow);
    wait_for(&marks.join("started"), Duration::from_secs(60));
    child.kill().unwrap();
    let _ = child.wait();
    wait_for(&marks.join("finished"), Duration::from_secs(120));

    let copy = f.tmp.path().join("portal-copy");
    sh(f.tmp.path(), "cp", &["-a", f.root.to_str().unwrap(), copy.to_str().unwrap()]);
    let copied_lock = std::fs::read(copy.join("Cargo.lock")).unwrap();
    // Later work in the original: a new lock, committed (after undoing any stray change to
    // Cargo.lock, as someone would on seeing one).
    git(&f.root, &["checkout", "--", "Cargo.lock"]);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&f.root, &cargo, &["update", "--quiet", "-p", "padcore", "--precise", "0.3.1"]);
    commit_all(&f.root, "padcore 0.3.1");
    let original_lock = f.lock_bytes();
    assert!(original_lock != copied_lock);
    // The copy says who it is.
    write(
        &copy.join("app/src/main.rs"),
        "fn main() {\n    println!(\"copy: leftpad {} padcore {}\", leftpad::VERSION, leftpad::PADCORE_VERSION);\n}\n",
    );

    trainyard(&copy, &["-v", "build"], &tc.env()).ok().says(tc.mark());
    let says = sh(&copy, &copy.join("target/release/app").display().to_string(), &[]);
    assert_eq!(says, format!("copy: {DEV_VERSIONS}"));
    assert!(f.lock_bytes() == original_lock, "the original's Cargo.lock was changed from the copy");
    assert_eq!(tracked_changes(&f.root), "");
    assert!(std::fs::read(copy.join("Cargo.lock")).unwrap() == copied_lock, "the copy's Cargo.lock changed");
}
with_both_cargos!(a_copied_workspace_after_a_killed_build);

/// What an older trainyard, killed mid-swap, left in target/trainyard/lock-swap/ (or what
/// someone planted there) is reported and never acted on: the file its journal names and the
/// user's Cargo.lock keep their bytes.
#[test]
fn a_planted_lock_swap_journal_is_reported_and_never_followed() {
    let f = Fixture::new();
    let lock = f.lock_bytes();
    let swap = f.root.join("target/trainyard/lock-swap");
    let victim = f.tmp.path().join("victim.txt");
    write(&victim, "precious\n");

    // A journal naming a file outside the workspace.
    write(&swap.join("journal"), victim.to_str().unwrap());
    write(&swap.join("original.lock"), "planted\n");
    let run = trainyard(&f.root, &["build", "CHANNEL=prod"], &[]);
    assert_eq!(read(&victim), "precious\n");
    assert!(f.lock_bytes() == lock);
    run.ok().says("left by an older trainyard").says("help: compare");
    assert!(swap.join("journal").exists(), "the leftover is the user's to inspect");

    // A journal naming Cargo.lock, with another lock "saved".
    write(&swap.join("journal"), "Cargo.lock");
    write(&swap.join("original.lock"), &String::from_utf8(lock.clone()).unwrap().replace("1.0.0", "1.1.0"));
    trainyard(&f.root, &["pin", "CHANNEL=prod", "--dry-run"], &[]).ok().says("left by an older trainyard");
    trainyard(&f.root, &["build"], &[]).ok();
    assert!(f.lock_bytes() == lock, "Cargo.lock was restored from a planted copy");
    assert_eq!(tracked_changes(&f.root), "");

    // A leftover whose saved lock is the user's lock holds nothing to restore: removed quietly.
    std::fs::write(swap.join("original.lock"), &lock).unwrap();
    trainyard(&f.root, &["build", "CHANNEL=prod", "--dry-run"], &[])
        .ok()
        .says("would remove: ")
        .says("target/trainyard/lock-swap/");
    assert!(swap.join("journal").exists(), "a dry run removed it");
    let run = trainyard(&f.root, &["build", "CHANNEL=prod"], &[]);
    run.ok();
    assert!(!run.output().contains("older trainyard"), "{}", run.output());
    assert!(!swap.exists());
    assert_eq!(read(&victim), "precious\n");
}

/// `pin` writes a symlinked requirement file through the link, and refuses one whose link
/// leads out of the workspace, changing nothing.
#[test]
fn pin_writes_through_a_symlinked_requirement_file() {
    let f = Fixture::new();
    write(&f.root.join("shared/prod-reqs.txt"), "# Shared pins.\nleftpad == 1.0.0\n");
    std::fs::remove_file(f.root.join("reqs/prod-reqs.txt")).unwrap();
    std::os::unix::fs::symlink("../shared/prod-reqs.txt", f.root.join("reqs/prod-reqs.txt")).unwrap();
    commit_all(&f.root, "prod pins are shared");
    trainyard(&f.root, &["pin", "CHANNEL=prod"], &[]).ok().says("+padcore == 0.3.0");
    let link = f.root.join("reqs/prod-reqs.txt");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(read(&f.root.join("shared/prod-reqs.txt")), "# Shared pins.\nleftpad == 1.0.0\npadcore == 0.3.0\n");

    let outside = f.tmp.path().join("outside-reqs.txt");
    write(&outside, "leftpad == 1.0.0\n");
    let stage = f.root.join("reqs/stage-reqs.txt");
    std::os::unix::fs::symlink(&outside, &stage).unwrap();
    let before = snapshot(&f.root);
    trainyard(&f.root, &["pin", "CHANNEL=stage"], &[])
        .fails_with(2)
        .says("not a file inside the workspace")
        .says("help: replace the link");
    assert_eq!(read(&outside), "leftpad == 1.0.0\n");
    assert!(std::fs::symlink_metadata(&stage).unwrap().file_type().is_symlink());
    assert!(snapshot(&f.root) == before);
}

/// Internal-project overrides on the demo's repositories: the dev build and a stage collection of
/// the service as of a tag, each against its own resolution, and Cargo.lock as it was.
fn overrides_resolve_into_their_own_lock_files(tc: &Toolchain) {
    let tmp = TempDir::new("lockfile-demo");
    let yard = tmp.path().join("yard");
    trainyard(tmp.path(), &["demo", "--dir", yard.to_str().unwrap()], &tc.env()).ok();
    let portal = yard.join("account-portal");
    let lock = std::fs::read(portal.join("Cargo.lock")).unwrap();
    let app = portal.join("target/release/account-portal").display().to_string();
    trainyard(&portal, &["-v", "build", "SERVER_CORE=rpm-2.0"], &tc.env()).ok().says(tc.mark());
    assert!(sh(&portal, &app, &[]).ends_with("using server-core 2.0"), "{}", sh(&portal, &app, &[]));
    trainyard(&portal, &["build"], &tc.env()).ok();
    assert!(sh(&portal, &app, &[]).ends_with("using server-core 1.0"));
    let run = trainyard(
        &portal,
        &["-v", "build_rpms", "SERVER_CORE=rpm-2.0", "ACCOUNT_PORTAL=rpm-1.2", "RPM_CHANNEL=stage"],
        &tc.env(),
    );
    run.ok().says(tc.mark());
    assert!(portal.join("target/rpms/stage/server-core-2.0-1.x86_64.rpm").exists(), "{}", run.output());
    let keys: Vec<String> = std::fs::read_dir(portal.join("target/trainyard"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dev"))
        .collect();
    assert_eq!(keys.len(), 2, "dev and dev with the override each have a lock: {keys:?}");
    assert!(std::fs::read(portal.join("Cargo.lock")).unwrap() == lock, "Cargo.lock changed");
    assert_eq!(tracked_changes(&portal), "");
}
with_both_cargos!(overrides_resolve_into_their_own_lock_files);
