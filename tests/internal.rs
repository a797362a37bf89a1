//! End-to-end tests of internal projects at refs (`SERVER_CORE=rpm-2.0`), on the
//! sample repositories `trainyard demo` creates, reached by file:// URLs.

#[path = "support/workspace.rs"]
mod support;

use std::path::PathBuf;
use support::*;

struct Demo {
    tmp: TempDir,
    core: PathBuf,
    portal: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let tmp = TempDir::new("internal");
        trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
        let core = tmp.path().join("server-core");
        let portal = tmp.path().join("account-portal");
        Demo { tmp, core, portal }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.portal, args, &[])
    }

    fn portal_says(&self) -> String {
        sh(&self.portal, &self.portal.join("target/release/account-portal").display().to_string(), &[])
    }

    fn manifest(&self, channel: &str) -> serde_json::Value {
        serde_json::from_str(&read(&self.portal.join(format!("target/trainyard/build-{channel}.json")))).unwrap()
    }

    fn core_commit(&self, reference: &str) -> String {
        git(&self.core, &["rev-parse", &format!("{reference}^{{commit}}")])
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
    let d = Demo::new();
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
    let d = Demo::new();
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
    let d = Demo::new();
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
    let d = Demo::new();
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
    let d = Demo::new();
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
    let d = Demo::new();
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
    let d = Demo::new();
    let manifest = read(&d.portal.join("Cargo.toml"));
    write(
        &d.portal.join("Cargo.toml"),
        &format!("{manifest}\n[workspace.metadata.trainyard.internal.server_core]\ngit = \"file:///nowhere\"\n"),
    );
    commit_all(&d.portal, "collision");
    d.run(&["build"]).fails_with(2).says("server-core").says("server_core").says("SERVER_CORE");
}
