//! A gzip CSV beside each Parquet table, for readers without Parquet (R's
//! `read.csv`, spreadsheets). Each is a cache unit keyed by its Parquet
//! file's digest, so a rebuild with nothing changed writes none. They are
//! written while the later stages run ([`Copies`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use serde::{Deserialize, Serialize};

use super::{FileEntry, TableEntry};
use crate::cache::{link_or_copy, sha256_file, unit_key, Cache};
use crate::error::{Error, Result};
use crate::frame::parquet_to_csv_gz;
use crate::par::lock;

#[derive(Debug, Serialize, Deserialize)]
struct CsvMeta {
    bytes: u64,
    sha256: String,
}

/// CSV copies written while the stages run: each table is queued as soon
/// as its wave ends, and a worker copies it during the later waves (the
/// API's wave, the longest, waits on the disk more than on the cores).
/// After the last wave the caller helps drain the queue.
pub struct Copies<'a> {
    cache: &'a Cache,
    staging: &'a Path,
    queue: Mutex<(VecDeque<(String, TableEntry)>, bool)>,
    ready: Condvar,
    done: Mutex<Vec<Result<(String, FileEntry)>>>,
}

impl<'a> Copies<'a> {
    pub fn new(cache: &'a Cache, staging: &'a Path) -> Copies<'a> {
        Copies {
            cache,
            staging,
            queue: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
            done: Mutex::new(Vec::new()),
        }
    }

    /// Queues the tables that have a Parquet file, largest first.
    pub fn submit(&self, tables: impl IntoIterator<Item = (String, TableEntry)>) {
        let mut new: Vec<_> = tables
            .into_iter()
            .filter(|(_, t)| t.file.is_some())
            .collect();
        new.sort_by_key(|(_, t)| std::cmp::Reverse(t.file.as_ref().map_or(0, |f| f.bytes)));
        lock(&self.queue).0.extend(new);
        self.ready.notify_all();
    }

    /// No more tables will come: workers stop once the queue is empty.
    pub fn close(&self) {
        lock(&self.queue).1 = true;
        self.ready.notify_all();
    }

    /// Drops the tables not yet copied and closes the queue.
    pub fn cancel(&self) {
        lock(&self.queue).0.clear();
        self.close();
    }

    /// A guard that closes the queue when dropped, however its scope ends.
    pub fn closer(&self) -> Closer<'_, 'a> {
        Closer(self)
    }

    /// Copies queued tables until the queue is closed and empty.
    pub fn work(&self) {
        loop {
            let next = {
                let mut q = lock(&self.queue);
                loop {
                    if let Some(item) = q.0.pop_front() {
                        break Some(item);
                    }
                    if q.1 {
                        break None;
                    }
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some((name, t)) = next else { return };
            let r = write_one(self.cache, self.staging, &name, &t);
            lock(&self.done).push(r);
        }
    }

    /// Every copy's entry, by table; the first error if any failed.
    pub fn finish(self) -> Result<BTreeMap<String, FileEntry>> {
        let done = self.done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.into_iter().collect()
    }
}

/// Closes a [`Copies`] queue when dropped (see [`Copies::closer`]).
pub struct Closer<'c, 'a>(&'c Copies<'a>);

impl Drop for Closer<'_, '_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Writes one table's CSV copy (from the unit cache when its Parquet file
/// is unchanged) and returns its entry.
pub fn write_one(
    cache: &Cache,
    staging: &Path,
    name: &str,
    t: &TableEntry,
) -> Result<(String, FileEntry)> {
    let parquet = t
        .file
        .as_ref()
        .map(|f| f.sha256.clone())
        .unwrap_or_default();
    let key = unit_key(&serde_json::json!({"kind": "csv.gz", "parquet_sha256": parquet}));
    let unit = cache.get_or_build(&key, |work| {
        let out = work.join("table.csv.gz");
        parquet_to_csv_gz(&staging.join(&t.path), &out).map_err(|e| e.source_id(name))?;
        let bytes = std::fs::metadata(&out)
            .map_err(|e| Error::io(&out, e))?
            .len();
        Ok(CsvMeta {
            bytes,
            sha256: sha256_file(&out)?,
        })
    })?;
    let rel = format!("tables/{name}.csv.gz");
    link_or_copy(&unit.dir.join("table.csv.gz"), &staging.join(&rel))?;
    Ok((
        name.to_string(),
        FileEntry {
            path: rel,
            bytes: unit.meta.bytes,
            sha256: unit.meta.sha256,
        },
    ))
}
