//! `release cherry-pick COMMIT...` (flow `rc-beta`): fixes flow downstream only, default branch
//! -> rc -> version branch, each pick with `-x` so it names its origin. Onto rc, a commit must
//! be on the default branch; onto a version branch, on rc. The other direction (rc or a version
//! branch into the default branch, a version branch into rc) is refused: the flow forbids it.
//! A conflicting pick is undone; the picks before it stay.

use super::{GitPlan, Plan, Preflight, Repo, State};
use crate::error::{Error, Result};
use crate::scm::{self, Line};

pub fn run(repo: &Repo, state: &State, commits: &[String]) -> Result<()> {
    let config = repo.config();
    let (default, rc) = (config.default_branch.as_str(), config.rc_branch.as_str());
    let mut pre = Preflight::new("cherry-pick downstream");
    pre.clean(state);
    let here = state.branch.clone().unwrap_or_default();
    let on_version_branch = matches!(scm::release_line(&here, &config.release_branch), Line::Release { .. });
    // The branch the commits must come from: the one just upstream of here.
    let upstream = if here == rc {
        Some(default)
    } else if on_version_branch {
        Some(rc)
    } else {
        pre.problem(
            format!(
                "cherry-picks go downstream, onto `{rc}` or a version branch; you are on {}",
                if here.is_empty() { "a detached HEAD".to_string() } else { format!("`{here}`") }
            ),
            Some(format!(
                "`{default}` receives no cherry-picks in this flow: commit the fix to `{default}`, then pick it onto `{rc}`"
            )),
        );
        None
    };
    if commits.is_empty() {
        pre.problem("no commit to cherry-pick", Some("release cherry-pick COMMIT...".into()));
    }
    let mut ids = Vec::new();
    for c in commits {
        crate::git::validate_ref(c)?;
        let Some(id) = repo.git.try_read(&["rev-parse", "--verify", "--quiet", &format!("{c}^{{commit}}")])? else {
            pre.problem(format!("`{c}` is not a commit here"), Some("git fetch, or check the commit id".into()));
            continue;
        };
        if let Some(upstream) = upstream {
            if !repo.is_ancestor(&id, &format!("refs/heads/{upstream}"))? {
                pre.problem(
                    format!("{c} is not on `{upstream}`: picking it onto `{here}` would go upstream or sideways"),
                    Some(format!("fixes flow {default} -> {rc} -> version branch: pick it onto `{upstream}` first")),
                );
            } else if repo.is_ancestor(&id, "HEAD")? {
                pre.problem(format!("{c} is already on `{here}`"), None);
            }
        }
        ids.push(id);
    }
    pre.finish()?;
    // The plan: one cherry-pick per commit; a conflict is undone (`cherry-pick --abort`).
    let mut plan = Plan::default();
    for id in &ids {
        plan.git(repo, &["cherry-pick", "-x", id]);
    }
    let mut applied = 0;
    for (i, (action, id)) in plan.actions.iter().zip(&ids).enumerate() {
        if let Err(err) = repo.ctx.effects.apply(action) {
            let _ = repo.git.run(&repo.ctx.effects, &["cherry-pick", "--abort"]);
            return Err(Error::failed(format!(
                "cherry-picking {} onto {here} conflicts; it was undone. {applied} of {} commits were applied.\n{}",
                &id[..12],
                ids.len(),
                err.message
            ))
            .with_help(format!(
                "resolve it by hand: git cherry-pick -x {id}  (then the rest: {})",
                ids[i + 1..].join(" ")
            )));
        }
        applied += 1;
    }
    repo.ctx.effects.outcome(format!("picked {applied} commit{} onto {here}", if applied == 1 { "" } else { "s" }));
    Ok(())
}
