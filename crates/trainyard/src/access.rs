//! What this process may do to the file system, decided from what the kernel reports about
//! it, without trying: a check of the plan phase creates nothing, in a dry-run or not.
//!
//! The answers come from `/proc/self/status` (the effective user and groups) and
//! `/proc/self/mountinfo` (whether a mount is read-only), and the directory's own mode.

use std::os::unix::fs::MetadataExt;

use camino::{Utf8Path, Utf8PathBuf};

/// The effective user id of this process (`None` where `/proc` cannot tell).
pub fn effective_uid() -> Option<u32> {
    Ids::of_self().map(|ids| ids.uid)
}

/// Whether this process could create `path` and the directories missing above it: the nearest
/// existing ancestor must be a directory it may write in, on a mount that is not read-only.
/// `Err` says why not, naming that directory.
pub fn can_create(path: &Utf8Path) -> std::result::Result<(), String> {
    let mut dir = path;
    while std::fs::symlink_metadata(dir).is_err() {
        dir = dir.parent().ok_or_else(|| format!("no existing directory above {path}"))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("{dir} is not a directory"));
    }
    let real = dir.canonicalize_utf8().unwrap_or_else(|_| dir.to_path_buf());
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        if let Some(mount) = mount_of(&mountinfo, &real).filter(|m| m.read_only) {
            return Err(format!("cannot write in {dir}: {} is mounted read-only", mount.point));
        }
    }
    let Some(ids) = Ids::of_self() else { return Ok(()) };
    if ids.may_write(meta.uid(), meta.gid(), meta.mode()) {
        Ok(())
    } else {
        Err(format!(
            "cannot write in {dir}: its mode is {:o}, owned by uid {} gid {}, and this process runs as uid {}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid(),
            ids.uid
        ))
    }
}

/// The effective user and groups of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ids {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

impl Ids {
    fn of_self() -> Option<Ids> {
        Ids::parse(&std::fs::read_to_string("/proc/self/status").ok()?)
    }

    /// From `/proc/PID/status`: `Uid:` and `Gid:` list real, effective, saved and file-system ids.
    fn parse(status: &str) -> Option<Ids> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::split_whitespace);
        let uid = field("Uid:")?.nth(1)?.parse().ok()?;
        let gid = field("Gid:")?.nth(1)?.parse().ok()?;
        let groups = field("Groups:").map(|g| g.filter_map(|g| g.parse().ok()).collect()).unwrap_or_default();
        Some(Ids { uid, gid, groups })
    }

    /// Whether a directory of this owner and mode lets these ids create entries in it (write
    /// and search permission); root may, whatever the mode.
    fn may_write(&self, owner: u32, group: u32, mode: u32) -> bool {
        let bits = if self.uid == 0 {
            return true;
        } else if self.uid == owner {
            mode >> 6
        } else if self.gid == group || self.groups.contains(&group) {
            mode >> 3
        } else {
            mode
        };
        bits & 0o3 == 0o3
    }
}

/// A mount as `/proc/self/mountinfo` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    point: Utf8PathBuf,
    /// The mount's own options or its file system's say `ro`.
    read_only: bool,
}

/// The mount `path` (absolute, symbolic links resolved) is on: the last listed of those whose
/// mount point is `path` or above it, the longest such point (mounts listed later hide earlier
/// ones at the same point).
fn mount_of(mountinfo: &str, path: &Utf8Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else { continue };
        let super_options = fields.iter().position(|f| *f == "-").and_then(|at| fields.get(at + 3));
        let point = Utf8PathBuf::from(unescape(point));
        if !path.starts_with(&point) {
            continue;
        }
        let ro = |opts: &str| opts.split(',').any(|o| o == "ro");
        let mount = Mount { read_only: ro(options) || super_options.is_some_and(|o| ro(o)), point };
        if best.as_ref().is_none_or(|b| mount.point.as_str().len() >= b.point.as_str().len()) {
            best = Some(mount);
        }
    }
    best
}

/// A mountinfo path: space, tab, newline and backslash are written as octal escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /tmp rw,nosuid shared:2 - tmpfs tmpfs rw
41 30 8:1 /srv /tmp/read\\040only ro,relatime shared:1 - ext4 /dev/sda1 rw
42 22 0:40 / /media/disc rw,relatime - iso9660 /dev/sr0 ro
";

    #[test]
    fn finds_the_mount_a_path_is_on_and_whether_it_is_read_only() {
        let on = |p: &str| mount_of(MOUNTINFO, Utf8Path::new(p)).unwrap();
        assert_eq!(on("/home/u").point, "/");
        assert!(!on("/home/u").read_only);
        assert_eq!(on("/tmp/x").point, "/tmp");
        assert!(on("/tmp/read only/out").read_only, "a read-only bind mount, its name escaped");
        assert!(!on("/tmp/read-only").read_only, "a sibling whose name only starts the same");
        assert!(on("/media/disc/a").read_only, "a file system mounted read-only");
    }

    #[test]
    fn reads_the_effective_ids_and_decides_as_the_kernel_does() {
        let status = "Name:\tx\nUid:\t1000\t1001\t1001\t1001\nGid:\t100\t100\t100\t100\nGroups:\t27 100 \n";
        let ids = Ids::parse(status).unwrap();
        assert_eq!(ids, Ids { uid: 1001, gid: 100, groups: vec![27, 100] });
        assert!(ids.may_write(1001, 0, 0o700));
        assert!(!ids.may_write(1001, 0, 0o500), "no write bit for the owner");
        assert!(!ids.may_write(0, 27, 0o757), "the owner's bits do not apply to a group member");
        assert!(ids.may_write(0, 27, 0o770));
        assert!(!ids.may_write(0, 0, 0o775));
        assert!(ids.may_write(0, 0, 0o777));
        assert!(Ids { uid: 0, gid: 0, groups: vec![] }.may_write(5, 5, 0o500), "root");
    }

    #[test]
    fn a_directory_of_this_process_can_be_created_in_and_nothing_is_created() {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("trainyard-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(can_create(&dir.join("a/b/c")), Ok(()));
        assert!(!dir.join("a").exists());
        std::fs::write(dir.join("f"), "").unwrap();
        assert!(can_create(&dir.join("f/x")).unwrap_err().contains("is not a directory"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
