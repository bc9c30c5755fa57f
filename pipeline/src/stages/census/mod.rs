//! Census 2021 indicators by LSOA 2021, ward 2024 and LAD 2024, and the
//! geography checks of every local authority table they use.
//!
//! Indicators are declared in the stage spec: each names its source table
//! per geography and how to compute it (a count, a share, a median age, a
//! share of a long-form category). An indicator whose table is not in the
//! catalog in use is published with `status = "unavailable"` and the reason,
//! never filled. Wards are built from LSOAs (ONS best fit); LAD 2024 figures
//! come from the published local authority tables where there are some
//! (aggregating the districts merged in April 2023, stated per row), and
//! from LSOAs otherwise.

mod density;
mod green_space;
mod indicators;
mod la_checks;
mod median;
mod parts;
mod rows;
mod spec;

use std::collections::{BTreeMap, BTreeSet};

use crate::checks::{Status, TableReport};
use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::Result;
use crate::frame::ColType;
use crate::hash::{HashMap, HashSet};
use crate::units::{Direction, Rule, Unit};

pub use median::median_age;
pub use rows::{IndicatorStatus, COLUMNS};
pub use spec::{
    AreaLayer, CensusStage, GreenSpace, Indicator, LaCheck, LadMerge, LsoaLookup, Method, Rollup,
    INDICATOR_DIRECTIONS,
};

/// The geography types of the table's rows.
pub const GEOGRAPHY_TYPES: [&str; 3] = ["lsoa21", "ward24", "lad24"];

/// Where each area belongs: LSOA 2021 -> ward 2024, -> LAD 2024 and
/// -> LAD 2022; LAD 2022 -> LAD 2024.
pub struct Geography {
    pub ward_of: HashMap<String, String>,
    pub lad_of: HashMap<String, String>,
    pub lad22_of: HashMap<String, String>,
    pub lad24_of_lad22: HashMap<String, String>,
    /// For each LAD 2024, the LSOAs that changed district into or out of
    /// it, sorted: worked out once, as every district's checks ask.
    moved: HashMap<String, Vec<String>>,
}

impl Geography {
    /// How many areas of the three types the look-ups place: about as
    /// many rows as an indicator has (a capacity, not a limit).
    fn areas(&self) -> usize {
        let distinct = |m: &HashMap<String, String>| m.values().collect::<HashSet<_>>().len();
        self.ward_of.len() + distinct(&self.ward_of) + distinct(&self.lad_of)
    }

    fn load(spec: &CensusStage, inputs: &Frames<'_>) -> Result<Geography> {
        let l = &spec.lsoa_lookup;
        let lk = inputs.table(&l.table)?;
        let mut geo = Geography {
            ward_of: parts::map_of(lk, &l.key, &l.ward)?,
            lad_of: parts::map_of(lk, &l.key, &l.lad)?,
            lad22_of: parts::map_of(inputs.table(&l.lad22_table)?, &l.lad22_key, &l.lad22)?,
            lad24_of_lad22: parts::map_of(
                inputs.table(&spec.lad_merge.table)?,
                &spec.lad_merge.from,
                &spec.lad_merge.to,
            )?,
            moved: HashMap::default(),
        };
        geo.moved = geo.lsoas_that_moved();
        Ok(geo)
    }

    /// LSOAs whose LAD 2024 is not their LAD 2022's successor (a boundary
    /// change, not a merger), under both districts.
    fn lsoas_that_moved(&self) -> HashMap<String, Vec<String>> {
        let mut moved: HashMap<String, Vec<String>> = HashMap::default();
        for (lsoa, now) in &self.lad_of {
            let Some(then) = self.lad22_of.get(lsoa) else {
                continue;
            };
            let then = self.lad24_of_lad22.get(then).unwrap_or(then);
            if then != now {
                moved.entry(now.clone()).or_default().push(lsoa.clone());
                moved.entry(then.clone()).or_default().push(lsoa.clone());
            }
        }
        moved.values_mut().for_each(|v| v.sort());
        moved
    }

    /// LSOAs that changed district into or out of district `lad24`.
    pub fn lsoas_moved_into_or_out_of(&self, lad24: &str) -> Vec<String> {
        self.moved.get(lad24).cloned().unwrap_or_default()
    }

    /// LAD 2022 parts summed into LAD 2024, with the districts each holds.
    pub fn to_lad24(
        &self,
        parts: &BTreeMap<String, parts::Parts>,
    ) -> BTreeMap<String, (parts::Parts, Vec<String>)> {
        let mut lads: BTreeMap<String, (parts::Parts, Vec<String>)> = BTreeMap::new();
        for (code, p) in parts {
            let to = self
                .lad24_of_lad22
                .get(code)
                .cloned()
                .unwrap_or_else(|| code.clone());
            let e = lads.entry(to).or_default();
            e.0.add(p);
            e.1.push(code.clone());
        }
        lads
    }
}

impl Stage for CensusStage {
    fn inputs(&self) -> Inputs {
        Inputs::required_and_rest(self.required_inputs(), self.input_tables())
    }

    /// The indicators of every area, keyed by area code, and the flags of
    /// indicators unavailable for a whole geography type (one row per type
    /// and indicator, with the reason), keyed by type and indicator. The
    /// two share their columns, so a reader can stack them.
    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        let areas = self.schema(
            &self.table,
            &["geography_code", "geography_type", "indicator_id"],
        );
        let flags = self.schema(&self.flags_table(), &["geography_type", "indicator_id"]);
        vec![areas.into(), flags.into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        self.validate_spec(v);
        self.validate_columns(v);
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl CensusStage {
    /// The table of indicators unavailable for a whole geography type.
    pub fn flags_table(&self) -> String {
        format!("{}_unavailable", self.table)
    }

    /// The long form's schema, for the table `name` keyed by `key`.
    fn schema(&self, name: &str, key: &[&str]) -> TableSchema {
        let mut s = TableSchema::new(name);
        for c in COLUMNS {
            s = match c {
                // Each row's unit is in its `unit` column, and its
                // direction in `value_direction`: some shares are higher =
                // more deprived, a few less, most neither.
                "value" => s.col_rule(
                    c,
                    ColType::Float,
                    Rule::of(Unit::Mixed).direction(Direction::Varies),
                ),
                "numerator" | "denominator" => s.col_rule(
                    c,
                    ColType::Float,
                    Rule::of(Unit::Mixed).direction(Direction::Neutral),
                ),
                _ => s.col(c, ColType::String),
            };
        }
        s.key = key.iter().map(|k| k.to_string()).collect();
        let statuses = [
            IndicatorStatus::Ok,
            IndicatorStatus::Approximate,
            IndicatorStatus::Unavailable,
        ];
        let directions = INDICATOR_DIRECTIONS
            .map(|d| d.as_str().to_string())
            .to_vec();
        s.accepts("indicator_id", self.indicator_ids())
            .accepts("value_direction", directions)
            .accepts("geography_type", GEOGRAPHY_TYPES.map(String::from).to_vec())
            .accepts("status", statuses.map(|s| s.as_str().to_string()).to_vec())
    }

    /// Every column the spec names exists in its table.
    fn validate_columns(&self, v: &mut Validator<'_>) {
        let l = &self.lsoa_lookup;
        v.columns("lsoa_lookup", &l.table, [&l.key, &l.ward, &l.lad]);
        v.columns(
            "lsoa_lookup.lad22",
            &l.lad22_table,
            [&l.lad22_key, &l.lad22],
        );
        let m = &self.lad_merge;
        v.columns("lad_merge", &m.table, [&m.from, &m.to]);
        for (i, c) in self.la_checks.iter().enumerate() {
            let field = format!("la_checks[{i}]");
            v.columns(&field, &c.table, [&c.key, &c.name]);
            v.columns(&field, &c.list, [&c.list_code, &c.list_name]);
            if let Some(r) = &c.rollup {
                v.column(&format!("{field}.rollup.total"), &c.table, &r.total);
                v.columns(
                    &format!("{field}.rollup"),
                    &r.lsoa_table,
                    [&r.lsoa_key, &r.lsoa_total],
                );
            }
        }
        for ind in &self.indicators {
            for t in ind.lsoa.iter().chain(&ind.ltla) {
                self.validate_indicator_columns(ind, t, v);
            }
        }
        if let Some(a) = &self.areas {
            if let Some(m) = &a.measured {
                v.columns("areas.measured", &m.table, [&m.key, &m.area_km2]);
            }
            if let Some(s) = &a.shapes {
                v.columns("areas.shapes", &s.table, [&s.key, &s.geometry]);
            }
            if let Some(r) = &a.reference {
                v.columns("areas.reference", &r.table, [&r.key, &r.area_km2]);
                v.columns(
                    "areas.reference",
                    &r.lookup,
                    [&r.lookup_lsoa11, &r.lookup_lsoa21, &r.lookup_change],
                );
            }
        }
        if let Some(g) = &self.green_space {
            v.columns(
                "green_space",
                &g.table,
                [&g.key, &g.numerator, &g.denominator],
            );
            if let Some(p) = &g.predecessors {
                let f = "green_space.predecessors";
                v.columns(f, &p.old_table, [&p.old_key, &p.old_code]);
                v.columns(f, &p.new_table, [&p.new_key, &p.new_code]);
            }
        }
    }

    fn validate_indicator_columns(&self, ind: &Indicator, table: &str, v: &mut Validator<'_>) {
        let field = format!("indicators.{}", ind.id);
        let m = &ind.method;
        if let Some(prefix) = &m.median_age_prefix {
            let has_ages = v.schema(table).is_some_and(|s| {
                s.open
                    .iter()
                    .any(|(p, _)| p.starts_with(prefix.as_str()) || prefix.starts_with(p.as_str()))
            });
            if v.schema(table).is_some() && !has_ages {
                v.error(format!(
                    "field `{field}.median_age_prefix` is `{prefix}`, but table `{table}` has no column family with that prefix"
                ));
            }
            match &m.total {
                Some(t) => v.column(&format!("{field}.total"), table, t),
                None => v.error(format!(
                    "field `{field}.total` is missing: a median age names the table's total, which the single years must add up to"
                )),
            }
            return;
        }
        if !m.all_categories().is_empty() {
            let count = m
                .numerator
                .first()
                .cloned()
                .unwrap_or_else(|| "count".into());
            let total = m
                .denominator
                .first()
                .cloned()
                .unwrap_or_else(|| "total".into());
            v.columns(&field, table, [&"category".to_string(), &count, &total]);
            return;
        }
        v.columns(&format!("{field}.numerator"), table, &m.numerator);
        v.columns(&format!("{field}.denominator"), table, &m.denominator);
    }
}

impl Build for CensusStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let geo = Geography::load(self, inputs)?;
        let mut report = TableReport::new(&self.table);
        for c in &self.la_checks {
            match inputs.get(&c.table) {
                Some(frame) => la_checks::check(c, frame, inputs, &geo.lad22_of, &mut report)?,
                None => report.push(
                    &format!("la_{}", c.table),
                    Status::NotAvailable,
                    indicators::census_reason(inputs, &c.table),
                    Vec::new(),
                ),
            }
        }
        report.ok()?;
        // Made before the rows, which borrow them.
        let density = self.areas.as_ref().map(|a| (a, density::indicator(a)));
        let green = self
            .green_space
            .as_ref()
            .map(|g| (g, green_space::indicator(g), green_space::vintage(g)));
        // Indicators with a table in the build; the others are a few flags.
        let available = |t: &Option<String>| t.as_ref().is_some_and(|t| inputs.get(t).is_some());
        let indicators = self
            .indicators
            .iter()
            .filter(|i| available(&i.lsoa) || available(&i.ltla))
            .count()
            + usize::from(density.is_some())
            + usize::from(green.is_some());
        let mut rows = rows::Rows::with_capacity(indicators * geo.areas());
        let lsoa_population = indicators::add_all(self, inputs, &geo, &mut rows)?;
        if let Some((a, ind)) = &density {
            density::add(
                a,
                ind,
                inputs,
                &geo,
                &lsoa_population,
                &mut rows,
                &mut report,
            )?;
        }
        if let Some((gs, ind, vintage)) = &green {
            green_space::add(gs, ind, vintage, inputs, &geo, &mut rows, &mut report)?;
        }
        unavailable_check(&rows, &mut report);
        rows.check_units(&mut report);
        report.ok()?;
        let mut meta = BuiltTable::new(
            &self.table,
            format!(
                "{} One row per area and indicator (long form). geography_type: lsoa21, ward24 (LSOAs by ONS best fit), lad24. \
                 status: ok, approximate (with the reason), or unavailable (with the reason); an indicator unavailable for every area of a geography type is one row of `{}` instead. \
                 Counts are Census 2021 values, lightly perturbed by ONS for disclosure control, so sums agree with totals only approximately. \
                 Each row's `value_direction` says which end of its value is more deprived (neutral: neither end is). \
                 Indicators (id, unit, direction: definition): {}",
                self.description,
                self.flags_table(),
                self.glossary()
            ),
        );
        meta.verification = Some(report);
        let flags_meta = BuiltTable::new(
            self.flags_table(),
            format!(
                "Census 2021 indicators of `{}` that are unavailable for every area of a geography type: one row per geography type and indicator, with the reason. \
                 The columns are those of `{}`, so the two stack; geography_code, value, numerator and denominator are always empty here.",
                self.table, self.table
            ),
        );
        let (areas, flags) = rows.into_tables()?;
        Ok(vec![
            Built { table: areas, meta },
            Built {
                table: flags,
                meta: flags_meta,
            },
        ])
    }
}

impl CensusStage {
    /// Each indicator's id, unit and definition, for the table description.
    fn glossary(&self) -> String {
        let mut all: Vec<Indicator> = self.indicators.clone();
        all.extend(self.areas.as_ref().map(density::indicator));
        all.extend(self.green_space.as_ref().map(green_space::indicator));
        all.iter()
            .map(|i| {
                format!(
                    "{}, {}, {}: {}",
                    i.id,
                    i.unit,
                    i.direction.words(),
                    i.definition
                )
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Lists the indicators that are unavailable at one or more geographies.
fn unavailable_check(rows: &rows::Rows, report: &mut TableReport) {
    let ids: BTreeSet<String> = rows
        .status
        .iter()
        .zip(&rows.indicator)
        .filter(|(s, _)| **s == IndicatorStatus::Unavailable)
        .map(|(_, i)| i.to_string())
        .collect();
    report.push(
        "unavailable_indicators",
        if ids.is_empty() { Status::Pass } else { Status::Warn },
        format!(
            "{} indicators are unavailable at one or more geographies, each with its reason in the table",
            ids.len()
        ),
        ids.into_iter().collect(),
    );
}
