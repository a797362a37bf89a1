//! A package required twice: allowed only as `==` pins of different versions.

use super::*;

/// A package may appear more than once only as `==` pins of different versions.
///
/// Linear: each line is checked against what the earlier lines of its package left in
/// hash maps (its first line, its first unpinned line, its pins by release), never against
/// every earlier line.
pub(super) fn check_duplicates(requirements: &[Requirement]) -> Result<()> {
    #[derive(Default)]
    pub(super) struct Seen<'r> {
        first: Option<&'r Requirement>,
        unpinned: Option<&'r Requirement>,
        pins: HashMap<ReleaseKey, &'r Requirement>,
    }
    let mut by_key: HashMap<String, Seen<'_>> = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for r in requirements {
        let seen = by_key.entry(r.key()).or_default();
        let pin_key = r.pinned().map(release_key);
        let clash = match &pin_key {
            None => seen.first,
            Some(k) => {
                let same = seen.pins.get(k).copied();
                // The earlier of the two lines it clashes with, as a scan in order finds it.
                match (seen.unpinned, same) {
                    (Some(a), Some(b)) => Some(if (a.line, &a.file) <= (b.line, &b.file) { a } else { b }),
                    (a, b) => a.or(b),
                }
            }
        };
        if let Some(e) = clash {
            problems.push(format!(
                "{}:{}: `{}` requires {} again; {}:{} has `{}`",
                r.file,
                r.line,
                r.text(),
                r.name,
                e.file,
                e.line,
                e.text()
            ));
        }
        seen.first.get_or_insert(r);
        match pin_key {
            None => {
                seen.unpinned.get_or_insert(r);
            }
            Some(k) => {
                seen.pins.entry(k).or_insert(r);
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::usage(problems.join("\n")).with_help(
        "a package may appear twice only as `==` pins of different versions (a graph holding two \
         semver-incompatible versions, like syn 1 and syn 2); merge the other lines into one",
    ))
}

/// What makes two pins the same release ([`same_release`]), as a hash key: release numbers
/// without trailing zeros, the normalised pre-release, the wildcard; the text when unparsable.
#[derive(PartialEq, Eq, Hash)]
pub(super) enum ReleaseKey {
    Parsed(Vec<u64>, String, bool),
    Text(String),
}

pub(super) fn release_key(pinned: &str) -> ReleaseKey {
    match Version::parse(pinned) {
        Some(v) => {
            let mut release = v.version.release;
            while release.last() == Some(&0) {
                release.pop();
            }
            // `Loose` keeps its pre-release normalised: equal texts are equal versions.
            ReleaseKey::Parsed(release, v.version.pre.to_string(), v.wildcard)
        }
        None => ReleaseKey::Text(pinned.to_string()),
    }
}

/// `1.0` and `1.0.0` are the same version; build metadata does not count.
pub(super) fn same_release(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y) == Ordering::Equal && x.wildcard == y.wildcard,
        _ => a == b,
    }
}
