//! One file per target; this table is the command line's list of them.

use crate::cli::TargetSpec;
use crate::error::Result;
use crate::Context;

pub mod build;
pub mod build_rpms;
pub mod ci;
pub mod completions;
pub mod demo;
pub mod dist;
pub mod docs;
pub mod image;
pub mod init;
pub mod man;
pub mod mock;
pub mod options;
pub mod pin;
pub mod release;
pub mod tests;
pub mod trains;
pub mod version;

pub struct Target {
    pub spec: &'static TargetSpec,
    pub run: fn(&Context) -> Result<()>,
    /// Whether the target works on a workspace (`demo` does not need one).
    pub needs_workspace: bool,
}

pub const TARGETS: &[Target] = &[
    Target { spec: &build::SPEC, run: build::run, needs_workspace: true },
    Target { spec: &build_rpms::SPEC, run: build_rpms::run, needs_workspace: true },
    Target { spec: &mock::SPEC, run: mock::run, needs_workspace: true },
    Target { spec: &tests::SPEC, run: tests::run, needs_workspace: true },
    Target { spec: &pin::SPEC, run: pin::run, needs_workspace: true },
    Target { spec: &version::SPEC, run: version::run, needs_workspace: true },
    Target { spec: &dist::SPEC, run: dist::run, needs_workspace: true },
    Target { spec: &docs::SPEC, run: docs::run, needs_workspace: true },
    Target { spec: &release::SPEC, run: release::run, needs_workspace: true },
    Target { spec: &ci::SPEC, run: ci::run, needs_workspace: true },
    Target { spec: &image::SPEC, run: image::run, needs_workspace: true },
    Target { spec: &trains::SPEC, run: trains::run, needs_workspace: true },
    Target { spec: &demo::SPEC, run: demo::run, needs_workspace: false },
    Target { spec: &init::SPEC, run: init::run, needs_workspace: true },
    Target { spec: &completions::SPEC, run: completions::run, needs_workspace: false },
    Target { spec: &man::SPEC, run: man::run, needs_workspace: false },
];

/// Variables some target reads; one given to a target that does not read it is a note, not an error.
pub const GLOBAL_VARS: &[&str] = &["CHANNEL", "RPM_CHANNEL"];

pub fn find(name: &str) -> Option<&'static Target> {
    // `build-rpms` is accepted for `build_rpms`: both spellings are in use.
    let name = name.replace('-', "_");
    TARGETS.iter().find(|t| t.spec.name == name)
}

pub fn overview(program: &str) -> String {
    let mut out = format!(
        "trainyard: the release Makefile as cargo xtask\n\nusage: {program} <target> [VAR=value ...] [--flags]\n\ntargets:\n"
    );
    for t in TARGETS {
        out.push_str(&format!("  {:<12} {}\n", t.spec.name, t.spec.summary));
    }
    out.push_str(&format!(
        "\nEvery target takes --help and --dry-run. `{program} help <target>` lists its variables and options.\n\
         exit codes: 0 success, 1 the work failed, 2 bad input or configuration, 3 a required tool is missing\n"
    ));
    out
}
