//! Internal projects: which ref of each one a build uses, where that request came
//! from, its checkout, and the cargo `--config` patch entries that build against it.
//!
//! The request for a project comes, in order, from the command line or the
//! environment (`SERVER_CORE=rpm-2.0`), from the channel's requirement file
//! (`server-core == 2.0` meaning the tag `rpm-2.0`), or else from the git
//! dependency as written in `Cargo.toml` (cargo's own checkout, no override).
//! Checked-out projects that declare internal projects of their own add their
//! requirement-file pins as requests; two different requests for one project are
//! an error unless the command line settles it.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use crate::channel::Channel;
use crate::checkout::Cache;
use crate::cli::{project_var, Origin};
use crate::error::{Error, Result};
use crate::git::validate_ref;
use crate::lockfile::LockedPackage;
use crate::reqs::{self, Requirement};
use crate::workspace::Workspace;
use crate::Context;

/// Where a request for a ref came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RequestOrigin {
    CommandLine { variable: String },
    Environment { variable: String },
    Reqs { requested_by: String, file: String, line: usize },
    CargoToml,
}

impl std::fmt::Display for RequestOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestOrigin::CommandLine { variable } => write!(f, "{variable} on the command line"),
            RequestOrigin::Environment { variable } => write!(f, "{variable} in the environment"),
            RequestOrigin::Reqs { requested_by, file, line } => write!(f, "{requested_by}'s {file}:{line}"),
            RequestOrigin::CargoToml => write!(f, "the git dependency in Cargo.toml"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub reference: String,
    pub origin: RequestOrigin,
}

/// One internal project as a build uses it.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub name: String,
    pub variable: String,
    pub url: String,
    /// `None`: the git dependency as written in Cargo.toml is used, without override.
    pub request: Option<Request>,
    pub commit: Option<String>,
    /// The work tree of the override's commit.
    pub checkout: Option<Utf8PathBuf>,
    /// The crates of the project the build is patched to (name, directory in the checkout).
    pub crates: Vec<(String, Utf8PathBuf)>,
    /// The cargo registry the workspace takes the crates from, when not from git: an override
    /// patches that registry (`patch.NAME`) instead of the git URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// The crate names of internal projects: never pinned, never checked as external.
pub fn internal_crates(ws: &Workspace) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    for (name, project) in &ws.config.internal {
        set.insert(reqs::normalize(name));
        set.extend(project.crates.iter().map(|c| reqs::normalize(c)));
    }
    set
}

/// The checkout cache of a workspace.
pub fn cache(ws: &Workspace) -> Cache {
    Cache::new(ws.checkout_cache_dir(), &ws.config.tag_prefix)
}

/// The request the command line or the environment makes for `variable`.
fn variable_request(ctx: &Context, variable: &str) -> Option<Request> {
    ctx.args.var(variable).map(|v| Request {
        reference: v.value.clone(),
        origin: match v.origin {
            Origin::CommandLine => RequestOrigin::CommandLine { variable: variable.to_string() },
            Origin::Environment => RequestOrigin::Environment { variable: variable.to_string() },
        },
    })
}

/// A `name == version` pin of a project in a requirement file, as a request for its tag.
fn reqs_request(
    project: &str,
    tag_prefix: &str,
    requirements: &[Requirement],
    requested_by: &str,
    root: &Utf8Path,
) -> Option<Request> {
    let key = reqs::normalize(project);
    requirements.iter().find(|r| r.key() == key).and_then(|r| {
        r.pinned().map(|v| Request {
            reference: format!("{tag_prefix}{v}"),
            origin: RequestOrigin::Reqs {
                requested_by: requested_by.to_string(),
                file: r.file.strip_prefix(root).unwrap_or(&r.file).to_string(),
                line: r.line,
            },
        })
    })
}

/// Decides every internal project's ref, resolves and checks out the overridden ones.
pub fn plan(ctx: &Context, channel: Channel, requirements: &[Requirement]) -> Result<Vec<Project>> {
    let ws = &ctx.ws;
    let me = ws.config.name().to_string();
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    // Every request made for a project, by anyone, to report conflicts.
    let mut asked: BTreeMap<String, Vec<Request>> = BTreeMap::new();
    for (name, spec) in &ws.config.internal {
        let variable = project_var(name);
        let request = variable_request(ctx, &variable)
            .or_else(|| reqs_request(name, &ws.config.tag_prefix, requirements, &me, &ws.root));
        if let Some(r) = &request {
            asked.entry(name.clone()).or_default().push(r.clone());
        }
        let crates = if spec.crates.is_empty() { vec![name.clone()] } else { spec.crates.clone() };
        projects.insert(
            name.clone(),
            Project {
                name: name.clone(),
                variable,
                url: spec.git.clone(),
                request,
                commit: None,
                checkout: None,
                crates: crates.into_iter().map(|c| (c, Utf8PathBuf::new())).collect(),
                registry: spec.registry.clone(),
            },
        );
    }
    for p in projects.values() {
        if let Some(r) = &p.request {
            validate_ref(&r.reference).map_err(|e| e.context(format!("{} ({})", p.variable, r.origin)))?;
        }
    }
    let cache = cache(ws);
    // The checkouts are what the plan is made from (their crates, their pins): fetched into the
    // checkout cache in a dry-run too, and said so. The cache is trainyard's, not the user's.
    let prepare = ctx.effects.preparing();
    // Resolve until no checkout adds a request: transitive internal projects.
    let mut done: Vec<String> = Vec::new();
    loop {
        let next = projects.values().find(|p| p.request.is_some() && !done.contains(&p.name)).map(|p| p.name.clone());
        let Some(name) = next else { break };
        done.push(name.clone());
        let project = projects.get_mut(&name).expect("planned");
        let request = project.request.clone().expect("requested");
        let phase = crate::ui::Phase::start(format!("fetching {} at {}", project.name, request.reference));
        let resolved = cache.resolve(&project.name, &project.url, &request.reference, &prepare)?;
        project.commit = Some(resolved.commit.clone());
        let tree = cache.worktree(&resolved, &prepare)?;
        phase.elapsed();
        ctx.effects.planned_from(format!(
            "{} {} ({}), commit {}, checked out in {tree}",
            project.name, request.reference, request.origin, resolved.commit
        ));
        for (krate, dir) in project.crates.iter_mut() {
            *dir = find_crate(&tree, krate).ok_or_else(|| {
                Error::usage(format!("{} at {} has no crate named `{krate}`", project.name, request.reference))
                    .with_help(format!("fix [workspace.metadata.trainyard.internal.{}] crates", project.name))
            })?;
        }
        project.checkout = Some(tree.clone());
        // The checkout's own internal projects, pinned in its requirement file for this channel.
        let Ok(sub) = Workspace::at(&tree.join("Cargo.toml")) else { continue };
        let sub_reqs_path = sub.reqs_path(channel);
        let sub_reqs = if sub_reqs_path.exists() { reqs::load(&sub_reqs_path)? } else { Vec::new() };
        let by = format!("{}@{}", project.name, request.reference);
        for (sub_name, sub_spec) in &sub.config.internal {
            let Some(r) = reqs_request(sub_name, &sub.config.tag_prefix, &sub_reqs, &by, &tree) else { continue };
            validate_ref(&r.reference).map_err(|e| e.context(format!("{sub_name} ({})", r.origin)))?;
            asked.entry(sub_name.clone()).or_default().push(r.clone());
            match projects.get_mut(sub_name) {
                Some(p) if p.request.is_none() => p.request = Some(r),
                Some(_) => {}
                None => {
                    projects.insert(
                        sub_name.clone(),
                        Project {
                            name: sub_name.clone(),
                            variable: project_var(sub_name),
                            url: sub_spec.git.clone(),
                            request: Some(r),
                            commit: None,
                            checkout: None,
                            crates: (if sub_spec.crates.is_empty() {
                                vec![sub_name.clone()]
                            } else {
                                sub_spec.crates.clone()
                            })
                            .into_iter()
                            .map(|c| (c, Utf8PathBuf::new()))
                            .collect(),
                            registry: sub_spec.registry.clone(),
                        },
                    );
                }
            }
        }
    }
    // Conflicts: different refs asked for one project, not settled on the command line.
    for (name, requests) in &asked {
        let settled = requests
            .iter()
            .any(|r| matches!(r.origin, RequestOrigin::CommandLine { .. } | RequestOrigin::Environment { .. }));
        let mut refs: Vec<&str> = requests.iter().map(|r| r.reference.as_str()).collect();
        refs.sort();
        refs.dedup();
        if !settled && refs.len() > 1 {
            let who: Vec<String> = requests.iter().map(|r| format!("{} asks for {}", r.origin, r.reference)).collect();
            return Err(Error::usage(format!(
                "conflicting refs for internal project {name}:\n  - {}",
                who.join("\n  - ")
            ))
            .with_help(format!("settle it on the command line: {}=<ref>", project_var(name))));
        }
    }
    Ok(projects.into_values().collect())
}

/// The directory of crate `name` inside a checkout: the root package or a member.
pub fn find_crate(tree: &Utf8Path, name: &str) -> Option<Utf8PathBuf> {
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if let Ok(value) = text.parse::<toml::Table>() {
                let pkg_name = value.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
                if pkg_name.is_some_and(|n| reqs::normalize(n) == reqs::normalize(name)) {
                    return Some(dir);
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(path) = Utf8PathBuf::from_path_buf(entry.path()) else { continue };
            let file = path.file_name().unwrap_or("");
            if entry.file_type().is_ok_and(|t| t.is_dir()) && !file.starts_with('.') && file != "target" {
                stack.push(path);
            }
        }
    }
    None
}

/// The `--config` arguments that make cargo build against the checkouts.
pub fn patch_args(projects: &[Project]) -> Vec<String> {
    let mut args = Vec::new();
    for p in projects.iter().filter(|p| p.checkout.is_some()) {
        for (krate, dir) in &p.crates {
            args.push("--config".to_string());
            let source = p.registry.as_deref().unwrap_or(&p.url);
            args.push(format!("patch.{}.{}.path = {}", toml_key(source), toml_key(krate), toml_string(dir.as_str())));
        }
    }
    args
}

fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        key.to_string()
    } else {
        toml_string(key)
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// What the build manifest records of each internal project.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub name: String,
    pub variable: String,
    /// Written without credentials (`https://***@host/...`); the full URL stays in memory.
    #[serde(serialize_with = "crate::redact::serialize_url")]
    pub url: String,
    pub requested_ref: Option<String>,
    pub origin: RequestOrigin,
    pub commit: Option<String>,
}

/// Records for the manifest; projects used as Cargo.toml says take ref and commit from the lock.
pub fn records(projects: &[Project], lock: &[LockedPackage]) -> Vec<Record> {
    projects
        .iter()
        .map(|p| match &p.request {
            Some(r) => Record {
                name: p.name.clone(),
                variable: p.variable.clone(),
                url: p.url.clone(),
                requested_ref: Some(r.reference.clone()),
                origin: r.origin.clone(),
                commit: p.commit.clone(),
            },
            None => {
                let names: Vec<String> = p.crates.iter().map(|(c, _)| reqs::normalize(c)).collect();
                let source = lock
                    .iter()
                    .filter(|l| names.contains(&reqs::normalize(&l.name)))
                    .find_map(|l| l.source.as_deref().filter(|s| s.starts_with("git+")));
                let (requested_ref, commit) = source.map(git_source_parts).unwrap_or((None, None));
                Record {
                    name: p.name.clone(),
                    variable: p.variable.clone(),
                    url: p.url.clone(),
                    requested_ref,
                    origin: RequestOrigin::CargoToml,
                    commit,
                }
            }
        })
        .collect()
}

/// `git+URL?tag=rpm-1.0#commit` -> (Some("rpm-1.0"), Some(commit)).
pub fn git_source_parts(source: &str) -> (Option<String>, Option<String>) {
    let (rest, commit) = match source.rsplit_once('#') {
        Some((r, c)) => (r, Some(c.to_string())),
        None => (source, None),
    };
    let reference = rest.split_once('?').and_then(|(_, query)| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            matches!(k, "tag" | "branch" | "rev").then(|| v.to_string())
        })
    });
    (reference, commit)
}

/// Checks that every patch took effect: the patched crates no longer come from git.
pub fn check_patched(projects: &[Project], lock: &[LockedPackage]) -> Result<()> {
    for p in projects.iter().filter(|p| p.checkout.is_some()) {
        for (krate, _) in &p.crates {
            let unpatched = |l: &LockedPackage| if p.registry.is_some() { l.is_registry() } else { l.is_git() };
            let still_git = lock.iter().any(|l| reqs::normalize(&l.name) == reqs::normalize(krate) && unpatched(l));
            if still_git && p.registry.is_some() {
                return Err(Error::usage(format!(
                    "the override of {} did not apply: crate {krate} still comes from registry {}",
                    p.name,
                    p.registry.as_deref().unwrap_or_default()
                ))
                .with_help(format!(
                    "the checkout's version of {krate} must match the requirement in Cargo.toml (cargo ignores a patch it cannot use)"
                )));
            }
            if still_git {
                return Err(Error::usage(format!(
                    "the override of {} did not apply: crate {krate} still comes from git",
                    p.name
                ))
                .with_help(format!(
                    "[workspace.metadata.trainyard.internal.{}] git = \"{}\" must be the URL the git dependency in Cargo.toml uses",
                    p.name,
                    crate::redact::url(&p.url)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sources() {
        assert_eq!(
            git_source_parts("git+file:///srv/core?tag=rpm-1.0#0123abc"),
            (Some("rpm-1.0".into()), Some("0123abc".into()))
        );
        assert_eq!(git_source_parts("git+https://h/x#abc"), (None, Some("abc".into())));
    }

    #[test]
    fn manifests_store_urls_without_credentials() {
        let record = Record {
            name: "server-core".into(),
            variable: "SERVER_CORE".into(),
            url: "https://bot:PASSWORD-1@git.example.org/core.git?token=TOKEN-2".into(),
            requested_ref: None,
            origin: RequestOrigin::CargoToml,
            commit: None,
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"url\":\"https://***@git.example.org/core.git?token=***\""), "{json}");
        assert!(!json.contains("PASSWORD-1") && !json.contains("TOKEN-2"), "{json}");
        assert_eq!(record.url, "https://bot:PASSWORD-1@git.example.org/core.git?token=TOKEN-2", "kept in memory");
    }

    #[test]
    fn patch_arguments_quote_urls() {
        let p = Project {
            name: "server-core".into(),
            variable: "SERVER_CORE".into(),
            url: "file:///srv/git/server-core".into(),
            request: None,
            commit: None,
            checkout: Some("/c".into()),
            crates: vec![("server-core".into(), "/c/core".into())],
            registry: None,
        };
        assert_eq!(
            patch_args(&[p]),
            ["--config", "patch.\"file:///srv/git/server-core\".server-core.path = \"/c/core\""]
        );
    }
}
