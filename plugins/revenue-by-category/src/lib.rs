//! Revenue by category, a pipeline's last stage: events joined with their product,
//! `{"event_id": .., "user_id": .., "product_id": .., "category": "books", "amount_cents": ..}`
//! (JSON Lines; `category` may be null for an unknown product), come out as one JSON line per
//! category, `{"category":"books","count":3,"sum_cents":1234}`, sorted by category. Events of
//! unknown products are counted under the category `""`, which a `no-empty-keys` gate catches.

use sandmill_sdk::{Combiner, Emitter, Job, Merge, Output, Record, Result, Values, codec};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Joined {
    category: Option<String>,
    amount_cents: i64,
}

#[derive(Serialize)]
struct Revenue<'a> {
    category: &'a str,
    count: i64,
    sum_cents: i64,
}

#[derive(Default)]
struct RevenueByCategory;

impl Job for RevenueByCategory {
    fn combiner(&self) -> Combiner {
        Combiner::Merge(Merge::Sum)
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        let event: Joined = record.parse()?;
        out.emit(
            event.category.unwrap_or_default().as_bytes(),
            codec::i64_lanes([1, event.amount_cents]),
        );
        Ok(())
    }

    fn reduce(&mut self, category: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        let [count, sum_cents] = values.sum_i64_lanes::<2>()?;
        let category = std::str::from_utf8(category)
            .map_err(|_| sandmill_sdk::Error::msg("a category is not UTF-8"))?;
        out.record(codec::to_json(&Revenue {
            category,
            count,
            sum_cents,
        })?);
        Ok(())
    }
}

sandmill_sdk::export_job!(RevenueByCategory);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    #[test]
    fn revenue_is_summed_per_category() {
        let events = [
            r#"{"event_id":"e1","category":"books","amount_cents":100}"#,
            r#"{"event_id":"e2","category":null,"amount_cents":7}"#,
            r#"{"event_id":"e3","category":"books","amount_cents":-30}"#,
        ];
        let out = testing::run(RevenueByCategory, Format::JsonLines, None, &events).unwrap();
        assert_eq!(
            out,
            [
                r#"{"category":"","count":1,"sum_cents":7}"#,
                r#"{"category":"books","count":2,"sum_cents":70}"#
            ]
        );
    }
}
