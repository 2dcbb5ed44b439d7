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
        let mut cursor = Cursor {
            bytes: record,
            at: 0,
        };
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
        c.space();
        if c.peek() != Some(b'{') {
            return Err(c.error("expected a JSON object"));
        }
        c.at += 1;
        c.space();
        if c.peek() == Some(b'}') {
            c.at += 1;
        } else {
            loop {
                // `key` reads the `:` and the whitespace around it.
                match c.key(fields)? {
                    Some(index) => self.declared(&fields[index], index, c)?,
                    None => c.skip_value(&mut self.nesting)?,
                }
                c.space();
                match c.next() {
                    Some(b',') => c.space(),
                    Some(b'}') => break,
                    _ => return Err(c.back("expected `,` or `}`")),
                }
            }
        }
        c.space();
        if c.at < c.bytes.len() {
            return Err(c.error("trailing characters"));
        }
        Ok(())
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

/// A syntax error: what was expected, and the byte it was found at.
#[derive(Debug)]
struct Syntax {
    at: usize,
    what: String,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.what, self.at + 1)
    }
}

/// A place in the record.
struct Cursor<'r> {
    bytes: &'r [u8],
    at: usize,
}

impl<'r> Cursor<'r> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.at += 1;
        b
    }

    fn error(&self, what: &str) -> Syntax {
        let what = if self.at >= self.bytes.len() {
            format!("{what}, found the end of the record")
        } else {
            what.to_string()
        };
        Syntax { at: self.at, what }
    }

    /// An error about the byte just read by [`Cursor::next`].
    fn back(&mut self, what: &str) -> Syntax {
        self.at -= 1;
        self.error(what)
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// Reads a key and its `:`, and says which declared field it names.
    fn key(&mut self, fields: &[Field]) -> Result<Option<usize>, Syntax> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key in quotes"));
        }
        let begin = self.at;
        let (raw, escaped) = self.string()?;
        let index = if fields.is_empty() {
            None
        } else if escaped {
            let key: String =
                serde_json::from_slice(&self.bytes[begin..self.at]).map_err(|e| Syntax {
                    at: begin,
                    what: serde_message(&e),
                })?;
            fields.iter().position(|f| f.name == key)
        } else {
            fields.iter().position(|f| f.name.as_bytes() == raw)
        };
        self.space();
        if self.next() != Some(b':') {
            return Err(self.back("expected `:`"));
        }
        self.space();
        Ok(index)
    }

    /// Reads a string (at its opening quote): its bytes between the quotes, and whether they
    /// hold an escape. Escapes are checked for their form; raw control characters are refused.
    fn string(&mut self) -> Result<(&'r [u8], bool), Syntax> {
        self.at += 1;
        let begin = self.at;
        let mut escaped = false;
        loop {
            self.at = special(self.bytes, self.at);
            match self.next() {
                Some(b'"') => return Ok((&self.bytes[begin..self.at - 1], escaped)),
                Some(b'\\') => {
                    escaped = true;
                    match self.next() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            let hex = self.bytes.get(self.at..self.at + 4);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("invalid \\u escape"));
                            }
                            self.at += 4;
                        }
                        _ => return Err(self.back("invalid escape")),
                    }
                }
                Some(_) => return Err(self.back("control character in a string")),
                None => return Err(self.back("unterminated string")),
            }
        }
    }

    /// Reads a number; returns its value if it is a plain integer that surely fits `i64`
    /// (at most 18 digits, no fraction or exponent, not `-0`), else `None`.
    fn number(&mut self) -> Result<Option<i64>, Syntax> {
        let begin = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let digits = self.at;
        let mut value: i64 = 0;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    value = value.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
                    self.at += 1;
                }
            }
            _ => return Err(self.error("invalid number")),
        }
        let whole = self.at - digits;
        let mut plain = whole <= 18 && !(negative && value == 0);
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
            plain = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
            plain = false;
        }
        if let Some(b'0'..=b'9') = self.peek() {
            // Only `0` may start with `0`.
            self.at = begin;
            return Err(self.error("invalid number"));
        }
        Ok(plain.then(|| if negative { -value } else { value }))
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), Syntax> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("invalid number"));
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        Ok(())
    }

    /// Skips one value of any kind, arrays and objects by a stack of their closing brackets.
    fn skip_value(&mut self, nesting: &mut Vec<u8>) -> Result<(), Syntax> {
        nesting.clear();
        loop {
            // At a value.
            match self.peek() {
                Some(b'"') => drop(self.string()?),
                Some(b'-' | b'0'..=b'9') => drop(self.number()?),
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(open @ (b'[' | b'{')) => {
                    self.at += 1;
                    self.space();
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        nesting.push(close);
                        if close == b'}' {
                            self.key(&[])?;
                        }
                        continue;
                    }
                }
                _ => return Err(self.error("expected a value")),
            }
            // After a value: close what it ends, or go on to the next.
            loop {
                let Some(&close) = nesting.last() else {
                    return Ok(());
                };
                self.space();
                match self.next() {
                    Some(b',') => {
                        self.space();
                        if close == b'}' {
                            self.key(&[])?;
                        }
                        break;
                    }
                    Some(b) if b == close => drop(nesting.pop()),
                    _ => {
                        let what = if close == b'}' {
                            "expected `,` or `}`"
                        } else {
                            "expected `,` or `]`"
                        };
                        return Err(self.back(what));
                    }
                }
            }
        }
    }
}

/// The first byte at or after `at` that is a quote, a backslash or a control character (or
/// the end), eight bytes at a time.
fn special(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A borrow can only mark a byte above one truly marked, so the lowest mark is right.
        let marks = (zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGH;
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if matches!(b, b'"' | b'\\' | 0..0x20) {
            break;
        }
        at += 1;
    }
    at
}

/// A `serde_json` error's words, without its place (which is the value's, not the record's).
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(end) => text[..end].to_string(),
        None => text,
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
