//! The `portal` workspace the release tests share: one packaged member `app` (RPM `portal`),
//! requirement files, a lock file, committed on a branch of a temporary git repository,
//! optionally depending on `leftpad` from a local registry and with a bare `file://` origin.
//! [`Portal`] holds the variations the tests depend on; each test says only what differs.

use std::path::PathBuf;

use super::git::{command, run, Repo, TempDir};
use super::workspace::{use_registry, write_registry, RegistryCrate};

/// `app/src/main.rs` answering `--version` with the version trainyard built it as, and
/// otherwise printing leftpad's version.
pub const MAIN_WITH_VERSION: &str = "fn main() {\n    if std::env::args().nth(1).as_deref() == Some(\"--version\") {\n        println!(\"portal {}\", option_env!(\"TRAINYARD_VERSION\").unwrap_or(\"?\"));\n        return;\n    }\n    println!(\"{}\", leftpad::VERSION);\n}\n";

/// The root `Cargo.toml`: the workspace at `version`, `config` the end of
/// `[workspace.metadata.trainyard]` (after `name = "portal"`).
pub fn manifest(version: &str, config: &str) -> String {
    format!(
        "[workspace]\nmembers = [\"app\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"{version}\"\nedition = \"2021\"\n\n[workspace.metadata.trainyard]\nname = \"portal\"\n{config}"
    )
}

/// What the origin is when the fixture is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    None,
    /// A bare repository, the remote `origin`, nothing pushed.
    Empty,
    /// The branch pushed to it and fetched back (`origin/<branch>` exists).
    Pushed,
}

/// How the portal workspace is made; [`Portal::default`] is `1.2.0-dev` on `main`.
pub struct Portal<'a> {
    pub branch: &'a str,
    /// The root `Cargo.toml`, whole.
    pub manifest: String,
    /// `description = "The portal service"` in `app/Cargo.toml`.
    pub description: bool,
    /// Versions of `leftpad` in a local registry `app` depends on (`leftpad = "1"`); none:
    /// no dependency, no registry, the lock file made offline.
    pub leftpad: &'a [&'a str],
    pub main_rs: &'a str,
    /// `reqs/prod-reqs.txt`, `reqs/stage-reqs.txt`, `reqs/dev-reqs.txt`; `None`: no file.
    pub reqs: [Option<&'a str>; 3],
    /// Commits after "initial import": a file written (path, contents) and the message.
    pub commits: &'a [(&'a str, &'a str, &'a str)],
    pub origin: Origin,
}

impl Default for Portal<'_> {
    fn default() -> Self {
        Portal {
            branch: "main",
            manifest: manifest("1.2.0-dev", "default-branch = \"main\"\n"),
            description: false,
            leftpad: &["1.0.0"],
            main_rs: "fn main() {}\n",
            reqs: [Some("# prod pins\n"), Some("# stage pins\n"), Some("")],
            commits: &[],
            origin: Origin::None,
        }
    }
}

/// The bug-numbered commit release notes pick up.
pub const BUG_COMMIT: (&str, &str, &str) =
    ("app/src/lib.rs", "pub fn tables() {}\n", "Bug 636294 - Prevent the automatic creation of the tables");

/// A made portal workspace: the work tree, a directory beside it (registry, origin, files
/// the test writes), and the bare origin's path when there is one.
pub struct Made {
    pub repo: Repo,
    pub tmp: TempDir,
    pub origin: PathBuf,
}

impl Portal<'_> {
    pub fn make(&self, label: &str) -> Made {
        let repo = Repo::init(label, self.branch);
        let tmp = TempDir::new(&format!("{label}-aux"));
        repo.write("Cargo.toml", &self.manifest);
        let description = if self.description { "description = \"The portal service\"\n" } else { "" };
        let dependencies = if self.leftpad.is_empty() { "" } else { "\n[dependencies]\nleftpad = \"1\"\n" };
        repo.write(
            "app/Cargo.toml",
            &format!(
                "[package]\nname = \"app\"\nversion.workspace = true\nedition.workspace = true\nlicense = \"MIT\"\n{description}{dependencies}\n[package.metadata.trainyard.rpm]\nname = \"portal\"\n"
            ),
        );
        repo.write("app/src/main.rs", self.main_rs);
        repo.write(".gitignore", "/target\n");
        for (channel, text) in ["prod", "stage", "dev"].iter().zip(self.reqs) {
            if let Some(text) = text {
                repo.write(&format!("reqs/{channel}-reqs.txt"), text);
            }
        }
        let mut cargo = command(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()), &repo.dir);
        cargo.args(["generate-lockfile", "--quiet"]).env_remove("CARGO_TARGET_DIR");
        if self.leftpad.is_empty() {
            cargo.arg("--offline");
        } else {
            let registry = tmp.path.join("registry");
            let crates: Vec<RegistryCrate> =
                self.leftpad.iter().map(|version| RegistryCrate { name: "leftpad", version, deps: &[] }).collect();
            write_registry(&registry, &crates);
            use_registry(&repo.dir, &registry);
        }
        run(cargo).ok();
        repo.commit_all("initial import");
        for (path, contents, message) in self.commits {
            repo.write(path, contents);
            repo.commit_all(message);
        }
        let origin = tmp.path.join("origin.git");
        if self.origin != Origin::None {
            let mut init = command("git", &tmp.path);
            init.args(["init", "--quiet", "--bare", "-b", self.branch]).arg(&origin);
            run(init).ok();
            repo.git(&["remote", "add", "origin", &format!("file://{}", origin.display())]);
        }
        if self.origin == Origin::Pushed {
            repo.git(&["push", "--quiet", "origin", self.branch]);
            repo.git(&["fetch", "--quiet", "origin"]);
        }
        Made { repo, tmp, origin }
    }
}
