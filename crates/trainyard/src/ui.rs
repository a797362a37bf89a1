//! What the user sees: verbosity (`-q`, `-v`), colour (`--color`, `NO_COLOR`,
//! `CARGO_TERM_COLOR`), and stdout that ends quietly on a closed pipe.
//!
//! Broken pipes: Rust ignores SIGPIPE, so writing to a closed pipe returns EPIPE and
//! `println!` panics. Restoring SIGPIPE's default would end the process without a word,
//! but also without running destructors (the build lock's swap would be left behind) and
//! would kill trainyard when a child it feeds (`gpg`, `rpm`) exits early. So SIGPIPE
//! stays ignored and stdout goes through [`out`]: on EPIPE it unwinds with a
//! [`BrokenPipe`] payload (no panic message: `resume_unwind` skips the hook), destructors
//! run, and [`crate::main_with_args`] turns it into exit status 141, what a shell reports
//! for a process ended by SIGPIPE. The crate's `print!`/`println!` are this module's
//! (declared first in lib.rs, they shadow std's), so every print to stdout is covered.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

/// The exit status after a closed stdout: 128 + SIGPIPE, as shells report it.
pub const BROKEN_PIPE_STATUS: u8 = 141;

/// The unwind payload of a write to a closed stdout.
#[derive(Debug)]
pub struct BrokenPipe;

/// When colour is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn parse(value: &str) -> Option<ColorChoice> {
        match value {
            "auto" => Some(ColorChoice::Auto),
            "always" => Some(ColorChoice::Always),
            "never" => Some(ColorChoice::Never),
            _ => None,
        }
    }

    /// The choice when `--color` is not given: `CARGO_TERM_COLOR`, then `NO_COLOR`, as cargo does.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> ColorChoice {
        if let Some(choice) = env("CARGO_TERM_COLOR").as_deref().and_then(ColorChoice::parse) {
            return choice;
        }
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorChoice::Never;
        }
        ColorChoice::Auto
    }
}

/// How talkative trainyard is, and whether stderr is coloured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ui {
    /// -1 with `-q`, 0 by default, 1 with `-v`, 2 with `-vv`.
    pub verbosity: i8,
    pub color: bool,
}

impl Ui {
    pub fn new(verbosity: i8, choice: ColorChoice) -> Ui {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal(),
        };
        Ui { verbosity, color }
    }
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Sets the process's settings once, from the command line; later calls are ignored.
pub fn init(ui: Ui) {
    let _ = UI.set(ui);
}

pub fn get() -> Ui {
    UI.get().copied().unwrap_or_default()
}

pub fn quiet() -> bool {
    get().verbosity < 0
}

/// Whether the commands trainyard runs are echoed (`-v`).
pub fn show_commands() -> bool {
    get().verbosity > 0
}

#[derive(Debug, Clone, Copy)]
pub enum Style {
    Error,
    Warning,
    Help,
    Note,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Error => "1;31",
            Style::Warning => "1;33",
            Style::Help => "1;36",
            Style::Note => "1;32",
        }
    }
}

/// `text` in `style` when `color`, else as is.
pub fn paint(style: Style, text: &str, color: bool) -> String {
    if color {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_string()
    }
}

/// Colours the `error:`, `warning:`, `help:` and `note:` labels that start lines of `text`.
pub fn paint_labels(text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let labels =
        [("error:", Style::Error), ("warning:", Style::Warning), ("help:", Style::Help), ("note:", Style::Note)];
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match labels.iter().find(|(label, _)| line.starts_with(label)) {
            Some((label, style)) => {
                out.push_str(&paint(*style, label, true));
                out.push_str(&line[label.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Writes a diagnostic (`error: ...`, `note: ...`) to stderr, its labels coloured as set.
pub fn diagnostic(text: &str) {
    let _ = writeln!(std::io::stderr(), "{}", paint_labels(text, get().color));
}

/// Writes to stdout; a closed pipe unwinds quietly (see the module docs).
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(args) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::panic::resume_unwind(Box::new(BrokenPipe));
        }
        panic!("failed printing to stdout: {err}");
    }
}

/// stdout's `print!`, through [`out`].
macro_rules! print {
    ($($arg:tt)*) => { $crate::ui::out(format_args!($($arg)*)) };
}

/// stdout's `println!`, through [`out`].
macro_rules! println {
    () => { $crate::ui::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::ui::out(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_term_color_wins_over_no_color() {
        let env = |n: &str| match n {
            "CARGO_TERM_COLOR" => Some("always".to_string()),
            "NO_COLOR" => Some("1".to_string()),
            _ => None,
        };
        assert_eq!(ColorChoice::from_env(&env), ColorChoice::Always);
        let env = |n: &str| (n == "NO_COLOR").then(|| "1".to_string());
        assert_eq!(ColorChoice::from_env(&env), ColorChoice::Never);
        assert_eq!(ColorChoice::from_env(&|_| None), ColorChoice::Auto);
    }

    #[test]
    fn labels_are_painted_only_at_line_starts() {
        let text = "error: bad `help:`\nhelp: do this";
        assert_eq!(paint_labels(text, false), text);
        assert_eq!(paint_labels(text, true), "\x1b[1;31merror:\x1b[0m bad `help:`\n\x1b[1;36mhelp:\x1b[0m do this");
    }
}
