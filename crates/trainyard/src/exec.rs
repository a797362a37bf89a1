//! The one place where trainyard changes things: [`Effects::execute`] runs a [`Plan`] (see
//! [`crate::plan`]), and the older single-step calls ([`Effects::run`], [`Effects::write`]) go
//! through the same printing and recording. Dry-run is honoured here and nowhere else.
//!
//! Read-only commands (`git rev-parse`, `cargo metadata`) go through [`read`],
//! which always runs them: a dry-run plan needs their answers. A plan computed by a tool that
//! writes (a resolution is what `cargo update` leaves in its lock file) runs it through
//! [`compute`], in a temporary directory of the run ([`crate::scratch`]): never the user's files,
//! never `target/`.

use camino::Utf8Path;
use std::io::Write;
use xshell::Cmd;

use crate::error::{io, Error, Result};
use crate::plan::{self, Action, Plan};

/// How mutating steps are carried out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Effects {
    pub dry_run: bool,
    pub quiet: bool,
}

impl Effects {
    pub fn new(dry_run: bool) -> Effects {
        Effects { dry_run, quiet: false }
    }

    /// Prints a plan line: what is about to happen (or would happen, in dry-run).
    pub fn say(&self, line: impl std::fmt::Display) {
        let line = shown(line);
        if self.dry_run {
            println!("would: {line}");
        } else if !self.quiet {
            eprintln!("trainyard: {line}");
        }
    }

    /// A phase of a run that does what its plan says (`building portal for prod`): a run starts
    /// it (its line on stderr, its time in the summary). A dry-run does nothing, so it never says
    /// it is doing it: it prints `plan: WHAT` (`plan: build portal for prod`) above the plan.
    pub fn phase(&self, running: impl Into<String>, what: impl std::fmt::Display) -> crate::ui::Phase {
        if self.dry_run {
            self.note(format_args!("plan: {what}"));
            crate::ui::Phase::events_only(running)
        } else {
            crate::ui::Phase::start(running)
        }
    }

    /// The result line of a run (`built portal for dev`): on stderr after a real run, even
    /// under `-q` (cargo's `-q` keeps what the command produced); a dry-run says nothing more.
    pub fn result(&self, line: impl std::fmt::Display) {
        if !self.dry_run {
            eprintln!("trainyard: {}", shown(line));
        }
    }

    /// Tells what an executed plan did (`wrote .github/workflows/trainyard.yml`): on stderr after
    /// a real run, unless quiet; a dry-run printed the plan instead and says nothing more.
    pub fn done(&self, line: impl std::fmt::Display) {
        if !self.dry_run && !self.quiet {
            eprintln!("trainyard: {}", shown(line));
        }
    }

    /// A part of a target planned at run time from what the parts before it produced (an image
    /// from the RPMs a build wrote): the dry-run prints `would later: WHAT` and stops there; a
    /// run executes [`Action::Later`] (recorded like any action), then `part`, which plans that
    /// part and executes it here.
    pub fn later(&self, what: impl Into<String>, part: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut plan = Plan::new();
        plan.later(what);
        self.execute_then(&plan, part).map(|_| ())
    }

    /// Runs a plan: in dry-run prints it (`would ...`, one line per action), otherwise carries
    /// out its actions in order, stopping at the first that fails.
    pub fn execute(&self, plan: &Plan) -> Result<()> {
        if self.dry_run {
            print!("{}", plan.dry_run_text());
            return Ok(());
        }
        plan.actions.iter().try_for_each(|action| self.apply(action))
    }

    /// Runs a plan whose first [`Action::Later`] stands for a part planned at run time: in
    /// dry-run prints the plan (its `later:` line says what is decided then) and returns `None`;
    /// otherwise executes the actions before the `Later`, then `later` (which plans that part
    /// from what they produced and executes it here), then the actions after it.
    pub fn execute_then<T>(&self, plan: &Plan, later: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
        if self.dry_run {
            print!("{}", plan.dry_run_text());
            return Ok(None);
        }
        let at = plan.actions.iter().position(|a| matches!(a, Action::Later(_))).unwrap_or(plan.actions.len());
        plan.actions[..at].iter().try_for_each(|a| self.apply(a))?;
        if let Some(marker) = plan.actions.get(at) {
            self.apply(marker)?;
        }
        let value = later()?;
        plan.actions.iter().skip(at + 1).try_for_each(|a| self.apply(a))?;
        Ok(Some(value))
    }

    /// Carries out one action (dry-run: prints it).
    pub fn apply(&self, action: &Action) -> Result<()> {
        if !self.begin(action, crate::ui::show_commands()) {
            return Ok(());
        }
        plan::apply(action)
    }

    /// The one prologue of every action: a dry-run prints its plan line and returns false (the
    /// action is not carried out); a run shows a command as `$ COMMAND` when `echo`, records
    /// the action's line and returns true.
    fn begin(&self, action: &Action, echo: bool) -> bool {
        if self.dry_run {
            println!("would {action}");
            return false;
        }
        if let (true, Action::Run(cmd)) = (echo, action) {
            eprintln!("$ {cmd}");
        }
        plan::record(&action.to_string());
        true
    }

    /// Takes what a run that changes things holds to its end (a lock that makes a second run
    /// wait); a dry-run changes nothing and takes nothing. Bind the value to a named variable
    /// (`let _guard`): `let _ =` would let the lock go at once.
    #[must_use = "the lock is let go when this value is dropped: bind it to `_guard`"]
    pub fn hold<T>(&self, take: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
        if self.dry_run {
            return Ok(None);
        }
        take().map(Some)
    }

    /// The effects of a preparation the plan is made from (a checkout fetched into trainyard's
    /// checkout cache): carried out in a dry-run too, never on the user's files.
    pub fn preparing(&self) -> Effects {
        Effects { dry_run: false, quiet: self.quiet }
    }

    /// In a dry-run, says what the plan was made from (`planning from: ...`); silent otherwise.
    pub fn planned_from(&self, line: impl std::fmt::Display) {
        self.note(format_args!("planning from: {line}"));
    }

    /// A line of the plan's text that is not an action (what the plan leaves out, a value known
    /// only at run time): printed by a dry-run, on stdout; a run prints nothing.
    pub fn note(&self, line: impl std::fmt::Display) {
        if self.dry_run {
            println!("{}", shown(line));
        }
    }

    /// A line of what a run did that is the command's output (`backported 2 commits to main`):
    /// on stdout after a real run; a dry-run printed the plan instead and says nothing more.
    pub fn outcome(&self, line: impl std::fmt::Display) {
        if !self.dry_run {
            println!("{}", shown(line));
        }
    }

    /// A plan made before the actions that come first have run, naming what they produce (a
    /// commit not made yet): a dry-run keeps it as planned (and prints it as such); a run plans
    /// it `again` from what those actions made, so it acts on the real values.
    pub fn planned_again<P>(&self, planned: P, again: impl FnOnce() -> Result<P>) -> Result<P> {
        if self.dry_run {
            return Ok(planned);
        }
        again()
    }

    /// Runs a planned command that changes something for good (a crate published to a
    /// registry), printing it whatever the verbosity; a dry-run prints its plan line instead.
    pub fn announce_command(&self, cmd: &plan::Command) -> Result<()> {
        let action = Action::Run(cmd.clone());
        if !self.begin(&action, true) {
            return Ok(());
        }
        plan::apply(&action)
    }

    /// Runs a command whose exit code is the result (a test suite's, passed through): prints it
    /// in dry-run (and returns 0), otherwise records it, runs it with the terminal's streams and
    /// returns its exit code (1 when killed by a signal).
    pub fn run_status(&self, cmd: &plan::Command) -> Result<i32> {
        if !self.begin(&Action::Run(cmd.clone()), crate::ui::show_commands()) {
            return Ok(0);
        }
        let status = cmd.to_std().status().map_err(|e| plan::spawn_error(cmd, e))?;
        Ok(status.code().unwrap_or(1))
    }

    /// Runs a planned command that changes something and returns its trimmed stdout, from which
    /// the next part is planned (`cargo vendor` prints the configuration of what it vendored).
    /// Recorded as the `run:` action it is; a dry-run prints it and returns `None`.
    pub fn apply_read(&self, cmd: &plan::Command) -> Result<Option<String>> {
        if !self.begin(&Action::Run(cmd.clone()), crate::ui::show_commands()) {
            return Ok(None);
        }
        stdout_of(cmd, read_command_output(cmd)?).map(Some)
    }

    /// Runs a command that changes something. In dry-run, prints it instead.
    pub fn run(&self, cmd: Cmd<'_>) -> Result<()> {
        let line = crate::redact::text(&cmd.to_string());
        if self.dry_run {
            println!("would run: {line}");
            return Ok(());
        }
        if crate::ui::show_commands() {
            eprintln!("$ {line}");
        }
        plan::record(&format!("run: {line}"));
        cmd.quiet().run().map_err(command_error)
    }

    /// Runs a command that changes something and returns its stdout.
    /// In dry-run, prints it and returns `None`.
    pub fn run_read(&self, cmd: Cmd<'_>) -> Result<Option<String>> {
        let line = crate::redact::text(&cmd.to_string());
        if self.dry_run {
            println!("would run: {line}");
            return Ok(None);
        }
        if crate::ui::show_commands() {
            eprintln!("$ {line}");
        }
        plan::record(&format!("run: {line}"));
        cmd.quiet().read().map(Some).map_err(command_error)
    }

    /// Writes a file atomically (temp file, fsync, rename). In dry-run, prints the path.
    pub fn write(&self, path: &Utf8Path, contents: &[u8]) -> Result<()> {
        if self.dry_run {
            println!("would write: {path} ({} bytes)", contents.len());
            return Ok(());
        }
        plan::record(&format!("write: {path} ({} bytes)", contents.len()));
        write_atomic(path, contents)
    }

    /// Creates a directory (and parents). In dry-run, prints it.
    pub fn create_dir(&self, path: &Utf8Path) -> Result<()> {
        if self.dry_run {
            if !path.exists() {
                println!("would create: {path}/");
            }
            return Ok(());
        }
        if !path.exists() {
            plan::record(&format!("create: {path}/"));
        }
        std::fs::create_dir_all(path).map_err(io(path))
    }
}

/// A line as the user sees it: secrets redacted, control characters made printable.
fn shown(line: impl std::fmt::Display) -> String {
    crate::error::printable(&crate::redact::text(&line.to_string()))
}

/// A shell for the xshell commands that remain (`cmd!`), in the process's directory.
pub fn shell() -> Result<xshell::Shell> {
    xshell::Shell::new().map_err(command_error)
}

/// Runs a command that changes nothing and returns its trimmed stdout.
pub fn read(cmd: Cmd<'_>) -> Result<String> {
    cmd.quiet().read().map_err(command_error)
}

/// Runs a read-only command given as a [`plan::Command`] and returns its trimmed stdout.
pub fn read_command(cmd: &plan::Command) -> Result<String> {
    stdout_of(cmd, read_command_output(cmd)?)
}

/// Runs a command of a plan phase whose only writes land in a temporary directory of this run
/// (a resolution the plan is made from), in dry-run too; returns its trimmed stdout. It is a
/// computation, not a change: never a plan line, never recorded. The dry-run shows it as
/// `planning with: COMMAND`, and `-v` as `$ COMMAND`.
pub fn compute(fx: &Effects, cmd: &plan::Command) -> Result<String> {
    stdout_of(cmd, compute_output(fx, cmd)?)
}

/// The trimmed stdout of a command that succeeded, else its failure with what it printed.
fn stdout_of(cmd: &plan::Command, (ok, out, err): (bool, String, String)) -> Result<String> {
    if ok {
        Ok(out.trim_end().to_string())
    } else {
        Err(Error::failed(format!("command `{cmd}` failed:\n{}", err.trim_end())))
    }
}

/// Like [`compute`], without failing on the status: (success, stdout, stderr).
pub fn compute_output(fx: &Effects, cmd: &plan::Command) -> Result<(bool, String, String)> {
    if fx.dry_run {
        println!("planning with: {cmd}");
    } else if crate::ui::show_commands() {
        eprintln!("$ {cmd}");
    }
    read_command_output(cmd)
}

/// Runs a read-only command given as a [`plan::Command`] to its end (its time bounded when it is
/// a network one; it reads nothing) and returns (success, stdout, stderr) without failing on
/// its status.
pub fn read_command_output(cmd: &plan::Command) -> Result<(bool, String, String)> {
    if let Some(what) = &cmd.network {
        // Bounded in total time (TRAINYARD_NETWORK_TIMEOUT), with a message naming it.
        let out = crate::bounded::network(cmd.to_std(), what)?;
        return Ok((out.success(), out.stdout, out.stderr));
    }
    let out = cmd.to_std().stdin(std::process::Stdio::null()).output().map_err(|e| plan::spawn_error(cmd, e))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Runs a read-only command and returns (success, stdout, stderr) without failing on status.
pub fn output(cmd: Cmd<'_>) -> Result<(bool, String, String)> {
    let out = cmd.quiet().ignore_status().output().map_err(command_error)?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

pub fn command_error(err: xshell::Error) -> Error {
    Error::failed(crate::redact::text(&err.to_string()))
}

/// Writes `contents` to `path` so that readers see the old file or the new one, never half.
pub fn write_atomic(path: &Utf8Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}

/// Finds an external tool, or says which Debian package provides it.
pub fn tool(name: &str, debian_package: &str) -> Result<std::path::PathBuf> {
    which::which(name).map_err(|_| Error::missing_tool(name, debian_package))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_carries_out_nothing_and_takes_nothing() {
        let dir = std::env::temp_dir().join(format!("trainyard-exec-{}", std::process::id()));
        let dir = camino::Utf8PathBuf::from_path_buf(dir).unwrap();
        let file = dir.join("f.txt");
        let write = Action::Write { path: file.clone(), contents: b"x".to_vec() };
        // `false` would fail if it ran: a dry-run only prints each of these.
        let fails = plan::Command::program("false");
        let dry = Effects::new(true);
        dry.apply(&write).unwrap();
        assert_eq!(dry.run_status(&fails).unwrap(), 0);
        assert_eq!(dry.apply_read(&fails).unwrap(), None);
        dry.announce_command(&fails).unwrap();
        let held = dry.hold(|| -> Result<()> { panic!("a dry-run took a lock") }).unwrap();
        assert!(held.is_none());
        assert!(!dir.exists(), "a dry-run wrote {dir}");

        let run = Effects::new(false);
        run.apply(&write).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
        assert_eq!(run.run_status(&fails).unwrap(), 1);
        assert!(run.apply_read(&fails).is_err());
        assert!(run.announce_command(&fails).is_err());
        assert_eq!(run.hold(|| Ok(7)).unwrap(), Some(7));
        // A program that is not there: the error says so, with its io error as the cause.
        let absent = plan::Command::program("trainyard-no-such-program");
        for err in [run.run_status(&absent).unwrap_err(), run.apply_read(&absent).unwrap_err()] {
            assert!(err.message.starts_with("could not run `trainyard-no-such-program`"), "{}", err.message);
            assert!(err.help.as_deref().is_some_and(|h| h.contains("installed and on PATH")), "{err:?}");
            assert!(std::error::Error::source(&err).is_some(), "the io error is lost: {err:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
