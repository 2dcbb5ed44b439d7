/* A test job for the parts of the SDK the examples leave out: parameters, the batch hook,
 * output partitions, a combine of the job's own, logs and counters. A word count, each word written to the
 * partition `initial=<its first byte>` (escaped), only words seen at least `--param min=N`
 * times (default 1). */
#include "sandmill/sandmill.h"

static sm_words words;
static int64_t min_count = 1;
static sm_partition partition;

static sm_status configure(const sm_params *params) {
    static const char *const known[] = {"min"};
    SM_TRY(sm_params_expect_only(params, known, 1));
    SM_TRY(sm_params_i64(params, "min", 1, &min_count));
    if (min_count < 1) {
        return sm_params_error("--param min=%lld: give a count of at least 1",
                               (long long)min_count);
    }
    return SM_OK;
}

/* The batch hook: one call for the whole batch. A record that is exactly `reject me` is bad. */
static sm_status map_batch(const sm_batch *batch, sm_emitter *out) {
    for (size_t i = 0; i < batch->len; i++) {
        sm_record line = sm_batch_record(batch, i);
        if (sm_bytes_eq(line.bytes, sm_str("reject me"))) {
            return sm_error_at(i, "record %zu of the batch asks to be rejected", i);
        }
        sm_bytes word;
        sm_words_start(&words, line.bytes);
        while (sm_words_next(&words, &word)) {
            sm_emit_i64(out, word, 1);
        }
    }
    sm_counter("lines", (int64_t)batch->len);
    return SM_OK;
}

static sm_status combine(sm_bytes word, sm_values *counts, sm_emitter *out) {
    int64_t total;
    SM_TRY(sm_values_sum_i64(counts, &total));
    sm_emit_i64(out, word, total);
    return SM_OK;
}

static sm_status reduce(sm_bytes word, sm_values *counts, sm_output *out) {
    int64_t total;
    SM_TRY(sm_values_sum_i64(counts, &total));
    if (total < min_count) {
        return SM_OK;
    }
    sm_partition_clear(&partition);
    sm_partition_key(&partition, sm_str("initial"), sm_bytes_of(word.ptr, 1));
    sm_field(out, word);
    sm_field_i64(out, total);
    sm_end_in(out, sm_partition_str(&partition));
    if (total >= 3) {
        sm_log(SM_INFO, "%.*s is frequent", (int)word.len, (const char *)word.ptr);
    }
    return SM_OK;
}

const sm_job sandmill_job = {
    .combiner = SM_COMBINE_PLUGIN,
    .configure = configure,
    .map_batch = map_batch,
    .combine = combine,
    .reduce = reduce,
};
