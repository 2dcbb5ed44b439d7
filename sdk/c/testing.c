/* testing.c: the native test runner and a stand-in of the host (log, counters, streamed
 * values), for test programs built with the machine's C compiler. Not part of a component:
 * this file compiles to nothing on wasm. */
#ifndef __wasm__

#include "sandmill_testing.h"

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The host stand-in ------------------------------------------------------------------ */

static struct {
    char *name;
    int64_t total;
} counters[256];
static size_t counters_len;
static size_t logs_len;
static char last_log[4097];

void sm__host_log(sm_log_level level, const char *message, size_t len) {
    (void)level;
    logs_len++;
    snprintf(last_log, sizeof last_log, "%.*s", (int)len, message);
}

void sm__host_counter(const char *name, size_t len, int64_t delta) {
    for (size_t i = 0; i < counters_len; i++) {
        if (strlen(counters[i].name) == len && memcmp(counters[i].name, name, len) == 0) {
            counters[i].total += delta;
            return;
        }
    }
    if (counters_len < sizeof counters / sizeof *counters) {
        counters[counters_len].name = sm__strdup(name, len);
        counters[counters_len++].total = delta;
    }
}

int64_t sm_test_counter(const char *name) {
    for (size_t i = 0; i < counters_len; i++) {
        if (strcmp(counters[i].name, name) == 0) {
            return counters[i].total;
        }
    }
    return 0;
}

size_t sm_test_logs(const char **last) {
    *last = last_log;
    return logs_len;
}

/* The values of the group being reduced beyond its first, handed out two at a time as the
 * host streams a large group through `next-values`. */
static const sm_bytes *stream;
static size_t stream_len, stream_next;

static bool pull(sm__chunk *chunk) {
    if (stream_next == stream_len) {
        return false;
    }
    size_t n = stream_len - stream_next < 2 ? stream_len - stream_next : 2;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += stream[stream_next + i].len;
    }
    chunk->data = malloc(bytes ? bytes : 1);
    chunk->ends = malloc(n * sizeof *chunk->ends);
    if (chunk->data == NULL || chunk->ends == NULL) {
        sm__abort("out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        sm_bytes v = stream[stream_next + i];
        if (v.len) {
            memcpy(chunk->data + at, v.ptr, v.len);
        }
        at += v.len;
        chunk->ends[i] = (uint32_t)at;
    }
    chunk->len = n;
    stream_next += n;
    return true;
}

/* ---- The runner ------------------------------------------------------------------------- */

/* A key/value pair, owned. */
typedef struct pair {
    sm_bytes key, value;
} pair;

static int compare_bytes(sm_bytes a, sm_bytes b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    return c != 0 ? c : (a.len > b.len) - (a.len < b.len);
}

static int compare_pairs(const void *a, const void *b) {
    const pair *x = a, *y = b;
    int c = compare_bytes(x->key, y->key);
    return c != 0 ? c : compare_bytes(x->value, y->value);
}

static sm_bytes copy_bytes(sm_bytes b) {
    uint8_t *p = malloc(b.len ? b.len : 1);
    if (p == NULL) {
        sm__abort("out of memory");
    }
    if (b.len) {
        memcpy(p, b.ptr, b.len);
    }
    return sm_bytes_of(p, b.len);
}

/* The emitter's pairs, copied and sorted by key, then value. */
static pair *sorted_pairs(const sm_emitter *out, size_t *len) {
    *len = sm_emitter_len(out);
    pair *pairs = malloc((*len ? *len : 1) * sizeof *pairs);
    if (pairs == NULL) {
        sm__abort("out of memory");
    }
    for (size_t i = 0; i < *len; i++) {
        sm_bytes k, v;
        sm_emitter_pair(out, i, &k, &v);
        pairs[i] = (pair){copy_bytes(k), copy_bytes(v)};
    }
    qsort(pairs, *len, sizeof *pairs, compare_pairs);
    return pairs;
}

static void free_pairs(pair *pairs, size_t len) {
    for (size_t i = 0; i < len; i++) {
        free((void *)pairs[i].key.ptr);
        free((void *)pairs[i].value.ptr);
    }
    free(pairs);
}

/* Calls `reduce` or `combine` on the group of the `n` values `values` with key `key`: the first
 * value comes with the "batch", the rest stream through the stand-in's `next-values`. */
static sm_status call_group(const sm_job *job, bool combine, sm_bytes key, const sm_bytes *values,
                            size_t n, sm_emitter *pairs_out, sm_output *out) {
    uint32_t first_end = (uint32_t)values[0].len;
    sm_values vals;
    stream = values + 1;
    stream_len = n - 1;
    stream_next = 0;
    sm__values_init(&vals, values[0].ptr, &first_end, 0, 1, n > 1 ? pull : NULL);
    sm__error_clear();
    sm_status status = combine ? sm__checked(job->combine(key, &vals, pairs_out), "combine")
                               : sm__checked(job->reduce(key, &vals, out), "reduce");
    sm__values_finish(&vals);
    return status;
}

/* The host's native merge of one group's values, as a plain reference. */
static sm_bytes merge(sm_combiner policy, const sm_bytes *values, size_t n) {
    switch (policy) {
    case SM_MERGE_SUM:
    case SM_MERGE_COUNT: {
        size_t lanes = values[0].len / 8;
        int64_t *total = calloc(lanes ? lanes : 1, sizeof *total);
        int64_t *lane = calloc(lanes ? lanes : 1, sizeof *lane);
        uint8_t *bytes = malloc(8 * lanes + 1);
        for (size_t i = 0; i < n; i++) {
            if (values[i].len != 8 * lanes) {
                sm__abort("test runner: sum merge of values of different lengths");
            }
            sm_decode_i64_lanes(values[i], lane, lanes);
            for (size_t l = 0; l < lanes; l++) {
                total[l] = (int64_t)((uint64_t)total[l] + (uint64_t)lane[l]);
            }
        }
        sm_i64_lanes(total, lanes, bytes);
        free(total);
        free(lane);
        return sm_bytes_of(bytes, 8 * lanes);
    }
    case SM_MERGE_MIN:
    case SM_MERGE_FIRST:
        return copy_bytes(values[0]);
    case SM_MERGE_MAX:
    case SM_MERGE_LAST:
        return copy_bytes(values[n - 1]);
    case SM_MERGE_APPEND:
    default: {
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            len += values[i].len;
        }
        uint8_t *bytes = malloc(len + 1);
        for (size_t i = 0, at = 0; i < n; at += values[i++].len) {
            if (values[i].len) {
                memcpy(bytes + at, values[i].ptr, values[i].len);
            }
        }
        return sm_bytes_of(bytes, len);
    }
    }
}

/* Runs `f` on each group of the sorted `pairs`. */
typedef sm_status (*group_fn)(const sm_job *job, sm_bytes key, const sm_bytes *values, size_t n,
                              void *state);

static sm_status for_each_group(const sm_job *job, const pair *pairs, size_t len, group_fn f,
                                void *state) {
    sm_bytes *values = malloc((len ? len : 1) * sizeof *values);
    sm_status status = SM_OK;
    for (size_t i = 0; i < len && status == SM_OK;) {
        size_t n = 0;
        sm_bytes key = pairs[i].key;
        while (i < len && sm_bytes_eq(pairs[i].key, key)) {
            values[n++] = pairs[i++].value;
        }
        status = f(job, key, values, n, state);
    }
    free(values);
    return status;
}

static sm_status merge_group(const sm_job *job, sm_bytes key, const sm_bytes *values, size_t n,
                             void *state) {
    sm_bytes merged = merge(job->combiner, values, n);
    sm_emit(state, key, merged);
    free((void *)merged.ptr);
    return SM_OK;
}

static sm_status combine_group(const sm_job *job, sm_bytes key, const sm_bytes *values, size_t n,
                               void *state) {
    return call_group(job, true, key, values, n, state, NULL);
}

static sm_status reduce_group(const sm_job *job, sm_bytes key, const sm_bytes *values, size_t n,
                              void *state) {
    return call_group(job, false, key, values, n, NULL, state);
}

/* Maps every record into `out`, through `map_batch` if the job has one. */
static sm_status map_all(const sm_job *job, sm_format format, const char *header,
                         const char *const *records, size_t n, sm_emitter *out) {
    sm_csv_header *h = format == SM_CSV && header != NULL ? sm__csv_header_new(sm_str(header))
                                                           : NULL;
    sm_status status = SM_OK;
    if (job->map_batch != NULL) {
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
            bytes += strlen(records[i]);
        }
        uint8_t *data = malloc(bytes + 1);
        uint32_t *ends = malloc((n ? n : 1) * sizeof *ends);
        for (size_t i = 0, at = 0; i < n; i++) {
            size_t len = strlen(records[i]);
            memcpy(data + at, records[i], len);
            at += len;
            ends[i] = (uint32_t)at;
        }
        sm_batch batch = {format, h, n, data, ends};
        sm__error_clear();
        sm__record_forget();
        status = sm__checked(job->map_batch(&batch, out), "map_batch");
        free(data);
        free(ends);
    } else {
        for (size_t i = 0; i < n && status == SM_OK; i++) {
            sm_record r = {sm_str(records[i]), format, h};
            sm__error_clear();
            sm__record_forget();
            status = sm__checked(job->map(&r, out), "map");
        }
    }
    sm__csv_header_free(h);
    return status;
}

sm_status sm_test_run(const sm_job *job, sm_format format, const char *header,
                      const char *const *records, size_t n, sm_test_output *result) {
    return sm_test_run_with(job, NULL, 0, format, header, records, n, result);
}

/* Calls the job's configure with `key=value` parameters. */
static sm_status configure(const sm_job *job, const char *const *pairs, size_t n) {
    sm_params params = {n, calloc(n + 1, sizeof(char *)), calloc(n + 1, sizeof(char *))};
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');
        size_t key_len = eq ? (size_t)(eq - pairs[i]) : strlen(pairs[i]);
        params.keys[i] = sm__strdup(pairs[i], key_len);
        params.values[i] = sm__strdup(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
    }
    sm__error_clear();
    sm_status status = job->configure != NULL ? sm__checked(job->configure(&params), "configure")
                                              : sm_params_expect_only(&params, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        free(params.keys[i]);
        free(params.values[i]);
    }
    free(params.keys);
    free(params.values);
    return status;
}

sm_status sm_test_run_with(const sm_job *job, const char *const *params, size_t n_params,
                           sm_format format, const char *header, const char *const *records,
                           size_t n, sm_test_output *result) {
    *result = (sm_test_output){0};
    sm_status status = configure(job, params, n_params);
    if (status != SM_OK) {
        return status;
    }
    if (job->map == NULL && job->map_batch == NULL) {
        return sm_fail("the job has neither map nor map_batch: set one in sandmill_job");
    }
    if (job->reduce == NULL) {
        return sm_fail("the job has no reduce: set one in sandmill_job");
    }
    sm_emitter mapped = {0};
    status = map_all(job, format, header, records, n, &mapped);
    size_t len = 0;
    pair *pairs = sorted_pairs(&mapped, &len);
    sm__emitter_free(&mapped);
    if (status == SM_OK && job->combiner != SM_COMBINE_NONE) {
        sm_emitter combined = {0};
        if (job->combiner == SM_COMBINE_PLUGIN && job->combine == NULL) {
            status = sm_fail("the job's combiner is SM_COMBINE_PLUGIN but it has no combine");
        } else {
            status = for_each_group(job, pairs, len,
                                    job->combiner == SM_COMBINE_PLUGIN ? combine_group
                                                                       : merge_group,
                                    &combined);
        }
        free_pairs(pairs, len);
        pairs = sorted_pairs(&combined, &len);
        sm__emitter_free(&combined);
    }
    sm_output out = {0};
    if (status == SM_OK) {
        status = for_each_group(job, pairs, len, reduce_group, &out);
    }
    free_pairs(pairs, len);
    if (status == SM_OK) {
        result->len = sm_output_len(&out);
        result->lines = calloc(result->len + 1, sizeof *result->lines);
        result->partitions = calloc(result->len + 1, sizeof *result->partitions);
        for (size_t i = 0; i < result->len; i++) {
            sm_bytes record;
            const char *partition;
            sm_output_record(&out, i, &record, &partition);
            result->lines[i] = sm__strdup((const char *)record.ptr, record.len);
            result->partitions[i] = partition ? sm__strdup(partition, strlen(partition)) : NULL;
        }
    }
    sm__output_free(&out);
    return status;
}

void sm_test_output_free(sm_test_output *out) {
    for (size_t i = 0; i < out->len; i++) {
        free(out->lines[i]);
        free(out->partitions[i]);
    }
    free(out->lines);
    free(out->partitions);
    *out = (sm_test_output){0};
}

static size_t passed, failed;

bool sm_test_check(const char *name, bool ok, const char *why) {
    if (ok) {
        passed++;
        printf("ok %s\n", name);
    } else {
        failed++;
        printf("FAILED %s: %s\n", name, why);
    }
    return ok;
}

bool sm_test_expect(const char *name, const sm_job *job, sm_format format, const char *header,
                    const char *const *records, size_t n, const char *const *want,
                    size_t want_len) {
    sm_test_output out;
    char why[1024];
    if (sm_test_run(job, format, header, records, n, &out) != SM_OK) {
        snprintf(why, sizeof why, "the job failed: %s", sm_error_message());
        return sm_test_check(name, false, why);
    }
    size_t common = out.len < want_len ? out.len : want_len, at = 0;
    while (at < common && strcmp(out.lines[at], want[at]) == 0) {
        at++;
    }
    bool ok = at == common && out.len == want_len;
    if (at < common) {
        snprintf(why, sizeof why, "line %zu: got \"%s\", want \"%s\"", at + 1, out.lines[at],
                 want[at]);
    } else if (!ok) {
        snprintf(why, sizeof why, "got %zu lines, want %zu (line %zu: got \"%s\", want \"%s\")",
                 out.len, want_len, at + 1, at < out.len ? out.lines[at] : "(none)",
                 at < want_len ? want[at] : "(none)");
    }
    sm_test_output_free(&out);
    return sm_test_check(name, ok, why);
}

int sm_test_summary(void) {
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#else
/* ISO C wants a declaration in every file. */
typedef int sm__empty_testing;
#endif
