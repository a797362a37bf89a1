//! End-to-end tests of the release process: the real binary on real git repositories with a
//! local bare `origin`, real rpmbuild/createrepo_c/dnf, and a webhook server on loopback.

use crate::support::git as git_support;
use crate::support::portal::{Made, Origin, Portal, BUG_COMMIT, MAIN_WITH_VERSION};
use crate::support::workspace as support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::support::collection::list_as_collection;
use git_support::{command, run, says, Repo, Run, TempDir};

/// 2026-01-01T00:00:00Z: the date of every RELEASE.txt section.
const EPOCH: &str = "1767225600";
const DATE: &str = "2026-01-01";

/// Builds one noarch RPM `portal-<version>` into `$TRAINYARD_RELEASE_OUT` with rpmbuild
/// (for the publish test, which needs a dev-versioned package without a dev build).
const BUILD_RPMS: &str = r#"set -e
spec="$TRAINYARD_RELEASE_OUT/.portal.spec"
printf '%s\n' 'Name: portal' 'Version: %{ver}' 'Release: 1' 'Summary: portal' 'License: MIT' 'BuildArch: noarch' \
  '%description' 'portal' '%install' 'mkdir -p %{buildroot}/usr/share/portal' \
  'echo %{version} > %{buildroot}/usr/share/portal/VERSION' '%files' '/usr/share/portal/VERSION' > "$spec"
rpmbuild -bb --quiet --define "_topdir $TRAINYARD_RELEASE_OUT/.build" --define "_rpmdir $TRAINYARD_RELEASE_OUT" \
  --define "ver ${RPM_VERSION:-$TRAINYARD_RELEASE_VERSION}" "$spec" >/dev/null
rm -rf "$TRAINYARD_RELEASE_OUT/.build" "$spec"
"#;

/// A workspace `portal` (one member `app`, depending on `leftpad` from a local registry),
/// at 1.2.0-dev on `main`, pushed to a bare `origin`.
struct Fixture {
    repo: Repo,
    tmp: TempDir,
    origin: PathBuf,
}

impl Fixture {
    fn new(label: &str) -> Fixture {
        let Made { repo, tmp, origin } = Portal {
            // Comments in the manifest, kept by every step that edits it.
            manifest: "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n# One version for the whole workspace.\n[workspace.package]\nversion = \"1.2.0-dev\"  # the train\nedition = \"2021\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\ndefault-branch = \"main\"\n".into(),
            description: true,
            main_rs: MAIN_WITH_VERSION,
            commits: &[BUG_COMMIT, ("app/src/lib.rs", "pub fn tables() {}\npub fn cef() {}\n", "now using the standalone cef lib")],
            origin: Origin::Pushed,
            ..Portal::default()
        }
        .make(label);
        Fixture { repo, tmp, origin }
    }

    /// Runs trainyard in the work tree (CI variables and TRAINYARD_* cleared by `command`).
    fn ty(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env("SOURCE_DATE_EPOCH", EPOCH).env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL");
        cmd.env_remove("EDITOR").env_remove("VISUAL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    }

    /// A step's dry-run, then its run recording what the executor runs (test builds): the run
    /// succeeds and executes exactly what the dry-run printed, in order.
    fn as_planned(&self, args: &[&str]) -> Run {
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        let plan = self.ty(&dry, &[]);
        plan.ok();
        let planned = support::planned(&plan.stdout);
        let record = self.tmp.path.join("record");
        let _ = std::fs::remove_file(&record);
        let r = self.ty(args, &[("TRAINYARD_TEST_RECORD", record.to_str().unwrap())]);
        r.ok();
        support::executed_as_planned(&planned, &record, &format!("{args:?}"));
        r
    }

    /// A file outside the repository (message files, webhook files).
    fn outside(&self, name: &str, text: &str) -> String {
        let path = self.tmp.path.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.repo.git(args)
    }

    /// Every ref (branches, tags, remote-tracking) with its object.
    fn refs(&self) -> String {
        self.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
    }

    fn status(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    fn origin_refs(&self) -> String {
        let mut c = command("git", &self.tmp.path);
        c.arg("--git-dir").arg(&self.origin).args(["for-each-ref", "--format=%(refname) %(objectname)"]);
        run(c).ok().to_string()
    }

    fn branch(&self) -> String {
        self.git(&["branch", "--show-current"])
    }

    /// The workspace version in Cargo.toml at `rev`.
    fn version_at(&self, rev: &str) -> String {
        let text = self.git(&["show", &format!("{rev}:Cargo.toml")]);
        let line = text.lines().find(|l| l.starts_with("version = ")).unwrap();
        line.split('"').nth(1).unwrap().to_string()
    }

    /// The version of the member `app` in Cargo.lock at `rev`.
    fn lock_version_at(&self, rev: &str) -> String {
        let text = self.git(&["show", &format!("{rev}:Cargo.lock")]);
        let at = text.find("name = \"app\"\nversion = \"").unwrap() + "name = \"app\"\nversion = \"".len();
        text[at..].split('"').next().unwrap().to_string()
    }

    fn subject(&self, rev: &str) -> String {
        self.git(&["log", "-1", "--format=%s", rev])
    }

    fn count(&self, rev: &str) -> usize {
        self.git(&["rev-list", "--count", rev]).parse().unwrap()
    }

    fn release_txt(&self, rev: &str) -> String {
        self.git(&["show", &format!("{rev}:RELEASE.txt")])
    }

    /// The version the version target renders for RPMs at the checked-out commit.
    fn rpm_version(&self) -> String {
        self.ty(&["version", "--format", "rpm"], &[]).ok().to_string()
    }

    /// `cargo metadata --locked` accepts the lock: the edited lock is what cargo would write.
    fn assert_lock_consistent(&self) {
        let mut cargo = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()), &self.repo.dir);
        cargo.args(["metadata", "--format-version", "1", "--locked", "--offline"]).env_remove("CARGO_TARGET_DIR");
        let out = run(cargo);
        assert!(out.success(), "Cargo.lock is stale:\n{}", out.stderr);
    }
}

fn section(version: &str, impacts: &[&str], changes: &[&str]) -> String {
    let heading = format!("{version} - {DATE}");
    let list = |items: &[&str]| items.iter().map(|i| format!("- {i}\n")).collect::<String>();
    format!(
        "{heading}\n{}\n\nImpacts:\n\n{}\nDependencies:\n\n- None\n\nRelevant changes:\n\n{}",
        "=".repeat(heading.len()),
        list(impacts),
        list(changes)
    )
}

/// The old process, step by step: 1.2 cut and tagged, 1.3 train on main, stage fails, 1.2.1
/// fixed and tagged on its branch, 1.2.2 after it, backport to main.
#[test]
fn the_old_process_step_by_step() {
    let f = Fixture::new("steps");
    let ops = f.outside("impacts-ops", "Ops\n");
    let main_before = f.git(&["rev-parse", "main"]);

    // 1. start 1.2.
    f.as_planned(&["release", "start", "1.2"]);
    assert_eq!(f.branch(), "1.2-release");
    assert_eq!(f.git(&["rev-parse", "main~1"]), main_before);
    assert_eq!(f.subject("main"), "starting the 1.3 development");
    assert_eq!(f.version_at("main"), "1.3.0");
    assert_eq!(f.lock_version_at("main"), "1.3.0");
    assert_eq!(f.subject("1.2-release"), "release 1.2: version 1.2.0");
    assert_eq!(f.git(&["rev-parse", "1.2-release~1"]), main_before);
    assert_eq!(f.version_at("1.2-release"), "1.2.0");
    assert_eq!(f.lock_version_at("1.2-release"), "1.2.0");
    let manifest = std::fs::read_to_string(f.repo.dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"1.2.0\"  # the train\n"), "{manifest}");
    assert!(manifest.contains("# One version for the whole workspace.\n[workspace.package]\n"), "{manifest}");
    f.assert_lock_consistent();
    assert_eq!(f.status(), "");

    // 2. pin stage and prod.
    f.as_planned(&["release", "pin"]);
    assert_eq!(f.subject("HEAD"), "release 1.2: pin stage and prod requirements");
    for file in ["reqs/prod-reqs.txt", "reqs/stage-reqs.txt"] {
        let text = std::fs::read_to_string(f.repo.dir.join(file)).unwrap();
        assert!(text.contains("leftpad == 1.0.0"), "{file}: {text}");
    }
    let again = f.ty(&["release", "pin"], &[]);
    again.ok();
    says(&again, "nothing to do");

    // 3. notes, 4. tag.
    f.as_planned(&["release", "notes", "--message-file", &ops]);
    assert_eq!(f.subject("HEAD"), "release 1.2: RELEASE.txt");
    let s12 = section(
        "1.2",
        &["Ops"],
        &[
            "initial import",
            "Bug 636294 - Prevent the automatic creation of the tables",
            "now using the standalone cef lib",
        ],
    );
    assert_eq!(f.release_txt("HEAD"), s12.trim_end());
    f.as_planned(&["release", "tag"]);
    assert_eq!(f.git(&["cat-file", "-t", "rpm-1.2"]), "tag");
    assert_eq!(f.git(&["rev-parse", "rpm-1.2^{commit}"]), f.git(&["rev-parse", "1.2-release"]));
    assert!(f.git(&["tag", "-l", "--format=%(contents)", "rpm-1.2"]).starts_with("portal 1.2\n\n1.2 - 2026-01-01"));
    assert_eq!(f.rpm_version(), "1.2");
    assert_eq!(f.origin_refs().lines().count(), 1, "nothing pushed by the steps");

    // 5. push: main, 1.2-release, rpm-1.2 in one atomic push.
    f.as_planned(&["release", "push"]);
    let origin = f.origin_refs();
    for r in ["refs/heads/main", "refs/heads/1.2-release", "refs/tags/rpm-1.2"] {
        let local = f.git(&["rev-parse", r]);
        assert!(origin.contains(&format!("{r} {local}")), "{r} not pushed:\n{origin}");
    }

    // The 1.3 train on main: dev builds say 1.3.devN.
    f.repo.checkout("main");
    f.repo.write("app/src/feature.rs", "pub fn feature() {}\n");
    f.repo.commit_all("Bug 700001 - a feature for 1.3");
    let dev = f.rpm_version();
    assert!(dev.starts_with("1.3~~dev"), "{dev}");

    // Stage fails: 1.2.1 on the release branch.
    f.repo.checkout("1.2-release");
    f.as_planned(&["release", "fix"]);
    assert_eq!(f.subject("HEAD"), "release 1.2.1: version 1.2.1");
    assert_eq!(f.version_at("HEAD"), "1.2.1");
    assert_eq!(f.lock_version_at("HEAD"), "1.2.1");
    f.repo.write("app/src/stage.rs", "pub fn stage() {}\n");
    let fix1 = f.repo.commit_all("Bug 700100 - fix the stage crash");
    f.as_planned(&["release", "notes", "--message-file", &ops]);
    f.as_planned(&["release", "tag"]);
    assert_eq!(f.rpm_version(), "1.2.1");
    let s121 = section("1.2.1", &["Ops"], &["Bug 700100 - fix the stage crash"]);
    assert_eq!(f.release_txt("rpm-1.2.1"), format!("{s121}\n{}", s12.trim_end()));

    // It breaks in prod: 1.2.2.
    f.as_planned(&["release", "fix"]);
    f.repo.write("app/src/prod.rs", "pub fn prod() {}\n");
    let fix2 = f.repo.commit_all("Prod no longer crashes on start\n\nFixes bug 700200.");
    f.as_planned(&["release", "notes", "--message-file", &f.outside("impacts-2", "- Ops\n- QA\n")]);
    f.as_planned(&["release", "tag"]);
    assert_eq!(f.rpm_version(), "1.2.2");
    let s122 = section("1.2.2", &["Ops", "QA"], &["Bug 700200 - Prod no longer crashes on start"]);
    assert!(f.release_txt("rpm-1.2.2").starts_with(&format!("{s122}\n{s121}\n1.2 - ")));
    let tags = f.git(&["tag", "--list", "rpm-*"]);
    assert_eq!(tags, "rpm-1.2\nrpm-1.2.1\nrpm-1.2.2");
    f.assert_lock_consistent();

    // Backport: listed by patch identity, bookkeeping marked, then applied on main.
    f.repo.checkout("main");
    let list = f.ty(&["release", "backport"], &[]);
    let out = list.ok().to_string();
    for c in [&fix1, &fix2] {
        assert!(out.contains(&c[..12]), "{c} not listed:\n{out}");
    }
    assert!(out.contains("release 1.2.1: version 1.2.1  (release bookkeeping, not backported)"), "{out}");
    assert_eq!(f.subject("main"), "Bug 700001 - a feature for 1.3", "listing changes nothing");
    f.as_planned(&["release", "backport", "--apply"]);
    assert_eq!(f.version_at("main"), "1.3.0", "main keeps its train");
    for file in ["app/src/stage.rs", "app/src/prod.rs"] {
        assert!(f.repo.dir.join(file).exists(), "{file} not backported");
    }
    let main_notes = f.release_txt("main");
    assert!(main_notes.starts_with(&format!("{s122}\n{s121}\n{}", s12.trim_end())), "{main_notes}");
    let body = f.git(&["log", "-1", "--format=%b", "main"]);
    assert!(body.contains("cherry picked from commit"), "{body}");
    // Already cherry-picked commits are not listed again.
    let out = f.ty(&["release", "backport"], &[]).ok().to_string();
    assert!(!out.contains(&fix1[..12]) && !out.contains(&fix2[..12]), "{out}");
    assert_eq!(f.status(), "");

    f.as_planned(&["release", "push"]);
    let origin = f.origin_refs();
    for r in ["refs/heads/main", "refs/heads/1.2-release", "refs/tags/rpm-1.2.1", "refs/tags/rpm-1.2.2"] {
        let local = f.git(&["rev-parse", r]);
        assert!(origin.contains(&format!("{r} {local}")), "{r} not pushed:\n{origin}");
    }
    // 1.3 lists only what 1.2.x did not ship (backports matched by patch identity).
    f.as_planned(&["release", "start", "1.3"]);
    f.as_planned(&["release", "notes", "--message-file", &ops]);
    let s13 = f.release_txt("HEAD");
    let s13 = s13.split("\n1.2.2 - ").next().unwrap();
    assert_eq!(s13, section("1.3", &["Ops"], &["Bug 700001 - a feature for 1.3"]));
}

/// Each refusal names the problem and changes nothing.
#[test]
fn refusals_change_nothing() {
    let f = Fixture::new("refuse");
    let check = |args: &[&str], code: i32, needles: &[&str]| {
        let (refs, status) = (f.refs(), f.status());
        let r = f.ty(args, &[]);
        r.fails_with(code);
        for n in needles {
            says(&r, n);
        }
        assert_eq!(f.refs(), refs, "{args:?} changed refs");
        assert_eq!(f.status(), status, "{args:?} changed files");
    };

    // Dirty tree and wrong branch, reported together.
    f.git(&["switch", "--quiet", "-c", "topic"]);
    f.repo.write("app/src/main.rs", "fn main() {}\n");
    check(
        &["release", "start", "1.2"],
        2,
        &["2 problems", "uncommitted changes: app/src/main.rs", "runs on `main`, and you are on `topic`"],
    );
    f.git(&["checkout", "--quiet", "--", "app/src/main.rs"]);
    f.git(&["switch", "--quiet", "main"]);

    // The tag exists already.
    f.git(&["tag", "rpm-1.2"]);
    check(&["release", "start", "1.2"], 2, &["tag `rpm-1.2` already exists"]);
    f.git(&["tag", "-d", "rpm-1.2"]);

    // Behind the remote.
    let other = f.tmp.path.join("other");
    run({
        let mut c = command("git", &f.tmp.path);
        c.args(["clone", "--quiet"]).arg(format!("file://{}", f.origin.display())).arg(&other);
        c
    })
    .ok();
    let push_elsewhere =
        "echo x > elsewhere && git add elsewhere && git commit -qm elsewhere && git push -q origin main";
    run({
        let mut c = command("sh", &other);
        c.args(["-c", push_elsewhere]);
        c
    })
    .ok();
    check(&["release", "start", "1.2"], 2, &["`main` is behind `origin/main`", "git pull --ff-only origin main"]);
    f.git(&["pull", "--quiet", "--ff-only", "origin", "main"]);

    f.ty(&["release", "start", "1.2"], &[]).ok();
    // The version going down, and the branch existing.
    f.git(&["switch", "--quiet", "main"]);
    check(&["release", "start", "1.1"], 2, &["the version would go down: `main` is at 1.3.0"]);
    check(&["release", "start", "1.2"], 2, &["branch `1.2-release` already exists"]);
    check(&["release", "start", "1.2.1"], 2, &["not the fix 1.2.1"]);

    // Release from the wrong branch.
    // 1.3-release is not cut yet: the help cuts it (a `git switch 1.3-release` would fail).
    check(
        &["release", "tag"],
        2,
        &[
            "runs on `1.3-release`, which does not exist yet",
            "trainyard release start 1.3",
            "RELEASE.txt has no 1.3 section",
        ],
    );
    check(&["release", "fix"], 2, &["runs on `1.3-release`", "1.3 is not released yet: there is no tag rpm-1.3"]);

    // Empty notes.
    f.git(&["switch", "--quiet", "1.2-release"]);
    let empty = f.outside("empty", "# nothing\n\n");
    check(&["release", "notes", "--message-file", &empty], 2, &["has no Impacts lines"]);
    // No terminal and no message file.
    check(&["release", "notes"], 2, &["no terminal to open $EDITOR", "--message-file FILE"]);
    // Its dry-run previews from anywhere, and says that the run needs a terminal.
    let (refs, status) = (f.refs(), f.status());
    let dry = f.ty(&["release", "notes", "--dry-run"], &[]);
    dry.ok();
    says(&dry, "would edit: ");
    says(&dry, "no terminal here: the run refuses to open $EDITOR without one; --message-file FILE");
    assert_eq!((f.refs(), f.status()), (refs, status), "the dry-run changed something");
    // Tagging before the notes, a fix before the tag, a step's foreign option.
    check(&["release", "tag"], 2, &["RELEASE.txt has no 1.2 section"]);
    check(&["release", "fix"], 2, &["there is no tag rpm-1.2"]);
    check(&["release", "tag", "--apply"], 2, &["--apply is not an option of `release tag`"]);
    check(&["release", "frobnicate"], 2, &["unknown release step `frobnicate`"]);
    check(&["release", "1.x"], 2, &["`1.x` is not a release version"]);
}

/// `--dry-run` prints every command and file of the whole path, and changes nothing.
#[test]
fn dry_run_of_the_whole_path_prints_the_plan() {
    let f = Fixture::new("dry");
    let ops = f.outside("ops", "Ops\n");
    let (refs, status) = (f.refs(), f.status());
    let r = f.ty(&["release", "1.2", "--dry-run", "--message-file", &ops], &[]);
    let out = r.ok().to_string();
    for needle in [
        "git -C",
        "branch --no-track 1.2-release",
        "commit --quiet --no-verify -m 'starting the 1.3 development'",
        "switch --quiet 1.2-release",
        "would write:",
        "Cargo.lock",
        "reqs/prod-reqs.txt",
        "RELEASE.txt",
        "release 1.2: RELEASE.txt",
        "tag --annotate",
        "rpm-1.2",
        "would later: build_rpms RPM_CHANNEL=prod at rpm-1.2",
        "would later: publish the collection to",
        "(not pushing",
    ] {
        assert!(out.contains(needle), "{needle:?} not in the plan:\n{out}");
    }
    // The tag goes on the notes commit the run makes, which does not exist yet: the plan names
    // it, and says that its id is known only at run time (not HEAD's id, which it is not).
    let head = f.git(&["rev-parse", "HEAD"]);
    let tag_line = out.lines().find(|l| l.contains(" tag --annotate ")).unwrap();
    assert!(tag_line.ends_with(" rpm-1.2 '<the commit of the notes step>'"), "{tag_line}");
    assert!(!tag_line.contains(&head), "{tag_line}");
    says(&r, "(known only at run time: <the commit of the notes step>");
    assert_eq!(f.refs(), refs);
    assert_eq!(f.status(), status);
    assert!(!f.repo.dir.join("target/trainyard/release").exists());
}

/// The whole path's dry-run, then its run, recording what the executor runs (test builds):
/// the run does what the plan printed, in order; `<the commit of the notes step>` is the notes
/// commit the run made, and each `later:` part is planned when the run gets there.
fn release_as_planned(f: &Fixture, version: &str, args: &[&str]) -> Vec<String> {
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let plan = f.ty(&dry, &[]).ok().to_string();
    assert!(plan.contains("<the commit of the notes step>"), "{plan}");
    let record = f.tmp.path.join(format!("record-{version}"));
    let record_s = record.to_str().unwrap();
    let run = f.ty(args, &[("TRAINYARD_TEST_RECORD", record_s)]);
    run.ok();
    // The publish step says what it published once, with the count of packages.
    let published: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("trainyard: published ")).collect();
    assert!(
        published.len() == 1 && published[0].starts_with(&format!("trainyard: published {version} (")),
        "{}",
        run.stderr
    );
    let executed: Vec<String> = std::fs::read_to_string(&record).unwrap().lines().map(str::to_string).collect();
    let subject = format!("^release {version}: RELEASE.txt$");
    let notes = f.git(&["log", "-1", "--format=%H", "--grep", &subject, "HEAD"]);
    assert_eq!(notes.len(), 40, "no notes commit of {version}");
    let planned: Vec<String> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("would "))
        .map(|l| l.replace("'<the commit of the notes step>'", &notes))
        .collect();
    assert!(
        support::plan_matches(&planned, &executed),
        "the run did not do what the dry-run printed\n--- planned:\n{}\n--- executed:\n{}",
        planned.join("\n"),
        executed.join("\n")
    );
    assert_eq!(f.git(&["rev-parse", &format!("rpm-{version}^{{commit}}")]), notes, "the tag is on the notes commit");
    executed
}

/// Installs `package` from the published repository into an empty root, with a second
/// repository holding the package that stands for the host's C library and loader (the one
/// `mock` generates), since the packaged binary links them.
fn dnf_install(repo_dir: &Path, root: &Path, package: &str) -> Run {
    let base_dir = root.with_extension("base");
    std::fs::create_dir_all(&base_dir).unwrap();
    let base = camino::Utf8Path::from_path(&base_dir).unwrap();
    let provides = trainyard::sandbox::base::provides(&trainyard::sandbox::base::host_libraries().unwrap()).unwrap();
    trainyard::sandbox::base::build(base, &provides).unwrap();
    run({
        let mut c = command("createrepo_c", &base_dir);
        c.args(["--quiet", "."]);
        c
    })
    .ok();
    let mut c = command("dnf", repo_dir);
    c.args(["-y", "-q", "--releasever", "1", "--setopt=reposdir=/dev/null", "--disablerepo=*", "--nogpgcheck"])
        .arg(format!("--setopt=cachedir={}", root.with_extension("cache").display()))
        .arg(format!("--installroot={}", root.display()))
        .arg(format!("--repofrompath=portal,file://{}", repo_dir.display()))
        .arg(format!("--repofrompath=base,file://{}", base_dir.display()))
        .args(["--enablerepo=portal", "--enablerepo=base", "install", package]);
    run(c)
}

fn dnf_available(repo_dir: &Path, root: &Path) -> String {
    let mut c = command("dnf", repo_dir);
    c.args(["-q", "--releasever", "1", "--setopt=reposdir=/dev/null", "--disablerepo=*"])
        .arg(format!("--installroot={}", root.display()))
        .arg(format!("--repofrompath=portal,file://{}", repo_dir.display()))
        .args(["--enablerepo=portal", "repoquery", "--qf", "%{name}-%{version}", "portal"]);
    run(c).ok().to_string()
}

/// The one-command release, interrupted after the tag: a second run refuses, `--resume`
/// finishes without a second tag or commit, publishes, and dnf installs from the repository.
#[test]
fn whole_release_interrupted_then_resumed_and_installed() {
    let f = Fixture::new("resume");
    let ops = f.outside("ops", "Ops\n");
    let repos = f.tmp.path.join("repos");
    let repos_s = repos.to_str().unwrap();
    if !is_root("the whole release path (its mock step needs root)") {
        return;
    }
    let env: [(&str, &str); 0] = [];
    let args = ["release", "1.2", "--message-file", &ops, "--repo-dir", repos_s];
    let mut failing = env.to_vec();
    failing.push(("TRAINYARD_FAIL_AFTER", "tag"));
    let r = f.ty(&args, &failing);
    r.fails_with(1);
    says(&r, "stopped after `tag`");
    let tag = f.git(&["rev-parse", "rpm-1.2"]);
    let commits = f.count("1.2-release");
    assert!(!repos.exists(), "nothing published before the failure point");

    let again = f.ty(&args, &env);
    again.fails_with(2);
    says(&again, "interrupted after: start, pin, notes, tag");
    says(&again, "--resume");

    // The resume does what its dry-run printed: the steps left, each planned when it runs.
    let mut resume = args.to_vec();
    resume.push("--resume");
    f.as_planned(&resume);
    assert_eq!(f.git(&["rev-parse", "rpm-1.2"]), tag, "no second tag");
    assert_eq!(f.count("1.2-release"), commits, "no second commit");
    assert_eq!(f.git(&["tag", "--list"]), "rpm-1.2");
    assert!(repos.join("prod/repodata/repomd.xml").exists());
    assert!(
        repos.join("prod/x86_64/portal-1.2-1.x86_64.rpm").exists()
            || repos.join("prod/portal-1.2-1.x86_64.rpm").exists()
    );
    assert_eq!(f.origin_refs().lines().count(), 1, "no push without --push");

    // A later run repeats nothing; with --push it only pushes.
    let refs = f.refs();
    f.ty(&args, &env).ok();
    assert_eq!(f.refs(), refs);
    let mut push = args.to_vec();
    push.push("--push");
    f.ty(&push, &env).ok();
    assert!(f.origin_refs().contains(&format!("refs/tags/rpm-1.2 {tag}")));

    let root = f.tmp.path.join("installroot");
    dnf_install(&repos.join("prod"), &root, "portal").ok();
    let mut q = command("rpm", &f.tmp.path);
    q.arg("--root").arg(&root).args(["-q", "portal"]);
    assert_eq!(run(q).ok(), format!("portal-1.2-1.{}", std::env::consts::ARCH));
}

/// Killed after the tag, `--abort` puts every branch and tag back exactly.
#[test]
fn whole_release_killed_then_aborted_restores_refs() {
    if !is_root("the whole release path (its mock step needs root)") {
        return;
    }
    let f = Fixture::new("abort");
    let ops = f.outside("ops", "Ops\n");
    let (refs, branch) = (f.refs(), f.branch());
    // A run refused by its preflight leaves no journal: the next run is not "interrupted".
    f.repo.write("app/src/main.rs", "fn main() {}\n");
    let r = f.ty(&["release", "1.2", "--message-file", &ops], &[]);
    r.fails_with(2);
    says(&r, "uncommitted changes: app/src/main.rs");
    assert!(!f.repo.dir.join("target/trainyard/release/1.2.json").exists());
    f.git(&["checkout", "--quiet", "--", "app/src/main.rs"]);
    let env = [("TRAINYARD_FAIL_AFTER", "tag:abort")];
    let r = f.ty(&["release", "1.2", "--message-file", &ops], &env);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(f.git(&["tag", "--list"]).contains("rpm-1.2"));
    assert_ne!(f.refs(), refs);
    // Work the user did after the failure is not the release's to undo.
    f.git(&["switch", "--quiet", "-c", "wip", "main"]);
    f.repo.write("app/src/wip.rs", "pub fn precious() {}\n");
    f.repo.commit_all("precious work");
    f.repo.write("app/src/wip.rs", "pub fn precious() {}\npub fn more() {}\n");
    let r = f.ty(&["release", "1.2", "--abort"], &[]);
    r.fails_with(2);
    says(&r, "uncommitted changes");
    assert!(f.git(&["tag", "--list"]).contains("rpm-1.2"), "a refused abort changes nothing");
    f.repo.commit_all("more precious work");
    let wip = f.git(&["rev-parse", "wip"]);
    // The abort does what its dry-run printed (which changes nothing: the tag is still there).
    let abort = f.as_planned(&["release", "1.2", "--abort"]);
    says(&abort, "the release of 1.2 is undone");
    assert_eq!(f.git(&["rev-parse", "wip"]), wip, "the user's branch survives the abort");
    f.git(&["checkout", "--quiet", &branch]);
    f.git(&["branch", "--quiet", "-D", "wip"]);
    assert_eq!(f.refs(), refs);
    assert_eq!(f.branch(), branch);
    assert_eq!(f.status(), "");
    assert_eq!(f.version_at("HEAD"), "1.2.0-dev");
    // Nothing left to resume; a new run starts afresh.
    f.ty(&["release", "1.2", "--resume"], &[]).fails_with(2);
}

/// A fix through the whole path: `release 1.2.1` on the release branch.
#[test]
fn whole_release_of_a_fix() {
    let f = Fixture::new("fixpath");
    let ops = f.outside("ops", "Ops\n");
    let repos = f.tmp.path.join("repos");
    if !is_root("the whole release path (its mock step needs root)") {
        return;
    }
    let env: [(&str, &str); 0] = [];
    let repos_s = repos.to_str().unwrap();
    let executed = release_as_planned(
        &f,
        "1.2",
        &["release", "1.2", "--message-file", &ops, "--repo-dir", repos_s, "RPM_CHANNEL=stage"],
    );
    assert!(executed.iter().any(|l| l.starts_with("later: build_rpms RPM_CHANNEL=stage at rpm-1.2")), "{executed:?}");
    f.repo.write("app/src/stage.rs", "pub fn stage() {}\n");
    f.repo.commit_all("Bug 700100 - fix the stage crash");
    let r = f.ty(&["release", "1.2.2", "--message-file", &ops, "--repo-dir", repos_s, "RPM_CHANNEL=stage"], &env);
    r.fails_with(2);
    says(&r, "the next fix is 1.2.1");
    release_as_planned(
        &f,
        "1.2.1",
        &["release", "1.2.1", "--message-file", &ops, "--repo-dir", repos_s, "RPM_CHANNEL=stage"],
    );
    assert_eq!(f.git(&["tag", "--list"]), "rpm-1.2\nrpm-1.2.1");
    assert_eq!(f.version_at("rpm-1.2.1"), "1.2.1");
    assert!(f.release_txt("rpm-1.2.1").starts_with(&section("1.2.1", &["Ops"], &["Bug 700100 - fix the stage crash"])));
    assert_eq!(dnf_available(&repos.join("stage"), &f.tmp.path.join("q")), "portal-1.2\nportal-1.2.1");
    // The whole path's dist step: the fix's source release beside its collection.
    let dist: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.repo.dir.join("target/dist/stage/dist.json")).unwrap())
            .unwrap();
    assert_eq!((dist["version"].as_str(), dist["tag"].as_str()), (Some("1.2.1"), Some("rpm-1.2.1")));
    assert!(f.repo.dir.join("target/dist/stage/portal-1.2.1-1.src.rpm").is_file());
    // ... and listed in the collection's manifest, beside its packages, with the same bytes.
    let out = f.repo.dir.join("target/rpms/stage");
    let listed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("collection.json")).unwrap()).unwrap();
    for (i, file) in ["portal-1.2.1.tar.gz", "portal-1.2.1-1.src.rpm"].iter().enumerate() {
        assert_eq!(listed["sources"][i]["file"].as_str(), Some(*file), "{listed:#}");
        assert_eq!(listed["sources"][i]["sha256"], dist["files"][i]["sha256"]);
        assert!(out.join(file).is_file(), "{file} is not in the collection");
    }
}

/// The prod repository never receives a dev version; the dev one does.
#[test]
fn publish_refuses_dev_versions_outside_dev() {
    let f = Fixture::new("devpub");
    let collection = f.tmp.path.join("collection");
    std::fs::create_dir_all(&collection).unwrap();
    let mut build = command("sh", &f.tmp.path);
    build
        .args(["-c", BUILD_RPMS])
        .env("TRAINYARD_RELEASE_OUT", &collection)
        .env("TRAINYARD_RELEASE_VERSION", "x")
        .env("RPM_VERSION", "1.3~~dev5");
    run(build).ok();
    list_as_collection(&collection);
    let repos = f.tmp.path.join("repos");
    let (c, r) = (collection.to_str().unwrap(), repos.to_str().unwrap());
    let refused = f.ty(&["release", "publish", "--from", c, "--repo-dir", r], &[]);
    refused.fails_with(2);
    says(&refused, "refusing to publish development builds to the prod repository");
    says(&refused, "portal-1.3~~dev5-1.noarch");
    assert!(!repos.join("prod").exists());
    let staged = f.ty(&["release", "publish", "--from", c, "--repo-dir", r, "RPM_CHANNEL=stage"], &[]);
    staged.fails_with(2);
    f.ty(&["release", "publish", "--from", c, "--repo-dir", r, "RPM_CHANNEL=dev"], &[]).ok();
    assert_eq!(dnf_available(&repos.join("dev"), &f.tmp.path.join("q")), "portal-1.3~~dev5");
}

/// A one-shot HTTP server on loopback: answers `status`, sends back the request it got.
fn webhook_server(status: u16) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = reader.into_inner();
        let reason = if status == 200 { "OK" } else { "Server Error" };
        write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno").unwrap();
        tx.send((head, String::from_utf8(body).unwrap())).unwrap();
    });
    (format!("http://127.0.0.1:{port}/services/T000/B000/SECRET-TOKEN-123"), rx)
}

/// Notify posts Slack's JSON to the webhook; the secret URL never appears in any output; a
/// failed notification is reported and the release stays; `--resume` retries only it.
#[test]
fn notify_posts_to_the_webhook_and_never_prints_it() {
    if !is_root("the whole release path (its mock step needs root)") {
        return;
    }
    let f = Fixture::new("notify");
    let ops = f.outside("ops", "Ops\n");
    let repos = f.tmp.path.join("repos");
    let env = |url: &str| vec![("TRAINYARD_WEBHOOK_URL", url.to_string())];
    let args = ["release", "1.2", "--message-file", &ops, "--repo-dir", repos.to_str().unwrap()];

    // The server fails: the release is done, the failure reported, the URL hidden.
    let (url, rx) = webhook_server(500);
    let e = env(&url);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = f.ty(&args, &e);
    r.fails_with(1);
    says(&r, "the notification to the webhook from $TRAINYARD_WEBHOOK_URL failed: HTTP 500");
    says(&r, "the release is done and stays");
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("SECRET-TOKEN"), "{r:?}");
    rx.recv().unwrap();
    let tag = f.git(&["rev-parse", "rpm-1.2"]);
    assert!(repos.join("prod/repodata").exists());

    // --resume retries the notification only.
    let (url, rx) = webhook_server(200);
    let e = env(&url);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut resume = args.to_vec();
    resume.push("--resume");
    let r = f.ty(&resume, &e);
    r.ok();
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("SECRET-TOKEN"), "{r:?}");
    assert_eq!(f.git(&["rev-parse", "rpm-1.2"]), tag);
    let (head, body) = rx.recv().unwrap();
    assert!(head.starts_with("POST /services/T000/B000/SECRET-TOKEN-123 HTTP/1.1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(text.starts_with("*portal 1.2* released to *prod* (tag `rpm-1.2`)"), "{text}");
    assert!(text.contains("1.2 - 2026-01-01") && text.contains("- Bug 636294 - Prevent the automatic"), "{text}");

    // The step on its own, the URL from a file outside the repository; dry-run prints no URL.
    let (url, rx) = webhook_server(200);
    let file = f.outside("hook", &format!("{url}\n"));
    let r = f.ty(&["release", "notify", "--webhook-file", &file, "--dry-run"], &[]);
    r.ok();
    says(&r, "would later: notify: post the release of 1.2 to the webhook from the file");
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("SECRET-TOKEN"));
    // It does what its dry-run printed: the post, planned when it runs (in-process for http).
    let r = f.as_planned(&["release", "notify", "--webhook-file", &file, "RPM_CHANNEL=stage"]);
    says(&r, "announced portal 1.2 on the webhook from the file");
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("SECRET-TOKEN"));
    let (_, body) = rx.recv().unwrap();
    assert!(body.contains("released to *stage*"), "{body}");

    // A file that is not there is bad input, refused before anything changes, the step on its
    // own or the whole path.
    let refs = f.git(&["for-each-ref"]);
    let missing = f.tmp.path.join("no-such-hook");
    let missing = missing.to_str().unwrap();
    let ops = f.outside("ops", "Ops\n");
    for args in [
        &["release", "notify", "--webhook-file", missing][..],
        &["release", "1.3", "--message-file", &ops, "--webhook-file", missing],
    ] {
        let r = f.ty(args, &[]);
        let err = r.fails_with(2).to_string();
        assert!(err.contains(&format!("--webhook-file {missing}: cannot read it")) && err.contains("help:"), "{err}");
        assert_eq!(f.git(&["for-each-ref"]), refs, "{args:?} changed a ref");
        assert_eq!(f.git(&["status", "--porcelain"]), "", "{args:?} changed the tree");
    }

    // Never from the repository.
    f.repo.write("hook.txt", &format!("{url}\n"));
    let r = f.ty(&["release", "notify", "--webhook-file", "hook.txt"], &[]);
    r.fails_with(2);
    says(&r, "inside the repository and not ignored");
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("SECRET-TOKEN"));
}

/// With a terminal, `release notes` opens $EDITOR on the section; an unchanged or emptied
/// section aborts. (`script` gives the child a terminal.)
#[test]
fn notes_in_the_editor() {
    if which("script").is_none() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let f = Fixture::new("editor");
    f.ty(&["release", "start", "1.2"], &[]).ok();
    let in_terminal = |editor: &str| {
        let line = format!("'{}' release notes", env!("CARGO_BIN_EXE_trainyard"));
        let mut c = command("script", &f.repo.dir);
        c.args(["-qec", &line, "/dev/null"]).env("SOURCE_DATE_EPOCH", EPOCH).env("EDITOR", editor);
        c.env_remove("VISUAL").env_remove("CARGO_TARGET_DIR");
        run(c)
    };
    let head = f.git(&["rev-parse", "HEAD"]);
    let r = in_terminal("true");
    assert_ne!(r.code, Some(0));
    assert!(r.stdout.contains("the release notes were not changed: aborted"), "{r:?}");
    let r = in_terminal("truncate -s 0");
    assert!(r.stdout.contains("the release notes are empty: aborted"), "{r:?}");
    assert_eq!(f.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(f.status(), "");
    // The first `- None` of the template is the Impacts list.
    let r = in_terminal("sed -i '0,/^- None$/s//- Infrasec/'");
    assert_eq!(r.code, Some(0), "{r:?}");
    let notes = f.release_txt("HEAD");
    assert!(
        notes.starts_with("1.2 - 2026-01-01\n================\n\nImpacts:\n\n- Infrasec\n\nDependencies:\n\n- None\n"),
        "{notes}"
    );
    assert!(!notes.contains('#'), "{notes}");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

/// The whole path runs `mock`, whose sandbox needs root; elsewhere these tests say so and skip.
fn is_root(what: &str) -> bool {
    let root = support::is_root();
    if !root {
        eprintln!("NOTICE: skipping {what}: not root");
    }
    root
}

/// Publishes one noarch `portal-<rpm_version>` to `channel` of `repos` (built by rpmbuild).
fn publish_portal(f: &Fixture, repos: &Path, rpm_version: &str, channel: &str) {
    let collection = f.tmp.path.join(format!("collection-{rpm_version}-{channel}"));
    std::fs::create_dir_all(&collection).unwrap();
    let mut build = command("sh", &f.tmp.path);
    build
        .args(["-c", BUILD_RPMS])
        .env("TRAINYARD_RELEASE_OUT", &collection)
        .env("TRAINYARD_RELEASE_VERSION", "x")
        .env("RPM_VERSION", rpm_version);
    run(build).ok();
    list_as_collection(&collection);
    let (c, r) = (collection.to_str().unwrap(), repos.to_str().unwrap());
    f.ty(&["release", "publish", "--from", c, "--repo-dir", r, &format!("RPM_CHANNEL={channel}")], &[]).ok();
}

/// The lines of `text` from the one starting with `start` up to the next blank line.
fn block<'a>(text: &'a str, start: &str) -> &'a str {
    let at = text.find(start).unwrap_or_else(|| panic!("no {start:?} in:\n{text}"));
    let rest = &text[at..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// `trains` after a release (1.2), a fix released (1.2.1) and backported, a second fix not
/// backported (its subject carrying markup), and a feature on main: text, JSON and HTML.
/// A clone whose origin/HEAD is another branch than the configured default (a stale `main`
/// beside the `master` everyone uses, as in public repositories): `trains` says so.
#[test]
fn trains_warns_when_origin_defaults_to_another_branch() {
    let f = Fixture::new("trains-default");
    f.repo.git(&["update-ref", "refs/remotes/origin/master", "HEAD"]);
    f.repo.git(&["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master"]);
    let run = f.ty(&["trains"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("the default branch is `main` (configuration), but origin's is `master`")
            && run.stderr.contains("default-branch = \"master\""),
        "{}",
        run.stderr
    );
    f.repo.git(&["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"]);
    let run = f.ty(&["trains"], &[]);
    assert!(run.code == Some(0) && !run.stderr.contains("warning:"), "{}", run.stderr);
}

#[test]
fn trains_after_a_release_a_fix_and_a_backport() {
    let f = Fixture::new("trains");
    let ops = f.outside("ops", "Ops\n");
    for step in [&["release", "start", "1.2"][..], &["release", "pin"], &["release", "notes", "--message-file", &ops]] {
        f.ty(step, &[]).ok();
    }
    f.ty(&["release", "tag"], &[]).ok();
    f.ty(&["release", "fix"], &[]).ok();
    f.repo.write("app/src/stage.rs", "pub fn stage() {}\n");
    let fix1 = f.repo.commit_all("Bug 700100 - fix the stage crash");
    f.ty(&["release", "notes", "--message-file", &ops], &[]).ok();
    f.ty(&["release", "tag"], &[]).ok();
    // Backported to main, then a feature there.
    f.repo.checkout("main");
    f.ty(&["release", "backport", "--apply"], &[]).ok();
    f.repo.write("app/src/feature.rs", "pub fn feature() {}\n");
    let feature = f.repo.commit_all("Bug 700001 - a feature for 1.3");
    // A second fix on the release branch, not backported.
    f.repo.checkout("1.2-release");
    f.ty(&["release", "fix"], &[]).ok();
    f.repo.write("app/src/prod.rs", "pub fn prod() {}\n");
    let fix2 = f.repo.commit_all("Prod <script>alert(\"x\")</script> & no crash");
    f.repo.checkout("main");
    let refs = f.refs();

    // Without a repository: no channels.
    let text = f.ty(&["trains"], &[]).ok().to_string();
    assert!(!text.contains("channels:"), "{text}");
    let main = block(&text, "main  (train 1.3)  version 1.3.dev");
    assert!(main.contains("  latest tags: (none)\n"), "{main}");
    assert!(main.contains(&format!("    {} Bug 700001 - a feature for 1.3\n", &feature[..12])), "{main}");
    let line = block(&text, "1.2-release  (line 1.2, next 1.2.2)  version 1.2.2.dev");
    assert!(line.contains("  latest tags: rpm-1.2.1, rpm-1.2\n"), "{line}");
    // Unreleased on the branch: the version bump and the second fix, nothing of 1.2.1.
    let unreleased = block(line, "  unreleased: 2 commits");
    assert!(unreleased.contains(&fix2[..12]) && !unreleased.contains(&fix1[..12]), "{unreleased}");
    let pending =
        &line[line.find("  fixes not yet backported to main: 1 commit\n").unwrap_or_else(|| panic!("{line}"))..];
    assert_eq!(
        pending.lines().collect::<Vec<_>>(),
        [
            "  fixes not yet backported to main: 1 commit",
            &format!("    {} Prod <script>alert(\"x\")</script> & no crash", &fix2[..12])
        ]
    );
    // `release backport` lists the same fix (and only the bookkeeping besides).
    let listed = f.ty(&["release", "backport"], &[]).ok().to_string();
    assert!(listed.contains(&fix2[..12]) && !listed.contains(&fix1[..12]), "{listed}");

    // Published: 1.2 in prod, 1.2 then 1.2.1 in stage.
    let repos = f.tmp.path.join("repos");
    let r = repos.to_str().unwrap();
    publish_portal(&f, &repos, "1.2", "prod");
    publish_portal(&f, &repos, "1.2", "stage");
    publish_portal(&f, &repos, "1.2.1", "stage");
    let text = f.ty(&["trains", "--repo-dir", r, "--color", "never"], &[]).ok().to_string();
    let channels = block(&text, "channels:\n");
    let lines: Vec<&str> = channels.lines().collect();
    assert_eq!(lines.len(), 4, "{channels}");
    assert!(lines[1].starts_with("  dev    nothing published  ["), "{channels}");
    assert!(lines[2].starts_with("  stage  1.2.1 (rpm-1.2.1)  ["), "{channels}");
    assert!(lines[3].starts_with("  prod   1.2 (rpm-1.2)  ["), "{channels}");
    // Colour only when asked.
    assert!(!text.contains('\x1b'));
    let coloured = f.ty(&["trains", "--color", "always"], &[]).ok().to_string();
    assert!(coloured.contains("\x1b[1;32mrpm-1.2.1\x1b[0m"), "{coloured}");

    // JSON: the same picture.
    let json: serde_json::Value =
        serde_json::from_str(f.ty(&["trains", "--format", "json", "--repo-dir", r], &[]).ok()).unwrap();
    assert_eq!(json["lanes"][0]["branch"], "main");
    assert_eq!(json["lanes"][1]["branch"], "1.2-release");
    let pending: Vec<&str> =
        json["lanes"][1]["pending"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(pending, [fix2.as_str()]);
    assert_eq!(json["channels"][2]["serves"], "1.2");
    assert_eq!(json["channels"][1]["tag"], "rpm-1.2.1");

    // HTML: dry-run writes nothing, then the page.
    let page = f.tmp.path.join("trains.html");
    let p = page.to_str().unwrap();
    let dry = f.ty(&["trains", "--html", p, "--dry-run", "--repo-dir", r], &[]);
    says(&dry, &format!("would write: {p} ("));
    assert!(!page.exists());
    // The run writes exactly what the dry-run printed (the executor records it in test builds).
    let (_, _, executed) = support::dry_run_equals_run(&f.repo.dir, &["trains", "--html", p, "--repo-dir", r], &[]);
    assert_eq!(executed.len(), 1, "{executed:?}");
    assert!(executed[0].starts_with(&format!("write: {p} (")), "{executed:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    // Self-contained: no scripts, links or fetched resources; the only URL is SVG's namespace.
    for bad in ["<script", "src=", "href=", "url(", "@import", "<link"] {
        assert!(!html.contains(bad), "{bad} in:\n{html}");
    }
    assert_eq!(html.matches("http").count(), html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
    assert!(html.contains("Prod &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; no crash"), "{html}");
    let svg = &html[html.find("<svg").unwrap()..html.find("</svg>").unwrap() + 6];
    for needle in [
        "data-branch=\"main\"",
        "data-branch=\"1.2-release\"",
        ">rpm-1.2<",
        ">rpm-1.2.1<",
        "data-channel=\"prod\"",
        ">prod serves 1.2<",
        ">stage serves 1.2.1<",
        ">dev: nothing published<",
        &format!("<title>{} Bug 700001 - a feature for 1.3</title>", &feature[..12]),
    ] {
        assert!(svg.contains(needle), "{needle} not in the drawing:\n{svg}");
    }
    // The drawing is well-formed XML (python's parser reads it).
    let check = f.outside("trains.svg", svg);
    let mut py = command("python3", &f.tmp.path);
    py.args(["-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", &check]);
    run(py).ok();
    let section = &html[html.find("id=\"branch-1.2-release\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let pending = &section[section.find("<div class=\"pending\">").unwrap()..];
    assert!(pending.contains("fixes not yet backported to main</strong>: 1"), "{pending}");
    assert!(pending.contains(&fix2[..12]) && !pending.contains(&fix1[..12]), "{pending}");
    let main = &html[html.find("id=\"branch-main\"").unwrap()..];
    assert!(main[..main.find("</section>").unwrap()].contains("Bug 700001 - a feature for 1.3"));
    assert!(html.contains("<td class=\"serves\">1.2.1</td>"), "{html}");

    // A clone has only the default branch locally: the release line comes from origin.
    f.ty(&["release", "push"], &[]).ok();
    let clone = f.tmp.path.join("clone");
    run({
        let mut c = command("git", &f.tmp.path);
        c.args(["clone", "--quiet"]).arg(format!("file://{}", f.origin.display())).arg(&clone);
        c
    })
    .ok();
    let mut c = command(env!("CARGO_BIN_EXE_trainyard"), &clone);
    c.args(["trains", "--color", "never"]);
    let text = run(c).ok().to_string();
    let line = block(&text, "origin/1.2-release  (line 1.2, next 1.2.2)  version 1.2.2.dev");
    assert!(
        line.ends_with(&format!(
            "  fixes not yet backported to main: 1 commit\n    {} Prod <script>alert(\"x\")</script> & no crash",
            &fix2[..12]
        )),
        "{text}"
    );

    // Bad input: exit 2, nothing written.
    f.ty(&["trains", "--format", "yaml"], &[]).fails_with(2);
    f.ty(&["trains", "--html", f.tmp.path.to_str().unwrap()], &[]).fails_with(2);
    let refs_now = f.refs();
    let without_remote = |r: &str| r.lines().filter(|l| !l.starts_with("refs/remotes/")).collect::<Vec<_>>().join("\n");
    assert_eq!(without_remote(&refs_now), without_remote(&refs), "trains changes no ref");
    assert_eq!(f.status(), "");
}
