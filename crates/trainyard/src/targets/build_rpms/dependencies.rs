//! The dependency collection: one `rust-NAME-devel` package per registry crate of the graph,
//! from its vendored sources, and what cargo's resolved graph says of the target.

use std::collections::BTreeSet;

use camino::Utf8Path;

use crate::cargo::Invocation;
use crate::error::{io, Error, Result};
use crate::exec;
use crate::lockfile::{LockSite, LockedPackage};
use crate::plan::{self, Plan};
use crate::rpmpkg::{self, Dependency, FileEntry, FileKind, Package};

/// What cargo's feature-resolved graph of the workspace says for the host target.
pub struct Graphs {
    /// `cargo tree` with [`rpmpkg::bundled::CARGO_TREE_ARGS`]: what each binary links.
    pub linked: String,
    /// Every crate a build or test of the workspace compiles for the target.
    compiled: BTreeSet<(String, String)>,
    target: String,
    cfgs: Vec<cargo_metadata::cargo_platform::Cfg>,
}

/// [`Graphs`], with the lock file and patches of the build (`--locked`: nothing is resolved
/// again, nothing written). `with_compiled`: also what a build or test compiles (the dependency
/// packages need it; it reads the manifests of dev-dependencies, which a build alone may not
/// have downloaded).
pub fn resolved_graph(root: &Utf8Path, site: &LockSite, patches: &[String], with_compiled: bool) -> Result<Graphs> {
    let target = host_target()?;
    let rustc = crate::toolchain::rustc();
    let cfgs =
        rpmpkg::devel::parse_cfgs(&exec::read_command(&plan::Command::program(&rustc).args(["--print", "cfg"]))?);
    let tree = |args: &[&str]| {
        let c = Invocation::new("tree").arg("--locked").at(site).args(["--target", target.as_str()]);
        exec::read_command(&c.args(args.iter().copied()).patches(patches).dir(root).command())
    };
    let all = if with_compiled { tree(&rpmpkg::bundled::CARGO_TREE_ALL_ARGS)? } else { String::new() };
    let linked = tree(&rpmpkg::bundled::CARGO_TREE_ARGS)?;
    Ok(Graphs { linked, compiled: rpmpkg::bundled::all_crates(&all), target, cfgs })
}

/// The target triple rustc builds for when given none (`rustc -vV`'s `host:`).
fn host_target() -> Result<String> {
    let rustc = crate::toolchain::rustc();
    let out = exec::read_command(&plan::Command::program(&rustc).arg("-vV"))?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| Error::failed(format!("`{rustc} -vV` names no host target:\n{out}")))
}

/// One `rust-NAME-devel` package per registry crate: its sources under
/// `/usr/share/cargo/registry/NAME-VERSION/`, `Provides: crate(NAME) = VERSION`, and `Requires`
/// of its own non-optional dependencies for the target with their version ranges
/// ([`rpmpkg::devel`]: the same name-version-release has the same bytes whatever application
/// built it; a crate at several semver-incompatible versions gets Fedora's compat names).
///
/// A crate no build or test for this target compiles (only other platforms use it) is packaged
/// as `rust-NAME-stub`: its manifest and checksum, no sources, so that cargo still resolves the
/// lock file offline from the installed packages.
///
/// The stand-ins' files are written by the returned plan, before the collection is.
pub fn dependency_packages(
    lock: &[LockedPackage],
    vendor: &Utf8Path,
    release: &str,
    graph: &Graphs,
) -> Result<(Plan, Vec<Package>)> {
    let mut plan = Plan::new();
    let registry: Vec<&LockedPackage> = lock.iter().filter(|p| p.is_registry()).collect();
    let names =
        rpmpkg::devel::package_names(&registry.iter().map(|p| (p.name.clone(), p.version.clone())).collect::<Vec<_>>());
    let mut out = Vec::new();
    for p in registry {
        let dir = vendor.join(format!("{}-{}", p.name, p.version));
        if !dir.is_dir() {
            return Err(Error::failed(format!(
                "cargo vendor left no sources for {} {} in {vendor}",
                p.name, p.version
            )));
        }
        let manifest_path = dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
        let fields = crate_fields(&manifest_path);
        let dest_root = format!("/usr/share/cargo/registry/{}-{}", p.name, p.version);
        let mut files = vec![FileEntry::dir(dest_root.clone(), 0o755)];
        let name = names[&(p.name.clone(), p.version.clone())].clone();
        let compiled = graph.compiled.contains(&(p.name.clone(), p.version.clone()));
        let stub = match (&p.checksum, compiled) {
            (Some(checksum), false) => Some(checksum),
            _ => None,
        };
        let mut requires = Vec::new();
        let (name, summary) = if let Some(checksum) = stub {
            // What cargo reads of a directory source: the manifest, and a checksum file whose
            // `package` is the lock file's (its empty `files` list is all there is to verify).
            let stub_dir = vendor.with_extension("stubs").join(format!("{}-{}", p.name, p.version));
            let mut stub_files =
                rpmpkg::devel::stub_files(&manifest).map_err(|e| Error::failed(format!("{manifest_path}: {e}")))?;
            stub_files.push((".cargo-checksum.json", format!("{{\"files\":{{}},\"package\":\"{checksum}\"}}")));
            for (rel, content) in &stub_files {
                let path = stub_dir.join(rel);
                if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                    plan.write(&path, content.as_bytes().to_vec());
                }
                files.push(FileEntry::new(path, format!("{dest_root}/{rel}"), 0o644, FileKind::Regular));
            }
            files.push(FileEntry::dir(format!("{dest_root}/src"), 0o755));
            let stub_name = format!("{}-stub", name.trim_end_matches("-devel"));
            (stub_name, format!("Stand-in for the Rust crate {} {} (used on other platforms only)", p.name, p.version))
        } else {
            // Everything cargo vendor wrote, .cargo-checksum.json included: with it the
            // installed directory is a cargo `directory` source whose checksums match the lock
            // file's, so the collection rebuilds the workspace offline (as Fedora's and
            // Debian's registries do).
            for entry in crate::walk::tree(&dir, &|_| true)? {
                let dest = format!("{dest_root}/{}", entry.rel);
                if entry.is_dir {
                    files.push(FileEntry::dir(dest, 0o755));
                } else {
                    let mode = if entry.mode & 0o111 != 0 { 0o755 } else { 0o644 };
                    files.push(FileEntry::new(entry.path, dest, mode, FileKind::Regular));
                }
            }
            requires = rpmpkg::devel::manifest_requires(&manifest, &graph.target, &graph.cfgs)
                .map_err(|e| Error::failed(format!("{manifest_path}: {e}")))?;
            if requires.iter().any(rpmpkg::devel::is_rich) {
                requires.push(Dependency::new("rpmlib(RichDependencies)", rpmpkg::DepFlags::LessEq, "4.12.0-1"));
            }
            (name, format!("Source of the Rust crate {} {}", p.name, p.version))
        };
        out.push(Package {
            name,
            version: crate::version::rpm_of_cargo(&p.version),
            release: release.to_string(),
            arch: "noarch".into(),
            summary,
            description: rpmpkg::wrap(
                &fields.description.unwrap_or_else(|| format!("Source of the Rust crate {}.", p.name)),
            ),
            license: fields.license.unwrap_or_else(|| "LicenseRef-unknown".into()),
            url: fields.repository.or(fields.homepage),
            files,
            provides: if stub.is_some() {
                Vec::new()
            } else {
                vec![Dependency::eq(format!("crate({})", p.name), crate::version::rpm_of_cargo(&p.version))]
            },
            requires,
            // The crate's own timestamp, not the application's commit: same package, same bytes.
            source_date: rpmpkg::devel::CRATE_EPOCH,
            ..Package::default()
        });
    }
    Ok((plan, out))
}

/// What a crate's manifest declares about it.
#[derive(Default)]
struct CrateFields {
    license: Option<String>,
    description: Option<String>,
    repository: Option<String>,
    homepage: Option<String>,
}

fn crate_fields(manifest: &Utf8Path) -> CrateFields {
    let Ok(text) = std::fs::read_to_string(manifest) else { return CrateFields::default() };
    let Ok(table) = text.parse::<toml::Table>() else { return CrateFields::default() };
    let package = table.get("package");
    let field = |k: &str| {
        package.and_then(|p| p.get(k)).and_then(|v| v.as_str()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    };
    CrateFields {
        license: field("license"),
        description: field("description"),
        repository: field("repository"),
        homepage: field("homepage"),
    }
}
