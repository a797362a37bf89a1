//! The command line as a cargo user expects it: global options, `help TARGET`, colour,
//! quiet broken pipes, and `tests` checking what the suite needs before running it.
//!
//! Snapshots are plain text files under tests/snapshots/; after an intended change of the
//! output, `TRAINYARD_BLESS=1 cargo nextest run -p trainyard-cli --test e2e cli::` rewrites them
//! (review the diff before committing).

use crate::support::workspace as support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::*;

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/snapshots")
}

/// Compares `actual` with tests/snapshots/`name`, or writes it with `TRAINYARD_BLESS=1`.
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if std::env::var_os("TRAINYARD_BLESS").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {name}; create it with TRAINYARD_BLESS=1 cargo nextest run -p trainyard-cli --test e2e cli::"
        )
    });
    assert!(
        expected == actual,
        "output differs from tests/snapshots/{name} (TRAINYARD_BLESS=1 rewrites it if the change is intended)\n\
         --- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// A directory with no workspace above it, so help shows no project variables.
fn outside() -> TempDir {
    TempDir::new("cli-outside")
}

/// A minimal workspace whose `tests` target needs `needs` (TOML lines of the table).
fn workspace_needing(dir: &Path, needs: &str) -> PathBuf {
    let root = dir.join("ws");
    write(
        &root.join("Cargo.toml"),
        &format!(
            "[workspace]\nmembers = []\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nname = \"ws\"\n\n\
             [workspace.metadata.trainyard.tests.needs]\n{needs}"
        ),
    );
    root
}

const NEEDS: &str =
    "no-such-tool-xyz = \"no-such-package\"\nrpmlint = \"rpmlint\"\n\"python3:packaging\" = \"python3-packaging\"\n";

#[test]
fn tests_stops_before_running_anything_naming_each_missing_tool_its_package_and_the_command() {
    let tmp = TempDir::new("cli-needs");
    let root = workspace_needing(tmp.path(), NEEDS);
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let path = empty.to_str().unwrap();
    let run = trainyard(&root, &["tests"], &[("PATH", path), ("TRAINYARD_NO_INSTALL", "1")]);
    run.fails_with(3).says("no test was run");
    assert!(!run.output().contains("cargo >=99.0"), "no toolchain asked for yet");
    for (tool, package) in
        [("no-such-tool-xyz", "no-such-package"), ("rpmlint", "rpmlint"), ("python3:packaging", "python3-packaging")]
    {
        let line = format!("(Debian package {package})");
        assert!(
            run.stderr.lines().any(|l| l.trim_start().starts_with(&format!("{tool} ")) && l.ends_with(&line)),
            "{tool}: {}",
            run.stderr
        );
    }
    run.says("help: install them: ").says("apt-get install -y no-such-package python3-packaging rpmlint\n");
    assert!(!root.join("target").exists(), "nothing ran, nothing was written: {}", run.output());

    // A cargo version no toolchain here has is named with the rustup command, in the same error.
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!("{text}\n[workspace.metadata.trainyard.tests.toolchains]\nfuture = \">=99.0\"\n"),
    )
    .unwrap();
    let run = trainyard(&root, &["tests"], &[("PATH", path), ("TRAINYARD_NO_INSTALL", "1")]);
    run.fails_with(3)
        .says("cargo >=99.0")
        .says("(rustup toolchain future)")
        .says("no-such-tool-xyz")
        .says(" && rustup toolchain install --profile minimal future\n");
    std::fs::write(root.join("Cargo.toml"), text).unwrap();

    // With the real PATH, the installed tools are found; only the unknown one is missing. Debian's
    // python3 comes first, as for rpmlint (a pyenv python3 earlier on PATH lacks Debian's modules).
    let real = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let run = trainyard(&root, &["tests"], &[("PATH", &real), ("TRAINYARD_NO_INSTALL", "1")]);
    run.fails_with(3).says("no-such-tool-xyz");
    assert!(!run.output().contains("rpmlint  "), "rpmlint is installed here: {}", run.output());
    assert!(!run.output().contains("python3:packaging "), "packaging is installed here: {}", run.output());
}

#[test]
fn tests_as_root_with_apt_get_installs_what_is_missing_printing_the_command() {
    if !is_root() {
        eprintln!("NOTICE: skipping: installing packages needs root");
        return;
    }
    let tmp = TempDir::new("cli-install");
    let root = workspace_needing(tmp.path(), NEEDS);
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let apt = which_path("apt-get");
    std::os::unix::fs::symlink(&apt, bin.join("apt-get")).unwrap();
    // The plan only (dry-run): a test does not install packages on the machine.
    let run = trainyard(&root, &["tests", "--dry-run"], &[("PATH", bin.to_str().unwrap())]);
    run.ok();
    let planned: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("would ")).collect();
    assert_eq!(
        planned[..3],
        [
            "would run: DEBIAN_FRONTEND=noninteractive apt-get update -qq",
            "would run: DEBIAN_FRONTEND=noninteractive apt-get install -y -qq no-such-package python3-packaging rpmlint",
            "would later: check again that what the test suite needs is found",
        ],
        "{}",
        run.output()
    );
    assert!(!run.stderr.contains("installing"), "a dry run installs nothing: {}", run.output());
    // Forbidden: the same situation stops.
    let run =
        trainyard(&root, &["tests", "--dry-run"], &[("PATH", bin.to_str().unwrap()), ("TRAINYARD_NO_INSTALL", "1")]);
    run.fails_with(3).says("apt-get install -y no-such-package");
    assert!(!run.stdout.contains("would run"), "{}", run.output());
}

/// In CI (`CI=true`), `tests` fails on unformatted code and on clippy warnings before any test
/// runs; outside CI, and in CI once both are clean, the tests run.
#[test]
fn tests_in_ci_fails_on_formatting_then_on_clippy_before_any_test_runs() {
    let tmp = TempDir::new("cli-ci-checks");
    let root = tmp.path().join("ws");
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.metadata.trainyard]\nname = \"ws\"\n",
    );
    write(
        &root.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    // The test leaves a mark, so a run shows whether any test ran.
    let test = "\n#[test]\nfn leaves_a_mark() {\n    std::fs::write(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/ran\"), \"\").unwrap();\n}\n";
    let lib = root.join("app/src/lib.rs");
    let mark = root.join("app/ran");
    let ci = [("CI", "true"), ("TRAINYARD_NO_INSTALL", "1")];

    write(&lib, &format!("pub fn answer()->u8{{42}}\n{test}"));
    let run = trainyard(&root, &["tests"], &ci);
    run.fails_with(1)
        .says("error: CI: the workspace is not formatted; no test was run")
        .says("help: run `cargo fmt --all`");
    assert!(run.stdout.contains("-pub fn answer()->u8{42}"), "cargo fmt's diff: {}", run.output());
    assert!(!mark.exists(), "a test ran: {}", run.output());
    assert_eq!(read(&lib), format!("pub fn answer()->u8{{42}}\n{test}"), "the check changed the file");
    // Outside CI nothing is checked: the tests run.
    trainyard(&root, &["tests"], &[("TRAINYARD_NO_INSTALL", "1")]).ok();
    assert!(mark.exists(), "outside CI the tests run");
    std::fs::remove_file(&mark).unwrap();

    // Formatted, but clippy warns (`len_zero`).
    write(&lib, &format!("pub fn empty(v: &[u8]) -> bool {{\n    v.len() == 0\n}}\n{test}"));
    let run = trainyard(&root, &["tests"], &ci);
    run.fails_with(1).says("error: CI: clippy warns about the workspace; no test was run").says("len_zero");
    assert!(!mark.exists(), "a test ran: {}", run.output());

    // Both clean: the tests run.
    write(&lib, &format!("pub fn empty(v: &[u8]) -> bool {{\n    v.is_empty()\n}}\n{test}"));
    trainyard(&root, &["tests"], &ci).ok();
    assert!(mark.exists(), "in CI, clean code is tested");
}

#[test]
fn this_repository_declares_what_ci_installs() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml")).unwrap();
    for tool in [
        "rpm",
        "rpmbuild",
        "rpmlint",
        "createrepo_c",
        "dnf",
        "bwrap",
        "git",
        "groff",
        "zsh",
        "fish",
        "\"/usr/bin/python3:packaging\"",
    ] {
        assert!(manifest.contains(&format!("\n{tool} = ")), "Cargo.toml's tests.needs lacks {tool}");
    }
}

fn which_path(program: &str) -> PathBuf {
    let out = std::process::Command::new("sh").args(["-c", &format!("command -v {program}")]).output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs trainyard with its stdout a pipe whose reader is closed before it starts.
fn closed_stdout(dir: &Path, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = trainyard_command(dir, args, &[]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_141() {
    let tmp = outside();
    let (code, stderr) = closed_stdout(tmp.path(), &["--help"]);
    assert_eq!((code, stderr.as_str()), (141, ""));

    let tmp = TempDir::new("cli-pipe");
    let root = leftpad_workspace(
        tmp.path(),
        "license = \"MIT\"\ndescription = \"An app\"\n",
        "\n[package.metadata.trainyard.rpm]\n",
    );
    let (code, stderr) = closed_stdout(&root, &["build_rpms", "--dry-run"]);
    assert_eq!(code, 141, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // `| head -1` as a user types it: the first line, no panic, the pipe's status.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "'{}' build_rpms --dry-run | head -1; echo \"status ${{PIPESTATUS[0]}}\"",
                env!("CARGO_BIN_EXE_trainyard")
            ),
        ])
        .current_dir(&root)
        .envs(git_env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.lines().count() == 2, "{stdout}");
    assert!(stdout.ends_with("status 0\n") || stdout.ends_with("status 141\n"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_snapshots() {
    let tmp = outside();
    let run = trainyard(tmp.path(), &["--help"], &[]);
    assert_snapshot("help.txt", &run.ok().stdout);
    // Every target the overview lists has its own snapshot.
    let targets: Vec<String> = run
        .stdout
        .split("\ntargets:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert!(targets.len() >= 15 && targets.contains(&"release".to_string()), "{targets:?}");
    for target in targets.iter().map(String::as_str) {
        let run = trainyard(tmp.path(), &["help", target], &[]);
        assert_snapshot(&format!("help-{target}.txt"), &run.ok().stdout);
        // `help TARGET` is `TARGET --help`.
        assert_eq!(trainyard(tmp.path(), &[target, "--help"], &[]).stdout, run.stdout);
    }
    trainyard(tmp.path(), &["help", "biuld"], &[]).fails_with(2).says("did you mean `build`?");
}

#[test]
fn help_target_in_a_workspace_lists_its_internal_projects_variables() {
    let tmp = TempDir::new("cli-help-ws");
    let root = workspace_needing(tmp.path(), "");
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap().replace(
        "name = \"ws\"\n",
        "name = \"ws\"\n\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"file:///nowhere/server-core\"\n",
    );
    std::fs::write(root.join("Cargo.toml"), text).unwrap();
    trainyard(&root, &["help", "build"], &[]).ok().says("SERVER_CORE=REF");
    let elsewhere = outside();
    let manifest = root.join("Cargo.toml");
    trainyard(elsewhere.path(), &["--manifest-path", manifest.to_str().unwrap(), "help", "build"], &[])
        .ok()
        .says("SERVER_CORE=REF");
}

/// The main errors, plain and coloured (`--color always`, `CARGO_TERM_COLOR`; `NO_COLOR`).
#[test]
fn error_snapshots_with_and_without_colour() {
    let tmp = TempDir::new("cli-errors");
    let root = leftpad_workspace(tmp.path(), "", "");
    let cases: &[(&str, &[&str])] = &[
        ("unknown-target", &["biuld"]),
        ("unknown-variable", &["build", "CHANEL=prod"]),
        ("unknown-option", &["build", "--frobnicate"]),
        ("bad-color", &["--color", "sometimes", "build"]),
        ("quiet-and-verbose", &["-q", "-v", "build"]),
        ("bad-variable-value", &["build", "CHANNEL=qa"]),
        ("bad-option-value", &["version", "--format", "yaml"]),
        ("option-missing-its-value", &["version", "--format"]),
        ("global-option-missing-its-value", &["build", "--manifest-path"]),
        ("flag-given-a-value", &["build", "--dry-run=yes"]),
        ("unexpected-argument", &["version", "extra"]),
    ];
    let mut plain = String::new();
    let mut coloured = String::new();
    for (name, args) in cases {
        let run = trainyard(&root, args, &[]);
        run.fails_with(2);
        assert!(run.stdout.is_empty(), "{name}: {}", run.output());
        plain.push_str(&format!("## {name}: trainyard {}\n{}\n", args.join(" "), run.stderr));
        let mut with = vec!["--color", "always"];
        with.extend_from_slice(args);
        let run = if *name == "bad-color" {
            trainyard(&root, args, &[("CARGO_TERM_COLOR", "always")])
        } else {
            trainyard(&root, &with, &[])
        };
        run.fails_with(2);
        coloured.push_str(&format!("## {name}\n{}\n", run.stderr));
        // NO_COLOR, and auto on a pipe, are plain.
        let run = trainyard(&root, &with[2..], &[("NO_COLOR", "1")]);
        assert!(!run.stderr.contains('\x1b'), "{name}: {}", run.stderr);
    }
    assert_snapshot("errors.txt", &plain);
    assert_snapshot("errors-color.txt", &coloured);
    assert!(coloured.contains("\x1b[1;31merror:\x1b[0m") && coloured.contains("\x1b[1;36mhelp:\x1b[0m"));
    // CARGO_TERM_COLOR=never beats --color's absence even with NO_COLOR unset; --color beats both.
    let run = trainyard(&root, &["--color", "always", "biuld"], &[("CARGO_TERM_COLOR", "never"), ("NO_COLOR", "1")]);
    assert!(run.stderr.starts_with("\x1b[1;31merror:"), "{}", run.stderr);
}

#[test]
fn commands_run_are_shown_at_verbose_only_and_cargo_options_reach_cargo() {
    let tmp = TempDir::new("cli-verbose");
    let root = leftpad_workspace(tmp.path(), "", "");
    // A real dev build: `cargo update` runs; the command is echoed only with -v.
    let run = trainyard(&root, &["build", "--offline"], &[]);
    run.ok();
    assert!(!run.stderr.contains("\n$ ") && !run.stderr.starts_with("$ "), "{}", run.stderr);
    let run = trainyard(&root, &["-v", "build", "--refresh", "--offline", "-j", "1"], &[]);
    let shown: Vec<&str> = run.ok().stderr.lines().filter(|l| l.starts_with("$ ")).collect();
    assert!(shown.iter().any(|l| l.contains("cargo update")), "{}", run.stderr);
    assert!(shown.iter().any(|l| l.contains("cargo build --release")), "{}", run.stderr);
    // -q: the result line only; cargo is quiet too.
    let run = trainyard(&root, &["build", "-q", "--offline", "--refresh"], &[]);
    assert_eq!(run.ok().stderr.lines().count(), 1, "quiet: {}", run.stderr);
    run.says("trainyard: built portal for dev");
    // --locked goes to every cargo call of the build, `--` words to cargo build. A new dev
    // resolution cannot be made --locked: the dry-run, which makes it to plan, fails as the run.
    let run = trainyard(&root, &["build", "--dry-run", "--locked", "--refresh"], &[]);
    let plan = &run.fails_with(1).stdout;
    let updates: Vec<&str> =
        plan.lines().filter(|l| l.starts_with("planning with:") && l.contains("cargo update")).collect();
    assert!(!updates.is_empty() && updates.iter().all(|l| l.contains("--locked")), "{plan}");
    trainyard(&root, &["build", "--locked", "--refresh"], &[]).fails_with(1);
    let run = trainyard(&root, &["build", "--dry-run", "--locked", "--", "--timings"], &[]);
    let plan = &run.ok().stdout;
    let build_line = plan.lines().find(|l| l.contains("cargo build")).unwrap_or_default();
    assert!(build_line.ends_with("--timings") || build_line.contains(" --timings"), "{plan}");
    assert_eq!(build_line.matches("--locked").count(), 1, "{build_line}");
    // -vv: every cargo is verbose as well (cargo's `Fresh` lines for a build with nothing to do);
    // -v alone leaves cargo as it is; more is refused.
    let run = trainyard(&root, &["-v", "build", "--offline"], &[]);
    assert!(!run.ok().stderr.contains("Fresh "), "{}", run.stderr);
    let run = trainyard(&root, &["-vv", "build", "--offline"], &[]);
    assert!(run.ok().stderr.lines().any(|l| l.trim_start().starts_with("Fresh leftpad v")), "{}", run.stderr);
    assert!(run.stderr.lines().any(|l| l.starts_with("$ ") && l.contains("cargo build")), "{}", run.stderr);
    trainyard(&root, &["-vvv", "build", "--offline"], &[])
        .fails_with(2)
        .says("-vvv is more verbose than trainyard gets");
}

/// What bash offers for `words` (the last one being completed) with the generated script.
fn bash_complete(dir: &Path, script: &Path, words: &[&str]) -> Vec<String> {
    let bin = env!("CARGO_BIN_EXE_trainyard");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=('{bin}' {})\nCOMP_CWORD={}\n_trainyard\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len()
    );
    let out = std::process::Command::new("bash").args(["--norc", "-c", &program]).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut offered: Vec<String> =
        String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(String::from).collect();
    offered.sort();
    offered
}

#[test]
fn bash_completion_snapshot_and_what_it_offers() {
    let tmp = TempDir::new("cli-completions");
    let root = workspace_needing(tmp.path(), "");
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap().replace(
        "name = \"ws\"\n",
        "name = \"ws\"\n\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"file:///nowhere/server-core\"\n",
    );
    std::fs::write(root.join("Cargo.toml"), text).unwrap();
    let run = trainyard(&root, &["completions", "bash"], &[]);
    assert_snapshot("completions.bash", &run.ok().stdout);
    let script = tmp.path().join("trainyard.bash");
    std::fs::write(&script, &run.stdout).unwrap();

    assert_eq!(bash_complete(&root, &script, &["bu"]), ["build", "build_rpms"]);
    assert_eq!(bash_complete(&root, &script, &["-v", "--color", "a"]), ["always", "auto"]);
    assert_eq!(bash_complete(&root, &script, &["--message-format", ""]), ["human", "json"]);
    assert_eq!(bash_complete(&root, &script, &["build", "--re"]), ["--refresh"]);
    assert_eq!(bash_complete(&root, &script, &["build", "CH"]), ["CHANNEL=dev", "CHANNEL=prod", "CHANNEL=stage"]);
    // The workspace's internal projects (and its own variable), asked from the workspace.
    assert_eq!(bash_complete(&root, &script, &["build", "SERV"]), ["SERVER_CORE="]);
    assert_eq!(bash_complete(&root, &script, &["--locked", "build", "W"]), ["WS="]);
    assert_eq!(bash_complete(&root, &script, &["help", "m"]), ["man", "mock"]);
    assert_eq!(bash_complete(&root, &script, &["completions", "z"]), ["zsh"]);
    assert_eq!(bash_complete(&root, &script, &["trains", "--format", ""]), ["json", "text"]);
    assert_eq!(bash_complete(&root, &script, &["version", "--trigger", "t"]), ["tag"]);
    // Outside a workspace there are no project variables to offer.
    let outside = outside();
    assert!(bash_complete(outside.path(), &script, &["build", "SERV"]).is_empty());

    // zsh and fish scripts come from the same table: every target and option is in them.
    for shell in ["zsh", "fish"] {
        let text = trainyard(&root, &["completions", shell], &[]).ok().stdout.clone();
        for word in ["build_rpms", "refresh", "manifest-path", "RPM_CHANNEL=stage", "--project-vars"] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    trainyard(&root, &["completions", "tcsh"], &[]).fails_with(2).says("help: trainyard completions bash|zsh|fish");
}

/// Drives an interactive zsh on a pseudo-terminal (zsh's own zpty module): compinit loads the
/// generated `_trainyard` from `$1`, then each further argument is typed and completed with
/// TAB, and the line as completion left it is printed, one a line.
const ZSH_COMPLETE: &str = r#"zmodload zsh/zpty || exit 3
zpty z env TERM=dumb PATH="$PATH" zsh -f -i
zpty -w z "PS1='%% '; bindkey -e; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -d $1/.zcompdump; print -r -- R\${:-EADY}R"
zpty -r z junk '*READYR*'
shift
for words in "$@"; do
  zpty -w -n z "$words"$'\t\C-aprint -r -- X${:-DONE}X \n'
  zpty -r z out '*XDONEX*'$'\n'
  print -r -- "${${out##*XDONEX }%%$'\r'*}"
done
zpty -d z
"#;

/// A shell's path, or a failure naming the package: the suite installs it (tests.needs).
fn shell(name: &str) -> PathBuf {
    let path = which_path(name);
    assert!(path.is_file(), "{name} is not installed: apt-get install -y {name} (Cargo.toml's tests.needs lists it)");
    path
}

/// The zsh and fish scripts load in the real shells and complete targets, options and values.
#[test]
fn zsh_and_fish_completions_work_in_the_real_shells() {
    let tmp = TempDir::new("cli-shells");
    let root = workspace_needing(tmp.path(), "");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_trainyard")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let zsh = shell("zsh");
    let functions = tmp.path().join("zfunc");
    std::fs::create_dir_all(&functions).unwrap();
    let script = trainyard(&root, &["completions", "zsh"], &[]).ok().stdout.clone();
    std::fs::write(functions.join("_trainyard"), &script).unwrap();
    let out = std::process::Command::new(&zsh).arg("-n").arg(functions.join("_trainyard")).output().unwrap();
    assert!(out.status.success(), "zsh -n: {}", String::from_utf8_lossy(&out.stderr));
    let typed = [
        "trainyard tra",
        "trainyard build --re",
        "trainyard --col",
        "trainyard completions z",
        "trainyard trains --ht",
        "trainyard build --he",
        "trainyard trains --format t",
    ];
    let out = std::process::Command::new(&zsh)
        .args(["-f", "-c", ZSH_COMPLETE, "zsh"])
        .arg(&functions)
        .args(typed)
        .current_dir(&root)
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "zsh: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(
        lines,
        [
            "trainyard trains",
            "trainyard build --refresh",
            "trainyard --color",
            "trainyard completions zsh",
            "trainyard trains --html",
            "trainyard build --help",
            "trainyard trains --format text"
        ]
    );

    let fish = shell("fish");
    let file = tmp.path().join("trainyard.fish");
    std::fs::write(&file, &trainyard(&root, &["completions", "fish"], &[]).ok().stdout).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", file.display());
        let out = std::process::Command::new(&fish)
            .args(["--no-config", "-c", &program])
            .current_dir(&root)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "fish: {}", String::from_utf8_lossy(&out.stderr));
        let mut words: Vec<String> =
            String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
        words.sort();
        words
    };
    assert_eq!(complete("trainyard bu"), ["build", "build_rpms"]);
    assert_eq!(complete("trainyard help tr"), ["trains"]);
    assert_eq!(complete("trainyard trains --h"), ["--help", "--html"]);
    assert_eq!(complete("trainyard build CHANNEL=p"), ["CHANNEL=prod"]);
    assert_eq!(complete("trainyard trains --format "), ["json", "text"]);
    // The workspace's own variable, asked from the workspace (`completions --project-vars`).
    assert_eq!(complete("trainyard build W"), ["WS="]);
}

#[test]
fn man_pages_are_valid_roff_from_the_help_definitions() {
    let tmp = outside();
    let page = trainyard(tmp.path(), &["man", "build"], &[]).ok().stdout.clone();
    for needle in
        [".TH TRAINYARD-BUILD 1", "\\fB\\-\\-refresh\\fR", "CHANNEL", "\\-\\-manifest\\-path PATH", ".SH EXIT STATUS"]
    {
        assert!(page.contains(needle), "{needle} missing from\n{page}");
    }
    let out_dir = tmp.path().join("man1");
    let (_, _, executed) = dry_run_equals_run(tmp.path(), &["man", "--out", out_dir.to_str().unwrap()], &[]);
    assert!(executed.iter().any(|l| l.starts_with("write: ") && l.contains("trainyard-build.1 (")), "{executed:?}");
    let mut pages: Vec<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    pages.sort();
    assert!(
        pages.contains(&"trainyard.1".to_string()) && pages.contains(&"trainyard-build_rpms.1".to_string()),
        "{pages:?}"
    );
    assert_eq!(std::fs::read_to_string(out_dir.join("trainyard-build.1")).unwrap(), page);
    // groff reads every page without a warning (-ww: all warnings; -z: no output).
    for name in &pages {
        let out = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(out_dir.join(name))
            .output()
            .expect("groff (Debian groff-base; `cargo xtask tests` installs it)");
        assert!(out.status.success() && out.stderr.is_empty(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    trainyard(tmp.path(), &["man", "biuld"], &[]).fails_with(2);
}

/// `ci generate` writes exactly the workflow its dry-run printed, and a second run has nothing to do.
#[test]
fn ci_generate_does_what_its_dry_run_printed() {
    let tmp = TempDir::new("ci-generate-plan");
    let root = tmp.path().join("app");
    write(&root.join("Cargo.toml"), "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    write(&root.join("src/main.rs"), "fn main() {}\n");
    git_init(&root);
    commit_all(&root, "app");
    let (dry, _, executed) = dry_run_equals_run(&root, &["ci", "generate", "gitlab"], &[]);
    dry.says("would write: ").says(".gitlab-ci.yml (");
    assert_eq!(executed.len(), 1, "{executed:?}");
    assert!(read(&root.join(".gitlab-ci.yml")).contains("cargo xtask ci"));
    trainyard(&root, &["ci", "generate", "gitlab", "--dry-run"], &[]).ok().says("is up to date");
    trainyard(&root, &["ci", "generate", "gitlab", "--check"], &[]).ok();
}

/// Every line of a `--message-format json` stdout, parsed; the run's final `result` must
/// agree with its exit code.
fn json_events(run: &Run) -> Vec<serde_json::Value> {
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}\n{}", run.output())))
        .collect();
    let last = events.last().unwrap_or_else(|| panic!("no events\n{}", run.output()));
    assert_eq!(last["reason"], "result", "{}", run.stdout);
    assert_eq!(last["exit_code"], run.code, "{}", run.stdout);
    assert_eq!(last["success"], run.code == 0, "{}", run.stdout);
    assert_eq!(events.iter().filter(|e| e["reason"] == "result").count(), 1, "{}", run.stdout);
    events
}

#[test]
fn build_rpms_speaks_json_lines_and_writes_the_ci_summary() {
    let tmp = TempDir::new("cli-json");
    let root = leftpad_workspace(
        tmp.path(),
        "license = \"MIT\"\ndescription = \"An app\"\n",
        "\n[package.metadata.trainyard.rpm]\n",
    );
    let summary = tmp.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let run = trainyard(
        &root,
        &["build_rpms", "--message-format", "json"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    run.ok();
    let events = json_events(&run);
    let written: Vec<&str> =
        events.iter().filter(|e| e["reason"] == "package-written").map(|e| e["file"].as_str().unwrap()).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("target/rpms/prod"))
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .filter(|p| p.ends_with(".rpm"))
        .collect();
    on_disk.sort();
    let mut written_sorted: Vec<String> = written.iter().map(|s| s.to_string()).collect();
    written_sorted.sort();
    assert_eq!(written_sorted, on_disk);
    for phase in ["vendoring the dependencies' sources", "writing "] {
        let started = events
            .iter()
            .position(|e| e["reason"] == "phase-started" && e["phase"].as_str().unwrap().starts_with(phase));
        let finished = events
            .iter()
            .position(|e| e["reason"] == "phase-finished" && e["phase"].as_str().unwrap().starts_with(phase));
        assert!(started.is_some() && started < finished, "{phase}: {}", run.stdout);
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("earlier step\n### trainyard build_rpms: succeeded"), "{md}");
    assert!(md.contains("| writing ") && md.contains(" | done |"), "{md}");

    // Human output without a terminal: each phase is one plain line on stderr; -q: none.
    let run = trainyard(&root, &["build_rpms"], &[]);
    run.ok().says("trainyard: vendoring the dependencies' sources ...\n").says("trainyard: writing 3 packages ...\n");
    assert!(!run.stderr.contains('\r'), "no live line off a terminal: {}", run.stderr);
    let run = trainyard(&root, &["build_rpms", "-q"], &[]);
    assert!(!run.ok().stderr.contains(" ...\n"), "{}", run.stderr);

    // A failure: a problem event, and the result carries the exit code.
    let run = trainyard(&root, &["build_rpms", "--message-format", "json", "RPM_CHANNEL=nope"], &[]);
    run.fails_with(2);
    let events = json_events(&run);
    assert!(events.iter().any(|e| e["reason"] == "problem" && e["level"] == "error"), "{}", run.stdout);
    // Targets without events refuse the option rather than ignore it.
    trainyard(&root, &["version", "--message-format", "json"], &[]).fails_with(2).says("has no --message-format json");
}

#[test]
fn jobs_and_offline_reach_every_cargo_trainyard_runs() {
    let tmp = TempDir::new("cli-jobs");
    let root = leftpad_workspace(tmp.path(), "", "");
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let log = tmp.path().join("cargo.log");
    let wrapper = tmp.path().join("cargo-logging");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\necho \"jobs=$CARGO_BUILD_JOBS offline=$CARGO_NET_OFFLINE $1\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    );
    std::process::Command::new("chmod").args(["+x"]).arg(&wrapper).status().unwrap();
    let cargo = wrapper.to_str().unwrap();
    trainyard(&root, &["build", "-j", "3", "--offline", "--refresh"], &[("CARGO", cargo)]).ok();
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.lines().any(|l| l.ends_with(" build")) && lines.lines().any(|l| l.ends_with(" update")), "{lines}");
    assert!(lines.lines().all(|l| l.starts_with("jobs=3 offline=true ")), "{lines}");
    // Without the options, cargo gets neither.
    std::fs::remove_file(&log).unwrap();
    let status = trainyard_command(&root, &["build", "--refresh"], &[("CARGO", cargo)])
        .env_remove("CARGO_BUILD_JOBS")
        .env_remove("CARGO_NET_OFFLINE")
        .status()
        .unwrap();
    assert!(status.success());
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.lines().all(|l| l.starts_with("jobs= offline= ")), "{lines}");
}

/// `demo` runs exactly the commands and writes exactly the files its dry-run printed, and
/// refuses, changing nothing, where its repositories exist already.
#[test]
fn demo_does_what_its_dry_run_printed() {
    let tmp = TempDir::new("cli-demo-plan");
    let dir = tmp.path().to_str().unwrap();
    let (_, _, executed) = dry_run_equals_run(tmp.path(), &["demo", "--dir", dir], &[]);
    let tags = git(&tmp.path().join("server-core"), &["tag", "--list"]);
    assert_eq!(tags.split_whitespace().collect::<Vec<_>>(), ["rpm-1.0", "rpm-2.0"]);
    assert!(tmp.path().join("account-portal/Cargo.lock").exists());
    assert!(executed.iter().any(|l| l.starts_with("run: ") && l.contains("generate-lockfile")), "{executed:?}");
    let before = snapshot(tmp.path());
    trainyard(tmp.path(), &["demo", "--dir", dir, "--dry-run"], &[]).fails_with(2).says("already exist");
    assert!(snapshot(tmp.path()) == before);
}

#[test]
fn a_release_plan_speaks_json_lines_one_phase_per_step() {
    let tmp = TempDir::new("cli-release-json");
    trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
    let portal = tmp.path().join("account-portal");
    let run = trainyard(&portal, &["release", "1.3", "--dry-run", "--message-format", "json"], &[]);
    run.ok();
    let events = json_events(&run);
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e["reason"] == "phase-finished" && e["completed"] == true)
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"release 1.3: start") && steps.contains(&"release 1.3: tag"), "{steps:?}");
    // The human plan still goes out, on stderr, so stdout stays parseable.
    assert!(run.stderr.contains("would"), "{}", run.stderr);
    assert_eq!(tracked_changes(&portal), "");
}
