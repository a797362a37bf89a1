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
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    /// Whether stdout is coloured (`--color always`, or `auto` with stdout on a terminal):
    /// for the views a target prints there (`trains`).
    pub color_stdout: bool,
    /// `--message-format json`: events on stdout, one JSON object a line; the rest on stderr.
    pub json: bool,
    /// A live progress line on stderr (a terminal, not `-q`, not CI).
    pub live: bool,
}

impl Ui {
    pub fn new(verbosity: i8, choice: ColorChoice) -> Ui {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal(),
        };
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let live = verbosity >= 0 && !ci && std::io::stderr().is_terminal();
        let color_stdout = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal(),
        };
        Ui { verbosity, color, color_stdout, json: false, live }
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

/// Writes to stdout (to stderr under `--message-format json`, where stdout is the event
/// stream); a closed pipe unwinds quietly (see the module docs).
pub fn out(args: std::fmt::Arguments<'_>) {
    if get().json {
        let _ = std::io::stderr().write_fmt(args);
        return;
    }
    write_stdout(args)
}

fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_fmt(args) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::panic::resume_unwind(Box::new(BrokenPipe));
        }
        panic!("failed printing to stdout: {err}");
    }
}

/// One event of `--message-format json`, when that is on.
pub fn event(value: serde_json::Value) {
    if get().json {
        write_stdout(format_args!("{value}\n"));
    }
}

/// A phase of long work (vendoring, writing packages, fetching a project, mock's install).
/// One line when it starts (nothing under `-q`); a counted phase ([`Phase::counted`], whose
/// work runs no command) also redraws a progress bar on a terminal. Events and the CI summary record its time. [`Phase::elapsed`] ends it; dropped
/// before that (an error returned early), it ends as not completed.
pub struct Phase {
    name: String,
    started: Instant,
    done: std::cell::Cell<bool>,
}

/// What [`tick`] counts: the phase with a known amount of work.
struct Counter {
    name: String,
    done: usize,
    total: usize,
    drawn: Instant,
}

static COUNTER: Mutex<Option<Counter>> = Mutex::new(None);
/// Finished phases (name, seconds, completed), for the CI summary.
static PHASES: Mutex<Vec<(String, f64, bool)>> = Mutex::new(Vec::new());

impl Phase {
    pub fn start(name: impl Into<String>) -> Phase {
        let phase = Phase::events_only(name);
        let ui = get();
        // A plain line even on a terminal: the commands a phase runs (cargo) print on the same
        // stderr, and would run into a line left open. Counted phases redraw a live line.
        if !ui.json && ui.verbosity >= 0 {
            let _ = writeln!(std::io::stderr(), "trainyard: {} ...", phase.name);
        }
        phase
    }

    /// A phase whose caller already tells the user (the release's steps): events and summary only.
    pub fn events_only(name: impl Into<String>) -> Phase {
        let name = name.into();
        event(serde_json::json!({"reason": "phase-started", "phase": name}));
        Phase { name, started: Instant::now(), done: std::cell::Cell::new(false) }
    }

    /// A phase of `total` items, each reported by [`tick`].
    pub fn counted(name: impl Into<String>, total: usize) -> Phase {
        let phase = Phase::start(name);
        *COUNTER.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Counter { name: phase.name.clone(), done: 0, total, drawn: Instant::now() });
        phase
    }

    /// Ends the phase (once) and returns how long it took.
    pub fn elapsed(&self) -> Duration {
        let took = self.started.elapsed();
        self.finish(true, took);
        took
    }

    fn finish(&self, completed: bool, took: Duration) {
        if self.done.replace(true) {
            return;
        }
        let mut counter = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
        let counted = counter.as_ref().is_some_and(|c| c.name == self.name);
        if counted {
            *counter = None;
        }
        drop(counter);
        let secs = took.as_secs_f64();
        event(
            serde_json::json!({"reason": "phase-finished", "phase": self.name, "seconds": secs, "completed": completed}),
        );
        PHASES.lock().unwrap_or_else(|e| e.into_inner()).push((self.name.clone(), secs, completed));
        let ui = get();
        if counted && ui.live && !ui.json {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.finish(false, self.started.elapsed());
    }
}

/// One item of the counted phase is done (`item`: what it was); redraws the live line.
pub fn tick(item: &str) {
    let ui = get();
    let mut counter = COUNTER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(c) = counter.as_mut() else { return };
    c.done += 1;
    if ui.live && !ui.json && (c.drawn.elapsed() >= Duration::from_millis(80) || c.done == c.total) {
        c.drawn = Instant::now();
        let width = 30;
        let filled = (c.done * width).checked_div(c.total).unwrap_or(width).min(width);
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[2K{} [{}{}] {}/{} {item}",
            c.name,
            "#".repeat(filled),
            " ".repeat(width - filled),
            c.done,
            c.total
        );
    }
}

/// The end of a run: the `result` event, and with `$GITHUB_STEP_SUMMARY` set, a Markdown
/// summary appended to that file.
pub fn finish_run(target: &str, code: u8, problem: Option<&str>) {
    event(serde_json::json!({"reason": "result", "target": target, "success": code == 0, "exit_code": code}));
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else { return };
    let verdict = if code == 0 { "succeeded".to_string() } else { format!("failed (exit {code})") };
    let mut md = format!("### trainyard {target}: {verdict}\n\n");
    let phases = PHASES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !phases.is_empty() {
        md.push_str("| phase | time | |\n|---|---:|---|\n");
        for (name, secs, completed) in &phases {
            md.push_str(&format!("| {name} | {secs:.1} s | {} |\n", if *completed { "done" } else { "stopped" }));
        }
        md.push('\n');
    }
    if let Some(err) = problem {
        md.push_str(&format!("```\n{err}\n```\n"));
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
    if let Err(e) = file.and_then(|mut f| f.write_all(md.as_bytes())) {
        let _ = writeln!(std::io::stderr(), "warning: could not append to GITHUB_STEP_SUMMARY: {e}");
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
