/* values.c: the values of one key, read one at a time: first the part that came with the
 * batch, then, for the batch's last group when the host says it continues, the chunks pulled
 * through `host.next-values` (adapter.c says how to pull). */
#include "internal.h"

#include <stdlib.h>

void sm__values_init(sm_values *values, const uint8_t *data, const uint32_t *ends, size_t first,
                     size_t end, sm__pull pull) {
    values->data = data;
    values->ends = ends;
    values->next = first;
    values->end = end;
    values->start = first == 0 ? 0 : ends[first - 1];
    values->chunk = (sm__chunk){0};
    values->chunk_next = 0;
    values->pull = pull;
}

void sm__values_finish(sm_values *values) {
    free(values->chunk.data);
    free(values->chunk.ends);
    values->chunk = (sm__chunk){0};
    values->chunk_next = 0;
}

bool sm_values_next(sm_values *values, sm_bytes *value) {
    if (values->next < values->end) {
        size_t start = values->start, end = values->ends[values->next];
        values->start = end;
        values->next++;
        *value = sm_bytes_of(values->data + start, end - start);
        return true;
    }
    while (values->chunk_next == values->chunk.len) {
        if (values->pull == NULL) {
            return false;
        }
        sm__values_finish(values);
        if (!values->pull(&values->chunk)) {
            /* Exhausted values stay exhausted and do not pull again. */
            values->pull = NULL;
            values->chunk = (sm__chunk){0};
            return false;
        }
    }
    size_t i = values->chunk_next++;
    size_t start = i == 0 ? 0 : values->chunk.ends[i - 1];
    *value = sm_bytes_of(values->chunk.data + start, values->chunk.ends[i] - start);
    return true;
}

uint64_t sm_values_count(sm_values *values) {
    uint64_t n = 0;
    sm_bytes v;
    while (sm_values_next(values, &v)) {
        n++;
    }
    return n;
}

sm_status sm_values_sum_i64(sm_values *values, int64_t *sum) {
    return sm_values_sum_i64_lanes(values, sum, 1);
}

sm_status sm_values_sum_i64_lanes(sm_values *values, int64_t *sums, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sums[i] = 0;
    }
    int64_t small[8];
    int64_t *lanes = n <= 8 ? small : malloc(n * sizeof *lanes);
    if (lanes == NULL) {
        sm__abort("out of memory");
    }
    sm_status status = SM_OK;
    sm_bytes v;
    while (status == SM_OK && sm_values_next(values, &v)) {
        status = sm_decode_i64_lanes(v, lanes, n);
        for (size_t i = 0; status == SM_OK && i < n; i++) {
            /* Wrapping, as the host's native sum merge adds. */
            sums[i] = (int64_t)((uint64_t)sums[i] + (uint64_t)lanes[i]);
        }
    }
    if (lanes != small) {
        free(lanes);
    }
    return status;
}
