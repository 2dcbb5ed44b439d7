// sandmill_testing.h: run a job natively, without Sandmill or wasm, in a test program built
// with the machine's C compiler:
//
//     cc -o build/test test.c job.c sandmill/*.c && build/test
//
/* sm_test_run() does what Sandmill does on one map task and one reducer: map every record,
 * sort the pairs by key and value, combine them (the job's combine, or the host's native
 * merge), then reduce each key, its values streamed in small chunks as the host streams a
 * large group. Logs and counters go to a stand-in of the host that the test can read. */
#ifndef SANDMILL_TESTING_H
#define SANDMILL_TESTING_H

#include "sandmill.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The output of a test run: `len` NUL-terminated lines and the partition of each (NULL: the
 * top level). */
typedef struct sm_test_output {
    size_t len;
    char **lines;
    char **partitions;
} sm_test_output;

/** Runs `job` on the `n` records (for SM_CSV, `header` is the header row, else NULL) into
 * `*out`. Returns SM_OK, or the job's error: its message is sm_error_message(). */
sm_status sm_test_run(const sm_job *job, sm_format format, const char *header,
                      const char *const *records, size_t n, sm_test_output *out);

/** Like sm_test_run(), with the `n_params` parameters `params`, each `key=value` as
 * `sandmill run --param` takes them. */
sm_status sm_test_run_with(const sm_job *job, const char *const *params, size_t n_params,
                           sm_format format, const char *header, const char *const *records,
                           size_t n, sm_test_output *out);

/** Frees a test run's output. */
void sm_test_output_free(sm_test_output *out);

/** Runs `job` as sm_test_run() does and checks that it writes exactly the `want_len` lines
 * `want`; prints `ok NAME` or what differs. Returns whether it passed. */
bool sm_test_expect(const char *name, const sm_job *job, sm_format format, const char *header,
                    const char *const *records, size_t n, const char *const *want,
                    size_t want_len);

/** Counts a check of the test program's own as passed or failed, printing `ok NAME` or
 * `FAILED NAME: why`. Returns `passed`. */
bool sm_test_check(const char *name, bool passed, const char *why);

/** Prints `N passed, M failed` for every check so far; returns the exit status for main(). */
int sm_test_summary(void);

/** The total the job added to counter `name` so far (0 if none). */
int64_t sm_test_counter(const char *name);

/** How many messages the job logged so far, and the last one ("" if none). */
size_t sm_test_logs(const char **last);

#ifdef __cplusplus
}
#endif

#endif /* SANDMILL_TESTING_H */
