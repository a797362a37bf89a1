//! `release 1.2`: the whole path of a release (or, for `1.2.1`, a fix), one command:
//! start or fix, pin, notes, tag, build_rpms, mock, publish, notify; then push, only
//! with `--push`. A journal ([`super::journal`]) records each step done: a failed run is
//! finished with `--resume` or undone with `--abort`, and no step ever runs twice.
//!
//! `build_rpms` and `mock` are other targets' work; they are plugged in through
//! [`ReleasePipeline`].

use camino::{Utf8Path, Utf8PathBuf};

use super::journal::{Journal, Status};
use super::notify::{self, Webhook};
use super::{fix, notes, pin, publish, push, start, tag, Repo, State, Step, Version};
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

/// The steps in order; the first is `start` for a release, `fix` for a micro version.
const STEPS: &[&str] = &[
    "start",
    "fix",
    "pin",
    "notes",
    "tag",
    "build_rpms",
    "mock",
    "dist",
    "publish",
    "publish-crates",
    "notify",
    "push",
];

/// Test hook: `TRAINYARD_FAIL_AFTER=tag` fails the run right after that step is recorded;
/// `tag:abort` kills the process there instead (no cleanup, as `kill -9` would).
const FAIL_AFTER: &str = "TRAINYARD_FAIL_AFTER";

/// Test hook: `TRAINYARD_KILL_AT=start:3` sends SIGKILL to this process before the fourth
/// action (git command or file write) of the step `start`; `start:N` with N the number of
/// actions kills it after the last one, before the journal records the step done.
const KILL_AT: &str = "TRAINYARD_KILL_AT";

pub fn run(repo: &Repo, opts: &Options<'_>, pipeline: &dyn ReleasePipeline) -> Result<()> {
    let ctx = repo.ctx;
    let v = opts.version;
    let version = v.to_string();
    if opts.abort {
        return abort(repo, &version);
    }
    check_inputs(repo, opts)?;
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
            let done = if j.done.is_empty() { "no step done".to_string() } else { j.done.join(", ") };
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
    if opts.resume && journal.running.is_some() && !ctx.effects.dry_run {
        // The step the kill interrupted is taken back to where it began, then run whole.
        let step = journal.running.as_ref().map(|r| r.step.clone()).unwrap_or_default();
        for line in journal.undo_running(repo)? {
            eprintln!("trainyard: release {version}: interrupted `{step}`: {line}");
        }
    }
    let fresh = journal.done.is_empty() && journal.running.is_none() && journal.status == Status::InProgress;
    if fresh && !ctx.effects.dry_run {
        // Saved before anything changes, so that `--abort` can always put things back.
        journal.save(&ctx.ws)?;
    }
    if !ctx.effects.dry_run && !journal.is_done("mock") {
        // A release that would stop at `mock` for want of privileges stops before it tags.
        pipeline.preflight(ctx, opts.channel)?;
    }
    let status_before = tracked_status(repo)?;
    let notify_failure = match run_steps(repo, opts, pipeline, &mut journal) {
        Ok(failure) => failure,
        Err(err) => {
            // A run refused before it changed anything leaves no journal behind.
            if fresh && !ctx.effects.dry_run && journal.done.is_empty() && unchanged(repo, &journal, &status_before)? {
                journal.remove(&ctx.ws)?;
            }
            return Err(err);
        }
    };
    if ctx.effects.dry_run {
        if !opts.push {
            println!("(not pushing: add --push, or run `{} release push` afterwards)", ctx.program);
        }
        return Ok(());
    }
    if let Some(err) = notify_failure {
        return Err(err.with_help(format!(
            "the release is done and stays; retry the notification: {} release {version} --resume",
            ctx.program
        )));
    }
    journal.status = Status::Done;
    journal.save(&ctx.ws)?;
    let pushed = if journal.is_done("push") { "" } else { "; nothing was pushed: `release push` when ready" };
    eprintln!("trainyard: released {} {version}{pushed}", ctx.ws.config.name());
    Ok(())
}

/// Every input a later step reads, checked before the first step changes anything: a
/// message file that is missing, or a webhook file in the repository, fails the run here
/// (exit 2, nothing changed), not after two commits.
fn check_inputs(repo: &Repo, opts: &Options<'_>) -> Result<()> {
    let ctx = repo.ctx;
    let notes_done = Journal::load(&ctx.ws, &opts.version.to_string())?.is_some_and(|j| j.is_done("notes"));
    if !notes_done {
        match opts.message_file {
            Some(f) => notes::check_impacts(&notes::Impacts::File(f))?,
            None if !ctx.effects.dry_run => notes::check_impacts(&notes::Impacts::Editor)?,
            None => {}
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

/// Runs the steps not done yet; returns the notification's failure, which does not stop the release.
fn run_steps(
    repo: &Repo,
    opts: &Options<'_>,
    pipeline: &dyn ReleasePipeline,
    journal: &mut Journal,
) -> Result<Option<Error>> {
    let ctx = repo.ctx;
    let v = opts.version;
    let version = v.to_string();
    let members = super::manifest::following_members(ctx)?;
    let mut state = State::read(repo)?;
    if ctx.effects.dry_run {
        println!("plan of the release of {version} ({} channel):", opts.channel);
    }
    let mut notify_failure = None;
    for &step in STEPS {
        if journal.is_done(step) {
            continue;
        }
        if !wanted(repo, &state, &v, step, opts)? {
            continue;
        }
        if !ctx.effects.dry_run {
            state = State::read(repo)?;
        }
        ctx.effects.say(format!("release {version}: {step}"));
        let phase = crate::ui::Phase::events_only(format!("release {version}: {step}"));
        // Every effect below comes after `enter`: the journal knows the step before it acts.
        let enter = |journal: &mut Journal, writes| -> Result<()> {
            if ctx.effects.dry_run {
                return Ok(());
            }
            journal.enter(repo, step, writes)?;
            kill_at(step, 0, usize::MAX);
            Ok(())
        };
        let git_step = |journal: &mut Journal, planned: super::Step| -> Result<State> {
            enter(journal, writes_of(repo, &planned.plan))?;
            run_step(repo, journal, step, planned)
        };
        match step {
            "start" => state = git_step(journal, start::plan(repo, &state, &members, &v)?)?,
            "fix" => {
                let at = state.version(repo)?;
                if at.next_micro() != v {
                    return Err(Error::usage(format!(
                        "{v} does not follow the version of this branch ({at}): the next fix is {}",
                        at.next_micro()
                    )));
                }
                state = git_step(journal, fix::plan(repo, &state, &members)?)?;
            }
            "pin" => state = git_step(journal, pin::plan(repo, &state)?)?,
            "notes" => {
                let impacts = match opts.message_file {
                    Some(f) => notes::Impacts::File(f),
                    None => notes::Impacts::Editor,
                };
                state = git_step(journal, notes::plan(repo, &state, impacts)?)?;
            }
            "tag" => state = git_step(journal, tag::plan(repo, &state)?)?,
            "build_rpms" | "mock" | "dist" | "publish" | "publish-crates" if ctx.effects.dry_run => {
                let tag = repo.tag_name(&v);
                match step {
                    "build_rpms" => println!("would build_rpms RPM_CHANNEL={} at {tag}", opts.channel),
                    "mock" => println!("would mock the collection of {tag}"),
                    "dist" => println!(
                        "would dist RPM_CHANNEL={} at {tag} (source tarball, source RPM, listed in the collection)",
                        opts.channel
                    ),
                    "publish-crates" => println!(
                        "would release publish-crates to registry {}",
                        ctx.ws.config.registry.as_deref().unwrap_or_default()
                    ),
                    _ => println!(
                        "would publish the collection to {} (createrepo_c --update)",
                        publish::channel_dir(&opts.repo_dir, opts.channel)
                    ),
                }
            }
            "build_rpms" => {
                let release = release_of(repo, &v)?;
                enter(journal, Default::default())?;
                journal.collection = Some(pipeline.build_rpms(ctx, &release, opts.channel)?);
            }
            "mock" => {
                let release = release_of(repo, &v)?;
                enter(journal, Default::default())?;
                pipeline.mock(ctx, &release, opts.channel, collection(journal)?)?;
            }
            "dist" => {
                let release = release_of(repo, &v)?;
                enter(journal, Default::default())?;
                pipeline.dist(ctx, &release, opts.channel)?;
            }
            "publish-crates" => {
                enter(journal, Default::default())?;
                pipeline.publish_crates(ctx)?;
            }
            "publish" => {
                enter(journal, Default::default())?;
                let packages = publish::publish(ctx, collection(journal)?, &opts.repo_dir, opts.channel)?;
                eprintln!(
                    "trainyard: published {} package{} to {}",
                    packages.len(),
                    if packages.len() == 1 { "" } else { "s" },
                    publish::channel_dir(&opts.repo_dir, opts.channel)
                );
            }
            "notify" => match enter(journal, Default::default())
                .and_then(|()| announce(repo, &state, &v, opts.channel, opts.webhook_file))
            {
                Ok(()) => journal.notify_error = None,
                Err(err) if !ctx.effects.dry_run => {
                    eprintln!("{err}");
                    journal.running = None;
                    journal.notify_error = Some(err.message.clone());
                    notify_failure = Some(err);
                    journal.save(&ctx.ws)?;
                    continue;
                }
                Err(err) => return Err(err),
            },
            "push" => {
                enter(journal, Default::default())?;
                push::run(repo)?
            }
            _ => unreachable!("unknown step {step}"),
        }
        phase.elapsed();
        if ctx.effects.dry_run {
            continue;
        }
        journal.finish(repo, step)?;
        fail_after(step)?;
    }
    Ok(notify_failure)
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
fn wanted(repo: &Repo, state: &State, v: &Version, step: &str, opts: &Options<'_>) -> Result<bool> {
    let at = || state.version(repo);
    let on_branch = state.branch.as_deref() == Some(repo.branch_name(v).as_str());
    Ok(match step {
        "start" => !(v.is_fix() || on_branch && at()? == *v),
        "fix" => v.is_fix() && at()? != *v,
        "notes" => state.release_notes.as_deref().is_none_or(|t| notes::section(t, v).is_none()),
        "tag" => {
            let tag = repo.tag_name(v);
            !(repo.tag_exists(&tag)? && repo.resolve(&format!("refs/tags/{tag}"))?.as_deref() == Some(&state.head))
        }
        "push" => opts.push,
        "publish-crates" => repo.ctx.ws.config.registry.is_some(),
        _ => true,
    })
}

fn run_step(repo: &Repo, journal: &mut Journal, name: &str, step: Step) -> Result<State> {
    let total = step.plan.actions.len();
    step.plan.run_each(repo, |i, action| {
        if let Some(target) = checkout_target(action) {
            journal.checking_out(repo, target)?;
        }
        kill_at(name, i, total);
        Ok(())
    })?;
    kill_at(name, total, total);
    Ok(step.after)
}

/// The branch a `git switch`/`git checkout` action goes to.
fn checkout_target(action: &super::Action) -> Option<&str> {
    let super::Action::Git(args) = action else { return None };
    match args.first().map(String::as_str) {
        Some("switch" | "checkout") => args[1..].iter().rfind(|a| !a.starts_with('-')).map(String::as_str),
        _ => None,
    }
}

/// The files a plan writes, relative to the workspace root, with the digest of each write.
fn writes_of(repo: &Repo, plan: &super::Plan) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut writes = std::collections::BTreeMap::<String, Vec<String>>::new();
    for action in &plan.actions {
        if let super::Action::Write { path, text } = action {
            let rel = path.strip_prefix(&repo.ctx.ws.root).unwrap_or(path);
            writes.entry(rel.to_string()).or_default().push(super::journal::digest(text.as_bytes()));
        }
    }
    writes
}

/// The [`KILL_AT`] hook: SIGKILL, as an out-of-memory killer or a CI timeout sends it.
fn kill_at(step: &str, index: usize, total: usize) {
    let Ok(value) = std::env::var(KILL_AT) else { return };
    let Some((name, at)) = value.split_once(':') else { return };
    let wanted = if at == "end" { total } else { at.parse().unwrap_or(usize::MAX - 1) };
    if name != step || wanted != index {
        return;
    }
    let _ = std::process::Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
    std::thread::sleep(std::time::Duration::from_secs(60));
    std::process::abort();
}

fn fail_after(step: &str) -> Result<()> {
    let Ok(value) = std::env::var(FAIL_AFTER) else { return Ok(()) };
    let (name, how) = value.split_once(':').unwrap_or((&value, ""));
    if name != step {
        return Ok(());
    }
    if how == "abort" {
        std::process::abort();
    }
    Err(Error::failed(format!("stopped after `{step}` ({FAIL_AFTER} is set)")))
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
    let Some(hook) = Webhook::find(webhook_file, &ctx.ws.root)? else {
        eprintln!(
            "trainyard: note: no webhook (${} or --webhook-file FILE): the release is not announced",
            notify::URL_VAR
        );
        return Ok(());
    };
    let section = state.release_notes.as_deref().and_then(|t| notes::section(t, v)).unwrap_or_default();
    let body = notify::payload(ctx.ws.config.name(), &v.to_string(), channel.as_str(), &repo.tag_name(v), &section);
    if ctx.effects.dry_run {
        println!("would post to the webhook from {}: {body}", hook.origin);
        return Ok(());
    }
    notify::post(&hook, &body)?;
    eprintln!("trainyard: announced {} {v} on the webhook from {}", ctx.ws.config.name(), hook.origin);
    Ok(())
}

fn abort(repo: &Repo, version: &str) -> Result<()> {
    let ctx = repo.ctx;
    let Some(journal) = Journal::load(&ctx.ws, version)?.filter(|j| j.status == Status::InProgress) else {
        return Err(Error::usage(format!("there is no release of {version} in progress to abort")));
    };
    let said = journal.restore_refs(repo)?;
    if ctx.effects.dry_run {
        return Ok(());
    }
    journal.remove(&ctx.ws)?;
    let mut left = Vec::new();
    if journal.is_done("publish") {
        left.push("the packages published stay in the repository directory");
    }
    if journal.is_done("notify") {
        left.push("the announcement was sent");
    }
    if journal.is_done("push") {
        left.push("what was pushed stays on the remote");
    }
    for line in &said {
        eprintln!("trainyard: release {version} --abort: {line}");
    }
    if !said.iter().any(|l| !l.starts_with("left alone")) {
        eprintln!("trainyard: release {version} --abort: no branch, tag or file of the release had changed");
    }
    let left = if left.is_empty() { String::new() } else { format!(" ({})", left.join("; ")) };
    eprintln!("trainyard: the release of {version} is undone{left}");
    Ok(())
}
