//! `release backport [X.Y] [--apply]`: the commits of a release branch that the default
//! branch lacks, by patch identity (`git cherry`), so commits already cherry-picked are not
//! listed; `--apply` cherry-picks them (`-x`) onto the default branch, one at a time,
//! stopping cleanly on a conflict: the conflicting pick is undone, the ones before it stay.
//!
//! The release line's own bookkeeping (its version changes and pins) is not backported;
//! its RELEASE.txt sections and every other commit are.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Version};
use crate::error::{Error, Result};

/// A commit of the release branch the default branch lacks.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub commit: String,
    pub subject: String,
    /// Release bookkeeping of the branch (versions, pins): listed, never applied.
    pub branch_only: bool,
}

/// The release branch to backport from: the given `X.Y`, else the newest release line.
pub fn release_branch(repo: &Repo, line: Option<&str>) -> Result<String> {
    if let Some(text) = line {
        let v = Version::parse_release(text)?;
        let branch = repo.branch_name(&v);
        if !repo.branch_exists(&branch)? {
            return Err(Error::usage(format!("there is no branch `{branch}`")));
        }
        return Ok(branch);
    }
    let pattern = repo.config().release_branch.replace("{version}", "*");
    let out = repo.git.read(&["for-each-ref", "--format=%(refname:short)", &format!("refs/heads/{pattern}")])?;
    let (prefix, suffix) = repo.config().release_branch.split_once("{version}").unwrap_or(("", ""));
    out.lines()
        .filter_map(|b| {
            let v = b.strip_prefix(prefix)?.strip_suffix(suffix)?;
            Some((Version::parse_release(v).ok()?, b.to_string()))
        })
        .max()
        .map(|(_, b)| b)
        .ok_or_else(|| {
            Error::usage("there is no release branch to backport from").with_help("name one: release backport 1.2")
        })
}

pub fn candidates(repo: &Repo, default: &str, branch: &str) -> Result<Vec<Candidate>> {
    let out = repo.git.read(&["cherry", default, branch])?;
    let mut list = Vec::new();
    for line in out.lines() {
        let Some(commit) = line.strip_prefix("+ ") else { continue };
        let subject = repo.git.read(&["log", "-1", "--format=%s", commit])?;
        let branch_only = messages::is_branch_only(&subject);
        list.push(Candidate { commit: commit.to_string(), subject, branch_only });
    }
    Ok(list)
}

pub fn run(repo: &Repo, state: &State, line: Option<&str>, apply: bool) -> Result<()> {
    let default = repo.config().default_branch.clone();
    let branch = release_branch(repo, line)?;
    let mut pre = Preflight::new(format!("backport {branch} to {default}"));
    if apply {
        pre.clean(state);
        pre.on_branch(state, &default);
    }
    pre.finish()?;
    let list = candidates(repo, &default, &branch)?;
    let todo: Vec<&Candidate> = list.iter().filter(|c| !c.branch_only).collect();
    if list.is_empty() {
        println!("{default} has every change of {branch}");
        return Ok(());
    }
    println!("commits of {branch} that {default} lacks:");
    for c in &list {
        let mark = if c.branch_only { "  (release bookkeeping, not backported)" } else { "" };
        println!("  {} {}{mark}", &c.commit[..c.commit.len().min(12)], c.subject);
    }
    if !apply {
        if !todo.is_empty() {
            println!("apply them with: {} release backport {} --apply", repo.ctx.program, line.unwrap_or(""));
        }
        return Ok(());
    }
    // The plan: one cherry-pick per commit; a conflict is undone (`cherry-pick --abort`).
    let mut plan = Plan::default();
    for c in &todo {
        plan.git(repo, &["cherry-pick", "-x", &c.commit]);
    }
    let mut applied = 0;
    for (action, c) in plan.actions.iter().zip(&todo) {
        if let Err(err) = repo.ctx.effects.apply(action) {
            // Leave the branch as the picks before this one left it, not half-merged.
            let _ = repo.git.run(&repo.ctx.effects, &["cherry-pick", "--abort"]);
            let rest: Vec<String> =
                todo[applied + 1..].iter().map(|c| c.commit[..12.min(c.commit.len())].to_string()).collect();
            return Err(Error::failed(format!(
                "cherry-picking {} ({}) onto {default} conflicts; it was undone. {applied} of {} commits were applied.\n{}",
                &c.commit[..12.min(c.commit.len())],
                c.subject,
                todo.len(),
                err.message
            ))
            .with_help(format!(
                "resolve it by hand: git cherry-pick -x {}  (then the rest: {})",
                c.commit,
                rest.join(" ")
            )));
        }
        applied += 1;
    }
    repo.ctx
        .effects
        .outcome(format!("backported {applied} commit{} to {default}", if applied == 1 { "" } else { "s" }));
    Ok(())
}
