/* fuzz_duration.c — libFuzzer target: std_duration_parse.
 *
 * The input bytes, up to the first NUL, are parsed; when they parse, the
 * value is formatted with std_duration_fmt and parsed again, and the round
 * trip must give the same value (parse(fmt(x)) == x, duration.h) — a
 * mismatch aborts. The error message must be NUL-terminated and non-empty.
 * Seeds: tests/fuzz/corpus/fuzz_duration/ (one duration text per file).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../stdlib/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = 0;
    int64_t ms = -1;
    std_err e = {0};
    if (std_duration_parse(s, &ms, &e) == 0) {
        if (ms < 0) {
            fprintf(stderr, "'%s' parsed to a negative %lld\n", s, (long long)ms);
            abort();
        }
        char f[64];
        std_duration_fmt(ms, f, sizeof f);
        int64_t back = -1;
        std_err e2 = {0};
        if (std_duration_parse(f, &back, &e2) != 0 || back != ms) {
            fprintf(stderr, "'%s' = %lld ms formats as '%s', which parses to %lld (%s)\n", s,
                    (long long)ms, f, (long long)back, e2.msg);
            abort();
        }
    } else if (!e.msg[0] || !memchr(e.msg, 0, sizeof e.msg)) {
        fprintf(stderr, "'%s' failed without a message\n", s);
        abort();
    }
    free(s);
    return 0;
}
