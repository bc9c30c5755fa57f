//! Writes the API's JSON files, recording each one's bytes and sha256.
//!
//! The API's files are stored gzip-encoded under their `.json` names: the
//! bucket serves them with `Content-Encoding: gzip` (see `publish`), so a
//! browser or HTTP client sees plain JSON, and the release holds 61,000
//! files in a fifth of the bytes (the same titles, reasons and caveats
//! repeat in every file, which deflate stores once per file). A reader of
//! the release directory itself recognises them by gzip's magic bytes
//! ([`crate::gz::is_gzip`]); JSON can never begin with them.

use std::path::Path;

use serde_json::Value;

use crate::cache::sha256_bytes;
use crate::error::{Error, Result};
use crate::release::FileEntry;

/// Writes files under a root (a unit's work directory).
pub struct Writer<'a> {
    pub root: &'a Path,
    /// Whether JSON is stored gzip-encoded (the API's files) or plain
    /// (`openapi.json`, which tools read from disk).
    pub gzip: bool,
}

impl Writer<'_> {
    /// Creates a directory (relative to the root).
    pub fn dir(&self, rel: &str) -> Result<()> {
        let d = self.root.join(rel);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))
    }

    /// Writes text (Markdown) at `rel`.
    pub fn write_text(&self, rel: String, text: &str) -> Result<FileEntry> {
        let path = self.root.join(&rel);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok(FileEntry {
            path: rel,
            bytes: text.len() as u64,
            sha256: sha256_bytes(text.as_bytes()),
        })
    }

    /// Writes `value` as compact JSON at `rel`.
    pub fn write(&self, rel: String, value: &Value) -> Result<FileEntry> {
        let bytes = serde_json::to_vec(value).map_err(Error::table)?;
        self.write_bytes(rel, &bytes)
    }

    /// Writes bytes (JSON assembled by the caller) at `rel`, gzip-encoded
    /// if the writer says so.
    pub fn write_bytes(&self, rel: String, bytes: &[u8]) -> Result<FileEntry> {
        let path = self.root.join(&rel);
        let encoded;
        let bytes = if self.gzip {
            encoded = crate::gz::encode(bytes);
            &encoded
        } else {
            bytes
        };
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        Ok(FileEntry {
            path: rel,
            bytes: bytes.len() as u64,
            sha256: sha256_bytes(bytes),
        })
    }
}
