//! Input records as a job's `map` sees them.

use crate::fields::{Value, value_at};
use crate::{Error, Result};
use serde::Deserialize;

/// How the host cut the input into records (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One record per line.
    Lines,
    /// One JSON document per line.
    JsonLines,
    /// One CSV row per line, with a header row.
    Csv,
    /// The fields the job declared ([`Job::fields`](crate::Job::fields)), parsed by the
    /// host from JSON Lines, CSV or Parquet: read them with [`Record::i64`] and its siblings.
    Fields,
}

/// One input record: a line without its line end.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8],
    format: Format,
    header: Option<&'a csv::ByteRecord>,
}

impl<'a> Record<'a> {
    /// A record of the given format; `header` is the CSV header row, if any.
    pub(crate) fn new(
        bytes: &'a [u8],
        format: Format,
        header: Option<&'a csv::ByteRecord>,
    ) -> Self {
        Self {
            bytes,
            format,
            header,
        }
    }

    /// The record's bytes, without the line end.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The record as UTF-8 text.
    ///
    /// # Errors
    /// If the record is not valid UTF-8.
    pub fn text(&self) -> Result<&'a str> {
        Ok(std::str::from_utf8(self.bytes)?)
    }

    /// How the input was cut into records.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Deserializes a structured record: a JSON Lines document, or a CSV row whose fields are
    /// matched to `T`'s fields by the header's column names (numbers are parsed from text).
    ///
    /// ```
    /// # use sandmill_sdk::testing::record;
    /// # use sandmill_sdk::Format;
    /// #[derive(serde::Deserialize)]
    /// struct Event { user_id: i64, amount_cents: i64 }
    ///
    /// let json = record(Format::JsonLines, None, br#"{"user_id":7,"amount_cents":-3}"#);
    /// let csv = record(Format::Csv, Some(b"user_id,amount_cents"), b"7,-3");
    /// for r in [json, csv] {
    ///     let e: Event = r.with(|r| r.parse()).unwrap();
    ///     assert_eq!((e.user_id, e.amount_cents), (7, -3));
    /// }
    /// ```
    ///
    /// # Errors
    /// If the record is not valid JSON or CSV, or does not fit `T`; and for `Lines` input,
    /// which has no structure.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T> {
        match self.format {
            Format::JsonLines => Ok(serde_json::from_slice(self.bytes)?),
            Format::Csv => {
                let row = parse_csv_row(self.bytes)?;
                let header = self
                    .header
                    .ok_or_else(|| Error::msg("CSV input has no header row"))?;
                if row.len() != header.len() {
                    return Err(Error::msg(format_args!(
                        "CSV row has {} fields but the header has {}",
                        row.len(),
                        header.len()
                    )));
                }
                deserialize_row(&row, header)
            }
            Format::Lines => Err(Error::failed(
                "parse() needs --format jsonl or --format csv input",
            )),
            Format::Fields => Err(Error::failed(
                "the job declares its input fields (Job::fields), so records come parsed: read \
                 them with Record::i64, str, f64 or bool instead of parse()",
            )),
        }
    }

    /// Declared field `index` (its place in [`Job::fields`](crate::Job::fields)).
    fn field(&self, index: usize) -> Result<Value<'a>> {
        if self.format != Format::Fields {
            return Err(Error::failed(
                "Record::i64, str, f64 and bool read declared fields: declare the fields the \
                 job reads in Job::fields",
            ));
        }
        value_at(self.bytes, index)
    }
}

/// The accessors of declared fields: `$name` for a required field, `$opt` for an optional one.
macro_rules! field_accessors {
    ($($name:ident, $opt:ident, $variant:ident, $ty:ty, $what:literal;)*) => {$(
        #[doc = concat!("Declared field `index` (its place in [`Job::fields`](crate::Job::fields)), ", $what, ".")]
        ///
        /// # Errors
        /// If the job declared no fields, or field `index` is of another type or null.
        pub fn $name(&self, index: usize) -> Result<$ty> {
            self.$opt(index)?.ok_or_else(|| {
                Error::failed(format_args!(
                    "declared field {index} is null: it is optional, read it with Record::{}",
                    stringify!($opt)
                ))
            })
        }

        #[doc = concat!("Optional declared field `index`, ", $what, ", or `None` if it is absent or null.")]
        ///
        /// # Errors
        /// If the job declared no fields, or field `index` is of another type.
        pub fn $opt(&self, index: usize) -> Result<Option<$ty>> {
            match self.field(index)? {
                Value::$variant(v) => Ok(Some(v)),
                Value::Null => Ok(None),
                other => Err(Error::failed(format_args!(
                    "declared field {index} is {}, not {}",
                    other.type_name(),
                    $what
                ))),
            }
        }
    )*};
}

impl<'a> Record<'a> {
    field_accessors! {
        i64, opt_i64, I64, i64, "an integer";
        f64, opt_f64, F64, f64, "a float";
        str, opt_str, Str, &'a str, "a string";
        bool, opt_bool, Bool, bool, "a bool";
    }
}

/// Deserializes a CSV row as a map from column name to field. The unquoted fields live only in
/// this call, so a `T` that borrows `&str` fields works for JSON Lines but not for CSV.
fn deserialize_row<'a, T: Deserialize<'a>>(
    row: &csv::ByteRecord,
    header: &'a csv::ByteRecord,
) -> Result<T> {
    use serde::de::IntoDeserializer;
    use serde::de::value::MapDeserializer;
    let mut fields = Vec::with_capacity(row.len());
    for (name, value) in header.iter().zip(row.iter()) {
        let name =
            std::str::from_utf8(name).map_err(|e| Error::msg(format_args!("CSV header: {e}")))?;
        let value = std::str::from_utf8(value)?;
        fields.push((name, CsvField(value.to_owned())));
    }
    let de: MapDeserializer<'_, _, serde::de::value::Error> =
        MapDeserializer::new(fields.into_iter().map(|(k, v)| (k.into_deserializer(), v)));
    T::deserialize(de).map_err(|e| Error::msg(format_args!("CSV row does not fit: {e}")))
}

/// Parses one CSV line (RFC 4180 quoting, no line end) into its fields.
pub(crate) fn parse_csv_row(line: &[u8]) -> Result<csv::ByteRecord> {
    ROW_PARSER.with_borrow_mut(|parser| parser.parse(line))
}

thread_local! {
    /// The parser every CSV row of this instance goes through. Making a `csv_core::Reader`
    /// builds its state machine, which took 25 us, against well under one to parse a row:
    /// a reader per row made CSV input 60 times slower to map than JSON Lines.
    static ROW_PARSER: std::cell::RefCell<RowParser> = std::cell::RefCell::new(RowParser::new());
}

/// A reusable CSV row parser: the reader and its output buffers.
struct RowParser {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl RowParser {
    fn new() -> Self {
        Self {
            reader: csv_core::Reader::new(),
            out: Vec::new(),
            ends: Vec::new(),
        }
    }

    fn parse(&mut self, line: &[u8]) -> Result<csv::ByteRecord> {
        if line.is_empty() {
            // One empty field, as RFC 4180 reads it (csv-core reports the end of input instead).
            let mut record = csv::ByteRecord::new();
            record.push_field(b"");
            return Ok(record);
        }
        // A row has at most as many unquoted bytes as the line, and one field more than commas.
        self.reader.reset();
        self.out.resize(line.len() + 1, 0);
        self.ends.resize(line.len() + 2, 0);
        let mut input = line;
        let (mut nout, mut nend) = (0, 0);
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
                    return Err(Error::failed("internal: CSV buffer too small"));
                }
            }
        }
        let mut record = csv::ByteRecord::with_capacity(nout, nend);
        let mut start = 0;
        for &end in &self.ends[..nend] {
            record.push_field(&self.out[start..end]);
            start = end;
        }
        Ok(record)
    }
}

/// A CSV field as a serde value: numbers, booleans and strings are all parsed from its text.
struct CsvField(String);

impl<'de, E: serde::de::Error> serde::de::IntoDeserializer<'de, E> for CsvField {
    type Deserializer = CsvFieldDeserializer<E>;
    fn into_deserializer(self) -> Self::Deserializer {
        CsvFieldDeserializer(self.0, std::marker::PhantomData)
    }
}

struct CsvFieldDeserializer<E>(String, std::marker::PhantomData<E>);

macro_rules! parse_as {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            let v: $ty = self.0.trim().parse().map_err(|_| {
                E::custom(format_args!("{:?} is not a valid {}", self.0, stringify!($ty)))
            })?;
            visitor.$visit(v)
        }
    )*};
}

impl<'de, E: serde::de::Error> serde::Deserializer<'de> for CsvFieldDeserializer<E> {
    type Error = E;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        if self.0.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    parse_as! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_split_on_commas_and_honour_quotes() {
        let cases: &[(&[u8], &[&str])] = &[
            (b"a,b,c", &["a", "b", "c"]),
            (b"", &[""]),
            (b"1,,3", &["1", "", "3"]),
            (br#""x,y",2"#, &["x,y", "2"]),
            (br#""say ""hi""",z"#, &[r#"say "hi""#, "z"]),
        ];
        for (line, want) in cases {
            let row = parse_csv_row(line).unwrap();
            let got: Vec<&[u8]> = row.iter().collect();
            let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
            assert_eq!(got, want, "line {:?}", String::from_utf8_lossy(line));
        }
    }

    proptest::proptest! {
        /// The one parser every row goes through gives, row after row, what a fresh `csv`
        /// reader gives for that row alone: nothing a row leaves behind (an unclosed quote, a
        /// longer row) reaches the next.
        #[test]
        fn reused_parser_reads_each_row_as_a_fresh_reader_does(
            rows in proptest::collection::vec("[a-c,\" ]{0,12}", 1..20)
        ) {
            for row in &rows {
                let got = parse_csv_row(row.as_bytes()).unwrap();
                let mut fresh = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(row.as_bytes());
                let mut want = csv::ByteRecord::new();
                if !fresh.read_byte_record(&mut want).unwrap() {
                    want.push_field(b"");
                }
                let got: Vec<&[u8]> = got.iter().collect();
                let want: Vec<&[u8]> = want.iter().collect();
                proptest::prop_assert_eq!(got, want, "row {:?}", row);
            }
        }
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Row {
        user_id: i64,
        event: String,
        amount_cents: Option<i64>,
    }

    #[test]
    fn csv_rows_deserialize_by_header_name_in_any_column_order() {
        let header = parse_csv_row(b"event,amount_cents,user_id,extra").unwrap();
        let rec = Record::new(b"buy,-250,42,ignored", Format::Csv, Some(&header));
        let row: Row = rec.parse().unwrap();
        assert_eq!(
            row,
            Row {
                user_id: 42,
                event: "buy".into(),
                amount_cents: Some(-250)
            }
        );

        let rec = Record::new(b"view,,7,x", Format::Csv, Some(&header));
        assert_eq!(rec.parse::<Row>().unwrap().amount_cents, None);
    }

    #[test]
    fn bad_structured_records_are_errors_not_panics() {
        let header = parse_csv_row(b"user_id,event,amount_cents").unwrap();
        let not_a_number = Record::new(b"x,buy,1", Format::Csv, Some(&header));
        let err = not_a_number.parse::<Row>().unwrap_err();
        assert!(err.message().contains("\"x\" is not a valid i64"), "{err}");
        let short = Record::new(b"1,buy", Format::Csv, Some(&header));
        assert!(
            short
                .parse::<Row>()
                .unwrap_err()
                .message()
                .contains("2 fields")
        );
        let bad_json = Record::new(b"{\"user_id\": 1,", Format::JsonLines, None);
        assert!(
            bad_json
                .parse::<Row>()
                .unwrap_err()
                .message()
                .starts_with("invalid JSON")
        );
        let lines = Record::new(b"1", Format::Lines, None);
        assert!(lines.parse::<Row>().is_err());
    }
}
