//! The Rust workspace trainyard serves: where it is, its configuration, its target directory.

use camino::{Utf8Path, Utf8PathBuf};

use crate::config::Config;
use crate::error::{io, Error, Result};

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: Utf8PathBuf,
    pub manifest: Utf8PathBuf,
    pub config: Config,
    pub target_dir: Utf8PathBuf,
}

impl Workspace {
    /// Finds the workspace containing `start`: the nearest ancestor whose
    /// `Cargo.toml` has a `[workspace]` table (or the nearest manifest at all).
    pub fn discover(start: &Utf8Path) -> Result<Workspace> {
        let mut nearest = None;
        for dir in start.ancestors() {
            let manifest = dir.join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
            if nearest.is_none() {
                nearest = Some(manifest.clone());
            }
            if text.lines().any(|l| l.trim() == "[workspace]" || l.trim_start().starts_with("[workspace.")) {
                return Workspace::at(&manifest);
            }
        }
        match nearest {
            Some(manifest) => Workspace::at(&manifest),
            None => Err(Error::usage(format!("no Cargo.toml in {start} or any parent directory"))
                .with_help("run trainyard inside a Rust workspace")),
        }
    }

    pub fn at(manifest: &Utf8Path) -> Result<Workspace> {
        let config = Config::load(manifest)?;
        let root = manifest.parent().map(Utf8Path::to_path_buf).unwrap_or_else(|| ".".into());
        let target_dir = match std::env::var("CARGO_TARGET_DIR") {
            Ok(dir) if !dir.is_empty() => {
                let dir = Utf8PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    root.join(dir)
                }
            }
            _ => root.join("target"),
        };
        Ok(Workspace { manifest: manifest.to_path_buf(), root, config, target_dir })
    }

    /// A stand-in for targets that need no workspace, rooted at `dir`.
    pub fn detached(dir: &Utf8Path) -> Workspace {
        Workspace {
            root: dir.to_path_buf(),
            manifest: dir.join("Cargo.toml"),
            config: Config::default(),
            target_dir: dir.join("target"),
        }
    }

    /// trainyard's own state: `target/trainyard/`.
    pub fn state_dir(&self) -> Utf8PathBuf {
        self.target_dir.join("trainyard")
    }

    pub fn reqs_path(&self, channel: crate::channel::Channel) -> Utf8PathBuf {
        channel.reqs_path(&self.root, &self.config.reqs_dir)
    }

    pub fn lock_path(&self) -> Utf8PathBuf {
        self.root.join("Cargo.lock")
    }

    /// A path relative to the workspace root, for messages.
    pub fn display<'a>(&self, path: &'a Utf8Path) -> &'a Utf8Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}
