//! `release pin`: on the release branch, pin `reqs/stage-reqs.txt` and `reqs/prod-reqs.txt`
//! from the resolved graph (the `pin` target's rule) and commit them.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Step};
use crate::channel::Channel;
use crate::error::Result;
use crate::targets::pin::pinned_file;

pub fn plan(repo: &Repo, state: &State) -> Result<Step> {
    let v = state.version(repo)?;
    let mut pre = Preflight::new(format!("pin the {v} release"));
    pre.clean(state);
    pre.on_release_branch(repo, state, &v)?;
    pre.finish()?;
    let mut plan = Plan::default();
    let mut paths = Vec::new();
    for channel in [Channel::Stage, Channel::Prod] {
        let (path, old, new) = pinned_file(repo.ctx, channel)?;
        if old.as_deref() != Some(new.as_str()) {
            paths.push(repo.ctx.ws.display(&path).to_string());
            plan.write(path, new);
        }
    }
    if !paths.is_empty() {
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        plan.commit(repo, &paths, &messages::pins(&v));
    }
    Ok(Step { plan, after: state.clone() })
}
