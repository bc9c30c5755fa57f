//! The diff report: exact on a deliberate change, silent when nothing
//! changed, and an HTML page that renders in a real browser.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn cli() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("census-pipeline"))
}

fn build_tiny(dir: &Path, csv: &str, out: &Path, previous: Option<&Path>) -> String {
    let (catalog, stages) = tiny_fixture(dir, csv, None);
    let mut c = cli();
    c.arg("build")
        .arg("--sources")
        .arg(&catalog)
        .arg("--stages")
        .arg(&stages)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(out);
    if let Some(p) = previous {
        c.arg("--previous").arg(p);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_deliberately_changed_source_is_reported_exactly() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,2\nA3,3\n", &a, None);
    let out = build_tiny(
        dir.path(),
        "Area code,Value\nA1,1\nA2,5\nA3,3\nA4,4\n",
        &b,
        Some(&a),
    );
    assert!(
        out.contains("built version 1.1.0"),
        "rows added: a minor version; {out}"
    );
    let md = std::fs::read_to_string(b.join("report/diff.md")).unwrap();
    assert!(
        md.contains("| `tiny` | values changed | 3 -> 4 | 1 | 0 | 1 | value (1) |"),
        "{md}"
    );
    assert!(md.contains("- A2: value 2 -> 5"), "{md}");
    let html = std::fs::read_to_string(b.join("report/diff.html")).unwrap();
    assert!(
        html.contains("<td>tiny</td><td>values changed</td>"),
        "{html}"
    );
    // The command gives the same report.
    let o = cli().arg("diff").arg(&a).arg(&b).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), md);
}

#[test]
fn identical_builds_report_no_change_and_keep_their_version() {
    let b = shared_build();
    let dir = tempdir();
    let again = dir.path().join("again");
    let o = cli()
        .current_dir(repo())
        .args(["build", "--sources", "tests/shared.sources.toml", "--out"])
        .arg(&again)
        .arg("--cache")
        .arg(&b.cache)
        .arg("--previous")
        .arg(&b.out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("built version 1.0.0"));
    let md = std::fs::read_to_string(again.join("report/diff.md")).unwrap();
    assert!(md.contains("No value changed in any table."), "{md}");
    assert!(
        md.contains("| `imd_england_2019` |"),
        "the verification summary lists every verified table"
    );
}

/// Takes a headless Chromium screenshot of `url`; returns the PNG's size.
fn screenshot(url: String, png: &Path, profile: &Path) -> u64 {
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::metadata(png).unwrap().len()
}

#[test]
fn the_html_report_renders_in_chromium() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Index-like tables get charts: give the tiny table ranks and deciles.
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,2\n", &a, None);
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,9\n", &b, Some(&a));
    let profile = dir.path().join("profile");
    let report = screenshot(
        format!("file://{}", b.join("report/diff.html").display()),
        &dir.path().join("report.png"),
        &profile,
    );
    let blank = screenshot(
        "about:blank".into(),
        &dir.path().join("blank.png"),
        &profile,
    );
    assert!(
        report > blank * 3,
        "the report's screenshot ({report} bytes) is not blank ({blank} bytes for an empty page)"
    );
}

/// The shared release, with three Westminster LSOAs moved one decile in
/// the English IMD 2025 and one comparability flag flipped (and the
/// package's hashes of those tables updated), copied into `dir/new`.
fn release_with_westminster_moved(dir: &Path) -> std::path::PathBuf {
    use polars::prelude::*;
    let b = shared_build();
    // The shared release, with three Westminster LSOAs moved one decile in
    // the English IMD 2025 (and the package's hash of that table updated).
    let new = dir.join("new");
    std::fs::create_dir_all(new.join("tables")).unwrap();
    for e in std::fs::read_dir(b.out.join("tables")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, new.join("tables").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        b.out.join("verification.json"),
        new.join("verification.json"),
    )
    .unwrap();
    let mut t = read_table(&b.out, "imd_england_2025");
    let las = t.column("lad24_code").unwrap().str().unwrap().clone();
    let deciles = t.column("imd_decile").unwrap().i64().unwrap().clone();
    let mut moved = 0;
    let changed: Vec<Option<i64>> = (0..t.height())
        .map(|i| {
            let d = deciles.get(i);
            if las.get(i) == Some("E09000033") && moved < 3 {
                moved += 1;
                d.map(|d| d % 10 + 1)
            } else {
                d
            }
        })
        .collect();
    let mut pkg: serde_json::Value = datapackage(&b.out);
    replace_column(
        &new,
        &mut pkg,
        "imd_england_2025",
        &mut t,
        Series::new("imd_decile".into(), changed),
    );
    // And one boolean flipped in a change table.
    let mut c = read_table(&b.out, "imd_change_2019_2025_lsoa21");
    let flags = c.column("comparable").unwrap().bool().unwrap().clone();
    let flipped: Vec<Option<bool>> = (0..c.height())
        .map(|i| {
            if i == 0 {
                flags.get(i).map(|f| !f)
            } else {
                flags.get(i)
            }
        })
        .collect();
    replace_column(
        &new,
        &mut pkg,
        "imd_change_2019_2025_lsoa21",
        &mut c,
        Series::new("comparable".into(), flipped),
    );
    std::fs::write(new.join("datapackage.json"), pkg.to_string()).unwrap();

    new
}

#[test]
fn the_report_maps_the_local_authorities_whose_deciles_changed() {
    let b = shared_build();
    let dir = tempdir();
    let new = release_with_westminster_moved(dir.path());
    let r = census_pipeline::report::diff(&b.out, &new).unwrap();
    let flipped = r
        .tables
        .iter()
        .find(|t| t.table == "imd_change_2019_2025_lsoa21")
        .unwrap();
    assert_eq!(flipped.changed, 1);
    assert_eq!(flipped.columns_changed.get("comparable"), Some(&1));
    let westminster = r.la_changes["E09000033"];
    assert_eq!(westminster.0, 3);
    assert!(westminster.1 > 100, "{westminster:?}");
    let elsewhere: Vec<_> = r
        .la_changes
        .iter()
        .filter(|(c, n)| n.0 > 0 && c.as_str() != "E09000033")
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    assert!(
        r.la_changes.contains_key("S12000033"),
        "Scotland is on the map"
    );
    let svg = r.map_svg.as_deref().expect("a map");
    assert!(
        svg.contains(&format!(
            "<title>Westminster (E09000033): 3 of {} small areas changed IMD decile</title>",
            westminster.1
        )),
        "{}",
        &svg[..2000]
    );
    assert!(
        svg.contains("fill=\"#fee0d2\""),
        "Westminster's share is under 1%"
    );
    assert!(
        svg.contains("(N09000003): no data"),
        "NI has no small-area index here"
    );
    assert!(
        svg.matches("<path").count() > 300,
        "every LAD 2024 is drawn"
    );

    census_pipeline::report::write(&new, &r).unwrap();
    let md = std::fs::read_to_string(new.join("report/diff.md")).unwrap();
    assert!(md.contains("- E09000033: 3 of"), "{md}");
    let html = std::fs::read_to_string(new.join("report/diff.html")).unwrap();
    assert!(html.contains("Where deciles changed") && html.contains("<path"));
    let profile = dir.path().join("profile");
    let shot = screenshot(
        format!("file://{}", new.join("report/diff.html").display()),
        &dir.path().join("map.png"),
        &profile,
    );
    let blank = screenshot(
        "about:blank".into(),
        &dir.path().join("blank.png"),
        &profile,
    );
    assert!(
        shot > blank * 3,
        "the map page renders ({shot} vs {blank} bytes)"
    );
}

/// Replaces a column of `table` in the release copy `dir`, rewrites its
/// Parquet file and its hash in the data package `pkg`.
fn replace_column(
    dir: &Path,
    pkg: &mut serde_json::Value,
    table: &str,
    frame: &mut polars::prelude::DataFrame,
    column: polars::prelude::Series,
) {
    use polars::prelude::*;
    frame
        .replace(&column.name().to_string(), column.into())
        .unwrap();
    let path = dir.join(format!("tables/{table}.parquet"));
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(frame)
        .unwrap();
    for r in pkg["resources"].as_array_mut().unwrap() {
        if r["name"] == table {
            r["hash"] = format!("sha256:{}", sha256_hex(&std::fs::read(&path).unwrap())).into();
        }
    }
}

#[test]
fn a_one_source_change_is_reported_by_the_tables_whose_values_moved() {
    use polars::prelude::*;
    let b = shared_build();
    let dir = tempdir();
    let data = dir.path().join("data");
    mirror_data(&data);
    // 40 WIMD 2025 overall ranks swapped between pairs of areas.
    let file = "wimd-2025-index-and-domain-ranks-by-small-area.csv";
    let path = data.join("imd_wales_2025").join(file);
    let text = read_text(&path);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    for pair in 0..20 {
        let (i, j) = (1 + 2 * pair, 2 + 2 * pair);
        let (a, b) = (rows[i][3].clone(), rows[j][3].clone());
        rows[i][3] = b;
        rows[j][3] = a;
    }
    std::fs::remove_file(&path).unwrap();
    let mut w = ::csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&path)
        .unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    let catalog = edited_catalog(dir.path(), &data, &format!("imd_wales_2025/{file}"));
    let new = build_on_shared_cache(dir.path(), &catalog, &stages_dir()).unwrap();

    let r = census_pipeline::report::diff(&b.out, &new).unwrap();
    // The truth, from the tables themselves: which tables' rows differ.
    let moved: Vec<String> = b
        .report
        .manifest
        .tables
        .keys()
        .filter(|name| {
            let read = |root: &Path| {
                let f = std::fs::File::open(root.join(format!("tables/{name}.parquet"))).unwrap();
                ParquetReader::new(f).finish().unwrap()
            };
            !read(&b.out).equals_missing(&read(&new))
        })
        .cloned()
        .collect();
    assert!(moved.contains(&"imd_wales_2025".to_string()), "{moved:?}");
    assert_eq!(
        r.summary.values_changed, moved,
        "the report names exactly the tables whose values moved"
    );
    let quiet: Vec<&census_pipeline::report::TableDiff> = r
        .tables
        .iter()
        .filter(|t| t.status == census_pipeline::report::METADATA_ONLY)
        .collect();
    assert!(quiet.iter().all(|t| t.added + t.removed + t.changed == 0
        && t.decile_transitions.is_empty()
        && t.rank_changes.is_empty()));
    let wales = r
        .summary
        .decile_moves
        .iter()
        .find(|(t, _)| t == "imd_wales_2025")
        .expect("Welsh deciles moved");
    assert!(wales.1 > 0 && wales.1 <= 40, "{wales:?}");
    assert!(
        r.summary.las_affected > 0 && r.summary.las_affected <= 22,
        "{:?}",
        r.summary
    );

    census_pipeline::report::write(&new, &r).unwrap();
    let summary = std::fs::read_to_string(new.join("report/summary.md")).unwrap();
    let md = std::fs::read_to_string(new.join("report/diff.md")).unwrap();
    // The first screen says what changed.
    let first_screen: String = md.lines().take(12).collect::<Vec<_>>().join("\n");
    for words in [
        format!("Values changed in {} tables", moved.len()),
        format!("`imd_wales_2025`: {} areas changed IMD decile.", wales.1),
        format!(
            "Local authorities with a small area whose decile changed: {} of",
            r.summary.las_affected
        ),
    ] {
        assert!(
            first_screen.contains(&words),
            "{words:?} is not on the first screen:\n{first_screen}"
        );
        assert!(
            summary.contains(&words),
            "{words:?} is not in the pull request's body"
        );
    }
    // Tables whose values did not move are one line, not a row each.
    for t in &quiet {
        assert!(
            !md.contains(&format!("| `{}` |", t.table)),
            "{} has a row",
            t.table
        );
    }
    let html = std::fs::read_to_string(new.join("report/diff.html")).unwrap();
    assert_eq!(
        html.matches("<h3>Decile transitions</h3>").count(),
        r.tables
            .iter()
            .filter(|t| !t.decile_transitions.is_empty())
            .count()
    );
    assert!(html.find("What changed").unwrap() < html.find("<table>").unwrap());
}
