//! Publishing a release to a static bucket (S3-compatible, local folder, or
//! any store object_store supports).
//!
//! ```text
//! <prefix>/releases/<version>/...   write-once: every file of the release
//! <prefix>/latest.json              switched last, by a conditional update
//! ```
//!
//! Objects already present with the same content are skipped, so an
//! interrupted publish resumes where it stopped and a repeated one uploads
//! nothing. An object present with *different* content is an error: a
//! version, once published, never changes. The version's `manifest.json` is
//! uploaded after every other file, and `latest.json` only after that, so a
//! reader following `latest.json` never finds a half-published release.

use std::path::Path;

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::cache::sha256_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::release::Manifest;

/// `latest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Latest {
    pub version: String,
    pub path: String,
    pub manifest_sha256: String,
}

/// What a publish did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub version: String,
    pub uploaded: usize,
    pub skipped: usize,
    pub latest_switched: bool,
}

fn store_err(what: &str, e: object_store::Error) -> Error {
    Error::new(ErrorKind::Bucket {
        reason: format!("{what}: {e}"),
    })
}

/// Opens a destination URL: `s3://bucket/prefix` (configured by the usual
/// AWS_* environment variables, e.g. AWS_ENDPOINT and AWS_ALLOW_HTTP for a
/// local S3-compatible server), `file:///path`, or another object_store URL.
pub fn open_store(to: &str) -> Result<(Box<dyn ObjectStore>, ObjPath)> {
    let url = url::Url::parse(to).map_err(|e| {
        Error::config(vec![crate::error::ConfigError::message(
            "",
            format!(
                "`--to` must be a URL such as s3://bucket/prefix or file:///path, got {to:?}: {e}"
            ),
        )])
    })?;
    match url.scheme() {
        "s3" => {
            // Few, quick retries: a publish that cannot reach its bucket should
            // say so within a minute, and a rerun resumes where it stopped.
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(20),
                ..Default::default()
            };
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(to)
                .with_retry(retry)
                .build()
                .map_err(|e| store_err("configuring the S3 store", e))?;
            let prefix = ObjPath::from(url.path().trim_start_matches('/'));
            Ok((Box::new(store), prefix))
        }
        "file" => {
            let dir = url.to_file_path().map_err(|_| {
                Error::config(vec![crate::error::ConfigError::message(
                    "",
                    format!("not a local path: {to}"),
                )])
            })?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| store_err("opening the folder", e))?;
            Ok((Box::new(store), ObjPath::from("")))
        }
        _ => object_store::parse_url(&url).map_err(|e| store_err("opening the store", e)),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("parquet") => "application/vnd.apache.parquet",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn attributes(path: &str, immutable: bool) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::ContentType, content_type(path).into());
    a.insert(
        Attribute::CacheControl,
        if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache, max-age=60"
        }
        .into(),
    );
    a
}

/// Puts `bytes` at `loc` unless an identical object is there. Returns true
/// if it uploaded. A different object at `loc` is an error (write-once).
///
/// `listed_absent` says a listing of the version made just before did not
/// show `loc`, which saves a request per object on a first publish.
async fn put_once(
    store: &dyn ObjectStore,
    loc: &ObjPath,
    bytes: &[u8],
    rel: &str,
    listed_absent: bool,
) -> Result<bool> {
    let same = |existing: &[u8]| sha256_bytes(existing) == sha256_bytes(bytes);
    let head = if listed_absent {
        Err(object_store::Error::NotFound {
            path: loc.to_string(),
            source: "absent from the listing".into(),
        })
    } else {
        store.head(loc).await
    };
    match head {
        Ok(meta) if meta.size == bytes.len() as u64 => {
            let existing = store
                .get(loc)
                .await
                .map_err(|e| store_err(rel, e))?
                .bytes()
                .await
                .map_err(|e| store_err(rel, e))?;
            if same(&existing) {
                return Ok(false);
            }
            return Err(Error::new(ErrorKind::PublishedDiffers {
                object: loc.to_string(),
            }));
        }
        Ok(_) => {
            return Err(Error::new(ErrorKind::PublishedDiffers {
                object: loc.to_string(),
            }))
        }
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_err(rel, e)),
    }
    let opts = PutOptions {
        mode: PutMode::Create,
        attributes: attributes(rel, true),
        ..Default::default()
    };
    match store
        .put_opts(loc, PutPayload::from(bytes.to_vec()), opts.clone())
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => {
            // Written meanwhile by another publish: fine if identical.
            Box::pin(put_once(store, loc, bytes, rel, false)).await
        }
        Err(object_store::Error::NotImplemented { .. })
        | Err(object_store::Error::NotSupported { .. }) => {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            store
                .put_opts(loc, PutPayload::from(bytes.to_vec()), opts)
                .await
                .map_err(|e| store_err(rel, e))?;
            Ok(true)
        }
        Err(e) => Err(store_err(rel, e)),
    }
}

/// Publishes the release in `from` to `to`.
pub async fn publish(from: &Path, to: &str, concurrency: usize) -> Result<PublishReport> {
    let (manifest, manifest_bytes) = read_release(from)?;
    let (store, prefix) = open_store(to)?;
    let store: &dyn ObjectStore = store.as_ref();
    let version = manifest.version.clone();
    let mut report = upload_version(
        store,
        &prefix,
        from,
        &manifest,
        &manifest_bytes,
        concurrency,
    )
    .await?;
    switch_latest(store, &prefix, &version, &manifest_bytes, &mut report).await?;
    Ok(report)
}

/// The release's manifest, checked against every file before anything is sent.
fn read_release(from: &Path) -> Result<(Manifest, Vec<u8>)> {
    let manifest_path = from.join("manifest.json");
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
        Error::unreadable(format!("not a release manifest: {e}")).file(&manifest_path)
    })?;
    // Check the release before sending anything.
    for f in &manifest.files {
        let p = from.join(&f.path);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        if sha256_bytes(&bytes) != f.sha256 {
            return Err(Error::new(ErrorKind::ReleaseModified { path: p }));
        }
    }
    Ok((manifest, manifest_bytes))
}

/// Uploads every file of the version not already there, then its manifest.
async fn upload_version(
    store: &dyn ObjectStore,
    prefix: &ObjPath,
    from: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    concurrency: usize,
) -> Result<PublishReport> {
    let version = manifest.version.clone();
    let base = prefix.clone().join("releases").join(version.as_str());
    let span = tracing::info_span!("publish", version = %version);
    span.pb_set_length(manifest.files.len() as u64 + 1);
    let mloc = base.clone().join("manifest.json");
    // The same manifest there means every file is there: it is put last.
    let complete = match store.get(&mloc).await {
        Ok(g) => g.bytes().await.map_err(|e| store_err("manifest.json", e))? == manifest_bytes,
        Err(object_store::Error::NotFound { .. }) => false,
        Err(e) => return Err(store_err("manifest.json", e)),
    };
    let mut report = PublishReport {
        version: version.clone(),
        ..Default::default()
    };
    if complete {
        report.skipped = manifest.files.len();
    } else {
        // What is there already, in one listing rather than a request per
        // file (a release has ~60k files).
        let mut existing = std::collections::HashSet::new();
        let mut listing = store.list(Some(&base));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| store_err("the version's listing", e))?;
            existing.insert(meta.location.to_string());
        }
        drop(listing);
        let existing = &existing;
        // The first failure stops the publish (a dead bucket fails every
        // file); a rerun resumes.
        let results: Vec<bool> = futures_util::stream::iter(manifest.files.iter())
            .map(|f| {
                let loc =
                    ObjPath::parse(format!("{base}/{}", f.path)).expect("release paths are valid");
                let path = from.join(&f.path);
                let span = span.clone();
                async move {
                    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                    let absent = !existing.contains(loc.as_ref());
                    let r = put_once(store, &loc, &bytes, &f.path, absent).await;
                    span.pb_inc(1);
                    r
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
        for r in results {
            if r {
                report.uploaded += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    // The manifest last: its presence means the version is complete.
    if put_once(store, &mloc, manifest_bytes, "manifest.json", false).await? {
        report.uploaded += 1;
    } else {
        report.skipped += 1;
    }
    Ok(report)
}

/// Points `latest.json` at the version, by a conditional update.
async fn switch_latest(
    store: &dyn ObjectStore,
    prefix: &ObjPath,
    version: &str,
    manifest_bytes: &[u8],
    report: &mut PublishReport,
) -> Result<()> {
    // Then latest.json, by a conditional update.
    let latest = Latest {
        version: version.to_string(),
        path: format!("releases/{version}/"),
        manifest_sha256: sha256_bytes(manifest_bytes),
    };
    let body = serde_json::to_vec_pretty(&latest).map_err(Error::table)?;
    let lloc = prefix.clone().join("latest.json");
    let current = match store.get(&lloc).await {
        Ok(g) => {
            let meta = g.meta.clone();
            let bytes = g.bytes().await.map_err(|e| store_err("latest.json", e))?;
            Some((meta, serde_json::from_slice::<Latest>(&bytes).ok()))
        }
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => return Err(store_err("latest.json", e)),
    };
    if current.as_ref().and_then(|c| c.1.as_ref()) == Some(&latest) {
        info!(version = %version, uploaded = report.uploaded, skipped = report.skipped, "Already published; latest.json unchanged.");
        return Ok(());
    }
    let mode = match &current {
        None => PutMode::Create,
        Some((meta, _)) => PutMode::Update(UpdateVersion {
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
        }),
    };
    let opts = PutOptions {
        mode,
        attributes: attributes("latest.json", false),
        ..Default::default()
    };
    match store
        .put_opts(&lloc, PutPayload::from(body.clone()), opts)
        .await
    {
        Ok(_) => {}
        Err(object_store::Error::NotImplemented { .. })
        | Err(object_store::Error::NotSupported { .. }) => {
            // Stores without conditional writes (a local folder): compare,
            // then replace atomically.
            warn!(
                "The store has no conditional update; replacing latest.json after re-checking it."
            );
            let again = store.get(&lloc).await.ok();
            let unchanged = match (&current, again) {
                (None, None) => true,
                (Some((m, _)), Some(g)) => {
                    g.meta.e_tag == m.e_tag && g.meta.last_modified == m.last_modified
                }
                _ => false,
            };
            if !unchanged {
                return Err(Error::new(ErrorKind::LatestMoved {
                    reason: "latest.json changed during the publish; run it again".into(),
                }));
            }
            store
                .put(&lloc, PutPayload::from(body))
                .await
                .map_err(|e| store_err("latest.json", e))?;
        }
        Err(object_store::Error::Precondition { .. })
        | Err(object_store::Error::AlreadyExists { .. }) => {
            return Err(Error::new(ErrorKind::LatestMoved {
                reason:
                    "latest.json was changed by another publish meanwhile; run this publish again"
                        .into(),
            }))
        }
        Err(e) => return Err(store_err("latest.json", e)),
    }
    report.latest_switched = true;
    info!(version = %version, uploaded = report.uploaded, skipped = report.skipped, "Published; latest.json switched.");
    Ok(())
}
