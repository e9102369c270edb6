/* asl_struct.c — the structured translation of an ASL machine: a chain of
 * Next becomes a sequence of steps named after the states, a Choice a
 * `switch` rejoining at the immediate post-dominator, a cycle a `loop`,
 * Retry/Catch a `try`, Parallel `parallel`, Map `foreach`. It does not
 * validate (asl.c did), does not write YAML, and falls back to the dispatcher
 * of asl.c for a part with no such form. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asl_int.h"

/* ---- the structured form --------------------------------------------------------- */
/* A machine whose state graph has a structure becomes steps a person reads
 * top to bottom: a chain of Next is a sequence of steps named after the
 * states; a Choice (or a Task, Parallel or Map with Catch) a step that
 * decides, then a `switch` whose branches hold the states reachable only
 * through them, rejoining at the immediate post-dominator; a cycle left
 * through one Choice a `loop` with an `until`. The JSON data flows from step
 * to step: each state's step reads the output of the step before it (an
 * expression known here); ASL variables are the workflow variable asl_vars.
 * What has no such form (Assign in a branch or processor, task tokens,
 * races, loops in loops, jumps that do not nest) keeps the dispatcher, for
 * that machine, branch or processor only, with a comment saying why. */

#define S_EXIT (-1)
#define S_NONE (-2)
#define S_MAX 200

typedef struct G {
    dsl_asl_ctx *x;
    int n, nested, in_loop;
    const char *name[S_MAX];
    json_t *st[S_MAX];
    const char *id[S_MAX];   /* the step id of each state (its main step) */
    int *succ[S_MAX];        /* distinct targets, S_EXIT for an end; back edges excluded */
    int ns[S_MAX];
    int latch_of[S_MAX];     /* loop header -> the Choice that leaves the loop, or -1 */
    int cont[S_MAX];         /* loop header -> the target of that Choice that stays in it */
    int src_of[S_MAX];       /* loop header -> the state that goes back to it */
    int back[S_MAX];         /* that state -> its header, or -1 */
    char body[S_MAX][S_MAX]; /* header -> the states of its loop */
    int live[S_MAX + 1];
    char pdom[S_MAX + 1][S_MAX + 1]; /* index n is the end */
    int ipdom[S_MAX];
    int emitted[S_MAX], looping[S_MAX];
    int straight;            /* states so far on the straight path from the start, or -1 */
    char why[300];           /* why the machine cannot be structured */
    char dexp[S_MAX][700];   /* branch node: the Lua expression of its decision */
    char ddef[S_MAX][700];   /* its default key ("" none) */
} G;

static int g_idx(G *g, const char *name)
{
    for (int i = 0; name && i < g->n; i++)
        if (!strcmp(g->name[i], name)) return i;
    return S_NONE;
}

static const char *g_type(G *g, int i) { return json_string_value(json_object_get(g->st[i], "Type")); }

static void g_add(G *g, int v, int t)
{
    for (int k = 0; k < g->ns[v]; k++)
        if (g->succ[v][k] == t) return;
    g->succ[v][g->ns[v]++] = t;
}

static int g_is(G *g, int i, const char *type) { return !strcmp(g_type(g, i), type); }

/* Does a string anywhere in v name an ASL variable ($name)? */
int dsl_asl_uses_vars(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (const char *p = strchr(s, '$'); p; p = strchr(p + 1, '$'))
            if ((isalpha((unsigned char)p[1]) || p[1] == '_') && (p == s || p[-1] != '$')) return 1;
        return 0;
    }
    const char *k;
    json_t *e;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, e) {
            if (!strcmp(k, "Assign") || dsl_asl_uses_vars(e)) return 1;
        }
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (dsl_asl_uses_vars(e)) return 1;
    }
    return 0;
}

/* Does a Catch of st have an Assign? */
static int catch_assigns(json_t *st)
{
    json_t *ca = json_object_get(st, "Catch");
    for (size_t i = 0; i < json_array_size(ca); i++)
        if (json_object_get(json_array_get(ca, i), "Assign")) return 1;
    return 0;
}

/* Why state st has no structured form here (NULL: it has one). Nested
 * machines are judged on their own. */
static const char *g_unsupported(json_t *st, int nested)
{
    const char *type = json_string_value(json_object_get(st, "Type"));
    int assigns = json_object_get(st, "Assign") != NULL || catch_assigns(st);
    json_t *ch = json_object_get(st, "Choices");
    for (size_t k = 0; k < json_array_size(ch); k++) assigns |= json_object_get(json_array_get(ch, k), "Assign") != NULL;
    if (assigns && nested)
        return "it assigns ASL variables, which a Parallel branch or Map iteration keeps to itself (the dispatcher's record)";
    if (!strcmp(type, "Task")) {
        if (dsl_asl_is_token_task(st)) return "a .waitForTaskToken Task waits in the dispatcher's token loop";
        if (json_object_get(st, "TimeoutSecondsPath") || json_object_get(st, "HeartbeatSeconds"))
            return "a Task with TimeoutSecondsPath or HeartbeatSeconds races a timer";
    }
    if (!strcmp(type, "Choice") && (json_object_get(st, "InputPath") || json_object_get(st, "OutputPath")))
        return "a Choice with InputPath or OutputPath";
    return NULL;
}

static void g_free(G *g)
{
    for (int i = 0; i < g->n; i++) free(g->succ[i]);
}

/* Build the graph of machine m; 0, or -1 with g->why. */
static int g_build(G *g, dsl_asl_ctx *x, json_t *m, int nested)
{
    memset(g, 0, sizeof *g);
    g->x = x;
    g->straight = 0;
    json_t *states = json_object_get(m, "States");
    if (json_object_size(states) > S_MAX) {
        snprintf(g->why, sizeof g->why, "it has more than %d states", S_MAX);
        return -1;
    }
    const char *name;
    json_t *st;
    json_object_foreach(states, name, st) {
        g->name[g->n] = name;
        g->st[g->n] = st;
        g->latch_of[g->n] = g->back[g->n] = g->src_of[g->n] = g->cont[g->n] = -1;
        g->n++;
    }
    for (int i = 0; i < g->n; i++) {
        g->succ[i] = calloc((size_t)g->n + 2, sizeof(int));
        const char *why = g_unsupported(g->st[i], nested);
        if (why && !g->why[0]) snprintf(g->why, sizeof g->why, "state '%s': %s", g->name[i], why);
        json_t *s = g->st[i];
        if (g_is(g, i, "Choice")) {
            json_t *ch = json_object_get(s, "Choices");
            for (size_t k = 0; k < json_array_size(ch); k++)
                g_add(g, i, g_idx(g, json_string_value(json_object_get(json_array_get(ch, k), "Next"))));
            if (json_object_get(s, "Default")) g_add(g, i, g_idx(g, json_string_value(json_object_get(s, "Default"))));
        } else if (g_is(g, i, "Succeed")) {
            g_add(g, i, S_EXIT);
        } else if (!g_is(g, i, "Fail")) {
            json_t *nx = json_object_get(s, "Next");
            g_add(g, i, nx ? g_idx(g, json_string_value(nx)) : S_EXIT);
            json_t *ca = json_object_get(s, "Catch");
            for (size_t k = 0; k < json_array_size(ca); k++)
                g_add(g, i, g_idx(g, json_string_value(json_object_get(json_array_get(ca, k), "Next"))));
        }
    }
    return g->why[0] ? -1 : 0;
}

/* Depth-first from v: edges into a state on the stack are back edges. */
static void g_dfs(G *g, int v, char *on, char *seen)
{
    seen[v] = on[v] = 1;
    for (int k = 0; k < g->ns[v]; k++) {
        int t = g->succ[v][k];
        if (t < 0) continue;
        if (on[t]) {
            /* a loop t ... v: one way back per header */
            if ((v == t && !g_is(g, v, "Choice")) || g->src_of[t] >= 0 || g->back[v] >= 0) {
                if (!g->why[0])
                    snprintf(g->why, sizeof g->why, "the cycle back to '%s' from '%s' is not one loop with one way back",
                             g->name[t], g->name[v]);
            } else {
                g->src_of[t] = v;
                g->back[v] = t;
            }
        } else if (!seen[t]) {
            g_dfs(g, t, on, seen);
        }
    }
    on[v] = 0;
}

static void g_remove(G *g, int v, int t)
{
    for (int k = 0; k < g->ns[v]; k++)
        if (g->succ[v][k] == t) {
            memmove(&g->succ[v][k], &g->succ[v][k + 1], (size_t)(g->ns[v] - k - 1) * sizeof(int));
            g->ns[v]--;
            return;
        }
}

/* Loops, liveness and post-dominators; 0, or -1 with g->why. */
static int g_analyse(G *g, int start)
{
    int n = g->n;
    char on[S_MAX] = {0}, seen[S_MAX] = {0};
    g_dfs(g, start, on, seen);
    if (g->why[0]) return -1;
    for (int h = 0; h < n; h++) {
        int u = g->src_of[h];
        if (u < 0) continue;
        g_remove(g, u, h);
        /* the loop: h and every state that reaches u without passing h */
        char *b = g->body[h];
        b[h] = b[u] = 1;
        for (int changed = 1; changed;) {
            changed = 0;
            for (int v = 0; v < n; v++) {
                if (b[v] || v == h) continue;
                for (int k = 0; k < g->ns[v]; k++)
                    if (g->succ[v][k] >= 0 && b[g->succ[v][k]] && g->succ[v][k] != h) {
                        b[v] = changed = 1;
                        break;
                    }
            }
        }
    }
    /* live: can end normally (or go round a loop) */
    for (int v = 0; v < n; v++) g->live[v] = g->back[v] >= 0;
    g->live[n] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int v = 0; v < n; v++)
            for (int k = 0; !g->live[v] && k < g->ns[v]; k++) {
                int t = g->succ[v][k];
                if (g->live[t < 0 ? n : t]) g->live[v] = changed = 1;
            }
    }
    /* each loop is left through one Choice (or by failing): the loop runs
     * from its header to that Choice, then back round through the Choice's
     * one target inside the loop */
    for (int h = 0; h < n; h++) {
        if (g->src_of[h] < 0) continue;
        int c = -1, nlive = 0, cdead = -1, ndead = 0;
        for (int v = 0; v < n; v++) {
            if (!g->body[h][v]) continue;
            if (v != h && g->src_of[v] >= 0) {
                snprintf(g->why, sizeof g->why, "the loop at '%s' is inside the loop at '%s'", g->name[v], g->name[h]);
                return -1;
            }
            int lv = 0, dd = 0;
            for (int k = 0; k < g->ns[v]; k++) {
                int t = g->succ[v][k];
                if (t >= 0 && g->body[h][t]) continue;
                if (t < 0 || g->live[t]) lv = 1;
                else dd = 1;
            }
            if (lv) c = v, nlive++;
            if (dd && g_is(g, v, "Choice")) cdead = v, ndead++;
        }
        if (!nlive && ndead == 1) c = cdead, nlive = 1;
        if (nlive != 1 || !g_is(g, c, "Choice")) {
            snprintf(g->why, sizeof g->why, "the loop at '%s' is not left through one Choice", g->name[h]);
            return -1;
        }
        if (c != g->src_of[h] && g->ns[g->src_of[h]]) {
            snprintf(g->why, sizeof g->why, "'%s' goes back to '%s' or elsewhere", g->name[g->src_of[h]], g->name[h]);
            return -1;
        }
        int t = c == g->src_of[h] ? h : -1, in = 0;
        for (int k = 0; k < g->ns[c]; k++)
            if (g->succ[c][k] >= 0 && g->body[h][g->succ[c][k]]) t = g->succ[c][k], in++;
        if (in > (c == g->src_of[h] ? 0 : 1) || t < 0) {
            snprintf(g->why, sizeof g->why, "the Choice '%s' that leaves the loop at '%s' has more than one way round it",
                     g->name[c], g->name[h]);
            return -1;
        }
        g->latch_of[h] = c;
        g->cont[h] = t;
        g->live[c] = 1;
        if (t != h) g_remove(g, c, t);
    }
    /* post-dominators over the live successors (the end is index n) */
    for (int v = 0; v <= n; v++) memset(g->pdom[v], v != n, (size_t)n + 1);
    g->pdom[n][n] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int v = 0; v < n; v++) {
            char acc[S_MAX + 1];
            int any = 0;
            memset(acc, 1, (size_t)n + 1);
            for (int k = 0; k < g->ns[v]; k++) {
                int t = g->succ[v][k], ti = t < 0 ? n : t;
                if (!g->live[ti]) continue;
                any = 1;
                for (int w = 0; w <= n; w++) acc[w] &= g->pdom[ti][w];
            }
            if (!any) memset(acc, 0, (size_t)n + 1);
            acc[v] = 1;
            if (memcmp(acc, g->pdom[v], (size_t)n + 1)) {
                memcpy(g->pdom[v], acc, (size_t)n + 1);
                changed = 1;
            }
        }
    }
    for (int v = 0; v < n; v++) {
        int best = S_NONE, bc = -1;
        for (int w = 0; w <= n; w++) {
            if (w == v || !g->pdom[v][w]) continue;
            int c = 0;
            for (int z = 0; z <= n; z++) c += g->pdom[w][z];
            if (c > bc) bc = c, best = w == n ? S_EXIT : w;
        }
        g->ipdom[v] = best;
    }
    return 0;
}

/* ---- Lua text of the structured form ---- */

static void lua_indent(std_buf *b, int depth)
{
    for (int i = 0; i < 2 * depth; i++) std_buf_add(b, " ", 1);
}

/* A payload template (Parameters, ResultSelector, Assign) as a Lua value over
 * the variable src: "x.$" fields become calls of asl.<get> (asl.param for
 * Parameters: a path that selects nothing is States.ParameterPathFailure;
 * asl.get elsewhere: States.Runtime), the rest literals. */
static void tmpl_lua(std_buf *b, json_t *t, const char *src, const char *state, int depth, const char *get)
{
    if (json_is_object(t) && json_object_size(t)) {
        std_buf_adds(b, "{\n");
        const char *k;
        json_t *v;
        json_object_foreach(t, k, v) {
            lua_indent(b, depth + 1);
            size_t n = strlen(k);
            if (n > 2 && !strcmp(k + n - 2, ".$") && json_is_string(v)) {
                char base[512];
                snprintf(base, sizeof base, "%.*s", (int)(n - 2), k);
                dsl_asl_lua_key(b, base);
                const char *e = json_string_value(v);
                int call = !strncmp(e, "States.", 7);
                std_buf_addf(b, " = asl.%s(%s, ", call ? "eval" : get, src);
                dsl_asl_lua_str(b, e, strlen(e));
                if (!call) { /* the field, for the message when the path points nowhere */
                    std_buf_adds(b, ", ");
                    dsl_asl_lua_str(b, k, n);
                }
                if (strstr(e, "$$")) {
                    std_buf_adds(b, ", ");
                    dsl_asl_lua_str(b, state, strlen(state));
                }
                std_buf_adds(b, "),\n");
            } else {
                dsl_asl_lua_key(b, k);
                std_buf_adds(b, " = ");
                tmpl_lua(b, v, src, state, depth + 1, get);
                std_buf_adds(b, ",\n");
            }
        }
        lua_indent(b, depth);
        std_buf_adds(b, "}");
    } else if (json_is_array(t) && json_array_size(t)) {
        std_buf_adds(b, "json.array({\n");
        for (size_t i = 0; i < json_array_size(t); i++) {
            lua_indent(b, depth + 1);
            tmpl_lua(b, json_array_get(t, i), src, state, depth + 1, get);
            std_buf_adds(b, ",\n");
        }
        lua_indent(b, depth);
        std_buf_adds(b, "})");
    } else {
        dsl_asl_lua_lit(b, t, depth, 1);
    }
}

/* "{A = ..., B = ...}" of the fields of st that are present (null as json.null). */
static void fields_lua(std_buf *b, json_t *st, const char *const *f, int n, const char *state)
{
    std_buf_adds(b, "{");
    int first = 1;
    for (int i = 0; i < n; i++) {
        json_t *v = json_object_get(st, f[i]);
        if (!v) continue;
        std_buf_adds(b, first ? "" : ", ");
        first = 0;
        std_buf_addf(b, "%s = ", f[i]);
        dsl_asl_lua_lit(b, v, 1, 1);
    }
    if (state) {
        std_buf_adds(b, first ? "_name = " : ", _name = ");
        dsl_asl_lua_str(b, state, strlen(state));
    }
    std_buf_adds(b, "}");
}

/* The lines that compute the effective input (InputPath, then Parameters)
 * from `data`; the name of the Lua variable that holds it. */
static const char *input_lua(std_buf *b, json_t *st, const char *state)
{
    json_t *ip = json_object_get(st, "InputPath"), *par = json_object_get(st, "Parameters");
    const char *src = "data";
    if (ip && json_is_null(ip)) {
        std_buf_adds(b, "local eff = {} -- InputPath: null\n");
        src = "eff";
    } else if (ip && strcmp(json_string_value(ip), "$")) {
        std_buf_adds(b, "local eff = asl.get(data, ");
        dsl_asl_lua_str(b, json_string_value(ip), strlen(json_string_value(ip)));
        std_buf_adds(b, ") -- InputPath\n");
        src = "eff";
    }
    if (par) {
        std_buf_addf(b, "local params = ");
        tmpl_lua(b, par, src, state, 0, "param");
        std_buf_adds(b, "\n");
        src = "params";
    }
    return src;
}

/* "return asl.output(data, result, {ResultPath, OutputPath})" or "return result". */
static void output_lua(std_buf *b, json_t *st)
{
    static const char *const f[] = {"ResultPath", "OutputPath"};
    if (!json_object_get(st, "ResultPath") && !json_object_get(st, "OutputPath")) {
        std_buf_adds(b, "return result\n");
        return;
    }
    std_buf_adds(b, "return asl.output(data, result, ");
    fields_lua(b, st, f, 2, NULL);
    std_buf_adds(b, ")\n");
}

static dsl_node *lua_block(dsl_asl_ctx *x, const char *id, std_buf *b)
{
    std_buf_adds(b, "");
    /* a first line "local data = ..." (or result) that nothing below reads goes */
    const char *nl = strchr(b->p, '\n');
    const char *var = !strncmp(b->p, "local data = ", 13) ? "data" : !strncmp(b->p, "local result = ", 15) ? "result" : NULL;
    if (var && nl) {
        int used = 0;
        size_t vl = strlen(var);
        for (const char *p = strstr(nl, var); p && !used; p = strstr(p + 1, var))
            used = !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.') &&
                   !(isalnum((unsigned char)p[vl]) || p[vl] == '_');
        if (!used) {
            size_t skip = (size_t)(nl + 1 - b->p);
            memmove(b->p, b->p + skip, b->len - skip + 1);
            b->len -= skip;
        }
    }
    dsl_node *s = dsl_asl_lua_step(x, id, b->p, 1);
    std_buf_free(b);
    return s;
}

static char *g_lua_name(const char *s)
{
    std_buf b = {0};
    dsl_asl_lua_str(&b, s, strlen(s));
    std_buf_adds(&b, "");
    return std_buf_take(&b);
}

static char *emit_seq(G *g, int from, int stop, const char *dat, dsl_node *into);

/* Choice rule r as a Lua condition over `data`. */
static void rule_lua(std_buf *b, json_t *r, const char *state)
{
    static const char *const logic[] = {"And", "Or"};
    for (int i = 0; i < 2; i++) {
        json_t *l = json_object_get(r, logic[i]);
        if (!json_is_array(l)) continue;
        std_buf_adds(b, "(");
        for (size_t k = 0; k < json_array_size(l); k++) {
            if (k) std_buf_adds(b, i ? " or " : " and ");
            rule_lua(b, json_array_get(l, k), state);
        }
        std_buf_adds(b, ")");
        return;
    }
    if (json_object_get(r, "Not")) {
        std_buf_adds(b, "not ");
        rule_lua(b, json_object_get(r, "Not"), state);
        return;
    }
    const char *var = json_string_value(json_object_get(r, "Variable"));
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        if (!strcmp(k, "Variable") || !strcmp(k, "Next") || !strcmp(k, "Comment")) continue;
        std_buf_adds(b, "asl.test(data, ");
        dsl_asl_lua_str(b, var ? var : "", var ? strlen(var) : 0);
        std_buf_adds(b, ", ");
        dsl_asl_lua_str(b, k, strlen(k));
        std_buf_adds(b, ", ");
        dsl_asl_lua_lit(b, v, 0, 0);
        if (var && !strncmp(var, "$$", 2)) {
            std_buf_adds(b, ", ");
            dsl_asl_lua_str(b, state, strlen(state));
        }
        std_buf_adds(b, ")");
        return;
    }
    std_buf_adds(b, "false");
}

/* Assign of state v: a step computing the new variables from `lines` (Lua
 * that sets the local named src, the value "$" stands for), then a `set` of
 * the workflow variable asl_vars; both only when cond (NULL: always). */
static void emit_assign(G *g, int v, json_t *assign, const char *lines, const char *src, const char *cond,
                        dsl_node *into)
{
    dsl_asl_ctx *x = g->x;
    std_buf b = {0};
    std_buf_adds(&b, lines);
    std_buf_adds(&b, "return asl.assign(");
    tmpl_lua(&b, assign, src, g->name[v], 0, "get");
    std_buf_adds(&b, ")\n");
    const char *id = dsl_asl_new_id(x, g->name[v], "assign");
    dsl_node *st = lua_block(x, id, &b), *set = M(x), *vals = M(x);
    if (cond) {
        dsl_node *c = M(x);
        put(x, c, "if", P(x, cond));
        for (size_t i = 0; i < st->n; i++) dsl_map_add(x->doc, c, st->keys[i], st->vals[i]);
        st = c;
        put(x, set, "if", P(x, cond));
    }
    app(x, into, st);
    char *e = std_strf("${ steps.%s }", id);
    put(x, vals, "asl_vars", Q(x, e));
    free(e);
    put(x, set, "set", vals);
    app(x, into, set);
}

/* A Task, Parallel or Map: `input` gives {input|items, call}; `work` the
 * steps that do it (reading steps.<in_id>); then the output step. Retry is a
 * loop of attempts, Catch makes the state a branch node. Returns dat after. */
static char *emit_handled(G *g, int v, const char *dat, const char *in_id, const char *in_src, dsl_node *work,
                          const char *res_expr, dsl_node *into)
{
    dsl_asl_ctx *x = g->x;
    json_t *st = g->st[v];
    const char *name = g->name[v];
    json_t *rt = json_object_get(st, "Retry"), *ca = json_object_get(st, "Catch");
    int task = g_is(g, v, "Task");
    int handlers = json_array_size(rt) || json_array_size(ca);
    const char *err_id = handlers ? dsl_asl_new_id(x, name, "error") : NULL;
    dsl_node *attempt = L(x);
    if (!handlers && !task) {
        app(x, attempt, dsl_asl_lua_step(x, in_id, in_src, 1));
        for (size_t i = 0; i < work->n; i++) app(x, attempt, work->vals[i]);
    } else {
        /* the input too: an intrinsic that fails in Parameters is caught */
        dsl_node *cs = L(x), *body = L(x);
        app(x, body, dsl_asl_lua_step(x, in_id, in_src, 1));
        for (size_t i = 0; i < work->n; i++) app(x, body, work->vals[i]);
        json_t *rp = json_object_get(st, "ResultPath");
        if (handlers && json_is_string(rp) && strcmp(json_string_value(rp), "$")) {
            /* the output step is after the try: check here that ResultPath
             * applies to the input, so that Retry and Catch see
             * States.ResultPathMatchFailure (as the dispatcher does) */
            std_buf rb = {0};
            std_buf_addf(&rb, "return asl.result_fits(%s, ", dat);
            dsl_asl_lua_str(&rb, json_string_value(rp), strlen(json_string_value(rp)));
            std_buf_adds(&rb, ")\n");
            app(x, body, lua_block(x, dsl_asl_new_id(x, name, "fits"), &rb));
        }
        if (handlers) {
            std_buf b = {0};
            std_buf_addf(&b, "-- %s\nreturn asl.handle(err, steps.%s, steps.%s, %s, {\n",
                         !json_array_size(ca) ? "Retry or fail" : !json_array_size(rt) ? "Catch or fail" : "Retry, Catch or fail",
                         in_id, err_id, json_array_size(ca) ? dat : "nil");
            static const char *const f[] = {"Retry", "Catch"};
            for (int i = 0; i < 2; i++) {
                json_t *a = json_object_get(st, f[i]);
                if (!json_array_size(a)) continue;
                json_t *c2 = json_deep_copy(a), *e;
                size_t k;
                json_array_foreach(c2, k, e) json_object_del(e, "Comment");
                std_buf_addf(&b, "  %s = ", f[i]);
                dsl_asl_lua_lit(&b, c2, 1, 1);
                json_decref(c2);
                std_buf_adds(&b, ",\n");
            }
            std_buf_adds(&b, "  _name = ");
            dsl_asl_lua_str(&b, name, strlen(name));
            std_buf_adds(&b, task ? ",\n  _task = true,\n" : ",\n");
            if (!x->retry_waits) std_buf_adds(&b, "  _no_retry_wait = true,\n");
            std_buf_adds(&b, "})\n");
            app(x, cs, lua_block(x, err_id, &b));
            if (x->retry_waits && json_array_size(rt)) {
                char *cond = std_strf("asl.retrying(steps.%s, steps.%s) and steps.%s.delay > 0", in_id, err_id, err_id);
                app(x, cs, dsl_asl_retry_pause(x, cond, err_id));
                free(cond);
            }
        } else {
            app(x, cs, dsl_asl_lua_step(x, NULL,
                                        "-- the step's error as an ASL error (States.TaskFailed...)\n"
                                        "return asl.handle(err)\n",
                                        1));
        }
        app(x, attempt, dsl_asl_try(x, body, cs));
    }
    if (json_array_size(rt)) {
        dsl_node *lp = M(x), *lo = M(x);
        char *u = std_strf("not asl.retrying(steps.%s, steps.%s)", in_id, err_id);
        put(x, lo, "until", P(x, u));
        free(u);
        put(x, lo, "steps", attempt);
        put(x, lp, "loop", lo);
        app(x, into, lp);
    } else {
        for (size_t i = 0; i < attempt->n; i++) app(x, into, attempt->vals[i]);
    }
    /* the output */
    json_t *rs = json_object_get(st, "ResultSelector"), *as = json_object_get(st, "Assign");
    char *caught = json_array_size(ca) ? std_strf("asl.caught(steps.%s, steps.%s)", in_id, err_id) : NULL;
    char *notc = caught ? std_strf("not %s", caught) : NULL;
    char *res_own = NULL;
    if (as) {
        /* the result (after ResultSelector) is a step: Assign reads it */
        const char *rid = dsl_asl_new_id(x, name, "result");
        std_buf r = {0};
        if (rs) {
            std_buf_addf(&r, "local result = %s\nreturn ", res_expr);
            tmpl_lua(&r, rs, "result", name, 0, "get");
            std_buf_adds(&r, " -- ResultSelector\n");
        } else {
            std_buf_addf(&r, "return %s\n", res_expr);
        }
        dsl_node *rstep = lua_block(x, rid, &r);
        if (notc) {
            dsl_node *c = M(x);
            put(x, c, "if", P(x, notc));
            for (size_t i = 0; i < rstep->n; i++) dsl_map_add(x->doc, c, rstep->keys[i], rstep->vals[i]);
            rstep = c;
        }
        app(x, into, rstep);
        res_own = std_strf("steps.%s", rid);
        res_expr = res_own;
        rs = NULL;
    }
    const char *out_id = dsl_asl_new_id(x, name, "output");
    std_buf b = {0};
    int paths = json_object_get(st, "ResultPath") || json_object_get(st, "OutputPath");
    if (paths) std_buf_addf(&b, "local data = %s\n", dat);
    if (json_array_size(ca))
        std_buf_addf(&b, "if asl.caught(steps.%s, steps.%s) then return steps.%s.data end\n", in_id, err_id, err_id);
    if (!rs && !paths) {
        std_buf_addf(&b, "return %s\n", res_expr);
    } else {
        std_buf_addf(&b, "local result = %s\n", res_expr);
        if (rs) {
            std_buf_adds(&b, "result = ");
            tmpl_lua(&b, rs, "result", name, 0, "get");
            std_buf_adds(&b, " -- ResultSelector\n");
        }
        output_lua(&b, st);
    }
    app(x, into, lua_block(x, out_id, &b));
    if (as) {
        char *lines = std_strf("local result = %s\n", res_expr);
        emit_assign(g, v, as, lines, "result", notc, into);
        free(lines);
    }
    if (catch_assigns(st)) {
        /* the Assign of the Catch that took the error */
        dsl_node *set = M(x), *vals = M(x);
        put(x, set, "if", P(x, caught));
        char *e = std_strf("${ steps.%s.vars }", err_id);
        put(x, vals, "asl_vars", Q(x, e));
        free(e);
        put(x, set, "set", vals);
        app(x, into, set);
    }
    free(caught);
    free(notc);
    free(res_own);
    if (json_array_size(ca)) {
        json_t *nx = json_object_get(st, "Next");
        char *nn = g_lua_name(nx ? json_string_value(nx) : "");
        snprintf(g->dexp[v], sizeof g->dexp[v], "asl.caught(steps.%s, steps.%s)", in_id, err_id);
        snprintf(g->ddef[v], sizeof g->ddef[v], "%s", nn);
        free(nn);
    }
    return std_strf("steps.%s", out_id);
}

/* Is state v inside a loop of its machine? */
static int g_in_loop(G *g, int v)
{
    for (int h = 0; h < g->n; h++)
        if (g->src_of[h] >= 0 && g->body[h][v]) return 1;
    return 0;
}

/* A Parallel branch of the structured form: its data, and whether the
 * Parallel is in a loop. */
typedef struct branch_in {
    char *dat;
    int in_loop;
} branch_in;

static char *structured_branch(dsl_asl_ctx *x, json_t *m, const char *prefix, dsl_node *steps, void *arg)
{
    const branch_in *bi = arg;
    int ok = 0;
    return dsl_asl_structured(x, m, prefix, bi->dat, 1, bi->in_loop, steps, &ok);
}

/* The steps of state v, appended to into; the data after it (NULL: it fails). */
static char *emit_state(G *g, int v, const char *dat, dsl_node *into)
{
    dsl_asl_ctx *x = g->x;
    json_t *st = g->st[v];
    const char *name = g->name[v], *type = g_type(g, v);
    std_buf b = {0};
    if (!strcmp(type, "Pass")) {
        static const char *const f[] = {"InputPath", "Parameters", "Result", "ResultPath", "OutputPath"};
        const char *id = dsl_asl_new_id(x, name, NULL);
        if (!dsl_asl_count_of(st, f, 5)) {
            std_buf_addf(&b, "return %s -- the input, unchanged\n", dat);
            app(x, into, lua_block(x, id, &b));
            if (json_object_get(st, "Assign")) {
                char *lines = std_strf("local result = steps.%s\n", id);
                emit_assign(g, v, json_object_get(st, "Assign"), lines, "result", NULL, into);
                free(lines);
            }
            return std_strf("steps.%s", id);
        }
        std_buf_addf(&b, "local data = %s\n", dat);
        const char *eff = input_lua(&b, st, name);
        int paths = json_object_get(st, "ResultPath") || json_object_get(st, "OutputPath");
        json_t *as = json_object_get(st, "Assign");
        const char *rid = id;
        if (as && paths) {
            /* Assign reads the result: a step of its own, then the output */
            rid = dsl_asl_new_id(x, name, "result");
            paths = 0;
        }
        std_buf_adds(&b, paths ? "local result = " : "return ");
        if (json_object_get(st, "Result")) dsl_asl_lua_lit(&b, json_object_get(st, "Result"), 0, 1);
        else std_buf_adds(&b, eff);
        std_buf_adds(&b, "\n");
        if (paths) output_lua(&b, st);
        app(x, into, lua_block(x, rid, &b));
        if (rid != id) {
            std_buf_addf(&b, "local data = %s\nlocal result = steps.%s\n", dat, rid);
            output_lua(&b, st);
            app(x, into, lua_block(x, id, &b));
        }
        if (as) {
            char *lines = std_strf("local result = steps.%s\n", rid);
            emit_assign(g, v, as, lines, "result", NULL, into);
            free(lines);
        }
        return std_strf("steps.%s", id);
    }
    if (!strcmp(type, "Succeed")) {
        if (!json_object_get(st, "InputPath") && !json_object_get(st, "OutputPath")) return std_strf("%s", dat);
        static const char *const f[] = {"InputPath", "OutputPath"};
        std_buf_addf(&b, "return asl.paths(%s, ", dat);
        fields_lua(&b, st, f, 2, NULL);
        std_buf_adds(&b, ")\n");
        const char *id = dsl_asl_new_id(x, name, NULL);
        app(x, into, lua_block(x, id, &b));
        return std_strf("steps.%s", id);
    }
    if (!strcmp(type, "Fail")) {
        const char *id = dsl_asl_new_id(x, name, NULL);
        if (json_object_get(st, "ErrorPath") || json_object_get(st, "CausePath")) {
            static const char *const f[] = {"Error", "ErrorPath", "Cause", "CausePath"};
            std_buf_addf(&b, "return asl.fail_with(%s, ", dat);
            fields_lua(&b, st, f, 4, name);
            if (g->nested) b.len--, std_buf_adds(&b, ", _nested = true}");
            std_buf_adds(&b, ")\n");
        } else {
            const char *e = json_string_value(json_object_get(st, "Error"));
            const char *c = json_string_value(json_object_get(st, "Cause"));
            if (!c && g->nested) c = "Execution failed because of a Fail state";
            std_buf_adds(&b, "return asl.raise(");
            dsl_asl_lua_str(&b, e ? e : "FailStateError", strlen(e ? e : "FailStateError"));
            std_buf_adds(&b, ", ");
            if (c) dsl_asl_lua_str(&b, c, strlen(c));
            else std_buf_adds(&b, "nil");
            std_buf_adds(&b, ")\n");
        }
        app(x, into, lua_block(x, id, &b));
        return NULL;
    }
    if (!strcmp(type, "Wait")) {
        static const char *const f[] = {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath"};
        json_t *sec = json_object_get(st, "Seconds"), *ts = json_object_get(st, "Timestamp");
        int64_t ms = dsl_asl_wait_override(x, name);
        const char *id = dsl_asl_new_id(x, name, NULL);
        dsl_node *s = M(x);
        put(x, s, "id", P(x, id));
        char d[64];
        int dynamic = !sec && !ts;
        if (ms >= 0 || (sec && json_integer_value(sec) == 0)) {
            if (ms > 0) snprintf(d, sizeof d, "%lldms", (long long)ms);
            if (ms > 0) put(x, s, "sleep", P(x, d));
        } else if (sec) {
            snprintf(d, sizeof d, "%llds", (long long)json_integer_value(sec));
            put(x, s, "sleep", P(x, d));
        } else {
            dsl_node *u = M(x);
            if (ts) {
                put(x, u, "until", Q(x, json_string_value(ts)));
            } else {
                std_buf e = {0};
                std_buf_addf(&e, "${ asl.wake_at(%s, ", dat);
                fields_lua(&e, st, f, 5, name);
                if (g->straight >= 0) e.len--, std_buf_addf(&e, ", _entered = %d}", g->straight + 2);
                std_buf_adds(&e, ", now()) }");
                put(x, u, "until", Q(x, e.p));
                std_buf_free(&e);
            }
            put(x, s, "sleep", u);
        }
        if (s->n > 1) app(x, into, s);
        if (dynamic && ms >= 0) {
            /* no real wait (the resource map's waits), but the same checks */
            std_buf_addf(&b, "return asl.wait_check(%s, ", dat);
            fields_lua(&b, st, f, 5, name);
            if (g->straight >= 0) b.len--, std_buf_addf(&b, ", _entered = %d}", g->straight + 2);
            std_buf_adds(&b, ")\n");
            app(x, into, lua_block(x, dsl_asl_new_id(x, name, "check"), &b));
        }
        json_t *as = json_object_get(st, "Assign");
        if (as) {
            std_buf l = {0};
            std_buf_addf(&l, "local data = %s\n", dat);
            const char *src = input_lua(&l, st, name);
            std_buf_adds(&l, "");
            emit_assign(g, v, as, l.p, src, NULL, into);
            std_buf_free(&l);
        }
        if (json_object_get(st, "InputPath") || json_object_get(st, "OutputPath")) {
            static const char *const p2[] = {"InputPath", "OutputPath"};
            std_buf_addf(&b, "return asl.paths(%s, ", dat);
            fields_lua(&b, st, p2, 2, NULL);
            std_buf_adds(&b, ")\n");
            const char *oid = dsl_asl_new_id(x, name, "output");
            app(x, into, lua_block(x, oid, &b));
            return std_strf("steps.%s", oid);
        }
        return std_strf("%s", dat);
    }
    if (!strcmp(type, "Choice")) {
        const char *id = g->id[v] = dsl_asl_new_id(x, name, NULL);
        std_buf_addf(&b, "local data = %s\n", dat);
        json_t *ch = json_object_get(st, "Choices");
        for (size_t k = 0; k < json_array_size(ch); k++) {
            json_t *r = json_array_get(ch, k);
            const char *nx = json_string_value(json_object_get(r, "Next"));
            std_buf_adds(&b, "if ");
            rule_lua(&b, r, name);
            std_buf_adds(&b, " then return ");
            dsl_asl_lua_str(&b, nx, strlen(nx));
            std_buf_adds(&b, " end\n");
        }
        const char *def = json_string_value(json_object_get(st, "Default"));
        if (def) {
            std_buf_adds(&b, "return ");
            dsl_asl_lua_str(&b, def, strlen(def));
            std_buf_adds(&b, " -- Default\n");
        } else {
            std_buf_adds(&b, "return asl.no_choice()\n");
        }
        app(x, into, lua_block(x, id, &b));
        int assigns = json_object_get(st, "Assign") != NULL;
        for (size_t k = 0; k < json_array_size(ch); k++) assigns |= json_object_get(json_array_get(ch, k), "Assign") != NULL;
        if (assigns) {
            /* the Assign of the rule that matched, else the state's */
            static const char *const f[] = {"Choices", "Default", "Assign"};
            std_buf_addf(&b, "return asl.choice_vars(%s, ", dat);
            fields_lua(&b, st, f, 3, name);
            std_buf_adds(&b, ")\n");
            const char *aid = dsl_asl_new_id(x, name, "assign");
            app(x, into, lua_block(x, aid, &b));
            dsl_node *set = M(x), *vals = M(x);
            char *e = std_strf("${ steps.%s }", aid);
            put(x, vals, "asl_vars", Q(x, e));
            free(e);
            put(x, set, "set", vals);
            app(x, into, set);
        }
        snprintf(g->dexp[v], sizeof g->dexp[v], "steps.%s", id);
        if (def) {
            char *dn = g_lua_name(def);
            snprintf(g->ddef[v], sizeof g->ddef[v], "%s", dn);
            free(dn);
        }
        return std_strf("%s", dat);
    }
    const char *id = g->id[v] = dsl_asl_new_id(x, name, NULL);
    const char *in_id = dsl_asl_new_id(x, name, "input");
    json_t *flags = json_object();
    dsl_node *work = L(x);
    char *res = NULL;
    std_buf_addf(&b, "local data = %s\n", dat);
    if (!strcmp(type, "Task")) {
        dsl_node *rs = dsl_asl_resource_step(x, st, name, in_id, id, flags);
        if (json_object_get(st, "TimeoutSeconds") && !dsl_map_get(rs, "shell") && !dsl_map_get(rs, "http") &&
            !dsl_map_get(rs, "lua") && !g->why[0])
            snprintf(g->why, sizeof g->why, "state '%s': its TimeoutSeconds races a timer (the step has no timeout)", name);
        app(x, work, rs);
        const char *eff = input_lua(&b, st, name);
        std_buf_addf(&b, "return {input = %s, call = asl.next_call(steps.%s)}\n", eff, in_id);
        if (json_object_get(flags, "_payload")) res = std_strf("{Payload = steps.%s, StatusCode = 200}", id);
        else if (json_object_get(flags, "_http"))
            res = std_strf("{StatusCode = steps.%s.status, Headers = steps.%s.headers, ResponseBody = steps.%s.body}", id, id, id);
        else res = std_strf("steps.%s", id);
    } else if (!strcmp(type, "Parallel")) {
        const char *eff = input_lua(&b, st, name);
        std_buf_addf(&b, "return {input = %s, call = asl.next_call(steps.%s)}\n", eff, in_id);
        json_t *br = json_object_get(st, "Branches");
        std_buf args = {0};
        branch_in bi = {std_strf("steps.%s.input", in_id), g->in_loop || g_in_loop(g, v)};
        app(x, work, dsl_asl_parallel(x, st, id, structured_branch, &bi, &args));
        free(bi.dat);
        std_buf_adds(&args, "");
        res = std_strf("asl.array(%zu%s)", json_array_size(br), args.p);
        std_buf_free(&args);
    } else { /* Map */
        json_t *proc = json_object_get(st, "ItemProcessor");
        if (!proc) proc = json_object_get(st, "Iterator");
        static const char *const f[] = {"InputPath", "ItemsPath", "ItemSelector", "Parameters", "MaxConcurrencyPath",
                                        "ToleratedFailureCount", "ToleratedFailureCountPath",
                                        "ToleratedFailurePercentage", "ToleratedFailurePercentagePath"};
        std_buf_adds(&b, "return asl.map_items(data, ");
        fields_lua(&b, st, f, 9, name);
        std_buf_addf(&b, ", steps.%s)\n", in_id);
        char pre[200];
        snprintf(pre, sizeof pre, "%s_item", id);
        dsl_node *isteps = L(x);
        int ok = 0;
        char *out = dsl_asl_structured(x, proc, pre, "item", 1, 0, isteps, &ok);
        int tolerated = dsl_asl_count_of(st, dsl_asl_tolerated, 4) > 0;
        int lanes = json_object_get(st, "MaxConcurrencyPath") != NULL;
        if (lanes && dsl_asl_waits_for_tokens(proc) && !g->why[0])
            snprintf(g->why, sizeof g->why, "state '%s': its lanes would wait for task tokens at once", name);
        app(x, work, dsl_asl_map_foreach(x, st, proc, id, in_id, pre, isteps, out, 1));
        free(out);
        if (tolerated || lanes) {
            /* in the try: too many failures is an error a Catch takes */
            char *nm = g_lua_name(name);
            char *src = std_strf("return asl.map_results(steps.%s, steps.%s, %s)\n", id, in_id, nm);
            const char *rid = dsl_asl_new_id(x, name, "results");
            app(x, work, dsl_asl_lua_step(x, rid, src, 1));
            free(src);
            free(nm);
            res = std_strf("steps.%s", rid);
        } else {
            res = std_strf("steps.%s", id);
        }
    }
    std_buf_adds(&b, "");
    char *r = emit_handled(g, v, dat, in_id, b.p, work, res, into);
    std_buf_free(&b);
    free(res);
    json_decref(flags);
    return r;
}

/* Replace every tok in the scalars under n by rep. */
static void g_patch(dsl_asl_ctx *x, dsl_node *n, const char *tok, const char *rep)
{
    if (n->kind == DSL_SCALAR) {
        if (!strstr(n->str, tok)) return;
        std_buf b = {0};
        const char *p = n->str;
        for (const char *q; (q = strstr(p, tok)) != NULL; p = q + strlen(tok)) {
            std_buf_add(&b, p, (size_t)(q - p));
            std_buf_adds(&b, rep);
        }
        std_buf_adds(&b, p);
        n->str = dsl_strdup(x->doc, b.p, b.len);
        n->len = b.len;
        std_buf_free(&b);
        return;
    }
    for (size_t i = 0; i < n->n; i++) g_patch(x, n->vals[i], tok, rep);
}

/* The branches of branch node v to its join j, as a switch; the data after. */
static char *emit_branches(G *g, int v, int j, const char *dat, dsl_node *into)
{
    dsl_asl_ctx *x = g->x;
    dsl_node *cases = L(x), *def = NULL;
    std_buf pick = {0};
    int outs = 0, same = 1;
    char *first = NULL;
    /* a branch that goes straight to the join has no steps: then the
     * default target needs its own `when` */
    int empty = 0;
    for (int k = 0; k < g->ns[v]; k++) empty |= g->succ[v][k] == j;
    for (int k = 0; k < g->ns[v]; k++) {
        int t = g->succ[v][k];
        char *key = g_lua_name(t >= 0 ? g->name[t] : "");
        char *out;
        dsl_node *bs = L(x);
        if (t == j) out = std_strf("%s", dat);
        else out = emit_seq(g, t, j, dat, bs);
        if (bs->n) {
            dsl_node *c = M(x);
            if (!strcmp(key, g->ddef[v]) && !def && !empty) {
                def = c;
                put(x, c, "default", bs);
            } else {
                char *w = std_strf("%s == %s", g->dexp[v], key);
                put(x, c, "when", P(x, w));
                free(w);
                put(x, c, "steps", bs);
                app(x, cases, c);
            }
        }
        if (out) {
            std_buf_addf(&pick, "%s[%s] = %s", outs ? ", " : "", key, out);
            if (!first) first = std_strf("%s", out);
            else if (strcmp(first, out)) same = 0;
            outs++;
        }
        free(out);
        free(key);
    }
    if (def) app(x, cases, def);
    if (cases->n) {
        dsl_node *sw = M(x);
        put(x, sw, "switch", cases);
        app(x, into, sw);
    }
    std_buf_adds(&pick, "");
    char *r = NULL;
    if (!outs) r = NULL;
    else if (same) r = std_strf("%s", first);
    else if (g->ddef[v][0] && strstr(g->dexp[v], "asl.caught"))
        r = std_strf("({%s})[%s or %s]", pick.p, g->dexp[v], g->ddef[v]);
    else r = std_strf("({%s})[%s]", pick.p, g->dexp[v]);
    free(first);
    std_buf_free(&pick);
    return r;
}

/* States from `from` up to `stop` (not included) as steps appended to into;
 * the data after them, NULL when every path fails. */
static char *emit_seq(G *g, int from, int stop, const char *dat, dsl_node *into)
{
    dsl_asl_ctx *x = g->x;
    char *d = std_strf("%s", dat);
    int cur = from;
    while (d && cur != stop && cur >= 0) {
        if (g->emitted[cur] && !g_is(g, cur, "Fail")) { /* a Fail may be written out twice */
            if (!g->why[0])
                snprintf(g->why, sizeof g->why, "'%s' is reached from branches that do not rejoin before it", g->name[cur]);
            break;
        }
        int c = g->latch_of[cur], t = g->cont[cur];
        if (c >= 0 && !g->looping[cur]) {
            /* a loop: from the header to the Choice that leaves it, then (in a
             * switch) round through the Choice's target inside the loop; again
             * while the Choice picks that target */
            g->looping[cur] = 1;
            g->straight = -1;
            char tok[64];
            snprintf(tok, sizeof tok, "\001loop%d\001", cur);
            dsl_node *body = L(x);
            char *dc = cur == c ? std_strf("%s", tok) : emit_seq(g, cur, c, tok, body);
            char *dback = NULL;
            if (dc && !g->why[0]) {
                g->emitted[c] = 1;
                free(emit_state(g, c, dc, body));
                if (t == cur) {
                    dback = std_strf("%s", dc);
                } else {
                    dsl_node *round = L(x), *cases = L(x), *cs = M(x), *sw = M(x);
                    dback = emit_seq(g, t, cur, dc, round);
                    char *key = g_lua_name(g->name[t]);
                    char *w = std_strf("steps.%s == %s", g->id[c], key);
                    free(key);
                    put(x, cs, "when", P(x, w));
                    free(w);
                    put(x, cs, "steps", round);
                    app(x, cases, cs);
                    put(x, sw, "switch", cases);
                    if (round->n) app(x, body, sw);
                }
            }
            if (!dc || !dback || g->why[0]) {
                if (!g->why[0]) snprintf(g->why, sizeof g->why, "the loop at '%s' never goes round", g->name[cur]);
                free(dc);
                free(dback);
                break;
            }
            /* the data at the top of the loop: what came round, or what came
             * in; a step of its own when it changes round the loop */
            char *after, *ref;
            if (!strcmp(dback, tok)) {
                ref = std_strf("%s", d);
            } else {
                const char *hid = dsl_asl_new_id(x, g->name[cur], "data");
                char *ck = g_lua_name(g->name[c]);
                char *src = std_strf("-- what came round (after %s), else what came in\nreturn asl.either(steps.%s, %s, %s)\n",
                                     ck, g->id[c], dback, d);
                free(ck);
                dsl_node *nb = L(x);
                app(x, nb, dsl_asl_lua_step(x, hid, src, 1));
                free(src);
                for (size_t i = 0; i < body->n; i++) app(x, nb, body->vals[i]);
                body = nb;
                ref = std_strf("steps.%s", hid);
            }
            g_patch(x, body, tok, ref);
            after = !strcmp(dc, tok) ? std_strf("%s", ref) : std_strf("%s", dc);
            free(ref);
            free(dc);
            free(dback);
            dsl_node *lp = M(x), *lo = M(x);
            char *key = g_lua_name(g->name[t]);
            char *until = std_strf("steps.%s ~= %s", g->id[c], key);
            free(key);
            put(x, lo, "until", P(x, until));
            free(until);
            put(x, lo, "steps", body);
            put(x, lp, "loop", lo);
            app(x, into, lp);
            free(d);
            d = after;
            if (g->ns[c] == 0) {
                free(d);
                return NULL;
            }
            if (g->ns[c] == 1) {
                cur = g->succ[c][0];
                continue;
            }
            int j = g->ipdom[c];
            char *nd = emit_branches(g, c, j, d, into);
            free(d);
            d = nd;
            cur = j;
            continue;
        }
        g->emitted[cur] = 1;
        char *nd = emit_state(g, cur, d, into);
        free(d);
        d = nd;
        if (g->straight >= 0) g->straight++;
        if (d && g->back[cur] >= 0) { /* round the loop */
            cur = g->back[cur];
            continue;
        }
        if (!d || g->ns[cur] == 0) {
            free(d);
            return NULL;
        }
        if (g->ns[cur] == 1) {
            cur = g->succ[cur][0];
            continue;
        }
        g->straight = -1;
        int j = g->ipdom[cur];
        nd = emit_branches(g, cur, j, d, into);
        free(d);
        d = nd;
        cur = j;
    }
    return d;
}

/* Machine m (the top, a Parallel branch or a Map processor) as steps in
 * into, structured when it can be, else as a dispatcher with a note; the
 * data it ends with (NULL: it always fails). *structured: 1 when every part
 * of it is structured. */
char *dsl_asl_structured(dsl_asl_ctx *x, json_t *m, const char *prefix, const char *dat, int nested, int in_loop,
                         dsl_node *into, int *structured)
{
    G *g = calloc(1, sizeof *g);
    dsl_node *steps = L(x);
    json_t *saved_ids = json_deep_copy(x->ids);
    char *out = NULL;
    int ok = g_build(g, x, m, nested) == 0;
    int start = g_idx(g, json_string_value(json_object_get(m, "StartAt")));
    g->nested = nested;
    g->in_loop = in_loop;
    if (ok && g_analyse(g, start) != 0) ok = 0;
    if (ok && in_loop) {
        for (int h = 0; h < g->n; h++)
            if (g->src_of[h] >= 0) {
                snprintf(g->why, sizeof g->why, "its loop at '%s' is inside a loop of the machine around it", g->name[h]);
                ok = 0;
            }
    }
    int parts_before = x->fallbacks;
    if (ok) {
        out = emit_seq(g, start, S_EXIT, dat, steps);
        for (int i = 0; !g->why[0] && i < g->n; i++)
            if (!g->emitted[i]) snprintf(g->why, sizeof g->why, "'%s' has no place in the structure", g->name[i]);
        ok = !g->why[0];
    }
    if (ok) {
        if (!steps->n) {
            /* nothing to do but end (a Succeed): a step that gives the data */
            char *src = std_strf("return %s\n", out ? out : "json.null");
            const char *id = dsl_asl_new_id(x, prefix, "output");
            app(x, steps, dsl_asl_lua_step(x, id, src, 1));
            free(src);
            free(out);
            out = std_strf("steps.%s", id);
        }
        for (size_t i = 0; i < steps->n; i++) app(x, into, steps->vals[i]);
        json_decref(saved_ids);
        *structured = x->fallbacks == parts_before;
    } else {
        free(out);
        /* the dispatcher, for this part: step ids as if nothing had been tried */
        json_decref(x->ids);
        x->ids = saved_ids;
        x->fallbacks = parts_before + 1;
        dsl_node *ds = L(x);
        const char *rid = NULL;
        dsl_asl_dispatcher(x, m, prefix, dat, x->asl_vars && nested ? "vars.asl_vars" : "nil", ds, nested ? &rid : NULL);
        if (!nested) x->top_dispatcher = 1;
        json_t *why = json_string(g->why);
        char key[32];
        snprintf(key, sizeof key, "%p", (void *)ds->vals[0]);
        if (x->notes) json_object_set_new(x->notes, key, why);
        else json_decref(why);
        for (size_t i = 0; i < ds->n; i++) app(x, into, ds->vals[i]);
        out = rid ? std_strf("steps.%s", rid) : std_strf("asl.result(steps.machine_start, steps.machine_state)");
        *structured = 0;
    }
    g_free(g);
    free(g);
    return out;
}
