/* airflow.c — the Airflow importer's back end: IR -> workflow tree + report.
 * See airflow.h. This file has the shared context, the report, value and Jinja
 * translation, schedules, the workflow skeleton and the entry points; the
 * operators are mapped in airflow_ops.c. */
#include "airflow_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../interpreter/program.h"
#include "../stdlib/cron.h"
#include "../stdlib/duration.h"
#include "asl.h"
#include "compile.h"
#include "py.h"


/* ---- tree builders ----------------------------------------------------------- */

dsl_node *af_str(af_ctx *x, const char *s, dsl_style style)
{
    dsl_node *n = dsl_new_scalar(x->doc, s, 1, 1);
    n->style = style;
    return n;
}
dsl_node *af_q(af_ctx *x, const char *s) { return af_str(x, s, DSL_QUOTED); }
dsl_node *af_p(af_ctx *x, const char *s) { return af_str(x, s, DSL_PLAIN); }
dsl_node *af_map(af_ctx *x) { return dsl_new_map(x->doc, 1, 1); }
dsl_node *af_seq(af_ctx *x) { return dsl_new_seq(x->doc, 1, 1); }
void af_put(af_ctx *x, dsl_node *m, const char *k, dsl_node *v) { dsl_map_add(x->doc, m, af_q(x, k), v); }
void af_app(af_ctx *x, dsl_node *s, dsl_node *v) { dsl_seq_add(x->doc, s, v); }

/* A literal string: `${` escaped as `$${` so that it is not an expression. */
dsl_node *af_lit(af_ctx *x, const char *s)
{
    std_buf b = {0};
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && p[1] == '{') std_buf_adds(&b, "$");
        std_buf_add(&b, p, 1);
    }
    std_buf_adds(&b, "");
    dsl_node *n = af_str(x, b.p, strchr(b.p, '\n') ? DSL_BLOCK : DSL_QUOTED);
    std_buf_free(&b);
    return n;
}


/* A string kept in the document's arena. */
const char *af_keep(af_ctx *x, char *s)
{
    const char *r = dsl_strdup(x->doc, s, strlen(s));
    free(s);
    return r;
}

void af_dur(int64_t ms, char *out, size_t n) { std_duration_fmt(ms, out, n); }

/* ---- the report ----------------------------------------------------------------- */

/* Kinds that mean "a person must act" (exit 2) versus information. */
static int pending_kind(const char *k)
{
    return !strcmp(k, "stub") || !strcmp(k, "placeholder") || !strcmp(k, "secret") ||
           !strcmp(k, "connection") || !strcmp(k, "unconverted");
}

void af_report(af_ctx *x, int line, const char *kind, const char *task, const char *fmt, ...)
{
    std_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    std_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    std_buf_adds(&b, "");
    json_t *it = json_object();
    json_object_set_new(it, "file", json_string(x->file));
    json_object_set_new(it, "line", json_integer(line > 0 ? line : 1));
    json_object_set_new(it, "kind", json_string(kind));
    if (task) json_object_set_new(it, "task", json_string(task));
    json_object_set_new(it, "message", json_string(b.p));
    json_array_append_new(x->items, it);
    std_buf_free(&b);
    if (pending_kind(kind)) x->pending++;
}

void dsl_airflow_report_text(const json_t *report, std_buf *out)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(report, "items"), i, it) {
        const char *task = json_string_value(json_object_get(it, "task"));
        std_buf_addf(out, "%s:%lld: %s: %s%s%s%s\n", json_string_value(json_object_get(it, "file")),
                     (long long)json_integer_value(json_object_get(it, "line")),
                     json_string_value(json_object_get(it, "kind")), task ? "task '" : "", task ? task : "",
                     task ? "': " : "", json_string_value(json_object_get(it, "message")));
    }
}

/* ---- values ----------------------------------------------------------------------- */

const char *af_tag(json_t *v)
{
    return json_is_object(v) ? json_string_value(json_object_get(v, "$")) : NULL;
}

int af_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) *out = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == (double)(int64_t)json_real_value(v)) *out = (int64_t)json_real_value(v);
    else return 0;
    return 1;
}

/* A timedelta (or plain number of seconds) in ms; 0 when v is neither. */
int af_seconds_ms(json_t *v, int64_t *ms)
{
    const char *t = af_tag(v);
    json_t *s = t && !strcmp(t, "timedelta") ? json_object_get(v, "seconds") : (t ? NULL : v);
    if (!json_is_number(s)) return 0;
    double d = json_number_value(s);
    if (d < 0 || d > 1e12) return 0;
    *ms = (int64_t)(d * 1000 + 0.5);
    return 1;
}

int af_truthy(json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v)) return 0;
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_string(v)) return json_string_length(v) != 0;
    return 1;
}

/* Short text of a value for messages: strings quoted, tagged values by name. */
void af_summary(std_buf *b, json_t *v, int depth)
{
    const char *t = af_tag(v);
    if (t) {
        const char *nm = json_string_value(json_object_get(v, "name"));
        const char *src = json_string_value(json_object_get(v, "source"));
        const char *tid = json_string_value(json_object_get(v, "task_id"));
        if (nm) std_buf_adds(b, nm);
        else if (tid) std_buf_addf(b, "%s(%s)", t, tid);
        else if (src && strlen(src) < 40 && !strchr(src, '\n')) std_buf_adds(b, src);
        else std_buf_addf(b, "<%s>", t);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        std_buf_add(b, "'", 1);
        for (size_t i = 0; i < n && i < 40; i++) std_buf_adds(b, s[i] == '\n' ? "\\n" : (char[]){s[i], 0});
        std_buf_adds(b, n > 40 ? "...'" : "'");
    } else if ((json_is_object(v) || json_is_array(v)) && depth > 0) {
        std_buf_adds(b, json_is_object(v) ? "{...}" : "[...]");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s && strlen(s) > 60) strcpy(s + 57, "...");
        std_buf_adds(b, s ? s : "?");
        free(s);
    }
}

/* A JSON value as a literal node tree (strings literal: `${` escaped). */
dsl_node *af_json_node(af_ctx *x, json_t *v)
{
    if (json_is_object(v)) {
        dsl_node *m = af_map(x);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) af_put(x, m, k, af_json_node(x, e));
        return m;
    }
    if (json_is_array(v)) {
        dsl_node *s = af_seq(x);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) af_app(x, s, af_json_node(x, e));
        return s;
    }
    if (json_is_string(v)) return af_lit(x, json_string_value(v));
    if (json_is_real(v)) {
        char t[64];
        double d = json_real_value(v);
        if (d == (double)(int64_t)d && d > -1e15 && d < 1e15) snprintf(t, sizeof t, "%.1f", d);
        else snprintf(t, sizeof t, "%.17g", d);
        return af_p(x, t);
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    dsl_node *n = af_p(x, s ? s : "null");
    free(s);
    return n;
}

/* Lua string literal. */
void af_lua_str(std_buf *b, const char *s)
{
    std_buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') std_buf_addf(b, "\\%c", *p);
        else if (*p == '\n') std_buf_adds(b, "\\n");
        else if (*p < 32 || *p == 127) std_buf_addf(b, "\\%03d", *p);
        else std_buf_add(b, (const char *)p, 1);
    }
    std_buf_add(b, "\"", 1);
}

static int lua_ident(const char *s)
{
    static const char *const kw[] = {"and", "break", "do", "else", "elseif", "end", "false", "for",
                                     "function", "goto", "if", "in", "local", "nil", "not", "or",
                                     "repeat", "return", "then", "true", "until", "while"};
    if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_')) return 0;
    for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
        if (!strcmp(s, kw[i])) return 0;
    return 1;
}

/* `base.name` or `base["name"]`. */
void af_lua_field(std_buf *b, const char *base, const char *name)
{
    std_buf_adds(b, base);
    if (lua_ident(name)) std_buf_addf(b, ".%s", name);
    else {
        std_buf_add(b, "[", 1);
        af_lua_str(b, name);
        std_buf_add(b, "]", 1);
    }
}

/* A JSON value as a Lua literal; 0 when it holds tagged values. */
int af_lua_lit(std_buf *b, json_t *v)
{
    if (af_tag(v)) return 0;
    if (json_is_object(v)) {
        std_buf_adds(b, "{");
        const char *k;
        json_t *e;
        int first = 1;
        json_object_foreach(v, k, e) {
            std_buf_adds(b, first ? "" : ", ");
            first = 0;
            std_buf_add(b, "[", 1);
            af_lua_str(b, k);
            std_buf_adds(b, "] = ");
            if (!af_lua_lit(b, e)) return 0;
        }
        std_buf_adds(b, "}");
    } else if (json_is_array(v)) {
        std_buf_adds(b, json_array_size(v) ? "{" : "json.array({");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            std_buf_adds(b, i ? ", " : "");
            if (json_is_null(e)) std_buf_adds(b, "json.null");
            else if (!af_lua_lit(b, e)) return 0;
        }
        std_buf_adds(b, json_array_size(v) ? "}" : "})");
    } else if (json_is_string(v)) {
        af_lua_str(b, json_string_value(v));
    } else if (json_is_null(v)) {
        std_buf_adds(b, "nil");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        std_buf_adds(b, s);
        free(s);
    }
    return 1;
}

/* ---- names, inputs, secrets, run dates ------------------------------------------------- */

/* `steps.t` / `steps["g.t"]` for a task. */
void af_steps_ref(std_buf *b, const char *task) { af_lua_field(b, "steps", task); }

/* The Lua expression of a task's XCom return value: a shell task's last stdout
 * line (BashOperator pushes it), any other task's output. */
void af_xcom_expr(af_ctx *x, std_buf *b, const char *task)
{
    const char *kind = json_string_value(json_object_get(x->kinds, task));
    if (kind && !strcmp(kind, "http")) {
        af_steps_ref(b, task);
        std_buf_adds(b, ".body");
    } else if (kind && !strcmp(kind, "shell")) {
        std_buf_adds(b, "string.match(");
        af_steps_ref(b, task);
        std_buf_adds(b, ".stdout, \"([^\\n]*)\\n?$\")");
    } else {
        af_steps_ref(b, task);
    }
}

void af_need_input(af_ctx *x, const char *name, json_t *schema)
{
    if (!json_object_get(x->inputs, name)) json_object_set(x->inputs, name, schema);
    json_decref(schema);
}

/* An Airflow Variable becomes the secret AIRFLOW_VAR_<NAME> (Airflow reads
 * variables from these environment variables too). Returns the secret's name. */
const char *af_variable(af_ctx *x, const char *name, int line, const char *task)
{
    std_buf b = {0};
    std_buf_adds(&b, "AIRFLOW_VAR_");
    for (const char *p = name; *p; p++) std_buf_addf(&b, "%c", isalnum((unsigned char)*p) ? toupper((unsigned char)*p) : '_');
    std_buf_adds(&b, "");
    const char *s = af_keep(x, std_buf_take(&b));
    if (!json_object_get(x->secrets, s)) {
        json_object_set_new(x->secrets, s, json_true());
        af_report(x, line, "secret", task, "Airflow Variable '%s' is read from the secret %s (set it in the environment of the worker)",
                  name, s);
    }
    return s;
}

/* A connection's base URL: the placeholder input conn_<id>_url. */
const char *af_connection(af_ctx *x, const char *conn_id, int line, const char *task)
{
    std_buf b = {0};
    std_buf_adds(&b, "conn_");
    for (const char *p = conn_id; *p; p++) std_buf_addf(&b, "%c", isalnum((unsigned char)*p) ? tolower((unsigned char)*p) : '_');
    std_buf_adds(&b, "_url");
    const char *s = af_keep(x, std_buf_take(&b));
    if (!json_object_get(x->inputs, s)) {
        json_t *sc = json_pack("{s:s, s:s}", "type", "string", "description",
                               "base URL of the Airflow connection");
        json_object_set_new(sc, "description", json_sprintf("base URL of the Airflow connection '%s'", conn_id));
        af_need_input(x, s, sc);
        af_report(x, line, "connection", task, "connection '%s': its base URL is the input %s (no default: pass it with --input)",
                  conn_id, s);
    }
    return s;
}

/* A run date, declared once as a workflow variable: the trigger's value, or the
 * run's start for a run started by hand. which: logical_date, interval_start,
 * interval_end. */
const char *af_date_var(af_ctx *x, const char *which)
{
    if (!json_object_get(x->vars, which)) {
        char *e = std_strf("${ run.%s or run.started_at }", which);
        json_object_set_new(x->vars, which, json_string(e));
        free(e);
    }
    return which;
}

/* ---- Jinja ---------------------------------------------------------------------------- */

typedef enum { JT_END, JT_NAME, JT_STR, JT_NUM, JT_PUNCT, JT_BAD } jt_kind;
typedef struct { jt_kind k; char s[256]; } jtok;
typedef struct {
    const char *p;
    jtok t;
    af_ctx *x;
    const char *task;
    int line;
} jlex;

static void jnext(jlex *l)
{
    while (*l->p == ' ' || *l->p == '\t' || *l->p == '\n') l->p++;
    jtok *t = &l->t;
    t->s[0] = 0;
    const char *p = l->p;
    if (!*p) {
        t->k = JT_END;
        return;
    }
    size_t n = 0;
    if (isalpha((unsigned char)*p) || *p == '_') {
        while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n < sizeof t->s - 1) n++;
        t->k = JT_NAME;
        memcpy(t->s, p, n);
        t->s[n] = 0;
        l->p = p + n;
    } else if (isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1]))) {
        n = 1;
        while (isdigit((unsigned char)p[n]) && n < sizeof t->s - 1) n++;
        t->k = JT_NUM;
        memcpy(t->s, p, n);
        t->s[n] = 0;
        l->p = p + n;
    } else if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && *p != q && n < sizeof t->s - 1) {
            if (*p == '\\' && p[1]) p++;
            t->s[n++] = *p++;
        }
        t->s[n] = 0;
        t->k = *p == q ? JT_STR : JT_BAD;
        l->p = *p ? p + 1 : p;
    } else if (strchr(".[](),=|", *p)) {
        t->k = JT_PUNCT;
        t->s[0] = *p;
        t->s[1] = 0;
        l->p = p + 1;
    } else {
        t->k = JT_BAD;
    }
}

static int jis(jlex *l, const char *punct) { return l->t.k == JT_PUNCT && !strcmp(l->t.s, punct); }

/* A parsed Jinja expression: a dotted path of names and string subscripts,
 * an optional call with arguments, an optional method call after it, filters. */
#define JMAX 8
typedef struct jexpr {
    char path[JMAX][64];
    int npath;
    int call;                       /* the path is called */
    int nargs;
    char argkw[JMAX][32];           /* keyword, or "" */
    jtok args[JMAX];                /* literal or name arguments */
    char filters[4][32];
    int nfilters;
} jexpr;

static int jparse(jlex *l, jexpr *e)
{
    memset(e, 0, sizeof *e);
    if (l->t.k != JT_NAME) return 0;
    snprintf(e->path[e->npath++], 64, "%s", l->t.s);
    jnext(l);
    for (;;) {
        if (jis(l, ".")) {
            jnext(l);
            if (l->t.k != JT_NAME || e->npath >= JMAX) return 0;
            snprintf(e->path[e->npath++], 64, "%s", l->t.s);
            jnext(l);
        } else if (jis(l, "[")) {
            jnext(l);
            if (l->t.k != JT_STR || e->npath >= JMAX) return 0;
            snprintf(e->path[e->npath++], 64, "%s", l->t.s);
            jnext(l);
            if (!jis(l, "]")) return 0;
            jnext(l);
        } else if (jis(l, "(") && !e->call) {
            e->call = 1;
            jnext(l);
            while (!jis(l, ")")) {
                if (e->nargs >= JMAX) return 0;
                jtok a = l->t;
                jnext(l);
                if (a.k == JT_NAME && jis(l, "=")) {
                    snprintf(e->argkw[e->nargs], 32, "%s", a.s);
                    jnext(l);
                    a = l->t;
                    jnext(l);
                }
                if (a.k != JT_STR && a.k != JT_NUM && a.k != JT_NAME) return 0;
                e->args[e->nargs++] = a;
                if (jis(l, ",")) jnext(l);
                else if (!jis(l, ")")) return 0;
            }
            jnext(l);
            if (jis(l, ".")) return 0; /* a method on a call's result */
        } else {
            break;
        }
    }
    while (jis(l, "|")) {
        jnext(l);
        if (l->t.k != JT_NAME || e->nfilters >= 4) return 0;
        snprintf(e->filters[e->nfilters++], 32, "%s", l->t.s);
        jnext(l);
    }
    return l->t.k == JT_END;
}

static int pis(const jexpr *e, int n, ...)
{
    if (e->npath != n) return 0;
    va_list ap;
    va_start(ap, n);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        if (s && strcmp(e->path[i], s)) ok = 0;
    }
    va_end(ap);
    return ok;
}

static const char *jarg(const jexpr *e, int pos, const char *kw)
{
    int k = 0;
    for (int i = 0; i < e->nargs; i++) {
        if (e->argkw[i][0]) {
            if (kw && !strcmp(e->argkw[i], kw)) return e->args[i].s;
        } else if (k++ == pos) {
            return e->args[i].s;
        }
    }
    return NULL;
}

#define TS_FMT "%Y-%m-%dT%H:%M:%S+00:00"

/* The ds-like names: the run date they derive from, a day offset, a format. */
static const struct { const char *name, *base; int days; const char *fmt; } DS_NAMES[] = {
    {"ds", "logical_date", 0, "%Y-%m-%d"},
    {"ds_nodash", "logical_date", 0, "%Y%m%d"},
    {"ts", "logical_date", 0, TS_FMT},
    {"ts_nodash", "logical_date", 0, "%Y%m%dT%H%M%S"},
    {"ts_nodash_with_tz", "logical_date", 0, "%Y%m%dT%H%M%S+0000"},
    {"tomorrow_ds", "logical_date", 1, "%Y-%m-%d"},
    {"tomorrow_ds_nodash", "logical_date", 1, "%Y%m%d"},
    {"yesterday_ds", "logical_date", -1, "%Y-%m-%d"},
    {"yesterday_ds_nodash", "logical_date", -1, "%Y%m%d"},
    {"next_ds", "interval_end", 0, "%Y-%m-%d"},
    {"next_ds_nodash", "interval_end", 0, "%Y%m%d"},
    {"prev_ds", "prev", 0, "%Y-%m-%d"},
    {"prev_ds_nodash", "prev", 0, "%Y%m%d"},
};

/* Date-valued names. */
static const struct { const char *name, *base; } DATE_NAMES[] = {
    {"logical_date", "logical_date"},     {"execution_date", "logical_date"},
    {"data_interval_start", "interval_start"}, {"data_interval_end", "interval_end"},
    {"next_execution_date", "interval_end"}, {"prev_execution_date", "prev"},
    {"next_logical_date", "interval_end"}, {"prev_logical_date", "prev"},
};

static int fmt_ok(const char *f)
{
    for (const char *p = f; *p; p++)
        if (*p == '%') {
            p++;
            if (!*p || !strchr("YmdHMSjaAbuwZ%", *p)) return 0;
        }
    return 1;
}

/* A date expression (RFC 3339 text) for base + days. */
static void date_expr(jlex *l, std_buf *b, const char *base, int days)
{
    af_ctx *x = l->x;
    std_buf d = {0};
    if (!strcmp(base, "prev")) {
        /* the previous logical date: one interval before (exact for fixed intervals) */
        af_date_var(x, "logical_date");
        af_date_var(x, "interval_end");
        std_buf_adds(&d, "time.add(vars.logical_date, time.parse(vars.logical_date) - time.parse(vars.interval_end))");
        if (!x->prev_warned++)
            af_report(x, l->line, "warning", l->task, "prev_ds/prev_execution_date are computed as one interval before the logical date "
                                                      "(exact for fixed intervals)");
    } else {
        std_buf_addf(&d, "vars.%s", af_date_var(x, base));
    }
    std_buf_adds(&d, "");
    if (days) std_buf_addf(b, "time.add(%s, %d)", d.p, 86400 * days);
    else std_buf_adds(b, d.p);
    std_buf_free(&d);
}

static void time_format(std_buf *b, const char *date, const char *fmt)
{
    std_buf_addf(b, "time.format(%s, ", date);
    af_lua_str(b, fmt);
    std_buf_adds(b, ")");
}

/* A ds-like name as (base, days); 0 when it is none. */
static int ds_like(const char *name, const char **base, int *days, const char **fmt)
{
    for (size_t i = 0; i < sizeof DS_NAMES / sizeof *DS_NAMES; i++)
        if (!strcmp(name, DS_NAMES[i].name)) {
            *base = DS_NAMES[i].base;
            *days = DS_NAMES[i].days;
            if (fmt) *fmt = DS_NAMES[i].fmt;
            return 1;
        }
    return 0;
}

static const char *date_base(const char *name)
{
    for (size_t i = 0; i < sizeof DATE_NAMES / sizeof *DATE_NAMES; i++)
        if (!strcmp(name, DATE_NAMES[i].name)) return DATE_NAMES[i].base;
    return NULL;
}

/* run_id, a date name (logical_date, dag_run.data_interval_end, ...), or its
 * .strftime(fmt) / .isoformat(). 0 when e is none of these. */
static int date_or_run_id(jlex *l, const jexpr *e, std_buf *b, int *is_date, int *ok)
{
    int s = !strcmp(e->path[0], "dag_run") && e->npath >= 2 ? 1 : 0;
    const char *nm = e->path[s];
    int rest = e->npath - s - 1;
    const char *base = date_base(nm);
    if (!strcmp(nm, "run_id") && rest == 0 && !e->call) {
        std_buf_adds(b, "run.run_id");
        return 1;
    }
    if (!base || rest > 1 || (rest == 0 && e->call) || (rest == 1 && !e->call)) return 0;
    if (rest == 0) {
        date_expr(l, b, base, 0);
        *is_date = 1;
        return 1;
    }
    const char *m = e->path[s + 1];
    const char *f = NULL;
    if (!strcmp(m, "strftime") && e->nargs == 1 && e->args[0].k == JT_STR && !e->argkw[0][0]) f = e->args[0].s;
    else if (!strcmp(m, "isoformat") && e->nargs == 0) f = TS_FMT;
    if (!f) return 0;
    if (!fmt_ok(f)) {
        *ok = 0;
        return 1;
    }
    std_buf d = {0};
    date_expr(l, &d, base, 0);
    std_buf_adds(&d, "");
    time_format(b, d.p, f);
    std_buf_free(&d);
    return 1;
}

/* One `{{ expr }}` as a Lua expression; 0 when it is not one we know. */
static int jinja_expr(jlex *l, const char *src, std_buf *out)
{
    af_ctx *x = l->x;
    l->p = src;
    jnext(l);
    jexpr e;
    if (!jparse(l, &e)) return 0;
    std_buf b = {0};
    const char *base = NULL, *fmt = NULL;
    int days = 0, is_date = 0, ok = 1;
    const char *p0 = e.path[0];
    if (e.npath == 1 && !e.call && ds_like(p0, &base, &days, &fmt)) {
        std_buf d = {0};
        date_expr(l, &d, base, days);
        std_buf_adds(&d, "");
        time_format(&b, d.p, fmt);
        std_buf_free(&d);
    } else if (date_or_run_id(l, &e, &b, &is_date, &ok)) {
        /* handled */
    } else if ((pis(&e, 2, "params", NULL) || pis(&e, 3, "dag_run", "conf", NULL)) && !e.call) {
        const char *k = e.path[e.npath - 1];
        json_t *tp = !strcmp(p0, "params") ? json_object_get(x->task_params, k) : NULL;
        json_t *dp = json_object_get(json_object_get(json_object_get(x->dag, "args"), "params"), k);
        std_buf lit = {0};
        if (tp && af_lua_lit(&lit, tp)) {
            /* a task's own params win over the DAG's; a run's conf wins over both
             * (dag_run_conf_overrides_params), unless the DAG's default fills it */
            std_buf_adds(&lit, "");
            if (dp) {
                std_buf_adds(&b, lit.p);
                af_report(x, l->line, "warning", l->task, "params.%s: the task's value is used (the DAG's param of that name is ignored here)", k);
            } else {
                std_buf_adds(&b, "(");
                af_lua_field(&b, "input", k);
                std_buf_addf(&b, " or %s)", lit.p);
            }
        } else {
            af_lua_field(&b, "input", k);
        }
        std_buf_free(&lit);
        if (!json_object_get(x->inputs, k))
            af_need_input(x, k, json_pack("{s:s, s:b}", "type", "any", "required", 0));
    } else if (pis(&e, 3, "dag_run", "conf", "get") && e.call && e.nargs >= 1 && e.args[0].k == JT_STR &&
               !e.argkw[0][0]) {
        const char *k = e.args[0].s;
        if (!json_object_get(x->inputs, k))
            af_need_input(x, k, json_pack("{s:s, s:b}", "type", "any", "required", 0));
        if (e.nargs == 2 && e.args[1].k != JT_NAME) {
            std_buf_adds(&b, "(");
            af_lua_field(&b, "input", k);
            std_buf_adds(&b, " or ");
            if (e.args[1].k == JT_STR) af_lua_str(&b, e.args[1].s);
            else std_buf_adds(&b, e.args[1].s);
            std_buf_adds(&b, ")");
        } else if (e.nargs == 1) {
            af_lua_field(&b, "input", k);
        } else ok = 0;
    } else if ((pis(&e, 3, "var", "value", NULL) || (e.npath >= 3 && !strcmp(p0, "var") && !strcmp(e.path[1], "json"))) &&
               !e.call) {
        const char *s = af_variable(x, e.path[2], l->line, l->task);
        if (!strcmp(e.path[1], "json")) {
            std_buf_addf(&b, "json.decode(secrets.%s)", s);
            for (int i = 3; i < e.npath; i++) { /* var.json.settings.path.x */
                std_buf_adds(&b, "");
                std_buf t = {0};
                af_lua_field(&t, b.p, e.path[i]);
                std_buf_free(&b);
                b = t;
            }
        } else std_buf_addf(&b, "secrets.%s", s);
    } else if (pis(&e, 3, "var", "value", "get") && e.call && e.nargs >= 1 && e.args[0].k == JT_STR) {
        const char *s = af_variable(x, e.args[0].s, l->line, l->task);
        std_buf_addf(&b, "secrets.%s", s);
    } else if (pis(&e, 2, "macros", "ds_add") && e.call && e.nargs == 2 && e.args[0].k == JT_NAME &&
               e.args[1].k == JT_NUM && ds_like(e.args[0].s, &base, &days, NULL)) {
        std_buf d = {0};
        date_expr(l, &d, base, days + atoi(e.args[1].s));
        std_buf_adds(&d, "");
        time_format(&b, d.p, "%Y-%m-%d");
        std_buf_free(&d);
    } else if (pis(&e, 2, "macros", "ds_format") && e.call && e.nargs == 3 && e.args[0].k == JT_NAME &&
               e.args[2].k == JT_STR && ds_like(e.args[0].s, &base, &days, NULL) && fmt_ok(e.args[2].s)) {
        std_buf d = {0};
        date_expr(l, &d, base, days);
        std_buf_adds(&d, "");
        time_format(&b, d.p, e.args[2].s);
        std_buf_free(&d);
    } else if ((pis(&e, 2, "ti", "xcom_pull") || pis(&e, 2, "task_instance", "xcom_pull")) && e.call) {
        const char *t = jarg(&e, 0, "task_ids");
        const char *key = jarg(&e, 1, "key");
        int bad = 0;
        for (int i = 0; i < e.nargs; i++) {
            if (e.args[i].k != JT_STR) bad = 1;
            else if (!strcmp(e.argkw[i], "dag_id")) bad |= strcmp(e.args[i].s, x->dag_id) != 0; /* this DAG only */
            else if (e.argkw[i][0] && strcmp(e.argkw[i], "task_ids") && strcmp(e.argkw[i], "key")) bad = 1;
        }
        if (bad || !t || (key && strcmp(key, "return_value")) || !json_object_get(x->kinds, t)) ok = 0;
        else af_xcom_expr(x, &b, t);
    } else if ((pis(&e, 2, "dag", "dag_id")) && !e.call) {
        af_lua_str(&b, x->dag_id);
    } else if ((pis(&e, 2, "task", "task_id") || pis(&e, 2, "ti", "task_id") ||
                pis(&e, 2, "task_instance", "task_id")) && !e.call && l->task) {
        af_lua_str(&b, l->task);
    } else {
        ok = 0;
    }
    /* filters: ds, ds_nodash, ts, ts_nodash on a date */
    for (int i = 0; ok && i < e.nfilters; i++) {
        const char *f = NULL;
        for (size_t k = 0; k < sizeof DS_NAMES / sizeof *DS_NAMES; k++)
            if (!strcmp(e.filters[i], DS_NAMES[k].name) && DS_NAMES[k].days == 0 &&
                !strcmp(DS_NAMES[k].base, "logical_date"))
                f = DS_NAMES[k].fmt;
        if (!is_date || !f) {
            ok = 0;
            break;
        }
        std_buf_adds(&b, "");
        std_buf t = {0};
        time_format(&t, b.p, f);
        std_buf_free(&b);
        b = t;
        is_date = 0;
    }
    if (ok && is_date) { /* str(datetime) */
        std_buf_adds(&b, "");
        std_buf t = {0};
        time_format(&t, b.p, TS_FMT);
        std_buf_free(&b);
        b = t;
    }
    if (ok) {
        std_buf_adds(&b, "");
        std_buf_adds(out, b.p);
    }
    std_buf_free(&b);
    return ok;
}

/* Does s hold Jinja? */
int af_has_jinja(const char *s) { return strstr(s, "{{") || strstr(s, "{%") || strstr(s, "{#"); }

/* Translate the Jinja of template s. Each `{{ expr }}` calls piece(ud, lua)
 * and the text between calls text(ud, text, n). Returns 1, or 0 after
 * reporting what it could not translate. */
typedef void (*jpiece_fn)(void *ud, const char *lua, const char *src);
typedef void (*jtext_fn)(void *ud, const char *s, size_t n);
static int jinja_walk(af_ctx *x, const char *s, const char *task, int line, jtext_fn text, jpiece_fn piece, void *ud)
{
    const char *p = s;
    int ok = 1;
    while (*p) {
        const char *o = strstr(p, "{{");
        const char *blk = strstr(p, "{%");
        const char *cm = strstr(p, "{#");
        if (blk && (!o || blk < o)) {
            af_report(x, line, "unconverted", task, "Jinja statement '%.40s' is not converted", blk);
            return 0;
        }
        if (cm && (!o || cm < o)) {
            const char *ce = strstr(cm, "#}");
            if (!ce) break;
            text(ud, p, (size_t)(cm - p));
            p = ce + 2;
            continue;
        }
        if (!o) break;
        text(ud, p, (size_t)(o - p));
        const char *c = strstr(o + 2, "}}");
        if (!c) {
            af_report(x, line, "unconverted", task, "unterminated Jinja expression '%.40s'", o);
            return 0;
        }
        char *src = std_strf("%.*s", (int)(c - o - 2), o + 2);
        std_buf lua = {0};
        jlex l = {.x = x, .task = task, .line = line};
        if (!jinja_expr(&l, src, &lua)) {
            char *t = src;
            while (*t == ' ') t++;
            size_t n = strlen(t);
            while (n && t[n - 1] == ' ') n--;
            af_report(x, line, "unconverted", task, "Jinja expression '{{ %.*s }}' is not converted", (int)n, t);
            ok = 0;
        } else {
            std_buf_adds(&lua, "");
            piece(ud, lua.p, src);
        }
        std_buf_free(&lua);
        free(src);
        p = c + 2;
    }
    if (ok) text(ud, p, strlen(p));
    return ok;
}

typedef struct { std_buf b; int pieces; int only; } jstr;
static void jstr_text(void *ud, const char *s, size_t n)
{
    jstr *j = ud;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') std_buf_adds(&j->b, "$");
        std_buf_add(&j->b, s + i, 1);
        j->only = 0;
    }
}
static void jstr_piece(void *ud, const char *lua, const char *src)
{
    jstr *j = ud;
    std_buf_addf(&j->b, "${ %s }", lua);
    j->pieces++;
}

/* A string kwarg as a node: Jinja translated into `${ }` interpolations.
 * NULL (after a report) when it holds Jinja that is not translated. */
dsl_node *af_template(af_ctx *x, const char *s, const char *task, int line)
{
    if (!af_has_jinja(s)) return af_lit(x, s);
    jstr j = {.only = 1};
    int ok = jinja_walk(x, s, task, line, jstr_text, jstr_piece, &j);
    std_buf_adds(&j.b, "");
    dsl_node *n = ok ? af_str(x, j.b.p, strchr(j.b.p, '\n') ? DSL_BLOCK : DSL_QUOTED) : NULL;
    std_buf_free(&j.b);
    return n;
}

/* Env var name for a Jinja expression in a shell script. */
static void env_name(const char *src, char *out, size_t cap, json_t *used)
{
    size_t k = 0;
    for (const char *p = src; *p && k + 1 < cap && k < 40; p++) {
        if (isalnum((unsigned char)*p)) out[k++] = (char)toupper((unsigned char)*p);
        else if (k && out[k - 1] != '_') out[k++] = '_';
    }
    while (k && out[k - 1] == '_') k--;
    out[k] = 0;
    if (!k || isdigit((unsigned char)out[0])) {
        memmove(out + 2, out, k + 1 < cap - 2 ? k + 1 : cap - 3);
        memcpy(out, "J_", 2);
    }
}

typedef struct {
    af_ctx *x;
    std_buf script;
    dsl_node *env;
    json_t *names; /* env name -> lua */
    char quote;    /* the shell quote the script is in: 0, '\'' or '"' */
    int comment;   /* in a # comment */
    char hd_next[64]; /* a here-document starts at the next line with this delimiter */
    int hd_next_quoted, hd_next_dash;
    char hd[64];   /* in a here-document ending at this line, or "" */
    int hd_quoted, hd_dash;
    std_buf line;  /* the here-document's current line */
    int bad;       /* a template inside a quoted here-document */
} jsh;

/* After "<<" outside quotes: the delimiter word of a here-document. */
static size_t heredoc_word(jsh *j, const char *s, size_t n)
{
    size_t i = 2;
    j->hd_next_dash = 0;
    if (i < n && s[i] == '-') j->hd_next_dash = 1, i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t k = 0;
    j->hd_next_quoted = 0;
    while (i < n && !strchr(" \t\n;|&<>()", s[i]) && k + 1 < sizeof j->hd_next) {
        if (s[i] == '\'' || s[i] == '"' || s[i] == '\\') j->hd_next_quoted = 1;
        else j->hd_next[k++] = s[i];
        i++;
    }
    j->hd_next[k] = 0;
    return i;
}

static void jsh_text(void *ud, const char *s, size_t n)
{
    jsh *j = ud;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (j->hd[0]) { /* a here-document's body: quotes are text */
            if (c == '\n') {
                std_buf_adds(&j->line, "");
                const char *l = j->line.p ? j->line.p : "";
                if (j->hd_dash)
                    while (*l == '\t') l++;
                if (!strcmp(l, j->hd)) j->hd[0] = 0;
                std_buf_reset(&j->line);
            } else {
                std_buf_add(&j->line, &c, 1);
            }
            std_buf_add(&j->script, &c, 1);
            continue;
        }
        if (j->comment) {
            if (c == '\n') j->comment = 0;
        } else if (j->quote == '\'') {
            if (c == '\'') j->quote = 0;
        } else if (j->quote == '"') {
            if (c == '\\' && i + 1 < n) {
                std_buf_add(&j->script, s + i, 2);
                i++;
                continue;
            }
            if (c == '"') j->quote = 0;
        } else {
            if (c == '\\' && i + 1 < n) {
                std_buf_add(&j->script, s + i, 2);
                i++;
                continue;
            }
            if (c == '\'' || c == '"') j->quote = c;
            char prev = j->script.len ? j->script.p[j->script.len - 1] : '\n';
            if (c == '#' && strchr(" \t\n;|&(", prev)) j->comment = 1;
            if (c == '<' && i + 1 < n && s[i + 1] == '<' && (i + 2 >= n || s[i + 2] != '<')) {
                size_t e = heredoc_word(j, s + i, n - i);
                std_buf_add(&j->script, s + i, e);
                i += e - 1;
                continue;
            }
            if (c == '\n' && j->hd_next[0]) {
                snprintf(j->hd, sizeof j->hd, "%s", j->hd_next);
                j->hd_quoted = j->hd_next_quoted;
                j->hd_dash = j->hd_next_dash;
                j->hd_next[0] = 0;
            }
        }
        std_buf_add(&j->script, &c, 1);
    }
}

static void jsh_piece(void *ud, const char *lua, const char *src)
{
    jsh *j = ud;
    char name[64];
    env_name(src, name, sizeof name, j->names);
    /* the same expression reuses its variable; another one gets a new name */
    for (int i = 2;; i++) {
        json_t *have = json_object_get(j->names, name);
        if (!have || !strcmp(json_string_value(have), lua)) break;
        char base[64];
        env_name(src, base, sizeof base, j->names);
        snprintf(name, sizeof name, "%s_%d", base, i);
    }
    if (!json_object_get(j->names, name)) {
        json_object_set_new(j->names, name, json_string(lua));
        char *v = std_strf("${ %s }", lua);
        af_put(j->x, j->env, name, af_q(j->x, v));
        free(v);
    }
    if (j->hd[0]) { /* an unquoted here-document expands ${NAME}; a quoted one nothing */
        if (j->hd_quoted) j->bad = 1;
        std_buf_addf(&j->script, "${%s}", name);
        std_buf_addf(&j->line, "${%s}", name);
    } else if (j->comment) std_buf_adds(&j->script, src);
    else if (j->quote == '"') std_buf_addf(&j->script, "${%s}", name);
    else if (j->quote == '\'') std_buf_addf(&j->script, "'\"${%s}\"'", name);
    else std_buf_addf(&j->script, "\"${%s}\"", name);
}

/* A shell script with Jinja: each `{{ expr }}` becomes "$VAR", VAR set in env
 * (scripts are never interpolated). env (a map node) gets the variables.
 * Returns the script, or NULL after a report. */
char *af_shell_template(af_ctx *x, const char *s, dsl_node *env, const char *task, int line)
{
    jsh j = {.x = x, .env = env, .names = json_object()};
    int ok = jinja_walk(x, s, task, line, jsh_text, jsh_piece, &j);
    json_decref(j.names);
    std_buf_free(&j.line);
    if (ok && j.bad) {
        af_report(x, line, "unconverted", task, "a template inside a quoted here-document is not converted");
        ok = 0;
    }
    std_buf_adds(&j.script, "");
    if (!ok) {
        std_buf_free(&j.script);
        return NULL;
    }
    return std_buf_take(&j.script);
}

/* A kwarg value as a node: strings through Jinja, XCom references as
 * expressions, other tagged values as their summary. *bad set when something
 * could not be translated (already reported). */
dsl_node *af_value(af_ctx *x, json_t *v, const char *task, int line, int *bad)
{
    const char *t = af_tag(v);
    if (t && !strcmp(t, "xcom") && json_is_string(json_object_get(v, "task_id")) &&
        json_object_get(x->kinds, json_string_value(json_object_get(v, "task_id")))) {
        json_t *key = json_object_get(v, "key");
        if (json_is_string(key) && strcmp(json_string_value(key), "return_value")) {
            af_report(x, line, "unconverted", task, "XCom key '%s' is not converted", json_string_value(key));
            *bad = 1;
            return af_p(x, "null");
        }
        std_buf b = {0};
        std_buf_adds(&b, "${ ");
        af_xcom_expr(x, &b, json_string_value(json_object_get(v, "task_id")));
        std_buf_adds(&b, " }");
        dsl_node *n = af_q(x, b.p);
        std_buf_free(&b);
        return n;
    }
    if (t && !strcmp(t, "variable") && json_is_string(json_object_get(v, "name"))) {
        char *e = std_strf("${ secrets.%s }", af_variable(x, json_string_value(json_object_get(v, "name")), line, task));
        dsl_node *n = af_q(x, e);
        free(e);
        return n;
    }
    if (t && !strcmp(t, "env") && json_is_string(json_object_get(v, "name"))) {
        /* os.environ on the Airflow host, read when the file is parsed: an input */
        const char *nm = json_string_value(json_object_get(v, "name"));
        std_buf b = {0};
        std_buf_adds(&b, "env_");
        for (const char *p = nm; *p; p++) std_buf_addf(&b, "%c", isalnum((unsigned char)*p) ? tolower((unsigned char)*p) : '_');
        std_buf_adds(&b, "");
        const char *in = af_keep(x, std_buf_take(&b));
        if (!json_object_get(x->inputs, in)) {
            json_t *def = json_object_get(v, "default");
            json_t *sc = json_pack("{s:s}", "type", "string");
            if (json_is_string(def)) json_object_set(sc, "default", def);
            json_object_set_new(sc, "description", json_sprintf("environment variable %s of the Airflow host", nm));
            af_need_input(x, in, sc);
            af_report(x, line, "placeholder", task, "os.environ[\"%s\"] becomes the input %s%s", nm, in,
                      json_is_string(def) ? " (its default kept)" : " (no default: pass it with --input)");
        }
        std_buf e = {0};
        std_buf_adds(&e, "${ ");
        af_lua_field(&e, "input", in);
        std_buf_adds(&e, " }");
        dsl_node *n = af_q(x, e.p);
        std_buf_free(&e);
        return n;
    }
    if (t) {
        std_buf b = {0};
        af_summary(&b, v, 0);
        std_buf_adds(&b, "");
        af_report(x, line, "unconverted", task, "value %s is not converted", b.p);
        std_buf_free(&b);
        *bad = 1;
        return af_p(x, "null");
    }
    if (json_is_string(v)) {
        dsl_node *n = af_template(x, json_string_value(v), task, line);
        if (!n) {
            *bad = 1;
            return af_p(x, "null");
        }
        return n;
    }
    if (json_is_object(v)) {
        dsl_node *m = af_map(x);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) af_put(x, m, k, af_value(x, e, task, line, bad));
        return m;
    }
    if (json_is_array(v)) {
        dsl_node *s = af_seq(x);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) af_app(x, s, af_value(x, e, task, line, bad));
        return s;
    }
    return af_json_node(x, v);
}

/* ---- dates and schedules ------------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* A datetime IR value (or "YYYY-MM-DD[ HH:MM:SS]" text) as Unix seconds, its
 * zone named by tz (NULL = UTC). 0 when it is not one. */
static int af_datetime(json_t *v, int64_t *out, const char **tz)
{
    const char *t = af_tag(v), *s = NULL;
    *tz = NULL;
    if (t && !strcmp(t, "datetime")) {
        s = json_string_value(json_object_get(v, "value"));
        *tz = json_string_value(json_object_get(v, "tz"));
    } else if (json_is_string(v)) {
        s = json_string_value(v);
    }
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (!s || sscanf(s, "%d-%d-%d", &y, &mo, &d) != 3) return 0;
    const char *tp = strpbrk(s, "T ");
    if (tp && sscanf(tp + 1, "%d:%d:%d", &h, &mi, &se) < 2) return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return 0;
    if (*tz && (!strcmp(*tz, "UTC") || !strcmp(*tz, "utc") || !strcmp(*tz, "Etc/UTC"))) *tz = NULL;
    int64_t local = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    if (*tz) {
        std_err e = {0};
        std_tz *z = std_tz_load(*tz, &e);
        if (!z) return 0;
        int64_t u = local - std_tz_offset(z, local);
        u = local - std_tz_offset(z, u);
        std_tz_free(z);
        local = u;
    }
    *out = local;
    return 1;
}

static void rfc3339(int64_t s, char *out, size_t n)
{
    char t[40];
    std_fmt_time(s * 1000, t, sizeof t);
    char *dot = strchr(t, '.');
    if (dot) strcpy(dot, "Z");
    snprintf(out, n, "%s", t);
}

static json_t *dag_arg(af_ctx *x, const char *k)
{
    json_t *args = json_object_get(x->dag, "args");
    json_t *v = json_object_get(args, k);
    if (!v) v = json_object_get(json_object_get(args, "default_args"), k);
    return v;
}

static const char *const PRESETS[][2] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},     {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"},   {"@quarterly", "0 0 1 */3 *"},
    {"@yearly", "0 0 1 1 *"},   {"@annually", "0 0 1 1 *"},
};

/* Build the triggers of the DAG's schedule; NULL when it has none. */
/* A trigger with a single slot at datetime d (start_at = end_at); 0 when d is not a date. */
static int one_slot(af_ctx *x, dsl_node *list, json_t *d, int catchup)
{
    int64_t st = 0;
    const char *tz = NULL;
    if (!af_tag(d) || strcmp(af_tag(d), "datetime") || !af_datetime(d, &st, &tz)) return 0;
    char b[64];
    dsl_node *t = af_map(x);
    rfc3339(st, b, sizeof b);
    af_put(x, t, "every", af_p(x, "1d"));
    af_put(x, t, "interval", af_p(x, "trigger"));
    af_put(x, t, "catchup", af_p(x, catchup ? "3650d" : "1m"));
    af_put(x, t, "start_at", af_q(x, b));
    af_put(x, t, "end_at", af_q(x, b));
    af_app(x, list, t);
    return 1;
}

static dsl_node *triggers(af_ctx *x, int line, int *catchup_out)
{
    json_t *args = json_object_get(x->dag, "args");
    json_t *sched = NULL;
    const char *which = NULL;
    static const char *const keys[] = {"schedule", "schedule_interval", "timetable"};
    for (size_t i = 0; i < 3 && !which; i++)
        if (json_object_get(args, keys[i])) which = keys[i], sched = json_object_get(args, keys[i]);
    json_t *cu = json_object_get(args, "catchup");
    int catchup = json_is_boolean(cu) ? json_is_true(cu) : x->version == 2;
    *catchup_out = catchup;
    json_t *implicit = NULL;
    if (!which) {
        if (x->version == 3) {
            af_report(x, line, "note", NULL, "no schedule: Airflow 3 runs this DAG only when triggered");
            return NULL;
        }
        af_report(x, line, "note", NULL, "no schedule: Airflow 2 runs this DAG daily (@daily)");
        implicit = json_string("@daily");
        sched = implicit;
    }
    if (json_is_null(sched)) return NULL;
    if (which && !strcmp(which, "schedule_interval") && x->version == 3)
        af_report(x, line, "warning", NULL, "schedule_interval was removed in Airflow 3; read as schedule");

    const char *cron = NULL;
    int64_t every_ms = 0;
    const char *tag = af_tag(sched);
    char cronbuf[128];
    int trigger_tt = 0; /* a timetable that fixes the semantics */
    const char *tt_tz = NULL; /* a timetable's own time zone */
    json_t *more_crons = NULL; /* MultipleCronTriggerTimetable: every cron */
    if (json_is_string(sched)) {
        const char *s = json_string_value(sched);
        cron = s;
        for (size_t i = 0; i < sizeof PRESETS / sizeof *PRESETS; i++)
            if (!strcmp(s, PRESETS[i][0])) cron = PRESETS[i][1];
        if (!strcmp(s, "@once")) {
            /* one run at start_date: a single slot, start_at = end_at */
            dsl_node *l = af_seq(x);
            if (one_slot(x, l, dag_arg(x, "start_date"), catchup)) {
                af_report(x, line, "note", NULL, "schedule '@once': one slot at start_date (start_at = end_at)");
                return l;
            }
        }
        if (!strcmp(s, "@once") || !strcmp(s, "@continuous")) {
            af_report(x, line, "unconverted", NULL, "schedule '%s' has no wfdsl trigger; the workflow runs only when started", s);
            json_decref(implicit);
            return NULL;
        }
    } else if (tag && !strcmp(tag, "timedelta")) {
        if (!af_seconds_ms(sched, &every_ms) || every_ms < 1000) {
            af_report(x, line, "unconverted", NULL, "schedule timedelta shorter than 1s is not converted");
            return NULL;
        }
    } else if (tag && !strcmp(tag, "timetable")) {
        const char *cls = json_string_value(json_object_get(sched, "class"));
        json_t *ta = json_object_get(sched, "args");
        json_t *c = json_object_get(ta, "cron");
        if (!c && json_is_array(json_object_get(ta, "args"))) c = json_array_get(json_object_get(ta, "args"), 0);
        if (json_is_string(json_object_get(ta, "timezone"))) tt_tz = json_string_value(json_object_get(ta, "timezone"));
        json_t *crons = json_object_get(ta, "crons");
        if (cls && !strcmp(cls, "MultipleCronTriggerTimetable") && json_array_size(crons) &&
            json_is_string(json_array_get(crons, 0))) {
            snprintf(cronbuf, sizeof cronbuf, "%s", json_string_value(json_array_get(crons, 0)));
            cron = cronbuf;
            more_crons = crons;
            trigger_tt = 1;
        } else if (cls && !strcmp(cls, "EventsTimetable") && json_array_size(json_object_get(ta, "event_dates"))) {
            dsl_node *l = af_seq(x);
            size_t i;
            json_t *ev;
            json_array_foreach(json_object_get(ta, "event_dates"), i, ev)
                if (!one_slot(x, l, ev, catchup)) af_report(x, line, "unconverted", NULL, "an event date of EventsTimetable is not a date");
            af_report(x, line, "note", NULL, "EventsTimetable: one single-slot trigger per event date");
            return l->n ? l : NULL;
        } else if (cls && (!strcmp(cls, "CronTriggerTimetable") || !strcmp(cls, "CronDataIntervalTimetable")) &&
            json_is_string(c)) {
            snprintf(cronbuf, sizeof cronbuf, "%s", json_string_value(c));
            cron = cronbuf;
            trigger_tt = !strcmp(cls, "CronTriggerTimetable") ? 1 : 2;
        } else {
            af_report(x, line, "unconverted", NULL, "timetable %s is not converted; the workflow runs only when started",
                      cls ? cls : "?");
            return NULL;
        }
    } else {
        std_buf b = {0};
        af_summary(&b, sched, 0);
        std_buf_adds(&b, "");
        af_report(x, line, "unconverted", NULL, "schedule %s (assets, custom timetables) is not converted; the workflow runs only when started",
                  b.p);
        std_buf_free(&b);
        return NULL;
    }
    std_cron *cp = NULL;
    if (cron) {
        std_err e = {0};
        if (std_cron_parse(cron, &cp, &e) != 0) {
            af_report(x, line, "unconverted", NULL, "schedule '%s': %s", cron, e.msg);
            json_decref(implicit);
            return NULL;
        }
    }
    /* Airflow 2: data intervals; Airflow 3: trigger timetables (cron and timedelta) */
    x->data_intervals = trigger_tt ? trigger_tt == 2 : x->version == 2;
    dsl_node *t = af_map(x);
    char buf[64];
    if (cron) af_put(x, t, "cron", af_q(x, cron));
    else {
        af_dur(every_ms, buf, sizeof buf);
        af_put(x, t, "every", af_p(x, buf));
    }
    int64_t start = 0, end = 0;
    const char *tz = NULL, *etz = NULL;
    json_t *sd = dag_arg(x, "start_date");
    int have_start = 0;
    const char *sdtag = af_tag(sd);
    if (sdtag && !strcmp(sdtag, "relative_date")) {
        const char *ex = json_string_value(json_object_get(sd, "expr"));
        af_report(x, line, "relative_date", NULL, "start_date %s is relative to the time Airflow parses the file; no start_at is set",
                  ex ? ex : "?");
    } else if (sd && !json_is_null(sd)) {
        if (af_datetime(sd, &start, &tz)) have_start = 1;
        else af_report(x, line, "unconverted", NULL, "start_date is not a date the importer understands");
    } else {
        af_report(x, line, "warning", NULL, "no start_date: the trigger fires from the time it is deployed");
    }
    if (tt_tz) tz = !strcmp(tt_tz, "UTC") ? NULL : tt_tz;
    if (tz && cron) af_put(x, t, "timezone", af_q(x, tz));
    af_put(x, t, "interval", af_p(x, x->data_intervals ? "data" : "trigger"));
    af_put(x, t, "catchup", af_p(x, catchup ? "3650d" : "1m"));
    json_t *mar = dag_arg(x, "max_active_runs");
    int64_t m = 16;
    if (mar && !af_int(mar, &m)) m = 16;
    if (m == 1) af_put(x, t, "overlap", af_p(x, catchup ? "buffer_all" : "buffer_one"));
    else {
        af_put(x, t, "overlap", af_p(x, "allow_all"));
        if (mar && m < 16)
            af_report(x, line, "warning", NULL, "max_active_runs=%lld is not enforced: runs of this schedule may overlap without bound",
                      (long long)m);
    }
    if (have_start) {
        rfc3339(start, buf, sizeof buf);
        af_put(x, t, "start_at", af_q(x, buf));
    }
    json_t *ed = dag_arg(x, "end_date");
    if (ed && !json_is_null(ed)) {
        if (!af_datetime(ed, &end, &etz)) {
            af_report(x, line, "unconverted", NULL, "end_date is not a date the importer understands");
        } else {
            /* data intervals: the last run is the one whose interval starts at
             * or before end_date; it fires at the first slot after end_date */
            int64_t last = end;
            if (x->data_intervals && cron) {
                std_err e = {0};
                std_tz *z = tz ? std_tz_load(tz, &e) : NULL;
                int64_t nx = std_cron_next_tz(cp, z, end);
                std_tz_free(z);
                last = nx ? nx : end;
            } else if (x->data_intervals && every_ms) {
                int64_t ev = every_ms / 1000, anchor = have_start ? start : 0;
                last = end < anchor ? anchor : anchor + ((end - anchor) / ev + 1) * ev;
            }
            rfc3339(last, buf, sizeof buf);
            af_put(x, t, "end_at", af_q(x, buf));
        }
    }
    /* the interval, for LatestOnlyOperator */
    if (every_ms) x->period_s = every_ms / 1000;
    else if (cp) {
        /* the shortest gap between fires (cron intervals may vary: weekends, months) */
        std_err e = {0};
        std_tz *z = tz ? std_tz_load(tz, &e) : NULL;
        int64_t a = std_cron_next_tz(cp, z, have_start ? start : 1704067200), lo = 0, hi = 0;
        for (int i = 0; i < 60 && a; i++) {
            int64_t b2 = std_cron_next_tz(cp, z, a);
            if (!b2) break;
            if (!lo || b2 - a < lo) lo = b2 - a;
            if (b2 - a > hi) hi = b2 - a;
            a = b2;
        }
        std_tz_free(z);
        x->period_s = lo;
        x->period_varies = hi != lo;
    }
    std_cron_free(cp);
    json_decref(implicit);
    dsl_node *l = af_seq(x);
    af_app(x, l, t);
    /* MultipleCronTriggerTimetable: the same trigger for each further cron */
    size_t i;
    json_t *c;
    json_array_foreach(more_crons, i, c) {
        std_cron *cc = NULL;
        std_err e = {0};
        if (!i) continue;
        if (!json_is_string(c) || std_cron_parse(json_string_value(c), &cc, &e) != 0) {
            af_report(x, line, "unconverted", NULL, "a cron of MultipleCronTriggerTimetable is not valid: %s", e.msg);
            continue;
        }
        std_cron_free(cc);
        dsl_node *t2 = af_map(x);
        for (size_t k = 0; k < t->n; k++)
            dsl_map_add(x->doc, t2, t->keys[k], strcmp(t->keys[k]->str, "cron") ? t->vals[k] : af_q(x, json_string_value(c)));
        af_app(x, l, t2);
    }
    if (json_array_size(more_crons) > 1) x->period_s = 0; /* LatestOnly: no single interval */
    return l;
}

/* ---- tasks ----------------------------------------------------------------------------------- */

static const char *const RULES[] = {
    "all_success", "all_failed", "all_done", "all_done_min_one_success", "all_skipped", "one_success",
    "one_failed", "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always",
};

static json_t *find_group(af_ctx *x, const char *id)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(x->dag, "groups"), i, g)
        if (id && json_is_string(json_object_get(g, "group_id")) && !strcmp(json_string_value(json_object_get(g, "group_id")), id))
            return g;
    return NULL;
}

/* DAG default_args < group default_args (outer to inner) < .partial() < the task's kwargs. */
static json_t *merged_kwargs(af_ctx *x, json_t *task)
{
    json_t *m = json_object();
    json_t *da = json_object_get(json_object_get(x->dag, "args"), "default_args");
    if (json_is_object(da)) json_object_update(m, da);
    json_t *chain[32];
    int n = 0;
    for (json_t *g = find_group(x, json_string_value(json_object_get(task, "group"))); g && n < 32;
         g = find_group(x, json_string_value(json_object_get(g, "parent"))))
        chain[n++] = g;
    while (n--) {
        json_t *ga = json_object_get(chain[n], "default_args");
        if (json_is_object(ga)) json_object_update(m, ga);
    }
    json_t *p = json_object_get(task, "partial");
    if (json_is_object(p)) json_object_update(m, p);
    json_t *k = json_object_get(task, "kwargs");
    if (json_is_object(k)) json_object_update(m, k);
    return m;
}

static int retry_kind(const char *k)
{
    return !strcmp(k, "shell") || !strcmp(k, "http") || !strcmp(k, "lua") || !strcmp(k, "call");
}

static void add_retry(af_ctx *x, dsl_node *tn, json_t *kw, const char *kind, const char *id, int line)
{
    int64_t retries = 0, ms = 300000, maxms = 0;
    json_t *r = json_object_get(kw, "retries");
    if (r && !json_is_null(r) && !af_int(r, &retries))
        af_report(x, line, "unconverted", id, "retries is not a number; no retries");
    if (retries <= 0) return;
    if (!retry_kind(kind)) {
        af_report(x, line, "warning", id, "retries=%lld dropped: a %s task is not retried", (long long)retries, kind);
        return;
    }
    json_t *rd = json_object_get(kw, "retry_delay");
    if (rd && !json_is_null(rd) && !af_seconds_ms(rd, &ms))
        af_report(x, line, "unconverted", id, "retry_delay is not a duration; 300s used");
    int expo = af_truthy(json_object_get(kw, "retry_exponential_backoff"));
    json_t *mx = json_object_get(kw, "max_retry_delay");
    if (mx && !json_is_null(mx) && !af_seconds_ms(mx, &maxms))
        af_report(x, line, "unconverted", id, "max_retry_delay is not a duration; ignored");
    dsl_node *p = af_map(x);
    char b[64];
    snprintf(b, sizeof b, "%lld", (long long)retries + 1);
    af_put(x, p, "max_attempts", af_p(x, b));
    af_dur(ms ? ms : 1, b, sizeof b);
    af_put(x, p, "initial_interval", af_p(x, ms ? b : "1ms"));
    af_put(x, p, "backoff", af_p(x, expo ? "2.0" : "1.0"));
    if (maxms) {
        af_dur(maxms, b, sizeof b);
        af_put(x, p, "max_interval", af_p(x, b));
    } else if (expo) {
        af_put(x, p, "max_interval", af_p(x, "1d")); /* Airflow caps the delay at 24 h */
    }
    dsl_node *on = af_seq(x);
    af_app(x, on, af_q(x, "*"));
    af_put(x, p, "retry_on", on);
    af_put(x, tn, "retry", p);
}

/* Keys every operator takes that the generic part handles or that have no
 * meaning in wfdsl (pools, owners, docs, UI). */
static const char *const GENERIC_KEYS[] = {
    "task_id", "dag", "owner", "email", "pool", "pool_slots", "queue", "priority_weight",
    "weight_rule", "doc", "doc_md", "doc_rst", "doc_json", "doc_yaml", "task_display_name", "do_xcom_push",
    "multiple_outputs", "provide_context", "run_as_user", "executor_config", "mode", "deferrable",
    "max_active_tis_per_dag", "max_active_tis_per_dagrun", "task_concurrency", "start_date", "end_date",
    "resources", "inlets", "outlets", "map_index_template", "show_return_value_in_logs", "retries",
    "retry_delay", "retry_exponential_backoff", "max_retry_delay", "execution_timeout", "trigger_rule",
    "depends_on_past", "wait_for_downstream", "ignore_first_depends_on_past", "email_on_failure",
    "email_on_retry", "on_failure_callback", "on_success_callback", "on_retry_callback",
    "on_execute_callback", "on_skipped_callback", "sla", "owner_links", "params", "retry_jitter",
    "wait_for_past_depends_before_skipping", "task_group", "poke_interval", "timeout", "soft_fail", "as_setup",
    "as_teardown", "setups", "on_failure_fail_dagrun",
    "exponential_backoff", "max_wait", "silent_fail", "never_fail", "logger_name", "allow_nested_operators",
};

static int in_list(const char *s, const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, l[i])) return 1;
    return 0;
}

typedef struct dag_notes {
    std_buf dop, email, callbacks;
} dag_notes;

static void note_task(std_buf *b, const char *id) { std_buf_addf(b, "%s%s", b->len ? ", " : "", id); }

static dsl_node *task_node(af_ctx *x, json_t *task, dag_notes *nt)
{
    const char *id = json_string_value(json_object_get(task, "task_id"));
    int line = (int)json_integer_value(json_object_get(task, "line"));
    json_t *kw = merged_kwargs(x, task);
    dsl_node *tn = af_map(x);
    /* needs, from the edges */
    dsl_node *needs = af_seq(x);
    json_t *seen = json_object();
    std_buf labels = {0};
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(x->edges_to, id), i, e) {
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        if (!from || !to || strcmp(to, id) || json_object_get(seen, from)) continue;
        if (!json_object_get(x->tasks, from)) continue; /* reported once, in convert */
        json_object_set_new(seen, from, json_true());
        af_app(x, needs, af_p(x, from));
        const char *lb = json_string_value(json_object_get(e, "label"));
        if (lb) std_buf_addf(&labels, "%sLabel '%s' on the edge from %s", labels.len ? "; " : "", lb, from);
    }
    json_decref(seen);
    if (needs->n) af_put(x, tn, "needs", needs);
    json_t *tr = json_object_get(kw, "trigger_rule");
    if (af_truthy(json_object_get(kw, "as_teardown"))) {
        /* Airflow runs a teardown when its upstream is done (all_done_setup_success) and
         * leaves it out of the run's result; here it is an all_done task like any other */
        if (!tr) tr = json_object_get(json_object_get(task, "kwargs"), "trigger_rule");
        if (!json_is_string(tr)) {
            af_put(x, tn, "trigger", af_p(x, "all_done"));
            af_report(x, line, "warning", id, "teardown: runs once its upstream tasks are done (all_done); unlike in Airflow its "
                                              "own state counts for the run's result when it is a leaf");
        }
    }
    if (json_is_string(tr)) {
        const char *r = json_string_value(tr);
        if (!strcmp(r, "dummy")) r = "always";
        if (!strcmp(r, "none_failed_or_skipped")) r = "none_failed_min_one_success";
        if (!strcmp(r, "all_done_setup_success")) r = "all_done";
        if (!in_list(r, RULES, sizeof RULES / sizeof *RULES))
            af_report(x, line, "unconverted", id, "trigger_rule '%s' is not converted (all_success used)", r);
        else if (strcmp(r, "all_success")) af_put(x, tn, "trigger", af_p(x, r));
    } else if (tr && !json_is_null(tr)) {
        af_report(x, line, "unconverted", id, "trigger_rule is not a rule name (all_success used)");
    }
    std_buf_adds(&labels, "");
    if (labels.len > 1) af_put(x, tn, "description", af_lit(x, labels.p));
    std_buf_free(&labels);
    const char *kind = "lua";
    x->task_params = json_is_object(json_object_get(kw, "params")) ? json_object_get(kw, "params") : NULL;
    json_decref(x->used);
    x->used = json_object();
    dsl_node *st = af_task_step(x, task, kw, &kind);
    for (size_t k = 0; k < st->n; k++) dsl_map_add(x->doc, tn, st->keys[k], st->vals[k]);
    if (strcmp(kind, "fail")) {
        /* a foreach's retry and timeout go to the step inside it */
        dsl_node *rt = x->inner ? x->inner : tn;
        if (x->inner) kind = x->inner_kind;
        add_retry(x, rt, kw, kind, id, line);
        int64_t ms = 0;
        json_t *to = json_object_get(kw, "execution_timeout");
        if (to && !json_is_null(to)) {
            if (!af_seconds_ms(to, &ms) || ms < 1) af_report(x, line, "unconverted", id, "execution_timeout is not a duration");
            else if (strcmp(kind, "shell") && strcmp(kind, "http"))
                af_report(x, line, "warning", id, "execution_timeout dropped: only shell and http tasks have a timeout");
            else {
                char b[64];
                af_dur(ms, b, sizeof b);
                af_put(x, rt, "timeout", af_p(x, b));
            }
        }
        /* the task's own kwargs that no part of the mapping used (an operator
         * map's template takes what it wants) */
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(task, "kwargs"), k, v)
            if (!x->mapped && !json_object_get(x->used, k) && !in_list(k, GENERIC_KEYS, sizeof GENERIC_KEYS / sizeof *GENERIC_KEYS))
                af_report(x, line, "warning", id, "argument %s is ignored", k);
    }
    if (af_truthy(json_object_get(kw, "depends_on_past")) || af_truthy(json_object_get(kw, "wait_for_downstream")))
        note_task(&nt->dop, id);
    if ((af_truthy(json_object_get(kw, "email_on_failure")) || af_truthy(json_object_get(kw, "email_on_retry"))) &&
        af_truthy(json_object_get(kw, "email")))
        note_task(&nt->email, id);
    static const char *const cbs[] = {"on_failure_callback", "on_success_callback", "on_retry_callback",
                                      "on_execute_callback", "on_skipped_callback", "sla"};
    for (size_t c = 0; c < sizeof cbs / sizeof *cbs; c++)
        if (af_truthy(json_object_get(kw, cbs[c]))) {
            note_task(&nt->callbacks, id);
            break;
        }
    x->task_params = NULL;
    json_decref(kw);
    return tn;
}

/* ---- the workflow ------------------------------------------------------------------------------ */

static void sanitize_name(const char *id, char *out, size_t cap)
{
    size_t k = 0;
    if (!isalpha((unsigned char)id[0])) k = (size_t)snprintf(out, cap, "dag-");
    for (const char *p = id; *p && k + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        char o = isalnum(c) ? (char)tolower(c) : c == '_' ? '_' : '-';
        if (o == '-' && k && out[k - 1] == '-') continue;
        out[k++] = o;
    }
    while (k > 1 && out[k - 1] == '-') k--;
    out[k] = 0;
}

static json_t *param_schema(json_t *v)
{
    const char *ty = json_is_string(v) ? "string" : json_is_integer(v) ? "integer" : json_is_real(v) ? "number"
                   : json_is_boolean(v) ? "boolean" : json_is_object(v) ? "object" : json_is_array(v) ? "array" : "any";
    json_t *s = json_pack("{s:s}", "type", ty);
    if (json_is_null(v)) json_object_set_new(s, "required", json_false());
    else json_object_set(s, "default", v);
    return s;
}

static dsl_node *schema_node(af_ctx *x, json_t *s)
{
    dsl_node *m = af_map(x);
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) af_put(x, m, k, json_is_string(v) && strcmp(k, "default") ? af_p(x, json_string_value(v)) : af_json_node(x, v));
    return m;
}

static int convert_dag(af_ctx *x, json_t *ir)
{
    json_t *dag = x->dag;
    int line = (int)json_integer_value(json_object_get(dag, "line"));
    json_t *args = json_object_get(dag, "args");
    /* params and @dag parameters are the inputs */
    json_t *params = json_object_get(args, "params");
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        if (af_tag(v)) {
            json_t *dv = json_object_get(v, "default");
            af_report(x, line, "warning", NULL, "param '%s' is not a literal; input of type any", k);
            af_need_input(x, k, dv ? param_schema(dv) : json_pack("{s:s, s:b}", "type", "any", "required", 0));
        } else {
            af_need_input(x, k, param_schema(v));
        }
    }
    size_t i;
    json_array_foreach(json_object_get(dag, "inputs"), i, v)
        if (json_is_string(v) && !json_object_get(x->inputs, json_string_value(v)))
            af_need_input(x, json_string_value(v), json_pack("{s:s, s:b}", "type", "any", "required", 0));

    int catchup = 0;
    dsl_node *trig = triggers(x, line, &catchup);
    x->scheduled = trig != NULL;

    /* tasks: their kinds first, for XCom references in any order */
    json_t *t;
    json_array_foreach(json_object_get(dag, "tasks"), i, t) {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        if (!id) continue;
        json_object_set(x->tasks, id, t);
    }
    json_array_foreach(json_object_get(dag, "tasks"), i, t) {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        if (id) json_object_set_new(x->kinds, id, json_string(af_task_kind(x, t)));
    }
    json_array_foreach(json_object_get(dag, "edges"), i, v) {
        const char *a = json_string_value(json_object_get(v, "from")), *b = json_string_value(json_object_get(v, "to"));
        if (b) { /* the edges by downstream task, for the needs */
            json_t *l = json_object_get(x->edges_to, b);
            if (!l) json_object_set_new(x->edges_to, b, l = json_array());
            json_array_append(l, v);
        }
        const char *bad = !a || !json_object_get(x->tasks, a) ? a : !b || !json_object_get(x->tasks, b) ? b : NULL;
        if (bad || !a || !b)
            af_report(x, (int)json_integer_value(json_object_get(v, "line")), "unconverted", NULL,
                      "edge %s >> %s names no task of the DAG; dropped", a ? a : "?", b ? b : "?");
    }
    dsl_node *tasks = af_map(x);
    dag_notes nt = {{0}, {0}, {0}};
    json_array_foreach(json_object_get(dag, "tasks"), i, t) {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        if (!id) continue;
        af_put(x, tasks, id, task_node(x, t, &nt));
    }
    if (nt.dop.len) {
        std_buf_adds(&nt.dop, "");
        af_report(x, line, "unconverted", NULL, "depends_on_past/wait_for_downstream is not supported (tasks: %s): runs do not wait for the previous run",
                  nt.dop.p);
    }
    if (nt.email.len) {
        std_buf_adds(&nt.email, "");
        af_report(x, line, "unconverted", NULL, "email notifications are not converted (tasks: %s)", nt.email.p);
    }
    if (nt.callbacks.len) {
        std_buf_adds(&nt.callbacks, "");
        af_report(x, line, "unconverted", NULL, "callbacks and SLAs are not converted (tasks: %s)", nt.callbacks.p);
    }
    std_buf_free(&nt.dop);
    std_buf_free(&nt.email);
    std_buf_free(&nt.callbacks);
    static const char *const dag_cb[] = {"on_failure_callback", "on_success_callback", "sla_miss_callback",
                                         "user_defined_macros", "user_defined_filters"};
    for (size_t c = 0; c < sizeof dag_cb / sizeof *dag_cb; c++)
        if (af_truthy(json_object_get(args, dag_cb[c])))
            af_report(x, line, "unconverted", NULL, "DAG argument %s is not converted", dag_cb[c]);
    json_t *mat = json_object_get(args, "max_active_tasks");
    if (!mat) mat = json_object_get(args, "concurrency");
    if (mat) af_report(x, line, "warning", NULL, "max_active_tasks is not enforced: independent tasks all run at once");

    /* the workflow */
    dsl_node *w = af_map(x);
    af_put(x, w, "wfdsl", af_p(x, "1"));
    char nm[128];
    sanitize_name(x->dag_id, nm, sizeof nm);
    af_put(x, w, "name", af_p(x, nm));
    std_buf d = {0};
    std_buf_addf(&d, "Airflow DAG '%s' (%s:%d), imported with Airflow %d semantics: ", x->dag_id, x->base, line, x->version);
    if (!trig) std_buf_adds(&d, "no schedule (run by hand; run.logical_date is null and the run's start is used).");
    else if (x->data_intervals)
        std_buf_addf(&d, "data intervals (a run fired at T covers the interval before T; run.logical_date is its start), catchup %s.",
                     catchup ? "on" : "off");
    else
        std_buf_addf(&d, "trigger timetable (run.logical_date is the fire time), catchup %s.", catchup ? "on" : "off");
    json_t *ddesc = json_object_get(args, "description");
    if (json_is_string(ddesc)) std_buf_addf(&d, " %s", json_string_value(ddesc));
    std_buf_adds(&d, "");
    af_put(x, w, "description", af_lit(x, d.p));
    std_buf_free(&d);
    if (json_object_size(x->inputs)) {
        dsl_node *in = af_map(x);
        json_object_foreach(x->inputs, k, v) af_put(x, in, k, schema_node(x, v));
        af_put(x, w, "input", in);
    }
    if (json_object_size(x->vars)) {
        dsl_node *vs = af_map(x);
        json_object_foreach(x->vars, k, v) af_put(x, vs, k, af_q(x, json_string_value(v)));
        af_put(x, w, "vars", vs);
    }
    if (json_object_size(x->secrets)) {
        dsl_node *ss = af_seq(x);
        json_object_foreach(x->secrets, k, v) af_app(x, ss, af_p(x, k));
        af_put(x, w, "secrets", ss);
    }
    json_t *drt = json_object_get(args, "dagrun_timeout");
    int64_t ms = 0;
    if (drt && !json_is_null(drt)) {
        if (af_seconds_ms(drt, &ms) && ms > 0) {
            char b[64];
            af_dur(ms, b, sizeof b);
            af_put(x, w, "timeout", af_p(x, b));
        } else {
            af_report(x, line, "unconverted", NULL, "dagrun_timeout is not a duration");
        }
    }
    if (trig) af_put(x, w, "triggers", trig);
    dsl_node *steps = af_seq(x);
    dsl_node *ds = af_map(x);
    const char *sid = json_object_get(x->tasks, "dag") ? "dag_run" : "dag";
    af_put(x, ds, "id", af_p(x, sid));
    dsl_node *dg = af_map(x);
    af_put(x, dg, "tasks", tasks);
    af_put(x, ds, "dag", dg);
    af_app(x, steps, ds);
    af_put(x, w, "steps", steps);
    char *o = std_strf("${ steps.%s }", sid);
    af_put(x, w, "output", af_q(x, o));
    free(o);
    x->doc->root = w;
    (void)ir;
    if (!json_array_size(json_object_get(dag, "tasks")))
        af_report(x, line, "warning", NULL, "the DAG has no tasks");
    return 0;
}

/* The workflow must pass `wfdsl check` (an operator map's template may not):
 * what does not is reported. A `call` of a file not imported yet is expected. */
static void check_compiles(af_ctx *x)
{
    std_diags d = {0};
    vm_program *p = NULL;
    if (dsl_compile(x->doc, &p, &d) != 0)
        for (size_t i = 0; i < d.n; i++) {
            if (strstr(d.msgs[i], "cannot read workflow")) continue;
            const char *m = strstr(d.msgs[i], "error: ");
            af_report(x, 1, "unconverted", NULL, "the workflow does not pass `wfdsl check`: %s", m ? m + 7 : d.msgs[i]);
        }
    vm_program_free(p);
    std_diags_free(&d);
}

/* ---- entry points ---------------------------------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int dsl_airflow_convert(json_t *ir, const dsl_af_opts *o, dsl_doc **out, json_t **report, std_diags *diags)
{
    *out = NULL;
    *report = NULL;
    const char *src = json_string_value(json_object_get(ir, "source"));
    if (!src) src = "dag.py";
    af_ctx x = {.file = src, .base = base_name(src), .d = diags, .items = json_array(), .tasks = json_object(),
                .kinds = json_object(), .inputs = json_object(), .secrets = json_object(), .vars = json_object(), .ids = json_object(), .edges_to = json_object()};
    int rc = DSL_AF_FATAL;
    json_t *dags = json_object_get(ir, "dags");
    /* the IR's own diagnostics come first */
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ir, "diagnostics"), i, v) {
        const char *lv = json_string_value(json_object_get(v, "level"));
        af_report(&x, (int)json_integer_value(json_object_get(v, "line")),
                  lv && !strcmp(lv, "unsupported") ? "unconverted" : lv && !strcmp(lv, "note") ? "note" : "warning", NULL, "%s",
                  json_string_value(json_object_get(v, "message")) ? json_string_value(json_object_get(v, "message")) : "?");
    }
    std_buf ids = {0};
    json_array_foreach(dags, i, v) std_buf_addf(&ids, "%s%s", i ? ", " : "", json_string_value(json_object_get(v, "dag_id")));
    std_buf_adds(&ids, "");
    if (!json_array_size(dags)) {
        std_diag(diags, src, 1, 1, "no DAG found in the file");
        goto done;
    }
    if (o->dag_id) {
        json_array_foreach(dags, i, v)
            if (json_is_string(json_object_get(v, "dag_id")) && !strcmp(json_string_value(json_object_get(v, "dag_id")), o->dag_id))
                x.dag = v;
        if (!x.dag) {
            std_diag(diags, src, 1, 1, "no DAG '%s' in the file (DAGs: %s)", o->dag_id, ids.p);
            goto done;
        }
    } else if (json_array_size(dags) > 1) {
        std_diag(diags, src, 1, 1, "the file holds %zu DAGs (%s): pick one with --dag ID", json_array_size(dags), ids.p);
        goto done;
    } else {
        x.dag = json_array_get(dags, 0);
    }
    x.dag_id = json_string_value(json_object_get(x.dag, "dag_id"));
    if (!x.dag_id || !*x.dag_id) {
        std_diag(diags, src, (int)json_integer_value(json_object_get(x.dag, "line")), 1, "the DAG's dag_id is not a literal");
        goto done;
    }
    json_t *iv = json_object_get(ir, "airflow_version");
    if (o->version) x.version = o->version;
    else if (json_is_integer(iv) && (json_integer_value(iv) == 2 || json_integer_value(iv) == 3)) x.version = (int)json_integer_value(iv);
    else {
        x.version = 2;
        af_report(&x, 1, "warning", NULL, "nothing in the file tells the Airflow version: Airflow 2 semantics used (--airflow-version 3 for Airflow 3)");
    }
    x.doc = dsl_doc_new(src);
    if (o->map && af_load_map(&x, o->map) != 0) goto done;
    convert_dag(&x, ir);
    check_compiles(&x);
    rc = x.pending ? DSL_AF_PARTIAL : DSL_AF_DONE;
done:;
    json_t *r = json_object();
    json_object_set_new(r, "source", json_string(src));
    if (x.dag_id) json_object_set_new(r, "dag_id", json_string(x.dag_id));
    if (x.version) json_object_set_new(r, "airflow_version", json_integer(x.version));
    if (x.doc && x.doc->root)
        json_object_set_new(r, "semantics", json_string(!x.scheduled ? "manual" : x.data_intervals ? "data_interval" : "trigger"));
    json_t *counts = json_object();
    json_array_foreach(x.items, i, v) {
        const char *kd = json_string_value(json_object_get(v, "kind"));
        json_object_set_new(counts, kd, json_integer(json_integer_value(json_object_get(counts, kd)) + 1));
    }
    json_object_set_new(r, "items", x.items);
    json_object_set_new(r, "counts", counts);
    json_object_set_new(r, "exit", json_integer(rc));
    *report = r;
    std_buf_free(&ids);
    json_decref(x.tasks);
    json_decref(x.kinds);
    json_decref(x.inputs);
    json_decref(x.secrets);
    json_decref(x.vars);
    json_decref(x.used);
    json_decref(x.ids);
    json_decref(x.edges_to);
    if (x.map) dsl_doc_free(x.map);
    if (rc == DSL_AF_FATAL) dsl_doc_free(x.doc);
    else *out = x.doc;
    return rc;
}

int dsl_airflow_import(const char *path, dsl_af_source kind, const dsl_af_opts *o, int ir_only, std_buf *yaml,
                       json_t **report, std_diags *diags)
{
    *report = NULL;
    size_t len = 0;
    std_err e = {0};
    char *text = std_read_file(path, &len, &e);
    if (!text) {
        std_diag(diags, path, 1, 1, "cannot read file: %s", e.msg);
        return DSL_AF_FATAL;
    }
    json_t *ir = NULL;
    if (kind == DSL_AF_IR) {
        json_error_t je;
        ir = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!ir || !json_is_object(ir))
            std_diag(diags, path, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1, "invalid IR JSON: %s",
                     ir ? "not an object" : je.text);
    } else if (kind == DSL_AF_DAGFACTORY) {
        dsl_dagfactory_parse(path, text, len, &ir, diags);
    } else {
        dsl_airflow_py_parse(path, text, len, &ir, diags);
    }
    free(text);
    if (!ir || diags->n) {
        json_decref(ir);
        return DSL_AF_FATAL;
    }
    if (ir_only) {
        char *s = json_dumps(ir, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        std_buf_adds(yaml, s);
        std_buf_adds(yaml, "\n");
        free(s);
        json_decref(ir);
        return DSL_AF_DONE;
    }
    dsl_doc *doc = NULL;
    int rc = dsl_airflow_convert(ir, o, &doc, report, diags);
    if (rc != DSL_AF_FATAL) {
        const char *dag_id = json_string_value(json_object_get(*report, "dag_id"));
        const char *src = json_string_value(json_object_get(*report, "source"));
        std_buf_addf(yaml, "# Imported from %s (DAG '%s') by `wfdsl import %s`.\n", base_name(src ? src : path), dag_id,
                     kind == DSL_AF_DAGFACTORY ? "dag-factory" : "airflow");
        if (rc == DSL_AF_PARTIAL)
            std_buf_adds(yaml, "# Not everything was converted: see the report. Stubs fail at run time (type airflow.unconverted).\n");
        dsl_emit_yaml(doc->root, yaml);
    }
    dsl_doc_free(doc);
    json_decref(ir);
    return rc;
}
