//! Census 2021 indicators, local authority verification and Places Scores.

use polars::prelude::*;

use crate::util::*;

fn indicator(out: &std::path::Path, geo: &str, id: &str) -> DataFrame {
    indicator_rows(out, geo, id)
}

fn value_of(df: &DataFrame, code: &str) -> Option<f64> {
    let codes = df.column("geography_code").unwrap().str().unwrap();
    let values = df.column("value").unwrap().f64().unwrap();
    codes
        .iter()
        .zip(values.iter())
        .find(|(c, _)| *c == Some(code))
        .and_then(|(_, v)| v)
}

fn sum_column(table: &DataFrame, column: &str) -> f64 {
    let c = table.column(column).unwrap();
    match c.dtype() {
        DataType::Int64 => c.i64().unwrap().sum().unwrap() as f64,
        _ => c.f64().unwrap().sum().unwrap(),
    }
}

#[test]
fn totals_equal_the_official_tables() {
    let b = shared_build();
    // LSOA: each LSOA's population is TS007A's total, and they sum to the table's.
    let lsoa = indicator(&b.out, "lsoa21", "population");
    let ts = read_table(&b.out, "census2021_ts007a_lsoa");
    assert_eq!(lsoa.height(), ts.height());
    assert_eq!(sum_column(&lsoa, "value"), sum_column(&ts, "age_total"));
    assert_eq!(
        sum_column(&ts, "age_total"),
        59_597_611.0,
        "as MANIFEST.md says"
    );
    // LAD 2024 from the local authority table: 59,597,539, with merged districts summed.
    let lad = indicator(&b.out, "lad24", "population");
    assert_eq!(lad.height(), 296 + 22);
    assert_eq!(sum_column(&lad, "value"), 59_597_539.0);
    assert_eq!(
        value_of(&lad, "E06000001"),
        Some(92_337.0),
        "Hartlepool, unchanged since 2022"
    );
    let reasons = lad.column("reason").unwrap().str().unwrap();
    assert!(
        reasons
            .iter()
            .flatten()
            .any(|r| r.contains("merged in April 2023")),
        "the 2023 merges are stated"
    );
    // Households: TS054's total.
    let hh = indicator(&b.out, "lad24", "households");
    assert_eq!(sum_column(&hh, "value"), 24_783_164.0);
}

#[test]
fn shares_and_medians_are_computed_from_their_parts() {
    let b = shared_build();
    let own = indicator(&b.out, "lad24", "owner_occupied_share");
    // Hartlepool: 23,834 owned of 40,929 households (TS054).
    assert!((value_of(&own, "E06000001").unwrap() - 23834.0 / 40929.0).abs() < 1e-12);
    let median = indicator(&b.out, "lad24", "median_age");
    let m = value_of(&median, "E06000001").unwrap();
    assert!((38.0..=46.0).contains(&m), "Hartlepool's median age {m}");
    let wards = indicator(&b.out, "ward24", "population");
    assert!(wards.height() > 7000);
}

#[test]
fn indicators_whose_tables_are_absent_are_unavailable_with_the_reason() {
    let b = shared_build();
    for id in [
        "bad_health_share",
        "no_qualifications_share",
        "unemployed_share",
    ] {
        for geo in ["lsoa21", "ward24", "lad24"] {
            let t = indicator(&b.out, geo, id);
            assert_eq!(t.height(), 1, "{id} at {geo}: one flag row");
            assert_eq!(
                t.column("status").unwrap().str().unwrap().get(0),
                Some("unavailable")
            );
            let reason = t
                .column("reason")
                .unwrap()
                .str()
                .unwrap()
                .get(0)
                .unwrap()
                .to_string();
            assert!(reason.contains("declares no source"), "{reason}");
        }
    }
    let density = indicator(&b.out, "lsoa21", "population_density");
    assert_eq!(
        density.column("status").unwrap().str().unwrap().get(0),
        Some("unavailable"),
        "only generalised boundaries are in ../shared/data"
    );
}

#[test]
fn local_authority_tables_pass_verification_on_real_data() {
    let b = shared_build();
    let v = verification(&b.out);
    let checks = table_checks(&v, "census2021_indicators");
    let la: Vec<_> = checks
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with("la_"))
        .collect();
    assert_eq!(
        la.len(),
        5 * 3 + 4,
        "tier, vintage, names for 5 tables; roll-up for 4"
    );
    for c in la {
        assert_eq!(c["status"], "pass", "{c}");
    }
}

#[test]
fn a_county_row_in_a_local_authority_table_is_caught() {
    // Hartlepool's row given Buckinghamshire county's code.
    let msg = crate::util::build_with_edited("census2021/census2021-ts054-ltla.csv", |t| {
        t.replacen(
            "2021,Hartlepool,E06000001,",
            "2021,Buckinghamshire,E10000002,",
            1,
        )
    });
    assert!(
        msg.contains("table `census2021_indicators`, check `la_census2021_ts054_ltla_tier`"),
        "{msg}"
    );
    assert!(msg.contains("E10000002"), "{msg}");
}

#[test]
fn places_scores_cover_every_area_with_coverage_and_flags() {
    let b = shared_build();
    let lad = read_table(&b.out, "places_scores_lad24");
    assert_eq!(lad.height(), 318);
    let coverage = lad.column("coverage").unwrap().f64().unwrap();
    assert!(coverage.iter().flatten().all(|c| (0.0..=1.0).contains(&c)));
    assert!(
        coverage.iter().flatten().all(|c| c < 1.0),
        "indicators absent from ../shared/data lower the coverage"
    );
    let rank = lad.column("overall_rank").unwrap().i64().unwrap();
    assert_eq!(rank.min(), Some(1));
    let flags = lad.column("flags").unwrap().str().unwrap();
    assert!(flags
        .iter()
        .flatten()
        .any(|f| f.contains("bad_health_share unavailable")));
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let e = &m.tables["places_scores_lad24"];
    assert!(e.description.contains("No Census 2011 value is used"));
    assert!(e.notes.iter().any(|n| n.contains("not comparable")));
    assert!(read_table(&b.out, "places_scores_ward24").height() > 7000);
    // A column no area has a value in is declared empty, with the reason,
    // and every declared-empty column is empty.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let missing = &manifest["tables"]["places_scores_lad24"]["missing_columns"];
    for col in lad.columns() {
        let empty = col.null_count() == col.len();
        let why = missing.get(col.name().as_str()).and_then(|w| w.as_str());
        assert_eq!(empty, why.is_some(), "{}: {why:?}", col.name());
        if let Some(why) = why {
            assert!(why.contains("at lad24"), "{}: {why}", col.name());
        }
    }
}

#[test]
fn a_taxonomy_naming_an_unknown_indicator_fails_check() {
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &[]);
    let places = std::fs::read_to_string(stages.join("places.toml")).unwrap();
    std::fs::write(
        stages.join("places.toml"),
        places.replace("\"degree_level_share\"", "\"happiness_index\""),
    )
    .unwrap();
    assert_cmd::Command::cargo_bin("census-pipeline")
        .unwrap()
        .current_dir(repo())
        .args(["check", "--sources", "tests/shared.sources.toml", "--stages"])
        .arg(&stages)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("Stage `places` ("))
        .stderr(predicates::str::contains(
            "names `happiness_index`, which column `indicator_id` of table `census2021_indicators` never holds",
        ));
}
