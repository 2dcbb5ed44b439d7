// Revenue by user: `user_id<TAB>count<TAB>sum_cents` from events
// `{"user_id": <int>, "ts": "...", "event": "...", "amount_cents": <int>}` given as JSON Lines or
// as CSV with the header `user_id,ts,event,amount_cents`. Output is sorted by user id.

import { Combiner, decodeI64, i64, i64Key, i64Lanes, Merge } from "./sandmill/index.js";

export default class RevenueByUser {
  combiner() {
    // The value is (count, sum): the host adds both lanes natively.
    return Combiner.merge(Merge.sum);
  }

  map(record, out) {
    const event = record.parse();
    const user = i64(event.user_id, "user_id");
    const amount = i64(event.amount_cents, "amount_cents");
    out.emit(i64Key(user), i64Lanes([1, amount]));
  }

  reduce(user, values, out) {
    const [count, sum] = values.sumI64Lanes(2);
    out.fields(decodeI64(user), count, sum);
  }
}
