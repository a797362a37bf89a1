//! The whole path's journal: `target/trainyard/release/<version>.json`, one per release.
//!
//! It records the local refs before the run (so `--abort` can put every branch and tag
//! back exactly), each step before its first effect (the step [`Running`]: the refs, HEAD
//! and the files it will write), and each step once it is done (so `--resume`, or a second
//! run, never repeats one). Written atomically before and after every step.
//!
//! A kill can land anywhere, also between a git command and the journal's next save. What a
//! ref gained since a known point is therefore judged by its commits: the release's own
//! (their subjects are [`super::messages::is_of_release`]) are undone, anyone else's are
//! left alone, and a ref with the release's commits under someone else's stops the undo
//! before it changes anything.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use super::pipeline::PathStep;
use super::{Repo, Version};
use crate::error::{io, Error, Result};
use crate::exec::write_atomic;
use crate::plan::Action;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    InProgress,
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub version: String,
    pub channel: String,
    pub status: Status,
    /// The branch checked out before the run, or the commit of a detached HEAD.
    pub head_before: String,
    pub head_was_branch: bool,
    /// `refs/heads/*` and `refs/tags/*` before the run.
    pub refs_before: BTreeMap<String, String>,
    /// The refs the run created, moved or deleted, as the last step done left them
    /// (`None`: deleted). `--abort` touches these (and the refs a release manages), and only
    /// while they still hold these values.
    #[serde(default)]
    pub refs_after: BTreeMap<String, Option<String>>,
    /// Steps done, in order (written as their names: `start`, `build_rpms`, ..., as the
    /// journals of earlier versions have them, which therefore read unchanged).
    pub done: Vec<PathStep>,
    /// The collection `build_rpms` produced.
    pub collection: Option<Utf8PathBuf>,
    /// Why the notification failed, when it did (retried by `--resume`).
    pub notify_error: Option<String>,
    /// The step begun and not finished: set before its first effect, cleared when it is done.
    #[serde(default)]
    pub running: Option<Running>,
    /// The branch (or commit) of the last `git checkout`/`git switch` the release began (a
    /// step's or an undo's), recorded before it starts. A kill inside it leaves files git had
    /// removed and not yet written again, or written in part: see [`CheckoutLeftovers`].
    #[serde(default)]
    pub checkout: Option<String>,
}

/// A step as it began: what `--resume` and `--abort` put back when it was interrupted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub step: PathStep,
    /// `refs/heads/*` and `refs/tags/*` when the step began.
    pub refs: BTreeMap<String, String>,
    /// The branch checked out when the step began, or the commit of a detached HEAD.
    pub head: String,
    pub head_was_branch: bool,
    /// The files the step writes (relative to the workspace root) with the SHA-256 of each
    /// content it writes: a file found with exactly that content is the step's, not the user's.
    pub writes: BTreeMap<String, Vec<String>>,
}

/// The SHA-256 of `bytes`, in hex.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One ref to put back.
struct Undo {
    name: String,
    current: String,
    /// `None`: the ref did not exist; it is deleted.
    target: Option<String>,
    /// The subjects of the release's commits the ref no longer has afterwards.
    dropped: Vec<String>,
}

/// What an undo changes, computed before anything is changed.
struct UndoPlan {
    refs: Vec<Undo>,
    /// Refs that changed, but not by the release: left as they are.
    left_alone: Vec<String>,
    /// Untracked files the interrupted step wrote, removed.
    remove: Vec<String>,
    /// Tracked files the interrupted step wrote and did not commit: checked out again.
    restore: Vec<String>,
    /// Lock files of git (`index.lock`, `HEAD.lock`, a ref's `.lock`) left by a git command
    /// the kill ended: removed.
    stale_locks: Vec<Utf8PathBuf>,
}

pub fn dir(ws: &Workspace) -> Utf8PathBuf {
    ws.state_dir().join("release")
}

fn path(ws: &Workspace, version: &str) -> Utf8PathBuf {
    dir(ws).join(format!("{version}.json"))
}

impl Journal {
    pub fn begin(repo: &Repo, v: &Version, channel: &str) -> Result<Journal> {
        let branch = repo.git.current_branch()?;
        let head_was_branch = branch.is_some();
        let head_before = match branch {
            Some(b) => b,
            None => repo.git.head()?,
        };
        Ok(Journal {
            version: v.to_string(),
            channel: channel.to_string(),
            status: Status::InProgress,
            head_before,
            head_was_branch,
            refs_before: repo.local_refs()?,
            refs_after: BTreeMap::new(),
            done: Vec::new(),
            collection: None,
            notify_error: None,
            running: None,
            checkout: None,
        })
    }

    pub fn load(ws: &Workspace, version: &str) -> Result<Option<Journal>> {
        let path = path(ws, version);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::failed(format!("{path}: unreadable journal: {e}"))
                    .with_help(format!("look at it, then remove it to start over: rm {path}"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The release in progress, if any (there is at most one).
    pub fn in_progress(ws: &Workspace) -> Result<Option<Journal>> {
        let dir = dir(ws);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.strip_suffix(".json") {
                if let Some(j) = Journal::load(ws, version)? {
                    if j.status == Status::InProgress {
                        return Ok(Some(j));
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn save(&self, repo: &Repo) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("journal serialises");
        // No secret reaches the disk, whatever a step's error message quoted.
        self.store(repo, Some(crate::redact::text(&text).as_bytes()))
    }

    pub fn remove(&self, repo: &Repo) -> Result<()> {
        self.store(repo, None)
    }

    /// The journal's one way to the disk: its file written whole (atomically), or removed
    /// (`None`). The journal is the executor's delegate, not an action of a plan: it records
    /// the progress of the release between the actions the executor applies, so a dry-run,
    /// which applies none, records nothing.
    fn store(&self, repo: &Repo, contents: Option<&[u8]>) -> Result<()> {
        if repo.ctx.effects.dry_run {
            return Ok(());
        }
        let path = path(&repo.ctx.ws, &self.version);
        match contents {
            Some(bytes) => write_atomic(&path, bytes),
            None => std::fs::remove_file(&path).map_err(io(&path)),
        }
    }

    pub fn is_done(&self, step: PathStep) -> bool {
        self.done.contains(&step)
    }

    /// Records what the steps so far did to the local refs; called after each step.
    pub fn record_refs(&mut self, repo: &Repo) -> Result<()> {
        let now = repo.local_refs()?;
        for name in self.refs_before.keys().chain(now.keys()) {
            if self.refs_before.get(name) != now.get(name) {
                self.refs_after.insert(name.clone(), now.get(name).cloned());
            }
        }
        Ok(())
    }

    /// Records, before its first effect, that `step` begins and which files it writes.
    pub fn enter(&mut self, repo: &Repo, step: PathStep, writes: BTreeMap<String, Vec<String>>) -> Result<()> {
        let branch = repo.git.current_branch()?;
        self.running = Some(Running {
            step,
            refs: repo.local_refs()?,
            head_was_branch: branch.is_some(),
            head: match branch {
                Some(b) => b,
                None => repo.git.head()?,
            },
            writes,
        });
        self.save(repo)
    }

    /// Records, before it starts, that the running step checks out `target` (a branch).
    pub fn checking_out(&mut self, repo: &Repo, target: &str) -> Result<()> {
        if self.running.is_none() {
            return Ok(());
        }
        self.checkout = Some(target.to_string());
        self.save(repo)
    }

    /// Records that the running step is done.
    pub fn finish(&mut self, repo: &Repo, step: PathStep) -> Result<()> {
        self.running = None;
        self.checkout = None;
        self.done.push(step);
        self.record_refs(repo)?;
        self.save(repo)
    }

    /// Undoes what an interrupted step did (its refs, its files), so that it can run again
    /// from the start; returns what was done, one line each. Nothing when no step was running.
    pub fn undo_running(&mut self, repo: &Repo) -> Result<Vec<String>> {
        let Some(running) = self.running.clone() else { return Ok(Vec::new()) };
        let known = BTreeMap::new();
        let plan = self.plan_undo(repo, &running.refs, &known, Some(&running))?;
        let said = self.apply_undo(repo, &plan, &running.head, running.head_was_branch)?;
        self.running = None;
        self.checkout = None;
        self.save(repo)?;
        Ok(said)
    }

    /// Puts the branches and tags the release made or moved back as they were, removes what
    /// an interrupted step wrote, then checks out what was checked out; returns what was
    /// done, one line each. Refs the user made or moved are left alone (and named); a ref the
    /// release moved and the user moved again, or changes in the work tree that are not the
    /// release's, stop the abort before it changes anything.
    pub fn restore_refs(&self, repo: &Repo) -> Result<Vec<String>> {
        let plan = self.plan_undo(repo, &self.refs_before, &self.refs_after, self.running.as_ref())?;
        self.apply_undo(repo, &plan, &self.head_before, self.head_was_branch)
    }

    /// The refs a release manages: the default branch, its release branch and its tag.
    fn managed(&self, repo: &Repo) -> Vec<String> {
        let config = &repo.ctx.ws.config;
        match Version::parse_release(&self.version) {
            Ok(v) => vec![
                format!("refs/heads/{}", config.default_branch),
                format!("refs/heads/{}", config.release_branch_for(&v.major_minor())),
                format!("refs/tags/{}", config.tag_for(&v.to_string())),
            ],
            Err(_) => Vec::new(),
        }
    }

    /// Which refs go back from what they are to `base`, judged by their commits.
    fn plan_undo(
        &self,
        repo: &Repo,
        base: &BTreeMap<String, String>,
        known: &BTreeMap<String, Option<String>>,
        running: Option<&Running>,
    ) -> Result<UndoPlan> {
        let v = Version::parse_release(&self.version)?;
        let now = repo.local_refs()?;
        let mut candidates: Vec<String> = known.keys().cloned().chain(self.managed(repo)).collect();
        candidates.sort();
        candidates.dedup();
        let base_values: Vec<&str> = base.values().map(String::as_str).collect();
        let mut plan = UndoPlan {
            refs: Vec::new(),
            left_alone: Vec::new(),
            remove: Vec::new(),
            restore: Vec::new(),
            stale_locks: Vec::new(),
        };
        let mut problems = Vec::new();
        for name in candidates {
            let (target, current) = (base.get(&name), now.get(&name));
            let Some(current) = current.filter(|c| Some(*c) != target) else {
                if target.is_some() && current.is_none() {
                    plan.left_alone.push(format!("{} (deleted since; a release never deletes refs)", short(&name)));
                }
                continue;
            };
            if let Some(t) = target {
                if !repo.is_ancestor(t, current)? {
                    if known.contains_key(&name) {
                        problems.push(format!("{} was moved elsewhere since the release moved it", short(&name)));
                    } else {
                        plan.left_alone.push(format!("{} (moved by someone else)", short(&name)));
                    }
                    continue;
                }
            }
            // The commits the ref has that no ref had at the base point.
            let mut args = vec!["log", "--format=%s", current, "--not"];
            args.extend(base_values.iter().copied());
            args.push("--");
            let subjects: Vec<String> = repo.git.read(&args)?.lines().map(str::to_string).collect();
            let ours = subjects.iter().filter(|s| super::messages::is_of_release(s, &v)).count();
            // A ref the release created (its branch, its tag) may hold no new commit; a ref
            // that existed and gained none of its own was moved by someone else.
            if ours == subjects.len() && (!subjects.is_empty() || target.is_none() || known.contains_key(&name)) {
                plan.refs.push(Undo { name, current: current.clone(), target: target.cloned(), dropped: subjects });
            } else if ours == 0 && !known.contains_key(&name) {
                plan.left_alone.push(format!("{} (its new commits are not the release's)", short(&name)));
            } else {
                let theirs: Vec<&String> = subjects.iter().filter(|s| !super::messages::is_of_release(s, &v)).collect();
                problems.push(format!(
                    "{} has commits that are not the release's on top of the release's: {}",
                    short(&name),
                    theirs.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        // The work tree: only what the interrupted step wrote may differ.
        let status = repo.git.read(&["status", "--porcelain", "--untracked-files=all"])?;
        let root = &repo.ctx.ws.root;
        let checkout = match &self.checkout {
            Some(target) => CheckoutLeftovers::of(repo, target)?,
            None => None,
        };
        for line in status.lines() {
            let (code, path) = (line.get(..2).unwrap_or(""), line.get(3..).unwrap_or(line));
            let planned = running.and_then(|r| r.writes.get(path));
            let content = std::fs::read(root.join(path)).ok();
            let is_ours = match (planned, &content) {
                (Some(hashes), Some(bytes)) => hashes.contains(&digest(bytes)),
                _ => false,
            } || (code == "??" && running.is_some_and(|r| is_write_leftover(path, r)))
                || (code != "??" && running.is_some_and(|r| is_content_of_a_branch(repo, path, r, &now)))
                || checkout.as_ref().is_some_and(|c| c.left(path, content.as_deref()));
            match (code == "??", is_ours) {
                (_, true) if code == "??" => plan.remove.push(path.to_string()),
                (false, true) => plan.restore.push(path.to_string()),
                (true, false) => {}
                (false, false) => problems.push(format!("{path} has uncommitted changes that are not the release's")),
                _ => {}
            }
        }
        // A git command of the release killed while it held the index's lock (checkout, add,
        // commit do) leaves the lock file: git refuses to run until it is removed.
        if running.is_some() || self.checkout.is_some() {
            let (stale, held) = git_locks(repo)?;
            plan.stale_locks = stale;
            for path in held {
                problems
                    .push(format!("a git process is running in this repository (it holds {path}); wait for it to end"));
            }
        }
        if !problems.is_empty() {
            let mut message = "nothing was changed:".to_string();
            for p in &problems {
                message.push_str(&format!("\n  - {p}"));
            }
            return Err(Error::usage(message).with_help(
                "commit or stash your changes, take your commits off the release's refs (git rebase), \
                 or undo the release by hand; then run this again",
            ));
        }
        Ok(plan)
    }

    fn apply_undo(&self, repo: &Repo, plan: &UndoPlan, head: &str, head_was_branch: bool) -> Result<Vec<String>> {
        let effects = &repo.ctx.effects;
        let root = &repo.ctx.ws.root;
        let mut said = Vec::new();
        for lock in &plan.stale_locks {
            effects.apply(&Action::RemoveFile(lock.clone()))?;
            said.push(format!("removed {lock}, left by the git command the kill interrupted"));
        }
        for path in &plan.remove {
            effects.apply(&Action::RemoveFile(root.join(path)))?;
            said.push(format!("removed {path}, written by the interrupted step"));
        }
        repo.git.run(effects, &["checkout", "--quiet", "--detach"])?;
        for u in &plan.refs {
            // Compare-and-swap: each update applies only if the ref still holds `current`.
            match &u.target {
                Some(t) => repo.git.run(effects, &["update-ref", &u.name, t, &u.current])?,
                None => repo.git.run(effects, &["update-ref", "-d", &u.name, &u.current])?,
            }
            let what = match &u.target {
                Some(t) => format!("moved {} back from {} to {}", short(&u.name), abbrev(&u.current), abbrev(t)),
                None => format!("deleted {} (was {})", short(&u.name), abbrev(&u.current)),
            };
            let dropped = match u.dropped.len() {
                0 => String::new(),
                n => format!(
                    ", dropping {n} release commit{}: {}",
                    if n == 1 { "" } else { "s" },
                    u.dropped.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            said.push(format!("{what}{dropped}"));
        }
        // The checkout below, recorded first: killed inside it, the next `--resume` or
        // `--abort` knows the files it leaves for its own.
        let mut marked = self.clone();
        marked.checkout = Some(head.to_string());
        marked.save(repo)?;
        let force = !plan.restore.is_empty();
        let mut checkout = vec!["checkout", "--quiet"];
        if force {
            // Only files the interrupted step wrote, with exactly its content, differ.
            checkout.push("--force");
            said.push(format!("put back {}, written by the interrupted step", plan.restore.join(", ")));
        }
        if !head_was_branch {
            checkout.push("--detach");
        }
        checkout.push(head);
        repo.git.run(effects, &checkout)?;
        for l in &plan.left_alone {
            said.push(format!("left alone: {l}"));
        }
        Ok(said)
    }
}

/// A temporary file of [`crate::exec::write_atomic`] (`dir/.NAME.tmp.PID`) for a file the
/// step writes: what a kill between its creation and its rename leaves.
fn is_write_leftover(path: &str, running: &Running) -> bool {
    let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
    let Some((target, pid)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp.")) else { return false };
    let target = if dir.is_empty() { target.to_string() } else { format!("{dir}/{target}") };
    !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && running.writes.contains_key(&target)
}

/// `refs/heads/main` -> `branch main`; `refs/tags/rpm-1.2` -> `tag rpm-1.2`.
fn short(name: &str) -> String {
    if let Some(b) = name.strip_prefix("refs/heads/") {
        format!("branch {b}")
    } else if let Some(t) = name.strip_prefix("refs/tags/") {
        format!("tag {t}")
    } else {
        name.to_string()
    }
}

fn abbrev(id: &str) -> &str {
    &id[..id.len().min(10)]
}

/// True when the work tree's `path` holds what some local branch had for it when the step
/// began, or has now: a kill inside the step's `git checkout` leaves files of the other branch
/// behind, which are the release's own (restoring them is what the undo does anyway).
fn is_content_of_a_branch(repo: &Repo, path: &str, running: &Running, now: &BTreeMap<String, String>) -> bool {
    let Ok(Some(blob)) = repo.git.try_read(&["hash-object", "--", path]) else { return false };
    let blob = blob.trim().to_string();
    let mut commits: Vec<&String> = running
        .refs
        .iter()
        .chain(now.iter())
        .filter(|(name, _)| name.starts_with("refs/heads/"))
        .map(|(_, commit)| commit)
        .collect();
    commits.sort();
    commits.dedup();
    commits.into_iter().any(|commit| {
        let spec = format!("{commit}:{path}");
        matches!(repo.git.try_read(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]), Ok(Some(b)) if b.trim() == blob)
    })
}

/// What a `git checkout` from HEAD to another commit, killed inside, leaves in the work tree.
/// git updates the files one by one (each removed, then written whole) and moves HEAD last:
/// a file it changes may hold HEAD's content, the other commit's, nothing yet (missing), or a
/// beginning of the other commit's. Any of these, for a file the two commits hold differently,
/// is the checkout's; anything else is not.
struct CheckoutLeftovers {
    /// Each path the two commits hold differently, with its content in each (`None`: absent).
    changed: BTreeMap<String, [Option<Vec<u8>>; 2]>,
}

impl CheckoutLeftovers {
    /// The checkout from HEAD to `target`; `None` when HEAD is there already (it finished).
    fn of(repo: &Repo, target: &str) -> Result<Option<CheckoutLeftovers>> {
        let head = repo.git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?;
        let spec = format!("{target}^{{commit}}");
        let there = repo.git.try_read(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        let (Some(head), Some(there)) = (head, there) else { return Ok(None) };
        if head == there {
            return Ok(None);
        }
        let names = repo.git.read(&["diff-tree", "-r", "--no-renames", "--name-only", "-z", &head, &there])?;
        let mut changed = BTreeMap::new();
        for path in names.split('\0').filter(|p| !p.is_empty()) {
            let blob = |commit: &str| -> Result<Option<Vec<u8>>> {
                let spec = format!("{commit}:{path}");
                let (ok, text, _) = repo.git.output(&["cat-file", "blob", &spec])?;
                Ok(ok.then(|| text.into_bytes()))
            };
            changed.insert(path.to_string(), [blob(&head)?, blob(&there)?]);
        }
        Ok(Some(CheckoutLeftovers { changed }))
    }

    /// Whether `path`, holding `content` (`None`: missing), is what the checkout left.
    fn left(&self, path: &str, content: Option<&[u8]>) -> bool {
        let Some(sides) = self.changed.get(path) else { return false };
        match content {
            None => true,
            Some(bytes) => sides.iter().flatten().any(|blob| blob.starts_with(bytes)),
        }
    }
}

/// git's lock files in the repository, as (left by a git process that died, held by a live
/// one). git keeps `index.lock` open while it holds it, and holds a ref's lock (`HEAD.lock`,
/// `refs/heads/main.lock`, `packed-refs.lock`) for the instant of an update: a lock that no
/// process has open and that is still there a second later (looked at three times) was
/// left by a git command the kill ended.
fn git_locks(repo: &Repo) -> Result<(Vec<Utf8PathBuf>, Vec<Utf8PathBuf>)> {
    let git_dir = Utf8PathBuf::from(repo.git.read(&["rev-parse", "--absolute-git-dir"])?.trim());
    let mut found: Vec<Utf8PathBuf> = ["index.lock", "HEAD.lock", "packed-refs.lock"]
        .iter()
        .map(|name| git_dir.join(name))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    let mut dirs = vec![git_dir.join("refs")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(path) = Utf8PathBuf::from_path_buf(entry.path()) else { continue };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            } else if path.as_str().ends_with(".lock") {
                found.push(path);
            }
        }
    }
    let mut held = Vec::new();
    for attempt in 0..3 {
        found.retain(|p| std::fs::symlink_metadata(p).is_ok());
        held = found.iter().filter(|p| is_open_anywhere(p)).cloned().collect();
        if found.is_empty() || attempt == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let stale = found.into_iter().filter(|p| !held.contains(p)).collect();
    Ok((stale, held))
}

/// Whether a process this user may look at has `path` open (read from `/proc/*/fd`).
fn is_open_anywhere(path: &camino::Utf8Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else { return true };
    procs.flatten().filter(|p| p.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))).any(|p| {
        std::fs::read_dir(p.path().join("fd"))
            .map(|fds| fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == path.as_std_path())))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_interrupted_checkout_leaves_is_its_own_and_nothing_else() {
        let mut changed = BTreeMap::new();
        changed.insert(
            "Cargo.lock".to_string(),
            [Some(b"version = 1\nold\n".to_vec()), Some(b"version = 1\nnew\n".to_vec())],
        );
        changed.insert("RELEASE.txt".to_string(), [None, Some(b"1.2\n".to_vec())]);
        let c = CheckoutLeftovers { changed };
        // Removed and not written yet; written in part; written whole; not touched yet.
        for content in [None, Some(&b""[..]), Some(&b"version = 1\nne"[..]), Some(&b"version = 1\nnew\n"[..])] {
            assert!(c.left("Cargo.lock", content), "{content:?}");
        }
        assert!(c.left("Cargo.lock", Some(b"version = 1\nold\n")));
        assert!(c.left("RELEASE.txt", Some(b"1.")));
        // The user's edit, a file the two commits hold alike, a longer content: not the checkout's.
        assert!(!c.left("Cargo.lock", Some(b"version = 1\nmine\n")));
        assert!(!c.left("Cargo.lock", Some(b"version = 1\nnew\nmore\n")));
        assert!(!c.left("Cargo.toml", None));
    }
}
