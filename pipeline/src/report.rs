//! The diff report between two releases, for maintainers to review.
//!
//! Per table: rows added, removed and changed (by primary key), schema
//! changes, numeric values that moved beyond a tolerance, decile transitions
//! and the distribution of rank changes; indicators that became unavailable;
//! and the verification summary. Written as Markdown (for a pull request
//! body) and as HTML with SVG charts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::frame::{Table, Values};
use crate::package::resources;

/// Relative tolerance below which a numeric change is not reported.
pub const TOLERANCE: f64 = 1e-9;

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableDiff {
    pub table: String,
    pub status: String,
    pub rows_old: usize,
    pub rows_new: usize,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub schema: Vec<String>,
    /// Column -> number of rows whose value changed beyond the tolerance.
    pub columns_changed: BTreeMap<String, usize>,
    /// A few changed rows, as `key: column old -> new`.
    pub examples: Vec<String>,
    /// old decile -> new decile -> areas (tables with `imd_decile`).
    pub decile_transitions: Vec<Vec<usize>>,
    /// Rank change histogram: (bucket label, count).
    pub rank_changes: Vec<(String, usize)>,
}

/// One verified table in the report: its checks by status, and whether any failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerificationLine {
    pub table: String,
    /// E.g. `12 pass, 1 warn`.
    pub checks: String,
    /// `ok` or `FAIL`.
    pub flag: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub old_version: String,
    pub new_version: String,
    pub tables: Vec<TableDiff>,
    pub newly_unavailable: Vec<String>,
    pub verification: Vec<VerificationLine>,
    /// Per local authority (LAD 2024 / council area): small areas whose IMD
    /// decile changed, were added or were removed, and the areas it has now.
    pub la_changes: BTreeMap<String, (usize, usize)>,
    /// The choropleth of `la_changes`, when the release has LA boundaries.
    #[serde(skip)]
    pub map_svg: Option<String>,
    /// What changed, in a few lines: the report's first screen and the
    /// refresh pull request's body.
    pub summary: Summary,
    /// How the static API changed (a version dropped or added, a file's
    /// shape): what its clients must know, which no table shows.
    pub api_changes: Vec<String>,
}

/// A table's status in the report.
pub const VALUES_CHANGED: &str = "values changed";
/// Bytes differ only through metadata (provenance, build time): no row
/// was added, removed or changed, and no column.
pub const METADATA_ONLY: &str = "metadata only";

/// What changed between two releases, in a few lines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub values_changed: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub metadata_only: Vec<String>,
    pub unchanged: usize,
    /// Index tables (one nation and edition each): areas whose IMD decile
    /// changed.
    pub decile_moves: Vec<(String, usize)>,
    /// Local authorities with a small area whose decile changed, of those
    /// compared.
    pub las_affected: usize,
    pub las_compared: usize,
}

impl DiffReport {
    pub fn is_empty(&self) -> bool {
        self.tables
            .iter()
            .all(|t| t.status == "unchanged" || t.status == METADATA_ONLY)
            && self.newly_unavailable.is_empty()
    }
}

fn read_json(p: &Path) -> Result<Value> {
    let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::unreadable(format!("not valid JSON: {e}")).file(p))
}

/// Every table of a release must be the file its data package describes:
/// a truncated or altered table is damage, reported before any comparison
/// (which would otherwise trust the recorded digests).
fn check_tables(dir: &Path, resources: &BTreeMap<String, Value>) -> Result<()> {
    for r in resources.values() {
        let rel = r["path"].as_str().unwrap_or_default();
        let want = r["hash"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("sha256:");
        let path = dir.join(rel);
        let got = crate::cache::sha256_file(&path)?;
        if got != want {
            return Err(Error::new(ErrorKind::ReleaseModified { path }));
        }
    }
    Ok(())
}

/// Compares two release directories.
pub fn diff(old: &Path, new: &Path) -> Result<DiffReport> {
    let (op, np) = (
        read_json(&old.join("datapackage.json"))?,
        read_json(&new.join("datapackage.json"))?,
    );
    let (or, nr) = (resources(&op), resources(&np));
    check_tables(old, &or)?;
    check_tables(new, &nr)?;
    let mut report = DiffReport {
        old_version: op["version"].as_str().unwrap_or_default().into(),
        new_version: np["version"].as_str().unwrap_or_default().into(),
        api_changes: crate::package::api_change(old, new).1,
        ..Default::default()
    };
    let names: BTreeSet<&String> = or.keys().chain(nr.keys()).collect();
    for name in names {
        let mut d = TableDiff {
            table: name.clone(),
            ..Default::default()
        };
        match (or.get(name), nr.get(name)) {
            (Some(o), None) => {
                d.status = "removed".into();
                d.rows_old = o["rows"].as_u64().unwrap_or(0) as usize;
            }
            (None, Some(n)) => {
                d.status = "added".into();
                d.rows_new = n["rows"].as_u64().unwrap_or(0) as usize;
            }
            (Some(o), Some(n)) => {
                d.rows_old = o["rows"].as_u64().unwrap_or(0) as usize;
                d.rows_new = n["rows"].as_u64().unwrap_or(0) as usize;
                if o["hash"] == n["hash"] {
                    d.status = "unchanged".into();
                } else {
                    compare_table(old, new, o, n, &mut d)?;
                    classify_change(&mut d);
                }
            }
            (None, None) => unreachable!(),
        }
        report.tables.push(d);
    }
    report.newly_unavailable = newly_unavailable(old, new)?;
    report.la_changes = la_changes(old, new, &or, &nr)?;
    report.map_svg = la_map(new, &report.la_changes)?;
    report.summary = summarise(&report);
    if let Ok(v) = read_json(&new.join("verification.json")) {
        for t in v["tables"].as_array().into_iter().flatten() {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for c in t["checks"].as_array().into_iter().flatten() {
                *counts
                    .entry(c["status"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
            let summary = counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ");
            let fails = counts.get("fail").copied().unwrap_or(0);
            report.verification.push(VerificationLine {
                table: t["table"].as_str().unwrap_or_default().into(),
                checks: summary,
                flag: if fails > 0 { "FAIL" } else { "ok" }.into(),
            });
        }
    }
    Ok(report)
}

/// Reads a table with every column as a string, an Int64 or a Float64 (a
/// boolean as "true"/"false"), the types the comparison knows.
fn read_comparable(path: &Path) -> Result<Table> {
    use polars::prelude::*;
    let table = Table::read_parquet(path, None)?;
    let frame = table.frame();
    let columns = frame
        .columns()
        .iter()
        .map(|c| {
            let to = match c.dtype() {
                DataType::Boolean => Some(DataType::String),
                DataType::Float32 => Some(DataType::Float64),
                dt if dt.is_integer() && dt != &DataType::Int64 => Some(DataType::Int64),
                _ => None,
            };
            // Strict: an unsigned value above i64::MAX must stop the
            // comparison, not compare as null.
            match to {
                Some(t) => c.strict_cast(&t),
                None => Ok(c.clone()),
            }
        })
        .collect::<PolarsResult<Vec<Column>>>()
        .map_err(|e| Error::table(e).file(path))?;
    DataFrame::new(frame.height(), columns)
        .map(Table::from_frame)
        .map_err(|e| Error::table(e).file(path))
}

fn compare_table(old: &Path, new: &Path, o: &Value, n: &Value, d: &mut TableDiff) -> Result<()> {
    let (of, nf) = (schema_fields(o), schema_fields(n));
    schema_changes(&of, &nf, d);
    let key: Vec<String> = n["schema"]["primaryKey"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    let key = if key.is_empty() {
        // Without a declared key, use the first column if it is unique.
        vec![nf.first().map(|f| f.0.clone()).unwrap_or_default()]
    } else {
        key
    };
    let (ot, nt) = (
        read_comparable(&old.join(o["path"].as_str().unwrap_or_default()))?,
        read_comparable(&new.join(n["path"].as_str().unwrap_or_default()))?,
    );
    // Each row as the values of `cols`, joined.
    let joined = |t: &Table, cols: &[String]| -> Result<Vec<String>> {
        let cols: Vec<Values> = cols.iter().map(|k| t.values(k)).collect::<Result<_>>()?;
        Ok((0..t.height())
            .map(|i| {
                cols.iter()
                    .map(|c| c.text(i).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect())
    };
    let (mut ok, mut nk) = (joined(&ot, &key)?, joined(&nt, &key)?);
    let unique = |k: &[String]| k.iter().collect::<BTreeSet<_>>().len() == k.len();
    if !unique(&ok) || !unique(&nk) {
        // No key identifies a row: a row is then all its common values, so
        // a changed row shows as one removed and one added, never as none.
        let all: Vec<String> = of
            .iter()
            .filter(|(c, _)| nf.iter().any(|(m, _)| m == c))
            .map(|(c, _)| c.clone())
            .collect();
        (ok, nk) = (joined(&ot, &all)?, joined(&nt, &all)?);
    }
    let opos: BTreeMap<&String, usize> = ok.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let npos: BTreeMap<&String, usize> = nk.iter().enumerate().map(|(i, k)| (k, i)).collect();
    d.added = nk.iter().filter(|k| !opos.contains_key(k)).count();
    d.removed = ok.iter().filter(|k| !npos.contains_key(k)).count();
    let p = Paired {
        ot: &ot,
        nt: &nt,
        opos: &opos,
        npos: &npos,
    };
    let common: Vec<String> = of
        .iter()
        .filter(|(n, _)| nf.iter().any(|(m, _)| m == n))
        .map(|(n, _)| n.clone())
        .collect();
    row_changes(&p, &common, d)?;
    if common.iter().any(|c| c == "imd_decile") {
        d.decile_transitions = decile_transitions(&p)?;
    }
    if common.iter().any(|c| c == "imd_rank") {
        d.rank_changes = rank_changes(&p)?;
    }
    Ok(())
}

/// A table whose bytes changed: did its values, or only its metadata?
/// Charts are kept only where the values they draw moved.
fn classify_change(d: &mut TableDiff) {
    let moved =
        d.added + d.removed + d.changed > 0 || !d.schema.is_empty() || d.rows_old != d.rows_new;
    d.status = if moved { VALUES_CHANGED } else { METADATA_ONLY }.into();
    if !d.columns_changed.contains_key("imd_decile") {
        d.decile_transitions.clear();
    }
    if !d.columns_changed.contains_key("imd_rank") {
        d.rank_changes.clear();
    }
}

/// The report's first screen: which tables' values changed, how many areas
/// changed decile per index, and how many local authorities that touches.
fn summarise(r: &DiffReport) -> Summary {
    let mut s = Summary::default();
    for t in &r.tables {
        let name = t.table.clone();
        match t.status.as_str() {
            VALUES_CHANGED => s.values_changed.push(name),
            METADATA_ONLY => s.metadata_only.push(name),
            "added" => s.added.push(name),
            "removed" => s.removed.push(name),
            _ => s.unchanged += 1,
        }
        let off_diagonal: usize = (t.decile_transitions.iter().enumerate())
            .flat_map(|(i, row)| row.iter().enumerate().filter(move |(j, _)| *j != i))
            .map(|(_, n)| n)
            .sum();
        if off_diagonal > 0 {
            s.decile_moves.push((t.table.clone(), off_diagonal));
        }
    }
    s.las_affected = r.la_changes.values().filter(|c| c.0 > 0).count();
    s.las_compared = r.la_changes.len();
    s
}

/// The summary as Markdown: the top of `diff.md`, and `summary.md`.
pub fn summary_markdown(r: &DiffReport) -> String {
    let s = &r.summary;
    let list = |v: &[String]| {
        v.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut md = format!(
        "# Release {} -> {}\n\n## What changed\n\n",
        r.old_version, r.new_version
    );
    if !r.api_changes.is_empty() {
        md.push_str(&format!(
            "- The API changed: {}. Its clients must follow (see `openapi.json`).\n",
            r.api_changes.join("; ")
        ));
    }
    if s.values_changed.is_empty() && s.added.is_empty() && s.removed.is_empty() {
        md.push_str("- No value changed in any table.\n");
    } else {
        md.push_str(&format!(
            "- Values changed in {} tables: {}.\n",
            s.values_changed.len(),
            list(&s.values_changed)
        ));
    }
    if !s.added.is_empty() {
        md.push_str(&format!("- Tables added: {}.\n", list(&s.added)));
    }
    if !s.removed.is_empty() {
        md.push_str(&format!("- Tables removed: {}.\n", list(&s.removed)));
    }
    for (table, n) in &s.decile_moves {
        md.push_str(&format!("- `{table}`: {n} areas changed IMD decile.\n"));
    }
    if s.las_compared > 0 {
        md.push_str(&format!(
            "- Local authorities with a small area whose decile changed: {} of {}.\n",
            s.las_affected, s.las_compared
        ));
    }
    if !s.metadata_only.is_empty() {
        md.push_str(&format!(
            "- {} tables changed in metadata only (provenance, build time; no row or value moved).\n",
            s.metadata_only.len()
        ));
    }
    md.push_str(&format!("- {} tables unchanged.\n", s.unchanged));
    if !r.newly_unavailable.is_empty() {
        md.push_str(&format!(
            "- {} indicators became unavailable (see the report).\n",
            r.newly_unavailable.len()
        ));
    }
    md
}

/// The rows of two versions of a table, paired by key.
struct Paired<'a> {
    ot: &'a Table,
    nt: &'a Table,
    opos: &'a BTreeMap<&'a String, usize>,
    npos: &'a BTreeMap<&'a String, usize>,
}

/// Per common column, how many paired rows changed (numbers beyond a
/// relative tolerance), with examples.
fn row_changes(p: &Paired<'_>, common: &[String], d: &mut TableDiff) -> Result<()> {
    let (ot, nt, opos, npos) = (p.ot, p.nt, p.opos, p.npos);
    let mut changed_rows: BTreeSet<&String> = BTreeSet::new();
    for c in common {
        let (ov, nv) = (ot.values(c)?, nt.values(c)?);
        let mut count = 0;
        for (k, &ni) in npos {
            let Some(&oi) = opos.get(k) else { continue };
            let differs = match (ov.number(oi), nv.number(ni)) {
                (Some(a), Some(b)) if !matches!(ov, Values::Str(_)) => {
                    (a - b).abs() > TOLERANCE * a.abs().max(b.abs()).max(1.0)
                }
                _ => ov.text(oi) != nv.text(ni),
            };
            if differs {
                count += 1;
                changed_rows.insert(k);
                if d.examples.len() < 10 {
                    d.examples.push(format!(
                        "{k}: {c} {} -> {}",
                        ov.text(oi).unwrap_or_else(|| "null".into()),
                        nv.text(ni).unwrap_or_else(|| "null".into())
                    ));
                }
            }
        }
        if count > 0 {
            d.columns_changed.insert(c.clone(), count);
        }
    }
    d.changed = changed_rows.len();
    Ok(())
}

/// Counts of paired rows by old and new IMD decile.
fn decile_transitions(p: &Paired<'_>) -> Result<Vec<Vec<usize>>> {
    let (ov, nv) = (p.ot.values("imd_decile")?, p.nt.values("imd_decile")?);
    let mut m = vec![vec![0usize; 10]; 10];
    for (k, &ni) in p.npos {
        let Some(&oi) = p.opos.get(k) else { continue };
        if let (Some(a), Some(b)) = (ov.number(oi), nv.number(ni)) {
            let (a, b) = (a as usize, b as usize);
            if (1..=10).contains(&a) && (1..=10).contains(&b) {
                m[a - 1][b - 1] += 1;
            }
        }
    }
    Ok(m)
}

/// Counts of paired rows by the size of their IMD rank change.
fn rank_changes(p: &Paired<'_>) -> Result<Vec<(String, usize)>> {
    let (ov, nv) = (p.ot.values("imd_rank")?, p.nt.values("imd_rank")?);
    let buckets = [
        (-f64::INFINITY, -1000.0, "< -1000"),
        (-1000.0, -100.0, "-1000..-100"),
        (-100.0, -0.5, "-100..-1"),
        (-0.5, 0.5, "0"),
        (0.5, 100.0, "1..100"),
        (100.0, 1000.0, "100..1000"),
        (1000.0, f64::INFINITY, "> 1000"),
    ];
    let mut counts = vec![0usize; buckets.len()];
    for (k, &ni) in p.npos {
        let Some(&oi) = p.opos.get(k) else { continue };
        if let (Some(a), Some(b)) = (ov.number(oi), nv.number(ni)) {
            let delta = b - a;
            if let Some(i) = buckets
                .iter()
                .position(|(lo, hi, _)| delta >= *lo && delta < *hi)
            {
                counts[i] += 1;
            }
        }
    }
    Ok(buckets
        .iter()
        .zip(counts)
        .map(|((_, _, l), c)| (l.to_string(), c))
        .collect())
}

/// A resource's fields: name and type.
fn schema_fields(r: &Value) -> Vec<(String, String)> {
    r["schema"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_string(),
                f["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Fields removed, retyped or added.
fn schema_changes(of: &[(String, String)], nf: &[(String, String)], d: &mut TableDiff) {
    for (name, ty) in of {
        match nf.iter().find(|(n, _)| n == name) {
            None => d.schema.push(format!("field `{name}` removed")),
            Some((_, t)) if t != ty => d.schema.push(format!("field `{name}` type {ty} -> {t}")),
            _ => {}
        }
    }
    for (name, _) in nf.iter().filter(|(n, _)| !of.iter().any(|(o, _)| o == n)) {
        d.schema.push(format!("field `{name}` added"));
    }
}

/// Indicator ids unavailable in `new` at some geography but not in `old`.
fn newly_unavailable(old: &Path, new: &Path) -> Result<Vec<String>> {
    let read = |dir: &Path| -> Result<BTreeSet<String>> {
        let p = dir.join("tables/census2021_indicators.parquet");
        if !p.is_file() {
            return Ok(BTreeSet::new());
        }
        let t = Table::read_parquet(&p, None)?;
        let (ind, geo, st) = (
            t.values("indicator_id")?,
            t.values("geography_type")?,
            t.values("status")?,
        );
        Ok((0..t.height())
            .filter(|&i| st.text(i).as_deref() == Some("unavailable"))
            .map(|i| {
                format!(
                    "{} ({})",
                    ind.text(i).unwrap_or_default(),
                    geo.text(i).unwrap_or_default()
                )
            })
            .collect())
    };
    let (o, n) = (read(old)?, read(new)?);
    Ok(n.difference(&o).cloned().collect())
}

/// A small area's code, local authority and IMD decile.
type AreaDecile = (Option<String>, Option<String>, Option<f64>);

/// Local authority code columns a small-area index table may carry.
const LA_COLUMNS: [&str; 2] = ["lad24_code", "council_area_code"];

/// For every table with `imd_decile` and a LAD 2024 code: per local
/// authority, the small areas whose decile changed (or which appeared or
/// disappeared) between the releases, and how many it has now.
fn la_changes(
    old: &Path,
    new: &Path,
    or: &BTreeMap<String, Value>,
    nr: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, (usize, usize)>> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (name, n) in nr {
        let fields: Vec<&str> = n["schema"]["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str())
            .collect();
        let Some(la) = LA_COLUMNS.iter().find(|c| fields.contains(c)) else {
            continue;
        };
        let Some(key) = fields.iter().find(|f| f.ends_with("_code")) else {
            continue;
        };
        if !fields.contains(&"imd_decile") {
            continue;
        }
        let read = |dir: &Path| -> Result<Vec<AreaDecile>> {
            let frame = Table::read_parquet(&dir.join(format!("tables/{name}.parquet")), None)?;
            let (k, l, d) = (
                frame.values(key)?,
                frame.values(la)?,
                frame.values("imd_decile")?,
            );
            Ok((0..frame.height())
                .map(|i| (k.text(i), l.text(i), d.number(i)))
                .collect())
        };
        let now = read(new)?;
        let before: BTreeMap<Option<String>, (Option<String>, Option<f64>)> = match or.get(name) {
            Some(o) if o["hash"] == n["hash"] => {
                // Unchanged: every area counts, none changed.
                for (_, l, _) in &now {
                    if let Some(l) = l {
                        out.entry(l.clone()).or_default().1 += 1;
                    }
                }
                continue;
            }
            Some(_) => read(old)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, l, d)| (k, (l, d)))
                .collect(),
            None => BTreeMap::new(),
        };
        let mut seen = BTreeSet::new();
        for (k, l, d) in &now {
            let Some(l) = l else { continue };
            let e = out.entry(l.clone()).or_default();
            e.1 += 1;
            if before.get(k).map(|b| b.1) != Some(*d) {
                e.0 += 1;
            }
            seen.insert(k.clone());
        }
        for (k, (l, _)) in &before {
            if let (false, Some(l)) = (seen.contains(k), l) {
                out.entry(l.clone()).or_default().0 += 1;
            }
        }
    }
    Ok(out)
}

/// The choropleth of `changes` on the new release's LAD 2024 boundaries.
fn la_map(new: &Path, changes: &BTreeMap<String, (usize, usize)>) -> Result<Option<String>> {
    let path = new.join("tables/lad24_boundaries.parquet");
    if !path.is_file() || changes.is_empty() {
        return Ok(None);
    }
    let frame = Table::read_parquet(&path, None)?;
    let (codes, names, geoms) = (
        frame.values("lad24_code")?,
        frame.values("lad24_name")?,
        frame.values("geometry")?,
    );
    let shapes: Vec<crate::map::Shape> = (0..frame.height())
        .filter_map(|i| {
            Some(crate::map::Shape {
                code: codes.text(i)?,
                name: names.text(i).unwrap_or_default(),
                shape: crate::map::parse_geometry(&geoms.text(i)?)?,
            })
        })
        .collect();
    let values = changes
        .iter()
        .map(|(code, &(changed, total))| {
            let share = changed as f64 / total.max(1) as f64;
            (
                code.clone(),
                (
                    share,
                    format!("{changed} of {total} small areas changed IMD decile"),
                ),
            )
        })
        .collect();
    let class = |upper: f64, label: &str, colour| crate::map::Class {
        upper,
        label: label.into(),
        colour,
    };
    let classes = [
        class(0.0, "no change", "#e8eef5"),
        class(0.01, "up to 1% of small areas", "#fee0d2"),
        class(0.05, "1-5%", "#fc9272"),
        class(0.2, "5-20%", "#de2d26"),
        class(f64::MAX, "over 20%", "#a50f15"),
    ];
    Ok(Some(crate::map::choropleth(
        "Small areas whose IMD decile changed, by local authority (2024)",
        &shapes,
        &values,
        &classes,
    )))
}

/// The report as Markdown, fit for a pull request body.
pub fn markdown(r: &DiffReport) -> String {
    let mut s = summary_markdown(r);
    s.push('\n');
    // Tables whose values moved, one row each; the rest were summarised.
    let changed: Vec<&TableDiff> = r
        .tables
        .iter()
        .filter(|t| t.status != "unchanged" && t.status != METADATA_ONLY)
        .collect();
    if !r.summary.metadata_only.is_empty() {
        let _ = writeln!(
            s,
            "Metadata only: {}.\n",
            r.summary.metadata_only.join(", ")
        );
    }
    if !changed.is_empty() {
        let _ = writeln!(s, "| table | status | rows | added | removed | changed | columns changed |\n|---|---|---|---|---|---|---|");
        for t in &changed {
            let cols = t
                .columns_changed
                .iter()
                .map(|(c, n)| format!("{c} ({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "| `{}` | {} | {} -> {} | {} | {} | {} | {} |",
                t.table, t.status, t.rows_old, t.rows_new, t.added, t.removed, t.changed, cols
            );
        }
        for t in &changed {
            if !t.schema.is_empty() || !t.examples.is_empty() {
                let _ = writeln!(s, "\n## `{}`\n", t.table);
                for x in &t.schema {
                    let _ = writeln!(s, "- schema: {x}");
                }
                for x in &t.examples {
                    let _ = writeln!(s, "- {x}");
                }
            }
        }
    }
    let mut las: Vec<(&String, &(usize, usize))> =
        r.la_changes.iter().filter(|(_, c)| c.0 > 0).collect();
    if !las.is_empty() {
        las.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
        let _ = writeln!(
            s,
            "\n## Where deciles changed\n\n{} local authorities have small areas whose IMD decile changed (map: report/la_changes.svg). Most:\n",
            las.len()
        );
        for (code, (changed, total)) in las.iter().take(10) {
            let _ = writeln!(s, "- {code}: {changed} of {total}");
        }
    }
    if !r.newly_unavailable.is_empty() {
        let _ = writeln!(s, "\n## Indicators that became unavailable\n");
        for x in &r.newly_unavailable {
            let _ = writeln!(s, "- {x}");
        }
    }
    let _ = writeln!(
        s,
        "\n## Verification\n\n| table | checks | |\n|---|---|---|"
    );
    for v in &r.verification {
        let _ = writeln!(s, "| `{}` | {} | {} |", v.table, v.checks, v.flag);
    }
    let _ = writeln!(
        s,
        "\nThe indices rank areas relative to each other at one point in time: changes in rank or decile are relative moves, not absolute change."
    );
    s
}

/// An SVG heat map of a decile transition matrix.
pub fn transition_svg(m: &[Vec<usize>]) -> String {
    let max = m.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let cell = 28;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"Decile transitions\">", 60 + cell * 10, 60 + cell * 10);
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let shade = (255.0 - 200.0 * (v as f64 / max)) as u8;
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({shade},{shade},255)\" stroke=\"#ccc\"><title>decile {} -> {}: {v}</title></rect>",
                50 + j * cell,
                30 + i * cell,
                i + 1,
                j + 1
            );
        }
        let _ = write!(
            s,
            "<text x=\"40\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            48 + i * cell,
            i + 1
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"24\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            64 + i * cell,
            i + 1
        );
    }
    s.push_str("<text x=\"4\" y=\"14\" font-size=\"11\">old decile (rows) -> new decile (columns)</text></svg>");
    s
}

/// An SVG bar chart of rank changes.
pub fn histogram_svg(bars: &[(String, usize)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"200\" role=\"img\" aria-label=\"Rank changes\">", 40 + bars.len() * 90);
    for (i, (label, v)) in bars.iter().enumerate() {
        let h = (140.0 * *v as f64 / max) as usize;
        let x = 20 + i * 90;
        let _ = write!(s, "<rect x=\"{x}\" y=\"{}\" width=\"70\" height=\"{h}\" fill=\"#4a6fa5\"><title>{label}: {v}</title></rect>", 160 - h);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"178\" font-size=\"11\" text-anchor=\"middle\">{label}</text>",
            x + 35
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{v}</text>",
            x + 35,
            155 - h
        );
    }
    s.push_str("</svg>");
    s
}

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Release {{ r.old_version }} -> {{ r.new_version }}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}th{background:#eef}</style></head>
<body>
<h1>Release {{ r.old_version }} &rarr; {{ r.new_version }}</h1>
<h2>What changed</h2>
<ul id="summary">
{% if r.api_changes %}<li>The API changed: {{ r.api_changes | join("; ") }}. Its clients must follow (see openapi.json).</li>{% endif %}
{% if r.summary.values_changed %}<li>Values changed in {{ r.summary.values_changed | length }} tables: {{ r.summary.values_changed | join(", ") }}.</li>{% else %}<li>No value changed in any table.</li>{% endif %}
{% if r.summary.added %}<li>Tables added: {{ r.summary.added | join(", ") }}.</li>{% endif %}
{% if r.summary.removed %}<li>Tables removed: {{ r.summary.removed | join(", ") }}.</li>{% endif %}
{% for m in r.summary.decile_moves %}<li>{{ m[0] }}: {{ m[1] }} areas changed IMD decile.</li>{% endfor %}
{% if r.summary.las_compared %}<li>Local authorities with a small area whose decile changed: {{ r.summary.las_affected }} of {{ r.summary.las_compared }}.</li>{% endif %}
{% if r.summary.metadata_only %}<li>{{ r.summary.metadata_only | length }} tables changed in metadata only (no row or value moved).</li>{% endif %}
<li>{{ r.summary.unchanged }} tables unchanged.</li>
</ul>
<p>The indices rank areas relative to each other at one point in time: changes in rank or decile are relative moves, not absolute change.</p>
<table><tr><th>table</th><th>status</th><th>rows</th><th>added</th><th>removed</th><th>changed</th></tr>
{% for t in r.tables %}{% if t.status != "unchanged" and t.status != "metadata only" %}<tr><td>{{ t.table }}</td><td>{{ t.status }}</td><td>{{ t.rows_old }} &rarr; {{ t.rows_new }}</td><td>{{ t.added }}</td><td>{{ t.removed }}</td><td>{{ t.changed }}</td></tr>{% endif %}{% endfor %}
</table>
{% if r.summary.metadata_only %}<p>Metadata only: {{ r.summary.metadata_only | join(", ") }}.</p>{% endif %}
{% if map %}<h2>Where deciles changed</h2>{{ map | safe }}{% endif %}
{% for t in charts %}<h2>{{ t.table }}</h2>
{% if t.transitions %}<h3>Decile transitions</h3>{{ t.transitions | safe }}{% endif %}
{% if t.ranks %}<h3>Rank changes</h3>{{ t.ranks | safe }}{% endif %}
{% endfor %}
{% if r.newly_unavailable %}<h2>Indicators that became unavailable</h2><ul>{% for x in r.newly_unavailable %}<li>{{ x }}</li>{% endfor %}</ul>{% endif %}
<h2>Verification</h2><table><tr><th>table</th><th>checks</th><th></th></tr>
{% for v in r.verification %}<tr><td>{{ v.table }}</td><td>{{ v.checks }}</td><td>{{ v.flag }}</td></tr>{% endfor %}</table>
</body></html>
"#;

/// The report as HTML with SVG charts.
pub fn html(r: &DiffReport) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("diff", TEMPLATE).map_err(Error::table)?;
    let charts: Vec<Value> = r
        .tables
        .iter()
        .filter(|t| !t.decile_transitions.is_empty() || !t.rank_changes.is_empty())
        .map(|t| {
            serde_json::json!({
                "table": t.table,
                "transitions": if t.decile_transitions.is_empty() { String::new() } else { transition_svg(&t.decile_transitions) },
                "ranks": if t.rank_changes.is_empty() { String::new() } else { histogram_svg(&t.rank_changes) },
            })
        })
        .collect();
    env.get_template("diff")
        .and_then(|t| t.render(minijinja::context! { r => minijinja::value::Serde(r), charts => minijinja::value::Serde(&charts), map => r.map_svg.clone() }))
        .map_err(Error::table)
}

/// Writes `report/diff.md`, `report/summary.md` (the pull request's body)
/// and `report/diff.html` into `dir`.
/// Writes the report for `diff --out DIR` into `DIR/report/`: a folder
/// this tool made for a report before (it holds the marker), or a new or
/// empty one. Anything else in its place is refused, never overwritten.
pub fn write_into(dir: &Path, r: &DiffReport) -> Result<()> {
    const MARKER: &str = ".census-diff";
    let out = dir.join("report");
    let ours = out.join(MARKER).is_file();
    let empty = std::fs::read_dir(&out).map_or(true, |mut d| d.next().is_none());
    if !ours && (!empty || out.is_symlink() || (out.exists() && !out.is_dir())) {
        return Err(Error::new(crate::error::ErrorKind::OutputRefused {
            path: out,
            reason: "exists and holds files `diff` did not write (no `.census-diff` marker)".into(),
        }));
    }
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    // Written afresh, never through a link found in the folder.
    for name in [
        MARKER,
        "diff.md",
        "summary.md",
        "diff.html",
        "la_changes.svg",
    ] {
        let p = out.join(name);
        if p.is_symlink() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    let marker = out.join(MARKER);
    std::fs::write(
        &marker,
        "census-pipeline diff report; rewritten by the next `diff --out`\n",
    )
    .map_err(|e| Error::io(&marker, e))?;
    write(dir, r)
}

pub fn write(dir: &Path, r: &DiffReport) -> Result<()> {
    let out = dir.join("report");
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    std::fs::write(out.join("diff.md"), markdown(r)).map_err(|e| Error::io(&out, e))?;
    std::fs::write(out.join("summary.md"), summary_markdown(r)).map_err(|e| Error::io(&out, e))?;
    std::fs::write(out.join("diff.html"), html(r)?).map_err(|e| Error::io(&out, e))?;
    if let Some(svg) = &r.map_svg {
        std::fs::write(out.join("la_changes.svg"), svg).map_err(|e| Error::io(&out, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_how_the_api_changed() {
        let r = DiffReport {
            old_version: "1.0.0".into(),
            new_version: "2.0.0".into(),
            api_changes: vec!["API `api/v1` removed".into(), "API `api/v2` added".into()],
            ..Default::default()
        };
        let md = summary_markdown(&r);
        assert!(
            md.contains("- The API changed: API `api/v1` removed; API `api/v2` added."),
            "{md}"
        );
        let page = html(&r).unwrap();
        assert!(
            page.contains("The API changed: API `api/v1` removed"),
            "{page}"
        );
        let r = DiffReport::default();
        assert!(!summary_markdown(&r).contains("The API changed"));
    }
}
