//! Geography checks shared by the kinds that verify area tables (indices,
//! Census local authority tables): codes of a pattern, unique codes, a set
//! of codes against an official list, names against the list's names.
//!
//! They return what is wrong; each kind words its own check, since the same
//! finding means different things in an index of small areas and in a table
//! of local authorities.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::HashMap;
use crate::pattern::Pattern;

/// Positions of the codes that do not match `pattern` (an absent code
/// never matches).
pub fn not_matching(codes: &[Option<String>], pattern: &Pattern) -> Vec<usize> {
    codes
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.as_deref().is_some_and(|c| pattern.is_match(c)))
        .map(|(i, _)| i)
        .collect()
}

/// Every repeat of a code after its first occurrence, in order.
pub fn repeats(codes: &[String]) -> Vec<String> {
    let mut seen = HashMap::default();
    codes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| seen.insert(c.as_str(), i).map(|_| c.clone()))
        .collect()
}

/// How a set of codes differs from an official list.
#[derive(Debug, Default, PartialEq)]
pub struct SetDifference {
    /// In the list, not in the table.
    pub missing: Vec<String>,
    /// In the table, not in the list.
    pub extra: Vec<String>,
}

impl SetDifference {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Compares the codes of a table with an official list (both sorted).
pub fn compare_sets<V>(ours: &BTreeSet<String>, list: &BTreeMap<String, V>) -> SetDifference {
    SetDifference {
        missing: list
            .keys()
            .filter(|c| !ours.contains(*c))
            .cloned()
            .collect(),
        extra: ours
            .iter()
            .filter(|c| !list.contains_key(*c))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_county_code_does_not_match_the_district_pattern() {
        let p = Pattern::new(r"^E0[6-9]\d{6}$").unwrap();
        let codes = vec![
            Some("E06000001".to_string()),
            Some("E10000002".to_string()),
            None,
        ];
        assert_eq!(not_matching(&codes, &p), [1, 2]);
    }

    #[test]
    fn sets_report_both_sides() {
        let ours: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let list: BTreeMap<String, ()> = [("b".to_string(), ()), ("c".to_string(), ())].into();
        let d = compare_sets(&ours, &list);
        assert_eq!(d.missing, ["c"]);
        assert_eq!(d.extra, ["a"]);
        assert_eq!(repeats(&["x".into(), "y".into(), "x".into()]), ["x"]);
    }
}
