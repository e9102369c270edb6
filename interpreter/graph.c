/* graph.c — `wfdsl graph`: a workflow's structure as Graphviz DOT, Mermaid
 * or indented text, drawn from its checked node tree.
 *
 * Steps follow each other in file order; block steps (parallel, foreach,
 * loop, switch, try, saga) are boxes around their steps; a `dag` step is a
 * box of its tasks joined by their `needs`, labelled with their trigger
 * rule when it is not all_success, and with branch / short circuit. It
 * draws what the file declares, not a run: which branch a run took is in
 * `wfdsl show`. catch, finally, compensate and on_error steps are not
 * drawn. It does not check the file: callers compile it first.
 */
#include "graph.h"
#include "../dsl/compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gnode {
    int id;        /* n<id> */
    int cluster;   /* enclosing cluster, 0: none */
    char label[300];
} gnode;

typedef struct gclus {
    int id, parent;
    char label[300];
} gclus;

typedef struct graph {
    gnode *nodes;
    size_t nn;
    gclus *clus;
    size_t nc;
    int (*edges)[2];
    size_t ne;
    std_buf text; /* the text format, written while walking */
} graph;

/* A set of node ids (the entries or exits of a drawn part). */
typedef struct ends {
    int *v;
    size_t n;
} ends;

static void ends_add(ends *s, int x)
{
    s->v = realloc(s->v, (s->n + 1) * sizeof *s->v);
    if (!s->v) abort();
    s->v[s->n++] = x;
}

static void ends_cat(ends *s, const ends *t)
{
    for (size_t i = 0; i < t->n; i++) ends_add(s, t->v[i]);
}

static int add_node(graph *g, int cluster, const char *label)
{
    g->nodes = realloc(g->nodes, (g->nn + 1) * sizeof *g->nodes);
    if (!g->nodes) abort();
    gnode *n = &g->nodes[g->nn];
    n->id = (int)++g->nn;
    n->cluster = cluster;
    snprintf(n->label, sizeof n->label, "%s", label);
    return n->id;
}

static int add_cluster(graph *g, int parent, const char *label)
{
    g->clus = realloc(g->clus, (g->nc + 1) * sizeof *g->clus);
    if (!g->clus) abort();
    gclus *c = &g->clus[g->nc];
    c->id = (int)++g->nc;
    c->parent = parent;
    snprintf(c->label, sizeof c->label, "%s", label);
    return c->id;
}

static void add_edge(graph *g, int from, int to)
{
    g->edges = realloc(g->edges, (g->ne + 1) * sizeof *g->edges);
    if (!g->edges) abort();
    g->edges[g->ne][0] = from;
    g->edges[g->ne][1] = to;
    g->ne++;
}

static void connect(graph *g, const ends *from, const ends *to)
{
    for (size_t i = 0; i < from->n; i++)
        for (size_t j = 0; j < to->n; j++) add_edge(g, from->v[i], to->v[j]);
}

static const char *kind_of(const dsl_node *st)
{
    const char *k = dsl_step_kind(st);
    return k ? k : "?";
}

static void seq(graph *g, const dsl_node *steps, int cluster, int depth, ends *in, ends *out);

/* Draw one step (name: a dag task's name, else NULL); its entry and exit
 * nodes go to in and out. */
static void step(graph *g, const dsl_node *st, const char *name, int cluster, int depth, ends *in,
                 ends *out)
{
    const char *kind = kind_of(st);
    const dsl_node *id = dsl_map_get(st, "id");
    const char *label = name ? name : id && id->kind == DSL_SCALAR ? id->str : NULL;
    char text[300];
    if (label) snprintf(text, sizeof text, "%s: %s", label, kind);
    else snprintf(text, sizeof text, "%s", kind);
    std_buf_addf(&g->text, "%*s%s", depth * 2, "", text);
    const dsl_node *v = dsl_map_get(st, kind);
    static const char *const bodies[] = {"foreach", "loop", "try", "saga"};
    int body = 0;
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) body |= !strcmp(kind, bodies[k]);
    if (!strcmp(kind, "dag") && v) {
        std_buf_adds(&g->text, "\n");
        int c = add_cluster(g, cluster, text);
        const dsl_node *tasks = dsl_map_get(v, "tasks");
        size_t n = tasks && tasks->kind == DSL_MAP ? tasks->n : 0;
        int *ids = calloc(n ? n : 1, sizeof *ids);
        if (!ids) abort();
        for (size_t i = 0; i < n; i++) { /* one node per task, labelled with its join */
            const dsl_node *t = tasks->vals[i], *tr = dsl_map_get(t, "trigger"),
                           *br = dsl_map_get(t, "branch"), *sc = dsl_map_get(t, "short_circuit"),
                           *needs = dsl_map_get(t, "needs");
            char tl[300];
            snprintf(tl, sizeof tl, "%s: %s%s%s%s%s%s", tasks->keys[i]->str, kind_of(t),
                     tr ? " [" : "", tr ? tr->str : "", tr ? "]" : "",
                     br && !strcmp(br->str, "true") ? " (branch)" : "",
                     sc ? " (short circuit)" : "");
            ids[i] = add_node(g, c, tl);
            std_buf_addf(&g->text, "%*s%s", (depth + 1) * 2, "", tl);
            for (size_t k = 0; needs && needs->kind == DSL_SEQ && k < needs->n; k++)
                std_buf_addf(&g->text, "%s%s", k ? ", " : "  <- ", needs->vals[k]->str);
            std_buf_adds(&g->text, "\n");
        }
        for (size_t i = 0; i < n; i++) {
            const dsl_node *needs = dsl_map_get(tasks->vals[i], "needs");
            int root = 1, leaf = 1;
            for (size_t k = 0; needs && needs->kind == DSL_SEQ && k < needs->n; k++)
                for (size_t j = 0; j < n; j++)
                    if (!strcmp(tasks->keys[j]->str, needs->vals[k]->str)) {
                        add_edge(g, ids[j], ids[i]);
                        root = 0;
                    }
            for (size_t j = 0; j < n; j++) { /* a leaf: no task needs it */
                const dsl_node *nj = dsl_map_get(tasks->vals[j], "needs");
                for (size_t k = 0; nj && nj->kind == DSL_SEQ && k < nj->n; k++)
                    leaf &= strcmp(nj->vals[k]->str, tasks->keys[i]->str) != 0;
            }
            if (root) ends_add(in, ids[i]);
            if (leaf) ends_add(out, ids[i]);
        }
        free(ids);
    } else if (!strcmp(kind, "parallel") && v) {
        std_buf_adds(&g->text, "\n");
        int c = add_cluster(g, cluster, text);
        const dsl_node *brs = dsl_map_get(v, "branches");
        for (size_t i = 0; brs && brs->kind == DSL_MAP && i < brs->n; i++) {
            std_buf_addf(&g->text, "%*sbranch %s\n", (depth + 1) * 2, "", brs->keys[i]->str);
            int bc = add_cluster(g, c, brs->keys[i]->str);
            seq(g, brs->vals[i], bc, depth + 2, in, out);
        }
    } else if (!strcmp(kind, "switch") && v && v->kind == DSL_SEQ) {
        std_buf_adds(&g->text, "\n");
        int c = add_cluster(g, cluster, text);
        for (size_t i = 0; i < v->n; i++) {
            const dsl_node *w = dsl_map_get(v->vals[i], "when"), *d = dsl_map_get(v->vals[i], "default");
            char bl[300];
            snprintf(bl, sizeof bl, "%s%s", w ? "when " : "default", w && w->kind == DSL_SCALAR ? w->str : "");
            std_buf_addf(&g->text, "%*s%s\n", (depth + 1) * 2, "", bl);
            int bc = add_cluster(g, c, bl);
            seq(g, w ? dsl_map_get(v->vals[i], "steps") : d, bc, depth + 2, in, out);
        }
    } else if (body && v) {
        std_buf_adds(&g->text, "\n");
        seq(g, dsl_map_get(v, "steps"), add_cluster(g, cluster, text), depth + 1, in, out);
    } else {
        std_buf_adds(&g->text, "\n");
        int x = add_node(g, cluster, text);
        ends_add(in, x);
        ends_add(out, x);
    }
}

static void seq(graph *g, const dsl_node *steps, int cluster, int depth, ends *in, ends *out)
{
    ends prev = {0};
    int first = 1;
    for (size_t i = 0; steps && steps->kind == DSL_SEQ && i < steps->n; i++) {
        ends si = {0}, so = {0};
        step(g, steps->vals[i], NULL, cluster, depth, &si, &so);
        if (first) ends_cat(in, &si);
        else connect(g, &prev, &si);
        first = 0;
        free(prev.v);
        prev = so;
        free(si.v);
    }
    ends_cat(out, &prev);
    free(prev.v);
}

/* Quote s for DOT and Mermaid labels. */
static void quoted(std_buf *b, const char *s)
{
    std_buf_adds(b, "\"");
    for (; *s; s++) {
        if (*s == '"') std_buf_adds(b, "\\\"");
        else if (*s == '\\') std_buf_adds(b, "\\\\");
        else if (*s == '\n') std_buf_adds(b, " ");
        else std_buf_add(b, s, 1);
    }
    std_buf_adds(b, "\"");
}

static void mermaid_label(std_buf *b, const char *s)
{
    std_buf_adds(b, "\"");
    for (; *s; s++) {
        if (*s == '"') std_buf_adds(b, "#quot;");
        else if (*s == '\n') std_buf_adds(b, " ");
        else std_buf_add(b, s, 1);
    }
    std_buf_adds(b, "\"");
}

/* The nodes and sub-clusters of cluster c, nested. */
static void emit_cluster(const graph *g, int c, int dot, int depth, std_buf *out)
{
    for (size_t i = 0; i < g->nn; i++) {
        if (g->nodes[i].cluster != c) continue;
        std_buf_addf(out, "%*sn%d", depth * 2, "", g->nodes[i].id);
        if (dot) {
            std_buf_adds(out, " [label=");
            quoted(out, g->nodes[i].label);
            std_buf_adds(out, "];\n");
        } else {
            std_buf_adds(out, "[");
            mermaid_label(out, g->nodes[i].label);
            std_buf_adds(out, "]\n");
        }
    }
    for (size_t i = 0; i < g->nc; i++) {
        if (g->clus[i].parent != c) continue;
        if (dot) {
            std_buf_addf(out, "%*ssubgraph cluster_%d {\n%*slabel=", depth * 2, "", g->clus[i].id,
                         depth * 2 + 2, "");
            quoted(out, g->clus[i].label);
            std_buf_adds(out, ";\n");
        } else {
            std_buf_addf(out, "%*ssubgraph c%d[", depth * 2, "", g->clus[i].id);
            mermaid_label(out, g->clus[i].label);
            std_buf_adds(out, "]\n");
        }
        emit_cluster(g, g->clus[i].id, dot, depth + 1, out);
        std_buf_addf(out, "%*s%s\n", depth * 2, "", dot ? "}" : "end");
    }
}

int vm_graph(const dsl_doc *doc, const char *format, std_buf *out, std_err *e)
{
    int dot = !strcmp(format, "dot"), mermaid = !strcmp(format, "mermaid");
    if (!dot && !mermaid && strcmp(format, "text") != 0)
        return std_errf(e, "usage", "unknown graph format '%s' (use dot, mermaid or text)", format);
    graph g = {0};
    const dsl_node *name = dsl_map_get(doc->root, "name");
    const char *title = name && name->kind == DSL_SCALAR ? name->str : doc->file;
    std_buf_addf(&g.text, "%s\n", title);
    ends in = {0}, outs = {0};
    seq(&g, dsl_map_get(doc->root, "steps"), 0, 1, &in, &outs);
    free(in.v);
    free(outs.v);
    if (dot) {
        std_buf_adds(out, "digraph ");
        quoted(out, title);
        std_buf_adds(out, " {\n  rankdir=TB;\n  node [shape=box];\n");
        emit_cluster(&g, 0, 1, 1, out);
        for (size_t i = 0; i < g.ne; i++) std_buf_addf(out, "  n%d -> n%d;\n", g.edges[i][0], g.edges[i][1]);
        std_buf_adds(out, "}\n");
    } else if (mermaid) {
        std_buf_adds(out, "flowchart TB\n");
        emit_cluster(&g, 0, 0, 1, out);
        for (size_t i = 0; i < g.ne; i++) std_buf_addf(out, "  n%d --> n%d\n", g.edges[i][0], g.edges[i][1]);
    } else {
        std_buf_add(out, g.text.p, g.text.len);
    }
    free(g.nodes);
    free(g.clus);
    free(g.edges);
    std_buf_free(&g.text);
    return 0;
}
