//! The repositories `trainyard demo` creates, in a temporary directory of the test: server-core
//! (a workspace of its own, tagged rpm-1.0 and rpm-2.0, one commit after) and account-portal
//! (using server-core; tagged rpm-1.2, one commit after), both packaged with
//! `[package.metadata.trainyard.rpm]`. A test module adds what only it needs in an `impl Demo`
//! of its own.

use std::path::{Path, PathBuf};

use super::workspace::{git, trainyard, Run, TempDir};

pub struct Demo {
    pub tmp: TempDir,
    pub core: PathBuf,
    pub portal: PathBuf,
}

impl Demo {
    /// `trainyard demo` in a new temporary directory named after `label`.
    pub fn new(label: &str) -> Demo {
        let tmp = TempDir::new(label);
        trainyard(tmp.path(), &["demo", "--dir", tmp.path().to_str().unwrap()], &[]).ok();
        let core = tmp.path().join("server-core");
        let portal = tmp.path().join("account-portal");
        Demo { tmp, core, portal }
    }

    /// trainyard with `args`, in the portal.
    pub fn run(&self, args: &[&str]) -> Run {
        trainyard(&self.portal, args, &[])
    }

    /// The portal's default output directory of a channel's collection.
    pub fn out(&self, channel: &str) -> PathBuf {
        self.portal.join("target/rpms").join(channel)
    }

    /// The commit `reference` names in `repo`.
    pub fn commit(&self, repo: &Path, reference: &str) -> String {
        git(repo, &["rev-parse", &format!("{reference}^{{commit}}")])
    }
}
