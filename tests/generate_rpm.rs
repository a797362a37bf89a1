//! `[package.metadata.generate-rpm]` read as cargo-generate-rpm reads it, end to end: a
//! workspace member whose table is shaped like the ones public repositories write (sources
//! relative to the workspace root and to the crate, `../../`, scripts from files, files a
//! build script makes), packaged by `build_rpms` and read back with `rpm -qp`; and every key
//! or value trainyard cannot honour refused with exit 2 and nothing written.
//!
//! Needs `rpm` (Debian package `rpm`), as CI installs it.

use crate::support::workspace as support;

use crate::support::rpm as rpm_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rpm_support::{lines, rpm_q};
use support::*;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The member's table. `{EXTRA}` is replaced by what a test adds.
const TABLE: &str = r#"
[package.metadata.generate-rpm]
summary = "App, packaged as cargo-generate-rpm packages it"
release = 2
auto-req = "find-requires"
post_install_script = "../../packaging/rpm/post_install.sh"
post_install_script_prog = ["/bin/sh", "-e"]
pre_uninstall_script = "packaging/rpm/pre_uninstall.sh"
pre_trans_script = "print('app pretrans')"
pre_trans_script_prog = ["<lua>"]
post_trans_script = "echo app transaction done"
post_trans_script_flags = 0b100
post_uninstall_script = "ldconfig"
assets = [
    { source = "../../target/release/app", dest = "/usr/bin/app", mode = "755", caps = "cap_net_bind_service=ep" },
    { source = "target/release/man/app.1", dest = "/usr/share/man/man1/", mode = "644", doc = true },
    { source = "target/release/completions/*", dest = "/usr/share/bash-completion/completions", mode = "644" },
    { source = "packaging/rpm/app.conf", dest = "/etc/app/app.conf", mode = "644", config = "noreplace" },
    { source = "README.md", dest = "/usr/share/doc/app/README.md", mode = "644", doc = true },
    { source = "NOTES.md", dest = "/usr/share/doc/app/", mode = "644", doc = true },
    { source = "../../data/icons/hicolor/*/apps/app.png", dest = "/usr/share/icons/hicolor/", mode = "644" },
    { source = "../../data/examples/**/*.toml", dest = "/usr/share/app/examples/", mode = "644" },
]
{EXTRA}
[package.metadata.generate-rpm.requires]
bash = "*"
filesystem = ">= 3, < 100"

[package.metadata.generate-rpm.recommends]
app-extras = ">= 1"

[package.metadata.generate-rpm.suggests]
app-docs = "*"

[package.metadata.generate-rpm.supplements]
app-core = "*"

[package.metadata.generate-rpm.enhances]
app-shell = "= 0.3"

[package.metadata.generate-rpm.conflicts]
app-legacy = "< 2"

[package.metadata.generate-rpm.obsoletes]
app-old = "*"

[package.metadata.generate-rpm.provides]
app-cli = "= 0.3.0"

[package.metadata.generate-rpm.variants.el9]
release = "2.el9"

[package.metadata.generate-rpm.variants.el9.requires]
bash = ">= 5"
"#;

/// A build script that writes a man page and completions next to the binary, as projects
/// using clap_mangen/clap_complete from build.rs do.
const BUILD_RS: &str = r#"use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // OUT_DIR is target/<profile>/build/app-HASH/out.
    let profile_dir = out.ancestors().nth(3).unwrap().to_path_buf();
    std::fs::create_dir_all(profile_dir.join("man")).unwrap();
    std::fs::create_dir_all(profile_dir.join("completions")).unwrap();
    std::fs::write(profile_dir.join("man/app.1"), ".TH APP 1\n.SH NAME\napp \\- does things\n").unwrap();
    std::fs::write(profile_dir.join("completions/app"), "complete -W 'run' app\n").unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
"#;

struct Fixture {
    _tmp: TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = TempDir::new("generate-rpm");
        let root = tmp.path().join("appws");
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/app\"]\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nname = \"appws\"\n",
        );
        write(&root.join("crates/app/src/main.rs"), "fn main() {\n    println!(\"app\");\n}\n");
        write(&root.join("crates/app/build.rs"), BUILD_RS);
        write(&root.join("crates/app/Cargo.toml"), &manifest(""));
        // README.md is both at the root and in the crate: cargo-generate-rpm -p takes the root's.
        write(&root.join("README.md"), "# the workspace\n");
        write(&root.join("crates/app/README.md"), "# app\n");
        write(&root.join("crates/app/NOTES.md"), "notes\n");
        write(&root.join("packaging/rpm/app.conf"), "level = 1\n");
        write(&root.join("packaging/rpm/post_install.sh"), "echo app installed from a file\n");
        write(&root.join("packaging/rpm/pre_uninstall.sh"), "echo app leaving\n");
        for size in ["16x16", "32x32"] {
            write(&root.join(format!("data/icons/hicolor/{size}/apps/app.png")), size);
        }
        write(&root.join("data/examples/basic.toml"), "a = 1\n");
        write(&root.join("data/examples/more/tls.toml"), "tls = true\n");
        write(&root.join("data/examples/more/skip.txt"), "not a toml\n");
        write(&root.join(".gitignore"), "/target\n");
        for channel in ["dev", "stage", "prod"] {
            write(&root.join(format!("reqs/{channel}-reqs.txt")), "");
        }
        sh(&root, &cargo(), &["generate-lockfile", "--quiet", "--offline"]);
        git_init(&root);
        commit_all(&root, "app");
        git(&root, &["tag", "-a", "-m", "release 0.3", "rpm-0.3"]);
        Fixture { _tmp: tmp, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.root, args, &[])
    }

    fn out(&self) -> PathBuf {
        self.root.join("target/rpms/prod")
    }

    fn rpm(&self, release: &str) -> PathBuf {
        self.out().join(format!("app-0.3-{release}.x86_64.rpm"))
    }

    /// Replaces the member's table by the default one with `extra` keys, or with `from`
    /// replaced by `to`.
    fn set_table(&self, from: &str, to: &str) {
        let m = manifest("");
        assert!(m.contains(from), "{from:?} is not in the table");
        write(&self.root.join("crates/app/Cargo.toml"), &m.replacen(from, to, 1));
    }

    /// Runs `build_rpms` with the table changed, expects exit 2 and `needles`, and checks the
    /// output directory is exactly as before (bytes and mtimes).
    fn refused(&self, from: &str, to: &str, args: &[&str], needles: &[&str]) {
        self.set_table(from, to);
        let before = state(&self.out());
        let mut all = vec!["build_rpms", "--no-deps"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.fails_with(2).says("help:");
        for n in needles {
            run.says(n);
        }
        assert!(state(&self.out()) == before, "{to:?}: the output directory changed");
        write(&self.root.join("crates/app/Cargo.toml"), &manifest(""));
    }
}

fn manifest(extra: &str) -> String {
    format!(
        "[package]\nname = \"app\"\nversion = \"0.3.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"Does things\"\n{}",
        TABLE.replace("{EXTRA}", extra)
    )
}

/// Every file under `dir`: path, bytes, mtime.
fn state(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .map(|e| {
            let p = e.unwrap().path();
            let meta = std::fs::metadata(&p).unwrap();
            let bytes = if meta.is_file() { std::fs::read(&p).unwrap() } else { Vec::new() };
            (p, bytes, meta.modified().unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Content of each packaged file, by its installed path.
fn payload(rpm: &Path, root: &Path) -> BTreeSet<String> {
    std::fs::create_dir_all(root).unwrap();
    let script = "rpm2cpio \"$1\" | cpio -idm --quiet";
    let out = std::process::Command::new("sh").args(["-c", script, "sh"]).arg(rpm).current_dir(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    lines(&rpm_q(rpm, &["--list"]))
}

#[test]
fn every_generate_rpm_key_reads_back_with_rpm() {
    let f = Fixture::new();
    // Before the build the man page and completions do not exist: the build makes them.
    assert!(!f.root.join("target").exists());
    f.run(&["build_rpms", "--no-deps", "--dry-run"]).ok().says("would later: package ").says("crate app");
    assert!(!f.root.join("target/release/man").exists());
    f.run(&["build_rpms", "--no-deps"]).ok();
    let rpm = f.rpm("2");
    assert!(rpm.is_file(), "{:?}", state(&f.out()));

    // Files: from `../../target/release`, from the build script's output, from the workspace
    // root and from the crate, and from globs (the part below the text before the first `*`).
    let list = payload(&rpm, &f.root.join("target/unpacked"));
    let wanted: BTreeSet<String> = [
        "/usr/bin/app",
        "/usr/share/man/man1/app.1",
        "/usr/share/bash-completion/completions/app",
        "/etc/app/app.conf",
        "/usr/share/doc/app/README.md",
        "/usr/share/doc/app/NOTES.md",
        "/usr/share/icons/hicolor/16x16/apps/app.png",
        "/usr/share/icons/hicolor/32x32/apps/app.png",
        "/usr/share/app/examples/basic.toml",
        "/usr/share/app/examples/more/tls.toml",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(list, wanted);
    let unpacked = f.root.join("target/unpacked");
    assert_eq!(read(&unpacked.join("usr/share/doc/app/README.md")), "# the workspace\n", "the root's, tried first");
    assert_eq!(read(&unpacked.join("usr/share/doc/app/NOTES.md")), "notes\n", "the crate's, tried next");
    assert!(read(&unpacked.join("usr/share/man/man1/app.1")).starts_with(".TH APP 1"));

    let flags = lines(&rpm_q(&rpm, &["--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]));
    assert!(flags.contains("/etc/app/app.conf cn"), "{flags:?}");
    assert!(flags.contains("/usr/share/man/man1/app.1 d"), "{flags:?}");
    let caps = lines(&rpm_q(&rpm, &["--filecaps"]));
    assert!(caps.iter().any(|l| l.starts_with("/usr/bin/app") && l.ends_with("cap_net_bind_service=ep")), "{caps:?}");

    // Every dependency kind.
    let q = |flag: &str| lines(&rpm_q(&rpm, &[flag]));
    let requires = q("--requires");
    for r in ["bash", "filesystem >= 3", "filesystem < 100", "/bin/sh", "libc.so.6()(64bit)"] {
        assert!(requires.contains(r), "{r:?} not in {requires:?}");
    }
    assert_eq!(q("--recommends"), lines("app-extras >= 1"));
    assert_eq!(q("--suggests"), lines("app-docs"));
    assert_eq!(q("--supplements"), lines("app-core"));
    assert_eq!(q("--enhances"), lines("app-shell = 0.3"));
    assert_eq!(q("--conflicts"), lines("app-legacy < 2"));
    assert_eq!(q("--obsoletes"), lines("app-old"));
    assert!(q("--provides").contains("app-cli = 0.3.0"), "{:?}", q("--provides"));

    // Every scriptlet, from files or text, with its interpreter and flags.
    let scripts = rpm_q(&rpm, &["--scripts"]);
    for wanted in [
        "pretrans scriptlet (using <lua>):\nprint('app pretrans')",
        "postinstall scriptlet (using /bin/sh -e):\necho app installed from a file",
        "preuninstall scriptlet (using /bin/sh):\necho app leaving",
        "postuninstall scriptlet (using /bin/sh):\nldconfig",
        "posttrans scriptlet (using /bin/sh):\necho app transaction done",
    ] {
        assert!(scripts.contains(wanted), "{wanted:?} not in:\n{scripts}");
    }
    let prog = rpm_q(&rpm, &["--queryformat", "[%{POSTINPROG} ]|%{POSTTRANSFLAGS}|%{POSTINFLAGS}"]);
    assert_eq!(prog, "/bin/sh -e |4|(none)");

    // A variant replaces the keys it sets: its release, its requires.
    f.run(&["build_rpms", "--no-deps", "--variant", "el9"]).ok();
    let el9 = f.rpm("2.el9");
    let requires = lines(&rpm_q(&el9, &["--requires"]));
    assert!(requires.contains("bash >= 5") && !requires.iter().any(|r| r.starts_with("filesystem")), "{requires:?}");
    assert_eq!(lines(&rpm_q(&el9, &["--recommends"])), lines("app-extras >= 1"));
    assert!(!f.rpm("2").exists(), "the previous collection's package left it");
    assert_eq!(tracked_changes(&f.root), "");
}

#[test]
fn what_cannot_be_honoured_is_refused_with_exit_2_and_nothing_written() {
    let f = Fixture::new();
    f.run(&["build_rpms", "--no-deps"]).ok();
    assert!(f.rpm("2").is_file());
    let release = "release = 2\n";
    // A key trainyard does not know (cargo-generate-rpm would drop it silently).
    f.refused(release, "release = 2\npost_instal_script = \"echo typo\"\n", &[], &["unknown key `post_instal_script`"]);
    f.refused(
        "caps = \"cap_net_bind_service=ep\"",
        "caps = \"cap_net_bind_service=ep\", missingok = true",
        &[],
        &["assets[0]", "unknown field `missingok`"],
    );
    f.refused("config = \"noreplace\"", "config = \"missingok\"", &[], &["assets[3].config", "`missingok`"]);
    f.refused("auto-req = \"find-requires\"", "auto-req = \"/usr/local/bin/my-find-requires\"", &[], &["auto-req"]);
    f.refused("caps = \"cap_net_bind_service=ep\"", "caps = \"cap_no_such_thing=ep\"", &[], &["assets[0].caps"]);
    f.refused("post_trans_script_flags = 0b100", "post_trans_script_flags = 64", &[], &["post_trans_script_flags"]);
    f.refused(
        "post_trans_script = \"echo app transaction done\"\npost_trans_script_flags = 0b100\n",
        "post_trans_script_flags = 0b100\n",
        &[],
        &["`post_trans_script_flags` is set but `post_trans_script` is not"],
    );
    f.refused("bash = \"*\"", "bash = \"5\"", &[], &["requires", "`5` is not a version condition"]);
    // A script path that resolves to nothing is never the script text.
    f.refused(
        "../../packaging/rpm/post_install.sh",
        "../../packaging/rpm/post_instal.sh",
        &[],
        &["post_install_script", "`../../packaging/rpm/post_instal.sh` does not exist"],
    );
    f.refused(
        "packaging/rpm/pre_uninstall.sh",
        "prerm.sh",
        &[],
        &["pre_uninstall_script", "`prerm.sh` does not exist"],
    );
    // Sources: missing, outside the workspace, and a build product the build did not make
    // (found missing after the build, before anything is written).
    f.refused("packaging/rpm/app.conf", "packaging/rpm/nope.conf", &[], &["assets[3].source", "does not exist"]);
    f.refused(
        "packaging/rpm/app.conf",
        "packaging/rpm",
        &[],
        &["assets[3].source", "is a directory", "packaging/rpm/*"],
    );
    f.refused("../../data/icons", "../../../data/icons", &[], &["assets[6].source", "outside the workspace"]);
    f.refused(
        "target/release/man/app.1",
        "target/release/man/app.8",
        &[],
        &["assets[1].source", "`target/release/man/app.8` does not exist", "the build did not make it"],
    );
    f.refused(
        "target/release/completions/*",
        "target/release/completion/*",
        &[],
        &["assets[2].source", "matches no file"],
    );
    // A variant no crate defines.
    f.refused(release, release, &["--variant", "el10"], &["--variant el10", "defined: el9"]);
    assert!(f.rpm("2").is_file());
    assert_eq!(tracked_changes(&f.root), "");
}
