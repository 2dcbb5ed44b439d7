//! Join products: events `{"event_id":"e0000001","user_id":17,"product_id":"p0042",
//! "ts":"...","amount_cents":1250}` joined with products `{"product_id":"p0042",
//! "category":"books","name":"..."}` (both JSON Lines), one output line per event:
//! `{"event_id":..,"user_id":..,"product_id":..,"category":..,"amount_cents":..}`, with
//! `"category":null` for an event whose product is unknown.
//!
//! Two ways to the same set of lines (`--param mode=...`):
//!
//! - `broadcast` (the default): the products are a side input
//!   (`--side-input products=PATH`), loaded into a map by each map task; map joins each event
//!   and keys it by `event_id`, reduce writes it. Nothing but the events is shuffled.
//! - `reduce-side`: events and products are both `--input`s; map tags each record and keys
//!   it by `product_id`; reduce gets a product and its events together and joins them. Every
//!   product and event is shuffled; output is keyed by product, so in another order.
//!
//! If a product id occurs twice, both modes take the smallest category (in byte order).

use sandmill_sdk::{Emitter, Error, Job, Output, Params, Record, Result, Values, side_input};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The name of the side input holding the products in `broadcast` mode.
const PRODUCTS: &str = "products";

/// In `reduce-side` mode, a product's value: its tag sorts before an event's, so a group's
/// product (if any) comes first.
const PRODUCT_TAG: u8 = b'0';
/// In `reduce-side` mode, an event's value.
const EVENT_TAG: u8 = b'1';

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Broadcast,
    ReduceSide,
}

#[derive(Debug, Deserialize, Serialize)]
struct Event {
    event_id: String,
    user_id: i64,
    product_id: String,
    amount_cents: i64,
}

#[derive(Debug, Deserialize)]
struct Product {
    product_id: String,
    category: String,
}

/// One input line in `reduce-side` mode: an event has an `event_id`, a product has not.
#[derive(Debug, Deserialize)]
struct Either {
    event_id: Option<String>,
    user_id: Option<i64>,
    product_id: String,
    amount_cents: Option<i64>,
    category: Option<String>,
}

/// One output line.
#[derive(Debug, Serialize)]
struct Joined<'a> {
    event_id: &'a str,
    user_id: i64,
    product_id: &'a str,
    category: Option<&'a str>,
    amount_cents: i64,
}

fn joined(event: &Event, category: Option<&str>) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Joined {
        event_id: &event.event_id,
        user_id: event.user_id,
        product_id: &event.product_id,
        category,
        amount_cents: event.amount_cents,
    })?)
}

#[derive(Default)]
struct JoinProducts {
    mode: Mode,
    /// `broadcast`: product id to category, loaded by the first map call.
    products: Option<BTreeMap<String, String>>,
}

impl JoinProducts {
    /// The products side input as a map (loaded once per instance).
    fn products(&mut self) -> Result<&BTreeMap<String, String>> {
        if self.products.is_none() {
            let mut products = BTreeMap::new();
            for (line, record) in side_input(PRODUCTS).enumerate() {
                let record = record?;
                if record.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let product: Product = serde_json::from_slice(&record).map_err(|e| {
                    Error::failed(format!(
                        "side input {PRODUCTS}, record {}: not a product: {e}",
                        line + 1
                    ))
                })?;
                keep_smallest(&mut products, product.product_id, product.category);
            }
            self.products = Some(products);
        }
        Ok(self.products.as_ref().expect("loaded above"))
    }
}

/// Files `category` under `id`, unless a smaller one is there.
fn keep_smallest(products: &mut BTreeMap<String, String>, id: String, category: String) {
    match products.get_mut(&id) {
        Some(known) if *known <= category => {}
        Some(known) => *known = category,
        None => {
            products.insert(id, category);
        }
    }
}

impl Job for JoinProducts {
    fn configure(&mut self, params: &Params) -> Result<()> {
        params.expect_only(&["mode"])?;
        self.mode = match params.get("mode").unwrap_or("broadcast") {
            "broadcast" => Mode::Broadcast,
            "reduce-side" => Mode::ReduceSide,
            other => {
                return Err(Error::params(format!(
                    "mode={other}: use mode=broadcast (products as --side-input products=PATH) \
                     or mode=reduce-side (products as an --input)"
                )));
            }
        };
        Ok(())
    }

    fn map(&mut self, record: Record<'_>, out: &mut Emitter) -> Result<()> {
        match self.mode {
            Mode::Broadcast => {
                let event: Event = record.parse()?;
                let category = self.products()?.get(&event.product_id).map(String::as_str);
                out.emit(event.event_id.as_bytes(), joined(&event, category)?);
            }
            Mode::ReduceSide => {
                let either: Either = record.parse()?;
                let mut value;
                match either {
                    Either {
                        event_id: Some(event_id),
                        user_id: Some(user_id),
                        amount_cents: Some(amount_cents),
                        product_id,
                        ..
                    } => {
                        value = vec![EVENT_TAG];
                        let event = Event {
                            event_id,
                            user_id,
                            product_id,
                            amount_cents,
                        };
                        serde_json::to_writer(&mut value, &event)?;
                        out.emit(event.product_id.as_bytes(), value);
                    }
                    Either {
                        event_id: None,
                        category: Some(category),
                        product_id,
                        ..
                    } => {
                        value = vec![PRODUCT_TAG];
                        value.extend_from_slice(category.as_bytes());
                        out.emit(product_id.as_bytes(), value);
                    }
                    _ => {
                        return Err(Error::msg(
                            "neither an event (event_id, user_id, product_id, amount_cents) \
                             nor a product (product_id, category)",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn reduce(&mut self, _key: &[u8], values: &mut Values<'_>, out: &mut Output) -> Result<()> {
        match self.mode {
            Mode::Broadcast => values.try_for_each(|line| {
                out.record(line);
                Ok(())
            }),
            Mode::ReduceSide => {
                // Values come in byte order: the products (smallest category first), then
                // the events.
                let mut category: Option<String> = None;
                while let Some(value) = values.next() {
                    match value.split_first() {
                        Some((&PRODUCT_TAG, rest)) => {
                            if category.is_none() {
                                category = Some(std::str::from_utf8(rest)?.to_owned());
                            }
                        }
                        Some((&EVENT_TAG, rest)) => {
                            let event: Event = serde_json::from_slice(rest)?;
                            out.record(joined(&event, category.as_deref())?);
                        }
                        _ => return Err(Error::failed("a value without a known tag")),
                    }
                }
                Ok(())
            }
        }
    }
}

sandmill_sdk::export_job!(JoinProducts);

#[cfg(test)]
mod tests {
    use super::*;
    use sandmill_sdk::{Format, testing};

    const EVENTS: [&str; 3] = [
        r#"{"event_id":"e2","user_id":7,"product_id":"p1","ts":"2026-03-22T10:00:00Z","amount_cents":100}"#,
        r#"{"event_id":"e1","user_id":8,"product_id":"p9","ts":"2026-03-22T10:00:01Z","amount_cents":-5}"#,
        r#"{"event_id":"e3","user_id":7,"product_id":"p2","ts":"2026-03-22T10:00:02Z","amount_cents":0}"#,
    ];
    const PRODUCTS_JSON: [&str; 4] = [
        r#"{"product_id":"p1","category":"books","name":"A"}"#,
        r#"{"product_id":"p2","category":"toys","name":"B"}"#,
        "",
        r#"{"product_id":"p1","category":"art","name":"A again"}"#,
    ];
    const WANT: [&str; 3] = [
        r#"{"event_id":"e1","user_id":8,"product_id":"p9","category":null,"amount_cents":-5}"#,
        r#"{"event_id":"e2","user_id":7,"product_id":"p1","category":"art","amount_cents":100}"#,
        r#"{"event_id":"e3","user_id":7,"product_id":"p2","category":"toys","amount_cents":0}"#,
    ];

    #[test]
    fn broadcast_joins_each_event_with_its_products_category() {
        testing::set_side_input(PRODUCTS, &PRODUCTS_JSON);
        let out = testing::run(JoinProducts::default(), Format::JsonLines, None, &EVENTS).unwrap();
        assert_eq!(out, WANT);
        testing::clear_side_inputs();
    }

    #[test]
    fn reduce_side_gives_the_same_lines() {
        testing::clear_side_inputs();
        let mut records = EVENTS.to_vec();
        records.extend(PRODUCTS_JSON.iter().filter(|p| !p.is_empty()));
        let params = [("mode", "reduce-side")];
        let mut out = testing::run_with_params(
            JoinProducts::default(),
            &params,
            Format::JsonLines,
            None,
            &records,
        )
        .unwrap();
        out.sort();
        assert_eq!(out, WANT);
    }

    #[test]
    fn broadcast_without_the_side_input_fails_naming_it() {
        testing::clear_side_inputs();
        let err = testing::run(JoinProducts::default(), Format::JsonLines, None, &EVENTS)
            .unwrap_err()
            .message()
            .to_owned();
        assert!(err.contains("no side input named products"), "{err}");
    }

    #[test]
    fn an_unknown_mode_is_refused() {
        let mut job = JoinProducts::default();
        let params = Params::new(vec![("mode".into(), "hash".into())]);
        let err = job.configure(&params).unwrap_err();
        assert!(err.message().contains("mode=hash"), "{err:?}");
    }
}
