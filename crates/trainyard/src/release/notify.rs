//! Notify: announce a release on a chat webhook (Slack's incoming-webhook format).
//!
//! The URL comes from `TRAINYARD_WEBHOOK_URL` or `--webhook-file FILE`, never from the
//! repository, and is never printed: messages say where it came from, not what it is.
//! Every part of it (path, query, user info, in any case or encoding) is registered with
//! [`crate::redact`], so a server that echoes it cannot put it in a message or the journal.
//! `http://` is posted over a plain TCP connection; `https://` through `curl`, which reads
//! the URL on its standard input (`--config -`), never from its command line or a file.
//! The whole call is bounded ([`TIMEOUT`], or `TRAINYARD_WEBHOOK_TIMEOUT` seconds). A failed
//! notification is reported; it does not undo the release.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use camino::Utf8Path;

use crate::error::{io, Error, Result};
use crate::exec::Effects;
use crate::git::Git;

pub const URL_VAR: &str = "TRAINYARD_WEBHOOK_URL";
/// The longest a notification may take, connection and answer included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a failure (a server's answer) is shown.
const MAX_SAID: usize = 400;
/// Overrides [`TIMEOUT`], in seconds.
pub const TIMEOUT_VAR: &str = "TRAINYARD_WEBHOOK_TIMEOUT";

fn timeout() -> Result<Duration> {
    match std::env::var(TIMEOUT_VAR) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
            Ok(secs) if (1..=3600).contains(&secs) => Ok(Duration::from_secs(secs)),
            _ => Err(Error::usage(format!(
                "{TIMEOUT_VAR}=`{}` is not a number of seconds from 1 to 3600",
                v.escape_debug()
            ))
            .with_help(format!("unset it (the default is {} s), or give seconds", TIMEOUT.as_secs()))),
        },
        _ => Ok(TIMEOUT),
    }
}

/// A webhook URL and where it came from (the only part ever shown).
pub struct Webhook {
    url: String,
    pub origin: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook(from {})", self.origin)
    }
}

impl Webhook {
    /// The webhook from `--webhook-file`, else the environment; `None` when neither is given.
    pub fn find(file: Option<&Utf8Path>, workspace_root: &Utf8Path) -> Result<Option<Webhook>> {
        if let Some(path) = file {
            refuse_repository_file(path, workspace_root)?;
            let text = std::fs::read_to_string(path).map_err(unreadable(path))?;
            let url = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
            return Webhook::new(url, format!("the file {path}")).map(Some);
        }
        match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Webhook::new(url.trim(), format!("${URL_VAR}")).map(Some),
            _ => Ok(None),
        }
    }

    fn new(url: &str, origin: String) -> Result<Webhook> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::usage(format!("the webhook URL from {origin} is not an http:// or https:// URL"))
                .with_help("give the incoming-webhook URL your chat service made"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::usage(format!("the webhook URL from {origin} contains spaces or control characters")));
        }
        crate::redact::register_secret_url(url);
        Ok(Webhook { url: url.to_string(), origin })
    }

    /// Hides every part of the URL in a text that might echo it (an error, a server's answer).
    fn redact(&self, text: &str) -> String {
        crate::redact::text(&text.replace(&self.url, "<webhook URL>"))
    }
}

/// A `--webhook-file` that cannot be read is bad input (exit 2), said as such; the io error is
/// its cause.
fn unreadable(path: &Utf8Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| {
        Error::caused_by(crate::error::Kind::Usage, format!("--webhook-file {path}: cannot read it: {e}"), e)
            .with_help(format!("give the file that holds the webhook URL (one line), or set ${URL_VAR} instead"))
    }
}

/// A secret file committed (or committable) to the repository would publish the secret.
fn refuse_repository_file(path: &Utf8Path, root: &Utf8Path) -> Result<()> {
    let abs = path.canonicalize_utf8().map_err(unreadable(path))?;
    let root = root.canonicalize_utf8().map_err(io(root))?;
    if !abs.starts_with(&root) || !Git::is_repo(&root) {
        return Ok(());
    }
    let git = Git::new(&root);
    let tracked = git.try_read(&["ls-files", "--error-unmatch", "--", abs.as_str()])?.is_some();
    let ignored = git.try_read(&["check-ignore", "--quiet", "--", abs.as_str()])?.is_some();
    if ignored && !tracked {
        return Ok(());
    }
    Err(Error::usage(format!("{path} is inside the repository and not ignored: the webhook URL is a secret"))
        .with_help(format!("keep it outside the repository (or in an ignored path), or use ${URL_VAR}")))
}

/// The message: Slack's incoming-webhook JSON.
pub fn payload(app: &str, version: &str, channel: &str, tag: &str, section: &str) -> String {
    let text = format!("*{app} {version}* released to *{channel}* (tag `{tag}`)\n```\n{}\n```", section.trim_end());
    serde_json::json!({ "username": "trainyard", "icon_emoji": ":shipit:", "text": text }).to_string()
}

/// Posts `body` to the webhook. The error never contains the URL.
pub fn post(effects: &Effects, hook: &Webhook, body: &str) -> Result<()> {
    let limit = timeout()?;
    let deadline = Instant::now() + limit;
    let result = if let Some(rest) = hook.url.strip_prefix("http://") {
        post_http(rest, body, deadline)
    } else {
        post_curl(effects, hook, body, limit)
    };
    let result = result.map_err(|e| match e {
        Failure::TimedOut => {
            format!("no answer within {} s (the limit; {TIMEOUT_VAR}=SECONDS changes it)", limit.as_secs())
        }
        Failure::Other(e) => e,
    });
    result.map_err(|e| {
        let said = hook.redact(&e);
        let said = match said.char_indices().nth(MAX_SAID) {
            Some((at, _)) => format!("{}...", &said[..at]),
            None => said,
        };
        Error::failed(format!("the notification to the webhook from {} failed: {said}", hook.origin))
            .with_help("the release itself is done; retry the notification with `release notify`")
    })
}

/// Why a post failed: the time ran out, or anything else (said in the text).
enum Failure {
    TimedOut,
    Other(String),
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure::Other(text)
    }
}

impl From<&str> for Failure {
    fn from(text: &str) -> Failure {
        Failure::Other(text.to_string())
    }
}

/// The time left before `deadline`, or [`Failure::TimedOut`].
fn left(deadline: Instant) -> Result<Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Failure::TimedOut)
    } else {
        Ok(left)
    }
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
        Failure::TimedOut
    } else {
        Failure::Other(format!("{what}: {e}"))
    }
}

/// `host[:port]/path` over plain HTTP/1.1, all of it before `deadline`.
fn post_http(rest: &str, body: &str, deadline: Instant) -> Result<(), Failure> {
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    if authority.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let port_of = |p: Option<&str>| match p {
        Some(p) => p.parse::<u16>().map_err(|_| Failure::from("the URL's port is not a number")),
        None => Ok(80),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or(Failure::from("the URL's IPv6 host has no `]`"))?;
            (h, port_of(after.strip_prefix(':'))?)
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, port_of(Some(p))?),
            None => (authority, port_of(None)?),
        },
    };
    let addrs: Vec<_> =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve the webhook's host: {e}"))?.collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left(deadline)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(Failure::TimedOut),
            Err(e) => last = e.to_string(),
        }
    }
    let mut stream = stream.ok_or_else(|| format!("cannot connect: {last}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: trainyard\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.set_write_timeout(Some(left(deadline)?)).map_err(|e| io_failure("sending", e))?;
    stream.write_all(request.as_bytes()).map_err(|e| io_failure("sending", e))?;
    // Each read waits at most until the deadline: a server trickling bytes cannot hold us.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while answer.len() < 64 * 1024 {
        stream.set_read_timeout(Some(left(deadline)?)).map_err(|e| io_failure("reading", e))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_failure("reading the answer", e)),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or("");
    let code: u16 = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if (200..300).contains(&code) {
        return Ok(());
    }
    if code == 0 {
        return Err("no HTTP answer".into());
    }
    // Whole: it is redacted before it is shortened, so no cut can leave part of a secret.
    let reply = answer.split_once("\r\n\r\n").map(|(_, b)| b.trim()).unwrap_or("");
    Err(format!("HTTP {code}: {reply}").into())
}

/// https through curl, run by the executor. Its whole configuration, the URL and the body,
/// goes to its standard input (`--config -`): the URL is on no command line and in no file.
fn post_curl(effects: &Effects, hook: &Webhook, body: &str, limit: Duration) -> Result<(), Failure> {
    which::which("curl").map_err(|_| {
        "the webhook is https:// and `curl` was not found on PATH (install it: apt-get install -y curl)".to_string()
    })?;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"));
    let config = format!(
        "url = {}\nrequest = \"POST\"\nheader = \"Content-Type: application/json\"\ndata-raw = {}\n",
        quote(&hook.url),
        quote(body)
    );
    let curl = crate::plan::Command::program("curl")
        .args(["--silent", "--show-error", "--fail", "--output", "/dev/null", "--max-time"])
        .arg(limit.as_secs().to_string())
        .args(["--config", "-"])
        .stdin(config);
    match effects.apply(&crate::plan::Action::Run(curl)) {
        Ok(()) => Ok(()),
        // curl's exit code 28: "Operation timeout".
        Err(e) if e.message.ends_with("(exit status: 28)") => Err(Failure::TimedOut),
        Err(e) => Err(format!("curl: {} (its message is above)", e.message).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_slack_json() {
        let p = payload("portal", "1.2", "prod", "rpm-1.2", "1.2 - 2026-01-01\n\"quoted\"\n");
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("*portal 1.2* released to *prod* (tag `rpm-1.2`)"), "{text}");
        assert!(text.contains("\"quoted\""));
    }

    #[test]
    fn urls_are_checked_and_hidden() {
        let err = Webhook::new("ftp://x", "$X".into()).unwrap_err();
        assert!(!err.message.contains("ftp://x"), "{}", err.message);
        let hook = Webhook::new("http://127.0.0.1:1/secret", "$X".into()).unwrap();
        assert_eq!(format!("{hook:?}"), "Webhook(from $X)");
        assert_eq!(hook.redact("GET http://127.0.0.1:1/secret"), "GET <webhook URL>");
    }

    /// curl gets URL and body on its standard input: the server receives both intact.
    #[test]
    fn curl_reads_url_and_body_on_stdin() {
        if which::which("curl").is_err() {
            println!("NOTICE: skipping: curl is not installed");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&got).contains("\"end\"}") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            String::from_utf8(got).unwrap()
        });
        // curl speaks plain http too: the https path, minus TLS.
        let hook = Webhook::new(&format!("http://127.0.0.1:{port}/services/T0/tok"), "$X".into()).unwrap();
        let body = payload("portal", "1.2", "prod", "rpm-1.2", "a \"quoted\\ line\nand more");
        let body = body.replacen('}', ",\"end\":\"end\"}", 1);
        post_curl(&Effects::default(), &hook, &body, Duration::from_secs(10)).map_err(|_| "curl failed").unwrap();
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /services/T0/tok HTTP/1.1\r\n"), "{request}");
        assert!(request.ends_with(&body), "{request}");
    }

    #[test]
    fn refused_connection_is_reported_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let hook = Webhook::new(&format!("http://127.0.0.1:{port}/T0/secret-token"), "$X".into()).unwrap();
        let err = post(&Effects::default(), &hook, "{}").unwrap_err();
        assert!(!err.to_string().contains("secret-token"), "{err}");
        assert!(err.message.contains("from $X failed"), "{err}");
    }
}
