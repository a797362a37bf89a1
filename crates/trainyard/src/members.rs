//! The members of a workspace, as `cargo metadata --no-deps` describes them.

use std::collections::BTreeSet;

use camino::Utf8Path;

use crate::error::{Error, Result};
use crate::exec;
use crate::rpmpkg::assets;
use crate::workspace::Workspace;

/// A workspace member with what `cargo metadata --no-deps` says of it.
pub struct Member {
    pub info: assets::CrateInfo,
    pub metadata: serde_json::Value,
}

impl Member {
    /// Whether the crate has packaging metadata (`[package.metadata.trainyard.rpm]` or
    /// `[package.metadata.generate-rpm]`).
    pub fn packaged(&self) -> bool {
        crate::product::is_packaged(&self.metadata)
    }
}

/// The workspace's members, from `cargo metadata --no-deps` (which resolves nothing and
/// writes nothing).
pub fn workspace_members(ws: &Workspace) -> Result<Vec<Member>> {
    let meta = metadata(ws)?;
    Ok(members_of(&meta)
        .map(|p| Member {
            info: assets::CrateInfo {
                name: p.name.to_string(),
                version: p.version.to_string(),
                license: p.license.clone(),
                description: p.description.clone(),
                homepage: p.homepage.clone(),
                repository: p.repository.clone(),
                manifest_dir: p.manifest_path.parent().map(Utf8Path::to_path_buf).unwrap_or_default(),
                workspace_root: meta.workspace_root.clone(),
                bins: p.targets.iter().filter(|t| t.is_bin()).map(|t| t.name.clone()).collect(),
            },
            metadata: p.metadata.clone(),
        })
        .collect())
}

/// A member's `rust-version` (`package.rust-version`): the oldest rustc that builds it.
pub struct RustVersion {
    pub name: String,
    pub manifest: camino::Utf8PathBuf,
    pub version: semver::Version,
}

/// The `rust-version` of each member that declares one.
pub fn rust_versions(ws: &Workspace) -> Result<Vec<RustVersion>> {
    let meta = metadata(ws)?;
    Ok(members_of(&meta)
        .filter_map(|p| {
            let version = p.rust_version.clone()?;
            Some(RustVersion { name: p.name.to_string(), manifest: p.manifest_path.clone(), version })
        })
        .collect())
}

/// The packages of `meta` that are members of the workspace.
fn members_of(meta: &cargo_metadata::Metadata) -> impl Iterator<Item = &cargo_metadata::Package> {
    let members: BTreeSet<_> = meta.workspace_members.iter().collect();
    meta.packages.iter().filter(move |p| members.contains(&p.id))
}

fn metadata(ws: &Workspace) -> Result<cargo_metadata::Metadata> {
    let cmd = crate::cargo::Invocation::new("metadata")
        .args(["--format-version", "1", "--no-deps"])
        .manifest_path(&ws.manifest)
        .dir(&ws.root)
        .command();
    let json = exec::read_command(&cmd)?;
    serde_json::from_str(&json).map_err(|e| Error::failed(format!("reading cargo metadata: {e}")))
}
