/* duration.c — strict parsing and compact formatting of durations.
 *
 * Accepted: one or more <digits><unit> components with units strictly in
 * descending order, each at most once ("1h30m10s", "2w", "500ms"), or a bare
 * non-negative integer meaning seconds ("90"). Units: w d h m s ms (lower
 * case; d = 24h, w = 7d — no calendar arithmetic).
 * Rejected, each with a plain message (no position): empty input, spaces,
 * signs, fractions ("1.5s": the message suggests "1500ms"), unknown units
 * (the message lists the valid ones), a number without a unit inside a
 * combination ("1h30"), repeated or out-of-order units, and totals beyond
 * INT64_MAX milliseconds.
 * Formatting is the inverse: greedy d h m s ms, "0s" for zero, and "Nw" when
 * the value is a whole number of weeks; parse(fmt(x)) == x for x >= 0.
 */
#include "duration.h"

#include <stdio.h>
#include <string.h>

#define UNITS_HINT "(use ms, s, m, h, d, w)"

typedef struct unit {
    const char *name;
    int64_t ms;
} unit;

/* descending: the index is the order check */
static const unit UNITS[] = {
    {"w", 7 * 86400000LL}, {"d", 86400000LL}, {"h", 3600000LL},
    {"m", 60000LL},        {"s", 1000LL},     {"ms", 1LL},
};
#define NUNITS (sizeof UNITS / sizeof UNITS[0])

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int find_unit(const char *s, size_t n)
{
    for (size_t i = 0; i < NUNITS; i++)
        if (strlen(UNITS[i].name) == n && memcmp(UNITS[i].name, s, n) == 0) return (int)i;
    return -1;
}

/* Quote the input for messages, shortened if long. */
static void quote(const char *s, char *out, size_t n)
{
    size_t l = strlen(s);
    if (l > 40) snprintf(out, n, "%.37s...", s);
    else snprintf(out, n, "%s", s);
}

/* Describe character c for a message. */
static void char_desc(char c, char *out, size_t n)
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x21 && u < 0x7f) snprintf(out, n, "'%c'", c);
    else snprintf(out, n, "byte 0x%02x", u);
}

/* Parse an unsigned decimal run at *p into *v; 0, or -1 on overflow. */
static int parse_digits(const char **p, int64_t *v)
{
    int64_t x = 0;
    int over = 0;
    while (is_digit(**p)) {
        if (!over && (__builtin_mul_overflow(x, 10, &x) ||
                      __builtin_add_overflow(x, **p - '0', &x)))
            over = 1;
        (*p)++;
    }
    *v = x;
    return over ? -1 : 0;
}

/* A fraction was found: component "<ip>.<frac digits at f, fl of them>"
 * with unit index u, after `before` ms of earlier components (-1: it is the
 * first); `rest` is what follows the unit. Fill e with a message suggesting
 * an exact form: a single smaller unit for a lone component ("1.5s" ->
 * "1500ms", "1.5h" -> "90m"), the compact form otherwise. */
static int fraction_error(std_err *e, const char *q, int64_t before, int64_t ip,
                          const char *f, size_t fl, int u, const char *rest)
{
    int64_t um = UNITS[u].ms, scale = 1, fv = 0, v = 0;
    int ok = fl <= 18;
    for (size_t i = 0; ok && i < fl; i++) {
        scale *= 10;
        fv = fv * 10 + (f[i] - '0');
    }
    /* exact ms value of the component: ip*um + fv*um/scale */
    int64_t num;
    ok = ok && !__builtin_mul_overflow(fv, um, &num) && num % scale == 0 &&
         !__builtin_mul_overflow(ip, um, &v) && !__builtin_add_overflow(v, num / scale, &v) &&
         !__builtin_add_overflow(v, before < 0 ? 0 : before, &v) && *rest == 0;
    if (ok) {
        char sug[48];
        if (v == 0) {
            snprintf(sug, sizeof sug, "0s");
        } else if (before < 0) {
            size_t i = 0;
            while (v % UNITS[i].ms != 0) i++; /* ends at ms at the latest */
            snprintf(sug, sizeof sug, "%lld%s", (long long)(v / UNITS[i].ms), UNITS[i].name);
        } else {
            std_duration_fmt(v, sug, sizeof sug);
        }
        return std_errf(e, NULL, "invalid duration '%s': fractions are not allowed (write %s)", q,
                        sug);
    }
    return std_errf(e, NULL,
                    "invalid duration '%s': fractions are not allowed (use a smaller unit, "
                    "e.g. 1500ms for 1.5s)",
                    q);
}

int std_duration_parse(const char *s, int64_t *ms, std_err *e)
{
    if (!s) s = "";
    char q[48];
    quote(s, q, sizeof q);
    if (!*s) return std_errf(e, NULL, "invalid duration '': empty (write e.g. 30s, 5m, 1h30m)");
    for (const char *c = s; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
            return std_errf(e, NULL, "invalid duration '%s': spaces are not allowed", q);
    if (*s == '-')
        return std_errf(e, NULL, "invalid duration '%s': negative durations are not allowed", q);

    const char *p = s;
    int64_t total = 0;
    int last = -1; /* index of the previous unit */
    while (*p) {
        if (!is_digit(*p)) {
            char d[16];
            char_desc(*p, d, sizeof d);
            if (is_alpha(*p)) {
                const char *u0 = p;
                while (is_alpha(*p)) p++;
                return std_errf(e, NULL, "invalid duration '%s': missing number before '%.*s'", q,
                                (int)(p - u0), u0);
            }
            return std_errf(e, NULL, "invalid duration '%s': unexpected %s", q, d);
        }
        const char *n0 = p;
        int64_t v;
        int over = parse_digits(&p, &v);
        const char *frac = NULL;
        size_t fl = 0;
        if (*p == '.' && is_digit(p[1])) {
            frac = ++p;
            while (is_digit(*p)) p++;
            fl = (size_t)(p - frac);
        }
        const char *u0 = p;
        while (is_alpha(*p)) p++;
        size_t ul = (size_t)(p - u0);
        if (ul == 0) {
            if (*p) {
                char d[16];
                char_desc(*p, d, sizeof d);
                return std_errf(e, NULL, "invalid duration '%s': unexpected %s", q, d);
            }
            if (frac) { /* "1.5": seconds */
                if (last >= 0)
                    return std_errf(e, NULL, "invalid duration '%s': missing unit after '%.*s' %s",
                                    q, (int)(p - n0), n0, UNITS_HINT);
                return fraction_error(e, q, -1, v, frac, fl, 4, p);
            }
            if (last >= 0) /* a unitless number only stands alone */
                return std_errf(e, NULL, "invalid duration '%s': missing unit after '%.*s' %s", q,
                                (int)(p - n0), n0, UNITS_HINT);
            if (over || __builtin_mul_overflow(v, UNITS[4].ms, &total))
                return std_errf(e, NULL, "invalid duration '%s': too large", q);
            *ms = total;
            return 0;
        }
        int u = find_unit(u0, ul);
        if (u < 0)
            return std_errf(e, NULL, "invalid duration '%s': unknown unit '%.*s' %s", q, (int)ul,
                            u0, UNITS_HINT);
        if (u == last)
            return std_errf(e, NULL, "invalid duration '%s': unit '%s' repeated", q,
                            UNITS[u].name);
        if (u < last)
            return std_errf(e, NULL,
                            "invalid duration '%s': units must go from largest to smallest "
                            "('%s' after '%s')",
                            q, UNITS[u].name, UNITS[last].name);
        if (frac) return fraction_error(e, q, last < 0 ? -1 : total, v, frac, fl, u, p);
        int64_t part;
        if (over || __builtin_mul_overflow(v, UNITS[u].ms, &part) ||
            __builtin_add_overflow(total, part, &total))
            return std_errf(e, NULL, "invalid duration '%s': too large", q);
        last = u;
    }
    *ms = total;
    return 0;
}

void std_duration_fmt(int64_t ms, char *out, size_t n)
{
    if (!out || !n) return;
    if (ms == 0) {
        snprintf(out, n, "0s");
        return;
    }
    char buf[64];
    size_t k = 0;
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0) buf[k++] = '-';
    const uint64_t week = (uint64_t)UNITS[0].ms;
    if (v % week == 0) {
        snprintf(buf + k, sizeof buf - k, "%llu%s", (unsigned long long)(v / week), "w");
    } else {
        for (size_t i = 1; i < NUNITS; i++) {
            uint64_t um = (uint64_t)UNITS[i].ms;
            if (v < um) continue;
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%llu%s", (unsigned long long)(v / um),
                                  UNITS[i].name);
            v %= um;
        }
    }
    snprintf(out, n, "%s", buf);
}
