//! Phase 3 of an index: its geography and internal consistency, checked.
//! Every check is reported in `verification.json`; a failure stops the
//! release (see `crate::checks`).

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;

use super::spec::AgreeWith;
use super::{quantile, IndexStage, ListCheck, LookupCheck};
use crate::checks::{geography, same_name_or_alias, Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;
use crate::frame::{Table, Values};
use crate::hash::HashMap;

/// What every check reads.
struct Subject<'a> {
    spec: &'a IndexStage,
    table: &'a Table,
    n: usize,
    codes: Vec<String>,
    la_codes: Option<Values>,
    la_names: Option<Values>,
}

impl Subject<'_> {
    fn same_name(&self, a: &str, b: &str) -> bool {
        same_name_or_alias(a, b, &self.spec.verify.la_name_aliases)
    }
}

/// Runs every check of `spec.verify` (and the internal ones) on `table`.
/// `missing` holds the output columns that have no source (skipped by the
/// rank and decile checks).
pub fn verify_index(
    spec: &IndexStage,
    table: &Table,
    inputs: &Frames<'_>,
    missing: &IndexMap<String, String>,
) -> Result<TableReport> {
    let mut r = TableReport::new(&spec.table);
    let n = table.height();
    let keys = table.values(&spec.key)?;
    let v = &spec.verify;
    let s = Subject {
        spec,
        table,
        n,
        codes: (0..n).map(|i| keys.text(i).unwrap_or_default()).collect(),
        la_codes: v.la_code.as_ref().map(|c| table.values(c)).transpose()?,
        la_names: v.la_name.as_ref().map(|c| table.values(c)).transpose()?,
    };
    codes(&s, &mut r);
    la_tier(&s, &mut r);
    if let Some(l) = &v.lookup {
        lookup(&s, l, inputs.table(&l.table)?, &mut r)?;
    }
    if let Some(l) = &v.la_list {
        la_list(&s, l, inputs.table(&l.table)?, &mut r)?;
    }
    ranks(&s, missing, &mut r)?;
    deciles(&s, missing, &mut r)?;
    bands(&s, &mut r)?;
    for a in &v.agree_with {
        agree_with(&s, a, inputs, &mut r)?;
    }
    for (check, reason) in &v.not_available {
        r.push(check, Status::NotAvailable, reason.clone(), Vec::new());
    }
    Ok(r)
}

/// The row count as published; unique codes of the nation's pattern.
fn codes(s: &Subject<'_>, r: &mut TableReport) {
    let (n, spec) = (s.n, s.spec);
    if n == spec.rows {
        r.pass("row_count", format!("{n} areas, as published"));
    } else {
        r.fail(
            "row_count",
            format!("{n} areas, expected {}", spec.rows),
            Vec::new(),
        );
    }
    let dups = geography::repeats(&s.codes);
    if dups.is_empty() {
        r.pass("codes_unique", format!("{n} distinct codes"));
    } else {
        r.fail(
            "codes_unique",
            format!("{} duplicated codes", dups.len()),
            dups,
        );
    }
    let bad: Vec<String> = s
        .codes
        .iter()
        .filter(|c| !spec.code_pattern.is_match(c))
        .cloned()
        .collect();
    if bad.is_empty() {
        r.pass(
            "code_pattern",
            format!("every code matches {}", spec.code_pattern),
        );
    } else {
        r.fail(
            "code_pattern",
            format!("{} codes do not match {}", bad.len(), spec.code_pattern),
            bad,
        );
    }
}

/// Local authorities: lower tier only.
fn la_tier(s: &Subject<'_>, r: &mut TableReport) {
    let (Some(pattern), Some(la)) = (&s.spec.verify.la_code_pattern, &s.la_codes) else {
        return;
    };
    let las: Vec<Option<String>> = (0..s.n).map(|i| la.text(i)).collect();
    let bad: Vec<String> = geography::not_matching(&las, pattern)
        .into_iter()
        .map(|i| format!("{} in {}", s.codes[i], shown(las[i].as_deref())))
        .collect();
    if bad.is_empty() {
        r.pass(
            "la_tier",
            format!(
                "every local authority code matches {pattern} (no counties, regions or countries)"
            ),
        );
    } else {
        r.fail(
            "la_tier",
            format!("{} areas have a local authority code outside {pattern} (a county, region or foreign code?)", bad.len()),
            bad,
        );
    }
}

/// The official look-up of the vintage: the same areas, and for each the
/// same local authority code and name.
fn lookup(s: &Subject<'_>, l: &LookupCheck, table: &Table, r: &mut TableReport) -> Result<()> {
    let lookup = lookup_rows(l, table)?;
    lookup_coverage(s, l, &lookup, r);
    // Every area that differs in code or name, for the declarations.
    let mut differ = BTreeSet::new();
    if let (Some(la), Some(col)) = (&s.la_codes, &l.la_code) {
        let bad: Vec<(usize, String)> = (0..s.n)
            .filter_map(|i| {
                // An area the look-up gives no authority differs too.
                let want = lookup.get(&s.codes[i]).map(|(c, _)| c.as_deref())?;
                let got = la.text(i);
                (got.as_deref() != want || want.is_none()).then(|| {
                    let line = format!(
                        "{}: in {}, `{}`.{col} says {}",
                        s.codes[i],
                        shown(got.as_deref()),
                        l.table,
                        shown(want)
                    );
                    (i, line)
                })
            })
            .collect();
        let detail = if bad.is_empty() {
            format!("every area's local authority agrees with `{}`", l.table)
        } else {
            format!(
                "{} in a different local authority than `{}` says",
                areas_are(bad.len()),
                l.table
            )
        };
        differ.extend(bad.iter().map(|(i, _)| *i));
        report_differences(s, l, r, "lookup_la_code", detail, bad);
    }
    if let (Some(names), Some(col)) = (&s.la_names, &l.la_name) {
        let bad: Vec<(usize, String)> = (0..s.n)
            .filter_map(|i| {
                let want = lookup.get(&s.codes[i]).map(|(_, nm)| nm.as_deref())?;
                let got = names.text(i).unwrap_or_default();
                (!want.is_some_and(|w| s.same_name(&got, w))).then(|| {
                    let want = want.map_or("(empty)".to_string(), |w| format!("{w:?}"));
                    let line = format!("{}: {got:?}, `{}`.{col} says {want}", s.codes[i], l.table);
                    (i, line)
                })
            })
            .collect();
        let detail = if bad.is_empty() {
            format!(
                "every area's local authority name agrees with `{}`",
                l.table
            )
        } else {
            format!(
                "{} a different local authority than `{}`",
                match bad.len() {
                    1 => "1 area names".to_string(),
                    n => format!("{n} areas name"),
                },
                l.table
            )
        };
        differ.extend(bad.iter().map(|(i, _)| *i));
        report_differences(s, l, r, "lookup_la_name", detail, bad);
    }
    declarations_hold(s, l, &lookup, &differ, r);
    Ok(())
}

/// "1 area is", "2 areas are".
fn areas_are(n: usize) -> String {
    match n {
        1 => "1 area is".to_string(),
        n => format!("{n} areas are"),
    }
}

/// A cell as shown in a check's examples: its text, or `(empty)`.
fn shown(cell: Option<&str>) -> &str {
    cell.unwrap_or("(empty)")
}

/// Differences from the look-up: those the spec declares warn, with their
/// reasons; any other fails.
fn report_differences(
    s: &Subject<'_>,
    l: &LookupCheck,
    r: &mut TableReport,
    check: &str,
    detail: String,
    bad: Vec<(usize, String)>,
) {
    let (declared, undeclared): (Vec<_>, Vec<_>) = bad
        .into_iter()
        .partition(|(i, _)| l.differences.contains_key(&s.codes[*i]));
    if !undeclared.is_empty() {
        let lines = undeclared.into_iter().map(|(_, line)| line).collect();
        return r.fail(check, detail, lines);
    }
    if declared.is_empty() {
        return r.pass(check, detail);
    }
    let lines = declared
        .into_iter()
        .map(|(i, line)| format!("{line} ({})", l.differences[&s.codes[i]].reason))
        .collect();
    r.warn(
        check,
        format!("{detail}, each declared in the spec with its reason"),
        lines,
    );
}

/// Each declared difference still holds: the area is in the table, differs
/// from the look-up in code or name, and is in the local authority the
/// declaration names (its reason was written for that one). A declaration
/// that no longer holds fails: the look-up or the source changed.
fn declarations_hold(
    s: &Subject<'_>,
    l: &LookupCheck,
    lookup: &LookupRows,
    differ: &BTreeSet<usize>,
    r: &mut TableReport,
) {
    if l.differences.is_empty() {
        return;
    }
    let mut stale = Vec::new();
    for (area, d) in &l.differences {
        let Some(i) = s.codes.iter().position(|c| c == area) else {
            stale.push(format!("{area} is declared, but is not in the table"));
            continue;
        };
        if !lookup.contains_key(area) {
            stale.push(format!(
                "{area} is declared to differ from `{}`, but is not in it",
                l.table
            ));
        } else if !differ.contains(&i) {
            stale.push(format!(
                "{area} is declared to differ from `{}`, but agrees with it",
                l.table
            ));
        }
        let pins = [
            (&d.la_code, &s.la_codes, "la_code"),
            (&d.la_name, &s.la_names, "la_name"),
        ];
        for (pin, column, what) in pins {
            let (Some(want), Some(column)) = (pin, column) else {
                continue;
            };
            let got = column.text(i);
            if got.as_deref() != Some(want.as_str()) {
                stale.push(format!(
                    "{area} is declared with {what} {want}, but the table gives {}",
                    shown(got.as_deref())
                ));
            }
        }
    }
    let check = "lookup_declared_differences";
    if stale.is_empty() {
        r.pass(
            check,
            format!(
                "{} from `{}` {} still there, with the local authority declared for {}",
                match l.differences.len() {
                    1 => "the 1 declared difference".to_string(),
                    n => format!("all {n} declared differences"),
                },
                l.table,
                if l.differences.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                if l.differences.len() == 1 {
                    "it"
                } else {
                    "each"
                }
            ),
        );
    } else {
        r.fail(
            check,
            format!(
                "{} declared differences from `{}` no longer hold",
                stale.len(),
                l.table
            ),
            stale,
        );
    }
}

type LookupRows = BTreeMap<String, (Option<String>, Option<String>)>;

/// The look-up's areas of the nation, with their local authority code and name.
fn lookup_rows(l: &LookupCheck, table: &Table) -> Result<LookupRows> {
    let lk = table.values(&l.key)?;
    let lla = l.la_code.as_ref().map(|c| table.values(c)).transpose()?;
    let lln = l.la_name.as_ref().map(|c| table.values(c)).transpose()?;
    let mut lookup = BTreeMap::new();
    for i in 0..lk.len() {
        let Some(k) = lk.text(i) else { continue };
        if l.key_prefix.as_deref().is_some_and(|p| !k.starts_with(p)) {
            continue;
        }
        lookup.insert(
            k,
            (
                lla.as_ref().and_then(|v| v.text(i)),
                lln.as_ref().and_then(|v| v.text(i)),
            ),
        );
    }
    Ok(lookup)
}

fn lookup_coverage(s: &Subject<'_>, l: &LookupCheck, lookup: &LookupRows, r: &mut TableReport) {
    let ours: BTreeSet<String> = s.codes.iter().cloned().collect();
    let not_in_lookup: Vec<&String> = s
        .codes
        .iter()
        .filter(|c| !lookup.contains_key(*c))
        .collect();
    let not_in_table = geography::compare_sets(&ours, lookup).missing;
    if not_in_lookup.is_empty() && not_in_table.is_empty() {
        r.pass(
            "lookup_coverage",
            format!("the table and `{}` hold the same {} areas", l.table, s.n),
        );
        return;
    }
    let mut ex: Vec<String> = not_in_lookup
        .iter()
        .map(|c| format!("{c} not in `{}`", l.table))
        .collect();
    ex.extend(
        not_in_table
            .iter()
            .map(|c| format!("{c} in `{}` but not in the table", l.table)),
    );
    r.fail(
        "lookup_coverage",
        format!(
            "{} areas are not in `{}` and {} of its areas are not in the table",
            not_in_lookup.len(),
            l.table,
            not_in_table.len()
        ),
        ex,
    );
}

/// The vintage's list of local authorities: exactly its codes, and names
/// that match.
fn la_list(s: &Subject<'_>, l: &ListCheck, table: &Table, r: &mut TableReport) -> Result<()> {
    let Some(la) = &s.la_codes else {
        return Ok(());
    };
    let lc = table.values(&l.code)?;
    let ln = l.name.as_ref().map(|c| table.values(c)).transpose()?;
    let mut list: BTreeMap<String, Option<String>> = BTreeMap::new();
    for i in 0..lc.len() {
        let Some(c) = lc.text(i) else { continue };
        if l.code_prefix.as_deref().is_some_and(|p| !c.starts_with(p)) {
            continue;
        }
        list.insert(c, ln.as_ref().and_then(|v| v.text(i)));
    }
    let ours: BTreeSet<String> = (0..s.n).filter_map(|i| la.text(i)).collect();
    let diff = geography::compare_sets(&ours, &list);
    if diff.is_empty() {
        r.pass(
            "la_set",
            format!(
                "the {} local authorities are exactly those of `{}`",
                ours.len(),
                l.table
            ),
        );
    } else {
        let examples = diff
            .extra
            .iter()
            .map(|c| format!("{c} is not in `{}`", l.table))
            .chain(
                diff.missing
                    .iter()
                    .map(|c| format!("{c} has no area in the table")),
            )
            .collect();
        r.fail(
            "la_set",
            format!(
                "{} local authorities of `{}` are missing and {} are not in it",
                diff.missing.len(),
                l.table,
                diff.extra.len()
            ),
            examples,
        );
    }
    if let (Some(names), true) = (&s.la_names, ln.is_some()) {
        let mut bad = BTreeSet::new();
        for i in 0..s.n {
            let (Some(c), Some(got)) = (la.text(i), names.text(i)) else {
                continue;
            };
            if let Some(Some(want)) = list.get(&c) {
                if !s.same_name(&got, want) {
                    bad.insert(format!("{c}: {got:?}, `{}` says {want:?}", l.table));
                }
            }
        }
        if bad.is_empty() {
            r.pass("la_names", "local authority names match their codes");
        } else {
            r.fail(
                "la_names",
                format!(
                    "{} local authority names do not match their codes",
                    bad.len()
                ),
                bad.into_iter().collect(),
            );
        }
    }
    Ok(())
}

/// Ranks: within 1..N, a permutation of 1..N or the ties listed.
fn ranks(s: &Subject<'_>, missing: &IndexMap<String, String>, r: &mut TableReport) -> Result<()> {
    let n = s.n;
    for m in &s.spec.measures {
        let col = format!("{m}_rank");
        if missing.contains_key(&col) {
            continue;
        }
        let ranks = s.table.values(&col)?;
        let out_of_range: Vec<String> = (0..n)
            .filter(|&i| !ranks.number(i).is_some_and(|x| x >= 1.0 && x <= n as f64))
            .map(|i| match ranks.number(i) {
                Some(x) => format!("{}: {x}", s.codes[i]),
                None => format!("{}: (empty)", s.codes[i]),
            })
            .collect();
        if !out_of_range.is_empty() {
            r.fail(
                &format!("ranks_{m}"),
                format!("{} ranks are empty or outside 1..{n}", out_of_range.len()),
                out_of_range,
            );
            continue;
        }
        let misplaced = out_of_place(&ranks, &s.codes);
        if !misplaced.is_empty() {
            r.fail(
                &format!("ranks_{m}"),
                format!(
                    "{} ranks cannot come from putting the areas in order: a rank lies among the places its areas take (tied areas share one rank within them)",
                    misplaced.len()
                ),
                misplaced.into_iter().take(20).collect(),
            );
            continue;
        }
        // Grouped by hashing, the few ties then listed in the rank's text
        // order (a sorted map of every rank was 1% of a build).
        let mut by_rank: HashMap<String, Vec<&str>> = HashMap::default();
        for (i, code) in s.codes.iter().enumerate() {
            by_rank
                .entry(ranks.text(i).unwrap_or_default())
                .or_default()
                .push(code);
        }
        let mut tied: Vec<(String, Vec<&str>)> =
            by_rank.into_iter().filter(|(_, c)| c.len() > 1).collect();
        tied.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let ties: Vec<String> = tied
            .iter()
            .map(|(rank, c)| format!("rank {rank}: {}", c.join(", ")))
            .collect();
        if ties.is_empty() {
            r.pass(&format!("ranks_{m}"), format!("a permutation of 1..{n}"));
        } else {
            r.warn(
                &format!("ranks_{m}"),
                format!(
                    "{} tied ranks, as published (tied areas share a rank)",
                    ties.len()
                ),
                ties,
            );
        }
    }
    Ok(())
}

/// The areas whose rank is not among the places they take when the areas
/// are put in rank order. Publishers tie areas at the lowest, mean or
/// highest of the places they share (E01007532 and E01026383 both rank 1;
/// SIMD's 1014.5); a rank moved by hand (two areas at 570, none at 1132)
/// leaves the areas after it out of place.
fn out_of_place(ranks: &crate::frame::Values, codes: &[String]) -> Vec<String> {
    let mut order: Vec<(f64, usize)> = (0..ranks.len())
        .filter_map(|i| Some((ranks.number(i)?, i)))
        .collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut bad = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let rank = order[start].0;
        let end = start + order[start..].iter().take_while(|x| x.0 == rank).count();
        let (first, last) = ((start + 1) as f64, end as f64);
        if rank < first || rank > last {
            bad.extend(order[start..end].iter().map(|&(_, i)| {
                format!(
                    "{}: rank {rank}, where the areas in order put it at place {}",
                    codes[i],
                    start + 1
                )
            }));
        }
        start = end;
    }
    bad
}

/// Published deciles agree with ranks: bands never decrease as rank grows;
/// every difference from `ceil(rank * 10 / N)` is listed.
fn deciles(s: &Subject<'_>, missing: &IndexMap<String, String>, r: &mut TableReport) -> Result<()> {
    let (n, spec) = (s.n, s.spec);
    for m in &spec.measures {
        let (dcol, rcol) = (format!("{m}_decile"), format!("{m}_rank"));
        if missing.contains_key(&dcol) || missing.contains_key(&rcol) {
            continue;
        }
        let (d, rk) = (s.table.values(&dcol)?, s.table.values(&rcol)?);
        if let Some(bad) = non_monotone(&rk, &d, &s.codes) {
            r.fail(
                &format!("deciles_{m}"),
                format!("`{dcol}` does not follow `{rcol}`"),
                bad,
            );
        } else {
            r.pass(
                &format!("deciles_{m}"),
                format!("`{dcol}` rises with `{rcol}`"),
            );
        }
        // The IMD's is under `bands_imd_decile`.
        if m == "imd" && spec.published_bands.contains_key("imd_decile") {
            continue;
        }
        let diffs: Vec<String> = (0..n)
            .filter_map(|i| {
                let (rank, dec) = (rk.number(i)?, d.number(i)? as i64);
                let ours = quantile(rank, 10, n);
                (ours != dec).then(|| {
                    format!(
                        "{} (rank {rank}): published {dec}, ceil(rank*10/{n}) = {ours}",
                        s.codes[i]
                    )
                })
            })
            .collect();
        if !diffs.is_empty() {
            let reason = spec.band_note.clone().unwrap_or_else(|| {
                "the publisher's band edges differ from equal-count bands; the published decile is kept".into()
            });
            r.warn(
                &format!("decile_bands_{m}"),
                format!(
                    "{} areas' published `{dcol}` differs from ceil(rank*10/{n}): {reason}",
                    diffs.len()
                ),
                diffs,
            );
        }
    }
    Ok(())
}

/// Computed quantiles against every published band of the overall index.
fn bands(s: &Subject<'_>, r: &mut TableReport) -> Result<()> {
    let (n, spec) = (s.n, s.spec);
    let imd_rank = s.table.values("imd_rank")?;
    for (col, q) in &spec.published_bands {
        let published = s.table.values(col)?;
        let mut diffs = Vec::new();
        for (i, code) in s.codes.iter().enumerate() {
            let (Some(rank), Some(p)) = (imd_rank.number(i), published.number(i)) else {
                continue;
            };
            let ours = quantile(rank, *q, n);
            if ours != p as i64 {
                diffs.push(format!(
                    "{code} (rank {rank}): published {p}, ceil(rank*{q}/{n}) = {ours}"
                ));
            }
        }
        let check = format!("bands_{col}");
        if diffs.is_empty() {
            r.pass(
                &check,
                format!("`imd_quantile_{q}` equals the published `{col}` for every area"),
            );
        } else {
            let reason = spec.band_note.clone().unwrap_or_else(|| {
                "the publisher sets its band edges by hand; the published band is kept in the table".into()
            });
            r.warn(
                &check,
                format!("{} areas differ between `imd_quantile_{q}` and the published `{col}`: {reason}", diffs.len()),
                diffs,
            );
        }
    }
    Ok(())
}

fn pass_or_fail(r: &mut TableReport, check: &str, detail: String, bad: Vec<String>) {
    if bad.is_empty() {
        r.pass(check, detail);
    } else {
        r.fail(check, detail, bad);
    }
}

/// Rows where the band falls although the rank rises (sorted by rank).
fn non_monotone(rank: &Values, band: &Values, codes: &[String]) -> Option<Vec<String>> {
    let mut rows: Vec<(f64, i64, &str)> = (0..rank.len())
        .filter_map(|i| Some((rank.number(i)?, band.number(i)? as i64, codes[i].as_str())))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bad: Vec<String> = rows
        .windows(2)
        .filter(|w| w[1].1 < w[0].1 && w[1].0 > w[0].0)
        .map(|w| {
            format!(
                "{} (rank {}, band {}) after {} (rank {}, band {})",
                w[1].2, w[1].0, w[1].1, w[0].2, w[0].0, w[0].1
            )
        })
        .take(10)
        .collect();
    (!bad.is_empty()).then_some(bad)
}

/// Our values against another file's, for every area both have; an area
/// only one of them has is a disagreement too.
fn agree_with(
    s: &Subject<'_>,
    a: &AgreeWith,
    inputs: &Frames<'_>,
    r: &mut TableReport,
) -> Result<()> {
    let check = format!("agrees_with_{}", a.table);
    let Some(other) = inputs.get(&a.table) else {
        let why = inputs
            .unavailable
            .get(&a.table)
            .cloned()
            .unwrap_or_else(|| format!("`{}` is not in the build", a.table));
        r.push(&check, Status::NotAvailable, why, Vec::new());
        return Ok(());
    };
    let keys = other.values(&a.key)?;
    let at: HashMap<String, usize> = (0..keys.len())
        .filter_map(|i| Some((keys.text(i)?, i)))
        .collect();
    let mut bad = Vec::new();
    for (ours, theirs) in &a.columns {
        let (mine, them) = (s.table.values(ours)?, other.values(theirs)?);
        for (i, code) in s.codes.iter().enumerate() {
            let Some(&j) = at.get(code) else {
                bad.push(format!("{code}: not in `{}`", a.table));
                continue;
            };
            let (x, y) = (mine.text(i), them.text(j));
            let same = match (mine.number(i), them.number(j)) {
                (Some(p), Some(q)) => p == q,
                _ => x == y,
            };
            if !same {
                bad.push(format!(
                    "{code} `{ours}`: {} here, {} in `{}` column `{theirs}`",
                    x.unwrap_or_default(),
                    y.unwrap_or_default(),
                    a.table
                ));
            }
        }
    }
    let cols: Vec<&String> = a.columns.keys().collect();
    let detail = format!(
        "{} disagreements with `{}` in {cols:?} over {} areas",
        bad.len(),
        a.table,
        s.n
    );
    pass_or_fail(r, &check, detail, bad);
    Ok(())
}
