//! A unit of many small files, created once in the release and kept in the
//! cache as one packed file.
//!
//! The static API is 62,000 small files. On ext4, creating a file costs far
//! more than writing its bytes: the directory's lock (two threads creating
//! in one directory spin on it) and the inode allocator. Writing the files
//! into the cache and then linking each into the release paid that twice.
//! So the files are created once, straight into the release being built, by
//! one thread while the others compute them (file creation is bounded by the
//! disk, not by the number of threads), and the cache keeps the same bytes
//! as one sequential file. A rebuild into a new directory unpacks it; a
//! rebuild in place does not open it at all (see `build::current`).
//!
//! A pack is `MAGIC`, then per file: the path's length (u16, little-endian),
//! the path, the content's length (u64) and the content.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"census-pipeline pack 1\n";

/// Files waiting for the writer at most: enough to keep it busy, few enough
/// to bound the memory they hold (an area file is about 2.5 KB encoded).
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
/// `release` and appends to the pack at `pack`. Returns what `produce`
/// returns once every file is written, or the first error of either.
pub fn write<T>(
    release: &Path,
    pack: &Path,
    produce: impl FnOnce(&Sink) -> Result<T>,
) -> Result<T> {
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::scope(|s| {
        let writer = s.spawn(|| write_all(rx, release, pack));
        let produced = produce(&Sink { tx });
        // `produce` has dropped the sink: the writer drains and returns.
        let written = match writer.join() {
            Ok(w) => w,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        written.and(produced)
    })
}

fn write_all(rx: Receiver<Msg>, release: &Path, pack: &Path) -> Result<()> {
    let file = File::create(pack).map_err(|e| Error::io(pack, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(MAGIC).map_err(|e| Error::io(pack, e))?;
    for msg in rx {
        match msg {
            Msg::Dir(rel) => {
                let d = release.join(rel);
                std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
            }
            Msg::File(rel, bytes) => {
                let path = release.join(&rel);
                std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
                record(&mut out, &rel, &bytes).map_err(|e| Error::io(pack, e))?;
            }
        }
    }
    // Not synced: a pack cut short by a crash is found damaged when next
    // unpacked, and the unit is generated again.
    out.flush().map_err(|e| Error::io(pack, e))
}

fn record(out: &mut impl Write, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(rel.len()).map_err(std::io::Error::other)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(rel.as_bytes())?;
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

/// Why a pack could not be unpacked.
#[derive(Debug)]
pub enum UnpackError {
    /// The pack does not hold the unit's files as recorded (missing, cut
    /// short, a path or size or digest that is not the record's): the unit
    /// is to be generated again.
    Damaged(String),
    /// Writing into the release failed (a full disk, permissions): not the
    /// pack's fault, and no reason to discard it.
    Write(Error),
}

/// Creates under `release` every file of the pack at `pack`, which must
/// hold exactly `files`: each (path, size in bytes, sha256) once. Each
/// file's digest is checked before it is written, so a pack damaged inside
/// a file's bytes is refused as surely as one cut short, and nothing
/// outside `release` is touched whatever the pack holds.
pub fn unpack<'f>(
    pack: &Path,
    release: &Path,
    files: impl IntoIterator<Item = (&'f str, u64, &'f str)>,
) -> std::result::Result<(), UnpackError> {
    let damaged = |why: String| UnpackError::Damaged(why);
    let mut expected: HashMap<&str, (u64, &str)> =
        files.into_iter().map(|(p, n, d)| (p, (n, d))).collect();
    let file = File::open(pack).map_err(|e| damaged(e.to_string()))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = vec![0; MAGIC.len()];
    r.read_exact(&mut magic)
        .map_err(|e| damaged(e.to_string()))?;
    if magic != MAGIC {
        return Err(damaged("it does not begin as a pack".into()));
    }
    let mut made: HashSet<PathBuf> = HashSet::new();
    while let Some(rel) = read_path(&mut r).map_err(|e| damaged(e.to_string()))? {
        let size = read_u64(&mut r).map_err(|e| damaged(e.to_string()))?;
        let Some((_, digest)) = expected.remove(rel.as_str()).filter(|(n, _)| *n == size) else {
            return Err(damaged(format!(
                "`{rel}` ({size} bytes) is not a file of the unit"
            )));
        };
        let mut bytes = vec![0; size as usize];
        r.read_exact(&mut bytes)
            .map_err(|e| damaged(e.to_string()))?;
        if super::sha256_bytes(&bytes) != digest {
            return Err(damaged(format!(
                "`{rel}` does not have its recorded sha256"
            )));
        }
        let to = release.join(&rel);
        if let Some(parent) = to.parent() {
            if made.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| UnpackError::Write(Error::io(parent, e)))?;
            }
        }
        std::fs::write(&to, &bytes).map_err(|e| UnpackError::Write(Error::io(&to, e)))?;
    }
    match expected.keys().next() {
        Some(missing) => Err(damaged(format!("it has no `{missing}`"))),
        None => Ok(()),
    }
}

/// The next record's path, or None at the end of the pack. A path that is
/// not plainly relative is refused before it is joined to anything.
fn read_path(r: &mut impl Read) -> std::io::Result<Option<String>> {
    let mut len = [0; 2];
    match r.read(&mut len[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut len[1..])?,
    }
    let mut rel = vec![0; u16::from_le_bytes(len) as usize];
    r.read_exact(&mut rel)?;
    let rel = String::from_utf8(rel).map_err(std::io::Error::other)?;
    let plain = Path::new(&rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if rel.is_empty() || !plain {
        return Err(std::io::Error::other(format!(
            "the path {rel:?} is not relative"
        )));
    }
    Ok(Some(rel))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each file's (path, size, sha256), as a unit's meta records them.
    fn entries(files: &[(&str, &[u8])]) -> Vec<(String, u64, String)> {
        files
            .iter()
            .map(|(p, b)| (p.to_string(), b.len() as u64, super::super::sha256_bytes(b)))
            .collect()
    }

    fn unpack_as(
        pack: &Path,
        release: &Path,
        files: &[(String, u64, String)],
    ) -> std::result::Result<(), UnpackError> {
        unpack(
            pack,
            release,
            files.iter().map(|(p, n, d)| (p.as_str(), *n, d.as_str())),
        )
    }

    fn damage(r: std::result::Result<(), UnpackError>) -> String {
        match r {
            Err(UnpackError::Damaged(why)) => why,
            other => panic!("expected damage, got {other:?}"),
        }
    }

    fn pack_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for (p, b) in files {
            record(&mut bytes, p, b).unwrap();
        }
        bytes
    }

    #[test]
    fn files_written_once_are_unpacked_identically_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, pack) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("files.pack"),
        );
        std::fs::create_dir(&a).unwrap();
        write(&a, &pack, |sink| {
            sink.dir("x/y")?;
            sink.put("x/y/1.json".into(), b"{}".to_vec())?;
            sink.put("top.txt".into(), Vec::new())
        })
        .unwrap();
        assert_eq!(std::fs::read(a.join("x/y/1.json")).unwrap(), b"{}");
        let files = entries(&[("x/y/1.json", b"{}"), ("top.txt", b"")]);
        unpack_as(&pack, &b, &files).unwrap();
        assert_eq!(std::fs::read(b.join("x/y/1.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read(b.join("top.txt")).unwrap(), b"");
    }

    #[test]
    fn a_damaged_pack_is_refused_and_writes_nothing_outside_the_release() {
        let dir = tempfile::tempdir().unwrap();
        let pack = dir.path().join("files.pack");
        let release = dir.path().join("release");
        let unit = entries(&[("a.json", b"{}")]);
        // A path climbing out of the release.
        std::fs::write(&pack, pack_of(&[("../escaped", b"x")])).unwrap();
        let why = damage(unpack_as(
            &pack,
            &release,
            &entries(&[("../escaped", b"x")]),
        ));
        assert!(why.contains("not relative"), "{why}");
        assert!(!dir.path().join("escaped").exists());
        // Cut short.
        let bytes = pack_of(&[("a.json", b"{}")]);
        std::fs::write(&pack, &bytes[..bytes.len() - 1]).unwrap();
        damage(unpack_as(&pack, &release, &unit));
        // A file of the unit missing.
        std::fs::write(&pack, &bytes).unwrap();
        let both = entries(&[("a.json", b"{}"), ("b.json", b"")]);
        let why = damage(unpack_as(&pack, &release, &both));
        assert!(why.contains("has no `b.json`"), "{why}");
        // The right path and size, other bytes.
        std::fs::remove_dir_all(&release).unwrap();
        std::fs::write(&pack, pack_of(&[("a.json", b"[]")])).unwrap();
        let why = damage(unpack_as(&pack, &release, &unit));
        assert!(why.contains("sha256"), "{why}");
        assert!(!release.join("a.json").exists(), "refused before writing");
        // No pack at all.
        std::fs::remove_file(&pack).unwrap();
        damage(unpack_as(&pack, &release, &unit));
    }

    #[test]
    fn a_release_that_cannot_be_written_is_not_the_packs_damage() {
        let dir = tempfile::tempdir().unwrap();
        let pack = dir.path().join("files.pack");
        std::fs::write(&pack, pack_of(&[("a/b.json", b"{}")])).unwrap();
        // The release's `a` is a file, so `a/b.json` cannot be created.
        let release = dir.path().join("release");
        std::fs::create_dir(&release).unwrap();
        std::fs::write(release.join("a"), b"").unwrap();
        let r = unpack_as(&pack, &release, &entries(&[("a/b.json", b"{}")]));
        assert!(matches!(r, Err(UnpackError::Write(_))), "{r:?}");
    }

    #[test]
    fn the_writers_error_is_reported_and_the_producer_stops() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("missing-dir");
        let err = write(&release, &dir.path().join("p"), |sink| {
            for i in 0..10_000 {
                sink.put(format!("{i}.json"), vec![0; 10])?;
            }
            Ok(())
        })
        .unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }
}
