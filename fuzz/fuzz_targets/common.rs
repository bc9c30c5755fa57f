//! A source entry the reader targets share: the first input byte picks the
//! layout options, so the fuzzer explores header rows, group rows and
//! encodings as well as the bytes themselves.

use census_pipeline::catalog::RawSource;

pub fn source(format: &str, selector: u8) -> RawSource {
    let header_row = 1 + (selector & 0x03) as usize;
    let group = if selector & 0x04 != 0 && header_row > 1 { "group_row = 1\n" } else { "" };
    let encoding = if selector & 0x08 != 0 { "encoding = \"windows-1252\"\n" } else { "" };
    let sheet = if matches!(format, "xlsx" | "xls" | "ods") { "sheet = \"Data\"\n" } else { "" };
    let member = if format == "zip" { "member = \"data.csv\"\n" } else { "" };
    let text = format!(
        "title = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nformat = \"{format}\"\nheader_row = {header_row}\n{group}{encoding}{sheet}{member}"
    );
    toml::from_str(&text).expect("a valid source entry")
}

/// Small limits, so the fuzzer reaches them: a long line, a long field,
/// a stream that decompresses past its cap.
pub fn limits() -> census_pipeline::read::Limits {
    census_pipeline::read::Limits {
        max_bytes: 1 << 20,
        max_line: 4 << 10,
        max_field: 1 << 10,
    }
}
