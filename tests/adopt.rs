//! End-to-end tests of adopting trainyard into workspaces shaped as real projects are: an xtask
//! kept out of the product, builds with the features, profiles and targets projects ship with.

use crate::support::workspace as support;

use crate::support::rpm as rpm_support;

use std::path::{Path, PathBuf};

use rpm_support::rpm_q;
use support::*;

const MAIN: &str = "fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"app {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n        return;\n    }\n    if cfg!(feature = \"loud\") {\n        println!(\"APP\");\n    } else {\n        println!(\"app\");\n    }\n}\n";

/// A workspace whose root is the packaged crate `app` (feature `loud`, a description over two
/// lines), with an `xtask` member, and the profiles named in `profiles`.
fn app_workspace(dir: &Path, table: &str, profiles: &str) -> PathBuf {
    let root = dir.join("app");
    write(
        &root.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"app\"\nversion = \"0.3.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"\"\"\nA small application that prints its name in\nlower or upper case. It has two modes.\"\"\"\n\n[features]\nloud = []\n\n[package.metadata.trainyard.rpm]\n{table}\n\n[workspace]\nmembers = [\"xtask\"]\n\n[workspace.metadata.trainyard]\nname = \"app\"\ntag-prefix = \"v\"\n\n{profiles}"
        ),
    );
    write(&root.join("src/main.rs"), MAIN);
    write(
        &root.join("xtask/Cargo.toml"),
        "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    write(&root.join("xtask/src/main.rs"), "fn main() {}\n");
    write(&root.join(".gitignore"), "/target\n");
    write(&root.join("reqs/prod-reqs.txt"), "# prod\n");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&root, &cargo, &["generate-lockfile", "--quiet"]);
    git_init(&root);
    commit_all(&root, "app");
    git(&root, &["tag", "-a", "-m", "0.3.0", "v0.3.0"]);
    root
}

fn rpm_path(root: &Path) -> PathBuf {
    let arch = sh(root, "uname", &["-m"]);
    root.join(format!("target/rpms/prod/app-0.3.0-1.{arch}.rpm"))
}

#[test]
fn profiles_features_and_targets_as_projects_ship_them() {
    let tmp = TempDir::new("adopt-settings");
    // debug = 1 and split debug info: stripped, `.debug_gdb_scripts` stays (it is loaded), and
    // the strip check must accept what strip leaves.
    let profiles = "[profile.release-lto]\ninherits = \"release\"\nlto = \"thin\"\ndebug = 1\nsplit-debuginfo = \"packed\"\n\n[profile.release]\ndebug = \"line-tables-only\"\n";
    let root = app_workspace(tmp.path(), "features = [\"loud\"]", profiles);

    trainyard(&root, &["build_rpms", "--profile", "release-lto", "--no-deps"], &[]).ok();
    let bin = root.join("target/release-lto/app");
    assert_eq!(sh(&root, bin.to_str().unwrap(), &[]), "APP", "the table's features apply");
    assert!(!root.join("target/release-lto/xtask").exists(), "the xtask is not built");
    let rpm = rpm_path(&root);
    assert_eq!(rpm_q(&rpm, &["--qf", "%{SUMMARY}"]), "A small application that prints its name in lower or upper case");
    assert!(rpm_q(&rpm, &["--qf", "%{DESCRIPTION}"]).contains("It has two modes."));
    let sections = sh(&root, "readelf", &["-S", "-W", bin.to_str().unwrap()]);
    assert!(sections.contains(".debug_gdb_scripts"), "the fixture no longer has what strip leaves:\n{sections}");

    // The release profile with line tables, from the command line: no features (loud is the
    // table's), the default profile, an explicit target.
    let triple = sh(&root, "rustc", &["--print", "host-tuple"]);
    trainyard(&root, &["build_rpms", "--target", &triple, "--no-default-features", "--no-deps"], &[]).ok();
    let bin = root.join(format!("target/{triple}/release/app"));
    assert_eq!(sh(&root, bin.to_str().unwrap(), &[]), "APP");
    assert!(rpm_q(rpm_path(&root), &["-l"]).contains("/usr/bin/app"));
    // CARGO_BUILD_TARGET is honoured the same way.
    std::fs::remove_dir_all(root.join(format!("target/{triple}"))).unwrap();
    trainyard(&root, &["build"], &[("CARGO_BUILD_TARGET", triple.as_str())]).ok();
    assert!(bin.exists(), "CARGO_BUILD_TARGET builds into target/TRIPLE/release");

    // build.target-dir of .cargo/config.toml is where the binaries are looked for.
    write(&root.join(".cargo/config.toml"), "[build]\ntarget-dir = \"out\"\n");
    trainyard(&root, &["build_rpms", "--no-deps"], &[]).ok();
    assert!(root.join("out/release/app").exists());
    assert!(root.join("out/rpms/prod").read_dir().unwrap().count() > 0);

    // Bad input: exit 2, nothing built.
    trainyard(&root, &["build", "--profile", "--nope"], &[]).fails_with(2);
    trainyard(&root, &["build", "--profile", "../x"], &[]).fails_with(2).says("not a profile");
}

/// The trainyard checkout these tests run from (`--trainyard-path`).
fn this_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `git status --porcelain` with untracked files, one path a line.
fn status(dir: &Path) -> Vec<String> {
    let out = git(dir, &["status", "--porcelain", "--untracked-files=all"]);
    let mut lines: Vec<String> = out.lines().map(|l| l[3..].to_string()).collect();
    lines.sort();
    lines
}

/// The README's "Adopting trainyard" steps on a single crate (no `[workspace]` table, a
/// registry dependency, an existing `.cargo/config.toml`, `vX.Y.Z` tags, branch `trunk`).
#[test]
fn adopting_a_single_crate() {
    let tmp = TempDir::new("adopt-single");
    let registry = tmp.path().join("registry");
    write_registry(&registry, &[RegistryCrate { name: "leftpad", version: "1.0.0", deps: &[] }]);
    let root = tmp.path().join("hexdump");
    write(
        &root.join("Cargo.toml"),
        "[package]\nname = \"hexdump\"\nversion = \"0.4.1\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"Dumps bytes in hex.\"\n\n[dependencies]\nleftpad = \"1\"\n",
    );
    write(&root.join("src/main.rs"), &MAIN.replace("app {}", "hexdump {}"));
    write(&root.join(".gitignore"), "/target\n");
    write(
        &root.join(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\nlocal-registry = \"{}\"\n",
            registry.display()
        ),
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&root, &cargo, &["generate-lockfile", "--quiet"]);
    sh(&root, "git", &["init", "-q", "-b", "trunk"]);
    commit_all(&root, "hexdump");
    git(&root, &["tag", "-a", "-m", "0.4.1", "v0.4.1"]);
    let lock = read(&root.join("Cargo.lock"));
    let repo = this_repo();
    let path_arg = repo.to_str().unwrap();

    // --dry-run changes nothing; a dirty tree is refused, by the dry-run as by the run.
    let before = snapshot(&root);
    trainyard(&root, &["init", "--trainyard-path", path_arg, "--dry-run"], &[])
        .ok()
        .says("would write: ")
        .says("xtask/Cargo.toml (");
    assert!(snapshot(&root) == before);
    write(&root.join("src/main.rs"), "fn main() {}\n");
    trainyard(&root, &["init", "--trainyard-path", path_arg], &[]).fails_with(2).says("uncommitted changes");
    trainyard(&root, &["init", "--trainyard-path", path_arg, "--dry-run"], &[])
        .fails_with(2)
        .says("uncommitted changes");
    git(&root, &["checkout", "--", "src/main.rs"]);
    assert!(snapshot(&root) == before);
    trainyard(&root, &["init"], &[]).fails_with(2).says("--trainyard-git");

    // The run writes exactly the files its dry-run printed, then fits the xtask's lock.
    let (_, _, executed) = dry_run_equals_run(&root, &["init", "--trainyard-path", path_arg, "--makefile"], &[]);
    assert!(executed.iter().any(|l| l.starts_with("write: ") && l.contains("Makefile (")), "{executed:?}");
    assert!(executed.iter().any(|l| l.starts_with("run: ") && l.contains("update --workspace")), "{executed:?}");
    assert_eq!(
        status(&root),
        [
            ".cargo/config.toml",
            "Cargo.toml",
            "Makefile",
            "reqs/dev-reqs.txt",
            "reqs/prod-reqs.txt",
            "reqs/stage-reqs.txt",
            "xtask/.gitignore",
            "xtask/Cargo.lock",
            "xtask/Cargo.toml",
            "xtask/src/main.rs",
        ]
    );
    assert_eq!(read(&root.join("Cargo.lock")), lock, "the application's lock is unchanged");
    let manifest = read(&root.join("Cargo.toml"));
    assert!(manifest.contains("tag-prefix = \"v\""), "{manifest}");
    assert!(manifest.contains("default-branch = \"trunk\""), "{manifest}");
    assert!(manifest.contains("[package.metadata.trainyard.rpm]"), "{manifest}");
    assert!(read(&root.join("reqs/prod-reqs.txt")).contains("leftpad == 1.0.0"));
    let config = read(&root.join(".cargo/config.toml"));
    assert!(
        config.starts_with("[source.crates-io]")
            && config.contains("xtask = \"run --quiet --manifest-path xtask/Cargo.toml --\"")
    );
    commit_all(&root, "Adopt trainyard");
    // Idempotent: a second run has nothing to do and changes nothing.
    trainyard(&root, &["init", "--trainyard-path", path_arg, "--makefile"], &[]).ok().says("nothing to do");
    assert_eq!(status(&root), Vec::<String>::new());
    let make = read(&root.join("Makefile"));
    assert!(make.contains("cargo xtask $@ $(MAKEOVERRIDES)"));
    // The pins init wrote are what `pin` writes: CI's `pin --check` passes on them (it failed on
    // hexyl right after init, wanting a blank line under the header).
    for channel in ["CHANNEL=prod", "CHANNEL=stage"] {
        trainyard(&root, &["pin", channel, "--check"], &[]).ok().says("up to date");
    }
    trainyard(&root, &["pin", "CHANNEL=prod"], &[]).ok();
    assert_eq!(status(&root), Vec::<String>::new(), "pin rewrote the file init wrote");

    // One commit after v0.4.1: the next train's dev build, on the tags' three-part precision.
    let rpm_version = trainyard(&root, &["version", "--format", "rpm"], &[]).ok().stdout.trim().to_string();
    assert!(rpm_version.starts_with("0.5") && rpm_version.ends_with("~~dev1"), "{rpm_version}");
    trainyard(&root, &["build_rpms"], &[]).ok();
    let arch = sh(&root, "uname", &["-m"]);
    assert!(root.join(format!("target/rpms/prod/hexdump-{rpm_version}-1.{arch}.rpm")).exists());
    assert!(root.join("target/rpms/prod/rust-leftpad-devel-1.0.0-1.noarch.rpm").exists());
    if is_root() {
        trainyard(&root, &["mock"], &[]).ok().says("hexdump --version");
    } else {
        eprintln!("NOTICE: skipping mock: it needs root");
    }
    assert_eq!(status(&root), Vec::<String>::new(), "git status is clean after the build");
    assert_eq!(read(&root.join("Cargo.lock")), lock);
}

/// The same steps on a virtual workspace with two binaries, through the `cargo xtask` alias init
/// wrote (cargo offline: trainyard's dependencies come from cargo's cache, never a registry).
#[test]
fn adopting_a_virtual_workspace_through_cargo_xtask() {
    let tmp = TempDir::new("adopt-virtual");
    let root = tmp.path().join("tools");
    write(&root.join("Cargo.toml"), "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n");
    for name in ["alpha", "beta"] {
        write(
            &root.join(format!("crates/{name}/Cargo.toml")),
            &format!("[package]\nname = \"{name}\"\nversion = \"1.2.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"The {name} tool.\"\n"),
        );
        write(&root.join(format!("crates/{name}/src/main.rs")), &MAIN.replace("app {}", &format!("{name} {{}}")));
    }
    write(&root.join(".gitignore"), "/target\n");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&root, &cargo, &["generate-lockfile", "--quiet"]);
    git_init(&root);
    commit_all(&root, "tools");
    git(&root, &["tag", "-a", "-m", "1.2", "rpm-1.2"]);
    let lock = read(&root.join("Cargo.lock"));

    let repo = this_repo();
    trainyard(&root, &["init", "--trainyard-path", repo.to_str().unwrap()], &[]).ok();
    let manifest = read(&root.join("Cargo.toml"));
    assert!(manifest.contains("exclude = [\"xtask\"]") && manifest.contains("tag-prefix = \"rpm-\""), "{manifest}");
    for name in ["alpha", "beta"] {
        assert!(read(&root.join(format!("crates/{name}/Cargo.toml"))).contains("[package.metadata.trainyard.rpm]"));
    }
    assert_eq!(read(&root.join("Cargo.lock")), lock);
    commit_all(&root, "Adopt trainyard");

    // A target directory kept between runs (a user's CARGO_TARGET_DIR, as far as trainyard is
    // concerned): the xtask compiles trainyard once, not on every run of the suite.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("adopt-virtual-workspace");
    let _ = std::fs::remove_dir_all(target.join("rpms"));
    let xtask = |args: &[&str]| {
        let mut all = vec!["xtask"];
        all.extend_from_slice(args);
        let out = std::process::Command::new(&cargo)
            .args(&all)
            .current_dir(&root)
            .env("CARGO_NET_OFFLINE", "true")
            .env("XDG_CACHE_HOME", tmp.path().join(".cache"))
            .env("CARGO_TARGET_DIR", &target)
            .envs(git_env())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "cargo xtask {args:?} failed:\n{text}");
        text
    };
    xtask(&["build_rpms"]);
    let collection: serde_json::Value = serde_json::from_str(&read(&target.join("rpms/prod/collection.json"))).unwrap();
    let mut names: Vec<String> = collection["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["name"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    names.sort();
    assert_eq!(names, ["alpha workspace", "beta workspace"], "the xtask is neither packaged nor collected");
    assert_eq!(collection["version"], "1.3~~dev1", "one commit after rpm-1.2");
    if is_root() {
        let out = xtask(&["mock"]);
        assert!(out.contains("alpha --version") && out.contains("beta --version"), "{out}");
    }
    assert_eq!(read(&root.join("Cargo.lock")), lock, "the xtask's graph stays out of the application's lock");
    assert_eq!(status(&root), Vec::<String>::new());
}
