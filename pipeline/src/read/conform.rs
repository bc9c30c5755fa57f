//! Maps a raw table onto its dataset's canonical columns and types.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

use indexmap::IndexMap;
use polars::prelude::*;

use crate::catalog::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::Table;
use crate::schema::{normalise_header, snake_case, ColumnType, DatasetSpec};
use crate::text;
use crate::units::Rule;

use super::{Cell, RawTable};

/// A conformed table and what the mapping decided.
#[derive(Debug)]
pub struct Conformed {
    pub table: Table,
    /// Canonical column -> header as published that it was read from.
    pub mapping: IndexMap<String, String>,
    /// Canonical columns the source lacks, with the declared reason.
    pub missing: IndexMap<String, String>,
    /// Headers in the file that no canonical column claims (dropped).
    pub unmapped: Vec<String>,
    /// Columns converted from the unit the file uses, and how.
    pub conversions: IndexMap<String, String>,
}

/// Conforms `raw` to `dataset`, or explains precisely why it cannot:
/// a canonical column with no matching header (schema drift) names the
/// column and lists the headers that were found; a value that does not fit
/// its type names the column and row.
pub fn conform(raw: &RawTable, source: &Source, dataset: &DatasetSpec) -> Result<Conformed> {
    let ctx = |e: Error| {
        let e = e.source_id(&source.id);
        match &raw.sheet {
            Some(s) => e.sheet(s),
            None => e,
        }
    };
    let mut m = Mapping {
        claimed: vec![false; raw.headers.len()],
        mapping: IndexMap::new(),
        columns: Vec::new(),
    };
    map_columns(raw, source, dataset, &mut m).map_err(ctx)?;
    map_groups(raw, source, dataset, &mut m).map_err(ctx)?;
    let Mapping {
        claimed,
        mapping,
        columns,
    } = m;
    let height = raw.height();
    let unmapped = raw
        .headers
        .iter()
        .zip(&claimed)
        .filter(|(h, c)| !**c && !h.trim().is_empty())
        .map(|(h, _)| h.clone())
        .collect();
    let frame = DataFrame::new(height, columns).map_err(|e| ctx(Error::table(e)))?;
    let key: Vec<(String, usize)> = dataset
        .key
        .iter()
        .filter_map(|k| {
            let header = mapping.get(k)?;
            Some((k.clone(), raw.headers.iter().position(|h| h == header)?))
        })
        .collect();
    check_key(raw, &key).map_err(ctx)?;
    let mut table = Table::from_frame(frame);
    let conversions = convert_units(&mut table, source, dataset).map_err(ctx)?;
    check_plausible(&table, raw, dataset, &mapping, &conversions).map_err(ctx)?;
    check_totals(&table, raw, dataset, &mapping).map_err(ctx)?;
    Ok(Conformed {
        table,
        mapping,
        missing: source.raw.missing.clone(),
        unmapped,
        conversions,
    })
}

/// Whether a header as published is one a canonical column of the source
/// would claim (by alias; a dataset with column groups claims everything).
/// Readers of very large files keep only these columns.
pub fn claims(source: &Source, dataset: &DatasetSpec, header: &str) -> bool {
    if !dataset.groups.is_empty() {
        return true;
    }
    let h = normalise_header(header);
    source
        .aliases
        .values()
        .any(|spellings| spellings.contains(&h))
}

/// Converts the columns the source publishes in another unit, and says how.
fn convert_units(
    table: &mut Table,
    source: &Source,
    dataset: &DatasetSpec,
) -> Result<IndexMap<String, String>> {
    let mut done = IndexMap::new();
    for (col, published) in &source.raw.units {
        let canonical = dataset.columns.get(col).and_then(|c| c.unit);
        let (Some(to), Some(factor)) = (
            canonical,
            canonical.and_then(|to| crate::units::conversion(*published, to)),
        ) else {
            continue;
        };
        if factor != 1.0 && !source.raw.missing.contains_key(col) {
            table.scale(col, factor)?;
            done.insert(
                col.clone(),
                format!("published in {published}, converted to a {to} on read (x {factor})"),
            );
        }
    }
    Ok(done)
}

/// Every value of every column follows its declared unit and range: a
/// violation names the column, the row in the file, the value and the rule.
fn check_plausible(
    table: &Table,
    raw: &RawTable,
    dataset: &DatasetSpec,
    mapping: &IndexMap<String, String>,
    conversions: &IndexMap<String, String>,
) -> Result<()> {
    let groups: Vec<(String, Rule)> = dataset
        .groups
        .iter()
        .filter_map(|g| {
            let unit = g.unit?;
            let rule = Rule {
                range: g.range.map(|[lo, hi]| (lo, hi)),
                ..Rule::of(unit)
            };
            Some((g.prefix.clone(), rule))
        })
        .collect();
    for (name, header) in mapping {
        let rule = match dataset.columns.get(name) {
            Some(c) => c.rule(name),
            None => groups
                .iter()
                .find(|(p, _)| name.starts_with(p.as_str()))
                .map(|(_, r)| *r),
        };
        let Some(rule) = rule else { continue };
        if let Some(v) = rule.first_violation_in(table, name)? {
            let row = raw.row_numbers.get(v.row).copied().unwrap_or(v.row + 2);
            // A converted value is shown as the file has it, too: the rule
            // is the canonical unit's, the number in the file is not.
            let value = match conversions.get(name) {
                Some(how) => format!(
                    "{} ({how}; the file has {})",
                    v.value,
                    published_cell(raw, header, v.row)
                ),
                None => v.value,
            };
            return Err(Error::new(ErrorKind::Implausible {
                value,
                rule: v.rule,
            })
            .column(header.trim().to_string())
            .row(row));
        }
    }
    Ok(())
}

/// Each group with a `total`: its other columns add up to it in every row
/// (a row with an empty cell among them is not summed). The first row that
/// does not names the total's header, the row, and both numbers.
fn check_totals(
    table: &Table,
    raw: &RawTable,
    dataset: &DatasetSpec,
    mapping: &IndexMap<String, String>,
) -> Result<()> {
    for g in &dataset.groups {
        let Some(total) = &g.total else { continue };
        let Some(header) = mapping.get(total) else {
            return Err(Error::unreadable(format!(
                "the total `{total}` of column group {:?} matched no header",
                g.header
            )));
        };
        let parts: Vec<&String> = mapping
            .keys()
            .filter(|n| {
                n.starts_with(&g.prefix) && *n != total && !dataset.columns.contains_key(*n)
            })
            .collect();
        let numbers =
            |name: &str| -> Result<Vec<Option<f64>>> { Ok(table.values(name)?.numbers()) };
        let totals = numbers(total)?;
        let mut sums: Vec<Option<f64>> = vec![Some(0.0); table.height()];
        for p in &parts {
            for (s, v) in sums.iter_mut().zip(numbers(p)?) {
                *s = s.zip(v).map(|(a, b)| a + b);
            }
        }
        let bad = totals
            .iter()
            .zip(&sums)
            .position(|(t, s)| matches!((t, s), (Some(t), Some(s)) if (t - s).abs() > 1e-9));
        if let Some(i) = bad {
            let row = raw.row_numbers.get(i).copied().unwrap_or(i + 2);
            return Err(Error::new(ErrorKind::Implausible {
                value: format!(
                    "{} as the total, but its {} parts add up to {}",
                    totals[i].unwrap_or_default(),
                    parts.len(),
                    sums[i].unwrap_or_default()
                ),
                rule: format!(
                    "the columns of the group `{}` add up to `{total}`",
                    g.prefix
                ),
            })
            .column(header.trim().to_string())
            .row(row));
        }
    }
    Ok(())
}

/// A cell of the file as published, for messages.
fn published_cell(raw: &RawTable, header: &str, row: usize) -> String {
    let cell = raw
        .headers
        .iter()
        .position(|h| h == header)
        .and_then(|c| raw.columns[c].get(row));
    match cell {
        Some(Cell::Text(t)) => t.clone(),
        Some(Cell::Number(x)) => x.to_string(),
        Some(Cell::Int(i)) => i.to_string(),
        Some(Cell::Empty) | None => "an empty cell".to_string(),
    }
}

/// What conforming has decided so far.
struct Mapping {
    /// Headers already given to a canonical column.
    claimed: Vec<bool>,
    /// Canonical column -> header as published.
    mapping: IndexMap<String, String>,
    columns: Vec<Column>,
}

/// Each canonical column from its one matching header, or nulls where the
/// source declares it missing.
fn map_columns(
    raw: &RawTable,
    source: &Source,
    dataset: &DatasetSpec,
    m: &mut Mapping,
) -> Result<()> {
    let normalised: Vec<String> = raw.headers.iter().map(|h| normalise_header(h)).collect();
    let height = raw.height();
    for (name, spec) in &dataset.columns {
        if let Some(reason) = source.raw.missing.get(name) {
            m.columns
                .push(Column::full_null(name.into(), height, &dtype(spec.ty)));
            let _ = reason;
            continue;
        }
        let wanted = &source.aliases[name];
        let hits: Vec<usize> = (0..normalised.len())
            .filter(|&i| wanted.contains(&normalised[i]))
            .collect();
        let idx = match hits.as_slice() {
            [i] => *i,
            [] => {
                return Err(Error::new(ErrorKind::MissingHeader {
                    column: name.clone(),
                    looked_for: wanted.clone(),
                    headers: raw.headers.clone(),
                })
                .column(name.clone()));
            }
            many => {
                return Err(Error::new(ErrorKind::AmbiguousHeader {
                    column: name.clone(),
                    headers: many.iter().map(|&i| raw.headers[i].clone()).collect(),
                })
                .column(name.clone()));
            }
        };
        m.claimed[idx] = true;
        m.mapping.insert(name.clone(), raw.headers[idx].clone());
        let nulls: Vec<String> = source
            .raw
            .null_values
            .iter()
            .chain(&spec.null_values)
            .cloned()
            .collect();
        let col = convert(name, spec.ty, &raw.columns[idx], &raw.row_numbers, &nulls)
            .map_err(|e| e.column(raw.headers[idx].trim().to_string()))?;
        m.columns.push(col);
    }

    Ok(())
}

/// Each column family: every unclaimed header matching its pattern.
fn map_groups(
    raw: &RawTable,
    source: &Source,
    dataset: &DatasetSpec,
    m: &mut Mapping,
) -> Result<()> {
    for (gi, group) in dataset.groups.iter().enumerate() {
        let re = regex::Regex::new(&group.header)
            .map_err(|e| Error::table(format!("group {} header regex: {e}", gi + 1)))?;
        let mut n = 0;
        for (i, header) in raw.headers.iter().enumerate() {
            if m.claimed[i] {
                continue;
            }
            let folded = header
                .trim_start_matches('\u{feff}')
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let Some(caps) = re.captures(&folded) else {
                continue;
            };
            let name = format!(
                "{}{}",
                group.prefix,
                snake_case(caps.get(1).map_or("", |m| m.as_str()))
            );
            if m.mapping.contains_key(&name) {
                return Err(Error::new(ErrorKind::AmbiguousHeader {
                    column: name.clone(),
                    headers: vec![m.mapping[&name].clone(), header.clone()],
                }));
            }
            m.claimed[i] = true;
            n += 1;
            m.mapping.insert(name.clone(), header.clone());
            let col = convert(
                &name,
                group.ty,
                &raw.columns[i],
                &raw.row_numbers,
                &source.raw.null_values,
            )
            .map_err(|e| e.column(header.trim().to_string()))?;
            m.columns.push(col);
        }
        if let Some(expected) = group.count {
            if n != expected {
                return Err(Error::unreadable(format!(
                    "column group {:?} matched {n} headers, expected {expected}",
                    group.header
                )));
            }
        } else if n == 0 {
            return Err(Error::unreadable(format!(
                "column group {:?} matched no header; the file's headers are {:?}",
                group.header, raw.headers
            )));
        }
    }

    Ok(())
}

pub(crate) fn dtype(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String | ColumnType::Geometry => DataType::String,
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
    }
}

fn convert(
    name: &str,
    ty: ColumnType,
    cells: &[Cell],
    rows: &[usize],
    nulls: &[String],
) -> Result<Column> {
    // A cell the source declares a null marker (`n/a`, `..`) is empty. It
    // is judged cell by cell, not by copying the column without them.
    let is_null = |c: &Cell| match c {
        Cell::Empty => true,
        Cell::Text(s) => !nulls.is_empty() && nulls.iter().any(|n| n == text::trim(s)),
        // A spreadsheet's number cell matches a marker written as that number.
        Cell::Int(v) => !nulls.is_empty() && nulls.iter().any(|n| n.parse() == Ok(*v)),
        Cell::Number(v) => !nulls.is_empty() && nulls.iter().any(|n| n.parse() == Ok(*v)),
    };
    let bad = |i: usize, what: &str| {
        Error::new(ErrorKind::BadValue {
            expected: ty.as_str().to_string(),
            got: what.to_string(),
        })
        .row(rows[i])
    };
    let col = match ty {
        ColumnType::String | ColumnType::Geometry => {
            // Text is borrowed from the cells: polars copies it once, into
            // the column.
            let v: StringChunked = cells
                .iter()
                .map(|c| match c {
                    _ if is_null(c) => None,
                    Cell::Text(s) => Some(Cow::Borrowed(text::trim(s))),
                    Cell::Int(i) => Some(Cow::Owned(i.to_string())),
                    Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        Some(Cow::Owned(format!("{}", *f as i64)))
                    }
                    Cell::Number(f) => Some(Cow::Owned(f.to_string())),
                    Cell::Empty => None,
                })
                .collect();
            v.with_name(name.into()).into_column()
        }
        ColumnType::Int => {
            let mut v: Vec<Option<i64>> = Vec::with_capacity(cells.len());
            for (i, c) in cells.iter().enumerate() {
                v.push(match c {
                    _ if is_null(c) => None,
                    Cell::Int(x) => Some(*x),
                    Cell::Number(f) if f.fract() == 0.0 => Some(*f as i64),
                    Cell::Number(f) => return Err(bad(i, &format!("{f}"))),
                    Cell::Text(s) => Some(parse_int(s).ok_or_else(|| bad(i, &format!("{s:?}")))?),
                    Cell::Empty => None,
                });
            }
            Column::new(name.into(), v)
        }
        ColumnType::Float => {
            let mut v: Vec<Option<f64>> = Vec::with_capacity(cells.len());
            for (i, c) in cells.iter().enumerate() {
                v.push(match c {
                    _ if is_null(c) => None,
                    Cell::Int(x) => Some(*x as f64),
                    Cell::Number(f) => Some(*f),
                    Cell::Text(s) => Some(parse_float(s).ok_or_else(|| bad(i, &format!("{s:?}")))?),
                    Cell::Empty => None,
                });
            }
            Column::new(name.into(), v)
        }
    };
    Ok(col)
}

/// A number's text without thousands separators, copied only when it has
/// some.
fn without_separators(s: &str) -> Cow<'_, str> {
    let t = text::trim(s);
    if t.contains(',') {
        Cow::Owned(t.chars().filter(|&c| c != ',').collect())
    } else {
        Cow::Borrowed(t)
    }
}

/// Integers as published, allowing thousands separators and a zero
/// fraction (`1,296` and `1296.00` are 1296).
fn parse_int(s: &str) -> Option<i64> {
    let t = without_separators(s);
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let (whole, frac) = t.split_once('.')?;
    if !frac.is_empty() && frac.bytes().all(|b| b == b'0') {
        whole.parse().ok()
    } else {
        None
    }
}

fn parse_float(s: &str) -> Option<f64> {
    without_separators(s)
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

/// Key columns must be present in every row and unique: a duplicated area
/// code would otherwise double-count an area in every later join.
fn check_key(raw: &RawTable, key: &[(String, usize)]) -> Result<()> {
    if key.is_empty() {
        return Ok(());
    }
    let mut seen: crate::hash::HashMap<Cow<'_, str>, usize> =
        crate::hash::map_with_capacity(raw.height());
    for (i, &row_no) in raw.row_numbers.iter().enumerate() {
        let mut parts: Vec<Cow<'_, str>> = Vec::with_capacity(key.len());
        for (name, idx) in key {
            match &raw.columns[*idx][i] {
                Cell::Empty => {
                    return Err(Error::new(ErrorKind::EmptyKey {
                        column: name.clone(),
                    })
                    .column(raw.headers[*idx].trim().to_string())
                    .row(row_no))
                }
                Cell::Text(s) => parts.push(Cow::Borrowed(text::trim(s))),
                Cell::Int(x) => parts.push(Cow::Owned(x.to_string())),
                Cell::Number(f) => parts.push(Cow::Owned(f.to_string())),
            }
        }
        // A one-column key (nearly every key) is the cell's own text.
        let k = match parts.len() {
            1 => parts.pop().unwrap_or_default(),
            _ => Cow::Owned(parts.join("|")),
        };
        match seen.entry(k) {
            Entry::Vacant(v) => {
                v.insert(row_no);
            }
            Entry::Occupied(o) => {
                let names: Vec<&str> = key.iter().map(|(n, _)| n.as_str()).collect();
                return Err(Error::new(ErrorKind::DuplicateKey {
                    key: o.key().to_string(),
                    first_row: *o.get(),
                })
                .column(names.join(", "))
                .row(row_no));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_zero_fractions_and_separators_only() {
        assert_eq!(parse_int("1296.00"), Some(1296));
        assert_eq!(parse_int("1,296"), Some(1296));
        assert_eq!(parse_int("1296.5"), None);
        assert_eq!(parse_int("n/a"), None);
    }

    #[test]
    fn floats_keep_full_precision() {
        assert_eq!(parse_float("0.0131234567891"), Some(0.0131234567891));
        assert_eq!(parse_float("NaN"), None);
    }

    /// A raw table of text cells, rows numbered from 2 (after a header).
    fn raw(headers: &[&str], rows: &[&[&str]]) -> RawTable {
        let columns = (0..headers.len())
            .map(|c| {
                rows.iter()
                    .map(|r| match r[c] {
                        "" => Cell::Empty,
                        s => Cell::Text(s.to_string()),
                    })
                    .collect()
            })
            .collect();
        RawTable {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            columns,
            row_numbers: (2..2 + rows.len()).collect(),
            sheet: None,
        }
    }

    fn duplicate(e: Error) -> (String, usize, Option<usize>) {
        match e.kind {
            ErrorKind::DuplicateKey { ref key, first_row } => {
                (key.clone(), first_row, e.context.row)
            }
            _ => panic!("not a duplicate key: {e}"),
        }
    }

    #[test]
    fn a_duplicated_key_names_its_trimmed_text_its_first_row_and_the_second() {
        let one = [("code".to_string(), 0)];
        let t = raw(&["code"], &[&["E1"], &[" E2"], &["E3"], &["E2 "], &["E2"]]);
        assert_eq!(
            duplicate(check_key(&t, &one).unwrap_err()),
            ("E2".into(), 3, Some(5))
        );
        let two = [("code".to_string(), 0), ("year".to_string(), 1)];
        let t = raw(
            &["code", "year"],
            &[
                &["E1", "2019"],
                &["E1", "2025"],
                &["E2", "2019"],
                &[" E1", "2025 "],
            ],
        );
        assert_eq!(
            duplicate(check_key(&t, &two).unwrap_err()),
            ("E1|2025".into(), 3, Some(5))
        );
        let t = raw(&["code"], &[&["E1"], &["E2"]]);
        assert!(check_key(&t, &one).is_ok());
        let t = raw(&["code"], &[&["E1"], &[""]]);
        assert!(matches!(
            check_key(&t, &one).unwrap_err().kind,
            ErrorKind::EmptyKey { .. }
        ));
    }
}
