/* airflow_int.h — what airflow.c and airflow_ops.c share: the conversion
 * context, tree builders, the report, value and Jinja translation. Not an
 * interface for other parts of wfdsl (that is airflow.h). */
#ifndef WF_DSL_AIRFLOW_INT_H
#define WF_DSL_AIRFLOW_INT_H

#include <stdarg.h>
#include <stdint.h>
#include "airflow.h"

typedef struct af_ctx {
    const char *file;    /* the DAG file, for the report */
    const char *base;    /* its base name, for messages inside the YAML */
    std_diags *d;
    dsl_doc *doc;
    json_t *items;       /* report items */
    int pending;         /* items that need a person */
    int version;         /* 2 or 3 */
    int data_intervals;  /* the schedule uses data intervals */
    int scheduled;       /* the workflow has triggers */
    int64_t period_s;    /* the schedule's (shortest) interval in seconds, 0 if unknown */
    int period_varies;   /* the cron's intervals differ */
    const char *dag_id;
    json_t *dag;         /* the DAG's IR */
    json_t *tasks;       /* task_id -> task IR */
    json_t *edges_to;    /* task_id -> its incoming edges */
    json_t *kinds;       /* task_id -> the step kind it becomes */
    json_t *inputs;      /* input field -> schema */
    json_t *secrets;     /* secret name -> true */
    json_t *vars;        /* workflow variable -> initial value */
    json_t *used;        /* kwargs the current task's mapping consumed */
    json_t *task_params; /* the current task's own params (merged kwargs), or NULL */
    dsl_doc *map;        /* --map file, or NULL */
    const dsl_node *rules;
    int prev_warned;
    json_t *ids;         /* step ids made for blocks' inner steps */
    dsl_node *inner;     /* the step inside a task's foreach (for its retry), or NULL */
    const char *inner_kind;
    int mapped;          /* the current task came from the operator map */
} af_ctx;

/* builders (strings copied into the document's arena) */
dsl_node *af_str(af_ctx *x, const char *s, dsl_style style);
dsl_node *af_q(af_ctx *x, const char *s);
dsl_node *af_p(af_ctx *x, const char *s);
dsl_node *af_map(af_ctx *x);
dsl_node *af_seq(af_ctx *x);
void af_put(af_ctx *x, dsl_node *m, const char *k, dsl_node *v);
void af_app(af_ctx *x, dsl_node *s, dsl_node *v);
dsl_node *af_lit(af_ctx *x, const char *s);
const char *af_keep(af_ctx *x, char *s);
void af_dur(int64_t ms, char *out, size_t n);

/* report: kinds stub, placeholder, secret, connection, unconverted (exit 2),
 * warning, note */
void af_report(af_ctx *x, int line, const char *kind, const char *task, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* values */
const char *af_tag(json_t *v);
int af_int(json_t *v, int64_t *out);
int af_seconds_ms(json_t *v, int64_t *ms);
int af_truthy(json_t *v);
void af_summary(std_buf *b, json_t *v, int depth);
dsl_node *af_json_node(af_ctx *x, json_t *v);
void af_lua_str(std_buf *b, const char *s);
void af_lua_field(std_buf *b, const char *base, const char *name);
int af_lua_lit(std_buf *b, json_t *v);
void af_steps_ref(std_buf *b, const char *task);
void af_xcom_expr(af_ctx *x, std_buf *b, const char *task);
void af_need_input(af_ctx *x, const char *name, json_t *schema);
const char *af_variable(af_ctx *x, const char *name, int line, const char *task);
const char *af_connection(af_ctx *x, const char *conn_id, int line, const char *task);
const char *af_date_var(af_ctx *x, const char *which);

/* Jinja */
int af_has_jinja(const char *s);
dsl_node *af_template(af_ctx *x, const char *s, const char *task, int line);
char *af_shell_template(af_ctx *x, const char *s, dsl_node *env, const char *task, int line);
dsl_node *af_value(af_ctx *x, json_t *v, const char *task, int line, int *bad);

/* operators (airflow_ops.c) */
/* The step kind a task will become (for XCom references), before mapping. */
const char *af_task_kind(af_ctx *x, json_t *task);
/* The task's step (a map with the kind key and its own fields); *kind gets
 * the kind. Never NULL: an unconvertible task is a stub. */
dsl_node *af_task_step(af_ctx *x, json_t *task, json_t *kw, const char **kind);
/* Read and check the --map file; 0 or -1 with diags. */
int af_load_map(af_ctx *x, const char *path);

#endif
