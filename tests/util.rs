//! Helpers shared by the test modules.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use census_pipeline::build::{build, BuildOptions, BuildReport};
use census_pipeline::fetch::FetchOptions;
use census_pipeline::plan::load_config;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the real data files are: $CENSUS_DATA_DIR, else ../shared/data.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("CENSUS_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo().join("../shared/data"),
    }
}

pub fn shared_catalog() -> PathBuf {
    repo().join("tests/shared.sources.toml")
}

pub fn stages_dir() -> PathBuf {
    repo().join("stages")
}

/// A fresh temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("census-test-")
        .tempdir()
        .unwrap()
}

/// One build of the shared catalog, made once per test run and shared by
/// every test that only reads it (a debug build of all tables takes a while).
pub struct SharedBuild {
    pub out: PathBuf,
    pub cache: PathBuf,
    pub report: BuildReport,
    _dir: tempfile::TempDir,
}

pub fn shared_build() -> &'static SharedBuild {
    static BUILD: OnceLock<SharedBuild> = OnceLock::new();
    BUILD.get_or_init(|| {
        let dir = tempdir();
        let out = dir.path().join("release");
        let cache = dir.path().join("cache");
        let report = build_shared(&out, &cache);
        SharedBuild {
            out,
            cache,
            report,
            _dir: dir,
        }
    })
}

pub fn build_shared(out: &Path, cache: &Path) -> BuildReport {
    let (catalog, graph) =
        load_config(&shared_catalog(), &stages_dir()).expect("shared catalog is valid");
    build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.to_path_buf(),
            cache_dir: cache.to_path_buf(),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
    .expect("shared build succeeds")
}

/// The "rows" cell of a file's line in ../shared/data/MANIFEST.md.
pub fn manifest_rows_cell(path: &str) -> String {
    let text = std::fs::read_to_string(data_dir().join("MANIFEST.md")).expect("MANIFEST.md");
    let needle = format!("| `{path}` |");
    let line = text
        .lines()
        .find(|l| l.starts_with(&needle))
        .unwrap_or_else(|| panic!("{path} is not in MANIFEST.md"));
    line.split('|').nth(3).unwrap().trim().to_string()
}

/// Parses "32,844 data rows x 20 cols" -> 32844, or for a workbook the
/// "<sheet>: 32845r x 6c" entry of the named sheet, or "7,264 features".
pub fn manifest_count(cell: &str, sheet: Option<&str>) -> usize {
    let num = |s: &str| s.replace(',', "").parse::<usize>().unwrap();
    if let Some(sheet) = sheet {
        let key = format!("{sheet}: ");
        let at = cell
            .find(&key)
            .unwrap_or_else(|| panic!("sheet {sheet} not in {cell:?}"))
            + key.len();
        let rest = &cell[at..];
        return num(&rest[..rest.find('r').unwrap()]);
    }
    num(cell.split_whitespace().next().unwrap())
}

/// Reads a Parquet table of a release.
pub fn read_table(out: &Path, name: &str) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let f = std::fs::File::open(out.join(format!("tables/{name}.parquet"))).unwrap();
    ParquetReader::new(f).finish().unwrap()
}

/// Writes a tiny synthetic catalog + datasets file into `dir` for tests
/// that need a catalog of their own. `sources` is the TOML of the
/// `[sources.*]` tables; the dataset `tiny` has columns `code` and `value`.
pub fn write_tiny_catalog(dir: &Path, data_dir: Option<&Path>, sources: &str) -> PathBuf {
    std::fs::write(
        dir.join("datasets.toml"),
        r#"
[datasets.tiny]
title = "A tiny synthetic table"
key = ["code"]
[datasets.tiny.columns]
code = { type = "string", aliases = ["Area code"] }
value = { type = "int", aliases = ["Value"] }
"#,
    )
    .unwrap();
    let data = match data_dir {
        Some(d) => format!("data_dir = {:?}\n", d.to_string_lossy()),
        None => String::new(),
    };
    let path = dir.join("tiny.sources.toml");
    std::fs::write(
        &path,
        format!("[catalog]\nname = \"tiny\"\ndatasets = \"datasets.toml\"\n{data}\n{sources}"),
    )
    .unwrap();
    path
}

/// An empty stages directory with one `load` stage over all datasets.
pub fn load_all_stages(dir: &Path) -> PathBuf {
    let stages = dir.join("stages");
    std::fs::create_dir_all(&stages).unwrap();
    std::fs::write(
        stages.join("load.toml"),
        "kind = \"load\"\ndescription = \"Load everything.\"\ndatasets = \"all\"\n",
    )
    .unwrap();
    stages
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    census_pipeline::cache::sha256_bytes(bytes)
}

/// A local tiny catalog in `dir` over `data/t.csv` holding `csv`, with a
/// `load` stage over it; `rows` is the declared row count, if any.
/// Returns the catalog and the stages directory.
pub fn tiny_fixture(dir: &Path, csv: &str, rows: Option<usize>) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("t.csv"), csv).unwrap();
    let rows = rows.map(|n| format!("rows = {n}\n")).unwrap_or_default();
    let catalog = write_tiny_catalog(
        dir,
        Some(&data),
        &format!(
            "[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\npath = \"t.csv\"\nunpinned = \"fixture\"\nformat = \"csv\"\n{rows}"
        ),
    );
    (catalog, load_all_stages(dir))
}

/// A release's verification.json.
pub fn verification(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("verification.json")).unwrap()).unwrap()
}

/// The checks of one table in a verification report.
pub fn table_checks<'a>(v: &'a serde_json::Value, table: &str) -> Vec<&'a serde_json::Value> {
    v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no report for {table}"))["checks"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}
