//! An object read as a stream: [`ObjectReader`] implements `Read` and `Seek` with ranged GETs
//! of a few MiB each, so that a map task reads only its split's bytes (and the rest of its last
//! line), and a reduce task only its partition of each run.

use super::{ObjectUrl, get_range};
use bytes::Bytes;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes fetched per request: large enough that a request's latency is small beside the
/// transfer, small enough that a reader's buffer is cheap.
const CHUNK: u64 = 8 << 20;

/// A seekable reader of one object of known size.
#[derive(Debug)]
pub struct ObjectReader {
    url: ObjectUrl,
    len: u64,
    /// The position of the next byte `read` returns.
    pos: u64,
    /// Bytes fetched, starting at `buf_start`.
    buf: Bytes,
    buf_start: u64,
}

impl ObjectReader {
    /// A reader of the object at `url`, which is `len` bytes long (as planned), at byte 0.
    pub fn new(url: ObjectUrl, len: u64) -> ObjectReader {
        ObjectReader {
            url,
            len,
            pos: 0,
            buf: Bytes::new(),
            buf_start: 0,
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            let end = (self.pos + CHUNK).min(self.len);
            self.buf = get_range(&self.url, self.pos..end)?;
            self.buf_start = self.pos;
            if self.buf.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: the object ends before byte {}", self.url, self.len),
                ));
            }
        }
        let at = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - at);
        out[..n].copy_from_slice(&self.buf[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of an object",
            )
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{put, testing};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any seek then read returns the bytes at that place, across chunk boundaries.
        #[test]
        fn reads_after_seeks_are_the_bytes_there(start in 0u64..(3 * CHUNK), want in 0usize..(2 << 20)) {
            let root = testing::bucket();
            let data: Vec<u8> = (0..(2 * CHUNK + 12_345)).map(|i| (i % 251) as u8).collect();
            let url = root.join("obj");
            put(&url, Bytes::from(data.clone())).unwrap();
            let mut reader = ObjectReader::new(url, data.len() as u64);
            reader.seek(SeekFrom::Start(start)).unwrap();
            let mut got = Vec::new();
            reader.by_ref().take(want as u64).read_to_end(&mut got).unwrap();
            let from = (start as usize).min(data.len());
            let to = (from + want).min(data.len());
            prop_assert_eq!(&got[..], &data[from..to]);
        }
    }
}
