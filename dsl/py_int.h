/* py_int.h — internals shared by the abstract interpreter of Airflow DAG files
 * (py_eval.c: statements, DAGs, tasks, groups, edges) and its value helpers
 * (py_value.c: constant folding, builtins, IR conversion, callables to Lua).
 *
 * Values are jansson values. Plain JSON is a folded Python constant; an object
 * with the key "$" is an IR tag (timedelta, datetime, expr, ...); an object with
 * the key "$$" refers to an interpreter object (ev->objs[i]: an imported name,
 * a task, a DAG, a group, a function, a bound method...). Lists and dicts are
 * shared by reference like Python's, so `d["k"] = v` and `l.append(x)` work.
 * Nothing here is part of the IR contract; only py_value.c's to_ir output is.
 */
#ifndef WF_DSL_PY_INT_H
#define WF_DSL_PY_INT_H

#include "py.h"

enum {
    O_SYM = 1,   /* an imported or unknown-but-named thing: name = dotted path, mod = module */
    O_TASK,      /* a task: dag (index, -1 orphan), task (borrowed IR object), name = task_id */
    O_GROUP,     /* a task group: dag, name = full group id */
    O_DAG,       /* dag index */
    O_FUNC,      /* a def or lambda: node, scope; fkind below; op, deco */
    O_XCOM,      /* an XComArg: ref = task obj index, name = key or NULL */
    O_BOUND,     /* a method of a value: v = receiver, name = method */
    O_PARTIAL,   /* X.partial(...): ref = the operator sym or function obj, v = kwargs */
    O_LABEL,     /* Label("x") possibly with upstreams: name = text, v = array of upstream values */
    O_CLASS,     /* a class defined in the file: name, v = base names */
    O_PARAM      /* a @dag function parameter: name */
};
enum { F_PLAIN = 0, F_TASK, F_GROUP, F_DAG };

typedef struct py_scope {
    json_t *vars;
    struct py_scope *parent;
    int captured;            /* a def or lambda closes over it: keep it after the call */
} py_scope;

typedef struct py_obj {
    int kind;
    char *name, *mod;
    json_t *v;
    int dag, ref, fkind;
    int self;                /* its index in ev->objs */
    json_t *task;            /* O_TASK: the task's IR object (owned by its DAG's tasks) */
    const py_node *node;
    py_scope *scope;
    char *op;                /* O_FUNC task: "@task", "@task.bash", ... */
    json_t *deco;            /* O_FUNC: decorator kwargs */
} py_obj;

typedef struct py_dag {
    json_t *ir;              /* the DAG's IR object */
    json_t *raw;             /* edges before group resolution: [from, to, line, label] */
    json_t *ids;             /* task_id -> task IR object */
    json_t *gids;            /* group_id -> group IR object */
    json_t *calls;           /* TaskFlow function name -> times called */
} py_dag;

typedef struct py_ev {
    const char *path, *src;
    size_t len;
    json_t *ir, *diags, *orphans, *seen_diags;
    py_obj **objs;
    size_t nobj, capobj;
    py_dag *dags;
    int ndag, capdag;
    py_scope **scopes;
    size_t nscope, capscope;
    py_scope *module;
    int cur_dag;             /* -1: no DAG context */
    char *cur_group;         /* full id of the innermost TaskGroup, or NULL */
    long steps;
    int depth, stopped, pure, ntasks;    /* pure: folding a callable's body, no side effects */
    const py_node *last_dag_call;
    int ret, brk, cont;      /* control flow of the statement being run */
    json_t *retval;
    int v2_line, v3_line, std_line, si_line, w2_line;   /* version evidence (py_eval.c note_import) */
    char v2_imp[128], v3_imp[128], std_imp[128], w2_imp[128];
} py_ev;

#define PY_MAX_STEPS 1000000L    /* evaluation budget: statements + expressions */
#define PY_MAX_ITER 10000        /* iterations of one loop */
#define PY_MAX_CALLS 40          /* inlined call depth */
#define PY_MAX_STR (1 << 20)     /* folded strings and lists */
#define PY_MAX_TASKS 20000       /* tasks and groups of a file */
#define PY_MAX_NEST 100          /* nesting of folded lists and dicts */

/* py_eval.c */
json_t *py_eval(py_ev *ev, const py_node *n, py_scope *sc);
void py_diag(py_ev *ev, const py_node *n, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* py_dag.c */
py_dag *py_dag_at(py_ev *ev, int i);                     /* NULL when out of range */
int py_dag_new(py_ev *ev, const py_node *n, json_t *dag_id, const char *form, json_t *args);
json_t *py_dag_value(py_ev *ev, int idx, const py_node *n);
json_t *py_kwargs_ir(py_ev *ev, json_t *kw, const char *const *drop);
json_t *py_make_dag(py_ev *ev, const py_node *n, json_t *args, json_t *kw);
json_t *py_make_group(py_ev *ev, const py_node *n, json_t *idv, json_t *kw, int dag, const char *parent);
void py_placement(py_ev *ev, json_t *kw, int *dag, const char **gid);
json_t *py_make_operator(py_ev *ev, const py_node *n, const char *cls, const char *module, json_t *kw, json_t *partial, json_t *expand);
json_t *py_make_taskflow(py_ev *ev, const py_node *n, py_obj *f, json_t *args, json_t *kw, json_t *extra_kw, json_t *partial, json_t *expand);
void py_add_edge(py_ev *ev, const py_node *n, json_t *from, json_t *to, json_t *label);
json_t *py_label_value(py_ev *ev, const char *text, const py_node *n);
json_t *py_shift(py_ev *ev, const py_node *n, json_t *l, json_t *r);
void py_chain(py_ev *ev, const py_node *n, json_t *args, int linear);
void py_finish_dag(py_ev *ev, py_dag *d);

/* py_value.c */
json_t *pv_obj(py_ev *ev, int kind, py_obj **out);       /* new object value */
py_obj *pv_get(py_ev *ev, json_t *v);                     /* its object, or NULL */
json_t *pv_expr(py_ev *ev, const py_node *n);             /* {"$":"expr",...} */
const char *pv_tag(json_t *v);                            /* "$" tag or NULL */
int pv_is_const(json_t *v);                               /* plain JSON, no tags */
int pv_would_cycle(json_t *container, json_t *v);     /* v holds container (or is too deep) */
int pv_too_deep(json_t *v);                           /* nested past PY_MAX_NEST */
int pv_is_value(json_t *v);                               /* no expr, task, xcom or object inside */
int pv_truth(json_t *v);                                  /* 1, 0, or -1 unknown */
json_t *pv_timedelta(double seconds);
json_t *pv_binop(py_ev *ev, const py_node *n, const char *op, json_t *a, json_t *b);
json_t *pv_unary(py_ev *ev, const py_node *n, const char *op, json_t *a);
json_t *pv_compare(py_ev *ev, const py_node *n, const char *op, json_t *a, json_t *b);
json_t *pv_format_spec(json_t *v, const char *conv, json_t *spec);   /* NULL: not foldable */
char *pv_str(json_t *v);                                  /* str(v) of a constant; NULL otherwise */
json_t *pv_builtin(py_ev *ev, const py_node *call, const char *name, json_t *args, json_t *kw, int *handled);
json_t *pv_method(py_ev *ev, const py_node *call, json_t *recv, const char *name, json_t *args, json_t *kw, int *handled);
json_t *pv_to_ir(py_ev *ev, json_t *v);                  /* new reference */
json_t *pv_callable(py_ev *ev, py_obj *f, py_scope *sc);
json_t *pv_subscript(py_ev *ev, const py_node *n, json_t *a, json_t *idx);
int pv_has_xcom(py_ev *ev, json_t *v, json_t *found);     /* collect XComArg task objs into found */

#endif
