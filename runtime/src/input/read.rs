//! Reading one input split as batches of records: which lines a split owns, what a line is as
//! a record in each [`InputFormat`], CSV headers, and batch limits. Finding the lines is left
//! to the `lines` module; what to do with a batch is left to the map task.
//!
//! A split `start..end` of a file owns every line whose first byte lies in `start..end`
//! (Hadoop's rule):
//!
//! ```text
//! file:    a a a \n b b b b b b \n c c \n d d d
//!                       |start          |end
//! split:   skips "bbb…" (it began before start), emits "cc", and "ddd" because it starts
//!          before `end`, even though it is read past `end`.
//! ```

use std::io::{self, Read};
use std::sync::Arc;

use super::lines::{BUFFER_SIZE, LineReader, Source};
use super::parquet::read::{ParquetCursor, RowGroupAt};
use super::{Compression, FileRange, InputError, InputFile, InputFormat, InputSplit};

/// The UTF-8 byte order mark, stripped from the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Buffer for finding a CSV header when a split starts mid-file: headers are short.
const HEADER_BUFFER_SIZE: usize = 64 << 10;

/// Limits on one batch of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchLimits {
    /// A batch ends before a record that would take its data past this many bytes, except that
    /// a batch always holds at least one record. Default 256 KiB, small enough that a batch and
    /// the pairs it becomes stay in a core's cache (1 MiB batches cost word count about 10%
    /// more CPU); at most `u32::MAX` is used.
    pub max_bytes: usize,
    /// A batch holds at most this many records. Default 16384; 0 is taken as 1.
    pub max_records: usize,
    /// A longer record fails the split with [`InputError::RecordTooLong`]. Default 64 MiB; at
    /// most `u32::MAX` is used.
    pub max_record_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_bytes: 256 << 10,
            max_records: 16384,
            max_record_bytes: 64 << 20,
        }
    }
}

impl BatchLimits {
    /// The limits as applied: byte limits capped so that [`RecordBatch::ends`] fit in `u32`.
    fn effective(self) -> BatchLimits {
        let cap = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
        BatchLimits {
            max_bytes: self.max_bytes.min(cap),
            max_records: self.max_records.max(1),
            max_record_bytes: self.max_record_bytes.min(cap),
        }
    }
}

/// A batch of records, all from one file, laid out flat: record `i` is
/// `data[ends[i-1]..ends[i]]` (with `ends[-1]` taken as 0).
///
/// `ends` and `offsets` always have one entry per record.
#[derive(Debug, Default)]
pub struct RecordBatch {
    /// Index of the records' file in the files slice.
    pub file: usize,
    /// The records' bytes, back to back, without line ends.
    pub data: Vec<u8>,
    /// Where each record ends in `data`; non-decreasing, the last equal to `data.len()`.
    pub ends: Vec<u32>,
    /// Byte offset in the file (in the decompressed stream for gzip) where each record's line
    /// starts; increasing. For the first line of a file that is 0, before any byte order mark.
    /// For Parquet: each record's row number in the file (from 0).
    pub offsets: Vec<u64>,
    /// CSV only: the file's header row, without its line end. Every batch from one file of a
    /// split shares the same allocation.
    pub header: Option<Arc<[u8]>>,
    /// Parquet only: the row group all the batch's records are from.
    pub row_group: Option<RowGroupAt>,
}

impl RecordBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Record `i`'s bytes.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn record(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The records' bytes, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.record(i))
    }

    /// Empties the batch, keeping its allocations for the next batch.
    pub fn clear(&mut self) {
        self.file = 0;
        self.data.clear();
        self.ends.clear();
        self.offsets.clear();
        self.header = None;
        self.row_group = None;
    }
}

/// Reads one split as batches of records.
///
/// Files are opened one at a time, in the split's order, and read through one buffer of
/// 1 MiB that is reused for every file. After an error, drop the reader: reading on is not
/// meaningful.
pub struct SplitReader {
    ranges: Vec<RangeToRead>,
    /// Index in `ranges` of the next range to open.
    next: usize,
    current: Option<Cursor>,
    /// Parquet only: the columns to read (`--columns`), all if `None`.
    columns: Option<Vec<String>>,
    /// The read buffer while no range is open.
    spare: Vec<u8>,
    buffer_size: usize,
    format: InputFormat,
    limits: BatchLimits,
    /// Bytes of the ranges already finished.
    done_bytes: u64,
}

impl std::fmt::Debug for SplitReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitReader")
            .field("ranges", &self.ranges)
            .field("next", &self.next)
            .field("format", &self.format)
            .field("limits", &self.limits)
            .field("bytes_read", &self.bytes_read())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct RangeToRead {
    index: usize,
    file: InputFile,
    start: u64,
    end: u64,
}

/// The range being read: lines, or Parquet row groups.
enum Cursor {
    Lines(RangeCursor),
    Parquet(ParquetCursor),
}

impl Cursor {
    fn progress(&self) -> u64 {
        match self {
            Cursor::Lines(c) => c.progress(),
            Cursor::Parquet(c) => c.progress(),
        }
    }
}

/// The range of lines being read.
struct RangeCursor {
    /// Index of the file in the files slice.
    file: usize,
    lines: LineReader,
    /// Lines starting at or after this offset belong to the next split (`u64::MAX` for gzip,
    /// whose range is in compressed bytes).
    owned_end: u64,
    start: u64,
    end: u64,
    header: Header,
}

/// What is known about a file's CSV header.
enum Header {
    /// The format has no header, or the file has no non-blank line.
    None,
    /// The range starts at the start of the file: its first non-blank line is the header.
    Next,
    /// The header is the line at `offset`.
    At { offset: u64, row: Arc<[u8]> },
}

impl SplitReader {
    /// Prepares to read `split`, whose ranges index into `files`, and opens its first file.
    ///
    /// # Errors
    ///
    /// If the first file cannot be opened or read up to its first owned line.
    ///
    /// # Panics
    ///
    /// If a range's file index is out of bounds for `files` (the split was planned for other
    /// files).
    pub fn open(
        split: &InputSplit,
        files: &[InputFile],
        format: InputFormat,
        limits: BatchLimits,
    ) -> Result<SplitReader, InputError> {
        SplitReader::with_buffer_size(split, files, format, limits, BUFFER_SIZE, None)
    }

    /// [`SplitReader::open`] for a Parquet input read only for `columns` (all if `None`).
    ///
    /// # Errors
    /// As [`SplitReader::open`]; also a column that a file lacks.
    ///
    /// # Panics
    /// As [`SplitReader::open`].
    pub fn open_columns(
        split: &InputSplit,
        files: &[InputFile],
        format: InputFormat,
        limits: BatchLimits,
        columns: Option<&[String]>,
    ) -> Result<SplitReader, InputError> {
        SplitReader::with_buffer_size(split, files, format, limits, BUFFER_SIZE, columns)
    }

    /// [`SplitReader::open`] with a read buffer of `buffer_size` bytes; tests use tiny ones.
    fn with_buffer_size(
        split: &InputSplit,
        files: &[InputFile],
        format: InputFormat,
        limits: BatchLimits,
        buffer_size: usize,
        columns: Option<&[String]>,
    ) -> Result<SplitReader, InputError> {
        let ranges = split
            .ranges
            .iter()
            .map(|&FileRange { file, start, end }| {
                let Some(input) = files.get(file) else {
                    panic!(
                        "{} reads file {file} but only {} files were given",
                        split.id,
                        files.len()
                    );
                };
                RangeToRead {
                    index: file,
                    file: input.clone(),
                    start,
                    end,
                }
            })
            .collect();
        let mut reader = SplitReader {
            ranges,
            next: 0,
            current: None,
            columns: columns.map(<[String]>::to_vec),
            spare: Vec::new(),
            buffer_size: buffer_size.max(1),
            format,
            limits: limits.effective(),
            done_bytes: 0,
        };
        reader.open_next()?;
        Ok(reader)
    }

    /// Fills `batch` (clearing it first) with the next records of the split; returns `false`
    /// when the split is done, leaving the batch empty.
    ///
    /// # Errors
    ///
    /// I/O errors and corrupt gzip data, naming the file and offset, and
    /// [`InputError::RecordTooLong`].
    pub fn next_batch(&mut self, batch: &mut RecordBatch) -> Result<bool, InputError> {
        batch.clear();
        loop {
            let Some(cursor) = self.current.as_mut() else {
                if self.open_next()? {
                    continue;
                }
                return Ok(false);
            };
            let range_done = match cursor {
                Cursor::Lines(c) => c.fill(batch, self.format, &self.limits)?,
                Cursor::Parquet(c) => c.fill(batch, &self.limits)?,
            };
            if range_done && let Some(cursor) = self.current.take() {
                // A file truncated or rewritten while it was read.
                let range = &self.ranges[self.next - 1];
                range.file.check_unchanged()?;
                self.done_bytes += range.end - range.start;
                if let Cursor::Lines(cursor) = cursor {
                    self.spare = cursor.lines.into_buffer();
                }
            }
            // A range that is not done stopped because the batch is full, so not empty.
            if !batch.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Input bytes consumed so far (compressed bytes for gzip), for progress and the summary.
    /// It only grows, never exceeds the split's [`InputSplit::len`], and equals it once the
    /// split is done, so the sum over all splits is the job's input size.
    pub fn bytes_read(&self) -> u64 {
        self.done_bytes + self.current.as_ref().map_or(0, Cursor::progress)
    }

    /// Opens the next range that can hold records; `false` if there is none.
    fn open_next(&mut self) -> Result<bool, InputError> {
        while let Some(range) = self.ranges.get(self.next) {
            self.next += 1;
            if range.start >= range.end {
                // No line can start in an empty range (and an empty file has none).
                continue;
            }
            // A file changed since the job was planned: its splits no longer fit it.
            range.file.check_unchanged()?;
            if self.format == InputFormat::Parquet {
                let cursor = ParquetCursor::open(
                    range.index,
                    &range.file,
                    range.start,
                    range.end,
                    self.columns.as_deref(),
                )?;
                self.current = Some(Cursor::Parquet(cursor));
                return Ok(true);
            }
            let buf = match std::mem::take(&mut self.spare) {
                buf if buf.is_empty() => vec![0; self.buffer_size],
                buf => buf,
            };
            let limit = self.limits.max_record_bytes;
            // A gzip stream can only be read from its start; `plan_splits` never cuts one.
            let (read_from, owned_end) = match range.file.compression {
                Compression::None => (range.start, range.end),
                Compression::Gzip => (0, u64::MAX),
            };
            let lines = LineReader::open(&range.file, read_from, owned_end, buf, limit)?;
            let header = match self.format {
                InputFormat::Csv if read_from == 0 => Header::Next,
                InputFormat::Csv => find_header(&range.file, limit)?,
                InputFormat::Lines | InputFormat::JsonLines | InputFormat::Parquet => Header::None,
            };
            self.current = Some(Cursor::Lines(RangeCursor {
                file: range.index,
                lines,
                owned_end,
                start: range.start,
                end: range.end,
                header,
            }));
            return Ok(true);
        }
        Ok(false)
    }
}

impl RangeCursor {
    /// Adds records to `batch` until it is full (`Ok(false)`) or the range is done
    /// (`Ok(true)`).
    fn fill(
        &mut self,
        batch: &mut RecordBatch,
        format: InputFormat,
        limits: &BatchLimits,
    ) -> Result<bool, InputError> {
        loop {
            if batch.len() >= limits.max_records {
                return Ok(false);
            }
            // Checked before peeking, so a line that is not ours is never read.
            if self.lines.offset() >= self.owned_end {
                return Ok(true);
            }
            let Some(line) = self.lines.peek()? else {
                return Ok(true);
            };
            let record = to_record(self.lines.bytes(&line), line.offset);
            if record.len() > limits.max_record_bytes {
                return Err(self.lines.too_long(line.offset));
            }
            if format.skips_blank_lines() && record.iter().all(u8::is_ascii_whitespace) {
                self.lines.consume();
                continue;
            }
            match &self.header {
                Header::Next => {
                    let row = Arc::from(record);
                    self.header = Header::At {
                        offset: line.offset,
                        row,
                    };
                    self.lines.consume();
                    continue;
                }
                Header::At { offset, .. } if *offset == line.offset => {
                    self.lines.consume();
                    continue;
                }
                Header::At { .. } | Header::None => {}
            }
            if batch.is_empty() {
                batch.file = self.file;
                batch.header = match &self.header {
                    Header::At { row, .. } => Some(Arc::clone(row)),
                    Header::None | Header::Next => None,
                };
            } else if batch.data.len() + record.len() > limits.max_bytes {
                return Ok(false);
            }
            batch.data.extend_from_slice(record);
            // Fits: the batch holds at most `max_bytes`, or one record of at most
            // `max_record_bytes`, and both limits are capped at `u32::MAX`.
            let end = u32::try_from(batch.data.len()).expect("batch data is capped at u32::MAX");
            batch.ends.push(end);
            batch.offsets.push(line.offset);
            self.lines.consume();
        }
    }

    /// Bytes of the range consumed so far.
    fn progress(&self) -> u64 {
        let len = self.end - self.start;
        match self.lines.compressed_read() {
            Some(compressed) => compressed.min(len),
            None => self.lines.offset().min(self.end).saturating_sub(self.start),
        }
    }
}

/// A raw line as a record: without a byte order mark at the start of the file and without one
/// trailing `\r`.
fn to_record(line: &[u8], offset: u64) -> &[u8] {
    let line = if offset == 0 {
        line.strip_prefix(BOM).unwrap_or(line)
    } else {
        line
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads `file` from its start to find its CSV header: its first non-blank line.
fn find_header(file: &InputFile, limit: usize) -> Result<Header, InputError> {
    let mut lines = LineReader::open(file, 0, 0, vec![0; HEADER_BUFFER_SIZE], limit)?;
    while let Some(line) = lines.peek()? {
        let record = to_record(lines.bytes(&line), line.offset);
        if record.len() > limit {
            return Err(lines.too_long(line.offset));
        }
        if !record.iter().all(u8::is_ascii_whitespace) {
            return Ok(Header::At {
                offset: line.offset,
                row: Arc::from(record),
            });
        }
        lines.consume();
    }
    Ok(Header::None)
}

/// The 1-based line number of the record that starts at byte `offset` of `file`: one more than
/// the number of `\n` before it, decompressing gzip. Reads the file from its start; to number
/// several records of a file, use one [`LineNumbers`].
///
/// # Errors
///
/// If the file cannot be opened or read.
pub fn line_number(file: &InputFile, offset: u64) -> Result<u64, InputError> {
    LineNumbers::default().line(file, offset)
}

/// Numbers the lines of records, reading each file once for offsets that come in increasing
/// order (as a map task meets its bad records): it counts on from the last offset asked
/// about, and starts over only for an earlier offset or another file. Only the error path
/// uses it, so records are numbered only when one is reported.
#[derive(Default)]
pub struct LineNumbers {
    at: Option<Counted>,
}

impl std::fmt::Debug for LineNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineNumbers")
            .field(
                "at",
                &self.at.as_ref().map(|c| (&c.path, c.pos, c.newlines)),
            )
            .finish()
    }
}

/// How far one file has been counted.
struct Counted {
    path: std::path::PathBuf,
    src: Source,
    /// Bytes read from `src` (decompressed, for gzip).
    pos: u64,
    /// `\n`s in the first `pos` bytes.
    newlines: u64,
    /// Bytes read past `pos` and not yet counted: `buf[..ahead]`.
    buf: Vec<u8>,
    ahead: usize,
}

impl LineNumbers {
    /// The 1-based line number of the record at byte `offset` of `file`.
    ///
    /// # Errors
    ///
    /// If the file cannot be opened or read.
    pub fn line(&mut self, file: &InputFile, offset: u64) -> Result<u64, InputError> {
        let reusable = self
            .at
            .as_ref()
            .is_some_and(|c| c.path == file.path && c.pos <= offset);
        if !reusable {
            self.at = Some(Counted {
                path: file.path.clone(),
                src: Source::open(file, 0, offset)?,
                pos: 0,
                newlines: 0,
                buf: vec![0; HEADER_BUFFER_SIZE],
                ahead: 0,
            });
        }
        let c = self.at.as_mut().expect("set above");
        while c.pos < offset {
            if c.ahead == 0 {
                c.ahead = loop {
                    match c.src.read(&mut c.buf) {
                        Ok(n) => break n,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        Err(err) => {
                            let err = c.src.error(&file.path, c.pos, err);
                            self.at = None;
                            return Err(err);
                        }
                    }
                };
                if c.ahead == 0 {
                    break; // the file ended before `offset`
                }
            }
            let take = usize::try_from(offset - c.pos).map_or(c.ahead, |left| left.min(c.ahead));
            c.newlines += memchr::memchr_iter(b'\n', &c.buf[..take]).count() as u64;
            c.buf.copy_within(take..c.ahead, 0);
            c.ahead -= take;
            c.pos += take as u64;
        }
        Ok(c.newlines + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::testutil::{gzip_bytes, input_file, write_file};
    use crate::input::{SplitId, plan_splits};
    use proptest::prelude::*;

    const FORMATS: [InputFormat; 3] =
        [InputFormat::Lines, InputFormat::JsonLines, InputFormat::Csv];

    /// One record as read: (file, offset, bytes).
    type Rec = (usize, u64, Vec<u8>);

    /// Records of one file as (offset, bytes).
    type OffsetRecords = Vec<(u64, Vec<u8>)>;

    /// Each batch's (file, header).
    type Batches = Vec<(usize, Option<Vec<u8>>)>;

    /// Reads `split` to the end, checking each batch's invariants on the way. Returns the
    /// records and each batch's (file, header).
    fn read_split(
        split: &InputSplit,
        files: &[InputFile],
        format: InputFormat,
        limits: BatchLimits,
        buffer_size: usize,
    ) -> Result<(Vec<Rec>, Batches), InputError> {
        let mut reader =
            SplitReader::with_buffer_size(split, files, format, limits, buffer_size, None)?;
        let mut batch = RecordBatch::default();
        let mut records = Vec::new();
        let mut batches = Vec::new();
        let mut progress = reader.bytes_read();
        while reader.next_batch(&mut batch)? {
            assert!(!batch.is_empty());
            assert!(batch.len() <= limits.max_records.max(1));
            assert!(batch.len() == 1 || batch.data.len() <= limits.max_bytes);
            assert_eq!(batch.offsets.len(), batch.len());
            assert_eq!(*batch.ends.last().unwrap() as usize, batch.data.len());
            assert_eq!(batch.records().len(), batch.len());
            for (i, record) in batch.records().enumerate() {
                records.push((batch.file, batch.offsets[i], record.to_vec()));
            }
            batches.push((batch.file, batch.header.as_deref().map(<[u8]>::to_vec)));
            let now = reader.bytes_read();
            assert!(now >= progress && now <= split.len(), "{progress} -> {now}");
            progress = now;
        }
        assert!(batch.is_empty());
        assert_eq!(
            reader.bytes_read(),
            split.len(),
            "all of the split was consumed"
        );
        assert!(!reader.next_batch(&mut batch)?, "stays done");
        Ok((records, batches))
    }

    /// Reads all of `files` split by `split_size`, in order.
    fn read_all(
        files: &[InputFile],
        split_size: u64,
        format: InputFormat,
        limits: BatchLimits,
        buffer_size: usize,
    ) -> (Vec<Rec>, Batches) {
        let mut records = Vec::new();
        let mut batches = Vec::new();
        for split in plan_splits(files, split_size) {
            let (r, b) = read_split(&split, files, format, limits, buffer_size).unwrap();
            records.extend(r);
            batches.extend(b);
        }
        (records, batches)
    }

    /// The obvious reader: the whole stream split at '\n'. Returns the header and records.
    fn reference(contents: &[u8], format: InputFormat) -> (Option<Vec<u8>>, OffsetRecords) {
        let mut pieces: Vec<&[u8]> = contents.split(|&b| b == b'\n').collect();
        if contents.is_empty() || contents.ends_with(b"\n") {
            pieces.pop();
        }
        let mut header = None;
        let mut records = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            let line_offset = offset;
            offset += piece.len() as u64 + 1;
            let mut record = piece;
            if line_offset == 0 {
                record = record.strip_prefix(BOM).unwrap_or(record);
            }
            record = record.strip_suffix(b"\r").unwrap_or(record);
            let blank = record.iter().all(|b| b" \t\r\n\x0c".contains(b));
            if format != InputFormat::Lines && blank {
                continue;
            }
            if format == InputFormat::Csv && header.is_none() {
                header = Some(record.to_vec());
                continue;
            }
            records.push((line_offset, record.to_vec()));
        }
        (header, records)
    }

    fn whole(file: usize, len: u64) -> InputSplit {
        InputSplit {
            id: SplitId(0),
            ranges: vec![FileRange {
                file,
                start: 0,
                end: len,
            }],
        }
    }

    fn strs(records: &[Rec]) -> Vec<String> {
        records
            .iter()
            .map(|(_, _, r)| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    #[test]
    fn records_per_format_for_every_split_size() {
        use InputFormat::{Csv, JsonLines, Lines};
        // (contents, format, records as (offset, text), header)
        type Case = (
            &'static str,
            InputFormat,
            &'static [(u64, &'static str)],
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            ("a\nb\n", Lines, &[(0, "a"), (2, "b")], None),
            ("a\r\nb\r\n", Lines, &[(0, "a"), (3, "b")], None),
            ("a\nb", Lines, &[(0, "a"), (2, "b")], None),
            ("a\r\nb\r", Lines, &[(0, "a"), (3, "b")], None),
            ("", Lines, &[], None),
            ("", JsonLines, &[], None),
            ("", Csv, &[], None),
            ("\n", Lines, &[(0, "")], None),
            ("\u{feff}a\nb\n", Lines, &[(0, "a"), (5, "b")], None),
            // Only a BOM at the very start is stripped.
            ("a\n\u{feff}b", Lines, &[(0, "a"), (2, "\u{feff}b")], None),
            ("\u{feff}\r\n", Lines, &[(0, "")], None),
            ("\u{feff}\r\n", JsonLines, &[], None),
            // One '\r' is stripped, not all.
            ("a\r\r\n", Lines, &[(0, "a\r")], None),
            (
                "\n\n  \n\t\r\nx\n",
                Lines,
                &[(0, ""), (1, ""), (2, "  "), (5, "\t"), (8, "x")],
                None,
            ),
            ("\n\n  \n\t\r\nx\n", JsonLines, &[(8, "x")], None),
            ("\n\n  \n\t\r\nx\n", Csv, &[], Some("x")),
            (
                "{\"a\":1}\n\n {\"a\":2}\r\n",
                JsonLines,
                &[(0, "{\"a\":1}"), (9, " {\"a\":2}")],
                None,
            ),
            (
                "h1,h2\n1,2\n\n3,4\n",
                Csv,
                &[(6, "1,2"), (11, "3,4")],
                Some("h1,h2"),
            ),
            ("h1,h2\r\n1,2\r\n", Csv, &[(7, "1,2")], Some("h1,h2")),
            ("\u{feff}id\n7\n", Csv, &[(6, "7")], Some("id")),
            // Blank lines before the header are skipped; the header is the first real line.
            ("\n  \nh\n1\n", Csv, &[(6, "1")], Some("h")),
            ("h\n", Csv, &[], Some("h")),
            ("h", Csv, &[], Some("h")),
            // The header is only the first line: the same text later is a record.
            ("h\nh\n", Csv, &[(2, "h")], Some("h")),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (n, &(contents, format, want, header)) in cases.iter().enumerate() {
            let file = input_file(&write_file(
                &dir.path().join(format!("{n}.txt")),
                contents.as_bytes(),
            ));
            let want: Vec<Rec> = want
                .iter()
                .map(|&(o, r)| (0, o, r.as_bytes().to_vec()))
                .collect();
            let header = header.map(|h| h.as_bytes().to_vec());
            // The table agrees with the reference reader.
            let (ref_header, ref_records) = reference(contents.as_bytes(), format);
            assert_eq!(ref_header, header, "reference for {contents:?}");
            let ref_records: Vec<Rec> = ref_records.into_iter().map(|(o, r)| (0, o, r)).collect();
            assert_eq!(ref_records, want, "reference for {contents:?}");
            // Every split size, every buffer size, one record per batch or many.
            let files = std::slice::from_ref(&file);
            for split_size in 1..=contents.len() as u64 + 1 {
                for buffer_size in [1, 2, 3, 7, BUFFER_SIZE] {
                    for max_records in [1, 1000] {
                        let limits = BatchLimits {
                            max_records,
                            ..BatchLimits::default()
                        };
                        let (records, batches) =
                            read_all(files, split_size, format, limits, buffer_size);
                        let context = format!(
                            "{contents:?} as {format:?}, split size {split_size}, \
                             buffer {buffer_size}"
                        );
                        assert_eq!(records, want, "{context}");
                        for (_, batch_header) in batches {
                            assert_eq!(batch_header, header, "{context}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn csv_header_reaches_every_split_and_batch_and_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let contents = b"id,name\n1,a\n2,b\n3,c\n";
        let file = input_file(&write_file(&dir.path().join("t.csv"), contents));
        let files = std::slice::from_ref(&file);
        // Splits starting at 8, exactly the first byte of the second line, and at every other
        // byte.
        for start in 0..contents.len() as u64 {
            let split = InputSplit {
                id: SplitId(1),
                ranges: vec![FileRange {
                    file: 0,
                    start,
                    end: contents.len() as u64,
                }],
            };
            let limits = BatchLimits {
                max_records: 1,
                ..BatchLimits::default()
            };
            let mut reader = SplitReader::open(&split, files, InputFormat::Csv, limits).unwrap();
            let mut batch = RecordBatch::default();
            let mut first_header: Option<Arc<[u8]>> = None;
            let mut records = Vec::new();
            while reader.next_batch(&mut batch).unwrap() {
                let header = batch
                    .header
                    .clone()
                    .expect("every CSV batch has the header");
                assert_eq!(&*header, b"id,name");
                if let Some(first) = &first_header {
                    assert!(Arc::ptr_eq(first, &header), "one allocation per file");
                }
                first_header = Some(header);
                records.push(batch.record(0).to_vec());
            }
            let want: &[&[u8]] = match start {
                0..=8 => &[b"1,a", b"2,b", b"3,c"],
                9..=12 => &[b"2,b", b"3,c"],
                13..=16 => &[b"3,c"],
                _ => &[],
            };
            assert_eq!(records, want, "split from byte {start}");
        }
    }

    #[test]
    fn gzip_files_are_read_whole_including_every_member() {
        let dir = tempfile::tempdir().unwrap();
        let mut two_members = gzip_bytes(b"\xEF\xBB\xBFh\n1\r\n");
        two_members.extend(gzip_bytes(b"\n2\n3"));
        let files = vec![
            input_file(&write_file(&dir.path().join("two.csv.gz"), &two_members)),
            input_file(&write_file(
                &dir.path().join("one.gz"),
                &gzip_bytes(b"x\ny\n"),
            )),
            input_file(&write_file(&dir.path().join("empty.gz"), b"")),
        ];
        let splits = plan_splits(&files, 1);
        assert_eq!(
            splits.len(),
            3,
            "one split per gzip file, whatever the split size"
        );
        for (i, (split, file)) in splits.iter().zip(&files).enumerate() {
            assert_eq!(
                split.ranges,
                [FileRange {
                    file: i,
                    start: 0,
                    end: file.len
                }]
            );
        }

        let limits = BatchLimits::default();
        let (records, batches) =
            read_split(&splits[0], &files, InputFormat::Csv, limits, 3).unwrap();
        let want: Vec<Rec> = vec![
            (0, 5, b"1".to_vec()),
            (0, 9, b"2".to_vec()),
            (0, 11, b"3".to_vec()),
        ];
        assert_eq!(records, want);
        assert_eq!(batches, [(0, Some(b"h".to_vec()))]);

        let (records, _) =
            read_split(&splits[1], &files, InputFormat::Lines, limits, 1 << 20).unwrap();
        assert_eq!(strs(&records), ["x", "y"]);
        let (records, batches) =
            read_split(&splits[2], &files, InputFormat::Lines, limits, 8).unwrap();
        assert!(records.is_empty() && batches.is_empty());
    }

    #[test]
    fn small_files_are_read_in_order_one_file_per_batch() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<InputFile> = [
            ("a.txt", "a1\na2\n"),
            ("b.txt", ""),
            ("c.txt", "c1"),
            ("d.txt", "\n"),
        ]
        .iter()
        .map(|(name, contents)| {
            input_file(&write_file(&dir.path().join(name), contents.as_bytes()))
        })
        .collect();
        let splits = plan_splits(&files, 1000);
        assert_eq!(splits.len(), 1);
        let (records, batches) = read_split(
            &splits[0],
            &files,
            InputFormat::Lines,
            BatchLimits::default(),
            1 << 20,
        )
        .unwrap();
        let want: Vec<Rec> = vec![
            (0, 0, b"a1".to_vec()),
            (0, 3, b"a2".to_vec()),
            (2, 0, b"c1".to_vec()),
            (3, 0, b"".to_vec()),
        ];
        assert_eq!(records, want);
        assert_eq!(batches, [(0, None), (2, None), (3, None)]);

        // Only the empty file: nothing, and no error.
        let split = whole(1, 0);
        let (records, batches) =
            read_split(&split, &files, InputFormat::Csv, BatchLimits::default(), 8).unwrap();
        assert!(records.is_empty() && batches.is_empty());
    }

    #[test]
    fn batch_limits() {
        let dir = tempfile::tempdir().unwrap();
        let contents = b"aa\nbb\nc\ndddddd\r\ne\n";
        let file = input_file(&write_file(&dir.path().join("f.txt"), contents));
        let files = std::slice::from_ref(&file);
        // (max_bytes, max_records, expected batches)
        let cases: &[(usize, usize, &[&[&str]])] = &[
            (1 << 20, 16384, &[&["aa", "bb", "c", "dddddd", "e"]]),
            (1 << 20, 2, &[&["aa", "bb"], &["c", "dddddd"], &["e"]]),
            (1 << 20, 0, &[&["aa"], &["bb"], &["c"], &["dddddd"], &["e"]]),
            // Exactly max_bytes fits; a record alone may exceed it.
            (5, 16384, &[&["aa", "bb", "c"], &["dddddd"], &["e"]]),
            (4, 16384, &[&["aa", "bb"], &["c"], &["dddddd"], &["e"]]),
            (0, 16384, &[&["aa"], &["bb"], &["c"], &["dddddd"], &["e"]]),
            (7, 2, &[&["aa", "bb"], &["c", "dddddd"], &["e"]]),
        ];
        for &(max_bytes, max_records, want) in cases {
            // The record limit is exactly the longest record, which fits ('\r' is not counted).
            let limits = BatchLimits {
                max_bytes,
                max_records,
                max_record_bytes: 6,
            };
            for buffer_size in [2, 1 << 20] {
                let mut reader = SplitReader::with_buffer_size(
                    &whole(0, file.len),
                    files,
                    InputFormat::Lines,
                    limits,
                    buffer_size,
                    None,
                )
                .unwrap();
                let mut batch = RecordBatch::default();
                let mut got: Vec<Vec<String>> = Vec::new();
                while reader.next_batch(&mut batch).unwrap() {
                    got.push(
                        batch
                            .records()
                            .map(|r| String::from_utf8_lossy(r).into_owned())
                            .collect(),
                    );
                }
                assert_eq!(
                    got, want,
                    "max_bytes {max_bytes}, max_records {max_records}"
                );
            }
        }
    }

    #[test]
    fn record_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let contents = b"ok\nthis line is too long\nok\n";
        let file = input_file(&write_file(&dir.path().join("f.bin"), contents));
        let files = std::slice::from_ref(&file);
        let limits = BatchLimits {
            max_record_bytes: 10,
            max_records: 1,
            ..BatchLimits::default()
        };
        for buffer_size in [1, 4, 1 << 20] {
            for format in FORMATS {
                let result = read_split(&whole(0, file.len), files, format, limits, buffer_size);
                let err = result.expect_err("the long line fails the split");
                let InputError::RecordTooLong {
                    path,
                    offset,
                    limit,
                } = &err
                else {
                    panic!("expected RecordTooLong, got {err:?}");
                };
                assert_eq!((path, *offset, *limit), (&file.path, 3, 10));
                assert!(err.to_string().contains("f.bin"));
                assert!(!err.is_retryable());
            }
        }
        // The overlong line belongs to a split it does not start in: that split is fine.
        let split = InputSplit {
            id: SplitId(1),
            ranges: vec![FileRange {
                file: 0,
                start: 5,
                end: file.len,
            }],
        };
        let (records, _) = read_split(&split, files, InputFormat::Lines, limits, 4).unwrap();
        assert_eq!(strs(&records), ["ok"]);
        // A CSV header that is too long fails every split of its file.
        let csv = input_file(&write_file(
            &dir.path().join("h.csv"),
            b"a-very-long-header\n1\n2\n",
        ));
        let split = InputSplit {
            id: SplitId(1),
            ranges: vec![FileRange {
                file: 0,
                start: 20,
                end: csv.len,
            }],
        };
        let result = read_split(
            &split,
            std::slice::from_ref(&csv),
            InputFormat::Csv,
            limits,
            4,
        );
        assert!(
            matches!(result, Err(InputError::RecordTooLong { offset: 0, .. })),
            "{result:?}"
        );
    }

    #[test]
    fn limits_are_capped_to_fit_u32_ends() {
        let limits = BatchLimits {
            max_bytes: usize::MAX,
            max_records: 0,
            max_record_bytes: usize::MAX,
        };
        let effective = limits.effective();
        assert_eq!(effective.max_records, 1);
        assert!(u32::try_from(effective.max_bytes).is_ok());
        assert!(u32::try_from(effective.max_record_bytes).is_ok());
        assert_eq!(BatchLimits::default().effective(), BatchLimits::default());
        let default = BatchLimits::default();
        assert_eq!(
            (
                default.max_bytes,
                default.max_records,
                default.max_record_bytes
            ),
            (256 << 10, 16384, 64 << 20)
        );
    }

    #[test]
    fn missing_file_fails_at_open_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.txt");
        let files = [InputFile {
            path: path.clone(),
            len: 10,
            compression: Compression::None,
            modified_ns: 0,
        }];
        match SplitReader::open(
            &whole(0, 10),
            &files,
            InputFormat::Lines,
            BatchLimits::default(),
        ) {
            Err(err @ InputError::Io { .. }) => {
                assert!(err.to_string().contains("gone.txt"), "{err}");
                assert!(err.is_retryable());
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn record_batch_accessors() {
        let mut batch = RecordBatch {
            file: 3,
            data: b"abcdef".to_vec(),
            ends: vec![2, 2, 6],
            offsets: vec![0, 3, 4],
            header: Some(Arc::from(&b"h"[..])),
            row_group: None,
        };
        assert_eq!(batch.len(), 3);
        assert!(!batch.is_empty());
        assert_eq!(batch.record(0), b"ab");
        assert_eq!(batch.record(1), b"");
        assert_eq!(batch.record(2), b"cdef");
        assert_eq!(
            batch.records().collect::<Vec<_>>(),
            [&b"ab"[..], b"", b"cdef"]
        );
        let capacity = batch.data.capacity();
        batch.clear();
        assert!(batch.is_empty() && batch.data.is_empty() && batch.offsets.is_empty());
        assert_eq!((batch.file, batch.header.is_none()), (0, true));
        assert_eq!(batch.data.capacity(), capacity, "allocations are kept");
    }

    #[test]
    fn line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let contents = b"a\nbb\n\nccc";
        let plain = input_file(&write_file(&dir.path().join("f.txt"), contents));
        let mut two_members = gzip_bytes(b"a\nb");
        two_members.extend(gzip_bytes(b"b\n\nccc"));
        let gz = input_file(&write_file(&dir.path().join("f.txt.gz"), &two_members));
        // (offset, line number); past the end counts every '\n'.
        let cases = [(0, 1), (1, 1), (2, 2), (5, 3), (6, 4), (9, 4), (100, 4)];
        for file in [&plain, &gz] {
            for (offset, want) in cases {
                assert_eq!(
                    line_number(file, offset).unwrap(),
                    want,
                    "{:?} at {offset}",
                    file.path
                );
            }
        }
        // Offsets from a batch map back to lines.
        let (records, _) = read_split(
            &whole(0, plain.len),
            std::slice::from_ref(&plain),
            InputFormat::JsonLines,
            BatchLimits::default(),
            4,
        )
        .unwrap();
        let numbers: Vec<u64> = records
            .iter()
            .map(|(_, o, _)| line_number(&plain, *o).unwrap())
            .collect();
        assert_eq!(numbers, [1, 2, 4]);

        let missing = InputFile {
            path: dir.path().join("gone"),
            len: 0,
            compression: Compression::None,
            modified_ns: 0,
        };
        assert!(matches!(
            line_number(&missing, 3),
            Err(InputError::Io { .. })
        ));
    }

    proptest! {
        /// One `LineNumbers` asked about offsets in any order agrees with counting the `\n`s
        /// before each offset, for plain and gzip files, and across two files.
        #[test]
        fn line_numbers_counted_on_agree_with_counting_from_the_start(
            contents in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..3000),
            offsets in proptest::collection::vec((0usize..2, 0u64..3100), 1..20),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let plain = input_file(&write_file(&dir.path().join("f.txt"), &contents));
            let gz = input_file(&write_file(&dir.path().join("f.txt.gz"), &gzip_bytes(&contents)));
            let mut numbers = LineNumbers::default();
            for (which, offset) in offsets {
                let file = [&plain, &gz][which];
                let end = (offset as usize).min(contents.len());
                let want = contents[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                prop_assert_eq!(numbers.line(file, offset).unwrap(), want);
            }
        }
    }

    #[test]
    fn a_file_changed_after_planning_fails_its_split_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(&dir.path().join("f.txt"), b"one\ntwo\nthree\n");
        let file = input_file(&path);
        let read = |file: &InputFile| {
            read_split(
                &whole(0, file.len),
                std::slice::from_ref(file),
                InputFormat::Lines,
                BatchLimits::default(),
                4,
            )
        };
        assert_eq!(read(&file).unwrap().0.len(), 3);
        // Truncated: the size differs.
        std::fs::write(&path, b"one\ntwo\n").unwrap();
        match read(&file) {
            Err(err @ InputError::Changed { .. }) => {
                let shown = err.to_string();
                assert!(
                    shown.contains("f.txt") && shown.contains("14 bytes, now 8"),
                    "{shown}"
                );
                assert!(!err.is_retryable());
            }
            other => panic!("expected Changed, got {other:?}"),
        }
        // Same size, rewritten later: the modification time differs.
        std::fs::write(&path, b"ONE\nTWO\nTHREE\n").unwrap();
        let rewritten = std::fs::File::options().write(true).open(&path).unwrap();
        rewritten
            .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(7))
            .unwrap();
        assert!(matches!(read(&file), Err(InputError::Changed { .. })));
    }

    #[test]
    fn progress_counts_compressed_bytes_for_gzip() {
        let dir = tempfile::tempdir().unwrap();
        // Pseudo-random lines, so the compressed file is much larger than the decoder's reads.
        let mut x: u64 = 1;
        let text: Vec<u8> = (0..20_000)
            .flat_map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{x:016x}\n").into_bytes()
            })
            .collect();
        let gz = input_file(&write_file(&dir.path().join("big.gz"), &gzip_bytes(&text)));
        let files = std::slice::from_ref(&gz);
        let limits = BatchLimits {
            max_records: 1000,
            ..BatchLimits::default()
        };
        let mut reader = SplitReader::with_buffer_size(
            &whole(0, gz.len),
            files,
            InputFormat::Lines,
            limits,
            4096,
            None,
        )
        .unwrap();
        let mut batch = RecordBatch::default();
        let mut seen = Vec::new();
        let mut count = 0;
        while reader.next_batch(&mut batch).unwrap() {
            count += batch.len();
            seen.push(reader.bytes_read());
        }
        assert_eq!(count, 20_000);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert!(seen[0] < gz.len, "progress is partial part-way through");
        assert_eq!(reader.bytes_read(), gz.len);
    }

    /// One generated input file.
    #[derive(Debug, Clone)]
    struct GenFile {
        contents: Vec<u8>,
        gzip: bool,
    }

    fn gen_file() -> impl Strategy<Value = GenFile> {
        let token = prop::sample::select(vec![
            &b"a"[..],
            b"bc",
            b"{}",
            b" ",
            b"\t",
            b"\r",
            b"\n",
            b"\n",
            b"\r\n",
            b"\xEF\xBB\xBF",
        ]);
        (
            any::<bool>(),
            prop::collection::vec(token, 0..40),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(bom, tokens, gzip)| {
                let mut contents = if bom { BOM.to_vec() } else { Vec::new() };
                contents.extend(tokens.concat());
                GenFile { contents, gzip }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

        /// Reading every split equals reading each file whole with the obvious reader: no
        /// record lost, none duplicated, each with its file's header, for any split size,
        /// buffer size and batch limits.
        #[test]
        fn splits_together_read_each_file_once(
            gen_files in prop::collection::vec(gen_file(), 1..4),
            split_size in 1u64..48,
            buffer_size in 1usize..20,
            format in prop::sample::select(FORMATS.to_vec()),
            max_records in 1usize..6,
            max_bytes in 0usize..12,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let files: Vec<InputFile> = gen_files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let (name, bytes) = if f.gzip {
                        (format!("{i}.gz"), gzip_bytes(&f.contents))
                    } else {
                        (format!("{i}.txt"), f.contents.clone())
                    };
                    input_file(&write_file(&dir.path().join(name), &bytes))
                })
                .collect();
            let limits = BatchLimits { max_bytes, max_records, max_record_bytes: 1 << 20 };
            let (records, batches) = read_all(&files, split_size, format, limits, buffer_size);

            let mut want = Vec::new();
            for (i, f) in gen_files.iter().enumerate() {
                let (header, file_records) = reference(&f.contents, format);
                want.extend(file_records.into_iter().map(|(o, r)| (i, o, r)));
                for (file, batch_header) in &batches {
                    if *file == i {
                        prop_assert_eq!(batch_header, &header);
                    }
                }
            }
            prop_assert_eq!(records, want);
        }
    }
}
