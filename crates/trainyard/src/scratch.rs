//! Temporary directories: private space of one run, removed when dropped.
//!
//! A plan is sometimes computed by running a tool (a resolution is what `cargo update` writes):
//! it runs in a temporary directory, outside the workspace and its `target/`, so a dry-run
//! changes nothing and a killed run leaves nothing a later run would trust.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io, Error, Result};

/// A directory of this run, removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: Utf8PathBuf,
}

impl TempDir {
    /// A new empty directory in the system's temporary directory, named after `purpose`.
    pub fn new(purpose: &str) -> Result<TempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .map_err(|p| Error::failed(format!("the temporary directory {} is not UTF-8", p.display())))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = base.join(format!(
            "trainyard-{purpose}-{}-{nanos:x}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Utf8Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
