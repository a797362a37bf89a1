//! `Provides: bundled(crate(NAME)) = VERSION` lists exactly the crates linked into the packaged
//! binary: checked against `cargo tree -e normal,no-proc-macro` (cargo's own view of what a
//! build of the package links for the host target) on a fixture with every kind of dependency
//! that is not linked, and on this repository's own packaged crate.

use crate::support::workspace as support;

use crate::support::rpm as rpm_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rpm_support::{lines, rpm_q};
use support::*;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn host() -> String {
    let out = sh(Path::new("."), "rustc", &["-vV"]);
    out.lines().find_map(|l| l.strip_prefix("host: ")).unwrap().trim().to_string()
}

/// `bundled(crate(NAME)) = VERSION` for every crate `cargo tree` says a build of `package`
/// links, the package itself left out.
fn cargo_tree_bundled(workspace: &Path, package: &str) -> BTreeSet<String> {
    let manifest = workspace.join("Cargo.toml");
    let out = sh(
        workspace,
        &cargo(),
        &[
            "tree",
            "--locked",
            "--offline",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "-e",
            "normal,no-proc-macro",
            "--target",
            &host(),
            "-p",
            package,
            "--prefix",
            "none",
        ],
    );
    out.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (name, version) = (words.next()?, words.next()?.strip_prefix('v')?);
            let version = trainyard::version::rpm_of_cargo(version);
            (name != package).then(|| format!("bundled(crate({name})) = {version}"))
        })
        .collect()
}

fn bundled(provides: &BTreeSet<String>) -> BTreeSet<String> {
    provides.iter().filter(|p| p.starts_with("bundled(")).cloned().collect()
}

/// A path crate `name` under `root/libs/` with `manifest_tail` after its [package] table.
fn lib(root: &Path, name: &str, manifest_tail: &str, source: &str) {
    write(
        &root.join(format!("libs/{name}/Cargo.toml")),
        &format!("[package]\nname = \"{name}\"\nversion = \"0.{}.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n{manifest_tail}", name.len()),
    );
    write(&root.join(format!("libs/{name}/src/lib.rs")), source);
}

#[test]
fn bundled_provides_are_the_linked_crates_only() {
    let tmp = TempDir::new("bundled");
    let root = tmp.path().join("ws");
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\", \"libs/*\"]\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nname = \"ws\"\n",
    );
    write(
        &root.join("app/Cargo.toml"),
        r#"[package]
name = "app"
version = "0.1.0"
edition = "2021"
license = "MIT"
description = "Links some crates"

[dependencies]
linked = { path = "../libs/linked" }
derive-it = { path = "../libs/derive-it" }
unused-opt = { path = "../libs/unused-opt", optional = true }

[target.'cfg(windows)'.dependencies]
winonly = { path = "../libs/winonly" }

[target.'cfg(unix)'.dependencies]
unixonly = { path = "../libs/unixonly" }

[build-dependencies]
buildonly = { path = "../libs/buildonly" }

[dev-dependencies]
devonly = { path = "../libs/devonly" }

[package.metadata.trainyard.rpm]
"#,
    );
    write(&root.join("app/build.rs"), "fn main() {\n    buildonly::touch();\n}\n");
    write(&root.join("app/src/main.rs"), "fn main() {\n    derive_it::it!();\n    println!(\"{}\", linked::f());\n}\n");
    lib(
        &root,
        "linked",
        "\n[dependencies]\ndeep = { path = \"../deep\" }\n",
        "pub fn f() -> u32 {\n    deep::g()\n}\n",
    );
    lib(&root, "deep", "", "pub fn g() -> u32 {\n    7\n}\n");
    lib(
        &root,
        "derive-it",
        "\n[lib]\nproc-macro = true\n\n[dependencies]\nmacro-helper = { path = \"../macro-helper\" }\n",
        "use proc_macro::TokenStream;\n\n#[proc_macro]\npub fn it(_: TokenStream) -> TokenStream {\n    macro_helper::nothing().parse().unwrap()\n}\n",
    );
    lib(&root, "macro-helper", "", "pub fn nothing() -> &'static str {\n    \"\"\n}\n");
    for name in ["unused-opt", "winonly", "unixonly", "devonly"] {
        lib(&root, name, "", "pub fn h() {}\n");
    }
    lib(&root, "buildonly", "", "pub fn touch() {}\n");
    write(&root.join(".gitignore"), "/target\n");
    for channel in ["dev", "stage", "prod"] {
        write(&root.join(format!("reqs/{channel}-reqs.txt")), "");
    }
    sh(&root, &cargo(), &["generate-lockfile", "--quiet", "--offline"]);
    let lock = read(&root.join("Cargo.lock"));
    for name in ["winonly", "devonly", "buildonly", "unused-opt", "derive-it"] {
        assert!(lock.contains(&format!("name = \"{name}\"")), "{name} is in Cargo.lock: the test needs it there");
    }
    git_init(&root);
    commit_all(&root, "ws");

    trainyard(&root, &["build_rpms", "--no-deps", "--package", "app"], &[]).ok();
    let rpm: PathBuf = std::fs::read_dir(root.join("target/rpms/prod"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("app-"))
        .unwrap();
    let provided = bundled(&lines(&rpm_q(&rpm, &["--provides"])));
    assert_eq!(provided, cargo_tree_bundled(&root, "app"));
    assert_eq!(
        provided,
        ["deep", "linked", "unixonly"]
            .iter()
            .map(|n| format!("bundled(crate({n})) = 0.{}.0", n.len()))
            .collect::<BTreeSet<_>>(),
        "no dev, build, other-platform, disabled optional or proc-macro crate"
    );
}

/// This repository's own packaged crate: what `build_rpms` would provide for it is what
/// `cargo tree` says its build links.
#[test]
fn this_repositorys_rpm_bundles_what_cargo_tree_says() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let manifest = repo.join("Cargo.toml");
    let mut args = vec!["tree", "--locked", "--offline", "--manifest-path", manifest.to_str().unwrap()];
    let host = host();
    args.extend(["--target", &host]);
    args.extend(trainyard::rpmpkg::bundled::CARGO_TREE_ARGS);
    let workspace_tree = sh(&repo, &cargo(), &args);
    let ours: BTreeSet<String> = trainyard::rpmpkg::bundled::linked_crates(&workspace_tree, "trainyard-cli")
        .into_iter()
        .map(|(n, v)| format!("bundled(crate({n})) = {}", trainyard::version::rpm_of_cargo(&v)))
        .collect();
    assert!(ours.iter().any(|p| p.starts_with("bundled(crate(zstd)) = ")), "{ours:?}");
    let tree = cargo_tree_bundled(&repo, "trainyard-cli");
    assert_eq!(ours, tree);
    let lock = read(&repo.join("Cargo.lock"));
    // Cargo.lock also holds what only builds the binary (zstd's C compiler driver, proc-macros):
    // not linked, so not bundled.
    for absent in ["cc", "syn", "proc-macro2"] {
        assert!(lock.contains(&format!("name = \"{absent}\"")), "{absent} is no longer in Cargo.lock");
        assert!(!ours.iter().any(|p| p.starts_with(&format!("bundled(crate({absent}))"))), "{absent}");
    }
    let locked = lock.matches("[[package]]").count();
    assert!(ours.len() + 10 < locked, "{} bundled of {locked} locked: the lock file has more", ours.len());
}
