//! End-to-end tests of `trainyard mock` on the sample repositories `trainyard demo` creates
//! (account-portal, which depends on the internal project server-core): the real binary
//! builds the collection, installs it into a sandbox root with dnf and runs the smoke
//! commands. Each broken fixture must fail naming the package and the cause; after every
//! run no mount is left, nothing under the host's /usr or /etc changed, the host's rpm
//! database is the same and no root directory remains.
//!
//! The sandbox needs root; without it the tests that install print a NOTICE and skip.

use crate::support::workspace as support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::demo::Demo;
use support::*;

/// Skips (loudly) a test that needs root.
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("NOTICE: skipping {}: the mock tests need root (CI runs them as root)", module_path!());
            println!("NOTICE: skipped, not root");
            return;
        }
    };
}

// ---------------------------------------------------------------- the fixture

/// The portal's binary, with what the broken fixtures need: a check that fails, a network
/// client, an asset it looks for, and (with `link`) a call into a C library.
fn portal_main(link: bool) -> String {
    let (ffi, call) = if link {
        (
            "extern \"C\" {\n    fn nothere() -> i32;\n}\n",
            "        Some(\"--nothere\") => println!(\"{}\", unsafe { nothere() }),\n",
        )
    } else {
        ("", "")
    };
    format!(
        r#"{ffi}
fn main() {{
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {{
        Some("--version") => {{
            println!("account-portal {{}}", option_env!("TRAINYARD_VERSION").unwrap_or(env!("CARGO_PKG_VERSION")))
        }}
        Some("--check") => {{
            eprintln!("account-portal: no configuration in /etc/account-portal");
            std::process::exit(4);
        }}
        Some("--connect") => {{
            let port: u16 = args[2].parse().unwrap();
            match std::net::TcpStream::connect(("127.0.0.1", port)) {{
                Ok(_) => println!("connected"),
                Err(e) => {{
                    eprintln!("account-portal: connect to 127.0.0.1:{{port}}: {{e}}");
                    std::process::exit(1);
                }}
            }}
        }}
        Some("--greeting") => {{
            for dir in ["assets", "/usr/share/account-portal"] {{
                if let Ok(text) = std::fs::read_to_string(format!("{{dir}}/greeting.txt")) {{
                    print!("{{text}}");
                    return;
                }}
            }}
            eprintln!("account-portal: greeting.txt not found");
            std::process::exit(1);
        }}
{call}        _ => println!("account-portal using {{}}", server_core::greeting()),
    }}
}}
"#
    )
}

impl Demo {
    /// The demo, its portal given the checks the broken fixtures need ([`portal_main`]).
    fn with_checks(label: &str) -> Demo {
        let d = Demo::new(label);
        write(&d.portal.join("portal/src/main.rs"), &portal_main(false));
        commit_all(&d.portal, "a portal with checks");
        d
    }

    /// Replaces the portal's `[package.metadata.trainyard.rpm]` table (the last of its
    /// Cargo.toml) with `table`, and commits.
    fn rpm_table(&self, table: &str) {
        let path = self.portal.join("portal/Cargo.toml");
        let text = read(&path);
        let at = text.find("[package.metadata.trainyard.rpm]").unwrap();
        write(&path, &format!("{}[package.metadata.trainyard.rpm]\n{table}\n", &text[..at]));
        commit_all(&self.portal, "packaging changed");
    }

    /// `trainyard mock SERVER_CORE=rpm-2.0 RPM_CHANNEL=dev ARGS`, checking the host around it.
    fn mock(&self, args: &[&str]) -> Run {
        let mut all = vec!["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=dev"];
        all.extend(args);
        let host = Host::before(self.tmp.path());
        let run = trainyard(&self.portal, &all, &[]);
        host.assert_unchanged();
        let sandbox = self.portal.join("target/trainyard/sandbox");
        let left: Vec<PathBuf> =
            std::fs::read_dir(&sandbox).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        assert!(left.is_empty(), "the run left {left:?}\n{}", run.output());
        run
    }

    fn built_binary(&self) -> String {
        self.portal.join("target/release/account-portal").to_str().unwrap().to_string()
    }
}

// ---------------------------------------------------------------- the host, before and after

/// What must not change on the host: its mounts, its rpm database, anything under /usr and
/// /etc (and rpm's and dnf's state directories), by modification or change time.
struct Host {
    stamp: PathBuf,
    mounts: Vec<String>,
    rpm_qa: String,
}

fn mounts() -> Vec<String> {
    let mut m: Vec<String> = read(Path::new("/proc/self/mountinfo"))
        .lines()
        .map(|l| l.split(' ').skip(1).collect::<Vec<_>>().join(" "))
        .collect();
    m.sort();
    m
}

fn rpm_qa() -> String {
    let out = Command::new("rpm").arg("-qa").output().unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    lines.sort();
    lines.join("\n")
}

impl Host {
    fn before(dir: &Path) -> Host {
        let stamp = dir.join(format!("host-stamp-{}", std::process::id()));
        write(&stamp, "");
        Host { stamp, mounts: mounts(), rpm_qa: rpm_qa() }
    }

    fn assert_unchanged(&self) {
        assert_eq!(self.mounts, mounts(), "a mount was left behind or removed");
        assert_eq!(self.rpm_qa, rpm_qa(), "the host's rpm database changed");
        let dirs: Vec<&str> = ["/usr", "/etc", "/var/lib/rpm", "/var/lib/dnf", "/var/cache/dnf", "/root/.rpmdb"]
            .into_iter()
            .filter(|d| Path::new(d).exists())
            .collect();
        let stamp = self.stamp.to_str().unwrap();
        let mut args: Vec<&str> = dirs.clone();
        // sqlite's -shm and -wal files are rewritten by every reader of rpm's database (the
        // `rpm -qa` here too); a write shows in the database file itself.
        args.extend(["(", "-newer", stamp, "-o", "-cnewer", stamp, ")"]);
        args.extend(["!", "-name", "*.sqlite-shm", "!", "-name", "*.sqlite-wal", "-print"]);
        let out = Command::new("find").args(&args).output().unwrap();
        let changed = String::from_utf8_lossy(&out.stdout);
        let changed: Vec<&str> = changed.lines().take(20).collect();
        assert!(changed.is_empty(), "changed on the host during the run: {changed:?}");
        let _ = std::fs::remove_file(&self.stamp);
    }
}

fn assert_says(run: &Run, needles: &[&str]) {
    for n in needles {
        run.says(n);
    }
}

// ---------------------------------------------------------------- the tests

#[test]
fn the_collection_installs_and_every_smoke_command_prints_its_version() {
    require_root!();
    let d = Demo::with_checks("mock-ok");
    // The run does what the dry-run printed: the collection's stages, then the install, planned
    // once the collection is written.
    let host = Host::before(d.tmp.path());
    let (dry, run, executed) = dry_run_equals_run(&d.portal, &["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=dev"], &[]);
    host.assert_unchanged();
    // The install test is one action, printed by the dry-run and recorded by the run, after the
    // collection is written.
    let session = "sandbox: install the workspace's packages of the collection in ";
    dry.says(&format!("would {session}"));
    let written = executed.iter().position(|l| l.starts_with("write collection: ")).expect("the collection is written");
    let installed = executed.iter().position(|l| l.starts_with(session)).expect("the session is recorded");
    assert_eq!(installed, executed.len() - 1, "{executed:?}");
    assert!(written < installed, "{executed:?}");
    let run = &run;
    assert_says(
        run,
        &[
            "installed 2 package(s)",
            "account-portal-1.3~~dev2-1.x86_64",
            "server-core-2.0-1.x86_64",
            "account-portal: `account-portal --version` ok",
            "account-portal 1.3.0-0.dev.2",
            "server-core: `server-core --version` ok",
            "server-core 2.0.0",
            "time: build ",
            "repository ",
            "install ",
            "smoke ",
            "total ",
        ],
    );
    assert!(!run.output().contains("skipped"), "{}", run.output());
    assert_eq!(tracked_changes(&d.portal), "");

    // The dry run of the same plans the same steps and changes nothing.
    let before = snapshot(&d.portal);
    let dry = d.mock(&["--dry-run"]);
    dry.ok();
    assert_says(&dry, &["would run: ", "cargo build", "would sandbox: install the workspace's packages"]);
    assert!(snapshot(&d.portal) == before);
}

#[test]
fn a_binary_linked_to_a_library_nothing_provides() {
    require_root!();
    let d = Demo::with_checks("mock-lib");
    write(&d.portal.join("portal/native/nothere.c"), "int nothere(void) { return 1; }\n");
    write(
        &d.portal.join("portal/build.rs"),
        r#"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let status = std::process::Command::new("gcc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libnothere.so.1", "-o"])
        .arg(format!("{out}/libnothere.so"))
        .arg("native/nothere.c")
        .status()
        .unwrap();
    assert!(status.success());
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=dylib=nothere");
    println!("cargo:rerun-if-changed=native/nothere.c");
}
"#,
    );
    write(&d.portal.join("portal/src/main.rs"), &portal_main(true));
    commit_all(&d.portal, "link libnothere");
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(
        &run,
        &["account-portal-1.3~~dev3-1.x86_64 requires `libnothere.so.1()(64bit)`", "nothing in the collection"],
    );
}

#[test]
fn a_requires_on_an_internal_project_at_a_version_not_in_the_collection() {
    require_root!();
    let d = Demo::with_checks("mock-version");
    d.rpm_table("smoke = \"account-portal --version\"\nrequires = [\"server-core = 9.9\"]");
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(&run, &["account-portal-1.3~~dev3-1.x86_64 requires `server-core = 9.9`"]);
}

#[test]
fn a_failing_post_scriptlet() {
    require_root!();
    let d = Demo::with_checks("mock-post");
    d.rpm_table(
        "smoke = \"account-portal --version\"\n\
         post_install_script = \"echo 'account-portal: cannot create the service user' >&2\\nexit 3\\n\"",
    );
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(
        &run,
        &[
            "the %post scriptlet of account-portal-1.3~~dev3-1.x86_64 failed, exit status 3",
            "cannot create the service user",
        ],
    );
}

/// A `%post` that tries the three ways out of the root the sandbox closes: a chroot escape
/// writing a file on the host, a connection to a port on the host, a process left running.
/// It catches its own failures and exits 0: only the leftover process fails the run.
#[test]
fn a_post_scriptlet_that_tries_to_leave_the_root() {
    require_root!();
    let d = Demo::with_checks("mock-escape");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = d.tmp.path().join("escaped");
    let nap = format!("8{}", std::process::id());
    let script = format!(
        r#"python3 - <<'PY'
import os, socket
try:
    os.makedirs("/var/tmp/escape", exist_ok=True)
    os.chroot("/var/tmp/escape")
    for _ in range(256):
        os.chdir("..")
    os.chroot(".")
    open("{target}", "w").write("escaped")
    print("escape: wrote the file")
except OSError as e:
    print("escape failed:", e)
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5)
    print("connect: reached the host")
except OSError as e:
    print("connect failed:", e)
PY
setsid sleep {nap} </dev/null >/dev/null 2>&1 &
"#,
        target = target.display()
    );
    d.rpm_table(&format!("smoke = \"account-portal --version\"\npost_install_script = '''\n{script}'''"));
    let run = d.mock(&[]);
    let left = sleepers(&nap);
    for pid in &left {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    assert!(left.is_empty(), "`sleep {nap}` still runs on the host: {left:?}\n{}", run.output());
    assert!(!target.exists(), "the %post wrote {} on the host\n{}", target.display(), run.output());
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the %post reached the host's port {port}: {other:?}\n{}", run.output()),
    }
    run.fails_with(1);
    assert_says(
        &run,
        &[
            "left processes running in the sandbox (they were killed with it)",
            &format!("the %post scriptlet of account-portal-1.3~~dev3-1.x86_64 left a process running: `sleep {nap}`"),
            "start services from their systemd unit",
        ],
    );
}

/// Host processes whose command line is `sleep NAP`.
fn sleepers(nap: &str) -> Vec<String> {
    let wanted = format!("sleep\0{nap}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted.as_bytes()))
        .collect()
}

/// trainyard killed (SIGKILL, as a CI timeout does) while a `%post` runs: the scriptlet dies
/// with it, no mount stays, and the next run clears the dead run's directory and passes.
#[test]
fn killing_mock_during_a_scriptlet_leaves_no_process_and_no_mount() {
    require_root!();
    let d = Demo::with_checks("mock-kill");
    let nap = format!("7{}", std::process::id());
    d.rpm_table(&format!("smoke = \"account-portal --version\"\npost_install_script = \"sleep {nap}\\n\""));
    let before = mounts();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainyard"))
        .args(["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=dev"])
        .current_dir(&d.portal)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RPM_CHANNEL")
        .env_remove("CI")
        .envs(git_env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while sleepers(&nap).is_empty() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("mock ended ({status}) before its %post ran");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(600), "the %post never ran");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = std::time::Instant::now();
    while !sleepers(&nap).is_empty() && killed.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = sleepers(&nap);
    for pid in &left {
        let _ = Command::new("kill").args(["-9", pid]).status();
    }
    assert!(left.is_empty(), "the %post's `sleep {nap}` outlived trainyard: {left:?}");
    assert_eq!(before, mounts(), "a mount outlived trainyard");
    // The next run (without the sleep) removes the dead run's directory and passes.
    d.rpm_table("smoke = \"account-portal --version\"");
    d.mock(&[]).ok();
}

#[test]
fn a_smoke_command_that_exits_non_zero() {
    require_root!();
    let d = Demo::with_checks("mock-smoke");
    d.rpm_table("smoke = \"account-portal --check\"");
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(
        &run,
        &[
            "account-portal: `account-portal --check` exited with status 4",
            "no configuration in /etc/account-portal",
            // The other package's smoke command passed, and the report says so.
            "server-core: `server-core --version` ok",
        ],
    );
}

#[test]
fn a_smoke_command_that_reaches_for_the_network() {
    require_root!();
    let d = Demo::with_checks("mock-net");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    d.rpm_table(&format!("smoke = \"account-portal --connect {port}\""));
    // In the build tree the binary reaches the port: only the sandbox stops it.
    trainyard(&d.portal, &["build", "SERVER_CORE=rpm-2.0"], &[]).ok();
    assert_eq!(sh(&d.portal, &d.built_binary(), &["--connect", &port]), "connected");
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(
        &run,
        &[
            &format!("account-portal: `account-portal --connect {port}` exited with status 1"),
            &format!("connect to 127.0.0.1:{port}"),
            "the output mentions the network",
        ],
    );
    drop(listener);
}

#[test]
fn an_asset_installed_where_the_binary_does_not_look() {
    require_root!();
    let d = Demo::with_checks("mock-asset");
    write(&d.portal.join("portal/assets/greeting.txt"), "hello from the portal\n");
    d.rpm_table(
        "smoke = \"account-portal --greeting\"\n\
         assets = [\n\
         \x20 { source = \"target/release/account-portal\", dest = \"/usr/bin/account-portal\", mode = \"755\" },\n\
         \x20 { source = \"assets/greeting.txt\", dest = \"/usr/share/account-portal-data/greeting.txt\", mode = \"644\" },\n\
         ]",
    );
    // In the build tree the binary finds its asset.
    trainyard(&d.portal, &["build", "SERVER_CORE=rpm-2.0"], &[]).ok();
    assert_eq!(sh(&d.portal.join("portal"), &d.built_binary(), &["--greeting"]), "hello from the portal");
    let run = d.mock(&[]);
    run.fails_with(1);
    assert_says(
        &run,
        &[
            "account-portal: `account-portal --greeting` exited with status 1",
            "greeting.txt not found",
            // The asset is in the root, where the package put it.
            "files the binary reads must be installed where it looks for them",
        ],
    );
}

/// `--keep-root` leaves the root for inspection and says how to enter it; still no mount.
#[test]
fn keep_root_keeps_the_root_and_says_how_to_enter_it() {
    require_root!();
    let d = Demo::with_checks("mock-keep");
    let host = Host::before(d.tmp.path());
    let run = trainyard(&d.portal, &["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=dev", "--keep-root"], &[]);
    host.assert_unchanged();
    run.ok();
    assert_says(&run, &["root kept at", "enter it with: unshare"]);
    let sandbox = d.portal.join("target/trainyard/sandbox");
    let kept: Vec<PathBuf> = std::fs::read_dir(&sandbox).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].join("layers/usr/upper/bin/account-portal").exists());
}

// ---------------------------------------------------------------- preflight

/// This host has no Fedora mock: `--backend mock` stops before building, naming the package.
#[test]
fn the_mock_backend_without_mock_stops_before_building() {
    if which("mock").is_some() {
        eprintln!("NOTICE: skipping: Fedora's mock is installed here");
        return;
    }
    let d = Demo::with_checks("mock-nomock");
    let run = trainyard(&d.portal, &["mock", "--backend", "mock"], &[]);
    run.fails_with(3);
    assert_says(&run, &["the mock backend cannot run here", "`mock` is not installed", "apt-get install -y mock"]);
    assert!(!d.portal.join("target/rpms").exists(), "something was built");
    assert!(!d.portal.join("target/release").exists(), "something was built");
    trainyard(&d.portal, &["mock", "--backend", "chroot"], &[]).fails_with(2).says("unknown backend `chroot`");
    trainyard(&d.portal, &["mock", "--smoke-timeout", "soon"], &[]).fails_with(2).says("--smoke-timeout");
}

/// Without root, the sandbox backend says why it cannot run (exit 2), before building.
#[test]
fn the_sandbox_backend_without_root_stops_before_building() {
    require_root!();
    let d = Demo::with_checks("mock-nobody");
    sh(d.tmp.path(), "chmod", &["-R", "a+rwX", "."]);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_trainyard"))
        .args(["mock", "--backend", "sandbox"])
        .current_dir(&d.portal)
        .env("HOME", d.tmp.path())
        .envs(git_env())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{text}");
    for n in ["the sandbox backend cannot run here", "not root", "run as root"] {
        assert!(text.contains(n), "expected {n:?} in:\n{text}");
    }
    assert!(!d.portal.join("target/rpms").exists(), "something was built:\n{text}");
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

// ---------------------------------------------------------------- the mock backend

/// A stand-in for Fedora's mock, which this host cannot run: `--rebuild` is `rpmbuild
/// --rebuild` (what mock runs in its chroot), `--install` unpacks the RPMs into a directory,
/// `--chroot` runs the command with that directory's /usr/bin first on PATH. Every call is
/// logged, so the test sees the command lines the backend ran.
const FAKE_MOCK: &str = r#"#!/bin/sh
set -e
state="$FAKE_MOCK_STATE"
echo "$*" >> "$state/log"
[ "$1" = "-r" ] && [ -f "$2" ] || { echo "fake mock: no configuration $2" >&2; exit 2; }
shift 2
chroot="$state/chroot"
case "$1" in
  --init) rm -rf "$chroot"; mkdir -p "$chroot" ;;
  --no-clean)
    result="${2#--resultdir=}"
    mkdir -p "$result"
    rpmbuild --rebuild --nodeps --quiet --define "_topdir $state/top" --define "_rpmdir $result" \
      --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" --define "_dbpath $state/rpmdb" "$4" ;;
  --install) shift; for rpm in "$@"; do (cd "$chroot" && rpm2cpio "$rpm" | cpio -idm --quiet); done ;;
  --chroot) shift 4; PATH="$chroot/usr/bin:$PATH" exec /bin/sh -c "$1" ;;
  --clean) rm -rf "$chroot" ;;
  *) echo "fake mock: unexpected $*" >&2; exit 2 ;;
esac
"#;

#[test]
fn the_mock_backend_rebuilds_installs_and_smoke_tests_with_mock() {
    let d = Demo::with_checks("mock-backend");
    let state = d.tmp.path().join("fake-mock");
    let bin = state.join("bin");
    write(&bin.join("mock"), FAKE_MOCK);
    sh(&bin, "chmod", &["755", "mock"]);
    let config = state.join("fedora-fake.cfg");
    write(&config, "config_opts['root'] = 'fedora-fake'\n");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let args = ["mock", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=dev", "--backend", "mock", "--mock-config"];
    let mut args: Vec<&str> = args.to_vec();
    args.push(config.to_str().unwrap());
    let env = [("PATH", path.as_str()), ("FAKE_MOCK_STATE", state.to_str().unwrap())];

    let run = trainyard(&d.portal, &args, &env);
    run.ok();
    assert_says(
        &run,
        &[
            "mock backend",
            "account-portal: `account-portal --version` ok",
            "account-portal 1.3.0-0.dev.2",
            "server-core: `server-core --version` ok",
            "server-core 2.0.0",
        ],
    );
    let log = read(&state.join("log"));
    let calls: Vec<&str> = log.lines().map(|l| l.split_whitespace().nth(2).unwrap_or("")).collect();
    assert_eq!(calls, ["--init", "--no-clean", "--install", "--chroot", "--chroot", "--clean"], "{log}");
    let install = log.lines().find(|l| l.contains("--install")).unwrap();
    assert!(install.contains("account-portal-1.3~~dev2-1.x86_64.rpm"), "{install}");
    assert!(install.contains("server-core-2.0-1.x86_64.rpm"), "{install}");
    // The spec in the source RPM carries the version and the Requires on the internal project.
    let sources = d.portal.join("target/trainyard/mock/sources");
    let spec = read(&sources.join("account-portal.spec"));
    assert!(spec.contains("export TRAINYARD_VERSION=1.3.0-0.dev.2"), "{spec}");
    assert!(spec.contains("Requires:       server-core = 2.0"), "{spec}");
    assert!(!state.join("chroot").exists(), "the chroot was not cleaned");

    // The plan (after a build: build_rpms' dry run needs the binaries): nothing runs.
    let dry = trainyard(&d.portal, &[&args[..], &["--dry-run"]].concat(), &env);
    dry.ok().says("would later: install the collection").says("(mock backend)");
    assert_eq!(read(&state.join("log")), log, "the dry run ran mock");
}

#[test]
fn a_failing_mock_speaks_json_to_the_end() {
    require_root!();
    let d = Demo::with_checks("mock-json");
    d.rpm_table("smoke = \"account-portal --check\"");
    let run = d.mock(&["--message-format", "json"]);
    run.fails_with(1);
    // Every line of stdout is one JSON object; the last is the result, with the exit code.
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}\n{}", run.output())))
        .collect();
    let last = events.last().expect("events");
    assert_eq!(
        (last["reason"].as_str(), last["exit_code"].as_i64(), last["success"].as_bool()),
        (Some("result"), Some(1), Some(false))
    );
    let reasons = |r: &str| events.iter().filter(|e| e["reason"] == r).count();
    assert_eq!(reasons("result"), 1);
    assert!(reasons("package-written") >= 2, "{}", run.stdout);
    assert!(
        events.iter().any(|e| e["reason"] == "phase-finished" && e["phase"] == "running the smoke commands"),
        "{}",
        run.stdout
    );
    let problem = events.iter().find(|e| e["reason"] == "problem").expect("a problem event");
    assert!(problem["message"].as_str().unwrap().contains("smoke"), "{problem}");
}

/// The crates a cargo run (trainyard `-vv`) compiled, each as `NAME VERSION (SOURCE)`.
fn compiled(run: &Run) -> Vec<String> {
    run.output().lines().filter_map(|l| l.trim().strip_prefix("Compiling ")).map(str::to_string).collect()
}

/// Every target that builds the product passes the same cargo profile flags (profile settings
/// are in every unit's fingerprint): after `build`, neither `build_rpms`, `dist` nor `mock`
/// compiles a crate of the workspace's graph again, and `build`'s binary is stripped as the
/// packaged one is.
#[test]
fn build_then_build_rpms_dist_and_mock_compile_nothing_again() {
    let d = Demo::new("mock-fresh");
    let build = d.run(&["-vv", "build"]);
    build.ok();
    let built = compiled(&build);
    assert!(built.iter().any(|c| c.starts_with("account-portal ")), "build compiled the product\n{}", build.output());
    let binary = std::fs::read(d.portal.join("target/release/account-portal")).unwrap();
    let elf = trainyard::rpmpkg::elf::ElfInfo::parse(&binary).unwrap();
    assert!(elf.is_stripped(), "`build`'s binary is stripped like the packaged one");

    let rpms = d.run(&["-vv", "build_rpms", "RPM_CHANNEL=dev", "--no-deps"]);
    rpms.ok();
    let again = compiled(&rpms);
    for c in &built {
        assert!(!again.contains(c), "build_rpms compiled {c} again\n{}", rpms.output());
        assert!(rpms.output().contains(&format!("Fresh {c}")), "build_rpms found {c} fresh\n{}", rpms.output());
    }
    // What build_rpms compiled is only the internal project's own build (its own target dir).
    assert!(again.iter().all(|c| c.starts_with("server-core ")), "{again:?}");
    // `dist` builds the channel's product before it vendors it: the same flags, nothing compiled.
    let dist = d.run(&["-vv", "dist", "RPM_CHANNEL=dev", "--head"]);
    dist.ok();
    assert_eq!(compiled(&dist), Vec::<String>::new(), "dist compiled nothing\n{}", dist.output());

    if !is_root() {
        eprintln!("NOTICE: mock part of {} skipped: the mock tests need root", module_path!());
        return;
    }
    let mock = d.run(&["-vv", "mock", "RPM_CHANNEL=dev", "--no-deps"]);
    mock.ok();
    assert_eq!(compiled(&mock), Vec::<String>::new(), "mock compiled nothing\n{}", mock.output());
    // The collection build_rpms wrote is taken as it is: nothing encoded or rewritten.
    mock.says("nothing changed, nothing rewritten");
}
