//! End-to-end tests of internal projects at refs (`SERVER_CORE=rpm-2.0`), on the
//! sample repositories `trainyard demo` creates, reached by file:// URLs.

use crate::support::workspace as support;

use crate::support::demo::Demo;
use std::path::PathBuf;
use support::*;

impl Demo {
    fn portal_says(&self) -> String {
        sh(&self.portal, &self.portal.join("target/release/account-portal").display().to_string(), &[])
    }

    fn manifest(&self, channel: &str) -> serde_json::Value {
        serde_json::from_str(&read(&self.portal.join(format!("target/trainyard/build-{channel}.json")))).unwrap()
    }

    fn core_commit(&self, reference: &str) -> String {
        self.commit(&self.core, reference)
    }

    fn clean(&self) {
        assert_eq!(tracked_changes(&self.portal), "", "tracked files changed");
    }
}

fn internal(m: &serde_json::Value, name: &str) -> serde_json::Value {
    m["internal"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()
}

#[test]
fn command_line_override_builds_against_the_tag_and_the_manifest_says_so() {
    let d = Demo::new("internal");
    d.run(&["build"]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 1.0");
    // The build exports the version computed from git (rpm-1.2 + one commit on main).
    let bin = d.portal.join("target/release/account-portal");
    assert_eq!(sh(&d.portal, bin.to_str().unwrap(), &["--version"]), "account-portal 1.3.0-0.dev.1");
    assert_eq!(d.manifest("dev")["version"], "1.3.0-0.dev.1");
    let p = internal(&d.manifest("dev"), "server-core");
    assert_eq!(p["origin"]["kind"], "cargo-toml");
    assert_eq!(p["requested_ref"], "rpm-1.0");
    assert_eq!(p["commit"], d.core_commit("rpm-1.0"));

    d.run(&["build", "SERVER_CORE=rpm-2.0"]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 2.0");
    let p = internal(&d.manifest("dev"), "server-core");
    assert_eq!(p["requested_ref"], "rpm-2.0");
    assert_eq!(p["origin"]["kind"], "command-line");
    assert_eq!(p["commit"], d.core_commit("rpm-2.0"));
    d.clean();

    // A branch works too, and dry-run shows the request and its origin.
    let run = d.run(&["build", "SERVER_CORE=main", "--dry-run"]);
    run.ok().says("--config").says("patch.");
    d.clean();
}

#[test]
fn environment_and_requirement_file_requests_and_the_command_line_wins() {
    let d = Demo::new("internal");
    trainyard(&d.portal, &["build"], &[("SERVER_CORE", "rpm-2.0")]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 2.0");
    assert_eq!(internal(&d.manifest("dev"), "server-core")["origin"]["kind"], "environment");

    write(&d.portal.join("reqs/stage-reqs.txt"), "# stage\nserver-core == 2.0\n");
    commit_all(&d.portal, "stage pins server-core 2.0");
    d.run(&["build", "CHANNEL=stage"]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 2.0");
    let p = internal(&d.manifest("stage"), "server-core");
    assert_eq!(p["origin"]["kind"], "reqs");
    assert_eq!(p["origin"]["file"], "reqs/stage-reqs.txt");
    assert_eq!(p["origin"]["line"], 2);

    trainyard(&d.portal, &["build", "CHANNEL=stage", "SERVER_CORE=rpm-1.0"], &[("SERVER_CORE", "rpm-2.0")]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 1.0");
    assert_eq!(internal(&d.manifest("stage"), "server-core")["origin"]["kind"], "command-line");
    d.clean();
}

#[test]
fn the_workspace_itself_at_a_tag() {
    let d = Demo::new("internal");
    d.run(&["build", "ACCOUNT_PORTAL=rpm-1.2", "SERVER_CORE=rpm-2.0"]).ok().says("as of rpm-1.2");
    assert_eq!(d.portal_says(), "account-portal using server-core 2.0");
    d.run(&["build", "ACCOUNT_PORTAL=rpm-1.2"]).ok();
    assert_eq!(d.portal_says(), "account-portal using server-core 1.0");
    // The manifest of a checkout names the checked-out commit, and the version of that commit,
    // however the ref is spelled.
    let tagged = git(&d.portal, &["rev-parse", "rpm-1.2^{commit}"]);
    let manifest_path = "target/trainyard/self";
    d.run(&["build", &format!("ACCOUNT_PORTAL={tagged}")]).ok();
    let m: serde_json::Value =
        serde_json::from_str(&read(&d.portal.join(manifest_path).join(&tagged[..12]).join("build-dev.json"))).unwrap();
    assert_eq!(m["commit"], tagged);
    assert_eq!(m["dirty"], false);
    assert_eq!(m["version"], "1.2.0");
    let bin = d.portal.join("target/release/account-portal");
    assert_eq!(sh(&d.portal, bin.to_str().unwrap(), &["--version"]), "account-portal 1.2.0");
    d.run(&["build", "ACCOUNT_PORTAL=main"]).ok();
    assert_eq!(sh(&d.portal, bin.to_str().unwrap(), &["--version"]), "account-portal 1.3.0-0.dev.1");
    // The workspace's own manifest is untouched by the checkouts' builds.
    assert!(!d.portal.join("target/trainyard/build-dev.json").exists());
    d.clean();
}

#[test]
fn a_second_run_needs_no_remote() {
    let d = Demo::new("internal");
    d.run(&["build", "SERVER_CORE=rpm-2.0"]).ok();
    let gone = d.tmp.path().join("server-core-moved");
    std::fs::rename(&d.core, &gone).unwrap();
    std::fs::remove_file(d.portal.join("target/release/account-portal")).unwrap();
    d.run(&["build", "SERVER_CORE=rpm-2.0"]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 2.0");
    // A tag the cache has never seen needs the remote: a clear error.
    d.run(&["build", "SERVER_CORE=rpm-3.0"]).fails_with(1).says("server-core");
    d.clean();
}

#[test]
fn refused_inputs_change_nothing() {
    let d = Demo::new("internal");
    let marker = d.tmp.path().join("pwned");
    let evil = format!("SERVER_CORE=--upload-pack=touch {}", marker.display());
    let before = snapshot(&d.portal);
    d.run(&["build", &evil]).fails_with(2).says("starts with `-`");
    assert!(!marker.exists(), "the ref was executed");
    assert!(!d.portal.join("target").exists(), "something was created");
    assert!(snapshot(&d.portal) == before);

    d.run(&["build", "SERVR_CORE=rpm-2.0"]).fails_with(2).says("did you mean SERVER_CORE?");
    d.run(&["build", "SERVER_CORE=a..b"]).fails_with(2).says("`..`");
    d.run(&["build", "SERVER_CORE=rpm-9.9"]).fails_with(2).says("rpm-9.9").says("rpm-1.0").says("rpm-2.0");
    assert!(!d.portal.join("target/release/account-portal").exists());
    d.clean();
}

#[test]
fn conflicting_refs_are_reported_unless_the_command_line_settles_them() {
    let d = Demo::new("internal");
    // billing: another internal project, whose own dev pins ask for server-core 2.0.
    let billing = d.tmp.path().join("billing");
    write(
        &billing.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"billing\"\nversion = \"0.5.0\"\nedition = \"2021\"\n\n[workspace]\n\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"file://{}\"\n",
            d.core.display()
        ),
    );
    write(&billing.join("src/lib.rs"), "pub fn bill() {}\n");
    write(&billing.join("reqs/dev-reqs.txt"), "server-core == 2.0\n");
    git_init(&billing);
    commit_all(&billing, "billing");
    git(&billing, &["tag", "rpm-0.5"]);

    let manifest = read(&d.portal.join("Cargo.toml"));
    write(
        &d.portal.join("Cargo.toml"),
        &format!(
            "{manifest}\n[workspace.metadata.trainyard.internal.billing]\ngit = \"file://{}\"\n",
            billing.display()
        ),
    );
    write(&d.portal.join("reqs/dev-reqs.txt"), "server-core == 1.0\n");
    commit_all(&d.portal, "billing is internal too");

    let run = d.run(&["build", "BILLING=rpm-0.5"]);
    run.fails_with(2)
        .says("conflicting refs for internal project server-core")
        .says("account-portal's reqs/dev-reqs.txt:1 asks for rpm-1.0")
        .says("billing@rpm-0.5's reqs/dev-reqs.txt:1 asks for rpm-2.0")
        .says("SERVER_CORE=<ref>");
    d.run(&["build", "BILLING=rpm-0.5", "SERVER_CORE=rpm-2.0"]).ok();
    assert_eq!(d.portal_says(), "account-portal (after 1.2) using server-core 2.0");
    d.clean();
}

#[test]
fn colliding_variable_names_are_a_configuration_error() {
    let d = Demo::new("internal");
    let manifest = read(&d.portal.join("Cargo.toml"));
    write(
        &d.portal.join("Cargo.toml"),
        &format!("{manifest}\n[workspace.metadata.trainyard.internal.server_core]\ngit = \"file:///nowhere\"\n"),
    );
    commit_all(&d.portal, "collision");
    d.run(&["build"]).fails_with(2).says("server-core").says("server_core").says("SERVER_CORE");
}

/// A workspace whose root is a package (`[package]` and `[workspace]` in one manifest), with an
/// `xtask` member the product does not use, and an internal project that is a plain crate (no
/// `[workspace]` table of its own), tagged `rpm-1.0` and `rpm-2.0`.
struct PlainCore {
    tmp: TempDir,
    core: PathBuf,
    app: PathBuf,
}

impl PlainCore {
    fn new() -> PlainCore {
        let tmp = TempDir::new("plain-core");
        let core = tmp.path().join("core");
        for (version, greeting) in [("1.0.0", "core 1.0"), ("2.0.0", "core 2.0")] {
            write(
                &core.join("Cargo.toml"),
                &format!(
                    "[package]\nname = \"server-core\"\nversion = \"{version}\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"Core services\"\n\n[[bin]]\nname = \"server-core\"\npath = \"src/main.rs\"\n\n[package.metadata.trainyard.rpm]\n"
                ),
            );
            write(&core.join("src/lib.rs"), &format!("pub fn greeting() -> &'static str {{\n    \"{greeting}\"\n}}\n"));
            write(
                &core.join("src/main.rs"),
                "fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"server-core {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n        return;\n    }\n    println!(\"{}\", server_core::greeting());\n}\n",
            );
            write(&core.join(".gitignore"), "/target\n");
            if version == "1.0.0" {
                git_init(&core);
            }
            commit_all(&core, greeting);
            git(&core, &["tag", "-a", "-m", greeting, &format!("rpm-{}", &version[..3])]);
        }
        let url = format!("file://{}", core.display());
        let app = tmp.path().join("app");
        // The xtask uses a registry crate the application does not: it must stay out of the
        // product (not built, not pinned, not collected).
        let registry = tmp.path().join("registry");
        write_registry(&registry, &[RegistryCrate { name: "leftpad", version: "1.0.0", deps: &[] }]);
        write(
            &app.join(".cargo/config.toml"),
            &format!(
                "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\nlocal-registry = \"{}\"\n",
                registry.display()
            ),
        );
        write(
            &app.join("Cargo.toml"),
            &format!(
                "[package]\nname = \"account-portal\"\nversion = \"1.2.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"Account portal service\"\n\n[dependencies]\nserver-core = {{ git = \"{url}\", tag = \"rpm-1.0\" }}\n\n[package.metadata.trainyard.rpm]\n\n[workspace]\nmembers = [\"xtask\"]\n\n[workspace.metadata.trainyard]\nname = \"account-portal\"\ndefault-branch = \"main\"\n\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"{url}\"\n"
            ),
        );
        write(
            &app.join("src/main.rs"),
            "fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"account-portal {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(env!(\"CARGO_PKG_VERSION\")));\n        return;\n    }\n    println!(\"portal using {}\", server_core::greeting());\n}\n",
        );
        write(
            &app.join("xtask/Cargo.toml"),
            "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nleftpad = \"1\"\n",
        );
        write(&app.join("xtask/src/main.rs"), "fn main() {\n    println!(\"{}\", leftpad::VERSION);\n}\n");
        write(&app.join(".gitignore"), "/target\n");
        for channel in ["dev", "stage", "prod"] {
            write(&app.join(format!("reqs/{channel}-reqs.txt")), &format!("# {channel}\n"));
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        sh(&app, &cargo, &["generate-lockfile", "--quiet"]);
        git_init(&app);
        commit_all(&app, "portal 1.2");
        git(&app, &["tag", "-a", "-m", "1.2", "rpm-1.2"]);
        PlainCore { tmp, core, app }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.app, args, &[])
    }

    fn collection(&self) -> Vec<String> {
        let text = read(&self.app.join("target/rpms/prod/collection.json"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut names: Vec<String> =
            json["packages"].as_array().unwrap().iter().map(|p| p["nevra"].as_str().unwrap().to_string()).collect();
        names.sort();
        names
    }
}

#[test]
fn a_plain_crate_in_a_workspace_whose_root_is_a_package_with_the_remote_gone() {
    let p = PlainCore::new();
    p.run(&["build", "SERVER_CORE=rpm-2.0"]).ok();
    let bin = p.app.join("target/release/account-portal");
    assert_eq!(sh(&p.app, bin.to_str().unwrap(), &[]), "portal using core 2.0");
    assert!(!p.app.join("target/release/xtask").exists(), "the xtask is not part of the product");

    p.run(&["build_rpms", "SERVER_CORE=rpm-2.0"]).ok();
    let arch = sh(&p.app, "uname", &["-m"]);
    assert_eq!(
        p.collection(),
        [format!("account-portal-1.2-1.{arch}"), format!("server-core-2.0-1.{arch}")],
        "the xtask's leftpad is not in the collection"
    );
    if is_root() {
        p.run(&["mock", "SERVER_CORE=rpm-2.0"]).ok().says("server-core --version");
    } else {
        eprintln!("NOTICE: skipping the mock steps: they need root");
    }

    // rpm-1.0 was never checked out, but the mirror has every tag: with the remote gone, a
    // build against it works, after one against rpm-2.0, and again.
    std::fs::rename(&p.core, p.tmp.path().join("core-moved")).unwrap();
    p.run(&["build_rpms", "SERVER_CORE=rpm-2.0"]).ok();
    p.run(&["build_rpms", "SERVER_CORE=rpm-1.0"]).ok();
    assert_eq!(p.collection(), [format!("account-portal-1.2-1.{arch}"), format!("server-core-1.0-1.{arch}")]);
    if is_root() {
        p.run(&["mock", "SERVER_CORE=rpm-1.0"]).ok().says("server-core 1.0.0");
    }
    // The dev channel resolves again for a new override: offline, from cargo's caches.
    p.run(&["build", "SERVER_CORE=rpm-1.0"]).ok().says("resolving offline");
    assert_eq!(sh(&p.app, bin.to_str().unwrap(), &[]), "portal using core 1.0");
    p.run(&["pin", "CHANNEL=prod", "--check"]).ok();
    assert_eq!(tracked_changes(&p.app), "", "tracked files changed");
}
