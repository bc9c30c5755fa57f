//! CSV, gzip and zip-member reading must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = match selector >> 6 {
        0 | 1 => "csv",
        2 => "csv.gz",
        _ => "zip",
    };
    let _ = census_pipeline::read::read_raw_bytes(&common::source(format, selector), bytes, &common::limits());
});
