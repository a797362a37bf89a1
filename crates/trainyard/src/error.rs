//! Every expected failure, each mapped to a documented exit code.
//!
//! Exit codes (also in the README):
//! - 0: success
//! - 1: the work itself failed (a build, a test run, a check that found problems)
//! - 2: bad input or configuration (arguments, requirement files, Cargo.toml metadata)
//! - 3: a required external tool is missing
//! - 101: a bug in trainyard (a panic)
//!
//! [`Error`] is the one error type: a kind (the exit code), a message and a `help:` line, and the
//! underlying error when there is one ([`Error::caused_by`]: an io, JSON or TOML error), which
//! `source()` returns. [`Error::quiet`] is the one way to end with a code and print nothing (the
//! message was printed already, or the code is a child process's own).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The work failed: a command exited non-zero, a check found problems.
    Failed,
    /// The user's input or configuration is wrong.
    Usage,
    /// An external tool is not installed.
    MissingTool,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::MissingTool => 3,
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub help: Option<String>,
    /// A specific exit code to pass through (the test run's own, for example).
    pub code: Option<u8>,
    /// Nothing is printed: the run ends with the exit code only ([`Error::quiet`]).
    pub quiet: bool,
    /// The error this one reports (an io, JSON or TOML error), for [`std::error::Error::source`].
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), help: None, code: None, quiet: false, source: None }
    }
    /// Ends the run with `code` and prints nothing: what there was to say is said (a usage text
    /// printed, a child process's own output and exit code passed through).
    pub fn quiet(kind: Kind, code: u8) -> Error {
        Error { quiet: true, ..Error::new(kind, String::new()).with_code(code) }
    }
    /// An error reporting `source`: the message says what failed and where; `source()` keeps
    /// the underlying error.
    pub fn caused_by(
        kind: Kind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error { source: Some(Box::new(source)), ..Error::new(kind, message) }
    }
    pub fn failed(message: impl Into<String>) -> Error {
        Error::new(Kind::Failed, message)
    }
    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(Kind::Usage, message)
    }
    pub fn missing_tool(tool: &str, debian_package: &str) -> Error {
        Error::new(Kind::MissingTool, format!("`{tool}` was not found on PATH"))
            .with_help(format!("install it: apt-get install -y {debian_package}"))
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Error {
        self.help = Some(help.into());
        self
    }
    pub fn with_code(mut self, code: u8) -> Error {
        self.code = Some(code);
        self
    }
    /// Adds context in front of the message: "while doing X: message".
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
    pub fn exit_code(&self) -> u8 {
        self.code.unwrap_or_else(|| self.kind.exit_code())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(help) = &self.help {
            for (i, line) in help.lines().enumerate() {
                if i == 0 {
                    write!(f, "\nhelp: {line}")?;
                } else {
                    write!(f, "\n      {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A message as it reaches the terminal: control characters other than newlines and tabs
/// escaped (`\u{1b}`, `\0`), whatever value it quotes.
pub fn printable(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.to_string();
    }
    text.chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// I/O errors are failures of the work unless a caller says otherwise; the path is the context.
pub fn io_error(path: impl fmt::Display, err: std::io::Error) -> Error {
    Error::caused_by(Kind::Failed, format!("{path}: {err}"), err)
}

/// Helper for `.map_err(io(path))`.
pub fn io<P: fmt::Display>(path: P) -> impl FnOnce(std::io::Error) -> Error {
    move |err| io_error(path, err)
}

/// Shorthand for early returns: `bail!(usage, "...")`.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_cause_is_kept_and_quiet_errors_say_nothing() {
        let err = io("/nonexistent/x")(std::io::Error::from(std::io::ErrorKind::NotFound)).context("reading");
        assert!(err.message.starts_with("reading: /nonexistent/x: "), "{}", err.message);
        let cause = err.source().expect("the io error is kept");
        assert_eq!(cause.downcast_ref::<std::io::Error>().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
        let toml_err = "a = ".parse::<toml::Table>().unwrap_err();
        let err = Error::caused_by(Kind::Usage, "Cargo.toml: bad", toml_err);
        assert!(err.source().is_some_and(|s| s.is::<toml::de::Error>()));
        assert_eq!(err.exit_code(), 2);
        let quiet = Error::quiet(Kind::Failed, 7);
        assert!(quiet.quiet && quiet.message.is_empty() && quiet.source().is_none());
        assert_eq!(quiet.exit_code(), 7);
    }
}
