//! Run a job natively in `cargo test`, without Sandmill or wasm.
//!
//! ```
//! use sandmill_sdk::{Emitter, Format, Job, Output, Record, Result, Values, testing};
//!
//! /// Counts each distinct line.
//! #[derive(Default)]
//! struct LineCount;
//!
//! impl Job for LineCount {
//!     fn map(&mut self, line: Record<'_>, out: &mut Emitter) -> Result<()> {
//!         out.emit(line.bytes(), b"");
//!         Ok(())
//!     }
//!
//!     fn reduce(&mut self, line: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
//!         out.fields((line, values.count()));
//!         Ok(())
//!     }
//! }
//!
//! let lines = testing::run(LineCount, Format::Lines, None, &["b", "a", "b"]).unwrap();
//! assert_eq!(lines, ["a\t1", "b\t2"]);
//! ```

use crate::fields::Value;
use crate::record::parse_csv_row;
use crate::values::Values;
use crate::{
    Combiner, Emitter, Error, FieldType, Format, InputField, Job, LogLevel, Merge, Output, Record,
    Result, codec,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

thread_local! {
    static LOGS: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
    static COUNTERS: RefCell<BTreeMap<String, i64>> = const { RefCell::new(BTreeMap::new()) };
    static SIDE_INPUTS: RefCell<BTreeMap<String, Vec<Vec<u8>>>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// Gives this thread's job a side input `name` with `records` (one line each), as
/// `--side-input name=PATH` would: [`side_input`](crate::side_input) then reads them.
pub fn set_side_input(name: &str, records: &[&str]) {
    let records = records.iter().map(|r| r.as_bytes().to_vec()).collect();
    SIDE_INPUTS.with_borrow_mut(|s| s.insert(name.to_owned(), records));
}

/// Removes every side input given on this thread.
pub fn clear_side_inputs() {
    SIDE_INPUTS.with_borrow_mut(BTreeMap::clear);
}

/// The records of side input `name`, or the host's error for a name not given.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn side_input_records(name: &str) -> std::result::Result<Vec<Vec<u8>>, String> {
    SIDE_INPUTS.with_borrow(|s| {
        s.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = s.keys().map(String::as_str).collect();
            format!(
                "the job has no side input named {name} (it has {}); run it with --side-input \
                 {name}=PATH (in tests: testing::set_side_input)",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
    })
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn record_log(level: LogLevel, message: &str) {
    LOGS.with_borrow_mut(|l| l.push((level, message.to_owned())));
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn record_counter(name: &str, delta: i64) {
    COUNTERS.with_borrow_mut(|c| *c.entry(name.to_owned()).or_default() += delta);
}

/// Takes the messages logged on this thread so far.
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.with_borrow_mut(std::mem::take)
}

/// Takes the counters added on this thread so far.
pub fn take_counters() -> BTreeMap<String, i64> {
    COUNTERS.with_borrow_mut(std::mem::take)
}

/// An owned record, for tests: call [`TestRecord::with`] to see it as a [`Record`].
pub struct TestRecord {
    bytes: Vec<u8>,
    format: Format,
    header: Option<csv::ByteRecord>,
}

impl TestRecord {
    /// Calls `f` with the record.
    pub fn with<T>(&self, f: impl FnOnce(Record<'_>) -> T) -> T {
        f(Record::new(&self.bytes, self.format, self.header.as_ref()))
    }
}

/// A record of `format` (with a CSV `header` line, if any), for tests.
///
/// # Panics
/// If `header` is not a CSV row.
pub fn record(format: Format, header: Option<&[u8]>, bytes: &[u8]) -> TestRecord {
    let header = header.map(|h| parse_csv_row(h).expect("a CSV header row"));
    TestRecord {
        bytes: bytes.to_vec(),
        format,
        header,
    }
}

/// A record of `format` (with a CSV `header` line, if any) as a job that declares `fields`
/// sees it: only those fields, parsed as the host parses them.
///
/// # Errors
/// The bad-record error the host gives a record that does not fit the fields.
pub fn fields_record(
    fields: &[InputField],
    format: Format,
    header: Option<&[u8]>,
    bytes: &[u8],
) -> Result<TestRecord> {
    let header = header.map(parse_csv_row).transpose()?;
    Ok(TestRecord {
        bytes: project(fields, format, header.as_ref(), bytes)?,
        format: Format::Fields,
        header: None,
    })
}

/// `record`'s declared `fields`, in the host's layout: a plain reference of the host's parser,
/// with the same rules, built on `serde_json::Value` and the SDK's CSV row parser.
fn project(
    fields: &[InputField],
    format: Format,
    header: Option<&csv::ByteRecord>,
    record: &[u8],
) -> Result<Vec<u8>> {
    use serde_json::Value as J;
    let values: Vec<Option<J>> = match format {
        Format::JsonLines => match serde_json::from_slice(record)? {
            J::Object(mut object) => fields.iter().map(|f| object.remove(&f.name)).collect(),
            _ => return Err(Error::msg("invalid type: expected a JSON object")),
        },
        Format::Csv => {
            let header = header.ok_or_else(|| Error::msg("CSV input has no header row"))?;
            let row = parse_csv_row(record)?;
            if row.len() != header.len() {
                return Err(Error::msg(format_args!(
                    "CSV row has {} fields but the header has {}",
                    row.len(),
                    header.len()
                )));
            }
            let mut values = Vec::new();
            for f in fields {
                let at = header.iter().rposition(|n| n == f.name.as_bytes());
                let text = match at {
                    Some(i) => std::str::from_utf8(&row[i])?,
                    None if f.optional => "",
                    None => return Err(Error::msg(format_args!("no column {:?}", f.name))),
                };
                values.push(csv_value(f, text)?);
            }
            values
        }
        Format::Lines | Format::Fields => {
            return Err(Error::failed(
                "declared fields need JSON Lines or CSV input",
            ));
        }
    };
    let mut out = Vec::new();
    for (f, v) in fields.iter().zip(values) {
        let value = match (f.ty, v) {
            (_, None | Some(J::Null)) if f.optional => Value::Null,
            (_, None | Some(J::Null)) => {
                return Err(Error::msg(format_args!(
                    "the required field {:?} is absent or null",
                    f.name
                )));
            }
            (FieldType::I64, Some(J::Number(n))) if n.is_i64() => Value::I64(n.as_i64().unwrap()),
            (FieldType::F64, Some(J::Number(n))) => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
            (FieldType::Bool, Some(J::Bool(b))) => Value::Bool(b),
            (FieldType::Str, Some(J::String(s))) => {
                Value::Str(&s).write(&mut out);
                continue;
            }
            (_, Some(other)) => {
                return Err(Error::msg(format_args!(
                    "the field {:?} is {other}, not of its declared type {:?}",
                    f.name, f.ty
                )));
            }
        };
        value.write(&mut out);
    }
    Ok(out)
}

/// A CSV field's text as the JSON value of `field`'s type (null if empty and optional).
fn csv_value(field: &InputField, text: &str) -> Result<Option<serde_json::Value>> {
    if text.is_empty() && (field.optional || field.ty != FieldType::Str) {
        return Ok(None);
    }
    let bad = || Error::msg(format_args!("the field {:?} is {text:?}", field.name));
    Ok(Some(match field.ty {
        FieldType::Str => text.into(),
        FieldType::I64 => text.trim().parse::<i64>().map_err(|_| bad())?.into(),
        FieldType::F64 => text.trim().parse::<f64>().map_err(|_| bad())?.into(),
        FieldType::Bool => text.trim().parse::<bool>().map_err(|_| bad())?.into(),
    }))
}

/// Values for a test of `reduce` (leaked: for tests only).
pub fn values(items: &[&[u8]]) -> Values<'static> {
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for item in items {
        data.extend_from_slice(item);
        ends.push(data.len() as u32);
    }
    let (data, ends) = (Vec::leak(data), Vec::leak(ends));
    Values::new(data, ends, 0, ends.len(), None)
}

/// Calls `job.map` on each record (projected onto its declared fields, if it declares any, as
/// the host does) and returns every emitted pair.
///
/// # Errors
/// The first error `map` returns.
pub fn map<J: Job>(
    job: &mut J,
    format: Format,
    header: Option<&[u8]>,
    records: &[&str],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let header = header.map(parse_csv_row).transpose()?;
    let fields = job.fields();
    let mut out = Emitter::default();
    for r in records {
        if fields.is_empty() {
            job.map(Record::new(r.as_bytes(), format, header.as_ref()), &mut out)?;
        } else {
            // As the host hands them to a job that declares fields.
            let projected = project(&fields, format, header.as_ref(), r.as_bytes())?;
            job.map(Record::new(&projected, Format::Fields, None), &mut out)?;
        }
    }
    Ok(out.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())).collect())
}

/// Runs the whole job as Sandmill would on one map task and one reducer: map every record,
/// sort the pairs by key and value, combine them if the job has a combiner, then reduce each
/// key. Returns the output lines.
///
/// # Errors
/// The first error the job returns, or an output record that is not UTF-8.
pub fn run<J: Job>(
    job: J,
    format: Format,
    header: Option<&[u8]>,
    records: &[&str],
) -> Result<Vec<String>> {
    run_with_params(job, &[], format, header, records)
}

/// [`run`], with the job configured with `params` (as `--param k=v` would).
///
/// # Errors
/// As [`run`], and the error `configure` returns.
pub fn run_with_params<J: Job>(
    mut job: J,
    params: &[(&str, &str)],
    format: Format,
    header: Option<&[u8]>,
    records: &[&str],
) -> Result<Vec<String>> {
    let params = params
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    job.configure(&crate::Params::new(params))?;
    let mut pairs = map(&mut job, format, header, records)?;
    pairs.sort();
    let groups = group(pairs);
    let groups: Vec<(Vec<u8>, Vec<Vec<u8>>)> = match job.combiner() {
        Combiner::None => groups,
        Combiner::Merge(m) => groups
            .into_iter()
            .map(|(k, vs)| Ok((k, vec![merge(m, &vs)?])))
            .collect::<Result<_>>()?,
        Combiner::Plugin => {
            let mut out = Emitter::default();
            for (k, vs) in &groups {
                let refs: Vec<&[u8]> = vs.iter().map(Vec::as_slice).collect();
                job.combine(k, &mut values(&refs), &mut out)?;
            }
            let mut pairs: Vec<_> = out.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            pairs.sort();
            group(pairs)
        }
    };
    let mut out = Output::default();
    for (k, vs) in &groups {
        let refs: Vec<&[u8]> = vs.iter().map(Vec::as_slice).collect();
        job.reduce(k, &mut values(&refs), &mut out)?;
    }
    out.records()
        .map(|r| String::from_utf8(r.to_vec()).map_err(|e| Error::msg(e.utf8_error())))
        .collect()
}

fn group(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut groups: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    for (k, v) in pairs {
        match groups.last_mut() {
            Some((last, vs)) if *last == k => vs.push(v),
            _ => groups.push((k, vec![v])),
        }
    }
    groups
}

/// The host's native merge, as a plain reference for tests.
fn merge(policy: Merge, values: &[Vec<u8>]) -> Result<Vec<u8>> {
    Ok(match policy {
        Merge::Sum | Merge::Count => {
            let lanes = values[0].len() / 8;
            let mut total = vec![0i64; lanes];
            for v in values {
                if v.len() != lanes * 8 {
                    return Err(Error::failed("sum merge: values have different lengths"));
                }
                for (t, chunk) in total.iter_mut().zip(v.chunks_exact(8)) {
                    *t = t.wrapping_add(codec::decode_i64(chunk)?);
                }
            }
            total.into_iter().flat_map(codec::i64_key).collect()
        }
        Merge::Min | Merge::First => values.iter().min().cloned().unwrap_or_default(),
        Merge::Max | Merge::Last => values.iter().max().cloned().unwrap_or_default(),
        Merge::Append => values.concat(),
    })
}
