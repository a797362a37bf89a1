//! Arbitrary text through every version parser: no panic, and a parsed version renders to
//! each form and parses back to an equal version (the renderer and the parser are mirrors).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trainyard::version::Version;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = [
        Version::parse_pep440(text).ok(),
        Version::parse_semver(text).ok(),
        Version::parse_rpm(text).ok(),
        Version::parse_container_tag(text).ok(),
        Version::parse_any(text).ok(),
        Version::parse_tag(text, "rpm-").and_then(Result::ok),
    ];
    let _ = trainyard::version::container_tag_of_branch(text);
    for v in parsed.into_iter().flatten() {
        let pep440 = v.to_pep440();
        let back = Version::parse_pep440(&pep440).unwrap_or_else(|e| panic!("{v:?} -> {pep440}: {e}"));
        assert_eq!(back, v, "PEP 440 {pep440}");
        let rpm = v.to_rpm();
        let back = Version::parse_rpm(&rpm).unwrap_or_else(|e| panic!("{v:?} -> {rpm}: {e}"));
        assert_eq!(back, v, "RPM {rpm}");
        let semver = v.to_semver().to_string();
        let back = Version::parse_semver(&semver).unwrap_or_else(|e| panic!("{v:?} -> {semver}: {e}"));
        assert_eq!(back, v, "semver {semver}");
        if let Some(tag) = v.to_tag("rpm-") {
            let back = Version::parse_tag(&tag, "rpm-").expect("a tag of the prefix").expect("a version");
            assert_eq!(back, v, "tag {tag}");
        }
        let _ = v.to_container_tag(text);
        let _ = (v.next_minor(), v.next_micro());
    }
});
