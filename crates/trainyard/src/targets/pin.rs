//! `pin CHANNEL=prod`: write the channel's requirement file from the resolved graph.

use camino::{Utf8Path, Utf8PathBuf};

use crate::channel::Channel;
use crate::cli::{FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::error::{io, Error, Result};
use crate::lockfile;
use crate::plan::Plan;
use crate::projects::internal_crates;
use crate::reqs;
use crate::resolution;
use crate::targets::options;
use crate::Context;

pub const SPEC: TargetSpec = TargetSpec {
    name: "pin",
    summary: "pin every external package of the resolved graph in reqs/<channel>-reqs.txt",
    usage: "[CHANNEL=prod] [--check] [--dry-run]",
    about: "Writes `name == version` for every registry crate in Cargo.lock (for dev: trainyard's dev\n\
            resolution, when a dev build made one), sorted, keeping the file's comments and its pins of\n\
            internal projects, and prints what changed. --check changes nothing and fails if the file\n\
            is not up to date.",
    vars: &[VarSpec { name: "CHANNEL", help: "dev, stage or prod (default prod)" }],
    flags: &[
        DRY_RUN,
        FlagSpec { name: "channel", value: Some("NAME"), help: "same as CHANNEL=NAME", var: Some("CHANNEL") },
        FlagSpec { name: "check", value: None, help: "fail if the file is not up to date; write nothing", var: None },
    ],
    takes_projects: false,
    max_positional: 0,
    passthrough: false,
};

/// What `pin` was asked.
struct PinOptions {
    channel: Channel,
    /// `--check`: fail when the file is not up to date, write nothing.
    check: bool,
}

impl PinOptions {
    fn parse(ctx: &Context) -> Result<PinOptions> {
        Ok(PinOptions {
            channel: options::channel(&ctx.args, "CHANNEL", Channel::Prod)?,
            check: ctx.args.flag("check"),
        })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let PinOptions { channel, check } = PinOptions::parse(ctx)?;
    let (path, old, new) = pinned_file(ctx, channel)?;
    let shown = ctx.ws.display(&path).to_string();
    let old_text = old.as_deref().unwrap_or("");
    let up_to_date = old_text == new;
    let diff = line_diff(old_text, &new);
    // Checked before anything is printed as if it would be written.
    let dest = if up_to_date || check { path.clone() } else { write_target(ctx, &path)? };
    if up_to_date {
        println!("{shown} is up to date");
        return Ok(());
    }
    for line in &diff {
        println!("{line}");
    }
    if check {
        return Err(Error::failed(format!("{shown} is not up to date ({} line changes)", diff.len()))
            .with_help(format!("{} pin CHANNEL={channel}", ctx.program)));
    }
    let mut plan = Plan::new();
    plan.write(dest, new.into_bytes());
    ctx.effects.execute(&plan)?;
    ctx.effects.done(format_args!("wrote {shown}"));
    Ok(())
}

/// Where writing the requirement file `path` goes: the file itself, or, when it is a symbolic
/// link, the file the link points to (so the link stays a link). A link leading out of the
/// workspace is refused: `pin` writes requirement files, nothing else.
fn write_target(ctx: &Context, path: &Utf8Path) -> Result<Utf8PathBuf> {
    let shown = ctx.ws.display(path);
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        _ => return Ok(path.to_path_buf()),
    }
    let link = std::fs::read_link(path).map_err(io(path))?;
    let real = std::fs::canonicalize(path).map_err(|_| {
        Error::usage(format!("{shown} is a symbolic link to {}, which does not exist", link.display()))
            .with_help(format!("create {}, or replace the link with a regular file", link.display()))
    })?;
    let root = std::fs::canonicalize(&ctx.ws.root).map_err(io(&ctx.ws.root))?;
    let real = Utf8PathBuf::from_path_buf(real)
        .map_err(|p| Error::usage(format!("{shown} links to {}, which is not a UTF-8 path", p.display())))?;
    if !real.starts_with(&root) || !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return Err(Error::usage(format!(
            "{shown} is a symbolic link to {real}, which is not a file inside the workspace; pin writes only the \
             workspace's requirement files"
        ))
        .with_help(format!("replace the link with a regular file, or point it at a file inside {}", ctx.ws.root)));
    }
    Ok(real)
}

/// The requirement file's path, its current text and the pinned text.
pub fn pinned_file(ctx: &Context, channel: Channel) -> Result<(camino::Utf8PathBuf, Option<String>, String)> {
    let lock_path = match channel {
        Channel::Dev if ctx.ws.state_dir().join("dev/Cargo.lock").exists() => ctx.ws.state_dir().join("dev/Cargo.lock"),
        _ => ctx.ws.lock_path(),
    };
    // Only the product's graph is pinned: what the xtask alone uses is not shipped.
    let product = crate::product::Product::of(&ctx.ws)?;
    let lock = product.graph_owned(&lockfile::read(&lock_path)?);
    let internal = internal_crates(&ctx.ws);
    let path = ctx.ws.reqs_path(channel);
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&path)(e)),
    };
    let mut pins = resolution::pins(&lock, &internal);
    if old.is_some() {
        // Pins an included file (`-r common-reqs.txt`) already holds stay there.
        let included: Vec<reqs::Requirement> = reqs::load(&path)?.into_iter().filter(|r| r.file != path).collect();
        pins.retain(|(name, version)| {
            !included.iter().any(|r| {
                r.key() == reqs::normalize(name) && r.pinned().is_some_and(|v| resolution::same_version(version, v))
            })
        });
    }
    if let Some(text) = &old {
        // Pins of internal projects (`server-core == 2.0` = tag rpm-2.0) are the user's, kept as they are.
        for r in reqs::parse(&path, text)? {
            if let (true, Some(v)) = (internal.contains(&r.key()), r.pinned()) {
                pins.push((r.name.clone(), v.to_string()));
            }
        }
    }
    let new = reqs::render_pins(old.as_deref(), &pins);
    Ok((path, old, new))
}

/// The lines removed (`-`) and added (`+`), by content; enough for a pin file's short diff. A
/// blank line is named (a lone `+` says nothing), and texts that differ only in the order of
/// their lines or in how many blank lines they have say so.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let shown = |sign: char, line: &str| {
        if line.trim().is_empty() {
            format!("{sign}(a blank line)")
        } else {
            format!("{sign}{line}")
        }
    };
    let mut out: Vec<String> = old_lines.iter().filter(|l| !new_lines.contains(l)).map(|l| shown('-', l)).collect();
    out.extend(new_lines.iter().filter(|l| !old_lines.contains(l)).map(|l| shown('+', l)));
    let blanks = |lines: &[&str]| lines.iter().filter(|l| l.trim().is_empty()).count();
    let (old_blank, new_blank) = (blanks(&old_lines), blanks(&new_lines));
    if out.is_empty() && old_blank != new_blank {
        out.push(format!("{}(blank lines: {old_blank} -> {new_blank})", if new_blank > old_blank { '+' } else { '-' }));
    }
    if out.is_empty() && old != new {
        out.push("~(the same lines, in another order or layout)".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    #[test]
    fn line_diff_names_what_changed() {
        assert_eq!(line_diff("a == 1\n", "a == 2\n"), ["-a == 1", "+a == 2"]);
        assert_eq!(line_diff("a == 1\n", "a == 1\n"), Vec::<String>::new());
        // A blank line is named, however many there are.
        assert_eq!(line_diff("# h\na == 1\n", "# h\n\na == 1\n"), ["+(a blank line)"]);
        assert_eq!(line_diff("# h\n\n\na == 1\n", "# h\n\na == 1\n"), ["-(blank lines: 2 -> 1)"]);
        assert_eq!(
            line_diff("b == 1\na == 1\n", "a == 1\nb == 1\n"),
            ["~(the same lines, in another order or layout)"]
        );
        assert_eq!(line_diff("a == 1", "a == 1\n"), ["~(the same lines, in another order or layout)"]);
    }
}
