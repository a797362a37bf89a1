//! End-to-end tests of `build_rpms`: the real binary on fixture repositories, and every RPM it
//! writes read back with the real tools (`rpm -qp`, `rpm -K`, `rpmlint` with the repo's
//! rpmlint.toml, rpm's own `elfdeps` and version comparison).
//!
//! Needs `rpm` and `rpmlint` (Debian packages `rpm`, `rpmlint`), as CI installs them.

use crate::support::workspace as support;

use crate::support::rpm as rpm_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::support::demo::Demo;
use rpm_support::{lines, rpm_q, tool};
use support::*;

const ELFDEPS: &str = "/usr/lib/rpm/elfdeps";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn nvra(file: &Path) -> String {
    rpm_q(file, &["--queryformat", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}"])
}

/// rpm's own comparison of two versions: -1, 0 or 1.
fn vercmp(a: &str, b: &str) -> i32 {
    let (ok, out) = tool("rpm", &["--eval", &format!("%{{lua: print(rpm.vercmp(\"{a}\", \"{b}\"))}}")]);
    assert!(ok, "{out}");
    out.trim().parse().unwrap_or_else(|_| panic!("rpm.vercmp said {out:?}"))
}

fn digests_ok(file: &Path) {
    let (ok, out) = tool("rpm", &["-K", file.to_str().unwrap()]);
    assert!(ok && out.contains("digests OK"), "rpm -K {}:\n{out}", file.display());
}

fn rpmlint_clean(file: &Path) {
    let policy = repo_root().join("rpmlint.toml");
    let (ok, out) = tool("rpmlint", &["-c", policy.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(out.contains(" 0 errors"), "rpmlint found errors in {}:\n{out}", file.display());
    assert!(ok, "rpmlint failed on {}:\n{out}", file.display());
}

/// Unpacks an RPM's payload under `root`, as installing it there would lay it out.
fn extract(rpm: &Path, root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let script = "rpm2cpio \"$1\" | cpio -idm --quiet";
    let out = Command::new("sh").args(["-c", script, "sh"]).arg(rpm).current_dir(root).output().unwrap();
    assert!(out.status.success(), "unpacking {}: {}", rpm.display(), String::from_utf8_lossy(&out.stderr));
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every entry under `dir` (hidden ones too): path, content (files), mtime. Empty when `dir`
/// does not exist: "unchanged" includes "still not there".
fn state(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>, SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.push((path, None, meta.modified().unwrap()));
            } else {
                out.push((path.clone(), Some(std::fs::read(&path).unwrap()), meta.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The RPM files of an output directory, by file name.
fn rpms(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), p))
        .collect()
}

fn collection(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("collection.json"))).unwrap()
}

fn entry<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["packages"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| {
        panic!("no package {name} in collection.json:\n{manifest:#}");
    })
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// Checks that collection.json says of each RPM what the RPM itself says.
fn manifest_matches_files(dir: &Path) {
    let m = collection(dir);
    let files = rpms(dir);
    let listed: BTreeSet<String> =
        m["packages"].as_array().unwrap().iter().map(|p| p["file"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, files.keys().cloned().collect(), "collection.json and the directory disagree");
    for p in m["packages"].as_array().unwrap() {
        let file = &files[p["file"].as_str().unwrap()];
        assert_eq!(p["sha256"].as_str().unwrap(), sha256(file), "{}", file.display());
        assert_eq!(p["size"].as_u64().unwrap(), std::fs::metadata(file).unwrap().len());
        assert_eq!(
            p["nevra"].as_str().unwrap(),
            rpm_q(file, &["--queryformat", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"])
        );
        assert_eq!(strings(&p["provides"]), lines(&rpm_q(file, &["--provides"])), "{}", file.display());
        assert_eq!(strings(&p["requires"]), lines(&rpm_q(file, &["--requires"])), "{}", file.display());
    }
}

/// The shared-library requires rpm's own generator gives for a binary.
fn elfdeps_requires(binary: &Path) -> BTreeSet<String> {
    let out = Command::new(ELFDEPS)
        .arg("--requires")
        .arg(binary)
        .output()
        .unwrap_or_else(|e| panic!("{ELFDEPS}: {e} (install it: apt-get install -y rpm)"));
    assert!(out.status.success());
    lines(&String::from_utf8_lossy(&out.stdout))
}

const STAGE: [&str; 4] = ["build_rpms", "SERVER_CORE=rpm-2.0", "ACCOUNT_PORTAL=rpm-1.2", "RPM_CHANNEL=stage"];

#[test]
fn stage_collection_with_overrides_reads_back_with_the_rpm_tools() {
    let d = Demo::new("build_rpms-demo");
    d.run(&STAGE).ok();
    let out = d.out("stage");
    let files = rpms(&out);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["account-portal-1.2-1.x86_64.rpm", "server-core-2.0-1.x86_64.rpm"],
        "{}",
        std::env::consts::ARCH
    );
    let portal = &files["account-portal-1.2-1.x86_64.rpm"];
    let core = &files["server-core-2.0-1.x86_64.rpm"];

    // Name, version from each one's tag, release, arch; the build time is the commit's.
    assert_eq!(nvra(portal), "account-portal|1.2|1|x86_64");
    assert_eq!(nvra(core), "server-core|2.0|1|x86_64");
    let tagged_at = git(&d.portal, &["show", "-s", "--format=%ct", "rpm-1.2^{commit}"]);
    assert_eq!(
        rpm_q(portal, &["--queryformat", "%{BUILDTIME}|%{BUILDHOST}|%{PAYLOADCOMPRESSOR}"]),
        format!("{tagged_at}|reproducible|zstd")
    );
    let info = rpm_q(portal, &["--info"]);
    assert!(info.contains("Account portal service") && info.contains("MIT"), "{info}");

    // Provides: the package itself and every crate compiled in, as bundled.
    let provides = lines(&rpm_q(portal, &["--provides"]));
    assert!(provides.contains("account-portal = 1.2-1"), "{provides:?}");
    assert!(provides.contains("bundled(crate(server-core)) = 2.0.0"), "{provides:?}");

    // Requires: what rpm's own elfdeps says of the binary, and the internal project's RPM at
    // the exact version the binary was built against.
    let requires = lines(&rpm_q(portal, &["--requires"]));
    assert!(requires.contains("server-core = 2.0"), "{requires:?}");
    assert!(requires.contains("libc.so.6()(64bit)"), "{requires:?}");
    let elf = elfdeps_requires(&d.portal.join("target/release/account-portal"));
    assert!(!elf.is_empty());
    assert!(elf.is_subset(&requires), "elfdeps says {elf:?}\nthe package requires {requires:?}");
    let core_requires = lines(&rpm_q(core, &["--requires"]));
    assert!(core_requires.contains("libc.so.6()(64bit)"), "{core_requires:?}");
    assert!(!core_requires.iter().any(|r| r.starts_with("account-portal")));

    assert_eq!(rpm_q(portal, &["--list"]), "/usr/bin/account-portal");
    assert_eq!(rpm_q(core, &["--list"]), "/usr/bin/server-core");
    for f in files.values() {
        digests_ok(f);
        rpmlint_clean(f);
    }

    // The manifest: each file, NEVRA, SHA-256, provides and requires as the RPMs say, the
    // channel, and each internal project's ref and commit.
    manifest_matches_files(&out);
    let m = collection(&out);
    assert_eq!(m["channel"], "stage");
    assert_eq!(m["workspace"], "account-portal");
    assert_eq!(m["version"], "1.2");
    assert_eq!(m["commit"].as_str().unwrap(), d.commit(&d.portal, "rpm-1.2"));
    assert_eq!(m["source_date"].as_u64().unwrap().to_string(), tagged_at);
    let internal = &m["internal"][0];
    assert_eq!(internal["name"], "server-core");
    assert_eq!(internal["requested_ref"], "rpm-2.0");
    assert_eq!(internal["origin"]["kind"], "command-line");
    assert_eq!(internal["commit"].as_str().unwrap(), d.commit(&d.core, "rpm-2.0"));
    assert_eq!(entry(&m, "account-portal")["kind"], "workspace");
    assert_eq!(entry(&m, "server-core")["kind"], "internal");
    assert_eq!(tracked_changes(&d.portal), "");

    // A second run with nothing changed rewrites nothing, and says so.
    let before = state(&out);
    d.run(&STAGE).ok().says("nothing changed");
    assert!(state(&out) == before, "the second run touched the output directory");

    // Two runs give byte-identical RPMs: remove the output and write it again.
    let sums: BTreeMap<String, String> = files.iter().map(|(n, p)| (n.clone(), sha256(p))).collect();
    std::fs::remove_dir_all(&out).unwrap();
    d.run(&STAGE).ok().says("2 written");
    let again: BTreeMap<String, String> = rpms(&out).iter().map(|(n, p)| (n.clone(), sha256(p))).collect();
    assert_eq!(sums, again);
}

#[test]
fn a_dev_version_sorts_below_its_release_by_rpms_own_comparison() {
    let d = Demo::new("build_rpms-demo");
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    trainyard(&d.portal, &["build_rpms", "RPM_CHANNEL=dev"], &epoch).ok();
    let dev = d.out("dev").join("account-portal-1.3~~dev1-1.x86_64.rpm");
    assert_eq!(nvra(&dev), "account-portal|1.3~~dev1|1|x86_64");
    assert_eq!(rpm_q(&dev, &["--queryformat", "%{BUILDTIME}"]), "1700000000");
    // Without an override, the internal project is the one Cargo.toml names (rpm-1.0).
    assert!(lines(&rpm_q(&dev, &["--requires"])).contains("server-core = 1.0"));
    assert!(d.out("dev").join("server-core-1.0-1.x86_64.rpm").is_file());

    // Release 1.3 from the same commit: the dev RPM sorts below it, and above 1.2.
    git(&d.portal, &["tag", "-a", "-m", "release 1.3", "rpm-1.3"]);
    trainyard(&d.portal, &["build_rpms", "RPM_CHANNEL=stage"], &epoch).ok();
    let release = d.out("stage").join("account-portal-1.3-1.x86_64.rpm");
    let evr = |f: &Path| rpm_q(f, &["--queryformat", "%{EVR}"]);
    assert_eq!(evr(&release), "1.3-1");
    assert_eq!(vercmp(&evr(&dev), &evr(&release)), -1);
    assert_eq!(vercmp(&evr(&release), &evr(&dev)), 1);
    assert_eq!(vercmp(&evr(&dev), "1.2-1"), 1);
}

/// The workspace of tests/build.rs (`app` using leftpad 1.0.0, which uses padcore 0.3.0, from
/// a local registry), with `app` packaged.
struct Registry {
    _tmp: TempDir,
    root: PathBuf,
}

impl Registry {
    fn new() -> Registry {
        let tmp = TempDir::new("build_rpms-registry");
        let root = leftpad_workspace(
            tmp.path(),
            "license = \"MIT\"\ndescription = \"Pads on the left\"\n",
            "\n[package.metadata.trainyard.rpm]\n",
        );
        git(&root, &["tag", "-a", "-m", "release 0.1", "rpm-0.1"]);
        Registry { _tmp: tmp, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.root, args, &[])
    }
}

#[test]
fn the_dependency_collection_holds_every_registry_crate_and_no_deps_leaves_it_out() {
    let f = Registry::new();
    // The run does what the dry-run printed, the packaging planned once the binaries exist.
    let (_, run, executed) = dry_run_equals_run(&f.root, &["-v", "build_rpms"], &[]);
    run.says("cargo vendor");
    assert!(executed.iter().any(|l| l.starts_with("run: ") && l.contains(" vendor ")), "{executed:?}");
    assert!(executed.iter().any(|l| l.starts_with("write collection: ")), "{executed:?}");
    let out = f.root.join("target/rpms/prod");
    let files = rpms(&out);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["app-0.1-1.x86_64.rpm", "rust-leftpad-devel-1.0.0-1.noarch.rpm", "rust-padcore-devel-0.3.0-1.noarch.rpm"]
    );
    let leftpad = &files["rust-leftpad-devel-1.0.0-1.noarch.rpm"];
    assert_eq!(nvra(leftpad), "rust-leftpad-devel|1.0.0|1|noarch");
    let provides = lines(&rpm_q(leftpad, &["--provides"]));
    assert!(provides.contains("crate(leftpad) = 1.0.0"), "{provides:?}");
    let requires = lines(&rpm_q(leftpad, &["--requires"]));
    // The range of leftpad's own requirement (`padcore = "0.3"`), not the lock file's pick.
    assert!(requires.contains("(crate(padcore) >= 0.3.0 with crate(padcore) < 0.4.0~)"), "{requires:?}");
    let list = lines(&rpm_q(leftpad, &["--list"]));
    for f in ["", "/Cargo.toml", "/src", "/src/lib.rs"] {
        assert!(list.contains(&format!("/usr/share/cargo/registry/leftpad-1.0.0{f}")), "{f}: {list:?}");
    }
    assert!(list.iter().all(|f| f.starts_with("/usr/share/cargo/registry/leftpad-1.0.0")), "{list:?}");
    assert!(list.contains("/usr/share/cargo/registry/leftpad-1.0.0/.cargo-checksum.json"));
    let padcore = &files["rust-padcore-devel-0.3.0-1.noarch.rpm"];
    assert!(lines(&rpm_q(padcore, &["--provides"])).contains("crate(padcore) = 0.3.0"));
    assert!(!lines(&rpm_q(padcore, &["--requires"])).iter().any(|r| r.starts_with("crate(")));

    // The binary's package provides every crate compiled into it as bundled.
    let app = &files["app-0.1-1.x86_64.rpm"];
    let provides = lines(&rpm_q(app, &["--provides"]));
    assert!(provides.contains("bundled(crate(leftpad)) = 1.0.0"), "{provides:?}");
    assert!(provides.contains("bundled(crate(padcore)) = 0.3.0"), "{provides:?}");
    for f in files.values() {
        digests_ok(f);
        rpmlint_clean(f);
    }
    manifest_matches_files(&out);
    assert_eq!(entry(&collection(&out), "rust-leftpad-devel")["kind"], "dependency");

    // The collection is closed: its devel packages, unpacked, are a cargo source that rebuilds
    // the workspace offline at the locked versions, with no other registry.
    let unpacked = f.root.parent().unwrap().join("unpacked");
    for rpm in [leftpad, padcore] {
        extract(rpm, &unpacked);
    }
    let rebuild = f.root.parent().unwrap().join("rebuild");
    build_offline(&f.root, &rebuild, ("collection", &unpacked.join("usr/share/cargo/registry")));
    assert_eq!(sh(&rebuild, rebuild.join("target/debug/app").to_str().unwrap(), &[]), "leftpad 1.0.0 padcore 0.3.0");

    // Nothing changed: neither cargo vendor nor any encoding runs again.
    let before = state(&out);
    let run = f.run(&["-v", "build_rpms"]);
    run.ok().says("nothing changed").says("0 encoded, 3 from the cache");
    assert!(!run.output().contains("cargo vendor"), "{}", run.output());
    assert!(state(&out) == before);

    // A changed lock file vendors again; the dependency packages follow it.
    sh(&f.root, &cargo(), &["update", "--quiet", "-p", "padcore", "--precise", "0.3.1"]);
    write(&f.root.join("reqs/prod-reqs.txt"), "leftpad == 1.0.0\npadcore == 0.3.1\n");
    commit_all(&f.root, "padcore 0.3.1");
    f.run(&["-v", "build_rpms"]).ok().says("cargo vendor");
    assert!(out.join("rust-padcore-devel-0.3.1-1.noarch.rpm").is_file());
    assert!(!out.join("rust-padcore-devel-0.3.0-1.noarch.rpm").exists(), "a stale package was left");

    // --no-deps: the workspace's own package only.
    f.run(&["build_rpms", "--no-deps"]).ok();
    let names: Vec<String> = rpms(&out).into_keys().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(names, ["app-0.2~~dev1-1.x86_64.rpm"], "one commit after rpm-0.1");
    manifest_matches_files(&out);
}

/// A workspace with a crate packaged from cargo-generate-rpm's table, a service packaged from
/// trainyard's table with a systemd unit, and a library without packaging metadata.
struct Services {
    _tmp: TempDir,
    root: PathBuf,
}

const GEN_TABLE: &str = r#"[package.metadata.generate-rpm]
assets = [
    { source = "target/release/gen", dest = "/usr/bin/gen", mode = "755" },
    { source = "gen.conf", dest = "/etc/gen/gen.conf", config = "noreplace", mode = "644" },
    { source = "README.md", dest = "/usr/share/doc/gen/README.md", doc = true, mode = "644" },
]
requires = { bash = "*" }
"#;

impl Services {
    fn new() -> Services {
        let tmp = TempDir::new("build_rpms-services");
        let root = tmp.path().join("services");
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"gen\", \"svc\", \"util\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.4.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n\n[workspace.metadata.trainyard]\nname = \"services\"\n",
        );
        for (name, description) in [("gen", "Generates things"), ("svc", "Serves things")] {
            write(
                &root.join(format!("{name}/src/main.rs")),
                &format!("fn main() {{\n    println!(\"{name} {{}}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(\"?\"));\n}}\n"),
            );
            write(
                &root.join(format!("{name}/Cargo.toml")),
                &format!("[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\ndescription = \"{description}\"\n\n"),
            );
        }
        let gen = read(&root.join("gen/Cargo.toml"));
        write(&root.join("gen/Cargo.toml"), &format!("{gen}{GEN_TABLE}"));
        write(&root.join("gen/gen.conf"), "level = 1\n");
        write(&root.join("gen/README.md"), "# gen\n");
        let svc = read(&root.join("svc/Cargo.toml"));
        write(
            &root.join("svc/Cargo.toml"),
            &format!(
                "{svc}[package.metadata.trainyard.rpm]\nassets = [\n    {{ source = \"target/release/svc\", dest = \"/usr/bin/svc\", mode = \"755\" }},\n    {{ source = \"svc.toml\", dest = \"/etc/svc/svc.toml\", config = true }},\n]\nunits = [\"svc.service\"]\n"
            ),
        );
        write(&root.join("svc/svc.toml"), "port = 8080\n");
        write(
            &root.join("svc/svc.service"),
            "[Unit]\nDescription=Serves things\n\n[Service]\nExecStart=/usr/bin/svc\n\n[Install]\nWantedBy=multi-user.target\n",
        );
        write(
            &root.join("util/Cargo.toml"),
            "[package]\nname = \"util\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n",
        );
        write(&root.join("util/src/lib.rs"), "pub fn util() {}\n");
        write(&root.join(".gitignore"), "/target\n");
        for channel in ["dev", "stage", "prod"] {
            write(&root.join(format!("reqs/{channel}-reqs.txt")), "");
        }
        sh(&root, &cargo(), &["generate-lockfile", "--quiet", "--offline"]);
        git_init(&root);
        commit_all(&root, "services");
        git(&root, &["tag", "-a", "-m", "release 0.4", "rpm-0.4"]);
        Services { _tmp: tmp, root }
    }

    fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.root, args, &[])
    }

    fn out(&self) -> PathBuf {
        self.root.join("target/rpms/prod")
    }
}

/// `FILENAME FLAGS` lines, rpm's own rendering of %config/%config(noreplace)/%doc.
fn file_flags(file: &Path) -> BTreeSet<String> {
    lines(&rpm_q(file, &["--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]))
}

#[test]
fn generate_rpm_tables_and_systemd_units_are_packaged() {
    let f = Services::new();
    f.run(&["build_rpms"]).ok();
    let files = rpms(&f.out());
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["gen-0.4-1.x86_64.rpm", "svc-0.4-1.x86_64.rpm"],
        "the library has no packaging metadata and no package"
    );

    // cargo-generate-rpm's table, read as that tool does: assets, %config(noreplace), %doc,
    // its requires and its implicit /bin/sh.
    let gen = &files["gen-0.4-1.x86_64.rpm"];
    let flags = file_flags(gen);
    for wanted in ["/usr/bin/gen ", "/etc/gen/gen.conf cn", "/usr/share/doc/gen/README.md d"] {
        assert!(flags.contains(wanted.trim_end()), "{wanted:?} not in {flags:?}");
    }
    let requires = lines(&rpm_q(gen, &["--requires"]));
    assert!(requires.contains("bash") && requires.contains("/bin/sh"), "{requires:?}");
    assert!(requires.contains("libc.so.6()(64bit)"), "{requires:?}");
    assert!(rpm_q(gen, &["--scripts"]).is_empty());

    // trainyard's table: config noreplace by default, the unit, its scriptlets written out.
    let svc = &files["svc-0.4-1.x86_64.rpm"];
    let flags = file_flags(svc);
    assert!(flags.contains("/etc/svc/svc.toml cn"), "{flags:?}");
    assert!(flags.contains("/usr/lib/systemd/system/svc.service"), "{flags:?}");
    let scripts = rpm_q(svc, &["--scripts"]);
    for wanted in [
        "postinstall scriptlet (using /bin/sh)",
        "/usr/bin/systemctl --no-reload preset svc.service",
        "preuninstall scriptlet (using /bin/sh)",
        "/usr/bin/systemctl --no-reload disable --now svc.service",
        "postuninstall scriptlet (using /bin/sh)",
        "/usr/bin/systemctl try-restart svc.service",
    ] {
        assert!(scripts.contains(wanted), "{wanted:?} not in:\n{scripts}");
    }
    assert!(!scripts.contains('%'), "macro text in the scriptlets:\n{scripts}");
    for f in files.values() {
        digests_ok(f);
        rpmlint_clean(f);
    }
    manifest_matches_files(&f.out());

    // A changed input is packaged again; what did not change comes from the cache.
    let digest = |rpm: &Path, file: &str| {
        let all = rpm_q(rpm, &["--queryformat", "[%{FILENAMES} %{FILEDIGESTS}\n]"]);
        all.lines().find_map(|l| l.strip_prefix(&format!("{file} "))).unwrap().to_string()
    };
    assert_eq!(digest(gen, "/etc/gen/gen.conf"), sha256(&f.root.join("gen/gen.conf")));
    write(&f.root.join("gen/gen.conf"), "level = 2\n");
    commit_all(&f.root, "gen: level 2");
    git(&f.root, &["tag", "-f", "-a", "-m", "release 0.4", "rpm-0.4"]);
    f.run(&["build_rpms"]).ok().says("1 written, 1 unchanged (1 taken from the cache)");
    assert_eq!(digest(gen, "/etc/gen/gen.conf"), sha256(&f.root.join("gen/gen.conf")));
    manifest_matches_files(&f.out());

    // --package picks one crate; the other's RPM leaves the collection.
    f.run(&["build_rpms", "--package", "svc"]).ok();
    assert_eq!(rpms(&f.out()).into_keys().collect::<Vec<_>>(), ["svc-0.4-1.x86_64.rpm"]);
}

/// Runs `args`, expects exit 2 and `needles`, and checks the output directory is as before
/// (bytes and mtimes), and no tracked file changed.
fn refused(f: &Services, args: &[&str], needles: &[&str]) {
    let before = state(&f.out());
    let run = f.run(args);
    run.fails_with(2);
    for n in needles {
        run.says(n);
    }
    assert!(state(&f.out()) == before, "{args:?} changed the output directory");
}

#[test]
fn bad_inputs_are_clear_errors_and_leave_the_output_directory_as_it_was() {
    let f = Services::new();
    // Refused before anything exists: the output directory is not even created.
    refused(&f, &["build_rpms", "--package", "util"], &["crate `util` has no packaging metadata", "help:"]);
    refused(&f, &["build_rpms", "--package", "nope"], &["no crate `nope`", "gen, svc, util"]);
    // Every problem at once, each with its help.
    refused(
        &f,
        &["build_rpms", "--package", "nope", "--package", "util", "--variant", "nothere"],
        &["3 problems:", "no crate `nope`", "crate `util` has no packaging metadata", "--variant nothere", "help:"],
    );
    assert!(!f.out().exists());

    f.run(&["build_rpms"]).ok();
    assert_eq!(rpms(&f.out()).len(), 2);
    refused(&f, &["build_rpms", "--package", "util"], &["crate `util` has no packaging metadata"]);

    let manifest = f.root.join("gen/Cargo.toml");
    let good = read(&manifest);
    let asset = |source: &str| {
        good.replace(
            "    { source = \"README.md\"",
            &format!("    {{ source = \"{source}\", dest = \"/etc/gen/extra.conf\" }},\n    {{ source = \"README.md\""),
        )
    };
    write(&manifest, &asset("missing.conf"));
    refused(&f, &["build_rpms"], &["crate `gen`", "assets[2].source", "`missing.conf` does not exist", "help:"]);
    write(&manifest, &asset("../../etc/passwd"));
    refused(&f, &["build_rpms"], &["crate `gen`", "`../../etc/passwd` points outside the workspace"]);
    // Also when the file behind the escaping path exists, through a symlink inside the crate.
    std::os::unix::fs::symlink("/etc/passwd", f.root.join("gen/passwd")).unwrap();
    write(&manifest, &asset("passwd"));
    refused(&f, &["build_rpms"], &["`passwd` points outside the workspace"]);
    std::fs::remove_file(f.root.join("gen/passwd")).unwrap();

    // A dry run plans and writes nothing.
    write(&manifest, &good);
    let before = state(&f.out());
    f.run(&["build_rpms", "--dry-run"]).ok().says("would later: package ");
    assert!(state(&f.out()) == before);
    f.run(&["build_rpms"]).ok().says("nothing changed");
    assert!(state(&f.out()) == before);
}

/// `--dry-run` on a tree never built prints the plan and builds and writes nothing.
#[test]
fn dry_run_before_any_build_prints_the_plan() {
    let d = Demo::new("build_rpms-demo");
    let run = d.run(&["build_rpms", "SERVER_CORE=rpm-2.0", "RPM_CHANNEL=stage", "--dry-run"]);
    run.ok().says("would run: ").says("cargo build --release").says("would later: package account-portal");
    assert!(!d.portal.join("target/release").exists());
    assert!(!d.out("stage").exists());
}

/// `ACCOUNT_PORTAL=rpm-1.2` on account-portal itself: the dry-run plans the collection of the
/// version the run builds (1.2, from the tag's tree, fetched into the checkout cache to plan
/// from), not the dev version of the current checkout; and the run does what it printed.
#[test]
fn a_dry_run_of_the_workspace_at_a_tag_plans_that_version_and_the_run_does_it() {
    let d = Demo::new("build_rpms-demo");
    let dev = trainyard(&d.portal, &["version", "--format", "rpm"], &[]).ok().stdout.trim().to_string();
    assert!(dev.contains("~~dev"), "{dev}");
    let (dry, _, executed) = dry_run_equals_run(&d.portal, &STAGE, &[]);
    dry.says("planning from: account-portal rpm-1.2").says("would later: package account-portal 1.2 for stage");
    dry.says("TRAINYARD_VERSION=1.2.0 ");
    assert!(!dry.stdout.contains(&dev), "the dry-run planned the current version {dev}:\n{}", dry.stdout);
    let arch = std::env::consts::ARCH;
    let written = executed.iter().find(|l| l.starts_with("write collection: ")).expect("the collection was written");
    assert!(written.contains(&format!("account-portal-1.2-1.{arch}.rpm")), "{written}");
    assert!(written.contains(&format!("server-core-2.0-1.{arch}.rpm")), "{written}");
    assert!(d.out("stage").join(format!("account-portal-1.2-1.{arch}.rpm")).exists());
    assert_eq!(tracked_changes(&d.portal), "");
}

/// A shared `--out` directory keeps the RPMs trainyard did not write; the previous
/// collection's own files that left the collection are removed.
#[test]
fn a_shared_out_directory_keeps_other_files() {
    let d = Demo::new("build_rpms-demo");
    let out = d.portal.parent().unwrap().join("shared-out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("other-team-9.9-1.x86_64.rpm"), b"not ours").unwrap();
    let out_s = out.to_str().unwrap();
    d.run(&["build_rpms", "RPM_CHANNEL=dev", "--no-deps", "--out", out_s]).ok();
    let first: Vec<String> = rpms(&out).into_keys().collect();
    assert!(first.iter().any(|f| f.starts_with("account-portal-1.3~~dev1")), "{first:?}");
    let core = format!("server-core-1.0-1.{}.rpm", std::env::consts::ARCH);
    let core_bytes = std::fs::read(out.join(&core)).unwrap();
    // A new commit, a year later: a new version; the old account-portal RPM goes, the other
    // team's stays, and server-core (the same commit of it) keeps its bytes: its packages record
    // its own commit's time, not the workspace's, or a second release could not publish them.
    write(&d.portal.join("CHANGES.txt"), "more\n");
    git(&d.portal, &["add", "-A"]);
    let committed = std::process::Command::new("git")
        .args(["commit", "-q", "-m", "more"])
        .current_dir(&d.portal)
        .env("GIT_COMMITTER_DATE", "2031-01-01T00:00:00Z")
        .env("GIT_AUTHOR_DATE", "2031-01-01T00:00:00Z")
        .status()
        .unwrap();
    assert!(committed.success());
    d.run(&["build_rpms", "RPM_CHANNEL=dev", "--no-deps", "--out", out_s]).ok();
    assert!(std::fs::read(out.join(&core)).unwrap() == core_bytes, "{core} changed with the workspace's commit");
    let second: Vec<String> = rpms(&out).into_keys().collect();
    assert!(second.iter().any(|f| f.starts_with("account-portal-1.3~~dev2")), "{second:?}");
    assert!(!second.iter().any(|f| f.starts_with("account-portal-1.3~~dev1")), "{second:?}");
    assert!(out.join("other-team-9.9-1.x86_64.rpm").exists());
}

/// `SERVER_CORE=main` beside the `rpm-2.0` tag: the untagged commit is packaged at the dev
/// version `version` computes in server-core (`2.1~~dev1`, below the future `2.1`), never at the
/// `2.1.0` its Cargo.toml names; `ACCOUNT_PORTAL=main` on the workspace itself gets its version
/// from the same function as `version`.
#[test]
fn internal_projects_at_a_branch_get_their_dev_version() {
    let d = Demo::new("build_rpms-demo");
    let core_version = trainyard(&d.core, &["version", "--format", "rpm"], &[]).ok().stdout.trim().to_string();
    assert_eq!(core_version, "2.1~~dev1");
    let portal_version = trainyard(&d.portal, &["version", "--format", "rpm"], &[]).ok().stdout.trim().to_string();
    d.run(&["build_rpms", "SERVER_CORE=main", "ACCOUNT_PORTAL=main", "RPM_CHANNEL=dev"]).ok();
    let out = d.out("dev");
    let files = rpms(&out);
    let arch = std::env::consts::ARCH;
    let core_file = format!("server-core-{core_version}-1.{arch}.rpm");
    let portal_file = format!("account-portal-{portal_version}-1.{arch}.rpm");
    assert!(files.contains_key(&core_file) && files.contains_key(&portal_file), "{:?}", files.keys());
    let requires = lines(&rpm_q(&files[&portal_file], &["--requires"]));
    assert!(requires.contains(&format!("server-core = {core_version}")), "{requires:?}");
    assert_eq!(collection(&out)["internal"][0]["requested_ref"], "main");
    // rpm itself: above the tagged 2.0, below the 2.1 it leads to.
    for (a, b) in [("2.0", core_version.as_str()), (core_version.as_str(), "2.1")] {
        let out = Command::new("rpm").arg("--eval").arg(format!("%{{lua: print(rpm.vercmp('{a}', '{b}'))}}")).output();
        assert_eq!(String::from_utf8_lossy(&out.unwrap().stdout).trim(), "-1", "{a} < {b}");
    }
}
