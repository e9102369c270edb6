/* test_cron.c — cron parsing (every error names its field), the day rule,
 * L/W/#, time zones read from TZif files, DST gaps and overlaps (checked by
 * hand), and the fixtures of tests/cron/fixtures.txt: the next 1000 fire
 * times of over 200 expressions from croniter, and every UTC offset change
 * 1900-2100 of seven zones from Python's zoneinfo (see tests/cron/gen.py for
 * what croniter is trusted with and what is only checked here by hand).
 *
 * Needs the Debian tz database (tzdata) in /usr/share/zoneinfo.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../stdlib/cron.h"
#include "check.h"

/* ---- helpers ----------------------------------------------------------------- */

/* instant of local time y-mo-d h:mi at UTC offset off (minutes east) */
static int64_t at(int y, int mo, int d, int h, int mi, int off)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm) - off * 60;
}

/* "2024-03-10 03:00-0400": t in zone z */
static void fmt_local(const std_tz *z, int64_t t, char *out, size_t n)
{
    int32_t off = std_tz_offset(z, t);
    time_t lt = (time_t)(t + off);
    struct tm tm;
    gmtime_r(&lt, &tm);
    int a = off < 0 ? -off : off;
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d%c%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* The next n fire times after start, as local times joined by ", ". */
static const char *seq(const char *expr, const char *tz, int64_t start, int n)
{
    static char buf[2048];
    std_err e = {0};
    std_cron *c;
    if (std_cron_parse(expr, &c, &e) != 0) {
        snprintf(buf, sizeof buf, "(error: %s)", e.msg);
        return buf;
    }
    std_tz *z = std_tz_load(tz, &e);
    if (!z) {
        std_cron_free(c);
        snprintf(buf, sizeof buf, "(error: %s)", e.msg);
        return buf;
    }
    buf[0] = 0;
    int64_t t = start;
    for (int i = 0; i < n; i++) {
        t = std_cron_next(c, tz, t);
        char one[40];
        if (t == 0) snprintf(one, sizeof one, "none");
        else fmt_local(z, t, one, sizeof one);
        if (i) strcat(buf, ", ");
        strcat(buf, one);
        if (t == 0) break;
    }
    std_tz_free(z);
    std_cron_free(c);
    return buf;
}

/* the parse error message for expr, or "(accepted)" */
static const char *err_of(const char *expr)
{
    static std_err e;
    std_err_clear(&e);
    std_cron *c = NULL;
    if (std_cron_parse(expr, &c, &e) == 0) {
        std_cron_free(c);
        return "(accepted)";
    }
    return e.msg;
}

/* same fire times for a and b for n steps from start (UTC) */
static int same(const char *a, const char *b, int64_t start, int n)
{
    std_cron *ca, *cb;
    std_err e = {0};
    if (std_cron_parse(a, &ca, &e) != 0) return 0;
    if (std_cron_parse(b, &cb, &e) != 0) {
        std_cron_free(ca);
        return 0;
    }
    int ok = 1;
    int64_t ta = start, tb = start;
    for (int i = 0; i < n && ok; i++) {
        ta = std_cron_next(ca, NULL, ta);
        tb = std_cron_next(cb, NULL, tb);
        if (ta != tb || ta == 0) ok = 0;
    }
    if (!ok) printf("  '%s' and '%s' differ at %lld / %lld\n", a, b, (long long)ta, (long long)tb);
    std_cron_free(ca);
    std_cron_free(cb);
    return ok;
}

static int have_tzdata(void)
{
    struct stat st;
    return stat("/usr/share/zoneinfo/Europe/Berlin", &st) == 0;
}

/* ---- parsing --------------------------------------------------------------- */

TEST(errors_name_the_field)
{
    static const struct {
        const char *expr, *field;
    } cases[] = {
        {"60 * * * *", "minute"},          {"*/0 * * * *", "minute"},
        {"1,,2 * * * *", "minute"},        {"a * * * *", "minute"},
        {"5- * * * *", "minute"},          {"*/ * * * *", "minute"},
        {"** * * * *", "minute"},          {"-5 * * * *", "minute"},
        {"L * * * *", "minute"},           {"5/x * * * *", "minute"},
        {"* 24 * * *", "hour"},            {"0 22-2 * * *", "hour"},
        {"0 */25 * * *", "hour"},          {"0 1W * * *", "hour"},
        {"0 0 32 * *", "day-of-month"},    {"0 0 0 * *", "day-of-month"},
        {"0 0 32W * *", "day-of-month"},   {"0 0 L-31 * *", "day-of-month"},
        {"0 0 W * *", "day-of-month"},     {"0 0 1-5W * *", "day-of-month"},
        {"0 0 LX * *", "day-of-month"},    {"0 0 30 2 *", "day-of-month"},
        {"0 0 1#2 * *", "day-of-month"},   {"0 0 ? * MON", "day-of-month"},
        {"0 0 * 13 *", "month"},           {"0 0 * 0 *", "month"},
        {"0 0 * JANUARY *", "month"},      {"0 0 * NOV-FEB *", "month"},
        {"0 0 * */13 *", "month"},         {"0 0 * MON *", "month"},
        {"0 0 * * 8", "day-of-week"},      {"0 0 * * MOM", "day-of-week"},
        {"0 0 * * FRI-MON", "day-of-week"}, {"0 0 * * MON#6", "day-of-week"},
        {"0 0 * * MON#0", "day-of-week"},  {"0 0 * * L", "day-of-week"},
        {"0 0 * * #2", "day-of-week"},     {"0 0 * * MON#", "day-of-week"},
        {"0 0 * * */8", "day-of-week"},    {"0 0 * * JAN", "day-of-week"},
        {"0 0 * * 1-3L", "day-of-week"},   {"0 0 * * 9L", "day-of-week"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "cron '%s': %s: ", cases[i].expr, cases[i].field);
        const char *got = err_of(cases[i].expr);
        if (strncmp(got, want, strlen(want)) != 0) printf("  %s -> %s\n", cases[i].expr, got);
        CHECK(strncmp(got, want, strlen(want)) == 0);
    }
}

TEST(error_messages)
{
    CHECK_STR(err_of("0 0 32 * *"), "cron '0 0 32 * *': day-of-month: 32 is out of range 1-31");
    CHECK_STR(err_of("60 * * * *"), "cron '60 * * * *': minute: 60 is out of range 0-59");
    CHECK_STR(err_of("* 24 * * *"), "cron '* 24 * * *': hour: 24 is out of range 0-23");
    CHECK_STR(err_of("0 0 * 13 *"), "cron '0 0 * 13 *': month: 13 is out of range 1-12");
    CHECK_STR(err_of("0 0 * * 8"),
              "cron '0 0 * * 8': day-of-week: 8 is out of range 0-7 (0 and 7 are Sunday)");
    CHECK_STR(err_of("*/0 * * * *"), "cron '*/0 * * * *': minute: '*/0': step 0 is out of range 1-60");
    CHECK_STR(err_of("0 */25 * * *"), "cron '0 */25 * * *': hour: '*/25': step 25 is out of range 1-24");
    CHECK_STR(err_of("0 22-2 * * *"),
              "cron '0 22-2 * * *': hour: range '22-2' runs backwards (wrap-around is not "
              "supported: write 22-23,0-2)");
    CHECK_STR(err_of("0 0 * * FRI-MON"),
              "cron '0 0 * * FRI-MON': day-of-week: range 'FRI-MON' runs backwards "
              "(wrap-around is not supported: write 5-6,0-1)");
    CHECK_STR(err_of("0 0 * * MOM"), "cron '0 0 * * MOM': day-of-week: unknown name 'MOM' (did you mean MON?)");
    CHECK_STR(err_of("0 0 * JANUARY *"), "cron '0 0 * JANUARY *': month: unknown name 'JANUARY' (use JAN-DEC)");
    CHECK_STR(err_of("0 0 * * MON#6"),
              "cron '0 0 * * MON#6': day-of-week: 'MON#6': week number 6 is out of range 1-5");
    CHECK_STR(err_of("0 0 * * L"),
              "cron '0 0 * * L': day-of-week: 'L' needs a day before it (e.g. 5L = last Friday)");
    CHECK_STR(err_of("0 L * * *"),
              "cron '0 L * * *': hour: 'L' is only allowed in day-of-month or day-of-week");
    CHECK_STR(err_of("0 0 1#2 * *"), "cron '0 0 1#2 * *': day-of-month: '#' is only allowed in day-of-week");
    CHECK_STR(err_of("0 0 30 2 *"), "cron '0 0 30 2 *': day-of-month: '30' never occurs in month '2'");
    CHECK_STR(err_of("0 0 31 APR,JUN *"),
              "cron '0 0 31 APR,JUN *': day-of-month: '31' never occurs in month 'APR,JUN'");
    CHECK_STR(err_of("0 0 ? * MON"), "cron '0 0 ? * MON': day-of-month: '?' is not supported (write *)");
    CHECK_STR(err_of("1,,2 * * * *"), "cron '1,,2 * * * *': minute: empty item in list");
    CHECK_STR(err_of("0 0 * *"),
              "cron '0 0 * *': expected 5 fields (minute hour day-of-month month day-of-week), got 4");
    CHECK_STR(err_of("0 0 0 * * *"),
              "cron '0 0 0 * * *': expected 5 fields (minute hour day-of-month month day-of-week), got 6");
    CHECK_STR(err_of("   "), "cron '   ': empty expression");
    CHECK_STR(err_of("@dialy"), "cron '@dialy': unknown macro (did you mean @daily?)");
    CHECK_STR(err_of("@reboot"), "cron '@reboot': @reboot is not supported");
    CHECK_STR(err_of("@daily 5"), "cron '@daily 5': unexpected '5' after @daily");
    /* accepted */
    CHECK_STR(err_of("0 0 31 * *"), "(accepted)"); /* some months have a 31st */
    CHECK_STR(err_of("0 0 29 2 *"), "(accepted)");
    CHECK_STR(err_of("0 0 30 2 MON"), "(accepted)"); /* OR: every Monday in February */
    CHECK_STR(err_of("\t0  0 * *  *  "), "(accepted)");
    CHECK_STR(err_of("*/60 * * * *"), "(accepted)");
    CHECK_STR(err_of("0 0 L,LW,L-3,15W * *"), "(accepted)");
    CHECK_STR(err_of("0 0 * * MON#1,FRIL,5L,7#2"), "(accepted)");
}

TEST(names_case_insensitive_and_sunday)
{
    int64_t t0 = at(2024, 1, 1, 0, 0, 0);
    CHECK(same("0 9 * JAN-MAR MON-FRI", "0 9 * jan-mar mon-fri", t0, 300));
    CHECK(same("0 9 * Jan-Mar Mon-Fri", "0 9 * 1-3 1-5", t0, 300));
    CHECK(same("0 0 * * 7", "0 0 * * 0", t0, 100));
    CHECK(same("0 0 * * 7", "0 0 * * SUN", t0, 100));
    CHECK(same("0 0 * * 7", "0 0 * * sun", t0, 100));
    CHECK(same("0 0 * * 5-7", "0 0 * * FRI-SUN", t0, 100));
    CHECK(same("0 0 * * 5-7", "0 0 * * 0,5,6", t0, 100));
    CHECK(same("0 0 * * 0-7", "0 0 * * *", t0, 100));
    CHECK(same("0 0 * * */2", "0 0 * * 0,2,4,6", t0, 100));
    CHECK(same("0 0 * * */7", "0 0 * * 0", t0, 100));
    CHECK(same("0 0 * * 1/2", "0 0 * * 1,3,5,0", t0, 100));
    CHECK(same("0 0 * * FRIL", "0 0 * * 5L", t0, 30));
    CHECK(same("0 0 * * fri#2", "0 0 * * 5#2", t0, 30));
    CHECK(same("0 0 * * SUN#1", "0 0 * * 7#1", t0, 30));
    CHECK(same("10/15 * * * *", "10-59/15 * * * *", t0, 100));
    CHECK(same("0 0 1 2/3 *", "0 0 1 2,5,8,11 *", t0, 20));
    CHECK(same("0 0 L-0 * *", "0 0 L * *", t0, 30));
    CHECK(same("0 0 lw * *", "0 0 LW * *", t0, 30));
}

TEST(macros)
{
    int64_t t0 = at(2023, 12, 30, 17, 3, 0);
    CHECK(same("@yearly", "0 0 1 1 *", t0, 20));
    CHECK(same("@annually", "0 0 1 1 *", t0, 20));
    CHECK(same("@monthly", "0 0 1 * *", t0, 50));
    CHECK(same("@weekly", "0 0 * * 0", t0, 50));
    CHECK(same("@daily", "0 0 * * *", t0, 50));
    CHECK(same("@midnight", "0 0 * * *", t0, 50));
    CHECK(same("@hourly", "0 * * * *", t0, 50));
    CHECK(same("@HOURLY", "0 * * * *", t0, 50));
    CHECK(same("  @daily  ", "0 0 * * *", t0, 5));
}

/* ---- day rule and extensions (hand-checked) ------------------------------------ */

TEST(day_rule)
{
    int64_t t0 = at(2023, 12, 31, 12, 0, 0); /* 2024-01-01 is a Monday */
    /* either field restricted and neither starting with '*': OR */
    CHECK_STR(seq("0 0 1,15 * MON", "UTC", t0, 8),
              "2024-01-01 00:00+0000, 2024-01-08 00:00+0000, 2024-01-15 00:00+0000, "
              "2024-01-22 00:00+0000, 2024-01-29 00:00+0000, 2024-02-01 00:00+0000, "
              "2024-02-05 00:00+0000, 2024-02-12 00:00+0000");
    /* day-of-month starts with '*': AND (Mondays with an odd day) */
    CHECK_STR(seq("0 0 */2 * MON", "UTC", t0, 5),
              "2024-01-01 00:00+0000, 2024-01-15 00:00+0000, 2024-01-29 00:00+0000, "
              "2024-02-05 00:00+0000, 2024-02-19 00:00+0000");
    /* day-of-week starts with '*': AND (the 1st and 15th that are Sun/Tue/Thu/Sat) */
    CHECK_STR(seq("0 0 1,15 * */2", "UTC", t0, 4),
              "2024-02-01 00:00+0000, 2024-02-15 00:00+0000, 2024-06-01 00:00+0000, "
              "2024-06-15 00:00+0000");
    /* a full range without '*' is still restricted: OR, i.e. every day */
    CHECK(same("0 0 1-31 * MON", "0 0 * * *", t0, 100));
    CHECK(same("0 0 * * *", "0 0 * * SUN-SAT", t0, 100));
    /* '#' next to a restricted day of month: OR (croniter ANDs them) */
    CHECK_STR(seq("0 0 1-3 * 5#3", "UTC", t0, 6),
              "2024-01-01 00:00+0000, 2024-01-02 00:00+0000, 2024-01-03 00:00+0000, "
              "2024-01-19 00:00+0000, 2024-02-01 00:00+0000, 2024-02-02 00:00+0000");
    /* L and last Friday: OR */
    CHECK_STR(seq("0 0 L * 5L", "UTC", t0, 4),
              "2024-01-26 00:00+0000, 2024-01-31 00:00+0000, 2024-02-23 00:00+0000, "
              "2024-02-29 00:00+0000");
    /* Friday the 13th is not what "0 0 13 * FRI" means */
    CHECK_STR(seq("0 0 13 * FRI", "UTC", t0, 3),
              "2024-01-05 00:00+0000, 2024-01-12 00:00+0000, 2024-01-13 00:00+0000");
    /* month restricts both */
    CHECK_STR(seq("0 0 1 FEB MON", "UTC", t0, 3),
              "2024-02-01 00:00+0000, 2024-02-05 00:00+0000, 2024-02-12 00:00+0000");
}

TEST(l_w_hash)
{
    /* nW: nearest weekday, within the month */
    CHECK_STR(seq("0 0 15W * *", "UTC", at(2024, 6, 1, 0, 0, 0), 4),
              "2024-06-14 00:00+0000, 2024-07-15 00:00+0000, 2024-08-15 00:00+0000, "
              "2024-09-16 00:00+0000"); /* Sat 15 Jun -> Fri 14; Sun 15 Sep -> Mon 16 */
    CHECK_STR(seq("0 0 1W * *", "UTC", at(2024, 5, 15, 0, 0, 0), 4),
              "2024-06-03 00:00+0000, 2024-07-01 00:00+0000, 2024-08-01 00:00+0000, "
              "2024-09-02 00:00+0000"); /* Sat 1 Jun -> Mon 3 (not 31 May) */
    CHECK_STR(seq("0 0 31W * *", "UTC", at(2024, 3, 1, 0, 0, 0), 4),
              "2024-03-29 00:00+0000, 2024-05-31 00:00+0000, 2024-07-31 00:00+0000, "
              "2024-08-30 00:00+0000"); /* Sun 31 Mar -> Fri 29; no April, June */
    CHECK_STR(seq("0 0 30W * *", "UTC", at(2024, 11, 1, 0, 0, 0), 4),
              "2024-11-29 00:00+0000, 2024-12-30 00:00+0000, 2025-01-30 00:00+0000, "
              "2025-03-31 00:00+0000"); /* Sun 30 Mar -> Mon 31; no February */
    CHECK_STR(seq("0 0 LW * *", "UTC", at(2024, 3, 1, 0, 0, 0), 4),
              "2024-03-29 00:00+0000, 2024-04-30 00:00+0000, 2024-05-31 00:00+0000, "
              "2024-06-28 00:00+0000");
    CHECK_STR(seq("0 0 L-2 * *", "UTC", at(2024, 1, 1, 0, 0, 0), 4),
              "2024-01-29 00:00+0000, 2024-02-27 00:00+0000, 2024-03-29 00:00+0000, "
              "2024-04-28 00:00+0000");
    CHECK_STR(seq("0 0 L 2 *", "UTC", at(2023, 1, 1, 0, 0, 0), 3),
              "2023-02-28 00:00+0000, 2024-02-29 00:00+0000, 2025-02-28 00:00+0000");
    CHECK_STR(seq("0 0 1W,15W JUN *", "UTC", at(2024, 1, 1, 0, 0, 0), 2),
              "2024-06-03 00:00+0000, 2024-06-14 00:00+0000");
    /* nL and # */
    CHECK_STR(seq("0 0 * * 5L", "UTC", at(2024, 1, 1, 0, 0, 0), 3),
              "2024-01-26 00:00+0000, 2024-02-23 00:00+0000, 2024-03-29 00:00+0000");
    CHECK_STR(seq("0 0 * * 0L", "UTC", at(2024, 1, 1, 0, 0, 0), 3),
              "2024-01-28 00:00+0000, 2024-02-25 00:00+0000, 2024-03-31 00:00+0000");
    CHECK_STR(seq("0 0 * * MON#1,MON#3", "UTC", at(2024, 1, 1, 0, 0, 0), 4),
              "2024-01-15 00:00+0000, 2024-02-05 00:00+0000, 2024-02-19 00:00+0000, "
              "2024-03-04 00:00+0000");
    CHECK_STR(seq("0 0 * * 4#5", "UTC", at(2024, 1, 1, 0, 0, 0), 3), /* fifth Thursday */
              "2024-02-29 00:00+0000, 2024-05-30 00:00+0000, 2024-08-29 00:00+0000");
    CHECK_STR(seq("0 0 * * 1,5L", "UTC", at(2024, 1, 20, 0, 0, 0), 3), /* Mondays + last Friday */
              "2024-01-22 00:00+0000, 2024-01-26 00:00+0000, 2024-01-29 00:00+0000");
}

TEST(rare_and_never)
{
    /* 29 Feb across 2100, which is not a leap year: 8 years */
    CHECK_STR(seq("0 0 29 2 *", "UTC", at(2096, 3, 1, 0, 0, 0), 2),
              "2104-02-29 00:00+0000, 2108-02-29 00:00+0000");
    /* 29 Feb on a Sunday: 2032, then 2060 is beyond the 10-year horizon */
    CHECK_STR(seq("0 0 29 2 */7", "UTC", at(2024, 1, 1, 0, 0, 0), 2), "2032-02-29 00:00+0000, none");
    /* strictly after; seconds are rounded up to the next minute */
    CHECK_STR(seq("* * * * *", "UTC", at(2024, 1, 1, 0, 0, 0), 1), "2024-01-01 00:01+0000");
    CHECK_STR(seq("* * * * *", "UTC", at(2024, 1, 1, 0, 0, 0) + 59, 1), "2024-01-01 00:01+0000");
    CHECK_STR(seq("* * * * *", "UTC", at(2024, 1, 1, 0, 0, 0) - 1, 1), "2024-01-01 00:00+0000");
    CHECK_STR(seq("59 23 31 12 *", "UTC", at(1969, 12, 31, 23, 58, 0), 2),
              "1969-12-31 23:59+0000, 1970-12-31 23:59+0000");
}

/* ---- time zones and DST (hand-checked) --------------------------------------- */

TEST(tzdata_present)
{
    struct stat st;
    if (stat("/usr/share/zoneinfo", &st) != 0)
        printf("  /usr/share/zoneinfo is missing: install the tz database (apt-get install tzdata)\n");
    CHECK(stat("/usr/share/zoneinfo", &st) == 0);
    CHECK(have_tzdata());
}

TEST(tz_valid_and_load)
{
    CHECK(std_tz_valid("Europe/Berlin"));
    CHECK(std_tz_valid("America/Argentina/Buenos_Aires"));
    CHECK(std_tz_valid("Etc/GMT+5"));
    CHECK(std_tz_valid("UTC"));
    CHECK(std_tz_valid(""));
    CHECK(std_tz_valid(NULL));
    CHECK(!std_tz_valid("Mars/Base"));
    CHECK(!std_tz_valid("America"));
    CHECK(!std_tz_valid("../../etc/passwd"));
    CHECK(!std_tz_valid("/etc/localtime"));
    CHECK(!std_tz_valid("Europe/../Europe/Berlin"));
    CHECK(!std_tz_valid("Europe/Berlin "));
    CHECK(!std_tz_valid("zone.tab")); /* a file, not TZif */
    std_err e = {0};
    CHECK(std_tz_load("Mars/Base", &e) == NULL);
    CHECK_STR(e.msg, "unknown time zone 'Mars/Base' (no such zone in /usr/share/zoneinfo)");
    CHECK_STR(e.type, "cron");
    std_err_clear(&e);
    CHECK(std_tz_load("../x", &e) == NULL);
    CHECK_STR(e.msg, "invalid time zone name '../x' (write an IANA name such as Europe/Berlin)");
    std_err_clear(&e);
    CHECK(std_tz_load("zone.tab", &e) == NULL);
    CHECK(strstr(e.msg, "not a TZif file") != NULL);

    std_tz *z = std_tz_load("Asia/Kolkata", &e);
    CHECK(z && std_tz_offset(z, at(2024, 1, 1, 0, 0, 0)) == 19800);
    CHECK(z && std_tz_next_change(z, at(2024, 1, 1, 0, 0, 0)) == INT64_MAX);
    std_tz_free(z);
    z = std_tz_load("Pacific/Chatham", &e);
    CHECK(z && std_tz_offset(z, at(2024, 7, 1, 0, 0, 0)) == 12 * 3600 + 45 * 60);
    CHECK(z && std_tz_offset(z, at(2024, 1, 1, 0, 0, 0)) == 13 * 3600 + 45 * 60);
    std_tz_free(z);
    /* the POSIX footer beyond the listed transitions */
    z = std_tz_load("America/New_York", &e);
    CHECK(z && std_tz_next_change(z, at(2040, 1, 1, 0, 0, 0)) == at(2040, 3, 11, 2, 0, -300));
    CHECK(z && std_tz_next_change(z, at(2300, 6, 1, 0, 0, 0)) == at(2300, 11, 4, 2, 0, -240));
    std_tz_free(z);
    /* an invalid zone gives no fire time */
    std_cron *c;
    CHECK(std_cron_parse("* * * * *", &c, &e) == 0);
    CHECK(std_cron_next(c, "Mars/Base", 0) == 0);
    CHECK(std_cron_next(c, "UTC", 0) == 60);
    CHECK(std_cron_next(c, "Europe/Berlin", 0) == 60);
    CHECK(std_cron_next(c, "Asia/Kathmandu", 0) == 60); /* +05:30 then: local minutes */
    CHECK(std_cron_next(c, "Asia/Kolkata", 30) == 60);
    std_cron_free(c);
}

TEST(dst_spring_forward)
{
    /* New York 2024-03-10: 02:00 EST -> 03:00 EDT */
    CHECK_STR(seq("30 2 * * *", "America/New_York", at(2024, 3, 9, 0, 0, -300), 3),
              "2024-03-09 02:30-0500, 2024-03-10 03:00-0400, 2024-03-11 02:30-0400");
    CHECK_STR(seq("*/15 2 * * *", "America/New_York", at(2024, 3, 9, 2, 40, -300), 3),
              "2024-03-09 02:45-0500, 2024-03-10 03:00-0400, 2024-03-11 02:00-0400");
    CHECK_STR(seq("0,30 2-3 * * *", "America/New_York", at(2024, 3, 10, 0, 0, -300), 3),
              "2024-03-10 03:00-0400, 2024-03-10 03:30-0400, 2024-03-11 02:00-0400");
    /* every hour: the missing hour is skipped, one real hour apart */
    CHECK_STR(seq("30 * * * *", "America/New_York", at(2024, 3, 10, 0, 0, -300), 4),
              "2024-03-10 00:30-0500, 2024-03-10 01:30-0500, 2024-03-10 03:30-0400, "
              "2024-03-10 04:30-0400");
    CHECK_STR(seq("*/20 * * * *", "America/New_York", at(2024, 3, 10, 1, 0, -300), 4),
              "2024-03-10 01:20-0500, 2024-03-10 01:40-0500, 2024-03-10 03:00-0400, "
              "2024-03-10 03:20-0400");
    /* Berlin 2024-03-31 02:00 CET -> 03:00 CEST */
    CHECK_STR(seq("0 2 * * *", "Europe/Berlin", at(2024, 3, 30, 0, 0, 60), 3),
              "2024-03-30 02:00+0100, 2024-03-31 03:00+0200, 2024-04-01 02:00+0200");
    CHECK_STR(seq("44 */12 * * *", "Europe/Berlin", at(2024, 3, 31, 0, 0, 60), 3),
              "2024-03-31 00:44+0100, 2024-03-31 12:44+0200, 2024-04-01 00:44+0200");
    /* Sydney 2024-10-06 02:00 AEST -> 03:00 AEDT */
    CHECK_STR(seq("30 2 * * SUN", "Australia/Sydney", at(2024, 9, 30, 0, 0, 600), 2),
              "2024-10-06 03:00+1100, 2024-10-13 02:30+1100");
    /* Chatham 2024-09-29 02:45 +1245 -> 03:45 +1345 */
    CHECK_STR(seq("0 3 * * *", "Pacific/Chatham", at(2024, 9, 28, 0, 0, 765), 3),
              "2024-09-28 03:00+1245, 2024-09-29 03:45+1345, 2024-09-30 03:00+1345");
    CHECK_STR(seq("40,50 2 * * *", "Pacific/Chatham", at(2024, 9, 29, 0, 0, 765), 3),
              "2024-09-29 02:40+1245, 2024-09-29 03:45+1345, 2024-09-30 02:40+1345");
    CHECK_STR(seq("0 * * * *", "Pacific/Chatham", at(2024, 9, 29, 1, 30, 765), 3),
              "2024-09-29 02:00+1245, 2024-09-29 04:00+1345, 2024-09-29 05:00+1345");
    /* Sao Paulo 2018-11-04 00:00 -03 -> 01:00 -02: midnight does not exist */
    CHECK_STR(seq("0 0 * * *", "America/Sao_Paulo", at(2018, 11, 3, 0, 0, -180) - 60, 3),
              "2018-11-03 00:00-0300, 2018-11-04 01:00-0200, 2018-11-05 00:00-0200");
    CHECK_STR(seq("30 * * * *", "America/Sao_Paulo", at(2018, 11, 3, 22, 0, -180), 3),
              "2018-11-03 22:30-0300, 2018-11-03 23:30-0300, 2018-11-04 01:30-0200");
    /* no DST any more since 2019 */
    CHECK_STR(seq("0 0 * * *", "America/Sao_Paulo", at(2019, 11, 2, 12, 0, -180), 2),
              "2019-11-03 00:00-0300, 2019-11-04 00:00-0300");
    /* Apia skipped 30 December 2011 (-10 -> +14) */
    CHECK_STR(seq("0 12 * * *", "Pacific/Apia", at(2011, 12, 28, 0, 0, -600), 4),
              "2011-12-28 12:00-1000, 2011-12-29 12:00-1000, 2011-12-31 00:00+1400, "
              "2011-12-31 12:00+1400");
    CHECK_STR(seq("0 * 30 12 *", "Pacific/Apia", at(2011, 12, 1, 0, 0, -600), 1),
              "2012-12-30 00:00+1400");
    /* beyond the transitions listed in the file: the POSIX footer rule */
    CHECK_STR(seq("30 2 * * *", "America/New_York", at(2040, 3, 10, 0, 0, -300), 2),
              "2040-03-10 02:30-0500, 2040-03-11 03:00-0400");
    CHECK_STR(seq("0 2 * * SUN", "Europe/Berlin", at(2100, 3, 20, 0, 0, 60), 2),
              "2100-03-21 02:00+0100, 2100-03-28 03:00+0200");
}

TEST(dst_fall_back)
{
    /* New York 2024-11-03: 02:00 EDT -> 01:00 EST; 01:xx happens twice */
    CHECK_STR(seq("30 1 * * *", "America/New_York", at(2024, 11, 2, 0, 0, -240), 3),
              "2024-11-02 01:30-0400, 2024-11-03 01:30-0400, 2024-11-04 01:30-0500");
    CHECK_STR(seq("*/20 1 * * *", "America/New_York", at(2024, 11, 3, 0, 0, -240), 4),
              "2024-11-03 01:00-0400, 2024-11-03 01:20-0400, 2024-11-03 01:40-0400, "
              "2024-11-04 01:00-0500");
    CHECK_STR(seq("0 1-2 * * *", "America/New_York", at(2024, 11, 3, 0, 0, -240), 3),
              "2024-11-03 01:00-0400, 2024-11-03 02:00-0500, 2024-11-04 01:00-0500");
    /* asked from inside the second 01:xx: its first copy is already past */
    CHECK_STR(seq("30 1 * * *", "America/New_York", at(2024, 11, 3, 1, 10, -300), 1),
              "2024-11-04 01:30-0500");
    /* every hour: once per real hour, so both copies fire */
    CHECK_STR(seq("30 * * * *", "America/New_York", at(2024, 11, 3, 0, 0, -240), 4),
              "2024-11-03 00:30-0400, 2024-11-03 01:30-0400, 2024-11-03 01:30-0500, "
              "2024-11-03 02:30-0500");
    CHECK_STR(seq("30 * * * *", "America/New_York", at(2024, 11, 3, 1, 10, -300), 1),
              "2024-11-03 01:30-0500");
    /* Berlin 2024-10-27 03:00 CEST -> 02:00 CET */
    CHECK_STR(seq("15 1-3 * * *", "Europe/Berlin", at(2024, 10, 27, 0, 0, 120), 3),
              "2024-10-27 01:15+0200, 2024-10-27 02:15+0200, 2024-10-27 03:15+0100");
    CHECK_STR(seq("15 * * * *", "Europe/Berlin", at(2024, 10, 27, 1, 0, 120), 4),
              "2024-10-27 01:15+0200, 2024-10-27 02:15+0200, 2024-10-27 02:15+0100, "
              "2024-10-27 03:15+0100");
    /* Sydney 2024-04-07 03:00 AEDT -> 02:00 AEST */
    CHECK_STR(seq("15 1-4 * * *", "Australia/Sydney", at(2024, 4, 7, 0, 0, 660), 4),
              "2024-04-07 01:15+1100, 2024-04-07 02:15+1100, 2024-04-07 03:15+1000, "
              "2024-04-07 04:15+1000");
    /* Chatham 2025-04-06 03:45 +1345 -> 02:45 +1245 */
    CHECK_STR(seq("0 3 * * *", "Pacific/Chatham", at(2025, 4, 5, 12, 0, 825), 2),
              "2025-04-06 03:00+1345, 2025-04-07 03:00+1245");
    /* Sao Paulo 2018-02-18 00:00 -02 -> 2018-02-17 23:00 -03 */
    CHECK_STR(seq("30 23 * * *", "America/Sao_Paulo", at(2018, 2, 17, 0, 0, -120), 2),
              "2018-02-17 23:30-0200, 2018-02-18 23:30-0300");
    CHECK_STR(seq("*/30 * * * *", "America/Sao_Paulo", at(2018, 2, 17, 22, 40, -120), 5),
              "2018-02-17 23:00-0200, 2018-02-17 23:30-0200, 2018-02-17 23:00-0300, "
              "2018-02-17 23:30-0300, 2018-02-18 00:00-0300");
}

TEST(cache_switches_zones)
{
    std_cron *c;
    std_err e = {0};
    CHECK(std_cron_parse("0 9 * * *", &c, &e) == 0);
    int64_t t = at(2024, 6, 1, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        CHECK(std_cron_next(c, "Europe/Berlin", t) == at(2024, 6, 1, 9, 0, 120));
        CHECK(std_cron_next(c, "America/New_York", t) == at(2024, 6, 1, 9, 0, -240));
        CHECK(std_cron_next(c, NULL, t) == at(2024, 6, 1, 9, 0, 0));
        CHECK(std_cron_next(c, "Asia/Kolkata", t) == at(2024, 6, 1, 9, 0, 330));
    }
    std_cron_free(c);
}

/* ---- fixtures (croniter, zoneinfo) ----------------------------------------- */

static FILE *open_fixtures(void)
{
    const char *env = getenv("CRON_FIXTURES");
    if (env) return fopen(env, "r");
    FILE *f = fopen("tests/cron/fixtures.txt", "r");
    if (f) return f;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 40);
    if (n <= 0) return NULL;
    exe[n] = 0; /* <root>/build/tests/test_cron */
    for (int i = 0; i < 3; i++) {
        char *s = strrchr(exe, '/');
        if (!s) return NULL;
        *s = 0;
    }
    strcat(exe, "/tests/cron/fixtures.txt");
    return fopen(exe, "r");
}

TEST(fixtures)
{
    FILE *f = open_fixtures();
    if (!f) printf("  tests/cron/fixtures.txt not found (run from the repository root)\n");
    CHECK(f != NULL);
    if (!f) return;
    if (!have_tzdata()) {
        printf("  /usr/share/zoneinfo is missing: install tzdata\n");
        CHECK(have_tzdata());
        fclose(f);
        return;
    }
    int64_t t_start = std_mono_ns();
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    char made_with[32] = "", have[32] = "";
    FILE *zi = fopen("/usr/share/zoneinfo/tzdata.zi", "r");
    if (zi) {
        if (fgets(line, (int)cap, zi)) sscanf(line, "# version %31s", have);
        fclose(zi);
    }
    int cases = 0, fires = 0, bad_cases = 0, zones = 0, changes = 0, bad_changes = 0;
    char seen[32][64];
    int nseen = 0;
    while (fgets(line, (int)cap, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *v = line[0] == '#' ? strstr(line, " tzdata ") : NULL;
        if (v && !made_with[0]) sscanf(v, " tzdata %31[^;, ]", made_with);
        if (line[0] == 'Z' && line[1] == '\t') {
            char *zone = line + 2, *list = strchr(zone, '\t');
            if (!list) continue;
            *list++ = 0;
            std_err e = {0};
            std_tz *z = std_tz_load(zone, &e);
            CHECK(z != NULL);
            if (!z) continue;
            zones++;
            int32_t prev = 0;
            int first = 1;
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
                long long t;
                int off;
                if (sscanf(tok, "%lld:%d", &t, &off) != 2) continue;
                changes++;
                int ok = std_tz_offset(z, t) == off && (first || std_tz_offset(z, t - 1) == prev) &&
                         std_tz_next_change(z, t - 1) == t;
                if (!ok && bad_changes++ < 5)
                    printf("  %s: change at %lld to %d: got %d, before %d, next change %lld\n", zone,
                           t, off, std_tz_offset(z, t), std_tz_offset(z, t - 1),
                           (long long)std_tz_next_change(z, t - 1));
                prev = off;
                first = 0;
            }
            std_tz_free(z);
            continue;
        }
        if (line[0] != 'C' || line[1] != '\t') continue;
        char *expr = line + 2, *zone = strchr(expr, '\t');
        if (!zone) continue;
        *zone++ = 0;
        char *st = strchr(zone, '\t');
        if (!st) continue;
        *st++ = 0;
        char *deltas = strchr(st, '\t');
        if (!deltas) continue;
        *deltas++ = 0;
        int64_t t = strtoll(st, NULL, 10);
        std_err e = {0};
        std_cron *c;
        if (std_cron_parse(expr, &c, &e) != 0) {
            printf("  '%s': %s\n", expr, e.msg);
            bad_cases++;
            continue;
        }
        cases++;
        int known = 0;
        for (int i = 0; i < nseen; i++) known |= strcmp(seen[i], zone) == 0;
        if (!known && nseen < 32) snprintf(seen[nseen++], sizeof seen[0], "%s", zone);
        int n = 0, bad = 0;
        for (char *tok = strtok(deltas, ","); tok && !bad; tok = strtok(NULL, ",")) {
            long long d = 0, k = 1;
            if (sscanf(tok, "%lld*%lld", &d, &k) < 1) break;
            for (long long j = 0; j < k && !bad; j++) {
                int64_t want = t + d * 60, got = std_cron_next(c, zone, t);
                n++;
                if (got != want) {
                    bad = 1;
                    std_tz *z = std_tz_load(zone, NULL);
                    char a[40], b[40], p[40];
                    fmt_local(z, want, a, sizeof a);
                    fmt_local(z, got, b, sizeof b);
                    fmt_local(z, t, p, sizeof p);
                    printf("  '%s' %s: after %s: want %s, got %s (fire %d)\n", expr, zone, p, a, b, n);
                    std_tz_free(z);
                }
                t = want;
            }
        }
        if (!bad && n != 1000) {
            printf("  '%s' %s: %d fire times, expected 1000\n", expr, zone, n);
            bad = 1;
        }
        fires += n;
        bad_cases += bad;
        std_cron_free(c);
    }
    free(line);
    fclose(f);
    double secs = (double)(std_mono_ns() - t_start) / 1e9;
    printf("# fixtures: %d expressions x 1000 fire times in %d zones agree with croniter: %d "
           "failed; %d offset changes of %d zones agree with zoneinfo: %d failed; %.2f s\n",
           cases, nseen, bad_cases, changes, zones, bad_changes, secs);
    if ((bad_cases || bad_changes) && strcmp(made_with, have) != 0)
        printf("  the fixtures were made with tzdata %s, this system has %s: if a zone's rules "
               "changed, regenerate them (see tests/cron/gen.py)\n",
               made_with[0] ? made_with : "?", have[0] ? have : "?");
    CHECK(cases >= 200);
    CHECK(nseen >= 7);
    CHECK(bad_cases == 0);
    CHECK(zones >= 7 && changes > 1000);
    CHECK(bad_changes == 0);
    CHECK(secs < 5 * time_scale());
}

int main(void)
{
    RUN(errors_name_the_field);
    RUN(error_messages);
    RUN(names_case_insensitive_and_sunday);
    RUN(macros);
    RUN(day_rule);
    RUN(l_w_hash);
    RUN(rare_and_never);
    RUN(tzdata_present);
    RUN(tz_valid_and_load);
    RUN(dst_spring_forward);
    RUN(dst_fall_back);
    RUN(cache_switches_zones);
    RUN(fixtures);
    CHECK_DONE();
}
