/* cron.c — cron expressions, TZif time zones and the next fire time.
 *
 * Parsing turns each field into a bitset (day-of-week 7 folds into 0) plus
 * the L/W/# specs; the day rule (AND when either day field starts with '*',
 * else OR) is applied when a month's matching days are computed.
 *
 * Zones: the TZif file (v2+ 64-bit section when present) gives transitions;
 * only those that change the UTC offset are kept. The POSIX TZ string of the
 * footer covers instants after the last transition: its DST rule is expanded
 * into transitions up to the year RULE_LAST_YEAR (later instants keep the
 * offset of the last one). Everything is plain arrays searched by bisection.
 *
 * Next fire time: the timeline is cut into segments of constant offset. In a
 * segment, local time = instant + offset is monotonic, so the first matching
 * local minute is found by skipping field by field (month, day, hour,
 * minute) and mapped back. Then the DST rules of cron.h: local times already
 * seen in the previous segment (fall-back overlap) are skipped unless the
 * hour field is full; a match inside the gap before the next segment
 * (spring forward) fires at the start of that segment unless the hour field
 * is full.
 */
#include "cron.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RULE_LAST_YEAR 2500
#define HORIZON_S ((int64_t)(10 * 366 + 1) * 86400) /* 10 years and a bit */
#define T_LIMIT ((int64_t)1 << 40)                  /* |t| beyond ~34000 years: no answer */

/* ---- civil calendar (proleptic Gregorian, days since 1970-01-01) ---------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0))) q--;
    return q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m)
{
    static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m];
}

/* 0 = Sunday; 1970-01-01 was a Thursday */
static int weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* ---- time zones ------------------------------------------------------------ */

typedef struct rule_date {
    char kind;   /* 'M' month.week.day, 'J' Julian 1-365 without Feb 29, 'D' 0-365 */
    int m, w, d; /* for 'M' */
    int n;       /* for 'J' and 'D' */
    int32_t time; /* seconds after local midnight; may be negative or > 24h */
} rule_date;

struct std_tz {
    size_t n;    /* offset changes */
    int64_t *at; /* instants, ascending */
    int32_t *off; /* offset from at[i] on */
    int32_t off0; /* offset before at[0] */
};

static int32_t tz_off(const std_tz *z, int64_t t)
{
    size_t lo = 0, hi = z->n; /* count of at[i] <= t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo ? z->off[lo - 1] : z->off0;
}

int32_t std_tz_offset(const std_tz *z, int64_t t) { return z ? tz_off(z, t) : 0; }

int64_t std_tz_next_change(const std_tz *z, int64_t t)
{
    if (!z) return INT64_MAX;
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo < z->n ? z->at[lo] : INT64_MAX;
}

/* the last change at or before t, INT64_MIN if none; *before = offset before it */
static int64_t tz_prev_change(const std_tz *z, int64_t t, int32_t *before)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return INT64_MIN;
    *before = lo >= 2 ? z->off[lo - 2] : z->off0;
    return z->at[lo - 1];
}

void std_tz_free(std_tz *z)
{
    if (!z) return;
    free(z->at);
    free(z->off);
    free(z);
}

/* growable transition list used while loading */
typedef struct tlist {
    int64_t *at;
    int32_t *off;
    size_t n, cap;
    int32_t off0;
} tlist;

static int tl_push(tlist *l, int64_t at, int32_t off)
{
    int32_t prev = l->n ? l->off[l->n - 1] : l->off0;
    if (off == prev) return 0;
    if (l->n && at <= l->at[l->n - 1]) { /* out of order: keep the list sorted */
        while (l->n && at <= l->at[l->n - 1]) l->n--;
        if (off == (l->n ? l->off[l->n - 1] : l->off0)) return 0;
    }
    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 64;
        int64_t *a = realloc(l->at, c * sizeof *a);
        if (!a) return -1;
        l->at = a;
        int32_t *o = realloc(l->off, c * sizeof *o);
        if (!o) return -1;
        l->off = o;
        l->cap = c;
    }
    l->at[l->n] = at;
    l->off[l->n] = off;
    l->n++;
    return 0;
}

/* POSIX TZ string parsing (the TZif footer) ------------------------------- */

static int ptz_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        while (*s && *s != '>') s++;
        if (*s != '>') return -1;
        *p = s + 1;
        return 0;
    }
    const char *s0 = s;
    while (isalpha((unsigned char)*s)) s++;
    if (s - s0 < 3) return -1;
    *p = s;
    return 0;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to 167 (RFC 8536) */
static int ptz_time(const char **p, int32_t *out)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s)) return -1;
    int h = 0, m = 0, sec = 0;
    while (isdigit((unsigned char)*s)) {
        h = h * 10 + (*s++ - '0');
        if (h > 167) return -1;
    }
    if (*s == ':') {
        s++;
        if (!isdigit((unsigned char)*s)) return -1;
        while (isdigit((unsigned char)*s)) m = m * 10 + (*s++ - '0');
        if (m > 59) return -1;
        if (*s == ':') {
            s++;
            if (!isdigit((unsigned char)*s)) return -1;
            while (isdigit((unsigned char)*s)) sec = sec * 10 + (*s++ - '0');
            if (sec > 59) return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return 0;
}

static int ptz_num(const char **p, int *v, int lo, int hi)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s)) return -1;
    int x = 0;
    while (isdigit((unsigned char)*s)) {
        x = x * 10 + (*s++ - '0');
        if (x > 1000) return -1;
    }
    if (x < lo || x > hi) return -1;
    *v = x;
    *p = s;
    return 0;
}

static int ptz_date(const char **p, rule_date *r)
{
    const char *s = *p;
    memset(r, 0, sizeof *r);
    r->time = 7200;
    if (*s == 'M') {
        s++;
        r->kind = 'M';
        if (ptz_num(&s, &r->m, 1, 12) || *s++ != '.' || ptz_num(&s, &r->w, 1, 5) ||
            *s++ != '.' || ptz_num(&s, &r->d, 0, 6))
            return -1;
    } else if (*s == 'J') {
        s++;
        r->kind = 'J';
        if (ptz_num(&s, &r->n, 1, 365)) return -1;
    } else {
        r->kind = 'D';
        if (ptz_num(&s, &r->n, 0, 365)) return -1;
    }
    if (*s == '/') {
        s++;
        if (ptz_time(&s, &r->time)) return -1;
    }
    *p = s;
    return 0;
}

/* the local day (days since epoch) a rule date falls on in year y */
static int64_t rule_day(const rule_date *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J') return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'D') return jan1 + r->n;
    int64_t first = days_from_civil(y, r->m, 1);
    int64_t day = first + (r->d - weekday(first) + 7) % 7 + (int64_t)(r->w - 1) * 7;
    int dim = days_in_month(y, r->m);
    while (day >= first + dim) day -= 7;
    return day;
}

/* Append the footer's transitions from year y0 to RULE_LAST_YEAR after `last`. */
static int ptz_expand(const char *tzs, tlist *l, int64_t last, int has_last)
{
    const char *p = tzs;
    int32_t std_west, dst_west;
    if (!*p) return 0; /* empty footer: the last type stays */
    if (ptz_name(&p) || ptz_time(&p, &std_west)) return -1;
    int32_t std_off = -std_west;
    if (!*p) { /* no DST: the table's last offset stays (they agree) */
        if (!has_last) l->off0 = std_off;
        return 0;
    }
    if (ptz_name(&p)) return -1;
    dst_west = std_west - 3600;
    if (*p && *p != ',' && ptz_time(&p, &dst_west)) return -1;
    int32_t dst_off = -dst_west;
    rule_date rs, re;
    if (!*p) { /* default US rule */
        const char *d = "M3.2.0";
        const char *e2 = "M11.1.0";
        if (ptz_date(&d, &rs) || ptz_date(&e2, &re)) return -1;
    } else {
        if (*p++ != ',' || ptz_date(&p, &rs) || *p++ != ',' || ptz_date(&p, &re) || *p) return -1;
    }
    if (std_off == dst_off) {
        if (!has_last) l->off0 = std_off;
        return 0;
    }
    int64_t y0 = 1900;
    int m, d;
    if (has_last) civil_from_days(floor_div(last, 86400), &y0, &m, &d);
    for (int64_t y = y0; y <= RULE_LAST_YEAR; y++) {
        int64_t a = rule_day(&rs, y) * 86400 + rs.time - std_off;
        int64_t b = rule_day(&re, y) * 86400 + re.time - dst_off;
        int64_t t1 = a < b ? a : b, t2 = a < b ? b : a;
        int32_t o1 = a < b ? dst_off : std_off, o2 = a < b ? std_off : dst_off;
        if (!has_last && y == y0) l->off0 = o2; /* before the first rule change */
        if ((!has_last || t1 > last) && tl_push(l, t1, o1)) return -1;
        if ((!has_last || t2 > last) && tl_push(l, t2, o2)) return -1;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

static const char *zonedir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : "/usr/share/zoneinfo";
}

/* Parse TZif bytes into l; -1 with a short reason in *why. */
static int tzif_parse(const unsigned char *b, size_t len, tlist *l, const char **why)
{
    *why = "not a TZif file";
    if (len < 44 || memcmp(b, "TZif", 4) != 0) return -1;
    int v2 = b[4] >= '2';
    size_t pos = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (len - pos < 44 || memcmp(b + pos, "TZif", 4) != 0) return -1;
        uint32_t isutcnt = be32(b + pos + 20), isstdcnt = be32(b + pos + 24),
                 leapcnt = be32(b + pos + 28), timecnt = be32(b + pos + 32),
                 typecnt = be32(b + pos + 36), charcnt = be32(b + pos + 40);
        size_t tsz = pass == 0 ? 4 : 8;
        if (timecnt > 100000 || typecnt > 256 || charcnt > 100000 || leapcnt > 100000 ||
            isutcnt > 256 || isstdcnt > 256)
            return -1;
        size_t body = (size_t)timecnt * tsz + timecnt + (size_t)typecnt * 6 + charcnt +
                      (size_t)leapcnt * (tsz + 4) + isstdcnt + isutcnt;
        pos += 44;
        if (len - pos < body) return -1;
        if (pass == 0 && v2) {
            pos += body;
            continue;
        }
        if (leapcnt) {
            *why = "zones with leap seconds are not supported";
            return -1;
        }
        if (typecnt == 0) return -1;
        const unsigned char *tt = b + pos, *ti = tt + (size_t)timecnt * tsz,
                            *ty = ti + timecnt;
        int32_t offs[256];
        for (uint32_t i = 0; i < typecnt; i++) {
            offs[i] = (int32_t)be32(ty + 6 * i);
            if (offs[i] < -26 * 3600 || offs[i] > 26 * 3600) return -1;
        }
        l->off0 = offs[0];
        int64_t last = 0;
        for (uint32_t i = 0; i < timecnt; i++) {
            int64_t at = tsz == 4 ? (int64_t)(int32_t)be32(tt + 4 * i) : be64(tt + 8 * i);
            if (ti[i] >= typecnt) return -1;
            if (i && at <= last) return -1;
            last = at;
            if (tl_push(l, at, offs[ti[i]])) {
                *why = "out of memory";
                return -1;
            }
        }
        pos += body;
        if (pass == 1) { /* footer: "\n<POSIX TZ>\n" */
            if (pos < len && b[pos] == '\n') {
                const unsigned char *s = b + pos + 1, *e = memchr(s, '\n', len - pos - 1);
                if (!e || e - s > 200) return -1;
                char tzs[256];
                memcpy(tzs, s, (size_t)(e - s));
                tzs[e - s] = 0;
                if (ptz_expand(tzs, l, last, timecnt > 0)) {
                    *why = "bad POSIX TZ footer";
                    return -1;
                }
            }
        }
        return 0;
    }
    return 0; /* v1 only: the table is all there is */
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || s[0] == '/' || s[0] == '.') return 0;
    for (const char *c = s; *c; c++) {
        if (!(isalnum((unsigned char)*c) || *c == '/' || *c == '_' || *c == '-' || *c == '+' ||
              *c == '.'))
            return 0;
        if (*c == '.' && c[1] == '.') return 0;
        if (*c == '/' && (c[1] == '/' || c[1] == '.')) return 0;
    }
    return 1;
}

static int is_utc_name(const char *name) { return !name || !*name || strcmp(name, "UTC") == 0; }

std_tz *std_tz_load(const char *name, std_err *e)
{
    std_tz *z = calloc(1, sizeof *z);
    if (!z) {
        std_errf(e, "cron", "out of memory");
        return NULL;
    }
    if (is_utc_name(name)) return z;
    if (!name_ok(name)) {
        std_errf(e, "cron", "invalid time zone name '%.200s' (write an IANA name such as "
                            "Europe/Berlin)", name);
        free(z);
        return NULL;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", zonedir(), name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (stat(zonedir(), &st) != 0)
            std_errf(e, "cron", "unknown time zone '%s': the tz database %s is missing "
                                "(install tzdata)", name, zonedir());
        else
            std_errf(e, "cron", "unknown time zone '%s' (no such zone in %s)", name, zonedir());
        free(z);
        return NULL;
    }
    size_t len = 0;
    std_err re = {0};
    unsigned char *b = st.st_size > (1 << 20) ? NULL : (unsigned char *)std_read_file(path, &len, &re);
    if (!b) {
        std_errf(e, "cron", "time zone '%s': %s", name, re.msg[0] ? re.msg : "file too large");
        free(z);
        return NULL;
    }
    tlist l = {0};
    const char *why = NULL;
    int rc = tzif_parse(b, len, &l, &why);
    free(b);
    if (rc) {
        std_errf(e, "cron", "time zone '%s': %s: %s", name, path, why);
        free(l.at);
        free(l.off);
        free(z);
        return NULL;
    }
    z->n = l.n;
    z->at = l.at;
    z->off = l.off;
    z->off0 = l.off0;
    return z;
}

int std_tz_valid(const char *name)
{
    std_tz *z = std_tz_load(name, NULL);
    if (!z) return 0;
    std_tz_free(z);
    return 1;
}

/* ---- parsing ------------------------------------------------------------- */

struct std_cron {
    uint64_t minute;  /* bits 0-59 */
    uint32_t hour;    /* bits 0-23 */
    uint32_t dom;     /* bits 1-31 */
    uint32_t dom_w;   /* nW: bits 1-31 */
    uint32_t dom_l;   /* L-n: bit n (0-30) */
    int dom_lw;       /* LW */
    uint16_t month;   /* bits 1-12 */
    uint8_t dow;      /* bits 0-6 */
    uint8_t dow_last; /* dL: bit d */
    uint8_t dow_nth[7]; /* d#n: bit n (1-5) */
    int dom_star, dow_star; /* the field's text starts with '*' */
    /* zone cache of std_cron_next */
    pthread_mutex_t lock;
    char *tz_name;
    std_tz *tz;
};

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };
static const char *const FNAME[5] = {"minute", "hour", "day-of-month", "month", "day-of-week"};
static const int FLO[5] = {0, 0, 1, 1, 0}, FHI[5] = {59, 23, 31, 12, 7};
static const char *const MONTHS[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAYS[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct pctx {
    const char *expr; /* for messages */
    std_err *e;
    int f; /* field index */
} pctx;

static int ferr(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ferr(pctx *c, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return std_errf(c->e, "cron", "cron '%.200s': %s: %s", c->expr, FNAME[c->f], m);
}

/* Decimal digits at p (before end) into *v, clamped to 999999999; returns
 * the first non-digit. */
static const char *digits(const char *p, const char *end, long *v)
{
    long x = 0;
    while (p < end && isdigit((unsigned char)*p)) {
        x = x * 10 + (*p++ - '0');
        if (x > 999999999) x = 999999999;
    }
    *v = x;
    return p;
}

/* A value at *p: digits, or a 3-letter name in month/day-of-week. */
static int parse_value(pctx *c, const char **p, const char *end, int *out)
{
    const char *s = *p;
    if (s < end && isdigit((unsigned char)*s)) {
        long v;
        s = digits(s, end, &v);
        if (v < FLO[c->f] || v > FHI[c->f]) {
            if (c->f == F_DOW) return ferr(c, "%ld is out of range 0-7 (0 and 7 are Sunday)", v);
            return ferr(c, "%ld is out of range %d-%d", v, FLO[c->f], FHI[c->f]);
        }
        *out = (int)v;
        *p = s;
        return 0;
    }
    const char *w0 = s;
    while (s < end && isalpha((unsigned char)*s)) s++;
    size_t n = (size_t)(s - w0);
    char word[32];
    snprintf(word, sizeof word, "%.*s", (int)(n < 30 ? n : 30), w0);
    if (n == 0) {
        if (s < end) return ferr(c, "unexpected '%c' in '%.*s'", *s, (int)(end - *p), *p);
        return ferr(c, "missing value");
    }
    if (c->f == F_MON || c->f == F_DOW) {
        const char *const *names = c->f == F_MON ? MONTHS : DAYS;
        int nn = c->f == F_MON ? 12 : 7;
        char up[32];
        for (size_t i = 0; i <= strlen(word); i++) up[i] = (char)toupper((unsigned char)word[i]);
        for (int i = 0; i < nn; i++)
            if (strcmp(up, names[i]) == 0) {
                *out = c->f == F_MON ? i + 1 : i;
                *p = s;
                return 0;
            }
        const char *sug = std_suggest(up, names, (size_t)nn);
        if (sug)
            return ferr(c, "unknown name '%s' (did you mean %s?)", word, sug);
        return ferr(c, "unknown name '%s' (use %s)", word, c->f == F_MON ? "JAN-DEC" : "SUN-SAT");
    }
    if (strcmp(word, "L") == 0 || strcmp(word, "W") == 0 || strcmp(word, "l") == 0 ||
        strcmp(word, "w") == 0)
        return ferr(c, "'%s' is only allowed in day-of-month or day-of-week", word);
    return ferr(c, "'%s' is not a number", word);
}

static void set_bits(pctx *c, uint64_t *bits, int lo, int hi, int step)
{
    for (int v = lo; v <= hi; v += step) {
        int b = (c->f == F_DOW && v == 7) ? 0 : v;
        *bits |= (uint64_t)1 << b;
    }
}

static int ieq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (toupper((unsigned char)a[i]) != b[i]) return 0;
    return 1;
}

/* One list item [s, end). */
static int parse_item(pctx *c, std_cron *cr, uint64_t *bits, const char *s, const char *end)
{
    size_t n = (size_t)(end - s);
    if (n == 0) return ferr(c, "empty item in list");
    if (n == 1 && *s == '?') return ferr(c, "'?' is not supported (write *)");
    const char *item = s;
    int ilen = (int)n;

    /* day-of-month extensions: L, L-n, LW, nW */
    if (c->f == F_DOM && (toupper((unsigned char)*s) == 'L' || toupper((unsigned char)end[-1]) == 'W')) {
        if (ieq(s, n, "L")) {
            cr->dom_l |= 1;
            return 0;
        }
        if (ieq(s, n, "LW")) {
            cr->dom_lw = 1;
            return 0;
        }
        if (n >= 3 && toupper((unsigned char)*s) == 'L' && s[1] == '-') {
            const char *p = s + 2;
            long v;
            if (p == end) return ferr(c, "'%.*s': missing number after L-", ilen, item);
            p = digits(p, end, &v);
            if (p != end) return ferr(c, "'%.*s': expected L-n (n days before the last day)", ilen, item);
            if (v > 30) return ferr(c, "'%.*s': %ld is out of range 0-30", ilen, item, v);
            cr->dom_l |= (uint32_t)1 << v;
            return 0;
        }
        if (toupper((unsigned char)end[-1]) == 'W') {
            long v;
            const char *p = digits(s, end - 1, &v);
            if (p == s || p != end - 1)
                return ferr(c, "'%.*s': W needs a single day before it (e.g. 15W)", ilen, item);
            if (v < 1 || v > 31) return ferr(c, "'%.*s': %ld is out of range 1-31", ilen, item, v);
            cr->dom_w |= (uint32_t)1 << v;
            return 0;
        }
        return ferr(c, "'%.*s': expected L, L-n, LW or nW", ilen, item);
    }
    /* day-of-week extensions: dL, d#n */
    if (c->f == F_DOW) {
        const char *hash = memchr(s, '#', n);
        if (hash) {
            const char *p = s;
            int d;
            if (p == hash) return ferr(c, "'%.*s': missing day before #", ilen, item);
            if (parse_value(c, &p, hash, &d)) return -1;
            if (p != hash) return ferr(c, "'%.*s': expected day#n (e.g. MON#1)", ilen, item);
            p = hash + 1;
            long k;
            if (p == end) return ferr(c, "'%.*s': missing week number after #", ilen, item);
            p = digits(p, end, &k);
            if (p != end) return ferr(c, "'%.*s': expected day#n (e.g. MON#1)", ilen, item);
            if (k < 1 || k > 5) return ferr(c, "'%.*s': week number %ld is out of range 1-5", ilen, item, k);
            cr->dow_nth[d % 7] |= (uint8_t)(1u << k);
            return 0;
        }
        if (n >= 2 && toupper((unsigned char)end[-1]) == 'L' &&
            (isdigit((unsigned char)*s) || n == 4)) {
            const char *p = s;
            int d;
            if (parse_value(c, &p, end - 1, &d)) return -1;
            if (p != end - 1) return ferr(c, "'%.*s': expected dL (e.g. 5L = last Friday)", ilen, item);
            cr->dow_last |= (uint8_t)(1u << (d % 7));
            return 0;
        }
        if (ieq(s, n, "L")) return ferr(c, "'L' needs a day before it (e.g. 5L = last Friday)");
    }
    if (memchr(s, '#', n)) return ferr(c, "'#' is only allowed in day-of-week");

    /* base [/step] */
    const char *slash = memchr(s, '/', n);
    const char *bend = slash ? slash : end;
    int lo, hi, step = 1, single = 0;
    const char *p = s;
    if (p < bend && *p == '*') {
        p++;
        if (p != bend) return ferr(c, "unexpected '%.*s' after '*'", (int)(bend - p), p);
        lo = FLO[c->f];
        hi = FHI[c->f];
        if (c->f == F_DOW) hi = 7;
    } else {
        if (parse_value(c, &p, bend, &lo)) return -1;
        if (p < bend && *p == '-') {
            p++;
            if (p == bend) return ferr(c, "'%.*s': missing end of range", ilen, item);
            if (parse_value(c, &p, bend, &hi)) return -1;
            if (c->f == F_DOW && hi == 0 && lo > 0) hi = 7; /* FRI-SUN */
            if (hi < lo) {
                int top = c->f == F_DOW ? 6 : FHI[c->f];
                return ferr(c, "range '%.*s' runs backwards (wrap-around is not supported: "
                               "write %d-%d,%d-%d)",
                            (int)(bend - s), s, lo, top, FLO[c->f], hi);
            }
        } else {
            hi = lo;
            single = 1;
        }
        if (p != bend) return ferr(c, "unexpected '%.*s' in '%.*s'", (int)(bend - p), p, ilen, item);
    }
    if (slash) {
        const char *q = slash + 1;
        if (q == end) return ferr(c, "'%.*s': missing step after '/'", ilen, item);
        long v;
        q = digits(q, end, &v);
        if (q != end) return ferr(c, "'%.*s': step must be a number", ilen, item);
        int span = FHI[c->f] - FLO[c->f] + 1 - (c->f == F_DOW); /* dow: 7 days */
        if (v < 1 || v > span)
            return ferr(c, "'%.*s': step %ld is out of range 1-%d", ilen, item, v, span);
        step = (int)v;
        if (single) hi = c->f == F_DOW ? 7 : FHI[c->f]; /* n/s = n-max/s */
    }
    set_bits(c, bits, lo, hi, step);
    return 0;
}

static int parse_field(pctx *c, std_cron *cr, const char *s, size_t n, uint64_t *bits)
{
    const char *end = s + n, *p = s;
    *bits = 0;
    while (1) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma ? comma : end;
        if (parse_item(c, cr, bits, p, ie)) return -1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

static const char *const MACROS[][2] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};
#define NMACROS (sizeof MACROS / sizeof MACROS[0])

static int dom_feasible(const std_cron *cr)
{
    if (cr->dom_l || cr->dom_lw) return 1;
    for (int m = 1; m <= 12; m++) {
        if (!(cr->month >> m & 1)) continue;
        int dim = days_in_month(2000, m); /* a leap year: Feb 29 counts */
        uint32_t days = cr->dom | cr->dom_w;
        if (days & (((uint32_t)2 << dim) - 2)) return 1;
    }
    return 0;
}

int std_cron_parse(const char *expr, std_cron **out, std_err *e)
{
    *out = NULL;
    if (!expr) expr = "";
    pctx c = {expr, e, 0};
    const char *s = expr;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return std_errf(e, "cron", "cron '%.200s': empty expression", expr);
    if (*s == '@') {
        const char *w0 = s;
        while (*s && *s != ' ' && *s != '\t') s++;
        size_t wn = (size_t)(s - w0);
        while (*s == ' ' || *s == '\t') s++;
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(wn < 60 ? wn : 60), w0);
        for (char *q = word; *q; q++) *q = (char)tolower((unsigned char)*q);
        for (size_t i = 0; i < NMACROS; i++)
            if (strcmp(word, MACROS[i][0]) == 0) {
                if (*s)
                    return std_errf(e, "cron", "cron '%.200s': unexpected '%.40s' after %s", expr,
                                    s, MACROS[i][0]);
                return std_cron_parse(MACROS[i][1], out, e);
            }
        if (strcmp(word, "@reboot") == 0)
            return std_errf(e, "cron", "cron '%.200s': @reboot is not supported", expr);
        const char *names[NMACROS];
        for (size_t i = 0; i < NMACROS; i++) names[i] = MACROS[i][0];
        const char *sug = std_suggest(word, names, NMACROS);
        if (sug) return std_errf(e, "cron", "cron '%.200s': unknown macro (did you mean %s?)", expr, sug);
        return std_errf(e, "cron",
                        "cron '%.200s': unknown macro (use @hourly, @daily, @midnight, @weekly, "
                        "@monthly, @yearly or @annually)",
                        expr);
    }
    const char *fs[6];
    size_t fl[6];
    int nf = 0;
    while (*s) {
        const char *f0 = s;
        while (*s && *s != ' ' && *s != '\t') s++;
        if (nf < 6) {
            fs[nf] = f0;
            fl[nf] = (size_t)(s - f0);
        }
        nf++;
        while (*s == ' ' || *s == '\t') s++;
    }
    if (nf != 5)
        return std_errf(e, "cron",
                        "cron '%.200s': expected 5 fields (minute hour day-of-month month "
                        "day-of-week), got %d",
                        expr, nf);
    std_cron *cr = calloc(1, sizeof *cr);
    if (!cr) return std_errf(e, "cron", "out of memory");
    uint64_t bits[5];
    for (int f = 0; f < 5; f++) {
        c.f = f;
        if (parse_field(&c, cr, fs[f], fl[f], &bits[f])) {
            free(cr);
            return -1;
        }
    }
    cr->minute = bits[F_MIN];
    cr->hour = (uint32_t)bits[F_HOUR];
    cr->dom = (uint32_t)bits[F_DOM];
    cr->month = (uint16_t)bits[F_MON];
    cr->dow = (uint8_t)bits[F_DOW];
    cr->dom_star = fs[F_DOM][0] == '*';
    cr->dow_star = fs[F_DOW][0] == '*';
    if (cr->dow_star && !dom_feasible(cr)) {
        c.f = F_DOM;
        ferr(&c, "'%.*s' never occurs in month '%.*s'", (int)fl[F_DOM], fs[F_DOM], (int)fl[F_MON],
             fs[F_MON]);
        free(cr);
        return -1;
    }
    pthread_mutex_init(&cr->lock, NULL);
    *out = cr;
    return 0;
}

void std_cron_free(std_cron *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->lock);
    std_tz_free(c->tz);
    free(c->tz_name);
    free(c);
}

/* ---- next fire time -------------------------------------------------------- */

/* Days of month m of year y that match (bit d for day d). */
static uint32_t day_mask(const std_cron *c, int64_t y, int m)
{
    int dim = days_in_month(y, m);
    uint32_t all = ((uint32_t)2 << dim) - 2;
    int wd1 = weekday(days_from_civil(y, m, 1)); /* weekday of the 1st */
#define WD(day) ((wd1 + (day) - 1) % 7)
    uint32_t dom = c->dom & all;
    for (int n = 0; n <= 30; n++)
        if (c->dom_l >> n & 1 && dim - n >= 1) dom |= (uint32_t)1 << (dim - n);
    if (c->dom_lw) {
        int d = dim;
        while (WD(d) == 0 || WD(d) == 6) d--;
        dom |= (uint32_t)1 << d;
    }
    for (int n = 1; n <= 31; n++) {
        if (!(c->dom_w >> n & 1) || n > dim) continue;
        int d = n, w = WD(n);
        if (w == 6) d = n == 1 ? 3 : n - 1;
        else if (w == 0) d = n == dim ? n - 2 : n + 1;
        dom |= (uint32_t)1 << d;
    }
    uint32_t dow = 0;
    for (int d = 1; d <= dim; d++) {
        int w = WD(d);
        if (c->dow >> w & 1) dow |= (uint32_t)1 << d;
        if (c->dow_nth[w] >> ((d - 1) / 7 + 1) & 1) dow |= (uint32_t)1 << d;
        if (c->dow_last >> w & 1 && d + 7 > dim) dow |= (uint32_t)1 << d;
    }
#undef WD
    return (c->dom_star || c->dow_star) ? (dom & dow) : (dom | dow);
}

static int lowest_from(uint64_t bits, int from) /* lowest set bit >= from, or -1 */
{
    if (from >= 64) return -1;
    uint64_t b = bits & (~(uint64_t)0 << from);
    return b ? __builtin_ctzll(b) : -1;
}

#define NONE INT64_MIN

/* The first matching local minute in [lo, hi) (local seconds), or NONE. */
static int64_t find_local(const std_cron *c, int64_t lo, int64_t hi)
{
    int64_t L = floor_div(lo + 59, 60) * 60;
    int64_t cy = INT64_MIN;
    int cm = 0;
    uint32_t mask = 0;
    while (L < hi) {
        int64_t days = floor_div(L, 86400), sod = L - days * 86400, y;
        int m, d;
        civil_from_days(days, &y, &m, &d);
        if (!(c->month >> m & 1)) {
            int m2 = lowest_from(c->month, m + 1);
            L = (m2 > 0 ? days_from_civil(y, m2, 1) : days_from_civil(y + 1, lowest_from(c->month, 1), 1)) * 86400;
            continue;
        }
        if (y != cy || m != cm) {
            mask = day_mask(c, y, m);
            cy = y;
            cm = m;
        }
        int d2 = lowest_from(mask, d);
        if (d2 < 0) {
            L = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) * 86400;
            continue;
        }
        if (d2 != d) {
            L = (days + d2 - d) * 86400;
            continue;
        }
        int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60);
        int h2 = lowest_from(c->hour, h);
        if (h2 < 0) {
            L = (days + 1) * 86400;
            continue;
        }
        if (h2 != h) {
            L = days * 86400 + h2 * 3600;
            continue;
        }
        int mi2 = lowest_from(c->minute, mi);
        if (mi2 < 0) {
            L = days * 86400 + (h + 1) * 3600;
            continue;
        }
        L = days * 86400 + h * 3600 + mi2 * 60;
        return L < hi ? L : NONE;
    }
    return NONE;
}

int64_t std_cron_next_tz(const std_cron *c, const std_tz *z, int64_t after)
{
    static const std_tz utc = {0};
    if (!c || after < -T_LIMIT || after > T_LIMIT) return 0;
    if (!z) z = &utc;
    int every_hour = (c->hour & 0xffffff) == 0xffffff;
    int64_t t = after + 1, limit = after + HORIZON_S;
    while (t <= limit) {
        int32_t off = tz_off(z, t), before = 0;
        int64_t e = std_tz_next_change(z, t);
        int64_t lo = t + off;
        if (!every_hour) { /* skip local times the previous segment already had */
            int64_t s = tz_prev_change(z, t, &before);
            if (s != INT64_MIN && before > off && s + before > lo) lo = s + before;
        }
        int64_t end = e <= limit ? e : limit + 1;
        int64_t L = find_local(c, lo, end + off);
        if (L != NONE) return L - off;
        if (e > limit) return 0;
        int32_t noff = tz_off(z, e);
        if (!every_hour && noff > off && find_local(c, e + off, e + noff) != NONE)
            return e; /* a match in the gap: the first instant after it */
        t = e;
    }
    return 0;
}

int64_t std_cron_next(const std_cron *c, const char *tz, int64_t after)
{
    if (!c) return 0;
    std_cron *m = (std_cron *)c; /* only the zone cache changes, under the lock */
    if (is_utc_name(tz)) return std_cron_next_tz(c, NULL, after);
    pthread_mutex_lock(&m->lock);
    if (!m->tz_name || strcmp(m->tz_name, tz) != 0) {
        std_tz *z = std_tz_load(tz, NULL);
        char *nm = z ? strdup(tz) : NULL;
        if (!z || !nm) {
            std_tz_free(z);
            free(nm);
            pthread_mutex_unlock(&m->lock);
            return 0;
        }
        std_tz_free(m->tz);
        free(m->tz_name);
        m->tz = z;
        m->tz_name = nm;
    }
    int64_t r = std_cron_next_tz(c, m->tz, after);
    pthread_mutex_unlock(&m->lock);
    return r;
}
