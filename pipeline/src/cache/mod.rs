//! The cache directory: downloaded files by content, stage outputs by key.
//!
//! ```text
//! <cache>/blobs/<sha256>            downloaded files, named by their digest
//! <cache>/quarantine/<sha256>-<name> files that failed their pin; never read
//! <cache>/stages/<key>/...          a stage unit's outputs, named by the hash
//!                                   of engine version + spec + input digests
//! <cache>/hashes.json               digests of local files by (path, size, mtime)
//! ```
//!
//! Content addressing makes a blob's name its own integrity check, and keying
//! stage outputs by everything that determines them makes a rebuild with
//! nothing changed do no stage work at all.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::par::lock;

pub mod unit_files;
mod units;
pub use units::{copy, link_or_copy, unit_key, Unit};

/// The engine's identity in cache keys and manifests: the crate version and
/// a digest of its source (from build.rs), so that cached outputs of any
/// other engine are never reused.
pub fn engine_version() -> String {
    format!(
        "{}+{}",
        env!("CARGO_PKG_VERSION"),
        env!("ENGINE_SOURCE_HASH")
    )
}

/// The default cache directory: the user's cache directory, or `.cache` here.
pub fn default_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("census-pipeline")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    bytes: u64,
    mtime_ns: u128,
    sha256: String,
    /// When the digest was taken. A file modified shortly before then may be
    /// modified again within the file system's timestamp granularity without
    /// its mtime changing ("racy git"), so such a stamp is not trusted.
    #[serde(default)]
    recorded_ns: u128,
}

/// How long after a file's modification its stamp can be trusted.
const RACY_NS: u128 = 2_000_000_000;

/// The file that marks a folder as this tool's cache, by the Cache
/// Directory Tagging convention (backup tools skip such a folder too).
const TAG: &str = "CACHEDIR.TAG";
const SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";

/// Everything a cache folder of this tool holds.
const LAYOUT: [&str; 7] = [
    "blobs",
    "quarantine",
    "stages",
    "tmp",
    "hashes.json",
    ".lock",
    TAG,
];

/// Takes `dir` as the cache, or refuses it: a build empties the cache's
/// `tmp/` and rewrites its `hashes.json`, so a folder that holds anything
/// this tool did not make (`--cache ~` and its `~/tmp`) is never used.
/// A new or empty folder is tagged; so is an untagged cache of an earlier
/// version, recognised by its layout.
fn claim(dir: &Path) -> Result<()> {
    let refuse = |reason: String| {
        Err(Error::new(ErrorKind::CacheRefused {
            path: dir.to_path_buf(),
            reason,
        }))
    };
    // Its folders are the cache's own: one that is a link would have a
    // build empty (tmp/) or write into whatever it points at.
    for sub in ["blobs", "quarantine", "stages", "tmp"] {
        if dir.join(sub).is_symlink() {
            return refuse(format!("has `{sub}` as a symbolic link"));
        }
    }
    let tag = dir.join(TAG);
    match std::fs::read_to_string(&tag) {
        Ok(t) if is_our_tag(&t) => return Ok(()),
        // The signature is every tagging tool's (cargo's target/, ccache):
        // another tool's tag marks another tool's cache.
        Ok(_) => {
            return refuse(format!(
                "is another tool's cache (its {TAG} does not name census-pipeline)"
            ))
        }
        Err(_) => {}
    }
    if let Some(reason) = not_a_cache(dir)? {
        return refuse(reason);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    std::fs::write(&tag, TAG_TEXT).map_err(|e| Error::io(&tag, e))
}

/// The tag this tool writes.
const TAG_TEXT: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by census-pipeline: the folder is its cache.\n\
# For information about cache directory tags, see https://bford.info/cachedir/\n";

fn is_our_tag(text: &str) -> bool {
    text.starts_with(SIGNATURE) && text.contains("created by census-pipeline")
}

/// True if `path` is a download in a cache of this tool (`<cache>/blobs/`,
/// named by a sha256), which the tool may remove when it is damaged.
pub fn is_cached_blob(path: &Path) -> bool {
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let blobs = path
        .parent()
        .filter(|p| p.file_name().is_some_and(|n| n == "blobs"));
    named.len() == 64
        && named
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !path.is_symlink()
        && blobs
            .and_then(Path::parent)
            .and_then(|c| std::fs::read_to_string(c.join(TAG)).ok())
            .is_some_and(|t| is_our_tag(&t))
}

/// Why an untagged `dir` is not a cache of this tool, if it is not.
fn not_a_cache(dir: &Path) -> Result<Option<String>> {
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(dir, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    if let Some(other) = names.iter().find(|n| !LAYOUT.contains(&n.as_str())) {
        return Ok(Some(format!(
            "holds `{other}`, which this tool did not make"
        )));
    }
    let has = |n: &str| names.iter().any(|x| x == n);
    let tmp_used = std::fs::read_dir(dir.join("tmp")).is_ok_and(|mut d| d.next().is_some());
    // A cache that has built holds its digests beside its tmp/.
    if tmp_used && !(has("hashes.json") && (has("blobs") || has("stages"))) {
        return Ok(Some(
            "holds a `tmp` folder with files in it, and no cache beside it".into(),
        ));
    }
    let hashes = dir.join("hashes.json");
    let ours = |b: Vec<u8>| serde_json::from_slice::<BTreeMap<String, Stamp>>(&b).is_ok();
    if has("hashes.json") && !std::fs::read(&hashes).is_ok_and(ours) {
        return Ok(Some("holds a `hashes.json` this tool did not write".into()));
    }
    Ok(None)
}

/// Every file (and link, never followed) under `dir`, with its path from
/// `dir` joined by `/`: the release's manifest, its check for files it
/// does not list, and a cached unit's stamps all list files so. The
/// entry's own type comes from the directory listing: no `stat` for each
/// of 62,000 files.
pub fn files_under(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let e = e.map_err(|e| Error::io(&d, e))?;
            let p = e.path();
            if e.file_type().map_err(|err| Error::io(&p, err))?.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy();
                let rel = rel.replace('\\', "/");
                out.push((p, rel));
            }
        }
    }
    Ok(out)
}

/// A cache directory.
#[derive(Debug)]
pub struct Cache {
    pub dir: PathBuf,
    stamps: Mutex<BTreeMap<String, Stamp>>,
    dirty: Mutex<bool>,
}

impl Cache {
    pub fn open(dir: &Path) -> Result<Cache> {
        claim(dir)?;
        for sub in ["blobs", "quarantine", "stages", "tmp"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        let stamps = std::fs::read(dir.join("hashes.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Cache {
            dir: dir.to_path_buf(),
            stamps: Mutex::new(stamps),
            dirty: Mutex::new(false),
        })
    }

    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }

    pub fn has_blob(&self, sha256: &str) -> bool {
        self.blob_path(sha256).is_file()
    }

    pub fn quarantine_path(&self, sha256: &str, name: &str) -> PathBuf {
        self.dir.join("quarantine").join(format!("{sha256}-{name}"))
    }

    /// Removes everything under `tmp/`: with the cache's lock held, it can
    /// only be what a killed build left (partial downloads, unfinished units).
    pub fn clean_tmp(&self) -> Result<()> {
        let tmp = self.tmp_dir();
        // Never through a link (`open` refuses one; it may appear since).
        if tmp.is_symlink() {
            return Ok(());
        }
        let Ok(entries) = std::fs::read_dir(&tmp) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let p = e.path();
            let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    pub fn stage_dir(&self, key: &str) -> PathBuf {
        self.dir.join("stages").join(key)
    }

    /// The sha256 of a local file, reusing the digest recorded for the same
    /// path, size and modification time (as git's index does), so that a
    /// no-op rebuild does not re-read every input.
    pub fn file_sha256(&self, path: &Path) -> Result<String> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let key = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned();
        if let Some(s) = lock(&self.stamps).get(&key) {
            if s.bytes == meta.len() && s.mtime_ns == mtime_ns && s.recorded_ns > mtime_ns + RACY_NS
            {
                return Ok(s.sha256.clone());
            }
        }
        let recorded_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let sha256 = sha256_file(path)?;
        lock(&self.stamps).insert(
            key,
            Stamp {
                bytes: meta.len(),
                mtime_ns,
                sha256: sha256.clone(),
                recorded_ns,
            },
        );
        *lock(&self.dirty) = true;
        Ok(sha256)
    }

    /// Saves the digest stamps (atomically; a lost update only costs a re-hash).
    pub fn save(&self) -> Result<()> {
        if !*lock(&self.dirty) {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&*lock(&self.stamps)).map_err(Error::table)?;
        write_atomic(&self.dir.join("hashes.json"), &json, &self.tmp_dir())
    }
}

/// The sha256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes a file so that readers see either the old or the new content,
/// never a half-written one: write to a temporary file, sync, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8], tmp_dir: &Path) -> Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(tmp_dir).map_err(|e| Error::io(tmp_dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(tmp_dir).map_err(|e| Error::io(tmp_dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::new(ErrorKind::Io(e.error)).file(path))?;
    Ok(())
}

/// An exclusive lock held for the life of the value (released on drop, and
/// by the OS if the process dies). A second build on the same output or cache
/// waits for the first instead of interleaving writes with it.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    pub fn acquire(path: &Path, wait: bool) -> Result<DirLock> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => return Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        if !wait {
            return Err(Error::new(ErrorKind::Locked {
                path: path.to_path_buf(),
            }));
        }
        tracing::warn!(lock = %path.display(), "Another build holds the lock; waiting for it to finish.");
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(DirLock { _file: file })
    }
}
