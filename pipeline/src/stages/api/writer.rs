//! Writes the API's JSON files, recording each one's bytes and sha256.
//!
//! The API's files are stored gzip-encoded under their `.json` names: the
//! bucket serves them with `Content-Encoding: gzip` (see `publish`), so a
//! browser or HTTP client sees plain JSON, and the release holds 61,000
//! files in a fifth of the bytes (the same titles, reasons and caveats
//! repeat in every file, which deflate stores once per file). A reader of
//! the release directory itself recognises them by gzip's magic bytes
//! ([`crate::gz::is_gzip`]); JSON can never begin with them.

use serde::Serialize;

use crate::cache::sha256_bytes;
use crate::cache::unit_files::Sink;
use crate::error::{Error, Result};
use crate::release::FileEntry;

/// Hands the API's files to the writer thread (see `cache::unit_files`), which
/// creates them in the release and links them into the cache.
pub struct Writer<'a> {
    pub sink: &'a Sink,
    /// Whether JSON is stored gzip-encoded (the API's files) or plain
    /// (`openapi.json`, which tools read from disk).
    pub gzip: bool,
}

impl Writer<'_> {
    /// Creates a directory (relative to the release root).
    pub fn dir(&self, rel: &str) -> Result<()> {
        self.sink.dir(rel)
    }

    /// Writes text (Markdown) at `rel`.
    pub fn write_text(&self, rel: String, text: &str) -> Result<FileEntry> {
        let entry = FileEntry {
            path: rel.clone(),
            bytes: text.len() as u64,
            sha256: sha256_bytes(text.as_bytes()),
        };
        self.sink.put(rel, text.as_bytes().to_vec())?;
        Ok(entry)
    }

    /// Writes `value` as compact JSON at `rel`.
    pub fn write(&self, rel: String, value: &impl Serialize) -> Result<FileEntry> {
        let bytes = serde_json::to_vec(value).map_err(Error::table)?;
        self.write_bytes(rel, bytes)
    }

    /// Writes bytes (JSON assembled by the caller) at `rel`, gzip-encoded
    /// if the writer says so.
    pub fn write_bytes(&self, rel: String, bytes: Vec<u8>) -> Result<FileEntry> {
        let bytes = if self.gzip {
            crate::gz::encode(&bytes)
        } else {
            bytes
        };
        let entry = FileEntry {
            path: rel.clone(),
            bytes: bytes.len() as u64,
            sha256: sha256_bytes(&bytes),
        };
        self.sink.put(rel, bytes)?;
        Ok(entry)
    }
}
