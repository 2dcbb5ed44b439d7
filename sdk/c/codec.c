/* codec.c: integers as keys and values whose byte order is their numeric order (big-endian;
 * for i64 the sign bit flipped), the encoding the host's native sum and count merges read. */
#include "internal.h"

#define SIGN ((uint64_t)1 << 63)

void sm_u64_key(uint64_t v, uint8_t out[8]) {
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

void sm_i64_key(int64_t v, uint8_t out[8]) {
    sm_u64_key((uint64_t)v ^ SIGN, out);
}

void sm_i64_lanes(const int64_t *v, size_t n, uint8_t *out) {
    for (size_t i = 0; i < n; i++) {
        sm_i64_key(v[i], out + 8 * i);
    }
}

static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

sm_status sm_decode_u64(sm_bytes bytes, uint64_t *v) {
    if (bytes.len != 8) {
        return sm__error(SM__RECORD, -1, NULL, 0, NULL, "expected an 8-byte number, got %zu bytes",
                         bytes.len);
    }
    *v = be64(bytes.ptr);
    return SM_OK;
}

sm_status sm_decode_i64(sm_bytes bytes, int64_t *v) {
    uint64_t u;
    sm_status status = sm_decode_u64(bytes, &u);
    if (status == SM_OK) {
        *v = (int64_t)(u ^ SIGN);
    }
    return status;
}

sm_status sm_decode_i64_lanes(sm_bytes bytes, int64_t *v, size_t n) {
    if (bytes.len != 8 * n) {
        return sm__error(SM__RECORD, -1, NULL, 0, NULL,
                         "expected %zu 8-byte numbers (%zu bytes), got %zu bytes", n, 8 * n,
                         bytes.len);
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = (int64_t)(be64(bytes.ptr + 8 * i) ^ SIGN);
    }
    return SM_OK;
}
