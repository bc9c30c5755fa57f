//! The long-form output: one row per area and indicator, and the statuses
//! a row can have (read back by the Places Scores).

use super::spec::indicator_unit;
use super::Indicator;
use crate::checks::TableReport;
use crate::error::Result;
use crate::frame::{Repeated, Table, TableBuilder};

/// A row's status. Published as text in the `status` column; other kinds
/// that read the table parse it with [`IndicatorStatus::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorStatus {
    Ok,
    /// A value with a caveat (the reason says which).
    Approximate,
    /// No value: one row per indicator and geography type, with no code,
    /// and the reason.
    Unavailable,
}

impl IndicatorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorStatus::Ok => "ok",
            IndicatorStatus::Approximate => "approximate",
            IndicatorStatus::Unavailable => "unavailable",
        }
    }

    pub fn parse(s: &str) -> Option<IndicatorStatus> {
        Some(match s {
            "ok" => IndicatorStatus::Ok,
            "approximate" => IndicatorStatus::Approximate,
            "unavailable" => IndicatorStatus::Unavailable,
            _ => return None,
        })
    }
}

/// The columns of the output table.
pub const COLUMNS: [&str; 12] = [
    "geography_code",
    "geography_type",
    "indicator_id",
    "value",
    "numerator",
    "denominator",
    "unit",
    "value_direction",
    "source_table",
    "vintage",
    "status",
    "reason",
];

/// One output row.
pub struct Row<'a> {
    pub code: Option<String>,
    pub geo: &'a str,
    pub ind: &'a Indicator,
    /// Value, numerator, denominator.
    pub v: (Option<f64>, Option<f64>, Option<f64>),
    pub vintage: &'a str,
    pub status: IndicatorStatus,
    pub reason: Option<String>,
}

/// The output rows, column by column. The columns that repeat a few
/// values over 700,000 rows (geography type, indicator, unit, direction, source,
/// vintage) borrow them from the spec: a copy per row was a fifth of the
/// stage's time, most of it the allocator asking the kernel for pages.
#[derive(Default)]
pub struct Rows<'a> {
    code: Vec<Option<String>>,
    geo_type: Vec<&'a str>,
    pub indicator: Vec<&'a str>,
    value: Vec<Option<f64>>,
    numerator: Vec<Option<f64>>,
    denominator: Vec<Option<f64>>,
    unit: Vec<&'a str>,
    direction: Vec<&'a str>,
    source: Vec<&'a str>,
    vintage: Vec<&'a str>,
    pub status: Vec<IndicatorStatus>,
    reason: Vec<Option<String>>,
}

impl<'a> Rows<'a> {
    /// Room for `n` rows in every column: growing eleven columns of
    /// 700,000 rows by doubling was 1% of a build, mostly the kernel
    /// handing out pages for the copies.
    pub fn with_capacity(n: usize) -> Rows<'a> {
        Rows {
            code: Vec::with_capacity(n),
            geo_type: Vec::with_capacity(n),
            indicator: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            numerator: Vec::with_capacity(n),
            denominator: Vec::with_capacity(n),
            unit: Vec::with_capacity(n),
            direction: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            vintage: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            reason: Vec::with_capacity(n),
        }
    }

    pub fn push(&mut self, r: Row<'a>) {
        self.code.push(r.code);
        self.geo_type.push(r.geo);
        self.indicator.push(&r.ind.id);
        self.value.push(r.v.0);
        self.numerator.push(r.v.1);
        self.denominator.push(r.v.2);
        self.unit.push(&r.ind.unit);
        self.direction.push(r.ind.direction.as_str());
        self.source.push(&r.ind.source);
        self.vintage.push(r.vintage);
        self.status.push(r.status);
        self.reason.push(r.reason);
    }

    /// A row with a value, status ok.
    pub fn ok(
        &mut self,
        code: &str,
        geo: &'a str,
        ind: &'a Indicator,
        v: (Option<f64>, Option<f64>, Option<f64>),
        vintage: &'a str,
        reason: Option<String>,
    ) {
        self.push(Row {
            code: Some(code.to_string()),
            geo,
            ind,
            v,
            vintage,
            status: IndicatorStatus::Ok,
            reason,
        });
    }

    /// One flag row per geography type: the indicator is unavailable there.
    pub fn unavailable(
        &mut self,
        ind: &'a Indicator,
        geographies: &[(&'a str, &'a str)],
        reason: &str,
    ) {
        for (geo, vintage) in geographies {
            self.push(Row {
                code: None,
                geo,
                ind,
                v: (None, None, None),
                vintage,
                status: IndicatorStatus::Unavailable,
                reason: Some(reason.to_string()),
            });
        }
    }

    /// Every value, numerator and denominator lies in the range its row's
    /// unit implies (a proportion in 0..=1, years in 0..=130, counts and
    /// densities at least 0): a failure stops the build, naming the row.
    pub fn check_units(&self, report: &mut TableReport) {
        let mut bad = Vec::new();
        for i in 0..self.len() {
            let unit = indicator_unit(self.unit[i]);
            let range = unit.and_then(|u| u.implied_range());
            let Some((lo, hi)) = range else {
                bad.push(format!("row {i}: unknown unit `{}`", self.unit[i]));
                continue;
            };
            let parts = [
                ("value", self.value[i], (lo, hi)),
                ("numerator", self.numerator[i], (0.0, f64::INFINITY)),
                ("denominator", self.denominator[i], (0.0, f64::INFINITY)),
            ];
            for (col, x, (lo, hi)) in parts {
                if let Some(x) = x.filter(|x| !x.is_finite() || *x < lo || *x > hi) {
                    bad.push(format!(
                        "{} ({}), indicator `{}`: column `{col}` is {x}, outside {lo}..={hi} ({})",
                        self.code[i].as_deref().unwrap_or("-"),
                        self.geo_type[i],
                        self.indicator[i],
                        self.unit[i]
                    ));
                }
            }
        }
        let detail = format!("{} values outside the range of their row's unit", bad.len());
        if bad.is_empty() {
            report.pass("values_within_unit", detail);
        } else {
            report.fail("values_within_unit", detail, bad);
        }
    }

    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// The rows as two tables: the areas' rows, and the flag rows (no code:
    /// the indicator is unavailable for every area of a geography type),
    /// which cannot sit in a table keyed by area code.
    pub fn into_tables(mut self) -> Result<(Table, Table)> {
        let (areas, flags): (Vec<usize>, Vec<usize>) =
            (0..self.len()).partition(|&i| self.code[i].is_some());
        Ok((self.table_of(&areas)?, self.table_of(&flags)?))
    }

    /// The table of `rows`, whose codes and reasons move into it (each row
    /// is in one table only).
    fn table_of(&mut self, rows: &[usize]) -> Result<Table> {
        let status: Vec<String> = rows
            .iter()
            .map(|&i| self.status[i].as_str().to_string())
            .collect();
        let mut b = TableBuilder::new();
        let repeated =
            |column: &[&'a str]| Repeated(rows.iter().map(|&i| Some(column[i])).collect());
        b.push(COLUMNS[0], take(&mut self.code, rows))
            .push(COLUMNS[1], repeated(&self.geo_type))
            .push(COLUMNS[2], repeated(&self.indicator))
            .push(COLUMNS[3], pick(&self.value, rows))
            .push(COLUMNS[4], pick(&self.numerator, rows))
            .push(COLUMNS[5], pick(&self.denominator, rows))
            .push(COLUMNS[6], repeated(&self.unit))
            .push(COLUMNS[7], repeated(&self.direction))
            .push(COLUMNS[8], repeated(&self.source))
            .push(COLUMNS[9], repeated(&self.vintage))
            .push(COLUMNS[10], status)
            .push(COLUMNS[11], take(&mut self.reason, rows));
        b.finish(rows.len())
    }
}

/// The values of `column` at `rows`, in that order.
fn pick<T: Clone>(column: &[T], rows: &[usize]) -> Vec<T> {
    rows.iter().map(|&i| column[i].clone()).collect()
}

/// The text of `column` at `rows`, in that order, moved out.
fn take(column: &mut [Option<String>], rows: &[usize]) -> Vec<Option<String>> {
    rows.iter().map(|&i| column[i].take()).collect()
}
