//! Gzip for the API's files: encoding them once when written, and reading
//! them back (for `lookup` and the tests) whether stored encoded or plain.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// gzip's two magic bytes. No JSON text starts with them (0x1f is a control
/// character, never whitespace or a value's first byte).
const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// True if `bytes` are gzip-encoded.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Gzip-encodes `bytes` at level 2. The header carries no time or file
/// name, so the same bytes always encode the same way (releases built twice
/// are byte-identical).
///
/// Level 2, measured on the shared release's 564 MB of API JSON: level 1
/// stores 191 MB, level 2 152 MB, level 4 143 MB, level 6 140 MB; encoding
/// at level 6 took 1.6 s more of the API's wall time than at level 1.
pub fn encode(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::new(2),
    );
    // Writing into a Vec cannot fail.
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
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
