//! `release beta` and `release rc` (flow `rc-beta`).
//!
//! On the rc branch: cut the version branch (`0.12`, named by `release-branch`) from rc, set
//! `0.12.0b1` (or `0.12.0rc1`), tag `v0.12.0b1`, then move the branch to the next beta
//! (`0.12.0b2`) so that its later commits (`0.12.0b2.devN`) sort above what was released.
//! On an existing version branch: tag the beta (or rc) its version names, and move to the next.
//! Ends on the version branch.
//!
//! Flow `release-branch`: on a started release's branch (`1.3-release`, at `1.3` and not yet
//! tagged final): the first beta (rc) is computed from the release's tags (`rpm-1.3b1`; the
//! first rc after any beta), set, tagged, and the branch moves to the next one (`1.3b2`), as a
//! version branch does; `release tag` makes the final there.

use super::{messages, GitPlan, Plan, Preflight, Repo, State, Step};
use crate::config::Flow;
use crate::error::{Error, Result};
use crate::version::{Pre, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Beta,
    Rc,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Beta => "beta",
            Kind::Rc => "release candidate",
        }
    }

    fn first(self) -> Pre {
        match self {
            Kind::Beta => Pre::Beta(1),
            Kind::Rc => Pre::Rc(1),
        }
    }
}

pub fn plan(repo: &Repo, state: &State, members: &[String], kind: Kind) -> Result<Step> {
    Ok(computed(repo, state, members, kind)?.1)
}

/// The beta (rc) the step makes, and its plan.
pub fn computed(repo: &Repo, state: &State, members: &[String], kind: Kind) -> Result<(Version, Step)> {
    let config = repo.config();
    let rc = config.rc_branch.clone();
    let branch_flow = config.flow == Flow::ReleaseBranch;
    let exact = state.exact_version(repo)?;
    let release = exact.release();
    let version_branch = repo.branch_name(&release);
    let cutting = !branch_flow && state.branch.as_deref() == Some(rc.as_str());
    let mut pre = Preflight::new(format!("make the next {} of {release}", kind.name()));
    pre.clean(state);
    if cutting && repo.branch_exists(&version_branch)? {
        pre.problem(
            format!("the version branch `{version_branch}` of {release} is already cut"),
            Some(format!("the next {} is made on it: git switch {version_branch}", kind.name())),
        );
    } else if cutting {
        pre.branch_absent(repo, &version_branch)?;
    } else if branch_flow && state.branch.as_deref() != Some(version_branch.as_str()) {
        let here = state.branch.as_deref().map(|b| format!("on `{b}`")).unwrap_or("on a detached HEAD".into());
        pre.problem(
            format!(
                "`release {}` runs on the branch of a started release (`{}`), and you are {here}",
                kind_word(kind),
                config.release_branch_for("X.Y")
            ),
            Some("start the release first (release start minor), or git switch to its branch".into()),
        );
    } else if state.branch.as_deref() != Some(version_branch.as_str()) {
        let here = state.branch.as_deref().map(|b| format!("on `{b}`")).unwrap_or("on a detached HEAD".into());
        pre.problem(
            format!(
                "`release {}` runs on `{rc}` (to cut a version branch) or on a version branch, and you are {here}",
                kind_word(kind)
            ),
            Some(format!("git switch {rc}")),
        );
    }
    let tagged = if cutting {
        Some(release.with_pre(kind.first()))
    } else {
        match (exact.pre, kind) {
            (Some(Pre::Beta(_)), Kind::Beta) | (Some(Pre::Rc(_)), Kind::Rc) => Some(exact),
            (Some(Pre::Beta(_)), Kind::Rc) => Some(release.with_pre(Pre::Rc(1))),
            (None, _) if branch_flow => next_of_release(repo, &release, kind, &mut pre)?,
            (Some(Pre::Rc(_)), Kind::Beta) => {
                pre.problem(
                    format!("the version would go down: `{version_branch}` is at {exact}, a release candidate, and betas come before"),
                    Some("make the next release candidate: release rc".into()),
                );
                None
            }
            _ => {
                pre.problem(
                    format!("`{version_branch}` is at {exact}, which is not a beta or release candidate"),
                    Some(
                        "after the final, fixes are `release fix`; the next minor's betas come from its own freeze"
                            .into(),
                    ),
                );
                None
            }
        }
    };
    let Some(tagged) = tagged else {
        return Err(pre.finish().err().unwrap_or_else(|| Error::failed("no beta or release candidate to tag")));
    };
    let tag = repo.tag_name(&tagged);
    pre.tag_absent(repo, &tag)?;
    if let Some((_, newer)) = repo.version_tags()?.into_iter().rfind(|(t, _)| *t >= tagged) {
        if newer != tag {
            pre.problem(
                format!("the version would not go up: {newer} is already tagged, and {tagged} is not newer"),
                Some(if newer.ends_with(&release.to_pep440()) {
                    format!("{release} is released: its fixes are `release patch` (release fix), its successor's betas come after `release start minor`")
                } else {
                    format!("make {tagged}'s successor instead, or delete the stray tag {newer} if it was made by mistake")
                }),
            );
        }
    }
    pre.finish()?;

    let mut plan = Plan::default();
    let mut after = state.clone();
    if cutting {
        plan.git(repo, &["branch", "--no-track", &version_branch, state.head_arg()]);
        plan.git(repo, &["switch", "--quiet", &version_branch]);
        after.branch = Some(version_branch);
    }
    if state.cargo_version(repo)? != tagged.to_semver() {
        let at = after.with_version(repo, members, &tagged)?;
        let paths = plan.write_version(repo, &after, &at);
        plan.commit(repo, &paths, &messages::version(&tagged));
        after = at;
    }
    let message = format!("{} {tagged}", config.name());
    plan.git(repo, &["tag", "--annotate", "--message", &message, &tag, "HEAD"]);
    // The branch moves one beta (rc) ahead, so its later commits (`1.3b2.devN`) sort above
    // what was tagged; `release tag` sets the final there.
    let next: Version = tagged.next_pre().expect("a beta or rc has a next");
    let moved = after.with_version(repo, members, &next)?;
    let paths = plan.write_version(repo, &after, &moved);
    plan.commit(repo, &paths, &messages::version(&next));
    Ok((tagged, Step { plan, after: moved }))
}

/// The next beta (rc) of `release` from its tags: b1 (rc1) first, then one above the newest of
/// its kind; a beta after a release candidate goes down and is refused.
fn next_of_release(repo: &Repo, release: &Version, kind: Kind, pre: &mut Preflight) -> Result<Option<Version>> {
    let newest =
        repo.version_tags()?.into_iter().map(|(v, _)| v).rfind(|v| v.release() == *release && v.is_prerelease());
    Ok(match (newest.and_then(|v| v.pre), kind) {
        (Some(Pre::Beta(n)), Kind::Beta) => Some(release.with_pre(Pre::Beta(n + 1))),
        (Some(Pre::Rc(n)), Kind::Rc) => Some(release.with_pre(Pre::Rc(n + 1))),
        (Some(Pre::Rc(_)), Kind::Beta) => {
            let tag = repo.tag_name(&newest.expect("matched"));
            pre.problem(
                format!("the version would go down: {tag} is a release candidate of {release}, and betas come before"),
                Some("make the next release candidate: release rc".into()),
            );
            None
        }
        _ => Some(release.with_pre(kind.first())),
    })
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Beta => "beta",
        Kind::Rc => "rc",
    }
}
