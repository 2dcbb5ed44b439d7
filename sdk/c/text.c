/* text.c: splitting lines into lowercase ASCII words, exactly as the Rust SDK's
 * `text::ascii_words`. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Each byte's lowercase form if it belongs in a word ([A-Za-z0-9]), otherwise 0: one lookup
 * per byte both lowercases and marks separators (a 0 byte in the input is a separator too). */
static uint8_t word_byte[256];
static bool table_ready;

static void fill_table(void) {
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        if (c >= 'A' && c <= 'Z') {
            c = (uint8_t)(c - 'A' + 'a');
        }
        word_byte[b] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : 0;
    }
    table_ready = true;
}

void sm_words_start(sm_words *words, sm_bytes line) {
    if (!table_ready) {
        fill_table();
    }
    sm__reserve((void **)&words->buf, &words->cap, line.len, 1);
    for (size_t i = 0; i < line.len; i++) {
        words->buf[i] = word_byte[line.ptr[i]];
    }
    words->len = line.len;
    words->pos = 0;
}

bool sm_words_next(sm_words *words, sm_bytes *word) {
    size_t i = words->pos, len = words->len;
    const uint8_t *buf = words->buf;
    while (i < len && buf[i] == 0) {
        i++;
    }
    if (i == len) {
        words->pos = len;
        return false;
    }
    size_t start = i;
    while (i < len && buf[i] != 0) {
        i++;
    }
    words->pos = i;
    *word = sm_bytes_of(buf + start, i - start);
    return true;
}

void sm_words_free(sm_words *words) {
    free(words->buf);
    *words = (sm_words){0};
}
