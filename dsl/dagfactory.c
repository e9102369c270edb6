/* dagfactory.c — dag-factory YAML -> the Airflow importer's IR (see airflow.h).
 *
 * A dag-factory file maps each dag_id to its DAG arguments; an optional
 * `default:` block is merged under every DAG (the DAG's keys win; default_args
 * are merged key by key). Tasks come as a list with `task_id` (dag-factory
 * 1.0) or a mapping keyed by id (the older form), each with `operator:` (a
 * dotted path) or `decorator:`, its kwargs inline, `dependencies` (tasks or
 * task groups) and `task_group_name`. Scalars are typed as PyYAML would
 * (ints, floats, booleans, null; dates for start_date/end_date), `__type__`
 * objects become IR values, "+task" is the task's XCom output.
 *
 * What it does not do: read `defaults.yml` files next to the DAG file, or
 * accept YAML anchors, aliases and tags (wfdsl's loader is strict: such files
 * are refused with a clear message, expand them first).
 */
#include "airflow.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dfx {
    const char *file;
    json_t *diags; /* the IR's diagnostics */
} dfx;

static void note(dfx *x, const dsl_node *n, const char *level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void note(dfx *x, const dsl_node *n, const char *level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(x->diags, json_pack("{s:i, s:i, s:s, s:s}", "line", n ? n->line : 1, "col", n ? n->col : 1,
                                              "level", level, "message", msg));
}

static int is_int(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p) return 0;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

static int is_float(const char *s, double *d)
{
    char *end;
    if (!*s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.')) return 0;
    *d = strtod(s, &end);
    return *end == 0 && strpbrk(s, ".eE");
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return !*a && !*b;
}

static json_t *value(dfx *x, const dsl_node *n);

/* {__type__: datetime.timedelta, seconds: 30, ...} and friends. */
static json_t *typed(dfx *x, const dsl_node *n, const char *type)
{
    static const struct { const char *k; double mul; } TD[] = {
        {"weeks", 604800}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}, {"seconds", 1}, {"milliseconds", 0.001},
    };
    if (!strcmp(type, "datetime.timedelta") || !strcmp(type, "timedelta")) {
        double s = 0;
        for (size_t i = 0; i < n->n; i++) {
            const char *k = n->keys[i]->str;
            if (!strcmp(k, "__type__")) continue;
            json_t *v = value(x, n->vals[i]);
            size_t j = 0;
            while (j < sizeof TD / sizeof *TD && strcmp(TD[j].k, k)) j++;
            if (j == sizeof TD / sizeof *TD || !json_is_number(v)) {
                json_decref(v);
                goto expr;
            }
            s += json_number_value(v) * TD[j].mul;
            json_decref(v);
        }
        return s == (double)(int64_t)s ? json_pack("{s:s, s:I}", "$", "timedelta", "seconds", (json_int_t)s)
                                       : json_pack("{s:s, s:f}", "$", "timedelta", "seconds", s);
    }
    if (!strcmp(type, "datetime.datetime") || !strcmp(type, "datetime")) {
        int f[6] = {0, 1, 1, 0, 0, 0};
        static const char *const names[] = {"year", "month", "day", "hour", "minute", "second"};
        for (int i = 0; i < 6; i++) {
            const dsl_node *v = dsl_map_get(n, names[i]);
            if (v && v->kind == DSL_SCALAR && is_int(v->str)) f[i] = atoi(v->str);
            else if (v || i == 0) goto expr;
        }
        char b[40];
        snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", f[0], f[1], f[2], f[3], f[4], f[5]);
        const dsl_node *tz = dsl_map_get(n, "tzinfo");
        if (!tz) tz = dsl_map_get(n, "tz");
        return json_pack("{s:s, s:s, s:s?}", "$", "datetime", "value", b, "tz",
                         tz && tz->kind == DSL_SCALAR ? tz->str : NULL);
    }
expr:
    note(x, n, "unsupported", "__type__ %s is not converted", type);
    return json_pack("{s:s, s:s, s:i, s:i}", "$", "expr", "source", type, "line", n->line, "col", n->col);
}

static json_t *value(dfx *x, const dsl_node *n)
{
    if (!n) return json_null();
    if (n->kind == DSL_MAP) {
        const dsl_node *t = dsl_map_get(n, "__type__");
        if (t && t->kind == DSL_SCALAR) return typed(x, n, t->str);
        if (dsl_map_get(n, "__and__") || dsl_map_get(n, "__or__") || dsl_map_get(n, "__join__")) {
            note(x, n, "unsupported", "asset conditions (__and__/__or__) are not converted");
            return json_pack("{s:s, s:s, s:i, s:i}", "$", "expr", "source", "asset condition", "line", n->line, "col", n->col);
        }
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++) json_object_set_new(o, n->keys[i]->str, value(x, n->vals[i]));
        return o;
    }
    if (n->kind == DSL_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++) json_array_append_new(a, value(x, n->vals[i]));
        return a;
    }
    const char *s = n->str;
    if (n->style != DSL_PLAIN) return json_string(s);
    if (!*s || !strcmp(s, "~") || ieq(s, "null")) return json_null();
    if (ieq(s, "true") || ieq(s, "yes") || ieq(s, "on")) return json_true();
    if (ieq(s, "false") || ieq(s, "no") || ieq(s, "off")) return json_false();
    if (is_int(s)) return json_integer(strtoll(s, NULL, 10));
    double d;
    if (is_float(s, &d)) return json_real(d);
    if (s[0] == '+' && s[1] && !isdigit((unsigned char)s[1])) /* +task: its output */
        return json_pack("{s:s, s:s, s:n}", "$", "xcom", "task_id", s + 1, "key");
    return json_string(s);
}

/* start_date/end_date: dates, datetimes, or "N days" relative to parse time. */
static json_t *date_value(dfx *x, const dsl_node *n, const char *tz)
{
    json_t *v = value(x, n);
    if (!json_is_string(v)) return v;
    const char *s = json_string_value(v);
    int y, m, d, days;
    char unit[16];
    if (sscanf(s, "%d-%d-%d", &y, &m, &d) == 3) {
        char b[40];
        int h = 0, mi = 0, se = 0;
        const char *tp = strpbrk(s, "T ");
        if (tp) sscanf(tp + 1, "%d:%d:%d", &h, &mi, &se);
        snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, h, mi, se);
        json_decref(v);
        return json_pack("{s:s, s:s, s:s?}", "$", "datetime", "value", b, "tz", tz);
    }
    if (sscanf(s, "%d %15s", &days, unit) == 2 && (!strncmp(unit, "day", 3))) {
        json_t *r = json_pack("{s:s, s:s, s:i}", "$", "relative_date", "expr", s, "days", -days);
        json_decref(v);
        return r;
    }
    return v;
}

/* default_args: the older *_sec(s) keys, dates, timezone. */
static void fix_args(dfx *x, json_t *args, const dsl_node *n)
{
    static const char *const secs[][2] = {
        {"retry_delay_sec", "retry_delay"},      {"execution_timeout_secs", "execution_timeout"},
        {"sla_secs", "sla"},                     {"dagrun_timeout_sec", "dagrun_timeout"},
        {"max_retry_delay_sec", "max_retry_delay"},
    };
    for (size_t i = 0; i < sizeof secs / sizeof *secs; i++) {
        json_t *v = json_object_get(args, secs[i][0]);
        if (!v) continue;
        if (json_is_number(v)) json_object_set_new(args, secs[i][1], json_pack("{s:s, s:O}", "$", "timedelta", "seconds", v));
        json_object_del(args, secs[i][0]);
    }
    const char *tz = json_string_value(json_object_get(args, "timezone"));
    static const char *const dates[] = {"start_date", "end_date"};
    for (size_t i = 0; i < 2; i++) {
        const dsl_node *dn = NULL;
        for (size_t k = 0; n && n->kind == DSL_MAP && k < n->n; k++)
            if (!strcmp(n->keys[k]->str, dates[i])) dn = n->vals[k];
        if (dn) json_object_set_new(args, dates[i], date_value(x, dn, tz));
    }
    json_object_del(args, "timezone");
}

/* Merge b into a (b wins), default_args key by key. */
static void merge_dag(json_t *a, json_t *b)
{
    json_t *da = json_object_get(a, "default_args"), *db = json_object_get(b, "default_args");
    json_t *m = json_object();
    if (json_is_object(da)) json_object_update(m, da);
    if (json_is_object(db)) json_object_update(m, db);
    json_object_update(a, b);
    if (json_object_size(m)) json_object_set(a, "default_args", m);
    json_decref(m);
}

/* A node of a map found by key, for positions. */
static const dsl_node *get(const dsl_node *n, const char *k) { return dsl_map_get(n, k); }

typedef struct dgroup { const char *name, *parent; const dsl_node *n; char full[256]; } dgroup;

static const char *group_full(dgroup *g, size_t ng, const char *name, int depth)
{
    for (size_t i = 0; i < ng; i++)
        if (!strcmp(g[i].name, name)) {
            if (!g[i].full[0]) {
                const char *p = g[i].parent && depth < 16 ? group_full(g, ng, g[i].parent, depth + 1) : NULL;
                snprintf(g[i].full, sizeof g[i].full, "%s%s%s", p ? p : "", p ? "." : "", g[i].name);
            }
            return g[i].full;
        }
    return NULL;
}

static void add_edge(json_t *edges, const char *a, const char *b, int line)
{
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
        if (!strcmp(json_string_value(json_object_get(e, "from")), a) && !strcmp(json_string_value(json_object_get(e, "to")), b)) return;
    json_array_append_new(edges, json_pack("{s:s, s:s, s:i, s:n}", "from", a, "to", b, "line", line, "label"));
}

/* The tasks of group g (full id) with no upstream (roots) or no downstream
 * (leaves) inside it. */
static void group_ends(json_t *tasks, json_t *edges, const char *g, int leaves, json_t *out)
{
    size_t gl = strlen(g), i, j;
    json_t *t, *e;
    json_array_foreach(tasks, i, t) {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        if (strncmp(id, g, gl) || id[gl] != '.') continue;
        int inner = 0;
        json_array_foreach(edges, j, e) {
            const char *a = json_string_value(json_object_get(e, "from")), *b = json_string_value(json_object_get(e, "to"));
            const char *self = leaves ? a : b, *other = leaves ? b : a;
            if (!strcmp(self, id) && !strncmp(other, g, gl) && other[gl] == '.') inner = 1;
        }
        if (!inner) json_array_append_new(out, json_string(id));
    }
}

static json_t *dag_ir(dfx *x, const char *dag_id, const dsl_node *dn, json_t *args, const dsl_node *def)
{
    json_t *dag = json_pack("{s:s, s:i, s:i, s:s, s:O, s:[]}", "dag_id", dag_id, "line", dn->line, "col", dn->col, "form",
                            "dag-factory", "args", args, "inputs");
    json_t *tasks = json_array(), *edges = json_array(), *groups = json_array();
    /* task groups: a list with group_name, or a mapping keyed by name */
    const dsl_node *tg = get(dn, "task_groups");
    if (!tg && def) tg = get(def, "task_groups");
    dgroup g[128];
    size_t ng = 0;
    for (size_t i = 0; tg && i < tg->n && ng < 128; i++) {
        const dsl_node *gn = tg->vals[i];
        const dsl_node *nm = tg->kind == DSL_MAP ? tg->keys[i] : get(gn, "group_name");
        if (!nm || nm->kind != DSL_SCALAR || gn->kind != DSL_MAP) {
            note(x, gn, "unsupported", "a task group needs a group_name");
            continue;
        }
        const dsl_node *pg = get(gn, "parent_group_name");
        g[ng] = (dgroup){nm->str, pg && pg->kind == DSL_SCALAR ? pg->str : NULL, gn, ""};
        ng++;
    }
    for (size_t i = 0; i < ng; i++) {
        const char *full = group_full(g, ng, g[i].name, 0);
        json_t *ga = value(x, get(g[i].n, "default_args"));
        json_t *tt = value(x, get(g[i].n, "tooltip"));
        json_array_append_new(groups, json_pack("{s:s, s:i, s:s?, s:o, s:o, s:b}", "group_id", full, "line", g[i].n->line,
                                                "parent", g[i].parent ? group_full(g, ng, g[i].parent, 0) : NULL, "tooltip", tt,
                                                "default_args", json_is_object(ga) ? ga : (json_decref(ga), json_object()),
                                                "prefix_group_id", 1));
    }
    /* tasks: a list with task_id, or a mapping keyed by id */
    const dsl_node *tl = get(dn, "tasks");
    if (!tl) note(x, dn, "warning", "DAG '%s' has no tasks", dag_id);
    json_t *short2full = json_object();
    for (size_t i = 0; tl && i < tl->n; i++) {
        const dsl_node *tn = tl->vals[i];
        const dsl_node *idn = tl->kind == DSL_MAP ? tl->keys[i] : get(tn, "task_id");
        if (!idn || idn->kind != DSL_SCALAR || tn->kind != DSL_MAP) {
            note(x, tn, "unsupported", "a task needs a task_id");
            continue;
        }
        const dsl_node *gname = get(tn, "task_group_name");
        const char *gfull = gname && gname->kind == DSL_SCALAR ? group_full(g, ng, gname->str, 0) : NULL;
        if (gname && !gfull) note(x, gname, "unsupported", "task group '%s' is not defined", gname->kind == DSL_SCALAR ? gname->str : "?");
        char full[512];
        snprintf(full, sizeof full, "%s%s%s", gfull ? gfull : "", gfull ? "." : "", idn->str);
        json_object_set_new(short2full, idn->str, json_string(full));
        json_t *kw = json_object();
        const char *op = NULL, *mod = NULL;
        char opbuf[256] = "", modbuf[256] = "";
        json_t *callable = json_null();
        json_t *expand = json_null(), *partial = json_null();
        for (size_t k = 0; k < tn->n; k++) {
            const char *key = tn->keys[k]->str;
            const dsl_node *v = tn->vals[k];
            if (!strcmp(key, "operator") || !strcmp(key, "decorator")) {
                if (v->kind != DSL_SCALAR) continue;
                const char *dot = strrchr(v->str, '.');
                if (!strcmp(key, "decorator")) {
                    /* airflow.decorators.task -> @task, airflow.sdk.task.bash -> @task.bash */
                    const char *t = strstr(v->str, "task");
                    snprintf(opbuf, sizeof opbuf, "@%s", t ? t : (dot ? dot + 1 : v->str));
                    snprintf(modbuf, sizeof modbuf, "%.*s", (int)(t && t > v->str ? t - v->str - 1 : 0), v->str);
                } else {
                    snprintf(opbuf, sizeof opbuf, "%s", dot ? dot + 1 : v->str);
                    snprintf(modbuf, sizeof modbuf, "%.*s", (int)(dot ? dot - v->str : 0), v->str);
                }
                op = opbuf;
                mod = modbuf[0] ? modbuf : NULL;
            } else if (!strcmp(key, "dependencies") || !strcmp(key, "task_group_name")) {
            } else if (!strcmp(key, "expand")) {
                json_decref(expand);
                expand = value(x, v);
            } else if (!strcmp(key, "partial")) {
                json_decref(partial);
                partial = value(x, v);
            } else if (!strcmp(key, "python_callable") || !strcmp(key, "python_callable_name")) {
                if (v->kind == DSL_SCALAR) {
                    json_decref(callable);
                    callable = json_pack("{s:s, s:s, s:i, s:[]}", "$", "callable", "name", v->str, "line", v->line, "params");
                    json_object_set(kw, "python_callable", callable);
                }
            } else if (!strcmp(key, "python_callable_file")) {
            } else {
                json_t *val = value(x, v);
                json_object_set_new(kw, key, val);
            }
        }
        fix_args(x, kw, tn);
        if (!op) {
            note(x, tn, "unsupported", "task '%s' has no operator", full);
            op = "?";
        }
        json_t *t = json_pack("{s:s, s:s, s:s?, s:i, s:i, s:o, s:s?}", "task_id", full, "operator", op, "module", mod, "line",
                              tn->line, "col", tn->col, "kwargs", kw, "group", gfull);
        if (op[0] == '@') json_object_set(t, "callable", callable);
        json_object_set_new(t, "call_args", json_array());
        json_object_set_new(t, "call_kwargs", json_object());
        json_object_set_new(t, "expand", expand);
        json_object_set_new(t, "partial", partial);
        json_decref(callable);
        json_array_append_new(tasks, t);
    }
    /* dependencies: tasks (short or full ids) or groups */
    for (size_t i = 0; tl && i < tl->n; i++) {
        const dsl_node *tn = tl->vals[i];
        const dsl_node *dp = tn->kind == DSL_MAP ? get(tn, "dependencies") : NULL;
        const dsl_node *idn = tl->kind == DSL_MAP ? tl->keys[i] : get(tn, "task_id");
        if (!dp || !idn || idn->kind != DSL_SCALAR) continue;
        const char *me = json_string_value(json_object_get(short2full, idn->str));
        if (!me) continue;
        if (dp->kind != DSL_SEQ) {
            note(x, dp, "unsupported", "dependencies must be a list");
            continue;
        }
        for (size_t k = 0; k < dp->n; k++) {
            const char *up = dp->vals[k]->kind == DSL_SCALAR ? dp->vals[k]->str : "";
            const char *uf = json_string_value(json_object_get(short2full, up));
            const char *gf = group_full(g, ng, up, 0);
            if (uf) add_edge(edges, uf, me, dp->vals[k]->line);
            else if (gf) {
                json_t *ends = json_array();
                group_ends(tasks, edges, gf, 1, ends);
                size_t j;
                json_t *e;
                json_array_foreach(ends, j, e) add_edge(edges, json_string_value(e), me, dp->vals[k]->line);
                json_decref(ends);
            } else {
                note(x, dp->vals[k], "unsupported", "dependency '%s' names no task or task group", up);
            }
        }
    }
    /* group dependencies: the upstream >> the group's roots */
    for (size_t i = 0; i < ng; i++) {
        const dsl_node *dp = get(g[i].n, "dependencies");
        if (!dp || dp->kind != DSL_SEQ) continue;
        json_t *roots = json_array();
        group_ends(tasks, edges, g[i].full, 0, roots);
        for (size_t k = 0; k < dp->n; k++) {
            const char *up = dp->vals[k]->kind == DSL_SCALAR ? dp->vals[k]->str : "";
            const char *uf = json_string_value(json_object_get(short2full, up));
            const char *gf = group_full(g, ng, up, 0);
            json_t *ups = json_array();
            if (uf) json_array_append_new(ups, json_string(uf));
            else if (gf) group_ends(tasks, edges, gf, 1, ups);
            else note(x, dp->vals[k], "unsupported", "dependency '%s' names no task or task group", up);
            size_t a, b;
            json_t *u, *r;
            json_array_foreach(ups, a, u) json_array_foreach(roots, b, r)
                add_edge(edges, json_string_value(u), json_string_value(r), dp->vals[k]->line);
            json_decref(ups);
        }
        json_decref(roots);
    }
    json_decref(short2full);
    json_object_set_new(dag, "tasks", tasks);
    json_object_set_new(dag, "edges", edges);
    json_object_set_new(dag, "groups", groups);
    return dag;
}

static const char *const DAG_ONLY[] = {"tasks", "task_groups"};

int dsl_dagfactory_parse(const char *path, const char *text, size_t len, json_t **ir, std_diags *diags)
{
    *ir = NULL;
    dsl_doc *doc = NULL;
    size_t before = diags->n;
    if (dsl_yaml_load(path, text, len, &doc, diags) != 0) {
        int strict = 0;
        for (size_t i = before; i < diags->n; i++)
            if (strstr(diags->msgs[i], "anchor") || strstr(diags->msgs[i], "alias") || strstr(diags->msgs[i], "tag")) strict = 1;
        if (strict)
            std_diag(diags, path, 1, 1, "dag-factory files with YAML anchors, aliases or tags are not accepted by wfdsl's "
                                        "strict loader: expand them first (for example with `yq 'explode(.)'`)");
        dsl_doc_free(doc);
        return -1;
    }
    const dsl_node *root = doc->root;
    if (!root || root->kind != DSL_MAP) {
        std_diag(diags, path, root ? root->line : 1, root ? root->col : 1, "a dag-factory file is a mapping of dag_id: {DAG arguments, tasks}");
        dsl_doc_free(doc);
        return -1;
    }
    dfx x = {.file = path, .diags = json_array()};
    const dsl_node *def = get(root, "default");
    json_t *defargs = json_object();
    if (def && def->kind == DSL_MAP) {
        for (size_t i = 0; i < def->n; i++) {
            const char *k = def->keys[i]->str;
            if (strcmp(k, DAG_ONLY[0]) && strcmp(k, DAG_ONLY[1])) json_object_set_new(defargs, k, value(&x, def->vals[i]));
        }
        json_t *da = json_object_get(defargs, "default_args");
        if (json_is_object(da)) fix_args(&x, da, get(def, "default_args"));
        fix_args(&x, defargs, def);
    }
    json_t *dags = json_array();
    for (size_t i = 0; i < root->n; i++) {
        const char *id = root->keys[i]->str;
        const dsl_node *dn = root->vals[i];
        if (!strcmp(id, "default")) continue;
        if (dn->kind != DSL_MAP) {
            note(&x, dn, "warning", "top-level key '%s' is not a DAG (not a mapping); ignored", id);
            continue;
        }
        json_t *args = json_deep_copy(defargs);
        json_t *own = json_object();
        for (size_t k = 0; k < dn->n; k++) {
            const char *key = dn->keys[k]->str;
            if (strcmp(key, DAG_ONLY[0]) && strcmp(key, DAG_ONLY[1])) json_object_set_new(own, key, value(&x, dn->vals[k]));
        }
        json_t *da = json_object_get(own, "default_args");
        if (json_is_object(da)) fix_args(&x, da, get(dn, "default_args"));
        fix_args(&x, own, dn);
        merge_dag(args, own);
        json_decref(own);
        json_array_append_new(dags, dag_ir(&x, id, dn, args, def));
        json_decref(args);
    }
    json_decref(defargs);
    *ir = json_pack("{s:s, s:n, s:n, s:o, s:o}", "source", path, "airflow_version", "version_evidence", "dags", dags,
                    "diagnostics", x.diags);
    dsl_doc_free(doc);
    return 0;
}
