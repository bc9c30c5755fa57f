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

/// The build time of every in-process build of the tests (and of the CLI
/// builds a test compares with them, through SOURCE_DATE_EPOCH).
pub const TEST_EPOCH: i64 = 1_700_000_000;

/// The shared build's folder, removed when the test binary exits (a
/// static is never dropped, and the folder holds ~700 MB).
static SHARED_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_shared_dir() {
    if let Some(d) = SHARED_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

pub fn shared_build() -> &'static SharedBuild {
    static BUILD: OnceLock<SharedBuild> = OnceLock::new();
    census_pipeline::release::set_build_epoch(TEST_EPOCH);
    BUILD.get_or_init(|| {
        let dir = tempdir();
        if SHARED_DIR.set(dir.path().to_path_buf()).is_ok() {
            // SAFETY: registers a plain function to run at process exit.
            unsafe {
                libc::atexit(remove_shared_dir);
            }
        }
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
value = { type = "int", unit = "count", direction = "neutral", aliases = ["Value"] }
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

/// A copy of the real stage specs in `dir/stages`: those named, or all of
/// them when `specs` is empty. Tests edit the copy, never the repository's.
pub fn copy_stages(dir: &Path, specs: &[&str]) -> PathBuf {
    let stages = dir.join("stages");
    std::fs::create_dir_all(&stages).unwrap();
    for e in std::fs::read_dir(stages_dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if specs.is_empty() || specs.iter().any(|s| name == *s) {
            std::fs::copy(&p, stages.join(name)).unwrap();
        }
    }
    stages
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

/// A release's datapackage.json.
pub fn datapackage(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("datapackage.json")).unwrap()).unwrap()
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

/// A copy of the shared catalog over a data directory in which `file` is
/// replaced by `edit(original text)`; returns the build error message.
pub fn build_with_edited(file: &str, edit: impl Fn(String) -> String) -> String {
    build_error_with_edited(file, edit).to_string()
}

/// As [`build_with_edited`], returning the error itself.
pub fn build_error_with_edited(
    file: &str,
    edit: impl Fn(String) -> String,
) -> census_pipeline::Error {
    let dir = tempdir();
    let data = dir.path().join("data");
    mirror_data(&data);
    let original = read_text(&data_dir().join(file));
    let target = data.join(file);
    std::fs::remove_file(&target).unwrap();
    if file.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, edit(original).as_bytes()).unwrap();
        std::fs::write(&target, gz.finish().unwrap()).unwrap();
    } else {
        std::fs::write(&target, edit(original)).unwrap();
    }

    let catalog = edited_catalog(dir.path(), &data, file);
    let (catalog, graph) = load_config(&catalog, &stages_dir()).unwrap();
    let out = dir.path().join("release");
    let err = build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: shared_build().cache.clone(),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
    .expect_err("the build must fail");
    assert!(!out.exists(), "nothing is published");
    err
}

pub fn read_text(path: &Path) -> String {
    String::from_utf8(read_bytes(path)).unwrap()
}

/// A file's bytes, gunzipped if its name ends `.gz` (for files in other
/// encodings than UTF-8).
pub fn read_bytes(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if !path.to_string_lossy().ends_with(".gz") {
        return bytes;
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut out)
        .unwrap();
    out
}

/// Links every file of the real data directory into `to`.
pub fn mirror_data(to: &Path) {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                walk(&src, &dst);
            } else {
                std::os::unix::fs::symlink(std::fs::canonicalize(&src).unwrap(), &dst).unwrap();
            }
        }
    }
    walk(&data_dir(), to);
}

/// Builds `catalog` with the stages in `stages` into `dir/release`, reusing
/// the shared build's stage cache (only what the edit touches is rebuilt).
pub fn build_on_shared_cache(
    dir: &Path,
    catalog: &Path,
    stages: &Path,
) -> census_pipeline::Result<PathBuf> {
    let (catalog, graph) = census_pipeline::plan::load_config(catalog, stages).unwrap();
    let out = dir.join("release");
    census_pipeline::build::build(
        &catalog,
        &graph,
        &census_pipeline::build::BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: shared_build().cache.clone(),
            fetch: Default::default(),
            limits: Default::default(),
        },
    )
    .map(|_| out)
}

/// Builds `catalog` with the stages in `stages` into `dir/out`, with its
/// own stage cache in `dir/cache` (kept between builds of one test).
pub fn build_with_own_cache(
    dir: &Path,
    catalog: &Path,
    stages: &Path,
    out: &str,
) -> census_pipeline::Result<BuildReport> {
    let (catalog, graph) = load_config(catalog, stages).unwrap();
    build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: dir.join(out),
            cache_dir: dir.join("cache"),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
}

/// The shared catalog, pointed at `data`, with `file`'s pin lifted.
pub fn edited_catalog(dir: &Path, data: &Path, file: &str) -> PathBuf {
    let text = std::fs::read_to_string(shared_catalog()).unwrap();
    let mut out = String::new();
    let mut lift_next_pin = false;
    for line in text.lines() {
        if line.starts_with("datasets = ") {
            out.push_str(&format!(
                "datasets = {:?}\n",
                repo().join("datasets.toml").to_string_lossy()
            ));
        } else if line.starts_with("data_dir = ") {
            out.push_str(&format!("data_dir = {:?}\n", data.to_string_lossy()));
        } else if line.starts_with("data_dir_env") {
        } else if line == format!("path = {file:?}") {
            out.push_str(line);
            out.push('\n');
            lift_next_pin = true;
        } else if lift_next_pin && line.starts_with("sha256 = ") {
            out.push_str("unpinned = \"a deliberately edited copy for a test\"\n");
            lift_next_pin = false;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = dir.join("edited.sources.toml");
    std::fs::write(&path, out).unwrap();
    path
}

/// Copies a release's tables, data package, manifest and verification (not
/// its API) into `to`, for tests that alter a copy.
pub fn copy_release(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("tables")).unwrap();
    for e in std::fs::read_dir(from.join("tables")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join("tables").join(p.file_name().unwrap())).unwrap();
    }
    for f in [
        "datapackage.json",
        "manifest.json",
        "verification.json",
        ".census-release",
    ] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

/// The Chromium on this machine (`.ci/run` installs Debian's), for the
/// report and page tests.
pub fn chromium() -> &'static str {
    ["chromium", "chromium-browser", "/usr/bin/chromium"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "Chromium is needed for the report and page tests (.ci/run installs Debian's chromium)",
        )
}

/// A file of the release's API as JSON. The API's files are stored
/// gzip-encoded (and served with `Content-Encoding: gzip`).
pub fn api_json(path: &Path) -> serde_json::Value {
    let bytes = census_pipeline::gz::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// An area's file joined with the API's dictionary, as a client reads it:
/// each section gains its `title`, `missing` and `directions`, and the
/// caveats' positions become their text.
pub fn area_file(out: &Path, code: &str) -> serde_json::Value {
    let mut area = api_json(&out.join(format!("api/v2/areas/{code}.json")));
    let dict = api_json(&out.join("api/v2/dictionary.json"));
    assert_eq!(area["dictionary"], "../dictionary.json", "{code}");
    for (group, sections) in area.as_object_mut().unwrap() {
        let Some(sections) = sections.as_object_mut() else {
            continue;
        };
        for (key, section) in sections {
            if ["names", "parents"].contains(&group.as_str()) {
                continue;
            }
            let shared = dict["sections"]
                .get(format!("{group}.{key}"))
                .unwrap_or_else(|| panic!("{code}: {group}.{key} is not in the dictionary"));
            for field in ["title", "missing", "directions"] {
                if let Some(v) = shared.get(field) {
                    section[field] = v.clone();
                }
            }
        }
    }
    let caveats: Vec<serde_json::Value> = area["caveats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| dict["caveats"][i.as_u64().unwrap() as usize].clone())
        .collect();
    area["caveats"] = caveats.into();
    for gap in area["unavailable"].as_array_mut().unwrap() {
        if gap.get("reason").is_none() {
            let section = gap["section"].as_str().unwrap().to_string();
            gap["reason"] = dict["sections"][&section]["unavailable"].clone();
            assert!(gap["reason"].is_string(), "{code}: no reason for {section}");
        }
    }
    area
}

/// A Census indicator's rows for a geography type: the areas' rows from
/// `census2021_indicators`, then the flag row from
/// `census2021_indicators_unavailable` if it is unavailable for every area
/// of the type (the two tables share their columns).
pub fn indicator_rows(out: &Path, geo: &str, id: &str) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let of = |table| {
        read_table(out, table)
            .lazy()
            .filter(
                col("geography_type")
                    .eq(lit(geo))
                    .and(col("indicator_id").eq(lit(id))),
            )
            .collect()
            .unwrap()
    };
    let mut rows = of("census2021_indicators");
    rows.vstack_mut(&of("census2021_indicators_unavailable"))
        .unwrap();
    rows
}
