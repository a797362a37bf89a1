//! `release fix`: on the release branch after a tagged release, move to the next micro
//! version (`1.2` -> `1.2.1`), so that the next `release notes` and `release tag` make `rpm-1.2.1`.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Step};
use crate::error::Result;

pub fn plan(repo: &Repo, state: &State, members: &[String]) -> Result<Step> {
    let v = state.version(repo)?;
    let next = v.next_micro();
    let branch = repo.branch_name(&v);
    let mut pre = Preflight::new(format!("start the fix {next}"));
    pre.clean(state);
    pre.on_release_branch(repo, state, &v)?;
    let tag = repo.tag_name(&v);
    if !repo.tag_exists(&tag)? {
        pre.problem(
            format!("{v} is not released yet: there is no tag {tag}"),
            Some(format!("finish {v} first (release notes, release tag), then fix it")),
        );
    }
    pre.tag_absent(repo, &repo.tag_name(&next))?;
    pre.not_behind(repo, &branch, &state.head)?;
    pre.finish()?;
    let after = state.with_version(repo, members, &next)?;
    let mut plan = Plan::default();
    let paths = plan.write_version(repo, state, &after);
    plan.commit(repo, &paths, &messages::version(&next));
    Ok(Step { plan, after })
}
