//! `completions bash|zsh|fish`: shell completion scripts generated from the same target and
//! option definitions as `--help` (the [`crate::targets::TARGETS`] table and
//! [`crate::global::OPTIONS`]). The internal projects' variables depend on the workspace the
//! user stands in, so the scripts ask for them when completing: `trainyard completions --project-vars`.

use crate::cli::{Args, FlagSpec, Options, TargetSpec};
use crate::error::{Error, Result};
use crate::targets::TARGETS;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "completions",
    summary: "print a shell completion script: completions bash|zsh|fish",
    usage: "bash|zsh|fish | --project-vars",
    about: "bash: trainyard completions bash > /etc/bash_completion.d/trainyard\n\
            zsh:  trainyard completions zsh > \"${fpath[1]}/_trainyard\"\n\
            fish: trainyard completions fish > ~/.config/fish/completions/trainyard.fish\n\
            The scripts know the targets, their options and variables; the internal projects'\n\
            variables come from the workspace where you complete (`--project-vars` prints them).",
    vars: &[],
    flags: &[FlagSpec {
        name: "project-vars",
        value: None,
        help: "print the variables of this workspace's internal projects, one a line",
        var: None,
    }],
    takes_projects: false,
    max_positional: 1,
    passthrough: false,
};

/// What `completions` was asked.
enum CompletionsRequest {
    /// `--project-vars`: this workspace's internal projects' variables.
    ProjectVars,
    Script(Shell),
}

#[derive(Debug, Clone, Copy)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Options for CompletionsRequest {
    fn parse(args: &Args) -> Result<CompletionsRequest> {
        if args.flag("project-vars") {
            return Ok(CompletionsRequest::ProjectVars);
        }
        let shell = match args.positional.first().map(String::as_str) {
            Some("bash") => Shell::Bash,
            Some("zsh") => Shell::Zsh,
            Some("fish") => Shell::Fish,
            other => {
                let what =
                    other.map(|s| format!("`{s}` is not a shell trainyard completes")).unwrap_or("which shell?".into());
                return Err(Error::usage(what).with_help("trainyard completions bash|zsh|fish"));
            }
        };
        Ok(CompletionsRequest::Script(shell))
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let program = "trainyard";
    match CompletionsRequest::parse(&ctx.args)? {
        CompletionsRequest::ProjectVars => {
            if ctx.ws.manifest.exists() {
                for var in ctx.ws.config.project_vars() {
                    println!("{var}");
                }
            }
        }
        CompletionsRequest::Script(Shell::Bash) => print!("{}", bash(program)),
        CompletionsRequest::Script(Shell::Zsh) => print!("{}", zsh(program)),
        CompletionsRequest::Script(Shell::Fish) => print!("{}", fish(program)),
    }
    Ok(())
}

/// Words every command line may use before or after the target.
fn global_words() -> Vec<String> {
    let mut out = Vec::new();
    for (flag, _, _) in crate::global::OPTIONS {
        out.extend(flag.split(", ").map(String::from));
    }
    out
}

/// Global options that take a value.
fn global_valued() -> Vec<String> {
    crate::global::OPTIONS
        .iter()
        .filter(|(_, v, _)| v.is_some())
        .flat_map(|(f, _, _)| f.split(", "))
        .map(String::from)
        .collect()
}

fn flag_words(flags: &[FlagSpec]) -> Vec<String> {
    let mut out: Vec<String> = flags.iter().map(|f| format!("--{}", f.name)).collect();
    out.push("--help".into());
    out
}

fn target_names() -> Vec<&'static str> {
    TARGETS.iter().map(|t| t.spec.name).collect()
}

/// The values a variable takes, when the table knows them (`CHANNEL=dev|stage|prod` in help).
fn var_values(name: &str) -> &'static [&'static str] {
    match name {
        "CHANNEL" | "RPM_CHANNEL" => &["dev", "stage", "prod"],
        _ => &[],
    }
}

/// The values an option takes, when they are a fixed list (`--format text|json`).
fn flag_values(target: &str, flag: &str) -> &'static [&'static str] {
    match (target, flag) {
        ("version", "format") => &["pep440", "semver", "rpm", "tag", "docker", "json"],
        ("trains", "format") => &["text", "json"],
        (_, "trigger") => &["push", "tag", "auto"],
        (_, "backend") => &["sandbox", "mock"],
        (_, "channel" | "rpm-channel" | "to") => &["dev", "stage", "prod"],
        _ => &[],
    }
}

/// The `VAR=value` words a target takes: one per known value, else `VAR=`.
fn var_words(spec: &crate::cli::TargetSpec) -> Vec<String> {
    let mut vars = Vec::new();
    for v in spec.vars {
        let values = var_values(v.name);
        if values.is_empty() {
            vars.push(format!("{}=", v.name));
        } else {
            vars.extend(values.iter().map(|val| format!("{}={val}", v.name)));
        }
    }
    vars
}

pub fn bash(program: &str) -> String {
    let f = format!("_{}", program.replace('-', "_"));
    let mut cases = String::new();
    for t in TARGETS {
        let s = t.spec;
        let vars = var_words(s);
        let valued: Vec<String> =
            s.flags.iter().filter(|f| f.value.is_some()).map(|f| format!("--{}", f.name)).collect();
        let mut choices = String::new();
        for f in s.flags.iter().filter(|f| f.value.is_some()) {
            let values = flag_values(s.name, f.name);
            if !values.is_empty() {
                choices.push_str(&format!(
                    "            [[ \"$prev\" == --{} ]] && {{ COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return; }}\n",
                    f.name,
                    values.join(" ")
                ));
            }
        }
        cases.push_str(&format!(
            "        {name})\n{choices}            opts=\"{opts}\"\n            vars=\"{vars}\"\n            valued=\"{valued}\"\n            projects={projects}\n            ;;\n",
            name = s.name,
            opts = flag_words(s.flags).join(" "),
            vars = vars.join(" "),
            valued = valued.join(" "),
            projects = u8::from(s.takes_projects),
        ));
    }
    let shells = "bash zsh fish";
    format!(
        r#"# bash completion for {program}; generated by `{program} completions bash`.
{f}() {{
    local cur prev target="" i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local globals="{globals}"
    local targets="{targets}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        case " {global_valued} " in
            *" ${{COMP_WORDS[i]}} "*) ((i++)); continue ;;
        esac
        case "${{COMP_WORDS[i]}}" in
            --) return ;;
            -*) ;;
            *) target="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$prev" in
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --message-format) COMPREPLY=($(compgen -W "human json" -- "$cur")); return ;;
        --manifest-path) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -j|--jobs) return ;;
    esac
    if [[ -z "$target" ]]; then
        COMPREPLY=($(compgen -W "$targets help $globals" -- "$cur"))
        return
    fi
    local opts="" vars="" valued="" projects=0
    case "$target" in
{cases}        help)
            COMPREPLY=($(compgen -W "$targets" -- "$cur"))
            return
            ;;
        *) return ;;
    esac
    if [[ "$target" == completions && "$prev" == completions ]]; then
        COMPREPLY=($(compgen -W "{shells} --project-vars" -- "$cur"))
        return
    fi
    case " $valued " in
        *" $prev "*) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if ((projects)); then
        local p
        for p in $("${{COMP_WORDS[0]}}" completions --project-vars 2>/dev/null); do
            vars="$vars $p="
        done
    fi
    COMPREPLY=($(compgen -W "$opts $globals $vars" -- "$cur"))
    if [[ ${{#COMPREPLY[@]}} -eq 1 && "${{COMPREPLY[0]}}" == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
}}
complete -o default -F {f} {program}
"#,
        globals = global_words().join(" "),
        global_valued = global_valued().join(" "),
        targets = target_names().join(" "),
    )
}

fn escape_zsh(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "'\\''").replace(':', "\\:").replace('[', "\\[").replace(']', "\\]")
}

pub fn zsh(program: &str) -> String {
    let mut targets = String::new();
    for t in TARGETS {
        targets.push_str(&format!("        '{}:{}'\n", t.spec.name, escape_zsh(t.spec.summary)));
    }
    targets.push_str("        'help:print the help of a target'\n");
    let mut globals = String::new();
    for (flag, value, help) in crate::global::OPTIONS {
        for name in flag.split(", ") {
            let tail = match (name, value) {
                ("--color", _) => ":WHEN:(auto always never)".to_string(),
                ("--message-format", _) => ":FMT:(human json)".to_string(),
                ("--manifest-path", _) => ":PATH:_files".to_string(),
                (_, Some(v)) => format!(":{v}:"),
                _ => String::new(),
            };
            globals.push_str(&format!("        '{name}[{}]{tail}'\n", escape_zsh(help)));
        }
    }
    globals.push_str("        '(-h --help)'{-h,--help}'[print the help]'\n");
    let mut cases = String::new();
    for t in TARGETS {
        let s = t.spec;
        let mut words = String::new();
        for f in s.flags {
            let tail = match (f.value, flag_values(s.name, f.name)) {
                (Some(v), []) => format!(":{v}:_files"),
                (Some(v), values) => format!(":{v}:({})", values.join(" ")),
                (None, _) => String::new(),
            };
            words.push_str(&format!(" '--{}[{}]{tail}'", f.name, escape_zsh(f.help)));
        }
        let vars = var_words(s);
        let projects = if s.takes_projects {
            format!("; vars+=(${{(f)\"$({program} completions --project-vars 2>/dev/null)\"}}); vars=(${{vars/%/=}})")
        } else {
            String::new()
        };
        cases.push_str(&format!(
            "        {name}) opts=({words}); vars=({vars}){projects} ;;\n",
            name = s.name,
            vars = vars.join(" "),
        ));
    }
    format!(
        r#"#compdef {program}
# zsh completion for {program}; generated by `{program} completions zsh`.
_{program}() {{
    local -a targets globals opts vars
    targets=(
{targets}    )
    globals=(
{globals}    )
    local target="" i
    for ((i = 2; i < CURRENT; i++)); do
        if (( ${{targets[(I)${{words[i]}}:*]}} )); then target=${{words[i]}}; break; fi
    done
    if [[ -z $target ]]; then
        _arguments -s $globals
        _describe -t targets target targets
        return
    fi
    case $target in
{cases}        help) _describe -t targets target targets; return ;;
    esac
    [[ $target == completions ]] && vars+=(bash zsh fish)
    _arguments -s $globals $opts '*:variable:($vars)'
}}
_{program} "$@"
"#,
    )
}

fn escape_fish(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

pub fn fish(program: &str) -> String {
    let names = target_names().join(" ");
    let mut out = format!(
        "# fish completion for {program}; generated by `{program} completions fish`.\n\
         complete -c {program} -f\n\
         complete -c {program} -n 'not __fish_seen_subcommand_from {names} help' -a help -d 'print the help of a target'\n\
         complete -c {program} -n '__fish_seen_subcommand_from help' -a '{names}'\n"
    );
    for (flag, value, help) in crate::global::OPTIONS {
        let mut spec = String::new();
        for name in flag.split(", ") {
            match name.strip_prefix("--") {
                Some(long) => spec.push_str(&format!(" -l {long}")),
                None => spec.push_str(&format!(" -s {}", name.trim_start_matches('-'))),
            }
        }
        let args = match (flag.contains("--color"), value) {
            (true, _) => " -x -a 'auto always never'".to_string(),
            (false, Some(_)) if flag.contains("message-format") => " -x -a 'human json'".to_string(),
            (false, Some(_)) if flag.contains("manifest-path") => " -r -F".to_string(),
            (false, Some(_)) => " -x".to_string(),
            _ => String::new(),
        };
        out.push_str(&format!("complete -c {program}{spec}{args} -d '{}'\n", escape_fish(help)));
    }
    // Every target, and the program itself, takes --help (as `--help` shows).
    out.push_str(&format!("complete -c {program} -s h -l help -d 'print the help'\n"));
    for t in TARGETS {
        let s = t.spec;
        out.push_str(&format!(
            "complete -c {program} -n 'not __fish_seen_subcommand_from {names} help' -a {} -d '{}'\n",
            s.name,
            escape_fish(s.summary)
        ));
        let when = format!("-n '__fish_seen_subcommand_from {}'", s.name);
        for f in s.flags {
            let args = match (f.value, flag_values(s.name, f.name)) {
                (Some(_), []) => " -r -F".to_string(),
                (Some(_), values) => format!(" -x -a '{}'", values.join(" ")),
                (None, _) => String::new(),
            };
            out.push_str(&format!("complete -c {program} {when} -l {}{args} -d '{}'\n", f.name, escape_fish(f.help)));
        }
        for v in s.vars {
            let values = var_values(v.name);
            let words: Vec<String> = if values.is_empty() {
                vec![format!("{}=", v.name)]
            } else {
                values.iter().map(|val| format!("{}={val}", v.name)).collect()
            };
            out.push_str(&format!(
                "complete -c {program} {when} -a '{}' -d '{}'\n",
                words.join(" "),
                escape_fish(v.help)
            ));
        }
        if s.takes_projects {
            out.push_str(&format!(
                "complete -c {program} {when} -a '({program} completions --project-vars 2>/dev/null | string replace -r \"\\$\" =)' -d 'internal project at REF'\n"
            ));
        }
        if s.name == "completions" {
            out.push_str(&format!("complete -c {program} {when} -a 'bash zsh fish'\n"));
        }
    }
    out
}
