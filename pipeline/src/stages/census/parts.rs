//! An indicator's parts per area: numerator and denominator, or counts by
//! single year of age for a median; summed over areas before the value is
//! taken.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::Indicator;
use crate::error::{Error, Result};
use crate::frame::{Cells, Table};
use crate::hash::HashMap;

/// Numerator, denominator (or single-year counts for a median) of one area.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub num: f64,
    pub den: f64,
    pub ages: Vec<f64>,
}

impl Parts {
    pub fn add(&mut self, o: &Parts) {
        self.num += o.num;
        self.den += o.den;
        if self.ages.len() < o.ages.len() {
            self.ages.resize(o.ages.len(), 0.0);
        }
        for (a, b) in self.ages.iter_mut().zip(&o.ages) {
            *a += b;
        }
    }
}

/// Computes one indicator's parts per area code of a table.
pub fn parts_of(
    ind: &Indicator,
    table: &str,
    frame: &Table,
    key: &str,
) -> Result<BTreeMap<String, Parts>> {
    let keys = frame.cells(key)?;
    let m = &ind.method;
    if let Some(prefix) = &m.median_age_prefix {
        return super::median::parts(ind, table, frame, key, prefix);
    }
    let categories = m.all_categories();
    if !categories.is_empty() {
        // Long form: one row per area and category.
        let cats = frame.cells("category")?;
        let count = frame.cells(m.numerator.first().map(String::as_str).unwrap_or("count"))?;
        let total = frame.cells(m.denominator.first().map(String::as_str).unwrap_or("total"))?;
        let mut seen = BTreeSet::new();
        // Each area's parts by its place of first appearance: one hash per
        // row, where a sorted map compared each code a dozen times.
        let mut place: HashMap<Cow<'_, str>, usize> = HashMap::default();
        let mut areas: Vec<Parts> = Vec::new();
        for i in 0..keys.len() {
            let Some(k) = text(&keys, i) else { continue };
            let next = areas.len();
            let at = *place.entry(k).or_insert(next);
            if at == next {
                areas.push(Parts::default());
            }
            let p = &mut areas[at];
            p.den = total.number(i).unwrap_or(p.den);
            if let Some(c) = text(&cats, i).filter(|c| categories.iter().any(|d| *d == c)) {
                p.num += count.number(i).unwrap_or(0.0);
                seen.insert(c);
            }
        }
        // Collected, not inserted one by one: the map is built from the
        // sorted entries at once.
        let out: BTreeMap<String, Parts> = place
            .into_iter()
            .map(|(k, at)| (k.into_owned(), std::mem::take(&mut areas[at])))
            .collect();
        // A misspelt category would silently count nothing.
        if let Some(missing) = categories.iter().find(|c| !seen.contains(c.as_str())) {
            return Err(Error::check(
                table,
                "declared_categories_present",
                format!("indicator `{}` sums category `{missing}`, which no row of column `category` holds", ind.id),
                Vec::new(),
            ));
        }
        return Ok(out);
    }
    let num: Vec<Cells> = m
        .numerator
        .iter()
        .map(|c| frame.cells(c))
        .collect::<Result<_>>()?;
    let den: Vec<Cells> = m
        .denominator
        .iter()
        .map(|c| frame.cells(c))
        .collect::<Result<_>>()?;
    Ok(last_per_code(
        (0..keys.len())
            .filter_map(|i| {
                let k = text(&keys, i)?;
                let sum = |vs: &[Cells]| vs.iter().map(|v| v.number(i).unwrap_or(0.0)).sum::<f64>();
                Some((
                    k.into_owned(),
                    Parts {
                        num: sum(&num),
                        den: sum(&den),
                        ages: Vec::new(),
                    },
                ))
            })
            .collect(),
    ))
}

/// Each code's parts from rows in file order, a repeated code keeping its
/// last row as inserting row by row does; the map is built at once from
/// the sorted rows (inserting 35,000 codes one at a time, per indicator,
/// was over a third of this function's samples).
fn last_per_code(mut rows: Vec<(String, Parts)>) -> BTreeMap<String, Parts> {
    rows.reverse();
    // Stable: of a repeated code, its last row now comes first, and is the
    // one `dedup_by` keeps.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|later, kept| later.0 == kept.0);
    rows.into_iter().collect()
}

/// Cell `i` as text, borrowed where the column is text (the long tables
/// have hundreds of thousands of rows, a few codes and categories each).
fn text(cells: &Cells, i: usize) -> Option<Cow<'_, str>> {
    match cells {
        Cells::Str(_) => cells.str(i).map(Cow::Borrowed),
        _ => cells.text(i).map(Cow::Owned),
    }
}

pub fn value_of(ind: &Indicator, p: &Parts) -> (Option<f64>, Option<f64>, Option<f64>) {
    if ind.method.median_age_prefix.is_some() {
        return (super::median::median_age(&p.ages), None, Some(p.den));
    }
    if ind.method.denominator.is_empty() && ind.method.all_categories().is_empty() {
        (Some(p.num), Some(p.num), None)
    } else if p.den > 0.0 {
        (Some(p.num / p.den), Some(p.num), Some(p.den))
    } else {
        (None, Some(p.num), Some(p.den))
    }
}

pub fn map_of(frame: &Table, key: &str, value: &str) -> Result<HashMap<String, String>> {
    let (k, v) = (frame.values(key)?, frame.values(value)?);
    Ok((0..k.len())
        .filter_map(|i| Some((k.text(i)?, v.text(i)?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(num: f64) -> Parts {
        Parts {
            num,
            ..Parts::default()
        }
    }

    #[test]
    fn a_repeated_code_keeps_its_last_row_as_row_by_row_insertion_does() {
        let rows = [
            ("E2", 1.0),
            ("E1", 2.0),
            ("E2", 3.0),
            ("E3", 4.0),
            ("E2", 5.0),
            ("E1", 6.0),
        ];
        let mut inserted = BTreeMap::new();
        for (k, n) in rows {
            inserted.insert(k.to_string(), n);
        }
        let built = last_per_code(
            rows.iter()
                .map(|(k, n)| (k.to_string(), parts(*n)))
                .collect(),
        );
        let built: BTreeMap<String, f64> = built.into_iter().map(|(k, p)| (k, p.num)).collect();
        assert_eq!(built, inserted);
    }
}
