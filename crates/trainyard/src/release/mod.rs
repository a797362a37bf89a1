//! The release process as commands: one module per step, as the wiki page had them.
//!
//! Every step works the same way: read the repository's [`State`], run its preflight
//! checks (collecting every problem before failing), compute a [`Plan`] (the exact git
//! commands and file writes), then run it through [`crate::exec::Effects`], which is where
//! `--dry-run` is honoured. Nothing is pushed except by [`push`].
//!
//! The steps also take a [`State`] that is not read from disk: the whole path
//! ([`pipeline`]) feeds each step the state the previous step's plan leaves, so that
//! `release 1.2 --dry-run` prints the exact plan of every local step.

pub mod backport;
pub mod cherry_pick;
pub mod crates;
pub mod fix;
pub mod freeze;
pub mod history;
pub mod journal;
pub mod manifest;
pub mod next;
pub mod notes;
pub mod notify;
pub mod pin;
pub mod pipeline;
pub mod prerelease;
pub mod promote;
pub mod publish;
pub mod push;
pub mod repo;
pub mod rollback;
pub mod start;
pub mod tag;

use std::cell::OnceCell;
use std::collections::BTreeMap;

use camino::Utf8PathBuf;

use crate::config::Config;
use crate::error::{io, Error, Result};
use crate::git::{validate_ref, Git};
use crate::version::Precision;
use crate::Context;

/// The file the release notes live in, at the workspace root.
pub const RELEASE_FILE: &str = "RELEASE.txt";

/// The remote the release steps compare with and push to.
pub const REMOTE: &str = "origin";

/// Versions are `crate::version`'s: the release steps render every one with the line's
/// precision ([`Repo::line`]).
pub use crate::version::Version;

/// The workspace's git repository, as the release steps use it.
pub struct Repo<'a> {
    pub ctx: &'a Context,
    pub git: Git,
    remote_refs: OnceCell<Option<BTreeMap<String, String>>>,
}

impl<'a> Repo<'a> {
    pub fn open(ctx: &'a Context) -> Result<Repo<'a>> {
        if !Git::is_repo(&ctx.ws.root) {
            return Err(Error::usage(format!("{} is not in a git repository", ctx.ws.root))
                .with_help("the release steps work on the workspace's git repository"));
        }
        Ok(Repo { ctx, git: Git::new(&ctx.ws.root), remote_refs: OnceCell::new() })
    }

    pub fn config(&self) -> &Config {
        &self.ctx.ws.config
    }

    /// The precision of the release line: `version-precision`, else what the newest release
    /// tag shows, else `X.Y`.
    pub fn precision(&self) -> Result<Precision> {
        Ok(self.known_precision()?.unwrap_or(Precision::MajorMinor))
    }

    fn known_precision(&self) -> Result<Option<Precision>> {
        if let Some(p) = self.config().precision() {
            return Ok(Some(p));
        }
        let tags = self.release_tags()?;
        Ok(Precision::of_tags(tags.iter().rev().map(|(v, _)| v)))
    }

    /// A version the user typed, as the line writes it: `release 0.18` on a line tagged
    /// `v0.17.0` is `0.18.0`. `X.Y.Z` on a line that says nothing yet is refused rather than
    /// silently shortened: the configuration says it once for every later step.
    pub fn line(&self, v: Version) -> Result<Version> {
        match self.known_precision()? {
            Some(p) => Ok(v.with_precision(p)),
            None if Precision::of(&v) == Some(Precision::Full) => Err(Error::usage(format!(
                "`{v}` is written X.Y.Z, but this repository has no release tag (`{}X.Y`) that says how its line is written",
                self.config().tag_prefix
            ))
            .with_help(format!(
                "say it once in Cargo.toml, under [workspace.metadata.trainyard]: version-precision = \"X.Y.Z\" \
                 (or give {} for an X.Y line)",
                v.major_minor()
            ))),
            None => Ok(v.with_precision(Precision::MajorMinor)),
        }
    }

    pub fn tag_name(&self, v: &Version) -> String {
        format!("{}{}", self.config().tag_prefix, v.to_pep440())
    }

    pub fn branch_name(&self, v: &Version) -> String {
        self.config().release_branch_for(&v.major_minor())
    }

    /// The commit a full ref name points to, if it exists.
    pub fn resolve(&self, full_ref: &str) -> Result<Option<String>> {
        self.git.try_read(&["rev-parse", "--verify", "--quiet", &format!("{full_ref}^{{commit}}")])
    }

    pub fn tag_exists(&self, tag: &str) -> Result<bool> {
        Ok(self.git.try_read(&["rev-parse", "--verify", "--quiet", &format!("refs/tags/{tag}")])?.is_some())
    }

    pub fn branch_exists(&self, branch: &str) -> Result<bool> {
        Ok(self.resolve(&format!("refs/heads/{branch}"))?.is_some())
    }

    /// Every final release tag (`<prefix>X.Y[.Z]`), sorted by version; betas, release
    /// candidates and other tags are left out.
    pub fn release_tags(&self) -> Result<Vec<(Version, String)>> {
        Ok(self.version_tags()?.into_iter().filter(|(v, _)| v.is_release()).collect())
    }

    /// Every version tag: finals, betas and release candidates, sorted by version.
    pub fn version_tags(&self) -> Result<Vec<(Version, String)>> {
        let prefix = &self.config().tag_prefix;
        let out = self.git.read(&["tag", "--list", &format!("{prefix}*")])?;
        let mut tags: Vec<(Version, String)> = out
            .lines()
            .filter_map(|t| match Version::parse_tag(t, prefix) {
                Some(Ok(v)) => Some((v, t.to_string())),
                _ => None,
            })
            .collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        Ok(tags)
    }

    /// The newest release tag older than `v`: what "since the last release" starts from.
    pub fn previous_tag(&self, v: &Version) -> Result<Option<(Version, String)>> {
        Ok(self.release_tags()?.into_iter().rfind(|(t, _)| t < v))
    }

    /// The refs on the remote (`git ls-remote`, which changes nothing locally), or `None`
    /// when there is no remote or it cannot be reached (a note is printed).
    pub fn remote_refs(&self) -> Result<Option<&BTreeMap<String, String>>> {
        if self.remote_refs.get().is_none() {
            let refs = if self.git.try_read(&["remote", "get-url", REMOTE])?.is_none() {
                None
            } else {
                match self.git.try_read(&["ls-remote", "--quiet", REMOTE])? {
                    Some(out) => Some(
                        out.lines()
                            .filter_map(|l| l.split_once('\t'))
                            .map(|(sha, name)| (name.to_string(), sha.to_string()))
                            .collect(),
                    ),
                    None => {
                        eprintln!("trainyard: note: could not reach `{REMOTE}`; not comparing with the remote");
                        None
                    }
                }
            };
            let _ = self.remote_refs.set(refs);
        }
        Ok(self.remote_refs.get().and_then(Option::as_ref))
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `descendant`; false when unknown here.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        if self.git.try_read(&["cat-file", "-e", &format!("{ancestor}^{{commit}}")])?.is_none() {
            return Ok(false);
        }
        Ok(self.git.try_read(&["merge-base", "--is-ancestor", ancestor, descendant])?.is_some())
    }

    /// `refs/heads/*` and `refs/tags/*` with what they point to (tags: the tag object).
    pub fn local_refs(&self) -> Result<BTreeMap<String, String>> {
        let out = self.git.read(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"])?;
        Ok(out.lines().filter_map(|l| l.split_once(' ')).map(|(n, s)| (n.to_string(), s.to_string())).collect())
    }
}

/// What a step sees: the branch, the commit, and the files the release steps edit.
#[derive(Debug, Clone)]
pub struct State {
    pub branch: Option<String>,
    /// The commit HEAD is at (for a planned state: the newest commit that exists, which the
    /// planned ones descend from).
    pub head: String,
    /// For a state a plan leaves rather than one read: the commit HEAD will be, which exists
    /// only at run time (`<the commit of the notes step>`); `None` when it is [`State::head`].
    pub planned_head: Option<String>,
    pub manifest: String,
    pub lock: Option<String>,
    /// Whether Cargo.lock is committed (libraries often ignore it: then it is edited, not committed).
    pub lock_tracked: bool,
    pub release_notes: Option<String>,
    /// Tracked files with changes (`git status --porcelain`), empty when clean.
    pub dirty: Vec<String>,
}

impl State {
    pub fn read(repo: &Repo) -> Result<State> {
        let ws = &repo.ctx.ws;
        let read_opt = |path: &Utf8PathBuf| match std::fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        };
        let manifest = std::fs::read_to_string(&ws.manifest).map_err(io(&ws.manifest))?;
        let head = repo.git.try_read(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])?.ok_or_else(|| {
            Error::usage("the repository has no commit yet").with_help("commit the workspace before releasing it")
        })?;
        let status = repo.git.read(&["status", "--porcelain", "--untracked-files=no"])?;
        Ok(State {
            branch: repo.git.current_branch()?,
            head,
            planned_head: None,
            manifest,
            lock: read_opt(&ws.lock_path())?,
            lock_tracked: repo.git.try_read(&["ls-files", "--error-unmatch", "--", "Cargo.lock"])?.is_some(),
            release_notes: read_opt(&ws.root.join(RELEASE_FILE))?,
            dirty: status.lines().map(|l| l.get(3..).unwrap_or(l).to_string()).collect(),
        })
    }

    /// HEAD as a plan names it: the commit, or the name of the commit a planned step makes.
    pub fn head_arg(&self) -> &str {
        self.planned_head.as_deref().unwrap_or(&self.head)
    }

    /// The workspace's Cargo version.
    pub fn cargo_version(&self, repo: &Repo) -> Result<semver::Version> {
        manifest::read_version(&repo.ctx.ws.manifest, &self.manifest)
    }

    /// The release the workspace's version names, written as the line writes it (`1.2.0-dev`
    /// and `0.12.0-beta.2` name `1.2` and `0.12.0`).
    pub fn version(&self, repo: &Repo) -> Result<Version> {
        Ok(self.exact_version(repo)?.release())
    }

    /// The workspace's version with its pre-release (`0.12.0-beta.2` is the beta `0.12.0b2`), as
    /// the line writes it; a dev version is what it leads to.
    pub fn exact_version(&self, repo: &Repo) -> Result<Version> {
        let v = Version::of_cargo(&self.cargo_version(repo)?);
        let v = if v.is_dev() { v.target() } else { v };
        Ok(v.with_precision(repo.precision()?))
    }

    /// The state with the workspace version set to `v` (manifest and lock edited as the plan will).
    pub fn with_version(&self, repo: &Repo, members: &[String], v: &Version) -> Result<State> {
        let old = self.cargo_version(repo)?;
        let new = v.to_semver();
        let mut next = self.clone();
        next.manifest = manifest::set_version(&repo.ctx.ws.manifest, &self.manifest, &new.to_string())?;
        next.lock = self.lock.as_ref().map(|lock| manifest::set_lock_versions(lock, members, &old, &new));
        Ok(next)
    }
}

/// A step's plan and the state it leaves (what the next step of the whole path sees).
pub struct Step {
    pub plan: Plan,
    pub after: State,
}

/// The crate's plan types: a release step's plan is a [`Plan`] of [`Action`]s, run by
/// [`crate::exec::Effects::execute`] like every other target's.
pub use crate::plan::{Action, Plan};

/// What the release steps add to a [`Plan`]: git commands in the workspace's repository.
pub trait GitPlan {
    /// `git -C <root> ARGS...`.
    fn git(&mut self, repo: &Repo, args: &[&str]);
    /// Commits exactly `paths` with `message`.
    fn commit(&mut self, repo: &Repo, paths: &[&str], message: &str);
    /// Writes the version change `from` -> `to` (Cargo.toml, and Cargo.lock when there is
    /// one); returns the paths to commit.
    fn write_version(&mut self, repo: &Repo, from: &State, to: &State) -> Vec<&'static str>;
}

/// The git command the release steps run in the workspace's repository.
pub fn git_command(repo: &Repo, args: &[&str]) -> crate::plan::Command {
    repo.git.command(args)
}

impl GitPlan for Plan {
    fn git(&mut self, repo: &Repo, args: &[&str]) {
        self.run(git_command(repo, args));
    }

    fn commit(&mut self, repo: &Repo, paths: &[&str], message: &str) {
        let mut add = vec!["add", "--"];
        add.extend(paths);
        self.git(repo, &add);
        self.git(repo, &["commit", "--quiet", "--no-verify", "-m", message]);
    }

    fn write_version(&mut self, repo: &Repo, from: &State, to: &State) -> Vec<&'static str> {
        let ws = &repo.ctx.ws;
        let mut paths = vec!["Cargo.toml"];
        if to.manifest != from.manifest {
            self.write(ws.manifest.clone(), to.manifest.clone());
        }
        if let (Some(new), Some(old)) = (&to.lock, &from.lock) {
            if new != old {
                self.write(ws.lock_path(), new.clone());
            }
            if to.lock_tracked {
                paths.push("Cargo.lock");
            }
        }
        paths
    }
}

/// A step's preconditions: every problem is collected, then reported together.
pub struct Preflight {
    what: String,
    problems: Vec<String>,
    help: Vec<String>,
}

impl Preflight {
    pub fn new(what: impl Into<String>) -> Preflight {
        Preflight { what: what.into(), problems: Vec::new(), help: Vec::new() }
    }

    pub fn problem(&mut self, message: impl Into<String>, help: Option<String>) {
        self.problems.push(message.into());
        if let Some(h) = help {
            if !self.help.contains(&h) {
                self.help.push(h);
            }
        }
    }

    pub fn clean(&mut self, state: &State) {
        if !state.dirty.is_empty() {
            self.problem(
                format!("the working tree has uncommitted changes: {}", state.dirty.join(", ")),
                Some("commit or stash them first (git stash)".into()),
            );
        }
    }

    pub fn on_branch(&mut self, state: &State, expected: &str) {
        if state.branch.as_deref() != Some(expected) {
            let here = state.branch.as_deref().map(|b| format!("on `{b}`")).unwrap_or("on a detached HEAD".into());
            self.problem(
                format!("this step runs on `{expected}`, and you are {here}"),
                Some(format!("git switch {expected}")),
            );
        }
    }

    /// On `v`'s release branch. When that branch does not exist yet (a project whose releases
    /// were tagged on the default branch), `git switch` to it would fail: the help creates it
    /// from the line's newest release tag, or starts the release when the line has none.
    pub fn on_release_branch(&mut self, repo: &Repo, state: &State, v: &Version) -> Result<()> {
        let branch = repo.branch_name(v);
        if state.branch.as_deref() == Some(branch.as_str()) || repo.branch_exists(&branch)? {
            self.on_branch(state, &branch);
            return Ok(());
        }
        let line = v.major_minor();
        let from = repo.release_tags()?.into_iter().rev().find(|(t, _)| t.major_minor() == line);
        let help = match from {
            Some((_, tag)) => format!("create it from the release {tag}: git switch -c {branch} {tag}"),
            None => format!("start the release, which cuts it: {} release start {line}", repo.ctx.program),
        };
        self.problem(format!("this step runs on `{branch}`, which does not exist yet"), Some(help));
        Ok(())
    }

    pub fn tag_absent(&mut self, repo: &Repo, tag: &str) -> Result<()> {
        validate_ref(tag)?;
        if repo.tag_exists(tag)? {
            self.problem(format!("tag `{tag}` already exists"), None);
        }
        Ok(())
    }

    pub fn branch_absent(&mut self, repo: &Repo, branch: &str) -> Result<()> {
        validate_ref(branch)?;
        if repo.branch_exists(branch)? {
            self.problem(format!("branch `{branch}` already exists"), None);
        } else if repo.remote_refs()?.is_some_and(|r| r.contains_key(&format!("refs/heads/{branch}"))) {
            self.problem(format!("branch `{branch}` already exists on `{REMOTE}`"), Some("git fetch".into()));
        }
        Ok(())
    }

    /// The remote's `branch` has commits the local one lacks.
    pub fn not_behind(&mut self, repo: &Repo, branch: &str, local: &str) -> Result<()> {
        let Some(refs) = repo.remote_refs()? else { return Ok(()) };
        if let Some(theirs) = refs.get(&format!("refs/heads/{branch}")) {
            if theirs != local && !repo.is_ancestor(theirs, local)? {
                self.problem(
                    format!("`{branch}` is behind `{REMOTE}/{branch}`"),
                    Some(format!("git pull --ff-only {REMOTE} {branch}")),
                );
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let n = self.problems.len();
        let mut message = format!("cannot {}: {n} problem{}", self.what, if n == 1 { "" } else { "s" });
        for p in &self.problems {
            message.push_str(&format!("\n  - {p}"));
        }
        let mut err = Error::usage(message);
        if !self.help.is_empty() {
            err = err.with_help(self.help.join("\n"));
        }
        Err(err)
    }
}

/// Commit messages of the release steps' own commits (changelog generation skips them).
pub mod messages {
    use super::Version;

    pub fn next_train(v: &Version) -> String {
        format!("starting the {} development", v.major_minor())
    }
    pub fn version(v: &Version) -> String {
        format!("release {v}: version {}", v.to_semver())
    }
    pub fn pins(v: &Version) -> String {
        format!("release {v}: pin stage and prod requirements")
    }
    pub fn notes(v: &Version) -> String {
        format!("release {v}: RELEASE.txt")
    }

    /// Whether a subject is one of the commits the release of `v` makes (what `--abort`
    /// and `--resume` may take back). Every step's commit message is named here.
    pub fn is_of_release(subject: &str, v: &Version) -> bool {
        subject == next_train(&v.next_minor())
            || subject
                .strip_prefix("release ")
                .and_then(|r| r.split_once(": "))
                .is_some_and(|(x, _)| x == v.to_string())
    }

    /// Whether a subject is one of the steps' bookkeeping commits.
    pub fn is_bookkeeping(subject: &str) -> bool {
        if let Some(rest) = subject.strip_prefix("starting the ") {
            return rest.strip_suffix(" development").is_some_and(|v| Version::parse_pep440(v).is_ok());
        }
        subject
            .strip_prefix("release ")
            .and_then(|rest| rest.split_once(": "))
            .is_some_and(|(v, _)| Version::parse_pep440(v).is_ok())
    }

    /// Bookkeeping that must not be cherry-picked elsewhere: versions and pins of a release line.
    pub fn is_branch_only(subject: &str) -> bool {
        is_bookkeeping(subject) && !subject.ends_with(": RELEASE.txt")
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`; `SOURCE_DATE_EPOCH` fixes it for reproducible runs.
pub fn today() -> Result<String> {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v.trim().parse::<i64>().map_err(|_| {
            Error::usage(format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds"))
                .with_help("unset it, or give seconds since 1970-01-01 UTC")
        })?,
        _ => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        }
    };
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

pub(crate) use crate::date::civil_from_days;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_subjects() {
        let v = Version::parse_release("1.2.1").unwrap();
        for s in [messages::next_train(&v), messages::version(&v), messages::pins(&v), messages::notes(&v)] {
            assert!(messages::is_bookkeeping(&s), "{s}");
        }
        assert!(!messages::is_branch_only(&messages::notes(&v)));
        assert!(messages::is_branch_only(&messages::version(&v)));
        assert!(!messages::is_bookkeeping("release notes: typo"));
        assert!(!messages::is_bookkeeping("Bug 1 - starting the engine development"));
    }

    #[test]
    fn commits_of_a_release() {
        let v = Version::parse_release("1.2").unwrap();
        for s in [messages::next_train(&v.next_minor()), messages::version(&v), messages::pins(&v), messages::notes(&v)]
        {
            assert!(messages::is_of_release(&s, &v), "{s}");
        }
        let other = Version::parse_release("1.2.1").unwrap();
        assert!(!messages::is_of_release(&messages::version(&other), &v));
        assert!(!messages::is_of_release(&messages::next_train(&v), &v), "1.2's own train is 1.1's release");
        assert!(!messages::is_of_release("precious work", &v));
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
