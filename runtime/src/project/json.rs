//! Declared fields from JSON objects, by a scanner that reads the record once, left to right:
//! keys are matched against the declared names as raw bytes, undeclared values are skipped
//! by their grammar alone (no value is built, nesting needs no recursion), and the common
//! declared values (a plain integer, a string without escapes, a boolean, null) are written
//! straight into the layout. Anything else a declared field is given (a fraction, an
//! exponent, an escape, a value of another type) goes to `serde_json` on that value's own
//! bytes, so numbers round and errors read exactly as `serde_json` has them. A key given
//! twice keeps its last value, as `serde_json::Value` does: an earlier value of the wrong
//! type, or null, is no error.
//!
//! The record must be one JSON object, with nothing but whitespace after it. Strings the job
//! does not read (undeclared keys and their values) are checked for their escapes and control
//! characters, not for UTF-8: text nobody reads is not decoded.

use super::layout::{self, Value};
use super::{Field, FieldType, missing};
use crate::scan::{Cursor, Syntax, serde_message};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Unexpected, Visitor};
use std::fmt;

/// Buffers kept between records.
#[derive(Debug)]
pub(super) struct Scratch {
    /// The values of this record's declared fields, as they came, back to back in the layout.
    values: Vec<u8>,
    /// What the record gave each declared field.
    slots: Vec<Slot>,
    /// The closing brackets of the containers a skipped value is inside.
    nesting: Vec<u8>,
}

/// What a record gave one declared field (the last time, if its key came more than once).
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Absent,
    Null,
    /// Its value lies at `values[start..end]`.
    At(usize, usize),
    /// A value of another type, and what is wrong with it.
    Wrong(String),
}

impl Scratch {
    pub(super) fn new(fields: usize) -> Self {
        Self {
            values: Vec::new(),
            slots: vec![Slot::Absent; fields],
            nesting: Vec::new(),
        }
    }

    pub(super) fn project(
        &mut self,
        fields: &[Field],
        record: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        self.values.clear();
        self.slots.fill(Slot::Absent);
        let mut cursor = Cursor::new(record);
        self.object(fields, &mut cursor)
            .map_err(|e| format!("invalid JSON for the declared fields: {e}"))?;
        for (field, slot) in fields.iter().zip(&self.slots) {
            match slot {
                Slot::At(start, end) => out.extend_from_slice(&self.values[*start..*end]),
                Slot::Absent | Slot::Null if field.optional => Value::Null.write(out),
                Slot::Absent => return Err(missing(field, "absent")),
                Slot::Null => return Err(missing(field, "null")),
                Slot::Wrong(why) => return Err(why.clone()),
            }
        }
        Ok(())
    }

    /// Reads the record's object, filling `slots`.
    fn object(&mut self, fields: &[Field], c: &mut Cursor<'_>) -> Result<(), Syntax> {
        c.object(
            |c, key| match key.find(fields.iter().map(|f| f.name.as_str()))? {
                Some(index) => self.declared(&fields[index], index, c),
                None => c.skip_value(&mut self.nesting),
            },
        )
    }

    /// Reads a declared field's value into its slot.
    fn declared(&mut self, field: &Field, index: usize, c: &mut Cursor<'_>) -> Result<(), Syntax> {
        let values = &mut self.values;
        let start = values.len();
        let fast = match (c.peek(), field.ty) {
            (Some(b'n'), _) => {
                c.literal(b"null")?;
                Some(Slot::Null)
            }
            (Some(b'-' | b'0'..=b'9'), FieldType::I64 | FieldType::F64) => {
                let begin = c.at;
                match c.number()? {
                    Some(v) => {
                        if field.ty == FieldType::I64 {
                            Value::I64(v)
                        } else {
                            Value::F64(v as f64)
                        }
                        .write(values);
                        Some(Slot::At(start, values.len()))
                    }
                    None => {
                        c.at = begin;
                        None
                    }
                }
            }
            (Some(b'"'), FieldType::Str) => {
                let begin = c.at;
                let (text, escaped) = c.string()?;
                match (escaped, std::str::from_utf8(text)) {
                    (false, Ok(text)) => {
                        layout::write_str(text, values);
                        Some(Slot::At(start, values.len()))
                    }
                    _ => {
                        c.at = begin;
                        None
                    }
                }
            }
            (Some(b't' | b'f'), FieldType::Bool) => {
                let v = c.peek() == Some(b't');
                c.literal(if v { b"true" } else { b"false" })?;
                Value::Bool(v).write(values);
                Some(Slot::At(start, values.len()))
            }
            _ => None,
        };
        self.slots[index] = match fast {
            Some(slot) => slot,
            None => {
                // The value's own bytes, to serde_json, which reads and types it.
                let begin = c.at;
                c.skip_value(&mut self.nesting)?;
                let mut de = serde_json::Deserializer::from_slice(&c.bytes[begin..c.at]);
                let typed = Typed { field, out: values };
                match typed.deserialize(&mut de) {
                    Ok(Ok(true)) => Slot::Null,
                    Ok(Ok(false)) => Slot::At(start, values.len()),
                    Ok(Err(why)) => Slot::Wrong(why),
                    Err(e) => {
                        return Err(Syntax {
                            at: begin,
                            what: serde_message(&e),
                        });
                    }
                }
            }
        };
        Ok(())
    }
}

/// A declared field's value, checked against its type and written to `out`: `Ok(true)` if
/// null, `Err` with what is wrong if of another type (the value is then skipped).
struct Typed<'a> {
    field: &'a Field,
    out: &'a mut Vec<u8>,
}

type Checked = Result<bool, String>;

impl<'de> DeserializeSeed<'de> for Typed<'_> {
    type Value = Checked;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        d.deserialize_any(self)
    }
}

impl Typed<'_> {
    fn put<E>(self, value: Value<'_>) -> Result<Checked, E> {
        value.write(self.out);
        Ok(Ok(matches!(value, Value::Null)))
    }

    fn wrong<E>(&self, found: Unexpected<'_>) -> Result<Checked, E> {
        Ok(Err(format!(
            "invalid type: {found}, expected {}",
            Expecting(self)
        )))
    }
}

/// What a [`Typed`] expects, as text.
struct Expecting<'t, 'a>(&'t Typed<'a>);

impl fmt::Display for Expecting<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Visitor::expecting(self.0, f)
    }
}

impl<'de> Visitor<'de> for Typed<'_> {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.field.ty {
            FieldType::I64 => "an integer",
            FieldType::F64 => "a number",
            FieldType::Str => "a string",
            FieldType::Bool => "true or false",
        };
        write!(f, "{what} for the field {:?}", self.field.name)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        self.put(Value::Null)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Checked, E> {
        match self.field.ty {
            FieldType::I64 => self.put(Value::I64(v)),
            FieldType::F64 => self.put(Value::F64(v as f64)),
            _ => self.wrong(Unexpected::Signed(v)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Checked, E> {
        match (self.field.ty, i64::try_from(v)) {
            (FieldType::I64, Ok(v)) => self.put(Value::I64(v)),
            (FieldType::I64, Err(_)) => Ok(Err(format!(
                "invalid value: {v} is out of range for the s64 field {:?}",
                self.field.name
            ))),
            (FieldType::F64, _) => self.put(Value::F64(v as f64)),
            _ => self.wrong(Unexpected::Unsigned(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Checked, E> {
        match self.field.ty {
            FieldType::F64 => self.put(Value::F64(v)),
            _ => self.wrong(Unexpected::Float(v)),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Checked, E> {
        match self.field.ty {
            FieldType::Bool => self.put(Value::Bool(v)),
            _ => self.wrong(Unexpected::Bool(v)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Checked, E> {
        match self.field.ty {
            FieldType::Str => {
                layout::write_str(v, self.out);
                Ok(Ok(false))
            }
            _ => self.wrong(Unexpected::Str(v)),
        }
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        // Skipped whole, so that a later value of the same key may still count.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.wrong(Unexpected::Seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.wrong(Unexpected::Map)
    }
}
