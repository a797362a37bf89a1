//! A cargo registry served on 127.0.0.1 by the test: a sparse index (`config.json`, one file
//! per crate), downloads, and the publish API (`PUT /api/v1/crates/new`) behind a token.
//! Enough of the registry protocol for `cargo publish`, `cargo build` and `cargo info`; it
//! records every publish so a test can prove nothing was published twice.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct State {
    /// Index lines by lower-cased crate name.
    index: BTreeMap<String, Vec<String>>,
    files: BTreeMap<(String, String), Vec<u8>>,
    /// Every accepted publish, in order: (name, version).
    publishes: Vec<(String, String)>,
    /// Crates whose next publish fails with a server error (an interrupted release).
    fail_once: Vec<String>,
    /// Every Authorization header seen on a publish.
    tokens_seen: Vec<String>,
}

pub struct Registry {
    pub port: u16,
    token: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Registry {
    /// Starts the server on a free port of 127.0.0.1; publishing needs `token`.
    pub fn start(token: &str) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, tok) = (state.clone(), stop.clone(), token.to_string());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, tok) = (s.clone(), tok.clone());
                        // One thread per connection: cargo fetches index files in parallel.
                        std::thread::spawn(move || {
                            let _ = serve(stream, port, &tok, &s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Registry { port, token: token.to_string(), state, stop, thread: Some(thread) }
    }

    /// The index URL cargo is given (`CARGO_REGISTRIES_<NAME>_INDEX`).
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/index/", self.port)
    }

    /// The environment that defines the registry `name` for cargo, with its token.
    pub fn env(&self, name: &str) -> Vec<(String, String)> {
        let var = name.to_uppercase().replace('-', "_");
        vec![
            (format!("CARGO_REGISTRIES_{var}_INDEX"), self.index_url()),
            (format!("CARGO_REGISTRIES_{var}_TOKEN"), self.token.clone()),
        ]
    }

    pub fn publishes(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().publishes.clone()
    }

    pub fn fail_next_publish_of(&self, name: &str) {
        self.state.lock().unwrap().fail_once.push(name.to_string());
    }

    pub fn tokens_seen(&self) -> Vec<String> {
        self.state.lock().unwrap().tokens_seen.clone()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, port: u16, token: &str, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    if headers.get("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (status, bytes) = respond(&method, &path, &headers, &body, port, token, state);
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        400 => "Bad Request",
        _ => "Internal Server Error",
    };
    write!(out, "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", bytes.len())?;
    out.write_all(&bytes)?;
    out.flush()
}

fn error(status: u16, detail: &str) -> (u16, Vec<u8>) {
    (status, serde_json::json!({ "errors": [{ "detail": detail }] }).to_string().into_bytes())
}

fn respond(
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    port: u16,
    token: &str,
    state: &Mutex<State>,
) -> (u16, Vec<u8>) {
    if method == "GET" && path == "/index/config.json" {
        let config = serde_json::json!({
            "dl": format!("http://127.0.0.1:{port}/api/v1/crates"),
            "api": format!("http://127.0.0.1:{port}"),
        });
        return (200, config.to_string().into_bytes());
    }
    if method == "GET" && path.starts_with("/index/") {
        let name = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        return match state.lock().unwrap().index.get(&name) {
            Some(lines) => (200, lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()),
            None => (404, b"not found".to_vec()),
        };
    }
    if method == "GET" && path.starts_with("/api/v1/crates/") && path.ends_with("/download") {
        let parts: Vec<&str> = path.trim_start_matches("/api/v1/crates/").split('/').collect();
        if parts.len() == 3 {
            if let Some(bytes) = state.lock().unwrap().files.get(&(parts[0].to_string(), parts[1].to_string())) {
                return (200, bytes.clone());
            }
        }
        return (404, b"not found".to_vec());
    }
    if method == "PUT" && path == "/api/v1/crates/new" {
        let auth = headers.get("authorization").cloned().unwrap_or_default();
        let mut st = state.lock().unwrap();
        st.tokens_seen.push(auth.clone());
        if auth != token {
            return error(403, "invalid token");
        }
        return publish(body, &mut st);
    }
    (404, b"not found".to_vec())
}

fn publish(body: &[u8], st: &mut State) -> (u16, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let take_u32 = |at: usize| body.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let Some(json_len) = take_u32(0) else { return error(400, "short body") };
    let Some(meta) = body.get(4..4 + json_len) else { return error(400, "short body") };
    let Some(crate_len) = take_u32(4 + json_len) else { return error(400, "short body") };
    let Some(file) = body.get(8 + json_len..8 + json_len + crate_len) else { return error(400, "short body") };
    let meta: serde_json::Value = match serde_json::from_slice(meta) {
        Ok(m) => m,
        Err(e) => return error(400, &format!("bad metadata: {e}")),
    };
    let name = meta["name"].as_str().unwrap_or("").to_string();
    let vers = meta["vers"].as_str().unwrap_or("").to_string();
    if let Some(i) = st.fail_once.iter().position(|n| *n == name) {
        st.fail_once.remove(i);
        return error(500, "the registry failed (injected by the test)");
    }
    if st.files.contains_key(&(name.clone(), vers.clone())) {
        return error(400, &format!("crate version `{name}@{vers}` is already uploaded"));
    }
    let deps: Vec<serde_json::Value> = meta["deps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let (dep_name, package) = match d["explicit_name_in_toml"].as_str() {
                Some(alias) => (serde_json::json!(alias), d["name"].clone()),
                None => (d["name"].clone(), serde_json::Value::Null),
            };
            serde_json::json!({
                "name": dep_name,
                "req": d["version_req"],
                "features": d["features"],
                "optional": d["optional"],
                "default_features": d["default_features"],
                "target": d["target"],
                "kind": d["kind"],
                "registry": d["registry"],
                "package": package,
            })
        })
        .collect();
    let line = serde_json::json!({
        "name": name,
        "vers": vers,
        "deps": deps,
        "cksum": format!("{:x}", Sha256::digest(file)),
        "features": meta["features"],
        "yanked": false,
    });
    st.index.entry(name.to_ascii_lowercase()).or_default().push(line.to_string());
    st.files.insert((name.clone(), vers.clone()), file.to_vec());
    st.publishes.push((name, vers));
    (200, br#"{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[]}}"#.to_vec())
}
