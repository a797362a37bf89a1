//! The workspace version in `Cargo.toml` and the members' entries in `Cargo.lock`.
//!
//! Both are edited as text, one string literal each, so that comments, ordering and
//! formatting stay as the user wrote them (no `toml_edit` dependency for one value).
//!
//! Cargo.lock is edited rather than regenerated: `cargo update --workspace --offline`
//! needs every locked registry crate in the local index cache (a fresh CI clone does not
//! have it) and may rewrite other entries; the members' `version` lines are all that a
//! version change touches, and the edit is what cargo would write.

use camino::Utf8Path;

use crate::error::{io, Error, Result};
use crate::Context;

/// Where the workspace's version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// `[workspace.package] version`.
    WorkspacePackage,
    /// The root package's `[package] version`.
    RootPackage,
}

/// Reads the workspace's version: `[workspace.package] version`, else the root package's.
pub fn read_version(path: &Utf8Path, text: &str) -> Result<semver::Version> {
    let (_, value) = find(path, text)?;
    semver::Version::parse(&value).map_err(|e| {
        Error::usage(format!("{path}: version `{value}` is not a Cargo version: {e}"))
            .with_help("write a version such as version = \"1.2.0\"")
    })
}

fn find(path: &Utf8Path, text: &str) -> Result<(Holder, String)> {
    let doc: toml::Table = toml::from_str(text)
        .map_err(|e| Error::usage(format!("{path}: not valid TOML\n{}", e.to_string().trim_end())))?;
    let ws = doc.get("workspace").and_then(|w| w.get("package")).and_then(|p| p.get("version"));
    if let Some(v) = ws.and_then(|v| v.as_str()) {
        return Ok((Holder::WorkspacePackage, v.to_string()));
    }
    let root = doc.get("package").and_then(|p| p.get("version"));
    if let Some(v) = root.and_then(|v| v.as_str()) {
        return Ok((Holder::RootPackage, v.to_string()));
    }
    Err(Error::usage(format!(
        "{path}: no version to release: neither [workspace.package] version nor [package] version"
    ))
    .with_help("add\n[workspace.package]\nversion = \"1.2.0\"\nand `version.workspace = true` in each member"))
}

/// Returns `text` with the workspace version set to `new`, everything else byte for byte.
pub fn set_version(path: &Utf8Path, text: &str, new: &str) -> Result<String> {
    let (holder, old) = find(path, text)?;
    let mut table = String::new();
    let mut out = String::with_capacity(text.len() + 8);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            table = header(trimmed);
        } else if !done {
            if let Some((key, value_at)) = key_of(line) {
                let wanted = match holder {
                    Holder::WorkspacePackage => {
                        (table == "workspace.package" && key == "version")
                            || (table == "workspace" && key == "package.version")
                    }
                    Holder::RootPackage => table == "package" && key == "version",
                };
                if wanted {
                    if let Some(edited) = replace_string(line, value_at, &old, new) {
                        out.push_str(&edited);
                        done = true;
                        continue;
                    }
                }
            }
        }
        out.push_str(line);
    }
    if !done {
        let place = match holder {
            Holder::WorkspacePackage => "[workspace.package] version",
            Holder::RootPackage => "[package] version",
        };
        return Err(Error::usage(format!("{path}: cannot edit {place} = \"{old}\" in place")).with_help(format!(
            "write it on one line under its table header: [{}]\nversion = \"{old}\"",
            match holder {
                Holder::WorkspacePackage => "workspace.package",
                Holder::RootPackage => "package",
            }
        )));
    }
    Ok(out)
}

/// `[ workspace . package ] # x` -> `workspace.package`; `[[bin]]` -> `[bin]`.
fn header(line: &str) -> String {
    let inner = line.split('#').next().unwrap_or("").trim();
    let name: String = inner.trim_matches(|c| c == '[' || c == ']').chars().filter(|c| !c.is_whitespace()).collect();
    if inner.starts_with("[[") {
        format!("[{name}]")
    } else {
        name
    }
}

/// A `key = value` line: the dotted key without spaces, and the byte offset of the value.
fn key_of(line: &str) -> Option<(String, usize)> {
    let eq = line.find('=')?;
    let key = &line[..eq];
    if key.trim().is_empty() || key.contains(['"', '\'', '#']) {
        return None;
    }
    let key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    let value_at = eq + 1 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
    Some((key, value_at))
}

/// Replaces the string literal at `at` when it holds `old`.
fn replace_string(line: &str, at: usize, old: &str, new: &str) -> Option<String> {
    let rest = &line[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &rest[1..];
    let end = body.find(quote)?;
    (&body[..end] == old).then(|| format!("{}{quote}{new}{quote}{}", &line[..at], &body[end + 1..]))
}

/// The workspace members whose version is the workspace's (`version.workspace = true`,
/// or the root package holding it).
pub fn following_members(ctx: &Context) -> Result<Vec<String>> {
    // A read: through exec, which starts the processes that change nothing.
    let metadata = crate::cargo::Invocation::new("metadata")
        .args(["--format-version", "1", "--no-deps", "--offline"])
        .manifest_path(&ctx.ws.manifest)
        .command();
    let json = crate::exec::read_command(&metadata).map_err(|e| e.context("cargo metadata"))?;
    let meta =
        cargo_metadata::MetadataCommand::parse(json).map_err(|e| Error::failed(format!("cargo metadata: {e}")))?;
    let root_text = std::fs::read_to_string(&ctx.ws.manifest).map_err(io(&ctx.ws.manifest))?;
    let (holder, _) = find(&ctx.ws.manifest, &root_text)?;
    let mut names = Vec::new();
    for id in &meta.workspace_members {
        let Some(pkg) = meta.packages.iter().find(|p| &p.id == id) else { continue };
        let text = std::fs::read_to_string(&pkg.manifest_path).map_err(io(&pkg.manifest_path))?;
        let doc: toml::Table =
            toml::from_str(&text).map_err(|e| Error::usage(format!("{}: {e}", pkg.manifest_path)))?;
        let version = doc.get("package").and_then(|p| p.get("version"));
        let inherits = version.and_then(|v| v.get("workspace")).and_then(|w| w.as_bool()) == Some(true);
        let is_root = pkg.manifest_path == ctx.ws.manifest;
        if inherits || (is_root && holder == Holder::RootPackage) {
            names.push(pkg.name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Sets the lock entries of `members` (path packages: no `source`) from `old` to `new`.
pub fn set_lock_versions(lock: &str, members: &[String], old: &semver::Version, new: &semver::Version) -> String {
    let mut out = String::with_capacity(lock.len());
    let blocks = split_blocks(lock);
    for block in blocks {
        let name = block.lines().find_map(|l| l.strip_prefix("name = \"")).and_then(|r| r.strip_suffix('"'));
        let is_member = block.starts_with("[[package]]")
            && name.is_some_and(|n| members.iter().any(|m| m == n))
            && !block.lines().any(|l| l.starts_with("source = "));
        let mut text = if is_member {
            block
                .split_inclusive('\n')
                .map(|l| if l.starts_with("version = \"") { format!("version = \"{new}\"\n") } else { l.to_string() })
                .collect::<String>()
        } else {
            block.to_string()
        };
        // References carry the version only when a name is locked twice: "app 1.2.0".
        for m in members {
            text = text.replace(&format!("\"{m} {old}\""), &format!("\"{m} {new}\""));
        }
        out.push_str(&text);
    }
    out
}

/// The lock file cut before each `[[package]]` line.
fn split_blocks(lock: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut pos = 0;
    for line in lock.split_inclusive('\n') {
        if line.starts_with("[[") && pos != 0 {
            starts.push(pos);
        }
        pos += line.len();
    }
    starts.push(lock.len());
    starts.windows(2).map(|w| &lock[w[0]..w[1]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Utf8Path {
        Utf8Path::new("Cargo.toml")
    }

    #[test]
    fn workspace_package_version_is_edited_in_place() {
        let text = "# portal\n[workspace]\nmembers = [\"app\"]\n\n[workspace.package]  # shared\nedition = \"2021\"\nversion   =   \"1.2.0-dev\"  # the train\nlicense = \"MIT\"\n\n[package]\nversion = \"9.9.9\"\n";
        assert_eq!(read_version(p(), text).unwrap().to_string(), "1.2.0-dev");
        let new = set_version(p(), text, "1.3.0").unwrap();
        assert_eq!(new, text.replace("\"1.2.0-dev\"", "\"1.3.0\""));
        assert_eq!(read_version(p(), &new).unwrap().to_string(), "1.3.0");
    }

    #[test]
    fn dotted_key_and_root_package() {
        let text = "[workspace]\npackage.version = '0.4.1'\n";
        assert_eq!(set_version(p(), text, "0.5.0").unwrap(), "[workspace]\npackage.version = '0.5.0'\n");
        let text = "[package]\nname = \"x\"\nversion = \"1.0.0\"\n\n[dependencies]\nversion = \"1.0.0\"\n";
        let new = set_version(p(), text, "1.1.0").unwrap();
        assert_eq!(new, "[package]\nname = \"x\"\nversion = \"1.1.0\"\n\n[dependencies]\nversion = \"1.0.0\"\n");
    }

    #[test]
    fn missing_or_odd_versions() {
        let err = set_version(p(), "[workspace]\nmembers = []\n", "1.0.0").unwrap_err();
        assert!(err.message.contains("no version to release"), "{}", err.message);
        let err = set_version(p(), "[workspace]\npackage = { version = \"1.0.0\" }\n", "1.1.0").unwrap_err();
        assert!(err.message.contains("cannot edit"), "{}", err.message);
        let err = read_version(p(), "[workspace.package]\nversion = \"1.2\"\n").unwrap_err();
        assert!(err.message.contains("`1.2` is not a Cargo version"), "{}", err.message);
    }

    #[test]
    fn lock_members_only() {
        let lock = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"1.2.0\"\ndependencies = [\n \"leftpad\",\n \"util 1.2.0\",\n]\n\n[[package]]\nname = \"leftpad\"\nversion = \"1.2.0\"\nsource = \"registry+https://example.invalid/index\"\n\n[[package]]\nname = \"util\"\nversion = \"1.2.0\"\n";
        let old = semver::Version::parse("1.2.0").unwrap();
        let new = semver::Version::parse("1.3.0").unwrap();
        let out = set_lock_versions(lock, &["app".into(), "util".into()], &old, &new);
        assert_eq!(
            out,
            lock.replacen("name = \"app\"\nversion = \"1.2.0\"", "name = \"app\"\nversion = \"1.3.0\"", 1)
                .replace("\"util 1.2.0\"", "\"util 1.3.0\"")
                .replacen("name = \"util\"\nversion = \"1.2.0\"", "name = \"util\"\nversion = \"1.3.0\"", 1)
        );
        assert!(out.contains("name = \"leftpad\"\nversion = \"1.2.0\""));
    }
}
