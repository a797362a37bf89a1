//! `trains [--format text|json] [--html FILE]`: the release trains at a glance. The default
//! branch and each release (or version) branch with its train, latest tags, dev version, what
//! is unreleased on it, the fixes not yet carried over, and which version each channel serves.
//!
//! Everything is read with the modules the release steps use: versions from [`crate::scm`],
//! tags and branches from [`crate::release::Repo`], fixes not yet backported from
//! [`crate::release::backport::candidates`] (the very list `release backport` applies), the
//! channels from their `history.jsonl` ([`crate::release::repo::Destination::read_history`]).
//! Nothing here changes the repository; `--html` writes its one file through a
//! [`crate::plan::Plan`] run by [`crate::exec::Effects::execute`].

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::channel::Channel;
use crate::cli::{FlagSpec, TargetSpec, DRY_RUN};
use crate::config::Flow;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::release::history::{Action, Record};
use crate::release::repo::{self, Destination};
use crate::release::{backport, messages, publish, Repo, Version, REMOTE};
use crate::scm::{self, Line};
use crate::ui::{self, Style};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "trains",
    summary: "the release trains at a glance: branches, tags, unreleased work, pending fixes, channels",
    usage: "[--format text|json] [--html FILE] [--repo-dir DIR]",
    about: "For the default branch and each release branch (rc and version branches with flow = \"rc-beta\";\n\
            a branch only origin has is shown as origin/NAME):\n\
            its train (the release it leads to), its version (the tag on its tip, else the dev version),\n\
            the newest version tags it contains, the commits no release tag contains (unreleased), and\n\
            the fixes not yet carried over: on a release branch, the commits `release backport` would\n\
            pick onto the default branch (by patch identity, release bookkeeping left out); with\n\
            flow = \"rc-beta\", the commits cherry-picked (-x) onto rc that a version branch lacks.\n\
            When a package repository is configured (--repo-dir, $TRAINYARD_REPO, publish.repo, or\n\
            target/trainyard/repos once something was published there), the version each channel\n\
            serves, from its history.\n\
            --html FILE writes one self-contained page (no external resources) with an SVG drawing of\n\
            the branches, their tags and the channels, for a team to publish.",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "format", value: Some("FORMAT"), help: "text (default) or json", var: None },
        FlagSpec { name: "html", value: Some("FILE"), help: "also write the picture as an HTML page", var: None },
        FlagSpec {
            name: "repo-dir",
            value: Some("DIR"),
            help: "package repositories, one per channel (as `release publish`; default $TRAINYARD_REPO, publish.repo)",
            var: None,
        },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

/// Commits shown per lane in the drawing (the newest ones).
const DRAWN: usize = 24;
/// Commits listed per section in the text view.
const LISTED: usize = 15;

/// One commit as the view shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    pub id: String,
    pub subject: String,
    /// Version tags on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Commit {
    fn short(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The default branch: the next train.
    Default,
    /// The rc branch of the rc-beta flow.
    Rc,
    /// A release branch (`1.2-release`), or a version branch (`0.12`) in the rc-beta flow.
    Release,
}

/// A branch and what it carries.
#[derive(Debug, Clone, Serialize)]
pub struct Lane {
    /// The branch's name (`origin/1.2-release` where only the remote has it).
    pub branch: String,
    /// Its full ref.
    #[serde(skip)]
    pub reference: String,
    pub role: Role,
    /// The version of its tip: the newest version tag on it, else its dev version.
    pub version: String,
    /// The release the branch is on its way to (`1.3` for `1.3.dev4`); for a tagged tip, that release.
    pub train: String,
    pub tip: String,
    /// The newest version tags the branch contains, newest first (at most three).
    pub latest_tags: Vec<String>,
    /// Commits no version tag contains, newest first.
    pub unreleased: Vec<Commit>,
    /// Fixes on this branch not yet carried where they go (see the module docs), oldest first.
    pub pending: Vec<Commit>,
    /// Where `pending` goes: the default branch, or the version branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_to: Option<String>,
    /// The commit of the default branch it forked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<String>,
    /// The commits the drawing shows, oldest first: since the fork (the default branch: since
    /// the oldest fork), at most the newest [`DRAWN`].
    #[serde(skip)]
    pub drawn: Vec<Commit>,
    /// Whether older commits of the lane were left out of `drawn`.
    #[serde(skip)]
    pub cut: bool,
}

/// What a channel's repository serves.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub channel: String,
    /// Where its repository is.
    pub repository: String,
    /// The newest release it serves (rollbacks taken into account), if any.
    pub serves: Option<String>,
    /// The commit that release was built from, when the history says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The version tag of that release, when it exists here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct Trains {
    pub name: String,
    pub flow: String,
    pub default_branch: String,
    pub lanes: Vec<Lane>,
    /// `None` when no package repository is configured.
    pub channels: Option<Vec<ChannelView>>,
}

pub fn run(ctx: &Context) -> Result<()> {
    let json = match ctx.args.value("format") {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(Error::usage(format!("`--format {other}` is not text or json")).with_help("--format text|json"))
        }
    };
    let html_path = ctx.args.value("html").map(|p| {
        let p = Utf8PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            std::env::current_dir()
                .ok()
                .and_then(|d| Utf8PathBuf::from_path_buf(d).ok())
                .unwrap_or_else(|| ctx.ws.root.clone())
                .join(p)
        }
    });
    if let Some(path) = &html_path {
        if path.is_dir() {
            return Err(Error::usage(format!("--html {path} is a directory"))
                .with_help("give the file to write: --html trains.html"));
        }
    }
    let repo = Repo::open(ctx)?;
    let trains = gather(&repo)?;
    if json {
        let text = serde_json::to_string_pretty(&trains).map_err(|e| Error::failed(format!("json: {e}")))?;
        println!("{text}");
    } else {
        let color = ui::get().color_stdout;
        print!("{}", render_text(&trains, color));
    }
    if let Some(path) = html_path {
        // The target's one change, through the executor: `--dry-run` prints it.
        let mut plan = Plan::new();
        plan.write(path.clone(), render_html(&trains));
        ctx.effects.execute(&plan)?;
        ctx.effects.done(format!("wrote {path}"));
    }
    Ok(())
}

/// A branch as the view finds it: the local one, else the remote's.
#[derive(Debug, Clone)]
struct Branch {
    /// `1.2-release`: what the branch templates match.
    name: String,
    /// `1.2-release`, or `origin/1.2-release` when only the remote-tracking branch exists.
    shown: String,
    /// `refs/heads/1.2-release` or `refs/remotes/origin/1.2-release`.
    reference: String,
}

/// The branch `name`: local, else the remote-tracking one.
fn locate(repo: &Repo, name: &str) -> Result<Option<Branch>> {
    for (reference, shown) in [
        (format!("refs/heads/{name}"), name.to_string()),
        (format!("refs/remotes/{REMOTE}/{name}"), format!("{REMOTE}/{name}")),
    ] {
        if repo.resolve(&reference)?.is_some() {
            return Ok(Some(Branch { name: name.to_string(), shown, reference }));
        }
    }
    Ok(None)
}

/// Reads the picture from the repository (and the channels' histories).
pub fn gather(repo: &Repo) -> Result<Trains> {
    let config = repo.config();
    let git = &repo.git;
    let Some(default) = locate(repo, &config.default_branch)? else {
        return Err(Error::usage(format!("there is no branch `{}`, the default branch", config.default_branch))
            .with_help("set default-branch under [workspace.metadata.trainyard], or create the branch"));
    };
    // A clone whose own default (origin/HEAD) is another branch: the configured one may be a
    // stale leftover (a `main` beside the `master` everyone uses). Said, not guessed.
    if let Ok(head) = git.read(&["symbolic-ref", "--quiet", "--short", &format!("refs/remotes/{REMOTE}/HEAD")]) {
        let theirs = head.trim().trim_start_matches(&format!("{REMOTE}/")).to_string();
        if !theirs.is_empty() && theirs != config.default_branch {
            crate::ui::diagnostic(&format!(
                "warning: the default branch is `{}` (configuration), but {REMOTE}'s is `{theirs}`\n\
                 help: if `{theirs}` is the one you release from, set default-branch = \"{theirs}\" under \
                 [workspace.metadata.trainyard]",
                config.default_branch
            ));
        }
    }
    let prefix_dir = git.read(&["rev-parse", "--show-prefix"])?;
    let manifest = format!("{}Cargo.toml", prefix_dir.trim());

    // Version tags: their versions, and the commits they are on.
    let tags = repo.version_tags()?;
    let tag_version: BTreeMap<&str, Version> = tags.iter().map(|(v, t)| (t.as_str(), *v)).collect();
    let mut tags_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let refs = git.read(&["for-each-ref", "--format=%(objectname) %(*objectname) %(refname:short)", "refs/tags"])?;
    for line in refs.lines() {
        let mut words = line.split(' ');
        let (Some(object), Some(peeled), Some(name)) = (words.next(), words.next(), words.next()) else { continue };
        if tag_version.contains_key(name) {
            let commit = if peeled.is_empty() { object } else { peeled };
            tags_of.entry(commit.to_string()).or_default().push(name.to_string());
        }
    }
    for names in tags_of.values_mut() {
        names.sort_by_key(|n| std::cmp::Reverse(tag_version[n.as_str()]));
    }
    let tag_refs: Vec<String> = tags.iter().map(|(_, t)| format!("refs/tags/{t}")).collect();

    // The branches: the default one, rc (rc-beta), then release lines, newest first; each the
    // local branch, else the remote's (a CI clone has only the default branch locally).
    let mut branches: Vec<(Branch, Role)> = vec![(default.clone(), Role::Default)];
    let rc = match config.flow {
        Flow::RcBeta => locate(repo, &config.rc_branch)?,
        Flow::ReleaseBranch => None,
    };
    if let Some(rc) = &rc {
        branches.push((rc.clone(), Role::Rc));
    }
    let heads = git.read(&["for-each-ref", "--format=%(refname)", "refs/heads", &format!("refs/remotes/{REMOTE}")])?;
    let mut lines: BTreeMap<Version, Branch> = BTreeMap::new();
    for full in heads.lines() {
        let (name, local) = match full.strip_prefix("refs/heads/") {
            Some(name) => (name, true),
            None => (full.strip_prefix(&format!("refs/remotes/{REMOTE}/")).unwrap_or(full), false),
        };
        if let Line::Release { major, minor } = scm::release_line(name, &config.release_branch) {
            let branch = Branch {
                name: name.to_string(),
                shown: if local { name.to_string() } else { format!("{REMOTE}/{name}") },
                reference: full.to_string(),
            };
            let slot = lines.entry(Version::new(major, minor, None)).or_insert_with(|| branch.clone());
            if local {
                *slot = branch;
            }
        }
    }
    branches.extend(lines.into_values().rev().map(|b| (b, Role::Release)));

    let log = |args: &[&str]| -> Result<Vec<Commit>> {
        let mut full = vec!["log", "--format=%H%x1f%s%x1e"];
        full.extend(args);
        let out = git.read(&full)?;
        Ok(out
            .split('\x1e')
            .filter_map(|e| {
                let (id, subject) = e.trim_start_matches('\n').split_once('\x1f')?;
                Some(Commit {
                    id: id.to_string(),
                    subject: subject.to_string(),
                    tags: tags_of.get(id).cloned().unwrap_or_default(),
                })
            })
            .collect())
    };

    let mut lanes = Vec::new();
    for (branch, role) in branches {
        let full = branch.reference.clone();
        let tip = git.read(&["rev-parse", "--verify", &format!("{full}^{{commit}}")])?;
        let version = scm::version_at(git, &full, Some(&branch.name), config, &manifest)?;
        let train = version.target();
        let merged = git.read(&["tag", "--merged", &full, "--list", &format!("{}*", config.tag_prefix)])?;
        let mut contained: Vec<(Version, &str)> =
            merged.lines().filter_map(|t| tag_version.get(t).map(|v| (*v, t))).collect();
        contained.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
        let latest_tags = contained.iter().take(3).map(|(_, t)| t.to_string()).collect();
        let mut args = vec!["--no-merges", full.as_str(), "--not"];
        args.extend(tag_refs.iter().map(String::as_str));
        let unreleased = log(&args)?;
        // Where it left the branch it was cut from: a version branch from rc (rc-beta), the rest
        // from the default branch.
        let upstream = match (role, &rc) {
            (Role::Default, _) => None,
            (Role::Release, Some(rc)) => Some(rc),
            _ => Some(&default),
        };
        let fork = match upstream {
            Some(up) => git.try_read(&["merge-base", &up.reference, &full])?,
            None => None,
        };
        let (pending, pending_to) = pending_fixes(repo, &full, role, &default, rc.as_ref())?;
        lanes.push(Lane {
            branch: branch.shown,
            reference: full,
            role,
            version: version.to_pep440(),
            train: train.to_pep440(),
            tip,
            latest_tags,
            unreleased,
            pending,
            pending_to,
            fork,
            drawn: Vec::new(),
            cut: false,
        });
    }

    // The drawing: each lane's commits since its fork; the default branch's since the oldest fork.
    for i in 0..lanes.len() {
        let full = lanes[i].reference.clone();
        let range = match (&lanes[i].fork, lanes[i].role) {
            (Some(fork), _) => vec![format!("{fork}..{full}")],
            (None, Role::Default) => {
                let mut octopus = vec!["merge-base", "--octopus"];
                octopus.extend(lanes.iter().filter_map(|l| l.fork.as_deref()));
                let oldest = if octopus.len() > 2 { git.try_read(&octopus)? } else { None };
                match oldest.map(|o| git.try_read(&["rev-parse", "--verify", "--quiet", &format!("{o}^")])) {
                    Some(Ok(Some(parent))) => vec![format!("{parent}..{full}")],
                    _ => vec![full.clone()],
                }
            }
            (None, _) => vec![full.clone()],
        };
        let mut args = vec!["--first-parent", "--reverse"];
        args.extend(range.iter().map(String::as_str));
        let mut drawn = log(&args)?;
        let cut = drawn.len() > DRAWN;
        if cut {
            drawn.drain(..drawn.len() - DRAWN);
        }
        lanes[i].drawn = drawn;
        lanes[i].cut = cut;
    }

    let channels = channels(repo, &tag_version)?;
    Ok(Trains {
        name: config.name().to_string(),
        flow: match config.flow {
            Flow::ReleaseBranch => "release-branch".into(),
            Flow::RcBeta => "rc-beta".into(),
        },
        default_branch: default.shown,
        lanes,
        channels,
    })
}

/// The fixes of a branch not yet carried where the flow sends them.
///
/// release-branch flow: a release branch's commits the default branch lacks by patch
/// identity, without the release bookkeeping: exactly what `release backport --apply` picks.
/// rc-beta flow: fixes go downstream, and a fix is a commit cherry-picked (`-x`) onto rc; a
/// version branch's pending ones are those rc has and the version branch lacks (the same
/// patch-identity list, `git cherry VERSION-BRANCH rc`).
fn pending_fixes(
    repo: &Repo,
    reference: &str,
    role: Role,
    default: &Branch,
    rc: Option<&Branch>,
) -> Result<(Vec<Commit>, Option<String>)> {
    let as_commit = |c: &backport::Candidate| Commit { id: c.commit.clone(), subject: c.subject.clone(), tags: vec![] };
    match (repo.config().flow, role, rc) {
        (Flow::ReleaseBranch, Role::Release, _) => {
            let list = backport::candidates(repo, &default.reference, reference)?;
            let todo = list.iter().filter(|c| !c.branch_only).map(as_commit).collect();
            Ok((todo, Some(default.shown.clone())))
        }
        (Flow::RcBeta, Role::Release, Some(rc)) => {
            let list = backport::candidates(repo, reference, &rc.reference)?;
            let mut todo = Vec::new();
            for c in list.iter().filter(|c| !c.branch_only && !messages::is_bookkeeping(&c.subject)) {
                let body = repo.git.read(&["log", "-1", "--format=%b", &c.commit])?;
                if body.contains("(cherry picked from commit ") {
                    todo.push(as_commit(c));
                }
            }
            // Listed under the version branch that lacks them.
            Ok((todo, Some(rc.shown.clone())))
        }
        _ => Ok((Vec::new(), None)),
    }
}

/// The channels' repositories, when one is configured (or the default one has a history).
fn channels(repo: &Repo, tag_version: &BTreeMap<&str, Version>) -> Result<Option<Vec<ChannelView>>> {
    let ctx = repo.ctx;
    let configured = ctx.args.value("repo-dir").is_some()
        || std::env::var(repo::REPO_VAR).is_ok_and(|v| !v.trim().is_empty())
        || ctx.ws.config.publish.repo.is_some();
    let dest = publish::destination(ctx, ctx.args.value("repo-dir"))?;
    if !configured {
        let Destination::Local(dir) = &dest else { return Ok(None) };
        if !Channel::ALL.iter().any(|c| dir.join(c.as_str()).join(crate::release::history::FILE).is_file()) {
            return Ok(None);
        }
    }
    let mut out = Vec::new();
    for channel in Channel::ALL {
        let records = dest.read_history(channel)?;
        let served = serving(&records);
        let tag = served.as_ref().map(|(v, _)| repo.tag_name(v)).filter(|t| tag_version.contains_key(t.as_str()));
        out.push(ChannelView {
            channel: channel.as_str().to_string(),
            repository: dest.describe(channel),
            serves: served.as_ref().map(|(v, _)| v.to_pep440()),
            commit: served.and_then(|(_, r)| r.commit.clone()),
            tag,
        });
    }
    Ok(Some(out))
}

/// The newest release a channel serves after its history: publishes and promotions add a
/// release; a rollback to V takes every newer one out (into the archive) and makes V served.
pub fn serving(records: &[Record]) -> Option<(Version, &Record)> {
    let parse = |text: &str| Version::parse_rpm(text).or_else(|_| Version::parse_any(text)).ok();
    let mut live: Vec<(Version, &Record)> = Vec::new();
    for r in records {
        let Some(v) = parse(&r.version) else { continue };
        match r.action {
            Action::Publish | Action::Promote => {
                live.retain(|(o, _)| *o != v);
                live.push((v, r));
            }
            Action::Rollback => {
                live.retain(|(o, _)| *o < v);
                if !live.iter().any(|(o, _)| *o == v) {
                    // The release it went back to, with the files the rollback names.
                    live.push((v, r));
                }
            }
        }
    }
    live.into_iter().max_by(|a, b| a.0.cmp(&b.0))
}

/// The terminal view; `color` paints branch names, tags and pending fixes.
pub fn render_text(t: &Trains, color: bool) -> String {
    let paint = |style: Style, text: &str| ui::paint(style, text, color);
    let shown = |text: &str| crate::cli::shown(text);
    let mut out = format!("{}: release trains (flow {})\n", shown(&t.name), t.flow);
    for lane in &t.lanes {
        let what = match lane.role {
            Role::Default => format!("train {}", lane.train),
            Role::Rc => format!("rc, toward {}", lane.train),
            Role::Release if lane.version == lane.train => format!("line {}", lane.train),
            Role::Release => format!("line {}, next {}", line_of(&lane.train), lane.train),
        };
        out.push_str(&format!("\n{}  ({what})  version {}\n", paint(Style::Help, &shown(&lane.branch)), lane.version));
        let tags: Vec<String> = lane.latest_tags.iter().map(|t| paint(Style::Note, &shown(t))).collect();
        out.push_str(&format!(
            "  latest tags: {}\n",
            if tags.is_empty() { "(none)".to_string() } else { tags.join(", ") }
        ));
        push_commits(&mut out, "unreleased", "nothing: every commit is in a release", &lane.unreleased, color, None);
        if let Some(to) = &lane.pending_to {
            let (label, none) = match lane.role {
                Role::Release if t.flow == "rc-beta" => {
                    (format!("fixes on {} not yet picked onto it", shown(to)), "none".to_string())
                }
                _ => (format!("fixes not yet backported to {}", shown(to)), "none".to_string()),
            };
            push_commits(&mut out, &label, &none, &lane.pending, color, Some(Style::Warning));
        }
    }
    if let Some(channels) = &t.channels {
        out.push_str("\nchannels:\n");
        for c in channels {
            let serves = match (&c.serves, &c.tag) {
                (Some(v), Some(tag)) => format!("{v} ({})", paint(Style::Note, &shown(tag))),
                (Some(v), None) => v.clone(),
                (None, _) => "nothing published".into(),
            };
            out.push_str(&format!("  {:<6} {serves}  [{}]\n", c.channel, shown(&c.repository)));
        }
    }
    out
}

/// `1.2.1` -> `1.2`: the line a fix belongs to.
fn line_of(version: &str) -> String {
    Version::parse_pep440(version).map(|v| v.major_minor()).unwrap_or_else(|_| version.to_string())
}

fn push_commits(out: &mut String, label: &str, none: &str, list: &[Commit], color: bool, style: Option<Style>) {
    if list.is_empty() {
        out.push_str(&format!("  {label}: {none}\n"));
        return;
    }
    let n = list.len();
    out.push_str(&format!("  {label}: {n} commit{}\n", if n == 1 { "" } else { "s" }));
    for c in list.iter().take(LISTED) {
        let id = match style {
            Some(s) => ui::paint(s, c.short(), color),
            None => c.short().to_string(),
        };
        out.push_str(&format!("    {id} {}\n", crate::cli::shown(&c.subject)));
    }
    if n > LISTED {
        out.push_str(&format!("    ... and {} more\n", n - LISTED));
    }
}

/// Escapes text for HTML and SVG (element content and quoted attribute values alike).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 has no place for control characters: shown as their escapes.
            c if c.is_control() && c != '\n' && c != '\t' => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// The page: a heading, the drawing, then one section per branch and the channels.
pub fn render_html(t: &Trains) -> String {
    let e = escape;
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>{}: release trains</h1>\n<p class=\"meta\">flow {} · default branch <code>{}</code></p>\n",
        e(&t.name),
        e(&t.flow),
        e(&t.default_branch)
    ));
    body.push_str(&render_svg(t));
    body.push_str("<div class=\"lanes\">\n");
    for lane in &t.lanes {
        body.push_str(&format!(
            "<section class=\"lane {}\" id=\"branch-{}\">\n<h2><code>{}</code> <span class=\"train\">{}</span></h2>\n",
            match lane.role {
                Role::Default => "default",
                Role::Rc => "rc",
                Role::Release => "release",
            },
            e(&lane.branch),
            e(&lane.branch),
            e(&format!("train {} · version {}", lane.train, lane.version)),
        ));
        let tags: Vec<String> =
            lane.latest_tags.iter().map(|t| format!("<span class=\"tag\">{}</span>", e(t))).collect();
        body.push_str(&format!(
            "<p>latest tags: {}</p>\n",
            if tags.is_empty() { "<em>none</em>".to_string() } else { tags.join(" ") }
        ));
        html_commits(&mut body, "unreleased", "unreleased", &lane.unreleased);
        if let Some(to) = &lane.pending_to {
            let label = if t.flow == "rc-beta" {
                format!("fixes on {to} not yet picked onto it")
            } else {
                format!("fixes not yet backported to {to}")
            };
            html_commits(&mut body, "pending", &label, &lane.pending);
        }
        body.push_str("</section>\n");
    }
    body.push_str("</div>\n");
    if let Some(channels) = &t.channels {
        body.push_str("<section class=\"channels\"><h2>channels</h2>\n<table>\n<tr><th>channel</th><th>serves</th><th>tag</th><th>repository</th></tr>\n");
        for c in channels {
            body.push_str(&format!(
                "<tr class=\"channel-{}\"><td>{}</td><td class=\"serves\">{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
                e(&c.channel),
                e(&c.channel),
                c.serves.as_deref().map(e).unwrap_or_else(|| "<em>nothing published</em>".into()),
                c.tag.as_deref().map(e).unwrap_or_default(),
                e(&c.repository)
            ));
        }
        body.push_str("</table></section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} release trains</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        e(&t.name)
    )
}

const CSS: &str = "body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 6px; }
.meta { color: #59636e; margin: 0 0 16px; }
code, .id { font-family: ui-monospace, monospace; }
.drawing { overflow-x: auto; border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px; background: #f6f8fa; }
.lanes { display: flex; flex-wrap: wrap; gap: 16px; margin-top: 16px; }
.lane { flex: 1 1 380px; border: 1px solid #d1d9e0; border-radius: 6px; padding: 12px; }
.lane.default { border-top: 4px solid #0969da; }
.lane.rc { border-top: 4px solid #8250df; }
.lane.release { border-top: 4px solid #1a7f37; }
.train { font-weight: normal; color: #59636e; font-size: 13px; }
.tag { display: inline-block; background: #dafbe1; border: 1px solid #1a7f37; border-radius: 10px; padding: 0 7px; font-size: 12px; }
ul { margin: 4px 0 8px; padding-left: 18px; }
li { margin: 1px 0; }
.id { color: #59636e; font-size: 12px; margin-right: 6px; }
.pending li { color: #9a6700; }
table { border-collapse: collapse; margin-top: 6px; }
th, td { text-align: left; padding: 3px 12px 3px 0; }
.channels { margin-top: 16px; }
";

fn html_commits(body: &mut String, class: &str, label: &str, list: &[Commit]) {
    let n = list.len();
    body.push_str(&format!("<div class=\"{class}\"><strong>{}</strong>: {n}", escape(label)));
    if n == 0 {
        body.push_str("</div>\n");
        return;
    }
    body.push_str("\n<ul>\n");
    for c in list.iter().take(LISTED * 2) {
        body.push_str(&format!("<li><span class=\"id\">{}</span>{}</li>\n", escape(c.short()), escape(&c.subject)));
    }
    if n > LISTED * 2 {
        body.push_str(&format!("<li>… and {} more</li>\n", n - LISTED * 2));
    }
    body.push_str("</ul></div>\n");
}

/// Layout of the drawing, in pixels.
const LEFT: i64 = 190;
const STEP: i64 = 46;
const ROW: i64 = 120;
const TOP: i64 = 90;

/// The SVG: one lane (row) per branch, a dot per commit (hollow: unreleased; amber:
/// a fix not yet carried over), version tags as labels on their commits, a curve from each
/// fork point, and the channels pointing at the commit of the release they serve.
pub fn render_svg(t: &Trains) -> String {
    let e = escape;
    // Column of each drawn commit: the default lane from 0; a lane one past its fork's column.
    let mut col: BTreeMap<(usize, String), i64> = BTreeMap::new();
    let mut where_is: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut max_col = 0;
    for (row, lane) in t.lanes.iter().enumerate() {
        let start = match &lane.fork {
            Some(fork) => where_is.get(fork).map(|(c, _)| c + 1).unwrap_or(1),
            None => 0,
        };
        for (i, c) in lane.drawn.iter().enumerate() {
            let column = start + i as i64;
            col.insert((row, c.id.clone()), column);
            where_is.entry(c.id.clone()).or_insert((column, row as i64));
            max_col = max_col.max(column);
        }
    }
    // A fix not yet carried over is marked wherever it is drawn (rc-beta: on rc, listed under
    // the version branch that lacks it).
    let pending: std::collections::BTreeSet<&str> =
        t.lanes.iter().flat_map(|l| &l.pending).map(|c| c.id.as_str()).collect();
    let channel_x = LEFT + (max_col + 2) * STEP;
    let width = channel_x + if t.channels.is_some() { 230 } else { 20 };
    let height = TOP + ROW * t.lanes.len().max(1) as i64 - 30;
    let x = |c: i64| LEFT + c * STEP;
    let y = |r: usize| TOP + r as i64 * ROW;
    let mut svg = format!(
        "<div class=\"drawing\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\">\n",
        e(&format!("release trains of {}", t.name))
    );
    svg.push_str("<style>text { font: 12px system-ui, sans-serif; fill: #1f2328; } .lbl { font-weight: 600; } .sub { fill: #59636e; font-size: 11px; } .tagtext { font-size: 11px; fill: #0a3d1a; }</style>\n");
    let colour = |role: Role| match role {
        Role::Default => "#0969da",
        Role::Rc => "#8250df",
        Role::Release => "#1a7f37",
    };
    for (row, lane) in t.lanes.iter().enumerate() {
        let stroke = colour(lane.role);
        let ly = y(row);
        svg.push_str(&format!(
            "<g class=\"lane\" data-branch=\"{}\">\n<text class=\"lbl\" x=\"12\" y=\"{}\">{}</text>\n<text class=\"sub\" x=\"12\" y=\"{}\">{}</text>\n",
            e(&lane.branch),
            ly - 2,
            e(&lane.branch),
            ly + 14,
            e(&format!("{} · {}", lane.train, lane.version))
        ));
        let Some(first) = lane.drawn.first() else {
            svg.push_str("</g>\n");
            continue;
        };
        let first_x = x(col[&(row, first.id.clone())]);
        let last_x = x(col[&(row, lane.drawn.last().map(|c| c.id.clone()).unwrap_or_default())]);
        // The branch line, dashed where older commits were left out, and its fork curve.
        if lane.cut {
            svg.push_str(&format!(
                "<line x1=\"{}\" y1=\"{ly}\" x2=\"{first_x}\" y2=\"{ly}\" stroke=\"{stroke}\" stroke-width=\"3\" stroke-dasharray=\"4 4\"/>\n",
                first_x - STEP
            ));
        }
        svg.push_str(&format!(
            "<line x1=\"{first_x}\" y1=\"{ly}\" x2=\"{last_x}\" y2=\"{ly}\" stroke=\"{stroke}\" stroke-width=\"3\"/>\n"
        ));
        // Down from the fork, into the first commit from the left (its tags stand above it).
        if let Some((fc, fr)) = lane.fork.as_ref().and_then(|f| where_is.get(f)) {
            let (fx, fy) = (x(*fc), TOP + fr * ROW);
            svg.push_str(&format!(
                "<path d=\"M{fx},{fy} C{fx},{ly} {fx},{ly} {first_x},{ly}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"3\"/>\n"
            ));
        }
        let unreleased: std::collections::BTreeSet<&str> = lane.unreleased.iter().map(|c| c.id.as_str()).collect();
        for c in &lane.drawn {
            let cx = x(col[&(row, c.id.clone())]);
            let (fill, ring) = if pending.contains(c.id.as_str()) {
                ("#d4a72c", "#9a6700")
            } else if unreleased.contains(c.id.as_str()) {
                ("#ffffff", stroke)
            } else {
                (stroke, stroke)
            };
            svg.push_str(&format!(
                "<circle cx=\"{cx}\" cy=\"{ly}\" r=\"7\" fill=\"{fill}\" stroke=\"{ring}\" stroke-width=\"2.5\"><title>{}</title></circle>\n",
                e(&format!("{} {}", c.short(), c.subject))
            ));
            for (k, tag) in c.tags.iter().enumerate() {
                let ty = ly - 16 - k as i64 * 18;
                let w = 8 + 7 * tag.chars().count() as i64;
                svg.push_str(&format!(
                    "<g class=\"tag\" transform=\"rotate(-30 {cx} {ty})\"><rect x=\"{}\" y=\"{}\" width=\"{w}\" height=\"16\" rx=\"8\" fill=\"#dafbe1\" stroke=\"#1a7f37\"/><text class=\"tagtext\" x=\"{}\" y=\"{}\">{}</text></g>\n",
                    cx - 4,
                    ty - 12,
                    cx + 1,
                    ty,
                    e(tag)
                ));
            }
        }
        svg.push_str("</g>\n");
    }
    if let Some(channels) = &t.channels {
        for (i, c) in channels.iter().enumerate() {
            let cy = TOP - 20 + i as i64 * 44;
            let text = match &c.serves {
                Some(v) => format!("{} serves {v}", c.channel),
                None => format!("{}: nothing published", c.channel),
            };
            svg.push_str(&format!(
                "<g class=\"channel\" data-channel=\"{}\"><rect x=\"{channel_x}\" y=\"{}\" width=\"190\" height=\"28\" rx=\"5\" fill=\"#fff8c5\" stroke=\"#9a6700\"/><text class=\"lbl\" x=\"{}\" y=\"{}\">{}</text></g>\n",
                e(&c.channel),
                cy - 14,
                channel_x + 10,
                cy + 4,
                e(&text)
            ));
            // A pointer to the commit it serves, when the drawing has it.
            let commit = c
                .tag
                .as_ref()
                .and_then(|tag| t.lanes.iter().flat_map(|l| &l.drawn).find(|d| d.tags.contains(tag)).map(|d| &d.id))
                .or(c.commit.as_ref());
            if let Some((cc, cr)) = commit.and_then(|id| where_is.get(id)) {
                let (px, py) = (x(*cc), TOP + cr * ROW);
                // Into the dot from below, clear of the tag labels above it.
                svg.push_str(&format!(
                    "<path d=\"M{channel_x},{cy} C{},{cy} {px},{} {px},{}\" fill=\"none\" stroke=\"#9a6700\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n",
                    channel_x - 80,
                    py + 70,
                    py + 9
                ));
            }
        }
    }
    // Legend.
    let ly = height - 12;
    svg.push_str(&format!(
        "<g class=\"legend\"><circle cx=\"18\" cy=\"{0}\" r=\"5\" fill=\"#1a7f37\"/><text class=\"sub\" x=\"28\" y=\"{1}\">released</text>\
         <circle cx=\"100\" cy=\"{0}\" r=\"5\" fill=\"#fff\" stroke=\"#1a7f37\" stroke-width=\"2\"/><text class=\"sub\" x=\"110\" y=\"{1}\">unreleased</text>\
         <circle cx=\"192\" cy=\"{0}\" r=\"5\" fill=\"#d4a72c\" stroke=\"#9a6700\" stroke-width=\"2\"/><text class=\"sub\" x=\"202\" y=\"{1}\">fix not yet carried over</text></g>\n",
        ly,
        ly + 4
    ));
    svg.push_str("</svg>\n</div>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::history::FileRecord;

    fn rec(action: Action, version: &str) -> Record {
        Record {
            action,
            channel: "prod".into(),
            version: version.into(),
            from: None,
            time: "2026-01-01T00:00:00Z".into(),
            commit: Some(format!("c{version}")),
            who: "t".into(),
            files: vec![FileRecord { file: "f".into(), nevra: "f".into(), sha256: "00".into() }],
            archived: Vec::new(),
        }
    }

    #[test]
    fn a_channel_serves_its_newest_live_release() {
        assert!(serving(&[]).is_none());
        let h = [rec(Action::Publish, "1.2"), rec(Action::Publish, "1.2.1"), rec(Action::Promote, "1.3")];
        assert_eq!(serving(&h).unwrap().0.to_string(), "1.3");
        let h = [rec(Action::Publish, "1.2"), rec(Action::Publish, "1.3"), rec(Action::Rollback, "1.2")];
        let (v, r) = serving(&h).unwrap();
        assert_eq!((v.to_string(), r.commit.as_deref()), ("1.2".into(), Some("c1.2")));
        let h = [rec(Action::Publish, "1.2"), rec(Action::Rollback, "1.2"), rec(Action::Publish, "1.2.1")];
        assert_eq!(serving(&h).unwrap().0.to_string(), "1.2.1");
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert(\"x&y\")</script>'"),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape("a\u{1b}[31m"), "a\\u{1b}[31m");
    }
}
