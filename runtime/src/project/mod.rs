//! Declared fields: a job that names the input fields it reads (`job-info.fields`) gets each
//! record parsed by the host, natively, into only those fields, typed, in a flat layout
//! (`layout`), instead of the raw JSON or CSV text it would otherwise parse itself in wasm.
//!
//! ```text
//! {"user_id":7,"ts":"…","amount_cents":-3}   ─json─┐
//! 7,2026-03-22T10:00:00Z,buy,-3  (with header) ─csv──┴─▶ [1, 7i64 LE][1, -3i64 LE]
//! ```
//!
//! Plain Rust, tested without a plugin: a property test checks both parsers against a
//! reference built on `serde_json::Value`. A record that does not fit (not an object, a
//! required field absent or null, a value of another type) is an error for that record, which
//! the map task treats as a bad record.

mod csv;
mod json;
mod layout;

pub use layout::{Value, decode};

use std::fmt;

/// The most fields a job may declare.
pub const MAX_FIELDS: usize = 256;

/// The longest field name, in bytes.
pub const MAX_NAME: usize = 1024;

/// The type of a declared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A 64-bit signed integer.
    I64,
    /// A 64-bit float.
    F64,
    /// UTF-8 text.
    Str,
    /// `true` or `false`.
    Bool,
}

impl FieldType {
    /// The type's name in `wit/job.wit`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::I64 => "s64",
            FieldType::F64 => "f64",
            FieldType::Str => "string",
            FieldType::Bool => "bool",
        }
    }
}

/// A field the job reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// A JSON object's key, or a CSV column's name in the header.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// Whether it may be absent or null.
    pub optional: bool,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let optional = if self.optional { "?" } else { "" };
        write!(f, "{:?}: {}{optional}", self.name, self.ty.name())
    }
}

/// Checks the fields a job declared: at most [`MAX_FIELDS`], each name 1 to [`MAX_NAME`] bytes
/// and declared once.
///
/// # Errors
/// What is wrong, for the plugin's author.
pub fn check(fields: &[Field]) -> Result<(), String> {
    if fields.len() > MAX_FIELDS {
        return Err(format!(
            "the job declares {} input fields, more than the {MAX_FIELDS} allowed",
            fields.len()
        ));
    }
    for (i, field) in fields.iter().enumerate() {
        if field.name.is_empty() || field.name.len() > MAX_NAME {
            return Err(format!(
                "declared input field {i} has a name of {} bytes; names must be 1 to {MAX_NAME} \
                 bytes",
                field.name.len()
            ));
        }
        if fields[..i].iter().any(|f| f.name == field.name) {
            return Err(format!(
                "the job declares the input field {:?} twice",
                field.name
            ));
        }
    }
    Ok(())
}

/// The text a declared-field record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One JSON object per record (JSON Lines, and Parquet rows).
    Json,
    /// One CSV row per record, named by a header row.
    Csv,
}

/// Projects records of one source onto the declared fields. Keeps its buffers between
/// records; one per map task.
#[derive(Debug)]
pub struct Projector {
    fields: Vec<Field>,
    source: Source,
    json: json::Scratch,
    csv: csv::Scratch,
}

impl Projector {
    /// A projector of `fields` (checked by [`check`]) from `source`.
    pub fn new(fields: Vec<Field>, source: Source) -> Self {
        let json = json::Scratch::new(fields.len());
        Self {
            fields,
            source,
            json,
            csv: csv::Scratch::default(),
        }
    }

    /// The declared fields.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// For CSV: reads the header row the next records are named by (the same header again
    /// costs nothing). Without a column of a required field, every row of the file is bad.
    ///
    /// # Errors
    /// If the header is not CSV, or has no column for a required field.
    pub fn header(&mut self, header: &[u8]) -> Result<(), String> {
        self.csv.header(&self.fields, header)
    }

    /// Appends `record`'s declared fields to `out` in the layout of `layout`.
    ///
    /// # Errors
    /// Why the record does not fit; `out` is then as it was.
    pub fn project(&mut self, record: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let result = match self.source {
            Source::Json => self.json.project(&self.fields, record, out),
            Source::Csv => self.csv.project(&self.fields, record, out),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// The error for a required field that has no value.
fn missing(field: &Field, what: &str) -> String {
    format!(
        "the required field {:?} is {what}; declare it optional to accept such records",
        field.name
    )
}

#[cfg(test)]
mod tests;
