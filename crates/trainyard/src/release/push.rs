//! `release push`: the default branch, the rc branch (flow `rc-beta`), the release or version
//! branches and the version tags (finals, betas, release candidates) that the remote lacks, in
//! one `git push --atomic` of explicit `refs/heads/NAME:refs/heads/NAME` refspecs. A branch is a
//! release branch only when its whole name is the `release-branch` template with a version
//! (`1.2-release`, or `0.12` for `"{version}"`), so no pattern can catch the default branch or an
//! unrelated one. The only step that leaves the machine with git.

use super::{GitPlan, Plan, Preflight, Repo, REMOTE};
use crate::config::Flow;
use crate::error::{Error, Result};
use crate::scm::{self, Line};

/// The refspecs to push (`refs/heads/x:refs/heads/x`), or a refusal listing every problem.
pub fn plan(repo: &Repo) -> Result<Plan> {
    let mut pre = Preflight::new(format!("push to `{REMOTE}`"));
    let Some(remote) = repo.remote_refs()?.cloned() else {
        return Err(Error::usage(format!("there is no reachable remote `{REMOTE}` to push to"))
            .with_help(format!("git remote add {REMOTE} URL")));
    };
    let refs = release_refs(repo)?;
    let local = repo.local_refs()?;
    let mut specs = Vec::new();
    for name in &refs {
        let Some(ours) = local.get(name) else { continue };
        let is_tag = name.starts_with("refs/tags/");
        match remote.get(name) {
            None => specs.push(format!("{name}:{name}")),
            Some(theirs) if theirs == ours => {}
            Some(_) if is_tag => pre.problem(
                format!("{name} on `{REMOTE}` points elsewhere than the local tag"),
                Some("a pushed tag is never moved: fix forward with the next micro version (release fix)".into()),
            ),
            Some(theirs) => {
                if repo.is_ancestor(theirs, ours)? {
                    specs.push(format!("{name}:{name}"));
                } else {
                    let short = name.trim_start_matches("refs/heads/");
                    pre.problem(
                        format!("`{short}` is behind or has diverged from `{REMOTE}/{short}`"),
                        Some(format!("git pull --rebase {REMOTE} {short}, then push again")),
                    );
                }
            }
        }
    }
    pre.finish()?;
    let mut plan = Plan::default();
    if !specs.is_empty() {
        let mut args = vec!["push", "--atomic", REMOTE];
        args.extend(specs.iter().map(String::as_str));
        plan.git(repo, &args);
    }
    Ok(plan)
}

/// The full names of the local refs the release steps make: the default branch, the rc branch
/// of the `rc-beta` flow, every release branch and every version tag.
pub fn release_refs(repo: &Repo) -> Result<Vec<String>> {
    let config = repo.config();
    let mut refs: Vec<String> = vec![format!("refs/heads/{}", config.default_branch)];
    if config.flow == Flow::RcBeta {
        refs.push(format!("refs/heads/{}", config.rc_branch));
    }
    let branches = repo.git.read(&["for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/"])?;
    for branch in branches.lines() {
        if matches!(scm::release_line(branch, &config.release_branch), Line::Release { .. })
            && !refs.contains(&format!("refs/heads/{branch}"))
        {
            refs.push(format!("refs/heads/{branch}"));
        }
    }
    refs.extend(repo.version_tags()?.into_iter().map(|(_, t)| format!("refs/tags/{t}")));
    Ok(refs)
}

pub fn run(repo: &Repo) -> Result<()> {
    let plan = plan(repo)?;
    if plan.is_empty() {
        println!("`{REMOTE}` already has every release branch and tag");
        return Ok(());
    }
    repo.ctx.effects.execute(&plan)
}
