//! Scriptlets for systemd units, written out in full: the machines that install our RPMs do
//! not expand `%systemd_*` macros (those exist only at `rpmbuild` time).
//!
//! What systemd's `macros.systemd` expands to, and what we write:
//! - `%systemd_post UNITS`: on first install (`$1 -eq 1`), `systemctl --no-reload preset UNITS`
//!   (enable or not as the machine's preset policy says; start nothing).
//! - `%systemd_preun UNITS`: on removal, not upgrade (`$1 -eq 0`),
//!   `systemctl --no-reload disable --now UNITS`.
//! - `%systemd_postun_with_restart UNITS`: on upgrade (`$1 -ge 1`), `systemctl try-restart UNITS`
//!   (restart only what was running). Older macro sets also ran `systemctl daemon-reload` here;
//!   newer systemd does it from its own file triggers. We run it in `%postun` (and before the
//!   restart) so that a machine without those triggers still sees the new unit files.
//!
//! Each command is guarded by `[ -x /usr/bin/systemctl ]` (an image build or a container may
//! lack systemd) and ends in `|| :` so a failing systemctl never fails the transaction, as the
//! macros do. Output goes to `/dev/null` with POSIX redirections (`&>` is a bashism and the
//! interpreter is `/bin/sh`).

use super::{FileKind, Package, Scriptlets};
use crate::error::{Error, Result};

/// Directories whose files systemd loads as system units.
pub const UNIT_DIRS: [&str; 3] = ["/usr/lib/systemd/system/", "/lib/systemd/system/", "/etc/systemd/system/"];

/// Suffixes of unit files that preset/disable/try-restart act on.
pub const UNIT_SUFFIXES: [&str; 8] =
    [".service", ".socket", ".timer", ".path", ".target", ".mount", ".automount", ".slice"];

/// True for a unit name systemctl accepts and that is safe to write into a shell script.
pub fn valid_unit_name(name: &str) -> bool {
    UNIT_SUFFIXES.iter().any(|s| name.len() > s.len() && name.ends_with(s))
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c))
}

/// The units of a package: its non-directory files in a systemd unit directory with a unit suffix.
pub fn units_in(pkg: &Package) -> Vec<String> {
    let mut units: Vec<String> = pkg
        .files
        .iter()
        .filter(|f| f.kind != FileKind::Dir)
        .filter_map(|f| {
            let dir = UNIT_DIRS.iter().find(|d| f.dest.starts_with(*d))?;
            let name = &f.dest[dir.len()..];
            (!name.contains('/') && UNIT_SUFFIXES.iter().any(|s| name.ends_with(s))).then(|| name.to_string())
        })
        .collect();
    units.sort();
    units.dedup();
    units
}

/// The scriptlets for `units` (unit names such as `demo.service`).
pub fn scriptlets(units: &[String]) -> Result<Scriptlets> {
    if let Some(bad) = units.iter().find(|u| !valid_unit_name(u)) {
        return Err(Error::usage(format!("`{bad}` is not a systemd unit name")).with_help(format!(
            "a unit name ends in one of {} and uses letters, digits and `:-_.@`",
            UNIT_SUFFIXES.join(" ")
        )));
    }
    if units.is_empty() {
        return Ok(Scriptlets::default());
    }
    let list = units.join(" ");
    Ok(Scriptlets {
        pre: None,
        post: Some(format!(
            "# systemd: first install: enable or not as the preset policy says\n\
             if [ $1 -eq 1 ] && [ -x /usr/bin/systemctl ]; then\n    \
             /usr/bin/systemctl --no-reload preset {list} >/dev/null 2>&1 || :\n\
             fi\n"
        )),
        preun: Some(format!(
            "# systemd: removal, not upgrade: disable and stop\n\
             if [ $1 -eq 0 ] && [ -x /usr/bin/systemctl ]; then\n    \
             /usr/bin/systemctl --no-reload disable --now {list} >/dev/null 2>&1 || :\n\
             fi\n"
        )),
        postun: Some(format!(
            "# systemd: reload unit files; on upgrade, restart what was running\n\
             if [ -x /usr/bin/systemctl ]; then\n    \
             /usr/bin/systemctl daemon-reload >/dev/null 2>&1 || :\n    \
             if [ $1 -ge 1 ]; then\n        \
             /usr/bin/systemctl try-restart {list} >/dev/null 2>&1 || :\n    \
             fi\n\
             fi\n"
        )),
        ..Scriptlets::default()
    })
}

/// Appends the unit scriptlets for the package's unit files (see [`units_in`]) to its scriptlets.
/// Returns the units handled.
pub fn add_unit_scriptlets(pkg: &mut Package) -> Result<Vec<String>> {
    let units = units_in(pkg);
    let s = scriptlets(&units).map_err(|e| e.context(format!("package {}", pkg.name)))?;
    for (slot, text) in [
        (&mut pkg.scriptlets.post, s.post),
        (&mut pkg.scriptlets.preun, s.preun),
        (&mut pkg.scriptlets.postun, s.postun),
    ] {
        if let Some(text) = text {
            Scriptlets::append(slot, &text);
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpmpkg::FileEntry;

    #[test]
    fn finds_units_and_writes_guarded_scripts() {
        let mut pkg = Package { name: "demo".into(), ..Package::default() };
        pkg.files.push(FileEntry::new("a", "/usr/lib/systemd/system/demo.service", 0o644, FileKind::Regular));
        pkg.files.push(FileEntry::new("b", "/usr/lib/systemd/system/demo.timer", 0o644, FileKind::Regular));
        pkg.files.push(FileEntry::new("c", "/usr/lib/systemd/system/demo.service.d/x.conf", 0o644, FileKind::Regular));
        pkg.files.push(FileEntry::new("d", "/usr/bin/demo", 0o755, FileKind::Binary));
        pkg.scriptlets.post = Some("echo mine".into());
        let units = add_unit_scriptlets(&mut pkg).unwrap();
        assert_eq!(units, ["demo.service", "demo.timer"]);
        let post = pkg.scriptlets.post.unwrap();
        assert!(post.starts_with("echo mine\n"), "{post}");
        assert!(post.contains("if [ $1 -eq 1 ] && [ -x /usr/bin/systemctl ]; then"));
        assert!(post.contains("preset demo.service demo.timer >/dev/null 2>&1 || :"));
        assert!(pkg.scriptlets.preun.unwrap().contains("disable --now demo.service demo.timer"));
        let postun = pkg.scriptlets.postun.unwrap();
        assert!(postun.contains("daemon-reload") && postun.contains("try-restart demo.service demo.timer"));
        assert!(!post.contains("&>"));
    }

    #[test]
    fn no_units_no_scripts_and_bad_names_refused() {
        assert_eq!(scriptlets(&[]).unwrap(), Scriptlets::default());
        let err = scriptlets(&["x.service; rm -rf /".to_string()]).unwrap_err();
        assert!(err.message.contains("not a systemd unit name"));
        assert!(valid_unit_name("getty@tty1.service"));
        assert!(!valid_unit_name(".service"));
    }
}
