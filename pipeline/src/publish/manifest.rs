//! The release manifest as `publish` reads it: checked before anything is
//! sent, so a hostile or damaged manifest never turns into a half-uploaded
//! version, a path outside the version's prefix, or a panic.

use crate::error::{Error, ErrorKind, Result};
use crate::release::Manifest;

/// Parses and checks a manifest: a semver version, and relative paths
/// without `..`, empty parts or backslashes. This is the entry point the
/// fuzz target drives.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| Error::unreadable(format!("not a release manifest: {e}")))?;
    check_version(&manifest.version)?;
    for f in &manifest.files {
        check_path(&f.path)?;
    }
    Ok(manifest)
}

fn bad(what: String) -> Error {
    Error::new(ErrorKind::Usage {
        reason: format!("manifest.json: {what}; rebuild the release"),
    })
}

/// `MAJOR.MINOR.PATCH`, digits only.
pub fn check_version(v: &str) -> Result<()> {
    semver(v)
        .map(|_| ())
        .ok_or_else(|| bad(format!("version {v:?} is not MAJOR.MINOR.PATCH")))
}

/// A version's three numbers, for ordering.
pub fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let v = (next()?, next()?, next()?);
    parts.next().is_none().then_some(v)
}

fn check_path(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.contains('\0')
        && p.split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if ok {
        Ok(())
    } else {
        Err(bad(format!("file path {p:?} is not a plain relative path")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(version: &str, path: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": version, "pipeline_version": "x", "catalog": "c",
            "files": [{"path": path, "bytes": 1, "sha256": "00"}],
            "tables": {}, "unavailable": [],
        }))
        .unwrap()
    }

    #[test]
    fn versions_and_paths_are_checked_before_anything_is_sent() {
        assert!(parse_manifest(&manifest("1.2.3", "tables/a.parquet")).is_ok());
        for (v, p) in [
            ("", "a"),
            ("../../escape", "a"),
            ("1.2", "a"),
            ("1.2.3", "../x"),
            ("1.2.3", "/etc/passwd"),
            ("1.2.3", "a//b"),
            ("1.2.3", "a\\b"),
        ] {
            let e = parse_manifest(&manifest(v, p)).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{v} {p}: {e}");
        }
        assert!(parse_manifest(b"{").is_err());
        assert!(semver("2.0.0") > semver("1.10.9"));
    }
}
