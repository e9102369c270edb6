/* test_duration.c — strict duration parsing (values and exact messages) and
 * compact formatting round trips. */
#include <stdint.h>

#include "../../stdlib/duration.h"
#include "check.h"

static int64_t ok_ms(const char *s)
{
    int64_t v = -12345;
    std_err e = {0};
    if (std_duration_parse(s, &v, &e) != 0) {
        printf("  unexpected error for '%s': %s\n", s, e.msg);
        return -12345;
    }
    return v;
}

/* the message for s, or "(accepted)" */
static const char *err_of(const char *s)
{
    static std_err e;
    std_err_clear(&e);
    int64_t v = 0;
    if (std_duration_parse(s, &v, &e) == 0) return "(accepted)";
    return e.msg;
}

static const char *fmt(int64_t ms)
{
    static char buf[64];
    std_duration_fmt(ms, buf, sizeof buf);
    return buf;
}

TEST(valid_single_units)
{
    CHECK(ok_ms("500ms") == 500);
    CHECK(ok_ms("30s") == 30000);
    CHECK(ok_ms("5m") == 300000);
    CHECK(ok_ms("1h") == 3600000);
    CHECK(ok_ms("7d") == 7 * 86400000LL);
    CHECK(ok_ms("2w") == 14 * 86400000LL);
    CHECK(ok_ms("0s") == 0);
    CHECK(ok_ms("0ms") == 0);
    CHECK(ok_ms("05m") == 300000);
}

TEST(valid_bare_seconds)
{
    CHECK(ok_ms("0") == 0);
    CHECK(ok_ms("90") == 90000);
    CHECK(ok_ms("3600") == 3600000);
}

TEST(valid_combinations)
{
    CHECK(ok_ms("1h30m") == 5400000);
    CHECK(ok_ms("1h30m10s") == 5410000);
    CHECK(ok_ms("1d2h") == 93600000);
    CHECK(ok_ms("1w1d1h1m1s1ms") == 8 * 86400000LL + 3600000 + 60000 + 1000 + 1);
    CHECK(ok_ms("1m500ms") == 60500);
    CHECK(ok_ms("90m") == 5400000); /* a unit may exceed the next one up */
}

TEST(valid_limits)
{
    CHECK(ok_ms("9223372036854775807ms") == INT64_MAX);
    CHECK(ok_ms("9223372036854775s") == 9223372036854775000LL);
    CHECK(ok_ms("9223372036854775s807ms") == INT64_MAX);
}

TEST(invalid_empty_spaces_signs)
{
    CHECK_STR(err_of(""), "invalid duration '': empty (write e.g. 30s, 5m, 1h30m)");
    CHECK_STR(err_of(NULL), "invalid duration '': empty (write e.g. 30s, 5m, 1h30m)");
    CHECK_STR(err_of(" 5s"), "invalid duration ' 5s': spaces are not allowed");
    CHECK_STR(err_of("1h 30m"), "invalid duration '1h 30m': spaces are not allowed");
    CHECK_STR(err_of("5s\n"), "invalid duration '5s\n': spaces are not allowed");
    CHECK_STR(err_of("-5s"), "invalid duration '-5s': negative durations are not allowed");
    CHECK_STR(err_of("-1"), "invalid duration '-1': negative durations are not allowed");
    CHECK_STR(err_of("+5s"), "invalid duration '+5s': unexpected '+'");
}

TEST(invalid_fractions)
{
    CHECK_STR(err_of("1.5s"), "invalid duration '1.5s': fractions are not allowed (write 1500ms)");
    CHECK_STR(err_of("1.5"), "invalid duration '1.5': fractions are not allowed (write 1500ms)");
    CHECK_STR(err_of("1.5h"), "invalid duration '1.5h': fractions are not allowed (write 90m)");
    CHECK_STR(err_of("0.5d"), "invalid duration '0.5d': fractions are not allowed (write 12h)");
    CHECK_STR(err_of("0.0s"), "invalid duration '0.0s': fractions are not allowed (write 0s)");
    CHECK_STR(err_of("1h0.5m"),
              "invalid duration '1h0.5m': fractions are not allowed (write 1h30s)");
    CHECK_STR(err_of("1.5ms"),
              "invalid duration '1.5ms': fractions are not allowed (use a smaller unit, e.g. "
              "1500ms for 1.5s)");
    CHECK_STR(err_of("1.5s2ms"),
              "invalid duration '1.5s2ms': fractions are not allowed (use a smaller unit, e.g. "
              "1500ms for 1.5s)");
    CHECK_STR(err_of("1."), "invalid duration '1.': unexpected '.'");
    CHECK_STR(err_of(".5s"), "invalid duration '.5s': unexpected '.'");
}

TEST(invalid_units)
{
    CHECK_STR(err_of("5x"), "invalid duration '5x': unknown unit 'x' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("5sec"),
              "invalid duration '5sec': unknown unit 'sec' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("5M"), "invalid duration '5M': unknown unit 'M' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("1h30x"),
              "invalid duration '1h30x': unknown unit 'x' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("h"), "invalid duration 'h': missing number before 'h'");
    CHECK_STR(err_of("1hm"), "invalid duration '1hm': unknown unit 'hm' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("1h30"),
              "invalid duration '1h30': missing unit after '30' (use ms, s, m, h, d, w)");
    CHECK_STR(err_of("5s!"), "invalid duration '5s!': unexpected '!'");
    CHECK_STR(err_of("5\x01s"), "invalid duration '5\x01s': unexpected byte 0x01");
}

TEST(invalid_order)
{
    CHECK_STR(err_of("1h2h"), "invalid duration '1h2h': unit 'h' repeated");
    CHECK_STR(err_of("30m1h"),
              "invalid duration '30m1h': units must go from largest to smallest ('h' after 'm')");
    CHECK_STR(err_of("1ms1s"),
              "invalid duration '1ms1s': units must go from largest to smallest ('s' after 'ms')");
    CHECK_STR(err_of("1d1w"),
              "invalid duration '1d1w': units must go from largest to smallest ('w' after 'd')");
}

TEST(invalid_overflow)
{
    CHECK_STR(err_of("9223372036854775808ms"),
              "invalid duration '9223372036854775808ms': too large");
    CHECK_STR(err_of("9223372036854776s"), "invalid duration '9223372036854776s': too large");
    CHECK_STR(err_of("9223372036854775807"), "invalid duration '9223372036854775807': too large");
    CHECK_STR(err_of("99999999999999999999999w"),
              "invalid duration '99999999999999999999999w': too large");
    CHECK_STR(err_of("9223372036854775s808ms"),
              "invalid duration '9223372036854775s808ms': too large");
    /* long inputs are shortened in messages */
    CHECK_STR(err_of("1111111111111111111111111111111111111111111x"),
              "invalid duration '1111111111111111111111111111111111111...': unknown unit 'x' "
              "(use ms, s, m, h, d, w)");
}

TEST(error_fields)
{
    std_err e;
    memset(&e, 0x55, sizeof e);
    int64_t v = 77;
    CHECK(std_duration_parse("5x", &v, &e) == -1);
    CHECK(v == 77); /* untouched on error */
    CHECK(e.line == 0 && e.col == 0 && e.file[0] == 0);
    CHECK(std_duration_parse("5x", &v, NULL) == -1); /* NULL err is allowed */
}

TEST(fmt_values)
{
    CHECK_STR(fmt(0), "0s");
    CHECK_STR(fmt(250), "250ms");
    CHECK_STR(fmt(1000), "1s");
    CHECK_STR(fmt(5400000), "1h30m");
    CHECK_STR(fmt(93600000), "1d2h");
    CHECK_STR(fmt(7 * 86400000LL), "1w");
    CHECK_STR(fmt(14 * 86400000LL), "2w");
    CHECK_STR(fmt(8 * 86400000LL), "8d");
    CHECK_STR(fmt(60500), "1m500ms");
    CHECK_STR(fmt(5410000), "1h30m10s");
    CHECK_STR(fmt(-1500), "-1s500ms");
    CHECK_STR(fmt(INT64_MAX), "106751991167d7h12m55s807ms");
    CHECK_STR(fmt(INT64_MIN), "-106751991167d7h12m55s808ms");
    char small[4];
    std_duration_fmt(5400000, small, sizeof small);
    CHECK_STR(small, "1h3"); /* truncated, still terminated */
}

TEST(fmt_round_trip)
{
    const int64_t vals[] = {0, 1, 999, 1000, 1001, 59999, 60000, 3599999, 3600000, 86399999,
                            86400000, 604800000, 604800001, 1209600000, 123456789012LL,
                            INT64_MAX, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int64_t back = -1;
        CHECK(std_duration_parse(fmt(vals[i]), &back, NULL) == 0);
        CHECK(back == vals[i]);
    }
    /* pseudo-random values too */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = (int64_t)(x >> (1 + i % 40));
        int64_t back = -1;
        CHECK(std_duration_parse(fmt(v), &back, NULL) == 0 && back == v);
    }
    /* and parse -> fmt -> parse for written forms */
    const char *written[] = {"1h30m", "90m", "2w", "14d", "1500ms", "3600", "1d24h"};
    for (size_t i = 0; i < sizeof written / sizeof written[0]; i++) {
        int64_t a = ok_ms(written[i]), b = -1;
        CHECK(std_duration_parse(fmt(a), &b, NULL) == 0 && a == b);
    }
}

int main(void)
{
    RUN(valid_single_units);
    RUN(valid_bare_seconds);
    RUN(valid_combinations);
    RUN(valid_limits);
    RUN(invalid_empty_spaces_signs);
    RUN(invalid_fractions);
    RUN(invalid_units);
    RUN(invalid_order);
    RUN(invalid_overflow);
    RUN(error_fields);
    RUN(fmt_values);
    RUN(fmt_round_trip);
    CHECK_DONE();
}
