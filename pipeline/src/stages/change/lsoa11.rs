//! The later edition expressed on LSOA 2011 codes, for record linkage with
//! data still keyed on LSOA 2011: every row says how its value was obtained.

use std::collections::BTreeSet;

use super::edition::{decile_of, Edition, Links};
use super::ChangeStage;
use crate::contract::{Built, BuiltTable};
use crate::error::Result;
use crate::frame::TableBuilder;

/// One LSOA 2011's value in the later edition, and how it was obtained.
struct Carried {
    rank: Option<f64>,
    decile: Option<i64>,
    pct: Option<f64>,
    flag: String,
    method: String,
}

impl Carried {
    fn none(flag: &str, method: &str) -> Carried {
        Carried {
            rank: None,
            decile: None,
            pct: None,
            flag: flag.into(),
            method: method.into(),
        }
    }
}

fn carry(after: &Edition, ch: &[(String, String)]) -> Carried {
    let kinds: BTreeSet<&str> = ch.iter().map(|(_, c)| c.as_str()).collect();
    if ch.is_empty() {
        return Carried::none("none", "no LSOA 2021 in the look-up: no value");
    }
    if kinds.contains("X") {
        return Carried::none(
            "X",
            "irregular boundary change (X): no reliable value, not estimated",
        );
    }
    if ch.len() == 1 {
        let (c, k) = &ch[0];
        let method = if k == "M" {
            format!("merged into {c}: takes the merged LSOA 2021's value")
        } else {
            format!("unchanged: the value of {c}")
        };
        return Carried {
            rank: after.rank.get(c).copied(),
            decile: after.decile.get(c).copied(),
            pct: after.percentile(c),
            flag: k.clone(),
            method,
        };
    }
    match after.weighted_percentile(ch.iter().map(|(c, _)| c)) {
        Some(pct) => Carried {
            rank: None,
            decile: Some(decile_of(pct)),
            pct: Some(pct),
            flag: "S".into(),
            method: format!("split into {} LSOAs 2021: population-weighted mean rank percentile; decile from that percentile", ch.len()),
        },
        None => Carried::none(
            "S",
            "split, but a child has no population to weight by: no value",
        ),
    }
}

/// The later edition on every LSOA 2011 of the nation.
pub fn table(
    spec: &ChangeStage,
    before: &Edition,
    after: &Edition,
    links: &Links,
) -> Result<Built> {
    let codes: BTreeSet<String> = links
        .children
        .keys()
        .cloned()
        .chain(before.rank.keys().cloned())
        .filter(|c| c.starts_with(&spec.code_prefix))
        .collect();
    let n = codes.len();
    let (mut lsoa21, mut flag, mut method) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rank, mut decile, mut pct) = (Vec::new(), Vec::new(), Vec::new());
    for code in &codes {
        let ch = links.children.get(code).cloned().unwrap_or_default();
        let c = carry(after, &ch);
        lsoa21.push(ch.iter().map(|c| c.0.clone()).collect::<Vec<_>>().join(";"));
        flag.push(c.flag);
        method.push(c.method);
        rank.push(c.rank);
        decile.push(c.decile);
        pct.push(c.pct);
    }
    let ae = &spec.after.edition;
    let mut b = TableBuilder::new();
    b.push("lsoa11_code", codes.into_iter().collect::<Vec<_>>())
        .push("lsoa21_codes", lsoa21)
        .push("change", flag)
        .push("method", method)
        .push(&format!("imd_rank_{ae}"), rank)
        .push(&format!("imd_decile_{ae}"), decile)
        .push(&format!("imd_rank_percentile_{ae}"), pct);
    let mut meta = BuiltTable::new(
        &spec.lsoa11_table,
        format!(
            "{} IMD {ae} expressed on LSOA 2011 codes, for record linkage with data still keyed on LSOA 2011. Every row says how its value was obtained: \
             U the LSOA's own value; M (merged into one LSOA 2021) the merged area's value; S (split into several) the population-weighted mean rank percentile \
             of the children, with a decile from it and no rank; X (irregular) no value. Rank 1 = most deprived.",
            spec.nation
        ),
    );
    meta.notes = spec.after.population.note.iter().cloned().collect();
    Ok(Built {
        table: b.finish(n)?,
        meta,
    })
}
