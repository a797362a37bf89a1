//! `trainyard version` end to end: real git repositories, the real binary.

use crate::support::git as git_support;

use git_support::{Repo, Run, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_trainyard");

/// A tiny workspace: one member crate, `[workspace.package] version`, trainyard's configuration.
fn write_workspace(dir: &std::path::Path, version: &str) {
    let manifest = format!(
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"{version}\"\nedition = \"2021\"\n\n\
         [workspace.metadata.trainyard]\nname = \"app\"\ndefault-branch = \"main\"\n"
    );
    std::fs::create_dir_all(dir.join("app/src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(
        dir.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/src/main.rs"), "fn main() {}\n").unwrap();
}

/// A repository holding the tiny workspace in its first commit, on `main`.
fn workspace_repo(label: &str) -> Repo {
    let repo = Repo::init(label, "main");
    write_workspace(&repo.dir, "0.1.0");
    repo.commit_all("workspace");
    repo
}

fn version(repo: &Repo, args: &[&str]) -> Run {
    version_env(repo, args, &[])
}

fn version_env(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["version"];
    all.extend_from_slice(args);
    repo.run(BIN, &all, env)
}

fn json(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(version(repo, &all).ok()).unwrap()
}

#[test]
fn five_commits_after_a_tag_on_the_default_branch() {
    let repo = workspace_repo("default-branch");
    repo.tag("rpm-1.2");
    let head = repo.commits(5, "work");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev5");
    assert_eq!(version(&repo, &["--format", "pep440"]).ok(), "1.3.dev5");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "1.3.0-0.dev.5");
    assert_eq!(version(&repo, &["--format", "rpm"]).ok(), "1.3~~dev5");
    assert_eq!(version(&repo, &["--format", "docker"]).ok(), "main");
    let err = version(&repo, &["--format", "tag"]).fails_with(1).to_string();
    assert!(err.contains("1.3.dev5 is a dev version"), "{err}");

    let j = json(&repo, &[]);
    assert_eq!(j["pep440"], "1.3.dev5");
    assert_eq!(j["semver"], "1.3.0-0.dev.5");
    assert_eq!(j["rpm"], "1.3~~dev5");
    assert_eq!(j["docker"], "main");
    assert_eq!(j["tag"], serde_json::Value::Null);
    assert_eq!(j["commit"], head.as_str());
    assert_eq!(j["distance"], 5);
    assert_eq!(j["dirty"], false);
    assert_eq!(j["branch"], "main");
    assert_eq!(j["base_tag"], "rpm-1.2");

    // A feature branch: the same train, the container tag is the branch's.
    repo.checkout_new("feature/Add-Doodad");
    repo.commits(1, "feature");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev6");
    assert_eq!(version(&repo, &["--format", "docker"]).ok(), "feature-add-doodad");
}

#[test]
fn release_branch_bumps_the_micro() {
    let repo = workspace_repo("release-branch");
    repo.tag("rpm-1.2");
    repo.checkout_new("1.2-release");
    repo.commits(3, "fix");
    assert_eq!(version(&repo, &[]).ok(), "1.2.1.dev3");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "1.2.1-0.dev.3");
    assert_eq!(version(&repo, &["--format", "rpm"]).ok(), "1.2.1~~dev3");
    repo.tag("rpm-1.2.1");
    assert_eq!(version(&repo, &[]).ok(), "1.2.1");
    repo.commits(2, "fix again");
    assert_eq!(version(&repo, &[]).ok(), "1.2.2.dev2");
    // The default branch is unaffected.
    repo.checkout("main");
    repo.commits(1, "main");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev1");
}

/// `release start 1.2` cuts 1.2-release and sets the default branch's Cargo.toml to 1.3.0;
/// rpm-1.2 is made on the release branch, out of the default branch's reach.
#[test]
fn cargo_toml_sets_the_train_after_a_release_branch_is_cut() {
    let repo = workspace_repo("train");
    repo.tag("rpm-1.1");
    repo.commits(2, "features");
    repo.checkout_new("1.2-release");
    assert_eq!(version(&repo, &[]).ok(), "1.2.dev2", "a release branch before its first tag");
    repo.commits(1, "freeze");
    repo.tag("rpm-1.2");
    repo.checkout("main");
    assert_eq!(version(&repo, &[]).ok(), "1.2.dev2", "before the bump: the next MINOR after rpm-1.1");
    write_workspace(&repo.dir, "1.3.0");
    repo.commit_all("start 1.3");
    // The commit that moved the default branch to the new train is its first dev build.
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev1");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "1.3.0-0.dev.1");
    repo.commits(2, "more");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev3", "monotonic along the branch");
}

#[test]
fn the_tagged_commit_is_the_release() {
    let repo = workspace_repo("tagged");
    repo.commits(2, "work");
    repo.tag("rpm-1.2");
    assert_eq!(version(&repo, &[]).ok(), "1.2");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "1.2.0");
    assert_eq!(version(&repo, &["--format", "rpm"]).ok(), "1.2");
    assert_eq!(version(&repo, &["--format", "tag"]).ok(), "rpm-1.2");
    assert_eq!(version(&repo, &["--format", "docker"]).ok(), "1.2");
    assert_eq!(version(&repo, &["--trigger", "tag"]).ok(), "1.2");
    let j = json(&repo, &[]);
    assert_eq!((j["distance"].as_u64(), j["release"].as_bool(), &j["tag"]), (Some(0), Some(true), &"rpm-1.2".into()));

    // Lightweight tags and betas are release tags too; other tags are not.
    let repo = workspace_repo("beta");
    repo.lightweight_tag("rpm-0.12.0b1");
    repo.lightweight_tag("docs-1");
    assert_eq!(version(&repo, &[]).ok(), "0.12.0b1");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "0.12.0-beta.1");
    assert_eq!(version(&repo, &["--format", "rpm"]).ok(), "0.12.0~b1");
    assert_eq!(version(&repo, &["--format", "tag"]).ok(), "rpm-0.12.0b1");
}

#[test]
fn push_tag_race() {
    let repo = workspace_repo("race");
    repo.tag("rpm-1.2");
    repo.commits(6, "work");
    // The push build starts; someone tags the same commit while it runs.
    repo.tag("rpm-1.3");
    assert_eq!(version(&repo, &["--trigger", "push"]).ok(), "1.3.dev6");
    assert_eq!(version(&repo, &["--trigger", "push", "--format", "rpm"]).ok(), "1.3~~dev6");
    assert_eq!(version(&repo, &["--trigger", "tag"]).ok(), "1.3");
    assert_eq!(version(&repo, &[]).ok(), "1.3", "outside CI a tagged commit gives its release");

    // Without --trigger, the CI variables decide.
    let github_push = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_TYPE", "branch"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_REF_NAME", "main"),
    ];
    assert_eq!(version_env(&repo, &[], &github_push).ok(), "1.3.dev6");
    let github_tag = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_TYPE", "tag"),
        ("GITHUB_REF", "refs/tags/rpm-1.3"),
        ("GITHUB_REF_NAME", "rpm-1.3"),
    ];
    assert_eq!(version_env(&repo, &[], &github_tag).ok(), "1.3");
    assert_eq!(version_env(&repo, &[], &[("GITLAB_CI", "true"), ("CI_COMMIT_BRANCH", "main")]).ok(), "1.3.dev6");
    assert_eq!(version_env(&repo, &[], &[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "rpm-1.3")]).ok(), "1.3");
    // --trigger wins over the CI variables.
    assert_eq!(version_env(&repo, &["--trigger", "push"], &github_tag).ok(), "1.3.dev6");

    // A CI build of a tag that is not a release tag is a push build.
    repo.commits(1, "docs");
    repo.lightweight_tag("docs-1");
    let github_docs = [("GITHUB_ACTIONS", "true"), ("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "docs-1")];
    assert_eq!(version_env(&repo, &[], &github_docs).ok(), "1.4.dev1");
    let err = version_env(&repo, &["--trigger", "tag"], &github_docs).fails_with(1).to_string();
    assert!(err.contains("HEAD carries no release tag"), "{err}");

    // A tag build of a tag this clone does not have fails instead of guessing.
    let err = version_env(&repo, &[], &[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "rpm-1.4")]).fails_with(1).to_string();
    assert!(err.contains("does not have it") && err.contains("git fetch --unshallow --tags"), "{err}");
}

#[test]
fn trigger_tag_needs_exactly_one_release_tag_on_head() {
    let repo = workspace_repo("trigger-tag");
    repo.tag("rpm-1.2");
    repo.commits(1, "work");
    let err = version(&repo, &["--trigger", "tag"]).fails_with(1).to_string();
    assert!(err.contains("HEAD carries no release tag") && err.contains("--trigger push"), "{err}");
    repo.tag("rpm-1.3");
    repo.tag("rpm-1.3.0");
    let err = version(&repo, &["--trigger", "tag"]).fails_with(1).to_string();
    assert!(err.contains("rpm-1.3, rpm-1.3.0") || err.contains("rpm-1.3.0, rpm-1.3"), "{err}");
    let err = version(&repo, &["--trigger", "nightly"]).fails_with(2).to_string();
    assert!(err.contains("unknown trigger"), "{err}");
    let err = version(&repo, &["--format", "xml"]).fails_with(2).to_string();
    assert!(err.contains("pep440, semver, rpm, tag, docker, json"), "{err}");
}

/// Tags spelled as hexyl's are (`v0.17.0`, prefix `v`): the dev version and the messages follow the
/// newest tag's `X.Y.Z`, though git lists `v0.10.0` before an older `v0.9`; under the default
/// prefix the warning says what the dev count then runs from.
#[test]
fn three_part_tags_as_hexyl_spells_them() {
    let repo = workspace_repo("three-part");
    let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
    repo.write("Cargo.toml", &format!("{manifest}tag-prefix = \"v\"\n"));
    repo.commit_all("release tags are vX.Y.Z");
    repo.tag("v0.9");
    repo.commits(1, "work");
    repo.tag("v0.10.0");
    repo.commits(2, "work");
    assert_eq!(version(&repo, &[]).ok(), "0.11.0.dev2");
    let err = version(&repo, &["--trigger", "tag"]).fails_with(1).to_string();
    assert!(err.contains("HEAD carries no release tag (vX.Y.Z)") && err.contains("git tag vX.Y.Z)"), "{err}");

    let plain = workspace_repo("three-part-unconfigured");
    plain.tag("v0.1.0");
    let run = version(&plain, &[]);
    assert_eq!(run.ok(), "0.1.dev1", "counted from the commit that set Cargo.toml's version");
    assert!(
        run.stderr.contains("tag-prefix = \"v\"")
            && run.stderr.contains("from the commit that set Cargo.toml's version"),
        "{}",
        run.stderr
    );
}

#[test]
fn dirty_tree() {
    let repo = workspace_repo("dirty");
    repo.tag("rpm-1.2");
    repo.commits(5, "work");
    repo.write("untracked.txt", "untracked files do not count\n");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev5");
    repo.write("history.txt", "changed\n");
    assert_eq!(version(&repo, &[]).ok(), "1.3.dev5+dirty");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "1.3.0-0.dev.5+dirty");
    assert_eq!(version(&repo, &["--format", "rpm"]).ok(), "1.3~~dev5+dirty");
    assert_eq!(version(&repo, &["--format", "docker"]).ok(), "main-dirty");
    assert_eq!(json(&repo, &[])["dirty"], true);

    // A tagged commit with changes on top is not the release: a tag build refuses it.
    repo.git(&["stash", "--quiet"]);
    repo.tag("rpm-1.3");
    repo.write("history.txt", "changed\n");
    assert_eq!(version(&repo, &[]).ok(), "1.4.dev0+dirty");
    assert_eq!(version(&repo, &["--trigger", "push"]).ok(), "1.3.dev5+dirty");
    let err = version(&repo, &["--trigger", "tag"]).fails_with(1).to_string();
    assert!(err.contains("HEAD carries rpm-1.3") && err.contains("uncommitted changes"), "{err}");
}

#[test]
fn shallow_clone_and_missing_tags_fail_with_the_fix() {
    let origin = workspace_repo("shallow-origin");
    origin.tag("rpm-1.2");
    origin.commits(5, "work");

    let shallow = origin.clone_with("shallow", &["--depth", "1"]);
    let err = version(&shallow, &[]).fails_with(1).to_string();
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("git fetch --unshallow --tags"), "{err}");
    shallow.git(&["fetch", "--quiet", "--unshallow", "--tags"]);
    assert_eq!(version(&shallow, &[]).ok(), "1.3.dev5");

    // A shallow clone of the tagged commit itself has all it needs for the release.
    origin.tag("rpm-1.3");
    let tagged = origin.clone_with("shallow-tag", &["--depth", "1", "--branch", "rpm-1.3"]);
    assert_eq!(version(&tagged, &["--trigger", "tag"]).ok(), "1.3");
    assert!(!version(&tagged, &["--trigger", "push"]).success());

    // A full clone without tags would count from the root commit: refused.
    let no_tags = origin.clone_with("no-tags", &["--no-tags"]);
    let err = version(&no_tags, &[]).fails_with(1).to_string();
    assert!(err.contains("tags are not fetched"), "{err}");
    assert!(err.contains("git fetch --tags"), "{err}");
}

#[test]
fn no_tags_at_all() {
    let repo = workspace_repo("no-tags");
    assert_eq!(version(&repo, &[]).ok(), "0.1.dev1");
    repo.commits(2, "work");
    assert_eq!(version(&repo, &[]).ok(), "0.1.dev3");
    assert_eq!(version(&repo, &["--format", "semver"]).ok(), "0.1.0-0.dev.3");
    let j = json(&repo, &[]);
    assert_eq!((j["distance"].as_u64(), &j["base_tag"]), (Some(3), &serde_json::Value::Null));
    // The Cargo.toml train.
    write_workspace(&repo.dir, "0.4.0");
    repo.commit_all("start 0.4");
    assert_eq!(version(&repo, &[]).ok(), "0.4.dev1", "the commit that set the train is its first");
}

#[test]
fn pretend_version_without_git() {
    let tmp = TempDir::new("tarball");
    let dir = tmp.path.join("app-1.4.2");
    write_workspace(&dir, "0.1.0");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = git_support::command(BIN, &dir);
        cmd.arg("version").args(args).envs(env.iter().copied());
        git_support::run(cmd)
    };
    let err = run(&[], &[]).fails_with(1).to_string();
    assert!(err.contains("not in a git repository") && err.contains("TRAINYARD_PRETEND_VERSION=1.4.2"), "{err}");
    let pretend = [("TRAINYARD_PRETEND_VERSION", "1.4.2")];
    assert_eq!(run(&[], &pretend).ok(), "1.4.2");
    assert_eq!(run(&["--format", "semver"], &pretend).ok(), "1.4.2");
    assert_eq!(run(&["--format", "rpm"], &pretend).ok(), "1.4.2");
    assert_eq!(run(&["--format", "tag"], &pretend).ok(), "rpm-1.4.2");
    let err = run(&["--trigger", "push"], &pretend).fails_with(2).to_string();
    assert!(err.contains("never yields a release"), "{err}");
    let err = run(&[], &[("TRAINYARD_PRETEND_VERSION", "1.4-2")]).fails_with(2).to_string();
    assert!(err.contains("TRAINYARD_PRETEND_VERSION=1.4-2"), "{err}");

    // The pretend version wins over git too.
    let repo = workspace_repo("pretend-git");
    repo.tag("rpm-1.2");
    assert_eq!(version_env(&repo, &[], &[("TRAINYARD_PRETEND_VERSION", "1.3.dev7")]).ok(), "1.3.dev7");
    assert_eq!(
        version_env(&repo, &["--format", "rpm"], &[("TRAINYARD_PRETEND_VERSION", "1.3.dev7")]).ok(),
        "1.3~~dev7"
    );
}

/// The library call the build uses for `TRAINYARD_VERSION` agrees with the target, and the
/// binary's `--version` prints the value it was built with.
#[test]
fn trainyard_version_for_builds() {
    let repo = workspace_repo("version-env");
    repo.tag("rpm-1.2");
    repo.commits(5, "work");
    let ws = trainyard::workspace::Workspace::discover(camino::Utf8Path::from_path(&repo.dir).unwrap()).unwrap();
    // Both sides see this process's environment, CI variables included: they must agree.
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.dir).args(["version", "--format", "semver"]);
    let target = git_support::run(cmd);
    match trainyard::scm::version_env(&ws) {
        Ok(Some(v)) => assert_eq!(target.ok(), v),
        // A CI tag build of a commit without that tag: both refuse.
        Err(err) => assert!(!target.success() && target.stderr.contains(&err.message), "{err}\n{target:?}"),
        Ok(None) => panic!("version_env gave None in a repository; the target: {target:?}"),
    }

    let tmp = TempDir::new("no-git");
    write_workspace(&tmp.path, "0.1.0");
    let ws = trainyard::workspace::Workspace::discover(camino::Utf8Path::from_path(&tmp.path).unwrap()).unwrap();
    if std::env::var_os("TRAINYARD_PRETEND_VERSION").is_none() {
        assert_eq!(trainyard::scm::version_env(&ws).unwrap(), None);
    }

    let shown = repo.run(BIN, &["--version"], &[]);
    let built_with = option_env!("TRAINYARD_VERSION").unwrap_or(env!("CARGO_PKG_VERSION"));
    assert_eq!(shown.ok(), format!("trainyard {built_with}"));
}
