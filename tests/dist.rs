//! End-to-end tests of `dist`: the source release of a tagged fixture workspace (and of the
//! demo service with an internal-project override), byte-identical on two runs, its source
//! RPM rebuilt by the real `rpmbuild --rebuild` with no network (`unshare --net`), and the
//! binary it yields run.

use crate::support::workspace as support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const RPM_TABLE: &str = "\n[package.metadata.trainyard.rpm]\n";

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// `rpmbuild --rebuild` of `srpm` in a network namespace of its own, then the binary RPM's
/// `/usr/bin/BIN` unpacked and run. Returns what it printed.
fn rebuild_offline_and_run(srpm: &Path, bin: &str, scratch: &Path) -> String {
    let top = scratch.join("rpmbuild");
    let out = Command::new("unshare")
        .args(["--net", "rpmbuild", "--rebuild", "--quiet", "--nodeps", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(srpm)
        // The build sees no registry, no git server, no home: only the tarball.
        .env_remove("CARGO_HOME")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "offline rebuild failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rpms: Vec<PathBuf> =
        walk(&top.join("RPMS")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rpm")).collect();
    assert_eq!(rpms.len(), 1, "{rpms:?}");
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let script = format!("rpm2cpio '{}' | cpio -idm --quiet", rpms[0].display());
    sh(&root, "sh", &["-c", &script]);
    sh(&root, root.join("usr/bin").join(bin).to_str().unwrap(), &[])
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn tar_listing(tarball: &Path) -> Vec<String> {
    sh(
        Path::new("."),
        "tar",
        &["--list", "--verbose", "--numeric-owner", "--gzip", "--file", tarball.to_str().unwrap()],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn a_tag_gives_a_vendored_tarball_and_a_source_rpm_that_rebuild_offline_byte_identical() {
    if !is_root() {
        eprintln!("NOTICE: skipping: unshare --net needs root");
        return;
    }
    let tmp = TempDir::new("dist");
    let root = leftpad_workspace(tmp.path(), "license = \"MIT\"", RPM_TABLE);
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    let out = root.join("target/dist/prod");

    let plan = trainyard(&root, &["dist", "--dry-run"], &[]);
    plan.ok()
        .says("source release of portal 1.0 from rpm-1.0")
        .says(" vendor --locked --versioned-dirs")
        .says("would run: rpmbuild -bs");
    assert!(!out.exists(), "a dry run wrote {}", out.display());

    trainyard(&root, &["dist"], &[]).ok();
    assert_eq!(files(&out), ["dist.json", "portal-1.0-1.src.rpm", "portal-1.0.tar.gz"]);
    let first: Vec<Vec<u8>> =
        ["portal-1.0.tar.gz", "portal-1.0-1.src.rpm"].iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("dist.json"))).unwrap();
    assert_eq!(manifest["version"], "1.0");
    assert_eq!(manifest["tag"], "rpm-1.0");
    assert_eq!(manifest["commit"], git(&root, &["rev-parse", "HEAD"]));
    assert_eq!(manifest["files"][1]["kind"], "source-rpm");

    // The second run writes the same bytes.
    std::fs::remove_dir_all(&out).unwrap();
    trainyard(&root, &["dist"], &[]).ok();
    for (f, before) in ["portal-1.0.tar.gz", "portal-1.0-1.src.rpm"].iter().zip(&first) {
        assert!(std::fs::read(out.join(f)).unwrap() == *before, "{f} differs between two runs");
    }
    assert_eq!(tracked_changes(&root), "");

    // The tarball: sorted, owner 0, the commit's time, the prod lock, every crate vendored.
    let listing = tar_listing(&out.join("portal-1.0.tar.gz"));
    let names: Vec<&str> = listing.iter().map(|l| l.split_whitespace().last().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(listing.iter().all(|l| l.contains(" 0/0 ") && l.contains("2026-01-01")), "{listing:#?}");
    for wanted in [
        "portal-1.0/Cargo.lock",
        "portal-1.0/vendor/leftpad-1.0.0/",
        "portal-1.0/vendor/padcore-0.3.0/",
        "portal-1.0/.cargo/config.toml",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:#?}");
    }
    assert!(!names.iter().any(|n| n.contains("/target/") || n.contains("/.git/")), "{names:#?}");
    let srpm = out.join("portal-1.0-1.src.rpm");
    assert_eq!(
        sh(&root, "rpm", &["-qp", "--queryformat", "%{NAME}-%{VERSION}-%{RELEASE}", srpm.to_str().unwrap()]),
        "portal-1.0-1"
    );

    let said = rebuild_offline_and_run(&srpm, "app", tmp.path());
    assert_eq!(said, "leftpad 1.0.0 padcore 0.3.0");
}

#[test]
fn an_override_is_shipped_as_a_path_source_and_builds_offline() {
    if !is_root() {
        eprintln!("NOTICE: skipping: unshare --net needs root");
        return;
    }
    let tmp = TempDir::new("dist-demo");
    trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
    let portal = tmp.path().join("account-portal");
    // HEAD is one commit after rpm-1.2: a dev version, so --head is needed.
    trainyard(&portal, &["dist", "RPM_CHANNEL=dev", "SERVER_CORE=rpm-2.0"], &[])
        .fails_with(2)
        .says("carries no release tag")
        .says("help:");
    trainyard(&portal, &["dist", "RPM_CHANNEL=dev", "SERVER_CORE=rpm-2.0", "--head"], &[]).ok();
    let out = portal.join("target/dist/dev");
    let srpm = out.join("account-portal-1.3~~dev1-1.src.rpm");
    assert!(srpm.is_file(), "{:?}", files(&out));
    let listing = tar_listing(&out.join("account-portal-1.3~~dev1.tar.gz"));
    assert!(
        listing.iter().any(|l| l.ends_with("account-portal-1.3~~dev1/internal/server-core/Cargo.toml")),
        "{listing:#?}"
    );
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("dist.json"))).unwrap();
    assert_eq!(manifest["internal"][0]["requested_ref"], "rpm-2.0");
    let said = rebuild_offline_and_run(&srpm, "account-portal", tmp.path());
    assert_eq!(said, "account-portal (after 1.2) using server-core 2.0");
    assert_eq!(tracked_changes(&portal), "");
}

#[test]
fn a_dirty_tree_or_an_untagged_head_is_refused_and_nothing_is_written() {
    let tmp = TempDir::new("dist-bad");
    let root = leftpad_workspace(tmp.path(), "", RPM_TABLE);
    let before = snapshot(&root);
    let run = trainyard(&root, &["dist"], &[]);
    run.fails_with(2).says("carries no release tag").says("help:");
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    write(&root.join("app/src/main.rs"), "fn main() {}\n");
    trainyard(&root, &["dist"], &[]).fails_with(2).says("uncommitted changes").says("help:");
    trainyard(&root, &["dist", "RPM_CHANNEL=qa"], &[]).fails_with(2);
    assert!(!root.join("target/dist").exists());
    git(&root, &["checkout", "--", "app/src/main.rs"]);
    assert_eq!(snapshot(&root), before);
    trainyard(&root, &["dist", "--help"], &[]).ok().says("--head").says("dist.json");
}
