//! `release notes`: the new section of `RELEASE.txt`, in the old format.
//!
//! ```text
//! 1.2 - 2011-02-28
//! ================
//!
//! Impacts:
//!
//! - Ops
//!
//! Dependencies:
//!
//! - None
//!
//! Relevant changes:
//!
//! - Bug 636294 - Prevent the automatic creation of the tables
//! ```
//!
//! Impacts are the releaser's (the previous release's list is the start); Dependencies
//! are the internal projects at their pinned or overridden versions; Relevant changes are
//! the commits since the previous release tag, with their bug references. `$EDITOR` opens
//! on the section when a terminal is attached; `--message-file FILE` gives the Impacts
//! lines instead (CI). An empty or unchanged section aborts.

use camino::Utf8Path;

use super::{messages, Action, GitPlan, Plan, Preflight, Repo, State, Step, Version, RELEASE_FILE};
use crate::channel::Channel;
use crate::cli::project_var;
use crate::error::{io, Error, Result};
use crate::exec::Effects;
use crate::reqs;

/// Where the Impacts lines come from.
pub enum Impacts<'p> {
    /// The releaser edits the section in `$EDITOR`.
    Editor,
    /// The lines of this file (`--message-file`).
    File(&'p Utf8Path),
    /// The whole section, already written (the whole path plans the notes before its first
    /// step, and its `notes` step writes what was planned: the editor opens once).
    Written(String),
}

const EDITOR_HELP: &str = "# Release notes: lines starting with '#' are dropped.\n\
# Impacts: the teams this release affects (Ops, QA, Infrasec, ...); the previous\n\
# release's list is below as a start. Dependencies and Relevant changes were generated.\n\
# An empty or unchanged section aborts the step.\n";

pub fn plan(repo: &Repo, state: &State, impacts: Impacts<'_>) -> Result<Step> {
    let v = state.version(repo)?;
    if let Some(text) = &state.release_notes {
        check_dates(&repo.ctx.ws.root.join(RELEASE_FILE), text)?;
    }
    let mut pre = Preflight::new(format!("write the release notes of {v}"));
    pre.clean(state);
    pre.on_release_branch(repo, state, &v)?;
    if let Some(text) = &state.release_notes {
        if section(text, &v).is_some() {
            pre.problem(format!("{RELEASE_FILE} already has a {v} section"), None);
        }
    }
    pre.tag_absent(repo, &repo.tag_name(&v))?;
    pre.finish()?;

    let previous_impacts = state.release_notes.as_deref().and_then(first_section).map(impacts_of).unwrap_or_default();
    let deps = dependencies(repo)?;
    let changes = changes(repo, state, &v)?;
    let date = super::today()?;
    let generated = render(&v, &date, &previous_impacts, &deps, &changes);
    let section = match impacts {
        Impacts::File(path) => render(&v, &date, &impact_lines(path)?, &deps, &changes),
        Impacts::Editor => edit(repo, &v, &generated)?,
        Impacts::Written(section) => section,
    };
    let new_text = insert(state.release_notes.as_deref(), &section);
    let mut plan = Plan::default();
    plan.write(repo.ctx.ws.root.join(RELEASE_FILE), new_text.clone());
    plan.commit(repo, &[RELEASE_FILE], &messages::notes(&v));
    let mut after = state.clone();
    after.release_notes = Some(new_text);
    Ok(Step { plan, after })
}

/// Opens `$EDITOR` on the section (through the executor); refuses an empty or unchanged result.
/// In a dry-run the editor is not opened: the generated section stands for the edited one.
fn edit(repo: &Repo, v: &Version, generated: &str) -> Result<String> {
    let effects = &repo.ctx.effects;
    let dir = repo.ctx.ws.state_dir().join("release");
    let path = dir.join(format!("RELEASE-{v}.txt"));
    let edit = Action::Edit { editor: editor(), file: path.clone() };
    if !terminal() {
        if !effects.dry_run {
            return Err(no_terminal());
        }
        // A dry-run previews from anywhere (a pipe, a CI job), and says what the run needs.
        effects.note("(no terminal here: the run refuses to open $EDITOR without one; --message-file FILE gives the Impacts lines)");
    }
    effects.apply(&Action::Write { path: path.clone(), contents: format!("{EDITOR_HELP}{generated}").into_bytes() })?;
    effects.apply(&edit).map_err(|e| e.context("release notes aborted"))?;
    // What the editor left, read once it has run; a dry-run, which opened none, plans with the
    // generated section.
    let Some(edited) = effects.planned_again(None, || std::fs::read_to_string(&path).map(Some).map_err(io(&path)))?
    else {
        effects.note(format!("(the {v} section as edited is known only at run time; as generated:)\n{generated}"));
        return Ok(generated.to_string());
    };
    effects.apply(&Action::RemoveFile(path))?;
    let kept: String = edited.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let kept = kept.trim().to_string();
    if kept.is_empty() {
        return Err(Error::usage("the release notes are empty: aborted"));
    }
    if kept == generated.trim() {
        return Err(Error::usage("the release notes were not changed: aborted")
            .with_help("edit the Impacts (or anything) and save, or give --message-file FILE"));
    }
    let heading = format!("{v} - ");
    if !kept.lines().next().is_some_and(|l| l.starts_with(&heading)) {
        return Err(Error::usage(format!("the release notes must start with `{heading}DATE`: aborted")));
    }
    Ok(format!("{kept}\n"))
}

/// The section's text.
pub fn render(v: &Version, date: &str, impacts: &[String], deps: &[String], changes: &[String]) -> String {
    let heading = format!("{v} - {date}");
    let list = |items: &[String]| {
        if items.is_empty() {
            "- None\n".to_string()
        } else {
            items.iter().map(|i| format!("- {i}\n")).collect()
        }
    };
    format!(
        "{heading}\n{}\n\nImpacts:\n\n{}\nDependencies:\n\n{}\nRelevant changes:\n\n{}",
        "=".repeat(heading.len()),
        list(impacts),
        list(deps),
        list(changes)
    )
}

/// `- Ops` / `* Ops` / `Ops` lines of a message file, without the bullet; comments and blanks dropped.
/// Checks, before the release's first commit, that the Impacts can be had: the message file
/// is a readable UTF-8 text with Impacts lines, or there is a terminal for `$EDITOR`.
pub fn check_impacts(effects: &Effects, impacts: &Impacts<'_>) -> Result<()> {
    match impacts {
        Impacts::File(path) => impact_lines(path).map(drop),
        Impacts::Editor if !effects.dry_run && !terminal() => Err(no_terminal()),
        Impacts::Editor | Impacts::Written(_) => Ok(()),
    }
}

/// The user's editor, as git finds it: `$VISUAL`, `$EDITOR`, else `vi`.
fn editor() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string())
}

/// Whether `$EDITOR` can be opened here: a terminal on both ends.
fn terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn no_terminal() -> Error {
    Error::usage("no terminal to open $EDITOR on the release notes")
        .with_help("give the Impacts lines in a file: --message-file FILE (one team per line)")
}

/// The Impacts lines of `--message-file`: a regular UTF-8 file of at most 1 MiB, not empty.
fn impact_lines(path: &Utf8Path) -> Result<Vec<String>> {
    use std::io::Read;
    let bad = |what: &str| {
        Error::usage(format!("--message-file {path}: {what}"))
            .with_help("give a text file with the Impacts lines: one team per line (Ops, QA, ...), or `None`")
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(&e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file"));
    }
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| bad(&e.to_string()))?;
    file.take(1 << 20 | 1).read_to_end(&mut bytes).map_err(io(path))?;
    if bytes.len() > 1 << 20 {
        return Err(bad("larger than 1 MiB"));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
    let lines = bullet_lines(&text);
    if lines.is_empty() {
        return Err(Error::usage(format!("{path} has no Impacts lines: the release notes would be empty"))
            .with_help("write one team per line (Ops, QA, ...), or `None`"));
    }
    Ok(lines)
}

/// A heading's date, `YYYY-MM-DD`: a day that exists (no `2024-02-31`), from 1970-01-01
/// on (RPM changelog times are seconds since then), before the year 10000.
pub fn heading_date(text: &str) -> Result<(i64, u32, u32), String> {
    let bad = |why: &str| Err(format!("`{}` {why}", crate::cli::shown(text)));
    let parts: Vec<&str> = text.split('-').collect();
    let shape = parts.len() == 3
        && [4, 2, 2].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()));
    if !shape {
        return bad("is not a date: write YYYY-MM-DD");
    }
    let (y, m, d): (i64, u32, u32) =
        (parts[0].parse().unwrap_or(0), parts[1].parse().unwrap_or(0), parts[2].parse().unwrap_or(0));
    if y < 1970 {
        return bad("is before 1970");
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return bad("has no such month"),
    };
    if d == 0 || d > days {
        return bad(&format!("has no such day: {y:04}-{m:02} has {days} days"));
    }
    Ok((y, m, d))
}

/// Checks the date of every section heading (`1.2 - 2011-02-28`) of a RELEASE.txt; a
/// heading whose date part is shaped like a date (digits and dashes) must be a real one.
pub fn check_dates(path: &Utf8Path, text: &str) -> Result<()> {
    for (i, line) in text.lines().enumerate() {
        let Some((version, date)) = line.split_once(" - ") else { continue };
        let (version, date) = (version.trim(), date.trim());
        let is_heading = version.starts_with(|c: char| c.is_ascii_digit())
            && !version.contains(char::is_whitespace)
            && !date.is_empty()
            && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if is_heading {
            heading_date(date).map_err(|why| {
                Error::usage(format!("{path}:{}: the date of the {version} section {why}", i + 1))
                    .with_help("write the day the release was made, as YYYY-MM-DD")
            })?;
        }
    }
    Ok(())
}

fn bullet_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.strip_prefix('-').or_else(|| l.strip_prefix('*')).unwrap_or(l).trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The headings of a RELEASE.txt: (byte offset, version).
fn headings(text: &str) -> Vec<(usize, Version)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if let Some((v, date)) = line.trim_end().split_once(" - ") {
            let is_date = date.len() == 10
                && date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
            if let (Ok(v), true) = (Version::parse_release(v), is_date) {
                out.push((pos, v));
            }
        }
        pos += line.len();
    }
    out
}

fn section_at(text: &str, heads: &[(usize, Version)], i: usize) -> String {
    let end = heads.get(i + 1).map(|h| h.0).unwrap_or(text.len());
    format!("{}\n", text[heads[i].0..end].trim_end())
}

/// The section of `v`, if the file has one.
pub fn section(text: &str, v: &Version) -> Option<String> {
    let heads = headings(text);
    let i = heads.iter().position(|(_, hv)| hv == v)?;
    Some(section_at(text, &heads, i))
}

/// The newest (first) section and its version.
pub fn first_section(text: &str) -> Option<String> {
    let heads = headings(text);
    (!heads.is_empty()).then(|| section_at(text, &heads, 0))
}

/// The version of the first section.
pub fn first_version(text: &str) -> Option<Version> {
    headings(text).first().map(|h| h.1)
}

/// The Impacts list of a section.
pub fn impacts_of(section: String) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in section.lines() {
        let t = line.trim();
        if t.ends_with(':') && !t.starts_with('-') {
            inside = t == "Impacts:";
            continue;
        }
        if inside {
            if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
                if item.trim() != "None" {
                    out.push(item.trim().to_string());
                }
            }
        }
    }
    out
}

/// Puts the new section first, after any preamble the file has.
pub fn insert(existing: Option<&str>, section: &str) -> String {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else { return section.to_string() };
    match headings(text).first() {
        Some((at, _)) => format!("{}{section}\n{}", &text[..*at], &text[*at..]),
        None => format!("{}\n\n{section}", text.trim_end()),
    }
}

/// The internal projects and their versions: an override (`SERVER_CORE=rpm-2.0`) wins,
/// then the prod pin (`server-core == 2.0`).
fn dependencies(repo: &Repo) -> Result<Vec<String>> {
    let config = repo.config();
    if config.internal.is_empty() {
        return Ok(Vec::new());
    }
    let prod = repo.ctx.ws.reqs_path(Channel::Prod);
    let pins = if prod.exists() { reqs::load(&prod)? } else { Vec::new() };
    let mut out = Vec::new();
    for name in config.internal.keys() {
        let line = if let Some(var) = repo.ctx.args.var(&project_var(name)) {
            let version = var.value.strip_prefix(config.tag_prefix.as_str()).unwrap_or(&var.value);
            format!("{name} {version}")
        } else if let Some(v) = pins.iter().find(|r| r.key() == reqs::normalize(name)).and_then(|r| r.pinned()) {
            format!("{name} {v}")
        } else {
            format!("{name} (not pinned in {})", repo.ctx.ws.display(&prod))
        };
        out.push(line);
    }
    Ok(out)
}

/// One line per commit since the previous release tag (by patch identity, so changes
/// already released as fixes and backported are not listed again), oldest first.
fn changes(repo: &Repo, state: &State, v: &Version) -> Result<Vec<String>> {
    let range = match repo.previous_tag(v)? {
        Some((_, tag)) => format!("{tag}...{}", state.head),
        None => state.head.clone(),
    };
    let log = repo.git.read(&[
        "log",
        "--no-merges",
        "--cherry-pick",
        "--right-only",
        "--reverse",
        "--format=%s%x1f%b%x1e",
        &range,
    ])?;
    Ok(log
        .split('\x1e')
        .filter_map(|entry| {
            let (subject, body) = entry.trim_start_matches('\n').split_once('\x1f')?;
            (!subject.is_empty() && !messages::is_bookkeeping(subject)).then(|| change_line(subject, body))
        })
        .collect())
}

/// `Bug 636294 - Prevent ...` from a commit's subject and the bug references in it and its body.
pub fn change_line(subject: &str, body: &str) -> String {
    let mut bugs = bug_refs(subject);
    for b in bug_refs(body) {
        if !bugs.contains(&b) {
            bugs.push(b);
        }
    }
    if bugs.is_empty() {
        return subject.to_string();
    }
    let rest = strip_leading_bug(subject);
    let refs: Vec<String> = bugs.iter().map(|b| format!("Bug {b}")).collect();
    format!("{} - {rest}", refs.join(", "))
}

/// The bug numbers written as `Bug 636294`, `bug #636294`, `BUG-636294` in a text.
pub fn bug_refs(text: &str) -> Vec<u64> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("bug").map(|i| i + from) {
        from = at + 3;
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut i = at + 3;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'#' | b'-' | b':') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i > start && i - start <= 12 && !(i < bytes.len() && bytes[i].is_ascii_alphanumeric()) {
            if let Ok(n) = lower[start..i].parse() {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// `Bug 636294 - Prevent x` -> `Prevent x`; other subjects unchanged.
fn strip_leading_bug(subject: &str) -> &str {
    let lower = subject.to_ascii_lowercase();
    if !lower.starts_with("bug") {
        return subject;
    }
    let b = subject.as_bytes();
    let mut i = 3;
    while i < b.len() && matches!(b[i], b' ' | b'#' | b'-' | b':') {
        i += 1;
    }
    let digits = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == digits {
        return subject;
    }
    let rest = subject[i..].trim_start_matches([' ', '-', ':', ',']);
    if rest.is_empty() {
        subject
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_dates_are_real_days() {
        assert_eq!(heading_date("2011-02-28"), Ok((2011, 2, 28)));
        assert_eq!(heading_date("2024-02-29"), Ok((2024, 2, 29)));
        assert_eq!(heading_date("1970-01-01"), Ok((1970, 1, 1)));
        for (bad, why) in [
            ("2024-02-31", "has no such day: 2024-02 has 29 days"),
            ("2023-02-29", "has no such day"),
            ("1969-12-31", "is before 1970"),
            ("2024-13-01", "has no such month"),
            ("2024-1-01", "is not a date"),
            ("0000-01-01", "is before 1970"),
        ] {
            let e = heading_date(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = check_dates(Utf8Path::new("RELEASE.txt"), "1.3 - 2024-03-01\n====\n\n1.2 - 2024-02-31\n").unwrap_err();
        assert_eq!(
            e.message,
            "RELEASE.txt:4: the date of the 1.2 section `2024-02-31` has no such day: 2024-02 has 29 days"
        );
        check_dates(Utf8Path::new("RELEASE.txt"), "1.2 - 2024-02-29\n- 2 - fix things\n").unwrap();
    }

    fn v(t: &str) -> Version {
        Version::parse_release(t).unwrap()
    }

    #[test]
    fn section_format() {
        let s = render(
            &v("1.2"),
            "2011-02-28",
            &["Ops".into()],
            &[],
            &["Bug 636294 - Prevent the automatic creation of the tables".into()],
        );
        assert_eq!(
            s,
            "1.2 - 2011-02-28\n================\n\nImpacts:\n\n- Ops\n\nDependencies:\n\n- None\n\nRelevant changes:\n\n- Bug 636294 - Prevent the automatic creation of the tables\n"
        );
    }

    #[test]
    fn sections_are_found_inserted_first_and_impacts_read() {
        let first = render(&v("1.2"), "2011-02-28", &["Ops".into(), "QA".into()], &[], &["a".into()]);
        let file = insert(Some("Release notes of portal.\n\n"), &first);
        assert!(file.starts_with("Release notes of portal.\n\n1.2 - 2011-02-28\n"), "{file}");
        let second = render(&v("1.2.1"), "2011-03-01", &["Ops".into()], &[], &["b".into()]);
        let file = insert(Some(&file), &second);
        assert_eq!(first_version(&file), Some(v("1.2.1")));
        assert_eq!(section(&file, &v("1.2")).unwrap(), first);
        assert_eq!(section(&file, &v("1.2.1")).unwrap(), second);
        assert_eq!(section(&file, &v("1.3")), None);
        assert_eq!(impacts_of(section(&file, &v("1.2")).unwrap()), vec!["Ops".to_string(), "QA".to_string()]);
        assert_eq!(impacts_of(render(&v("1.0"), "2011-01-01", &[], &[], &[])), Vec::<String>::new());
        assert_eq!(insert(None, &first), first);
    }

    #[test]
    fn bug_references() {
        assert_eq!(bug_refs("Bug 636294 - Prevent"), vec![636294]);
        assert_eq!(bug_refs("fix (bug #12) and BUG-13, debugging 14, bug 12"), vec![12, 13]);
        assert_eq!(bug_refs("bugfix 15; bug 16x"), Vec::<u64>::new());
        assert_eq!(
            change_line("Bug 636294 - Prevent the automatic creation of the tables", ""),
            "Bug 636294 - Prevent the automatic creation of the tables"
        );
        assert_eq!(change_line("Prevent table creation", "Fixes bug 636294.\n"), "Bug 636294 - Prevent table creation");
        assert_eq!(change_line("bug 1: crash; see bug 2", ""), "Bug 1, Bug 2 - crash; see bug 2");
        assert_eq!(change_line("now using the standalone cef lib", ""), "now using the standalone cef lib");
    }

    #[test]
    fn message_file_lines() {
        assert_eq!(bullet_lines("# teams\n- Ops\n\n* QA\nInfrasec\n-  \n"), vec!["Ops", "QA", "Infrasec"]);
    }
}
