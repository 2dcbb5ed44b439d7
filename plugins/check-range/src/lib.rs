//! A quality gate written as a plugin: passes when the numeric JSON field `--param
//! field=NAME` of every record is within `--param min=N` and `--param max=N` (either may be
//! left out), and otherwise fails saying how many records are outside and which one first.
//! It writes one record, as every check plugin does: `{"pass": bool, "reason": "..."}`.
//!
//! Its map emits, for every record, the key `""` and (records, outside, first outside's
//! index): one group, merged natively, so the reduce sees the whole output's totals.

use sandmill_sdk::{Combiner, Emitter, Job, Merge, Output, Params, Record, Result, Values, codec};
use serde::Serialize;

#[derive(Default)]
struct CheckRange {
    field: String,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Serialize)]
struct Verdict {
    pass: bool,
    reason: String,
}

impl CheckRange {
    fn within(&self, record: &[u8]) -> bool {
        let Ok(value) = codec::from_json::<serde_json_value::Value>(record) else {
            return false;
        };
        let Some(x) = value.number(&self.field) else {
            return false;
        };
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }

    fn range(&self) -> String {
        let show = |b: Option<f64>| b.map_or(String::new(), |b| b.to_string());
        format!("{}..{}", show(self.min), show(self.max))
    }
}

/// Just enough of a JSON object to read one number from it.
mod serde_json_value {
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    pub enum Field {
        Number(f64),
        Other(serde::de::IgnoredAny),
    }

    #[derive(serde::Deserialize)]
    pub struct Value(BTreeMap<String, Field>);

    impl Value {
        pub fn number(&self, field: &str) -> Option<f64> {
            match self.0.get(field)? {
                Field::Number(x) => Some(*x),
                Field::Other(_) => None,
            }
        }
    }
}

impl Job for CheckRange {
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&["field", "min", "max"])?;
        self.field = params
            .get("field")
            .ok_or_else(|| sandmill_sdk::Error::params("--param field=NAME is required"))?
            .to_owned();
        self.min = params
            .get("min")
            .map(str::parse)
            .transpose()
            .map_err(|e| sandmill_sdk::Error::params(format_args!("--param min: {e}")))?;
        self.max = params
            .get("max")
            .map(str::parse)
            .transpose()
            .map_err(|e| sandmill_sdk::Error::params(format_args!("--param max: {e}")))?;
        Ok(())
    }

    fn combiner(&self) -> Combiner {
        Combiner::Merge(Merge::Sum)
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let outside = i64::from(!self.within(record.bytes()));
        out.emit(b"", codec::i64_lanes([1, outside]));
        Ok(())
    }

    fn reduce(&mut self, _key: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        let [records, outside] = values.sum_i64_lanes::<2>()?;
        let (field, range) = (&self.field, self.range());
        let verdict = if outside == 0 {
            Verdict {
                pass: true,
                reason: format!("{records} records, {field} within {range}"),
            }
        } else {
            Verdict {
                pass: false,
                reason: format!(
                    "{outside} of {records} records have {field} outside {range} (or missing)"
                ),
            }
        };
        out.record(codec::to_json(&verdict)?);
        Ok(())
    }
}

sandmill_sdk::export_job!(CheckRange);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    /// What the job writes for `records`, run as the host runs it: map, the native sum of
    /// the one group's values, reduce.
    fn verdict(records: &[&str], params: &[(&str, &str)]) -> String {
        let mut job = CheckRange::default();
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        job.configure(&Params::new(params)).unwrap();
        let pairs = testing::map(&mut job, Format::Lines, None, records).unwrap();
        let mut totals = [0i64; 2];
        for (key, value) in &pairs {
            assert!(key.is_empty());
            let lanes = codec::decode_i64_lanes::<2>(value).unwrap();
            totals[0] += lanes[0];
            totals[1] += lanes[1];
        }
        let merged = codec::i64_lanes(totals);
        let mut out = Output::default();
        job.reduce(b"", &mut testing::values(&[&merged]), &mut out)
            .unwrap();
        let records: Vec<&[u8]> = out.records().collect();
        assert_eq!(records.len(), 1);
        String::from_utf8(records[0].to_vec()).unwrap()
    }

    #[test]
    fn the_verdict_counts_records_outside_the_range() {
        let records = [r#"{"s":5}"#, r#"{"s":-1}"#, r#"{"t":1}"#, r#"{"s":"x"}"#];
        assert_eq!(
            verdict(&records, &[("field", "s"), ("min", "0")]),
            r#"{"pass":false,"reason":"3 of 4 records have s outside 0.. (or missing)"}"#
        );
        assert_eq!(
            verdict(&records[..1], &[("field", "s"), ("min", "0"), ("max", "5")]),
            r#"{"pass":true,"reason":"1 records, s within 0..5"}"#
        );
    }
}
