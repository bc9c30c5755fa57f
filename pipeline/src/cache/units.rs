//! The unit cache: one protocol for every kind's cached work.
//!
//! A unit of stage work (one dataset loaded, one derived stage, the static
//! API) is keyed by the hash of everything that determines its output: the
//! engine's identity, the spec, and the digests of its inputs. Its files and
//! a `meta.json` describing them live in `stages/<key>/`. A unit is built in
//! a fresh directory under `tmp/` and renamed to its key only when complete,
//! so a crash never leaves a half-written entry under a valid key, and two
//! builds racing for one key both end up with identical content.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{engine_version, sha256_bytes, write_atomic, Cache};
use crate::error::{Error, Result};

/// A unit's cache key: the hash of the engine, and of what the caller says
/// determines the output.
pub fn unit_key(determinants: &serde_json::Value) -> String {
    let mut all = serde_json::json!({ "engine": engine_version() });
    all["unit"] = determinants.clone();
    sha256_bytes(all.to_string().as_bytes())
}

/// A unit taken from the cache or just built.
#[derive(Debug)]
pub struct Unit<M> {
    /// What the unit's `meta.json` says.
    pub meta: M,
    /// The directory holding the unit's files.
    pub dir: PathBuf,
    /// True if the unit was built by this call.
    pub computed: bool,
}

impl Cache {
    /// Returns the unit cached under `key`, or builds it: `build` writes its
    /// files into the directory it is given and returns the meta.
    pub fn get_or_build<M: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        build: impl FnOnce(&Path) -> Result<M>,
    ) -> Result<Unit<M>> {
        let dir = self.stage_dir(key);
        if let Some(meta) = read_meta(&dir) {
            if intact(&dir) {
                return Ok(Unit {
                    meta,
                    dir,
                    computed: false,
                });
            }
            // A file changed since the unit was made (a release's hard
            // link edited in place): the unit is made again, not reused.
            tracing::warn!(unit = %dir.display(), "A cached unit's files changed since it was made: building it again.");
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let tmp = self.tmp_dir();
        let work = tempfile::tempdir_in(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let meta = build(work.path())?;
        let stamps = serde_json::to_vec(&stamps_of(work.path())?).map_err(Error::table)?;
        write_atomic(&work.path().join(STAMPS), &stamps, work.path())?;
        write_atomic(
            &work.path().join("meta.json"),
            &serde_json::to_vec(&meta).map_err(Error::table)?,
            work.path(),
        )?;
        let work = work.keep();
        if std::fs::rename(&work, &dir).is_err() {
            if read_meta::<M>(&dir).is_none() {
                // A directory under the key without its meta (a build
                // killed while removing it) is no entry: replace it.
                let _ = std::fs::remove_dir_all(&dir);
                if std::fs::rename(&work, &dir).is_ok() {
                    return Ok(Unit {
                        meta,
                        dir,
                        computed: true,
                    });
                }
            }
            // Another build cached the same key first; its files are
            // identical to ours (the key determines them).
            let _ = std::fs::remove_dir_all(&work);
        }
        Ok(Unit {
            meta,
            dir,
            computed: true,
        })
    }
}

/// Each file of a unit, with its size and modification time, as made.
/// A release's files are hard links to its units' files, so editing one
/// in place edits the unit: [`intact`] finds that by the stamps.
const STAMPS: &str = "files.json";

/// (path within the unit, bytes, modification time in ns) of every file.
type Stamps = Vec<(String, u64, u128)>;

fn stamps_of(dir: &Path) -> Result<Stamps> {
    let mut out = Vec::new();
    for (path, rel) in super::files_under(dir)? {
        if rel != "meta.json" && rel != STAMPS {
            let m = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            out.push((rel, m.len(), mtime_ns(&m)));
        }
    }
    out.sort();
    Ok(out)
}

fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// True if every file the unit was made with is there, unchanged in size
/// and modification time (one `stat` each: no file is read).
fn intact(dir: &Path) -> bool {
    let Some(stamps) = std::fs::read(dir.join(STAMPS))
        .ok()
        .and_then(|b| serde_json::from_slice::<Stamps>(&b).ok())
    else {
        return false;
    };
    stamps.iter().all(|(rel, bytes, mtime)| {
        std::fs::metadata(dir.join(rel)).is_ok_and(|m| m.len() == *bytes && mtime_ns(&m) == *mtime)
    })
}

fn read_meta<M: DeserializeOwned>(dir: &Path) -> Option<M> {
    let bytes = std::fs::read(dir.join("meta.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Puts a cached file into the release: a hard link where the file system
/// allows it, else a copy.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| Error::io(from, e))?;
    }
    Ok(())
}

/// Copies a cached file into the release.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(|e| Error::io(from, e))?;
    Ok(())
}
