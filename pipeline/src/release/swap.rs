//! Putting a finished release in place of the old one.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// Replaces `out` with the finished staging directory. The old release is
/// moved aside first and removed only after the new one is in place, so an
/// interruption leaves either the old or the new release, never a mixture.
/// A non-empty `out` that is not a release (no manifest.json) is refused
/// rather than deleted.
pub fn swap_into_place(staging: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let is_release = out.join("manifest.json").is_file();
        let is_empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_release && !is_empty {
            return Err(Error::new(ErrorKind::OutputRefused {
                path: out.to_path_buf(),
                reason: "exists and is not a release directory (no manifest.json)".into(),
            }));
        }
        let old = staging.with_extension("old");
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
        if let Err(e) = std::fs::rename(staging, out) {
            let _ = std::fs::rename(&old, out);
            return Err(Error::io(out, e));
        }
        let _ = std::fs::remove_dir_all(&old);
    } else {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(staging, out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}
