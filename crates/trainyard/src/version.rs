//! One version, rendered for every place it appears: PEP 440, Cargo semver, RPM `Version:`,
//! git tag, container tag. Pure: no git, no environment.
//!
//! | rendering    | dev             | beta            | release  | fix       |
//! |--------------|-----------------|-----------------|----------|-----------|
//! | PEP 440      | `1.3.dev5`      | `0.12.0b1`      | `1.2`    | `1.2.1`   |
//! | Cargo semver | `1.3.0-0.dev.5` | `0.12.0-beta.1` | `1.2.0`  | `1.2.1`   |
//! | RPM Version  | `1.3~~dev5`     | `0.12.0~b1`     | `1.2`    | `1.2.1`   |
//! | git tag      | none            | `rpm-0.12.0b1`  | `rpm-1.2`| `rpm-1.2.1` |
//! | container    | branch name     | `0.12.0b1`      | `1.2`    | `1.2.1`   |
//!
//! Release candidates are `1.2rc1`, `1.2.0-rc.1`, `1.2~rc1`.
//!
//! # Ordering
//!
//! dev < beta < rc < release, then by number; `1.2.1` > `1.2`. A missing MICRO counts as 0, so
//! `1.2` and `1.2.0` are *equal* (as PEP 440 and semver have it: semver cannot even write `1.2`),
//! while each keeps the text it was written with. That is what makes every rendering parse
//! back to the same version, semver's included.
//!
//! rpm is the one implementation that sees a difference there: it sorts the text with fewer
//! components first whatever follows (`1.2` < `1.2.0`, and `1.3~b1` < `1.3.0~~dev1` although
//! PEP 440 says the opposite). No single order agrees with all three on such pairs, so the rule
//! is: write every version of one release line with the same number of components. trainyard's
//! own arithmetic ([`Version::next_minor`], [`Version::next_micro`]) keeps the style of the
//! version it starts from; on every other pair all renderings order as [`Ord`] does
//! (`tests/version_order.rs` checks this against rpm, Python's `packaging` and the `semver` crate).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{Error, Result};

/// The pre-release part. Declaration order is the ordering: dev < beta < rc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pre {
    Dev(u64),
    Beta(u64),
    Rc(u64),
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

    pub fn is_dev(&self) -> bool {
        matches!(self.pre, Some(Pre::Dev(_)))
    }

    /// 2 for `1.2`, 3 for `1.2.0`.
    pub fn components(&self) -> usize {
        if self.micro.is_some() {
            3
        } else {
            2
        }
    }

    /// The next MINOR release, written in the same style: `1.2` -> `1.3`, `1.2.4` -> `1.3.0`.
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

    /// The release text followed by the pre-release marker for dev, beta and rc, and its number.
    fn release_with_marker(&self, markers: [&str; 3]) -> String {
        let release = self.release_text();
        match self.pre {
            None => release,
            Some(Pre::Dev(n)) => format!("{release}{}{n}", markers[0]),
            Some(Pre::Beta(n)) => format!("{release}{}{n}", markers[1]),
            Some(Pre::Rc(n)) => format!("{release}{}{n}", markers[2]),
        }
    }

    /// Cargo semver: `1.3.0-0.dev.5`, `0.12.0-beta.1`, `1.2.0-rc.1`, `1.2.0`. The leading numeric
    /// `0` identifier keeps dev below `beta`/`rc` (numeric identifiers sort below alphanumeric).
    pub fn to_semver(&self) -> semver::Version {
        let pre = match self.pre {
            None => semver::Prerelease::EMPTY,
            Some(Pre::Dev(n)) => prerelease(&format!("0.dev.{n}")),
            Some(Pre::Beta(n)) => prerelease(&format!("beta.{n}")),
            Some(Pre::Rc(n)) => prerelease(&format!("rc.{n}")),
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
            p => Some(pre_with_marker(p, ["0.dev.", "beta.", "rc."]).ok_or_else(bad)?),
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

/// The pre-release a rendering's suffix names: `markers` are the dev, beta and rc markers of
/// that rendering, each followed by the number ([`Version::release_with_marker`] in reverse).
fn pre_with_marker(suffix: &str, markers: [&str; 3]) -> Option<Pre> {
    let make: [fn(u64) -> Pre; 3] = [Pre::Dev, Pre::Beta, Pre::Rc];
    markers.iter().zip(make).find_map(|(marker, make)| suffix.strip_prefix(marker).and_then(number).map(make))
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
            "1.2b1.dev5",
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
