//! Building the shared catalog: every table, its row count, the manifest,
//! and a rebuild that does nothing.

use census_pipeline::catalog::Catalog;
use census_pipeline::release::Manifest;

use crate::util::*;

fn manifest(out: &std::path::Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn every_dataset_becomes_a_table_with_the_row_count_of_manifest_md() {
    let b = shared_build();
    let catalog = Catalog::load(&shared_catalog()).unwrap();
    let m = manifest(&b.out);
    let mut checked = 0;
    for (id, src) in &catalog.sources {
        let entry = m
            .tables
            .get(id)
            .unwrap_or_else(|| panic!("no table for {id}"));
        // The manifest counts records after the first line of a CSV, the
        // sheet's rows for a workbook, and the .dbf records for a shapefile.
        let path = src
            .raw
            .path
            .as_ref()
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let folder = data_dir().join(&path);
        let expected = if folder.is_dir() {
            // A folder of member files: the sum of their counts.
            std::fs::read_dir(&folder)
                .unwrap()
                .map(|e| {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    manifest_count(&manifest_rows_cell(&format!("{path}/{name}")), None)
                })
                .sum()
        } else if src.raw.format.is_spreadsheet() {
            manifest_count(&manifest_rows_cell(&path), src.raw.sheet.as_deref())
                - src.raw.header_row
        } else if path.ends_with(".shp") {
            manifest_count(&manifest_rows_cell(&path.replace(".shp", ".dbf")), None)
        } else {
            manifest_count(&manifest_rows_cell(&path), None) - (src.raw.header_row - 1)
        };
        assert_eq!(
            entry.rows, expected,
            "{id}: rows in the table vs MANIFEST.md"
        );
        assert_eq!(
            read_table(&b.out, id).height(),
            expected,
            "{id}: rows in the Parquet file"
        );
        checked += 1;
    }
    assert_eq!(checked, catalog.sources.len());
    assert!(
        checked >= 50,
        "the shared catalog covers the files in ../shared/data"
    );
}

#[test]
fn manifest_lists_every_file_with_its_true_size_and_sha256() {
    let b = shared_build();
    let m = manifest(&b.out);
    // Every table as Parquet and as CSV, verification.json,
    // datapackage.json, openapi.json, the release marker, the page's files
    // and maps (tests/site.rs), and the API's files (tests/api.rs).
    let (api, other): (Vec<_>, Vec<_>) = m.files.iter().partition(|f| f.path.starts_with("api/"));
    let (site, other): (Vec<_>, Vec<_>) =
        other.into_iter().partition(|f| f.path.starts_with("site/"));
    assert_eq!(other.len(), 2 * m.tables.len() + 4);
    assert!(site.iter().any(|f| f.path == "site/map/index.json"));
    for name in [
        "verification.json",
        "datapackage.json",
        "openapi.json",
        ".census-release",
    ] {
        assert!(m.files.iter().any(|f| f.path == name), "{name}");
    }
    // Less manifest.json itself and the build's key (`.census-build`: what
    // the release was built from, not part of its content, never published).
    assert!(b.out.join(census_pipeline::build::KEY_FILE).is_file());
    let on_disk = walkdir(&b.out).len() - 2;
    assert_eq!(on_disk, m.files.len(), "every file is listed");
    assert!(api.len() > 60_000);
    for f in other {
        let bytes = std::fs::read(b.out.join(&f.path)).unwrap();
        assert_eq!(bytes.len() as u64, f.bytes, "{}", f.path);
        assert_eq!(sha256_hex(&bytes), f.sha256, "{}", f.path);
    }
}

#[test]
fn the_data_package_describes_every_table_with_hashes_and_directions() {
    let b = shared_build();
    let m = manifest(&b.out);
    let pkg: serde_json::Value = datapackage(&b.out);
    assert_eq!(pkg["version"], "1.0.0");
    assert_eq!(pkg["version"].as_str(), Some(m.version.as_str()));
    // The Parquet resources (each table's CSV copy is tested beside it).
    let resources: Vec<&serde_json::Value> = pkg["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["format"] == "parquet")
        .collect();
    assert_eq!(resources.len(), m.tables.len());
    for r in &resources {
        let name = r["name"].as_str().unwrap();
        let file = m.files.iter().find(|f| f.path == r["path"]).unwrap();
        assert_eq!(r["hash"], format!("sha256:{}", file.sha256), "{name}");
        assert_eq!(r["rows"], m.tables[name].rows, "{name}");
        let fields = r["schema"]["fields"].as_array().unwrap();
        assert!(!fields.is_empty());
        for f in fields {
            assert!(
                matches!(
                    f["type"].as_str(),
                    Some("string" | "integer" | "number" | "boolean")
                ),
                "{name}: {f}"
            );
            let d = f["description"].as_str().unwrap();
            // Not `imd_average_rank`: a mean of inverted ranks, higher =
            // more deprived (see truth.rs).
            let field = f["name"].as_str().unwrap();
            if field.ends_with("_rank")
                && field != "imd_average_rank"
                && name.starts_with("imd_")
                && !name.contains("change")
            {
                assert!(d.contains("1 = most deprived"), "{name}.{}: {d}", f["name"]);
            }
        }
    }
    let imd = resources
        .iter()
        .find(|r| r["name"] == "imd_england_2019")
        .unwrap();
    let missing = imd["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "crime_score")
        .unwrap();
    assert!(missing["description"]
        .as_str()
        .unwrap()
        .contains("EMPTY in this release"));
    let loaded = resources
        .iter()
        .find(|r| r["name"] == "iod2019_imd")
        .unwrap();
    assert_eq!(
        loaded["schema"]["primaryKey"],
        serde_json::json!(["lsoa11_code"])
    );
}

#[test]
fn each_sources_digest_is_of_the_file_it_names() {
    // A derived table reads loaded tables: its sources are those tables,
    // with their digests, not the official files the tables came from.
    let b = shared_build();
    let m = manifest(&b.out);
    let pkg: serde_json::Value = datapackage(&b.out);
    let release_digests: std::collections::HashMap<&str, &str> = m
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut tables_named = 0;
    for r in pkg["resources"].as_array().unwrap() {
        for s in r["sources"].as_array().into_iter().flatten() {
            let (path, sha) = (s["path"].as_str().unwrap(), s["sha256"].as_str().unwrap());
            if path.starts_with("tables/") {
                tables_named += 1;
                assert_eq!(release_digests.get(path), Some(&sha), "{}: {s}", r["name"]);
            } else {
                // An official address, or the file's name where the
                // catalog gives none: either way, not a table of the release.
                assert!(
                    !release_digests.values().any(|d| *d == sha),
                    "{}: a source file with a release file's digest: {s}",
                    r["name"]
                );
            }
        }
    }
    assert!(tables_named > 100, "derived tables name their input tables");
}

/// The Frictionless Data validator, as `.ci/run` installs it.
#[test]
fn the_data_package_passes_frictionless_validate() {
    let b = shared_build();
    // frictionless checks the descriptor, every table's schema against its
    // Parquet file, row types and hashes; on rows it manages ~1,500 a
    // second, so it reads the first 1,000 of each table (the Rust tests
    // check every row count and hash).
    // On PATH, or in the venv where scripts/test installs it.
    let venv = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/census-pipeline-frictionless/bin/frictionless");
    let program = if venv.is_file() {
        venv
    } else {
        "frictionless".into()
    };
    let o = std::process::Command::new(&program)
        .args([
            "validate",
            "--json",
            "--limit-rows",
            "1000",
            "datapackage.json",
        ])
        .current_dir(&b.out)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "frictionless is needed: `scripts/test` installs frictionless[parquet] into ~/.cache/census-pipeline-frictionless ({}): {e}", program.display()
            )
        });
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "frictionless printed no JSON report ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let tasks = report["tasks"].as_array().unwrap();
    // Each table twice: its Parquet file and its gzip CSV.
    assert_eq!(tasks.len(), 2 * b.report.manifest.tables.len());
    let invalid: Vec<String> = tasks
        .iter()
        .filter(|t| t["valid"] != true)
        .map(|t| format!("{}: {}", t["name"], t["errors"][0]["message"]))
        .collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    assert_eq!(report["valid"], true);
}

#[test]
fn every_table_has_a_gzip_csv_beside_it_with_the_same_columns_and_rows() {
    use polars::prelude::SerReader;
    let b = shared_build();
    let pkg: serde_json::Value = datapackage(&b.out);
    let resources = pkg["resources"].as_array().unwrap();
    for (name, t) in &b.report.manifest.tables {
        let path = b.out.join(format!("tables/{name}.csv.gz"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: no CSV: {e}"));
        let mut csv = ::csv::Reader::from_reader(flate2::read::GzDecoder::new(&bytes[..]));
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let parquet = std::fs::File::open(b.out.join(&t.path)).unwrap();
        let schema = polars::prelude::ParquetReader::new(parquet)
            .schema()
            .unwrap();
        let columns: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        assert_eq!(header, columns, "{name}: the CSV's header");
        assert_eq!(csv.records().count(), t.rows, "{name}: the CSV's rows");
        let r = resources
            .iter()
            .find(|r| r["name"] == format!("{name}_csv"))
            .unwrap_or_else(|| panic!("{name}: the data package lists no CSV"));
        assert_eq!(r["path"], format!("tables/{name}.csv.gz"));
        assert_eq!(
            (r["format"].as_str(), r["compression"].as_str()),
            (Some("csv"), Some("gz"))
        );
        assert_eq!(
            r["hash"],
            format!("sha256:{}", census_pipeline::cache::sha256_bytes(&bytes))
        );
    }
}

#[test]
fn the_data_package_says_how_to_cite_it_naming_publishers_licences_and_os_data() {
    let b = shared_build();
    let pkg: serde_json::Value = datapackage(&b.out);
    let citation = pkg["citation"].as_str().unwrap();
    for words in [
        &format!("release {}", pkg["version"].as_str().unwrap()),
        "Open Government Licence v3.0 from: MHCLG, NISRA, ONS, Scottish Government, Welsh Government.",
        "Contains OS data © Crown copyright and database right.",
        "Contains Royal Mail data © Royal Mail copyright and database right.",
        "data licensed under CC-BY-4.0 from: mySociety.",
    ] {
        assert!(citation.contains(words), "the citation lacks {words:?}: {citation}");
    }
    // Every source the tables were loaded from, with its licence.
    let sources = pkg["sources"].as_array().unwrap();
    let loaded = b
        .report
        .manifest
        .tables
        .values()
        .filter(|t| t.stage == "load")
        .count();
    assert_eq!(sources.len(), loaded);
    assert!(sources
        .iter()
        .all(|s| s["licence"].is_string() && s["publisher"].is_string()));
    let boundaries = sources
        .iter()
        .find(|s| {
            s["title"]
                .as_str()
                .unwrap()
                .contains("LSOA (December 2021) boundaries")
        })
        .unwrap();
    assert!(boundaries["attribution"]
        .as_str()
        .unwrap()
        .contains("Contains OS data"));
}

#[test]
fn tables_carry_their_provenance_in_parquet_metadata() {
    let b = shared_build();
    let kv = parquet_kv(&b.out.join("tables/imd_england_2019.parquet"));
    assert!(
        kv["census_pipeline.inputs"].contains("iod2019_domains:"),
        "{kv:?}"
    );
    assert!(kv.contains_key("census_pipeline.built_at"));
    assert!(kv["census_pipeline.version"].starts_with(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_second_identical_build_does_no_stage_work_and_writes_identical_files() {
    let b = shared_build();
    let dir = tempdir();
    let out2 = dir.path().join("again");
    let again = build_shared(&out2, &b.cache);
    assert_eq!(again.computed(), 0, "nothing changed, so no stage work");
    assert_eq!(manifest(&out2), manifest(&b.out));
    for f in &manifest(&b.out).files {
        assert_eq!(
            std::fs::read(out2.join(&f.path)).unwrap(),
            std::fs::read(b.out.join(&f.path)).unwrap(),
            "{} is byte-identical",
            f.path
        );
    }
}

#[test]
fn building_the_release_in_place_again_does_nothing_unless_it_was_damaged() {
    let b = shared_build();
    let dir = tempdir();
    let out = dir.path().join("release");
    build_shared(&out, &b.cache);
    let marker = out.join("manifest.json");
    let inode =
        |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&marker);
    // The same build into the same directory: no stage runs, no file is
    // written (the manifest is the very same file).
    let again = build_shared(&out, &b.cache);
    assert!(again.stages.is_empty(), "no stage ran");
    assert_eq!(inode(&marker), before, "the release was not rewritten");
    assert_eq!(again.manifest, manifest(&out));
    // A file deleted from the release: the build runs and restores it.
    let table = out.join("tables/imd_england_2019.csv.gz");
    std::fs::remove_file(&table).unwrap();
    let repaired = build_shared(&out, &b.cache);
    assert!(!repaired.stages.is_empty(), "a damaged release is rebuilt");
    assert_eq!(
        std::fs::read(&table).unwrap(),
        std::fs::read(b.out.join("tables/imd_england_2019.csv.gz")).unwrap()
    );
}

#[test]
fn a_changed_declaration_rebuilds_the_stages_that_read_it_though_no_bytes_changed() {
    // The UK table takes each index's edition from its declared schema, not
    // from its rows: a spec that changes only the edition leaves the Welsh
    // table's bytes as they were, and the stack must not come from the
    // cache with the old edition.
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &[]);
    let spec = stages.join("imd_wales_2025.toml");
    let text = read_text(&spec);
    assert!(text.contains("edition = \"2025\"\n"));
    std::fs::write(
        &spec,
        text.replace("edition = \"2025\"\n", "edition = \"2025 v2\"\n"),
    )
    .unwrap();
    let out = build_on_shared_cache(dir.path(), &shared_catalog(), &stages).unwrap();
    let t = read_table(&out, "imd_uk_small_areas");
    let (nation, edition) = (
        t.column("nation").unwrap().str().unwrap().clone(),
        t.column("edition").unwrap().str().unwrap().clone(),
    );
    let welsh: std::collections::BTreeSet<&str> = nation
        .iter()
        .zip(edition.iter())
        .filter(|(n, _)| *n == Some("Wales"))
        .filter_map(|(_, e)| e)
        .collect();
    assert_eq!(welsh, ["2025 v2"].into(), "the Welsh rows' edition");
}

#[test]
fn a_changed_missing_reason_reaches_the_api_though_no_table_bytes_changed() {
    // A reason for a missing column is declared in the index's spec and
    // quoted by every area file; it is not in the table's bytes.
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &[]);
    let spec = stages.join("imd_england_2019.toml");
    let old = "crime_score = \"IoD2019 domain scores (File 5) are not among this stage's inputs\"";
    let text = read_text(&spec);
    assert!(text.contains(old));
    std::fs::write(
        &spec,
        text.replace(old, "crime_score = \"Not read in this test\""),
    )
    .unwrap();
    let out = build_on_shared_cache(dir.path(), &shared_catalog(), &stages).unwrap();
    let area = area_file(&out, "E01000001");
    let missing = &area["deprivation"]["imd_england_2019"]["missing"];
    assert_eq!(missing["crime_score"], "Not read in this test", "{missing}");
}

#[test]
fn a_changed_attribute_file_beside_a_shapefile_reloads_it() {
    // The names of a shapefile's areas are in its `.dbf`: with the `.shp`
    // byte for byte the same, the table must still be read again.
    let dir = tempdir();
    let data = dir.path().join("data");
    mirror_data(&data);
    let dbf = "boundaries/MSOA_2021_EW_BSC/MSOA_2021_EW_BSC.dbf";
    let bytes = std::fs::read(data_dir().join(dbf)).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"Hartlepool 001")
        .unwrap();
    let mut edited = bytes.clone();
    edited[at..at + 14].copy_from_slice(b"Hartlepoox 001");
    std::fs::remove_file(data.join(dbf)).unwrap();
    std::fs::write(data.join(dbf), edited).unwrap();
    // No `path` is the `.dbf`'s: every pin stays, the `.shp`'s too.
    let catalog = edited_catalog(dir.path(), &data, dbf);
    let out = build_on_shared_cache(dir.path(), &catalog, &stages_dir()).unwrap();
    let t = read_table(&out, "msoa21_boundaries");
    let names: Vec<&str> = t
        .column("msoa21_name")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .filter(|n| n.starts_with("Hartlepo"))
        .collect();
    assert!(names.contains(&"Hartlepoox 001"), "{names:?}");
    assert!(!names.contains(&"Hartlepool 001"), "{names:?}");
}

/// A Parquet file's key-value metadata.
fn parquet_kv(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    use polars::prelude::SerReader;
    let mut reader = polars::prelude::ParquetReader::new(std::fs::File::open(path).unwrap());
    let meta = reader.get_metadata().unwrap().clone();
    meta.key_value_metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| Some((kv.key, kv.value?)))
        .collect()
}

#[test]
fn a_renamed_source_is_loaded_under_its_new_name() {
    // A loaded table's metadata names its source: the same file under a
    // new name must not come from the old name's cached unit.
    let dir = tempdir();
    let (catalog, stages) = tiny_fixture(dir.path(), "Area code,Value\nA1,1\nA2,2\n", Some(2));
    let build_into = |catalog: &std::path::Path, out: &str| {
        build_with_own_cache(dir.path(), catalog, &stages, out).unwrap();
    };
    build_into(&catalog, "a");
    let renamed = read_text(&catalog)
        .replace("[sources.tiny]", "[sources.renamed]")
        .replace("[datasets.tiny", "[datasets.renamed");
    std::fs::write(&catalog, renamed).unwrap();
    let datasets = dir.path().join("datasets.toml");
    std::fs::write(
        &datasets,
        read_text(&datasets).replace("[datasets.tiny", "[datasets.renamed"),
    )
    .unwrap();
    build_into(&catalog, "b");
    let kv = parquet_kv(&dir.path().join("b/tables/renamed.parquet"));
    assert_eq!(
        kv.get("census_pipeline.source").map(String::as_str),
        Some("renamed")
    );
}

#[test]
fn a_source_newly_declared_derived_makes_the_tables_built_from_it_derived() {
    // Whether a source is the publisher's own file is a declaration, not in
    // its bytes; a table built from it says so in turn, and must not come
    // from the cache saying otherwise. (With the build time fixed, as every
    // test build's is, the loaded table's bytes do not change either.)
    census_pipeline::release::set_build_epoch(TEST_EPOCH);
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("l.csv"),
        "lsoa11_code,lsoa21_code,change,lad22_code\nE01000001,E01000001,U,E09000001\nE01000002,E01000003,S,E09000001\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("datasets.toml"),
        "[datasets.lkp]\ntitle = \"A tiny look-up\"\nkey = [\"lsoa11_code\", \"lsoa21_code\"]\n[datasets.lkp.columns]\n\
         lsoa11_code = { type = \"string\" }\nlsoa21_code = { type = \"string\" }\nchange = { type = \"string\" }\nlad22_code = { type = \"string\" }\n",
    )
    .unwrap();
    let stages = load_all_stages(dir.path());
    std::fs::write(
        stages.join("bc.toml"),
        "kind = \"boundary_change\"\ndescription = \"Changes.\"\ntable = \"bc\"\n\
         lookup = { table = \"lkp\", lsoa11 = \"lsoa11_code\", lsoa21 = \"lsoa21_code\", change = \"change\" }\nlad_code = \"lad22_code\"\n",
    )
    .unwrap();
    let catalog = dir.path().join("tiny.sources.toml");
    let write_catalog = |derived: bool| {
        std::fs::write(
            &catalog,
            format!(
                "[catalog]\nname = \"tiny\"\ndatasets = \"datasets.toml\"\ndata_dir = \"data\"\n\
                 [sources.lkp]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\n\
                 path = \"l.csv\"\nunpinned = \"fixture\"\nformat = \"csv\"\nderived = {derived}\n"
            ),
        )
        .unwrap();
    };
    let build_into = |out: &str| {
        build_with_own_cache(dir.path(), &catalog, &stages, out)
            .unwrap()
            .manifest
    };
    write_catalog(false);
    assert!(!build_into("a").tables["bc"].derived);
    write_catalog(true);
    let m = build_into("b");
    assert!(m.tables["lkp"].derived);
    assert!(m.tables["bc"].derived, "built from a derived source");
}

#[test]
fn values_are_exactly_as_published() {
    use polars::prelude::*;
    let b = shared_build();
    let row = |table: &str, key: &str, code: &str| {
        read_table(&b.out, table)
            .lazy()
            .filter(col(key).eq(lit(code)))
            .collect()
            .unwrap()
    };
    // Westminster 018C: IMD 2019 rank 24,862 and decile 8 in File 1 (the
    // original platform's README said 28,230 / 9).
    let w = row("iod2019_imd", "lsoa11_code", "E01004736");
    assert_eq!(
        w.column("imd_rank").unwrap().i64().unwrap().get(0),
        Some(24862)
    );
    assert_eq!(
        w.column("imd_decile").unwrap().i64().unwrap().get(0),
        Some(8)
    );
    assert_eq!(
        w.column("lad19_name").unwrap().str().unwrap().get(0),
        Some("Westminster")
    );
    // Full precision from a workbook: SIMD 2020v2 indicators, Culter - 01.
    let s = row("simd2020v2_indicators", "data_zone_code", "S01006506");
    assert_eq!(
        s.column("alcohol").unwrap().f64().unwrap().get(0),
        Some(28.72818263)
    );
    // A CSV score: IoD2025 IMD score of E01000001.
    let e = row("iod2025_all", "lsoa21_code", "E01000001");
    assert_eq!(
        e.column("imd_score").unwrap().f64().unwrap().get(0),
        Some(8.742)
    );
    // File 10 2019, Hartlepool: the published summary measures.
    let h = row("iod2019_lad_summaries", "lad19_code", "E06000001");
    assert_eq!(
        h.column("imd_average_rank").unwrap().f64().unwrap().get(0),
        Some(22581.98)
    );
    assert_eq!(
        h.column("imd_extent").unwrap().f64().unwrap().get(0),
        Some(0.4973)
    );
}

#[test]
fn columns_a_source_lacks_are_null_and_the_reason_is_published() {
    let b = shared_build();
    let t = read_table(&b.out, "iod2025_all");
    assert_eq!(t.column("idaci_score").unwrap().null_count(), t.height());
    let m = manifest(&b.out);
    let reason = &m.tables["iod2025_all"].missing_columns["idaci_score"];
    assert!(reason.contains("IDACI"), "{reason}");
    assert!(m.tables["iod2025_all"].derived);
}

#[test]
fn suppressed_values_and_tied_ranks_are_read_as_published() {
    let b = shared_build();
    let ind = read_table(&b.out, "simd2020v2_indicators");
    assert!(
        ind.column("income_rate").unwrap().null_count() > 0,
        "`*` is read as null"
    );
    let ranks = read_table(&b.out, "simd2020v2_ranks");
    let crime = ranks.column("crime_rank").unwrap().f64().unwrap();
    assert!(
        crime.iter().flatten().any(|r| r.fract() == 0.5),
        "tied ranks keep their .5"
    );
}

#[test]
fn a_windows_1252_csv_is_decoded_when_declared() {
    let b = shared_build();
    let t = read_table(&b.out, "scotland_dz_lookup");
    assert_eq!(t.height(), 6976);
    let names = t.column("ward_name").unwrap().str().unwrap();
    assert!(names
        .iter()
        .flatten()
        .any(|n| n.starts_with("Annandale East and Eskdale")));
}

#[test]
fn boundary_layers_keep_their_geometry() {
    let b = shared_build();
    let msoa = read_table(&b.out, "msoa21_boundaries");
    let g = msoa
        .column("geometry")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&g).unwrap();
    assert!(
        matches!(v["type"].as_str(), Some("Polygon" | "MultiPolygon")),
        "{}",
        &g[..60]
    );
    let lsoa = read_table(&b.out, "lsoa21_boundaries");
    assert_eq!(lsoa.height(), 35672);
}

/// Every file under `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
