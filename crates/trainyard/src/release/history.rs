//! A channel's history: `history.jsonl` in its repository, one JSON object a line for each
//! publish, promote and rollback (version, files and their SHA-256, time, git commit, who).
//! Promote and rollback read it to know which files make a release.

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};
use crate::version::Version;

pub const FILE: &str = "history.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Publish,
    Promote,
    Rollback,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
        }
    }
}

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub file: String,
    pub nevra: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub action: Action,
    pub channel: String,
    /// The release's RPM version (`1.3.1`).
    pub version: String,
    /// The channel a promotion came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// UTC, RFC 3339.
    pub time: String,
    /// The git commit the release was built from, when known.
    #[serde(default)]
    pub commit: Option<String>,
    pub who: String,
    /// The release's files (for a rollback: the release it goes back to).
    pub files: Vec<FileRecord>,
    /// Files a rollback took out of the metadata (kept in `archive/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<FileRecord>,
}

/// The records of the channel whose repository is `dir`, oldest first (none yet: empty).
pub fn read(dir: &Utf8Path) -> Result<Vec<Record>> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, path.as_str()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(&path)(e)),
    }
}

pub fn parse(text: &str, origin: &str) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|e| {
            Error::failed(format!("{origin}:{}: not a history record: {e}", i + 1))
                .with_help("the history is written by trainyard only; restore the line from a backup")
        })?;
        out.push(record);
    }
    Ok(out)
}

/// The history file of `dir` with `record` appended: the whole file, written by rename (readers
/// never see half a line).
pub fn appended(dir: &Utf8Path, record: &Record) -> Result<Vec<u8>> {
    let path = dir.join(FILE);
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(&path)(e)),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&serde_json::to_string(record).map_err(|e| Error::failed(format!("history record: {e}")))?);
    text.push('\n');
    Ok(text.into_bytes())
}

/// Whether a record's version is `v` (`1.2` and `1.2.0` are one release).
pub fn same_version(record: &str, v: &Version) -> bool {
    Version::parse_rpm(record).or_else(|_| Version::parse_any(record)).is_ok_and(|r| r == *v)
}

/// The files of release `v` in this channel: its latest publish or promote.
pub fn release<'a>(records: &'a [Record], v: &Version) -> Option<&'a Record> {
    records.iter().rev().find(|r| r.action != Action::Rollback && same_version(&r.version, v))
}

/// Every release published or promoted to the channel, with its latest record, by version.
pub fn releases(records: &[Record]) -> Vec<(Version, &Record)> {
    let mut out: Vec<(Version, &Record)> = Vec::new();
    for r in records.iter().filter(|r| r.action != Action::Rollback) {
        let Ok(v) = Version::parse_rpm(&r.version).or_else(|_| Version::parse_any(&r.version)) else { continue };
        match out.iter_mut().find(|(o, _)| *o == v) {
            Some(slot) => slot.1 = r,
            None => out.push((v, r)),
        }
    }
    out.sort_by_key(|a| a.0);
    out
}

/// Now, UTC, RFC 3339 (`2026-01-01T12:00:00Z`).
pub fn now() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (y, m, d) = super::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Who is publishing: git's author identity for the workspace (`git var GIT_AUTHOR_IDENT`:
/// user.name and user.email, or `GIT_AUTHOR_NAME`/`_EMAIL`), else `$USER`.
pub fn who(git: &crate::git::Git) -> String {
    let ident = git.try_read(&["var", "GIT_AUTHOR_IDENT"]).ok().flatten().and_then(|line| {
        // "Name <email> 1700000000 +0000": the identity without the date.
        let end = line.rfind('>')?;
        Some(line[..=end].to_string())
    });
    ident.unwrap_or_else(|| {
        std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
    })
}

/// The history as a person reads it: one block per record, newest last.
pub fn render(channel: &str, records: &[Record]) -> String {
    if records.is_empty() {
        return format!("the {channel} repository has no history yet\n");
    }
    let mut out = String::new();
    for r in records {
        let from = r.from.as_deref().map(|f| format!(" from {f}")).unwrap_or_default();
        let commit = r.commit.as_deref().map(|c| format!(" commit {}", &c[..c.len().min(12)])).unwrap_or_default();
        out.push_str(&format!("{}  {:<8} {}{from}  by {}{commit}\n", r.time, r.action.as_str(), r.version, r.who));
        for f in &r.files {
            out.push_str(&format!("    {}  sha256:{}\n", f.file, f.sha256));
        }
        for f in &r.archived {
            out.push_str(&format!("    archived {}  sha256:{}\n", f.file, f.sha256));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(action: Action, version: &str, file: &str) -> Record {
        Record {
            action,
            channel: "prod".into(),
            version: version.into(),
            from: None,
            time: "2026-01-01T00:00:00Z".into(),
            commit: None,
            who: "t".into(),
            files: vec![FileRecord { file: file.into(), nevra: file.into(), sha256: "00".into() }],
            archived: Vec::new(),
        }
    }

    #[test]
    fn releases_by_version() {
        let records = vec![
            rec(Action::Publish, "1.3.1", "a-1.3.1"),
            rec(Action::Publish, "1.2", "a-1.2"),
            rec(Action::Rollback, "1.2", "a-1.2"),
            rec(Action::Promote, "1.3.1", "a-1.3.1-again"),
        ];
        let rs = releases(&records);
        assert_eq!(rs.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>(), ["1.2", "1.3.1"]);
        assert_eq!(rs[1].1.files[0].file, "a-1.3.1-again");
        let v = Version::parse_any("1.2.0").unwrap();
        assert_eq!(release(&records, &v).unwrap().action, Action::Publish);
        let text: String = records.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
        assert_eq!(parse(&text, "h").unwrap().len(), 4);
        assert!(parse("{\"action\":\"x\"}\n", "h").unwrap_err().message.contains("h:1"));
        assert!(now().ends_with('Z'));
    }
}
