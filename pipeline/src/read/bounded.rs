//! Limits on what a reader will take from a file, so that a hostile or
//! broken file (a gzip bomb: 4 GB of zeros in 4 MB; a 10 MB line) fails
//! fast, with a clear error and little memory, instead of exhausting the
//! machine.
//!
//! Decompressed bytes are capped per source; line-based formats are read as
//! a stream, with the length of a line capped too, so a bomb of bytes with
//! no line break stops after one line. Formats that must be held whole
//! (GeoJSON) are capped at a multiple of their compressed size.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// What a reader takes at most from one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes after decompression.
    pub max_bytes: u64,
    /// Bytes of one line of a text file.
    pub max_line: usize,
    /// Characters of one field.
    pub max_field: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: crate::catalog::DEFAULT_MAX_SOURCE_BYTES,
            max_line: 1 << 20,
            max_field: 64 << 10,
        }
    }
}

impl Limits {
    /// The cap for a file held whole in memory after decompression: at most
    /// 50 times its compressed size (ordinary data compresses 3-15 times, a
    /// bomb a thousand), never under 64 MiB, never over `max_bytes`.
    pub fn whole(&self, compressed: usize) -> u64 {
        (compressed as u64)
            .saturating_mul(50)
            .max(64 << 20)
            .min(self.max_bytes)
    }
}

/// The limit a reader went past.
#[derive(Debug)]
pub enum Exceeded {
    Bytes(u64),
    Line(usize),
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Bytes(n) => write!(f, "more than {n} bytes after decompression"),
            Exceeded::Line(n) => write!(f, "a line longer than {n} bytes"),
        }
    }
}

impl std::error::Error for Exceeded {}

/// A reader that stops with an error past a byte cap, and past a line
/// length cap when one is set.
pub struct Bounded<R> {
    inner: R,
    read: u64,
    max_bytes: u64,
    line: usize,
    max_line: Option<usize>,
}

impl<R: Read> Bounded<R> {
    /// Caps bytes only (a file that is not line-based).
    pub fn bytes(inner: R, max_bytes: u64) -> Self {
        Bounded {
            inner,
            read: 0,
            max_bytes,
            line: 0,
            max_line: None,
        }
    }

    /// Caps bytes and line length (a text file).
    pub fn lines(inner: R, limits: &Limits) -> Self {
        Bounded {
            inner,
            read: 0,
            max_bytes: limits.max_bytes,
            line: 0,
            max_line: Some(limits.max_line),
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max_bytes {
            return Err(std::io::Error::other(Exceeded::Bytes(self.max_bytes)));
        }
        if let Some(max) = self.max_line {
            // Each stretch between line ends extends the current line (a
            // `\r` ends one too: files written with CR alone have no `\n`).
            let mut rest = &buf[..n];
            loop {
                let end = memchr::memchr2(b'\n', b'\r', rest);
                self.line += end.unwrap_or(rest.len());
                if self.line > max {
                    return Err(std::io::Error::other(Exceeded::Line(max)));
                }
                match end {
                    Some(at) => {
                        self.line = 0;
                        rest = &rest[at + 1..];
                    }
                    None => break,
                }
            }
        }
        Ok(n)
    }
}

/// Turns a read error into the library's: a limit becomes `TooLarge`.
pub fn read_error(e: std::io::Error, what: &str) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Exceeded>())
    {
        Some(x) => Error::new(ErrorKind::TooLarge {
            limit: x.to_string(),
        }),
        None => Error::unreadable(format!("{what}: {e}")),
    }
}

/// Reads a whole stream, within `max` bytes.
pub fn read_all(r: impl Read, max: u64, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    Bounded::bytes(r, max)
        .read_to_end(&mut out)
        .map_err(|e| read_error(e, what))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_stops_the_reader() {
        let limits = Limits {
            max_line: 10,
            ..Limits::default()
        };
        let mut out = Vec::new();
        let e = Bounded::lines(&b"short\n0123456789AB\n"[..], &limits)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(read_error(e, "x")
            .to_string()
            .contains("longer than 10 bytes"));
    }

    /// Hands out its bytes `n` at a time, as a decompressor may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_line_is_measured_across_reads_and_ends_at_its_newline() {
        let limits = Limits {
            max_line: 10,
            ..Limits::default()
        };
        let fits = b"0123456789\n\n0123456789\n0123456789";
        let over = b"0123456789\n01234567890\n";
        for chunk in [1, 3, 7, 11, 64] {
            let mut out = Vec::new();
            Bounded::lines(Trickle(fits, chunk), &limits)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, fits, "chunks of {chunk}");
            let e = Bounded::lines(Trickle(over, chunk), &limits)
                .read_to_end(&mut Vec::new())
                .unwrap_err();
            assert!(read_error(e, "x")
                .to_string()
                .contains("longer than 10 bytes"));
        }
    }

    #[test]
    fn too_many_bytes_stop_the_reader() {
        let e = read_all(&[0u8; 100][..], 50, "x").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
        assert_eq!(read_all(&[1u8; 50][..], 50, "x").unwrap().len(), 50);
    }
}
