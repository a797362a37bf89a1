//! One sandbox session: the local repository, the fresh root, the installs, `rpm -V` and the
//! smoke commands, each process started here (the executor delegates the install test to this
//! module: its commands depend on what the previous ones printed, so they are not a plan).

use super::*;

pub(super) struct Sandbox {
    pub(super) root: Root,
    pub(super) privilege: Privilege,
    pub(super) effects: Effects,
    pub(super) sh: Shell,
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
    pub(super) fn repo_dir(&self) -> Utf8PathBuf {
        self.root.run_dir.join("repo")
    }

    pub(super) fn install_and_smoke(&self, test: &InstallTest, report: &mut Report) -> Result<()> {
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
        std::fs::write(&conf, "[main]\ngpgcheck=0\ninstall_weak_deps=False\nbest=True\n").map_err(io(&conf))?;
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
    pub(super) fn rpm(&self, args: &[&str]) -> Vec<String> {
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

    /// dnf inside the sandbox: the root is `/`, the run's files are under [`confine::CONTROL`].
    pub(super) fn dnf_install(&self, packages: &[String]) -> Vec<String> {
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

    pub(super) fn install(&self, packages: &[String]) -> Result<()> {
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

    pub(super) fn diagnose_install(&self, packages: &[String], out: &Output) -> Result<()> {
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
            return Err(Error::failed(msg).with_help(
                "a scriptlet must exit 0; fix it where the package's scripts come from \
                 (post_install_script and friends in [package.metadata.trainyard.rpm], or the spec)",
            ));
        }
        Ok(())
    }

    /// NEVRAs installed in the root, apart from the base package.
    pub(super) fn installed(&self) -> Result<Vec<String>> {
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

    pub(super) fn verify(&self, installed: &[String]) -> Result<()> {
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

    pub(super) fn smoke_argv(&self, smoke: &Smoke, timeout: Duration) -> Vec<String> {
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

    pub(super) fn smoke(&self, smoke: &Smoke, timeout: Duration) -> Result<SmokeResult> {
        let started = Instant::now();
        let out = self.spawn(&self.root.wrap(self.privilege, self.smoke_argv(smoke, timeout)))?;
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
    pub(super) fn in_root(&self, command: Vec<String>) -> Result<Output> {
        if !self.effects.quiet {
            eprintln!("$ [in the sandbox] {}", shell_words(&command));
        }
        let out = self.spawn(&self.sandboxed(command))?;
        if out.status == Some(root::MOUNT_FAILED) {
            return Err(Error::failed(format!("could not mount the root's overlay:\n{}", out.stderr)));
        }
        Ok(out)
    }

    /// The whole argument vector of a command inside the sandbox: the overlay's mount
    /// namespace, bwrap, the supervisor, the command.
    pub(super) fn sandboxed(&self, command: Vec<String>) -> Vec<String> {
        let mut inner = confine::bwrap(&self.root.tree, &self.binds(), false);
        inner.extend(confine::supervised(command));
        self.root.wrap(self.privilege, inner)
    }

    pub(super) fn exec(&self, argv: &[String]) -> Result<Output> {
        if !self.effects.quiet {
            eprintln!("$ {}", shell_words(argv));
        }
        self.spawn(argv)
    }

    pub(super) fn spawn(&self, argv: &[String]) -> Result<Output> {
        let cmd = command(&self.sh, argv)
            .env("LC_ALL", "C.UTF-8")
            .env("TRAINYARD_OVERLAY_OPTS", Root::overlay_opts(self.privilege));
        let out = cmd.quiet().ignore_status().output().map_err(exec::command_error)?;
        Ok(Output {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The sandbox the install ran in (the run's directory is kept with the root), with a shell.
    pub(super) fn enter_command(&self) -> Vec<String> {
        let mut inner = confine::bwrap(&self.root.tree, &self.binds(), true);
        inner.push("/bin/sh".into());
        self.root.wrap(self.privilege, inner)
    }

    pub(super) fn print_plan(&self, test: &InstallTest) -> Result<()> {
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
            say(shell_words(&self.root.wrap(self.privilege, self.smoke_argv(smoke, test.smoke_timeout))));
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
pub(super) fn leftovers_fail(out: &Output, what: &str) -> Result<()> {
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

pub(super) fn command<'a>(sh: &'a Shell, argv: &[String]) -> xshell::Cmd<'a> {
    sh.cmd(&argv[0]).args(&argv[1..])
}

pub(super) fn shell() -> Result<Shell> {
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
