//! Uploading a version's files: write-once, resumable, and checked.

use std::path::Path;

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use super::store::{attributes, store_err};
use super::PublishReport;
use crate::cache::sha256_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::HashMap;
use crate::release::{FileEntry, Manifest};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Uploaded,
    AlreadyThere,
    /// It differed from the release (changed or deleted in the bucket) and
    /// was put back.
    Repaired,
}

/// How the objects of a version are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A version not yet complete in the bucket: an object with other
    /// content is an error (a published version never changes).
    WriteOnce,
    /// The bucket holds this very version (its manifest is ours): an object
    /// that differs from the release is damage, and is put back.
    Repair,
}

/// An object's bytes, or `None` if it is absent.
pub async fn get(store: &dyn ObjectStore, loc: &ObjPath, rel: &str) -> Result<Option<Vec<u8>>> {
    match store.get(loc).await {
        Ok(g) => Ok(Some(
            g.bytes().await.map_err(|e| store_err(rel, e))?.to_vec(),
        )),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_err(rel, e)),
    }
}

/// Puts `bytes` at `loc` unless identical bytes are there.
///
/// `known` is the object's size from a listing made just before (`Some(None)`
/// when the listing showed it absent), which saves requests on a first
/// publish.
pub async fn put(
    store: &dyn ObjectStore,
    loc: &ObjPath,
    bytes: &[u8],
    rel: &str,
    known: Option<Option<u64>>,
    mode: Mode,
) -> Result<Put> {
    let existing = match known {
        Some(None) => None,
        Some(Some(size)) if size != bytes.len() as u64 => Some(Vec::new()),
        _ => get(store, loc, rel).await?,
    };
    match existing {
        Some(e) if sha256_bytes(&e) == sha256_bytes(bytes) => return Ok(Put::AlreadyThere),
        Some(_) if mode == Mode::WriteOnce => {
            return Err(Error::new(ErrorKind::PublishedDiffers {
                object: loc.to_string(),
            }))
        }
        Some(_) => {
            overwrite(store, loc, bytes, rel).await?;
            return Ok(Put::Repaired);
        }
        None if mode == Mode::Repair => {
            overwrite(store, loc, bytes, rel).await?;
            return Ok(Put::Repaired);
        }
        None => {}
    }
    let opts = PutOptions {
        mode: PutMode::Create,
        attributes: attributes(rel, bytes, true),
        ..Default::default()
    };
    match store
        .put_opts(loc, PutPayload::from(bytes.to_vec()), opts)
        .await
    {
        Ok(_) => Ok(Put::Uploaded),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => {
            // Written meanwhile by another publish: fine if identical.
            Box::pin(put(store, loc, bytes, rel, None, mode)).await
        }
        Err(object_store::Error::NotImplemented { .. })
        | Err(object_store::Error::NotSupported { .. }) => {
            overwrite(store, loc, bytes, rel).await?;
            Ok(Put::Uploaded)
        }
        Err(e) => Err(store_err(rel, e)),
    }
}

async fn overwrite(store: &dyn ObjectStore, loc: &ObjPath, bytes: &[u8], rel: &str) -> Result<()> {
    let opts = PutOptions {
        mode: PutMode::Overwrite,
        attributes: attributes(rel, bytes, true),
        ..Default::default()
    };
    match store
        .put_opts(loc, PutPayload::from(bytes.to_vec()), opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(object_store::Error::NotImplemented { .. })
        | Err(object_store::Error::NotSupported { .. }) => store
            .put(loc, PutPayload::from(bytes.to_vec()))
            .await
            .map(|_| ())
            .map_err(|e| store_err(rel, e)),
        Err(e) => Err(store_err(rel, e)),
    }
}

/// Every object under `base` with its size, in one paged listing.
pub async fn list(store: &dyn ObjectStore, base: &ObjPath) -> Result<HashMap<String, u64>> {
    let mut existing = HashMap::default();
    let mut listing = store.list(Some(base));
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| store_err("the version's listing", e))?;
        existing.insert(meta.location.to_string(), meta.size);
    }
    Ok(existing)
}

/// Puts every file of the manifest under `base`; the first failure stops
/// the publish (a dead bucket fails every file), and a rerun resumes.
pub async fn put_files(
    store: &dyn ObjectStore,
    base: &ObjPath,
    from: &Path,
    files: &[FileEntry],
    mode: Mode,
    concurrency: usize,
    report: &mut PublishReport,
) -> Result<()> {
    let listed = list(store, base).await?;
    let listed = &listed;
    let span = tracing::info_span!("publish");
    span.pb_set_length(files.len() as u64);
    let results: Vec<Put> = futures_util::stream::iter(files.iter())
        .map(|f| {
            let span = span.clone();
            async move {
                let loc = ObjPath::parse(format!("{base}/{}", f.path))
                    .map_err(|e| store_err(&f.path, e.into()))?;
                let path = from.join(&f.path);
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let known = Some(listed.get(loc.as_ref()).copied());
                let r = put(store, &loc, &bytes, &f.path, known, mode).await;
                span.pb_inc(1);
                r
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    for r in results {
        report.count(r);
    }
    Ok(())
}

/// Checks the version's files that readers start from (the data package;
/// the manifest was compared already) by content, and puts back any that
/// differ. Returns how many were checked.
pub async fn check_key_files(
    store: &dyn ObjectStore,
    base: &ObjPath,
    from: &Path,
    manifest: &Manifest,
    report: &mut PublishReport,
) -> Result<usize> {
    let mut checked = 0;
    for f in manifest
        .files
        .iter()
        .filter(|f| f.path == "datapackage.json")
    {
        let loc = base.clone().join(f.path.as_str());
        let path = from.join(&f.path);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        report.count(put(store, &loc, &bytes, &f.path, None, Mode::Repair).await?);
        checked += 1;
    }
    Ok(checked)
}
