//! One edition's positions by area code, and how positions compare.

use std::collections::BTreeMap;

use super::EditionSpec;
use crate::contract::{Built, Frames};
use crate::error::Result;
use crate::hash::HashMap;

/// One edition's positions by LSOA code.
pub struct Edition {
    pub n: usize,
    pub rank: HashMap<String, f64>,
    pub decile: HashMap<String, i64>,
    pub population: HashMap<String, f64>,
    /// The index table, and how it computed its deciles when it did not
    /// take them from the publisher.
    pub table: String,
    pub decile_computed: Option<String>,
}

impl Edition {
    pub fn load(spec: &EditionSpec, inputs: &Frames<'_>) -> Result<Edition> {
        let t = inputs.table(&spec.table)?;
        let k = t.values(&spec.key)?;
        let r = t.values("imd_rank")?;
        let d = t.values("imd_decile")?;
        let mut e = Edition {
            n: k.len(),
            rank: HashMap::default(),
            decile: HashMap::default(),
            population: HashMap::default(),
            table: spec.table.clone(),
            decile_computed: inputs
                .computed_of(&spec.table, "imd_decile")
                .map(String::from),
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
        let pt = inputs.table(spec.population.table.as_ref().unwrap_or(&spec.table))?;
        let pk = pt.values(spec.population.key.as_deref().unwrap_or(&spec.key))?;
        let pv = pt.values(&spec.population.column)?;
        for i in 0..pk.len() {
            if let (Some(c), Some(p)) = (pk.text(i), pv.number(i)) {
                e.population.insert(c, p);
            }
        }
        Ok(e)
    }

    /// Says so in `built`'s column for this edition's decile, if this
    /// edition's deciles are computed and the table has the column.
    pub fn note_computed_decile(&self, edition: &str, built: &mut Built) {
        let column = format!("imd_decile_{edition}");
        if let (Some(how), true) = (&self.decile_computed, built.table.has(&column)) {
            built.meta.computed.insert(
                column,
                format!(
                    "comes from `{}`'s `imd_decile`, which is computed, not published: {how}",
                    self.table
                ),
            );
        }
    }

    /// Rank percentile: 100 * rank / N (near 0 = most deprived).
    pub fn percentile(&self, code: &str) -> Option<f64> {
        self.rank.get(code).map(|r| 100.0 * r / self.n as f64)
    }

    /// Codes in order.
    pub fn codes(&self) -> Vec<String> {
        let mut c: Vec<String> = self.rank.keys().cloned().collect();
        c.sort();
        c
    }

    /// The population-weighted mean rank percentile of `codes`, if each has
    /// a population and a rank and the total population is positive.
    pub fn weighted_percentile<'a>(&self, codes: impl Iterator<Item = &'a String>) -> Option<f64> {
        let w: Vec<(f64, f64)> = codes
            .map(|c| Some((self.population.get(c).copied()?, self.percentile(c)?)))
            .collect::<Option<_>>()?;
        let total: f64 = w.iter().map(|x| x.0).sum();
        (total > 0.0).then(|| w.iter().map(|(wt, p)| wt * p).sum::<f64>() / total)
    }
}

/// The decile of a rank percentile.
pub fn decile_of(pct: f64) -> i64 {
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

/// The exact look-up, both ways, for one nation: LSOA 2021 -> its parents
/// and LSOA 2011 -> its children, each with the change code.
pub struct Links {
    pub parents: BTreeMap<String, Vec<(String, String)>>,
    pub children: BTreeMap<String, Vec<(String, String)>>,
}

impl Links {
    pub fn load(spec: &super::ChangeStage, inputs: &Frames<'_>) -> Result<Links> {
        let lt = inputs.table(&spec.lookup.table)?;
        let (l11, l21, chg) = (
            lt.values(&spec.lookup.lsoa11)?,
            lt.values(&spec.lookup.lsoa21)?,
            lt.values(&spec.lookup.change)?,
        );
        let mut links = Links {
            parents: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        for i in 0..l11.len() {
            let (Some(a), Some(b), Some(c)) = (l11.text(i), l21.text(i), chg.text(i)) else {
                continue;
            };
            if !b.starts_with(&spec.code_prefix) {
                continue;
            }
            links
                .parents
                .entry(b.clone())
                .or_default()
                .push((a.clone(), c.clone()));
            links.children.entry(a).or_default().push((b, c));
        }
        Ok(links)
    }
}
