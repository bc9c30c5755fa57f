//! Integration tests: one binary, one module per topic. They run the real
//! pipeline on the real files in ../shared/data (or $CENSUS_DATA_DIR), and
//! the fetch tests talk to a real HTTP server on 127.0.0.1.

mod util;

mod api;
mod build;
mod census;
mod check;
mod cli;
mod faults;
mod fetch;
mod formats;
mod http;
mod index;
mod layout;
mod outdated;
mod postcodes;
mod production;
mod publish;
mod readers;
mod report;
mod safety;
mod site;
mod summaries;
mod truth;
