//! The release manifest `publish` reads must never panic, and must refuse
//! versions and paths that would write outside the version's prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = census_pipeline::publish::parse_manifest(data) {
        assert!(census_pipeline::publish::semver(&m.version).is_some());
        for f in &m.files {
            assert!(!f.path.starts_with('/') && !f.path.split('/').any(|p| p == ".." || p.is_empty()));
        }
    }
});
