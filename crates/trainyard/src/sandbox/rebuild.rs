//! A source RPM rebuilt in a clean root with no network (`dist --rebuild`): the proof that a
//! source release builds from what it carries.
//!
//! The root is the install test's ([`super::session`]): a fresh directory whose `/usr` is an overlay
//! of the host's, the base-system package, then `dnf` installing from a local repository only.
//! What it installs here is the build's toolchain: the host's Rust toolchain (`rustc --print
//! sysroot`) is bound read-only into the sandbox, and a package with no files stands for it in
//! the root's rpm database (`Provides: cargo = V`, `rust = V`), so `rpmbuild --rebuild` checks
//! the spec's `BuildRequires` against the root as it would in a distribution's build root.
//! A distribution's own Rust packages cannot be installed offline here; the host's toolchain,
//! read-only, is the same compiler the tarball was vendored with.
//!
//! `rpmbuild --rebuild` then runs inside bubblewrap with new network, PID, IPC and UTS
//! namespaces ([`super::confine`]): the only network is a loopback with nothing on it, so a
//! build that reaches for a registry or a git server fails.

use camino::{Utf8Path, Utf8PathBuf};

use super::session::{Output, Sandbox};
use super::{confine, shell};
use crate::error::{io, Error, Result};
use crate::exec;

/// The package standing for the host toolchain in the root.
pub const TOOLCHAIN: &str = "trainyard-host-toolchain";

/// Where the toolchain appears inside the sandbox.
fn toolchain_inside() -> String {
    format!("{}/toolchain", confine::CONTROL)
}

/// The host's Rust toolchain: its sysroot and the versions of rustc and cargo.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub sysroot: Utf8PathBuf,
    pub rustc: String,
    pub cargo: String,
}

impl Toolchain {
    /// The toolchain `rustc` and `cargo` on the PATH resolve to (through rustup's proxies).
    pub fn host() -> Result<Toolchain> {
        let sh = shell()?;
        exec::tool("rustc", "rustc")?;
        let sysroot = exec::read(sh.cmd("rustc").args(["--print", "sysroot"]))?;
        let sysroot = Utf8PathBuf::from(sysroot.trim());
        let word = |line: String| line.split_whitespace().nth(1).unwrap_or_default().to_string();
        let rustc = word(exec::read(sh.cmd(sysroot.join("bin/rustc")).arg("--version"))?);
        let cargo = word(exec::read(sh.cmd(sysroot.join("bin/cargo")).arg("--version"))?);
        if rustc.is_empty() || cargo.is_empty() || !sysroot.join("bin/cargo").is_file() {
            return Err(Error::failed(format!("no cargo and rustc in the toolchain at {sysroot}"))
                .with_help("install a Rust toolchain with its cargo (rustup toolchain install stable)"));
        }
        Ok(Toolchain { sysroot, rustc, cargo })
    }

    /// The spec of the package that stands for it: no files, its capabilities.
    pub fn spec(&self) -> String {
        let version = |v: &str| v.split(['-', '+']).next().unwrap_or("0").to_string();
        let (rustc, cargo) = (version(&self.rustc), version(&self.cargo));
        format!(
            "# Written by trainyard: stands for the host's Rust toolchain, bound read-only into the sandbox.\n\
             Name: {TOOLCHAIN}\nVersion: {rustc}\nRelease: 1\nSummary: The host's Rust toolchain\n\
             License: MIT\nBuildArch: noarch\nAutoReqProv: no\n\
             Provides: rust = {rustc}\nProvides: rustc = {rustc}\nProvides: cargo = {cargo}\n\n\
             %description\nNo files: cargo and rustc are the host's, at {}.\n\n%files\n",
            toolchain_inside()
        )
    }
}

/// Rebuilds `srpm` with `rpmbuild --rebuild` in a clean root with no network; the binary RPMs
/// it yields are copied into `out_dir`, whose paths are returned. `work_dir` holds the run.
pub fn rebuild(srpm: &Utf8Path, work_dir: &Utf8Path, out_dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let name = srpm
        .file_name()
        .filter(|n| n.ends_with(".src.rpm"))
        .ok_or_else(|| Error::usage(format!("{srpm} is not a source RPM")).with_help("give the .src.rpm dist wrote"))?;
    if !srpm.is_file() {
        return Err(Error::usage(format!("{srpm} does not exist")).with_help("run dist first"));
    }
    let toolchain = Toolchain::host()?;
    let sandbox = Sandbox::new(work_dir, super::Limits::from_env()?)?;
    let result = rebuild_in(&sandbox, &toolchain, srpm, name, out_dir);
    let removed = sandbox.root.remove();
    let rpms = result?;
    removed?;
    Ok(rpms)
}

fn rebuild_in(
    sandbox: &Sandbox,
    toolchain: &Toolchain,
    srpm: &Utf8Path,
    name: &str,
    out_dir: &Utf8Path,
) -> Result<Vec<Utf8PathBuf>> {
    let run = sandbox.root.run_dir.clone();
    let phase = crate::ui::Phase::start("making the root (dnf, from a local repository)");
    let spec_dir = run.join("toolchain-package");
    let package = super::base::build_spec(&spec_dir, TOOLCHAIN, &toolchain.spec())?;
    sandbox.make_repo(&[package])?;
    sandbox.root.create()?;
    sandbox.write_dnf_config()?;
    sandbox.install_base()?;
    sandbox.install(&[TOOLCHAIN.to_string()])?;
    phase.elapsed();

    let phase = crate::ui::Phase::start("rpmbuild --rebuild, no network");
    let srpm_dir = run.join("srpm");
    std::fs::create_dir_all(&srpm_dir).map_err(io(&srpm_dir))?;
    std::fs::copy(srpm, srpm_dir.join(name)).map_err(io(&srpm_dir))?;
    let mut binds = sandbox.binds();
    binds.push(confine::Bind { host: toolchain.sysroot.clone(), inside: toolchain_inside() });
    binds.push(confine::Bind::new(&srpm_dir, "srpm"));
    // The root's /usr is the host's, whose `cc` (the linker rustc calls) is, on Debian, a link
    // through /etc/alternatives: that directory of the host's base system comes along, read-only.
    let alternatives = Utf8Path::new("/etc/alternatives");
    if alternatives.is_dir() {
        binds.push(confine::Bind { host: alternatives.to_owned(), inside: alternatives.to_string() });
    }
    let path = format!("PATH={}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", toolchain_inside());
    let command: Vec<String> = [
        "env",
        &path,
        "rpmbuild",
        "--rebuild",
        "--define",
        "_topdir /root/rpmbuild",
        &format!("{}/srpm/{name}", confine::CONTROL),
    ]
    .map(String::from)
    .to_vec();
    if !crate::ui::quiet() {
        eprintln!("$ [in the sandbox, no network] {}", super::shell_words(&command));
    }
    let mut inner = confine::bwrap(&sandbox.root.tree, &binds, false);
    inner.extend(confine::supervised(command));
    let out: Output = sandbox.spawn(&sandbox.root.wrap(sandbox.privilege, inner), "rpmbuild --rebuild")?;
    phase.elapsed();
    if !out.ok() {
        return Err(Error::failed(format!(
            "rpmbuild --rebuild {name} failed in the clean root (no network):\n{}",
            super::diagnose::tail(&out.all(), 30)
        ))
        .with_help("the source release must carry everything its build needs: see the lines above"));
    }
    super::diagnose::leftovers_fail(&out.all(), "rpmbuild --rebuild")?;
    let built = sandbox.root.tree.join("root/rpmbuild/RPMS");
    let mut rpms = Vec::new();
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    for arch in std::fs::read_dir(&built).map_err(io(&built))? {
        let arch = arch.map_err(io(&built))?.path();
        for entry in std::fs::read_dir(&arch).map_err(io(&built))? {
            let from = Utf8PathBuf::from_path_buf(entry.map_err(io(&built))?.path())
                .map_err(|p| Error::failed(format!("{} is not UTF-8", p.display())))?;
            let to = out_dir.join(from.file_name().unwrap_or_default());
            std::fs::copy(&from, &to).map_err(io(&to))?;
            rpms.push(to);
        }
    }
    rpms.sort();
    if rpms.is_empty() {
        return Err(Error::failed(format!("rpmbuild --rebuild {name} wrote no binary RPM")));
    }
    Ok(rpms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toolchain_package_provides_what_a_rust_spec_build_requires() {
        let t = Toolchain { sysroot: "/t".into(), rustc: "1.95.0".into(), cargo: "1.95.0-nightly".into() };
        let spec = t.spec();
        assert!(spec.contains("Provides: rust = 1.95.0\n"), "{spec}");
        assert!(spec.contains("Provides: cargo = 1.95.0\n"), "{spec}");
        assert!(spec.contains("AutoReqProv: no"));
        assert!(spec.ends_with("%files\n"), "no files: the toolchain is bound, not installed");
    }
}
