//! The command line, as a user runs it.

use assert_cmd::Command;
use predicates::prelude::*;

use crate::util::*;

fn cli() -> Command {
    let mut c = Command::cargo_bin("census-pipeline").unwrap();
    c.current_dir(repo());
    c
}

#[test]
fn check_accepts_the_shipped_catalogs() {
    cli()
        .args(["check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok: catalog `production`"));
    cli()
        .args(["check", "--sources", "tests/shared.sources.toml"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok: catalog `shared`"));
}

#[test]
fn check_exits_2_and_lists_every_error() {
    let dir = tempdir();
    let cat = write_tiny_catalog(
        dir.path(),
        None,
        "[sources.tiny]\ntitle = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nurl = \"ftp://x\"\nsha256 = \"XYZ\"\nformat = \"parquet\"\n",
    );
    cli()
        .args(["check", "--sources"])
        .arg(&cat)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("configuration error"))
        .stderr(predicate::str::contains("unknown variant `parquet`"));
}

#[test]
fn build_writes_a_release_and_reports_what_it_did() {
    let dir = tempdir();
    let b = shared_build();
    cli()
        .args([
            "--log-format",
            "json",
            "build",
            "--sources",
            "tests/shared.sources.toml",
            "--out",
        ])
        .arg(dir.path().join("rel"))
        .arg("--cache")
        .arg(&b.cache)
        .assert()
        .success()
        .stdout(predicate::str::contains("built version 1.0.0: 86 tables"))
        .stdout(predicate::str::contains("0 computed"))
        .stderr(predicate::str::contains("\"message\":\"Build complete.\""));
    assert!(dir.path().join("rel/manifest.json").is_file());
}

#[test]
fn build_refuses_to_replace_a_directory_that_is_not_a_release() {
    let dir = tempdir();
    let out = dir.path().join("precious");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("thesis.txt"), "do not delete").unwrap();
    let b = shared_build();
    cli()
        .args(["build", "--sources", "tests/shared.sources.toml", "--out"])
        .arg(&out)
        .arg("--cache")
        .arg(&b.cache)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a release this tool wrote"));
    assert!(out.join("thesis.txt").is_file());
}

#[test]
fn unknown_arguments_exit_2() {
    cli().args(["build", "--frobnicate"]).assert().code(2);
}

#[test]
fn bench_times_as_many_full_builds_as_asked_and_reports_each() {
    let dir = tempdir();
    let (catalog, stages) = tiny_fixture(dir.path(), "code,value\nA1,1\nA2,2\n", Some(2));
    cli()
        .args(["bench", "--runs", "2", "--sources"])
        .arg(&catalog)
        .arg("--stages")
        .arg(&stages)
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .assert()
        .success()
        .stdout(predicate::str::contains("full builds: wall, CPU"))
        .stdout(predicate::str::contains("run 1"))
        .stdout(predicate::str::contains("run 2"))
        .stdout(predicate::str::contains("fastest"))
        .stdout(predicate::str::contains("no-op rebuild"));
    cli()
        .args(["bench", "--runs", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--runs"));
}
