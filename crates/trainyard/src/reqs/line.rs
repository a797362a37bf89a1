//! One line of a requirement file: a requirement, an include, a comment; errors with their column.

use super::*;

pub(super) enum Line {
    Blank,
    Requirement { name: String, specifiers: Vec<Specifier> },
    Include { target: String, col: usize },
}

/// What is wrong with a line, and where (1-based column, in characters).
#[derive(Debug)]
pub(super) struct LineError {
    pub(super) col: usize,
    pub(super) message: String,
}

/// Splits off a comment: `#` at the start of the line or after whitespace, as pip does.
pub(super) fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut prev_is_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_is_space {
            return (&line[..i], Some(&line[i..]));
        }
        prev_is_space = c.is_whitespace();
    }
    (line, None)
}

pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

pub(super) const SPECIFIERS: &str = "`==`, `!=`, `<`, `<=`, `>`, `>=` or `~=`";

/// A position in a line.
pub(super) struct Cursor<'a> {
    pub(super) line: &'a str,
    pub(super) pos: usize,
    /// Where the content ends (the comment, if any, starts there).
    pub(super) end: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn peek(&self) -> Option<char> {
        self.line[self.pos..self.end].chars().next()
    }
    pub(super) fn peek2(&self) -> Option<char> {
        self.line[self.pos..self.end].chars().nth(1)
    }
    pub(super) fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }
    pub(super) fn eat(&mut self, s: &str) -> bool {
        if self.line[self.pos..self.end].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    pub(super) fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.line[start..self.pos]
    }
    pub(super) fn skip_ws(&mut self) -> bool {
        !self.take_while(char::is_whitespace).is_empty()
    }
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.end
    }
    pub(super) fn col(&self) -> usize {
        self.col_at(self.pos)
    }
    pub(super) fn col_at(&self, pos: usize) -> usize {
        self.line[..pos].chars().count() + 1
    }
    pub(super) fn error(&self, message: impl Into<String>) -> LineError {
        LineError { col: self.col(), message: message.into() }
    }
    pub(super) fn error_at(&self, pos: usize, message: impl Into<String>) -> LineError {
        LineError { col: self.col_at(pos), message: message.into() }
    }
    /// What is at the cursor, for "found ..." in messages.
    pub(super) fn found(&self) -> String {
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

pub(super) fn parse_line(line: &str) -> Result<Line, LineError> {
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
pub(super) fn parse_option(c: &mut Cursor<'_>) -> Result<Line, LineError> {
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

pub(super) fn parse_specifier(c: &mut Cursor<'_>, name: &str, spaced: bool) -> Result<Specifier, LineError> {
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

pub(super) fn no_operator_message(c: &Cursor<'_>, name: &str, spaced: bool) -> String {
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
