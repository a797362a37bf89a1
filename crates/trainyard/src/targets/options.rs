//! The options several targets share, and the types they are parsed into once.
//!
//! `build`, `build_rpms` and `mock` shape a build the same way ([`BuildFlags`]); `build_rpms`
//! and `mock` shape a collection the same way ([`CollectionArgs`]). Each target reads its
//! arguments into its own struct at its start; nothing after that looks options up by name.

use camino::Utf8PathBuf;

use crate::channel::Channel;
use crate::cli::{Args, FlagSpec, DRY_RUN};
use crate::error::{Error, Result};
use crate::scm::Trigger;

// How the product is built (`build`, `build_rpms` and `mock` take them); each may also come from
// the packaging table of a crate (`features = [...]`, `profile = "..."`).
pub const FEATURES_FLAG: FlagSpec = FlagSpec {
    name: "features",
    value: Some("LIST"),
    help: "cargo features to enable (comma- or space-separated, `crate/feature` for one crate; repeatable)",
    var: None,
};
pub const ALL_FEATURES_FLAG: FlagSpec =
    FlagSpec { name: "all-features", value: None, help: "enable every feature of the product crates", var: None };
pub const NO_DEFAULT_FEATURES_FLAG: FlagSpec =
    FlagSpec { name: "no-default-features", value: None, help: "leave out the default features", var: None };
pub const PROFILE_FLAG: FlagSpec = FlagSpec {
    name: "profile",
    value: Some("NAME"),
    help: "cargo profile (default release); binaries are then in target/NAME/",
    var: None,
};
pub const TARGET_FLAG: FlagSpec = FlagSpec {
    name: "target",
    value: Some("TRIPLE"),
    help: "build for this target (default: CARGO_BUILD_TARGET, else the host); binaries in target/TRIPLE/",
    var: None,
};

/// `--trigger`: which versions this build may have (see `version --help`); every target that
/// computes a version takes it.
pub const TRIGGER_FLAG: FlagSpec = FlagSpec {
    name: "trigger",
    value: Some("TRIGGER"),
    help: "push (never a release version), tag (HEAD's release tag) or auto (default: the CI system decides)",
    var: None,
};

// The flags that shape a collection; `mock`, which builds one, takes them too.
pub const RPM_CHANNEL_FLAG: FlagSpec =
    FlagSpec { name: "rpm-channel", value: Some("NAME"), help: "same as RPM_CHANNEL=NAME", var: Some("RPM_CHANNEL") };
pub const OUT_FLAG: FlagSpec = FlagSpec {
    name: "out",
    value: Some("DIR"),
    help: "where the collection is written (default target/rpms/<channel>)",
    var: None,
};
pub const NO_DEPS_FLAG: FlagSpec =
    FlagSpec { name: "no-deps", value: None, help: "leave out the rust-NAME-devel packages", var: None };
pub const VARIANT_FLAG: FlagSpec = FlagSpec {
    name: "variant",
    value: Some("NAME"),
    help: "apply [package.metadata.generate-rpm.variants.NAME] (repeatable, or NAME1,NAME2), as cargo generate-rpm --variant does",
    var: None,
};
pub const PACKAGE_FLAG: FlagSpec = FlagSpec {
    name: "package",
    value: Some("CRATE"),
    help: "package only this workspace crate (repeatable)",
    var: None,
};

/// The flags of a target that writes a collection, in the order `--help` lists them: `--dry-run`,
/// the collection's and the build's. [`CollectionArgs::parse`] reads them.
pub const COLLECTION_FLAGS: [FlagSpec; 12] = [
    DRY_RUN,
    RPM_CHANNEL_FLAG,
    OUT_FLAG,
    NO_DEPS_FLAG,
    PACKAGE_FLAG,
    VARIANT_FLAG,
    FEATURES_FLAG,
    ALL_FEATURES_FLAG,
    NO_DEFAULT_FEATURES_FLAG,
    PROFILE_FLAG,
    TARGET_FLAG,
    TRIGGER_FLAG,
];

/// [`COLLECTION_FLAGS`] followed by a target's own flags (`mock`'s `--backend` ...), for its
/// `TargetSpec`: `M` is the length of the whole list, checked when the constant is evaluated.
pub const fn collection_flags_and<const N: usize, const M: usize>(own: [FlagSpec; N]) -> [FlagSpec; M] {
    assert!(M == COLLECTION_FLAGS.len() + N, "M must be the number of collection flags plus N");
    let mut all = [DRY_RUN; M];
    let mut i = 0;
    while i < M {
        all[i] = if i < COLLECTION_FLAGS.len() { COLLECTION_FLAGS[i] } else { own[i - COLLECTION_FLAGS.len()] };
        i += 1;
    }
    all
}

/// The `--trigger` of a command, `auto` when absent.
pub fn trigger(args: &Args) -> Result<Trigger> {
    match args.value("trigger") {
        Some(t) => Trigger::parse(t),
        None => Ok(Trigger::Auto),
    }
}

/// Reads a channel variable (CHANNEL or RPM_CHANNEL) or its default.
pub fn channel(args: &Args, var: &str, default: Channel) -> Result<Channel> {
    match args.var(var) {
        Some(v) => {
            Channel::parse(&v.value).map_err(|e| e.context(format!("{var}={} (from the {})", v.value, v.origin)))
        }
        None => Ok(default),
    }
}

/// How the product is built, as the command line says (the packaging tables add to it: see
/// [`crate::build_settings::BuildSettings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFlags {
    /// `--features` values, split at commas and spaces.
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub profile: Option<String>,
    pub target: Option<String>,
    pub trigger: Trigger,
}

impl Default for BuildFlags {
    fn default() -> BuildFlags {
        BuildFlags {
            features: Vec::new(),
            all_features: false,
            no_default_features: false,
            profile: None,
            target: None,
            trigger: Trigger::Auto,
        }
    }
}

impl BuildFlags {
    pub fn parse(args: &Args) -> Result<BuildFlags> {
        Ok(BuildFlags {
            features: args
                .values("features")
                .iter()
                .flat_map(|v| v.split([',', ' ']).filter(|f| !f.is_empty()).map(str::to_string).collect::<Vec<_>>())
                .collect(),
            all_features: args.flag("all-features"),
            no_default_features: args.flag("no-default-features"),
            profile: args.value("profile").map(str::to_string),
            target: args.value("target").map(str::to_string),
            trigger: trigger(args)?,
        })
    }
}

/// The options that shape a collection: `build_rpms`'s, which `mock` takes too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionArgs {
    pub channel: Channel,
    /// `--out` as given (relative to the workspace root unless absolute).
    pub out: Option<Utf8PathBuf>,
    pub no_deps: bool,
    /// `--package`: only these workspace crates.
    pub packages: Vec<String>,
    /// `--variant` names.
    pub variants: Vec<String>,
    pub build: BuildFlags,
}

impl CollectionArgs {
    pub fn parse(args: &Args) -> Result<CollectionArgs> {
        let out = match args.value("out") {
            Some("") => {
                return Err(Error::usage("--out is empty: it would write the collection into the workspace root")
                    .with_help("give --out a directory, or leave it out for target/rpms/<channel>"))
            }
            other => other.map(Utf8PathBuf::from),
        };
        Ok(CollectionArgs {
            channel: channel(args, "RPM_CHANNEL", Channel::Prod)?,
            out,
            no_deps: args.flag("no-deps"),
            packages: args.values("package").to_vec(),
            variants: args.values("variant").iter().flat_map(|v| v.split(',')).map(|v| v.trim().to_string()).collect(),
            build: BuildFlags::parse(args)?,
        })
    }
}
