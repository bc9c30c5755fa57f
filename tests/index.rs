//! The deprivation tables of the four nations: values as published,
//! quantiles, verification, and faults that verification must catch.

use std::path::Path;

use polars::prelude::*;

use census_pipeline::stages::index::quantile;

use crate::util::*;

fn one(out: &Path, table: &str, key: &str, code: &str) -> DataFrame {
    read_table(out, table)
        .lazy()
        .filter(col(key).eq(lit(code)))
        .collect()
        .unwrap()
}

fn int(df: &DataFrame, c: &str) -> Option<i64> {
    df.column(c).unwrap().i64().unwrap().get(0)
}

fn check<'a>(v: &'a serde_json::Value, table: &str, check: &str) -> &'a serde_json::Value {
    table_checks(v, table)
        .into_iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no check {check} for {table}"))
}

#[test]
fn the_six_tables_have_the_official_row_counts() {
    let b = shared_build();
    for (table, rows) in [
        ("imd_england_2019", 32844),
        ("imd_england_2025", 33755),
        ("imd_wales_2019", 1909),
        ("imd_wales_2025", 1917),
        ("imd_scotland_2020v2", 6976),
        ("imd_ni_2017", 890),
    ] {
        assert_eq!(read_table(&b.out, table).height(), rows, "{table}");
        assert_eq!(
            check(&verification(&b.out), table, "row_count")["status"],
            "pass",
            "{table}"
        );
    }
}

#[test]
fn westminster_018c_has_its_published_imd_2019_rank_and_decile() {
    let b = shared_build();
    let w = one(&b.out, "imd_england_2019", "lsoa11_code", "E01004736");
    // File 1 says 24,862 and decile 8 (the original platform's README said 28,230 / 9).
    assert_eq!(int(&w, "imd_rank"), Some(24862));
    assert_eq!(int(&w, "imd_decile"), Some(8));
    assert_eq!(int(&w, "imd_quantile_10"), Some(8));
    assert_eq!(int(&w, "imd_quantile_20"), Some(16));
    assert_eq!(
        w.column("lad19_code").unwrap().str().unwrap().get(0),
        Some("E09000033")
    );
    // The IMD score comes from the composite's re-publication of File 5.
    assert!(w
        .column("imd_score")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .is_some());
}

#[test]
fn quantiles_run_from_1_to_q_with_the_least_deprived_area_in_band_q() {
    // The original platform put the least deprived area in band q + 1.
    for q in census_pipeline::stages::index::QUANTILES {
        assert_eq!(quantile(1.0, q, 32844), 1);
        assert_eq!(quantile(32844.0, q, 32844), q as i64);
    }
    assert_eq!(quantile(3284.0, 10, 32844), 1);
    assert_eq!(quantile(3285.0, 10, 32844), 2);
    let b = shared_build();
    let t = read_table(&b.out, "imd_scotland_2020v2");
    let v = t.column("imd_quantile_20").unwrap().i64().unwrap();
    assert_eq!(v.min(), Some(1));
    assert_eq!(v.max(), Some(20));
}

#[test]
fn computed_quantiles_agree_with_published_bands_except_where_listed() {
    let b = shared_build();
    let v = verification(&b.out);
    for (table, col) in [
        ("imd_england_2019", "imd_decile"),
        ("imd_england_2025", "imd_decile"),
        ("imd_scotland_2020v2", "imd_decile"),
        ("imd_scotland_2020v2", "imd_quintile_published"),
        ("imd_scotland_2020v2", "imd_vigintile_published"),
    ] {
        assert_eq!(
            check(&v, table, &format!("bands_{col}"))["status"],
            "pass",
            "{table} {col}"
        );
    }
    // WIMD 2019's hand-set bands: every disagreement listed, with its reason.
    let wales = check(&v, "imd_wales_2019", "bands_imd_decile");
    assert_eq!(wales["status"], "warn");
    assert_eq!(wales["examples"].as_array().unwrap().len(), 9);
    assert!(wales["detail"].as_str().unwrap().contains("by hand"));
    assert!(wales["examples"][0]
        .as_str()
        .unwrap()
        .contains("W01000038 (rank 764): published 4"));
}

#[test]
fn no_failure_is_left_without_an_explanation() {
    let b = shared_build();
    let v = verification(&b.out);
    for t in v["tables"].as_array().unwrap() {
        for c in t["checks"].as_array().unwrap() {
            assert_ne!(c["status"], "fail", "{}: {}", t["table"], c);
            if c["status"] != "pass" {
                assert!(!c["detail"].as_str().unwrap().is_empty(), "{}", c);
            }
        }
    }
}

#[test]
fn missing_and_computed_columns_are_published_with_reasons() {
    let b = shared_build();
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let e25 = &m.tables["imd_england_2025"];
    assert!(
        e25.missing_columns["idaci_score"].contains("iod2025_all"),
        "{:?}",
        e25.missing_columns
    );
    // IDACI and IDAOPI ranks and deciles come from File 3, for every LSOA.
    assert!(!e25.missing_columns.contains_key("idaci_decile"));
    assert!(e25.derived);
    let w19 = &m.tables["imd_wales_2019"];
    assert!(w19.computed_columns["income_decile"].contains("ceil(rank * 10 / 1909)"));
    assert!(
        !w19.computed_columns.contains_key("imd_decile"),
        "the published decile is kept"
    );
    assert!(
        m.tables["imd_scotland_2020v2"].missing_columns["imd_score"].contains("ranks, not scores")
    );
    assert!(w19.description.contains("Rank 1 = most deprived"));
    let t = read_table(&b.out, "imd_england_2025");
    assert_eq!(t.column("idaci_score").unwrap().null_count(), t.height());
    assert_eq!(t.column("idaci_rank").unwrap().null_count(), 0);
    assert_eq!(t.column("idaopi_decile").unwrap().null_count(), 0);
}

#[test]
fn the_uk_table_stacks_current_editions_and_says_they_do_not_compare() {
    let b = shared_build();
    let t = read_table(&b.out, "imd_uk_small_areas");
    assert_eq!(t.height(), 33755 + 1917 + 6976 + 890);
    let flag = t
        .column("comparable_across_nations")
        .unwrap()
        .bool()
        .unwrap();
    assert_eq!(flag.sum(), Some(0));
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    assert!(m.tables["imd_uk_small_areas"]
        .description
        .contains("NOT comparable across nations"));
}

#[test]
fn the_uk_table_is_keyed_by_area_code_and_refuses_two_editions_of_a_nation() {
    let b = shared_build();
    let t = read_table(&b.out, "imd_uk_small_areas");
    let codes: Vec<Option<&str>> = t
        .column("area_code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .collect();
    assert!(
        codes.windows(2).all(|w| w[0] < w[1]),
        "sorted by area code, each once"
    );
    // Stacking England's 2019 edition beside its 2025 one repeats 31,810
    // codes: the build stops, naming the table, the key and a code.
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &[]);
    let spec = stages.join("imd_uk_small_areas.toml");
    let text = read_text(&spec);
    let stacked = r#"indices = ["imd_england_2025", "#;
    assert!(text.contains(stacked));
    std::fs::write(
        &spec,
        text.replace(
            stacked,
            r#"indices = ["imd_england_2019", "imd_england_2025", "#,
        ),
    )
    .unwrap();
    let e = build_on_shared_cache(dir.path(), &shared_catalog(), &stages).unwrap_err();
    let f = e.check_failure().expect("a failed check");
    assert_eq!(
        (f.table.as_str(), f.check.as_str()),
        ("imd_uk_small_areas", "key_unique")
    );
    assert!(
        f.detail
            .starts_with("31810 keys (area_code) are each on more than one row, the first E01"),
        "{}",
        f.detail
    );
    assert_eq!(f.examples.len(), 5);
    assert!(!dir.path().join("release").exists(), "nothing published");
}

const FILE_2: &str = "imd_england_2019/File_2_-_IoD2019_Domains_of_Deprivation.csv.gz";

#[test]
fn a_county_code_in_place_of_a_district_fails_verification() {
    // Aylesbury Vale 001A given Buckinghamshire county's code.
    let msg = build_with_edited(FILE_2, |t| {
        let (i, line) = t
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(",E07000004,"))
            .unwrap();
        let new = line.replacen(",E07000004,", ",E10000002,", 1);
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        lines[i] = new;
        lines.join("\n")
    });
    assert!(
        msg.contains("table `imd_england_2019`, check `la_tier`"),
        "{msg}"
    );
    assert!(msg.contains("E10000002"), "{msg}");
}

#[test]
fn a_swapped_local_authority_fails_verification_naming_the_area() {
    // The first Hartlepool LSOA moved to Middlesbrough.
    let msg = build_with_edited(FILE_2, |t| {
        let (i, line) = t
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(",E06000001,Hartlepool,"))
            .unwrap();
        let code = line.split(',').next().unwrap().to_string();
        let new = line.replacen(",E06000001,Hartlepool,", ",E06000002,Middlesbrough,", 1);
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        lines[i] = new;
        let _ = code;
        lines.join("\n")
    });
    assert!(
        msg.contains("table `imd_england_2019`, check `lookup_la_code`"),
        "{msg}"
    );
    assert!(msg.contains("E06000002"), "{msg}");
    assert!(msg.contains("says E06000001"), "{msg}");
}

#[test]
fn a_duplicated_area_code_stops_the_build_naming_both_rows() {
    let msg = build_with_edited(FILE_2, |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        let dup = lines[1].clone();
        lines[2] = dup;
        lines.join("\n")
    });
    assert!(msg.contains("source `iod2019_domains`"), "{msg}");
    assert!(msg.contains("duplicate key \"E01000001\""), "{msg}");
    assert!(
        msg.contains("row 3") && msg.contains("first at row 2"),
        "{msg}"
    );
}

#[test]
fn a_lookup_that_leaves_areas_unmatched_stops_the_build() {
    // One English LSOA 2021 of the ward look-up replaced by an unknown code.
    let msg = build_with_edited(
        "lookups/lookup_lsoa21_ward24_ltla24.geographr.csv.gz",
        |t| t.replacen(",E01000001,", ",E01999999,", 1),
    );
    assert!(
        msg.contains("table `imd_england_2025`, check `lookup_coverage`: 1 areas are not in `lookup_lsoa21_ward24`"),
        "{msg}"
    );
    assert!(msg.contains("E01000001"), "{msg}");
}

#[test]
fn a_lookup_that_gives_an_area_no_authority_fails_rather_than_agreeing() {
    // The ONS look-up with Middlesbrough 014A's district left blank: the
    // comparison cannot agree with nothing.
    let msg = build_with_edited(
        "lookups/lookup_lsoa21_ward24_ltla24.geographr.csv.gz",
        |t| {
            t.replacen(
                "Middlesbrough 014A,E01012049,Ladgate,E05009861,Middlesbrough,E06000002",
                "Middlesbrough 014A,E01012049,Ladgate,E05009861,,",
                1,
            )
        },
    );
    assert!(
        msg.contains("table `imd_england_2025`, check `lookup_la_code`"),
        "{msg}"
    );
    assert!(
        msg.contains("E01012049: in E06000002, `lookup_lsoa21_ward24`.lad24_code says (empty)"),
        "{msg}"
    );
}
