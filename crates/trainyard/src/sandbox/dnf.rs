//! dnf as the sandbox runs it: its own configuration and an empty repository directory, so
//! that no repository, plugin or cache of the host's takes part, and the install command line.

use super::confine;

/// `dnf.conf` of a run, shown in the sandbox as `CONTROL/dnf.conf`.
pub const CONF: &str = "[main]\ngpgcheck=0\ninstall_weak_deps=False\nbest=True\n";

/// dnf inside the sandbox: the root is `/`, the run's files are under [`confine::CONTROL`].
pub fn install(packages: &[String]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_from_the_run_s_repository_only() {
        let argv = install(&["web".into()]);
        assert_eq!(&argv[..3], &["dnf", "--installroot", "/"]);
        assert!(argv.contains(&"--disablerepo=*".to_string()));
        assert!(argv.contains(&format!("--repofrompath=trainyard,{}/repo", confine::CONTROL)));
        assert_eq!(argv.last().unwrap(), "web");
    }
}
