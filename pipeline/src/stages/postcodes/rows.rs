//! The output rows, column by column, and how each source fills them.

use std::collections::{BTreeMap, HashMap};

use super::derive::Derivations;
use super::spec::{CrossCheck, ExtraLookup, PostcodeStage};
use super::Counts;
use crate::checks::{Status as CheckStatus, TableReport};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Table, TableBuilder, Values};
use crate::postcode::normalise;

/// A postcode's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Live,
    /// With its date of termination.
    Terminated,
    /// The look-up records no terminations.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Live => "live",
            Status::Terminated => "terminated",
            Status::Unknown => "unknown",
        }
    }
}

/// One postcode's facts.
struct Row {
    postcode: String,
    outcode: String,
    status: Status,
    terminated: Option<String>,
    country: Option<String>,
    lad: Option<String>,
    ward: Option<String>,
    areas: Vec<Option<String>>,
    derived_reasons: Vec<Option<String>>,
    directory_rank: Option<f64>,
    looked_up_in: String,
    reason: Option<String>,
}

pub struct Rows {
    rows: Vec<Row>,
    /// Output small-area columns, in order.
    columns: Vec<String>,
    derived: Vec<String>,
    seen: HashMap<String, usize>,
}

impl Rows {
    pub fn new(spec: &PostcodeStage) -> Rows {
        Rows {
            rows: Vec::new(),
            columns: spec.small_area_columns(),
            derived: spec.derived_columns().into_iter().cloned().collect(),
            seen: HashMap::new(),
        }
    }

    /// Every directory row whose postcode is a postcode; the others are
    /// reported. A postcode given twice stops the build.
    pub fn add_directory(
        &mut self,
        spec: &PostcodeStage,
        inputs: &Frames<'_>,
        derivations: &Derivations,
        report: &mut TableReport,
    ) -> Result<()> {
        let d = &spec.directory;
        let t = inputs.table(&d.table)?;
        let col = |c: &str| t.values(c);
        let (pc, term, country, lad, ward, rank) = (
            col(&d.postcode)?,
            col(&d.terminated)?,
            col(&d.country)?,
            col(&d.lad)?,
            col(&d.ward)?,
            col(&d.imd_rank)?,
        );
        // One per output column; `None` for a column only a look-up gives.
        let sources: Vec<Option<(Values, &crate::pattern::Pattern)>> = self
            .columns
            .iter()
            .map(|c| {
                spec.small_areas
                    .get(c)
                    .map(|s| Ok((col(&s.from)?, &s.pattern)))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let mut invalid = Vec::new();
        for i in 0..pc.len() {
            let raw = pc.text(i).unwrap_or_default();
            let Some((outcode, postcode)) = normalise(&raw) else {
                invalid.push(format!("row {}: {raw:?}", i + 1));
                continue;
            };
            let terminated = term.text(i);
            let country = country.text(i);
            let mut areas: Vec<Option<String>> = sources
                .iter()
                .map(|s| {
                    s.as_ref()
                        .and_then(|(v, p)| v.text(i).filter(|c| p.is_match(c)))
                })
                .collect();
            let derived_reasons = self.derive(derivations, &mut areas);
            let reason = why_no_small_area(spec, country.as_deref(), &areas);
            self.push(Row {
                postcode,
                outcode,
                status: if terminated.is_some() {
                    Status::Terminated
                } else {
                    Status::Live
                },
                terminated,
                country,
                lad: lad.text(i),
                ward: ward.text(i),
                areas,
                derived_reasons,
                directory_rank: rank.number(i).filter(|r| *r > 0.0),
                looked_up_in: d.table.clone(),
                reason,
            })
            .map_err(|e| e.source_id(d.table.clone()).row(i + 1))?;
        }
        let detail = format!(
            "{} rows of `{}` are not UK postcodes and are left out",
            invalid.len(),
            d.table
        );
        let status = if invalid.is_empty() {
            CheckStatus::Pass
        } else {
            CheckStatus::Warn
        };
        invalid.truncate(20);
        report.push("postcodes_valid", status, detail, invalid);
        Ok(())
    }

    /// Fills each derived column the directory left empty, from its
    /// look-up; returns the reasons for those left null.
    fn derive(
        &self,
        derivations: &Derivations,
        areas: &mut [Option<String>],
    ) -> Vec<Option<String>> {
        self.derived
            .iter()
            .map(|name| {
                let at = self.columns.iter().position(|c| c == name)?;
                if areas[at].is_some() {
                    return None;
                }
                if let Some(why) = derivations.unavailable.get(name) {
                    return Some(why.clone());
                }
                let (d, answers) = derivations.by_column.get(name)?;
                let from_at = self.columns.iter().position(|c| *c == d.from)?;
                let from = areas[from_at].clone()?;
                match answers.get(&from) {
                    Some(Ok(code)) => {
                        areas[at] = Some(code.clone());
                        None
                    }
                    Some(Err(why)) => Some(why.clone()),
                    None => Some(format!("{from} is not in the look-up `{}`", d.lookup)),
                }
            })
            .collect()
    }

    fn push(&mut self, row: Row) -> Result<()> {
        if let Some(first) = self.seen.insert(row.postcode.clone(), self.rows.len()) {
            return Err(Error::table(format!(
                "postcode {} is given twice (first at output row {})",
                row.postcode,
                first + 1
            )));
        }
        self.rows.push(row);
        Ok(())
    }

    /// The postcodes of a further look-up that the directory lacks.
    pub fn add_lookup(&mut self, l: &ExtraLookup, inputs: &Frames<'_>) -> Result<()> {
        let Some(t) = inputs.get(&l.table) else {
            return Ok(());
        };
        let (pc, lad) = (t.values(&l.postcode)?, t.values(&l.lad)?);
        let cols: Vec<Option<Values>> = self
            .columns
            .iter()
            .map(|c| l.small_areas.get(c).map(|src| t.values(src)).transpose())
            .collect::<Result<_>>()?;
        for i in 0..pc.len() {
            let Some((outcode, postcode)) = pc.text(i).as_deref().and_then(normalise) else {
                continue;
            };
            if self.seen.contains_key(&postcode) {
                continue;
            }
            let row = Row {
                postcode,
                outcode,
                status: Status::Unknown,
                terminated: None,
                country: Some(l.country_code.clone()),
                lad: lad.text(i),
                ward: None,
                areas: cols
                    .iter()
                    .map(|v| v.as_ref().and_then(|v| v.text(i)))
                    .collect(),
                derived_reasons: vec![None; self.derived.len()],
                directory_rank: None,
                looked_up_in: l.table.clone(),
                reason: Some(l.reason.clone()),
            };
            self.push(row).map_err(|e| e.source_id(l.table.clone()))?;
        }
        Ok(())
    }

    /// The directory's rank of each postcode's small area against this
    /// release's rank of it.
    pub fn cross_check(
        &self,
        c: &CrossCheck,
        inputs: &Frames<'_>,
        report: &mut TableReport,
    ) -> Result<()> {
        let check = format!("directory_rank_{}", c.index);
        let Some(t) = inputs.get(&c.index) else {
            report.push(
                &check,
                CheckStatus::NotAvailable,
                format!("`{}` is not in the build", c.index),
                Vec::new(),
            );
            return Ok(());
        };
        let (k, r) = (t.values(&c.key)?, t.values(&c.rank)?);
        let ranks: HashMap<String, f64> = (0..k.len())
            .filter_map(|i| Some((k.text(i)?, r.number(i)?)))
            .collect();
        let Some(at) = self.columns.iter().position(|x| *x == c.small_area) else {
            return Ok(());
        };
        let (mut compared, mut bad) = (0usize, Vec::new());
        for row in &self.rows {
            let (Some(area), Some(theirs)) = (&row.areas[at], row.directory_rank) else {
                continue;
            };
            if !c.pattern.is_match(area) {
                continue;
            }
            compared += 1;
            let ours = ranks.get(area);
            if ours != Some(&theirs) {
                bad.push(format!(
                    "{} in {area}: directory rank {theirs}, `{}` rank {}",
                    row.postcode,
                    c.index,
                    ours.map_or("none".to_string(), |r| r.to_string())
                ));
            }
        }
        let detail = format!(
            "{} of {compared} postcodes in {} have a directory rank other than `{}`'s (at most {} tolerated)",
            bad.len(),
            c.small_area,
            c.index,
            c.max_disagreements
        );
        if compared == 0 {
            let detail = format!(
                "no postcode has both a {} matching this index and a directory rank",
                c.small_area
            );
            report.push(&check, CheckStatus::NotAvailable, detail, Vec::new());
            return Ok(());
        }
        match bad.len() {
            0 => report.pass(&check, detail),
            n if n <= c.max_disagreements => report.warn(&check, detail, bad),
            _ => report.fail(&check, detail, bad),
        }
        Ok(())
    }

    pub fn counts(&self) -> Counts {
        let mut c: Counts = BTreeMap::new();
        for r in &self.rows {
            *c.entry(r.status.as_str()).or_default() += 1;
        }
        c
    }

    /// The table, ordered by outcode and postcode.
    pub fn into_table(mut self) -> Result<Table> {
        self.rows
            .sort_by(|a, b| (&a.outcode, &a.postcode).cmp(&(&b.outcode, &b.postcode)));
        let n = self.rows.len();
        let rows = &self.rows;
        let text = |f: &dyn Fn(&Row) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        let mut b = TableBuilder::new();
        b.push("postcode", text(&|r| Some(r.postcode.clone())))
            .push("outcode", text(&|r| Some(r.outcode.clone())))
            .push("status", text(&|r| Some(r.status.as_str().to_string())))
            .push("terminated", text(&|r| r.terminated.clone()))
            .push("country_code", text(&|r| r.country.clone()))
            .push("lad_code", text(&|r| r.lad.clone()))
            .push("ward_code", text(&|r| r.ward.clone()));
        for (i, c) in self.columns.iter().enumerate() {
            b.push(c, text(&|r| r.areas[i].clone()));
        }
        for (i, c) in self.derived.iter().enumerate() {
            b.push(
                &format!("{c}_reason"),
                text(&|r| r.derived_reasons[i].clone()),
            );
        }
        b.push(
            "directory_imd_rank",
            rows.iter().map(|r| r.directory_rank).collect::<Vec<_>>(),
        )
        .push("looked_up_in", text(&|r| Some(r.looked_up_in.clone())))
        .push("reason", text(&|r| r.reason.clone()));
        b.finish(n)
    }
}

/// Why a postcode has no small area of any UK index, if it has none.
fn why_no_small_area(
    spec: &PostcodeStage,
    country: Option<&str>,
    areas: &[Option<String>],
) -> Option<String> {
    if let Some(why) = country.and_then(|c| spec.outside_the_indices.get(c)) {
        return Some(why.clone());
    }
    if areas.iter().all(Option::is_none) {
        return Some("the directory assigns this postcode no small area (and no country)".into());
    }
    None
}
