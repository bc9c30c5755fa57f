//! Catalog and datasets parsing and validation must never panic: every
//! problem is a reported error. Input: catalog text, NUL, datasets text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (catalog, datasets) = text.split_once('\0').unwrap_or((&text, ""));
    let _ = census_pipeline::catalog::Catalog::validate_text(catalog, datasets);
});
