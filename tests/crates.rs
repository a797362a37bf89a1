//! End-to-end tests of `release publish-crates` and internal projects taken from a registry,
//! against a sparse cargo registry the test serves on 127.0.0.1 (tests/support/registry.rs):
//! real `cargo publish`, real `cargo build` against what was published.

use crate::support::workspace as support;

use crate::support::registry;

use std::path::{Path, PathBuf};

use registry::Registry;
use support::*;

const TOKEN: &str = "corp-secret-token-5d1f";

fn env_of(reg: &Registry) -> Vec<(String, String)> {
    reg.env("corp")
}

fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    trainyard(dir, args, &env)
}

fn cargo(dir: &Path, args: &[&str], env: &[(String, String)]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// server-core: a library whose `VERSION_TEXT` says which release it is, published to `corp`.
fn server_core(dir: &Path, version: &str, text: &str) {
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"server-core\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"core\"\n\n[workspace.metadata.trainyard]\nregistry = \"corp\"\n"
        ),
    );
    write(&dir.join("src/lib.rs"), &format!("pub const VERSION_TEXT: &str = \"{text}\";\n"));
    write(&dir.join(".gitignore"), "/target\n");
}

fn server_core_repo(dir: &Path, env: &[(String, String)]) -> PathBuf {
    let core = dir.join("server-core");
    server_core(&core, "1.0.0", "1.0");
    cargo(&core, &["generate-lockfile"], env);
    git_init(&core);
    commit_all(&core, "server-core 1.0");
    git(&core, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    core
}

#[test]
fn an_internal_project_from_the_registry_is_built_by_version_and_overridden_by_its_tag() {
    let reg = Registry::start(TOKEN);
    let env = env_of(&reg);
    let tmp = TempDir::new("crates-internal");
    let core = server_core_repo(tmp.path(), &env);

    let plan = run(&core, &["release", "publish-crates", "--dry-run"], &env);
    plan.ok().says("server-core 1.0.0").says("would run: ").says("publish --registry corp --package server-core");
    assert!(reg.publishes().is_empty(), "a dry run published");
    // --trigger as `release publish` has it: a push build publishes no crate; a tag build does.
    let push = run(&core, &["release", "publish-crates", "--trigger", "push"], &env);
    push.fails_with(2).says("a push build publishes no crate").says("help:");
    run(&core, &["release", "publish-crates", "--trigger", "tag", "--dry-run"], &env).ok().says("would run: ");
    assert!(reg.publishes().is_empty(), "a refused or dry run published");
    let published = run(&core, &["release", "publish-crates"], &env);
    published.ok().says("server-core 1.0.0: published to corp");
    assert!(!published.output().contains(TOKEN), "the token was printed");
    assert_eq!(reg.publishes(), [("server-core".to_string(), "1.0.0".to_string())]);
    assert_eq!(reg.tokens_seen(), [TOKEN]);
    assert_eq!(tracked_changes(&core), "");

    // rpm-2.0 of server-core is tagged, not published: only an override reaches it.
    server_core(&core, "2.0.0", "2.0");
    cargo(&core, &["generate-lockfile", "--offline"], &env);
    commit_all(&core, "server-core 2.0");
    git(&core, &["tag", "-a", "-m", "2.0", "rpm-2.0"]);

    let portal = tmp.path().join("account-portal");
    write(
        &portal.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"account-portal\"\nversion = \"1.2.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nserver-core = {{ version = \">=1.0\", registry = \"corp\" }}\n\n\
             [workspace.metadata.trainyard.internal.server-core]\ngit = \"file://{}\"\nregistry = \"corp\"\n",
            core.display()
        ),
    );
    write(
        &portal.join("src/main.rs"),
        "fn main() {\n    println!(\"account-portal using server-core {}\", server_core::VERSION_TEXT);\n}\n",
    );
    write(&portal.join(".gitignore"), "/target\n");
    cargo(&portal, &["generate-lockfile"], &env);
    git_init(&portal);
    commit_all(&portal, "account-portal");
    let says = || sh(&portal, portal.join("target/release/account-portal").to_str().unwrap(), &[]);

    run(&portal, &["build"], &env).ok();
    assert_eq!(says(), "account-portal using server-core 1.0");
    run(&portal, &["build", "SERVER_CORE=rpm-2.0"], &env).ok();
    assert_eq!(says(), "account-portal using server-core 2.0");
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&portal.join("target/trainyard/build-dev.json"))).unwrap();
    assert_eq!(manifest["internal"][0]["requested_ref"], "rpm-2.0");
    assert_eq!(tracked_changes(&portal), "");
    // Nothing was published by building.
    assert_eq!(reg.publishes().len(), 1);
}

#[test]
fn an_interrupted_publish_resumes_without_publishing_twice() {
    interrupted_then_resumed(&[], "--manifest-path");
}

/// The same with a cargo that reads trainyard's lock file through `resolver.lockfile-path`
/// (1.97+, here the nightly toolchain): every cargo call shows it.
#[test]
fn with_resolver_lockfile_path_every_publish_reads_trainyards_lock() {
    let Some(cargo) = lockfile_path_cargo() else {
        eprintln!("NOTICE: skipping: no cargo 1.97+ (rustup toolchain install nightly)");
        return;
    };
    interrupted_then_resumed(
        &[("CARGO".to_string(), cargo), ("RUSTUP_TOOLCHAIN".to_string(), "nightly".to_string())],
        "resolver.lockfile-path=",
    );
}

fn lockfile_path_cargo() -> Option<String> {
    let out = std::process::Command::new("rustup").args(["which", "--toolchain", "nightly", "cargo"]).output().ok()?;
    let cargo = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let v = std::process::Command::new(&cargo).arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&v.stdout).to_string();
    let minor: u64 = text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()?;
    (out.status.success() && minor >= 97).then_some(cargo)
}

fn interrupted_then_resumed(extra_env: &[(String, String)], mark: &str) {
    let reg = Registry::start(TOKEN);
    let mut env = env_of(&reg);
    env.extend(extra_env.iter().cloned());
    let tmp = TempDir::new("crates-resume");
    let root = tmp.path().join("libs");
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"wire\", \"codec\", \"tools\"]\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nregistry = \"corp\"\n",
    );
    // codec needs wire: wire goes first although it sorts last.
    write(
        &root.join("codec/Cargo.toml"),
        "[package]\nname = \"codec\"\nversion = \"0.4.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"c\"\n\n[dependencies]\nwire = { path = \"../wire\", version = \"0.4.0\", registry = \"corp\" }\n",
    );
    write(&root.join("codec/src/lib.rs"), "pub use wire::ID;\n");
    write(
        &root.join("wire/Cargo.toml"),
        "[package]\nname = \"wire\"\nversion = \"0.4.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"w\"\n",
    );
    write(&root.join("wire/src/lib.rs"), "pub const ID: u8 = 4;\n");
    // Not for the registry.
    write(
        &root.join("tools/Cargo.toml"),
        "[package]\nname = \"tools\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    write(&root.join("tools/src/main.rs"), "fn main() {}\n");
    write(&root.join(".gitignore"), "/target\n");
    cargo(&root, &["generate-lockfile"], &env);
    git_init(&root);
    commit_all(&root, "libs");
    let lock_before = read(&root.join("Cargo.lock"));

    reg.fail_next_publish_of("codec");
    let failed = run(&root, &["release", "publish-crates"], &env);
    failed.fails_with(1).says("publishing codec 0.4.0 to corp failed").says("published: wire 0.4.0").says("help:");
    assert_eq!(reg.publishes(), [("wire".to_string(), "0.4.0".to_string())]);

    // The second run does what its dry-run printed: trainyard's copy of the lock file when the
    // cargo reads one, then the publish of the crate the registry lacks, and nothing else.
    let pairs: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (plan, resumed, executed) = dry_run_equals_run(&root, &["release", "publish-crates"], &pairs);
    plan.says("wire 0.4.0: already in corp, skipped").says("--package codec");
    assert!(!plan.output().contains("--package tools"));
    let publishes: Vec<&String> = executed.iter().filter(|l| l.contains(" publish --registry corp ")).collect();
    assert_eq!(publishes.len(), 1, "{executed:?}");
    assert!(publishes[0].contains("--package codec") && publishes[0].contains(mark), "{executed:?}");
    assert!(resumed.stderr.contains(mark), "{mark} not in:\n{}", resumed.stderr);
    resumed.ok().says("wire 0.4.0: already in corp, skipped").says("codec 0.4.0: published to corp");
    assert_eq!(
        reg.publishes(),
        [("wire".to_string(), "0.4.0".to_string()), ("codec".to_string(), "0.4.0".to_string())]
    );
    for r in [&failed, &plan, &resumed] {
        assert!(!r.output().contains(TOKEN), "the token was printed");
    }
    assert_eq!(read(&root.join("Cargo.lock")), lock_before);
    assert_eq!(tracked_changes(&root), "");
}

#[test]
fn without_a_registry_in_the_configuration_nothing_is_published() {
    let tmp = TempDir::new("crates-bad");
    let root = leftpad_workspace(tmp.path(), "", "");
    let before = snapshot(&root);
    run(&root, &["release", "publish-crates"], &[]).fails_with(2).says("names no registry").says("help:");
    let cfg =
        read(&root.join("Cargo.toml")).replace("name = \"portal\"", "name = \"portal\"\nregistry = \"--index=evil\"");
    write(&root.join("Cargo.toml"), &cfg);
    commit_all(&root, "bad registry");
    let before_bad = snapshot(&root);
    run(&root, &["release", "publish-crates"], &[]).fails_with(2).says("is not a registry name");
    assert_eq!(snapshot(&root), before_bad);
    drop(before);
}
