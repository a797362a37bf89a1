//! Secrets kept out of every message and every stored text.
//!
//! A secret is registered once, where it enters the program (the webhook URL, the
//! credentials of an internal project's URL); [`text`] then hides every part of it in any
//! text about to be printed or written, whatever the form the text carries it in: as
//! written, upper- or lower-cased, percent-encoded (`%2F`, `%2f`, every byte encoded), or
//! decoded. A server that echoes the path of a webhook URL in its error, or git quoting a
//! URL with its token, cannot put the secret on the terminal or in a journal.
//!
//! Over-redaction is the safe failure: a fragment is any part of a secret at least
//! [`MIN_FRAGMENT`] bytes long, and a word of a message that happens to equal one is hidden too.

use std::sync::Mutex;

/// What a hidden part is replaced with.
pub const MARK: &str = "***";

/// Fragments shorter than this are not hidden on their own (they are inside longer ones):
/// hiding every `T0` or `a` would make messages unreadable without protecting anything.
const MIN_FRAGMENT: usize = 4;

static SECRETS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Registers a secret: every later [`text`] hides it.
pub fn register(secret: &str) {
    let key = fold(&decode(secret.as_bytes()));
    if key.len() < MIN_FRAGMENT {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !secrets.contains(&key) {
        secrets.push(key);
        // Longest first: a long secret is marked whole before its parts.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// A URL that is a secret as a whole (a webhook): the whole URL, its user info, its path
/// and each of the path's segments, its query and each of its values.
pub fn register_secret_url(url: &str) {
    register(url);
    let parts = UrlParts::of(url);
    if let Some(user_info) = parts.user_info {
        register_user_info(user_info);
    }
    register(parts.path);
    for segment in parts.path.split('/') {
        register(segment);
    }
    register_query(parts.query);
}

/// A URL whose credentials are secret (an internal project's git URL): the user info
/// (`TOKEN@`, `user:password@`) and the query's values (`?token=...`).
pub fn register_url_credentials(url: &str) {
    let parts = UrlParts::of(url);
    if let Some(user_info) = parts.user_info {
        register_user_info(user_info);
    }
    register_query(parts.query);
}

fn register_user_info(user_info: &str) {
    register(user_info);
    match user_info.split_once(':') {
        Some((user, password)) => {
            register(user);
            register(password);
        }
        None => register(user_info),
    }
}

fn register_query(query: &str) {
    register(query);
    for pair in query.split('&') {
        register(pair);
        if let Some((_, value)) = pair.split_once('=') {
            register(value);
        }
    }
}

/// `text` with every registered secret replaced by [`MARK`].
pub fn text(text: &str) -> String {
    let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    hide(text, &secrets)
}

/// A URL for messages and manifests: the user info and the query's values replaced by
/// [`MARK`] (`https://***@host/repo.git?token=***`); any other URL as it is.
pub fn url(url: &str) -> String {
    let parts = UrlParts::of(url);
    let mut out = String::with_capacity(url.len());
    out.push_str(parts.scheme);
    if parts.user_info.is_some() {
        out.push_str(MARK);
        out.push('@');
    }
    out.push_str(parts.host);
    out.push_str(parts.path);
    if !parts.query.is_empty() {
        out.push('?');
        let pairs: Vec<String> = parts
            .query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}={MARK}"),
                None => MARK.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out.push_str(parts.fragment);
    out
}

/// Serialises a URL field as [`url`] shows it: manifests never store credentials.
pub fn serialize_url<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&url(value))
}

/// `scheme://user-info@host/path?query#fragment`, each part as written.
struct UrlParts<'a> {
    /// `https://`, empty when there is none (a path, `git@host:repo`).
    scheme: &'a str,
    user_info: Option<&'a str>,
    host: &'a str,
    path: &'a str,
    query: &'a str,
    /// `#...`, with its `#`.
    fragment: &'a str,
}

impl<'a> UrlParts<'a> {
    fn of(url: &'a str) -> UrlParts<'a> {
        let (url, fragment) = match url.find('#') {
            Some(i) => (&url[..i], &url[i..]),
            None => (url, ""),
        };
        let (rest, query) = match url.split_once('?') {
            Some((r, q)) => (r, q),
            None => (url, ""),
        };
        let (scheme, rest) = match rest.find("://") {
            Some(i) => (&rest[..i + 3], &rest[i + 3..]),
            None => ("", rest),
        };
        if scheme.is_empty() {
            // Not a URL with an authority: nothing in it is a credential but the query.
            return UrlParts { scheme, user_info: None, host: "", path: rest, query, fragment };
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user_info, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        UrlParts { scheme, user_info, host, path, query, fragment }
    }
}

/// Percent-decodes `%XX` (other bytes as they are).
fn decode(bytes: &[u8]) -> Vec<u8> {
    decoded_view(bytes).into_iter().map(|(b, _, _)| b).collect()
}

fn fold(bytes: &[u8]) -> Vec<u8> {
    bytes.to_ascii_lowercase()
}

/// Each byte of the decoded text with the range of original bytes it came from.
fn decoded_view(bytes: &[u8]) -> Vec<(u8, usize, usize)> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut view = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                view.push((h * 16 + l, i, i + 3));
                i += 3;
                continue;
            }
        }
        view.push((bytes[i], i, i + 1));
        i += 1;
    }
    view
}

fn hide(text: &str, secrets: &[Vec<u8>]) -> String {
    if secrets.is_empty() {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let view = decoded_view(bytes);
    let folded: Vec<u8> = view.iter().map(|(b, _, _)| b.to_ascii_lowercase()).collect();
    // Hidden ranges of the original bytes.
    let mut hidden = vec![false; bytes.len()];
    for secret in secrets {
        let mut at = 0;
        while let Some(found) = find(&folded[at..], secret) {
            let start = view[at + found].1;
            let end = view[at + found + secret.len() - 1].2;
            hidden[start..end].iter_mut().for_each(|h| *h = true);
            at += found + 1;
        }
    }
    if !hidden.contains(&true) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_mark = false;
    for (i, c) in text.char_indices() {
        if hidden[i..i + c.len_utf8()].contains(&true) {
            if !in_mark {
                out.push_str(MARK);
                in_mark = true;
            }
        } else {
            out.push(c);
            in_mark = false;
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets_of(register: impl Fn(&str), url: &str) -> Vec<Vec<u8>> {
        let before = SECRETS.lock().unwrap().clone();
        register(url);
        let after = SECRETS.lock().unwrap().clone();
        after.into_iter().filter(|s| !before.contains(s)).collect()
    }

    #[test]
    fn every_form_of_a_webhook_path_is_hidden() {
        let url = "https://hooks.example.org/services/T0/SECRET-TOKEN-abc123";
        let secrets = secrets_of(register_secret_url, url);
        let token = "SECRET-TOKEN-abc123";
        for echoed in [
            format!("HTTP 404: no_such_hook: /services/T0/{token}"),
            format!("path {}", token.to_uppercase()),
            format!("path {}", token.to_lowercase()),
            "path %2Fservices%2FT0%2FSECRET%2DTOKEN%2Dabc123".to_string(),
            token.bytes().map(|b| format!("%{b:02x}")).collect::<String>(),
            format!("see {url}?x=1"),
        ] {
            let shown = hide(&echoed, &secrets);
            assert!(!shown.to_ascii_lowercase().contains("token-abc"), "{echoed} -> {shown}");
            assert!(!shown.contains("%2D") && !shown.contains("%54"), "{echoed} -> {shown}");
            assert!(shown.contains(MARK), "{shown}");
        }
        assert_eq!(hide("HTTP 404: no_such_hook", &secrets), "HTTP 404: no_such_hook");
    }

    #[test]
    fn credentials_of_internal_urls() {
        let secrets = secrets_of(register_url_credentials, "https://alice:pa55word@git.example.org/core.git");
        assert_eq!(hide("fatal: auth failed for alice:PA55WORD", &secrets), "fatal: auth failed for ***");
        let secrets = secrets_of(register_url_credentials, "https://git.example.org/core.git?token=tok-9876");
        assert_eq!(hide("bad tok-9876", &secrets), "bad ***");
        assert_eq!(url("https://TOKEN123@git.example.org/core.git"), "https://***@git.example.org/core.git");
        assert_eq!(url("https://u:p@h/x.git?token=abc&a=b#f"), "https://***@h/x.git?token=***&a=***#f");
        assert_eq!(url("file:///srv/core"), "file:///srv/core");
        assert_eq!(url("git@example.org:core.git"), "git@example.org:core.git");
        assert_eq!(url("/srv/core"), "/srv/core");
    }

    #[test]
    fn text_keeps_non_ascii_whole() {
        let secrets = vec![b"geheim".to_vec()];
        assert_eq!(hide("é geheim ü", &secrets), "é *** ü");
        assert_eq!(hide("100%", &secrets), "100%");
        assert_eq!(hide("%zz%4", &secrets), "%zz%4");
    }
}
