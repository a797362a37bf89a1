//! `man [TARGET] [--out DIR]`: manual pages (roff) generated from the same definitions as
//! `--help`: `trainyard(1)` for the overview and `trainyard-TARGET(1)` for each target.

use camino::Utf8PathBuf;

use crate::cli::{Args, FlagSpec, Options, TargetSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::targets::{self, TARGETS};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "man",
    summary: "print the manual page of a target (roff), or write every page: man --out DIR",
    usage: "[TARGET] [--out DIR]",
    about: "`trainyard man build | man -l -` reads build's page; `trainyard man --out DIR` writes\n\
            trainyard.1 and trainyard-TARGET.1 for every target into DIR (for /usr/share/man/man1).",
    vars: &[],
    flags: &[DRY_RUN, FlagSpec { name: "out", value: Some("DIR"), help: "write every page into DIR", var: None }],
    takes_projects: false,
    max_positional: 1,
    passthrough: false,
};

/// What `man` was asked.
enum ManRequest {
    /// Print the overview page.
    Overview,
    /// Print one target's page.
    Page(&'static TargetSpec),
    /// Write every page into a directory.
    WriteAll(Utf8PathBuf),
}

impl Options for ManRequest {
    fn parse(args: &Args) -> Result<ManRequest> {
        if let Some(dir) = args.value("out") {
            return Ok(ManRequest::WriteAll(Utf8PathBuf::from(dir)));
        }
        match args.positional.first() {
            None => Ok(ManRequest::Overview),
            Some(name) => match targets::find(name) {
                Some(t) => Ok(ManRequest::Page(t.spec)),
                None => Err(Error::usage(format!("no manual page for `{name}`")).with_help(format!(
                    "pages: {}",
                    TARGETS.iter().map(|t| t.spec.name).collect::<Vec<_>>().join(", ")
                ))),
            },
        }
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    match ManRequest::parse(&ctx.args)? {
        ManRequest::Overview => print!("{}", overview_page()),
        ManRequest::Page(spec) => print!("{}", page(spec)),
        ManRequest::WriteAll(dir) => {
            let mut plan = Plan::new();
            plan.create_dir(dir.clone()).write(dir.join("trainyard.1"), overview_page().into_bytes());
            for t in TARGETS {
                plan.write(dir.join(format!("trainyard-{}.1", t.spec.name)), page(t.spec).into_bytes());
            }
            ctx.effects.execute(&plan)?;
            ctx.effects.done(format_args!("wrote {} manual pages into {dir}", TARGETS.len() + 1));
        }
    }
    Ok(())
}

/// Text safe in roff: backslashes and hyphens escaped, no line starting with a control character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|l| if l.starts_with('.') || l.starts_with('\'') { format!("\\&{l}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

fn header(name: &str) -> String {
    format!(".TH {} 1 \"\" \"trainyard {}\" \"trainyard manual\"\n", name.to_uppercase(), env!("CARGO_PKG_VERSION"))
}

fn item(term: &str, text: &str) -> String {
    format!(".TP\n\\fB{}\\fR\n{}\n", roff(term), roff(text))
}

fn flag_term(f: &FlagSpec) -> String {
    match f.value {
        Some(v) => format!("--{} {v}", f.name),
        None => format!("--{}", f.name),
    }
}

fn global_section() -> String {
    let mut out = String::from(".SH GLOBAL OPTIONS\nAnywhere before \\fB\\-\\-\\fR, as cargo's.\n");
    for (flag, value, help) in crate::global::OPTIONS {
        let term = match value {
            Some(v) => format!("{flag} {v}"),
            None => flag.to_string(),
        };
        out.push_str(&item(&term, help));
    }
    out
}

const EXIT_STATUS: &str = ".SH EXIT STATUS\n\
    .TP\n0\nsuccess\n\
    .TP\n1\nthe work itself failed\n\
    .TP\n2\nbad input or configuration\n\
    .TP\n3\na required external tool is missing\n\
    .TP\n141\nstdout was closed by its reader\n";

pub fn page(spec: &TargetSpec) -> String {
    let mut out = header(&format!("trainyard-{}", spec.name));
    out.push_str(&format!(".SH NAME\ntrainyard\\-{} \\- {}\n", roff(spec.name), roff(spec.summary)));
    out.push_str(&format!(".SH SYNOPSIS\n\\fBtrainyard {}\\fR {}\n", roff(spec.name), roff(spec.usage)));
    if !spec.about.is_empty() {
        out.push_str(".SH DESCRIPTION\n");
        out.push_str(&roff(spec.about));
        out.push('\n');
    }
    if !spec.vars.is_empty() || spec.takes_projects {
        out.push_str(
            ".SH VARIABLES\n\\fBVAR=value\\fR after the target, or from the environment; the command line wins.\n",
        );
        for v in spec.vars {
            out.push_str(&item(v.name, v.help));
        }
        if spec.takes_projects {
            out.push_str(&item("PROJECT=REF", "build against this internal project at REF (server-core: SERVER_CORE)"));
        }
    }
    out.push_str(".SH OPTIONS\n");
    for f in spec.flags {
        out.push_str(&item(&flag_term(f), f.help));
    }
    out.push_str(&item("-h, --help", "print the help"));
    out.push_str(&global_section());
    out.push_str(EXIT_STATUS);
    out.push_str(".SH SEE ALSO\n\\fBtrainyard\\fR(1)\n");
    out
}

pub fn overview_page() -> String {
    let mut out = header("trainyard");
    out.push_str(".SH NAME\ntrainyard \\- the release Makefile as cargo xtask\n");
    out.push_str(".SH SYNOPSIS\n\\fBtrainyard\\fR \\fITARGET\\fR [VAR=value ...] [\\-\\-flags] [\\-\\- passthrough]\n");
    out.push_str(".SH TARGETS\n");
    for t in TARGETS {
        out.push_str(&item(t.spec.name, t.spec.summary));
    }
    out.push_str(&global_section());
    out.push_str(EXIT_STATUS);
    let see: Vec<String> = TARGETS.iter().map(|t| format!("\\fBtrainyard\\-{}\\fR(1)", roff(t.spec.name))).collect();
    out.push_str(&format!(".SH SEE ALSO\n{}\n", see.join(",\n")));
    out
}
