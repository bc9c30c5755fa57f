//! Publishing a release to a static bucket (S3-compatible, local folder, or
//! any store object_store supports).
//!
//! ```text
//! <prefix>/releases/<version>/...   write-once: every file of the release
//! <prefix>/latest.json              switched last, by a conditional update
//! ```
//!
//! The manifest is checked before anything is sent (a semver version,
//! plain relative paths, every file matching its digest). Objects already
//! present with the same content are skipped, so an interrupted publish
//! resumes and a repeated one uploads nothing. An object present with
//! *different* content is an error while the version is incomplete (a
//! version, once published, never changes); once the bucket holds this very
//! version, an object that differs is damage and is put back: always for
//! the version's manifest, data package and `latest.json`, and for every
//! object with `--verify`. The manifest is uploaded after every other file
//! and `latest.json` only after that, so a reader following `latest.json`
//! never finds a half-published release; `latest.json` never moves back to
//! an older version unless `--allow-downgrade` is given.

mod latest;
mod manifest;
mod store;
mod upload;

use std::path::{Path, PathBuf};

use object_store::ObjectStore;
use tracing::info;

use crate::cache::sha256_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::{HashMap, HashSet};
use crate::release::Manifest;

pub use latest::Latest;
pub use manifest::{parse_manifest, semver};
pub use store::{open_store, redact};
use upload::{Mode, Put};

/// How to publish.
#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    /// Uploads at once.
    pub concurrency: usize,
    /// Read back every object of the version and put back any that differs.
    pub verify: bool,
    /// Let `latest.json` move to an older version.
    pub allow_downgrade: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            concurrency: 32,
            verify: false,
            allow_downgrade: false,
        }
    }
}

/// What a publish did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub version: String,
    pub uploaded: usize,
    pub skipped: usize,
    /// Objects that differed from the release (changed or deleted in the
    /// bucket) and were put back.
    pub repaired: usize,
    pub latest_switched: bool,
}

impl PublishReport {
    fn count(&mut self, p: Put) {
        match p {
            Put::Uploaded => self.uploaded += 1,
            Put::AlreadyThere => self.skipped += 1,
            Put::Repaired => self.repaired += 1,
        }
    }
}

/// Publishes the release in `from` to `to`.
pub async fn publish(from: &Path, to: &str, opts: PublishOptions) -> Result<PublishReport> {
    let (manifest, manifest_bytes) = read_release(from)?;
    check_outside(from, to)?;
    let (store, prefix) = open_store(to)?;
    let store: &dyn ObjectStore = store.as_ref();
    let version = manifest.version.clone();
    let lloc = prefix.clone().join("latest.json");
    let current = latest::current(store, &lloc).await?;
    latest::check_not_older(current.as_ref(), &version, opts.allow_downgrade)?;
    let vouched = current
        .as_ref()
        .and_then(|c| c.latest.as_ref())
        .is_some_and(|l| {
            l.version == version && l.manifest_sha256 == sha256_bytes(&manifest_bytes)
        });
    let mut report = upload_version(
        store,
        &prefix,
        from,
        &manifest,
        &manifest_bytes,
        opts,
        vouched,
    )
    .await?;
    let target = Latest {
        version: version.clone(),
        path: format!("releases/{version}/"),
        manifest_sha256: sha256_bytes(&manifest_bytes),
    };
    report.latest_switched = latest::switch(store, &lloc, current, &target).await?;
    info!(version = %version, uploaded = report.uploaded, skipped = report.skipped, repaired = report.repaired, latest_switched = report.latest_switched, "Published.");
    Ok(report)
}

/// Refuses a `file://` destination inside the release itself: the bucket's
/// `releases/` and `latest.json` would be written into the release.
fn check_outside(from: &Path, to: &str) -> Result<()> {
    let Some(dir) = url::Url::parse(to)
        .ok()
        .filter(|u| u.scheme() == "file")
        .and_then(|u| u.to_file_path().ok())
    else {
        return Ok(());
    };
    // The destination need not exist yet: its nearest existing folder decides.
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return Ok(());
    };
    let (Ok(from), Ok(existing)) = (from.canonicalize(), existing.canonicalize()) else {
        return Ok(());
    };
    if existing.starts_with(&from) {
        return Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "--to {} is inside the release being published ({}): the bucket would be written into the release. Choose a folder outside it",
                dir.display(),
                from.display()
            ),
        }));
    }
    Ok(())
}

/// The release's manifest, checked, and checked against every file before
/// anything is sent.
fn read_release(from: &Path) -> Result<(Manifest, Vec<u8>)> {
    let manifest_path = from.join("manifest.json");
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let manifest = parse_manifest(&manifest_bytes).map_err(|e| e.file(&manifest_path))?;
    check_complete(from, &manifest)?;
    for f in &manifest.files {
        let p = from.join(&f.path);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        if sha256_bytes(&bytes) != f.sha256 {
            return Err(Error::new(ErrorKind::ReleaseModified { path: p }));
        }
    }
    Ok((manifest, manifest_bytes))
}

/// Refuses a release whose manifest lists less than the folder holds (an
/// edited manifest would publish part of a release as the whole), or whose
/// summary, tables or data package disagree with it.
fn check_complete(from: &Path, m: &Manifest) -> Result<()> {
    let inconsistent = |path: PathBuf, reason: String| {
        Err(Error::new(ErrorKind::ReleaseInconsistent { path, reason }))
    };
    let manifest = from.join("manifest.json");
    let listed: HashSet<String> = m.files.iter().map(|f| f.path.clone()).collect();
    let unlisted = crate::release::unlisted_files(from, &listed)?;
    if let Some(first) = unlisted.first() {
        let reason = format!(
            "lists {} files, but the folder holds {} more (`{first}` first)",
            m.files.len(),
            unlisted.len()
        );
        return inconsistent(manifest, reason);
    }
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    if (m.summary.files, m.summary.bytes, m.summary.tables)
        != (m.files.len(), bytes, m.tables.len())
    {
        let reason = format!(
            "its summary says {} files, {} bytes and {} tables, but it lists {} files of {bytes} bytes and {} tables",
            m.summary.files, m.summary.bytes, m.summary.tables, m.files.len(), m.tables.len()
        );
        return inconsistent(manifest, reason);
    }
    let digests: HashMap<&str, &str> = m
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    for (name, t) in &m.tables {
        if !digests.contains_key(t.path.as_str()) {
            let reason = format!(
                "table `{name}` is `{}`, which its file list does not have",
                t.path
            );
            return inconsistent(manifest, reason);
        }
        for f in t.file.iter().chain(&t.csv) {
            if digests.get(f.path.as_str()) != Some(&f.sha256.as_str()) {
                let reason = format!(
                    "table `{name}` names `{}` with a digest its file list does not have",
                    f.path
                );
                return inconsistent(manifest, reason);
            }
        }
    }
    check_package(from, m, &digests)
}

/// The data package agrees with the manifest: the same version, and every
/// file it describes in the manifest's list (a table dropped from the
/// manifest alone would be published missing).
fn check_package(from: &Path, m: &Manifest, digests: &HashMap<&str, &str>) -> Result<()> {
    let inconsistent = |path: PathBuf, reason: String| {
        Err(Error::new(ErrorKind::ReleaseInconsistent { path, reason }))
    };
    let package = from.join("datapackage.json");
    let pkg = std::fs::read(&package)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .unwrap_or_default();
    let version = pkg["version"].as_str().unwrap_or_default();
    if version != m.version {
        let reason = format!(
            "is version {version:?}, but manifest.json says {}",
            m.version
        );
        return inconsistent(package, reason);
    }
    let resources = pkg["resources"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for path in resources.iter().filter_map(|r| r["path"].as_str()) {
        if !digests.contains_key(path) {
            let reason = format!("describes `{path}`, which manifest.json does not list");
            return inconsistent(package, reason);
        }
    }
    Ok(())
}

/// Uploads the version's files, then its manifest; or, when the bucket
/// already holds this version, checks it (every object with `--verify`)
/// and puts back what differs. `vouched`: `latest.json` records this very
/// manifest for the version, so a manifest in the bucket that differs is
/// damage that `--verify` may repair; otherwise it is another release.
async fn upload_version(
    store: &dyn ObjectStore,
    prefix: &object_store::path::Path,
    from: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    opts: PublishOptions,
    vouched: bool,
) -> Result<PublishReport> {
    let base = prefix
        .clone()
        .join("releases")
        .join(manifest.version.as_str());
    let mloc = base.clone().join("manifest.json");
    let mut report = PublishReport {
        version: manifest.version.clone(),
        ..Default::default()
    };
    let remote = upload::get(store, &mloc, "manifest.json").await?;
    let mode = match &remote {
        // A version in the bucket with another manifest is another
        // release, never rewritten; unless latest.json vouches for this
        // one, and --verify asks to restore the bucket to it.
        Some(m) if m.as_slice() != manifest_bytes && !(opts.verify && vouched) => {
            return Err(Error::new(ErrorKind::PublishedDiffers {
                object: mloc.to_string(),
            }))
        }
        _ if opts.verify => Mode::Repair,
        Some(_) => Mode::Repair,
        None => Mode::WriteOnce,
    };
    if mode == Mode::Repair && !opts.verify {
        let checked = upload::check_key_files(store, &base, from, manifest, &mut report).await?;
        report.skipped += manifest.files.len() + 1 - checked;
        return Ok(report);
    }
    upload::put_files(
        store,
        &base,
        from,
        &manifest.files,
        mode,
        opts.concurrency,
        &mut report,
    )
    .await?;
    // The manifest last: its presence means the version is complete.
    let put = upload::put(store, &mloc, manifest_bytes, "manifest.json", None, mode).await?;
    report.count(put);
    Ok(report)
}
