//! Bounded parallelism for stage work.
//!
//! Plain scoped threads, one per core, rather than rayon: a rayon worker that
//! waits on polars' own thread pool steals more jobs meanwhile, so large
//! tables would be loaded many at once and memory would grow with the
//! catalog (measured: peak RSS 1.45 GB with rayon, 0.74 GB with this).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::error::Result;

/// Runs `f` on every item with at most one worker per core, and returns the
/// results in the items' order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *lock(&results[i]) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every item ran: each index is taken by exactly one worker")
        })
        .collect()
}

/// Runs `f` on every item as [`parallel_map`] does; the first error (in the
/// items' order) wins.
pub fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    parallel_map(items, f).into_iter().collect()
}

/// Locks a mutex, taking the data even if another thread panicked while
/// holding it (the data here are append-only collections).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One file created at a time, however many threads make them.
///
/// Creating a file takes the directory's lock in the kernel, and on ext4
/// two threads creating files in one directory spin on it: perf showed a
/// quarter of a build's samples in `rwsem_spin_on_owner` and inode
/// allocation, and 61,000 small files took 2.7 s from one thread against
/// 3.1-6.9 s from two. So the threads build and encode files in parallel,
/// and only the creation is serialised.
static DISK: Mutex<()> = Mutex::new(());

/// Runs `create` (one small file's creation) under [`DISK`].
pub fn create_file<R>(create: impl FnOnce() -> R) -> R {
    let _one_at_a_time = lock(&DISK);
    create()
}
