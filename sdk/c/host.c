/* host.c: the job's log and counters. They go to `sandmill:job/host` on wasm (adapter.c) and
 * to the native stand-in of the host in tests (testing.c). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The host keeps 4 KiB of one message. */
#define LOG_MAX 4096

/* Defined by adapter.c on wasm and by testing.c natively. */
void sm__host_log(sm_log_level level, const char *message, size_t len);
void sm__host_counter(const char *name, size_t len, int64_t delta);

void sm_log(sm_log_level level, const char *format, ...) {
    char message[LOG_MAX + 1];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(message, sizeof message, format, args);
    va_end(args);
    if (n < 0) {
        return;
    }
    sm__host_log(level, message, (size_t)n < sizeof message ? (size_t)n : LOG_MAX);
}

void sm_counter(const char *name, int64_t delta) {
    sm__host_counter(name, strlen(name), delta);
}
