//! An indicator's parts per area: numerator and denominator, or counts by
//! single year of age for a median; summed over areas before the value is
//! taken.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Indicator;
use crate::error::{Error, Result};
use crate::frame::{Table, Values};

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
    let keys = frame.values(key)?;
    let mut out: BTreeMap<String, Parts> = BTreeMap::new();
    let m = &ind.method;
    if let Some(prefix) = &m.median_age_prefix {
        return super::median::parts(ind, table, frame, key, prefix);
    }
    let categories = m.all_categories();
    if !categories.is_empty() {
        // Long form: one row per area and category.
        let cats = frame.values("category")?;
        let count = frame.values(m.numerator.first().map(String::as_str).unwrap_or("count"))?;
        let total = frame.values(m.denominator.first().map(String::as_str).unwrap_or("total"))?;
        let mut seen = BTreeSet::new();
        for i in 0..keys.len() {
            let Some(k) = keys.text(i) else { continue };
            let p = out.entry(k).or_default();
            p.den = total.number(i).unwrap_or(p.den);
            if let Some(c) = cats.text(i).filter(|c| categories.contains(&c)) {
                p.num += count.number(i).unwrap_or(0.0);
                seen.insert(c);
            }
        }
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
    let num: Vec<Values> = m
        .numerator
        .iter()
        .map(|c| frame.values(c))
        .collect::<Result<_>>()?;
    let den: Vec<Values> = m
        .denominator
        .iter()
        .map(|c| frame.values(c))
        .collect::<Result<_>>()?;
    for i in 0..keys.len() {
        let Some(k) = keys.text(i) else { continue };
        let sum = |vs: &[Values]| vs.iter().map(|v| v.number(i).unwrap_or(0.0)).sum::<f64>();
        out.insert(
            k,
            Parts {
                num: sum(&num),
                den: sum(&den),
                ages: Vec::new(),
            },
        );
    }
    Ok(out)
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
