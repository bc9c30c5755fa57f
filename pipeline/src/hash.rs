//! Hash maps for the hot loops that key by area code, postcode or reason.
//!
//! The standard maps hash with SipHash, which resists collision attacks at
//! a cost: on the full build it was 2.7% of the samples (hashing codes of
//! 9 to 12 bytes, millions of times). foldhash is several times faster on
//! short keys and is still seeded per process.
//!
//! Nothing published depends on a map's iteration order: every output is
//! ordered by a sort, a `BTreeMap` or an `IndexMap` (insertion order). The
//! byte-identical comparison of releases built by separate processes, whose
//! hash seeds differ, would show it if anything did.

/// A `HashMap` hashed by foldhash.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` hashed by foldhash.
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// An `IndexMap` (insertion order kept) hashed by foldhash.
pub type IndexMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

/// An empty map with room for `n` entries.
pub fn map_with_capacity<K, V>(n: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(n, Default::default())
}
