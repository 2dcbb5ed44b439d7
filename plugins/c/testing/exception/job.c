/* A test job whose errors must reach the user: map fails (sm_fail, the job's own fault) on a
 * record containing `boom`, through a helper so that the trace has two calls; reduce fails on
 * the key `bang`; and a record containing `assert` fails an assert(), which traps. Otherwise a
 * word count. */
#include "sandmill/sandmill.h"

#include <assert.h>
#include <string.h>

static sm_words words;

static bool contains(sm_bytes bytes, const char *word) {
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= bytes.len; i++) {
        if (memcmp(bytes.ptr + i, word, n) == 0) {
            return true;
        }
    }
    return false;
}

static sm_status check(sm_bytes line) {
    if (contains(line, "boom")) {
        return sm_fail("the record contains boom (%zu bytes)", line.len);
    }
    assert(!contains(line, "assert"));
    return SM_OK;
}

static sm_status map(const sm_record *line, sm_emitter *out) {
    SM_TRY(check(line->bytes));
    sm_bytes word;
    sm_words_start(&words, line->bytes);
    while (sm_words_next(&words, &word)) {
        sm_emit_i64(out, word, 1);
    }
    return SM_OK;
}

static sm_status reduce(sm_bytes word, sm_values *counts, sm_output *out) {
    if (sm_bytes_eq(word, sm_str("bang"))) {
        return sm_fail("reduce met the key bang");
    }
    int64_t total;
    SM_TRY(sm_values_sum_i64(counts, &total));
    sm_field(out, word);
    sm_field_i64(out, total);
    sm_end(out);
    return SM_OK;
}

const sm_job sandmill_job = {
    .combiner = SM_MERGE_SUM,
    .map = map,
    .reduce = reduce,
};
