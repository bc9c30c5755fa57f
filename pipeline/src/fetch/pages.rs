//! ArcGIS FeatureServer queries: one table that arrives in pages.
//!
//! The ONS geoportal serves its look-ups and boundaries through FeatureServer
//! `query` URLs, which answer with at most `maxRecordCount` features (2,000
//! there) and set `exceededTransferLimit` while more remain. The pager asks
//! again with `resultOffset` moved past what it holds until a page says there
//! is no more, and assembles the features into one file. That file is then
//! pinned, hashed and cached like any download, so a reader never knows it
//! came in pages. Two faults are guarded against: a page that fails
//! transiently (retried with backoff, as a whole download is), and a server
//! that ignores `resultOffset` and sends the same page again (stopped, not
//! looped on forever, nor published with duplicated rows).

use std::collections::HashSet;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};

pub use crate::arcgis::page_url;

/// What a page adds: the pager goes on while `more` is true.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    More { offset: usize },
    Done,
}

/// Collects pages into one FeatureCollection (GeoJSON) or one Esri JSON
/// feature set, in the order the server gave them.
pub struct Assembler {
    geojson: bool,
    /// The first page's own members (fields, geometry type, spatial
    /// reference), kept in the assembled file.
    head: Map<String, Value>,
    features: Vec<Value>,
    seen: HashSet<[u8; 32]>,
    pages: usize,
    bytes: u64,
    max_bytes: u64,
}

/// At most this many pages: 2,000 features each would be 20 million rows.
const MAX_PAGES: usize = 10_000;

impl Assembler {
    pub fn new(geojson: bool, max_bytes: u64) -> Assembler {
        Assembler {
            geojson,
            head: Map::new(),
            features: Vec::new(),
            seen: HashSet::new(),
            pages: 0,
            bytes: 0,
            max_bytes,
        }
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn features(&self) -> usize {
        self.features.len()
    }

    /// Adds the page that started at `offset`; says where the next starts.
    pub fn add(&mut self, offset: usize, body: &[u8]) -> Result<Next> {
        let at = |e: Error| e.sheet(format!("page at resultOffset={offset}"));
        self.bytes += body.len() as u64;
        if self.bytes > self.max_bytes {
            return Err(at(Error::new(ErrorKind::TooLarge {
                limit: format!(
                    "{} bytes in {} pages, more than {}",
                    self.bytes,
                    self.pages + 1,
                    self.max_bytes
                ),
            })));
        }
        let mut page: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(at(Error::unreadable("the page is JSON but not an object"))),
            Err(e) => return Err(at(Error::unreadable(format!("the page is not JSON: {e}")))),
        };
        if let Some(err) = page.get("error") {
            return Err(at(Error::new(ErrorKind::Download {
                reason: format!("the FeatureServer answered with an error: {err}"),
            })));
        }
        let Some(Value::Array(features)) = page.remove("features") else {
            return Err(at(Error::unreadable("the page has no `features` array")));
        };
        let more = exceeded(&page);
        let n = features.len();
        if n > 0 && !self.seen.insert(digest(&features)) {
            return Err(at(Error::unreadable(format!(
                "the page repeats an earlier page ({n} features): the server ignores `resultOffset`; stopped after {} pages",
                self.pages
            ))));
        }
        if self.pages == 0 {
            page.remove("exceededTransferLimit");
            page.remove("properties");
            self.head = page;
        }
        self.pages += 1;
        self.features.extend(features);
        if self.pages >= MAX_PAGES {
            return Err(at(Error::unreadable(format!(
                "more than {MAX_PAGES} pages"
            ))));
        }
        Ok(if more && n > 0 {
            Next::More { offset: offset + n }
        } else {
            Next::Done
        })
    }

    /// The assembled file's bytes (keys in a fixed order, so the same
    /// features always give the same digest).
    pub fn finish(self) -> Vec<u8> {
        let mut out = self.head;
        if self.geojson {
            out.insert("type".into(), Value::String("FeatureCollection".into()));
        }
        out.insert("features".into(), Value::Array(self.features));
        serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
    }
}

/// `exceededTransferLimit` sits at the top of an Esri JSON page and under
/// `properties` in a GeoJSON one.
fn exceeded(page: &Map<String, Value>) -> bool {
    let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
    flag(page.get("exceededTransferLimit"))
        || flag(
            page.get("properties")
                .and_then(|p| p.get("exceededTransferLimit")),
        )
}

fn digest(features: &[Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for f in features {
        h.update(f.to_string().as_bytes());
    }
    h.finalize().into()
}
