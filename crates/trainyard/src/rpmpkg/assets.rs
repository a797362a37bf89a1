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
//! - `[package.metadata.generate-rpm]`, cargo-generate-rpm's, read as that tool reads it under
//!   `cargo generate-rpm -p CRATE` from the workspace root, so its users migrate with no change:
//!   every key of its README (assets with `caps`, the eight scriptlets with `_flags`/`_prog`,
//!   the eight dependency kinds, `variants`), and a key it does not know is refused.
//!
//! Asset sources of trainyard's table are relative to the crate directory, except
//! `target/release/...`, the given release directory, and may not leave the crate. Those of
//! cargo-generate-rpm's table are tried relative to the workspace root, then to the crate, and
//! may not leave the workspace (or the target directory). A missing file, a path leaving what
//! the table may package and a relative `dest` are usage errors naming the crate and asset.

use std::collections::BTreeMap;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use serde::Deserialize;
use serde_json::Value;

use super::{systemd, DepFlags, Dependency, FileEntry, FileKind, Package, ScriptletOptions};
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
    /// The workspace's root directory (where `cargo generate-rpm -p` runs); empty: the crate's.
    pub workspace_root: Utf8PathBuf,
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
    /// The release the table sets (`release`), which wins over the workspace's.
    pub release: Option<String>,
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

/// `release = "1"` or `release = 1`, both of which cargo-generate-rpm takes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Release {
    Text(String),
    Number(u64),
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
    caps: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirSpec {
    dest: String,
    mode: Option<String>,
    user: Option<String>,
    group: Option<String>,
}

/// The fields both tables share, plus each one's own; a key outside [`TRAINYARD_KEYS`] or
/// [`GENERATE_RPM_KEYS`] is refused before this is read, so nothing is silently dropped.
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
    release: Option<Release>,
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
    recommends: Option<DepList>,
    suggests: Option<DepList>,
    supplements: Option<DepList>,
    enhances: Option<DepList>,
    #[serde(rename = "auto-req")]
    auto_req: Option<String>,
    #[serde(rename = "require-sh")]
    require_sh: Option<bool>,
}

/// The scriptlet keys of both tables (`NAME`, `NAME_flags`, `NAME_prog`), and the slot of each.
const SCRIPT_KEYS: [(&str, &str); 8] = [
    ("pre_install_script", "pre"),
    ("post_install_script", "post"),
    ("pre_uninstall_script", "preun"),
    ("post_uninstall_script", "postun"),
    ("pre_trans_script", "pretrans"),
    ("post_trans_script", "posttrans"),
    ("pre_untrans_script", "preuntrans"),
    ("post_untrans_script", "postuntrans"),
];

const COMMON_KEYS: &[&str] = &[
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
    "requires",
    "provides",
    "conflicts",
    "obsoletes",
    "recommends",
    "suggests",
    "supplements",
    "enhances",
    "auto-req",
    // How the crate is built (read by the build, see `targets::build::BuildSettings`).
    "features",
    "profile",
];

/// Keys only trainyard's own table has.
const TRAINYARD_KEYS: &[&str] = &["dirs", "units", "smoke"];

/// Keys only cargo-generate-rpm's table has (its README's list: `variants` are selected with
/// `build_rpms --variant NAME`).
const GENERATE_RPM_KEYS: &[&str] = &["version", "require-sh", "variants"];

fn known_keys(table: Table) -> Vec<String> {
    let own = if table == Table::Trainyard { TRAINYARD_KEYS } else { GENERATE_RPM_KEYS };
    let mut keys: Vec<String> = COMMON_KEYS.iter().chain(own).map(|k| k.to_string()).collect();
    for (k, _) in SCRIPT_KEYS {
        keys.extend([k.to_string(), format!("{k}_flags"), format!("{k}_prog")]);
    }
    keys
}

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
    read_table(krate, metadata, target_release_dir, arch, &[], false)
}

/// [`from_metadata`] with cargo-generate-rpm's variants applied in order (`--variant NAME`):
/// each `[package.metadata.generate-rpm.variants.NAME]` replaces the keys it sets.
pub fn from_metadata_with_variants(
    krate: &CrateInfo,
    metadata: &Value,
    target_release_dir: &Utf8Path,
    arch: &str,
    variants: &[String],
) -> Result<Option<CratePackage>> {
    read_table(krate, metadata, target_release_dir, arch, variants, false)
}

/// Checks the crate's packaging table as [`from_metadata`] does, except that files the build
/// makes (under the target directory: binaries, and what build scripts write such as man pages
/// and completions) may be missing: a configuration error, a missing source file or a path
/// leaving the workspace is reported before a long build rather than after it. Once built,
/// [`from_metadata`] checks those too, before anything is written. The package it returns is
/// the plan (a dry run's): its built files may not exist yet.
pub fn check_metadata(
    krate: &CrateInfo,
    metadata: &Value,
    target_release_dir: &Utf8Path,
    arch: &str,
    variants: &[String],
) -> Result<Option<CratePackage>> {
    read_table(krate, metadata, target_release_dir, arch, variants, true)
}

/// The names of the variants a crate's cargo-generate-rpm table defines.
pub fn variant_names(metadata: &Value) -> Vec<String> {
    metadata
        .pointer("/generate-rpm/variants")
        .and_then(Value::as_object)
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default()
}

fn read_table(
    krate: &CrateInfo,
    metadata: &Value,
    target_release_dir: &Utf8Path,
    arch: &str,
    variants: &[String],
    before_build: bool,
) -> Result<Option<CratePackage>> {
    let (table, raw) = match (metadata.pointer("/trainyard/rpm"), metadata.get("generate-rpm")) {
        (Some(t), _) => (Table::Trainyard, t),
        (None, Some(g)) => (Table::GenerateRpm, g),
        (None, None) => return Ok(None),
    };
    let where_ = |field: &str| format!("crate `{}`: [{}] {field}", krate.name, table.key());
    let mut obj = raw.as_object().cloned().ok_or_else(|| Error::usage(format!("{} must be a table", where_(""))))?;
    let known = known_keys(table);
    let check_keys = |obj: &serde_json::Map<String, Value>, at: &str| -> Result<()> {
        match obj.keys().find(|k| !known.contains(k)) {
            Some(unknown) => {
                let at = if at.is_empty() { String::new() } else { format!(".{at}") };
                Err(Error::usage(format!(
                    "crate `{}`: [{}{at}]: unknown key `{unknown}`: trainyard does not support it",
                    krate.name,
                    table.key()
                ))
                .with_help(format!("remove it, or fix its spelling; the keys trainyard reads: {}", known.join(", "))))
            }
            None => Ok(()),
        }
    };
    check_keys(&obj, "")?;
    if table == Table::GenerateRpm {
        // cargo-generate-rpm's `--variant NAME`: the variant's keys replace the table's.
        let defined = obj.remove("variants").unwrap_or(Value::Null);
        if !defined.is_null() && !defined.is_object() {
            return Err(Error::usage(format!("{} must be a table of tables", where_("variants"))));
        }
        for name in variants {
            let Some(v) = defined.get(name) else { continue };
            let v = v
                .as_object()
                .ok_or_else(|| Error::usage(format!("{} must be a table", where_(&format!("variants.{name}")))))?;
            check_keys(v, &format!("variants.{name}"))?;
            if v.contains_key("variants") {
                return Err(Error::usage(format!(
                    "{}: a variant has no variants",
                    where_(&format!("variants.{name}"))
                )));
            }
            obj.extend(v.clone());
        }
    }
    let raw = Value::Object(obj.clone());
    let spec: Spec = serde_json::from_value(raw).map_err(|e| {
        Error::usage(format!("{}: {e}", where_("")))
            .with_help("fix the value's type (a string, a number, a table or a list)")
    })?;
    let target_dir = target_release_dir.parent().unwrap_or(target_release_dir).to_path_buf();
    let ctx = Ctx { krate, table, target_release_dir, target_dir, before_build };

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
    let table_release = match &spec.release {
        Some(Release::Text(t)) => Some(t.clone()),
        Some(Release::Number(n)) => Some(n.to_string()),
        None => None,
    };
    let release = table_release.clone().unwrap_or_else(|| "1".into());
    let mut pkg = Package {
        name,
        epoch: spec.epoch,
        version: crate::version::rpm_of_cargo(
            spec.version.as_deref().filter(|_| table == Table::GenerateRpm).unwrap_or(&krate.version),
        ),
        release,
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
        let a: AssetSpec = serde_json::from_value(raw.clone()).map_err(|e| {
            Error::usage(format!("{}: {e}", where_(&field))).with_help(
                "an asset is { source = \"PATH\", dest = \"/ABSOLUTE/PATH\" } with optional mode, config, doc, user, group, caps",
            )
        })?;
        pkg.files.extend(ctx.asset(&a, &field)?);
    }
    for (i, raw) in spec.dirs.iter().enumerate() {
        let field = format!("dirs[{i}]");
        let d: DirSpec = serde_json::from_value(raw.clone()).map_err(|e| {
            Error::usage(format!("{}: {e}", where_(&field)))
                .with_help("a directory is { dest = \"/ABSOLUTE/PATH\" } with optional mode, user, group")
        })?;
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
            caps: None,
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
        (&spec.recommends, &mut pkg.recommends, "recommends"),
        (&spec.suggests, &mut pkg.suggests, "suggests"),
        (&spec.supplements, &mut pkg.supplements, "supplements"),
        (&spec.enhances, &mut pkg.enhances, "enhances"),
    ] {
        if let Some(list) = list {
            *target = ctx.deps(list, key)?;
        }
    }
    if table == Table::GenerateRpm && spec.require_sh != Some(false) {
        pkg.requires.push(Dependency::any("/bin/sh"));
    }
    for (key, slot) in SCRIPT_KEYS {
        let flags_key = format!("{key}_flags");
        let prog_key = format!("{key}_prog");
        let Some(text) = obj.get(key) else {
            if let Some(k) = [&flags_key, &prog_key].into_iter().find(|k| obj.contains_key(k.as_str())) {
                return Err(ctx
                    .err(k, format!("`{k}` is set but `{key}` is not"))
                    .with_help(format!("add `{key}`, or remove `{k}`")));
            }
            continue;
        };
        let text = text.as_str().ok_or_else(|| ctx.err(key, "must be a string (script text or a file path)"))?;
        let script = ctx.script(text, key)?;
        *pkg.scriptlets.slot(slot).expect("a slot of SCRIPT_KEYS") = Some(script);
        let flags = match obj.get(&flags_key) {
            None => None,
            Some(v) => Some(v.as_u64().filter(|f| *f <= 7).ok_or_else(|| {
                ctx.err(&flags_key, format!("`{v}` is not a scriptlet flag value"))
                    .with_help("add up 1 (expand macros), 2 (expand query formats) and 4 (critical): 0 to 7")
            })? as u32),
        };
        let prog = match obj.get(&prog_key) {
            None => None,
            Some(v) => {
                let words: Option<Vec<String>> =
                    v.as_array().map(|a| a.iter().map(|w| w.as_str().map(String::from)).collect()).unwrap_or(None);
                Some(words.filter(|w| !w.is_empty() && (w[0].starts_with('/') || w[0] == "<lua>")).ok_or_else(
                    || {
                        ctx.err(&prog_key, format!("`{v}` is not an interpreter and its arguments"))
                            .with_help(format!("{prog_key} = [\"/bin/bash\", \"-e\"]"))
                    },
                )?)
            }
        };
        if flags.is_some() || prog.is_some() {
            pkg.scriptlets.options.insert(slot.to_string(), ScriptletOptions { flags, prog });
        }
    }
    // Units listed in trainyard's table get their scriptlets; cargo-generate-rpm adds none, and
    // its users' own scripts already do what they want.
    let units = if table == Table::Trainyard { systemd::add_unit_scriptlets(&mut pkg)? } else { Vec::new() };
    if !units.is_empty() {
        if let Some((slot, _)) = pkg.scriptlets.options.iter().find(|(s, o)| {
            ["post", "preun", "postun"].contains(&s.as_str()) && o.prog.as_ref().is_some_and(|p| p[0] != "/bin/sh")
        }) {
            return Err(Error::usage(format!(
                "{}: the `{slot}` scriptlet has its own interpreter, and the units' shell lines are added to it",
                where_("units")
            ))
            .with_help("keep that scriptlet in shell, or enable the units from it yourself"));
        }
    }
    // cargo-generate-rpm reads only "no"/"disabled" from the table; the other modes it names
    // all generate shared-library requires, as trainyard does in-process (rpm's elfdeps).
    let auto_requires = match spec.auto_req.as_deref() {
        None | Some("auto" | "builtin" | "find-requires") => true,
        Some("no" | "disabled") => false,
        Some(other) => {
            return Err(ctx.err("auto-req", format!("`{other}` is not supported")).with_help(
                "\"no\" turns shared-library requires off; \"auto\", \"builtin\" and \"find-requires\" keep them (computed as rpm's elfdeps does)",
            ))
        }
    };
    pkg.validate().map_err(|e| e.with_help(format!("fix [{}] in {}/Cargo.toml", table.key(), krate.manifest_dir)))?;
    Ok(Some(CratePackage { package: pkg, table, auto_requires, units, smoke: spec.smoke, release: table_release }))
}

/// The Summary from a description: its first sentence (up to a `.` followed by a space or the
/// end, or the end of the first paragraph), lines joined, without the final dot. A description
/// wrapped over several lines gives its whole first sentence, never a line cut mid-sentence.
fn first_line(s: &str) -> String {
    let paragraph: Vec<&str> =
        s.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
    let text = paragraph.join(" ");
    let end = text
        .char_indices()
        .find(|&(i, c)| {
            // `e.g.` and `i.e.` end no sentence: a word with a dot inside is an abbreviation.
            let word = text[..i].rsplit(' ').next().unwrap_or("");
            c == '.' && text[i + 1..].chars().next().is_none_or(char::is_whitespace) && !word.contains('.')
        })
        .map_or(text.len(), |(i, _)| i);
    text[..end].trim_end().to_string()
}

struct Ctx<'a> {
    krate: &'a CrateInfo,
    table: Table,
    target_release_dir: &'a Utf8Path,
    /// The parent of the release directory: what the build writes (binaries, and build
    /// scripts' output such as man pages and completions).
    target_dir: Utf8PathBuf,
    /// Built files (under the target directory) may not exist yet.
    before_build: bool,
}

/// Where a relative source may be found, in the order tried.
struct Candidate {
    path: Utf8PathBuf,
    /// The path stays inside what the table may package.
    allowed: bool,
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

    fn workspace_root(&self) -> &Utf8Path {
        if self.krate.workspace_root.as_str().is_empty() {
            &self.krate.manifest_dir
        } else {
            &self.krate.workspace_root
        }
    }

    /// The directories a source may point into: the crate (trainyard's table) or the workspace
    /// (cargo-generate-rpm's, which resolves from the workspace root), and the target directory.
    fn bounds(&self) -> Vec<&Utf8Path> {
        match self.table {
            Table::Trainyard => vec![&self.krate.manifest_dir, self.target_release_dir],
            Table::GenerateRpm => vec![self.workspace_root(), &self.target_dir],
        }
    }

    fn escapes(&self, field: &str, shown: &str) -> Error {
        match self.table {
            Table::Trainyard => self
                .err(field, format!("`{shown}` points outside the crate directory {}", self.krate.manifest_dir))
                .with_help("package only files inside the crate (copy the file into it), or built binaries as target/release/NAME"),
            Table::GenerateRpm => self
                .err(field, format!("`{shown}` points outside the workspace {}", self.workspace_root()))
                .with_help("package only files inside the workspace, or built files under target/"),
        }
    }

    /// Where `source` may be, in the order cargo-generate-rpm tries (`cargo generate-rpm -p`):
    /// `target/release/` is the release directory; otherwise relative to the workspace root,
    /// then to the crate. Trainyard's own table resolves from the crate only.
    fn candidates(&self, source: &str) -> Vec<Candidate> {
        let mapped = match source.strip_prefix("target/release/") {
            Some(rest) => self.target_release_dir.join(rest),
            None => Utf8PathBuf::from(source),
        };
        let bases: Vec<&Utf8Path> = match self.table {
            Table::Trainyard => vec![&self.krate.manifest_dir],
            Table::GenerateRpm => vec![self.workspace_root(), &self.krate.manifest_dir],
        };
        let mut out: Vec<Candidate> = Vec::new();
        for base in bases {
            let path = normalize(&base.join(&mapped));
            if out.iter().any(|c| c.path == path) {
                continue;
            }
            let allowed = self.bounds().iter().any(|b| path.starts_with(b));
            out.push(Candidate { path, allowed });
        }
        out
    }

    fn in_target(&self, path: &Utf8Path) -> bool {
        path.starts_with(&self.target_dir)
    }

    /// Maps a source to the file on disk and checks that it exists and stays inside what the
    /// table may package, symlinks included. Before the build a file of the target directory
    /// may be missing. Wildcards are handled by [`Self::sources`].
    fn source(&self, source: &str, field: &str) -> Result<Utf8PathBuf> {
        let candidates = self.candidates(source);
        if candidates.iter().all(|c| !c.allowed) {
            return Err(self.escapes(field, source));
        }
        for c in candidates.iter().filter(|c| c.allowed) {
            if c.path.is_file() {
                self.check_within(&c.path, source, field)?;
                return Ok(c.path.clone());
            }
            if c.path.is_dir() {
                return Err(self.err(field, format!("`{source}` is a directory ({})", c.path)).with_help(format!(
                    "package the files in it with a glob: source = \"{}/*\"",
                    source.trim_end_matches('/')
                )));
            }
        }
        if let Some(c) = candidates.iter().find(|c| c.allowed && self.before_build && self.in_target(&c.path)) {
            return Ok(c.path.clone());
        }
        Err(self.missing(source, field, &candidates))
    }

    fn missing(&self, shown: &str, field: &str, candidates: &[Candidate]) -> Error {
        let tried: Vec<&str> = candidates.iter().filter(|c| c.allowed).map(|c| c.path.as_str()).collect();
        let built = candidates.iter().any(|c| c.allowed && self.in_target(&c.path));
        let help = if built {
            "the build did not make it: build it first (`cargo build --release`), or fix the name".to_string()
        } else if self.table == Table::GenerateRpm {
            format!(
                "create it, or fix the path (relative to the workspace root {}, or to the crate)",
                self.workspace_root()
            )
        } else {
            format!("create it, or fix the path (relative to {})", self.krate.manifest_dir)
        };
        self.err(field, format!("`{shown}` does not exist ({})", tried.join(", "))).with_help(help)
    }

    fn check_within(&self, path: &Utf8Path, shown: &str, field: &str) -> Result<()> {
        let canon = |p: &Utf8Path| p.canonicalize_utf8().map_err(|e| self.err(field, format!("{p}: {e}")));
        let real = canon(path)?;
        for b in self.bounds() {
            if b.exists() && real.starts_with(canon(b)?) {
                return Ok(());
            }
        }
        Err(self.escapes(field, shown))
    }

    /// Expands a source with `*` as cargo-generate-rpm does (the `glob` crate's patterns: `*`,
    /// `?`, `[...]` within a component, `**` for any number of directories; directories are
    /// skipped). Returns each file and the destination below `dest`: its path relative to the
    /// text before the first `*` (that directory, or its parent).
    fn sources(&self, source: &str, field: &str) -> Result<Vec<(Utf8PathBuf, Utf8PathBuf)>> {
        if !source.contains('*') {
            return Ok(vec![(self.source(source, field)?, Utf8PathBuf::new())]);
        }
        let candidates = self.candidates(source);
        if candidates.iter().all(|c| !c.allowed) {
            return Err(self.escapes(field, source));
        }
        for c in candidates.iter().filter(|c| c.allowed) {
            let pattern = c.path.as_str();
            let before = &pattern[..pattern.find('*').unwrap_or(pattern.len())];
            let before = Utf8Path::new(before);
            let base = if before.is_dir() { before } else { before.parent().unwrap_or(before) };
            let parts: Vec<&str> = c.path.components().map(|c| c.as_str()).collect();
            let fixed = parts.iter().take_while(|p| !p.contains(['*', '?', '['])).count();
            let mut root = Utf8PathBuf::new();
            root.extend(&parts[..fixed]);
            let mut found = Vec::new();
            walk(&root, &parts[fixed..], &mut found);
            found.sort();
            found.dedup();
            if found.is_empty() {
                continue;
            }
            let mut out = Vec::new();
            for path in found {
                self.check_within(&path, source, field)?;
                let below = path.strip_prefix(base).map_err(|_| {
                    self.err(field, format!("{path} is not below {base}, where the pattern `{source}` starts"))
                        .with_help("put the `*` after the last directory that exists")
                })?;
                out.push((path.clone(), below.to_path_buf()));
            }
            return Ok(out);
        }
        if self.before_build && candidates.iter().any(|c| c.allowed && self.in_target(&c.path)) {
            return Ok(Vec::new());
        }
        let tried: Vec<&str> = candidates.iter().filter(|c| c.allowed).map(|c| c.path.as_str()).collect();
        Err(self
            .err(field, format!("`{source}` matches no file ({})", tried.join(", ")))
            .with_help("fix the pattern, or build what makes the files"))
    }

    fn asset(&self, a: &AssetSpec, field: &str) -> Result<Vec<FileEntry>> {
        self.check_dest(&a.dest, &format!("{field}.dest"), false)?;
        let globbed = a.source.contains('*');
        let files = self.sources(&a.source, &format!("{field}.source"))?;
        let mode = a.mode.as_deref().map(|m| self.mode(m, &format!("{field}.mode"))).transpose()?;
        let noreplace_default = self.table == Table::Trainyard;
        let config = match &a.config {
            None | Some(ConfigFlag::Bool(false)) => None,
            Some(ConfigFlag::Bool(true)) => Some(noreplace_default),
            Some(ConfigFlag::Word(w)) if w == "noreplace" => Some(true),
            Some(ConfigFlag::Word(w)) => {
                return Err(self
                    .err(&format!("{field}.config"), format!("`{w}` is not one of true, false, \"noreplace\""))
                    .with_help("config = true is %config, config = \"noreplace\" is %config(noreplace)"))
            }
        };
        if let Some(caps) = &a.caps {
            // Checked here, where the message can name the asset, with the parser the writer uses.
            if let Err(e) = super::caps::validate(caps) {
                return Err(self
                    .err(&format!("{field}.caps"), format!("`{caps}`: {e}"))
                    .with_help("write capabilities as setcap(8) does: \"cap_net_bind_service=ep\""));
            }
        }
        let mut entries = Vec::new();
        for (path, below) in files {
            let dest = if globbed {
                format!("{}/{below}", a.dest.trim_end_matches('/'))
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
                caps: a.caps.clone(),
            });
        }
        Ok(entries)
    }

    /// A list of dependencies: `{ NAME = "*" | "OP VERSION" | "OP V1, OP V2" }` (each comparison
    /// after a comma is one more entry, as cargo-generate-rpm writes them), or `["NAME OP V"]`.
    fn deps(&self, list: &DepList, key: &str) -> Result<Vec<Dependency>> {
        let parse = |name: &str, cond: &str| -> Result<Vec<Dependency>> {
            let cond = cond.trim();
            if cond.is_empty() || cond == "*" {
                return Ok(vec![Dependency::any(name)]);
            }
            let mut out = Vec::new();
            for one in cond.split(',') {
                let words: Vec<&str> = one.split_whitespace().collect();
                match words.as_slice() {
                    ["*"] => out.push(Dependency::any(name)),
                    [op, v] if DepFlags::parse(op).is_some() => {
                        out.push(Dependency::new(name, DepFlags::parse(op).expect("checked"), *v))
                    }
                    _ => {
                        return Err(self.err(key, format!("`{name}`: `{cond}` is not a version condition")).with_help(
                            "write \"*\" or an operator, a space and a version: \">= 1.2\" (several: \">= 1.2, < 2\")",
                        ))
                    }
                }
            }
            Ok(out)
        };
        let mut out = Vec::new();
        match list {
            DepList::Table(t) => {
                for (n, c) in t {
                    out.extend(parse(n, c)?);
                }
            }
            DepList::Strings(s) => {
                for entry in s {
                    let entry = entry.trim();
                    out.extend(match entry.split_once(' ') {
                        Some((name, cond)) => parse(name, cond)?,
                        None => parse(entry, "")?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Script text, or the contents of the file the text names (found as an asset source is).
    /// Text that looks like a file path (one word with a `/` or an extension) but names no file
    /// is an error, never the script: `%post` would run the path and fail at install. An
    /// absolute path outside the workspace is a command (`/sbin/ldconfig`).
    fn script(&self, text: &str, key: &str) -> Result<String> {
        let one_word = !text.trim().is_empty() && !text.contains(char::is_whitespace);
        if !one_word {
            return Ok(text.to_string());
        }
        let candidates = self.candidates(text);
        for c in candidates.iter().filter(|c| c.allowed) {
            if c.path.is_file() {
                self.check_within(&c.path, text, key)?;
                return std::fs::read_to_string(&c.path).map_err(|e| self.err(key, format!("{}: {e}", c.path)));
            }
        }
        if Utf8Path::new(text).is_absolute() && candidates.iter().all(|c| !c.allowed) {
            return Ok(text.to_string());
        }
        let ext = text.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty() && (1..=4).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !(text.contains('/') || ext) {
            return Ok(text.to_string());
        }
        if candidates.iter().all(|c| !c.allowed) {
            return Err(self.escapes(key, text));
        }
        if self.before_build && candidates.iter().any(|c| c.allowed && self.in_target(&c.path)) {
            return Ok(text.to_string());
        }
        Err(self.missing(text, key, &candidates).with_help(
            "fix the path (relative to the workspace root, or to the crate), or write the script's text instead",
        ))
    }
}

/// `path` with `.` and `..` components resolved lexically.
fn normalize(path: &Utf8Path) -> Utf8PathBuf {
    let mut out = Utf8PathBuf::new();
    for c in path.components() {
        match c {
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_str()),
        }
    }
    out
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

/// The files under `dir` matching `pattern` (path components); `**` is any number of directories.
fn walk(dir: &Utf8Path, pattern: &[&str], found: &mut Vec<Utf8PathBuf>) {
    let Some((first, rest)) = pattern.split_first() else {
        if dir.is_file() {
            found.push(dir.to_path_buf());
        }
        return;
    };
    let Ok(entries) = dir.read_dir_utf8() else { return };
    let entries: Vec<_> = entries.flatten().collect();
    if *first == "**" {
        walk(dir, rest, found);
        for e in &entries {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(e.path(), pattern, found);
            }
        }
        return;
    }
    for entry in entries {
        if glob_match(first, entry.file_name()) {
            walk(entry.path(), rest, found);
        }
    }
}

/// One component of a pattern: `*` any run of characters, `?` one, `[abc]`/`[a-z]`/`[!abc]` one
/// of a set.
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    matches_from(&p, &n)
}

fn matches_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| matches_from(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && matches_from(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                return n.first() == Some(&'[') && matches_from(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let (negate, set) = match p[1] {
                '!' => (true, &p[2..close]),
                _ => (false, &p[1..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && matches_from(&p[close + 1..], &n[1..])
        }
        Some(&c) => n.first() == Some(&c) && matches_from(&p[1..], &n[1..]),
    }
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
        assert!(glob_match("app.[1-8]", "app.1") && !glob_match("app.[1-8]", "app.9"));
        assert!(glob_match("[!.]*", "app") && !glob_match("[!.]*", ".hidden"));
        assert!(glob_match("*.bash", ".app.bash"), "the glob crate's `*` matches a leading dot");
    }

    #[test]
    fn summary_is_first_line_without_dot() {
        assert_eq!(first_line("\nRelease tooling.\nMore."), "Release tooling");
        assert_eq!(
            first_line("A hex viewer for the terminal that\ncolors bytes by kind (e.g. ASCII). Fast.\n"),
            "A hex viewer for the terminal that colors bytes by kind (e.g. ASCII)"
        );
        assert_eq!(first_line("Serves accounts\nover HTTP\n\nSecond paragraph."), "Serves accounts over HTTP");
        assert_eq!(first_line("Version 1.2 of the tool"), "Version 1.2 of the tool");
    }

    #[test]
    fn arches() {
        assert_eq!(rpm_arch("x86_64"), "x86_64");
        assert_eq!(rpm_arch("x86"), "i686");
    }
}
