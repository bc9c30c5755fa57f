//! `check`: the catalog and stage specs are validated in one pass and every
//! problem is reported at once.

use census_pipeline::error::{ConfigError, ConfigProblem};
use census_pipeline::plan::load_config;

use crate::util::*;

fn errors_of(catalog_body: &str, stages: &[(&str, &str)]) -> Vec<String> {
    let dir = tempdir();
    let catalog = write_tiny_catalog(dir.path(), None, catalog_body);
    let sdir = dir.path().join("stages");
    std::fs::create_dir_all(&sdir).unwrap();
    for (name, body) in stages {
        std::fs::write(sdir.join(format!("{name}.toml")), body).unwrap();
    }
    match load_config(&catalog, &sdir) {
        Ok(_) => Vec::new(),
        Err(e) => match e.kind {
            census_pipeline::ErrorKind::Config(errs) => {
                errs.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected config errors, got {other}"),
        },
    }
}

const GOOD_SOURCE: &str = r#"
[sources.tiny]
title = "tiny"
publisher = "test"
licence = "OGL-UK-3.0"
edition = "1"
geography = "test"
url = "https://example.org/tiny.csv"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
format = "csv"
"#;

const LOAD_ALL: &str = "kind = \"load\"\ndescription = \"d\"\ndatasets = \"all\"\n";

#[test]
fn the_real_catalogs_and_stages_are_valid() {
    load_config(&shared_catalog(), &stages_dir()).expect("tests/shared.sources.toml");
    load_config(&repo().join("sources.toml"), &stages_dir()).expect("sources.toml");
}

#[test]
fn three_different_mistakes_are_all_reported_in_one_run() {
    let body = GOOD_SOURCE
        .replace(
            "format = \"csv\"",
            "format = \"csv\"\ncolour = \"blue\"\n[sources.tiny.aliases]\npopulation = \"Pop\"",
        )
        .replace(
            "0000000000000000000000000000000000000000000000000000000000000000",
            "abc",
        );
    let errors = errors_of(&body, &[("load", LOAD_ALL)]);
    let all = errors.join("\n");
    assert!(
        all.contains("Source `tiny` has unknown field `colour`"),
        "{all}"
    );
    assert!(
        all.contains("field `sha256` must be 64 lower-case hex digits, got \"abc\""),
        "{all}"
    );
    assert!(
        all.contains("names column `population`, which dataset `tiny` does not have"),
        "{all}"
    );
    assert_eq!(errors.len(), 3, "{all}");
}

#[test]
fn a_source_for_an_unknown_dataset_and_a_stage_naming_one_are_reported() {
    let body = format!(
        "{GOOD_SOURCE}\n{}",
        GOOD_SOURCE.replace("[sources.tiny]", "[sources.imd_mars_2030]")
    );
    let errors = errors_of(
        &body,
        &[(
            "load",
            "kind = \"load\"\ndescription = \"d\"\ndatasets = [\"tiny\", \"imd_venus\"]\n",
        )],
    );
    let all = errors.join("\n");
    assert!(
        all.contains("Source `imd_mars_2030` refers to unknown dataset `imd_mars_2030`"),
        "{all}"
    );
    assert!(
        all.contains("Stage `load` (")
            && all.contains(") field `datasets` refers to unknown dataset `imd_venus`"),
        "{all}"
    );
}

#[test]
fn stage_problems_are_reported_with_catalog_problems() {
    let body = GOOD_SOURCE.replace("format = \"csv\"", "format = \"csv\"\nsheet = \"S\"");
    let errors = errors_of(
        &body,
        &[
            ("load", LOAD_ALL),
            ("again", LOAD_ALL),
            ("odd", "kind = \"teleport\"\n"),
            (
                "typo",
                "kind = \"load\"\ndescription = \"d\"\ndatasets = \"all\"\nparallel = true\n",
            ),
        ],
    );
    let all = errors.join("\n");
    assert!(
        all.contains("field `sheet` applies only to workbooks"),
        "{all}"
    );
    assert!(all.contains("unknown variant `teleport`"), "{all}");
    assert!(all.contains("has unknown field `parallel`"), "{all}");
}

#[test]
fn a_table_produced_by_two_stages_is_an_error() {
    let errors = errors_of(GOOD_SOURCE, &[("load", LOAD_ALL), ("again", LOAD_ALL)]);
    let all = errors.join("\n");
    assert!(
        all.contains("Table `tiny` is produced by both stage `again` and stage `load`"),
        "{all}"
    );
}

#[test]
fn a_source_without_url_or_pin_must_say_why() {
    let body = GOOD_SOURCE
        .replace("url = \"https://example.org/tiny.csv\"\n", "")
        .replace(
            "sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
            "",
        );
    let all = errors_of(&body, &[("load", LOAD_ALL)]).join("\n");
    assert!(
        all.contains("has no `sha256`: pin it, or say why not in `unpinned`"),
        "{all}"
    );
    assert!(all.contains("has no `url`"), "{all}");
}

#[test]
fn a_missing_column_must_exist_and_must_not_be_the_key() {
    let body = format!(
        "{GOOD_SOURCE}[sources.tiny.missing]\ncode = \"no codes\"\nheight = \"no such column\"\n"
    );
    let all = errors_of(&body, &[("load", LOAD_ALL)]).join("\n");
    assert!(all.contains("names key column `code`"), "{all}");
    assert!(
        all.contains("names column `height`, which dataset `tiny` does not have"),
        "{all}"
    );
}

/// The real stages with one file's text replaced; the config errors of the
/// shared catalog against them.
fn errors_with_edit(file: &str, from: &str, to: &str) -> (Vec<ConfigError>, std::path::PathBuf) {
    let dir = tempdir();
    let stages = dir.path().join("stages");
    std::fs::create_dir_all(&stages).unwrap();
    for e in std::fs::read_dir(stages_dir()).unwrap() {
        let p = e.unwrap().path();
        let mut text = std::fs::read_to_string(&p).unwrap();
        if p.file_name().unwrap() == file {
            assert!(text.contains(from), "{file} has no {from:?}");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(stages.join(p.file_name().unwrap()), text).unwrap();
    }
    let path = stages.join(file);
    let errors = match load_config(&shared_catalog(), &stages) {
        Ok(_) => Vec::new(),
        Err(e) => match e.kind {
            census_pipeline::ErrorKind::Config(errs) => errs,
            other => panic!("expected config errors, got {other}"),
        },
    };
    (errors, path)
}

/// The one error, which must name the file, the field, the bad name and
/// the known names.
fn the_one_error(
    errors: &[ConfigError],
    file: &std::path::Path,
    field: &str,
    bad: &str,
    known: &str,
) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let msg = errors[0].to_string();
    for part in [&file.display().to_string(), field, bad, known] {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
}

#[test]
fn check_finds_a_misspelt_column_in_the_api_spec() {
    let (errors, file) = errors_with_edit(
        "api.toml",
        r#"columns = ["ward19_code", "ward_vintage""#,
        r#"columns = ["ward19_code", "ward_vintge""#,
    );
    match &errors[0].problem {
        ConfigProblem::UnknownColumn {
            table,
            column,
            known,
            ..
        } => {
            assert_eq!(
                (table.as_str(), column.as_str()),
                ("lsoa11_ward19", "ward_vintge")
            );
            assert!(known.contains(&"ward_vintage".to_string()));
        }
        other => panic!("expected an unknown column, got {other:?}"),
    }
    the_one_error(&errors, &file, "sections.", "`ward_vintge`", "ward_vintage");
    assert!(errors[0]
        .to_string()
        .contains("did you mean `ward_vintage`?"));
}

#[test]
fn check_finds_a_misspelt_column_in_a_stage_spec() {
    let (errors, file) = errors_with_edit(
        "imd_england_2019_lad19.toml",
        r#"income_rate = "income_score""#,
        r#"income_rate = "incme_score""#,
    );
    assert!(
        matches!(&errors[0].problem, ConfigProblem::UnknownColumn { column, table, .. } if column == "incme_score" && table == "imd_england_2019"),
        "{errors:#?}"
    );
    the_one_error(
        &errors,
        &file,
        "field `income_rate`",
        "`incme_score`",
        "income_score",
    );
}

#[test]
fn check_finds_a_misspelt_indicator_in_the_places_taxonomy() {
    let (errors, file) = errors_with_edit(
        "places.toml",
        r#"{ id = "median_age","#,
        r#"{ id = "median_agee","#,
    );
    assert!(
        matches!(&errors[0].problem, ConfigProblem::UnknownValue { value, column, .. } if value == "median_agee" && column == "indicator_id"),
        "{errors:#?}"
    );
    the_one_error(
        &errors,
        &file,
        "field `themes[0].indicators[2].id`",
        "`median_agee`",
        "median_age",
    );
}

#[test]
fn check_rejects_a_declared_lookup_difference_that_could_never_be_checked() {
    // Each declaration names an area the stage can hold, the authority
    // the table gives it, and why; every fault is reported at once.
    let (errors, file) = errors_with_edit(
        "imd_england_2025.toml",
        "[verify.lookup.differences.E01027305]\nla_code = \"E06000062\"",
        "[verify.lookup.differences.W01000001]\nreason = \"in Wales\"\nla_code = \"W06000001\"\nla_name = \"x\"\n\
         [verify.lookup.differences.E01-bad]\nreason = \" \"\nla_code = \"E06000001\"\nla_name = \" \"\n\
         [verify.lookup.differences.E01000001]\nreason = \"no authority named\"\n\
         [verify.lookup.differences.E01027305]\nla_code = \"E06000062\"",
    );
    let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let all = msgs.join("\n");
    for part in [
        "`W01000001` is outside the look-up's `key_prefix` E01",
        "`W01000001` does not match the stage's code pattern",
        "`E01-bad` does not match the stage's code pattern",
        "differences.E01-bad`: `reason` is empty",
        "differences.E01000001`: give `la_code`",
        "differences.E01000001`: give `la_name`",
        "differences.E01-bad`: `la_name` is empty",
        "`la_code` W06000001 does not match `verify.la_code_pattern`",
    ] {
        assert!(all.contains(part), "{part:?} not in:\n{all}");
    }
    assert_eq!(errors.len(), 8, "{all}");
    assert!(msgs.iter().all(|m| m.contains(&file.display().to_string())));
}

#[test]
fn check_rejects_declared_lookup_differences_when_nothing_is_compared() {
    let (errors, _) = errors_with_edit(
        "imd_england_2025.toml",
        "la_code = \"lad24_code\"\nla_name = \"lad24_name\"\n\n[verify.lookup.differences",
        "\n[verify.lookup.differences",
    );
    let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        all.iter()
            .any(|m| m.contains("no local authority code or name is compared")),
        "{all:#?}"
    );
}

#[test]
fn a_text_column_with_a_numeric_unit_is_refused() {
    // A unit conversion would read the text as numbers, and text that is
    // not a number (`n/a`, `12%`) would become a null unseen.
    let dir = tempdir();
    let catalog = write_tiny_catalog(dir.path(), None, GOOD_SOURCE);
    let datasets = read_text(&dir.path().join("datasets.toml")).replace(
        r#"value = { type = "int", unit = "count""#,
        r#"value = { type = "string", unit = "rate""#,
    );
    std::fs::write(dir.path().join("datasets.toml"), datasets).unwrap();
    let sdir = dir.path().join("stages");
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::write(sdir.join("load.toml"), LOAD_ALL).unwrap();
    let err = load_config(&catalog, &sdir).unwrap_err().to_string();
    assert!(
        err.contains("column `value` is text but its unit `rate` is a number"),
        "{err}"
    );
}

#[test]
fn check_rejects_a_section_group_named_as_an_area_file_field() {
    let (errors, file) = errors_with_edit(
        "api.toml",
        "group = \"green_space\"",
        "group = \"dictionary\"",
    );
    the_one_error(
        &errors,
        &file,
        "section `dictionary.",
        "group `dictionary`",
        "is a field of every area file",
    );
}

#[test]
fn check_rejects_an_area_caveat_for_a_code_of_no_area_type() {
    let (errors, file) = errors_with_edit(
        "api.toml",
        "[area_caveats]\n",
        "[area_caveats]\nX99 = \"no such area\"\n",
    );
    the_one_error(
        &errors,
        &file,
        "field `area_caveats`",
        "`X99`",
        "matches no area type's pattern",
    );
}
