//! An indicator's parts per area: numerator and denominator, or counts by
//! single year of age for a median; summed over areas before the value is
//! taken.

use std::collections::{BTreeMap, HashMap};

use super::Indicator;
use crate::error::{Error, ErrorKind, Result};
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

/// The median age from counts by single year (the last band open-ended),
/// interpolating within the year where the cumulative count passes half.
pub fn median_age(counts: &[f64]) -> Option<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let half = total / 2.0;
    let mut acc = 0.0;
    for (age, c) in counts.iter().enumerate() {
        if acc + c >= half && *c > 0.0 {
            return Some(age as f64 + (half - acc) / c);
        }
        acc += c;
    }
    None
}

/// Computes one indicator's parts per area code of a table.
pub fn parts_of(ind: &Indicator, frame: &Table, key: &str) -> Result<BTreeMap<String, Parts>> {
    let keys = frame.values(key)?;
    let mut out: BTreeMap<String, Parts> = BTreeMap::new();
    let m = &ind.method;
    if let Some(prefix) = &m.median_age_prefix {
        let mut age_cols: Vec<(u32, Values)> = Vec::new();
        for name in frame.names() {
            let Some(rest) = name.strip_prefix(prefix.as_str()) else {
                continue;
            };
            // "aged_under_1_year" is age 0; "aged_N_years" N; "aged_100_years_and_over" 100.
            let age = if rest.contains("under_1") {
                Some(0)
            } else {
                rest.split('_')
                    .find_map(|p| p.parse::<u32>().ok())
                    .filter(|_| !rest.contains("_to_") && !rest.contains("and_under"))
            };
            if let Some(a) = age {
                age_cols.push((a, frame.values(&name)?));
            }
        }
        age_cols.sort_by_key(|(a, _)| *a);
        if age_cols.len() < 90 {
            return Err(Error::new(ErrorKind::MissingColumn {
                table: None,
                column: format!(
                    "{prefix}<age> (indicator `{}` needs single years of age; found {})",
                    ind.id,
                    age_cols.len()
                ),
                available: frame.names(),
            }));
        }
        for i in 0..keys.len() {
            let Some(k) = keys.text(i) else { continue };
            let ages = age_cols
                .iter()
                .map(|(_, v)| v.number(i).unwrap_or(0.0))
                .collect();
            out.insert(
                k,
                Parts {
                    ages,
                    ..Default::default()
                },
            );
        }
        return Ok(out);
    }
    if let Some(cat) = &m.category {
        // Long form: one row per area and category.
        let cats = frame.values("category")?;
        let count = frame.values(m.numerator.first().map(String::as_str).unwrap_or("count"))?;
        let total = frame.values(m.denominator.first().map(String::as_str).unwrap_or("total"))?;
        for i in 0..keys.len() {
            let Some(k) = keys.text(i) else { continue };
            let p = out.entry(k).or_default();
            p.den = total.number(i).unwrap_or(p.den);
            if cats.text(i).as_deref() == Some(cat.as_str()) {
                p.num += count.number(i).unwrap_or(0.0);
            }
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
        return (median_age(&p.ages), None, Some(p.ages.iter().sum()));
    }
    if ind.method.denominator.is_empty() && ind.method.category.is_none() {
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
    use super::median_age;

    #[test]
    fn median_age_interpolates_within_the_year() {
        // 10 people aged 0, 10 aged 1: half (10) is reached at the end of age 0.
        assert_eq!(median_age(&[10.0, 10.0]), Some(1.0));
        assert_eq!(median_age(&[0.0, 4.0, 4.0]), Some(2.0));
        assert_eq!(median_age(&[1.0, 2.0, 1.0]), Some(1.5));
        assert_eq!(median_age(&[0.0, 0.0]), None);
    }
}
