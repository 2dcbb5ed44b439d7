//! Parquet input (`--format parquet`): row groups become splits ([`split`]), the columns a job
//! names are projected (`--columns`), and each row reaches the plugin as one JSON object, with
//! the plugin's input format `jsonl` ([`read`], which uses `columnar::decode`). A record is
//! located by its file, row group and row, as a line-based one is by its file and line.
//!
//! ```text
//! footer ─► ParquetLayout (row group offsets, sizes) ─► plan_row_group_splits ─► InputSplit
//! InputSplit byte range ─► the row groups starting in it ─► ParquetCursor ─► {"user_id":7,…}
//! ```

pub mod read;
pub(crate) mod source;
pub mod split;

pub use split::{ParquetLayout, RowGroupSpan, owned_row_groups, plan_row_group_splits};

use crate::input::{Compression, InputError, InputFile, InputSplit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::errors::ParquetError;
use source::ParquetSource;

/// A Parquet file's footer, read and decoded.
pub(crate) struct Footer {
    pub(crate) source: ParquetSource,
    pub(crate) metadata: ArrowReaderMetadata,
}

/// The error for `file` that `source` caused while reading `at` (`its footer`, `row group 3`).
pub(crate) fn parquet_error(file: &InputFile, at: String, source: ParquetError) -> InputError {
    InputError::Parquet {
        path: file.path.clone(),
        at,
        source,
    }
}

/// Opens `file` and reads its footer.
///
/// # Errors
/// [`InputError::Io`] if it cannot be opened, [`InputError::Parquet`] if it is not a Parquet
/// file (or a compressed one, which Parquet files never are: their pages are).
pub(crate) fn read_footer(file: &InputFile) -> Result<Footer, InputError> {
    if file.compression != Compression::None {
        return Err(parquet_error(
            file,
            "its name".into(),
            ParquetError::General(
                "a Parquet file cannot be gzip-compressed as a whole (its pages are compressed \
                 inside it); decompress it"
                    .into(),
            ),
        ));
    }
    let source = ParquetSource::open(file).map_err(|source| InputError::Io {
        path: file.path.clone(),
        source,
    })?;
    let metadata = ArrowReaderMetadata::load(&source, ArrowReaderOptions::new())
        .map_err(|e| parquet_error(file, "its footer".into(), e))?;
    Ok(Footer { source, metadata })
}

/// Where each row group of a file lies.
pub(crate) fn layout(file: &InputFile, metadata: &ArrowReaderMetadata) -> ParquetLayout {
    let row_groups = metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|g| RowGroupSpan {
            start: g
                .columns()
                .iter()
                .map(|c| c.byte_range().0)
                .min()
                .unwrap_or(0),
            compressed: u64::try_from(g.compressed_size()).unwrap_or(0),
        })
        .collect();
    ParquetLayout {
        len: file.len,
        row_groups,
    }
}

/// The columns of `file` that `columns` names (all of them if `None`), checked: each named
/// column exists, and every column read has a type that can be written as JSON.
///
/// # Errors
/// [`InputError::NoColumn`], [`InputError::ColumnType`].
pub(crate) fn projection(
    file: &InputFile,
    metadata: &ArrowReaderMetadata,
    columns: Option<&[String]>,
) -> Result<ProjectionMask, InputError> {
    let fields = metadata.schema().fields();
    let indices: Vec<usize> = match columns {
        None => (0..fields.len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| {
                fields
                    .iter()
                    .position(|f| f.name() == name)
                    .ok_or_else(|| InputError::NoColumn {
                        path: file.path.clone(),
                        column: name.clone(),
                        columns: fields
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    for &i in &indices {
        let field = &fields[i];
        crate::columnar::check_readable(field.data_type()).map_err(|ty| {
            InputError::ColumnType {
                path: file.path.clone(),
                column: field.name().clone(),
                ty,
            }
        })?;
    }
    Ok(ProjectionMask::roots(metadata.parquet_schema(), indices))
}

/// Plans the splits of Parquet `files` ([`plan_row_group_splits`]), reading each file's footer
/// and checking that it has the columns `columns` names (and that they can be read), so that a
/// wrong column or a file that is not Parquet fails the job before any task runs.
///
/// # Errors
/// A file that cannot be read or is not Parquet, or lacks a column.
pub fn plan_parquet_splits(
    files: &[InputFile],
    split_size: u64,
    columns: Option<&[String]>,
) -> Result<Vec<InputSplit>, InputError> {
    let mut layouts = Vec::with_capacity(files.len());
    for file in files {
        let footer = read_footer(file)?;
        projection(file, &footer.metadata, columns)?;
        layouts.push(layout(file, &footer.metadata));
    }
    Ok(plan_row_group_splits(&layouts, split_size))
}
