//! The text `pin` writes, keeping what the existing file says besides its pins.

use super::*;

/// The text `pin` writes: `name == version` for every pin, sorted by normalized name then
/// version, after the existing file's free comments and `-r` lines. Ends with a newline (an
/// empty result is the empty string: a lone newline would render again as nothing).
///
/// A blank line separates those free lines from the pins, unless the existing file had its header
/// (or `-r` lines) directly above its first requirement: that layout is the user's (and what
/// `init` writes), and `pin --check` must not call such a file out of date for a blank line.
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
        if !out.is_empty() && !old.free_touches_pins {
            out.push('\n');
        }
        for line in section {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// What `render_pins` keeps of an existing file.
#[derive(Default)]
pub(super) struct OldFile {
    /// Comment blocks, include lines and single blank lines between them, in order.
    pub(super) free: Vec<String>,
    pub(super) requirements: Vec<OldRequirement>,
    /// The free lines end directly above the first requirement (or its comment block), with no
    /// blank line between and no free line found further down.
    pub(super) free_touches_pins: bool,
}

pub(super) struct OldRequirement {
    pub(super) key: String,
    /// The `==` version when the line was a pin.
    pub(super) version: Option<String>,
    /// The comment block directly above the line.
    pub(super) comments: Vec<String>,
    pub(super) trailing: Option<String>,
}

impl OldFile {
    pub(super) fn read(text: &str) -> OldFile {
        pub(super) enum Kind {
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
        // Whether the line above the current comment block (or line) was a blank one.
        let mut blank_above_block = true;
        let mut previous_blank = true;
        // The length of `free` when the first requirement touched it.
        let mut touched_at: Option<usize> = None;
        for (i, (kind, raw)) in kinds.into_iter().enumerate() {
            let blank = matches!(kind, Kind::Blank);
            match kind {
                Kind::Comment => {
                    if block.is_empty() {
                        block_starts_file = i == 0;
                        blank_above_block = previous_blank;
                    }
                    block.push(raw.to_owned());
                }
                Kind::Requirement { key, version, trailing } => {
                    let first = old.requirements.is_empty();
                    let touches =
                        if block.is_empty() { !previous_blank } else { block_starts_file || !blank_above_block };
                    let comments = if block_starts_file { Vec::new() } else { std::mem::take(&mut block) };
                    old.free.append(&mut block);
                    if first && touches && !old.free.is_empty() {
                        touched_at = Some(old.free.len());
                    }
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
            previous_blank = blank;
        }
        old.free.append(&mut block);
        while old.free.last().is_some_and(|l| l.is_empty()) {
            old.free.pop();
        }
        old.free_touches_pins = touched_at == Some(old.free.len());
        old
    }
}
