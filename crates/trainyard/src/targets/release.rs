//! `release <step>` and `release 1.2`: the release process as commands (see `crate::release`).

use camino::{Utf8Path, Utf8PathBuf};

use crate::channel::Channel;
use crate::cli::{Args, FlagSpec, Origin, TargetSpec, Var, VarSpec, DRY_RUN};
use crate::config::Flow;
use crate::error::{Error, Result};
use crate::release::pipeline::{self, Release, ReleasePipeline};
use crate::release::{
    backport, cherry_pick, fix, freeze, history, notes, pin, prerelease, promote, publish, push, rollback, start, tag,
    Repo, State, Version,
};
use crate::targets::options;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "release",
    summary: "the release process: start, pin, notes, tag, fix, backport, push; or `release 1.2` for all of it",
    usage: "<start X.Y | pin | notes | tag | fix | backport [X.Y] | freeze | beta | rc | cherry-pick COMMIT... | push \
            | publish | promote V | rollback V | history | notify | X.Y[.Z]> [--dry-run] ...",
    about: "Steps (each checks every precondition first and reports all problems at once; none pushes):\n\
            \x20 start X.Y      cut X.Y-release from the default branch; the default branch moves to the next\n\
            \x20                train (commit `starting the X.Y+1 development`); X.Y.0 on the release branch\n\
            \x20 pin            on the release branch: pin reqs/stage-reqs.txt and reqs/prod-reqs.txt, commit\n\
            \x20 notes          add the release's section to RELEASE.txt ($EDITOR, or --message-file FILE\n\
            \x20                with the Impacts lines); an empty or unchanged section aborts\n\
            \x20 tag            tag the release (rpm-X.Y, annotated) once version, RELEASE.txt and tag agree\n\
            \x20 fix            after a tagged release, move the release branch to the next micro version\n\
            \x20 backport [X.Y] list the release branch's commits the default branch lacks; --apply picks them\n\
            \x20 push           push the default branch (and rc), the release branches and the version tags\n\
            \x20                (betas and rcs included) the remote lacks, in one atomic push of explicit refspecs\n\
            \n\
            With flow = \"rc-beta\" (master / rc / version branches):\n\
            \x20 freeze         merge the default branch into rc; the default branch moves to the next minor (.dev1)\n\
            \x20 beta | rc      on rc: cut the version branch (0.12), tag v0.12.0b1 (rc1), move it to the next one;\n\
            \x20                on a version branch: tag the beta (rc) its version names, move to the next\n\
            \x20 tag            on a version branch: the final (v0.12.0), once RELEASE.txt has its section\n\
            \x20 cherry-pick C  pick commits downstream (default -> rc -> version branch) with -x; never upstream\n\
            \n\
            \x20 publish        publish a collection (--from DIR) to <repo>/<channel>/: signed copies, signed\n\
            \x20                metadata; the same name with other bytes is refused, the same bytes do nothing;\n\
            \x20                stage and prod refuse dev builds, and betas and rcs unless --allow-prerelease\n\
            \x20 promote V      copy release V's published bytes --from stage --to prod (re-signed only if\n\
            \x20                prod has another key)\n\
            \x20 rollback V     make V the newest release of --channel: newer ones move to its archive\n\
            \x20 history        what was published, promoted and rolled back in --channel, by whom, when\n\
            \x20 publish-crates cargo publish the workspace's crates, in dependency order, to the registry named by\n\
            \x20                [workspace.metadata.trainyard] registry (token: $CARGO_REGISTRIES_<NAME>_TOKEN or cargo's\n\
            \x20                credential providers); crates already there are skipped, so a rerun resumes\n\
            \x20 minor | patch  the next version computed (the default branch's train, or the next fix of the\n\
            \x20                release HEAD descends from), printed, then `release X.Y[.Z]` with it (also\n\
            \x20                `release start minor`); a value that would not go up is refused (exit 2)\n\
            \x20 beta | rc      (release-branch flow) on a started release's branch: the next beta (rc),\n\
            \x20                computed (1.3b1, 1.3b2, 1.3rc1), printed, set and tagged; the branch moves to\n\
            \x20                the next one (1.3b2.devN sorts above 1.3b1); `release tag` makes the final\n\
            \x20 notify         announce the tagged release on the webhook ($TRAINYARD_WEBHOOK_URL or --webhook-file)\n\
            \n\
            `release X.Y` (or `release X.Y.Z` for a fix) runs start|fix, pin, notes, tag, build_rpms, mock,\n\
            dist, publish, publish-crates (when a registry is configured) and notify, and pushes only with\n\
            --push. Its journal in target/trainyard/release/ lets a failed run be finished (--resume) or\n\
            undone (--abort: local branches and tags as before).",
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
            help: "publish, promote: let betas and release candidates into stage or prod",
            var: None,
        },
        FlagSpec {
            name: "webhook-file",
            value: Some("FILE"),
            help: "the webhook URL (kept outside the repository)",
            var: None,
        },
        FlagSpec { name: "channel", value: Some("NAME"), help: "same as RPM_CHANNEL=NAME", var: Some("RPM_CHANNEL") },
        options::TRIGGER_FLAG,
    ],
    takes_projects: true,
    max_positional: 64,
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

    fn dist(&self, ctx: &Context, _release: &Release, channel: Channel) -> Result<()> {
        // The tarball and source RPM are listed in the collection build_rpms just wrote.
        let ctx = target_context(ctx, channel);
        let args = crate::targets::options::CollectionArgs::parse(&ctx.args)?;
        let collection = crate::targets::build_rpms::out_dir(&ctx, &args)?;
        crate::targets::dist::run_into(&ctx, Some(&collection.path))
    }

    fn publish_crates(&self, ctx: &Context) -> Result<()> {
        crate::release::crates::run(ctx)
    }

    fn preflight(&self, ctx: &Context, channel: Channel) -> Result<()> {
        crate::targets::mock::preflight(&target_context(ctx, channel)).map(|_| ())
    }
}

/// What `release` is asked to do: one step, or the whole path (`release X.Y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Start,
    Pin,
    Notes,
    Tag,
    Fix,
    Backport,
    Freeze,
    Beta,
    Rc,
    CherryPick,
    Push,
    Publish,
    Promote,
    Rollback,
    History,
    Notify,
    PublishCrates,
    /// `release X.Y[.Z]`: every step of the release (see [`pipeline`]).
    Whole,
}

impl Command {
    /// The steps, in the order `--help` and the error messages list them.
    const STEPS: [Command; 17] = [
        Command::Start,
        Command::Pin,
        Command::Notes,
        Command::Tag,
        Command::Fix,
        Command::Backport,
        Command::Freeze,
        Command::Beta,
        Command::Rc,
        Command::CherryPick,
        Command::Push,
        Command::Publish,
        Command::Promote,
        Command::Rollback,
        Command::History,
        Command::Notify,
        Command::PublishCrates,
    ];

    fn name(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Pin => "pin",
            Command::Notes => "notes",
            Command::Tag => "tag",
            Command::Fix => "fix",
            Command::Backport => "backport",
            Command::Freeze => "freeze",
            Command::Beta => "beta",
            Command::Rc => "rc",
            Command::CherryPick => "cherry-pick",
            Command::Push => "push",
            Command::Publish => "publish",
            Command::Promote => "promote",
            Command::Rollback => "rollback",
            Command::History => "history",
            Command::Notify => "notify",
            Command::PublishCrates => "publish-crates",
            Command::Whole => "X.Y",
        }
    }

    /// A step by its name; a word starting with a digit is a version: the whole path.
    fn parse(word: &str) -> Result<Command> {
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            return Ok(Command::Whole);
        }
        if let Some(step) = Command::STEPS.into_iter().find(|s| s.name() == word) {
            return Ok(step);
        }
        let names: Vec<String> = Command::STEPS.iter().map(|s| s.name().to_string()).collect();
        let mut help = format!("steps: {}; or a version (release 1.2)", names.join(", "));
        if let Some(near) = crate::cli::closest(word, &names) {
            help = format!("did you mean `{near}`?\n{help}");
        }
        Err(Error::usage(format!("unknown release step `{word}`")).with_help(help))
    }

    /// The flags it takes (`dry-run` and `channel` are checked separately).
    fn flags(self) -> &'static [&'static str] {
        match self {
            Command::Notes => &["message-file"],
            Command::Backport => &["apply"],
            Command::Publish => &["from", "repo-dir", "allow-prerelease", "trigger"],
            Command::Promote => &["from", "to", "repo-dir", "allow-prerelease"],
            Command::Rollback | Command::History => &["repo-dir"],
            Command::Notify => &["webhook-file"],
            Command::PublishCrates => &["trigger"],
            Command::Whole => &["message-file", "push", "resume", "abort", "repo-dir", "webhook-file"],
            _ => &[],
        }
    }

    /// How many words it takes after `release`, itself included.
    fn words(self, given: usize) -> usize {
        match self {
            Command::Whole => 1,
            Command::CherryPick => given,
            Command::Start | Command::Backport | Command::Promote | Command::Rollback => 2,
            _ => 1,
        }
    }

    fn usage(self) -> String {
        match self {
            Command::Whole => "release X.Y".to_string(),
            step => format!("release {}", step.name()),
        }
    }
}

/// The options of `release`, read once from the command line.
struct Options<'a> {
    command: Command,
    /// The word after the step (`start 1.2`, `promote 1.3.1`, `backport 1.2`), or the version.
    word: Option<&'a str>,
    /// Every word after the step (`cherry-pick C1 C2`).
    words: &'a [String],
    message_file: Option<&'a Utf8Path>,
    webhook_file: Option<&'a Utf8Path>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    apply: bool,
    push: bool,
    resume: bool,
    abort: bool,
    allow_prerelease: bool,
}

impl<'a> Options<'a> {
    /// Parses `release`'s words and flags, refusing a flag its step does not take and words
    /// beyond the ones it takes. `first` is the step or version (`release minor` computed).
    fn parse(ctx: &'a Context, first: &'a str) -> Result<Options<'a>> {
        let args = &ctx.args;
        let command = Command::parse(first)?;
        let wrong: Vec<String> = SPEC
            .flags
            .iter()
            .map(|f| f.name)
            .filter(|f| !matches!(*f, "dry-run" | "channel") && args.flag(f) && !command.flags().contains(f))
            .map(|f| format!("--{f}"))
            .collect();
        if !wrong.is_empty() {
            return Err(Error::usage(format!(
                "{} {} not an option of `{}`",
                wrong.join(", "),
                if wrong.len() == 1 { "is" } else { "are" },
                command.usage()
            )));
        }
        let words = command.words(args.positional.len());
        if args.positional.len() > words {
            return Err(Error::usage(format!("unexpected argument `{}`", args.positional[words]))
                .with_help(format!("usage: {} release {}", ctx.program, SPEC.usage)));
        }
        if args.flag("resume") && args.flag("abort") {
            return Err(Error::usage("--resume and --abort exclude each other"));
        }
        let path = |name: &str| args.value(name).map(Utf8Path::new);
        Ok(Options {
            command,
            word: if command == Command::Whole { Some(first) } else { args.positional.get(1).map(String::as_str) },
            words: args.positional.get(1..).unwrap_or_default(),
            message_file: path("message-file"),
            webhook_file: path("webhook-file"),
            from: args.value("from"),
            to: args.value("to"),
            apply: args.flag("apply"),
            push: args.flag("push"),
            resume: args.flag("resume"),
            abort: args.flag("abort"),
            allow_prerelease: args.flag("allow-prerelease"),
        })
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
    // `release minor` / `release patch`: the version computed, then as if it had been typed.
    let computed;
    let first = match crate::release::next::Word::parse(first) {
        Some(word) => {
            if args.flag("resume") || args.flag("abort") {
                return Err(Error::usage(format!("`release {}` computes a new version", word.as_str()))
                    .with_help("resume or abort the run by its version: release X.Y --resume (or --abort)"));
            }
            computed = computed_version(ctx, word)?;
            println!("release {}: {computed}", word.as_str());
            computed.as_str()
        }
        None => first.as_str(),
    };
    let opts = Options::parse(ctx, first)?;
    let step = opts.command;
    let word = opts.word;
    if let Some(refused) = word
        .filter(|_| matches!(step, Command::Start | Command::Backport | Command::Promote | Command::Rollback))
        .and_then(|w| crate::release::next::refuse_elsewhere(step.name(), w))
    {
        return Err(refused);
    }
    let repo = Repo::open(ctx)?;
    let channel = || options::channel(&ctx.args, "RPM_CHANNEL", Channel::Prod);
    let flow = ctx.ws.config.flow;
    let only_in = |wanted: Flow| -> Result<()> {
        if flow == wanted {
            return Ok(());
        }
        let (this, other_help) = match wanted {
            Flow::RcBeta => (
                "the rc-beta flow (master / rc / version branches)",
                "set flow = \"rc-beta\" under [workspace.metadata.trainyard] in Cargo.toml to use it",
            ),
            Flow::ReleaseBranch => (
                "the release-branch flow",
                "in the rc-beta flow: release freeze, then release beta | rc | tag on the version branch; fixes go downstream with release cherry-pick",
            ),
        };
        Err(Error::usage(format!("`release {}` belongs to {this}", step.name())).with_help(other_help))
    };
    match step {
        Command::Start => {
            let Some(v) = word else {
                return Err(Error::usage("`release start` needs the version to release").with_help("release start 1.2"));
            };
            only_in(Flow::ReleaseBranch)?;
            let v = match crate::release::next::Word::parse(v) {
                Some(w) => {
                    let computed = computed_version(ctx, w)?;
                    println!("release start {v}: {computed}");
                    Version::parse_release(&computed)?
                }
                None => repo.line(Version::parse_release(v)?)?,
            };
            let members = crate::release::manifest::following_members(ctx)?;
            let state = State::read(&repo)?;
            run_plan(
                &repo,
                start::plan(&repo, &state, &members, &v)?.plan,
                &format!("started {v} on {}", repo.branch_name(&v)),
            )
        }
        Command::Pin => run_plan(&repo, pin::plan(&repo, &State::read(&repo)?)?.plan, "pinned stage and prod"),
        Command::Notes => {
            let impacts = match opts.message_file {
                Some(f) => notes::Impacts::File(f),
                None => notes::Impacts::Editor,
            };
            run_plan(&repo, notes::plan(&repo, &State::read(&repo)?, impacts)?.plan, "wrote the release notes")
        }
        Command::Tag => {
            let state = State::read(&repo)?;
            let exact = state.exact_version(&repo)?;
            if !exact.is_release() {
                // The final of a branch at its next beta or rc: set the final, then tag it.
                let members = crate::release::manifest::following_members(ctx)?;
                let v = exact.release();
                let after = state.with_version(&repo, &members, &v)?;
                // The tag's commit is the one this step makes first: named, as its id exists only then.
                let planned = State { planned_head: Some("<the commit of the final version>".into()), ..after.clone() };
                let check = tag::plan(&repo, &planned)?;
                use crate::release::GitPlan;
                let mut set = crate::release::Plan::default();
                let paths = set.write_version(&repo, &state, &after);
                set.commit(&repo, &paths, &crate::release::messages::version(&v));
                ctx.effects.execute(&set)?;
                // A run tags the commit it has just made, planned again from the repository.
                let tag = ctx.effects.planned_again(check.plan, || Ok(tag::plan(&repo, &State::read(&repo)?)?.plan))?;
                run_plan(&repo, tag, "tagged")?;
                ctx.effects.note(
                    "(known only at run time: <the commit of the final version>, the id of a commit not made yet)",
                );
                return Ok(());
            }
            run_plan(&repo, tag::plan(&repo, &state)?.plan, "tagged")
        }
        Command::Fix => {
            let members = crate::release::manifest::following_members(ctx)?;
            run_plan(&repo, fix::plan(&repo, &State::read(&repo)?, &members)?.plan, "moved to the next micro version")
        }
        Command::Backport => {
            only_in(Flow::ReleaseBranch)?;
            backport::run(&repo, &State::read(&repo)?, word, opts.apply)
        }
        Command::Freeze => {
            only_in(Flow::RcBeta)?;
            let members = crate::release::manifest::following_members(ctx)?;
            let state = State::read(&repo)?;
            run_plan(
                &repo,
                freeze::plan(&repo, &state, &members)?.plan,
                "froze; the default branch is on its next train",
            )
        }
        Command::Beta | Command::Rc => {
            // Both flows: the version computed from the branch and the release's tags, printed.
            let kind = if step == Command::Beta { prerelease::Kind::Beta } else { prerelease::Kind::Rc };
            let members = crate::release::manifest::following_members(ctx)?;
            let state = State::read(&repo)?;
            let (v, step_plan) = prerelease::computed(&repo, &state, &members, kind)?;
            println!("release {}: {v}", step.name());
            run_plan(&repo, step_plan.plan, &format!("tagged the {} {}", step.name(), repo.tag_name(&v)))
        }
        Command::CherryPick => {
            only_in(Flow::RcBeta)?;
            cherry_pick::run(&repo, &State::read(&repo)?, opts.words)
        }
        Command::Push => push::run(&repo),
        Command::PublishCrates => crate::release::crates::run(ctx),
        Command::Publish => {
            let Some(from) = opts.from.map(Utf8Path::new) else {
                return Err(Error::usage("`release publish` needs the collection: --from DIR"));
            };
            let trigger = options::trigger(&ctx.args)?;
            publish::check_trigger(&ctx.ws, from, trigger, &|name| std::env::var(name).ok())?;
            let packages = publish::publish_allowing(ctx, from, &repo_dir(ctx)?, channel()?, opts.allow_prerelease)?;
            for p in &packages {
                println!("{}", p.nevra);
            }
            Ok(())
        }
        Command::Promote => {
            let (Some(v), Some(from), Some(to)) = (word, opts.from, opts.to) else {
                return Err(Error::usage("`release promote` needs a version and two channels")
                    .with_help(format!("{} release promote 1.3.1 --from stage --to prod", ctx.program)));
            };
            let promotion = promote::Promotion {
                version: v,
                from: Channel::parse(from)?,
                to: Channel::parse(to)?,
                allow_prerelease: opts.allow_prerelease,
            };
            promote::promote(ctx, &publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?, &promotion)
        }
        Command::Rollback => {
            let Some(v) = word else {
                return Err(Error::usage("`release rollback` needs the version to go back to")
                    .with_help(format!("{} release rollback 1.2 --channel prod", ctx.program)));
            };
            rollback::rollback(ctx, &publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?, v, channel()?)
        }
        Command::History => {
            let dest = publish::destination(ctx, Some(repo_dir(ctx)?.as_str()))?;
            let channel = channel()?;
            print!("{}", history::render(&dest.describe(channel), &dest.read_history(channel)?));
            Ok(())
        }
        Command::Notify => {
            let state = State::read(&repo)?;
            let v = state.version(&repo)?;
            let tag = repo.tag_name(&v);
            if !repo.tag_exists(&tag)? {
                return Err(Error::usage(format!("{v} is not released: there is no tag {tag}")));
            }
            if opts.webhook_file.is_none()
                && !std::env::var(crate::release::notify::URL_VAR).is_ok_and(|u| !u.trim().is_empty())
            {
                return Err(Error::usage("no webhook to notify")
                    .with_help(format!("set ${} or give --webhook-file FILE", crate::release::notify::URL_VAR)));
            }
            pipeline::announce(&repo, &state, &v, channel()?, opts.webhook_file)
        }
        Command::Whole => {
            let v = repo.line(Version::parse_release(first)?)?;
            if flow == Flow::RcBeta && !v.is_fix() && !opts.resume && !opts.abort {
                return Err(Error::usage(format!(
                    "`release {v}` cuts a release branch, which the rc-beta flow does not have"
                ))
                .with_help(format!(
                    "in the rc-beta flow: release freeze, then on {}: release beta | rc, and on the version branch: release notes, release tag; `release X.Y.Z` runs a fix's whole path",
                    ctx.ws.config.rc_branch
                )));
            }
            let whole = pipeline::Options {
                version: v,
                channel: channel()?,
                push: opts.push,
                resume: opts.resume,
                abort: opts.abort,
                message_file: opts.message_file,
                repo_dir: repo_dir(ctx)?,
                webhook_file: opts.webhook_file,
            };
            pipeline::run(&repo, &whole, PIPELINE)
        }
    }
}

/// The repositories' place (a directory or an `ssh://` URL), as `publish::destination` finds it.
fn repo_dir(ctx: &Context) -> Result<Utf8PathBuf> {
    Ok(publish::destination(ctx, ctx.args.value("repo-dir"))?.to_arg().into())
}

/// The version `release minor|patch` names, from HEAD's version, the tag it counts from, the
/// newest release tag and the line's precision.
fn computed_version(ctx: &Context, word: crate::release::next::Word) -> Result<String> {
    use crate::release::next::{compute, Head};
    let repo = Repo::open(ctx)?;
    let described = crate::scm::describe(&ctx.ws, crate::scm::Trigger::Auto)?;
    let prefix = &ctx.ws.config.tag_prefix;
    let from_tag = described.tag.as_deref().and_then(|t| Version::parse_tag(t, prefix)).and_then(|r| r.ok());
    let newest = repo.release_tags()?.last().map(|(v, _)| *v);
    let head = Head {
        version: described.version,
        from_tag,
        on_default_branch: described.branch.as_deref() == Some(ctx.ws.config.default_branch.as_str()),
    };
    Ok(compute(word, head, newest, repo.precision()?)?.to_pep440())
}

fn run_plan(repo: &Repo, plan: crate::release::Plan, done: &str) -> Result<()> {
    if plan.is_empty() {
        println!("nothing to do");
        return Ok(());
    }
    repo.ctx.effects.execute(&plan)?;
    repo.ctx.effects.result(done);
    Ok(())
}
