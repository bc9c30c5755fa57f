//! census-pipeline: turns the UK's official deprivation and census releases
//! into verified, versioned static artefacts.
//!
//! The flow is `catalog` (what to read) -> `fetch` (get it, verified) ->
//! `read` (into canonical tables) -> `graph`/`stage` (what to compute, in
//! which order) -> `build` (run it, cached) -> `release` (the directory that
//! is published). `error` is the one error type; `cache` the on-disk cache.

pub mod api;
pub mod build;
pub mod cache;
pub mod catalog;
pub mod census;
pub mod change;
pub mod error;
pub mod fetch;
pub mod graph;
pub mod index;
pub mod map;
pub mod package;
pub mod places;
pub mod publish;
pub mod read;
pub mod release;
pub mod report;
pub mod schema;
pub mod stage;
pub mod summary;
pub mod values;
pub mod verify;
pub mod wards;

pub use error::{Error, ErrorKind, Result};
