//! The product of a workspace: the crates it ships, and everything they depend on.
//!
//! A workspace also holds tools (its `xtask`, code generators, benchmarks harnesses) that are
//! never shipped. Whatever layout the user chose, `build`, `build_rpms`, `pin`, the channel
//! rules and the dependency collection see only the product:
//!
//! - the **roots** are the members with packaging metadata (`[package.metadata.trainyard.rpm]`
//!   or `[package.metadata.generate-rpm]`);
//! - when no member has any (a workspace not yet adopted, or one that only builds), the roots
//!   are every member except the xtask-like ones (`xtask`, `xtask-*`): packaging metadata is
//!   the user's statement of what ships, and without it the cargo-xtask convention is the only
//!   signal of what is a tool; building every other member is what `--workspace` did;
//! - the **graph** is the roots and every package they reach in the lock file (normal, build,
//!   and the roots' own dev-dependencies: the lock holds no others), so a crate the xtask alone
//!   uses is neither pinned nor checked nor collected.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::lockfile::{self, LockedPackage};
use crate::members::{workspace_members, Member};
use crate::workspace::Workspace;

/// How the roots were chosen (for messages and the build manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The members with packaging metadata.
    Packaged,
    /// No member has packaging metadata: every member but the xtask-like ones.
    AllButTools,
}

#[derive(Debug, Clone)]
pub struct Product {
    /// The workspace crates the product is built from (cargo `-p` names), sorted.
    pub roots: Vec<String>,
    pub choice: Choice,
    /// Members left out (the tools), sorted.
    pub tools: Vec<String>,
}

/// Whether a member with this name is a tool by the cargo-xtask convention.
pub fn is_xtask_like(name: &str) -> bool {
    name == "xtask" || name.starts_with("xtask-") || name.starts_with("xtask_")
}

/// Whether a member carries packaging metadata.
pub fn is_packaged(metadata: &serde_json::Value) -> bool {
    metadata.pointer("/trainyard/rpm").is_some() || metadata.get("generate-rpm").is_some()
}

impl Product {
    /// The product of `ws`, from `cargo metadata --no-deps` (resolves nothing, writes nothing).
    pub fn of(ws: &Workspace) -> Result<Product> {
        Ok(Product::from_members(&workspace_members(ws)?))
    }

    pub fn from_members(members: &[Member]) -> Product {
        let packaged: Vec<&Member> = members.iter().filter(|m| is_packaged(&m.metadata)).collect();
        let (roots, choice): (Vec<&Member>, Choice) = if packaged.is_empty() {
            (members.iter().filter(|m| !is_xtask_like(&m.info.name)).collect(), Choice::AllButTools)
        } else {
            (packaged, Choice::Packaged)
        };
        let mut root_names: Vec<String> = roots.iter().map(|m| m.info.name.clone()).collect();
        root_names.sort();
        root_names.dedup();
        let mut tools: Vec<String> =
            members.iter().map(|m| m.info.name.clone()).filter(|n| !root_names.contains(n)).collect();
        tools.sort();
        Product { roots: root_names, choice, tools }
    }

    /// `-p ROOT` for each root: what `cargo build` builds instead of `--workspace`. Empty roots
    /// (a workspace made only of tools) fall back to `--workspace`, so cargo says what it says.
    pub fn cargo_args(&self) -> Vec<String> {
        if self.roots.is_empty() {
            return vec!["--workspace".into()];
        }
        self.roots.iter().flat_map(|r| ["-p".to_string(), r.clone()]).collect()
    }

    /// The product graph of a lock: the roots and every package they reach, in lock order.
    pub fn graph<'a>(&self, lock: &'a [LockedPackage]) -> Vec<&'a LockedPackage> {
        let mut keep: BTreeSet<(&str, &str, Option<&str>)> = BTreeSet::new();
        for root in &self.roots {
            for p in lock.iter().filter(|p| &p.name == root && p.source.is_none()) {
                keep.insert(key(p));
            }
            for p in lockfile::closure(lock, root) {
                keep.insert(key(p));
            }
        }
        lock.iter().filter(|p| keep.contains(&key(p))).collect()
    }

    /// [`Product::graph`], owned.
    pub fn graph_owned(&self, lock: &[LockedPackage]) -> Vec<LockedPackage> {
        self.graph(lock).into_iter().cloned().collect()
    }
}

fn key(p: &LockedPackage) -> (&str, &str, Option<&str>) {
    (p.name.as_str(), p.version.as_str(), p.source.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmpkg::assets::CrateInfo;

    fn member(name: &str, packaged: bool) -> Member {
        let metadata = if packaged { serde_json::json!({"trainyard": {"rpm": {}}}) } else { serde_json::Value::Null };
        Member { info: CrateInfo { name: name.into(), ..CrateInfo::default() }, metadata }
    }

    use crate::lockfile::closure_tests::pkg;

    #[test]
    fn packaged_members_are_the_roots() {
        let p = Product::from_members(&[member("app", true), member("xtask", false), member("gen", false)]);
        assert_eq!(p.roots, ["app"]);
        assert_eq!(p.choice, Choice::Packaged);
        assert_eq!(p.tools, ["gen", "xtask"]);
        assert_eq!(p.cargo_args(), ["-p", "app"]);
    }

    #[test]
    fn without_packaging_every_member_but_the_xtask() {
        let p = Product::from_members(&[member("app", false), member("xtask", false), member("xtask-gen", false)]);
        assert_eq!(p.roots, ["app"]);
        assert_eq!(p.choice, Choice::AllButTools);
        assert_eq!(p.tools, ["xtask", "xtask-gen"]);
        assert!(!is_xtask_like("xtasks"));
    }

    #[test]
    fn the_graph_leaves_out_what_only_tools_use() {
        let reg = Some("registry+x");
        let lock = vec![
            pkg("app", "0.1.0", None, &["corelib"]),
            pkg("corelib", "0.1.0", None, &["serde"]),
            pkg("serde", "1.0.0", reg, &[]),
            pkg("xtask", "0.1.0", None, &["trainyard", "serde"]),
            pkg("trainyard", "0.1.0", None, &["rpm"]),
            pkg("rpm", "0.18.0", reg, &[]),
        ];
        let p = Product::from_members(&[member("app", true), member("corelib", false), member("xtask", false)]);
        let names: Vec<&str> = p.graph(&lock).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["app", "corelib", "serde"]);
    }
}
