//! Downloads the catalog's files into the content-addressed cache.
//!
//! Publishers' sites fail in ordinary ways: 5xx under load, dropped
//! connections, truncated bodies, an HTML error or landing page served with
//! status 200, and silent re-publication of a file under the same URL. Each is
//! handled here so that nothing downstream ever reads a file that is not the
//! one pinned: transient failures are retried with backoff, HTML is rejected,
//! the body length is checked, and the sha256 is compared with the pin before
//! the file enters the cache (a mismatch is quarantined, never used).
//! Conditional GETs (ETag / Last-Modified from `sources.lock`) make a refresh
//! cheap when nothing changed. An ArcGIS FeatureServer query is fetched page
//! by page and assembled into one file first (see `pages`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn, Instrument};
use tracing_indicatif::span_ext::IndicatifSpanExt;

pub mod pages;

use crate::cache::{sha256_file, write_atomic, Cache};
use crate::catalog::{Catalog, Source};
use crate::error::{Error, ErrorKind, Result};

/// One source's entry in `sources.lock`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    pub sha256: String,
    pub bytes: u64,
    /// RFC 3339 time of the last download (or mirror copy).
    pub fetched_at: String,
}

/// `sources.lock`: what was fetched, from where, with which digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    #[serde(default)]
    pub sources: BTreeMap<String, LockEntry>,
}

impl Lockfile {
    pub fn read(path: &Path) -> Result<Lockfile> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                Error::config(vec![crate::error::ConfigError::message(
                    "",
                    format!("{}: invalid lock file: {e}", path.display()),
                )])
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lockfile::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    pub fn write(&self, path: &Path, tmp_dir: &Path) -> Result<()> {
        let text = format!(
            "# Written by `census-pipeline fetch`: what was downloaded, from where, with which sha256.\n{}",
            toml::to_string(self).map_err(Error::table)?
        );
        write_atomic(path, text.as_bytes(), tmp_dir)
    }
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Use the cache only; fail for anything not in it.
    pub offline: bool,
    /// Take files from this directory (by file name) instead of the network.
    pub mirror: Option<PathBuf>,
    /// Downloads at once.
    pub concurrency: usize,
    /// Attempts per file for transient failures.
    pub attempts: u32,
    /// First retry delay; doubled after each attempt.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// A download that receives nothing for this long is abandoned (and retried).
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            offline: false,
            mirror: None,
            concurrency: 4,
            attempts: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Where each fetched source's file is, by dataset id.
pub type Fetched = BTreeMap<String, PathBuf>;

/// One source's outcome: its blob, and its new lock entry if it changed.
type FetchOutcome = (String, Result<(PathBuf, Option<LockEntry>)>);

/// Fetches every obtainable source of a URL catalog into the cache and
/// updates `sources.lock`. Local catalogs (with `data_dir`) need no fetch.
/// All sources are attempted; if any fails, the first error (in catalog
/// order) is returned after the lock file records the ones that succeeded.
pub async fn fetch_all(catalog: &Catalog, cache: &Cache, opts: &FetchOptions) -> Result<Fetched> {
    let lock_path = catalog.lock_path();
    let lock = Lockfile::read(&lock_path)?;
    let client = reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .user_agent(concat!("census-pipeline/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Download {
                reason: e.to_string(),
            })
        })?;

    let unreachable = std::sync::atomic::AtomicUsize::new(0);
    let todo: Vec<&Source> = catalog
        .sources
        .values()
        .filter(|s| s.raw.unavailable.is_none() && s.local_path.is_none())
        .collect();
    let results: Vec<FetchOutcome> = futures_util::stream::iter(todo)
        .map(|src| {
            let client = &client;
            let previous = lock.sources.get(&src.id);
            let span = tracing::info_span!("fetch", source = %src.id);
            let unreachable = &unreachable;
            async move {
                let r = fetch_one(client, src, previous, cache, opts, unreachable)
                    .await
                    .map_err(|e| e.source_id(&src.id));
                (src.id.clone(), r)
            }
            .instrument(span)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;

    let mut new_lock = lock.clone();
    let mut fetched = Fetched::new();
    let mut errors: BTreeMap<usize, (String, Error)> = BTreeMap::new();
    for (id, r) in results {
        match r {
            Ok((path, entry)) => {
                if let Some(entry) = entry {
                    new_lock.sources.insert(id.clone(), entry);
                }
                fetched.insert(id, path);
            }
            Err(e) => {
                let pos = catalog.sources.get_index_of(&id).unwrap_or(usize::MAX);
                errors.insert(pos, (id, e));
            }
        }
    }
    // Only a lock that records something new is written.
    if new_lock.sources != lock.sources {
        new_lock.write(&lock_path, &cache.tmp_dir())?;
    }
    let attempted = fetched.len() + errors.len();
    let mut errors: Vec<(String, Error)> = errors.into_values().collect();
    match errors.len() {
        0 => Ok(fetched),
        // One failure keeps its own kind (a checksum mismatch, a 404).
        1 => Err(errors.remove(0).1),
        _ => Err(Error::new(ErrorKind::Fetch {
            failed: errors
                .into_iter()
                .map(|(id, e)| (id, e.to_string()))
                .collect(),
            attempted,
        })),
    }
}

/// Fetches one source; returns its blob and the new lock entry (None when
/// the lock entry is unchanged).
async fn fetch_one(
    client: &reqwest::Client,
    src: &Source,
    previous: Option<&LockEntry>,
    cache: &Cache,
    opts: &FetchOptions,
    unreachable: &std::sync::atomic::AtomicUsize,
) -> Result<(PathBuf, Option<LockEntry>)> {
    let url = src.raw.url.clone().unwrap_or_default();
    let pin = src.raw.sha256.as_deref();
    // The blob we already hold for this source, if it still fits the pin.
    let cached = previous
        .filter(|p| p.url == url && pin.is_none_or(|pin| pin == p.sha256))
        .map(|p| p.sha256.clone())
        .or_else(|| pin.map(str::to_string))
        .filter(|sha| cache.has_blob(sha));

    if let Some(dir) = &opts.mirror {
        let path = dir.join(src.file_name());
        if !path.is_file() {
            return Err(Error::new(ErrorKind::NotCached {
                reason: format!(
                    "the mirror {} has no file named {:?}",
                    dir.display(),
                    src.file_name()
                ),
            }));
        }
        let sha = sha256_file(&path)?;
        let blob = admit(cache, src, &path, &sha)?;
        let bytes = std::fs::metadata(&blob)
            .map_err(|e| Error::io(&blob, e))?
            .len();
        info!(source = %src.id, bytes, "Copied from mirror.");
        return Ok((
            blob,
            Some(LockEntry {
                url,
                etag: None,
                last_modified: None,
                sha256: sha,
                bytes,
                fetched_at: now(),
            }),
        ));
    }
    if opts.offline {
        return match cached {
            Some(sha) => Ok((cache.blob_path(&sha), None)),
            None => Err(Error::new(ErrorKind::NotCached { reason: format!(
                "{:?} is not in the cache and the run is offline; run `census-pipeline fetch` with network access, or pass `--mirror DIR`",
                src.file_name()
            ) })),
        };
    }

    if crate::arcgis::is_feature_query(&url) {
        return fetch_pages(client, src, &url, (previous, cached), cache, opts).await;
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match download(
            client,
            src,
            &url,
            previous.filter(|_| cached.is_some()),
            cache,
        )
        .await
        {
            Ok(Outcome::NotModified) => {
                let sha = cached.clone().unwrap_or_default();
                info!(source = %src.id, "Not modified since last fetch.");
                return Ok((cache.blob_path(&sha), None));
            }
            Ok(Outcome::Downloaded { tmp, entry }) => {
                let blob = admit(cache, src, &tmp, &entry.sha256);
                let _ = std::fs::remove_file(&tmp);
                let blob = blob?;
                info!(source = %src.id, bytes = entry.bytes, sha256 = %entry.sha256, "Downloaded.");
                return Ok((blob, Some(entry)));
            }
            // No server could be reached for several sources: the network
            // is down, and retrying every source would only delay the advice.
            Err(Failure::Unreachable(msg))
                if unreachable.load(std::sync::atomic::Ordering::Relaxed) >= 3 =>
            {
                return Err(Error::new(ErrorKind::Download {
                    reason: format!("{url}: {msg} (no server could be reached; not retried)"),
                }));
            }
            Err(Failure::Unreachable(msg)) if attempt < opts.attempts => {
                if attempt == 1 {
                    unreachable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                let delay = backoff(opts, attempt);
                warn!(source = %src.id, attempt, error = %msg, retry_in_ms = delay.as_millis() as u64, "Cannot reach the server; retrying.");
                tokio::time::sleep(delay).await;
            }
            Err(Failure::Unreachable(msg)) => {
                return Err(Error::new(ErrorKind::Download {
                    reason: format!("{url}: {msg} (gave up after {attempt} attempts)"),
                }))
            }
            Err(Failure::Transient(msg)) if attempt < opts.attempts => {
                let delay = backoff(opts, attempt);
                warn!(source = %src.id, attempt, error = %msg, retry_in_ms = delay.as_millis() as u64, "Download failed; retrying.");
                tokio::time::sleep(delay).await;
            }
            Err(Failure::Transient(msg)) => {
                return Err(Error::new(ErrorKind::Download {
                    reason: format!("{url}: {msg} (gave up after {attempt} attempts)"),
                }))
            }
            Err(Failure::Fatal(e)) => return Err(e),
        }
    }
}

/// Fetches a FeatureServer query page by page and admits the assembled
/// file. A query has no ETag: a pinned file already in the cache is not
/// fetched again; an unpinned one is, and the lock is rewritten only when
/// the assembled file differs from the one it records.
async fn fetch_pages(
    client: &reqwest::Client,
    src: &Source,
    url: &str,
    (previous, cached): (Option<&LockEntry>, Option<String>),
    cache: &Cache,
    opts: &FetchOptions,
) -> Result<(PathBuf, Option<LockEntry>)> {
    if let Some(sha) = cached.filter(|_| src.raw.sha256.is_some()) {
        return Ok((cache.blob_path(&sha), None));
    }
    let max = src
        .raw
        .max_bytes
        .unwrap_or(crate::catalog::DEFAULT_MAX_SOURCE_BYTES);
    let geojson = src.raw.format == crate::catalog::Format::Geojson;
    let mut pages = pages::Assembler::new(geojson, max);
    let mut offset = 0;
    loop {
        let page = pages::page_url(url, offset);
        let body = get_page(client, &page, pages.room(), opts)
            .await
            .map_err(|e| {
                e.file(src.file_name())
                    .sheet(format!("page at resultOffset={offset}"))
            })?;
        match pages
            .add(offset, &body)
            .map_err(|e| e.file(src.file_name()))?
        {
            pages::Next::More { offset: next } => offset = next,
            pages::Next::Done => break,
        }
    }
    info!(source = %src.id, pages = pages.pages(), features = pages.features(), "Assembled the FeatureServer pages.");
    let bytes = pages.finish();
    let sha = hex::encode(Sha256::digest(&bytes));
    let tmp = cache
        .tmp_dir()
        .join(format!("{}.{}.pages", src.id, std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
    let blob = admit(cache, src, &tmp, &sha);
    let _ = std::fs::remove_file(&tmp);
    let unchanged = previous.is_some_and(|p| p.url == url && p.sha256 == sha);
    let entry = LockEntry {
        url: url.to_string(),
        etag: None,
        last_modified: None,
        sha256: sha,
        bytes: bytes.len() as u64,
        fetched_at: now(),
    };
    Ok((blob?, (!unchanged).then_some(entry)))
}

/// A whole page: no answer may take longer than this, however it trickles.
const PAGE_DEADLINE: Duration = Duration::from_secs(600);

/// One page of a query, retried with backoff when it fails transiently
/// (including ArcGIS's busy errors sent with HTTP 200), read within `room`
/// bytes.
async fn get_page(
    client: &reqwest::Client,
    url: &str,
    room: u64,
    opts: &FetchOptions,
) -> Result<Vec<u8>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match read_page(client, url, room).await {
            Ok(body) => return Ok(body),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Transient(m) | Failure::Unreachable(m)) => m,
        };
        if attempt >= opts.attempts {
            return Err(Error::new(ErrorKind::Download {
                reason: format!("{url}: {failure} (gave up after {attempt} attempts)"),
            }));
        }
        warn!(attempt, error = %failure, "A page failed; retrying.");
        tokio::time::sleep(backoff(opts, attempt)).await;
    }
}

async fn read_page(
    client: &reqwest::Client,
    url: &str,
    room: u64,
) -> std::result::Result<Vec<u8>, Failure> {
    let resp = client
        .get(url)
        .timeout(PAGE_DEADLINE)
        .send()
        .await
        .map_err(|e| Failure::Transient(describe(&e)))?;
    let status = resp.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::Transient(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Fatal(Error::new(ErrorKind::Download {
            reason: format!("{url}: HTTP {status}; check the URL in the catalog"),
        })));
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Failure::Transient(format!(
                "connection lost after {} bytes: {}",
                body.len(),
                describe(&e)
            ))
        })?;
        body.extend_from_slice(&chunk);
        if body.len() as u64 > room {
            return Err(Failure::Fatal(Error::new(ErrorKind::TooLarge {
                limit: format!(
                    "a page of more than {room} bytes (what is left of the source's limit)"
                ),
            })));
        }
    }
    if looks_like_html(&body[..body.len().min(512)]) {
        return Err(Failure::Fatal(Error::new(ErrorKind::HtmlInsteadOfData)));
    }
    if let Some(why) = pages::is_transient_error(&body) {
        return Err(Failure::Transient(why));
    }
    Ok(body)
}

/// The wait before attempt `attempt + 1`: doubled each time, at most a minute.
fn backoff(opts: &FetchOptions, attempt: u32) -> Duration {
    opts.backoff
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(Duration::from_secs(60))
}

/// Checks a file against the source's pin and moves (or copies) it into the
/// cache under its digest. A mismatch goes to quarantine instead.
fn admit(cache: &Cache, src: &Source, path: &Path, sha: &str) -> Result<PathBuf> {
    if let Some(pin) = &src.raw.sha256 {
        if pin != sha {
            let q = cache.quarantine_path(sha, &src.file_name());
            std::fs::copy(path, &q).map_err(|e| Error::io(&q, e))?;
            return Err(Error::new(ErrorKind::ChecksumMismatch {
                expected: pin.clone(),
                actual: sha.to_string(),
                quarantined: Some(q),
            })
            .file(src.file_name()));
        }
    }
    let blob = cache.blob_path(sha);
    // A blob already there is kept only if it is intact: one damaged in
    // the cache is replaced by the good copy in hand.
    let intact = blob.is_file()
        && std::fs::metadata(&blob).ok().map(|m| m.len())
            == std::fs::metadata(path).ok().map(|m| m.len())
        && sha256_file(&blob).is_ok_and(|b| b == sha);
    if !intact {
        if blob.is_file() {
            warn!(source = %src.id, blob = %blob.display(), "The cached copy was damaged: replaced.");
        }
        let tmp = cache.tmp_dir().join(format!("{sha}.admit"));
        std::fs::copy(path, &tmp).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &blob).map_err(|e| Error::io(&blob, e))?;
    }
    Ok(blob)
}

enum Outcome {
    NotModified,
    Downloaded { tmp: PathBuf, entry: LockEntry },
}

enum Failure {
    /// Worth retrying: 5xx, 429, timeouts, short bodies.
    Transient(String),
    /// The server could not be reached at all (DNS, refused connection).
    Unreachable(String),
    Fatal(Error),
}

async fn download(
    client: &reqwest::Client,
    src: &Source,
    url: &str,
    previous: Option<&LockEntry>,
    cache: &Cache,
) -> std::result::Result<Outcome, Failure> {
    let mut req = client.get(url);
    if let Some(p) = previous {
        if let Some(etag) = &p.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &p.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = req.send().await.map_err(|e| match e.is_connect() {
        true => Failure::Unreachable(describe(&e)),
        false => Failure::Transient(describe(&e)),
    })?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && previous.is_some() {
        return Ok(Outcome::NotModified);
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::Transient(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Fatal(Error::new(ErrorKind::Download {
            reason: format!("{url}: HTTP {status}; check the URL in the catalog"),
        })));
    }
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header(reqwest::header::ETAG);
    let last_modified = header(reqwest::header::LAST_MODIFIED);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    let expected_len = resp.content_length();
    let html_fatal =
        || Failure::Fatal(Error::new(ErrorKind::HtmlInsteadOfData).file(src.file_name()));
    if content_type.to_ascii_lowercase().starts_with("text/html") {
        return Err(html_fatal());
    }

    let (tmp_path, sha256, received) = stream_to_file(resp, src, cache, expected_len).await?;
    if let Some(len) = expected_len {
        if received != len {
            let _ = tokio::fs::remove_file(&tmp_path).await;
            return Err(Failure::Transient(format!(
                "truncated body: received {received} of {len} bytes"
            )));
        }
    }
    if received == 0 {
        let _ = tokio::fs::remove_file(&tmp_path).await;
        return Err(Failure::Fatal(Error::new(ErrorKind::Download {
            reason: format!("{url}: the server sent an empty body"),
        })));
    }
    Ok(Outcome::Downloaded {
        tmp: tmp_path,
        entry: LockEntry {
            url: url.to_string(),
            etag,
            last_modified,
            sha256,
            bytes: received,
            fetched_at: now(),
        },
    })
}

/// Streams a response body into a file under the cache's `tmp/`, hashing
/// it, and stopping at the first sign of an HTML page.
async fn stream_to_file(
    resp: reqwest::Response,
    src: &Source,
    cache: &Cache,
    expected_len: Option<u64>,
) -> std::result::Result<(PathBuf, String, u64), Failure> {
    let html_fatal =
        || Failure::Fatal(Error::new(ErrorKind::HtmlInsteadOfData).file(src.file_name()));
    let span = tracing::Span::current();
    if let Some(len) = expected_len {
        span.pb_set_length(len);
    }
    span.pb_set_message(&src.id);

    let tmp_path = cache
        .tmp_dir()
        .join(format!("{}.{}.part", src.id, std::process::id()));
    let mut file = tokio::fs::File::create(&tmp_path)
        .await
        .map_err(|e| Failure::Fatal(Error::io(&tmp_path, e)))?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut head: Vec<u8> = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&tmp_path).await;
                return Err(Failure::Transient(format!(
                    "connection lost after {received} bytes: {}",
                    describe(&e)
                )));
            }
        };
        if head.len() < 512 {
            head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
            if looks_like_html(&head) {
                drop(file);
                let _ = tokio::fs::remove_file(&tmp_path).await;
                return Err(html_fatal());
            }
        }
        hasher.update(&chunk);
        received += chunk.len() as u64;
        span.pb_inc(chunk.len() as u64);
        file.write_all(&chunk)
            .await
            .map_err(|e| Failure::Fatal(Error::io(&tmp_path, e)))?;
    }
    file.flush()
        .await
        .map_err(|e| Failure::Fatal(Error::io(&tmp_path, e)))?;
    drop(file);
    Ok((tmp_path, hex::encode(hasher.finalize()), received))
}

/// True if a body starts like an HTML document (after white space and a BOM).
pub fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let t = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    t.starts_with("<!doctype html")
        || t.starts_with("<html")
        || t.starts_with("<head")
        || t.starts_with("<body")
}

pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    if e.is_timeout() {
        s.push_str(" (timed out)");
    }
    s
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::looks_like_html;

    #[test]
    fn html_pages_are_recognised() {
        assert!(looks_like_html(b"\n  <!DOCTYPE html><html>"));
        assert!(looks_like_html("\u{feff}<html lang=en>".as_bytes()));
        assert!(!looks_like_html(b"LSOA code,LSOA name\n"));
    }
}
