//! Median age from a table of counts by single year of age.
//!
//! Census tables such as TS007 interleave single years with subtotal bands
//! (`Aged 5 to 9 years`, `Aged 85 years and over`). The median is taken on
//! the single years only (the last one open-ended, `Aged 100 years and
//! over`); the bands serve as an independent check. Counting a band as one
//! more single year is the defect this module's checks exist to catch: for
//! every area, the single years must add up to the table's total, and the
//! median must lie within the band that holds the middle person.

use std::collections::BTreeMap;

use super::parts::Parts;
use super::Indicator;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::{Table, Values};

/// An age column: a single year, or a band of years (`hi = None` for an
/// open-ended band).
#[derive(Debug, Clone, PartialEq)]
enum Age {
    Year(u32),
    Band { lo: u32, hi: Option<u32> },
}

/// Reads an age column's name after the prefix: `under_1_year`, `7_years`,
/// `4_years_and_under`, `5_to_9_years`, `85_years_and_over`.
fn parse_age(rest: &str) -> Option<Age> {
    if rest.starts_with("under_1") {
        return Some(Age::Year(0));
    }
    let nums: Vec<u32> = rest.split('_').filter_map(|p| p.parse().ok()).collect();
    match nums.as_slice() {
        [n] if rest.contains("and_under") => Some(Age::Band {
            lo: 0,
            hi: Some(*n),
        }),
        [n] if rest.contains("and_over") => Some(Age::Band { lo: *n, hi: None }),
        [n] => Some(Age::Year(*n)),
        [lo, hi] if rest.contains("_to_") => Some(Age::Band {
            lo: *lo,
            hi: Some(*hi),
        }),
        _ => None,
    }
}

/// A table's single-year and band columns.
pub struct AgeColumns {
    /// Single years 0..=N in order, the last one open-ended.
    years: Vec<Values>,
    /// Bands (lo, hi inclusive or open) with their counts, in order.
    bands: Vec<(u32, Option<u32>, Values)>,
}

impl AgeColumns {
    /// Finds the columns. The highest open-ended column is the last single
    /// year; every other open-ended one is a band.
    pub fn find(frame: &Table, prefix: &str, ind: &Indicator) -> Result<AgeColumns> {
        let mut ages: Vec<(Age, String)> = frame
            .names()
            .into_iter()
            .filter_map(|n| Some((parse_age(n.strip_prefix(prefix)?)?, n)))
            .collect();
        let last_open = ages
            .iter()
            .filter_map(|(a, _)| match a {
                Age::Band { lo, hi: None } => Some(*lo),
                _ => None,
            })
            .max();
        for (a, _) in &mut ages {
            if let (Age::Band { lo, hi: None }, Some(top)) = (&a, last_open) {
                if *lo == top {
                    *a = Age::Year(top);
                }
            }
        }
        let mut years: BTreeMap<u32, String> = BTreeMap::new();
        let mut bands = Vec::new();
        for (a, name) in ages {
            match a {
                Age::Year(y) => {
                    years.insert(y, name);
                }
                Age::Band { lo, hi } => bands.push((lo, hi, frame.values(&name)?)),
            }
        }
        bands.sort_by_key(|(lo, _, _)| *lo);
        let contiguous = years.keys().copied().eq(0..years.len() as u32);
        if years.len() < 90 || !contiguous {
            return Err(Error::new(ErrorKind::MissingColumn {
                table: None,
                column: format!(
                    "{prefix}<age> (indicator `{}` needs every single year of age from 0; found {})",
                    ind.id,
                    years.len()
                ),
                available: frame.names(),
            }));
        }
        let years = years
            .values()
            .map(|n| frame.values(n))
            .collect::<Result<_>>()?;
        Ok(AgeColumns { years, bands })
    }

    /// The single-year counts of row `i`.
    pub fn counts(&self, i: usize) -> Vec<f64> {
        self.years
            .iter()
            .map(|v| v.number(i).unwrap_or(0.0))
            .collect()
    }

    /// The ages (lo, hi + 1) of the band holding the middle person of row
    /// `i`, by the band columns alone; `None` when the table has no bands
    /// that cover everyone.
    fn middle_band(&self, i: usize, total: f64) -> Option<(f64, f64)> {
        let counts: Vec<f64> = self
            .bands
            .iter()
            .map(|b| b.2.number(i).unwrap_or(0.0))
            .collect();
        if self.bands.is_empty() || (counts.iter().sum::<f64>() - total).abs() > 0.5 {
            return None;
        }
        let mut acc = 0.0;
        for ((lo, hi, _), c) in self.bands.iter().zip(counts) {
            acc += c;
            if acc >= total / 2.0 {
                return Some((*lo as f64, hi.map_or(f64::INFINITY, |h| h as f64 + 1.0)));
            }
        }
        None
    }
}

/// The median age from counts by single year (the last open-ended),
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

/// Each area's single-year counts, checked: they add up to the table's
/// `total` column, and the median lies within the band holding the middle
/// person. A failure stops the build, naming table, column, area and value.
pub fn parts(
    ind: &Indicator,
    table: &str,
    frame: &Table,
    key: &str,
    prefix: &str,
) -> Result<BTreeMap<String, Parts>> {
    let cols = AgeColumns::find(frame, prefix, ind)?;
    let keys = frame.values(key)?;
    let total_col = ind.method.total.as_deref();
    let totals = total_col.map(|t| frame.values(t)).transpose()?;
    let mut out = BTreeMap::new();
    for i in 0..keys.len() {
        let Some(code) = keys.text(i) else { continue };
        let ages = cols.counts(i);
        let sum: f64 = ages.iter().sum();
        let total = match (&totals, total_col) {
            (Some(t), Some(name)) => {
                let total = t.number(i).unwrap_or(f64::NAN);
                if !total.is_finite() || (sum - total).abs() > 0.5 {
                    return Err(Error::check(
                        table,
                        "median_age_adds_up",
                        format!("indicator `{}`: the single years of age must add up to column `{name}`", ind.id),
                        vec![format!("{code}: single years sum to {sum}, `{name}` is {total}")],
                    ));
                }
                total
            }
            _ => sum,
        };
        if let (Some(m), Some((lo, hi))) = (median_age(&ages), cols.middle_band(i, total)) {
            if !(lo..=hi).contains(&m) {
                return Err(Error::check(
                    table,
                    "median_age_within_middle_band",
                    format!("indicator `{}`: the median age must lie in the band holding the middle person", ind.id),
                    vec![format!("{code}: median {m:.2} outside ages {lo} to {hi}")],
                ));
            }
        }
        out.insert(
            code,
            Parts {
                num: 0.0,
                den: total,
                ages,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{median_age, parse_age, Age};

    #[test]
    fn median_age_interpolates_within_the_year() {
        // 10 people aged 0, 10 aged 1: half (10) is reached at the end of age 0.
        assert_eq!(median_age(&[10.0, 10.0]), Some(1.0));
        assert_eq!(median_age(&[0.0, 4.0, 4.0]), Some(2.0));
        assert_eq!(median_age(&[1.0, 2.0, 1.0]), Some(1.5));
        assert_eq!(median_age(&[0.0, 0.0]), None);
    }

    #[test]
    fn age_columns_are_single_years_or_bands() {
        assert_eq!(parse_age("under_1_year"), Some(Age::Year(0)));
        assert_eq!(parse_age("7_years"), Some(Age::Year(7)));
        assert_eq!(
            parse_age("4_years_and_under"),
            Some(Age::Band { lo: 0, hi: Some(4) })
        );
        assert_eq!(
            parse_age("5_to_9_years"),
            Some(Age::Band { lo: 5, hi: Some(9) })
        );
        assert_eq!(
            parse_age("85_years_and_over"),
            Some(Age::Band { lo: 85, hi: None })
        );
    }
}
