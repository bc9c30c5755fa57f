//! The production catalog, exercised: `sources.toml` and the real stages,
//! built with `--mirror` from the publisher files that ../shared/data holds
//! (under the names their URLs give them; nomis bulk zips rebuilt from the
//! member CSVs held there). Every source that cannot be mirrored is made
//! unavailable for this run only. This is the test that keeps the
//! production entries honest: a wrong sheet, header row, member or alias
//! fails here, not on the scheduled run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use census_pipeline::build::{build, BuildOptions};
use census_pipeline::fetch::FetchOptions;
use census_pipeline::plan::load_config;

use crate::util::*;

/// How a production source is put into the mirror.
enum Mirror {
    /// The publisher's file as ../shared/data holds it.
    Copy(PathBuf),
    /// A gzipped copy of the publisher's file, unzipped.
    Gunzip(PathBuf),
    /// A member CSV or workbook, into the zip the URL names.
    Member(PathBuf, String),
    /// The publisher's CSV as a FeatureServer query answers it (Esri JSON
    /// attributes; `x` and `y` as point geometry), for the sources that
    /// production fetches page by page.
    EsriJson(PathBuf),
}

/// Each production source that the shared data can stand in for, by the
/// file name its URL gives it.
fn plan(dir: &Path) -> (BTreeMap<String, (String, Mirror)>, toml::Table) {
    let text = std::fs::read_to_string(repo().join("sources.toml")).unwrap();
    let mut prod: toml::Table = toml::from_str(&text).unwrap();
    let shared: toml::Table = toml::from_str(&read_text(&shared_catalog())).unwrap();
    let (catalog, _) = load_config(&repo().join("sources.toml"), &stages_dir()).unwrap();
    let mut out = BTreeMap::new();
    for (id, src) in &catalog.sources {
        if src.raw.unavailable.is_some() {
            continue;
        }
        let Some(s) = shared["sources"]
            .get(id.as_str())
            .and_then(|v| v.as_table())
        else {
            continue;
        };
        let derived = s.get("derived").and_then(|v| v.as_bool()).unwrap_or(false);
        let path = s.get("path").and_then(|v| v.as_str()).unwrap_or_default();
        let file = data_dir().join(path);
        if derived || !file.is_file() {
            continue;
        }
        let format = |t: &toml::Table| {
            t.get("format")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let pf = serde_json::to_value(src.raw.format)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let sf = format(s);
        let how = match (pf.as_str(), sf.as_str(), &src.raw.member) {
            (p, s, None) if p == s => Mirror::Copy(file),
            ("csv", "csv.gz", None) => Mirror::Gunzip(file),
            ("zip", "csv" | "xlsx", Some(m)) if file.file_name().is_some_and(|n| *n == **m) => {
                Mirror::Member(file, m.clone())
            }
            ("esri_json", "csv" | "csv.gz", None) => Mirror::EsriJson(file),
            _ => continue,
        };
        out.insert(id.clone(), (src.file_name(), how));
    }
    // Every other source is unavailable for this run.
    let sources = prod["sources"].as_table_mut().unwrap();
    for (id, v) in sources.iter_mut() {
        if !out.contains_key(id) {
            let t = v.as_table_mut().unwrap();
            t.entry("unavailable").or_insert_with(|| {
                toml::Value::String("not in the test mirror of ../shared/data".into())
            });
        }
    }
    let catalog = prod["catalog"].as_table_mut().unwrap();
    catalog.insert(
        "datasets".into(),
        toml::Value::String(repo().join("datasets.toml").to_string_lossy().into_owned()),
    );
    let _ = dir;
    (out, prod)
}

/// Writes the mirror folder.
fn write_mirror(mirror: &Path, plan: &BTreeMap<String, (String, Mirror)>) {
    std::fs::create_dir_all(mirror).unwrap();
    let mut zips: BTreeMap<&String, Vec<(&PathBuf, &String)>> = BTreeMap::new();
    for (name, how) in plan.values() {
        match how {
            Mirror::Copy(f) => {
                std::fs::copy(f, mirror.join(name)).unwrap();
            }
            Mirror::Gunzip(f) => {
                std::fs::write(mirror.join(name), read_bytes(f)).unwrap();
            }
            Mirror::Member(f, m) => zips.entry(name).or_default().push((f, m)),
            Mirror::EsriJson(f) => {
                std::fs::write(mirror.join(name), esri_json(&read_text(f))).unwrap();
            }
        }
    }
    for (name, members) in zips {
        let file = std::fs::File::create(mirror.join(name)).unwrap();
        let mut z = zip::ZipWriter::new(file);
        for (f, m) in members {
            z.start_file(m.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(&std::fs::read(f).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }
}

/// A CSV's rows as the features of an Esri JSON answer.
fn esri_json(csv_text: &str) -> String {
    let mut r = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    let features: Vec<serde_json::Value> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            let attrs: serde_json::Map<String, serde_json::Value> = headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            let point = |k: &str| attrs.get(k).and_then(|v| v.as_str()?.parse::<f64>().ok());
            match (point("x"), point("y")) {
                (Some(x), Some(y)) => {
                    serde_json::json!({"attributes": attrs, "geometry": {"x": x, "y": y}})
                }
                _ => serde_json::json!({"attributes": attrs}),
            }
        })
        .collect();
    serde_json::json!({ "features": features }).to_string()
}

#[test]
fn the_production_catalog_builds_from_a_mirror_of_the_publisher_files() {
    let dir = tempdir();
    let (plan, catalog) = plan(dir.path());
    assert!(
        plan.len() > 12,
        "only {} production sources can be mirrored",
        plan.len()
    );
    let mirror = dir.path().join("mirror");
    write_mirror(&mirror, &plan);
    let path = dir.path().join("production.sources.toml");
    std::fs::write(&path, toml::to_string(&catalog).unwrap()).unwrap();

    let (catalog, graph) =
        load_config(&path, &stages_dir()).expect("the production catalog is valid");
    let out = dir.path().join("release");
    let report = build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: dir.path().join("cache"),
            fetch: FetchOptions {
                mirror: Some(mirror),
                ..FetchOptions::default()
            },
            limits: Default::default(),
        },
    )
    .expect("the production catalog builds from the mirror");

    // Every mirrored source is a table with its declared rows and every
    // canonical column of its dataset.
    for id in plan.keys() {
        let src = &catalog.sources[id];
        let entry = report
            .manifest
            .tables
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not loaded"));
        if let Some(rows) = src.raw.rows {
            assert_eq!(entry.rows, rows, "{id}");
        }
        let t = read_table(&out, id);
        for col in catalog.datasets[id].columns.keys() {
            assert!(t.column(col).is_ok(), "{id} lacks `{col}`");
        }
    }
    eprintln!(
        "production sources read from the mirror: {} ({:?})",
        plan.len(),
        plan.keys().collect::<Vec<_>>()
    );
}
