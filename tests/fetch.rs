//! `fetch` against a real HTTP server on 127.0.0.1: conditional GET, retries,
//! truncation, resets, stalls, HTML pages, pins, offline and mirror runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use census_pipeline::build::{build, BuildOptions};
use census_pipeline::cache::Cache;
use census_pipeline::catalog::Catalog;
use census_pipeline::fetch::{fetch_all, FetchOptions, Lockfile};
use census_pipeline::plan::load_config;
use census_pipeline::ErrorKind;

use crate::http::{Reply, Server};
use crate::util::*;

const BODY: &[u8] = b"Area code,Value\nE06000001,1\nE06000002,2\nE06000003,3\nE06000004,4\n";

fn opts() -> FetchOptions {
    FetchOptions {
        attempts: 3,
        backoff: Duration::from_millis(10),
        read_timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_secs(2),
        ..FetchOptions::default()
    }
}

/// A catalog with one source at `url`, pinned to `pin`.
fn catalog(dir: &Path, url: &str, pin: &str) -> PathBuf {
    write_tiny_catalog(
        dir,
        None,
        &format!(
            "[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nurl = \"{url}\"\nsha256 = \"{pin}\"\nrows = 4\nformat = \"csv\"\n"
        ),
    )
}

fn fetch(
    catalog_path: &Path,
    cache: &Path,
    o: &FetchOptions,
) -> census_pipeline::Result<census_pipeline::fetch::Fetched> {
    let catalog = Catalog::load(catalog_path).unwrap();
    let cache = Cache::open(cache).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fetch_all(&catalog, &cache, o))
}

#[test]
fn a_download_is_pinned_locked_and_then_revalidated_with_a_conditional_get() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![Reply::Ok {
            body: BODY.to_vec(),
            etag: "\"v1\"",
        }],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let cache = dir.path().join("cache");

    let first = fetch(&cat, &cache, &opts()).unwrap();
    assert_eq!(std::fs::read(&first["tiny"]).unwrap(), BODY);
    let lock = Lockfile::read(&cat.with_extension("lock")).unwrap();
    let entry = &lock.sources["tiny"];
    assert_eq!(entry.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        entry.last_modified.as_deref(),
        Some("Thu, 30 Oct 2025 09:30:00 GMT")
    );
    assert_eq!(entry.sha256, sha256_hex(BODY));
    assert_eq!(entry.bytes, BODY.len() as u64);

    // The second fetch sends If-None-Match, gets 304, and keeps the blob.
    let second = fetch(&cat, &cache, &opts()).unwrap();
    assert_eq!(second["tiny"], first["tiny"]);
    assert_eq!(server.hits("/tiny.csv"), 2);
    assert_eq!(
        Lockfile::read(&cat.with_extension("lock")).unwrap().sources["tiny"],
        *entry
    );
}

#[test]
fn server_errors_are_retried_until_success() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![
            Reply::Status(500),
            Reply::Status(503),
            Reply::Ok {
                body: BODY.to_vec(),
                etag: "\"v1\"",
            },
        ],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let got = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap();
    assert_eq!(std::fs::read(&got["tiny"]).unwrap(), BODY);
    assert_eq!(server.hits("/tiny.csv"), 3);
}

#[test]
fn a_connection_reset_mid_body_is_retried() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![
            Reply::Reset(BODY.to_vec()),
            Reply::Ok {
                body: BODY.to_vec(),
                etag: "\"v1\"",
            },
        ],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let got = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap();
    assert_eq!(std::fs::read(&got["tiny"]).unwrap(), BODY);
    assert_eq!(server.hits("/tiny.csv"), 2);
}

#[test]
fn a_body_that_stays_truncated_fails_after_the_retries_and_caches_nothing() {
    let server = Server::start();
    server.script("/tiny.csv", vec![Reply::Truncated(BODY.to_vec())]);
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let err = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("source `tiny`"), "{msg}");
    assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    assert_eq!(server.hits("/tiny.csv"), 3);
    let blobs = std::fs::read_dir(dir.path().join("cache/blobs"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "nothing half-downloaded enters the cache");
}

#[test]
fn a_stalled_server_times_out_and_is_retried() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![
            Reply::Stall(BODY.to_vec(), Duration::from_secs(3)),
            Reply::Ok {
                body: BODY.to_vec(),
                etag: "\"v1\"",
            },
        ],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let got = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap();
    assert_eq!(std::fs::read(&got["tiny"]).unwrap(), BODY);
    assert_eq!(server.hits("/tiny.csv"), 2);
}

#[test]
fn a_wrong_sha256_is_quarantined_and_never_used() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![Reply::Ok {
            body: BODY.to_vec(),
            etag: "\"v2\"",
        }],
    );
    let dir = tempdir();
    let pin = "1".repeat(64);
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &pin);
    let err = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap_err();
    match &err.kind {
        ErrorKind::ChecksumMismatch {
            expected,
            actual,
            quarantined,
        } => {
            assert_eq!(expected, &pin);
            assert_eq!(actual, &sha256_hex(BODY));
            assert!(quarantined.as_ref().is_some_and(|q| q.is_file()));
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    assert!(err.to_string().contains("source `tiny`"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("cache/blobs"))
            .unwrap()
            .count(),
        0
    );
    assert!(!Lockfile::read(&cat.with_extension("lock"))
        .unwrap()
        .sources
        .contains_key("tiny"));
}

#[test]
fn an_html_page_in_place_of_data_is_rejected() {
    for as_csv in [false, true] {
        let server = Server::start();
        server.script("/tiny.csv", vec![Reply::Html { as_csv }]);
        let dir = tempdir();
        let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
        let err = fetch(&cat, &dir.path().join("cache"), &opts()).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::HtmlInsteadOfData), "{err}");
        assert_eq!(server.hits("/tiny.csv"), 1, "an HTML page is not retried");
    }
}

#[test]
fn a_missing_file_is_a_clear_error_without_retries() {
    let server = Server::start();
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/gone.csv"), &sha256_hex(BODY));
    let msg = fetch(&cat, &dir.path().join("cache"), &opts())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("HTTP 404"), "{msg}");
    assert_eq!(server.hits("/gone.csv"), 1);
}

#[test]
fn offline_runs_use_the_cache_only() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![Reply::Ok {
            body: BODY.to_vec(),
            etag: "\"v1\"",
        }],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let offline = FetchOptions {
        offline: true,
        ..opts()
    };

    let err = fetch(&cat, &dir.path().join("empty-cache"), &offline).unwrap_err();
    assert!(
        err.to_string()
            .contains("not in the cache and the run is offline"),
        "{err}"
    );

    fetch(&cat, &dir.path().join("cache"), &opts()).unwrap();
    let got = fetch(&cat, &dir.path().join("cache"), &offline).unwrap();
    assert_eq!(std::fs::read(&got["tiny"]).unwrap(), BODY);
    assert_eq!(server.hits("/tiny.csv"), 1, "offline runs make no request");
}

/// A catalog whose file is at no reachable URL but in a mirror folder
/// under `dir`, and the options that read the mirror.
fn mirrored(dir: &Path) -> (PathBuf, FetchOptions) {
    let mirror = dir.join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(mirror.join("tiny.csv"), BODY).unwrap();
    let cat = catalog(dir, "http://127.0.0.1:9/never/tiny.csv", &sha256_hex(BODY));
    let opts = FetchOptions {
        mirror: Some(mirror),
        ..opts()
    };
    (cat, opts)
}

#[test]
fn a_mirror_directory_replaces_the_network() {
    let dir = tempdir();
    let (cat, with_mirror) = mirrored(dir.path());
    let got = fetch(&cat, &dir.path().join("cache"), &with_mirror).unwrap();
    assert_eq!(std::fs::read(&got["tiny"]).unwrap(), BODY);
}

#[test]
fn a_damaged_cached_copy_is_replaced_from_the_mirror() {
    let dir = tempdir();
    let (cat, with_mirror) = mirrored(dir.path());
    let cache = dir.path().join("cache");
    let blob = fetch(&cat, &cache, &with_mirror).unwrap()["tiny"].clone();
    // Damaged in the cache: cut short, as a full disk or a killed copy leaves it.
    std::fs::write(&blob, &BODY[..BODY.len() / 2]).unwrap();
    let got = fetch(&cat, &cache, &with_mirror).unwrap();
    assert_eq!(
        std::fs::read(&got["tiny"]).unwrap(),
        BODY,
        "the good copy replaced it"
    );
}

#[test]
fn a_build_from_a_url_catalog_fetches_then_loads() {
    let server = Server::start();
    server.script(
        "/tiny.csv",
        vec![
            Reply::Status(502),
            Reply::Ok {
                body: BODY.to_vec(),
                etag: "\"v1\"",
            },
        ],
    );
    let dir = tempdir();
    let cat = catalog(dir.path(), &server.url("/tiny.csv"), &sha256_hex(BODY));
    let stages = load_all_stages(dir.path());
    let (catalog, graph) = load_config(&cat, &stages).unwrap();
    let out = dir.path().join("release");
    let report = build(
        &catalog,
        &graph,
        &BuildOptions {
            previous: None,
            out: out.clone(),
            cache_dir: dir.path().join("cache"),
            fetch: opts(),
            limits: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(report.manifest.tables["tiny"].rows, 4);
    assert_eq!(read_table(&out, "tiny").height(), 4);
}
