//! `version [--format pep440|semver|rpm|tag|docker|json] [--trigger push|tag|auto]`: the
//! workspace's version, computed from git.

use crate::cli::{Args, FlagSpec, Options, TargetSpec, DRY_RUN};
use crate::error::Result;
use crate::scm::{self, Format, Trigger};
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "version",
    summary: "print the version computed from git (release tag, or next version + .devN)",
    usage: "[--format pep440|semver|rpm|tag|docker|json] [--trigger push|tag|auto]",
    about: "A commit carrying a version tag (rpm-1.2, v0.12.0b1) is that version. Any other commit is\n\
            the next version + .devN, N the commits since the train started (its tag, or the commit that\n\
            set Cargo.toml to it): the next MINOR on the default branch (1.3.dev5; version-scheme =\n\
            \"next-patch\": the next PATCH), the next MICRO on a release branch (1.2.1.dev2), the next\n\
            beta after a beta (0.12.0b2.dev1); the workspace version in\n\
            Cargo.toml raises the train. Uncommitted changes add +dirty.\n\
            --trigger push never gives a release (a tag on HEAD is ignored), --trigger tag requires\n\
            exactly one release tag on HEAD; by default the CI variables decide (GitHub Actions,\n\
            GitLab CI), and outside CI a tagged commit gives its release.\n\
            TRAINYARD_PRETEND_VERSION=1.4.2 replaces git (building from a tarball).\n\
            --format tag fails for a dev version: it has no tag. json prints every rendering.",
    vars: &[],
    flags: &[
        DRY_RUN,
        FlagSpec {
            name: "format",
            value: Some("FORMAT"),
            help: "pep440 (default), semver, rpm, tag, docker or json",
            var: None,
        },
        FlagSpec {
            name: "trigger",
            value: Some("TRIGGER"),
            help: "push, tag or auto (default: the CI system decides)",
            var: None,
        },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

/// What `version` was asked.
struct VersionOptions {
    format: Format,
    trigger: Trigger,
}

impl Options for VersionOptions {
    fn parse(args: &Args) -> Result<VersionOptions> {
        Ok(VersionOptions {
            format: args.parsed("format", Format::parse)?.unwrap_or(Format::Pep440),
            trigger: args.parsed("trigger", Trigger::parse)?.unwrap_or(Trigger::Auto),
        })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let options = VersionOptions::parse(&ctx.args)?;
    let described = scm::describe(&ctx.ws, options.trigger)?;
    println!("{}", described.render(options.format, &ctx.ws.config.tag_prefix)?);
    Ok(())
}
