//! Gzip for the API's files: encoding them once when written, and reading
//! them back (for `lookup` and the tests) whether stored encoded or plain.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// gzip's two magic bytes. No JSON text starts with them (0x1f is a control
/// character, never whitespace or a value's first byte).
const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True if `bytes` are gzip-encoded.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Gzip-encodes `bytes` with libdeflate at level 1. The header carries no
/// time or file name, so the same bytes always encode the same way
/// (releases built twice are byte-identical).
///
/// Measured on the shared release's 553 MB of area JSON, one thread:
/// libdeflate level 1 stores 144 MB in 1.6 s, level 2 142 MB in 2.4 s, level
/// 6 136 MB in 3.2 s; flate2 (zlib-rs) at level 2, used before, stored 148 MB
/// in 4.3 s. libdeflate compresses a whole buffer at once, which is what an
/// API file is.
///
/// The output buffer of a small input (an API file) is kept by the thread
/// and reused: a fresh, zeroed buffer for each of 62,000 files cost about
/// 1% of a build in page faults and zeroing. A large one (a table's CSV
/// copy, up to 71 MB) is not kept.
pub fn encode(bytes: &[u8]) -> Vec<u8> {
    const KEEP: usize = 1 << 20;
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<(libdeflater::Compressor, Vec<u8>)> =
            std::cell::RefCell::new((libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(1).expect("level 1 is one of libdeflate's levels"),
            ), Vec::new()));
    }
    COMPRESSOR.with_borrow_mut(|(c, kept)| {
        let bound = c.gzip_compress_bound(bytes.len());
        // Either buffer holds at least the bound libdeflate gives for this
        // input.
        const FITS: &str = "gzip into a buffer of the bound's size";
        if bound > KEEP {
            let mut out = vec![0; bound];
            let n = c.gzip_compress(bytes, &mut out).expect(FITS);
            out.truncate(n);
            return out;
        }
        if kept.len() < bound {
            kept.resize(bound, 0);
        }
        let n = c.gzip_compress(bytes, kept).expect(FITS);
        kept[..n].to_vec()
    })
}

/// `bytes` decoded if gzip-encoded, else as they are.
pub fn decode(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 5);
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    Ok(out)
}

/// Reads a file of the API, decoding it if it is stored gzip-encoded.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_json_is_recognised_and_decodes_to_itself() {
        let json = br#"{"code":"E01000001"}"#;
        let gz = encode(json);
        assert!(is_gzip(&gz) && !is_gzip(json));
        assert_eq!(decode(gz.clone(), Path::new("x")).unwrap(), json);
        assert_eq!(encode(json), gz, "the same bytes encode the same way");
        assert_eq!(decode(json.to_vec(), Path::new("x")).unwrap(), json);
    }

    #[test]
    fn inputs_of_any_size_decode_to_themselves_whatever_was_encoded_before() {
        // Large, then small (the kept buffer is longer than it needs),
        // empty, past the size a thread keeps, and small again.
        for n in [200_000, 10, 0, (1 << 20) + 1, 50] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7919 % 251) as u8).collect();
            let gz = encode(&bytes);
            let fresh = std::thread::spawn(move || encode(&bytes)).join().unwrap();
            assert_eq!(gz, fresh, "{n} bytes: as a thread's first encoding");
            let bytes = decode(gz, Path::new("x")).unwrap();
            assert_eq!(bytes.len(), n);
            assert!(bytes
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i * 7919 % 251) as u8));
        }
    }
}
