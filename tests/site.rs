//! The static page, in headless Chromium: the shared release served over
//! HTTP on 127.0.0.1, a look-up opened as a shared link (`#q=...` fills the
//! search box and submits it, as typing and pressing Enter does), and the
//! page's DOM after its fetches compared with the release's tables, read
//! here. Each look-up saves a screenshot under the test's output folder
//! (`$CARGO_TARGET_TMPDIR/site/`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::*;

use crate::util::*;

/// Serves the files under `root` as the bucket does: the API's
/// gzip-encoded JSON with `Content-Encoding: gzip` (GET only; no listing,
/// nothing outside the root). Returns the base URL.
fn serve(root: PathBuf) -> String {
    serve_with(root, true, None)
}

/// Serves the files under `root` as a plain static server does, bytes as
/// stored and no encoding header: the page decodes the API's files itself.
fn serve_plain(root: PathBuf) -> String {
    serve_with(root, false, None)
}

/// Serves `root` as [`serve`] does, answering 404 for the path `hide`.
fn serve_with(root: PathBuf, encoding: bool, hide: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split(['?', '#']).next().unwrap_or("/");
                let safe = !path.split('/').any(|p| p == "..") && Some(path) != hide;
                let file = root.join(path.trim_start_matches('/'));
                let mut out = stream;
                match std::fs::read(&file) {
                    Ok(body) if safe => {
                        let ty = match file.extension().and_then(|e| e.to_str()) {
                            Some("html") => "text/html; charset=utf-8",
                            Some("js") => "text/javascript",
                            Some("css") => "text/css",
                            Some("json") => "application/json",
                            _ => "application/octet-stream",
                        };
                        let gzip =
                            encoding && ty == "application/json" && body.starts_with(&[0x1f, 0x8b]);
                        let enc = if gzip {
                            "Content-Encoding: gzip\r\n"
                        } else {
                            ""
                        };
                        let _ = write!(out, "HTTP/1.1 200 OK\r\nContent-Type: {ty}\r\n{enc}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                        let _ = out.write_all(&body);
                    }
                    _ => {
                        let _ = write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    base
}

/// Opens the page at `#q=<q>` and returns its DOM once the look-up's
/// fetches are done; saves a screenshot named `name`.
fn look_up(base: &str, q: &str, name: &str) -> String {
    look_up_at(base, q, name, "1000,1400")
}

/// As [`look_up`], in a window of `size` (`width,height`).
fn look_up_at(base: &str, q: &str, name: &str, size: &str) -> String {
    let url = format!("{base}/site/index.html#q={}", q.replace(' ', "%20"));
    let profile = tempdir();
    let run = |extra: &[String]| {
        Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args(["--virtual-time-budget=15000", "--hide-scrollbars"])
            .arg(format!("--window-size={size}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("site");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join(format!("{name}.png"));
    run(&[format!("--screenshot={}", png.display())]);
    assert!(png.is_file(), "no screenshot of {q}");
    eprintln!("screenshot of {q:?}: {}", png.display());
    let dom = run(&["--dump-dom".to_string()]);
    String::from_utf8(dom.stdout).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The rank and decile of an area in an index table of the release.
fn rank_of(out: &Path, table: &str, code_col: &str, code: &str) -> (i64, i64) {
    let df = ParquetReader::new(
        std::fs::File::open(out.join(format!("tables/{table}.parquet"))).unwrap(),
    )
    .finish()
    .unwrap();
    let codes = df.column(code_col).unwrap().str().unwrap().clone();
    let i = codes
        .iter()
        .position(|c| c == Some(code))
        .unwrap_or_else(|| panic!("{code} not in {table}"));
    let rank = df
        .column("imd_rank")
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(i)
        .unwrap();
    let decile = df
        .column("imd_decile")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap()
        .i64()
        .unwrap()
        .get(i)
        .unwrap();
    (rank as i64, decile)
}

/// The first row of the NSPL member file of a postcode area (read here,
/// not through the pipeline) that `keep` accepts, given the row's cell by
/// column name: its (pcds, lsoa11).
fn nspl_row(area: &str, keep: impl Fn(&dyn Fn(&str) -> String) -> bool) -> (String, String) {
    let path = data_dir()
        .join("postcodes/nspl_nov2021_partial")
        .join(member(area));
    let mut gz = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut gz)
        .unwrap();
    let mut r = ::csv::Reader::from_reader(gz.as_bytes());
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let row = r
        .records()
        .map(|r| r.unwrap())
        .find(|row| keep(&|n: &str| row[at(n)].to_string()))
        .unwrap();
    (row[at("pcds")].to_string(), row[at("lsoa11")].to_string())
}

fn member(prefix: &str) -> String {
    std::fs::read_dir(data_dir().join("postcodes/nspl_nov2021_partial"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.contains(&format!("_UK_{prefix}")))
        .unwrap_or_else(|| panic!("no NSPL member for {prefix}"))
}

#[test]
fn a_typed_postcode_shows_the_rank_and_decile_of_the_index_table() {
    let b = shared_build();
    let base = serve(b.out.clone());
    // A live Dorset postcode, as people type it: lower case, no space.
    let (pcds, lsoa) = nspl_row("DT", |cell| {
        cell("doterm").is_empty() && cell("lsoa11").starts_with("E01")
    });
    let typed = pcds.to_lowercase().replace(' ', "");
    let dom = look_up(&base, &typed, "postcode");
    assert!(
        dom.contains(r#"data-state="done""#),
        "the look-up did not finish: {dom}"
    );
    let (rank, decile) = rank_of(&b.out, "imd_england_2019", "lsoa11_code", &lsoa);
    let row = format!(
        r#"<tr data-edition="imd_england_2019" data-code="{lsoa}" data-rank="{rank}" data-decile="{decile}">"#
    );
    assert!(dom.contains(&row), "{pcds}: the page does not show {row}");
    assert!(dom.contains(&format!("Postcode {pcds}")));
    assert!(dom.contains("Ranks compare only within one nation and one edition."));
}

#[test]
fn an_lsoa_code_and_a_local_authority_name_are_looked_up() {
    let b = shared_build();
    let base = serve(b.out.clone());
    let dom = look_up(&base, "E01000001", "lsoa");
    let (rank, decile) = rank_of(&b.out, "imd_england_2025", "lsoa21_code", "E01000001");
    assert!(dom.contains(r#"data-area="E01000001""#), "{dom}");
    assert!(
        dom.contains(&format!(
            r#"data-section="imd_england_2025" data-rank="{rank}" data-decile="{decile}""#
        )),
        "E01000001: the page does not show rank {rank}, decile {decile} of IMD 2025"
    );
    assert!(
        dom.contains("Change in relative deprivation"),
        "no change section"
    );
    assert!(dom.contains("Census 2021 indicators"), "no Census section");
    // Each value says which end is more deprived, or that it has none; a
    // change's direction says which way it went.
    assert!(dom.contains("proportion; higher = more deprived"), "{dom}");
    assert!(
        dom.contains("no direction given: it describes the area"),
        "{dom}"
    );
    assert!(
        dom.contains("moved towards the more deprived end, relative to other areas"),
        "E01000001 declined between 2019 and 2025: {dom}"
    );
    // Its caveats in words, from the API's dictionary.
    let text = unescape(&dom);
    for c in area_file(&b.out, "E01000001")["caveats"]
        .as_array()
        .unwrap()
    {
        let c = c.as_str().unwrap();
        assert!(text.contains(c), "caveat not shown: {c}");
    }
    // The map of its local authority's LSOAs, one shape per LSOA the index
    // places there, with a legend and the editions that have no map.
    let svg_at = dom
        .find(r#"data-map="imd_england_2025""#)
        .expect("no English 2025 map");
    let svg = &dom[svg_at..svg_at + dom[svg_at..].find("</svg>").unwrap()];
    let df = ParquetReader::new(
        std::fs::File::open(b.out.join("tables/imd_england_2025.parquet")).unwrap(),
    )
    .finish()
    .unwrap();
    let in_city = df
        .column("lad24_code")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|c| *c == Some("E09000001"))
        .count();
    assert_eq!(
        svg.matches("<path ").count(),
        in_city,
        "one shape per LSOA of the City of London"
    );
    assert!(svg.contains(r#"data-code="E01000001""#));
    assert!(
        dom.contains("1 (most deprived)") && dom.contains("10 (least deprived)"),
        "no legend"
    );
    assert!(
        dom.contains(r#"data-map="imd_england_2019""#),
        "no English 2019 map"
    );
    assert!(dom.contains(
        "No map of Northern Ireland MDM 2017 (SOA 2001): the catalog has no Super Output Area 2001 boundaries"
    ));

    let dom = look_up(&base, "Hartlepool", "local-authority");
    assert!(dom.contains(r#"data-state="done""#), "{dom}");
    assert!(
        dom.contains(r#"data-area="E06000001""#),
        "Hartlepool is not shown as E06000001"
    );
    assert!(
        dom.contains("summarised for the local authority"),
        "no summary of Hartlepool"
    );
}

#[test]
fn a_postcode_without_an_index_shows_why() {
    let b = shared_build();
    let base = serve(b.out.clone());
    let (pcds, _) = nspl_row("GY", |_| true);
    let dom = look_up(&base, &pcds, "no-index");
    assert!(dom.contains(r#"data-state="done""#), "{dom}");
    let outcode = pcds.split(' ').next().unwrap();
    let file = api_json(&b.out.join(format!("api/v2/postcodes/{outcode}.json")));
    let place = &file["places"][file["postcodes"][&pcds]["place"].as_u64().unwrap() as usize];
    let reason = file["reasons"][place["reason"].as_u64().unwrap() as usize]
        .as_str()
        .unwrap();
    let dom = unescape(&dom);
    assert!(
        dom.contains(&format!("No deprivation index: {reason}")),
        "{pcds}: the reason {reason:?} is not shown"
    );
    assert!(dom.contains("Channel Islands"), "the country is not named");
}

#[test]
fn an_area_without_its_dictionary_fails_and_says_why() {
    // Titles, reasons and directions are the dictionary's: an area shown
    // without them would be read wrongly, so the page shows none of it.
    let b = shared_build();
    let base = serve_with(b.out.clone(), true, Some("/api/v2/dictionary.json"));
    let dom = look_up(&base, "E01000001", "no-dictionary");
    assert!(dom.contains(r#"data-state="error""#), "{dom}");
    assert!(unescape(&dom).contains("dictionary.json"), "{dom}");
    assert!(!dom.contains(r#"data-area="E01000001""#), "{dom}");
}

#[test]
fn a_postcode_not_in_the_release_is_said_to_be_missing() {
    let b = shared_build();
    let base = serve(b.out.clone());
    let dom = look_up(&base, "ZZ99 9ZZ", "not-found");
    assert!(dom.contains(r#"data-state="notfound""#), "{dom}");
    assert!(dom.contains("ZZ99 9ZZ is not in this release"));
}

#[test]
fn the_page_fits_a_phone_and_labels_its_controls() {
    let b = shared_build();
    // The release folder as a plain static server serves it.
    let base = serve_plain(b.out.clone());
    let dom = look_up_at(&base, "E01000001", "phone", "390,844");
    assert!(dom.contains(r#"data-state="done""#), "{dom}");
    assert!(
        dom.contains(r#"data-fits="true""#),
        "the page scrolls sideways at 390 px wide"
    );
    // Every control has a label; the status is announced; the map's
    // shapes can be reached with the keyboard.
    assert!(dom.contains(r#"<label for="q">"#) && dom.contains(r#"id="q""#));
    assert!(dom.contains(r#"role="status" aria-live="polite""#));
    assert!(
        dom.contains(r##"<a href="#q=E01000001">"##),
        "the map's areas are not listed as links"
    );
    assert!(dom.contains(r#"role="img" aria-label="English IMD 2025 deciles"#));
}

#[test]
fn a_postcode_in_a_district_abolished_since_shows_its_successor() {
    let b = shared_build();
    let base = serve(b.out.clone());
    // Harrogate (E07000165) in NSPL November 2021; North Yorkshire
    // (E06000065) since April 2023.
    let (pcds, _) = nspl_row("HG", |cell| {
        cell("doterm").is_empty() && cell("laua") == "E07000165"
    });
    let dom = look_up(&base, &pcds, "abolished-district");
    assert!(dom.contains(r#"data-state="done""#), "{dom}");
    assert!(
        dom.contains(r#"data-area="E07000165""#),
        "the directory's district"
    );
    assert!(
        dom.contains(r#"data-area="E06000065""#),
        "its 2024 successor"
    );
    assert!(
        dom.contains(r#"data-map="imd_england_2025""#)
            && dom.contains(r#"data-map="imd_england_2019""#)
    );
}
