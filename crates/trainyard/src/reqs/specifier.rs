//! The versions of specifiers (`== 1.4.*`, `>= 2.0rc1`) and what satisfies them.

use super::*;

/// A specifier's version: a version compared as [`crate::version::Loose`] compares, or a
/// `1.4.*` prefix.
#[derive(Debug, Clone)]
pub(super) struct Version {
    pub(super) version: Loose,
    /// `1.4.*`: the release numbers are a prefix.
    pub(super) wildcard: bool,
}

/// PEP 440's pre-release spellings, attached to the release (`2.0rc1`, `1.0.dev3`).
pub(super) const PEP440_TAGS: &[&str] = &["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "dev"];

impl Version {
    pub(super) fn parse(text: &str) -> Option<Version> {
        let mut c = Cursor { line: text, pos: 0, end: text.len() };
        let version = scan_version(&mut c, Op::Eq).ok()?;
        c.at_end().then_some(version)
    }
}

/// Whether `candidate` satisfies `op wanted`.
pub(super) fn satisfies(candidate: &Loose, op: Op, wanted: &Version) -> bool {
    let release = &wanted.version.release;
    let order = candidate.cmp(&wanted.version);
    match op {
        Op::Eq if wanted.wildcard => candidate.starts_with(release),
        Op::Ne if wanted.wildcard => !candidate.starts_with(release),
        Op::Eq => order.is_eq(),
        Op::Ne => order.is_ne(),
        // PEP 440: `< 2.0` does not let in 2.0's own pre-releases.
        Op::Lt => order.is_lt() && !(wanted.version.pre.is_empty() && candidate.release_cmp(&wanted.version).is_eq()),
        Op::Le => order.is_le(),
        Op::Gt => order.is_gt(),
        Op::Ge => order.is_ge(),
        Op::Compatible => order.is_ge() && candidate.starts_with(&release[..release.len().saturating_sub(1)]),
    }
}

/// `1.0` and `1.0.0` are equal; `.*` is not part of the order.
impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.version.cmp(&other.version)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Reads a version at the cursor; stops before whitespace, `,` or anything else that cannot
/// continue it (the caller says what may follow).
pub(super) fn scan_version(c: &mut Cursor<'_>, op: Op) -> Result<Version, LineError> {
    if !c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        return Err(c.error(format!("expected a version after `{}`, found {}", op.as_str(), c.found())));
    }
    let mut release = Vec::new();
    let mut wildcard = false;
    loop {
        let start = c.pos;
        let digits = c.take_while(|ch| ch.is_ascii_digit());
        let n =
            digits.parse::<u64>().map_err(|_| c.error_at(start, format!("version number `{digits}` is too large")))?;
        release.push(n);
        if c.peek() != Some('.') || c.peek2().is_some_and(|ch| ch.is_ascii_alphabetic()) {
            break;
        }
        c.bump();
        if c.eat("*") {
            wildcard = true;
            break;
        }
        if !c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            return Err(c.error(format!("expected a number after `.` in the version, found {}", c.found())));
        }
    }
    let pre_start = c.pos;
    if !wildcard {
        match (c.peek(), c.peek2()) {
            (Some('-'), _) => {
                c.bump();
                scan_idents(c, "-", |ch| ch.is_ascii_alphanumeric() || ch == '-', &['.'])?;
            }
            (Some(ch), _) if ch.is_ascii_alphabetic() => scan_pep440_pre(c)?,
            (Some('.' | '_'), Some(ch)) if ch.is_ascii_alphabetic() => scan_pep440_pre(c)?,
            _ => {}
        }
    }
    let pre = &c.line[pre_start..c.pos];
    if c.peek() == Some('+') {
        if wildcard {
            return Err(c.error("expected the end of the version after `.*`, found `+`"));
        }
        c.bump();
        scan_idents(c, "+", |ch| ch.is_ascii_alphanumeric(), &['.', '-', '_'])?;
    }
    if wildcard && c.peek().is_some_and(|ch| !ch.is_whitespace() && ch != ',') {
        return Err(c.error(format!("expected the end of the version after `.*`, found {}", c.found())));
    }
    Ok(Version { version: Loose::new(release, pre), wildcard })
}

/// One or more identifiers after `lead`, separated by one of `separators`.
pub(super) fn scan_idents(
    c: &mut Cursor<'_>,
    lead: &str,
    part: impl Fn(char) -> bool,
    separators: &[char],
) -> Result<(), LineError> {
    let mut after = lead.to_owned();
    loop {
        if c.take_while(&part).is_empty() {
            return Err(
                c.error(format!("expected letters or digits after `{after}` in the version, found {}", c.found()))
            );
        }
        match c.peek() {
            Some(sep) if separators.contains(&sep) => {
                after = sep.to_string();
                c.bump();
            }
            _ => return Ok(()),
        }
    }
}

/// `rc1`, `.dev3`, `a1.dev2`, `-rc.1` after the release: a known tag, then an optional number.
pub(super) fn scan_pep440_pre(c: &mut Cursor<'_>) -> Result<(), LineError> {
    let is_sep = |ch: Option<char>| matches!(ch, Some('.' | '-' | '_'));
    loop {
        if is_sep(c.peek()) && c.peek2().is_some_and(|ch| ch.is_ascii_alphabetic()) {
            c.bump();
        }
        let start = c.pos;
        let tag = c.take_while(|ch| ch.is_ascii_alphabetic());
        if !PEP440_TAGS.contains(&tag.to_ascii_lowercase().as_str()) {
            return Err(c.error_at(
                start,
                format!(
                    "`{tag}` is not a pre-release tag; expected `a`, `b`, `rc`, `alpha`, `beta` or `dev` \
                     (`2.0rc1`), or a semver pre-release after `-` (`1.0.0-beta.1`)"
                ),
            ));
        }
        if is_sep(c.peek()) && c.peek2().is_some_and(|ch| ch.is_ascii_digit()) {
            c.bump();
        }
        c.take_while(|ch| ch.is_ascii_digit());
        let more = c.peek().is_some_and(|ch| ch.is_ascii_alphabetic())
            || (is_sep(c.peek()) && c.peek2().is_some_and(|ch| ch.is_ascii_alphabetic()));
        if !more {
            return Ok(());
        }
    }
}
