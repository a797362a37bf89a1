//! End-to-end tests of `docs`: real `cargo doc` on a fixture workspace, published twice (a
//! release, then a dev build) into a directory; `latest` stays on the release.

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

    let plan = trainyard(&root, &["docs", "--docs-dir", site_arg, "--dry-run"], &[]);
    plan.ok().says(" doc --no-deps --locked").says("--package app").says("would point").says("latest at 1.0");
    assert!(!site.exists(), "a dry run wrote the site");

    trainyard(&root, &["docs", "--docs-dir", site_arg], &[]).ok().says("latest -> 1.0");
    assert!(read(&site.join("1.0/app/index.html")).contains("release docs"));
    assert_eq!(latest(&site), "1.0");
    assert!(read(&site.join("latest/app/index.html")).contains("release docs"));

    // A dev build: published beside the release, `latest` untouched.
    write(&root.join("app/src/main.rs"), "//! The portal app, work in progress.\nfn main() {}\n");
    commit_all(&root, "more");
    let dev = trainyard(&root, &["docs", "--docs-dir", site_arg], &[]);
    dev.ok().says("latest unchanged");
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
