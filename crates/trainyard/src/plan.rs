//! Plans: the changes a target will make, computed from its inputs before the first change.
//!
//! Every target is two phases. The plan phase reads (git, `cargo metadata`, files), checks every
//! precondition, and returns a [`Plan`]: a list of typed [`Action`]s. `--dry-run` prints that
//! plan and stops; otherwise [`Effects::execute`](crate::exec::Effects::execute) runs it, and
//! nothing else in trainyard changes anything.
//!
//! Where a later part depends on what an earlier part produced (packages are written from the
//! binaries the build made), the plan ends its known part with [`Action::Later`], saying what is
//! decided at run time; the run plans that part when it gets there and executes it the same way.
//!
//! Each action has one line of text ([`Action`]'s `Display`): the dry-run prints it after
//! `would `, and a test build of trainyard records the line of every action it executes
//! ([`record`]), so the suite checks that the dry-run printed exactly what the run did.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};

use crate::redact;

/// A process trainyard starts to change something (`cargo build`, `git commit`, `createrepo_c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// The working directory; the process's own when `None`.
    pub dir: Option<Utf8PathBuf>,
    /// Variables set for the process, in order.
    pub env: Vec<(String, EnvValue)>,
    /// Variables removed from the process's environment.
    pub env_remove: Vec<String>,
    /// Bytes written to the process's standard input (a URL that must not appear on a
    /// command line); the process reads nothing when `None`.
    pub stdin: Option<Secret>,
    /// A command that talks to the network: its total time is bounded by
    /// `TRAINYARD_NETWORK_TIMEOUT` ([`crate::bounded::NETWORK`]); the text names it in the failure.
    pub network: Option<String>,
}

/// The value of an environment variable; a secret one is never shown.
#[derive(Clone, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    Secret(Secret),
}

impl fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvValue::Plain(v) => write!(f, "{v:?}"),
            EnvValue::Secret(_) => f.write_str(redact::MARK),
        }
    }
}

/// Bytes shown only as `***`, in plans, records and `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(redact::MARK)
    }
}

impl Command {
    /// A command to plan: `program` with no arguments yet. (Not `new`: building one starts
    /// nothing, and `Command::new` in this crate's source then means a process started for real.)
    pub fn program(program: impl Into<String>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            network: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn dir(mut self, dir: impl Into<Utf8PathBuf>) -> Command {
        self.dir = Some(dir.into());
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Command {
        self.env.push((name.into(), EnvValue::Plain(value.into())));
        self
    }

    /// A variable whose value is a secret (a token): shown as `NAME=***`.
    pub fn env_secret(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Command {
        self.env.push((name.into(), EnvValue::Secret(Secret(value.into()))));
        self
    }

    pub fn env_remove(mut self, name: impl Into<String>) -> Command {
        self.env_remove.push(name.into());
        self
    }

    /// Bounds the command's total time by the network limit; `what` names it ("pushing repo:tag").
    pub fn network(mut self, what: impl Into<String>) -> Command {
        self.network = Some(what.into());
        self
    }

    /// Feeds `bytes` to the process's standard input; plans show only their length.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Command {
        self.stdin = Some(Secret(bytes.into()));
        self
    }

    /// The std command this describes, standard streams left to the caller.
    pub fn to_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        for name in &self.env_remove {
            cmd.env_remove(name);
        }
        for (name, value) in &self.env {
            match value {
                EnvValue::Plain(v) => cmd.env(name, v),
                EnvValue::Secret(s) => cmd.env(name, std::ffi::OsStr::from_bytes_lossless(&s.0)),
            };
        }
        cmd
    }
}

/// `OsStr` from bytes without a UTF-8 round trip (Unix).
trait FromBytesLossless {
    fn from_bytes_lossless(bytes: &[u8]) -> &std::ffi::OsStr;
}

impl FromBytesLossless for std::ffi::OsStr {
    fn from_bytes_lossless(bytes: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(bytes)
    }
}

/// A word of a command line as a shell would need it: quoted when it has spaces or quotes.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c)) {
        word.to_string()
    } else if word.chars().any(char::is_control) {
        // ANSI-C quoting, so that a plan line stays one line (a tag message has newlines).
        let mut quoted = String::from("$'");
        for c in word.chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '\'' => quoted.push_str("\\'"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        quoted
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        for name in &self.env_remove {
            words.push(format!("-u {name}"));
        }
        for (name, value) in &self.env {
            match value {
                EnvValue::Plain(v) => words.push(format!("{name}={}", shell_word(v))),
                EnvValue::Secret(_) => words.push(format!("{name}={}", redact::MARK)),
            }
        }
        words.push(shell_word(&self.program));
        words.extend(self.args.iter().map(|a| shell_word(a)));
        let mut line = words.join(" ");
        if let Some(stdin) = &self.stdin {
            line.push_str(&format!(" <({} bytes on stdin)", stdin.0.len()));
        }
        if let Some(dir) = &self.dir {
            line.push_str(&format!(" (in {dir})"));
        }
        f.write_str(&redact::text(&line))
    }
}

/// One change a plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Starts a process that changes something and waits for it to succeed.
    Run(Command),
    /// Writes a whole file atomically (a temporary file, fsync, rename).
    Write { path: Utf8PathBuf, contents: Vec<u8> },
    /// Writes a file that holds a secret (a registry's credentials): readable by this user only
    /// (0600, in a directory made 0700), created so from the start; plans and records show only
    /// its length, never its contents.
    WriteSecret { path: Utf8PathBuf, contents: Secret },
    /// Creates a directory and its parents.
    CreateDir(Utf8PathBuf),
    /// Renames a file or directory (atomic within one file system).
    Rename { from: Utf8PathBuf, to: Utf8PathBuf },
    /// Copies a file.
    Copy { from: Utf8PathBuf, to: Utf8PathBuf },
    /// Makes a symbolic link at `link` pointing to `target`.
    Symlink { target: Utf8PathBuf, link: Utf8PathBuf },
    /// Removes a file or symbolic link; nothing to do when it is absent.
    RemoveFile(Utf8PathBuf),
    /// Removes a directory and everything in it; nothing to do when it is absent.
    RemoveDir(Utf8PathBuf),
    /// Opens the user's editor on a file, on the terminal (the release notes): `editor` is a
    /// command as `$EDITOR` holds it (words for a shell), the file its last argument.
    Edit { editor: String, file: Utf8PathBuf },
    /// Writes a collection of packages into its output directory and switches it in whole
    /// (see [`crate::collection`]).
    Collection(Box<crate::collection::Write>),
    /// Lists files of the source release in a collection (`dist --collection`): a new collection
    /// directory with them linked in, switched in by one rename.
    ListSources(Box<crate::collection::Listing>),
    /// Runs an install test in a fresh root (`mock`'s sandbox backend): one action whose steps
    /// the sandbox session takes itself (see [`crate::sandbox::session`]).
    Sandbox(Box<crate::sandbox::Session>),
    /// A part planned at run time, from what the actions before it produce: says what it does
    /// and what it depends on. Executing it changes nothing; the run then plans that part.
    Later(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = match self {
            Action::Run(cmd) => return write!(f, "run: {cmd}"),
            Action::Write { path, contents } => format!("write: {path} ({} bytes)", contents.len()),
            Action::WriteSecret { path, contents } => {
                format!("write: {path} ({} bytes, secret, mode 0600)", contents.0.len())
            }
            Action::CreateDir(path) => format!("create: {path}/"),
            Action::Rename { from, to } => format!("rename: {from} -> {to}"),
            Action::Copy { from, to } => format!("copy: {from} -> {to}"),
            Action::Symlink { target, link } => format!("link: {link} -> {target}"),
            Action::RemoveFile(path) => format!("remove: {path}"),
            Action::RemoveDir(path) => format!("remove: {path}/"),
            Action::Edit { editor, file } => format!("edit: {file} with `{editor}`"),
            Action::Collection(w) => format!("write collection: {w}"),
            Action::ListSources(l) => format!("list in collection: {l}"),
            Action::Sandbox(s) => format!("sandbox: {s}"),
            Action::Later(what) => format!("later: {what}"),
        };
        f.write_str(&redact::text(&line))
    }
}

/// The changes a target makes, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Action>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    pub fn push(&mut self, action: Action) -> &mut Plan {
        self.actions.push(action);
        self
    }

    pub fn run(&mut self, cmd: Command) -> &mut Plan {
        self.push(Action::Run(cmd))
    }

    pub fn write(&mut self, path: impl Into<Utf8PathBuf>, contents: impl Into<Vec<u8>>) -> &mut Plan {
        self.push(Action::Write { path: path.into(), contents: contents.into() })
    }

    pub fn create_dir(&mut self, path: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::CreateDir(path.into()))
    }

    pub fn rename(&mut self, from: impl Into<Utf8PathBuf>, to: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::Rename { from: from.into(), to: to.into() })
    }

    pub fn copy(&mut self, from: impl Into<Utf8PathBuf>, to: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::Copy { from: from.into(), to: to.into() })
    }

    pub fn symlink(&mut self, target: impl Into<Utf8PathBuf>, link: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::Symlink { target: target.into(), link: link.into() })
    }

    pub fn remove_file(&mut self, path: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::RemoveFile(path.into()))
    }

    pub fn remove_dir(&mut self, path: impl Into<Utf8PathBuf>) -> &mut Plan {
        self.push(Action::RemoveDir(path.into()))
    }

    pub fn later(&mut self, what: impl Into<String>) -> &mut Plan {
        self.push(Action::Later(what.into()))
    }

    pub fn extend(&mut self, other: Plan) -> &mut Plan {
        self.actions.extend(other.actions);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The plan as the dry-run prints it: one `would ...` line per action.
    pub fn dry_run_text(&self) -> String {
        self.actions.iter().map(|a| format!("would {a}\n")).collect()
    }
}

/// Carries out one action (the executor's body; [`crate::exec::Effects::execute`] is its
/// caller, which prints, records and honours `--dry-run`).
pub(crate) fn apply(action: &Action) -> crate::error::Result<()> {
    use crate::error::{io, Error};
    match action {
        Action::Run(cmd @ Command { network: Some(what), stdin: None, .. }) => {
            let out = crate::bounded::network_io(cmd.to_std(), what, true)?;
            if !out.success() {
                return Err(Error::failed(format!("command `{cmd}` failed ({what})")));
            }
            Ok(())
        }
        Action::Run(cmd) => {
            let mut std_cmd = cmd.to_std();
            let status = if let Some(input) = &cmd.stdin {
                use std::io::Write;
                std_cmd.stdin(std::process::Stdio::piped());
                let mut child = std_cmd.spawn().map_err(|e| spawn_error(cmd, e))?;
                if let Some(mut pipe) = child.stdin.take() {
                    // A process that exits without reading is judged by its status, not the pipe.
                    let _ = pipe.write_all(&input.0);
                }
                child.wait().map_err(|e| spawn_error(cmd, e))?
            } else {
                std_cmd.stdin(std::process::Stdio::null());
                std_cmd.status().map_err(|e| spawn_error(cmd, e))?
            };
            if !status.success() {
                let how = match status.code() {
                    Some(code) => format!("exit status: {code}"),
                    None => "killed by a signal".to_string(),
                };
                return Err(Error::failed(format!("command `{cmd}` failed ({how})")));
            }
            Ok(())
        }
        Action::Write { path, contents } => crate::exec::write_atomic(path, contents),
        Action::WriteSecret { path, contents } => write_private(path, &contents.0),
        Action::CreateDir(path) => std::fs::create_dir_all(path).map_err(io(path)),
        Action::Rename { from, to } => std::fs::rename(from, to).map_err(io(format!("rename {from} -> {to}"))),
        Action::Copy { from, to } => std::fs::copy(from, to).map(|_| ()).map_err(io(format!("copy {from} -> {to}"))),
        Action::Symlink { target, link } => {
            std::os::unix::fs::symlink(target, link).map_err(io(format!("link {link} -> {target}")))
        }
        Action::RemoveFile(path) => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
            _ => Ok(()),
        },
        Action::RemoveDir(path) => match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
            _ => Ok(()),
        },
        Action::Edit { editor, file } => {
            // As git does: $EDITOR is a shell word list ("code --wait"), the file its last argument.
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{editor} \"$1\""))
                .arg("sh")
                .arg(file.as_str())
                .status()
                .map_err(|e| Error::failed(format!("could not start the editor `{editor}`: {e}")))?;
            if !status.success() {
                return Err(Error::failed(format!("the editor `{editor}` failed ({status})")));
            }
            Ok(())
        }
        Action::Collection(w) => crate::collection::write(w),
        Action::ListSources(l) => crate::collection::list_sources(l),
        Action::Sandbox(s) => crate::sandbox::session::run(s),
        Action::Later(_) => Ok(()),
    }
}

/// Writes `contents` to `path` created 0600 (never wider, whatever the umask), its directory
/// 0700: a file other users must not read.
fn write_private(path: &Utf8Path, contents: &[u8]) -> crate::error::Result<()> {
    use crate::error::io;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = path.parent().filter(|p| !p.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    std::io::Write::write_all(&mut file, contents).and_then(|()| file.sync_all()).map_err(io(path))
}

/// A command that could not be started: what and why, the io error as its cause, and a hint
/// when the program is not there.
pub(crate) fn spawn_error(cmd: &Command, err: std::io::Error) -> crate::error::Error {
    let not_found = err.kind() == std::io::ErrorKind::NotFound;
    let message = format!("could not run `{cmd}`: {err}");
    let mut e = crate::error::Error::caused_by(crate::error::Kind::Failed, message, err);
    if not_found {
        e = e.with_help(format!("is `{}` installed and on PATH?", cmd.program));
    }
    e
}

/// Test builds only (the `test-hooks` feature): appends the line of each executed action to the
/// file named by `TRAINYARD_TEST_RECORD`, so a test compares what ran with what the dry-run
/// printed. A product build records nothing and reads no such variable.
#[cfg(feature = "test-hooks")]
pub fn record(line: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os("TRAINYARD_TEST_RECORD") else { return };
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn record(_line: &str) {}

/// A path as plans show it: relative to `base` when inside it.
pub fn shown(path: &Utf8Path, base: &Utf8Path) -> String {
    path.strip_prefix(base).map(|p| p.to_string()).unwrap_or_else(|_| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_show_as_a_shell_would_need_them_and_hide_secrets() {
        let cmd = Command::program("git")
            .args(["commit", "-m", "it's done"])
            .env("GIT_EDITOR", "true")
            .env_secret("CARGO_REGISTRY_TOKEN", "s3cr3t-token")
            .stdin("https://hooks.example/abc")
            .dir("/repo");
        let line = Action::Run(cmd).to_string();
        assert_eq!(
            line,
            "run: GIT_EDITOR=true CARGO_REGISTRY_TOKEN=*** git commit -m 'it'\\''s done' <(25 bytes on stdin) (in /repo)"
        );
        assert_eq!(shell_word("a\nb 'c'\\"), "$'a\\nb \\'c\\'\\\\'");
        assert!(!format!("{:?}", Action::Run(Command::program("x").env_secret("T", "s3cr3t-token"))).contains("s3cr3t"));
    }

    #[test]
    fn the_dry_run_prints_one_line_per_action() {
        let mut plan = Plan::new();
        plan.create_dir("/t/out")
            .write("/t/out/a.json", b"{}".to_vec())
            .later("package the binaries")
            .rename("/t/out/.stage", "/t/out/rpms");
        assert_eq!(
            plan.dry_run_text(),
            "would create: /t/out/\nwould write: /t/out/a.json (2 bytes)\nwould later: package the binaries\n\
             would rename: /t/out/.stage -> /t/out/rpms\n"
        );
    }

    #[test]
    fn a_secret_file_is_private_and_never_shown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("trainyard-plan-secret-{}", std::process::id()));
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();
        let path = dir.join("auth/auth.json");
        let action = Action::WriteSecret { path: path.clone(), contents: Secret(b"s3cr3t-token".to_vec()) };
        let line = action.to_string();
        assert_eq!(line, format!("write: {path} (12 bytes, secret, mode 0600)"));
        assert!(!format!("{action:?}").contains("s3cr3t"));
        apply(&action).unwrap();
        // Again over an existing file: replaced, still private.
        apply(&action).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"s3cr3t-token");
        let mode = |p: &Utf8Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.join("auth")), 0o700);
        apply(&Action::RemoveDir(dir.clone())).unwrap();
    }

    #[test]
    fn a_source_listing_names_its_files_and_needs_a_collection() {
        use crate::collection::{Listing, Output, Source};
        let dir = std::env::temp_dir().join(format!("trainyard-plan-listing-{}", std::process::id()));
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();
        std::fs::create_dir_all(dir.join("ws")).unwrap();
        let ws = crate::workspace::Workspace::detached(&dir.join("ws"));
        let output = Output::check(&dir.join("out"), &ws).unwrap();
        let source =
            |file: &str, kind| Source { path: dir.join("dist").join(file), kind, sha256: "00".into(), size: 1 };
        let sources = vec![source("portal-1.0.tar.gz", "source-tarball"), source("portal-1.0-1.src.rpm", "source-rpm")];
        let action = Action::ListSources(Box::new(Listing { output, owner: "portal".into(), sources }));
        assert_eq!(
            action.to_string(),
            format!(
                "list in collection: portal-1.0.tar.gz and portal-1.0-1.src.rpm in {dir}/out/collection.json \
                 (a new collection directory, one rename)"
            )
        );
        // No collection there: refused as bad input, nothing listed.
        let err = apply(&action).unwrap_err();
        assert_eq!(err.kind, crate::error::Kind::Usage);
        assert!(err.message.contains("holds no collection"), "{}", err.message);
        assert!(!dir.join("out").exists());
        apply(&Action::RemoveDir(dir)).unwrap();
    }

    #[test]
    fn actions_change_the_file_system_as_they_say() {
        let dir = std::env::temp_dir().join(format!("trainyard-plan-{}", std::process::id()));
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();
        let mut plan = Plan::new();
        plan.create_dir(dir.join("a/b"))
            .write(dir.join("a/b/f"), b"one".to_vec())
            .copy(dir.join("a/b/f"), dir.join("g"))
            .rename(dir.join("g"), dir.join("h"))
            .symlink("h", dir.join("l"))
            .remove_file(dir.join("absent"))
            .run(Command::program("sh").args(["-c", "cat > out"]).dir(&dir).stdin("piped"));
        for action in &plan.actions {
            apply(action).unwrap();
        }
        assert_eq!(std::fs::read_to_string(dir.join("l")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "piped");
        assert!(!dir.join("g").exists());
        let err = apply(&Action::Run(Command::program("sh").args(["-c", "exit 3"]))).unwrap_err();
        assert!(err.message.contains("exit status: 3"), "{}", err.message);
        apply(&Action::RemoveDir(dir.clone())).unwrap();
        assert!(!dir.exists());
    }
}
