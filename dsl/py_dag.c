/* py_dag.c — what the abstract interpreter of DAG files (py_eval.c) records:
 * DAGs, task groups (ids joined with "."), tasks (operator calls and TaskFlow
 * calls, with unique ids like Airflow's name__1), edges (>>, <<, lists, chain,
 * chain_linear, cross_downstream, Label, XComArgs in arguments, orphan tasks
 * adopted by their first edge), and the completion of a DAG: edges that end
 * on a task group resolved to the group's roots (incoming) and leaves
 * (outgoing), deepest groups first, then deduplicated in source order.
 *
 * It does not evaluate expressions (py_eval.c, py_value.c do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_int.h"

/* ------------------------------------------------------------------ DAGs, groups, tasks */

py_dag *py_dag_at(py_ev *ev, int i) { return i >= 0 && i < ev->ndag ? &ev->dags[i] : NULL; }

int py_dag_new(py_ev *ev, const py_node *n, json_t *dag_id, const char *form, json_t *args)
{
    if (ev->ndag == ev->capdag) {
        ev->capdag = ev->capdag ? ev->capdag * 2 : 4;
        ev->dags = realloc(ev->dags, (size_t)ev->capdag * sizeof *ev->dags);
        if (!ev->dags) abort();
    }
    py_dag *d = &ev->dags[ev->ndag];
    memset(d, 0, sizeof *d);
    char idbuf[64];
    const char *id = json_string_value(dag_id);
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "dag_line_%d", n->line);
        id = idbuf;
        py_diag(ev, n, "unsupported", "the dag_id cannot be evaluated statically; it is named '%s'", id);
    }
    for (int i = 0; i < ev->ndag; i++)
        if (!strcmp(json_string_value(json_object_get(ev->dags[i].ir, "dag_id")), id))
            py_diag(ev, n, "warning", "a second DAG with the id '%s' (Airflow keeps the last one)", id);
    d->ir = json_pack("{s:s, s:i, s:i, s:s, s:o, s:[], s:[], s:[], s:[]}", "dag_id", id, "line", n->line, "col", n->col,
                      "form", form, "args", args, "inputs", "tasks", "edges", "groups");
    d->raw = json_array();
    d->ids = json_object();
    d->gids = json_object();
    d->calls = json_object();
    return ev->ndag++;
}

json_t *py_dag_value(py_ev *ev, int idx, const py_node *n)
{
    py_obj *o;
    json_t *v = pv_obj(ev, O_DAG, &o);
    o->dag = idx;
    o->node = n;
    return v;
}

/* kwargs of a call minus the ones the interpreter consumes, as IR */
json_t *py_kwargs_ir(py_ev *ev, json_t *kw, const char *const *drop)
{
    json_t *r = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(kw, k, v) {
        int skip = 0;
        for (int i = 0; drop && drop[i]; i++) if (!strcmp(k, drop[i])) skip = 1;
        if (!skip) json_object_set_new(r, k, pv_to_ir(ev, v));
    }
    return r;
}

json_t *py_make_dag(py_ev *ev, const py_node *n, json_t *args, json_t *kw)
{
    static const char *const drop[] = {"dag_id", NULL};
    json_t *id = json_array_size(args) ? json_array_get(args, 0) : json_object_get(kw, "dag_id");
    json_t *a = py_kwargs_ir(ev, kw, drop);
    if (json_array_size(args) > 1) json_object_set_new(a, "description", pv_to_ir(ev, json_array_get(args, 1)));
    if (json_object_get(kw, "schedule_interval") && !ev->si_line) ev->si_line = n->line;
    int d = py_dag_new(ev, n, id, "assign", a);
    return py_dag_value(ev, d, n);
}

static json_t *group_value(py_ev *ev, int dag, const char *gid, const py_node *n)
{
    py_obj *o;
    json_t *v = pv_obj(ev, O_GROUP, &o);
    o->dag = dag;
    o->name = strdup(gid);
    o->node = n;
    return v;
}

/* The prefix a task or child group gets in group gid (NULL: none). */
static const char *group_prefix(py_ev *ev, int dag, const char *gid)
{
    py_dag *d = py_dag_at(ev, dag);
    if (!d || !gid) return NULL;
    json_t *g = json_object_get(d->gids, gid);
    if (!g || json_is_false(json_object_get(g, "prefix_group_id"))) return NULL;
    return gid;
}

static char *join_id(const char *prefix, const char *id)
{
    std_buf b = {0};
    if (prefix) std_buf_addf(&b, "%s.", prefix);
    std_buf_adds(&b, id);
    return std_buf_take(&b);
}

/* Suffixes __1, __2... for ids used again (Airflow's unique TaskFlow ids and
 * add_suffix_on_collision): the search goes on from the last one given. */
static json_int_t suffix_start(py_dag *d, const char *base)
{
    json_t *k = json_object_get(d->calls, base);
    return k ? json_integer_value(k) : 1;
}

static void suffix_done(py_dag *d, const char *base, json_int_t k)
{
    json_object_set_new(d->calls, base, json_integer(k + 1));
}

/* Counts a new task or group; past PY_MAX_TASKS the evaluation stops. */
static int over_limit(py_ev *ev, const py_node *n)
{
    if (++ev->ntasks <= PY_MAX_TASKS) return 0;
    if (!ev->stopped) py_diag(ev, n, "unsupported", "evaluation stopped: more than %d tasks and groups", PY_MAX_TASKS);
    ev->stopped = 1;
    return 1;
}

json_t *py_make_group(py_ev *ev, const py_node *n, json_t *idv, json_t *kw, int dag, const char *parent)
{
    py_dag *d = over_limit(ev, n) ? NULL : py_dag_at(ev, dag);
    json_t *pg = json_object_get(kw, "parent_group");
    py_obj *po = pv_get(ev, pg);
    if (po && po->kind == O_GROUP) parent = po->name;
    char idbuf[64];
    const char *label = json_string_value(idv);
    if (!label) {
        snprintf(idbuf, sizeof idbuf, "group_line_%d", n->line);
        label = idbuf;
        py_diag(ev, n, "unsupported", "the group_id cannot be evaluated statically; it is named '%s'", label);
    }
    if (!d) {
        py_diag(ev, n, "warning", "task group '%s' is not in any DAG", label);
        return group_value(ev, -1, label, n);
    }
    char *full = join_id(group_prefix(ev, dag, parent), label);
    if (json_object_get(d->gids, full)) {
        /* @task_group called again: a suffix like Airflow's add_suffix_on_collision */
        json_int_t k = suffix_start(d, full);
        for (;; k++) {
            char *c = malloc(strlen(full) + 24);
            sprintf(c, "%s__%lld", full, (long long)k);
            if (!json_object_get(d->gids, c)) {
                suffix_done(d, full, k);
                free(full);
                full = c;
                break;
            }
            free(c);
        }
    }
    json_t *pfx = json_object_get(kw, "prefix_group_id");
    json_t *g = json_pack("{s:s, s:i, s:s?, s:o, s:o, s:b}", "group_id", full, "line", n->line, "parent", parent,
                          "tooltip", pv_to_ir(ev, json_object_get(kw, "tooltip")),
                          "default_args", json_object_get(kw, "default_args") ? pv_to_ir(ev, json_object_get(kw, "default_args")) : json_object(),
                          "prefix_group_id", pfx ? pv_truth(pfx) != 0 : 1);
    json_array_append_new(json_object_get(d->ir, "groups"), g);
    json_object_set(d->gids, full, g);
    json_t *v = group_value(ev, dag, full, n);
    free(full);
    return v;
}

static json_t *new_task(py_ev *ev, const py_node *n, int dag, const char *gid, const char *label, const char *op,
                        const char *module, json_t *kwargs)
{
    py_dag *d = over_limit(ev, n) ? NULL : py_dag_at(ev, dag);
    char *id = join_id(group_prefix(ev, dag, gid), label);
    json_t *t = json_pack("{s:s, s:s, s:s?, s:i, s:i, s:o, s:s?, s:n, s:[], s:{}, s:n, s:n}", "task_id", id,
                          "operator", op, "module", module, "line", n->line, "col", n->col, "kwargs", kwargs, "group",
                          gid, "callable", "call_args", "call_kwargs", "expand", "partial");
    py_obj *o;
    json_t *v = pv_obj(ev, O_TASK, &o);
    o->name = id;
    o->node = n;
    o->task = t;
    if (d) {
        if (json_object_get(d->ids, id)) {
            py_diag(ev, n, "warning", "duplicate task id '%s' in DAG '%s': this second task is not imported", id,
                    json_string_value(json_object_get(d->ir, "dag_id")));
            json_decref(t);
            o->task = json_object_get(d->ids, id);
            o->dag = dag;
            return v;
        }
        json_array_append_new(json_object_get(d->ir, "tasks"), t);
        json_object_set(d->ids, id, t);
        o->dag = dag;
    } else {
        json_array_append_new(ev->orphans, json_pack("{s:O, s:I}", "task", t, "obj", json_integer_value(json_object_get(v, "$$"))));
        json_decref(t);
    }
    return v;
}

/* The DAG and group a new task or group belongs to: dag= / task_group= kwargs, else the context. */
void py_placement(py_ev *ev, json_t *kw, int *dag, const char **gid)
{
    *dag = ev->cur_dag;
    *gid = ev->cur_group;
    py_obj *o = pv_get(ev, json_object_get(kw, "dag"));
    if (o && o->kind == O_DAG && o->dag != *dag) {
        *dag = o->dag;
        *gid = NULL;
    }
    o = pv_get(ev, json_object_get(kw, "task_group"));
    if (o && o->kind == O_GROUP) {
        *gid = o->name;
        if (o->dag >= 0) *dag = o->dag;
    }
}


static void xcom_edges(py_ev *ev, const py_node *n, json_t *vals, json_t *task)
{
    json_t *found = json_array();
    pv_has_xcom(ev, vals, found);
    size_t i;
    json_t *x;
    json_array_foreach(found, i, x) py_add_edge(ev, n, x, task, NULL);
    json_decref(found);
}

json_t *py_make_operator(py_ev *ev, const py_node *n, const char *cls, const char *module, json_t *kw,
                             json_t *partial, json_t *expand)
{
    static const char *const drop[] = {"dag", "task_group", NULL};
    int dag;
    const char *gid;
    json_t *src = partial ? partial : kw;
    py_placement(ev, src, &dag, &gid);
    json_t *tid = json_object_get(src, "task_id");
    char idbuf[64];
    const char *label = json_string_value(tid);
    if (!label) {
        snprintf(idbuf, sizeof idbuf, "%s_line_%d", cls, n->line);
        label = idbuf;
        py_diag(ev, n, "unsupported", "the task_id of this %s cannot be evaluated statically; it is named '%s'", cls, label);
    }
    json_t *v = new_task(ev, n, dag, gid, label, cls, module, py_kwargs_ir(ev, src, drop));
    py_obj *o = pv_get(ev, v);
    if (partial) {
        json_object_set_new(o->task, "partial", py_kwargs_ir(ev, partial, drop));
        json_object_set_new(o->task, "expand", pv_to_ir(ev, expand));
    }
    xcom_edges(ev, n, src, v);
    if (expand) xcom_edges(ev, n, expand, v);
    return v;
}

/* A call of a @task function: a TaskFlow task; returns its XComArg. */
json_t *py_make_taskflow(py_ev *ev, const py_node *n, py_obj *f, json_t *args, json_t *kw, json_t *extra_kw,
                             json_t *partial, json_t *expand)
{
    int dag = ev->cur_dag;
    const char *gid = ev->cur_group;
    json_t *deco = (f->deco ? json_deep_copy(f->deco) : json_object());
    if (extra_kw) json_object_update(deco, extra_kw);
    py_placement(ev, deco, &dag, &gid);
    const char *label = json_string_value(json_object_get(deco, "task_id"));
    if (!label) label = f->name;
    py_dag *d = py_dag_at(ev, dag);
    char *base = join_id(group_prefix(ev, dag, gid), label), *id = NULL;
    if (d && json_object_get(d->ids, base)) {
        for (json_int_t k = suffix_start(d, base); !id; k++) {
            char *c = malloc(strlen(label) + 24);
            sprintf(c, "%s__%lld", label, (long long)k);
            char *full = join_id(group_prefix(ev, dag, gid), c);
            if (!json_object_get(d->ids, full)) {
                id = c;
                suffix_done(d, base, k);
            } else free(c);
            free(full);
        }
    }
    free(base);
    static const char *const drop[] = {"dag", "task_group", NULL};
    json_t *v = new_task(ev, n, dag, gid, id ? id : label, f->op, "airflow.decorators", py_kwargs_ir(ev, deco, drop));
    free(id);
    py_obj *o = pv_get(ev, v);
    json_object_set_new(o->task, "module", json_null());
    json_object_set_new(o->task, "callable", pv_callable(ev, f, f->scope));
    json_object_set_new(o->task, "call_args", pv_to_ir(ev, args));
    json_object_set_new(o->task, "call_kwargs", pv_to_ir(ev, kw));
    if (partial) json_object_set_new(o->task, "partial", pv_to_ir(ev, partial));
    if (expand) json_object_set_new(o->task, "expand", pv_to_ir(ev, expand));
    xcom_edges(ev, n, args, v);
    xcom_edges(ev, n, kw, v);
    if (partial) xcom_edges(ev, n, partial, v);
    if (expand) xcom_edges(ev, n, expand, v);
    json_decref(deco);
    py_obj *x;
    json_t *xv = pv_obj(ev, O_XCOM, &x);
    x->ref = (int)json_integer_value(json_object_get(v, "$$"));
    x->node = n;
    json_decref(v);
    return xv;
}

/* ------------------------------------------------------------------ edges */

/* The endpoints (task or group objects) of a value, appended to out; 0 if some part is not one. */
static int endpoints(py_ev *ev, json_t *v, json_t *out)
{
    py_obj *o = pv_get(ev, v);
    if (o && (o->kind == O_TASK || o->kind == O_GROUP)) {
        json_array_append(out, v);
        return 1;
    }
    if (o && o->kind == O_XCOM) {
        json_array_append_new(out, json_pack("{s:i}", "$$", o->ref));
        return 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        int ok = 1;
        json_array_foreach(v, i, x) ok &= endpoints(ev, x, out);
        return ok;
    }
    return 0;
}

static void adopt(py_ev *ev, py_obj *o, int dag)
{
    if (o->kind != O_TASK || o->dag >= 0 || dag < 0) return;
    py_dag *d = py_dag_at(ev, dag);
    if (json_object_get(d->ids, o->name)) return;
    json_array_append(json_object_get(d->ir, "tasks"), o->task);
    json_object_set(d->ids, o->name, o->task);
    o->dag = dag;
}

static void raw_edge(py_ev *ev, const py_node *n, json_t *a, json_t *b, const char *label)
{
    py_obj *x = pv_get(ev, a), *y = pv_get(ev, b);
    if (x->dag < 0) adopt(ev, x, y->dag);
    if (y->dag < 0) adopt(ev, y, x->dag);
    if (x->dag < 0 || y->dag < 0) {
        py_diag(ev, n, "warning", "an edge between tasks outside any DAG is ignored");
        return;
    }
    if (x->dag != y->dag) {
        py_diag(ev, n, "warning", "an edge between two DAGs is ignored ('%s' and '%s')", x->name, y->name);
        return;
    }
    json_array_append_new(ev->dags[x->dag].raw, json_pack("[O, O, i, s?]", a, b, n->line, label));
}

void py_add_edge(py_ev *ev, const py_node *n, json_t *from, json_t *to, json_t *label)
{
    if (ev->pure) return;
    json_t *a = json_array(), *b = json_array();
    int oka = endpoints(ev, from, a), okb = endpoints(ev, to, b);
    if (!oka || !okb)
        py_diag(ev, n, "unsupported", "a dependency on something that is not a task is ignored");
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x) json_array_foreach(b, j, y)
        raw_edge(ev, n, x, y, json_string_value(label));
    json_decref(a);
    json_decref(b);
}

json_t *py_label_value(py_ev *ev, const char *text, const py_node *n)
{
    py_obj *o;
    json_t *v = pv_obj(ev, O_LABEL, &o);
    o->name = strdup(text ? text : "");
    o->v = json_array();
    o->node = n;
    return v;
}

/* left >> right (Airflow's set_downstream with Label edge modifiers); returns right. */
json_t *py_shift(py_ev *ev, const py_node *n, json_t *l, json_t *r)
{
    py_obj *lo = pv_get(ev, l), *ro = pv_get(ev, r);
    if (ro && ro->kind == O_LABEL) {
        endpoints(ev, l, ro->v);
        return json_incref(r);
    }
    if (lo && lo->kind == O_LABEL) {
        json_t *t = json_string(lo->name);
        py_add_edge(ev, n, lo->v, r, t);
        json_decref(t);
        return json_incref(r);
    }
    if (json_is_array(l) && json_is_array(r))
        py_diag(ev, n, "warning", "list >> list is an error in Airflow; every pair is linked");
    py_add_edge(ev, n, l, r, NULL);
    return json_incref(r);
}

static json_t *flat_args(json_t *args)
{
    return json_incref(args);
}

void py_chain(py_ev *ev, const py_node *n, json_t *args, int linear)
{
    json_t *a = flat_args(args);
    for (size_t i = 0; i + 1 < json_array_size(a); i++) {
        json_t *up = json_array_get(a, i), *down = json_array_get(a, i + 1);
        if (!linear && json_is_array(up) && json_is_array(down)) {
            if (json_array_size(up) != json_array_size(down)) {
                py_diag(ev, n, "warning", "chain() of two lists of different lengths (%zu and %zu) is an error in Airflow",
                        json_array_size(up), json_array_size(down));
                continue;
            }
            for (size_t k = 0; k < json_array_size(up); k++) {
                json_t *r = py_shift(ev, n, json_array_get(up, k), json_array_get(down, k));
                json_decref(r);
            }
        } else if (json_is_array(up) && !json_is_array(down)) {
            for (size_t k = 0; k < json_array_size(up); k++) json_decref(py_shift(ev, n, json_array_get(up, k), down));
        } else if (json_is_array(down)) {
            for (size_t k = 0; k < json_array_size(down); k++) json_decref(py_shift(ev, n, up, json_array_get(down, k)));
        } else {
            json_decref(py_shift(ev, n, up, down));
        }
    }
    json_decref(a);
}

/* ------------------------------------------------------------------ DAG completion */

typedef struct resolve {
    py_ev *ev;
    py_dag *d;
    json_t *memo;    /* group id -> {"roots": [...], "leaves": [...]} */
    int depth;
} resolve;

static const char *group_parent(resolve *r, const char *g)
{
    return json_string_value(json_object_get(json_object_get(r->d->gids, g), "parent"));
}

/* g is G or nested (strictly when strict) in G */
static int group_within(resolve *r, const char *g, const char *G, int strict)
{
    int k = 0;
    if (strict && g) g = group_parent(r, g);
    for (; g && k < 10000; g = group_parent(r, g), k++)
        if (!strcmp(g, G)) return 1;
    return 0;
}

static int end_within(resolve *r, py_obj *o, const char *G)
{
    if (o->kind == O_TASK) return group_within(r, json_string_value(json_object_get(o->task, "group")), G, 0);
    return group_within(r, o->name, G, 1);
}

static json_t *group_ends(resolve *r, const char *G);

static json_t *expand_end(resolve *r, py_obj *o, int from)
{
    if (o->kind == O_TASK) return json_pack("[s]", o->name);
    json_t *e = group_ends(r, o->name);
    return json_incref(json_object_get(e, from ? "leaves" : "roots"));
}

static json_t *group_ends(resolve *r, const char *G)
{
    json_t *m = json_object_get(r->memo, G);
    if (m) return m;
    if (++r->depth > 200) {
        r->depth--;
        return NULL;
    }
    json_t *inb = json_object(), *outb = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(r->d->raw, i, e) {
        py_obj *a = pv_get(r->ev, json_array_get(e, 0)), *b = pv_get(r->ev, json_array_get(e, 1));
        if (!end_within(r, a, G) || !end_within(r, b, G)) continue;
        json_t *fa = expand_end(r, a, 1), *tb = expand_end(r, b, 0);
        size_t x, y;
        json_t *u, *v;
        json_array_foreach(fa, x, u) json_array_foreach(tb, y, v) {
            json_object_set_new(outb, json_string_value(u), json_true());
            json_object_set_new(inb, json_string_value(v), json_true());
        }
        json_decref(fa);
        json_decref(tb);
    }
    json_t *roots = json_array(), *leaves = json_array();
    json_t *t;
    json_array_foreach(json_object_get(r->d->ir, "tasks"), i, t) {
        if (!group_within(r, json_string_value(json_object_get(t, "group")), G, 0)) continue;
        const char *id = json_string_value(json_object_get(t, "task_id"));
        if (!json_object_get(inb, id)) json_array_append_new(roots, json_string(id));
        if (!json_object_get(outb, id)) json_array_append_new(leaves, json_string(id));
    }
    json_decref(inb);
    json_decref(outb);
    m = json_pack("{s:o, s:o}", "roots", roots, "leaves", leaves);
    json_object_set_new(r->memo, G, m);
    r->depth--;
    return m;
}

void py_finish_dag(py_ev *ev, py_dag *d)
{
    resolve r = {ev, d, json_object(), 0};
    json_t *edges = json_object_get(d->ir, "edges"), *seen = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(d->raw, i, e) {
        py_obj *a = pv_get(ev, json_array_get(e, 0)), *b = pv_get(ev, json_array_get(e, 1));
        json_t *fa = expand_end(&r, a, 1), *tb = expand_end(&r, b, 0);
        if (!fa || !tb || (!json_array_size(fa) && a->kind == O_GROUP) || (!json_array_size(tb) && b->kind == O_GROUP)) {
            json_t *ln = json_array_get(e, 2);
            py_node at = {0};
            at.line = (int)json_integer_value(ln);
            py_diag(ev, &at, "warning", "an edge with the empty task group '%s' links nothing",
                    a->kind == O_GROUP && !json_array_size(fa) ? a->name : b->name);
        }
        size_t x, y;
        json_t *u, *v;
        json_array_foreach(fa, x, u) json_array_foreach(tb, y, v) {
            std_buf k = {0};
            std_buf_addf(&k, "%s\n%s", json_string_value(u), json_string_value(v));
            if (!json_object_get(seen, k.p)) {
                json_object_set_new(seen, k.p, json_true());
                if (strcmp(json_string_value(u), json_string_value(v)))
                    json_array_append_new(edges, json_pack("{s:O, s:O, s:O, s:O}", "from", u, "to", v, "line",
                                                           json_array_get(e, 2), "label", json_array_get(e, 3)));
            }
            std_buf_free(&k);
        }
        json_decref(fa);
        json_decref(tb);
    }
    json_decref(seen);
    json_decref(r.memo);
}
