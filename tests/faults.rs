//! Faults that must fail loudly, keep the last good release, and lose
//! nothing: locked, unwritable or full output, and unmatched look-ups.
//! (Download faults are in `fetch`, bad files in `readers` and `index`.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use census_pipeline::cache::DirLock;

use crate::util::*;

/// A tiny catalog over a local CSV, with stages, in `dir`.
fn tiny(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    tiny_fixture(dir, "Area code,Value\nA1,1\nA2,2\n", Some(2))
}

fn build_cmd(catalog: &Path, stages: &Path, cache: &Path, out: &Path) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("census-pipeline"));
    c.arg("build")
        .arg("--sources")
        .arg(catalog)
        .arg("--stages")
        .arg(stages)
        .arg("--cache")
        .arg(cache)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_second_build_on_the_same_output_waits_for_the_first() {
    let dir = tempdir();
    let (catalog, stages) = tiny(dir.path());
    let out = dir.path().join("release");
    // Hold the output's lock as a running build would.
    let lock = DirLock::acquire(&dir.path().join(".release.lock"), false).unwrap();
    let mut child = build_cmd(&catalog, &stages, &dir.path().join("cache"), &out)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the second build waits while the lock is held"
    );
    assert!(!out.exists());
    drop(lock);
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stderr).contains("Another build holds the lock"));
    assert!(out.join("manifest.json").is_file());
}

#[test]
fn two_builds_started_at_once_both_finish_and_leave_one_whole_release() {
    let dir = tempdir();
    let (catalog, stages) = tiny(dir.path());
    let (cache, out) = (dir.path().join("cache"), dir.path().join("release"));
    let a = build_cmd(&catalog, &stages, &cache, &out).spawn().unwrap();
    let b = build_cmd(&catalog, &stages, &cache, &out).spawn().unwrap();
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let m: census_pipeline::release::Manifest =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for f in &m.files {
        assert_eq!(
            sha256_hex(&std::fs::read(out.join(&f.path)).unwrap()),
            f.sha256
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.ends_with(".old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_unwritable_output_location_fails_with_its_path_and_keeps_nothing() {
    let dir = tempdir();
    let (catalog, stages) = tiny(dir.path());
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, "a file where a directory should be").unwrap();
    let out = blocker.join("release");
    let o = build_cmd(&catalog, &stages, &dir.path().join("cache"), &out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not-a-directory"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&blocker).unwrap(),
        "a file where a directory should be"
    );
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_the_last_good_release() {
    let dir = tempdir();
    let (catalog, stages) = tiny(dir.path());
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    // A 32 KiB file system: room for the tiny release, not for a large one.
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=32k", "tmpfs"])
        .arg(&small)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CAP_SYS_ADMIN); the disk-full case was not exercised");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&small);
    let out = small.join("release");
    let cache = dir.path().join("cache");
    let first = build_cmd(&catalog, &stages, &cache, &out).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = std::fs::read(out.join("manifest.json")).unwrap();

    // A much larger table no longer fits.
    let mut big = String::from("Area code,Value\n");
    for i in 0..20000 {
        big.push_str(&format!("A{i:06},{}\n", i * 7919 % 100003));
    }
    std::fs::write(dir.path().join("data/t.csv"), big).unwrap();
    std::fs::write(
        &catalog,
        std::fs::read_to_string(&catalog)
            .unwrap()
            .replace("rows = 2", "rows = 20000"),
    )
    .unwrap();
    let second = build_cmd(&catalog, &stages, &cache, &out).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        before,
        "the last good release is untouched"
    );
    let names: Vec<String> = std::fs::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}
