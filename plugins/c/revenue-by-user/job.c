/* Revenue by user: `user_id\tcount\tsum_cents` from events
 * `{"user_id": <int>, "ts": "...", "event": "...", "amount_cents": <int>}` given as JSON Lines or
 * as CSV with the header `user_id,ts,event,amount_cents`. Output is sorted by user id. */
#include "sandmill/sandmill.h"

static sm_status map(const sm_record *event, sm_emitter *out) {
    int64_t user_id, amount_cents;
    SM_TRY(sm_record_i64(event, "user_id", &user_id));
    SM_TRY(sm_record_i64(event, "amount_cents", &amount_cents));
    /* The key sorts by number; the value is (count, sum) in two lanes. */
    uint8_t user[8];
    sm_i64_key(user_id, user);
    int64_t lanes[2] = {1, amount_cents};
    sm_emit_i64_lanes(out, sm_bytes_of(user, 8), lanes, 2);
    return SM_OK;
}

static sm_status reduce(sm_bytes user, sm_values *values, sm_output *out) {
    int64_t user_id, totals[2];
    SM_TRY(sm_decode_i64(user, &user_id));
    SM_TRY(sm_values_sum_i64_lanes(values, totals, 2));
    sm_field_i64(out, user_id);
    sm_field_i64(out, totals[0]);
    sm_field_i64(out, totals[1]);
    sm_end(out);
    return SM_OK;
}

const sm_job sandmill_job = {
    /* The value is (count, sum): the host adds both lanes natively. */
    .combiner = SM_MERGE_SUM,
    .map = map,
    .reduce = reduce,
};
