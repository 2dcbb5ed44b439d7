//! Arrow rows as JSON: [`write_row`] writes one row of a batch as a JSON object, the way a
//! plugin sees a row of a Parquet input:
//!
//! | Arrow | JSON |
//! |---|---|
//! | integers, decimals | numbers (decimals exactly as written: `12.50`) |
//! | floats | numbers; NaN and infinities as `null` (JSON has none) |
//! | booleans, strings | booleans, strings |
//! | binary | a string of hex digits |
//! | dates, timestamps | strings: `2026-03-22`, `2026-03-22T10:00:00.5` (`Z` if the column has a time zone; values are UTC) |
//! | lists, structs, maps | arrays, objects, objects (keys as strings) |
//! | dictionary-encoded | its values |
//! | null (and every null value) | `null` |
//!
//! Other types (times of day, durations, intervals, unions) are refused by
//! [`check_readable`] before any row is read.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, RecordBatch, temporal_conversions};
use arrow_schema::{DataType, TimeUnit};
use std::io::Write;

/// Whether every value of `ty` can be written as JSON; `Err` names the first type that cannot.
///
/// # Errors
/// The unsupported type, as Arrow names it.
pub fn check_readable(ty: &DataType) -> Result<(), String> {
    match ty {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => Ok(()),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            check_readable(f.data_type())
        }
        DataType::Struct(fields) => fields
            .iter()
            .try_for_each(|f| check_readable(f.data_type())),
        DataType::Map(entries, _) => check_readable(entries.data_type()),
        DataType::Dictionary(_, values) => check_readable(values),
        other => Err(other.to_string()),
    }
}

/// Appends row `row` of `batch` to `out` as a JSON object of its columns, by name.
///
/// # Errors
/// A column of a type [`check_readable`] refuses (named).
///
/// # Panics
/// If `row` is out of bounds for `batch`.
pub fn write_row(batch: &RecordBatch, row: usize, out: &mut Vec<u8>) -> Result<(), String> {
    out.push(b'{');
    for (i, (field, column)) in batch
        .schema_ref()
        .fields()
        .iter()
        .zip(batch.columns())
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        write_str(field.name(), out);
        out.push(b':');
        write_value(column.as_ref(), row, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// A JSON string.
fn write_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// A value that `Display`s as a JSON number.
fn write_display(v: impl std::fmt::Display, out: &mut Vec<u8>) {
    write!(out, "{v}").expect("writing to a Vec cannot fail");
}

fn write_float(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        serde_json::to_writer(&mut *out, &v).expect("writing to a Vec cannot fail");
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_hex(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a Vec cannot fail");
    }
    out.push(b'"');
}

/// The primitive array of `array`, or the error for a column that is not what its type said.
fn primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
) -> Result<&arrow_array::PrimitiveArray<T>, String> {
    array
        .as_primitive_opt::<T>()
        .ok_or_else(|| format!("a column of type {} holds other data", array.data_type()))
}

fn mismatch(array: &dyn Array) -> String {
    format!("a column of type {} holds other data", array.data_type())
}

/// Appends value `i` of `array` as JSON.
fn write_value(array: &dyn Array, i: usize, out: &mut Vec<u8>) -> Result<(), String> {
    if array.is_null(i) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    macro_rules! int {
        ($t:ty) => {
            write_display(primitive::<$t>(array)?.value(i), out)
        };
    }
    macro_rules! decimal {
        ($t:ty) => {
            out.extend_from_slice(primitive::<$t>(array)?.value_as_string(i).as_bytes())
        };
    }
    match array.data_type() {
        DataType::Null => out.extend_from_slice(b"null"),
        DataType::Boolean => {
            let v = array.as_boolean_opt().ok_or_else(|| mismatch(array))?;
            out.extend_from_slice(if v.value(i) { b"true" } else { b"false" });
        }
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float16 => write_float(primitive::<Float16Type>(array)?.value(i).to_f64(), out),
        DataType::Float32 => write_float(f64::from(primitive::<Float32Type>(array)?.value(i)), out),
        DataType::Float64 => write_float(primitive::<Float64Type>(array)?.value(i), out),
        DataType::Decimal32(_, _) => decimal!(Decimal32Type),
        DataType::Decimal64(_, _) => decimal!(Decimal64Type),
        DataType::Decimal128(_, _) => decimal!(Decimal128Type),
        DataType::Decimal256(_, _) => decimal!(Decimal256Type),
        DataType::Utf8 => {
            let v = array
                .as_string_opt::<i32>()
                .ok_or_else(|| mismatch(array))?;
            write_str(v.value(i), out);
        }
        DataType::LargeUtf8 => {
            let v = array
                .as_string_opt::<i64>()
                .ok_or_else(|| mismatch(array))?;
            write_str(v.value(i), out);
        }
        DataType::Utf8View => {
            let v = array.as_string_view_opt().ok_or_else(|| mismatch(array))?;
            write_str(v.value(i), out);
        }
        DataType::Binary => {
            let v = array
                .as_binary_opt::<i32>()
                .ok_or_else(|| mismatch(array))?;
            write_hex(v.value(i), out);
        }
        DataType::LargeBinary => {
            let v = array
                .as_binary_opt::<i64>()
                .ok_or_else(|| mismatch(array))?;
            write_hex(v.value(i), out);
        }
        DataType::BinaryView => {
            let v = array.as_binary_view_opt().ok_or_else(|| mismatch(array))?;
            write_hex(v.value(i), out);
        }
        DataType::FixedSizeBinary(_) => {
            let v = array
                .as_fixed_size_binary_opt()
                .ok_or_else(|| mismatch(array))?;
            write_hex(v.value(i), out);
        }
        DataType::Date32 => {
            let days = primitive::<Date32Type>(array)?.value(i);
            match temporal_conversions::date32_to_datetime(days) {
                Some(t) => write_str(&t.format("%Y-%m-%d").to_string(), out),
                None => return Err(format!("date {days} is out of range")),
            }
        }
        DataType::Date64 => {
            let ms = primitive::<Date64Type>(array)?.value(i);
            match temporal_conversions::date64_to_datetime(ms) {
                Some(t) => write_str(&t.format("%Y-%m-%d").to_string(), out),
                None => return Err(format!("date {ms} ms is out of range")),
            }
        }
        DataType::Timestamp(unit, tz) => {
            let (v, t) = match unit {
                TimeUnit::Second => {
                    let v = primitive::<TimestampSecondType>(array)?.value(i);
                    (
                        v,
                        temporal_conversions::as_datetime::<TimestampSecondType>(v),
                    )
                }
                TimeUnit::Millisecond => {
                    let v = primitive::<TimestampMillisecondType>(array)?.value(i);
                    (
                        v,
                        temporal_conversions::as_datetime::<TimestampMillisecondType>(v),
                    )
                }
                TimeUnit::Microsecond => {
                    let v = primitive::<TimestampMicrosecondType>(array)?.value(i);
                    (
                        v,
                        temporal_conversions::as_datetime::<TimestampMicrosecondType>(v),
                    )
                }
                TimeUnit::Nanosecond => {
                    let v = primitive::<TimestampNanosecondType>(array)?.value(i);
                    (
                        v,
                        temporal_conversions::as_datetime::<TimestampNanosecondType>(v),
                    )
                }
            };
            let Some(t) = t else {
                return Err(format!("timestamp {v} is out of range"));
            };
            let zone = if tz.is_some() { "Z" } else { "" };
            write_str(&format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.f")), out);
        }
        DataType::List(_) => {
            let list = array.as_list_opt::<i32>().ok_or_else(|| mismatch(array))?;
            write_array(list.value(i).as_ref(), out)?;
        }
        DataType::LargeList(_) => {
            let list = array.as_list_opt::<i64>().ok_or_else(|| mismatch(array))?;
            write_array(list.value(i).as_ref(), out)?;
        }
        DataType::FixedSizeList(_, _) => {
            let list = array
                .as_fixed_size_list_opt()
                .ok_or_else(|| mismatch(array))?;
            write_array(list.value(i).as_ref(), out)?;
        }
        DataType::Struct(fields) => {
            let s = array.as_struct_opt().ok_or_else(|| mismatch(array))?;
            out.push(b'{');
            for (k, (field, column)) in fields.iter().zip(s.columns()).enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_str(field.name(), out);
                out.push(b':');
                write_value(column.as_ref(), i, out)?;
            }
            out.push(b'}');
        }
        DataType::Map(_, _) => {
            let map = array.as_map_opt().ok_or_else(|| mismatch(array))?;
            let entries = map.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            let mut key = Vec::new();
            for k in 0..entries.len() {
                if k > 0 {
                    out.push(b',');
                }
                key.clear();
                write_value(keys.as_ref(), k, &mut key)?;
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    // A number or other value as the key: its JSON text as a string.
                    write_str(&String::from_utf8_lossy(&key), out);
                }
                out.push(b':');
                write_value(values.as_ref(), k, out)?;
            }
            out.push(b'}');
        }
        DataType::Dictionary(_, _) => {
            let dict = array
                .as_any_dictionary_opt()
                .ok_or_else(|| mismatch(array))?;
            let key = dict.normalized_keys()[i];
            write_value(dict.values().as_ref(), key, out)?;
        }
        other => return Err(format!("columns of type {other} cannot be read as JSON")),
    }
    Ok(())
}

/// All values of `array` as a JSON array.
fn write_array(array: &dyn Array, out: &mut Vec<u8>) -> Result<(), String> {
    out.push(b'[');
    for k in 0..array.len() {
        if k > 0 {
            out.push(b',');
        }
        write_value(array, k, out)?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columnar::{OutputSchema, RowEncoder};
    use arrow_array::builder::{
        Int32Builder, ListBuilder, MapBuilder, StringBuilder, StringDictionaryBuilder,
    };
    use arrow_array::{
        ArrayRef, BinaryArray, Date32Array, Decimal128Array, Float64Array, NullArray, StructArray,
        TimestampMillisecondArray, UInt64Array,
    };
    use arrow_schema::{Field, Schema};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn rows(batch: &RecordBatch) -> Vec<String> {
        (0..batch.num_rows())
            .map(|r| {
                let mut out = Vec::new();
                write_row(batch, r, &mut out).unwrap();
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn each_type_is_written_as_the_table_says() {
        let mut list = ListBuilder::new(Int32Builder::new());
        list.append_value([Some(1), None, Some(3)]);
        list.append_null();
        let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
        map.keys().append_value("k\"1");
        map.values().append_value(5);
        map.append(true).unwrap();
        map.append(true).unwrap();
        let mut dict = StringDictionaryBuilder::<Int32Type>::new();
        dict.append_value("red");
        dict.append_value("blue");
        let s = StructArray::from(vec![(
            Arc::new(Field::new("x", DataType::Float64, true)),
            Arc::new(Float64Array::from(vec![Some(0.5), Some(f64::NAN)])) as ArrayRef,
        )]);
        let b = batch(vec![
            (
                "u",
                Arc::new(UInt64Array::from(vec![u64::MAX, 0])) as ArrayRef,
            ),
            ("n", Arc::new(NullArray::new(2))),
            (
                "bin",
                Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], b"a"])),
            ),
            ("d", Arc::new(Date32Array::from(vec![20534, 0]))),
            (
                "t",
                Arc::new(
                    TimestampMillisecondArray::from(vec![1_774_173_600_500, 0])
                        .with_timezone("UTC"),
                ),
            ),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![1250, -5])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            ("list", Arc::new(list.finish())),
            ("map", Arc::new(map.finish())),
            ("dict", Arc::new(dict.finish())),
            ("s", Arc::new(s)),
        ]);
        assert_eq!(
            rows(&b),
            [
                r#"{"u":18446744073709551615,"n":null,"bin":"00ff","d":"2026-03-22","t":"2026-03-22T10:00:00.500Z","dec":12.50,"list":[1,null,3],"map":{"k\"1":5},"dict":"red","s":{"x":0.5}}"#,
                r#"{"u":0,"n":null,"bin":"61","d":"1970-01-01","t":"1970-01-01T00:00:00Z","dec":-0.05,"list":null,"map":{},"dict":"blue","s":{"x":null}}"#,
            ]
        );
        for row in rows(&b) {
            serde_json::from_str::<serde_json::Value>(&row).expect("valid JSON");
        }
    }

    #[test]
    fn types_without_json_are_refused_by_name() {
        assert_eq!(
            check_readable(&DataType::Time64(TimeUnit::Microsecond)),
            Err("Time64(µs)".to_string())
        );
        let nested = DataType::List(Arc::new(Field::new(
            "item",
            DataType::Duration(TimeUnit::Second),
            true,
        )));
        assert!(check_readable(&nested).unwrap_err().contains("Duration"));
        let schema = Schema::new(vec![Field::new("a", DataType::Int64, false)]);
        for f in schema.fields() {
            check_readable(f.data_type()).unwrap();
        }
    }

    proptest! {
        /// Records encoded for a schema and written back as JSON are the records, with null for
        /// the fields they left out.
        #[test]
        fn encoding_then_writing_gives_the_records_back(
            rows in proptest::collection::vec(
                (any::<i64>(), proptest::option::of(any::<i32>()), -1e9f64..1e9,
                 any::<bool>(), proptest::option::of("\\PC{0,10}")),
                0..30,
            )
        ) {
            let schema = OutputSchema::parse("a:int64,b:int32?,c:float64,d:bool,e:string?").unwrap();
            let mut enc = RowEncoder::new(&schema);
            let mut expected = Vec::new();
            for (a, b, c, d, e) in &rows {
                let record = serde_json::json!({"a": a, "b": b, "c": c, "d": d, "e": e});
                enc.push(record.to_string().as_bytes()).unwrap();
                expected.push(record);
            }
            let batch = enc.finish();
            let got: Vec<serde_json::Value> = super::tests::rows(&batch)
                .iter()
                .map(|r| serde_json::from_str(r).unwrap())
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
