//! The output rows, and how each source fills them.
//!
//! A directory has about 2.7 million postcodes, so a row is a reference to
//! its source row plus what is computed for it (the normalised postcode, the
//! derived small areas); every other cell is read from the source's columns
//! as the output column is built, borrowed, never copied per row.

use super::derive::Derivations;
use super::spec::{CrossCheck, ExtraLookup, PostcodeStage};
use super::Counts;
use crate::checks::{Status as CheckStatus, TableReport};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Cells, Repeated, Table, TableBuilder};
use crate::hash::HashMap;
use crate::pattern::Pattern;
use crate::postcode::{normalise, Compact as Code};

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

/// One postcode: where it comes from and what was computed for it.
struct Row {
    code: Code,
    /// 0: the directory; n: look-up n - 1.
    source: u16,
    at: u32,
    status: Status,
}

/// One source's columns, borrowed from its table.
struct Source<'a> {
    name: String,
    terminated: Option<Cells>,
    country: Option<Cells>,
    country_code: Option<&'a str>,
    lad: Cells,
    ward: Option<Cells>,
    rank: Option<Cells>,
    /// Per output small-area column: its source column.
    areas: Vec<Option<AreaCells>>,
    reason: Option<&'a str>,
}

/// A source's small-area column, and which of its cells are codes of the
/// spec's pattern for it (`None`: no pattern, all are). Each cell is judged
/// once, not at every use (a regex on millions of rows several times over
/// was a fifth of the stage), and a run of equal cells (neighbouring
/// postcodes share a small area) once.
struct AreaCells {
    cells: Cells,
    valid: Option<Vec<bool>>,
}

impl AreaCells {
    fn new(cells: Cells, pattern: Option<&Pattern>) -> AreaCells {
        let valid = pattern.map(|p| {
            let mut last: Option<(&str, bool)> = None;
            (0..cells.len())
                .map(|i| {
                    let Some(c) = cells.str(i) else {
                        return false;
                    };
                    match last {
                        Some((prev, ok)) if prev == c => ok,
                        _ => {
                            let ok = p.is_match(c);
                            last = Some((c, ok));
                            ok
                        }
                    }
                })
                .collect()
        });
        AreaCells { cells, valid }
    }

    /// Cell `i` if it is a code (of the pattern, when there is one).
    fn get(&self, i: usize) -> Option<&str> {
        let c = self.cells.str(i)?;
        self.valid.as_ref().is_none_or(|v| v[i]).then_some(c)
    }
}

/// A derived cell: the code, why there is none, or nothing to derive.
type Derived<'a> = Option<std::result::Result<&'a str, &'a str>>;

pub struct Rows<'a> {
    spec: &'a PostcodeStage,
    rows: Vec<Row>,
    sources: Vec<Source<'a>>,
    /// Output small-area columns, in order.
    columns: Vec<String>,
    /// Per derived column: (its index in `columns`, the column it is derived
    /// from, and per row its code or why not).
    derived: Vec<(usize, usize, Vec<Derived<'a>>)>,
}

impl<'a> Rows<'a> {
    pub fn new(spec: &'a PostcodeStage) -> Rows<'a> {
        let columns = spec.small_area_columns();
        let derived = spec
            .derived_columns()
            .into_iter()
            .filter_map(|name| {
                let at = columns.iter().position(|c| c == name)?;
                let from = spec.small_areas[name].derive.as_ref()?;
                let from_at = columns.iter().position(|c| *c == from.from)?;
                Some((at, from_at, Vec::new()))
            })
            .collect();
        Rows {
            spec,
            rows: Vec::new(),
            sources: Vec::new(),
            columns,
            derived,
        }
    }

    /// A small-area cell of a row as read (before derivation).
    fn area(&self, r: &Row, col: usize) -> Option<&str> {
        self.sources[r.source as usize].areas[col]
            .as_ref()?
            .get(r.at as usize)
    }

    /// Every directory row whose postcode is a postcode; the others are
    /// reported.
    pub fn add_directory(&mut self, inputs: &Frames<'_>, report: &mut TableReport) -> Result<()> {
        let spec = self.spec;
        let d = &spec.directory;
        let t = inputs.table(&d.table)?;
        let areas = self
            .columns
            .iter()
            .map(|c| {
                spec.small_areas
                    .get(c)
                    .map(|s| Ok(AreaCells::new(t.cells(&s.from)?, Some(&s.pattern))))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let pc = t.cells(&d.postcode)?;
        let terminated = t.cells(&d.terminated)?;
        let mut invalid = Vec::new();
        for i in 0..pc.len() {
            let raw = pc.str(i).unwrap_or_default();
            let Some((_, postcode)) = normalise(raw) else {
                invalid.push(format!("row {}: {raw:?}", i + 1));
                continue;
            };
            self.rows.push(Row {
                code: Code::new(&postcode),
                source: 0,
                at: i as u32,
                status: match terminated.str(i) {
                    Some(_) => Status::Terminated,
                    None => Status::Live,
                },
            });
        }
        self.sources.push(Source {
            name: d.table.clone(),
            terminated: Some(terminated),
            country: Some(t.cells(&d.country)?),
            country_code: None,
            lad: t.cells(&d.lad)?,
            ward: Some(t.cells(&d.ward)?),
            rank: Some(t.cells(&d.imd_rank)?),
            areas,
            reason: None,
        });
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

    /// The postcodes of a further look-up (those the directory also has are
    /// dropped when the rows are ordered).
    pub fn add_lookup(&mut self, l: &'a ExtraLookup, inputs: &Frames<'_>) -> Result<()> {
        let Some(t) = inputs.get(&l.table) else {
            return Ok(());
        };
        let source = self.sources.len() as u16;
        let pc = t.cells(&l.postcode)?;
        for i in 0..pc.len() {
            if let Some((_, postcode)) = pc.str(i).and_then(normalise) {
                self.rows.push(Row {
                    code: Code::new(&postcode),
                    source,
                    at: i as u32,
                    status: Status::Unknown,
                });
            }
        }
        let areas = self
            .columns
            .iter()
            .map(|c| {
                l.small_areas
                    .get(c)
                    .map(|src| Ok(AreaCells::new(t.cells(src)?, None)))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        self.sources.push(Source {
            name: l.table.clone(),
            terminated: None,
            country: None,
            country_code: Some(&l.country_code),
            lad: t.cells(&l.lad)?,
            ward: None,
            rank: None,
            areas,
            reason: Some(&l.reason),
        });
        Ok(())
    }

    /// Orders the rows by outcode and postcode; a postcode given twice by
    /// one source stops the build, one a later look-up repeats is dropped.
    pub fn order(&mut self) -> Result<()> {
        // By outcode, postcode and source: the order key compares as one
        // number (2.7 million rows at full scale).
        self.rows
            .sort_unstable_by_key(|r| (r.code.order_key(), r.source));
        let mut kept: Vec<Row> = Vec::with_capacity(self.rows.len());
        for r in std::mem::take(&mut self.rows) {
            match kept.last() {
                Some(prev) if prev.code == r.code && prev.source == r.source => {
                    return Err(Error::table(format!(
                        "postcode {} is given twice by `{}` (rows {} and {})",
                        r.code.as_str(),
                        self.sources[r.source as usize].name,
                        prev.at + 1,
                        r.at + 1
                    )));
                }
                Some(prev) if prev.code == r.code => {}
                _ => kept.push(r),
            }
        }
        self.rows = kept;
        Ok(())
    }

    /// Fills each derived column the directory left empty, from its
    /// look-up, or says why not.
    pub fn derive(&mut self, derivations: &'a Derivations) {
        let names: Vec<String> = self
            .derived
            .iter()
            .map(|(at, _, _)| self.columns[*at].clone())
            .collect();
        for (k, name) in names.iter().enumerate() {
            let (at, from_at, _) = self.derived[k];
            let cells: Vec<_> = self
                .rows
                .iter()
                .map(|r| {
                    if self.area(r, at).is_some() {
                        return None;
                    }
                    if let Some(why) = derivations.unavailable.get(name) {
                        return Some(Err(why.as_str()));
                    }
                    let (_, answers) = derivations.by_column.get(name)?;
                    let from = self.area(r, from_at)?;
                    Some(match answers.get(from) {
                        Some(Ok(code)) => Ok(code.as_str()),
                        Some(Err(why)) => Err(why.as_str()),
                        None => Err(derivations.not_found[name].as_str()),
                    })
                })
                .collect();
            self.derived[k].2 = cells;
        }
    }

    /// A row's small area in output column `col`, derived or read.
    fn small_area(&self, i: usize, col: usize) -> Option<&str> {
        let r = &self.rows[i];
        if let Some((_, _, cells)) = self.derived.iter().find(|(at, _, _)| *at == col) {
            if let Some(Ok(code)) = cells[i] {
                return Some(code);
            }
        }
        self.area(r, col)
    }

    /// Why a row has no small area of any UK index, if it has none.
    fn reason(&self, i: usize) -> Option<&str> {
        let r = &self.rows[i];
        let src = &self.sources[r.source as usize];
        if let Some(why) = src.reason {
            return Some(why);
        }
        let country = src.country.as_ref().and_then(|c| c.str(r.at as usize));
        if let Some(why) = country.and_then(|c| self.spec.outside_the_indices.get(c)) {
            return Some(why);
        }
        let none = (0..self.columns.len()).all(|c| self.small_area(i, c).is_none());
        none.then_some("the directory assigns this postcode no small area (and no country)")
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
        let Some(col) = self.columns.iter().position(|x| *x == c.small_area) else {
            return Ok(());
        };
        let (mut compared, mut bad) = (0usize, Vec::new());
        for (i, row) in self.rows.iter().enumerate() {
            let src = &self.sources[row.source as usize];
            let theirs = src
                .rank
                .as_ref()
                .and_then(|x| x.number(row.at as usize))
                .filter(|x| *x > 0.0);
            let (Some(area), Some(theirs)) = (self.small_area(i, col), theirs) else {
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
                    row.code.as_str(),
                    c.index,
                    ours.map_or("none".to_string(), |r| r.to_string())
                ));
            }
        }
        if compared == 0 {
            let detail = format!(
                "no postcode has both a {} matching this index and a directory rank",
                c.small_area
            );
            report.push(&check, CheckStatus::NotAvailable, detail, Vec::new());
            return Ok(());
        }
        let detail = format!(
            "{} of {compared} postcodes in {} have a directory rank other than `{}`'s (at most {} tolerated)",
            bad.len(),
            c.small_area,
            c.index,
            c.max_disagreements
        );
        match bad.len() {
            0 => report.pass(&check, detail),
            n if n <= c.max_disagreements => report.warn(&check, detail, bad),
            _ => report.fail(&check, detail, bad),
        }
        Ok(())
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::new();
        for r in &self.rows {
            *c.entry(r.status.as_str()).or_default() += 1;
        }
        c
    }

    /// A text column of the output, each cell borrowed.
    fn column<'s>(
        &'s self,
        cell: impl Fn(usize, &'s Row, &'s Source<'a>) -> Option<&'s str>,
    ) -> Vec<Option<&'s str>> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| cell(i, r, &self.sources[r.source as usize]))
            .collect()
    }

    /// The table, ordered by outcode and postcode.
    pub fn into_table(self) -> Result<Table> {
        let n = self.rows.len();
        let at = |r: &Row| r.at as usize;
        let mut b = TableBuilder::new();
        b.push("postcode", self.column(|_, r, _| Some(r.code.as_str())))
            .push("outcode", self.column(|_, r, _| Some(r.code.outcode())))
            .push("status", self.column(|_, r, _| Some(r.status.as_str())))
            .push(
                "terminated",
                self.column(|_, r, s| s.terminated.as_ref()?.str(at(r))),
            )
            .push(
                "country_code",
                self.column(|_, r, s| {
                    s.country
                        .as_ref()
                        .and_then(|c| c.str(at(r)))
                        .or(s.country_code)
                }),
            )
            .push("lad_code", self.column(|_, r, s| s.lad.str(at(r))))
            .push(
                "ward_code",
                self.column(|_, r, s| s.ward.as_ref()?.str(at(r))),
            );
        for (c, name) in self.columns.iter().enumerate() {
            b.push(name, self.column(|i, _, _| self.small_area(i, c)));
        }
        for (at_col, _, cells) in &self.derived {
            let why: Vec<Option<&str>> = cells.iter().map(|c| (*c).and_then(Result::err)).collect();
            b.push(&format!("{}_reason", self.columns[*at_col]), Repeated(why));
        }
        let ranks: Vec<Option<f64>> = self
            .rows
            .iter()
            .map(|r| {
                self.sources[r.source as usize]
                    .rank
                    .as_ref()?
                    .number(at(r))
                    .filter(|x| *x > 0.0)
            })
            .collect();
        b.push("directory_imd_rank", ranks)
            .push(
                "looked_up_in",
                Repeated(self.column(|_, _, s| Some(s.name.as_str()))),
            )
            .push("reason", Repeated(self.column(|i, _, _| self.reason(i))));
        b.finish(n)
    }
}
