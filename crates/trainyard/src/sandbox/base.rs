//! The package that stands for the host's base system in the root: no files, and as
//! Provides exactly what rpm's own generator (`elfdeps --provides`) says the host's C
//! library, loader and runtime libraries provide, plus `/bin/sh`. Everything else a
//! package of the collection Requires must come from the collection.

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::error::{io, Error, Result};
use crate::exec;

pub const NAME: &str = "trainyard-base-system";

/// Sonames of the C runtime a binary built on this host may link to.
const RUNTIME_SONAMES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libanl.so.1",
    "libgcc_s.so.1",
];

/// Capabilities no file carries: the shell paths scriptlets and scripts require, and the
/// loader's hash style (glibc's package provides it by hand too).
const EXTRA_PROVIDES: &[&str] = &["/bin/sh", "/usr/bin/sh", "rtld(GNU_HASH)"];

/// The host's runtime libraries, found the way the loader finds them (`ldconfig -p`).
pub fn host_libraries() -> Result<Vec<Utf8PathBuf>> {
    let sh = shell()?;
    let ldconfig = find_ldconfig()?;
    let listing = exec::read(sh.cmd(ldconfig).arg("-p"))?;
    Ok(libraries_in(&listing))
}

/// Picks the runtime libraries from `ldconfig -p` output (`soname (tags) => path`).
pub fn libraries_in(listing: &str) -> Vec<Utf8PathBuf> {
    let mut paths = Vec::new();
    for line in listing.lines() {
        let Some((left, path)) = line.split_once(" => ") else { continue };
        let soname = left.split_whitespace().next().unwrap_or("");
        let wanted = RUNTIME_SONAMES.contains(&soname) || soname.starts_with("ld-linux");
        let path = Utf8PathBuf::from(path.trim());
        if wanted && !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// What the base package provides: rpm's `elfdeps --provides` over the host libraries,
/// keeping the host's word size only (a 32-bit libc beside a 64-bit one stands for nothing
/// our packages need), then [`EXTRA_PROVIDES`].
pub fn provides(libraries: &[Utf8PathBuf]) -> Result<Vec<String>> {
    let sh = shell()?;
    let elfdeps = elfdeps(&sh)?;
    let input: String = libraries.iter().map(|p| format!("{p}\n")).collect();
    let out = exec::read(sh.cmd(&elfdeps).arg("--provides").stdin(input))?;
    let wide = cfg!(target_pointer_width = "64");
    let mut provides: Vec<String> = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.ends_with("(64bit)") != wide {
            continue;
        }
        if !provides.iter().any(|p| p == line) {
            provides.push(line.to_string());
        }
    }
    if !provides.iter().any(|p| p.starts_with("libc.so.6")) {
        return Err(Error::failed(format!(
            "rpm's elfdeps found no C library among the host's libraries ({})",
            libraries.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        ))
        .with_help("the sandbox backend needs a glibc host; `ldconfig -p` should list libc.so.6"));
    }
    provides.extend(EXTRA_PROVIDES.iter().map(|s| s.to_string()));
    Ok(provides)
}

/// The spec of the base package.
pub fn spec(provides: &[String]) -> String {
    let mut spec = format!(
        "# Written by trainyard: stands for the host's C library, loader and /bin/sh in the sandbox root.\n\
         Name: {NAME}\nVersion: 1\nRelease: 1\nSummary: The host's base system, as trainyard's sandbox sees it\n\
         License: MIT\nBuildArch: noarch\nAutoReqProv: no\n"
    );
    for p in provides {
        spec.push_str(&format!("Provides: {p}\n"));
    }
    spec.push_str("\n%description\nNo files: the root sees the host's /usr through an overlay.\n\n%files\n");
    spec
}

/// Builds the base package into `dir` and returns the RPM's path.
///
/// One function on purpose: when the in-process RPM writer lands, it replaces `rpmbuild` here.
pub fn build(dir: &Utf8Path, provides: &[String]) -> Result<Utf8PathBuf> {
    build_spec(dir, NAME, &spec(provides))
}

/// Builds the noarch package `name` of `spec_text` (a package of no files) into `dir`; returns the RPM's path.
pub fn build_spec(dir: &Utf8Path, name: &str, spec_text: &str) -> Result<Utf8PathBuf> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let spec_path = dir.join(format!("{name}.spec"));
    std::fs::write(&spec_path, spec_text).map_err(io(&spec_path))?;
    let sh = shell()?;
    exec::tool("rpmbuild", "rpm")?;
    let topdir = format!("_topdir {dir}/rpmbuild");
    let rpmdir = format!("_rpmdir {dir}");
    // Debian's rpm keeps its database in the caller's home; rpmbuild need not touch it.
    let dbpath = format!("_dbpath {dir}/rpmdb");
    let (ok, out, err) = exec::output(
        sh.cmd("rpmbuild")
            .args(["-bb", "--quiet", "--define", &topdir, "--define", &rpmdir, "--define", &dbpath])
            .arg(&spec_path),
    )?;
    let rpm = std::fs::read_dir(dir.join("noarch")).ok().and_then(|d| {
        d.flatten()
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.path()).ok())
            .find(|p| p.file_name().is_some_and(|f| f.starts_with(&format!("{name}-")) && f.ends_with(".rpm")))
    });
    match rpm {
        Some(rpm) if ok => Ok(rpm),
        _ => Err(Error::failed(format!("building the package {name} failed:\n{}{}", out, err))
            .with_help(format!("the spec is {spec_path}"))),
    }
}

/// rpm's ELF dependency generator, where this rpm keeps its helpers.
pub fn elfdeps(sh: &Shell) -> Result<Utf8PathBuf> {
    exec::tool("rpm", "rpm")?;
    let dir = exec::read(sh.cmd("rpm").args(["--eval", "%{_rpmconfigdir}"]))?;
    let path = Utf8PathBuf::from(dir.trim()).join("elfdeps");
    if !path.exists() {
        return Err(Error::missing_tool("elfdeps", "rpm").with_help(format!(
            "rpm's dependency generator was not found at {path}; install it: apt-get install -y rpm"
        )));
    }
    Ok(path)
}

fn find_ldconfig() -> Result<std::path::PathBuf> {
    // Debian keeps ldconfig in /sbin, which a non-root PATH often lacks.
    exec::tool("ldconfig", "libc-bin").or_else(|err| {
        ["/usr/sbin/ldconfig", "/sbin/ldconfig"].iter().map(std::path::PathBuf::from).find(|p| p.exists()).ok_or(err)
    })
}

fn shell() -> Result<Shell> {
    Shell::new().map_err(exec::command_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_runtime_libraries_from_ldconfig() {
        let listing = "1234 libs found in cache `/etc/ld.so.cache'\n\
            \tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\
            \tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6\n\
            \tld-linux-x86-64.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n\
            \tlibgcc_s.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libgcc_s.so.1\n";
        let libs = libraries_in(listing);
        assert_eq!(
            libs,
            vec![
                Utf8PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                Utf8PathBuf::from("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                Utf8PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
            ]
        );
    }

    #[test]
    fn spec_lists_every_provide() {
        let spec = spec(&["libc.so.6()(64bit)".into(), "/bin/sh".into()]);
        assert!(spec.contains("Provides: libc.so.6()(64bit)\n"));
        assert!(spec.contains("Provides: /bin/sh\n"));
        assert!(spec.contains("AutoReqProv: no"));
    }
}
