//! Summary measures for larger areas, by MHCLG's method (IoD technical
//! report; File 10 of each edition).
//!
//! For each area (local authority or ward) of small areas with national
//! rank `r` (1 = most deprived, N areas in the nation) and population `w`:
//! - average score: `sum(w * score) / sum(w)`;
//! - average rank: `sum(w * (N + 1 - r)) / sum(w)` (higher = more deprived);
//! - proportion of its small areas in the most deprived 10% nationally;
//! - extent: `sum(w * e(p)) / sum(w)`, with `p = ceil(r * 100 / N)` and
//!   `e = 1` for p <= 10, `0.95 - (p - 11) * 0.90 / 19` for 11 <= p <= 30, else 0;
//! - local concentration: the population-weighted mean inverted rank of the
//!   area's most deprived small areas holding exactly 10% of its population
//!   (the last one counted only for the population still needed);
//! - income / employment scale: the numbers of income- and employment-deprived
//!   people (`sum(rate * population)`).
//!
//! Each measure is then ranked across areas, 1 = most deprived, ties sharing
//! the lowest rank (as File 10 does for zero extent).
//!
//! These reproduce IoD2019 File 10 to its published rounding (Hartlepool:
//! average rank 22,581.98, extent 0.4973, local concentration 32,560.44).

mod compare;
mod method;
mod spec;

use std::borrow::Cow;
use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::checks::TableReport;
use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::{Error, Result};
use crate::frame::{Cells, ColType, Table, TableBuilder};
use crate::hash::HashMap;
use crate::units::{Direction, Rule, Unit};

pub use method::{extent_weight, rank_desc, summarise, SmallArea, Summary};
pub use spec::{AreaSummaryStage, CompareSpec, ComparedColumn, GroupSpec, PopulationSpec};

fn neutral(u: Unit) -> Rule {
    Rule::of(u).direction(Direction::Neutral)
}

/// The measures, in output order; each is followed by its rank.
const MEASURES: [&str; 7] = [
    "imd_average_score",
    "imd_average_rank",
    "imd_proportion_most_deprived_10pc",
    "imd_extent",
    "imd_local_concentration",
    "income_scale",
    "employment_scale",
];

fn measure(name: &str, s: &Summary) -> Option<f64> {
    match name {
        "imd_average_score" => s.average_score,
        "imd_average_rank" => Some(s.average_rank),
        "imd_proportion_most_deprived_10pc" => Some(s.proportion_most_deprived_10pc),
        "imd_extent" => Some(s.extent),
        "imd_local_concentration" => Some(s.local_concentration),
        "income_scale" => s.income_scale,
        _ => s.employment_scale,
    }
}

impl Stage for AreaSummaryStage {
    fn inputs(&self) -> Inputs {
        let mut t = vec![self.index.clone()];
        t.extend(self.group.table.clone());
        t.extend(self.population.table.clone());
        t.extend(self.population.working_age_table.clone());
        t.extend(self.compare.as_ref().map(|c| c.table.clone()));
        let mut inputs = Inputs::required_sorted(t);
        // The edition's own denominators, used when the catalog has them.
        inputs.optional = self
            .population
            .preferred
            .iter()
            .map(|p| p.table.clone())
            .collect();
        inputs
    }

    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output> {
        let mut s = TableSchema::new(&self.table).col(&self.group.output_code, ColType::String);
        s.key = vec![self.group.output_code.clone()];
        if let Some(n) = &self.group.output_name {
            s = s.col(n, ColType::String);
        }
        s = s
            .col_rule("lsoa_count", ColType::Int, neutral(Unit::Count))
            .col_rule("population", ColType::Float, neutral(Unit::Count));
        let rules = self.measure_rules(ctx);
        for (m, rule) in MEASURES.iter().zip(rules) {
            s = s.col_rule(*m, ColType::Float, rule).col_unit(
                format!("rank_of_{m}"),
                ColType::Int,
                Unit::Rank,
            );
        }
        vec![s.into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        v.columns("key", &self.index, [&self.key, &"imd_rank".to_string()]);
        let rates = [&self.income_rate, &self.employment_rate];
        v.columns("income_rate", &self.index, rates.into_iter().flatten());
        let g = &self.group;
        let gt = g.table.as_ref().unwrap_or(&self.index);
        let gk = g.key.as_ref().unwrap_or(&self.key);
        v.columns("group", gt, [gk, &g.code].into_iter().chain(&g.name));
        let p = &self.population;
        let pt = p.table.as_ref().unwrap_or(&self.index);
        let pk = p.key.as_ref().unwrap_or(&self.key);
        v.columns("population", pt, [pk, &p.column]);
        if let Some(w) = &p.working_age {
            let wt = p.working_age_table.as_ref().unwrap_or(pt);
            let wk = p.working_age_key.as_ref().unwrap_or(pk);
            v.columns("population.working_age", wt, [wk, w]);
        }
        if let Some(pp) = &p.preferred {
            let cols = [&pp.key, &pp.column].into_iter().chain(&pp.working_age);
            v.columns("population.preferred", &pp.table, cols);
        }
        if let Some(c) = &self.compare {
            v.column("compare.key", &c.table, &c.key);
            v.columns(
                "compare.columns",
                &c.table,
                c.columns.values().map(|p| &p.published),
            );
            let ours = self.outputs_names();
            for col in c.columns.keys() {
                if !ours.contains(col) {
                    v.error(format!(
                        "field `compare.columns` names `{col}`, which is not a column of `{}`; its columns are: {}",
                        self.table,
                        ours.join(", ")
                    ));
                }
            }
        }
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl AreaSummaryStage {
    /// Each measure's rule: an average of scores on the index's scale, an
    /// average of (inverted) ranks within 1..N of the nation's small areas,
    /// shares, and counts of people.
    fn measure_rules(&self, ctx: &PlanCtx<'_>) -> [Rule; 7] {
        let index = ctx.schemas.get(&self.index);
        let score = index
            .and_then(|s| s.rule_of("imd_score"))
            .map_or(Rule::of(Unit::Score), |r| Rule {
                unit: Unit::Score,
                ..r
            });
        let n = index
            .and_then(|s| s.facts.get("rows"))
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(f64::INFINITY);
        let more = Direction::HigherMoreDeprived;
        let average_rank = Rule::of(Unit::AverageRank).range(1.0, n).direction(more);
        [
            score.direction(more),
            average_rank,
            Rule::of(Unit::Rate).direction(more),
            Rule::of(Unit::Rate).direction(more),
            average_rank,
            Rule::of(Unit::Count).direction(more),
            Rule::of(Unit::Count).direction(more),
        ]
    }

    fn outputs_names(&self) -> Vec<String> {
        let mut v = vec![self.group.output_code.clone()];
        v.extend(self.group.output_name.clone());
        v.extend(["lsoa_count".to_string(), "population".to_string()]);
        for m in MEASURES {
            v.push(m.to_string());
            v.push(format!("rank_of_{m}"));
        }
        v
    }
}

impl Build for AreaSummaryStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        // The population weights this build has: the edition's own
        // denominators when the catalog provides them.
        let resolved = AreaSummaryStage {
            population: self.population.resolved(|t| inputs.get(t).is_some()),
            ..self.clone()
        };
        resolved.build_resolved(inputs)
    }
}

impl AreaSummaryStage {
    fn build_resolved(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let index = inputs.table(&self.index)?;
        let (areas, names) = small_areas(self, index, inputs)?;
        let summaries = summarise(&areas, index.height());
        let mut report = TableReport::new(&self.table);
        compare::population_check(&areas, &summaries, &mut report);
        compare::measures_plausible(&areas, &summaries, index.height(), &mut report);
        let (table, missing, computed) = self.columns(&summaries, &names, inputs)?;
        if let Some(c) = &self.compare {
            compare::compare_published(
                c,
                &table,
                &self.group.output_code,
                inputs,
                self.population.approximate.as_deref(),
                &computed,
                &mut report,
            )?;
        }
        report.ok()?;
        let meta = BuiltTable {
            name: self.table.clone(),
            description: format!(
                "{} Summary measures by MHCLG's method (IoD technical report) for each {}: average score, average rank (of inverted ranks, so higher = more deprived), \
                 proportion of LSOAs in the most deprived 10% nationally, extent, local concentration, income and employment scales; each ranked across areas with 1 = most deprived. \
                 Compare within one nation and edition only.",
                self.description, self.area_type
            ),
            missing,
            computed,
            // Said again as the table's notes (manifest and data package);
            // the API's sections say it in their caveats (stages/api.toml).
            notes: self
                .population
                .approximate
                .iter()
                .map(|w| format!("Population weights: {w}"))
                .chain(
                    self.scales_approximate
                        .iter()
                        .map(|s| format!("Income and employment scales are approximate: {s}")),
                )
                .collect(),
            verification: Some(report),
        };
        Ok(vec![Built { table, meta }])
    }
}

/// A column of a table, looked up by small-area code (where a code has
/// several rows, the last one's value, as a map filled row by row keeps).
/// Codes and cells are borrowed from the table, not copied (measured: the
/// copies were a third of the summary stages' time).
struct ByCode<'t> {
    row: HashMap<Cow<'t, str>, usize>,
    values: Cells,
}

impl ByCode<'_> {
    fn text(&self, code: &str) -> Option<String> {
        self.values.text(*self.row.get(code)?)
    }

    fn number(&self, code: &str) -> Option<f64> {
        self.values.number(*self.row.get(code)?)
    }
}

/// A column of a table by small-area code: the row of each code, not a
/// copy of each cell (three columns of 33,000 rows each).
fn by_code<'t>(
    spec: &AreaSummaryStage,
    inputs: &'t Frames<'_>,
    table: &Option<String>,
    key: &Option<String>,
    col: &str,
) -> Result<ByCode<'t>> {
    let frame = inputs.table(table.as_ref().unwrap_or(&spec.index))?;
    let key = key.as_deref().unwrap_or(&spec.key);
    let row = match frame.text_cells(key)? {
        Some(codes) => codes
            .enumerate()
            .filter_map(|(i, c)| Some((Cow::Borrowed(c?), i)))
            .collect(),
        None => {
            let k = frame.values(key)?;
            (0..k.len())
                .filter_map(|i| Some((Cow::Owned(k.text(i)?), i)))
                .collect()
        }
    };
    Ok(ByCode {
        row,
        values: frame.plain_cells(col)?,
    })
}

/// Every small area of the index with its area, rank, score, rates and
/// population; and each area's name. Every small area must be assigned and
/// have a population.
fn small_areas(
    spec: &AreaSummaryStage,
    index: &Table,
    inputs: &Frames<'_>,
) -> Result<(Vec<SmallArea>, BTreeMap<String, String>)> {
    // Read in place, as `by_code` reads the look-ups.
    let codes = index.plain_cells(&spec.key)?;
    let rank = index.plain_cells("imd_rank")?;
    let idx_missing = inputs.missing_of(&spec.index);
    let optional = |c: Option<&String>| -> Result<Option<Cells>> {
        match c {
            Some(c) if !idx_missing.contains_key(c) => index.plain_cells(c).map(Some),
            _ => Ok(None),
        }
    };
    let score = optional(Some(&"imd_score".to_string()))?;
    let (income, employment) = (
        optional(spec.income_rate.as_ref())?,
        optional(spec.employment_rate.as_ref())?,
    );
    let (g, p) = (&spec.group, &spec.population);
    let group_code = by_code(spec, inputs, &g.table, &g.key, &g.code)?;
    let group_name = g
        .name
        .as_ref()
        .map(|c| by_code(spec, inputs, &g.table, &g.key, c))
        .transpose()?;
    let pops = by_code(spec, inputs, &p.table, &p.key, &p.column)?;
    // As `check` validates them: each falls back to the population's.
    let wt = p.working_age_table.clone().or_else(|| p.table.clone());
    let wk = p.working_age_key.clone().or_else(|| p.key.clone());
    let working = p
        .working_age
        .as_ref()
        .map(|c| by_code(spec, inputs, &wt, &wk, c))
        .transpose()?;
    let mut areas = Vec::with_capacity(codes.len());
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let (mut unassigned, mut no_population) = (Vec::new(), Vec::new());
    for i in 0..codes.len() {
        let code = codes.text(i).unwrap_or_default();
        let Some(area) = group_code.text(&code) else {
            unassigned.push(code);
            continue;
        };
        let Some(population) = pops.number(&code) else {
            no_population.push(code);
            continue;
        };
        if let Some(nm) = group_name.as_ref().and_then(|m| m.text(&code)) {
            names.entry(area.clone()).or_insert(nm);
        }
        let rank = rank.number(i).ok_or_else(|| {
            Error::check(
                &spec.table,
                "ranks_present",
                format!("{code} has no imd_rank"),
                Vec::new(),
            )
        })?;
        areas.push(SmallArea {
            code: code.clone(),
            area,
            rank,
            score: score.as_ref().and_then(|s| s.number(i)),
            population,
            income_rate: income.as_ref().and_then(|s| s.number(i)),
            employment_rate: employment.as_ref().and_then(|s| s.number(i)),
            working_age: working.as_ref().and_then(|m| m.number(&code)),
        });
    }
    every_area_placed(spec, unassigned, no_population)?;
    Ok((areas, names))
}

fn every_area_placed(
    spec: &AreaSummaryStage,
    unassigned: Vec<String>,
    no_population: Vec<String>,
) -> Result<()> {
    if !unassigned.is_empty() {
        return Err(Error::check(
            &spec.table,
            "assignment",
            format!(
                "{} small areas have no {} in the assignment",
                unassigned.len(),
                spec.area_type
            ),
            unassigned.into_iter().take(5).collect(),
        ));
    }
    if !no_population.is_empty() {
        return Err(Error::check(
            &spec.table,
            "population",
            format!("{} small areas have no population", no_population.len()),
            no_population.into_iter().take(5).collect(),
        ));
    }
    Ok(())
}

type Columns = (Table, IndexMap<String, String>, IndexMap<String, String>);

impl AreaSummaryStage {
    /// The output table, and its missing and approximate columns.
    fn columns(
        &self,
        summaries: &[Summary],
        names: &BTreeMap<String, String>,
        inputs: &Frames<'_>,
    ) -> Result<Columns> {
        let mut b = TableBuilder::new();
        b.push(
            &self.group.output_code,
            summaries.iter().map(|s| s.area.clone()).collect::<Vec<_>>(),
        );
        if let Some(out) = &self.group.output_name {
            b.push(
                out,
                summaries
                    .iter()
                    .map(|s| names.get(&s.area).cloned())
                    .collect::<Vec<_>>(),
            );
        }
        b.push(
            "lsoa_count",
            summaries
                .iter()
                .map(|s| s.lsoa_count as i64)
                .collect::<Vec<_>>(),
        );
        b.push(
            "population",
            summaries
                .iter()
                .map(|s| Some(s.population))
                .collect::<Vec<_>>(),
        );
        let mut missing = IndexMap::new();
        let mut computed = IndexMap::new();
        for name in MEASURES {
            let values: Vec<Option<f64>> = summaries.iter().map(|s| measure(name, s)).collect();
            let ranks = rank_desc(&values);
            let rank_name = format!("rank_of_{name}");
            if values.iter().all(Option::is_none) {
                let reason = self.why_missing(name, inputs);
                missing.insert(name.to_string(), reason.clone());
                missing.insert(rank_name.clone(), reason);
            } else if let Some(why) = self.approximate(name) {
                computed.insert(name.to_string(), format!("approximate: {why}"));
                computed.insert(
                    rank_name.clone(),
                    format!("approximate: ranks the approximate `{name}` ({why})"),
                );
            }
            b.push(name, values);
            b.push(&rank_name, ranks);
        }
        Ok((b.finish(summaries.len())?, missing, computed))
    }

    /// Why a measure differs from the publisher's, when it may: weights
    /// that are not the edition's own, or scales summed from rounded rates.
    fn approximate(&self, name: &str) -> Option<String> {
        let weights = self
            .population
            .approximate
            .as_ref()
            .filter(|_| name != "imd_proportion_most_deprived_10pc")
            .map(|why| format!("population-weighted: {why}"));
        let scales = self
            .scales_approximate
            .clone()
            .filter(|_| matches!(name, "income_scale" | "employment_scale"));
        match (weights, scales) {
            (Some(w), Some(s)) => Some(format!("{w}; {s}")),
            (w, s) => w.or(s),
        }
    }

    /// Why a measure is empty for every area: the spec sets no column for
    /// it, or the column is missing from its input (with the input's reason).
    fn why_missing(&self, name: &str, inputs: &Frames<'_>) -> String {
        let missing_in = |table: &str, col: &str| -> Option<String> {
            inputs
                .missing_of(table)
                .get(col)
                .map(|r| format!("`{col}` of `{table}` is missing: {r}"))
        };
        let p = &self.population;
        match name {
            "imd_average_score" => missing_in(&self.index, "imd_score")
                .unwrap_or_else(|| "the index has no IMD scores".to_string()),
            "income_scale" => match &self.income_rate {
                None => "`income_rate` is not set: the index publishes no income-deprivation rate".to_string(),
                Some(c) => missing_in(&self.index, c)
                    .unwrap_or_else(|| format!("the index has no `{c}` values")),
            },
            _ => match (&self.employment_rate, &p.working_age) {
                (None, _) => "`employment_rate` is not set: the index publishes no employment-deprivation rate".to_string(),
                (_, None) => "no working-age population is declared (`population.working_age`)".to_string(),
                (Some(c), Some(w)) => {
                    let wt = p.working_age_table.as_ref().or(p.table.as_ref()).unwrap_or(&self.index);
                    missing_in(&self.index, c)
                        .or_else(|| missing_in(wt, w).map(|r| format!("the working-age population is missing: {r}")))
                        .unwrap_or_else(|| format!("neither `{c}` nor the working-age population `{w}` has values"))
                }
            },
        }
    }
}
