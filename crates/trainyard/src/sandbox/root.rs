//! The throw-away root: a directory under the work dir whose `/usr` is an overlay with the
//! host's `/usr` as its read-only lower layer, mounted only inside a private mount
//! namespace that lives as long as one command.
//!
//! Why one namespace per command: the kernel tears a mount namespace down when its last
//! process exits, so no mount can outlive the command, whatever happens to trainyard (a
//! panic, SIGKILL). The overlay's upper layer is a plain directory, so what one command
//! installs is there for the next one to see when the overlay is mounted again.
//!
//! This namespace only mounts the overlay; the command it runs is bubblewrap, which enters
//! the root itself ([`super::confine`]).

use std::sync::atomic::AtomicUsize;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io, Error, Result};

/// How the namespace is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Running as root: a mount namespace is enough.
    Root,
    /// Not root: an unprivileged user namespace maps us to root inside it.
    UserNamespace,
}

/// The fixed program that mounts the overlays inside the new namespace, then execs the
/// command. Every value reaches it as a positional argument, never as part of the script text.
const NAMESPACE_SCRIPT: &str = r#"while :; do
  case "$1" in
    overlay) mount -t overlay -o "lowerdir=$2,upperdir=$3,workdir=$4$TRAINYARD_OVERLAY_OPTS" trainyard "$5" || exit 125; shift 5 ;;
    --) shift; exec "$@" ;;
    *) echo "trainyard: unknown namespace step: $1" >&2; exit 125 ;;
  esac
done"#;

/// Numbers the run and probe directories of this process (`run-PID-N`, `probe-PID-N`).
pub(super) static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Exit status of the namespace script when a mount failed (before the command ran).
pub const MOUNT_FAILED: i32 = 125;

/// One host directory seen through an overlay in the root.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The host directory (`/usr`).
    pub lower: Utf8PathBuf,
    pub upper: Utf8PathBuf,
    pub work: Utf8PathBuf,
    /// Where it appears: `<root>/usr`.
    pub target: Utf8PathBuf,
}

/// Paths of one run.
#[derive(Debug, Clone)]
pub struct Root {
    /// Everything of this run: repo, base package, root, overlay layers.
    pub run_dir: Utf8PathBuf,
    /// The installroot dnf and rpm see.
    pub tree: Utf8PathBuf,
    pub layers: Vec<Layer>,
    /// HOME for rpm and dnf: our `.rpmmacros` pins the rpmdb path, whatever the host's says.
    pub home: Utf8PathBuf,
}

impl Root {
    /// Lays out the paths of a run in `run_dir` (creates nothing).
    pub fn new(run_dir: &Utf8Path) -> Result<Root> {
        check_path(run_dir)?;
        let tree = run_dir.join("root");
        let layers = overlaid_host_dirs()
            .into_iter()
            .map(|dir| {
                let name = dir.trim_start_matches('/').replace('/', "-");
                Layer {
                    lower: Utf8PathBuf::from(&dir),
                    upper: run_dir.join("layers").join(&name).join("upper"),
                    work: run_dir.join("layers").join(&name).join("work"),
                    target: tree.join(dir.trim_start_matches('/')),
                }
            })
            .collect();
        Ok(Root { run_dir: run_dir.to_owned(), tree, layers, home: run_dir.join("home") })
    }

    /// Creates the skeleton: mount points, the host's top-level symlinks (`/bin -> usr/bin`
    /// on merged-/usr systems), the directories rpm and scriptlets expect.
    pub fn create(&self) -> Result<()> {
        // Scriptlets run as root and may leave setuid files in the overlay's upper layer: only
        // the owner may reach into the run, on the host, while it lives or is kept.
        std::fs::create_dir_all(&self.run_dir).map_err(io(&self.run_dir))?;
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o700);
            std::fs::set_permissions(&self.run_dir, private).map_err(io(&self.run_dir))?;
        }
        for layer in &self.layers {
            for dir in [&layer.upper, &layer.work, &layer.target] {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
        }
        for dir in ["etc", "var/tmp", "var/lib/rpm", "tmp", "proc", "dev", "run", "root", "opt", "srv"] {
            let path = self.tree.join(dir);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let host = Utf8Path::new("/").join(name);
            if let Ok(target) = std::fs::read_link(&host) {
                let link = self.tree.join(name);
                std::os::unix::fs::symlink(&target, &link).map_err(io(&link))?;
            }
        }
        std::fs::create_dir_all(&self.home).map_err(io(&self.home))?;
        let macros = self.home.join(".rpmmacros");
        std::fs::write(&macros, "%_dbpath /var/lib/rpm\n").map_err(io(&macros))?;
        Ok(())
    }

    /// The argument vector that runs `command` with the root's overlays mounted, in a
    /// private mount namespace of its own (on the host's side: `command` is what enters the root).
    pub fn wrap(&self, privilege: Privilege, command: Vec<String>) -> Vec<String> {
        let mut argv = namespace_prefix(privilege);
        argv.extend(["sh", "-c", NAMESPACE_SCRIPT, "trainyard-namespace"].map(String::from));
        for layer in &self.layers {
            argv.push("overlay".into());
            argv.extend([&layer.lower, &layer.upper, &layer.work, &layer.target].map(|p| p.to_string()));
        }
        argv.push("--".into());
        argv.extend(command);
        argv
    }

    /// Mount options added in a user namespace: overlay keeps its metadata in `user.` xattrs.
    pub fn overlay_opts(privilege: Privilege) -> &'static str {
        match privilege {
            Privilege::Root => "",
            Privilege::UserNamespace => ",userxattr",
        }
    }

    /// Removes everything of the run. Nothing is mounted on the host, so this is plain
    /// file removal; the overlay's work dir is made writable first (the kernel leaves it 000).
    pub fn remove(&self) -> Result<()> {
        for layer in &self.layers {
            let inner = layer.work.join("work");
            if inner.exists() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700));
            }
        }
        match std::fs::remove_dir_all(&self.run_dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&self.run_dir)(e)),
        }
    }
}

pub fn namespace_prefix(privilege: Privilege) -> Vec<String> {
    let args: &[&str] = match privilege {
        Privilege::Root => &["unshare", "--mount", "--propagation", "private", "--"],
        Privilege::UserNamespace => {
            &["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "--"]
        }
    };
    args.iter().map(|s| s.to_string()).collect()
}

/// The host directories the root sees through overlays: `/usr`, plus `/bin`, `/lib`...
/// where they are real directories (hosts without a merged `/usr`).
fn overlaid_host_dirs() -> Vec<String> {
    let mut dirs = vec!["/usr".to_string()];
    for name in ["bin", "sbin", "lib", "lib64"] {
        let path = format!("/{name}");
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            dirs.push(path);
        }
    }
    dirs
}

/// Paths reach overlay mount options and dnf's `--repofrompath` (`,` and `:` separate
/// values there), so they must be absolute and plain.
pub fn check_path(path: &Utf8Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(Error::usage(format!("sandbox work directory `{path}` is not absolute")));
    }
    if let Some(c) = path.as_str().chars().find(|c| matches!(c, ',' | ':' | '\\' | '=') || c.is_whitespace()) {
        return Err(Error::usage(format!(
            "sandbox work directory `{path}` contains {c:?}, which overlay mount options and dnf cannot take"
        ))
        .with_help("build in a directory whose path has no `,`, `:`, `=`, `\\` or spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_a_command_in_a_namespace_with_the_overlay() {
        let root = Root::new(Utf8Path::new("/w/run-1")).unwrap();
        let argv = root.wrap(Privilege::Root, vec!["rpm".into(), "-qa".into()]);
        assert_eq!(&argv[..5], &["unshare", "--mount", "--propagation", "private", "--"]);
        let overlay = argv.iter().position(|a| a == "overlay").unwrap();
        assert_eq!(
            &argv[overlay..overlay + 5],
            &["overlay", "/usr", "/w/run-1/layers/usr/upper", "/w/run-1/layers/usr/work", "/w/run-1/root/usr"]
        );
        assert_eq!(&argv[argv.len() - 3..], &["--", "rpm", "-qa"]);
    }

    #[test]
    fn refuses_paths_overlay_cannot_take() {
        assert!(check_path(Utf8Path::new("/a/b,c")).is_err());
        assert!(check_path(Utf8Path::new("/a/b:c")).is_err());
        assert!(check_path(Utf8Path::new("relative")).is_err());
        assert!(check_path(Utf8Path::new("/a/target/sandbox")).is_ok());
    }
}
