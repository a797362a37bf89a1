//! What makes a `rust-NAME-devel` package of the dependency collection safe to publish: the
//! same name-version-release always has the same bytes, whatever application built it.
//!
//! - Timestamps come from the crate, not from the application's commit: every file of a
//!   crate published by cargo carries the same mtime ([`CRATE_EPOCH`]), which is also the
//!   package's build time.
//! - Requires come from the crate's own manifest (its non-optional dependencies for the
//!   target, with their version ranges), not from the application's lock file.
//! - A crate at several semver-incompatible versions gets one package per version, named as
//!   Fedora names compat packages ([`package_names`]), so that dnf installs them side by side.

use std::collections::BTreeMap;

use cargo_metadata::cargo_platform::{Cfg, Platform};
use cargo_metadata::semver::{Comparator, Op, Version, VersionReq};

use super::Dependency;

/// The modification time `cargo package` gives every file of a `.crate` (2006-07-24), so that
/// packaging a crate is reproducible: the timestamp a published crate itself carries.
pub const CRATE_EPOCH: u64 = 1_153_704_088;

/// The semver-compatibility series of a version, as Fedora suffixes compat packages: `1` for
/// 1.x.y, `0.52` for 0.52.z, `0.0.3` for 0.0.3.
pub fn series(version: &str) -> String {
    match Version::parse(version) {
        Ok(v) if v.major > 0 => v.major.to_string(),
        Ok(v) if v.minor > 0 => format!("0.{}", v.minor),
        Ok(v) => format!("0.0.{}", v.patch),
        Err(_) => version.to_string(),
    }
}

/// The package name of each `(crate, version)`: `rust-NAME-devel` for the newest series of a
/// crate, `rust-NAME0.52-devel` (`rust-NAME_0.52-devel` when the name ends in a digit) for the
/// older ones, as Fedora names compat packages. Versions of one series share a name (cargo
/// never resolves two of them in one graph).
pub fn package_names(crates: &[(String, String)]) -> BTreeMap<(String, String), String> {
    let mut newest: BTreeMap<&str, Version> = BTreeMap::new();
    for (name, version) in crates {
        if let Ok(v) = Version::parse(version) {
            let slot = newest.entry(name.as_str()).or_insert_with(|| v.clone());
            if v > *slot {
                *slot = v;
            }
        }
    }
    crates
        .iter()
        .map(|(name, version)| {
            let plain = newest.get(name.as_str()).is_none_or(|n| series(&n.to_string()) == series(version));
            let package = if plain {
                format!("rust-{name}-devel")
            } else {
                let sep = if name.ends_with(|c: char| c.is_ascii_digit()) { "_" } else { "" };
                format!("rust-{name}{sep}{}-devel", series(version))
            };
            ((name.clone(), version.clone()), package)
        })
        .collect()
}

/// The Requires of a crate's devel package, from its (normalized, as published) manifest:
/// every non-optional normal and build dependency that applies to `target` (`cfgs` are
/// `rustc --print cfg`'s), as `crate(DEP)` with the version range of its requirement.
pub fn manifest_requires(manifest: &str, target: &str, cfgs: &[Cfg]) -> Result<Vec<Dependency>, String> {
    let table: toml::Table = manifest.parse().map_err(|e| format!("{e}"))?;
    let mut sections: Vec<&toml::Value> = Vec::new();
    for key in ["dependencies", "build-dependencies", "build_dependencies"] {
        sections.extend(table.get(key));
    }
    if let Some(targets) = table.get("target").and_then(|t| t.as_table()) {
        for (spec, t) in targets {
            let platform: Platform = spec.parse().map_err(|e| format!("target `{spec}`: {e}"))?;
            if !platform.matches(target, cfgs) {
                continue;
            }
            for key in ["dependencies", "build-dependencies", "build_dependencies"] {
                sections.extend(t.get(key));
            }
        }
    }
    let mut out = Vec::new();
    for section in sections {
        let Some(deps) = section.as_table() else { continue };
        for (key, spec) in deps {
            let (req, optional, package) = match spec {
                toml::Value::String(req) => (Some(req.as_str()), false, None),
                toml::Value::Table(t) => (
                    t.get("version").and_then(|v| v.as_str()),
                    t.get("optional").and_then(|v| v.as_bool()).unwrap_or(false),
                    t.get("package").and_then(|v| v.as_str()),
                ),
                _ => continue,
            };
            if optional {
                continue;
            }
            let Some(req) = req else { continue };
            let name = package.unwrap_or(key);
            let req = VersionReq::parse(req).map_err(|e| format!("dependency `{key}` = `{req}`: {e}"))?;
            out.push(requirement(name, &req));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `crate(NAME)` within the range of `req`: one comparison, or a rich dependency
/// `(crate(NAME) >= 1.2.0 with crate(NAME) < 2.0.0~)` as Fedora writes them (`~` so that the
/// next series' pre-releases stay out too).
pub fn requirement(name: &str, req: &VersionReq) -> Dependency {
    let cap = format!("crate({name})");
    let mut bounds: Vec<(&str, String)> = Vec::new();
    for c in &req.comparators {
        bounds.extend(comparator_bounds(c));
    }
    bounds.dedup();
    match bounds.as_slice() {
        [] => Dependency::any(cap),
        [(op, v)] => Dependency::new(cap, super::DepFlags::parse(op).expect("an operator"), v.clone()),
        _ => {
            let parts: Vec<String> = bounds.iter().map(|(op, v)| format!("{cap} {op} {v}")).collect();
            Dependency::any(format!("({})", parts.join(" with ")))
        }
    }
}

/// Whether a Requires entry is a rich dependency (needs `rpmlib(RichDependencies)`).
pub fn is_rich(d: &Dependency) -> bool {
    d.name.starts_with('(')
}

fn comparator_bounds(c: &Comparator) -> Vec<(&'static str, String)> {
    let (major, minor, patch) = (c.major, c.minor, c.patch);
    let pre = if c.pre.is_empty() { String::new() } else { format!("-{}", c.pre) };
    let full = |ma: u64, mi: u64, pa: u64, pre: &str| crate::version::rpm_of_cargo(&format!("{ma}.{mi}.{pa}{pre}"));
    let lower = full(major, minor.unwrap_or(0), patch.unwrap_or(0), &pre);
    // The first version past what the comparator's given parts allow.
    let next = |ma: u64, mi: Option<u64>, pa: Option<u64>| match (mi, pa) {
        (None, _) => format!("{}.0.0~", ma + 1),
        (Some(mi), None) => format!("{ma}.{}.0~", mi + 1),
        (Some(mi), Some(pa)) => format!("{ma}.{mi}.{}~", pa + 1),
    };
    let caret_upper = match (major, minor, patch) {
        (0, None, _) => "1.0.0~".to_string(),
        (0, Some(0), None) => "0.1.0~".to_string(),
        (0, Some(0), Some(p)) => format!("0.0.{}~", p + 1),
        (0, Some(m), _) => format!("0.{}.0~", m + 1),
        (ma, _, _) => format!("{}.0.0~", ma + 1),
    };
    match c.op {
        Op::Exact if minor.is_some() && patch.is_some() => vec![("=", lower)],
        Op::Exact | Op::Wildcard => vec![(">=", lower), ("<", next(major, minor, patch))],
        Op::Greater => match (minor, patch) {
            (Some(_), Some(_)) => vec![(">", lower)],
            _ => vec![(">=", next(major, minor, patch).trim_end_matches('~').to_string())],
        },
        Op::GreaterEq => vec![(">=", lower)],
        Op::Less => vec![("<", format!("{lower}~"))],
        Op::LessEq => match (minor, patch) {
            (Some(_), Some(_)) => vec![("<=", lower)],
            _ => vec![("<", next(major, minor, patch))],
        },
        Op::Tilde => vec![(">=", lower), ("<", next(major, minor, None))],
        Op::Caret => vec![(">=", lower), ("<", caret_upper)],
        _ => Vec::new(),
    }
}

/// The `cfg`s of a target, from `rustc --print cfg` output.
pub fn parse_cfgs(text: &str) -> Vec<Cfg> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The files of a stand-in for a crate only other platforms build, by path: the manifest with
/// the same package, dependencies and features (what cargo's resolver reads, so that the lock
/// file still resolves), one empty library target instead of the sources (nothing compiles it
/// on this platform), and an empty build script when the crate `links` a native library
/// (cargo refuses `links` without one).
pub fn stub_files(manifest: &str) -> Result<Vec<(&'static str, String)>, String> {
    let text = stub_manifest(manifest)?;
    let links = text.parse::<toml::Table>().ok().and_then(|t| t.get("package")?.get("links").cloned()).is_some();
    let mut files = vec![("Cargo.toml", text), ("src/lib.rs", String::new())];
    if links {
        files.push(("build.rs", "fn main() {}\n".to_string()));
    }
    Ok(files)
}

fn stub_manifest(manifest: &str) -> Result<String, String> {
    let mut table: toml::Table = manifest.parse().map_err(|e| format!("{e}"))?;
    for key in ["bin", "test", "example", "bench"] {
        table.remove(key);
    }
    let package = table.get_mut("package").and_then(|p| p.as_table_mut()).ok_or("no [package] table")?;
    for key in ["autobins", "autoexamples", "autotests", "autobenches", "autolib"] {
        package.insert(key.into(), toml::Value::Boolean(false));
    }
    let build = match package.contains_key("links") {
        true => toml::Value::String("build.rs".into()),
        false => toml::Value::Boolean(false),
    };
    package.insert("build".into(), build);
    package.remove("readme");
    package.remove("license-file");
    let lib = table.entry("lib").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(lib) = lib.as_table_mut() {
        lib.insert("path".into(), toml::Value::String("src/lib.rs".into()));
    }
    toml::to_string(&table).map_err(|e| format!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str, r: &str) -> String {
        requirement(name, &VersionReq::parse(r).unwrap()).to_string()
    }

    #[test]
    fn ranges_as_fedora_writes_them() {
        assert_eq!(req("foo", "1.2.3"), "(crate(foo) >= 1.2.3 with crate(foo) < 2.0.0~)");
        assert_eq!(req("foo", "0.52"), "(crate(foo) >= 0.52.0 with crate(foo) < 0.53.0~)");
        assert_eq!(req("foo", "0.0.3"), "(crate(foo) >= 0.0.3 with crate(foo) < 0.0.4~)");
        assert_eq!(req("foo", "~1.2"), "(crate(foo) >= 1.2.0 with crate(foo) < 1.3.0~)");
        assert_eq!(req("foo", "~1"), "(crate(foo) >= 1.0.0 with crate(foo) < 2.0.0~)");
        assert_eq!(req("foo", "=1.2.3"), "crate(foo) = 1.2.3");
        assert_eq!(req("foo", ">=1.1, <1.9"), "(crate(foo) >= 1.1.0 with crate(foo) < 1.9.0~)");
        assert_eq!(req("foo", "*"), "crate(foo)");
        assert_eq!(req("foo", "1.*"), "(crate(foo) >= 1.0.0 with crate(foo) < 2.0.0~)");
        assert_eq!(req("foo", "1.0.0-rc.1"), "(crate(foo) >= 1.0.0~rc1 with crate(foo) < 2.0.0~)");
    }

    #[test]
    fn stubs_keep_what_the_resolver_reads() {
        let manifest = "[package]\nname = \"w\"\nversion = \"0.1.0\"\nbuild = \"build.rs\"\nreadme = \"README.md\"\n\n[lib]\npath = \"src/w.rs\"\n\n[[bin]]\nname = \"x\"\npath = \"src/main.rs\"\n\n[dependencies.a]\nversion = \"1\"\n\n[features]\nf = [\"a/g\"]\n";
        let stub: toml::Table = stub_manifest(manifest).unwrap().parse().unwrap();
        assert_eq!(stub["lib"]["path"].as_str(), Some("src/lib.rs"));
        assert_eq!(stub["package"]["build"].as_bool(), Some(false));
        assert!(stub.get("bin").is_none() && stub["package"].get("readme").is_none());
        let files = stub_files(&manifest.replace("build = \"build.rs\"", "links = \"w\"")).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["Cargo.toml", "src/lib.rs", "build.rs"], "cargo wants a build script beside `links`");
        assert!(files[0].1.contains("build = \"build.rs\""), "{}", files[0].1);
        assert_eq!(stub_files(manifest).unwrap().len(), 2);
        assert_eq!(stub["dependencies"]["a"]["version"].as_str(), Some("1"));
        assert_eq!(stub["features"]["f"][0].as_str(), Some("a/g"));
    }

    #[test]
    fn compat_names_follow_fedora() {
        let crates: Vec<(String, String)> = [
            ("windows-sys", "0.52.0"),
            ("windows-sys", "0.59.0"),
            ("base64", "0.21.7"),
            ("base64", "0.22.1"),
            ("serde", "1.0.1"),
        ]
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .to_vec();
        let names = package_names(&crates);
        let name = |n: &str, v: &str| names[&(n.to_string(), v.to_string())].as_str();
        assert_eq!(name("windows-sys", "0.59.0"), "rust-windows-sys-devel");
        assert_eq!(name("windows-sys", "0.52.0"), "rust-windows-sys0.52-devel");
        assert_eq!(name("base64", "0.21.7"), "rust-base64_0.21-devel");
        assert_eq!(name("base64", "0.22.1"), "rust-base64-devel");
        assert_eq!(name("serde", "1.0.1"), "rust-serde-devel");
    }

    #[test]
    fn requires_from_the_manifest_for_the_target() {
        let manifest = r#"
[package]
name = "demo"
version = "1.0.0"

[dependencies.libc]
version = "0.2.150"

[dependencies.serde]
version = "1"
optional = true

[dependencies.rand_core]
version = "0.6"
package = "rand_core"

[build-dependencies]
cc = "1.0.83"

[target."cfg(windows)".dependencies.windows-sys]
version = "0.52"

[target."cfg(unix)".dependencies.nix]
version = "0.27"

[dev-dependencies]
tempfile = "3"
"#;
        let cfgs = parse_cfgs("unix\ntarget_os=\"linux\"\ntarget_family=\"unix\"\n");
        let requires: Vec<String> = manifest_requires(manifest, "x86_64-unknown-linux-gnu", &cfgs)
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            requires,
            [
                "(crate(cc) >= 1.0.83 with crate(cc) < 2.0.0~)",
                "(crate(libc) >= 0.2.150 with crate(libc) < 0.3.0~)",
                "(crate(nix) >= 0.27.0 with crate(nix) < 0.28.0~)",
                "(crate(rand_core) >= 0.6.0 with crate(rand_core) < 0.7.0~)",
            ]
        );
    }
}
