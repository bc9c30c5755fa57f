//! Publishing to a folder and to a real S3-compatible server on 127.0.0.1
//! (s3s-fs, which `.ci/run` installs), including the server dying mid-way.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::{Attribute, Attributes, ObjectStoreExt};

use crate::util::*;

fn cli() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("census-pipeline"))
}

/// Builds the tiny release (one table) into `dir/release`.
fn tiny_release(dir: &Path) -> PathBuf {
    tiny_release_of(dir, "Area code,Value\nA1,1\nA2,2\n")
}

fn tiny_release_of(dir: &Path, csv: &str) -> PathBuf {
    let (catalog, stages) = tiny_fixture(dir, csv, Some(2));
    let out = dir.join("release");
    let o = cli()
        .arg("build")
        .arg("--sources")
        .arg(&catalog)
        .arg("--stages")
        .arg(&stages)
        .arg("--cache")
        .arg(dir.join("cache"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn publish(from: &Path, to: &str, env: &[(&str, String)]) -> std::process::Output {
    let mut c = cli();
    c.args(["publish", "--from"]).arg(from).args(["--to", to]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn publishing_to_a_folder_is_write_once_resumable_and_switches_latest_last() {
    let dir = tempdir();
    let release = tiny_release(dir.path());
    let bucket = dir.path().join("bucket");
    let to = format!("file://{}", bucket.display());
    let first = publish(&release, &to, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(out.contains("published version 1.0.0"), "{out}");
    assert!(bucket.join("releases/1.0.0/manifest.json").is_file());
    assert!(bucket.join("releases/1.0.0/tables/tiny.parquet").is_file());
    assert!(bucket.join("releases/1.0.0/datapackage.json").is_file());
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bucket.join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["version"], "1.0.0");

    // Again: nothing to upload, latest.json untouched.
    let again = publish(&release, &to, &[]);
    assert!(again.status.success());
    let out = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(
        out.contains("0 uploaded") && out.contains("latest.json unchanged"),
        "{out}"
    );

    // A different release under the same version is refused.
    let changed = tiny_release_of(dir.path(), "Area code,Value\nA1,1\nA2,3\n");
    let refused = publish(&changed, &to, &[]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("a published version never changes"));
}

#[test]
fn a_modified_release_directory_is_not_published() {
    let dir = tempdir();
    let release = tiny_release(dir.path());
    std::fs::write(release.join("tables/tiny.parquet"), b"tampered").unwrap();
    let o = publish(
        &release,
        &format!("file://{}", dir.path().join("bucket").display()),
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match the sha256"));
    assert!(!dir.path().join("bucket/latest.json").exists());
}

/// An s3s-fs server over `root` on a free port.
struct S3 {
    child: Child,
    port: u16,
    root: PathBuf,
}

impl S3 {
    fn start(root: &Path, port: Option<u16>) -> S3 {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let bin = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".into());
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                "K",
                "--secret-key",
                "S",
            ])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (installed by .ci/run): {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3 {
            child,
            port,
            root: root.to_path_buf(),
        }
    }
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "K".into()),
            ("AWS_SECRET_ACCESS_KEY", "S".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.kill();
    }
}

fn latest_version(root: &Path) -> Option<String> {
    let text = std::fs::read(root.join("bucket/site/latest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v["version"].as_str().map(str::to_string)
}

#[test]
fn publishing_to_s3_survives_the_server_dying_mid_publish() {
    let dir = tempdir();
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let mut s3 = S3::start(&root, None);
    let to = "s3://bucket/site";

    // Version 1.0.0: the tiny release.
    let tiny = tiny_release(&dir.path().join("tiny"));
    let o = publish(&tiny, to, &s3.env());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(latest_version(&root).as_deref(), Some("1.0.0"));

    // Version 2.0.0: the full shared release, derived against 1.0.0.
    let b = shared_build();
    let big = dir.path().join("big");
    let built = cli()
        .current_dir(repo())
        .args(["build", "--sources", "tests/shared.sources.toml", "--out"])
        .arg(&big)
        .arg("--cache")
        .arg(&b.cache)
        .arg("--previous")
        .arg(&tiny)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(String::from_utf8_lossy(&built.stdout).contains("built version 2.0.0"));

    // Kill the server once some of 2.0.0 has arrived.
    let mut c = cli();
    c.args(["publish", "--concurrency", "1", "--from"])
        .arg(&big)
        .args(["--to", to])
        // To files: a pipe nobody reads while we wait would fill and stall it.
        .stdout(std::fs::File::create(dir.path().join("publish.out")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("publish.err")).unwrap());
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    // Files go up in path order: the API's area files first.
    let areas = root.join("bucket/site/releases/2.0.0/api/v2/areas");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&areas).map(|d| d.count()).unwrap_or(0) < 20 {
        assert!(Instant::now() < deadline, "the publish made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = s3.port;
    s3.kill();
    let failed = child.wait().unwrap();
    assert!(
        !failed.success(),
        "the publish must fail when its bucket dies"
    );
    assert_eq!(
        latest_version(&root).as_deref(),
        Some("1.0.0"),
        "latest.json is unchanged"
    );
    assert!(
        !root
            .join("bucket/site/releases/2.0.0/manifest.json")
            .exists(),
        "an incomplete version has no manifest"
    );

    // Back up: the rerun resumes and completes.
    let s3 = S3::start(&s3.root.clone(), Some(port));
    let rerun = publish(&big, to, &s3.env());
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let out = String::from_utf8_lossy(&rerun.stdout).to_string();
    assert!(out.contains("already there"), "{out}");
    assert!(
        !out.contains(" 0 already there"),
        "the rerun skipped what had arrived: {out}"
    );
    assert_eq!(latest_version(&root).as_deref(), Some("2.0.0"));

    // As a client receives them: the API's files gzip-encoded, saying so,
    // and decoding to the area's JSON; the page's files with the types a
    // browser accepts; a CSV copy as a download, not an encoding.
    let v = "site/releases/2.0.0";
    let (attrs, body) = get(&s3, &format!("{v}/api/v2/areas/E01000001.json"));
    assert_eq!(attr(&attrs, Attribute::ContentEncoding), "gzip");
    assert_eq!(attr(&attrs, Attribute::ContentType), "application/json");
    let area: serde_json::Value =
        serde_json::from_slice(&census_pipeline::gz::decode(body, Path::new("x")).unwrap())
            .unwrap();
    assert_eq!(area["code"], "E01000001");
    for (key, ty) in [
        ("site/app.js", "text/javascript; charset=utf-8"),
        ("site/style.css", "text/css; charset=utf-8"),
        ("site/index.html", "text/html; charset=utf-8"),
        ("tables/imd_england_2019.csv.gz", "application/gzip"),
        ("openapi.json", "application/json"),
    ] {
        let (attrs, _) = get(&s3, &format!("{v}/{key}"));
        assert_eq!(attr(&attrs, Attribute::ContentType), ty, "{key}");
        assert_eq!(attr(&attrs, Attribute::ContentEncoding), "", "{key}");
    }
}

/// An object of the bucket as a client gets it: its attributes (headers)
/// and its bytes as stored.
fn get(s3: &S3, key: &str) -> (Attributes, Vec<u8>) {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{}", s3.port))
        .with_allow_http(true)
        .with_access_key_id("K")
        .with_secret_access_key("S")
        .with_region("us-east-1")
        .with_bucket_name("bucket")
        .build()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = store
            .get(&object_store::path::Path::from(key))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let attrs = r.attributes.clone();
        (attrs, r.bytes().await.unwrap().to_vec())
    })
}

fn attr(attrs: &Attributes, a: Attribute) -> String {
    attrs.get(&a).map(|v| v.to_string()).unwrap_or_default()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every object under `root`, with its bytes.
fn objects(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_tampered_or_deleted_object_in_the_bucket_is_found_and_restored_by_verify() {
    let dir = tempdir();
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join("bucket")).unwrap();
    let s3 = S3::start(&root, None);
    let to = "s3://bucket/site";
    let release = tiny_release(dir.path());
    let o = publish(&release, to, &s3.env());
    assert!(o.status.success(), "{}", text(&o));
    let version = root.join("bucket/site/releases/1.0.0");
    let table = version.join("tables/tiny.parquet");
    let good = std::fs::read(&table).unwrap();
    std::fs::write(&table, b"tampered with").unwrap();
    std::fs::remove_file(version.join("verification.json")).unwrap();
    // The data package and latest.json are always checked by content.
    let dp = version.join("datapackage.json");
    let good_dp = std::fs::read(&dp).unwrap();
    std::fs::write(&dp, b"{}").unwrap();
    let o = publish(&release, to, &s3.env());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 repaired"), "{}", text(&o));
    assert_eq!(std::fs::read(&dp).unwrap(), good_dp);
    // With --verify, every object is read back and restored.
    let mut c = cli();
    c.args(["publish", "--verify", "--from"])
        .arg(&release)
        .args(["--to", to]);
    for (k, v) in s3.env() {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 repaired"), "{}", text(&o));
    assert_eq!(std::fs::read(&table).unwrap(), good);
    assert_eq!(
        std::fs::read(version.join("verification.json")).unwrap(),
        std::fs::read(release.join("verification.json")).unwrap()
    );
}

/// A copy of the tiny release whose manifest is rewritten by `edit`.
fn release_with_manifest(dir: &Path, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let release = tiny_release(dir);
    let path = release.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    release
}

#[test]
fn a_manifest_with_a_bad_version_or_path_is_refused_before_anything_is_sent() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 4] = [
        (|m| m["version"] = "".into(), "is not MAJOR.MINOR.PATCH"),
        (
            |m| m["version"] = "../../escape".into(),
            "is not MAJOR.MINOR.PATCH",
        ),
        (
            |m| m["files"][0]["path"] = "../x".into(),
            "is not a plain relative path",
        ),
        (
            |m| m["files"][0]["path"] = "/etc/passwd".into(),
            "is not a plain relative path",
        ),
    ];
    for (i, (edit, want)) in cases.into_iter().enumerate() {
        let dir = tempdir();
        let release = release_with_manifest(&dir.path().join(i.to_string()), edit);
        let bucket = dir.path().join("bucket");
        let o = publish(&release, &format!("file://{}", bucket.display()), &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(want), "{}", text(&o));
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
        assert!(objects(&bucket).is_empty(), "nothing is uploaded");
    }
}

/// A copy of the tiny release relabelled `version`, consistently: its
/// data package says so too, and the manifest records the package's new
/// digest and size.
fn release_of_version(dir: &Path, version: &str) -> PathBuf {
    let release = tiny_release(dir);
    let dp = release.join("datapackage.json");
    let mut pkg: serde_json::Value = serde_json::from_slice(&std::fs::read(&dp).unwrap()).unwrap();
    pkg["version"] = version.into();
    let bytes = serde_json::to_vec(&pkg).unwrap();
    std::fs::write(&dp, &bytes).unwrap();
    let path = release.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["version"] = version.into();
    let mut total = 0;
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == "datapackage.json" {
            f["sha256"] = sha256_hex(&bytes).into();
            f["bytes"] = bytes.len().into();
        }
        total += f["bytes"].as_u64().unwrap();
    }
    m["summary"]["bytes"] = total.into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    release
}

#[test]
fn a_manifest_that_lists_less_than_the_release_or_disagrees_with_it_is_refused() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 4] = [
        // Dropping a table's file from the list would publish the rest as
        // the whole release.
        (
            |m| {
                let files = m["files"].as_array_mut().unwrap();
                files.retain(|f| !f["path"].as_str().unwrap().starts_with("tables/"));
            },
            "but the folder holds",
        ),
        (
            |m| m["summary"]["files"] = 99999.into(),
            "its summary says 99999 files",
        ),
        (
            |m| m["tables"]["tiny"]["path"] = "tables/elsewhere.parquet".into(),
            "table `tiny` is `tables/elsewhere.parquet`, which its file list does not have",
        ),
        (
            |m| m["version"] = "2.0.0".into(),
            "datapackage.json is version \"1.0.0\", but manifest.json says 2.0.0",
        ),
    ];
    for (i, (edit, want)) in cases.into_iter().enumerate() {
        let dir = tempdir();
        let release = release_with_manifest(&dir.path().join(i.to_string()), edit);
        let bucket = dir.path().join("bucket");
        let o = publish(&release, &format!("file://{}", bucket.display()), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains(want), "{}", text(&o));
        assert!(text(&o).contains("is not published"), "{}", text(&o));
        assert!(objects(&bucket).is_empty(), "nothing is uploaded");
    }
}

#[test]
fn a_table_dropped_from_the_manifest_alone_is_not_published() {
    let dir = tempdir();
    let release = tiny_release(dir.path());
    // The table's files, entries and counts removed, consistently; the
    // data package still describes it.
    let path = release.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["tables"].as_object_mut().unwrap().clear();
    let files = m["files"].as_array_mut().unwrap();
    files.retain(|f| !f["path"].as_str().unwrap().starts_with("tables/"));
    let (n, bytes) = (
        files.len(),
        files
            .iter()
            .map(|f| f["bytes"].as_u64().unwrap())
            .sum::<u64>(),
    );
    m["summary"]["files"] = n.into();
    m["summary"]["bytes"] = bytes.into();
    m["summary"]["tables"] = 0.into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    std::fs::remove_dir_all(release.join("tables")).unwrap();
    let bucket = dir.path().join("bucket");
    let o = publish(&release, &format!("file://{}", bucket.display()), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("describes `tables/tiny.parquet`, which manifest.json does not list"),
        "{}",
        text(&o)
    );
    assert!(objects(&bucket).is_empty());
    // A store that keeps nothing is no destination either.
    let o = publish(&tiny_release(&dir.path().join("b")), "memory:///x", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("memory:// keeps nothing"), "{}", text(&o));
}

#[test]
fn a_release_is_never_published_into_itself() {
    let dir = tempdir();
    let release = tiny_release(dir.path());
    let before = objects(&release);
    let o = publish(
        &release,
        &format!("file://{}", release.join("bucket").display()),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is inside the release being published"),
        "{}",
        text(&o)
    );
    assert_eq!(objects(&release), before);
}

#[test]
fn verify_never_rewrites_a_published_version_with_another_release() {
    let dir = tempdir();
    let bucket = dir.path().join("bucket");
    let to = format!("file://{}", bucket.display());
    let first = tiny_release(&dir.path().join("a"));
    assert!(publish(&first, &to, &[]).status.success());
    let before = objects(&bucket);
    // Another release under the same version, as the refusal's hint reads.
    let other = tiny_release_of(&dir.path().join("b"), "Area code,Value\nA1,1\nA2,3\n");
    let mut c = cli();
    c.args(["publish", "--verify", "--from"])
        .arg(&other)
        .args(["--to", &to]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("a published version never changes"),
        "{}",
        text(&o)
    );
    assert_eq!(
        objects(&bucket),
        before,
        "the published version is as it was"
    );
    // The release that is the version restores its damaged manifest.
    let m = bucket.join("releases/1.0.0/manifest.json");
    std::fs::write(&m, b"{}").unwrap();
    let mut c = cli();
    c.args(["publish", "--verify", "--from"])
        .arg(&first)
        .args(["--to", &to]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(objects(&bucket), before);
}

#[test]
fn latest_json_never_moves_back_to_an_older_version_unless_asked() {
    let dir = tempdir();
    let bucket = dir.path().join("bucket");
    let to = format!("file://{}", bucket.display());
    let newer = release_of_version(&dir.path().join("new"), "2.0.0");
    let o = publish(&newer, &to, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let older = tiny_release(&dir.path().join("old"));
    let before = objects(&bucket);
    let o = publish(&older, &to, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("latest.json points at version 2.0.0"),
        "{}",
        text(&o)
    );
    assert_eq!(objects(&bucket), before, "nothing is uploaded or switched");
    let mut c = cli();
    c.args(["publish", "--allow-downgrade", "--from"])
        .arg(&older)
        .args(["--to", &to]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bucket.join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["version"], "1.0.0");
}

#[test]
fn a_password_in_the_destination_is_never_echoed() {
    let dir = tempdir();
    let release = tiny_release(dir.path());
    let o = publish(&release, "http://someone:hunter2@127.0.0.1:9/bucket", &[]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(!t.contains("hunter2"), "{t}");
}
