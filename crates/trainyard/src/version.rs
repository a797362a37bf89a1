//! One version, rendered for every place it appears: PEP 440, Cargo semver, RPM `Version:`,
//! git tag, container tag. Pure: no git, no environment. Every comparison of versions in
//! trainyard is this module's: trainyard's own versions ([`Version`]), the versions of
//! requirement files against crates ([`Loose`], by semver's rules), Cargo compatibility
//! ([`cargo_compatible`]), the RPM version of a crate ([`rpm_of_cargo`]) and what an RPM is
//! ([`rpm_stage`]).
//!
//! | rendering    | dev             | beta            | dev after b1         | release  | fix       |
//! |--------------|-----------------|-----------------|----------------------|----------|-----------|
//! | PEP 440      | `1.3.dev5`      | `0.12.0b1`      | `0.12.0b2.dev3`      | `1.2`    | `1.2.1`   |
//! | Cargo semver | `1.3.0-0.dev.5` | `0.12.0-beta.1` | `0.12.0-beta.1.dev.3`| `1.2.0`  | `1.2.1`   |
//! | RPM Version  | `1.3~~dev5`     | `0.12.0~b1`     | `0.12.0~b2~~dev3`    | `1.2`    | `1.2.1`   |
//! | git tag      | none            | `rpm-0.12.0b1`  | none                 | `rpm-1.2`| `rpm-1.2.1` |
//! | container    | branch name     | `0.12.0b1`      | branch name          | `1.2`    | `1.2.1`   |
//!
//! Release candidates are `1.2rc1`, `1.2.0-rc.1`, `1.2~rc1`.
//!
//! # Ordering
//!
//! dev < beta < rc < release, then by number; a dev build of a beta or rc sits between the one
//! before and itself; `1.2.1` > `1.2`. A missing MICRO counts as 0, so `1.2` and `1.2.0` are
//! *equal* (as PEP 440 and semver have it: semver cannot even write `1.2`), while each keeps
//! the text it was written with. That is what makes every rendering parse back to the same
//! version, semver's included.
//!
//! rpm is the one implementation that sees a difference there: it sorts the text with fewer
//! components first whatever follows (`1.2` < `1.2.0`, and `0.18` < `0.18.0~~dev6` although
//! PEP 440 says the opposite). No single order agrees with all three on such pairs, so the rule
//! is: every version of one release line is written with the line's [`Precision`]
//! ([`Version::with_precision`]); on every other pair all renderings order as [`Ord`] does
//! (`tests/version_order.rs` checks this against rpm, Python's `packaging` and the `semver` crate,
//! and every rendering of a line's sequence for both precisions).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{Error, Result};

/// The pre-release part. The order is dev < beta < rc, each by its number, and a dev build of
/// a beta or rc (`0.12.0b2.dev3`) between the one before it and itself (`0.12.0b1` < `0.12.0b2.dev3`
/// < `0.12.0b2`): what a version branch's commits after a beta are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pre {
    /// A dev build of the final release: `1.3.dev5`.
    Dev(u64),
    Beta(u64),
    Rc(u64),
    /// A dev build leading to beta `.0`: `0.12.0b2.dev3` is `BetaDev(2, 3)`.
    BetaDev(u64, u64),
    /// A dev build leading to release candidate `.0`: `1.2rc2.dev1`.
    RcDev(u64, u64),
}

impl Pre {
    /// (stage, number, 0 for a dev build of it / 1 for itself, dev number).
    fn key(self) -> (u8, u64, u8, u64) {
        match self {
            Pre::Dev(n) => (0, 0, 0, n),
            Pre::BetaDev(b, n) => (1, b, 0, n),
            Pre::Beta(b) => (1, b, 1, 0),
            Pre::RcDev(r, n) => (2, r, 0, n),
            Pre::Rc(r) => (2, r, 1, 0),
        }
    }

    pub fn is_dev(self) -> bool {
        matches!(self, Pre::Dev(_) | Pre::BetaDev(..) | Pre::RcDev(..))
    }
}

impl PartialOrd for Pre {
    fn partial_cmp(&self, other: &Pre) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pre {
    fn cmp(&self, other: &Pre) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// How many numbers a release line writes: `rpm-1.2` (and fixes `rpm-1.2.1`) or `v0.17.0`.
///
/// Every version of one line is rendered with the line's precision, because rpm orders `0.18`
/// below `0.18.0~~dev6` (fewer components first): a line that mixed both would make its dev
/// builds outrank its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `X.Y`, with `X.Y.Z` for fixes only.
    MajorMinor,
    /// `X.Y.Z` always.
    Full,
}

impl Precision {
    /// The configuration's spelling: `"X.Y"` or `"X.Y.Z"`.
    pub fn parse(text: &str) -> Option<Precision> {
        match text {
            "X.Y" => Some(Precision::MajorMinor),
            "X.Y.Z" => Some(Precision::Full),
            _ => None,
        }
    }

    /// The precision a version's text shows: `1.2` is `X.Y`, `1.2.0` is `X.Y.Z`; a fix (`1.2.1`)
    /// could be either.
    pub fn of(v: &Version) -> Option<Precision> {
        match v.micro {
            None => Some(Precision::MajorMinor),
            Some(0) => Some(Precision::Full),
            Some(_) => None,
        }
    }

    /// The precision of a line from its release tags, newest first: the first that shows one.
    pub fn of_tags<'a>(newest_first: impl IntoIterator<Item = &'a Version>) -> Option<Precision> {
        newest_first.into_iter().find_map(Precision::of)
    }
}

/// `MAJOR.MINOR[.MICRO]` with an optional pre-release part.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    /// `None` for a version written `MAJOR.MINOR` (`1.2`); orders as 0.
    pub micro: Option<u64>,
    pub pre: Option<Pre>,
}

/// The `help:` of every parse error.
const SYNTAX_HELP: &str = "versions are MAJOR.MINOR[.MICRO] with an optional pre-release part: \
                           1.2, 1.2.1, 1.3.dev5, 0.12.0b1, 1.2rc1 (PEP 440)";

impl Version {
    pub const fn new(major: u64, minor: u64, micro: Option<u64>) -> Version {
        Version { major, minor, micro, pre: None }
    }

    pub const fn with_pre(self, pre: Pre) -> Version {
        Version { pre: Some(pre), ..self }
    }

    /// The release this version is, or leads up to: `1.3.dev5` -> `1.3`.
    pub const fn release(self) -> Version {
        Version { pre: None, ..self }
    }

    pub fn is_release(&self) -> bool {
        self.pre.is_none()
    }

    /// A dev build: of a final (`1.3.dev5`), or of a beta or rc (`0.12.0b2.dev3`).
    pub fn is_dev(&self) -> bool {
        self.pre.is_some_and(Pre::is_dev)
    }

    /// A beta or release candidate (not a dev build of one).
    pub fn is_prerelease(&self) -> bool {
        matches!(self.pre, Some(Pre::Beta(_) | Pre::Rc(_)))
    }

    /// A fix: `1.2.1`, not `1.2` or `1.2.0`.
    pub fn is_fix(&self) -> bool {
        self.micro.unwrap_or(0) != 0
    }

    /// The dev build `n` commits on the way to this version: `1.3` -> `1.3.dev5`,
    /// `0.12.0b2` -> `0.12.0b2.dev5`. A dev version keeps its target and takes the new count.
    pub fn dev(self, n: u64) -> Version {
        let pre = match self.pre {
            None | Some(Pre::Dev(_)) => Pre::Dev(n),
            Some(Pre::Beta(b) | Pre::BetaDev(b, _)) => Pre::BetaDev(b, n),
            Some(Pre::Rc(r) | Pre::RcDev(r, _)) => Pre::RcDev(r, n),
        };
        self.with_pre(pre)
    }

    /// What a dev build leads to: `0.12.0b2.dev3` -> `0.12.0b2`, `1.3.dev5` -> `1.3`.
    pub fn target(self) -> Version {
        match self.pre {
            Some(Pre::Dev(_)) => self.release(),
            Some(Pre::BetaDev(b, _)) => self.with_pre(Pre::Beta(b)),
            Some(Pre::RcDev(r, _)) => self.with_pre(Pre::Rc(r)),
            _ => self,
        }
    }

    /// The pre-release after this one, on the same release: `0.12.0b1` -> `0.12.0b2`,
    /// `1.2rc1` -> `1.2rc2`; `None` for a final or a dev build.
    pub fn next_pre(&self) -> Option<Version> {
        match self.pre {
            Some(Pre::Beta(b)) => Some(self.with_pre(Pre::Beta(b + 1))),
            Some(Pre::Rc(r)) => Some(self.with_pre(Pre::Rc(r + 1))),
            _ => None,
        }
    }

    /// This version written with a line's precision: `1.2.0` on an `X.Y` line is `1.2`, `0.18`
    /// on an `X.Y.Z` line is `0.18.0`. Fixes keep their MICRO on both.
    pub fn with_precision(self, precision: Precision) -> Version {
        let micro = match (precision, self.micro) {
            (Precision::MajorMinor, Some(0)) => None,
            (Precision::Full, None) => Some(0),
            (_, micro) => micro,
        };
        Version { micro, ..self }
    }

    /// `1.2`: the release line, which names a release branch.
    pub fn major_minor(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// Parses a release (`1.2`, `1.2.1`, `0.18.0`): what `release X.Y[.Z]` takes.
    pub fn parse_release(text: &str) -> Result<Version> {
        match Version::parse_pep440(text) {
            Ok(v) if v.is_release() => Ok(v),
            Ok(v) => Err(Error::usage(format!("`{}` is a {}, not a release", text.escape_debug(), v.kind()))
                .with_help("give MAJOR.MINOR[.MICRO] (1.2, 0.18.0, 1.2.1); betas and release candidates are made by `release beta` and `release rc`")),
            Err(_) => Err(Error::usage(format!("`{}` is not a release version", text.escape_debug()))
                .with_help("give MAJOR.MINOR[.MICRO]: 1.2 or 0.18.0 for a release, 1.2.1 for a fix")),
        }
    }

    /// What kind of version this is, in words: `dev build`, `beta`, `release candidate`, `release`.
    pub fn kind(&self) -> &'static str {
        match self.pre {
            None => "release",
            Some(p) if p.is_dev() => "dev build",
            Some(Pre::Beta(_)) => "beta",
            Some(_) => "release candidate",
        }
    }

    /// The version a Cargo version names: trainyard's own rendering back (`1.3.0-0.dev.5`,
    /// `0.12.0-beta.2`), any other pre-release as its release (`1.2.0-dev` is `1.2.0`).
    pub fn of_cargo(v: &semver::Version) -> Version {
        Version::parse_semver(&v.to_string()).unwrap_or(Version::new(v.major, v.minor, Some(v.patch)))
    }

    /// 2 for `1.2`, 3 for `1.2.0`.
    pub fn components(&self) -> usize {
        if self.micro.is_some() {
            3
        } else {
            2
        }
    }

    /// The next MINOR release, written in the same style: `1.2` -> `1.3`, `1.2.4` -> `1.3.0`
    /// (on an `X.Y` line, give the line's precision: [`Version::with_precision`]).
    /// A pre-release leads up to its own release, so that is its next: `1.3b1` -> `1.3`.
    pub fn next_minor(&self) -> Version {
        if self.pre.is_some() {
            return self.release();
        }
        Version::new(self.major, self.minor + 1, self.micro.map(|_| 0))
    }

    /// The next MICRO release: `1.2` -> `1.2.1`, `1.2.1` -> `1.2.2`; a pre-release -> its release.
    pub fn next_micro(&self) -> Version {
        if self.pre.is_some() {
            return self.release();
        }
        Version::new(self.major, self.minor, Some(self.micro.unwrap_or(0) + 1))
    }

    fn key(&self) -> (u64, u64, u64, bool, Option<Pre>) {
        // A release (`pre` is `None`) sorts above every pre-release: the bool decides before `pre`.
        (self.major, self.minor, self.micro.unwrap_or(0), self.pre.is_none(), self.pre)
    }

    fn release_text(&self) -> String {
        match self.micro {
            Some(micro) => format!("{}.{}.{micro}", self.major, self.minor),
            None => format!("{}.{}", self.major, self.minor),
        }
    }

    // ---- renderings ----

    /// PEP 440: `1.3.dev5`, `0.12.0b1`, `1.2rc1`, `1.2`. Also [`Display`](fmt::Display).
    pub fn to_pep440(&self) -> String {
        self.release_with_marker([".dev", "b", "rc"])
    }

    /// The release text followed by the pre-release marker for dev, beta and rc, and its number;
    /// a dev build of a beta or rc is the beta or rc followed by the dev marker.
    fn release_with_marker(&self, markers: [&str; 3]) -> String {
        let release = self.release_text();
        match self.pre {
            None => release,
            Some(Pre::Dev(n)) => format!("{release}{}{n}", markers[0]),
            Some(Pre::Beta(n)) => format!("{release}{}{n}", markers[1]),
            Some(Pre::Rc(n)) => format!("{release}{}{n}", markers[2]),
            Some(Pre::BetaDev(b, n)) => format!("{release}{}{b}{}{n}", markers[1], markers[0]),
            Some(Pre::RcDev(r, n)) => format!("{release}{}{r}{}{n}", markers[2], markers[0]),
        }
    }

    /// Cargo semver: `1.3.0-0.dev.5`, `0.12.0-beta.1`, `1.2.0-rc.1`, `1.2.0`. The leading numeric
    /// `0` identifier keeps dev below `beta`/`rc` (numeric identifiers sort below alphanumeric).
    /// Semver has no "just below": the dev builds of beta 2 are written after beta 1
    /// (`0.12.0b2.dev3` is `0.12.0-beta.1.dev.3`), a longer identifier list sorting above its prefix.
    pub fn to_semver(&self) -> semver::Version {
        let pre = match self.pre {
            None => semver::Prerelease::EMPTY,
            Some(Pre::Dev(n)) => prerelease(&format!("0.dev.{n}")),
            Some(Pre::Beta(n)) => prerelease(&format!("beta.{n}")),
            Some(Pre::Rc(n)) => prerelease(&format!("rc.{n}")),
            // Above the beta before it, below this one: `beta.1.dev.3` leads to `beta.2`.
            Some(Pre::BetaDev(b, n)) => prerelease(&format!("beta.{}.dev.{n}", b.saturating_sub(1))),
            Some(Pre::RcDev(r, n)) => prerelease(&format!("rc.{}.dev.{n}", r.saturating_sub(1))),
        };
        semver::Version {
            major: self.major,
            minor: self.minor,
            patch: self.micro.unwrap_or(0),
            pre,
            build: semver::BuildMetadata::EMPTY,
        }
    }

    /// RPM `Version:`: `1.3~~dev5`, `0.12.0~b1`, `1.2~rc1`, `1.2`. `~~` sorts below `~b`, as in
    /// Fedora's conversion of Python versions.
    pub fn to_rpm(&self) -> String {
        self.release_with_marker(["~~dev", "~b", "~rc"])
    }

    /// The git tag: `<prefix><PEP 440>` (`rpm-1.2`, `rpm-0.12.0b1`). A dev version has none.
    pub fn to_tag(&self, prefix: &str) -> Option<String> {
        (!self.is_dev()).then(|| format!("{prefix}{}", self.to_pep440()))
    }

    /// The container tag: the PEP 440 text (`1.2`, `0.12.0b1`), or for a dev version the
    /// sanitised branch name (`feature/Add doodad` -> `feature-add-doodad`), so that each branch
    /// overwrites its own dev image and never a release's.
    pub fn to_container_tag(&self, branch: &str) -> String {
        if self.is_dev() {
            container_tag_of_branch(branch)
        } else {
            self.to_pep440()
        }
    }

    // ---- parsing: each rendering back to the version ----

    /// Parses the PEP 440 rendering (only the forms trainyard writes).
    pub fn parse_pep440(text: &str) -> Result<Version> {
        let bad = || invalid(text, "PEP 440 version");
        // The pre-release starts at the first letter, with the `.` before it (`1.3.dev5`).
        let (release, pre) = match text.find(|c: char| c.is_ascii_alphabetic()) {
            None => (text, None),
            Some(at) => {
                let at = if text[..at].ends_with('.') { at - 1 } else { at };
                let (release, suffix) = text.split_at(at);
                (release, Some(pre_with_marker(suffix, [".dev", "b", "rc"]).ok_or_else(bad)?))
            }
        };
        let (major, minor, micro) = parse_release(release).ok_or_else(bad)?;
        Ok(Version { major, minor, micro, pre })
    }

    /// Parses the Cargo semver rendering. Semver always has three components, so `1.2.0`
    /// comes back as `1.2.0`, which equals `1.2`.
    pub fn parse_semver(text: &str) -> Result<Version> {
        let bad = || invalid(text, "Cargo version");
        let v = semver::Version::parse(text).map_err(|_| bad())?;
        if !v.build.is_empty() {
            return Err(bad());
        }
        let pre = match v.pre.as_str() {
            "" => None,
            p => Some(semver_pre(p).ok_or_else(bad)?),
        };
        Ok(Version { major: v.major, minor: v.minor, micro: Some(v.patch), pre })
    }

    /// Parses the RPM `Version:` rendering.
    pub fn parse_rpm(text: &str) -> Result<Version> {
        let bad = || invalid(text, "RPM version");
        let (release, pre) = match text.find('~') {
            None => (text, None),
            Some(at) => {
                let (release, suffix) = text.split_at(at);
                (release, Some(pre_with_marker(suffix, ["~~dev", "~b", "~rc"]).ok_or_else(bad)?))
            }
        };
        let (major, minor, micro) = parse_release(release).ok_or_else(bad)?;
        Ok(Version { major, minor, micro, pre })
    }

    /// Parses a release tag: `<prefix><PEP 440>`, not a dev version. `None` when the name does
    /// not start with the prefix (another kind of tag); an error when it does but is not a version.
    pub fn parse_tag(name: &str, prefix: &str) -> Option<Result<Version>> {
        let text = name.strip_prefix(prefix)?;
        Some(match Version::parse_pep440(text) {
            Ok(v) if v.is_dev() => Err(Error::usage(format!("tag `{name}` names a dev version"))
                .with_help("release tags name releases, betas and release candidates: rpm-1.2, rpm-0.12.0b1")),
            Ok(v) => Ok(v),
            Err(_) => Err(invalid(name, &format!("release tag (`{prefix}` + version)"))),
        })
    }

    /// Parses a container tag of a release, beta or rc. A dev version's container tag is a
    /// branch name, which is not a version.
    pub fn parse_container_tag(text: &str) -> Result<Version> {
        match Version::parse_pep440(text) {
            Ok(v) if !v.is_dev() => Ok(v),
            _ => Err(invalid(text, "release container tag").with_help(
                "release container tags are PEP 440 versions (1.2, 0.12.0b1); dev images are tagged by branch",
            )),
        }
    }

    /// Parses any rendering a person might type (PEP 440, semver or RPM), for overrides.
    pub fn parse_any(text: &str) -> Result<Version> {
        Version::parse_pep440(text)
            .or_else(|_| Version::parse_semver(text))
            .or_else(|_| Version::parse_rpm(text))
            .map_err(|_| invalid(text, "version"))
    }
}

fn prerelease(text: &str) -> semver::Prerelease {
    semver::Prerelease::new(text).expect("trainyard's pre-release identifiers are valid semver")
}

/// A beta or rc of a number, and a dev build of one (`Pre::Beta`, `Pre::BetaDev`).
type PreOf = fn(u64) -> Pre;
type DevOf = fn(u64, u64) -> Pre;

/// The pre-release a rendering's suffix names: `markers` are the dev, beta and rc markers of
/// that rendering, each followed by the number ([`Version::release_with_marker`] in reverse).
fn pre_with_marker(suffix: &str, markers: [&str; 3]) -> Option<Pre> {
    if let Some(n) = suffix.strip_prefix(markers[0]).and_then(number) {
        return Some(Pre::Dev(n));
    }
    let make: [(PreOf, DevOf); 2] = [(Pre::Beta, Pre::BetaDev), (Pre::Rc, Pre::RcDev)];
    markers[1..].iter().zip(make).find_map(|(marker, (plain, dev))| {
        let rest = suffix.strip_prefix(marker)?;
        match rest.split_once(markers[0]) {
            None => number(rest).map(plain),
            Some((k, n)) => Some(dev(number(k)?, number(n)?)),
        }
    })
}

/// [`Version::to_semver`]'s pre-release identifiers in reverse.
fn semver_pre(text: &str) -> Option<Pre> {
    if let Some(n) = text.strip_prefix("0.dev.").and_then(number) {
        return Some(Pre::Dev(n));
    }
    let make: [(&str, PreOf, DevOf); 2] = [("beta.", Pre::Beta, Pre::BetaDev), ("rc.", Pre::Rc, Pre::RcDev)];
    make.iter().find_map(|(marker, plain, dev)| {
        let rest = text.strip_prefix(marker)?;
        match rest.split_once(".dev.") {
            None => number(rest).map(plain),
            Some((k, n)) => Some(dev(number(k)?.checked_add(1)?, number(n)?)),
        }
    })
}

fn invalid(text: &str, what: &str) -> Error {
    Error::usage(format!("`{}` is not a {what} trainyard understands", text.escape_debug())).with_help(SYNTAX_HELP)
}

/// A decimal number without sign or leading zeros that fits in u64.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

fn parse_release(text: &str) -> Option<(u64, u64, Option<u64>)> {
    let mut parts = text.split('.');
    let major = number(parts.next()?)?;
    let minor = number(parts.next()?)?;
    let micro = match parts.next() {
        Some(p) => Some(number(p)?),
        None => None,
    };
    parts.next().is_none().then_some((major, minor, micro))
}

/// A version as requirement files and crates write it: any number of release numbers and any
/// pre-release, semver's (`1.0.0-beta.1`) or PEP 440's (`2.0rc1`, `1.0.dev3`). `1.0` equals
/// `1.0.0`. The pre-release is compared by semver's rules, once both spellings are made one:
/// identifiers split at separators and between letters and digits, lower case, PEP 440's short
/// tags made long (`a` = `alpha`, `b` = `beta`, `c` = `rc`), and `dev` first in the list as
/// `0.dev`, below `alpha`, as PEP 440 and trainyard's own renderings have it.
#[derive(Debug, Clone)]
pub struct Loose {
    pub release: Vec<u64>,
    pub pre: semver::Prerelease,
}

impl Loose {
    /// `release` numbers and the pre-release's text as written (`-beta.1`, `rc1`, `.dev3`, empty).
    pub fn new(release: Vec<u64>, pre: &str) -> Loose {
        Loose { release, pre: normal_pre(pre) }
    }

    /// A crate's version; build metadata does not count.
    pub fn of_cargo(v: &semver::Version) -> Loose {
        Loose::new(vec![v.major, v.minor, v.patch], v.pre.as_str())
    }

    /// The release numbers compared zero-padded: `1.0` = `1.0.0`.
    pub fn release_cmp(&self, other: &Loose) -> Ordering {
        let n = self.release.len().max(other.release.len());
        let at = |v: &Loose, i: usize| v.release.get(i).copied().unwrap_or(0);
        (0..n).map(|i| at(self, i).cmp(&at(other, i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }

    /// Whether the first release numbers (zero-padded) are `prefix`.
    pub fn starts_with(&self, prefix: &[u64]) -> bool {
        prefix.iter().enumerate().all(|(i, n)| self.release.get(i).copied().unwrap_or(0) == *n)
    }
}

/// [`Loose`]'s one spelling of a pre-release.
fn normal_pre(text: &str) -> semver::Prerelease {
    let mut idents: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_digit() {
            rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())
        } else if c.is_ascii_alphabetic() {
            rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len())
        } else {
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let part = &rest[..len];
        rest = &rest[len..];
        if c.is_ascii_digit() {
            let digits = part.trim_start_matches('0');
            idents.push(if digits.is_empty() { "0".into() } else { digits.into() });
        } else {
            let word = part.to_ascii_lowercase();
            if word == "dev" && idents.is_empty() {
                idents.push("0".into());
            }
            idents.push(match word.as_str() {
                "a" => "alpha".into(),
                "b" => "beta".into(),
                "c" | "pre" | "preview" => "rc".into(),
                _ => word,
            });
        }
    }
    semver::Prerelease::new(&idents.join(".")).unwrap_or(semver::Prerelease::EMPTY)
}

impl Ord for Loose {
    fn cmp(&self, other: &Loose) -> Ordering {
        // semver's order: an empty pre-release (the release) above any other.
        self.release_cmp(other).then_with(|| self.pre.cmp(&other.pre))
    }
}

impl PartialEq for Loose {
    fn eq(&self, other: &Loose) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Loose {}

impl PartialOrd for Loose {
    fn partial_cmp(&self, other: &Loose) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether one `cargo update --precise` can move a crate between two versions: the same major
/// (under 1.0 the same minor, under 0.1 the same patch), as Cargo's caret requirement has it.
pub fn cargo_compatible(a: &semver::Version, b: &semver::Version) -> bool {
    match (a.major, a.minor) {
        (0, 0) => b.major == 0 && b.minor == 0 && a.patch == b.patch,
        (0, minor) => b.major == 0 && b.minor == minor,
        (major, _) => b.major == major,
    }
}

/// A requirement file's version as the full Cargo version `cargo update --precise` wants:
/// `1.0` -> `1.0.0`, `2.0rc1` -> `2.0.0-rc.1`. `None` past three release numbers.
pub fn cargo_version_of(text: &str) -> Option<semver::Version> {
    if let Ok(v) = semver::Version::parse(text) {
        return Some(v);
    }
    let (main, build) = text.split_once('+').unwrap_or((text, ""));
    let end = main.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(main.len());
    let (numbers, pre) = main.split_at(end);
    let numbers = numbers.strip_suffix('.').unwrap_or(numbers);
    let release: Vec<u64> = numbers.split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
    if release.is_empty() || release.len() > 3 {
        return None;
    }
    let at = |i: usize| release.get(i).copied().unwrap_or(0);
    let mut v = semver::Version::new(at(0), at(1), at(2));
    v.pre = normal_pre(pre);
    if !build.is_empty() {
        v.build = semver::BuildMetadata::new(build).ok()?;
    }
    Some(v)
}

/// The RPM `Version:` of a crate's Cargo version: trainyard's own versions as [`Version::to_rpm`]
/// writes them; any other pre-release after a `~`, so that it sorts before its release.
pub fn rpm_of_cargo(cargo_version: &str) -> String {
    if let Ok(v) = Version::parse_semver(cargo_version) {
        return v.to_rpm();
    }
    let (main, build) = match cargo_version.split_once('+') {
        Some((m, b)) => (m, Some(b)),
        None => (cargo_version, None),
    };
    let mut v = match main.split_once('-') {
        Some((release, pre)) => format!("{release}~{}", pre.replace('-', "_")),
        None => main.to_string(),
    };
    if let Some(b) = build {
        v.push('+');
        v.push_str(&b.replace('-', "_"));
    }
    v
}

/// What a package repository holds, from an RPM's version and release fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Dev,
    /// A beta or release candidate.
    Prerelease,
    Final,
}

/// The stage of an RPM by its `Version:` and `Release:`: trainyard's renderings exactly
/// (`1.3~~dev5`, `0.12.0~b1`, `1.2~rc1`); for other packages (a dependency's source RPM),
/// `dev` as a word in either field makes a dev build, and anything else counts as final.
pub fn rpm_stage(version: &str, release: &str) -> Stage {
    if let Ok(v) = Version::parse_rpm(version) {
        if v.is_dev() {
            return Stage::Dev;
        }
        if v.pre.is_some() {
            return Stage::Prerelease;
        }
    }
    let has_dev_word = |text: &str| {
        let lower = text.to_ascii_lowercase();
        let b = lower.as_bytes();
        lower.match_indices("dev").any(|(i, _)| {
            let before_ok = i == 0 || !b[i - 1].is_ascii_alphabetic();
            let after = b.get(i + 3);
            before_ok && after.is_none_or(|c| c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-' | b'~' | b'+'))
        })
    };
    // A crate's own pre-release (`0.9.0~beta.1`, the source RPM of a dependency) is what the
    // graph pins, not a pre-release of this project.
    if has_dev_word(version) || has_dev_word(release) {
        Stage::Dev
    } else {
        Stage::Final
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
const CONTAINER_TAG_MAX: usize = 128;

/// A branch name as a container tag: lower case, every run of other characters a `-`,
/// at most 128 characters. A name that would read as a release's tag (`1.2`, `latest`) gets a
/// `branch-` prefix: users pulling a release must never get a dev image.
pub fn container_tag_of_branch(branch: &str) -> String {
    let mut out = String::new();
    for c in branch.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    if out.is_empty() {
        out = "dev".into();
    }
    if out == "latest" || Version::parse_container_tag(&out).is_ok() {
        out = format!("branch-{out}");
    }
    out.truncate(CONTAINER_TAG_MAX);
    out.trim_end_matches(['-', '.']).to_string()
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_pep440())
    }
}

impl std::str::FromStr for Version {
    type Err = Error;
    /// PEP 440, trainyard's canonical text.
    fn from_str(s: &str) -> Result<Version> {
        Version::parse_pep440(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse_pep440(text).unwrap()
    }

    /// The table, row by row.
    #[test]
    fn table() {
        let dev = Version::new(1, 3, None).with_pre(Pre::Dev(5));
        let beta = Version::new(0, 12, Some(0)).with_pre(Pre::Beta(1));
        let release = Version::new(1, 2, None);
        let fix = Version::new(1, 2, Some(1));
        type Row = (Version, &'static str, &'static str, &'static str, Option<&'static str>, &'static str);
        let rows: [Row; 4] = [
            (dev, "1.3.dev5", "1.3.0-0.dev.5", "1.3~~dev5", None, "feature-add-doodad"),
            (beta, "0.12.0b1", "0.12.0-beta.1", "0.12.0~b1", Some("rpm-0.12.0b1"), "0.12.0b1"),
            (release, "1.2", "1.2.0", "1.2", Some("rpm-1.2"), "1.2"),
            (fix, "1.2.1", "1.2.1", "1.2.1", Some("rpm-1.2.1"), "1.2.1"),
        ];
        for (version, pep440, semver, rpm, tag, container) in rows {
            assert_eq!(version.to_pep440(), pep440);
            assert_eq!(version.to_string(), pep440);
            assert_eq!(version.to_semver().to_string(), semver);
            assert_eq!(version.to_rpm(), rpm);
            assert_eq!(version.to_tag("rpm-").as_deref(), tag);
            assert_eq!(version.to_container_tag("feature/Add doodad"), container);

            assert_eq!(Version::parse_pep440(pep440).unwrap(), version);
            assert_eq!(Version::parse_semver(semver).unwrap(), version);
            assert_eq!(Version::parse_rpm(rpm).unwrap(), version);
            if let Some(tag) = tag {
                assert_eq!(Version::parse_tag(tag, "rpm-").unwrap().unwrap(), version);
                assert_eq!(Version::parse_container_tag(container).unwrap(), version);
            }
        }
    }

    #[test]
    fn release_candidates() {
        let rc = Version::new(1, 2, None).with_pre(Pre::Rc(1));
        assert_eq!(rc.to_pep440(), "1.2rc1");
        assert_eq!(rc.to_semver().to_string(), "1.2.0-rc.1");
        assert_eq!(rc.to_rpm(), "1.2~rc1");
        assert_eq!(rc.to_tag("rpm-").unwrap(), "rpm-1.2rc1");
    }

    fn samples() -> Vec<Version> {
        let mut out = Vec::new();
        for (major, minor) in [(0, 0), (0, 1), (1, 2), (10, 20), (u64::MAX, 3)] {
            for micro in [None, Some(0), Some(1), Some(12)] {
                let base = Version::new(major, minor, micro);
                out.push(base);
                for pre in [Pre::Dev(0), Pre::Dev(5), Pre::Dev(10), Pre::Beta(1), Pre::Beta(11), Pre::Rc(2)] {
                    out.push(base.with_pre(pre));
                }
            }
        }
        out
    }

    /// Every rendering parses back to the same version; the texts that keep the number of
    /// components (all but semver) come back identical.
    #[test]
    fn round_trips() {
        for version in samples() {
            let pep440 = version.to_pep440();
            let back = Version::parse_pep440(&pep440).unwrap();
            assert_eq!(back, version);
            assert_eq!(back.to_pep440(), pep440);
            assert_eq!(pep440.parse::<Version>().unwrap(), version);

            let rpm = version.to_rpm();
            assert_eq!(Version::parse_rpm(&rpm).unwrap().to_rpm(), rpm);

            let semver = version.to_semver().to_string();
            let back = Version::parse_semver(&semver).unwrap();
            assert_eq!(back, version, "{semver}");
            assert_eq!(back.to_semver().to_string(), semver);

            for text in [&pep440, &rpm, &semver] {
                assert_eq!(Version::parse_any(text).unwrap(), version, "{text}");
            }
            match version.to_tag("v") {
                Some(tag) => assert_eq!(Version::parse_tag(&tag, "v").unwrap().unwrap().to_pep440(), pep440),
                None => assert!(version.is_dev()),
            }
            if !version.is_dev() {
                let container = version.to_container_tag("main");
                assert_eq!(Version::parse_container_tag(&container).unwrap().to_pep440(), pep440);
            }
        }
    }

    #[test]
    fn ordering() {
        let ordered = ["1.2", "1.2.1", "1.3.dev5", "1.3.dev10", "1.3b1", "1.3b2", "1.3rc1", "1.3", "1.3.1.dev1", "2.0"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("1.2").to_pep440(), "1.2");
        assert_eq!(v("1.2.0").to_pep440(), "1.2.0");
        assert!(v("1.2.0.dev3") < v("1.2b1"));
        let mut sorted = samples();
        sorted.sort();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        use std::collections::HashSet;
        let set: HashSet<Version> = [v("1.2"), v("1.2.0")].into_iter().collect();
        assert_eq!(set.len(), 1, "Hash agrees with Eq");
    }

    #[test]
    fn bumps_keep_the_style() {
        assert_eq!(v("1.2").next_minor().to_pep440(), "1.3");
        assert_eq!(v("1.2.4").next_minor().to_pep440(), "1.3.0");
        assert_eq!(v("1.2").next_micro().to_pep440(), "1.2.1");
        assert_eq!(v("1.2.1").next_micro().to_pep440(), "1.2.2");
        assert_eq!(v("0.12.0b1").next_minor().to_pep440(), "0.12.0");
        assert_eq!(v("1.3rc2").next_micro().to_pep440(), "1.3");
    }

    #[test]
    fn junk_is_refused() {
        for junk in [
            "",
            "1",
            "1.",
            ".1",
            "1.2.3.4",
            "a.b",
            "1.2.x",
            "01.2",
            "1.02",
            "1.2-3",
            " 1.2",
            "1.2 ",
            "v1.2",
            "1.2a1",
            "1.2.post1",
            "1.2.dev",
            "1.2.dev01",
            "1.2b",
            "1.2rc",
            "1.2c1",
            "1.2.dev5+local",
            "1.2+x",
            "-1.2",
            "18446744073709551616.0",
            "1.2.dev5b1",
            "1.2b1.dev",
            "1.2b.dev1",
        ] {
            assert!(Version::parse_pep440(junk).is_err(), "pep440 {junk:?}");
        }
        for junk in ["1.2", "1.2.0-beta", "1.2.0-alpha.1", "1.2.0-dev.5", "1.2.0-0.dev.05", "1.2.0+build", "1.2.0-rc.x"]
        {
            assert!(Version::parse_semver(junk).is_err(), "semver {junk:?}");
        }
        for junk in ["1.2~", "1.2~dev5", "1.2~~b1", "1.2~a1", "1.2^post", "1.2-1", "1.2~~dev"] {
            assert!(Version::parse_rpm(junk).is_err(), "rpm {junk:?}");
        }
        assert!(Version::parse_tag("v1.2", "rpm-").is_none());
        assert!(Version::parse_tag("rpm-1.3.dev5", "rpm-").unwrap().is_err());
        assert!(Version::parse_tag("rpm-latest", "rpm-").unwrap().is_err());
        assert!(Version::parse_container_tag("main").is_err());
        assert!(Version::parse_container_tag("1.3.dev5").is_err());
        let err = Version::parse_pep440("1.2a1").unwrap_err();
        assert!(err.message.contains("`1.2a1`"), "{}", err.message);
        assert!(err.help.unwrap().contains("1.3.dev5"));
    }

    #[test]
    fn dev_builds_of_betas_and_rcs() {
        let b = Version::new(0, 12, Some(0)).with_pre(Pre::BetaDev(2, 3));
        assert_eq!(b.to_pep440(), "0.12.0b2.dev3");
        assert_eq!(b.to_rpm(), "0.12.0~b2~~dev3");
        assert_eq!(b.to_semver().to_string(), "0.12.0-beta.1.dev.3");
        assert_eq!(b.to_tag("v"), None);
        for text in [b.to_pep440(), b.to_rpm(), b.to_semver().to_string()] {
            assert_eq!(Version::parse_any(&text).unwrap(), b, "{text}");
        }
        assert!(v("0.12.0b1") < b && b < v("0.12.0b2"));
        assert!(v("1.2rc1") < v("1.2rc2.dev1") && v("1.2rc2.dev1") < v("1.2rc2"));
        assert!(v("0.12.0b9") < v("0.12.0rc1.dev1"));
        assert_eq!(v("0.12.0b1").dev(4).to_pep440(), "0.12.0b1.dev4");
        assert_eq!(v("0.12.0b2.dev3").target().to_pep440(), "0.12.0b2");
        assert_eq!(v("0.12.0b1").next_pre().unwrap().to_pep440(), "0.12.0b2");
        assert!(v("0.12.0b2.dev3").is_dev() && !v("0.12.0b2").is_dev() && v("0.12.0b2").is_prerelease());
    }

    #[test]
    fn precision_of_a_line() {
        assert_eq!(v("0.18").with_precision(Precision::Full).to_pep440(), "0.18.0");
        assert_eq!(v("1.2.0").with_precision(Precision::MajorMinor).to_pep440(), "1.2");
        assert_eq!(v("1.2.1").with_precision(Precision::MajorMinor).to_pep440(), "1.2.1");
        assert_eq!(v("0.18.dev6").with_precision(Precision::Full).to_rpm(), "0.18.0~~dev6");
        assert_eq!(Precision::of_tags(&[v("1.2.1"), v("1.2")]), Some(Precision::MajorMinor));
        assert_eq!(Precision::of_tags(&[v("0.17.1"), v("0.17.0")]), Some(Precision::Full));
        assert_eq!(Precision::of_tags(&[v("0.17.1")]), None);
        assert!(Version::parse_release("0.12.0b1").unwrap_err().message.contains("is a beta"));
        assert!(Version::parse_release("1.2.dev3").is_err());
        assert_eq!(Version::parse_release("0.18.0").unwrap().to_pep440(), "0.18.0");
    }

    #[test]
    fn loose_versions_of_requirement_files() {
        let l = |r: &[u64], pre: &str| Loose::new(r.to_vec(), pre);
        // dev sorts below alpha, beta and rc, as PEP 440 has it.
        assert!(l(&[1, 0], ".dev3") < l(&[1, 0], "a1"));
        assert!(l(&[1, 0], ".dev3") < l(&[1, 0, 0], "-beta.1"));
        assert!(l(&[1, 0], "b2") < l(&[1, 0], "rc1"));
        assert!(l(&[1, 0], "rc1") < l(&[1, 0], ""));
        assert_eq!(l(&[1, 0], ".dev3"), Loose::of_cargo(&semver::Version::parse("1.0.0-0.dev.3").unwrap()));
        assert_eq!(l(&[2, 0], "rc1"), l(&[2, 0, 0], "-rc.1"));
        assert_eq!(cargo_version_of("1.0").unwrap().to_string(), "1.0.0");
        assert_eq!(cargo_version_of("2.0rc1").unwrap().to_string(), "2.0.0-rc.1");
        assert!(cargo_version_of("1.0.0.1").is_none());
        let c = |t: &str| semver::Version::parse(t).unwrap();
        assert!(cargo_compatible(&c("1.0.19"), &c("1.9.0")));
        assert!(!cargo_compatible(&c("0.4.8"), &c("0.5.0")));
        assert!(!cargo_compatible(&c("0.0.1"), &c("0.0.2")));
    }

    #[test]
    fn branch_names_as_container_tags() {
        for (branch, tag) in [
            ("feature/Add doodad", "feature-add-doodad"),
            ("main", "main"),
            ("1.2-release", "1.2-release"),
            ("--x__y..", "x__y"),
            ("Fix: émoji 🎉 support!", "fix-moji-support"),
            ("1.2", "branch-1.2"),
            ("latest", "branch-latest"),
            ("LATEST", "branch-latest"),
            ("///", "dev"),
        ] {
            assert_eq!(container_tag_of_branch(branch), tag, "{branch:?}");
        }
        let long = container_tag_of_branch(&"a-".repeat(200));
        assert!(long.len() <= 128 && !long.ends_with('-'), "{long}");
    }
}
