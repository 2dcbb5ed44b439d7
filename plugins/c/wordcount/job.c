/* Word count: `word\tcount` for every word in the input text lines.
 *
 * Words are the input lowercased (ASCII `A`-`Z` only) and split on every byte that is not
 * `[a-z0-9]` (see sm_words_start() in sandmill/sandmill.h). */
#include "sandmill/sandmill.h"

/* Reused for every line: once grown to the longest line, splitting allocates nothing. */
static sm_words words;

static sm_status map(const sm_record *line, sm_emitter *out) {
    sm_bytes word;
    sm_words_start(&words, line->bytes);
    while (sm_words_next(&words, &word)) {
        sm_emit_i64(out, word, 1);
    }
    return SM_OK;
}

static sm_status reduce(sm_bytes word, sm_values *counts, sm_output *out) {
    int64_t total;
    SM_TRY(sm_values_sum_i64(counts, &total));
    sm_field(out, word);
    sm_field_i64(out, total);
    sm_end(out);
    return SM_OK;
}

const sm_job sandmill_job = {
    /* The host adds up the counts of a word natively between map and reduce. */
    .combiner = SM_MERGE_SUM,
    .map = map,
    .reduce = reduce,
};
