//! One Parquet part file (`part-00003.parquet`) of a reduce task attempt, written through the
//! Arrow writer: the task's records, checked and turned into columns by `columnar`, in record
//! order, in row groups of a bounded size. Which records go to which file, and how many files
//! are open at once, is left to `parts`.
//!
//! Memory stays bounded: a row group is written out once its encoded columns pass
//! `row_group_bytes`, and when `parts` closes the file to make room for another (a plugin that
//! routes records to many output partitions), what it holds is written as a row group and its
//! handle closed; the next write reopens the file to append. What stays in memory is the
//! footer's metadata, a few hundred bytes per row group.
//!
//! The bytes are a function of the records alone: no timestamp, and a fixed `created_by`.

use crate::columnar::{OutputSchema, RowEncoder};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The part files' `created_by`: Sandmill's version and the writer's, never a time.
const CREATED_BY: &str = concat!(
    "sandmill version ",
    env!("CARGO_PKG_VERSION"),
    " (parquet-rs 60)"
);

/// A file written in order that can give up its handle between writes: the next write opens it
/// again to append.
struct ReopenedFile {
    path: PathBuf,
    file: Option<File>,
}

impl ReopenedFile {
    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().append(true).open(&self.path)?);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }
}

impl Write for ReopenedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// One Parquet part file being written.
pub(crate) struct ParquetPart {
    writer: ArrowWriter<ReopenedFile>,
    encoder: RowEncoder,
}

fn parquet_io(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other),
        },
        other => io::Error::other(other),
    }
}

impl ParquetPart {
    /// Creates the file at `path` for records of `schema`, whose row groups are written out
    /// once their encoded columns pass about `row_group_bytes`.
    ///
    /// # Errors
    /// If the file cannot be created or written.
    pub(crate) fn create(
        path: &Path,
        schema: &OutputSchema,
        row_group_bytes: usize,
    ) -> io::Result<ParquetPart> {
        let file = ReopenedFile {
            path: path.to_path_buf(),
            file: Some(File::create(path)?),
        };
        let props = WriterProperties::builder()
            .set_created_by(CREATED_BY.to_owned())
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_bytes(Some(row_group_bytes.max(1)))
            .build();
        let writer = ArrowWriter::try_new(file, schema.arrow(), Some(props)).map_err(parquet_io)?;
        Ok(ParquetPart {
            writer,
            encoder: RowEncoder::new(schema),
        })
    }

    /// Appends `records`, each a JSON object that fits the schema (checked before: see
    /// `RowEncoder::check`); returns how many.
    ///
    /// # Errors
    /// A failed write, or a record that does not fit after all (a bug in its caller).
    pub(crate) fn write<'r>(&mut self, records: impl Iterator<Item = &'r [u8]>) -> io::Result<u64> {
        let mut written = 0;
        for record in records {
            self.encoder.push(record).map_err(|e| {
                io::Error::other(format!(
                    "an output record that was checked against --output-schema does not fit \
                     it ({e}); this is a bug in Sandmill, please report it"
                ))
            })?;
            written += 1;
        }
        if written > 0 {
            let batch = self.encoder.finish();
            self.writer.write(&batch).map_err(parquet_io)?;
        }
        Ok(written)
    }

    /// Writes what is buffered as a row group and closes the file's handle (the next write
    /// reopens it).
    ///
    /// # Errors
    /// A failed write.
    pub(crate) fn close_handle(&mut self) -> io::Result<()> {
        self.writer.flush().map_err(parquet_io)?;
        self.writer.sync()?;
        self.writer.inner_mut().file = None;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the file, open, for syncing.
    ///
    /// # Errors
    /// A failed write.
    pub(crate) fn finish(self) -> io::Result<File> {
        let mut inner = self.writer.into_inner().map_err(parquet_io)?;
        inner.flush()?;
        inner.file()?;
        Ok(inner.file.take().expect("opened above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn read_back(path: &Path) -> (Vec<(i64, Option<String>)>, usize) {
        let file = File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let groups = builder.metadata().num_row_groups();
        let mut rows = Vec::new();
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            let a = batch.column(0).as_primitive::<Int64Type>();
            let b = batch.column(1).as_string::<i32>();
            for i in 0..batch.num_rows() {
                let b = (!arrow_array::Array::is_null(b, i)).then(|| b.value(i).to_owned());
                rows.push((a.value(i), b));
            }
        }
        (rows, groups)
    }

    #[test]
    fn records_are_written_in_order_across_row_groups_and_reopened_handles() {
        let dir = tempfile::tempdir().unwrap();
        let schema = OutputSchema::parse("a:int64,b:string?").unwrap();
        let write = |path: &Path, close_every: Option<usize>| {
            let mut part = ParquetPart::create(path, &schema, 2048).unwrap();
            let mut expected = Vec::new();
            for chunk in 0..50 {
                let records: Vec<String> = (0..40)
                    .map(|i| {
                        let n = chunk * 40 + i;
                        expected.push((n as i64, (n % 3 != 0).then(|| format!("v{n}"))));
                        if n % 3 == 0 {
                            format!(r#"{{"a":{n}}}"#)
                        } else {
                            format!(r#"{{"a":{n},"b":"v{n}"}}"#)
                        }
                    })
                    .collect();
                let n = part.write(records.iter().map(|r| r.as_bytes())).unwrap();
                assert_eq!(n, 40);
                if close_every.is_some_and(|k| chunk % k == 0) {
                    part.close_handle().unwrap();
                }
            }
            part.finish().unwrap().sync_all().unwrap();
            expected
        };
        let plain = dir.path().join("plain.parquet");
        let expected = write(&plain, None);
        let (rows, groups) = read_back(&plain);
        assert_eq!(rows, expected);
        assert!(groups > 1, "2000 rows in row groups of about 2 KiB");
        let reopened = dir.path().join("reopened.parquet");
        let again = write(&reopened, Some(7));
        assert_eq!(read_back(&reopened).0, again);
        // The same records write the same bytes.
        let twice = dir.path().join("twice.parquet");
        write(&twice, None);
        assert_eq!(
            std::fs::read(&plain).unwrap(),
            std::fs::read(&twice).unwrap()
        );
        let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&plain).unwrap())
            .unwrap()
            .metadata()
            .clone();
        assert_eq!(meta.file_metadata().created_by(), Some(CREATED_BY));
    }

    #[test]
    fn an_empty_part_is_a_parquet_file_with_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-00000.parquet");
        let schema = OutputSchema::parse("user_id:int64,count:int64").unwrap();
        ParquetPart::create(&path, &schema, 1 << 20)
            .unwrap()
            .finish()
            .unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(builder.schema().fields().len(), 2);
        assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
    }
}
