//! A rebuild of the release already in place does no work at all.
//!
//! A release is a pure function of the engine (its source, the page's
//! files and `Cargo.lock`), the catalog, the stage specs, the sources'
//! bytes, the reading limits, a fixed build time and the previous release
//! (cached tables keep the build time of the run that computed them, so a
//! rebuild is byte-identical). The build's key is the hash of all of them;
//! a release records it in [`KEY_FILE`], beside its marker and outside its
//! manifest. When `--out` holds the key of the build asked for, the build
//! returns without writing, linking or hashing a single file of it: linking
//! 61,000 cached API files into a new staging directory and deleting the
//! old ones took 1-2 s for a release that was already there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cache::{engine_version, sha256_file, unit_key, Cache};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::read::Limits;
use crate::release::{is_release, Manifest};

/// The file holding a release's build key (not listed in its manifest,
/// never published).
pub const KEY_FILE: &str = crate::release::BUILD_KEY;

/// The hash of everything a release is made from.
pub fn key(
    catalog: &Catalog,
    plan: &Plan,
    cache: &Cache,
    sources: &BTreeMap<String, PathBuf>,
    previous: Option<&Path>,
    limits: &Limits,
) -> Result<String> {
    let mut inputs = BTreeMap::new();
    for (id, path) in sources {
        let src = &catalog.sources[id];
        inputs.insert(
            id.as_str(),
            crate::stages::load::input_digest(cache, src, path)?,
        );
    }
    let stages: BTreeMap<&str, _> = plan
        .stages
        .iter()
        .map(|(name, s)| (name.as_str(), &s.spec.kind))
        .collect();
    let previous = match previous {
        Some(p) => Some([
            sha256_file(&p.join("datapackage.json"))?,
            sha256_file(&p.join("manifest.json")).unwrap_or_default(),
        ]),
        None => None,
    };
    Ok(unit_key(&serde_json::json!({
        "engine": engine_version(),
        "catalog": catalog.fingerprint,
        "data_dir": catalog.data_dir,
        "stages": stages,
        "inputs": inputs,
        "previous": previous,
        "limits": limits,
        "build_time": crate::release::fixed_epoch(),
    })))
}

/// The manifest of the release at `out` if it was built with `key` and
/// every file its manifest lists is there with its size. A file deleted,
/// truncated or replaced by one of another size (a damaged or half-copied
/// release) makes the build run: 62,000 `stat` calls cost about 0.1 s, and
/// hashing every file would cost what the rebuild saves. A file edited in
/// place to the same size is caught by `publish --verify`, not here.
pub fn in_place(out: &Path, key: &str) -> Option<Manifest> {
    if !is_release(out) || std::fs::read_to_string(out.join(KEY_FILE)).ok()? != key {
        return None;
    }
    let bytes = std::fs::read(out.join("manifest.json")).ok()?;
    let manifest: Manifest = serde_json::from_slice(&bytes).ok()?;
    let damaged = manifest
        .files
        .iter()
        .find(|f| std::fs::metadata(out.join(&f.path)).map_or(true, |m| m.len() != f.bytes));
    if let Some(f) = damaged {
        tracing::warn!(file = %f.path, "The release in place was built from the same inputs but differs from its manifest; building it again.");
        return None;
    }
    Some(manifest)
}

/// Records the build's key in the release being staged.
pub fn record(staging: &Path, key: &str) -> Result<()> {
    let p = staging.join(KEY_FILE);
    std::fs::write(&p, key).map_err(|e| Error::io(&p, e))
}
