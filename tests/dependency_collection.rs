//! The dependency packages of a collection (`rust-NAME-devel`) are safe to publish: the same
//! name-version-release has the same bytes on any application commit; a crate at two
//! semver-incompatible versions gets two installable packages (Fedora's compat names); all of
//! them install together with dnf into an empty root, and the workspace rebuilds offline from
//! what they installed — with the crate only Windows uses packaged as a stand-in.
//!
//! Needs `rpm`, `createrepo_c` and `dnf` (Debian packages `rpm`, `createrepo-c`, `dnf`).

use crate::support::workspace as support;

use crate::support::rpm as rpm_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rpm_support::{lines, rpm_q, tool};
use support::*;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn rpms(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), p))
        .collect()
}

const DEPENDENCY_RPMS: [&str; 5] = [
    "rust-devonly-devel-1.0.0-1.noarch.rpm",
    "rust-leftpad-devel-1.0.0-1.noarch.rpm",
    "rust-padcore-devel-0.4.0-1.noarch.rpm",
    "rust-padcore0.3-devel-0.3.0-1.noarch.rpm",
    "rust-winonly-stub-1.0.0-1.noarch.rpm",
];

/// `app` uses padcore 0.4 and leftpad 1, which uses padcore 0.3; winonly only on Windows;
/// devonly only in tests.
fn fixture(dir: &Path) -> PathBuf {
    let registry = dir.join("registry");
    write_registry(
        &registry,
        &[
            RegistryCrate { name: "padcore", version: "0.3.0", deps: &[] },
            RegistryCrate { name: "padcore", version: "0.4.0", deps: &[] },
            RegistryCrate { name: "leftpad", version: "1.0.0", deps: &[("padcore", "0.3")] },
            RegistryCrate { name: "winonly", version: "1.0.0", deps: &[] },
            RegistryCrate { name: "devonly", version: "1.0.0", deps: &[] },
        ],
    );
    let root = dir.join("portal");
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\n",
    );
    write(
        &root.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"Pads\"\n\n\
         [dependencies]\nleftpad = \"1\"\npadcore = \"0.4\"\n\n\
         [target.'cfg(windows)'.dependencies]\nwinonly = \"1\"\n\n\
         [dev-dependencies]\ndevonly = \"1\"\n\n\
         [package.metadata.trainyard.rpm]\n",
    );
    write(
        &root.join("app/src/main.rs"),
        "fn main() {\n    println!(\"leftpad {} padcore {}\", leftpad::VERSION, padcore::VERSION);\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn dev() {\n        assert_eq!(devonly::VERSION, \"1.0.0\");\n    }\n}\n",
    );
    write(&root.join(".gitignore"), "/target\n");
    write(&root.join("reqs/dev-reqs.txt"), "");
    write(&root.join("reqs/stage-reqs.txt"), "");
    write(&root.join("reqs/prod-reqs.txt"), "");
    use_registry(&root, &registry);
    sh(&root, &cargo(), &["generate-lockfile", "--quiet", "--offline"]);
    git_init(&root);
    commit_all(&root, "portal");
    git(&root, &["tag", "-a", "-m", "release 0.1", "rpm-0.1"]);
    root
}

/// Commits everything at a commit time a day later than the fixture's fixed one.
fn commit_a_day_later(root: &Path, message: &str) {
    git(root, &["add", "-A"]);
    let out = Command::new("git")
        .args(["commit", "-q", "-m", message])
        .current_dir(root)
        .envs(git_env())
        .env("GIT_COMMITTER_DATE", "2030-01-02T00:00:00Z")
        .env("GIT_AUTHOR_DATE", "2030-01-02T00:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn build_time(rpm: &Path) -> String {
    rpm_q(rpm, &["--queryformat", "%{BUILDTIME}"])
}

#[test]
fn dependency_packages_are_the_same_bytes_on_every_commit_and_install_together() {
    let tmp = TempDir::new("dependency-collection");
    let root = fixture(tmp.path());
    trainyard(&root, &["build_rpms", "RPM_CHANNEL=dev"], &[]).ok();
    let out = root.join("target/rpms/dev");
    let first = rpms(&out);
    for name in DEPENDENCY_RPMS {
        assert!(first.contains_key(name), "{name} not in {:?}", first.keys());
    }
    assert_eq!(first.len(), DEPENDENCY_RPMS.len() + 1, "{:?}", first.keys());
    let app_first = first.keys().find(|n| n.starts_with("app-")).unwrap().clone();
    let kept = tmp.path().join("first");
    std::fs::create_dir_all(&kept).unwrap();
    for name in DEPENDENCY_RPMS {
        std::fs::copy(&first[name], kept.join(name)).unwrap();
    }
    let app_time = build_time(&first[&app_first]);

    // Both padcore series install side by side: each its own name, its own directory.
    let compat = &first["rust-padcore0.3-devel-0.3.0-1.noarch.rpm"];
    assert!(lines(&rpm_q(compat, &["--provides"])).contains("crate(padcore) = 0.3.0"));
    assert_eq!(
        lines(&rpm_q(&first["rust-leftpad-devel-1.0.0-1.noarch.rpm"], &["--requires"]))
            .into_iter()
            .filter(|r| r.contains("crate("))
            .collect::<Vec<_>>(),
        ["(crate(padcore) >= 0.3.0 with crate(padcore) < 0.4.0~)"]
    );
    // The crate only Windows compiles: its manifest and checksum, no sources, no crate() capability.
    let stub = &first["rust-winonly-stub-1.0.0-1.noarch.rpm"];
    let stub_files: Vec<String> = lines(&rpm_q(stub, &["--list"])).into_iter().collect();
    assert_eq!(
        stub_files,
        ["", "/.cargo-checksum.json", "/Cargo.toml", "/src", "/src/lib.rs"]
            .map(|f| format!("/usr/share/cargo/registry/winonly-1.0.0{f}"))
    );
    assert!(!rpm_q(stub, &["--provides"]).contains("crate("));
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rpmlint.toml");
    for name in DEPENDENCY_RPMS {
        let (_, text) = tool("rpmlint", &["-c", policy.to_str().unwrap(), first[name].to_str().unwrap()]);
        assert!(text.contains(" 0 errors"), "rpmlint {name}:\n{text}");
    }

    // A new commit a day later: the application's package changes (its build time is the
    // commit's), the dependency packages are not even encoded again...
    write(&root.join("app/src/main.rs"), &read(&root.join("app/src/main.rs")).replace("leftpad {}", "leftpad: {}"));
    commit_a_day_later(&root, "app: wording");
    let run = trainyard(&root, &["build_rpms", "RPM_CHANNEL=dev"], &[]);
    run.ok().says(&format!("1 encoded, {} from the cache", DEPENDENCY_RPMS.len()));
    let second = rpms(&out);
    let app_second = second.keys().find(|n| n.starts_with("app-")).unwrap();
    assert_ne!(build_time(&second[app_second]), app_time, "the application's timestamp moved");
    // ...and encoded from scratch into another directory, they are the same bytes.
    let fresh = root.join("target/fresh");
    trainyard(&root, &["build_rpms", "RPM_CHANNEL=dev", "--out", fresh.to_str().unwrap()], &[]).ok();
    for name in DEPENDENCY_RPMS {
        let a = std::fs::read(kept.join(name)).unwrap();
        assert!(a == std::fs::read(out.join(name)).unwrap(), "{name} changed with the cache");
        assert!(a == std::fs::read(fresh.join(name)).unwrap(), "{name} changed when encoded again");
    }

    // All the dependency packages install together into an empty root, in one transaction.
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for name in DEPENDENCY_RPMS {
        std::fs::copy(kept.join(name), repo.join(name)).unwrap();
    }
    let (ok, text) = tool("createrepo_c", &["--quiet", repo.to_str().unwrap()]);
    assert!(ok, "{text}");
    let installroot = tmp.path().join("installroot");
    let names: Vec<String> =
        DEPENDENCY_RPMS.iter().map(|f| rpm_q(repo.join(f), &["--queryformat", "%{NAME}"])).collect();
    let out = Command::new("dnf")
        .args(["-y", "-q", "--releasever", "1", "--setopt=reposdir=/dev/null", "--disablerepo=*", "--nogpgcheck"])
        .arg(format!("--setopt=cachedir={}", tmp.path().join("dnf-cache").display()))
        .arg(format!("--installroot={}", installroot.display()))
        .arg(format!("--repofrompath=deps,file://{}", repo.display()))
        .args(["--enablerepo=deps", "--setopt=install_weak_deps=False", "install"])
        .args(&names)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dnf install {names:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, installed) = tool("rpm", &["--root", installroot.to_str().unwrap(), "-qa", "--queryformat", "%{NAME}\n"]);
    assert!(ok, "{installed}");
    for name in &names {
        assert!(lines(&installed).contains(name), "{name} not installed: {installed}");
    }

    // The workspace rebuilds (and its tests build) offline from what they installed.
    let rebuild = tmp.path().join("rebuild");
    build_offline(&root, &rebuild, ("installed", &installroot.join("usr/share/cargo/registry")));
    assert_eq!(sh(&rebuild, rebuild.join("target/debug/app").to_str().unwrap(), &[]), "leftpad: 1.0.0 padcore 0.4.0");
    sh(&rebuild, &cargo(), &["test", "--quiet", "--locked", "--offline"]);

    // Why the stand-in: without the crate only Windows uses, cargo cannot resolve the lock file.
    let registry = installroot.join("usr/share/cargo/registry");
    std::fs::rename(registry.join("winonly-1.0.0"), tmp.path().join("winonly-aside")).unwrap();
    let out = Command::new(cargo()).args(["build", "--locked", "--offline"]).current_dir(&rebuild).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("winonly"), "{}", String::from_utf8_lossy(&out.stderr));
}
