//! `release start 1.2`: cut the `1.2-release` branch from the default branch, move the
//! default branch to the next train (`1.3.0`, whose dev builds say `1.3.devN`), and set
//! `1.2.0` on the release branch. Ends on the release branch, where the next steps run.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Step, Version};
use crate::error::{Error, Result};

/// `v` is the release as the line writes it ([`Repo::line`]).
pub fn plan(repo: &Repo, state: &State, members: &[String], v: &Version) -> Result<Step> {
    if v.is_fix() {
        return Err(Error::usage(format!("`release start` cuts a release (MAJOR.MINOR), not the fix {v}"))
            .with_help(format!("on the release branch, `release fix` moves to the next micro version ({v})")));
    }
    let default = repo.config().default_branch.clone();
    let branch = repo.branch_name(v);
    let tag = repo.tag_name(v);
    let next = v
        .next_minor()
        .with_precision(crate::version::Precision::of(v).unwrap_or(crate::version::Precision::MajorMinor));
    let mut pre = Preflight::new(format!("start the {v} release"));
    pre.clean(state);
    pre.on_branch(state, &default);
    pre.branch_absent(repo, &branch)?;
    pre.tag_absent(repo, &tag)?;
    let current = state.cargo_version(repo)?;
    if v.to_semver() < current {
        pre.problem(
            format!("the version would go down: `{default}` is at {current}, and {v} is {}", v.to_semver()),
            Some(format!("start {} or later", Version::of_cargo(&current).major_minor())),
        );
    }
    if let Some((newest, newest_tag)) = repo.release_tags()?.into_iter().next_back() {
        if *v <= newest {
            pre.problem(
                format!("the version would go down: {newest_tag} is already released, and {v} is not newer"),
                None,
            );
        }
    }
    pre.not_behind(repo, &default, &state.head)?;
    pre.finish()?;

    let mut plan = Plan::default();
    plan.git(repo, &["branch", "--no-track", &branch, state.head_arg()]);
    let on_default = state.with_version(repo, members, &next)?;
    let paths = plan.write_version(repo, state, &on_default);
    plan.commit(repo, &paths, &messages::next_train(&next));
    plan.git(repo, &["switch", "--quiet", &branch]);
    let mut after = state.clone();
    after.branch = Some(branch);
    if current != v.to_semver() {
        after = after.with_version(repo, members, v)?;
        let paths = plan.write_version(repo, state, &after);
        plan.commit(repo, &paths, &messages::version(v));
    }
    Ok(Step { plan, after })
}
