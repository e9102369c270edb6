/* compile.c — validates a workflow's node tree and compiles it to bytecode.
 *
 * One pass over the tree emits instructions through vm_emit, with forward
 * jumps patched when their label is reached; a first, smaller pass collects
 * the step ids and variable names so that expressions can be checked
 * against them wherever they appear. All errors are collected in the diags
 * list. Step kinds that belong to later versions of the language are named
 * as such rather than reported as unknown.
 *
 * It does not evaluate anything: expressions are only syntax- and
 * scope-checked here and run later in the VM's Lua sandbox.
 */
#include "compile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../stdlib/duration.h"
#include "../stdlib/lua.h"

typedef struct C {
    const dsl_doc *doc;
    const char *file;
    vm_program *p;
    std_diags *d;
    json_t *ids;   /* step id -> true */
    json_t *vars;  /* declared var -> true */
    json_t *input; /* declared input field -> true, or NULL when no schema */
} C;

#define ERR(c, n, ...) std_diag((c)->d, (c)->file, (n) ? (n)->line : 1, (n) ? (n)->col : 1, __VA_ARGS__)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_fields[] = {
    "wfdsl",   "name",     "description", "input",   "vars",   "secrets", "retry_policies",
    "defaults", "timeout", "triggers",    "steps",   "on_error", "output",
};
static const char *const later_top_fields[] = {"secrets", "retry_policies", "defaults",
                                               "triggers", "on_error", "timeout"};

static const char *const kinds[] = {
    "lua",  "shell", "set",  "switch", "fail", "succeed", "http",  "sleep", "wait",
    "parallel", "foreach", "loop", "dag", "try", "saga", "call", "continue_as_new",
};
#define NOW_KINDS 6 /* kinds[0..NOW_KINDS) are compiled by this version */

static const char *const common_fields[] = {"id", "if", "timeout", "retry", "compensate",
                                            "description"};
static const char *const later_common_fields[] = {"retry", "compensate"};

/* Names every expression may read, besides Lua's own builtins. */
static const char *const scope_names[] = {"input", "vars", "steps", "run", "json", "len"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

static int is_scalar(const dsl_node *n) { return n && n->kind == DSL_SCALAR; }

static const char *node_kind_name(const dsl_node *n)
{
    if (!n) return "nothing";
    switch (n->kind) {
    case DSL_MAP: return "a mapping";
    case DSL_SEQ: return "a list";
    default: return "a scalar";
    }
}

/* Report each key of map n that is not in allowed (with a hint). */
static void check_keys(C *c, const dsl_node *n, const char *const *allowed, size_t na,
                       const char *where)
{
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        if (in_list(k, allowed, na)) continue;
        const char *hint = std_suggest(k, allowed, na);
        if (hint)
            ERR(c, n->keys[i], "unknown field '%s' in %s (did you mean '%s'?)", k, where, hint);
        else
            ERR(c, n->keys[i], "unknown field '%s' in %s", k, where);
    }
}

static int match_ident(const char *s, int allow_dash)
{
    if (!s || !islower((unsigned char)s[0])) return 0;
    for (const char *q = s; *q; q++)
        if (!(islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_' ||
              (allow_dash && *q == '-')))
            return 0;
    return 1;
}

/* ---- free-form values -------------------------------------------------- */

static int parse_json_number(const char *s, json_t **out)
{
    const char *q = s;
    if (*q == '-') q++;
    if (!isdigit((unsigned char)*q)) return 0;
    if (*q == '0' && isdigit((unsigned char)q[1])) return 0;
    while (isdigit((unsigned char)*q)) q++;
    int real = 0;
    if (*q == '.') {
        real = 1;
        q++;
        if (!isdigit((unsigned char)*q)) return 0;
        while (isdigit((unsigned char)*q)) q++;
    }
    if (*q == 'e' || *q == 'E') {
        real = 1;
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!isdigit((unsigned char)*q)) return 0;
        while (isdigit((unsigned char)*q)) q++;
    }
    if (*q) return 0;
    errno = 0;
    if (!real) {
        long long v = strtoll(s, NULL, 10);
        if (errno == 0) {
            *out = json_integer(v);
            return 1;
        }
    }
    *out = json_real(strtod(s, NULL));
    return 1;
}

json_t *dsl_plain_value(const dsl_node *n)
{
    if (!n) return json_null();
    if (n->kind == DSL_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i]->str, dsl_plain_value(n->vals[i]));
        return o;
    }
    if (n->kind == DSL_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++) json_array_append_new(a, dsl_plain_value(n->vals[i]));
        return a;
    }
    if (n->style != DSL_PLAIN) return json_stringn(n->str, n->len);
    const char *s = n->str;
    if (strcmp(s, "true") == 0) return json_true();
    if (strcmp(s, "false") == 0) return json_false();
    if (!*s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0) return json_null();
    json_t *num;
    if (parse_json_number(s, &num)) return num;
    return json_stringn(n->str, n->len);
}

/* ---- expressions ------------------------------------------------------- */

/* Check and register one Lua chunk found at node n; returns its index or -1. */
static int add_chunk(C *c, const dsl_node *n, const char *src, int is_expr, const char *extra)
{
    std_err e = {0};
    if (std_lua_syntax(src, is_expr, &e) != 0) {
        int line = n->line;
        if (n->style == DSL_BLOCK && e.line > 0) line = n->line + e.line;
        else if (e.line > 1) line = n->line + e.line - 1;
        std_diag(c->d, c->file, line, n->col, "Lua syntax error: %s", e.msg);
        return -1;
    }
    char **names = NULL;
    int *lines = NULL;
    size_t nn = 0;
    std_lua_free_names(src, &names, &lines, &nn);
    int ok = 1;
    for (size_t i = 0; i < nn; i++) {
        const char *nm = names[i];
        if (in_list(nm, scope_names, COUNT(scope_names)) || std_lua_is_builtin(nm) ||
            (extra && strcmp(nm, extra) == 0))
            continue;
        const char *cands[COUNT(scope_names) + 1];
        size_t nc = 0;
        for (size_t k = 0; k < COUNT(scope_names); k++) cands[nc++] = scope_names[k];
        if (extra) cands[nc++] = extra;
        const char *hint = std_suggest(nm, cands, nc);
        if (hint)
            ERR(c, n, "unknown name '%s' in expression (did you mean '%s'?)", nm, hint);
        else
            ERR(c, n, "unknown name '%s' in expression (in scope: input, vars, steps, run%s%s)",
                nm, extra ? ", " : "", extra ? extra : "");
        ok = 0;
    }
    std_lua_names_free(names, lines, nn);
    /* steps.X, vars.X and input.X must name something the file declares. */
    static const struct { const char *prefix; int which; } refs[] = {
        {"steps.", 0}, {"vars.", 1}, {"input.", 2}};
    for (size_t r = 0; r < COUNT(refs); r++) {
        json_t *known = refs[r].which == 0 ? c->ids : refs[r].which == 1 ? c->vars : c->input;
        if (!known) continue;
        size_t pl = strlen(refs[r].prefix);
        for (const char *q = strstr(src, refs[r].prefix); q; q = strstr(q + 1, refs[r].prefix)) {
            if (q > src && (isalnum((unsigned char)q[-1]) || q[-1] == '_' || q[-1] == '.'))
                continue;
            const char *s = q + pl;
            size_t len = 0;
            while (isalnum((unsigned char)s[len]) || s[len] == '_') len++;
            if (!len) continue;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(len < 127 ? len : 127), s);
            if (json_object_get(known, name)) continue;
            const char *what = refs[r].which == 0 ? "step" : refs[r].which == 1 ? "variable"
                                                                                : "input field";
            const char *cands[256];
            size_t nc = 0;
            const char *k;
            json_t *v;
            json_object_foreach(known, k, v) if (nc < 256) cands[nc++] = k;
            const char *hint = std_suggest(name, cands, nc);
            if (hint)
                ERR(c, n, "unknown %s '%s' in expression (did you mean '%s'?)", what, name, hint);
            else
                ERR(c, n, "unknown %s '%s' in expression", what, name);
            ok = 0;
        }
    }
    if (!ok) return -1;
    return vm_add_chunk(c->p, src, is_expr, n->style == DSL_BLOCK ? n->line + 1 : n->line,
                        n->col);
}

/* A bare Lua condition/collection field. */
static int compile_cond(C *c, const dsl_node *n, const char *field)
{
    if (!is_scalar(n) || n->len == 0) {
        ERR(c, n, "'%s' must be a Lua expression, not %s", field, n && n->len == 0 && is_scalar(n) ? "empty" : node_kind_name(n));
        return -1;
    }
    if (n->cut_by_comment) {
        ERR(c, n, "'%s' is cut by a YAML comment at ' #': quote the expression, or use len() "
                  "instead of Lua's '#'", field);
        return -1;
    }
    return add_chunk(c, n, n->str, 1, NULL);
}

/* Find the '}' closing the "${" that starts at s[0]; -1 if none. Lua
 * strings inside are skipped so that "}" in a string does not close it. */
static long find_close(const char *s, size_t len, size_t start)
{
    int depth = 0;
    for (size_t i = start; i < len; i++) {
        char ch = s[i];
        if (ch == '"' || ch == '\'') {
            for (i++; i < len && s[i] != ch; i++)
                if (s[i] == '\\') i++;
            continue;
        }
        if (ch == '{') depth++;
        else if (ch == '}') {
            if (depth == 0) return (long)i;
            depth--;
        }
    }
    return -1;
}

/* Template of a scalar: constant, whole expression or interpolation. */
static json_t *tmpl_scalar(C *c, const dsl_node *n, int *bad)
{
    const char *s = n->str;
    size_t len = n->len;
    if (n->style == DSL_PLAIN && n->cut_by_comment && strstr(s, "${")) {
        ERR(c, n, "expression is cut by a YAML comment at ' #': quote the value, or use len() "
                  "instead of Lua's '#'");
        *bad = 1;
        return json_pack("[s, n]", "c");
    }
    if (!strstr(s, "${")) return json_pack("[s, o]", "c", dsl_plain_value(n));
    /* whole "${ expr }" (surrounding spaces allowed) yields a typed value */
    size_t b = 0, e = len;
    while (b < len && isspace((unsigned char)s[b])) b++;
    while (e > b && isspace((unsigned char)s[e - 1])) e--;
    if (e - b > 3 && s[b] == '$' && s[b + 1] == '{' && find_close(s, e, b + 2) == (long)e - 1) {
        char *expr = strndup(s + b + 2, e - b - 3);
        int k = add_chunk(c, n, expr, 1, NULL);
        free(expr);
        if (k < 0) *bad = 1;
        return json_pack("[s, i]", "e", k);
    }
    json_t *parts = json_array();
    std_buf lit = {0};
    for (size_t i = 0; i < len;) {
        if (s[i] == '$' && i + 2 < len && s[i + 1] == '$' && s[i + 2] == '{') {
            std_buf_adds(&lit, "${");
            i += 3;
            continue;
        }
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            long close = find_close(s, len, i + 2);
            if (close < 0) {
                ERR(c, n, "unterminated '${' in string (write '$${' for a literal '${')");
                *bad = 1;
                break;
            }
            if (lit.len) json_array_append_new(parts, json_stringn(lit.p, lit.len));
            std_buf_reset(&lit);
            char *expr = strndup(s + i + 2, (size_t)close - i - 2);
            int k = add_chunk(c, n, expr, 1, NULL);
            free(expr);
            if (k < 0) *bad = 1;
            json_array_append_new(parts, json_integer(k));
            i = (size_t)close + 1;
            continue;
        }
        std_buf_add(&lit, s + i, 1);
        i++;
    }
    if (lit.len) json_array_append_new(parts, json_stringn(lit.p, lit.len));
    std_buf_free(&lit);
    return json_pack("[s, o]", "i", parts);
}

static int tmpl_is_const(json_t *t) { return strcmp(json_string_value(json_array_get(t, 0)), "c") == 0; }

/* Template of any value node; constant subtrees fold to one constant. */
static json_t *tmpl_of(C *c, const dsl_node *n, int *bad)
{
    if (!n) return json_pack("[s, n]", "c");
    if (n->kind == DSL_SCALAR) return tmpl_scalar(c, n, bad);
    int all_const = 1;
    json_t *kids = n->kind == DSL_MAP ? json_object() : json_array();
    for (size_t i = 0; i < n->n; i++) {
        json_t *t = tmpl_of(c, n->vals[i], bad);
        all_const &= tmpl_is_const(t);
        if (n->kind == DSL_MAP) json_object_set_new(kids, n->keys[i]->str, t);
        else json_array_append_new(kids, t);
    }
    if (all_const) {
        json_t *v = n->kind == DSL_MAP ? json_object() : json_array();
        size_t i;
        const char *k;
        json_t *t;
        if (n->kind == DSL_MAP) {
            json_object_foreach(kids, k, t) json_object_set(v, k, json_array_get(t, 1));
        } else {
            json_array_foreach(kids, i, t) json_array_append(v, json_array_get(t, 1));
        }
        json_decref(kids);
        return json_pack("[s, o]", "c", v);
    }
    return json_pack("[s, o]", n->kind == DSL_MAP ? "o" : "a", kids);
}

static int add_tmpl(C *c, const dsl_node *n)
{
    int bad = 0;
    json_t *t = tmpl_of(c, n, &bad);
    if (bad) {
        json_decref(t);
        return -1;
    }
    return vm_add_tmpl(c->p, t);
}

/* ---- pre-pass: ids and vars -------------------------------------------- */

static void collect_ids(C *c, const dsl_node *steps);

static void collect_step(C *c, const dsl_node *st)
{
    if (!st || st->kind != DSL_MAP) return;
    const dsl_node *id = dsl_map_get(st, "id");
    if (is_scalar(id) && match_ident(id->str, 0)) {
        json_t *prev = json_object_get(c->ids, id->str);
        if (prev)
            ERR(c, id, "duplicate step id '%s' (first at line %d)", id->str,
                (int)json_integer_value(prev));
        else
            json_object_set_new(c->ids, id->str, json_integer(id->line));
    }
    const dsl_node *sw = dsl_map_get(st, "switch");
    if (sw && sw->kind == DSL_SEQ)
        for (size_t i = 0; i < sw->n; i++) {
            const dsl_node *br = sw->vals[i];
            if (!br || br->kind != DSL_MAP) continue;
            collect_ids(c, dsl_map_get(br, "steps"));
            collect_ids(c, dsl_map_get(br, "default"));
        }
}

static void collect_ids(C *c, const dsl_node *steps)
{
    if (!steps || steps->kind != DSL_SEQ) return;
    for (size_t i = 0; i < steps->n; i++) collect_step(c, steps->vals[i]);
}

/* ---- steps ------------------------------------------------------------- */

static void compile_steps(C *c, const dsl_node *seq, const char *path, const char *field);

static json_t *new_step(C *c, const dsl_node *st, const char *path, const char *kind)
{
    const dsl_node *id = dsl_map_get(st, "id");
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "path",
                          is_scalar(id) && match_ident(id->str, 0) ? id->str : path, "kind", kind,
                          "line", st->line, "col", st->col, "args", -1, "chunk", -1);
    json_object_set_new(j, "id", is_scalar(id) ? json_string(id->str) : json_null());
    return j;
}

static void need_map(C *c, const dsl_node *n, const char *what, int *ok)
{
    if (!n || n->kind != DSL_MAP) {
        ERR(c, n, "'%s' must be a mapping, not %s", what, node_kind_name(n));
        *ok = 0;
    }
}

static void compile_shell(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"script", "argv", "env", "stdin", "cwd", "ok_codes",
                                         "output"};
    if (is_scalar(v)) { /* shorthand: `shell: echo hi` is a script */
        json_object_set_new(step, "args", json_integer(vm_add_tmpl(
                                              c->p, json_pack("[s, {s:s%}]", "c", "script",
                                                              v->str, v->len))));
        return;
    }
    need_map(c, v, "shell", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "shell");
    const dsl_node *script = dsl_map_get(v, "script"), *argv = dsl_map_get(v, "argv");
    if (!!script == !!argv) {
        ERR(c, v, "shell needs exactly one of 'script' or 'argv'");
        *ok = 0;
    }
    if (script && !is_scalar(script)) {
        ERR(c, script, "'script' must be a string (data goes in through 'env')");
        *ok = 0;
    }
    if (argv && (argv->kind != DSL_SEQ || argv->n == 0)) {
        ERR(c, argv, "'argv' must be a non-empty list");
        *ok = 0;
    }
    const dsl_node *env = dsl_map_get(v, "env");
    if (env) {
        need_map(c, env, "env", ok);
        if (env->kind == DSL_MAP)
            for (size_t i = 0; i < env->n; i++) {
                const char *k = env->keys[i]->str;
                int valid = (isalpha((unsigned char)k[0]) || k[0] == '_');
                for (const char *q = k; *q; q++)
                    valid &= isalnum((unsigned char)*q) || *q == '_';
                if (!valid) {
                    ERR(c, env->keys[i], "invalid environment variable name '%s'", k);
                    *ok = 0;
                }
            }
    }
    const dsl_node *okc = dsl_map_get(v, "ok_codes");
    if (okc) {
        int good = okc->kind == DSL_SEQ && okc->n > 0;
        for (size_t i = 0; good && i < okc->n; i++) {
            char *end;
            const dsl_node *x = okc->vals[i];
            long code = is_scalar(x) ? strtol(x->str, &end, 10) : -1;
            good = is_scalar(x) && *x->str && !*end && code >= 0 && code <= 255;
        }
        if (!good) {
            ERR(c, okc, "'ok_codes' must be a list of exit codes (0-255)");
            *ok = 0;
        }
    }
    const dsl_node *out = dsl_map_get(v, "output");
    if (out && !(is_scalar(out) && (!strcmp(out->str, "text") || !strcmp(out->str, "json")))) {
        ERR(c, out, "'output' must be 'text' or 'json'");
        *ok = 0;
    }
    if (*ok) {
        /* the script is never interpolated: it is a constant */
        int k = -1;
        if (script) {
            int bad = 0;
            json_t *t = json_object();
            for (size_t i = 0; i < v->n; i++) {
                if (v->vals[i] == script)
                    json_object_set_new(t, "script",
                                        json_pack("[s, s%]", "c", script->str, script->len));
                else
                    json_object_set_new(t, v->keys[i]->str, tmpl_of(c, v->vals[i], &bad));
            }
            int all = 1;
            const char *kk;
            json_t *tt;
            json_object_foreach(t, kk, tt) all &= tmpl_is_const(tt);
            json_t *tm;
            if (all) {
                json_t *cv = json_object();
                json_object_foreach(t, kk, tt) json_object_set(cv, kk, json_array_get(tt, 1));
                tm = json_pack("[s, o]", "c", cv);
                json_decref(t);
            } else {
                tm = json_pack("[s, o]", "o", t);
            }
            if (bad) {
                json_decref(tm);
                *ok = 0;
            } else {
                k = vm_add_tmpl(c->p, tm);
            }
        } else {
            k = add_tmpl(c, v);
            if (k < 0) *ok = 0;
        }
        json_object_set_new(step, "args", json_integer(k));
    }
}

static void compile_set(C *c, const dsl_node *v, json_t *step, int *ok)
{
    need_map(c, v, "set", ok);
    if (!*ok) return;
    if (v->n == 0) {
        ERR(c, v, "'set' needs at least one variable");
        *ok = 0;
    }
    for (size_t i = 0; i < v->n; i++) {
        const char *name = v->keys[i]->str;
        if (json_object_get(c->vars, name)) continue;
        const char *cands[256];
        size_t nc = 0;
        const char *k;
        json_t *x;
        json_object_foreach(c->vars, k, x) if (nc < 256) cands[nc++] = k;
        const char *hint = std_suggest(name, cands, nc);
        if (hint)
            ERR(c, v->keys[i], "unknown variable '%s' (did you mean '%s'?)", name, hint);
        else
            ERR(c, v->keys[i], "unknown variable '%s': declare it under 'vars:'", name);
        *ok = 0;
    }
    int k = add_tmpl(c, v);
    if (k < 0) *ok = 0;
    json_object_set_new(step, "args", json_integer(k));
}

static void compile_fail(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"type", "message", "details"};
    if (is_scalar(v)) { /* shorthand: `fail: message` */
        dsl_node *m = (dsl_node *)v;
        int bad = 0;
        json_t *t = tmpl_of(c, m, &bad);
        if (bad) {
            json_decref(t);
            *ok = 0;
            return;
        }
        json_t *o = json_pack("[s, {s:[s, s], s:o}]", "o", "type", "c", "error", "message", t);
        json_object_set_new(step, "args", json_integer(vm_add_tmpl(c->p, o)));
        return;
    }
    need_map(c, v, "fail", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "fail");
    const dsl_node *type = dsl_map_get(v, "type");
    if (type) {
        int good = is_scalar(type) && type->len > 0;
        for (const char *q = type->str; good && *q; q++)
            good = islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_' ||
                   *q == '.' || *q == '-';
        if (!good) {
            ERR(c, type, "error type '%s' must be dotted lowercase words, like 'payment.declined'",
                is_scalar(type) ? type->str : "");
            *ok = 0;
        }
    }
    int k = add_tmpl(c, v);
    if (k < 0) *ok = 0;
    json_object_set_new(step, "args", json_integer(k));
}

static void compile_step(C *c, const dsl_node *st, const char *path);

static void compile_switch(C *c, const dsl_node *v, json_t *step, const char *path, int *ok,
                           int step_index)
{
    if (!v || v->kind != DSL_SEQ || v->n == 0) {
        ERR(c, v, "'switch' must be a non-empty list of {when, steps} and {default}");
        *ok = 0;
        return;
    }
    /* validate the shape first so that errors come out in file order */
    int njumps = 0;
    int *jumps = calloc(v->n + 1, sizeof *jumps);
    vm_emit(c->p, VM_CLEAR, 0, 0, v->line, v->col);
    for (size_t i = 0; i < v->n; i++) {
        const dsl_node *br = v->vals[i];
        char sub[1024];
        snprintf(sub, sizeof sub, "%s.switch[%zu]", path, i);
        if (!br || br->kind != DSL_MAP) {
            ERR(c, br, "a switch branch must be a mapping {when, steps} or {default}");
            *ok = 0;
            continue;
        }
        const dsl_node *def = dsl_map_get(br, "default");
        if (def) {
            static const char *const df[] = {"default"};
            check_keys(c, br, df, COUNT(df), "a default branch");
            if (i != v->n - 1) {
                ERR(c, br, "the default branch must be the last one");
                *ok = 0;
            }
            compile_steps(c, def, sub, "default");
            continue;
        }
        static const char *const bf[] = {"when", "steps"};
        check_keys(c, br, bf, COUNT(bf), "a switch branch");
        const dsl_node *when = dsl_map_get(br, "when");
        if (!when) {
            ERR(c, br, "switch branch needs 'when' (or is it the 'default'?)");
            *ok = 0;
            continue;
        }
        int cond = compile_cond(c, when, "when");
        if (cond < 0) *ok = 0;
        int jf = vm_emit(c->p, VM_JMPF, cond < 0 ? 0 : cond, 0, when->line, when->col);
        compile_steps(c, dsl_map_get(br, "steps"), sub, "steps");
        jumps[njumps++] = vm_emit(c->p, VM_JMP, 0, 0, br->line, br->col);
        c->p->code[jf].b = (int)c->p->ncode;
    }
    for (int i = 0; i < njumps; i++) c->p->code[jumps[i]].a = (int)c->p->ncode;
    free(jumps);
    (void)step;
    vm_emit(c->p, VM_SETOUT, step_index, 0, v->line, v->col);
}

static void compile_step(C *c, const dsl_node *st, const char *path)
{
    if (!st || st->kind != DSL_MAP) {
        ERR(c, st, "a step must be a mapping with one kind key (lua, shell, set, ...), not %s",
            node_kind_name(st));
        return;
    }
    /* find the kind */
    const char *kind = NULL;
    const dsl_node *kv = NULL, *kk = NULL;
    int ok = 1;
    for (size_t i = 0; i < st->n; i++) {
        const char *k = st->keys[i]->str;
        if (in_list(k, kinds, COUNT(kinds))) {
            if (kind) {
                ERR(c, st->keys[i], "step has two kinds: '%s' and '%s'", kind, k);
                ok = 0;
                continue;
            }
            kind = k;
            kv = st->vals[i];
            kk = st->keys[i];
        } else if (!in_list(k, common_fields, COUNT(common_fields))) {
            const char *all[COUNT(kinds) + COUNT(common_fields)];
            size_t n = 0;
            for (size_t j = 0; j < COUNT(kinds); j++) all[n++] = kinds[j];
            for (size_t j = 0; j < COUNT(common_fields); j++) all[n++] = common_fields[j];
            const char *hint = std_suggest(k, all, n);
            if (hint)
                ERR(c, st->keys[i], "unknown field '%s' in step (did you mean '%s'?)", k, hint);
            else
                ERR(c, st->keys[i], "unknown field '%s' in step", k);
            ok = 0;
        } else if (in_list(k, later_common_fields, COUNT(later_common_fields))) {
            ERR(c, st->keys[i], "'%s' is not supported by this version of wfdsl yet", k);
            ok = 0;
        }
    }
    if (!kind) {
        if (ok)
            ERR(c, st, "step has no kind: add one of lua, shell, set, switch, fail, succeed");
        return;
    }
    const dsl_node *id = dsl_map_get(st, "id");
    if (id && !(is_scalar(id) && match_ident(id->str, 0))) {
        ERR(c, id, "step id '%s' must match [a-z][a-z0-9_]*", is_scalar(id) ? id->str : "");
        ok = 0;
    }
    const dsl_node *desc = dsl_map_get(st, "description");
    if (desc && !is_scalar(desc)) {
        ERR(c, desc, "'description' must be a string");
        ok = 0;
    }
    int kind_index = 0;
    while (strcmp(kinds[kind_index], kind) != 0) kind_index++;
    if (kind_index >= NOW_KINDS) {
        ERR(c, kk, "step kind '%s' is not supported by this version of wfdsl yet", kind);
        return;
    }
    json_t *step = new_step(c, st, path, kind);
    const dsl_node *tmo = dsl_map_get(st, "timeout");
    if (tmo) {
        int64_t ms = 0;
        std_err e = {0};
        if (!is_scalar(tmo) || std_duration_parse(tmo->str, &ms, &e) != 0) {
            ERR(c, tmo, "'timeout': %s", is_scalar(tmo) ? e.msg : "must be a duration like 30s");
            ok = 0;
        } else if (strcmp(kind, "shell") != 0) {
            ERR(c, tmo, "'timeout' applies to shell steps here (lua steps have an instruction limit)");
            ok = 0;
        } else {
            json_object_set_new(step, "timeout_ms", json_integer(ms));
        }
    }
    /* `if` guards the whole step */
    const dsl_node *cond = dsl_map_get(st, "if");
    int jf = -1;
    if (cond) {
        int k = compile_cond(c, cond, "if");
        if (k < 0) ok = 0;
        jf = vm_emit(c->p, VM_JMPF, k < 0 ? 0 : k, 0, cond->line, cond->col);
    }
    int index = vm_add_step(c->p, step);
    if (!strcmp(kind, "lua")) {
        if (!is_scalar(kv) || kv->len == 0) {
            ERR(c, kv, "'lua' must be a Lua chunk (a string with a 'return')");
            ok = 0;
        } else if (kv->cut_by_comment) {
            ERR(c, kv, "Lua chunk is cut by a YAML comment at ' #': use a block scalar (lua: |) or len()");
            ok = 0;
        } else {
            int k = add_chunk(c, kv, kv->str, 0, NULL);
            if (k < 0) ok = 0;
            json_object_set_new(step, "chunk", json_integer(k));
        }
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "shell")) {
        compile_shell(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "set")) {
        compile_set(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "fail")) {
        compile_fail(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "succeed")) {
        static const char *const sf[] = {"output"};
        int t = -1;
        if (kv && kv->kind == DSL_MAP) {
            check_keys(c, kv, sf, COUNT(sf), "succeed");
            const dsl_node *out = dsl_map_get(kv, "output");
            if (out) {
                t = add_tmpl(c, kv);
                if (t < 0) ok = 0;
            }
        } else if (!(is_scalar(kv) && kv->len == 0)) {
            ERR(c, kv, "'succeed' takes {output: value} or nothing");
            ok = 0;
        }
        json_object_set_new(step, "args", json_integer(t));
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
        vm_emit(c->p, VM_FINISH, -1, 0, st->line, st->col);
    } else if (!strcmp(kind, "switch")) {
        compile_switch(c, kv, step, path, &ok, index);
    }
    if (jf >= 0) c->p->code[jf].b = (int)c->p->ncode;
}

static void compile_steps(C *c, const dsl_node *seq, const char *path, const char *field)
{
    if (!seq || seq->kind != DSL_SEQ) {
        ERR(c, seq, "'%s' must be a list of steps, not %s", field, node_kind_name(seq));
        return;
    }
    if (seq->n == 0) {
        ERR(c, seq, "'%s' is empty", field);
        return;
    }
    for (size_t i = 0; i < seq->n; i++) {
        char sub[1024];
        if (!path[0]) snprintf(sub, sizeof sub, "steps[%zu]", i);
        else snprintf(sub, sizeof sub, "%s.%s[%zu]", path, field, i);
        compile_step(c, seq->vals[i], sub);
    }
}

/* ---- input schema ------------------------------------------------------ */

static const char *const input_types[] = {"string", "integer", "number", "boolean",
                                          "object", "array",   "any"};

/* Convert a default/enum scalar by the declared type. */
static json_t *typed_value(C *c, const dsl_node *n, const char *type, int *ok)
{
    if (!strcmp(type, "object") || !strcmp(type, "array") || !strcmp(type, "any")) {
        json_t *v = dsl_plain_value(n);
        if ((!strcmp(type, "object") && !json_is_object(v)) ||
            (!strcmp(type, "array") && !json_is_array(v))) {
            ERR(c, n, "value must be %s %s", type[0] == 'o' ? "an" : "an", type);
            *ok = 0;
        }
        return v;
    }
    if (!is_scalar(n)) {
        ERR(c, n, "value must be a %s, not %s", type, node_kind_name(n));
        *ok = 0;
        return json_null();
    }
    if (!strcmp(type, "string")) return json_stringn(n->str, n->len);
    if (!strcmp(type, "boolean")) {
        if (!strcmp(n->str, "true")) return json_true();
        if (!strcmp(n->str, "false")) return json_false();
        ERR(c, n, "'%s' is not a boolean (write true or false)", n->str);
        *ok = 0;
        return json_null();
    }
    json_t *num = NULL;
    if (n->style == DSL_PLAIN && parse_json_number(n->str, &num) &&
        (!strcmp(type, "number") || json_is_integer(num)))
        return num;
    json_decref(num);
    ERR(c, n, "'%s' is not %s", n->str, !strcmp(type, "number") ? "a number" : "an integer");
    *ok = 0;
    return json_null();
}

static void compile_input(C *c, const dsl_node *in)
{
    static const char *const fields[] = {"type", "default", "min", "max", "enum", "required",
                                         "description"};
    if (in->kind != DSL_MAP) {
        ERR(c, in, "'input' must be a mapping of field: {type: ...}");
        return;
    }
    json_t *schema = json_object();
    c->input = json_object();
    for (size_t i = 0; i < in->n; i++) {
        const char *name = in->keys[i]->str;
        const dsl_node *f = in->vals[i];
        json_object_set_new(c->input, name, json_true());
        if (!f || f->kind != DSL_MAP) {
            ERR(c, f, "input field '%s' must be a mapping like {type: string}", name);
            continue;
        }
        check_keys(c, f, fields, COUNT(fields), "an input field");
        const dsl_node *type = dsl_map_get(f, "type");
        if (!type) {
            ERR(c, f, "input field '%s' needs a 'type' (%s)", name,
                "string, integer, number, boolean, object, array or any");
            continue;
        }
        if (!is_scalar(type) || !in_list(type->str, input_types, COUNT(input_types))) {
            const char *hint = is_scalar(type) ? std_suggest(type->str, input_types, COUNT(input_types)) : NULL;
            if (hint)
                ERR(c, type, "unknown type '%s' (did you mean '%s'?)", type->str, hint);
            else
                ERR(c, type, "unknown type '%s' (use string, integer, number, boolean, object, array or any)",
                    is_scalar(type) ? type->str : "");
            continue;
        }
        int ok = 1;
        json_t *spec = json_pack("{s:s}", "type", type->str);
        const dsl_node *def = dsl_map_get(f, "default");
        if (def) json_object_set_new(spec, "default", typed_value(c, def, type->str, &ok));
        for (int m = 0; m < 2; m++) {
            const dsl_node *lim = dsl_map_get(f, m ? "max" : "min");
            if (!lim) continue;
            if (strcmp(type->str, "integer") && strcmp(type->str, "number")) {
                ERR(c, lim, "'%s' applies only to integer and number fields", m ? "max" : "min");
                continue;
            }
            json_object_set_new(spec, m ? "max" : "min", typed_value(c, lim, "number", &ok));
        }
        const dsl_node *en = dsl_map_get(f, "enum");
        if (en) {
            if (en->kind != DSL_SEQ || en->n == 0) {
                ERR(c, en, "'enum' must be a non-empty list");
            } else {
                json_t *vals = json_array();
                for (size_t k = 0; k < en->n; k++)
                    json_array_append_new(vals, typed_value(c, en->vals[k], type->str, &ok));
                json_object_set_new(spec, "enum", vals);
            }
        }
        const dsl_node *req = dsl_map_get(f, "required");
        if (req) json_object_set_new(spec, "required", typed_value(c, req, "boolean", &ok));
        json_object_set_new(schema, name, spec);
    }
    json_decref(c->p->input);
    c->p->input = schema;
}

/* ---- top level --------------------------------------------------------- */

int dsl_compile(const dsl_doc *doc, vm_program **out, std_diags *diags)
{
    *out = NULL;
    size_t before = diags->n;
    const dsl_node *root = doc->root;
    C c = {.doc = doc, .file = doc->file, .d = diags};
    if (!root || root->kind != DSL_MAP) {
        std_diag(diags, doc->file, root ? root->line : 1, root ? root->col : 1,
                 "a workflow must be a mapping with 'wfdsl', 'name' and 'steps'");
        return -1;
    }
    check_keys(&c, root, top_fields, COUNT(top_fields), "workflow");
    for (size_t i = 0; i < root->n; i++)
        if (in_list(root->keys[i]->str, later_top_fields, COUNT(later_top_fields)))
            ERR(&c, root->keys[i], "'%s' is not supported by this version of wfdsl yet",
                root->keys[i]->str);
    const dsl_node *ver = dsl_map_get(root, "wfdsl");
    if (!ver)
        ERR(&c, root, "missing 'wfdsl: 1' (the language version)");
    else if (!is_scalar(ver) || strcmp(ver->str, "1") != 0)
        ERR(&c, ver, "unsupported language version '%s' (this wfdsl reads version 1)",
            is_scalar(ver) ? ver->str : "");
    const dsl_node *name = dsl_map_get(root, "name");
    if (!name)
        ERR(&c, root, "missing 'name' (the workflow's name)");
    else if (!is_scalar(name) || !match_ident(name->str, 1))
        ERR(&c, name, "workflow name '%s' must match [a-z][a-z0-9_-]*", is_scalar(name) ? name->str : "");
    const dsl_node *desc = dsl_map_get(root, "description");
    if (desc && !is_scalar(desc)) ERR(&c, desc, "'description' must be a string");

    c.p = vm_program_new(is_scalar(name) ? name->str : "", doc->file);
    if (is_scalar(desc)) json_object_set_new(c.p->meta, "description", json_string(desc->str));
    c.ids = json_object();
    c.vars = json_object();

    const dsl_node *in = dsl_map_get(root, "input");
    if (in) compile_input(&c, in);
    const dsl_node *vars = dsl_map_get(root, "vars");
    if (vars) {
        if (vars->kind != DSL_MAP) {
            ERR(&c, vars, "'vars' must be a mapping of name: value");
        } else {
            for (size_t i = 0; i < vars->n; i++) {
                if (!match_ident(vars->keys[i]->str, 0))
                    ERR(&c, vars->keys[i], "variable name '%s' must match [a-z][a-z0-9_]*",
                        vars->keys[i]->str);
                json_object_set_new(c.vars, vars->keys[i]->str, json_true());
            }
            c.p->vars_tmpl = add_tmpl(&c, vars);
        }
    }
    const dsl_node *steps = dsl_map_get(root, "steps");
    collect_ids(&c, steps);
    if (!steps)
        ERR(&c, root, "missing 'steps' (the list of steps to run)");
    else
        compile_steps(&c, steps, "", "steps");
    const dsl_node *output = dsl_map_get(root, "output");
    int t = -1;
    if (output) t = add_tmpl(&c, output);
    vm_emit(c.p, VM_END, t, 0, output ? output->line : root->line, output ? output->col : root->col);

    json_decref(c.ids);
    json_decref(c.vars);
    json_decref(c.input);
    if (diags->n > before) {
        vm_program_free(c.p);
        return -1;
    }
    *out = c.p;
    return 0;
}

int dsl_compile_file(const char *path, vm_program **out, char **source, std_diags *diags)
{
    *out = NULL;
    if (source) *source = NULL;
    std_err e = {0};
    size_t len = 0;
    char *text = std_read_file(path, &len, &e);
    if (!text) {
        std_diag(diags, path, 1, 1, "cannot read file: %s", e.msg);
        return -1;
    }
    dsl_doc *doc = NULL;
    int rc = dsl_yaml_load(path, text, len, &doc, diags);
    if (doc) { /* compile even after YAML errors, to report everything at once */
        vm_program *p = NULL;
        if (dsl_compile(doc, &p, diags) != 0) rc = -1;
        if (rc == 0) *out = p;
        else vm_program_free(p);
    } else if (rc == 0) {
        std_diag(diags, path, 1, 1, "empty file");
        rc = -1;
    }
    dsl_doc_free(doc);
    if (source && rc == 0) *source = text;
    else free(text);
    return rc;
}
