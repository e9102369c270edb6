/* fuzz_cron.c — libFuzzer target: cron expressions.
 *
 * The input bytes, up to the first NUL, are parsed by std_cron_parse (as
 * the compiler does for a trigger's `cron:`). A parsed expression then gives
 * its next fire times from a few instants (2026, a New York DST change, the
 * day Pacific/Apia skipped, the far past) in UTC and in loaded zones, three
 * fires in a row, as `wfdsl deploy` and the scheduler do; each must be 0
 * (none within 10 years) or strictly after the instant it was asked from.
 * Seeds: tests/fuzz/corpus/fuzz_cron/ (one expression per file).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../stdlib/cron.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static std_tz *zones[3]; /* UTC, America/New_York, Pacific/Apia (NULL if missing) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const names[] = {"UTC", "America/New_York", "Pacific/Apia"};
    for (int i = 0; i < 3; i++) {
        std_err e = {0};
        zones[i] = std_tz_load(names[i], &e);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t from[] = {
        1795651200, /* 2026-11-26T00:00:00Z */
        1772953200, /* 2026-03-08T07:00:00Z, New York springs forward */
        1325203200, /* 2011-12-30T00:00:00Z, skipped in Pacific/Apia */
        0,
    };
    char *s = malloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = 0;
    std_cron *c = NULL;
    std_err e = {0};
    if (std_cron_parse(s, &c, &e) == 0) {
        for (size_t f = 0; f < sizeof from / sizeof from[0]; f++) {
            for (int z = -1; z < 3; z++) {
                if (z >= 0 && !zones[z]) continue;
                int64_t t = from[f];
                for (int k = 0; k < 3; k++) {
                    int64_t n = z < 0 ? std_cron_next(c, "UTC", t) : std_cron_next_tz(c, zones[z], t);
                    if (n == 0) break;
                    if (n <= t) {
                        fprintf(stderr, "cron '%s': next after %lld is %lld (zone %d)\n", s,
                                (long long)t, (long long)n, z);
                        abort();
                    }
                    t = n;
                }
            }
        }
        std_cron_free(c);
    } else if (!e.msg[0]) {
        fprintf(stderr, "cron '%s' failed without a message\n", s);
        abort();
    }
    free(s);
    return 0;
}
