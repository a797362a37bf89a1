//! Reading dnf's and rpm's output: they print what went wrong in prose, and some of it
//! (a failed `%post`) with exit status 0. Pure functions over the captured text, and the
//! failures they make.

use crate::error::{Error, Result};

/// A Requires nothing in the collection or the base system provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// NEVRA of the package that needs it, as dnf prints it.
    pub package: String,
    pub requirement: String,
}

/// libsolv's problem lines: `- nothing provides X needed by NEVRA[ from REPO]`.
pub fn unmet_requires(output: &str) -> Vec<Unmet> {
    let mut found = Vec::new();
    for line in output.lines() {
        let line = line.trim_start().trim_start_matches("- ").trim();
        let Some(rest) = line.strip_prefix("nothing provides ") else { continue };
        let Some((requirement, by)) = rest.rsplit_once(" needed by ") else { continue };
        let package = by.split(" from ").next().unwrap_or(by).trim().to_string();
        let unmet = Unmet { package, requirement: requirement.trim().to_string() };
        if !found.contains(&unmet) {
            found.push(unmet);
        }
    }
    found
}

/// Names given to `dnf install` that no package in the repository has.
pub fn no_match(output: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in output.lines() {
        if let Some(name) = line.trim().strip_prefix("No match for argument: ") {
            let name = name.trim().to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The other problem lines libsolv prints (conflicts, broken providers), for messages
/// when no `nothing provides` line explains the failure.
pub fn problems(output: &str) -> Vec<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") || l.starts_with("Problem") || l.starts_with("Error:"))
        .filter(|l| *l != "Error:")
        .map(str::to_string)
        .collect()
}

/// A scriptlet that failed during the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptletFailure {
    /// NEVRA when rpm named it, else the name dnf printed.
    pub package: String,
    /// `%post`, `%pre`, `%posttrans`... (rpm's name for it).
    pub scriptlet: String,
    pub exit_status: Option<i32>,
    /// What the scriptlet printed (the lines between dnf's `Running scriptlet` and rpm's verdict).
    pub output: Vec<String>,
}

/// rpm: `warning: %post(NEVRA) scriptlet failed, exit status N` (or `error:` for `%pre`,
/// which aborts the package); dnf: `Error in POSTIN scriptlet in rpm package NAME`.
/// dnf's line only counts when rpm's did not already report the same failure.
pub fn scriptlet_failures(output: &str) -> Vec<ScriptletFailure> {
    let mut found: Vec<ScriptletFailure> = Vec::new();
    let mut since_running: Vec<String> = Vec::new();
    for raw in output.lines() {
        let line = raw.trim();
        if line.starts_with("Running scriptlet:") || line.starts_with("Installing") || line.starts_with("Preparing") {
            since_running.clear();
            continue;
        }
        if let Some(failure) = rpm_scriptlet_line(line) {
            let mut failure = failure;
            failure.output = std::mem::take(&mut since_running);
            found.push(failure);
            continue;
        }
        if let Some((tag, name)) = dnf_scriptlet_line(line) {
            let scriptlet = scriptlet_from_tag(&tag);
            let already = found.iter().any(|f| f.scriptlet == scriptlet && nevra_has_name(&f.package, &name));
            if !already {
                found.push(ScriptletFailure { package: name, scriptlet, exit_status: None, output: Vec::new() });
            }
            continue;
        }
        if !line.is_empty() && !line.starts_with("Verifying") {
            since_running.push(line.to_string());
        }
    }
    found
}

fn rpm_scriptlet_line(line: &str) -> Option<ScriptletFailure> {
    let rest = line.strip_prefix("warning: ").or_else(|| line.strip_prefix("error: "))?;
    let (head, status) = rest.split_once(" scriptlet failed")?;
    let (scriptlet, package) = head.split_once('(')?;
    let package = package.strip_suffix(')')?;
    if !scriptlet.starts_with('%') {
        return None;
    }
    let exit_status = status.rsplit_once("exit status ").and_then(|(_, n)| n.trim().parse().ok());
    Some(ScriptletFailure {
        package: package.to_string(),
        scriptlet: scriptlet.to_string(),
        exit_status,
        output: Vec::new(),
    })
}

fn dnf_scriptlet_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("Error in ")?;
    let (tag, name) = rest.split_once(" scriptlet in rpm package ")?;
    Some((tag.trim().to_string(), name.trim().to_string()))
}

/// dnf prints rpm's header tag (`POSTIN`); users know the spec section (`%post`).
fn scriptlet_from_tag(tag: &str) -> String {
    let name = match tag {
        "PREIN" => "pre",
        "POSTIN" => "post",
        "PREUN" => "preun",
        "POSTUN" => "postun",
        "PRETRANS" => "pretrans",
        "POSTTRANS" => "posttrans",
        "TRIGGERIN" => "triggerin",
        "TRIGGERUN" => "triggerun",
        "TRIGGERPOSTUN" => "triggerpostun",
        other => return format!("%{}", other.to_lowercase()),
    };
    format!("%{name}")
}

/// Whether `nevra` (`name-version-release.arch`) is a build of package `name`.
pub fn nevra_has_name(nevra: &str, name: &str) -> bool {
    nevra == name || name_of(nevra) == name
}

/// The name part of a NEVRA: everything before the last two `-` (names may contain `-`).
pub fn name_of(nevra: &str) -> &str {
    nevra.rsplitn(3, '-').nth(2).unwrap_or(nevra)
}

/// A scriptlet rpm ran in its own process, from rpm's debug line
/// `D: %post(NEVRA): execv(/bin/sh) pid N` (dnf's `--rpmverbosity=debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptletRun {
    pub scriptlet: String,
    pub package: String,
    /// Its PID in the sandbox's PID namespace.
    pub pid: u32,
}

pub fn scriptlet_runs(output: &str) -> Vec<ScriptletRun> {
    let mut runs = Vec::new();
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("D: %") else { continue };
        let Some((head, exec)) = rest.split_once("): execv(") else { continue };
        let Some((scriptlet, package)) = head.split_once('(') else { continue };
        let Some(pid) = exec.rsplit_once(") pid ").and_then(|(_, p)| p.trim().parse().ok()) else { continue };
        runs.push(ScriptletRun { scriptlet: format!("%{scriptlet}"), package: package.to_string(), pid });
    }
    runs
}

/// The scriptlet running when the output ends: started (`execv`) and not waited for (rpm's
/// `D: %post(NEVRA): waitpid(N) rc N status ...` comes when it ends).
pub fn running_scriptlet(output: &str) -> Option<ScriptletRun> {
    scriptlet_runs(output).into_iter().rev().find(|run| {
        let ended = format!("): waitpid({})", run.pid);
        !output.lines().any(|l| l.trim().starts_with("D: %") && l.contains(&ended))
    })
}

/// The package of the last scriptlet dnf said it runs (`  Running scriptlet: NEVRA  2/2`):
/// what ran when the output ends, where rpm's own debug lines did not reach the pipe yet.
pub fn last_dnf_scriptlet(output: &str) -> Option<String> {
    output.lines().rev().find_map(|l| {
        l.trim().strip_prefix("Running scriptlet:").and_then(|rest| rest.split_whitespace().next()).map(String::from)
    })
}

/// A process still running in the sandbox when its command was done, as the supervisor
/// reported it ([`super::confine::LEFT_RUNNING`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub pid: u32,
    pub command: String,
}

pub fn leftovers(output: &str) -> Vec<Leftover> {
    let mut found = Vec::new();
    for line in output.lines() {
        let Some(rest) = line.strip_prefix(super::confine::LEFT_RUNNING) else { continue };
        let Some((pid, command)) = rest.trim_start().split_once(": ") else { continue };
        let Ok(pid) = pid.parse() else { continue };
        found.push(Leftover { pid, command: command.trim().to_string() });
    }
    found
}

/// The scriptlet that started a leftover process: the last one started before it. PIDs are
/// handed out in increasing order in the sandbox's fresh PID namespace and rpm runs one
/// scriptlet at a time, so a process with PID p was started while the scriptlet with the
/// greatest PID not above p ran (by it, or by something it started). `None`: before any
/// scriptlet (dnf or rpm itself).
pub fn started_by<'a>(leftover: &Leftover, runs: &'a [ScriptletRun]) -> Option<&'a ScriptletRun> {
    runs.iter().filter(|r| r.pid <= leftover.pid).max_by_key(|r| r.pid)
}

/// The output without rpm's debug lines (`D: ...`), which only [`scriptlet_runs`] reads.
pub fn without_debug(output: &str) -> String {
    output.lines().filter(|l| !l.starts_with("D: ")).map(|l| format!("{l}\n")).collect()
}

/// Lines of rpm's own chatter that say nothing about the packages (Debian's rpm warns that
/// dpkg owns the system, every time).
pub fn is_noise(line: &str) -> bool {
    let line = line.trim();
    line.is_empty()
        || line.starts_with("rpm: RPM should not be used directly")
        || line.starts_with("rpm: However assuming you know what you are doing")
}

/// The last `n` meaningful lines of some output, for an error's context.
pub fn tail(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !is_noise(l)).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The failure of an install, read from its output (`ok`: dnf's exit status was 0): unmet
/// Requires, packages not in the collection, the resolver's problems, failed scriptlets (dnf and
/// rpm exit 0 for them; with a word on the memory limit, `memory_mib`, where the output speaks
/// of memory); `Ok` when none.
pub fn install_failure(packages: &[String], output: &str, ok: bool, memory_mib: u64) -> Result<()> {
    let text = without_debug(output);
    let unmet = unmet_requires(&text);
    if !unmet.is_empty() {
        let list: String = unmet.iter().map(|u| format!("\n  - {} requires `{}`", u.package, u.requirement)).collect();
        return Err(Error::failed(format!(
            "dependencies of the collection are not met; nothing in the collection or the host's base system provides:{list}"
        ))
        .with_help(
            "add the package that provides it to the collection, or fix the package's Requires \
             (see them with `rpm -qp --requires FILE`)",
        ));
    }
    let missing = no_match(&text);
    if !missing.is_empty() {
        return Err(Error::failed(format!(
            "no package in the collection is named {}",
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        ))
        .with_help("check the packaged names build_rpms wrote in the collection's manifest"));
    }
    if !ok {
        // libsolv's problem lines when the resolver said no; else what rpm said last.
        let why = match problems(&text) {
            p if p.iter().any(|l| l.starts_with("- ")) => p.join("\n"),
            _ => tail(&text, 15),
        };
        return Err(Error::failed(format!("dnf could not install {} into the root:\n{why}", packages.join(" "))));
    }
    let failures = scriptlet_failures(&text);
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
                memory_mib,
                super::Limits::MEMORY_VAR
            ));
        }
        return Err(Error::failed(msg).with_help(help));
    }
    Ok(())
}

/// The failure naming each process `what` left running in the sandbox (killed with it when
/// the command ended), and the scriptlet that started it where rpm said; `Ok` when none.
pub fn leftovers_fail(output: &str, what: &str) -> Result<()> {
    let left = leftovers(output);
    if left.is_empty() {
        return Ok(());
    }
    let runs = scriptlet_runs(output);
    let mut msg = format!("{what} left processes running in the sandbox (they were killed with it):");
    for l in &left {
        let who = match started_by(l, &runs) {
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

/// What an allocation refused by RLIMIT_DATA makes C, the shell and Python say.
fn mentions_memory(output: &str) -> bool {
    ["Cannot allocate memory", "memory exhausted", "MemoryError", "out of memory", "Out of memory"]
        .iter()
        .any(|m| output.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNMET: &str = "Added trainyard repo from /x/repo\n\
        Error: \n Problem: conflicting requests\n\
        \x20 - nothing provides libnothere.so.1()(64bit) needed by needs-lib-1.0-1.x86_64 from trainyard\n\
        \x20 - nothing provides other-pkg = 9.9 needed by needs-other-1-1.noarch\n\
        (try to add '--skip-broken' to skip uninstallable packages)\n";

    #[test]
    fn reads_unmet_requires() {
        assert_eq!(
            unmet_requires(UNMET),
            vec![
                Unmet { package: "needs-lib-1.0-1.x86_64".into(), requirement: "libnothere.so.1()(64bit)".into() },
                Unmet { package: "needs-other-1-1.noarch".into(), requirement: "other-pkg = 9.9".into() },
            ]
        );
        assert!(unmet_requires("Complete!\n").is_empty());
    }

    #[test]
    fn reads_no_match() {
        let out = "No match for argument: ghost\nError: Unable to find a match: ghost\n";
        assert_eq!(no_match(out), vec!["ghost".to_string()]);
    }

    #[test]
    fn reads_scriptlet_failures_once_with_their_output() {
        let out = "  Installing       : badpost-1-1.noarch  1/1\n\
                   \x20 Running scriptlet: badpost-1-1.noarch  1/1\n\
                   about to fail\n\
                   warning: %post(badpost-1-1.noarch) scriptlet failed, exit status 3\n\
                   \n  Verifying        : badpost-1-1.noarch 1/1\n\
                   Complete!\n\
                   Error in POSTIN scriptlet in rpm package badpost\n";
        let found = scriptlet_failures(out);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].package, "badpost-1-1.noarch");
        assert_eq!(found[0].scriptlet, "%post");
        assert_eq!(found[0].exit_status, Some(3));
        assert_eq!(found[0].output, vec!["about to fail".to_string()]);
    }

    #[test]
    fn dnf_line_alone_is_a_failure() {
        let found = scriptlet_failures("Error in PREUN scriptlet in rpm package old\n");
        assert_eq!(found[0].package, "old");
        assert_eq!(found[0].scriptlet, "%preun");
        assert!(scriptlet_failures("Running scriptlet: ok-1-1.noarch\nComplete!\n").is_empty());
    }

    #[test]
    fn nevra_names() {
        assert!(nevra_has_name("badpost-1-1.noarch", "badpost"));
        assert!(nevra_has_name("bad-post-1.0-1.x86_64", "bad-post"));
        assert!(!nevra_has_name("badpost2-1-1.noarch", "badpost"));
        assert!(!nevra_has_name("bad-post-1.0-1.x86_64", "bad"));
    }

    #[test]
    fn names_the_scriptlet_that_started_a_leftover_process() {
        let out = "D: %prein(a-1-1.noarch): scriptlet start\n\
                   D: %prein(a-1-1.noarch): execv(/bin/sh) pid 8\n\
                   D: %post(b-2-1.x86_64): execv(/bin/sh) pid 11\n\
                   trainyard-sandbox: left running: 12: sleep 1000 \n\
                   trainyard-sandbox: left running: 5: dnf-helper\n\
                   trainyard-sandbox: left running: x: nonsense\n";
        let runs = scriptlet_runs(out);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1], ScriptletRun { scriptlet: "%post".into(), package: "b-2-1.x86_64".into(), pid: 11 });
        let left = leftovers(out);
        assert_eq!(
            left,
            vec![Leftover { pid: 12, command: "sleep 1000".into() }, Leftover { pid: 5, command: "dnf-helper".into() }]
        );
        assert_eq!(started_by(&left[0], &runs).unwrap().package, "b-2-1.x86_64");
        assert_eq!(started_by(&left[1], &runs), None);
        assert_eq!(without_debug(out).lines().count(), 3);
    }
}
