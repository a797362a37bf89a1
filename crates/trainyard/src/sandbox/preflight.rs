//! Whether the sandbox backend can run on this host, asked before anything is built: its
//! tools, the namespaces, an overlay of `/usr` under the work directory, bubblewrap.
//!
//! The overlay and bubblewrap can only be known by trying: the probe mounts an overlay in a
//! scratch run of its own under the work directory, exactly as a run does, and removes it and
//! every directory it created on the way (a dry-run leaves nothing).

use camino::Utf8Path;

use super::root::{self, Privilege, Root};
use super::{base, command, confine, shell};
use crate::error::{Error, Kind, Result};
use crate::exec;

/// Tools the sandbox runs, with the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("createrepo_c", "createrepo-c"),
    ("dnf", "dnf"),
    ("rpm", "rpm"),
    ("rpmbuild", "rpm"),
    ("bwrap", "bubblewrap"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("timeout", "coreutils"),
    ("prlimit", "util-linux"),
    ("sh", "dash"),
];

/// Checks, before anything is built, that the sandbox backend can run here: its tools, the
/// privileges for a mount namespace (root, or unprivileged user namespaces), an overlay in
/// `work_dir`, and bubblewrap. Reports every problem at once. Returns how namespaces are made.
pub fn preflight(work_dir: &Utf8Path) -> Result<Privilege> {
    let mut problems = Vec::new();
    let mut missing = Vec::new();
    for (tool, package) in TOOLS {
        if exec::tool(tool, package).is_err() {
            problems.push(format!("`{tool}` is not installed (Debian package {package})"));
            missing.push(*package);
        }
    }
    if let Err(err) = base::elfdeps(&shell()?) {
        if exec::tool("rpm", "rpm").is_ok() {
            problems.push(err.message);
            missing.push("rpm");
        }
    }
    let privilege = if crate::access::effective_uid() == Some(0) { Privilege::Root } else { Privilege::UserNamespace };
    if missing.is_empty() {
        if let Err(why) = probe_overlay(work_dir, privilege) {
            problems.push(why);
        }
        if let Err(why) = probe_bwrap() {
            problems.push(why);
        }
    }
    if problems.is_empty() {
        return Ok(privilege);
    }
    missing.sort();
    missing.dedup();
    let mut help = String::new();
    if !missing.is_empty() {
        help.push_str(&format!("install the tools: apt-get install -y {}\n", missing.join(" ")));
    }
    if privilege == Privilege::UserNamespace {
        help.push_str(
            "run as root (CI does): in a user namespace the kernel cannot copy up /usr's root-owned directories\n",
        );
    }
    help.push_str("or use --backend mock on a host with Fedora's mock");
    // A missing tool is exit 3; a host that cannot make the namespaces or the overlay is
    // exit 2 (the host's configuration, not the packages, is at fault).
    let kind = if missing.is_empty() { Kind::Usage } else { Kind::MissingTool };
    let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
    Err(Error::new(kind, format!("the sandbox backend cannot run here:{list}")).with_help(help))
}

/// Mounts an overlay of `/usr` in a scratch run under `work_dir`, exactly as a run does.
fn probe_overlay(work_dir: &Utf8Path, privilege: Privilege) -> std::result::Result<(), String> {
    root::check_path(work_dir).map_err(|e| e.message)?;
    // The directories the probe creates on the way go again (a dry run leaves nothing).
    let created: Vec<&Utf8Path> = work_dir.ancestors().take_while(|d| !d.exists()).collect();
    let result = probe_overlay_in(work_dir, privilege);
    for dir in created {
        let _ = std::fs::remove_dir(dir);
    }
    result
}

fn probe_overlay_in(work_dir: &Utf8Path, privilege: Privilege) -> std::result::Result<(), String> {
    let dir = work_dir.join(format!(
        "probe-{}-{}",
        std::process::id(),
        root::RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let root = Root::new(&dir).map_err(|e| e.message)?;
    let result = (|| {
        root.create().map_err(|e| e.message)?;
        // Writing into an existing directory of the lower /usr makes the kernel copy it up,
        // which is what installing a package does (and what an unprivileged user namespace
        // cannot do with root-owned directories).
        let probe_file = root.tree.join("usr/bin/.trainyard-probe");
        let argv = root.wrap(privilege, vec!["touch".into(), probe_file.to_string()]);
        let sh = shell().map_err(|e| e.message)?;
        let (ok, _, err) =
            exec::output(command(&sh, &argv).env("TRAINYARD_OVERLAY_OPTS", Root::overlay_opts(privilege)))
                .map_err(|e| e.message)?;
        if ok {
            return Ok(());
        }
        let how = match privilege {
            Privilege::Root => "a private mount namespace (as root)",
            Privilege::UserNamespace => "an unprivileged user namespace (not root)",
        };
        Err(format!("cannot write through an overlay of /usr under {work_dir} in {how}: {}", err.trim()))
    })();
    let _ = root.remove();
    result
}

/// Both sandboxes: the install's (its namespaces and capabilities) and the smoke commands'.
fn probe_bwrap() -> std::result::Result<(), String> {
    let sh = shell().map_err(|e| e.message)?;
    let smoke: Vec<String> = ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"].map(String::from).to_vec();
    for argv in [confine::probe(), smoke] {
        let (ok, _, err) = exec::output(command(&sh, &argv)).map_err(|e| e.message)?;
        if !ok {
            return Err(format!("bubblewrap cannot create its namespaces here: {}", err.trim()));
        }
    }
    Ok(())
}
