//! Secrets never reach output or disk: a webhook server on loopback that echoes the secret
//! path in several encodings, a server too slow to answer, an https notification killed
//! while curl runs, and internal projects whose URLs carry credentials. Every output and
//! every file under the workspace (its `target/` included) is searched for the secret in
//! any case and any percent-encoding.

use crate::support::git as git_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use git_support::{command, run, Repo, Run};

const TOKEN: &str = "SECRET-TOKEN-abc123";

/// A released workspace `portal` 1.2 (tag `rpm-1.2`, its RELEASE.txt section), no build needed.
fn released(label: &str) -> Repo {
    let repo = Repo::init(label, "main");
    repo.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"1.2.0\"\nedition = \"2021\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\ndefault-branch = \"main\"\n",
    );
    repo.write("app/Cargo.toml", "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\n");
    repo.write("app/src/main.rs", "fn main() {}\n");
    repo.write(".gitignore", "/target\n");
    repo.write("RELEASE.txt", "1.2 - 2026-01-01\n================\n\nImpacts:\n\n- Ops\n");
    repo.commit_all("release 1.2");
    repo.tag("rpm-1.2");
    repo
}

fn trainyard(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), dir);
    // -v: the commands trainyard runs are echoed too, and must not leak either.
    cmd.arg("-v").args(args).env_remove("CARGO_TARGET_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd)
}

/// `text` percent-decoded (twice, for `%252F`), JSON's `\/` undone, lower-cased.
fn normalised(text: &str) -> String {
    let mut text = text.replace("\\/", "/");
    for _ in 0..2 {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        text = String::from_utf8_lossy(&out).into_owned();
    }
    text.to_ascii_lowercase()
}

/// Whether `text` holds any part of the secret worth the name, in any form.
fn leaks(text: &str, parts: &[&str]) -> Option<String> {
    let text = normalised(text);
    parts.iter().find(|p| text.contains(&p.to_ascii_lowercase())).map(|p| p.to_string())
}

/// Every file under `dir` (the work tree, `target/` and `.git` included) that leaks.
fn files_leaking(dir: &Path, parts: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                if let Some(p) = leaks(&text, parts) {
                    found.push(format!("{} ({p})", path.display()));
                }
            }
        }
    }
    found
}

fn assert_no_leak(what: &str, run: &Run, dir: &Path, parts: &[&str]) {
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(leaks(&all, parts), None, "{what}: the output leaks a secret:\n{all}");
    assert_eq!(files_leaking(dir, parts), Vec::<String>::new(), "{what}: files leak a secret");
}

/// Serves each connection: reads the request, then lets `answer` reply to its path.
fn server(answer: impl Fn(&str, std::net::TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut first = String::new();
                reader.read_line(&mut first).unwrap_or(0);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                answer(&path, reader.into_inner());
            });
        }
    });
    port
}

/// The path, echoed in every form a server might use.
fn echoes(path: &str) -> String {
    let every_byte: String = path.bytes().map(|b| format!("%{b:02X}")).collect();
    let lower_hex: String = path.bytes().map(|b| format!("%{b:02x}")).collect();
    [
        format!("no_such_hook: {path}"),
        path.to_uppercase(),
        path.to_lowercase(),
        path.replace('/', "%2F"),
        path.replace('/', "\\/"),
        every_byte,
        lower_hex.replace("%2f", "%252f"),
    ]
    .join("\n")
}

/// A webhook server answering 404 with its path echoed seven ways: trainyard's message
/// says the server failed and holds no part of the secret, in any form; no file does.
#[test]
fn a_server_echoing_the_secret_path_cannot_leak_it() {
    let repo = released("echo");
    let port = server(|path, mut stream| {
        let body = echoes(path);
        let _ = write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let url = format!("http://127.0.0.1:{port}/services/T0/{TOKEN}?key=QUERY-SECRET-42");
    let parts = [TOKEN, "token-abc", "abc123", "query-secret", "services/t0"];
    let r = trainyard(&repo.dir, &["release", "notify"], &[("TRAINYARD_WEBHOOK_URL", &url)]);
    r.fails_with(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("the notification to the webhook from $TRAINYARD_WEBHOOK_URL failed: HTTP 404"), "{all}");
    assert!(all.contains("no_such_hook: ***"), "the server's answer is shown, redacted:\n{all}");
    assert_no_leak("echoing server", &r, &repo.dir, &parts);

    // The same URL from a file outside the repository; a dry run shows neither.
    let outside = git_support::TempDir::new("echo-hook");
    let file = outside.path.join("hook");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let r = trainyard(&repo.dir, &["release", "notify", "--webhook-file", file.to_str().unwrap()], &[]);
    r.fails_with(1);
    assert_no_leak("webhook file", &r, &repo.dir, &parts);
    let r = trainyard(&repo.dir, &["release", "notify", "--dry-run"], &[("TRAINYARD_WEBHOOK_URL", &url)]);
    r.ok();
    assert_no_leak("dry run", &r, &repo.dir, &parts);
}

/// A server that accepts and then trickles a byte a second never finishes its answer:
/// notify gives up at its time limit with a message saying so.
#[test]
fn a_slow_webhook_cannot_hold_notify() {
    let repo = released("slow");
    let port = server(|_, mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
        for _ in 0..120 {
            if stream.write_all(b"X").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let url = format!("http://127.0.0.1:{port}/services/T0/{TOKEN}");
    let started = Instant::now();
    let r = trainyard(
        &repo.dir,
        &["release", "notify"],
        &[("TRAINYARD_WEBHOOK_URL", &url), ("TRAINYARD_WEBHOOK_TIMEOUT", "2")],
    );
    let took = started.elapsed();
    r.fails_with(1);
    assert!(took < Duration::from_secs(10), "notify took {took:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("no answer within 2 s"), "{all}");
    assert_no_leak("slow server", &r, &repo.dir, &[TOKEN]);
    let r = trainyard(
        &repo.dir,
        &["release", "notify"],
        &[("TRAINYARD_WEBHOOK_URL", &url), ("TRAINYARD_WEBHOOK_TIMEOUT", "soon")],
    );
    r.fails_with(2);
    assert!(r.stderr.contains("TRAINYARD_WEBHOOK_TIMEOUT=`soon` is not a number of seconds"), "{}", r.stderr);
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// An https notification killed (SIGKILL) while curl waits on the server: curl's command
/// line never held the URL, and no file under the workspace does afterwards.
#[test]
fn a_killed_https_notification_leaves_no_secret_behind() {
    if which("curl").is_none() {
        println!("NOTICE: skipping: curl is not installed");
        return;
    }
    let repo = released("https");
    // Accepts and never speaks: curl's TLS handshake waits.
    let port = server(|_, stream| {
        std::thread::sleep(Duration::from_secs(30));
        drop(stream);
    });
    let url = format!("https://127.0.0.1:{port}/services/T0/{TOKEN}");
    let mut cmd = command(env!("CARGO_BIN_EXE_trainyard"), &repo.dir);
    cmd.args(["release", "notify"]).env("TRAINYARD_WEBHOOK_URL", &url).env_remove("CARGO_TARGET_DIR");
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let curl = loop {
        if let Some(c) = children(child.id()).into_iter().next() {
            let cmdline = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("curl") {
                break cmdline;
            }
        }
        assert!(Instant::now() < deadline, "curl never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(curl.contains("--config -"), "curl reads its configuration on stdin: {curl}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let r = Run::from_output(out);
    assert_no_leak("killed https notify", &r, &repo.dir, &[TOKEN]);
    assert_eq!(leaks(&curl, &[TOKEN]), None, "{curl}");
}

/// Internal projects whose URLs carry a token, a password or a `?token=`: a failed fetch
/// names the project and the host, never the credentials, in the output or any file.
#[test]
fn credentials_in_internal_project_urls_are_never_shown() {
    // A port nothing listens on: the fetch fails at once.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (label, url, parts) in [
        ("token", format!("https://TOKEN-abc123@127.0.0.1:{port}/core.git"), vec!["token-abc123"]),
        ("password", format!("https://alice:PASSWORD-xyz789@127.0.0.1:{port}/core.git"), vec!["password-xyz789"]),
        ("query", format!("https://127.0.0.1:{port}/core.git?token=QUERYTOKEN-456"), vec!["querytoken-456"]),
    ] {
        let repo = released(&format!("cred-{label}"));
        let manifest = std::fs::read_to_string(repo.dir.join("Cargo.toml")).unwrap();
        repo.write(
            "Cargo.toml",
            &format!("{manifest}\n[workspace.metadata.trainyard.internal.server-core]\ngit = \"{url}\"\n"),
        );
        repo.commit_all("use server-core");
        let r = trainyard(&repo.dir, &["build", "SERVER_CORE=rpm-1.0"], &[]);
        assert!(!r.success(), "{r:?}");
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(all.contains("server-core") && all.contains(&format!("127.0.0.1:{port}")), "{label}: {all}");
        assert_eq!(leaks(&all, &parts), None, "{label}: {all}");
        // The user's Cargo.toml holds the URL (their file); nothing trainyard wrote does.
        let target = repo.dir.join("target");
        if target.exists() {
            assert_eq!(files_leaking(&target, &parts), Vec::<String>::new(), "{label}");
        }
    }
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
}
