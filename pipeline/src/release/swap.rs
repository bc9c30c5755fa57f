//! Putting a finished release in place of the old one, and never touching
//! anything else.
//!
//! A release directory carries a marker file only this tool writes
//! ([`MARKER`]). `--out` is replaced only when it is absent, empty, or
//! holds that marker; anything else (a web app's folder, a home folder that
//! happens to hold a `manifest.json`, `/`) is refused before any work
//! starts. The swap is one atomic exchange of the two directories
//! (`renameat2(RENAME_EXCHANGE)` on Linux), so `--out` is never missing;
//! where the file system cannot exchange, two renames are used, and a later
//! run restores a release left aside by an interrupted swap.

use std::path::{Path, PathBuf};

use super::Manifest;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::HashSet;

/// The marker file's name, at the root of every release.
pub const MARKER: &str = ".census-release";

/// The marker's text: the tool and the release format version.
const MARKER_TEXT: &str = "census-pipeline release, format 1\n\
This directory was written by census-pipeline and is replaced as a whole by its next build.\n";

/// Writes the marker into a directory this tool made.
pub fn write_marker(dir: &Path) -> Result<()> {
    let p = dir.join(MARKER);
    std::fs::write(&p, MARKER_TEXT).map_err(|e| Error::io(&p, e))
}

/// True if `dir` holds this tool's marker.
pub fn is_release(dir: &Path) -> bool {
    std::fs::read(dir.join(MARKER))
        .map(|b| b.starts_with(b"census-pipeline release"))
        .unwrap_or(false)
}

fn refuse(out: &Path, reason: &str) -> Error {
    Error::new(ErrorKind::OutputRefused {
        path: out.to_path_buf(),
        reason: reason.to_string(),
    })
}

/// Refuses an `--out` this tool may not replace: anything but an absent
/// path, an empty directory, or a release.
pub fn check_out(out: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(out, "is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse(out, "exists and is not a directory"));
    }
    if is_mount_point(out, &meta) {
        return Err(refuse(
            out,
            "is a mount point: a build puts its release in place by renaming, which a mount point cannot take; use a folder inside it",
        ));
    }
    if is_release(out) {
        return Ok(());
    }
    let empty = std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    let why = if out.join("manifest.json").exists() {
        format!(
            "holds a manifest.json but no `{MARKER}` marker: it is someone else's folder, or a release written by a census-pipeline older than the marker \
             (delete that yourself if so); this tool only replaces directories it marked"
        )
    } else {
        format!("exists, is not empty and holds no `{MARKER}` marker, so it is not a release this tool wrote")
    };
    Err(refuse(out, &why))
}

/// True if `dir` is on another file system than its parent (a mounted
/// volume), so that it cannot be renamed or exchanged.
#[cfg(unix)]
fn is_mount_point(dir: &Path, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = match dir.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return false,
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != meta.dev())
}

#[cfg(not(unix))]
fn is_mount_point(_: &Path, _: &std::fs::Metadata) -> bool {
    false
}

/// `.<name><suffix>` beside `out` (staging and left-over directories).
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}{suffix}"))
}

/// Tidies what an interrupted build left beside `out` (call with the
/// output lock held): a release set aside by an interrupted swap is put
/// back if `out` is missing, else removed; staging directories of dead
/// builds are removed. Only directories holding the marker are touched.
/// Returns what was done, for the log.
pub fn recover(out: &Path) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let old = sibling(out, ".old");
    if old.is_dir() && is_release(&old) {
        if !out.exists() {
            std::fs::rename(&old, out).map_err(|e| Error::io(&old, e))?;
            done.push(format!("restored {} from {}", out.display(), old.display()));
        } else {
            // As after a swap: files someone put in it are kept, with it.
            remove_replaced_checked(&old, out)?;
            done.push(format!("tidied {}", old.display()));
        }
    }
    let prefix = sibling(out, ".partial-");
    let (Some(parent), Some(stem)) = (prefix.parent(), prefix.file_name()) else {
        return Ok(done);
    };
    let stem = stem.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(done);
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&stem) && p.is_dir() && is_release(&p) {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
            done.push(format!("removed {}", p.display()));
        }
    }
    Ok(done)
}

/// The file holding a release's build key (not listed in its manifest,
/// never published).
pub const BUILD_KEY: &str = ".census-build";

/// Replaces `out` with the finished staging directory (which holds the
/// marker). With an existing `out`, the two are exchanged atomically, then
/// the old release (now at the staging path) is removed: only if every
/// file in it is one its manifest lists, so that nothing copied into a
/// release folder (a web app beside the files) is deleted with it.
pub fn swap_into_place(staging: &Path, out: &Path) -> Result<()> {
    check_out(out)?;
    check_replaceable(out)?;
    if !out.exists() {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        return std::fs::rename(staging, out).map_err(|e| Error::io(out, e));
    }
    match exchange(staging, out) {
        Ok(()) => remove_replaced_checked(staging, out),
        Err(_) => swap_by_renames(staging, out),
    }
}

/// Refuses a release in place that holds files its manifest does not list
/// (anything else `check_out` has already judged).
pub fn check_replaceable(out: &Path) -> Result<()> {
    match is_release(out) {
        true => check_only_listed(out),
        false => Ok(()),
    }
}

fn check_only_listed(out: &Path) -> Result<()> {
    let Some(foreign) = foreign_files(out)? else {
        return Err(refuse(
            out,
            "holds no readable manifest.json, so which of its files this tool wrote cannot be told",
        ));
    };
    if foreign.is_empty() {
        return Ok(());
    }
    Err(refuse(
        out,
        &format!(
            "holds {} file(s) its release manifest does not list ({}): replacing the release would delete them, and they are not this tool's. Move them out first",
            foreign.len(),
            foreign.iter().take(5).map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// The files in the release `dir` that its manifest does not list, or
/// `None` when it has no readable manifest.
fn foreign_files(dir: &Path) -> Result<Option<Vec<String>>> {
    let listed: Option<HashSet<String>> = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .map(|m| m.files.into_iter().map(|f| f.path).collect());
    listed.map(|l| unlisted_files(dir, &l)).transpose()
}

/// Removes the release just replaced (at `old`), unless files appeared in
/// it during the build (after [`check_only_listed`]): those are kept, in a
/// folder beside `out` that no build removes, and the log says where.
fn remove_replaced_checked(old: &Path, out: &Path) -> Result<()> {
    let appeared = match is_release(old) {
        true => foreign_files(old)?.unwrap_or_default(),
        false => Vec::new(),
    };
    if appeared.is_empty() {
        return remove_replaced(old);
    }
    let kept = sibling(out, &format!(".kept-{}", std::process::id()));
    std::fs::rename(old, &kept).map_err(|e| Error::io(old, e))?;
    tracing::warn!(kept = %kept.display(), files = appeared.len(), first = %appeared[0], "Files were added to the release folder during the build: the replaced release is kept with them.");
    Ok(())
}

/// The files (and links) under the release `dir` that are neither in
/// `listed` (its manifest's paths) nor the manifest and build key
/// themselves, sorted.
pub fn unlisted_files(dir: &Path, listed: &HashSet<String>) -> Result<Vec<String>> {
    let mut found: Vec<String> = crate::cache::files_under(dir)?
        .into_iter()
        .map(|(_, rel)| rel)
        .filter(|f| !listed.contains(f) && f != "manifest.json" && f != BUILD_KEY)
        .collect();
    found.sort();
    Ok(found)
}

/// Removes what was `out` before the swap: a release, or an empty directory.
fn remove_replaced(dir: &Path) -> Result<()> {
    if is_release(dir) {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))
    } else {
        std::fs::remove_dir(dir).map_err(|e| Error::io(dir, e))
    }
}

/// The fallback where directories cannot be exchanged: the old release is
/// set aside, the new one renamed in, the old one removed. A crash between
/// the renames leaves `.<name>.old`, which [`recover`] puts back.
fn swap_by_renames(staging: &Path, out: &Path) -> Result<()> {
    let old = sibling(out, ".old");
    if old.exists() {
        remove_replaced(&old)?;
    }
    std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
    if let Err(e) = std::fs::rename(staging, out) {
        let _ = std::fs::rename(&old, out);
        return Err(Error::io(out, e));
    }
    remove_replaced_checked(&old, out)
}

/// Exchanges two paths atomically.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the working
    // directory; renameat2 reads them and touches no other memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_a_manifest_but_no_marker_is_refused_and_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("site");
        std::fs::create_dir_all(out.join(".ssh")).unwrap();
        std::fs::write(out.join("manifest.json"), "{}").unwrap();
        let err = check_out(&out).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::OutputRefused { .. }), "{err}");
        let staging = d.path().join("new");
        std::fs::create_dir(&staging).unwrap();
        write_marker(&staging).unwrap();
        assert!(swap_into_place(&staging, &out).is_err());
        assert!(out.join(".ssh").is_dir() && out.join("manifest.json").is_file());
    }

    #[test]
    fn a_release_is_exchanged_and_the_old_one_removed() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("rel");
        for (dir, file) in [(&out, "old.txt"), (&d.path().join("new"), "new.txt")] {
            std::fs::create_dir_all(dir).unwrap();
            write_marker(dir).unwrap();
            std::fs::write(dir.join(file), "x").unwrap();
            listing(dir, &[MARKER, file]);
        }
        swap_into_place(&d.path().join("new"), &out).unwrap();
        assert!(out.join("new.txt").is_file() && !out.join("old.txt").exists());
        assert!(!d.path().join("new").exists());
    }

    /// A manifest listing `files` in `dir`.
    fn listing(dir: &Path, files: &[&str]) {
        let m = Manifest {
            files: files
                .iter()
                .map(|f| super::super::FileEntry {
                    path: f.to_string(),
                    bytes: 0,
                    sha256: String::new(),
                })
                .collect(),
            ..Default::default()
        };
        std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    }

    #[test]
    fn a_release_holding_files_it_does_not_list_is_not_replaced() {
        let d = tempfile::tempdir().unwrap();
        let (out, new) = (d.path().join("rel"), d.path().join("new"));
        for dir in [&out, &new] {
            std::fs::create_dir_all(dir).unwrap();
            write_marker(dir).unwrap();
            listing(dir, &[MARKER]);
        }
        std::fs::create_dir_all(out.join("app")).unwrap();
        std::fs::write(out.join("app/index.php"), "<?php").unwrap();
        let err = swap_into_place(&new, &out).unwrap_err().to_string();
        assert!(err.contains("(`app/index.php`)"), "{err}");
        assert!(out.join("app/index.php").is_file() && new.is_dir());
    }

    #[test]
    fn files_added_to_a_release_during_the_swap_are_kept_beside_it() {
        let d = tempfile::tempdir().unwrap();
        let (out, old) = (d.path().join("rel"), d.path().join("replaced"));
        std::fs::create_dir_all(&old).unwrap();
        write_marker(&old).unwrap();
        listing(&old, &[MARKER]);
        std::fs::write(old.join("late.txt"), "written while the build ran").unwrap();
        remove_replaced_checked(&old, &out).unwrap();
        let kept = sibling(&out, &format!(".kept-{}", std::process::id()));
        assert!(kept.join("late.txt").is_file() && !old.exists());
        // Without such a file the replaced release is removed.
        std::fs::create_dir_all(&old).unwrap();
        write_marker(&old).unwrap();
        listing(&old, &[MARKER]);
        remove_replaced_checked(&old, &out).unwrap();
        assert!(!old.exists());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_mount_point_is_refused_before_any_work() {
        let err = check_out(Path::new("/proc")).unwrap_err().to_string();
        assert!(err.contains("is a mount point"), "{err}");
    }

    #[test]
    fn a_release_left_aside_by_an_interrupted_swap_is_restored() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("rel");
        let old = sibling(&out, ".old");
        std::fs::create_dir_all(&old).unwrap();
        write_marker(&old).unwrap();
        let stale = sibling(&out, ".partial-999999");
        std::fs::create_dir_all(&stale).unwrap();
        write_marker(&stale).unwrap();
        let foreign = sibling(&out, ".partial-notours");
        std::fs::create_dir_all(&foreign).unwrap();
        let done = recover(&out).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(is_release(&out) && !old.exists() && !stale.exists());
        assert!(
            foreign.is_dir(),
            "a directory without the marker is not ours"
        );
    }
}
