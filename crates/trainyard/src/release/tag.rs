//! `release tag`: the annotated release tag (`rpm-1.2`) on the release branch, after
//! checking that the workspace version, the RELEASE.txt section and the tag agree.
//! Signed when git is configured to sign tags (`tag.gpgSign`).

use super::{notes, GitPlan, Plan, Preflight, Repo, State, Step, RELEASE_FILE};
use crate::error::Result;

pub fn plan(repo: &Repo, state: &State) -> Result<Step> {
    let cargo = state.cargo_version(repo)?;
    let v = state.version(repo)?;
    let tag = repo.tag_name(&v);
    let mut pre = Preflight::new(format!("tag {tag}"));
    pre.clean(state);
    pre.on_release_branch(repo, state, &v)?;
    if !cargo.pre.is_empty() {
        pre.problem(
            format!("the workspace version {cargo} is a pre-release, not {}", v.to_semver()),
            Some(format!("set version = \"{}\" (`release start` does)", v.to_semver())),
        );
    }
    pre.tag_absent(repo, &tag)?;
    let section = state.release_notes.as_deref().and_then(|t| notes::section(t, &v));
    match state.release_notes.as_deref().and_then(notes::first_version) {
        Some(first) if first == v => {}
        Some(first) => pre.problem(
            format!("the newest section of {RELEASE_FILE} is {first}, not {v}"),
            Some(format!("write the {v} section: release notes")),
        ),
        None => pre.problem(format!("{RELEASE_FILE} has no {v} section"), Some("write it: release notes".into())),
    }
    let merged =
        repo.git.read(&["tag", "--merged", &state.head, "--list", &format!("{}*", repo.config().tag_prefix)])?;
    for (tv, name) in repo.release_tags()? {
        if tv >= v && merged.lines().any(|l| l == name) {
            pre.problem(format!("the version would go down: {name} is already in this branch's history"), None);
        }
    }
    pre.finish()?;
    let message = format!("{} {v}\n\n{}", repo.config().name(), section.unwrap_or_default());
    let mut plan = Plan::default();
    plan.git(repo, &["tag", "--annotate", "--message", message.trim_end(), &tag, state.head_arg()]);
    Ok(Step { plan, after: state.clone() })
}
