//! An object read as a stream: [`ObjectReader`] implements `Read` and `Seek` with ranged GETs
//! of a few MiB each, so that a map task reads only its split's bytes (and the rest of its last
//! line), and a reduce task only its partition of each run.

use super::{ObjectUrl, get_range};
use bytes::Bytes;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes fetched per request: large enough that a request's latency is small beside the
/// transfer, small enough that a reader's buffer is cheap.
const CHUNK: u64 = 8 << 20;

/// The first request past the planned end (the rest of a split's last line, a CSV header);
/// each further one doubles, up to [`CHUNK`].
const TAIL: u64 = 64 << 10;

/// A seekable reader of one object of known size.
#[derive(Debug)]
pub struct ObjectReader {
    url: ObjectUrl,
    len: u64,
    /// Where the reader expects to stop: requests end there, and past it are small.
    end: u64,
    /// The size of the next request past `end`.
    tail: u64,
    /// The position of the next byte `read` returns.
    pos: u64,
    /// Bytes fetched, starting at `buf_start`.
    buf: Bytes,
    buf_start: u64,
}

impl ObjectReader {
    /// A reader of the object at `url`, which is `len` bytes long (as planned), at byte 0,
    /// that expects to read up to about byte `end`.
    pub fn new(url: ObjectUrl, len: u64, end: u64) -> ObjectReader {
        ObjectReader {
            url,
            len,
            end,
            tail: TAIL,
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
            let want = if self.pos < self.end {
                (self.end - self.pos).clamp(TAIL, CHUNK)
            } else {
                let tail = self.tail;
                self.tail = (tail * 2).min(CHUNK);
                tail
            };
            let end = (self.pos + want).min(self.len);
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
    use crate::object::{put, testing, traffic};
    use proptest::prelude::*;

    /// A split's reader fetches the split and a little more, not whole chunks past it; a
    /// reader that expects nothing fetches small pieces.
    #[test]
    fn requests_stop_at_the_planned_end() {
        let root = testing::bucket();
        let url = root.join("obj");
        put(&url, Bytes::from(vec![b'x'; 20 << 20])).unwrap();
        let before = traffic();
        let mut reader = ObjectReader::new(url.clone(), 20 << 20, 3 << 20);
        reader.seek(SeekFrom::Start(1 << 20)).unwrap();
        let mut got = Vec::new();
        reader.take((2 << 20) + 10).read_to_end(&mut got).unwrap();
        assert_eq!(traffic().since(before).read, (2 << 20) + TAIL);
        let before = traffic();
        let mut reader = ObjectReader::new(url, 20 << 20, 0);
        reader.read_exact(&mut [0; 100]).unwrap();
        assert_eq!(traffic().since(before).read, TAIL);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any seek then read returns the bytes at that place, across chunk boundaries.
        #[test]
        fn reads_after_seeks_are_the_bytes_there(
            start in 0u64..(3 * CHUNK),
            want in 0usize..(2 << 20),
            end in 0u64..(3 * CHUNK),
        ) {
            let root = testing::bucket();
            let data: Vec<u8> = (0..(2 * CHUNK + 12_345)).map(|i| (i % 251) as u8).collect();
            let url = root.join("obj");
            put(&url, Bytes::from(data.clone())).unwrap();
            let mut reader = ObjectReader::new(url, data.len() as u64, end);
            reader.seek(SeekFrom::Start(start)).unwrap();
            let mut got = Vec::new();
            reader.by_ref().take(want as u64).read_to_end(&mut got).unwrap();
            let from = (start as usize).min(data.len());
            let to = (from + want).min(data.len());
            prop_assert_eq!(&got[..], &data[from..to]);
        }
    }
}
