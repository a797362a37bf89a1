//! What a reader of a collection directory may rely on, checked from the outside; and runs of
//! the binary killed at a chosen moment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the RPMs rpmbuild wrote under `dir` a collection: moved to its top, listed in a
/// `collection.json` (publish takes only what that lists).
pub fn list_as_collection(dir: &Path) {
    let mut packages = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for path in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rpm") {
                let name = path.file_name().unwrap().to_str().unwrap().to_string();
                std::fs::rename(&path, dir.join(&name)).unwrap();
                let bytes = std::fs::read(dir.join(&name)).unwrap();
                let sha256 = sha256(&bytes);
                packages.push(format!(r#"{{"file":"{name}","sha256":"{sha256}","size":{}}}"#, bytes.len()));
            }
        }
    }
    std::fs::write(dir.join("collection.json"), format!(r#"{{"packages":[{}]}}"#, packages.join(","))).unwrap();
}

/// `(file, sha256, size)` of each package a manifest lists.
pub fn listed(manifest: &[u8]) -> Vec<(String, String, u64)> {
    let json: serde_json::Value = serde_json::from_slice(manifest).expect("a manifest is JSON");
    json["packages"]
        .as_array()
        .expect("a manifest lists packages")
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_string(),
                p["sha256"].as_str().unwrap().to_string(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The `*.rpm` files directly in `dir`, by name.
pub fn rpm_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".rpm"))
        .collect()
}

/// Checks that `manifest`'s packages are in `dir` with their sizes and checksums.
pub fn manifest_matches(dir: &Path, manifest: &[u8]) -> Result<(), String> {
    for (file, sha, size) in listed(manifest) {
        let bytes = std::fs::read(dir.join(&file)).map_err(|e| format!("{file} listed but unreadable: {e}"))?;
        if bytes.len() as u64 != size || sha256(&bytes) != sha {
            return Err(format!("{file}: not the bytes the manifest lists"));
        }
    }
    Ok(())
}

/// Checks that `out` shows one whole collection, read the way a reader would (through `out`,
/// resolved once): `collection.json` parses, every package it lists is there with its size and
/// checksum, and, with `alone` (one workspace writes `out`), the RPMs there are exactly those it
/// lists. Returns `collection.json`'s bytes.
pub fn whole_collection(out: &Path, alone: bool) -> Result<Vec<u8>, String> {
    let dir = out.canonicalize().map_err(|e| format!("{}: {e}", out.display()))?;
    let manifest = std::fs::read(dir.join("collection.json")).map_err(|e| format!("collection.json: {e}"))?;
    manifest_matches(&dir, &manifest)?;
    if alone {
        let names: BTreeSet<String> = listed(&manifest).into_iter().map(|(f, _, _)| f).collect();
        let present = rpm_names(&dir);
        if names != present {
            return Err(format!("collection.json lists {names:?}, the directory holds {present:?}"));
        }
    }
    Ok(manifest)
}

/// The store beside `out`: `<parent>/.<name>.collections`.
pub fn store(out: &Path) -> PathBuf {
    out.parent().unwrap().join(format!(".{}.collections", out.file_name().unwrap().to_str().unwrap()))
}

/// The collection directories of `out`'s store, staged or shown.
pub fn collection_dirs(out: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(store(out)) else { return BTreeSet::new() };
    entries.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.starts_with("c-")).collect()
}

/// Checks what a finished run leaves in the store: the current collection and at most the
/// previous one, no temporary link.
pub fn store_is_tidy(out: &Path) -> Result<(), String> {
    let current = std::fs::read_link(out).map_err(|e| format!("{} is not a link: {e}", out.display()))?;
    let current = current.file_name().unwrap().to_str().unwrap().to_string();
    let dirs = collection_dirs(out);
    if !dirs.contains(&current) || dirs.len() > 2 {
        return Err(format!("the store holds {dirs:?} (current {current})"));
    }
    let links: Vec<String> = std::fs::read_dir(store(out))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("link-"))
        .collect();
    if !links.is_empty() {
        return Err(format!("temporary links left: {links:?}"));
    }
    Ok(())
}

/// How a run was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// SIGKILL to its whole process group (cargo, rustc, git with it), as a CI timeout does.
    Group,
    /// SIGKILL to trainyard alone: its children run on.
    Alone,
}

/// Starts `cmd` in a process group of its own, SIGKILLs it `after` the start if it is still
/// running, and waits until every process of the group is gone (at most two minutes). Returns
/// the exit status when the run ended by itself first.
pub fn run_killed(mut cmd: Command, after: Duration, how: Kill) -> Option<ExitStatus> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let finished = wait_until(&mut child, started + after);
    if finished.is_some() {
        return finished;
    }
    let group = child.id();
    match how {
        Kill::Group => {
            signal_group(group, "-KILL");
        }
        Kill::Alone => child.kill().unwrap(),
    }
    let _ = child.wait();
    // What the kill left running (an orphaned cargo, after Kill::Alone) ends before anything is checked.
    let deadline = Instant::now() + Duration::from_secs(120);
    while signal_group(group, "-0") {
        assert!(Instant::now() < deadline, "processes of a killed run still alive after two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits for `child` until `deadline`; its status if it ended.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `kill SIGNAL -- -GROUP`: whether a process of the group got it.
pub fn signal_group(group: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, "--", &format!("-{group}")])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `n` delays spread over `span` (the middles of `n` equal slices), each moved by up to a
/// quarter slice with a generator seeded from the clock (the seed is printed, to replay a run).
pub fn spread(span: Duration, n: u32) -> Vec<Duration> {
    let seed = std::env::var("TRAINYARD_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("fault delays: seed {seed} (TRAINYARD_FAULT_SEED={seed} repeats them)");
    let mut state = seed | 1;
    let slice = span / n;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let jitter = (state % 1000) as f64 / 1000.0 - 0.5;
            slice.mul_f64(i as f64 + 0.5 + jitter / 2.0)
        })
        .collect()
}

/// The files of each owner's manifest in a shared collection, by workspace name.
pub fn owners(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = out.join(".collections");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name.trim_end_matches(".json").to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}
