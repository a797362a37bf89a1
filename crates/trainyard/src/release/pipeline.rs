//! `release 1.2`: the whole path of a release (or, for `1.2.1`, a fix), one command:
//! start or fix, pin, notes, tag, build_rpms, mock, publish, notify; then push, only
//! with `--push`. A journal ([`super::journal`]) records each step done: a failed run is
//! finished with `--resume` or undone with `--abort`, and no step ever runs twice.
//!
//! `build_rpms` and `mock` are other targets' work; they are plugged in through
//! [`ReleasePipeline`].

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use super::journal::{Journal, Status};
use super::notify::{self, Webhook};
use super::{fix, notes, pin, publish, push, start, tag, Action, Repo, State, Step, Version};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::Context;

/// The release being built, as `build_rpms` and `mock` need it.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: Version,
    /// The release tag (`rpm-1.2`), which exists when `build_rpms` runs.
    pub tag: String,
    /// The tagged commit, checked out in the workspace.
    pub commit: String,
}

/// The steps of the whole path that belong to other targets.
pub trait ReleasePipeline {
    /// Builds the channel's collection of the tagged release (checked out in the
    /// workspace) and returns the directory holding its RPMs.
    fn build_rpms(&self, ctx: &Context, release: &Release, channel: Channel) -> Result<Utf8PathBuf>;
    /// Installs the collection in a throwaway root and checks it, failing the release if not.
    fn mock(&self, ctx: &Context, release: &Release, channel: Channel, collection: &Utf8Path) -> Result<()>;
    /// Checks, before the first step changes anything, that the later steps can run here.
    fn preflight(&self, ctx: &Context, channel: Channel) -> Result<()>;
    /// The source release of the tag (`dist`), beside the collection.
    fn dist(&self, ctx: &Context, release: &Release, channel: Channel) -> Result<()>;
    /// The workspace's crates to the configured registry (`release publish-crates`).
    fn publish_crates(&self, ctx: &Context) -> Result<()>;
}

/// What `release 1.2` was asked to do.
pub struct Options<'a> {
    pub version: Version,
    pub channel: Channel,
    pub push: bool,
    pub resume: bool,
    pub abort: bool,
    pub message_file: Option<&'a Utf8Path>,
    pub repo_dir: Utf8PathBuf,
    pub webhook_file: Option<&'a Utf8Path>,
}

/// The steps of the whole path, in order; the first is `start` for a release, `fix` for a
/// micro version. The journal stores them by [`PathStep::name`] (the names journals of
/// earlier versions hold, so those read unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PathStep {
    #[serde(rename = "start")]
    Start,
    #[serde(rename = "fix")]
    Fix,
    #[serde(rename = "pin")]
    Pin,
    #[serde(rename = "notes")]
    Notes,
    #[serde(rename = "tag")]
    Tag,
    #[serde(rename = "build_rpms")]
    BuildRpms,
    #[serde(rename = "mock")]
    Mock,
    #[serde(rename = "dist")]
    Dist,
    #[serde(rename = "publish")]
    Publish,
    #[serde(rename = "publish-crates")]
    PublishCrates,
    #[serde(rename = "notify")]
    Notify,
    #[serde(rename = "push")]
    Push,
}

impl PathStep {
    pub const ALL: [PathStep; 12] = [
        PathStep::Start,
        PathStep::Fix,
        PathStep::Pin,
        PathStep::Notes,
        PathStep::Tag,
        PathStep::BuildRpms,
        PathStep::Mock,
        PathStep::Dist,
        PathStep::Publish,
        PathStep::PublishCrates,
        PathStep::Notify,
        PathStep::Push,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PathStep::Start => "start",
            PathStep::Fix => "fix",
            PathStep::Pin => "pin",
            PathStep::Notes => "notes",
            PathStep::Tag => "tag",
            PathStep::BuildRpms => "build_rpms",
            PathStep::Mock => "mock",
            PathStep::Dist => "dist",
            PathStep::Publish => "publish",
            PathStep::PublishCrates => "publish-crates",
            PathStep::Notify => "notify",
            PathStep::Push => "push",
        }
    }
}

impl std::fmt::Display for PathStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Test hook (test builds only): `TRAINYARD_FAIL_AFTER=tag` fails the run right after that
/// step is recorded; `tag:abort` kills the process there instead (no cleanup, as `kill -9` would).
#[cfg(feature = "test-hooks")]
const FAIL_AFTER: &str = "TRAINYARD_FAIL_AFTER";

/// Test hook (test builds only): `TRAINYARD_KILL_AT=start:3` sends SIGKILL to this process
/// before the fourth action (git command or file write) of the step `start`; `start:N` with N
/// the number of actions kills it after the last one, before the journal records the step done.
#[cfg(feature = "test-hooks")]
const KILL_AT: &str = "TRAINYARD_KILL_AT";

/// A step of the whole path as planned before the first one runs.
struct Planned {
    step: PathStep,
    work: Work,
}

enum Work {
    /// A step that commits, tags or branches: its exact plan.
    Git(Step),
    /// Another target's work (build_rpms, mock, dist, publish, publish-crates) or the push,
    /// whose actions are planned when it runs, from what the steps before it made.
    Later(String),
    /// The announcement: its webhook (found and checked now) and the message.
    Notify(Option<(Webhook, String)>),
}

/// How a value only the run knows is shown in the plan: a commit a step will make.
pub fn commit_of(step: PathStep) -> String {
    format!("<the commit of the {step} step>")
}

pub fn run(repo: &Repo, opts: &Options<'_>, pipeline: &dyn ReleasePipeline) -> Result<()> {
    let ctx = repo.ctx;
    let v = opts.version;
    let version = v.to_string();
    if opts.abort {
        return abort(repo, &version);
    }
    // Problems found before the first action, reported together (the inputs, the privileges
    // `mock` needs, every step's preconditions).
    let mut problems = Vec::new();
    if let Err(e) = check_inputs(repo, opts) {
        problems.push(e);
    }
    let in_progress = Journal::in_progress(&ctx.ws)?;
    if let Some(j) = in_progress.as_ref().filter(|j| j.version != version) {
        return Err(Error::usage(format!("the release of {} is in progress, not finished", j.version)).with_help(
            format!("finish it: {0} release {1} --resume, or undo it: {0} release {1} --abort", ctx.program, j.version),
        ));
    }
    let existing = Journal::load(&ctx.ws, &version)?;
    let mut journal = match existing {
        Some(j) if j.status == Status::InProgress && !opts.resume => {
            let inside = j.running.as_ref().map(|r| format!(", inside `{}`", r.step)).unwrap_or_default();
            let done = if j.done.is_empty() {
                "no step done".to_string()
            } else {
                j.done.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
            };
            return Err(Error::usage(format!("the release of {version} was interrupted after: {done}{inside}"))
                .with_help(format!(
                    "finish it: {0} release {version} --resume, or undo it: {0} release {version} --abort",
                    ctx.program
                )));
        }
        Some(j) => j,
        None if opts.resume => {
            return Err(Error::usage(format!("there is no release of {version} to resume")));
        }
        None => Journal::begin(repo, &v, opts.channel.as_str())?,
    };
    if journal.channel != opts.channel.as_str() {
        return Err(Error::usage(format!(
            "the release of {version} is for RPM_CHANNEL={}, not {}",
            journal.channel, opts.channel
        )));
    }
    let interrupted = journal.running.as_ref().filter(|_| opts.resume).map(|r| r.step);
    if let Some(step) = interrupted {
        // The step the kill interrupted is taken back to where it began, then run whole (the
        // dry-run prints how).
        for line in journal.undo_running(repo)? {
            ctx.effects.result(format!("release {version}: interrupted `{step}`: {line}"));
        }
    }
    let fresh = journal.done.is_empty() && journal.running.is_none() && journal.status == Status::InProgress;
    if fresh && problems.is_empty() {
        // Saved before anything changes, so that `--abort` can always put things back (a run
        // whose inputs are refused never gets that far: it leaves no journal).
        journal.save(repo)?;
    }
    if !journal.is_done(PathStep::Mock) {
        // A release that would stop at `mock` for want of privileges stops before it tags (and
        // its dry-run says so).
        if let Err(e) = pipeline.preflight(ctx, opts.channel) {
            problems.push(e);
        }
    }
    let status_before = tracked_status(repo)?;
    let result = match interrupted {
        // The steps left are planned from the repository as the undo above leaves it, which a
        // dry-run (having printed the undo, not done it) does not have: only the run plans them.
        Some(step) if problems.is_empty() => {
            let mut left = super::Plan::new();
            left.later(format!("the steps left, planned from the repository as taking `{step}` back leaves it"));
            ctx.effects
                .execute_then(&left, || run_steps(repo, opts, pipeline, &mut journal, Vec::new()))
                .map(Option::flatten)
        }
        _ => run_steps(repo, opts, pipeline, &mut journal, problems),
    };
    let notify_failure = match result {
        Ok(failure) => failure,
        Err(err) => {
            // A run refused before it changed anything leaves no journal behind.
            let saved = Journal::load(&ctx.ws, &version)?.is_some();
            if fresh && saved && journal.done.is_empty() && unchanged(repo, &journal, &status_before)? {
                journal.remove(repo)?;
            }
            return Err(err);
        }
    };
    if !opts.push {
        ctx.effects.note(format!("(not pushing: add --push, or run `{} release push` afterwards)", ctx.program));
    }
    if let Some(err) = notify_failure {
        return Err(err.with_help(format!(
            "the release is done and stays; retry the notification: {} release {version} --resume",
            ctx.program
        )));
    }
    journal.status = Status::Done;
    journal.save(repo)?;
    let pushed = if journal.is_done(PathStep::Push) { "" } else { "; nothing was pushed: `release push` when ready" };
    ctx.effects.result(format!("released {} {version}{pushed}", ctx.ws.config.name()));
    Ok(())
}

/// Every input a later step reads, checked before the first step changes anything: a
/// message file that is missing, or a webhook file in the repository, fails the run here
/// (exit 2, nothing changed), not after two commits.
fn check_inputs(repo: &Repo, opts: &Options<'_>) -> Result<()> {
    let ctx = repo.ctx;
    let notes_done = Journal::load(&ctx.ws, &opts.version.to_string())?.is_some_and(|j| j.is_done(PathStep::Notes));
    if !notes_done {
        match opts.message_file {
            Some(f) => notes::check_impacts(&ctx.effects, &notes::Impacts::File(f))?,
            None => notes::check_impacts(&ctx.effects, &notes::Impacts::Editor)?,
        }
    }
    if opts.webhook_file.is_some() {
        Webhook::find(opts.webhook_file, &ctx.ws.root)?;
    }
    let release_txt = ctx.ws.root.join(super::RELEASE_FILE);
    if let Ok(text) = std::fs::read_to_string(&release_txt) {
        notes::check_dates(&release_txt, &text)?;
    }
    Ok(())
}

/// Plans every step not done yet, then runs them; returns the notification's failure, which
/// does not stop the release.
fn run_steps(
    repo: &Repo,
    opts: &Options<'_>,
    pipeline: &dyn ReleasePipeline,
    journal: &mut Journal,
    mut problems: Vec<Error>,
) -> Result<Option<Error>> {
    let ctx = repo.ctx;
    let v = opts.version;
    let version = v.to_string();
    let members = super::manifest::following_members(ctx)?;
    // The whole plan first: every step's preconditions and inputs (the message file, the
    // editor's text, the webhook) are checked before the first step changes anything.
    let planned = match plan_steps(repo, opts, journal, &members) {
        Ok(planned) if problems.is_empty() => planned,
        Ok(_) => return Err(together(&v, problems)),
        Err(e) => {
            problems.push(e);
            return Err(together(&v, problems));
        }
    };
    ctx.effects.note(format!("plan of the release of {version} ({} channel):", opts.channel));
    let unknown = known_at_run_time(&planned);
    // The notes as planned (a message file read once, an editor opened once).
    let notes_section = planned.iter().find_map(|p| match &p.work {
        Work::Git(s) if p.step == PathStep::Notes => {
            s.after.release_notes.as_deref().and_then(|t| notes::section(t, &v))
        }
        _ => None,
    });
    // The executor's delegate: each step's actions go through `Effects::apply` (a dry-run prints
    // them), with the journal recording, between them, where the release is.
    let mut notify_failure = None;
    for Planned { step, work } in planned {
        ctx.effects.say(format!("release {version}: {step}"));
        let phase = crate::ui::Phase::events_only(format!("release {version}: {step}"));
        // Every effect below comes after `enter`: the journal knows the step before it acts.
        let enter = |journal: &mut Journal, writes| -> Result<()> {
            journal.enter(repo, step, writes)?;
            kill_at(step, 0, usize::MAX);
            Ok(())
        };
        match work {
            Work::Git(s) => {
                // A run plans the step again from the repository as it is now: the plan printed,
                // with the commits the steps before it made in place of their names.
                let again = || {
                    let state = State::read(repo)?;
                    let impacts = notes::Impacts::Written(notes_section.clone().unwrap_or_default());
                    git_step(repo, step, &state, &members, &v, impacts)
                };
                let Some(planned) = ctx.effects.planned_again(Some(s), again)? else { continue };
                enter(journal, writes_of(repo, &planned.plan))?;
                run_step(repo, journal, step, planned)?;
            }
            Work::Later(what) => {
                enter(journal, Default::default())?;
                ctx.effects.later(what, || {
                    match step {
                        PathStep::BuildRpms => {
                            let release = release_of(repo, &v)?;
                            journal.collection = Some(pipeline.build_rpms(ctx, &release, opts.channel)?);
                        }
                        PathStep::Mock => {
                            let release = release_of(repo, &v)?;
                            pipeline.mock(ctx, &release, opts.channel, collection(journal)?)?;
                        }
                        PathStep::Dist => pipeline.dist(ctx, &release_of(repo, &v)?, opts.channel)?,
                        PathStep::PublishCrates => pipeline.publish_crates(ctx)?,
                        PathStep::Publish => {
                            // It says what it published (version, packages, where).
                            publish::publish(ctx, collection(journal)?, &opts.repo_dir, opts.channel)?;
                        }
                        PathStep::Push => push::run(repo)?,
                        PathStep::Start
                        | PathStep::Fix
                        | PathStep::Pin
                        | PathStep::Notes
                        | PathStep::Tag
                        | PathStep::Notify => {}
                    }
                    Ok(())
                })?;
            }
            Work::Notify(hook) => {
                match enter(journal, Default::default())
                    .and_then(|()| post_announcement(repo, &v, hook.as_ref().map(|(h, b)| (h, b.as_str()))))
                {
                    Ok(()) => journal.notify_error = None,
                    Err(err) => {
                        eprintln!("{err}");
                        journal.running = None;
                        journal.notify_error = Some(err.message.clone());
                        notify_failure = Some(err);
                        journal.save(repo)?;
                        continue;
                    }
                }
            }
        }
        phase.elapsed();
        journal.finish(repo, step)?;
        fail_after(step)?;
    }
    if !unknown.is_empty() {
        ctx.effects.note(format!(
            "(known only at run time: {}, the id{} of commits not made yet)",
            unknown.join(", "),
            if unknown.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(notify_failure)
}

/// Problems found before the first action, as one error: each said once, every `help:` kept;
/// the exit code is the first problem's.
fn together(v: &Version, mut problems: Vec<Error>) -> Error {
    let mut seen = Vec::new();
    problems.retain(|e| {
        let new = !seen.contains(&e.message);
        seen.push(e.message.clone());
        new
    });
    if problems.len() == 1 {
        return problems.remove(0);
    }
    let mut message = format!("cannot release {v}: {} problems", problems.len());
    let mut help: Vec<String> = Vec::new();
    for e in &problems {
        message.push_str(&format!("\n  - {}", e.message.replace('\n', "\n    ")));
        if let Some(h) = e.help.as_ref().filter(|h| !help.contains(h)) {
            help.push(h.clone());
        }
    }
    let code = problems[0].exit_code();
    let mut err = Error::usage(message).with_code(code);
    if !help.is_empty() {
        err = err.with_help(help.join("\n"));
    }
    err
}

/// The plan of every step not done yet, each step planned on the state the one before it
/// leaves: a commit a step makes is named ([`commit_of`]) where a later step uses it.
fn plan_steps(repo: &Repo, opts: &Options<'_>, journal: &Journal, members: &[String]) -> Result<Vec<Planned>> {
    let ctx = repo.ctx;
    let v = opts.version;
    let tag = repo.tag_name(&v);
    let mut state = State::read(repo)?;
    let mut planned = Vec::new();
    for step in PathStep::ALL {
        if journal.is_done(step) || !wanted(repo, &state, &v, step, opts)? {
            continue;
        }
        let impacts = match opts.message_file {
            Some(f) => notes::Impacts::File(f),
            None => notes::Impacts::Editor,
        };
        if let Some(mut s) = git_step(repo, step, &state, members, &v, impacts)? {
            if makes_commit(&s.plan) {
                s.after.planned_head = Some(commit_of(step));
            }
            state = s.after.clone();
            planned.push(Planned { step, work: Work::Git(s) });
            continue;
        }
        let channel = opts.channel;
        let work = match step {
            PathStep::BuildRpms => Work::Later(format!("build_rpms RPM_CHANNEL={channel} at {tag}")),
            PathStep::Mock => Work::Later(format!("mock the collection of {tag}")),
            PathStep::Dist => Work::Later(format!(
                "dist RPM_CHANNEL={channel} at {tag} (source tarball, source RPM, listed in the collection)"
            )),
            PathStep::Publish => Work::Later(format!(
                "publish the collection to {} (createrepo_c)",
                publish::channel_dir(&opts.repo_dir, channel)
            )),
            PathStep::PublishCrates => Work::Later(format!(
                "release publish-crates to registry {}",
                ctx.ws.config.registry.as_deref().unwrap_or_default()
            )),
            PathStep::Push => {
                Work::Later(format!("push to `{}` the release's branches and tags it lacks", super::REMOTE))
            }
            PathStep::Notify => Work::Notify(match Webhook::find(opts.webhook_file, &ctx.ws.root)? {
                Some(hook) => {
                    let body = announcement(repo, &state, &v, channel);
                    Some((hook, body))
                }
                None => None,
            }),
            PathStep::Start | PathStep::Fix | PathStep::Pin | PathStep::Notes | PathStep::Tag => continue,
        };
        planned.push(Planned { step, work });
    }
    Ok(planned)
}

/// The plan of a step that commits, tags or branches; `None` for the others.
fn git_step(
    repo: &Repo,
    step: PathStep,
    state: &State,
    members: &[String],
    v: &Version,
    impacts: notes::Impacts<'_>,
) -> Result<Option<Step>> {
    Ok(Some(match step {
        PathStep::Start => start::plan(repo, state, members, v)?,
        PathStep::Fix => {
            let at = state.version(repo)?;
            if at.next_micro() != *v {
                return Err(Error::usage(format!(
                    "{v} does not follow the version of this branch ({at}): the next fix is {}",
                    at.next_micro()
                )));
            }
            fix::plan(repo, state, members)?
        }
        PathStep::Pin => pin::plan(repo, state)?,
        PathStep::Notes => notes::plan(repo, state, impacts)?,
        PathStep::Tag => tag::plan(repo, state)?,
        _ => return Ok(None),
    }))
}

/// Whether a plan makes a commit (HEAD moves to a commit that does not exist yet).
fn makes_commit(plan: &super::Plan) -> bool {
    plan.actions.iter().any(|a| {
        matches!(a, Action::Run(c) if c.program == "git"
            && c.args.get(2).is_some_and(|sub| matches!(sub.as_str(), "commit" | "merge" | "cherry-pick")))
    })
}

/// The commits the plan names ([`commit_of`]) that a later step uses: their ids exist only once
/// the run has made them.
fn known_at_run_time(planned: &[Planned]) -> Vec<String> {
    let named = planned.iter().filter_map(|p| match &p.work {
        Work::Git(s) if makes_commit(&s.plan) => Some(commit_of(p.step)),
        _ => None,
    });
    named.filter(|n| planned.iter().any(|p| uses(p, n))).collect()
}

/// Whether a step's plan names `value`.
fn uses(p: &Planned, value: &str) -> bool {
    match &p.work {
        Work::Git(s) => s.plan.actions.iter().any(|a| matches!(a, Action::Run(c) if c.args.iter().any(|x| x == value))),
        _ => false,
    }
}

fn tracked_status(repo: &Repo) -> Result<String> {
    repo.git.read(&["status", "--porcelain", "--untracked-files=no"])
}

/// Whether the run left the local refs, HEAD and tracked files as they were.
fn unchanged(repo: &Repo, journal: &Journal, status_before: &str) -> Result<bool> {
    Ok(repo.local_refs()? == journal.refs_before && tracked_status(repo)? == status_before && {
        let head = match repo.git.current_branch()? {
            Some(b) => b,
            None => repo.git.head()?,
        };
        head == journal.head_before
    })
}

/// Whether a step applies to this release in this state (a step whose effect is already
/// there, from a run killed before it was recorded or from a step run by hand, is skipped).
fn wanted(repo: &Repo, state: &State, v: &Version, step: PathStep, opts: &Options<'_>) -> Result<bool> {
    let at = || state.version(repo);
    let on_branch = state.branch.as_deref() == Some(repo.branch_name(v).as_str());
    Ok(match step {
        PathStep::Start => !(v.is_fix() || on_branch && at()? == *v),
        PathStep::Fix => v.is_fix() && at()? != *v,
        PathStep::Notes => state.release_notes.as_deref().is_none_or(|t| notes::section(t, v).is_none()),
        PathStep::Tag => {
            let tag = repo.tag_name(v);
            !(repo.tag_exists(&tag)? && repo.resolve(&format!("refs/tags/{tag}"))?.as_deref() == Some(&state.head))
        }
        PathStep::Push => opts.push,
        PathStep::PublishCrates => repo.ctx.ws.config.registry.is_some(),
        PathStep::Pin
        | PathStep::BuildRpms
        | PathStep::Mock
        | PathStep::Dist
        | PathStep::Publish
        | PathStep::Notify => true,
    })
}

fn run_step(repo: &Repo, journal: &mut Journal, step: PathStep, planned: Step) -> Result<State> {
    let total = planned.plan.actions.len();
    for (i, action) in planned.plan.actions.iter().enumerate() {
        if let Some(target) = checkout_target(action) {
            journal.checking_out(repo, target)?;
        }
        kill_at(step, i, total);
        repo.ctx.effects.apply(action)?;
    }
    kill_at(step, total, total);
    Ok(planned.after)
}

/// The branch a `git switch`/`git checkout` action goes to.
fn checkout_target(action: &Action) -> Option<&str> {
    let Action::Run(cmd) = action else { return None };
    if cmd.program != "git" {
        return None;
    }
    let args = match cmd.args.first().map(String::as_str) {
        Some("-C") => cmd.args.get(2..).unwrap_or_default(),
        _ => &cmd.args[..],
    };
    match args.first().map(String::as_str) {
        Some("switch" | "checkout") => args[1..].iter().rfind(|a| !a.starts_with('-')).map(String::as_str),
        _ => None,
    }
}

/// The files a plan writes, relative to the workspace root, with the digest of each write.
fn writes_of(repo: &Repo, plan: &super::Plan) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut writes = std::collections::BTreeMap::<String, Vec<String>>::new();
    for action in &plan.actions {
        if let Action::Write { path, contents } = action {
            let rel = path.strip_prefix(&repo.ctx.ws.root).unwrap_or(path);
            writes.entry(rel.to_string()).or_default().push(super::journal::digest(contents));
        }
    }
    writes
}

/// The [`KILL_AT`] hook: SIGKILL, as an out-of-memory killer or a CI timeout sends it.
#[cfg(feature = "test-hooks")]
fn kill_at(step: PathStep, index: usize, total: usize) {
    let Ok(value) = std::env::var(KILL_AT) else { return };
    let Some((name, at)) = value.split_once(':') else { return };
    let wanted = if at == "end" { total } else { at.parse().unwrap_or(usize::MAX - 1) };
    if name != step.name() || wanted != index {
        return;
    }
    let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
    std::thread::sleep(std::time::Duration::from_secs(60));
    std::process::abort();
}

#[cfg(not(feature = "test-hooks"))]
fn kill_at(_step: PathStep, _index: usize, _total: usize) {}

/// The [`FAIL_AFTER`] hook.
#[cfg(feature = "test-hooks")]
fn fail_after(step: PathStep) -> Result<()> {
    let Ok(value) = std::env::var(FAIL_AFTER) else { return Ok(()) };
    let (name, how) = value.split_once(':').unwrap_or((&value, ""));
    if name != step.name() {
        return Ok(());
    }
    if how == "abort" {
        std::process::abort();
    }
    Err(Error::failed(format!("stopped after `{step}` ({FAIL_AFTER} is set)")))
}

#[cfg(not(feature = "test-hooks"))]
fn fail_after(_step: PathStep) -> Result<()> {
    Ok(())
}

fn release_of(repo: &Repo, v: &Version) -> Result<Release> {
    let tag = repo.tag_name(v);
    let commit = repo
        .resolve(&format!("refs/tags/{tag}"))?
        .ok_or_else(|| Error::failed(format!("the tag {tag} is missing: was it deleted during the release?")))?;
    Ok(Release { version: *v, tag, commit })
}

fn collection(journal: &Journal) -> Result<&Utf8Path> {
    journal.collection.as_deref().ok_or_else(|| Error::failed("the journal has no collection: build_rpms did not run"))
}

/// Announces the release on the webhook; no webhook configured is a note, not an error.
pub fn announce(
    repo: &Repo,
    state: &State,
    v: &Version,
    channel: Channel,
    webhook_file: Option<&Utf8Path>,
) -> Result<()> {
    let ctx = repo.ctx;
    let hook = Webhook::find(webhook_file, &ctx.ws.root)?;
    let body = announcement(repo, state, v, channel);
    post_announcement(repo, v, hook.as_ref().map(|h| (h, body.as_str())))
}

/// The message announcing `v`: the notes' section of the release.
fn announcement(repo: &Repo, state: &State, v: &Version, channel: Channel) -> String {
    let section = state.release_notes.as_deref().and_then(|t| notes::section(t, v)).unwrap_or_default();
    notify::payload(repo.ctx.ws.config.name(), &v.to_string(), channel.as_str(), &repo.tag_name(v), &section)
}

fn notify_line(v: &Version, hook: &Webhook) -> String {
    format!("notify: post the release of {v} to the webhook from {}", hook.origin)
}

/// Posts the announcement (no webhook: a note).
fn post_announcement(repo: &Repo, v: &Version, hook: Option<(&Webhook, &str)>) -> Result<()> {
    let ctx = repo.ctx;
    let Some((hook, body)) = hook else {
        let no_hook = format!("no webhook (${} or --webhook-file FILE): the release is not announced", notify::URL_VAR);
        ctx.effects.note(format!("  {no_hook}"));
        ctx.effects.result(format!("note: {no_hook}"));
        return Ok(());
    };
    // The post itself, planned when it runs: an in-process HTTP request, or curl (https) run by
    // the executor.
    ctx.effects.later(notify_line(v, hook), || notify::post(&ctx.effects, hook, body))?;
    ctx.effects.note(format!("  the message: {body}"));
    ctx.effects.result(format!("announced {} {v} on the webhook from {}", ctx.ws.config.name(), hook.origin));
    Ok(())
}

fn abort(repo: &Repo, version: &str) -> Result<()> {
    let ctx = repo.ctx;
    let Some(journal) = Journal::load(&ctx.ws, version)?.filter(|j| j.status == Status::InProgress) else {
        return Err(Error::usage(format!("there is no release of {version} in progress to abort")));
    };
    let said = journal.restore_refs(repo)?;
    journal.remove(repo)?;
    let mut left = Vec::new();
    if journal.is_done(PathStep::Publish) {
        left.push("the packages published stay in the repository directory");
    }
    if journal.is_done(PathStep::Notify) {
        left.push("the announcement was sent");
    }
    if journal.is_done(PathStep::Push) {
        left.push("what was pushed stays on the remote");
    }
    for line in &said {
        ctx.effects.result(format!("release {version} --abort: {line}"));
    }
    if !said.iter().any(|l| !l.starts_with("left alone")) {
        ctx.effects.result(format!("release {version} --abort: no branch, tag or file of the release had changed"));
    }
    let left = if left.is_empty() { String::new() } else { format!(" ({})", left.join("; ")) };
    ctx.effects.result(format!("the release of {version} is undone{left}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal stores steps by their names, the ones journals of earlier versions hold.
    #[test]
    fn steps_are_journaled_by_their_old_names() {
        for step in PathStep::ALL {
            assert_eq!(serde_json::to_string(&step).unwrap(), format!("\"{}\"", step.name()));
        }
        let old: Vec<PathStep> =
            serde_json::from_str(r#"["start", "pin", "notes", "tag", "build_rpms", "publish-crates"]"#).unwrap();
        assert_eq!(
            old,
            [
                PathStep::Start,
                PathStep::Pin,
                PathStep::Notes,
                PathStep::Tag,
                PathStep::BuildRpms,
                PathStep::PublishCrates
            ]
        );
        assert!(serde_json::from_str::<PathStep>("\"tagg\"").is_err());
    }
}
