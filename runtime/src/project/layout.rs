//! The layout of a declared-field record (`input-format.fields` in `wit/job.wit`): one value
//! per declared field, in order, each a tag byte and its bytes, little-endian.

use std::borrow::Cow;

const NULL: u8 = 0;
const I64: u8 = 1;
const F64: u8 = 2;
const STR: u8 = 3;
const BOOL: u8 = 4;

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Absent or null.
    Null,
    /// An integer.
    I64(i64),
    /// A float.
    F64(f64),
    /// Text.
    Str(Cow<'a, str>),
    /// A boolean.
    Bool(bool),
}

impl Value<'_> {
    /// Appends the value to `out`.
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(NULL),
            Value::I64(v) => {
                out.push(I64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::F64(v) => {
                out.push(F64);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Str(s) => write_str(s, out),
            Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        }
    }
}

/// Appends a string value to `out`. The batch a record is in is limited far below 4 GiB, so
/// the length fits.
pub(super) fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(STR);
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Reads a record's values back (for tests, and to show a record a person can read).
///
/// # Errors
/// If `record` is not in the layout.
pub fn decode(mut record: &[u8]) -> Result<Vec<Value<'_>>, String> {
    fn take<'a>(record: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if record.len() < n {
            return Err("a declared-field record ends inside a value".into());
        }
        let (head, rest) = record.split_at(n);
        *record = rest;
        Ok(head)
    }
    let mut values = Vec::new();
    while let Some((&tag, rest)) = record.split_first() {
        record = rest;
        let eight = |r: &mut &[u8]| -> Result<[u8; 8], String> {
            Ok(take(r, 8)?.try_into().expect("8 bytes"))
        };
        values.push(match tag {
            NULL => Value::Null,
            I64 => Value::I64(i64::from_le_bytes(eight(&mut record)?)),
            F64 => Value::F64(f64::from_le_bytes(eight(&mut record)?)),
            STR => {
                let len = u32::from_le_bytes(take(&mut record, 4)?.try_into().expect("4 bytes"));
                let bytes = take(&mut record, len as usize)?;
                let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
                Value::Str(Cow::Borrowed(text))
            }
            BOOL => Value::Bool(take(&mut record, 1)?[0] != 0),
            other => return Err(format!("unknown tag {other} in a declared-field record")),
        });
    }
    Ok(values)
}
