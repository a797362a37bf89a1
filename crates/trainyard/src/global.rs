//! Options every target takes, as cargo's do: `-q`, `-v`, `--color`, `--manifest-path`,
//! `--locked`, `--offline`, `--frozen`, `-j`. They may stand anywhere before `--`, and are
//! taken out of the words before a target parses its own.

use std::sync::OnceLock;

use camino::Utf8PathBuf;

use crate::error::{Error, Result};
use crate::ui::ColorChoice;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Global {
    /// -1 with `-q`, else the number of `-v`; `-q` and `-v` together are refused.
    pub verbosity: i8,
    pub color: Option<ColorChoice>,
    pub manifest_path: Option<Utf8PathBuf>,
    pub locked: bool,
    pub offline: bool,
    pub frozen: bool,
    pub jobs: Option<String>,
    /// `--message-format json`.
    pub json: bool,
}

/// (flag, value name, help) of each global option, for `--help`, completions and man pages.
pub const OPTIONS: &[(&str, Option<&str>, &str)] = &[
    ("-q, --quiet", None, "print only errors and the result (cargo too)"),
    ("-v, --verbose", None, "print each command run; -vv: every cargo verbose too (CARGO_TERM_VERBOSE)"),
    ("--color", Some("WHEN"), "colour: auto, always, never (NO_COLOR, CARGO_TERM_COLOR)"),
    ("--manifest-path", Some("PATH"), "the workspace's Cargo.toml (default: found from here)"),
    ("--locked", None, "passed to cargo: the lock file must not change"),
    ("--offline", None, "passed to cargo: no network"),
    ("--frozen", None, "passed to cargo: --locked and --offline"),
    ("-j, --jobs", Some("N"), "passed to cargo: parallel jobs"),
    (
        "--message-format",
        Some("FMT"),
        "human (default) or json: events on stdout, one a line (build, build_rpms, mock, release)",
    ),
];

/// The targets that speak `--message-format json`.
pub const JSON_TARGETS: &[&str] = &["build", "build_rpms", "mock", "release"];

/// The `global options:` section of `--help`.
pub fn help_section() -> String {
    let mut out = String::from("\nglobal options (anywhere before `--`, as cargo's):\n");
    for (flag, value, help) in OPTIONS {
        let name = match value {
            Some(v) => format!("{flag} {v}"),
            None => flag.to_string(),
        };
        out.push_str(&format!("  {name:<24} {help}\n"));
    }
    out
}

/// Takes the global options out of `words` (before `--`), returning them and the rest.
pub fn extract(words: &[String]) -> Result<(Global, Vec<String>)> {
    let mut g = Global::default();
    let mut rest = Vec::new();
    let (mut verbose, mut quiet) = (0i8, false);
    let mut iter = words.iter();
    let value_of = |name: &str, inline: Option<&str>, next: Option<&String>| -> Result<(String, bool)> {
        match (inline, next) {
            (Some(v), _) => Ok((v.to_string(), false)),
            (None, Some(v)) if !v.starts_with('-') || v.parse::<i64>().is_ok() => Ok((v.clone(), true)),
            _ => Err(Error::usage(format!("option `{name}` needs a value"))
                .with_help(format!("for example: {name} {}", example(name)))),
        }
    };
    while let Some(word) = iter.next() {
        if word == "--" {
            rest.push(word.clone());
            rest.extend(iter.by_ref().cloned());
            break;
        }
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (word.as_str(), None),
        };
        let takes_value = matches!(name, "--color" | "--manifest-path" | "--jobs" | "-j" | "--message-format");
        let mut next_used = false;
        let value = if takes_value {
            let peek = if inline.is_none() { iter.as_slice().first() } else { None };
            let (v, used) = value_of(name, inline, peek)?;
            next_used = used;
            Some(v)
        } else {
            None
        };
        match name {
            "-q" | "--quiet" => quiet = true,
            "--verbose" => verbose += 1,
            w if w.len() > 1 && w.starts_with('-') && !w.starts_with("--") && w[1..].chars().all(|c| c == 'v') => {
                verbose += (w.len() - 1) as i8
            }
            "--color" => {
                let v = value.unwrap_or_default();
                g.color = Some(ColorChoice::parse(&v).ok_or_else(|| {
                    Error::usage(format!("`--color {v}` is not auto, always or never"))
                        .with_help("--color auto|always|never")
                })?);
            }
            "--manifest-path" => {
                let v = Utf8PathBuf::from(value.unwrap_or_default());
                if v.file_name() != Some("Cargo.toml") {
                    return Err(Error::usage(format!("`--manifest-path {v}` is not a Cargo.toml"))
                        .with_help("give the path of the workspace's Cargo.toml"));
                }
                g.manifest_path = Some(v);
            }
            "--message-format" => {
                g.json = match value.unwrap_or_default().as_str() {
                    "json" => true,
                    "human" => false,
                    other => {
                        return Err(Error::usage(format!("`--message-format {other}` is not human or json"))
                            .with_help("--message-format human|json"))
                    }
                }
            }
            "--locked" => g.locked = true,
            "--offline" => g.offline = true,
            "--frozen" => g.frozen = true,
            "-j" | "--jobs" => g.jobs = Some(jobs(&value.unwrap_or_default())?),
            w if w.starts_with("-j") && w.len() > 2 => g.jobs = Some(jobs(&w[2..])?),
            _ => rest.push(word.clone()),
        }
        if next_used {
            iter.next();
        }
    }
    if verbose > 2 {
        return Err(Error::usage(format!("-{} is more verbose than trainyard gets", "v".repeat(verbose as usize)))
            .with_help("-v shows the commands trainyard runs, -vv also makes every cargo verbose"));
    }
    if quiet && verbose > 0 {
        return Err(Error::usage("`--quiet` and `--verbose` contradict each other").with_help("give one of them"));
    }
    g.verbosity = if quiet { -1 } else { verbose };
    Ok((g, rest))
}

fn example(name: &str) -> &'static str {
    match name {
        "--color" => "auto",
        "--manifest-path" => "path/to/Cargo.toml",
        "--message-format" => "json",
        _ => "4",
    }
}

fn jobs(value: &str) -> Result<String> {
    match value.parse::<i32>() {
        Ok(n) if n != 0 => Ok(n.to_string()),
        _ => Err(Error::usage(format!("`-j {value}` is not a number of jobs"))
            .with_help("give a non-zero integer (negative: that many fewer than the CPUs), as cargo takes")),
    }
}

static GLOBAL: OnceLock<Global> = OnceLock::new();

/// Records the options for the process and hands `-j`, `--offline` and `-vv` to every cargo
/// trainyard starts, through cargo's own environment (`CARGO_BUILD_JOBS`, `CARGO_NET_OFFLINE`,
/// `CARGO_TERM_VERBOSE`):
/// that reaches every cargo command, nested ones included. Called once, before any thread.
pub fn apply(g: Global) {
    if g.offline || g.frozen {
        std::env::set_var("CARGO_NET_OFFLINE", "true");
    }
    if let Some(jobs) = &g.jobs {
        std::env::set_var("CARGO_BUILD_JOBS", jobs);
    }
    // `-vv`: cargo's `term.verbose`, as `cargo -v` (a command's own `--quiet`, such as `cargo
    // vendor --quiet`, still wins, where `-v` beside it would be refused by cargo).
    if g.verbosity >= 2 {
        std::env::set_var("CARGO_TERM_VERBOSE", "true");
    }
    let _ = GLOBAL.set(g);
}

/// `--locked`/`--frozen` (and `-q`) as cargo arguments: `--locked` has no environment
/// spelling, so the cargo argument builder ([`crate::lockfile::LockSite::cargo_args`]) adds it.
pub fn cargo_args() -> Vec<String> {
    let g = GLOBAL.get().cloned().unwrap_or_default();
    let mut out = Vec::new();
    if g.verbosity < 0 {
        out.push("--quiet".to_string());
    }
    if g.frozen {
        out.push("--frozen".to_string());
    } else if g.locked {
        out.push("--locked".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn global_options_anywhere_before_the_passthrough() {
        let (g, rest) = extract(&words("-vv build CHANNEL=prod --color=never -j 4 --locked -- -v --locked")).unwrap();
        assert_eq!(g.verbosity, 2);
        assert_eq!(g.color, Some(ColorChoice::Never));
        assert_eq!(g.jobs.as_deref(), Some("4"));
        assert!(g.locked && !g.frozen);
        assert_eq!(rest, words("build CHANNEL=prod -- -v --locked"));
        let (g, rest) = extract(&words("-q --manifest-path a/Cargo.toml version -j2")).unwrap();
        assert_eq!((g.verbosity, g.jobs.as_deref()), (-1, Some("2")));
        assert_eq!(g.manifest_path.unwrap(), "a/Cargo.toml");
        assert_eq!(rest, words("version"));
    }

    #[test]
    fn bad_global_options_are_usage_errors() {
        for bad in [
            "-q -v",
            "-vvv",
            "-v -vv",
            "--color",
            "--color sometimes",
            "-j x",
            "-j 0",
            "--manifest-path a/b",
            "--jobs --locked",
        ] {
            let err = extract(&words(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}: {}", err.message);
            assert!(err.help.is_some(), "{bad}");
        }
    }
}
