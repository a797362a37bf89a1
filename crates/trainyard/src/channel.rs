//! Channels: `dev`, `stage`, `prod`, each with its requirement file.

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Dev,
    Stage,
    Prod,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Dev, Channel::Stage, Channel::Prod];

    pub fn parse(text: &str) -> Result<Channel> {
        match text {
            "dev" => Ok(Channel::Dev),
            "stage" => Ok(Channel::Stage),
            "prod" => Ok(Channel::Prod),
            other => {
                Err(Error::usage(format!("unknown channel `{other}`")).with_help("channels are dev, stage and prod"))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Dev => "dev",
            Channel::Stage => "stage",
            Channel::Prod => "prod",
        }
    }

    /// stage and prod build only what their requirement file pins.
    pub fn is_pinned(self) -> bool {
        self != Channel::Dev
    }

    /// `reqs/<channel>-reqs.txt` under the workspace root.
    pub fn reqs_path(self, root: &Utf8Path, reqs_dir: &Utf8Path) -> Utf8PathBuf {
        root.join(reqs_dir).join(format!("{}-reqs.txt", self.as_str()))
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        let err = Channel::parse("production").unwrap_err();
        assert!(err.message.contains("`production`"));
        assert_eq!(Channel::Prod.reqs_path(Utf8Path::new("/w"), Utf8Path::new("reqs")), "/w/reqs/prod-reqs.txt");
    }
}
