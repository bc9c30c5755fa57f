//! The order stages run in: waves, by Kahn's algorithm.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;

use super::PlannedStage;
use crate::error::ConfigError;

/// Stage names wave by wave: a stage runs after every stage producing a
/// table it reads. Whatever is left over sits on a cycle (an error).
pub fn waves(
    stages: &IndexMap<String, PlannedStage>,
    producer: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<Vec<String>>> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = stages
        .iter()
        .map(|(name, p)| {
            let d = p
                .inputs
                .all()
                .filter_map(|t| producer.get(t.as_str()).cloned())
                .filter(|s| s != name)
                .collect();
            (name.clone(), d)
        })
        .collect();
    for (name, p) in stages {
        if p.inputs
            .required
            .iter()
            .any(|t| producer.get(t.as_str()) == Some(name))
        {
            errors.push(ConfigError::message(
                "",
                format!("Stage `{name}` reads a table it produces itself (a cycle)"),
            ));
        }
    }
    let mut waves = Vec::new();
    while !deps.is_empty() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            let names: Vec<&String> = deps.keys().collect();
            errors.push(ConfigError::message(
                "",
                format!("Stages {names:?} form a cycle through their inputs"),
            ));
            return None;
        }
        for r in &ready {
            deps.remove(r);
        }
        for d in deps.values_mut() {
            for r in &ready {
                d.remove(r);
            }
        }
        waves.push(ready);
    }
    Some(waves)
}
