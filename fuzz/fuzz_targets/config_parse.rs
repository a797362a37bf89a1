//! Arbitrary text as a root `Cargo.toml` through the configuration parser: no panic; what it
//! accepts gives names, variables, tags and branches without panicking either.

#![no_main]

use camino::Utf8Path;
use libfuzzer_sys::fuzz_target;
use trainyard::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::parse(Utf8Path::new("Cargo.toml"), text, "app") else { return };
    assert!(!config.name().is_empty());
    let _ = config.self_var();
    let _ = config.project_vars();
    let _ = config.tag_for("1.2");
    let _ = config.release_branch_for("1.2");
});
