//! The `mock` backend: where Fedora's `mock` is installed, trainyard writes a source RPM for
//! each workspace package (spec, workspace sources, vendored crates), has mock rebuild it
//! in its chroot, installs the results there and runs the same smoke commands with
//! `mock --chroot`.
//!
//! Everything here is data until run: the spec text and each command line, so they can be
//! printed by `--dry-run` and checked by tests on hosts without mock.

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::error::{Error, Kind, Result};
use crate::exec::{self, Effects};
use crate::sandbox::Smoke;

/// A file shipped beside the binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Path in the workspace, relative to its root.
    pub source: String,
    /// Absolute path on the installed system.
    pub dest: String,
    /// Octal file mode (0o644 for data).
    pub mode: u32,
}

/// One workspace package as mock should build it.
#[derive(Debug, Clone)]
pub struct MockPackage {
    /// RPM name.
    pub name: String,
    /// RPM version (`1.3~~dev5`).
    pub version: String,
    pub release: String,
    pub summary: String,
    pub license: String,
    /// The cargo package whose binaries these are (`cargo build --package`).
    pub cargo_package: String,
    pub binaries: Vec<String>,
    pub assets: Vec<Asset>,
    /// Requires beyond what rpm generates from the binaries (internal projects' packages).
    pub requires: Vec<String>,
    /// The computed version (Cargo semver), exported to the build as `TRAINYARD_VERSION` the
    /// way `build` does, so the binary mock builds prints what the smoke command expects.
    pub build_version: Option<String>,
}

/// What the mock backend writes and runs for one package.
#[derive(Debug, Clone)]
pub struct MockPlan {
    /// Mock's configuration (`-r`): a name (`fedora-41-x86_64`) or a path to a `.cfg`.
    pub config: String,
    pub spec_file: String,
    pub spec: String,
    /// Source0: the workspace, under `NAME-VERSION/`.
    pub source_tarball: String,
    /// Source1: the vendored crates, under `vendor/`.
    pub vendor_tarball: String,
    /// Source2: the `[source]` configuration `cargo vendor` printed.
    pub vendor_config: String,
    /// The source RPM `rpmbuild -bs` makes from them.
    pub srpm: String,
    pub result_dir: Utf8PathBuf,
}

/// Computes the spec and file names of the mock build of `pkg`; binaries land in `result_dir`.
pub fn mock_plan(pkg: &MockPackage, config: &str, result_dir: &Utf8Path) -> Result<MockPlan> {
    validate(pkg)?;
    if config.is_empty() || config.starts_with('-') {
        return Err(Error::usage(format!("`{config}` is not a mock configuration"))
            .with_help("name one of mock's configurations (fedora-41-x86_64) or a .cfg file"));
    }
    let nv = format!("{}-{}", pkg.name, pkg.version);
    Ok(MockPlan {
        config: config.to_string(),
        spec_file: format!("{}.spec", pkg.name),
        spec: spec(pkg),
        source_tarball: format!("{nv}.tar.gz"),
        vendor_tarball: format!("{nv}-vendor.tar.gz"),
        vendor_config: format!("{nv}-vendor-config.toml"),
        srpm: format!("{nv}-{}.src.rpm", pkg.release),
        result_dir: result_dir.to_owned(),
    })
}

fn validate(pkg: &MockPackage) -> Result<()> {
    let plain = |what: &str, v: &str, extra: &str| {
        let ok = !v.is_empty()
            && !v.starts_with('-')
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "._+~^".contains(c) || extra.contains(c));
        if ok {
            Ok(())
        } else {
            Err(Error::usage(format!("{what} `{}` cannot go into a spec file", v.escape_debug())))
        }
    };
    plain("package name", &pkg.name, "-")?;
    plain("version", &pkg.version, "")?;
    plain("release", &pkg.release, "")?;
    plain("cargo package", &pkg.cargo_package, "-")?;
    for bin in &pkg.binaries {
        plain("binary", bin, "-")?;
    }
    for asset in &pkg.assets {
        if !asset.dest.starts_with('/') || asset.source.starts_with('/') {
            return Err(Error::usage(format!(
                "asset {} -> {}: the source must be relative to the workspace and the destination absolute",
                asset.source, asset.dest
            )));
        }
        for p in [&asset.source, &asset.dest] {
            if p.chars().any(|c| c.is_whitespace() || c.is_control() || "'\"%$\\".contains(c)) || p.contains("..") {
                return Err(Error::usage(format!("asset path `{}` cannot go into a spec file", p.escape_debug())));
            }
        }
    }
    if let Some(v) = &pkg.build_version {
        plain("build version", v, "-")?;
    }
    for line in [&pkg.summary, &pkg.license].into_iter().chain(&pkg.requires) {
        if line.contains('\n') || line.contains('%') {
            return Err(Error::usage(format!("`{}` cannot go into a spec file", line.escape_debug())));
        }
    }
    Ok(())
}

/// The spec: `%build` runs `cargo build --release --offline --frozen` over the vendored
/// crates, `%install` places the binaries and assets.
pub fn spec(pkg: &MockPackage) -> String {
    let mut s = String::new();
    s.push_str("# Written by trainyard for Fedora's mock: the workspace built offline from vendored crates.\n");
    // Release builds carry no debug info (the workspace's profile says so); an empty
    // debuginfo package would fail the build.
    s.push_str("%global debug_package %{nil}\n\n");
    s.push_str(&format!("Name:           {}\n", pkg.name));
    s.push_str(&format!("Version:        {}\n", pkg.version));
    s.push_str(&format!("Release:        {}%{{?dist}}\n", pkg.release));
    s.push_str(&format!("Summary:        {}\n", pkg.summary));
    s.push_str(&format!("License:        {}\n", pkg.license));
    s.push_str("Source0:        %{name}-%{version}.tar.gz\n");
    s.push_str("Source1:        %{name}-%{version}-vendor.tar.gz\n");
    s.push_str("Source2:        %{name}-%{version}-vendor-config.toml\n");
    s.push_str("BuildRequires:  cargo\nBuildRequires:  rust\n");
    for r in &pkg.requires {
        s.push_str(&format!("Requires:       {r}\n"));
    }
    s.push_str(&format!("\n%description\n{}\n\n", pkg.summary));
    s.push_str("%prep\n%setup -q -n %{name}-%{version}\n%setup -q -T -D -a 1 -n %{name}-%{version}\n");
    // `cargo vendor` printed where the crates now come from; the workspace's own
    // .cargo/config.toml (aliases) stays, the source replacement is added to it.
    s.push_str("mkdir -p .cargo\ncat %{SOURCE2} >> .cargo/config.toml\n\n");
    s.push_str("%build\nexport CARGO_HOME=\"$PWD/.cargo-home\"\n");
    if let Some(v) = &pkg.build_version {
        s.push_str(&format!("export TRAINYARD_VERSION={v}\n"));
    }
    s.push_str(&format!("cargo build --release --offline --frozen --package {}", pkg.cargo_package));
    for bin in &pkg.binaries {
        s.push_str(&format!(" --bin {bin}"));
    }
    s.push_str("\n\n%install\n");
    for bin in &pkg.binaries {
        s.push_str(&format!("install -D -m 0755 target/release/{bin} %{{buildroot}}%{{_bindir}}/{bin}\n"));
    }
    for a in &pkg.assets {
        s.push_str(&format!("install -D -m {:04o} {} %{{buildroot}}{}\n", a.mode, a.source, a.dest));
    }
    s.push_str("\n%files\n");
    for bin in &pkg.binaries {
        s.push_str(&format!("%{{_bindir}}/{bin}\n"));
    }
    for a in &pkg.assets {
        s.push_str(&format!("{}\n", a.dest));
    }
    s
}

impl MockPlan {
    /// Builds the source RPM in `sources_dir`: the spec, a tarball of `workspace` (without
    /// `target/` and `.git/`), a tarball of `vendor_dir` (may be absent: no external crate) and
    /// the vendor configuration. Returns the source RPM's path.
    pub fn write_srpm(
        &self,
        effects: &Effects,
        workspace: &Utf8Path,
        vendor_dir: Option<&Utf8Path>,
        vendor_config: &str,
        sources_dir: &Utf8Path,
    ) -> Result<Utf8PathBuf> {
        let sh = Shell::new().map_err(exec::command_error)?;
        exec::tool("tar", "tar")?;
        exec::tool("rpmbuild", "rpm")?;
        effects.create_dir(sources_dir)?;
        effects.write(&sources_dir.join(&self.spec_file), self.spec.as_bytes())?;
        effects.write(&sources_dir.join(&self.vendor_config), vendor_config.as_bytes())?;
        let top = self.source_tarball.trim_end_matches(".tar.gz");
        let transform = format!("--transform=s,^\\.,{top},");
        let source = sources_dir.join(&self.source_tarball);
        effects.run(sh.cmd("tar").args([
            "--create",
            "--gzip",
            "--file",
            source.as_str(),
            "--exclude=./target",
            "--exclude=./.git",
            &transform,
            "-C",
            workspace.as_str(),
            ".",
        ]))?;
        let vendor = sources_dir.join(&self.vendor_tarball);
        let empty = sources_dir.join("empty-vendor");
        let vendor_parent = match vendor_dir {
            Some(dir) => dir.parent().ok_or_else(|| Error::usage(format!("{dir} has no parent")))?.to_owned(),
            None => {
                effects.create_dir(&empty.join("vendor"))?;
                empty.clone()
            }
        };
        let vendor_name = vendor_dir.and_then(|d| d.file_name()).unwrap_or("vendor");
        let transform = format!("--transform=s,^{vendor_name},vendor,");
        effects.run(sh.cmd("tar").args([
            "--create",
            "--gzip",
            "--file",
            vendor.as_str(),
            &transform,
            "-C",
            vendor_parent.as_str(),
            vendor_name,
        ]))?;
        // rpmbuild says `Wrote: FILE` on stdout, which is the report's.
        effects.run(sh.cmd("rpmbuild").args(self.srpm_command(sources_dir)).ignore_stdout())?;
        if vendor_dir.is_none() {
            effects.apply(&crate::plan::Action::RemoveDir(empty))?;
        }
        Ok(sources_dir.join(&self.srpm))
    }

    /// `rpmbuild -bs` over the spec, sources and output in `sources_dir` (arguments after `rpmbuild`).
    pub fn srpm_command(&self, sources_dir: &Utf8Path) -> Vec<String> {
        vec![
            "-bs".into(),
            "--define".into(),
            format!("_sourcedir {sources_dir}"),
            "--define".into(),
            format!("_srcrpmdir {sources_dir}"),
            // A source RPM built here has no dist tag; mock adds its own to the binaries.
            "--define".into(),
            "dist %{nil}".into(),
            sources_dir.join(&self.spec_file).to_string(),
        ]
    }

    fn mock(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["mock".to_string(), "-r".into(), self.config.clone()];
        argv.extend(args.iter().map(|s| s.to_string()));
        argv
    }

    /// A fresh chroot for this run.
    pub fn init_command(&self) -> Vec<String> {
        self.mock(&["--init"])
    }

    /// Rebuilds the source RPM in the chroot; the binary RPMs land in the result dir.
    pub fn rebuild_command(&self, srpm: &Utf8Path) -> Vec<String> {
        let result = format!("--resultdir={}", self.result_dir);
        self.mock(&["--no-clean", &result, "--rebuild", srpm.as_str()])
    }

    /// Installs the collection's binary RPMs (these, and the internal projects') into the chroot.
    pub fn install_command(&self, rpms: &[Utf8PathBuf]) -> Vec<String> {
        let mut argv = self.mock(&["--install"]);
        argv.extend(rpms.iter().map(|p| p.to_string()));
        argv
    }

    /// Runs a smoke command in the chroot: as an argument vector, so mock runs it without
    /// reinterpreting the text, through `/bin/sh -c` as the sandbox does.
    pub fn smoke_command(&self, smoke: &Smoke) -> Vec<String> {
        self.mock(&["--chroot", "--", "/bin/sh", "-c", &smoke.command])
    }

    /// Removes the chroot (skipped with `--keep-root`).
    pub fn clean_command(&self) -> Vec<String> {
        self.mock(&["--clean"])
    }

    /// Every command of a run, in order, after the source RPM is written.
    pub fn commands(
        &self,
        srpm: &Utf8Path,
        rpms: &[Utf8PathBuf],
        smoke: &[Smoke],
        keep_root: bool,
    ) -> Vec<Vec<String>> {
        let mut all = vec![self.init_command(), self.rebuild_command(srpm), self.install_command(rpms)];
        all.extend(smoke.iter().map(|s| self.smoke_command(s)));
        if !keep_root {
            all.push(self.clean_command());
        }
        all
    }
}

/// Vendors the workspace's crates into `vendor_dir` (`cargo vendor --locked`) and returns the
/// configuration cargo printed for using them.
pub fn vendor(effects: &Effects, manifest: &Utf8Path, vendor_dir: &Utf8Path) -> Result<Option<String>> {
    let sh = Shell::new().map_err(exec::command_error)?;
    let cargo = crate::cargo::program();
    effects.run_read(sh.cmd(cargo).args([
        "vendor",
        "--locked",
        "--versioned-dirs",
        "--manifest-path",
        manifest.as_str(),
        vendor_dir.as_str(),
    ]))
}

/// Checks, before anything is built, that the mock backend can run here: mock and the tools
/// that write the source RPM are installed (exit 3, naming the package), and `config` is a
/// configuration mock has (exit 2).
pub fn preflight(config: &str) -> Result<()> {
    let mut problems = Vec::new();
    let mut missing = Vec::new();
    for (tool, package) in [("mock", "mock"), ("rpmbuild", "rpm"), ("tar", "tar")] {
        if exec::tool(tool, package).is_err() {
            problems.push(format!("`{tool}` is not installed (Debian package {package})"));
            missing.push(package);
        }
    }
    if missing.is_empty() {
        if let Err(why) = check_config(config) {
            problems.push(why);
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
    let mut help = String::new();
    if !missing.is_empty() {
        help.push_str(&format!(
            "install: apt-get install -y {} (Fedora: dnf install -y mock rpm-build), with a mock \
             configuration whose repositories this host reaches\n",
            missing.join(" ")
        ));
    }
    help.push_str("or use --backend sandbox, which needs only rpm, dnf, createrepo_c and bubblewrap");
    let kind = if missing.is_empty() { Kind::Usage } else { Kind::MissingTool };
    Err(Error::new(kind, format!("the mock backend cannot run here:{list}")).with_help(help))
}

/// Where mock looks for a configuration named on its command line: a `.cfg` path as given,
/// else `NAME.cfg` in the system's and the user's mock directories.
pub fn config_candidates(config: &str, home: Option<&Utf8Path>) -> Vec<Utf8PathBuf> {
    if config.ends_with(".cfg") || config.contains('/') {
        return vec![Utf8PathBuf::from(config)];
    }
    let mut out = vec![Utf8Path::new("/etc/mock").join(format!("{config}.cfg"))];
    if let Some(home) = home {
        out.push(home.join(".config/mock").join(format!("{config}.cfg")));
    }
    out
}

fn check_config(config: &str) -> std::result::Result<(), String> {
    if config.is_empty() || config.starts_with('-') {
        return Err(format!("`{config}` is not a mock configuration"));
    }
    let home = std::env::var("HOME").ok().map(Utf8PathBuf::from);
    let candidates = config_candidates(config, home.as_deref());
    if candidates.iter().any(|p| p.is_file()) {
        return Ok(());
    }
    let list: Vec<&str> = candidates.iter().map(|p| p.as_str()).collect();
    Err(format!("mock has no configuration `{config}` (looked for {}); name one with --mock-config", list.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg() -> MockPackage {
        MockPackage {
            name: "web-server".into(),
            version: "1.3~~dev5".into(),
            release: "1".into(),
            summary: "The web server".into(),
            license: "MIT".into(),
            cargo_package: "web".into(),
            binaries: vec!["web".into(), "webctl".into()],
            assets: vec![Asset {
                source: "web/static/index.html".into(),
                dest: "/usr/share/web/index.html".into(),
                mode: 0o644,
            }],
            requires: vec!["server-core >= 2.0".into()],
            build_version: Some("1.3.0-0.dev.5".into()),
        }
    }

    #[test]
    fn spec_builds_offline_and_installs_binaries_and_assets() {
        let s = spec(&pkg());
        assert!(s.contains("cargo build --release --offline --frozen --package web --bin web --bin webctl\n"));
        assert!(s.contains("install -D -m 0755 target/release/webctl %{buildroot}%{_bindir}/webctl\n"));
        assert!(s.contains("install -D -m 0644 web/static/index.html %{buildroot}/usr/share/web/index.html\n"));
        assert!(s.contains("Requires:       server-core >= 2.0\n"));
        assert!(s.contains("Version:        1.3~~dev5\n"));
        assert!(s.contains("export TRAINYARD_VERSION=1.3.0-0.dev.5\n"));
    }

    #[test]
    fn refuses_values_a_spec_cannot_hold() {
        let mut bad = pkg();
        bad.binaries.push("x; rm -rf /".into());
        assert_eq!(mock_plan(&bad, "fedora-41-x86_64", Utf8Path::new("/r")).unwrap_err().exit_code(), 2);
        assert!(mock_plan(&pkg(), "--scrub", Utf8Path::new("/r")).is_err());
    }
}
