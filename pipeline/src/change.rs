//! Comparing two editions of an index across the 2011 -> 2021 LSOA change.
//!
//! The indices rank relative snapshots: they are not annual series and do
//! not measure absolute change (MHCLG guidance). So positions are compared
//! (rank percentile within the nation, decile), never scores, and every
//! comparison carries that caveat. The ONS exact look-up's CHGIND says how
//! each LSOA changed: `U` unchanged (compared directly), `S` split (children
//! inherit the parent's value, flagged), `M` merged (population-weighted
//! value of the parents, flagged), `X` irregular (not comparable: flagged,
//! never guessed). An area with no match is not comparable either.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::index::BuiltTable;
use crate::values::Values;
use crate::verify::{Check, Status, TableReport};

/// The caveat published with every comparison.
pub const CAVEAT: &str = "The indices rank small areas relative to each other at one point in time; they are not annual series and do not \
measure absolute change. A change in rank percentile or decile means an area moved relative to others, not that it became more or less deprived in absolute terms. \
Scores are never compared across editions.";

/// Parameters of an `index_change` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub description: String,
    /// The nation (for descriptions).
    pub nation: String,
    /// The earlier edition's index (on LSOA 2011).
    pub before: EditionSpec,
    /// The later edition's index (on LSOA 2021).
    pub after: EditionSpec,
    /// The exact LSOA 2011 -> 2021 look-up with CHGIND.
    pub lookup: ChangeLookup,
    /// Keep look-up rows whose LSOA codes start with this (the nation).
    pub code_prefix: String,
    /// A move of less than this many percentile points is "broadly stable".
    pub stable_within_points: f64,
    /// Ward comparisons need at least this share of the ward's population in
    /// comparable LSOAs.
    pub min_comparable_share: f64,
    /// Output tables.
    pub lsoa21_table: String,
    pub ward_table: String,
    pub lsoa11_table: String,
    /// LSOA 2021 -> ward look-up for the ward comparison.
    pub wards: WardSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EditionSpec {
    pub edition: String,
    pub table: String,
    pub key: String,
    /// Population weights: a column of the index, or of another table.
    pub population: PopulationRef,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationRef {
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    pub column: String,
    /// Why these are not the edition's own denominators, when they are not.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLookup {
    pub table: String,
    pub lsoa11: String,
    pub lsoa21: String,
    pub change: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardSpec {
    pub table: String,
    pub key: String,
    pub code: String,
    pub name: String,
    pub lad_code: String,
    /// Output names, e.g. `ward24_code`.
    pub output_code: String,
    pub output_name: String,
    pub output_lad_code: String,
}

impl ChangeStage {
    pub fn inputs(&self) -> Vec<String> {
        let mut t = vec![
            self.before.table.clone(),
            self.after.table.clone(),
            self.lookup.table.clone(),
            self.wards.table.clone(),
        ];
        t.extend(self.before.population.table.clone());
        t.extend(self.after.population.table.clone());
        t.sort();
        t.dedup();
        t
    }
    pub fn outputs(&self) -> Vec<String> {
        vec![
            self.lsoa21_table.clone(),
            self.ward_table.clone(),
            self.lsoa11_table.clone(),
        ]
    }
}

/// One edition's positions by LSOA code.
struct Edition {
    n: usize,
    rank: HashMap<String, f64>,
    decile: HashMap<String, i64>,
    population: HashMap<String, f64>,
}

impl Edition {
    fn load(spec: &EditionSpec, inputs: &HashMap<String, DataFrame>) -> Result<Edition> {
        let t = &inputs[&spec.table];
        let k = Values::from_frame(t, &spec.key)?;
        let r = Values::from_frame(t, "imd_rank")?;
        let d = Values::from_frame(t, "imd_decile")?;
        let mut e = Edition {
            n: k.len(),
            rank: HashMap::new(),
            decile: HashMap::new(),
            population: HashMap::new(),
        };
        for i in 0..k.len() {
            let code = k.text(i).unwrap_or_default();
            if let Some(x) = r.number(i) {
                e.rank.insert(code.clone(), x);
            }
            if let Some(x) = d.number(i) {
                e.decile.insert(code, x as i64);
            }
        }
        let pt = &inputs[spec.population.table.as_ref().unwrap_or(&spec.table)];
        let pk = Values::from_frame(pt, spec.population.key.as_deref().unwrap_or(&spec.key))?;
        let pv = Values::from_frame(pt, &spec.population.column)?;
        for i in 0..pk.len() {
            if let (Some(c), Some(p)) = (pk.text(i), pv.number(i)) {
                e.population.insert(c, p);
            }
        }
        Ok(e)
    }

    /// Rank percentile: 100 * rank / N (near 0 = most deprived).
    fn percentile(&self, code: &str) -> Option<f64> {
        self.rank.get(code).map(|r| 100.0 * r / self.n as f64)
    }
}

fn decile_of(pct: f64) -> i64 {
    ((pct / 10.0).ceil() as i64).clamp(1, 10)
}

/// The direction of a move in rank percentile (higher = less deprived).
pub fn direction(before: f64, after: f64, stable_within: f64) -> &'static str {
    let d = after - before;
    if d >= stable_within {
        "improved"
    } else if d <= -stable_within {
        "declined"
    } else {
        "broadly stable"
    }
}

/// Runs an `index_change` stage: the LSOA 2021 comparison, the ward
/// comparison and the later edition expressed on LSOA 2011 codes.
pub fn build_change(
    spec: &ChangeStage,
    inputs: &HashMap<String, DataFrame>,
) -> Result<Vec<(DataFrame, BuiltTable)>> {
    let before = Edition::load(&spec.before, inputs)?;
    let after = Edition::load(&spec.after, inputs)?;
    let lt = &inputs[&spec.lookup.table];
    let (l11, l21, chg) = (
        Values::from_frame(lt, &spec.lookup.lsoa11)?,
        Values::from_frame(lt, &spec.lookup.lsoa21)?,
        Values::from_frame(lt, &spec.lookup.change)?,
    );
    let mut parents: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new(); // lsoa21 -> [(lsoa11, chg)]
    let mut children: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new(); // lsoa11 -> [(lsoa21, chg)]
    for i in 0..l11.len() {
        let (Some(a), Some(b), Some(c)) = (l11.text(i), l21.text(i), chg.text(i)) else {
            continue;
        };
        if !b.starts_with(&spec.code_prefix) {
            continue;
        }
        parents
            .entry(b.clone())
            .or_default()
            .push((a.clone(), c.clone()));
        children.entry(a).or_default().push((b, c));
    }
    let after_codes: BTreeSet<String> = after.rank.keys().cloned().collect();
    let before_codes: BTreeSet<String> = before.rank.keys().cloned().collect();
    let bad = |m: String| Error::new(ErrorKind::Verification(m));

    // ---- LSOA 2021 comparison.
    let mut rows = Lsoa21Rows::default();
    for code in &after_codes {
        let ps = parents.get(code).cloned().unwrap_or_default();
        let kinds: BTreeSet<&str> = ps.iter().map(|(_, c)| c.as_str()).collect();
        let after_pct = after.percentile(code).expect("after code has a rank");
        let (before_pct, before_decile, change, method, reason): (
            Option<f64>,
            Option<i64>,
            String,
            String,
            Option<String>,
        ) = if ps.is_empty() {
            (
                None,
                None,
                "none".into(),
                "no LSOA 2011 in the look-up".into(),
                Some("no LSOA 2011 matches this LSOA 2021 in the exact look-up".into()),
            )
        } else if kinds.contains("X") {
            (
                None,
                None,
                "X".into(),
                "not compared".into(),
                Some("irregular boundary change (CHGIND X): not comparable".into()),
            )
        } else if let Some(missing) = ps.iter().find(|(p, _)| !before.rank.contains_key(p)) {
            (
                None,
                None,
                kinds.iter().next().unwrap_or(&"?").to_string(),
                "not compared".into(),
                Some(format!(
                    "parent LSOA 2011 {} has no {} value",
                    missing.0, spec.before.edition
                )),
            )
        } else if ps.len() == 1 {
            let p = &ps[0].0;
            let k = ps[0].1.clone();
            let method = if k == "S" {
                "split: inherits its parent's value"
            } else {
                "unchanged: compared directly"
            };
            (
                before.percentile(p),
                before.decile.get(p).copied(),
                k,
                method.into(),
                None,
            )
        } else {
            // Merged: population-weighted mean of the parents' percentiles.
            let weights: Option<Vec<(f64, f64)>> = ps
                .iter()
                .map(|(p, _)| Some((before.population.get(p).copied()?, before.percentile(p)?)))
                .collect();
            match weights {
                Some(w) if w.iter().map(|x| x.0).sum::<f64>() > 0.0 => {
                    let total: f64 = w.iter().map(|x| x.0).sum();
                    let pct = w.iter().map(|(wt, p)| wt * p).sum::<f64>() / total;
                    (
                        Some(pct),
                        Some(decile_of(pct)),
                        "M".into(),
                        format!("merged: population-weighted mean of {} parents", ps.len()),
                        None,
                    )
                }
                _ => (
                    None,
                    None,
                    "M".into(),
                    "not compared".into(),
                    Some("a merged parent has no population to weight by".into()),
                ),
            }
        };
        rows.code.push(Some(code.clone()));
        rows.lsoa11.push(Some(
            ps.iter().map(|p| p.0.clone()).collect::<Vec<_>>().join(";"),
        ));
        rows.change.push(Some(change));
        rows.method.push(Some(method));
        rows.before_pct.push(before_pct);
        rows.before_decile.push(before_decile);
        rows.after_pct.push(Some(after_pct));
        rows.after_decile.push(after.decile.get(code).copied());
        rows.direction.push(
            before_pct.map(|b| direction(b, after_pct, spec.stable_within_points).to_string()),
        );
        rows.comparable.push(reason.is_none());
        rows.reason.push(reason);
    }
    let n21 = rows.code.len();
    let mut report = TableReport {
        table: spec.lsoa21_table.clone(),
        checks: Vec::new(),
    };
    let unique: BTreeSet<&String> = rows.code.iter().flatten().collect();
    report.checks.push(check(
        "every_lsoa21_once",
        unique.len() == n21 && n21 == after.n,
        format!(
            "{n21} rows for the {} LSOAs of {} {}",
            after.n, spec.nation, spec.after.edition
        ),
    ));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in rows.change.iter().flatten() {
        *counts.entry(c.clone()).or_default() += 1;
    }
    report.checks.push(Check {
        check: "change_types".into(),
        status: Status::Pass,
        detail: format!("LSOA 2021 areas by change type: {counts:?}"),
        examples: Vec::new(),
    });
    let not_comparable = rows.comparable.iter().filter(|c| !**c).count();
    report.checks.push(Check {
        check: "not_comparable".into(),
        status: if not_comparable == 0 {
            Status::Pass
        } else {
            Status::Warn
        },
        detail: format!(
            "{not_comparable} of {n21} LSOAs are not comparable, each with its reason in the table"
        ),
        examples: Vec::new(),
    });
    if report.checks.iter().any(|c| c.status == Status::Fail) {
        return Err(bad(format!(
            "table `{}`: an LSOA 2021 is missing or repeated",
            spec.lsoa21_table
        )));
    }
    // Ordered by code: the ward sums below add in this order, and a float
    // sum in hash order differs between runs in its last digit.
    let lsoa21_lookup: BTreeMap<String, usize> = rows
        .code
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.clone()?, i)))
        .collect();
    let lsoa21_frame = DataFrame::new(
        n21,
        vec![
            Column::new("lsoa21_code".into(), rows.code.clone()),
            Column::new("lsoa11_codes".into(), rows.lsoa11),
            Column::new("change".into(), rows.change),
            Column::new("method".into(), rows.method),
            Column::new(
                format!("imd_rank_percentile_{}", spec.before.edition).into(),
                rows.before_pct.clone(),
            ),
            Column::new(
                format!("imd_decile_{}", spec.before.edition).into(),
                rows.before_decile,
            ),
            Column::new(
                format!("imd_rank_percentile_{}", spec.after.edition).into(),
                rows.after_pct.clone(),
            ),
            Column::new(
                format!("imd_decile_{}", spec.after.edition).into(),
                rows.after_decile,
            ),
            Column::new("direction".into(), rows.direction),
            Column::new("comparable".into(), rows.comparable.clone()),
            Column::new("not_comparable_reason".into(), rows.reason),
        ],
    )?;
    let stable = spec.stable_within_points;
    let lsoa21_built = BuiltTable {
        name: spec.lsoa21_table.clone(),
        description: format!(
            "{} {} IMD {} carried onto LSOA 2021 by the ONS exact look-up (U compared directly, S inherits the parent's value, M population-weighted mean of the parents, X not comparable) \
             and compared with {} by rank percentile (100 * rank / N within the nation; near 0 = most deprived). `direction` is improved (up by {stable} points or more), \
             declined (down by {stable} or more) or broadly stable. {CAVEAT}",
            spec.description, spec.nation, spec.before.edition, spec.after.edition
        ),
        notes: [spec.before.population.note.clone(), spec.after.population.note.clone()].into_iter().flatten().collect(),
        verification: Some(report),
        ..Default::default()
    };

    // ---- Wards.
    let wt = &inputs[&spec.wards.table];
    let (wk, wc, wn, wl) = (
        Values::from_frame(wt, &spec.wards.key)?,
        Values::from_frame(wt, &spec.wards.code)?,
        Values::from_frame(wt, &spec.wards.name)?,
        Values::from_frame(wt, &spec.wards.lad_code)?,
    );
    struct Acc {
        name: String,
        lad: String,
        n: usize,
        n_comp: usize,
        pop: f64,
        pop_comp: f64,
        before: f64,
        after_comp: f64,
        after_all: f64,
    }
    let mut wards: BTreeMap<String, Acc> = BTreeMap::new();
    let mut unassigned = Vec::new();
    let mut ward_of: HashMap<String, String> = HashMap::new();
    for i in 0..wk.len() {
        if let (Some(k), Some(c)) = (wk.text(i), wc.text(i)) {
            if lsoa21_lookup.contains_key(&k) {
                ward_of.insert(k.clone(), c.clone());
                wards.entry(c).or_insert(Acc {
                    name: wn.text(i).unwrap_or_default(),
                    lad: wl.text(i).unwrap_or_default(),
                    n: 0,
                    n_comp: 0,
                    pop: 0.0,
                    pop_comp: 0.0,
                    before: 0.0,
                    after_comp: 0.0,
                    after_all: 0.0,
                });
            }
        }
    }
    for (code, &i) in &lsoa21_lookup {
        let Some(w) = ward_of.get(code) else {
            unassigned.push(code.clone());
            continue;
        };
        let pop = after.population.get(code).copied().unwrap_or(0.0);
        let a = wards.get_mut(w).expect("ward registered");
        a.n += 1;
        a.pop += pop;
        a.after_all += pop * rows.after_pct[i].unwrap_or(0.0);
        if rows.comparable[i] {
            a.n_comp += 1;
            a.pop_comp += pop;
            a.before += pop * rows.before_pct[i].unwrap_or(0.0);
            a.after_comp += pop * rows.after_pct[i].unwrap_or(0.0);
        }
    }
    if !unassigned.is_empty() {
        return Err(bad(format!(
            "table `{}`: {} LSOAs have no ward in `{}` (first: {:?})",
            spec.ward_table,
            unassigned.len(),
            spec.wards.table,
            &unassigned[..unassigned.len().min(5)]
        )));
    }
    let mut w = WardRows::default();
    for (code, a) in &wards {
        let share = if a.pop > 0.0 { a.pop_comp / a.pop } else { 0.0 };
        let (b, af) = if a.pop_comp > 0.0 {
            (Some(a.before / a.pop_comp), Some(a.after_comp / a.pop_comp))
        } else {
            (None, None)
        };
        let comparable = share >= spec.min_comparable_share && b.is_some();
        w.code.push(code.clone());
        w.name.push(a.name.clone());
        w.lad.push(a.lad.clone());
        w.n.push(a.n as i64);
        w.n_comp.push(a.n_comp as i64);
        w.pop.push(a.pop);
        w.share.push(share);
        w.after_all.push(if a.pop > 0.0 {
            Some(a.after_all / a.pop)
        } else {
            None
        });
        w.before.push(b);
        w.after_comp.push(af);
        w.direction.push(match (comparable, b, af) {
            (true, Some(b), Some(af)) => {
                Some(direction(b, af, spec.stable_within_points).to_string())
            }
            _ => None,
        });
        w.comparable.push(comparable);
        w.reason.push((!comparable).then(|| {
            format!(
                "only {:.0}% of the ward's population lives in comparable LSOAs (at least {:.0}% needed)",
                share * 100.0,
                spec.min_comparable_share * 100.0
            )
        }));
    }
    let nw = w.code.len();
    let (be, ae) = (&spec.before.edition, &spec.after.edition);
    let ward_frame = DataFrame::new(
        nw,
        vec![
            Column::new(spec.wards.output_code.as_str().into(), w.code),
            Column::new(spec.wards.output_name.as_str().into(), w.name),
            Column::new(spec.wards.output_lad_code.as_str().into(), w.lad),
            Column::new("lsoa_count".into(), w.n),
            Column::new("comparable_lsoa_count".into(), w.n_comp),
            Column::new("population".into(), w.pop),
            Column::new("comparable_population_share".into(), w.share),
            Column::new(
                format!("imd_rank_percentile_{ae}_all_lsoas").into(),
                w.after_all,
            ),
            Column::new(format!("imd_rank_percentile_{be}").into(), w.before),
            Column::new(format!("imd_rank_percentile_{ae}").into(), w.after_comp),
            Column::new("direction".into(), w.direction),
            Column::new("comparable".into(), w.comparable),
            Column::new("not_comparable_reason".into(), w.reason),
        ],
    )?;
    let ward_built = BuiltTable {
        name: spec.ward_table.clone(),
        description: format!(
            "{} {} IMD {be} and {ae} summarised on {} boundaries: population-weighted mean rank percentile of the ward's comparable LSOAs in each edition \
             (`imd_rank_percentile_{ae}_all_lsoas` uses every LSOA), the share of the population in comparable LSOAs, and the direction \
             (threshold {stable} points). A ward is compared only if at least {:.0}% of its population is in comparable LSOAs. {CAVEAT}",
            spec.description,
            spec.nation,
            spec.wards.output_code,
            spec.min_comparable_share * 100.0
        ),
        notes: [spec.after.population.note.clone()].into_iter().flatten().collect(),
        ..Default::default()
    };

    // ---- The later edition on LSOA 2011 codes (record linkage).
    let mut l = Lsoa11Rows::default();
    let lsoa11_codes: BTreeSet<String> = children
        .keys()
        .cloned()
        .chain(before_codes.iter().cloned())
        .filter(|c| c.starts_with(&spec.code_prefix))
        .collect();
    for code in &lsoa11_codes {
        let ch = children.get(code).cloned().unwrap_or_default();
        let kinds: BTreeSet<&str> = ch.iter().map(|(_, c)| c.as_str()).collect();
        let (rank, decile, pct, flag, method): (
            Option<f64>,
            Option<i64>,
            Option<f64>,
            String,
            String,
        ) = if ch.is_empty() {
            (
                None,
                None,
                None,
                "none".into(),
                "no LSOA 2021 in the look-up: no value".into(),
            )
        } else if kinds.contains("X") {
            (
                None,
                None,
                None,
                "X".into(),
                "irregular boundary change (X): no reliable value, not estimated".into(),
            )
        } else if ch.len() == 1 {
            let c = &ch[0].0;
            let k = ch[0].1.clone();
            let m = if k == "M" {
                format!("merged into {c}: takes the merged LSOA 2021's value")
            } else {
                format!("unchanged: the value of {c}")
            };
            (
                after.rank.get(c).copied(),
                after.decile.get(c).copied(),
                after.percentile(c),
                k,
                m,
            )
        } else {
            let w: Option<Vec<(f64, f64)>> = ch
                .iter()
                .map(|(c, _)| Some((after.population.get(c).copied()?, after.percentile(c)?)))
                .collect();
            match w {
                Some(w) if w.iter().map(|x| x.0).sum::<f64>() > 0.0 => {
                    let total: f64 = w.iter().map(|x| x.0).sum();
                    let pct = w.iter().map(|(a, b)| a * b).sum::<f64>() / total;
                    (None, Some(decile_of(pct)), Some(pct), "S".into(), format!("split into {} LSOAs 2021: population-weighted mean rank percentile; decile from that percentile", ch.len()))
                }
                _ => (
                    None,
                    None,
                    None,
                    "S".into(),
                    "split, but a child has no population to weight by: no value".into(),
                ),
            }
        };
        l.code.push(code.clone());
        l.lsoa21
            .push(ch.iter().map(|c| c.0.clone()).collect::<Vec<_>>().join(";"));
        l.flag.push(flag);
        l.method.push(method);
        l.rank.push(rank);
        l.decile.push(decile);
        l.pct.push(pct);
    }
    let n11 = l.code.len();
    let lsoa11_frame = DataFrame::new(
        n11,
        vec![
            Column::new("lsoa11_code".into(), l.code),
            Column::new("lsoa21_codes".into(), l.lsoa21),
            Column::new("change".into(), l.flag),
            Column::new("method".into(), l.method),
            Column::new(format!("imd_rank_{ae}").into(), l.rank),
            Column::new(format!("imd_decile_{ae}").into(), l.decile),
            Column::new(format!("imd_rank_percentile_{ae}").into(), l.pct),
        ],
    )?;
    let lsoa11_built = BuiltTable {
        name: spec.lsoa11_table.clone(),
        description: format!(
            "{} {} IMD {ae} expressed on LSOA 2011 codes, for record linkage with data still keyed on LSOA 2011. Every row says how its value was obtained: \
             U the LSOA's own value; M (merged into one LSOA 2021) the merged area's value; S (split into several) the population-weighted mean rank percentile \
             of the children, with a decile from it and no rank; X (irregular) no value. Rank 1 = most deprived.",
            spec.description, spec.nation
        ),
        notes: [spec.after.population.note.clone()].into_iter().flatten().collect(),
        ..Default::default()
    };
    Ok(vec![
        (lsoa21_frame, lsoa21_built),
        (ward_frame, ward_built),
        (lsoa11_frame, lsoa11_built),
    ])
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        check: name.into(),
        status: if ok { Status::Pass } else { Status::Fail },
        detail,
        examples: Vec::new(),
    }
}

#[derive(Default)]
struct Lsoa21Rows {
    code: Vec<Option<String>>,
    lsoa11: Vec<Option<String>>,
    change: Vec<Option<String>>,
    method: Vec<Option<String>>,
    before_pct: Vec<Option<f64>>,
    before_decile: Vec<Option<i64>>,
    after_pct: Vec<Option<f64>>,
    after_decile: Vec<Option<i64>>,
    direction: Vec<Option<String>>,
    comparable: Vec<bool>,
    reason: Vec<Option<String>>,
}

#[derive(Default)]
struct WardRows {
    code: Vec<String>,
    name: Vec<String>,
    lad: Vec<String>,
    n: Vec<i64>,
    n_comp: Vec<i64>,
    pop: Vec<f64>,
    share: Vec<f64>,
    after_all: Vec<Option<f64>>,
    before: Vec<Option<f64>>,
    after_comp: Vec<Option<f64>>,
    direction: Vec<Option<String>>,
    comparable: Vec<bool>,
    reason: Vec<Option<String>>,
}

#[derive(Default)]
struct Lsoa11Rows {
    code: Vec<String>,
    lsoa21: Vec<String>,
    flag: Vec<String>,
    method: Vec<String>,
    rank: Vec<Option<f64>>,
    decile: Vec<Option<i64>>,
    pct: Vec<Option<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cols: Vec<Column>) -> DataFrame {
        let n = cols[0].len();
        DataFrame::new(n, cols).unwrap()
    }

    /// Four 2011 areas and four 2021 areas: A unchanged, B split into B1 and
    /// B2, C and D merged into CD, E irregular, and F (2021) with no parent.
    fn fixture() -> (ChangeStage, HashMap<String, DataFrame>) {
        let mut inputs = HashMap::new();
        inputs.insert(
            "before".to_string(),
            frame(vec![
                Column::new("code".into(), ["E1A", "E1B", "E1C", "E1D", "E1E"]),
                Column::new("imd_rank".into(), [1i64, 2, 3, 4, 5]),
                Column::new("imd_decile".into(), [2i64, 4, 6, 8, 10]),
                Column::new("pop".into(), [100.0, 100.0, 300.0, 100.0, 100.0]),
            ]),
        );
        inputs.insert(
            "after".to_string(),
            frame(vec![
                Column::new("code".into(), ["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"]),
                Column::new("imd_rank".into(), [6i64, 1, 2, 3, 4, 5]),
                Column::new("imd_decile".into(), [10i64, 2, 4, 5, 7, 9]),
                Column::new("pop".into(), [100.0, 50.0, 150.0, 400.0, 100.0, 10.0]),
            ]),
        );
        inputs.insert(
            "lookup".to_string(),
            frame(vec![
                Column::new("l11".into(), ["E1A", "E1B", "E1B", "E1C", "E1D", "E1E"]),
                Column::new("l21".into(), ["E1A", "E1B1", "E1B2", "E1CD", "E1CD", "E1E"]),
                Column::new("chg".into(), ["U", "S", "S", "M", "M", "X"]),
            ]),
        );
        inputs.insert(
            "wards".to_string(),
            frame(vec![
                Column::new("l21".into(), ["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"]),
                Column::new("w".into(), ["W1", "W1", "W1", "W2", "W2", "W2"]),
                Column::new("wn".into(), ["One", "One", "One", "Two", "Two", "Two"]),
                Column::new("lad".into(), ["L", "L", "L", "L", "L", "L"]),
            ]),
        );
        let ed = |t: &str| EditionSpec {
            edition: t.into(),
            table: t.into(),
            key: "code".into(),
            population: PopulationRef {
                table: None,
                key: None,
                column: "pop".into(),
                note: None,
            },
        };
        let spec = ChangeStage {
            description: "test".into(),
            nation: "England".into(),
            before: ed("before"),
            after: ed("after"),
            lookup: ChangeLookup {
                table: "lookup".into(),
                lsoa11: "l11".into(),
                lsoa21: "l21".into(),
                change: "chg".into(),
            },
            code_prefix: "E1".into(),
            stable_within_points: 10.0,
            min_comparable_share: 0.8,
            lsoa21_table: "c21".into(),
            ward_table: "cw".into(),
            lsoa11_table: "c11".into(),
            wards: WardSpec {
                table: "wards".into(),
                key: "l21".into(),
                code: "w".into(),
                name: "wn".into(),
                lad_code: "lad".into(),
                output_code: "ward_code".into(),
                output_name: "ward_name".into(),
                output_lad_code: "lad_code".into(),
            },
        };
        (spec, inputs)
    }

    fn col_str(df: &DataFrame, c: &str) -> Vec<Option<String>> {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|o| o.map(str::to_string))
            .collect()
    }

    #[test]
    fn splits_inherit_merges_weight_and_irregular_or_unmatched_areas_are_not_compared() {
        let (spec, inputs) = fixture();
        let out = build_change(&spec, &inputs).unwrap();
        let t = &out[0].0;
        assert_eq!(
            col_str(t, "lsoa21_code")
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>(),
            ["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"]
        );
        let before: Vec<Option<f64>> = t
            .column("imd_rank_percentile_before")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        // A: 1/5; B1 and B2 inherit B's 2/5; CD: (300*60 + 100*80)/400 = 65; E, F: none.
        assert_eq!(before[0], Some(20.0));
        assert_eq!(before[1], Some(40.0));
        assert_eq!(before[2], Some(40.0));
        assert_eq!(before[3], Some(65.0));
        assert_eq!(before[4], None);
        assert_eq!(before[5], None);
        let comparable: Vec<Option<bool>> = t
            .column("comparable")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            comparable,
            [
                Some(true),
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                Some(false)
            ]
        );
        let reasons = col_str(t, "not_comparable_reason");
        assert!(reasons[4].as_deref().unwrap().contains("irregular"));
        assert!(reasons[5].as_deref().unwrap().contains("no LSOA 2011"));
        // A moved from 20 to 100: improved; B1 from 40 to 16.7: declined.
        let dir = col_str(t, "direction");
        assert_eq!(dir[0].as_deref(), Some("improved"));
        assert_eq!(dir[1].as_deref(), Some("declined"));
    }

    #[test]
    fn wards_are_compared_only_when_enough_of_their_population_is_comparable() {
        let (spec, inputs) = fixture();
        let out = build_change(&spec, &inputs).unwrap();
        let w = &out[1].0;
        let comparable: Vec<Option<bool>> = w
            .column("comparable")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        // W1: all comparable. W2: CD (400) comparable, E (100) and F (10) not: 78% < 80%.
        assert_eq!(comparable, [Some(true), Some(false)]);
        let share: Vec<Option<f64>> = w
            .column("comparable_population_share")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert!((share[1].unwrap() - 400.0 / 510.0).abs() < 1e-12);
    }

    #[test]
    fn the_later_edition_on_2011_codes_says_how_each_value_was_obtained() {
        let (spec, inputs) = fixture();
        let out = build_change(&spec, &inputs).unwrap();
        let t = &out[2].0;
        assert_eq!(
            col_str(t, "change")
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>(),
            ["U", "S", "M", "M", "X"]
        );
        let pct: Vec<Option<f64>> = t
            .column("imd_rank_percentile_after")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        // B split into B1 (50, pct 100/6) and B2 (150, pct 200/6).
        assert!(
            (pct[1].unwrap() - (50.0 * 100.0 / 6.0 + 150.0 * 200.0 / 6.0) / 200.0).abs() < 1e-9
        );
        assert_eq!(pct[2], pct[3], "C and D both take CD's value");
        assert_eq!(pct[4], None, "irregular: not estimated");
        let rank: Vec<Option<f64>> = t
            .column("imd_rank_after")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(rank[1], None, "a split area has no rank of its own");
    }
}

/// Parameters of a `boundary_change` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryChangeStage {
    pub description: String,
    pub table: String,
    pub lookup: ChangeLookup,
    /// The look-up's local authority column, carried over.
    pub lad_code: String,
}

/// Runs a `boundary_change` stage: the exact look-up with each change
/// type spelled out, and the counts of each type in the report.
pub fn build_boundary_change(
    spec: &BoundaryChangeStage,
    inputs: &HashMap<String, DataFrame>,
) -> Result<(DataFrame, BuiltTable)> {
    let t = &inputs[&spec.lookup.table];
    let (a, b, c, l) = (
        Values::from_frame(t, &spec.lookup.lsoa11)?,
        Values::from_frame(t, &spec.lookup.lsoa21)?,
        Values::from_frame(t, &spec.lookup.change)?,
        Values::from_frame(t, &spec.lad_code)?,
    );
    let n = a.len();
    let mut meaning = Vec::with_capacity(n);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown = Vec::new();
    for i in 0..n {
        let code = c.text(i).unwrap_or_default();
        *counts.entry(code.clone()).or_default() += 1;
        meaning.push(match code.as_str() {
            "U" => Some("unchanged"),
            "S" => Some("split: one LSOA 2011 became several LSOA 2021"),
            "M" => Some("merged: several LSOA 2011 became one LSOA 2021"),
            "X" => Some("irregular: redrawn, not comparable"),
            _ => {
                unknown.push(format!("{:?} -> {:?}: {code:?}", a.text(i), b.text(i)));
                None
            }
        });
    }
    if !unknown.is_empty() {
        return Err(Error::new(ErrorKind::Verification(format!(
            "table `{}`: {} rows have a change code other than U, S, M or X (first: {:?})",
            spec.table,
            unknown.len(),
            &unknown[..unknown.len().min(5)]
        ))));
    }
    let frame = DataFrame::new(
        n,
        vec![
            a.into_column("lsoa11_code"),
            b.into_column("lsoa21_code"),
            c.into_column("change"),
            Column::new("change_meaning".into(), meaning),
            l.into_column("lad22_code"),
        ],
    )?;
    let report = TableReport {
        table: spec.table.clone(),
        checks: vec![Check {
            check: "change_types".into(),
            status: Status::Pass,
            detail: format!("rows by change type: {counts:?}"),
            examples: Vec::new(),
        }],
    };
    Ok((
        frame,
        BuiltTable {
            name: spec.table.clone(),
            description: format!(
                "{} One row per LSOA 2011 - LSOA 2021 pair of the ONS exact look-up (many-to-many). change: U unchanged, S split, M merged, X irregular.",
                spec.description
            ),
            verification: Some(report),
            ..Default::default()
        },
    ))
}
