//! The static JSON API, on the shared release: a file for every area code
//! the tables mention, the right values in it, postcodes by outcode, and an
//! OpenAPI description that covers what the files hold.

use std::collections::BTreeSet;
use std::path::Path;

use polars::prelude::*;
use regex::Regex;
use serde_json::Value;

use crate::util::*;

fn json(path: &Path) -> Value {
    api_json(path)
}

fn area(code: &str) -> Value {
    area_file(&shared_build().out, code)
}

/// Every value of every `*_code` column of every table.
fn codes_in_tables(out: &Path) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for entry in std::fs::read_dir(out.join("tables")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue; // the CSV copy of a table
        }
        let f = std::fs::File::open(&path).unwrap();
        let frame = ParquetReader::new(f).finish().unwrap();
        for col in frame.columns() {
            if col.name().ends_with("_code") && col.dtype() == &DataType::String {
                codes.extend(col.str().unwrap().iter().flatten().map(str::to_string));
            }
        }
    }
    codes
}

#[test]
fn every_small_area_ward_and_local_authority_code_in_the_tables_has_its_file() {
    let b = shared_build();
    // LSOA 2011/2021, data zones (Scotland 2011, NI 2021), NI SOA, wards
    // (E/W, NI, Scotland) and local authorities (districts, counties,
    // council areas, NI districts).
    let wanted = Regex::new(
        r"^([EW]01\d{6}|S01\d{6}|N20\d{6}|95[A-Z]{2}\d{2}([A-Z]\d{1,2})?|([EW]05|N08|S13)\d{6}|(E0[6-9]|E10|W06|S12|N09)\d{6})$",
    )
    .unwrap();
    let codes: Vec<String> = codes_in_tables(&b.out)
        .into_iter()
        .filter(|c| wanted.is_match(c))
        .collect();
    assert!(codes.len() > 60_000, "{} codes", codes.len());
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !b.out.join(format!("api/v2/areas/{c}.json")).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} codes have no file, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    // The index lists exactly the files.
    let index = json(&b.out.join("api/v2/areas/index.json"));
    let listed: BTreeSet<&str> = index["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    let files = std::fs::read_dir(b.out.join("api/v2/areas"))
        .unwrap()
        .count()
        - 1;
    assert_eq!(listed.len(), files);
    assert_eq!(index["count"], files);
    for c in &codes {
        assert!(listed.contains(c.as_str()), "{c} is not in index.json");
    }
}

#[test]
fn an_lsoa_file_holds_both_vintages_parents_editions_change_and_census() {
    let a = area("E01004736");
    assert_eq!(a["name"], "Westminster 018C");
    assert_eq!(a["types"], serde_json::json!(["lsoa11", "lsoa21"]));
    assert_eq!(a["parents"]["ward24"]["name"], "St James's");
    assert_eq!(a["parents"]["lad24"]["code"], "E09000033");
    assert_eq!(a["parents"]["lad24"]["name"], "Westminster");
    assert_eq!(a["parents"]["ward19"]["code"], "E05000644");

    // IMD 2019 as published (File 1), with the platform's field names.
    let d19 = &a["deprivation"]["imd_england_2019"];
    assert_eq!(d19["imd_rank"], 24862);
    assert_eq!(d19["imd_decile"], 8);
    assert_eq!(d19["table"], "imd_england_2019");
    assert!(d19["income_score"].is_number());
    // A field the source lacks is null, and the file says why.
    assert!(d19["crime_score"].is_null());
    assert!(d19["missing"]["crime_score"]
        .as_str()
        .unwrap()
        .contains("not among"));

    let d25 = &a["deprivation"]["imd_england_2025"];
    assert!(d25["imd_rank"].as_i64().unwrap() > 0);
    assert!(d25["imd_quantile_5"].is_number());
    assert_eq!(
        a["deprivation"]["imd_england_2025_on_lsoa11"]["imd_rank_2025"]
            .as_f64()
            .unwrap(),
        d25["imd_rank"].as_f64().unwrap(),
        "an unchanged LSOA has its own 2025 rank"
    );
    assert_eq!(a["change"]["imd_england_2019_2025"]["comparable"], true);
    assert!(a["change"]["imd_england_2019_2025"]["direction"].is_string());
    assert_eq!(
        a["boundary_change"]["lsoa11_to_lsoa21"]["rows"][0]["change"],
        "U"
    );
    let census = &a["census"]["census2021_lsoa21"]["values"];
    assert!(census["population"]["value"].as_f64().unwrap() > 100.0);
    assert_eq!(census["population"]["status"], "ok");
    let caveats = a["caveats"].to_string();
    assert!(caveats.contains("within England"), "{caveats}");
    assert!(caveats.contains("never scores"), "{caveats}");
    assert_eq!(a["unavailable"], serde_json::json!([]));
}

#[test]
fn area_files_agree_with_the_tables() {
    let b = shared_build();
    let t = read_table(&b.out, "imd_england_2025");
    let codes = t.column("lsoa21_code").unwrap().str().unwrap().clone();
    let ranks = t.column("imd_rank").unwrap().i64().unwrap().clone();
    let deciles = t.column("imd_decile").unwrap().i64().unwrap().clone();
    for i in (0..t.height()).step_by(97) {
        let a = area(codes.get(i).unwrap());
        let d = &a["deprivation"]["imd_england_2025"];
        assert_eq!(d["imd_rank"].as_i64(), ranks.get(i), "row {i}");
        assert_eq!(d["imd_decile"].as_i64(), deciles.get(i), "row {i}");
    }
    let w = read_table(&b.out, "imd_wales_2019");
    let code = w
        .column("lsoa11_code")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap();
    let rank = w.column("imd_rank").unwrap().i64().unwrap().get(0);
    let a = area(code);
    assert_eq!(
        a["deprivation"]["imd_wales_2019"]["imd_rank"].as_i64(),
        rank
    );
    assert!(a["deprivation"].get("imd_england_2019").is_none());
}

#[test]
fn ward_and_local_authority_files_hold_summaries_census_and_places_scores() {
    let w = area("E05013806");
    assert!(w["types"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("ward24")));
    assert_eq!(w["parents"]["lad24"]["name"], "Westminster");
    assert!(w["summaries"]["imd_england_2025_ward24"]["imd_average_score"].is_number());
    assert!(w["places_scores"]["ward24"]["overall_rank"].is_number());
    assert!(w["census"]["census2021_ward24"]["values"]["population"]["value"].is_number());
    assert!(w["change"]["imd_england_2019_2025_ward24"]["comparable"].is_boolean());

    let la = area("E09000033");
    let types: Vec<&str> = la["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in ["lad19", "lad22", "lad24"] {
        assert!(types.contains(&t), "{types:?}");
    }
    assert!(la["summaries"]["imd_england_2019_lad19"]["rank_of_imd_average_score"].is_number());
    assert!(la["summaries"]["imd_england_2025_lad24"]["rank_of_imd_average_score"].is_number());
    assert!(la["places_scores"]["lad24"]["overall_score"].is_number());
    assert!(la["census"]["census2021_lad24"]["values"]["population"]["value"].is_number());
    assert!(la["census"]["census2021_lad24"]["values"]["no_car_share"]["value"].is_number());
    // The scales are sums of rounded rates: said beside them.
    for file in [&w, &la] {
        let caveats = file["caveats"].to_string();
        assert!(
            caveats.contains("Income and employment scales, and their ranks, are approximate"),
            "{caveats}"
        );
    }
}

#[test]
fn scottish_and_northern_irish_areas_have_their_own_index_and_parents() {
    let b = shared_build();
    let t = read_table(&b.out, "imd_scotland_2020v2");
    let dz = t
        .column("data_zone_code")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let rank = t.column("imd_rank").unwrap().i64().unwrap().get(0);
    let a = area(&dz);
    assert_eq!(a["types"], serde_json::json!(["data_zone11"]));
    assert_eq!(
        a["deprivation"]["imd_scotland_2020v2"]["imd_rank"].as_i64(),
        rank
    );
    assert!(a["parents"]["council_area"]["name"].is_string());
    assert!(a["caveats"].to_string().contains("within Scotland"));

    let ni = read_table(&b.out, "imd_ni_2017");
    let soa = ni
        .column("soa_code")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    let a = area(&soa);
    assert_eq!(a["types"], serde_json::json!(["soa01"]));
    assert!(a["deprivation"]["imd_ni_2017"]["imd_rank"].is_number());
    // NIMDM names its district only; the code is found by that name.
    let lgd = &a["parents"]["lgd14"];
    assert!(lgd["code"].as_str().unwrap().starts_with("N09"), "{lgd}");
}

#[test]
fn postcodes_are_grouped_by_outcode_and_say_what_is_unknown() {
    let b = shared_build();
    let index = json(&b.out.join("api/v2/postcodes/index.json"));
    let table = read_table(&b.out, "postcode_areas");
    assert_eq!(index["postcodes"], table.height());
    assert_eq!(
        table.height(),
        123_018 + 59_995,
        "NSPL's 20 areas and NISRA's look-up"
    );
    let outcodes = index["outcodes"].as_array().unwrap();
    let sum: u64 = outcodes
        .iter()
        .map(|o| o["postcodes"].as_u64().unwrap())
        .sum();
    assert_eq!(sum as usize, table.height());

    let bt1 = json(&b.out.join("api/v2/postcodes/BT1.json"));
    let pcs = bt1["postcodes"].as_object().unwrap();
    assert_eq!(bt1["count"], pcs.len());
    let first = &pcs["BT1 1AA"];
    // The NI look-up records no terminations: status unknown.
    assert_eq!(first["status"], "unknown");
    let place = &bt1["places"][first["place"].as_u64().unwrap() as usize];
    assert_eq!(place["small_areas"]["dz21"], "N20000855");
    assert_eq!(place["lad"], "N09000003");
    // NIMDM 2017 is on SOA 2001, not on these data zones: no IMD, and why.
    let why = bt1["reasons"][place["reason"].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    assert!(why.contains("Super Output Areas 2001"), "{why}");
    let sorted: Vec<&String> = pcs.keys().collect();
    let mut again = sorted.clone();
    again.sort();
    assert_eq!(sorted, again);
}

#[test]
fn openapi_describes_every_path_and_every_field_group_the_files_use() {
    let b = shared_build();
    let api = json(&b.out.join("openapi.json"));
    assert_eq!(api["openapi"], "3.1.0");
    for p in [
        "/api/v2/areas/{code}.json",
        "/api/v2/areas/index.json",
        "/api/v2/dictionary.json",
        "/api/v2/postcodes/{outcode}.json",
        "/api/v2/postcodes/index.json",
    ] {
        assert!(api["paths"].get(p).is_some(), "{p}");
    }
    let props = &api["components"]["schemas"]["Area"]["properties"];
    for code in [
        "E01004736",
        "W01000001",
        "E05013806",
        "E09000033",
        "S12000033",
    ] {
        let a = area(code);
        for (k, v) in a.as_object().unwrap() {
            assert!(
                props.get(k).is_some(),
                "{code}: `{k}` is not in the Area schema"
            );
            if let Some(sections) = props[k].get("properties") {
                for s in v.as_object().unwrap().keys() {
                    assert!(
                        sections.get(s).is_some(),
                        "{code}: `{k}.{s}` is undocumented"
                    );
                }
            }
        }
        for r in api["components"]["schemas"]["Area"]["required"]
            .as_array()
            .unwrap()
        {
            assert!(a.get(r.as_str().unwrap()).is_some(), "{code} lacks {r}");
        }
    }
}

#[test]
fn area_files_say_shared_text_once_in_the_dictionary() {
    let b = shared_build();
    let api = json(&b.out.join("openapi.json"));
    let dict = json(&b.out.join("api/v2/dictionary.json"));
    assert_eq!(
        against_schema(&api, "Dictionary", &dict),
        Vec::<String>::new()
    );
    let sections = dict["sections"].as_object().unwrap();
    for (id, text) in sections {
        assert_eq!(
            against_schema(&api, "SectionText", text),
            Vec::<String>::new(),
            "{id}"
        );
    }
    let caveats = dict["caveats"].as_array().unwrap();
    assert!(caveats
        .iter()
        .all(|c| c.as_str().is_some_and(|c| !c.is_empty())));
    let mut used = BTreeSet::new();
    let files: Vec<_> = std::fs::read_dir(b.out.join("api/v2/areas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("index.json"))
        .collect();
    assert!(files.len() > 60_000);
    // Every file's caveats are positions in the dictionary's.
    for path in &files {
        let text = String::from_utf8(census_pipeline::gz::read(path).unwrap()).unwrap();
        let at = text.rfind(r#","caveats":"#).unwrap() + 11;
        let list = &text[at..at + text[at..].find(']').unwrap() + 1];
        for c in serde_json::from_str::<Vec<usize>>(list).unwrap() {
            assert!(c < caveats.len(), "{}: caveat {c}", path.display());
            used.insert(c);
        }
    }
    // Every 40th file in full.
    for path in files.iter().step_by(40) {
        let bytes = census_pipeline::gz::read(path).unwrap();
        let a: Value = serde_json::from_slice(&bytes).unwrap();
        let code = a["code"].as_str().unwrap();
        assert_eq!(a["dictionary"], "../dictionary.json");
        for (group, v) in a.as_object().unwrap() {
            if ["names", "parents"].contains(&group.as_str()) {
                continue;
            }
            let Some(secs) = v.as_object() else { continue };
            for (key, sec) in secs {
                let shared = &sections[&format!("{group}.{key}")];
                assert_eq!(sec["table"], shared["table"], "{code} {group}.{key}");
                for field in ["title", "missing", "directions"] {
                    assert!(
                        sec.get(field).is_none(),
                        "{code} {group}.{key} repeats `{field}`"
                    );
                }
                // A field the dictionary says the source lacks is null here.
                for field in shared["missing"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(f, _)| f)
                {
                    if let Some(cell) = sec.get(field) {
                        assert!(cell.is_null(), "{code} {group}.{key}.{field}");
                    }
                }
            }
        }
        // No caveat's words are in the file itself.
        let text = String::from_utf8(bytes).unwrap();
        for c in caveats {
            assert!(
                !text.contains(c.as_str().unwrap()),
                "{code} repeats a caveat"
            );
        }
    }
    // Every caveat is some area's: none is numbered in vain.
    assert_eq!(used.len(), caveats.len(), "{used:?}");
}

/// The keys of `v` that the schema `name` of openapi.json does not declare,
/// and the required ones `v` lacks.
fn against_schema(api: &Value, name: &str, v: &Value) -> Vec<String> {
    let schema = &api["components"]["schemas"][name];
    let props = &schema["properties"];
    let o = v.as_object().unwrap();
    let mut wrong: Vec<String> = o
        .keys()
        .filter(|k| props.get(k.as_str()).is_none())
        .map(|k| format!("{name}: `{k}` undeclared"))
        .collect();
    for r in schema["required"].as_array().into_iter().flatten() {
        if !o.contains_key(r.as_str().unwrap()) {
            wrong.push(format!("{name}: lacks required {r}"));
        }
    }
    wrong
}

#[test]
fn openapi_declares_every_field_of_the_postcode_files_and_their_links_resolve() {
    let b = shared_build();
    let api = json(&b.out.join("openapi.json"));
    let dir = b.out.join("api/v2/postcodes");
    let index = json(&dir.join("index.json"));
    assert_eq!(
        against_schema(&api, "PostcodeIndex", &index),
        Vec::<String>::new()
    );
    for outcode in ["DT1", "LD1", "DG1", "BT1", "JE2", "IM1"] {
        let f = json(&dir.join(format!("{outcode}.json")));
        let mut wrong = against_schema(&api, "Outcode", &f);
        for e in f["editions"].as_object().unwrap().values() {
            wrong.extend(against_schema(&api, "OutcodeEdition", e));
        }
        for p in f["places"].as_array().unwrap() {
            wrong.extend(against_schema(&api, "Place", p));
        }
        for (code, a) in f["areas"].as_object().unwrap() {
            for (k, v) in a.as_object().unwrap() {
                if k == "href" {
                    // Relative to the outcode file, as a client resolves it.
                    let target = dir.join(v.as_str().unwrap());
                    assert!(target.is_file(), "{outcode}: {code}'s href {v}");
                } else {
                    assert!(f["editions"].get(k).is_some(), "{outcode}: {code}.{k}");
                    wrong.extend(against_schema(&api, "AreaRank", v));
                }
            }
        }
        assert_eq!(wrong, Vec::<String>::new(), "{outcode}");
    }
    // A place's `country` names its editions, by the editions' own field.
    let dt1 = json(&dir.join("DT1.json"));
    let place = &dt1["places"][dt1["postcodes"]["DT1 1AA"]["place"].as_u64().unwrap() as usize];
    let of_place: Vec<&String> = dt1["editions"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["country"] == place["country"])
        .map(|(k, _)| k)
        .collect();
    assert_eq!(of_place, ["imd_england_2019", "imd_england_2025"]);
}

#[test]
fn the_api_is_in_the_manifest_with_true_digests() {
    let b = shared_build();
    let m = &b.report.manifest;
    let api: Vec<_> = m
        .files
        .iter()
        .filter(|f| f.path.starts_with("api/"))
        .collect();
    assert!(api.len() > 60_000);
    for f in api.iter().step_by(251) {
        let bytes = std::fs::read(b.out.join(&f.path)).unwrap();
        assert_eq!(sha256_hex(&bytes), f.sha256, "{}", f.path);
    }
    assert!(m.files.iter().any(|f| f.path == "openapi.json"));
}
