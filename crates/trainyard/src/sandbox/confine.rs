//! The confinement dnf, rpm and every scriptlet run in: bubblewrap enters the root with
//! `pivot_root` in new PID, network, IPC, UTS, cgroup and mount namespaces, with the
//! capabilities rpm needs and no others, and a supervisor that reports the processes still
//! running when the command is done. They die with it: when the supervisor exits, bwrap's
//! init (PID 1 of the namespace) exits and the kernel kills what is left in the namespace.
//!
//! Why bubblewrap rather than unshare(2) and pivot_root(2) by hand: it is already a tool of
//! this backend (the smoke commands), it does the whole sequence in one exec (pivot_root
//! into the new root, the host's tree unmounted with MNT_DETACH, a fresh /proc with /proc/sys
//! read-only (and here all of /proc), a minimal /dev, loopback up in the empty network namespace, capabilities
//! dropped with the root's regain-on-exec turned off, PID 1 reaping, death with its parent),
//! and doing it ourselves would need `unsafe` system calls in the library or a helper binary
//! for a result no better than bwrap's.
//!
//! The root is `/` inside, so dnf and rpm run with `--installroot /`: a scriptlet that
//! escapes a chroot of its own walks up to that same root, never to the host's. The host's
//! `/usr` is there only as the read-only lower layer of the root's overlay; the run's own
//! files (repository, base package, dnf configuration) are bound read-only under
//! [`CONTROL`], on a tmpfs that goes with the namespace.

use camino::{Utf8Path, Utf8PathBuf};

/// Where the run's files appear inside the sandbox: on the sandbox's own `/tmp` (a tmpfs),
/// so nothing of trainyard lands in the root.
pub const CONTROL: &str = "/tmp/.trainyard";

/// The capabilities kept (bwrap drops every other one, for every process inside).
/// Dropped, among others: CAP_SYS_ADMIN (mount, umount, pivot_root, namespaces), CAP_MKNOD
/// (a device node would reach the host's disks), CAP_SYS_PTRACE, CAP_SYS_MODULE,
/// CAP_SYS_RAWIO, CAP_NET_ADMIN, CAP_NET_RAW, CAP_KILL, CAP_SYS_TIME, CAP_SYS_BOOT.
pub const KEPT_CAPABILITIES: &[(&str, &str)] = &[
    ("CAP_CHOWN", "rpm sets each file's owner; scriptlets chown their directories"),
    ("CAP_DAC_OVERRIDE", "rpm and scriptlets write files whatever their mode, as root does"),
    ("CAP_DAC_READ_SEARCH", "and read them"),
    ("CAP_FOWNER", "rpm sets modes and times on files it does not own yet"),
    ("CAP_FSETID", "setuid and setgid bits survive rpm's chown"),
    ("CAP_SETUID", "scriptlets that run a command as a service user (runuser, su)"),
    ("CAP_SETGID", "the same, for groups"),
    ("CAP_SETFCAP", "packages that ship files with capabilities (%caps)"),
    // With the host's tree unmounted by pivot_root, a chroot gives nothing: the classic
    // escape walks up to the root it started in. Kept, so the test shows exactly that.
    ("CAP_SYS_CHROOT", "scriptlets that chroot (rare); harmless after pivot_root"),
];

/// The namespaces: everything but the user namespace, which would leave rpm unable to
/// chown files to the service users packages create (only one uid is mapped in one).
const NAMESPACES: &[&str] =
    &["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"];

/// A host path shown read-only inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: Utf8PathBuf,
    /// Absolute, under [`CONTROL`].
    pub inside: String,
}

impl Bind {
    pub fn new(host: &Utf8Path, name: &str) -> Bind {
        Bind { host: host.to_owned(), inside: format!("{CONTROL}/{name}") }
    }
}

/// HOME inside: the run's `home` (its `.rpmmacros` pins rpm's database path) is bound here.
pub fn home() -> String {
    format!("{CONTROL}/home")
}

/// bwrap's arguments up to the command: the root `tree` (read-write: it is what is installed
/// into) as `/`, the `binds`, a writable `CONTROL/cache`. `interactive` leaves the terminal's
/// session alone (for the shell `--keep-root` offers); otherwise the command gets a new session,
/// so it cannot push input into the terminal trainyard runs in.
pub fn bwrap(tree: &Utf8Path, binds: &[Bind], interactive: bool) -> Vec<String> {
    let mut argv: Vec<String> = vec!["bwrap".into()];
    argv.extend(NAMESPACES.iter().map(|s| s.to_string()));
    argv.push("--die-with-parent".into());
    if !interactive {
        argv.push("--new-session".into());
    }
    let mut push = |words: &[&str]| argv.extend(words.iter().map(|s| s.to_string()));
    push(&["--bind", tree.as_str(), "/"]);
    // /proc read-only: root needs no capability to write most of /proc/sys, and some of it
    // is the host's (kernel.core_pattern and kernel.modprobe name programs the host's kernel
    // runs as root). bwrap does not cover /proc/sys on every host.
    push(&["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    for bind in binds {
        push(&["--ro-bind", bind.host.as_str(), &bind.inside]);
    }
    push(&["--dir", &format!("{CONTROL}/cache")]);
    push(&["--clearenv"]);
    for (name, value) in [
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("HOME", &home()),
        ("LC_ALL", "C.UTF-8"),
        // dnf is Python: no bytecode written into the root's /usr.
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ] {
        push(&["--setenv", name, value]);
    }
    push(&["--cap-drop", "ALL"]);
    for (cap, _) in KEPT_CAPABILITIES {
        push(&["--cap-add", cap]);
    }
    push(&["--chdir", "/", "--"]);
    argv
}

/// The namespace and capability options alone, for the preflight's probe.
pub fn probe() -> Vec<String> {
    let mut argv: Vec<String> = vec!["bwrap".into()];
    argv.extend(NAMESPACES.iter().map(|s| s.to_string()));
    argv.extend(
        ["--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--cap-drop", "ALL"]
            .map(String::from),
    );
    for (cap, _) in KEPT_CAPABILITIES {
        argv.extend(["--cap-add".to_string(), cap.to_string()]);
    }
    argv.push("true".into());
    argv
}

/// The prefix of the supervisor's report lines.
pub const LEFT_RUNNING: &str = "trainyard-sandbox: left running:";

/// Runs the command, then lists every process of the namespace still alive apart from
/// bwrap's init (PID 1) and itself, as `LEFT_RUNNING PID: COMMAND LINE` on stderr, and exits
/// with the command's status. The glob is expanded before the loop forks anything.
const SUPERVISOR: &str = r#""$@"
status=$?
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  case "$pid" in 1|$$) continue ;; esac
  read -r stat 2>/dev/null <"$dir/stat" || continue
  state=${stat##*) }
  case "$state" in Z*|X*) continue ;; esac
  line=$(tr '\0' ' ' 2>/dev/null <"$dir/cmdline")
  [ -n "$line" ] || line=$stat
  echo "trainyard-sandbox: left running: $pid: $line" >&2
done
exit $status"#;

/// `command` under the supervisor.
pub fn supervised(command: Vec<String>) -> Vec<String> {
    let mut argv: Vec<String> = ["/bin/sh", "-c", SUPERVISOR, "trainyard-supervisor"].map(String::from).to_vec();
    argv.extend(command);
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enters_the_root_in_new_namespaces_with_few_capabilities() {
        let binds = [Bind::new(Utf8Path::new("/w/run-1/repo"), "repo")];
        let argv = bwrap(Utf8Path::new("/w/run-1/root"), &binds, false);
        for ns in ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"] {
            assert!(argv.iter().any(|a| a == ns), "{ns}");
        }
        // No user namespace: rpm must chown to any uid.
        assert!(!argv.iter().any(|a| a.contains("user") || a == "--unshare-all"), "{argv:?}");
        assert!(argv.windows(3).any(|w| w == ["--bind", "/w/run-1/root", "/"]));
        assert!(argv.windows(2).any(|w| w == ["--remount-ro", "/proc"]));
        assert!(argv.windows(3).any(|w| w == ["--ro-bind", "/w/run-1/repo", "/tmp/.trainyard/repo"]));
        let drop = argv.iter().position(|a| a == "--cap-drop").unwrap();
        assert_eq!(argv[drop + 1], "ALL");
        let added: Vec<&String> = argv.windows(2).filter(|w| w[0] == "--cap-add").map(|w| &w[1]).collect();
        assert!(drop < argv.iter().position(|a| a == "--cap-add").unwrap());
        for never in ["CAP_SYS_ADMIN", "CAP_MKNOD", "CAP_SYS_PTRACE", "CAP_NET_ADMIN", "ALL"] {
            assert!(!added.iter().any(|c| *c == never), "{never} kept");
        }
        assert!(argv.iter().any(|a| a == "--new-session"));
        assert!(!bwrap(Utf8Path::new("/r"), &[], true).iter().any(|a| a == "--new-session"));
        assert_eq!(argv.last().unwrap(), "--");
    }

    #[test]
    fn the_supervisor_passes_the_command_as_arguments() {
        let argv = supervised(vec!["dnf".into(), "install".into(), "a b".into()]);
        assert_eq!(&argv[..2], &["/bin/sh", "-c"]);
        assert!(argv[2].contains(LEFT_RUNNING));
        assert_eq!(&argv[3..], &["trainyard-supervisor", "dnf", "install", "a b"]);
    }
}
