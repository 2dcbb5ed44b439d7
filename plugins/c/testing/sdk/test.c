// The C SDK's own tests, run natively: cc -o build/test test.c job.c sandmill/*.c && build/test
// The cases of the text, CSV, partition and codec tables are the Rust SDK's (sdk/src/*.rs).
#include "sandmill/sandmill_testing.h"

#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Whether `got` holds exactly the NUL-terminated strings `want` (a NULL-terminated list). */
static bool same(const sm_bytes *got, size_t n, const char *const *want) {
    size_t i = 0;
    for (; want[i] != NULL; i++) {
        if (i >= n || !sm_bytes_eq(got[i], sm_str(want[i]))) {
            return false;
        }
    }
    return i == n;
}

static void ascii_words(void) {
    static const struct {
        const char *line;
        const char *want[4];
    } cases[] = {
        {"", {NULL}},
        {"   ", {NULL}},
        {"Hello, World!", {"hello", "world", NULL}},
        {"Don't", {"don", "t", NULL}},
        {"a1b2 C3", {"a1b2", "c3", NULL}},
        {"tab\tsep\r", {"tab", "sep", NULL}},
        /* Non-ASCII bytes separate words and are not lowercased. */
        {"caf\xc3\xa9 \xc3\x89T\xc3\x89", {"caf", "t", NULL}},
        {"__x__", {"x", NULL}},
    };
    sm_words words = {0};
    bool ok = true;
    for (size_t c = 0; c < COUNT(cases); c++) {
        sm_bytes got[8];
        size_t n = 0;
        sm_words_start(&words, sm_str(cases[c].line));
        while (n < 8 && sm_words_next(&words, &got[n])) {
            n++;
        }
        if (!same(got, n, cases[c].want)) {
            printf("  line \"%s\"\n", cases[c].line);
            ok = false;
        }
    }
    sm_words_free(&words);
    sm_test_check("ascii words follow the Rust SDK's rules", ok, "see the lines above");
}

static void csv_rows(void) {
    static const struct {
        const char *line;
        const char *want[4];
    } cases[] = {
        {"a,b,c", {"a", "b", "c", NULL}},
        {"", {"", NULL}},
        {"1,,3", {"1", "", "3", NULL}},
        {"\"x,y\",2", {"x,y", "2", NULL}},
        {"\"say \"\"hi\"\"\",z", {"say \"hi\"", "z", NULL}},
        /* csv_core's reading of what RFC 4180 leaves open. */
        {"a\"b,c", {"a\"b", "c", NULL}},
        {"\"ab\"c,d", {"abc", "d", NULL}},
        {"a,", {"a", "", NULL}},
        {"a,b\rc", {"a", "b", NULL}},
        {"\"open", {"open", NULL}},
    };
    bool ok = true;
    for (size_t c = 0; c < COUNT(cases); c++) {
        sm_bytes got[8];
        size_t n;
        sm_csv_row(sm_str(cases[c].line), got, 8, &n);
        if (!same(got, n, cases[c].want)) {
            printf("  row \"%s\"\n", cases[c].line);
            ok = false;
        }
    }
    sm_test_check("CSV rows split on commas and honour quotes as csv_core does", ok,
                  "see the rows above");
}

static void partitions(void) {
    static const char *const cases[][2] = {
        {"2026-03-22", "2026-03-22"},
        {"S\xc3\xa3o Paulo, BR", "S%C3%A3o%20Paulo%2C%20BR"},
        {"a,b", "a%2Cb"},
        {"k=v/w", "k%3Dv%2Fw"},
        {"100%", "100%25"},
        {"10:30", "10%3A30"},
        {"\"#'*?\\{[]^", "%22%23%27%2A%3F%5C%7B%5B%5D%5E"},
        {"tab\there\n", "tab%09here%0A"},
        {"\x7f", "%7F"},
        {"v1.2+3_x-y", "v1.2+3_x-y"},
        {"", ""},
        {".", "%2E"},
        {"..", "%2E."},
        {"_hidden", "%5Fhidden"},
        {"a_b.c", "a_b.c"},
        {"part-00000", "%70art-00000"},
        {"parts", "parts"},
        {"part", "part"},
        {"\xe2\x82\xac", "%E2%82%AC"},
    };
    bool ok = true;
    sm_partition p = {0};
    for (size_t c = 0; c < COUNT(cases); c++) {
        sm_partition_clear(&p);
        sm_partition_escape(&p, sm_str(cases[c][0]));
        if (strcmp(sm_partition_str(&p), cases[c][1]) != 0) {
            printf("  \"%s\" escaped as \"%s\", want \"%s\"\n", cases[c][0],
                   sm_partition_str(&p), cases[c][1]);
            ok = false;
        }
    }
    sm_partition_clear(&p);
    sm_partition_key(&p, sm_str("date"), sm_str("2026-03-22"));
    sm_partition_key(&p, sm_str("city"), sm_str("S\xc3\xa3o Paulo, BR"));
    ok = ok && strcmp(sm_partition_str(&p), "date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR") == 0;
    sm_partition_free(&p);
    sm_test_check("partition names are escaped as the Rust SDK escapes them", ok,
                  sm_partition_str(&p));
}

static void codec(void) {
    static const int64_t nums[] = {INT64_MIN, -1000000, -2, -1, 0, 1, 2, 255, 256,
                                   (int64_t)1 << 40, INT64_MAX};
    bool ok = true;
    for (size_t i = 0; i + 1 < COUNT(nums); i++) {
        uint8_t a[8], b[8];
        int64_t back;
        sm_i64_key(nums[i], a);
        sm_i64_key(nums[i + 1], b);
        ok = ok && memcmp(a, b, 8) < 0 && sm_decode_i64(sm_bytes_of(a, 8), &back) == SM_OK &&
             back == nums[i];
    }
    uint8_t k[8];
    sm_i64_key(0, k);
    ok = ok && k[0] == 0x80 && k[7] == 0;
    int64_t lanes[2] = {3, -7}, got[2];
    uint8_t bytes[16];
    sm_i64_lanes(lanes, 2, bytes);
    ok = ok && sm_decode_i64_lanes(sm_bytes_of(bytes, 16), got, 2) == SM_OK && got[0] == 3 &&
         got[1] == -7;
    ok = ok && sm_decode_i64_lanes(sm_bytes_of(bytes, 15), got, 2) != SM_OK &&
         strstr(sm_error_message(), "expected 2 8-byte numbers (16 bytes), got 15") != NULL;
    sm_test_check("i64 keys sort numerically and lanes round-trip", ok, sm_error_message());
}

/* Field `name` of the JSON Lines record `json`: SM_OK with `*v`, or the error's message. */
static sm_status json_i64(const char *json, const char *name, int64_t *v) {
    sm_record r = {sm_str(json), SM_JSONL, NULL};
    return sm_record_i64(&r, name, v);
}

static void json_fields(void) {
    int64_t v = 0;
    bool ok = json_i64("{\"a\":{\"b\":[1,2.5e3,{\"c\":null}]},\"user_id\":-7,\"s\":\"}\"}",
                       "user_id", &v) == SM_OK &&
              v == -7;
    ok = ok && json_i64("{\"us\\u0065r_id\": 5}", "user_id", &v) == SM_OK && v == 5;
    ok = ok && json_i64(" {\"n\":-9223372036854775808} ", "n", &v) == SM_OK && v == INT64_MIN;
    static const char *const bad[][2] = {
        {"{\"n\":9223372036854775808}", "out of the i64 range"},
        {"{\"n\":1.0}", "floating point"},
        {"{\"n\":\"1\"}", "is a string"},
        {"{\"n\":01}", "invalid number"},
        {"{\"n\":1,\"n\":2}", "duplicate field `n`"},
        {"{\"m\":1}", "missing field `n`"},
        {"{\"n\":1} x", "trailing characters"},
        {"{\"n\":1,\"s\":\"\\x\"}", "invalid escape"},
        {"[1]", "expected an object"},
        {"{\"n\":1,\"s\":\"\\ud800\"}", "surrogate"},
    };
    for (size_t c = 0; c < COUNT(bad); c++) {
        bool failed = json_i64(bad[c][0], "n", &v) != SM_OK &&
                      strstr(sm_error_message(), bad[c][1]) != NULL;
        if (!failed) {
            printf("  %s: \"%s\"\n", bad[c][0], sm_error_message());
        }
        ok = ok && failed;
    }
    sm_record r = {sm_str("{\"t\":\"a\\tb\\u00e9\\ud83d\\ude00\\/\"}"), SM_JSONL, NULL};
    sm_bytes s;
    ok = ok && sm_record_str(&r, "t", &s) == SM_OK &&
         sm_bytes_eq(s, sm_str("a\tb\xc3\xa9\xf0\x9f\x98\x80/"));
    sm_test_check("JSON fields by name, the whole document checked", ok, sm_error_message());
}

/* A job that keys each CSV row by its `n` field and writes `n` and the row's `s` field. */
static sm_status csv_map(const sm_record *row, sm_emitter *out) {
    int64_t n;
    sm_bytes s;
    SM_TRY(sm_record_i64(row, "n", &n));
    SM_TRY(sm_record_str(row, "s", &s));
    uint8_t key[8];
    sm_i64_key(n, key);
    sm_emit(out, sm_bytes_of(key, 8), s);
    return SM_OK;
}

static sm_status csv_reduce(sm_bytes key, sm_values *values, sm_output *out) {
    int64_t n;
    SM_TRY(sm_decode_i64(key, &n));
    sm_bytes v;
    while (sm_values_next(values, &v)) {
        sm_field_i64(out, n);
        sm_field(out, v);
        sm_end(out);
    }
    return SM_OK;
}

static const sm_job csv_job = {.map = csv_map, .reduce = csv_reduce};

static void csv_fields(void) {
    const char *rows[] = {
        "x, 42 ,a", "\"y,\"\"q\"\"\",+5,b", "z,\xc2\xa0-3\xe3\x80\x80,c", "w,-0,d",
    };
    const char *want[] = {"-3\tz", "0\tw", "5\ty,\"q\"", "42\tx"};
    sm_test_expect("CSV fields by header name, integers trimmed as Rust's str::trim", &csv_job,
                   SM_CSV, "s,n,extra", rows, COUNT(rows), want, COUNT(want));
    sm_test_output out;
    const char *bad[] = {"x,4x,a"};
    sm_status status = sm_test_run(&csv_job, SM_CSV, "s,n,extra", bad, 1, &out);
    sm_test_check("a CSV field that is not an integer is an error naming it",
                  status != SM_OK && strstr(sm_error_message(), "\"4x\" (field `n`)") != NULL,
                  sm_error_message());
    status = sm_test_run(&csv_job, SM_CSV, "s,m,extra", rows, 1, &out);
    sm_test_check("a CSV column missing from the header is an error",
                  status != SM_OK && strstr(sm_error_message(), "missing field `n`") != NULL,
                  sm_error_message());
}

/* A job that writes one record of every kind of field per key. */
static sm_status fields_map(const sm_record *r, sm_emitter *out) {
    sm_emit(out, r->bytes, sm_str(""));
    return SM_OK;
}

static sm_status fields_reduce(sm_bytes key, sm_values *values, sm_output *out) {
    sm_field(out, key);
    sm_field_i64(out, INT64_MIN);
    sm_field_i64(out, -3);
    sm_field_u64(out, UINT64_MAX);
    sm_field(out, sm_str(""));
    sm_field_str(out, "end");
    sm_end(out);
    sm_write(out, sm_str("as-is"));
    sm_field_u64(out, sm_values_count(values));
    sm_end(out);
    return SM_OK;
}

static const sm_job fields_job = {.map = fields_map, .reduce = fields_reduce};

static void fields(void) {
    const char *records[] = {"k", "k", "k"};
    const char *want[] = {"k\t-9223372036854775808\t-3\t18446744073709551615\t\tend", "as-is",
                          "3"};
    sm_test_expect("fields are TAB-separated with decimal integers", &fields_job, SM_LINES,
                   NULL, records, 3, want, 3);
}

/* The test job of this directory (job.c): parameters, partitions, combine, logs, counters. */
static void the_job(void) {
    const char *lines[] = {"b a b", "_x b", "a"};
    const char *want[] = {"a\t2", "b\t3", "x\t1"};
    sm_test_output out;
    bool ok = sm_test_run(&sandmill_job, SM_LINES, NULL, lines, 3, &out) == SM_OK &&
              out.len == 3;
    const char *parts[] = {"initial=a", "initial=b", "initial=x"};
    for (size_t i = 0; ok && i < 3; i++) {
        ok = strcmp(out.lines[i], want[i]) == 0 && strcmp(out.partitions[i], parts[i]) == 0;
    }
    sm_test_output_free(&out);
    const char *last;
    ok = ok && sm_test_counter("lines") == 3 && sm_test_logs(&last) == 1 &&
         strcmp(last, "b is frequent") == 0;
    sm_test_check("the batch hook, combine, partitions, logs and counters", ok, sm_error_message());

    const char *min2[] = {"min=2"};
    ok = sm_test_run_with(&sandmill_job, min2, 1, SM_LINES, NULL, lines, 3, &out) == SM_OK &&
         out.len == 2 && strcmp(out.lines[1], "b\t3") == 0;
    sm_test_output_free(&out);
    sm_test_check("--param min=2", ok, sm_error_message());

    const char *typo[] = {"mni=2"};
    ok = sm_test_run_with(&sandmill_job, typo, 1, SM_LINES, NULL, lines, 3, &out) != SM_OK &&
         strstr(sm_error_message(), "unknown parameter \"mni\": this job takes min") != NULL;
    sm_test_check("an unknown parameter is named", ok, sm_error_message());

    const char *rejected[] = {"a", "reject me", "b"};
    ok = sm_test_run(&sandmill_job, SM_LINES, NULL, rejected, 3, &out) != SM_OK &&
         strstr(sm_error_message(), "record 1 of the batch asks to be rejected (at job.c:") !=
             NULL;
    sm_test_check("the batch hook names a bad record", ok, sm_error_message());

    const char *zero[] = {"min=0"};
    ok = sm_test_run_with(&sandmill_job, zero, 1, SM_LINES, NULL, lines, 3, &out) != SM_OK &&
         strstr(sm_error_message(), "--param min=0: give a count of at least 1 (at job.c:") !=
             NULL;
    sm_test_check("a bad parameter value is the job's own error, with its place", ok,
                  sm_error_message());
}

static sm_status long_error(const sm_record *r, sm_emitter *out) {
    (void)r;
    (void)out;
    static char text[10000];
    memset(text, 'x', sizeof text - 1);
    return sm_fail("%s", text);
}

static const sm_job long_error_job = {.map = long_error, .reduce = csv_reduce};

static sm_status silent_map(const sm_record *r, sm_emitter *out) {
    (void)r;
    (void)out;
    return 7;
}

static const sm_job silent_job = {.map = silent_map, .reduce = csv_reduce};

static void bounded_errors(void) {
    sm_test_output out;
    const char *one[] = {"r"};
    sm_status status = sm_test_run(&long_error_job, SM_LINES, NULL, one, 1, &out);
    size_t len = strlen(sm_error_message());
    sm_test_check("an error message is cut to about 3 KiB", status != SM_OK && len <= 3100 &&
                                                              strstr(sm_error_message(),
                                                                     "...") != NULL,
                  sm_error_message());
    status = sm_test_run(&silent_job, SM_LINES, NULL, one, 1, &out);
    sm_test_check("a non-zero status without an error is one all the same",
                  status != SM_OK &&
                      strstr(sm_error_message(), "the job's map returned 7 without saying why") !=
                          NULL,
                  sm_error_message());
}

int main(void) {
    ascii_words();
    csv_rows();
    partitions();
    codec();
    json_fields();
    csv_fields();
    fields();
    the_job();
    bounded_errors();
    return sm_test_summary();
}
