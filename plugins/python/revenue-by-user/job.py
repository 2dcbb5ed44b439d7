"""Revenue by user: ``user_id<TAB>count<TAB>sum_cents`` from events
``{"user_id": <int>, "ts": "...", "event": "...", "amount_cents": <int>}`` given as JSON Lines
or as CSV with the header ``user_id,ts,event,amount_cents``. Output is sorted by user id: the
same, byte for byte, as the Rust ``plugins/revenue-by-user``.
"""

import sandmill
from sandmill import codec

#: The fields read from each event, with their types (as the Rust job's `Event` struct).
EVENT = {"user_id": int, "amount_cents": int}


class RevenueByUser(sandmill.Job):
    # The value is (count, sum): the host adds both lanes natively.
    combiner = sandmill.Merge.SUM

    def map_batch(self, batch, out):
        # The fast path: one (count, sum) per user of the batch, not one pair per event. An
        # event that does not parse still names its file and line: iterating the batch keeps
        # track of the record at hand.
        totals = {}
        for record in batch:
            event = record.parse(EVENT)
            total = totals.setdefault(event["user_id"], [0, 0])
            total[0] += 1
            total[1] += event["amount_cents"]
        for user, (count, cents) in totals.items():
            out.emit(codec.i64_key(user), codec.i64_lanes(count, codec.wrap_i64(cents)))

    def map(self, record, out):
        # What map_batch does, one record at a time (used by nothing here but tests).
        event = record.parse(EVENT)
        out.emit(codec.i64_key(event["user_id"]), codec.i64_lanes(1, event["amount_cents"]))

    def reduce(self, user, values, out):
        count, cents = values.sum_i64_lanes(2)
        out.fields(codec.decode_i64(user), count, cents)
