/* emit.c: the buffers a job writes into: sm_emitter for key/value pairs, sm_output for output
 * records. Both are laid out as they cross the boundary (one byte buffer plus end offsets), so
 * emitting costs a memcpy; adapter.c hands the buffers to the host. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The host's offsets are 32-bit: a batch's output must stay under 4 GiB. */
static uint32_t offset(size_t len) {
    if (len > UINT32_MAX) {
        sm__abort("one batch produced more than the 4 GiB of output a batch may hold");
    }
    return (uint32_t)len;
}

static void append(uint8_t **data, size_t *len, size_t *cap, const void *bytes, size_t n) {
    if (n == 0) {
        return;
    }
    sm__reserve((void **)data, cap, *len + n, 1);
    memcpy(*data + *len, bytes, n);
    *len += n;
}

static void push_end(uint32_t **ends, size_t *len, size_t *cap, uint32_t end) {
    if (*len == *cap) {
        sm__reserve((void **)ends, cap, *len + 1, sizeof(uint32_t));
    }
    (*ends)[(*len)++] = end;
}

sm_bytes sm_str(const char *s) {
    return sm_bytes_of(s, strlen(s));
}

bool sm_bytes_eq(sm_bytes a, sm_bytes b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

void sm_emit(sm_emitter *out, sm_bytes key, sm_bytes value) {
    sm__reserve((void **)&out->data, &out->cap, out->len + key.len + value.len, 1);
    if (out->ends_len + 2 > out->ends_cap) {
        sm__reserve((void **)&out->ends, &out->ends_cap, out->ends_len + 2, sizeof(uint32_t));
    }
    if (key.len) {
        memcpy(out->data + out->len, key.ptr, key.len);
    }
    out->len += key.len;
    out->ends[out->ends_len++] = offset(out->len);
    if (value.len) {
        memcpy(out->data + out->len, value.ptr, value.len);
    }
    out->len += value.len;
    out->ends[out->ends_len++] = offset(out->len);
}

void sm_emit_i64(sm_emitter *out, sm_bytes key, int64_t value) {
    uint8_t bytes[8];
    sm_i64_key(value, bytes);
    sm_emit(out, key, sm_bytes_of(bytes, 8));
}

void sm_emit_i64_lanes(sm_emitter *out, sm_bytes key, const int64_t *lanes, size_t n) {
    uint8_t small[8 * 8];
    uint8_t *bytes = n <= 8 ? small : malloc(8 * n);
    if (bytes == NULL) {
        sm__abort("out of memory");
    }
    sm_i64_lanes(lanes, n, bytes);
    sm_emit(out, key, sm_bytes_of(bytes, 8 * n));
    if (bytes != small) {
        free(bytes);
    }
}

size_t sm_emitter_len(const sm_emitter *out) {
    return out->ends_len / 2;
}

void sm_emitter_pair(const sm_emitter *out, size_t i, sm_bytes *key, sm_bytes *value) {
    size_t start = i == 0 ? 0 : out->ends[2 * i - 1];
    size_t k = out->ends[2 * i], v = out->ends[2 * i + 1];
    *key = sm_bytes_of(out->data + start, k - start);
    *value = sm_bytes_of(out->data + k, v - k);
}

void sm__emitter_free(sm_emitter *out) {
    free(out->data);
    free(out->ends);
    memset(out, 0, sizeof *out);
}

/* The route of `partition`: 1 + its index among the names used so far. */
static uint32_t route(sm_output *out, const char *partition) {
    for (size_t i = out->partitions_len; i > 0; i--) {
        if (strcmp(out->partitions[i - 1], partition) == 0) {
            return (uint32_t)i;
        }
    }
    sm__reserve((void **)&out->partitions, &out->partitions_cap, out->partitions_len + 1,
                sizeof(char *));
    size_t n = strlen(partition);
    char *copy = malloc(n + 1);
    if (copy == NULL) {
        sm__abort("out of memory");
    }
    memcpy(copy, partition, n + 1);
    out->partitions[out->partitions_len++] = copy;
    return (uint32_t)out->partitions_len;
}

static void end_record(sm_output *out, uint32_t to) {
    push_end(&out->ends, &out->ends_len, &out->ends_cap, offset(out->len));
    out->fields = 0;
    if (to != 0 && out->routes_len == 0) {
        /* The records so far went to the top level. */
        sm__reserve((void **)&out->routes, &out->routes_cap, out->ends_len, sizeof(uint32_t));
        memset(out->routes, 0, (out->ends_len - 1) * sizeof(uint32_t));
        out->routes_len = out->ends_len - 1;
    }
    if (to != 0 || out->routes_len != 0) {
        push_end(&out->routes, &out->routes_len, &out->routes_cap, to);
    }
}

void sm_write(sm_output *out, sm_bytes record) {
    append(&out->data, &out->len, &out->cap, record.ptr, record.len);
    end_record(out, 0);
}

void sm_write_in(sm_output *out, const char *partition, sm_bytes record) {
    append(&out->data, &out->len, &out->cap, record.ptr, record.len);
    end_record(out, route(out, partition));
}

static void separate(sm_output *out) {
    if (out->fields++ > 0) {
        append(&out->data, &out->len, &out->cap, "\t", 1);
    }
}

void sm_field(sm_output *out, sm_bytes field) {
    separate(out);
    append(&out->data, &out->len, &out->cap, field.ptr, field.len);
}

void sm_field_str(sm_output *out, const char *field) {
    sm_field(out, sm_str(field));
}

/* Writes `v` in decimal, preceded by `-` if `negative`. */
static void field_decimal(sm_output *out, bool negative, uint64_t v) {
    char digits[21];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (negative) {
        digits[--at] = '-';
    }
    sm_field(out, sm_bytes_of(digits + at, sizeof digits - at));
}

void sm_field_i64(sm_output *out, int64_t field) {
    /* The magnitude as unsigned, so that INT64_MIN does not overflow. */
    uint64_t magnitude = field < 0 ? 0 - (uint64_t)field : (uint64_t)field;
    field_decimal(out, field < 0, magnitude);
}

void sm_field_u64(sm_output *out, uint64_t field) {
    field_decimal(out, false, field);
}

void sm_end(sm_output *out) {
    end_record(out, 0);
}

void sm_end_in(sm_output *out, const char *partition) {
    end_record(out, route(out, partition));
}

size_t sm_output_len(const sm_output *out) {
    return out->ends_len;
}

void sm_output_record(const sm_output *out, size_t i, sm_bytes *record, const char **partition) {
    size_t start = i == 0 ? 0 : out->ends[i - 1];
    *record = sm_bytes_of(out->data + start, out->ends[i] - start);
    uint32_t to = i < out->routes_len ? out->routes[i] : 0;
    *partition = to == 0 ? NULL : out->partitions[to - 1];
}

void sm__output_free(sm_output *out) {
    for (size_t i = 0; i < out->partitions_len; i++) {
        free(out->partitions[i]);
    }
    free(out->partitions);
    free(out->data);
    free(out->ends);
    free(out->routes);
    memset(out, 0, sizeof *out);
}
