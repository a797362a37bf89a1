//! `release freeze` (flow `rc-beta`): the feature freeze. Merges the default branch into the rc
//! branch (creating it the first time), then moves the default branch to the next minor's dev
//! train (`0.12.0` -> `0.13.0`, whose first commit is `0.13.0.dev1`). Ends on the default branch.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Step, Version};
use crate::error::{Error, Result};

pub fn plan(repo: &Repo, state: &State, members: &[String]) -> Result<Step> {
    let config = repo.config();
    let (default, rc) = (config.default_branch.clone(), config.rc_branch.clone());
    let v = state.version(repo)?;
    let next = v.next_minor().with_precision(repo.precision()?);
    let mut pre = Preflight::new(format!("freeze {v}"));
    pre.clean(state);
    pre.on_branch(state, &default);
    crate::git::validate_ref(&rc)?;
    let rc_exists = repo.branch_exists(&rc)?;
    if rc_exists {
        let rc_head = repo.resolve(&format!("refs/heads/{rc}"))?.unwrap_or_default();
        pre.not_behind(repo, &rc, &rc_head)?;
        // The merge is tried in memory first: a conflict stops the freeze before anything moves.
        let (clean, _, stderr) =
            repo.git.output(&["merge-tree", "--write-tree", "--name-only", &rc_head, &state.head])?;
        if !clean && !stderr.trim().is_empty() {
            return Err(Error::failed(format!("git merge-tree {rc} {default}: {}", stderr.trim())));
        }
        if !clean {
            pre.problem(
                format!("merging `{default}` into `{rc}` conflicts"),
                Some(format!(
                    "merge by hand (git switch {rc} && git merge {default}), then run `release freeze` again"
                )),
            );
        }
        let text = repo.git.read(&["show", &format!("{rc_head}:Cargo.toml")])?;
        if let Ok(on_rc) = super::manifest::read_version(&repo.ctx.ws.manifest, &text) {
            let on_rc = Version::of_cargo(&on_rc).release();
            if on_rc >= v {
                pre.problem(
                    format!("the version would not go up: `{rc}` is already at {on_rc}, and `{default}` is at {v}"),
                    Some(format!("`{default}` moved to its next train when {on_rc} was frozen; freeze once per minor")),
                );
            }
        }
    }
    if let Some((_, tag)) = repo.release_tags()?.into_iter().rfind(|(t, _)| *t >= v) {
        pre.problem(format!("the version would not go up: {tag} is already released, and `{default}` is at {v}"), None);
    }
    pre.not_behind(repo, &default, &state.head)?;
    pre.finish()?;

    let mut plan = Plan::default();
    if rc_exists {
        plan.git(repo, &["switch", "--quiet", &rc]);
        let message = format!("release freeze: merge {default} into {rc} for {v}");
        plan.git(repo, &["merge", "--quiet", "--no-edit", "-m", &message, state.head_arg()]);
        plan.git(repo, &["switch", "--quiet", &default]);
    } else {
        plan.git(repo, &["branch", "--no-track", &rc, state.head_arg()]);
    }
    let after = state.with_version(repo, members, &next)?;
    let paths = plan.write_version(repo, state, &after);
    plan.commit(repo, &paths, &messages::next_train(&next));
    Ok(Step { plan, after })
}
