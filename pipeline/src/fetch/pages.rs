//! ArcGIS FeatureServer queries: one table that arrives in pages.
//!
//! The ONS geoportal serves its look-ups and boundaries through FeatureServer
//! `query` URLs, which answer with at most `maxRecordCount` features (2,000
//! there) and set `exceededTransferLimit` while more remain. The pager asks
//! again with `resultOffset` moved past what it holds until a page says there
//! is no more, and assembles the features into one file. That file is then
//! pinned, hashed and cached like any download, so a reader never knows it
//! came in pages. The faults guarded against: a page that fails transiently
//! (retried with backoff, as a whole download is, including ArcGIS's own
//! `{"error": {"code": 504}}` answered with HTTP 200); a server that ignores
//! `resultOffset` or pages without a stable order, so a feature comes twice
//! (stopped, never published twice); a page that says more remain but holds
//! none, or says so in a form other than `true`/`false` (stopped, never
//! taken as the end); and a page or a whole that passes the size limit.
//! Features are kept as the bytes the server sent, not as parsed values, so
//! memory stays near the size of the file.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::hash::HashSet;

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
    /// The features so far, serialised and comma-separated.
    features: Vec<u8>,
    count: usize,
    /// The digest of every feature so far: one seen twice means the pages
    /// overlap.
    seen: HashSet<[u8; 32]>,
    pages: usize,
    max_bytes: u64,
}

/// At most this many pages: 2,000 features each would be 20 million rows.
const MAX_PAGES: usize = 10_000;

/// ArcGIS error codes worth asking again for (the service is busy).
pub fn is_transient_error(body: &[u8]) -> Option<String> {
    if body.len() > 64 << 10 || !body.windows(7).any(|w| w == b"\"error\"") {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    let code = err.get("code").and_then(Value::as_i64)?;
    matches!(code, 429 | 500 | 502 | 503 | 504).then(|| {
        format!(
            "the FeatureServer answered error {code}: {}",
            err.get("message").unwrap_or(&Value::Null)
        )
    })
}

impl Assembler {
    pub fn new(geojson: bool, max_bytes: u64) -> Assembler {
        Assembler {
            geojson,
            head: Map::new(),
            features: Vec::new(),
            count: 0,
            seen: HashSet::default(),
            pages: 0,
            max_bytes,
        }
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn features(&self) -> usize {
        self.count
    }

    /// How many more bytes a page may hold before the whole passes the limit.
    pub fn room(&self) -> u64 {
        self.max_bytes.saturating_sub(self.features.len() as u64)
    }

    /// Adds the page that started at `offset`; says where the next starts.
    pub fn add(&mut self, offset: usize, body: &[u8]) -> Result<Next> {
        let at = |e: Error| e.sheet(format!("page at resultOffset={offset}"));
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
        let more = exceeded(&page).map_err(at)?;
        let n = features.len();
        if more && n == 0 {
            return Err(at(Error::unreadable(
                "the page says more features remain but holds none; stopped rather than publish a partial table",
            )));
        }
        self.keep(features).map_err(at)?;
        if self.pages == 0 {
            page.remove("exceededTransferLimit");
            page.remove("properties");
            self.head = page;
        }
        self.pages += 1;
        if self.pages >= MAX_PAGES {
            return Err(at(Error::unreadable(format!(
                "more than {MAX_PAGES} pages"
            ))));
        }
        Ok(match more {
            true => Next::More { offset: offset + n },
            false => Next::Done,
        })
    }

    /// Serialises each feature onto the whole, refusing one seen before.
    fn keep(&mut self, features: Vec<Value>) -> Result<()> {
        for f in features {
            let text = f.to_string();
            if !self.seen.insert(Sha256::digest(text.as_bytes()).into()) {
                return Err(Error::unreadable(format!(
                    "a feature comes twice (the pages overlap: the server ignores `resultOffset`, or the query lacks `orderByFields`); stopped after {} pages: {}",
                    self.pages,
                    text.chars().take(120).collect::<String>()
                )));
            }
            if !self.features.is_empty() {
                self.features.push(b',');
            }
            self.features.extend_from_slice(text.as_bytes());
            self.count += 1;
            if self.features.len() as u64 > self.max_bytes {
                return Err(Error::new(ErrorKind::TooLarge {
                    limit: format!("more than {} bytes of features", self.max_bytes),
                }));
            }
        }
        Ok(())
    }

    /// The assembled file's bytes (the first page's members, then the
    /// features in the server's order, so the same answer always gives the
    /// same digest).
    pub fn finish(self) -> Vec<u8> {
        let mut head = self.head;
        if self.geojson {
            head.insert("type".into(), Value::String("FeatureCollection".into()));
        }
        let head = serde_json::to_vec(&Value::Object(head)).unwrap_or_else(|_| b"{}".to_vec());
        let mut out = Vec::with_capacity(head.len() + self.features.len() + 16);
        out.extend_from_slice(&head[..head.len() - 1]);
        if head.len() > 2 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"features\":[");
        out.extend_from_slice(&self.features);
        out.extend_from_slice(b"]}");
        out
    }
}

/// `exceededTransferLimit` sits at the top of an Esri JSON page and under
/// `properties` in a GeoJSON one; anything but a boolean is refused.
fn exceeded(page: &Map<String, Value>) -> Result<bool> {
    let flag = page.get("exceededTransferLimit").or_else(|| {
        page.get("properties")
            .and_then(|p| p.get("exceededTransferLimit"))
    });
    match flag {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::unreadable(format!(
            "`exceededTransferLimit` is {other}, not true or false"
        ))),
    }
}
