/* params.c: the job's `--param key=value` pairs, as `configure` reads them. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sm_params_len(const sm_params *params) {
    return params->len;
}

void sm_params_at(const sm_params *params, size_t i, const char **key, const char **value) {
    *key = params->keys[i];
    *value = params->values[i];
}

const char *sm_params_get(const sm_params *params, const char *key) {
    for (size_t i = params->len; i > 0; i--) {
        if (strcmp(params->keys[i - 1], key) == 0) {
            return params->values[i - 1];
        }
    }
    return NULL;
}

sm_status sm_params_i64(const sm_params *params, const char *key, int64_t fallback,
                        int64_t *value) {
    const char *text = sm_params_get(params, key);
    if (text == NULL) {
        *value = fallback;
        return SM_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno == ERANGE || isspace((unsigned char)text[0])) {
        return sm__error(SM__PARAMS, -1, NULL, 0, NULL,
                         "--param %s=%s: not a whole number (a decimal 64-bit integer)", key,
                         text);
    }
    *value = (int64_t)v;
    return SM_OK;
}

sm_status sm_params_expect_only(const sm_params *params, const char *const *known, size_t n) {
    for (size_t i = 0; i < params->len; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++) {
            found = strcmp(params->keys[i], known[j]) == 0;
        }
        if (found) {
            continue;
        }
        if (n == 0) {
            return sm__error(SM__PARAMS, -1, NULL, 0, NULL,
                             "unknown parameter \"%s\": this job takes none", params->keys[i]);
        }
        char list[512] = "";
        size_t at = 0;
        for (size_t j = 0; j < n && at < sizeof list - 1; j++) {
            size_t room = sizeof list - at;
            int w = snprintf(list + at, room, "%s%s", j ? ", " : "", known[j]);
            at += w < 0 ? 0 : ((size_t)w < room ? (size_t)w : room - 1);
        }
        return sm__error(SM__PARAMS, -1, NULL, 0, NULL,
                         "unknown parameter \"%s\": this job takes %s", params->keys[i], list);
    }
    return SM_OK;
}
