//! Local authority and ward summaries (MHCLG method) and the change between
//! IMD 2019 and 2025.

use std::path::Path;

use polars::prelude::*;

use crate::util::*;

fn row(out: &Path, table: &str, key: &str, code: &str) -> DataFrame {
    read_table(out, table)
        .lazy()
        .filter(col(key).eq(lit(code)))
        .collect()
        .unwrap()
}

fn f(df: &DataFrame, c: &str) -> f64 {
    df.column(c).unwrap().f64().unwrap().get(0).unwrap()
}

#[test]
fn lad_summaries_reproduce_iod2019_file_10() {
    let b = shared_build();
    // Hartlepool and Middlesbrough, exactly as published (docs/domain.md).
    for (code, avg_rank, avg_score, prop, extent, lc) in [
        ("E06000001", 22581.98, 35.037, 0.3621, 0.4973, 32560.44),
        ("E06000002", 23729.10, 40.460, 0.4884, 0.5710, 32726.13),
    ] {
        let r = row(&b.out, "imd_england_2019_lad19", "lad19_code", code);
        assert_eq!(
            (f(&r, "imd_average_rank") * 100.0).round() / 100.0,
            avg_rank,
            "{code}"
        );
        assert_eq!(
            (f(&r, "imd_average_score") * 1000.0).round() / 1000.0,
            avg_score,
            "{code}"
        );
        assert_eq!(
            (f(&r, "imd_proportion_most_deprived_10pc") * 1e4).round() / 1e4,
            prop,
            "{code}"
        );
        assert_eq!((f(&r, "imd_extent") * 1e4).round() / 1e4, extent, "{code}");
        assert_eq!(
            (f(&r, "imd_local_concentration") * 100.0).round() / 100.0,
            lc,
            "{code}"
        );
    }
    let t = read_table(&b.out, "imd_england_2019_lad19");
    assert_eq!(t.height(), 317);
    // Every measure: equal to the published rounding, or within its declared
    // tolerance with every difference listed and explained; never a failure.
    let v = verification(&b.out);
    let cs = table_checks(&v, "imd_england_2019_lad19");
    let compared: Vec<_> = cs
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with("reproduces_"))
        .collect();
    assert_eq!(compared.len(), 10);
    for c in &compared {
        assert_ne!(c["status"], "fail", "{c}");
    }
    // The unweighted measure reproduces File 10 for every district.
    let prop = compared
        .iter()
        .find(|c| {
            c["check"] == "reproduces_iod2019_lad_summaries_imd_proportion_most_deprived_10pc"
        })
        .unwrap();
    assert_eq!(prop["status"], "pass", "{prop}");
}

#[test]
fn lad_summaries_for_2025_are_flagged_approximate_and_compared_with_file_10() {
    let b = shared_build();
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let e = &m.tables["imd_england_2025_lad24"];
    assert_eq!(e.rows, 296);
    assert!(e.computed_columns["imd_average_score"].starts_with("approximate"));
    assert!(
        !e.computed_columns
            .contains_key("imd_proportion_most_deprived_10pc"),
        "an unweighted count is not approximate"
    );
    let v = verification(&b.out);
    let cs = table_checks(&v, "imd_england_2025_lad24");
    let rank_of_prop = cs
        .iter()
        .find(|c| {
            c["check"]
                == "reproduces_iod2025_lad_summaries_rank_of_imd_proportion_most_deprived_10pc"
        })
        .unwrap();
    assert_eq!(rank_of_prop["status"], "pass");
    let avg = cs
        .iter()
        .find(|c| c["check"] == "reproduces_iod2025_lad_summaries_imd_average_score")
        .unwrap();
    assert_eq!(avg["status"], "warn");
    assert!(
        avg["detail"].as_str().unwrap().contains("Census 2021"),
        "{avg}"
    );
}

#[test]
fn every_summary_table_is_written_and_its_populations_add_up() {
    let b = shared_build();
    let v = verification(&b.out);
    for (table, rows) in [
        ("imd_england_2019_lad19", 317),
        ("imd_england_2025_lad24", 296),
        ("imd_wales_2019_lad19", 22),
        ("imd_wales_2025_lad24", 22),
        ("imd_england_2019_ward19", 0),
        ("imd_england_2025_ward24", 0),
        ("imd_wales_2019_ward19", 0),
        ("imd_wales_2025_ward24", 0),
    ] {
        let t = read_table(&b.out, table);
        if rows > 0 {
            assert_eq!(t.height(), rows, "{table}");
        } else {
            assert!(t.height() > 700, "{table}: {} wards", t.height());
        }
        let cs = table_checks(&v, table);
        let pop = cs
            .iter()
            .find(|c| c["check"] == "population_adds_up")
            .unwrap();
        assert_eq!(pop["status"], "pass", "{table}");
        let lsoas: i64 = t
            .column("lsoa_count")
            .unwrap()
            .i64()
            .unwrap()
            .sum()
            .unwrap();
        let expected = if table.contains("england_2019") {
            32844
        } else if table.contains("england_2025") {
            33755
        } else if table.contains("wales_2019") {
            1909
        } else {
            1917
        };
        assert_eq!(lsoas, expected, "{table}: every LSOA in exactly one area");
    }
}

#[test]
fn change_types_match_the_exact_lookup() {
    let b = shared_build();
    let t = read_table(&b.out, "lsoa11_lsoa21_change");
    assert_eq!(t.height(), 35796);
    let counts = t
        .clone()
        .lazy()
        .group_by([col("change")])
        .agg([len().alias("n")])
        .sort(["change"], Default::default())
        .collect()
        .unwrap();
    let changes: Vec<String> = counts
        .column("change")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(String::from)
        .collect();
    assert_eq!(changes, ["M", "S", "U", "X"]);
    // Compared with the loaded look-up itself.
    let lk = read_table(&b.out, "lookup_lsoa11_lsoa21_exact");
    for code in ["U", "S", "M", "X"] {
        let n = |df: &DataFrame| {
            df.column("change")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .filter(|c| *c == Some(code))
                .count()
        };
        assert_eq!(n(&t), n(&lk), "{code}");
    }
}

#[test]
fn every_lsoa21_appears_exactly_once_in_the_change_table_with_a_reason_when_not_comparable() {
    let b = shared_build();
    for (table, n) in [
        ("imd_change_2019_2025_lsoa21", 33755),
        ("wimd_change_2019_2025_lsoa21", 1917),
    ] {
        let t = read_table(&b.out, table);
        assert_eq!(t.height(), n, "{table}");
        let codes = t.column("lsoa21_code").unwrap().str().unwrap();
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), n, "{table}: each LSOA 2021 once");
        let comparable = t.column("comparable").unwrap().bool().unwrap();
        let reasons = t.column("not_comparable_reason").unwrap().str().unwrap();
        for (c, r) in comparable.iter().zip(reasons.iter()) {
            assert_eq!(
                c == Some(false),
                r.is_some(),
                "{table}: a reason exactly when not comparable"
            );
        }
    }
    // England: 31,810 unchanged, and the 6 LSOAs touched by an irregular change are not compared.
    let t = read_table(&b.out, "imd_change_2019_2025_lsoa21");
    let change = t.column("change").unwrap().str().unwrap();
    assert_eq!(change.iter().filter(|c| *c == Some("U")).count(), 31810);
    let comparable = t.column("comparable").unwrap().bool().unwrap();
    let x_not_compared = change
        .iter()
        .zip(comparable.iter())
        .filter(|(c, k)| *c == Some("X") && *k == Some(false))
        .count();
    assert_eq!(
        x_not_compared,
        change.iter().filter(|c| *c == Some("X")).count()
    );
}

#[test]
fn comparisons_carry_the_caveat_and_never_compare_scores() {
    let b = shared_build();
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    for table in [
        "imd_change_2019_2025_lsoa21",
        "imd_change_2019_2025_ward24",
        "wimd_change_2019_2025_lsoa21",
        "wimd_change_2019_2025_ward24",
    ] {
        assert!(
            m.tables[table]
                .description
                .contains("do not measure absolute change"),
            "{table}"
        );
        let t = read_table(&b.out, table);
        assert!(
            t.get_column_names().iter().all(|c| !c.contains("score")),
            "{table} compares no scores"
        );
    }
    let w = read_table(&b.out, "imd_change_2019_2025_ward24");
    let share = w
        .column("comparable_population_share")
        .unwrap()
        .f64()
        .unwrap();
    assert!(share.iter().flatten().all(|s| (0.0..=1.0).contains(&s)));
}

#[test]
fn imd_2025_on_lsoa_2011_codes_flags_every_row() {
    let b = shared_build();
    let t = read_table(&b.out, "imd_england_2025_lsoa11");
    assert_eq!(t.height(), 32844, "every English LSOA 2011");
    let method = t.column("method").unwrap().str().unwrap();
    assert_eq!(method.null_count(), 0);
    let change = t.column("change").unwrap().str().unwrap();
    assert_eq!(change.null_count(), 0);
    let w = read_table(&b.out, "imd_wales_2025_lsoa11");
    assert_eq!(w.height(), 1909);
}

#[test]
fn ward_assignments_record_vintage_method_and_boundary_checks() {
    let b = shared_build();
    let t = read_table(&b.out, "lsoa21_ward24");
    assert_eq!(t.height(), 35672);
    let vintage = t.column("ward_vintage").unwrap().str().unwrap();
    assert!(vintage.iter().all(|v| v == Some("WD24")));
    let check = t.column("boundary_check").unwrap().str().unwrap();
    let ok = check.iter().filter(|c| *c == Some("ok")).count();
    assert!(
        ok > 25000,
        "most LSOAs check out against the boundaries: {ok}"
    );
    assert!(
        check
            .iter()
            .any(|c| c.is_some_and(|c| c.starts_with("not checked: ward"))),
        "wards missing from the WD22 layer are flagged"
    );
    let inside = t.column("centroid_in_ward").unwrap().bool().unwrap();
    let share = t.column("straddle_share").unwrap().f64().unwrap();
    for ((c, i), s) in check.iter().zip(inside.iter()).zip(share.iter()) {
        match c.unwrap() {
            "ok" => assert!(i == Some(true) && s.is_some_and(|s| s <= 0.5)),
            "centroid outside its ward" => assert_eq!(i, Some(false)),
            other if other.starts_with("not checked") => assert_eq!(i, None),
            _ => {}
        }
    }
    let old = read_table(&b.out, "lsoa11_ward19");
    assert_eq!(old.height(), 34753);
    let reason = old
        .column("boundary_check")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with("not checked: the catalog has no LSOA 2011"),
        "{reason}"
    );
}

/// The shared catalog plus a synthetic File 6 (IoD2025 population
/// denominators): each English LSOA's Census 2021 residents as its total,
/// and 60% of them as its working-age population. Only the 2025 index and
/// its district summaries are built.
fn build_with_denominators(dir: &Path) -> std::path::PathBuf {
    let b = shared_build();
    let residents = read_table(&b.out, "census2021_ts007a_lsoa");
    let (codes, totals) = (
        residents
            .column("geography_code")
            .unwrap()
            .str()
            .unwrap()
            .clone(),
        residents
            .column("age_total")
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap(),
    );
    let mut csv = String::from(
        "LSOA code (2021),Total population: mid 2022,Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022\n",
    );
    for (code, total) in codes.iter().zip(totals.f64().unwrap().iter()) {
        let (Some(code), Some(total)) = (code, total) else {
            continue;
        };
        if code.starts_with("E01") {
            csv.push_str(&format!("{code},{total},{}\n", (total * 0.6).round()));
        }
    }
    let data = dir.join("data");
    mirror_data(&data);
    std::fs::write(data.join("denominators.csv"), csv).unwrap();
    let catalog = edited_catalog(dir, &data, "none");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str(
        "\n[sources.iod2025_denominators]\ntitle = \"Synthetic File 6\"\npublisher = \"test\"\nlicence = \"OGL-UK-3.0\"\n\
         edition = \"test\"\ngeography = \"LSOA 2021\"\npath = \"denominators.csv\"\nunpinned = \"a synthetic fixture\"\nformat = \"csv\"\n\
         [sources.iod2025_denominators.missing]\nlsoa21_name = \"fixture\"\nlad24_code = \"fixture\"\nlad24_name = \"fixture\"\n\
         population_children_0_15 = \"fixture\"\npopulation_60_plus = \"fixture\"\n",
    );
    std::fs::write(&catalog, text).unwrap();
    let stages = copy_stages(dir, &["load.toml", "imd_england_2025.toml"]);
    // Without the comparison with File 10: these synthetic weights are not
    // MHCLG's, so they cannot reproduce its figures (with the real File 6
    // the comparison is strict, as nothing is approximate).
    let summary = read_text(&stages_dir().join("imd_england_2025_lad24.toml"));
    let summary = &summary[..summary.find("\n[compare]").unwrap()];
    std::fs::write(stages.join("imd_england_2025_lad24.toml"), summary).unwrap();
    build_on_shared_cache(dir, &catalog, &stages)
        .expect("builds with the edition's own denominators")
}

#[test]
fn the_editions_own_denominators_replace_census_weights_when_the_catalog_has_them() {
    // Without File 6 (the shared catalog): Census residents, flagged.
    let b = shared_build();
    let manifest = |out: &Path| -> serde_json::Value {
        serde_json::from_str(&read_text(&out.join("manifest.json"))).unwrap()
    };
    let before = &manifest(&b.out)["tables"]["imd_england_2025_lad24"];
    assert!(before["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("Population weights: Census 2021"));
    assert!(before["computed_columns"]["imd_average_score"]
        .as_str()
        .unwrap()
        .starts_with("approximate"));
    assert!(before["missing_columns"]["employment_scale"].is_string());

    // With it: the edition's own weights, nothing approximate but the
    // scales (sums of rates published rounded), and the employment scale
    // computed from its working-age population.
    let dir = tempdir();
    let out = build_with_denominators(dir.path());
    let after = &manifest(&out)["tables"]["imd_england_2025_lad24"];
    let inputs = after["inputs"].to_string();
    assert!(inputs.contains("iod2025_denominators"), "{inputs}");
    // No note of the weights; the scales' note stays.
    assert!(
        after["notes"].as_array().into_iter().flatten().all(|n| n
            .as_str()
            .unwrap()
            .starts_with("Income and employment scales are approximate")),
        "{}",
        after["notes"]
    );
    for (col, why) in after["computed_columns"].as_object().unwrap() {
        let why = why.as_str().unwrap();
        if why.contains("approximate") {
            assert!(col.ends_with("_scale"), "{col}: {why}");
            assert!(why.contains("published to 3 decimals"), "{col}: {why}");
            assert!(!why.contains("Census 2021"), "{col}: {why}");
        }
    }
    assert!(after["missing_columns"].get("employment_scale").is_none());
    // The same people as weights: the average score is unchanged.
    let (old, new) = (
        row(&b.out, "imd_england_2025_lad24", "lad24_code", "E06000001"),
        row(&out, "imd_england_2025_lad24", "lad24_code", "E06000001"),
    );
    assert!((f(&old, "imd_average_score") - f(&new, "imd_average_score")).abs() < 1e-9);
    assert!(f(&new, "employment_scale") > 0.0);
    assert!(f(&new, "employment_scale") <= f(&new, "population") * 0.6 + 1.0);
}
