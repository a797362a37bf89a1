//! Channel repositories end to end: `release publish`, `promote`, `rollback` and `history`
//! with the real binary, real RPMs (rpmbuild), a GnuPG key made by the test, `rpm -K`,
//! `createrepo_c`, `dnf --installroot` with gpgcheck=1 and repo_gpgcheck=1, and an `sshd`
//! started by the test on 127.0.0.1 for a remote repository.

use crate::support::git as git_support;
use crate::support::sshd::Sshd;
use crate::support::workspace as support;

use std::path::{Path, PathBuf};

use git_support::{command, is_root, run, says, Repo, Run, TempDir};

/// A workspace named `portal`, a GnuPG home, and a place for collections and repositories.
struct Yard {
    repo: Repo,
    tmp: TempDir,
    gnupg: PathBuf,
}

impl Yard {
    fn new(label: &str) -> Yard {
        let repo = Repo::init(label, "main");
        repo.write(
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = []\n\n[workspace.metadata.trainyard]\nname = \"portal\"\n",
        );
        repo.commit_all("initial import");
        let tmp = TempDir::new(&format!("{label}-aux"));
        let gnupg = tmp.path.join("gnupg");
        std::fs::create_dir_all(&gnupg).unwrap();
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Yard { repo, tmp, gnupg }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path.join(name)
    }

    fn repos(&self) -> String {
        self.path("repos").to_str().unwrap().to_string()
    }

    /// Runs trainyard in the workspace with the test's GnuPG home.
    fn ty(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &self.repo.dir);
        cmd.args(args).env("GNUPGHOME", &self.gnupg).env_remove("CARGO_TARGET_DIR").env_remove("RPM_CHANNEL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    }

    /// The dry-run, then the run recording what the executor runs (test builds): the run
    /// succeeds and executes exactly what the dry-run printed, in order (`later:` standing for
    /// the history record, whose SHA-256s are known once the packages are signed).
    fn as_planned(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        let plan = self.ty(&dry, env);
        plan.ok();
        let planned = support::planned(&plan.stdout);
        assert!(planned.iter().any(|l| l.starts_with("run: createrepo_c")), "{}", plan.stdout);
        let record = self.path("record");
        let _ = std::fs::remove_file(&record);
        let mut env = env.to_vec();
        env.push(("TRAINYARD_TEST_RECORD", record.to_str().unwrap()));
        let r = self.ty(args, &env);
        r.ok();
        support::executed_as_planned(&planned, &record, &format!("{args:?}"));
        r
    }

    fn gpg(&self, args: &[&str]) -> Run {
        let mut c = command("gpg", &self.tmp.path);
        c.env("GNUPGHOME", &self.gnupg).args(["--batch", "--no-tty"]).args(args);
        run(c)
    }

    /// A signing key with a passphrase; returns the passphrase file.
    fn key(&self, email: &str, passphrase: &str) -> String {
        self.gpg(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            &format!("Releases <{email}>"),
            "ed25519",
            "sign",
            "never",
        ])
        .ok();
        let file = self.path(&format!("{email}.pass"));
        std::fs::write(&file, passphrase).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        file.to_str().unwrap().to_string()
    }

    /// One noarch RPM, built once per (name, version, variant) and reused: the same file
    /// goes into every collection that holds it, as build_rpms' cache does.
    fn rpm(&self, name: &str, version: &str, variant: &str, requires: &str) -> PathBuf {
        let out = self.path(&format!("rpms/{name}-{version}-{variant}"));
        let file = out.join("noarch").join(format!("{name}-{version}-1.noarch.rpm"));
        if file.exists() {
            return file;
        }
        std::fs::create_dir_all(&out).unwrap();
        let spec = out.join("p.spec");
        let mut lines = vec![
            format!("Name: {name}"),
            format!("Version: {version}"),
            "Release: 1".into(),
            format!("Summary: {name}"),
            "License: MIT".into(),
            "BuildArch: noarch".into(),
        ];
        if !requires.is_empty() {
            lines.push(format!("Requires: {requires}"));
        }
        lines.extend([
            "%description".into(),
            name.into(),
            "%install".into(),
            format!("mkdir -p %{{buildroot}}/usr/share/{name}"),
            format!("echo '{version} {variant}' > %{{buildroot}}/usr/share/{name}/VERSION"),
            "%files".into(),
            format!("/usr/share/{name}/VERSION"),
        ]);
        std::fs::write(&spec, lines.join("\n") + "\n").unwrap();
        let mut c = command("rpmbuild", &out);
        c.args(["-bb", "--quiet"])
            .arg("--define")
            .arg(format!("_topdir {}", out.join("build").display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", out.display()))
            .arg(&spec);
        run(c).ok();
        file
    }

    /// A collection as build_rpms writes it: `portal-VERSION` (requiring the internal project
    /// `server-core = 2.0`), `server-core-2.0`, and `collection.json`.
    fn collection(&self, version: &str, variant: &str) -> PathBuf {
        let dir = self.path(&format!("collection-{version}-{variant}"));
        std::fs::create_dir_all(&dir).unwrap();
        let files =
            [self.rpm("portal", version, variant, "server-core = 2.0"), self.rpm("server-core", "2.0", "a", "")];
        let mut entries = Vec::new();
        for f in &files {
            let name = f.file_name().unwrap().to_str().unwrap();
            std::fs::copy(f, dir.join(name)).unwrap();
            let bytes = std::fs::read(f).unwrap();
            entries.push(serde_json::json!({
                "file": name,
                "name": name.split('-').take_while(|p| !p.starts_with(|c: char| c.is_ascii_digit())).collect::<Vec<_>>().join("-"),
                "nevra": name.trim_end_matches(".rpm"),
                "kind": if name.starts_with("portal") { "workspace" } else { "internal" },
                "sha256": sha256(&bytes),
                "size": bytes.len(),
                "provides": [],
                "requires": [],
            }));
        }
        let manifest = serde_json::json!({
            "channel": "prod", "workspace": "portal", "version": version, "commit": null, "dirty": false,
            "source_date": 0, "internal": [], "packages": entries,
        });
        std::fs::write(dir.join("collection.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
        dir
    }

    fn publish(&self, collection: &Path, channel: &str, env: &[(&str, &str)]) -> Run {
        let c = collection.to_str().unwrap();
        self.ty(&["release", "publish", "--from", c, "--repo-dir", &self.repos(), "--channel", channel], env)
    }

    /// A directory holding only the channel's generated `.repo` file: dnf's `reposdir`.
    fn reposdir(&self, repo_dir: &Path, channel: &str) -> PathBuf {
        let dir = self.path(&format!("reposdir-{channel}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = format!("portal-{channel}.repo");
        std::fs::copy(repo_dir.join(channel).join(&file), dir.join(&file)).unwrap();
        dir
    }

    /// `dnf` into `root` with the repositories of `reposdir` only (as a client with the
    /// `.repo` file in /etc/yum.repos.d/ would).
    fn dnf(&self, root: &Path, reposdir: &Path, args: &[&str]) -> Run {
        let mut c = command("dnf", &self.tmp.path);
        c.args(["-y", "--releasever", "1", "--refresh"])
            .arg(format!("--setopt=reposdir={}", reposdir.display()))
            .arg(format!("--setopt=cachedir={}", root.with_extension("cache").display()))
            .arg(format!("--installroot={}", root.display()))
            .args(args);
        run(c)
    }
}

impl Drop for Yard {
    fn drop(&mut self) {
        let mut c = command("gpgconf", &self.tmp.path);
        c.env("GNUPGHOME", &self.gnupg).args(["--kill", "all"]);
        let _ = c.output();
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha_of(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap())
}

/// The version of `name` installed in `root` (empty when absent).
fn installed(root: &Path, name: &str) -> String {
    let mut c = command("rpm", Path::new("/"));
    c.arg("--root").arg(root).args(["-q", "--qf", "%{VERSION}", name]);
    let out = run(c);
    if out.success() {
        out.stdout
    } else {
        String::new()
    }
}

fn rpm_query(file: &Path, qf: &str) -> String {
    let mut c = command("rpm", Path::new("/"));
    c.args(["-qp", "--nosignature", "--qf", qf]).arg(file);
    run(c).ok().to_string()
}

/// `rpm -K` with only `key` trusted (a fresh rpm database).
fn rpm_check(tmp: &Path, key: &Path, file: &Path) -> Run {
    let db = tmp.join(format!("rpmdb-{}", sha_of(key)));
    if !db.exists() {
        let mut c = command("rpm", tmp);
        c.arg("--dbpath").arg(&db).arg("--initdb");
        run(c).ok();
        let mut c = command("rpm", tmp);
        c.arg("--dbpath").arg(&db).arg("--import").arg(key);
        run(c).ok();
    }
    let mut c = command("rpm", tmp);
    c.arg("--dbpath").arg(&db).arg("-K").arg(file);
    run(c)
}

fn rpms_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    out.sort();
    out
}

/// Publish signs the published copies (rpm -K OK with the exported key) and repomd.xml
/// (repomd.xml.asc), exports the key and a `.repo` file, and dnf with gpgcheck=1 and
/// repo_gpgcheck=1 installs from it into an empty root; the build output stays as built.
#[test]
fn publish_signs_and_dnf_installs_with_gpgcheck() {
    if !is_root("dnf --installroot") {
        return;
    }
    let y = Yard::new("sign");
    let passphrase = "correct horse battery";
    let pass = y.key("prod@example.com", passphrase);
    let collection = y.collection("1.2", "a");
    let before: Vec<(PathBuf, String)> = rpms_in(&collection).into_iter().map(|p| (p.clone(), sha_of(&p))).collect();
    let env = [("TRAINYARD_GPG_KEY", "prod@example.com"), ("TRAINYARD_GPG_PASSPHRASE_FILE", pass.as_str())];
    let out = y.publish(&collection, "prod", &env);
    out.ok();
    assert!(!out.stdout.contains(passphrase) && !out.stderr.contains(passphrase), "the passphrase was printed");

    // The build output: byte for byte as built, unsigned.
    let after: Vec<(PathBuf, String)> = rpms_in(&collection).into_iter().map(|p| (p.clone(), sha_of(&p))).collect();
    assert_eq!(before, after);
    for (p, _) in &after {
        assert_eq!(rpm_query(p, "%{RSAHEADER:pgpsig}"), "(none)", "{}", p.display());
    }

    // The published copies: signed by the key, checked by rpm with only that key trusted.
    let prod = y.path("repos/prod");
    let key = prod.join("RPM-GPG-KEY-portal-prod");
    let published = rpms_in(&prod);
    assert_eq!(published.len(), 2);
    for p in &published {
        let k = rpm_check(&y.tmp.path, &key, p);
        assert!(k.stdout.contains("digests signatures OK"), "{}: {}{}", p.display(), k.stdout, k.stderr);
        assert_ne!(sha_of(p), sha_of(&collection.join(p.file_name().unwrap())));
    }
    // An unsigned package fails the same check: the check can fail.
    let unsigned = rpm_check(&y.tmp.path, &key, &after[0].0);
    assert!(!unsigned.stdout.contains("signatures OK"), "{}", unsigned.stdout);

    let repomd = prod.join("repodata/repomd.xml");
    let verify = y.gpg(&["--verify", prod.join("repodata/repomd.xml.asc").to_str().unwrap(), repomd.to_str().unwrap()]);
    assert!(verify.success(), "{}", verify.stderr);
    let repo_file = std::fs::read_to_string(prod.join("portal-prod.repo")).unwrap();
    assert!(repo_file.contains("gpgcheck=1\nrepo_gpgcheck=1\n"), "{repo_file}");

    let root = y.path("root");
    let reposdir = y.reposdir(&y.path("repos"), "prod");
    y.dnf(&root, &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&root, "portal"), "1.2");
    assert_eq!(installed(&root, "server-core"), "2.0");

    // Publishing the same collection again: the signed copies are the same builds, a no-op.
    let again = y.publish(&collection, "prod", &env);
    again.ok();
    says(&again, "nothing to publish");
    assert_eq!(
        rpms_in(&prod).iter().map(|p| sha_of(p)).collect::<Vec<_>>(),
        published.iter().map(|p| sha_of(p)).collect::<Vec<_>>()
    );

    // Control: the same packages unsigned (the dev channel, no key) under gpgcheck=1 are refused.
    y.publish(&collection, "dev", &[]).ok();
    let dev = y.path("repos/dev");
    let strict = std::fs::read_to_string(dev.join("portal-dev.repo"))
        .unwrap()
        .replace("gpgcheck=0", "gpgcheck=1")
        .replace("repo_gpgcheck=1", "repo_gpgcheck=0")
        + &format!("gpgkey=file://{}\n", key.display());
    let strict_dir = y.path("reposdir-strict");
    std::fs::create_dir_all(&strict_dir).unwrap();
    std::fs::write(strict_dir.join("portal-dev.repo"), strict).unwrap();
    let refused = y.dnf(&y.path("root-unsigned"), &strict_dir, &["install", "portal"]);
    assert!(!refused.success(), "dnf installed unsigned packages with gpgcheck=1:\n{}", refused.stdout);

    // Control: the signed repository without repomd.xml.asc is refused by repo_gpgcheck=1.
    let copy = y.path("prod-no-asc");
    let mut cp = command("cp", &y.tmp.path);
    cp.arg("-rL").arg(&prod).arg(&copy);
    run(cp).ok();
    std::fs::remove_file(copy.join("repodata/repomd.xml.asc")).unwrap();
    let moved = std::fs::read_to_string(prod.join("portal-prod.repo"))
        .unwrap()
        .replace(&format!("baseurl=file://{}/", prod.display()), &format!("baseurl=file://{}/", copy.display()));
    assert!(moved.contains(&copy.display().to_string()), "{moved}");
    let no_asc_dir = y.path("reposdir-no-asc");
    std::fs::create_dir_all(&no_asc_dir).unwrap();
    std::fs::write(no_asc_dir.join("portal-prod.repo"), moved).unwrap();
    let refused = y.dnf(&y.path("root-no-asc"), &no_asc_dir, &["install", "portal"]);
    assert!(!refused.success(), "dnf used unsigned metadata with repo_gpgcheck=1:\n{}", refused.stdout);
}

/// A file of the same name with other bytes is refused (exit 1, both SHA-256s) and nothing
/// changes; the same bytes are a no-op; the history lists each publish.
#[test]
fn overwrite_refused_identical_noop_history_printed() {
    let y = Yard::new("overwrite");
    let first = y.collection("1.2", "a");
    y.publish(&first, "stage", &[]).ok();
    let stage = y.path("repos/stage");
    let repomd = std::fs::read(stage.join("repodata/repomd.xml")).unwrap();
    let published = stage.join("portal-1.2-1.noarch.rpm");
    let theirs = sha_of(&published);

    let rebuilt = y.collection("1.2", "b");
    let ours = sha_of(&rebuilt.join("portal-1.2-1.noarch.rpm"));
    assert_ne!(theirs, ours);
    let refused = y.publish(&rebuilt, "stage", &[]);
    let err = refused.fails_with(1);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(err.contains(&format!("the repository has sha256 {theirs}")), "{err}");
    assert!(err.contains(&format!("this one is sha256 {ours}")), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert_eq!(sha_of(&published), theirs);
    assert_eq!(std::fs::read(stage.join("repodata/repomd.xml")).unwrap(), repomd);

    let same = y.publish(&first, "stage", &[]);
    same.ok();
    says(&same, "nothing to publish");
    assert_eq!(std::fs::read(stage.join("repodata/repomd.xml")).unwrap(), repomd);

    let history = std::fs::read_to_string(stage.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 1, "{history}");
    let printed = y.ty(&["release", "history", "--channel", "stage", "--repo-dir", &y.repos()], &[]);
    let text = printed.ok();
    assert!(text.contains("publish  1.2"), "{text}");
    assert!(text.contains(&format!("portal-1.2-1.noarch.rpm  sha256:{theirs}")), "{text}");
    assert!(text.contains("by Test Author <author@example.com>"), "{text}");

    // Bad input changes nothing and says how to fix it.
    let unknown = y.ty(&["release", "rollback", "1.1", "--channel", "stage", "--repo-dir", &y.repos()], &[]);
    let err = unknown.fails_with(2);
    assert!(err.contains("1.1 was never published") && err.contains("releases there: 1.2"), "{err}");
    let never = y.ty(&["release", "promote", "1.3", "--from", "stage", "--to", "prod", "--repo-dir", &y.repos()], &[]);
    never.fails_with(2);
    assert!(!y.path("repos/prod/history.jsonl").exists());
    let dev =
        y.ty(&["release", "promote", "1.3.dev4", "--from", "stage", "--to", "prod", "--repo-dir", &y.repos()], &[]);
    assert!(dev.fails_with(2).contains("development build"), "{}", dev.stderr);
    let rc = y.ty(&["release", "promote", "1.3rc1", "--from", "stage", "--to", "prod", "--repo-dir", &y.repos()], &[]);
    assert!(rc.fails_with(2).contains("--allow-prerelease"), "{}", rc.stderr);
}

/// A publisher that finds the channel locked (another publish under way) waits for it.
#[test]
fn a_second_publisher_waits_for_the_lock() {
    let y = Yard::new("lock");
    let collection = y.collection("1.2", "a");
    let stage = y.path("repos/stage");
    std::fs::create_dir_all(&stage).unwrap();
    let ready = y.path("holder-ready");
    let mut holder = std::process::Command::new("flock")
        .arg(stage.join(".trainyard.lock"))
        .args(["-c", &format!("touch {}; sleep 3", ready.display())])
        .spawn()
        .expect("flock (util-linux)");
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let started = std::time::Instant::now();
    let out = y.publish(&collection, "stage", &[]);
    out.ok();
    says(&out, "waiting for another publisher");
    assert!(holder.try_wait().unwrap().is_some(), "published while the lock was held");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000));
    holder.wait().unwrap();
    assert!(stage.join("repodata/repomd.xml").is_file());
}

/// The seed's scenario: 1.2 in prod; 1.3 to stage; 1.3.1 to stage, promoted to prod with
/// the same bytes; prod rolled back to 1.2 (an installed 1.3.1 stays on `dnf upgrade`, goes
/// to 1.2 on `dnf downgrade`, a fresh install gets 1.2); 1.3.2 to stage and promoted.
#[test]
fn stage_prod_promotion_and_rollback_scenario() {
    if !is_root("dnf --installroot") {
        return;
    }
    let y = Yard::new("scenario");
    let pass = y.key("releases@example.com", "s3cret");
    let env = [("TRAINYARD_GPG_KEY", "releases@example.com"), ("TRAINYARD_GPG_PASSPHRASE_FILE", pass.as_str())];
    let repos = y.repos();
    let promote = |v: &str| {
        y.as_planned(&["release", "promote", v, "--from", "stage", "--to", "prod", "--repo-dir", &repos], &env)
    };

    // Each publish, promote and rollback does what its dry-run printed.
    let c = y.collection("1.2", "a");
    y.as_planned(
        &["release", "publish", "--from", c.to_str().unwrap(), "--repo-dir", &repos, "--channel", "prod"],
        &env,
    );
    y.publish(&y.collection("1.3", "a"), "stage", &env).ok();
    y.publish(&y.collection("1.3.1", "a"), "stage", &env).ok();
    let out = promote("1.3.1");
    out.ok();
    says(&out, "the same bytes");
    let (stage, prod) = (y.path("repos/stage"), y.path("repos/prod"));
    let f = "portal-1.3.1-1.noarch.rpm";
    assert_eq!(sha_of(&stage.join(f)), sha_of(&prod.join(f)), "{f}");
    // server-core 2.0 came to prod with 1.2, signed then: prod keeps that copy of the same build.
    let core = "server-core-2.0-1.noarch.rpm";
    assert_eq!(rpm_query(&stage.join(core), "%{SHA256HEADER}"), rpm_query(&prod.join(core), "%{SHA256HEADER}"));
    assert!(!prod.join("portal-1.3-1.noarch.rpm").exists(), "only the promoted release moves");

    let reposdir = y.reposdir(&y.path("repos"), "prod");
    let root = y.path("root");
    y.dnf(&root, &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&root, "portal"), "1.3.1");

    // It breaks: prod goes back to 1.2.
    let back = y.as_planned(&["release", "rollback", "1.2", "--channel", "prod", "--repo-dir", &repos], &env);
    let printed = back.ok();
    assert!(printed.contains("dnf --refresh downgrade portal"), "{printed}");
    assert!(prod.join("archive/portal-1.3.1-1.noarch.rpm").is_file());
    assert!(!prod.join("portal-1.3.1-1.noarch.rpm").exists());
    y.dnf(&root, &reposdir, &["upgrade"]).ok();
    assert_eq!(installed(&root, "portal"), "1.3.1", "dnf upgrade must not downgrade");
    y.dnf(&root, &reposdir, &["downgrade", "portal"]).ok();
    assert_eq!(installed(&root, "portal"), "1.2");
    let fresh = y.path("fresh");
    y.dnf(&fresh, &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&fresh, "portal"), "1.2");

    // The fix goes through stage, then prod; clients upgrade to it.
    y.publish(&y.collection("1.3.2", "a"), "stage", &env).ok();
    promote("1.3.2").ok();
    assert_eq!(sha_of(&stage.join("portal-1.3.2-1.noarch.rpm")), sha_of(&prod.join("portal-1.3.2-1.noarch.rpm")));
    y.dnf(&root, &reposdir, &["upgrade"]).ok();
    assert_eq!(installed(&root, "portal"), "1.3.2");

    let history = y.ty(&["release", "history", "--channel", "prod", "--repo-dir", &repos], &[]);
    let text = history.ok();
    let actions: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().skip(1).take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(actions, ["publish 1.2", "promote 1.3.1", "rollback 1.2", "promote 1.3.2"], "{text}");
    assert!(text.contains("archived portal-1.3.1-1.noarch.rpm"), "{text}");
    assert!(text.contains("from stage"), "{text}");

    // Promoting 1.3.1 again undoes the rollback from the archive, with the same bytes.
    let archived = sha_of(&prod.join("archive/portal-1.3.1-1.noarch.rpm"));
    promote("1.3.1").ok();
    assert_eq!(sha_of(&prod.join("portal-1.3.1-1.noarch.rpm")), archived);
}

/// A channel with its own key: promotion signs the copy again with it (rpm -K passes with
/// only the prod key trusted) and leaves the stage copy as it was.
#[test]
fn promote_signs_again_when_prod_has_another_key() {
    let y = Yard::new("resign");
    let stage_pass = y.key("stage@example.com", "stage-pass");
    let prod_pass = y.key("prod@example.com", "prod-pass");
    let repos = y.repos();
    let collection = y.collection("1.4", "a");
    let stage_env =
        [("TRAINYARD_GPG_KEY_STAGE", "stage@example.com"), ("TRAINYARD_GPG_PASSPHRASE_FILE", stage_pass.as_str())];
    y.publish(&collection, "stage", &stage_env).ok();
    let stage_copy = y.path("repos/stage/portal-1.4-1.noarch.rpm");
    let stage_sha = sha_of(&stage_copy);
    let prod_env =
        [("TRAINYARD_GPG_KEY_PROD", "prod@example.com"), ("TRAINYARD_GPG_PASSPHRASE_FILE", prod_pass.as_str())];
    let out = y.ty(&["release", "promote", "1.4", "--from", "stage", "--to", "prod", "--repo-dir", &repos], &prod_env);
    out.ok();
    says(&out, "signed again with the prod key");
    let prod_copy = y.path("repos/prod/portal-1.4-1.noarch.rpm");
    let prod_key = y.path("repos/prod/RPM-GPG-KEY-portal-prod");
    let stage_key = y.path("repos/stage/RPM-GPG-KEY-portal-stage");
    assert!(rpm_check(&y.tmp.path, &prod_key, &prod_copy).stdout.contains("signatures OK"));
    assert!(!rpm_check(&y.tmp.path, &prod_key, &stage_copy).stdout.contains("signatures OK"));
    assert!(rpm_check(&y.tmp.path, &stage_key, &stage_copy).stdout.contains("signatures OK"));
    assert_eq!(sha_of(&stage_copy), stage_sha);
    // The same build: only the signature differs.
    assert_eq!(rpm_query(&prod_copy, "%{SHA256HEADER}"), rpm_query(&stage_copy, "%{SHA256HEADER}"));
}

/// An sshd on 127.0.0.1 with keys made here: publish over SSH (rsync), dnf installs from the
/// synced directory; a publish killed between upload and switch leaves the previous
/// repository valid, and the next publish (the lock released with the dead process) works.
#[test]
fn publish_over_ssh_and_a_killed_upload_leaves_the_previous_repository() {
    if !is_root("sshd") {
        return;
    }
    let y = Yard::new("ssh");
    let sshd = Sshd::start(&y.tmp.path);
    let remote = y.path("remote-srv");
    std::fs::create_dir_all(&remote).unwrap();
    let url = format!("ssh://root@127.0.0.1:{}{}", sshd.port, remote.display());
    let env = [("TRAINYARD_SSH", sshd.client.as_str())];
    let publish = |c: &Path, extra: &[(&str, &str)]| {
        let mut all = env.to_vec();
        all.extend_from_slice(extra);
        y.ty(&["release", "publish", "--from", c.to_str().unwrap(), "--repo-dir", &url, "--channel", "prod"], &all)
    };
    publish(&y.collection("1.2", "a"), &[]).ok();
    let prod = remote.join("prod");
    assert!(prod.join("repodata/repomd.xml").is_file());
    let reposdir = y.reposdir(&remote, "prod");
    y.dnf(&y.path("root1"), &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&y.path("root1"), "portal"), "1.2");

    let repomd = std::fs::read(prod.join("repodata/repomd.xml")).unwrap();
    let killed = publish(&y.collection("1.3", "a"), &[("TRAINYARD_FAIL_AFTER", "upload:abort")]);
    assert_eq!(killed.code, None, "the publish was to be killed\n{}", killed.stderr);
    assert!(prod.join("portal-1.3-1.noarch.rpm").is_file(), "the packages were uploaded first");
    assert_eq!(std::fs::read(prod.join("repodata/repomd.xml")).unwrap(), repomd, "metadata switched early");
    y.dnf(&y.path("root2"), &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&y.path("root2"), "portal"), "1.2");

    // The lock is on the host: a publisher waits while another holds it.
    let ready = y.path("remote-holder-ready");
    let mut holder = std::process::Command::new("flock")
        .arg(prod.join(".trainyard.lock"))
        .args(["-c", &format!("touch {}; sleep 3", ready.display())])
        .spawn()
        .expect("flock (util-linux)");
    let collection = y.collection("1.3", "a");
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let done = publish(&collection, &[]);
    done.ok();
    says(&done, "waiting for another publisher");
    holder.wait().unwrap();
    y.dnf(&y.path("root3"), &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&y.path("root3"), "portal"), "1.3");
    let history = y.ty(&["release", "history", "--channel", "prod", "--repo-dir", &url], &env);
    let text = history.ok();
    assert!(text.contains("publish  1.2") && text.contains("publish  1.3"), "{text}");
    assert_eq!(text.matches("publish  1.3").count(), 1, "{text}");

    // A rollback over ssh: 1.3 leaves the remote metadata for its archive, after the switch.
    let back = y.ty(&["release", "rollback", "1.2", "--channel", "prod", "--repo-dir", &url], &env);
    assert!(back.ok().contains("dnf --refresh downgrade portal"), "{}", back.stdout);
    assert!(prod.join("archive/portal-1.3-1.noarch.rpm").is_file());
    assert!(!prod.join("portal-1.3-1.noarch.rpm").exists());
    y.dnf(&y.path("root4"), &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&y.path("root4"), "portal"), "1.2");

    // Stage to prod on the host: both channels locked and mirrored, the same bytes.
    let c = y.collection("1.4", "a");
    let staged =
        y.ty(&["release", "publish", "--from", c.to_str().unwrap(), "--repo-dir", &url, "--channel", "stage"], &env);
    staged.ok();
    let promoted = y.ty(&["release", "promote", "1.4", "--from", "stage", "--to", "prod", "--repo-dir", &url], &env);
    promoted.ok();
    let f = "portal-1.4-1.noarch.rpm";
    assert_eq!(sha_of(&remote.join("stage").join(f)), sha_of(&prod.join(f)));
    y.dnf(&y.path("root5"), &reposdir, &["install", "portal"]).ok();
    assert_eq!(installed(&y.path("root5"), "portal"), "1.4");
}
