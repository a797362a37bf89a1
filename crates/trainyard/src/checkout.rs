//! Checkouts of internal projects: one bare mirror per project, one work tree per commit.
//!
//! Layout under the cache root (`<target>/trainyard/checkouts`, or `cache-dir`):
//!
//! ```text
//! mirrors/<name>.git         bare mirror of the remote's refs/heads/* and refs/tags/*
//! trees/<name>/<commit>/     the files of one commit: made once, then only read
//! locks/<name>.lock          held while a run changes that project's mirror or trees
//! ```
//!
//! When the network is touched:
//! - a tag or a full commit id already in the mirror resolves offline; only a miss fetches;
//! - a branch is fetched on every resolve, because a branch moves. If that fetch fails the
//!   resolve fails: building silently against a stale branch is worse than stopping
//!   (the help says to use a tag or a commit id to build offline);
//! - when a project's URL changes, it is mirrored afresh from the new URL (the old mirror
//!   stays until the new one is complete): refs of another remote prove nothing.
//!
//! [`Cache::look_up`] answers without fetching or creating anything: a mirror that already has
//! the answer gives it; otherwise the remote is asked with `git ls-remote` (read-only).
//! Plans are made from checkouts (a dry-run too: see [`Effects::preparing`]), so the targets
//! resolve with [`Cache::resolve`].
//!
//! Everything appears by rename: a mirror is initialised and fetched under a temporary
//! name, a work tree is checked out under one. Leftovers of an interrupted run are removed
//! by the next run, under the lock.
//!
//! The plan executor delegates the cache to this module (ARCHITECTURE.md, "The one place
//! effects happen"): whether a resolve fetches depends on what the mirror already holds, and a
//! work tree's temporary directory, lock and rename belong together, so the module makes its
//! own changes (git through [`Effects`], directories by `std::fs`).

use std::fmt;
use std::fs::{File, OpenOptions};

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io, io_error, Error, Result};
use crate::exec::Effects;
use crate::git::{validate_ref, Git};
use crate::version::Version;

/// Checks a request before git sees any of it (no option disguised as a name, ref or URL, no
/// command-running transport): the URL as git gets it, and what is wanted.
fn check_request(name: &str, url: &str, reference: &str) -> Result<(String, Wanted)> {
    validate_name(name)?;
    crate::redact::register_url_credentials(url);
    let url_for_git = check_url(name, url)?;
    validate_ref(reference).map_err(|e| e.context(format!("{name}: requested ref")))?;
    Ok((url_for_git, Wanted::parse(reference)))
}

/// How many release tags a "no such ref" error lists.
const NEAREST: usize = 5;

/// git must never run a command named by a URL (`ext::sh -c ...`), whatever the user's config says.
const NO_EXT: [&str; 2] = ["-c", "protocol.ext.allow=never"];

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// What a requested ref turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Tag,
    Branch,
    Commit,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefKind::Tag => "tag",
            RefKind::Branch => "branch",
            RefKind::Commit => "commit",
        })
    }
}

/// Where the answer of a resolve came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The mirror already had it; the network was not touched.
    Cache,
    /// The remote was fetched into the mirror during this resolve.
    Fetched,
    /// Dry-run: the remote was asked with `git ls-remote` (or, for a commit id, the id was
    /// taken as given); nothing was stored, and [`Cache::worktree`] would fetch it first.
    Remote,
}

/// A ref of an internal project, resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The project's name (`server-core`).
    pub name: String,
    /// The URL as given.
    pub url: String,
    /// The ref as requested (`rpm-2.0`, `main`, a commit id).
    pub reference: String,
    pub kind: RefKind,
    /// The full commit id.
    pub commit: String,
    pub source: Source,
}

/// The checkout cache: mirrors and work trees of internal projects.
#[derive(Debug, Clone)]
pub struct Cache {
    root: Utf8PathBuf,
    tag_prefix: String,
}

impl Cache {
    /// A cache rooted at `root` (created on first use). `tag_prefix` (`rpm-`) picks the
    /// release tags listed when a ref does not exist.
    pub fn new(root: impl Into<Utf8PathBuf>, tag_prefix: &str) -> Cache {
        let root = root.into();
        // Git runs in other directories (`-C`), so every path handed to it must be absolute.
        let root = std::path::absolute(&root).ok().and_then(|p| Utf8PathBuf::from_path_buf(p).ok()).unwrap_or(root);
        Cache { root, tag_prefix: tag_prefix.to_string() }
    }

    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    /// The bare mirror of project `name`.
    pub fn mirror_path(&self, name: &str) -> Utf8PathBuf {
        self.root.join("mirrors").join(format!("{name}.git"))
    }

    /// Where the work tree of `commit` of project `name` is (or would be).
    pub fn tree_path(&self, name: &str, commit: &str) -> Utf8PathBuf {
        self.root.join("trees").join(name).join(commit)
    }

    /// The lock file of project `name`.
    pub fn lock_path(&self, name: &str) -> Utf8PathBuf {
        self.root.join("locks").join(format!("{name}.lock"))
    }

    /// Resolves `reference` (a tag, a branch or a full commit id) of project `name` at `url`
    /// to a commit, fetching into the project's mirror only when needed (see the module
    /// documentation for when that is). Tags win over branches of the same name, as in git.
    pub fn resolve(&self, name: &str, url: &str, reference: &str, effects: &Effects) -> Result<Resolved> {
        let (url_for_git, wanted) = check_request(name, url, reference)?;
        let project = Project { name, url, url_for_git: &url_for_git };
        let _lock = self.lock(name)?;
        let mirror_path = self.mirror_path(name);
        let mirror = Mirror::at(&mirror_path);
        let mut fetched = false;
        if !mirror.is_usable()? {
            self.create_mirror(&project, effects)?;
            fetched = true;
        } else if let Some(old) = mirror.url()?.filter(|old| *old != url_for_git) {
            // Refs fetched from another URL prove nothing about this one: mirror it afresh.
            effects.say(format!("the URL of {name} changed from {}; mirroring it afresh", redact(&old)));
            self.create_mirror(&project, effects)?;
            fetched = true;
        }
        loop {
            match mirror.lookup(&wanted)? {
                Some((RefKind::Branch, _)) if !fetched => {}
                Some((kind, commit)) => {
                    let source = if fetched { Source::Fetched } else { Source::Cache };
                    return Ok(project.resolved(reference, kind, commit, source));
                }
                None if !fetched => {}
                None => {
                    if let Wanted::Commit(id) = &wanted {
                        // Not on a branch or a tag: a server may still hand out a reachable commit by id.
                        if mirror.fetch_commit(id)? {
                            if let Some((kind, commit)) = mirror.lookup(&wanted)? {
                                return Ok(project.resolved(reference, kind, commit, Source::Fetched));
                            }
                        }
                    }
                    let tags = mirror.refs("refs/tags/")?;
                    let abbreviated = match &wanted {
                        Wanted::Name(n) if looks_abbreviated(n) => mirror.commit_of(n)?,
                        _ => None,
                    };
                    return Err(self.not_found(&project, &wanted, &tags, abbreviated.as_deref()));
                }
            }
            // A branch (it moves) or a miss (it may be new): fetch once, then look again.
            mirror.fetch(&project, effects)?;
            fetched = true;
        }
    }

    /// The work tree of `resolved.commit`: checked out from the mirror once (under a
    /// temporary name, then renamed), reused afterwards. Builds only read it.
    pub fn worktree(&self, resolved: &Resolved, effects: &Effects) -> Result<Utf8PathBuf> {
        let name = resolved.name.as_str();
        validate_name(name)?;
        let commit = resolved.commit.as_str();
        if !is_full_commit_id(commit) {
            return Err(Error::usage(format!("{name}: `{}` is not a full commit id", commit.escape_debug())));
        }
        let path = self.tree_path(name, commit);
        if path.is_dir() {
            return Ok(path);
        }
        let _lock = self.lock(name)?;
        if path.is_dir() {
            return Ok(path);
        }
        let dir = self.root.join("trees").join(name);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        remove_leftovers(&dir, |entry| entry.starts_with('.') && entry.contains(".tmp-"))?;
        let tmp = dir.join(format!(".{commit}.tmp-{}", std::process::id()));
        let index = dir.join(format!(".{commit}.index.tmp-{}", std::process::id()));
        effects.say(format!("checking out {name} {} ({commit}) into {path}", resolved.reference));
        let result = (|| {
            std::fs::create_dir(&tmp).map_err(io(&tmp))?;
            let git_dir = format!("--git-dir={}", self.mirror_path(name));
            let (ok, _, stderr) = Git::new(&tmp).output_env(
                &[("GIT_INDEX_FILE", index.as_str())],
                &[&git_dir, "--work-tree=.", "read-tree", "-u", "--reset", "--end-of-options", commit],
            )?;
            if !ok {
                return Err(Error::failed(format!(
                    "cannot check out {name} {commit} from its mirror {}: {}",
                    self.mirror_path(name),
                    summarize(&stderr, &resolved.url)
                ))
                .with_help("resolve the ref first (without --dry-run) so the mirror has the commit"));
            }
            let _ = std::fs::remove_file(&index);
            match std::fs::rename(&tmp, &path) {
                Ok(()) => Ok(()),
                Err(_) if path.is_dir() => Ok(()),
                Err(err) => Err(io_error(&path, err)),
            }
        })();
        let _ = std::fs::remove_file(&index);
        if tmp.exists() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result.map(|()| path)
    }

    /// Dry-run: answers from the mirror when it can, else from `git ls-remote`; changes nothing.
    /// What `reference` of project `name` at `url` resolves to, changing nothing: from the
    /// mirror where it has the answer (a tag or a commit fetched from this URL), else from
    /// `git ls-remote` ([`Source::Remote`]: a resolve would fetch it). A full commit id the
    /// remote does not advertise is taken as given: only a fetch can tell.
    pub fn look_up(&self, name: &str, url: &str, reference: &str) -> Result<Resolved> {
        let (url_for_git, wanted) = check_request(name, url, reference)?;
        let project = Project { name, url, url_for_git: &url_for_git };
        let reference = wanted.as_str();
        let mirror_path = self.mirror_path(name);
        let mirror = Mirror::at(&mirror_path);
        let current = mirror.is_usable()? && mirror.url()?.as_deref() == Some(project.url_for_git);
        if current {
            if let Some((kind, commit)) = mirror.lookup(&wanted)? {
                if kind != RefKind::Branch {
                    return Ok(project.resolved(reference, kind, commit, Source::Cache));
                }
            }
        }
        let listing = ls_remote(&project)?;
        let remote = RemoteRefs::parse(&listing);
        if let Some((kind, commit)) = remote.lookup(&wanted) {
            return Ok(project.resolved(reference, kind, commit, Source::Remote));
        }
        if let Wanted::Commit(id) = &wanted {
            // Only a fetch can tell whether the remote has that commit; the plan takes it as given.
            return Ok(project.resolved(reference, RefKind::Commit, id.clone(), Source::Remote));
        }
        Err(self.not_found(&project, &wanted, &remote.tags, None))
    }

    fn create_mirror(&self, project: &Project<'_>, effects: &Effects) -> Result<()> {
        let name = project.name;
        let dir = self.root.join("mirrors");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let leftover_prefix = format!(".{name}.git.tmp-");
        remove_leftovers(&dir, |entry| entry.starts_with(&leftover_prefix))?;
        let path = self.mirror_path(name);
        let tmp = dir.join(format!("{leftover_prefix}{}", std::process::id()));
        let result = (|| {
            std::fs::create_dir(&tmp).map_err(io(&tmp))?;
            let mirror = Mirror::at(&tmp);
            mirror.run(&["init", "--quiet", "--bare"])?;
            mirror.set_url(project.url_for_git)?;
            for refspec in REFSPECS {
                mirror.run(&["config", "--add", "remote.origin.fetch", refspec])?;
            }
            // An automatic gc must finish while we hold the lock, not in the background.
            mirror.run(&["config", "gc.autoDetach", "false"])?;
            mirror.fetch(project, effects)?;
            // The old mirror (damaged, or of another URL) stays until the new one is complete.
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            }
            std::fs::rename(&tmp, &path).map_err(io(&path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    fn not_found(&self, project: &Project<'_>, wanted: &Wanted, tags: &[String], abbreviated: Option<&str>) -> Error {
        let (name, url) = (project.name, redact(project.url));
        if let Wanted::Commit(id) = wanted {
            return Error::usage(format!("{name} has no commit {id} at {url}")).with_help(
                "check the id; trainyard fetches the branches and tags of the remote, so the commit must be on one",
            );
        }
        let reference = wanted.as_str();
        let near = nearest_release_tags(tags, &self.tag_prefix, reference);
        let there = if near.is_empty() {
            format!("it has no release tags ({}*)", self.tag_prefix)
        } else {
            format!("release tags there: {}", near.join(", "))
        };
        let help = match abbreviated {
            Some(full) => format!("abbreviated commit ids are not accepted; the full id is {full}"),
            None => "give one of its release tags, a branch, or a full commit id".to_string(),
        };
        Error::usage(format!("{name} has no ref {reference} at {url}; {there}")).with_help(help)
    }

    /// Takes the project's lock, saying so when another run holds it.
    fn lock(&self, name: &str) -> Result<File> {
        let path = self.lock_path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        crate::bounded::lock(
            &file,
            &path,
            &format!("the checkout of {name} (another trainyard run is using it)"),
            || {
                eprintln!("trainyard: waiting for the lock on {path} (another trainyard run is using it)");
            },
        )?;
        Ok(file)
    }
}

/// A project being resolved: its name, its URL as given and as handed to git.
struct Project<'a> {
    name: &'a str,
    url: &'a str,
    url_for_git: &'a str,
}

impl Project<'_> {
    fn resolved(&self, reference: &str, kind: RefKind, commit: String, source: Source) -> Resolved {
        Resolved {
            name: self.name.to_string(),
            url: self.url.to_string(),
            reference: reference.to_string(),
            kind,
            commit,
            source,
        }
    }

    fn fetch_failed(&self, stderr: &str) -> Error {
        let url = redact(self.url);
        Error::failed(format!("cannot fetch {} from {url}: {}", self.name, summarize(stderr, self.url))).with_help(
            format!(
                "check that the URL of internal project `{}` is right and reachable (`git ls-remote {url}`); \
                 a tag or full commit id already fetched once builds offline",
                self.name
            ),
        )
    }
}

/// A requested ref: a full commit id, or a name (tag or branch).
enum Wanted {
    Commit(String),
    Name(String),
}

impl Wanted {
    fn parse(reference: &str) -> Wanted {
        if is_full_commit_id(&reference.to_ascii_lowercase()) {
            Wanted::Commit(reference.to_ascii_lowercase())
        } else {
            Wanted::Name(reference.to_string())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Wanted::Commit(s) | Wanted::Name(s) => s,
        }
    }
}

/// A bare mirror. Every call names it with `--git-dir`, so git never discovers an
/// enclosing repository (the user's workspace) when the mirror is damaged.
struct Mirror {
    git: Git,
}

impl Mirror {
    fn at(path: &Utf8Path) -> Mirror {
        Mirror { git: Git::new(path) }
    }

    fn output(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let mut all = vec!["--git-dir=."];
        all.extend(NO_EXT);
        all.extend_from_slice(args);
        self.git.output(&all)
    }

    /// [`Mirror::output`] for a call that talks to the remote: bounded in time.
    fn output_bounded(&self, args: &[&str], what: &str) -> Result<(bool, String, String)> {
        let mut all = vec!["--git-dir=."];
        all.extend(NO_EXT);
        all.extend_from_slice(args);
        self.git.output_bounded(&all, what)
    }

    fn read(&self, args: &[&str]) -> Result<Option<String>> {
        let (ok, out, _) = self.output(args)?;
        Ok(ok.then(|| out.trim_end().to_string()))
    }

    fn run(&self, args: &[&str]) -> Result<()> {
        let (ok, _, stderr) = self.output(args)?;
        if ok {
            Ok(())
        } else {
            Err(Error::failed(format!("git {} in {}: {}", args.join(" "), self.git.dir, stderr.trim())))
        }
    }

    fn is_usable(&self) -> Result<bool> {
        if !self.git.dir.is_dir() {
            return Ok(false);
        }
        Ok(self.read(&["rev-parse", "--is-bare-repository"])?.as_deref() == Some("true"))
    }

    fn url(&self) -> Result<Option<String>> {
        self.read(&["config", "--get", "remote.origin.url"])
    }

    fn set_url(&self, url: &str) -> Result<()> {
        self.run(&["config", "remote.origin.url", url])
    }

    fn fetch(&self, project: &Project<'_>, effects: &Effects) -> Result<()> {
        effects.say(format!("fetching {} from {}", project.name, redact(project.url)));
        let what = format!("fetching {} from {}", project.name, redact(project.url));
        let (ok, _, stderr) = self.output_bounded(&["fetch", "--quiet", "--prune", "origin"], &what)?;
        if ok {
            Ok(())
        } else {
            Err(project.fetch_failed(&stderr))
        }
    }

    /// Fetches one commit by id; false when the remote does not hand it out.
    fn fetch_commit(&self, id: &str) -> Result<bool> {
        let (ok, _, _) =
            self.output_bounded(&["fetch", "--quiet", "--no-tags", "origin", id], &format!("fetching {id}"))?;
        Ok(ok)
    }

    fn commit_of(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        self.read(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])
    }

    fn lookup(&self, wanted: &Wanted) -> Result<Option<(RefKind, String)>> {
        match wanted {
            Wanted::Commit(id) => Ok(self.commit_of(id)?.map(|c| (RefKind::Commit, c))),
            Wanted::Name(name) => {
                if let Some(c) = self.commit_of(&format!("refs/tags/{name}"))? {
                    return Ok(Some((RefKind::Tag, c)));
                }
                Ok(self.commit_of(&format!("refs/heads/{name}"))?.map(|c| (RefKind::Branch, c)))
            }
        }
    }

    /// The short names of the refs under `prefix` (`refs/tags/`).
    fn refs(&self, prefix: &str) -> Result<Vec<String>> {
        let out = self.read(&["for-each-ref", "--format=%(refname)", prefix])?.unwrap_or_default();
        Ok(out.lines().filter_map(|l| l.strip_prefix(prefix)).map(str::to_string).collect())
    }
}

/// The remote's branches and tags as `git ls-remote` lists them ([`Cache::look_up`]).
struct RemoteRefs {
    tags: Vec<String>,
    /// (ref name, commit); a peeled tag (`refs/tags/x^{}`) replaces the tag object's id.
    refs: Vec<(String, String)>,
}

impl RemoteRefs {
    fn parse(listing: &str) -> RemoteRefs {
        let mut refs: Vec<(String, String)> = Vec::new();
        for line in listing.lines() {
            let Some((id, name)) = line.split_once('\t') else { continue };
            if let Some(tag) = name.strip_suffix("^{}") {
                refs.retain(|(n, _)| n != tag);
                refs.push((tag.to_string(), id.to_string()));
            } else if !refs.iter().any(|(n, _)| n == name) {
                refs.push((name.to_string(), id.to_string()));
            }
        }
        let tags = refs.iter().filter_map(|(n, _)| n.strip_prefix("refs/tags/")).map(str::to_string).collect();
        RemoteRefs { tags, refs }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.refs.iter().find(|(n, _)| n == name).map(|(_, id)| id.clone())
    }

    fn lookup(&self, wanted: &Wanted) -> Option<(RefKind, String)> {
        match wanted {
            Wanted::Commit(id) => self.refs.iter().any(|(_, c)| c == id).then(|| (RefKind::Commit, id.clone())),
            Wanted::Name(name) => self
                .get(&format!("refs/tags/{name}"))
                .map(|c| (RefKind::Tag, c))
                .or_else(|| self.get(&format!("refs/heads/{name}")).map(|c| (RefKind::Branch, c))),
        }
    }
}

fn ls_remote(project: &Project<'_>) -> Result<String> {
    let mut args = NO_EXT.to_vec();
    args.extend(["ls-remote", "--quiet", "--heads", "--tags", "--end-of-options", project.url_for_git]);
    let what = format!("listing the refs of {} at {}", project.name, redact(project.url));
    let (ok, out, stderr) = Git::new(".").output_bounded(&args, &what)?;
    if ok {
        Ok(out)
    } else {
        Err(project.fetch_failed(&stderr))
    }
}

/// Removes the entries of `dir` that `is_leftover` picks (temporaries of interrupted runs).
/// Only called under the lock, so no other run is still writing them.
fn remove_leftovers(dir: &Utf8Path, is_leftover: impl Fn(&str) -> bool) -> Result<()> {
    for entry in dir.read_dir_utf8().map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if is_leftover(entry.file_name()) {
            let path = entry.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
            removed.map_err(io(path))?;
        }
    }
    Ok(())
}

/// A project name becomes a directory name: keep it to one plain path component.
fn validate_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.ends_with(".lock");
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("`{}` is not a valid internal project name", name.escape_debug()))
            .with_help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit"))
    }
}

/// Refuses URLs git could read as an option; makes a relative local path absolute (git runs
/// inside the mirror, where a relative path would mean something else).
fn check_url(name: &str, url: &str) -> Result<String> {
    if url.is_empty() || url.starts_with('-') || url.chars().any(char::is_control) {
        return Err(Error::usage(format!("{name}: `{}` is not a usable git URL", url.escape_debug()))
            .with_help("give any URL git accepts: https://..., ssh://..., file:///path, or a path"));
    }
    if let Some(helper) = ["fd::", "ext::"].iter().find(|h| url.starts_with(**h)) {
        // git's `fd::` transport waits on a file descriptor forever, `ext::` runs a command.
        return Err(Error::usage(format!(
            "{name}: `{}`: git's `{helper}` transport is not allowed",
            url.escape_debug()
        ))
        .with_help("give the URL of the project's repository: https://..., ssh://..., file:///path, or a path"));
    }
    if !is_local_path(url) || Utf8Path::new(url).is_absolute() {
        return Ok(url.to_string());
    }
    let abs = std::path::absolute(url).map_err(io(url))?;
    Utf8PathBuf::from_path_buf(abs)
        .map(Utf8PathBuf::into_string)
        .map_err(|p| Error::usage(format!("{name}: {} is not UTF-8", p.display())))
}

/// git's own rule: `scheme://...` is a URL, `host:path` (a `:` before any `/`) is ssh, the rest a path.
fn is_local_path(url: &str) -> bool {
    if url.contains("://") {
        return false;
    }
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// A URL for messages: its user info and query values hidden.
fn redact(url: &str) -> String {
    crate::redact::url(url)
}

/// git's complaint in one line: its `fatal:`/`error:` lines, else its last line.
fn summarize(stderr: &str, url: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let important: Vec<&str> =
        lines.iter().filter_map(|l| l.strip_prefix("fatal: ").or_else(|| l.strip_prefix("error: "))).collect();
    let text = if important.is_empty() {
        lines.last().copied().unwrap_or("git gave no message").to_string()
    } else {
        important.join("; ")
    };
    crate::redact::register_url_credentials(url);
    crate::redact::text(&text.replace(url, &redact(url)))
}

fn is_full_commit_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn looks_abbreviated(s: &str) -> bool {
    (4..40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The release tags (`<prefix><version>`) nearest to `wanted`, in version order: the few
/// around where `wanted` would sort, or the latest few when `wanted` is not a version.
pub fn nearest_release_tags(tags: &[String], prefix: &str, wanted: &str) -> Vec<String> {
    let mut releases: Vec<(Version, &String)> =
        tags.iter().filter_map(|t| Some((version_key(t.strip_prefix(prefix)?)?, t))).collect();
    releases.sort();
    releases.dedup_by(|a, b| a.1 == b.1);
    let len = releases.len();
    let end = match wanted.strip_prefix(prefix).and_then(version_key) {
        Some(key) => {
            let position = releases.partition_point(|(k, _)| *k < key);
            (position + NEAREST.div_ceil(2)).clamp(NEAREST.min(len), len)
        }
        None => len,
    };
    releases[end.saturating_sub(NEAREST)..end].iter().map(|(_, t)| (*t).clone()).collect()
}

/// The version a tag names after the prefix, as `release` tags are read.
fn version_key(text: &str) -> Option<Version> {
    Version::parse_pep440(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nearest_tags_around_the_wanted_version() {
        let tags = strings(&[
            "rpm-1.0",
            "rpm-2.0",
            "rpm-1.10",
            "rpm-1.9",
            "v7.0",
            "rpm-latest",
            "rpm-1.2",
            "rpm-3.0",
            "rpm-4.0",
            "rpm-5.0",
        ]);
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "rpm-9.9"),
            strings(&["rpm-1.10", "rpm-2.0", "rpm-3.0", "rpm-4.0", "rpm-5.0"])
        );
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "rpm-1.5"),
            strings(&["rpm-1.0", "rpm-1.2", "rpm-1.9", "rpm-1.10", "rpm-2.0"])
        );
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "rpm-0.1"),
            strings(&["rpm-1.0", "rpm-1.2", "rpm-1.9", "rpm-1.10", "rpm-2.0"])
        );
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "rpm-3.1"),
            strings(&["rpm-1.10", "rpm-2.0", "rpm-3.0", "rpm-4.0", "rpm-5.0"])
        );
    }

    #[test]
    fn nearest_tags_for_a_name_are_the_latest() {
        let tags = strings(&["rpm-1.0", "rpm-2.0", "rpm-2.1", "rpm-2.2", "rpm-2.3", "rpm-2.4"]);
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "mastr"),
            strings(&["rpm-2.0", "rpm-2.1", "rpm-2.2", "rpm-2.3", "rpm-2.4"])
        );
    }

    #[test]
    fn few_tags_are_all_listed() {
        let tags = strings(&["rpm-2.0", "rpm-1.0", "main-thing"]);
        assert_eq!(nearest_release_tags(&tags, "rpm-", "rpm-9.9"), strings(&["rpm-1.0", "rpm-2.0"]));
        assert_eq!(nearest_release_tags(&tags, "rpm-", "x"), strings(&["rpm-1.0", "rpm-2.0"]));
        assert!(nearest_release_tags(&[], "rpm-", "rpm-1.0").is_empty());
        assert!(nearest_release_tags(&strings(&["v1.0"]), "rpm-", "rpm-1.0").is_empty());
    }

    #[test]
    fn pre_releases_sort_before_the_final() {
        let tags = strings(&["rpm-1.3", "rpm-1.3rc1", "rpm-1.2.1", "rpm-1.2"]);
        assert_eq!(
            nearest_release_tags(&tags, "rpm-", "x"),
            strings(&["rpm-1.2", "rpm-1.2.1", "rpm-1.3rc1", "rpm-1.3"])
        );
    }

    #[test]
    fn local_paths_and_urls() {
        assert!(is_local_path("/srv/git/core"));
        assert!(is_local_path("../core"));
        assert!(is_local_path("core"));
        assert!(is_local_path("./a:b"));
        assert!(!is_local_path("file:///srv/git/core"));
        assert!(!is_local_path("git@example.org:team/core.git"));
        assert!(!is_local_path("host:core"));
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("https://bot:s3cret@example.org/core.git"), "https://***@example.org/core.git");
        assert_eq!(redact("https://TOKEN@example.org/core.git"), "https://***@example.org/core.git");
        assert_eq!(redact("file:///srv/a@b:c"), "file:///srv/a@b:c");
        assert_eq!(redact("git@example.org:core.git"), "git@example.org:core.git");
        assert_eq!(
            summarize(
                "fatal: unable to access 'https://bot:s3cret@example.org/x/': 403\n",
                "https://bot:s3cret@example.org/x/"
            ),
            "unable to access 'https://***@example.org/x/': 403"
        );
    }

    #[test]
    fn git_messages_in_one_line() {
        let stderr = "fatal: '/nowhere' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
        assert_eq!(
            summarize(stderr, "/nowhere"),
            "'/nowhere' does not appear to be a git repository; Could not read from remote repository."
        );
        assert_eq!(summarize("something odd\n", "x"), "something odd");
        assert_eq!(summarize("", "x"), "git gave no message");
    }

    #[test]
    fn ls_remote_listing() {
        let listing = "1111111111111111111111111111111111111111\trefs/heads/main\n\
                       2222222222222222222222222222222222222222\trefs/tags/rpm-1.0\n\
                       3333333333333333333333333333333333333333\trefs/tags/rpm-2.0\n\
                       4444444444444444444444444444444444444444\trefs/tags/rpm-2.0^{}\n";
        let refs = RemoteRefs::parse(listing);
        assert_eq!(refs.tags, strings(&["rpm-1.0", "rpm-2.0"]));
        let tag = refs.lookup(&Wanted::parse("rpm-2.0")).unwrap();
        assert_eq!(tag, (RefKind::Tag, "4".repeat(40)));
        assert_eq!(refs.lookup(&Wanted::parse("main")).unwrap(), (RefKind::Branch, "1".repeat(40)));
        assert!(refs.lookup(&Wanted::parse("rpm-9.9")).is_none());
    }

    #[test]
    fn names_that_cannot_be_directories() {
        for bad in ["", ".", "..", "a/b", "-x", ".hidden", "a b", "x.lock"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        validate_name("server-core").unwrap();
    }
}
