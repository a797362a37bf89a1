//! CI pipelines calling trainyard: the push/tag race end to end with no CI variables
//! (`--trigger` on build_rpms and release publish), then `ci plan` / `ci` reading GitHub's and
//! GitLab's events and publishing what the event allows.

#[path = "support/git.rs"]
mod git_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use git_support::{command, run, Repo, Run, TempDir};

const EPOCH: &str = "1767225600";

struct Fixture {
    repo: Repo,
    tmp: TempDir,
}

impl Fixture {
    /// A workspace `portal` (one packaged member `app` that prints its version), on `main`.
    fn new(label: &str, config: &str) -> Fixture {
        let repo = Repo::init(label, "main");
        let tmp = TempDir::new(&format!("{label}-aux"));
        repo.write(
            "Cargo.toml",
            &format!(
                "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"1.3.0\"\nedition = \"2021\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\n{config}"
            ),
        );
        repo.write(
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\nlicense = \"MIT\"\ndescription = \"The portal service\"\n\n[package.metadata.trainyard.rpm]\nname = \"portal\"\n",
        );
        repo.write(
            "app/src/main.rs",
            "fn main() {\n    println!(\"portal {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n}\n",
        );
        repo.write(".gitignore", "/target\n");
        for channel in ["prod", "stage", "dev"] {
            repo.write(&format!("reqs/{channel}-reqs.txt"), "");
        }
        let mut cargo = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()), &repo.dir);
        cargo.args(["generate-lockfile", "--quiet", "--offline"]).env_remove("CARGO_TARGET_DIR");
        run(cargo).ok();
        repo.commit_all("initial import");
        repo.tag("rpm-1.2");
        repo.commits(2, "feature");
        Fixture { repo, tmp }
    }

    fn ty_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env("SOURCE_DATE_EPOCH", EPOCH).env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL");
        cmd.envs(env.iter().copied());
        run(cmd)
    }

    fn ty(&self, args: &[&str]) -> Run {
        self.ty_env(args, &[])
    }

    fn repo_dir(&self) -> PathBuf {
        self.tmp.path.join("repos")
    }

    /// The version of the one `portal` RPM in `target/rpms/<channel>`.
    fn portal_version(&self, channel: &str) -> String {
        let dir = self.repo.dir.join("target/rpms").join(channel);
        let rpm = portal_rpm(&dir);
        rpm_query(&rpm, "%{VERSION}")
    }
}

fn portal_rpm(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("portal-"))
        .collect();
    assert_eq!(found.len(), 1, "one portal RPM in {}: {found:?}", dir.display());
    found[0].clone()
}

fn rpm_query(rpm: &Path, format: &str) -> String {
    let mut q = Command::new("rpm");
    q.args(["-qp", "--nosignature", "--qf", format]).arg(rpm);
    let out = q.output().expect("rpm");
    assert!(out.status.success(), "rpm -qp {}: {}", rpm.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// rpm's own comparison of two version texts (`rpm.vercmp`).
fn rpm_vercmp(a: &str, b: &str) -> i32 {
    let mut c = Command::new("rpm");
    c.arg("--eval").arg(format!("%{{lua: print(rpm.vercmp('{a}', '{b}'))}}"));
    let out = c.output().expect("rpm");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn says(run: &Run, needle: &str) {
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains(needle), "expected {needle:?} in:\n{all}");
}

/// The reference text's race, outside any CI: a push build of a commit that was just tagged
/// gives a dev version below the release; only a tag build gives the release; a publish refuses
/// a version its trigger does not allow.
#[test]
fn push_build_of_a_just_tagged_commit_is_a_dev_version_below_the_release() {
    let f = Fixture::new("race", "");
    f.repo.tag("rpm-1.3");

    f.ty(&["build_rpms", "RPM_CHANNEL=dev", "--trigger", "push", "--no-deps"]).ok();
    let dev = f.portal_version("dev");
    assert!(dev.starts_with("1.3~~dev"), "a push build ignores the tag on HEAD: {dev}");
    assert_eq!(rpm_vercmp(&dev, "1.3"), -1, "rpm must sort {dev} below 1.3");
    assert_eq!(rpm_vercmp(&dev, "1.2"), 1, "rpm must sort {dev} above 1.2");
    // The binary carries the same version (Cargo's rendering).
    let built = f.repo.dir.join("target/release/app");
    let out = Command::new(&built).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(printed.starts_with("portal 1.3.0-0.dev."), "{printed}");

    f.ty(&["build_rpms", "RPM_CHANNEL=prod", "--trigger", "tag", "--no-deps"]).ok();
    assert_eq!(f.portal_version("prod"), "1.3");
    // Without a trigger and without CI, a tagged commit is its release (setuptools_scm's rule).
    f.ty(&["build_rpms", "RPM_CHANNEL=stage", "--no-deps"]).ok();
    assert_eq!(f.portal_version("stage"), "1.3");

    // Publishing: each trigger only its own version.
    let repos = f.repo_dir();
    let repos = repos.to_str().unwrap();
    let dev_dir = f.repo.dir.join("target/rpms/dev");
    let prod_dir = f.repo.dir.join("target/rpms/prod");
    let refused = f.ty(&[
        "release",
        "publish",
        "--from",
        dev_dir.to_str().unwrap(),
        "--repo-dir",
        repos,
        "RPM_CHANNEL=dev",
        "--trigger",
        "tag",
    ]);
    let err = refused.fails_with(2);
    assert!(err.contains(&format!("refusing to publish {dev}")) && err.contains("only 1.3"), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert!(!Path::new(repos).exists(), "a refused publish writes nothing");
    let refused = f.ty(&[
        "release",
        "publish",
        "--from",
        prod_dir.to_str().unwrap(),
        "--repo-dir",
        repos,
        "RPM_CHANNEL=prod",
        "--trigger",
        "push",
    ]);
    let err = refused.fails_with(2);
    assert!(err.contains("refusing to publish 1.3") && err.contains(&format!("only {dev}")), "{err}");
    // A GitHub push event decides the same with no flag (auto).
    let github_push = [("GITHUB_ACTIONS", "true"), ("GITHUB_REF", "refs/heads/main"), ("GITHUB_REF_NAME", "main")];
    let args = ["release", "publish", "--from", prod_dir.to_str().unwrap(), "--repo-dir", repos, "RPM_CHANNEL=prod"];
    f.ty_env(&args, &github_push).fails_with(2);
    assert!(!Path::new(repos).exists(), "a refused publish writes nothing");

    let args = ["release", "publish", "--from", dev_dir.to_str().unwrap(), "--repo-dir", repos, "RPM_CHANNEL=dev"];
    let published = f.ty(&[&args[..], &["--trigger", "push"]].concat());
    says(&published, &format!("portal-{dev}-1"));
    let args = ["release", "publish", "--from", prod_dir.to_str().unwrap(), "--repo-dir", repos, "RPM_CHANNEL=prod"];
    let published = f.ty(&[&args[..], &["--trigger", "tag"]].concat());
    says(&published, "portal-1.3-1");
    assert!(Path::new(repos).join("prod/repodata/repomd.xml").is_file());
}

#[test]
fn bad_trigger_is_bad_input() {
    let f = Fixture::new("badtrigger", "");
    for target in [&["build_rpms"][..], &["build"], &["mock"], &["release", "publish", "--from", "x"]] {
        let r = f.ty(&[target, &["--trigger", "cron", "--dry-run"]].concat());
        let err = r.fails_with(2);
        assert!(err.contains("unknown trigger `cron`") && err.contains("help:"), "{target:?}: {err}");
    }
    // A tag build of an untagged commit fails before anything is built.
    let err = f.ty(&["build_rpms", "--trigger", "tag", "--no-deps"]).fails_with(1).to_string();
    assert!(err.contains("carries no release tag"), "{err}");
    assert!(!f.repo.dir.join("target/rpms").exists());
}
