//! The whole path's journal: `target/trainyard/release/<version>.json`, one per release.
//!
//! It records the local refs before the run (so `--abort` can put every branch and tag
//! back exactly) and each step once it is done (so `--resume`, or a second run, never
//! repeats one). Written atomically after every step.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use super::{Repo, Version};
use crate::error::{io, Error, Result};
use crate::exec::write_atomic;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    InProgress,
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub version: String,
    pub channel: String,
    pub status: Status,
    /// The branch checked out before the run, or the commit of a detached HEAD.
    pub head_before: String,
    pub head_was_branch: bool,
    /// `refs/heads/*` and `refs/tags/*` before the run.
    pub refs_before: BTreeMap<String, String>,
    /// The refs the run created, moved or deleted, as the last step done left them
    /// (`None`: deleted). `--abort` touches these (and the refs a release manages), and only
    /// while they still hold these values.
    #[serde(default)]
    pub refs_after: BTreeMap<String, Option<String>>,
    /// Steps done, in order.
    pub done: Vec<String>,
    /// The collection `build_rpms` produced.
    pub collection: Option<Utf8PathBuf>,
    /// Why the notification failed, when it did (retried by `--resume`).
    pub notify_error: Option<String>,
}

pub fn dir(ws: &Workspace) -> Utf8PathBuf {
    ws.state_dir().join("release")
}

fn path(ws: &Workspace, version: &str) -> Utf8PathBuf {
    dir(ws).join(format!("{version}.json"))
}

impl Journal {
    pub fn begin(repo: &Repo, v: &Version, channel: &str) -> Result<Journal> {
        let branch = repo.git.current_branch()?;
        let head_was_branch = branch.is_some();
        let head_before = match branch {
            Some(b) => b,
            None => repo.git.head()?,
        };
        Ok(Journal {
            version: v.to_string(),
            channel: channel.to_string(),
            status: Status::InProgress,
            head_before,
            head_was_branch,
            refs_before: repo.local_refs()?,
            refs_after: BTreeMap::new(),
            done: Vec::new(),
            collection: None,
            notify_error: None,
        })
    }

    pub fn load(ws: &Workspace, version: &str) -> Result<Option<Journal>> {
        let path = path(ws, version);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::failed(format!("{path}: unreadable journal: {e}"))
                    .with_help(format!("look at it, then remove it to start over: rm {path}"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The release in progress, if any (there is at most one).
    pub fn in_progress(ws: &Workspace) -> Result<Option<Journal>> {
        let dir = dir(ws);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(version) = name.strip_suffix(".json") {
                if let Some(j) = Journal::load(ws, version)? {
                    if j.status == Status::InProgress {
                        return Ok(Some(j));
                    }
                }
            }
        }
        Ok(None)
    }

    pub fn save(&self, ws: &Workspace) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).expect("journal serialises");
        write_atomic(&path(ws, &self.version), &text)
    }

    pub fn remove(&self, ws: &Workspace) -> Result<()> {
        let path = path(ws, &self.version);
        std::fs::remove_file(&path).map_err(io(&path))
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.done.iter().any(|s| s == step)
    }

    /// Records what the steps so far did to the local refs; called after each step.
    pub fn record_refs(&mut self, repo: &Repo) -> Result<()> {
        let now = repo.local_refs()?;
        for name in self.refs_before.keys().chain(now.keys()) {
            if self.refs_before.get(name) != now.get(name) {
                self.refs_after.insert(name.clone(), now.get(name).cloned());
            }
        }
        Ok(())
    }

    /// Puts the branches and tags the release made or moved back as they were, then checks
    /// out what was checked out. Refs the user made or moved since are left alone; a ref the
    /// release moved and the user moved again, or a dirty tree, stops the abort before it
    /// changes anything.
    pub fn restore_refs(&self, repo: &Repo) -> Result<()> {
        let effects = &repo.ctx.effects;
        let config = &repo.ctx.ws.config;
        if repo.git.is_dirty()? {
            return Err(Error::usage("the work tree has uncommitted changes; --abort would lose them")
                .with_help("commit or stash them first (git stash), then run --abort again"));
        }
        let now = repo.local_refs()?;
        // The refs a release manages, in case a step was killed before the journal saw its work.
        let mut candidates: Vec<String> = self.refs_after.keys().cloned().collect();
        if let Ok(v) = Version::parse_release(&self.version) {
            candidates.push(format!("refs/heads/{}", config.default_branch));
            candidates.push(format!("refs/heads/{}", config.release_branch_for(&v.major_minor())));
            candidates.push(format!("refs/tags/{}", config.tag_for(&v.to_string())));
        }
        candidates.sort();
        candidates.dedup();
        let mut changes = Vec::new();
        let mut moved = Vec::new();
        for name in candidates {
            let (before, current) = (self.refs_before.get(&name), now.get(&name));
            if before == current {
                continue;
            }
            if let Some(after) = self.refs_after.get(&name) {
                if after.as_ref() != current {
                    moved.push(name.clone());
                    continue;
                }
            } else if before.is_some() {
                // Not seen changed by a finished step and already there before: the user's.
                continue;
            }
            changes.push((name, before.cloned(), current.cloned()));
        }
        if !moved.is_empty() {
            return Err(Error::usage(format!(
                "{} moved since the release changed {}; --abort leaves refs it did not set alone",
                moved.join(", "),
                if moved.len() == 1 { "it" } else { "them" }
            ))
            .with_help("put them back where the release left them, or undo the release by hand"));
        }
        repo.git.run(effects, &["checkout", "--quiet", "--detach"])?;
        for (name, before, current) in &changes {
            // Compare-and-swap: each update applies only if the ref still holds `current`.
            match (before, current) {
                (Some(b), Some(c)) => repo.git.run(effects, &["update-ref", name, b, c])?,
                (Some(b), None) => repo.git.run(effects, &["update-ref", name, b, ""])?,
                (None, Some(c)) => repo.git.run(effects, &["update-ref", "-d", name, c])?,
                (None, None) => {}
            }
        }
        if self.head_was_branch {
            repo.git.run(effects, &["checkout", "--quiet", &self.head_before])?;
        } else {
            repo.git.run(effects, &["checkout", "--quiet", "--detach", &self.head_before])?;
        }
        Ok(())
    }
}
