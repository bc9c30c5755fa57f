//! `census-pipeline lookup`: IMD for a CSV of postcodes or small-area codes,
//! offline, from a local release.
//!
//! Researchers in secure environments and audit analysts have thousands to
//! millions of rows. Every input row is written out with columns appended;
//! a row that cannot be answered (not a postcode, an unknown code, a small
//! area no index covers) keeps its place and says why in `lookup_reason`, and
//! so does a blank line between rows (a patient whose postcode is missing).
//! Nothing in the input stops the run but an unreadable file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::{Cells, Table};
use crate::hash::HashMap;
use crate::postcode::{normalise, Compact};
use crate::read::blank_rows::{is_blank, BlankRowsKept, TrailingBlankRowsDropped};
use crate::read::bounded::{Bounded, Exceeded};
// One index edition as the release's `postcodes/index.json` lists it: the
// API stage writes its spec's editions there as they are.
use crate::stages::api::Edition as EditionRef;

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
    /// The first row was data, so columns are named `column_1`, ...
    pub headerless: bool,
    /// Nations with no edition of `--year` or before, each answered from
    /// its earliest edition instead, said in words.
    pub later_than_year: Vec<String>,
    /// The release's version, from its manifest, so that an audit can
    /// record where its answers came from (`None`: no readable manifest).
    pub release_version: Option<String>,
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
type SmallAreaColumn = (Cells, Option<Cells>);

/// The release, loaded for look-ups (columns borrowed from the Parquet
/// tables: a full directory has 2.7 million postcodes).
struct Release {
    editions: Vec<Edition>,
    /// Normalised postcode -> row of the postcode table.
    postcodes: HashMap<Compact, u32>,
    status: Cells,
    /// Small-area column -> codes, and the column saying why it is null.
    small: HashMap<String, SmallAreaColumn>,
    reason: Cells,
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

/// The postcode index of the release's newest API version
/// (`api/v<N>/postcodes/index.json`, the largest N that has one).
fn postcode_index(dir: &Path) -> Option<PathBuf> {
    let of = |v: &str| dir.join(format!("api/{v}/postcodes/index.json"));
    std::fs::read_dir(dir.join("api"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|v| Some((crate::package::api_version(&v)?, v)))
        .filter(|(_, v)| of(v).is_file())
        .max()
        .map(|(_, v)| of(&v))
}

impl Release {
    fn load(dir: &Path, year: Option<u32>) -> Result<Release> {
        // Stored gzip-encoded, as every file of the API (see `gz`).
        let Some(index_path) = postcode_index(dir) else {
            return Err(Error::new(ErrorKind::Usage {
                reason: format!(
                    "{} has no postcode index (api/v<N>/postcodes/index.json): pass --release with a release directory written by `census-pipeline build`",
                    dir.display(),
                ),
            }));
        };
        // A file there but unreadable (a truncated copy) says so.
        let text = crate::gz::read(&index_path)?;
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
        let codes = t.cells("postcode")?;
        let postcodes = (0..codes.len())
            .filter_map(|i| Some((Compact::new(codes.str(i)?), i as u32)))
            .collect();
        let mut small = HashMap::default();
        for (col, why) in &index.small_areas {
            let why = (!why.is_empty()).then(|| t.cells(why)).transpose()?;
            small.insert(col.clone(), (t.cells(col)?, why));
        }
        Ok(Release {
            editions,
            postcodes,
            status: t.cells("status")?,
            small,
            reason: t.cells("reason")?,
        })
    }

    /// Whether `code` is of a small area of an edition the run answers from.
    fn is_area_code(&self, code: &str) -> bool {
        code_shaped(code) && self.editions.iter().any(|e| e.e.pattern.is_match(code))
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
        let Some(&row) = self.postcodes.get(&Compact::new(pc)) else {
            return Answer::why(format!("{pc} is not in the release's postcode directory"));
        };
        let row = row as usize;
        let mut why = self.reason.text(row);
        for ed in &self.editions {
            let Some((codes, reasons)) = self.small.get(&ed.e.small_area) else {
                continue;
            };
            match codes.str(row) {
                Some(code) if ed.e.pattern.is_match(code) => {
                    let mut a = ed.answer(code);
                    a.status = self.status.text(row);
                    return a;
                }
                Some(_) => {}
                None => {
                    if let Some(r) = reasons.as_ref().and_then(|r| r.str(row)) {
                        let geo = ed.e.small_area.trim_end_matches("_code");
                        why.get_or_insert(format!("no {geo}: {r}"));
                    }
                }
            }
        }
        let mut a = Answer::why(why.unwrap_or_else(|| {
            "no index edition of this release covers the postcode's small areas".into()
        }));
        a.status = self.status.text(row);
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
            .filter(|v| r.is_area_code(&area_code(v)))
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
    // A column named for postcodes, if its values bear it out (not
    // `postcode_valid` or `postcode_district`).
    let by_name = names.iter().position(|h| {
        let h = h.trim().to_ascii_lowercase().replace([' ', '_'], "");
        matches!(h.as_str(), "postcode" | "pcd" | "pcds" | "pcd2")
    });
    if let Some(i) = by_name {
        let (pcs, _, n) = score(i);
        let better_elsewhere = (0..names.len()).any(|j| j != i && score(j).0 > pcs);
        if n == 0 || pcs * 2 >= n || !better_elsewhere {
            return Ok((i, true));
        }
    }
    let best = (0..names.len())
        .map(|i| (i, score(i)))
        .max_by_key(|(_, (p, c, _))| (*p).max(*c));
    match best {
        Some((i, (p, c, n))) if p.max(c) * 2 > n && n > 0 => Ok((i, p >= c)),
        _ => Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "no column looks like postcodes or small-area codes; name it with --column{}",
                other_separator(&names)
            ),
        })),
    }
}

/// A hint when the header looks separated by something other than commas
/// (a spreadsheet saved with `;` or tabs reads as one column).
fn other_separator(names: &[String]) -> &'static str {
    match names {
        [one] if one.contains(';') => {
            " (the header holds `;`: save the file as comma-separated values)"
        }
        [one] if one.contains('\t') => {
            " (the header holds tabs: save the file as comma-separated values)"
        }
        _ => "",
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

/// A small-area code as the indices write it: codes are upper case
/// (E01000001, S01006506, 95AA01S1), whatever case a list was typed in.
fn area_code(value: &str) -> String {
    value.trim().to_ascii_uppercase()
}

/// Whether `code` has the whole shape of a small-area code: a GSS code
/// (a letter and eight digits: E01000001, S01006506) or a Northern Irish
/// Super Output Area (95AA01S1, 95AA02W1, 95UU99C1). The editions' patterns check
/// only a prefix, which a header such as `w01` or a typo such as `95`
/// would pass.
fn code_shaped(code: &str) -> bool {
    let b = code.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    match b {
        [first, rest @ ..] if b.len() == 9 && first.is_ascii_uppercase() && digits(rest) => true,
        // S, W or C (95UU99C1): the kind of area the SOA was built from.
        [b'9', b'5', l1, l2, d1, d2, kind, n @ ..] => {
            l1.is_ascii_uppercase()
                && l2.is_ascii_uppercase()
                && digits(&[*d1, *d2])
                && kind.is_ascii_uppercase()
                && (1..=2).contains(&n.len())
                && digits(n)
        }
        _ => false,
    }
}

/// The answer for one cell.
fn answer(release: &Release, value: &str, by_postcode: bool) -> (Option<String>, Answer) {
    if value.trim().is_empty() {
        return (None, Answer::why("the cell is empty".into()));
    }
    if !by_postcode {
        return (None, release.by_area(&area_code(value)));
    }
    match normalise(value) {
        Some((_, pc)) => {
            let a = release.by_postcode(&pc);
            (Some(pc), a)
        }
        // A list may mix postcodes with small-area codes (a patient whose
        // postcode is withheld).
        None if release.is_area_code(&area_code(value)) => {
            (None, release.by_area(&area_code(value)))
        }
        None => (None, Answer::why(format!("{value:?} is not a UK postcode"))),
    }
}

/// The input's records after the first, streamed.
type Records = TrailingBlankRowsDropped<
    csv::ByteRecordsIntoIter<std::io::BufReader<BlankRowsKept<Bounded<std::fs::File>>>>,
>;

/// The input: its header (or names made up for a file without one), the
/// first rows (read to find the column) and the rest, streamed.
struct Input {
    header: csv::ByteRecord,
    headerless: bool,
    sample: Vec<csv::ByteRecord>,
    rest: Records,
}

impl Input {
    fn open(path: &Path, release: &Release, named: Option<&str>) -> Result<Input> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // Lines and fields are capped: one 1 GB line must not take 7 GB.
        let limits = crate::read::Limits {
            max_bytes: u64::MAX,
            ..Default::default()
        };
        let bounded = Bounded::lines(file, &limits);
        let mut raw = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(std::io::BufReader::with_capacity(
                1 << 20,
                BlankRowsKept::new(bounded),
            ))
            .into_byte_records();
        let bad = |e: csv::Error| malformed(e, path);
        // Blank rows before the first with content are nothing before a
        // header, but patients without a postcode before a headerless
        // file's first: counted until that is known.
        let mut leading = 0;
        let first = loop {
            match raw.next().transpose().map_err(bad)? {
                Some(rec) if is_blank(&rec) => leading += 1,
                Some(rec) => break rec,
                None => return Err(usage(format!("{} is empty", path.display()))),
            }
        };
        // A first row of postcodes or codes is data, not a header.
        let looks_like_data = named.is_none()
            && (0..first.len()).any(|i| {
                let v = cell(&first, i);
                normalise(&v).is_some() || release.is_area_code(&area_code(&v))
            });
        let (header, headerless, mut records) = if looks_like_data {
            let names = (1..=first.len()).map(|i| format!("column_{i}"));
            let names = csv::ByteRecord::from(names.collect::<Vec<_>>());
            (
                names,
                true,
                TrailingBlankRowsDropped::after(leading, first, raw),
            )
        } else {
            (first, false, TrailingBlankRowsDropped::new(raw))
        };
        // 200 rows with content to find the column by (blank rows are
        // kept in place, but tell nothing), within a bounded sample.
        let mut sample = Vec::new();
        let mut with_content = 0;
        while with_content < 200 && sample.len() < 20_000 {
            let Some(rec) = records.next() else { break };
            let rec = rec.map_err(bad)?;
            with_content += usize::from(!is_blank(&rec));
            sample.push(rec);
        }
        Ok(Input {
            header,
            headerless,
            sample,
            rest: records,
        })
    }
}

fn malformed(e: csv::Error, path: &Path) -> Error {
    match e.into_kind() {
        // The catalog's limits do not apply to a look-up's input: say
        // what the line means instead of how to raise them.
        csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|i| i.is::<Exceeded>()) => {
            usage(format!(
                "{} holds {}: is it a CSV file, one row per line?",
                path.display(),
                io.get_ref().map(ToString::to_string).unwrap_or_default()
            ))
        }
        csv::ErrorKind::Io(io) => {
            crate::read::bounded::read_error(io, "cannot read the input").file(path)
        }
        other => Error::unreadable(format!("malformed CSV: {other:?}")).file(path),
    }
}

fn usage(reason: String) -> Error {
    Error::new(ErrorKind::Usage { reason })
}

/// The output: a file written beside its destination and moved into place
/// when complete (an interrupted run leaves no half file), or stdout.
struct Output {
    writer: csv::Writer<Box<dyn Write>>,
    paths: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn create(path: Option<&Path>) -> Result<Output> {
        let (out, paths): (Box<dyn Write>, _) = match path {
            None => (Box::new(std::io::stdout().lock()), None),
            Some(p) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !dir.is_dir() {
                    return Err(usage(format!(
                        "the output's folder {} does not exist: create it first",
                        dir.display()
                    )));
                }
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
                let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
                (Box::new(f), Some((tmp, p.to_path_buf())))
            }
        };
        let writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(
                Box::new(std::io::BufWriter::with_capacity(1 << 20, out)) as Box<dyn Write>
            );
        Ok(Output { writer, paths })
    }

    fn finish(mut self) -> Result<()> {
        let target = self
            .paths
            .as_ref()
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| PathBuf::from("-"));
        self.writer.flush().map_err(|e| Error::io(&target, e))?;
        if let Some((tmp, dest)) = self.paths.take() {
            std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some((tmp, _)) = &self.paths {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Why a row's shape makes its answer doubtful, if it does.
fn shape_warning(rec: &csv::ByteRecord, width: usize) -> Option<String> {
    if rec.len() > width {
        return Some(format!(
            "the row has {} fields and its header {width}: the fields beyond the header are left out",
            rec.len()
        ));
    }
    rec.iter().any(|f| f.contains(&b'\n')).then(|| {
        "a cell of the row spans several lines: a quote that never closes may have joined rows"
            .to_string()
    })
}

/// Runs a look-up.
pub fn run(opts: &LookupOptions) -> Result<LookupReport> {
    if opts.input.is_dir() {
        return Err(usage(format!(
            "the input {} is a folder, not a CSV file",
            opts.input.display()
        )));
    }
    if let Some(out) = &opts.output {
        refuse_overwriting_input(&opts.input, out)?;
    }
    let release = Release::load(&opts.release, opts.year)?;
    let input = Input::open(&opts.input, &release, opts.column.as_deref())?;
    let (col, by_postcode) = detect(
        &input.header,
        &input.sample,
        opts.column.as_deref(),
        &release,
    )?;
    let mut out = Output::create(opts.output.as_deref())?;
    let mut head = input.header.clone();
    COLUMNS.iter().for_each(|c| head.push_field(c.as_bytes()));
    out.writer.write_byte_record(&head).map_err(write_error)?;
    let mut report = LookupReport {
        column: cell(&input.header, col),
        by_postcode,
        headerless: input.headerless,
        release_version: release_version(&opts.release),
        ..LookupReport::default()
    };
    if let Some(y) = opts.year {
        report.later_than_year = release
            .editions
            .iter()
            .filter(|e| e.e.year > y)
            .map(|e| {
                format!(
                    "{} has no edition of {y} or before: its rows are answered from {} ({}), its earliest",
                    e.e.nation, e.e.key, e.e.year
                )
            })
            .collect();
    }
    let width = input.header.len();
    let answer_one = |rec: &csv::ByteRecord| -> (csv::ByteRecord, bool) {
        let value = cell(rec, col);
        let (norm, mut a) = answer(&release, &value, by_postcode);
        if let Some(warning) = shape_warning(rec, width) {
            a.reason = Some(
                a.reason
                    .map_or(warning.clone(), |r| format!("{r}; {warning}")),
            );
        }
        let answered = a.rank.is_some();
        let mut row = csv::ByteRecord::with_capacity(rec.as_slice().len() + 64, width + 10);
        for i in 0..width {
            row.push_field(rec.get(i).unwrap_or_default());
        }
        for f in cells(norm, a) {
            row.push_field(f.as_bytes());
        }
        (row, answered)
    };
    // Rows are answered a batch at a time on every core, and written in
    // their order.
    let mut write = |batch: &mut Vec<csv::ByteRecord>| -> Result<()> {
        let chunks: Vec<&[csv::ByteRecord]> = batch.chunks(BATCH / 16).collect();
        let answered =
            crate::par::parallel_map(&chunks, |c| c.iter().map(&answer_one).collect::<Vec<_>>());
        for (row, ok) in answered.into_iter().flatten() {
            report.rows += 1;
            report.answered += usize::from(ok);
            out.writer.write_byte_record(&row).map_err(write_error)?;
        }
        batch.clear();
        Ok(())
    };
    let mut batch: Vec<csv::ByteRecord> = Vec::with_capacity(BATCH);
    for rec in input.sample.iter().cloned().map(Ok).chain(input.rest) {
        batch.push(rec.map_err(|e| malformed(e, &opts.input))?);
        if batch.len() == BATCH {
            write(&mut batch)?;
        }
    }
    write(&mut batch)?;
    out.finish()?;
    Ok(report)
}

/// The release as its manifest names it (version, catalog, engine), if
/// it has a readable manifest.
fn release_version(dir: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Manifest {
        version: String,
        catalog: String,
        pipeline_version: String,
    }
    let bytes = std::fs::read(dir.join("manifest.json")).ok()?;
    serde_json::from_slice::<Manifest>(&bytes).ok().map(|m| {
        format!(
            "{} (catalog `{}`, built by census-pipeline {})",
            m.version, m.catalog, m.pipeline_version
        )
    })
}

/// Rows answered at once: enough to keep both cores busy, few enough to
/// hold (64k rows of a patient list are a few MB).
const BATCH: usize = 1 << 16;

/// Writing the output over the input would truncate what is being read.
fn refuse_overwriting_input(input: &Path, output: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (Ok(a), Ok(b)) = (std::fs::metadata(input), std::fs::metadata(output)) else {
        return Ok(());
    };
    if a.dev() == b.dev() && a.ino() == b.ino() {
        return Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "the output {} is the input: write the answers to another file",
                output.display()
            ),
        }));
    }
    Ok(())
}

fn write_error(e: csv::Error) -> Error {
    Error::unreadable(format!("cannot write the output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postcode_index_is_the_newest_api_versions() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(postcode_index(dir.path()), None);
        for v in ["v1", "v9", "v10", "v11", "latest"] {
            std::fs::create_dir_all(dir.path().join(format!("api/{v}/postcodes"))).unwrap();
        }
        for v in ["v1", "v9", "v10", "latest"] {
            std::fs::write(
                dir.path().join(format!("api/{v}/postcodes/index.json")),
                "{}",
            )
            .unwrap();
        }
        // v11 has no index; `latest` is not a version.
        assert_eq!(
            postcode_index(dir.path()),
            Some(dir.path().join("api/v10/postcodes/index.json"))
        );
    }

    #[test]
    fn only_whole_small_area_codes_are_taken_for_codes() {
        for code in [
            "E01000001",
            "S01006506",
            "W01000001",
            "95AA01S1",
            "95GG35S12",
            "95AA02W1",
            "95UU99C1",
        ] {
            assert!(code_shaped(code), "{code}");
        }
        for not in [
            "W01",
            "S01_Q",
            "95",
            "9512345678",
            "S01007566X",
            "E0100000",
            "e01000001",
            "95AA01x1",
            "DT1 1AA",
        ] {
            assert!(!code_shaped(not), "{not}");
        }
    }
}
