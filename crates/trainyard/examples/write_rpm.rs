//! Writes one RPM, for the packager benchmark (`benches/packagers.sh`).
//!
//! usage: write_rpm OUT_DIR zstd|gzip LEVEL FILE=DEST[:config|:doc] ...
//!
//! The package is named after the first file's destination; every file whose magic says ELF
//! gets its shared-library requires, as `build_rpms` does.

use std::process::ExitCode;

use camino::Utf8PathBuf;
use trainyard::rpmpkg::{write, Compression, FileEntry, FileKind, Package};

const USAGE: &str = "usage: write_rpm OUT_DIR zstd|gzip LEVEL FILE=DEST[:config|:doc] ...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out_dir, kind, level, files @ ..] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let compression = match (kind.as_str(), level.parse::<i32>()) {
        ("zstd", Ok(l)) => Compression::Zstd(l),
        ("gzip", Ok(l)) if l >= 0 => Compression::Gzip(l as u32),
        _ => {
            eprintln!("compression must be zstd or gzip, and the level a number\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut entries = Vec::new();
    for f in files {
        let Some((source, dest)) = f.split_once('=') else {
            eprintln!("`{f}`: give FILE=DEST\n{USAGE}");
            return ExitCode::from(2);
        };
        let (dest, kind, mode) = match dest.rsplit_once(':') {
            Some((d, "config")) => (d, FileKind::Config { noreplace: true }, 0o644),
            Some((d, "doc")) => (d, FileKind::Doc, 0o644),
            _ => (dest, FileKind::Binary, 0o755),
        };
        entries.push(FileEntry::new(source, dest, mode, kind));
    }
    let Some(first) = entries.first() else {
        eprintln!("no file to package\n{USAGE}");
        return ExitCode::from(2);
    };
    let name = first.dest.rsplit('/').next().unwrap_or("bench").to_string();
    let mut pkg = Package {
        name,
        version: "1.0".into(),
        release: "1".into(),
        arch: trainyard::rpmpkg::assets::rpm_arch(std::env::consts::ARCH).into(),
        summary: "Benchmark package".into(),
        description: "One binary, a configuration file and a document, packaged to compare writers.".into(),
        license: "MIT".into(),
        source_date: 1_700_000_000,
        files: entries,
        ..Package::default()
    };
    let result = pkg.add_elf_dependencies().and_then(|()| write(&pkg, &Utf8PathBuf::from(out_dir), compression));
    match result {
        Ok(w) => {
            println!("{}", w.path);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
