//! Reading RPMs back with the real tools, for the end-to-end tests.
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Runs a tool and returns (success, stdout + stderr).
pub fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (install it: apt-get install -y rpm rpmlint)"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `rpm -qp ARGS FILE`, which must succeed; its output without the trailing newline.
pub fn rpm_q(file: impl AsRef<Path>, args: &[&str]) -> String {
    let file = file.as_ref().to_str().expect("UTF-8 path").to_string();
    let mut all = vec!["-qp"];
    all.extend_from_slice(args);
    all.push(&file);
    let (ok, out) = tool("rpm", &all);
    assert!(ok, "rpm {all:?} failed:\n{out}");
    out.trim_end().to_string()
}

/// The non-empty lines of a tool's output, trimmed.
pub fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// rpm's own comparison of two version texts (`rpm.vercmp`).
pub fn rpm_vercmp(a: &str, b: &str) -> i32 {
    let mut c = Command::new("rpm");
    c.arg("--eval").arg(format!("%{{lua: print(rpm.vercmp('{a}', '{b}'))}}"));
    let out = c.output().expect("rpm");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
