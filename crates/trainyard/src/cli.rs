//! The command line: `<target> [WORDS] [VAR=value ...] [--flags] [-- PASSTHROUGH]`.
//!
//! Make's habits: `VAR=value` words after the target, the same variables read
//! from the environment, the command line winning. Everything here is pure:
//! the environment is passed in.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A flag a target accepts.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    /// Long name without dashes: `dry-run`.
    pub name: &'static str,
    /// Name of the value (`FILE`), or `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
    /// When set, the flag is another spelling of this variable (`--channel` = `CHANNEL`).
    pub var: Option<&'static str>,
}

/// The variables a target reads, besides the internal projects'.
#[derive(Debug, Clone, Copy)]
pub struct VarSpec {
    pub name: &'static str,
    pub help: &'static str,
}

/// What a target accepts; drives parsing and `--help`.
#[derive(Debug, Clone, Copy)]
pub struct TargetSpec {
    pub name: &'static str,
    pub summary: &'static str,
    /// Usage line after the program and target name.
    pub usage: &'static str,
    /// Longer description for `--help`.
    pub about: &'static str,
    pub vars: &'static [VarSpec],
    pub flags: &'static [FlagSpec],
    /// Whether `PROJECT=ref` words for internal projects apply.
    pub takes_projects: bool,
    /// Maximum number of positional words.
    pub max_positional: usize,
    /// Whether words after `--` are passed through.
    pub passthrough: bool,
}

pub const DRY_RUN: FlagSpec = FlagSpec {
    name: "dry-run",
    value: None,
    help: "print the plan (every command, every file) and change nothing",
    var: None,
};

/// Where a variable's value came from (the command line wins, as with make).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    CommandLine,
    Environment,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::CommandLine => "command line",
            Origin::Environment => "environment",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub value: String,
    pub origin: Origin,
}

/// A parsed invocation of one target.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub positional: Vec<String>,
    pub vars: BTreeMap<String, Var>,
    flags: BTreeMap<&'static str, Vec<String>>,
    pub passthrough: Vec<String>,
    pub help: bool,
}

impl Args {
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains_key(name)
    }
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags.get(name).and_then(|v| v.last()).map(String::as_str)
    }
    pub fn values(&self, name: &str) -> &[String] {
        self.flags.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    pub fn dry_run(&self) -> bool {
        self.flag("dry-run")
    }
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }
    /// The value of `--name` through `parse` (a typed value: a format, a trigger, a path), its
    /// error naming the option; `None` when the option is absent.
    pub fn parsed<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
        self.value(name).map(|v| parse(v).map_err(|e| e.context(format!("--{name} {}", shown(v))))).transpose()
    }
}

/// A target's own options, parsed once from the words the command line gave it: the target then
/// reads typed fields, never `flag("name")` strings. Every problem is a usage error (exit 2).
pub trait Options: Sized {
    fn parse(args: &Args) -> Result<Self>;
}

/// A value as messages show it: control characters (NUL, ESC, newlines) escaped, so that
/// no input can drive the terminal.
pub fn shown(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// True for words that look like `NAME=value` with an upper-case make-style name.
fn split_var(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    (first.is_ascii_uppercase() && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .then_some((name, value))
}

/// Parses the words after the target name.
///
/// `project_vars` are the variables of the internal projects (and of the workspace
/// itself); `global_vars` are every variable any target knows, so that a known
/// variable given to a target that does not use it is told apart from a typo.
pub fn parse(
    spec: &TargetSpec,
    words: &[String],
    project_vars: &[String],
    global_vars: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Args, Vec<String>)> {
    let mut args = Args::default();
    let mut notes = Vec::new();
    let mut known: Vec<String> = spec.vars.iter().map(|v| v.name.to_string()).collect();
    if spec.takes_projects {
        known.extend(project_vars.iter().cloned());
    }
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if word == "--" {
            if !spec.passthrough {
                return Err(Error::usage(format!("`{}` takes no arguments after `--`", spec.name)));
            }
            args.passthrough.extend(iter.by_ref().cloned());
            break;
        }
        if word == "--help" || word == "-h" {
            args.help = true;
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(flag) = spec.flags.iter().find(|f| f.name == name) else {
                let mut names: Vec<String> = spec.flags.iter().map(|f| format!("--{}", f.name)).collect();
                names.push("--help".into());
                return Err(Error::usage(format!("unknown option `--{name}` for `{}`", spec.name)).with_help(format!(
                    "`{}` accepts: {}",
                    spec.name,
                    names.join(", ")
                )));
            };
            let value = match (flag.value, inline) {
                (None, None) => String::new(),
                (None, Some(_)) => {
                    return Err(Error::usage(format!("option `--{name}` takes no value")));
                }
                (Some(_), Some(v)) => v,
                (Some(meta), None) => match iter.next() {
                    // `--out --dry-run` is a forgotten value, not a directory named `--dry-run`.
                    Some(v) if v.starts_with('-') && v.len() > 1 => {
                        return Err(Error::usage(format!(
                            "option `--{name}` needs a value, and `{}` looks like an option",
                            shown(v)
                        ))
                        .with_help(format!(
                            "give the value: --{name} {meta}; a value that starts with `-` goes after `=`: --{name}={}",
                            shown(v)
                        )));
                    }
                    Some(v) => v.clone(),
                    None => {
                        return Err(Error::usage(format!("option `--{name}` needs a value: --{name} {meta}")));
                    }
                },
            };
            if let (Some(meta), true) = (flag.value, value.trim().is_empty()) {
                return Err(Error::usage(format!("option `--{name}` needs a value, and it is empty"))
                    .with_help(format!("give the value: --{name} {meta}")));
            }
            if let Some(var) = flag.var {
                args.vars.insert(var.to_string(), Var { value, origin: Origin::CommandLine });
            } else {
                args.flags.entry(flag.name).or_default().push(value);
            }
            continue;
        }
        if word.starts_with('-') && word.len() > 1 {
            return Err(Error::usage(format!("unknown option `{}` for `{}`", shown(word), spec.name))
                .with_help(format!("see `{} --help`", spec.name)));
        }
        if let Some((name, value)) = split_var(word) {
            if known.iter().any(|k| k == name) {
                args.vars.insert(name.to_string(), Var { value: value.to_string(), origin: Origin::CommandLine });
            } else if global_vars.contains(&name) || project_vars.iter().any(|p| p == name) {
                notes.push(format!("note: {name} is not used by `{}`; ignored", spec.name));
            } else {
                let mut list = known.clone();
                list.sort();
                let help = if list.is_empty() {
                    format!("`{}` takes no VAR=value words", spec.name)
                } else {
                    format!("`{}` knows: {}", spec.name, list.join(", "))
                };
                let help = match closest(name, &list) {
                    Some(near) => format!("did you mean {near}?\n{help}"),
                    None => help,
                };
                return Err(Error::usage(format!("unknown variable `{name}` in `{word}`")).with_help(help));
            }
            continue;
        }
        if args.positional.len() >= spec.max_positional {
            return Err(Error::usage(format!("unexpected argument `{word}` for `{}`", spec.name))
                .with_help(format!("usage: {} {}", spec.name, spec.usage)));
        }
        args.positional.push(word.clone());
    }
    for name in &known {
        if !args.vars.contains_key(name) {
            if let Some(value) = env(name).filter(|v| !v.is_empty()) {
                args.vars.insert(name.clone(), Var { value, origin: Origin::Environment });
            }
        }
    }
    Ok((args, notes))
}

/// The known name nearest to a typo, if it is close (edit distance <= 2).
pub fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates.iter().map(|c| (edit_distance(word, c), c)).filter(|(d, _)| *d <= 2).min().map(|(_, c)| c.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `--help` text of one target.
pub fn target_help(spec: &TargetSpec, program: &str, project_vars: &[String]) -> String {
    let mut out = format!("{}\n\nusage: {program} {} {}\n", spec.summary, spec.name, spec.usage);
    if !spec.about.is_empty() {
        out.push('\n');
        out.push_str(spec.about.trim_end());
        out.push('\n');
    }
    if !spec.vars.is_empty() || (spec.takes_projects && !project_vars.is_empty()) {
        out.push_str("\nvariables (VAR=value after the target, or from the environment):\n");
        for v in spec.vars {
            out.push_str(&format!("  {:<24} {}\n", v.name, v.help));
        }
        if spec.takes_projects {
            for p in project_vars {
                out.push_str(&format!("  {:<24} build against this internal project at REF\n", format!("{p}=REF")));
            }
        }
    }
    out.push_str("\noptions:\n");
    for f in spec.flags {
        let name = match f.value {
            Some(meta) => format!("--{} {meta}", f.name),
            None => format!("--{}", f.name),
        };
        out.push_str(&format!("  {name:<24} {}\n", f.help));
    }
    out.push_str(&format!("  {:<24} print this help\n", "-h, --help"));
    out
}

/// Project name -> make variable: `server-core` -> `SERVER_CORE`.
pub fn project_var(name: &str) -> String {
    name.chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_uppercase() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: TargetSpec = TargetSpec {
        name: "build",
        summary: "build",
        usage: "[CHANNEL=dev]",
        about: "",
        vars: &[VarSpec { name: "CHANNEL", help: "channel" }],
        flags: &[DRY_RUN, FlagSpec { name: "channel", value: Some("NAME"), help: "", var: Some("CHANNEL") }],
        takes_projects: true,
        max_positional: 0,
        passthrough: false,
    };

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn command_line_beats_environment() {
        let env = |n: &str| (n == "CHANNEL").then(|| "stage".to_string());
        let (args, _) = parse(&SPEC, &words("CHANNEL=prod"), &[], &[], &env).unwrap();
        assert_eq!(args.var("CHANNEL").unwrap(), &Var { value: "prod".into(), origin: Origin::CommandLine });
        let (args, _) = parse(&SPEC, &[], &[], &[], &env).unwrap();
        assert_eq!(args.var("CHANNEL").unwrap(), &Var { value: "stage".into(), origin: Origin::Environment });
    }

    #[test]
    fn flag_spelling_of_a_variable() {
        let (args, _) = parse(&SPEC, &words("--channel prod --dry-run"), &[], &[], &no_env).unwrap();
        assert_eq!(args.var("CHANNEL").unwrap().value, "prod");
        assert!(args.dry_run());
        let (args, _) = parse(&SPEC, &words("--channel=stage"), &[], &[], &no_env).unwrap();
        assert_eq!(args.var("CHANNEL").unwrap().value, "stage");
    }

    #[test]
    fn unknown_variable_lists_known_ones_and_suggests() {
        let err = parse(&SPEC, &words("CHANEL=prod"), &["SERVER_CORE".into()], &[], &no_env).unwrap_err();
        assert!(err.message.contains("unknown variable `CHANEL`"), "{}", err.message);
        let help = err.help.unwrap();
        assert!(help.contains("did you mean CHANNEL?"), "{help}");
        assert!(help.contains("CHANNEL, SERVER_CORE"), "{help}");
    }

    #[test]
    fn known_variable_of_another_target_is_a_note() {
        let (_, notes) = parse(&SPEC, &words("RPM_CHANNEL=prod"), &[], &["RPM_CHANNEL"], &no_env).unwrap();
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn project_variables_and_unknown_flags() {
        let (args, _) = parse(&SPEC, &words("SERVER_CORE=rpm-2.0"), &["SERVER_CORE".into()], &[], &no_env).unwrap();
        assert_eq!(args.var("SERVER_CORE").unwrap().value, "rpm-2.0");
        assert!(parse(&SPEC, &words("--frobnicate"), &[], &[], &no_env).is_err());
        assert!(parse(&SPEC, &words("extra"), &[], &[], &no_env).is_err());
        assert!(parse(&SPEC, &words("--channel"), &[], &[], &no_env).is_err());
        assert!(parse(&SPEC, &words("-x"), &[], &[], &no_env).is_err());
    }

    #[test]
    fn typed_values_name_their_option_when_wrong() {
        let spec =
            TargetSpec { flags: &[FlagSpec { name: "format", value: Some("FORMAT"), help: "", var: None }], ..SPEC };
        let parse = |v: &str| match v {
            "json" => Ok(1),
            _ => Err(Error::usage(format!("unknown format `{v}`"))),
        };
        let (args, _) = parse_words(&spec, "--format json");
        assert_eq!(args.parsed("format", parse).unwrap(), Some(1));
        let (args, _) = parse_words(&spec, "");
        assert_eq!(args.parsed("format", parse).unwrap(), None);
        let (args, _) = parse_words(&spec, "--format xml");
        let err = args.parsed("format", parse).unwrap_err();
        assert_eq!(err.message, "--format xml: unknown format `xml`");
        assert_eq!(err.exit_code(), 2);
    }

    fn parse_words(spec: &TargetSpec, s: &str) -> (Args, Vec<String>) {
        parse(spec, &words(s), &[], &[], &no_env).unwrap()
    }

    #[test]
    fn lower_case_words_are_positional_not_variables() {
        assert_eq!(split_var("server=1"), None);
        assert_eq!(split_var("A_1=x=y"), Some(("A_1", "x=y")));
    }

    #[test]
    fn project_variable_names() {
        assert_eq!(project_var("server-core"), "SERVER_CORE");
        assert_eq!(project_var("account_portal"), "ACCOUNT_PORTAL");
    }
}
