//! MHCLG's summary measures, on plain values (see the module above for the
//! formulas).

use std::collections::BTreeMap;

/// One small area as the summary sees it.
#[derive(Debug, Clone)]
pub struct SmallArea {
    pub code: String,
    pub area: String,
    pub rank: f64,
    pub score: Option<f64>,
    pub population: f64,
    pub income_rate: Option<f64>,
    pub employment_rate: Option<f64>,
    pub working_age: Option<f64>,
}

/// The summary measures of one area.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub area: String,
    pub lsoa_count: usize,
    pub population: f64,
    pub average_score: Option<f64>,
    pub average_rank: f64,
    pub proportion_most_deprived_10pc: f64,
    pub extent: f64,
    pub local_concentration: f64,
    pub income_scale: Option<f64>,
    pub employment_scale: Option<f64>,
}

/// The extent weight of a small area at national percentile `p`.
pub fn extent_weight(p: i64) -> f64 {
    match p {
        ..=10 => 1.0,
        11..=30 => 0.95 - (p - 11) as f64 * 0.90 / 19.0,
        _ => 0.0,
    }
}

/// Summarises small areas by area. `n` is the number of small areas in the
/// nation (percentiles are national).
pub fn summarise(areas: &[SmallArea], n: usize) -> Vec<Summary> {
    let mut by_area: BTreeMap<&str, Vec<&SmallArea>> = BTreeMap::new();
    for a in areas {
        by_area.entry(&a.area).or_default().push(a);
    }
    let nf = n as f64;
    by_area
        .into_iter()
        .map(|(area, mut members)| {
            let pop: f64 = members.iter().map(|a| a.population).sum();
            let inv = |a: &SmallArea| nf + 1.0 - a.rank;
            let wmean = |f: &dyn Fn(&SmallArea) -> f64| {
                members.iter().map(|a| a.population * f(a)).sum::<f64>() / pop
            };
            let average_score = members
                .iter()
                .map(|a| a.score.map(|s| s * a.population))
                .sum::<Option<f64>>()
                .map(|s| s / pop);
            let average_rank = wmean(&|a| inv(a));
            let in_top_decile = members
                .iter()
                .filter(|a| (a.rank * 10.0 / nf).ceil() <= 1.0)
                .count();
            let extent = wmean(&|a| extent_weight((a.rank * 100.0 / nf).ceil() as i64));
            members.sort_by(|a, b| a.rank.total_cmp(&b.rank));
            let need = 0.1 * pop;
            let (mut acc, mut total) = (0.0, 0.0);
            for a in &members {
                let take = a.population.min(need - acc);
                if take <= 0.0 {
                    break;
                }
                total += take * inv(a);
                acc += take;
            }
            let local_concentration = if acc > 0.0 { total / acc } else { f64::NAN };
            let income_scale = members
                .iter()
                .map(|a| a.income_rate.map(|r| r * a.population))
                .sum::<Option<f64>>();
            let employment_scale = members
                .iter()
                .map(|a| Some(a.employment_rate? * a.working_age?))
                .sum::<Option<f64>>();
            Summary {
                area: area.to_string(),
                lsoa_count: members.len(),
                population: pop,
                average_score,
                average_rank,
                proportion_most_deprived_10pc: in_top_decile as f64 / members.len() as f64,
                extent,
                local_concentration,
                income_scale,
                employment_scale,
            }
        })
        .collect()
}

/// Ranks values so that the largest gets rank 1; ties share the lowest rank.
pub fn rank_desc(values: &[Option<f64>]) -> Vec<Option<i64>> {
    values
        .iter()
        .map(|v| v.map(|x| 1 + values.iter().filter(|o| o.is_some_and(|y| y > x)).count() as i64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::compare::population_check;
    use super::*;
    use crate::checks::{Status, TableReport};

    fn area(code: &str, area: &str, rank: f64, population: f64) -> SmallArea {
        SmallArea {
            code: code.into(),
            area: area.into(),
            rank,
            score: Some(rank),
            population,
            income_rate: Some(0.1),
            employment_rate: None,
            working_age: None,
        }
    }

    #[test]
    fn extent_weights_follow_the_published_formula() {
        assert_eq!(extent_weight(1), 1.0);
        assert_eq!(extent_weight(10), 1.0);
        assert!((extent_weight(11) - 0.95).abs() < 1e-12);
        assert!((extent_weight(30) - 0.05).abs() < 1e-12);
        assert_eq!(extent_weight(31), 0.0);
    }

    #[test]
    fn local_concentration_counts_the_last_area_only_for_the_population_needed() {
        // 1,000 people: the 10% (100) are 60 in rank 1 and 40 of the 500 in rank 2.
        let a = [
            area("a", "X", 1.0, 60.0),
            area("b", "X", 2.0, 500.0),
            area("c", "X", 3.0, 440.0),
        ];
        let s = &summarise(&a, 10)[0];
        let expected = (60.0 * 10.0 + 40.0 * 9.0) / 100.0;
        assert!(
            (s.local_concentration - expected).abs() < 1e-9,
            "{}",
            s.local_concentration
        );
        assert_eq!(s.income_scale, Some(100.0));
        assert_eq!(s.employment_scale, None);
    }

    #[test]
    fn ranks_put_the_largest_first_and_ties_share_the_lowest_rank() {
        assert_eq!(
            rank_desc(&[Some(0.5), Some(0.0), Some(0.9), Some(0.0)]),
            vec![Some(2), Some(3), Some(1), Some(3)]
        );
    }

    #[test]
    fn an_area_whose_lsoas_do_not_add_up_is_caught() {
        let a = [
            area("a", "W1", 1.0, 100.0),
            area("b", "W1", 2.0, 200.0),
            area("a", "W2", 1.0, 100.0),
        ];
        let mut s = summarise(&a, 10);
        s[0].population = 250.0; // W1 reports 250, its LSOAs hold 300
        let mut r = TableReport::default();
        population_check(&a, &s, &mut r);
        assert_eq!(r.checks[0].status, Status::Fail);
        let all = r.checks[0].examples.join("\n");
        assert!(
            all.contains("W1: population 250 but its LSOAs hold 300"),
            "{all}"
        );
        assert!(all.contains("a counted 2 times"), "{all}");
    }
}
