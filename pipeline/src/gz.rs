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
pub fn encode(bytes: &[u8]) -> Vec<u8> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<libdeflater::Compressor> =
            std::cell::RefCell::new(libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(1).expect("level 1 is one of libdeflate's levels"),
            ));
    }
    COMPRESSOR.with_borrow_mut(|c| {
        let mut out = vec![0; c.gzip_compress_bound(bytes.len())];
        // The buffer is the bound libdeflate gives for this input.
        let n = c
            .gzip_compress(bytes, &mut out)
            .expect("gzip into a buffer of the bound's size");
        out.truncate(n);
        out
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
}
