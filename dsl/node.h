/* node.h — the YAML document as a tree of nodes with positions.
 *
 * dsl/yaml.c builds it with libyaml's event parser and is strict: anchors,
 * aliases, tags, multi-document streams, duplicate keys and non-scalar keys
 * are errors. Scalars stay strings; their meaning (number, boolean, duration,
 * expression) is decided later by the field that holds them, never by YAML
 * 1.1 guessing. The importers (ASL JSON, Airflow) build the same tree, so the
 * compiler has one input.
 *
 * Ownership: all nodes and strings of a document live in its arena and are
 * freed by dsl_doc_free.
 */
#ifndef WF_DSL_NODE_H
#define WF_DSL_NODE_H

#include <stddef.h>
#include "../stdlib/std.h"

typedef enum dsl_kind { DSL_SCALAR, DSL_MAP, DSL_SEQ } dsl_kind;

typedef enum dsl_style {
    DSL_PLAIN,   /* unquoted scalar */
    DSL_QUOTED,  /* single or double quoted */
    DSL_BLOCK    /* literal | or folded > */
} dsl_style;

typedef struct dsl_node dsl_node;
struct dsl_node {
    dsl_kind kind;
    int line, col;        /* 1-based position of the node's first character */
    /* scalar */
    char *str;            /* NUL-terminated; may contain NULs only if len says so */
    size_t len;
    dsl_style style;
    int cut_by_comment;   /* plain scalar followed by " #..." on the same line */
    /* map: keys[i] -> vals[i] (keys are scalars); seq: vals[i] */
    size_t n;
    dsl_node **keys;
    dsl_node **vals;
};

typedef struct dsl_arena dsl_arena;

typedef struct dsl_doc {
    char *file;         /* as given, for messages */
    dsl_node *root;     /* NULL for an empty document */
    dsl_arena *arena;
} dsl_doc;

/* Parse text as strict YAML. Every error found is added to diags as
 * "file:line:col: error: message"; returns 0 when there were none. Even on
 * errors *out is set when a tree could be built (for further checks), else
 * NULL. Nesting deeper than DSL_MAX_DEPTH is an error, not a crash. */
#define DSL_MAX_DEPTH 200
int dsl_yaml_load(const char *file, const char *text, size_t len, dsl_doc **out,
                  std_diags *diags);
void dsl_doc_free(dsl_doc *d);

/* Map lookup by key; NULL when absent or when n is not a map. */
dsl_node *dsl_map_get(const dsl_node *n, const char *key);

/* Arena allocation, for builders of trees (importers). */
dsl_doc *dsl_doc_new(const char *file);
dsl_node *dsl_new_scalar(dsl_doc *d, const char *s, int line, int col);
dsl_node *dsl_new_map(dsl_doc *d, int line, int col);
dsl_node *dsl_new_seq(dsl_doc *d, int line, int col);
void dsl_map_add(dsl_doc *d, dsl_node *map, dsl_node *key, dsl_node *val);
void dsl_seq_add(dsl_doc *d, dsl_node *seq, dsl_node *val);
void *dsl_alloc(dsl_doc *d, size_t n);
char *dsl_strdup(dsl_doc *d, const char *s, size_t n);

#endif
