//! `image [RPM_CHANNEL=prod] [--trigger push|tag|auto] [--tag TAG] [--push REPO]`: an OCI image
//! of the collection, built without a daemon.
//!
//! The collection is built as `build_rpms` builds it (unchanged packages are not rewritten), and
//! the payload of its workspace and internal-project RPMs, the packages this run built, becomes
//! one layer on an empty base (`FROM scratch`). The image is tagged with the container rendering
//! of the version (`1.3` for a release, the sanitised branch for a dev build) and written as an
//! OCI image layout under `target/images/<name>/`, reproducibly (every timestamp is the
//! collection's source date). `--push REGISTRY/REPOSITORY` copies each tag there with skopeo;
//! credentials come from `TRAINYARD_REGISTRY_USER` and `TRAINYARD_REGISTRY_PASSWORD` through an
//! auth file readable by this user only, never a command line, never printed.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cli::{FlagSpec, TargetSpec, VarSpec, DRY_RUN};
use crate::collection_manifest::Kind;
use crate::error::{io, Error, Result};
use crate::exec;
use crate::plan::{Action, Command as PlanCommand, Plan, Secret};
use crate::scm::{self, Trigger};
use crate::targets::build_rpms;
use crate::targets::options::{self, RPM_CHANNEL_FLAG, TRIGGER_FLAG};
use crate::Context;

pub const USER_ENV: &str = "TRAINYARD_REGISTRY_USER";
pub const PASSWORD_ENV: &str = "TRAINYARD_REGISTRY_PASSWORD";

pub const SPEC: TargetSpec = TargetSpec {
    name: "image",
    summary: "build an OCI image of the collection (no daemon), tagged with the version or branch",
    usage: "[RPM_CHANNEL=dev|stage|prod] [PROJECT=ref ...] [--trigger push|tag|auto] [--tag TAG ...] \
            [--push REGISTRY/REPOSITORY [--insecure]] [--base LAYOUT:TAG] [--dry-run]",
    about: "Builds the collection (as build_rpms does), then an OCI image layout in target/images/<name>/:\n\
            one layer holding the payload of the workspace's and internal projects' RPMs (the files\n\
            they install, owned by root), on an empty base; the config names the version and commit\n\
            and, when the packages install exactly one program in /usr/bin, runs it. Tagged with the\n\
            version (1.3) or, for a dev build, the sanitised branch (feature-login); --tag replaces that.\n\
            --push REGISTRY/REPOSITORY copies every tag there with skopeo; credentials from\n\
            TRAINYARD_REGISTRY_USER and TRAINYARD_REGISTRY_PASSWORD (never printed); --insecure talks\n\
            plain HTTP to the registry (a local one). --base DIR:TAG puts the layer on an image of a\n\
            local OCI layout (a remote base: skopeo copy docker://REF oci:DIR:TAG first). Exit codes: 0, 1 a step failed, 2 bad input,\n\
            3 skopeo missing for --push.",
    vars: &[VarSpec { name: "RPM_CHANNEL", help: "dev, stage or prod (default prod)" }],
    flags: &[
        DRY_RUN,
        RPM_CHANNEL_FLAG,
        TRIGGER_FLAG,
        FlagSpec {
            name: "tag",
            value: Some("TAG"),
            help: "tag the image TAG instead of the version or branch (repeatable)",
            var: None,
        },
        FlagSpec {
            name: "push",
            value: Some("REPO"),
            help: "copy the image to REGISTRY/REPOSITORY (127.0.0.1:5000/portal)",
            var: None,
        },
        FlagSpec { name: "insecure", value: None, help: "--push over plain HTTP (a local registry)", var: None },
        FlagSpec {
            name: "base",
            value: Some("LAYOUT:TAG"),
            help: "build on this image of a local OCI layout (default: an empty base)",
            var: None,
        },
    ],
    takes_projects: true,
    max_positional: 0,
    passthrough: false,
};

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `host[:port]/path` of a registry repository, lower case, no scheme, no tag.
fn valid_repository(repo: &str) -> bool {
    let Some((host, path)) = repo.split_once('/') else { return false };
    !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        && !path.is_empty()
        && path.split('/').all(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
}

/// One entry of the layer.
struct Entry {
    kind: EntryKind,
    mode: u32,
    mtime: u64,
}

enum EntryKind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// The layer: every file of the packages, keyed by path without the leading `/`.
fn layer_entries(rpms: &[Utf8PathBuf], mtime: u64) -> Result<BTreeMap<String, Entry>> {
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for path in rpms {
        let mut entries = Vec::new();
        crate::rpmpkg::read::open(path)?.for_each_entry(path, |file, data| {
            let name = file.path.trim_start_matches('/').to_string();
            let mut content = Vec::with_capacity(file.size as usize);
            if file.is_file() || file.is_symlink() {
                std::io::Read::read_to_end(data, &mut content)
                    .map_err(|e| Error::failed(format!("{path}: {}: {e}", file.path)))?;
            }
            let kind = if file.is_dir() {
                EntryKind::Dir
            } else if file.is_file() {
                EntryKind::File(content)
            } else if file.is_symlink() {
                EntryKind::Symlink(String::from_utf8_lossy(&content).into_owned())
            } else {
                return Ok(());
            };
            entries.push((name, file.mode & 0o7777, kind));
            Ok(())
        })?;
        for (name, mode, kind) in entries {
            if name.is_empty() {
                continue;
            }
            // Parent directories the package does not list.
            let mut parent = Utf8Path::new(&name).parent();
            while let Some(p) = parent.filter(|p| !p.as_str().is_empty()) {
                out.entry(p.to_string()).or_insert(Entry { kind: EntryKind::Dir, mode: 0o755, mtime });
                parent = p.parent();
            }
            out.insert(name, Entry { kind, mode, mtime });
        }
    }
    Ok(out)
}

fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}\0", width = field.len() - 1);
    field.copy_from_slice(text.as_bytes());
}

/// A POSIX ustar archive of `entries`, in path order, owned by root.
fn tar(entries: &BTreeMap<String, Entry>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (path, entry) in entries {
        let mut header = [0u8; 512];
        let (name, size, typeflag, link) = match &entry.kind {
            EntryKind::Dir => (format!("{path}/"), 0, b'5', ""),
            EntryKind::File(bytes) => (path.clone(), bytes.len() as u64, b'0', ""),
            EntryKind::Symlink(target) => (path.clone(), 0, b'2', target.as_str()),
        };
        // Long names are split into prefix (155) and name (100) at a `/`.
        let (prefix, short) = if name.len() <= 100 {
            ("", name.as_str())
        } else {
            let cut = name[..name.len().min(156)].rfind('/').filter(|&at| name.len() - at - 1 <= 100);
            match cut {
                Some(at) => (&name[..at], &name[at + 1..]),
                None => return Err(Error::failed(format!("{path}: the path is too long for the image layer"))),
            }
        };
        if link.len() > 100 {
            return Err(Error::failed(format!("{path}: the link target is too long for the image layer")));
        }
        header[..short.len()].copy_from_slice(short.as_bytes());
        octal(&mut header[100..108], u64::from(entry.mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], size);
        octal(&mut header[136..148], entry.mtime);
        header[156] = typeflag;
        header[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[265..269].copy_from_slice(b"root");
        header[297..301].copy_from_slice(b"root");
        header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.extend_from_slice(&header);
        if let EntryKind::File(bytes) = &entry.kind {
            out.extend_from_slice(bytes);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
    }
    out.resize(out.len() + 1024, 0);
    Ok(out)
}

/// The image an image is built on: its layers (descriptors, uncompressed digests, where the
/// blobs are), its runtime configuration and history.
#[derive(Default)]
struct Base {
    layers: Vec<serde_json::Value>,
    diff_ids: Vec<serde_json::Value>,
    config: serde_json::Value,
    history: Vec<serde_json::Value>,
    blobs: Utf8PathBuf,
}

/// Reads `DIR:TAG`, an image of a local OCI layout.
fn read_base(spec: &str) -> Result<Base> {
    let bad = |what: String| {
        Error::usage(format!("--base {spec}: {what}")).with_help(
            "--base DIR:TAG names an image of a local OCI layout (skopeo copy docker://REF oci:DIR:TAG makes one)",
        )
    };
    let Some((dir, tag)) = spec.rsplit_once(':').filter(|(d, t)| !d.is_empty() && !t.is_empty()) else {
        return Err(bad("not DIR:TAG".into()));
    };
    let dir = Utf8Path::new(dir);
    let read_json = |path: &Utf8Path| -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("{path}: {e}")))?;
        serde_json::from_str(&text).map_err(|e| bad(format!("{path}: {e}")))
    };
    let index = read_json(&dir.join("index.json"))?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let name = |m: &serde_json::Value| m["annotations"]["org.opencontainers.image.ref.name"].as_str().map(String::from);
    let Some(entry) = manifests.iter().find(|m| name(m).as_deref() == Some(tag)) else {
        let tags: Vec<String> = manifests.iter().filter_map(name).collect();
        return Err(bad(format!("no tag `{tag}` (the layout has: {})", tags.join(", "))));
    };
    let blobs = dir.join("blobs").join("sha256");
    let blob = |digest: &serde_json::Value| -> Result<Utf8PathBuf> {
        let d = digest.as_str().and_then(|d| d.strip_prefix("sha256:")).unwrap_or_default();
        if d.len() != 64 || !d.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(format!("digest {digest} is not sha256")));
        }
        Ok(blobs.join(d))
    };
    let manifest = read_json(&blob(&entry["digest"])?)?;
    let config = read_json(&blob(&manifest["config"]["digest"])?)?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    for l in &layers {
        let path = blob(&l["digest"])?;
        if !path.is_file() {
            return Err(bad(format!("layer {} is missing from the layout", l["digest"])));
        }
    }
    let diff_ids = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    if diff_ids.len() != layers.len() {
        return Err(bad("its config and manifest disagree on the layers".into()));
    }
    Ok(Base {
        layers,
        diff_ids,
        config: config["config"].clone(),
        history: config["history"].as_array().cloned().unwrap_or_default(),
        blobs,
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 of a Unix time (UTC).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What `image` was asked, every option checked (all problems at once).
struct ImageOptions {
    trigger: Trigger,
    /// `--tag`s; the version's container tag when none.
    tags: Vec<String>,
    push: Option<Push>,
    base: Base,
}

/// `--push REGISTRY/REPOSITORY [--insecure]`.
struct Push {
    repository: String,
    insecure: bool,
    skopeo: std::path::PathBuf,
    /// From the environment; `None`: a registry without login.
    credentials: Option<Credentials>,
}

/// A registry login (`TRAINYARD_REGISTRY_USER`, `TRAINYARD_REGISTRY_PASSWORD`).
struct Credentials {
    user: String,
    password: Secret,
}

impl Credentials {
    /// Both variables, or neither; one alone is bad input.
    fn from_env() -> Result<Option<Credentials>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Credentials::from_values(var(USER_ENV), var(PASSWORD_ENV))
    }

    /// The login, its password (and the encoded login the auth file holds) registered as
    /// secrets where they enter the program: no message, record or journal shows them, whatever
    /// skopeo or a registry echoes.
    fn from_values(user: Option<String>, password: Option<String>) -> Result<Option<Credentials>> {
        match (user, password) {
            (Some(user), Some(password)) => {
                crate::redact::register(&password);
                crate::redact::register(&base64(format!("{user}:{password}").as_bytes()));
                Ok(Some(Credentials { user, password: Secret(password.into_bytes()) }))
            }
            (None, None) => Ok(None),
            _ => Err(Error::usage(format!("{USER_ENV} and {PASSWORD_ENV} go together: one of them is not set"))
                .with_help("set both (from the CI's secret store), or neither for a registry without login")),
        }
    }
}

impl ImageOptions {
    fn parse(ctx: &Context) -> Result<ImageOptions> {
        let args = &ctx.args;
        let trigger = options::trigger(&ctx.args)?;
        let tags: Vec<String> = args.values("tag").to_vec();
        let mut problems = Vec::new();
        for t in &tags {
            if !valid_tag(t) {
                problems.push(format!("--tag {t}: not a container tag"));
            }
        }
        let push = args.value("push");
        if let Some(repo) = push {
            if !valid_repository(repo) {
                problems.push(format!("--push {repo}: not REGISTRY/REPOSITORY (lower case, no scheme, no tag)"));
            }
        } else if args.flag("insecure") {
            problems.push("--insecure goes with --push".to_string());
        }
        if !problems.is_empty() {
            return Err(Error::usage(problems.join("\n")).with_help(
                "tags: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`; \
                 --push 127.0.0.1:5000/portal",
            ));
        }
        let push = match push {
            Some(repo) => Some(Push {
                repository: repo.to_string(),
                insecure: args.flag("insecure"),
                skopeo: exec::tool("skopeo", "skopeo")?,
                credentials: Credentials::from_env()?,
            }),
            None => None,
        };
        let base = match args.value("base") {
            Some(spec) => read_base(spec)?,
            None => Base::default(),
        };
        Ok(ImageOptions { trigger, tags, push, base })
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let ws = &ctx.ws;
    let ImageOptions { trigger, tags: extra, push, base } = ImageOptions::parse(ctx)?;
    let described = scm::describe(ws, trigger)?;
    let mut tags = if extra.is_empty() { vec![described.container_tag()] } else { Vec::new() };
    for t in extra {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let layout = ws.target_dir.join("images").join(ws.config.name());
    // The packages first (build_rpms executes its own plan); the image is planned from them.
    let collection = build_rpms::collect(ctx)?;
    let rpms: Vec<Utf8PathBuf> = collection
        .manifest
        .packages
        .iter()
        .filter(|p| p.kind != Kind::Dependency)
        .map(|p| collection.out_dir.join(&p.file))
        .collect();
    let what = format!(
        "the image of {} {} in {layout}, tagged {}: one layer from the payloads of the collection's \
         packages (not its dependencies' source RPMs)",
        ws.config.name(),
        described.pep440(),
        tags.join(", "),
    );
    ctx.effects.later(what, || write_image(ctx, &described, &collection, &rpms, &base, &layout, &tags))?;
    if let Some(push) = &push {
        let what = format!("push {} to {} (skopeo copy)", tags.join(", "), push.repository);
        ctx.effects.later(what, || push_tags(ctx, push, &layout, &tags))?;
    }
    Ok(())
}

/// Plans the image's blobs and index from the RPMs the collection holds, and executes that plan.
fn write_image(
    ctx: &Context,
    described: &scm::Described,
    collection: &build_rpms::Collection,
    rpms: &[Utf8PathBuf],
    base: &Base,
    layout: &Utf8Path,
    tags: &[String],
) -> Result<()> {
    let ws = &ctx.ws;
    let mtime = collection.manifest.source_date;
    let entries = layer_entries(rpms, mtime)?;
    let programs: Vec<&String> = entries
        .iter()
        .filter(|(p, e)| p.starts_with("usr/bin/") && matches!(e.kind, EntryKind::File(_)) && e.mode & 0o111 != 0)
        .map(|(p, _)| p)
        .collect();
    let layer = tar(&entries)?;
    let layer_digest = sha256(&layer);
    let mut labels = json!({
        "org.opencontainers.image.version": described.pep440(),
        "org.opencontainers.image.title": ws.config.name(),
    });
    if let Some(c) = &described.commit {
        labels["org.opencontainers.image.revision"] = json!(c);
    }
    // The base's runtime configuration, with this image's labels and program on top.
    let mut config = if base.config.is_object() { base.config.clone() } else { json!({}) };
    if config.get("Env").is_none() {
        config["Env"] = json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    }
    let mut all_labels = config.get("Labels").filter(|l| l.is_object()).cloned().unwrap_or_else(|| json!({}));
    for (k, v) in labels.as_object().into_iter().flatten() {
        all_labels[k] = v.clone();
    }
    config["Labels"] = all_labels;
    if let [one] = programs.as_slice() {
        config["Entrypoint"] = json!([format!("/{one}")]);
        config.as_object_mut().map(|c| c.remove("Cmd"));
    }
    let mut diff_ids = base.diff_ids.clone();
    diff_ids.push(json!(format!("sha256:{layer_digest}")));
    let mut layers = base.layers.clone();
    layers.push(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": format!("sha256:{layer_digest}"),
        "size": layer.len(),
    }));
    let created = rfc3339(mtime);
    let config_json = serde_json::to_vec(&json!({
        "created": created,
        "architecture": oci_arch(),
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": base.history.iter().cloned().chain([json!({"created": created, "created_by": format!("trainyard image: {} RPMs", rpms.len())})]).collect::<Vec<_>>(),
    }))
    .map_err(|e| Error::failed(e.to_string()))?;
    let config_digest = sha256(&config_json);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_digest}"),
            "size": config_json.len(),
        },
        "layers": layers,
    }))
    .map_err(|e| Error::failed(e.to_string()))?;
    let manifest_digest = sha256(&manifest);

    // Blobs are content-addressed: written first, then index.json names them (atomically).
    let blobs = layout.join("blobs").join("sha256");
    let mut plan = Plan::new();
    plan.create_dir(blobs.clone());
    for l in &base.layers {
        let digest = l["digest"].as_str().and_then(|d| d.strip_prefix("sha256:")).unwrap_or_default();
        let (from, to) = (base.blobs.join(digest), blobs.join(digest));
        if !to.is_file() {
            plan.write(to, std::fs::read(&from).map_err(io(&from))?);
        }
    }
    for (digest, bytes) in [(&layer_digest, layer), (&config_digest, config_json), (&manifest_digest, manifest.clone())]
    {
        let path = blobs.join(digest);
        if !path.is_file() {
            plan.write(path, bytes);
        }
    }
    plan.write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
    let index_path = layout.join("index.json");
    let mut entries_by_tag: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(&index_path) {
        if let Ok(old) = serde_json::from_str::<serde_json::Value>(&text) {
            for m in old["manifests"].as_array().cloned().unwrap_or_default() {
                if let Some(name) = m["annotations"]["org.opencontainers.image.ref.name"].as_str() {
                    entries_by_tag.insert(name.to_string(), m.clone());
                }
            }
        }
    }
    for t in tags {
        // A branch's tag is overwritten by its next build; a release's is the same bytes.
        entries_by_tag.insert(
            t.clone(),
            json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_digest}"),
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": t},
            }),
        );
    }
    let index = json!({"schemaVersion": 2, "manifests": entries_by_tag.values().collect::<Vec<_>>()});
    plan.write(index_path, serde_json::to_vec_pretty(&index).map_err(|e| Error::failed(e.to_string()))?);
    ctx.effects.execute(&plan)?;
    ctx.effects.done(format_args!(
        "image {} sha256:{manifest_digest} ({} files from {} RPMs) in {}, tagged {}",
        ws.config.name(),
        entries.len(),
        rpms.len(),
        ws.display(layout),
        tags.join(", ")
    ));
    Ok(())
}

/// Copies each tag to the registry: a plan of its own, planned when the image exists. The
/// credentials go into an auth file readable by this user only ([`Action::WriteSecret`]: the
/// plan shows its length, never its contents), removed after, even when a copy fails.
fn push_tags(ctx: &Context, push: &Push, layout: &Utf8Path, tags: &[String]) -> Result<()> {
    let repo = push.repository.as_str();
    let auth_file = ctx.ws.state_dir().join("image-auth").join(format!("auth-{}.json", std::process::id()));
    let mut plan = Plan::new();
    let mut auth_args: Vec<String> = Vec::new();
    if let Some(Credentials { user, password }) = &push.credentials {
        let host = repo.split('/').next().unwrap_or_default();
        let mut login = user.clone().into_bytes();
        login.push(b':');
        login.extend_from_slice(&password.0);
        let text = json!({"auths": {host: {"auth": base64(&login)}}}).to_string();
        plan.push(Action::WriteSecret { path: auth_file.clone(), contents: Secret(text.into_bytes()) });
        auth_args = vec!["--dest-authfile".into(), auth_file.to_string()];
    }
    for t in tags {
        plan.run(
            PlanCommand::program(push.skopeo.to_string_lossy())
                .args(["copy", "--quiet"])
                .args(push.insecure.then_some("--dest-tls-verify=false"))
                .args(auth_args.iter().cloned())
                .arg(format!("oci:{layout}:{t}"))
                .arg(format!("docker://{repo}:{t}"))
                .network(format!("pushing {repo}:{t}")),
        );
    }
    let removal = push.credentials.is_some().then(|| Action::RemoveFile(auth_file.clone()));
    plan.actions.extend(removal.clone());
    ctx.effects.say(format!("pushing {}", tags.iter().map(|t| format!("{repo}:{t}")).collect::<Vec<_>>().join(", ")));
    let pushed = ctx.effects.execute(&plan);
    if let (Err(_), Some(removal)) = (&pushed, &removal) {
        // The copy that failed stopped the plan before its last action: the secret still goes.
        // The copy's failure is the error reported; one that removal meets is said after it.
        if let Err(left) = ctx.effects.apply(removal) {
            return pushed.map_err(|e| {
                let help = format!("remove {auth_file} by hand: it holds the registry login ({})", left.message);
                e.with_help(help)
            });
        }
    }
    pushed
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_registry_login_is_a_secret_from_where_it_enters() {
        let password = "image-Pa55word-0451";
        let login = Credentials::from_values(Some("ci".into()), Some(password.into())).unwrap().unwrap();
        assert_eq!(format!("{:?}", login.password), "***");
        let encoded = base64(format!("ci:{password}").as_bytes());
        let said = crate::redact::text(&format!("denied: {password}; auth {encoded}"));
        assert!(!said.contains(password) && !said.contains(&encoded), "{said}");
        let one = Credentials::from_values(Some("ci".into()), None).err().expect("a user alone is refused");
        assert_eq!(one.kind, crate::error::Kind::Usage);
        assert!(Credentials::from_values(None, None).unwrap().is_none());
    }

    use super::*;

    #[test]
    fn tags_repositories_and_encodings() {
        assert!(valid_tag("feature-login_form") && valid_tag("1.3") && !valid_tag("-x") && !valid_tag("a/b"));
        assert!(valid_repository("127.0.0.1:5000/portal") && valid_repository("registry.example.com:443/team/portal"));
        assert!(!valid_repository("portal") && !valid_repository("docker://x/y") && !valid_repository("x/Portal"));
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(rfc3339(1767225600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn tar_headers_are_ustar_with_checksums() {
        let mut entries = BTreeMap::new();
        entries.insert("usr".to_string(), Entry { kind: EntryKind::Dir, mode: 0o755, mtime: 1 });
        entries.insert("usr/bin/x".to_string(), Entry { kind: EntryKind::File(b"hi".to_vec()), mode: 0o755, mtime: 1 });
        let t = tar(&entries).unwrap();
        assert_eq!(t.len(), 512 * 3 + 1024);
        assert_eq!(&t[257..262], b"ustar");
        assert_eq!(&t[..4], b"usr/");
        let sum: u64 =
            t[..512].iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
        assert_eq!(std::str::from_utf8(&t[148..154]).unwrap(), format!("{sum:06o}"));
    }
}
