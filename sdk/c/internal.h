/* internal.h: the SDK's own types and helpers, shared by its .c files. Not for jobs: their
 * interface is sandmill.h, and these may change. */
#ifndef SANDMILL_INTERNAL_H
#define SANDMILL_INTERNAL_H

#include "sandmill.h"

/** A chunk of values the host hands over (allocated with malloc, owned by whoever holds it):
 * item `i` is `data[(i ? ends[i - 1] : 0)..ends[i])`. */
typedef struct sm__chunk {
    uint8_t *data;
    uint32_t *ends;
    size_t len;
} sm__chunk;

/** Fetches the next chunk of a streaming group's values into `*chunk`; false once none is
 * left. On wasm it calls `host.next-values`; the native test runner feeds its own. */
typedef bool (*sm__pull)(sm__chunk *chunk);

struct sm_values {
    /* The part of the group that came with the batch: items `next..end` of `data`/`ends`. */
    const uint8_t *data;
    const uint32_t *ends;
    size_t next, end;
    /* Where item `next` starts in `data`. */
    size_t start;
    /* The chunk pulled from the host most recently, and the next item to read in it. */
    sm__chunk chunk;
    size_t chunk_next;
    /* Where the rest comes from; NULL when the group has no more values than the batch's. */
    sm__pull pull;
};

/** Values `first..end` of a batch whose items end at `ends`; `pull` fetches the rest (NULL if
 * the group ends in this batch). */
void sm__values_init(sm_values *values, const uint8_t *data, const uint32_t *ends, size_t first,
                     size_t end, sm__pull pull);
/** Frees the chunk `values` holds. */
void sm__values_finish(sm_values *values);

struct sm_output {
    uint8_t *data;
    size_t len, cap;
    uint32_t *ends;
    size_t ends_len, ends_cap;
    /* Partition names used so far (malloc'd, NUL-terminated). */
    char **partitions;
    size_t partitions_len, partitions_cap;
    /* Per record: 1 + its partition's index, or 0 for the top level; empty (routes_len 0)
     * while every record is at the top level. */
    uint32_t *routes;
    size_t routes_len, routes_cap;
    /* How many fields the record being written has so far. */
    size_t fields;
};

/** Frees everything `out` holds. */
void sm__output_free(sm_output *out);
/** Frees everything `out` holds. */
void sm__emitter_free(sm_emitter *out);

struct sm_params {
    size_t len;
    /* NUL-terminated copies. */
    char **keys;
    char **values;
};

struct sm_csv_header {
    size_t len;
    /* The unquoted column names, pointing into `storage`. */
    sm_bytes *names;
    uint8_t *storage;
};

/** The header row `line`, parsed; NULL with an sm_error() if it is unusable. */
sm_csv_header *sm__csv_header_new(sm_bytes line);
/** Forgets the JSON record parsed last: called before each call into the job, as the next
 * record may reuse its memory. */
void sm__record_forget(void);

/** Frees a header (NULL is fine). */
void sm__csv_header_free(sm_csv_header *header);

/** Grows the buffer `*ptr` of `*cap` items of `size` bytes to hold at least `need` items. A
 * failed allocation ends the plugin with a message (a trap), as it does in Rust. */
void sm__reserve(void **ptr, size_t *cap, size_t need, size_t size);

/** Clears the recorded error before a call into the job. */
void sm__error_clear(void);
/** The recorded error: its kind (0 if none), the index it names (-1: the one at hand) and its
 * message with the trace of calls. */
int sm__error_kind(void);
long sm__error_index(void);

/** The status of a call into the job that returned `status` (`what`: "map", say): SM_OK, or
 * the kind of the recorded error, made up when the job returned non-zero without one. */
sm_status sm__checked(sm_status status, const char *what);

/** A NUL-terminated copy of `s[0..len)` (malloc'd; strndup is not standard C). */
char *sm__strdup(const char *s, size_t len);

/** Ends the plugin with `message` on stderr: for the SDK's own broken invariants and for
 * running out of memory, which the job cannot recover from. */
_Noreturn void sm__abort(const char *message);

#endif /* SANDMILL_INTERNAL_H */
