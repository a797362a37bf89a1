//! End-to-end tests of `docs`: real `cargo doc` on a fixture workspace, published twice (a
//! release, then a dev build) into a directory and onto a remote over ssh; `latest` stays on the
//! release.

use crate::support::sshd;
use crate::support::workspace as support;

use std::path::Path;

use support::*;

fn latest(dir: &Path) -> String {
    std::fs::read_link(dir.join("latest")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_release_then_a_dev_build_latest_stays_on_the_release() {
    let tmp = TempDir::new("docs");
    let root = leftpad_workspace(tmp.path(), "", "\n[package.metadata.trainyard.rpm]\n");
    write(&root.join("app/src/main.rs"), "//! The portal app, release docs.\nfn main() {}\n");
    commit_all(&root, "docs");
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    let site = tmp.path().join("site");
    let site_arg = site.to_str().unwrap();

    // A `latest` that is not a link: refused (a dry-run too) before anything is built or copied.
    std::fs::create_dir_all(site.join("latest")).unwrap();
    write(&site.join("latest/index.html"), "someone's page\n");
    for dry in [true, false] {
        let args = [&["docs", "--docs-dir", site_arg][..], if dry { &["--dry-run"] } else { &[] }].concat();
        let refused = trainyard(&root, &args, &[]);
        refused.fails_with(2).says(&format!("{site_arg}/latest is not a symbolic link")).says("help: move ");
        let entries: Vec<_> = std::fs::read_dir(&site).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(entries, ["latest"], "a refused docs run changed the site");
        assert!(!root.join("target/trainyard/docs-target").exists(), "a refused docs run built the documentation");
    }
    std::fs::remove_dir_all(&site).unwrap();

    let plan = trainyard(&root, &["docs", "--docs-dir", site_arg, "--dry-run"], &[]);
    plan.ok().says(" doc --no-deps ").says(" --locked ").says("--package app").says("; point ").says("latest at 1.0");
    assert!(!site.exists(), "a dry run wrote the site");

    // The run does what the dry-run printed; the publishing part, planned once the documentation
    // exists, copies it beside the site and renames it in, then moves `latest` by a rename.
    let (_, real, executed) = dry_run_equals_run(&root, &["docs", "--docs-dir", site_arg], &[]);
    real.says("latest -> 1.0");
    let after: Vec<&str> =
        executed.iter().skip_while(|l| !l.starts_with("later: publish ")).skip(1).map(String::as_str).collect();
    assert!(after.iter().any(|l| l.starts_with("run: cp -R -- ")), "{after:?}");
    assert!(after.iter().any(|l| l.starts_with("rename: ") && l.ends_with(&format!("{site_arg}/1.0"))), "{after:?}");
    assert!(after.last().is_some_and(|l| l.ends_with(&format!("{site_arg}/latest"))), "{after:?}");
    assert!(read(&site.join("1.0/app/index.html")).contains("release docs"));
    assert_eq!(latest(&site), "1.0");
    assert!(read(&site.join("latest/app/index.html")).contains("release docs"));

    // A dev build: published beside the release, `latest` untouched.
    write(&root.join("app/src/main.rs"), "//! The portal app, work in progress.\nfn main() {}\n");
    commit_all(&root, "more");
    let (dry, dev, _) = dry_run_equals_run(&root, &["docs", "--docs-dir", site_arg], &[]);
    dry.says(&format!("leave {site_arg}/latest as it is (1.1.dev1 is not a release)"));
    dev.says("latest unchanged");
    assert!(read(&site.join("1.1.dev1/app/index.html")).contains("work in progress"));
    assert_eq!(latest(&site), "1.0");
    assert!(read(&site.join("latest/app/index.html")).contains("release docs"));
    let mut entries: Vec<String> =
        std::fs::read_dir(&site).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert_eq!(entries, ["1.0", "1.1.dev1", "latest"], "no temporary directory is left");
    assert_eq!(tracked_changes(&root), "");
}

#[test]
fn without_a_docs_dir_nothing_is_built() {
    let tmp = TempDir::new("docs-bad");
    let root = leftpad_workspace(tmp.path(), "", "");
    trainyard(&root, &["docs"], &[]).fails_with(2).says("no directory to publish").says("help:");
    trainyard(&root, &["docs", "--docs-dri", "x"], &[]).fails_with(2);
    assert!(!root.join("target").exists());
    trainyard(&root, &["docs", "--help"], &[]).ok().says("latest");
}

/// The same on a remote: docs-dir `ssh://root@127.0.0.1:PORT/path` on an sshd the test starts,
/// published with rsync over ssh and renames on the host. A release, then a dev build: `latest`
/// on the host still points at the release; a `--trigger push` build of the tagged commit is a
/// dev build and does not move it either.
#[test]
fn published_to_a_remote_twice_latest_stays_on_the_release() {
    if !is_root() {
        eprintln!("NOTICE: skipping: the test's sshd needs root");
        return;
    }
    let tmp = TempDir::new("docs-remote");
    let sshd = sshd::Sshd::start(tmp.path());
    let remote = tmp.path().join("remote/docs");
    let url = format!("ssh://root@127.0.0.1:{}{}", sshd.port, remote.display());
    let env = [("TRAINYARD_SSH", sshd.client.as_str())];
    let root = leftpad_workspace(tmp.path(), "", "\n[package.metadata.trainyard.rpm]\n");
    // The configuration names the remote: a team writes it once.
    let manifest = read(&root.join("Cargo.toml"));
    write(&root.join("Cargo.toml"), &format!("{manifest}docs-dir = \"{url}\"\n"));
    write(&root.join("app/src/main.rs"), "//! The portal app, release docs.\nfn main() {}\n");
    commit_all(&root, "docs");
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);

    // A `latest` on the host that is not a link: refused before anything is built or sent.
    std::fs::create_dir_all(remote.join("latest")).unwrap();
    trainyard(&root, &["docs"], &env).fails_with(2).says("/latest is not a symbolic link").says("help: move ");
    assert!(!root.join("target/trainyard/docs-target").exists(), "a refused docs run built the documentation");
    std::fs::remove_dir_all(&remote).unwrap();

    let plan = trainyard(&root, &["docs", "--dry-run"], &env);
    plan.ok().says("rsync over ssh").says("latest at 1.0");
    assert!(!remote.exists(), "a dry run wrote to the remote");

    let (_, run, executed) = dry_run_equals_run(&root, &["docs"], &env);
    run.says("latest -> 1.0");
    // The publishing commands are the executor's, recorded after the later part's line: the
    // rsync into a temporary directory of this run, then the renames on the host.
    let later = executed.iter().position(|l| l.starts_with("later: publish ")).expect("the later part ran");
    let after: Vec<&str> = executed[later + 1..].iter().map(String::as_str).collect();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after[0].starts_with("run: rsync ") && after[0].contains("/.1.0.tmp-"), "{after:?}");
    assert!(after[1].starts_with("run: ") && after[1].contains("mv -T") && after[1].contains("latest"), "{after:?}");
    assert_eq!(latest(&remote), "1.0");
    assert!(read(&remote.join("latest/app/index.html")).contains("release docs"));

    // The tagged commit built on a push: a dev build, latest untouched.
    trainyard(&root, &["docs", "--trigger", "push"], &env).ok().says("latest unchanged");

    write(&root.join("app/src/main.rs"), "//! The portal app, work in progress.\nfn main() {}\n");
    commit_all(&root, "more");
    trainyard(&root, &["docs"], &env).ok().says("latest unchanged");
    assert!(read(&remote.join("1.1.dev1/app/index.html")).contains("work in progress"));
    assert_eq!(latest(&remote), "1.0", "latest on the remote moved to a dev build");
    assert!(read(&remote.join("latest/app/index.html")).contains("release docs"));
    let mut entries: Vec<String> =
        std::fs::read_dir(&remote).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert!(entries.iter().all(|e| !e.contains(".tmp-") && !e.contains(".old-")), "{entries:?}");
    assert!(entries.contains(&"1.0".to_string()) && entries.contains(&"1.1.dev1".to_string()), "{entries:?}");
    assert_eq!(tracked_changes(&root), "");
}
