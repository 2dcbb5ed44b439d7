//! JSON records into Arrow columns: [`RowEncoder`] checks each record against an
//! [`OutputSchema`] and appends it to one column builder per field. A record that does not fit
//! is refused whole ([`FieldError`] names the field), before anything of it is appended, so the
//! caller can quarantine it and go on.

use super::schema::{ColumnType, OutputColumn, OutputSchema};
use crate::scan::{Cursor, Syntax};
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Why a record does not fit the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, if the problem is one field's (not: the record is not a JSON object).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field {field:?} {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// A value of one field, checked against its column's type.
#[derive(Debug, PartialEq)]
enum Cell<'r> {
    Null,
    Int64(i64),
    Int32(i32),
    Float64(f64),
    Bool(bool),
    String(Cow<'r, str>),
}

/// One column being built.
enum Column {
    Int64(Int64Builder),
    Int32(Int32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    String(StringBuilder),
}

/// Builds Arrow columns from JSON records that fit an [`OutputSchema`].
pub struct RowEncoder {
    schema: OutputSchema,
    columns: Vec<Column>,
    /// Bytes of the records appended since the last [`RowEncoder::finish`].
    bytes: usize,
}

impl fmt::Debug for RowEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowEncoder")
            .field("schema", &self.schema.to_string())
            .field("rows", &self.rows())
            .finish_non_exhaustive()
    }
}

impl RowEncoder {
    /// No rows yet, for records of `schema`.
    pub fn new(schema: &OutputSchema) -> RowEncoder {
        let columns = schema
            .columns()
            .iter()
            .map(|c| match c.ty {
                ColumnType::Int64 => Column::Int64(Int64Builder::new()),
                ColumnType::Int32 => Column::Int32(Int32Builder::new()),
                ColumnType::Float64 => Column::Float64(Float64Builder::new()),
                ColumnType::Bool => Column::Bool(BooleanBuilder::new()),
                ColumnType::String => Column::String(StringBuilder::new()),
            })
            .collect();
        RowEncoder {
            schema: schema.clone(),
            columns,
            bytes: 0,
        }
    }

    /// Rows appended since the last [`RowEncoder::finish`].
    pub fn rows(&self) -> usize {
        match self.columns.first() {
            Some(Column::Int64(b)) => b.len(),
            Some(Column::Int32(b)) => b.len(),
            Some(Column::Float64(b)) => b.len(),
            Some(Column::Bool(b)) => b.len(),
            Some(Column::String(b)) => b.len(),
            None => 0,
        }
    }

    /// Bytes of the JSON records appended since the last [`RowEncoder::finish`]: about what the
    /// builders hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `record` fits the schema, without appending it.
    ///
    /// # Errors
    /// As [`RowEncoder::push`].
    pub fn check(schema: &OutputSchema, record: &[u8]) -> Result<(), FieldError> {
        cells(schema, record, &mut Vec::new())
    }

    /// Appends `record`, a JSON object with the schema's fields.
    ///
    /// # Errors
    /// The record is not a JSON object, lacks a field that is not nullable, gives a field a
    /// value of another type (or out of its range), or has a field the schema does not name.
    /// Nothing of it is appended then.
    pub fn push(&mut self, record: &[u8]) -> Result<(), FieldError> {
        let mut row = Vec::with_capacity(self.columns.len());
        cells(&self.schema, record, &mut row)?;
        for (column, cell) in self.columns.iter_mut().zip(row) {
            match (column, cell) {
                (Column::Int64(b), Cell::Int64(v)) => b.append_value(v),
                (Column::Int32(b), Cell::Int32(v)) => b.append_value(v),
                (Column::Float64(b), Cell::Float64(v)) => b.append_value(v),
                (Column::Bool(b), Cell::Bool(v)) => b.append_value(v),
                (Column::String(b), Cell::String(v)) => b.append_value(&*v),
                (Column::Int64(b), _) => b.append_null(),
                (Column::Int32(b), _) => b.append_null(),
                (Column::Float64(b), _) => b.append_null(),
                (Column::Bool(b), _) => b.append_null(),
                (Column::String(b), _) => b.append_null(),
            }
        }
        self.bytes += record.len();
        Ok(())
    }

    /// The rows appended so far as one batch, leaving the encoder empty.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|column| -> ArrayRef {
                match column {
                    Column::Int64(b) => Arc::new(b.finish()),
                    Column::Int32(b) => Arc::new(b.finish()),
                    Column::Float64(b) => Arc::new(b.finish()),
                    Column::Bool(b) => Arc::new(b.finish()),
                    Column::String(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.bytes = 0;
        // Every column has one value per row, of its field's type, and a null only where the
        // field is nullable: `push` appends to all of them or to none.
        RecordBatch::try_new(self.schema.arrow(), arrays)
            .expect("the builders match the schema they were made from")
    }
}

/// `record`'s value for each column of `schema`, in order, into `cells` (emptied first).
///
/// Most records take [`scan_cells`], which reads them in place; any record it does not take
/// (every record that does not fit, and a few unusual ones that do) is parsed whole by
/// [`value_cells`], whose verdict and words are then the answer.
fn cells<'r>(
    schema: &OutputSchema,
    record: &'r [u8],
    cells: &mut Vec<Cell<'r>>,
) -> Result<(), FieldError> {
    cells.clear();
    if scan_cells(schema, record, cells).is_some() {
        return Ok(());
    }
    cells.clear();
    cells.extend(value_cells(schema, record)?);
    Ok(())
}

/// `record`'s cells, by a scan of it in place that builds no JSON value: `None` (with
/// `cells` in any state) for anything but a record that surely fits, which then goes to
/// [`value_cells`] for its verdict. So this needs no error of its own, and a record it takes
/// has the cells `value_cells` would give it. (UTF-8, which the scanner does not check, is
/// checked in every string it keeps; any other key is no column, so the record goes on.)
fn scan_cells<'r>(
    schema: &OutputSchema,
    record: &'r [u8],
    cells: &mut Vec<Cell<'r>>,
) -> Option<()> {
    let columns = schema.columns();
    // Absent and null are alike: null, which only a nullable column takes (checked last).
    cells.resize_with(columns.len(), || Cell::Null);
    Cursor::new(record)
        .object::<GiveUp>(|c, key| {
            let names = columns.iter().map(|c| c.name.as_str());
            let index = key.find(names)?.ok_or(GiveUp)?;
            // A key given twice keeps its last value, as in a `serde_json::Value`.
            cells[index] = scan_cell(columns[index].ty, c).ok_or(GiveUp)?;
            Ok(())
        })
        .ok()?;
    let null = |(column, cell): (&OutputColumn, &Cell<'_>)| !column.nullable && *cell == Cell::Null;
    match columns.iter().zip(cells.iter()).any(null) {
        true => None,
        false => Some(()),
    }
}

/// Why [`scan_cells`] leaves a record to [`value_cells`]: no need to say more, since that
/// says it all.
struct GiveUp;

impl From<Syntax> for GiveUp {
    fn from(_: Syntax) -> Self {
        GiveUp
    }
}

/// The value at `c`, if it is one of type `ty` (or null), read and checked.
fn scan_cell<'r>(ty: ColumnType, c: &mut Cursor<'r>) -> Option<Cell<'r>> {
    let begin = c.at;
    Some(match (c.peek()?, ty) {
        (b'n', _) => {
            c.literal(b"null").ok()?;
            Cell::Null
        }
        (b'-' | b'0'..=b'9', ColumnType::Int64 | ColumnType::Int32 | ColumnType::Float64) => {
            match (c.number().ok()?, ty) {
                (Some(v), ColumnType::Int64) => Cell::Int64(v),
                (Some(v), ColumnType::Int32) => Cell::Int32(i32::try_from(v).ok()?),
                (Some(v), _) => Cell::Float64(v as f64),
                // A fraction, an exponent or a long integer: `serde_json` reads the number
                // as a `Value` would, so it rounds the same.
                (None, ColumnType::Float64) => {
                    Cell::Float64(serde_json::from_slice(&c.bytes[begin..c.at]).ok()?)
                }
                // A 19-digit integer, or (to be refused by the whole parse) something else.
                (None, ColumnType::Int64) => {
                    Cell::Int64(serde_json::from_slice(&c.bytes[begin..c.at]).ok()?)
                }
                (None, _) => return None,
            }
        }
        (b't' | b'f', ColumnType::Bool) => {
            let v = c.peek() == Some(b't');
            c.literal(if v { b"true" } else { b"false" }).ok()?;
            Cell::Bool(v)
        }
        (b'"', ColumnType::String) => match c.string().ok()? {
            (raw, false) => Cell::String(Cow::Borrowed(std::str::from_utf8(raw).ok()?)),
            (_, true) => {
                let text: String = serde_json::from_slice(&c.bytes[begin..c.at]).ok()?;
                Cell::String(Cow::Owned(text))
            }
        },
        // Not of the column's type: what `value_cells` says of it is the error.
        _ => return None,
    })
}

/// `record`'s value for each column of `schema`, in order, from the whole record parsed into
/// a `serde_json::Value`: the reference, and the words of every error.
fn value_cells(schema: &OutputSchema, record: &[u8]) -> Result<Vec<Cell<'static>>, FieldError> {
    let whole = |message: String| FieldError {
        field: None,
        message,
    };
    let value: Value = serde_json::from_slice(record)
        .map_err(|e| whole(format!("the record is not JSON ({e}); each record must be a JSON object with the --output-schema fields")))?;
    let Value::Object(mut object) = value else {
        return Err(whole(
            "the record is not a JSON object; each record must be a JSON object with the \
             --output-schema fields"
                .into(),
        ));
    };
    let mut cells = Vec::with_capacity(schema.columns().len());
    for column in schema.columns() {
        let bad = |message: String| FieldError {
            field: Some(column.name.clone()),
            message,
        };
        let value = object.remove(&column.name).unwrap_or(Value::Null);
        let cell = match (column.ty, value) {
            (_, Value::Null) if column.nullable => Cell::Null,
            (_, Value::Null) => {
                return Err(bad(format!(
                    "is missing or null, and column {}:{} is not nullable (declare it as {0}:{1}? \
                     to allow that)",
                    column.name,
                    column.ty.name()
                )));
            }
            (ColumnType::Int64, Value::Number(n)) => match n.as_i64() {
                Some(v) => Cell::Int64(v),
                None => return Err(bad(format!("is {n}, not an int64"))),
            },
            (ColumnType::Int32, Value::Number(n)) => {
                match n.as_i64().and_then(|v| i32::try_from(v).ok()) {
                    Some(v) => Cell::Int32(v),
                    None => return Err(bad(format!("is {n}, not an int32"))),
                }
            }
            (ColumnType::Float64, Value::Number(n)) => match n.as_f64() {
                Some(v) => Cell::Float64(v),
                None => return Err(bad(format!("is {n}, not a float64"))),
            },
            (ColumnType::Bool, Value::Bool(v)) => Cell::Bool(v),
            (ColumnType::String, Value::String(v)) => Cell::String(Cow::Owned(v)),
            (ty, other) => {
                return Err(bad(format!(
                    "is {}, not a{} {}",
                    kind(&other),
                    if ty == ColumnType::Int64 || ty == ColumnType::Int32 {
                        "n"
                    } else {
                        ""
                    },
                    ty.name()
                )));
            }
        };
        cells.push(cell);
    }
    if let Some(extra) = object.keys().next() {
        return Err(FieldError {
            field: Some(extra.clone()),
            message: "is not a column of --output-schema; add it to the schema or leave it out \
                      of the record"
                .into(),
        });
    }
    Ok(cells)
}

/// What kind of JSON value `value` is, for an error.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!(
            "the string {}",
            crate::text::quoted(&crate::text::cut(s.clone(), 64))
        ),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type};
    use proptest::prelude::*;

    fn schema(text: &str) -> OutputSchema {
        OutputSchema::parse(text).unwrap()
    }

    #[test]
    fn records_that_fit_become_columns() {
        let mut enc = RowEncoder::new(&schema("a:int64,b:int32?,c:float64,d:bool,e:string?"));
        enc.push(br#"{"a":-7,"b":3,"c":1.5,"d":true,"e":"x"}"#)
            .unwrap();
        enc.push(br#"{"e":null,"d":false,"c":2,"a":9223372036854775807}"#)
            .unwrap();
        assert_eq!(enc.rows(), 2);
        let batch = enc.finish();
        assert_eq!(enc.rows(), 0);
        assert_eq!(batch.num_rows(), 2);
        let a = batch.column(0).as_primitive::<Int64Type>();
        assert_eq!((a.value(0), a.value(1)), (-7, i64::MAX));
        let b = batch.column(1).as_primitive::<Int32Type>();
        assert_eq!((b.value(0), b.is_null(1)), (3, true));
        let c = batch.column(2).as_primitive::<Float64Type>();
        assert_eq!((c.value(0), c.value(1)), (1.5, 2.0));
        let d = batch.column(3).as_boolean();
        assert_eq!((d.value(0), d.value(1)), (true, false));
        let e = batch.column(4).as_string::<i32>();
        assert_eq!((e.value(0), e.is_null(1)), ("x", true));
    }

    #[test]
    fn records_that_do_not_fit_name_the_field_and_append_nothing() {
        let s = schema("user_id:int64,count:int32,ok:bool,name:string?");
        // (record, field, part of the message)
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("not json", None, "not JSON"),
            ("[1,2]", None, "not a JSON object"),
            (
                r#"{"count":1,"ok":true}"#,
                Some("user_id"),
                "is missing or null",
            ),
            (
                r#"{"user_id":null,"count":1,"ok":true}"#,
                Some("user_id"),
                "is missing or null",
            ),
            (
                r#"{"user_id":"7","count":1,"ok":true}"#,
                Some("user_id"),
                "is the string \"7\", not an int64",
            ),
            (
                r#"{"user_id":1.5,"count":1,"ok":true}"#,
                Some("user_id"),
                "is 1.5, not an int64",
            ),
            (
                r#"{"user_id":18446744073709551615,"count":1,"ok":true}"#,
                Some("user_id"),
                "not an int64",
            ),
            (
                r#"{"user_id":1,"count":2147483648,"ok":true}"#,
                Some("count"),
                "is 2147483648, not an int32",
            ),
            (
                r#"{"user_id":1,"count":1,"ok":1}"#,
                Some("ok"),
                "is the number 1, not a bool",
            ),
            (
                r#"{"user_id":1,"count":1,"ok":true,"name":5}"#,
                Some("name"),
                "not a string",
            ),
            (
                r#"{"user_id":1,"count":1,"ok":true,"extra":5}"#,
                Some("extra"),
                "is not a column of --output-schema",
            ),
        ];
        let mut enc = RowEncoder::new(&s);
        for (record, field, message) in cases {
            let err = enc.push(record.as_bytes()).unwrap_err();
            assert_eq!(err.field.as_deref(), *field, "{record}: {err}");
            assert!(err.to_string().contains(message), "{record}: {err}");
            assert_eq!(
                RowEncoder::check(&s, record.as_bytes()).unwrap_err(),
                err,
                "{record}"
            );
            assert_eq!(enc.rows(), 0, "{record}");
        }
        assert_eq!(enc.finish().num_rows(), 0);
    }

    /// A value of column type `ty` (0 int64, 1 int32, 2 float64, 3 bool, 4 string), or null.
    fn gen_value(ty: u8) -> BoxedStrategy<Value> {
        let value = match ty {
            0 => any::<i64>().prop_map(Value::from).boxed(),
            1 => any::<i32>().prop_map(Value::from).boxed(),
            2 => (-1e12f64..1e12).prop_map(Value::from).boxed(),
            3 => any::<bool>().prop_map(Value::from).boxed(),
            _ => "\\PC{0,8}|[\"\\\\\n]{1,3}".prop_map(Value::from).boxed(),
        };
        prop_oneof![4 => value, 1 => Just(Value::Null)].boxed()
    }

    /// Column types and rows of values for them.
    fn gen_table() -> impl Strategy<Value = (Vec<u8>, Vec<Vec<Value>>)> {
        proptest::collection::vec(0u8..5, 1..5).prop_flat_map(|types| {
            let row: Vec<_> = types.iter().map(|&t| gen_value(t)).collect();
            (Just(types), proptest::collection::vec(row, 0..20))
        })
    }

    proptest! {
        /// Every column holds, row by row, what the records said (nulls where a record left
        /// the field out or gave null).
        #[test]
        fn columns_hold_the_records_values((types, rows) in gen_table(), leave_out in any::<bool>()) {
            const NAMES: [&str; 5] = ["int64", "int32", "float64", "bool", "string"];
            let text: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, &t)| format!("f{i}:{}?", NAMES[t as usize]))
                .collect();
            let schema = schema(&text.join(","));
            let mut enc = RowEncoder::new(&schema);
            for row in &rows {
                let mut object = serde_json::Map::new();
                for (i, value) in row.iter().enumerate() {
                    if !(value.is_null() && leave_out) {
                        object.insert(format!("f{i}"), value.clone());
                    }
                }
                enc.push(&serde_json::to_vec(&Value::Object(object)).unwrap()).unwrap();
            }
            let batch = enc.finish();
            prop_assert_eq!(batch.num_rows(), rows.len());
            for (r, row) in rows.iter().enumerate() {
                for (c, want) in row.iter().enumerate() {
                    let column = batch.column(c);
                    let got = if column.is_null(r) {
                        Value::Null
                    } else {
                        match types[c] {
                            0 => column.as_primitive::<Int64Type>().value(r).into(),
                            1 => column.as_primitive::<Int32Type>().value(r).into(),
                            2 => column.as_primitive::<Float64Type>().value(r).into(),
                            3 => column.as_boolean().value(r).into(),
                            _ => column.as_string::<i32>().value(r).into(),
                        }
                    };
                    prop_assert_eq!(&got, want, "row {} column {}", r, c);
                }
            }
        }
    }

    /// Text that a field may be given instead of its value: odd numbers, other types, broken
    /// JSON, escapes.
    const ODD_VALUES: &[&str] = &[
        "1.0",
        "-0",
        "1e2",
        "0.5e-3",
        "18446744073709551615",
        "9223372036854775808",
        "-9223372036854775808",
        "2147483648",
        "-2147483649",
        "123456789012345678901234",
        "\"7\"",
        "[1]",
        "{}",
        "{\"a\":[1,{\"b\":null}]}",
        "true",
        "null",
        "tru",
        "01",
        "1.",
        "-",
        "\"\\ud800\"",
        "\"a\\u0041\\n\"",
        "\"\\x\"",
        "\"tab\there\"",
        " 5 ",
    ];

    /// A record for the columns `f0…`: a row of `values` as `serde_json` writes it, changed by
    /// `how` (0-1 not at all; then an extra key, a key given twice, an odd value, a cut, more
    /// whitespace, a byte that is not UTF-8, something after the object).
    fn record(values: &[Value], how: u8, pick: usize) -> Vec<u8> {
        let mut object = serde_json::Map::new();
        for (i, value) in values.iter().enumerate() {
            object.insert(format!("f{i}"), value.clone());
        }
        let plain = serde_json::to_string(&Value::Object(object)).unwrap();
        let column = pick % values.len().max(1);
        let odd = ODD_VALUES[pick % ODD_VALUES.len()];
        let inner = plain.trim_start_matches('{').trim_end_matches('}');
        let sep = if inner.is_empty() { "" } else { "," };
        let text = match how {
            0 | 1 => plain,
            2 => format!("{{{inner}{sep}\"zz\":1}}"),
            3 => format!("{{\"f{column}\":{odd}{sep}{inner}}}"),
            4 => format!("{{\"f{column}\":null{sep}{inner}}}"),
            5 => format!("{{{inner}{sep}\"f{column}\":{odd}}}"),
            6 => return plain.as_bytes()[..pick % (plain.len() + 1)].to_vec(),
            7 => format!(
                " \t{{ {} }}\n",
                inner.replace(',', " ,\r\n").replace(':', " : ")
            ),
            8 => format!("{{\"f\\u0030\":{odd}{sep}{inner}}}"),
            9 => format!("{plain} x"),
            _ => {
                let mut bytes = plain.into_bytes();
                let at = pick % bytes.len();
                bytes[at] = 0xff;
                return bytes;
            }
        };
        text.into_bytes()
    }

    /// Column types (and whether each is nullable) and rows of values for them.
    fn gen_rows() -> impl Strategy<Value = (Vec<(u8, bool)>, Vec<Vec<Value>>)> {
        proptest::collection::vec((0u8..5, any::<bool>()), 1..5).prop_flat_map(|types| {
            let row: Vec<_> = types.iter().map(|&(t, _)| gen_value(t)).collect();
            (Just(types), proptest::collection::vec(row, 1..8))
        })
    }

    proptest! {
        /// The in-place scan takes every record that fits, as `serde_json` writes it, and
        /// gives each record it takes the cells of the whole parse; it takes no record that
        /// does not fit, and whatever it does not take gets the whole parse's verdict.
        #[test]
        fn the_scan_agrees_with_the_whole_parse(
            (types, rows) in gen_rows(),
            changes in proptest::collection::vec((0u8..11, any::<usize>()), 8),
        ) {
            const NAMES: [&str; 5] = ["int64", "int32", "float64", "bool", "string"];
            let text: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, &(t, nullable))| {
                    format!("f{i}:{}{}", NAMES[t as usize], if nullable { "?" } else { "" })
                })
                .collect();
            let schema = schema(&text.join(","));
            for (row, &(how, pick)) in rows.iter().zip(changes.iter().cycle()) {
                let record = record(row, how, pick);
                let shown = String::from_utf8_lossy(&record);
                let whole = value_cells(&schema, &record);
                let mut scanned = Vec::new();
                let took = scan_cells(&schema, &record, &mut scanned).is_some();
                match &whole {
                    Ok(want) if took => prop_assert_eq!(&scanned, want, "{}", shown),
                    Ok(_) => prop_assert!(how > 1, "a plain record that fits went to the whole parse: {}", shown),
                    Err(e) => prop_assert!(!took, "the scan took a record that does not fit ({}): {}", e, shown),
                }
                let mut got = Vec::new();
                let verdict = cells(&schema, &record, &mut got).map(|()| got);
                prop_assert_eq!(verdict, whole, "{}", shown);
            }
        }
    }
}
