//! Small areas the directory predates, derived through a look-up where it
//! has one answer, and the reason where it has not. Never a guess: a split
//! LSOA has several successors, and which one holds the postcode is not in
//! the look-up.

use std::collections::{BTreeMap, BTreeSet};

use super::spec::{Derive, PostcodeStage};
use crate::contract::Frames;
use crate::error::Result;
use crate::hash::HashMap;

/// One derived column's answers: from-code -> code, or the reason there is
/// no single one.
pub type Answers = HashMap<String, std::result::Result<String, String>>;

/// Every derived column's answers, by output column.
pub struct Derivations {
    pub by_column: BTreeMap<String, (Derive, Answers)>,
    /// Why a derived column has no answers at all (its look-up is not in
    /// the build).
    pub unavailable: BTreeMap<String, String>,
    /// Why a code its look-up does not list has no answer.
    pub not_found: BTreeMap<String, String>,
}

impl Derivations {
    pub fn load(spec: &PostcodeStage, inputs: &Frames<'_>) -> Result<Derivations> {
        let mut by_column = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        let mut not_found = BTreeMap::new();
        for (name, s) in &spec.small_areas {
            let Some(d) = &s.derive else { continue };
            not_found.insert(
                name.clone(),
                format!(
                    "its {} is not in the look-up `{}`",
                    d.from.trim_end_matches("_code"),
                    d.lookup
                ),
            );
            match inputs.get(&d.lookup) {
                Some(_) => {
                    by_column.insert(name.clone(), (d.clone(), answers(d, inputs)?));
                }
                None => {
                    let why = inputs
                        .unavailable
                        .get(&d.lookup)
                        .cloned()
                        .unwrap_or_else(|| format!("table `{}` is not in the build", d.lookup));
                    unavailable.insert(
                        name.clone(),
                        format!("the look-up to derive it is unavailable: {why}"),
                    );
                }
            }
        }
        Ok(Derivations {
            by_column,
            unavailable,
            not_found,
        })
    }
}

fn answers(d: &Derive, inputs: &Frames<'_>) -> Result<Answers> {
    let t = inputs.table(&d.lookup)?;
    let (from, to, change) = (
        t.values(&d.lookup_from)?,
        t.values(&d.lookup_to)?,
        t.values(&d.lookup_change)?,
    );
    let mut rows: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for i in 0..from.len() {
        let (Some(f), Some(t)) = (from.text(i), to.text(i)) else {
            continue;
        };
        rows.entry(f)
            .or_default()
            .push((t, change.text(i).unwrap_or_default()));
    }
    Ok(rows
        .into_iter()
        .map(|(f, succ)| {
            let targets: BTreeSet<&String> = succ.iter().map(|(t, _)| t).collect();
            let changes: BTreeSet<&String> = succ.iter().map(|(_, c)| c).collect();
            let clear = targets.len() == 1 && changes.iter().all(|c| d.unambiguous.contains(c));
            let answer = if clear {
                Ok(succ[0].0.clone())
            } else {
                let how: Vec<String> = changes
                    .iter()
                    .map(|c| d.meaning.get(*c).cloned().unwrap_or_else(|| format!("changed ({c})")))
                    .collect();
                Err(format!(
                    "{f} was {} in the {} boundaries ({}): which of them holds the postcode is not in the look-up, and the directory predates them",
                    how.join(" and "),
                    d.lookup_to.trim_end_matches("_code"),
                    targets.into_iter().cloned().collect::<Vec<_>>().join(", ")
                ))
            };
            (f, answer)
        })
        .collect())
}
