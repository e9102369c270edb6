/* std.c — errors, buffers, diagnostics, clocks, hashing and file reading
 * shared by every part of wfdsl. See std.h. */
#include "std.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <openssl/evp.h>

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!src) src = "";
    snprintf(dst, n, "%s", src);
}

int std_errf(std_err *e, const char *type, const char *fmt, ...)
{
    if (!e) return -1;
    copy_str(e->type, sizeof e->type, type);
    e->file[0] = 0;
    e->line = e->col = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int std_errpos(std_err *e, const char *type, const char *file, int line, int col,
               const char *fmt, ...)
{
    if (!e) return -1;
    copy_str(e->type, sizeof e->type, type);
    copy_str(e->file, sizeof e->file, file);
    e->line = line;
    e->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void std_err_clear(std_err *e)
{
    if (e) memset(e, 0, sizeof *e);
}

static void buf_reserve(std_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    b->p = p;
    b->cap = cap;
}

void std_buf_add(std_buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

void std_buf_adds(std_buf *b, const char *s) { std_buf_add(b, s, strlen(s)); }

void std_buf_vaddf(std_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void std_buf_addf(std_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void std_buf_reset(std_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

void std_buf_free(std_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *std_buf_take(std_buf *b)
{
    buf_reserve(b, 0);
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

char *std_strf(const char *fmt, ...)
{
    std_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    std_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return std_buf_take(&b);
}

void std_diag(std_diags *d, const char *file, int line, int col, const char *fmt, ...)
{
    std_buf b = {0};
    std_buf_addf(&b, "%s:%d:%d: error: ", file ? file : "<input>", line, col);
    va_list ap;
    va_start(ap, fmt);
    std_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        char **m = realloc(d->msgs, d->cap * sizeof *m);
        if (!m) abort();
        d->msgs = m;
    }
    d->msgs[d->n++] = std_buf_take(&b);
}

void std_diags_free(std_diags *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->msgs[i]);
    free(d->msgs);
    memset(d, 0, sizeof *d);
}

int64_t std_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t std_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void std_fmt_time(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, frac);
}

int std_parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3) frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++) frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return -1;
        off = (hh * 60 + mm) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
    return 0;
}

void std_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

void std_random_hex(char out[33])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = getrandom(r + got, sizeof r - got, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            abort();
        }
        got += (size_t)k;
    }
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", r[i]);
    out[32] = 0;
}

char *std_read_file(const char *path, size_t *len, std_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        std_errf(e, "io", "%s: %s", path, strerror(errno));
        return NULL;
    }
    std_buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        std_buf_add(&b, chunk, k);
        if (b.len > STD_MAX_FILE) {
            fclose(f);
            std_buf_free(&b);
            std_errf(e, "io", "%s: too large (the limit is %d bytes)", path, STD_MAX_FILE);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        std_buf_free(&b);
        std_errf(e, "io", "%s: read error", path);
        return NULL;
    }
    if (len) *len = b.len;
    return std_buf_take(&b);
}

int std_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 1000;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *std_suggest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bestd = 1000;
    for (size_t i = 0; i < n; i++) {
        int d = std_edit_distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t l = strlen(s);
    int limit = l <= 3 ? 1 : l <= 6 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}
