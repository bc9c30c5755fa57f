//! `census-pipeline lookup`: IMD for a CSV of postcodes or small-area codes,
//! offline, from a local release.
//!
//! Researchers in secure environments and audit analysts have thousands to
//! millions of rows. Every input row is written out with columns appended;
//! a row that cannot be answered (not a postcode, an unknown code, a small
//! area no index covers) keeps its place and says why in `lookup_reason`.
//! Nothing in the input stops the run but an unreadable file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::Table;
use crate::pattern::Pattern;
use crate::postcode::normalise;

/// One index edition as the release's `postcodes/index.json` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct EditionRef {
    pub key: String,
    pub nation: String,
    pub year: u32,
    pub small_area: String,
    pub pattern: Pattern,
    pub index: String,
    pub code: String,
    pub rank: String,
    pub decile: String,
}

/// What to look up.
pub struct LookupOptions {
    pub release: PathBuf,
    /// Per nation, the latest edition of this year or before (else the
    /// earliest); `None`: each nation's latest.
    pub year: Option<u32>,
    /// The input column; detected when `None`.
    pub column: Option<String>,
    pub input: PathBuf,
    /// Standard output when `None`.
    pub output: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct LookupReport {
    pub rows: usize,
    pub answered: usize,
    pub column: String,
    pub by_postcode: bool,
}

/// The appended columns.
pub const COLUMNS: [&str; 10] = [
    "postcode_normalised",
    "postcode_status",
    "small_area_code",
    "imd_nation",
    "imd_edition",
    "imd_rank",
    "imd_n",
    "imd_decile",
    "imd_quintile",
    "lookup_reason",
];

/// An edition's ranks by small-area code.
struct Edition {
    e: EditionRef,
    ranks: HashMap<String, (f64, Option<f64>)>,
    n: usize,
}

/// A small-area column's codes, and why each null is null (when said).
type SmallAreaColumn = (Vec<Option<String>>, Option<Vec<Option<String>>>);

/// The release, loaded for look-ups.
struct Release {
    editions: Vec<Edition>,
    /// Normalised postcode -> row of the postcode table.
    postcodes: HashMap<String, usize>,
    status: Vec<Option<String>>,
    /// Small-area column -> codes, and the column saying why it is null.
    small: HashMap<String, SmallAreaColumn>,
    reason: Vec<Option<String>>,
}

fn read_table(release: &Path, name: &str) -> Result<Table> {
    let path = release.join(format!("tables/{name}.parquet"));
    if !path.is_file() {
        return Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "{} is not in the release: build a release that includes `{name}` (or pass the right --release)",
                path.display()
            ),
        }));
    }
    Table::read_parquet(&path, None)
}

impl Release {
    fn load(dir: &Path, year: Option<u32>) -> Result<Release> {
        let index_path = dir.join("api/v1/postcodes/index.json");
        let text = std::fs::read(&index_path).map_err(|e| Error::io(&index_path, e))?;
        #[derive(Deserialize)]
        struct Index {
            editions: Vec<EditionRef>,
            table: String,
            small_areas: indexmap::IndexMap<String, String>,
        }
        let index: Index = serde_json::from_slice(&text).map_err(|e| {
            Error::new(ErrorKind::Usage {
                reason: format!(
                    "{} is not a postcode index of this version: {e}",
                    index_path.display()
                ),
            })
        })?;
        let mut editions = Vec::new();
        for e in choose(&index.editions, year) {
            let t = read_table(dir, &e.index)?;
            let (c, r, d) = (t.values(&e.code)?, t.values(&e.rank)?, t.values(&e.decile)?);
            let ranks: HashMap<String, (f64, Option<f64>)> = (0..c.len())
                .filter_map(|i| Some((c.text(i)?, (r.number(i)?, d.number(i)))))
                .collect();
            let n = ranks.len();
            editions.push(Edition { e, ranks, n });
        }
        let t = read_table(dir, &index.table)?;
        let codes = t.values("postcode")?.texts();
        let postcodes = codes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.clone()?, i)))
            .collect();
        let mut small = HashMap::new();
        for (col, why) in &index.small_areas {
            let why = (!why.is_empty())
                .then(|| t.values(why).map(|v| v.texts()))
                .transpose()?;
            small.insert(col.clone(), (t.values(col)?.texts(), why));
        }
        Ok(Release {
            editions,
            postcodes,
            status: t.values("status")?.texts(),
            small,
            reason: t.values("reason")?.texts(),
        })
    }

    /// The answer for a small-area code.
    fn by_area(&self, code: &str) -> Answer {
        let Some(ed) = self.editions.iter().find(|e| e.e.pattern.is_match(code)) else {
            return Answer::why(format!(
                "{code} is not a small area of any index in this release"
            ));
        };
        ed.answer(code)
    }

    /// The answer for a normalised postcode.
    fn by_postcode(&self, pc: &str) -> Answer {
        let Some(&row) = self.postcodes.get(pc) else {
            return Answer::why(format!("{pc} is not in the release's postcode directory"));
        };
        let mut why = self.reason[row].clone();
        for ed in &self.editions {
            let Some((codes, reasons)) = self.small.get(&ed.e.small_area) else {
                continue;
            };
            match &codes[row] {
                Some(code) if ed.e.pattern.is_match(code) => {
                    let mut a = ed.answer(code);
                    a.status = self.status[row].clone();
                    return a;
                }
                Some(_) => {}
                None => {
                    if let Some(r) = reasons.as_ref().and_then(|r| r[row].clone()) {
                        why.get_or_insert(format!("{}: {r}", ed.e.key));
                    }
                }
            }
        }
        let mut a = Answer::why(why.unwrap_or_else(|| {
            "no index edition of this release covers the postcode's small areas".into()
        }));
        a.status = self.status[row].clone();
        a
    }
}

impl Edition {
    fn answer(&self, code: &str) -> Answer {
        let Some(&(rank, decile)) = self.ranks.get(code) else {
            return Answer {
                small_area: Some(code.to_string()),
                reason: Some(format!("{code} is not ranked in {}", self.e.key)),
                ..Answer::default()
            };
        };
        Answer {
            small_area: Some(code.to_string()),
            nation: Some(self.e.nation.clone()),
            edition: Some(self.e.key.clone()),
            rank: Some(rank),
            n: Some(self.n),
            decile: decile.map(|d| d as i64),
            quintile: Some((rank * 5.0 / self.n as f64).ceil() as i64),
            ..Answer::default()
        }
    }
}

/// Per nation, the edition `year` selects.
fn choose(all: &[EditionRef], year: Option<u32>) -> Vec<EditionRef> {
    let mut nations: Vec<&String> = all.iter().map(|e| &e.nation).collect();
    nations.dedup();
    let mut out = Vec::new();
    for n in nations {
        let mut of: Vec<&EditionRef> = all.iter().filter(|e| &e.nation == n).collect();
        of.sort_by_key(|e| e.year);
        let pick = match year {
            None => of.last(),
            Some(y) => of.iter().rev().find(|e| e.year <= y).or(of.first()),
        };
        out.extend(pick.map(|e| (*e).clone()));
    }
    out
}

#[derive(Default)]
struct Answer {
    status: Option<String>,
    small_area: Option<String>,
    nation: Option<String>,
    edition: Option<String>,
    rank: Option<f64>,
    n: Option<usize>,
    decile: Option<i64>,
    quintile: Option<i64>,
    reason: Option<String>,
}

impl Answer {
    fn why(reason: String) -> Answer {
        Answer {
            reason: Some(reason),
            ..Answer::default()
        }
    }
}

/// A cell as text (invalid UTF-8 replaced: a bad byte never stops a run).
fn cell(rec: &csv::ByteRecord, i: usize) -> String {
    String::from_utf8_lossy(rec.get(i).unwrap_or_default()).into_owned()
}

/// Which input column to read, and whether it holds postcodes.
fn detect(
    header: &csv::ByteRecord,
    sample: &[csv::ByteRecord],
    named: Option<&str>,
    r: &Release,
) -> Result<(usize, bool)> {
    let names: Vec<String> = (0..header.len()).map(|i| cell(header, i)).collect();
    let score = |i: usize| {
        let values: Vec<String> = sample
            .iter()
            .map(|row| cell(row, i))
            .filter(|v| !v.trim().is_empty())
            .collect();
        let pcs = values.iter().filter(|v| normalise(v).is_some()).count();
        let codes = values
            .iter()
            .filter(|v| r.editions.iter().any(|e| e.e.pattern.is_match(v.trim())))
            .count();
        (pcs, codes, values.len())
    };
    if let Some(name) = named {
        let i = names.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::new(ErrorKind::Usage {
                reason: format!(
                    "--column {name:?} is not a column of the input; its columns are {names:?}"
                ),
            })
        })?;
        let (pcs, codes, _) = score(i);
        return Ok((i, pcs >= codes));
    }
    let by_name = names.iter().position(|h| {
        let h = h.trim().to_ascii_lowercase();
        h.contains("postcode") || h == "pcd" || h == "pcds"
    });
    if let Some(i) = by_name {
        return Ok((i, true));
    }
    let best = (0..names.len())
        .map(|i| (i, score(i)))
        .max_by_key(|(_, (p, c, _))| (*p).max(*c));
    match best {
        Some((i, (p, c, n))) if p.max(c) * 2 > n && n > 0 => Ok((i, p >= c)),
        _ => Err(Error::new(ErrorKind::Usage {
            reason: "no column looks like postcodes or small-area codes; name it with --column"
                .into(),
        })),
    }
}

/// The appended cells of one answer.
fn cells(norm: Option<String>, a: Answer) -> [String; 10] {
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let int = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    [
        norm.unwrap_or_default(),
        a.status.unwrap_or_default(),
        a.small_area.unwrap_or_default(),
        a.nation.unwrap_or_default(),
        a.edition.unwrap_or_default(),
        num(a.rank),
        a.n.map(|n| n.to_string()).unwrap_or_default(),
        int(a.decile),
        int(a.quintile),
        a.reason.unwrap_or_default(),
    ]
}

/// The answer for one cell.
fn answer(release: &Release, value: &str, by_postcode: bool) -> (Option<String>, Answer) {
    if value.trim().is_empty() {
        return (None, Answer::why("the cell is empty".into()));
    }
    if !by_postcode {
        return (None, release.by_area(value.trim()));
    }
    match normalise(value) {
        Some((_, pc)) => {
            let a = release.by_postcode(&pc);
            (Some(pc), a)
        }
        None => (None, Answer::why(format!("{value:?} is not a UK postcode"))),
    }
}

/// Runs a look-up.
pub fn run(opts: &LookupOptions) -> Result<LookupReport> {
    let release = Release::load(&opts.release, opts.year)?;
    let file = std::fs::File::open(&opts.input).map_err(|e| Error::io(&opts.input, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let bad = |e: csv::Error| Error::unreadable(format!("malformed CSV: {e}")).file(&opts.input);
    let header = rdr.byte_headers().map_err(bad)?.clone();
    let mut records = rdr.byte_records();
    let mut sample = Vec::new();
    for rec in records.by_ref().take(200) {
        sample.push(rec.map_err(bad)?);
    }
    let (col, by_postcode) = detect(&header, &sample, opts.column.as_deref(), &release)?;
    let out: Box<dyn Write> = match &opts.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| Error::io(p, e))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(std::io::BufWriter::with_capacity(1 << 20, out));
    let mut head = header.clone();
    COLUMNS.iter().for_each(|c| head.push_field(c.as_bytes()));
    w.write_byte_record(&head).map_err(write_error)?;
    let mut report = LookupReport {
        column: cell(&header, col),
        by_postcode,
        ..LookupReport::default()
    };
    let width = header.len();
    let mut row = csv::ByteRecord::new();
    let mut one = |rec: &csv::ByteRecord, w: &mut csv::Writer<_>| -> Result<()> {
        let (norm, a) = answer(&release, &cell(rec, col), by_postcode);
        report.rows += 1;
        report.answered += usize::from(a.rank.is_some());
        row.clear();
        for i in 0..width {
            row.push_field(rec.get(i).unwrap_or_default());
        }
        for f in cells(norm, a) {
            row.push_field(f.as_bytes());
        }
        w.write_byte_record(&row).map_err(write_error)
    };
    for rec in &sample {
        one(rec, &mut w)?;
    }
    for rec in records {
        one(&rec.map_err(bad)?, &mut w)?;
    }
    w.flush()
        .map_err(|e| Error::io(opts.output.as_deref().unwrap_or(Path::new("-")), e))?;
    Ok(report)
}

fn write_error(e: csv::Error) -> Error {
    Error::unreadable(format!("cannot write the output: {e}"))
}
