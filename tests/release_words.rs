//! `release minor|patch|beta|rc` end to end: the version computed from git, printed, and the
//! step (or the whole path) planned with it, on X.Y and X.Y.Z lines and on both flows; a value
//! that would not go up is refused.

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
    patch.fails_with(2).says("release patch: 0.1.1").says("runs on `0.1-release`, which does not exist yet");
    // The release was tagged on the default branch (as many projects do): the help creates the
    // branch from the tag, and does what it says (a `git switch 0.1-release` would fail).
    let help = "help: create it from the release rpm-0.1: git switch -c 0.1-release rpm-0.1";
    patch.says(help);
    let head = git(&root, &["rev-parse", "HEAD"]);
    git(&root, &["switch", "-q", "-c", "0.1-release", "rpm-0.1"]);
    trainyard(&root, &["release", "patch", "--dry-run"], &[]).ok().says("release patch: 0.1.1");
    // Once it exists, a step run elsewhere is sent to it.
    git(&root, &["switch", "-q", "main"]);
    let elsewhere = trainyard(&root, &["release", "patch", "--dry-run"], &[]);
    elsewhere.fails_with(2).says("help: git switch 0.1-release");
    git(&root, &["branch", "-q", "-D", "0.1-release"]);
    assert_eq!(git(&root, &["rev-parse", "HEAD"]), head);
    trainyard(&root, &["release", "start", "minor", "--dry-run"], &[]).ok().says("release start minor: 0.2");
    // Where a step asks for a version that exists already, a computed next one is refused.
    for args in [
        &["release", "start", "beta"][..],
        &["release", "start", "patch"],
        &["release", "promote", "minor", "--from", "stage", "--to", "prod"],
        &["release", "rollback", "patch", "--channel", "prod"],
        &["release", "backport", "rc"],
    ] {
        trainyard(&root, args, &[]).fails_with(2).says(&format!("`release {} {}`", args[1], args[2])).says("help:");
    }

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

/// The Cargo version at `rev`.
fn cargo_at(root: &std::path::Path, rev: &str) -> String {
    let text = git(root, &["show", &format!("{rev}:Cargo.toml")]);
    let line = text.lines().find(|l| l.starts_with("version = ")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// The release-branch flow: after `release start minor`, `release beta` and `release rc` on the
/// release branch compute b1, b2, rc1, rc2 from the tags, on an X.Y line and an X.Y.Z line; a
/// beta after an rc, and anything after the final, are refused (exit 2, help, nothing changed).
#[test]
fn beta_and_rc_are_computed_on_a_release_branch_on_both_precisions() {
    for (line, tag0, v, semver) in [("x.y", "rpm-0.1", "0.2", "0.2.0"), ("x.y.z", "rpm-0.1.0", "0.2.0", "0.2.0")] {
        let tmp = TempDir::new(&format!("words-{line}"));
        let root = leftpad_workspace(tmp.path(), "", "");
        git(&root, &["tag", "-a", "-m", "0.1", tag0]);
        let default = git(&root, &["branch", "--show-current"]);
        trainyard(&root, &["release", "start", "minor"], &[]).ok().says(&format!("release start minor: {v}"));
        let branch = format!("{}-release", &v[..3]);
        git(&root, &["switch", "--quiet", &branch]);

        // The default branch is refused: a beta belongs to a started release.
        git(&root, &["switch", "--quiet", &default]);
        let before = git(&root, &["show-ref"]);
        trainyard(&root, &["release", "beta"], &[])
            .fails_with(2)
            .says("runs on the branch of a started release")
            .says("help:");
        assert_eq!(git(&root, &["show-ref"]), before);
        git(&root, &["switch", "--quiet", &branch]);

        let before = git(&root, &["show-ref"]);
        let dry = trainyard(&root, &["release", "beta", "--dry-run"], &[]);
        dry.ok().says(&format!("release beta: {v}b1")).says(&format!("rpm-{v}b1"));
        assert_eq!(git(&root, &["show-ref"]), before, "--dry-run changed a ref");

        for (word, want) in [("beta", "b1"), ("beta", "b2"), ("rc", "rc1"), ("rc", "rc2")] {
            let tag = format!("rpm-{v}{want}");
            trainyard(&root, &["release", word], &[]).ok().says(&format!("release {word}: {v}{want}"));
            let pre = if want.starts_with('b') { "beta" } else { "rc" };
            assert_eq!(cargo_at(&root, &tag), format!("{semver}-{pre}.{}", &want[want.len() - 1..]));
            // The branch moves one ahead, so its dev builds sort above what was tagged.
            let n: u32 = want[want.len() - 1..].parse().unwrap();
            assert_eq!(cargo_at(&root, "HEAD"), format!("{semver}-{pre}.{}", n + 1));
            let dev = trainyard(&root, &["version"], &[]).ok().stdout.trim().to_string();
            assert!(dev.starts_with(&format!("{v}{}{}.dev", &want[..want.len() - 1], n + 1)), "{dev}");
            assert_eq!(git(&root, &["branch", "--show-current"]), branch);
            if word == "rc" && want == "rc1" {
                let before = (git(&root, &["show-ref"]), snapshot(&root));
                let down = trainyard(&root, &["release", "beta"], &[]);
                down.fails_with(2)
                    .says("would go down")
                    .says(&format!("is at {v}rc2, a release candidate"))
                    .says("help: make the next release candidate");
                assert_eq!((git(&root, &["show-ref"]), snapshot(&root)), before);
            }
        }
        // The final: `release tag` sets the release's version there and tags it.
        let ops = tmp.path().join("ops");
        write(&ops, "Ops\n");
        trainyard(&root, &["release", "notes", "--message-file", ops.to_str().unwrap()], &[]).ok();
        trainyard(&root, &["release", "tag"], &[]).ok();
        assert_eq!(cargo_at(&root, &format!("rpm-{v}")), semver);
        // After the final: nothing goes up any more.
        let before = (git(&root, &["show-ref"]), snapshot(&root));
        let r = trainyard(&root, &["release", "rc", "--dry-run"], &[]);
        r.fails_with(2).says("would not go up").says(&format!("rpm-{v} is already tagged")).says("help:");
        assert_eq!((git(&root, &["show-ref"]), snapshot(&root)), before);
        trainyard(&root, &["release", "patch", "--dry-run"], &[]).says("release patch: 0.2.1");
    }
}

const RC_BETA: &str =
    "default-branch = \"master\"\nrelease-branch = \"{version}\"\nflow = \"rc-beta\"\nrc-branch = \"rc\"\n";

/// The rc-beta flow (master / rc / version branches): `release beta` and `release rc` print the
/// version they compute (cutting the version branch from rc, then on it), on both precisions;
/// `release patch` on the version branch after the final computes its fix; `release minor`
/// computes the train and is refused as `release X.Y` is (no release branch in this flow).
#[test]
fn words_on_the_rc_beta_flow_on_both_precisions() {
    for (line, tag0, v) in [("x.y", "rpm-0.1", "0.2"), ("x.y.z", "rpm-0.1.0", "0.2.0")] {
        let tmp = TempDir::new(&format!("words-rcbeta-{line}"));
        let root = leftpad_workspace(tmp.path(), "", "");
        let manifest = read(&root.join("Cargo.toml")).replace("version = \"0.1.0\"", "version = \"0.2.0\"");
        write(&root.join("Cargo.toml"), &format!("{manifest}{RC_BETA}"));
        git(&root, &["branch", "-M", "master"]);
        git(&root, &["tag", "-a", "-m", "0.1", tag0, "HEAD"]);
        sh(
            &root,
            &std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            &["update", "--quiet", "--workspace", "--offline"],
        );
        commit_all(&root, "starting the 0.2 development");

        let minor = trainyard(&root, &["release", "minor", "--dry-run"], &[]);
        minor.fails_with(2).says(&format!("release minor: {v}")).says("rc-beta flow does not have").says("help:");
        trainyard(&root, &["release", "freeze"], &[]).ok();
        git(&root, &["switch", "--quiet", "rc"]);
        let dry = trainyard(&root, &["release", "beta", "--dry-run"], &[]);
        dry.ok().says(&format!("release beta: {v}b1")).says(&format!("rpm-{v}b1"));
        trainyard(&root, &["release", "beta"], &[]).ok().says(&format!("release beta: {v}b1"));
        assert_eq!(git(&root, &["branch", "--show-current"]), &v[..3], "the version branch is cut");
        trainyard(&root, &["release", "beta", "--dry-run"], &[]).ok().says(&format!("release beta: {v}b2"));
        trainyard(&root, &["release", "rc"], &[]).ok().says(&format!("release rc: {v}rc1"));
        trainyard(&root, &["release", "beta"], &[]).fails_with(2).says("would go down").says("help:");
        trainyard(&root, &["release", "rc", "--dry-run"], &[]).ok().says(&format!("release rc: {v}rc2"));
        git(&root, &["tag", "-a", "-m", "final", &format!("rpm-{v}")]);
        trainyard(&root, &["release", "patch", "--dry-run"], &[]).says("release patch: 0.2.1");
    }
}
