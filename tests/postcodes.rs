//! Postcodes: the real NSPL member files of 20 postcode areas, through the
//! postcode stage, the compact outcode files and `census-pipeline lookup`.
//! Expected values are read here from the publishers' own files.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// The NSPL rows of the shared data: pcds -> (doterm, ctry, lsoa11, imd).
fn nspl() -> BTreeMap<String, [String; 4]> {
    let dir = data_dir().join("postcodes/nspl_nov2021_partial");
    let mut out = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let text = read_text(&f);
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let at = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (pc, term, ctry, lsoa, imd) = (
            at("pcds"),
            at("doterm"),
            at("ctry"),
            at("lsoa11"),
            at("imd"),
        );
        for rec in r.records() {
            let rec = rec.unwrap();
            out.insert(
                rec[pc].to_string(),
                [
                    rec[term].to_string(),
                    rec[ctry].to_string(),
                    rec[lsoa].to_string(),
                    rec[imd].to_string(),
                ],
            );
        }
    }
    out
}

fn outcode_file(out: &Path, postcode: &str) -> Value {
    let outcode = postcode.split(' ').next().unwrap();
    let path = out.join(format!("api/v2/postcodes/{outcode}.json"));
    api_json(&path)
}

/// A postcode's entry, place and the file.
fn answer(out: &Path, postcode: &str) -> (Value, Value, Value) {
    let f = outcode_file(out, postcode);
    let p = f["postcodes"][postcode].clone();
    assert!(p.is_object(), "{postcode} is in its outcode file");
    let place = f["places"][p["place"].as_u64().unwrap() as usize].clone();
    (p, place, f)
}

/// A publisher's ranks: area code -> rank, from a CSV's two named columns.
fn ranks_from_csv(path: &str, code: &str, rank: &str) -> BTreeMap<String, f64> {
    let text = read_text(&data_dir().join(path));
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h: Vec<String> = r
        .headers()
        .unwrap()
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let (c, k) = (
        h.iter().position(|x| x == code).unwrap(),
        h.iter().position(|x| x == rank).unwrap(),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[c].to_string(), rec[k].trim().parse().unwrap())
        })
        .collect()
}

/// A workbook sheet's ranks by its first column.
fn ranks_from_sheet(path: &str, sheet: &str, rank: &str) -> BTreeMap<String, f64> {
    use calamine::{DataType, Reader};
    let mut book = calamine::open_workbook_auto(data_dir().join(path)).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    let mut rows = range.rows();
    let h: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let k = h.iter().position(|x| x == rank).unwrap();
    rows.map(|r| (r[0].to_string(), r[k].as_f64().unwrap()))
        .collect()
}

#[test]
fn sampled_postcodes_have_the_small_area_and_imd_the_publishers_give() {
    let b = shared_build();
    let directory = nspl();
    let england_2019 = ranks_from_sheet(
        "imd_england_2019/File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx",
        "IMD2019",
        "Index of Multiple Deprivation (IMD) Rank",
    );
    let england_2025 = ranks_from_sheet(
        "imd_england_2025/File_1_IoD2025_Index_of_Multiple_Deprivation.xlsx",
        "IMD25",
        "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    );
    let wales = ranks_from_csv(
        "imd_wales_2019/welsh-index-multiple-deprivation-2019-index-and-domain-ranks-by-small-area.csv",
        "LSOA code",
        "WIMD 2019",
    );
    let scotland = ranks_from_csv(
        "imd_scotland_2020v2/SIMD+2020v2+-+ranks.csv",
        "Data_Zone",
        "SIMD2020v2_Rank",
    );
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for (pc, [_, ctry, lsoa, _]) in directory.iter().step_by(101) {
        let (key, geo, ranks) = match ctry.as_str() {
            "E92000001" => ("imd_england_2019", "lsoa11", &england_2019),
            "W92000004" => ("wimd_2019", "lsoa11", &wales),
            "S92000003" => ("simd_2020v2", "dz11", &scotland),
            _ => continue,
        };
        let (_, place, f) = answer(&b.out, pc);
        assert_eq!(place["small_areas"][geo], lsoa.as_str(), "{pc}");
        let ours = f["areas"][lsoa][key]["rank"].as_f64();
        assert_eq!(ours, ranks.get(lsoa).copied(), "{pc} in {lsoa}, {key}");
        *checked.entry(key).or_default() += 1;
        // England 2025: through LSOA 2021 where the boundaries left one answer.
        if key == "imd_england_2019" {
            if let Some(l21) = place["small_areas"]["lsoa21"].as_str() {
                let ours = f["areas"][l21]["imd_england_2025"]["rank"].as_f64();
                assert_eq!(ours, england_2025.get(l21).copied(), "{pc} in {l21}, 2025");
                *checked.entry("imd_england_2025").or_default() += 1;
            } else {
                let why = place["missing"]["lsoa21"].as_u64().unwrap() as usize;
                assert!(
                    f["reasons"][why].as_str().unwrap().contains("split"),
                    "{pc}"
                );
            }
        }
    }
    assert!(checked.values().all(|n| *n > 10), "{checked:?}");
    assert_eq!(checked.len(), 4, "{checked:?}");
}

#[test]
fn every_postcode_of_the_twenty_areas_is_in_an_outcode_file() {
    let b = shared_build();
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    let directory = nspl();
    assert_eq!(directory.len(), 123_018, "as MANIFEST.md counts them");
    for pc in directory.keys() {
        let outcode = pc.split(' ').next().unwrap().to_string();
        let f = files
            .entry(outcode)
            .or_insert_with(|| outcode_file(&b.out, pc));
        assert!(f["postcodes"][pc].is_object(), "{pc}");
    }
    assert_eq!(files.len(), 242, "outcodes of the 20 postcode areas");
}

#[test]
fn channel_islands_isle_of_man_and_northern_ireland_carry_reasons() {
    let b = shared_build();
    let directory = nspl();
    for (country, words) in [
        ("L93000001", "Channel Islands"),
        ("M83000003", "Isle of Man"),
    ] {
        let pc = directory.iter().find(|(_, r)| r[1] == country).unwrap().0;
        let (_, place, f) = answer(&b.out, pc);
        let why = &f["reasons"][place["reason"].as_u64().unwrap() as usize];
        assert!(why.as_str().unwrap().contains(words), "{pc}: {why}");
        assert_eq!(place["small_areas"], serde_json::json!({}), "{pc}");
    }
    // Northern Ireland: NISRA's look-up is on Data Zones 2021, not SOAs.
    let (p, place, f) = answer(&b.out, "BT1 1AA");
    assert_eq!(p["status"], "unknown");
    assert!(place["small_areas"]["dz21"].is_string());
    let why = f["reasons"][place["reason"].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    assert!(why.contains("Super Output Areas 2001"), "{why}");
}

#[test]
fn an_answer_whose_decile_is_computed_says_so() {
    // WIMD 2025 and NIMDM 2017 deciles are not among the shared inputs: the
    // index tables compute them from ranks, and every answer from those
    // editions carries the table's own words for it.
    let b = shared_build();
    let (pcds, _) = an_english_postcode();
    let f = outcode_file(&b.out, pcds);
    let editions = &f["editions"];
    for key in ["wimd_2025", "nimdm_2017"] {
        let why = editions[key]["decile_computed"].as_str().unwrap();
        assert!(
            why.contains("computed from `imd_rank` as ceil(rank * 10 / "),
            "{key}: {why}"
        );
    }
    for key in [
        "imd_england_2019",
        "imd_england_2025",
        "wimd_2019",
        "simd_2020v2",
    ] {
        assert!(editions[key].get("decile_computed").is_none(), "{key}");
    }
}

#[test]
fn a_terminated_postcode_is_answered_with_its_last_small_area() {
    let b = shared_build();
    let (pc, row) = nspl()
        .into_iter()
        .find(|(_, r)| !r[0].is_empty() && r[2].starts_with("E01"))
        .unwrap();
    let (p, place, f) = answer(&b.out, &pc);
    assert_eq!(p["status"], "terminated");
    assert_eq!(p["terminated"], row[0].as_str());
    assert_eq!(place["small_areas"]["lsoa11"], row[2].as_str());
    let rank = f["areas"][&row[2]]["imd_england_2019"]["rank"]
        .as_f64()
        .unwrap();
    assert_eq!(
        rank,
        row[3].parse::<f64>().unwrap(),
        "the directory's own rank"
    );
}

/// The size of an API file's JSON (they are stored gzip-encoded).
fn json_bytes(path: &Path) -> u64 {
    census_pipeline::gz::read(path).unwrap().len() as u64
}

#[test]
fn outcode_files_are_compact() {
    let b = shared_build();
    let dir = b.out.join("api/v2/postcodes");
    let mut sizes: Vec<u64> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_name() != "index.json" && e.path().extension().is_some_and(|x| x == "json")
        })
        .map(|e| json_bytes(&e.path()))
        .collect();
    sizes.sort();
    let median = sizes[sizes.len() / 2];
    assert!(
        median <= 30 << 10,
        "median outcode file {median} bytes of JSON"
    );
    let bt1 = json_bytes(&dir.join("BT1.json"));
    assert!(
        bt1 * 10 <= 675_000,
        "BT1.json is {bt1} bytes of JSON (was 675 KB)"
    );
    let stored = std::fs::metadata(dir.join("BT1.json")).unwrap().len();
    assert!(
        stored * 3 < bt1,
        "stored gzip-encoded: {stored} of {bt1} bytes"
    );
    let note = std::fs::read_to_string(dir.join("migration.md")).unwrap();
    assert!(note.contains("imd_england_2019"), "{note}");
}

#[test]
fn the_directory_rank_disagreeing_everywhere_stops_the_release() {
    let dir = tempdir();
    let data = dir.path().join("data");
    mirror_data(&data);
    let member = "postcodes/nspl_nov2021_partial/NSPL_NOV_2021_UK_DT.csv.gz";
    let text = read_text(&data_dir().join(member));
    // Every DT postcode's rank is off by one: a wrong edition or geography.
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    let imd = h.iter().position(|x| x == "imd").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&h).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        let mut f: Vec<String> = rec.iter().map(String::from).collect();
        f[imd] = (f[imd].parse::<i64>().unwrap() + 1).to_string();
        w.write_record(&f).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &w.into_inner().unwrap()).unwrap();
    std::fs::remove_file(data.join(member)).unwrap();
    std::fs::write(data.join(member), gz.finish().unwrap()).unwrap();
    let catalog = edited_catalog(dir.path(), &data, "postcodes/nspl_nov2021_partial");
    let out = dir.path().join("release");
    let err = build_on_shared_cache(dir.path(), &catalog, &stages_dir())
        .expect_err("a systematic disagreement stops the release")
        .to_string();
    assert!(
        err.contains("check `directory_rank_imd_england_2019`"),
        "{err}"
    );
    assert!(err.contains("DT"), "{err}");
    assert!(!out.exists());
}

/// A live English postcode of the directory, and its row.
fn an_english_postcode() -> &'static (String, [String; 4]) {
    static PC: std::sync::OnceLock<(String, [String; 4])> = std::sync::OnceLock::new();
    PC.get_or_init(|| {
        nspl()
            .into_iter()
            .find(|(_, r)| r[1] == "E92000001" && r[0].is_empty())
            .unwrap()
    })
}

/// `census-pipeline lookup --release <shared release> ARGS IN`, with `input`
/// written to a file of its own first.
fn lookup(args: &[&str], input: &str) -> std::process::Output {
    let dir = tempdir();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, input).unwrap();
    assert_cmd::Command::cargo_bin("census-pipeline")
        .unwrap()
        .args(["lookup", "--release"])
        .arg(&shared_build().out)
        .args(args)
        .arg(&path)
        .output()
        .unwrap()
}

fn stdout_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn lookup_answers_a_messy_csv_row_by_row_and_never_stops() {
    let b = shared_build();
    let (pc, row) = an_english_postcode();
    let dir = tempdir();
    let input = dir.path().join("patients.csv");
    let lower = pc.to_lowercase();
    let nospace = pc.replace(' ', "");
    // Row 4 is the postcode's LSOA code, typed in lower case; a blank line
    // stands for a patient with no postcode.
    std::fs::write(
        &input,
        format!(
            "id,postcode\n1,{pc}\n2,{lower}\n3,{nospace}\n4,{}\n5,not a postcode\n6,\n\n7,JE2 3AB\n",
            row[2].to_lowercase()
        ),
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    assert_cmd::Command::cargo_bin("census-pipeline")
        .unwrap()
        .args(["lookup", "--release"])
        .arg(&b.out)
        .args(["--year", "2019"])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .assert()
        .success();
    let text = std::fs::read_to_string(&output).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 8, "every row kept, the blank line too");
    for (i, r) in rows.iter().take(3).enumerate() {
        assert_eq!(&r[col("postcode_normalised")], pc.as_str(), "row {i}");
        assert_eq!(&r[col("imd_rank")], row[3].as_str(), "row {i}");
        assert_eq!(&r[col("imd_edition")], "imd_england_2019");
        assert_eq!(&r[col("imd_n")], "32844");
    }
    // A small-area code among postcodes is answered as the area it names,
    // in whatever case it was typed.
    assert_eq!(&rows[3][col("small_area_code")], row[2].as_str());
    assert_eq!(&rows[3][col("imd_rank")], row[3].as_str());
    assert_eq!(&rows[3][col("postcode_normalised")], "");
    assert!(rows[4][col("lookup_reason")].contains("not a UK postcode"));
    assert!(rows[5][col("lookup_reason")].contains("empty"));
    // The blank line keeps its place, so row 7 stays beside patient 7.
    assert_eq!(&rows[6][col("id")], "");
    assert!(rows[6][col("lookup_reason")].contains("empty"));
    assert_eq!(&rows[7][col("id")], "7");
    assert!(
        rows[7][col("lookup_reason")].contains("Channel Islands")
            || rows[7][col("lookup_reason")].contains("not in")
    );

    // Writing over the input is refused before anything is read or written.
    assert_cmd::Command::cargo_bin("census-pipeline")
        .unwrap()
        .args(["lookup", "--release"])
        .arg(&b.out)
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .assert()
        .failure()
        .stderr(predicates::str::contains("is the input"));
    assert!(std::fs::read_to_string(&input)
        .unwrap()
        .contains("not a postcode"));
}

#[test]
fn lookup_finds_a_column_of_small_area_codes_and_names_the_release_it_answers_from() {
    let (_, row) = an_english_postcode();
    let codes = format!("area\n{}\nE01999999\n", row[2]);
    let out = lookup(&[], &codes);
    assert!(out.status.success());
    let lines = stdout_lines(&out);
    assert!(
        lines[1].contains("imd_england_2025") || lines[1].contains("imd_england_2019"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("not ranked") || lines[2].contains("not a small area"),
        "{lines:?}"
    );

    // A year before every edition of a nation is answered from its
    // earliest, and stderr says so.
    let out = lookup(&["--year", "2017"], &codes);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "England has no edition of 2017 or before: its rows are answered from imd_england_2019"
        ),
        "{err}"
    );
    assert!(!err.contains("Northern Ireland has no edition"), "{err}");
    // Where the answers came from, for the audit's record.
    assert!(
        err.contains("answers from release 1.0.0 (catalog `shared`, built by census-pipeline "),
        "{err}"
    );
}

#[test]
fn lookup_keeps_blank_rows_in_place_without_mistaking_a_header_for_data() {
    let (pc, _) = an_english_postcode();
    // A header that starts like a code (`w01`: week 1) is still a header,
    // and 250 blank rows do not hide the column from detection.
    let out = lookup(&[], &format!("postcode,w01\n{}{pc},3\n", "\n".repeat(250)));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout_lines(&out);
    assert!(lines[0].starts_with("postcode,w01,"), "{}", lines[0]);
    assert_eq!(
        lines.len(),
        1 + 251,
        "the header, 250 blank rows, the postcode"
    );
    assert!(
        lines[251].starts_with(&format!("{pc},3,{pc},")),
        "{}",
        lines[251]
    );

    // A headerless list's first patient may have no postcode: the blank
    // line before it is a row too.
    let out = lookup(&[], &format!("\n{pc}\n{}\n", pc.to_lowercase()));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 1 + 3, "{lines:?}");
    assert!(lines[1].contains("the cell is empty"), "{}", lines[1]);
    assert!(lines[2].starts_with(&format!("{pc},{pc},")), "{}", lines[2]);
}

#[test]
fn lookup_says_a_file_saved_with_semicolons_is_one_column() {
    let (pc, _) = an_english_postcode();
    let out = lookup(&[], &format!("id;postcode\n1;{pc}\n"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("comma-separated"), "{err}");
}
