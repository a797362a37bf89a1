//! Every expected failure, each mapped to a documented exit code.
//!
//! Exit codes (also in the README):
//! - 0: success
//! - 1: the work itself failed (a build, a test run, a check that found problems)
//! - 2: bad input or configuration (arguments, requirement files, Cargo.toml metadata)
//! - 3: a required external tool is missing
//! - 101: a bug in trainyard (a panic)

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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), help: None, code: None }
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

impl std::error::Error for Error {}

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
    Error::failed(format!("{path}: {err}"))
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
