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
    /// Set when this is the workspace as of a ref (`ACCOUNT_PORTAL=rpm-1.2`), checked out in
    /// the cache: the checkout is not a git repository, so its commit is recorded here.
    pub checkout: Option<Checkout>,
}

#[derive(Debug, Clone)]
pub struct Checkout {
    pub reference: String,
    pub commit: String,
    /// The version of `commit`, computed from the mirror's tags (the checkout has no history);
    /// `None` when `TRAINYARD_PRETEND_VERSION` gives it. The version module reads it from here.
    pub version: Option<crate::version::Version>,
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
                    // Cargo reads a relative CARGO_TARGET_DIR from the current directory.
                    std::env::current_dir()
                        .ok()
                        .and_then(|cwd| Utf8PathBuf::from_path_buf(cwd).ok())
                        .unwrap_or_else(|| root.clone())
                        .join(dir)
                }
            }
            _ => configured_target_dir(&root).unwrap_or_else(|| root.join("target")),
        };
        Ok(Workspace { manifest: manifest.to_path_buf(), root, config, target_dir, checkout: None })
    }

    /// A stand-in for targets that need no workspace, rooted at `dir`.
    pub fn detached(dir: &Utf8Path) -> Workspace {
        Workspace {
            root: dir.to_path_buf(),
            manifest: dir.join("Cargo.toml"),
            config: Config::default(),
            target_dir: dir.join("target"),
            checkout: None,
        }
    }

    /// trainyard's own state: `target/trainyard/`.
    pub fn state_dir(&self) -> Utf8PathBuf {
        match &self.checkout {
            // A checkout's dev resolution, lock swap and manifests never mix with the workspace's.
            Some(c) => self.target_dir.join("trainyard").join("self").join(&c.commit[..c.commit.len().min(12)]),
            None => self.target_dir.join("trainyard"),
        }
    }

    /// Where internal projects are checked out (shared by the workspace and its own checkouts).
    ///
    /// By default outside the workspace directory, in the user's cache directory: cargo looks for
    /// the workspace of a manifest in every parent directory, so a plain crate checked out under
    /// `target/` of a workspace whose root has `[workspace]` is "a package that believes it is in
    /// a workspace when it is not" and every cargo call on it fails. One cache per target
    /// directory (the key is its path), as before: two clones never share or fight over mirrors.
    pub fn checkout_cache_dir(&self) -> Utf8PathBuf {
        match &self.config.cache_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => self.root.join(dir),
            None => match user_cache_dir() {
                Some(cache) => {
                    use sha2::{Digest, Sha256};
                    let target = std::path::absolute(&self.target_dir)
                        .ok()
                        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
                        .unwrap_or_else(|| self.target_dir.clone());
                    let digest = Sha256::digest(target.as_str().as_bytes());
                    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                    let label: String = self
                        .config
                        .name()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
                        .collect();
                    cache.join("trainyard").join("checkouts").join(format!("{label}-{key}"))
                }
                None => self.target_dir.join("trainyard").join("checkouts"),
            },
        }
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

/// `$XDG_CACHE_HOME`, else `$HOME/.cache` (the XDG base directory rule); `None` without either.
pub fn user_cache_dir() -> Option<Utf8PathBuf> {
    let from = |var: &str| std::env::var(var).ok().filter(|v| Utf8Path::new(v).is_absolute()).map(Utf8PathBuf::from);
    from("XDG_CACHE_HOME").or_else(|| from("HOME").map(|home| home.join(".cache")))
}

/// `build.target-dir` as cargo reads it: `CARGO_BUILD_TARGET_DIR`, else the nearest
/// `.cargo/config.toml` (or `.cargo/config`) from `root` up, then `$CARGO_HOME/config.toml`; a
/// relative path is relative to the directory holding `.cargo/`.
fn configured_target_dir(root: &Utf8Path) -> Option<Utf8PathBuf> {
    if let Some(dir) = std::env::var("CARGO_BUILD_TARGET_DIR").ok().filter(|d| !d.is_empty()) {
        let dir = Utf8PathBuf::from(dir);
        let cwd = std::env::current_dir().ok().and_then(|c| Utf8PathBuf::from_path_buf(c).ok());
        return Some(if dir.is_absolute() { dir } else { cwd.unwrap_or_else(|| root.to_path_buf()).join(dir) });
    }
    let cargo_home = std::env::var("CARGO_HOME")
        .ok()
        .map(Utf8PathBuf::from)
        .or_else(|| std::env::var("HOME").ok().map(|h| Utf8PathBuf::from(h).join(".cargo")));
    let mut configs: Vec<(Utf8PathBuf, Utf8PathBuf)> = Vec::new();
    for dir in root.ancestors() {
        for name in ["config.toml", "config"] {
            configs.push((dir.join(".cargo").join(name), dir.to_path_buf()));
        }
    }
    if let Some(home) = cargo_home {
        let base = home.parent().map(Utf8Path::to_path_buf).unwrap_or_else(|| home.clone());
        configs.push((home.join("config.toml"), base));
    }
    for (file, base) in configs {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let Ok(table) = text.parse::<toml::Table>() else { continue };
        if let Some(dir) = table.get("build").and_then(|b| b.get("target-dir")).and_then(|d| d.as_str()) {
            let dir = Utf8PathBuf::from(dir);
            return Some(if dir.is_absolute() { dir } else { base.join(dir) });
        }
    }
    None
}
