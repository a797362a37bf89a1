//! The Rust toolchain a build will use, checked against the workspace's `rust-version`s before
//! anything is planned: cargo would refuse the build only after trainyard had started writing.

use crate::error::{Error, Kind, Result};
use crate::members::{self, RustVersion};
use crate::plan;
use crate::workspace::Workspace;

/// The rustc cargo runs: `$RUSTC`, else the `rustc` beside `$CARGO` (the toolchain's own, as
/// `cargo xtask` sets it), else `rustc` on `PATH` (rustup's proxy, which reads the workspace's
/// `rust-toolchain.toml` from the directory it runs in).
pub(crate) fn rustc() -> String {
    if let Some(rustc) = std::env::var("RUSTC").ok().filter(|r| !r.is_empty()) {
        return rustc;
    }
    std::env::var("CARGO")
        .ok()
        .map(camino::Utf8PathBuf::from)
        .and_then(|cargo| Some(cargo.parent()?.join("rustc")))
        .filter(|rustc| rustc.is_file())
        .map(|rustc| rustc.into_string())
        .unwrap_or_else(|| "rustc".into())
}

/// The `release:` line of `rustc -vV` as (major, minor, patch); a pre-release (`1.96.0-nightly`)
/// counts as its release, as cargo counts it.
fn release(verbose_version: &str) -> Option<(u64, u64, u64)> {
    let line = verbose_version.lines().find_map(|l| l.strip_prefix("release:"))?.trim();
    let numbers = line.split(['-', '+']).next()?;
    let mut parts = numbers.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next().unwrap_or(Some(0))?))
}

/// The members that need a newer rustc than `found`.
fn too_new(found: (u64, u64, u64), wanted: &[RustVersion]) -> Vec<&RustVersion> {
    wanted.iter().filter(|w| (w.version.major, w.version.minor, w.version.patch) > found).collect()
}

/// The error naming each crate whose `rust-version` `found` does not reach.
fn refusal(ws: &Workspace, found: &str, short: &[&RustVersion]) -> Error {
    let lines: Vec<String> = short
        .iter()
        .map(|w| {
            format!(
                "crate `{}` needs rustc {} (rust-version in {}), and the toolchain here is rustc {found}",
                w.name,
                w.version,
                ws.display(&w.manifest)
            )
        })
        .collect();
    let newest = short.iter().map(|w| &w.version).max().expect("at least one crate");
    let pin = if newest.patch == 0 { format!("{}.{}", newest.major, newest.minor) } else { newest.to_string() };
    Error::new(Kind::MissingTool, lines.join("\n")).with_help(format!(
        "update the toolchain: rustup update, or install that one: rustup toolchain install {pin} \
         (and select it: rustup override set {pin})"
    ))
}

/// Refuses (exit 3, a missing tool) when the rustc cargo will run is older than a member's
/// `rust-version`. A read only (`cargo metadata`, `rustc -vV`): the plan phase of every target
/// that builds runs it before anything else.
pub fn check(ws: &Workspace) -> Result<()> {
    let wanted = members::rust_versions(ws)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let cmd = plan::Command::program(rustc()).arg("-vV").dir(&ws.root);
    let text = crate::exec::read_command(&cmd)?;
    let Some(found) = release(&text) else {
        return Err(Error::failed(format!("`{} -vV` printed no release line: {}", cmd.program, text.trim()))
            .with_help("is the Rust toolchain installed whole? rustup update"));
    };
    let short = too_new(found, &wanted);
    if short.is_empty() {
        return Ok(());
    }
    Err(refusal(ws, &format!("{}.{}.{}", found.0, found.1, found.2), &short))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(name: &str, version: &str) -> RustVersion {
        RustVersion {
            name: name.into(),
            manifest: format!("{name}/Cargo.toml").into(),
            version: version.parse().unwrap(),
        }
    }

    #[test]
    fn release_lines_are_read_as_cargo_reads_them() {
        let stable = "rustc 1.95.0 (abc 2026-01-01)\nbinary: rustc\nrelease: 1.95.0\nLLVM version: 20\n";
        assert_eq!(release(stable), Some((1, 95, 0)));
        assert_eq!(release("release: 1.96.0-nightly\n"), Some((1, 96, 0)));
        assert_eq!(release("release: 1.96.1-beta.2\n"), Some((1, 96, 1)));
        assert_eq!(release("rustc 1.95.0\n"), None);
        assert_eq!(release("release: x.y\n"), None);
    }

    #[test]
    fn only_the_crates_above_the_toolchain_are_named() {
        let wanted = [wants("old", "1.70.0"), wants("same", "1.95.0"), wants("new", "1.96.0"), wants("far", "99.0.0")];
        let short: Vec<&str> = too_new((1, 95, 0), &wanted).iter().map(|w| w.name.as_str()).collect();
        assert_eq!(short, ["new", "far"]);
        assert!(too_new((1, 96, 0), &wanted[..3]).is_empty());
        // A nightly of the release a crate needs builds it.
        assert!(too_new((1, 96, 0), &[wants("n", "1.96.0")]).is_empty());
        assert_eq!(too_new((1, 95, 9), &[wants("p", "1.96.0")]).len(), 1);
    }

    #[test]
    fn the_refusal_names_crate_versions_and_the_fix() {
        let ws = Workspace::detached(camino::Utf8Path::new("/ws"));
        let far = RustVersion { manifest: "/ws/far/Cargo.toml".into(), ..wants("far", "99.0.0") };
        let near = wants("near", "1.96.0");
        let e = refusal(&ws, "1.95.0", &[&near, &far]);
        assert_eq!(e.kind, Kind::MissingTool);
        assert!(e.message.contains("crate `far` needs rustc 99.0.0 (rust-version in far/Cargo.toml)"), "{}", e.message);
        assert!(e.message.contains("crate `near` needs rustc 1.96.0"), "{}", e.message);
        assert!(e.message.contains("rustc 1.95.0"), "{}", e.message);
        let help = e.help.unwrap();
        assert!(help.contains("rustup update") && help.contains("rustup toolchain install 99.0"), "{help}");
    }
}
