//! Directory walks: what is below a directory, in a stable order.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io, Error, Result};

/// One entry below the walked root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// The path relative to the root.
    pub rel: String,
    pub path: Utf8PathBuf,
    pub is_dir: bool,
    /// Permission bits (0o755 for directories).
    pub mode: u32,
}

/// Every directory and regular file under `root` (links are neither followed nor listed),
/// sorted by relative path; `descend` says which directories (by name) to enter and list.
pub fn tree(root: &Utf8Path, descend: &dyn Fn(&str) -> bool) -> Result<Vec<Entry>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = Utf8PathBuf::from_path_buf(entry.path())
                .map_err(|p| Error::failed(format!("{} is not UTF-8", p.display())))?;
            let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            let rel = path.strip_prefix(root).expect("under root").to_string();
            if meta.is_dir() {
                if descend(path.file_name().unwrap_or("")) {
                    stack.push(path.clone());
                    out.push(Entry { rel, path, is_dir: true, mode: 0o755 });
                }
            } else if meta.is_file() {
                out.push(Entry { rel, path, is_dir: false, mode: meta.permissions().mode() });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every regular file named `name` below `root`, outside `target/` and hidden directories
/// (a FIFO of that name is not listed: reading it would wait forever).
pub fn files_named(root: &Utf8Path, name: &str) -> Result<Vec<Utf8PathBuf>> {
    let found = tree(root, &|dir| !dir.starts_with('.') && dir != "target")?;
    Ok(found.into_iter().filter(|e| !e.is_dir && e.path.file_name() == Some(name)).map(|e| e.path).collect())
}
