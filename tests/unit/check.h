/* check.h — the assertion macros of the C unit tests.
 *
 * Each unit test program prints one line per check group: "ok NAME" or
 * "FAIL NAME: file:line: what", and exits non-zero if any failed;
 * tests/run.sh counts the lines of every program into "N passed, N failed".
 */
#ifndef WF_CHECK_H
#define WF_CHECK_H

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

static int check_failed_total;
static int check_failed_now;
static const char *check_name;

#define TEST(name) static void name(void)
#define RUN(name)                                                                    \
    do {                                                                             \
        check_name = #name;                                                          \
        check_failed_now = 0;                                                        \
        name();                                                                      \
        if (!check_failed_now) printf("ok %s\n", #name);                             \
        fflush(stdout);                                                              \
    } while (0)
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            if (!check_failed_now) printf("FAIL %s: %s:%d: %s\n", check_name,        \
                                          __FILE__, __LINE__, #cond);                \
            check_failed_now = 1;                                                    \
            check_failed_total++;                                                    \
        }                                                                            \
    } while (0)
#define CHECK_STR(a, b)                                                              \
    do {                                                                             \
        const char *ca_ = (a), *cb_ = (b);                                           \
        if (!ca_ || !cb_ || strcmp(ca_, cb_) != 0) {                                 \
            if (!check_failed_now)                                                   \
                printf("FAIL %s: %s:%d: %s == \"%s\", expected \"%s\"\n", check_name,  \
                       __FILE__, __LINE__, #a, ca_ ? ca_ : "(null)",                 \
                       cb_ ? cb_ : "(null)");                                        \
            check_failed_now = 1;                                                    \
            check_failed_total++;                                                    \
        }                                                                            \
    } while (0)
#define CHECK_DONE() return check_failed_total ? 1 : 0

/* Limits on elapsed time are multiplied by $WFDSL_TEST_TIME_SCALE (default 1;
 * `make valgrind` sets it, since memcheck runs code ~20 times slower). */
static inline double time_scale(void)
{
    const char *s = getenv("WFDSL_TEST_TIME_SCALE");
    double f = s ? atof(s) : 1;
    return f >= 1 ? f : 1;
}

#endif
