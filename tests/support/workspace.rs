//! Fixture workspaces for end-to-end tests: a temp dir, a local crate registry the
//! test controls (a directory source replacing crates-io), a git repository, and
//! the real `trainyard` binary run inside it.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A directory removed when dropped (kept when TRAINYARD_KEEP_TEST_DIRS is set).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("trainyard-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TRAINYARD_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A crate in the local registry: name, version, dependencies (`name = "req"` lines).
pub struct RegistryCrate<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub deps: &'a [(&'a str, &'a str)],
}

/// Writes a local registry (index + `.crate` files, the format `cargo` reads with
/// `local-registry = DIR`) at `dir` holding `crates`; several versions of a name allowed.
/// (A directory source would be simpler, but `cargo update --precise` cannot move a
/// package within one.)
pub fn write_registry(dir: &Path, crates: &[RegistryCrate<'_>]) {
    use sha2::{Digest, Sha256};
    let src = dir.join("src");
    for c in crates {
        let base = format!("{}-{}", c.name, c.version);
        let root = src.join(&base);
        let mut manifest = format!(
            "[package]\nname = \"{}\"\nversion = \"{}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"fixture crate\"\n\n[dependencies]\n",
            c.name, c.version
        );
        let mut body = format!("pub const VERSION: &str = \"{}\";\n", c.version);
        let mut deps = Vec::new();
        for (dep, req) in c.deps {
            manifest.push_str(&format!("{dep} = \"{req}\"\n"));
            let ident = dep.replace('-', "_");
            body.push_str(&format!("pub use {ident}::VERSION as {}_VERSION;\n", ident.to_uppercase()));
            deps.push(serde_json::json!({
                "name": dep, "req": format!("^{req}"), "features": [], "optional": false,
                "default_features": true, "target": null, "kind": "normal"
            }));
        }
        write(&root.join("Cargo.toml"), &manifest);
        write(&root.join("src/lib.rs"), &body);
        let file = dir.join(format!("{base}.crate"));
        sh(
            &src,
            "tar",
            &["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-czf", file.to_str().unwrap(), &base],
        );
        let sum = format!("{:x}", Sha256::digest(std::fs::read(&file).unwrap()));
        let entry = serde_json::json!({
            "name": c.name, "vers": c.version, "deps": deps, "cksum": sum, "features": {}, "yanked": false
        });
        let name = c.name.to_lowercase();
        let index = match name.len() {
            1 => dir.join("index/1").join(&name),
            2 => dir.join("index/2").join(&name),
            3 => dir.join("index/3").join(&name[..1]).join(&name),
            _ => dir.join("index").join(&name[..2]).join(&name[2..4]).join(&name),
        };
        std::fs::create_dir_all(index.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&index).unwrap_or_default();
        text.push_str(&format!("{entry}\n"));
        std::fs::write(&index, text).unwrap();
    }
}

/// Points cargo at the local registry for everything under `workspace`.
pub fn use_registry(workspace: &Path, registry: &Path) {
    write(
        &workspace.join(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\nlocal-registry = \"{}\"\n\n[net]\noffline = true\n",
            registry.display()
        ),
    );
}

/// Runs a command in `dir`, panicking with its output on failure.
pub fn sh(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(dir).envs(git_env()).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Fixed identities and dates, so commits are reproducible.
pub fn git_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_AUTHOR_NAME", "Test"),
        ("GIT_AUTHOR_EMAIL", "test@example.com"),
        ("GIT_COMMITTER_NAME", "Test"),
        ("GIT_COMMITTER_EMAIL", "test@example.com"),
        ("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
    ]
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    sh(dir, "git", args)
}

pub fn git_init(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
}

pub fn commit_all(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    pub fn fails_with(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    pub fn says(&self, needle: &str) -> &Run {
        let all = format!("{}{}", self.stdout, self.stderr);
        assert!(
            all.contains(needle),
            "expected output to contain {needle:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the real `trainyard` binary in `dir` with a clean CI-free environment.
pub fn trainyard(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = trainyard_command(dir, args, env).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The command [`trainyard`] runs, for tests that start it in the background.
pub fn trainyard_command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainyard"));
    cmd.args(args).current_dir(dir);
    for var in [
        "CHANNEL",
        "RPM_CHANNEL",
        "CI",
        "GITHUB_ACTIONS",
        "GITHUB_REF",
        "GITHUB_REF_TYPE",
        "GITLAB_CI",
        "CI_COMMIT_TAG",
        "CARGO_TARGET_DIR",
        "TRAINYARD_PRETEND_VERSION",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(git_env());
    // The checkout cache lives in the user's cache directory: keep it in the test's temp dir
    // (beside the workspace, never inside it), so tests never share it or leave it behind.
    if let Some(parent) = dir.parent() {
        cmd.env("XDG_CACHE_HOME", parent.join(".cache"));
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs trainyard with `args` plus `--dry-run`, then for real, recording every action the real
/// run executes (`TRAINYARD_TEST_RECORD`, honoured by test builds only), and checks the run did
/// exactly what the dry-run printed, in order. A `would later: ...` line of the dry-run stands for
/// the part the run plans at that point: it matches the same `later: ...` line of the run and
/// the actions that follow it. Returns (dry run, real run, the recorded lines).
pub fn dry_run_equals_run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, Run, Vec<String>) {
    let mut dry_args = args.to_vec();
    let at = dry_args.iter().position(|a| *a == "--").unwrap_or(dry_args.len());
    dry_args.insert(at, "--dry-run");
    let dry = trainyard(dir, &dry_args, env);
    dry.ok();
    let planned = planned(&dry.stdout);
    let record = dir.parent().unwrap_or(dir).join(format!(".record-{}", std::process::id()));
    let _ = std::fs::remove_file(&record);
    let record_str = record.display().to_string();
    let mut env = env.to_vec();
    env.push(("TRAINYARD_TEST_RECORD", &record_str));
    let real = trainyard(dir, args, &env);
    real.ok();
    let executed = executed_as_planned(&planned, &record, "the run");
    let _ = std::fs::remove_file(&record);
    (dry, real, executed)
}

/// The actions a dry-run printed: its `would ...` lines, without `would `.
pub fn planned(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.strip_prefix("would ")).map(str::to_string).collect()
}

/// The actions a run recorded in `record` (`TRAINYARD_TEST_RECORD`), asserted to be `planned`
/// (see [`plan_matches`]); `what` names the run in the failure message.
pub fn executed_as_planned(planned: &[String], record: &Path, what: &str) -> Vec<String> {
    let executed: Vec<String> =
        std::fs::read_to_string(record).unwrap_or_default().lines().map(str::to_string).collect();
    assert!(
        plan_matches(planned, &executed),
        "{what} did not do what its dry-run printed\n--- planned:\n{}\n--- executed:\n{}",
        planned.join("\n"),
        executed.join("\n")
    );
    executed
}

/// Whether `executed` is `planned` with each `later: ...` line followed by what was planned then.
pub fn plan_matches(planned: &[String], executed: &[String]) -> bool {
    match planned.split_first() {
        None => executed.is_empty(),
        Some((first, rest)) if first.starts_with("later: ") => {
            let Some((head, after)) = executed.split_first() else { return false };
            head == first && (0..=after.len()).any(|skip| plan_matches(rest, &after[skip..]))
        }
        Some((first, rest)) => {
            executed.split_first().is_some_and(|(head, after)| head == first && plan_matches(rest, after))
        }
    }
}

/// `git status --porcelain` of tracked files: empty when nothing tracked changed.
pub fn tracked_changes(dir: &Path) -> String {
    git(dir, &["status", "--porcelain", "--untracked-files=no"])
}

/// A snapshot of every file under `dir` except `target/` and `.git/`, to prove "changes nothing".
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name();
            if entry.file_type().unwrap().is_dir() {
                if name != "target" && name != ".git" {
                    stack.push(path);
                }
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Copies the one-member workspace at `root` (manifests, lock file, `app/src/main.rs`) to
/// `rebuild` and builds it there offline and locked, crates-io replaced by `source`: a name
/// and the directory of unpacked crates (what an RPM of vendored crates installs).
pub fn build_offline(root: &Path, rebuild: &Path, source: (&str, &Path)) {
    for file in ["Cargo.toml", "Cargo.lock", "app/Cargo.toml", "app/src/main.rs"] {
        write(&rebuild.join(file), &read(&root.join(file)));
    }
    let (name, dir) = source;
    write(
        &rebuild.join(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"{name}\"\n\n[source.{name}]\ndirectory = \"{}\"\n\n[net]\noffline = true\n",
            dir.display()
        ),
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(rebuild, &cargo, &["build", "--quiet", "--locked", "--offline"]);
}

/// Whether the tests run as root (the sandbox, mock and whole-release tests need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The `portal` workspace most end-to-end tests use, in `dir/portal`, with a local registry
/// in `dir/registry`: one binary `app` depending on `leftpad = "1"`, which depends on
/// `padcore = "0.3"`. The registry has leftpad 1.0.0/1.1.0 and padcore 0.3.0/0.3.1; the
/// committed lock holds the older ones, and prod pins them. `app_package` goes into app's
/// `[package]` table, `app_tail` after its dependencies.
pub fn leftpad_workspace(dir: &Path, app_package: &str, app_tail: &str) -> PathBuf {
    let registry = dir.join("registry");
    write_registry(
        &registry,
        &[
            RegistryCrate { name: "padcore", version: "0.3.0", deps: &[] },
            RegistryCrate { name: "padcore", version: "0.3.1", deps: &[] },
            RegistryCrate { name: "leftpad", version: "1.0.0", deps: &[("padcore", "0.3")] },
            RegistryCrate { name: "leftpad", version: "1.1.0", deps: &[("padcore", "0.3")] },
        ],
    );
    let root = dir.join("portal");
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.1.0\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\n",
    );
    write(
        &root.join("app/Cargo.toml"),
        &format!(
            "[package]\nname = \"app\"\nversion.workspace = true\nedition = \"2021\"\n{app_package}\n[dependencies]\nleftpad = \"1\"\n{app_tail}"
        ),
    );
    write(
        &root.join("app/src/main.rs"),
        "fn main() {\n    println!(\"leftpad {} padcore {}\", leftpad::VERSION, leftpad::PADCORE_VERSION);\n}\n",
    );
    write(&root.join(".gitignore"), "/target\n");
    write(&root.join("reqs/prod-reqs.txt"), "# Pins of the prod channel.\nleftpad == 1.0.0\npadcore == 0.3.0\n");
    write(&root.join("reqs/dev-reqs.txt"), "# dev takes the newest versions.\n");
    use_registry(&root, &registry);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&root, &cargo, &["generate-lockfile", "--quiet"]);
    sh(&root, &cargo, &["update", "--quiet", "-p", "leftpad", "--precise", "1.0.0"]);
    sh(&root, &cargo, &["update", "--quiet", "-p", "padcore", "--precise", "0.3.0"]);
    git_init(&root);
    commit_all(&root, "portal");
    root
}
