//! The install-test engine behind `cargo xtask mock`, with the real tools: RPMs built by
//! `rpmbuild` from tiny specs (shell scripts, and ELF binaries compiled here with gcc),
//! a real `dnf --installroot`, real `bwrap`. Each failure case must name the package and
//! the cause; after every run the host has no new mount, the same /usr and /etc, the same
//! rpm and dnf state, and no leftover root.
//!
//! The sandbox needs root (or user namespaces, which these tests do not rely on); without
//! root the tests print a notice and skip.

use crate::support::workspace as support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use support::{is_root, sh, write};
use trainyard::exec::Effects;
use trainyard::sandbox::mock::{mock_plan, Asset, MockPackage};
use trainyard::sandbox::{self, InstallTest, Report, Smoke};

/// Skips (loudly) a test that needs root.
macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("NOTICE: skipping {}: the sandbox tests need root (CI runs them as root)", module_path!());
            println!("NOTICE: skipped, not root");
            return;
        }
    };
}

fn tmp_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sandbox-tests");
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| sweep(&root));
    root
}

/// Directories of earlier test processes (named `...-PID`) that are gone: a failed
/// assertion leaves its directory for inspection until the next run.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

// ---------------------------------------------------------------- the collection

/// Every RPM the tests draw from, built once per test binary.
struct Collection {
    rpms: BTreeMap<&'static str, Utf8PathBuf>,
    /// The ELF binary packaged as `cping`, as built (to run it on the host).
    cping_binary: PathBuf,
    /// The build tree of `asset-app`: its script finds `data/greeting.txt` from here.
    asset_build_tree: PathBuf,
}

const HELLO: &str = r#"Name: hello
Version: 1.2.3
Release: 1
Summary: prints its version
License: MIT
BuildArch: noarch
%description
A shell-script binary.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/hello
printf '#!/bin/sh\necho "hello %{version}"\n' > %{buildroot}/usr/bin/hello
chmod 755 %{buildroot}/usr/bin/hello
echo greeting > %{buildroot}/usr/share/hello/greeting.txt
%post
echo installed > /var/tmp/hello-post-ran
%files
/usr/bin/hello
/usr/share/hello/greeting.txt
"#;

const CPING: &str = r#"%global debug_package %{nil}
Name: cping
Version: 0.4.0
Release: 1
Summary: an ELF binary that can reach for the network
License: MIT
%description
Compiled by the test with gcc.
%install
install -D -m 0755 %{prebuilt} %{buildroot}/usr/bin/cping
%files
/usr/bin/cping
"#;

const CPING_C: &str = r#"#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) { printf("cping 0.4.0\n"); return 0; }
    if (argc > 2 && strcmp(argv[1], "--connect") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(argv[2]));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            fprintf(stderr, "cping: connect to 127.0.0.1:%s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        printf("connected\n");
        return 0;
    }
    fprintf(stderr, "usage: cping --version | --connect PORT\n");
    return 2;
}
"#;

const NEEDS_LIB: &str = r#"%global debug_package %{nil}
Name: needs-lib
Version: 1.0
Release: 1
Summary: a binary linked to a library no package ships
License: MIT
%description
rpm's generator adds the Requires on libnothere.so.1.
%install
install -D -m 0755 %{prebuilt} %{buildroot}/usr/bin/needs-lib
%files
/usr/bin/needs-lib
"#;

const OTHER_PKG: &str = r#"Name: other-pkg
Version: 1.0
Release: 1
Summary: an internal project at 1.0
License: MIT
BuildArch: noarch
%description
x
%install
mkdir -p %{buildroot}/usr/share/other-pkg
echo 1.0 > %{buildroot}/usr/share/other-pkg/VERSION
%files
/usr/share/other-pkg/VERSION
"#;

const NEEDS_OTHER: &str = r#"Name: needs-other
Version: 3.1
Release: 1
Summary: requires an internal project at a version not in the collection
License: MIT
BuildArch: noarch
Requires: other-pkg = 9.9
%description
x
%files
"#;

const BADPOST: &str = r#"Name: badpost
Version: 1.0
Release: 1
Summary: its %post fails
License: MIT
BuildArch: noarch
%description
x
%post
echo "badpost: cannot create the service user" >&2
exit 3
%files
"#;

const SMOKE_FAIL: &str = r#"Name: smoke-fail
Version: 1.0
Release: 1
Summary: its binary exits 1
License: MIT
BuildArch: noarch
%description
x
%install
mkdir -p %{buildroot}/usr/bin
printf '#!/bin/sh\necho "smoke-fail: no configuration" >&2\nexit 1\n' > %{buildroot}/usr/bin/smoke-fail
chmod 755 %{buildroot}/usr/bin/smoke-fail
%files
/usr/bin/smoke-fail
"#;

/// The binary looks for `data/greeting.txt` beside where it runs (the build tree), then in
/// /usr/share/asset-app/; the package installs the asset somewhere else.
const ASSET_APP_SCRIPT: &str = "#!/bin/sh\n\
    for dir in data /usr/share/asset-app; do\n\
    \x20 if [ -r \"$dir/greeting.txt\" ]; then cat \"$dir/greeting.txt\"; exit 0; fi\n\
    done\n\
    echo \"asset-app: greeting.txt not found\" >&2\n\
    exit 1\n";

const ASSET_APP: &str = r#"Name: asset-app
Version: 2.0
Release: 1
Summary: installs its asset where it does not look
License: MIT
BuildArch: noarch
%description
x
%install
install -D -m 0755 %{tree}/asset-app %{buildroot}/usr/bin/asset-app
install -D -m 0644 %{tree}/data/greeting.txt %{buildroot}/usr/share/asset-app-data/greeting.txt
%files
/usr/bin/asset-app
/usr/share/asset-app-data/greeting.txt
"#;

const EDITS_ITSELF: &str = r#"Name: edits-itself
Version: 1.0
Release: 1
Summary: its %post rewrites a packaged file
License: MIT
BuildArch: noarch
%description
x
%install
mkdir -p %{buildroot}/usr/share/edits-itself
echo original > %{buildroot}/usr/share/edits-itself/settings
%post
echo "changed by post" > /usr/share/edits-itself/settings
%files
/usr/share/edits-itself/settings
"#;

fn collection() -> &'static Collection {
    static COLLECTION: OnceLock<Collection> = OnceLock::new();
    COLLECTION.get_or_init(shared_collection)
}

/// Built once and shared by the test processes (nextest runs each test in its own): a
/// process builds in a directory of its own and renames it into place; a loser of the race
/// uses the winner's. The name carries a hash of the sources, so an edit rebuilds.
fn shared_collection() -> Collection {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        HELLO,
        CPING,
        CPING_C,
        NEEDS_LIB,
        OTHER_PKG,
        NEEDS_OTHER,
        BADPOST,
        SMOKE_FAIL,
        ASSET_APP_SCRIPT,
        ASSET_APP,
        EDITS_ITSELF,
    )
        .hash(&mut hasher);
    let shared = tmp_root().join(format!("collection-k{:016x}", hasher.finish()));
    if !shared.join("complete").exists() {
        let own = tmp_root().join(format!("collection-{}", std::process::id()));
        build_collection(&own);
        write(&own.join("complete"), "");
        if std::fs::rename(&own, &shared).is_err() {
            let _ = std::fs::remove_dir_all(&own);
        }
    }
    load_collection(&shared)
}

fn load_collection(dir: &Path) -> Collection {
    let mut rpms = BTreeMap::new();
    for name in COLLECTION_NAMES {
        let found: Vec<PathBuf> = walk(&dir.join("rpms").join(name))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
            .collect();
        assert_eq!(found.len(), 1, "{name}: expected one RPM, found {found:?}");
        rpms.insert(*name, Utf8PathBuf::from_path_buf(found[0].clone()).unwrap());
    }
    let src = dir.join("src");
    Collection { rpms, cping_binary: src.join("cping"), asset_build_tree: src.join("asset-app") }
}

const COLLECTION_NAMES: &[&str] =
    &["hello", "cping", "needs-lib", "other-pkg", "needs-other", "badpost", "smoke-fail", "asset-app", "edits-itself"];

fn build_collection(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("src");

    write(&src.join("cping.c"), CPING_C);
    sh(&src, "gcc", &["-O2", "-o", "cping", "cping.c"]);
    write(&src.join("nothere.c"), "int nothere(void) { return 1; }\n");
    sh(&src, "gcc", &["-shared", "-fPIC", "-Wl,-soname,libnothere.so.1", "-o", "libnothere.so.1", "nothere.c"]);
    write(&src.join("uselib.c"), "int nothere(void);\nint main(void) { return nothere() - 1; }\n");
    sh(&src, "gcc", &["-o", "needs-lib", "uselib.c", "-L.", "-l:libnothere.so.1"]);
    let tree = src.join("asset-app");
    write(&tree.join("asset-app"), ASSET_APP_SCRIPT);
    write(&tree.join("data/greeting.txt"), "hello from asset-app\n");
    sh(&tree, "chmod", &["755", "asset-app"]);

    type Defines = Vec<(&'static str, PathBuf)>;
    let specs: &[(&str, &str, Defines)] = &[
        ("hello", HELLO, vec![]),
        ("cping", CPING, vec![("prebuilt", src.join("cping"))]),
        ("needs-lib", NEEDS_LIB, vec![("prebuilt", src.join("needs-lib"))]),
        ("other-pkg", OTHER_PKG, vec![]),
        ("needs-other", NEEDS_OTHER, vec![]),
        ("badpost", BADPOST, vec![]),
        ("smoke-fail", SMOKE_FAIL, vec![]),
        ("asset-app", ASSET_APP, vec![("tree", tree.clone())]),
        ("edits-itself", EDITS_ITSELF, vec![]),
    ];
    assert_eq!(specs.iter().map(|s| s.0).collect::<Vec<_>>(), COLLECTION_NAMES);
    for (name, spec, defines) in specs {
        rpmbuild(dir, name, spec, defines);
    }
}

/// Builds one binary RPM and returns its path.
fn rpmbuild(dir: &Path, name: &str, spec: &str, defines: &[(&str, PathBuf)]) -> Utf8PathBuf {
    let spec_path = dir.join("specs").join(format!("{name}.spec"));
    write(&spec_path, spec);
    let out = dir.join("rpms").join(name);
    let mut args: Vec<String> = vec![
        "-bb".into(),
        "--quiet".into(),
        "--define".into(),
        format!("_topdir {}", dir.join("rpmbuild").display()),
        "--define".into(),
        format!("_rpmdir {}", out.display()),
        // Debian's rpm otherwise keeps its database in the home directory of whoever runs it.
        "--define".into(),
        format!("_dbpath {}", dir.join("rpmdb").display()),
    ];
    for (k, v) in defines {
        args.push("--define".into());
        args.push(format!("{k} {}", v.display()));
    }
    args.push(spec_path.to_str().unwrap().into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sh(dir, "rpmbuild", &args);
    let found: Vec<PathBuf> = walk(&out).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rpm")).collect();
    assert_eq!(found.len(), 1, "{name}: expected one RPM, found {found:?}");
    Utf8PathBuf::from_path_buf(found[0].clone()).unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------- the host, before and after

/// What must not change on the host: its mounts, /usr, /etc, and rpm's and dnf's state.
#[derive(PartialEq, Eq)]
struct HostState {
    mounts: Vec<String>,
    usr: BTreeMap<PathBuf, (i128, u64)>,
    etc: BTreeMap<PathBuf, (i128, u64)>,
    rpm_qa: String,
    state_dirs: BTreeMap<PathBuf, (i128, u64)>,
}

impl HostState {
    fn capture() -> HostState {
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .map(|l| l.split(' ').skip(1).collect::<Vec<_>>().join(" "))
            .collect();
        mounts.sort();
        let rpm_qa = std::process::Command::new("rpm").args(["-qa"]).output().unwrap();
        let mut state_dirs = BTreeMap::new();
        for d in ["/var/lib/dnf", "/var/cache/dnf", "/var/lib/rpm", "/root/.rpmdb", "/var/log"] {
            state_dirs.extend(listing(Path::new(d)));
        }
        HostState {
            mounts,
            usr: listing(Path::new("/usr")),
            etc: listing(Path::new("/etc")),
            rpm_qa: String::from_utf8_lossy(&rpm_qa.stdout).into_owned(),
            state_dirs,
        }
    }

    fn assert_unchanged(&self, after: &HostState) {
        assert_eq!(self.mounts, after.mounts, "a mount was left behind or removed");
        assert_eq!(self.rpm_qa, after.rpm_qa, "the host's rpm database changed");
        for (what, a, b) in [
            ("/usr", &self.usr, &after.usr),
            ("/etc", &self.etc, &after.etc),
            ("rpm/dnf state", &self.state_dirs, &after.state_dirs),
        ] {
            let changed: Vec<&PathBuf> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).take(10).collect();
            assert!(changed.is_empty(), "{what} changed on the host: {changed:?}");
        }
    }
}

/// Every entry under `dir` (not following symlinks, not crossing into other file systems'
/// pseudo files) with its modification time and size.
fn listing(dir: &Path) -> BTreeMap<PathBuf, (i128, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(m) = std::fs::symlink_metadata(&d) {
            out.insert(d.clone(), (m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.size()));
        }
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            // sqlite's shared-memory index is rewritten by every reader (`rpm -qa` here too).
            if p.to_string_lossy().ends_with("-shm") {
                continue;
            }
            let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
            if m.is_dir() {
                stack.push(p);
            } else {
                out.insert(p, (m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128, m.size()));
            }
        }
    }
    out
}

// ---------------------------------------------------------------- running

fn work_dir(test: &str) -> Utf8PathBuf {
    let dir = tmp_root().join(format!("work-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Utf8PathBuf::from_path_buf(dir).unwrap()
}

fn smoke(package: &str, command: &str, expect: Option<&str>) -> Smoke {
    Smoke { package: package.into(), command: command.into(), expect_output: expect.map(String::from) }
}

fn quiet() -> Effects {
    Effects { dry_run: false, quiet: true }
}

/// Runs an install test with `repo` as the collection, checking the host before and after
/// and that no run directory is left.
fn run(test_name: &str, repo: &[&str], install: &[&str], smokes: Vec<Smoke>) -> Result<Report, String> {
    let c = collection();
    let work = work_dir(test_name);
    let mut test = InstallTest::new(&work);
    test.repo_rpms = repo.iter().map(|n| c.rpms[n].clone()).collect();
    test.install = install.iter().map(|s| s.to_string()).collect();
    test.smoke = smokes;
    test.smoke_timeout = Duration::from_secs(30);
    let before = HostState::capture();
    let result = sandbox::run(&test, &quiet());
    let after = HostState::capture();
    before.assert_unchanged(&after);
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "{test_name}: the run left {left:?}");
    std::fs::remove_dir_all(&work).unwrap();
    result.map_err(|e| e.to_string())
}

fn assert_says(err: &str, needles: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "expected the error to mention {n:?}:\n{err}");
    }
}

// ---------------------------------------------------------------- the tests

#[test]
fn installs_the_collection_and_runs_its_smoke_commands() {
    require_root!();
    let c = collection();
    // The ELF package's Requires are libc's, which only the base-system package provides.
    let requires = sh(Path::new("."), "rpm", &["-qp", "--requires", c.rpms["cping"].as_str()]);
    assert!(requires.contains("libc.so.6("), "cping should require libc:\n{requires}");
    let build_tree = env!("CARGO_MANIFEST_DIR");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let isolation = format!(
        "test ! -e {build_tree} && test ! -e {}/.cargo && test ! -e {} && echo isolated",
        home,
        tmp_root().display()
    );
    let report = run(
        "success",
        &["hello", "cping", "other-pkg", "badpost"],
        &["hello", "cping"],
        vec![
            Smoke::version("hello", "hello", "1.2.3"),
            Smoke::version("cping", "cping", "0.4.0"),
            smoke("hello", "cat /usr/share/hello/greeting.txt && cat /var/tmp/hello-post-ran", Some("installed")),
            smoke("hello", &isolation, Some("isolated")),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.installed.len(), 2, "{:?}", report.installed);
    assert!(report.installed.contains(&"hello-1.2.3-1.noarch".to_string()), "{:?}", report.installed);
    assert!(report.installed.iter().any(|n| n.starts_with("cping-0.4.0-1.")), "{:?}", report.installed);
    assert_eq!(report.smokes.len(), 4);
    assert!(report.smokes.iter().all(|s| s.ok), "{}", report.render());
    assert_eq!(report.smokes[0].output.trim(), "hello 1.2.3");
    assert_eq!(report.smokes[1].output.trim(), "cping 0.4.0");
    let t = &report.timings;
    assert!(t.total >= t.repo + t.base + t.install + t.verify + t.smoke);
    assert!(!t.install.is_zero() && !t.smoke.is_zero());
    let text = report.render();
    assert!(text.contains("hello: `hello --version` ok"), "{text}");
    assert!(text.contains("time: repository"), "{text}");
    assert!(report.root.is_none());
    eprintln!("{text}");
}

#[test]
fn a_library_nothing_provides_names_the_package_and_the_library() {
    require_root!();
    let err = run("needs-lib", &["hello", "needs-lib"], &["hello", "needs-lib"], vec![]).unwrap_err();
    assert_says(&err, &["needs-lib-1.0-1.", "libnothere.so.1()(64bit)", "nothing in the collection"]);
}

#[test]
fn a_requires_on_a_version_not_in_the_collection_names_both() {
    require_root!();
    let err = run("needs-other", &["other-pkg", "needs-other"], &["needs-other"], vec![]).unwrap_err();
    assert_says(&err, &["needs-other-3.1-1.noarch", "other-pkg = 9.9"]);
}

#[test]
fn a_failing_post_scriptlet_fails_the_run() {
    require_root!();
    let err = run("badpost", &["hello", "badpost"], &["hello", "badpost"], vec![]).unwrap_err();
    assert_says(&err, &["%post", "badpost-1.0-1.noarch", "exit status 3", "cannot create the service user"]);
}

#[test]
fn a_smoke_command_that_exits_non_zero_fails() {
    require_root!();
    let err = run(
        "smoke-fail",
        &["hello", "smoke-fail"],
        &["hello", "smoke-fail"],
        vec![Smoke::version("hello", "hello", "1.2.3"), smoke("smoke-fail", "smoke-fail --version", None)],
    )
    .unwrap_err();
    assert_says(&err, &["smoke-fail: `smoke-fail --version` exited with status 1", "no configuration"]);
    assert!(!err.contains("hello: `hello"), "the passing smoke command is not a failure:\n{err}");
}

#[test]
fn a_smoke_command_that_does_not_print_the_version_fails() {
    require_root!();
    let err =
        run("wrong-version", &["hello"], &["hello"], vec![Smoke::version("hello", "hello", "9.9.9")]).unwrap_err();
    assert_says(&err, &["hello: `hello --version` exited 0 but did not print what was expected", "hello 1.2.3"]);
}

#[test]
fn a_smoke_command_that_reaches_for_the_network_fails() {
    require_root!();
    let c = collection();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // On the host, the same binary reaches the port: only the sandbox stops it.
    sh(Path::new("."), c.cping_binary.to_str().unwrap(), &["--connect", &port]);
    let command = format!("cping --connect {port}");
    let err = run("network", &["cping"], &["cping"], vec![smoke("cping", &command, Some("connected"))]).unwrap_err();
    // bwrap brings up a loopback of its own in the new network namespace: nothing listens there.
    assert_says(&err, &[&format!("cping: `{command}` exited with status 1"), &format!("127.0.0.1:{port}"), "network"]);
    drop(listener);
}

#[test]
fn an_asset_installed_where_the_binary_does_not_look_fails_in_the_root() {
    require_root!();
    let c = collection();
    // In the build tree, the binary finds its asset.
    let out = sh(&c.asset_build_tree, "./asset-app", &[]);
    assert_eq!(out, "hello from asset-app");
    let err = run("asset", &["asset-app"], &["asset-app"], vec![smoke("asset-app", "asset-app", Some("hello from"))])
        .unwrap_err();
    assert_says(&err, &["asset-app: `asset-app` exited with status 1", "greeting.txt not found"]);
}

#[test]
fn a_packaged_file_changed_after_install_fails_verification() {
    require_root!();
    let err = run("verify", &["edits-itself"], &["edits-itself"], vec![]).unwrap_err();
    assert_says(&err, &["rpm -V", "edits-itself-1.0-1.noarch", "/usr/share/edits-itself/settings"]);
}

#[test]
fn a_smoke_command_that_hangs_is_killed() {
    require_root!();
    let c = collection();
    let work = work_dir("hang");
    let mut test = InstallTest::new(&work);
    test.repo_rpms = vec![c.rpms["hello"].clone()];
    test.install = vec!["hello".into()];
    test.smoke = vec![smoke("hello", "sleep 60", None)];
    test.smoke_timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let err = sandbox::run(&test, &quiet()).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_says(&err, &["hello: `sleep 60` timed out"]);
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn a_package_not_in_the_collection_is_named() {
    require_root!();
    let err = run("ghost", &["hello"], &["hello", "ghost"], vec![]).unwrap_err();
    assert_says(&err, &["`ghost`"]);
}

#[test]
fn keep_root_leaves_the_root_but_no_mount() {
    require_root!();
    let c = collection();
    let work = work_dir("keep");
    let mut test = InstallTest::new(&work);
    test.repo_rpms = vec![c.rpms["hello"].clone()];
    test.install = vec!["hello".into()];
    test.smoke = vec![Smoke::version("hello", "hello", "1.2.3")];
    test.keep_root = true;
    let before = HostState::capture();
    let report = sandbox::run(&test, &quiet()).unwrap_or_else(|e| panic!("{e}"));
    before.assert_unchanged(&HostState::capture());
    let root = report.root.clone().expect("the kept root");
    assert!(root.starts_with(&work));
    // Only root reaches into it: a scriptlet may have left setuid files there.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    // Outside the namespace the overlay is not mounted: /usr of the root is an empty mount
    // point, and what the packages put in /usr is in the overlay's upper layer.
    assert!(!root.join("usr/bin/hello").exists());
    let upper = root.parent().unwrap().join("layers/usr/upper/bin/hello");
    assert!(upper.exists(), "{upper} missing");
    assert!(root.join("var/lib/rpm").is_dir());
    let enter = report.enter.clone().unwrap();
    assert_eq!(enter[0], "unshare");
    // The command printed to enter the root works (here: runs the packaged binary).
    let mut argv = enter.clone();
    let shell = argv.pop().unwrap();
    assert_eq!(shell, "/bin/sh");
    argv.extend(["/usr/bin/hello".to_string()]);
    let out = std::process::Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello 1.2.3", "{:?}", out);
    // It is the install's sandbox: rpm there reads the root's database.
    let mut argv = enter.clone();
    argv.extend(["-c".to_string(), "rpm -q hello".to_string()]);
    let out = std::process::Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello-1.2.3-1.noarch", "{:?}", out);
    assert!(report.render().contains("root kept at"));
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    require_root!();
    let c = collection();
    let work = work_dir("dry-run");
    let mut test = InstallTest::new(&work);
    test.repo_rpms = vec![c.rpms["hello"].clone()];
    test.install = vec!["hello".into()];
    test.smoke = vec![Smoke::version("hello", "hello", "1.2.3")];
    let report = sandbox::run(&test, &Effects::new(true)).unwrap();
    assert!(report.installed.is_empty() && report.smokes.is_empty());
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "dry run left {left:?}");
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn preflight_accepts_this_host() {
    require_root!();
    let work = work_dir("preflight");
    assert_eq!(sandbox::preflight(&work).unwrap(), sandbox::root::Privilege::Root);
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().collect();
    assert!(left.is_empty());
    std::fs::remove_dir_all(&work).unwrap();
}

/// Without root, the sandbox says which backend cannot run and why, before any work: the
/// test re-runs itself as `nobody` (this test binary, one test, through `setpriv`).
#[test]
fn preflight_without_root_says_why_the_sandbox_cannot_run() {
    if let Some(work) = std::env::var_os("TRAINYARD_TEST_PREFLIGHT_CHILD") {
        let work = Utf8PathBuf::from(work.into_string().unwrap());
        let err = sandbox::preflight(&work).unwrap_err();
        println!("CHILD-SAYS {}", err.to_string().replace('\n', " | "));
        return;
    }
    require_root!();
    let work = work_dir("preflight-nobody");
    sh(Path::new("."), "chmod", &["777", work.as_str()]);
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args([
            "--exact",
            "sandbox::preflight_without_root_says_why_the_sandbox_cannot_run",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TRAINYARD_TEST_PREFLIGHT_CHILD", work.as_str())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let says = stdout.lines().find(|l| l.contains("CHILD-SAYS")).unwrap_or_else(|| panic!("{stdout}"));
    assert_says(says, &["the sandbox backend cannot run here", "not root", "run as root", "--backend mock"]);
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the probe left {left:?}");
    std::fs::remove_dir_all(&work).unwrap();
}

// ---------------------------------------------------------------- the mock backend

/// A tiny crate with no dependencies: the spec trainyard writes for mock builds it offline
/// from its source RPM, with `rpmbuild --rebuild` standing in for `mock --rebuild`.
#[test]
fn mock_spec_rebuilds_from_its_source_rpm() {
    let dir = tmp_root().join(format!("mock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ws = dir.join("tiny");
    write(&ws.join("Cargo.toml"), "[package]\nname = \"tiny\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n[workspace]\n\n[[bin]]\nname = \"tiny\"\npath = \"src/main.rs\"\n");
    write(
        &ws.join("src/main.rs"),
        "fn main() {\n    let greeting = std::fs::read_to_string(\"/usr/share/tiny/greeting.txt\").unwrap_or_default();\n    println!(\"tiny {} {}\", env!(\"CARGO_PKG_VERSION\"), greeting.trim());\n}\n",
    );
    write(&ws.join("share/greeting.txt"), "hi\n");
    write(&ws.join(".cargo/config.toml"), "[alias]\nxtask = \"run --quiet --\"\n");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    sh(&ws, &cargo, &["generate-lockfile", "--offline"]);

    let pkg = MockPackage {
        name: "tiny".into(),
        version: "0.3.0".into(),
        release: "1".into(),
        summary: "A tiny crate".into(),
        license: "MIT".into(),
        cargo_package: "tiny".into(),
        binaries: vec!["tiny".into()],
        assets: vec![Asset {
            source: "share/greeting.txt".into(),
            dest: "/usr/share/tiny/greeting.txt".into(),
            mode: 0o644,
        }],
        requires: vec![],
        build_version: None,
    };
    let dir8 = Utf8PathBuf::from_path_buf(dir.clone()).unwrap();
    let plan = mock_plan(&pkg, "fedora-41-x86_64", &dir8.join("result")).unwrap();
    let ws8 = Utf8Path::from_path(&ws).unwrap();
    let vendor_config =
        "[source.crates-io]\nreplace-with = \"vendored-sources\"\n\n[source.vendored-sources]\ndirectory = \"vendor\"\n";
    let srpm = plan.write_srpm(&quiet(), ws8, None, vendor_config, &dir8.join("sources")).unwrap();
    assert!(srpm.is_file(), "{srpm}");
    let listing = sh(&dir, "rpm", &["-qpl", srpm.as_str()]);
    for f in ["tiny.spec", "tiny-0.3.0.tar.gz", "tiny-0.3.0-vendor.tar.gz", "tiny-0.3.0-vendor-config.toml"] {
        assert!(listing.lines().any(|l| l == f), "{f} missing from the source RPM:\n{listing}");
    }

    // rpmbuild --rebuild, as mock would run it in its chroot (BuildRequires are mock's job).
    let top = dir.join("rebuild");
    let defines = [format!("_topdir {}", top.display()), format!("_dbpath {}", dir.join("rpmdb").display())];
    sh(
        &dir,
        "rpmbuild",
        &["--rebuild", "--nodeps", "--quiet", "--define", &defines[0], "--define", &defines[1], srpm.as_str()],
    );
    let rpms: Vec<PathBuf> =
        walk(&top.join("RPMS")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rpm")).collect();
    assert_eq!(rpms.len(), 1, "{rpms:?}");
    let rpm = rpms[0].to_str().unwrap();
    let files = sh(&dir, "rpm", &["-qpl", rpm]);
    // rpmbuild adds the binary's build-id link beside it.
    let files: Vec<&str> = files.lines().filter(|f| !f.starts_with("/usr/lib/.build-id")).collect();
    assert_eq!(files, ["/usr/bin/tiny", "/usr/share/tiny/greeting.txt"]);
    let nvr = sh(&dir, "rpm", &["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE}", rpm]);
    assert_eq!(nvr, "tiny 0.3.0 1");
    // The binary in it is the crate, built: extract it and run it.
    let extract = dir.join("extract");
    std::fs::create_dir_all(&extract).unwrap();
    let cpio = std::process::Command::new("sh")
        .args(["-c", "rpm2cpio \"$1\" | cpio -idm --quiet", "sh", rpm])
        .current_dir(&extract)
        .status()
        .unwrap();
    assert!(cpio.success());
    let out = sh(&dir, extract.join("usr/bin/tiny").to_str().unwrap(), &[]);
    assert_eq!(out, "tiny 0.3.0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mock_command_lines() {
    let pkg = MockPackage {
        name: "web".into(),
        version: "1.2".into(),
        release: "1".into(),
        summary: "web".into(),
        license: "MIT".into(),
        cargo_package: "web".into(),
        binaries: vec!["web".into()],
        assets: vec![],
        requires: vec![],
        build_version: None,
    };
    let plan = mock_plan(&pkg, "fedora-41-x86_64", Utf8Path::new("/t/mock/result")).unwrap();
    assert_eq!(plan.srpm, "web-1.2-1.src.rpm");
    let srpm = Utf8Path::new("/t/mock/sources/web-1.2-1.src.rpm");
    let rpms = vec![
        Utf8PathBuf::from("/t/mock/result/web-1.2-1.fc41.x86_64.rpm"),
        Utf8PathBuf::from("/t/rpms/server-core-2.0-1.x86_64.rpm"),
    ];
    let smokes = vec![Smoke::version("web", "web", "1.2"), smoke("web", "web check && echo ok", Some("ok"))];
    let cmds = plan.commands(srpm, &rpms, &smokes, false);
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        cmds,
        vec![
            words(&["mock", "-r", "fedora-41-x86_64", "--init"]),
            words(&[
                "mock",
                "-r",
                "fedora-41-x86_64",
                "--no-clean",
                "--resultdir=/t/mock/result",
                "--rebuild",
                srpm.as_str()
            ]),
            words(&["mock", "-r", "fedora-41-x86_64", "--install", rpms[0].as_str(), rpms[1].as_str()]),
            words(&["mock", "-r", "fedora-41-x86_64", "--chroot", "--", "/bin/sh", "-c", "web --version"]),
            words(&["mock", "-r", "fedora-41-x86_64", "--chroot", "--", "/bin/sh", "-c", "web check && echo ok"]),
            words(&["mock", "-r", "fedora-41-x86_64", "--clean"]),
        ]
    );
    // --keep-root: the chroot stays.
    assert_eq!(plan.commands(srpm, &rpms, &smokes, true).len(), 5);
    assert_eq!(sandbox::Backend::choose(Some(sandbox::Backend::Sandbox)), sandbox::Backend::Sandbox);
    // This host has no mock: the default is the sandbox.
    if which_mock().is_none() {
        assert_eq!(sandbox::Backend::choose(None), sandbox::Backend::Sandbox);
        let err = sandbox::mock::preflight("default").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("mock backend cannot run"), "{err}");
    }
}

fn which_mock() -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join("mock")).find(|p| p.is_file())
}

// ---------------------------------------------------------------- scriptlets that try to leave

/// A package whose `%post` is `@BODY@` (with `%{...}` defines from the test), built for one test.
const HOSTILE: &str = r#"Name: %{pkg}
Version: 1.0
Release: 1
Summary: its %post tries to leave the install root
License: MIT
BuildArch: noarch
%description
x
%post
@BODY@
%files
"#;

/// The classic chroot escape, in the python3 every dnf host has in /usr (so in the root):
/// chroot into a subdirectory, walk `..` past the old root, chroot there, write `%{target}`.
const CHROOT_ESCAPE: &str = r#"python3 - '%{target}' <<'EOF'
import os, sys
os.makedirs("/var/tmp/escape", exist_ok=True)
os.chroot("/var/tmp/escape")
for _ in range(256):
    os.chdir("..")
os.chroot(".")
with open(sys.argv[1], "w") as f:
    f.write("written from a %post\n")
print("escape: wrote", sys.argv[1])
EOF"#;

/// A connection to the port the test listens on, on the host's 127.0.0.1.
const HOST_PORT: &str = r#"python3 - '%{port}' <<'EOF'
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10).sendall(b"from a %post\n")
print("connect: reached the host's port", sys.argv[1])
EOF"#;

/// A process left running: `setsid` out of the scriptlet's session, its output detached.
const LEFTOVER: &str = "setsid sleep %{nap} </dev/null >/dev/null 2>&1 &\necho \"leftover: started sleep %{nap}\"";

/// Builds the hostile package `name` with `body` as its `%post`, outside the run's work dir.
fn hostile_rpm(test: &str, name: &str, body: &str, defines: &[(&str, String)]) -> Utf8PathBuf {
    let dir = tmp_root().join(format!("hostile-{test}-{}", std::process::id()));
    let mut all: Vec<(&str, PathBuf)> = vec![("pkg", PathBuf::from(name))];
    all.extend(defines.iter().map(|(k, v)| (*k, PathBuf::from(v))));
    rpmbuild(&dir, name, &HOSTILE.replace("@BODY@", body), &all)
}

/// [`run`] with RPMs built by the test (beside `hello`), installing all of them.
fn run_hostile(test_name: &str, rpms: &[Utf8PathBuf], install: &[&str]) -> Result<Report, String> {
    let c = collection();
    let work = work_dir(test_name);
    let mut test = InstallTest::new(&work);
    test.repo_rpms = rpms.to_vec();
    test.repo_rpms.push(c.rpms["hello"].clone());
    test.install = install.iter().map(|s| s.to_string()).collect();
    test.smoke = vec![Smoke::version("hello", "hello", "1.2.3")];
    let before = HostState::capture();
    let result = sandbox::run(&test, &quiet());
    before.assert_unchanged(&HostState::capture());
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "{test_name}: the run left {left:?}");
    std::fs::remove_dir_all(&work).unwrap();
    result.map_err(|e| e.to_string())
}

/// Host processes whose command line is `sleep NAP` (a unique NAP per test process).
fn sleepers(nap: &str) -> Vec<u32> {
    let wanted = format!("sleep\0{nap}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted.as_bytes()))
        .collect()
}

#[test]
fn a_post_scriptlet_cannot_chroot_its_way_out_of_the_root() {
    require_root!();
    let outside = tmp_root().join(format!("outside-escape-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let target = outside.join("escaped");
    let rpm = hostile_rpm("escape", "escape-chroot", CHROOT_ESCAPE, &[("target", target.display().to_string())]);
    let result = run_hostile("escape", &[rpm], &["hello", "escape-chroot"]);
    assert!(!target.exists(), "the %post wrote {} on the host: {result:?}", target.display());
    // The escape lands in the sandbox's own root, where the host's directory does not exist.
    let err = result.expect_err("the scriptlet's failure fails the run");
    eprintln!("{err}");
    assert_says(
        &err,
        &[
            "the %post scriptlet of escape-chroot-1.0-1.noarch failed",
            "No such file or directory",
            target.to_str().unwrap(),
        ],
    );
    std::fs::remove_dir_all(&outside).unwrap();
}

#[test]
fn a_post_scriptlet_cannot_reach_a_port_on_the_host() {
    require_root!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let rpm = hostile_rpm("port", "escape-port", HOST_PORT, &[("port", port.clone())]);
    let result = run_hostile("port", &[rpm], &["hello", "escape-port"]);
    // A connection made during the run would wait in the listener's backlog.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the %post reached the host's port {port}: {other:?}\n{result:?}"),
    }
    let err = result.expect_err("the scriptlet's failure fails the run");
    eprintln!("{err}");
    assert_says(&err, &["the %post scriptlet of escape-port-1.0-1.noarch failed", "Connection refused"]);
}

#[test]
fn a_process_a_scriptlet_leaves_running_is_killed_and_fails_the_run() {
    require_root!();
    let nap = format!("9{}", std::process::id());
    let rpm = hostile_rpm("leftover", "leaves-a-process", LEFTOVER, &[("nap", nap.clone())]);
    let result = run_hostile("leftover", &[rpm], &["hello", "leaves-a-process"]);
    let left = sleepers(&nap);
    for pid in &left {
        let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    assert!(left.is_empty(), "`sleep {nap}` from the %post still runs on the host (pids {left:?}): {result:?}");
    let err = result.expect_err("a leftover process fails the run");
    eprintln!("{err}");
    assert_says(
        &err,
        &["the %post scriptlet of leaves-a-process-1.0-1.noarch", "left a process running", &format!("sleep {nap}")],
    );
    assert!(!err.contains("hello-1.2.3"), "hello left nothing running:\n{err}");
}

/// What a scriptlet may do is what rpm needs: no mount (CAP_SYS_ADMIN), no device node that
/// would reach the host's disk (CAP_MKNOD), no hostname change reaching the host, no write to
/// the kernel's settings (root needs no capability for most of /proc/sys; `core_pattern` names
/// a program the host's kernel runs as root). `test -w` asks without writing.
const PRIVILEGED: &str = r#"mknod /var/tmp/host-disk b 8 0 || echo "refused: mknod"
mount -t tmpfs none /var/tmp || echo "refused: mount"
hostname escaped-%{nap} || echo "refused: hostname"
for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sysrq-trigger; do
  if test -w "$f"; then echo "writable: $f"; else echo "refused: $f"; fi
done
exit 7"#;

#[test]
fn a_scriptlet_cannot_mount_make_devices_rename_the_host_or_set_the_kernel() {
    require_root!();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let nap = std::process::id().to_string();
    let rpm = hostile_rpm("privileged", "wants-privileges", PRIVILEGED, &[("nap", nap)]);
    let err = run_hostile("privileged", &[rpm], &["hello", "wants-privileges"]).unwrap_err();
    eprintln!("{err}");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), hostname);
    assert_says(
        &err,
        &[
            "the %post scriptlet of wants-privileges-1.0-1.noarch failed, exit status 7",
            "refused: mknod",
            "refused: mount",
            "refused: hostname",
            "refused: /proc/sys/kernel/core_pattern",
            "refused: /proc/sys/kernel/modprobe",
            "refused: /proc/sysrq-trigger",
        ],
    );
    assert!(!err.contains("writable:"), "{err}");
}
