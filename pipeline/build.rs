//! Gives the engine an identity that changes whenever its source does.
//!
//! Stage outputs are cached under a key that includes the engine's identity,
//! so that a change to how a stage computes its output can never be masked
//! by a cached result from the old code. A version number bumped by hand is
//! easy to forget; a digest of the source is not.

use std::hash::{Hash, Hasher};
use std::path::Path;

fn main() {
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    // The page's files are built into the binary (`include_str!`), and the
    // dependencies' versions decide outputs as much as the source does.
    collect(Path::new("../site"), &mut files);
    files.push("../Cargo.lock".into());
    // The features the engine asks of its dependencies (polars' among
    // them) decide outputs too.
    files.push("Cargo.toml".into());
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &files {
        f.hash(&mut h);
        std::fs::read(f).expect("read source file").hash(&mut h);
    }
    // And the compiler (its float formatting, its standard library); a
    // new compiler reruns this script.
    compiler_version().hash(&mut h);
    println!("cargo:rustc-env=ENGINE_SOURCE_HASH={:016x}", h.finish());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../site");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-changed=Cargo.toml");
}

/// `rustc -vV` of the compiler building the engine, or nothing if it
/// cannot be asked.
fn compiler_version() -> Vec<u8> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default()
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| ["rs", "html", "js", "css"].contains(&x.to_str().unwrap_or_default()))
        {
            out.push(p);
        }
    }
}
