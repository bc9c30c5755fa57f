//! Where `bench` writes its runs: the kind of file system, which is part
//! of the figure, and whether it has room to keep every run.
//!
//! Removing a run's 125,000 files just before the next run slowed that
//! run's file creation by up to 3 s on a journal-less ext4: the kernel's
//! inode allocator steps over inodes freed in the last minute (six while
//! their inode-table block is unwritten). So on a disk the runs are kept
//! until the end, when there is room. On tmpfs nothing of the sort happens
//! and kept runs would hold memory, so each is removed before the next.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Inodes and bytes one run of the shared catalog needs, with a margin
/// (measured: about 125,000 files and 0.45 GB, release and stage cache).
const RUN_FILES: u64 = 150_000;
const RUN_BYTES: u64 = 600_000_000;

/// File-system magic numbers (`statfs`'s `f_type`, fixed by the Linux
/// ABI): written out rather than taken from libc, whose types for them
/// differ between C libraries.
const TMPFS: u64 = 0x0102_1994;
const KNOWN: [(u64, &str); 5] = [
    (TMPFS, "tmpfs, in memory"),
    (0xef53, "ext2/3/4"),
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x794c_7630, "overlayfs"),
];

/// Whether runs are kept until the end, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every run is kept until the end.
    All,
    /// Each run is removed before the next, for this reason.
    EachRemoved(&'static str),
}

impl Keep {
    /// Decides for `runs` builds written under `dir`.
    pub fn decide(dir: &Path, runs: u32) -> Keep {
        if kind(dir) == Some(TMPFS) {
            return Keep::EachRemoved("in memory");
        }
        match room(dir) {
            None => Keep::EachRemoved("room unknown"),
            Some((files, bytes)) => {
                let runs = u64::from(runs);
                // A file system without an inode count (btrfs) reports none.
                let inodes_ok = files.is_none_or(|f| f >= RUN_FILES * runs);
                if inodes_ok && bytes >= RUN_BYTES * runs {
                    Keep::All
                } else {
                    Keep::EachRemoved("too little room to keep every run")
                }
            }
        }
    }

    /// How a report says it.
    pub fn describe(self) -> String {
        match self {
            Keep::All => "every run kept until the end".into(),
            Keep::EachRemoved(why) => format!("{why}: each run removed before the next"),
        }
    }
}

/// `dir` and the kind of file system it is on.
pub fn describe(dir: &Path) -> String {
    let fs = match kind(dir) {
        Some(t) => KNOWN.iter().find(|(m, _)| *m == t).map_or_else(
            || format!("file system type {t:#x}"),
            |(_, k)| k.to_string(),
        ),
        None => "file system unknown".to_string(),
    };
    format!("{} ({fs})", dir.display())
}

/// The file system's magic number (`statfs`'s `f_type`; Linux only).
#[cfg(not(target_os = "linux"))]
fn kind(_dir: &Path) -> Option<u64> {
    None
}

/// The file system's magic number (`statfs`'s `f_type`).
#[cfg(target_os = "linux")]
fn kind(dir: &Path) -> Option<u64> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero is a valid `statfs` (plain integers); statfs writes
    // only into it, and `c` is a NUL-terminated path outliving the call.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // The magic numbers fit in 32 bits; a 32-bit `f_type` holding one above
    // i32::MAX is negative, so it is read as u32 first.
    (unsafe { libc::statfs(c.as_ptr(), &mut s) } == 0).then_some(u64::from(s.f_type as u32))
}

/// Free inodes (`None` if the file system does not count them) and free
/// bytes, for an unprivileged user.
fn room(dir: &Path) -> Option<(Option<u64>, u64)> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero is a valid `statvfs` (plain integers); statvfs
    // writes only into it, and `c` is a NUL-terminated path outliving the
    // call.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let files = (s.f_files != 0).then_some(s.f_favail as u64);
    Some((files, (s.f_bavail as u64).saturating_mul(s.f_frsize as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_memory_are_removed_and_a_missing_directory_has_no_known_room() {
        let shm = Path::new("/dev/shm");
        if kind(shm) == Some(TMPFS) {
            assert_eq!(Keep::decide(shm, 1), Keep::EachRemoved("in memory"));
            assert_eq!(describe(shm), "/dev/shm (tmpfs, in memory)");
        }
        let missing = Path::new("/no/such/directory");
        assert_eq!(Keep::decide(missing, 1), Keep::EachRemoved("room unknown"));
        assert_eq!(
            describe(missing),
            "/no/such/directory (file system unknown)"
        );
    }

    #[test]
    fn a_disk_keeps_runs_only_when_it_has_room_for_all() {
        let dir = std::env::current_dir().unwrap();
        if kind(&dir) == Some(TMPFS) {
            return;
        }
        assert_eq!(
            Keep::decide(&dir, 1_000_000),
            Keep::EachRemoved("too little room to keep every run")
        );
        let (files, bytes) = room(&dir).expect("the current directory's file system");
        let one_fits = bytes >= RUN_BYTES && files.is_none_or(|f| f >= RUN_FILES);
        assert_eq!(Keep::decide(&dir, 1) == Keep::All, one_fits);
    }
}
