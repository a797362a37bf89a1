//! The install test behind `cargo xtask mock`: install an RPM collection into a clean root
//! with a real resolver, run its smoke commands there, and leave the host as it was.
//!
//! Two backends. `sandbox` (this module) works on any Linux host with rpm, dnf,
//! createrepo_c and bubblewrap; `mock` ([`mock`]) hands the same job to Fedora's mock.
//!
//! The sandbox, step by step ([`run`]):
//! 1. a local repository of the collection (`createrepo_c`);
//! 2. a fresh root whose `/usr` is an overlay over the host's, mounted only inside private
//!    mount namespaces ([`root`]): nothing on the host changes, nothing stays mounted;
//! 3. a package standing for the host's base system ([`base`]) goes in first;
//! 4. `dnf --installroot /` installs the requested packages, resolving every Requires;
//! 5. scriptlet failures are read from the output (rpm and dnf exit 0 for them), and so are
//!    the processes a scriptlet left running;
//! 6. `rpm -V` over everything installed;
//! 7. each smoke command runs in the root under `bwrap --unshare-all`, read-only;
//! 8. the run's directory is removed unless the root is kept.
//!
//! rpm and dnf (steps 3 to 6) and so every scriptlet run inside the root, entered by
//! bubblewrap with `pivot_root`, in namespaces of their own and with few capabilities
//! ([`confine`]); no process of theirs outlives its step.

pub mod base;
pub mod confine;
pub mod diagnose;
pub mod mock;
pub mod rebuild;
pub mod root;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::error::{io, Error, Kind, Result};
use crate::exec::{self, Effects};
use root::{Privilege, Root};

/// Which machinery installs and smoke-tests the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Built in: dnf into an overlay root, smoke commands under bubblewrap.
    Sandbox,
    /// Fedora's `mock`: rebuild source RPMs in its chroot, install, run with `--chroot`.
    Mock,
}

impl Backend {
    /// `--backend` wins; else `mock` where Fedora's mock is installed, `sandbox` elsewhere.
    pub fn choose(requested: Option<Backend>) -> Backend {
        requested.unwrap_or_else(|| if which::which("mock").is_ok() { Backend::Mock } else { Backend::Sandbox })
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sandbox => "sandbox",
            Backend::Mock => "mock",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backend> {
        match s {
            "sandbox" => Ok(Backend::Sandbox),
            "mock" => Ok(Backend::Mock),
            other => {
                Err(Error::usage(format!("unknown backend `{other}`"))
                    .with_help("use --backend sandbox or --backend mock"))
            }
        }
    }
}

/// A command that must pass in the installed root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smoke {
    /// The package it belongs to (named in failures).
    pub package: String,
    /// Shell text, run with `/bin/sh -c` inside the root.
    pub command: String,
    /// When set, the output (stdout and stderr) must contain it.
    pub expect_output: Option<String>,
}

impl Smoke {
    /// The default smoke command of a packaged binary: `BIN --version`, printing the version.
    pub fn version(package: &str, binary: &str, version: &str) -> Smoke {
        Smoke {
            package: package.to_string(),
            command: format!("{binary} --version"),
            expect_output: Some(version.to_string()),
        }
    }
}

/// What to install and check.
#[derive(Debug, Clone)]
pub struct InstallTest {
    /// Every RPM of the collection: the repository dnf resolves from.
    pub repo_rpms: Vec<Utf8PathBuf>,
    /// Package names to install (their dependencies come along).
    pub install: Vec<String>,
    pub smoke: Vec<Smoke>,
    /// Leave the run's root (and its overlay layer) on disk for inspection.
    pub keep_root: bool,
    /// Where runs live (under `target/`); each run takes a fresh directory inside.
    pub work_dir: Utf8PathBuf,
    /// A smoke command still running after this is killed and fails.
    pub smoke_timeout: Duration,
    /// What each command in the sandbox may use.
    pub limits: Limits,
}

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
    fn prlimit(&self) -> Vec<String> {
        let bytes = self.memory_mib.saturating_mul(1024 * 1024);
        vec!["prlimit".into(), format!("--data={bytes}"), "--core=0".into(), "--".into()]
    }
}

impl InstallTest {
    pub fn new(work_dir: impl Into<Utf8PathBuf>) -> InstallTest {
        InstallTest {
            repo_rpms: Vec::new(),
            install: Vec::new(),
            smoke: Vec::new(),
            keep_root: false,
            work_dir: work_dir.into(),
            smoke_timeout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmokeResult {
    pub package: String,
    pub command: String,
    /// stdout then stderr.
    pub output: String,
    pub duration: Duration,
    /// The exit status (`None`: killed by a signal).
    pub status: Option<i32>,
    pub ok: bool,
}

/// Wall-clock time of each phase.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Building the collection (`build_rpms`), when the caller did and says so; not in `total`'s
    /// engine part, added to it by the caller.
    pub build: Duration,
    /// The mock backend: vendoring and writing the source RPMs.
    pub sources: Duration,
    /// Copying the collection and `createrepo_c`.
    pub repo: Duration,
    /// Generating the base-system package and installing it in the root.
    pub base: Duration,
    /// `dnf install`, scriptlets included.
    pub install: Duration,
    /// `rpm -V`.
    pub verify: Duration,
    pub smoke: Duration,
    /// Removing the root.
    pub cleanup: Duration,
    pub total: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// NEVRA of each package installed from the collection (the base package not included).
    pub installed: Vec<String>,
    pub smokes: Vec<SmokeResult>,
    /// Smoke commands of packages the install did not bring in (an internal project's
    /// package that no installed package requires): not run.
    pub skipped: Vec<Smoke>,
    pub timings: Timings,
    /// The kept root (with `keep_root`).
    pub root: Option<Utf8PathBuf>,
    /// The command that opens a shell in the kept root, overlay mounted.
    pub enter: Option<Vec<String>>,
}

impl Report {
    /// The end-of-run summary: each package, each smoke command with its output and time, the times.
    pub fn render(&self) -> String {
        let mut out = format!("installed {} package(s):\n", self.installed.len());
        for nevra in &self.installed {
            out.push_str(&format!("  {nevra}\n"));
        }
        if self.smokes.is_empty() && self.skipped.is_empty() {
            out.push_str("smoke commands: none ran\n");
        } else {
            out.push_str(&format!("smoke commands ({}):\n", self.smokes.len()));
        }
        for s in &self.smokes {
            let verdict = if s.ok { "ok" } else { "FAILED" };
            out.push_str(&format!("  {}: `{}` {verdict} in {}\n", s.package, s.command, secs(s.duration)));
            for line in s.output.lines() {
                out.push_str(&format!("      {line}\n"));
            }
        }
        for s in &self.skipped {
            out.push_str(&format!("  {}: `{}` skipped: the package was not installed\n", s.package, s.command));
        }
        let t = &self.timings;
        let phases = [
            ("build", t.build),
            ("sources", t.sources),
            ("repository", t.repo),
            ("base", t.base),
            ("install", t.install),
            ("verify", t.verify),
            ("smoke", t.smoke),
            ("cleanup", t.cleanup),
        ];
        // Phases a backend does not have (mock has no base package) are left out.
        let shown: Vec<String> =
            phases.iter().filter(|(_, d)| !d.is_zero()).map(|(name, d)| format!("{name} {}", secs(*d))).collect();
        out.push_str(&format!("time: {}; total {}\n", shown.join(", "), secs(t.total)));
        if let Some(root) = &self.root {
            out.push_str(&format!("root kept at {root}\n"));
            if let Some(enter) = &self.enter {
                out.push_str(&format!("enter it with: {}\n", shell_words(enter)));
            }
        }
        out
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Tools the sandbox runs, with the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("createrepo_c", "createrepo-c"),
    ("dnf", "dnf"),
    ("rpm", "rpm"),
    ("rpmbuild", "rpm"),
    ("bwrap", "bubblewrap"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("timeout", "coreutils"),
    ("prlimit", "util-linux"),
    ("sh", "dash"),
];

/// Checks, before anything is built, that the sandbox backend can run here: its tools, the
/// privileges for a mount namespace (root, or unprivileged user namespaces), an overlay in
/// `work_dir`, and bubblewrap. Reports every problem at once. Returns how namespaces are made.
pub fn preflight(work_dir: &Utf8Path) -> Result<Privilege> {
    let mut problems = Vec::new();
    let mut missing = Vec::new();
    for (tool, package) in TOOLS {
        if exec::tool(tool, package).is_err() {
            problems.push(format!("`{tool}` is not installed (Debian package {package})"));
            missing.push(*package);
        }
    }
    if let Err(err) = base::elfdeps(&shell()?) {
        if exec::tool("rpm", "rpm").is_ok() {
            problems.push(err.message);
            missing.push("rpm");
        }
    }
    let privilege = if crate::access::effective_uid() == Some(0) { Privilege::Root } else { Privilege::UserNamespace };
    if missing.is_empty() {
        if let Err(why) = probe_overlay(work_dir, privilege) {
            problems.push(why);
        }
        if let Err(why) = probe_bwrap() {
            problems.push(why);
        }
    }
    if problems.is_empty() {
        return Ok(privilege);
    }
    missing.sort();
    missing.dedup();
    let mut help = String::new();
    if !missing.is_empty() {
        help.push_str(&format!("install the tools: apt-get install -y {}\n", missing.join(" ")));
    }
    if privilege == Privilege::UserNamespace {
        help.push_str(
            "run as root (CI does): in a user namespace the kernel cannot copy up /usr's root-owned directories\n",
        );
    }
    help.push_str("or use --backend mock on a host with Fedora's mock");
    // A missing tool is exit 3; a host that cannot make the namespaces or the overlay is
    // exit 2 (the host's configuration, not the packages, is at fault).
    let kind = if missing.is_empty() { Kind::Usage } else { Kind::MissingTool };
    let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
    Err(Error::new(kind, format!("the sandbox backend cannot run here:{list}")).with_help(help))
}

/// Mounts an overlay of `/usr` in a scratch run under `work_dir`, exactly as a run does.
fn probe_overlay(work_dir: &Utf8Path, privilege: Privilege) -> std::result::Result<(), String> {
    root::check_path(work_dir).map_err(|e| e.message)?;
    // The directories the probe creates on the way go again (a dry run leaves nothing).
    let created: Vec<&Utf8Path> = work_dir.ancestors().take_while(|d| !d.exists()).collect();
    let result = probe_overlay_in(work_dir, privilege);
    for dir in created {
        let _ = std::fs::remove_dir(dir);
    }
    result
}

fn probe_overlay_in(work_dir: &Utf8Path, privilege: Privilege) -> std::result::Result<(), String> {
    let dir = work_dir.join(format!("probe-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::SeqCst)));
    let root = Root::new(&dir).map_err(|e| e.message)?;
    let result = (|| {
        root.create().map_err(|e| e.message)?;
        // Writing into an existing directory of the lower /usr makes the kernel copy it up,
        // which is what installing a package does (and what an unprivileged user namespace
        // cannot do with root-owned directories).
        let probe_file = root.tree.join("usr/bin/.trainyard-probe");
        let argv = root.wrap(privilege, vec!["touch".into(), probe_file.to_string()]);
        let sh = shell().map_err(|e| e.message)?;
        let (ok, _, err) =
            exec::output(command(&sh, &argv).env("TRAINYARD_OVERLAY_OPTS", Root::overlay_opts(privilege)))
                .map_err(|e| e.message)?;
        if ok {
            return Ok(());
        }
        let how = match privilege {
            Privilege::Root => "a private mount namespace (as root)",
            Privilege::UserNamespace => "an unprivileged user namespace (not root)",
        };
        Err(format!("cannot write through an overlay of /usr under {work_dir} in {how}: {}", err.trim()))
    })();
    let _ = root.remove();
    result
}

/// Both sandboxes: the install's (its namespaces and capabilities) and the smoke commands'.
fn probe_bwrap() -> std::result::Result<(), String> {
    let sh = shell().map_err(|e| e.message)?;
    let smoke: Vec<String> = ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"].map(String::from).to_vec();
    for argv in [confine::probe(), smoke] {
        let (ok, _, err) = exec::output(command(&sh, &argv)).map_err(|e| e.message)?;
        if !ok {
            return Err(format!("bubblewrap cannot create its namespaces here: {}", err.trim()));
        }
    }
    Ok(())
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Installs the collection into a fresh root and runs the smoke commands; see the module docs.
pub fn run(test: &InstallTest, effects: &Effects) -> Result<Report> {
    let (report, result) = run_with_report(test, effects);
    result.map(|()| report)
}

/// [`run`], returning what was done so far even when it failed (the packages installed,
/// the smoke commands that ran), for the end-of-run report.
pub fn run_with_report(test: &InstallTest, effects: &Effects) -> (Report, Result<()>) {
    let mut report = Report::default();
    let started = Instant::now();
    let result = run_into(test, effects, &mut report);
    report.timings.total = started.elapsed();
    (report, result)
}

fn run_into(test: &InstallTest, effects: &Effects, report: &mut Report) -> Result<()> {
    validate(test, effects.dry_run)?;
    let privilege = preflight(&test.work_dir)?;
    let run_dir = test.work_dir.join(format!("run-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::SeqCst)));
    let root = Root::new(&run_dir)?;
    let sandbox = Sandbox { root, privilege, effects: *effects, sh: shell()?, limits: test.limits };
    if effects.dry_run {
        return sandbox.print_plan(test);
    }
    remove_stale_runs(&test.work_dir);
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

/// In a dry run the RPMs need not exist yet: the collection is only planned.
fn validate(test: &InstallTest, dry_run: bool) -> Result<()> {
    if test.install.is_empty() {
        return Err(Error::usage("nothing to install: the install test names no package"));
    }
    for name in test.install.iter().chain(test.smoke.iter().map(|s| &s.package)) {
        if name.is_empty() || name.starts_with('-') || name.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(Error::usage(format!("`{}` is not a package name", name.escape_debug())));
        }
    }
    for rpm in &test.repo_rpms {
        if !rpm.as_str().ends_with(".rpm") || rpm.as_str().ends_with(".src.rpm") {
            return Err(Error::usage(format!("{rpm} is not a binary RPM")));
        }
        if !dry_run && !rpm.is_file() {
            return Err(Error::failed(format!("{rpm} does not exist")).with_help("run build_rpms first"));
        }
    }
    Ok(())
}

/// Runs left behind by a process that no longer exists (killed mid-run): nothing of them is
/// mounted (their namespaces died with them), so their directories just go.
fn remove_stale_runs(work_dir: &Utf8Path) {
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

struct Sandbox {
    root: Root,
    privilege: Privilege,
    effects: Effects,
    sh: Shell,
    limits: Limits,
}

/// What a command printed and how it ended.
struct Output {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    fn ok(&self) -> bool {
        self.status == Some(0)
    }
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Sandbox {
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

    fn make_repo(&self, rpms: &[Utf8PathBuf]) -> Result<()> {
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
    fn write_dnf_config(&self) -> Result<()> {
        let conf = self.root.run_dir.join("dnf.conf");
        std::fs::write(&conf, "[main]\ngpgcheck=0\ninstall_weak_deps=False\nbest=True\n").map_err(io(&conf))?;
        let reposd = self.root.run_dir.join("repos.d");
        std::fs::create_dir_all(&reposd).map_err(io(&reposd))
    }

    fn install_base(&self) -> Result<()> {
        let provides = base::provides(&base::host_libraries()?)?;
        let base_dir = self.root.run_dir.join("base");
        let rpm = base::build(&base_dir, &provides)?;
        // The sandbox shows `base_dir` as CONTROL/base.
        let relative = rpm.strip_prefix(&base_dir).map_err(|_| Error::failed(format!("{rpm} is not in {base_dir}")))?;
        let inside = format!("{}/base/{relative}", confine::CONTROL);
        let out = self.in_root(self.rpm(&["-i", "--nosignature", &inside]))?;
        leftovers_fail(&out, "installing the base-system package")?;
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
    fn binds(&self) -> Vec<confine::Bind> {
        let run = &self.root.run_dir;
        vec![
            confine::Bind::new(&self.repo_dir(), "repo"),
            confine::Bind::new(&run.join("base"), "base"),
            confine::Bind::new(&run.join("dnf.conf"), "dnf.conf"),
            confine::Bind::new(&run.join("repos.d"), "repos.d"),
            confine::Bind::new(&self.root.home, "home"),
        ]
    }

    /// dnf inside the sandbox: the root is `/`, the run's files are under [`confine::CONTROL`].
    fn dnf_install(&self, packages: &[String]) -> Vec<String> {
        let control = confine::CONTROL;
        let mut argv: Vec<String> = vec![
            "dnf".into(),
            "--installroot".into(),
            "/".into(),
            // Our own configuration and an empty repository directory: no repository, plugin
            // or cache of the host's.
            "--config".into(),
            format!("{control}/dnf.conf"),
            format!("--setopt=reposdir={control}/repos.d"),
            "--noplugins".into(),
            "--disablerepo=*".into(),
            format!("--repofrompath=trainyard,{control}/repo"),
            "--enablerepo=trainyard".into(),
            "--releasever=trainyard".into(),
            "--nogpgcheck".into(),
            "--setopt=install_weak_deps=False".into(),
            // On the sandbox's tmpfs: the metadata goes with the namespace.
            format!("--setopt=cachedir={control}/cache"),
            "--setopt=keepcache=False".into(),
            // rpm then logs each scriptlet's PID, which names the package of a process left
            // running. It also runs /bin/sh scriptlets with `-x`: a failed one's output in the
            // report shows the commands it ran.
            "--rpmverbosity=debug".into(),
            "--assumeyes".into(),
            "install".into(),
        ];
        argv.extend(packages.iter().cloned());
        argv
    }

    fn install(&self, packages: &[String]) -> Result<()> {
        let out = self.in_root(self.dnf_install(packages))?;
        let diagnosed = self.diagnose_install(packages, &out);
        match (diagnosed, leftovers_fail(&out, "the install")) {
            (Err(e), Err(left)) => Err(Error::failed(format!("{}\n{}", e.message, left.message)).with_help(
                format!("{}\n{}", e.help.unwrap_or_default(), left.help.unwrap_or_default()).trim().to_string(),
            )),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    fn diagnose_install(&self, packages: &[String], out: &Output) -> Result<()> {
        let text = diagnose::without_debug(&out.all());
        let unmet = diagnose::unmet_requires(&text);
        if !unmet.is_empty() {
            let list: String =
                unmet.iter().map(|u| format!("\n  - {} requires `{}`", u.package, u.requirement)).collect();
            return Err(Error::failed(format!(
                "dependencies of the collection are not met; nothing in the collection or the host's base system provides:{list}"
            ))
            .with_help(
                "add the package that provides it to the collection, or fix the package's Requires \
                 (see them with `rpm -qp --requires FILE`)",
            ));
        }
        let missing = diagnose::no_match(&text);
        if !missing.is_empty() {
            return Err(Error::failed(format!(
                "no package in the collection is named {}",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ))
            .with_help("check the packaged names build_rpms wrote in the collection's manifest"));
        }
        if !out.ok() {
            // libsolv's problem lines when the resolver said no; else what rpm said last.
            let why = match diagnose::problems(&text) {
                p if p.iter().any(|l| l.starts_with("- ")) => p.join("\n"),
                _ => diagnose::tail(&text, 15),
            };
            return Err(Error::failed(format!("dnf could not install {} into the root:\n{why}", packages.join(" "))));
        }
        let failures = diagnose::scriptlet_failures(&text);
        if !failures.is_empty() {
            let mut msg = String::from("a scriptlet failed during the install (dnf and rpm still exit 0 for it):");
            for f in &failures {
                let status = f.exit_status.map(|s| format!(", exit status {s}")).unwrap_or_default();
                msg.push_str(&format!("\n  - the {} scriptlet of {} failed{status}", f.scriptlet, f.package));
                for line in &f.output {
                    msg.push_str(&format!("\n      {line}"));
                }
            }
            let mut help = "a scriptlet must exit 0; fix it where the package's scripts come from \
                 (post_install_script and friends in [package.metadata.trainyard.rpm], or the spec)"
                .to_string();
            if mentions_memory(&text) {
                help.push_str(&format!(
                    "\nits output speaks of memory: each process in the sandbox may allocate {} MiB; \
                     {}=MIB changes it",
                    self.limits.memory_mib,
                    Limits::MEMORY_VAR
                ));
            }
            return Err(Error::failed(msg).with_help(help));
        }
        Ok(())
    }

    /// NEVRAs installed in the root, apart from the base package.
    fn installed(&self) -> Result<Vec<String>> {
        let out = self.in_root(self.rpm(&["-qa", "--qf", "%{NEVRA}\\n"]))?;
        leftovers_fail(&out, "`rpm -qa`")?;
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
            leftovers_fail(&out, &format!("`rpm -V {nevra}`"))?;
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
    /// script and bwrap around it (`--dry-run` prints those in full).
    fn in_root(&self, command: Vec<String>) -> Result<Output> {
        if !self.effects.quiet {
            eprintln!("$ [in the sandbox] {}", shell_words(&command));
        }
        let out = self.spawn(&self.sandboxed(command.clone()), &format!("`{}`", shell_words(&command)))?;
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
        if !self.effects.quiet {
            eprintln!("$ {}", shell_words(argv));
        }
        self.spawn(argv, &format!("`{}`", argv[0]))
    }

    /// Runs `argv` within the [`Limits`]; `what` names it when a limit stops it.
    fn spawn(&self, argv: &[String], what: &str) -> Result<Output> {
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

    fn print_plan(&self, test: &InstallTest) -> Result<()> {
        let say = |line: String| println!("would: {line}");
        let repo = self.repo_dir();
        if test.repo_rpms.is_empty() {
            say(format!("link the collection's RPMs into {repo}"));
        } else {
            say(format!("link {} RPM(s) into {repo}", test.repo_rpms.len()));
        }
        say(shell_words(&["createrepo_c".into(), "--quiet".into(), "--no-database".into(), repo.to_string()]));
        say(format!(
            "create the root {} with the host's /usr as the read-only lower layer of an overlay",
            self.root.tree
        ));
        say(format!("build {} providing the host's C library, loader and /bin/sh", base::NAME));
        let base_rpm = format!("{}/base/noarch/{}-1-1.noarch.rpm", confine::CONTROL, base::NAME);
        say(shell_words(&self.sandboxed(self.rpm(&["-i", "--nosignature", &base_rpm]))));
        say(shell_words(&self.sandboxed(self.dnf_install(&test.install))));
        say(shell_words(&self.sandboxed(self.rpm(&["-V", "PACKAGE"]))) + "  (each installed package)");
        for smoke in &test.smoke {
            say(shell_words(&self.smoke_command(smoke, test.smoke_timeout)));
        }
        if test.keep_root {
            say(format!("keep {}", self.root.run_dir));
        } else {
            say(format!("remove {}", self.root.run_dir));
        }
        Ok(())
    }
}

/// The failure naming each process `what` left running in the sandbox (killed with it when
/// the command ended), and the scriptlet that started it where rpm said; `Ok` when none.
fn leftovers_fail(out: &Output, what: &str) -> Result<()> {
    let all = out.all();
    let left = diagnose::leftovers(&all);
    if left.is_empty() {
        return Ok(());
    }
    let runs = diagnose::scriptlet_runs(&all);
    let mut msg = format!("{what} left processes running in the sandbox (they were killed with it):");
    for l in &left {
        let who = match diagnose::started_by(l, &runs) {
            Some(run) => format!("the {} scriptlet of {}", run.scriptlet, run.package),
            None => what.to_string(),
        };
        msg.push_str(&format!("\n  - {who} left a process running: `{}`", l.command));
    }
    Err(Error::failed(msg).with_help(
        "a scriptlet must not leave a process behind: start services from their systemd unit, \
         not from %post, and wait for what a scriptlet starts",
    ))
}

/// The failure naming each smoke command that failed, its package and its output; `Ok` when all passed.
pub fn smoke_verdict(smokes: &[SmokeResult]) -> Result<()> {
    let failed: Vec<&SmokeResult> = smokes.iter().filter(|s| !s.ok).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("smoke commands failed in the installed root:");
    let mut network = false;
    for s in &failed {
        let how = match s.status {
            Some(0) => "exited 0 but did not print what was expected".to_string(),
            Some(124) | Some(137) => "timed out and was killed".to_string(),
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        };
        msg.push_str(&format!("\n  - {}: `{}` {how}", s.package, s.command));
        for line in s.output.lines().take(20) {
            msg.push_str(&format!("\n      {line}"));
        }
        network |= mentions_network(&s.output);
    }
    let mut help = String::from(
        "a smoke command sees only the installed root: no network, no build tree, no home directory; \
         files the binary reads must be installed where it looks for them",
    );
    if network {
        help = format!("the output mentions the network, which the sandbox does not have: a smoke command must not reach for it\n{help}");
    }
    Err(Error::failed(msg).with_help(help))
}

/// What an allocation refused by RLIMIT_DATA makes C, the shell and Python say.
fn mentions_memory(output: &str) -> bool {
    ["Cannot allocate memory", "memory exhausted", "MemoryError", "out of memory", "Out of memory"]
        .iter()
        .any(|m| output.contains(m))
}

fn mentions_network(output: &str) -> bool {
    ["Network is unreachable", "Connection refused", "name resolution", "Could not resolve", "connect:"]
        .iter()
        .any(|m| output.contains(m))
}

fn command<'a>(sh: &'a Shell, argv: &[String]) -> xshell::Cmd<'a> {
    sh.cmd(&argv[0]).args(&argv[1..])
}

fn shell() -> Result<Shell> {
    Shell::new().map_err(exec::command_error)
}

/// An argument vector as a shell would need it typed (for plans and messages only).
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names() {
        assert_eq!("sandbox".parse::<Backend>().unwrap(), Backend::Sandbox);
        assert_eq!("mock".parse::<Backend>().unwrap(), Backend::Mock);
        assert_eq!("chroot".parse::<Backend>().unwrap_err().exit_code(), 2);
        assert_eq!(Backend::choose(Some(Backend::Mock)), Backend::Mock);
    }

    #[test]
    fn quotes_words_for_display() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo 'hi'".into(), "".into()];
        assert_eq!(shell_words(&argv), r#"sh -c 'echo '\''hi'\''' ''"#);
    }

    #[test]
    fn smoke_failures_name_package_and_command() {
        let result = |ok, status, output: &str| SmokeResult {
            package: "web".into(),
            command: "web --version".into(),
            output: output.into(),
            duration: Duration::ZERO,
            status,
            ok,
        };
        assert!(smoke_verdict(&[result(true, Some(0), "web 1.0")]).is_ok());
        let err = smoke_verdict(&[result(false, Some(1), "bash: connect: Network is unreachable")]).unwrap_err();
        assert!(err.message.contains("web: `web --version` exited with status 1"), "{}", err.message);
        assert!(err.help.unwrap().contains("network"));
    }
}
