//! trainyard's version ordering against the real implementations, over every pair of a
//! generated set of versions: rpm's own `rpmvercmp` (one `rpm --eval` running a lua loop),
//! PEP 440 as Python's `packaging` implements it (one python3 process), and Cargo's `semver`.
//!
//! Needs `rpm` and Debian's python3 with `packaging` (`apt-get install python3-packaging`, which
//! `cargo xtask tests` installs); set `PYTHON` to use another interpreter. A missing tool fails
//! the test, it does not skip it.

use std::cmp::Ordering;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use trainyard::version::{Pre, Version};

/// 3 * 4 * 4 * 14 = 672 versions (dev builds of finals, betas and rcs; betas; rcs; finals; both
/// line precisions); every unordered pair, and each with itself: 226,128 pairs.
fn versions() -> Vec<Version> {
    let mut out = Vec::new();
    for major in [0, 1, 2] {
        for minor in [0, 1, 9, 10] {
            for micro in [None, Some(0), Some(1), Some(10)] {
                let base = Version::new(major, minor, micro);
                out.push(base);
                for pre in [
                    Pre::Dev(0),
                    Pre::Dev(1),
                    Pre::Dev(2),
                    Pre::Dev(10),
                    Pre::Beta(1),
                    Pre::Beta(2),
                    Pre::Beta(10),
                    Pre::Rc(1),
                    Pre::Rc(10),
                    Pre::BetaDev(1, 1),
                    Pre::BetaDev(2, 3),
                    Pre::RcDev(1, 2),
                    Pre::RcDev(2, 1),
                ] {
                    out.push(base.with_pre(pre));
                }
            }
        }
    }
    out
}

fn pairs() -> Vec<(Version, Version)> {
    let all = versions();
    let mut out = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i..] {
            out.push((*a, *b));
        }
    }
    assert!(out.len() > 100_000, "the generated set shrank: {} pairs", out.len());
    out
}

fn sign(o: Ordering) -> i32 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// Asserts that `theirs` (one answer per pair) agrees with `expected`, listing the first mismatches.
fn assert_agree(
    who: &str,
    pairs: &[(Version, Version)],
    render: fn(&Version) -> String,
    theirs: &[i32],
    expected: impl Fn(&Version, &Version) -> i32,
) {
    assert_eq!(theirs.len(), pairs.len(), "{who} answered {} of {} comparisons", theirs.len(), pairs.len());
    let mismatches: Vec<String> = pairs
        .iter()
        .zip(theirs)
        .filter(|((a, b), t)| expected(a, b) != **t)
        .map(|((a, b), t)| format!("{} vs {}: {who} says {t}, expected {}", render(a), render(b), expected(a, b)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} disagreements with {who}, first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    eprintln!("{who}: {} pairs agree", pairs.len());
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trainyard-version-order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(contents.as_bytes()).unwrap();
    path
}

fn pair_lines(pairs: &[(Version, Version)], render: fn(&Version) -> String) -> String {
    pairs.iter().map(|(a, b)| format!("{} {}\n", render(a), render(b))).collect()
}

fn run(mut cmd: Command, what: &str, help: &str) -> Vec<i32> {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}\nhelp: {help}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}\nhelp: {help}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(|l| l.trim().parse().unwrap_or_else(|_| panic!("{what} printed {l:?}"))).collect()
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[test]
fn cargo_semver_orders_as_trainyard_does() {
    let pairs = pairs();
    let theirs: Vec<i32> = pairs.iter().map(|(a, b)| sign(a.to_semver().cmp(&b.to_semver()))).collect();
    assert_agree("semver crate", &pairs, |v| v.to_semver().to_string(), &theirs, |a, b| sign(a.cmp(b)));
    for (a, _) in &pairs {
        let parsed: semver::Version = a.to_semver().to_string().parse().unwrap();
        assert_eq!(parsed, a.to_semver());
    }
}

#[test]
fn python_packaging_orders_as_trainyard_does() {
    let pairs = pairs();
    let input = temp_file("pep440.txt", &pair_lines(&pairs, Version::to_pep440));
    // Also checks that every text is already in packaging's normal form.
    let script = r#"
import sys
from packaging.version import Version
parsed = {}
def version(text):
    if text not in parsed:
        parsed[text] = Version(text)
        if str(parsed[text]) != text:
            sys.exit("not in normal form: %s -> %s" % (text, parsed[text]))
    return parsed[text]
out = []
for line in open(sys.argv[1]):
    a, b = line.split()
    va, vb = version(a), version(b)
    out.append("-1" if va < vb else ("1" if va > vb else "0"))
print("\n".join(out))
"#;
    let python = python();
    let mut cmd = Command::new(&python);
    cmd.arg("-c").arg(script).arg(&input);
    let theirs = run(cmd, "python3 with packaging", "apt-get install python3-packaging (or set PYTHON)");
    remove(&input);
    assert_agree("python packaging", &pairs, Version::to_pep440, &theirs, |a, b| sign(a.cmp(b)));
}

/// rpm sorts the text with fewer release components first when the zero-padded releases are
/// equal (`1.2` < `1.2.0`, `1.3~b1` < `1.3.0~~dev1`); everywhere else it must agree with us.
/// See the module documentation of `trainyard::version`.
fn rpm_expected(a: &Version, b: &Version) -> i32 {
    let padded = |v: &Version| (v.major, v.minor, v.micro.unwrap_or(0));
    if padded(a) == padded(b) && a.components() != b.components() {
        return sign(a.components().cmp(&b.components()));
    }
    sign(a.cmp(b))
}

#[test]
fn rpm_orders_as_trainyard_does() {
    let pairs = pairs();
    let input = temp_file("rpm.txt", &pair_lines(&pairs, Version::to_rpm));
    let lua = format!(
        "%{{lua: local out = {{}} for line in io.lines([[{}]]) do local a, b = line:match('(%S+) (%S+)') out[#out+1] = rpm.vercmp(a, b) end print(table.concat(out, '\\n')) }}",
        input.display()
    );
    let mut cmd = Command::new("rpm");
    cmd.arg("--eval").arg(lua);
    let theirs = run(cmd, "rpm --eval (lua rpm.vercmp)", "apt-get install -y rpm");
    remove(&input);
    assert_agree("rpm", &pairs, Version::to_rpm, &theirs, rpm_expected);
    let same_style = pairs.iter().filter(|(a, b)| rpm_expected(a, b) == sign(a.cmp(b))).count();
    eprintln!("rpm: {same_style} of {} pairs in trainyard's own order; the rest differ only in style", pairs.len());
}

/// Every rendering a release step produces along one line, in order, for both precisions:
/// `0.18.0~~dev6 < 0.18.0~b1 < 0.18.0~b2~~dev1 < ... < 0.18.0 < 0.18.1~~dev1 < 0.18.1`, and the
/// same for `1.2`. Each neighbouring pair must sort the same way in rpm, PEP 440 and semver.
fn line_sequences() -> Vec<Vec<Version>> {
    use trainyard::version::Precision;
    let mut out = Vec::new();
    for precision in [Precision::MajorMinor, Precision::Full] {
        let (major, minor) = if precision == Precision::Full { (0, 18) } else { (1, 2) };
        let line = Version::new(major, minor, None).with_precision(precision);
        let fix = Version::new(major, minor, Some(1));
        let previous_fix = Version::new(major, minor - 1, Some(3));
        let next = Version::new(major, minor + 1, None).with_precision(precision);
        out.push(vec![
            previous_fix,
            line.dev(1),
            line.dev(6),
            line.with_pre(Pre::Beta(1)),
            line.with_pre(Pre::Beta(1)).next_pre().unwrap().dev(1),
            line.with_pre(Pre::Beta(2)),
            line.with_pre(Pre::Beta(3)).dev(4),
            line.with_pre(Pre::Rc(1)).dev(1),
            line.with_pre(Pre::Rc(1)),
            line.with_pre(Pre::Rc(2)).dev(2),
            line.with_pre(Pre::Rc(2)),
            line,
            fix.dev(1),
            fix,
            fix.next_micro().dev(3),
            next.dev(1),
            next,
        ]);
    }
    out
}

#[test]
fn every_line_sorts_the_same_in_rpm_pep440_and_semver() {
    let sequences = line_sequences();
    let mut pairs = Vec::new();
    for seq in &sequences {
        for (i, a) in seq.iter().enumerate() {
            assert!(seq[i + 1..].iter().all(|b| a < b), "trainyard's own order: {a} below everything after it");
            for b in &seq[i + 1..] {
                pairs.push((*a, *b));
            }
        }
    }
    // rpm, on the line's own renderings: no style exceptions here, every pair is strictly ordered.
    let input = temp_file("line-rpm.txt", &pair_lines(&pairs, Version::to_rpm));
    let lua = format!(
        "%{{lua: local out = {{}} for line in io.lines([[{}]]) do local a, b = line:match('(%S+) (%S+)') out[#out+1] = rpm.vercmp(a, b) end print(table.concat(out, '\\n')) }}",
        input.display()
    );
    let mut cmd = Command::new("rpm");
    cmd.arg("--eval").arg(lua);
    let theirs = run(cmd, "rpm --eval (lua rpm.vercmp)", "apt-get install -y rpm");
    remove(&input);
    assert_agree("rpm (one line)", &pairs, Version::to_rpm, &theirs, |a, b| sign(a.cmp(b)));

    let input = temp_file("line-pep440.txt", &pair_lines(&pairs, Version::to_pep440));
    let script = "import sys\nfrom packaging.version import Version\nfor l in open(sys.argv[1]):\n    a, b = map(Version, l.split())\n    print(-1 if a < b else (1 if a > b else 0))\n";
    let python = python();
    let mut cmd = Command::new(&python);
    cmd.arg("-c").arg(script).arg(&input);
    let theirs = run(cmd, "python3 with packaging", "apt-get install python3-packaging (or set PYTHON)");
    remove(&input);
    assert_agree("python packaging (one line)", &pairs, Version::to_pep440, &theirs, |a, b| sign(a.cmp(b)));

    let theirs: Vec<i32> = pairs.iter().map(|(a, b)| sign(a.to_semver().cmp(&b.to_semver()))).collect();
    assert_agree("semver crate (one line)", &pairs, |v| v.to_semver().to_string(), &theirs, |a, b| sign(a.cmp(b)));

    // The issue's sequence, as rpm texts.
    let rpm: Vec<String> = sequences[1].iter().map(Version::to_rpm).collect();
    for expected in ["0.18.0~~dev6", "0.18.0~b1", "0.18.0~rc1", "0.18.0", "0.18.1~~dev1", "0.18.1"] {
        assert!(rpm.contains(&expected.to_string()), "{expected} not in {rpm:?}");
    }
}

/// `PYTHON`, or Debian's python3 (the one `cargo xtask tests` installs `packaging` for; a pyenv
/// `python3` earlier on PATH lacks it), or whatever `python3` is on PATH.
fn python() -> String {
    std::env::var("PYTHON")
        .unwrap_or_else(|_| if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" }.into())
}
