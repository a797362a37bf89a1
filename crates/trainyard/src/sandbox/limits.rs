//! What each command in the sandbox may use: time, processes, memory.

use std::time::Duration;

use crate::error::{Error, Result};

/// What each command run in the sandbox (`rpm -i`, `dnf install` with every scriptlet it runs,
/// `rpm -V`, a smoke command) may use, so that a runaway scriptlet fails the run with a message
/// instead of taking the host down. The kernel's per-user process limit (RLIMIT_NPROC) does
/// not apply to root, whom rpm runs as, so trainyard counts the processes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of each command ([`crate::bounded::SANDBOX`]): a scriptlet that waits
    /// forever is stopped.
    pub time: Duration,
    /// Processes at once, the command and everything it started: past it (a fork bomb) the
    /// whole sandbox is killed.
    pub processes: usize,
    /// Memory each process may allocate (RLIMIT_DATA, set with util-linux's `prlimit`; the
    /// sandbox has no CAP_SYS_RESOURCE to raise it): past it allocations fail.
    pub memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { time: crate::bounded::SANDBOX.default, processes: 1024, memory_mib: 4096 }
    }
}

impl Limits {
    pub const PROCESSES_VAR: &'static str = "TRAINYARD_SANDBOX_MAX_PROCESSES";
    pub const MEMORY_VAR: &'static str = "TRAINYARD_SANDBOX_MAX_MEMORY";

    /// The defaults, with `TRAINYARD_SANDBOX_TIMEOUT`, `..._MAX_PROCESSES` and `..._MAX_MEMORY` (MiB).
    pub fn from_env() -> Result<Limits> {
        let number = |var: &str, default: u64| -> Result<u64> {
            match std::env::var(var) {
                Err(_) => Ok(default),
                Ok(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(Error::usage(format!(
                        "{var}={:?} is not a whole number above 0",
                        crate::error::printable(&v)
                    ))
                    .with_help(format!("unset it for {default}, or give a number such as {var}={}", default * 2))),
                },
            }
        };
        let default = Limits::default();
        Ok(Limits {
            time: crate::bounded::SANDBOX.get()?,
            processes: number(Self::PROCESSES_VAR, default.processes as u64)? as usize,
            memory_mib: number(Self::MEMORY_VAR, default.memory_mib)?,
        })
    }

    /// `prlimit` and its options: what runs every command of the sandbox.
    pub(super) fn prlimit(&self) -> Vec<String> {
        let bytes = self.memory_mib.saturating_mul(1024 * 1024);
        vec!["prlimit".into(), format!("--data={bytes}"), "--core=0".into(), "--".into()]
    }
}
