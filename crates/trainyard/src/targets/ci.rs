//! `ci [plan] [--event push|tag --ref REF] [--format text|json]`: what a CI pipeline does for
//! the event that started it, decided from the CI's variables and the configuration
//! (`[workspace.metadata.trainyard.ci]`), then run through the same targets a user types.
//!
//! - a push to the default branch: nothing by default (its release comes from its tag build;
//!   a push build racing that tag build must publish nothing), `default-branch-push =
//!   "dev-release"` to change it;
//! - a push to any other branch: a dev release (`build_rpms RPM_CHANNEL=dev --trigger push`,
//!   `mock`, `release publish` into the dev channel), images tagged with the sanitised branch;
//! - a release tag: the release (the stage and prod collections from the tag, `mock`, publish
//!   to `tag-channel`, default prod; betas and rcs to dev), images tagged with the version;
//! - anything else (a pull request, a tag that is not a release tag): nothing.
//!
//! `ci plan` prints the decision and the exact commands; `ci` runs those commands in-process
//! (the library's targets, from the workspace root), in order, stopping at the first failure.

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::channel::Channel;
use crate::cli::{self, Args, FlagSpec, Options, TargetSpec, DRY_RUN};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::scm::{self, Trigger};
use crate::version::{container_tag_of_branch, Version};
use crate::Context;

pub mod generate;

pub const SPEC: TargetSpec = TargetSpec {
    name: "ci",
    summary: "run what the CI event calls for: nothing, a dev release, or a release (`ci plan` shows it)",
    usage: "[plan | generate github|gitlab [--check]] [--event push|tag --ref REF] [--format text|json] [--dry-run]",
    about: "Reads the CI event: GitHub Actions (GITHUB_EVENT_NAME, GITHUB_REF), GitLab CI\n\
            (CI_PIPELINE_SOURCE, CI_COMMIT_TAG, CI_COMMIT_BRANCH, CI_DEFAULT_BRANCH), or, for any other CI,\n\
            --event push --ref refs/heads/BRANCH / --event tag --ref refs/tags/TAG. Then, by default:\n\
            \x20 push to the default branch   nothing (default-branch-push = \"dev-release\" changes it)\n\
            \x20 push to another branch       dev release: build_rpms RPM_CHANNEL=dev --trigger push, mock,\n\
            \x20                              release publish into dev, image tagged with the sanitised branch\n\
            \x20 release tag (rpm-X.Y)        release: build_rpms for stage and prod --trigger tag, mock,\n\
            \x20                              release publish to tag-channel (prod; betas and rcs: dev);\n\
            \x20                              image tagged with the version\n\
            \x20 anything else                nothing (pull requests never publish)\n\
            Configuration: [workspace.metadata.trainyard.ci] default-branch-push, tag-channel, repo-dir,\n\
            mock, image, image-base, image-repository, image-insecure. `ci plan` prints the decision and\n\
            the exact commands (--format json for a pipeline to branch on); `ci` runs them from the\n\
            workspace root. `ci generate github|gitlab` writes the workflow that runs `ci` on pushes and\n\
            tags; --check exits 1 when the file on disk differs.\n\
            Exit codes: 0 done (or nothing to do), 1 a step failed, 2 bad input or no CI event.",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "event", value: Some("EVENT"), help: "push or tag (any CI: with --ref)", var: None },
        FlagSpec {
            name: "ref",
            value: Some("REF"),
            help: "the ref the event is for: refs/heads/BRANCH or refs/tags/TAG",
            var: None,
        },
        FlagSpec { name: "format", value: Some("FORMAT"), help: "ci plan: text (default) or json", var: None },
        FlagSpec {
            name: "check",
            value: None,
            help: "ci generate: change nothing, exit 1 when the file on disk differs",
            var: None,
        },
    ],
    takes_projects: false,
    max_positional: 2,
    passthrough: false,
};

/// What kind of event started the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Push,
    Tag,
    /// A pull/merge request, a schedule...: never publishes.
    Other,
}

/// The CI event, as the CI's variables (or `--event`/`--ref`) say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `GitHub Actions`, `GitLab CI`, or `command line`.
    pub system: String,
    pub kind: EventKind,
    /// The CI's own name of the event (`push`, `pull_request`, `merge_request_event`).
    pub name: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// The default branch, when the CI says (GitLab's CI_DEFAULT_BRANCH).
    #[serde(skip)]
    pub default_branch: Option<String>,
}

/// What the event calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Nothing,
    DevRelease,
    Release,
}

/// The decision for one event, and the exact commands that carry it out.
#[derive(Debug, Clone, Serialize)]
pub struct CiPlan {
    pub event: Event,
    pub action: Action,
    pub reason: String,
    /// PEP 440 rendering of the version the run builds and publishes.
    pub version: Option<String>,
    pub rpm_version: Option<String>,
    pub channel: Option<Channel>,
    pub image_tags: Vec<String>,
    /// Each command's words after the program (`cargo xtask`), run from the workspace root.
    pub commands: Vec<Vec<String>>,
}

/// Reads the event: `--event`/`--ref` win over the CI's variables.
pub fn read_event(event: Option<&str>, reference: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Event> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if event.is_some() || reference.is_some() {
        let Some(reference) = reference else {
            return Err(Error::usage("--event needs the ref it is for")
                .with_help("--event push --ref refs/heads/BRANCH, or --event tag --ref refs/tags/TAG"));
        };
        crate::git::validate_ref(reference).map_err(|e| e.context("--ref"))?;
        let (kind, name) = match (event, reference.strip_prefix("refs/heads/"), reference.strip_prefix("refs/tags/")) {
            (Some("push") | None, Some(branch), _) => (EventKind::Push, branch),
            (Some("tag") | None, _, Some(tag)) => (EventKind::Tag, tag),
            (Some("push"), None, None) if !reference.starts_with("refs/") => (EventKind::Push, reference),
            (Some("tag"), None, None) if !reference.starts_with("refs/") => (EventKind::Tag, reference),
            (Some(e @ ("push" | "tag")), _, _) => {
                return Err(Error::usage(format!("--event {e} does not go with --ref {reference}")).with_help(
                    "a push is to refs/heads/BRANCH (or a branch name), a tag is refs/tags/TAG (or a tag name)",
                ))
            }
            (None, _, _) => {
                return Err(Error::usage(format!("--ref {reference}: neither refs/heads/ nor refs/tags/"))
                    .with_help("--ref refs/heads/BRANCH or --ref refs/tags/TAG, or give --event push|tag"))
            }
            (Some(e), _, _) => {
                return Err(Error::usage(format!("unknown event `{}`", e.escape_debug()))
                    .with_help("--event push or --event tag"))
            }
        };
        let (branch, tag) = match kind {
            EventKind::Tag => (None, Some(name.to_string())),
            _ => (Some(name.to_string()), None),
        };
        let name = event.unwrap_or(if kind == EventKind::Tag { "tag" } else { "push" }).to_string();
        return Ok(Event { system: "command line".into(), kind, name, branch, tag, default_branch: None });
    }
    if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        let name = var("GITHUB_EVENT_NAME").unwrap_or_else(|| "push".into());
        let full = var("GITHUB_REF").unwrap_or_default();
        let by_ref = matches!(name.as_str(), "push" | "workflow_dispatch" | "create");
        let (kind, branch, tag) = match (full.strip_prefix("refs/heads/"), full.strip_prefix("refs/tags/")) {
            (Some(b), _) if by_ref => (EventKind::Push, Some(b.to_string()), None),
            (_, Some(t)) if by_ref => (EventKind::Tag, None, Some(t.to_string())),
            _ => (EventKind::Other, var("GITHUB_HEAD_REF"), None),
        };
        return Ok(Event { system: "GitHub Actions".into(), kind, name, branch, tag, default_branch: None });
    }
    if var("GITLAB_CI").as_deref() == Some("true") {
        let name = var("CI_PIPELINE_SOURCE").unwrap_or_else(|| "push".into());
        let by_ref = matches!(name.as_str(), "push" | "web" | "api" | "trigger" | "pipeline");
        let (kind, branch, tag) = match (var("CI_COMMIT_TAG"), var("CI_COMMIT_BRANCH")) {
            (Some(t), _) if by_ref => (EventKind::Tag, None, Some(t)),
            (None, Some(b)) if by_ref => (EventKind::Push, Some(b), None),
            _ => (EventKind::Other, var("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"), None),
        };
        let default_branch = var("CI_DEFAULT_BRANCH");
        return Ok(Event { system: "GitLab CI".into(), kind, name, branch, tag, default_branch });
    }
    Err(Error::usage("no CI event: this is neither GitHub Actions nor GitLab CI")
        .with_help("name the event by hand: --event push --ref refs/heads/BRANCH, or --event tag --ref refs/tags/TAG"))
}

/// The action an event calls for, and why (pure: no git).
pub fn decide(event: &Event, config: &Config) -> (Action, String) {
    let default_branch = event.default_branch.as_deref().unwrap_or(&config.default_branch);
    match event.kind {
        EventKind::Other => (Action::Nothing, format!("a `{}` event publishes nothing", event.name)),
        EventKind::Tag => {
            let tag = event.tag.as_deref().unwrap_or_default();
            match Version::parse_tag(tag, &config.tag_prefix) {
                Some(Ok(_)) => (Action::Release, format!("{tag} is a release tag")),
                _ => (
                    Action::Nothing,
                    format!("{tag} is not a release tag ({}X.Y): it publishes nothing", config.tag_prefix),
                ),
            }
        }
        EventKind::Push => {
            let branch = event.branch.as_deref().unwrap_or_default();
            if branch == default_branch {
                if config.ci.default_branch_push.as_deref() == Some("dev-release") {
                    (Action::DevRelease, format!("a push to {branch} releases a dev version (default-branch-push)"))
                } else {
                    (
                        Action::Nothing,
                        format!(
                            "a push to the default branch {branch} releases nothing: its releases come from tag builds \
                             (default-branch-push = \"dev-release\" changes it)"
                        ),
                    )
                }
            } else {
                (Action::DevRelease, format!("a push to {branch} (not the default branch) releases a dev version"))
            }
        }
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The decision and the commands for `event` in this workspace (reads git for the version).
pub fn plan(ctx: &Context, event: Event, env: &dyn Fn(&str) -> Option<String>) -> Result<CiPlan> {
    let ws = &ctx.ws;
    let config = &ws.config;
    let (action, reason) = decide(&event, config);
    let repo_dir =
        config.ci.repo_dir.clone().unwrap_or_else(|| ws.display(&ws.state_dir().join("repos")).to_path_buf());
    let collection = |channel: Channel| -> Utf8PathBuf {
        ws.display(&ws.target_dir.join("rpms").join(channel.as_str())).to_path_buf()
    };
    let mock = config.ci.mock.unwrap_or(true);
    let image = config.ci.image.unwrap_or(true);
    let mut out = CiPlan {
        event,
        action,
        reason,
        version: None,
        rpm_version: None,
        channel: None,
        image_tags: Vec::new(),
        commands: Vec::new(),
    };
    match action {
        Action::Nothing => {}
        Action::DevRelease => {
            let described = scm::describe_with(ws, Trigger::Push, env)?;
            let branch = out.event.branch.clone().unwrap_or_default();
            out.version = Some(described.pep440());
            out.rpm_version = Some(described.rpm());
            out.channel = Some(Channel::Dev);
            out.image_tags = vec![container_tag_of_branch(&branch)];
            out.commands.push(words(&["build_rpms", "RPM_CHANNEL=dev", "--trigger", "push"]));
            if mock {
                out.commands.push(words(&["mock", "RPM_CHANNEL=dev", "--trigger", "push"]));
            }
            out.commands.push(publish(&collection(Channel::Dev), &repo_dir, Channel::Dev, "push"));
            if image {
                out.commands.push(image_command(config, Channel::Dev, "push", &out.image_tags));
            }
        }
        Action::Release => {
            let tag = out.event.tag.clone().unwrap_or_default();
            let described = scm::describe_with(ws, Trigger::Tag, env)?;
            if described.tag.as_deref() != Some(tag.as_str()) {
                return Err(Error::failed(format!(
                    "the event is for tag {tag}, but HEAD carries {}",
                    described.tag.as_deref().unwrap_or("no release tag")
                ))
                .with_help(format!("check out the tag the event names: git checkout {tag}")));
            }
            let channel = match config.ci.tag_channel.as_deref() {
                _ if described.version.is_prerelease() => Channel::Dev,
                Some(c) => Channel::parse(c)?,
                None => Channel::Prod,
            };
            let source = if channel == Channel::Dev { Channel::Prod } else { channel };
            out.version = Some(described.pep440());
            out.rpm_version = Some(described.rpm());
            out.channel = Some(channel);
            out.image_tags = vec![described.container_tag()];
            out.commands.push(words(&["build_rpms", "RPM_CHANNEL=stage", "--trigger", "tag"]));
            out.commands.push(words(&["build_rpms", "RPM_CHANNEL=prod", "--trigger", "tag"]));
            if mock {
                out.commands.push(words(&["mock", "RPM_CHANNEL=prod", "--trigger", "tag"]));
            }
            out.commands.push(publish(&collection(source), &repo_dir, channel, "tag"));
            if image {
                out.commands.push(image_command(config, Channel::Prod, "tag", &out.image_tags));
            }
        }
    }
    Ok(out)
}

/// `image`: from the collection the run built, tagged as the plan says, pushed when configured.
fn image_command(config: &Config, channel: Channel, trigger: &str, tags: &[String]) -> Vec<String> {
    let mut out = vec!["image".into(), format!("RPM_CHANNEL={channel}"), "--trigger".into(), trigger.into()];
    for t in tags {
        out.extend(["--tag".into(), t.clone()]);
    }
    if let Some(base) = &config.ci.image_base {
        out.extend(["--base".into(), base.clone()]);
    }
    if let Some(repo) = &config.ci.image_repository {
        out.extend(["--push".into(), repo.clone()]);
        if config.ci.image_insecure == Some(true) {
            out.push("--insecure".into());
        }
    }
    out
}

fn publish(from: &camino::Utf8Path, repo_dir: &camino::Utf8Path, channel: Channel, trigger: &str) -> Vec<String> {
    vec![
        "release".into(),
        "publish".into(),
        "--from".into(),
        from.to_string(),
        "--repo-dir".into(),
        repo_dir.to_string(),
        format!("RPM_CHANNEL={channel}"),
        "--trigger".into(),
        trigger.into(),
    ]
}

/// A command as a shell would read it back.
pub fn shell_line(program: &str, words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:@+,".contains(c)) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect();
    format!("{program} {}", quoted.join(" "))
}

/// The plan as `ci plan` prints it.
pub fn render_text(plan: &CiPlan, program: &str) -> String {
    let e = &plan.event;
    let what = match e.kind {
        EventKind::Push => format!("push to branch {}", e.branch.as_deref().unwrap_or("?")),
        EventKind::Tag => format!("tag {}", e.tag.as_deref().unwrap_or("?")),
        EventKind::Other => format!("`{}` event", e.name),
    };
    let action = match plan.action {
        Action::Nothing => "nothing",
        Action::DevRelease => "dev-release",
        Action::Release => "release",
    };
    let mut out = format!("event: {what} ({})\naction: {action}: {}\n", e.system, plan.reason);
    if let (Some(v), Some(r)) = (&plan.version, &plan.rpm_version) {
        out.push_str(&format!("version: {v} (rpm {r})\n"));
    }
    if let Some(c) = plan.channel {
        out.push_str(&format!("channel: {c}\n"));
    }
    if !plan.image_tags.is_empty() {
        out.push_str(&format!("image tags: {}\n", plan.image_tags.join(", ")));
    }
    if plan.commands.is_empty() {
        out.push_str("commands: none\n");
    } else {
        out.push_str("commands (from the workspace root, in order):\n");
        for c in &plan.commands {
            out.push_str(&format!("  {}\n", shell_line(program, c)));
        }
    }
    out
}

/// What `ci` was asked: run the event's commands, or print them (`ci plan`), or write a workflow.
enum CiCommand {
    /// `ci`: run the commands the event calls for (`plan_only: false`), or `ci plan`: print them.
    Event { plan_only: bool, event: Option<String>, reference: Option<String>, json: bool },
    /// `ci generate github|gitlab [--check]` (parsed by [`generate`]).
    Generate,
}

impl Options for CiCommand {
    fn parse(args: &Args) -> Result<CiCommand> {
        let plan_only = match args.positional.first().map(String::as_str) {
            Some("generate") => return Ok(CiCommand::Generate),
            Some("plan") => true,
            None => false,
            Some(other) => {
                let mut help = "ci, ci plan, or ci generate github|gitlab".to_string();
                if let Some(near) = cli::closest(other, &["plan".into(), "generate".into()]) {
                    help = format!("did you mean `{near}`?\n{help}");
                }
                return Err(Error::usage(format!("unknown ci command `{other}`")).with_help(help));
            }
        };
        if args.positional.len() > 1 {
            return Err(Error::usage(format!(
                "unexpected argument `{}` for `ci {}`",
                args.positional[1], args.positional[0]
            ))
            .with_help("usage: ci [plan] [--event push|tag --ref REF] [--format text|json]"));
        }
        if args.flag("check") {
            return Err(Error::usage("--check is an option of `ci generate`")
                .with_help("ci generate github --check (or gitlab): exit 1 when the workflow on disk differs"));
        }
        let json = match args.value("format") {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(Error::usage(format!("unknown format `{}`", other.escape_debug()))
                    .with_help("--format text or --format json"))
            }
        };
        Ok(CiCommand::Event {
            plan_only,
            event: args.value("event").map(str::to_string),
            reference: args.value("ref").map(str::to_string),
            json,
        })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let (plan_only, event, reference, json) = match CiCommand::parse(&ctx.args)? {
        CiCommand::Generate => return generate::run(ctx),
        CiCommand::Event { plan_only, event, reference, json } => (plan_only, event, reference, json),
    };
    let event = read_event(event.as_deref(), reference.as_deref(), &env)?;
    let plan = plan(ctx, event, &env)?;
    let program = &ctx.program;
    if json {
        let mut value = serde_json::to_value(&plan).map_err(|e| Error::failed(format!("plan as JSON: {e}")))?;
        value["shell"] =
            serde_json::Value::from(plan.commands.iter().map(|c| shell_line(program, c)).collect::<Vec<_>>());
        // What the generated workflows run to get here.
        value["pipeline"] = serde_json::Value::from(generate::PIPELINE.to_vec());
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| Error::failed(e.to_string()))?);
    } else {
        print!("{}", render_text(&plan, program));
    }
    if plan_only || plan.commands.is_empty() {
        return Ok(());
    }
    // `ci` runs whole targets, each of which plans and executes itself: each is a part planned
    // when the ones before it have run (mock installs what build_rpms wrote), so a dry-run
    // prints one `would later:` line per command and runs none.
    let total = plan.commands.len();
    for (i, command) in plan.commands.iter().enumerate() {
        let line = shell_line(program, command);
        ctx.effects.later(format!("ci step {}/{total}: {line}", i + 1), || {
            eprintln!("trainyard ci: [{}/{total}] {line}", i + 1);
            // The commands name paths relative to the workspace root.
            std::env::set_current_dir(&ctx.ws.root)
                .map_err(|e| Error::failed(format!("cannot enter the workspace root {}: {e}", ctx.ws.root)))?;
            run_command(ctx, command, &env).map_err(|e| e.context(format!("ci step {} ({line})", i + 1)))
        })?;
    }
    ctx.effects.result(format_args!(
        "ci: {} {} done",
        match plan.action {
            Action::Release => "release",
            _ => "dev release",
        },
        plan.version.as_deref().unwrap_or_default()
    ));
    Ok(())
}

/// Runs one command of the plan through the same table and parser the command line uses.
fn run_command(ctx: &Context, words: &[String], env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let Some(target) = crate::targets::find(&words[0]) else {
        return Err(Error::failed(format!("ci planned an unknown target `{}`", words[0])));
    };
    let project_vars = ctx.ws.config.project_vars();
    let (args, notes) = cli::parse(target.spec, &words[1..], &project_vars, crate::targets::GLOBAL_VARS, env)?;
    for note in notes {
        eprintln!("{note}");
    }
    let sub = Context { ws: ctx.ws.clone(), args, effects: ctx.effects, program: ctx.program.clone() };
    (target.run)(&sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn github_events() {
        let e = read_event(
            None,
            None,
            &env_of(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/heads/feature/x"),
            ]),
        )
        .unwrap();
        assert_eq!((e.kind, e.branch.as_deref()), (EventKind::Push, Some("feature/x")));
        let e = read_event(
            None,
            None,
            &env_of(&[("GITHUB_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "push"), ("GITHUB_REF", "refs/tags/rpm-1.3")]),
        )
        .unwrap();
        assert_eq!((e.kind, e.tag.as_deref()), (EventKind::Tag, Some("rpm-1.3")));
        let e = read_event(
            None,
            None,
            &env_of(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_REF", "refs/pull/7/merge"),
                ("GITHUB_HEAD_REF", "feature/y"),
            ]),
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(decide(&e, &Config::default()).0, Action::Nothing);
    }

    #[test]
    fn gitlab_events() {
        let e = read_event(
            None,
            None,
            &env_of(&[
                ("GITLAB_CI", "true"),
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_BRANCH", "trunk"),
                ("CI_DEFAULT_BRANCH", "trunk"),
            ]),
        )
        .unwrap();
        assert_eq!((e.kind, e.branch.as_deref()), (EventKind::Push, Some("trunk")));
        // GitLab says which branch is the default one; trunk releases nothing.
        assert_eq!(decide(&e, &Config::default()).0, Action::Nothing);
        let e = read_event(None, None, &env_of(&[("GITLAB_CI", "true"), ("CI_COMMIT_TAG", "rpm-1.2.1")])).unwrap();
        assert_eq!(decide(&e, &Config::default()).0, Action::Release);
        let e = read_event(
            None,
            None,
            &env_of(&[("GITLAB_CI", "true"), ("CI_PIPELINE_SOURCE", "merge_request_event"), ("CI_COMMIT_BRANCH", "x")]),
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::Other);
    }

    #[test]
    fn by_hand_and_decisions() {
        let none = env_of(&[]);
        let config = Config::default();
        let e = read_event(Some("push"), Some("refs/heads/main"), &none).unwrap();
        assert_eq!(decide(&e, &config).0, Action::Nothing);
        let e = read_event(Some("push"), Some("refs/heads/feature/x"), &none).unwrap();
        assert_eq!(decide(&e, &config).0, Action::DevRelease);
        let e = read_event(None, Some("refs/tags/rpm-1.3"), &none).unwrap();
        assert_eq!(decide(&e, &config).0, Action::Release);
        let e = read_event(Some("tag"), Some("docs-1"), &none).unwrap();
        assert_eq!(decide(&e, &config).0, Action::Nothing);
        let mut dev_main = Config::default();
        dev_main.ci.default_branch_push = Some("dev-release".into());
        let e = read_event(Some("push"), Some("main"), &none).unwrap();
        assert_eq!(decide(&e, &dev_main).0, Action::DevRelease);
        // Bad input.
        assert!(read_event(Some("push"), None, &none).is_err());
        assert!(read_event(Some("push"), Some("refs/tags/rpm-1.3"), &none).is_err());
        assert!(read_event(Some("merge"), Some("refs/heads/x"), &none).is_err());
        assert!(read_event(None, Some("--upload-pack=x"), &none).is_err());
        assert!(read_event(None, Some("refs/pull/1/head"), &none).is_err());
        assert!(read_event(None, None, &none).is_err());
    }

    #[test]
    fn shell_lines_quote_what_needs_it() {
        assert_eq!(shell_line("cargo xtask", &words(&["mock", "RPM_CHANNEL=dev"])), "cargo xtask mock RPM_CHANNEL=dev");
        assert_eq!(shell_line("x", &words(&["a b", "it's"])), "x 'a b' 'it'\\''s'");
    }
}
