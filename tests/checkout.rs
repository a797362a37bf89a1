//! The checkout cache against real git repositories made in a temp dir.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::workspace as support;

use camino::{Utf8Path, Utf8PathBuf};
use support::TempDir;
use trainyard::checkout::{Cache, RefKind, Source};
use trainyard::error::Kind;
use trainyard::exec::Effects;

const NAME: &str = "server-core";

/// A temp dir removed when the test ends, and its UTF-8 path.
fn temp_dir(label: &str) -> (TempDir, Utf8PathBuf) {
    let tmp = TempDir::new(&format!("checkout-{label}"));
    let path = Utf8PathBuf::from_path_buf(tmp.path().to_path_buf()).expect("temp dir is UTF-8");
    (tmp, path)
}

/// git with the fixtures' fixed identities and dates; panics on failure.
fn git(dir: &Utf8Path, args: &[&str]) -> String {
    support::git(dir.as_std_path(), args)
}

fn commit_file(repo: &Utf8Path, text: &str, message: &str) {
    fs::create_dir_all(repo.join("src")).unwrap();
    fs::write(repo.join("src/lib.rs"), format!("pub const VERSION: &str = \"{text}\";\n")).unwrap();
    support::commit_all(repo.as_std_path(), message);
}

/// server-core: `rpm-1.0` (lightweight tag), `rpm-2.0` (annotated), and `main` one commit ahead.
fn make_remote(dir: &Utf8Path, flavour: &str) -> Utf8PathBuf {
    let repo = dir.join(format!("server-core{flavour}"));
    fs::create_dir_all(&repo).unwrap();
    support::git_init(repo.as_std_path());
    fs::write(repo.join("Cargo.toml"), "[package]\nname = \"server-core\"\nversion = \"1.0.0\"\n").unwrap();
    commit_file(&repo, &format!("1.0{flavour}"), "server-core 1.0");
    git(&repo, &["tag", "rpm-1.0"]);
    commit_file(&repo, &format!("2.0{flavour}"), "server-core 2.0");
    git(&repo, &["tag", "--annotate", "-m", "release 2.0", "rpm-2.0"]);
    commit_file(&repo, &format!("2.1-dev{flavour}"), "work after 2.0");
    repo
}

fn file_url(path: &Utf8Path) -> String {
    format!("file://{path}")
}

fn rev(repo: &Utf8Path, spec: &str) -> String {
    git(repo, &["rev-parse", &format!("{spec}^{{commit}}")])
}

fn quiet() -> Effects {
    Effects { dry_run: false, quiet: true }
}

fn entries(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(read) => read.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn a_tag_resolves_once_then_builds_offline_from_the_cache() {
    let (_tmp, tmp) = temp_dir("offline");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let cache = Cache::new(tmp.join("cache"), "rpm-");

    let first = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap();
    assert_eq!(first.kind, RefKind::Tag);
    assert_eq!(first.source, Source::Fetched);
    assert_eq!(first.commit, rev(&remote, "rpm-2.0"), "an annotated tag resolves to its commit");
    let tree = cache.worktree(&first, &quiet()).unwrap();
    assert_eq!(tree, cache.tree_path(NAME, &first.commit));
    assert_eq!(fs::read_to_string(tree.join("src/lib.rs")).unwrap(), "pub const VERSION: &str = \"2.0\";\n");
    assert_eq!(entries(&tree), ["Cargo.toml", "src"], "exactly the committed files, no .git");
    fs::write(tree.join("marker"), "made by the first run").unwrap();

    // The remote goes away: tags and commits already fetched still resolve, without the network.
    fs::rename(&remote, tmp.join("gone")).unwrap();
    let second = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap();
    assert_eq!(second.source, Source::Cache);
    assert_eq!(second.commit, first.commit);
    let again = cache.worktree(&second, &quiet()).unwrap();
    assert_eq!(again, tree);
    assert!(again.join("marker").exists(), "the work tree is reused, not made again");

    let older = cache.resolve(NAME, &url, "rpm-1.0", &quiet()).unwrap();
    assert_eq!((older.kind, older.source), (RefKind::Tag, Source::Cache));
    let older_tree = cache.worktree(&older, &quiet()).unwrap();
    assert_eq!(fs::read_to_string(older_tree.join("src/lib.rs")).unwrap(), "pub const VERSION: &str = \"1.0\";\n");

    let by_id = cache.resolve(NAME, &url, &older.commit.to_uppercase(), &quiet()).unwrap();
    assert_eq!((by_id.kind, by_id.source), (RefKind::Commit, Source::Cache));
    assert_eq!(by_id.commit, older.commit);
}

#[test]
fn a_plain_path_is_a_url_too() {
    let (_tmp, tmp) = temp_dir("plain-path");
    let remote = make_remote(&tmp, "");
    let cache = Cache::new(tmp.join("cache"), "rpm-");
    let resolved = cache.resolve(NAME, remote.as_str(), "rpm-1.0", &quiet()).unwrap();
    assert_eq!(resolved.commit, rev(&remote, "rpm-1.0"));
    assert_eq!(resolved.url, remote.as_str());
    let tree = cache.worktree(&resolved, &quiet()).unwrap();
    assert!(tree.join("src/lib.rs").is_file());
}

#[test]
fn a_branch_is_fetched_on_every_run_and_an_unreachable_remote_stops_it() {
    let (_tmp, tmp) = temp_dir("branch");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let cache = Cache::new(tmp.join("cache"), "rpm-");

    let first = cache.resolve(NAME, &url, "main", &quiet()).unwrap();
    assert_eq!((first.kind, first.commit.as_str()), (RefKind::Branch, rev(&remote, "main").as_str()));

    commit_file(&remote, "2.2-dev", "more work");
    let moved = cache.resolve(NAME, &url, "main", &quiet()).unwrap();
    assert_eq!(moved.source, Source::Fetched);
    assert_eq!(moved.commit, rev(&remote, "main"));
    assert_ne!(moved.commit, first.commit);
    let tree = cache.worktree(&moved, &quiet()).unwrap();
    assert!(fs::read_to_string(tree.join("src/lib.rs")).unwrap().contains("2.2-dev"));

    fs::rename(&remote, tmp.join("gone")).unwrap();
    let err = cache.resolve(NAME, &url, "main", &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Failed);
    assert!(err.message.contains(&format!("cannot fetch server-core from {url}")), "{err}");
    assert!(err.message.contains("does not appear to be a git repository"), "{err}");
    assert!(!err.message.contains('\n'), "git's message is summarised on one line: {err}");
    assert!(err.help.as_deref().unwrap_or("").contains("tag or full commit id"), "{err}");

    // Tags fetched along the way still work offline.
    assert_eq!(cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap().source, Source::Cache);
}

#[test]
fn a_missing_ref_names_the_project_the_url_and_the_release_tags() {
    let (_tmp, tmp) = temp_dir("missing");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let cache = Cache::new(tmp.join("cache"), "rpm-");

    let err = cache.resolve(NAME, &url, "rpm-9.9", &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Usage);
    assert_eq!(err.message, format!("server-core has no ref rpm-9.9 at {url}; release tags there: rpm-1.0, rpm-2.0"));

    // The same answer without fetching, from `git ls-remote`.
    let fresh = Cache::new(tmp.join("fresh"), "rpm-");
    let err = fresh.look_up(NAME, &url, "rpm-9.9").unwrap_err();
    assert_eq!(err.message, format!("server-core has no ref rpm-9.9 at {url}; release tags there: rpm-1.0, rpm-2.0"));
    assert!(!tmp.join("fresh").exists());

    let nowhere = "0123456789abcdef0123456789abcdef01234567";
    let err = cache.resolve(NAME, &url, nowhere, &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Usage);
    assert_eq!(err.message, format!("server-core has no commit {nowhere} at {url}"));

    let full = rev(&remote, "rpm-1.0");
    let err = cache.resolve(NAME, &url, &full[..12], &quiet()).unwrap_err();
    assert!(err.help.as_deref().unwrap_or("").contains(&full), "{err}");
}

#[test]
fn options_disguised_as_refs_or_urls_execute_nothing_and_create_nothing() {
    let (_tmp, tmp) = temp_dir("options");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let root = tmp.join("cache");
    let cache = Cache::new(&root, "rpm-");
    let witness = tmp.join("pwned");

    let resolve = |name: &str, url: &str, reference: &str| cache.resolve(name, url, reference, &quiet());
    let look_up = |name: &str, url: &str, reference: &str| cache.look_up(name, url, reference);
    for ask in [&resolve as &dyn Fn(&str, &str, &str) -> _, &look_up] {
        let err = ask(NAME, &url, &format!("--upload-pack=touch {witness}")).unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{err}");
        assert!(err.message.contains("starts with `-`"), "{err}");
        let err = ask(NAME, &format!("--upload-pack=touch {witness}"), "rpm-2.0").unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{err}");
        let err = ask("../escape", &url, "rpm-2.0").unwrap_err();
        assert_eq!(err.kind, Kind::Usage, "{err}");
    }
    assert!(!witness.exists(), "nothing was executed");
    assert!(!root.exists(), "nothing was created");

    // A URL naming a command (git's ext:: transport) is refused before git sees it.
    let ext = format!("ext::sh -c touch% {witness}");
    let err = cache.resolve(NAME, &ext, "rpm-2.0", &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Usage, "{err}");
    assert!(err.message.contains("git's `ext::` transport is not allowed"), "{err}");
    assert!(!witness.exists(), "nothing was executed");
    assert!(!root.join("mirrors").exists() || entries(&root.join("mirrors")).is_empty(), "no mirror is left behind");
}

#[test]
fn an_unreachable_remote_is_a_clear_error_and_leaves_no_mirror() {
    let (_tmp, tmp) = temp_dir("unreachable");
    let url = file_url(&tmp.join("no-such-repo"));
    let cache = Cache::new(tmp.join("cache"), "rpm-");
    let err = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Failed);
    assert!(err.message.starts_with(&format!("cannot fetch server-core from {url}: ")), "{err}");
    assert!(err.message.contains("does not appear to be a git repository"), "{err}");
    assert_eq!(entries(&tmp.join("cache/mirrors")), Vec::<String>::new());

    let err = cache.look_up(NAME, &url, "rpm-2.0").unwrap_err();
    assert!(err.message.starts_with(&format!("cannot fetch server-core from {url}: ")), "{err}");
}

#[test]
fn looking_up_fetches_nothing_and_creates_nothing() {
    let (_tmp, tmp) = temp_dir("dry-run");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let root = tmp.join("cache");
    let cache = Cache::new(&root, "rpm-");

    let planned = cache.look_up(NAME, &url, "rpm-2.0").unwrap();
    assert_eq!((planned.kind, planned.source), (RefKind::Tag, Source::Remote));
    assert_eq!(planned.commit, rev(&remote, "rpm-2.0"), "the peeled commit, not the tag object");
    assert!(!cache.tree_path(NAME, &planned.commit).exists());
    let id = rev(&remote, "rpm-1.0");
    let by_id = cache.look_up(NAME, &url, &id).unwrap();
    assert_eq!((by_id.kind, by_id.commit.as_str()), (RefKind::Commit, id.as_str()));
    assert!(!root.exists(), "looking up created {root}");

    let real = cache.resolve(NAME, &url, "main", &quiet()).unwrap();
    assert_eq!(cache.look_up(NAME, &url, "rpm-2.0").unwrap().source, Source::Cache);

    // A branch is asked afresh, and the mirror keeps its old answer.
    commit_file(&remote, "2.2-dev", "more work");
    let branch = cache.look_up(NAME, &url, "main").unwrap();
    assert_eq!((branch.source, branch.commit.as_str()), (Source::Remote, rev(&remote, "main").as_str()));
    let mirror = cache.mirror_path(NAME);
    assert_eq!(git(&mirror, &["--git-dir=.", "rev-parse", "refs/heads/main"]), real.commit);
}

#[test]
fn a_new_url_is_fetched_before_its_refs_are_trusted() {
    let (_tmp, tmp) = temp_dir("new-url");
    let first = make_remote(&tmp, "");
    let moved = make_remote(&tmp, "-moved");
    let cache = Cache::new(tmp.join("cache"), "rpm-");
    let old = cache.resolve(NAME, &file_url(&first), "rpm-2.0", &quiet()).unwrap();
    let new = cache.resolve(NAME, &file_url(&moved), "rpm-2.0", &quiet()).unwrap();
    assert_eq!(new.source, Source::Fetched);
    assert_eq!(new.commit, rev(&moved, "rpm-2.0"));
    assert_ne!(new.commit, old.commit);
    let mirror = cache.mirror_path(NAME);
    assert_eq!(git(&mirror, &["--git-dir=.", "config", "remote.origin.url"]), file_url(&moved));

    // A new URL that cannot be fetched leaves the mirror of the last good one, still naming it.
    let missing = file_url(&tmp.join("no-such-repo"));
    let err = cache.resolve(NAME, &missing, "rpm-2.0", &quiet()).unwrap_err();
    assert!(err.message.starts_with(&format!("cannot fetch server-core from {missing}")), "{err}");
    assert_eq!(git(&mirror, &["--git-dir=.", "config", "remote.origin.url"]), file_url(&moved));
    assert!(cache.resolve(NAME, &missing, "rpm-2.0", &quiet()).is_err(), "the other remote's tag is not trusted");
    assert_eq!(entries(&tmp.join("cache/mirrors")), ["server-core.git"]);
}

#[test]
fn leftovers_of_an_interrupted_run_are_cleaned_and_a_damaged_mirror_is_made_again() {
    let (_tmp, tmp) = temp_dir("leftovers");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let root = tmp.join("cache");
    let cache = Cache::new(&root, "rpm-");
    let commit = rev(&remote, "rpm-2.0");
    let stale_mirror = root.join("mirrors/.server-core.git.tmp-999999");
    let stale_tree = root.join(format!("trees/server-core/.{commit}.tmp-999999"));
    fs::create_dir_all(&stale_mirror).unwrap();
    fs::create_dir_all(stale_tree.join("src")).unwrap();
    // A damaged mirror: the directory is there, the repository is not.
    fs::create_dir_all(cache.mirror_path(NAME)).unwrap();

    let resolved = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap();
    assert_eq!(resolved.commit, commit);
    cache.worktree(&resolved, &quiet()).unwrap();
    assert_eq!(entries(&root.join("mirrors")), ["server-core.git"]);
    assert_eq!(entries(&root.join("trees/server-core")), [commit]);
}

#[test]
fn concurrent_runs_share_one_cache_without_corrupting_it() {
    let (_tmp, tmp) = temp_dir("concurrent");
    let remote = make_remote(&tmp, "");
    let url = file_url(&remote);
    let root = tmp.join("cache");
    let results: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = ["rpm-2.0", "rpm-2.0", "main", "rpm-1.0", "rpm-2.0", "main"]
            .into_iter()
            .map(|reference| {
                let (root, url) = (&root, &url);
                scope.spawn(move || {
                    let cache = Cache::new(root, "rpm-");
                    let resolved = cache.resolve(NAME, url, reference, &quiet()).unwrap();
                    let tree = cache.worktree(&resolved, &quiet()).unwrap();
                    (reference, resolved.commit, tree)
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (reference, commit, tree) in &results {
        assert_eq!(*commit, rev(&remote, reference));
        assert!(tree.join("src/lib.rs").is_file());
    }
    let mirror = Cache::new(&root, "rpm-").mirror_path(NAME);
    git(&mirror, &["--git-dir=.", "fsck", "--strict", "--no-progress"]);
    assert_eq!(entries(&root.join("mirrors")), ["server-core.git"]);
    assert_eq!(entries(&root.join("trees/server-core")).len(), 3, "one tree per commit, no leftovers");
}

/// Another process holds the project's lock: a run waits, says so, and goes on once it is released.
#[test]
fn a_run_waits_for_the_lock_held_by_another_process() {
    let (_tmp, tmp) = temp_dir("lock");
    let remote = make_remote(&tmp, "");
    let root = tmp.join("cache");
    let lock_path = Cache::new(&root, "rpm-").lock_path(NAME);
    fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let lock = fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "checkout::lock_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("TRAINYARD_TEST_CACHE", &root)
        .env("TRAINYARD_TEST_URL", file_url(&remote))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the child's stderr as it comes, so the lock is released only once the child waits for it.
    let stderr = child.stderr.take().unwrap();
    let (lines, seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let waiting = format!("trainyard: waiting for the lock on {lock_path} (another trainyard run is using it)");
    loop {
        match seen.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == waiting => break,
            Ok(_) => {}
            Err(err) => panic!("the child never said it was waiting for {lock_path}: {err}"),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the child went on while the lock was held");
    assert!(!root.join("mirrors").exists(), "the child changed the cache while the lock was held");
    drop(lock);

    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    assert!(out.status.success(), "child failed:\n{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(Cache::new(&root, "rpm-").tree_path(NAME, &rev(&remote, "rpm-2.0")).is_dir());
}

/// The other process of `a_run_waits_for_the_lock_held_by_another_process`.
#[test]
#[ignore = "run as a child process by a_run_waits_for_the_lock_held_by_another_process"]
fn lock_child() {
    let root = PathBuf::from(std::env::var("TRAINYARD_TEST_CACHE").expect("started by the lock test"));
    let cache = Cache::new(Utf8PathBuf::from_path_buf(root).unwrap(), "rpm-");
    let url = std::env::var("TRAINYARD_TEST_URL").unwrap();
    let resolved = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap();
    cache.worktree(&resolved, &quiet()).unwrap();
}

#[test]
fn a_remote_that_never_answers_is_given_up_after_the_network_timeout() {
    let started = std::time::Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "checkout::silent_remote_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("TRAINYARD_NETWORK_TIMEOUT", "2")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Two bounded calls at most (ls-remote or the clone's fetch), 2 s each, plus start-up.
    assert!(elapsed < Duration::from_secs(60), "gave up only after {elapsed:?}");
}

/// The other process of `a_remote_that_never_answers_is_given_up_after_the_network_timeout`:
/// its own environment holds the short timeout. The server accepts connections and never answers.
#[test]
#[ignore = "run as a child process by a_remote_that_never_answers_is_given_up_after_the_network_timeout"]
fn silent_remote_child() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        // Bounded: a handful of connections, each kept open without a byte sent.
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    let (_tmp, tmp) = temp_dir("silent");
    let url = format!("http://127.0.0.1:{port}/server-core.git");
    let cache = Cache::new(tmp.join("cache"), "rpm-");
    let started = std::time::Instant::now();
    let err = cache.resolve(NAME, &url, "rpm-2.0", &quiet()).unwrap_err();
    assert_eq!(err.kind, Kind::Failed, "{err}");
    assert!(err.message.contains("did not finish in 2 s"), "{err}");
    assert!(err.to_string().contains("TRAINYARD_NETWORK_TIMEOUT"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(entries(&tmp.join("cache/mirrors")), Vec::<String>::new());

    let err = cache.look_up(NAME, &url, "rpm-2.0").unwrap_err();
    assert!(err.message.contains("did not finish in 2 s"), "{err}");
}
