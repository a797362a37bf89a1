//! `release rollback 1.2 --channel prod`: makes 1.2 what `dnf install` and `dnf upgrade` give
//! in the channel, by taking every newer release out of its metadata. Their files move to
//! the repository's `archive/` (promoting one again brings it back), and clients are told
//! what to run (`dnf downgrade NAME`): dnf never downgrades by itself.

use std::collections::BTreeSet;

use super::history::{self, Action, FileRecord, Record};
use super::promote::{known_releases, parse_version};
use super::publish;
use super::repo::{Destination, Session, Signer};
use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::Context;

pub fn rollback(ctx: &Context, dest: &Destination, version: &str, channel: Channel) -> Result<()> {
    let v = parse_version(version)?;
    crate::exec::tool("createrepo_c", "createrepo-c")?;
    let signer = Signer::for_channel(&ctx.ws.config.publish, channel)?;
    if let Some(s) = &signer {
        s.key_id()?;
    }
    let session = Session::open(&ctx.effects, dest, channel, &publish::mirrors(ctx))?;
    let where_ = dest.describe(channel);
    let records = session.history()?;
    let Some(target) = history::release(&records, &v) else {
        return Err(Error::usage(format!("{v} was never published to {where_}"))
            .with_help(format!("releases there: {}", known_releases(&records))));
    };
    let keep: BTreeSet<&str> = target.files.iter().map(|f| f.file.as_str()).collect();
    let present: BTreeSet<String> = session.listed()?.into_iter().collect();
    let mut archive: Vec<FileRecord> = Vec::new();
    for (newer, record) in history::releases(&records).into_iter().filter(|(r, _)| *r > v) {
        for f in &record.files {
            if !keep.contains(f.file.as_str()) && present.contains(&f.file) && !archive.iter().any(|a| a.file == f.file)
            {
                archive.push(f.clone());
            }
        }
        let _ = newer;
    }
    let mut restore = Vec::new();
    for f in &target.files {
        if present.contains(&f.file) {
            continue;
        }
        if session.dir.join(&f.file).is_file() || session.archive_path(&f.file).is_file() {
            restore.push(f.file.clone());
        } else {
            return Err(Error::failed(format!("{where_}: {} of {v} is missing", f.file))
                .with_help(format!("publish {v} to the channel again, then roll back")));
        }
    }
    if archive.is_empty() && restore.is_empty() {
        eprintln!("trainyard: nothing to roll back: {v} is already the newest release in {where_}");
        return Ok(());
    }
    let archived_paths: Vec<_> = archive.iter().map(|f| session.dir.join(&f.file)).collect();
    let names: BTreeSet<String> = publish::read_packages(&archived_paths)?.into_iter().map(|p| p.name).collect();
    let target_paths: Vec<_> = target
        .files
        .iter()
        .map(|f| session.dir.join(&f.file))
        .map(|p| if p.is_file() { p } else { session.archive_path(p.file_name().unwrap_or_default()) })
        .collect();
    let kept: BTreeSet<String> = publish::read_packages(&target_paths)?.into_iter().map(|p| p.name).collect();
    let (downgrade, remove): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| kept.contains(n));
    let mut plan = crate::plan::Plan::new();
    let archive_dir = session.dir.join("archive");
    plan.create_dir(&archive_dir);
    for (f, path) in archive.iter().zip(&archived_paths) {
        // Copied now (whole, then renamed), removed from the channel only once the new
        // metadata is live.
        let tmp = archive_dir.join(format!(".{}.tmp", f.file));
        plan.copy(path, &tmp).rename(&tmp, session.archive_path(&f.file));
    }
    for f in &restore {
        if !session.dir.join(f).is_file() {
            plan.rename(session.archive_path(f), session.dir.join(f));
        }
    }
    let listed: Vec<String> = present
        .iter()
        .filter(|f| !archive.iter().any(|a| &&a.file == f))
        .cloned()
        .chain(restore.iter().cloned())
        .collect();
    let app = ctx.ws.config.name().to_string();
    let metadata =
        session.plan_metadata(&mut plan, &listed, signer.as_ref(), &app, publish::base_url(ctx).as_deref())?;
    let record = Record {
        action: Action::Rollback,
        channel: channel.as_str().into(),
        version: target.version.clone(),
        from: None,
        time: history::now(),
        commit: target.commit.clone(),
        who: history::who(&crate::git::Git::new(&ctx.ws.root)),
        files: target.files.clone(),
        archived: archive.clone(),
    };
    let what = format!("rollback to {v}");
    session.change(&ctx.effects, plan, &metadata, &what, || Ok(record), &archived_paths)?;
    let fx = &ctx.effects;
    fx.result(format!("rolled {where_} back to {v}: {} package(s) moved to its archive", archive.len()));
    if !downgrade.is_empty() {
        fx.outcome(format!("clients of {channel} must run: dnf --refresh downgrade {}", downgrade.join(" ")));
    }
    if !remove.is_empty() {
        fx.outcome(format!("{v} does not have {}: clients remove them with: dnf remove {0}", remove.join(" ")));
    }
    fx.outcome(format!(
        "(dnf upgrade keeps a newer installed version; undo with `release promote VERSION --to {channel}`)"
    ));
    Ok(())
}
