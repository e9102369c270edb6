/* asl_int.h — what asl.c (validation, the dispatcher, entry points, the YAML
 * emitter) and asl_struct.c (the structured translation) share: the
 * translation context, tree builders, step ids, JSON to Lua, the steps both
 * forms make the same way. Not an interface for other parts of wfdsl (that is
 * asl.h). */
#ifndef WF_DSL_ASL_INT_H
#define WF_DSL_ASL_INT_H

#include <jansson.h>
#include <stdint.h>

#include "asl.h"

typedef struct dsl_asl_ctx {
    const char *file;     /* for messages */
    const char *text;     /* the ASL text, to find positions */
    std_diags *d;
    dsl_doc *doc;
    json_t *ids;          /* used step ids */
    json_t *names;        /* every state name -> 1 (machine-wide uniqueness) */
    json_t *missing;      /* unmapped resources: resource -> state */
    json_t *tokens;       /* `.waitForTaskToken` states -> signal name, or NULL */
    dsl_doc *map;         /* resource map, or NULL */
    const dsl_node *rules, *waits;
    int retry_waits;      /* 0: every retry pause is 0 s */
    int errors;
    int fallbacks;        /* parts (machine, branches, processors) kept as dispatchers */
    json_t *notes;        /* step node ("%p") -> why its part is a dispatcher, or NULL */
    int asl_vars;         /* the machine uses ASL variables: the workflow variable asl_vars holds them */
    int top_dispatcher;   /* the machine itself is a dispatcher */
} dsl_asl_ctx;

/* tree builders (strings copied into the document's arena) */
static inline dsl_node *Q(dsl_asl_ctx *x, const char *s) /* quoted scalar: always a string */
{
    dsl_node *n = dsl_new_scalar(x->doc, s, 1, 1);
    n->style = DSL_QUOTED;
    return n;
}
static inline dsl_node *P(dsl_asl_ctx *x, const char *s) /* plain scalar */
{
    dsl_node *n = dsl_new_scalar(x->doc, s, 1, 1);
    n->style = DSL_PLAIN;
    return n;
}
static inline dsl_node *BLK(dsl_asl_ctx *x, const char *s, int line)
{
    dsl_node *n = dsl_new_scalar(x->doc, s, line, 1);
    n->style = DSL_BLOCK;
    return n;
}
static inline dsl_node *M(dsl_asl_ctx *x) { return dsl_new_map(x->doc, 1, 1); }
static inline dsl_node *L(dsl_asl_ctx *x) { return dsl_new_seq(x->doc, 1, 1); }
static inline void put(dsl_asl_ctx *x, dsl_node *m, const char *k, dsl_node *v) { dsl_map_add(x->doc, m, P(x, k), v); }
static inline void app(dsl_asl_ctx *x, dsl_node *s, dsl_node *v) { dsl_seq_add(x->doc, s, v); }

/* A unique step id from a state name (and suffix): [a-z][a-z0-9_]*. */
const char *dsl_asl_new_id(dsl_asl_ctx *x, const char *base, const char *suffix);

/* JSON to Lua: a string literal, a table key, a literal (pretty: on lines
 * indented from depth). */
void dsl_asl_lua_str(std_buf *b, const char *s, size_t n);
void dsl_asl_lua_key(std_buf *b, const char *k);
void dsl_asl_lua_lit(std_buf *b, json_t *v, int depth, int pretty);

/* state fields */
extern const char *const dsl_asl_tolerated[4]; /* the Tolerated* fields of a Map */
/* How many of the n fields state st has. */
int dsl_asl_count_of(json_t *st, const char *const *fields, int n);
/* Is st a `.waitForTaskToken` Task? */
int dsl_asl_is_token_task(json_t *st);
/* Does machine m (or a branch or processor inside it) have such a Task? */
int dsl_asl_waits_for_tokens(json_t *m);
/* A Wait's duration from the resource map's waits: ms, or -1 (none). */
int64_t dsl_asl_wait_override(dsl_asl_ctx *x, const char *state);

/* steps both forms make */
/* A try around steps whose one catch clause (every error but a cancel) runs
 * catch_steps. */
dsl_node *dsl_asl_try(dsl_asl_ctx *x, dsl_node *steps, dsl_node *catch_steps);
/* A durable sleep, if cond (Lua), until the retry delay of steps.<err_id>. */
dsl_node *dsl_asl_retry_pause(dsl_asl_ctx *x, const char *cond, const char *err_id);
/* A lua step (id: NULL for none) running src. */
dsl_node *dsl_asl_lua_step(dsl_asl_ctx *x, const char *id, const char *src, int line);
/* A Parallel branch's name: its first state's, snake_case, unique among the
 * branches (used); else it keeps the name bn has. */
void dsl_asl_branch_name(const char *start, char *bn, size_t cap, json_t *used);
/* A Task's step (id) from the resource map, an http step for http:invoke,
 * else a placeholder and the resource noted as missing; flags gets _payload
 * (lambda_payload) or _http. */
dsl_node *dsl_asl_resource_step(dsl_asl_ctx *x, json_t *st, const char *name, const char *in_id, const char *id,
                                json_t *flags);
/* The foreach step (id) of Map st whose processor proc runs isteps, giving
 * the Lua expression out (NULL: json.null); see asl.c. */
dsl_node *dsl_asl_map_foreach(dsl_asl_ctx *x, json_t *st, json_t *proc, const char *id, const char *in_id,
                              const char *pre, dsl_node *isteps, const char *out, int line);
/* The steps of Parallel branch m (step ids from prefix) appended to steps;
 * the Lua expression of its result (NULL: it always fails). */
typedef char *dsl_asl_branch_fn(dsl_asl_ctx *x, json_t *m, const char *prefix, dsl_node *steps, void *arg);
/* The parallel step (id) of Parallel st, its branches made by fn (with arg);
 * args gets ", <result>" for each branch. */
dsl_node *dsl_asl_parallel(dsl_asl_ctx *x, json_t *st, const char *id, dsl_asl_branch_fn *fn, void *arg, std_buf *args);

/* The dispatcher for machine m (asl.c), appended to steps; for a branch or
 * processor (result_id not NULL) *result_id names the step giving its result. */
dsl_node *dsl_asl_dispatcher(dsl_asl_ctx *x, json_t *m, const char *prefix, const char *input_expr,
                             const char *vars_expr, dsl_node *steps, const char **result_id);

/* The structured form (asl_struct.c) */
/* Does a string anywhere in v name an ASL variable ($name), or v hold an Assign? */
int dsl_asl_uses_vars(json_t *v);
/* Machine m as steps appended to into, reading the data dat (a Lua
 * expression); its output expression, or NULL (it always fails). A part with
 * no structured form is a dispatcher (with a note saying why); *structured:
 * it and everything in it is structured. */
char *dsl_asl_structured(dsl_asl_ctx *x, json_t *m, const char *prefix, const char *dat, int nested, int in_loop,
                         dsl_node *into, int *structured);

#endif
