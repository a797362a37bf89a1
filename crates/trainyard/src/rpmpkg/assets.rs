//! A crate's packaging metadata, read into a [`Package`].
//!
//! Two tables are read, from the `metadata` JSON cargo_metadata gives for the crate:
//!
//! - `[package.metadata.trainyard.rpm]`, trainyard's own (it wins when both are present):
//!
//!   ```toml
//!   [package.metadata.trainyard.rpm]
//!   name = "demo"                 # default: the crate name
//!   summary = "Demo service"      # default: the crate description's first line
//!   license = "MIT"               # default: the crate license
//!   release = "1"
//!   # default: every binary target, to /usr/bin/NAME, mode 755
//!   assets = [
//!     { source = "target/release/demo", dest = "/usr/bin/demo", mode = "755" },
//!     { source = "packaging/demo.toml", dest = "/etc/demo/demo.toml", config = true },  # %config(noreplace)
//!     { source = "README.md", dest = "/usr/share/doc/demo/README.md", doc = true },
//!     { source = "LICENSE", dest = "/usr/share/licenses/demo/LICENSE", license = true },
//!   ]
//!   dirs = [{ dest = "/var/lib/demo", mode = "750", user = "demo", group = "demo" }]
//!   units = ["packaging/demo.service"]   # to /usr/lib/systemd/system/, scriptlets written out
//!   requires = ["shadow-utils", "openssl-libs >= 3"]
//!   smoke = "demo --version"             # run by the mock target after installing
//!   post_install_script = "..."          # or a file path; also pre_install, pre/post_uninstall
//!   ```
//!
//! - `[package.metadata.generate-rpm]`, cargo-generate-rpm's, read as that tool does, so its
//!   users migrate with no change: `name`, `version`, `license`, `summary`, `url`, `vendor`,
//!   `packager`, `release`, `epoch`, `assets` (`source` with `*` wildcards, `dest` ending in `/`
//!   for a directory, `mode`, `config` = true/"noreplace", `doc`, `user`, `group`), the four
//!   `*_script`s (text or a file path), `requires`/`provides`/`conflicts`/`obsoletes` as
//!   `{ name = "*" | "OP version" }`, `auto-req = "no"`, `require-sh = false`.
//!
//! Asset sources are relative to the crate directory, except `target/release/...`, which is
//! the given release directory (as cargo-generate-rpm maps it). A source escaping the crate
//! directory, a missing file and a relative `dest` are usage errors naming the crate and asset.

use std::collections::BTreeMap;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use serde::Deserialize;
use serde_json::Value;

use super::{systemd, DepFlags, Dependency, FileEntry, FileKind, Package};
use crate::error::{Error, Result};

/// What the caller knows about the crate, from `cargo metadata`.
#[derive(Debug, Clone, Default)]
pub struct CrateInfo {
    pub name: String,
    pub version: String,
    pub license: Option<String>,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub repository: Option<String>,
    /// The directory holding the crate's Cargo.toml.
    pub manifest_dir: Utf8PathBuf,
    /// Names of the crate's binary targets (the default assets of the trainyard table).
    pub bins: Vec<String>,
}

/// Which table a package was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Trainyard,
    GenerateRpm,
}

impl Table {
    pub fn key(self) -> &'static str {
        match self {
            Table::Trainyard => "package.metadata.trainyard.rpm",
            Table::GenerateRpm => "package.metadata.generate-rpm",
        }
    }
}

/// A crate's package, and what the packaging table says beyond the package itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CratePackage {
    pub package: Package,
    pub table: Table,
    /// Generate shared-library requires ([`Package::add_elf_dependencies`]); off with `auto-req = "no"`.
    pub auto_requires: bool,
    /// Unit names whose scriptlets were added.
    pub units: Vec<String>,
    /// A command that must succeed once the package is installed (trainyard table only).
    pub smoke: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ConfigFlag {
    Bool(bool),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DepList {
    Strings(Vec<String>),
    Table(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetSpec {
    source: String,
    dest: String,
    mode: Option<String>,
    config: Option<ConfigFlag>,
    #[serde(default)]
    doc: bool,
    #[serde(default)]
    license: bool,
    user: Option<String>,
    group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirSpec {
    dest: String,
    mode: Option<String>,
    user: Option<String>,
    group: Option<String>,
}

/// The fields both tables share, plus each one's own. Unknown keys are refused in trainyard's
/// table and ignored in cargo-generate-rpm's (it has options, such as `variants`, that only
/// its command line selects).
#[derive(Debug, Default, Deserialize)]
struct Spec {
    name: Option<String>,
    version: Option<String>,
    license: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    url: Option<String>,
    vendor: Option<String>,
    packager: Option<String>,
    release: Option<String>,
    epoch: Option<u32>,
    assets: Option<Vec<Value>>,
    #[serde(default)]
    dirs: Vec<Value>,
    #[serde(default)]
    units: Vec<String>,
    smoke: Option<String>,
    requires: Option<DepList>,
    provides: Option<DepList>,
    conflicts: Option<DepList>,
    obsoletes: Option<DepList>,
    pre_install_script: Option<String>,
    post_install_script: Option<String>,
    pre_uninstall_script: Option<String>,
    post_uninstall_script: Option<String>,
    #[serde(rename = "auto-req")]
    auto_req: Option<String>,
    #[serde(rename = "require-sh")]
    require_sh: Option<bool>,
}

const TRAINYARD_KEYS: &[&str] = &[
    "name",
    "license",
    "summary",
    "description",
    "url",
    "vendor",
    "packager",
    "release",
    "epoch",
    "assets",
    "dirs",
    "units",
    "smoke",
    "requires",
    "provides",
    "conflicts",
    "obsoletes",
    "pre_install_script",
    "post_install_script",
    "pre_uninstall_script",
    "post_uninstall_script",
    "auto-req",
];

/// The RPM architecture for a Rust `target_arch` (`std::env::consts::ARCH` for the host).
pub fn rpm_arch(target_arch: &str) -> &str {
    match target_arch {
        "x86" => "i686",
        "arm" => "armv7hl",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        other => other,
    }
}

/// Reads the crate's packaging table into a package for `arch`. `None` when the crate has
/// neither table. Binaries are looked up under `target_release_dir`.
pub fn from_metadata(
    krate: &CrateInfo,
    metadata: &Value,
    target_release_dir: &Utf8Path,
    arch: &str,
) -> Result<Option<CratePackage>> {
    read_table(krate, metadata, target_release_dir, arch, false)
}

/// Checks the crate's packaging table as [`from_metadata`] does, except that files under
/// `target/release/` may be missing (they are built later): a configuration error, a missing
/// asset or a path leaving the crate is reported before a long build rather than after it.
pub fn check_metadata(krate: &CrateInfo, metadata: &Value, target_release_dir: &Utf8Path, arch: &str) -> Result<()> {
    read_table(krate, metadata, target_release_dir, arch, true).map(|_| ())
}

fn read_table(
    krate: &CrateInfo,
    metadata: &Value,
    target_release_dir: &Utf8Path,
    arch: &str,
    before_build: bool,
) -> Result<Option<CratePackage>> {
    let (table, raw) = match (metadata.pointer("/trainyard/rpm"), metadata.get("generate-rpm")) {
        (Some(t), _) => (Table::Trainyard, t),
        (None, Some(g)) => (Table::GenerateRpm, g),
        (None, None) => return Ok(None),
    };
    let where_ = |field: &str| format!("crate `{}`: [{}] {field}", krate.name, table.key());
    let obj = raw.as_object().ok_or_else(|| Error::usage(format!("{} must be a table", where_(""))))?;
    if table == Table::Trainyard {
        if let Some(unknown) = obj.keys().find(|k| !TRAINYARD_KEYS.contains(&k.as_str())) {
            return Err(Error::usage(format!("{}: unknown key `{unknown}`", where_("")))
                .with_help(format!("known keys: {}", TRAINYARD_KEYS.join(", "))));
        }
    }
    let spec: Spec = serde_json::from_value(raw.clone()).map_err(|e| Error::usage(format!("{}: {e}", where_(""))))?;
    let ctx = Ctx { krate, table, target_release_dir, before_build };

    let name = spec.name.clone().unwrap_or_else(|| krate.name.clone());
    let description = spec.description.clone().or_else(|| krate.description.clone());
    let summary = spec.summary.clone().or_else(|| description.as_deref().map(first_line)).ok_or_else(|| {
        Error::usage(format!("crate `{}` has no summary", krate.name))
            .with_help(format!("set `description` in its [package] table or `summary` in [{}]", table.key()))
    })?;
    let license = spec.license.clone().or_else(|| krate.license.clone()).ok_or_else(|| {
        Error::usage(format!("crate `{}` has no license", krate.name))
            .with_help(format!("set `license` in its [package] table or in [{}]", table.key()))
    })?;
    let mut pkg = Package {
        name,
        epoch: spec.epoch,
        version: crate::version::rpm_of_cargo(
            spec.version.as_deref().filter(|_| table == Table::GenerateRpm).unwrap_or(&krate.version),
        ),
        release: spec.release.clone().unwrap_or_else(|| "1".into()),
        arch: arch.to_string(),
        description: super::wrap(&description.unwrap_or_else(|| summary.clone())),
        summary,
        license,
        url: spec.url.clone().or_else(|| krate.homepage.clone()).or_else(|| krate.repository.clone()),
        vendor: spec.vendor.clone(),
        packager: spec.packager.clone(),
        ..Package::default()
    };

    let assets: Vec<Value> = match (&spec.assets, table) {
        (Some(a), _) => a.clone(),
        (None, Table::GenerateRpm) => {
            return Err(Error::usage(format!("{} is missing", where_("assets")))
                .with_help("list the files to package: assets = [{ source = \"target/release/NAME\", dest = \"/usr/bin/NAME\", mode = \"755\" }]"))
        }
        (None, Table::Trainyard) => krate
            .bins
            .iter()
            .map(|b| serde_json::json!({ "source": format!("target/release/{b}"), "dest": format!("/usr/bin/{b}"), "mode": "755" }))
            .collect(),
    };
    for (i, raw) in assets.iter().enumerate() {
        let field = format!("assets[{i}]");
        let a: AssetSpec =
            serde_json::from_value(raw.clone()).map_err(|e| Error::usage(format!("{}: {e}", where_(&field))))?;
        pkg.files.extend(ctx.asset(&a, &field)?);
    }
    for (i, raw) in spec.dirs.iter().enumerate() {
        let field = format!("dirs[{i}]");
        let d: DirSpec =
            serde_json::from_value(raw.clone()).map_err(|e| Error::usage(format!("{}: {e}", where_(&field))))?;
        ctx.check_dest(&d.dest, &field, false)?;
        let mode = match &d.mode {
            Some(m) => ctx.mode(m, &field)?,
            None => 0o755,
        };
        pkg.files.push(FileEntry {
            source: Utf8PathBuf::new(),
            dest: d.dest.trim_end_matches('/').to_string(),
            mode,
            user: d.user.unwrap_or_else(|| "root".into()),
            group: d.group.unwrap_or_else(|| "root".into()),
            kind: FileKind::Dir,
        });
    }
    for (i, unit) in spec.units.iter().enumerate() {
        let field = format!("units[{i}]");
        let source = ctx.source(unit, &field)?;
        let file = source.file_name().unwrap_or_default().to_string();
        if !systemd::valid_unit_name(&file) {
            return Err(Error::usage(format!("{}: `{file}` is not a systemd unit file name", where_(&field)))
                .with_help(format!("name it NAME{}", systemd::UNIT_SUFFIXES.join(" or NAME"))));
        }
        pkg.files.push(FileEntry::new(source, format!("/usr/lib/systemd/system/{file}"), 0o644, FileKind::Regular));
    }

    for (list, target, key) in [
        (&spec.requires, &mut pkg.requires, "requires"),
        (&spec.provides, &mut pkg.provides, "provides"),
        (&spec.conflicts, &mut pkg.conflicts, "conflicts"),
        (&spec.obsoletes, &mut pkg.obsoletes, "obsoletes"),
    ] {
        if let Some(list) = list {
            *target = ctx.deps(list, key)?;
        }
    }
    if table == Table::GenerateRpm && spec.require_sh != Some(false) {
        pkg.requires.push(Dependency::any("/bin/sh"));
    }
    for (text, slot, key) in [
        (&spec.pre_install_script, &mut pkg.scriptlets.pre, "pre_install_script"),
        (&spec.post_install_script, &mut pkg.scriptlets.post, "post_install_script"),
        (&spec.pre_uninstall_script, &mut pkg.scriptlets.preun, "pre_uninstall_script"),
        (&spec.post_uninstall_script, &mut pkg.scriptlets.postun, "post_uninstall_script"),
    ] {
        if let Some(text) = text {
            *slot = Some(ctx.script(text, key)?);
        }
    }
    // Units listed in trainyard's table get their scriptlets; cargo-generate-rpm adds none, and
    // its users' own scripts already do what they want.
    let units = if table == Table::Trainyard { systemd::add_unit_scriptlets(&mut pkg)? } else { Vec::new() };
    let auto_requires = !matches!(spec.auto_req.as_deref(), Some("no" | "disabled"));
    pkg.validate().map_err(|e| e.with_help(format!("fix [{}] in {}/Cargo.toml", table.key(), krate.manifest_dir)))?;
    Ok(Some(CratePackage { package: pkg, table, auto_requires, units, smoke: spec.smoke }))
}

fn first_line(s: &str) -> String {
    let line = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    line.strip_suffix('.').unwrap_or(line).to_string()
}

struct Ctx<'a> {
    krate: &'a CrateInfo,
    table: Table,
    target_release_dir: &'a Utf8Path,
    /// Built files (under the release directory) may not exist yet.
    before_build: bool,
}

impl Ctx<'_> {
    fn err(&self, field: &str, msg: impl std::fmt::Display) -> Error {
        Error::usage(format!("crate `{}`: [{}] {field}: {msg}", self.krate.name, self.table.key()))
    }

    fn mode(&self, text: &str, field: &str) -> Result<u16> {
        u16::from_str_radix(text.trim_start_matches("0o"), 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| {
            self.err(field, format!("mode `{text}` is not an octal permission mode"))
                .with_help("write it like \"755\" or \"0644\"")
        })
    }

    fn check_dest(&self, dest: &str, field: &str, dir_ok: bool) -> Result<()> {
        if !dest.starts_with('/') || dest.split('/').any(|c| c == ".." || c == ".") || (!dir_ok && dest == "/") {
            return Err(self
                .err(field, format!("dest `{dest}` is not an absolute path"))
                .with_help("write where the file is installed, from the root: dest = \"/usr/bin/NAME\""));
        }
        Ok(())
    }

    /// Lexically resolves `rel` (relative, `/`-separated) under `base`, refusing `..` that leave it.
    fn under(&self, base: &Utf8Path, rel: &str, field: &str, shown: &str) -> Result<Utf8PathBuf> {
        let mut parts: Vec<&str> = Vec::new();
        for c in Utf8Path::new(rel).components() {
            match c {
                Utf8Component::Normal(p) => parts.push(p),
                Utf8Component::CurDir => {}
                Utf8Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(self.escapes(field, shown));
                    }
                }
                Utf8Component::RootDir | Utf8Component::Prefix(_) => return Err(self.escapes(field, shown)),
            }
        }
        let mut p = base.to_path_buf();
        p.extend(parts);
        Ok(p)
    }

    fn escapes(&self, field: &str, shown: &str) -> Error {
        self.err(field, format!("`{shown}` points outside the crate directory {}", self.krate.manifest_dir)).with_help(
            "package only files inside the crate (copy the file into it), or built binaries as target/release/NAME",
        )
    }

    /// Maps a source to the file on disk and checks that it exists and stays inside the crate
    /// (or the release directory), symlinks included. Wildcards are handled by [`Self::sources`].
    fn source(&self, source: &str, field: &str) -> Result<Utf8PathBuf> {
        let (base, path) = self.locate(source, field)?;
        self.exists_within(&base, &path, source, field)?;
        Ok(path)
    }

    fn locate(&self, source: &str, field: &str) -> Result<(Utf8PathBuf, Utf8PathBuf)> {
        let crate_dir = &self.krate.manifest_dir;
        if let Some(rest) = source.strip_prefix("target/release/") {
            let base = self.target_release_dir.to_path_buf();
            return Ok((base.clone(), self.under(&base, rest, field, source)?));
        }
        let rel = if Utf8Path::new(source).is_absolute() {
            match Utf8Path::new(source).strip_prefix(crate_dir) {
                Ok(r) => r.as_str().to_string(),
                Err(_) => return Err(self.escapes(field, source)),
            }
        } else {
            source.to_string()
        };
        Ok((crate_dir.clone(), self.under(crate_dir, &rel, field, source)?))
    }

    fn exists_within(&self, base: &Utf8Path, path: &Utf8Path, shown: &str, field: &str) -> Result<()> {
        if self.before_build && base == self.target_release_dir && !path.exists() {
            return Ok(());
        }
        if !path.is_file() {
            let help = if base == self.target_release_dir {
                "build it first (`cargo build --release`), or fix the name".to_string()
            } else {
                format!("create it, or fix the path (relative to {})", self.krate.manifest_dir)
            };
            return Err(self.err(field, format!("`{shown}` does not exist ({path})")).with_help(help));
        }
        let canon = |p: &Utf8Path| p.canonicalize_utf8().map_err(|e| self.err(field, format!("{p}: {e}")));
        if !canon(path)?.starts_with(canon(base)?) {
            return Err(self.escapes(field, shown));
        }
        Ok(())
    }

    /// Expands `*` and `?` in the source's components; returns each file and its path below the
    /// part of the pattern without wildcards (cargo-generate-rpm appends that to `dest`).
    fn sources(&self, source: &str, field: &str) -> Result<Vec<(Utf8PathBuf, Utf8PathBuf)>> {
        if !source.contains(['*', '?']) {
            return Ok(vec![(self.source(source, field)?, Utf8PathBuf::new())]);
        }
        let (base, pattern) = self.locate(source, field)?;
        let rel = pattern.strip_prefix(&base).map_err(|_| self.escapes(field, source))?;
        let parts: Vec<&str> = rel.components().map(|c| c.as_str()).collect();
        let fixed = parts.iter().take_while(|p| !p.contains(['*', '?'])).count();
        let mut root = base.clone();
        root.extend(&parts[..fixed]);
        let mut found = Vec::new();
        walk(&root, &parts[fixed..], Utf8PathBuf::new(), &mut found);
        found.sort();
        if found.is_empty() && !(self.before_build && base == self.target_release_dir) {
            return Err(self.err(field, format!("`{source}` matches no file")).with_help("fix the pattern"));
        }
        for (path, _) in &found {
            self.exists_within(&base, path, source, field)?;
        }
        Ok(found)
    }

    fn asset(&self, a: &AssetSpec, field: &str) -> Result<Vec<FileEntry>> {
        self.check_dest(&a.dest, &format!("{field}.dest"), false)?;
        let globbed = a.source.contains(['*', '?']);
        if globbed && !a.dest.ends_with('/') {
            return Err(self
                .err(
                    &format!("{field}.dest"),
                    format!("`{}` must be a directory (end in `/`): the source has wildcards", a.dest),
                )
                .with_help(format!("dest = \"{}/\"", a.dest)));
        }
        let files = self.sources(&a.source, &format!("{field}.source"))?;
        let mode = a.mode.as_deref().map(|m| self.mode(m, &format!("{field}.mode"))).transpose()?;
        let noreplace_default = self.table == Table::Trainyard;
        let config = match &a.config {
            None | Some(ConfigFlag::Bool(false)) => None,
            Some(ConfigFlag::Bool(true)) => Some(noreplace_default),
            Some(ConfigFlag::Word(w)) if w == "noreplace" => Some(true),
            Some(ConfigFlag::Word(w)) if w == "missingok" => Some(false),
            Some(ConfigFlag::Word(w)) => {
                return Err(
                    self.err(&format!("{field}.config"), format!("`{w}` is not one of true, false, \"noreplace\""))
                )
            }
        };
        let mut entries = Vec::new();
        for (path, below) in files {
            let dest = if globbed {
                format!("{}{below}", a.dest)
            } else if a.dest.ends_with('/') {
                format!("{}{}", a.dest, path.file_name().unwrap_or_default())
            } else {
                a.dest.clone()
            };
            let mode = match mode {
                Some(m) => m,
                None => default_mode(&path),
            };
            let kind = match (config, a.doc, a.license) {
                (Some(noreplace), _, _) => FileKind::Config { noreplace },
                (None, true, _) => FileKind::Doc,
                (None, false, true) => FileKind::License,
                _ if mode & 0o111 != 0 => FileKind::Binary,
                _ => FileKind::Regular,
            };
            entries.push(FileEntry {
                source: path,
                dest,
                mode,
                user: a.user.clone().unwrap_or_else(|| "root".into()),
                group: a.group.clone().unwrap_or_else(|| "root".into()),
                kind,
            });
        }
        Ok(entries)
    }

    fn deps(&self, list: &DepList, key: &str) -> Result<Vec<Dependency>> {
        let parse = |name: &str, cond: &str| -> Result<Dependency> {
            let cond = cond.trim();
            if cond.is_empty() || cond == "*" {
                return Ok(Dependency::any(name));
            }
            let (op, version) = cond.split_once(' ').unwrap_or((cond, ""));
            match (DepFlags::parse(op), version.trim()) {
                (Some(flags), v) if !v.is_empty() && !v.contains(' ') => Ok(Dependency::new(name, flags, v)),
                _ => Err(self
                    .err(key, format!("`{name}`: `{cond}` is not a version condition"))
                    .with_help("write \"*\" or an operator, a space and a version: \">= 1.2\"")),
            }
        };
        match list {
            DepList::Table(t) => t.iter().map(|(n, c)| parse(n, c)).collect(),
            DepList::Strings(s) => s
                .iter()
                .map(|entry| {
                    let entry = entry.trim();
                    match entry.split_once(' ') {
                        Some((name, cond)) => parse(name, cond),
                        None => parse(entry, ""),
                    }
                })
                .collect(),
        }
    }

    /// Script text, or the contents of a file of the crate when the text names one.
    fn script(&self, text: &str, key: &str) -> Result<String> {
        if !text.contains('\n') && !text.contains(' ') {
            if let Ok((base, path)) = self.locate(text, key) {
                if path.is_file() {
                    self.exists_within(&base, &path, text, key)?;
                    return std::fs::read_to_string(&path).map_err(|e| self.err(key, format!("{path}: {e}")));
                }
            }
        }
        Ok(text.to_string())
    }
}

fn default_mode(path: &Utf8Path) -> u16 {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if executable {
        0o755
    } else {
        0o644
    }
}

fn walk(dir: &Utf8Path, pattern: &[&str], below: Utf8PathBuf, found: &mut Vec<(Utf8PathBuf, Utf8PathBuf)>) {
    let Some((first, rest)) = pattern.split_first() else {
        if dir.is_file() {
            found.push((dir.to_path_buf(), below));
        }
        return;
    };
    let Ok(entries) = dir.read_dir_utf8() else { return };
    for entry in entries.flatten() {
        if glob_match(first, entry.file_name()) {
            walk(entry.path(), rest, below.join(entry.file_name()), found);
        }
    }
}

/// `*` matches any run of characters, `?` one character, within one path component.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_cargo() {
        assert_eq!(crate::version::rpm_of_cargo("1.2.3"), "1.2.3");
        assert_eq!(crate::version::rpm_of_cargo("1.3.0-0.dev.5"), "1.3.0~~dev5");
        assert_eq!(crate::version::rpm_of_cargo("1.0.0-rc-1+g123"), "1.0.0~rc_1+g123");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.md", "README.md"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("*.md", "README.txt"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn summary_is_first_line_without_dot() {
        assert_eq!(first_line("\nRelease tooling.\nMore."), "Release tooling");
    }

    #[test]
    fn arches() {
        assert_eq!(rpm_arch("x86_64"), "x86_64");
        assert_eq!(rpm_arch("x86"), "i686");
    }
}
