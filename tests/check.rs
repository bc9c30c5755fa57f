//! `check`: the catalog and stage specs are validated in one pass and every
//! problem is reported at once.

use census_pipeline::graph::load_config;

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
            census_pipeline::ErrorKind::Config(errs) => errs,
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
        all.contains("Stage `load` field `datasets` refers to unknown dataset `imd_venus`"),
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
