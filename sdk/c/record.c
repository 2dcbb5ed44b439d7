/* record.c: reading fields of structured input records: JSON Lines documents (checked whole,
 * as serde_json reads them) and CSV rows (RFC 4180 quoting, as the Rust SDK's csv_core reader
 * reads them), fields found by name. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Unquoted CSV fields and their places, reused between calls. */
static uint8_t *scratch;
static size_t scratch_cap;
static sm_bytes *row_fields;
static size_t row_fields_cap;
static size_t *row_ends;
static size_t row_ends_cap;

/* Unescaped JSON keys, and the string value of the member asked for. */
typedef struct buffer {
    uint8_t *data;
    size_t cap;
} buffer;
static buffer key_buf, value_buf;

#define record_error(...) sm__error(SM__RECORD, -1, NULL, 0, NULL, __VA_ARGS__)

/* ---- CSV -------------------------------------------------------------------------------- */

/* Fields of one line into `out` (which has room for `line.len + 1` bytes), ends into `ends`
 * (room for `line.len + 1` items); returns how many. The states are csv_core's: a quote only
 * opens a quoted field at its start, `""` in one is a quote, text after a closing quote is
 * kept, and an unquoted CR or LF ends the record (what follows is ignored). */
static size_t csv_split(sm_bytes line, uint8_t *out, size_t *ends) {
    enum { START_FIELD, IN_FIELD, IN_QUOTED, AFTER_QUOTE } state = START_FIELD;
    if (line.len == 0) {
        /* One empty field, as RFC 4180 reads an empty line. */
        ends[0] = 0;
        return 1;
    }
    size_t i = 0, o = 0, n = 0;
    while (i < line.len && (line.ptr[i] == '\r' || line.ptr[i] == '\n')) {
        i++;
    }
    if (i == line.len) {
        return 0;
    }
    for (; i < line.len; i++) {
        uint8_t c = line.ptr[i];
        bool term = c == '\r' || c == '\n';
        switch (state) {
        case START_FIELD:
        case IN_FIELD:
        case AFTER_QUOTE:
            if (state == START_FIELD && c == '"') {
                state = IN_QUOTED;
            } else if (state == AFTER_QUOTE && c == '"') {
                out[o++] = '"';
                state = IN_QUOTED;
            } else if (c == ',') {
                ends[n++] = o;
                state = START_FIELD;
            } else if (term) {
                ends[n++] = o;
                return n;
            } else {
                out[o++] = c;
                state = IN_FIELD;
            }
            break;
        case IN_QUOTED:
            if (c == '"') {
                state = AFTER_QUOTE;
            } else {
                out[o++] = c;
            }
            break;
        }
    }
    ends[n++] = o;
    return n;
}

/* Splits `line` into the shared scratch space: `*count` fields into `row_fields`. */
static void csv_row(sm_bytes line, size_t *count) {
    sm__reserve((void **)&scratch, &scratch_cap, line.len + 1, 1);
    sm__reserve((void **)&row_ends, &row_ends_cap, line.len + 1, sizeof *row_ends);
    size_t *ends = row_ends;
    size_t n = csv_split(line, scratch, ends);
    sm__reserve((void **)&row_fields, &row_fields_cap, n, sizeof *row_fields);
    for (size_t f = 0, start = 0; f < n; start = ends[f++]) {
        row_fields[f] = sm_bytes_of(scratch + start, ends[f] - start);
    }
    *count = n;
}

void sm_csv_row(sm_bytes line, sm_bytes *fields, size_t max, size_t *count) {
    csv_row(line, count);
    for (size_t f = 0; f < *count && f < max; f++) {
        fields[f] = row_fields[f];
    }
}

sm_csv_header *sm__csv_header_new(sm_bytes line) {
    size_t n;
    csv_row(line, &n);
    sm_csv_header *h = calloc(1, sizeof *h);
    uint8_t *storage = malloc(line.len + 1);
    sm_bytes *names = malloc((n ? n : 1) * sizeof *names);
    if (h == NULL || storage == NULL || names == NULL) {
        sm__abort("out of memory");
    }
    size_t at = 0;
    for (size_t f = 0; f < n; f++) {
        if (row_fields[f].len) {
            memcpy(storage + at, row_fields[f].ptr, row_fields[f].len);
        }
        names[f] = sm_bytes_of(storage + at, row_fields[f].len);
        at += row_fields[f].len;
    }
    *h = (sm_csv_header){.len = n, .names = names, .storage = storage};
    return h;
}

void sm__csv_header_free(sm_csv_header *header) {
    if (header != NULL) {
        free(header->names);
        free(header->storage);
        free(header);
    }
}

/* The field `name` of a CSV record into `*field`. */
static sm_status csv_field(const sm_record *r, const char *name, sm_bytes *field) {
    if (r->header == NULL) {
        return record_error("CSV input has no header row");
    }
    size_t n;
    csv_row(r->bytes, &n);
    if (n != r->header->len) {
        return sm__error(SM__RECORD, -1, NULL, 0, NULL,
                         "CSV row has %zu fields but the header has %zu", n, r->header->len);
    }
    sm_bytes want = sm_str(name);
    size_t found = SIZE_MAX;
    for (size_t f = 0; f < n; f++) {
        if (sm_bytes_eq(r->header->names[f], want)) {
            if (found != SIZE_MAX) {
                return record_error("CSV row does not fit: duplicate field `%s`", name);
            }
            found = f;
        }
    }
    if (found == SIZE_MAX) {
        return record_error("CSV row does not fit: missing field `%s`", name);
    }
    *field = row_fields[found];
    return SM_OK;
}

/* Whether `p[0..n)` ends (at_end) or starts with a Unicode White_Space character, as Rust's
 * `str::trim` strips them; returns its length in bytes, or 0. */
static size_t space_at(const uint8_t *p, size_t n, bool at_end) {
    static const char *const multi[] = {
        "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
        "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87",
        "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
    };
    if (n == 0) {
        return 0;
    }
    uint8_t c = at_end ? p[n - 1] : p[0];
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
        return 1;
    }
    for (size_t i = 0; i < sizeof multi / sizeof *multi; i++) {
        size_t len = strlen(multi[i]);
        if (len <= n && memcmp(at_end ? p + n - len : p, multi[i], len) == 0) {
            return len;
        }
    }
    return 0;
}

/* A decimal i64 as Rust's `i64::from_str` reads it: an optional sign, then ASCII digits. */
static bool parse_i64(sm_bytes text, int64_t *value) {
    size_t i = 0;
    bool negative = false;
    if (text.len > 0 && (text.ptr[0] == '+' || text.ptr[0] == '-')) {
        negative = text.ptr[0] == '-';
        i = 1;
    }
    if (i == text.len) {
        return false;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < text.len; i++) {
        uint8_t d = text.ptr[i];
        if (d < '0' || d > '9' || v > (limit - (d - '0')) / 10) {
            return false;
        }
        v = v * 10 + (d - '0');
    }
    *value = negative ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static sm_status csv_i64(const sm_record *r, const char *name, int64_t *value) {
    sm_bytes field;
    sm_status status = csv_field(r, name, &field);
    if (status != SM_OK) {
        return status;
    }
    sm_bytes text = field;
    for (size_t n; (n = space_at(text.ptr, text.len, false)) > 0;) {
        text = sm_bytes_of(text.ptr + n, text.len - n);
    }
    for (size_t n; (n = space_at(text.ptr, text.len, true)) > 0;) {
        text.len -= n;
    }
    if (!parse_i64(text, value)) {
        return sm__error(SM__RECORD, -1, NULL, 0, NULL,
                         "CSV row does not fit: \"%.*s\" (field `%s`) is not a valid i64",
                         (int)(field.len > 200 ? 200 : field.len), (const char *)field.ptr,
                         name);
    }
    return SM_OK;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* serde_json's default nesting limit. */
#define JSON_DEPTH 128

typedef struct json {
    const uint8_t *start, *p, *end;
    /* The first error, if any. */
    const char *error;
    size_t error_at;
} json;

static bool fail(json *j, const char *what) {
    if (j->error == NULL) {
        j->error = what;
        j->error_at = (size_t)(j->p - j->start) + 1;
    }
    return false;
}

static void skip_ws(json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool literal(json *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return fail(j, "expected value");
    }
    j->p += n;
    return true;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        return (c | 0x20) - 'a' + 10;
    }
    return -1;
}

static bool hex4(json *j, uint32_t *unit) {
    if (j->end - j->p < 4) {
        j->p = j->end;
        return fail(j, "EOF while parsing a string");
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(j->p[i]);
        if (d < 0) {
            return fail(j, "invalid escape");
        }
        v = v << 4 | (uint32_t)d;
    }
    j->p += 4;
    *unit = v;
    return true;
}

static void put(buffer *out, size_t *len, const uint8_t *bytes, size_t n) {
    if (out != NULL && n > 0) {
        sm__reserve((void **)&out->data, &out->cap, *len + n, 1);
        memcpy(out->data + *len, bytes, n);
    }
    *len += n;
}

static void put_utf8(buffer *out, size_t *len, uint32_t c) {
    uint8_t b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (uint8_t)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (uint8_t)(0xc0 | c >> 6);
        b[1] = (uint8_t)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (uint8_t)(0xe0 | c >> 12);
        b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        b[2] = (uint8_t)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | c >> 18);
        b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
        b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        b[3] = (uint8_t)(0x80 | (c & 0x3f));
        n = 4;
    }
    put(out, len, b, n);
}

/* A string at `j->p` (at its opening quote), unescaped into `out` from `*len` on when `out`
 * is not NULL (then `*len` ends as the end of the text), else only checked. */
static bool string(json *j, buffer *out, size_t *len) {
    j->p++;
    for (;;) {
        const uint8_t *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && *j->p >= 0x20) {
            j->p++;
        }
        put(out, len, run, (size_t)(j->p - run));
        if (j->p == j->end) {
            return fail(j, "EOF while parsing a string");
        }
        uint8_t c = *j->p++;
        if (c == '"') {
            return true;
        }
        if (c < 0x20) {
            j->p--;
            return fail(j, "control character (\\u0000-\\u001F) found while parsing a string");
        }
        if (j->p == j->end) {
            return fail(j, "EOF while parsing a string");
        }
        uint8_t e = *j->p++;
        static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *s = memchr(simple, e, sizeof simple - 1);
        if (s != NULL && (s - simple) % 2 == 0) {
            put(out, len, (const uint8_t *)s + 1, 1);
            continue;
        }
        if (e != 'u') {
            j->p--;
            return fail(j, "invalid escape");
        }
        uint32_t unit;
        if (!hex4(j, &unit)) {
            return false;
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) {
            return fail(j, "lone leading surrogate in hex escape");
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
            uint32_t low;
            if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                return fail(j, "lone leading surrogate in hex escape");
            }
            j->p += 2;
            if (!hex4(j, &low)) {
                return false;
            }
            if (low < 0xdc00 || low > 0xdfff) {
                return fail(j, "lone leading surrogate in hex escape");
            }
            unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        }
        put_utf8(out, len, unit);
    }
}

/* A number at `j->p`. `*integer` tells whether it has neither fraction nor exponent and fits
 * an i64 (then in `*value`); `*big` whether it is an integer too large for one. */
static bool number(json *j, bool *integer, bool *big, int64_t *value) {
    const uint8_t *start = j->p;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p == j->end || *j->p < '0' || *j->p > '9') {
        return fail(j, "invalid number");
    }
    if (*j->p == '0') {
        j->p++;
        if (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            return fail(j, "invalid number");
        }
    } else {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    const uint8_t *int_end = j->p;
    bool fraction = false;
    if (j->p < j->end && *j->p == '.') {
        fraction = true;
        j->p++;
        if (j->p == j->end || *j->p < '0' || *j->p > '9') {
            return fail(j, "invalid number");
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        fraction = true;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p == j->end || *j->p < '0' || *j->p > '9') {
            return fail(j, "invalid number");
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }
    *integer = false;
    *big = false;
    if (!fraction) {
        *integer = parse_i64(sm_bytes_of(start, (size_t)(int_end - start)), value);
        *big = !*integer;
    }
    return true;
}

static bool value(json *j, int depth);

static bool container(json *j, int depth, bool object) {
    if (depth >= JSON_DEPTH) {
        return fail(j, "recursion limit exceeded");
    }
    uint8_t close = object ? '}' : ']';
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        skip_ws(j);
        if (object) {
            if (j->p == j->end || *j->p != '"') {
                return fail(j, j->p == j->end ? "EOF while parsing an object" : "key must be a string");
            }
            size_t len = 0;
            if (!string(j, NULL, &len)) {
                return false;
            }
            skip_ws(j);
            if (j->p == j->end || *j->p != ':') {
                return fail(j, "expected `:`");
            }
            j->p++;
        }
        if (!value(j, depth + 1)) {
            return false;
        }
        skip_ws(j);
        if (j->p == j->end) {
            return fail(j, object ? "EOF while parsing an object" : "EOF while parsing a list");
        }
        if (*j->p == close) {
            j->p++;
            return true;
        }
        if (*j->p != ',') {
            return fail(j, object ? "expected `,` or `}`" : "expected `,` or `]`");
        }
        j->p++;
    }
}

static bool value(json *j, int depth) {
    skip_ws(j);
    if (j->p == j->end) {
        return fail(j, "EOF while parsing a value");
    }
    switch (*j->p) {
    case '{':
        return container(j, depth, true);
    case '[':
        return container(j, depth, false);
    case '"': {
        size_t len = 0;
        return string(j, NULL, &len);
    }
    case 't':
        return literal(j, "true");
    case 'f':
        return literal(j, "false");
    case 'n':
        return literal(j, "null");
    default: {
        bool integer, big;
        int64_t v;
        return number(j, &integer, &big, &v);
    }
    }
}

/* The top-level members of the JSON Lines record read last: a record is parsed (and checked
 * whole) once, however many fields the job reads from it. */
typedef struct span {
    /* The key: raw bytes of the record when it has no escape, else at `key_at` in key_buf. */
    sm_bytes key;
    bool key_in_buf;
    size_t key_at;
    /* The value's text in the record. */
    const uint8_t *value;
    size_t value_len;
} span;

static struct {
    /* The record these members are of; NULL when none is (sm__record_forget()). */
    const uint8_t *ptr;
    size_t len;
    span *members;
    size_t members_len, members_cap;
} parsed;

void sm__record_forget(void) {
    parsed.ptr = NULL;
}

/* Parses the record `r` into `parsed`, checking the whole document. */
static sm_status json_parse(const sm_record *r) {
    if (parsed.ptr == r->bytes.ptr && parsed.len == r->bytes.len && parsed.ptr != NULL) {
        return SM_OK;
    }
    parsed.ptr = NULL;
    parsed.members_len = 0;
    json j = {r->bytes.ptr, r->bytes.ptr, r->bytes.ptr + r->bytes.len, NULL, 0};
    size_t keys_len = 0;
    skip_ws(&j);
    if (j.p == j.end || *j.p != '{') {
        if (value(&j, 0)) {
            return record_error("invalid JSON: expected an object {...}, got another value");
        }
        goto invalid;
    }
    j.p++;
    skip_ws(&j);
    for (bool first = true; !(j.p < j.end && *j.p == '}'); first = false) {
        if (!first) {
            if (j.p == j.end || *j.p != ',') {
                fail(&j, j.p == j.end ? "EOF while parsing an object" : "expected `,` or `}`");
                goto invalid;
            }
            j.p++;
            skip_ws(&j);
        }
        if (j.p == j.end || *j.p != '"') {
            fail(&j, j.p == j.end ? "EOF while parsing an object" : "key must be a string");
            goto invalid;
        }
        const uint8_t *key = j.p;
        size_t ignored = 0;
        if (!string(&j, NULL, &ignored)) {
            goto invalid;
        }
        span m = {0};
        sm_bytes raw = sm_bytes_of(key + 1, (size_t)(j.p - 2 - key));
        if (memchr(raw.ptr, '\\', raw.len) == NULL) {
            m.key = raw;
        } else {
            json again = {j.start, key, j.p, NULL, 0};
            m.key_in_buf = true;
            m.key_at = keys_len;
            string(&again, &key_buf, &keys_len);
            m.key.len = keys_len - m.key_at;
        }
        skip_ws(&j);
        if (j.p == j.end || *j.p != ':') {
            fail(&j, "expected `:`");
            goto invalid;
        }
        j.p++;
        skip_ws(&j);
        m.value = j.p;
        if (!value(&j, 1)) {
            goto invalid;
        }
        m.value_len = (size_t)(j.p - m.value);
        sm__reserve((void **)&parsed.members, &parsed.members_cap, parsed.members_len + 1,
                    sizeof(span));
        parsed.members[parsed.members_len++] = m;
        skip_ws(&j);
    }
    j.p++;
    skip_ws(&j);
    if (j.p != j.end) {
        fail(&j, "trailing characters");
        goto invalid;
    }
    /* key_buf is complete now: point the unescaped keys into it. */
    for (size_t i = 0; i < parsed.members_len; i++) {
        if (parsed.members[i].key_in_buf) {
            parsed.members[i].key.ptr = key_buf.data + parsed.members[i].key_at;
        }
    }
    parsed.ptr = r->bytes.ptr;
    parsed.len = r->bytes.len;
    return SM_OK;
invalid:
    return record_error("invalid JSON: %s at line 1 column %zu",
                        j.error ? j.error : "syntax error", j.error_at);
}

/* The value of the member `name` of the JSON Lines record `r`. */
static sm_status json_member(const sm_record *r, const char *name, const span **member) {
    sm_status status = json_parse(r);
    if (status != SM_OK) {
        return status;
    }
    sm_bytes want = sm_str(name);
    *member = NULL;
    for (size_t i = 0; i < parsed.members_len; i++) {
        if (sm_bytes_eq(parsed.members[i].key, want)) {
            if (*member != NULL) {
                return record_error("invalid JSON: duplicate field `%s`", name);
            }
            *member = &parsed.members[i];
        }
    }
    if (*member == NULL) {
        return record_error("invalid JSON: missing field `%s`", name);
    }
    return SM_OK;
}

/* What a JSON value that is not what was asked for is, for the error message. */
static const char *json_kind(const span *m) {
    switch (m->value[0]) {
    case '{':
        return "an object";
    case '[':
        return "a list";
    case '"':
        return "a string";
    case 'n':
        return "null";
    case 't':
    case 'f':
        return "a boolean";
    default:
        break;
    }
    json j = {m->value, m->value, m->value + m->value_len, NULL, 0};
    bool integer, big;
    int64_t v;
    number(&j, &integer, &big, &v);
    return integer ? "an integer" : big ? "an integer out of the i64 range" : "a floating point number";
}

static sm_status json_i64(const sm_record *r, const char *name, int64_t *value) {
    const span *m;
    sm_status status = json_member(r, name, &m);
    if (status != SM_OK) {
        return status;
    }
    json j = {m->value, m->value, m->value + m->value_len, NULL, 0};
    bool integer = false, big;
    if (m->value[0] == '-' || (m->value[0] >= '0' && m->value[0] <= '9')) {
        number(&j, &integer, &big, value);
    }
    if (!integer) {
        return record_error("invalid JSON: field `%s` is %s, expected an i64", name, json_kind(m));
    }
    return SM_OK;
}

static sm_status json_str(const sm_record *r, const char *name, sm_bytes *value) {
    const span *m;
    sm_status status = json_member(r, name, &m);
    if (status != SM_OK) {
        return status;
    }
    if (m->value[0] != '"') {
        return record_error("invalid JSON: field `%s` is %s, expected a string", name,
                            json_kind(m));
    }
    json j = {m->value, m->value, m->value + m->value_len, NULL, 0};
    size_t len = 0;
    string(&j, &value_buf, &len);
    *value = sm_bytes_of(value_buf.data, len);
    return SM_OK;
}

/* ---- Fields by name ---------------------------------------------------------------------- */

sm_status sm_record_i64(const sm_record *r, const char *name, int64_t *value) {
    switch (r->format) {
    case SM_JSONL:
        return json_i64(r, name, value);
    case SM_CSV:
        return csv_i64(r, name, value);
    case SM_LINES:
    default:
        return sm__error(SM__FAILED, -1, NULL, 0, NULL,
                         "reading the field `%s` needs --format jsonl or --format csv input",
                         name);
    }
}

sm_status sm_record_str(const sm_record *r, const char *name, sm_bytes *value) {
    switch (r->format) {
    case SM_JSONL:
        return json_str(r, name, value);
    case SM_CSV:
        return csv_field(r, name, value);
    case SM_LINES:
    default:
        return sm__error(SM__FAILED, -1, NULL, 0, NULL,
                         "reading the field `%s` needs --format jsonl or --format csv input",
                         name);
    }
}

sm_record sm_batch_record(const sm_batch *batch, size_t i) {
    size_t start = i == 0 ? 0 : batch->ends[i - 1];
    sm_record r = {sm_bytes_of(batch->data + start, batch->ends[i] - start), batch->format,
                   batch->header};
    return r;
}
