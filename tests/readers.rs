//! Readers on bad input: each case must fail with an error that names the
//! source, file, and column or row, and must publish nothing.

use std::path::Path;

use census_pipeline::build::{build, BuildOptions};
use census_pipeline::fetch::FetchOptions;
use census_pipeline::plan::load_config;

use crate::util::*;

/// Builds a one-source catalog over `file` (written into a temp data dir)
/// and returns the error message, checking that no release appeared.
fn build_error(file_name: &str, bytes: &[u8], extra: &str) -> String {
    build_error_with(
        file_name,
        |path| std::fs::write(path, bytes).unwrap(),
        extra,
    )
}

/// As [`build_error`], with the data file made by `make` at its path.
fn build_error_with(file_name: &str, make: impl FnOnce(&Path), extra: &str) -> String {
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    make(&data.join(file_name));
    let format = if file_name.ends_with(".xlsx") {
        "xlsx"
    } else {
        "csv"
    };
    let catalog = write_tiny_catalog(
        dir.path(),
        Some(&data),
        &format!(
            r#"[sources.tiny]
title = "tiny"
publisher = "test"
licence = "OGL-UK-3.0"
edition = "1"
geography = "test"
path = "{file_name}"
unpinned = "synthetic fixture"
format = "{format}"
{extra}
"#
        ),
    );
    let stages = load_all_stages(dir.path());
    let (catalog, graph) = load_config(&catalog, &stages).expect("valid catalog");
    let out = dir.path().join("release");
    let err = build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: dir.path().join("cache"),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
    .expect_err("the build must fail");
    assert!(!out.exists(), "nothing is published when a build fails");
    assert_no_partial(dir.path());
    err.to_string()
}

fn assert_no_partial(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".partial"),
            "staging directory {name} was left behind"
        );
    }
}

#[test]
fn a_good_tiny_csv_builds() {
    let dir = tempdir();
    let (catalog, stages) =
        tiny_fixture(dir.path(), "\u{feff}Area code,Value\nA1,1\nA2,2\n", Some(2));
    let (catalog, graph) = load_config(&catalog, &stages).unwrap();
    let out = dir.path().join("release");
    let report = build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: dir.path().join("cache"),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(report.manifest.tables["tiny"].rows, 2);
    assert_eq!(read_table(&out, "tiny").height(), 2);
}

#[test]
fn a_renamed_header_names_the_column_and_lists_the_headers() {
    let msg = build_error("t.csv", b"Area code,Amount\nA1,1\n", "");
    assert!(msg.contains("source `tiny`"), "{msg}");
    assert!(msg.contains("t.csv"), "{msg}");
    assert!(msg.contains("column `value`"), "{msg}");
    assert!(msg.contains("\"Amount\""), "lists the headers found: {msg}");
}

#[test]
fn an_empty_file_is_rejected() {
    let msg = build_error("t.csv", b"", "");
    assert!(msg.contains("the file is empty"), "{msg}");
}

#[test]
fn a_value_of_the_wrong_type_names_column_and_row() {
    let msg = build_error("t.csv", b"Area code,Value\nA1,1\nA2,two\n", "");
    assert!(msg.contains("column `Value`"), "{msg}");
    assert!(msg.contains("row 3"), "{msg}");
    assert!(msg.contains("\"two\""), "{msg}");
}

#[test]
fn duplicate_keys_are_rejected_with_both_rows() {
    let msg = build_error("t.csv", b"Area code,Value\nA1,1\nA2,2\nA1,3\n", "");
    assert!(msg.contains("duplicate key \"A1\""), "{msg}");
    assert!(msg.contains("row 4"), "{msg}");
    assert!(msg.contains("first at row 2"), "{msg}");
}

#[test]
fn a_truncated_csv_row_is_rejected() {
    let msg = build_error("t.csv", b"Area code,Value\nA1,1\nA2", "");
    assert!(
        msg.contains("row has 1 fields but the header has 2"),
        "{msg}"
    );
    assert!(msg.contains("row 3"), "{msg}");
}

#[test]
fn a_row_count_other_than_declared_is_rejected() {
    let msg = build_error("t.csv", b"Area code,Value\nA1,1\n", "rows = 2");
    assert!(msg.contains("expected 2 data rows"), "{msg}");
}

#[test]
fn a_windows_1252_file_not_declared_as_such_is_rejected_with_a_hint() {
    let msg = build_error("t.csv", b"Area code,Value\nA\xa01,1\n", "");
    assert!(msg.contains("not valid UTF-8"), "{msg}");
    assert!(msg.contains("windows-1252"), "{msg}");
    assert!(msg.contains("row 2"), "{msg}");
}

#[test]
fn a_local_source_that_is_a_device_is_refused_before_it_is_read() {
    // /dev/zero would be hashed and read until the build was killed.
    let msg = build_error_with(
        "t.csv",
        |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap(),
        "",
    );
    assert!(msg.contains("is not a regular file"), "{msg}");
    assert!(msg.contains("t.csv"), "{msg}");
    // A source marked unavailable is still hashed for the build's key.
    let msg = build_error_with(
        "t.csv",
        |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap(),
        "unavailable = \"not published yet\"",
    );
    assert!(msg.contains("is not a regular file"), "{msg}");
    // A folder is a source only for one read by `member`.
    let msg = build_error_with("t.csv", |p| std::fs::create_dir(p).unwrap(), "");
    assert!(msg.contains("is not a regular file"), "{msg}");
}

#[test]
fn a_workbook_cut_short_says_to_replace_it_with_the_publishers_copy() {
    // The first half of a real workbook, as an interrupted download leaves it.
    let bytes = std::fs::read(
        data_dir().join("imd_england_2019/File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx"),
    )
    .unwrap();
    let msg = build_error("f.xlsx", &bytes[..bytes.len() / 2], "sheet = \"IMD2019\"");
    assert!(msg.contains("f.xlsx"), "{msg}");
    assert!(msg.contains("cut short or damaged"), "{msg}");
    assert!(
        msg.contains("replace it with the publisher's copy"),
        "{msg}"
    );
}

#[test]
fn a_missing_sheet_lists_the_sheets_the_workbook_has() {
    // A real workbook from ../shared/data, asked for a sheet it lacks.
    let bytes = std::fs::read(
        data_dir().join("imd_england_2019/File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx"),
    )
    .unwrap();
    let msg = build_error("f.xlsx", &bytes, "sheet = \"IMD2020\"");
    assert!(msg.contains("sheet \"IMD2020\" not found"), "{msg}");
    assert!(msg.contains("IMD2019"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_workbook_is_rejected() {
    let msg = build_error(
        "f.xlsx",
        b"<html><body>Not found</body></html>",
        "sheet = \"Data\"",
    );
    assert!(msg.contains("cannot open as Xlsx workbook"), "{msg}");
}

/// A workbook listing one sheet, `Data`, whose part is not in the file.
fn workbook_without_its_sheet() -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
    ];
    for (name, text) in parts {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_sheet_that_cannot_be_read_is_named_with_the_format_and_file() {
    let msg = build_error("f.xlsx", &workbook_without_its_sheet(), "sheet = \"Data\"");
    assert!(msg.contains("f.xlsx"), "{msg}");
    assert!(msg.contains("sheet `Data`"), "{msg}");
    assert!(
        msg.contains("cannot read sheet: Xlsx error: Worksheet 'Data' not found"),
        "{msg}"
    );
}
