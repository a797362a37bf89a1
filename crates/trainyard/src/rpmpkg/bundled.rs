//! The crates compiled into a packaged binary, for its `Provides: bundled(crate(NAME)) = VERSION`
//! (Fedora's rule for statically linked Rust dependencies, which vulnerability trackers read).
//!
//! Read from cargo's feature-resolved graph for the target, as `cargo tree` prints it, not from
//! `Cargo.lock`, which also lists dev-dependencies, crates of other platforms and optional
//! dependencies no feature turned on. (`cargo metadata`'s `resolve` is not enough either: it
//! keeps optional dependencies that only a weak feature, `dep?/feature`, names, which the
//! build does not compile — `indexmap` under `toml` in this repository.) Only *normal* edges
//! count:
//!
//! - build-dependencies run on the build machine and are not linked;
//! - proc-macro crates run inside the compiler and are not linked (nor what they depend on
//!   through them), as Fedora's `%cargo_vendor_manifest` leaves them out
//!   (`cargo tree -e no-build,no-dev,no-proc-macro`);
//! - dev-dependencies are for tests only.
//!
//! The graph is the one of `cargo build --workspace` (what `build_rpms` runs): features are
//! unified across the workspace members, which is what each binary links.
//!
//! The lead may later compute this from one "product graph" shared with `pin` and the channel
//! rules; until then this is the one place that says what a binary bundles.

use std::collections::{BTreeMap, BTreeSet};

/// The arguments of `cargo tree` whose output [`linked_crates`] reads, after `--target TRIPLE`.
pub const CARGO_TREE_ARGS: [&str; 7] =
    ["--workspace", "-e", "normal,no-proc-macro", "--prefix", "depth", "--format", "{p}"];

/// `(name, version)` of every package linked into the workspace member `root`, `root` itself
/// excluded, sorted, from the output of `cargo tree` with [`CARGO_TREE_ARGS`]. Empty when
/// `root` is not a root of that output.
pub fn linked_crates(cargo_tree: &str, root: &str) -> Vec<(String, String)> {
    // cargo tree prints each subtree once (later occurrences end in `(*)`): gather the edges
    // of the whole output, then walk them from the root.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut path: Vec<String> = Vec::new();
    let mut roots: Vec<String> = Vec::new();
    for line in cargo_tree.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else { continue };
        let node = line[digits..].trim().trim_end_matches("(*)").trim().to_string();
        if node.is_empty() {
            continue;
        }
        path.truncate(depth);
        if let Some(parent) = path.last() {
            edges.entry(parent.clone()).or_default().insert(node.clone());
        } else {
            roots.push(node.clone());
        }
        path.push(node);
    }
    let Some(start) = roots.iter().find(|r| r.split_whitespace().next() == Some(root)) else { return Vec::new() };
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack = vec![start.as_str()];
    while let Some(node) = stack.pop() {
        for dep in edges.get(node).into_iter().flatten() {
            if dep != start && seen.insert(dep) {
                stack.push(dep);
            }
        }
    }
    let mut out: Vec<(String, String)> = seen
        .into_iter()
        .filter_map(|node| {
            let mut words = node.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `cargo tree` arguments, after `--target TRIPLE`, of every crate a build or test of the
/// workspace compiles for the target (all edge kinds), read by [`all_crates`].
pub const CARGO_TREE_ALL_ARGS: [&str; 7] = ["--workspace", "-e", "all", "--prefix", "depth", "--format", "{p}"];

/// Every `(name, version)` of a `cargo tree` output with [`CARGO_TREE_ALL_ARGS`].
pub fn all_crates(cargo_tree: &str) -> BTreeSet<(String, String)> {
    cargo_tree
        .lines()
        .filter_map(|line| {
            let mut words = line.trim_start_matches(|c: char| c.is_ascii_digit()).split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtrees_printed_once_are_followed() {
        let tree = "0lib v0.1.0 (/ws/lib)\n1serde v1.0.1\n2serde_core v1.0.1\n1camino v1.2.6\n\n\
                    0app v0.1.0 (/ws/app)\n1lib v0.1.0 (/ws/lib) (*)\n1rc v1.0.0-rc.1\n\n\
                    0tool v0.1.0 (/ws/tool)\n1clap v4.0.0\n";
        let names = |root| linked_crates(tree, root);
        assert_eq!(
            names("app"),
            [("camino", "1.2.6"), ("lib", "0.1.0"), ("rc", "1.0.0-rc.1"), ("serde", "1.0.1"), ("serde_core", "1.0.1")]
                .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert_eq!(names("tool"), [("clap".to_string(), "4.0.0".to_string())]);
        assert!(names("nope").is_empty());
    }
}
