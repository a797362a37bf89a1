//! `release minor` and `release patch`: the next version computed from the line, the latest
//! release tag and the branch, instead of typed. What they compute then goes on as if it had
//! been typed (`release 1.3`, `release 1.2.1`; `release start minor`). Betas and release
//! candidates are steps of their own in both flows (`release beta`, `release rc`), which
//! compute theirs from the branch and the release's tags (`super::prerelease`).

use crate::error::{Error, Result};
use crate::version::{Precision, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    /// The next train: the one the default branch is building, or after the newest release.
    Minor,
    /// The next fix of the release HEAD descends from.
    Patch,
}

impl Word {
    pub fn parse(text: &str) -> Option<Word> {
        match text {
            "minor" => Some(Word::Minor),
            "patch" => Some(Word::Patch),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Word::Minor => "minor",
            Word::Patch => "patch",
        }
    }
}

/// The computing words where another step asks for a version: `release start minor` computes
/// the train to cut; the other steps that take a version name one that exists already (promote
/// and roll back a published one, backport from a released line), which no computed *next*
/// version can be, and a beta or rc is made by its own step. Those are refused, saying so.
pub fn refuse_elsewhere(step: &str, word: &str) -> Option<Error> {
    if !matches!(word, "minor" | "patch" | "beta" | "rc") || (step == "start" && word == "minor") {
        return None;
    }
    let (why, help) = match (step, word) {
        ("start", "patch") => (
            "`release start` cuts a new train, and a fix is no train",
            "release patch (the fix's whole path), or release fix on the release branch",
        ),
        ("start", _) => (
            "`release start` cuts a train; its betas and rcs come after, on its branch",
            "release start minor, then on its branch: release beta (release rc)",
        ),
        ("promote" | "rollback", _) => (
            "this step takes a version already published, and a computed next version is not",
            "name the version (release history --channel CHANNEL lists them)",
        ),
        _ => (
            "this step takes a released line, and a computed next version has none yet",
            "name the line (release backport 1.2), or leave it out for the newest",
        ),
    };
    Some(Error::usage(format!("`release {step} {word}`: {why}")).with_help(help))
}

/// What HEAD is, as the version module computes it.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    /// HEAD's version: a release (tagged) or a dev build leading to the branch's next version.
    pub version: Version,
    /// The release tag HEAD carries or counts from.
    pub from_tag: Option<Version>,
    pub on_default_branch: bool,
}

/// The version `word` names. `newest` is the newest release tag of the repository; a value
/// that would not go above it (minor) or above the release it fixes (patch) is refused.
pub fn compute(word: Word, head: Head, newest: Option<Version>, precision: Precision) -> Result<Version> {
    let v = match word {
        Word::Minor => {
            let v = if head.on_default_branch && head.version.is_dev() {
                // The train the default branch is building (its Cargo.toml may have raised it).
                head.version.target().release()
            } else {
                match newest.or(head.from_tag) {
                    Some(t) => t.release().next_minor(),
                    None => head.version.release(),
                }
            };
            v.with_precision(precision)
        }
        Word::Patch => {
            let Some(base) = head.from_tag.filter(Version::is_release) else {
                return Err(Error::usage("`release patch` fixes a release, and HEAD descends from none").with_help(
                    "check out the release branch of the release to fix, or give the version (release 1.2.1)",
                ));
            };
            let v = base.next_micro().with_precision(precision);
            if v <= base {
                return Err(refused(word, v, base));
            }
            return Ok(v);
        }
    };
    if let Some(n) = newest.filter(|n| v <= *n) {
        return Err(refused(word, v, n));
    }
    Ok(v)
}

fn refused(word: Word, v: Version, above: Version) -> Error {
    Error::usage(format!("`release {}` computes {v}, which does not go above {above}", word.as_str()))
        .with_help("give the version to release (release X.Y or X.Y.Z), or raise the train in Cargo.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse_pep440(text).unwrap()
    }

    fn head(version: &str, tag: Option<&str>, default: bool) -> Head {
        Head { version: v(version), from_tag: tag.map(v), on_default_branch: default }
    }

    #[test]
    fn minor_on_both_precisions() {
        let xy = Precision::MajorMinor;
        let xyz = Precision::Full;
        // The default branch building 1.3 after rpm-1.2.
        assert_eq!(compute(Word::Minor, head("1.3.dev5", Some("1.2"), true), Some(v("1.2")), xy).unwrap(), v("1.3"));
        assert_eq!(
            compute(Word::Minor, head("0.18.0.dev2", Some("0.17.0"), true), Some(v("0.17.0")), xyz).unwrap(),
            v("0.18.0")
        );
        // HEAD on the tag itself: the train after it.
        assert_eq!(compute(Word::Minor, head("1.2", Some("1.2"), true), Some(v("1.2")), xy).unwrap(), v("1.3"));
        // On a release branch, after a fix: the train after the newest release.
        assert_eq!(
            compute(Word::Minor, head("1.2.2.dev1", Some("1.2.1"), false), Some(v("1.2.1")), xyz).unwrap(),
            v("1.3.0")
        );
        // No tag yet: the train the workspace names.
        assert_eq!(compute(Word::Minor, head("0.1.dev3", None, true), None, xy).unwrap(), v("0.1"));
    }

    #[test]
    fn patch_on_both_precisions() {
        assert_eq!(
            compute(Word::Patch, head("1.2.1.dev2", Some("1.2"), false), Some(v("1.3")), Precision::MajorMinor)
                .unwrap(),
            v("1.2.1")
        );
        assert_eq!(
            compute(Word::Patch, head("0.17.1", Some("0.17.1"), false), Some(v("0.17.1")), Precision::Full).unwrap(),
            v("0.17.2")
        );
        assert_eq!(
            compute(Word::Patch, head("0.1.dev3", None, true), None, Precision::MajorMinor).unwrap_err().exit_code(),
            2
        );
    }

    #[test]
    fn words_where_they_cannot_name_the_version_are_refused() {
        assert!(refuse_elsewhere("start", "minor").is_none());
        assert!(refuse_elsewhere("promote", "1.2").is_none());
        for (step, word) in
            [("start", "patch"), ("start", "beta"), ("promote", "rc"), ("rollback", "minor"), ("backport", "patch")]
        {
            let err = refuse_elsewhere(step, word).unwrap();
            assert_eq!(err.exit_code(), 2);
            assert!(err.message.contains(&format!("release {step} {word}")), "{}", err.message);
            assert!(err.help.is_some());
        }
    }

    #[test]
    fn a_value_that_does_not_go_up_is_refused() {
        // The default branch still names 1.2 (nobody started 1.3) although 1.2 is tagged.
        let err = compute(Word::Minor, head("1.2.dev4", Some("1.2"), true), Some(v("1.2")), Precision::MajorMinor)
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message.contains("does not go above 1.2"), "{}", err.message);
        assert!(
            compute(Word::Minor, head("1.3.dev1", Some("1.2"), true), Some(v("2.0")), Precision::MajorMinor).is_err()
        );
    }
}
