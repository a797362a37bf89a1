//! Arbitrary text through the requirement parser: no panic, and what parses renders back
//! (`render_pins`) to a file that parses to the same pins and is stable on a second render.

#![no_main]

use camino::Utf8Path;
use libfuzzer_sys::fuzz_target;
use trainyard::reqs::{normalize, parse, render_pins, Requirement};

fn pins_of(requirements: &[Requirement]) -> Vec<(String, String)> {
    requirements.iter().filter_map(|r| Some((r.name.clone(), r.pinned()?.to_owned()))).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Utf8Path::new("reqs/fuzz-reqs.txt");
    let Ok(requirements) = parse(path, text) else { return };
    for r in &requirements {
        // `allows` must not panic on anything `parse` accepted.
        let _ = r.allows(&semver::Version::new(1, 2, 3));
        let _ = r.allows(&semver::Version::parse("0.0.0-rc.1+b").unwrap());
    }

    let pins = pins_of(&requirements);
    for existing in [Some(text), None] {
        let rendered = render_pins(existing, &pins);
        assert!(rendered.is_empty() || rendered.ends_with('\n'), "{rendered:?}");
        let back = parse(path, &rendered).unwrap_or_else(|e| panic!("rendered text does not parse: {e}\n{rendered}"));
        assert!(back.iter().all(|r| r.pinned().is_some()), "not only pins:\n{rendered}");
        let back_pins = pins_of(&back);
        // Every rendered pin is one of the pins, as written.
        for (name, version) in &back_pins {
            let key = normalize(name);
            assert!(
                pins.iter().any(|(n, v)| normalize(n) == key && v == version),
                "{name} == {version} came from nowhere"
            );
        }
        // ...and the pins read back are the pins (render_pins merges `1.0` and `1.0.0`).
        assert_eq!(render_pins(None, &back_pins), render_pins(None, &pins), "pins lost in\n{rendered}");
        assert_eq!(render_pins(Some(&rendered), &pins), rendered, "a second render changed\n{rendered}");
    }
});
