//! Notify: announce a release on a chat webhook (Slack's incoming-webhook format).
//!
//! The URL comes from `TRAINYARD_WEBHOOK_URL` or `--webhook-file FILE`, never from the
//! repository, and is never printed: messages say where it came from, not what it is.
//! `http://` is posted over a plain TCP connection; `https://` through `curl`, which reads
//! the URL from a private file, not its command line. A failed notification is reported;
//! it does not undo the release.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{io, Error, Result};
use crate::git::Git;

pub const URL_VAR: &str = "TRAINYARD_WEBHOOK_URL";
const TIMEOUT: Duration = Duration::from_secs(15);

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
            let text = std::fs::read_to_string(path).map_err(io(path))?;
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
        Ok(Webhook { url: url.to_string(), origin })
    }

    /// Hides the URL in a text that might echo it (an error, a server's answer).
    fn redact(&self, text: &str) -> String {
        text.replace(&self.url, "<webhook URL>")
    }
}

/// A secret file committed (or committable) to the repository would publish the secret.
fn refuse_repository_file(path: &Utf8Path, root: &Utf8Path) -> Result<()> {
    let abs = path.canonicalize_utf8().map_err(io(path))?;
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
pub fn post(hook: &Webhook, body: &str, scratch: &Utf8Path) -> Result<()> {
    let result = if let Some(rest) = hook.url.strip_prefix("http://") {
        post_http(rest, body)
    } else {
        post_curl(hook, body, scratch)
    };
    result.map_err(|e| {
        Error::failed(format!("the notification to the webhook from {} failed: {}", hook.origin, hook.redact(&e)))
            .with_help("the release itself is done; retry the notification with `release notify`")
    })
}

/// `host[:port]/path` over plain HTTP/1.1.
fn post_http(rest: &str, body: &str) -> Result<(), String> {
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    if authority.contains('@') {
        return Err("credentials in the URL are not supported".into());
    }
    let port_of = |p: Option<&str>| match p {
        Some(p) => p.parse::<u16>().map_err(|_| "the URL's port is not a number".to_string()),
        None => Ok(80),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or("the URL's IPv6 host has no `]`")?;
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
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut stream = stream.ok_or_else(|| format!("cannot connect: {last}"))?;
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let _ = stream.set_write_timeout(Some(TIMEOUT));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: trainyard\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("sending: {e}"))?;
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or("");
    let code: u16 = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if (200..300).contains(&code) {
        return Ok(());
    }
    if code == 0 {
        return Err("no HTTP answer".into());
    }
    let reply = answer.split_once("\r\n\r\n").map(|(_, b)| b.trim()).unwrap_or("");
    Err(format!("HTTP {code}: {}", reply.chars().take(200).collect::<String>()))
}

/// https through curl; the URL goes in a private config file, not on the command line.
fn post_curl(hook: &Webhook, body: &str, scratch: &Utf8Path) -> Result<(), String> {
    let curl = which::which("curl").map_err(|_| {
        "the webhook is https:// and `curl` was not found on PATH (install it: apt-get install -y curl)".to_string()
    })?;
    std::fs::create_dir_all(scratch).map_err(|e| format!("{scratch}: {e}"))?;
    let config: Utf8PathBuf = scratch.join(format!(".webhook-{}.curlrc", std::process::id()));
    let escaped = hook.url.replace('\\', "\\\\").replace('"', "\\\"");
    let written = write_private(&config, &format!("url = \"{escaped}\"\n"));
    let result = written.and_then(|()| {
        let mut child = std::process::Command::new(curl)
            .args(["--silent", "--show-error", "--fail", "--max-time", "20", "--request", "POST"])
            .args(["--header", "Content-Type: application/json", "--data-binary", "@-", "--config"])
            .arg(config.as_str())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("running curl: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(body.as_bytes()).map_err(|e| format!("writing to curl: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("running curl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("curl: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    });
    let _ = std::fs::remove_file(&config);
    result
}

fn write_private(path: &Utf8Path, text: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("{path}: {e}"))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("{path}: {e}"))
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

    #[test]
    fn refused_connection_is_reported_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let hook = Webhook::new(&format!("http://127.0.0.1:{port}/T0/secret-token"), "$X".into()).unwrap();
        let err = post(&hook, "{}", Utf8Path::new("/nonexistent")).unwrap_err();
        assert!(!err.to_string().contains("secret-token"), "{err}");
        assert!(err.message.contains("from $X failed"), "{err}");
    }
}
