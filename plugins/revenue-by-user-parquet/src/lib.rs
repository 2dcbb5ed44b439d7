//! Revenue by user for a Parquet output: from the events revenue-by-user reads
//! (`{"user_id": <int>, "amount_cents": <int>, ...}` as JSON Lines, CSV with a header, or
//! Parquet rows, which reach a plugin as JSON objects), one JSON record per user,
//! `{"user_id":7,"count":2,"sum_cents":150}`, which
//!
//! ```text
//! sandmill run revenue_by_user_parquet.wasm --input events/ --format jsonl --output revenue \
//!     --output-format parquet --output-schema user_id:int64,count:int64,sum_cents:int64
//! ```
//!
//! writes as Parquet part files of those three columns. Output is sorted by user id within
//! each part file.

use sandmill_sdk::{
    Combiner, Emitter, FieldType, InputField, Job, Merge, Output, Record, Result, Values, codec,
};
use std::io::Write as _;

#[derive(Default)]
struct RevenueByUserParquet {
    /// The record being written, reused from one user to the next.
    buf: Vec<u8>,
}

impl Job for RevenueByUserParquet {
    fn combiner(&self) -> Combiner {
        // The value is (count, sum): the host adds both lanes natively.
        Combiner::Merge(Merge::Sum)
    }

    fn fields(&self) -> Vec<InputField> {
        // Sandmill parses these two on the host: the job runs no JSON or CSV parser.
        vec![
            InputField::new("user_id", FieldType::I64),
            InputField::new("amount_cents", FieldType::I64),
        ]
    }

    fn map(&mut self, event: Record<'_>, out: &mut Emitter) -> Result<()> {
        let (user, amount) = (event.i64(0)?, event.i64(1)?);
        out.emit(codec::i64_key(user), codec::i64_lanes([1, amount]));
        Ok(())
    }

    fn reduce(&mut self, user: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        let [count, sum] = values.sum_i64_lanes::<2>()?;
        let user = codec::decode_i64(user)?;
        // Numbers only: no escaping needed.
        self.buf.clear();
        write!(
            self.buf,
            r#"{{"user_id":{user},"count":{count},"sum_cents":{sum}}}"#
        )
        .expect("writing to a Vec cannot fail");
        out.record(&self.buf);
        Ok(())
    }
}

sandmill_sdk::export_job!(RevenueByUserParquet);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    const WANT: [&str; 3] = [
        r#"{"user_id":-4,"count":1,"sum_cents":0}"#,
        r#"{"user_id":2,"count":1,"sum_cents":-30}"#,
        r#"{"user_id":10,"count":2,"sum_cents":150}"#,
    ];

    #[test]
    fn json_lines_give_one_json_record_per_user() {
        let events = [
            r#"{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}"#,
            r#"{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}"#,
            r#"{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}"#,
            r#"{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}"#,
        ];
        let out = testing::run(
            RevenueByUserParquet::default(),
            Format::JsonLines,
            None,
            &events,
        )
        .unwrap();
        assert_eq!(out, WANT);
    }

    #[test]
    fn parquet_rows_with_only_the_projected_columns_give_the_same_answer() {
        // As `--format parquet --columns user_id,amount_cents` hands rows to the plugin.
        let rows = [
            r#"{"user_id":10,"amount_cents":100}"#,
            r#"{"user_id":2,"amount_cents":-30}"#,
            r#"{"user_id":10,"amount_cents":50}"#,
            r#"{"user_id":-4,"amount_cents":0}"#,
        ];
        let out = testing::run(
            RevenueByUserParquet::default(),
            Format::JsonLines,
            None,
            &rows,
        )
        .unwrap();
        assert_eq!(out, WANT);
    }
}
