//! The RPM writer, checked with the real tools: every package written here is read back with
//! `rpm -qp`, `rpm -K` and `rpmlint` (with the repo's rpmlint.toml), and the ELF reader is
//! compared with rpm's own generator, `/usr/lib/rpm/elfdeps`, on real binaries.
//!
//! Needs `rpm` and `rpmlint` (Debian packages `rpm`, `rpmlint`), as CI installs them.

use crate::support::rpm as rpm_support;

use std::collections::BTreeSet;

use std::os::unix::fs::PermissionsExt;

use camino::{Utf8Path, Utf8PathBuf};
use rpm_support::{lines, rpm_q, tool};
use serde_json::json;
use trainyard::error::Kind;
use trainyard::rpmpkg::assets::{from_metadata, CrateInfo, Table};
use trainyard::rpmpkg::{elf, write, write_all, ChangelogEntry, Compression, FileEntry, FileKind, Package};

const SOURCE_DATE: u64 = 1_700_000_000;
const ELFDEPS: &str = "/usr/lib/rpm/elfdeps";

fn repo_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize_utf8().unwrap()
}

/// A fresh directory for one test under cargo's per-target temp dir.
fn scratch(name: &str) -> Utf8PathBuf {
    let dir = Utf8Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rpm_writer-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The demo crate of these tests: a binary (a copy of a small system executable), a config
/// file, docs, a license, a systemd unit.
fn demo_crate(dir: &Utf8Path) -> CrateInfo {
    let crate_dir = dir.join("demo");
    std::fs::create_dir_all(crate_dir.join("packaging")).unwrap();
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    std::fs::copy("/usr/bin/true", dir.join("target/release/demo")).unwrap();
    std::fs::write(crate_dir.join("packaging/demo.toml"), "listen = \"127.0.0.1:8080\"\n").unwrap();
    std::fs::write(
        crate_dir.join("packaging/demo.service"),
        "[Unit]\nDescription=Demo\n\n[Service]\nExecStart=/usr/bin/demo\n\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    std::fs::write(crate_dir.join("README.md"), "# demo\n").unwrap();
    std::fs::write(crate_dir.join("CHANGES.md"), "# changes\n").unwrap();
    std::fs::write(crate_dir.join("LICENSE"), "MIT License\n").unwrap();
    std::fs::write(crate_dir.join("postinst.sh"), "echo installed\n").unwrap();
    CrateInfo {
        name: "demo".into(),
        version: "1.2.0".into(),
        license: Some("MIT".into()),
        description: Some("Demo service for the writer tests.\nLonger text.".into()),
        homepage: Some("https://example.org/demo".into()),
        repository: None,
        manifest_dir: crate_dir,
        workspace_root: dir.to_path_buf(),
        bins: vec!["demo".into()],
    }
}

fn trainyard_table() -> serde_json::Value {
    json!({ "trainyard": { "rpm": {
        "assets": [
            { "source": "target/release/demo", "dest": "/usr/bin/demo", "mode": "755" },
            { "source": "packaging/demo.toml", "dest": "/etc/demo/demo.toml", "config": true, "mode": "640", "group": "demo" },
            { "source": "*.md", "dest": "/usr/share/doc/demo/", "doc": true },
            { "source": "LICENSE", "dest": "/usr/share/licenses/demo/LICENSE", "license": true },
        ],
        "dirs": [{ "dest": "/var/lib/demo", "mode": "750", "user": "demo", "group": "demo" }],
        "units": ["packaging/demo.service"],
        "requires": ["shadow-utils", "openssl-libs >= 3"],
        "smoke": "demo --version",
    }}})
}

fn demo_package(dir: &Utf8Path) -> Package {
    let krate = demo_crate(dir);
    let cp = from_metadata(&krate, &trainyard_table(), &dir.join("target/release"), "x86_64").unwrap().unwrap();
    assert_eq!(cp.table, Table::Trainyard);
    assert_eq!(cp.units, ["demo.service"]);
    assert_eq!(cp.smoke.as_deref(), Some("demo --version"));
    let mut pkg = cp.package;
    pkg.version = "1.3~~dev5".into();
    pkg.source_date = SOURCE_DATE;
    pkg.packager = Some("Demo Team <demo@example.org>".into());
    pkg.changelog.push(ChangelogEntry {
        author: "Demo Team <demo@example.org>".into(),
        version: "1.3~~dev5-1".into(),
        time: SOURCE_DATE,
        text: "- First packaged with trainyard".into(),
    });
    pkg.add_elf_dependencies().unwrap();
    pkg
}

fn rpmlint_clean(file: &Utf8Path) {
    let policy = repo_root().join("rpmlint.toml");
    let (ok, out) = tool("rpmlint", &["-c", policy.as_str(), file.as_str()]);
    assert!(out.contains(" 0 errors"), "rpmlint found errors in {file}:\n{out}");
    assert!(ok, "rpmlint failed on {file}:\n{out}");
}

#[test]
fn written_package_reads_back_with_rpm_tools() {
    let dir = scratch("readback");
    let pkg = demo_package(&dir);
    let out = dir.join("out");
    let w = write(&pkg, &out, Compression::Zstd(3)).unwrap();
    assert_eq!(w.path, out.join("demo-1.3~~dev5-1.x86_64.rpm"));
    assert!(!w.unchanged);

    let info = rpm_q(
        &w.path,
        &["--queryformat", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{BUILDTIME}|%{PAYLOADCOMPRESSOR}|%{URL}|%{SUMMARY}"],
    );
    assert_eq!(
        info,
        format!(
            "demo|1.3~~dev5|1|x86_64|{SOURCE_DATE}|zstd|https://example.org/demo|Demo service for the writer tests"
        )
    );

    let provides = lines(&rpm_q(&w.path, &["--provides"]));
    assert!(provides.contains("demo = 1.3~~dev5-1"), "{provides:?}");
    assert!(provides.contains("config(demo) = 1.3~~dev5-1"), "{provides:?}");
    let requires = lines(&rpm_q(&w.path, &["--requires"]));
    for r in ["libc.so.6()(64bit)", "rtld(GNU_HASH)", "shadow-utils", "openssl-libs >= 3", "/bin/sh"] {
        assert!(requires.contains(r), "missing Requires `{r}` in {requires:?}");
    }
    // The written summary agrees with what rpm reads.
    assert!(w.requires.iter().any(|r| r == "openssl-libs >= 3"), "{:?}", w.requires);

    let files = lines(&rpm_q(&w.path, &["--list"]));
    let expected: BTreeSet<String> = [
        "/etc/demo/demo.toml",
        "/usr/bin/demo",
        "/usr/lib/systemd/system/demo.service",
        "/usr/share/doc/demo/CHANGES.md",
        "/usr/share/doc/demo/README.md",
        "/usr/share/licenses/demo/LICENSE",
        "/var/lib/demo",
    ]
    .map(String::from)
    .into();
    assert_eq!(files, expected);
    let configs = lines(&rpm_q(&w.path, &["--configfiles"]));
    assert_eq!(configs, ["/etc/demo/demo.toml".to_string()].into());
    let docs = lines(&rpm_q(&w.path, &["--docfiles"]));
    assert!(docs.contains("/usr/share/doc/demo/README.md"), "{docs:?}");
    let licenses = lines(&rpm_q(&w.path, &["--licensefiles"]));
    assert_eq!(licenses, ["/usr/share/licenses/demo/LICENSE".to_string()].into());
    let noreplace = rpm_q(&w.path, &["--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"]);
    assert!(noreplace.contains("/etc/demo/demo.toml cn"), "{noreplace}");

    let scripts = rpm_q(&w.path, &["--scripts"]);
    assert!(scripts.contains("postinstall scriptlet (using /bin/sh)"), "{scripts}");
    assert!(scripts.contains("/usr/bin/systemctl --no-reload preset demo.service"), "{scripts}");
    assert!(scripts.contains("/usr/bin/systemctl --no-reload disable --now demo.service"), "{scripts}");
    assert!(scripts.contains("/usr/bin/systemctl try-restart demo.service"), "{scripts}");

    let changelog = rpm_q(&w.path, &["--changelog"]);
    assert!(changelog.contains("Demo Team <demo@example.org> - 1.3~~dev5-1"), "{changelog}");
    assert!(changelog.contains("- First packaged with trainyard"), "{changelog}");

    // path size mtime digest mode owner group isconfig isdoc rdev symlink
    let dump = rpm_q(&w.path, &["--dump"]);
    let row = |path: &str| -> Vec<String> {
        let line =
            dump.lines().find(|l| l.starts_with(&format!("{path} "))).unwrap_or_else(|| panic!("{path} not in {dump}"));
        line.split(' ').map(String::from).collect()
    };
    for line in dump.lines() {
        assert_eq!(line.split(' ').nth(2), Some(SOURCE_DATE.to_string().as_str()), "mtime in {line}");
    }
    let bin = row("/usr/bin/demo");
    assert_eq!((bin[4].as_str(), bin[5].as_str(), bin[6].as_str()), ("0100755", "root", "root"));
    let conf = row("/etc/demo/demo.toml");
    assert_eq!(
        (conf[4].as_str(), conf[5].as_str(), conf[6].as_str(), conf[7].as_str()),
        ("0100640", "root", "demo", "1")
    );
    let var = row("/var/lib/demo");
    assert_eq!((var[4].as_str(), var[5].as_str(), var[6].as_str()), ("040750", "demo", "demo"));
    let unit = row("/usr/lib/systemd/system/demo.service");
    assert_eq!(unit[4], "0100644");

    let (ok, checked) = tool("rpm", &["-K", w.path.as_str()]);
    assert!(ok && checked.contains("digests OK"), "{checked}");
    rpmlint_clean(&w.path);

    // Nothing half-written is left beside it.
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["demo-1.3~~dev5-1.x86_64.rpm"]);
}

#[test]
fn two_writes_are_byte_identical() {
    let dir = scratch("reproducible");
    let pkg = demo_package(&dir);
    let first = write(&pkg, &dir.join("a"), Compression::Zstd(19)).unwrap();
    // Different file mtimes on disk must not show in the package.
    let bin = dir.join("target/release/demo");
    let f = std::fs::File::options().write(true).open(&bin).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    let second = write(&pkg, &dir.join("b"), Compression::Zstd(19)).unwrap();
    assert_eq!(first.sha256, second.sha256);
    let disk = |p: &Utf8Path| {
        use sha2::Digest;
        sha2::Sha256::digest(std::fs::read(p).unwrap()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert_eq!(disk(&first.path), disk(&second.path));
    assert_eq!(disk(&first.path), first.sha256);

    // Writing again over the same file leaves it untouched.
    let before = std::fs::metadata(&first.path).unwrap().modified().unwrap();
    let again = write(&pkg, &dir.join("a"), Compression::Zstd(19)).unwrap();
    assert!(again.unchanged);
    assert_eq!(std::fs::metadata(&first.path).unwrap().modified().unwrap(), before);

    // Another level gives another file, still valid.
    let gz = write(&pkg, &dir.join("gz"), Compression::Gzip(9)).unwrap();
    assert_ne!(gz.sha256, first.sha256);
    assert_eq!(rpm_q(&gz.path, &["--queryformat", "%{PAYLOADCOMPRESSOR}"]), "gzip");
    let (ok, out) = tool("rpm", &["-K", gz.path.as_str()]);
    assert!(ok && out.contains("digests OK"), "{out}");
}

#[test]
fn generate_rpm_table_and_parallel_writes() {
    let dir = scratch("generate-rpm");
    let krate = demo_crate(&dir);
    let metadata = json!({ "generate-rpm": {
        "summary": "Demo, packaged as cargo-generate-rpm would",
        "release": "3",
        "assets": [
            { "source": "target/release/demo", "dest": "/usr/bin/demo", "mode": "0755" },
            { "source": "packaging/demo.toml", "dest": "/etc/demo/", "config": "noreplace", "mode": "644" },
            { "source": "README.md", "dest": "/usr/share/doc/demo/README.md", "doc": true, "mode": "644" },
        ],
        "requires": { "bash": "*", "filesystem": ">= 3" },
        "post_install_script": "postinst.sh",
        "variants": { "el8": { "release": "3.el8" } },
    }});
    let cp = from_metadata(&krate, &metadata, &dir.join("target/release"), "x86_64").unwrap().unwrap();
    assert_eq!(cp.table, Table::GenerateRpm);
    assert!(cp.units.is_empty());
    let mut base = cp.package;
    base.source_date = SOURCE_DATE;
    assert_eq!(base.scriptlets.post.as_deref(), Some("echo installed\n"));
    assert!(base
        .files
        .iter()
        .any(|f| f.dest == "/etc/demo/demo.toml" && f.kind == FileKind::Config { noreplace: true }));

    // Eight packages at once; results come back in order.
    let pkgs: Vec<Package> = (0..8)
        .map(|i| {
            let mut p = base.clone();
            p.name = format!("demo{i}");
            p.add_elf_dependencies().unwrap();
            p
        })
        .collect();
    let out = dir.join("out");
    let written = write_all(&pkgs, &out, Compression::Zstd(3)).unwrap();
    assert_eq!(written.len(), 8);
    for (i, w) in written.iter().enumerate() {
        assert_eq!(w.nevra, format!("demo{i}-1.2.0-3.x86_64"));
        let q = rpm_q(&w.path, &["--queryformat", "%{NAME} %{VERSION}-%{RELEASE}"]);
        assert_eq!(q, format!("demo{i} 1.2.0-3"));
        let requires = lines(&rpm_q(&w.path, &["--requires"]));
        assert!(requires.contains("bash") && requires.contains("filesystem >= 3") && requires.contains("/bin/sh"));
        let (ok, k) = tool("rpm", &["-K", w.path.as_str()]);
        assert!(ok && k.contains("digests OK"), "{k}");
    }
    rpmlint_clean(&written[0].path);
    assert!(rpm_q(&written[0].path, &["--scripts"]).contains("echo installed"));

    // One bad package fails the batch with its name; the good ones are still written.
    let mut bad = pkgs[0].clone();
    bad.name = "broken".into();
    bad.files.push(FileEntry::new(dir.join("nowhere"), "/usr/bin/nowhere", 0o755, FileKind::Regular));
    let err = write_all(&[pkgs[1].clone(), bad], &dir.join("out2"), Compression::Zstd(3)).unwrap_err();
    assert!(err.message.contains("nowhere"), "{}", err.message);
    assert!(dir.join("out2/demo1-1.2.0-3.x86_64.rpm").is_file());
}

#[test]
fn bad_assets_are_usage_errors_naming_the_crate_and_asset() {
    let dir = scratch("bad-assets");
    let krate = demo_crate(&dir);
    let release = dir.join("target/release");
    let table = |asset: serde_json::Value| json!({ "trainyard": { "rpm": { "assets": [asset] } } });
    let check = |asset: serde_json::Value, wanted: &[&str]| {
        let err = from_metadata(&krate, &table(asset.clone()), &release, "x86_64").unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{asset}: {err}");
        assert!(err.help.is_some(), "{asset}: no help in {err}");
        let text = err.to_string();
        for w in wanted {
            assert!(text.contains(w), "{asset}: `{w}` not in:\n{text}");
        }
    };
    check(
        json!({ "source": "../../etc/passwd", "dest": "/etc/passwd" }),
        &["crate `demo`", "assets[0]", "../../etc/passwd", "outside the crate"],
    );
    check(
        json!({ "source": "/etc/passwd", "dest": "/etc/passwd" }),
        &["crate `demo`", "/etc/passwd", "outside the crate"],
    );
    check(json!({ "source": "target/release/../../../etc/passwd", "dest": "/x" }), &["outside the crate"]);
    check(
        json!({ "source": "packaging/missing.toml", "dest": "/etc/demo/x.toml" }),
        &["assets[0]", "missing.toml", "does not exist"],
    );
    check(
        json!({ "source": "target/release/nope", "dest": "/usr/bin/nope" }),
        &["does not exist", "cargo build --release"],
    );
    check(
        json!({ "source": "README.md", "dest": "usr/share/doc/README.md" }),
        &["assets[0].dest", "not an absolute path"],
    );
    check(json!({ "source": "README.md", "dest": "/x", "mode": "9z" }), &["not an octal permission mode"]);
    check(json!({ "source": "*.nothing", "dest": "/x/" }), &["matches no file"]);
    // A symlink inside the crate that points outside it is refused too.
    std::os::unix::fs::symlink("/etc/passwd", krate.manifest_dir.join("sneaky")).unwrap();
    check(json!({ "source": "sneaky", "dest": "/etc/sneaky" }), &["sneaky", "outside the crate"]);

    let err =
        from_metadata(&krate, &json!({ "trainyard": { "rpm": { "unit": [] } } }), &release, "x86_64").unwrap_err();
    assert!(err.to_string().contains("unknown key `unit`"), "{err}");
    let err =
        from_metadata(&krate, &json!({ "trainyard": { "rpm": { "requires": ["bash ~> 5"] } } }), &release, "x86_64")
            .unwrap_err();
    assert!(err.to_string().contains("not a version condition"), "{err}");
    assert!(from_metadata(&krate, &json!({ "other": {} }), &release, "x86_64").unwrap().is_none());

    // The default trainyard table packages every binary target.
    let cp = from_metadata(&krate, &json!({ "trainyard": { "rpm": {} } }), &release, "x86_64").unwrap().unwrap();
    assert_eq!(cp.package.files.len(), 1);
    assert_eq!((cp.package.files[0].dest.as_str(), cp.package.files[0].mode), ("/usr/bin/demo", 0o755));
}

/// ELF files of this machine to compare with elfdeps: some of /usr/bin and of the shared
/// libraries, plus Rust binaries (the trainyard binary and this test itself).
fn elf_samples() -> Vec<Utf8PathBuf> {
    let mut files = vec![
        Utf8PathBuf::from(env!("CARGO_BIN_EXE_trainyard")),
        Utf8PathBuf::from_path_buf(std::env::current_exe().unwrap()).unwrap(),
    ];
    // Libraries with version definitions (verdef provides) and the dynamic linker itself.
    for lib in ["libc.so.6", "libz.so.1", "libgcc_s.so.1", "libstdc++.so.6", "ld-linux-x86-64.so.2"] {
        if let Ok(real) = Utf8Path::new("/usr/lib/x86_64-linux-gnu").join(lib).canonicalize_utf8() {
            files.push(real);
        }
    }
    for (dir, take) in [("/usr/bin", 120), ("/usr/lib/x86_64-linux-gnu", 120), ("/usr/lib/rpm", 20)] {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<Utf8PathBuf> = entries
            .flatten()
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.path()).ok())
            .filter(|p| p.symlink_metadata().is_ok_and(|m| m.is_file()))
            .filter(|p| std::fs::read(p).is_ok_and(|b| elf::is_elf(&b)))
            .collect();
        found.sort();
        // Spread the picks over the directory rather than taking its alphabetical head.
        let step = (found.len() / take).max(1);
        files.extend(found.into_iter().step_by(step).take(take));
    }
    files
}

#[test]
fn elf_dependencies_equal_rpms_elfdeps() {
    assert!(Utf8Path::new(ELFDEPS).exists(), "{ELFDEPS} is missing: apt-get install -y rpm");
    let samples = elf_samples();
    assert!(samples.len() > 50, "too few ELF files found: {}", samples.len());
    let mut compared = 0;
    let mut libraries = 0;
    for file in &samples {
        let bytes = std::fs::read(file).unwrap();
        let executable = std::fs::metadata(file).unwrap().permissions().mode() & 0o111 != 0;
        let base = file.file_name().unwrap();
        let ours = elf::dependencies(&bytes, base, executable).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (ok, requires) = tool(ELFDEPS, &["--requires", file.as_str()]);
        assert!(ok, "elfdeps --requires {file}: {requires}");
        let (ok, provides) = tool(ELFDEPS, &["--provides", file.as_str()]);
        assert!(ok, "elfdeps --provides {file}: {provides}");
        assert_eq!(lines(&ours.requires.join("\n")), lines(&requires), "Requires of {file}");
        assert_eq!(lines(&ours.provides.join("\n")), lines(&provides), "Provides of {file}");
        compared += 1;
        if !ours.provides.is_empty() {
            libraries += 1;
        }
    }
    assert!(libraries > 10, "only {libraries} shared libraries among {compared} files");
    // The Rust binaries need libc with symbol versions and GNU hash, like rpmbuild says.
    let rust = elf::dependencies(&std::fs::read(env!("CARGO_BIN_EXE_trainyard")).unwrap(), "trainyard", true).unwrap();
    assert!(rust.requires.iter().any(|r| r.starts_with("libc.so.6(GLIBC_")), "{:?}", rust.requires);
    assert!(rust.requires.contains(&"rtld(GNU_HASH)".to_string()));
}

#[test]
fn bad_elf_input_is_an_error_not_a_panic() {
    let dir = scratch("bad-elf");
    let ls = std::fs::read("/usr/bin/ls").unwrap();
    let err = elf::dependencies(b"#!/bin/sh\nexit 0\n", "script", true).unwrap_err();
    assert!(err.to_string().contains("not an ELF file"), "{err}");
    // Every truncation of a real binary fails cleanly or parses; none panics.
    for len in [4, 5, 16, 40, 63, 64, 200, 4096, ls.len() / 2, ls.len() - 1] {
        let _ = elf::dependencies(&ls[..len], "ls", true);
    }
    let cut = ls.len() - 100;
    let err = elf::dependencies(&ls[..cut], "ls", true).unwrap_err();
    assert!(err.to_string().contains("beyond the end"), "{err}");
    // Garbage after a valid header: bytes flipped all over the file.
    let mut mangled = ls.clone();
    for i in (64..mangled.len()).step_by(97) {
        mangled[i] ^= 0xff;
    }
    let _ = elf::dependencies(&mangled, "ls", true);

    // Through the package: a truncated ELF binary is a failure naming the file.
    let bin = dir.join("demo");
    std::fs::write(&bin, &ls[..cut]).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut pkg = Package { name: "demo".into(), ..Package::default() };
    pkg.files.push(FileEntry::new(bin.clone(), "/usr/bin/demo", 0o755, FileKind::Binary));
    let err = pkg.add_elf_dependencies().unwrap_err();
    assert!(err.message.contains(bin.as_str()) && err.message.contains("/usr/bin/demo"), "{}", err.message);
    // A shell script as a binary is fine and has no library requires.
    std::fs::write(&bin, "#!/bin/sh\nexit 0\n").unwrap();
    pkg.add_elf_dependencies().unwrap();
    assert!(pkg.requires.is_empty());
}

#[test]
fn stripped_check_uses_the_elf_reader() {
    // This test binary is built with debug info: not stripped.
    let exe = Utf8PathBuf::from_path_buf(std::env::current_exe().unwrap()).unwrap();
    let mut pkg = Package { name: "t".into(), ..Package::default() };
    pkg.files.push(FileEntry::new(exe, "/usr/bin/t", 0o755, FileKind::Binary));
    let err = pkg.check_stripped().unwrap_err();
    assert!(err.help.unwrap().contains("profile.release.strip=true"));
}

/// Bytes that do not compress much, the same on every run (an xorshift generator).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The streaming writer on a package of many files (every size modulo 4, empty ones, nested
/// directories) and one file far larger than its buffers: rpm's own reader (`rpm -qp --dump`,
/// `rpm2cpio | cpio`), trainyard's reader, and `rpm -K` all get back what went in.
#[test]
fn many_files_and_a_large_file_read_back_with_rpm2cpio_and_verify() {
    use sha2::Digest;
    let dir = scratch("many-files");
    let src = dir.join("src");
    let mut pkg = Package {
        name: "many".into(),
        version: "2.0".into(),
        release: "1".into(),
        arch: "x86_64".into(),
        summary: "Many files".into(),
        license: "MIT".into(),
        source_date: SOURCE_DATE,
        ..Package::default()
    };
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..400usize {
        let sub = format!("d{}/e{}", i % 7, i % 3);
        std::fs::create_dir_all(src.join(&sub)).unwrap();
        let path = src.join(format!("{sub}/f{i}"));
        let bytes =
            if i % 2 == 0 { noise(i * 37 % 5000, i as u64) } else { format!("file {i}\n").repeat(i % 9).into_bytes() };
        std::fs::write(&path, &bytes).unwrap();
        let dest = format!("/usr/share/many/{sub}/f{i}");
        pkg.files.push(FileEntry::new(path, dest.clone(), 0o644, FileKind::Regular));
        expected.insert(dest, bytes);
    }
    let large = noise(24 << 20, 7);
    std::fs::write(src.join("large"), &large).unwrap();
    pkg.files.push(FileEntry::new(src.join("large"), "/usr/lib/many/large", 0o755, FileKind::Binary));
    expected.insert("/usr/lib/many/large".into(), large);
    pkg.files.push(FileEntry::dir("/var/lib/many", 0o750));

    for compression in [Compression::Zstd(3), Compression::Gzip(6)] {
        let w = write(&pkg, &dir.join(format!("out-{compression:?}")), compression).unwrap();
        let (ok, checked) = tool("rpm", &["-Kv", w.path.as_str()]);
        assert!(
            ok && checked.contains("Header SHA256 digest: OK") && checked.contains("Payload SHA256 digest: OK"),
            "{checked}"
        );
        assert_eq!(std::fs::metadata(&w.path).unwrap().len(), w.size);

        // path size mtime digest mode owner group isconfig isdoc rdev symlink
        let dump = rpm_q(&w.path, &["--dump"]);
        assert_eq!(dump.lines().count(), expected.len() + 1, "{dump}");
        for line in dump.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f[0] == "/var/lib/many" {
                assert_eq!((f[4], f[5]), ("040750", "root"), "{line}");
                continue;
            }
            let bytes = &expected[f[0]];
            let digest: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!((f[1], f[2], f[3]), (bytes.len().to_string().as_str(), "1700000000", digest.as_str()), "{line}");
        }

        // rpm's own payload reader, through cpio.
        let unpacked = dir.join(format!("unpacked-{compression:?}"));
        std::fs::create_dir_all(&unpacked).unwrap();
        let script = format!("rpm2cpio '{}' | cpio -idm --quiet", w.path);
        let status = std::process::Command::new("sh").args(["-c", &script]).current_dir(&unpacked).status().unwrap();
        assert!(status.success(), "{script}");
        for (dest, bytes) in &expected {
            let got = std::fs::read(unpacked.join(&dest[1..])).unwrap_or_else(|e| panic!("{dest}: {e}"));
            assert!(got == *bytes, "{dest} differs after rpm2cpio | cpio");
        }
        assert!(unpacked.join("var/lib/many").is_dir());

        // trainyard's reader, which the image target uses.
        let mut seen = 0;
        trainyard::rpmpkg::read::open(&w.path)
            .unwrap()
            .for_each_entry(&w.path, |entry, data| {
                if entry.is_file() {
                    let mut got = Vec::new();
                    data.read_to_end(&mut got).unwrap();
                    assert!(got == expected[&entry.path], "{} differs", entry.path);
                    seen += 1;
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, expected.len());
    }
}

/// What the reserved space and the immutable region are for: `rpmsign --addsign` signs a
/// written package in place (the file keeps its size), and `rpm -K` with the key says OK.
#[test]
fn rpmsign_signs_a_written_package_in_place() {
    let dir = scratch("rpmsign");
    let pkg = demo_package(&dir);
    let w = write(&pkg, &dir.join("out"), Compression::Zstd(3)).unwrap();
    let gnupg = dir.join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(program).args(args).env("GNUPGHOME", &gnupg).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{program} {args:?}:\n{text}");
        text
    };
    let name = "Writer Test <writer@example.org>";
    run("gpg", &["--batch", "--passphrase", "", "--quick-gen-key", name, "rsa2048", "sign", "never"]);
    let gpg_name = format!("_gpg_name {name}");
    let gpg_path = format!("_gpg_path {gnupg}");
    run(
        "rpmsign",
        &["--define", "__gpg /usr/bin/gpg", "--define", &gpg_name, "--define", &gpg_path, "--addsign", w.path.as_str()],
    );
    assert_eq!(
        std::fs::metadata(&w.path).unwrap().len(),
        w.size,
        "rpmsign rewrote the package instead of using its reserved space"
    );

    let key = dir.join("key.asc");
    run("gpg", &["--armor", "--output", key.as_str(), "--export", "writer@example.org"]);
    let db = dir.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    run("rpm", &["--dbpath", db.as_str(), "--import", key.as_str()]);
    let checked = run("rpm", &["--dbpath", db.as_str(), "-Kv", w.path.as_str()]);
    assert!(checked.contains("Signature, key ID") && checked.contains(": OK"), "{checked}");
    assert!(!checked.contains("NOT OK") && !checked.contains("NOKEY"), "{checked}");
    // gpg started an agent for this home directory: it goes with the test.
    run("gpgconf", &["--kill", "gpg-agent"]);
}
