//! End-to-end tests of the foundation: `build`, `pin`, channels, requirement files and
//! the command line, on fixture workspaces with a local registry the test controls.

use crate::support::workspace as support;

use std::path::Path;
use support::*;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The `portal` workspace of [`leftpad_workspace`].
struct Fixture {
    _tmp: TempDir,
    root: std::path::PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = TempDir::new("build");
        let root = leftpad_workspace(tmp.path(), "", "");
        Fixture { _tmp: tmp, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.root, args, &[])
    }

    fn lock(&self) -> String {
        read(&self.root.join("Cargo.lock"))
    }

    fn app_says(&self) -> String {
        sh(&self.root, &self.root.join("target/release/app").display().to_string(), &[])
    }

    fn manifest(&self, channel: &str) -> serde_json::Value {
        let text = read(&self.root.join(format!("target/trainyard/build-{channel}.json")));
        serde_json::from_str(&text).unwrap()
    }
}

fn locked_version(manifest: &serde_json::Value, name: &str) -> Vec<String> {
    manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| p["version"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `args`, expects `code` and `needles`, and checks nothing in the tree changed.
fn refused(f: &Fixture, args: &[&str], code: i32, needles: &[&str]) {
    let before = snapshot(&f.root);
    let run = f.run(args);
    run.fails_with(code);
    for n in needles {
        run.says(n);
    }
    assert!(snapshot(&f.root) == before, "{args:?} changed files");
    assert_eq!(tracked_changes(&f.root), "");
    assert!(!f.root.join("target/release/app").exists(), "{args:?} built something");
}

#[test]
fn prod_build_passes_with_pinned_graph_and_changes_no_tracked_file() {
    let f = Fixture::new();
    let lock = f.lock();
    f.run(&["build", "CHANNEL=prod"]).ok();
    assert_eq!(f.app_says(), "leftpad 1.0.0 padcore 0.3.0");
    let m = f.manifest("prod");
    assert_eq!(m["channel"], "prod");
    assert_eq!(m["workspace"], "portal");
    assert_eq!(m["dirty"], false);
    assert_eq!(m["commit"].as_str().unwrap(), git(&f.root, &["rev-parse", "HEAD"]));
    assert_eq!(locked_version(&m, "leftpad"), ["1.0.0"]);
    assert!(m["packages"].as_array().unwrap().iter().any(|p| p["name"] == "padcore" && p["source"].is_string()));
    assert_eq!(f.lock(), lock);
    assert_eq!(tracked_changes(&f.root), "");

    // A second build with nothing changed leaves the manifest alone.
    let path = f.root.join("target/trainyard/build-prod.json");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let run = f.run(&["build", "--channel", "prod"]);
    run.ok();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn prod_build_refuses_unpinned_and_mispinned_packages_naming_each() {
    let f = Fixture::new();
    write(&f.root.join("reqs/prod-reqs.txt"), "leftpad == 0.9.0\nserde == 1.0.0\n");
    commit_all(&f.root, "bad pins");
    refused(
        &f,
        &["build", "CHANNEL=prod"],
        1,
        &[
            "padcore 0.3.0 is in the resolved graph but not pinned",
            "reqs/prod-reqs.txt:1 wants `leftpad == 0.9.0` but the lock has 1.0.0",
            "serde: reqs/prod-reqs.txt:2 pins `serde == 1.0.0` but serde is not in the resolved graph",
            "pin CHANNEL=prod",
            "cargo update -p leftpad@1.0.0 --precise 0.9.0",
        ],
    );
}

#[test]
fn dev_build_takes_newest_allowed_versions_without_touching_the_lock() {
    let f = Fixture::new();
    let lock = f.lock();
    f.run(&["build"]).ok();
    assert_eq!(f.app_says(), "leftpad 1.1.0 padcore 0.3.1");
    let m = f.manifest("dev");
    assert_eq!(locked_version(&m, "leftpad"), ["1.1.0"]);
    assert_eq!(locked_version(&m, "padcore"), ["0.3.1"]);
    assert!(m["lock_file"].as_str().unwrap().ends_with("target/trainyard/dev/Cargo.lock"));
    assert_eq!(f.lock(), lock, "the user's Cargo.lock must not change");
    assert_eq!(tracked_changes(&f.root), "");
    assert!(!f.root.join("target/trainyard/lock-swap").exists());

    // A == line in dev-reqs.txt is honoured; everything else stays newest.
    write(&f.root.join("reqs/dev-reqs.txt"), "padcore == 0.3.0\n");
    f.run(&["build", "CHANNEL=dev"]).ok();
    assert_eq!(f.app_says(), "leftpad 1.1.0 padcore 0.3.0");
    assert_eq!(f.lock(), lock);
}

#[test]
fn dev_build_refuses_a_range_the_newest_version_breaks() {
    let f = Fixture::new();
    write(&f.root.join("reqs/dev-reqs.txt"), "leftpad < 1.1\n");
    let lock = f.lock();
    f.run(&["build"]).fails_with(1).says("reqs/dev-reqs.txt:1: `leftpad` does not allow leftpad 1.1.0");
    assert_eq!(f.lock(), lock);
}

#[test]
fn pin_writes_the_graph_and_a_pinned_build_then_passes() {
    let f = Fixture::new();
    write(&f.root.join("reqs/stage-reqs.txt"), "# Stage pins: keep this header.\nleftpad == 0.1.0\n");
    commit_all(&f.root, "stage reqs");
    f.run(&["build", "CHANNEL=stage"]).fails_with(1);
    f.run(&["pin", "CHANNEL=stage", "--check"]).fails_with(1).says("+padcore == 0.3.0");
    let run = f.run(&["pin", "CHANNEL=stage"]);
    run.ok().says("-leftpad == 0.1.0").says("+leftpad == 1.0.0").says("+padcore == 0.3.0");
    let text = read(&f.root.join("reqs/stage-reqs.txt"));
    assert!(text.starts_with("# Stage pins: keep this header.\n"), "{text}");
    assert!(text.contains("leftpad == 1.0.0\npadcore == 0.3.0\n"), "{text}");
    f.run(&["pin", "CHANNEL=stage", "--check"]).ok().says("up to date");
    f.run(&["build", "CHANNEL=stage"]).ok();
    assert_eq!(f.app_says(), "leftpad 1.0.0 padcore 0.3.0");
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let f = Fixture::new();
    refused(&f, &["build", "CHANEL=prod"], 2, &["unknown variable `CHANEL`", "did you mean CHANNEL?"]);
    refused(&f, &["build", "CHANNEL=production"], 2, &["unknown channel `production`", "dev, stage and prod"]);
    refused(&f, &["build", "--frobnicate"], 2, &["unknown option `--frobnicate`"]);
    refused(&f, &["bulid"], 2, &["unknown target `bulid`", "did you mean `build`?"]);

    write(&f.root.join("reqs/prod-reqs.txt"), "leftpad == 1.0.0\nPaste ==\n");
    commit_all(&f.root, "malformed");
    refused(&f, &["build", "CHANNEL=prod"], 2, &["reqs/prod-reqs.txt:2:"]);

    let manifest = read(&f.root.join("Cargo.toml"));
    write(&f.root.join("Cargo.toml"), &manifest.replace("name = \"portal\"", "name = \"portal\"\ntag-prefx = \"v\""));
    commit_all(&f.root, "broken config");
    refused(&f, &["build"], 2, &["tag-prefx", "line 10"]);
}

#[test]
fn environment_variables_apply_and_the_command_line_wins() {
    let f = Fixture::new();
    // CHANNEL from the environment: prod, with a malformed prod file, fails...
    write(&f.root.join("reqs/prod-reqs.txt"), "leftpad ==\n");
    let run = trainyard(&f.root, &["build", "--dry-run"], &[("CHANNEL", "prod")]);
    run.fails_with(2).says("prod-reqs.txt:1:");
    // ...and the command line beats it.
    trainyard(&f.root, &["build", "--dry-run", "CHANNEL=dev"], &[("CHANNEL", "prod")]).ok();
}

/// The executor records what it runs (test builds): `pin` writes exactly what its dry-run printed.
#[test]
fn pin_does_what_its_dry_run_printed() {
    let f = Fixture::new();
    let (_, _, executed) = dry_run_equals_run(&f.root, &["pin", "CHANNEL=stage"], &[]);
    assert!(executed.iter().any(|l| l.starts_with("write: ") && l.contains("stage-reqs.txt")), "{executed:?}");
    assert!(f.root.join("reqs/stage-reqs.txt").exists());
    assert!(!plan_matches(&["later: x".into()], &["write: y".into()]));
    assert!(plan_matches(
        &["later: x".into(), "write: z".into()],
        &["later: x".into(), "run: y".into(), "write: z".into()]
    ));
}

/// `build` does what its dry-run printed, for the dev channel (a resolution of its own,
/// written by the plan) and for prod (the user's lock, copied); a second dev run reuses the
/// resolution and plans the build alone.
#[test]
fn build_does_what_its_dry_run_printed() {
    let f = Fixture::new();
    let (dry, _, executed) = dry_run_equals_run(&f.root, &["build"], &[]);
    dry.says("planning with: ").says("cargo update --manifest-path");
    assert!(executed.iter().any(|l| l.starts_with("write: ") && l.contains("dev/Cargo.lock (")), "{executed:?}");
    assert!(
        executed.iter().any(|l| l.starts_with("run: ")
            && l.contains("cargo build --release --config profile.release.strip=true -p app")),
        "{executed:?}"
    );
    assert_eq!(f.app_says(), "leftpad 1.1.0 padcore 0.3.1");
    let (_, _, again) = dry_run_equals_run(&f.root, &["build"], &[]);
    assert!(again.iter().all(|l| !l.contains("Cargo.lock (")), "a fresh resolution was written again: {again:?}");
    let (_, _, prod) = dry_run_equals_run(&f.root, &["build", "CHANNEL=prod"], &[]);
    assert!(prod.iter().any(|l| l.contains("prod/Cargo.lock (")), "{prod:?}");
    assert_eq!(f.app_says(), "leftpad 1.0.0 padcore 0.3.0");
    assert_eq!(tracked_changes(&f.root), "");
}

/// Every entry under `dir` (links not followed): path, and bytes or link target.
fn state(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.push((path, Vec::new()));
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((path, target.into_os_string().into_encoded_bytes()));
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The portal of [`leftpad_workspace`] depending on an internal project `core` (tag rpm-1.0);
/// core's rpm-2.0 depends on `rightpad`, a registry crate prod-reqs.txt does not pin.
fn with_internal_core() -> (TempDir, std::path::PathBuf) {
    let tmp = TempDir::new("build-core");
    let core = tmp.path().join("core");
    write(
        &core.join("Cargo.toml"),
        "[package]\nname = \"core\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(&core.join("src/lib.rs"), "pub const VERSION: &str = \"1.0\";\n");
    git_init(&core);
    commit_all(&core, "core 1.0");
    git(&core, &["tag", "rpm-1.0"]);
    let url = format!("file://{}", core.display());
    let root = leftpad_workspace(tmp.path(), "", "");
    // The git dependency is fetched once (the fixture's cargo is offline otherwise), resolved
    // into the committed lock beside the pinned registry crates.
    let app = read(&root.join("app/Cargo.toml"));
    write(&root.join("app/Cargo.toml"), &format!("{app}core = {{ git = \"{url}\", tag = \"rpm-1.0\" }}\n"));
    sh(&root, &cargo(), &["metadata", "--quiet", "--format-version", "1", "--config", "net.offline=false"]);
    write_registry(&tmp.path().join("registry"), &[RegistryCrate { name: "rightpad", version: "1.0.0", deps: &[] }]);
    write(
        &core.join("Cargo.toml"),
        "[package]\nname = \"core\"\nversion = \"2.0.0\"\nedition = \"2021\"\n\n[dependencies]\nrightpad = \"1\"\n\n[workspace]\n",
    );
    commit_all(&core, "core 2.0 uses rightpad");
    git(&core, &["tag", "rpm-2.0"]);
    let manifest = read(&root.join("Cargo.toml"));
    write(
        &root.join("Cargo.toml"),
        &format!("{manifest}\n[workspace.metadata.trainyard.internal.core]\ngit = \"{url}\"\n"),
    );
    commit_all(&root, "core is internal");
    (tmp, root)
}

/// `build CHANNEL=prod CORE=rpm-2.0 --dry-run` refuses what the run refuses (the override brings
/// an unpinned package), with the same exit code and message, and changes nothing; once pinned,
/// the run does what the dry-run printed.
#[test]
fn a_prod_dry_run_with_an_override_refuses_what_the_run_refuses() {
    let (_tmp, root) = with_internal_core();
    trainyard(&root, &["build", "CHANNEL=prod"], &[]).ok();
    let before = snapshot(&root);
    let target_before = state(&root.join("target/trainyard"));
    let dry = trainyard(&root, &["build", "CHANNEL=prod", "CORE=rpm-2.0", "--dry-run"], &[]);
    dry.fails_with(1).says("rightpad 1.0.0 is in the resolved graph but not pinned").says("pin CHANNEL=prod");
    assert!(!dry.stdout.contains("would "), "a refused plan printed actions:\n{}", dry.stdout);
    assert!(snapshot(&root) == before);
    assert!(state(&root.join("target/trainyard")) == target_before, "the dry-run changed target/trainyard/");
    let run = trainyard(&root, &["build", "CHANNEL=prod", "CORE=rpm-2.0"], &[]);
    run.fails_with(1).says("rightpad 1.0.0 is in the resolved graph but not pinned");
    assert!(state(&root.join("target/trainyard")) == target_before, "the refused run changed target/trainyard/");

    let reqs = read(&root.join("reqs/prod-reqs.txt"));
    write(&root.join("reqs/prod-reqs.txt"), &format!("{reqs}rightpad == 1.0.0\n"));
    commit_all(&root, "pin rightpad");
    let (_, _, executed) = dry_run_equals_run(&root, &["build", "CHANNEL=prod", "CORE=rpm-2.0"], &[]);
    assert!(executed.iter().any(|l| l.starts_with("run: ") && l.contains("patch.")), "{executed:?}");
    assert_eq!(tracked_changes(&root), "");
}

#[test]
fn dry_run_prints_the_plan_and_builds_nothing() {
    let f = Fixture::new();
    let before = snapshot(&f.root);
    let run = f.run(&["build", "--dry-run"]);
    run.ok()
        .says("would run: ")
        .says("cargo update")
        .says("cargo build --release --config profile.release.strip=true -p app");
    assert!(snapshot(&f.root) == before);
    assert!(!f.root.join("target").exists());
    f.run(&["build", "CHANNEL=prod", "--dry-run"]).ok().says("--locked");
    f.run(&["pin", "CHANNEL=stage", "--dry-run"]).ok().says("would write: ");
    assert!(!f.root.join("reqs/stage-reqs.txt").exists());
}

#[test]
fn help_lists_targets_and_each_target_has_help() {
    let dir = TempDir::new("help");
    let run = trainyard(dir.path(), &["--help"], &[]);
    run.ok().says("build").says("tests").says("pin").says("exit codes");
    for target in ["build", "tests", "pin"] {
        trainyard(dir.path(), &[target, "--help"], &[]).ok().says("usage:").says("--dry-run");
    }
    let f = Fixture::new();
    f.run(&["build", "--help"]).ok().says("CHANNEL").says("PORTAL=REF");
    let _ = Path::new(".");
}

#[test]
fn tests_target_runs_the_suite_writes_junit_and_passes_the_exit_code_through() {
    let f = Fixture::new();
    write(&f.root.join("app/src/lib.rs"), "#[test]\nfn adds() {\n    assert_eq!(1 + 1, 2);\n}\n");
    f.run(&["tests"]).ok();
    let junit = read(&f.root.join("target/nextest/trainyard/junit.xml"));
    assert!(junit.contains("adds"), "{junit}");
    assert!(junit.contains("failures=\"0\""), "{junit}");
    write(&f.root.join("app/src/lib.rs"), "#[test]\nfn adds() {\n    assert_eq!(1 + 1, 3);\n}\n");
    let run = f.run(&["tests"]);
    assert_ne!(run.code, 0);
    assert_eq!(run.code, 100, "nextest's own exit code for failing tests\n{}", run.output());
    assert!(read(&f.root.join("target/nextest/trainyard/junit.xml")).contains("failures=\"1\""));
    // Words after `--` reach the runner: a filter that matches nothing runs nothing.
    f.run(&["tests", "--", "--no-tests=pass", "no_such_test"]).ok();
}

/// Runs during a dev build (pin, version, a second build, which waits for the first) see the
/// user's Cargo.lock as it is, and both builds leave it so.
#[test]
fn runs_during_a_dev_build_leave_cargo_lock_alone() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let lock = f.lock();
    // A cargo that takes its time to build, so the second run lands mid-build.
    let slow = f.root.parent().unwrap().join("slow-cargo");
    write(&slow, &format!("#!/bin/sh\n[ \"$1\" = build ] && sleep 3\nexec '{}' \"$@\"\n", cargo()));
    std::fs::set_permissions(&slow, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_trainyard"));
    first.arg("build").current_dir(&f.root).env("CARGO", &slow).env_remove("CARGO_TARGET_DIR");
    let child = first.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let during = f.run(&["pin", "CHANNEL=prod", "--dry-run"]);
    assert!(!during.output().contains("1.1.0"), "{}", during.output());
    f.run(&["version"]).ok();
    let second = f.run(&["build"]);
    second.says("waiting for another trainyard build");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    second.ok();
    assert_eq!(f.lock(), lock);
    assert_eq!(tracked_changes(&f.root), "");
}

/// A crate at two semver-incompatible versions gets a pin line for each, and a dev build
/// applies each pin to the version it is compatible with.
#[test]
fn two_versions_of_one_crate_pin_and_build() {
    let f = Fixture::new();
    let registry = f.root.parent().unwrap().join("registry");
    write_registry(&registry, &[RegistryCrate { name: "padcore", version: "0.2.0", deps: &[] }]);
    let manifest = read(&f.root.join("app/Cargo.toml"));
    write(
        &f.root.join("app/Cargo.toml"),
        &manifest.replace("leftpad = \"1\"\n", "leftpad = \"1\"\npadcore = \"0.2\"\n"),
    );
    sh(&f.root, &cargo(), &["update", "--quiet", "-p", "app"]);
    commit_all(&f.root, "padcore 0.2 directly");
    f.run(&["pin", "CHANNEL=prod"]).ok();
    let text = read(&f.root.join("reqs/prod-reqs.txt"));
    assert!(text.contains("padcore == 0.2.0\npadcore == 0.3.0\n"), "{text}");
    f.run(&["build", "CHANNEL=prod"]).ok();

    write(&f.root.join("reqs/dev-reqs.txt"), "padcore == 0.2.0\npadcore == 0.3.0\n");
    f.run(&["build"]).ok();
    let m = f.manifest("dev");
    assert_eq!(locked_version(&m, "padcore"), ["0.2.0", "0.3.0"]);
    assert_eq!(locked_version(&m, "leftpad"), ["1.1.0"]);
}

/// `pin` leaves out what an included file already pins, so the build it suggests passes.
#[test]
fn pin_respects_included_files() {
    let f = Fixture::new();
    write(&f.root.join("reqs/common-reqs.txt"), "padcore == 0.3.0\n");
    write(&f.root.join("reqs/stage-reqs.txt"), "# stage\n-r common-reqs.txt\n");
    commit_all(&f.root, "stage includes common");
    f.run(&["build", "CHANNEL=stage"]).fails_with(1).says("leftpad 1.0.0 is in the resolved graph but not pinned");
    f.run(&["pin", "CHANNEL=stage"]).ok();
    let text = read(&f.root.join("reqs/stage-reqs.txt"));
    assert!(text.contains("-r common-reqs.txt") && text.contains("leftpad == 1.0.0"), "{text}");
    assert!(!text.contains("padcore"), "{text}");
    f.run(&["build", "CHANNEL=stage"]).ok();
}

/// This repository's own prod and stage files pin its whole graph (so `cargo xtask build
/// CHANNEL=prod` works on a fresh clone). Repair: `cargo xtask pin CHANNEL=prod` (and stage).
#[test]
fn this_repository_pins_its_whole_graph() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for channel in ["CHANNEL=prod", "CHANNEL=stage"] {
        trainyard(&root, &["pin", channel, "--check"], &[]).ok().says("up to date");
    }
}
