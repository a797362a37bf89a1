//! `release promote 1.3.1 --from stage --to prod`: the bytes published (and tested) in one
//! channel, copied to the next: every file of that release as the source channel's history
//! lists it, the internal projects' packages included. Re-signed only when the target
//! channel's key is another one. Recorded in the target channel's history.

use camino::Utf8PathBuf;

use super::history::{self, Action, FileRecord, Record};
use super::publish::{self, place, Placement};
use super::repo::{self, Destination, Session, Signer};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::version::{Pre, Version};
use crate::Context;

pub struct Promotion<'a> {
    pub version: &'a str,
    pub from: Channel,
    pub to: Channel,
    pub allow_prerelease: bool,
}

/// Whether `v` may enter `channel`: dev versions only the dev channel; betas and rcs stage
/// and prod only when asked (`--allow-prerelease`).
pub fn check_channel(v: &Version, channel: Channel, allow_prerelease: bool) -> Result<()> {
    if channel != Channel::Dev && v.is_dev() {
        return Err(Error::usage(format!("refusing to promote the development build {v} to {channel}"))
            .with_help("only the dev channel takes dev versions: promote a tagged release"));
    }
    if channel != Channel::Dev && matches!(v.pre, Some(Pre::Beta(_) | Pre::Rc(_))) && !allow_prerelease {
        return Err(Error::usage(format!("refusing to promote the pre-release {v} to {channel}"))
            .with_help("add --allow-prerelease to put a beta or rc there on purpose"));
    }
    Ok(())
}

pub fn parse_version(text: &str) -> Result<Version> {
    Version::parse_any(text).map_err(|e| e.context("release version"))
}

/// What a channel's history holds, for error messages.
pub fn known_releases(records: &[Record]) -> String {
    let list: Vec<String> = history::releases(records).iter().map(|(v, _)| v.to_string()).collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

pub fn promote(ctx: &Context, dest: &Destination, p: &Promotion<'_>) -> Result<()> {
    if p.from == p.to {
        return Err(Error::usage(format!("promoting from {} to itself", p.from)).with_help("--from stage --to prod"));
    }
    let v = parse_version(p.version)?;
    check_channel(&v, p.to, p.allow_prerelease)?;
    exec_tools()?;
    let signer = Signer::for_channel(&ctx.ws.config.publish, p.to)?;
    let key_id = signer.as_ref().map(Signer::key_id).transpose()?;
    // Both channels are locked, always in the same order, so two promotions never deadlock.
    let mirrors = publish::mirrors(ctx);
    let (src, dst) = if p.from < p.to {
        let s = Session::open(&ctx.effects, dest, p.from, &mirrors)?;
        (s, Session::open(&ctx.effects, dest, p.to, &mirrors)?)
    } else {
        let d = Session::open(&ctx.effects, dest, p.to, &mirrors)?;
        (Session::open(&ctx.effects, dest, p.from, &mirrors)?, d)
    };
    let (from_where, to_where) = (dest.describe(p.from), dest.describe(p.to));
    let records = src.history()?;
    let Some(release) = history::release(&records, &v) else {
        return Err(Error::usage(format!("{v} was never published to {from_where}")).with_help(format!(
            "releases there: {}; publish it first: release publish --from DIR --channel {}",
            known_releases(&records),
            p.from
        )));
    };
    let mut todo = Vec::new();
    let mut conflicts = Vec::new();
    for f in &release.files {
        let path = [src.dir.join(&f.file), src.archive_path(&f.file)].into_iter().find(|p| p.is_file());
        let Some(path) = path else {
            return Err(Error::failed(format!("{from_where}: {} of {v} is missing", f.file))
                .with_help("publish the release to the source channel again"));
        };
        let sha = repo::sha256_file(&path)?;
        if sha != f.sha256 {
            return Err(Error::failed(format!(
                "{from_where}: {} changed since it was published (sha256 {sha}, the history says {})",
                f.file, f.sha256
            )));
        }
        let digest = publish::read_packages(std::slice::from_ref(&path))?.remove(0).header_digest;
        let place = place(&dst, &f.file, &path, &digest)?;
        if let Placement::Conflict { theirs } = &place {
            conflicts.push((f.file.clone(), theirs.clone(), sha.clone()));
        }
        todo.push((f, path, place));
    }
    if !conflicts.is_empty() {
        return Err(publish::conflicts_error(&to_where, &conflicts));
    }
    let mut listed = dst.listed()?;
    if todo.iter().all(|(f, _, place)| *place == Placement::Present && listed.contains(&f.file)) {
        eprintln!("trainyard: nothing to promote: {to_where} already holds every file of {v}");
        return Ok(());
    }
    // Exactly the published bytes, unless the target channel signs with another key.
    let resign =
        |path: &Utf8PathBuf| key_id.as_ref().is_some_and(|id| repo::signed_by(path).is_none_or(|k| !id.ends_with(&k)));
    let new = |again: bool| -> Vec<(Utf8PathBuf, String)> {
        todo.iter()
            .filter(|(_, path, place)| *place == Placement::New && resign(path) == again)
            .map(|(f, path, _)| (path.clone(), f.file.clone()))
            .collect()
    };
    let (same, again) = (new(false), new(true));
    let mut plan = crate::plan::Plan::new();
    dst.plan_copies(&mut plan, &same, None)?;
    dst.plan_copies(&mut plan, &again, signer.as_ref())?;
    let resigned = !again.is_empty();
    for (f, _, place) in &todo {
        if *place == Placement::Restore {
            plan.rename(dst.archive_path(&f.file), dst.dir.join(&f.file));
        }
    }
    let app = ctx.ws.config.name().to_string();
    listed.extend(todo.iter().map(|(f, _, _)| f.file.clone()));
    let metadata = dst.plan_metadata(&mut plan, &listed, signer.as_ref(), &app, publish::base_url(ctx).as_deref())?;
    let dir = dst.dir.clone();
    let record = || -> Result<Record> {
        let mut files = Vec::new();
        for (f, _, _) in &todo {
            let sha256 = repo::sha256_file(&dir.join(&f.file))?;
            files.push(FileRecord { file: f.file.clone(), nevra: f.nevra.clone(), sha256 });
        }
        Ok(Record {
            action: Action::Promote,
            channel: p.to.as_str().into(),
            version: release.version.clone(),
            from: Some(p.from.as_str().into()),
            time: history::now(),
            commit: release.commit.clone(),
            who: history::who(&crate::git::Git::new(&ctx.ws.root)),
            files,
            archived: Vec::new(),
        })
    };
    let what = format!("promote {v} from {} (the SHA-256 of each file as published)", p.from);
    // The source channel stays locked until the copies are made.
    let result = dst.change(&ctx.effects, plan, &metadata, &what, record, &[]);
    drop(src);
    result?;
    let how = if resigned { format!("signed again with the {} key", p.to) } else { "the same bytes".into() };
    ctx.effects.result(format!("promoted {v} from {} to {to_where}: {how}", p.from));
    Ok(())
}

fn exec_tools() -> Result<()> {
    crate::exec::tool("createrepo_c", "createrepo-c")?;
    crate::exec::tool("rpm", "rpm").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_take_what_they_may() {
        let v = |t: &str| Version::parse_any(t).unwrap();
        assert!(check_channel(&v("1.3.1"), Channel::Prod, false).is_ok());
        assert!(check_channel(&v("1.3.dev4"), Channel::Dev, false).is_ok());
        for c in [Channel::Stage, Channel::Prod] {
            assert!(check_channel(&v("1.3.dev4"), c, true).unwrap_err().message.contains("development build"));
            let err = check_channel(&v("1.3rc1"), c, false).unwrap_err();
            assert_eq!(err.help.as_deref(), Some("add --allow-prerelease to put a beta or rc there on purpose"));
            assert!(check_channel(&v("0.12.0b1"), c, false).is_err());
            assert!(check_channel(&v("1.3rc1"), c, true).is_ok());
        }
    }
}
