/* py_value.c — values of the Airflow DAG-file interpreter (see py_int.h):
 * constant folding of operators, comparisons, %-format, format specs, str(),
 * subscripts, the builtins and library calls DAG files use for constants
 * (timedelta, datetime, pendulum, days_ago, os.environ, Variable.get, Asset,
 * timetables, str/list/dict methods), the conversion of interpreter values to
 * the IR, and callables (def/lambda) with their folded `returns` and Lua form.
 *
 * It does not create tasks, DAGs or edges (py_eval.c does) and never runs code:
 * what cannot be folded is left to the caller, which makes an {"$":"expr"}.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "py_int.h"

/* ------------------------------------------------------------------ objects */

json_t *pv_obj(py_ev *ev, int kind, py_obj **out)
{
    if (ev->nobj == ev->capobj) {
        ev->capobj = ev->capobj ? ev->capobj * 2 : 64;
        ev->objs = realloc(ev->objs, ev->capobj * sizeof *ev->objs);
        if (!ev->objs) abort();
    }
    /* each object has its own allocation: pointers to it stay valid while more are made */
    py_obj *o = calloc(1, sizeof *o);
    if (!o) abort();
    ev->objs[ev->nobj] = o;
    o->self = (int)ev->nobj;
    o->kind = kind;
    o->dag = -1;
    o->ref = -1;
    if (out) *out = o;
    return json_pack("{s:I}", "$$", (json_int_t)ev->nobj++);
}

py_obj *pv_get(py_ev *ev, json_t *v)
{
    if (!json_is_object(v)) return NULL;
    json_t *i = json_object_get(v, "$$");
    if (!json_is_integer(i)) return NULL;
    json_int_t k = json_integer_value(i);
    return k >= 0 && (size_t)k < ev->nobj ? ev->objs[k] : NULL;
}

const char *pv_tag(json_t *v)
{
    return json_is_object(v) ? json_string_value(json_object_get(v, "$")) : NULL;
}

json_t *pv_expr(py_ev *ev, const py_node *n)
{
    size_t a = n->start, b = n->end > ev->len ? ev->len : n->end;
    if (b < a) b = a;
    if (b - a > 4000) {
        b = a + 4000;
        while (b > a && ((unsigned char)ev->src[b] & 0xC0) == 0x80) b--;   /* a whole character */
    }
    return json_pack("{s:s, s:s%, s:i, s:i}", "$", "expr", "source", ev->src + a, b - a, "line", n->line,
                     "col", n->col);
}

int pv_is_const(json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!pv_is_const(x)) return 0;
        return 1;
    }
    if (json_is_object(v)) {
        if (json_object_get(v, "$") || json_object_get(v, "$$")) return 0;
        json_object_foreach(v, k, x) if (!pv_is_const(x)) return 0;
    }
    return 1;
}

/* Whether target is v or inside it: a mutation that would make a cycle (jansson
 * values must stay a tree) is refused. Past `budget` nodes it answers yes. */
static int reaches(json_t *v, json_t *target, long *budget, int depth)
{
    if (v == target || --*budget < 0 || depth > PY_MAX_NEST) return 1;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) json_array_foreach(v, i, x) if (reaches(x, target, budget, depth + 1)) return 1;
    if (json_is_object(v)) json_object_foreach(v, k, x) if (reaches(x, target, budget, depth + 1)) return 1;
    return 0;
}

int pv_would_cycle(json_t *container, json_t *v)
{
    long budget = 200000;
    return (json_is_array(v) || json_is_object(v)) && reaches(v, container, &budget, 1);
}

int pv_too_deep(json_t *v)
{
    long budget = 200000;
    return (json_is_array(v) || json_is_object(v)) && reaches(v, NULL, &budget, 1);
}

/* No expr and no interpreter object anywhere inside (tags such as timedelta are fine). */
int pv_is_value(json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!pv_is_value(x)) return 0;
        return 1;
    }
    if (json_is_object(v)) {
        const char *t = pv_tag(v);
        if (json_object_get(v, "$$") || (t && (!strcmp(t, "expr") || !strcmp(t, "xcom") || !strcmp(t, "task"))))
            return 0;
        json_object_foreach(v, k, x) if (!pv_is_value(x)) return 0;
    }
    return 1;
}

int pv_truth(json_t *v)
{
    if (!v || json_is_null(v)) return 0;
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_real(v)) return json_real_value(v) != 0;
    if (json_is_string(v)) return json_string_length(v) != 0;
    if (json_is_array(v)) return json_array_size(v) != 0;
    if (json_is_object(v)) {
        const char *t = pv_tag(v);
        if (!t && !json_object_get(v, "$$")) return json_object_size(v) != 0;
        if (t && !strcmp(t, "timedelta")) return json_number_value(json_object_get(v, "seconds")) != 0;
        if (t && (!strcmp(t, "datetime") || !strcmp(t, "time") || !strcmp(t, "task") || !strcmp(t, "asset")))
            return 1;
    }
    return -1;
}

static json_t *num(double d)
{
    if (!isfinite(d)) return NULL;
    if (d == floor(d) && fabs(d) < 9e15) return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *real(double d)
{
    return isfinite(d) ? json_real(d) : NULL;
}

json_t *pv_timedelta(double seconds)
{
    json_t *s = num(seconds);
    if (!s) return NULL;
    return json_pack("{s:s, s:o}", "$", "timedelta", "seconds", s);
}

static int is_num(json_t *v) { return json_is_integer(v) || json_is_real(v) || json_is_boolean(v); }
static double dval(json_t *v) { return json_is_boolean(v) ? json_is_true(v) : json_number_value(v); }
static int is_int(json_t *v) { return json_is_integer(v) || json_is_boolean(v); }
static json_int_t ival(json_t *v) { return json_is_boolean(v) ? json_is_true(v) : json_integer_value(v); }
static int is_tag(json_t *v, const char *t) { const char *x = pv_tag(v); return x && !strcmp(x, t); }

/* ------------------------------------------------------------------ str() and repr() */

static void repr_str(std_buf *b, const char *s, size_t n)
{
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    std_buf_add(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == (unsigned char)q) std_buf_addf(b, "\\%c", c);
        else if (c == '\n') std_buf_adds(b, "\\n");
        else if (c == '\t') std_buf_adds(b, "\\t");
        else if (c == '\r') std_buf_adds(b, "\\r");
        else if (c < 0x20 || c == 0x7f) std_buf_addf(b, "\\x%02x", c);
        else std_buf_add(b, &s[i], 1);
    }
    std_buf_add(b, &q, 1);
}

static void fmt_float(std_buf *b, double d)
{
    if (isinf(d)) { std_buf_adds(b, d > 0 ? "inf" : "-inf"); return; }
    if (isnan(d)) { std_buf_adds(b, "nan"); return; }
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, d);
        if (strtod(t, NULL) == d) break;
    }
    std_buf_adds(b, t);
    if (!strpbrk(t, ".en")) std_buf_adds(b, ".0");
}

static int to_text(std_buf *b, json_t *v, int repr)
{
    size_t i;
    json_t *x;
    const char *k;
    if (json_is_string(v)) {
        if (repr) repr_str(b, json_string_value(v), json_string_length(v));
        else std_buf_add(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) std_buf_addf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) fmt_float(b, json_real_value(v));
    else if (json_is_true(v)) std_buf_adds(b, "True");
    else if (json_is_false(v)) std_buf_adds(b, "False");
    else if (json_is_null(v)) std_buf_adds(b, "None");
    else if (json_is_array(v)) {
        std_buf_adds(b, "[");
        json_array_foreach(v, i, x) {
            if (i) std_buf_adds(b, ", ");
            if (!to_text(b, x, 1)) return 0;
        }
        std_buf_adds(b, "]");
    } else if (json_is_object(v) && !json_object_get(v, "$") && !json_object_get(v, "$$")) {
        std_buf_adds(b, "{");
        int first = 1;
        json_object_foreach(v, k, x) {
            if (!first) std_buf_adds(b, ", ");
            first = 0;
            repr_str(b, k, strlen(k));
            std_buf_adds(b, ": ");
            if (!to_text(b, x, 1)) return 0;
        }
        std_buf_adds(b, "}");
    } else if (is_tag(v, "timedelta")) {
        double s = json_number_value(json_object_get(v, "seconds"));
        long long t = (long long)s, d = t / 86400;
        t -= d * 86400;
        if (d) std_buf_addf(b, "%lld day%s, ", d, d == 1 || d == -1 ? "" : "s");
        std_buf_addf(b, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    } else if (is_tag(v, "datetime")) {
        const char *s = json_string_value(json_object_get(v, "value"));
        if (!s || strlen(s) < 19) return 0;
        std_buf_add(b, s, 10);
        std_buf_adds(b, " ");
        std_buf_adds(b, s + 11);
        if (json_is_string(json_object_get(v, "tz")) && !strcmp(json_string_value(json_object_get(v, "tz")), "UTC"))
            std_buf_adds(b, "+00:00");
    } else if (is_tag(v, "time")) {
        std_buf_adds(b, json_string_value(json_object_get(v, "value")));
    } else {
        return 0;
    }
    return b->len <= PY_MAX_STR;
}

char *pv_str(json_t *v)
{
    std_buf b = {0};
    if (!to_text(&b, v, 0)) {
        std_buf_free(&b);
        return NULL;
    }
    return std_buf_take(&b);
}

static json_t *str_of_buf(std_buf *b)
{
    json_t *r = b->len <= PY_MAX_STR ? json_stringn(b->p ? b->p : "", b->len) : NULL;
    std_buf_free(b);
    return r;
}

/* ------------------------------------------------------------------ format specs */

/* [[fill]align][sign][#][0][width][,][.precision][type] of v; NULL when not supported. */
json_t *pv_format_spec(json_t *v, const char *conv, json_t *spec)
{
    std_buf b = {0};
    if (conv && (!strcmp(conv, "r") || !strcmp(conv, "a"))) {
        if (!to_text(&b, v, 1)) { std_buf_free(&b); return NULL; }
        json_t *s = str_of_buf(&b);
        if (!s) return NULL;
        json_t *r = pv_format_spec(s, NULL, spec);
        json_decref(s);
        return r;
    }
    const char *sp = spec && json_is_string(spec) ? json_string_value(spec) : "";
    if (spec && !json_is_string(spec)) return NULL;
    char fill = ' ', align = 0, type = 0;
    int width = 0, prec = -1, zero = 0, plus = 0;
    const char *p = sp;
    if (p[0] && p[1] && strchr("<>^=", p[1])) { fill = p[0]; align = p[1]; p += 2; }
    else if (p[0] && strchr("<>^=", p[0])) { align = p[0]; p++; }
    if (*p == '+' || *p == '-' || *p == ' ') { plus = *p == '+'; p++; }
    if (*p == '0') { zero = 1; p++; }
    while (isdigit((unsigned char)*p) && width < 1000) width = width * 10 + (*p++ - '0');
    if (isdigit((unsigned char)*p)) return NULL;
    if (*p == '.') {
        p++;
        prec = 0;
        while (isdigit((unsigned char)*p) && prec < 100) prec = prec * 10 + (*p++ - '0');
    }
    if (*p && strchr("sdfxXobeg%", *p)) type = *p++;
    if (*p) return NULL;
    char t[512];
    if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b') {
        if (!is_int(v)) return NULL;
        long long x = (long long)ival(v);
        if (type == 'b') {
            char tmp[70];
            int k = 0;
            unsigned long long u = x < 0 ? -(unsigned long long)x : (unsigned long long)x;
            do tmp[k++] = (char)('0' + (u & 1)); while ((u >>= 1) && k < 66);
            int o = 0;
            if (x < 0) t[o++] = '-';
            while (k) t[o++] = tmp[--k];
            t[o] = 0;
        } else {
            snprintf(t, sizeof t, type == 'd' ? (plus ? "%+lld" : "%lld") : type == 'x' ? "%llx" : type == 'X' ? "%llX" : "%llo", x);
        }
    } else if (type == 'f' || type == 'e' || type == 'g' || type == '%') {
        if (!is_num(v)) return NULL;
        double d = dval(v) * (type == '%' ? 100 : 1);
        char f[16];
        snprintf(f, sizeof f, "%%%s.%d%c", plus ? "+" : "", prec < 0 ? 6 : prec, type == '%' ? 'f' : type);
        snprintf(t, sizeof t, f, d);
        if (type == '%') strncat(t, "%", sizeof t - strlen(t) - 1);
    } else {
        if (type == 0 && is_num(v) && !json_is_boolean(v) && prec < 0) {
            if (!to_text(&b, v, 0)) return NULL;
        } else if (json_is_string(v)) {
            std_buf_add(&b, json_string_value(v), prec >= 0 && (size_t)prec < json_string_length(v) ? (size_t)prec : json_string_length(v));
        } else if (type == 0 && prec < 0) {
            if (!to_text(&b, v, 0)) { std_buf_free(&b); return NULL; }
        } else return NULL;
        snprintf(t, sizeof t, "%s", b.p ? b.p : "");
        if (b.len >= sizeof t) { std_buf_free(&b); return NULL; }
        std_buf_free(&b);
    }
    size_t n = strlen(t);
    if (!align) align = (is_num(v) && !json_is_string(v)) ? (zero ? '=' : '>') : '<';
    if (zero && align == '=') fill = '0';
    if ((size_t)width > n) {
        size_t pad = (size_t)width - n;
        if (align == '<') { std_buf_adds(&b, t); for (size_t i = 0; i < pad; i++) std_buf_add(&b, &fill, 1); }
        else if (align == '^') {
            for (size_t i = 0; i < pad / 2; i++) std_buf_add(&b, &fill, 1);
            std_buf_adds(&b, t);
            for (size_t i = 0; i < pad - pad / 2; i++) std_buf_add(&b, &fill, 1);
        } else if (align == '=' && (t[0] == '-' || t[0] == '+')) {
            std_buf_add(&b, t, 1);
            for (size_t i = 0; i < pad; i++) std_buf_add(&b, &fill, 1);
            std_buf_adds(&b, t + 1);
        } else { for (size_t i = 0; i < pad; i++) std_buf_add(&b, &fill, 1); std_buf_adds(&b, t); }
    } else std_buf_adds(&b, t);
    return str_of_buf(&b);
}

/* "fmt" % args (args: a tuple/list, a dict for %(name)s, or one value). */
static json_t *percent(json_t *fmt, json_t *args)
{
    const char *f = json_string_value(fmt);
    size_t n = json_string_length(fmt), ai = 0;
    std_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (f[i] != '%') { std_buf_add(&b, &f[i], 1); continue; }
        if (++i >= n) goto bad;
        if (f[i] == '%') { std_buf_adds(&b, "%"); continue; }
        json_t *v;
        if (f[i] == '(') {
            const char *e = memchr(f + i, ')', n - i);
            if (!e || !json_is_object(args)) goto bad;
            char key[256];
            size_t kl = (size_t)(e - (f + i + 1));
            if (kl >= sizeof key) goto bad;
            memcpy(key, f + i + 1, kl);
            key[kl] = 0;
            v = json_object_get(args, key);
            i = (size_t)(e - f) + 1;
        } else if (json_is_array(args)) {
            v = json_array_get(args, ai++);
        } else {
            v = ai++ ? NULL : args;
        }
        if (!v || i >= n) goto bad;
        char spec[32];
        size_t k = 0;
        while (i < n && strchr("-+ #0123456789.", f[i]) && k < sizeof spec - 2) spec[k++] = f[i++];
        if (i >= n) goto bad;
        char c = f[i];
        json_t *r = NULL;
        spec[k] = 0;
        if (c == 's' || c == 'r') {
            std_buf t = {0};
            if (!to_text(&t, v, c == 'r')) { std_buf_free(&t); goto bad; }
            json_t *sv = str_of_buf(&t);
            if (!sv) goto bad;
            char sp2[40];
            snprintf(sp2, sizeof sp2, "%s%s", spec[0] == '-' ? "<" : ">", spec[0] == '-' ? spec + 1 : spec);
            json_t *spj = json_string(sp2);
            r = pv_format_spec(sv, NULL, spj);
            json_decref(spj);
            json_decref(sv);
        } else if (strchr("dif", c)) {
            char sp2[40];
            snprintf(sp2, sizeof sp2, "%s%c", spec[0] == '-' ? spec + 1 : spec, c == 'i' ? 'd' : c);
            json_t *spj = json_string(sp2);
            json_t *iv = c != 'f' && json_is_real(v) ? json_integer((json_int_t)json_real_value(v)) : json_incref(v);
            r = pv_format_spec(iv, NULL, spj);
            json_decref(iv);
            json_decref(spj);
        }
        if (!r) goto bad;
        std_buf_add(&b, json_string_value(r), json_string_length(r));
        json_decref(r);
    }
    if (json_is_array(args) && ai != json_array_size(args)) goto bad;
    return str_of_buf(&b);
bad:
    std_buf_free(&b);
    return NULL;
}

/* ------------------------------------------------------------------ datetimes */

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0) ? 29 : d[m - 1];
}

static json_t *mk_datetime(long y, long mo, long d, long h, long mi, long s, const char *tz)
{
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in((int)y, (int)mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 59)
        return NULL;
    char t[32];
    snprintf(t, sizeof t, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ld", y, mo, d, h, mi, s);
    return json_pack("{s:s, s:s, s:s?}", "$", "datetime", "value", t, "tz", tz);
}

static int dt_fields(json_t *v, struct tm *tm)
{
    const char *s = json_string_value(json_object_get(v, "value"));
    memset(tm, 0, sizeof *tm);
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm->tm_year, &tm->tm_mon, &tm->tm_mday, &tm->tm_hour, &tm->tm_min,
                     &tm->tm_sec) != 6)
        return 0;
    tm->tm_year -= 1900;
    tm->tm_mon -= 1;
    return 1;
}

static json_t *dt_add(json_t *dt, double secs)
{
    struct tm tm;
    if (!dt_fields(dt, &tm) || fabs(secs) > 1e11) return NULL;
    time_t t = timegm(&tm) + (time_t)secs;
    if (!gmtime_r(&t, &tm)) return NULL;
    return mk_datetime(tm.tm_year + 1900L, tm.tm_mon + 1L, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       json_string_value(json_object_get(dt, "tz")));
}

static json_t *relative(const py_node *n, py_ev *ev, double days)
{
    size_t a = n->start, b = n->end > ev->len ? ev->len : n->end;
    if (b < a || b - a > 400) b = a;
    json_t *d = num(days);
    if (!d) return NULL;
    return json_pack("{s:s, s:s%, s:o}", "$", "relative_date", "expr", ev->src + a, b - a, "days", d);
}

/* strptime for the usual literal formats. */
static json_t *parse_date(const char *s, const char *fmt, const char *tz)
{
    long f[6] = {0, 1, 1, 0, 0, 0};
    const char *p = s;
    if (!fmt) fmt = strlen(s) > 10 ? (s[10] == ' ' ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%dT%H:%M:%S") : "%Y-%m-%d";
    for (const char *q = fmt; *q; q++) {
        if (*q != '%') {
            if (*p != *q) return NULL;
            p++;
            continue;
        }
        q++;
        int k = *q == 'Y' ? 0 : *q == 'm' ? 1 : *q == 'd' ? 2 : *q == 'H' ? 3 : *q == 'M' ? 4 : *q == 'S' ? 5 : -1;
        if (k < 0) return NULL;
        int w = k == 0 ? 4 : 2;
        long v = 0;
        int got = 0;
        while (got < w && isdigit((unsigned char)*p)) v = v * 10 + (*p++ - '0'), got++;
        if (!got) return NULL;
        f[k] = v;
    }
    /* a trailing "Z" or "+00:00" on an ISO text */
    if (!strcmp(p, "Z") || !strcmp(p, "+00:00")) { p += strlen(p); tz = "UTC"; }
    if (*p) return NULL;
    return mk_datetime(f[0], f[1], f[2], f[3], f[4], f[5], tz);
}

static const char *tz_of(json_t *v)
{
    if (json_is_string(v)) return json_string_value(v);
    return NULL;
}

/* ------------------------------------------------------------------ operators */

static json_t *concat_arrays(json_t *a, json_t *b)
{
    if (json_array_size(a) + json_array_size(b) > PY_MAX_STR) return NULL;
    json_t *r = json_array();
    json_array_extend(r, a);
    json_array_extend(r, b);
    return r;
}

static json_t *repeat(json_t *a, json_int_t k)
{
    if (k < 0) k = 0;
    size_t unit = json_is_string(a) ? json_string_length(a) : json_array_size(a);
    if (!unit || !k) return json_is_string(a) ? json_string("") : json_array();   /* '' * 10**18 */
    if ((size_t)k > PY_MAX_STR / unit) return NULL;
    if (json_is_string(a)) {
        std_buf b = {0};
        for (json_int_t i = 0; i < k; i++) std_buf_add(&b, json_string_value(a), unit);
        return str_of_buf(&b);
    }
    json_t *r = json_array();
    for (json_int_t i = 0; i < k; i++) json_array_extend(r, a);
    return r;
}

static json_t *arith(const char *op, json_t *a, json_t *b)
{
    if (is_int(a) && is_int(b) && strcmp(op, "/")) {
        long long x = (long long)ival(a), y = (long long)ival(b), r;
        if (!strcmp(op, "+")) { if (!__builtin_add_overflow(x, y, &r)) return json_integer(r); return real((double)x + (double)y); }
        if (!strcmp(op, "-")) { if (!__builtin_sub_overflow(x, y, &r)) return json_integer(r); return real((double)x - (double)y); }
        if (!strcmp(op, "*")) { if (!__builtin_mul_overflow(x, y, &r)) return json_integer(r); return real((double)x * (double)y); }
        if (!strcmp(op, "//") || !strcmp(op, "%")) {
            if (y == 0 || (x == INT64_MIN && y == -1)) return NULL;
            long long q = x / y, m = x % y;
            if (m && ((m < 0) != (y < 0))) { q--; m += y; }
            return json_integer(op[0] == '%' ? m : q);
        }
        if (!strcmp(op, "**")) {
            if (y < 0) return real(pow((double)x, (double)y));
            /* by squaring: O(log y) even for 0 ** 10**18 */
            long long acc = 1, base = x, e = y;
            int ovf = 0;
            while (e > 0 && !ovf) {
                if (e & 1) ovf |= __builtin_mul_overflow(acc, base, &acc);
                e >>= 1;
                if (e) ovf |= __builtin_mul_overflow(base, base, &base);
            }
            if (ovf) return real(pow((double)x, (double)y));
            return json_integer(acc);
        }
        if (!strcmp(op, "&")) return json_integer(x & y);
        if (!strcmp(op, "|")) return json_integer(x | y);
        if (!strcmp(op, "^")) return json_integer(x ^ y);
        return NULL;
    }
    double x = dval(a), y = dval(b);
    if (!strcmp(op, "+")) return real(x + y);
    if (!strcmp(op, "-")) return real(x - y);
    if (!strcmp(op, "*")) return real(x * y);
    if (!strcmp(op, "/")) return y == 0 ? NULL : real(x / y);
    if (!strcmp(op, "//")) return y == 0 ? NULL : real(floor(x / y));
    if (!strcmp(op, "%")) return y == 0 ? NULL : real(x - floor(x / y) * y);
    if (!strcmp(op, "**")) return real(pow(x, y));
    return NULL;
}

json_t *pv_binop(py_ev *ev, const py_node *n, const char *op, json_t *a, json_t *b)
{
    (void)ev;
    (void)n;
    if (is_num(a) && is_num(b)) return arith(op, a, b);
    if (!strcmp(op, "+")) {
        if (json_is_string(a) && json_is_string(b)) {
            if (json_string_length(a) + json_string_length(b) > PY_MAX_STR) return NULL;
            std_buf s = {0};
            std_buf_add(&s, json_string_value(a), json_string_length(a));
            std_buf_add(&s, json_string_value(b), json_string_length(b));
            return str_of_buf(&s);
        }
        if (json_is_array(a) && json_is_array(b)) return concat_arrays(a, b);
    }
    if (!strcmp(op, "*")) {
        if ((json_is_string(a) || json_is_array(a)) && is_int(b)) return repeat(a, ival(b));
        if ((json_is_string(b) || json_is_array(b)) && is_int(a)) return repeat(b, ival(a));
    }
    if (!strcmp(op, "%") && json_is_string(a) && pv_is_value(b)) return percent(a, b);
    if (!strcmp(op, "|") && json_is_object(a) && json_is_object(b) && !pv_tag(a) && !pv_tag(b) &&
        !json_object_get(a, "$$") && !json_object_get(b, "$$")) {
        json_t *r = json_deep_copy(a);
        json_object_update(r, b);
        return r;
    }
    /* time arithmetic */
    int ta = is_tag(a, "timedelta"), tb = is_tag(b, "timedelta");
    double sa = ta ? json_number_value(json_object_get(a, "seconds")) : 0;
    double sb = tb ? json_number_value(json_object_get(b, "seconds")) : 0;
    if (ta && tb && (op[0] == '+' || op[0] == '-') && !op[1]) return pv_timedelta(op[0] == '+' ? sa + sb : sa - sb);
    if (ta && tb && !strcmp(op, "/") && sb) return real(sa / sb);
    if (ta && is_num(b) && (!strcmp(op, "*") || !strcmp(op, "/") || !strcmp(op, "//")) && (op[0] == '*' || dval(b)))
        return pv_timedelta(op[0] == '*' ? sa * dval(b) : op[1] ? floor(sa / dval(b)) : sa / dval(b));
    if (tb && is_num(a) && !strcmp(op, "*")) return pv_timedelta(sb * dval(a));
    if (tb && (op[0] == '+' || op[0] == '-') && !op[1]) {
        if (is_tag(a, "relative_date")) {
            json_t *r = json_deep_copy(a);
            double d = json_number_value(json_object_get(a, "days")) + (op[0] == '+' ? sb : -sb) / 86400.0;
            json_t *dj = num(d);
            if (!dj) { json_decref(r); return NULL; }
            json_object_set_new(r, "days", dj);
            if (n) json_object_set_new(r, "expr", json_stringn(ev->src + n->start, n->end - n->start < 400 ? n->end - n->start : 0));
            return r;
        }
        if (is_tag(a, "datetime")) return dt_add(a, op[0] == '+' ? sb : -sb);
    }
    if (ta && !strcmp(op, "+") && is_tag(b, "datetime")) return dt_add(b, sa);
    return NULL;
}

json_t *pv_unary(py_ev *ev, const py_node *n, const char *op, json_t *a)
{
    (void)ev;
    (void)n;
    if (!strcmp(op, "+") && is_num(a)) return json_is_boolean(a) ? json_integer(ival(a)) : json_incref(a);
    if (!strcmp(op, "-")) {
        if (is_int(a) && ival(a) != INT64_MIN) return json_integer(-ival(a));
        if (is_num(a)) return real(-dval(a));
        if (is_tag(a, "timedelta")) return pv_timedelta(-json_number_value(json_object_get(a, "seconds")));
    }
    if (!strcmp(op, "~") && is_int(a)) return json_integer(~ival(a));
    return NULL;
}

static int contains(json_t *hay, json_t *x, int *res)
{
    if (json_is_string(hay) && json_is_string(x)) {
        *res = json_string_length(x) == 0 ||
               (json_string_length(hay) >= json_string_length(x) &&
                memmem(json_string_value(hay), json_string_length(hay), json_string_value(x), json_string_length(x)) != NULL);
        return 1;
    }
    if (json_is_array(hay) && pv_is_const(hay) && pv_is_value(x)) {
        size_t i;
        json_t *e;
        *res = 0;
        json_array_foreach(hay, i, e) if (json_equal(e, x)) *res = 1;
        return 1;
    }
    if (json_is_object(hay) && !pv_tag(hay) && !json_object_get(hay, "$$") && json_is_string(x)) {
        *res = json_object_get(hay, json_string_value(x)) != NULL;
        return 1;
    }
    return 0;
}

json_t *pv_compare(py_ev *ev, const py_node *n, const char *op, json_t *a, json_t *b)
{
    (void)ev;
    (void)n;
    int r;
    if (!strcmp(op, "in") || !strcmp(op, "not in")) {
        if (!contains(b, a, &r)) return NULL;
        return json_boolean(op[0] == 'i' ? r : !r);
    }
    if (!strcmp(op, "is") || !strcmp(op, "is not")) {
        if (!json_is_null(a) && !json_is_null(b) && !json_is_boolean(a) && !json_is_boolean(b)) {
            if (pv_is_value(a) && pv_is_value(b) && (json_is_null(a) || json_is_null(b))) return json_boolean(op[2] != 0);
            return NULL;
        }
        if (!pv_is_value(a) || !pv_is_value(b)) return NULL;
        r = json_equal(a, b) && json_typeof(a) == json_typeof(b);
        return json_boolean(op[2] ? !r : r);
    }
    if (!pv_is_value(a) || !pv_is_value(b)) return NULL;
    /* env, variable, relative dates...: their value is not known here */
    const char *ta = pv_tag(a), *tb = pv_tag(b);
    if ((ta || tb) && (!ta || !tb || strcmp(ta, tb) || (strcmp(ta, "timedelta") && strcmp(ta, "datetime") &&
                                                        strcmp(ta, "time") && strcmp(ta, "enum") && strcmp(ta, "asset"))))
        return NULL;
    if (!strcmp(op, "==") || !strcmp(op, "!=")) {
        r = is_num(a) && is_num(b) ? dval(a) == dval(b) : json_equal(a, b);
        return json_boolean(op[0] == '=' ? r : !r);
    }
    int c;
    if (is_num(a) && is_num(b)) c = dval(a) < dval(b) ? -1 : dval(a) > dval(b);
    else if (json_is_string(a) && json_is_string(b)) c = strcmp(json_string_value(a), json_string_value(b));
    else if (is_tag(a, "timedelta") && is_tag(b, "timedelta")) {
        double x = json_number_value(json_object_get(a, "seconds")), y = json_number_value(json_object_get(b, "seconds"));
        c = x < y ? -1 : x > y;
    } else return NULL;
    if (!strcmp(op, "<")) r = c < 0;
    else if (!strcmp(op, ">")) r = c > 0;
    else if (!strcmp(op, "<=")) r = c <= 0;
    else r = c >= 0;
    return json_boolean(r);
}

/* ------------------------------------------------------------------ subscripts */

static int norm_index(json_int_t *i, size_t n)
{
    if (*i < 0) *i += (json_int_t)n;
    return *i >= 0 && (size_t)*i < n;
}

json_t *pv_subscript(py_ev *ev, const py_node *n, json_t *a, json_t *idx)
{
    (void)ev;
    (void)n;
    if (json_is_object(a) && !pv_tag(a) && !json_object_get(a, "$$")) {
        char *k = pv_str(idx);
        if (!k || !pv_is_const(idx)) { free(k); return NULL; }
        json_t *v = json_object_get(a, k);
        free(k);
        return v ? json_incref(v) : NULL;
    }
    if ((json_is_array(a) || json_is_string(a)) && is_int(idx)) {
        json_int_t i = ival(idx);
        if (json_is_array(a)) return norm_index(&i, json_array_size(a)) ? json_incref(json_array_get(a, (size_t)i)) : NULL;
        /* characters of ASCII strings only */
        const char *s = json_string_value(a);
        size_t len = json_string_length(a);
        for (size_t k = 0; k < len; k++) if ((unsigned char)s[k] >= 0x80) return NULL;
        return norm_index(&i, len) ? json_stringn(s + i, 1) : NULL;
    }
    if ((json_is_array(a) || json_is_string(a)) && json_is_object(idx) && json_object_get(idx, "slice")) {
        json_t *sl = json_object_get(idx, "slice");
        size_t len = json_is_array(a) ? json_array_size(a) : json_string_length(a);
        json_t *lo = json_array_get(sl, 0), *hi = json_array_get(sl, 1), *st = json_array_get(sl, 2);
        if ((!json_is_null(st) && !(is_int(st) && ival(st) == 1))) return NULL;
        if ((!json_is_null(lo) && !is_int(lo)) || (!json_is_null(hi) && !is_int(hi))) return NULL;
        json_int_t l = json_is_null(lo) ? 0 : ival(lo), h = json_is_null(hi) ? (json_int_t)len : ival(hi);
        if (l < 0) l += (json_int_t)len;
        if (h < 0) h += (json_int_t)len;
        if (l < 0) l = 0;
        if (h > (json_int_t)len) h = (json_int_t)len;
        if (h < l) h = l;
        if (json_is_string(a)) {
            const char *s = json_string_value(a);
            for (size_t k = 0; k < len; k++) if ((unsigned char)s[k] >= 0x80) return NULL;
            return json_stringn(s + l, (size_t)(h - l));
        }
        json_t *r = json_array();
        for (json_int_t k = l; k < h; k++) json_array_append(r, json_array_get(a, (size_t)k));
        return r;
    }
    return NULL;
}

/* ------------------------------------------------------------------ builtins */

static int ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf) && (a == b || s[a - b - 1] == '.');
}

static json_t *kwget(json_t *kw, const char *k) { return kw ? json_object_get(kw, k) : NULL; }

/* timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks) */
static json_t *fold_timedelta(json_t *args, json_t *kw, int pendulum)
{
    static const char *const names[] = {"days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"};
    static const double unit[] = {86400, 1, 1e-6, 1e-3, 60, 3600, 604800};
    double s = 0;
    size_t na = json_array_size(args);
    if (na > 7 || (pendulum && na)) return NULL;
    for (size_t i = 0; i < 7; i++) {
        json_t *v = i < na ? json_array_get(args, i) : kwget(kw, names[i]);
        if (!v) continue;
        if (!is_num(v)) return NULL;
        s += dval(v) * unit[i];
    }
    const char *k;
    json_t *v;
    json_object_foreach(kw, k, v) {
        int ok = 0;
        for (size_t i = 0; i < 7; i++) if (!strcmp(k, names[i])) ok = 1;
        if (!ok) return NULL;
    }
    if (fabs(s) > 1e15) return NULL;
    s = round(s * 1e6) / 1e6;
    return pv_timedelta(s);
}

static json_t *fold_datetime(json_t *args, json_t *kw, const char *deftz)
{
    static const char *const names[] = {"year", "month", "day", "hour", "minute", "second"};
    long f[6] = {0, 0, 0, 0, 0, 0};
    size_t na = json_array_size(args);
    if (na > 7) return NULL;
    for (size_t i = 0; i < 6; i++) {
        json_t *v = i < na ? json_array_get(args, i) : kwget(kw, names[i]);
        if (!v) { if (i < 3) return NULL; continue; }
        if (!is_int(v)) return NULL;
        f[i] = (long)ival(v);
    }
    const char *tz = deftz;
    json_t *t = kwget(kw, "tzinfo") ? kwget(kw, "tzinfo") : kwget(kw, "tz");
    if (t) {
        tz = tz_of(t);
        if (!tz) return NULL;
    }
    return mk_datetime(f[0], f[1], f[2], f[3], f[4], f[5], tz);
}

static json_t *fold_env(json_t *args, json_t *kw)
{
    json_t *name = json_array_get(args, 0), *def = json_array_size(args) > 1 ? json_array_get(args, 1) : kwget(kw, "default");
    if (!json_is_string(name)) return NULL;
    return json_pack("{s:s, s:O, s:O}", "$", "env", "name", name, "default", def ? def : json_null());
}

static json_t *list_of(json_t *v)
{
    if (json_is_array(v)) return json_copy(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        json_t *r = json_array();
        for (size_t i = 0; i < json_string_length(v);) {
            size_t l = 1;
            unsigned char c = (unsigned char)s[i];
            if (c >= 0xF0) l = 4; else if (c >= 0xE0) l = 3; else if (c >= 0xC0) l = 2;
            if (i + l > json_string_length(v)) l = json_string_length(v) - i;
            json_array_append_new(r, json_stringn(s + i, l));
            i += l;
        }
        return r;
    }
    if (json_is_object(v) && !pv_tag(v) && !json_object_get(v, "$$")) {
        json_t *r = json_array();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_array_append_new(r, json_string(k));
        return r;
    }
    return NULL;
}

static int cmp_vals(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    if (is_num(a) && is_num(b)) return dval(a) < dval(b) ? -1 : dval(a) > dval(b);
    if (json_is_string(a) && json_is_string(b)) return strcmp(json_string_value(a), json_string_value(b));
    return 0;
}

static json_t *sorted(json_t *l, int rev)
{
    size_t n = json_array_size(l);
    json_t **v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_array_get(l, i);
        if (!(is_num(v[i]) || json_is_string(v[i])) || (i && is_num(v[i]) != is_num(v[0]))) { free(v); return NULL; }
    }
    /* a stable insertion sort (lists are small) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_vals(&v[j - 1], &v[j]) > 0; j--) { json_t *t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    json_t *r = json_array();
    for (size_t i = 0; i < n; i++) json_array_append(r, v[rev ? n - 1 - i : i]);
    free(v);
    return r;
}

json_t *pv_builtin(py_ev *ev, const py_node *call, const char *name, json_t *args, json_t *kw, int *handled)
{
    size_t na = json_array_size(args);
    json_t *a0 = json_array_get(args, 0);
    *handled = 1;
    /* time */
    if (ends(name, "datetime.timedelta") || !strcmp(name, "timedelta")) return fold_timedelta(args, kw, 0);
    if (ends(name, "pendulum.duration") || ends(name, "pendulum.Duration")) return fold_timedelta(args, kw, 1);
    if (!strcmp(name, "datetime.datetime") || !strcmp(name, "datetime")) return fold_datetime(args, kw, NULL);
    if (!strcmp(name, "pendulum.datetime") || !strcmp(name, "pendulum.DateTime") || ends(name, "timezone.datetime"))
        return fold_datetime(args, kw, "UTC");
    if (!strcmp(name, "datetime.time") || !strcmp(name, "time") || !strcmp(name, "pendulum.time")) {
        long f[3] = {0, 0, 0};
        static const char *const nm[] = {"hour", "minute", "second"};
        for (size_t i = 0; i < 3; i++) {
            json_t *v = i < na ? json_array_get(args, i) : kwget(kw, nm[i]);
            if (v && !is_int(v)) return NULL;
            if (v) f[i] = (long)ival(v);
        }
        if (f[0] < 0 || f[0] > 23 || f[1] < 0 || f[1] > 59 || f[2] < 0 || f[2] > 59) return NULL;
        char t[16];
        snprintf(t, sizeof t, "%02ld:%02ld:%02ld", f[0], f[1], f[2]);
        return json_pack("{s:s, s:s}", "$", "time", "value", t);
    }
    if (ends(name, "datetime.datetime.now") || ends(name, "datetime.datetime.today") ||
        ends(name, "datetime.datetime.utcnow") || ends(name, "datetime.date.today") || !strcmp(name, "pendulum.now") ||
        !strcmp(name, "pendulum.today") || ends(name, "timezone.utcnow") || !strcmp(name, "pendulum.yesterday") ||
        !strcmp(name, "pendulum.tomorrow"))
        return relative(call, ev, ends(name, "yesterday") ? -1 : ends(name, "tomorrow") ? 1 : 0);
    if (ends(name, "days_ago")) {
        if (!is_num(a0)) return NULL;
        return relative(call, ev, -dval(a0));
    }
    if (ends(name, "datetime.datetime.strptime")) {
        json_t *f = json_array_get(args, 1);
        if (!json_is_string(a0) || !json_is_string(f)) return NULL;
        return parse_date(json_string_value(a0), json_string_value(f), NULL);
    }
    if (ends(name, "datetime.datetime.fromisoformat") || !strcmp(name, "pendulum.parse")) {
        if (!json_is_string(a0)) return NULL;
        return parse_date(json_string_value(a0), NULL, name[0] == 'p' ? "UTC" : NULL);
    }
    if (!strcmp(name, "pendulum.timezone") || ends(name, "ZoneInfo") || ends(name, "pendulum.tz.timezone") ||
        ends(name, "pytz.timezone") || ends(name, "tz.gettz"))
        return json_is_string(a0) ? json_incref(a0) : NULL;
    /* configuration from outside the file */
    if (ends(name, "os.environ.get") || ends(name, "os.getenv")) return fold_env(args, kw);
    if (ends(name, "Variable.get")) {
        json_t *def = na > 1 ? json_array_get(args, 1) : kwget(kw, "default_var") ? kwget(kw, "default_var") : kwget(kw, "default");
        if (!json_is_string(a0)) return NULL;
        json_t *r = json_pack("{s:s, s:O, s:O}", "$", "variable", "name", a0, "default", def ? def : json_null());
        if (pv_truth(kwget(kw, "deserialize_json")) == 1) json_object_set_new(r, "json", json_true());
        return r;
    }
    if (ends(name, "Asset") || ends(name, "Dataset")) {
        json_t *u = a0 ? a0 : kwget(kw, "uri") ? kwget(kw, "uri") : kwget(kw, "name");
        if (!json_is_string(u)) return NULL;
        return json_pack("{s:s, s:O}", "$", "asset", "uri", u);
    }
    {
        const char *last = strrchr(name, '.');
        last = last ? last + 1 : name;
        size_t ll = strlen(last);
        if (ll > 9 && !strcmp(last + ll - 9, "Timetable")) {
            json_t *targs = json_object();
            const char *first = !strcmp(last, "CronTriggerTimetable") || !strcmp(last, "CronDataIntervalTimetable") ? "cron"
                                : strstr(last, "Delta") ? "delta" : !strcmp(last, "MultipleCronTriggerTimetable") ? "crons"
                                : "*args";
            if (!strcmp(first, "crons") || !strcmp(first, "*args")) {
                if (na) json_object_set_new(targs, first, pv_to_ir(ev, args));
            } else {
                if (na) json_object_set_new(targs, first, pv_to_ir(ev, a0));
                if (na > 1) {
                    json_t *rest = json_array();
                    for (size_t i = 1; i < na; i++) json_array_append_new(rest, pv_to_ir(ev, json_array_get(args, i)));
                    json_object_set_new(targs, "*args", rest);
                }
            }
            json_t *kwi = pv_to_ir(ev, kw);
            json_object_update(targs, kwi);
            json_decref(kwi);
            return json_pack("{s:s, s:s, s:o}", "$", "timetable", "class", last, "args", targs);
        }
    }
    /* Python builtins over constants */
    int allc = pv_is_value(args) && (!kw || pv_is_value(kw));
    if (!allc) { *handled = 0; return NULL; }
    /* paths (DAG ids are often made from __file__) */
    if ((ends(name, "os.path.basename") || ends(name, "os.path.dirname") || ends(name, "os.path.splitext") ||
         ends(name, "pathlib.Path") || ends(name, "os.path.abspath") || ends(name, "os.path.realpath")) &&
        json_is_string(a0) && na == 1) {
        const char *p = json_string_value(a0), *sl = strrchr(p, '/');
        if (ends(name, "basename")) return json_string(sl ? sl + 1 : p);
        if (ends(name, "dirname")) return json_stringn(p, sl ? (size_t)(sl - p) : 0);
        if (ends(name, "splitext")) {
            const char *dot = strrchr(sl ? sl + 1 : p, '.');
            if (!dot || dot == (sl ? sl + 1 : p)) return json_pack("[s, s]", p, "");
            return json_pack("[s%, s]", p, (size_t)(dot - p), dot);
        }
        return json_incref(a0);   /* Path(x), abspath(x): the text itself */
    }
    if (ends(name, "os.path.join") && na >= 1) {
        std_buf b = {0};
        for (size_t i = 0; i < na; i++) {
            json_t *x = json_array_get(args, i);
            if (!json_is_string(x)) { std_buf_free(&b); return NULL; }
            const char *t = json_string_value(x);
            if (t[0] == '/') std_buf_reset(&b);
            else if (b.len && b.p[b.len - 1] != '/') std_buf_adds(&b, "/");
            std_buf_adds(&b, t);
        }
        return str_of_buf(&b);
    }
    if (!strcmp(name, "json.dumps") && na == 1 && pv_is_const(a0) && (!kw || !json_object_size(kw))) {
        char *s = json_dumps(a0, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        json_t *r = s ? json_string(s) : NULL;
        free(s);
        return r;
    }
    if (!strcmp(name, "json.loads") && na == 1 && json_is_string(a0)) {
        json_error_t je;
        return json_loadb(json_string_value(a0), json_string_length(a0), JSON_DECODE_ANY, &je);
    }
    if (!strcmp(name, "range")) {
        json_int_t lo = 0, hi, st = 1;
        for (size_t i = 0; i < na; i++) if (!is_int(json_array_get(args, i))) return NULL;
        if (na == 1) hi = ival(a0);
        else if (na >= 2) { lo = ival(a0); hi = ival(json_array_get(args, 1)); if (na > 2) st = ival(json_array_get(args, 2)); }
        else return NULL;
        if (st == 0) return NULL;
        double cnt = ceil(((double)hi - (double)lo) / (double)st);
        if (cnt > PY_MAX_ITER) return NULL;
        json_t *r = json_array();
        for (json_int_t i = lo; st > 0 ? i < hi : i > hi; i += st) json_array_append_new(r, json_integer(i));
        return r;
    }
    if (!strcmp(name, "len")) {
        if (json_is_string(a0)) {
            size_t c = 0;
            for (size_t i = 0; i < json_string_length(a0); i++) if (((unsigned char)json_string_value(a0)[i] & 0xC0) != 0x80) c++;
            return json_integer((json_int_t)c);
        }
        if (json_is_array(a0)) return json_integer((json_int_t)json_array_size(a0));
        if (json_is_object(a0) && !pv_tag(a0)) return json_integer((json_int_t)json_object_size(a0));
        return NULL;
    }
    if (!strcmp(name, "str")) {
        if (!na) return json_string("");
        char *s = pv_str(a0);
        json_t *r = s ? json_string(s) : NULL;
        free(s);
        return r;
    }
    if (!strcmp(name, "repr")) {
        std_buf b = {0};
        if (!to_text(&b, a0, 1)) { std_buf_free(&b); return NULL; }
        return str_of_buf(&b);
    }
    if (!strcmp(name, "int")) {
        if (is_int(a0)) return json_integer(ival(a0));
        if (json_is_real(a0) && fabs(json_real_value(a0)) < 9e18) return json_integer((json_int_t)json_real_value(a0));
        if (json_is_string(a0)) {
            char *e;
            long long v = strtoll(json_string_value(a0), &e, 10);
            return *e || e == json_string_value(a0) ? NULL : json_integer(v);
        }
        return NULL;
    }
    if (!strcmp(name, "float")) {
        if (is_num(a0)) return real(dval(a0));
        return NULL;
    }
    if (!strcmp(name, "bool")) {
        int t = na ? pv_truth(a0) : 0;
        return t < 0 ? NULL : json_boolean(t);
    }
    if (!strcmp(name, "list") || !strcmp(name, "tuple") || !strcmp(name, "set")) {
        if (!na) return json_array();
        return list_of(a0);
    }
    if (!strcmp(name, "dict")) {
        json_t *r = json_object();
        if (json_is_object(a0) && !pv_tag(a0)) json_object_update(r, a0);
        else if (json_is_array(a0)) {
            size_t i;
            json_t *p;
            json_array_foreach(a0, i, p) {
                char *k = pv_str(json_array_get(p, 0));
                if (!k || json_array_size(p) != 2) { free(k); json_decref(r); return NULL; }
                json_object_set(r, k, json_array_get(p, 1));
                free(k);
            }
        } else if (na) { json_decref(r); return NULL; }
        if (kw) json_object_update(r, kw);
        return r;
    }
    if (!strcmp(name, "sorted") && json_is_array(a0)) return sorted(a0, pv_truth(kwget(kw, "reverse")) == 1);
    if (!strcmp(name, "reversed") && json_is_array(a0)) {
        json_t *r = json_array();
        for (size_t i = json_array_size(a0); i > 0; i--) json_array_append(r, json_array_get(a0, i - 1));
        return r;
    }
    if (!strcmp(name, "enumerate")) {
        json_t *l = list_of(a0);
        if (!l) return NULL;
        json_int_t start = na > 1 && is_int(json_array_get(args, 1)) ? ival(json_array_get(args, 1)) : is_int(kwget(kw, "start")) ? ival(kwget(kw, "start")) : 0;
        json_t *r = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(l, i, x) json_array_append_new(r, json_pack("[IO]", (json_int_t)i + start, x));
        json_decref(l);
        return r;
    }
    if (!strcmp(name, "zip")) {
        size_t m = SIZE_MAX;
        json_t *ls = json_array();
        for (size_t i = 0; i < na; i++) {
            json_t *l = list_of(json_array_get(args, i));
            if (!l) { json_decref(ls); return NULL; }
            if (json_array_size(l) < m) m = json_array_size(l);
            json_array_append_new(ls, l);
        }
        json_t *r = json_array();
        for (size_t k = 0; na && k < m; k++) {
            json_t *t = json_array();
            for (size_t i = 0; i < na; i++) json_array_append(t, json_array_get(json_array_get(ls, i), k));
            json_array_append_new(r, t);
        }
        json_decref(ls);
        return r;
    }
    if ((!strcmp(name, "min") || !strcmp(name, "max")) && na) {
        json_t *l = na == 1 ? a0 : args;
        json_t *s = json_is_array(l) && json_array_size(l) ? sorted(l, name[1] == 'a') : NULL;
        json_t *r = s ? json_incref(json_array_get(s, 0)) : NULL;
        json_decref(s);
        return r;
    }
    if (!strcmp(name, "sum") && json_is_array(a0)) {
        json_t *acc = json_integer(0);
        size_t i;
        json_t *x;
        json_array_foreach(a0, i, x) {
            json_t *n2 = is_num(x) ? arith("+", acc, x) : NULL;
            json_decref(acc);
            if (!n2) return NULL;
            acc = n2;
        }
        return acc;
    }
    if (!strcmp(name, "abs") && is_num(a0)) return is_int(a0) && ival(a0) != INT64_MIN ? json_integer(llabs((long long)ival(a0))) : real(fabs(dval(a0)));
    if (!strcmp(name, "round") && is_num(a0) && na == 1) return num(nearbyint(dval(a0)));
    *handled = 0;
    return NULL;
}

/* ------------------------------------------------------------------ methods */

static json_t *strip(json_t *s, const char *which, json_t *chars)
{
    const char *p = json_string_value(s), *set = json_is_string(chars) ? json_string_value(chars) : " \t\n\r\f\v";
    size_t a = 0, b = json_string_length(s);
    if (which[0] != 'r') while (a < b && strchr(set, p[a]) && p[a]) a++;
    if (which[0] != 'l') while (b > a && strchr(set, p[b - 1]) && p[b - 1]) b--;
    return json_stringn(p + a, b - a);
}

static json_t *replace(json_t *s, json_t *from, json_t *to)
{
    const char *p = json_string_value(s), *f = json_string_value(from), *t = json_string_value(to);
    size_t n = json_string_length(s), fl = json_string_length(from), tl = json_string_length(to);
    std_buf b = {0};
    for (size_t i = 0; i < n;) {
        if (fl && i + fl <= n && !memcmp(p + i, f, fl)) {
            std_buf_add(&b, t, tl);
            i += fl;
        } else {
            if (!fl) std_buf_add(&b, t, tl);
            std_buf_add(&b, p + i, 1);
            i++;
        }
        if (b.len > PY_MAX_STR) break;
    }
    if (!fl) std_buf_add(&b, t, tl);
    return str_of_buf(&b);
}

static json_t *str_format(json_t *s, json_t *args, json_t *kw)
{
    const char *p = json_string_value(s);
    size_t n = json_string_length(s), auto_i = 0;
    std_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '{' && i + 1 < n && p[i + 1] == '{') { std_buf_adds(&b, "{"); i++; continue; }
        if (p[i] == '}' && i + 1 < n && p[i + 1] == '}') { std_buf_adds(&b, "}"); i++; continue; }
        if (p[i] != '{') { std_buf_add(&b, p + i, 1); continue; }
        const char *e = memchr(p + i, '}', n - i);
        if (!e) goto bad;
        char field[128];
        size_t fl = (size_t)(e - (p + i + 1));
        if (fl >= sizeof field) goto bad;
        memcpy(field, p + i + 1, fl);
        field[fl] = 0;
        char *spec = strchr(field, ':'), *conv = strchr(field, '!');
        if (spec) *spec++ = 0;
        if (conv && (!spec || conv < spec)) *conv++ = 0; else conv = NULL;
        json_t *v;
        if (!field[0]) v = json_array_get(args, auto_i++);
        else if (isdigit((unsigned char)field[0])) v = json_array_get(args, (size_t)atoi(field));
        else v = kwget(kw, field);
        if (!v) goto bad;
        json_t *spj = json_string(spec ? spec : "");
        json_t *r = pv_format_spec(v, conv, spj);
        json_decref(spj);
        if (!r) goto bad;
        std_buf_add(&b, json_string_value(r), json_string_length(r));
        json_decref(r);
        i = (size_t)(e - p);
    }
    return str_of_buf(&b);
bad:
    std_buf_free(&b);
    return NULL;
}

json_t *pv_method(py_ev *ev, const py_node *call, json_t *recv, const char *name, json_t *args, json_t *kw, int *handled)
{
    size_t na = json_array_size(args);
    json_t *a0 = json_array_get(args, 0), *a1 = json_array_get(args, 1);
    *handled = 1;
    if (json_is_string(recv)) {
        const char *s = json_string_value(recv);
        size_t n = json_string_length(recv);
        if (!strcmp(name, "format")) return pv_is_value(args) && (!kw || pv_is_value(kw)) ? str_format(recv, args, kw) : NULL;
        if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") || !strcmp(name, "capitalize")) {
            char *c = malloc(n + 1);
            int start = 1;
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                int up = name[0] == 'u' || ((name[0] == 't' || name[0] == 'c') && start && (name[0] == 't' || i == 0));
                c[i] = (char)(ch >= 0x80 ? ch : up ? toupper(ch) : tolower(ch));
                start = !isalpha(ch);
            }
            json_t *r = json_stringn(c, n);
            free(c);
            return r;
        }
        if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) return strip(recv, name, a0);
        if (!strcmp(name, "replace") && json_is_string(a0) && json_is_string(a1) && na == 2) return replace(recv, a0, a1);
        if ((!strcmp(name, "startswith") || !strcmp(name, "endswith")) && json_is_string(a0)) {
            size_t l = json_string_length(a0);
            if (l > n) return json_false();
            return json_boolean(!memcmp(name[0] == 's' ? s : s + n - l, json_string_value(a0), l));
        }
        if (!strcmp(name, "join") && json_is_array(a0)) {
            std_buf b = {0};
            size_t i;
            json_t *x;
            json_array_foreach(a0, i, x) {
                if (!json_is_string(x)) { std_buf_free(&b); return NULL; }
                if (i) std_buf_add(&b, s, n);
                std_buf_add(&b, json_string_value(x), json_string_length(x));
                if (b.len > PY_MAX_STR) break;
            }
            return str_of_buf(&b);
        }
        if (!strcmp(name, "split") && (!na || json_is_string(a0)) && na <= 1) {
            json_t *r = json_array();
            if (!na) {
                size_t i = 0;
                while (i < n) {
                    while (i < n && isspace((unsigned char)s[i])) i++;
                    size_t j = i;
                    while (j < n && !isspace((unsigned char)s[j])) j++;
                    if (j > i) json_array_append_new(r, json_stringn(s + i, j - i));
                    i = j;
                }
                return r;
            }
            const char *sep = json_string_value(a0);
            size_t sl = json_string_length(a0), i = 0;
            if (!sl) { json_decref(r); return NULL; }
            for (;;) {
                const char *f = memmem(s + i, n - i, sep, sl);
                size_t j = f ? (size_t)(f - s) : n;
                json_array_append_new(r, json_stringn(s + i, j - i));
                if (!f) break;
                i = j + sl;
            }
            return r;
        }
        if (!strcmp(name, "zfill") && is_int(a0)) {
            json_t *spec = json_string("");
            char sp[32];
            snprintf(sp, sizeof sp, "0>%lld", (long long)ival(a0));
            json_decref(spec);
            spec = json_string(sp);
            json_t *r = pv_format_spec(recv, NULL, spec);
            json_decref(spec);
            return r;
        }
        *handled = 0;
        return NULL;
    }
    if (json_is_array(recv)) {
        if ((!strcmp(name, "append") || !strcmp(name, "extend") || !strcmp(name, "insert")) &&
            pv_would_cycle(recv, !strcmp(name, "insert") ? a1 : a0) && (!json_is_array(a0) || strcmp(name, "extend") || a0 != recv))
            return NULL;   /* a list inside itself */
        if (!strcmp(name, "append") && na == 1) { json_array_append(recv, a0); return json_null(); }
        if (!strcmp(name, "extend") && json_is_array(a0)) {
            json_t *c = json_copy(a0);   /* l.extend(l) */
            json_array_extend(recv, c);
            json_decref(c);
            return json_null();
        }
        if (!strcmp(name, "insert") && na == 2 && is_int(a0)) {
            json_int_t i = ival(a0);
            if (i < 0) i += (json_int_t)json_array_size(recv);
            if (i < 0) i = 0;
            if ((size_t)i > json_array_size(recv)) i = (json_int_t)json_array_size(recv);
            json_array_insert(recv, (size_t)i, a1);
            return json_null();
        }
        if (!strcmp(name, "index") && na == 1) {
            size_t i;
            json_t *x;
            json_array_foreach(recv, i, x) if (json_equal(x, a0)) return json_integer((json_int_t)i);
            return NULL;
        }
        if (!strcmp(name, "copy")) return json_copy(recv);
        *handled = 0;
        return NULL;
    }
    if (json_is_object(recv) && !pv_tag(recv) && !json_object_get(recv, "$$")) {
        if (!strcmp(name, "get") && na >= 1) {
            char *k = pv_is_const(a0) ? pv_str(a0) : NULL;
            if (!k) return NULL;
            json_t *v = json_object_get(recv, k);
            free(k);
            return json_incref(v ? v : na > 1 ? a1 : json_null());
        }
        if (!strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values")) {
            json_t *r = json_array();
            const char *k;
            json_t *v;
            json_object_foreach(recv, k, v) {
                if (name[0] == 'i') json_array_append_new(r, json_pack("[sO]", k, v));
                else if (name[0] == 'k') json_array_append_new(r, json_string(k));
                else json_array_append(r, v);
            }
            return r;
        }
        if (!strcmp(name, "update") || !strcmp(name, "setdefault")) {
            if ((a0 && pv_would_cycle(recv, a0)) || (a1 && pv_would_cycle(recv, a1)) || (kw && pv_would_cycle(recv, kw)))
                return NULL;   /* a dict inside itself */
        }
        if (!strcmp(name, "update") && json_is_object(a0) && !pv_tag(a0)) {
            json_object_update(recv, a0);
            if (kw) json_object_update(recv, kw);
            return json_null();
        }
        if (!strcmp(name, "update") && !na && kw) { json_object_update(recv, kw); return json_null(); }
        if (!strcmp(name, "copy")) return json_copy(recv);
        if (!strcmp(name, "setdefault") && json_is_string(a0)) {
            json_t *v = json_object_get(recv, json_string_value(a0));
            if (!v) json_object_set(recv, json_string_value(a0), v = a1 ? a1 : json_null());
            return json_incref(v);
        }
        if (!strcmp(name, "pop") && json_is_string(a0)) {
            json_t *v = json_object_get(recv, json_string_value(a0));
            if (!v && !a1) return NULL;
            json_t *r = json_incref(v ? v : a1);
            if (v) json_object_del(recv, json_string_value(a0));
            return r;
        }
        *handled = 0;
        return NULL;
    }
    if (is_tag(recv, "timedelta") && !strcmp(name, "total_seconds"))
        return real(json_number_value(json_object_get(recv, "seconds")));
    if (is_tag(recv, "relative_date") && (!strcmp(name, "replace") || !strcmp(name, "date") ||
                                          !strcmp(name, "start_of") || !strcmp(name, "in_timezone") ||
                                          !strcmp(name, "in_tz")))
        return relative(call, ev, json_number_value(json_object_get(recv, "days")));
    if (is_tag(recv, "relative_date") && (!strcmp(name, "add") || !strcmp(name, "subtract")) && !na) {
        json_t *td = fold_timedelta(args, kw, 1);
        if (!td) return NULL;
        double d = json_number_value(json_object_get(recv, "days")) +
                   (name[0] == 'a' ? 1 : -1) * json_number_value(json_object_get(td, "seconds")) / 86400.0;
        json_decref(td);
        return relative(call, ev, d);
    }
    if (is_tag(recv, "datetime") && !strcmp(name, "replace")) {
        struct tm tm;
        if (!dt_fields(recv, &tm) || na) return NULL;
        long f[6] = {tm.tm_year + 1900L, tm.tm_mon + 1L, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
        static const char *const nm[] = {"year", "month", "day", "hour", "minute", "second"};
        const char *tz = json_string_value(json_object_get(recv, "tz"));
        const char *k;
        json_t *v;
        json_object_foreach(kw, k, v) {
            int ok = 0;
            for (int i = 0; i < 6; i++) if (!strcmp(k, nm[i]) && is_int(v)) { f[i] = (long)ival(v); ok = 1; }
            if (!strcmp(k, "tzinfo") && (json_is_string(v) || json_is_null(v))) { tz = json_string_value(v); ok = 1; }
            if (!strcmp(k, "microsecond")) ok = 1;
            if (!ok) return NULL;
        }
        return mk_datetime(f[0], f[1], f[2], f[3], f[4], f[5], tz);
    }
    if (is_tag(recv, "datetime") && (!strcmp(name, "isoformat") || !strcmp(name, "to_iso8601_string")))
        return json_incref(json_object_get(recv, "value"));
    *handled = 0;
    return NULL;
}

/* ------------------------------------------------------------------ IR conversion */

static json_t *sym_ir(py_ev *ev, py_obj *o)
{
    /* enum members: Class.MEMBER (TriggerRule.X folds to its value) */
    const char *dot = o->name ? strrchr(o->name, '.') : NULL;
    if (dot && dot[1] && isupper((unsigned char)dot[1])) {
        int caps = 1;
        for (const char *p = dot + 1; *p; p++) if (islower((unsigned char)*p)) caps = 0;
        const char *cls = dot - 1;
        while (cls > o->name && cls[-1] != '.') cls--;
        if (caps) {
            size_t cl = (size_t)(dot - cls);
            if (cl == 11 && !strncmp(cls, "TriggerRule", 11)) {
                char *l = strdup(dot + 1);
                for (char *p = l; *p; p++) *p = (char)tolower((unsigned char)*p);
                json_t *r = json_string(l);
                free(l);
                return r;
            }
            return json_pack("{s:s, s:s%, s:s}", "$", "enum", "class", cls, cl, "value", dot + 1);
        }
    }
    if (o->node) return pv_expr(ev, o->node);
    return json_pack("{s:s, s:s}", "$", "expr", "source", o->name ? o->name : "?");
}

static json_t *to_ir(py_ev *ev, json_t *v, int depth);

json_t *pv_to_ir(py_ev *ev, json_t *v)
{
    return to_ir(ev, v, 0);
}

static json_t *to_ir(py_ev *ev, json_t *v, int depth)
{
    if (!v) return json_null();
    if (depth > 100) return json_pack("{s:s, s:s}", "$", "expr", "source", "(a value nested more than 100 deep)");
    py_obj *o = pv_get(ev, v);
    if (o) {
        switch (o->kind) {
        case O_SYM: return sym_ir(ev, o);
        case O_TASK: return json_pack("{s:s, s:s}", "$", "task", "task_id", o->name);
        case O_XCOM: {
            py_obj *t = ev->objs[o->ref];
            return json_pack("{s:s, s:s, s:s?}", "$", "xcom", "task_id", t->name, "key", o->mod);
        }
        case O_FUNC: return pv_callable(ev, o, o->scope);
        case O_PARAM: {
            json_t *e = json_pack("{s:s, s:s, s:i, s:i}", "$", "expr", "source", o->name, "line", o->node ? o->node->line : 0,
                                  "col", o->node ? o->node->col : 0);
            json_object_set_new(e, "param", json_string(o->name));
            return e;
        }
        default:
            if (o->node) return pv_expr(ev, o->node);
            return json_pack("{s:s, s:s}", "$", "expr", "source", o->name ? o->name : "?");
        }
    }
    if (json_is_array(v)) {
        json_t *r = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(r, to_ir(ev, x, depth + 1));
        return r;
    }
    if (json_is_object(v)) {
        json_t *r = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_object_set_new(r, k, to_ir(ev, x, depth + 1));
        return r;
    }
    return json_incref(v);
}

int pv_has_xcom(py_ev *ev, json_t *v, json_t *found)
{
    py_obj *o = pv_get(ev, v);
    int n = 0;
    if (o) {
        if (o->kind == O_XCOM) {
            json_array_append_new(found, json_pack("{s:I}", "$$", (json_int_t)o->ref));
            return 1;
        }
        return 0;
    }
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) json_array_foreach(v, i, x) n += pv_has_xcom(ev, x, found);
    else if (json_is_object(v)) json_object_foreach(v, k, x) n += pv_has_xcom(ev, x, found);
    return n;
}
