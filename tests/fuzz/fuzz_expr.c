/* fuzz_expr.c — libFuzzer target: Lua expressions and "${ }" interpolation.
 *
 * The input bytes X are
 *   1. checked by std_lua_syntax as an expression and as a block, and
 *      lexed by std_lua_free_names (both see X up to its first NUL, as the
 *      compiler passes them C strings);
 *   2. put into a tiny workflow built as a node tree (no YAML quoting
 *      involved, so every byte reaches the compiler, NULs included as YAML
 *      "\0" escapes would) and compiled:
 *        steps: [{id: s, if: X, lua: X (block scalar)},
 *                {id: t, if: X (plain, cut by a ' #' comment)}]
 *        output: {a: ${ X } (plain), b: "a ${X} b" (quoted),
 *                 c: "${X} (cut by a comment)}
 *      then serialized and explained when it compiles.
 * Seeds: tests/fuzz/corpus/fuzz_expr/ (one expression or chunk per file).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dsl/compile.h"
#include "../../dsl/node.h"
#include "../../interpreter/program.h"
#include "../../stdlib/lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A scalar node holding pre + data + post, NULs kept (len says). */
static dsl_node *scalar(dsl_doc *d, const char *pre, const uint8_t *data, size_t size,
                        const char *post, dsl_style style, int cut, int line)
{
    size_t a = strlen(pre), b = strlen(post);
    char *s = malloc(a + size + b + 1);
    memcpy(s, pre, a);
    if (size) memcpy(s + a, data, size);
    memcpy(s + a + size, post, b + 1);
    dsl_node *n = dsl_new_scalar(d, "", line, 3);
    n->str = dsl_strdup(d, s, a + size + b);
    n->len = a + size + b;
    n->style = style;
    n->cut_by_comment = cut;
    free(s);
    return n;
}

static void put(dsl_doc *d, dsl_node *map, const char *key, dsl_node *val)
{
    dsl_map_add(d, map, dsl_new_scalar(d, key, val->line, 1), val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    if (size) memcpy(src, data, size);
    src[size] = 0;

    /* 1. the Lua front end alone */
    for (int is_expr = 0; is_expr < 2; is_expr++) {
        std_err e = {0};
        std_lua_syntax(src, is_expr, &e);
    }
    char **names = NULL;
    int *lines = NULL;
    size_t n = 0;
    std_lua_free_names(src, &names, &lines, &n);
    std_lua_names_free(names, lines, n);
    free(src);

    /* 2. through the compiler */
    dsl_doc *d = dsl_doc_new("fuzz.yaml");
    dsl_node *root = dsl_new_map(d, 1, 1);
    d->root = root;
    put(d, root, "wfdsl", dsl_new_scalar(d, "1", 1, 8));
    put(d, root, "name", dsl_new_scalar(d, "fz", 2, 7));
    dsl_node *in = dsl_new_map(d, 3, 3), *x = dsl_new_map(d, 3, 6);
    put(d, x, "type", dsl_new_scalar(d, "string", 3, 13));
    put(d, in, "x", x);
    put(d, root, "input", in);
    dsl_node *vars = dsl_new_map(d, 4, 7);
    put(d, vars, "v", dsl_new_scalar(d, "0", 4, 10));
    put(d, root, "vars", vars);

    dsl_node *steps = dsl_new_seq(d, 6, 3);
    dsl_node *s1 = dsl_new_map(d, 6, 5);
    put(d, s1, "id", dsl_new_scalar(d, "s", 6, 9));
    put(d, s1, "if", scalar(d, "", data, size, "", DSL_PLAIN, 0, 7));
    put(d, s1, "lua", scalar(d, "", data, size, "", DSL_BLOCK, 0, 8));
    dsl_seq_add(d, steps, s1);
    dsl_node *s2 = dsl_new_map(d, 10, 5);
    put(d, s2, "id", dsl_new_scalar(d, "t", 10, 9));
    put(d, s2, "if", scalar(d, "", data, size, "", DSL_PLAIN, 1, 11));
    put(d, s2, "lua", dsl_new_scalar(d, "return 1", 12, 10));
    dsl_seq_add(d, steps, s2);
    put(d, root, "steps", steps);

    dsl_node *out = dsl_new_map(d, 13, 3);
    put(d, out, "a", scalar(d, "${ ", data, size, " }", DSL_PLAIN, 0, 14));
    put(d, out, "b", scalar(d, "a ${", data, size, "} b", DSL_QUOTED, 0, 15));
    put(d, out, "c", scalar(d, "${", data, size, "", DSL_PLAIN, 1, 16));
    put(d, root, "output", out);

    std_diags diags = {0};
    vm_program *p = NULL;
    if (dsl_compile(d, &p, &diags) == 0 && p) {
        free(vm_program_serialize(p));
        std_buf text = {0};
        vm_program_explain(p, &text);
        std_buf_free(&text);
    }
    vm_program_free(p);
    std_diags_free(&diags);
    dsl_doc_free(d);
    return 0;
}
