//! CSV inside a valid gzip stream or zip archive must never panic, and
//! must stop at the reader's limits: the fuzzer writes the CSV, this target
//! wraps it, so the decompressors' output reaches the CSV reader.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, csv)) = data.split_first() else { return };
    let (format, bytes) = if selector & 0x80 == 0 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(csv);
        ("csv.gz", gz.finish().unwrap_or_default())
    } else {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let name = if selector & 0x40 == 0 { "data.csv" } else { "other.csv" };
        let _ = zip.start_file(name, zip::write::SimpleFileOptions::default());
        let _ = zip.write_all(csv);
        ("zip", zip.finish().map(|c| c.into_inner()).unwrap_or_default())
    };
    let _ = census_pipeline::read::read_raw_bytes(&common::source(format, selector), &bytes, &common::limits());
});
