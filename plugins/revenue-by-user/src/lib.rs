//! Revenue by user: `user_id\tcount\tsum_cents` from events
//! `{"user_id": <int>, "ts": "...", "event": "...", "amount_cents": <int>}` given as JSON Lines or
//! as CSV with the header `user_id,ts,event,amount_cents`. Output is sorted by user id.

use sandmill_sdk::{
    Combiner, Emitter, FieldType, InputField, Job, Merge, Output, Record, Result, Values, codec,
};

#[derive(Default)]
struct RevenueByUser;

impl Job for RevenueByUser {
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
        out.fields((codec::decode_i64(user)?, count, sum));
        Ok(())
    }
}

sandmill_sdk::export_job!(RevenueByUser);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    const WANT: [&str; 3] = ["-4\t1\t0", "2\t1\t-30", "10\t2\t150"];

    #[test]
    fn json_lines() {
        let events = [
            r#"{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}"#,
            r#"{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}"#,
            r#"{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}"#,
            r#"{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}"#,
        ];
        let out = testing::run(RevenueByUser, Format::JsonLines, None, &events).unwrap();
        assert_eq!(out, WANT);
    }

    #[test]
    fn csv_gives_the_same_answer() {
        let header = b"user_id,ts,event,amount_cents";
        let rows = [
            "10,2026-03-22T10:00:00Z,buy,100",
            "2,2026-03-22T10:00:01Z,refund,-30",
            "10,2026-03-22T10:00:02Z,\"buy, again\",50",
            "-4,2026-03-22T10:00:03Z,view,0",
        ];
        let out = testing::run(RevenueByUser, Format::Csv, Some(header), &rows).unwrap();
        assert_eq!(out, WANT);
    }
}
