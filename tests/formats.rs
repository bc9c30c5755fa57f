//! The publishers' formats: ArcGIS FeatureServer queries fetched in pages
//! (against a real server on 127.0.0.1), a workbook inside a zip and a
//! zipped shapefile (built in the test from the real files in ../shared/data),
//! and the layout rules `check` applies to them.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use census_pipeline::build::{build, BuildOptions};
use census_pipeline::catalog::{Catalog, RawSource};
use census_pipeline::fetch::FetchOptions;
use census_pipeline::plan::load_config;
use census_pipeline::read::{read_raw_bytes, Cell, Limits, RawTable};

use crate::http::{Reply, Server};
use crate::util::*;

const QUERY: &str = "/arcgis/rest/services/TINY_LU/FeatureServer/0/query?where=1%3D1&outFields=*";

fn page_path(f: &str, offset: usize) -> String {
    format!("{QUERY}&f={f}&resultOffset={offset}")
}

/// An Esri JSON page of features `codes`, saying whether more remain.
fn esri_page(codes: &[(&str, i64)], more: bool) -> Reply {
    let features: Vec<_> = codes
        .iter()
        .map(
            |(c, v)| serde_json::json!({"attributes": {"OBJECTID": v, "Area code": c, "Value": v}}),
        )
        .collect();
    let body =
        serde_json::json!({"fields": [], "features": features, "exceededTransferLimit": more});
    Reply::Ok {
        body: body.to_string().into_bytes(),
        etag: "\"p\"",
    }
}

fn query_catalog(
    dir: &Path,
    server: &Server,
    format: &str,
    f: &str,
    rows: usize,
) -> std::path::PathBuf {
    write_tiny_catalog(
        dir,
        None,
        &format!(
            "[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nurl = \"{}\"\nunpinned = \"fixture\"\nrows = {rows}\nformat = \"{format}\"\n",
            server.url(&format!("{QUERY}&f={f}"))
        ),
    )
}

fn build_tiny(
    dir: &Path,
    catalog: &Path,
) -> census_pipeline::Result<census_pipeline::build::BuildReport> {
    let (catalog, plan) = load_config(catalog, &load_all_stages(dir)).unwrap();
    build(
        &catalog,
        &plan,
        &BuildOptions {
            previous: None,
            out: dir.join("release"),
            cache_dir: dir.join("cache"),
            fetch: FetchOptions {
                attempts: 3,
                backoff: Duration::from_millis(10),
                ..FetchOptions::default()
            },
            limits: Default::default(),
        },
    )
}

#[test]
fn a_feature_server_query_is_fetched_page_by_page_retried_and_assembled_into_one_table() {
    let server = Server::start();
    server.script(
        &page_path("json", 0),
        vec![esri_page(&[("E1", 1), ("E2", 2)], true)],
    );
    // The second page fails once (the geoportal under load), then answers.
    server.script(
        &page_path("json", 2),
        vec![Reply::Status(503), esri_page(&[("E3", 3), ("E4", 4)], true)],
    );
    server.script(&page_path("json", 4), vec![esri_page(&[("E5", 5)], false)]);
    let dir = tempdir();
    let cat = query_catalog(dir.path(), &server, "esri_json", "json", 5);

    let report = build_tiny(dir.path(), &cat).expect("the pages assemble into one table");
    assert_eq!(server.hits(&page_path("json", 0)), 1);
    assert_eq!(
        server.hits(&page_path("json", 2)),
        2,
        "the failed page was asked again"
    );
    assert_eq!(server.hits(&page_path("json", 4)), 1);
    assert_eq!(
        server.hits(&page_path("json", 6)),
        0,
        "no page after the last"
    );
    assert_eq!(report.manifest.tables["tiny"].rows, 5);
    let t = read_table(&dir.path().join("release"), "tiny");
    let codes: Vec<_> = t
        .column("code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    assert_eq!(
        codes,
        ["E1", "E2", "E3", "E4", "E5"],
        "in the server's order, each once"
    );

    // The assembled file is what is pinned: the lock records its digest,
    // and the mirror and the cache know it by the service's name.
    let catalog = Catalog::load(&cat).unwrap();
    assert_eq!(catalog.sources["tiny"].file_name(), "TINY_LU.json");
    let lock = census_pipeline::fetch::Lockfile::read(&cat.with_extension("lock")).unwrap();
    assert_eq!(
        lock.sources["tiny"].url,
        server.url(&format!("{QUERY}&f=json"))
    );
}

#[test]
fn a_server_that_ignores_the_offset_is_stopped_not_looped_on() {
    let server = Server::start();
    let page = serde_json::json!({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"Area code": "E1", "Value": 1}, "geometry": null},
            {"type": "Feature", "properties": {"Area code": "E2", "Value": 2}, "geometry": null}
        ],
        "properties": {"exceededTransferLimit": true}
    });
    let reply = Reply::Ok {
        body: page.to_string().into_bytes(),
        etag: "\"p\"",
    };
    for offset in [0, 2, 4] {
        server.script(&page_path("geojson", offset), vec![reply.clone()]);
    }
    let dir = tempdir();
    let cat = query_catalog(dir.path(), &server, "geojson", "geojson", 2);
    let err = build_tiny(dir.path(), &cat).unwrap_err().to_string();
    assert!(err.contains("a feature comes twice"), "{err}");
    assert!(err.contains("resultOffset=2"), "names the page: {err}");
    assert_eq!(
        server.hits(&page_path("geojson", 4)),
        0,
        "stopped at the repeat"
    );
    assert!(!dir.path().join("release").exists(), "nothing published");
}

#[test]
fn pages_that_overlap_say_more_but_hold_none_or_answer_busy_are_handled() {
    // ArcGIS's "busy" error comes with HTTP 200: asked again.
    let busy = Reply::Ok {
        body: br#"{"error":{"code":504,"message":"Your request has timed out."}}"#.to_vec(),
        etag: "\"b\"",
    };
    let server = Server::start();
    server.script(
        &page_path("json", 0),
        vec![busy, esri_page(&[("E1", 1), ("E2", 2)], true)],
    );
    // The next page starts inside the first: E2 twice is refused.
    server.script(
        &page_path("json", 2),
        vec![esri_page(&[("E2", 2), ("E3", 3)], false)],
    );
    let dir = tempdir();
    let cat = query_catalog(dir.path(), &server, "esri_json", "json", 3);
    let err = build_tiny(dir.path(), &cat).unwrap_err().to_string();
    assert_eq!(
        server.hits(&page_path("json", 0)),
        2,
        "the busy answer was retried"
    );
    assert!(
        err.contains("a feature comes twice") && err.contains("resultOffset=2"),
        "{err}"
    );

    // A page that says more remain but holds none is not the end.
    let server = Server::start();
    server.script(&page_path("json", 0), vec![esri_page(&[("E1", 1)], true)]);
    server.script(&page_path("json", 1), vec![esri_page(&[], true)]);
    let dir = tempdir();
    let cat = query_catalog(dir.path(), &server, "esri_json", "json", 1);
    let err = build_tiny(dir.path(), &cat).unwrap_err().to_string();
    assert!(err.contains("more features remain but holds none"), "{err}");
    assert!(!dir.path().join("release").exists());
}

fn raw(toml_text: &str) -> RawSource {
    toml::from_str(&format!(
        "title = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\n{toml_text}"
    ))
    .unwrap()
}

fn zip_of(files: &[(&str, &Path)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&std::fs::read(path).unwrap()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn column<'a>(t: &'a RawTable, header: &str) -> &'a [Cell] {
    let i = t
        .headers
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no {header} in {:?}", t.headers));
    &t.columns[i]
}

#[test]
fn a_workbook_inside_a_zip_reads_as_the_workbook_itself() {
    let name = "File_3_-_IoD2019_Supplementary_Indices_-_IDACI_and_IDAOPI.xlsx";
    let xlsx = data_dir().join("imd_england_2019").join(name);
    let sheet = "sheet = \"IoD2019 IDACI & IDAOPI\"\n";
    let direct = read_raw_bytes(
        &raw(&format!("format = \"xlsx\"\n{sheet}")),
        &std::fs::read(&xlsx).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let zipped = zip_of(&[
        ("README.txt", &data_dir().join("MANIFEST.md")),
        (name, &xlsx),
    ]);
    let from_zip = read_raw_bytes(
        &raw(&format!("format = \"zip\"\nmember = \"{name}\"\n{sheet}")),
        &zipped,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(from_zip.height(), 32_844);
    assert_eq!(from_zip.headers, direct.headers);
    assert_eq!(from_zip.columns, direct.columns);
    assert_eq!(from_zip.sheet.as_deref(), Some("IoD2019 IDACI & IDAOPI"));

    // A sheet that is not there is named with the sheets that are.
    let err = read_raw_bytes(
        &raw(&format!(
            "format = \"zip\"\nmember = \"{name}\"\nsheet = \"IDACI\"\n"
        )),
        &zipped,
        &Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"IDACI\" not found") && err.contains("IoD2019 IDACI & IDAOPI"),
        "{err}"
    );
}

#[test]
fn a_zipped_shapefile_is_read_from_its_components_in_one_zip() {
    let dir = data_dir().join("boundaries/MSOA_2021_EW_BSC");
    let part = |ext: &str| dir.join(format!("MSOA_2021_EW_BSC.{ext}"));
    let (shp, shx, dbf, prj) = (part("shp"), part("shx"), part("dbf"), part("prj"));
    let zipped = zip_of(&[
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.shp", &shp),
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.shx", &shx),
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.dbf", &dbf),
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.prj", &prj),
    ]);
    let spec = raw("format = \"shapefile\"\nmember = \"MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.shp\"\n");
    let t = read_raw_bytes(&spec, &zipped, &Limits::default()).unwrap();
    assert_eq!(t.height(), 7_264, "every record of the .dbf");
    assert_eq!(column(&t, "MSOA21CD")[0], Cell::Text("E02000001".into()));
    let Cell::Text(g) = &column(&t, "geometry")[0] else {
        panic!("no geometry")
    };
    let g: serde_json::Value = serde_json::from_str(g).unwrap();
    assert!(g["type"].as_str().unwrap().contains("Polygon"));
    let x = g["coordinates"].to_string();
    assert!(
        x.starts_with("[[[5") || x.starts_with("[[[[5"),
        "British National Grid metres (City of London ~532,000 E): {}",
        &x[..40]
    );

    // Without its projection file the shapefile cannot be checked for BNG.
    let no_prj = zip_of(&[
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.shp", &shp),
        ("MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.dbf", &dbf),
    ]);
    let err = read_raw_bytes(&spec, &no_prj, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MSOA_2021_EW_BSC.prj") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn check_holds_the_new_formats_to_their_layout() {
    let dir = tempdir();
    let head = "title = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nunpinned = \"fixture\"\n";
    let cat = write_tiny_catalog(
        dir.path(),
        None,
        &format!(
            "[sources.tiny]\n{head}url = \"https://h/a.zip\"\nformat = \"zip\"\nmember = \"book.xlsx\"\n\n\
             [sources.other]\n{head}url = \"https://h/arcgis/rest/services/X_LU/FeatureServer/0/query?where=1%3D1&f=geojson\"\nformat = \"esri_json\"\n\n\
             [sources.third]\n{head}url = \"https://h/b.zip\"\nformat = \"shapefile\"\nmember = \"*.shp\"\n"
        ),
    );
    std::fs::write(
        dir.path().join("datasets.toml"),
        std::fs::read_to_string(dir.path().join("datasets.toml")).unwrap()
            + "\n[datasets.other]\ntitle = \"o\"\nkey = [\"code\"]\n[datasets.other.columns]\ncode = { type = \"string\" }\n\
               \n[datasets.third]\ntitle = \"o\"\nkey = [\"code\"]\n[datasets.third.columns]\ncode = { type = \"string\" }\n",
    )
    .unwrap();
    let err = Catalog::load(&cat).unwrap_err().to_string();
    assert!(
        err.contains("reads a workbook from a zip but names no `sheet`"),
        "{err}"
    );
    assert!(err.contains("must ask for `f=json`"), "{err}");
    assert!(err.contains("zipped shapefile (its `.shp`)"), "{err}");
}

#[test]
fn every_production_file_has_its_own_name_in_a_mirror() {
    let (catalog, _) = load_config(&repo().join("sources.toml"), &stages_dir()).unwrap();
    let mut seen: std::collections::BTreeMap<String, (&str, &str)> = Default::default();
    for (id, s) in &catalog.sources {
        let Some(url) = s.raw.url.as_deref() else {
            continue;
        };
        if let Some((other, other_url)) = seen.insert(s.file_name(), (id, url)) {
            // Sources reading members of one zip share its name.
            assert_eq!(
                other_url,
                url,
                "{id} and {other} would share the mirror name {}",
                s.file_name()
            );
        }
    }
    let name = |id: &str| catalog.sources[id].file_name();
    assert_eq!(
        name("population_density_lsoa11_2018"),
        "sape21dt11mid2018lsoapopulationdensity.zip"
    );
    assert_eq!(name("scotland_dz_lookup"), "Datazone2011lookup (8).csv");
    assert_eq!(
        name("lookup_ward21_lad21"),
        "fe123ab719b2488ab41dd9c6aa84e79b"
    );
    assert_eq!(name("lookup_lad22_country"), "LAD22_CTRY22_UK_LU.json");
}

#[test]
fn the_transformed_scores_group_matches_the_publishers_seven_headers() {
    // IoD2025 File 9 is not in ../shared/data; its 2019 edition is, with the
    // headers public code reads from the 2025 file.
    let (catalog, _) = load_config(&repo().join("sources.toml"), &stages_dir()).unwrap();
    let group = &catalog.datasets["iod2025_transformed"].groups[0];
    let re = regex::Regex::new(&group.header).unwrap();
    let book = data_dir().join("imd_england_2019/File_9_-_IoD2019_Transformed_Scores.xlsx");
    let t = read_raw_bytes(
        &raw("format = \"xlsx\"\nsheet = \"IoD2019 Transformed Scores\"\n"),
        &std::fs::read(book).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let matched: Vec<&String> = t.headers.iter().filter(|h| re.is_match(h)).collect();
    assert_eq!(matched.len(), 7, "{:?}", t.headers);
    assert_eq!(group.count, Some(7));
}
