//! Reading requirement files: their lines as entries, and `-r` includes followed (inside the
//! repository, no cycles, bounded depth and size).

use super::*;

pub(super) enum Entry {
    Requirement(Requirement),
    Include { target: String, line: usize, col: usize },
}

/// The lines of a file as `parse` and `render_pins` both see them.
pub(super) fn lines(text: &str) -> std::str::Lines<'_> {
    text.strip_prefix('\u{feff}').unwrap_or(text).lines()
}

pub(super) fn entries(path: &Utf8Path, text: &str) -> Result<Vec<Entry>> {
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
pub(super) struct IncludedFrom<'a> {
    pub(super) file: &'a Utf8Path,
    pub(super) line: usize,
    pub(super) col: usize,
    pub(super) target: &'a str,
}

impl IncludedFrom<'_> {
    pub(super) fn at(&self) -> String {
        format!("{}:{}:{}: `-r {}`", self.file, self.line, self.col, crate::cli::shown(self.target))
    }
}

/// The largest requirement file read (a lock of thousands of crates is ~100 KiB).
pub const MAX_FILE_SIZE: u64 = 4 << 20;
/// The deepest chain of `-r` includes followed.
pub const MAX_INCLUDE_DEPTH: usize = 32;

#[derive(Default)]
pub(super) struct Loader {
    /// Includes must stay inside this directory: the repository of the first file.
    pub(super) root: PathBuf,
    /// The files being read, outermost first: (identity, path as shown).
    pub(super) stack: Vec<(PathBuf, Utf8PathBuf)>,
    pub(super) seen: HashSet<PathBuf>,
    pub(super) requirements: Vec<Requirement>,
}

/// The git repository holding `file` (the nearest directory with `.git`), else its directory.
pub(super) fn repository_of(file: &std::path::Path) -> PathBuf {
    let dir = file.parent().map(|d| d.to_path_buf()).unwrap_or_default();
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    dir.ancestors().find(|d| d.join(".git").exists()).map(|d| d.to_path_buf()).unwrap_or(dir)
}

/// Reads a requirement file: a regular file (not a FIFO, a device or a directory), at most
/// [`MAX_FILE_SIZE`] bytes, UTF-8 (an invalid byte is reported with its line and column).
pub(super) fn read_text(path: &Utf8Path, from: Option<&IncludedFrom<'_>>) -> Result<String> {
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
    pub(super) fn file(&mut self, path: &Utf8Path, from: Option<IncludedFrom<'_>>) -> Result<()> {
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
