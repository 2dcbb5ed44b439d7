//! Declared fields from JSON objects, with `serde_json` visitors that borrow from the record:
//! keys are matched against the declared names as they stream by, undeclared values are
//! skipped without being built, and each declared value is checked against its type and
//! written straight into the layout. A key given twice keeps its last value, as
//! `serde_json::Value` does: an earlier value of the wrong type, or null, is no error.

use super::layout::{self, Value};
use super::{Field, FieldType, missing};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Unexpected, Visitor};
use std::fmt;

/// Buffers kept between records.
#[derive(Debug)]
pub(super) struct Scratch {
    /// The values of this record's declared fields, as they came, back to back in the layout.
    values: Vec<u8>,
    /// What the record gave each declared field.
    slots: Vec<Slot>,
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
        let mut de = serde_json::Deserializer::from_slice(record);
        de::Deserializer::deserialize_map(
            &mut de,
            Row {
                fields,
                scratch: self,
            },
        )
        .and_then(|()| de.end())
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
}

/// The record's object.
struct Row<'s> {
    fields: &'s [Field],
    scratch: &'s mut Scratch,
}

impl<'de> Visitor<'de> for Row<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(index) = map.next_key_seed(Key(self.fields))? {
            let Some(index) = index else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let values = &mut self.scratch.values;
            let start = values.len();
            let typed = Typed {
                field: &self.fields[index],
                out: values,
            };
            self.scratch.slots[index] = match map.next_value_seed(typed)? {
                Ok(true) => Slot::Null,
                Ok(false) => Slot::At(start, values.len()),
                Err(why) => Slot::Wrong(why),
            };
        }
        Ok(())
    }
}

/// A key: the index of the declared field it names, if any.
struct Key<'f>(&'f [Field]);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|f| f.name == key))
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
