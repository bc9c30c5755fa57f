//! Never destroy, never publish the impossible: each case a tester found,
//! asserting the exit code, a message naming the thing, and that nothing
//! was deleted or published.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use census_pipeline::build::{build, BuildOptions};
use census_pipeline::fetch::FetchOptions;
use census_pipeline::plan::load_config;
use census_pipeline::ErrorKind;

use crate::util::*;

fn cli() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("census-pipeline"));
    c.current_dir(repo()).env("CENSUS_DATA_DIR", data_dir());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `build` of the tiny catalog into `out`.
fn tiny_build(dir: &Path, out: &Path) -> Output {
    tiny_build_cached(dir, out, &dir.join("cache"))
}

/// The same with `cache` as the cache folder.
fn tiny_build_cached(dir: &Path, out: &Path, cache: &Path) -> Output {
    let (catalog, stages) = tiny_fixture(dir, "Area code,Value\nA1,1\nA2,2\n", Some(2));
    build_cmd(&catalog, &stages, cache, out).output().unwrap()
}

/// `build` of `catalog` with `stages` and `cache` into `out`, to run.
fn build_cmd(catalog: &Path, stages: &Path, cache: &Path, out: &Path) -> Command {
    let mut c = cli();
    c.arg("build")
        .arg("--sources")
        .arg(catalog)
        .arg("--stages")
        .arg(stages)
        .arg("--cache")
        .arg(cache)
        .arg("--out")
        .arg(out);
    c
}

#[test]
fn a_cache_folder_holding_what_the_tool_did_not_make_is_never_used() {
    let dir = tempdir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    std::fs::write(home.join("tmp/thesis.docx"), "chapter one").unwrap();
    let before = snapshot(&home);
    // A build empties its cache's tmp/: `--cache ~` would empty ~/tmp.
    let o = tiny_build_cached(dir.path(), &dir.path().join("rel"), &home);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("holds a `tmp` folder with files in it"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("Choose another --cache"), "{}", text(&o));
    std::fs::write(home.join(".bashrc"), "alias x=y").unwrap();
    let o = tiny_build_cached(dir.path(), &dir.path().join("rel"), &home);
    assert!(
        text(&o).contains("holds `.bashrc`, which this tool did not make"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(home.join(".bashrc")).unwrap();
    assert_eq!(snapshot(&home), before, "nothing in it was touched");
    assert!(!dir.path().join("rel").exists());

    // A cache an earlier version made (no tag) is recognised and tagged.
    let cache = dir.path().join("cache");
    assert!(tiny_build_cached(dir.path(), &dir.path().join("a"), &cache)
        .status
        .success());
    let tag = std::fs::read_to_string(cache.join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    std::fs::remove_file(cache.join("CACHEDIR.TAG")).unwrap();
    assert!(tiny_build_cached(dir.path(), &dir.path().join("b"), &cache)
        .status
        .success());
    assert!(cache.join("CACHEDIR.TAG").is_file());
}

#[test]
fn a_cache_whose_folders_are_links_or_another_tools_is_refused() {
    let dir = tempdir();
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("thesis.docx"), "chapter one").unwrap();
    // tmp/ linked elsewhere: a build would empty the folder it points at.
    let cache = dir.path().join("cache");
    assert!(tiny_build_cached(dir.path(), &dir.path().join("a"), &cache)
        .status
        .success());
    std::fs::remove_dir_all(cache.join("tmp")).unwrap();
    std::os::unix::fs::symlink(&mine, cache.join("tmp")).unwrap();
    let o = tiny_build_cached(dir.path(), &dir.path().join("a"), &cache);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("has `tmp` as a symbolic link"),
        "{}",
        text(&o)
    );
    assert!(mine.join("thesis.docx").is_file());
    // Cargo's target/ carries the same signature: it is not this tool's.
    let target = dir.path().join("target");
    std::fs::create_dir_all(target.join("tmp")).unwrap();
    std::fs::write(target.join("tmp/scratch"), "x").unwrap();
    std::fs::write(
        target.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by cargo.\n",
    )
    .unwrap();
    let o = tiny_build_cached(dir.path(), &dir.path().join("b"), &target);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is another tool's cache"), "{}", text(&o));
    assert!(target.join("tmp/scratch").is_file());
}

#[test]
fn a_local_file_shaped_like_a_cached_download_is_never_removed() {
    let dir = tempdir();
    let data = dir.path().join("blobs");
    std::fs::create_dir_all(&data).unwrap();
    let name = "0".repeat(64);
    std::fs::write(data.join(&name), "Area code,Value\nA1,1\n").unwrap();
    let catalog = write_tiny_catalog(
        dir.path(),
        Some(&data),
        &format!(
            "[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\npath = \"{name}\"\nsha256 = \"{}\"\nformat = \"csv\"\n",
            "1".repeat(64)
        ),
    );
    let stages = load_all_stages(dir.path());
    let (cache, out) = (dir.path().join("cache"), dir.path().join("rel"));
    let o = build_cmd(&catalog, &stages, &cache, &out).output().unwrap();
    assert!(!o.status.success());
    assert!(!text(&o).contains("has been removed"), "{}", text(&o));
    assert!(data.join(&name).is_file(), "the user's file is kept");
}

#[test]
fn files_copied_into_a_release_folder_stop_its_replacement_and_survive() {
    let dir = tempdir();
    let out = dir.path().join("rel");
    assert!(tiny_build(dir.path(), &out).status.success());
    std::fs::create_dir_all(out.join("app")).unwrap();
    std::fs::write(out.join("app/index.php"), "<?php").unwrap();
    // Without its build key the release is built again and swapped.
    std::fs::remove_file(out.join(".census-build")).unwrap();
    let o = tiny_build(dir.path(), &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("holds 1 file(s) its release manifest does not list (`app/index.php`)"),
        "{}",
        text(&o)
    );
    assert!(
        !text(&o).contains("Loaded"),
        "refused before the stages: {}",
        text(&o)
    );
    assert_eq!(std::fs::read(out.join("app/index.php")).unwrap(), b"<?php");
    assert!(
        out.join("manifest.json").is_file(),
        "the old release is in place"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(left.is_empty(), "no staging left: {left:?}");
}

#[test]
fn diff_never_writes_over_a_report_folder_it_did_not_make() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(tiny_build(dir.path(), &a).status.success());
    assert!(tiny_build(dir.path(), &b).status.success());
    let mine = dir.path().join("mine");
    std::fs::create_dir_all(mine.join("report")).unwrap();
    std::fs::write(mine.join("report/diff.md"), "my own notes").unwrap();
    let diff = |out: &Path| {
        cli()
            .arg("diff")
            .arg(&a)
            .arg(&b)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let o = diff(&mine);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("holds files `diff` did not write"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read(mine.join("report/diff.md")).unwrap(),
        b"my own notes"
    );
    // A new folder, and then the same one again: its own report is rewritten.
    let fresh = dir.path().join("fresh");
    for _ in 0..2 {
        let o = diff(&fresh);
        assert!(o.status.success(), "{}", text(&o));
        assert!(fresh.join("report/diff.md").is_file());
    }
}

#[test]
fn a_release_file_edited_in_place_never_reaches_the_next_release() {
    let dir = tempdir();
    let out = dir.path().join("rel");
    assert!(tiny_build(dir.path(), &out).status.success());
    // Release files (CSV copies, the API, the page) are hard links into
    // the stage cache: an edit in place edits the cached unit too.
    let page = out.join("tables/tiny.csv.gz");
    let mut f = std::fs::OpenOptions::new().write(true).open(&page).unwrap();
    f.write_all(b"HACKED").unwrap();
    drop(f);
    let other = dir.path().join("other");
    let o = tiny_build(dir.path(), &other);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("files changed since it was made"),
        "{}",
        text(&o)
    );
    let fresh = std::fs::read(other.join("tables/tiny.csv.gz")).unwrap();
    assert!(!fresh.starts_with(b"HACKED"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(other.join("manifest.json")).unwrap()).unwrap();
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "tables/tiny.csv.gz")
        .unwrap();
    assert_eq!(entry["sha256"], sha256_hex(&fresh).as_str());
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_folder_with_a_manifest_and_user_files_is_refused_before_any_work_and_survives() {
    let dir = tempdir();
    let out = dir.path().join("webapp");
    std::fs::create_dir_all(out.join(".ssh")).unwrap();
    std::fs::write(out.join(".ssh/id_ed25519"), "secret key").unwrap();
    std::fs::write(out.join("manifest.json"), "{\"name\": \"my web app\"}").unwrap();
    std::fs::write(out.join("index.html"), "<html></html>").unwrap();
    let before = snapshot(&out);
    let o = tiny_build(dir.path(), &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no `.census-release` marker"),
        "{}",
        text(&o)
    );
    assert!(
        !text(&o).contains("Loaded"),
        "refused before any work: {}",
        text(&o)
    );
    assert_eq!(snapshot(&out), before, "every file is untouched");
    assert!(!dir.path().join("cache").exists(), "no work started");
}

#[test]
fn root_home_and_the_repository_are_refused() {
    let dir = tempdir();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".bashrc"), "alias x=y").unwrap();
    for out in [PathBuf::from("/"), home.clone(), repo()] {
        let o = tiny_build(dir.path(), &out);
        assert_eq!(o.status.code(), Some(2), "{}: {}", out.display(), text(&o));
        assert!(text(&o).contains("refusing to replace it"), "{}", text(&o));
    }
    assert!(home.join(".bashrc").is_file() && repo().join("Cargo.toml").is_file());
}

#[test]
fn a_release_is_replaced_and_what_a_killed_build_left_is_tidied() {
    let dir = tempdir();
    let out = dir.path().join("rel");
    let o = tiny_build(dir.path(), &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join(".census-release").is_file());
    // A killed build's leftovers: a release set aside with --out missing, a
    // staging directory, and cache temporaries.
    std::fs::rename(&out, dir.path().join(".rel.old")).unwrap();
    let stale = dir.path().join(".rel.partial-4242");
    std::fs::create_dir_all(stale.join("tables")).unwrap();
    std::fs::copy(
        dir.path().join(".rel.old/.census-release"),
        stale.join(".census-release"),
    )
    .unwrap();
    let tmp = dir.path().join("cache/tmp/leftover.part");
    std::fs::write(&tmp, vec![0u8; 1024]).unwrap();
    let o = tiny_build(dir.path(), &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("manifest.json").is_file());
    assert!(!dir.path().join(".rel.old").exists() && !stale.exists() && !tmp.exists());
}

/// A copy of the shared catalog where the source of `file` reads `csv`
/// (written as a plain CSV), with everything else as in the real catalog.
fn build_error_with_csv(file: &str, csv: &str) -> census_pipeline::Error {
    build_error_with_edited(file, |_| csv.to_string())
}

fn implausible(e: &census_pipeline::Error) -> (String, String) {
    match &e.kind {
        ErrorKind::Implausible { value, rule } => (value.clone(), rule.clone()),
        other => panic!("expected an implausible value, got {other}: {e}"),
    }
}

const UK_COMPOSITE: &str = "imd_uk_composite/UK_IMD_E.mysociety.csv.gz";

#[test]
fn age_bands_that_add_up_to_more_than_the_total_stop_the_release() {
    // Each band alone is a plausible count; together they would make
    // shares of more people than live there (0.72 + 0.67 + 0.25).
    let file = "census2021/census2021-ts007a-lsoa.csv";
    let e = build_error_with_edited(file, |t| {
        t.replacen("E01000001,1473,52,", "E01000001,1473,1000,", 1)
    });
    let (value, rule) = implausible(&e);
    assert_eq!(
        value, "1473 as the total, but its 18 parts add up to 2421",
        "{e}"
    );
    assert!(
        rule.contains("the columns of the group `age_` add up to `age_total`"),
        "{rule}"
    );
    let c = &e.context;
    assert_eq!(c.source.as_deref(), Some("census2021_ts007a_lsoa"));
    assert_eq!(c.column.as_deref(), Some("Age: Total"));
    assert_eq!(c.row, Some(2));
}

#[test]
fn a_rank_moved_by_hand_stops_the_release() {
    // W01000004 moved from 1132 to 570: two areas at 570, none at 1132, and
    // every area between out of place. Not a tie as published.
    let file = "imd_wales_2025/wimd-2025-index-and-domain-ranks-by-small-area.csv";
    let e = build_error_with_edited(file, |t| {
        t.replacen(
            "W01000004,Amlwch Rural,Isle of Anglesey,1132,",
            "W01000004,Amlwch Rural,Isle of Anglesey,570,",
            1,
        )
    });
    let ErrorKind::CheckFailed(f) = &e.kind else {
        panic!("expected a failed check, got {e}");
    };
    assert_eq!(
        (f.table.as_str(), f.check.as_str()),
        ("imd_wales_2025", "ranks_imd"),
        "{e}"
    );
    assert!(
        f.detail
            .contains("ranks cannot come from putting the areas in order"),
        "{e}"
    );
    assert!(f.examples[0].contains("rank 571"), "{:?}", f.examples);
}

#[test]
fn an_impossible_imd_score_stops_the_release_naming_where() {
    let original = read_text(&data_dir().join(UK_COMPOSITE));
    let first_english = original.lines().position(|l| l.starts_with("E,")).unwrap();
    for bad in ["1e308", "-5"] {
        let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
        let mut cells: Vec<&str> = lines[first_english].split(',').collect();
        cells[2] = bad;
        lines[first_english] = cells.join(",");
        let e = build_error_with_csv(UK_COMPOSITE, &lines.join("\n"));
        let (value, rule) = implausible(&e);
        assert_eq!(value, bad);
        assert!(rule.contains("score: within 0..=100"), "{rule}");
        let c = &e.context;
        assert_eq!(c.source.as_deref(), Some("uk_composite_imd"));
        assert_eq!(c.column.as_deref(), Some("overall_local_score"));
        assert_eq!(c.row, Some(first_english + 1));
        assert!(c.file.as_ref().unwrap().ends_with(UK_COMPOSITE));
    }
}

#[test]
fn an_impossible_percentage_is_reported_as_the_file_has_it_and_as_converted() {
    // mySociety publishes English income rates as percentages; the table
    // holds rates. 150% is 1.5 as a rate, beyond 1: the error says both.
    let original = read_text(&data_dir().join(UK_COMPOSITE));
    let first_english = original.lines().position(|l| l.starts_with("E,")).unwrap();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[first_english].split(',').collect();
    cells[3] = "150";
    lines[first_english] = cells.join(",");
    let e = build_error_with_csv(UK_COMPOSITE, &lines.join("\n"));
    let (value, rule) = implausible(&e);
    assert!(value.starts_with("1.5 (published in percent"), "{value}");
    assert!(value.ends_with("the file has 150)"), "{value}");
    assert!(rule.contains("rate: within 0..=1"), "{rule}");
    assert_eq!(e.context.column.as_deref(), Some("income_score"));
    assert_eq!(e.context.row, Some(first_english + 1));
}

#[test]
fn an_impossible_average_rank_in_file_10_stops_the_release() {
    // File 10 as loaded from the publisher's workbook, written as CSV with
    // one average rank made impossible, read through the same dataset.
    let b = shared_build();
    let mut t = read_table(&b.out, "iod2019_lad_summaries");
    let mut ranks: Vec<Option<f64>> = t
        .column("imd_average_rank")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect();
    ranks[0] = Some(1e308);
    t.with_column(polars::prelude::Column::new(
        "imd_average_rank".into(),
        ranks,
    ))
    .unwrap();
    let mut csv = Vec::new();
    use polars::prelude::SerWriter;
    polars::prelude::CsvWriter::new(&mut csv)
        .finish(&mut t)
        .unwrap();
    let dir = tempdir();
    let data = dir.path().join("data");
    mirror_data(&data);
    std::fs::write(data.join("file10.csv"), &csv).unwrap();
    let catalog = std::fs::read_to_string(edited_catalog(dir.path(), &data, "none")).unwrap();
    let start = catalog.find("[sources.iod2019_lad_summaries]").unwrap();
    let end = start + catalog[start + 1..].find("\n[sources.").unwrap() + 1;
    let entry = "[sources.iod2019_lad_summaries]\ntitle = \"File 10 as CSV\"\npublisher = \"MHCLG\"\nlicence = \"OGL-UK-3.0\"\nedition = \"2019\"\ngeography = \"LAD 2019\"\npath = \"file10.csv\"\nunpinned = \"a test copy\"\nformat = \"csv\"\n";
    let catalog_path = dir.path().join("file10.sources.toml");
    std::fs::write(
        &catalog_path,
        format!("{}{entry}{}", &catalog[..start], &catalog[end..]),
    )
    .unwrap();
    let (catalog, plan) = load_config(&catalog_path, &stages_dir()).unwrap();
    let out = dir.path().join("release");
    let e = build(
        &catalog,
        &plan,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: dir.path().join("cache"),
            fetch: FetchOptions::default(),
            limits: Default::default(),
        },
    )
    .unwrap_err();
    let (value, rule) = implausible(&e);
    assert_eq!(value, "1e308");
    assert!(rule.starts_with("average_rank: within 1..=32844"), "{rule}");
    assert_eq!(e.context.column.as_deref(), Some("imd_average_rank"));
    assert_eq!(e.context.row, Some(2));
    assert!(!out.exists(), "nothing is published");
}

const LSOA_WARDS: &str = "lookups/lookup_lsoa21_ward24_ltla24.geographr.csv.gz";

#[test]
fn a_nul_byte_in_an_area_name_stops_the_release() {
    let e = build_error_with_edited(LSOA_WARDS, |t| {
        t.replacen("Middlesbrough 014A", "Middlesbrough\u{0}014A", 1)
    });
    let (value, rule) = implausible(&e);
    assert!(value.contains("\\0"), "{value}");
    assert!(rule.contains("no control characters"), "{rule}");
    assert_eq!(e.context.column.as_deref(), Some("lsoa21_name"));
    assert_eq!(e.context.row, Some(2));
}

#[test]
fn a_ten_megabyte_name_is_refused_without_being_echoed() {
    let e = build_error_with_edited(LSOA_WARDS, |t| {
        t.replacen("Middlesbrough 014A", &"x".repeat(10 << 20), 1)
    });
    assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.len() < 2_000, "the message is {} bytes", msg.len());
    assert!(msg.contains("longer than 1048576 bytes"), "{msg}");
    assert_eq!(e.context.source.as_deref(), Some("lookup_lsoa21_ward24"));
}

/// Runs the CLI on `catalog` and returns its output and peak memory (KiB),
/// as the process itself reports it (VmHWM, which a fork's parent does not
/// inflate, unlike rusage).
fn run_measured(catalog: &Path, stages: &Path, dir: &Path) -> (Output, i64) {
    let o = build_cmd(catalog, stages, &dir.join("cache"), &dir.join("out"))
        .env("CENSUS_PIPELINE_REPORT_PEAK_RSS", "1")
        .output()
        .unwrap();
    let peak = String::from_utf8_lossy(&o.stderr)
        .lines()
        .find_map(|l| {
            l.strip_prefix("peak RSS ")?
                .strip_suffix(" KiB")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no peak RSS reported: {}", text(&o)));
    (o, peak)
}

/// A tiny catalog whose one source is `name` in `format`.
fn bomb_catalog(dir: &Path, name: &str, format: &str, member: &str) -> (PathBuf, PathBuf) {
    let member = if member.is_empty() {
        String::new()
    } else {
        format!("member = {member:?}\n")
    };
    let catalog = write_tiny_catalog(
        dir,
        Some(dir),
        &format!("[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\npath = {name:?}\nunpinned = \"a bomb\"\nformat = {format:?}\n{member}"),
    );
    (catalog, load_all_stages(dir))
}

#[test]
fn a_gzip_bomb_fails_fast_in_little_memory() {
    // 4 GiB of zeros: 4,096 gzip members of 1 MiB each, about 4 MiB on disk.
    let dir = tempdir();
    let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    one.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = one.finish().unwrap();
    let mut bytes = Vec::with_capacity(member.len() * 4096);
    for _ in 0..4096 {
        bytes.extend_from_slice(&member);
    }
    std::fs::write(dir.path().join("bomb.csv.gz"), &bytes).unwrap();
    let (catalog, stages) = bomb_catalog(dir.path(), "bomb.csv.gz", "csv.gz", "");
    let (o, peak_kib) = run_measured(&catalog, &stages, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("past the reader's limit"), "{}", text(&o));
    assert!(peak_kib < 500 * 1024, "peak RSS {} MiB", peak_kib / 1024);
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_zip_bomb_fails_fast_in_little_memory() {
    // A member of 1 GiB of zeros, about 1 MiB on disk; and one whose header
    // hides its size would be stopped by the line cap the same way.
    let dir = tempdir();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.path().join("bomb.zip")).unwrap());
    zip.start_file(
        "data.csv",
        zip::write::SimpleFileOptions::default().large_file(true),
    )
    .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    let (catalog, stages) = bomb_catalog(dir.path(), "bomb.zip", "zip", "data.csv");
    let (o, peak_kib) = run_measured(&catalog, &stages, dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("past the reader's limit"), "{}", text(&o));
    assert!(peak_kib < 500 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

#[test]
fn an_html_page_saved_as_csv_is_called_an_html_page() {
    let dir = tempdir();
    let (catalog, stages) = tiny_fixture(
        dir.path(),
        "<!DOCTYPE html>\n<html><head><title>Download</title></head>\n<body>Not found, a, b</body></html>\n",
        None,
    );
    let (cache, out) = (dir.path().join("cache"), dir.path().join("out"));
    let o = build_cmd(&catalog, &stages, &cache, &out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("the file is an HTML page"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("fields"), "{}", text(&o));
}

#[test]
fn a_pinned_file_edited_in_place_with_its_time_restored_is_never_used() {
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("t.csv");
    std::fs::write(&file, "Area code,Value\nA1,1\nA2,2\n").unwrap();
    let pin = sha256_hex(&std::fs::read(&file).unwrap());
    let entry = |notes: &str| {
        format!("[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\npath = \"t.csv\"\nsha256 = \"{pin}\"\nformat = \"csv\"\nnotes = \"{notes}\"\n")
    };
    let catalog = write_tiny_catalog(dir.path(), Some(&data), &entry("first"));
    let stages = load_all_stages(dir.path());
    let (cache, out) = (dir.path().join("cache"), dir.path().join("out"));
    let run = |catalog: &Path| build_cmd(catalog, &stages, &cache, &out).output().unwrap();
    let o = run(&catalog);
    assert!(o.status.success(), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["tables"]["tiny"]["inputs"][0]["sha256"], pin,
        "the digest of the bytes read"
    );
    // Edit in place (same size), restore the modification time, and change
    // the catalog so that the load is redone.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, "Area code,Value\nA1,7\nA2,2\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let catalog = write_tiny_catalog(dir.path(), Some(&data), &entry("second"));
    let before = snapshot(&dir.path().join("out"));
    let o = run(&catalog);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(
        msg.contains("sha256 mismatch") && msg.contains("was not used"),
        "{msg}"
    );
    assert!(!msg.contains("quarantined"), "nothing was moved: {msg}");
    assert_eq!(
        snapshot(&dir.path().join("out")),
        before,
        "the release is unchanged"
    );
}

#[test]
fn a_previous_that_is_not_a_release_is_refused() {
    let dir = tempdir();
    let (catalog, stages) = tiny_fixture(dir.path(), "Area code,Value\nA1,1\n", None);
    for previous in [dir.path().join("nonexistent"), dir.path().to_path_buf()] {
        let o = cli()
            .arg("build")
            .arg("--sources")
            .arg(&catalog)
            .arg("--stages")
            .arg(&stages)
            .arg("--out")
            .arg(dir.path().join("out"))
            .arg("--previous")
            .arg(&previous)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("is not a release directory"),
            "{}",
            text(&o)
        );
        assert!(!dir.path().join("out").exists());
    }
}

#[test]
fn diff_refuses_a_release_with_a_truncated_table() {
    let b = shared_build();
    let dir = tempdir();
    let copy = dir.path().join("copy");
    copy_release(&b.out, &copy);
    let table = copy.join("tables/imd_wales_2025.parquet");
    let bytes = std::fs::read(&table).unwrap();
    std::fs::remove_file(&table).unwrap();
    std::fs::write(&table, &bytes[..bytes.len() / 2]).unwrap();
    let o = cli().arg("diff").arg(&b.out).arg(&copy).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("imd_wales_2025.parquet"), "{}", text(&o));
    assert!(text(&o).contains("modified or damaged"), "{}", text(&o));
}

#[test]
fn config_check_refuses_paths_outside_the_data_urls_without_tls_and_absurd_rows() {
    let dir = tempdir();
    let source = |extra: &str| {
        format!("[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nunpinned = \"test\"\n{extra}")
    };
    let cases = [
        (
            "path = \"/etc/passwd\"\nformat = \"csv\"\n",
            "field `path` must be a relative path",
        ),
        (
            "path = \"../../secret.csv\"\nformat = \"csv\"\n",
            "field `path` must be a relative path",
        ),
        (
            "path = \"t.zip\"\nformat = \"zip\"\nmember = \"../x.csv\"\n",
            "field `member` must name a file inside the archive",
        ),
        (
            "path = \"t.csv\"\nformat = \"csv\"\nrows = 9223372036854775807\n",
            "field `rows` must be at most",
        ),
    ];
    for (extra, want) in cases {
        let catalog = write_tiny_catalog(dir.path(), Some(dir.path()), &source(extra));
        let stages = load_all_stages(dir.path());
        let o = cli()
            .arg("check")
            .arg("--sources")
            .arg(&catalog)
            .arg("--stages")
            .arg(&stages)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", text(&o));
        assert!(text(&o).contains(want), "{extra}: {}", text(&o));
    }
    let catalog = write_tiny_catalog(
        dir.path(),
        None,
        &source("url = \"http://example.org/t.csv\"\nformat = \"csv\"\n"),
    );
    let o = cli()
        .arg("check")
        .arg("--sources")
        .arg(&catalog)
        .arg("--stages")
        .arg(load_all_stages(dir.path()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("must be an https URL"), "{}", text(&o));
}

#[test]
fn two_clean_builds_with_a_fixed_date_are_byte_identical() {
    let b = shared_build();
    let dir = tempdir();
    let out = dir.path().join("again");
    let o = cli()
        .env("SOURCE_DATE_EPOCH", TEST_EPOCH.to_string())
        .args(["build", "--sources", "tests/shared.sources.toml", "--out"])
        .arg(&out)
        .arg("--cache")
        .arg(dir.path().join("fresh-cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (mut a, mut c) = (Vec::new(), Vec::new());
    for (root, files) in [(&b.out, &mut a), (&out, &mut c)] {
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        files.sort();
    }
    assert_eq!(a, c, "the same files");
    let differ: Vec<&PathBuf> = a
        .iter()
        .filter(|p| std::fs::read(b.out.join(p)).unwrap() != std::fs::read(out.join(p)).unwrap())
        .collect();
    assert!(
        differ.is_empty(),
        "{} files differ, first {:?}",
        differ.len(),
        differ.first()
    );
}
