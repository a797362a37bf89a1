//! Arbitrary bytes through the ELF reader (the Requires and Provides of packaged binaries):
//! no panic, no unbounded allocation; what parses gives its dependencies without panicking.
//! Seed the corpus with real binaries (see README.md) so mutations start from valid files.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trainyard::rpmpkg::elf::{self, ElfInfo};

fuzz_target!(|data: &[u8]| {
    let _ = elf::is_elf(data);
    if let Ok(info) = ElfInfo::parse(data) {
        let _ = info.marker();
        let _ = info.is_stripped();
        let deps = info.dependencies("fuzzed", true);
        assert_eq!(elf::dependencies(data, "fuzzed", true).ok(), Some(deps));
    }
});
