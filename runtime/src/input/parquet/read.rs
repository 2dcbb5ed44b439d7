//! Reading the row groups a split owns as JSON records: [`ParquetCursor`] fills a
//! [`RecordBatch`] with one JSON object per row, of the projected columns. A batch never mixes
//! row groups, so it can say which row group its records are from ([`RowGroupAt`]).

use super::source::ParquetSource;
use super::{Footer, layout, owned_row_groups, parquet_error, projection, read_footer};
use crate::input::{BatchLimits, InputError, InputFile, RecordBatch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;

/// Rows decoded from a row group at a time: a few hundred KiB of columns.
const DECODE_ROWS: usize = 4096;

/// The row group of a batch of Parquet records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowGroupAt {
    /// The row group's index in its file.
    pub index: u32,
    /// The number (from 0) in the file of its first row: a record's row in the row group is its
    /// offset ([`RecordBatch::offsets`], the row's number in the file) less this.
    pub first_row: u64,
}

/// The row group being read.
struct Group {
    /// Its index in the file.
    index: usize,
    /// The file's number of its first row.
    first_row: u64,
    reader: ParquetRecordBatchReader,
    /// Decoded rows not yet all taken, and the next to take.
    rows: Option<(arrow_array::RecordBatch, usize)>,
    /// Rows of the row group taken so far: the next row's number in it.
    taken: u64,
}

/// Reads the row groups that start in one byte range of one Parquet file.
pub struct ParquetCursor {
    /// Index of the file in the files slice.
    file_index: usize,
    file: InputFile,
    source: ParquetSource,
    metadata: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// The row groups to read, in order, with the start of each; the next is `owned[next]`.
    owned: Vec<(usize, u64)>,
    next: usize,
    group: Option<Group>,
    /// The file's number of the first row of each row group.
    first_rows: Vec<u64>,
    start: u64,
    end: u64,
    done: bool,
}

impl std::fmt::Debug for ParquetCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetCursor")
            .field("file", &self.file.path)
            .field("owned", &self.owned)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl ParquetCursor {
    /// Opens `file` (index `file_index` in the files slice) to read the row groups that start in
    /// `start..end`, projected to `columns` (all if `None`).
    ///
    /// # Errors
    /// The file cannot be opened, is not Parquet, or lacks a column.
    pub fn open(
        file_index: usize,
        file: &InputFile,
        start: u64,
        end: u64,
        columns: Option<&[String]>,
    ) -> Result<ParquetCursor, InputError> {
        let Footer { source, metadata } = read_footer(file)?;
        let mask = projection(file, &metadata, columns)?;
        let spans = layout(file, &metadata).row_groups;
        let owned = owned_row_groups(&spans, start, end)
            .into_iter()
            .map(|g| (g, spans[g].start))
            .collect();
        let mut first_rows = Vec::with_capacity(spans.len());
        let mut rows = 0u64;
        for g in metadata.metadata().row_groups() {
            first_rows.push(rows);
            rows += u64::try_from(g.num_rows()).unwrap_or(0);
        }
        Ok(ParquetCursor {
            file_index,
            file: file.clone(),
            source,
            metadata,
            mask,
            owned,
            next: 0,
            group: None,
            first_rows,
            start,
            end,
            done: false,
        })
    }

    fn error(&self, group: usize, source: ParquetError) -> InputError {
        parquet_error(&self.file, format!("row group {group}"), source)
    }

    /// Starts reading the next owned row group; `false` if there is none.
    fn open_group(&mut self) -> Result<bool, InputError> {
        let Some(&(index, _)) = self.owned.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let source = self.source.try_clone().map_err(|source| InputError::Io {
            path: self.file.path.clone(),
            source,
        })?;
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(source, self.metadata.clone())
                .with_row_groups(vec![index])
                .with_projection(self.mask.clone())
                .with_batch_size(DECODE_ROWS)
                .build()
                .map_err(|e| self.error(index, e))?;
        self.group = Some(Group {
            index,
            first_row: self.first_rows[index],
            reader,
            rows: None,
            taken: 0,
        });
        Ok(true)
    }

    /// Adds records to `batch` until it is full (`Ok(false)`: also when the next record is of
    /// another row group than the batch's) or the range is done (`Ok(true)`).
    ///
    /// # Errors
    /// Corrupt data, a failed read, or a row whose JSON is longer than
    /// [`BatchLimits::max_record_bytes`].
    pub fn fill(
        &mut self,
        batch: &mut RecordBatch,
        limits: &BatchLimits,
    ) -> Result<bool, InputError> {
        loop {
            if batch.len() >= limits.max_records {
                return Ok(false);
            }
            let Some(group) = self.group.as_mut() else {
                if !batch.is_empty() {
                    // The next record would be of another row group.
                    return Ok(false);
                }
                if self.open_group()? {
                    continue;
                }
                self.done = true;
                return Ok(true);
            };
            let (rows, next) = match &mut group.rows {
                Some((rows, next)) if *next < rows.num_rows() => (rows, next),
                _ => match group.reader.next() {
                    Some(Ok(rows)) => {
                        group.rows = Some((rows, 0));
                        continue;
                    }
                    Some(Err(e)) => {
                        let index = group.index;
                        return Err(self.error(index, e.into()));
                    }
                    None => {
                        self.group = None;
                        continue;
                    }
                },
            };
            let row_in_group = group.taken;
            let at = batch.data.len();
            if let Err(message) = crate::columnar::write_row(rows, *next, &mut batch.data) {
                batch.data.truncate(at);
                let index = group.index;
                return Err(self.error(
                    index,
                    ParquetError::General(format!("row {row_in_group}: {message}")),
                ));
            }
            let len = batch.data.len() - at;
            if len > limits.max_record_bytes {
                batch.data.truncate(at);
                let index = group.index;
                return Err(self.error(
                    index,
                    ParquetError::General(format!(
                        "row {row_in_group} is {len} bytes as JSON, longer than the limit of \
                         {} bytes (--max-record-size); leave out its largest columns with \
                         --columns, or raise the limit",
                        limits.max_record_bytes
                    )),
                ));
            }
            if !batch.is_empty() && batch.data.len() > limits.max_bytes {
                // Taken by the next batch.
                batch.data.truncate(at);
                return Ok(false);
            }
            if batch.is_empty() {
                batch.file = self.file_index;
                batch.row_group = Some(RowGroupAt {
                    index: u32::try_from(group.index).unwrap_or(u32::MAX),
                    first_row: group.first_row,
                });
            }
            // Fits: as for line records, both byte limits are capped at `u32::MAX`.
            let end = u32::try_from(batch.data.len()).expect("batch data is capped at u32::MAX");
            batch.ends.push(end);
            batch.offsets.push(group.first_row + row_in_group);
            *next += 1;
            group.taken += 1;
        }
    }

    /// Bytes of the range consumed so far: up to the start of the row group being read.
    pub fn progress(&self) -> u64 {
        let len = self.end - self.start;
        if self.done {
            return len;
        }
        let at = match self.next.checked_sub(1).and_then(|i| self.owned.get(i)) {
            Some(&(_, start)) => start,
            None => self.start,
        };
        at.saturating_sub(self.start).min(len)
    }
}

#[cfg(test)]
mod tests {
    use crate::input::testutil::input_file;
    use crate::input::{
        BatchLimits, InputError, InputFile, InputFormat, RecordBatch, SplitReader,
        plan_parquet_splits,
    };
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{ArrayRef, Int64Array, RecordBatch as ArrowBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use std::path::Path;
    use std::sync::Arc;

    /// Rows `a` = i, `b` = "s{i}" (null every third row), `c` = [i, i+1], in row groups of
    /// `group_rows`.
    fn write_parquet(path: &Path, rows: i64, group_rows: usize) -> InputFile {
        let a = Int64Array::from_iter_values(0..rows);
        let b = StringArray::from_iter((0..rows).map(|i| (i % 3 != 0).then(|| format!("s{i}"))));
        let mut c = ListBuilder::new(Int32Builder::new());
        for i in 0..rows {
            c.append_value([Some(i as i32), Some(i as i32 + 1)]);
        }
        let batch = ArrowBatch::try_from_iter([
            ("a", Arc::new(a) as ArrayRef),
            ("b", Arc::new(b) as ArrayRef),
            ("c", Arc::new(c.finish()) as ArrayRef),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .build();
        let file = std::fs::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        input_file(path)
    }

    /// Every record of `files` read split by split: (row group, row in it, row in file, JSON).
    fn read_all(
        files: &[InputFile],
        split_size: u64,
        columns: Option<&[String]>,
        limits: BatchLimits,
    ) -> (usize, Vec<(u32, u64, u64, String)>) {
        let splits = plan_parquet_splits(files, split_size, columns).unwrap();
        let mut records = Vec::new();
        for split in &splits {
            let mut reader =
                SplitReader::open_columns(split, files, InputFormat::Parquet, limits, columns)
                    .unwrap();
            let mut batch = RecordBatch::default();
            let mut progress = 0;
            while reader.next_batch(&mut batch).unwrap() {
                assert!(batch.len() <= limits.max_records);
                let group = batch
                    .row_group
                    .expect("a Parquet batch names its row group");
                for (i, record) in batch.records().enumerate() {
                    let row = batch.offsets[i];
                    records.push((
                        group.index,
                        row - group.first_row,
                        row,
                        String::from_utf8(record.to_vec()).unwrap(),
                    ));
                }
                assert!(reader.bytes_read() >= progress);
                progress = reader.bytes_read();
            }
            assert_eq!(reader.bytes_read(), split.len());
        }
        (splits.len(), records)
    }

    #[test]
    fn rows_are_read_once_as_json_in_row_groups_and_splits() {
        let dir = tempfile::tempdir().unwrap();
        let files = [write_parquet(&dir.path().join("t.parquet"), 23, 5)];
        let expected: Vec<(u32, u64, u64, String)> = (0..23u64)
            .map(|i| {
                let b = if i % 3 == 0 {
                    "null".to_string()
                } else {
                    format!("\"s{i}\"")
                };
                (
                    (i / 5) as u32,
                    i % 5,
                    i,
                    format!(r#"{{"a":{i},"b":{b},"c":[{i},{}]}}"#, i + 1),
                )
            })
            .collect();
        let small = BatchLimits {
            max_records: 3,
            ..BatchLimits::default()
        };
        for (split_size, limits) in [
            (1 << 30, BatchLimits::default()),
            (1, BatchLimits::default()),
            (1, small),
            (400, small),
        ] {
            let (splits, records) = read_all(&files, split_size, None, limits);
            assert_eq!(records, expected, "split size {split_size}");
            if split_size == 1 {
                assert_eq!(splits, 5, "one split per row group");
            }
        }
        // Projected: only `b` and `a`, in the file's order.
        let columns = ["b".to_string(), "a".to_string()];
        let (_, records) = read_all(&files, 1, Some(&columns), BatchLimits::default());
        assert_eq!(records[1].3, r#"{"a":1,"b":"s1"}"#);
        assert_eq!(records[3].3, r#"{"a":3,"b":null}"#);
        assert_eq!(records.len(), 23);
    }

    #[test]
    fn a_missing_column_or_a_file_that_is_not_parquet_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = [write_parquet(&dir.path().join("t.parquet"), 3, 5)];
        let err = plan_parquet_splits(&files, 1, Some(&["a".into(), "zz".into()])).unwrap_err();
        assert!(
            matches!(&err, InputError::NoColumn { column, .. } if column == "zz"),
            "{err}"
        );
        assert!(
            err.to_string().contains("its columns are: a, b, c"),
            "{err}"
        );

        let path = dir.path().join("x.parquet");
        std::fs::write(&path, b"not parquet at all").unwrap();
        let err = plan_parquet_splits(&[input_file(&path)], 1, None).unwrap_err();
        assert!(matches!(err, InputError::Parquet { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("x.parquet cannot be read as Parquet (its footer)"),
            "{err}"
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_row_longer_than_the_record_limit_fails_naming_its_row_group_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let files = [write_parquet(&dir.path().join("t.parquet"), 12, 5)];
        let splits = plan_parquet_splits(&files, 1 << 30, None).unwrap();
        let limits = BatchLimits {
            // `{"a":10,"b":"s10","c":[10,11]}` is the first row longer than 29 bytes.
            max_record_bytes: 29,
            ..BatchLimits::default()
        };
        let mut reader =
            SplitReader::open_columns(&splits[0], &files, InputFormat::Parquet, limits, None)
                .unwrap();
        let mut batch = RecordBatch::default();
        let err = loop {
            match reader.next_batch(&mut batch) {
                Ok(true) => continue,
                Ok(false) => panic!("no row was too long"),
                Err(err) => break err,
            }
        };
        let message = format!("{err} {}", std::error::Error::source(&err).unwrap());
        assert!(message.contains("(row group 2)"), "{message}");
        assert!(message.contains("row 0 is 30 bytes as JSON"), "{message}");
        assert!(message.contains("--max-record-size"), "{message}");
    }
}
