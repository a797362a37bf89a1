//! `release minor` and `release patch` end to end: the version computed from git, printed, and
//! the whole path planned with it; a value that would not go up is refused.

use crate::support::workspace as support;

use support::*;

#[test]
fn minor_and_patch_are_computed_from_the_tags_and_the_branch() {
    let tmp = TempDir::new("words");
    let root = leftpad_workspace(tmp.path(), "", "");
    git(&root, &["tag", "-a", "-m", "0.1", "rpm-0.1"]);
    write(&root.join("app/src/lib.rs"), "pub fn more() {}\n");
    commit_all(&root, "more");
    let before = snapshot(&root);
    let refs = git(&root, &["show-ref"]);

    let minor = trainyard(&root, &["release", "minor", "--dry-run"], &[]);
    minor.ok().says("release minor: 0.2").says("plan of the release of 0.2");
    let patch = trainyard(&root, &["release", "patch", "--dry-run"], &[]);
    // Computed, then the fix's own preflight: a fix runs on the release branch.
    patch.fails_with(2).says("release patch: 0.1.1").says("runs on `0.1-release`");
    trainyard(&root, &["release", "start", "minor", "--dry-run"], &[]).ok().says("release start minor: 0.2");

    // A line written X.Y.Z computes X.Y.Z values.
    git(&root, &["tag", "-a", "-m", "0.1.0", "rpm-0.1.0", "HEAD~1"]);
    git(&root, &["tag", "-d", "rpm-0.1"]);
    trainyard(&root, &["release", "minor", "--dry-run"], &[]).says("release minor: 0.2.0");
    trainyard(&root, &["release", "patch", "--dry-run"], &[]).says("release patch: 0.1.1");

    // A newer release elsewhere (not on this branch) than the train it builds: minor would not go up.
    let elsewhere = git(&root, &["commit-tree", "HEAD^{tree}", "-m", "elsewhere"]);
    git(&root, &["tag", "-a", "-m", "5.0.0", "rpm-5.0.0", &elsewhere]);
    let refused = trainyard(&root, &["release", "minor", "--dry-run"], &[]);
    refused.fails_with(2).says("does not go above").says("help:");
    trainyard(&root, &["release", "minor", "--resume"], &[]).fails_with(2).says("release X.Y --resume");
    git(&root, &["tag", "-d", "rpm-5.0.0", "rpm-0.1.0"]);
    git(&root, &["tag", "-a", "-m", "0.1", "rpm-0.1", "HEAD~1"]);
    assert_eq!(git(&root, &["show-ref"]), refs);
    assert_eq!(snapshot(&root), before);
}
