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
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io_error, Error, Result};
use crate::version::Loose;

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
        let candidate = Loose::of_cargo(version);
        self.specifiers.iter().all(|spec| match Version::parse(&spec.version) {
            Some(wanted) => satisfies(&candidate, spec.op, &wanted),
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
/// version, after the existing file's free comments and `-r` lines. Ends with a newline (an
/// empty result is the empty string: a lone newline would render again as nothing).
///
/// From `existing`: comment blocks and `-r` lines are kept in their order, first (so a header
/// stays at the top); old requirement lines, and lines `parse` rejects, are dropped. A comment block directly above a
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

impl IncludedFrom<'_> {
    fn at(&self) -> String {
        format!("{}:{}:{}: `-r {}`", self.file, self.line, self.col, crate::cli::shown(self.target))
    }
}

/// The largest requirement file read (a lock of thousands of crates is ~100 KiB).
pub const MAX_FILE_SIZE: u64 = 4 << 20;
/// The deepest chain of `-r` includes followed.
pub const MAX_INCLUDE_DEPTH: usize = 32;

#[derive(Default)]
struct Loader {
    /// Includes must stay inside this directory: the repository of the first file.
    root: PathBuf,
    /// The files being read, outermost first: (identity, path as shown).
    stack: Vec<(PathBuf, Utf8PathBuf)>,
    seen: HashSet<PathBuf>,
    requirements: Vec<Requirement>,
}

/// The git repository holding `file` (the nearest directory with `.git`), else its directory.
fn repository_of(file: &std::path::Path) -> PathBuf {
    let dir = file.parent().map(|d| d.to_path_buf()).unwrap_or_default();
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    dir.ancestors().find(|d| d.join(".git").exists()).map(|d| d.to_path_buf()).unwrap_or(dir)
}

/// Reads a requirement file: a regular file (not a FIFO, a device or a directory), at most
/// [`MAX_FILE_SIZE`] bytes, UTF-8 (an invalid byte is reported with its line and column).
fn read_text(path: &Utf8Path, from: Option<&IncludedFrom<'_>>) -> Result<String> {
    use std::io::Read;
    let here = |what: String| match from {
        Some(inc) => Error::usage(format!("{}: {what}", inc.at())),
        None => Error::usage(what),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(match from {
                Some(inc) => Error::usage(format!("{} names {path}, which does not exist", inc.at())),
                None => Error::usage(format!("{path} does not exist")),
            });
        }
        Err(e) => {
            let err = io_error(path, e);
            return Err(match from {
                Some(inc) => err.context(inc.at()),
                None => err,
            });
        }
    };
    if !meta.is_file() {
        return Err(here(format!("{path} is not a regular file"))
            .with_help("a requirement file is a text file; a FIFO, a device or a directory is not read"));
    }
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(here(format!("{path} is larger than {} MiB: not a requirement file", MAX_FILE_SIZE >> 20)));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let col = good.len() - good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
        Error::usage(format!("{path}:{line}:{col}: not UTF-8 text"))
            .with_help("requirement files are UTF-8: save the file as UTF-8")
    })
}

impl Loader {
    fn file(&mut self, path: &Utf8Path, from: Option<IncludedFrom<'_>>) -> Result<()> {
        if let Some(inc) = &from {
            // Checked before anything is read: an include names a file of the repository.
            let identity = std::fs::canonicalize(path).ok();
            if identity.as_ref().is_some_and(|id| !id.starts_with(&self.root)) {
                return Err(Error::usage(format!("{}: the file is outside the repository", inc.at()))
                    .with_help("include only requirement files of this repository (relative to the including file)"));
            }
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(Error::usage(format!("{}: more than {MAX_INCLUDE_DEPTH} nested includes", inc.at()))
                    .with_help("include the files from fewer levels"));
            }
        } else {
            self.root = repository_of(path.as_std_path());
        }
        let text = read_text(path, from.as_ref())?;
        let identity = std::fs::canonicalize(path).unwrap_or_else(|_| path.as_std_path().to_owned());
        let on_stack = self.stack.iter().position(|(id, _)| *id == identity);
        if let (Some(start), Some(inc)) = (on_stack, &from) {
            let mut chain: Vec<String> = self.stack[start..].iter().map(|(_, shown)| shown.to_string()).collect();
            chain.push(path.to_string());
            return Err(Error::usage(format!("{} makes an include cycle: {}", inc.at(), chain.join(" -> ")))
                .with_help("remove one of the `-r` lines of the cycle"));
        }
        if !self.seen.insert(identity.clone()) {
            return Ok(());
        }
        self.stack.push((identity, path.to_owned()));
        let dir = path.parent().unwrap_or(Utf8Path::new(""));
        let entries = match &from {
            None => entries(path, &text)?,
            // What an included file holds is not shown: only where it fails.
            Some(inc) => entries(path, &text).map_err(|e| {
                let message = e.message.split(", found").next().unwrap_or("").to_string();
                Error::usage(format!("{message} (included at {})", inc.at()))
            })?,
        };
        for entry in entries {
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
///
/// Linear: each line is checked against what the earlier lines of its package left in
/// hash maps (its first line, its first unpinned line, its pins by release), never against
/// every earlier line.
fn check_duplicates(requirements: &[Requirement]) -> Result<()> {
    #[derive(Default)]
    struct Seen<'r> {
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
enum ReleaseKey {
    Parsed(Vec<u64>, String, bool),
    Text(String),
}

fn release_key(pinned: &str) -> ReleaseKey {
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
fn same_release(a: &str, b: &str) -> bool {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y) == Ordering::Equal && x.wildcard == y.wildcard,
        _ => a == b,
    }
}

/// What `render_pins` keeps of an existing file.
#[derive(Default)]
struct OldFile {
    /// Comment blocks, include lines and single blank lines between them, in order.
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
                } else {
                    // A requirement line, or one `parse` rejects: the pins replace it either way.
                    let version = match parse_line(raw) {
                        Ok(Line::Include { .. }) => return (Kind::Kept, raw),
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
                    old.free.append(&mut block);
                    old.requirements.push(OldRequirement { key, version, comments, trailing });
                }
                Kind::Blank => {
                    old.free.append(&mut block);
                    if old.free.last().is_some_and(|l| !l.is_empty()) {
                        old.free.push(String::new());
                    }
                }
                Kind::Kept => {
                    old.free.append(&mut block);
                    old.free.push(raw.to_owned());
                }
            }
        }
        old.free.append(&mut block);
        while old.free.last().is_some_and(|l| l.is_empty()) {
            old.free.pop();
        }
        old
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
    if op == Op::Compatible && version.version.release.len() < 2 {
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

/// A specifier's version: a version compared as [`crate::version::Loose`] compares, or a
/// `1.4.*` prefix.
#[derive(Debug, Clone)]
struct Version {
    version: Loose,
    /// `1.4.*`: the release numbers are a prefix.
    wildcard: bool,
}

/// PEP 440's pre-release spellings, attached to the release (`2.0rc1`, `1.0.dev3`).
const PEP440_TAGS: &[&str] = &["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "dev"];

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let mut c = Cursor { line: text, pos: 0, end: text.len() };
        let version = scan_version(&mut c, Op::Eq).ok()?;
        c.at_end().then_some(version)
    }
}

/// Whether `candidate` satisfies `op wanted`.
fn satisfies(candidate: &Loose, op: Op, wanted: &Version) -> bool {
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

/// Loads a channel's requirement file. A missing file is empty for dev and an error otherwise
/// (`program`: how the user runs trainyard, for the help line).
pub fn load_channel(
    ws: &crate::workspace::Workspace,
    channel: crate::channel::Channel,
    program: &str,
) -> crate::error::Result<Vec<Requirement>> {
    let path = ws.reqs_path(channel);
    if !path.exists() {
        if channel == crate::channel::Channel::Dev {
            return Ok(Vec::new());
        }
        return Err(crate::error::Error::usage(format!("{} does not exist", ws.display(&path)))
            .with_help(format!("write it from the current lock: {program} pin CHANNEL={channel}")));
    }
    load(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<Requirement> {
        parse(Utf8Path::new("reqs/prod-reqs.txt"), text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn one(text: &str) -> Requirement {
        let mut all = p(text);
        assert_eq!(all.len(), 1, "{text:?}");
        all.remove(0)
    }

    fn specs(text: &str) -> Vec<(Op, String)> {
        one(text).specifiers.into_iter().map(|s| (s.op, s.version)).collect()
    }

    /// The error message for one bad line.
    fn err(text: &str) -> String {
        match parse(Utf8Path::new("reqs/prod-reqs.txt"), text) {
            Ok(r) => panic!("{text:?} parsed: {r:?}"),
            Err(e) => {
                assert_eq!(e.kind, crate::error::Kind::Usage, "{text:?}");
                e.message
            }
        }
    }

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    fn allows(req: &str, version: &str) -> bool {
        one(&format!("x {req}")).allows(&v(version))
    }

    #[test]
    fn forms() {
        assert_eq!(specs("serde == 1.0.219"), [(Op::Eq, "1.0.219".into())]);
        assert_eq!(specs("serde==1.0.219"), [(Op::Eq, "1.0.219".into())]);
        assert_eq!(specs("  serde\t==\t1.0.219  "), [(Op::Eq, "1.0.219".into())]);
        assert_eq!(specs("SQLAlchemy <= 0.6.99"), [(Op::Le, "0.6.99".into())]);
        assert_eq!(specs("a != 1"), [(Op::Ne, "1".into())]);
        assert_eq!(specs("a < 1"), [(Op::Lt, "1".into())]);
        assert_eq!(specs("a > 1"), [(Op::Gt, "1".into())]);
        assert_eq!(specs("a >= 1"), [(Op::Ge, "1".into())]);
        assert_eq!(specs("a ~= 1.4.5"), [(Op::Compatible, "1.4.5".into())]);
        assert_eq!(specs("a>=1.0,<2"), [(Op::Ge, "1.0".into()), (Op::Lt, "2".into())]);
        assert_eq!(
            specs("tokio >= 1.0 , < 2, != 1.5.0"),
            [(Op::Ge, "1.0".into()), (Op::Lt, "2".into()), (Op::Ne, "1.5.0".into())]
        );
        assert_eq!(specs("a == 1.4.*"), [(Op::Eq, "1.4.*".into())]);
        assert_eq!(specs("a != 1.*"), [(Op::Ne, "1.*".into())]);
        let bare = one("anyhow");
        assert_eq!((bare.name.as_str(), bare.specifiers.len()), ("anyhow", 0));
        assert_eq!(one("MySQL-python").name, "MySQL-python");
        assert_eq!(one("python-memcached  # the old one").name, "python-memcached");
        assert_eq!(one("zope.interface == 4").name, "zope.interface");
        assert_eq!(one("9lives").name, "9lives");
        assert_eq!(one("serde_json==1").name, "serde_json");
    }

    #[test]
    fn versions() {
        for version in [
            "1",
            "0.2",
            "1.0.7",
            "1.0.0-beta.1",
            "1.0.0-rc.1+build.5",
            "1.0.0-x-y.7",
            "1.0.0+20130313144700",
            "2.0rc1",
            "2.0RC1",
            "1.0a1",
            "1.0b",
            "1.0.dev3",
            "1.0a1.dev2",
            "1.0_rc_1",
            "1.0.rc.1",
            "1.0+ubuntu-1",
            "1.3.0-0.dev.5",
            "007.1",
        ] {
            assert_eq!(specs(&format!("a == {version}")), [(Op::Eq, version.into())], "{version}");
        }
    }

    #[test]
    fn comments_blank_lines_and_line_numbers() {
        let text = "# header\n\n   \nserde == 1.0.1  # pinned for a CVE\n\t# indented comment\n#serde == 9\ntokio\r\n";
        let all = p(text);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].name.as_str(), all[0].line), ("serde", 4));
        assert_eq!((all[1].name.as_str(), all[1].line, all[1].specifiers.len()), ("tokio", 7, 0));
        assert_eq!(all[0].file, "reqs/prod-reqs.txt");
        assert!(p("").is_empty());
        assert!(p("\u{feff}# bom\n").is_empty());
        assert_eq!(one("\u{feff}serde == 1").name, "serde");
        assert_eq!(one("serde==1.0 #x").pinned(), Some("1.0"));
    }

    #[test]
    fn includes_are_not_requirements() {
        for line in ["-r base-reqs.txt", "-rbase-reqs.txt", "--requirement base", "--requirement=base", "-r base # c"] {
            assert!(p(line).is_empty(), "{line}");
            assert!(matches!(entries(Utf8Path::new("x"), line).unwrap()[..], [Entry::Include { .. }]), "{line}");
        }
        let Entry::Include { target, line, col } = entries(Utf8Path::new("x"), "\n  -r  base.txt").unwrap().remove(0)
        else {
            panic!()
        };
        assert_eq!((target.as_str(), line, col), ("base.txt", 2, 7));
    }

    #[test]
    fn key_and_pinned() {
        assert_eq!(one("Serde_JSON").key(), "serde-json");
        assert_eq!(normalize("A_b-C"), "a-b-c");
        assert_eq!(one("a == 1.0").pinned(), Some("1.0"));
        assert_eq!(one("a==1.0.0-beta.1").pinned(), Some("1.0.0-beta.1"));
        assert_eq!(one("a").pinned(), None);
        assert_eq!(one("a >= 1").pinned(), None);
        assert_eq!(one("a == 1, != 2").pinned(), None);
        assert_eq!(one("a == 1.*").pinned(), None);
    }

    #[test]
    fn malformed_lines() {
        let cases: &[(&str, &str)] = &[
            ("Paste ==", "expected a version after `==`, found the end of the line"),
            ("Paste == # why", "expected a version after `==`, found a comment"),
            ("serde === 1", "`===` (arbitrary equality) is not supported"),
            ("serde == 1.0 extra", "expected `,` or the end of the line after the version `1.0`, found `extra`"),
            ("==1.0", "expected a package name"),
            ("  == 1.0", "expected a package name"),
            ("serde >>1", "expected a version after `>`, found `>1`"),
            ("serde <<1", "expected a version after `<`"),
            ("serde ==> 1", "expected a version after `==`, found `>`"),
            ("serde >= 1,", "expected a version specifier"),
            ("serde >= 1, ", "after `,`, found the end of the line"),
            ("serde >= 1,, < 2", "between the commas"),
            ("serde >= 1, , < 2", "between the commas"),
            (",serde", "expected a package name"),
            ("serde ~= 1", "`~=` needs a version with at least two numbers"),
            ("serde ~= 1.*", "`.*` version goes with `==` or `!=` only"),
            ("serde >= 1.*", "`.*` version goes with `==` or `!=` only"),
            ("serde == 1.*.2", "expected the end of the version after `.*`"),
            ("serde == 1.*+x", "expected the end of the version after `.*`"),
            ("-e git+https://example.invalid/x", "`-e` is not supported"),
            ("--index-url x", "`--index-url` is not supported"),
            ("-c constraints.txt", "`-c` is not supported"),
            ("--hash=sha256:00", "`--hash` is not supported"),
            ("-r", "expected a file name after `-r`, found the end of the line"),
            ("-r # x", "expected a file name after `-r`, found a comment"),
            ("--requirement=", "expected a file name after `--requirement`"),
            ("-r=base", "expected a file name after `-r`, found `=base`"),
            ("-r a b", "expected the end of the line after the file name `a`, found `b`"),
            ("serde = 1", "did you mean `==`?"),
            ("serde => 1", "did you mean `>=`?"),
            ("serde =< 1", "did you mean `<=`?"),
            ("serde ~ 1", "did you mean `~=`?"),
            ("serde ! 1", "did you mean `!=`?"),
            ("serde 1.0", "did you mean `serde == 1.0`?"),
            ("serde[derive] == 1", "extras"),
            ("serde ; os_name == 'nt'", "environment markers"),
            ("serde @ https://example.invalid/x", "direct references"),
            ("serde == 1.0#x", "(a comment needs whitespace before `#`)"),
            ("sérde", "`é` cannot be part of a package name"),
            ("serde-", "a package name ends with a letter or digit, found `serde-`"),
            ("serde. == 1", "a package name ends with a letter or digit"),
            ("_serde", "expected a package name (a letter or digit first), found `_serde`"),
            ("serde == 1..0", "expected a number after `.` in the version, found `.0`"),
            ("serde == 1.", "expected a number after `.` in the version, found the end of the line"),
            ("serde == .1", "expected a version after `==`, found `.1`"),
            ("serde == v1.0", "expected a version after `==`, found `v1.0`"),
            ("serde == 1.0-", "expected letters or digits after `-` in the version"),
            ("serde == 1.0.0-beta..1", "expected letters or digits after `.` in the version"),
            ("serde == 1.0+", "expected letters or digits after `+` in the version"),
            ("serde == 1.0extra", "`extra` is not a pre-release tag"),
            ("serde == 1.0rc1x", "`x` is not a pre-release tag"),
            ("serde == 1.x", "`x` is not a pre-release tag"),
            ("serde == 1!2.0", "expected `,` or the end of the line after the version `1`, found `!2.0`"),
            ("serde == 99999999999999999999", "version number `99999999999999999999` is too large"),
            ("serde == 1.0 \\", "line continuations"),
            ("serde\\", "line continuations"),
            ("serde == 1.0 == 2.0", "expected `,` or the end of the line"),
        ];
        for (line, expected) in cases {
            let message = err(line);
            assert!(message.contains(expected), "{line:?}: {message:?} lacks {expected:?}");
            assert!(message.starts_with("reqs/prod-reqs.txt:1:"), "{line:?}: {message:?}");
        }
    }

    #[test]
    fn error_columns() {
        let cases: &[(&str, &str)] = &[
            ("Paste ==", "1:9: expected a version after `==`"),
            ("serde === 1", "1:7: `===`"),
            ("serde == 1.0 extra", "1:14: expected `,`"),
            ("==1.0", "1:1: expected a package name"),
            ("serde >>1", "1:8: expected a version after `>`"),
            ("serde >= 1,", "1:12: expected a version specifier"),
            ("serde >= 1,, < 2", "1:12: expected a version specifier between the commas"),
            ("serde ~= 1", "1:10: `~=`"),
            ("  -e .", "1:3: `-e`"),
            ("sérde", "1:2: `é`"),
            ("serde == 1.0ab", "1:13: `ab`"),
            ("serde-", "1:6: a package name ends"),
            ("serde == 1..0", "1:12: expected a number"),
        ];
        for (line, expected) in cases {
            let message = err(line);
            assert!(message.starts_with(&format!("reqs/prod-reqs.txt:{expected}")), "{line:?}: {message:?}");
        }
        // The line number counts every line, comments and blanks included.
        assert!(err("# c\n\nserde == 1\nPaste ==\n").starts_with("reqs/prod-reqs.txt:4:9: "));
    }

    #[test]
    fn allows_compares_zero_padded() {
        assert!(allows("== 1.0", "1.0.0"));
        assert!(allows("== 1", "1.0.0"));
        assert!(!allows("== 1.0", "1.0.1"));
        assert!(allows("== 1.0.219", "1.0.219"));
        assert!(allows("<= 0.6.99", "0.6.99"));
        assert!(allows("<= 0.6.99", "0.6.9"));
        assert!(!allows("<= 0.6.99", "0.7.0"));
        assert!(allows(">= 1.0, < 2", "1.9.9"));
        assert!(!allows(">= 1.0, < 2", "2.0.0"));
        assert!(!allows(">= 1.0, < 2", "0.9.0"));
        assert!(allows("> 1.0", "1.0.1"));
        assert!(!allows("> 1.0", "1.0.0"));
        assert!(allows("!= 1.5.0", "1.5.1"));
        assert!(!allows("!= 1.5", "1.5.0"));
        assert!(allows("<1.10", "1.9.0"));
        assert!(!allows("<1.10", "1.10.0"));
        // Build metadata does not count.
        assert!(allows("== 1.0", "1.0.0+build.7"));
        assert!(allows("== 1.0+local", "1.0.0"));
        // No specifier allows everything.
        assert!(one("x").allows(&v("0.0.1-alpha")));
    }

    #[test]
    fn allows_compatible_release() {
        // `~= 1.4.5` is `>= 1.4.5, == 1.4.*`.
        assert!(allows("~= 1.4.5", "1.4.5"));
        assert!(allows("~= 1.4.5", "1.4.99"));
        assert!(!allows("~= 1.4.5", "1.4.4"));
        assert!(!allows("~= 1.4.5", "1.5.0"));
        // `~= 2.2` is `>= 2.2, == 2.*`.
        assert!(allows("~= 2.2", "2.2.0"));
        assert!(allows("~= 2.2", "2.9.1"));
        assert!(!allows("~= 2.2", "2.1.9"));
        assert!(!allows("~= 2.2", "3.0.0"));
        assert!(!allows("~= 2.2", "2.2.0-rc.1"));
    }

    #[test]
    fn allows_wildcards() {
        assert!(allows("== 1.4.*", "1.4.0"));
        assert!(allows("== 1.4.*", "1.4.7"));
        assert!(!allows("== 1.4.*", "1.5.0"));
        assert!(allows("== 1.*", "1.99.0"));
        assert!(!allows("!= 1.4.*", "1.4.2"));
        assert!(allows("!= 1.4.*", "1.3.2"));
        assert!(allows("== 1.4.5.*", "1.4.5"));
        assert!(!allows("== 1.4.5.1.*", "1.4.5"));
    }

    #[test]
    fn allows_pre_releases() {
        // A pre-release sorts below its release.
        assert!(allows("<= 1.0.0-beta.1", "1.0.0-beta.1"));
        assert!(allows("< 1.0.0-rc.1", "1.0.0-beta.1"));
        assert!(allows("<= 1.0.0", "1.0.0-beta.1"));
        assert!(!allows(">= 1.0.0", "1.0.0-beta.1"));
        assert!(allows(">= 1.0.0-alpha", "1.0.0-beta.1"));
        assert!(allows("> 0.9", "1.0.0-beta.1"));
        // PEP 440 and semver spellings of the same pre-release.
        assert!(allows("== 2.0rc1", "2.0.0-rc.1"));
        assert!(allows("== 2.0rc1", "2.0.0-rc1"));
        assert!(allows("== 1.0a2", "1.0.0-alpha.2"));
        assert!(allows("== 1.0b2", "1.0.0-beta.2"));
        assert!(allows(">= 2.0rc1", "2.0.0-rc.2"));
        assert!(!allows(">= 2.0rc2", "2.0.0-rc.1"));
        assert!(allows("> 2.0rc1", "2.0.0"));
        // Semver's order of identifiers: numbers below words, numbers by value.
        assert!(allows("< 1.0.0-alpha.beta", "1.0.0-alpha.1"));
        assert!(allows("< 1.0.0-beta.11", "1.0.0-beta.2"));
        assert!(allows("< 1.0.0-alpha.1", "1.0.0-alpha"));
        // `< 2` does not let in 2.0's own pre-releases (PEP 440), but the ones below do.
        assert!(!allows(">= 1.0, < 2", "2.0.0-rc.1"));
        assert!(allows("< 2", "1.9.0-rc.1"));
    }

    #[test]
    fn version_order_has_no_size_limit_in_pre_releases() {
        assert!(allows("< 1.0.0-99999999999999999999999", "1.0.0-99999999999999999999998"));
        // Leading zeros do not change a number (PEP 440 reads `007` as 7).
        assert!(allows("== 1.0.0-007", "1.0.0-7"));
        assert!(allows("== 01.002", "1.2.0"));
    }

    /// A directory under the system temp dir, removed when dropped.
    struct TempDir(Utf8PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("trainyard-reqs-{}-{name}", std::process::id()));
            let dir = Utf8PathBuf::from_path_buf(dir).expect("UTF-8 temp dir");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        fn write(&self, name: &str, text: &str) -> Utf8PathBuf {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn names(reqs: &[Requirement]) -> Vec<String> {
        reqs.iter().map(|r| format!("{}:{}:{}", r.file.file_name().unwrap(), r.line, r.name)).collect()
    }

    #[test]
    fn load_follows_includes_depth_first_in_order() {
        let dir = TempDir::new("includes");
        dir.write("common/base.txt", "# base\nlog == 0.4\n-r ../leaf.txt\nlibc\n");
        dir.write("leaf.txt", "cfg-if == 1\n");
        dir.write("other.txt", "memchr\n");
        let top = dir.write("prod-reqs.txt", "serde == 1\n-r common/base.txt\ntokio >= 1\n--requirement=other.txt\n");
        let all = load(&top).unwrap();
        assert_eq!(
            names(&all),
            [
                "prod-reqs.txt:1:serde",
                "base.txt:2:log",
                "leaf.txt:1:cfg-if",
                "base.txt:4:libc",
                "prod-reqs.txt:3:tokio",
                "other.txt:1:memchr"
            ]
        );
        assert_eq!(all[1].file, dir.0.join("common/base.txt"));
        assert_eq!(all[2].file, dir.0.join("common/../leaf.txt"));
    }

    #[test]
    fn load_reads_a_file_included_twice_once() {
        let dir = TempDir::new("diamond");
        dir.write("a.txt", "-r shared.txt\nx\n");
        dir.write("b.txt", "-r ./shared.txt\ny\n");
        dir.write("shared.txt", "serde == 1\n");
        let top = dir.write("top.txt", "-r a.txt\n-r b.txt\n");
        assert_eq!(names(&load(&top).unwrap()), ["shared.txt:1:serde", "a.txt:2:x", "b.txt:2:y"]);
    }

    #[test]
    fn load_reports_cycles_with_the_chain() {
        let dir = TempDir::new("cycle");
        dir.write("a.txt", "serde\n-r b.txt\n");
        dir.write("b.txt", "\n\n  -r ./a.txt\n");
        let top = dir.write("top.txt", "-r a.txt\n");
        let e = load(&top).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        let (a, b) = (dir.0.join("a.txt"), dir.0.join("b.txt"));
        assert_eq!(e.message, format!("{b}:3:6: `-r ./a.txt` makes an include cycle: {a} -> {b} -> {}/./a.txt", dir.0));

        let me = dir.write("self.txt", "-r self.txt\n");
        let e = load(&me).unwrap_err();
        assert!(e.message.contains(&format!("include cycle: {me} -> {me}")), "{}", e.message);
    }

    #[test]
    fn load_reports_missing_files() {
        let dir = TempDir::new("missing");
        let top = dir.write("top.txt", "serde\n# c\n-r nowhere.txt\n");
        let e = load(&top).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert_eq!(
            e.message,
            format!("{top}:3:4: `-r nowhere.txt` names {}, which does not exist", dir.0.join("nowhere.txt"))
        );
        let e = load(&dir.0.join("absent.txt")).unwrap_err();
        assert!(e.message.ends_with("absent.txt does not exist"), "{}", e.message);
    }

    #[test]
    fn load_reports_syntax_errors_in_included_files() {
        let dir = TempDir::new("syntax");
        dir.write("base.txt", "\nPaste ==\n");
        let top = dir.write("top.txt", "-r base.txt\n");
        let e = load(&top).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{}:2:9: expected a version after `==` (included at {top}:1:4: `-r base.txt`)",
                dir.0.join("base.txt")
            )
        );
    }

    /// `-r` stays inside the repository, reads only regular files of bounded size, follows a
    /// bounded depth, and never shows what another file holds.
    #[test]
    fn includes_are_contained() {
        let dir = TempDir::new("contained");
        std::fs::create_dir_all(dir.0.join("repo/.git")).unwrap();
        std::fs::create_dir_all(dir.0.join("repo/reqs")).unwrap();
        dir.write("shadow", "root:$6$SECRETHASH:19000:0:99999:7:::\n");
        let err = |text: &str| {
            let top = dir.write("repo/reqs/dev-reqs.txt", text);
            load(&top).unwrap_err()
        };
        for (line, expected) in [
            ("-r ../../shadow", "the file is outside the repository"),
            ("-r /etc/passwd", "the file is outside the repository"),
            ("-r /dev/zero", "the file is outside the repository"),
            ("-r zero.txt", "the file is outside the repository"),
            ("-r ../README.md", "included at"),
            ("-r fifo.txt", "is not a regular file"),
            ("-r .", "is not a regular file"),
            ("-r big.txt", "is larger than 4 MiB"),
        ] {
            std::os::unix::fs::symlink("/dev/zero", dir.0.join("repo/reqs/zero.txt")).ok();
            dir.write("repo/README.md", "portal: root:$6$SECRETHASH\n");
            if !dir.0.join("repo/reqs/fifo.txt").exists() {
                let made = std::process::Command::new("mkfifo").arg(dir.0.join("repo/reqs/fifo.txt")).status();
                assert!(made.unwrap().success());
                dir.write("repo/reqs/big.txt", &"# padding\n".repeat(500_000));
            }
            let e = err(&format!("serde == 1.0\n{line}\n"));
            assert_eq!(e.kind, crate::error::Kind::Usage, "{line}");
            assert!(e.message.contains(expected), "{line}: {}", e.message);
            assert!(e.message.contains("dev-reqs.txt:2:4: `-r "), "{line}: {}", e.message);
            assert!(!e.message.contains("SECRETHASH"), "{line}: {}", e.message);
        }
        // 200 nested includes: an error at the bound, not a stack overflow.
        for i in 0..200 {
            dir.write(&format!("repo/reqs/n{i}.txt"), &format!("-r n{}.txt\n", i + 1));
        }
        let e = err("-r n0.txt\n");
        assert!(e.message.contains("more than 32 nested includes"), "{}", e.message);
    }

    /// 10,000 lines, all pins of one package or all different packages: the duplicate
    /// check is linear (it took 6-15 s when it compared each line with every earlier one).
    #[test]
    fn duplicate_check_is_linear() {
        let dir = TempDir::new("linear");
        let same: String = (0..10_000).map(|i| format!("leftpad == 1.{i}.0\n")).collect();
        let distinct: String = (0..10_000).map(|i| format!("crate-{i} == 1.0.{i}\n")).collect();
        for (name, text) in [("same.txt", same), ("distinct.txt", distinct)] {
            let path = dir.write(name, &text);
            let started = std::time::Instant::now();
            assert_eq!(load(&path).unwrap().len(), 10_000);
            assert!(started.elapsed() < std::time::Duration::from_secs(2), "{name}: {:?}", started.elapsed());
        }
        let path = dir.write("dups.txt", "a == 1.0\nb\na == 2.0\na == 1.0.0\nb == 1\nb\n");
        let e = load(&path).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{path}:4: `a == 1.0.0` requires a again; {path}:1 has `a == 1.0`\n\
                 {path}:5: `b == 1` requires b again; {path}:2 has `b`\n\
                 {path}:6: `b` requires b again; {path}:2 has `b`"
            )
        );
    }

    #[test]
    fn non_utf8_is_located() {
        let dir = TempDir::new("utf8");
        let path = dir.0.join("dev-reqs.txt");
        std::fs::write(&path, b"serde == 1.0\nle\xfftpad == 1\n").unwrap();
        let e = load(&path).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert_eq!(e.message, format!("{path}:2:3: not UTF-8 text"));
    }

    #[test]
    fn duplicates_are_only_pins_of_different_versions() {
        let dir = TempDir::new("duplicates");
        let ok = dir.write("ok.txt", "syn == 1.0.109\nsyn == 2.0.87\nSyn == 0.15.44\n");
        assert_eq!(load(&ok).unwrap().len(), 3);

        for (text, clash) in [
            ("serde == 1.0\nserde == 1.0\n", "2: `serde == 1.0` requires serde again; {f}:1 has `serde == 1.0`"),
            ("serde == 1.0\nserde == 1.0.0\n", "2: `serde == 1.0.0` requires serde again"),
            ("serde == 1\nserde >= 2\n", "2: `serde >= 2` requires serde again; {f}:1 has `serde == 1`"),
            ("serde\nserde == 2\n", "2: `serde == 2` requires serde again; {f}:1 has `serde`"),
            ("serde_json == 1\nSerde-JSON == 2, != 2.1\n", "2: `Serde-JSON == 2, != 2.1` requires Serde-JSON again"),
            ("a == 1.*\na == 2.*\n", "2: `a == 2.*` requires a again"),
        ] {
            let f = dir.write("dup.txt", text);
            let e = load(&f).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage);
            let expected = format!("{f}:{}", clash.replace("{f}", f.as_str()));
            assert!(e.message.starts_with(&expected), "{text:?}: {:?} vs {expected:?}", e.message);
            assert!(e.help.as_deref().unwrap().contains("syn 1 and syn 2"));
        }

        // Across files, every clash at once, both places named.
        dir.write("base.txt", "serde >= 1\nlog\n");
        let top = dir.write("top.txt", "-r base.txt\nserde == 1.0.1\nlog == 0.4\n");
        let e = load(&top).unwrap_err();
        let base = dir.0.join("base.txt");
        assert_eq!(
            e.message,
            format!(
                "{top}:2: `serde == 1.0.1` requires serde again; {base}:1 has `serde >= 1`\n\
                 {top}:3: `log == 0.4` requires log again; {base}:2 has `log`"
            )
        );
        // `parse` is one file's lines: it leaves duplicates to `load`.
        assert_eq!(p("serde\nserde\n").len(), 2);
    }

    fn pins(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    /// `render_pins`, checked for the properties every output must have.
    fn render(existing: Option<&str>, list: &[(&str, &str)]) -> String {
        let pins = pins(list);
        let out = render_pins(existing, &pins);
        assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
        assert_eq!(render_pins(Some(&out), &pins), out, "rendering twice changed {existing:?}");
        let mut back: Vec<(String, String)> =
            p(&out).iter().map(|r| (r.key(), r.pinned().expect("a pin").to_owned())).collect();
        let mut wanted: Vec<(String, String)> = pins.iter().map(|(n, v)| (normalize(n), v.clone())).collect();
        back.sort();
        wanted.sort();
        wanted.dedup();
        assert_eq!(back, wanted);
        out
    }

    #[test]
    fn render_pins_sorts_by_normalized_name_then_version() {
        let out = render(
            None,
            &[
                ("tokio", "1.40.0"),
                ("Serde_json", "1.0.1"),
                ("serde", "1.0.219"),
                ("syn", "2.0.10"),
                ("syn", "1.0.109"),
                ("syn", "2.0.9"),
            ],
        );
        assert_eq!(
            out,
            "serde == 1.0.219\nSerde_json == 1.0.1\nsyn == 1.0.109\nsyn == 2.0.9\nsyn == 2.0.10\ntokio == 1.40.0\n"
        );
        assert_eq!(render(None, &[]), "");
        assert_eq!(render(None, &[("a", "1"), ("a", "1")]), "a == 1\n");
        // The order does not depend on the order of the input.
        let mut list = vec![("b", "1.0.0-rc.1"), ("b", "1.0.0"), ("a_x", "2"), ("a-x", "1"), ("b", "0.9")];
        let first = render(None, &list);
        list.reverse();
        assert_eq!(render(None, &list), first);
        assert_eq!(first, "a-x == 1\na_x == 2\nb == 0.9\nb == 1.0.0-rc.1\nb == 1.0.0\n");
    }

    #[test]
    fn render_pins_keeps_comments_and_includes() {
        let existing = "\
# Production pins.
# Regenerate with `cargo xtask pin CHANNEL=prod`.

-r base-reqs.txt
serde == 1.0.1  # pinned for CVE-2099-0001
# log moves slowly
log == 0.4.1

# a note of its own

gone == 1.0  # dropped with its line
tokio >= 1  # kept on the new line
";
        let out =
            render(Some(existing), &[("tokio", "1.40.0"), ("serde", "1.0.2"), ("anyhow", "1.0.0"), ("log", "0.4.22")]);
        assert_eq!(
            out,
            "\
# Production pins.
# Regenerate with `cargo xtask pin CHANNEL=prod`.

-r base-reqs.txt

# a note of its own

anyhow == 1.0.0
# log moves slowly
log == 0.4.22
serde == 1.0.2  # pinned for CVE-2099-0001
tokio == 1.40.0  # kept on the new line
"
        );
    }

    #[test]
    fn render_pins_header_stays_on_top_even_when_touching_a_requirement() {
        let out = render(Some("# header\nzlib == 1\n"), &[("zlib", "2"), ("a", "1")]);
        assert_eq!(out, "# header\n\na == 1\nzlib == 2\n");
    }

    #[test]
    fn render_pins_comment_that_would_open_the_file_becomes_its_header() {
        let out = render(Some("zlib == 1\n# about a\na == 0.9\n"), &[("zlib", "2"), ("a", "1")]);
        assert_eq!(out, "# about a\n\na == 1\nzlib == 2\n");
    }

    #[test]
    fn render_pins_gives_two_versions_their_own_comments() {
        let existing = "syn == 2.0.1  # new\nsyn == 1.0.100  # old\n";
        let out = render(Some(existing), &[("syn", "2.0.1"), ("syn", "1.0.100")]);
        assert_eq!(out, "syn == 1.0.100  # old\nsyn == 2.0.1  # new\n");
        // Versions that moved: comments are handed out in order.
        let out = render(Some(existing), &[("syn", "2.0.5"), ("syn", "1.0.109"), ("syn", "0.15.0")]);
        assert_eq!(out, "syn == 0.15.0  # new\nsyn == 1.0.109  # old\nsyn == 2.0.5\n");
    }

    #[test]
    fn render_pins_round_trips_odd_files() {
        for existing in [
            "",
            "\n\n\n",
            "# only a comment",
            "# a\n\n\n# b\n\n",
            "\u{feff}# bom\nserde == 1\n",
            "serde == 1\r\n# windows\r\n\r\nlog\r\n",
            "-r a.txt # with a comment\n  --requirement b.txt\n",
            "   # indented\nserde == 1 # x   \n",
            "serde == 1\n# trailing comment at the end",
            "not valid ===\n# c\n-e .\n",
        ] {
            for list in [&[][..], &[("serde", "1.0.0")][..], &[("log", "0.4"), ("serde", "2")][..]] {
                render(Some(existing), list);
            }
        }
    }
}
