//! Bounded waits. Every lock trainyard waits for and every process it waits on that could
//! hang (a network call, dnf and the scriptlets it runs) has a total time limit; past it, the
//! wait ends with a message naming what was waited for, for how long, and the variable that
//! gives it longer.
//!
//! | variable | waits it bounds | default |
//! |---|---|---|
//! | `TRAINYARD_LOCK_TIMEOUT` | the lock of an `--out` directory, of the target directory's build, of an internal project's checkout, of a channel repository | 3600 s |
//! | `TRAINYARD_NETWORK_TIMEOUT` | each git fetch and ls-remote, `cargo vendor`, `cargo update` and cargo's online resolutions, `cargo info`, `skopeo copy`, each ssh command and rsync transfer of a remote repository | 600 s |
//! | `TRAINYARD_SANDBOX_TIMEOUT` | each command in the install sandbox (`rpm -i`, `dnf install` with its scriptlets, `rpm -V`) | 1800 s |
//! | `TRAINYARD_WEBHOOK_TIMEOUT` | the notification ([`crate::release::notify`]) | 30 s |
//!
//! Locks are file locks (`flock`): the kernel releases one when its holder exits, however it
//! ends, so a lock that is still held after the limit belongs to a live process.

use std::fs::File;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8Path;

use crate::error::{io, Error, Result};

/// A limit read from the environment: `var` seconds, `default` when unset.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub var: &'static str,
    pub default: Duration,
}

pub const LOCK: Limit = Limit { var: "TRAINYARD_LOCK_TIMEOUT", default: Duration::from_secs(3600) };
pub const NETWORK: Limit = Limit { var: "TRAINYARD_NETWORK_TIMEOUT", default: Duration::from_secs(600) };
pub const SANDBOX: Limit = Limit { var: "TRAINYARD_SANDBOX_TIMEOUT", default: Duration::from_secs(1800) };

impl Limit {
    /// The limit now in force; a value that is not a whole number of seconds above 0 is bad input.
    pub fn get(&self) -> Result<Duration> {
        match std::env::var(self.var) {
            Err(_) => Ok(self.default),
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
                _ => Err(Error::usage(format!(
                    "{}={:?} is not a whole number of seconds above 0",
                    self.var,
                    crate::error::printable(&v)
                ))
                .with_help(format!(
                    "set it to a number of seconds, e.g. {}=120, or unset it for {}",
                    self.var,
                    self.default.as_secs()
                ))),
            },
        }
    }

    /// The `help:` line of a wait that reached this limit.
    pub fn raise(&self, limit: Duration) -> String {
        format!("{}=SECONDS gives it longer (now {})", self.var, seconds(limit))
    }
}

/// Takes the file lock of `file` (at `path`): at once when it is free; else prints
/// `waiting` once and waits for it at most [`LOCK`]'s limit. `what` names the lock in the
/// failure ("the lock of the output directory target/rpms/prod").
pub fn lock(file: &File, path: &Utf8Path, what: &str, waiting: impl FnOnce()) -> Result<()> {
    // Read first: a bad value is refused whether or not this run has to wait.
    let limit = LOCK.get()?;
    lock_for(file, path, what, limit, waiting)
}

fn lock_for(file: &File, path: &Utf8Path, what: &str, limit: Duration, waiting: impl FnOnce()) -> Result<()> {
    let started = Instant::now();
    let mut waiting = Some(waiting);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < limit => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::failed(format!(
                    "gave up waiting for {what} after {}: another process still holds {path}",
                    seconds(limit)
                ))
                .with_help(format!(
                    "let the other run finish, or stop it (the lock goes with the process that holds it); {}",
                    LOCK.raise(limit)
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(path)(e)),
        }
        if let Some(say) = waiting.take() {
            say();
        }
        std::thread::sleep(Duration::from_millis(100).min(limit.saturating_sub(started.elapsed())));
    }
}

/// `3600 s`, `0.2 s`.
pub fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// How often [`run`] counts a command's processes.
const COUNT_EVERY: Duration = Duration::from_millis(200);

/// Why a bounded process was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It ran past its limit.
    Time(Duration),
    /// It and its descendants were more than this many processes at once.
    Processes(usize),
}

/// How a bounded process ended, with everything it printed.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was stopped.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub stopped: Option<Stopped>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// Runs `cmd` (its standard input empty, its output captured) for at most `limit`, and with
/// `max_processes`, stops it as soon as it and its descendants are more processes than that.
/// A stopped command is SIGKILLed with every process it started. It stays in trainyard's
/// process group: a CI timeout that kills the group kills it too.
pub fn run(cmd: Command, limit: Duration, max_processes: Option<usize>) -> Result<Finished> {
    run_io(cmd, limit, max_processes, false)
}

/// [`run`]; with `show_stderr`, the command's standard error goes to trainyard's (cargo's
/// progress), and [`Finished::stderr`] is empty.
pub fn run_io(mut cmd: Command, limit: Duration, max_processes: Option<usize>, show_stderr: bool) -> Result<Finished> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if show_stderr { Stdio::inherit() } else { Stdio::piped() })
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::failed(format!("`{program}` was not found on PATH"))
            } else {
                Error::failed(format!("could not run {program}: {e}"))
            }
        })?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = child.stderr.take().map(|pipe| drain(Box::new(pipe)));
    let started = Instant::now();
    let mut last_count = started.checked_sub(COUNT_EVERY).unwrap_or(started);
    let pid = child.id();
    let (status, stopped) = loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::failed(format!("waiting for {program}: {e}")))? {
            break (Some(status), None);
        }
        let over = if started.elapsed() >= limit {
            Some(Stopped::Time(limit))
        } else if let Some(max) = max_processes.filter(|_| last_count.elapsed() >= COUNT_EVERY) {
            // Reading /proc costs milliseconds: a few times a second is enough to stop a fork
            // bomb thousands of processes short of the host's limit.
            last_count = Instant::now();
            (descendants(pid).len() + 1 > max).then_some(Stopped::Processes(max))
        } else {
            None
        };
        if let Some(why) = over {
            kill_tree(pid);
            let _ = child.kill();
            let _ = child.wait();
            break (None, Some(why));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
    Ok(Finished { status, stdout: stdout.join().unwrap_or_default(), stderr, stopped })
}

/// Runs a command that talks to the network for at most [`NETWORK`]'s limit; `what` names
/// it in the failure ("cargo vendor", "rsync to host:dir").
pub fn network(cmd: Command, what: &str) -> Result<Finished> {
    network_io(cmd, what, false)
}

/// [`network`], with [`run_io`]'s `show_stderr`.
pub fn network_io(cmd: Command, what: &str, show_stderr: bool) -> Result<Finished> {
    let limit = NETWORK.get()?;
    let out = run_io(cmd, limit, None, show_stderr)?;
    if out.stopped.is_some() {
        return Err(Error::failed(format!("{what} did not finish in {}", seconds(limit)))
            .with_help(format!("check that the network and the server are reachable; {}", NETWORK.raise(limit))));
    }
    Ok(out)
}

/// SIGKILL to `pid` and every process below it. Each is stopped (SIGSTOP) first, the tree
/// read again until it holds no new process, so that none forks a replacement meanwhile and
/// none is reparented out of sight. (A sandbox's processes die with its namespace's first
/// process anyway.)
fn kill_tree(pid: u32) {
    let signal = |signal: &str, pids: &[u32]| {
        if !pids.is_empty() {
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            let _ = Command::new("kill").arg(signal).arg("--").args(&pids).stderr(Stdio::null()).status();
        }
    };
    let mut all = vec![pid];
    signal("-STOP", &all);
    for _ in 0..100 {
        let new: Vec<u32> = descendants(pid).into_iter().filter(|p| !all.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        signal("-STOP", &new);
        all.extend(new);
    }
    signal("-KILL", &all);
}

/// Every live descendant of `pid`, read from `/proc`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut parent_of = Vec::new();
    for entry in entries.flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        // `pid (comm) state ppid ...`: the command may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        if state.starts_with('Z') || state.starts_with('X') {
            continue;
        }
        if let Some(ppid) = fields.next().and_then(|f| f.parse::<u32>().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    found.remove(0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_past_its_limit_is_killed_with_what_it_started() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; echo never"]);
        let started = Instant::now();
        let done = run(cmd, Duration::from_millis(300), None).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        assert_eq!(done.stopped, Some(Stopped::Time(Duration::from_millis(300))));
        assert!(done.status.is_none() && !done.stdout.contains("never"));
    }

    #[test]
    fn too_many_processes_stop_the_command() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 20 & done; wait"]);
        let done = run(cmd, Duration::from_secs(20), Some(5)).unwrap();
        assert_eq!(done.stopped, Some(Stopped::Processes(5)));
    }

    #[test]
    fn a_command_within_its_bounds_ends_as_it_ends() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = run(cmd, Duration::from_secs(20), Some(50)).unwrap();
        assert_eq!((done.status.and_then(|s| s.code()), done.stopped), (Some(3), None));
        assert_eq!((done.stdout.as_str(), done.stderr.as_str()), ("out\n", "err\n"));
    }

    #[test]
    fn a_lock_held_past_the_limit_fails_naming_it_and_the_variable() {
        let dir = std::env::temp_dir().join(format!("trainyard-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(dir.join("x.lock")).unwrap();
        let holder = File::create(&path).unwrap();
        holder.lock().unwrap();
        let other = File::open(&path).unwrap();
        let mut said = false;
        // The default limit is an hour: the variable is not read in this process's other tests.
        assert!(LOCK.get().is_ok());
        let err = lock_for(&other, &path, "the test's lock", Duration::from_millis(200), || said = true).unwrap_err();
        assert!(said);
        assert!(err.message.contains("gave up waiting for the test's lock after 0.2 s"), "{}", err.message);
        assert!(err.help.unwrap().contains("TRAINYARD_LOCK_TIMEOUT=SECONDS"));
        drop(holder);
        lock_for(&other, &path, "the test's lock", Duration::from_millis(200), || {}).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
