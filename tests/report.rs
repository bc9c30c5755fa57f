//! The diff report: exact on a deliberate change, silent when nothing
//! changed, and an HTML page that renders in a real browser.

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn cli() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("census-pipeline"))
}

fn build_tiny(dir: &Path, csv: &str, out: &Path, previous: Option<&Path>) -> String {
    let (catalog, stages) = tiny_fixture(dir, csv, None);
    let mut c = cli();
    c.arg("build")
        .arg("--sources")
        .arg(&catalog)
        .arg("--stages")
        .arg(&stages)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(out);
    if let Some(p) = previous {
        c.arg("--previous").arg(p);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_deliberately_changed_source_is_reported_exactly() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,2\nA3,3\n", &a, None);
    let out = build_tiny(
        dir.path(),
        "Area code,Value\nA1,1\nA2,5\nA3,3\nA4,4\n",
        &b,
        Some(&a),
    );
    assert!(
        out.contains("built version 1.1.0"),
        "rows added: a minor version; {out}"
    );
    let md = std::fs::read_to_string(b.join("report/diff.md")).unwrap();
    assert!(
        md.contains("| `tiny` | changed | 3 -> 4 | 1 | 0 | 1 | value (1) |"),
        "{md}"
    );
    assert!(md.contains("- A2: value 2 -> 5"), "{md}");
    let html = std::fs::read_to_string(b.join("report/diff.html")).unwrap();
    assert!(html.contains("<td>tiny</td><td>changed</td>"), "{html}");
    // The command gives the same report.
    let o = cli().arg("diff").arg(&a).arg(&b).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), md);
}

#[test]
fn identical_builds_report_no_change_and_keep_their_version() {
    let b = shared_build();
    let dir = tempdir();
    let again = dir.path().join("again");
    let o = cli()
        .current_dir(repo())
        .args(["build", "--sources", "tests/shared.sources.toml", "--out"])
        .arg(&again)
        .arg("--cache")
        .arg(&b.cache)
        .arg("--previous")
        .arg(&b.out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("built version 1.0.0"));
    let md = std::fs::read_to_string(again.join("report/diff.md")).unwrap();
    assert!(md.contains("No table changed."), "{md}");
    assert!(
        md.contains("| `imd_england_2019` |"),
        "the verification summary lists every verified table"
    );
}

#[test]
fn the_html_report_renders_in_chromium() {
    let chromium = ["chromium", "chromium-browser", "/usr/bin/chromium"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is needed to render the report (.ci/run installs Debian's chromium)");
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Index-like tables get charts: give the tiny table ranks and deciles.
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,2\n", &a, None);
    build_tiny(dir.path(), "Area code,Value\nA1,1\nA2,9\n", &b, Some(&a));
    let shot = |url: String, png: &Path| {
        let o = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1000,700",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg(format!("--screenshot={}", png.display()))
            .arg(url)
            .output()
            .unwrap();
        assert!(
            png.is_file(),
            "no screenshot: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::metadata(png).unwrap().len()
    };
    let report = shot(
        format!("file://{}", b.join("report/diff.html").display()),
        &dir.path().join("report.png"),
    );
    let blank = shot("about:blank".into(), &dir.path().join("blank.png"));
    assert!(
        report > blank * 3,
        "the report's screenshot ({report} bytes) is not blank ({blank} bytes for an empty page)"
    );
}
