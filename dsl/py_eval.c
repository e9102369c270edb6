/* py_eval.c — the abstract interpreter of Airflow DAG files: it walks the AST
 * of py_parse.c (never running the file) and records what Airflow would build:
 * DAGs (`with DAG`, `x = DAG(...)` + `dag=x`, `@dag` functions, several per
 * file), tasks (operator calls with task_id, TaskFlow `@task*` calls), task
 * groups (TaskGroup, `@task_group`), edges (>>, <<, lists, py_chain,
 * chain_linear, cross_downstream, set_upstream/set_downstream, Label, TaskFlow
 * arguments, XComArgs in operator arguments), `.partial`/`.expand`. Loops over
 * foldable iterables are unrolled and helper functions inlined; what cannot be
 * evaluated becomes an {"$":"expr"} value plus a diagnostic with line:col.
 * Group endpoints of edges are resolved to the group's roots/leaves when the
 * DAG is complete. Budgets on steps, iterations and call depth keep hostile
 * files from hanging it. Values and folding live in py_value.c, callables and
 * their Lua form in py_lua.c; the IR shape is the contract in AIRFLOW-IR.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_int.h"

static void exec_block(py_ev *ev, const py_list *b, py_scope *sc);
static json_t *call_value(py_ev *ev, const py_node *n, json_t *fn, json_t *args, json_t *kw, py_scope *sc);

/* ------------------------------------------------------------------ diagnostics, scopes */

void py_diag(py_ev *ev, const py_node *n, const char *level, const char *fmt, ...)
{
    std_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    std_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    /* the same finding at the same place once (loops and inlined calls repeat them) */
    std_buf key = {0};
    std_buf_addf(&key, "%d:%d:%s", n ? n->line : 1, n ? n->col : 1, b.p ? b.p : "");
    int dup = json_object_get(ev->seen_diags, key.p) != NULL;
    if (!dup && json_array_size(ev->diags) < 1000) json_object_set_new(ev->seen_diags, key.p, json_true());
    std_buf_free(&key);
    if (dup || json_array_size(ev->diags) >= 1000) {
        std_buf_free(&b);
        return;
    }
    json_array_append_new(ev->diags, json_pack("{s:i, s:i, s:s, s:s}", "line", n ? n->line : 1, "col", n ? n->col : 1,
                                               "level", level, "message", b.p ? b.p : ""));
    std_buf_free(&b);
}

static py_scope *scope_new(py_ev *ev, py_scope *parent)
{
    if (ev->nscope == ev->capscope) {
        ev->capscope = ev->capscope ? ev->capscope * 2 : 16;
        ev->scopes = realloc(ev->scopes, ev->capscope * sizeof *ev->scopes);
        if (!ev->scopes) abort();
    }
    py_scope *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->vars = json_object();
    s->parent = parent;
    ev->scopes[ev->nscope++] = s;
    return s;
}

static json_t *lookup(py_scope *sc, const char *name)
{
    for (; sc; sc = sc->parent) {
        json_t *v = json_object_get(sc->vars, name);
        if (v) return v;
    }
    return NULL;
}

static json_t *sym(py_ev *ev, const char *name, const py_node *n, int imported)
{
    py_obj *o;
    json_t *v = pv_obj(ev, O_SYM, &o);
    o->name = strdup(name);
    o->node = n;
    o->fkind = imported;
    return v;
}

static json_t *expr(py_ev *ev, const py_node *n) { return pv_expr(ev, n); }

static const char *last_part(const char *q)
{
    const char *d = q ? strrchr(q, '.') : NULL;
    return d ? d + 1 : q ? q : "";
}

/* ------------------------------------------------------------------ version evidence */

static int has_prefix(const char *m, const char *p)
{
    size_t n = strlen(p);
    return !strncmp(m, p, n) && (m[n] == 0 || m[n] == '.');
}

static void note_import(py_ev *ev, const char *mod, int line)
{
    /* strong: gone from Airflow 3's core; weak: still there, deprecated */
    static const char *const strong[] = {"airflow.operators", "airflow.sensors", "airflow.contrib", "airflow.utils.dates",
                                         NULL};
    static const char *const weak[] = {"airflow.decorators", "airflow.models", "airflow.datasets", "airflow.hooks",
                                       "airflow.utils", NULL};
    if (has_prefix(mod, "airflow.sdk") && !ev->v3_line) {
        ev->v3_line = line;
        snprintf(ev->v3_imp, sizeof ev->v3_imp, "%s", mod);
    }
    if (has_prefix(mod, "airflow.providers.standard") && !ev->std_line) {
        ev->std_line = line;
        snprintf(ev->std_imp, sizeof ev->std_imp, "%s", mod);
    }
    for (int i = 0; strong[i]; i++)
        if (has_prefix(mod, strong[i]) && !ev->v2_line) {
            ev->v2_line = line;
            snprintf(ev->v2_imp, sizeof ev->v2_imp, "%s", mod);
        }
    for (int i = 0; weak[i]; i++)
        if (has_prefix(mod, weak[i]) && !ev->w2_line) {
            ev->w2_line = line;
            snprintf(ev->w2_imp, sizeof ev->w2_imp, "%s", mod);
        }
}

static void exec_import(py_ev *ev, const py_node *n, py_scope *sc)
{
    for (int i = 0; i < n->kids.n; i++) {
        const py_node *al = n->kids.v[i];
        if (n->kind == PS_IMPORT) {
            note_import(ev, al->s, n->line);
            if (al->s2) {
                json_object_set_new(sc->vars, al->s2, sym(ev, al->s, al, 1));
            } else {
                char *top = strdup(al->s);
                char *d = strchr(top, '.');
                if (d) *d = 0;
                json_object_set_new(sc->vars, top, sym(ev, top, al, 1));
                free(top);
            }
        } else {
            note_import(ev, n->s, n->line);
            if (!strcmp(al->s, "*")) {
                py_diag(ev, n, "warning", "from %s import *: the names it brings are not known", n->s);
                continue;
            }
            std_buf q = {0};
            if (n->ival) std_buf_addf(&q, "%.*s", (int)n->ival, "...........................");
            std_buf_addf(&q, "%s%s%s", n->s, n->s[0] ? "." : "", al->s);
            json_object_set_new(sc->vars, al->s2 ? al->s2 : al->s, sym(ev, q.p, al, 1));
            std_buf_free(&q);
        }
    }
}

/* ------------------------------------------------------------------ expressions */

static json_t *eval_args(py_ev *ev, const py_node *call, py_scope *sc, json_t **kw)
{
    json_t *args = json_array();
    *kw = json_object();
    for (int i = 0; i < call->kids.n; i++) {
        const py_node *a = call->kids.v[i];
        if (a->kind == PE_KW) {
            json_object_set_new(*kw, a->s, py_eval(ev, a->a, sc));
        } else if (a->kind == PE_STAR) {
            json_t *v = py_eval(ev, a->a, sc);
            if (json_is_array(v)) json_array_extend(args, v);
            else json_array_append(args, v);
            json_decref(v);
        } else if (a->kind == PE_DSTAR) {
            json_t *v = py_eval(ev, a->a, sc);
            if (json_is_object(v) && !pv_tag(v) && !pv_get(ev, v)) json_object_update(*kw, v);
            else py_diag(ev, a, "unsupported", "**arguments that cannot be evaluated are ignored");
            json_decref(v);
        } else {
            json_array_append_new(args, py_eval(ev, a, sc));
        }
    }
    return args;
}

/* str() of a value Airflow turns into a template: an XComArg is the Jinja
 * xcom_pull of its task (PlainXComArg.__str__), Variable.get("x") read at parse
 * time is taken as {{ var.value.x }} (with a warning). NULL for anything else. */
static json_t *template_str(py_ev *ev, const py_node *n, json_t *v)
{
    py_obj *o = pv_get(ev, v);
    if (o && o->kind == O_XCOM && o->ref >= 0) {
        py_obj *t = ev->objs[o->ref];
        py_dag *d = py_dag_at(ev, t->dag);
        std_buf b = {0};
        std_buf_addf(&b, "{{ task_instance.xcom_pull(task_ids='%s', dag_id='%s', key='%s') }}", t->name,
                     d ? json_string_value(json_object_get(d->ir, "dag_id")) : "", o->mod ? o->mod : "return_value");
        json_t *r = json_string(b.p);
        std_buf_free(&b);
        return r;
    }
    const char *tag = pv_tag(v);
    if (tag && !strcmp(tag, "variable") && json_is_string(json_object_get(v, "name"))) {
        const char *name = json_string_value(json_object_get(v, "name"));
        for (const char *p = name; *p; p++)
            if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) return NULL;
        int js = json_is_true(json_object_get(v, "json"));
        py_diag(ev, n, "warning", "Variable.get('%s') in a string is taken as the template {{ var.%s.%s }} (read when the task runs, not when the file is parsed)",
                name, js ? "json" : "value", name);
        std_buf b = {0};
        std_buf_addf(&b, "{{ var.%s.%s }}", js ? "json" : "value", name);
        json_t *r = json_string(b.p);
        std_buf_free(&b);
        return r;
    }
    return NULL;
}

static json_t *eval_fstring(py_ev *ev, const py_node *n, py_scope *sc)
{
    std_buf b = {0};
    int ok = 1;
    for (int i = 0; i < n->kids.n && ok; i++) {
        const py_node *p = n->kids.v[i];
        if (p->kind == PE_STR) {
            std_buf_add(&b, p->s, p->slen);
            continue;
        }
        json_t *v = py_eval(ev, p->a, sc);
        json_t *spec = p->b ? eval_fstring(ev, p->b, sc) : NULL;
        json_t *s = !p->s && !spec ? template_str(ev, p->a, v) : NULL;
        if (!s) s = pv_format_spec(v, p->s, spec);
        if (s) std_buf_add(&b, json_string_value(s), json_string_length(s));
        else ok = 0;
        json_decref(s);
        json_decref(spec);
        json_decref(v);
        if (b.len > PY_MAX_STR) ok = 0;
    }
    json_t *r = ok ? json_stringn(b.p ? b.p : "", b.len) : expr(ev, n);
    std_buf_free(&b);
    return r;
}

static json_t *attr(py_ev *ev, const py_node *n, json_t *recv)
{
    py_obj *o = pv_get(ev, recv);
    const char *a = n->s;
    if (o && o->kind == O_SYM) {
        std_buf q = {0};
        std_buf_addf(&q, "%s.%s", o->name, a);
        json_t *r;
        if ((!strcmp(a, "utc") || !strcmp(a, "UTC")) && (strstr(q.p, "timezone") || strstr(q.p, "pendulum")))
            r = json_string("UTC");
        else if (!strcmp(last_part(o->name), "TriggerRule")) {
            /* TriggerRule.ALL_DONE is the string "all_done" (a str enum) */
            char *l = strdup(a);
            for (char *p = l; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            r = json_string(l);
            free(l);
        }
        else
            r = sym(ev, q.p, n, o->fkind);
        std_buf_free(&q);
        return r;
    }
    if (o && o->kind == O_TASK) {
        if (!strcmp(a, "output")) {
            py_obj *x;
            json_t *v = pv_obj(ev, O_XCOM, &x);
            x->ref = (int)json_integer_value(json_object_get(recv, "$$"));
            x->node = n;
            return v;
        }
        if (!strcmp(a, "task_id")) return json_string(o->name);
        json_t *kv = json_object_get(json_object_get(o->task, "kwargs"), a);
        if (kv && strcmp(a, "set_upstream") && strcmp(a, "set_downstream")) return json_incref(kv);
    }
    if (o && o->kind == O_DAG && !strcmp(a, "dag_id"))
        return json_incref(json_object_get(ev->dags[o->dag].ir, "dag_id"));
    if (o && o->kind == O_GROUP && !strcmp(a, "group_id")) return json_string(o->name);
    if (o && o->kind == O_XCOM && o->ref >= 0 && !strcmp(a, "operator")) return json_pack("{s:i}", "$$", o->ref);
    if (!o && pv_tag(recv) && strcmp(pv_tag(recv), "expr")) {
        const char *t = pv_tag(recv);
        if (!strcmp(t, "timedelta") && (!strcmp(a, "days") || !strcmp(a, "seconds"))) {
            double s = json_number_value(json_object_get(recv, "seconds"));
            long long d = (long long)(s / 86400);
            if (s < 0 && d * 86400 != (long long)s) d--;
            return json_integer(a[0] == 'd' ? d : (json_int_t)((long long)s - d * 86400));
        }
    }
    if (pv_tag(recv) && !strcmp(pv_tag(recv), "expr")) return expr(ev, n);
    if (json_is_string(recv) && !strcmp(a, "value")) return json_incref(recv);   /* str enums: TriggerRule.X.value */
    if (json_is_string(recv) && (!strcmp(a, "stem") || !strcmp(a, "name") || !strcmp(a, "suffix") || !strcmp(a, "parent"))) {
        /* pathlib: Path(__file__).stem (a str has no such attribute, so only a Path gets here) */
        const char *p = json_string_value(recv), *sl = strrchr(p, '/'), *base = sl ? sl + 1 : p;
        const char *dot = strrchr(base, '.');
        if (dot == base) dot = NULL;
        if (!strcmp(a, "name")) return json_string(base);
        if (!strcmp(a, "parent")) return json_stringn(p, sl ? (size_t)(sl - p) : 0);
        if (!strcmp(a, "suffix")) return json_string(dot ? dot : "");
        return json_stringn(base, dot ? (size_t)(dot - base) : strlen(base));
    }
    /* a method (or attribute) of a value */
    py_obj *b;
    json_t *v = pv_obj(ev, O_BOUND, &b);
    b->v = json_incref(recv);
    b->name = strdup(a);
    b->node = n;
    return v;
}

static json_t *eval_comp(py_ev *ev, const py_node *n, int k, py_scope *sc, json_t *out);
static void assign(py_ev *ev, const py_node *target, json_t *v, py_scope *sc);

/* Iterable of a value: a new array, or NULL when it is not foldable. */
static json_t *iter_of(py_ev *ev, json_t *v)
{
    if (json_is_array(v)) return json_copy(v);
    if (json_is_object(v) && !pv_tag(v) && !pv_get(ev, v)) {
        json_t *r = json_array();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_array_append_new(r, json_string(k));
        return r;
    }
    if (json_is_string(v) && json_string_length(v) <= PY_MAX_ITER) {
        int h;
        json_t *args = json_pack("[O]", v);
        json_t *r = pv_builtin(ev, NULL, "list", args, NULL, &h);
        json_decref(args);
        return r;
    }
    return NULL;
}

static json_t *eval_comp(py_ev *ev, const py_node *n, int k, py_scope *sc, json_t *out)
{
    if (k == n->kids.n) {
        if (json_array_size(out) >= PY_MAX_ITER) return NULL;
        if (!strcmp(n->op, "d")) {
            json_t *key = py_eval(ev, n->a, sc), *val = py_eval(ev, n->b, sc);
            char *ks = pv_is_const(key) ? pv_str(key) : NULL;
            json_decref(key);
            if (!ks) { json_decref(val); return NULL; }
            json_object_set_new(out, ks, val);
            free(ks);
        } else {
            json_array_append_new(out, py_eval(ev, n->a, sc));
        }
        return out;
    }
    const py_node *f = n->kids.v[k];
    json_t *itv = py_eval(ev, f->b, sc);
    json_t *it = iter_of(ev, itv);
    json_decref(itv);
    if (!it) return NULL;
    size_t i;
    json_t *x;
    json_array_foreach(it, i, x) {
        assign(ev, f->a, x, sc);
        int keep = 1;
        for (int c = 0; c < f->kids.n && keep; c++) {
            json_t *cv = py_eval(ev, f->kids.v[c], sc);
            int t = pv_truth(cv);
            json_decref(cv);
            if (t < 0) { json_decref(it); return NULL; }
            keep = t;
        }
        if (keep && !eval_comp(ev, n, k + 1, sc, out)) { json_decref(it); return NULL; }
        if (ev->stopped) break;
    }
    json_decref(it);
    return out;
}

static json_t *eval_bin(py_ev *ev, const py_node *n, py_scope *sc)
{
    json_t *a = py_eval(ev, n->a, sc), *b = py_eval(ev, n->b, sc), *r = NULL;
    if (!strcmp(n->op, ">>")) r = py_shift(ev, n, a, b);
    else if (!strcmp(n->op, "<<")) {
        json_decref(py_shift(ev, n, b, a));
        r = json_incref(b);
    } else {
        r = pv_binop(ev, n, n->op, a, b);
        if (!r && !strcmp(n->op, "+") && (json_is_string(a) || json_is_string(b))) {
            /* "echo " + Variable.get("x") / + str(task.output) */
            json_t *ta = json_is_string(a) ? json_incref(a) : template_str(ev, n->a, a);
            json_t *tb = json_is_string(b) ? json_incref(b) : template_str(ev, n->b, b);
            if (ta && tb) r = pv_binop(ev, n, "+", ta, tb);
            json_decref(ta);
            json_decref(tb);
        }
        if (!r && pv_is_const(a) && pv_is_const(b))
            py_diag(ev, n, "warning", "this %s of constants cannot be folded (too large, or an error in Python)", n->op);
        if (!r) r = expr(ev, n);
    }
    json_decref(a);
    json_decref(b);
    return r;
}

json_t *py_eval(py_ev *ev, const py_node *n, py_scope *sc)
{
    if (!n) return json_null();
    if (++ev->steps > PY_MAX_STEPS && !ev->stopped) {
        ev->stopped = 1;
        py_diag(ev, n, "unsupported", "evaluation stopped: the file needs more than %ld steps", PY_MAX_STEPS);
    }
    if (ev->stopped) return expr(ev, n);
    json_t *r = NULL;
    switch (n->kind) {
    case PE_NAME: {
        json_t *v = lookup(sc, n->s);
        if (v) return json_incref(v);
        if (!strcmp(n->s, "__name__")) return json_string("unusual_prefix_dag_file");
        if (!strcmp(n->s, "__file__")) {
            json_t *f = json_string(ev->path);
            if (f) return f;
        }
        return sym(ev, n->s, n, 0);
    }
    case PE_INT: return json_integer(n->ival);
    case PE_FLOAT: return json_real(n->fval);
    case PE_BIGINT: return expr(ev, n);
    case PE_STR: {
        r = n->ival ? NULL : json_stringn(n->s, n->slen);   /* bytes, or text that is not UTF-8: an expr */
        return r ? r : expr(ev, n);
    }
    case PE_FSTR: return eval_fstring(ev, n, sc);
    case PE_CONST: return n->ival == 0 ? json_null() : json_boolean(n->ival == 1);
    case PE_ATTR: {
        json_t *recv = py_eval(ev, n->a, sc);
        r = attr(ev, n, recv);
        json_decref(recv);
        return r;
    }
    case PE_SUB: {
        json_t *a = py_eval(ev, n->a, sc), *idx;
        if (n->b->kind == PE_SLICE) {
            idx = json_pack("{s:[o,o,o]}", "slice", py_eval(ev, n->b->a, sc), py_eval(ev, n->b->b, sc), py_eval(ev, n->b->c, sc));
        } else {
            idx = py_eval(ev, n->b, sc);
        }
        py_obj *o = pv_get(ev, a);
        if (o && o->kind == O_SYM && (!strcmp(o->name, "os.environ") || !strcmp(o->name, "environ")) && json_is_string(idx))
            r = json_pack("{s:s, s:O, s:n}", "$", "env", "name", idx, "default");
        else if (o && (o->kind == O_XCOM || o->kind == O_TASK) && json_is_string(idx)) {
            py_obj *x;
            r = pv_obj(ev, O_XCOM, &x);
            x->ref = o->kind == O_XCOM ? o->ref : (int)json_integer_value(json_object_get(a, "$$"));
            x->mod = strdup(json_string_value(idx));
            x->node = n;
        } else
            r = pv_subscript(ev, n, a, idx);
        json_decref(a);
        json_decref(idx);
        return r ? r : expr(ev, n);
    }
    case PE_CALL: {
        json_t *fn = py_eval(ev, n->a, sc), *kw;
        json_t *args = eval_args(ev, n, sc, &kw);
        r = call_value(ev, n, fn, args, kw, sc);
        json_decref(fn);
        json_decref(args);
        json_decref(kw);
        return r;
    }
    case PE_BIN: return eval_bin(ev, n, sc);
    case PE_UNARY: {
        json_t *a = py_eval(ev, n->a, sc);
        r = pv_unary(ev, n, n->op, a);
        json_decref(a);
        return r ? r : expr(ev, n);
    }
    case PE_NOT: {
        json_t *a = py_eval(ev, n->a, sc);
        int t = pv_truth(a);
        json_decref(a);
        return t < 0 ? expr(ev, n) : json_boolean(!t);
    }
    case PE_BOOL: {
        int is_and = !strcmp(n->op, "and");
        for (int i = 0; i < n->kids.n; i++) {
            json_t *v = py_eval(ev, n->kids.v[i], sc);
            int t = pv_truth(v);
            if (t < 0) { json_decref(v); return expr(ev, n); }
            if (i == n->kids.n - 1 || (is_and ? !t : t)) return v;
            json_decref(v);
        }
        return json_null();
    }
    case PE_CMP: {
        json_t *left = py_eval(ev, n->kids.v[0], sc);
        for (int i = 1; i < n->kids.n; i++) {
            json_t *right = py_eval(ev, n->kids.v[i], sc);
            json_t *c = pv_compare(ev, n, n->ops[i - 1], left, right);
            json_decref(left);
            left = right;
            if (!c) { json_decref(right); return expr(ev, n); }
            if (!json_is_true(c) || i == n->kids.n - 1) { json_decref(right); return c; }
            json_decref(c);
        }
        json_decref(left);
        return json_true();
    }
    case PE_IFEXP: {
        json_t *c = py_eval(ev, n->a, sc);
        int t = pv_truth(c);
        json_decref(c);
        if (t < 0) return expr(ev, n);
        return py_eval(ev, t ? n->b : n->c, sc);
    }
    case PE_LAMBDA: {
        py_obj *f;
        for (py_scope *c = sc; c; c = c->parent) c->captured = 1;
        r = pv_obj(ev, O_FUNC, &f);
        f->node = n;
        f->scope = sc;
        f->name = strdup("<lambda>");
        return r;
    }
    case PE_LIST:
    case PE_TUPLE:
    case PE_SET:
        r = json_array();
        for (int i = 0; i < n->kids.n; i++) {
            const py_node *k = n->kids.v[i];
            if (k->kind == PE_STAR) {
                json_t *v = py_eval(ev, k->a, sc), *it = iter_of(ev, v);
                json_decref(v);
                if (!it) { json_decref(r); return expr(ev, n); }
                json_array_extend(r, it);
                json_decref(it);
            } else {
                json_t *v = py_eval(ev, k, sc);
                if (pv_too_deep(v)) {
                    json_decref(v);
                    json_decref(r);
                    py_diag(ev, n, "unsupported", "a value nested more than %d deep is not evaluated", PY_MAX_NEST);
                    return expr(ev, n);
                }
                json_array_append_new(r, v);
            }
        }
        return r;
    case PE_DICT:
        r = json_object();
        for (int i = 0; i + 1 < n->kids.n; i += 2) {
            json_t *v = py_eval(ev, n->kids.v[i + 1], sc);
            if (pv_too_deep(v)) {
                json_decref(v);
                json_decref(r);
                py_diag(ev, n, "unsupported", "a value nested more than %d deep is not evaluated", PY_MAX_NEST);
                return expr(ev, n);
            }
            if (!n->kids.v[i]) {
                if (json_is_object(v) && !pv_tag(v) && !pv_get(ev, v)) json_object_update(r, v);
                else {
                    json_t *e = expr(ev, n->kids.v[i + 1]);
                    py_diag(ev, n->kids.v[i + 1], "unsupported", "**%s cannot be evaluated; its keys are missing",
                            json_string_value(json_object_get(e, "source")));
                    json_decref(e);
                }
                json_decref(v);
                continue;
            }
            json_t *k = py_eval(ev, n->kids.v[i], sc);
            char *ks = pv_is_const(k) ? pv_str(k) : NULL;
            if (!ks) {
                json_t *e = expr(ev, n->kids.v[i]);
                ks = strdup(json_string_value(json_object_get(e, "source")));
                json_decref(e);
            }
            json_object_set_new(r, ks, v);
            free(ks);
            json_decref(k);
        }
        return r;
    case PE_COMP: {
        py_scope *inner = scope_new(ev, sc);
        json_t *out = !strcmp(n->op, "d") ? json_object() : json_array();
        if (!eval_comp(ev, n, 0, inner, out)) {
            json_decref(out);
            return expr(ev, n);
        }
        return out;
    }
    case PE_WALRUS: {
        json_t *v = py_eval(ev, n->b, sc);
        assign(ev, n->a, v, sc);
        return v;
    }
    default:
        return expr(ev, n);
    }
}

/* ------------------------------------------------------------------ calls */

/* Inline a def or lambda with these arguments; returns its value. */
static json_t *inline_call(py_ev *ev, const py_node *n, py_obj *f, json_t *args, json_t *kw, int *ok)
{
    *ok = 0;
    if (ev->pure || ev->depth >= PY_MAX_CALLS) {
        if (!ev->pure) py_diag(ev, n, "unsupported", "calls nested more than %d deep are not inlined", PY_MAX_CALLS);
        return NULL;
    }
    const py_node *d = f->node;
    py_scope *sc = scope_new(ev, f->scope);
    size_t ai = 0, na = json_array_size(args);
    json_t *rest_kw = json_deep_copy(kw);
    for (int i = 0; i < d->kids.n; i++) {
        const py_node *p = d->kids.v[i];
        json_t *v = NULL;
        if (p->ival == 1) {
            v = json_array();
            while (ai < na) json_array_append(v, json_array_get(args, ai++));
        } else if (p->ival == 2) {
            v = json_incref(rest_kw);
        } else if (ai < na) {
            v = json_incref(json_array_get(args, ai++));
        } else if (json_object_get(rest_kw, p->s)) {
            v = json_incref(json_object_get(rest_kw, p->s));
            json_object_del(rest_kw, p->s);
        } else if (p->a) {
            v = py_eval(ev, p->a, f->scope);
        } else {
            v = expr(ev, p);
        }
        json_object_set_new(sc->vars, p->s, v);
    }
    json_decref(rest_kw);
    ev->depth++;
    json_t *r;
    if (d->kind == PE_LAMBDA) {
        r = py_eval(ev, d->a, sc);
    } else {
        int saved_ret = ev->ret;
        json_t *saved_val = ev->retval;
        ev->ret = 0;
        ev->retval = NULL;
        exec_block(ev, &d->body, sc);
        r = ev->retval ? ev->retval : json_null();
        ev->ret = saved_ret;
        ev->retval = saved_val;
        ev->brk = ev->cont = 0;
    }
    ev->depth--;
    if (!sc->captured) json_object_clear(sc->vars);   /* nothing can see it any more */
    *ok = 1;
    return r;
}

static json_t *call_taskgroup_fn(py_ev *ev, const py_node *n, py_obj *f, json_t *args, json_t *kw, json_t *extra)
{
    json_t *deco = (f->deco ? json_deep_copy(f->deco) : json_object());
    if (extra) json_object_update(deco, extra);
    /* Airflow takes the function's docstring as the tooltip when there is none */
    const py_list *body = &f->node->body;
    if (!json_is_string(json_object_get(deco, "tooltip")) && body->n && body->v[0]->kind == PS_EXPR &&
        body->v[0]->a->kind == PE_STR && !body->v[0]->a->ival) {
        json_t *doc = json_stringn(body->v[0]->a->s, body->v[0]->a->slen);
        if (doc) json_object_set_new(deco, "tooltip", doc);
    }
    json_t *gidv = json_object_get(deco, "group_id");
    json_t *name = gidv ? json_incref(gidv) : json_string(f->name);
    int dag;
    const char *gid;
    py_placement(ev, deco, &dag, &gid);
    json_t *g = py_make_group(ev, n, name, deco, dag, gid);
    json_decref(name);
    json_decref(deco);
    py_obj *go = pv_get(ev, g);
    int sd = ev->cur_dag;
    char *sg = ev->cur_group;
    ev->cur_dag = go->dag;
    ev->cur_group = go->name;
    int ok;
    json_t *r = inline_call(ev, n, f, args, kw, &ok);
    ev->cur_dag = sd;
    ev->cur_group = sg;
    if (r && !json_is_null(r)) {
        json_decref(g);
        return r;
    }
    json_decref(r);
    return g;
}

static json_t *call_dag_fn(py_ev *ev, const py_node *n, py_obj *f)
{
    static const char *const drop[] = {"dag_id", NULL};
    json_t *idv = json_object_get(f->deco, "dag_id");
    json_t *id = idv ? json_incref(idv) : json_string(f->name);
    if (f->deco && json_object_get(f->deco, "schedule_interval") && !ev->si_line) ev->si_line = f->node->line;
    /* the DAG is where its @dag decorator is */
    py_node at = *f->node;
    if (f->node->orelse.n) {
        at.line = f->node->orelse.v[0]->line;
        at.col = f->node->orelse.v[0]->col > 1 ? f->node->orelse.v[0]->col - 1 : 1;
    }
    int d = py_dag_new(ev, &at, id, "decorator", py_kwargs_ir(ev, f->deco, drop));
    json_decref(id);
    json_t *inputs = json_object_get(ev->dags[d].ir, "inputs");
    py_scope *sc = scope_new(ev, f->scope);
    for (int i = 0; i < f->node->kids.n; i++) {
        const py_node *p = f->node->kids.v[i];
        if (p->ival) continue;
        json_array_append_new(inputs, json_string(p->s));
        py_obj *po;
        json_t *pv = pv_obj(ev, O_PARAM, &po);
        po->name = strdup(p->s);
        po->node = p;
        json_object_set_new(sc->vars, p->s, pv);
    }
    int sd = ev->cur_dag;
    char *sg = ev->cur_group;
    ev->cur_dag = d;
    ev->cur_group = NULL;
    int saved_ret = ev->ret;
    json_t *saved_val = ev->retval;
    ev->ret = 0;
    ev->retval = NULL;
    ev->depth++;
    exec_block(ev, &f->node->body, sc);
    ev->depth--;
    json_decref(ev->retval);
    ev->ret = saved_ret;
    ev->retval = saved_val;
    ev->cur_dag = sd;
    ev->cur_group = sg;
    f->ref = 1;   /* called */
    return py_dag_value(ev, d, n);
}

static json_t *bound_func(py_ev *ev, py_obj *f, const char *what, json_t *kw, const py_node *n)
{
    py_obj *p;
    json_t *v = pv_obj(ev, O_PARTIAL, &p);
    p->ref = f->self;
    p->v = json_incref(kw);
    p->name = strdup(what);
    p->node = n;
    return v;
}

static int is_task_like(py_obj *o) { return o && (o->kind == O_TASK || o->kind == O_XCOM || o->kind == O_GROUP); }

static json_t *task_of(py_ev *ev, json_t *v)
{
    py_obj *o = pv_get(ev, v);
    if (o && o->kind == O_XCOM) return json_pack("{s:i}", "$$", o->ref);
    return json_incref(v);
}

static json_t *call_method(py_ev *ev, const py_node *n, py_obj *b, json_t *args, json_t *kw)
{
    const char *m = b->name;
    py_obj *o = pv_get(ev, b->v);
    json_t *a0 = json_array_get(args, 0);
    if (is_task_like(o)) {
        if (!strcmp(m, "set_downstream") || !strcmp(m, "set_upstream")) {
            if (ev->pure) return expr(ev, n);
            json_t *self = task_of(ev, b->v);
            if (m[4] == 'd') json_decref(py_shift(ev, n, self, a0));
            else json_decref(py_shift(ev, n, a0, self));
            json_decref(self);
            return json_null();
        }
        if ((!strcmp(m, "as_setup") || !strcmp(m, "as_teardown")) && o->kind != O_GROUP) {
            py_obj *t = o->kind == O_XCOM ? ev->objs[o->ref] : o;
            if (t->task && !ev->pure) {
                json_object_set_new(json_object_get(t->task, "kwargs"), m, json_true());
                json_t *setups = json_object_get(kw, "setups");
                if (setups) {
                    /* the setup tasks themselves (a TaskFlow call gives its XComArg) */
                    json_t *st = json_is_array(setups) ? json_array() : task_of(ev, setups);
                    for (size_t k = 0; json_is_array(setups) && k < json_array_size(setups); k++)
                        json_array_append_new(st, task_of(ev, json_array_get(setups, k)));
                    json_object_set_new(json_object_get(t->task, "kwargs"), "setups", pv_to_ir(ev, st));
                    json_decref(st);
                    json_t *self = task_of(ev, b->v);
                    json_decref(py_shift(ev, n, setups, self));   /* Airflow links each setup to its teardown */
                    json_decref(self);
                }
            }
            return json_incref(b->v);
        }
    }
    if (o && o->kind == O_FUNC && o->fkind == F_TASK) {
        if (!strcmp(m, "override") || !strcmp(m, "partial")) return bound_func(ev, o, m, kw, n);
        if (!strcmp(m, "expand") || !strcmp(m, "expand_kwargs")) {
            if (ev->pure) return expr(ev, n);
            json_t *ex = !strcmp(m, "expand") ? json_incref(kw) : json_pack("{s:O}", "*kwargs", a0 ? a0 : json_null());
            json_t *e = json_array(), *ek = json_object();
            json_t *r = py_make_taskflow(ev, n, o, e, ek, NULL, NULL, ex);
            json_decref(e);
            json_decref(ek);
            json_decref(ex);
            return r;
        }
    }
    if (o && o->kind == O_PARTIAL) {
        py_obj *t = ev->objs[o->ref];
        if (!strcmp(m, "expand") || !strcmp(m, "expand_kwargs")) {
            if (ev->pure) return expr(ev, n);
            json_t *ex = !strcmp(m, "expand") ? json_incref(kw) : json_pack("{s:O}", "*kwargs", a0 ? a0 : json_null());
            json_t *r;
            if (t->kind == O_FUNC) {
                json_t *e = json_array(), *ek = json_object();
                json_t *extra = !strcmp(o->name, "override") ? o->v : NULL;
                r = py_make_taskflow(ev, n, t, e, ek, extra, extra ? NULL : o->v, ex);
                json_decref(e);
                json_decref(ek);
            } else {
                const char *q = t->name;
                const char *cls = last_part(q);
                char *mod = t->fkind ? strndup(q, (size_t)(cls - q) - (cls > q)) : NULL;
                r = py_make_operator(ev, n, cls, mod, kw, o->v, ex);
                free(mod);
            }
            json_decref(ex);
            return r;
        }
        if (t->kind == O_FUNC && !strcmp(o->name, "override") && !strcmp(m, "partial")) {
            json_t *merged = json_deep_copy(kw);
            py_obj *p;
            json_t *v = pv_obj(ev, O_PARTIAL, &p);
            p->ref = o->ref;
            p->v = merged;
            p->name = strdup("partial");
            p->node = n;
            return v;
        }
    }
    if (o && o->kind == O_DAG) {
        if (!strcmp(m, "test") || !strcmp(m, "cli") || !strcmp(m, "run")) return json_null();
    }
    if (!o) {
        int handled;
        if (ev->pure && json_is_array(b->v) && (!strcmp(m, "append") || !strcmp(m, "extend") || !strcmp(m, "insert")))
            return expr(ev, n);
        json_t *r = pv_method(ev, n, b->v, m, args, kw, &handled);
        if (r) return r;
        if (handled && (!strcmp(m, "append") || !strcmp(m, "extend") || !strcmp(m, "insert") || !strcmp(m, "update") ||
                        !strcmp(m, "setdefault")))
            py_diag(ev, n, "unsupported", "%s() would put a value inside itself (or nest it too deep): it is ignored", m);
    }
    return expr(ev, n);
}

static json_t *call_value(py_ev *ev, const py_node *n, json_t *fn, json_t *args, json_t *kw, py_scope *sc)
{
    (void)sc;
    py_obj *f = pv_get(ev, fn);
    if (!f) return expr(ev, n);
    switch (f->kind) {
    case O_BOUND: return call_method(ev, n, f, args, kw);
    case O_FUNC:
        if (f->fkind == F_TASK) return ev->pure ? expr(ev, n) : py_make_taskflow(ev, n, f, args, kw, NULL, NULL, NULL);
        if (f->fkind == F_GROUP) return ev->pure ? expr(ev, n) : call_taskgroup_fn(ev, n, f, args, kw, NULL);
        if (f->fkind == F_DAG) return ev->pure ? expr(ev, n) : call_dag_fn(ev, n, f);
        {
            int ok;
            json_t *r = inline_call(ev, n, f, args, kw, &ok);
            return ok ? r : expr(ev, n);
        }
    case O_PARTIAL: {
        py_obj *t = ev->objs[f->ref];
        if (ev->pure) return expr(ev, n);
        if (t->kind == O_FUNC && t->fkind == F_TASK && !strcmp(f->name, "override"))
            return py_make_taskflow(ev, n, t, args, kw, f->v, NULL, NULL);
        if (t->kind == O_FUNC && t->fkind == F_GROUP && !strcmp(f->name, "override"))
            return call_taskgroup_fn(ev, n, t, args, kw, f->v);
        return expr(ev, n);
    }
    case O_CLASS:
        if (json_object_get(kw, "task_id") && !ev->pure) return py_make_operator(ev, n, f->name, NULL, kw, NULL, NULL);
        return expr(ev, n);
    case O_SYM: break;
    default: return expr(ev, n);
    }
    const char *q = f->name, *last = last_part(q);
    if (ev->pure) {
        int h;
        json_t *r = pv_builtin(ev, n, q, args, kw, &h);
        return r ? r : expr(ev, n);
    }
    if (!strcmp(last, "DAG")) return py_make_dag(ev, n, args, kw);
    if (!strcmp(last, "TaskGroup")) {
        json_t *id = json_array_size(args) ? json_array_get(args, 0) : json_object_get(kw, "group_id");
        int dag;
        const char *gid;
        py_placement(ev, kw, &dag, &gid);
        return py_make_group(ev, n, id, kw, dag, gid);
    }
    if (!strcmp(last, "chain") || !strcmp(last, "chain_linear")) {
        py_chain(ev, n, args, last[5] == '_');
        return json_null();
    }
    if (!strcmp(q, "functools.reduce") && json_array_size(args) >= 2) {
        /* reduce(lambda a, b: a >> b, tasks): the function inlined over the list */
        py_obj *fo = pv_get(ev, json_array_get(args, 0));
        json_t *items = json_array_get(args, 1);
        if (fo && fo->kind == O_FUNC && fo->fkind == F_PLAIN && json_is_array(items) &&
            (json_array_size(items) || json_array_size(args) > 2)) {
            size_t k = 0;
            json_t *acc = json_array_size(args) > 2 ? json_incref(json_array_get(args, 2)) : json_incref(json_array_get(items, k++));
            for (; k < json_array_size(items) && k < PY_MAX_ITER; k++) {
                json_t *pair = json_pack("[O, O]", acc, json_array_get(items, k)), *ek = json_object();
                int ok;
                json_t *r = inline_call(ev, n, fo, pair, ek, &ok);
                json_decref(pair);
                json_decref(ek);
                json_decref(acc);
                if (!ok) return expr(ev, n);
                acc = r;
            }
            return acc;
        }
        return expr(ev, n);
    }
    if (!strcmp(last, "cross_downstream")) {
        json_t *a = json_array_get(args, 0), *b = json_array_get(args, 1);
        if (!a) a = json_object_get(kw, "from_tasks");
        if (!b) b = json_object_get(kw, "to_tasks");
        py_add_edge(ev, n, a, b, NULL);
        return json_null();
    }
    if (!strcmp(last, "Label")) {
        json_t *t = json_array_get(args, 0);
        if (!json_is_string(t)) t = json_object_get(kw, "label");
        return py_label_value(ev, json_string_value(t), n);
    }
    if (!strcmp(last, "XComArg")) {
        py_obj *t = pv_get(ev, json_array_get(args, 0));
        if (t && t->kind == O_TASK) {
            py_obj *x;
            json_t *v = pv_obj(ev, O_XCOM, &x);
            x->ref = (int)json_integer_value(json_object_get(json_array_get(args, 0), "$$"));
            json_t *key = json_array_get(args, 1) ? json_array_get(args, 1) : json_object_get(kw, "key");
            if (json_is_string(key)) x->mod = strdup(json_string_value(key));
            x->node = n;
            return v;
        }
        return expr(ev, n);
    }
    if (!strcmp(last, "partial") && strlen(q) > 8) {
        /* Operator.partial(...) */
        char *cls = strndup(q, strlen(q) - 8);
        json_t *s = sym(ev, cls, n, f->fkind);
        free(cls);
        py_obj *p;
        json_t *v = pv_obj(ev, O_PARTIAL, &p);
        p->ref = (int)json_integer_value(json_object_get(s, "$$"));
        p->v = json_incref(kw);
        p->name = strdup("partial");
        p->node = n;
        json_decref(s);
        return v;
    }
    int handled;
    if (!strcmp(q, "str") && json_array_size(args) == 1) {
        json_t *t = template_str(ev, n, json_array_get(args, 0));
        if (t) return t;
    }
    json_t *r = pv_builtin(ev, n, q, args, kw, &handled);
    if (r) return r;
    if (handled) return expr(ev, n);
    if (json_object_get(kw, "task_id")) {
        char *mod = f->fkind && last > q ? strndup(q, (size_t)(last - q) - 1) : NULL;
        r = py_make_operator(ev, n, last, mod, kw, NULL, NULL);
        free(mod);
        return r;
    }
    if (!strcmp(q, "print") || !strcmp(q, "isinstance") || !strcmp(q, "getattr")) return expr(ev, n);
    return expr(ev, n);
}

/* ------------------------------------------------------------------ statements */

static void assign(py_ev *ev, const py_node *t, json_t *v, py_scope *sc)
{
    switch (t->kind) {
    case PE_NAME:
        json_object_set(sc->vars, t->s, v);
        return;
    case PE_TUPLE:
    case PE_LIST: {
        json_t *it = iter_of(ev, v);
        int star = -1;
        for (int i = 0; i < t->kids.n; i++) if (t->kids.v[i]->kind == PE_STAR) star = i;
        size_t n = it ? json_array_size(it) : 0;
        if (!it || (star < 0 && n != (size_t)t->kids.n) || (star >= 0 && n + 1 < (size_t)t->kids.n)) {
            if (!pv_tag(v) && !pv_get(ev, v))
                py_diag(ev, t, "warning", "cannot unpack %zu values into %d names", n, t->kids.n);
            for (int i = 0; i < t->kids.n; i++) {
                const py_node *k = t->kids.v[i]->kind == PE_STAR ? t->kids.v[i]->a : t->kids.v[i];
                json_t *e = expr(ev, k);
                assign(ev, k, e, sc);
                json_decref(e);
            }
            json_decref(it);
            return;
        }
        size_t j = 0;
        for (int i = 0; i < t->kids.n; i++) {
            if (i == star) {
                json_t *rest = json_array();
                size_t take = n - (size_t)(t->kids.n - 1);
                for (size_t k = 0; k < take; k++) json_array_append(rest, json_array_get(it, j++));
                assign(ev, t->kids.v[i]->a, rest, sc);
                json_decref(rest);
            } else {
                assign(ev, t->kids.v[i], json_array_get(it, j++), sc);
            }
        }
        json_decref(it);
        return;
    }
    case PE_ATTR: {
        json_t *recv = py_eval(ev, t->a, sc);
        py_obj *o = pv_get(ev, recv);
        if (o && o->kind == O_TASK && o->task)
            json_object_set_new(json_object_get(o->task, "kwargs"), t->s, pv_to_ir(ev, v));
        else if (o && o->kind == O_XCOM)
            json_object_set_new(json_object_get(ev->objs[o->ref]->task, "kwargs"), t->s, pv_to_ir(ev, v));
        else if (o && o->kind == O_DAG)
            json_object_set_new(json_object_get(ev->dags[o->dag].ir, "args"), t->s, pv_to_ir(ev, v));
        json_decref(recv);
        return;
    }
    case PE_SUB: {
        json_t *c = py_eval(ev, t->a, sc), *k = py_eval(ev, t->b, sc);
        if (json_is_object(c) && !pv_tag(c) && !pv_get(ev, c)) {
            char *ks = pv_is_const(k) ? pv_str(k) : NULL;
            if (ks && pv_would_cycle(c, v)) py_diag(ev, t, "unsupported", "a dict inside itself: the assignment is ignored");
            else if (ks) json_object_set(c, ks, v);
            else py_diag(ev, t, "unsupported", "a key that cannot be evaluated: the assignment is ignored");
            free(ks);
        } else if (json_is_array(c) && json_is_integer(k)) {
            json_int_t i = json_integer_value(k);
            if (i < 0) i += (json_int_t)json_array_size(c);
            if (i >= 0 && (size_t)i < json_array_size(c) && !pv_would_cycle(c, v)) json_array_set(c, (size_t)i, v);
        }
        json_decref(c);
        json_decref(k);
        return;
    }
    case PE_STAR:
        assign(ev, t->a, v, sc);
        return;
    default:
        return;
    }
}

/* Decorators of a def: @dag, @task, @task.x, @task_group (with or without arguments). */
static void decorate(py_ev *ev, const py_node *d, py_obj *f, py_scope *sc)
{
    for (int i = 0; i < d->orelse.n; i++) {
        const py_node *dn = d->orelse.v[i];
        const py_node *callee = dn->kind == PE_CALL ? dn->a : dn;
        json_t *cv = py_eval(ev, callee, sc);
        py_obj *o = pv_get(ev, cv);
        if (o && o->kind == O_SYM && o->fkind) {
            const char *q = o->name, *r = q;
            static const char *const pfx[] = {"airflow.decorators.", "airflow.sdk.", "airflow.", NULL};
            for (int k = 0; pfx[k]; k++) if (!strncmp(q, pfx[k], strlen(pfx[k]))) { r = q + strlen(pfx[k]); break; }
            int kind = !strcmp(r, "dag") ? F_DAG : !strcmp(r, "task_group") ? F_GROUP
                       : (!strcmp(r, "task") || !strncmp(r, "task.", 5) || !strcmp(r, "setup") || !strcmp(r, "teardown")) ? F_TASK : -1;
            if (kind >= 0 && r != q) {
                f->fkind = kind;
                free(f->op);
                std_buf b = {0};
                std_buf_addf(&b, "@%s", r);
                f->op = std_buf_take(&b);
                json_t *kw = NULL;
                if (dn->kind != PE_CALL) kw = json_object();
                else {
                    json_t *args = eval_args(ev, dn, sc, &kw);
                    if (json_array_size(args) && kind == F_DAG && json_is_string(json_array_get(args, 0)))
                        json_object_set(kw, "dag_id", json_array_get(args, 0));
                    if (json_array_size(args) && kind == F_GROUP && json_is_string(json_array_get(args, 0)))
                        json_object_set(kw, "group_id", json_array_get(args, 0));
                    json_decref(args);
                }
                if (kind == F_TASK && (!strcmp(r, "setup") || !strcmp(r, "teardown"))) {
                    json_object_set_new(kw, !strcmp(r, "setup") ? "as_setup" : "as_teardown", json_true());
                    free(f->op);
                    f->op = strdup("@task");
                }
                json_decref(f->deco);
                f->deco = kw;
            }
        }
        json_decref(cv);
    }
}

static void exec_with(py_ev *ev, const py_node *n, py_scope *sc)
{
    int sd = ev->cur_dag;
    char *sg = ev->cur_group;
    for (int i = 0; i < n->kids.n; i++) {
        const py_node *it = n->kids.v[i];
        json_t *v = py_eval(ev, it->a, sc);
        py_obj *o = pv_get(ev, v);
        if (o && o->kind == O_DAG) {
            ev->cur_dag = o->dag;
            ev->cur_group = NULL;
            json_t *ir = ev->dags[o->dag].ir;
            if (it->a->kind == PE_CALL && json_integer_value(json_object_get(ir, "line")) == it->a->line &&
                !strcmp(json_string_value(json_object_get(ir, "form")), "assign") && o->node == it->a)
                json_object_set_new(ir, "form", json_string("with"));
        } else if (o && o->kind == O_GROUP) {
            if (o->dag >= 0) ev->cur_dag = o->dag;
            ev->cur_group = o->name;
        } else if (o && (o->kind == O_TASK || o->kind == O_XCOM)) {
            py_diag(ev, it, "unsupported", "a `with` over a setup/teardown task is not converted: the tasks of its body "
                                           "are not linked to the setup and teardown");
        } else if (!ev->stopped) {
            py_diag(ev, it, "warning", "a `with` that is not a DAG or a TaskGroup: its body is evaluated as is");
        }
        if (it->b) assign(ev, it->b, v, sc);
        json_decref(v);
    }
    exec_block(ev, &n->body, sc);
    ev->cur_dag = sd;
    ev->cur_group = sg;
}

static void exec_for(py_ev *ev, const py_node *n, py_scope *sc)
{
    json_t *itv = py_eval(ev, n->b, sc);
    json_t *it = iter_of(ev, itv);
    json_decref(itv);
    if (!it) {
        json_t *e = expr(ev, n->b);
        py_diag(ev, n, "unsupported", "the loop over %s cannot be unrolled: its body is evaluated once with unknown values",
                json_string_value(json_object_get(e, "source")));
        json_decref(e);
        json_t *tv = expr(ev, n->a);
        assign(ev, n->a, tv, sc);
        json_decref(tv);
        exec_block(ev, &n->body, sc);
        ev->brk = ev->cont = 0;
        return;
    }
    if (json_array_size(it) > PY_MAX_ITER) {
        py_diag(ev, n, "unsupported", "the loop has more than %d iterations: only the first %d are unrolled", PY_MAX_ITER, PY_MAX_ITER);
    }
    size_t i;
    json_t *x;
    int broke = 0;
    json_array_foreach(it, i, x) {
        if (i >= PY_MAX_ITER || ev->stopped) break;
        assign(ev, n->a, x, sc);
        exec_block(ev, &n->body, sc);
        ev->cont = 0;
        if (ev->brk) { ev->brk = 0; broke = 1; break; }
        if (ev->ret) break;
    }
    json_decref(it);
    if (!broke && !ev->ret) exec_block(ev, &n->orelse, sc);
}

static void exec_stmt(py_ev *ev, const py_node *n, py_scope *sc)
{
    if (++ev->steps > PY_MAX_STEPS && !ev->stopped) {
        ev->stopped = 1;
        py_diag(ev, n, "unsupported", "evaluation stopped: the file needs more than %ld steps", PY_MAX_STEPS);
    }
    if (ev->stopped) return;
    switch (n->kind) {
    case PS_EXPR: {
        if (n->a->kind == PE_STR || n->a->kind == PE_FSTR) return;   /* docstrings */
        json_t *v = py_eval(ev, n->a, sc);
        json_decref(v);
        return;
    }
    case PS_ASSIGN: {
        json_t *v = py_eval(ev, n->a, sc);
        for (int i = 0; i < n->kids.n; i++) assign(ev, n->kids.v[i], v, sc);
        json_decref(v);
        return;
    }
    case PS_ANN:
        if (n->b) {
            json_t *v = py_eval(ev, n->b, sc);
            assign(ev, n->a, v, sc);
            json_decref(v);
        }
        return;
    case PS_AUG: {
        json_t *cur = py_eval(ev, n->a, sc), *v = py_eval(ev, n->b, sc);
        char op[4];
        snprintf(op, sizeof op, "%.*s", (int)strlen(n->op) - 1, n->op);
        json_t *r;
        if (!strcmp(op, "+") && json_is_array(cur) && json_is_array(v)) {
            json_t *cp = json_copy(v);   /* l += l */
            if (!pv_would_cycle(cur, cp)) json_array_extend(cur, cp);
            json_decref(cp);
            r = json_incref(cur);
        } else if (!strcmp(op, ">>") || !strcmp(op, "<<")) {
            r = op[0] == '>' ? py_shift(ev, n, cur, v) : (json_decref(py_shift(ev, n, v, cur)), json_incref(v));
        } else {
            r = pv_binop(ev, n, op, cur, v);
            if (!r) r = expr(ev, n);
        }
        assign(ev, n->a, r, sc);
        json_decref(r);
        json_decref(cur);
        json_decref(v);
        return;
    }
    case PS_IMPORT:
    case PS_FROM:
        exec_import(ev, n, sc);
        return;
    case PS_DEF: {
        py_obj *f;
        for (py_scope *c = sc; c; c = c->parent) c->captured = 1;
        json_t *v = pv_obj(ev, O_FUNC, &f);
        f->node = n;
        f->scope = sc;
        f->name = strdup(n->s);
        decorate(ev, n, f, sc);
        json_object_set_new(sc->vars, n->s, v);
        return;
    }
    case PS_CLASS: {
        py_obj *c;
        json_t *v = pv_obj(ev, O_CLASS, &c);
        c->name = strdup(n->s);
        c->node = n;
        json_object_set_new(sc->vars, n->s, v);
        return;
    }
    case PS_RETURN:
        ev->retval = n->a ? py_eval(ev, n->a, sc) : json_null();
        ev->ret = 1;
        return;
    case PS_BREAK: ev->brk = 1; return;
    case PS_CONTINUE: ev->cont = 1; return;
    case PS_WITH: exec_with(ev, n, sc); return;
    case PS_FOR: exec_for(ev, n, sc); return;
    case PS_WHILE: {
        /* unrolled while its condition folds, at most PY_MAX_ITER times */
        for (int k = 0;; k++) {
            json_t *c = py_eval(ev, n->a, sc);
            int t = pv_truth(c);
            json_decref(c);
            if (t == 0) { exec_block(ev, &n->orelse, sc); return; }
            if (t < 0 || k == PY_MAX_ITER) {
                py_diag(ev, n, "unsupported", t < 0 ? "the condition of this while loop cannot be evaluated: its body is evaluated once"
                                                    : "the while loop runs more than %d times: it is not unrolled further", PY_MAX_ITER);
                if (t < 0) exec_block(ev, &n->body, sc);
                ev->brk = ev->cont = 0;
                return;
            }
            exec_block(ev, &n->body, sc);
            ev->cont = 0;
            if (ev->brk) { ev->brk = 0; return; }
            if (ev->ret || ev->stopped) return;
        }
    }
    case PS_IF: {
        json_t *c = py_eval(ev, n->a, sc);
        int t = pv_truth(c);
        if (t < 0) {
            json_t *e = expr(ev, n->a);
            py_diag(ev, n, "unsupported", "the condition %s cannot be evaluated: both branches are evaluated",
                    json_string_value(json_object_get(e, "source")));
            json_decref(e);
            exec_block(ev, &n->body, sc);
            if (!ev->ret) exec_block(ev, &n->orelse, sc);
        } else {
            exec_block(ev, t ? &n->body : &n->orelse, sc);
        }
        json_decref(c);
        return;
    }
    case PS_TRY:
        exec_block(ev, &n->body, sc);
        if (!ev->ret) exec_block(ev, &n->orelse, sc);
        exec_block(ev, &n->extra, sc);
        return;
    case PS_OTHER:
        py_diag(ev, n, "unsupported", "a %s is not evaluated", n->s);
        return;
    default:
        return;
    }
}

static void exec_block(py_ev *ev, const py_list *b, py_scope *sc)
{
    for (int i = 0; i < b->n && !ev->ret && !ev->brk && !ev->cont && !ev->stopped; i++) exec_stmt(ev, b->v[i], sc);
}

/* ------------------------------------------------------------------ entry points */

static void free_ev(py_ev *ev)
{
    for (size_t i = 0; i < ev->nobj; i++) {
        py_obj *o = ev->objs[i];
        free(o->name);
        free(o->mod);
        free(o->op);
        json_decref(o->v);
        json_decref(o->deco);
        free(o);
    }
    free(ev->objs);
    for (int i = 0; i < ev->ndag; i++) {
        json_decref(ev->dags[i].ir);
        json_decref(ev->dags[i].raw);
        json_decref(ev->dags[i].ids);
        json_decref(ev->dags[i].gids);
        json_decref(ev->dags[i].calls);
    }
    free(ev->dags);
    for (size_t i = 0; i < ev->nscope; i++) {
        json_decref(ev->scopes[i]->vars);
        free(ev->scopes[i]);
    }
    free(ev->scopes);
    json_decref(ev->orphans);
    json_decref(ev->retval);
    json_decref(ev->seen_diags);
}

json_t *dsl_py_eval_module(const char *path, const char *text, size_t len, py_module *m)
{
    py_ev ev = {0};
    ev.path = path;
    ev.src = text;
    ev.len = len;
    ev.diags = json_array();
    ev.seen_diags = json_object();
    ev.orphans = json_array();
    ev.cur_dag = -1;
    ev.module = scope_new(&ev, NULL);
    /* __doc__ is the module docstring (dag.doc_md = __doc__ is common) */
    if (m->body.n && m->body.v[0]->kind == PS_EXPR && m->body.v[0]->a->kind == PE_STR && !m->body.v[0]->a->ival) {
        json_t *doc = json_stringn(m->body.v[0]->a->s, m->body.v[0]->a->slen);
        if (doc) json_object_set_new(ev.module->vars, "__doc__", doc);
    }
    exec_block(&ev, &m->body, ev.module);
    ev.ret = ev.brk = ev.cont = 0;

    for (size_t i = 0; i < ev.nobj; i++) {
        py_obj *o = ev.objs[i];
        if (o->kind == O_FUNC && o->fkind == F_DAG && o->ref != 1)
            py_diag(&ev, o->node, "warning", "the @dag function %s is never called: Airflow does not load it", o->name);
    }
    size_t i;
    json_t *t;
    json_array_foreach(ev.orphans, i, t) {
        py_obj *o = ev.objs[json_integer_value(json_object_get(t, "obj"))];
        if (o->dag < 0)
            py_diag(&ev, o->node, "warning", "task '%s' is not in any DAG (no `with DAG`, no dag= argument): it is not imported",
                    o->name);
    }
    json_t *dags = json_array();
    for (int k = 0; k < ev.ndag; k++) {
        py_finish_dag(&ev, &ev.dags[k]);
        json_array_append(dags, ev.dags[k].ir);
    }
    json_t *ver = json_null(), *evid = json_null();
    if (ev.v3_line) { ver = json_integer(3); evid = json_pack("{s:i, s:s}", "line", ev.v3_line, "import", ev.v3_imp); }
    else if (ev.v2_line) { ver = json_integer(2); evid = json_pack("{s:i, s:s}", "line", ev.v2_line, "import", ev.v2_imp); }
    else if (ev.si_line) { ver = json_integer(2); evid = json_pack("{s:i, s:s}", "line", ev.si_line, "kwarg", "schedule_interval"); }
    else if (ev.std_line) { ver = json_integer(3); evid = json_pack("{s:i, s:s}", "line", ev.std_line, "import", ev.std_imp); }
    else if (ev.w2_line) { ver = json_integer(2); evid = json_pack("{s:i, s:s}", "line", ev.w2_line, "import", ev.w2_imp); }
    if (!ev.ndag) py_diag(&ev, NULL, "warning", "no DAG found in the file");
    json_t *ir = json_pack("{s:s, s:o, s:o, s:o, s:O}", "source", path, "airflow_version", ver, "version_evidence", evid,
                           "dags", dags, "diagnostics", ev.diags);
    json_decref(ev.diags);
    free_ev(&ev);
    return ir;
}

int dsl_airflow_py_parse(const char *path, const char *text, size_t len, json_t **ir, std_diags *diags)
{
    py_module m;
    int errs = 0;
    size_t before = diags->n;
    *ir = NULL;
    if (dsl_py_parse_module(path, text, len, &m, diags, &errs) < 0) {
        dsl_py_arena_free(m.arena);
        return -1;
    }
    *ir = dsl_py_eval_module(path, text, len, &m);
    dsl_py_arena_free(m.arena);
    return diags->n > before ? -1 : 0;
}
