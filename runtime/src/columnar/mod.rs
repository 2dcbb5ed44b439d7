//! Rows as JSON and as Arrow columns, the two shapes of Parquet data in Sandmill: a plugin sees
//! every row of a Parquet input as one JSON object ([`decode`]), and writes the records of a
//! Parquet output as JSON objects that are checked against the job's `--output-schema` and
//! turned into Arrow columns ([`schema`], [`encode`]). Reading and writing the files is left to
//! `input` and `commit`; this module touches no file.
//!
//! ```text
//! input:  Parquet row group ─► arrow RecordBatch ─► decode::write_row ─► {"user_id":7,…}
//! output: {"user_id":7,…} ─► encode::RowEncoder (checked against OutputSchema) ─► RecordBatch
//! ```

pub mod decode;
pub mod encode;
pub mod schema;

pub use decode::{check_readable, write_row};
pub use encode::{FieldError, RowEncoder};
pub use schema::{ColumnType, OutputColumn, OutputSchema};
