//! Release lines of both shapes and both flows, end to end: the real binary on real git
//! repositories with a bare `file://` origin, versions read back with `version`, RPMs built by
//! `build_rpms` (or by rpmbuild at the versions trainyard renders, for a yum repository of many
//! versions), installed and upgraded by the real rpm and dnf.
//!
//! - a `v0.17.0` project (X.Y.Z line) through start, notes, tag, fix and push, the dev RPM
//!   `build_rpms` makes installed, then upgraded by the release RPM with `rpm -U`;
//! - the master / rc / version-branch flow of the reference text (freeze, two betas with a fix
//!   cherry-picked down from the default branch, an rc, the final, a fix, push), every branch,
//!   tag and version checked, and a yum repository of its dev, beta, rc and final where dnf
//!   installs the final;
//! - tags that do not match the prefix; bad inputs (exit 2, nothing changed).

use crate::support::git as git_support;
use crate::support::portal::{self, Made, Origin, Portal};

use std::path::{Path, PathBuf};

use crate::support::collection::list_as_collection;
use crate::support::rpm::rpm_vercmp;
use git_support::{command, is_root, run, says, Repo, Run, TempDir};

const EPOCH: &str = "1767225600";

/// A noarch RPM `portal-<RPM_VERSION>` built by rpmbuild into `$OUT`.
const BUILD_RPM: &str = r#"set -e
spec="$OUT/.portal.spec"
printf '%s\n' 'Name: portal' 'Version: %{ver}' 'Release: 1' 'Summary: portal' 'License: MIT' 'BuildArch: noarch' \
  '%description' 'portal' '%install' 'mkdir -p %{buildroot}/usr/share/portal' \
  'echo %{version} > %{buildroot}/usr/share/portal/VERSION' '%files' '/usr/share/portal/VERSION' > "$spec"
rpmbuild -bb --quiet --define "_topdir $OUT/.build" --define "_rpmdir $OUT" --define "ver $RPM_VERSION" "$spec" >/dev/null
rm -rf "$OUT/.build" "$spec"
"#;

struct Fixture {
    repo: Repo,
    tmp: TempDir,
    origin: PathBuf,
}

impl Fixture {
    /// A workspace `portal` (one member `app`, no dependencies) with `config` as its
    /// `[workspace.metadata.trainyard]`, at `version` on `branch`, pushed to a bare origin.
    fn new(label: &str, branch: &str, version: &str, config: &str) -> Fixture {
        let Made { repo, tmp, origin } = Portal {
            branch,
            manifest: portal::manifest(version, config),
            description: true,
            leftpad: &[],
            reqs: [Some(""), Some(""), Some("")],
            origin: Origin::Empty,
            ..Portal::default()
        }
        .make(label);
        Fixture { repo, tmp, origin }
    }

    fn ty(&self, args: &[&str]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env("SOURCE_DATE_EPOCH", EPOCH).env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL");
        cmd.env_remove("EDITOR").env_remove("VISUAL");
        run(cmd)
    }

    fn version(&self, format: &str) -> String {
        self.ty(&["version", "--format", format]).ok().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.repo.git(args)
    }

    fn outside(&self, name: &str, text: &str) -> String {
        let path = self.tmp.path.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// Every local ref and the work tree's status: what "nothing changed" compares.
    fn snapshot(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            self.git(&["rev-parse", "HEAD"])
        )
    }

    /// The workspace version in Cargo.toml at `rev`.
    fn cargo_at(&self, rev: &str) -> String {
        let text = self.git(&["show", &format!("{rev}:Cargo.toml")]);
        let line = text.lines().find(|l| l.starts_with("version = ")).unwrap();
        line.split('"').nth(1).unwrap().to_string()
    }

    fn origin_refs(&self) -> Vec<String> {
        let mut c = command("git", &self.tmp.path);
        c.arg("--git-dir").arg(&self.origin).args(["for-each-ref", "--format=%(refname)"]);
        run(c).ok().lines().map(String::from).collect()
    }

    /// `build_rpms RPM_CHANNEL=<channel>` of the workspace as it is; returns the portal RPM,
    /// checked to carry `rpm_version`, copied out of the target directory.
    fn build_rpm(&self, channel: &str, rpm_version: &str) -> PathBuf {
        self.ty(&["build_rpms", &format!("RPM_CHANNEL={channel}")]).ok();
        let arch = std::env::consts::ARCH;
        let built = self.repo.dir.join(format!("target/rpms/{channel}/portal-{rpm_version}-1.{arch}.rpm"));
        let mut q = command("rpm", &self.tmp.path);
        q.args(["-qp", "--nosignature", "--qf", "%{VERSION}"]).arg(&built);
        assert_eq!(run(q).ok(), rpm_version, "{}", built.display());
        let kept = self.tmp.path.join(built.file_name().unwrap());
        std::fs::copy(&built, &kept).unwrap();
        kept
    }

    /// Builds `portal-<rpm_version>` into `dir`; returns the file.
    fn rpm(&self, dir: &Path, rpm_version: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let mut c = command("sh", &self.tmp.path);
        c.args(["-c", BUILD_RPM]).env("OUT", dir).env("RPM_VERSION", rpm_version);
        run(c).ok();
        dir.join("noarch").join(format!("portal-{rpm_version}-1.noarch.rpm"))
    }
}

fn write_manifest(repo: &Repo, version: &str, config: &str) {
    repo.write("Cargo.toml", &portal::manifest(version, config));
}

/// Asserts that rpm orders `versions` (RPM renderings) strictly increasing.
fn assert_rpm_increasing(versions: &[String]) {
    for pair in versions.windows(2) {
        assert_eq!(rpm_vercmp(&pair[0], &pair[1]), -1, "rpm must sort {} below {}", pair[0], pair[1]);
    }
}

const RC_BETA: &str = "tag-prefix = \"v\"\ndefault-branch = \"master\"\nrelease-branch = \"{version}\"\nflow = \"rc-beta\"\nrc-branch = \"rc\"\n";

/// The reference text's scenario: master, rc and the version branch 0.12.
#[test]
fn master_rc_and_version_branches_as_the_reference_text_has_them() {
    let f = Fixture::new("rcbeta", "master", "0.11.0", RC_BETA);
    f.repo.tag("v0.11.0");
    write_manifest(&f.repo, "0.12.0", RC_BETA);
    f.repo.commit_all("starting the 0.12 development");
    f.repo.commits(2, "feature");
    let mut seen = Vec::new();
    // The line's precision comes from v0.11.0: X.Y.Z everywhere.
    assert_eq!(f.version("pep440"), "0.12.0.dev3", "the bump commit is .dev1");
    assert_eq!(f.version("rpm"), "0.12.0~~dev3");

    // Feature freeze: master into rc, master to the next minor's first dev build.
    let before = f.snapshot();
    let dry = f.ty(&["release", "freeze", "--dry-run"]);
    dry.ok();
    says(&dry, "branch --no-track rc");
    says(&dry, "starting the 0.13 development");
    assert_eq!(f.snapshot(), before, "--dry-run changes nothing");
    f.ty(&["release", "freeze"]).ok();
    assert_eq!(f.git(&["branch", "--show-current"]), "master");
    assert_eq!(f.cargo_at("master"), "0.13.0");
    assert_eq!(f.cargo_at("rc"), "0.12.0");
    assert_eq!(f.git(&["log", "-1", "--format=%s", "master"]), "starting the 0.13 development");
    assert_eq!(f.version("pep440"), "0.13.0.dev1");
    f.git(&["switch", "--quiet", "rc"]);
    assert_eq!(f.version("pep440"), "0.12.0.dev3");
    seen.push(f.version("rpm"));

    // First beta: the version branch cut from rc, tagged, moved one beta ahead.
    let before = f.snapshot();
    let dry = f.ty(&["release", "beta", "--dry-run"]);
    dry.ok();
    says(&dry, "v0.12.0b1");
    says(&dry, "release 0.12.0b2: version 0.12.0-beta.2");
    assert_eq!(f.snapshot(), before, "--dry-run changes nothing");
    f.ty(&["release", "beta"]).ok();
    assert_eq!(f.git(&["branch", "--show-current"]), "0.12");
    assert_eq!(f.cargo_at("v0.12.0b1"), "0.12.0-beta.1");
    assert_eq!(f.cargo_at("0.12"), "0.12.0-beta.2");
    assert_eq!(f.git(&["merge-base", "rc", "0.12"]), f.git(&["rev-parse", "rc"]), "cut from rc");
    assert_eq!(f.git(&["rev-parse", "v0.12.0b1^{commit}"]), f.git(&["rev-parse", "0.12^"]));
    assert_eq!(f.version("pep440"), "0.12.0b2.dev1", "one beta ahead of what was released");
    f.git(&["checkout", "--quiet", "v0.12.0b1"]);
    assert_eq!(f.version("pep440"), "0.12.0b1");
    seen.push(f.version("rpm"));
    f.git(&["switch", "--quiet", "0.12"]);
    seen.push(f.version("rpm"));

    // A fix lands in master, is cherry-picked to rc, then from rc to the version branch.
    f.git(&["switch", "--quiet", "master"]);
    f.repo.write("app/src/fix.rs", "pub fn fixed() {}\n");
    let fix = f.repo.commit_all("Bug 7 - fix the crash");
    assert_eq!(f.version("pep440"), "0.13.0.dev2");
    f.git(&["switch", "--quiet", "0.12"]);
    let before = f.snapshot();
    let r = f.ty(&["release", "cherry-pick", &fix]);
    r.fails_with(2);
    says(&r, "is not on `rc`");
    assert_eq!(f.snapshot(), before, "a refused pick changes nothing");
    f.git(&["switch", "--quiet", "rc"]);
    f.ty(&["release", "cherry-pick", &fix]).ok();
    let on_rc = f.git(&["rev-parse", "rc"]);
    assert!(f.git(&["log", "-1", "--format=%b", "rc"]).contains(&format!("(cherry picked from commit {fix})")));
    f.git(&["switch", "--quiet", "0.12"]);
    f.ty(&["release", "cherry-pick", &on_rc]).ok();
    assert_eq!(f.git(&["log", "-1", "--format=%s", "0.12"]), "Bug 7 - fix the crash");
    assert_eq!(f.version("pep440"), "0.12.0b2.dev2");
    seen.push(f.version("rpm"));

    // Upstream picks are refused: rc into master, the version branch into rc.
    f.git(&["switch", "--quiet", "master"]);
    let before = f.snapshot();
    let r = f.ty(&["release", "cherry-pick", &on_rc]);
    r.fails_with(2);
    says(&r, "cherry-picks go downstream");
    assert_eq!(f.snapshot(), before);
    f.git(&["switch", "--quiet", "rc"]);
    let before = f.snapshot();
    let r = f.ty(&["release", "cherry-pick", &f.git(&["rev-parse", "0.12"])]);
    r.fails_with(2);
    says(&r, "is not on `master`");
    assert_eq!(f.snapshot(), before);

    // Second beta on the version branch, then a release candidate.
    f.git(&["switch", "--quiet", "0.12"]);
    f.ty(&["release", "beta"]).ok();
    assert_eq!(f.cargo_at("v0.12.0b2"), "0.12.0-beta.2");
    assert_eq!(f.cargo_at("0.12"), "0.12.0-beta.3");
    f.git(&["checkout", "--quiet", "v0.12.0b2"]);
    seen.push(f.version("rpm"));
    f.git(&["switch", "--quiet", "0.12"]);
    seen.push(f.version("rpm"));
    f.ty(&["release", "rc"]).ok();
    assert_eq!(f.cargo_at("v0.12.0rc1"), "0.12.0-rc.1");
    assert_eq!(f.cargo_at("0.12"), "0.12.0-rc.2");
    f.git(&["checkout", "--quiet", "v0.12.0rc1"]);
    seen.push(f.version("rpm"));
    f.git(&["switch", "--quiet", "0.12"]);
    assert_eq!(f.version("pep440"), "0.12.0rc2.dev1");
    seen.push(f.version("rpm"));

    // The release-branch flow's steps are refused here, with what to do instead.
    for args in [&["release", "start", "0.12"][..], &["release", "0.12"][..], &["release", "backport"][..]] {
        let before = f.snapshot();
        let r = f.ty(args);
        r.fails_with(2);
        says(&r, "release freeze");
        assert_eq!(f.snapshot(), before);
    }

    // A beta after a release candidate would go down.
    let before = f.snapshot();
    let r = f.ty(&["release", "beta"]);
    r.fails_with(2);
    says(&r, "the version would go down");
    assert_eq!(f.snapshot(), before);

    // The final, once its notes exist; then a fix.
    f.ty(&["release", "notes", "--message-file", &f.outside("ops", "Ops\n")]).ok();
    f.ty(&["release", "tag"]).ok();
    assert_eq!(f.cargo_at("v0.12.0"), "0.12.0");
    let notes = f.git(&["show", "v0.12.0:RELEASE.txt"]);
    assert!(notes.starts_with("0.12.0 - 2026-01-01\n"), "{notes}");
    f.git(&["checkout", "--quiet", "v0.12.0"]);
    assert_eq!(f.version("tag"), "v0.12.0");
    seen.push(f.version("rpm"));
    f.git(&["switch", "--quiet", "0.12"]);
    f.ty(&["release", "fix"]).ok();
    assert_eq!(f.cargo_at("0.12"), "0.12.1");
    assert_eq!(f.version("pep440"), "0.12.1.dev1");
    seen.push(f.version("rpm"));

    // Every version of the line, in the order it was made, is increasing for rpm.
    assert_eq!(
        seen,
        [
            "0.12.0~~dev3",
            "0.12.0~b1",
            "0.12.0~b2~~dev1",
            "0.12.0~b2~~dev2",
            "0.12.0~b2",
            "0.12.0~b3~~dev1",
            "0.12.0~rc1",
            "0.12.0~rc2~~dev1",
            "0.12.0",
            "0.12.1~~dev1"
        ]
    );
    assert_rpm_increasing(&seen);

    // Push: exactly the flow's branches and every version tag; an unrelated branch stays home.
    f.git(&["branch", "feature-x", "master"]);
    f.ty(&["release", "push"]).ok();
    let mut pushed = f.origin_refs();
    pushed.sort();
    assert_eq!(
        pushed,
        [
            "refs/heads/0.12",
            "refs/heads/master",
            "refs/heads/rc",
            "refs/tags/v0.11.0",
            "refs/tags/v0.12.0",
            "refs/tags/v0.12.0b1",
            "refs/tags/v0.12.0b2",
            "refs/tags/v0.12.0rc1"
        ]
    );
    for branch in ["master", "rc", "0.12"] {
        let mut c = command("git", &f.tmp.path);
        c.arg("--git-dir").arg(&f.origin).args(["rev-parse", &format!("refs/heads/{branch}")]);
        assert_eq!(run(c).ok(), f.git(&["rev-parse", branch]), "{branch} pushed as it is");
    }
    f.ty(&["release", "push"]).ok();

    // The next freeze merges master into the existing rc (the cherry-picked fix merges cleanly).
    f.git(&["switch", "--quiet", "master"]);
    f.ty(&["release", "freeze"]).ok();
    assert_eq!(f.cargo_at("rc"), "0.13.0");
    assert_eq!(f.cargo_at("master"), "0.14.0");
    assert_eq!(f.version("pep440"), "0.14.0.dev1");
    f.git(&["switch", "--quiet", "rc"]);
    assert_eq!(f.version("pep440"), "0.13.0.dev1", "the merge that froze 0.13 starts rc's train");
    assert!(f.git(&["merge-base", "--is-ancestor", &fix, "rc"]).is_empty());

    // A yum repository holding the line's dev, beta, rc and final: dnf installs the final.
    if !is_root("dnf --installroot") {
        return;
    }
    let repo_dir = f.tmp.path.join("yum");
    for v in ["0.12.0~~dev3", "0.12.0~b2~~dev2", "0.12.0~b1", "0.12.0~b2", "0.12.0~rc1", "0.12.0"] {
        f.rpm(&repo_dir, v);
    }
    run({
        let mut c = command("createrepo_c", &repo_dir);
        c.args(["--quiet", "."]);
        c
    })
    .ok();
    let root = f.tmp.path.join("root");
    let mut c = command("dnf", &repo_dir);
    c.args(["-y", "-q", "--releasever", "1", "--setopt=reposdir=/dev/null", "--disablerepo=*", "--nogpgcheck"])
        .arg(format!("--setopt=cachedir={}", f.tmp.path.join("cache").display()))
        .arg(format!("--installroot={}", root.display()))
        .arg(format!("--repofrompath=portal,file://{}", repo_dir.display()))
        .args(["--enablerepo=portal", "install", "portal"]);
    run(c).ok();
    let mut q = command("rpm", &f.tmp.path);
    q.arg(format!("--root={}", root.display())).args(["-q", "--qf", "%{VERSION}", "portal"]);
    assert_eq!(run(q).ok(), "0.12.0", "dnf picks the final over dev, beta and rc builds");
}

const V_PREFIX: &str = "tag-prefix = \"v\"\ndefault-branch = \"main\"\n";

/// A project tagged `v0.17.0`: the X.Y.Z line from its tags, through start, notes, tag, fix
/// and push; the dev RPM installed, then upgraded by the release RPM.
#[test]
fn a_v_prefixed_x_y_z_project_from_dev_build_to_fix() {
    let f = Fixture::new("vxyz", "main", "0.17.0", V_PREFIX);
    f.repo.tag("v0.17.0");
    f.repo.commits(3, "work");
    assert_eq!(f.version("pep440"), "0.18.0.dev3");
    assert_eq!(f.version("rpm"), "0.18.0~~dev3");

    // Bad inputs: each exits 2 and changes nothing.
    let before = f.snapshot();
    for (args, says_what) in [
        (&["release", "start", "0.18.0b1"][..], "is a beta, not a release"),
        (&["release", "start", "0.17"][..], "the version would go down"),
        (&["release", "start", "0.18.dev1"][..], "not a release"),
        (&["release", "freeze"][..], "belongs to the rc-beta flow"),
    ] {
        let r = f.ty(args);
        r.fails_with(2);
        says(&r, says_what);
        assert_eq!(f.snapshot(), before, "{args:?} changed something");
    }

    // `release start 0.18` is 0.18.0 on this line.
    f.ty(&["release", "start", "0.18"]).ok();
    assert_eq!(f.git(&["branch", "--show-current"]), "0.18-release");
    assert_eq!(f.cargo_at("0.18-release"), "0.18.0");
    assert_eq!(f.cargo_at("main"), "0.19.0");
    assert_eq!(f.version("pep440"), "0.18.0.dev1");
    let dev = f.version("rpm");
    let dev_rpm = f.build_rpm("dev", &dev);
    f.git(&["switch", "--quiet", "main"]);
    assert_eq!(f.version("pep440"), "0.19.0.dev1", "the commit that started the train is .dev1");
    f.git(&["switch", "--quiet", "0.18-release"]);

    f.ty(&["release", "notes", "--message-file", &f.outside("ops", "Ops\n")]).ok();
    f.ty(&["release", "tag"]).ok();
    assert_eq!(f.git(&["tag", "--points-at", "HEAD"]), "v0.18.0");
    assert!(f.git(&["show", "HEAD:RELEASE.txt"]).starts_with("0.18.0 - 2026-01-01\n"));
    let release = f.version("rpm");
    assert_eq!(release, "0.18.0");
    let release_rpm = f.build_rpm("prod", &release);
    assert_rpm_increasing(&["0.17.0".into(), dev.clone(), release.clone()]);

    f.ty(&["release", "fix"]).ok();
    assert_eq!(f.cargo_at("HEAD"), "0.18.1");
    assert_eq!(f.version("pep440"), "0.18.1.dev1");

    // A fix of the previous line finds v0.17.0: the whole path's plan, then the step.
    f.git(&["branch", "0.17-release", "v0.17.0"]);
    f.git(&["switch", "--quiet", "0.17-release"]);
    let before = f.snapshot();
    let plan = f.ty(&["release", "0.17.1", "--dry-run", "--message-file", &f.outside("ops2", "Ops\n")]);
    plan.ok();
    for needle in ["release 0.17.1: version 0.17.1", "release 0.17.1: RELEASE.txt", "v0.17.1"] {
        says(&plan, needle);
    }
    assert_eq!(f.snapshot(), before);
    f.ty(&["release", "fix"]).ok();
    assert_eq!(f.cargo_at("HEAD"), "0.17.1");
    assert_eq!(f.version("pep440"), "0.17.1.dev1");

    f.ty(&["release", "push"]).ok();
    let mut pushed = f.origin_refs();
    pushed.sort();
    assert_eq!(
        pushed,
        [
            "refs/heads/0.17-release",
            "refs/heads/0.18-release",
            "refs/heads/main",
            "refs/tags/v0.17.0",
            "refs/tags/v0.18.0"
        ]
    );

    // rpm -U: the dev build installed, then the release upgrades it.
    if !is_root("rpm -U into a root") {
        return;
    }
    let root = f.tmp.path.join("root");
    let rpm = |args: &[&str], file: Option<&Path>| {
        let mut c = command("rpm", &f.tmp.path);
        c.arg(format!("--root={}", root.display())).args(args);
        if let Some(file) = file {
            c.arg(file);
        }
        run(c)
    };
    std::fs::create_dir_all(&root).unwrap();
    rpm(&["--initdb"], None).ok();
    rpm(&["-U", "--nodeps"], Some(&dev_rpm)).ok();
    assert_eq!(rpm(&["-q", "--qf", "%{VERSION}", "portal"], None).ok(), "0.18.0~~dev1");
    rpm(&["-U", "--nodeps"], Some(&release_rpm)).ok();
    assert_eq!(rpm(&["-q", "--qf", "%{VERSION}", "portal"], None).ok(), "0.18.0");
}

/// `version-scheme = "next-patch"`: the dev-release process's numbering (`1.2.3` + 5 -> `1.2.4.dev5`).
#[test]
fn next_patch_scheme_counts_to_the_next_patch() {
    let f = Fixture::new("patch", "main", "1.2.3", "tag-prefix = \"v\"\nversion-scheme = \"next-patch\"\n");
    f.repo.tag("v1.2.3");
    f.repo.commits(5, "work");
    assert_eq!(f.version("pep440"), "1.2.4.dev5");
    assert_eq!(f.version("rpm"), "1.2.4~~dev5");
}

/// Tags that look like versions under another prefix: a warning naming them and the fix.
#[test]
fn tags_that_do_not_match_the_prefix_are_named() {
    let f = Fixture::new("prefix", "main", "0.17.0", "");
    f.repo.tag("v0.16.0");
    f.repo.commits(1, "work");
    f.repo.tag("v0.17.0");
    f.repo.commits(2, "work");
    let r = f.ty(&["version"]);
    r.ok();
    says(&r, "no tag starts with the tag prefix `rpm-`");
    says(&r, "v0.17.0");
    says(&r, "tag-prefix = \"v\"");
    // With the prefix set, the tags count and the warning is gone.
    write_manifest(&f.repo, "0.17.0", "tag-prefix = \"v\"\n");
    f.repo.commit_all("tag-prefix");
    let r = f.ty(&["version"]);
    assert_eq!(r.ok(), "0.18.0.dev3");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// A repository without tags refuses an X.Y.Z start it cannot remember, unless configured.
#[test]
fn an_x_y_z_start_without_tags_needs_the_configuration() {
    let f = Fixture::new("noprec", "main", "0.1.0", "tag-prefix = \"v\"\n");
    let before = f.snapshot();
    let r = f.ty(&["release", "start", "0.1.0"]);
    r.fails_with(2);
    says(&r, "version-precision = \"X.Y.Z\"");
    assert_eq!(f.snapshot(), before);
    write_manifest(&f.repo, "0.1.0", "tag-prefix = \"v\"\nversion-precision = \"X.Y.Z\"\n");
    f.repo.commit_all("X.Y.Z line");
    f.ty(&["release", "start", "0.1"]).ok();
    assert_eq!(f.cargo_at("main"), "0.2.0");
    // Cargo.toml has said 0.1.0 since the first commit: the train started there.
    assert_eq!(f.version("pep440"), "0.1.0.dev2");
    assert_eq!(f.version("rpm"), "0.1.0~~dev2");
}

/// Stage and prod refuse betas and release candidates unless `--allow-prerelease`; the dev
/// channel (the testing channel) takes them.
#[test]
fn publishing_a_beta_needs_the_testing_channel_or_allow_prerelease() {
    let f = Fixture::new("prepub", "main", "0.12.0", V_PREFIX);
    let collection = f.tmp.path.join("collection");
    f.rpm(&collection, "0.12.0~b1");
    list_as_collection(&collection);
    let repos = f.tmp.path.join("repos");
    let (c, r) = (collection.to_str().unwrap(), repos.to_str().unwrap());
    for channel in ["RPM_CHANNEL=prod", "RPM_CHANNEL=stage"] {
        let refused = f.ty(&["release", "publish", "--from", c, "--repo-dir", r, channel]);
        refused.fails_with(2);
        says(&refused, "refusing to publish betas and release candidates");
        says(&refused, "portal-0.12.0~b1-1.noarch");
        says(&refused, "RPM_CHANNEL=dev");
        says(&refused, "--allow-prerelease");
    }
    assert!(!repos.exists(), "a refused publish writes nothing");
    f.ty(&["release", "publish", "--from", c, "--repo-dir", r, "RPM_CHANNEL=dev"]).ok();
    f.ty(&["release", "publish", "--from", c, "--repo-dir", r, "RPM_CHANNEL=stage", "--allow-prerelease"]).ok();
    assert!(repos.join("stage/repodata/repomd.xml").is_file());
    // A dev build stays refused, --allow-prerelease or not.
    let dev = f.tmp.path.join("dev");
    f.rpm(&dev, "0.12.0~b2~~dev3");
    list_as_collection(&dev);
    let refused = f.ty(&["release", "publish", "--from", dev.to_str().unwrap(), "--repo-dir", r, "--allow-prerelease"]);
    refused.fails_with(2);
    says(&refused, "refusing to publish development builds to the prod repository");
}

/// A freeze whose merge into rc would conflict stops before anything moves.
#[test]
fn a_freeze_that_would_conflict_changes_nothing() {
    let f = Fixture::new("freezeconflict", "master", "0.12.0", RC_BETA);
    f.ty(&["release", "freeze"]).ok();
    f.git(&["switch", "--quiet", "rc"]);
    f.repo.write("notes.txt", "fixed on rc\n");
    f.repo.commit_all("hotfix on rc");
    f.git(&["switch", "--quiet", "master"]);
    f.repo.write("notes.txt", "changed on master\n");
    f.repo.commit_all("feature on master");
    let before = f.snapshot();
    let r = f.ty(&["release", "freeze"]);
    r.fails_with(2);
    says(&r, "merging `master` into `rc` conflicts");
    says(&r, "git switch rc && git merge master");
    assert_eq!(f.snapshot(), before);
}
