//! A unit of many small files, created once in the release and linked into
//! the cache.
//!
//! The static API is 62,000 small files. On ext4, creating a file costs far
//! more than writing its bytes: the directory's lock (two threads creating
//! in one directory spin on it) and the inode allocator. So the files are
//! created once, straight into the release being built, by one thread while
//! the others compute them (file creation is bounded by the disk, not by
//! the number of threads), and each is hard-linked into the unit's cache
//! directory, which costs a fifth of creating it. A build that finds the
//! unit cached links its files into the release the same way (1 s for the
//! API); a rebuild in place does not touch them at all (see
//! `build::current`).
//!
//! Measured against keeping the unit as one packed file instead: the pack
//! saved the links on a full build, but a build with the unit cached (a new
//! postcode directory leaves the 61,400 area files as they were) had to
//! create every file again, 2.3-5.2 s on this disk against 1 s of links.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::link_or_copy;
use crate::error::{Error, Result};
use crate::hash::HashSet;

/// Files waiting for the writer at most: enough to keep it busy, few enough
/// to bound the memory they hold (an area file is about 1.5 KB encoded).
const QUEUE: usize = 1024;

enum Msg {
    Dir(String),
    File(String, Vec<u8>),
}

/// Where producers hand their files: any number of threads may share it.
pub struct Sink {
    tx: SyncSender<Msg>,
}

impl Sink {
    /// Creates a directory (relative to the release root).
    pub fn dir(&self, rel: &str) -> Result<()> {
        self.send(Msg::Dir(rel.to_string()))
    }

    /// Queues a file (relative to the release root) for the writer.
    pub fn put(&self, rel: String, bytes: Vec<u8>) -> Result<()> {
        self.send(Msg::File(rel, bytes))
    }

    fn send(&self, msg: Msg) -> Result<()> {
        // The writer hangs up only when it has failed; its own error is the
        // one reported (see `write`).
        self.tx
            .send(msg)
            .map_err(|_| Error::table("the file writer stopped"))
    }
}

/// Runs `produce` with a sink whose files one writer thread creates under
/// `release` and links under `unit` (the unit's cache directory). Returns
/// what `produce` returns once every file is written, or the first error of
/// either.
pub fn write<T>(
    release: &Path,
    unit: &Path,
    produce: impl FnOnce(&Sink) -> Result<T>,
) -> Result<T> {
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::scope(|s| {
        let writer = s.spawn(|| write_all(rx, release, unit));
        let produced = produce(&Sink { tx });
        // `produce` has dropped the sink: the writer drains and returns.
        let written = match writer.join() {
            Ok(w) => w,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        written.and(produced)
    })
}

fn write_all(rx: Receiver<Msg>, release: &Path, unit: &Path) -> Result<()> {
    std::fs::create_dir_all(unit).map_err(|e| Error::io(unit, e))?;
    for msg in rx {
        match msg {
            Msg::Dir(rel) => {
                for d in [release.join(&rel), unit.join(&rel)] {
                    std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
                }
            }
            Msg::File(rel, bytes) => {
                let path = release.join(&rel);
                std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
                link_or_copy(&path, &unit.join(&rel))?;
            }
        }
    }
    Ok(())
}

/// Links (or copies) every file of a cached unit into the release.
pub fn link_all<'f>(
    unit: &Path,
    release: &Path,
    files: impl IntoIterator<Item = &'f str>,
) -> Result<()> {
    let mut made: HashSet<PathBuf> = HashSet::default();
    for rel in files {
        let to = release.join(rel);
        if let Some(parent) = to.parent() {
            if made.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
        link_or_copy(&unit.join(rel), &to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_written_once_are_in_the_release_and_the_unit_and_link_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, unit) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("unit"),
        );
        std::fs::create_dir(&a).unwrap();
        write(&a, &unit, |sink| {
            sink.dir("x/y")?;
            sink.put("x/y/1.json".into(), b"{}".to_vec())?;
            sink.put("top.txt".into(), Vec::new())
        })
        .unwrap();
        assert_eq!(std::fs::read(a.join("x/y/1.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read(unit.join("x/y/1.json")).unwrap(), b"{}");
        link_all(&unit, &b, ["x/y/1.json", "top.txt"]).unwrap();
        assert_eq!(std::fs::read(b.join("x/y/1.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read(b.join("top.txt")).unwrap(), b"");
        let err = link_all(&unit, &b, ["missing.json"]).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");
    }

    #[test]
    fn the_writers_error_is_reported_and_the_producer_stops() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("missing-dir");
        let err = write(&release, &dir.path().join("unit"), |sink| {
            for i in 0..10_000 {
                sink.put(format!("{i}.json"), vec![0; 10])?;
            }
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }
}
