//! `census-pipeline outdated` against publishers played by a server on
//! 127.0.0.1: a landing page listing a newer asset, one listing only the
//! recorded file, one that fails, an ArcGIS item modified since it was
//! fetched, and an ArcGIS search whose results name a later edition.

use assert_cmd::Command;

use crate::http::{Reply, Server};
use crate::util::*;

fn page(html: &str) -> Reply {
    Reply::Ok {
        body: html.as_bytes().to_vec(),
        etag: "\"x\"",
    }
}

/// The publishers, played on 127.0.0.1: a landing page listing a newer
/// asset, one listing only the recorded file, one that fails, an ArcGIS
/// item's metadata and an ArcGIS search.
fn publishers() -> Server {
    let server = Server::start();
    server.script(
        "/wimd/landing",
        vec![page(
            r#"<ul><li><a href="/files/wimd-2025-index-and-domain-scores.ods">2025</a></li>
            <li><a href="/files/wimd-2026-index-and-domain-scores.ods">2026</a></li>
            <li><a href="/files/wimd-2026-guidance.pdf">guidance</a></li></ul>"#,
        )],
    );
    server.script(
        "/simd/landing",
        vec![page(r#"<a href="https://other.example/SIMD+2020v2+-+ranks.xlsx">ranks</a> <a href="/x/SIMD+2020v2+-+indicators.xlsx">x</a>"#)],
    );
    server.script("/broken/landing", vec![Reply::Status(500)]);
    server.script(
        "/sharing/rest/content/items/abc123?f=json",
        vec![page(r#"{"id":"abc123","modified":1767225600000}"#)],
    );
    server.script(
        "/sharing/rest/search?q=ONSPD",
        vec![page(r#"{"results":[{"title":"ONS Postcode Directory (November 2025)"},{"title":"ONS Postcode Directory (November 2025) User Guide v2"},{"title":"ONS Postcode Directory (February 2026)"}]}"#)],
    );
    server
}

/// A catalog of five sources, one watched each way, and a lock saying the
/// item was last fetched on 1 December 2025 (it changed on 1 January 2026).
fn catalog_against(dir: &std::path::Path, server: &Server) -> std::path::PathBuf {
    let src = |id: &str, extra: String| {
        format!("[sources.{id}]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"November 2025\"\ngeography = \"g\"\nunpinned = \"fixture\"\nformat = \"csv\"\n{extra}\n")
    };
    let sources = [
        src(
            "tiny",
            format!(
                "url = \"{}\"\nlanding = \"{}\"",
                server.url("/files/wimd-2025-index-and-domain-scores.ods"),
                server.url("/wimd/landing")
            ),
        ),
        src(
            "simd",
            format!(
                "url = \"{}\"\nlanding = \"{}\"",
                server.url("/files/SIMD+2020v2+-+ranks.xlsx"),
                server.url("/simd/landing")
            ),
        ),
        src(
            "broken",
            format!(
                "url = \"{}\"\nlanding = \"{}\"",
                server.url("/files/b.csv"),
                server.url("/broken/landing")
            ),
        ),
        src(
            "item",
            format!(
                "url = \"{}\"",
                server.url("/sharing/rest/content/items/abc123/data")
            ),
        ),
        src(
            "onspd",
            format!(
                "url = \"{}\"\nwatch = \"{}\"",
                server.url("/files/onspd.zip"),
                server.url("/sharing/rest/search?q=ONSPD")
            ),
        ),
    ]
    .concat();
    let cat = write_tiny_catalog(dir, None, &sources);
    let mut datasets = std::fs::read_to_string(dir.join("datasets.toml")).unwrap();
    for id in ["simd", "broken", "item", "onspd"] {
        datasets += &format!("\n[datasets.{id}]\ntitle = \"{id}\"\nkey = [\"code\"]\n[datasets.{id}.columns]\ncode = {{ type = \"string\" }}\n");
    }
    std::fs::write(dir.join("datasets.toml"), datasets).unwrap();
    std::fs::write(
        cat.with_extension("lock"),
        format!("[sources.item]\nurl = \"{}\"\nsha256 = \"00\"\nbytes = 1\nfetched_at = \"2025-12-01T00:00:00Z\"\n", server.url("/sharing/rest/content/items/abc123/data")),
    )
    .unwrap();
    cat
}

#[test]
fn outdated_names_what_is_newer_where_and_exits_10() {
    let server = publishers();
    let dir = tempdir();
    let cat = catalog_against(dir.path(), &server);

    let out = Command::cargo_bin("census-pipeline")
        .unwrap()
        .args(["outdated", "--stages"])
        .arg(load_all_stages(dir.path()))
        .arg("--sources")
        .arg(&cat)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |id: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} |")))
            .unwrap_or_else(|| panic!("no row for {id}: {stdout}"))
            .to_string()
    };
    let tiny = row("tiny");
    assert!(
        tiny.contains("NEWER: wimd-2026-index-and-domain-scores.ods"),
        "{tiny}"
    );
    assert!(
        tiny.contains(&server.url("/files/wimd-2026-index-and-domain-scores.ods")),
        "where: {tiny}"
    );
    assert!(
        row("simd").contains("current: SIMD+2020v2+-+ranks.xlsx"),
        "{stdout}"
    );
    assert!(
        row("broken").contains("could not check: HTTP 500"),
        "{stdout}"
    );
    let item = row("item");
    assert!(
        item.contains("fetched 2025-12-01") && item.contains("NEWER: modified 2026-01-01"),
        "{item}"
    );
    assert!(
        row("onspd").contains("NEWER: ONS Postcode Directory (February 2026)"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 of 5 sources have something newer"));
}
