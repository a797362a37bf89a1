//! RELEASE.txt: its sections (`1.2 - 2011-02-28` then lines) as the packages' `%changelog`.

use camino::Utf8Path;

use crate::error::{io, Result};
use crate::rpmpkg::ChangelogEntry;
use crate::version::Version;

/// `%changelog` entries from RELEASE.txt sections (`1.2 - 2011-02-28` then its lines), newest first.
pub fn changelog_from_release_txt(path: &Utf8Path, release: &str, fallback_time: u64) -> Result<Vec<ChangelogEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    crate::release::notes::check_dates(path, &text)?;
    Ok(parse_release_txt(&text)
        .into_iter()
        .map(|(version, date, lines)| ChangelogEntry {
            author: "trainyard <release@localhost>".into(),
            version: format!("{version}-{release}"),
            time: date.map(|(y, m, d)| crate::date::days_from_civil(y, m, d) as u64 * 86400).unwrap_or(fallback_time),
            text: lines
                .iter()
                .map(|l| format!("- {}", l.trim_start_matches(['-', '*', '•', ' '])))
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect())
}

type Section = (String, Option<(i64, u32, u32)>, Vec<String>);

/// Sections of RELEASE.txt: (version, date, non-empty lines), in file order (newest first).
pub fn parse_release_txt(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        if let Some((version, date)) = line.split_once(" - ") {
            let version = version.trim();
            if !version.is_empty()
                && version.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !version.contains(' ')
                && Version::parse_pep440(version).is_ok()
            {
                sections.push((version.to_string(), parse_date(date.trim()), Vec::new()));
                continue;
            }
        }
        if let Some(last) = sections.last_mut() {
            let t = line.trim();
            if !t.is_empty() && !t.chars().all(|c| c == '=' || c == '-') {
                last.2.push(t.to_string());
            }
        }
    }
    sections
}

fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok().filter(|m| (1..=12).contains(m))?;
    let d = it.next()?.get(..2)?.parse().ok().filter(|d| (1..=31).contains(d))?;
    Some((y, m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_txt_sections() {
        let text = "1.2 - 2011-02-28\n================\n\nImpacts:\n\n- Ops\n\nRelevant changes:\n\n- Bug 636294 - fixed\n\n1.1 - 2011-01-10\n\n- first\n";
        let s = parse_release_txt(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "1.2");
        assert_eq!(s[0].1, Some((2011, 2, 28)));
        assert_eq!(s[0].2, ["Impacts:", "- Ops", "Relevant changes:", "- Bug 636294 - fixed"]);
        assert_eq!(s[1].2, ["- first"]);
    }
}
