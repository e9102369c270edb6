/* py_lua.c — callables of Airflow DAG files (python_callable=, @task bodies,
 * lambdas) as IR values: name, params, source, the folded `returns` of a body
 * that is a single `return <constant expression>`, and a Lua expression for
 * bodies made of returns and if/else over simple expressions: constants,
 * arithmetic, comparisons, and/or/not, the run's dates (context["ds"],
 * logical_date, data_interval_start/end, datetime.now()) with .weekday(),
 * .hour, .strftime(...), and params/dag_run.conf lookups (-> input.x).
 *
 * The Lua speaks the back end's vocabulary: vars.logical_date,
 * vars.interval_start, vars.interval_end (RFC 3339 strings), now(),
 * time.format(t, fmt), input.<name>. Anything else leaves `lua` out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_int.h"

enum { LT_VAL, LT_BOOL, LT_STR, LT_DATE, LT_CTX, LT_PARAMS, LT_DAGRUN, LT_CONF };

typedef struct lctx {
    py_ev *ev;
    const py_node *fn;
    py_scope *sc;      /* the function's defining scope (module constants) */
} lctx;

static void lua_quote(std_buf *b, const char *s, size_t n)
{
    std_buf_adds(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') std_buf_addf(b, "\\%c", c);
        else if (c == '\n') std_buf_adds(b, "\\n");
        else if (c == '\t') std_buf_adds(b, "\\t");
        else if (c < 0x20 || c == 0x7f) std_buf_addf(b, "\\%03d", c);
        else std_buf_add(b, &s[i], 1);
    }
    std_buf_adds(b, "\"");
}

/* A folded constant as a Lua literal; 0 when it is not one. */
static int lua_const(std_buf *b, json_t *v, int depth)
{
    if (depth > 20) return 0;
    if (json_is_string(v)) lua_quote(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) std_buf_addf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) std_buf_addf(b, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) std_buf_adds(b, json_is_true(v) ? "true" : "false");
    else if (json_is_null(v)) std_buf_adds(b, "nil");
    else if (json_is_array(v)) {
        std_buf_adds(b, "{");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i) std_buf_adds(b, ", ");
            if (!lua_const(b, x, depth + 1)) return 0;
        }
        std_buf_adds(b, "}");
    } else return 0;
    return 1;
}

static const py_node *param(const lctx *c, const char *name)
{
    if (c->fn->kind == PS_DEF || c->fn->kind == PE_LAMBDA)
        for (int i = 0; i < c->fn->kids.n; i++)
            if (!strcmp(c->fn->kids.v[i]->s, name)) return c->fn->kids.v[i];
    return NULL;
}

/* context[key] in Lua (and its type) */
static int ctx_key(const char *k, std_buf *b, int *type)
{
    if (!strcmp(k, "ds")) { std_buf_adds(b, "time.format(vars.logical_date, \"%Y-%m-%d\")"); *type = LT_STR; return 1; }
    if (!strcmp(k, "ds_nodash")) { std_buf_adds(b, "time.format(vars.logical_date, \"%Y%m%d\")"); *type = LT_STR; return 1; }
    if (!strcmp(k, "logical_date") || !strcmp(k, "execution_date")) { std_buf_adds(b, "vars.logical_date"); *type = LT_DATE; return 1; }
    if (!strcmp(k, "data_interval_start")) { std_buf_adds(b, "vars.interval_start"); *type = LT_DATE; return 1; }
    if (!strcmp(k, "data_interval_end")) { std_buf_adds(b, "vars.interval_end"); *type = LT_DATE; return 1; }
    if (!strcmp(k, "params")) { *type = LT_PARAMS; return 1; }
    if (!strcmp(k, "dag_run")) { *type = LT_DAGRUN; return 1; }
    return 0;
}

static int is_ident(const char *s)
{
    if (!*s || isdigit((unsigned char)*s)) return 0;
    for (; *s; s++) if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

static int lx(lctx *c, const py_node *n, std_buf *b, int *type, int depth);

/* X["key"] / X.get("key") on a context, params or conf */
static int lookup_key(lctx *c, int t, const char *key, std_buf *b, int *type)
{
    (void)c;
    if (t == LT_CTX) return ctx_key(key, b, type);
    if ((t == LT_PARAMS || t == LT_CONF) && is_ident(key)) {
        std_buf_addf(b, "input.%s", key);
        *type = LT_VAL;
        return 1;
    }
    return 0;
}

static const char *date_field(const char *a)
{
    static const char *const f[][2] = {{"year", "%Y"}, {"month", "%m"}, {"day", "%d"}, {"hour", "%H"}, {"minute", "%M"},
                                       {"second", "%S"}, {"day_of_week", "%w"}, {"day_of_year", "%j"}, {NULL, NULL}};
    for (int i = 0; f[i][0]; i++) if (!strcmp(a, f[i][0])) return f[i][1];
    return NULL;
}

static int lx_call(lctx *c, const py_node *n, std_buf *b, int *type, int depth)
{
    const py_node *fn = n->a;
    if (fn->kind == PE_ATTR) {
        std_buf r = {0};
        int t;
        const char *m = fn->s;
        /* X.get("k") */
        if (!strcmp(m, "get") && n->kids.n >= 1 && n->kids.v[0]->kind == PE_STR && lx(c, fn->a, &r, &t, depth + 1) &&
            (t == LT_CTX || t == LT_PARAMS || t == LT_CONF)) {
            std_buf k = {0};
            int ok = lookup_key(c, t, n->kids.v[0]->s, &k, type);
            if (ok && n->kids.n == 2 && (t == LT_PARAMS || t == LT_CONF)) {
                std_buf d = {0};
                int dt;
                ok = lx(c, n->kids.v[1], &d, &dt, depth + 1);
                if (ok) std_buf_addf(b, "(%s or %s)", k.p, d.p);
                std_buf_free(&d);
            } else if (ok && n->kids.n == 1) {
                if (k.p) std_buf_adds(b, k.p);
            } else ok = 0;
            std_buf_free(&k);
            std_buf_free(&r);
            return ok;
        }
        std_buf_free(&r);
        if (lx(c, fn->a, &r, &t, depth + 1) && t == LT_DATE) {
            int ok = 1;
            if (!strcmp(m, "weekday") && !n->kids.n) std_buf_addf(b, "(tonumber(time.format(%s, \"%%u\")) - 1)", r.p);
            else if (!strcmp(m, "isoweekday") && !n->kids.n) std_buf_addf(b, "tonumber(time.format(%s, \"%%u\"))", r.p);
            else if (!strcmp(m, "strftime") && n->kids.n == 1 && n->kids.v[0]->kind == PE_STR) {
                std_buf_addf(b, "time.format(%s, ", r.p);
                lua_quote(b, n->kids.v[0]->s, n->kids.v[0]->slen);
                std_buf_adds(b, ")");
                *type = LT_STR;
                std_buf_free(&r);
                return 1;
            } else if ((!strcmp(m, "date") || !strcmp(m, "in_timezone")) && !n->kids.n) {
                std_buf_adds(b, r.p);
                *type = LT_DATE;
                std_buf_free(&r);
                return 1;
            } else ok = 0;
            *type = LT_VAL;
            std_buf_free(&r);
            return ok;
        }
        std_buf_free(&r);
    }
    /* datetime.now() and friends */
    if (!n->kids.n) {
        json_t *v = py_eval(c->ev, fn, c->sc);
        py_obj *o = pv_get(c->ev, v);
        int ok = 0;
        if (o && o->kind == O_SYM) {
            const char *q = o->name;
            static const char *const now[] = {"datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
                                              "pendulum.now", "timezone.utcnow", "datetime.date.today", "pendulum.today", NULL};
            for (int i = 0; now[i]; i++) {
                size_t a = strlen(q), l = strlen(now[i]);
                if (a >= l && !strcmp(q + a - l, now[i])) ok = 1;
            }
        }
        json_decref(v);
        if (ok) {
            std_buf_adds(b, "now()");
            *type = LT_DATE;
            return 1;
        }
    }
    return 0;
}

static int lx(lctx *c, const py_node *n, std_buf *b, int *type, int depth)
{
    if (depth > 60) return 0;
    *type = LT_VAL;
    switch (n->kind) {
    case PE_STR:
        if (n->ival) return 0;
        lua_quote(b, n->s, n->slen);
        *type = LT_STR;
        return 1;
    case PE_INT: std_buf_addf(b, "%lld", (long long)n->ival); return 1;
    case PE_FLOAT: std_buf_addf(b, "%.17g", n->fval); return 1;
    case PE_CONST:
        std_buf_adds(b, n->ival == 0 ? "nil" : n->ival == 1 ? "true" : "false");
        if (n->ival) *type = LT_BOOL;
        return 1;
    case PE_LIST:
    case PE_TUPLE: {
        std_buf_adds(b, "{");
        for (int i = 0; i < n->kids.n; i++) {
            int t;
            if (i) std_buf_adds(b, ", ");
            if (!lx(c, n->kids.v[i], b, &t, depth + 1) || t >= LT_DATE) return 0;
        }
        std_buf_adds(b, "}");
        return 1;
    }
    case PE_NAME: {
        const py_node *p = param(c, n->s);
        if (p) {
            if (p->ival == 2 || !strcmp(n->s, "context") || !strcmp(n->s, "ctx")) { *type = LT_CTX; return 1; }
            if (p->ival == 0) return ctx_key(n->s, b, type);
            return 0;
        }
        json_t *v = py_eval(c->ev, n, c->sc);
        int ok = pv_is_const(v) && lua_const(b, v, 0);
        if (ok && json_is_string(v)) *type = LT_STR;
        json_decref(v);
        return ok;
    }
    case PE_SUB: {
        std_buf r = {0};
        int t, ok = 0;
        if (n->b->kind == PE_STR && !n->b->ival && lx(c, n->a, &r, &t, depth + 1)) ok = lookup_key(c, t, n->b->s, b, type);
        std_buf_free(&r);
        return ok;
    }
    case PE_ATTR: {
        std_buf r = {0};
        int t, ok = 0;
        if (lx(c, n->a, &r, &t, depth + 1)) {
            const char *f;
            if (t == LT_DAGRUN && !strcmp(n->s, "conf")) { *type = LT_CONF; ok = 1; }
            else if (t == LT_PARAMS && is_ident(n->s)) { std_buf_addf(b, "input.%s", n->s); ok = 1; }
            else if (t == LT_DATE && (f = date_field(n->s))) {
                std_buf_addf(b, "tonumber(time.format(%s, \"%s\"))", r.p, f);
                ok = 1;
            }
        }
        std_buf_free(&r);
        return ok;
    }
    case PE_CALL: return lx_call(c, n, b, type, depth);
    case PE_BIN: {
        static const char *const ops[] = {"+", "-", "*", "/", "%", "//", NULL};
        int k = -1;
        for (int i = 0; ops[i]; i++) if (!strcmp(n->op, ops[i])) k = i;
        if (k < 0) return 0;
        std_buf x = {0}, y = {0};
        int tx, ty, ok = lx(c, n->a, &x, &tx, depth + 1) && lx(c, n->b, &y, &ty, depth + 1) && tx < LT_DATE && ty < LT_DATE;
        if (ok) {
            if (k == 0 && (tx == LT_STR || ty == LT_STR)) { std_buf_addf(b, "(%s .. %s)", x.p, y.p); *type = LT_STR; }
            else if (k == 5) std_buf_addf(b, "(%s // %s)", x.p, y.p);
            else std_buf_addf(b, "(%s %s %s)", x.p, n->op, y.p);
        }
        std_buf_free(&x);
        std_buf_free(&y);
        return ok;
    }
    case PE_UNARY: {
        if (strcmp(n->op, "-")) return 0;
        std_buf x = {0};
        int t, ok = lx(c, n->a, &x, &t, depth + 1) && t < LT_DATE;
        if (ok) std_buf_addf(b, "(-%s)", x.p);
        std_buf_free(&x);
        return ok;
    }
    case PE_CMP: {
        std_buf_adds(b, "(");
        for (int i = 0; i + 1 < n->kids.n; i++) {
            std_buf x = {0}, y = {0};
            int tx, ty;
            const char *op = n->ops[i];
            const py_node *rhs = n->kids.v[i + 1];
            int ok = lx(c, n->kids.v[i], &x, &tx, depth + 1) && tx < LT_DATE;
            if (ok && (!strcmp(op, "in") || !strcmp(op, "not in")) && (rhs->kind == PE_LIST || rhs->kind == PE_TUPLE)) {
                if (i) std_buf_adds(b, " and ");
                std_buf_addf(b, "%s(", op[0] == 'n' ? "not " : "");
                for (int k = 0; k < rhs->kids.n && ok; k++) {
                    std_buf z = {0};
                    int tz;
                    ok = lx(c, rhs->kids.v[k], &z, &tz, depth + 1) && tz < LT_DATE;
                    if (ok) std_buf_addf(b, "%s%s == %s", k ? " or " : "", x.p, z.p);
                    std_buf_free(&z);
                }
                if (!rhs->kids.n) std_buf_adds(b, "false");
                std_buf_adds(b, ")");
            } else if (ok) {
                const char *lop = !strcmp(op, "==") ? "==" : !strcmp(op, "!=") ? "~=" : !strcmp(op, "<") ? "<"
                                  : !strcmp(op, ">") ? ">" : !strcmp(op, "<=") ? "<=" : !strcmp(op, ">=") ? ">="
                                  : !strcmp(op, "is") ? "==" : !strcmp(op, "is not") ? "~=" : NULL;
                ok = lop && lx(c, rhs, &y, &ty, depth + 1) && ty < LT_DATE;
                if (ok) std_buf_addf(b, "%s%s %s %s", i ? " and " : "", x.p, lop, y.p);
            }
            std_buf_free(&x);
            std_buf_free(&y);
            if (!ok) return 0;
        }
        std_buf_adds(b, ")");
        *type = LT_BOOL;
        return 1;
    }
    case PE_NOT: {
        std_buf x = {0};
        int t, ok = lx(c, n->a, &x, &t, depth + 1) && t == LT_BOOL;
        if (ok) std_buf_addf(b, "(not %s)", x.p);
        std_buf_free(&x);
        *type = LT_BOOL;
        return ok;
    }
    case PE_BOOL: {
        std_buf_adds(b, "(");
        for (int i = 0; i < n->kids.n; i++) {
            std_buf x = {0};
            int t, ok = lx(c, n->kids.v[i], &x, &t, depth + 1) && t == LT_BOOL;
            if (ok) std_buf_addf(b, "%s%s", i ? (!strcmp(n->op, "and") ? " and " : " or ") : "", x.p);
            std_buf_free(&x);
            if (!ok) return 0;
        }
        std_buf_adds(b, ")");
        *type = LT_BOOL;
        return 1;
    }
    case PE_IFEXP: {
        std_buf x = {0}, y = {0}, z = {0};
        int tx, ty = LT_VAL, tz = LT_VAL;
        int ok = lx(c, n->a, &x, &tx, depth + 1) && tx == LT_BOOL && lx(c, n->b, &y, &ty, depth + 1) && ty < LT_DATE &&
                 lx(c, n->c, &z, &tz, depth + 1) && tz < LT_DATE;
        if (ok) std_buf_addf(b, "(function() if %s then return %s else return %s end end)()", x.p, y.p, z.p);
        *type = ty == tz ? ty : LT_VAL;
        std_buf_free(&x);
        std_buf_free(&y);
        std_buf_free(&z);
        return ok;
    }
    default:
        return 0;
    }
}

/* A body of returns and if/elif/else as Lua statements. */
static int lx_block(lctx *c, const py_list *body, std_buf *b, int depth)
{
    if (depth > 30) return 0;
    for (int i = 0; i < body->n; i++) {
        const py_node *s = body->v[i];
        if (s->kind == PS_EXPR && s->a->kind == PE_STR) continue;
        if (s->kind == PS_PASS) continue;
        if (s->kind == PS_RETURN) {
            int t;
            std_buf_adds(b, " return ");
            if (!s->a) std_buf_adds(b, "nil");
            else if (!lx(c, s->a, b, &t, 0) || t >= LT_DATE) return 0;
            return i == body->n - 1;
        }
        if (s->kind == PS_IF) {
            int t;
            std_buf_adds(b, " if ");
            if (!lx(c, s->a, b, &t, 0) || t != LT_BOOL) return 0;
            std_buf_adds(b, " then");
            if (!lx_block(c, &s->body, b, depth + 1)) return 0;
            if (s->orelse.n) {
                std_buf_adds(b, " else");
                if (!lx_block(c, &s->orelse, b, depth + 1)) return 0;
            }
            std_buf_adds(b, " end");
            continue;
        }
        return 0;
    }
    return 1;
}

json_t *pv_callable(py_ev *ev, py_obj *f, py_scope *sc)
{
    const py_node *d = f->node;
    int lambda = d->kind == PE_LAMBDA;
    json_t *r = json_object();
    json_object_set_new(r, "$", json_string(lambda ? "lambda" : "callable"));
    if (!lambda) {
        json_object_set_new(r, "name", json_string(f->name));
        json_object_set_new(r, "line", json_integer(d->line));
    }
    json_t *params = json_array();
    for (int i = 0; i < d->kids.n; i++) {
        const py_node *p = d->kids.v[i];
        std_buf b = {0};
        std_buf_addf(&b, "%s%s", p->ival == 1 ? "*" : p->ival == 2 ? "**" : "", p->s);
        json_array_append_new(params, json_string(b.p));
        std_buf_free(&b);
    }
    json_object_set_new(r, "params", params);
    /* the single returned expression */
    const py_node *ret = NULL;
    if (lambda) ret = d->a;
    else {
        int k = 0;
        if (d->body.n && d->body.v[0]->kind == PS_EXPR && d->body.v[0]->a->kind == PE_STR) k = 1;
        if (d->body.n == k + 1 && d->body.v[k]->kind == PS_RETURN && d->body.v[k]->a) ret = d->body.v[k]->a;
    }
    if (ret && !ev->stopped) {
        int saved = ev->pure;
        ev->pure = 1;
        py_scope tmp = {json_object(), sc, 0};
        for (int i = 0; i < d->kids.n; i++)
            json_object_set_new(tmp.vars, d->kids.v[i]->s, pv_expr(ev, d->kids.v[i]));
        json_t *v = py_eval(ev, ret, &tmp);
        ev->pure = saved;
        if (pv_is_value(v)) json_object_set_new(r, "returns", pv_to_ir(ev, v));
        json_decref(v);
        json_decref(tmp.vars);
    }
    lctx c = {ev, d, sc};
    std_buf b = {0};
    int t, saved = ev->pure;
    ev->pure = 1;
    if (ret) {
        if (lx(&c, ret, &b, &t, 0) && t < LT_DATE) json_object_set_new(r, "lua", json_string(b.p));
    } else if (!lambda && lx_block(&c, &d->body, &b, 0) && b.p) {
        std_buf w = {0};
        std_buf_addf(&w, "(function()%s end)()", b.p);
        json_object_set_new(r, "lua", json_string(w.p));
        std_buf_free(&w);
    }
    ev->pure = saved;
    std_buf_free(&b);
    size_t a = d->start, e = d->end > ev->len ? ev->len : d->end;
    if (e < a) e = a;
    while (e > a && (ev->src[e - 1] == '\n' || ev->src[e - 1] == ' ' || ev->src[e - 1] == '\r' || ev->src[e - 1] == '\t')) e--;
    std_buf sb = {0};
    /* the text, its continuation lines dedented by the def's own indentation */
    for (size_t i = a; i < e; i++) {
        std_buf_add(&sb, ev->src + i, 1);
        if (ev->src[i] == '\n' && !lambda)
            for (int k = 1; k < d->col && i + 1 < e && (ev->src[i + 1] == ' ' || ev->src[i + 1] == '\t'); k++) i++;
    }
    if (!lambda) std_buf_adds(&sb, "\n");
    json_object_set_new(r, "source", json_stringn(sb.p ? sb.p : "", sb.len));
    std_buf_free(&sb);
    return r;
}
