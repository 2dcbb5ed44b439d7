//! The byte level of reading: a file, or a decompressed gzip stream, as raw lines found with
//! `memchr` in one large reused buffer. What a line means as a record (`\r`, byte order mark,
//! blank lines, CSV headers, batch limits) is left to the `read` module.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;

use super::{Compression, InputError, InputFile};

/// Bytes read from a file at a time. Large enough that the per-read cost vanishes, small
/// enough that one buffer per running map task is cheap.
pub(super) const BUFFER_SIZE: usize = 1 << 20;

/// How many bytes a raw line may hold beyond the record limit: a trailing `\r` and a UTF-8
/// byte order mark are not part of the record.
const RAW_SLACK: usize = 4;

/// A reader that counts the bytes it has handed on, to report progress through a compressed
/// file.
pub(super) struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A stream of a file's bytes: a local file, or an object read with ranged GETs.
pub(super) trait Bytes: Read + Send {}

impl<R: Read + Send> Bytes for R {}

/// The decompressed byte stream of one input file.
pub(super) enum Source {
    Plain(Box<dyn Bytes>),
    // `MultiGzDecoder`, not `GzDecoder`: concatenated gzip members (as written by `cat a.gz
    // b.gz` or by parallel compressors) are one stream, and `GzDecoder` stops after the first.
    // Boxed: the decoder's state is large, and a plain file needs none of it.
    Gzip(Box<MultiGzDecoder<Counting<Box<dyn Bytes>>>>),
    /// An empty `.gz` file, which the decoder would reject as a truncated header.
    Empty,
}

impl Source {
    /// Opens `file`, positioned at byte `start` (which must be 0 for gzip), to read up to
    /// about byte `end` (where the split ends: an object is fetched in pieces that stop
    /// there, then in small ones for the rest of the last line).
    pub(super) fn open(file: &InputFile, start: u64, end: u64) -> Result<Source, InputError> {
        let io_err = |source| InputError::Io {
            path: file.path.clone(),
            source,
        };
        let (bytes, len): (Box<dyn Bytes>, u64) = if crate::object::is_url(&file.path) {
            let url = crate::object::ObjectUrl::parse(&file.path).map_err(io_err)?;
            let end = match file.compression {
                Compression::None => end,
                Compression::Gzip => u64::MAX,
            };
            let mut reader = crate::object::ObjectReader::new(url, file.len, end);
            reader.seek(SeekFrom::Start(start)).map_err(io_err)?;
            (Box::new(reader), file.len)
        } else {
            let mut handle = File::open(&file.path).map_err(io_err)?;
            let len = handle.metadata().map_err(io_err)?.len();
            if start > 0 {
                handle
                    .seek(SeekFrom::Start(start))
                    .map_err(|source| InputError::Read {
                        path: file.path.clone(),
                        offset: start,
                        source,
                    })?;
            }
            (Box::new(handle), len)
        };
        match file.compression {
            Compression::None => Ok(Source::Plain(bytes)),
            Compression::Gzip => {
                debug_assert_eq!(start, 0, "gzip files are read whole");
                if len == 0 {
                    return Ok(Source::Empty);
                }
                Ok(Source::Gzip(Box::new(MultiGzDecoder::new(Counting {
                    inner: bytes,
                    count: 0,
                }))))
            }
        }
    }

    /// Compressed bytes taken from the file so far, for gzip.
    fn compressed_read(&self) -> Option<u64> {
        match self {
            Source::Gzip(decoder) => Some(decoder.get_ref().count),
            Source::Plain(_) | Source::Empty => None,
        }
    }

    /// Turns an error from `read` at decompressed offset `offset` into ours.
    pub(super) fn error(
        &self,
        path: &std::path::Path,
        offset: u64,
        source: io::Error,
    ) -> InputError {
        let path = path.to_owned();
        // The decoder reports bad or truncated data with these kinds; errors of the file
        // underneath pass through with their own kind.
        let bad_data = matches!(
            source.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        match self {
            Source::Gzip(_) if bad_data => InputError::Corrupt {
                path,
                offset,
                source,
            },
            _ => InputError::Read {
                path,
                offset,
                source,
            },
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(file) => file.read(buf),
            Source::Gzip(decoder) => decoder.read(buf),
            Source::Empty => Ok(0),
        }
    }
}

/// A line found by [`LineReader::peek`], not yet consumed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    /// Stream offset of the line's first byte.
    pub(super) offset: u64,
    /// Where the line's bytes are: `buf[start..end]`, or all of `carry`.
    start: usize,
    end: usize,
    in_carry: bool,
    /// `pos` and `offset` after the line and its `\n`.
    next_pos: usize,
    next_offset: u64,
}

/// Raw lines of one stream, without their `\n`. Lines are found in a buffer of fixed size and
/// handed out as slices of it; only a line longer than the buffer is assembled in `carry`, and
/// that is bounded by the record limit.
pub(super) struct LineReader {
    path: PathBuf,
    src: Source,
    /// Fixed length; `buf[pos..filled]` is read but not yet consumed.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// The source returned 0: nothing beyond `filled`.
    eof: bool,
    /// The start of a line that did not fit in `buf`; at most `max_raw + buf.len()` bytes.
    carry: Vec<u8>,
    /// Stream offset of the first unconsumed byte, which is always the start of a line.
    offset: u64,
    peeked: Option<Line>,
    /// Record limit, for the error.
    limit: usize,
    /// Longest raw line accepted while still looking for its end.
    max_raw: usize,
}

impl LineReader {
    /// Reads `file` from the first line that starts at or after `start` (Hadoop's rule: the
    /// line that crosses `start` belongs to the split before). `buf` is the read buffer, of
    /// any non-zero length, handed back by [`LineReader::into_buffer`]. `end` is where the
    /// split ends, for [`Source::open`].
    pub(super) fn open(
        file: &InputFile,
        start: u64,
        end: u64,
        buf: Vec<u8>,
        limit: usize,
    ) -> Result<LineReader, InputError> {
        assert!(!buf.is_empty(), "the read buffer must not be empty");
        // Start one byte early: if that byte is '\n', the line at `start` is ours; if not,
        // skipping to the next '\n' skips the tail of the previous split's last line.
        let seek_to = start.saturating_sub(1);
        let mut reader = LineReader {
            path: file.path.clone(),
            src: Source::open(file, seek_to, end)?,
            buf,
            pos: 0,
            filled: 0,
            eof: false,
            carry: Vec::new(),
            offset: seek_to,
            peeked: None,
            limit,
            max_raw: limit.saturating_add(RAW_SLACK),
        };
        if start > 0 {
            reader.skip_line()?;
        }
        Ok(reader)
    }

    /// The read buffer, for the next reader.
    pub(super) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Stream offset of the next line's first byte.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Compressed bytes read so far, for gzip.
    pub(super) fn compressed_read(&self) -> Option<u64> {
        self.src.compressed_read()
    }

    /// The error for a record at `offset` longer than the limit.
    pub(super) fn too_long(&self, offset: u64) -> InputError {
        InputError::RecordTooLong {
            path: self.path.clone(),
            offset,
            limit: self.limit,
        }
    }

    /// The next line, without consuming it: calling `peek` again returns the same line until
    /// [`LineReader::consume`]. `None` at the end of the stream. A last line without `\n` is
    /// still a line; the empty "line" after a final `\n` is not.
    ///
    /// # Errors
    ///
    /// Read errors, and [`InputError::RecordTooLong`] if the line is longer than the record
    /// limit plus [`RAW_SLACK`], found before the line is kept in memory whole.
    pub(super) fn peek(&mut self) -> Result<Option<Line>, InputError> {
        if let Some(line) = self.peeked {
            return Ok(Some(line));
        }
        loop {
            let avail = &self.buf[self.pos..self.filled];
            let newline = memchr::memchr(b'\n', avail);
            if newline.is_none() && !self.eof {
                if self.carry.len() + avail.len() > self.max_raw {
                    return Err(self.too_long(self.offset));
                }
                self.refill()?;
                continue;
            }
            let (line_end, next_pos) = match newline {
                Some(i) => (self.pos + i, self.pos + i + 1),
                None if avail.is_empty() && self.carry.is_empty() => return Ok(None),
                None => (self.filled, self.filled),
            };
            if (line_end - self.pos) + self.carry.len() > self.max_raw {
                return Err(self.too_long(self.offset));
            }
            let in_carry = !self.carry.is_empty();
            let len = if in_carry {
                self.carry.extend_from_slice(&self.buf[self.pos..line_end]);
                self.carry.len()
            } else {
                line_end - self.pos
            };
            let line = Line {
                offset: self.offset,
                start: self.pos,
                end: line_end,
                in_carry,
                next_pos,
                next_offset: self.offset + len as u64 + u64::from(newline.is_some()),
            };
            self.peeked = Some(line);
            return Ok(Some(line));
        }
    }

    /// The bytes of a line returned by the last [`LineReader::peek`], without `\n`.
    pub(super) fn bytes(&self, line: &Line) -> &[u8] {
        if line.in_carry {
            &self.carry
        } else {
            &self.buf[line.start..line.end]
        }
    }

    /// Moves past the line returned by the last [`LineReader::peek`].
    pub(super) fn consume(&mut self) {
        if let Some(line) = self.peeked.take() {
            self.pos = line.next_pos;
            self.offset = line.next_offset;
            if line.in_carry {
                self.carry.clear();
                // Don't keep a huge line's memory for the rest of the file.
                if self.carry.capacity() > 4 * self.buf.len() {
                    self.carry = Vec::new();
                }
            }
        }
    }

    /// Skips to just after the next `\n` (or to the end), without keeping the bytes, so an
    /// overlong line that is not ours costs no memory.
    fn skip_line(&mut self) -> Result<(), InputError> {
        debug_assert!(self.peeked.is_none() && self.carry.is_empty());
        loop {
            let avail = &self.buf[self.pos..self.filled];
            if let Some(i) = memchr::memchr(b'\n', avail) {
                self.pos += i + 1;
                self.offset += i as u64 + 1;
                return Ok(());
            }
            self.offset += avail.len() as u64;
            self.pos = self.filled;
            if self.eof {
                return Ok(());
            }
            self.refill()?;
        }
    }

    /// Reads more of the stream, keeping the unconsumed partial line `buf[pos..filled]`
    /// (moved to the front of `buf`, or into `carry` if it fills the whole buffer).
    fn refill(&mut self) -> Result<(), InputError> {
        if !self.carry.is_empty() || (self.pos == 0 && self.filled == self.buf.len()) {
            self.carry
                .extend_from_slice(&self.buf[self.pos..self.filled]);
            self.pos = 0;
            self.filled = 0;
        } else if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        loop {
            match self.src.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    let at = self.offset + (self.carry.len() + self.filled) as u64;
                    return Err(self.src.error(&self.path, at, err));
                }
            }
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::testutil::{gzip_bytes, input_file, write_file};

    /// All raw lines from `start`, with their offsets, read with a buffer of `buf_len`.
    fn lines(file: &InputFile, start: u64, buf_len: usize) -> Vec<(u64, Vec<u8>)> {
        let mut reader = LineReader::open(file, start, u64::MAX, vec![0; buf_len], 1000).unwrap();
        let mut out = Vec::new();
        while let Some(line) = reader.peek().unwrap() {
            // Peeking twice gives the same line.
            let again = reader.peek().unwrap().unwrap();
            assert_eq!(again.offset, line.offset);
            out.push((line.offset, reader.bytes(&line).to_vec()));
            reader.consume();
        }
        assert!(reader.peek().unwrap().is_none(), "stays at the end");
        out
    }

    #[test]
    fn raw_lines_from_any_start_with_any_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let contents = b"one\r\n\ntwo\nthree-is-longer\nx";
        let file = input_file(&write_file(&dir.path().join("f.txt"), contents));
        let all: Vec<(u64, Vec<u8>)> = [
            (0, &b"one\r"[..]),
            (5, b""),
            (6, b"two"),
            (10, b"three-is-longer"),
            (26, b"x"),
        ]
        .iter()
        .map(|&(o, l)| (o, l.to_vec()))
        .collect();
        for buf_len in [1, 2, 3, 5, 8, 64, BUFFER_SIZE] {
            for start in 0..=contents.len() as u64 + 1 {
                let want: Vec<_> = all.iter().filter(|(o, _)| *o >= start).cloned().collect();
                assert_eq!(
                    lines(&file, start, buf_len),
                    want,
                    "start {start}, buffer {buf_len}"
                );
            }
        }
    }

    #[test]
    fn overlong_lines_fail_without_unbounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut contents = b"short\n".to_vec();
        contents.extend(std::iter::repeat_n(b'z', 10_000));
        contents.extend(b"\nafter\n");
        let file = input_file(&write_file(&dir.path().join("f.bin"), &contents));
        for buf_len in [7, 64, BUFFER_SIZE] {
            let mut reader = LineReader::open(&file, 0, u64::MAX, vec![0; buf_len], 100).unwrap();
            assert!(reader.peek().unwrap().is_some());
            reader.consume();
            match reader.peek() {
                Err(InputError::RecordTooLong { offset, limit, .. }) => {
                    assert_eq!((offset, limit), (6, 100));
                }
                other => panic!("expected RecordTooLong, got {other:?}"),
            }
            assert!(reader.carry.capacity() <= 2 * (100 + RAW_SLACK + buf_len));
            // A split starting inside the long line skips it without keeping it.
            let mut reader = LineReader::open(&file, 50, u64::MAX, vec![0; buf_len], 100).unwrap();
            let line = reader.peek().unwrap().unwrap();
            assert_eq!((line.offset, reader.bytes(&line)), (10_007, &b"after"[..]));
            assert!(reader.carry.capacity() == 0);
        }
    }

    #[test]
    fn gzip_streams_decode_all_members() {
        let dir = tempfile::tempdir().unwrap();
        let mut two_members = gzip_bytes(b"a\nb");
        two_members.extend(gzip_bytes(b"c\nd\n"));
        let file = input_file(&write_file(&dir.path().join("f.gz"), &two_members));
        let got = lines(&file, 0, 2);
        let want: Vec<(u64, Vec<u8>)> =
            vec![(0, b"a".to_vec()), (2, b"bc".to_vec()), (5, b"d".to_vec())];
        assert_eq!(got, want);

        let empty = input_file(&write_file(&dir.path().join("empty.gz"), b""));
        assert!(lines(&empty, 0, 16).is_empty());
    }

    #[test]
    fn corrupt_gzip_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let mut truncated = gzip_bytes(&b"hello\n".repeat(1000));
        truncated.truncate(truncated.len() / 2);
        for (name, contents) in [
            ("plain.gz", &b"not gzip at all\n"[..]),
            ("cut.gz", &truncated),
        ] {
            let file = input_file(&write_file(&dir.path().join(name), contents));
            let mut reader = LineReader::open(&file, 0, u64::MAX, vec![0; 64], 1 << 20).unwrap();
            let err = loop {
                match reader.peek() {
                    Ok(Some(_)) => reader.consume(),
                    Ok(None) => panic!("{name}: expected an error"),
                    Err(err) => break err,
                }
            };
            assert!(matches!(err, InputError::Corrupt { .. }), "{name}: {err:?}");
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = InputFile {
            path: dir.path().join("gone.txt"),
            len: 10,
            compression: Compression::None,
            modified_ns: 0,
        };
        match LineReader::open(&file, 0, u64::MAX, vec![0; 8], 10) {
            Err(InputError::Io { path, .. }) => assert_eq!(path, file.path),
            Err(other) => panic!("expected Io, got {other:?}"),
            Ok(_) => panic!("expected Io, got a reader"),
        }
    }
}
