//! Requirement files in pip's syntax: `reqs/<channel>-reqs.txt`.
//!
//! The subset of pip's format that means something for crates:
//!
//! ```text
//! # a comment
//! -r base-reqs.txt            # include, relative to this file (also `--requirement FILE`)
//! serde == 1.0.219            # a pin
//! SQLAlchemy <= 0.6.99
//! tokio >= 1.0, < 2           # comma-joined specifiers
//! anyhow                      # unpinned
//! ```
//!
//! Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`; `== 1.4.*` and `!= 1.4.*` match a prefix.
//! Versions are release numbers (`1`, `0.2`, `1.0.7`) with an optional pre-release, either
//! semver's (`1.0.0-beta.1`) or PEP 440's (`2.0rc1`, `1.0.dev3`), and an optional `+build`
//! (`+local`) part that comparisons ignore. pip's other features (extras, markers, URLs,
//! `-e`, `--hash`, line continuations) have no meaning for crates and are errors.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io_error, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Compatible,
}

impl Op {
    /// The operator as written in a requirement file.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Compatible => "~=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    pub op: Op,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The package name as written.
    pub name: String,
    pub specifiers: Vec<Specifier>,
    pub file: Utf8PathBuf,
    /// 1-based.
    pub line: usize,
}

impl Requirement {
    pub fn key(&self) -> String {
        normalize(&self.name)
    }

    /// The version when the requirement is exactly one `==` specifier (not a `.*` prefix).
    pub fn pinned(&self) -> Option<&str> {
        match self.specifiers.as_slice() {
            [Specifier { op: Op::Eq, version }] if !version.ends_with(".*") => Some(version),
            _ => None,
        }
    }

    /// Whether a crate version satisfies every specifier (PEP 440's rules, on zero-padded
    /// release numbers; a pre-release sorts below its release).
    pub fn allows(&self, version: &semver::Version) -> bool {
        let candidate = Version::from_semver(version);
        self.specifiers.iter().all(|spec| match Version::parse(&spec.version) {
            Some(wanted) => candidate.satisfies(spec.op, &wanted),
            // parse() never stores a version it cannot read; a hand-made one allows nothing.
            None => false,
        })
    }

    /// The line as it would be written: `name == 1.0, != 1.0.3`.
    fn text(&self) -> String {
        let specs: Vec<String> = self.specifiers.iter().map(|s| format!("{} {}", s.op.as_str(), s.version)).collect();
        if specs.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, specs.join(", "))
        }
    }
}

/// Package names compare as Cargo compares them: case-insensitive, `-` and `_` alike.
pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// The requirements of one file, in order; `-r` includes are not followed (see [`load`]).
pub fn parse(path: &Utf8Path, text: &str) -> Result<Vec<Requirement>> {
    Ok(entries(path, text)?
        .into_iter()
        .filter_map(|entry| match entry {
            Entry::Requirement(r) => Some(r),
            Entry::Include { .. } => None,
        })
        .collect())
}

/// The requirements of a file and of the files it includes (`-r`), depth-first in order.
///
/// A file reached twice through different includes is read once. An include cycle, a missing
/// included file and a package required twice (other than as `==` pins of different versions,
/// which a Cargo graph can hold: syn 1 and syn 2) are errors.
pub fn load(path: &Utf8Path) -> Result<Vec<Requirement>> {
    let mut loader = Loader::default();
    loader.file(path, None)?;
    check_duplicates(&loader.requirements)?;
    Ok(loader.requirements)
}

/// The text `pin` writes: `name == version` for every pin, sorted by normalized name then
/// version, after the existing file's free comments and `-r` lines.
///
/// From `existing`: comment blocks and `-r` lines are kept in their order, first (so a header
/// stays at the top); old requirement lines are dropped. A comment block directly above a
/// requirement line (other than one starting on the first line: that is the file's header),
/// and a trailing comment on a requirement line, belong to that requirement: they move to the
/// new line of the same package, or go when the package is no longer pinned.
pub fn render_pins(existing: Option<&str>, pins: &[(String, String)]) -> String {
    let old = existing.map(OldFile::read).unwrap_or_default();

    let mut sorted: Vec<(String, &str, &str, Option<Version>)> = pins
        .iter()
        .map(|(name, version)| (normalize(name), name.as_str(), version.as_str(), Version::parse(version)))
        .collect();
    // Versions that do not parse (never from `parse`) sort before the others, by text.
    sorted.sort_by(|a, b| (&a.0, &a.3, a.2, a.1).cmp(&(&b.0, &b.3, b.2, b.1)));
    sorted.dedup_by(|b, a| a.0 == b.0 && same_release(a.2, b.2));

    // Each old requirement's comments go to one new pin: the same version first, then in order.
    let mut owner: Vec<Option<usize>> = vec![None; sorted.len()];
    let mut used = vec![false; old.requirements.len()];
    for exact in [true, false] {
        for (i, (key, _, version, _)) in sorted.iter().enumerate() {
            if owner[i].is_some() {
                continue;
            }
            let found = old.requirements.iter().enumerate().position(|(j, r)| {
                !used[j] && &r.key == key && (!exact || r.version.as_deref().is_some_and(|v| same_release(v, version)))
            });
            if let Some(j) = found {
                used[j] = true;
                owner[i] = Some(j);
            }
        }
    }

    let mut free = old.free;
    let mut pin_lines = Vec::new();
    for (i, (_, name, version, _)) in sorted.iter().enumerate() {
        let mut line = format!("{name} == {version}");
        if let Some(j) = owner[i] {
            let r = &old.requirements[j];
            if i == 0 && free.is_empty() {
                // Comments first in the file would read as its header next time: make them one now.
                free.extend(r.comments.iter().cloned());
            } else {
                pin_lines.extend(r.comments.iter().cloned());
            }
            if let Some(comment) = &r.trailing {
                line = format!("{line}  {comment}");
            }
        }
        pin_lines.push(line);
    }

    let mut out = String::new();
    for section in [free, pin_lines] {
        if section.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        for line in section {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Files

enum Entry {
    Requirement(Requirement),
    Include { target: String, line: usize, col: usize },
}

/// The lines of a file as `parse` and `render_pins` both see them.
fn lines(text: &str) -> std::str::Lines<'_> {
    text.strip_prefix('\u{feff}').unwrap_or(text).lines()
}

fn entries(path: &Utf8Path, text: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (i, raw) in lines(text).enumerate() {
        let line = i + 1;
        match parse_line(raw) {
            Ok(Line::Blank) => {}
            Ok(Line::Requirement { name, specifiers }) => {
                out.push(Entry::Requirement(Requirement { name, specifiers, file: path.to_owned(), line }))
            }
            Ok(Line::Include { target, col }) => out.push(Entry::Include { target, line, col }),
            Err(e) => return Err(Error::usage(format!("{path}:{line}:{}: {}", e.col, e.message))),
        }
    }
    Ok(out)
}

/// Where an include line is, for messages about the file it names.
struct IncludedFrom<'a> {
    file: &'a Utf8Path,
    line: usize,
    col: usize,
    target: &'a str,
}

#[derive(Default)]
struct Loader {
    /// The files being read, outermost first: (identity, path as shown).
    stack: Vec<(PathBuf, Utf8PathBuf)>,
    seen: HashSet<PathBuf>,
    requirements: Vec<Requirement>,
}

impl Loader {
    fn file(&mut self, path: &Utf8Path, from: Option<IncludedFrom<'_>>) -> Result<()> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                let err = match (&from, e.kind()) {
                    (Some(inc), std::io::ErrorKind::NotFound) => Error::usage(format!(
                        "{}:{}:{}: `-r {}` names {path}, which does not exist",
                        inc.file, inc.line, inc.col, inc.target
                    )),
                    (None, std::io::ErrorKind::NotFound) => Error::usage(format!("{path} does not exist")),
                    (Some(inc), _) => io_error(path, e).context(format!("{}:{}:{}", inc.file, inc.line, inc.col)),
                    (None, _) => io_error(path, e),
                };
                return Err(err);
            }
        };
        let identity = std::fs::canonicalize(path).unwrap_or_else(|_| path.as_std_path().to_owned());
        let on_stack = self.stack.iter().position(|(id, _)| *id == identity);
        if let (Some(start), Some(inc)) = (on_stack, &from) {
            let mut chain: Vec<String> = self.stack[start..].iter().map(|(_, shown)| shown.to_string()).collect();
            chain.push(path.to_string());
            return Err(Error::usage(format!(
                "{}:{}:{}: `-r {}` makes an include cycle: {}",
                inc.file,
                inc.line,
                inc.col,
                inc.target,
                chain.join(" -> ")
            ))
            .with_help("remove one of the `-r` lines of the cycle"));
        }
        if !self.seen.insert(identity.clone()) {
            return Ok(());
        }
        self.stack.push((identity, path.to_owned()));
        let dir = path.parent().unwrap_or(Utf8Path::new(""));
        for entry in entries(path, &text)? {
            match entry {
                Entry::Requirement(r) => self.requirements.push(r),
                Entry::Include { target, line, col } => {
                    let from = IncludedFrom { file: path, line, col, target: &target };
                    self.file(&dir.join(&target), Some(from))?;
                }
            }
        }
        self.stack.pop();
        Ok(())
    }
}

/// A package may appear more than once only as `==` pins of different versions.
fn check_duplicates(requirements: &[Requirement]) -> Result<()> {
    let mut by_key: BTreeMap<String, Vec<&Requirement>> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in requirements {
        let earlier = by_key.entry(r.key()).or_default();
        let clash = earlier.iter().find(|e| match (e.pinned(), r.pinned()) {
            (Some(a), Some(b)) => same_release(a, b),
            _ => true,
        });
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
        earlier.push(r);
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::usage(problems.join("\n")).with_help(
        "a package may appear twice only as `==` pins of different versions (a graph holding two \
         semver-incompatible versions, like syn 1 and syn 2); merge the other lines into one",
    ))
}

/// `1.0` and `1.0.0` are the same version; build metadata does not count.
fn same_release(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y) == Ordering::Equal && x.wildcard == y.wildcard,
        _ => a == b,
    }
}

/// What `render_pins` keeps of an existing file.
#[derive(Default)]
struct OldFile {
    /// Comment blocks, `-r` lines and single blank lines between them, in order.
    free: Vec<String>,
    requirements: Vec<OldRequirement>,
}

struct OldRequirement {
    key: String,
    /// The `==` version when the line was a pin.
    version: Option<String>,
    /// The comment block directly above the line.
    comments: Vec<String>,
    trailing: Option<String>,
}

impl OldFile {
    fn read(text: &str) -> OldFile {
        enum Kind {
            Blank,
            Comment,
            Kept,
            Requirement { key: String, version: Option<String>, trailing: Option<String> },
        }
        let kinds: Vec<(Kind, &str)> = lines(text)
            .map(|raw| {
                let raw = raw.trim_end();
                let (content, comment) = split_comment(raw);
                let content = content.trim();
                let kind = if content.is_empty() && comment.is_none() {
                    Kind::Blank
                } else if content.is_empty() {
                    Kind::Comment
                } else if content.starts_with('-') {
                    Kind::Kept
                } else {
                    let version = match parse_line(raw) {
                        Ok(Line::Requirement { specifiers, .. }) => match specifiers.as_slice() {
                            [Specifier { op: Op::Eq, version }] => Some(version.clone()),
                            _ => None,
                        },
                        _ => None,
                    };
                    let name_end = content.find(|c: char| !is_name_char(c)).unwrap_or(content.len());
                    let key = normalize(&content[..name_end]);
                    Kind::Requirement { key, version, trailing: comment.map(str::to_owned) }
                };
                (kind, raw)
            })
            .collect();

        let mut old = OldFile::default();
        let mut block: Vec<String> = Vec::new();
        let mut block_starts_file = false;
        for (i, (kind, raw)) in kinds.into_iter().enumerate() {
            match kind {
                Kind::Comment => {
                    if block.is_empty() {
                        block_starts_file = i == 0;
                    }
                    block.push(raw.to_owned());
                }
                Kind::Requirement { key, version, trailing } => {
                    let comments = if block_starts_file { Vec::new() } else { std::mem::take(&mut block) };
                    old.push_free(std::mem::take(&mut block));
                    old.requirements.push(OldRequirement { key, version, comments, trailing });
                }
                Kind::Blank => {
                    old.push_free(std::mem::take(&mut block));
                    if old.free.last().is_some_and(|l| !l.is_empty()) {
                        old.free.push(String::new());
                    }
                }
                Kind::Kept => {
                    old.push_free(std::mem::take(&mut block));
                    old.free.push(raw.to_owned());
                }
            }
        }
        old.push_free(block);
        while old.free.last().is_some_and(|l| l.is_empty()) {
            old.free.pop();
        }
        old
    }

    fn push_free(&mut self, lines: Vec<String>) {
        self.free.extend(lines);
    }
}

// ---------------------------------------------------------------------------------------------
// Lines

enum Line {
    Blank,
    Requirement { name: String, specifiers: Vec<Specifier> },
    Include { target: String, col: usize },
}

/// What is wrong with a line, and where (1-based column, in characters).
#[derive(Debug)]
struct LineError {
    col: usize,
    message: String,
}

/// Splits off a comment: `#` at the start of the line or after whitespace, as pip does.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut prev_is_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_is_space {
            return (&line[..i], Some(&line[i..]));
        }
        prev_is_space = c.is_whitespace();
    }
    (line, None)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

const SPECIFIERS: &str = "`==`, `!=`, `<`, `<=`, `>`, `>=` or `~=`";

/// A position in a line.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    /// Where the content ends (the comment, if any, starts there).
    end: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.line[self.pos..self.end].chars().next()
    }
    fn peek2(&self) -> Option<char> {
        self.line[self.pos..self.end].chars().nth(1)
    }
    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.line[self.pos..self.end].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.line[start..self.pos]
    }
    fn skip_ws(&mut self) -> bool {
        !self.take_while(char::is_whitespace).is_empty()
    }
    fn at_end(&self) -> bool {
        self.pos >= self.end
    }
    fn col(&self) -> usize {
        self.col_at(self.pos)
    }
    fn col_at(&self, pos: usize) -> usize {
        self.line[..pos].chars().count() + 1
    }
    fn error(&self, message: impl Into<String>) -> LineError {
        LineError { col: self.col(), message: message.into() }
    }
    fn error_at(&self, pos: usize, message: impl Into<String>) -> LineError {
        LineError { col: self.col_at(pos), message: message.into() }
    }
    /// What is at the cursor, for "found ..." in messages.
    fn found(&self) -> String {
        if self.at_end() {
            if self.end < self.line.len() {
                return "a comment (a `#` after whitespace starts one)".into();
            }
            return "the end of the line".into();
        }
        let word: String = self.line[self.pos..self.end].chars().take_while(|c| !c.is_whitespace()).take(24).collect();
        format!("`{word}`")
    }
}

fn parse_line(line: &str) -> Result<Line, LineError> {
    let (content, _comment) = split_comment(line);
    let mut c = Cursor { line, pos: 0, end: content.len() };
    c.skip_ws();
    if c.at_end() {
        return Ok(Line::Blank);
    }
    if line[..c.end].trim_end().ends_with('\\') {
        let pos = line[..c.end].trim_end().len() - 1;
        return Err(c.error_at(pos, "line continuations (`\\`) are not supported: write the requirement on one line"));
    }
    if c.peek() == Some('-') {
        return parse_option(&mut c);
    }
    let name_start = c.pos;
    if !c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric()) {
        return Err(c.error(format!("expected a package name (a letter or digit first), found {}", c.found())));
    }
    let name = c.take_while(is_name_char).to_owned();
    if !name.ends_with(|ch: char| ch.is_ascii_alphanumeric()) {
        let pos = name_start + name.len() - 1;
        return Err(c.error_at(pos, format!("a package name ends with a letter or digit, found `{name}`")));
    }
    let spaced = c.skip_ws();
    if c.at_end() {
        return Ok(Line::Requirement { name, specifiers: Vec::new() });
    }
    let mut specifiers = Vec::new();
    loop {
        specifiers.push(parse_specifier(&mut c, &name, spaced && specifiers.is_empty())?);
        c.skip_ws();
        if c.at_end() {
            break;
        }
        if !c.eat(",") {
            let after = &specifiers.last().expect("just pushed").version;
            let mut message =
                format!("expected `,` or the end of the line after the version `{after}`, found {}", c.found());
            if c.peek() == Some('#') {
                message.push_str(" (a comment needs whitespace before `#`)");
            }
            return Err(c.error(message));
        }
        c.skip_ws();
        if c.at_end() {
            return Err(c.error(format!("expected a version specifier ({SPECIFIERS}) after `,`, found {}", c.found())));
        }
        if c.peek() == Some(',') {
            return Err(c.error("expected a version specifier between the commas, found nothing"));
        }
    }
    Ok(Line::Requirement { name, specifiers })
}

/// `-r FILE`, `-rFILE`, `--requirement FILE`, `--requirement=FILE`.
fn parse_option(c: &mut Cursor<'_>) -> Result<Line, LineError> {
    let start = c.pos;
    let option = c.take_while(|ch| !ch.is_whitespace() && ch != '=');
    let attached = match option {
        "-r" | "--requirement" => "",
        _ if option.starts_with("-r") && !option.starts_with("--") => &option[2..],
        _ => {
            return Err(c.error_at(
                start,
                format!(
                    "`{option}` is not supported in a requirement file for crates; expected \
                     `-r FILE` or `--requirement FILE` (an include), or a requirement"
                ),
            ))
        }
    };
    let shown = if option.starts_with("--") { "--requirement" } else { "-r" };
    let (target, col) = if !attached.is_empty() {
        (attached.to_owned(), c.col_at(start + 2))
    } else {
        let separated = (option == "--requirement" && c.eat("=")) || c.skip_ws() || c.at_end();
        if !separated {
            return Err(c.error(format!("expected a file name after `{shown}`, found {}", c.found())));
        }
        let col = c.col();
        let target = c.take_while(|ch| !ch.is_whitespace()).to_owned();
        (target, col)
    };
    if target.is_empty() {
        return Err(c.error(format!("expected a file name after `{shown}`, found {}", c.found())));
    }
    c.skip_ws();
    if !c.at_end() {
        return Err(
            c.error(format!("expected the end of the line after the file name `{target}`, found {}", c.found()))
        );
    }
    Ok(Line::Include { target, col })
}

fn parse_specifier(c: &mut Cursor<'_>, name: &str, spaced: bool) -> Result<Specifier, LineError> {
    let start = c.pos;
    if c.eat("===") {
        return Err(c.error_at(start, "`===` (arbitrary equality) is not supported; expected `==`"));
    }
    let op = if c.eat("==") {
        Op::Eq
    } else if c.eat("!=") {
        Op::Ne
    } else if c.eat("<=") {
        Op::Le
    } else if c.eat(">=") {
        Op::Ge
    } else if c.eat("~=") {
        Op::Compatible
    } else if c.eat("<") {
        Op::Lt
    } else if c.eat(">") {
        Op::Gt
    } else {
        return Err(c.error(no_operator_message(c, name, spaced)));
    };
    c.skip_ws();
    let version_start = c.pos;
    let version = scan_version(c, op)?;
    if version.wildcard && !matches!(op, Op::Eq | Op::Ne) {
        return Err(
            c.error_at(version_start, format!("a `.*` version goes with `==` or `!=` only, not `{}`", op.as_str()))
        );
    }
    if op == Op::Compatible && version.release.len() < 2 {
        let text = &c.line[version_start..c.pos];
        return Err(c.error_at(
            version_start,
            format!("`~=` needs a version with at least two numbers (`~= {text}.0`), found `{text}`"),
        ));
    }
    Ok(Specifier { op, version: c.line[version_start..c.pos].to_owned() })
}

fn no_operator_message(c: &Cursor<'_>, name: &str, spaced: bool) -> String {
    let found = c.found();
    let rest = &c.line[c.pos..c.end];
    let expected = format!("expected a version specifier ({SPECIFIERS})");
    match c.peek() {
        Some('[') => format!("{expected}, found {found}: extras (`name[extra]`) have no meaning for crates"),
        Some(';') => format!("{expected}, found {found}: environment markers (`; ...`) are not supported"),
        Some('@') => format!("{expected}, found {found}: direct references (`name @ url`) are not supported"),
        Some('=') if rest.starts_with("=>") || rest.starts_with("=<") => {
            format!("{expected}, found {found}: did you mean `{}=`?", &rest[1..2])
        }
        Some('=') => format!("{expected}, found {found}: did you mean `==`?"),
        Some('~') => format!("{expected}, found {found}: did you mean `~=`?"),
        Some('!') => format!("{expected}, found {found}: did you mean `!=`?"),
        Some(ch) if ch.is_ascii_digit() && spaced => {
            format!(
                "{expected} before the version, found {found}: did you mean `{name} == {}`?",
                found.trim_matches('`')
            )
        }
        Some(ch) if !spaced && !ch.is_ascii_punctuation() => format!(
            "`{ch}` cannot be part of a package name (letters, digits, `-`, `_` and `.`); {expected} or the end of \
             the line"
        ),
        _ => format!("{expected} or the end of the line after the package name, found {found}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Versions

/// A version as `allows` compares it: release numbers, pre-release identifiers.
#[derive(Debug, Clone)]
struct Version {
    release: Vec<u64>,
    pre: Vec<Ident>,
    /// `1.4.*`: the release numbers are a prefix.
    wildcard: bool,
}

/// A pre-release identifier; numbers sort below words, as in semver.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    /// Digits without leading zeros, compared by length then text: no size limit.
    Number(usize, String),
    Word(String),
}

/// PEP 440's pre-release spellings, attached to the release (`2.0rc1`, `1.0.dev3`).
const PEP440_TAGS: &[&str] = &["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "dev"];

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let mut c = Cursor { line: text, pos: 0, end: text.len() };
        let version = scan_version(&mut c, Op::Eq).ok()?;
        c.at_end().then_some(version)
    }

    fn from_semver(v: &semver::Version) -> Version {
        Version { release: vec![v.major, v.minor, v.patch], pre: pre_idents(v.pre.as_str()), wildcard: false }
    }

    fn release_cmp(&self, other: &Version) -> Ordering {
        let n = self.release.len().max(other.release.len());
        let at = |v: &Version, i: usize| v.release.get(i).copied().unwrap_or(0);
        (0..n).map(|i| at(self, i).cmp(&at(other, i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }

    /// Whether the first `n` release numbers (zero-padded) are `prefix`'s.
    fn starts_with(&self, prefix: &[u64]) -> bool {
        prefix.iter().enumerate().all(|(i, n)| self.release.get(i).copied().unwrap_or(0) == *n)
    }

    fn satisfies(&self, op: Op, wanted: &Version) -> bool {
        let order = self.cmp(wanted);
        match op {
            Op::Eq if wanted.wildcard => self.starts_with(&wanted.release),
            Op::Ne if wanted.wildcard => !self.starts_with(&wanted.release),
            Op::Eq => order.is_eq(),
            Op::Ne => order.is_ne(),
            // PEP 440: `< 2.0` does not let in 2.0's own pre-releases.
            Op::Lt => order.is_lt() && !(wanted.pre.is_empty() && self.release_cmp(wanted).is_eq()),
            Op::Le => order.is_le(),
            Op::Gt => order.is_gt(),
            Op::Ge => order.is_ge(),
            Op::Compatible => {
                order.is_ge() && self.starts_with(&wanted.release[..wanted.release.len().saturating_sub(1)])
            }
        }
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.release_cmp(other).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

/// `1.0` and `1.0.0` are equal; `.*` is not part of the order.
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

/// `beta.1`, `rc1`, `RC-1` and `.dev3` as identifiers: split at separators and between letters
/// and digits, lowercased, PEP 440's short spellings made long (`a` = `alpha`, `c` = `rc`).
fn pre_idents(text: &str) -> Vec<Ident> {
    let mut out = Vec::new();
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
        out.push(if c.is_ascii_digit() {
            let digits = part.trim_start_matches('0');
            Ident::Number(digits.len(), digits.to_owned())
        } else {
            let word = part.to_ascii_lowercase();
            Ident::Word(match word.as_str() {
                "a" => "alpha".into(),
                "b" => "beta".into(),
                "c" | "pre" | "preview" => "rc".into(),
                _ => word,
            })
        });
    }
    out
}

/// Reads a version at the cursor; stops before whitespace, `,` or anything else that cannot
/// continue it (the caller says what may follow).
fn scan_version(c: &mut Cursor<'_>, op: Op) -> Result<Version, LineError> {
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
    let pre = pre_idents(&c.line[pre_start..c.pos]);
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
    Ok(Version { release, pre, wildcard })
}

/// One or more identifiers after `lead`, separated by one of `separators`.
fn scan_idents(
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
fn scan_pep440_pre(c: &mut Cursor<'_>) -> Result<(), LineError> {
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
