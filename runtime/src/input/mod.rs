//! Input: resolving `--input` paths into files, cutting files into input splits at record
//! boundaries, and reading a split as batches of records. Parsing a record (JSON, CSV fields)
//! is left to the plugin; scheduling map tasks over the splits is left to the scheduler.
//!
//! ```text
//! --input a.txt logs/ 'events-*.json.gz'
//!   └─ resolve_inputs ─► [InputFile] sorted by path (directories walked, globs expanded)
//!        └─ plan_splits ─► [InputSplit]: byte ranges of big files, or several small files
//!             └─ SplitReader::open, next_batch ─► RecordBatch { data, ends, offsets, … }
//! ```
//!
//! Records are lines. A split owns every line whose first byte lies inside its byte range and
//! reads the whole of its last line even past the range's end (Hadoop's rule), so reading all
//! splits of a file yields each line of the file exactly once, whatever the split size.
//!
//! - [`resolve`] finds the files: [`resolve_inputs`], [`InputFile`], [`Compression`].
//! - [`split`] plans the splits: [`plan_splits`], [`InputSplit`], [`FileRange`], [`SplitId`].
//! - [`read`] reads a split: [`SplitReader`], [`RecordBatch`], [`BatchLimits`],
//!   [`line_number`], [`LineNumbers`].
//! - [`parquet`] reads `--format parquet`: row groups as splits, rows as JSON records.
//! - [`error`] says what went wrong: [`InputError`].

pub mod error;
mod lines;
pub mod parquet;
pub mod read;
pub mod resolve;
pub mod split;
#[cfg(test)]
mod testutil;

pub use self::parquet::plan_parquet_splits;
pub use self::parquet::read::RowGroupAt;
pub use error::InputError;
pub use read::{BatchLimits, LineNumbers, RecordBatch, SplitReader, line_number};
pub use resolve::{Compression, InputFile, resolve_inputs};
pub use split::{FileRange, InputSplit, SplitId, plan_splits};

/// How input files are cut into records (`--format`).
///
/// Every format but Parquet is line-based: a record is one line, without its `\n`, without one
/// trailing `\r`, and (for the first line of a file) without a UTF-8 byte order mark. The
/// reader only finds record boundaries; the plugin parses the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InputFormat {
    /// Every line is a record, empty lines included.
    Lines,
    /// One JSON value per line. Lines that are empty or only ASCII whitespace are skipped.
    JsonLines,
    /// CSV with a header row. Lines that are empty or only ASCII whitespace are skipped; the
    /// first remaining line of each file is its header, which is never a record but is
    /// attached to every batch from that file ([`RecordBatch::header`]). Quoted fields that
    /// contain line breaks are not supported: each line is one record.
    Csv,
    /// Parquet files: each row is a record, a JSON object of its (projected) columns, which
    /// the plugin gets as `jsonl` ([`parquet`]). A split is a run of whole row groups.
    Parquet,
}

impl InputFormat {
    /// Whether lines that are empty or only ASCII whitespace are skipped rather than emitted.
    pub fn skips_blank_lines(self) -> bool {
        !matches!(self, InputFormat::Lines)
    }

    /// Whether the first (non-blank) line of each file is a header rather than a record.
    pub fn has_header(self) -> bool {
        matches!(self, InputFormat::Csv)
    }

    /// The format the plugin is told its records are in: Parquet rows come as JSON Lines.
    pub fn plugin_format(self) -> InputFormat {
        match self {
            InputFormat::Parquet => InputFormat::JsonLines,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_flags() {
        let cases = [
            (InputFormat::Lines, false, false),
            (InputFormat::JsonLines, true, false),
            (InputFormat::Csv, true, true),
            (InputFormat::Parquet, true, false),
        ];
        for (format, skips, header) in cases {
            assert_eq!(format.skips_blank_lines(), skips, "{format:?}");
            assert_eq!(format.has_header(), header, "{format:?}");
            let plugin = format.plugin_format();
            assert_eq!(
                plugin == format,
                format != InputFormat::Parquet,
                "{format:?}"
            );
        }
    }
}
