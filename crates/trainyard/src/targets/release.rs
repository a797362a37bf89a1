//! `release <step>` and `release 1.2`: the release process as commands (see `crate::release`).

use camino::{Utf8Path, Utf8PathBuf};

use crate::channel::Channel;
use crate::cli::{Args, FlagSpec, Origin, TargetSpec, Var, VarSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::release::pipeline::{self, Release, ReleasePipeline};
use crate::release::{
    backport, fix, history, notes, pin, promote, publish, push, rollback, start, tag, ReleaseVersion, Repo, State,
};
use crate::targets::build::channel_arg;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "release",
    summary: "the release process: start, pin, notes, tag, fix, backport, push; or `release 1.2` for all of it",
    usage: "<start X.Y | pin | notes | tag | fix | backport [X.Y] | push | publish | promote V | rollback V | history \
            | notify | X.Y[.Z]> [--dry-run] ...",
    about: "Steps (each checks every precondition first and reports all problems at once; none pushes):\n\
            \x20 start X.Y      cut X.Y-release from the default branch; the default branch moves to the next\n\
            \x20                train (commit `starting the X.Y+1 development`); X.Y.0 on the release branch\n\
            \x20 pin            on the release branch: pin reqs/stage-reqs.txt and reqs/prod-reqs.txt, commit\n\
            \x20 notes          add the release's section to RELEASE.txt ($EDITOR, or --message-file FILE\n\
            \x20                with the Impacts lines); an empty or unchanged section aborts\n\
            \x20 tag            tag the release (rpm-X.Y, annotated) once version, RELEASE.txt and tag agree\n\
            \x20 fix            after a tagged release, move the release branch to the next micro version\n\
            \x20 backport [X.Y] list the release branch's commits the default branch lacks; --apply picks them\n\
            \x20 push           push the default branch, release branches and tags in one atomic push\n\
            \x20 publish        publish a collection (--from DIR) to <repo>/<channel>/: signed copies, signed\n\
            \x20                metadata; the same name with other bytes is refused, the same bytes do nothing\n\
            \x20 promote V      copy release V's published bytes --from stage --to prod (re-signed only if\n\
            \x20                prod has another key)\n\
            \x20 rollback V     make V the newest release of --channel: newer ones move to its archive\n\
            \x20 history        what was published, promoted and rolled back in --channel, by whom, when\n\
            \x20 notify         announce the tagged release on the webhook ($TRAINYARD_WEBHOOK_URL or --webhook-file)\n\
            \n\
            `release X.Y` (or `release X.Y.Z` for a fix) runs start|fix, pin, notes, tag, build_rpms, mock,\n\
            publish and notify, and pushes only with --push. Its journal in target/trainyard/release/ lets a\n\
            failed run be finished (--resume) or undone (--abort: local branches and tags as before).",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "channel to build and publish: dev, stage or prod (default prod)" }],
    flags: &[
        DRY_RUN,
        FlagSpec {
            name: "message-file",
            value: Some("FILE"),
            help: "notes: the Impacts lines (no $EDITOR)",
            var: None,
        },
        FlagSpec { name: "apply", value: None, help: "backport: cherry-pick the listed commits", var: None },
        FlagSpec { name: "push", value: None, help: "whole release: push at the end", var: None },
        FlagSpec { name: "resume", value: None, help: "whole release: finish an interrupted run", var: None },
        FlagSpec { name: "abort", value: None, help: "whole release: undo an interrupted run", var: None },
        FlagSpec {
            name: "repo-dir",
            value: Some("DIR"),
            help: "package repositories, one per channel: a directory or ssh://[user@]host[:port]/path \
                   (default $TRAINYARD_REPO, publish.repo, target/trainyard/repos)",
            var: None,
        },
        FlagSpec {
            name: "from",
            value: Some("DIR|CHANNEL"),
            help: "publish: the collection's directory; promote: the channel to copy from",
            var: None,
        },
        FlagSpec { name: "to", value: Some("CHANNEL"), help: "promote: the channel to copy to", var: None },
        FlagSpec {
            name: "allow-prerelease",
            value: None,
            help: "promote: let a beta or rc into stage or prod",
            var: None,
        },
        FlagSpec {
            name: "webhook-file",
            value: Some("FILE"),
            help: "the webhook URL (kept outside the repository)",
            var: None,
        },
        FlagSpec { name: "channel", value: Some("NAME"), help: "same as RPM_CHANNEL=NAME", var: Some("RPM_CHANNEL") },
    ],
    takes_projects: true,
    max_positional: 2,
    passthrough: false,
};

/// The steps of the whole path that belong to other targets: the real `build_rpms` and `mock`.
pub const PIPELINE: &dyn ReleasePipeline = &Targets;

pub struct Targets;

/// The context another target runs in for the release: the channel, and the internal
/// projects' refs the release was given.
fn target_context(ctx: &Context, channel: Channel) -> Context {
    let mut args = Args::default();
    let projects = ctx.ws.config.project_vars();
    args.vars =
        ctx.args.vars.iter().filter(|(k, _)| projects.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    args.vars.insert("RPM_CHANNEL".into(), Var { value: channel.as_str().into(), origin: Origin::CommandLine });
    Context { ws: ctx.ws.clone(), args, effects: ctx.effects, program: ctx.program.clone() }
}

impl ReleasePipeline for Targets {
    fn build_rpms(&self, ctx: &Context, _release: &Release, channel: Channel) -> Result<Utf8PathBuf> {
        Ok(crate::targets::build_rpms::collect(&target_context(ctx, channel))?.out_dir)
    }

    fn mock(&self, ctx: &Context, _release: &Release, channel: Channel, _collection: &Utf8Path) -> Result<()> {
        // `mock` collects again: unchanged packages are not written twice.
        crate::targets::mock::run(&target_context(ctx, channel))
    }

    fn preflight(&self, ctx: &Context, channel: Channel) -> Result<()> {
        crate::targets::mock::preflight(&target_context(ctx, channel)).map(|_| ())
    }
}

/// The flags each step takes (`dry-run` and `channel` are checked separately).
fn allowed(step: &str) -> &'static [&'static str] {
    match step {
        "notes" => &["message-file"],
        "backport" => &["apply"],
        "publish" => &["from", "repo-dir"],
        "promote" => &["from", "to", "repo-dir", "allow-prerelease"],
        "rollback" | "history" => &["repo-dir"],
        "notify" => &["webhook-file"],
        "whole" => &["message-file", "push", "resume", "abort", "repo-dir", "webhook-file"],
        _ => &[],
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let args = &ctx.args;
    let Some(first) = args.positional.first() else {
        return Err(Error::usage("`release` needs a step or a version").with_help(format!(
            "{} release start 1.2 | pin | notes | tag | fix | backport | push | publish | promote | rollback | history \
             | notify, or {} release 1.2",
            ctx.program, ctx.program
        )));
    };
    let step = if first.starts_with(|c: char| c.is_ascii_digit()) { "whole" } else { first.as_str() };
    let known = [
        "start", "pin", "notes", "tag", "fix", "backport", "push", "publish", "promote", "rollback", "history",
        "notify", "whole",
    ];
    if !known.contains(&step) {
        let names: Vec<String> = known[..known.len() - 1].iter().map(|s| s.to_string()).collect();
        let mut help = format!("steps: {}; or a version (release 1.2)", names.join(", "));
        if let Some(near) = crate::cli::closest(step, &names) {
            help = format!("did you mean `{near}`?\n{help}");
        }
        return Err(Error::usage(format!("unknown release step `{step}`")).with_help(help));
    }
    let wrong: Vec<String> = SPEC
        .flags
        .iter()
        .map(|f| f.name)
        .filter(|f| !matches!(*f, "dry-run" | "channel") && args.flag(f) && !allowed(step).contains(f))
        .map(|f| format!("--{f}"))
        .collect();
    if !wrong.is_empty() {
        let shown = if step == "whole" { "release X.Y".to_string() } else { format!("release {step}") };
        return Err(Error::usage(format!(
            "{} {} not an option of `{shown}`",
            wrong.join(", "),
            if wrong.len() == 1 { "is" } else { "are" }
        )));
    }
    let takes_word = matches!(step, "start" | "backport" | "promote" | "rollback");
    let words = if step == "whole" { 1 } else { 1 + usize::from(takes_word) };
    if args.positional.len() > words {
        return Err(Error::usage(format!("unexpected argument `{}`", args.positional[words]))
            .with_help(format!("usage: {} release {}", ctx.program, SPEC.usage)));
    }
    let word = args.positional.get(1).map(String::as_str);
    let repo = Repo::open(ctx)?;
    let path = |name: &str| args.value(name).map(Utf8Path::new);
    let channel = || channel_arg(ctx, "RPM_CHANNEL", Channel::Prod);
    match step {
        "start" => {
            let Some(v) = word else {
                return Err(Error::usage("`release start` needs the version to release").with_help("release start 1.2"));
            };
            let v = ReleaseVersion::parse(v)?;
            let members = crate::release::manifest::following_members(ctx)?;
            let state = State::read(&repo)?;
            run_plan(
                &repo,
                start::plan(&repo, &state, &members, &v)?.plan,
                &format!("started {v} on {}", repo.branch_name(&v)),
            )
        }
        "pin" => run_plan(&repo, pin::plan(&repo, &State::read(&repo)?)?.plan, "pinned stage and prod"),
        "notes" => {
            let impacts = match path("message-file") {
                Some(f) => notes::Impacts::File(f),
                None => notes::Impacts::Editor,
            };
            run_plan(&repo, notes::plan(&repo, &State::read(&repo)?, impacts)?.plan, "wrote the release notes")
        }
        "tag" => run_plan(&repo, tag::plan(&repo, &State::read(&repo)?)?.plan, "tagged"),
        "fix" => {
            let members = crate::release::manifest::following_members(ctx)?;
            run_plan(&repo, fix::plan(&repo, &State::read(&repo)?, &members)?.plan, "moved to the next micro version")
        }
        "backport" => backport::run(&repo, &State::read(&repo)?, word, args.flag("apply")),
        "push" => push::run(&repo),
        "publish" => {
            let Some(from) = path("from") else {
                return Err(Error::usage("`release publish` needs the collection: --from DIR"));
            };
            let packages = publish::publish(ctx, from, &repo_dir(ctx)?, channel()?)?;
            for p in &packages {
                println!("{}", p.nevra);
            }
            Ok(())
        }
        "promote" => {
            let (Some(v), Some(from), Some(to)) = (word, args.value("from"), args.value("to")) else {
                return Err(Error::usage("`release promote` needs a version and two channels")
                    .with_help(format!("{} release promote 1.3.1 --from stage --to prod", ctx.program)));
            };
            let promotion = promote::Promotion {
                version: v,
                from: Channel::parse(from)?,
                to: Channel::parse(to)?,
                allow_prerelease: args.flag("allow-prerelease"),
            };
            promote::promote(ctx, &publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?, &promotion)
        }
        "rollback" => {
            let Some(v) = word else {
                return Err(Error::usage("`release rollback` needs the version to go back to")
                    .with_help(format!("{} release rollback 1.2 --channel prod", ctx.program)));
            };
            rollback::rollback(ctx, &publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?, v, channel()?)
        }
        "history" => {
            let dest = publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?;
            let channel = channel()?;
            print!("{}", history::render(&dest.describe(channel), &dest.read_history(channel)?));
            Ok(())
        }
        "notify" => {
            let state = State::read(&repo)?;
            let v = state.version(&repo)?;
            let tag = repo.tag_name(&v);
            if !repo.tag_exists(&tag)? {
                return Err(Error::usage(format!("{v} is not released: there is no tag {tag}")));
            }
            if path("webhook-file").is_none()
                && !std::env::var(crate::release::notify::URL_VAR).is_ok_and(|u| !u.trim().is_empty())
            {
                return Err(Error::usage("no webhook to notify")
                    .with_help(format!("set ${} or give --webhook-file FILE", crate::release::notify::URL_VAR)));
            }
            pipeline::announce(&repo, &state, &v, channel()?, path("webhook-file"))
        }
        _ => {
            let v = ReleaseVersion::parse(first)?;
            if args.flag("resume") && args.flag("abort") {
                return Err(Error::usage("--resume and --abort exclude each other"));
            }
            let opts = pipeline::Options {
                version: v,
                channel: channel()?,
                push: args.flag("push"),
                resume: args.flag("resume"),
                abort: args.flag("abort"),
                message_file: path("message-file"),
                repo_dir: repo_dir(ctx)?,
                webhook_file: path("webhook-file"),
            };
            pipeline::run(&repo, &opts, PIPELINE)
        }
    }
}

/// The repositories' place (a directory or an `ssh://` URL), as `publish::destination` finds it.
fn repo_dir(ctx: &Context) -> Result<Utf8PathBuf> {
    Ok(publish::destination(ctx, ctx.args.value("repo-dir"))?.to_arg().into())
}

fn run_plan(repo: &Repo, plan: crate::release::Plan, done: &str) -> Result<()> {
    if plan.is_empty() {
        println!("nothing to do");
        return Ok(());
    }
    plan.run(repo)?;
    if !repo.ctx.effects.dry_run {
        eprintln!("trainyard: {done}");
    }
    Ok(())
}
