use super::*;

fn p(text: &str) -> Vec<Requirement> {
    parse(Utf8Path::new("reqs/prod-reqs.txt"), text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn one(text: &str) -> Requirement {
    let mut all = p(text);
    assert_eq!(all.len(), 1, "{text:?}");
    all.remove(0)
}

fn specs(text: &str) -> Vec<(Op, String)> {
    one(text).specifiers.into_iter().map(|s| (s.op, s.version)).collect()
}

/// The error message for one bad line.
fn err(text: &str) -> String {
    match parse(Utf8Path::new("reqs/prod-reqs.txt"), text) {
        Ok(r) => panic!("{text:?} parsed: {r:?}"),
        Err(e) => {
            assert_eq!(e.kind, crate::error::Kind::Usage, "{text:?}");
            e.message
        }
    }
}

fn v(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap()
}

fn allows(req: &str, version: &str) -> bool {
    one(&format!("x {req}")).allows(&v(version))
}

#[test]
fn forms() {
    assert_eq!(specs("serde == 1.0.219"), [(Op::Eq, "1.0.219".into())]);
    assert_eq!(specs("serde==1.0.219"), [(Op::Eq, "1.0.219".into())]);
    assert_eq!(specs("  serde\t==\t1.0.219  "), [(Op::Eq, "1.0.219".into())]);
    assert_eq!(specs("SQLAlchemy <= 0.6.99"), [(Op::Le, "0.6.99".into())]);
    assert_eq!(specs("a != 1"), [(Op::Ne, "1".into())]);
    assert_eq!(specs("a < 1"), [(Op::Lt, "1".into())]);
    assert_eq!(specs("a > 1"), [(Op::Gt, "1".into())]);
    assert_eq!(specs("a >= 1"), [(Op::Ge, "1".into())]);
    assert_eq!(specs("a ~= 1.4.5"), [(Op::Compatible, "1.4.5".into())]);
    assert_eq!(specs("a>=1.0,<2"), [(Op::Ge, "1.0".into()), (Op::Lt, "2".into())]);
    assert_eq!(
        specs("tokio >= 1.0 , < 2, != 1.5.0"),
        [(Op::Ge, "1.0".into()), (Op::Lt, "2".into()), (Op::Ne, "1.5.0".into())]
    );
    assert_eq!(specs("a == 1.4.*"), [(Op::Eq, "1.4.*".into())]);
    assert_eq!(specs("a != 1.*"), [(Op::Ne, "1.*".into())]);
    let bare = one("anyhow");
    assert_eq!((bare.name.as_str(), bare.specifiers.len()), ("anyhow", 0));
    assert_eq!(one("MySQL-python").name, "MySQL-python");
    assert_eq!(one("python-memcached  # the old one").name, "python-memcached");
    assert_eq!(one("zope.interface == 4").name, "zope.interface");
    assert_eq!(one("9lives").name, "9lives");
    assert_eq!(one("serde_json==1").name, "serde_json");
}

#[test]
fn versions() {
    for version in [
        "1",
        "0.2",
        "1.0.7",
        "1.0.0-beta.1",
        "1.0.0-rc.1+build.5",
        "1.0.0-x-y.7",
        "1.0.0+20130313144700",
        "2.0rc1",
        "2.0RC1",
        "1.0a1",
        "1.0b",
        "1.0.dev3",
        "1.0a1.dev2",
        "1.0_rc_1",
        "1.0.rc.1",
        "1.0+ubuntu-1",
        "1.3.0-0.dev.5",
        "007.1",
    ] {
        assert_eq!(specs(&format!("a == {version}")), [(Op::Eq, version.into())], "{version}");
    }
}

#[test]
fn comments_blank_lines_and_line_numbers() {
    let text = "# header\n\n   \nserde == 1.0.1  # pinned for a CVE\n\t# indented comment\n#serde == 9\ntokio\r\n";
    let all = p(text);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].name.as_str(), all[0].line), ("serde", 4));
    assert_eq!((all[1].name.as_str(), all[1].line, all[1].specifiers.len()), ("tokio", 7, 0));
    assert_eq!(all[0].file, "reqs/prod-reqs.txt");
    assert!(p("").is_empty());
    assert!(p("\u{feff}# bom\n").is_empty());
    assert_eq!(one("\u{feff}serde == 1").name, "serde");
    assert_eq!(one("serde==1.0 #x").pinned(), Some("1.0"));
}

#[test]
fn includes_are_not_requirements() {
    for line in ["-r base-reqs.txt", "-rbase-reqs.txt", "--requirement base", "--requirement=base", "-r base # c"] {
        assert!(p(line).is_empty(), "{line}");
        assert!(matches!(entries(Utf8Path::new("x"), line).unwrap()[..], [Entry::Include { .. }]), "{line}");
    }
    let Entry::Include { target, line, col } = entries(Utf8Path::new("x"), "\n  -r  base.txt").unwrap().remove(0)
    else {
        panic!()
    };
    assert_eq!((target.as_str(), line, col), ("base.txt", 2, 7));
}

#[test]
fn key_and_pinned() {
    assert_eq!(one("Serde_JSON").key(), "serde-json");
    assert_eq!(normalize("A_b-C"), "a-b-c");
    assert_eq!(one("a == 1.0").pinned(), Some("1.0"));
    assert_eq!(one("a==1.0.0-beta.1").pinned(), Some("1.0.0-beta.1"));
    assert_eq!(one("a").pinned(), None);
    assert_eq!(one("a >= 1").pinned(), None);
    assert_eq!(one("a == 1, != 2").pinned(), None);
    assert_eq!(one("a == 1.*").pinned(), None);
}

#[test]
fn malformed_lines() {
    let cases: &[(&str, &str)] = &[
        ("Paste ==", "expected a version after `==`, found the end of the line"),
        ("Paste == # why", "expected a version after `==`, found a comment"),
        ("serde === 1", "`===` (arbitrary equality) is not supported"),
        ("serde == 1.0 extra", "expected `,` or the end of the line after the version `1.0`, found `extra`"),
        ("==1.0", "expected a package name"),
        ("  == 1.0", "expected a package name"),
        ("serde >>1", "expected a version after `>`, found `>1`"),
        ("serde <<1", "expected a version after `<`"),
        ("serde ==> 1", "expected a version after `==`, found `>`"),
        ("serde >= 1,", "expected a version specifier"),
        ("serde >= 1, ", "after `,`, found the end of the line"),
        ("serde >= 1,, < 2", "between the commas"),
        ("serde >= 1, , < 2", "between the commas"),
        (",serde", "expected a package name"),
        ("serde ~= 1", "`~=` needs a version with at least two numbers"),
        ("serde ~= 1.*", "`.*` version goes with `==` or `!=` only"),
        ("serde >= 1.*", "`.*` version goes with `==` or `!=` only"),
        ("serde == 1.*.2", "expected the end of the version after `.*`"),
        ("serde == 1.*+x", "expected the end of the version after `.*`"),
        ("-e git+https://example.invalid/x", "`-e` is not supported"),
        ("--index-url x", "`--index-url` is not supported"),
        ("-c constraints.txt", "`-c` is not supported"),
        ("--hash=sha256:00", "`--hash` is not supported"),
        ("-r", "expected a file name after `-r`, found the end of the line"),
        ("-r # x", "expected a file name after `-r`, found a comment"),
        ("--requirement=", "expected a file name after `--requirement`"),
        ("-r=base", "expected a file name after `-r`, found `=base`"),
        ("-r a b", "expected the end of the line after the file name `a`, found `b`"),
        ("serde = 1", "did you mean `==`?"),
        ("serde => 1", "did you mean `>=`?"),
        ("serde =< 1", "did you mean `<=`?"),
        ("serde ~ 1", "did you mean `~=`?"),
        ("serde ! 1", "did you mean `!=`?"),
        ("serde 1.0", "did you mean `serde == 1.0`?"),
        ("serde[derive] == 1", "extras"),
        ("serde ; os_name == 'nt'", "environment markers"),
        ("serde @ https://example.invalid/x", "direct references"),
        ("serde == 1.0#x", "(a comment needs whitespace before `#`)"),
        ("sérde", "`é` cannot be part of a package name"),
        ("serde-", "a package name ends with a letter or digit, found `serde-`"),
        ("serde. == 1", "a package name ends with a letter or digit"),
        ("_serde", "expected a package name (a letter or digit first), found `_serde`"),
        ("serde == 1..0", "expected a number after `.` in the version, found `.0`"),
        ("serde == 1.", "expected a number after `.` in the version, found the end of the line"),
        ("serde == .1", "expected a version after `==`, found `.1`"),
        ("serde == v1.0", "expected a version after `==`, found `v1.0`"),
        ("serde == 1.0-", "expected letters or digits after `-` in the version"),
        ("serde == 1.0.0-beta..1", "expected letters or digits after `.` in the version"),
        ("serde == 1.0+", "expected letters or digits after `+` in the version"),
        ("serde == 1.0extra", "`extra` is not a pre-release tag"),
        ("serde == 1.0rc1x", "`x` is not a pre-release tag"),
        ("serde == 1.x", "`x` is not a pre-release tag"),
        ("serde == 1!2.0", "expected `,` or the end of the line after the version `1`, found `!2.0`"),
        ("serde == 99999999999999999999", "version number `99999999999999999999` is too large"),
        ("serde == 1.0 \\", "line continuations"),
        ("serde\\", "line continuations"),
        ("serde == 1.0 == 2.0", "expected `,` or the end of the line"),
    ];
    for (line, expected) in cases {
        let message = err(line);
        assert!(message.contains(expected), "{line:?}: {message:?} lacks {expected:?}");
        assert!(message.starts_with("reqs/prod-reqs.txt:1:"), "{line:?}: {message:?}");
    }
}

#[test]
fn error_columns() {
    let cases: &[(&str, &str)] = &[
        ("Paste ==", "1:9: expected a version after `==`"),
        ("serde === 1", "1:7: `===`"),
        ("serde == 1.0 extra", "1:14: expected `,`"),
        ("==1.0", "1:1: expected a package name"),
        ("serde >>1", "1:8: expected a version after `>`"),
        ("serde >= 1,", "1:12: expected a version specifier"),
        ("serde >= 1,, < 2", "1:12: expected a version specifier between the commas"),
        ("serde ~= 1", "1:10: `~=`"),
        ("  -e .", "1:3: `-e`"),
        ("sérde", "1:2: `é`"),
        ("serde == 1.0ab", "1:13: `ab`"),
        ("serde-", "1:6: a package name ends"),
        ("serde == 1..0", "1:12: expected a number"),
    ];
    for (line, expected) in cases {
        let message = err(line);
        assert!(message.starts_with(&format!("reqs/prod-reqs.txt:{expected}")), "{line:?}: {message:?}");
    }
    // The line number counts every line, comments and blanks included.
    assert!(err("# c\n\nserde == 1\nPaste ==\n").starts_with("reqs/prod-reqs.txt:4:9: "));
}

#[test]
fn allows_compares_zero_padded() {
    assert!(allows("== 1.0", "1.0.0"));
    assert!(allows("== 1", "1.0.0"));
    assert!(!allows("== 1.0", "1.0.1"));
    assert!(allows("== 1.0.219", "1.0.219"));
    assert!(allows("<= 0.6.99", "0.6.99"));
    assert!(allows("<= 0.6.99", "0.6.9"));
    assert!(!allows("<= 0.6.99", "0.7.0"));
    assert!(allows(">= 1.0, < 2", "1.9.9"));
    assert!(!allows(">= 1.0, < 2", "2.0.0"));
    assert!(!allows(">= 1.0, < 2", "0.9.0"));
    assert!(allows("> 1.0", "1.0.1"));
    assert!(!allows("> 1.0", "1.0.0"));
    assert!(allows("!= 1.5.0", "1.5.1"));
    assert!(!allows("!= 1.5", "1.5.0"));
    assert!(allows("<1.10", "1.9.0"));
    assert!(!allows("<1.10", "1.10.0"));
    // Build metadata does not count.
    assert!(allows("== 1.0", "1.0.0+build.7"));
    assert!(allows("== 1.0+local", "1.0.0"));
    // No specifier allows everything.
    assert!(one("x").allows(&v("0.0.1-alpha")));
}

#[test]
fn allows_compatible_release() {
    // `~= 1.4.5` is `>= 1.4.5, == 1.4.*`.
    assert!(allows("~= 1.4.5", "1.4.5"));
    assert!(allows("~= 1.4.5", "1.4.99"));
    assert!(!allows("~= 1.4.5", "1.4.4"));
    assert!(!allows("~= 1.4.5", "1.5.0"));
    // `~= 2.2` is `>= 2.2, == 2.*`.
    assert!(allows("~= 2.2", "2.2.0"));
    assert!(allows("~= 2.2", "2.9.1"));
    assert!(!allows("~= 2.2", "2.1.9"));
    assert!(!allows("~= 2.2", "3.0.0"));
    assert!(!allows("~= 2.2", "2.2.0-rc.1"));
}

#[test]
fn allows_wildcards() {
    assert!(allows("== 1.4.*", "1.4.0"));
    assert!(allows("== 1.4.*", "1.4.7"));
    assert!(!allows("== 1.4.*", "1.5.0"));
    assert!(allows("== 1.*", "1.99.0"));
    assert!(!allows("!= 1.4.*", "1.4.2"));
    assert!(allows("!= 1.4.*", "1.3.2"));
    assert!(allows("== 1.4.5.*", "1.4.5"));
    assert!(!allows("== 1.4.5.1.*", "1.4.5"));
}

#[test]
fn allows_pre_releases() {
    // A pre-release sorts below its release.
    assert!(allows("<= 1.0.0-beta.1", "1.0.0-beta.1"));
    assert!(allows("< 1.0.0-rc.1", "1.0.0-beta.1"));
    assert!(allows("<= 1.0.0", "1.0.0-beta.1"));
    assert!(!allows(">= 1.0.0", "1.0.0-beta.1"));
    assert!(allows(">= 1.0.0-alpha", "1.0.0-beta.1"));
    assert!(allows("> 0.9", "1.0.0-beta.1"));
    // PEP 440 and semver spellings of the same pre-release.
    assert!(allows("== 2.0rc1", "2.0.0-rc.1"));
    assert!(allows("== 2.0rc1", "2.0.0-rc1"));
    assert!(allows("== 1.0a2", "1.0.0-alpha.2"));
    assert!(allows("== 1.0b2", "1.0.0-beta.2"));
    assert!(allows(">= 2.0rc1", "2.0.0-rc.2"));
    assert!(!allows(">= 2.0rc2", "2.0.0-rc.1"));
    assert!(allows("> 2.0rc1", "2.0.0"));
    // Semver's order of identifiers: numbers below words, numbers by value.
    assert!(allows("< 1.0.0-alpha.beta", "1.0.0-alpha.1"));
    assert!(allows("< 1.0.0-beta.11", "1.0.0-beta.2"));
    assert!(allows("< 1.0.0-alpha.1", "1.0.0-alpha"));
    // `< 2` does not let in 2.0's own pre-releases (PEP 440), but the ones below do.
    assert!(!allows(">= 1.0, < 2", "2.0.0-rc.1"));
    assert!(allows("< 2", "1.9.0-rc.1"));
}

#[test]
fn version_order_has_no_size_limit_in_pre_releases() {
    assert!(allows("< 1.0.0-99999999999999999999999", "1.0.0-99999999999999999999998"));
    // Leading zeros do not change a number (PEP 440 reads `007` as 7).
    assert!(allows("== 1.0.0-007", "1.0.0-7"));
    assert!(allows("== 01.002", "1.2.0"));
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(Utf8PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("trainyard-reqs-{}-{name}", std::process::id()));
        let dir = Utf8PathBuf::from_path_buf(dir).expect("UTF-8 temp dir");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, name: &str, text: &str) -> Utf8PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(reqs: &[Requirement]) -> Vec<String> {
    reqs.iter().map(|r| format!("{}:{}:{}", r.file.file_name().unwrap(), r.line, r.name)).collect()
}

#[test]
fn load_follows_includes_depth_first_in_order() {
    let dir = TempDir::new("includes");
    dir.write("common/base.txt", "# base\nlog == 0.4\n-r ../leaf.txt\nlibc\n");
    dir.write("leaf.txt", "cfg-if == 1\n");
    dir.write("other.txt", "memchr\n");
    let top = dir.write("prod-reqs.txt", "serde == 1\n-r common/base.txt\ntokio >= 1\n--requirement=other.txt\n");
    let all = load(&top).unwrap();
    assert_eq!(
        names(&all),
        [
            "prod-reqs.txt:1:serde",
            "base.txt:2:log",
            "leaf.txt:1:cfg-if",
            "base.txt:4:libc",
            "prod-reqs.txt:3:tokio",
            "other.txt:1:memchr"
        ]
    );
    assert_eq!(all[1].file, dir.0.join("common/base.txt"));
    assert_eq!(all[2].file, dir.0.join("common/../leaf.txt"));
}

#[test]
fn load_reads_a_file_included_twice_once() {
    let dir = TempDir::new("diamond");
    dir.write("a.txt", "-r shared.txt\nx\n");
    dir.write("b.txt", "-r ./shared.txt\ny\n");
    dir.write("shared.txt", "serde == 1\n");
    let top = dir.write("top.txt", "-r a.txt\n-r b.txt\n");
    assert_eq!(names(&load(&top).unwrap()), ["shared.txt:1:serde", "a.txt:2:x", "b.txt:2:y"]);
}

#[test]
fn load_reports_cycles_with_the_chain() {
    let dir = TempDir::new("cycle");
    dir.write("a.txt", "serde\n-r b.txt\n");
    dir.write("b.txt", "\n\n  -r ./a.txt\n");
    let top = dir.write("top.txt", "-r a.txt\n");
    let e = load(&top).unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Usage);
    let (a, b) = (dir.0.join("a.txt"), dir.0.join("b.txt"));
    assert_eq!(e.message, format!("{b}:3:6: `-r ./a.txt` makes an include cycle: {a} -> {b} -> {}/./a.txt", dir.0));

    let me = dir.write("self.txt", "-r self.txt\n");
    let e = load(&me).unwrap_err();
    assert!(e.message.contains(&format!("include cycle: {me} -> {me}")), "{}", e.message);
}

#[test]
fn load_reports_missing_files() {
    let dir = TempDir::new("missing");
    let top = dir.write("top.txt", "serde\n# c\n-r nowhere.txt\n");
    let e = load(&top).unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Usage);
    assert_eq!(
        e.message,
        format!("{top}:3:4: `-r nowhere.txt` names {}, which does not exist", dir.0.join("nowhere.txt"))
    );
    let e = load(&dir.0.join("absent.txt")).unwrap_err();
    assert!(e.message.ends_with("absent.txt does not exist"), "{}", e.message);
}

#[test]
fn load_reports_syntax_errors_in_included_files() {
    let dir = TempDir::new("syntax");
    dir.write("base.txt", "\nPaste ==\n");
    let top = dir.write("top.txt", "-r base.txt\n");
    let e = load(&top).unwrap_err();
    assert_eq!(
        e.message,
        format!("{}:2:9: expected a version after `==` (included at {top}:1:4: `-r base.txt`)", dir.0.join("base.txt"))
    );
}

/// `-r` stays inside the repository, reads only regular files of bounded size, follows a
/// bounded depth, and never shows what another file holds.
#[test]
fn includes_are_contained() {
    let dir = TempDir::new("contained");
    std::fs::create_dir_all(dir.0.join("repo/.git")).unwrap();
    std::fs::create_dir_all(dir.0.join("repo/reqs")).unwrap();
    dir.write("shadow", "root:$6$SECRETHASH:19000:0:99999:7:::\n");
    let err = |text: &str| {
        let top = dir.write("repo/reqs/dev-reqs.txt", text);
        load(&top).unwrap_err()
    };
    for (line, expected) in [
        ("-r ../../shadow", "the file is outside the repository"),
        ("-r /etc/passwd", "the file is outside the repository"),
        ("-r /dev/zero", "the file is outside the repository"),
        ("-r zero.txt", "the file is outside the repository"),
        ("-r ../README.md", "included at"),
        ("-r fifo.txt", "is not a regular file"),
        ("-r .", "is not a regular file"),
        ("-r big.txt", "is larger than 4 MiB"),
    ] {
        std::os::unix::fs::symlink("/dev/zero", dir.0.join("repo/reqs/zero.txt")).ok();
        dir.write("repo/README.md", "portal: root:$6$SECRETHASH\n");
        if !dir.0.join("repo/reqs/fifo.txt").exists() {
            let made = std::process::Command::new("mkfifo").arg(dir.0.join("repo/reqs/fifo.txt")).status();
            assert!(made.unwrap().success());
            dir.write("repo/reqs/big.txt", &"# padding\n".repeat(500_000));
        }
        let e = err(&format!("serde == 1.0\n{line}\n"));
        assert_eq!(e.kind, crate::error::Kind::Usage, "{line}");
        assert!(e.message.contains(expected), "{line}: {}", e.message);
        assert!(e.message.contains("dev-reqs.txt:2:4: `-r "), "{line}: {}", e.message);
        assert!(!e.message.contains("SECRETHASH"), "{line}: {}", e.message);
    }
    // 200 nested includes: an error at the bound, not a stack overflow.
    for i in 0..200 {
        dir.write(&format!("repo/reqs/n{i}.txt"), &format!("-r n{}.txt\n", i + 1));
    }
    let e = err("-r n0.txt\n");
    assert!(e.message.contains("more than 32 nested includes"), "{}", e.message);
}

/// 10,000 lines, all pins of one package or all different packages: the duplicate
/// check is linear (it took 6-15 s when it compared each line with every earlier one).
#[test]
fn duplicate_check_is_linear() {
    let dir = TempDir::new("linear");
    let same: String = (0..10_000).map(|i| format!("leftpad == 1.{i}.0\n")).collect();
    let distinct: String = (0..10_000).map(|i| format!("crate-{i} == 1.0.{i}\n")).collect();
    for (name, text) in [("same.txt", same), ("distinct.txt", distinct)] {
        let path = dir.write(name, &text);
        let started = std::time::Instant::now();
        assert_eq!(load(&path).unwrap().len(), 10_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{name}: {:?}", started.elapsed());
    }
    let path = dir.write("dups.txt", "a == 1.0\nb\na == 2.0\na == 1.0.0\nb == 1\nb\n");
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "{path}:4: `a == 1.0.0` requires a again; {path}:1 has `a == 1.0`\n\
             {path}:5: `b == 1` requires b again; {path}:2 has `b`\n\
             {path}:6: `b` requires b again; {path}:2 has `b`"
        )
    );
}

#[test]
fn non_utf8_is_located() {
    let dir = TempDir::new("utf8");
    let path = dir.0.join("dev-reqs.txt");
    std::fs::write(&path, b"serde == 1.0\nle\xfftpad == 1\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(e.kind, crate::error::Kind::Usage);
    assert_eq!(e.message, format!("{path}:2:3: not UTF-8 text"));
}

#[test]
fn duplicates_are_only_pins_of_different_versions() {
    let dir = TempDir::new("duplicates");
    let ok = dir.write("ok.txt", "syn == 1.0.109\nsyn == 2.0.87\nSyn == 0.15.44\n");
    assert_eq!(load(&ok).unwrap().len(), 3);

    for (text, clash) in [
        ("serde == 1.0\nserde == 1.0\n", "2: `serde == 1.0` requires serde again; {f}:1 has `serde == 1.0`"),
        ("serde == 1.0\nserde == 1.0.0\n", "2: `serde == 1.0.0` requires serde again"),
        ("serde == 1\nserde >= 2\n", "2: `serde >= 2` requires serde again; {f}:1 has `serde == 1`"),
        ("serde\nserde == 2\n", "2: `serde == 2` requires serde again; {f}:1 has `serde`"),
        ("serde_json == 1\nSerde-JSON == 2, != 2.1\n", "2: `Serde-JSON == 2, != 2.1` requires Serde-JSON again"),
        ("a == 1.*\na == 2.*\n", "2: `a == 2.*` requires a again"),
    ] {
        let f = dir.write("dup.txt", text);
        let e = load(&f).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        let expected = format!("{f}:{}", clash.replace("{f}", f.as_str()));
        assert!(e.message.starts_with(&expected), "{text:?}: {:?} vs {expected:?}", e.message);
        assert!(e.help.as_deref().unwrap().contains("syn 1 and syn 2"));
    }

    // Across files, every clash at once, both places named.
    dir.write("base.txt", "serde >= 1\nlog\n");
    let top = dir.write("top.txt", "-r base.txt\nserde == 1.0.1\nlog == 0.4\n");
    let e = load(&top).unwrap_err();
    let base = dir.0.join("base.txt");
    assert_eq!(
        e.message,
        format!(
            "{top}:2: `serde == 1.0.1` requires serde again; {base}:1 has `serde >= 1`\n\
             {top}:3: `log == 0.4` requires log again; {base}:2 has `log`"
        )
    );
    // `parse` is one file's lines: it leaves duplicates to `load`.
    assert_eq!(p("serde\nserde\n").len(), 2);
}

fn pins(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// `render_pins`, checked for the properties every output must have.
fn render(existing: Option<&str>, list: &[(&str, &str)]) -> String {
    let pins = pins(list);
    let out = render_pins(existing, &pins);
    assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
    assert_eq!(render_pins(Some(&out), &pins), out, "rendering twice changed {existing:?}");
    let mut back: Vec<(String, String)> =
        p(&out).iter().map(|r| (r.key(), r.pinned().expect("a pin").to_owned())).collect();
    let mut wanted: Vec<(String, String)> = pins.iter().map(|(n, v)| (normalize(n), v.clone())).collect();
    back.sort();
    wanted.sort();
    wanted.dedup();
    assert_eq!(back, wanted);
    out
}

#[test]
fn render_pins_sorts_by_normalized_name_then_version() {
    let out = render(
        None,
        &[
            ("tokio", "1.40.0"),
            ("Serde_json", "1.0.1"),
            ("serde", "1.0.219"),
            ("syn", "2.0.10"),
            ("syn", "1.0.109"),
            ("syn", "2.0.9"),
        ],
    );
    assert_eq!(
        out,
        "serde == 1.0.219\nSerde_json == 1.0.1\nsyn == 1.0.109\nsyn == 2.0.9\nsyn == 2.0.10\ntokio == 1.40.0\n"
    );
    assert_eq!(render(None, &[]), "");
    assert_eq!(render(None, &[("a", "1"), ("a", "1")]), "a == 1\n");
    // The order does not depend on the order of the input.
    let mut list = vec![("b", "1.0.0-rc.1"), ("b", "1.0.0"), ("a_x", "2"), ("a-x", "1"), ("b", "0.9")];
    let first = render(None, &list);
    list.reverse();
    assert_eq!(render(None, &list), first);
    assert_eq!(first, "a-x == 1\na_x == 2\nb == 0.9\nb == 1.0.0-rc.1\nb == 1.0.0\n");
}

#[test]
fn render_pins_keeps_comments_and_includes() {
    let existing = "\
# Production pins.
# Regenerate with `cargo xtask pin CHANNEL=prod`.

-r base-reqs.txt
serde == 1.0.1  # pinned for CVE-2099-0001
# log moves slowly
log == 0.4.1

# a note of its own

gone == 1.0  # dropped with its line
tokio >= 1  # kept on the new line
";
    let out =
        render(Some(existing), &[("tokio", "1.40.0"), ("serde", "1.0.2"), ("anyhow", "1.0.0"), ("log", "0.4.22")]);
    assert_eq!(
        out,
        "\
# Production pins.
# Regenerate with `cargo xtask pin CHANNEL=prod`.

-r base-reqs.txt

# a note of its own

anyhow == 1.0.0
# log moves slowly
log == 0.4.22
serde == 1.0.2  # pinned for CVE-2099-0001
tokio == 1.40.0  # kept on the new line
"
    );
}

#[test]
fn render_pins_header_stays_on_top_even_when_touching_a_requirement() {
    let out = render(Some("# header\nzlib == 1\n"), &[("zlib", "2"), ("a", "1")]);
    assert_eq!(out, "# header\na == 1\nzlib == 2\n");
    let out = render(Some("# header\n\nzlib == 1\n"), &[("zlib", "2"), ("a", "1")]);
    assert_eq!(out, "# header\n\na == 1\nzlib == 2\n");
}

/// `init` writes its header directly above the pins; `pin` (and `pin --check`) found the file
/// out of date for want of a blank line (seen adopting hexyl: `pin --check` failed right after
/// `init`, its diff a lone `+`). A file already pinned renders as it is, whatever its layout.
#[test]
fn render_pins_keeps_a_pinned_file_as_it_is() {
    let list = [("aho-corasick", "1.1.3"), ("windows-sys", "0.52.0"), ("windows-sys", "0.59.0")];
    for existing in [
        "# The prod channel: every external crate of the product, pinned.\naho-corasick == 1.1.3\nwindows-sys == 0.52.0\nwindows-sys == 0.59.0\n",
        "# header\n\naho-corasick == 1.1.3\nwindows-sys == 0.52.0\nwindows-sys == 0.59.0\n",
        "-r common-reqs.txt\naho-corasick == 1.1.3\nwindows-sys == 0.52.0\nwindows-sys == 0.59.0\n",
        "-r common-reqs.txt\n# why\naho-corasick == 1.1.3\nwindows-sys == 0.52.0\nwindows-sys == 0.59.0\n",
    ] {
        assert_eq!(render(Some(existing), &list), existing);
    }
    // A free line found below the pins moves up: the blank line keeps it from reading as a pin's.
    let out = render(Some("# header\naho-corasick == 1\n\n# note\n\nzlib == 1\n"), &[("aho-corasick", "2")]);
    assert_eq!(out, "# header\n\n# note\n\naho-corasick == 2\n");
}

#[test]
fn render_pins_comment_that_would_open_the_file_becomes_its_header() {
    let out = render(Some("zlib == 1\n# about a\na == 0.9\n"), &[("zlib", "2"), ("a", "1")]);
    assert_eq!(out, "# about a\n\na == 1\nzlib == 2\n");
}

#[test]
fn render_pins_gives_two_versions_their_own_comments() {
    let existing = "syn == 2.0.1  # new\nsyn == 1.0.100  # old\n";
    let out = render(Some(existing), &[("syn", "2.0.1"), ("syn", "1.0.100")]);
    assert_eq!(out, "syn == 1.0.100  # old\nsyn == 2.0.1  # new\n");
    // Versions that moved: comments are handed out in order.
    let out = render(Some(existing), &[("syn", "2.0.5"), ("syn", "1.0.109"), ("syn", "0.15.0")]);
    assert_eq!(out, "syn == 0.15.0  # new\nsyn == 1.0.109  # old\nsyn == 2.0.5\n");
}

#[test]
fn render_pins_round_trips_odd_files() {
    for existing in [
        "",
        "\n\n\n",
        "# only a comment",
        "# a\n\n\n# b\n\n",
        "\u{feff}# bom\nserde == 1\n",
        "serde == 1\r\n# windows\r\n\r\nlog\r\n",
        "-r a.txt # with a comment\n  --requirement b.txt\n",
        "   # indented\nserde == 1 # x   \n",
        "serde == 1\n# trailing comment at the end",
        "not valid ===\n# c\n-e .\n",
    ] {
        for list in [&[][..], &[("serde", "1.0.0")][..], &[("log", "0.4"), ("serde", "2")][..]] {
            render(Some(existing), list);
        }
    }
}
