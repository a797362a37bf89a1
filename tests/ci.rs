//! CI pipelines calling trainyard: the push/tag race end to end with no CI variables
//! (`--trigger` on build_rpms and release publish), then `ci plan` / `ci` reading GitHub's and
//! GitLab's events and publishing what the event allows.

use crate::support::git as git_support;
use crate::support::portal::{self, Made, Portal};

use crate::support::workspace as workspace_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::rpm::rpm_vercmp;
use git_support::{command, is_root, run, says, Repo, Run, TempDir};

const EPOCH: &str = "1767225600";

struct Fixture {
    repo: Repo,
    tmp: TempDir,
}

impl Fixture {
    /// A workspace `portal` (one packaged member `app` that prints its version), on `main`.
    fn new(label: &str, config: &str) -> Fixture {
        let Made { repo, tmp, .. } = Portal {
            manifest: portal::manifest("1.3.0", config),
            description: true,
            leftpad: &[],
            main_rs: "fn main() {\n    println!(\"portal {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n}\n",
            reqs: [Some(""), Some(""), Some("")],
            ..Portal::default()
        }
        .make(label);
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

const NO_MOCK: &str = "\n[workspace.metadata.trainyard.ci]\nmock = false\n";

fn github(event: &str, reference: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", event.to_string()),
        ("GITHUB_REF", reference.to_string()),
        ("GITHUB_REF_NAME", reference.rsplit('/').next().unwrap().to_string()),
    ]
}

impl Fixture {
    fn ci(&self, args: &[&str], env: &[(&'static str, String)]) -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.ty_env(&[&["ci"][..], args].concat(), &env)
    }

    fn published(&self, channel: &str) -> Vec<String> {
        let dir = self.repo.dir.join("target/trainyard/repos").join(channel);
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".rpm"))
            .collect();
        names.sort();
        names
    }

    fn plan_json(&self, env: &[(&'static str, String)], args: &[&str]) -> serde_json::Value {
        let run = self.ci(&[&["plan", "--format", "json"][..], args].concat(), env);
        serde_json::from_str(run.ok()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }
}

/// `dnf` reads the channel's repository and lists exactly `names`.
fn dnf_lists(repo: &Path, names: &[&str]) {
    let cache = TempDir::new("ci-dnf-cache");
    let mut c = Command::new("dnf");
    c.args(["-q", "--disablerepo=*", "--setopt=reposdir=/dev/null"])
        .arg(format!("--setopt=cachedir={}", cache.path.display()))
        .arg(format!("--repofrompath=ty,{}", repo.display()))
        .args(["--enablerepo=ty", "--setopt=ty.gpgcheck=0", "repoquery", "--qf", "%{name}-%{version}-%{release}\n"]);
    let out = c.output().expect("dnf");
    assert!(out.status.success(), "dnf repoquery {}: {}", repo.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut listed: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed, names, "{}", repo.display());
}

/// GitHub events end to end: a push to the default branch publishes nothing (even on a commit
/// just tagged), a feature branch's push publishes a dev version to the dev channel, the tag's
/// event publishes the release to prod.
#[test]
fn github_events_publish_what_they_allow() {
    let f = Fixture::new("ci-github", NO_MOCK);
    f.repo.tag("rpm-1.3");

    // The push build racing the tag build: the default branch releases nothing.
    let push_main = github("push", "refs/heads/main");
    let plan = f.plan_json(&push_main, &[]);
    assert_eq!(plan["action"], "nothing");
    assert_eq!(plan["commands"], serde_json::json!([]));
    let run = f.ci(&[], &push_main);
    run.ok();
    says(&run, "releases nothing");
    assert!(!f.repo.dir.join("target/rpms").exists() && !f.repo.dir.join("target/trainyard/repos").exists());

    // The tag's own build publishes the release.
    let tag = github("push", "refs/tags/rpm-1.3");
    let plan = f.plan_json(&tag, &[]);
    assert_eq!(plan["action"], "release");
    assert_eq!(plan["version"], "1.3");
    assert_eq!(plan["channel"], "prod");
    assert_eq!(plan["image_tags"], serde_json::json!(["1.3"]));
    f.ci(&[], &tag).ok();
    let arch = std::env::consts::ARCH;
    assert!(f.published("prod").contains(&format!("portal-1.3-1.{arch}.rpm")), "{:?}", f.published("prod"));
    assert!(f.published("dev").is_empty());
    dnf_lists(&f.repo.dir.join("target/trainyard/repos/prod"), &["portal-1.3-1"]);

    // A feature branch: a dev version above the release, in the dev channel only.
    f.repo.checkout_new("feature/Login_Form");
    f.repo.commits(1, "login");
    let push_feature = github("push", "refs/heads/feature/Login_Form");
    let plan = f.plan_json(&push_feature, &[]);
    assert_eq!(plan["action"], "dev-release");
    assert_eq!(plan["channel"], "dev");
    assert_eq!(plan["image_tags"], serde_json::json!(["feature-login_form"]));
    let rpm_version = plan["rpm_version"].as_str().unwrap().to_string();
    assert!(rpm_version.starts_with("1.4~~dev"), "{rpm_version}");
    let shell: Vec<String> =
        plan["shell"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert_eq!(
        shell,
        [
            "trainyard build_rpms RPM_CHANNEL=dev --trigger push",
            "trainyard release publish --from target/rpms/dev --repo-dir target/trainyard/repos RPM_CHANNEL=dev --trigger push",
            "trainyard image RPM_CHANNEL=dev --trigger push --tag feature-login_form",
        ]
    );
    // The run does what its dry-run printed: one part per command, each planned when it runs.
    let env: Vec<(&str, &str)> =
        push_feature.iter().map(|(k, v)| (*k, v.as_str())).chain([("SOURCE_DATE_EPOCH", EPOCH)]).collect();
    let (dry, _, executed) = workspace_support::dry_run_equals_run(&f.repo.dir, &["ci"], &env);
    assert!(dry.stdout.contains("would later: ci step 1/3: trainyard build_rpms RPM_CHANNEL=dev"), "{}", dry.stdout);
    assert!(executed.iter().any(|l| l.starts_with("later: ci step 3/3: trainyard image")), "{executed:?}");
    assert!(executed.len() > 3, "the steps' own actions are recorded: {executed:?}");
    assert_eq!(f.published("dev"), [format!("portal-{rpm_version}-1.{arch}.rpm")]);
    assert_eq!(rpm_vercmp(&rpm_version, "1.3"), 1);
    dnf_lists(&f.repo.dir.join("target/trainyard/repos/dev"), &[&format!("portal-{rpm_version}-1")]);
    // Both runs built an image: the release's tag and the branch's, side by side in one layout.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.repo.dir.join("target/images/portal/index.json")).unwrap())
            .unwrap();
    let mut names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["1.3", "feature-login_form"]);
    assert_eq!(f.published("prod").len(), 1, "the dev release leaves prod alone");

    // A pull request never publishes.
    let pr = vec![
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "pull_request".to_string()),
        ("GITHUB_REF", "refs/pull/7/merge".to_string()),
        ("GITHUB_HEAD_REF", "feature/Login_Form".to_string()),
    ];
    assert_eq!(f.plan_json(&pr, &[])["action"], "nothing");
}

/// Any other CI: the event by hand; GitLab's variables; the configuration; dry runs and bad input.
#[test]
fn events_by_hand_gitlab_configuration_and_bad_input() {
    let f = Fixture::new(
        "ci-hand",
        "\n[workspace.metadata.trainyard.ci]\ndefault-branch-push = \"dev-release\"\ntag-channel = \"stage\"\n\
         image-base = \"base:libc\"\nimage-repository = \"127.0.0.1:5000/portal\"\nimage-insecure = true\n",
    );
    let before = f.repo.git(&["status", "--porcelain", "--untracked-files=all"]);

    // default-branch-push = "dev-release": the default branch releases dev versions.
    let text = f.ci(&["plan", "--event", "push", "--ref", "refs/heads/main"], &[]);
    says(&text, "action: dev-release");
    says(&text, "version: 1.3.dev3 (rpm 1.3~~dev3)");
    says(&text, "image tags: main");
    says(&text, "trainyard mock RPM_CHANNEL=dev --trigger push");
    says(
        &text,
        "trainyard image RPM_CHANNEL=dev --trigger push --tag main --base base:libc --push 127.0.0.1:5000/portal --insecure",
    );
    // A dry run prints the plan and runs nothing: each command is a part planned when the ones
    // before it have run.
    let dry = f.ci(&["--dry-run", "--event", "push", "--ref", "refs/heads/main"], &[]);
    dry.ok();
    says(&dry, "would later: ci step 1/");
    says(&dry, ": trainyard build_rpms RPM_CHANNEL=dev --trigger push");
    assert!(!dry.stderr.contains("trainyard ci: ["), "a dry run ran a step: {}", dry.stderr);
    assert!(!f.repo.dir.join("target/rpms").exists());

    // A tag event whose tag is not on HEAD fails before anything runs.
    f.repo.tag("rpm-1.3");
    f.repo.commits(1, "after");
    let err = f.ci(&["plan", "--event", "tag", "--ref", "rpm-1.3"], &[]).fails_with(1).to_string();
    assert!(err.contains("carries no release tag") || err.contains("HEAD carries"), "{err}");
    f.repo.checkout("rpm-1.3");
    // tag-channel = "stage": the stage collection goes to stage.
    let gitlab = vec![("GITLAB_CI", "true".to_string()), ("CI_COMMIT_TAG", "rpm-1.3".to_string())];
    let plan = f.plan_json(&gitlab, &[]);
    assert_eq!(plan["event"]["system"], "GitLab CI");
    assert_eq!((plan["action"].as_str(), plan["channel"].as_str()), (Some("release"), Some("stage")));
    let shell = plan["shell"].to_string();
    assert!(shell.contains("release publish --from target/rpms/stage --repo-dir target/trainyard/repos RPM_CHANNEL=stage --trigger tag"), "{shell}");
    // A tag that is not a release tag publishes nothing.
    let docs = vec![("GITLAB_CI", "true".to_string()), ("CI_COMMIT_TAG", "docs-2".to_string())];
    assert_eq!(f.plan_json(&docs, &[])["action"], "nothing");

    for (args, needle) in [
        (&["plan"][..], "no CI event"),
        (&["plan", "--event", "merge", "--ref", "refs/heads/x"], "unknown event `merge`"),
        (&["plan", "--event", "push"], "--event needs the ref"),
        (&["plan", "--event", "push", "--ref", "refs/tags/rpm-1.3"], "does not go with"),
        (&["plan", "--ref=-x"], "--ref"),
        (&["plan", "--format", "yaml", "--event", "push", "--ref", "main"], "unknown format `yaml`"),
        (&["deploy"], "unknown ci command `deploy`"),
        (&["generate", "jenkins"], "unknown CI system `jenkins`"),
        (&["generate"], "needs the CI system"),
        (&["plan", "--check", "--event", "push", "--ref", "main"], "--check is an option of `ci generate`"),
        (&["generate", "github", "--event", "push"], "not of `ci generate`"),
    ] {
        let run = f.ci(args, &[]);
        let err = run.fails_with(2);
        assert!(err.contains(needle) && err.contains("help:"), "{args:?}: {err}");
        if args[0] == "generate" {
            // The help is a command to run: it names the program, as every other help does.
            assert!(err.contains("help: trainyard ci generate github"), "{args:?}: {err}");
            let both = args.len() <= 2;
            assert!(!both || err.contains("or trainyard ci generate gitlab"), "{args:?}: {err}");
        }
    }
    assert_eq!(f.repo.git(&["status", "--porcelain", "--untracked-files=all"]), before, "nothing changed");
    let help = f.ci(&["--help"], &[]);
    says(&help, "push to the default branch");
    says(&help, "--event EVENT");
}

/// A YAML file as JSON, read by PyYAML (no YAML crate in the graph).
fn yaml(path: &Path) -> serde_json::Value {
    let mut c = Command::new("python3");
    c.args(["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"]).arg(path);
    let out = c.output().expect("python3");
    assert!(
        out.status.success(),
        "{} is not valid YAML (or PyYAML is missing: pip install pyyaml): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `ci generate github|gitlab`: valid YAML running exactly the pipeline `ci plan` documents,
/// least privilege, a concurrency group per ref, secrets from the store, caches; `--check`.
#[test]
fn generated_workflows_parse_and_check() {
    let f = Fixture::new("ci-generate", "tag-prefix = \"v\"\n");
    let plan = f.plan_json(&[], &["--event", "push", "--ref", "refs/heads/feature/x"]);
    let pipeline: Vec<String> =
        plan["pipeline"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert_eq!(pipeline, ["cargo xtask ci plan", "cargo xtask ci"]);

    // GitHub.
    let gh = f.repo.dir.join(".github/workflows/trainyard.yml");
    f.ci(&["generate", "github", "--check"], &[]).fails_with(1);
    let dry = f.ci(&["generate", "github", "--dry-run"], &[]);
    says(&dry, "would write: ");
    says(&dry, ".github/workflows/trainyard.yml (");
    assert!(!gh.exists(), "--dry-run writes nothing");
    f.ci(&["generate", "github"], &[]).ok();
    let w = yaml(&gh);
    // PyYAML reads the key `on` as YAML 1.1's boolean true; GitHub reads it as `on`.
    let on = w.get("on").or_else(|| w.get("true")).expect("on:");
    assert_eq!(on["push"]["tags"], serde_json::json!(["v*"]));
    assert_eq!(on["push"]["branches"], serde_json::json!(["**"]));
    assert_eq!(w["permissions"], serde_json::json!({"contents": "read"}));
    assert!(w["concurrency"]["group"].as_str().unwrap().contains("${{ github.ref }}"));
    assert_eq!(w["concurrency"]["cancel-in-progress"], false);
    let job = &w["jobs"]["ci"];
    for (name, value) in job["env"].as_object().unwrap() {
        let value = value.as_str().unwrap();
        if name.contains("PASSWORD") || name.contains("USER") || name.contains("TOKEN") {
            assert_eq!(value, format!("${{{{ secrets.{name} }}}}"), "{name} comes from the secret store");
        }
    }
    let steps = job["steps"].as_array().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).filter(|r| r.contains("xtask")).collect();
    assert_eq!(runs, pipeline, "the workflow runs exactly what `ci plan` documents");
    let checkout =
        steps.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout"))).unwrap();
    assert_eq!(checkout["with"]["fetch-depth"], 0, "dev versions count commits: the whole history");
    let cache = steps.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/cache"))).unwrap();
    let paths = cache["with"]["path"].as_str().unwrap();
    assert!(paths.contains("~/.cargo/registry") && paths.lines().any(|l| l.trim() == "target"), "{paths}");
    f.ci(&["generate", "github", "--check"], &[]).ok();
    let mut text = std::fs::read_to_string(&gh).unwrap();
    text = text.replace("contents: read", "contents: write");
    std::fs::write(&gh, &text).unwrap();
    let err = f.ci(&["generate", "github", "--check"], &[]).fails_with(1).to_string();
    assert!(err.contains("differs") && err.contains("help:"), "{err}");
    assert_eq!(std::fs::read_to_string(&gh).unwrap(), text, "--check changes nothing");
    f.ci(&["generate", "github"], &[]).ok();
    f.ci(&["generate", "github", "--check"], &[]).ok();

    // GitLab.
    let gl = f.repo.dir.join(".gitlab-ci.yml");
    f.ci(&["generate", "gitlab"], &[]).ok();
    let w = yaml(&gl);
    let job = &w["trainyard"];
    let script: Vec<&str> = job["script"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(script, pipeline);
    assert!(job["resource_group"].as_str().unwrap().contains("$CI_COMMIT_REF_SLUG"));
    let paths = job["cache"]["paths"].to_string();
    assert!(paths.contains("registry") && paths.contains("\"target\""), "{paths}");
    assert_eq!(w["variables"]["GIT_DEPTH"], "0");
    let rules = w["workflow"]["rules"].to_string();
    assert!(rules.contains("CI_COMMIT_TAG") && !rules.contains("merge_request_event"), "{rules}");
    f.ci(&["generate", "gitlab", "--check"], &[]).ok();
    std::fs::write(&gl, std::fs::read_to_string(&gl).unwrap() + "# edited\n").unwrap();
    f.ci(&["generate", "gitlab", "--check"], &[]).fails_with(1);
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's `docker-registry` serving from a temporary directory on 127.0.0.1; killed on drop.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: TempDir,
}

impl Registry {
    fn start() -> Option<Registry> {
        if Command::new("docker-registry").arg("--version").output().is_err() {
            eprintln!("NOTICE: skipping the registry push: docker-registry is not installed (apt-get install docker-registry)");
            return None;
        }
        let dir = TempDir::new("ci-registry");
        let port = free_port();
        let config = dir.path.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path.join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Registry { child, port, _dir: dir });
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child.kill().ok();
        child.wait().ok();
        panic!("docker-registry did not listen on 127.0.0.1:{port}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Images of a tag and of a feature branch: inspected with skopeo, unpacked with umoci, the
/// program run from the unpacked root printing the computed version, pushed to a registry on
/// 127.0.0.1 and pulled back with the same layer.
#[test]
fn images_of_a_tag_and_a_branch_inspected_unpacked_pushed_and_pulled() {
    let f = Fixture::new("ci-image", "");
    f.repo.tag("rpm-1.3");
    let layout = f.repo.dir.join("target/images/portal");
    let layout_s = layout.to_str().unwrap().to_string();

    // --dry-run: the plan, nothing written.
    let dry = f.ty(&["image", "--trigger", "tag", "--dry-run"]);
    dry.ok();
    says(&dry, "tagged 1.3");
    assert!(!layout.exists());

    // The run does what its dry-run printed, from the image's part on (the collection's part is
    // build_rpms's, checked by its own tests): the image is planned from the RPMs the run made.
    let record = f.tmp.path.join("image-record");
    let record_s = record.to_str().unwrap().to_string();
    f.ty_env(&["image", "--trigger", "tag"], &[("TRAINYARD_TEST_RECORD", &record_s)]).ok();
    let from_image = |lines: Vec<String>| -> Vec<String> {
        lines.into_iter().skip_while(|l| !l.starts_with("later: the image of portal 1.3")).collect()
    };
    let planned = from_image(dry.stdout.lines().filter_map(|l| l.strip_prefix("would ")).map(String::from).collect());
    let executed = from_image(std::fs::read_to_string(&record).unwrap().lines().map(String::from).collect());
    assert!(!planned.is_empty() && workspace_support::plan_matches(&planned, &executed), "{planned:?}\n{executed:?}");
    assert!(
        executed.iter().any(|l| l.starts_with("write: ") && l.contains("images/portal/index.json (")),
        "{executed:?}"
    );
    f.repo.checkout_new("feature/Img");
    f.repo.commits(1, "image");
    f.ty(&["image", "RPM_CHANNEL=dev", "--trigger", "push"]).ok();
    let dev_semver = f.ty(&["version", "--trigger", "push", "--format", "semver"]).ok().to_string();
    assert!(dev_semver.starts_with("1.4.0-0.dev."), "{dev_semver}");

    for (tag, version, semver) in [("1.3", "1.3", "1.3.0".to_string()), ("feature-img", "", dev_semver.clone())] {
        let inspect: serde_json::Value =
            serde_json::from_str(&tool("skopeo", &["inspect", &format!("oci:{layout_s}:{tag}")])).unwrap();
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1, "{inspect}");
        assert_eq!(inspect["Os"], "linux");
        if !version.is_empty() {
            assert_eq!(inspect["Labels"]["org.opencontainers.image.version"], version);
        }
        let config: serde_json::Value =
            serde_json::from_str(&tool("skopeo", &["inspect", "--config", &format!("oci:{layout_s}:{tag}")])).unwrap();
        assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/usr/bin/app"]), "{config}");
        assert_eq!(config["created"], "2026-01-01T00:00:00Z", "timestamps are the source date");

        let bundle = f.tmp.path.join(format!("bundle-{tag}"));
        tool("umoci", &["unpack", "--image", &format!("{layout_s}:{tag}"), bundle.to_str().unwrap()]);
        let program = bundle.join("rootfs/usr/bin/app");
        let out = Command::new(&program).output().unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("portal {semver}"));
        let meta = std::fs::metadata(&program).unwrap();
        assert!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0);
    }

    // Bad input: exit 2, nothing pushed.
    for (args, needle) in [
        (&["image", "--tag=-x"][..], "not a container tag"),
        (&["image", "--push", "docker://x/y"], "not REGISTRY/REPOSITORY"),
        (&["image", "--insecure"], "--insecure goes with --push"),
    ] {
        let err = f.ty(args).fails_with(2).to_string();
        assert!(err.contains(needle) && err.contains("help:"), "{args:?}: {err}");
    }
    // A user without a password is refused before anything is built or written.
    let before = std::fs::read(layout.join("index.json")).unwrap();
    let err = f
        .ty_env(&["image", "--tag", "lonely", "--push", "127.0.0.1:5000/portal"], &[("TRAINYARD_REGISTRY_USER", "ci")])
        .fails_with(2)
        .to_string();
    assert!(err.contains("go together") && err.contains("help:"), "{err}");
    assert_eq!(std::fs::read(layout.join("index.json")).unwrap(), before, "a refused push wrote the image");

    // A push that fails (nothing listens on that port) still removes the login it wrote, and
    // the error is the copy's, the password never in it.
    let secret = "s3cret-Pa55word";
    let nowhere = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("127.0.0.1:{}/portal", listener.local_addr().unwrap().port())
    };
    let failed = f.ty_env(
        &["image", "RPM_CHANNEL=dev", "--trigger", "push", "--tag", "nowhere", "--push", &nowhere, "--insecure"],
        &[("TRAINYARD_REGISTRY_USER", "ci"), ("TRAINYARD_REGISTRY_PASSWORD", secret)],
    );
    let err = failed.fails_with(1).to_string();
    assert!(err.contains(&format!("{nowhere}:nowhere")) && err.contains("skopeo"), "{err}");
    assert!(!err.contains(secret), "the password is printed: {err}");
    assert!(
        std::fs::read_dir(f.repo.dir.join("target/trainyard/image-auth")).map(|d| d.count()).unwrap_or(0) == 0,
        "a failed push left its auth file behind"
    );

    let Some(registry) = Registry::start() else { return };
    let repo = format!("127.0.0.1:{}/portal", registry.port);
    let record = f.tmp.path.join("push-record");
    let record_s = record.to_str().unwrap().to_string();
    let pushed = f.ty_env(
        &["image", "RPM_CHANNEL=dev", "--trigger", "push", "--push", &repo, "--insecure"],
        &[
            ("TRAINYARD_REGISTRY_USER", "ci"),
            ("TRAINYARD_REGISTRY_PASSWORD", secret),
            ("TRAINYARD_TEST_RECORD", &record_s),
        ],
    );
    pushed.ok();
    says(&pushed, &format!("pushing {repo}:feature-img"));
    assert!(!pushed.stdout.contains(secret) && !pushed.stderr.contains(secret), "the password is never printed");
    // The auth file is an action of the push's plan: recorded by its length, never its contents.
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.lines().any(|l| l.starts_with("write: ") && l.ends_with(" bytes, secret, mode 0600)")),
        "{recorded}"
    );
    assert!(recorded.lines().any(|l| l.starts_with("run: ") && l.contains(" copy --quiet ")), "{recorded}");
    assert!(!recorded.contains(secret) && !recorded.contains("\"auths\""), "the record holds the secret: {recorded}");
    assert!(
        std::fs::read_dir(f.repo.dir.join("target/trainyard/image-auth")).map(|d| d.count()).unwrap_or(0) == 0,
        "the auth file is removed"
    );
    let pulled = f.tmp.path.join("pulled");
    tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &format!("docker://{repo}:feature-img"),
            &format!("oci:{}:feature-img", pulled.display()),
        ],
    );
    // skopeo compresses the layer on the way to the registry: the uncompressed digests agree.
    let diff_ids = |reference: &str| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&tool("skopeo", &["inspect", "--config", reference])).unwrap();
        v["rootfs"]["diff_ids"].clone()
    };
    assert_eq!(
        diff_ids(&format!("oci:{}:feature-img", pulled.display())),
        diff_ids(&format!("oci:{layout_s}:feature-img")),
        "the registry gives back the same layer"
    );
    let bundle = f.tmp.path.join("bundle-pulled");
    tool("umoci", &["unpack", "--image", &format!("{}:feature-img", pulled.display()), bundle.to_str().unwrap()]);
    let out = Command::new(bundle.join("rootfs/usr/bin/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("portal {dev_semver}"));
}

/// The default configuration (mock on) for a feature branch's push given by hand, as any other
/// CI would: the dev collection is installed in a clean root and its program prints the dev
/// version before anything is published.
#[test]
fn ci_by_hand_runs_mock_before_publishing() {
    if !is_root("ci with mock") {
        return;
    }
    let f = Fixture::new("ci-mock", "");
    f.repo.tag("rpm-1.3");
    f.repo.checkout_new("feature/mocked");
    f.repo.commits(1, "mocked");
    let run = f.ci(&["--event", "push", "--ref", "refs/heads/feature/mocked"], &[]);
    run.ok();
    says(&run, "trainyard mock RPM_CHANNEL=dev --trigger push");
    says(&run, "installed 1 package(s):\n  portal-1.4~~dev1-1.");
    says(&run, "portal: `app --version` ok");
    says(&run, "portal 1.4.0-0.dev.1");
    let published = f.published("dev");
    assert_eq!(published.len(), 1, "{published:?}");
    assert!(published[0].starts_with("portal-1.4~~dev1-1."), "{published:?}");
}

/// A base image with the host's C library for `program` (its needed libraries, as rpm's
/// `elfdeps` names them, and its loader), built with umoci as a local OCI layout.
fn libc_base(tmp: &Path, program: &Path) -> Option<String> {
    let deps = Command::new("/usr/lib/rpm/elfdeps").arg("--requires").arg(program).output().ok()?;
    let bytes = std::fs::read(program).unwrap();
    let interp = bytes.windows(5).position(|w| w == b"/lib6" || w == b"/lib/").and_then(|at| {
        let end = bytes[at..].iter().position(|&b| b == 0)?;
        let text = std::str::from_utf8(&bytes[at..at + end]).ok()?;
        text.contains("ld-linux").then(|| text.to_string())
    })?;
    let layout = tmp.join("base");
    let layout_s = layout.to_str().unwrap();
    tool("umoci", &["init", "--layout", layout_s]);
    tool("umoci", &["new", "--image", &format!("{layout_s}:libc")]);
    let bundle = tmp.join("base-bundle");
    tool("umoci", &["unpack", "--image", &format!("{layout_s}:libc"), bundle.to_str().unwrap()]);
    let rootfs = bundle.join("rootfs");
    let copy = |from: &Path| {
        let to = rootfs.join(from.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    };
    copy(Path::new(&interp));
    let mut sonames: Vec<String> = String::from_utf8_lossy(&deps.stdout)
        .lines()
        .filter_map(|l| l.split('(').next().map(String::from))
        .filter(|s| s.contains(".so"))
        .collect();
    sonames.sort();
    sonames.dedup();
    for soname in sonames {
        let found = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64"]
            .iter()
            .map(|d| Path::new(d).join(&soname))
            .find(|p| p.exists())?;
        copy(&found);
    }
    tool("umoci", &["repack", "--image", &format!("{layout_s}:libc"), bundle.to_str().unwrap()]);
    Some(format!("{layout_s}:libc"))
}

/// `--base`: the layer on a local base that holds the C library, so the program runs inside the
/// image's own root (chroot), not with the host's libraries.
#[test]
fn image_on_a_local_base_runs_in_its_own_root() {
    if !is_root("image on a base (chroot)") {
        return;
    }
    let f = Fixture::new("ci-base", "");
    f.repo.tag("rpm-1.3");
    // The program as the collection ships it, to know what C library it needs.
    f.ty(&["build_rpms", "--trigger", "tag", "--no-deps"]).ok();
    let Some(base) = libc_base(&f.tmp.path, &f.repo.dir.join("target/release/app")) else {
        eprintln!("NOTICE: skipping: the C library of this host was not found where the test looks");
        return;
    };
    let err = f.ty(&["image", "--trigger", "tag", "--base", &format!("{base}x")]).fails_with(2).to_string();
    assert!(err.contains("no tag `libcx`") && err.contains("help:"), "{err}");
    f.ty(&["image", "--trigger", "tag", "--base", &base, "--tag", "on-libc"]).ok();
    let layout = f.repo.dir.join("target/images/portal");
    let reference = format!("oci:{}:on-libc", layout.display());
    let inspect: serde_json::Value = serde_json::from_str(&tool("skopeo", &["inspect", &reference])).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2, "the base's layer and the packages': {inspect}");
    let bundle = f.tmp.path.join("bundle-on-libc");
    tool("umoci", &["unpack", "--image", &format!("{}:on-libc", layout.display()), bundle.to_str().unwrap()]);
    let out = Command::new("chroot").arg(bundle.join("rootfs")).arg("/usr/bin/app").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "portal 1.3.0");
    // The same program on the empty base has no C library to run with.
    f.ty(&["image", "--trigger", "tag", "--tag", "scratch"]).ok();
    let bundle = f.tmp.path.join("bundle-scratch");
    tool("umoci", &["unpack", "--image", &format!("{}:scratch", layout.display()), bundle.to_str().unwrap()]);
    let out = Command::new("chroot").arg(bundle.join("rootfs")).arg("/usr/bin/app").output().unwrap();
    assert!(!out.status.success(), "a dynamically linked program cannot run on an empty base");
}

/// Two runners publishing one version into one repository at once (the push/tag race's other
/// half): two runs of the same build both succeed with one copy published; a runner whose build
/// of the same version has other bytes is refused with exit 1 naming both checksums, and the
/// repository stays valid with the first bytes.
#[test]
fn two_runners_publishing_one_version_at_once() {
    let shared = TempDir::new("ci-race-repos");
    let repos = shared.path.join("repos");
    let config = format!("{NO_MOCK}repo-dir = \"{}\"\nimage = false\n", repos.display());
    let a = Fixture::new("ci-race-a", &config);
    a.repo.tag("rpm-1.3");
    let b = Fixture::new("ci-race-b", &config);
    b.repo.write("app/src/main.rs", "fn main() {\n    println!(\"portal, other bytes\");\n}\n");
    b.repo.commit_all("other bytes");
    b.repo.tag("rpm-1.3");
    let tag = github("push", "refs/tags/rpm-1.3");

    let at_once = |first: &Fixture, second: &Fixture| {
        let env: Vec<(&str, String)> = tag.clone();
        std::thread::scope(|s| {
            let one = s.spawn(|| first.ci(&[], &env));
            let two = s.spawn(|| second.ci(&[], &env));
            (one.join().unwrap(), two.join().unwrap())
        })
    };
    let prod_rpms = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(repos.join("prod"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".rpm"))
            .collect();
        names.sort();
        names
    };
    let arch = std::env::consts::ARCH;

    // The same build twice at once: both succeed, one copy.
    let (one, two) = at_once(&a, &a);
    one.ok();
    two.ok();
    assert_eq!(prod_rpms(), [format!("portal-1.3-1.{arch}.rpm")]);
    let published = std::fs::read(repos.join("prod").join(format!("portal-1.3-1.{arch}.rpm"))).unwrap();
    let built = std::fs::read(portal_rpm(&a.repo.dir.join("target/rpms/prod"))).unwrap();
    assert!(published == built, "the published package is not the build's");

    // Another runner's build of 1.3 with other bytes, at the same time as a third run of the first.
    let (again, other) = at_once(&a, &b);
    again.ok();
    assert_eq!(other.code, Some(1), "{}\n{}", other.stdout, other.stderr);
    says(&other, "the repository has sha256");
    assert_eq!(prod_rpms(), [format!("portal-1.3-1.{arch}.rpm")]);
    assert!(
        std::fs::read(repos.join("prod").join(format!("portal-1.3-1.{arch}.rpm"))).unwrap() == published,
        "the refused run changed the published bytes"
    );
    dnf_lists(&repos.join("prod"), &["portal-1.3-1"]);
}
