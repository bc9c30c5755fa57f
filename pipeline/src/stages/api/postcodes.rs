//! Phase 4 of the API: one compact file per postcode outcode.
//!
//! A file maps each postcode to its status and a *place*: the country,
//! local authority, ward and small areas it shares with its neighbours
//! (most postcodes of an outcode share a handful). Each small area's
//! deprivation (rank, N, decile, quintile and every quantile the original
//! platform accepts) appears once per file, under `areas`, and a reason
//! shared by many postcodes is written once under `reasons` and referred
//! to by number.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::registers::Registry;
use super::writer::Writer;
use super::{ApiStage, Edition, PostcodeSpec};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Cells, Table};
use crate::hash::HashMap;
use crate::release::FileEntry;

pub use crate::postcode::normalise as normalise_postcode;

/// What the postcode files were.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<FileEntry>,
    pub postcodes: usize,
    pub outcodes: usize,
}

/// One edition's ranks: code -> (rank, published decile, published
/// quintile where there is one), and N.
struct Ranks {
    edition: Edition,
    by_code: HashMap<String, (f64, Option<f64>, Option<f64>)>,
    n: usize,
}

impl Ranks {
    fn load(e: &Edition, inputs: &Frames<'_>) -> Result<Option<Ranks>> {
        let Some(t) = inputs.get(&e.index) else {
            return Ok(None);
        };
        let (c, r, d) = (t.values(&e.code)?, t.values(&e.rank)?, t.values(&e.decile)?);
        let q = e.quintile.as_ref().map(|q| t.values(q)).transpose()?;
        let by_code: HashMap<String, (f64, Option<f64>, Option<f64>)> = (0..c.len())
            .filter_map(|i| {
                let quintile = q.as_ref().and_then(|q| q.number(i));
                Some((c.text(i)?, (r.number(i)?, d.number(i), quintile)))
            })
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
        let (rank, decile, quintile) = *self.by_code.get(code)?;
        let band = |q: u32| (rank * q as f64 / self.n.max(1) as f64).ceil() as i64;
        // A whole rank is an integer; SIMD's tied ranks are means (4563.5).
        let rank = match rank.fract() == 0.0 {
            true => json!(rank as i64),
            false => json!(rank),
        };
        Some(json!({
            "rank": rank,
            "n": self.n,
            "decile": decile.map(|d| d as i64),
            "quintile": quintile.map_or(band(5), |q| q as i64),
            "quantiles": quantiles.iter().map(|q| band(*q)).collect::<Vec<_>>(),
        }))
    }

    /// Whether the edition ranks a place's small area (`small`: each
    /// small-area column's name and code).
    fn answers(&self, small: &[(&str, Option<&str>)]) -> bool {
        small
            .iter()
            .find(|(c, _)| *c == self.edition.small_area)
            .and_then(|(_, code)| *code)
            .is_some_and(|code| {
                self.edition.pattern.is_match(code) && self.by_code.contains_key(code)
            })
    }
}

/// The postcode table's columns (millions of rows at full scale).
struct Columns {
    postcode: Cells,
    status: Cells,
    terminated: Cells,
    country: Cells,
    lad: Cells,
    ward: Cells,
    reason: Cells,
    small: Vec<(String, Cells, Option<Cells>)>,
}

impl Columns {
    fn read(pc: &PostcodeSpec, t: &Table) -> Result<Columns> {
        // Text only: a code read as a number would be published as null.
        let text = |name: &String| match t.cells(name)? {
            c @ Cells::Str(_) => Ok(c),
            _ => Err(Error::table(format!(
                "column `{name}` must be text (codes, dates and reasons are published as written)"
            ))),
        };
        let small = pc
            .small_areas
            .iter()
            .map(|(c, why)| {
                let why = (!why.is_empty()).then(|| text(why)).transpose()?;
                Ok((c.clone(), text(c)?, why))
            })
            .collect::<Result<_>>()?;
        let postcode = text(&pc.postcode)?;
        // Read with the postcodes, to order them (see `Plan`).
        text(&pc.outcode)?;
        Ok(Columns {
            postcode,
            status: text(&pc.status)?,
            terminated: text(&pc.terminated)?,
            country: text(&pc.country)?,
            lad: text(&pc.local_authority)?,
            ward: text(&pc.ward)?,
            reason: text(&pc.reason)?,
            small,
        })
    }

    /// The cells of `rows`, borrowed, in that order: a chunk of outcodes
    /// at a time, so that millions of rows are never all held as slices.
    fn strs<'a>(&'a self, rows: &[usize]) -> Strs<'a> {
        fn col<'c>(c: &'c Cells, rows: &[usize]) -> Col<'c> {
            rows.iter().map(|&i| c.str(i)).collect()
        }
        let col = |c: &'a Cells| col(c, rows);
        Strs {
            postcode: col(&self.postcode),
            status: col(&self.status),
            terminated: col(&self.terminated),
            country: col(&self.country),
            lad: col(&self.lad),
            ward: col(&self.ward),
            reason: col(&self.reason),
            small: self
                .small
                .iter()
                .map(|(c, v, why)| {
                    let name = c.trim_end_matches("_code");
                    (c.as_str(), name, col(v), why.as_ref().map(col))
                })
                .collect(),
        }
    }
}

type Col<'a> = Vec<Option<&'a str>>;

/// The postcode table's text cells by column.
struct Strs<'a> {
    postcode: Col<'a>,
    status: Col<'a>,
    terminated: Col<'a>,
    country: Col<'a>,
    lad: Col<'a>,
    ward: Col<'a>,
    reason: Col<'a>,
    /// Column, name in the files, codes, and why a code is null.
    small: Vec<(&'a str, &'a str, Col<'a>, Option<Col<'a>>)>,
}

impl<'a> Strs<'a> {
    /// What makes row `i`'s place: country, local authority, ward, each
    /// small area's code (or, when null, why), and the row's reason.
    fn place_key(&self, i: usize) -> Vec<Option<&'a str>> {
        let mut k = vec![self.country[i], self.lad[i], self.ward[i], self.reason[i]];
        for (_, _, codes, why) in &self.small {
            k.push(codes[i]);
            k.push(match codes[i] {
                Some(_) => None,
                None => why.as_ref().and_then(|w| w[i]),
            });
        }
        k
    }
}

/// One outcode file being assembled.
#[derive(Default)]
struct OutcodeFile<'a> {
    /// The `postcodes` object's members, as JSON.
    postcodes: Vec<u8>,
    count: usize,
    places: Vec<Value>,
    /// Per place: whether some edition ranks its small area.
    answered: Vec<bool>,
    place_of: HashMap<Vec<Option<&'a str>>, usize>,
    reasons: Vec<String>,
    reason_of: HashMap<&'a str, usize>,
    areas: BTreeSet<&'a str>,
    /// Country -> (postcodes, postcodes some edition answers).
    by_country: BTreeMap<&'a str, (usize, usize)>,
}

impl<'a> OutcodeFile<'a> {
    fn reason(&mut self, text: &'a str) -> usize {
        if let Some(i) = self.reason_of.get(text) {
            return *i;
        }
        self.reasons.push(text.to_string());
        self.reason_of.insert(text, self.reasons.len() - 1);
        self.reasons.len() - 1
    }

    /// The place of row `i`, added if new.
    fn place(&mut self, s: &Strs<'a>, ranks: &[Ranks], i: usize) -> usize {
        let key = s.place_key(i);
        if let Some(at) = self.place_of.get(&key) {
            return *at;
        }
        let mut small = Map::new();
        let mut why = Map::new();
        let mut codes = Vec::with_capacity(s.small.len());
        for (col, name, v, reason) in &s.small {
            codes.push((*col, v[i]));
            match v[i] {
                Some(code) => {
                    self.areas.insert(code);
                    small.insert(name.to_string(), json!(code));
                }
                None => {
                    if let Some(r) = reason.as_ref().and_then(|r| r[i]) {
                        why.insert(name.to_string(), json!(self.reason(r)));
                    }
                }
            }
        }
        let mut p = Map::new();
        p.insert("country".into(), json!(s.country[i]));
        p.insert("lad".into(), json!(s.lad[i]));
        p.insert("ward".into(), json!(s.ward[i]));
        p.insert("small_areas".into(), Value::Object(small));
        if !why.is_empty() {
            p.insert("missing".into(), Value::Object(why));
        }
        if let Some(r) = s.reason[i] {
            p.insert("reason".into(), json!(self.reason(r)));
        }
        self.places.push(Value::Object(p));
        self.answered.push(ranks.iter().any(|r| r.answers(&codes)));
        self.place_of.insert(key, self.places.len() - 1);
        self.places.len() - 1
    }

    /// Adds row `i`'s postcode.
    fn add(&mut self, s: &Strs<'a>, ranks: &[Ranks], i: usize, postcode: &str) -> Result<()> {
        let place = self.place(s, ranks, i);
        let e = self
            .by_country
            .entry(s.country[i].unwrap_or_default())
            .or_default();
        e.0 += 1;
        e.1 += usize::from(self.answered[place]);
        let w = &mut self.postcodes;
        if self.count > 0 {
            w.push(b',');
        }
        self.count += 1;
        serde_json::to_writer(&mut *w, postcode).map_err(Error::table)?;
        w.extend_from_slice(b":{\"status\":");
        serde_json::to_writer(&mut *w, &s.status[i]).map_err(Error::table)?;
        if let Some(t) = s.terminated[i] {
            w.extend_from_slice(b",\"terminated\":");
            serde_json::to_writer(&mut *w, t).map_err(Error::table)?;
        }
        w.extend_from_slice(format!(",\"place\":{place}}}").as_bytes());
        Ok(())
    }
}

/// A run of rows of one outcode: positions in the sorted order.
type Run = (String, Range<usize>);

/// Where the postcode table's rows are read from. It has millions of rows
/// at full scale, so the release's Parquet file is read a batch of outcodes
/// at a time: held whole, its text cells alone were about 600 MB (16 bytes
/// a cell), which set the build's peak memory.
pub struct PostcodeRows<'a> {
    from: Origin<'a>,
    /// Rows read at once, about: a batch holds whole outcodes.
    batch_rows: usize,
}

/// The table's file in the release, or the table in memory.
enum Origin<'a> {
    File(&'a Path),
    Table(&'a Table),
}

/// Four of a table's row groups.
const BATCH_ROWS: usize = 4 * crate::frame::ROW_GROUP;

impl<'a> PostcodeRows<'a> {
    pub fn file(path: &'a Path) -> Self {
        PostcodeRows {
            from: Origin::File(path),
            batch_rows: BATCH_ROWS,
        }
    }

    pub fn table(t: &'a Table) -> Self {
        PostcodeRows {
            from: Origin::Table(t),
            batch_rows: BATCH_ROWS,
        }
    }

    #[cfg(test)]
    pub fn in_batches_of(self, batch_rows: usize) -> Self {
        PostcodeRows { batch_rows, ..self }
    }

    /// `columns` (all when `None`) of `rows` (all when `None`).
    fn read(&self, columns: Option<Vec<String>>, rows: Option<Range<usize>>) -> Result<Table> {
        match self.from {
            Origin::File(path) => Table::read_parquet_rows(path, columns, rows),
            Origin::Table(t) => Ok(match rows {
                Some(r) => t.slice(r),
                None => t.clone(),
            }),
        }
    }
}

/// Rows sorted by outcode and postcode (the postcode stage writes them so,
/// and then this is one pass), and each outcode's run of them.
fn outcode_runs(outcode: &Cells, postcode: &Cells, table: &str) -> Result<(Vec<usize>, Vec<Run>)> {
    let (outcode, postcode) = (outcode.strs(), postcode.strs());
    let mut order: Vec<usize> = (0..postcode.len())
        .filter(|&i| outcode[i].is_some() && postcode[i].is_some())
        .collect();
    let key = |i: usize| (outcode[i], postcode[i]);
    if !order.is_sorted_by(|&a, &b| key(a) <= key(b)) {
        order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    }
    if let Some(w) = order.windows(2).find(|w| key(w[0]) == key(w[1])) {
        return Err(Error::check(
            table,
            "postcodes_unique",
            format!(
                "postcode {:?} is on two rows ({} and {}): an outcode file maps each postcode once",
                postcode[w[0]].unwrap_or_default(),
                w[0] + 1,
                w[1] + 1
            ),
            Vec::new(),
        ));
    }
    let mut runs: Vec<Run> = Vec::new();
    for (at, &i) in order.iter().enumerate() {
        let o = outcode[i].unwrap_or_default();
        match runs.last_mut() {
            Some((last, r)) if last == o => r.end = at + 1,
            _ => runs.push((o.to_string(), at..at + 1)),
        }
    }
    Ok((order, runs))
}

/// The rows in outcode order, and the batches of outcodes read at once.
struct Plan {
    /// Row numbers in outcode and postcode order.
    order: Vec<usize>,
    runs: Vec<Run>,
    /// Whether `order` is the table's own (then a batch is a slice of it).
    in_table_order: bool,
}

impl Plan {
    fn new(pc: &PostcodeSpec, rows: &PostcodeRows<'_>) -> Result<Plan> {
        let mut keys = vec![pc.outcode.clone()];
        if pc.postcode != pc.outcode {
            keys.push(pc.postcode.clone());
        }
        let t = rows.read(Some(keys), None)?;
        let (order, runs) =
            outcode_runs(&t.cells(&pc.outcode)?, &t.cells(&pc.postcode)?, &pc.table)?;
        Ok(Plan {
            in_table_order: order.windows(2).all(|w| w[0] < w[1]),
            order,
            runs,
        })
    }

    /// Runs of outcodes of about `batch_rows` rows each (all in one when
    /// the table is not in outcode order).
    fn batches(&self, batch_rows: usize) -> Vec<&[Run]> {
        if self.runs.is_empty() {
            return Vec::new();
        }
        if !self.in_table_order {
            return vec![&self.runs[..]];
        }
        let mut out = Vec::new();
        let mut from = 0;
        for (i, (_, r)) in self.runs.iter().enumerate() {
            if r.end - self.runs[from].1.start >= batch_rows || i + 1 == self.runs.len() {
                out.push(&self.runs[from..=i]);
                from = i + 1;
            }
        }
        out
    }

    /// The table's rows a batch covers (`None`: all of them), and its
    /// rows' positions among them in outcode order.
    fn rows_of(&self, batch: &[Run]) -> (Option<Range<usize>>, Vec<usize>) {
        let (p0, p1) = (batch[0].1.start, batch[batch.len() - 1].1.end);
        let order = &self.order[p0..p1];
        if !self.in_table_order {
            return (None, order.to_vec());
        }
        let span = order[0]..order[order.len() - 1] + 1;
        let local = order.iter().map(|&i| i - span.start).collect();
        (Some(span), local)
    }
}

pub fn write_all(
    spec: &ApiStage,
    pc: &PostcodeSpec,
    rows: &PostcodeRows<'_>,
    registry: &Registry,
    inputs: &Frames<'_>,
    writer: &Writer,
) -> Result<Written> {
    let ctx = |e: Error| e.source_id(pc.table.clone()).stage("api");
    // Every column's type is checked before a row is read.
    let columns = spec.columns_of(&pc.table);
    let types = rows.read(columns.clone(), Some(0..0)).map_err(ctx)?;
    Columns::read(pc, &types).map_err(ctx)?;
    let mut ranks = Vec::new();
    for e in &pc.editions {
        ranks.extend(Ranks::load(e, inputs).map_err(ctx)?);
    }
    let plan = Plan::new(pc, rows).map_err(ctx)?;
    let mut out = Outcodes::new(spec, pc, &ranks, registry, inputs, writer)?;
    for batch in plan.batches(rows.batch_rows) {
        let (span, local) = plan.rows_of(batch);
        let table = rows.read(columns.clone(), span).map_err(ctx)?;
        let cols = Columns::read(pc, &table).map_err(ctx)?;
        for w in write_batch(&cols, &local, batch, &ranks, &out)? {
            out.record(w);
        }
    }
    out.finish()
}

/// Writes a batch's outcode files, in parallel a chunk of outcodes at a
/// time: only the files being assembled, and their rows' cells, are held
/// as slices. `local`: the batch's rows in outcode order.
fn write_batch(
    cols: &Columns,
    local: &[usize],
    batch: &[Run],
    ranks: &[Ranks],
    out: &Outcodes<'_>,
) -> Result<Vec<Done>> {
    let p0 = batch[0].1.start;
    let chunks: Vec<&[Run]> = batch.chunks(64).collect();
    let done = crate::par::parallel_map(&chunks, |chunk| {
        let start = chunk.first().map_or(0, |(_, r)| r.start) - p0;
        let end = chunk.last().map_or(0, |(_, r)| r.end) - p0;
        let s = cols.strs(&local[start..end]);
        chunk
            .iter()
            .map(|(outcode, range)| {
                let mut f = OutcodeFile::default();
                for j in range.start - p0 - start..range.end - p0 - start {
                    f.add(&s, ranks, j, s.postcode[j].unwrap_or_default())?;
                }
                out.write(outcode, f)
            })
            .collect::<Result<Vec<_>>>()
    });
    let mut all = Vec::new();
    for chunk in done {
        all.extend(chunk?);
    }
    Ok(all)
}

/// Each small area's deprivation in every edition that ranks it, and a
/// link to its own file where the API has one.
fn areas_of(
    codes: &BTreeSet<String>,
    pc: &PostcodeSpec,
    ranks: &[Ranks],
    registry: &Registry,
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
            // Relative, so that it resolves wherever the release is served
            // from (a bucket puts it under `releases/<version>/`).
            a.insert("href".into(), json!(format!("../areas/{code}.json")));
        }
        out.insert(code.clone(), Value::Object(a));
    }
    out
}

/// What each edition is, for the files' readers, with how its deciles
/// were computed where the publisher's are not among the inputs (WIMD
/// 2025, NIMDM 2017): an answer's decile is then not the publisher's.
fn editions_of(ranks: &[Ranks], inputs_missing: &[&Edition], inputs: &Frames<'_>) -> Value {
    let mut m = Map::new();
    for r in ranks {
        let e = &r.edition;
        let mut v = json!({"nation": e.nation, "country": e.country, "year": e.year, "index": e.index, "small_area": e.small_area.trim_end_matches("_code"), "n": r.n});
        if let Some(why) = inputs.computed_of(&e.index, &e.decile) {
            v["decile_computed"] = json!(why);
        }
        m.insert(e.key.clone(), v);
    }
    for e in inputs_missing {
        m.insert(
            e.key.clone(),
            json!({"nation": e.nation, "country": e.country, "year": e.year, "index": e.index, "small_area": e.small_area.trim_end_matches("_code"), "unavailable": "the index table is not in this release"}),
        );
    }
    Value::Object(m)
}

/// One written outcode file and what it counted.
struct Done {
    outcode: String,
    count: usize,
    file: FileEntry,
    by_country: Vec<(String, (usize, usize))>,
}

/// Writes outcode files as they are completed, then the index and the
/// migration note.
struct Outcodes<'a> {
    spec: &'a ApiStage,
    pc: &'a PostcodeSpec,
    ranks: &'a [Ranks],
    registry: &'a Registry,
    writer: &'a Writer<'a>,
    editions: Value,
    outcodes: Vec<Value>,
    written: Written,
    /// Country -> (postcodes, postcodes some edition answers).
    by_country: BTreeMap<String, (usize, usize)>,
}

impl<'a> Outcodes<'a> {
    fn new(
        spec: &'a ApiStage,
        pc: &'a PostcodeSpec,
        ranks: &'a [Ranks],
        registry: &'a Registry,
        inputs: &Frames<'_>,
        writer: &'a Writer<'a>,
    ) -> Result<Outcodes<'a>> {
        writer.dir(&format!("{}/postcodes", spec.base))?;
        let missing: Vec<&Edition> = pc
            .editions
            .iter()
            .filter(|e| !ranks.iter().any(|r| r.edition.key == e.key))
            .collect();
        Ok(Outcodes {
            spec,
            pc,
            ranks,
            registry,
            writer,
            editions: editions_of(ranks, &missing, inputs),
            outcodes: Vec::new(),
            written: Written::default(),
            by_country: BTreeMap::new(),
        })
    }

    /// Writes one outcode's file (from any thread).
    fn write(&self, outcode: &str, f: OutcodeFile<'_>) -> Result<Done> {
        // The name becomes a path: only a real outcode may.
        let valid =
            crate::postcode::normalise(&format!("{outcode}9AA")).is_some_and(|(o, _)| o == outcode);
        if !valid {
            return Err(Error::check(
                &self.pc.table,
                "outcodes_valid",
                format!(
                    "column `{}` holds {outcode:?}, which is not an outcode",
                    self.pc.outcode
                ),
                Vec::new(),
            ));
        }
        let areas: BTreeSet<String> = f.areas.iter().map(|a| a.to_string()).collect();
        let areas = areas_of(&areas, self.pc, self.ranks, self.registry);
        let mut b = Vec::with_capacity(f.postcodes.len() + 4096);
        let head = json!({
            "outcode": outcode,
            "count": f.count,
            "caveats": self.pc.caveats,
            "editions": self.editions,
            "quantiles": self.pc.quantiles,
        });
        let head = serde_json::to_vec(&head).map_err(Error::table)?;
        // The object's members in the order readers have always seen:
        // the head's, then postcodes, places, areas and reasons.
        b.extend_from_slice(&head[..head.len() - 1]);
        b.extend_from_slice(b",\"postcodes\":{");
        b.extend_from_slice(&f.postcodes);
        b.extend_from_slice(b"},\"places\":");
        serde_json::to_writer(&mut b, &f.places).map_err(Error::table)?;
        b.extend_from_slice(b",\"areas\":");
        serde_json::to_writer(&mut b, &areas).map_err(Error::table)?;
        b.extend_from_slice(b",\"reasons\":");
        serde_json::to_writer(&mut b, &f.reasons).map_err(Error::table)?;
        b.push(b'}');
        let base = &self.spec.base;
        let file = self
            .writer
            .write_bytes(format!("{base}/postcodes/{outcode}.json"), b)?;
        Ok(Done {
            outcode: outcode.to_string(),
            count: f.count,
            file,
            by_country: f
                .by_country
                .into_iter()
                .map(|(c, n)| (c.to_string(), n))
                .collect(),
        })
    }

    /// Counts a written outcode file, in outcode order.
    fn record(&mut self, d: Done) {
        self.outcodes
            .push(json!({"outcode": d.outcode, "postcodes": d.count}));
        self.written.postcodes += d.count;
        self.written.files.push(d.file);
        for (c, (all, answered)) in d.by_country {
            let e = self.by_country.entry(c).or_default();
            e.0 += all;
            e.1 += answered;
        }
    }

    fn finish(mut self) -> Result<Written> {
        let base = &self.spec.base;
        self.written.outcodes = self.outcodes.len();
        self.written.files.push(self.writer.write_text(
            format!("{base}/postcodes/migration.md"),
            &migration_note(self.pc, self.ranks, &self.by_country),
        )?);
        // What `census-pipeline lookup` needs to answer from the tables.
        let v = json!({
            "table": self.pc.table,
            "postcodes": self.written.postcodes,
            "small_areas": self.pc.small_areas,
            "editions": self.pc.editions,
            // N of each edition in this release, for readers of area files.
            "n": self.ranks.iter().map(|r| (r.edition.key.clone(), r.n)).collect::<BTreeMap<_, _>>(),
            "quantiles": self.pc.quantiles,
            "outcodes": self.outcodes,
        });
        self.written.files.push(
            self.writer
                .write(format!("{base}/postcodes/index.json"), &v)?,
        );
        Ok(self.written)
    }
}

/// The original platform's quantile: floor(rank / (N / q)) + 1.
fn original_quantile(rank: f64, n: usize, q: u32) -> i64 {
    (rank / (n as f64 / q as f64)).floor() as i64 + 1
}

/// What changes for a user of the original platform's quantile endpoint:
/// per edition and quantile, how many areas get another band here.
fn migration_note(
    pc: &PostcodeSpec,
    ranks: &[Ranks],
    by_country: &BTreeMap<String, (usize, usize)>,
) -> String {
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
            for (rank, _, _) in r.by_code.values() {
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
        "\nThe original's quantile endpoint answered from IMD 2019 (England) and WIMD 2019 (Wales): \
         ask for the edition of year 2019 for the same edition; the 2025 editions rank the areas afresh, on LSOA 2021. \
         `decile` is the index table's `imd_decile` (the publisher's own, where it publishes one: the data package says \
         which are computed); `quintile` is the publisher's where the edition declares one (Wales), else ceil(rank x 5 / N); \
         `quantiles` are always ceil(rank x q / N), so at Wales's hand-set band edges they can differ from `decile`.\n\n\
         Postcodes of this release, by country (a postcode is answered when some edition ranks its small area; \
         the others say why in their place's `reason` or `missing`):\n\n| country | postcodes | answered |\n|---|---|---|\n",
    );
    for (country, (all, answered)) in by_country {
        let name = if country.is_empty() {
            "(none given)"
        } else {
            country.as_str()
        };
        md.push_str(&format!("| {name} | {all} | {answered} |\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(lengths: &[usize], in_table_order: bool) -> Plan {
        let mut runs = Vec::new();
        let mut at = 0;
        for (i, n) in lengths.iter().enumerate() {
            runs.push((format!("A{i}"), at..at + n));
            at += n;
        }
        Plan {
            order: (0..at).collect(),
            runs,
            in_table_order,
        }
    }

    fn sizes(batches: Vec<&[Run]>) -> Vec<Vec<usize>> {
        batches
            .iter()
            .map(|b| b.iter().map(|(_, r)| r.len()).collect())
            .collect()
    }

    #[test]
    fn a_batch_holds_whole_outcodes_until_it_reaches_its_size() {
        let p = plan(&[2, 2, 5, 1, 1, 1], true);
        assert_eq!(
            sizes(p.batches(3)),
            vec![vec![2, 2], vec![5], vec![1, 1, 1]]
        );
        // An outcode larger than a batch is one batch of its own.
        assert_eq!(
            sizes(p.batches(1)),
            vec![vec![2], vec![2], vec![5], vec![1], vec![1], vec![1]]
        );
        assert_eq!(p.batches(100).len(), 1);
        assert!(plan(&[], true).batches(3).is_empty());
    }

    #[test]
    fn rows_out_of_order_are_one_batch_read_whole() {
        let p = plan(&[2, 2, 5], false);
        let batches = p.batches(1);
        assert_eq!(batches.len(), 1);
        assert_eq!(p.rows_of(batches[0]), (None, (0..9).collect()));
    }

    #[test]
    fn a_batch_is_the_slice_of_rows_it_covers() {
        // Rows 0 and 3 lack a postcode: positions skip them.
        let p = Plan {
            order: vec![1, 2, 4, 5],
            runs: vec![("A".into(), 0..2), ("B".into(), 2..4)],
            in_table_order: true,
        };
        let b = p.batches(2);
        assert_eq!(p.rows_of(b[0]), (Some(1..3), vec![0, 1]));
        assert_eq!(p.rows_of(b[1]), (Some(4..6), vec![0, 1]));
    }
}
