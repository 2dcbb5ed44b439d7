//! Declared input fields ([`Job::fields`](crate::Job::fields)): the job names the fields it
//! reads and their types, and Sandmill parses JSON Lines, CSV and Parquet natively on the
//! host, handing `map` only those fields, already typed. A job then runs no JSON or CSV parser
//! in wasm, which is most of what a job over events spends its time on.
//!
//! ```
//! use sandmill_sdk::{Emitter, FieldType, InputField, Record, Result, codec};
//!
//! fn fields() -> Vec<InputField> {
//!     vec![
//!         InputField::new("user_id", FieldType::I64),
//!         InputField::new("amount_cents", FieldType::I64).optional(),
//!     ]
//! }
//!
//! fn map(record: Record<'_>, out: &mut Emitter) -> Result<()> {
//!     // Fields by their index in the declaration.
//!     let (user, amount) = (record.i64(0)?, record.opt_i64(1)?.unwrap_or(0));
//!     out.emit(codec::i64_key(user), codec::i64_key(amount));
//!     Ok(())
//! }
//! # let r = sandmill_sdk::testing::fields_record(&fields(), sandmill_sdk::Format::JsonLines,
//! #     None, br#"{"user_id":7}"#).unwrap();
//! # let mut out = Emitter::default();
//! # r.with(|r| map(r, &mut out)).unwrap();
//! ```

use crate::{Error, Result};

/// The type of a declared input field. A value of another type makes the record a bad record
/// (named by file and line), without the job being called for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A 64-bit signed integer: a JSON integer, or CSV text such as `-42`.
    I64,
    /// A 64-bit float: any JSON number, or CSV text such as `2.5e3`.
    F64,
    /// Text: a JSON string, or a CSV field as it is.
    Str,
    /// JSON `true` or `false`, or the same CSV text.
    Bool,
}

/// An input field a job reads: see [`Job::fields`](crate::Job::fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputField {
    pub(crate) name: String,
    pub(crate) ty: FieldType,
    pub(crate) optional: bool,
}

impl InputField {
    /// The required field `name` (a JSON key, or a CSV column named by the header) of type
    /// `ty`: a record without it, or with it null (an empty CSV field), is a bad record.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
            optional: false,
        }
    }

    /// The field may be absent or null: `map` then sees it as `None` ([`Record::opt_i64`]
    /// and its siblings).
    ///
    /// [`Record::opt_i64`]: crate::Record::opt_i64
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's type.
    pub fn field_type(&self) -> FieldType {
        self.ty
    }

    /// Whether it may be absent or null.
    pub fn is_optional(&self) -> bool {
        self.optional
    }
}

/// One field's value, as the host lays it out (`input-format.fields` in `wit/job.wit`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    I64(i64),
    F64(f64),
    Str(&'a str),
    Bool(bool),
}

const NULL: u8 = 0;
const I64: u8 = 1;
const F64: u8 = 2;
const STR: u8 = 3;
const BOOL: u8 = 4;

impl Value<'_> {
    /// The value's type's name, for an error.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::I64(_) => "an integer",
            Value::F64(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bool(_) => "a bool",
        }
    }

    /// Appends the value in the host's layout.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
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
            Value::Str(s) => {
                out.push(STR);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        }
    }
}

/// Value `index` of a record of declared fields.
pub(crate) fn value_at(mut record: &[u8], index: usize) -> Result<Value<'_>> {
    let broken = || Error::failed("internal: a declared-field record is cut short");
    for i in 0.. {
        let (&tag, rest) = record.split_first().ok_or_else(|| {
            Error::failed(format_args!(
                "the record has {i} declared fields, no field {index}: read fields by their \
                 index in Job::fields"
            ))
        })?;
        let len = match tag {
            NULL => 0,
            I64 | F64 => 8,
            BOOL => 1,
            STR => {
                let len = rest.get(..4).ok_or_else(broken)?;
                4 + u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize
            }
            other => {
                return Err(Error::failed(format_args!(
                    "internal: unknown tag {other} in a declared-field record"
                )));
            }
        };
        let (bytes, next) = (rest.get(..len).ok_or_else(broken)?, &rest[len..]);
        if i == index {
            let eight = || <[u8; 8]>::try_from(bytes).expect("8 bytes");
            return Ok(match tag {
                NULL => Value::Null,
                I64 => Value::I64(i64::from_le_bytes(eight())),
                F64 => Value::F64(f64::from_le_bytes(eight())),
                BOOL => Value::Bool(bytes[0] != 0),
                _ => Value::Str(
                    std::str::from_utf8(&bytes[4..])
                        .map_err(|_| Error::failed("internal: a string field is not UTF-8"))?,
                ),
            });
        }
        record = next;
    }
    unreachable!("the loop returns")
}
