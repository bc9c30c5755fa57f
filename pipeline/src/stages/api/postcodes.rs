//! Phase 4 of the API: one compact file per postcode outcode.
//!
//! A file maps each postcode to its status and a *place*: the country,
//! local authority, ward and small areas it shares with its neighbours
//! (most postcodes of an outcode share a handful). Each small area's
//! deprivation (rank, N, decile, quintile and every quantile the original
//! platform accepts) appears once per file, under `areas`, and a reason
//! shared by many postcodes is written once under `reasons` and referred
//! to by number.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use super::registers::Registry;
use super::writer::Writer;
use super::{ApiStage, Edition, PostcodeSpec};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Table, Values};
use crate::release::FileEntry;

pub use crate::postcode::normalise as normalise_postcode;

/// What the postcode files were.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<FileEntry>,
    pub postcodes: usize,
    pub outcodes: usize,
}

/// One edition's ranks: code -> (rank, published decile), and N.
struct Ranks {
    edition: Edition,
    by_code: HashMap<String, (f64, Option<f64>)>,
    n: usize,
}

impl Ranks {
    fn load(e: &Edition, inputs: &Frames<'_>) -> Result<Option<Ranks>> {
        let Some(t) = inputs.get(&e.index) else {
            return Ok(None);
        };
        let (c, r, d) = (t.values(&e.code)?, t.values(&e.rank)?, t.values(&e.decile)?);
        let by_code: HashMap<String, (f64, Option<f64>)> = (0..c.len())
            .filter_map(|i| Some((c.text(i)?, (r.number(i)?, d.number(i)))))
            .collect();
        let n = by_code.len();
        Ok(Some(Ranks {
            edition: e.clone(),
            by_code,
            n,
        }))
    }

    /// An area's deprivation in this edition, or `None` if not ranked.
    fn of(&self, code: &str, quantiles: &[u32]) -> Option<Value> {
        let (rank, decile) = *self.by_code.get(code)?;
        let band = |q: u32| (rank * q as f64 / self.n as f64).ceil() as i64;
        Some(json!({
            "rank": rank,
            "n": self.n,
            "decile": decile.map(|d| d as i64),
            "quintile": band(5),
            "quantiles": quantiles.iter().map(|q| band(*q)).collect::<Vec<_>>(),
        }))
    }
}

/// The postcode table's columns.
struct Columns {
    postcode: Values,
    outcode: Values,
    status: Values,
    terminated: Values,
    country: Values,
    lad: Values,
    ward: Values,
    reason: Values,
    small: Vec<(String, Values, Option<Values>)>,
}

impl Columns {
    fn read(pc: &PostcodeSpec, t: &Table) -> Result<Columns> {
        let small = pc
            .small_areas
            .iter()
            .map(|(c, why)| {
                let why = (!why.is_empty()).then(|| t.values(why)).transpose()?;
                Ok((c.clone(), t.values(c)?, why))
            })
            .collect::<Result<_>>()?;
        Ok(Columns {
            postcode: t.values(&pc.postcode)?,
            outcode: t.values(&pc.outcode)?,
            status: t.values(&pc.status)?,
            terminated: t.values(&pc.terminated)?,
            country: t.values(&pc.country)?,
            lad: t.values(&pc.local_authority)?,
            ward: t.values(&pc.ward)?,
            reason: t.values(&pc.reason)?,
            small,
        })
    }
}

/// One outcode file being assembled.
#[derive(Default)]
struct OutcodeFile {
    postcodes: Map<String, Value>,
    places: Vec<Value>,
    place_of: HashMap<String, usize>,
    reasons: Vec<String>,
    reason_of: HashMap<String, usize>,
    areas: BTreeSet<String>,
}

impl OutcodeFile {
    fn reason(&mut self, text: String) -> usize {
        if let Some(i) = self.reason_of.get(&text) {
            return *i;
        }
        self.reasons.push(text.clone());
        self.reason_of.insert(text, self.reasons.len() - 1);
        self.reasons.len() - 1
    }

    /// The place of row `i`, added if new.
    fn place(&mut self, c: &Columns, i: usize) -> usize {
        let mut small = Map::new();
        let mut why = Map::new();
        for (col, v, reason) in &c.small {
            let name = col.trim_end_matches("_code").to_string();
            let code = v.text(i);
            if let Some(code) = &code {
                self.areas.insert(code.clone());
            }
            if code.is_none() {
                if let Some(r) = reason.as_ref().and_then(|r| r.text(i)) {
                    why.insert(name.clone(), json!(self.reason(r)));
                }
            }
            if code.is_some() {
                small.insert(name, json!(code));
            }
        }
        let mut p = Map::new();
        p.insert("country".into(), json!(c.country.text(i)));
        p.insert("lad".into(), json!(c.lad.text(i)));
        p.insert("ward".into(), json!(c.ward.text(i)));
        p.insert("small_areas".into(), Value::Object(small));
        if !why.is_empty() {
            p.insert("missing".into(), Value::Object(why));
        }
        if let Some(r) = c.reason.text(i) {
            p.insert("reason".into(), json!(self.reason(r)));
        }
        let place = Value::Object(p);
        let key = place.to_string();
        if let Some(at) = self.place_of.get(&key) {
            return *at;
        }
        self.places.push(place);
        self.place_of.insert(key, self.places.len() - 1);
        self.places.len() - 1
    }
}

pub fn write_all(
    spec: &ApiStage,
    pc: &PostcodeSpec,
    frame: &Table,
    registry: &Registry,
    inputs: &Frames<'_>,
    writer: &Writer,
) -> Result<Written> {
    let ctx = |e: Error| e.source_id(pc.table.clone()).stage("api");
    let cols = Columns::read(pc, frame).map_err(ctx)?;
    let mut ranks = Vec::new();
    for e in &pc.editions {
        ranks.extend(Ranks::load(e, inputs).map_err(ctx)?);
    }
    let mut files: BTreeMap<String, OutcodeFile> = BTreeMap::new();
    for i in 0..frame.height() {
        let (Some(outcode), Some(postcode)) = (cols.outcode.text(i), cols.postcode.text(i)) else {
            continue;
        };
        let f = files.entry(outcode).or_default();
        let place = f.place(&cols, i);
        let mut p = Map::new();
        p.insert("status".into(), json!(cols.status.text(i)));
        if let Some(t) = cols.terminated.text(i) {
            p.insert("terminated".into(), json!(t));
        }
        p.insert("place".into(), json!(place));
        f.postcodes.insert(postcode, Value::Object(p));
    }
    write_files(spec, pc, files, &ranks, registry, writer)
}

/// Each small area's deprivation in every edition that ranks it, and a
/// link to its own file where the API has one.
fn areas_of(
    codes: &BTreeSet<String>,
    pc: &PostcodeSpec,
    ranks: &[Ranks],
    registry: &Registry,
    base: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    for code in codes {
        let mut a = Map::new();
        for r in ranks.iter().filter(|r| r.edition.pattern.is_match(code)) {
            if let Some(v) = r.of(code, &pc.quantiles) {
                a.insert(r.edition.key.clone(), v);
            }
        }
        if registry.areas.contains_key(code) {
            a.insert("href".into(), json!(format!("/{base}/areas/{code}.json")));
        }
        out.insert(code.clone(), Value::Object(a));
    }
    out
}

/// What each edition is, for the files' readers.
fn editions_of(pc: &PostcodeSpec, ranks: &[Ranks], inputs_missing: &[&Edition]) -> Value {
    let mut m = Map::new();
    for r in ranks {
        let e = &r.edition;
        m.insert(
            e.key.clone(),
            json!({"nation": e.nation, "year": e.year, "index": e.index, "small_area": e.small_area.trim_end_matches("_code"), "n": r.n}),
        );
    }
    for e in inputs_missing {
        m.insert(
            e.key.clone(),
            json!({"nation": e.nation, "year": e.year, "index": e.index, "small_area": e.small_area.trim_end_matches("_code"), "unavailable": "the index table is not in this release"}),
        );
    }
    let _ = pc;
    Value::Object(m)
}

fn write_files(
    spec: &ApiStage,
    pc: &PostcodeSpec,
    files: BTreeMap<String, OutcodeFile>,
    ranks: &[Ranks],
    registry: &Registry,
    writer: &Writer,
) -> Result<Written> {
    let mut out = Written::default();
    writer.dir(&format!("{}/postcodes", spec.base))?;
    let missing: Vec<&Edition> = pc
        .editions
        .iter()
        .filter(|e| !ranks.iter().any(|r| r.edition.key == e.key))
        .collect();
    let editions = editions_of(pc, ranks, &missing);
    let mut outcodes = Vec::new();
    for (outcode, f) in files {
        let count = f.postcodes.len();
        outcodes.push(json!({"outcode": outcode, "postcodes": count}));
        out.postcodes += count;
        let v = json!({
            "outcode": outcode,
            "count": count,
            "caveats": pc.caveats,
            "editions": editions,
            "quantiles": pc.quantiles,
            "postcodes": f.postcodes,
            "places": f.places,
            "areas": areas_of(&f.areas, pc, ranks, registry, &spec.base),
            "reasons": f.reasons,
        });
        out.files
            .push(writer.write(format!("{}/postcodes/{outcode}.json", spec.base), &v)?);
    }
    out.outcodes = outcodes.len();
    out.files.push(writer.write_text(
        format!("{}/postcodes/migration.md", spec.base),
        &migration_note(pc, ranks),
    )?);
    // What `census-pipeline lookup` needs to answer from the tables.
    let v = json!({
        "table": pc.table,
        "postcodes": out.postcodes,
        "small_areas": pc.small_areas,
        "editions": pc.editions,
        "quantiles": pc.quantiles,
        "outcodes": outcodes,
    });
    out.files
        .push(writer.write(format!("{}/postcodes/index.json", spec.base), &v)?);
    Ok(out)
}

/// The original platform's quantile: floor(rank / (N / q)) + 1.
fn original_quantile(rank: f64, n: usize, q: u32) -> i64 {
    (rank / (n as f64 / q as f64)).floor() as i64 + 1
}

/// What changes for a user of the original platform's quantile endpoint:
/// per edition and quantile, how many areas get another band here.
fn migration_note(pc: &PostcodeSpec, ranks: &[Ranks]) -> String {
    let mut md = String::from(
        "# Moving from the original platform\n\n\
         Quantiles here are `ceil(rank x q / N)`, as MHCLG defines deciles. The original platform computed \
         `floor(rank / (N / q)) + 1`, which puts the last area of a nation in band q + 1 (decile 11) and moves areas \
         at band edges up by one (English 2019 rank 16,422 gets decile 6; its published decile is 5).\n\n\
         Areas whose band differs, per edition and quantile (of N areas; in brackets, those the original put in band q + 1):\n\n\
         | edition | nation | N |",
    );
    for q in &pc.quantiles {
        md.push_str(&format!(" q={q} |"));
    }
    md.push_str("\n|---|---|---|");
    md.push_str(&"---|".repeat(pc.quantiles.len()));
    md.push('\n');
    for r in ranks {
        md.push_str(&format!(
            "| {} | {} | {} |",
            r.edition.key, r.edition.nation, r.n
        ));
        for &q in &pc.quantiles {
            let (mut differ, mut beyond) = (0, 0);
            for (rank, _) in r.by_code.values() {
                let ours = (rank * q as f64 / r.n as f64).ceil() as i64;
                let theirs = original_quantile(*rank, r.n, q);
                differ += usize::from(ours != theirs);
                beyond += usize::from(theirs > q as i64);
            }
            md.push_str(&format!(" {differ} ({beyond}) |"));
        }
        md.push('\n');
    }
    md.push_str(
        "\nDeciles shown as `decile` are the publisher's own (Wales sets its band edges by hand). \
         Postcodes are answered from the postcode directory of this release, live and terminated; \
         a postcode without an answer says why (Channel Islands, Isle of Man, an LSOA split in 2021).\n",
    );
    md
}
