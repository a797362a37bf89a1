//! Channel repositories: where a channel's yum repository lives ([`Destination`]), the key
//! that signs it ([`Signer`]), and one channel opened for a change ([`Session`]).
//!
//! A channel's repository is one directory, `<repo>/<channel>/`, the `baseurl` of its
//! `.repo` file:
//!
//! ```text
//! *.rpm                     the packages in the metadata
//! archive/*.rpm             packages a rollback took out of the metadata (kept for promote)
//! repodata -> repodata-N    a symlink to the current metadata, switched by one rename
//! repodata-N/               metadata (repomd.xml, repomd.xml.asc); the previous one is kept
//! history.jsonl             every publish, promote and rollback (see `history`)
//! RPM-GPG-KEY-<name>-<channel>, <name>-<channel>.repo
//! .trainyard.lock           the publishers' lock
//! ```
//!
//! Every change follows one order, the same for a local directory and a remote one:
//! packages first, new metadata in a new directory, then the `repodata` symlink is replaced
//! by a rename (atomic), and only then are removed files deleted. A publish stopped at any
//! point leaves the previous repository valid.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Stdio};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Deserialize;

use crate::channel::Channel;
use crate::error::{io, Error, Result};
use crate::exec::{self, Effects};
use crate::plan::{self, Action, Plan};

/// `[workspace.metadata.trainyard.publish]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublishSettings {
    /// Where the channels' repositories live: a directory, or `ssh://[user@]host[:port]/path`.
    pub repo: Option<String>,
    /// The URL clients reach the repositories at (the `.repo` file's `baseurl` prefix).
    pub base_url: Option<String>,
    /// The GnuPG key (id, fingerprint or e-mail) that signs every channel.
    pub gpg_key: Option<String>,
    /// A key per channel, where channels are signed with different keys.
    #[serde(default)]
    pub gpg_keys: BTreeMap<String, String>,
    /// A file holding the key's passphrase (otherwise gpg-agent asks, or has it cached).
    pub passphrase_file: Option<Utf8PathBuf>,
}

/// Environment variables that override the configuration.
pub const REPO_VAR: &str = "TRAINYARD_REPO";
pub const KEY_VAR: &str = "TRAINYARD_GPG_KEY";
pub const PASSPHRASE_FILE_VAR: &str = "TRAINYARD_GPG_PASSPHRASE_FILE";
pub const BASE_URL_VAR: &str = "TRAINYARD_REPO_URL";
/// The ssh command (words, no shell), for options such as `-i KEY` or `-F CONFIG`.
pub const SSH_VAR: &str = "TRAINYARD_SSH";

/// Where the channels' repositories are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine (or a mounted one).
    Local(Utf8PathBuf),
    /// A directory on a host reached over SSH; files go with rsync.
    Ssh(SshTarget),
    // Object storage (`s3://bucket/prefix`) fits as a third kind with the same order:
    // packages, then the metadata under a new prefix, then one small object switched last.
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The absolute path of the repositories on the host.
    pub path: String,
}

impl Destination {
    /// Parses `--repo-dir`, `$TRAINYARD_REPO` or `publish.repo`: a path (relative to `base`)
    /// or `ssh://[user@]host[:port]/absolute/path`.
    pub fn parse(text: &str, base: &Utf8Path) -> Result<Destination> {
        let bad = |why: &str| {
            Error::usage(format!("repository `{}`: {why}", text.escape_debug()))
                .with_help("give a directory, or ssh://[user@]host[:port]/absolute/path")
        };
        if let Some(rest) = text.strip_prefix("ssh://") {
            let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no path after the host"))?;
            let path = format!("/{}", path.trim_end_matches('/'));
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, authority),
            };
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad("the port is not a number"))?)),
                None => (hostport, None),
            };
            let word_ok = |w: &str| {
                !w.is_empty()
                    && !w.starts_with('-')
                    && w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            };
            if !word_ok(host) || user.as_deref().is_some_and(|u| !word_ok(u)) {
                return Err(bad("the user or host has characters ssh would not take"));
            }
            if path == "/" || path.chars().any(|c| c.is_control()) || path.split('/').any(|p| p == "..") {
                return Err(bad("the path must be an absolute directory, without `..`"));
            }
            return Ok(Destination::Ssh(SshTarget { user, host: host.into(), port, path }));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(bad(&format!("`{scheme}://` repositories are not supported yet (local paths and ssh://)")));
        }
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let path = Utf8Path::new(text);
        Ok(Destination::Local(if path.is_absolute() { path.to_path_buf() } else { base.join(path) }))
    }

    /// The text [`Destination::parse`] reads back.
    pub fn to_arg(&self) -> String {
        match self {
            Destination::Local(dir) => dir.to_string(),
            Destination::Ssh(t) => {
                let port = t.port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("ssh://{}{port}{}", t.login(), t.path)
            }
        }
    }

    /// The channel's repository, as a person reads it.
    pub fn describe(&self, channel: Channel) -> String {
        match self {
            Destination::Local(dir) => dir.join(channel.as_str()).to_string(),
            Destination::Ssh(t) => format!("{}:{}/{channel}", t.login(), t.path),
        }
    }

    /// The URL a `.repo` file names: `base_url` when given, else the directory as `file://`.
    fn client_url(&self, base_url: Option<&str>, channel: Channel) -> String {
        match (base_url, self) {
            (Some(b), _) => format!("{}/{channel}/", b.trim_end_matches('/')),
            (None, Destination::Local(dir)) => format!("file://{}/{channel}/", dir),
            (None, Destination::Ssh(t)) => format!("file://{}/{channel}/", t.path),
        }
    }

    /// The channel's history file, read without locking (nothing is changed).
    pub fn read_history(&self, channel: Channel) -> Result<Vec<super::history::Record>> {
        match self {
            Destination::Local(dir) => super::history::read(&dir.join(channel.as_str())),
            Destination::Ssh(t) => {
                let file = format!("{}/{channel}/{}", t.path, super::history::FILE);
                let script = format!("if [ -f {0} ]; then cat {0}; fi", sh_quote(&file));
                let out = t.ssh_output(&script)?;
                super::history::parse(&out, &format!("{}:{file}", t.login()))
            }
        }
    }
}

impl SshTarget {
    fn login(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// The ssh command and its options (`$TRAINYARD_SSH`, default `ssh`), without the host.
    fn ssh_words(&self) -> Vec<String> {
        let mut words: Vec<String> = match std::env::var(SSH_VAR) {
            Ok(v) if !v.trim().is_empty() => v.split_whitespace().map(String::from).collect(),
            _ => vec!["ssh".into()],
        };
        words.extend(["-o".into(), "BatchMode=yes".into()]);
        // A host that does not answer, or stops answering, ends the session: every ssh and
        // rsync call is also bounded as a whole by TRAINYARD_NETWORK_TIMEOUT.
        let connect = crate::bounded::NETWORK.get().map(|d| d.as_secs().min(60)).unwrap_or(60);
        for option in
            [format!("ConnectTimeout={connect}"), "ServerAliveInterval=15".into(), "ServerAliveCountMax=4".into()]
        {
            words.extend(["-o".into(), option]);
        }
        if let Some(p) = self.port {
            words.extend(["-p".into(), p.to_string()]);
        }
        words
    }

    /// The command that runs `script` with the remote shell, its time bounded as a network
    /// command's: for a plan (a change on the host) or a read.
    pub fn script_command(&self, script: &str) -> plan::Command {
        let words = self.ssh_words();
        plan::Command::program(&words[0])
            .args(&words[1..])
            .arg("--")
            .arg(self.login())
            .arg(script)
            .network(format!("ssh to {}", self.login()))
    }

    /// Runs `script` with the remote shell and returns its stdout.
    fn ssh_output(&self, script: &str) -> Result<String> {
        exec::tool("ssh", "openssh-client")?;
        let (ok, out, err) = exec::read_command_output(&self.script_command(script))
            .map_err(|e| e.with_help(format!("set ${SSH_VAR} to the ssh command")))?;
        if !ok {
            return Err(Error::failed(format!("on {}: `{script}` failed: {}", self.login(), err.trim())));
        }
        Ok(out)
    }

    /// `rsync -e` takes the ssh command as one string, split by rsync.
    fn rsync_shell(&self) -> String {
        self.ssh_words().join(" ")
    }

    fn rsync_remote(&self, channel: Channel) -> String {
        format!("{}:{}/{channel}/", self.login(), self.path)
    }
}

/// What other publishers (the documentation) use of a host: its shell, rsync, and the lock.
impl SshTarget {
    /// `login:path`, as a person reads it.
    pub fn describe_path(&self, path: &str) -> String {
        format!("{}:{path}", self.login())
    }

    /// Runs `script` with the remote shell; returns its stdout.
    pub fn run_script(&self, script: &str) -> Result<String> {
        self.ssh_output(script)
    }

    /// The command that copies the local directory `src` to `dest` on the host (rsync over
    /// ssh, as packages go), for a plan.
    pub fn upload_command(&self, src: &Utf8Path, dest: &str) -> plan::Command {
        let remote = format!("{}:{dest}/", self.login());
        plan::Command::program("rsync")
            .args(rsync_base(self))
            .arg(format!("{src}/"))
            .arg(&remote)
            .network(format!("rsync to {remote}"))
    }

    /// Holds the publishers' lock of `dir` on the host while the returned value lives.
    pub fn lock_dir(&self, dir: &str) -> Result<impl Drop> {
        lock_remote_dir(self, dir)
    }
}

/// Quotes a word for a POSIX shell.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The key that signs a channel's packages and metadata, from the user's GnuPG keyring or
/// agent. The passphrase comes from gpg-agent or a file; it is never on a command line.
///
/// `rpmsign` and `gpg` rather than an OpenPGP library in the process: such a library would
/// multiply the xtask's build (every fresh clone and CI run pays it, while publishing happens
/// on a few machines that have `rpm` and `gnupg` anyway), and it needs the secret key in the
/// process, where gpg uses the agent, smartcards and the user's existing keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key: String,
    passphrase_file: Option<Utf8PathBuf>,
}

impl Signer {
    /// The channel's key: `$TRAINYARD_GPG_KEY_<CHANNEL>`, `$TRAINYARD_GPG_KEY`, then
    /// `gpg-keys.<channel>` and `gpg-key` in the configuration. `None`: unsigned.
    pub fn for_channel(settings: &PublishSettings, channel: Channel) -> Result<Option<Signer>> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let per_channel = format!("{KEY_VAR}_{}", channel.as_str().to_ascii_uppercase());
        let key = env(&per_channel)
            .or_else(|| env(KEY_VAR))
            .or_else(|| settings.gpg_keys.get(channel.as_str()).cloned())
            .or_else(|| settings.gpg_key.clone());
        let Some(key) = key else { return Ok(None) };
        let key = key.trim().to_string();
        if key.starts_with('-') || key.chars().any(|c| c.is_control()) {
            return Err(Error::usage(format!("the signing key `{}` is not a key id", key.escape_debug()))
                .with_help("give a key id, fingerprint or e-mail address (gpg --list-secret-keys)"));
        }
        let passphrase_file = env(PASSPHRASE_FILE_VAR).map(Utf8PathBuf::from).or(settings.passphrase_file.clone());
        if let Some(f) = &passphrase_file {
            if !f.is_file() {
                return Err(Error::usage(format!("the passphrase file {f} does not exist")).with_help(format!(
                    "fix ${PASSPHRASE_FILE_VAR} or publish.passphrase-file, or unset it to use gpg-agent"
                )));
            }
            use std::os::unix::fs::PermissionsExt;
            if std::fs::metadata(f).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                eprintln!("trainyard: warning: the passphrase file {f} is readable by other users (chmod 600 {f})");
            }
        }
        Ok(Some(Signer { key, passphrase_file }))
    }

    fn gpg(&self) -> Result<std::path::PathBuf> {
        exec::tool("gpg", "gnupg")
    }

    /// Options that make gpg read the passphrase from the file (none with the agent).
    fn passphrase_args(&self) -> Vec<String> {
        match &self.passphrase_file {
            Some(f) => vec!["--pinentry-mode".into(), "loopback".into(), "--passphrase-file".into(), f.to_string()],
            None => Vec::new(),
        }
    }

    /// The key's long id (16 hex digits, lower case), checking that its secret part is here.
    pub fn key_id(&self) -> Result<String> {
        let gpg = self.gpg()?;
        let key = &self.key;
        let list = plan::Command::program(gpg.to_string_lossy()).args([
            "--batch",
            "--with-colons",
            "--list-secret-keys",
            "--",
            key,
        ]);
        let (ok, out, _) = exec::read_command_output(&list)?;
        let id = out.lines().find(|l| l.starts_with("sec:")).and_then(|l| l.split(':').nth(4));
        match id {
            Some(id) if ok => Ok(id.to_ascii_lowercase()),
            _ => Err(Error::usage(format!("the signing key `{key}` has no secret key in the GnuPG keyring"))
                .with_help(format!(
                    "gpg --list-secret-keys shows the keys; set ${KEY_VAR} (or publish.gpg-key) to one of them"
                ))),
        }
    }

    /// The commands that sign RPMs in place with `rpmsign --addsign`; a package signed by
    /// another key is signed again (its old signature removed first). `signed` are the files as
    /// they are now (read for their signatures), `files` where they will be signed.
    pub fn sign_rpms(&self, signed: &[Utf8PathBuf], files: &[Utf8PathBuf]) -> Result<Vec<plan::Command>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        exec::tool("rpmsign", "rpm")?;
        let gpg = self.gpg()?;
        let id = self.key_id()?;
        let mut out = Vec::new();
        let other: Vec<&Utf8PathBuf> = files
            .iter()
            .zip(signed)
            .filter(|(_, now)| signed_by(now).is_some_and(|k| !id.ends_with(&k)))
            .map(|(f, _)| f)
            .collect();
        if !other.is_empty() {
            out.push(plan::Command::program("rpmsign").arg("--delsign").args(other.iter().map(|f| f.as_str())));
        }
        let mut extra = vec!["--batch".to_string(), "--no-tty".into()];
        extra.extend(self.passphrase_args());
        out.push(
            plan::Command::program("rpmsign")
                .arg("--addsign")
                .args(["--define".to_string(), format!("__gpg {}", gpg.display())])
                .args(["--define".to_string(), format!("_gpg_name {}", self.key)])
                .args(["--define".to_string(), format!("_gpg_sign_cmd_extra_args {}", extra.join(" "))])
                .args(files.iter().map(|f| f.as_str())),
        );
        Ok(out)
    }

    /// The command that writes `<file>.asc`, an armored detached signature.
    pub fn sign_detached(&self, file: &Utf8Path) -> Result<plan::Command> {
        self.gpg()?;
        Ok(plan::Command::program("gpg")
            .args(["--batch", "--no-tty", "--yes"])
            .args(self.passphrase_args())
            .args(["--local-user", &self.key, "--armor", "--detach-sign", "--output"])
            .arg(format!("{file}.asc"))
            .arg("--")
            .arg(file.as_str()))
    }

    /// The public key, armored.
    pub fn public_key(&self) -> Result<String> {
        let gpg = self.gpg()?;
        let export =
            plan::Command::program(gpg.to_string_lossy()).args(["--batch", "--armor", "--export", "--", &self.key]);
        exec::read_command(&export).map(|k| format!("{k}\n"))
    }
}

/// Runs a channel's plan through the executor; a signing command that fails says what to check.
pub fn execute(effects: &Effects, plan: &Plan) -> Result<()> {
    for action in &plan.actions {
        effects.apply(action).map_err(|e| match action {
            Action::Run(c) if c.program == "rpmsign" || c.program == "gpg" => e.with_help(
                "check the key (gpg --list-secret-keys) and its passphrase: gpg-agent, or a file named by \
                 $TRAINYARD_GPG_PASSPHRASE_FILE",
            ),
            _ => e,
        })?;
    }
    Ok(())
}

/// The id of the key that signed an RPM's header (`Key ID 0123...`), lower case.
pub fn signed_by(file: &Utf8Path) -> Option<String> {
    let query = plan::Command::program("rpm").args([
        "-qp",
        "--nosignature",
        "--qf",
        "%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}",
        file.as_str(),
    ]);
    let out = exec::read_command(&query).ok()?;
    out.split("Key ID ")
        .nth(1)
        .map(|k| k.split(|c: char| !c.is_ascii_hexdigit()).next().unwrap_or("").to_ascii_lowercase())
}

/// How the lock of a channel is held: a local file lock, or an ssh session holding `flock`
/// on the host. Both end with the process, so a killed publisher never leaves a stale lock.
enum Lock {
    File(#[allow(dead_code)] std::fs::File),
    Remote { child: Child, stdin: Option<ChildStdin> },
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Lock::Remote { child, stdin } = self {
            drop(stdin.take());
            let _ = child.wait();
        }
    }
}

const LOCK_FILE: &str = ".trainyard.lock";
const ARCHIVE: &str = "archive";
/// Where packages are copied and signed before they take their name in the channel.
pub const INCOMING: &str = ".incoming";
const REPODATA: &str = "repodata";
/// The list of packages the metadata was made from, kept beside it.
const PKGLIST: &str = "packages.txt";

/// Test hook, as the whole release has: `TRAINYARD_FAIL_AFTER=upload:abort` kills the process
/// once the packages and metadata are uploaded, before the metadata is switched.
#[cfg(feature = "test-hooks")]
const FAIL_AFTER: &str = "TRAINYARD_FAIL_AFTER";

/// One channel's repository, opened for a change: locked, and (remote) mirrored here.
pub struct Session {
    pub channel: Channel,
    pub dest: Destination,
    /// Where the channel's files are read and changed: the repository itself, or its mirror.
    pub dir: Utf8PathBuf,
    /// Held to the end of a run that changes the channel; a dry-run takes none.
    _lock: Option<Lock>,
}

impl Session {
    /// Locks the channel's repository (waiting for another publisher) and, when it is remote,
    /// mirrors it into `mirrors`. In dry-run nothing is locked.
    pub fn open(effects: &Effects, dest: &Destination, channel: Channel, mirrors: &Utf8Path) -> Result<Session> {
        let (dir, lock) = match dest {
            Destination::Local(root) => {
                let dir = root.join(channel.as_str());
                let lock = effects.hold(|| lock_file(&dir))?;
                (dir, lock)
            }
            Destination::Ssh(t) => {
                exec::tool("rsync", "rsync")?;
                let lock = effects.hold(|| lock_remote(t, channel))?;
                let dir = mirrors.join(mirror_name(t)).join(channel.as_str());
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                pull(t, channel, &dir)?;
                (dir, lock)
            }
        };
        Ok(Session { channel, dest: dest.clone(), dir, _lock: lock })
    }

    /// The packages in the channel's directory (`*.rpm`, not the archive); see [`Session::listed`].
    pub fn packages(&self) -> Result<Vec<String>> {
        list_rpms(&self.dir)
    }

    /// The packages the current metadata lists (`repodata/packages.txt`, written with it).
    /// A file in the directory but not listed was left by an interrupted publish.
    pub fn listed(&self) -> Result<Vec<String>> {
        let list = self.dir.join(REPODATA).join(PKGLIST);
        match std::fs::read_to_string(&list) {
            Ok(text) => Ok(text.lines().filter(|l| !l.is_empty()).map(String::from).collect()),
            // Metadata written by an older trainyard lists every package in the directory.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.dir.join(REPODATA).is_dir() => self.packages(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(&list)(e)),
        }
    }

    pub fn archive_path(&self, file: &str) -> Utf8PathBuf {
        self.dir.join(ARCHIVE).join(file)
    }

    pub fn history(&self) -> Result<Vec<super::history::Record>> {
        super::history::read(&self.dir)
    }

    /// Adds to `plan` the actions that put each `(from, file)` into the channel's directory as
    /// `file`, signing the copies there first (one `rpmsign` for all): the directory never holds
    /// a half-written or unsigned package under its name.
    pub fn plan_copies(
        &self,
        plan: &mut Plan,
        copies: &[(Utf8PathBuf, String)],
        signer: Option<&Signer>,
    ) -> Result<()> {
        if copies.is_empty() {
            return Ok(());
        }
        let incoming = self.dir.join(INCOMING);
        plan.create_dir(&incoming);
        let staged: Vec<Utf8PathBuf> = copies.iter().map(|(_, file)| incoming.join(file)).collect();
        for ((from, _), tmp) in copies.iter().zip(&staged) {
            plan.copy(from, tmp);
        }
        if let Some(s) = signer {
            let sources: Vec<Utf8PathBuf> = copies.iter().map(|(from, _)| from.clone()).collect();
            for cmd in s.sign_rpms(&sources, &staged)? {
                plan.run(cmd);
            }
        }
        for (tmp, (_, file)) in staged.iter().zip(copies) {
            plan.rename(tmp, self.dir.join(file));
        }
        plan.remove_dir(&incoming);
        Ok(())
    }

    /// Adds to `plan` the actions that write new metadata for exactly `files` (names in the
    /// channel's directory) into a new `repodata-N/`, sign `repomd.xml`, and write the public
    /// key and the `.repo` file; returns the new directory's name. Nothing clients read changes.
    pub fn plan_metadata(
        &self,
        plan: &mut Plan,
        files: &[String],
        signer: Option<&Signer>,
        app: &str,
        base_url: Option<&str>,
    ) -> Result<String> {
        exec::tool("createrepo_c", "createrepo-c")?;
        // The next number after every metadata directory there (older trainyards numbered them
        // by time): known when planned, so the dry-run names the directory the run writes.
        let newest = self.metadata_dirs()?.into_iter().map(|(n, _)| n).max().unwrap_or(0);
        let name = format!("{REPODATA}-{}", newest + 1);
        let work = self.dir.join(format!(".{name}.work"));
        let list = self.dir.join(format!(".{name}.pkglist"));
        let mut files = files.to_vec();
        files.sort();
        files.dedup();
        let mut text = files.join("\n");
        text.push('\n');
        plan.create_dir(&work).write(&list, text.as_bytes().to_vec());
        plan.run(plan::Command::program("createrepo_c").args([
            "--quiet",
            "--pkglist",
            list.as_str(),
            "--outputdir",
            work.as_str(),
            self.dir.as_str(),
        ]));
        plan.remove_file(&list);
        let meta = self.dir.join(&name);
        plan.write(work.join(REPODATA).join(PKGLIST), text.into_bytes());
        plan.rename(work.join(REPODATA), &meta);
        plan.remove_dir(&work);
        if let Some(s) = signer {
            plan.run(s.sign_detached(&meta.join("repomd.xml"))?);
            plan.write(self.dir.join(key_file_name(app, self.channel)), s.public_key()?.into_bytes());
        }
        let repo_file = self.dir.join(format!("{app}-{}.repo", self.channel));
        let url = self.dest.client_url(base_url, self.channel);
        plan.write(repo_file, repo_file_text(app, self.channel, &url, signer.is_some()).into_bytes());
        Ok(name)
    }

    /// The metadata directories (`repodata-N`) with their numbers, and the leftovers of
    /// interrupted changes (`.repodata-*`, `repodata-legacy`) with whether each is a directory.
    fn metadata_dirs(&self) -> Result<Vec<(u128, String)>> {
        Ok(self.scan()?.0)
    }

    #[allow(clippy::type_complexity)]
    fn scan(&self) -> Result<(Vec<(u128, String)>, Vec<(String, bool)>)> {
        let dir = &self.dir;
        let mut stamps: Vec<(u128, String)> = Vec::new();
        let mut leftovers = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e.collect::<Vec<_>>(),
            // A channel never published (a dry-run creates nothing).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix("repodata-").and_then(|s| s.parse::<u128>().ok()) {
                stamps.push((n, name));
            } else if name.starts_with(".repodata-") || name == "repodata-legacy" {
                leftovers.push((name, entry.file_type().is_ok_and(|t| t.is_dir())));
            }
        }
        Ok((stamps, leftovers))
    }

    /// Carries out a change of the channel: `before` (packages and new metadata), then the
    /// upload (remote), then `metadata` becomes what clients read (one rename), then the
    /// history records what `record` says (computed then: the files' SHA-256 as published),
    /// then `remove` (files left out of the new metadata) and metadata older than the previous
    /// are deleted. The dry-run prints all of it; the record stands as a part known at run time.
    pub fn change(
        self,
        effects: &Effects,
        mut before: Plan,
        metadata: &str,
        what: &str,
        record: impl FnOnce() -> Result<super::history::Record>,
        remove: &[Utf8PathBuf],
    ) -> Result<()> {
        if let Destination::Ssh(t) = &self.dest {
            // Packages, archive, key, .repo file and the new metadata directory: all new names
            // or files clients do not read through the metadata yet.
            before.run(rsync_push(
                t,
                self.channel,
                &self.dir,
                &["--exclude", "/repodata", "--exclude", "/history.jsonl"],
            ));
        }
        let switch = self.plan_switch(metadata);
        let later = format!("record: {what} in {}/{}", self.dest.describe(self.channel), super::history::FILE);
        let mut after = Plan::new();
        for f in remove {
            after.remove_file(f);
        }
        self.plan_prune(&mut after, metadata)?;
        if let Destination::Ssh(t) = &self.dest {
            after.run(rsync_push(t, self.channel, &self.dir, &["--delete"]));
        }
        execute(effects, &before)?;
        fail_point("upload");
        execute(effects, &switch)?;
        effects.later(later, || {
            // The directory entry itself must reach the disk before we call the switch done.
            if let Ok(d) = std::fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            let path = self.dir.join(super::history::FILE);
            effects.apply(&Action::Write { path, contents: super::history::appended(&self.dir, &record()?)? })
        })?;
        execute(effects, &after)
    }

    /// Points `repodata` at `metadata` with one rename (a directory left by an older
    /// trainyard is moved aside first, once); on a remote host the same, by ssh.
    fn plan_switch(&self, metadata: &str) -> Plan {
        let mut plan = Plan::new();
        let dir = &self.dir;
        let link = dir.join(REPODATA);
        if link.is_dir() && !link.is_symlink() {
            let legacy = dir.join(format!("{REPODATA}-legacy"));
            plan.remove_dir(&legacy).rename(&link, &legacy);
        }
        let next = dir.join(format!("{REPODATA}-next"));
        plan.remove_file(&next).symlink(metadata, &next).rename(&next, &link);
        if let Destination::Ssh(t) = &self.dest {
            let dir = format!("{}/{}", t.path, self.channel);
            let script = format!(
                "cd {} && if [ -d {REPODATA} ] && [ ! -L {REPODATA} ]; then mv {REPODATA} {REPODATA}-legacy; fi \
                 && ln -sfn {} {REPODATA}-next && mv -T {REPODATA}-next {REPODATA}",
                sh_quote(&dir),
                sh_quote(metadata)
            );
            plan.run(t.script_command(&script));
        }
        plan
    }

    /// Keeps the current metadata and the one before it (a client that read the old
    /// `repomd.xml` a moment ago still finds its files); removes older ones and leftovers.
    fn plan_prune(&self, plan: &mut Plan, current: &str) -> Result<()> {
        let dir = &self.dir;
        let (mut stamps, mut leftovers) = self.scan()?;
        let link = dir.join(REPODATA);
        if link.is_dir() && !link.is_symlink() && !leftovers.iter().any(|(n, _)| n == "repodata-legacy") {
            // Moved aside by this switch.
            leftovers.push(("repodata-legacy".to_string(), true));
        }
        for (name, is_dir) in leftovers {
            if is_dir {
                plan.remove_dir(dir.join(name));
            } else {
                plan.remove_file(dir.join(name));
            }
        }
        if let Some(n) = current.strip_prefix("repodata-").and_then(|s| s.parse::<u128>().ok()) {
            if !stamps.iter().any(|(_, s)| s == current) {
                stamps.push((n, current.to_string()));
            }
        }
        stamps.sort();
        let keep: Vec<&String> = stamps.iter().rev().take(2).map(|(_, n)| n).collect();
        for (_, name) in &stamps {
            if name != current && !keep.contains(&name) {
                plan.remove_dir(dir.join(name));
            }
        }
        Ok(())
    }
}

pub fn key_file_name(app: &str, channel: Channel) -> String {
    format!("RPM-GPG-KEY-{app}-{channel}")
}

fn repo_file_text(app: &str, channel: Channel, url: &str, signed: bool) -> String {
    let check = u8::from(signed);
    let mut text = format!(
        "# Drop this file into /etc/yum.repos.d/.\n[{app}-{channel}]\nname={app} ({channel})\nbaseurl={url}\nenabled=1\ngpgcheck={check}\nrepo_gpgcheck={check}\n"
    );
    if signed {
        text.push_str(&format!("gpgkey={url}{}\n", key_file_name(app, channel)));
    }
    text
}

#[cfg(feature = "test-hooks")]
fn fail_point(step: &str) {
    if let Ok(value) = std::env::var(FAIL_AFTER) {
        if value == format!("{step}:abort") {
            std::process::abort();
        }
    }
}

/// A product build has no test hook.
#[cfg(not(feature = "test-hooks"))]
fn fail_point(_step: &str) {}

/// `*.rpm` file names directly in `dir`, sorted (none when it does not exist).
fn list_rpms(dir: &Utf8Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rpm") && entry.file_type().map_err(io(dir))?.is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn lock_file(dir: &Utf8Path) -> Result<Lock> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
    crate::bounded::lock(&file, &path, &format!("another publisher to release {path}"), || {
        eprintln!("trainyard: waiting for another publisher to release {path}");
    })?;
    Ok(Lock::File(file))
}

/// Holds `flock` on the host for as long as the ssh session lives: it ends when this process
/// closes the session, or dies.
fn lock_remote(t: &SshTarget, channel: Channel) -> Result<Lock> {
    lock_remote_dir(t, &format!("{}/{channel}", t.path))
}

fn lock_remote_dir(t: &SshTarget, dir: &str) -> Result<Lock> {
    exec::tool("ssh", "openssh-client")?;
    let limit = crate::bounded::LOCK.get()?;
    let dir = dir.to_string();
    let script = format!(
        "mkdir -p {d} && {{ flock -n {l} true || echo waiting; }} && exec flock -w {w} {l} sh -c 'echo locked; exec cat >/dev/null'",
        d = sh_quote(&dir),
        l = sh_quote(&format!("{dir}/{LOCK_FILE}")),
        w = limit.as_secs().max(1),
    );
    // The session is the lock: it lives as long as the `Lock` the executor holds.
    let mut child = t
        .script_command(&script)
        .to_std()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::failed(format!("cannot run ssh: {e}")))?;
    let stdin = child.stdin.take();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let _ = stdout.read_line(&mut line);
    let waited = line.trim() == "waiting";
    if waited {
        eprintln!("trainyard: waiting for another publisher to release {}:{dir}/{LOCK_FILE}", t.login());
        line.clear();
        let _ = stdout.read_line(&mut line);
    }
    if waited && line.is_empty() && child.wait().is_ok_and(|s| s.code() == Some(1)) {
        // flock -w gave up.
        return Err(Error::failed(format!(
            "gave up waiting for another publisher to release {}:{dir}/{LOCK_FILE} after {}",
            t.login(),
            crate::bounded::seconds(limit)
        ))
        .with_help(format!(
            "let the other publish finish, or stop it (the lock goes with the process that holds it); {}",
            crate::bounded::LOCK.raise(limit)
        )));
    }
    if line.trim() != "locked" {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::failed(format!("cannot lock {}:{dir}: {}", t.login(), err.trim())).with_help(
            "the host needs ssh access for this user (set $TRAINYARD_SSH for options), and sh, flock, mv, rsync",
        ));
    }
    Ok(Lock::Remote { child, stdin })
}

fn mirror_name(t: &SshTarget) -> String {
    let raw = format!("{}-{}-{}", t.login(), t.port.unwrap_or(22), t.path);
    raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

fn rsync_base(t: &SshTarget) -> Vec<String> {
    vec![
        "-a".into(),
        "--protect-args".into(),
        "-e".into(),
        t.rsync_shell(),
        "--exclude".into(),
        format!("/{LOCK_FILE}"),
    ]
}

/// Mirrors the remote channel into `dir` (an exact copy: `--delete`).
fn pull(t: &SshTarget, channel: Channel, dir: &Utf8Path) -> Result<()> {
    let remote = t.rsync_remote(channel);
    let mirror = plan::Command::program("rsync")
        .args(rsync_base(t))
        .arg("--delete")
        .arg(&remote)
        .arg(format!("{dir}/"))
        .network(format!("rsync from {remote}"));
    let (ok, _, err) = exec::read_command_output(&mirror)?;
    if !ok {
        // A channel never published has no directory yet (the lock creates it, not dry-run).
        if err.contains("No such file or directory") {
            return Ok(());
        }
        return Err(Error::failed(format!("rsync from {remote} failed:\n{}", err.trim())));
    }
    Ok(())
}

/// The rsync that sends the mirror `dir` to the remote channel.
fn rsync_push(t: &SshTarget, channel: Channel, dir: &Utf8Path, extra: &[&str]) -> plan::Command {
    plan::Command::program("rsync")
        .args(rsync_base(t))
        .args(extra.iter().copied())
        .arg(format!("{dir}/"))
        .arg(t.rsync_remote(channel))
        .network(format!("rsync to {}", t.rsync_remote(channel)))
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Utf8Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let base = Utf8Path::new("/w");
        assert_eq!(Destination::parse("repos", base).unwrap(), Destination::Local("/w/repos".into()));
        assert_eq!(Destination::parse("/srv/yum", base).unwrap(), Destination::Local("/srv/yum".into()));
        assert_eq!(
            Destination::parse("ssh://deploy@repo.example.com:2222/srv/yum/", base).unwrap(),
            Destination::Ssh(SshTarget {
                user: Some("deploy".into()),
                host: "repo.example.com".into(),
                port: Some(2222),
                path: "/srv/yum".into()
            })
        );
        let d = Destination::parse("ssh://u@h:22/srv/yum", base).unwrap();
        assert_eq!(Destination::parse(&d.to_arg(), base).unwrap(), d);
        let d = Destination::parse("ssh://h/srv/yum", base).unwrap();
        assert_eq!(d.describe(Channel::Prod), "h:/srv/yum/prod");
        for bad in ["ssh://-oProxyCommand=x/p", "ssh://h", "ssh://h/", "ssh://h:x/p", "ssh://h/a/../b", "s3://b/p", ""]
        {
            assert!(Destination::parse(bad, base).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_and_keys() {
        let text = "[workspace.metadata.trainyard.publish]\nrepo = \"ssh://deploy@r.example.com/srv/yum\"\n\
                    gpg-key = \"all@example.com\"\ngpg-keys = { prod = \"prod@example.com\" }\n";
        let config = crate::config::Config::parse(Utf8Path::new("Cargo.toml"), text, "portal").unwrap();
        let p = &config.publish;
        assert_eq!(p.repo.as_deref(), Some("ssh://deploy@r.example.com/srv/yum"));
        // Only when the environment does not name a key (the test runner's may not).
        if std::env::var_os(KEY_VAR).is_none() && std::env::var_os("TRAINYARD_GPG_KEY_PROD").is_none() {
            assert_eq!(Signer::for_channel(p, Channel::Prod).unwrap().unwrap().key, "prod@example.com");
        }
        if std::env::var_os(KEY_VAR).is_none() && std::env::var_os("TRAINYARD_GPG_KEY_STAGE").is_none() {
            assert_eq!(Signer::for_channel(p, Channel::Stage).unwrap().unwrap().key, "all@example.com");
        }
        let bad = "[workspace.metadata.trainyard.publish]\ngpg_key = \"x\"\n";
        assert!(crate::config::Config::parse(Utf8Path::new("Cargo.toml"), bad, "portal").is_err());
        let dash = PublishSettings { gpg_key: Some("--armor".into()), ..Default::default() };
        if std::env::var_os(KEY_VAR).is_none() && std::env::var_os("TRAINYARD_GPG_KEY_DEV").is_none() {
            assert!(Signer::for_channel(&dash, Channel::Dev).is_err());
        }
    }

    #[test]
    fn quoting_and_repo_file() {
        assert_eq!(sh_quote("a'b c"), "'a'\\''b c'");
        let text = repo_file_text("portal", Channel::Prod, "https://r.example.com/prod/", true);
        assert!(text.contains("[portal-prod]\n"));
        assert!(
            text.contains("gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=https://r.example.com/prod/RPM-GPG-KEY-portal-prod\n")
        );
        assert!(repo_file_text("portal", Channel::Dev, "file:///r/dev/", false).contains("gpgcheck=0\n"));
    }
}
