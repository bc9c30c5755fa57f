//! The static JSON API: one file per area code, an index of areas, the
//! dictionary of the text area files share (see `dictionary`), one file per
//! postcode outcode, and `openapi.json`, all declared in `stages/api.toml`.
//!
//! The spec says which *area types* exist (LSOA 2011, ward 2024, ...), where
//! their codes, names and parents come from (*registers*: columns of release
//! tables), and which *sections* of which tables an area of each type shows.
//! Everything else follows from the tables: an area file is the union of what
//! every table says about its code. A code can denote several types (an
//! unchanged LSOA keeps its 2011 code in 2021), so a file is per code, not per
//! type, and lists its types.
//!
//! Nothing is filled in: a section that should apply to an area (its
//! `applies_to` pattern matches the code) but has no row for it, or whose
//! table is unavailable in this build, is listed under `unavailable` with the
//! reason. The output is a pure function of the input tables: keys keep the
//! spec's and the tables' column order, areas and postcodes are sorted, so
//! the same inputs give byte-identical files.

mod area_file;
mod dictionary;
mod openapi;
mod postcodes;
mod registers;
mod sections;
mod spec;
mod validate;
mod writer;

use crate::hash::{HashMap, HashSet};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use crate::cache::unit_files::{self, Sink};
use crate::cache::{unit_key, Unit};
use crate::contract::derived::table_refs;
use crate::contract::{
    Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun, UnitTime, Validator,
};
use crate::error::Result;
use crate::frame::Table;
use crate::par::parallel_map;
use crate::release::FileEntry;

use registers::Registry;

pub use openapi::openapi;
pub use postcodes::normalise_postcode;
pub use spec::{ApiStage, AreaType, Edition, Filter, PostcodeSpec, Register, Section, Shape};

/// What the API stage wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiOutput {
    /// Every file written, relative to the release root.
    pub files: Vec<FileEntry>,
    pub areas: usize,
    pub postcodes: usize,
    pub outcodes: usize,
}

impl Stage for ApiStage {
    /// Every table the spec reads. All are optional: a missing table makes
    /// its sections unavailable in every file they apply to, with the
    /// reason (once, in the dictionary).
    fn inputs(&self) -> Inputs {
        Inputs {
            required: Vec::new(),
            optional: self.input_tables(),
        }
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self, v: &mut Validator<'_>) {
        self.validate_spec(v);
        self.validate_columns(v);
    }

    /// Writes the API through the unit cache, as two units: the area files
    /// (with the index, the dictionary and `openapi.json`), which do not read the postcode
    /// table, and the outcode files, which do. A new postcode directory
    /// rewrites only the outcode files. A unit is generated straight into
    /// the release, and the cache keeps links to its files (see
    /// `cache::unit_files`), which a later build links into its release.
    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        let t0 = Instant::now();
        let mut run = StageRun::default();
        let registry = OnceLock::new();
        let parts = [Part::Areas, Part::Postcodes];
        for part in parts.into_iter().filter(|p| self.has(*p)) {
            let t = Instant::now();
            let unit = self.unit(ctx, part, &registry)?;
            log_unit(ctx.stage, part, &unit.meta, unit.computed);
            run.units.push(UnitTime {
                unit: format!("api {}", part.name()),
                took: t.elapsed(),
                computed: unit.computed,
            });
            run.files.extend(unit.meta.files);
        }
        run.files.sort_by(|a, b| a.path.cmp(&b.path));
        debug!(
            stage = ctx.stage,
            ms = t0.elapsed().as_millis() as u64,
            "API in place."
        );
        (ctx.progress)();
        Ok(run)
    }
}

/// The registry of areas, built once per run: both parts read it from the
/// same register tables (the area files for names and parents, the outcode
/// files for links), and it takes a few tenths of a second.
fn registry_of<'r>(
    once: &'r OnceLock<Registry>,
    spec: &ApiStage,
    inputs: &Frames<'_>,
) -> Result<&'r Registry> {
    if let Some(r) = once.get() {
        return Ok(r);
    }
    let built = Registry::build(spec, inputs)?;
    Ok(once.get_or_init(|| built))
}

/// The directory of a unit's files in its cache directory.
const FILES: &str = "files";

impl ApiStage {
    /// A part's files in the release: generated there (and linked into the
    /// cache), or linked from the cache.
    fn unit(
        &self,
        ctx: &RunCtx<'_>,
        part: Part,
        registry: &OnceLock<Registry>,
    ) -> Result<Unit<ApiOutput>> {
        let tables = self.tables_of(part);
        let key = self.part_key(ctx, part, &tables);
        let unit = ctx
            .cache
            .get_or_build(&key, |work| {
                unit_files::write(ctx.staging, &work.join(FILES), |sink| {
                    self.generate_into(ctx, part, &tables, sink, registry)
                })
            })
            .map_err(|e| e.stage(ctx.stage))?;
        if !unit.computed {
            let t = Instant::now();
            let files = unit.meta.files.iter().map(|f| f.path.as_str());
            unit_files::link_all(&unit.dir.join(FILES), ctx.staging, files)
                .map_err(|e| e.stage(ctx.stage))?;
            debug!(
                ms = t.elapsed().as_millis() as u64,
                "Cached API linked into the release."
            );
        }
        Ok(unit)
    }
}

/// The API's two cached units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// One file per area code, the index of areas, the dictionary and
    /// `openapi.json`.
    Areas,
    /// One file per outcode, the migration note and the postcode index.
    Postcodes,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Areas => "areas",
            Part::Postcodes => "postcodes",
        }
    }
}

fn log_unit(stage: &str, part: Part, out: &ApiOutput, computed: bool) {
    if computed {
        info!(
            stage,
            part = part.name(),
            areas = out.areas,
            postcodes = out.postcodes,
            outcodes = out.outcodes,
            files = out.files.len(),
            "API written."
        );
    } else {
        debug!(stage, part = part.name(), "API taken from the stage cache.");
    }
}

impl ApiStage {
    fn has(&self, part: Part) -> bool {
        part == Part::Areas || self.postcodes.is_some()
    }

    /// The input tables a part reads.
    fn tables_of(&self, part: Part) -> HashSet<String> {
        match part {
            Part::Areas => self.area_tables().into_iter().collect(),
            Part::Postcodes => self.postcode_tables().into_iter().collect(),
        }
    }

    /// A part's cache key: the spec and the part's own inputs (and why any
    /// of them is missing), so the area files do not depend on postcodes.
    fn part_key(&self, ctx: &RunCtx<'_>, part: Part, tables: &HashSet<String>) -> String {
        let inputs: BTreeMap<String, _> = ctx
            .inputs
            .iter()
            .filter(|(n, _)| tables.contains(n.as_str()))
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        let unavailable: BTreeMap<&String, &String> = ctx
            .unavailable
            .iter()
            .filter(|(n, _)| tables.contains(n.as_str()))
            .collect();
        // The tables' declared schemas too: a section's `directions` come
        // from them, and a changed declaration can leave a table's bytes.
        let schemas: BTreeMap<&String, _> = ctx
            .schemas
            .iter()
            .filter(|(n, _)| tables.contains(n.as_str()))
            .collect();
        // And the columns they declare missing, whose reasons the files
        // quote: they are not in a table's bytes either.
        let missing: BTreeMap<&String, _> = inputs
            .iter()
            .map(|(n, e)| (n, &e.missing_columns))
            .collect();
        // And their computed columns, whose reasons the outcode files
        // quote (`decile_computed`).
        let computed: BTreeMap<&String, _> = inputs
            .iter()
            .map(|(n, e)| (n, &e.computed_columns))
            .collect();
        unit_key(&serde_json::json!({
            "stage": ctx.stage,
            "part": part.name(),
            "spec": self,
            "inputs": table_refs(&inputs),
            "unavailable": unavailable,
            "schemas": schemas,
            "missing": missing,
            "computed": computed,
        }))
    }

    /// Reads the columns a part needs and generates it into `work/files`.
    fn generate_into(
        &self,
        ctx: &RunCtx<'_>,
        part: Part,
        reads: &HashSet<String>,
        sink: &Sink,
        registry: &OnceLock<Registry>,
    ) -> Result<ApiOutput> {
        let t = Instant::now();
        let path_of = |name: &str| ctx.staging.join(format!("tables/{name}.parquet"));
        // The postcode table is read a batch of outcodes at a time, unless
        // a register or an edition reads it too: here only its footer, so a
        // missing file or column fails as any input's would.
        let batched = match part {
            Part::Postcodes => self
                .postcode_table_read_alone()
                .filter(|t| ctx.inputs.contains_key(*t)),
            Part::Areas => None,
        };
        let mut tables = HashMap::default();
        for name in ctx.inputs.keys().filter(|n| reads.contains(*n)) {
            let path = path_of(name);
            let rows = (Some(name.as_str()) == batched).then_some(0..0);
            let whole = rows.is_none();
            let table = Table::read_parquet_rows(&path, self.columns_of(name), rows)?;
            if whole {
                tables.insert(name.clone(), table);
            }
        }
        let inputs = Frames::of(tables, ctx);
        debug!(
            ms = t.elapsed().as_millis() as u64,
            "API input tables read."
        );
        match part {
            Part::Areas => generate_areas(self, &inputs, sink, registry),
            Part::Postcodes => {
                let path = batched.map(path_of);
                let rows = match &path {
                    Some(p) => Some(postcodes::PostcodeRows::file(p)),
                    None => rows_in_memory(self, &inputs),
                };
                generate_postcodes(self, &inputs, rows, sink, registry)
            }
        }
    }
}

/// Builds the whole API into the sink's release. Returns every file
/// written with its bytes and sha256.
pub fn generate(spec: &ApiStage, inputs: &Frames<'_>, sink: &Sink) -> Result<ApiOutput> {
    let registry = OnceLock::new();
    let mut out = generate_areas(spec, inputs, sink, &registry)?;
    let rows = rows_in_memory(spec, inputs);
    let pc = generate_postcodes(spec, inputs, rows, sink, &registry)?;
    out.files.extend(pc.files);
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    out.postcodes = pc.postcodes;
    out.outcodes = pc.outcodes;
    Ok(out)
}

/// The postcode table's rows from the tables in memory, if it is there.
fn rows_in_memory<'a>(
    spec: &ApiStage,
    inputs: &'a Frames<'_>,
) -> Option<postcodes::PostcodeRows<'a>> {
    let table = inputs.get(&spec.postcodes.as_ref()?.table)?;
    Some(postcodes::PostcodeRows::table(table))
}

/// The area files, the index of areas, the dictionary and `openapi.json`.
fn generate_areas(
    spec: &ApiStage,
    inputs: &Frames<'_>,
    sink: &Sink,
    registry: &OnceLock<Registry>,
) -> Result<ApiOutput> {
    let t = Instant::now();
    // The register and the sections read different columns: side by side.
    let (registry, sections) = std::thread::scope(|s| {
        let registry = s.spawn(|| registry_of(registry, spec, inputs));
        let sections = sections::read_all(spec, inputs);
        match registry.join() {
            Ok(r) => (r, sections),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let (registry, sections) = (registry?, sections?);
    if let Some(code) = spec
        .area_caveats
        .keys()
        .find(|c| !registry.areas.contains_key(c.as_str()))
    {
        return Err(crate::error::Error::check(
            "api",
            "area_caveats",
            format!("`area_caveats` names {code}, which is not an area of this release (left from an earlier one?)"),
            Vec::new(),
        ));
    }
    debug!(
        ms = t.elapsed().as_millis() as u64,
        "Area registry and sections built."
    );
    let sections_of_type = sections::of_type(spec);
    let writer = writer::Writer { sink, gzip: true };
    writer.dir(&format!("{}/areas", spec.base))?;
    let caveats = dictionary::Caveats::of(spec);
    let files_of = area_file::AreaFiles {
        spec,
        registry,
        sections: &sections,
        sections_of_type: &sections_of_type,
        caveats: &caveats,
    };
    let codes: Vec<(&String, &registers::Area)> = registry.areas.iter().collect();
    let chunks: Vec<&[(&String, &registers::Area)]> = codes.chunks(512).collect();
    let written: Vec<Result<Vec<FileEntry>>> = parallel_map(&chunks, |chunk| {
        chunk
            .iter()
            .map(|(code, area)| {
                files_of.file(code, area).and_then(|bytes| {
                    writer.write_bytes(format!("{}/areas/{code}.json", spec.base), bytes)
                })
            })
            .collect()
    });
    debug!(ms = t.elapsed().as_millis() as u64, "Area files written.");
    let mut files = Vec::new();
    for w in written {
        files.extend(w?);
    }
    files.push(writer.write(format!("{}/areas/index.json", spec.base), &files_of.index())?);
    let dictionary = dictionary::Dictionary {
        spec,
        sections: &sections,
        caveats: &caveats,
        inputs,
    };
    files.push(writer.write(format!("{}/dictionary.json", spec.base), &dictionary)?);
    let plain = writer::Writer { sink, gzip: false };
    files.push(plain.write("openapi.json".into(), &openapi(spec))?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ApiOutput {
        files,
        areas: registry.areas.len(),
        ..Default::default()
    })
}

/// The outcode files (nothing when the spec has no postcodes, or the build
/// no postcode table: a warning says so, and `openapi.json` still
/// describes them).
fn generate_postcodes(
    spec: &ApiStage,
    inputs: &Frames<'_>,
    rows: Option<postcodes::PostcodeRows<'_>>,
    sink: &Sink,
    registry: &OnceLock<Registry>,
) -> Result<ApiOutput> {
    let mut out = ApiOutput::default();
    let Some(pc) = &spec.postcodes else {
        return Ok(out);
    };
    let Some(rows) = rows else {
        tracing::warn!(table = %pc.table, reason = %inputs.why_unavailable(&pc.table), "No postcode table; the API has no postcode files.");
        return Ok(out);
    };
    let registry = registry_of(registry, spec, inputs)?;
    let writer = writer::Writer { sink, gzip: true };
    let w = postcodes::write_all(spec, pc, &rows, registry, inputs, &writer)?;
    out.files = w.files;
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    out.postcodes = w.postcodes;
    out.outcodes = w.outcodes;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{json, Value};

    use super::*;
    use crate::contract::testing::{
        empty_catalog, frames_with, ints, opt_floats, opt_strs, strs, table,
    };

    const SPEC: &str = r#"
description = "test"
base = "api/v1"
caveats = ["rank 1 = most deprived"]
[[area_types]]
id = "lsoa"
label = "LSOA"
pattern = '^[EW]01\d{6}$'
registers = [{ table = "lookup", code = "code", name = "name", parents = { lad = "lad" } }]
[[area_types]]
id = "lad"
label = "LAD"
pattern = '^[EW]06\d{6}$'
registers = [{ table = "lookup", code = "lad", name = "lad_name" }]
[[area_types]]
id = "soa"
label = "SOA"
pattern = '^95[A-Z]{2}\d{2}$'
registers = [{ table = "ni", code = "soa", parents_by_name = { lad = "lad_name" } }]
[[sections]]
group = "deprivation"
key = "england"
title = "England"
area_type = "lsoa"
table = "imd_e"
code = "code"
applies_to = '^E01'
caveat = "within England"
[[sections]]
group = "deprivation"
key = "wales"
title = "Wales"
area_type = "lsoa"
table = "imd_w"
code = "code"
applies_to = '^W01'
[postcodes]
table = "pc"
postcode = "postcode"
outcode = "outcode"
status = "status"
terminated = "terminated"
country = "country"
local_authority = "lad"
ward = "ward"
reason = "reason"
small_areas = { area_code = "area_reason" }
quantiles = [2, 5, 10]
editions = [{ key = "england", nation = "England", country = "E92000001", year = 2019, small_area = "area_code", pattern = '^E01', index = "imd_e", code = "code", rank = "imd_rank", decile = "imd_decile" }]
"#;

    fn spec() -> ApiStage {
        toml::from_str(SPEC).unwrap()
    }

    fn tables() -> Vec<(&'static str, Table)> {
        vec![
            (
                "lookup",
                table(vec![
                    ("code", strs(&["E01000001", "E01000002", "W01000001"])),
                    ("name", strs(&["A 001A", "A 001B", "C 001A"])),
                    ("lad", strs(&["E06000001", "E06000001", "W06000001"])),
                    ("lad_name", strs(&["A", "A", "C"])),
                ]),
            ),
            (
                "imd_e",
                table(vec![
                    ("code", strs(&["E01000001"])),
                    ("imd_rank", ints(&[7])),
                    ("imd_decile", ints(&[1])),
                    ("imd_score", opt_floats(&[None])),
                ]),
            ),
            (
                "ni",
                table(vec![
                    ("soa", strs(&["95AA01", "95AA02"])),
                    ("lad_name", strs(&["C", "Nowhere"])),
                ]),
            ),
            (
                "pc",
                table(vec![
                    ("postcode", strs(&["E1 1AA", "E1 1AB", "E1 1AD", "W1 1AA"])),
                    ("outcode", strs(&["E1", "E1", "E1", "W1"])),
                    ("status", strs(&["live", "terminated", "live", "live"])),
                    ("terminated", opt_strs(&[None, Some("202001"), None, None])),
                    (
                        "country",
                        strs(&["E92000001", "E92000001", "E92000001", "W92000004"]),
                    ),
                    (
                        "lad",
                        strs(&["E06000001", "E06000001", "E06000001", "W06000001"]),
                    ),
                    ("ward", opt_strs(&[None, None, None, None])),
                    (
                        "area_code",
                        opt_strs(&[
                            Some("E01000001"),
                            Some("E01000002"),
                            None,
                            Some("W01000001"),
                        ]),
                    ),
                    (
                        "area_reason",
                        opt_strs(&[None, None, Some("E01000003 was split"), None]),
                    ),
                    ("reason", opt_strs(&[None, None, None, None])),
                ]),
            ),
        ]
    }

    fn replace(
        mut t: Vec<(&'static str, Table)>,
        name: &str,
        new: Table,
    ) -> Vec<(&'static str, Table)> {
        for entry in t.iter_mut() {
            if entry.0 == name {
                entry.1 = new.clone();
            }
        }
        t
    }

    fn run(tables: Vec<(&str, Table)>) -> (tempfile::TempDir, Result<ApiOutput>) {
        let dir = tempfile::tempdir().unwrap();
        let inputs = frames_with(
            tables,
            vec![("imd_e", "imd_score", "File 5 is not an input")],
            vec![("imd_w", "WIMD is not in this catalog")],
        );
        let unit = tempfile::tempdir().unwrap();
        let out = unit_files::write(dir.path(), unit.path(), |sink| {
            generate(&spec(), &inputs, sink)
        });
        (dir, out)
    }

    fn read(dir: &Path, rel: &str) -> Value {
        serde_json::from_slice(&crate::gz::read(&dir.join(rel)).unwrap()).unwrap()
    }

    #[test]
    fn an_area_shows_its_sections_and_lists_every_gap_with_the_reason() {
        let (dir, out) = run(tables());
        let out = out.unwrap();
        assert_eq!(out.areas, 7, "3 LSOAs, 2 LADs and 2 SOAs");
        let a = read(dir.path(), "api/v1/areas/E01000001.json");
        assert_eq!(a["deprivation"]["england"]["imd_rank"], 7);
        assert!(a["deprivation"]["england"]["imd_score"].is_null());
        assert_eq!(
            a["parents"]["lad"],
            json!({"code": "E06000001", "name": "A"})
        );
        // The reason and the caveats' words are the dictionary's.
        let d = read(dir.path(), "api/v1/dictionary.json");
        assert_eq!(
            d["sections"]["deprivation.england"]["missing"]["imd_score"],
            "File 5 is not an input"
        );
        assert!(a["deprivation"]["england"].get("missing").is_none());
        assert_eq!(a["dictionary"], "../dictionary.json");
        let caveats: Vec<&Value> = a["caveats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &d["caveats"][i.as_u64().unwrap() as usize])
            .collect();
        assert_eq!(
            caveats,
            [&json!("rank 1 = most deprived"), &json!("within England")]
        );
        assert_eq!(a["unavailable"], json!([]));
        // An English LSOA without a row: a gap, not a silence.
        let b = read(dir.path(), "api/v1/areas/E01000002.json");
        assert_eq!(b["unavailable"][0]["section"], "deprivation.england");
        assert!(b["unavailable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no row for E01000002"));
        // A Welsh LSOA whose index table is unavailable: listed, with the
        // build's reason once in the dictionary.
        let w = read(dir.path(), "api/v1/areas/W01000001.json");
        assert_eq!(w["unavailable"], json!([{"section": "deprivation.wales"}]));
        assert!(d["sections"]["deprivation.wales"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("WIMD is not in this catalog"));
        assert!(d["sections"]["deprivation.england"]
            .get("unavailable")
            .is_none());
        assert!(w.get("deprivation").is_none());
    }

    #[test]
    fn parents_given_by_name_are_resolved_or_flagged() {
        let (dir, out) = run(tables());
        out.unwrap();
        let a = read(dir.path(), "api/v1/areas/95AA01.json");
        assert_eq!(a["parents"]["lad"]["code"], "W06000001");
        let b = read(dir.path(), "api/v1/areas/95AA02.json");
        assert!(b["parents"]["lad"]["code"].is_null());
        assert_eq!(b["parents"]["lad"]["name"], "Nowhere");
        assert!(b["parents"]["lad"]["note"].is_string());
    }

    /// Every file of the postcode part, by path: the postcode table read
    /// whole from memory, or written to `parquet` in row groups of two rows
    /// and read from it in batches of the given number of rows.
    fn postcode_files(
        tables: Vec<(&str, Table)>,
        parquet: Option<(&Path, usize)>,
    ) -> BTreeMap<String, Vec<u8>> {
        use polars::prelude::{ParquetReader, ParquetWriter, SerReader};
        let dir = tempfile::tempdir().unwrap();
        let inputs = frames_with(tables, vec![], vec![]);
        let pc = inputs.get("pc").unwrap();
        let rows = match parquet {
            None => postcodes::PostcodeRows::table(pc),
            Some((path, batch)) => {
                let file = std::fs::File::create(path).unwrap();
                ParquetWriter::new(file)
                    .with_row_group_size(Some(2))
                    .finish(&mut pc.frame().clone())
                    .unwrap();
                let mut r = ParquetReader::new(std::fs::File::open(path).unwrap());
                let groups = r.get_metadata().unwrap().row_groups.len();
                assert_eq!(groups, pc.height().div_ceil(2), "row groups of two rows");
                postcodes::PostcodeRows::file(path).in_batches_of(batch)
            }
        };
        let unit = tempfile::tempdir().unwrap();
        let out = unit_files::write(dir.path(), unit.path(), |sink| {
            generate_postcodes(&spec(), &inputs, Some(rows), sink, &OnceLock::new())
        })
        .unwrap();
        assert_eq!(out.outcodes, 2);
        out.files
            .iter()
            .map(|f| {
                (
                    f.path.clone(),
                    std::fs::read(dir.path().join(&f.path)).unwrap(),
                )
            })
            .collect()
    }

    /// The test's postcode table with a row without a postcode first and
    /// one without an outcode among E1's: neither is in a file.
    fn tables_with_gaps() -> Vec<(&'static str, Table)> {
        let pc = table(vec![
            (
                "postcode",
                opt_strs(&[
                    None,
                    Some("E1 1AA"),
                    Some("E1 1AB"),
                    Some("E1 1AC"),
                    Some("E1 1AD"),
                    Some("W1 1AA"),
                ]),
            ),
            (
                "outcode",
                opt_strs(&[
                    Some("E1"),
                    Some("E1"),
                    Some("E1"),
                    None,
                    Some("E1"),
                    Some("W1"),
                ]),
            ),
            (
                "status",
                strs(&["live", "live", "terminated", "live", "live", "live"]),
            ),
            (
                "terminated",
                opt_strs(&[None, None, Some("202001"), None, None, None]),
            ),
            (
                "country",
                strs(&[
                    "E92000001",
                    "E92000001",
                    "E92000001",
                    "E92000001",
                    "E92000001",
                    "W92000004",
                ]),
            ),
            (
                "lad",
                strs(&[
                    "E06000001",
                    "E06000001",
                    "E06000001",
                    "E06000001",
                    "E06000001",
                    "W06000001",
                ]),
            ),
            ("ward", opt_strs(&[None; 6])),
            (
                "area_code",
                opt_strs(&[
                    Some("E01000001"),
                    Some("E01000001"),
                    Some("E01000002"),
                    Some("E01000001"),
                    None,
                    Some("W01000001"),
                ]),
            ),
            (
                "area_reason",
                opt_strs(&[None, None, None, None, Some("E01000003 was split"), None]),
            ),
            ("reason", opt_strs(&[None; 6])),
        ]);
        replace(tables(), "pc", pc)
    }

    #[test]
    fn outcode_files_are_the_same_whether_the_table_is_read_whole_or_in_batches() {
        let parquet = tempfile::tempdir().unwrap();
        let path = parquet.path().join("pc.parquet");
        for tables in [tables(), tables_with_gaps()] {
            let whole = postcode_files(tables.clone(), None);
            // Batches of 1 and 3 rows end inside row groups of two.
            for batch in [1, 2, 3, 100] {
                let files = postcode_files(tables.clone(), Some((&path, batch)));
                assert_eq!(files, whole, "batches of {batch} rows");
            }
            // Rows out of outcode order are read whole, and give the same files.
            let mut shuffled = tables.clone();
            let pc = shuffled.iter_mut().find(|t| t.0 == "pc").unwrap();
            pc.1 = Table::from_frame(pc.1.frame().reverse());
            let files = postcode_files(shuffled, Some((&path, 1)));
            assert_eq!(files, whole, "rows in reverse order");
        }
    }

    #[test]
    fn a_postcode_table_that_other_parts_read_is_read_whole() {
        let mut s = spec();
        assert_eq!(s.postcode_table_read_alone(), Some("pc"));
        let pc = s.postcodes.as_mut().unwrap();
        pc.editions[0].index = "pc".into();
        assert_eq!(s.postcode_table_read_alone(), None, "an edition's index");
        let mut s = spec();
        s.area_types[0].registers[0].table = "pc".into();
        assert_eq!(s.postcode_table_read_alone(), None, "a register");
    }

    #[test]
    fn an_outcode_file_states_each_area_and_each_reason_once() {
        let (dir, out) = run(tables());
        let out = out.unwrap();
        assert_eq!((out.postcodes, out.outcodes), (4, 2));
        let e1 = read(dir.path(), "api/v1/postcodes/E1.json");
        let pcs = &e1["postcodes"];
        assert_eq!(pcs["E1 1AA"]["status"], "live");
        assert_eq!(pcs["E1 1AB"]["status"], "terminated");
        assert_eq!(pcs["E1 1AB"]["terminated"], "202001");
        let place = |pc: &str| &e1["places"][pcs[pc]["place"].as_u64().unwrap() as usize];
        assert_eq!(place("E1 1AA")["small_areas"]["area"], "E01000001");
        // The area's deprivation, once, under `areas`.
        let a = &e1["areas"]["E01000001"]["england"];
        assert_eq!((a["rank"].as_f64(), a["n"].as_u64()), (Some(7.0), Some(1)));
        assert_eq!(
            e1["areas"]["E01000001"]["href"], "../areas/E01000001.json",
            "relative to the outcode file, so it resolves under any prefix"
        );
        assert!(
            e1["areas"]["E01000002"].get("england").is_none(),
            "not ranked"
        );
        // A postcode without a small area refers to the reason by number.
        let why = place("E1 1AD")["missing"]["area"].as_u64().unwrap() as usize;
        assert_eq!(e1["reasons"][why], "E01000003 was split");
        assert_eq!(e1["editions"]["england"]["n"], 1);
        let index = read(dir.path(), "api/v1/postcodes/index.json");
        assert_eq!(index["postcodes"], 4);
    }

    #[test]
    fn a_code_that_is_not_of_its_type_stops_the_build_naming_where() {
        let ni = table(vec![
            ("soa", strs(&["95AA01", "../etc"])),
            ("lad_name", strs(&["C", "C"])),
        ]);
        let err = run(replace(tables(), "ni", ni)).1.unwrap_err();
        assert_eq!(err.check_failure().unwrap().check, "area_codes");
        let msg = err.to_string();
        assert!(
            msg.contains("source `ni`") && msg.contains("column `soa`") && msg.contains("row 3"),
            "{msg}"
        );
    }

    #[test]
    fn two_rows_for_a_one_row_section_stop_the_build() {
        let imd = table(vec![
            ("code", strs(&["E01000001", "E01000001"])),
            ("imd_rank", ints(&[7, 8])),
            ("imd_score", opt_floats(&[None, None])),
        ]);
        let err = run(replace(tables(), "imd_e", imd)).1.unwrap_err();
        assert_eq!(err.check_failure().unwrap().check, "one_row_per_area");
        assert!(err.to_string().contains("rows 2 and 3"), "{err}");
    }

    #[test]
    fn a_column_named_as_a_section_field_stops_the_build() {
        let imd = table(vec![
            ("code", strs(&["E01000001"])),
            ("imd_rank", ints(&[7])),
            ("title", strs(&["a column, not the section's title"])),
        ]);
        let err = run(replace(tables(), "imd_e", imd)).1.unwrap_err();
        assert_eq!(err.check_failure().unwrap().check, "section_fields");
        assert!(err.to_string().contains("column `title`"), "{err}");
    }

    #[test]
    fn the_same_inputs_give_byte_identical_files() {
        let (a, oa) = run(tables());
        let (b, ob) = run(tables());
        let (oa, ob) = (oa.unwrap(), ob.unwrap());
        assert_eq!(oa.files, ob.files);
        for file in &oa.files {
            assert_eq!(
                std::fs::read(a.path().join(&file.path)).unwrap(),
                std::fs::read(b.path().join(&file.path)).unwrap()
            );
        }
    }

    #[test]
    fn the_spec_is_checked_as_a_whole() {
        let mut s = spec();
        s.sections[0].area_type = "nope".into();
        s.sections[1].key = "england".into();
        s.area_types[0].registers[0]
            .parents
            .insert("county".into(), "lad".into());
        let catalog = empty_catalog();
        let schemas = Default::default();
        let mut v = Validator::new("Stage `api`", &catalog, &schemas);
        s.validate(&mut v);
        let errors = v.into_errors();
        assert_eq!(errors.len(), 3, "{errors:#?}");
    }
}
