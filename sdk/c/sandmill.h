/* sandmill.h: the Sandmill SDK for jobs written in C.
 *
 * A job is a `const sm_job sandmill_job` with a `map` and a `reduce` function (and optionally
 * `configure`, `combine`, a native merge, or a `map_batch` hook for speed). The SDK does the
 * rest: it reads the host's flat batches, calls the job once per record and once per key, pulls
 * the values of a key that streams through `host.next-values`, builds the buffers the host
 * reads back, and turns every error into the contract's `job-error`. See README.md beside this
 * file for a whole job, how to test it natively and how to build it with `sandmill build`.
 *
 * Errors: every function of a job returns an `sm_status`: SM_OK, or the status that
 * sm_error()/sm_fail()/sm_params_error() return after recording a message. SM_TRY() passes an
 * error up and adds the caller's file and line to it, so the message the user sees ends with
 * the chain of calls that led to it, like a stack trace.
 *
 * Memory: the bytes an `sm_bytes` points at belong to the SDK and stay valid until the function
 * that was handed them returns (a value from sm_values_next(): until the next call). */
#ifndef SANDMILL_H
#define SANDMILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Bytes ---------------------------------------------------------------------------- */

/** A borrowed run of bytes (not NUL-terminated). */
typedef struct sm_bytes {
    const uint8_t *ptr;
    size_t len;
} sm_bytes;

/** The bytes `ptr[0..len)`. */
static inline sm_bytes sm_bytes_of(const void *ptr, size_t len) {
    sm_bytes b = {(const uint8_t *)ptr, len};
    return b;
}

/** The bytes of the NUL-terminated string `s`, without the NUL. */
sm_bytes sm_str(const char *s);

/** Whether `a` and `b` hold the same bytes. */
bool sm_bytes_eq(sm_bytes a, sm_bytes b);

/* ---- Errors --------------------------------------------------------------------------- */

/** What a job's function returns: SM_OK, or the error status an sm_error() call returned. */
typedef int sm_status;

/** Success. */
#define SM_OK 0

/** Records an error about the record (or key) at hand, the host's `invalid-record`: the host
 * names its file and line (or key). Returns the error status. printf-style arguments. */
#define sm_error(...) sm__error(SM__RECORD, -1, __FILE__, __LINE__, __func__, __VA_ARGS__)

/** Like sm_error(), about record (or group) `index` of the batch: for a `map_batch` hook. */
#define sm_error_at(index, ...)                                                                \
    sm__error(SM__RECORD, (long)(index), __FILE__, __LINE__, __func__, __VA_ARGS__)

/** Records an error that is not the fault of one record, the host's `failed`: the job stops. */
#define sm_fail(...) sm__error(SM__FAILED, -1, __FILE__, __LINE__, __func__, __VA_ARGS__)

/** Records an error about the job's `--param` values (from `configure`), `invalid-params`. */
#define sm_params_error(...)                                                                   \
    sm__error(SM__PARAMS, -1, __FILE__, __LINE__, __func__, __VA_ARGS__)

/** Evaluates `expr` (an sm_status); on an error, adds this line to the error's trace and
 * returns the error from the enclosing function. */
#define SM_TRY(expr)                                                                           \
    do {                                                                                       \
        sm_status sm__status = (expr);                                                         \
        if (sm__status != SM_OK) {                                                             \
            sm__trace(__FILE__, __LINE__, __func__);                                           \
            return sm__status;                                                                 \
        }                                                                                      \
    } while (0)

/** The message of the error recorded last (for tests), or "" if none. */
const char *sm_error_message(void);

/* ---- Combining ------------------------------------------------------------------------ */

/** How the values of one key may be combined before they reach `reduce`. A combiner may run
 * zero or more times on any subset of a key's values, so `reduce` must give the same answer
 * for combined and uncombined values. */
typedef enum sm_combiner {
    /** Never combine (the default). */
    SM_COMBINE_NONE = 0,
    /** Call the job's `combine`. */
    SM_COMBINE_PLUGIN,
    /** The host adds values lane by lane, each value 8-byte lanes of sm_i64_key (native). */
    SM_MERGE_SUM,
    /** The host keeps the smallest value in byte order (native). */
    SM_MERGE_MIN,
    /** The host keeps the largest value in byte order (native). */
    SM_MERGE_MAX,
    /** The host adds one-lane sm_i64_key counts (native). */
    SM_MERGE_COUNT,
    /** The host keeps the first value in byte order (native). */
    SM_MERGE_FIRST,
    /** The host keeps the last value in byte order (native). */
    SM_MERGE_LAST,
    /** The host concatenates the values in byte order (native). */
    SM_MERGE_APPEND,
} sm_combiner;

/* ---- Parameters ----------------------------------------------------------------------- */

/** The job's `sandmill run --param key=value` pairs. */
typedef struct sm_params sm_params;

/** How many parameters were given. */
size_t sm_params_len(const sm_params *params);
/** Parameter `i` (in the order given): its key and value, NUL-terminated. */
void sm_params_at(const sm_params *params, size_t i, const char **key, const char **value);
/** The value of `key` (the last one given wins), or NULL. */
const char *sm_params_get(const sm_params *params, const char *key);
/** The value of `key` as a decimal integer, or `fallback` if not given; an sm_params_error()
 * naming the key if it does not parse. */
sm_status sm_params_i64(const sm_params *params, const char *key, int64_t fallback,
                        int64_t *value);
/** An sm_params_error() naming the first key not among the `n` keys `known`, so that typos do
 * not pass silently. */
sm_status sm_params_expect_only(const sm_params *params, const char *const *known, size_t n);

/* ---- Input records -------------------------------------------------------------------- */

/** How the host cut the input into records (`sandmill run --format`). */
typedef enum sm_format {
    /** One record per line. */
    SM_LINES,
    /** One JSON document per line. */
    SM_JSONL,
    /** One CSV row per line, with a header row. */
    SM_CSV,
} sm_format;

/** The header of CSV input, parsed once per batch. */
typedef struct sm_csv_header sm_csv_header;

/** One input record: a line without its line end. */
typedef struct sm_record {
    /** The record's bytes. */
    sm_bytes bytes;
    /** How the input was cut into records. */
    sm_format format;
    /** For CSV input: the file's header row; otherwise NULL. */
    const sm_csv_header *header;
} sm_record;

/** The integer field `name` of a structured record: a top-level member of a JSON Lines
 * document (a JSON integer in the i64 range), or the CSV column of that name in the header
 * (its text, trimmed of whitespace, as a decimal integer). The whole record is checked: bad
 * JSON, a CSV row whose field count differs from the header's, or a missing field is an
 * sm_error() about the record. */
sm_status sm_record_i64(const sm_record *record, const char *name, int64_t *value);

/** The string field `name` of a structured record: a JSON string member, unescaped (as UTF-8),
 * or the CSV column of that name, unquoted. `*value` stays valid until the next call on any
 * record. */
sm_status sm_record_str(const sm_record *record, const char *name, sm_bytes *value);

/** Parses one CSV row (RFC 4180 quoting, as the Rust SDK reads it) into at most `max` fields:
 * their count goes to `*count` (which may exceed `max`) and the unquoted fields into `fields`.
 * The fields stay valid until the next call on any record. */
void sm_csv_row(sm_bytes line, sm_bytes *fields, size_t max, size_t *count);

/** A batch of input records, for a `map_batch` hook. */
typedef struct sm_batch {
    /** How the input was cut into records. */
    sm_format format;
    /** For CSV input: the file's header row; otherwise NULL. */
    const sm_csv_header *header;
    /** How many records. */
    size_t len;
    /** All records, back to back: record `i` is `data[(i ? ends[i - 1] : 0)..ends[i])`. */
    const uint8_t *data;
    const uint32_t *ends;
} sm_batch;

/** Record `i` of `batch`. */
sm_record sm_batch_record(const sm_batch *batch, size_t i);

/* ---- Emitting pairs ------------------------------------------------------------------- */

/** Collects the key/value pairs a `map` (or `combine`) emits: one byte buffer and two end
 * offsets per pair, the layout they cross the boundary in. */
typedef struct sm_emitter {
    uint8_t *data;
    size_t len, cap;
    uint32_t *ends;
    size_t ends_len, ends_cap;
} sm_emitter;

/** Emits one pair. Keys are grouped and sorted by their bytes before the reduce. */
void sm_emit(sm_emitter *out, sm_bytes key, sm_bytes value);
/** Emits `key` with the value sm_i64_key(value): a count for SM_MERGE_SUM, say. */
void sm_emit_i64(sm_emitter *out, sm_bytes key, int64_t value);
/** Emits `key` with the `n` numbers `lanes` as sm_i64_lanes (for SM_MERGE_SUM of several). */
void sm_emit_i64_lanes(sm_emitter *out, sm_bytes key, const int64_t *lanes, size_t n);
/** How many pairs were emitted. */
size_t sm_emitter_len(const sm_emitter *out);
/** Pair `i`'s key and value. */
void sm_emitter_pair(const sm_emitter *out, size_t i, sm_bytes *key, sm_bytes *value);

/* ---- Values of a key ------------------------------------------------------------------ */

/** The values of one key, in byte order, read one at a time with sm_values_next(). A key may
 * have more values than fit in memory: they arrive from the host in chunks as you read them,
 * so read them once, in order, and keep only what you need. */
typedef struct sm_values sm_values;

/** The next value into `*value`; false once every value of the key was read. `*value` stays
 * valid until the next call. */
bool sm_values_next(sm_values *values, sm_bytes *value);
/** Counts the remaining values. */
uint64_t sm_values_count(sm_values *values);
/** Adds up the remaining values, each an sm_i64_key (wrapping, as the host's SM_MERGE_SUM
 * does); an sm_error() if one is not 8 bytes long. */
sm_status sm_values_sum_i64(sm_values *values, int64_t *sum);
/** Adds up the remaining values of `n` lanes (sm_i64_lanes) lane by lane into `sums`; an
 * sm_error() if one is not `8 * n` bytes long. */
sm_status sm_values_sum_i64_lanes(sm_values *values, int64_t *sums, size_t n);

/* ---- Output records ------------------------------------------------------------------- */

/** Collects the output records a `reduce` writes: one line each in the output, at the top level
 * or in a named output partition (a subdirectory such as `date=2026-03-22/`). */
typedef struct sm_output sm_output;

/** Writes one output record as it is. The host ends it with `\n`, so it must not contain one. */
void sm_write(sm_output *out, sm_bytes record);
/** Like sm_write(), into the output partition `partition`: a relative directory such as
 * `date=2026-03-22`, best built with sm_partition_key() (see README.md for the names the host
 * accepts; a record routed to any other name is a bad record). */
void sm_write_in(sm_output *out, const char *partition, sm_bytes record);

/* An output record made of fields: call sm_field*() once per field, then sm_end() (or
 * sm_end_in()). Fields are separated by a TAB, integers in plain decimal, exactly as the Rust
 * SDK's `out.fields((word, 3))` writes `word\t3`. */

/** Adds a field of bytes as they are to the record being written. */
void sm_field(sm_output *out, sm_bytes field);
/** Adds a NUL-terminated string field. */
void sm_field_str(sm_output *out, const char *field);
/** Adds a signed integer field, in decimal. */
void sm_field_i64(sm_output *out, int64_t field);
/** Adds an unsigned integer field, in decimal. */
void sm_field_u64(sm_output *out, uint64_t field);
/** Ends the record being written (at the top level of the output). */
void sm_end(sm_output *out);
/** Ends the record being written, into the output partition `partition` (see sm_write_in()). */
void sm_end_in(sm_output *out, const char *partition);

/** How many records were written so far. */
size_t sm_output_len(const sm_output *out);
/** Record `i`, and its partition (NULL: the top level). */
void sm_output_record(const sm_output *out, size_t i, sm_bytes *record, const char **partition);

/* ---- Partition names ------------------------------------------------------------------ */

/** A partition name built from `key=value` directory levels, each key and value escaped as
 * Hive and Spark write them: ASCII letters, digits and `-_.+` as they are, every other byte as
 * `%XX`, and a leading `.`, `_` or the `p` of `part-` escaped too. Zero-initialise it, add
 * levels with sm_partition_key(), read it with sm_partition_str(), free it with
 * sm_partition_free(). */
typedef struct sm_partition {
    char *name;
    size_t len, cap;
} sm_partition;

/** Adds the directory level `key=value` (both escaped) to `partition`. */
void sm_partition_key(sm_partition *partition, sm_bytes key, sm_bytes value);
/** The partition name so far, NUL-terminated ("" with no level yet). */
const char *sm_partition_str(const sm_partition *partition);
/** Empties `partition`, keeping its memory for the next name. */
void sm_partition_clear(sm_partition *partition);
/** Frees `partition`'s memory. */
void sm_partition_free(sm_partition *partition);
/** Appends `value` escaped (as above) to `partition` without `=` or `/`: one key or value. */
void sm_partition_escape(sm_partition *partition, sm_bytes value);

/* ---- Text ----------------------------------------------------------------------------- */

/** Splits lines into lowercase ASCII words: `A`-`Z` become `a`-`z` (no other byte changes),
 * then every byte that is not `[a-z0-9]` separates words, and empty words are dropped (the
 * Rust SDK's `text::ascii_words`). Keep one in a static and reuse it: once its buffer has
 * grown to the longest line, splitting allocates nothing. */
typedef struct sm_words {
    uint8_t *buf;
    size_t len, cap, pos;
} sm_words;

/** Starts splitting `line`. */
void sm_words_start(sm_words *words, sm_bytes line);
/** The next word of the line into `*word`; false at the end. `*word` stays valid until the
 * next sm_words_start(). */
bool sm_words_next(sm_words *words, sm_bytes *word);
/** Frees the buffer of `words` (a static one needs no freeing: the task's instance goes). */
void sm_words_free(sm_words *words);

/* ---- The integer codec ---------------------------------------------------------------- */

/* Keys and values whose byte order is their numeric order: 8 bytes big-endian (for i64 with
 * the sign bit flipped, so negative numbers sort first). The host's SM_MERGE_SUM and
 * SM_MERGE_COUNT read values in the i64 encoding, one 8-byte lane per number. */

/** Writes `v` as 8 bytes to `out`: byte order is numeric order. */
void sm_i64_key(int64_t v, uint8_t out[8]);
/** Writes `v` as 8 big-endian bytes to `out`. */
void sm_u64_key(uint64_t v, uint8_t out[8]);
/** Writes the `n` numbers `v` as `8 * n` bytes, each as sm_i64_key, to `out`. */
void sm_i64_lanes(const int64_t *v, size_t n, uint8_t *out);
/** Decodes sm_i64_key; an sm_error() if `bytes` is not 8 bytes long. */
sm_status sm_decode_i64(sm_bytes bytes, int64_t *v);
/** Decodes sm_u64_key; an sm_error() if `bytes` is not 8 bytes long. */
sm_status sm_decode_u64(sm_bytes bytes, uint64_t *v);
/** Decodes sm_i64_lanes of `n` numbers into `v`; an sm_error() if `bytes` is not `8 * n`
 * bytes long. */
sm_status sm_decode_i64_lanes(sm_bytes bytes, int64_t *v, size_t n);

/* ---- Log and counters ----------------------------------------------------------------- */

/** How serious a log message is. */
typedef enum sm_log_level {
    SM_DEBUG,
    SM_INFO,
    SM_WARN,
    SM_ERROR,
} sm_log_level;

/** Writes a message to the job's log (printf-style; bounded by the host; dropped if the task
 * attempt fails). */
void sm_log(sm_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/** Adds `delta` to the counter `name`, summed over all tasks and shown in the job summary. */
void sm_counter(const char *name, int64_t delta);

/* ---- The job -------------------------------------------------------------------------- */

/** A map/reduce job: define one, named `sandmill_job`, in job.c. One instance of the plugin
 * serves one task attempt, so static variables start fresh in every task and need no locks. */
typedef struct sm_job {
    /** How map output may be combined (SM_COMBINE_NONE if left out). */
    sm_combiner combiner;
    /** Reads the job's parameters. Optional: without it the job accepts none. */
    sm_status (*configure)(const sm_params *params);
    /** Maps one input record to any number of key/value pairs. */
    sm_status (*map)(const sm_record *record, sm_emitter *out);
    /** Optional, instead of `map`: maps a whole batch of records at once (report a bad record
     * with sm_error_at()). */
    sm_status (*map_batch)(const sm_batch *batch, sm_emitter *out);
    /** Combines some of the values of `key` into (usually) fewer values under the same key:
     * only with SM_COMBINE_PLUGIN. Emit at least one pair, and only under `key`. */
    sm_status (*combine)(sm_bytes key, sm_values *values, sm_emitter *out);
    /** Reduces all values of `key` to any number of output records. */
    sm_status (*reduce)(sm_bytes key, sm_values *values, sm_output *out);
} sm_job;

/** The job, defined by the job's own code. */
extern const sm_job sandmill_job;

/* ---- Internals the macros above use ---------------------------------------------------- */

enum { SM__RECORD = 1, SM__FAILED, SM__PARAMS };
sm_status sm__error(int kind, long index, const char *file, int line, const char *func,
                    const char *format, ...) __attribute__((format(printf, 6, 7)));
void sm__trace(const char *file, int line, const char *func);

#ifdef __cplusplus
}
#endif

#endif /* SANDMILL_H */
