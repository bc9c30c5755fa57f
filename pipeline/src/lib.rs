//! census-pipeline: turns the UK's official deprivation and census releases
//! into verified, versioned static artefacts.
//!
//! The flow is `catalog` (what to read) -> `fetch` (get it, verified) ->
//! `read` (into canonical tables) -> `plan` (the stages of `stages/`,
//! validated against every table's schema and ordered) -> `build` (run
//! them, through the unit cache) -> `release` (the directory that is
//! published) -> `publish`.
//!
//! Each stage kind is a folder under `stages` implementing the one
//! contract in `contract`; `checks` holds the verification vocabulary and
//! the geography checks kinds share; `frame` is the only place stage logic
//! meets polars. `error` is the one error type; `cache` the on-disk cache.

pub mod arcgis;
pub mod build;
pub mod cache;
pub mod catalog;
pub mod checks;
pub mod contract;
pub mod decimal;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod gz;
pub mod hash;
pub mod lookup;
pub mod map;
pub mod outdated;
pub mod package;
pub mod par;
pub mod pattern;
pub mod plan;
pub mod postcode;
pub mod publish;
pub mod read;
pub mod release;
pub mod report;
pub mod schema;
pub mod scratch;
pub mod stages;
pub mod text;
pub mod units;

pub use error::{Error, ErrorKind, Result};
