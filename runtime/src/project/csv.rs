//! Declared fields from CSV rows: the header names the columns, each row is cut at its commas
//! (or, if it has a quote, unquoted by `csv-core`) into one reused buffer, and each declared
//! column's text is parsed as its type, as the SDK's `Record::parse` reads a CSV field
//! (numbers and booleans after trimming spaces; an empty field is null).

use super::layout::{self, Value};
use super::{Field, FieldType, missing};

/// Buffers kept between rows, and the header they are named by.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    reader: Row,
    /// The header row last read.
    header: Vec<u8>,
    /// How many columns it has.
    columns: usize,
    /// The column of each declared field, if the header has it.
    at: Vec<Option<usize>>,
    /// Whether a header has been read.
    ready: bool,
}

impl Scratch {
    pub(super) fn header(&mut self, fields: &[Field], header: &[u8]) -> Result<(), String> {
        if self.ready && self.header == header {
            return Ok(());
        }
        self.ready = false;
        self.reader.parse(header)?;
        let names: Vec<&[u8]> = self.reader.fields().collect();
        self.at.clear();
        for field in fields {
            // A name given twice means its last column, as a key given twice in JSON.
            let at = names.iter().rposition(|n| *n == field.name.as_bytes());
            if at.is_none() && !field.optional {
                return Err(format!(
                    "the CSV header has no column {:?}, which the job reads (a required field); \
                     its columns are {}",
                    field.name,
                    crate::text::cut(String::from_utf8_lossy(header).into_owned(), 200)
                ));
            }
            self.at.push(at);
        }
        self.columns = names.len();
        self.header.clear();
        self.header.extend_from_slice(header);
        self.ready = true;
        Ok(())
    }

    pub(super) fn project(
        &mut self,
        fields: &[Field],
        record: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if !self.ready {
            return Err("CSV input without a header row".into());
        }
        self.reader.parse(record)?;
        if self.reader.len() != self.columns {
            return Err(format!(
                "CSV row has {} fields but the header has {}",
                self.reader.len(),
                self.columns
            ));
        }
        for (field, at) in fields.iter().zip(&self.at) {
            let text = at.map_or(&b""[..], |i| self.reader.field(i));
            put(field, text, out)?;
        }
        Ok(())
    }
}

/// Writes one CSV field's text as `field`'s type.
fn put(field: &Field, text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if text.is_empty() && (field.optional || field.ty != FieldType::Str) {
        if !field.optional {
            return Err(missing(field, "empty"));
        }
        Value::Null.write(out);
        return Ok(());
    }
    if field.ty == FieldType::I64
        && let Some(v) = plain_int(text)
    {
        Value::I64(v).write(out);
        return Ok(());
    }
    let text = std::str::from_utf8(text)
        .map_err(|e| format!("the field {:?} is not UTF-8: {e}", field.name))?;
    let bad = |what: &str| {
        format!(
            "the field {:?} is {}, not {what}",
            field.name,
            crate::text::cut(format!("{text:?}"), 100)
        )
    };
    let value = match field.ty {
        FieldType::Str => {
            layout::write_str(text, out);
            return Ok(());
        }
        FieldType::I64 => Value::I64(text.trim().parse().map_err(|_| bad("an integer"))?),
        FieldType::F64 => Value::F64(text.trim().parse().map_err(|_| bad("a number"))?),
        FieldType::Bool => Value::Bool(text.trim().parse().map_err(|_| bad("true or false"))?),
    };
    value.write(out);
    Ok(())
}

/// `text` as an integer if it is a plain one: spaces or tabs around an optional sign and at
/// most 18 digits (so it fits), which `str::trim` and `i64::from_str` would read the same.
/// `None` for anything else, which takes that longer way.
fn plain_int(text: &[u8]) -> Option<i64> {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    let start = text.iter().position(|b| !blank(b))?;
    let end = text.iter().rposition(|b| !blank(b))? + 1;
    let (negative, digits) = match &text[start..end] {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if negative { -v } else { v })
}

/// One CSV row, unquoted: a reused `csv-core` reader and its output buffers.
#[derive(Debug)]
struct Row {
    reader: csv_core::Reader,
    /// The fields' bytes: `out[starts[i]..ends[i]]` is field `i`.
    out: Vec<u8>,
    starts: Vec<usize>,
    ends: Vec<usize>,
    fields: usize,
}

impl Default for Row {
    fn default() -> Self {
        Self {
            // Not `csv_core::Reader::default()`, which is not a usable reader: every line came
            // out as one empty field.
            reader: csv_core::Reader::new(),
            out: Vec::new(),
            starts: Vec::new(),
            ends: Vec::new(),
            fields: 0,
        }
    }
}

impl Row {
    /// Parses one line (RFC 4180 quoting, no line end).
    fn parse(&mut self, line: &[u8]) -> Result<(), String> {
        if self.cut(line) {
            return Ok(());
        }
        // A row has at most as many unquoted bytes as the line, and one field more than commas.
        self.reader.reset();
        self.out.resize(line.len() + 1, 0);
        self.ends.resize(line.len() + 2, 0);
        let (mut input, mut nout, mut nend) = (line, 0, 0);
        loop {
            let (res, nin, o, e) =
                self.reader
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            input = &input[nin..];
            nout += o;
            nend += e;
            match res {
                csv_core::ReadRecordResult::InputEmpty => continue,
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => {
                    return Err("internal: CSV buffer too small".into());
                }
            }
        }
        self.fields = nend;
        // csv-core writes the fields back to back.
        self.starts.clear();
        self.starts.push(0);
        self.starts
            .extend_from_slice(&self.ends[..nend.saturating_sub(1)]);
        Ok(())
    }

    /// Cuts a line without quotes (nor a line end, which csv-core would end the row at) at its
    /// commas: its fields are what lies between them. An empty line is one empty field, as
    /// RFC 4180 reads it. `false` if the line has a quote or a line end. (Rows are short: a
    /// byte loop beats a `memchr` call per comma.)
    fn cut(&mut self, line: &[u8]) -> bool {
        self.starts.clear();
        self.ends.clear();
        self.starts.push(0);
        for (i, &b) in line.iter().enumerate() {
            match b {
                b',' => {
                    self.ends.push(i);
                    self.starts.push(i + 1);
                }
                b'"' | b'\r' | b'\n' => return false,
                _ => {}
            }
        }
        self.ends.push(line.len());
        self.out.clear();
        self.out.extend_from_slice(line);
        self.fields = self.ends.len();
        true
    }

    fn len(&self) -> usize {
        self.fields
    }

    fn field(&self, i: usize) -> &[u8] {
        &self.out[self.starts[i]..self.ends[i]]
    }

    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.fields).map(|i| self.field(i))
    }
}
