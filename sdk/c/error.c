/* error.c: the error a job's function records before it returns a non-zero sm_status, with
 * the trace of calls SM_TRY() adds as it passes the error up. What the host is told is
 * decided by adapter.c. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host keeps 4 KiB of a plugin's message; the SDK keeps the message and the trace well
 * inside that, each cut short with "..." when longer. */
#define MESSAGE_MAX 2048
#define TRACE_MAX 960

static struct {
    int kind;
    long index;
    char message[MESSAGE_MAX + 1];
    /* "at job.c:21 in map; from job.c:40 in reduce", without the parentheses. */
    char trace[TRACE_MAX + 1];
    size_t trace_len;
    bool trace_full;
    /* The message, then " (trace)": built by sm_error_message(). */
    char text[MESSAGE_MAX + TRACE_MAX + 8];
} err;

/* Appends one frame to the trace, or "; ..." once it is full. */
static void trace_push(const char *prefix, const char *file, int line, const char *func) {
    if (err.trace_full) {
        return;
    }
    char frame[256];
    int n = snprintf(frame, sizeof frame, "%s%s:%d in %s", prefix, file, line, func);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof frame ? (size_t)n : sizeof frame - 1;
    if (err.trace_len + len + 5 > TRACE_MAX) {
        memcpy(err.trace + err.trace_len, "; ...", 6);
        err.trace_len += 5;
        err.trace_full = true;
        return;
    }
    memcpy(err.trace + err.trace_len, frame, len + 1);
    err.trace_len += len;
}

sm_status sm__error(int kind, long index, const char *file, int line, const char *func,
                    const char *format, ...) {
    err.kind = kind;
    err.index = index;
    err.trace_len = 0;
    err.trace_full = false;
    err.trace[0] = '\0';
    va_list args;
    va_start(args, format);
    int n = vsnprintf(err.message, sizeof err.message, format, args);
    va_end(args);
    if (n < 0) {
        snprintf(err.message, sizeof err.message, "(the error message could not be formatted)");
    } else if ((size_t)n > MESSAGE_MAX) {
        memcpy(err.message + MESSAGE_MAX - 3, "...", 4);
    }
    if (file != NULL) {
        trace_push("at ", file, line, func);
    }
    return kind;
}

void sm__trace(const char *file, int line, const char *func) {
    if (err.kind == 0) {
        return;
    }
    trace_push(err.trace_len == 0 ? "at " : "; from ", file, line, func);
}

const char *sm_error_message(void) {
    if (err.kind == 0) {
        return "";
    }
    if (err.trace_len == 0) {
        snprintf(err.text, sizeof err.text, "%s", err.message);
    } else {
        snprintf(err.text, sizeof err.text, "%s (%s)", err.message, err.trace);
    }
    return err.text;
}

void sm__error_clear(void) {
    err.kind = 0;
    err.index = -1;
    err.trace_len = 0;
    err.trace_full = false;
    err.trace[0] = '\0';
    err.message[0] = '\0';
}

int sm__error_kind(void) {
    return err.kind;
}

long sm__error_index(void) {
    return err.index;
}

_Noreturn void sm__abort(const char *message) {
    fprintf(stderr, "sandmill C SDK: %s\n", message);
    fflush(stderr);
    abort();
}

void sm__reserve(void **ptr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) {
        return;
    }
    size_t grown = *cap < 64 ? 64 : *cap;
    while (grown < need) {
        if (grown > SIZE_MAX / 2) {
            sm__abort("out of memory: a buffer would outgrow the address space");
        }
        grown *= 2;
    }
    if (grown > SIZE_MAX / size) {
        sm__abort("out of memory: a buffer would outgrow the address space");
    }
    void *p = realloc(*ptr, grown * size);
    if (p == NULL) {
        sm__abort("out of memory: the plugin could not grow a buffer (raise --memory if the "
                  "job needs more)");
    }
    *ptr = p;
    *cap = grown;
}

sm_status sm__checked(sm_status status, const char *what) {
    if (status == SM_OK) {
        sm__error_clear();
        return SM_OK;
    }
    if (err.kind == 0) {
        return sm__error(SM__FAILED, -1, NULL, 0, NULL,
                         "the job's %s returned %d without saying why: return sm_error(...), "
                         "sm_fail(...) or sm_params_error(...) instead",
                         what, status);
    }
    return err.kind;
}

char *sm__strdup(const char *s, size_t len) {
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        sm__abort("out of memory");
    }
    if (len) {
        memcpy(copy, s, len);
    }
    copy[len] = '\0';
    return copy;
}
