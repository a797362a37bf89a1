//! End-to-end tests of adopting trainyard into workspaces shaped as real projects are: an xtask
//! kept out of the product, builds with the features, profiles and targets projects ship with.

#[path = "support/workspace.rs"]
mod support;

#[path = "support/rpm.rs"]
mod rpm_support;

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
