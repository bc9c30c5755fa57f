//! Every value right and rightly labelled: one test per figure an
//! epidemiologist found wrong or mislabelled, each checked against the
//! publisher's own file, and the unit and range of every numeric column of
//! every table.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde_json::Value;

use crate::util::*;

fn rows_of(out: &Path, table: &str, filter: Expr) -> DataFrame {
    read_table(out, table)
        .lazy()
        .filter(filter)
        .collect()
        .unwrap()
}

fn census(out: &Path, geo: &str, id: &str) -> DataFrame {
    indicator_rows(out, geo, id)
}

fn text(df: &DataFrame, c: &str, i: usize) -> Option<String> {
    df.column(c)
        .unwrap()
        .str()
        .unwrap()
        .get(i)
        .map(String::from)
}

fn num(df: &DataFrame, c: &str, i: usize) -> Option<f64> {
    let c = df.column(c).unwrap().cast(&DataType::Float64).unwrap();
    c.f64().unwrap().get(i)
}

/// `column` by `key` of a table.
fn by_key(df: &DataFrame, key: &str, column: &str) -> BTreeMap<String, Option<f64>> {
    (0..df.height())
        .map(|i| (text(df, key, i).unwrap(), num(df, column, i)))
        .collect()
}

fn datapackage_field(out: &Path, table: &str, field: &str) -> Value {
    let pkg: Value = datapackage(out);
    pkg["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == table)
        .unwrap_or_else(|| panic!("no resource {table}"))["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == field)
        .unwrap_or_else(|| panic!("no field {table}.{field}"))
        .clone()
}

/// A sheet of a publisher's workbook: header row, then rows by first cell.
fn sheet(path: &Path, name: &str) -> (Vec<String>, BTreeMap<String, Vec<calamine::Data>>) {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path).unwrap();
    let range = book.worksheet_range(name).unwrap();
    let mut rows = range.rows();
    let header = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let body = rows.map(|r| (r[0].to_string(), r.to_vec())).collect();
    (header, body)
}

#[test]
fn income_and_employment_scales_are_people_within_the_population_as_file_10_publishes() {
    let b = shared_build();
    // English 2019 rates were read from a re-published file in percent; they
    // are converted on read, so scales are counts of people again.
    let file10 = data_dir().join(
        "imd_england_2019/File_10_-_IoD2019_Local_Authority_District_Summaries__lower-tier__.xlsx",
    );
    let lads = read_table(&b.out, "imd_england_2019_lad19");
    for (measure, sheet_name, column) in [
        ("income_scale", "Income", "Income scale"),
        ("employment_scale", "Employment", "Employment scale "),
    ] {
        let (header, published) = sheet(&file10, sheet_name);
        let at = header.iter().position(|h| h == column).unwrap();
        let ours = by_key(&lads, "lad19_code", measure);
        assert_eq!(ours.len(), 317);
        for (code, v) in &ours {
            let theirs = calamine::DataType::as_f64(&published[code][at]).unwrap();
            let v = v.unwrap();
            // Our rates are the re-published ones, rounded to 0.1%: within 2%.
            assert!(
                (v / theirs - 1.0).abs() < 0.02,
                "{code} {measure}: {v} against File 10's {theirs}"
            );
        }
    }
    let hartlepool = by_key(&lads, "lad19_code", "income_scale")["E06000001"].unwrap();
    assert!((hartlepool - 21_118.64).abs() < 0.01, "was 2,111,864");

    // A scale never exceeds its population, in any summary of either edition.
    for table in [
        "imd_england_2019_lad19",
        "imd_england_2019_ward19",
        "imd_england_2025_lad24",
        "imd_england_2025_ward24",
    ] {
        let t = read_table(&b.out, table);
        for measure in ["income_scale", "employment_scale"] {
            for i in 0..t.height() {
                if let (Some(s), Some(p)) = (num(&t, measure, i), num(&t, "population", i)) {
                    assert!(s <= p, "{table} row {i}: {measure} {s} > population {p}");
                }
            }
        }
    }
}

/// The median of counts by single year, the last open-ended, interpolated
/// within the year that holds the middle person (written again here, from
/// the publisher's header, so that the test does not share the code).
fn independent_median(counts: &[f64]) -> f64 {
    let half = counts.iter().sum::<f64>() / 2.0;
    let mut below = 0.0;
    for (age, c) in counts.iter().enumerate() {
        if below + c >= half {
            return age as f64 + (half - below) / c;
        }
        below += c;
    }
    unreachable!()
}

#[test]
fn median_age_counts_every_resident_once() {
    let b = shared_build();
    let path = data_dir().join("census2021/census2021-ts007-ltla.csv");
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    // Single years only: "Aged under 1 year", "Aged N year(s)", "Aged 100 years and over".
    let single = regex::Regex::new(
        r"^Age: Aged (under 1 year|\d+ years?|100 years and over); measures: Value$",
    )
    .unwrap();
    let years: Vec<usize> = (0..header.len())
        .filter(|i| single.is_match(&header[*i]))
        .collect();
    assert_eq!(years.len(), 101, "0, 1, ..., 99, 100 and over");
    let total = header
        .iter()
        .position(|h| h == "Age: Total; measures: Value")
        .unwrap();
    let code = header.iter().position(|h| h == "geography code").unwrap();
    let expected: BTreeMap<String, (f64, f64)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            let counts: Vec<f64> = years.iter().map(|i| rec[*i].parse().unwrap()).collect();
            let t: f64 = rec[total].parse().unwrap();
            (rec[code].to_string(), (independent_median(&counts), t))
        })
        .collect();

    let published = census(&b.out, "lad24", "median_age");
    let mut compared = 0;
    for i in 0..published.height() {
        let code = text(&published, "geography_code", i).unwrap();
        let Some((median, total)) = expected.get(&code) else {
            continue; // a 2023 merger: summed from its districts
        };
        let v = num(&published, "value", i).unwrap();
        assert!((v - median).abs() < 1e-9, "{code}: {v} against {median}");
        assert_eq!(num(&published, "denominator", i), Some(*total), "{code}");
        compared += 1;
    }
    assert!(compared > 290, "{compared}");
    let value = |code: &str| {
        let i = (0..published.height())
            .find(|i| text(&published, "geography_code", *i).as_deref() == Some(code))
            .unwrap();
        (num(&published, "value", i).unwrap() * 100.0).round() / 100.0
    };
    assert_eq!(value("E07000040"), 50.94, "East Devon, was 52.64");
    assert_eq!(value("E08000025"), 34.17, "Birmingham, was 34.81");
    assert_eq!(value("W06000001"), 48.89, "Isle of Anglesey, was 50.06");
}

#[test]
fn single_years_that_do_not_add_up_to_the_total_stop_the_build() {
    // Hartlepool's 85-year-olds counted twice, as the 85+ band was.
    let err = build_with_edited("census2021/census2021-ts007-ltla.csv", |t| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let at = header
            .iter()
            .position(|h| h.contains("Aged 85 years; measures"))
            .unwrap();
        let row = lines.iter().position(|l| l.contains("E06000001")).unwrap();
        let mut cells: Vec<String> = lines[row].split(',').map(String::from).collect();
        cells[at] = (cells[at].parse::<u64>().unwrap() * 2).to_string();
        lines[row] = cells.join(",");
        lines.join("\n") + "\n"
    });
    assert!(err.contains("check `median_age_adds_up`"), "{err}");
    assert!(err.contains("census2021_ts007_ltla"), "{err}");
    assert!(err.contains("E06000001"), "{err}");
    assert!(err.contains("`age_total`"), "{err}");
}

#[test]
fn small_area_density_is_not_published_from_generalised_boundaries() {
    let b = shared_build();
    for geo in ["lsoa21", "ward24"] {
        let d = census(&b.out, geo, "population_density");
        assert_eq!(d.height(), 1, "{geo}: one flag row, no values");
        assert_eq!(text(&d, "status", 0).as_deref(), Some("unavailable"));
        let reason = text(&d, "reason", 0).unwrap();
        assert!(reason.contains("generalised"), "{reason}");
        assert!(reason.contains("areas.measured"), "{reason}");
    }
    // Districts: approximate, each saying how far its areas are from ONS's.
    let lads = census(&b.out, "lad24", "population_density");
    assert_eq!(lads.height(), 318);
    for i in 0..lads.height() {
        assert_eq!(text(&lads, "status", i).as_deref(), Some("approximate"));
        let reason = text(&lads, "reason", i).unwrap();
        assert!(reason.contains("generalised"), "{reason}");
        // Spelthorne's reservoirs: boundaries hold inland water.
        assert!(reason.contains("inland water"), "{reason}");
    }
    // The definition does not call every area a land area.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let described = manifest["tables"]["census2021_indicators"]["description"]
        .as_str()
        .unwrap();
    assert!(
        described.contains("otherwise the area inside generalised boundaries"),
        "{described}"
    );
    // North Tyneside 012C is reported: 0.0130 km² against ONS's 0.2043.
    let v = verification(&b.out);
    let check = table_checks(&v, "census2021_indicators")
        .into_iter()
        .find(|c| c["check"] == "density_area_reference")
        .unwrap();
    assert_eq!(check["status"], "warn");
    let examples = check["examples"].to_string();
    assert!(examples.contains("E01008506: 0.0130 km²"), "{examples}");
    assert!(examples.contains("0.2043 km²"), "{examples}");
}

/// A build of the census stage alone, with a land-area table (the shape of
/// ONS's Standard Area Measurements) holding `areas`.
fn build_with_land_areas(
    dir: &Path,
    areas: &[(String, f64)],
) -> Result<std::path::PathBuf, census_pipeline::Error> {
    let data = dir.join("data");
    mirror_data(&data);
    let mut csv = String::from("LSOA21CD,LSOA21NM,Land Count (Area in KM2)\n");
    for (code, km2) in areas {
        csv.push_str(&format!("{code},{code},{km2}\n"));
    }
    std::fs::write(data.join("land_areas.csv"), csv).unwrap();
    let catalog = edited_catalog(dir, &data, "none");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str(
        "\n[sources.lsoa21_land_areas]\ntitle = \"Synthetic land areas\"\npublisher = \"test\"\nlicence = \"OGL-UK-3.0\"\n\
         edition = \"test\"\ngeography = \"LSOA 2021\"\npath = \"land_areas.csv\"\nunpinned = \"a synthetic fixture\"\nformat = \"csv\"\n",
    );
    std::fs::write(&catalog, text).unwrap();
    let stages = copy_stages(dir, &["load.toml", "census2021_indicators.toml"]);
    build_on_shared_cache(dir, &catalog, &stages)
}

#[test]
fn measured_land_areas_publish_small_area_density_checked_against_ons() {
    let b = shared_build();
    // Three LSOAs unchanged since 2011, with ONS's own areas.
    let ons = read_table(&b.out, "population_density_lsoa11_2018");
    let ons = by_key(&ons, "lsoa11_code", "area_km2");
    let picked = ["E01008506", "E01000001", "E01033768"];
    let areas: Vec<(String, f64)> = picked
        .iter()
        .map(|c| (c.to_string(), ons[*c].unwrap()))
        .collect();

    let dir = tempdir();
    let out = build_with_land_areas(dir.path(), &areas).expect("areas agree with ONS's");
    let all = census(&out, "lsoa21", "population_density");
    let d = all
        .clone()
        .lazy()
        .filter(col("status").eq(lit("ok")))
        .collect()
        .unwrap();
    assert_eq!(d.height(), 3, "a value for each LSOA with an area");
    assert_eq!(
        all.height(),
        4,
        "and one row flagging the LSOAs without one"
    );
    let population = by_key(
        &census(&out, "lsoa21", "population"),
        "geography_code",
        "value",
    );
    for i in 0..3 {
        let code = text(&d, "geography_code", i).unwrap();
        assert_eq!(text(&d, "status", i).as_deref(), Some("ok"));
        let expected = population[&code].unwrap() / ons[&code].unwrap();
        assert!((num(&d, "value", i).unwrap() - expected).abs() < 1e-9);
    }
    // North Tyneside 012C: 6,799 people per km², as ONS has it (not 105,511).
    let nt = (0..3)
        .find(|i| text(&d, "geography_code", *i).as_deref() == Some("E01008506"))
        .unwrap();
    assert!((5_000.0..9_000.0).contains(&num(&d, "value", nt).unwrap()));
    // Wards and districts with LSOAs lacking an area get no partial sum,
    // only the flag row saying why.
    for geo in ["ward24", "lad24"] {
        let d = census(&out, geo, "population_density");
        let flags: Vec<usize> = (0..d.height())
            .filter(|i| text(&d, "status", *i).as_deref() == Some("unavailable"))
            .collect();
        assert_eq!(flags.len(), 1, "{geo}");
        assert!(text(&d, "reason", flags[0])
            .unwrap()
            .contains("lack an area"));
    }
    // No district has all its LSOAs among the three: only the flag row.
    assert_eq!(census(&out, "lad24", "population_density").height(), 1);
    let v = verification(&out);
    let checks = table_checks(&v, "census2021_indicators");
    let status = |name: &str| checks.iter().find(|c| c["check"] == name).unwrap()["status"].clone();
    assert_eq!(status("density_area_reference"), "pass");
    assert_eq!(status("density_areas_complete"), "warn");

    // One area three times too large stops the build, naming it.
    let mut wrong = areas.clone();
    wrong[0].1 *= 3.0;
    let dir = tempdir();
    let err = build_with_land_areas(dir.path(), &wrong)
        .expect_err("a measured area far from ONS's stops the build")
        .to_string();
    assert!(err.contains("check `density_area_reference`"), "{err}");
    assert!(err.contains("E01008506"), "{err}");
    assert!(err.contains("`lsoa21_land_areas`"), "{err}");
    assert!(err.contains("column `area_km2`"), "{err}");
    assert!(!dir.path().join("release").exists());
}

#[test]
fn average_ranks_are_labelled_higher_is_more_deprived_and_lie_within_their_lsoas() {
    let b = shared_build();
    for table in [
        "imd_england_2019_lad19",
        "imd_england_2019_ward19",
        "imd_england_2025_lad24",
        "imd_england_2025_ward24",
        "imd_wales_2019_lad19",
        "imd_wales_2025_ward24",
    ] {
        for field in ["imd_average_rank", "imd_local_concentration"] {
            let f = datapackage_field(&b.out, table, field);
            let d = f["description"].as_str().unwrap();
            assert!(d.contains("higher = more deprived"), "{table}.{field}: {d}");
            assert!(d.contains("Not a rank"), "{table}.{field}: {d}");
            assert!(!d.contains("1 = most deprived."), "{table}.{field}: {d}");
        }
    }
    // Aldersgate (E05009288): one LSOA, ranked 26,525 of 33,755 in 2025;
    // its average rank is that LSOA's inverted rank, 33,755 + 1 - 26,525.
    let ward = rows_of(
        &b.out,
        "imd_england_2025_ward24",
        col("ward24_code").eq(lit("E05009288")),
    );
    assert_eq!(num(&ward, "imd_average_rank", 0), Some(7_231.0));
    let area = area_file(&b.out, "E05009288");
    let s = &area["summaries"]["imd_england_2025_ward24"];
    assert_eq!(s["imd_average_rank"], 7231.0);
    assert_eq!(
        s["directions"]["imd_average_rank"],
        "higher = more deprived"
    );
    // The bounds are checked on every build, for every area.
    let v = verification(&b.out);
    let check = table_checks(&v, "imd_england_2025_ward24")
        .into_iter()
        .find(|c| c["check"] == "measures_possible")
        .unwrap();
    assert_eq!(check["status"], "pass", "{check}");
}

#[test]
fn employment_scale_of_2025_names_the_missing_working_age_population() {
    let b = shared_build();
    for table in ["imd_england_2025_lad24", "imd_england_2025_ward24"] {
        let f = datapackage_field(&b.out, table, "employment_scale");
        let d = f["description"].as_str().unwrap();
        assert!(d.contains("EMPTY in this release"), "{d}");
        assert!(d.contains("working-age population"), "{d}");
        assert!(!d.contains("publishes no employment"), "{d}");
    }
}

#[test]
fn flats_share_counts_every_kind_of_flat() {
    let b = shared_build();
    // From the long TS044 file itself: all four kinds of flat over the total.
    let path = data_dir().join("census2021/household_type21_lsoa21.demographr.csv.gz");
    let text_ = read_text(&path);
    let mut r = csv::Reader::from_reader(text_.as_bytes());
    let mut expected: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let e = expected.entry(rec[0].to_string()).or_default();
        e.1 = rec[1].parse().unwrap();
        let flat = rec[2].contains("flats")
            || rec[2].starts_with("Part of a converted")
            || rec[2].starts_with("Part of another converted")
            || rec[2].starts_with("In a commercial building");
        if flat {
            e.0 += rec[3].parse::<f64>().unwrap();
        }
    }
    let published = by_key(
        &census(&b.out, "lsoa21", "flats_share"),
        "geography_code",
        "value",
    );
    assert_eq!(published.len(), expected.len());
    for (code, (n, total)) in &expected {
        let v = published[code].unwrap();
        assert!(
            (v - n / total).abs() < 1e-12,
            "{code}: {v} against {n}/{total}"
        );
    }
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let d = &m.tables["census2021_indicators"].description;
    assert!(
        d.contains("flats_share, proportion, not a measure of deprivation: neither end is more deprived: Households in a flat"),
        "{d}"
    );
    assert!(d.contains("converted"), "{d}");
}

#[test]
fn private_outdoor_space_reaches_successors_of_abolished_districts() {
    let b = shared_build();
    let g = census(&b.out, "lad24", "private_outdoor_space_share");
    let row = |code: &str| {
        (0..g.height())
            .find(|i| text(&g, "geography_code", *i).as_deref() == Some(code))
            .unwrap_or_else(|| panic!("{code} has no row"))
    };
    for (code, districts) in [
        ("E06000060", "E07000004, E07000005, E07000006, E07000007"),
        ("E06000061", "E07000150, E07000152, E07000153, E07000156"),
        ("E06000062", "E07000151, E07000154, E07000155"),
    ] {
        let i = row(code);
        let v = num(&g, "value", i).unwrap();
        assert!((0.8..1.0).contains(&v), "{code}: {v}");
        assert!(text(&g, "reason", i).unwrap().contains(districts));
    }
    // Said to be address data of 2020, not the Census.
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(b.out.join("manifest.json")).unwrap()).unwrap();
    let d = &m.tables["census2021_indicators"].description;
    assert!(d.contains("Not a Census 2021 indicator: ONS address data of April 2020"));
    let area = area_file(&b.out, "E06000060");
    let caveats = area["caveats"].to_string();
    assert!(
        caveats.contains("ONS address data of April 2020"),
        "{caveats}"
    );
}

#[test]
fn a_district_figure_that_differs_from_its_lsoas_says_why() {
    let b = shared_build();
    // Cherwell (E07000177): the LAD 2022 table against LAD 2024 LSOAs.
    let hh = census(&b.out, "lad24", "households");
    let i = (0..hh.height())
        .find(|i| text(&hh, "geography_code", *i).as_deref() == Some("E07000177"))
        .unwrap();
    assert_eq!(text(&hh, "status", i).as_deref(), Some("approximate"));
    let reason = text(&hh, "reason", i).unwrap();
    assert!(reason.contains("by 1.2%"), "{reason}");
    assert!(reason.contains("boundary changed"), "{reason}");
    // Elsewhere the two agree within disclosure control and say nothing.
    let approximate = (0..hh.height())
        .filter(|i| text(&hh, "status", *i).as_deref() == Some("approximate"))
        .count();
    assert_eq!(approximate, 1);
}

#[test]
fn wimd_scores_are_described_as_transformed_scores() {
    let b = shared_build();
    for table in ["wimd2019_scores", "imd_wales_2019"] {
        let f = datapackage_field(&b.out, table, "income_score");
        let d = f["description"].as_str().unwrap();
        assert!(
            d.contains("transformed score on a 0 to 100 scale"),
            "{table}: {d}"
        );
        assert!(d.contains("not a rate or percentage"), "{table}: {d}");
    }
}

/// The declared bounds of a field, from its Table Schema constraints.
fn bounds(f: &Value) -> (f64, f64) {
    let c = &f["constraints"];
    (
        c["minimum"].as_f64().unwrap_or(f64::NEG_INFINITY),
        c["maximum"].as_f64().unwrap_or(f64::INFINITY),
    )
}

#[test]
fn every_numeric_column_of_every_table_lies_within_its_declared_unit_and_range() {
    let b = shared_build();
    let pkg: Value = datapackage(&b.out);
    let mut columns = 0;
    // The Parquet resources (a table's CSV copy holds the same values).
    for r in pkg["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["format"] == "parquet")
    {
        let table = r["name"].as_str().unwrap();
        let df = read_table(&b.out, table);
        for f in r["schema"]["fields"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap();
            if !matches!(f["type"].as_str(), Some("number" | "integer")) {
                continue;
            }
            let unit = f["unit"]
                .as_str()
                .unwrap_or_else(|| panic!("{table}.{name} has no unit"));
            let description = f["description"].as_str().unwrap();
            assert!(
                [
                    "more deprived",
                    "most deprived",
                    "less deprived",
                    "favourable",
                    "varies by indicator"
                ]
                .iter()
                .any(|w| description.contains(w)),
                "{table}.{name} does not say its direction: {description}"
            );
            // Only the long census tables mix units, one per row (checked
            // below by the row's own unit); every other column has one.
            assert!(
                unit != "mixed" || table.starts_with("census2021_indicators"),
                "{table}.{name} declares no unit of its own"
            );
            let (lo, hi) = bounds(f);
            if unit != "mixed" {
                assert!(
                    lo.is_finite() || unit == "z" || unit == "score" || unit == "date",
                    "{table}.{name} ({unit}) declares no range"
                );
            }
            let c = df.column(name).unwrap().cast(&DataType::Float64).unwrap();
            for (i, x) in c.f64().unwrap().iter().enumerate() {
                if let Some(x) = x {
                    assert!(
                        x.is_finite() && x >= lo && x <= hi,
                        "{table}.{name} row {i}: {x} outside {lo}..={hi} ({unit})"
                    );
                }
            }
            columns += 1;
        }
    }
    assert!(columns > 400, "{columns} numeric columns checked");

    // The long census table gives each row's unit: check values by it.
    let t = read_table(&b.out, "census2021_indicators");
    let range = |unit: &str| match unit {
        "proportion" => (0.0, 1.0),
        "years" => (0.0, 130.0),
        "persons" | "households" | "persons per km2" => (0.0, f64::INFINITY),
        other => panic!("unknown unit {other}"),
    };
    for i in 0..t.height() {
        let (lo, hi) = range(&text(&t, "unit", i).unwrap());
        if let Some(v) = num(&t, "value", i) {
            assert!(v >= lo && v <= hi, "census row {i}: {v}");
        }
    }
}

#[test]
fn an_lsoa_is_in_the_district_its_publisher_names_and_the_lookups_other_answer_is_a_declared_warning(
) {
    let b = shared_build();
    let (header, file1) = sheet(
        &data_dir().join("imd_england_2025/File_1_IoD2025_Index_of_Multiple_Deprivation.xlsx"),
        "IMD25",
    );
    let at = header
        .iter()
        .position(|h| h == "Local Authority District code (2024)")
        .unwrap();
    let t = read_table(&b.out, "imd_england_2025");
    assert_eq!(t.height(), file1.len());
    for i in 0..t.height() {
        let code = text(&t, "lsoa21_code", i).unwrap();
        assert_eq!(
            text(&t, "lad24_code", i).unwrap(),
            file1[&code][at].to_string(),
            "{code}: the district is File 1's"
        );
    }
    // West Northamptonshire 048E: the ONS best-fit look-up says Cherwell.
    let lsoa = rows_of(
        &b.out,
        "imd_england_2025",
        col("lsoa21_code").eq(lit("E01027305")),
    );
    assert_eq!(text(&lsoa, "lad24_code", 0).as_deref(), Some("E06000062"));
    let api = area_file(&b.out, "E01027305");
    assert_eq!(api["parents"]["lad24"]["code"], "E06000062");
    // Its ward is the look-up's, a Cherwell ward: the file says so.
    assert_eq!(api["parents"]["ward24"]["code"], "E05010929");
    let caveats = api["caveats"].to_string();
    assert!(
        caveats.contains("Cropredy, Sibfords and Wroxton (E05010929), a Cherwell ward, is the ONS best-fit look-up's, and is probably wrong"),
        "{caveats}"
    );
    let report = verification(&b.out);
    let checks = table_checks(&report, "imd_england_2025");
    let lookup = checks
        .iter()
        .find(|c| c["check"] == "lookup_la_code")
        .unwrap();
    assert_eq!(lookup["status"], "warn");
    let examples = lookup["examples"].to_string();
    assert!(
        examples.contains("E01027305") && examples.contains("File 1"),
        "{examples}"
    );
}

#[test]
fn a_declared_difference_from_the_lookup_that_is_not_there_stops_the_release() {
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &["load.toml", "imd_england_2025.toml"]);
    // E01000001 (City of London 001A) is where both say it is, and
    // E01027305 is declared in the district the look-up gives, not the
    // one the table gives: its reason was written for another answer.
    let spec = read_text(&stages_dir().join("imd_england_2025.toml"));
    let spec = spec.replace(
        "[verify.lookup.differences.E01027305]\nla_code = \"E06000062\"",
        "[verify.lookup.differences.E01000001]\nla_code = \"E09000001\"\nla_name = \"City of London\"\nreason = \"claimed\"\n\n\
             [verify.lookup.differences.E01027305]\nla_code = \"E07000177\"",
    );
    std::fs::write(stages.join("imd_england_2025.toml"), spec).unwrap();
    let err = build_on_shared_cache(dir.path(), &shared_catalog(), &stages)
        .expect_err("a stale declaration fails")
        .to_string();
    assert!(err.contains("lookup_declared_differences"), "{err}");
    assert!(
        err.contains(
            "E01000001 is declared to differ from `lookup_lsoa21_ward24`, but agrees with it"
        ),
        "{err}"
    );
    assert!(
        err.contains("E01027305 is declared with la_code E07000177, but the table gives E06000062"),
        "{err}"
    );
    assert!(!dir.path().join("release").exists());
}

#[test]
fn one_declaration_covers_the_code_and_the_name_check_and_is_itself_checked() {
    // E01027305 differs from the look-up in both its district's code and
    // name: both checks warn with the one declaration's reason, and the
    // declaration (its area, its pinned district) is reported as holding.
    // Staleness is judged across both checks, so an area that differs in
    // its name alone can be declared too.
    let b = shared_build();
    let report = verification(&b.out);
    let checks = table_checks(&report, "imd_england_2025");
    let status = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| c["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("lookup_la_code").as_deref(), Some("warn"));
    assert_eq!(status("lookup_la_name").as_deref(), Some("warn"));
    assert_eq!(
        status("lookup_declared_differences").as_deref(),
        Some("pass")
    );
}

#[test]
fn rates_converted_from_percent_read_as_the_publisher_wrote_them() {
    let b = shared_build();
    // mySociety re-publishes these English rates as percentages to one
    // decimal: as rates they have at most three decimals (0.007, never
    // 0.007000000000000001).
    for (table, columns) in [
        ("imd_england_2019", ["income_score", "employment_score"]),
        ("uk_composite_imd", ["income_score", "employment_score"]),
    ] {
        let t = read_table(&b.out, table);
        for c in columns {
            for i in 0..t.height() {
                let Some(x) = num(&t, c, i) else { continue };
                let shown = x.to_string();
                let decimals = shown.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 3, "{table}.{c} row {i}: {shown}");
            }
        }
    }
}

#[test]
fn a_caveat_for_an_area_the_release_does_not_have_stops_the_build() {
    let dir = tempdir();
    let stages = copy_stages(dir.path(), &[]);
    let api = read_text(&stages_dir().join("api.toml")).replace(
        "[area_caveats]\n",
        "[area_caveats]\nE01999999 = \"left over\"\n",
    );
    std::fs::write(stages.join("api.toml"), api).unwrap();
    let err = build_on_shared_cache(dir.path(), &shared_catalog(), &stages)
        .expect_err("a stale caveat fails")
        .to_string();
    assert!(
        err.contains("`area_caveats` names E01999999, which is not an area of this release"),
        "{err}"
    );
    assert!(!dir.path().join("release").exists());
}

fn manifest_json(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn each_census_indicator_says_on_every_row_and_in_the_api_which_end_is_more_deprived() {
    let b = shared_build();
    // The areas' rows, and the rows of indicators this catalog lacks.
    let mut of: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for table in ["census2021_indicators", "census2021_indicators_unavailable"] {
        let t = read_table(&b.out, table);
        for i in 0..t.height() {
            of.entry(text(&t, "indicator_id", i).unwrap())
                .or_default()
                .insert(text(&t, "value_direction", i).expect("every row has one"));
        }
    }
    let one = |id: &str| {
        let d: Vec<&String> = of[id].iter().collect();
        assert_eq!(d.len(), 1, "{id}: {d:?}");
        d[0].clone()
    };
    assert_eq!(one("unemployed_share"), "higher_more_deprived");
    assert_eq!(one("no_car_share"), "higher_more_deprived");
    assert_eq!(one("nssec_higher_managerial_share"), "higher_less_deprived");
    assert_eq!(one("degree_level_share"), "higher_less_deprived");
    // Tenure as the Townsend index counts it.
    assert_eq!(one("owner_occupied_share"), "higher_less_deprived");
    assert_eq!(one("social_rented_share"), "higher_more_deprived");
    // An area's age or housing, and crude (not age-standardised) health
    // shares, are given no direction.
    for id in [
        "detached_share",
        "median_age",
        "population_density",
        "disabled_share",
    ] {
        assert_eq!(one(id), "neutral");
    }
    // A ward's file lists the indicators with a direction, and no other:
    // the page says the others are given no direction.
    let ward = area_file(&b.out, "E05013950");
    let s = &ward["census"]["census2021_ward24"];
    assert_eq!(
        s["directions"]["nssec_higher_managerial_share"],
        "higher = less deprived"
    );
    assert_eq!(
        s["directions"]["nssec_routine_share"],
        "higher = more deprived"
    );
    assert_eq!(
        s["directions"]["owner_occupied_share"],
        "higher = less deprived"
    );
    assert!(s["directions"].get("disabled_share").is_none(), "{s}");
    assert!(s["directions"].get("value").is_none(), "{s}");
    assert!(
        s["values"]["nssec_routine_share"]["value"].is_number(),
        "{s}"
    );
    assert!(s["values"]["nssec_routine_share"]
        .get("value_direction")
        .is_none());
    let described = datapackage_field(&b.out, "census2021_indicators", "value_direction");
    assert!(described["description"]
        .as_str()
        .unwrap()
        .contains("neutral"));
}

#[test]
fn a_directory_rank_of_zero_is_published_as_no_rank() {
    let b = shared_build();
    let t = read_table(&b.out, "postcode_directory");
    let (mut none, mut zero) = (0, 0);
    for i in 0..t.height() {
        match num(&t, "imd_rank", i) {
            None => none += 1,
            Some(x) if x < 1.0 => zero += 1,
            Some(_) => {}
        }
    }
    assert_eq!(zero, 0, "a rank below 1 is published");
    // The Channel Islands and the Isle of Man alone are 13,047 postcodes.
    assert!(none > 13_000, "{none} postcodes without a rank");
    let je = rows_of(
        &b.out,
        "postcode_directory",
        col("postcode").eq(lit("JE2 3AA")),
    );
    assert_eq!(num(&je, "imd_rank", 0), None);
}

#[test]
fn a_decile_computed_upstream_is_said_to_be_computed_wherever_it_is_carried() {
    let b = shared_build();
    let m = manifest_json(&b.out);
    let computed = |table: &str, column: &str| {
        m["tables"][table]["computed_columns"][column]
            .as_str()
            .map(String::from)
    };
    // WIMD 2025 and NIMDM 2017 deciles are computed from ranks; IoD 2025's
    // and SIMD's are the publishers'.
    let stacked = computed("imd_uk_small_areas", "imd_decile").expect("said");
    assert!(
        stacked.contains("`imd_wales_2025`") && stacked.contains("`imd_ni_2017`"),
        "{stacked}"
    );
    assert!(
        !stacked.contains("england") && !stacked.contains("scotland"),
        "{stacked}"
    );
    for table in ["wimd_change_2019_2025_lsoa21", "imd_wales_2025_lsoa11"] {
        let why = computed(table, "imd_decile_2025").unwrap_or_else(|| panic!("{table}"));
        assert!(why.contains("`imd_wales_2025`"), "{why}");
    }
    assert_eq!(
        computed("wimd_change_2019_2025_lsoa21", "imd_decile_2019"),
        None
    );
    assert_eq!(
        computed("imd_change_2019_2025_lsoa21", "imd_decile_2025"),
        None
    );
}

#[test]
fn every_ward_summary_says_its_wards_are_built_from_whole_lsoas_by_best_fit() {
    let b = shared_build();
    let m = manifest_json(&b.out);
    for table in [
        "imd_england_2019_ward19",
        "imd_wales_2019_ward19",
        "imd_england_2025_ward24",
        "imd_wales_2025_ward24",
    ] {
        let notes = m["tables"][table]["notes"].to_string();
        assert!(notes.contains("by best fit"), "{table}: {notes}");
    }
    for (code, section) in [
        ("E05013950", "imd_england_2025_ward24"),
        ("W05001263", "imd_wales_2025_ward24"),
    ] {
        let area = area_file(&b.out, code);
        assert!(area["summaries"].get(section).is_some(), "{code}");
        let caveats = area["caveats"].to_string();
        assert!(
            caveats.contains("by best fit (LSOAs do not nest in wards)"),
            "{code}: {caveats}"
        );
    }
}

#[test]
fn a_change_direction_says_which_way_declined_is() {
    let b = shared_build();
    let f = datapackage_field(&b.out, "imd_change_2019_2025_lsoa21", "direction");
    let d = f["description"].as_str().unwrap();
    assert!(
        d.contains(
            "declined (down by the threshold or more: it moved towards the more deprived end)"
        ),
        "{d}"
    );
}
