//! End-to-end tests of `dist`: the source release of a tagged fixture workspace (and of the
//! demo service with an internal-project override), byte-identical on two runs, its source
//! RPM rebuilt by the real `rpmbuild --rebuild` in a clean sandbox root with no network (`dist
//! --rebuild`: dnf from a local repository, bubblewrap, the host toolchain read-only), and the
//! binary it yields run.

use crate::support::workspace as support;

use std::path::{Path, PathBuf};

use support::*;

const RPM_TABLE: &str = "\n[package.metadata.trainyard.rpm]\n";

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// `dist ARGS --rebuild`: the source RPM rebuilt by `rpmbuild --rebuild` in a clean sandbox
/// root with no network (trainyard's sandbox backend), then the binary RPM's `/usr/bin/BIN`
/// unpacked and run. Returns what it printed.
fn rebuild_offline_and_run(dir: &Path, args: &[&str], bin: &str, scratch: &Path) -> String {
    let mut args = args.to_vec();
    args.push("--rebuild");
    let run = trainyard(dir, &args, &[]);
    run.ok().says("rebuild").says("rebuilt offline in a clean root: ");
    // The build's own output: rpmbuild ran in the sandbox, its BuildRequires met by the root.
    let out = run.output();
    let rpms: Vec<PathBuf> =
        out.lines().filter_map(|l| l.strip_prefix("rebuilt offline in a clean root: ")).map(|p| dir.join(p)).collect();
    assert_eq!(rpms.len(), 1, "{rpms:?}\n{out}");
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let script = format!("rpm2cpio '{}' | cpio -idm --quiet", rpms[0].display());
    sh(&root, "sh", &["-c", &script]);
    sh(&root, root.join("usr/bin").join(bin).to_str().unwrap(), &[])
}

fn tar_listing(tarball: &Path) -> Vec<String> {
    sh(
        Path::new("."),
        "tar",
        &["--list", "--verbose", "--numeric-owner", "--gzip", "--file", tarball.to_str().unwrap()],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn a_tag_gives_a_vendored_tarball_and_a_source_rpm_that_rebuild_offline_byte_identical() {
    if !is_root() {
        eprintln!("NOTICE: skipping: the clean root of dist --rebuild needs root");
        return;
    }
    let tmp = TempDir::new("dist");
    let root = leftpad_workspace(tmp.path(), "license = \"MIT\"", RPM_TABLE);
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    let out = root.join("target/dist/prod");

    let plan = trainyard(&root, &["dist", "--dry-run"], &[]);
    plan.ok()
        .says("planning from: source release of portal 1.0 from rpm-1.0")
        .says(" vendor --versioned-dirs --respect-source-config ")
        .says("would run: SOURCE_DATE_EPOCH=1767225600 rpmbuild -bs --quiet");
    assert!(!out.exists(), "a dry run wrote {}", out.display());

    dry_run_equals_run(&root, &["dist"], &[]);
    assert_eq!(files(&out), ["dist.json", "portal-1.0-1.src.rpm", "portal-1.0.tar.gz"]);
    let first: Vec<Vec<u8>> =
        ["portal-1.0.tar.gz", "portal-1.0-1.src.rpm"].iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("dist.json"))).unwrap();
    assert_eq!(manifest["version"], "1.0");
    assert_eq!(manifest["tag"], "rpm-1.0");
    assert_eq!(manifest["commit"], git(&root, &["rev-parse", "HEAD"]));
    assert_eq!(manifest["files"][1]["kind"], "source-rpm");

    // The second run writes the same bytes.
    std::fs::remove_dir_all(&out).unwrap();
    trainyard(&root, &["dist"], &[]).ok();
    for (f, before) in ["portal-1.0.tar.gz", "portal-1.0-1.src.rpm"].iter().zip(&first) {
        assert!(std::fs::read(out.join(f)).unwrap() == *before, "{f} differs between two runs");
    }
    assert_eq!(tracked_changes(&root), "");

    // The tarball: sorted, owner 0, the commit's time, the prod lock, every crate vendored.
    let listing = tar_listing(&out.join("portal-1.0.tar.gz"));
    let names: Vec<&str> = listing.iter().map(|l| l.split_whitespace().last().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(listing.iter().all(|l| l.contains(" 0/0 ") && l.contains("2026-01-01")), "{listing:#?}");
    for wanted in [
        "portal-1.0/Cargo.lock",
        "portal-1.0/vendor/leftpad-1.0.0/",
        "portal-1.0/vendor/padcore-0.3.0/",
        "portal-1.0/.cargo/config.toml",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing: {names:#?}");
    }
    assert!(!names.iter().any(|n| n.contains("/target/") || n.contains("/.git/")), "{names:#?}");
    let srpm = out.join("portal-1.0-1.src.rpm");
    assert_eq!(
        sh(&root, "rpm", &["-qp", "--queryformat", "%{NAME}-%{VERSION}-%{RELEASE}", srpm.to_str().unwrap()]),
        "portal-1.0-1"
    );

    let said = rebuild_offline_and_run(&root, &["dist"], "app", tmp.path());
    assert!(std::fs::read(&srpm).unwrap() == first[1], "a third run, with --rebuild, wrote other bytes");
    assert_eq!(said, "leftpad 1.0.0 padcore 0.3.0");
}

#[test]
fn an_override_is_shipped_as_a_path_source_and_builds_offline() {
    if !is_root() {
        eprintln!("NOTICE: skipping: the clean root of dist --rebuild needs root");
        return;
    }
    let tmp = TempDir::new("dist-demo");
    trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
    let portal = tmp.path().join("account-portal");
    // HEAD is one commit after rpm-1.2: a dev version, so --head is needed.
    trainyard(&portal, &["dist", "RPM_CHANNEL=dev", "SERVER_CORE=rpm-2.0"], &[])
        .fails_with(2)
        .says("carries no release tag")
        .says("help:");
    trainyard(&portal, &["dist", "RPM_CHANNEL=dev", "SERVER_CORE=rpm-2.0", "--head"], &[]).ok();
    let out = portal.join("target/dist/dev");
    let srpm = out.join("account-portal-1.3~~dev1-1.src.rpm");
    assert!(srpm.is_file(), "{:?}", files(&out));
    let listing = tar_listing(&out.join("account-portal-1.3~~dev1.tar.gz"));
    assert!(
        listing.iter().any(|l| l.ends_with("account-portal-1.3~~dev1/internal/server-core/Cargo.toml")),
        "{listing:#?}"
    );
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("dist.json"))).unwrap();
    assert_eq!(manifest["internal"][0]["requested_ref"], "rpm-2.0");
    let said = rebuild_offline_and_run(
        &portal,
        &["dist", "RPM_CHANNEL=dev", "SERVER_CORE=rpm-2.0", "--head"],
        "account-portal",
        tmp.path(),
    );
    assert_eq!(said, "account-portal (after 1.2) using server-core 2.0");
    assert_eq!(tracked_changes(&portal), "");
}

#[test]
fn a_dirty_tree_or_an_untagged_head_is_refused_and_nothing_is_written() {
    let tmp = TempDir::new("dist-bad");
    let root = leftpad_workspace(tmp.path(), "", RPM_TABLE);
    let before = snapshot(&root);
    let run = trainyard(&root, &["dist"], &[]);
    run.fails_with(2).says("carries no release tag").says("help:");
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    // --trigger as build_rpms has it: a push build of the tagged commit ships no release.
    trainyard(&root, &["dist", "--trigger", "push"], &[])
        .fails_with(2)
        .says("a push build ships no release")
        .says("help:");
    trainyard(&root, &["dist", "--trigger", "tag", "--dry-run"], &[])
        .ok()
        .says("source release of portal 1.0 from rpm-1.0");
    write(&root.join("app/src/main.rs"), "fn main() {}\n");
    trainyard(&root, &["dist"], &[]).fails_with(2).says("uncommitted changes").says("help:");
    // Every problem at once: the dirty tree, the collection that is not there, the source date.
    trainyard(&root, &["dist", "--collection", "target/rpms/prod"], &[("SOURCE_DATE_EPOCH", "soon")])
        .fails_with(2)
        .says("the source release cannot be made:")
        .says("uncommitted changes")
        .says("does not exist")
        .says("SOURCE_DATE_EPOCH=`soon` is not a number")
        .says("build it with build_rpms");
    trainyard(&root, &["dist", "RPM_CHANNEL=qa"], &[]).fails_with(2);
    assert!(!root.join("target/dist").exists());
    git(&root, &["checkout", "--", "app/src/main.rs"]);
    assert_eq!(snapshot(&root), before);
    trainyard(&root, &["dist", "--help"], &[]).ok().says("--head").says("dist.json");
}

/// `dist --collection DIR`: the tarball and the source RPM listed in the collection build_rpms
/// wrote (`sources` in its collection.json), switched in with one rename; a reader that resolved
/// the old collection keeps it; the next build_rpms drops them (the collection owns only what
/// its manifest lists) and keeps a file no manifest lists.
#[test]
fn dist_lists_its_files_in_the_collection_until_the_next_build_rpms() {
    let tmp = TempDir::new("dist-collection");
    let root = leftpad_workspace(tmp.path(), "license = \"MIT\"\ndescription = \"The portal\"", RPM_TABLE);
    git(&root, &["tag", "-a", "-m", "1.0", "rpm-1.0"]);
    let out = root.join("target/rpms/prod");
    // No collection yet: refused, nothing written.
    let r = trainyard(&root, &["dist", "--collection", "target/rpms/prod"], &[]);
    r.fails_with(2).says("does not exist").says("help: build it with build_rpms");
    assert!(!out.exists() && !root.join("target/dist").exists(), "a refused dist wrote something");

    trainyard(&root, &["build_rpms"], &[]).ok();
    std::fs::write(out.join("NOTES.txt"), "not listed by any manifest\n").unwrap();
    let before = std::fs::canonicalize(&out).unwrap();
    let packages: serde_json::Value = serde_json::from_str(&read(&out.join("collection.json"))).unwrap();

    let dry = trainyard(&root, &["dist", "--collection", "target/rpms/prod", "--dry-run"], &[]);
    dry.ok().says("would later: list portal-1.0.tar.gz and portal-1.0-1.src.rpm, with their checksums, in");
    assert_eq!(std::fs::canonicalize(&out).unwrap(), before, "a dry run switched the collection");

    // Without --collection, then with it: each run does what its dry-run printed; the listing is
    // planned from the files' checksums, once they exist.
    let (_, _, executed) = dry_run_equals_run(&root, &["dist"], &[]);
    assert!(!executed.iter().any(|l| l.starts_with("list in collection: ")), "{executed:?}");
    assert_eq!(std::fs::canonicalize(&out).unwrap(), before, "dist without --collection switched it");
    let (_, real, executed) = dry_run_equals_run(&root, &["dist", "--collection", "target/rpms/prod"], &[]);
    real.says("listed in");
    assert!(
        executed
            .iter()
            .any(|l| l.starts_with("list in collection: ")
                && l.contains("portal-1.0.tar.gz and portal-1.0-1.src.rpm in ")),
        "{executed:?}"
    );
    for planned in ["run: git -C ", "run: tar --create ", "run: gzip --no-name ", "write: ", "rename: "] {
        assert!(executed.iter().any(|l| l.starts_with(planned)), "{planned}: {executed:?}");
    }
    let after = std::fs::canonicalize(&out).unwrap();
    assert_ne!(after, before, "a new collection directory");
    assert!(!before.join("portal-1.0.tar.gz").exists(), "the collection a reader resolved did not change");
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("collection.json"))).unwrap();
    let dist: serde_json::Value = serde_json::from_str(&read(&root.join("target/dist/prod/dist.json"))).unwrap();
    assert_eq!(manifest["packages"], packages["packages"], "the packages are the same");
    for (i, (file, kind)) in
        [("portal-1.0.tar.gz", "source-tarball"), ("portal-1.0-1.src.rpm", "source-rpm")].iter().enumerate()
    {
        assert_eq!(manifest["sources"][i]["file"].as_str(), Some(*file));
        assert_eq!(manifest["sources"][i]["kind"].as_str(), Some(*kind));
        assert_eq!(manifest["sources"][i]["sha256"], dist["files"][i]["sha256"]);
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(root.join("target/dist/prod").join(file)).unwrap()
        );
    }
    assert!(out.join("NOTES.txt").is_file(), "a file of nobody's is carried over");
    // The same again: nothing changes.
    trainyard(&root, &["dist", "--collection", "target/rpms/prod"], &[]).ok();
    assert_eq!(std::fs::canonicalize(&out).unwrap(), after);

    // build_rpms replaces the collection: the source release it no longer lists goes.
    write(&root.join("app/src/lib.rs"), "pub fn more() {}\n");
    commit_all(&root, "more");
    trainyard(&root, &["build_rpms"], &[]).ok();
    let manifest: serde_json::Value = serde_json::from_str(&read(&out.join("collection.json"))).unwrap();
    assert!(manifest.get("sources").is_none(), "{manifest:#}");
    assert!(!out.join("portal-1.0.tar.gz").exists() && !out.join("portal-1.0-1.src.rpm").exists());
    assert!(out.join("NOTES.txt").is_file());
    assert_eq!(tracked_changes(&root), "");
}
