//! Phase 2 of the API: each section's table, indexed by area code.

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::registers::filtered_rows;
use super::{ApiStage, Section, Shape};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Cells, Table};
use crate::hash::HashMap;
use crate::units::Direction;

/// A section's table, indexed by area code.
pub struct SectionData {
    pub columns: Vec<(String, Cells)>,
    pub by: Option<Cells>,
    pub rows: HashMap<String, Vec<usize>>,
    /// Shown columns the table declares missing, with the reason, as the
    /// JSON object the dictionary gives for the section (serialised once
    /// here; `None` when there are none).
    pub missing: Option<Box<RawValue>>,
    /// Shown measures whose direction is not "1 = most deprived", in
    /// words, likewise.
    pub directions: Option<Box<RawValue>>,
}

/// A one-row section's own fields, and those a client joins from the
/// dictionary: no column of its row may take these names.
const SECTION_FIELDS: [&str; 4] = ["table", "title", "missing", "directions"];

/// Every section's data, in spec order; `None` for a section whose table
/// is not in this build.
pub fn read_all(spec: &ApiStage, inputs: &Frames<'_>) -> Result<Vec<Option<SectionData>>> {
    crate::par::parallel_map(&spec.sections, |s| match inputs.get(&s.table) {
        None => Ok(None),
        Some(frame) => read(s, frame, inputs)
            .map(Some)
            .map_err(|e| e.source_id(s.table.clone()).stage("api")),
    })
    .into_iter()
    .collect()
}

fn read(s: &Section, frame: &Table, inputs: &Frames<'_>) -> Result<SectionData> {
    let names: Vec<String> = match &s.columns {
        Some(c) => c.clone(),
        None => frame
            .names()
            .into_iter()
            .filter(|c| c != &s.code && Some(c) != s.by.as_ref() && !s.exclude.contains(c))
            .collect(),
    };
    if let Some(n) = names
        .iter()
        .find(|n| s.shape == Shape::One && SECTION_FIELDS.contains(&n.as_str()))
    {
        return Err(Error::check(
            &s.table,
            "section_fields",
            format!(
                "section `{}` would write column `{n}` beside its own field of that name (or one a client joins from the dictionary): exclude or rename it",
                s.id()
            ),
            Vec::new(),
        )
        .column(n.clone()));
    }
    let columns = names
        .iter()
        .map(|n| Ok((n.clone(), frame.cells(n)?)))
        .collect::<Result<Vec<_>>>()?;
    let by = s.by.as_ref().map(|b| frame.cells(b)).transpose()?;
    let codes = frame.cells(&s.code)?;
    let mut rows: HashMap<String, Vec<usize>> = HashMap::default();
    for i in filtered_rows(frame, &s.filter)? {
        if let Some(c) = codes.text(i) {
            let r = rows.entry(c).or_default();
            if s.shape == Shape::One && !r.is_empty() {
                return Err(Error::check(
                    &s.table,
                    "one_row_per_area",
                    format!(
                        "section `{}` expects one row per area, but rows {} and {} both hold this code",
                        s.id(),
                        r[0] + 2,
                        i + 2
                    ),
                    Vec::new(),
                )
                .column(s.code.clone())
                .row(i + 2));
            }
            r.push(i);
        }
    }
    let declared = inputs.missing.get(&s.table);
    let missing: Map<String, Value> = columns
        .iter()
        .filter_map(|(n, _)| {
            declared
                .and_then(|m| m.get(n))
                .map(|r| (n.clone(), json!(r)))
        })
        .collect();
    let schema = inputs.schemas.get(&s.table);
    let directions: Map<String, Value> = match by_directions(s, frame)? {
        Some(by_key) => by_key,
        None => columns
            .iter()
            .filter_map(|(n, _)| {
                let rule = schema?.rule_of(n)?;
                let d = rule.effective_direction()?;
                (!matches!(d, Direction::MostDeprivedFirst | Direction::Neutral))
                    .then(|| (n.clone(), json!(rule.direction_words())))
            })
            .collect(),
    };
    Ok(SectionData {
        columns,
        by,
        rows,
        missing: raw_object(&missing)?,
        directions: raw_object(&directions)?,
    })
}

/// The column of a long table that gives each row's direction: its
/// `value` means something different on each row (a census indicator's
/// share may be more or less deprived at its high end, or neither).
pub const ROW_DIRECTION: &str = "value_direction";

/// A keyed section of a long table whose rows say their own direction:
/// the direction of each key (each indicator), where it is not neutral.
/// A key given two directions is an error, not a guess.
fn by_directions(s: &Section, frame: &Table) -> Result<Option<Map<String, Value>>> {
    let (Some(by), true) = (&s.by, frame.has(ROW_DIRECTION)) else {
        return Ok(None);
    };
    let (keys, dirs) = (frame.cells(by)?, frame.cells(ROW_DIRECTION)?);
    let mut seen: HashMap<String, Direction> = HashMap::default();
    for i in 0..keys.len() {
        let (Some(k), Some(text)) = (keys.str(i), dirs.str(i)) else {
            continue;
        };
        let d = Direction::parse(text).ok_or_else(|| {
            Error::check(
                &s.table,
                "row_direction",
                format!("`{text}` is not a direction"),
                Vec::new(),
            )
            .column(ROW_DIRECTION.to_string())
            .row(i + 2)
        })?;
        match seen.get(k) {
            Some(had) if *had != d => {
                return Err(Error::check(
                    &s.table,
                    "row_direction",
                    format!(
                        "`{k}` has rows with direction {} and {}",
                        had.as_str(),
                        d.as_str()
                    ),
                    Vec::new(),
                )
                .column(ROW_DIRECTION.to_string())
                .row(i + 2))
            }
            Some(_) => {}
            None => {
                seen.insert(k.to_string(), d);
            }
        }
    }
    let mut keyed: Vec<(String, Direction)> = seen
        .into_iter()
        .filter(|(_, d)| !matches!(d, Direction::Neutral | Direction::MostDeprivedFirst))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(
        keyed
            .into_iter()
            .map(|(k, d)| (k, json!(d.words())))
            .collect(),
    ))
}

/// A non-empty object as JSON text, to write as it is into each file.
fn raw_object(m: &Map<String, Value>) -> Result<Option<Box<RawValue>>> {
    if m.is_empty() {
        return Ok(None);
    }
    serde_json::value::to_raw_value(m)
        .map(Some)
        .map_err(Error::table)
}

/// For each area type, the indices of its sections.
pub fn of_type(spec: &ApiStage) -> Vec<Vec<usize>> {
    spec.area_types
        .iter()
        .map(|a| {
            spec.sections
                .iter()
                .enumerate()
                .filter(|(_, s)| s.area_type == a.id)
                .map(|(i, _)| i)
                .collect()
        })
        .collect()
}
