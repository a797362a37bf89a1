//! `release push`: the default branch, the release branches and the release tags that the
//! remote lacks, in one `git push --atomic`. The only step that leaves the machine with git.

use super::{Plan, Preflight, Repo, REMOTE};
use crate::error::{Error, Result};

/// The refspecs to push (`refs/heads/x:refs/heads/x`), or a refusal listing every problem.
pub fn plan(repo: &Repo) -> Result<Plan> {
    let mut pre = Preflight::new(format!("push to `{REMOTE}`"));
    let Some(remote) = repo.remote_refs()?.cloned() else {
        return Err(Error::usage(format!("there is no reachable remote `{REMOTE}` to push to"))
            .with_help(format!("git remote add {REMOTE} URL")));
    };
    let config = repo.config();
    let mut refs: Vec<String> = vec![format!("refs/heads/{}", config.default_branch)];
    let pattern = config.release_branch.replace("{version}", "*");
    let branches = repo.git.read(&["for-each-ref", "--format=%(refname)", &format!("refs/heads/{pattern}")])?;
    refs.extend(branches.lines().map(String::from));
    let tags: Vec<String> = repo.release_tags()?.into_iter().map(|(_, t)| format!("refs/tags/{t}")).collect();
    let local = repo.local_refs()?;
    let mut specs = Vec::new();
    for name in refs.iter().chain(tags.iter()) {
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
        plan.git(&args);
    }
    Ok(plan)
}

pub fn run(repo: &Repo) -> Result<()> {
    let plan = plan(repo)?;
    if plan.is_empty() {
        println!("`{REMOTE}` already has every release branch and tag");
        return Ok(());
    }
    plan.run(repo)
}
