//! One install test, as the executor runs it: [`Action::Sandbox`](crate::plan::Action::Sandbox)
//! carries a [`Session`], and the executor delegates it to [`run`]. The session makes its own
//! changes (the run's directory, the root, the repository, dnf's configuration, the base
//! package; processes in the namespaces), because each step depends on what the previous one
//! printed; it is one line of the plan, printed by the dry-run and recorded by the run.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::root::{self, Privilege, Root};
use super::{base, command, confine, diagnose, dnf, preflight, shell, shell_words, smoke_verdict};
use super::{InstallTest, Limits, Report, Smoke, SmokeResult};
use crate::error::{io, Error, Result};

/// An install test in a plan. Its line says what is known when it is planned; what it installs
/// is given then ([`Session::of`]) or, when the collection is written by an earlier part of the
/// same run, by that part ([`Session::provide`]) before the executor reaches the session.
#[derive(Debug, Clone)]
pub struct Session {
    line: String,
    test: Arc<OnceLock<InstallTest>>,
    report: Arc<Mutex<Report>>,
}

impl Session {
    /// The session of a known install test.
    pub fn of(test: InstallTest) -> Session {
        let line = format!(
            "install {} from a repository of {} RPM(s) into a fresh root under {}, run {} smoke command(s), {} the root",
            test.install.join(" "),
            test.repo_rpms.len(),
            test.work_dir,
            test.smoke.len(),
            if test.keep_root { "keep" } else { "remove" }
        );
        let session = Session::planned(line);
        session.provide(test);
        session
    }

    /// The session of a collection a part of this run writes into `collection`: its packages,
    /// RPMs and smoke commands are known once it is written.
    pub fn of_collection(collection: &Utf8Path, work_dir: &Utf8Path, keep_root: bool) -> Session {
        Session::planned(format!(
            "install the workspace's packages of the collection in {collection} (read once it is written) into a \
             fresh root under {work_dir}, run their smoke commands, {} the root",
            if keep_root { "keep" } else { "remove" }
        ))
    }

    fn planned(line: String) -> Session {
        Session { line, test: Arc::new(OnceLock::new()), report: Arc::new(Mutex::new(Report::default())) }
    }

    /// Gives the session what it installs (once; a second call changes nothing).
    pub fn provide(&self, test: InstallTest) {
        let _ = self.test.set(test);
    }

    /// What the session did, once run (what it had done when it failed); empty before.
    pub fn report(&self) -> Report {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

/// Two sessions are the same action when their lines are.
impl PartialEq for Session {
    fn eq(&self, other: &Session) -> bool {
        self.line == other.line
    }
}

impl Eq for Session {}

/// Runs a session (the executor's body for `Action::Sandbox`): installs the collection into a
/// fresh root and runs the smoke commands (see the module docs of [`crate::sandbox`]); the
/// report is kept in the session, whatever the outcome.
pub fn run(session: &Session) -> Result<()> {
    let test = session.test.get().ok_or_else(|| {
        Error::failed(format!("the install test `{session}` was run before it was given its packages"))
    })?;
    let mut report = Report::default();
    let started = Instant::now();
    let result = run_into(test, &mut report);
    report.timings.total = started.elapsed();
    *session.report.lock().unwrap_or_else(|e| e.into_inner()) = report;
    result
}

fn run_into(test: &InstallTest, report: &mut Report) -> Result<()> {
    test.check()?;
    for rpm in &test.repo_rpms {
        if !rpm.is_file() {
            return Err(Error::failed(format!("{rpm} does not exist")).with_help("run build_rpms first"));
        }
    }
    let sandbox = Sandbox::new(&test.work_dir, test.limits)?;
    let result = sandbox.install_and_smoke(test, report);
    let cleanup = Instant::now();
    if test.keep_root {
        report.root = Some(sandbox.root.tree.clone());
        report.enter = Some(sandbox.enter_command());
    } else {
        let removed = sandbox.root.remove();
        if result.is_ok() {
            removed?;
        }
    }
    report.timings.cleanup = cleanup.elapsed();
    result
}

/// Runs left behind by a process that no longer exists (killed mid-run): nothing of them is
/// mounted (their namespaces died with them), so their directories just go.
pub(super) fn remove_stale_runs(work_dir: &Utf8Path) {
    let Ok(entries) = work_dir.read_dir_utf8() else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.strip_prefix("run-").or_else(|| name.strip_prefix("probe-")) else { continue };
        let Some(pid) = pid.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Utf8Path::new("/proc").join(pid.to_string()).exists() {
            if let Ok(root) = Root::new(entry.path()) {
                let _ = root.remove();
            }
        }
    }
}

/// A run's root and how commands enter it (the install test's, and `dist --rebuild`'s).
pub(super) struct Sandbox {
    pub(super) root: Root,
    pub(super) privilege: Privilege,
    sh: Shell,
    limits: Limits,
}

/// What a command printed and how it ended.
pub(super) struct Output {
    pub(super) status: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Output {
    pub(super) fn ok(&self) -> bool {
        self.status == Some(0)
    }
    pub(super) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Sandbox {
    /// A fresh run under `work_dir`, once the host passed the [`preflight`] (nothing created
    /// yet: see [`Root::create`]); runs that killed processes left there are removed first.
    pub(super) fn new(work_dir: &Utf8Path, limits: Limits) -> Result<Sandbox> {
        let privilege = preflight(work_dir)?;
        let run = root::RUNS.fetch_add(1, Ordering::SeqCst);
        let root = Root::new(&work_dir.join(format!("run-{}-{run}", std::process::id())))?;
        let sandbox = Sandbox { root, privilege, sh: shell()?, limits };
        remove_stale_runs(work_dir);
        Ok(sandbox)
    }

    fn repo_dir(&self) -> Utf8PathBuf {
        self.root.run_dir.join("repo")
    }

    fn install_and_smoke(&self, test: &InstallTest, report: &mut Report) -> Result<()> {
        let phase = crate::ui::Phase::start("making the repository");
        self.make_repo(&test.repo_rpms)?;
        report.timings.repo = phase.elapsed();

        let phase = crate::ui::Phase::start("creating the root");
        self.root.create()?;
        self.write_dnf_config()?;
        self.install_base()?;
        report.timings.base = phase.elapsed();

        let phase = crate::ui::Phase::start("installing with dnf");
        let result = self.install(&test.install);
        report.installed = self.installed().unwrap_or_default();
        report.timings.install = phase.elapsed();
        result?;

        let phase = crate::ui::Phase::start("verifying the installed files");
        let verified = self.verify(&report.installed);
        report.timings.verify = phase.elapsed();
        verified?;

        let phase = crate::ui::Phase::start("running the smoke commands");
        for smoke in &test.smoke {
            if !report.installed.iter().any(|nevra| diagnose::nevra_has_name(nevra, &smoke.package)) {
                report.skipped.push(smoke.clone());
                continue;
            }
            report.smokes.push(self.smoke(smoke, test.smoke_timeout)?);
        }
        report.timings.smoke = phase.elapsed();
        smoke_verdict(&report.smokes)
    }

    pub(super) fn make_repo(&self, rpms: &[Utf8PathBuf]) -> Result<()> {
        let repo = self.repo_dir();
        std::fs::create_dir_all(&repo).map_err(io(&repo))?;
        for rpm in rpms {
            let name = rpm.file_name().ok_or_else(|| Error::usage(format!("{rpm} has no file name")))?;
            let dest = repo.join(name);
            if dest.exists() {
                return Err(Error::usage(format!("two RPMs of the collection are named {name}")));
            }
            // A hard link costs nothing; across file systems, copy.
            if std::fs::hard_link(rpm, &dest).is_err() {
                std::fs::copy(rpm, &dest).map_err(io(&dest))?;
            }
        }
        let out = self.exec(&["createrepo_c".into(), "--quiet".into(), "--no-database".into(), repo.to_string()])?;
        if !out.ok() {
            return Err(Error::failed(format!("createrepo_c failed on {repo}:\n{}", out.all())));
        }
        Ok(())
    }

    /// dnf's configuration and an empty repository directory, for the sandbox to show.
    pub(super) fn write_dnf_config(&self) -> Result<()> {
        let conf = self.root.run_dir.join("dnf.conf");
        std::fs::write(&conf, dnf::CONF).map_err(io(&conf))?;
        let reposd = self.root.run_dir.join("repos.d");
        std::fs::create_dir_all(&reposd).map_err(io(&reposd))
    }

    pub(super) fn install_base(&self) -> Result<()> {
        let provides = base::provides(&base::host_libraries()?)?;
        let base_dir = self.root.run_dir.join("base");
        let rpm = base::build(&base_dir, &provides)?;
        // The sandbox shows `base_dir` as CONTROL/base.
        let relative = rpm.strip_prefix(&base_dir).map_err(|_| Error::failed(format!("{rpm} is not in {base_dir}")))?;
        let inside = format!("{}/base/{relative}", confine::CONTROL);
        let out = self.in_root(self.rpm(&["-i", "--nosignature", &inside]))?;
        diagnose::leftovers_fail(&out.all(), "installing the base-system package")?;
        if !out.ok() {
            return Err(Error::failed(format!(
                "installing the base-system package into the root failed:\n{}",
                out.all()
            )));
        }
        Ok(())
    }

    /// rpm inside the sandbox, where the root is `/`.
    fn rpm(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["rpm".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        argv
    }

    /// What the sandbox shows of the run, read-only, under [`confine::CONTROL`].
    pub(super) fn binds(&self) -> Vec<confine::Bind> {
        let run = &self.root.run_dir;
        vec![
            confine::Bind::new(&self.repo_dir(), "repo"),
            confine::Bind::new(&run.join("base"), "base"),
            confine::Bind::new(&run.join("dnf.conf"), "dnf.conf"),
            confine::Bind::new(&run.join("repos.d"), "repos.d"),
            confine::Bind::new(&self.root.home, "home"),
        ]
    }

    pub(super) fn install(&self, packages: &[String]) -> Result<()> {
        let out = self.in_root(dnf::install(packages))?;
        let diagnosed = diagnose::install_failure(packages, &out.all(), out.ok(), self.limits.memory_mib);
        match (diagnosed, diagnose::leftovers_fail(&out.all(), "the install")) {
            (Err(e), Err(left)) => Err(Error::failed(format!("{}\n{}", e.message, left.message)).with_help(
                format!("{}\n{}", e.help.unwrap_or_default(), left.help.unwrap_or_default()).trim().to_string(),
            )),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// NEVRAs installed in the root, apart from the base package.
    fn installed(&self) -> Result<Vec<String>> {
        let out = self.in_root(self.rpm(&["-qa", "--qf", "%{NEVRA}\\n"]))?;
        diagnose::leftovers_fail(&out.all(), "`rpm -qa`")?;
        let mut nevras: Vec<String> = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !diagnose::nevra_has_name(l, base::NAME))
            .map(str::to_string)
            .collect();
        nevras.sort();
        Ok(nevras)
    }

    fn verify(&self, installed: &[String]) -> Result<()> {
        let mut failures = Vec::new();
        for nevra in installed {
            let out = self.in_root(self.rpm(&["-V", nevra]))?;
            diagnose::leftovers_fail(&out.all(), &format!("`rpm -V {nevra}`"))?;
            if !out.ok() {
                let all = out.all();
                let text: Vec<&str> = all.lines().filter(|l| !diagnose::is_noise(l)).map(str::trim).collect();
                failures.push(format!("\n  - {nevra}:\n      {}", text.join("\n      ")));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        Err(Error::failed(format!("rpm -V found installed files that differ from their packages:{}", failures.concat()))
            .with_help("see rpm(8), VERIFY OPTIONS, for what each letter means; a scriptlet that edits packaged files is the usual cause"))
    }

    fn smoke_argv(&self, smoke: &Smoke, timeout: Duration) -> Vec<String> {
        let tree = self.root.tree.to_string();
        let mut argv: Vec<String> = vec![
            "timeout".into(),
            "--kill-after=5".into(),
            format!("{}", timeout.as_secs().max(1)),
            "bwrap".into(),
            // No network, no IPC, no view of the host's processes.
            "--unshare-all".into(),
            "--die-with-parent".into(),
            "--new-session".into(),
            // The root and nothing else of the host: not the build tree, not the home directory.
            "--ro-bind".into(),
            tree,
            "/".into(),
            "--proc".into(),
            "/proc".into(),
            "--dev".into(),
            "/dev".into(),
            "--tmpfs".into(),
            "/tmp".into(),
            "--tmpfs".into(),
            "/run".into(),
            "--clearenv".into(),
            "--setenv".into(),
            "PATH".into(),
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".into(),
            "--setenv".into(),
            "HOME".into(),
            "/root".into(),
            "--setenv".into(),
            "LANG".into(),
            "C.UTF-8".into(),
            "--chdir".into(),
            "/".into(),
            "--".into(),
            "/bin/sh".into(),
            "-c".into(),
        ];
        argv.push(smoke.command.clone());
        argv
    }

    fn smoke(&self, smoke: &Smoke, timeout: Duration) -> Result<SmokeResult> {
        let started = Instant::now();
        let out = self.spawn(&self.smoke_command(smoke, timeout), &format!("the smoke command `{}`", smoke.command))?;
        let duration = started.elapsed();
        if out.status == Some(root::MOUNT_FAILED) {
            return Err(Error::failed(format!("could not mount the root for the smoke commands:\n{}", out.stderr)));
        }
        let output = format!("{}{}", out.stdout, out.stderr);
        let expected = smoke.expect_output.as_deref().is_none_or(|want| output.contains(want));
        Ok(SmokeResult {
            package: smoke.package.clone(),
            command: smoke.command.clone(),
            ok: out.ok() && expected,
            output,
            duration,
            status: out.status,
        })
    }

    /// Runs `command` inside the sandbox ([`confine`]), under the supervisor that reports
    /// the processes it leaves. The progress line shows the command itself, not the namespace
    /// script and bwrap around it; `-v` shows those in full.
    fn in_root(&self, command: Vec<String>) -> Result<Output> {
        let argv = self.sandboxed(command.clone());
        if crate::ui::show_commands() {
            eprintln!("$ {}", shell_words(&argv));
        } else if !crate::ui::quiet() {
            eprintln!("$ [in the sandbox] {}", shell_words(&command));
        }
        let out = self.spawn(&argv, &format!("`{}`", shell_words(&command)))?;
        if out.status == Some(root::MOUNT_FAILED) {
            return Err(Error::failed(format!("could not mount the root's overlay:\n{}", out.stderr)));
        }
        Ok(out)
    }

    /// The whole argument vector of a command inside the sandbox: the overlay's mount
    /// namespace, bwrap, the supervisor, the command.
    fn sandboxed(&self, command: Vec<String>) -> Vec<String> {
        let mut inner = self.limits.prlimit();
        inner.extend(confine::bwrap(&self.root.tree, &self.binds(), false));
        inner.extend(confine::supervised(command));
        self.root.wrap(self.privilege, inner)
    }

    /// A smoke command, with the overlay mounted, under the same limits.
    fn smoke_command(&self, smoke: &Smoke, timeout: Duration) -> Vec<String> {
        let mut inner = self.limits.prlimit();
        inner.extend(self.smoke_argv(smoke, timeout));
        self.root.wrap(self.privilege, inner)
    }

    fn exec(&self, argv: &[String]) -> Result<Output> {
        if !crate::ui::quiet() {
            eprintln!("$ {}", shell_words(argv));
        }
        self.spawn(argv, &format!("`{}`", argv[0]))
    }

    /// Runs `argv` within the [`Limits`]; `what` names it when a limit stops it.
    pub(super) fn spawn(&self, argv: &[String], what: &str) -> Result<Output> {
        let cmd = command(&self.sh, argv)
            .env("LC_ALL", "C.UTF-8")
            .env("TRAINYARD_OVERLAY_OPTS", Root::overlay_opts(self.privilege));
        let out = crate::bounded::run(cmd.into(), self.limits.time, Some(self.limits.processes))?;
        let running = || {
            let all = format!("{}{}", out.stdout, out.stderr);
            let during = match (diagnose::running_scriptlet(&all), diagnose::last_dnf_scriptlet(&all)) {
                (Some(run), _) => format!(", while the {} scriptlet of {} ran", run.scriptlet, run.package),
                (None, Some(package)) => format!(", while a scriptlet of {package} ran"),
                (None, None) => String::new(),
            };
            let tail = diagnose::tail(&diagnose::without_debug(&all), 10);
            if tail.trim().is_empty() {
                during
            } else {
                format!("{during}; its last output:\n{tail}\n")
            }
        };
        match out.stopped {
            None => {}
            Some(crate::bounded::Stopped::Time(limit)) => {
                return Err(Error::failed(format!(
                    "{what} in the sandbox did not finish in {}: it was stopped, with every process it started{}",
                    crate::bounded::seconds(limit),
                    running()
                ))
                .with_help(format!(
                    "a scriptlet must not wait for what never comes (the network, a terminal); {}",
                    crate::bounded::SANDBOX.raise(limit)
                )))
            }
            Some(crate::bounded::Stopped::Processes(max)) => {
                return Err(Error::failed(format!(
                    "{what} in the sandbox ran more than {max} processes at once: it was stopped, with every \
                     process it started{}",
                    running()
                ))
                .with_help(format!(
                    "a scriptlet that forks without end is stopped here before it reaches the host's limit; \
                     {}=N allows more (now {max})",
                    Limits::PROCESSES_VAR
                )))
            }
        }
        Ok(Output { status: out.status.and_then(|s| s.code()), stdout: out.stdout, stderr: out.stderr })
    }

    /// The sandbox the install ran in (the run's directory is kept with the root), with a shell.
    fn enter_command(&self) -> Vec<String> {
        let mut inner = confine::bwrap(&self.root.tree, &self.binds(), true);
        inner.push("/bin/sh".into());
        self.root.wrap(self.privilege, inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    #[test]
    fn a_session_is_one_plan_line_saying_what_is_known_when_planned() {
        let mut test = InstallTest::new("/w/sandbox");
        test.repo_rpms = vec!["/c/web-1.0-1.x86_64.rpm".into(), "/c/core-2.0-1.x86_64.rpm".into()];
        test.install = vec!["web".into()];
        test.smoke = vec![Smoke::version("web", "web", "1.0")];
        let line = Action::Sandbox(Box::new(Session::of(test))).to_string();
        assert_eq!(
            line,
            "sandbox: install web from a repository of 2 RPM(s) into a fresh root under /w/sandbox, \
             run 1 smoke command(s), remove the root"
        );
        let planned = Session::of_collection(Utf8Path::new("/ws/target/rpms/dev"), Utf8Path::new("/w/sandbox"), true);
        assert!(planned.to_string().contains("collection in /ws/target/rpms/dev (read once it is written)"));
        assert!(planned.to_string().ends_with("keep the root"));
        // What a later part gives the session does not change its line: the dry-run's is the run's.
        let given = planned.clone();
        given.provide(InstallTest::new("/w/sandbox"));
        assert_eq!(Action::Sandbox(Box::new(given)), Action::Sandbox(Box::new(planned)));
    }

    #[test]
    fn a_session_never_given_its_packages_fails_and_changes_nothing() {
        let work = std::env::temp_dir().join(format!("trainyard-session-{}", std::process::id()));
        let work = Utf8PathBuf::from_path_buf(work).unwrap();
        let session = Session::of_collection(Utf8Path::new("/nowhere/rpms"), &work, false);
        let err = run(&session).unwrap_err();
        assert!(err.message.contains("was run before it was given its packages"), "{}", err.message);
        assert!(!work.exists());
        assert!(session.report().installed.is_empty());
    }
}
