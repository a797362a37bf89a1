//! Writes one RPM holding one binary, for the benchmark against rpmbuild
//! (`benches/rpm_vs_rpmbuild.sh`).
//!
//! usage: write_rpm BINARY OUT_DIR zstd|gzip LEVEL

use std::process::ExitCode;

use camino::Utf8PathBuf;
use trainyard::rpmpkg::{write, Compression, FileEntry, FileKind, Package};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, out_dir, kind, level] = args.as_slice() else {
        eprintln!("usage: write_rpm BINARY OUT_DIR zstd|gzip LEVEL");
        return ExitCode::from(2);
    };
    let compression = match (kind.as_str(), level.parse::<i32>()) {
        ("zstd", Ok(l)) => Compression::Zstd(l),
        ("gzip", Ok(l)) if l >= 0 => Compression::Gzip(l as u32),
        _ => {
            eprintln!("compression must be zstd or gzip, and the level a number");
            return ExitCode::from(2);
        }
    };
    let binary = Utf8PathBuf::from(binary);
    let name = binary.file_name().unwrap_or("bin").to_string();
    let mut pkg = Package {
        name: name.clone(),
        version: "1.0".into(),
        release: "1".into(),
        arch: trainyard::rpmpkg::assets::rpm_arch(std::env::consts::ARCH).into(),
        summary: "Benchmark package".into(),
        description: "One binary, packaged to compare writers.".into(),
        license: "MIT".into(),
        source_date: 1_700_000_000,
        files: vec![FileEntry::new(binary, format!("/usr/bin/{name}"), 0o755, FileKind::Binary)],
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
