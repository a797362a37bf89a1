//! What the plan phase says before anything is done: the toolchain against the members'
//! `rust-version`, and a dry-run that never says it is building.

use crate::support::demo::Demo;
use crate::support::workspace::*;

/// A workspace whose crate needs a rustc that does not exist yet: every target that builds
/// refuses it as a missing tool (exit 3), naming the crate, its rust-version, the rustc found
/// and how to get a newer one, before writing anything (cargo would refuse it after trainyard
/// had started writing target/trainyard/CHANNEL).
#[test]
fn a_rust_version_above_the_toolchain_is_refused_before_anything_is_written() {
    let tmp = TempDir::new("preflight-rust-version");
    // 1.999, not 99.0: cargo refuses a rust-version of another major than the edition's (1.x).
    let root = leftpad_workspace(tmp.path(), "rust-version = \"1.999\"", "");
    let rustc = sh(&root, "rustc", &["-vV"]);
    let found = rustc.lines().find_map(|l| l.strip_prefix("release: ")).expect("rustc -vV has a release line");
    let before = snapshot(&root);
    for args in [
        &["build"][..],
        &["build", "CHANNEL=prod", "--dry-run"],
        &["build_rpms", "RPM_CHANNEL=prod"],
        &["build_rpms", "RPM_CHANNEL=prod", "--dry-run"],
        &["mock", "RPM_CHANNEL=prod"],
        &["dist"],
        &["docs", "--docs-dir", "site"],
        &["tests"],
        &["image", "--dry-run"],
    ] {
        // No install in a test (`tests` would install what it misses).
        let run = trainyard(&root, args, &[("TRAINYARD_NO_INSTALL", "1")]);
        run.fails_with(3)
            .says("crate `app` needs rustc 1.999.0 (rust-version in app/Cargo.toml)")
            .says(&format!("the toolchain here is rustc {found}"))
            .says("help: update the toolchain: rustup update, or install that one: rustup toolchain install 1.999");
        assert!(!run.output().contains("building"), "{args:?}: {}", run.output());
        assert!(!root.join("target/trainyard").exists(), "{args:?} created target/trainyard");
        assert!(!root.join("target/rpms").exists(), "{args:?} created target/rpms");
        assert!(snapshot(&root) == before, "{args:?} changed the workspace");
    }

    // A rust-version the toolchain reaches goes through the check.
    let ok = TempDir::new("preflight-rust-version-ok");
    let root = leftpad_workspace(ok.path(), "rust-version = \"1.60\"", "");
    trainyard(&root, &["build", "--dry-run"], &[]).ok().says("would run: ");
}

/// A dry-run builds nothing, so it never says it is building: the plan says what would be.
#[test]
fn a_dry_run_says_what_would_be_built_never_that_it_is_building() {
    let d = Demo::new("preflight-dry-run-words");
    let dry = d.run(&["build_rpms", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=prod", "--dry-run"]);
    dry.ok().says("plan: build account-portal for prod").says("would run: ");
    assert!(!dry.output().contains("building"), "{}", dry.output());
    let dry = d.run(&["build", "SERVER_CORE=rpm-2.0", "CHANNEL=prod", "--dry-run"]);
    dry.ok().says("plan: build account-portal for prod");
    assert!(!dry.output().contains("building"), "{}", dry.output());
    if is_root() {
        // mock's preflight mounts an overlay: root only, as the mock tests are.
        let dry = d.run(&["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=prod", "--dry-run"]);
        dry.ok().says("plan: build account-portal for prod").says("would sandbox: install");
        assert!(!dry.output().contains("building"), "{}", dry.output());
    }
    // The run says it is building, and does.
    d.run(&["build", "SERVER_CORE=rpm-2.0", "CHANNEL=prod"]).ok().says("trainyard: building account-portal for prod");
}
