/* cron.h — cron expressions and IANA time zones for cron triggers.
 *
 * What it does: parses 5-field cron expressions (minute hour day-of-month
 * month day-of-week) into bitsets plus the L/W/# specs, with an error that
 * names the wrong field; computes the next fire time strictly after a given
 * instant in an IANA time zone, read directly from the system tz database
 * (TZif v1/v2+/v3 files under $TZDIR or /usr/share/zoneinfo, including the
 * POSIX TZ footer rule that covers dates after the last listed transition).
 * No process state is touched: no setenv("TZ"), no tzset(), no localtime_r;
 * a std_tz is immutable once loaded and may be shared between threads.
 *
 * What it does not do: seconds or year fields, Quartz "?" or hashed "H",
 * wrap-around ranges (22-2), @reboot; leap seconds ("right/" zones are
 * refused); DST rules past the year 2500 (the offset then stays as it is).
 * Times are Unix seconds (int64), never struct tm.
 *
 * Tested against croniter (tests/cron/gen.py, fixtures.txt) and by hand in
 * tests/unit/test_cron.c for what croniter gets wrong or lacks.
 */
// Syntax (names are case-insensitive):
//   field          range   names
//   minute         0-59
//   hour           0-23
//   day-of-month   1-31            plus L, L-n, LW, nW
//   month          1-12    JAN-DEC
//   day-of-week    0-7     SUN-SAT  0 and 7 are both Sunday; plus dL, d#n
//   items:  *  n  a-b  */s  a-b/s  n/s (= n-max/s)  and lists a,b,c
//   A range must not run backwards ("FRI-MON", "22-2" are errors) except a
//   day-of-week range ending at Sunday: "FRI-SUN" = "5-7". A step is 1..span
//   of the field ("*/0" is an error).
//   L      (day-of-month) last day of the month; L-n: n days before it
//   LW     (day-of-month) last weekday (Mon-Fri) of the month
//   nW     (day-of-month) the weekday nearest day n, in the same month
//          (Sat -> Fri, Sun -> Mon; 1W on a Saturday -> Monday the 3rd);
//          no fire in months shorter than n days
//   dL     (day-of-week) last weekday d of the month: 5L, FRIL = last Friday
//   d#n    (day-of-week) n-th (1-5) weekday d of the month: MON#1, 5#3
//   @yearly @annually = 0 0 1 1 *, @monthly = 0 0 1 * *, @weekly = 0 0 * * 0,
//   @daily @midnight = 0 0 * * *, @hourly = 0 * * * *
//
// Day rule (Vixie cron, cronie): when the day-of-month or the day-of-week
// field starts with '*', a day must match both fields; otherwise it may match
// either. "0 0 1,15 * MON" fires on the 1st, the 15th and every Monday;
// "0 0 */2 * MON" only on Mondays with an odd day of the month.
// A day-of-month that can never occur in the selected months while the
// day-of-week field starts with '*' ("0 0 30 2 *") is a parse error.
//
// Time zones and DST. Fields are matched against local wall-clock time.
//   - A local time that does not exist (spring-forward gap) fires once at the
//     first instant after the gap: "30 2 * * *" on the spring day in
//     America/New_York fires at 03:00 EDT; several such times ("*/15 2 * * *")
//     collapse into that one fire.
//   - A local time that exists twice (fall-back overlap) fires once, at its
//     first occurrence: "30 1 * * *" fires at 01:30 EDT, not 01:30 EST.
//   - Exception for expressions whose hour field covers all 24 hours
//     ("30 * * * *", "*/10 * * * *", "0-23"): they run once per real hour,
//     so they fire in both copies of a repeated hour (01:30 EDT and 01:30
//     EST) and not for the minutes that the gap removes (01:30 EST is
//     followed by 03:30 EDT, one hour later, not by an extra 03:00). This is
//     what croniter does, and what cronie does for its '*'-hour jobs; firing
//     03:00 and 03:30 half an hour apart would serve no one.
//   - Days work the same way: a date that does not exist at all (Pacific/Apia
//     skipped 30 December 2011) fires "0 12 * * *" at the first instant after
//     it (31 December 00:00).

#ifndef WF_CRON_H
#define WF_CRON_H

#include <stdint.h>
#include "std.h"

/* ---- time zones ---------------------------------------------------------- */

/* A loaded zone: transitions + offsets from the TZif file, and the POSIX rule
 * of its footer for later instants. Immutable, thread-safe to share. */
typedef struct std_tz std_tz;

/* Load zone `name` (IANA name such as "Europe/Berlin"); NULL, "" and "UTC"
 * give UTC without reading any file. Names must be relative paths without
 * ".." (e.g. "../etc/passwd" is refused). Returns NULL with e filled (type
 * "cron"): "unknown time zone 'Mars/Base' (no such zone in /usr/share/zoneinfo)". */
std_tz *std_tz_load(const char *name, std_err *e);
void std_tz_free(std_tz *z);
/* 1 if `name` exists in the system tz database (or is NULL/""/"UTC"), else 0. */
int std_tz_valid(const char *name);
/* Offset from UTC in seconds (east positive) at instant t. */
int32_t std_tz_offset(const std_tz *z, int64_t t);
/* The first offset change strictly after t, or INT64_MAX if there is none. */
int64_t std_tz_next_change(const std_tz *z, int64_t t);

/* ---- cron expressions ------------------------------------------------------ */

/* A parsed expression: one bitset per field plus the L/W/# specs and a cache
 * of the last zone std_cron_next loaded (guarded by a mutex inside). */
typedef struct std_cron std_cron;

/* Parse expr. Returns 0 and *out (free with std_cron_free), or -1 with e
 * filled (type "cron"), the message naming the field:
 *   "cron '0 0 32 * *': day-of-month: 32 is out of range 1-31" */
int std_cron_parse(const char *expr, std_cron **out, std_err *e);
void std_cron_free(std_cron *c);

/* The first fire time strictly after `after` (Unix seconds), in time zone tz
 * (IANA name, NULL/"" = UTC); 0 if there is none within 10 years (enough for
 * "0 0 29 2 *" across 2100) or if tz is not a valid zone (check it with
 * std_tz_valid first). Loads the zone once and keeps it inside c for later
 * calls with the same name; thread-safe (the cache is locked). */
int64_t std_cron_next(const std_cron *c, const char *tz, int64_t after);
/* The same with a zone the caller loaded (NULL = UTC); no locking. */
int64_t std_cron_next_tz(const std_cron *c, const std_tz *z, int64_t after);

#endif
