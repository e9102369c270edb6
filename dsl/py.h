/* py.h — the Python-subset front end of `wfdsl import airflow`.
 *
 * dsl_airflow_py_parse reads an Airflow DAG file without running Python: a
 * tokenizer (py_lex.c) and recursive-descent parser (py_parse.c) build an AST
 * of the statement and expression subset DAG files use, and an abstract
 * interpreter (py_eval.c for statements and calls, py_dag.c for DAGs, tasks,
 * groups and edges, py_value.c for constant folding, py_lua.c for callables)
 * folds constants, unrolls loops, inlines helper functions and records DAGs,
 * tasks, groups and edges as the intermediate form described in AIRFLOW-IR
 * (a jansson object).
 *
 * It does not map operators, translate Jinja or build workflows: that is the
 * back end's job (dsl/airflow.c). It never executes the file's code.
 *
 * The second half of this header is internal to dsl/py*.c.
 */
#ifndef WF_DSL_PY_H
#define WF_DSL_PY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "../stdlib/std.h"

/* Parse and statically evaluate a DAG file; *ir gets the IR (always, even with
 * diagnostics, unless the file cannot be tokenized at all: then NULL and -1).
 * Fatal problems (Python syntax errors, which Airflow itself would refuse) go to
 * diags as "path:line:col: error: ..." and make the result -1 while *ir is still
 * set; lossy-but-convertible findings go to the IR's "diagnostics" list.
 * Returns 0 when diags got nothing. The caller frees *ir with json_decref. */
int dsl_airflow_py_parse(const char *path, const char *text, size_t len, json_t **ir,
                         std_diags *diags);

/* ------------------------------------------------------------------ internal */

#define PY_MAX_DEPTH 200   /* brackets, expression and block nesting */

typedef struct py_arena py_arena;
py_arena *dsl_py_arena_new(void);
void *dsl_py_alloc(py_arena *a, size_t n);           /* zeroed */
char *dsl_py_strndup(py_arena *a, const char *s, size_t n);
void dsl_py_arena_free(py_arena *a);

typedef enum py_kind {
    /* expressions */
    PE_NAME = 1, PE_INT, PE_FLOAT, PE_BIGINT, PE_STR, PE_FSTR, PE_FMT, PE_CONST,
    PE_ELLIPSIS, PE_ATTR, PE_SUB, PE_SLICE, PE_CALL, PE_KW, PE_STAR, PE_DSTAR, PE_BIN,
    PE_UNARY, PE_NOT, PE_BOOL, PE_CMP, PE_IFEXP, PE_LAMBDA, PE_PARAM, PE_LIST, PE_TUPLE,
    PE_SET, PE_DICT, PE_COMP, PE_FOR, PE_WALRUS, PE_YIELD, PE_AWAIT,
    /* statements */
    PS_EXPR, PS_ASSIGN, PS_AUG, PS_ANN, PS_IMPORT, PS_FROM, PS_ALIAS, PS_DEF, PS_RETURN,
    PS_PASS, PS_BREAK, PS_CONTINUE, PS_WITH, PS_WITHITEM, PS_FOR, PS_WHILE, PS_IF,
    PS_CLASS, PS_TRY, PS_RAISE, PS_GLOBAL, PS_DEL, PS_ASSERT, PS_OTHER
} py_kind;

typedef struct py_node py_node;
typedef struct py_list {
    py_node **v;
    int n, cap;
} py_list;

/* One AST node. Fields by kind:
 *  NAME s; INT ival; FLOAT fval; BIGINT/STR s,slen (STR: op=1 for bytes);
 *  FSTR kids (STR and FMT parts); FMT a=expr, s=conversion ("r","s","a" or NULL),
 *  b=format spec (an FSTR) or NULL; CONST ival 0 None 1 True 2 False;
 *  ATTR a.s; SUB a[b]; SLICE a:b:c; CALL a(kids) with KW s=a, STAR *a, DSTAR **a;
 *  BIN a op b; UNARY op a; NOT a; BOOL op("and"/"or") kids; CMP kids, ops[];
 *  IFEXP b if a else c; LAMBDA kids=PARAMs, a=body; PARAM s, a=default,
 *  ival 0 plain 1 *args 2 **kwargs; LIST/TUPLE/SET kids; DICT kids as key,value
 *  pairs (key NULL for **); COMP op('['/'{'/'('/'d' dict) a=elt b=value(dict)
 *  kids=FORs; FOR a=target b=iter kids=conditions; WALRUS a:=b;
 *  EXPR a; ASSIGN kids=targets a=value; AUG a op= b; ANN a: c = b;
 *  IMPORT kids=ALIAS(s dotted, s2 as-name); FROM s module (ival = dots),
 *  kids ALIASes (s "*" for star); DEF s, kids=PARAMs, body, orelse=decorators;
 *  RETURN a; WITH kids=WITHITEM(a ctx, b target), body; FOR/WHILE a target
 *  b iter (WHILE: a cond), body, orelse; IF a, body, orelse; CLASS s,
 *  kids=bases (and KW), body, orelse=decorators; TRY body, orelse, extra=finally;
 *  OTHER s=what (unsupported statement, already reported by the parser). */
struct py_node {
    py_kind kind;
    int line, col;           /* 1-based */
    size_t start, end;       /* byte range of the source text */
    const char *op;          /* operator text */
    char *s, *s2;
    size_t slen;
    int64_t ival;
    double fval;
    py_node *a, *b, *c;
    py_list kids, body, orelse, extra;
    const char **ops;        /* CMP: kids.n - 1 operators */
};

typedef struct py_module {
    py_arena *arena;
    py_list body;            /* statements */
} py_module;

/* Tokenize and parse. Returns -1 (with a diagnostic in diags) when the text
 * cannot be tokenized; syntax errors are added to diags and the statement is
 * skipped (then *syntax_errors counts them). The module lives in *arena. */
int dsl_py_parse_module(const char *path, const char *text, size_t len, py_module *m,
                        std_diags *diags, int *syntax_errors);

/* Evaluate a parsed module into the IR. */
json_t *dsl_py_eval_module(const char *path, const char *text, size_t len, py_module *m);

#endif
