//! Sales clean-up, a pipeline's first stage: raw events as JSON Lines,
//! `{"event_id": "e0000001", "user_id": 17, "product_id": "p0042", "ts": "2026-03-22T10:00:00Z",
//! "amount_cents": 1250}`, come out validated and written the same way, one line per event id
//! (an event delivered twice is kept once), sorted by event id. A malformed event is a bad
//! record: it fails the job, or is quarantined under `--max-bad-records`.

use sandmill_sdk::{Emitter, Error, Job, Output, Record, Result, Values, codec};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Event {
    event_id: String,
    user_id: i64,
    product_id: String,
    ts: String,
    amount_cents: i64,
}

#[derive(Default)]
struct SalesClean;

impl Job for SalesClean {
    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let event: Event = record.parse()?;
        if event.event_id.is_empty() || event.product_id.is_empty() {
            return Err(Error::msg("event_id and product_id must not be empty"));
        }
        if event.ts.len() < 10 {
            return Err(Error::msg(format_args!("ts {:?} is not a time", event.ts)));
        }
        out.emit(event.event_id.as_bytes(), codec::to_json(&event)?);
        Ok(())
    }

    fn reduce(&mut self, _id: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        // Values come in byte order: the same duplicate is kept on every run.
        if let Some(first) = values.next() {
            out.record(first);
        }
        Ok(())
    }
}

sandmill_sdk::export_job!(SalesClean);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    #[test]
    fn events_are_validated_and_each_id_kept_once() {
        let a = r#"{"event_id":"e2","user_id":1,"product_id":"p1","ts":"2026-03-22T10:00:00Z","amount_cents":5}"#;
        let b = r#"{"event_id":"e1","user_id":2,"product_id":"p2","ts":"2026-03-22T11:00:00Z","amount_cents":-3}"#;
        let out = testing::run(SalesClean, Format::JsonLines, None, &[a, b, a]).unwrap();
        assert_eq!(out, [b, a]);
        let bad =
            r#"{"event_id":"e3","user_id":1,"product_id":"","ts":"2026-03-22","amount_cents":1}"#;
        assert!(testing::run(SalesClean, Format::JsonLines, None, &[bad]).is_err());
    }
}
