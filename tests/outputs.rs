//! Collections in a shared, concurrent or interrupted output directory: the real binary on the
//! demo repositories, runs started side by side and killed at random moments, and what
//! `release publish --from` and `createrepo_c` then take from the directory.
//!
//! Needs `rpm` and `createrepo_c` (Debian packages `rpm`, `createrepo-c`), as CI installs them.

use crate::support::workspace as support;

use crate::support::collection as collection_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::demo::Demo;
use collection_support::*;
use support::*;

fn names(manifest: &[u8]) -> BTreeSet<String> {
    listed(manifest).into_iter().map(|(f, _, _)| f).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn ino(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// Two workspaces writing into one `--out` keep each other's packages (and a file neither
/// wrote); each replaces only what its own manifest listed; a name both want with other bytes
/// is refused; `release publish --from` takes only what `collection.json` lists.
#[test]
fn two_workspaces_share_an_out_directory() {
    let d = Demo::new("outputs-demo");
    let shared = d.tmp.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("other-team-9.9-1.x86_64.rpm"), "not ours").unwrap();
    let out = shared.to_str().unwrap();
    let portal = |vars: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["build_rpms", "RPM_CHANNEL=dev", "--no-deps", "--out", out];
        args.extend_from_slice(vars);
        trainyard(&d.portal, &args, env)
    };
    portal(&[], &[]).ok();
    trainyard(&d.core, &["build_rpms", "RPM_CHANNEL=dev", "--out", out], &[]).ok();

    let portal_files = set(&["account-portal-1.3~~dev1-1.x86_64.rpm", "server-core-1.0-1.x86_64.rpm"]);
    let core_files = set(&["server-core-2.1~~dev1-1.x86_64.rpm"]);
    let all = |portal: &BTreeSet<String>| {
        let mut all: BTreeSet<String> = portal.union(&core_files).cloned().collect();
        all.insert("other-team-9.9-1.x86_64.rpm".into());
        all
    };
    assert_eq!(rpm_names(&shared), all(&portal_files));
    let owned = owners(&shared);
    assert_eq!(owned.keys().collect::<Vec<_>>(), ["account-portal", "server-core"]);
    assert_eq!(names(&owned["account-portal"]), portal_files);
    assert_eq!(names(&owned["server-core"]), core_files);
    for manifest in owned.values() {
        manifest_matches(&shared, manifest).unwrap();
    }
    // collection.json is the collection written last.
    assert_eq!(whole_collection(&shared, false).unwrap(), owned["server-core"]);
    let core_rpm = shared.join("server-core-2.1~~dev1-1.x86_64.rpm");
    let (core_inode, core_bytes) = (ino(&core_rpm), std::fs::read(&core_rpm).unwrap());

    // account-portal again, against server-core 2.0 and with other timestamps: its own files
    // are replaced (server-core 1.0 leaves, its packages change bytes); server-core's file and
    // the other team's are carried over untouched.
    portal(&["SERVER_CORE=rpm-2.0"], &[("SOURCE_DATE_EPOCH", "1000000000")]).ok();
    let portal_files = set(&["account-portal-1.3~~dev1-1.x86_64.rpm", "server-core-2.0-1.x86_64.rpm"]);
    assert_eq!(rpm_names(&shared), all(&portal_files));
    let owned = owners(&shared);
    assert_eq!(names(&owned["account-portal"]), portal_files);
    assert_eq!(names(&owned["server-core"]), core_files);
    for manifest in owned.values() {
        manifest_matches(&shared, manifest).unwrap();
    }
    assert_eq!(whole_collection(&shared, false).unwrap(), owned["account-portal"]);
    assert_eq!((ino(&core_rpm), std::fs::read(&core_rpm).unwrap()), (core_inode, core_bytes));
    assert_eq!(std::fs::read(shared.join("other-team-9.9-1.x86_64.rpm")).unwrap(), b"not ours");

    // server-core's own run, at its rpm-2.0 commit, would write server-core-2.0-1 with other
    // bytes than account-portal's: refused before <out> changes.
    let before = std::fs::read_link(&shared).unwrap();
    let tagged = d.tmp.path().join("core-2.0");
    git(&d.core, &["worktree", "add", "--quiet", "--detach", tagged.to_str().unwrap(), "rpm-2.0"]);
    let clash = trainyard(&tagged, &["build_rpms", "RPM_CHANNEL=dev", "--out", out], &[]);
    clash.fails_with(2).says("server-core-2.0-1.x86_64.rpm (also in the collection of account-portal)");
    clash.says("help: give each workspace its own --out");
    assert_eq!(std::fs::read_link(&shared).unwrap(), before);
    store_is_tidy(&shared).unwrap();

    // Publishing the shared directory takes the packages of collection.json, nothing else.
    let repos = d.tmp.path().join("repos");
    let r = trainyard(
        &d.portal,
        &["release", "publish", "--from", out, "--repo-dir", repos.to_str().unwrap(), "RPM_CHANNEL=dev"],
        &[],
    );
    r.ok();
    assert_eq!(rpm_names(&repos.join("dev")), portal_files);
}

/// Two runs into one `--out` at once: the second waits for the first, saying so, and both
/// collections are there whole when both have finished.
#[test]
fn concurrent_runs_into_one_out_wait_for_each_other() {
    let d = Demo::new("outputs-demo");
    let shared = d.tmp.path().join("shared");
    let out = shared.to_str().unwrap();
    let lock = store(&shared).join("lock");
    // The first run builds from nothing (seconds): it holds the lock while it builds.
    let mut first = trainyard_command(&d.portal, &["build_rpms", "RPM_CHANNEL=dev", "--no-deps", "--out", out], &[])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&lock).map(|s| s.trim() != pid).unwrap_or(true) {
        assert!(Instant::now() < deadline, "the first run never took the lock");
        assert!(first.try_wait().unwrap().is_none(), "the first run ended before taking the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = trainyard(&d.core, &["build_rpms", "RPM_CHANNEL=dev", "--out", out], &[]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    second.ok().says(&format!("waiting for another run writing {out} (pid {pid})"));
    let owned = owners(&shared);
    assert_eq!(owned.keys().collect::<Vec<_>>(), ["account-portal", "server-core"]);
    for manifest in owned.values() {
        manifest_matches(&shared, manifest).unwrap();
    }
    assert_eq!(rpm_names(&shared).len(), 3);
    store_is_tidy(&shared).unwrap();

    // The same workspace twice at once, with other timestamps: one whole collection or the other.
    let a = |epoch: &str| {
        let env = [("SOURCE_DATE_EPOCH", epoch)];
        trainyard_command(&d.portal, &["build_rpms", "RPM_CHANNEL=dev", "--no-deps"], &env).spawn().unwrap()
    };
    let (mut one, mut two) = (a("1000000000"), a("1100000000"));
    assert!(one.wait().unwrap().success() && two.wait().unwrap().success());
    let dev = d.portal.join("target/rpms/dev");
    let seen = whole_collection(&dev, true).unwrap();
    assert_eq!(names(&seen), set(&["account-portal-1.3~~dev1-1.x86_64.rpm", "server-core-1.0-1.x86_64.rpm"]));
    store_is_tidy(&dev).unwrap();
}

/// The two collections the write-phase tests switch between: every package the same name,
/// other bytes (stage compresses at zstd 19, which makes the write phase last).
const STAGE: [&str; 3] = ["build_rpms", "RPM_CHANNEL=stage", "SERVER_CORE=rpm-2.0"];
const EPOCHS: [&str; 2] = ["1000000000", "1100000000"];

/// The store's collection directories (staged or shown) holding an RPM, but the current one.
fn staged_rpms(out: &Path) -> Vec<PathBuf> {
    let current = std::fs::read_link(out).ok().and_then(|l| l.file_name().map(|n| n.to_str().unwrap().to_string()));
    collection_dirs(out)
        .into_iter()
        .filter(|c| Some(c) != current.as_ref())
        .flat_map(|c| std::fs::read_dir(store(out).join(c)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect()
}

/// Starts a run toward `EPOCHS[which]` and kills its process group `wait` after it starts
/// staging (a new directory in the store, or with `rpm`, an RPM in it); `None` when killed,
/// the exit status when it finished first.
fn killed_while_staging(d: &Demo, which: usize, wait: Duration, rpm: bool) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::CommandExt;
    let out = d.portal.join("target/rpms/stage");
    let before = collection_dirs(&out);
    let env = [("SOURCE_DATE_EPOCH", EPOCHS[which])];
    let mut child = trainyard_command(&d.portal, &STAGE, &env)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let staging = || if rpm { !staged_rpms(&out).is_empty() } else { !collection_dirs(&out).is_subset(&before) };
    while !staging() {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        assert!(Instant::now() < deadline, "no staging after two minutes");
        std::thread::sleep(Duration::from_micros(500));
    }
    if let Some(status) = wait_until(&mut child, Instant::now() + wait) {
        return Some(status);
    }
    signal_group(child.id(), "-KILL");
    let _ = child.wait();
    while signal_group(child.id(), "-0") {
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Runs killed while they stage and switch, at random moments of that phase: after each,
/// `<out>` shows the old collection or the new one, whole (manifest and files agree, byte for
/// byte), and the next run succeeds and leaves the store tidy.
#[test]
fn runs_killed_while_writing_leave_the_old_or_the_new_collection() {
    let d = Demo::new("outputs-demo");
    let out = d.portal.join("target/rpms/stage");
    trainyard(&d.portal, &STAGE, &[("SOURCE_DATE_EPOCH", EPOCHS[0])]).ok();
    let mut manifests = vec![whole_collection(&out, true).unwrap()];
    // How long staging and switching last: from the staging directory's appearance to the end.
    let before = collection_dirs(&out);
    let mut child = trainyard_command(&d.portal, &STAGE, &[("SOURCE_DATE_EPOCH", EPOCHS[1])]).spawn().unwrap();
    let mut staged_at = None;
    while child.try_wait().unwrap().is_none() {
        if staged_at.is_none() && !collection_dirs(&out).is_subset(&before) {
            staged_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let span = staged_at.expect("the staging directory was seen").elapsed();
    manifests.push(whole_collection(&out, true).unwrap());
    assert_ne!(manifests[0], manifests[1]);
    assert_eq!(names(&manifests[0]), names(&manifests[1]), "the same file names, other bytes");
    println!("staging and switching take about {span:?}");

    let mut current = 1;
    let mut killed = 0;
    // Spread past the measured end, so that some kills fall on the switch or just after it.
    for (i, wait) in spread(span.mul_f64(1.1), 6).into_iter().enumerate() {
        let target = 1 - current;
        let ended = killed_while_staging(&d, target, wait, false);
        let seen = whole_collection(&out, true).unwrap_or_else(|e| panic!("kill {i} after {wait:?}: {e}"));
        assert!(seen == manifests[current] || seen == manifests[target], "kill {i}: neither collection");
        let shows = if seen == manifests[current] { "the old collection" } else { "the new one" };
        println!(
            "kill {i}, {wait:?} into staging: {}; <out> shows {shows}",
            if ended.is_some() { "finished first" } else { "killed" }
        );
        if ended.is_none() {
            killed += 1;
            assert!(collection_dirs(&out).len() <= 3, "kill {i}: {:?}", collection_dirs(&out));
        }
        trainyard(&d.portal, &STAGE, &[("SOURCE_DATE_EPOCH", EPOCHS[target])]).ok();
        assert_eq!(whole_collection(&out, true).unwrap(), manifests[target], "the run after kill {i}");
        store_is_tidy(&out).unwrap();
        current = target;
    }
    assert!(killed >= 3, "only {killed} of 6 runs were killed while staging");
}

/// What a run killed while staging left is never taken for the collection: not by a glob of
/// `<out>`, not by `createrepo_c <out>`, not by `release publish --from <out>`; nor is a file
/// `collection.json` does not list. The next run removes the staged files.
#[test]
fn staged_and_unlisted_files_are_never_published() {
    let d = Demo::new("outputs-demo");
    let out = d.portal.join("target/rpms/stage");
    trainyard(&d.portal, &STAGE, &[("SOURCE_DATE_EPOCH", EPOCHS[0])]).ok();
    // Kill runs toward the other collection the moment an RPM is staged, until one dies so.
    let mut current = 0;
    let mut leftover = Vec::new();
    for _ in 0..10 {
        let before = whole_collection(&out, true).unwrap();
        if killed_while_staging(&d, 1 - current, Duration::ZERO, true).is_some() {
            current = 1 - current;
            continue;
        }
        assert_eq!(whole_collection(&out, true).unwrap(), before, "a killed run changed <out>");
        leftover = staged_rpms(&out);
        if !leftover.is_empty() {
            break;
        }
    }
    assert!(!leftover.is_empty(), "no run of ten was killed with an RPM staged");
    let manifest = whole_collection(&out, true).unwrap();
    // A file no manifest lists, put there by hand.
    let stray = out.join("stray-1.0-1.x86_64.rpm");
    std::fs::copy(out.join(names(&manifest).first().unwrap()), &stray).unwrap();

    let repos = d.tmp.path().join("repos");
    let from = out.to_str().unwrap();
    trainyard(
        &d.portal,
        &["release", "publish", "--from", from, "--repo-dir", repos.to_str().unwrap(), "RPM_CHANNEL=dev"],
        &[],
    )
    .ok();
    let published = repos.join("dev");
    assert_eq!(rpm_names(&published), names(&manifest));
    manifest_matches(&published, &manifest).unwrap();

    // createrepo_c on <out> sees the collection (and the file put there), never a staged one.
    let repo = Command::new("createrepo_c").args(["--quiet", "--no-database", from]).status().unwrap();
    assert!(repo.success());
    let primary = std::fs::read_dir(out.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with("primary.xml.gz"))
        .unwrap();
    let xml = Command::new("zcat").arg(&primary).output().unwrap();
    let xml = String::from_utf8_lossy(&xml.stdout);
    let hrefs: BTreeSet<String> =
        xml.split("<location href=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect();
    let mut expected = names(&manifest);
    expected.insert("stray-1.0-1.x86_64.rpm".into());
    assert_eq!(hrefs, expected);

    // The next run removes what the killed ones staged, and carries the hand-put file over.
    trainyard(&d.portal, &STAGE, &[("SOURCE_DATE_EPOCH", EPOCHS[1 - current])]).ok();
    store_is_tidy(&out).unwrap();
    for path in &leftover {
        assert!(!path.exists(), "{} was left", path.display());
    }
    assert!(out.join("stray-1.0-1.x86_64.rpm").exists());
}

/// `--out` that cannot be written is refused before anything is built (exit 2, a `help:`
/// line), and nothing is created.
#[test]
fn bad_out_directories_are_refused_before_the_build() {
    let d = Demo::new("outputs-demo");
    let file = d.tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let refused = |out: &str, needle: &str| {
        let r = trainyard(&d.portal, &["build_rpms", "RPM_CHANNEL=dev", "--out", out], &[]);
        r.fails_with(2).says(needle).says("help: ");
        assert!(!d.portal.join("target/release").exists(), "--out {out:?}: the build ran");
        assert!(!d.portal.join("target/rpms").exists());
    };
    refused("", "is empty");
    refused(file.to_str().unwrap(), "is a file");
    refused(&format!("{}/sub", file.display()), "a file stands in its path");
    refused(".", "holds the workspace");
    refused("..", "holds the workspace");
    refused("portal/src", "holds files tracked by git");
    refused("portal", "holds directories (src)");
    if !is_root() {
        println!("NOTICE: skipping the read-only --out case (it needs root, for a read-only bind mount)");
        return;
    }
    let ro = d.tmp.path().join("read-only");
    std::fs::create_dir_all(&ro).unwrap();
    let mount = |args: &[&str]| assert!(Command::new("mount").args(args).arg(&ro).arg(&ro).status().unwrap().success());
    mount(&["--bind"]);
    let unmount = || Command::new("umount").arg(&ro).status().unwrap();
    let remounted = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&ro).status().unwrap();
    if !remounted.success() {
        unmount();
        panic!("could not make a read-only bind mount");
    }
    let out = ro.join("out");
    let r = trainyard(&d.portal, &["build_rpms", "RPM_CHANNEL=dev", "--out", out.to_str().unwrap()], &[]);
    // The dry-run refuses it as the run does: the check asks, it does not try.
    let dry =
        trainyard(&d.portal, &["build_rpms", "RPM_CHANNEL=dev", "--out", out.to_str().unwrap(), "--dry-run"], &[]);
    unmount();
    r.fails_with(2)
        .says("cannot write in")
        .says("is mounted read-only")
        .says("help: give --out a directory you can write in");
    dry.fails_with(2).says("cannot write in");
    assert!(!d.portal.join("target/release").exists(), "the build ran");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
}

/// A process of the test holding `lock` (with util-linux's `flock`) until it is dropped.
struct Holder(std::process::Child);

impl Holder {
    fn new(lock: &Path) -> Holder {
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("flock")
            .arg(lock)
            .process_group(0)
            .args(["sleep", "120"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("flock (util-linux) runs");
        // Held once `flock` has started its command: `sleep` is its child.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Command::new("flock").args(["--nonblock"]).arg(lock).arg("true").status().unwrap().success() {
            assert!(Instant::now() < deadline, "flock never took {}", lock.display());
            assert!(child.try_wait().unwrap().is_none(), "flock ended");
            std::thread::sleep(Duration::from_millis(20));
        }
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Its process group: flock and its sleep.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A lock another process keeps: the run waits for it at most TRAINYARD_LOCK_TIMEOUT, then
/// fails (exit 1) naming what it waited for, how long, and the variable; nothing is written.
/// The `--out` lock and the target directory's build lock alike; a bad value is bad input.
#[test]
fn a_lock_held_too_long_ends_the_wait_with_a_message() {
    let d = Demo::new("outputs-demo");
    let shared = d.tmp.path().join("shared");
    let out = shared.to_str().unwrap();
    let args = ["build_rpms", "RPM_CHANNEL=dev", "--no-deps", "--out", out];
    let short = [("TRAINYARD_LOCK_TIMEOUT", "2")];

    let holder = Holder::new(&store(&shared).join("lock"));
    let started = Instant::now();
    let run = trainyard(&d.portal, &args, &short);
    let waited = started.elapsed();
    run.fails_with(1)
        .says(&format!("waiting for another run writing {out}"))
        .says(&format!("gave up waiting for the lock of the output directory {out} after 2 s"))
        .says("TRAINYARD_LOCK_TIMEOUT=SECONDS gives it longer (now 2 s)");
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(60), "waited {waited:?}");
    assert!(std::fs::symlink_metadata(&shared).is_err(), "{out} was written");
    drop(holder);

    let _holder = Holder::new(&d.portal.join("target/trainyard/build.lock"));
    trainyard(&d.portal, &["build"], &short)
        .fails_with(1)
        .says("waiting for another trainyard build into target to finish")
        .says("gave up waiting for another trainyard build into target to finish after 2 s")
        .says("TRAINYARD_LOCK_TIMEOUT");
    trainyard(&d.portal, &["build"], &[("TRAINYARD_LOCK_TIMEOUT", "soon")])
        .fails_with(2)
        .says("TRAINYARD_LOCK_TIMEOUT=\"soon\" is not a whole number of seconds above 0");
    assert_eq!(tracked_changes(&d.portal), "");
}
