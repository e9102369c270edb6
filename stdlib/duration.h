/* duration.h — durations as written in workflows: "500ms", "30s", "5m",
 * "1h30m", "7d", "2w"; a bare integer means seconds. Parsing is strict: no
 * spaces, no negative values, no overflow; units ms, s, m, h, d, w.
 */
#ifndef WF_DURATION_H
#define WF_DURATION_H

#include <stdint.h>
#include "std.h"

/* Parse s into milliseconds. Returns 0, or -1 with a message in e. */
int std_duration_parse(const char *s, int64_t *ms, std_err *e);
/* Format ms compactly ("1h30m", "250ms", "0s") into out. */
void std_duration_fmt(int64_t ms, char *out, size_t n);

#endif
