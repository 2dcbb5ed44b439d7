/* partition.c: output partition names, `key=value` directory levels escaped as the Rust SDK's
 * `partition` module escapes them (see its docs for how this relates to Hive and Spark). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Whether the escape keeps `b` as it is (anywhere but at the start): ASCII letters, digits and
 * `-_.+`, the only characters besides `=` and `%` that the host accepts in a segment. */
static bool keeps(uint8_t b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           b == '-' || b == '_' || b == '.' || b == '+';
}

static void push(sm_partition *p, const char *bytes, size_t n) {
    /* One more for the NUL that sm_partition_str() returns. */
    sm__reserve((void **)&p->name, &p->cap, p->len + n + 1, 1);
    memcpy(p->name + p->len, bytes, n);
    p->len += n;
    p->name[p->len] = '\0';
}

void sm_partition_escape(sm_partition *p, sm_bytes value) {
    static const char hex[] = "0123456789ABCDEF";
    bool part = value.len >= 5 && memcmp(value.ptr, "part-", 5) == 0;
    for (size_t i = 0; i < value.len; i++) {
        uint8_t b = value.ptr[i];
        bool leading = i == 0 && (b == '.' || b == '_' || part);
        if (keeps(b) && !leading) {
            push(p, (const char *)&b, 1);
        } else {
            char escaped[3] = {'%', hex[b >> 4], hex[b & 15]};
            push(p, escaped, 3);
        }
    }
    if (p->name == NULL) {
        push(p, "", 0);
    }
}

void sm_partition_key(sm_partition *p, sm_bytes key, sm_bytes value) {
    if (p->len > 0) {
        push(p, "/", 1);
    }
    sm_partition_escape(p, key);
    push(p, "=", 1);
    sm_partition_escape(p, value);
}

const char *sm_partition_str(const sm_partition *p) {
    return p->name == NULL ? "" : p->name;
}

void sm_partition_clear(sm_partition *p) {
    p->len = 0;
    if (p->name != NULL) {
        p->name[0] = '\0';
    }
}

void sm_partition_free(sm_partition *p) {
    free(p->name);
    memset(p, 0, sizeof *p);
}
