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
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../stdlib/cron.h"
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
    json_t *secrets;  /* declared secret -> true */
    json_t *policies; /* named retry policies -> normalized policy */
    json_t *def_retry;     /* defaults.retry, normalized, or NULL */
    int64_t def_timeout;   /* defaults.timeout in ms, 0 if none */
    json_t *locals;        /* names bound where we compile (foreach `as`, catch `as`, err) */
    json_t *deferred;      /* compensations: [[step index, node ptr, path, locals]] */
    int in_comp;           /* compiling a compensation body */
    int depth;             /* nesting of `call`ed files being compiled */
    int has_comp;          /* some step has `compensate` */
    const char *task_name; /* set while compiling a `dag` task's own step: its id */
    int input_bad;         /* the `input:` schema has errors: inputs are not checked against it */
} C;

#define ERR(c, n, ...) std_diag((c)->d, (c)->file, (n) ? (n)->line : 1, (n) ? (n)->col : 1, __VA_ARGS__)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_fields[] = {
    "wfdsl",   "name",     "description", "input",   "vars",   "secrets", "retry_policies",
    "defaults", "timeout", "triggers",    "steps",   "on_error", "output",
};
static const char *const later_top_fields[] = {""};

static const char *const kinds[] = {
    "lua",  "shell", "set",  "switch", "fail", "succeed", "http",  "parallel", "foreach",
    "loop", "try", "saga", "sleep", "wait", "continue_as_new", "call", "dag",
};
#define NOW_KINDS 17 /* kinds[0..NOW_KINDS) are compiled by this version */

static const char *const common_fields[] = {"id", "if", "timeout", "retry", "compensate",
                                            "description"};
const char *dsl_step_kind(const dsl_node *st)
{
    for (size_t i = 0; st && st->kind == DSL_MAP && i < st->n; i++)
        for (size_t k = 0; k < COUNT(kinds); k++)
            if (!strcmp(st->keys[i]->str, kinds[k])) return kinds[k];
    return NULL;
}

/* Fields of a `dag` task besides its step's own. */
static const char *const task_fields[] = {"needs", "trigger", "branch", "short_circuit"};

/* Names every expression may read, besides Lua's own builtins. */
static const char *const scope_names[] = {"input", "vars", "steps", "run", "secrets", "json", "len"};

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

/* A `dag` task name: Airflow's task ids ([A-Za-z0-9_.-], dots join task
 * groups), at most 250 characters. Names that are not Lua identifiers are
 * read as steps["group.task"]. */
static int task_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 250 || s[0] == '.' || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-')) return 0;
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
    double d = strtod(s, NULL);
    if (!isfinite(d)) return 0; /* 1e999: not a JSON number we can hold; it stays text */
    *out = json_real(d);
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
        /* Only a block scalar keeps the source's lines; in a plain or
         * quoted one YAML folds them, so its first line is the best guess.
         * "near <eof>" comes on the line after the clipped final newline:
         * keep it on the block's last line, not on the next step. */
        int line = n->line;
        if (n->style == DSL_BLOCK && e.line > 0) {
            size_t len = strlen(src);
            int last = 1;
            while (len && src[len - 1] == '\n') len--;
            for (size_t i = 0; i < len; i++) last += src[i] == '\n';
            line = n->line + (e.line < last ? e.line : last);
        }
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
        if (!strcmp(nm, "asl")) { /* the ASL runtime: loaded into runs that use it */
            json_object_set_new(c->p->meta, "lib", json_string("asl"));
            continue;
        }
        if (in_list(nm, scope_names, COUNT(scope_names)) || std_lua_is_builtin(nm) ||
            (extra && strcmp(nm, extra) == 0) || (c->locals && json_object_get(c->locals, nm)))
            continue;
        const char *cands[COUNT(scope_names) + 17];
        size_t nc = 0;
        for (size_t k = 0; k < COUNT(scope_names); k++) cands[nc++] = scope_names[k];
        if (extra) cands[nc++] = extra;
        const char *lk;
        json_t *lv;
        json_object_foreach(c->locals, lk, lv) if (nc < COUNT(cands)) cands[nc++] = lk;
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
        {"steps.", 0}, {"vars.", 1}, {"input.", 2}, {"secrets.", 3}};
    for (size_t r = 0; r < COUNT(refs); r++) {
        int w = refs[r].which;
        json_t *known = w == 0 ? c->ids : w == 1 ? c->vars : w == 2 ? c->input : c->secrets;
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
            const char *what = w == 0 ? "step" : w == 1 ? "variable" : w == 2 ? "input field"
                                                                       : "secret";
            const char *cands[256];
            size_t nc = 0;
            const char *k;
            json_t *v;
            json_object_foreach(known, k, v) if (nc < 256) cands[nc++] = k;
            const char *hint = std_suggest(name, cands, nc);
            if (hint)
                ERR(c, n, "unknown %s '%s' in expression (did you mean '%s'?)", what, name, hint);
            else
                ERR(c, n, "unknown %s '%s' in expression%s", what, name,
                    w == 0 ? " (no step has this id)" : w == 1 ? ": declare it under 'vars:'"
                    : w == 2 ? ": declare it under 'input:'" : ": declare it under 'secrets:'");
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
    /* Lua has no binary '#': a complete expression before ' #' was
     * followed by a real comment; an incomplete one lost Lua's '#'. */
    std_err e = {0};
    if (is_scalar(n) && n->cut_by_comment &&
        (n->len == 0 || std_lua_syntax(n->str, 1, &e) != 0)) {
        ERR(c, n, "'%s' is cut by a YAML comment at ' #': quote the expression, or use len() "
                  "instead of Lua's '#'", field);
        return -1;
    }
    if (!is_scalar(n) || n->len == 0) {
        ERR(c, n, "'%s' must be a Lua expression, not %s", field, n && n->len == 0 && is_scalar(n) ? "empty" : node_kind_name(n));
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

/* Every "${" of s is closed. A plain scalar cut by ' #' inside "${ }"
 * leaves one open; a cut after them all was a real comment. */
static int all_closed(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] == '$' && s[i + 1] == '$') i++;
        else if (s[i] == '$' && s[i + 1] == '{') {
            long close = find_close(s, len, i + 2);
            if (close < 0) return 0;
            i = (size_t)close;
        }
    }
    return 1;
}

/* Template of a scalar: constant, whole expression or interpolation. */
static json_t *tmpl_scalar(C *c, const dsl_node *n, int *bad)
{
    const char *s = n->str;
    size_t len = n->len;
    if (n->style == DSL_PLAIN && n->cut_by_comment && strstr(s, "${") && !all_closed(s, len)) {
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

/* An object of templates as one template (steals t): a constant when
 * every member is one. */
static json_t *fold_object(json_t *t)
{
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) if (!tmpl_is_const(v)) return json_pack("[s, o]", "o", t);
    json_t *cv = json_object();
    json_object_foreach(t, k, v) json_object_set(cv, k, json_array_get(v, 1));
    json_decref(t);
    return json_pack("[s, o]", "c", cv);
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
    if (dsl_map_get(st, "compensate")) c->has_comp = 1;
    collect_ids(c, dsl_map_get(st, "compensate"));
    static const char *const blocks[] = {"foreach", "loop", "try", "saga"};
    for (size_t k = 0; k < COUNT(blocks); k++) {
        const dsl_node *b = dsl_map_get(st, blocks[k]);
        if (!b || b->kind != DSL_MAP) continue;
        collect_ids(c, dsl_map_get(b, "steps"));
        collect_ids(c, dsl_map_get(b, "finally"));
        const dsl_node *cat = dsl_map_get(b, "catch");
        for (size_t i = 0; cat && cat->kind == DSL_SEQ && i < cat->n; i++)
            if (cat->vals[i] && cat->vals[i]->kind == DSL_MAP)
                collect_ids(c, dsl_map_get(cat->vals[i], "steps"));
    }
    const dsl_node *par = dsl_map_get(st, "parallel");
    const dsl_node *brs = par && par->kind == DSL_MAP ? dsl_map_get(par, "branches") : NULL;
    for (size_t i = 0; brs && brs->kind == DSL_MAP && i < brs->n; i++) collect_ids(c, brs->vals[i]);
    const dsl_node *dag = dsl_map_get(st, "dag");
    const dsl_node *tasks = dag && dag->kind == DSL_MAP ? dsl_map_get(dag, "tasks") : NULL;
    for (size_t i = 0; tasks && tasks->kind == DSL_MAP && i < tasks->n; i++) {
        const dsl_node *k = tasks->keys[i];
        if (task_name_ok(k->str)) { /* a task's name is its step id */
            json_t *prev = json_object_get(c->ids, k->str);
            if (prev)
                ERR(c, k, "duplicate step id '%s' (first at line %d)", k->str, (int)json_integer_value(prev));
            else
                json_object_set_new(c->ids, k->str, json_integer(k->line));
        }
        collect_step(c, tasks->vals[i]);
    }
}

static void collect_ids(C *c, const dsl_node *steps)
{
    if (!steps || steps->kind != DSL_SEQ) return;
    for (size_t i = 0; i < steps->n; i++) collect_step(c, steps->vals[i]);
}

/* ---- steps ------------------------------------------------------------- */

static void compile_steps(C *c, const dsl_node *seq, const char *path, const char *field);

static json_t *new_step(C *c, const dsl_node *st, const char *path, const char *kind,
                        const char *task)
{
    const dsl_node *id = dsl_map_get(st, "id");
    const char *name = task ? task : is_scalar(id) && match_ident(id->str, 0) ? id->str : NULL;
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "path", name ? name : path, "kind", kind,
                          "line", st->line, "col", st->col, "args", -1, "chunk", -1);
    json_object_set_new(j, "id", task ? json_string(task) : is_scalar(id) ? json_string(id->str) : json_null());
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
                                         "skip_codes", "output"};
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
    static const char *const code_lists[] = {"ok_codes", "skip_codes"};
    for (size_t f = 0; f < COUNT(code_lists); f++) {
        const dsl_node *okc = dsl_map_get(v, code_lists[f]);
        if (!okc) continue;
        int good = okc->kind == DSL_SEQ && okc->n > 0;
        for (size_t i = 0; good && i < okc->n; i++) {
            char *end;
            const dsl_node *x = okc->vals[i];
            long code = is_scalar(x) ? strtol(x->str, &end, 10) : -1;
            good = is_scalar(x) && *x->str && !*end && code >= 0 && code <= 255;
        }
        if (!good) {
            ERR(c, okc, "'%s' must be a list of exit codes (0-255)", code_lists[f]);
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
            json_t *tm = fold_object(t);
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


/* ---- retry policies ---------------------------------------------------- */

static const char *const policy_fields[] = {"max_attempts", "initial_interval", "backoff",
                                            "max_interval", "jitter", "retry_on",
                                            "non_retryable", "honor_retry_after"};

static int scalar_number(const dsl_node *n, double *out)
{
    if (!is_scalar(n) || n->style != DSL_PLAIN) return 0;
    char *end;
    *out = strtod(n->str, &end);
    return *n->str && !*end && isfinite(*out); /* no nan, inf or overflow */
}

static json_t *error_patterns(C *c, const dsl_node *n, const char *field, int *ok)
{
    if (!n || n->kind != DSL_SEQ) {
        ERR(c, n, "'%s' must be a list of error types (like net, timeout, http.5*)", field);
        *ok = 0;
        return json_array();
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n->n; i++) {
        const dsl_node *x = n->vals[i];
        int good = is_scalar(x) && x->len > 0;
        for (const char *q = good ? x->str : ""; *q; q++)
            good &= islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '.' ||
                    *q == '_' || *q == '*' || *q == '-';
        if (!good) {
            ERR(c, x, "'%s' entries must be error types like 'http.503' or patterns like 'http.5*'", field);
            *ok = 0;
            continue;
        }
        json_array_append_new(a, json_string(x->str));
    }
    return a;
}

/* Normalize a retry policy map; NULL after reporting errors. */
static json_t *compile_policy(C *c, const dsl_node *n)
{
    if (!n || n->kind != DSL_MAP) {
        ERR(c, n, "a retry policy must be a mapping like {max_attempts: 5, initial_interval: 1s}");
        return NULL;
    }
    int ok = 1;
    check_keys(c, n, policy_fields, COUNT(policy_fields), "retry policy");
    for (size_t i = 0; i < n->n; i++) ok &= in_list(n->keys[i]->str, policy_fields, COUNT(policy_fields));
    json_t *p = json_pack("{s:i, s:I, s:f, s:f, s:b, s:[s, s, s, s], s:[]}", "max_attempts", 3,
                          "initial_ms", (json_int_t)1000, "backoff", 2.0, "jitter", 0.0,
                          "honor_retry_after", 1, "retry_on", "net", "timeout", "http.429",
                          "http.5*", "non_retryable");
    const dsl_node *v;
    double d;
    if ((v = dsl_map_get(n, "max_attempts"))) {
        if (!scalar_number(v, &d) || d < 0 || d > 1000000 || d != (long)d) {
            ERR(c, v, "'max_attempts' must be a whole number (0 = unlimited)");
            ok = 0;
        } else {
            json_object_set_new(p, "max_attempts", json_integer((json_int_t)d));
        }
    }
    static const char *const durs[] = {"initial_interval", "max_interval"};
    for (int k = 0; k < 2; k++) {
        if (!(v = dsl_map_get(n, durs[k]))) continue;
        int64_t ms;
        std_err e = {0};
        if (!is_scalar(v) || std_duration_parse(v->str, &ms, &e) != 0) {
            ERR(c, v, "'%s': %s", durs[k], is_scalar(v) ? e.msg : "must be a duration like 1s");
            ok = 0;
        } else {
            json_object_set_new(p, k ? "max_ms" : "initial_ms", json_integer(ms));
        }
    }
    if (!json_object_get(p, "max_ms")) {
        json_int_t init = json_integer_value(json_object_get(p, "initial_ms"));
        json_object_set_new(p, "max_ms", json_integer(init > INT64_MAX / 100 ? INT64_MAX : 100 * init));
    }
    if ((v = dsl_map_get(n, "backoff"))) {
        if (!scalar_number(v, &d) || d < 1 || d > 100) {
            ERR(c, v, "'backoff' must be a number from 1 to 100 (the factor between waits)");
            ok = 0;
        } else {
            json_object_set_new(p, "backoff", json_real(d));
        }
    }
    if ((v = dsl_map_get(n, "jitter"))) {
        if (!scalar_number(v, &d) || d < 0 || d > 1) {
            ERR(c, v, "'jitter' must be a number from 0 to 1 (a fraction of each wait)");
            ok = 0;
        } else {
            json_object_set_new(p, "jitter", json_real(d));
        }
    }
    if ((v = dsl_map_get(n, "honor_retry_after"))) {
        if (!is_scalar(v) || (strcmp(v->str, "true") && strcmp(v->str, "false"))) {
            ERR(c, v, "'honor_retry_after' must be true or false");
            ok = 0;
        } else {
            json_object_set_new(p, "honor_retry_after", json_boolean(!strcmp(v->str, "true")));
        }
    }
    if ((v = dsl_map_get(n, "retry_on"))) json_object_set_new(p, "retry_on", error_patterns(c, v, "retry_on", &ok));
    if ((v = dsl_map_get(n, "non_retryable")))
        json_object_set_new(p, "non_retryable", error_patterns(c, v, "non_retryable", &ok));
    if (!ok) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* A step's or the defaults' `retry`: a policy name or an inline policy. */
static json_t *compile_retry_ref(C *c, const dsl_node *n)
{
    if (is_scalar(n)) {
        json_t *p = json_object_get(c->policies, n->str);
        if (p) return json_incref(p);
        const char *cands[256];
        size_t nc = 0;
        const char *k;
        json_t *v;
        json_object_foreach(c->policies, k, v) if (nc < 256) cands[nc++] = k;
        const char *hint = std_suggest(n->str, cands, nc);
        if (hint)
            ERR(c, n, "unknown retry policy '%s' (did you mean '%s'?)", n->str, hint);
        else
            ERR(c, n, "unknown retry policy '%s': define it under 'retry_policies:' or write the policy inline", n->str);
        return NULL;
    }
    return compile_policy(c, n);
}

/* ---- http -------------------------------------------------------------- */

static const char *const http_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

static void compile_http(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"method", "url", "headers", "query", "body", "form",
                                         "expect", "timeout"};
    if (is_scalar(v)) { /* shorthand: `http: URL` is a GET */
        json_object_set_new(step, "expect", json_pack("[s]", "2xx"));
        int bad = 0;
        json_t *url = tmpl_of(c, v, &bad);
        if (bad) {
            json_decref(url);
            *ok = 0;
            return;
        }
        json_t *t = json_pack("[s, {s:[s, s], s:o}]", "o", "method", "c", "GET", "url", url);
        json_object_set_new(step, "args", json_integer(vm_add_tmpl(c->p, t)));
        return;
    }
    need_map(c, v, "http", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "http");
    for (size_t i = 0; i < v->n; i++) *ok &= in_list(v->keys[i]->str, fields, COUNT(fields));
    const dsl_node *m = dsl_map_get(v, "method");
    if (m && !(is_scalar(m) && in_list(m->str, http_methods, COUNT(http_methods)))) {
        ERR(c, m, "'method' must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
        *ok = 0;
    }
    const dsl_node *url = dsl_map_get(v, "url");
    if (!url || !is_scalar(url) || url->len == 0) {
        ERR(c, url ? url : v, "http needs a 'url'");
        *ok = 0;
    }
    if (dsl_map_get(v, "body") && dsl_map_get(v, "form")) {
        ERR(c, dsl_map_get(v, "form"), "http takes 'body' (JSON) or 'form', not both");
        *ok = 0;
    }
    static const char *const maps[] = {"headers", "query", "form"};
    for (size_t k = 0; k < COUNT(maps); k++) {
        const dsl_node *x = dsl_map_get(v, maps[k]);
        if (x && x->kind != DSL_MAP) {
            ERR(c, x, "'%s' must be a mapping of name: value", maps[k]);
            *ok = 0;
        }
    }
    const dsl_node *tmo = dsl_map_get(v, "timeout");
    if (tmo) {
        int64_t ms;
        std_err e = {0};
        if (!is_scalar(tmo) || std_duration_parse(tmo->str, &ms, &e) != 0) {
            ERR(c, tmo, "'timeout': %s", is_scalar(tmo) ? e.msg : "must be a duration like 30s");
            *ok = 0;
        } else {
            json_object_set_new(step, "timeout_ms", json_integer(ms));
        }
    }
    const dsl_node *ex = dsl_map_get(v, "expect");
    json_t *expect = json_array();
    if (ex) {
        const dsl_node *one[1] = {ex};
        const dsl_node *const *items = ex->kind == DSL_SEQ ? (const dsl_node *const *)ex->vals : one;
        size_t n = ex->kind == DSL_SEQ ? ex->n : 1;
        for (size_t i = 0; i < n; i++) {
            const dsl_node *x = items[i];
            const char *s = is_scalar(x) ? x->str : "";
            int good = strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' &&
                       ((isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2])) ||
                        (s[1] == 'x' && s[2] == 'x'));
            if (!good) {
                ERR(c, x, "'expect' entries must be status codes like 200 or classes like 2xx");
                *ok = 0;
                continue;
            }
            json_array_append_new(expect, json_string(s));
        }
    } else {
        json_array_append_new(expect, json_string("2xx"));
    }
    json_object_set_new(step, "expect", expect);
    if (!*ok) return;
    /* the arguments: everything but expect and timeout, which are static */
    int bad = 0;
    json_t *t = json_object();
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->keys[i]->str;
        if (!strcmp(k, "expect") || !strcmp(k, "timeout")) continue;
        json_object_set_new(t, k, tmpl_of(c, v->vals[i], &bad));
    }
    if (!json_object_get(t, "method")) json_object_set_new(t, "method", json_pack("[s, s]", "c", "GET"));
    if (bad) {
        json_decref(t);
        *ok = 0;
        return;
    }
    json_object_set_new(step, "args", json_integer(vm_add_tmpl(c->p, fold_object(t))));
}

static void compile_step(C *c, const dsl_node *st, const char *path);

static int is_effect_kind(const char *k) { return !strcmp(k, "shell") || !strcmp(k, "http") || !strcmp(k, "call"); }
static int dsl_compile_file_at(const char *path, vm_program **out, std_diags *diags, int depth);
static int compile_file(const char *path, vm_program **out, char **source, std_diags *diags, int depth);

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
        if (!dsl_map_get(br, "steps")) {
            ERR(c, br, "switch branch needs 'steps' (what to run when 'when' is true)");
            *ok = 0;
        } else {
            compile_steps(c, dsl_map_get(br, "steps"), sub, "steps");
        }
        jumps[njumps++] = vm_emit(c->p, VM_JMP, 0, 0, br->line, br->col);
        c->p->code[jf].b = (int)c->p->ncode;
    }
    for (int i = 0; i < njumps; i++) c->p->code[jumps[i]].a = (int)c->p->ncode;
    free(jumps);
    (void)step;
    vm_emit(c->p, VM_SETOUT, step_index, 0, v->line, v->col);
}


/* ---- structured steps: parallel, foreach, loop, try, saga -------------- */

/* Bind name in c->locals while a body compiles; returns the previous
 * locals to restore with unbind. */
static json_t *bind(C *c, const char *name)
{
    json_t *old = c->locals;
    c->locals = old ? json_deep_copy(old) : json_object();
    if (name) json_object_set_new(c->locals, name, json_true());
    return old;
}

static void unbind(C *c, json_t *old)
{
    json_decref(c->locals);
    c->locals = old;
}

static int local_name(C *c, const dsl_node *n, const char *field)
{
    if (!is_scalar(n) || !match_ident(n->str, 0) || in_list(n->str, scope_names, COUNT(scope_names)) ||
        std_lua_is_builtin(n->str)) {
        ERR(c, n, "'%s' must be a new name matching [a-z][a-z0-9_]* (not input, vars, steps, ...)", field);
        return 0;
    }
    return 1;
}

static int bool_field(C *c, const dsl_node *n, const char *field, int def)
{
    if (!n) return def;
    if (is_scalar(n) && !strcmp(n->str, "true")) return 1;
    if (is_scalar(n) && !strcmp(n->str, "false")) return 0;
    ERR(c, n, "'%s' must be true or false", field);
    return def;
}

static void compile_parallel(C *c, const dsl_node *v, int step, const char *path, int *ok)
{
    static const char *const fields[] = {"branches", "mode", "fail_fast"};
    need_map(c, v, "parallel", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "parallel");
    const dsl_node *brs = dsl_map_get(v, "branches"), *mode = dsl_map_get(v, "mode");
    if (!brs || brs->kind != DSL_MAP || brs->n == 0) {
        ERR(c, brs ? brs : v, "parallel needs 'branches': a mapping of name: [steps]");
        *ok = 0;
        return;
    }
    if (mode && !(is_scalar(mode) && (!strcmp(mode->str, "all") || !strcmp(mode->str, "any")))) {
        ERR(c, mode, "'mode' must be 'all' (wait for every branch) or 'any' (the first to succeed)");
        *ok = 0;
    }
    json_t *b = json_pack("{s:s, s:s, s:b, s:i, s:[]}", "type", "par", "mode",
                          mode && is_scalar(mode) ? mode->str : "all", "fail_fast",
                          bool_field(c, dsl_map_get(v, "fail_fast"), "fail_fast", 1), "step", step,
                          "branches");
    int bi = vm_add_block(c->p, b);
    vm_emit(c->p, VM_PAR, bi, 0, v->line, v->col);
    for (size_t i = 0; i < brs->n; i++) {
        const char *name = brs->keys[i]->str;
        if (!match_ident(name, 0)) {
            ERR(c, brs->keys[i], "branch name '%s' must match [a-z][a-z0-9_]*", name);
            *ok = 0;
        }
        json_array_append_new(json_object_get(b, "branches"), json_pack("[s, i]", name, (int)c->p->ncode));
        compile_steps(c, brs->vals[i], vm_step_path(c->p, step), name);
        vm_emit(c->p, VM_FEND, 0, 0, brs->vals[i] ? brs->vals[i]->line : v->line, v->col);
    }
    json_object_set_new(b, "end", json_integer((json_int_t)c->p->ncode));
}

static void compile_foreach(C *c, const dsl_node *v, int step, const char *path, int *ok)
{
    static const char *const fields[] = {"items", "as", "concurrency", "steps", "result"};
    need_map(c, v, "foreach", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "foreach");
    const dsl_node *items = dsl_map_get(v, "items"), *as = dsl_map_get(v, "as");
    const dsl_node *conc = dsl_map_get(v, "concurrency");
    if (!items) {
        ERR(c, v, "foreach needs 'items': a Lua expression giving a list");
        *ok = 0;
        return;
    }
    int ic = compile_cond(c, items, "items");
    if (ic < 0) *ok = 0;
    const char *name = "item";
    if (as) {
        if (local_name(c, as, "as")) name = as->str;
        else *ok = 0;
    }
    double n = 1;
    if (conc && (!scalar_number(conc, &n) || n < 1 || n > 10000 || n != (int)n)) {
        ERR(c, conc, "'concurrency' must be a whole number from 1 to 10000");
        *ok = 0;
    }
    json_t *b = json_pack("{s:s, s:i, s:s, s:i, s:i, s:i}", "type", "foreach", "items", ic < 0 ? 0 : ic,
                          "as", name, "concurrency", (int)n, "step", step, "result", -1);
    int bi = vm_add_block(c->p, b);
    vm_emit(c->p, VM_EACH, bi, 0, v->line, v->col);
    json_object_set_new(b, "body", json_integer((json_int_t)c->p->ncode));
    json_t *old = bind(c, name);
    json_object_set_new(c->locals, "index", json_true());
    const dsl_node *res = dsl_map_get(v, "result");
    if (res) { /* a value like any other: `${ }` for an expression */
        int rt = add_tmpl(c, res);
        if (rt < 0) *ok = 0;
        json_object_set_new(b, "result", json_integer(rt));
    }
    compile_steps(c, dsl_map_get(v, "steps"), path, "steps");
    unbind(c, old);
    vm_emit(c->p, VM_FEND, 0, 0, v->line, v->col);
    json_object_set_new(b, "end", json_integer((json_int_t)c->p->ncode));
}

/* ---- dag: tasks joined by Airflow's trigger rules ----------------------- */

static const char *const trigger_rules[] = {
    "all_success", "all_failed",  "all_done", "all_done_min_one_success", "all_skipped",
    "one_success", "one_failed",  "one_done", "none_failed", "none_failed_min_one_success",
    "none_skipped", "always"};

/* The canonical name of a trigger rule (legacy aliases mapped), or NULL. */
static const char *trigger_rule(const char *s)
{
    if (!strcmp(s, "dummy")) return "always";
    if (!strcmp(s, "none_failed_or_skipped")) return "none_failed_min_one_success";
    for (size_t i = 0; i < COUNT(trigger_rules); i++)
        if (!strcmp(s, trigger_rules[i])) return trigger_rules[i];
    return NULL;
}

/* Read a task's needs, trigger, branch and short_circuit into task. */
static void dag_task_fields(C *c, const dsl_node *t, json_t *task, json_t *names, int self, int *ok)
{
    const char *name = json_string_value(json_object_get(task, "name"));
    const dsl_node *needs = dsl_map_get(t, "needs");
    if (needs && needs->kind != DSL_SEQ) {
        ERR(c, needs, "'needs' must be a list of task names, not %s", node_kind_name(needs));
        *ok = 0;
    }
    for (size_t k = 0; needs && needs->kind == DSL_SEQ && k < needs->n; k++) {
        const dsl_node *u = needs->vals[k];
        json_t *ui = is_scalar(u) ? json_object_get(names, u->str) : NULL;
        if (!ui) {
            const char *cands[512];
            size_t nc = 0;
            const char *nk;
            json_t *nv;
            json_object_foreach(names, nk, nv) if (nc < COUNT(cands)) cands[nc++] = nk;
            const char *hint = is_scalar(u) ? std_suggest(u->str, cands, nc) : NULL;
            if (!is_scalar(u)) ERR(c, u, "'needs' must list task names, not %s", node_kind_name(u));
            else if (hint) ERR(c, u, "task '%s' needs unknown task '%s' (did you mean '%s'?)", name, u->str, hint);
            else ERR(c, u, "task '%s' needs unknown task '%s' (not under this dag's 'tasks')", name, u->str);
            *ok = 0;
            continue;
        }
        if (json_integer_value(ui) == self) {
            ERR(c, u, "task '%s' needs itself", name);
            *ok = 0;
            continue;
        }
        json_t *list = json_object_get(task, "needs");
        size_t j;
        json_t *x;
        int dup = 0;
        json_array_foreach(list, j, x) dup |= json_integer_value(x) == json_integer_value(ui);
        if (dup) {
            ERR(c, u, "task '%s' lists '%s' twice in 'needs'", name, u->str);
            *ok = 0;
        } else {
            json_array_append(list, ui);
        }
    }
    const dsl_node *tr = dsl_map_get(t, "trigger");
    if (tr) {
        const char *rule = is_scalar(tr) ? trigger_rule(tr->str) : NULL;
        if (!rule) {
            const char *hint = is_scalar(tr) ? std_suggest(tr->str, trigger_rules, COUNT(trigger_rules)) : NULL;
            if (hint) ERR(c, tr, "unknown trigger rule '%s' (did you mean '%s'?)", tr->str, hint);
            else ERR(c, tr, "'trigger' must be one of all_success, all_failed, all_done, "
                            "all_done_min_one_success, all_skipped, one_success, one_failed, one_done, "
                            "none_failed, none_failed_min_one_success, none_skipped, always");
            *ok = 0;
        } else {
            json_object_set_new(task, "trigger", json_string(rule));
        }
    }
    int branch = bool_field(c, dsl_map_get(t, "branch"), "branch", 0);
    json_object_set_new(task, "branch", json_boolean(branch));
    const dsl_node *sc = dsl_map_get(t, "short_circuit");
    if (sc) {
        if (!is_scalar(sc) || (strcmp(sc->str, "downstream") != 0 && strcmp(sc->str, "direct") != 0)) {
            ERR(c, sc, "'short_circuit' must be 'downstream' (a false output skips every task after "
                       "this one) or 'direct' (only the tasks that need it)");
            *ok = 0;
        } else if (branch) {
            ERR(c, sc, "task '%s' cannot be both a branch and a short circuit", name);
            *ok = 0;
        } else {
            json_object_set_new(task, "sc", json_string(sc->str));
        }
    }
}

/* Kahn's algorithm over the needs; when tasks remain, walk back along
 * needs among them to name one cycle. */
static int dag_cycle(C *c, const dsl_node *tasks, json_t *list)
{
    size_t n = json_array_size(list), head = 0, tail = 0;
    int *indeg = calloc(n, sizeof *indeg), *queue = calloc(n, sizeof *queue);
    if (!indeg || !queue) abort();
    for (size_t i = 0; i < n; i++) {
        indeg[i] = (int)json_array_size(json_object_get(json_array_get(list, i), "needs"));
        if (!indeg[i]) queue[tail++] = (int)i;
    }
    while (head < tail) {
        size_t j;
        json_t *d, *down = json_object_get(json_array_get(list, (size_t)queue[head++]), "down");
        json_array_foreach(down, j, d)
            if (--indeg[json_integer_value(d)] == 0) queue[tail++] = (int)json_integer_value(d);
    }
    int found = tail < n;
    if (found) {
        int x = 0;
        while (!indeg[x]) x++;
        /* every remaining task needs a remaining task: walk until one repeats */
        int *seen = calloc(n, sizeof *seen), step = 1;
        if (!seen) abort();
        while (!seen[x]) {
            seen[x] = step++;
            size_t j;
            json_t *u;
            json_array_foreach(json_object_get(json_array_get(list, (size_t)x), "needs"), j, u)
                if (indeg[json_integer_value(u)]) { x = (int)json_integer_value(u); break; }
        }
        /* x is on a cycle: the same walk leads back to it; print it in run order */
        std_buf b = {0};
        int start = x, k = 0;
        int *cyc = calloc(n + 1, sizeof *cyc);
        if (!cyc) abort();
        do {
            cyc[k++] = x;
            size_t j;
            json_t *u;
            json_array_foreach(json_object_get(json_array_get(list, (size_t)x), "needs"), j, u)
                if (indeg[json_integer_value(u)]) { x = (int)json_integer_value(u); break; }
        } while (x != start && k < (int)n);
        for (int i = k - 1; i >= 0; i--)
            std_buf_addf(&b, "%s -> ", json_string_value(json_object_get(json_array_get(list, (size_t)cyc[i]), "name")));
        std_buf_adds(&b, json_string_value(json_object_get(json_array_get(list, (size_t)cyc[k - 1]), "name")));
        const dsl_node *at = tasks->keys[cyc[k - 1]];
        ERR(c, at, "the dag's tasks form a cycle: %s", b.p);
        std_buf_free(&b);
        free(cyc);
        free(seen);
    }
    free(indeg);
    free(queue);
    return found;
}

static void compile_dag(C *c, const dsl_node *v, int step, const char *path, int *ok)
{
    static const char *const fields[] = {"tasks"};
    need_map(c, v, "dag", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "dag");
    const dsl_node *tasks = dsl_map_get(v, "tasks");
    if (!tasks || tasks->kind != DSL_MAP || tasks->n == 0) {
        ERR(c, tasks ? tasks : v, "dag needs 'tasks': a mapping of task name: step");
        *ok = 0;
        return;
    }
    json_t *names = json_object(), *list = json_array();
    for (size_t i = 0; i < tasks->n; i++) {
        const char *name = tasks->keys[i]->str;
        if (!task_name_ok(name)) {
            ERR(c, tasks->keys[i], "task name '%s' must match [A-Za-z0-9_][A-Za-z0-9_.-]* (at most 250 characters)", name);
            *ok = 0;
        }
        json_object_set_new(names, name, json_integer((json_int_t)i));
        json_array_append_new(list, json_pack("{s:s, s:i, s:[], s:[], s:s, s:b, s:s}", "name", name, "addr",
                                              -1, "needs", "down", "trigger", "all_success", "branch", 0,
                                              "sc", ""));
    }
    int fields_ok = 1;
    for (size_t i = 0; i < tasks->n; i++) {
        const dsl_node *t = tasks->vals[i];
        if (!t || t->kind != DSL_MAP) {
            ERR(c, t ? t : tasks->keys[i], "task '%s' must be a mapping: a step, with 'needs' and 'trigger' if any",
                tasks->keys[i]->str);
            fields_ok = 0;
            continue;
        }
        dag_task_fields(c, t, json_array_get(list, i), names, (int)i, &fields_ok);
    }
    for (size_t i = 0; i < tasks->n; i++) {
        size_t j;
        json_t *u;
        json_array_foreach(json_object_get(json_array_get(list, i), "needs"), j, u)
            json_array_append_new(json_object_get(json_array_get(list, (size_t)json_integer_value(u)), "down"),
                                  json_integer((json_int_t)i));
    }
    if (fields_ok && dag_cycle(c, tasks, list)) fields_ok = 0;
    if (!fields_ok) *ok = 0;
    json_decref(names);
    json_t *b = json_pack("{s:s, s:i, s:o}", "type", "dag", "step", step, "tasks", list);
    int bi = vm_add_block(c->p, b);
    vm_emit(c->p, VM_DAG, bi, 0, v->line, v->col);
    for (size_t i = 0; i < tasks->n; i++) {
        const dsl_node *t = tasks->vals[i];
        json_object_set_new(json_array_get(list, i), "addr", json_integer((json_int_t)c->p->ncode));
        if (!t || t->kind != DSL_MAP) continue;
        const dsl_node *cond = dsl_map_get(t, "if");
        int jf = -1;
        if (cond) { /* a task whose `if` is false ends skipped */
            int k = compile_cond(c, cond, "if");
            if (k < 0) *ok = 0;
            jf = vm_emit(c->p, VM_JMPF, k < 0 ? 0 : k, 0, cond->line, cond->col);
        }
        char sub[1024];
        snprintf(sub, sizeof sub, "%s.tasks.%s", path, tasks->keys[i]->str);
        c->task_name = tasks->keys[i]->str;
        compile_step(c, t, sub);
        c->task_name = NULL;
        vm_emit(c->p, VM_FEND, 0, 0, t->line, t->col);
        if (jf >= 0) {
            c->p->code[jf].b = (int)c->p->ncode;
            vm_emit(c->p, VM_TSKIP, 0, 0, cond->line, cond->col);
        }
    }
    json_object_set_new(b, "end", json_integer((json_int_t)c->p->ncode));
}

static void compile_loop(C *c, const dsl_node *v, int step, const char *path, int *ok)
{
    static const char *const fields[] = {"steps", "until", "every", "max_iterations"};
    need_map(c, v, "loop", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "loop");
    const dsl_node *until = dsl_map_get(v, "until"), *every = dsl_map_get(v, "every");
    const dsl_node *max = dsl_map_get(v, "max_iterations");
    double n = 0;
    if (max && (!scalar_number(max, &n) || n < 1 || n > 1e15 || n != (long)n)) {
        ERR(c, max, "'max_iterations' must be a whole number of at least 1");
        *ok = 0;
    }
    if (!until && !max) {
        ERR(c, v, "loop needs 'until' or 'max_iterations', or it never ends");
        *ok = 0;
    }
    int64_t wait_ms = 0;
    if (every) {
        std_err e = {0};
        if (!is_scalar(every) || std_duration_parse(every->str, &wait_ms, &e) != 0) {
            ERR(c, every, "'every': %s", is_scalar(every) ? e.msg : "must be a duration like 30s");
            *ok = 0;
        }
    }
    json_t *b = json_pack("{s:s, s:i, s:I, s:i}", "type", "loop", "until", -1, "max", (json_int_t)n,
                          "step", step);
    int bi = vm_add_block(c->p, b);
    vm_emit(c->p, VM_CLEAR, 0, 0, v->line, v->col);
    vm_emit(c->p, VM_LOOP, bi, 0, v->line, v->col);
    int top = (int)c->p->ncode;
    json_object_set_new(b, "top", json_integer(top));
    compile_steps(c, dsl_map_get(v, "steps"), path, "steps");
    if (until) {
        int k = compile_cond(c, until, "until");
        if (k < 0) *ok = 0;
        json_object_set_new(b, "until", json_integer(k));
    }
    int next = vm_emit(c->p, VM_NEXT, bi, 0, until ? until->line : v->line, until ? until->col : v->col);
    if (wait_ms > 0) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s.every", path);
        json_t *w = json_pack("{s:s, s:n, s:s, s:i, s:i, s:i, s:i, s:I}", "path", sub, "id", "kind",
                              "sleep", "line", every->line, "col", every->col, "args", -1, "chunk", -1,
                              "ms", (json_int_t)wait_ms);
        int wi = vm_add_step(c->p, w);
        vm_emit(c->p, VM_STEP, wi, 0, every->line, every->col);
    }
    vm_emit(c->p, VM_JMP, top, 0, v->line, v->col);
    c->p->code[next].b = (int)c->p->ncode;
    if (step >= 0) vm_emit(c->p, VM_SETOUT, step, 0, v->line, v->col);
}

static void compile_try(C *c, const dsl_node *v, const char *path, int *ok)
{
    static const char *const fields[] = {"steps", "catch", "finally"};
    static const char *const cfields[] = {"errors", "as", "steps"};
    need_map(c, v, "try", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "try");
    const dsl_node *cat = dsl_map_get(v, "catch"), *fin = dsl_map_get(v, "finally");
    if (!cat && !fin) {
        ERR(c, v, "try needs 'catch' or 'finally'");
        *ok = 0;
    }
    json_t *b = json_pack("{s:s, s:[], s:i}", "type", "try", "catches", "finally", -1);
    int bi = vm_add_block(c->p, b);
    vm_emit(c->p, VM_TRY, bi, 0, v->line, v->col);
    compile_steps(c, dsl_map_get(v, "steps"), path, "steps");
    vm_emit(c->p, VM_TRYEND, bi, 0, v->line, v->col);
    if (cat && cat->kind != DSL_SEQ) {
        ERR(c, cat, "'catch' must be a list of {errors, as, steps}");
        *ok = 0;
    }
    for (size_t i = 0; cat && cat->kind == DSL_SEQ && i < cat->n; i++) {
        const dsl_node *cl = cat->vals[i];
        if (!cl || cl->kind != DSL_MAP) {
            ERR(c, cl, "a catch clause must be a mapping {errors, as, steps}");
            *ok = 0;
            continue;
        }
        check_keys(c, cl, cfields, COUNT(cfields), "a catch clause");
        const dsl_node *errs = dsl_map_get(cl, "errors"), *as = dsl_map_get(cl, "as");
        json_t *pats = errs ? error_patterns(c, errs, "errors", ok) : json_pack("[s]", "*");
        const char *name = "err";
        if (as) {
            if (local_name(c, as, "as")) name = as->str;
            else *ok = 0;
        }
        json_array_append_new(json_object_get(b, "catches"),
                              json_pack("{s:o, s:s, s:i}", "errors", pats, "as", name, "addr",
                                        (int)c->p->ncode));
        char sub[1024];
        snprintf(sub, sizeof sub, "%s.catch[%zu]", path, i);
        json_t *old = bind(c, name);
        compile_steps(c, dsl_map_get(cl, "steps"), sub, "steps");
        unbind(c, old);
        vm_emit(c->p, VM_TRYEND, bi, 0, cl->line, cl->col);
    }
    if (fin) {
        json_object_set_new(b, "finally", json_integer((json_int_t)c->p->ncode));
        compile_steps(c, fin, path, "finally");
        vm_emit(c->p, VM_FINEND, bi, 0, fin->line, fin->col);
    }
    json_object_set_new(b, "end", json_integer((json_int_t)c->p->ncode));
}

static void compile_saga(C *c, const dsl_node *v, const char *path, int *ok)
{
    static const char *const fields[] = {"steps"};
    need_map(c, v, "saga", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "saga");
    int bi = vm_add_block(c->p, json_pack("{s:s}", "type", "saga"));
    vm_emit(c->p, VM_SAGA, bi, 0, v->line, v->col);
    compile_steps(c, dsl_map_get(v, "steps"), path, "steps");
    vm_emit(c->p, VM_SAGAEND, bi, 0, v->line, v->col);
}

/* Compensations are compiled after the workflow's END, out of line: each
 * is a list of steps ending in COMPEND; its step entry gets "comp". */
static void compile_deferred(C *c)
{
    for (size_t i = 0; i < json_array_size(c->deferred); i++) {
        json_t *d = json_array_get(c->deferred, i);
        int step = (int)json_integer_value(json_array_get(d, 0));
        const dsl_node *n = (const dsl_node *)(uintptr_t)json_integer_value(json_array_get(d, 1));
        json_t *old = c->locals;
        c->locals = json_incref(json_array_get(d, 3));
        json_object_set_new(json_array_get(c->p->steps, (size_t)step), "comp",
                            json_integer((json_int_t)c->p->ncode));
        c->in_comp = 1;
        compile_steps(c, n, json_string_value(json_array_get(d, 2)), "compensate");
        c->in_comp = 0;
        vm_emit(c->p, VM_COMPEND, 0, 0, n->line, n->col);
        json_decref(c->locals);
        c->locals = old;
    }
}


/* sleep: a duration, or {until: time} (RFC 3339 text or Unix seconds) */
static void compile_sleep(C *c, const dsl_node *v, json_t *step, int *ok)
{
    if (is_scalar(v)) {
        int64_t ms = 0;
        std_err e = {0};
        if (std_duration_parse(v->str, &ms, &e) != 0) {
            ERR(c, v, "'sleep': %s", e.msg);
            *ok = 0;
        }
        json_object_set_new(step, "ms", json_integer(ms));
        return;
    }
    static const char *const fields[] = {"until"};
    need_map(c, v, "sleep", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "sleep");
    if (!dsl_map_get(v, "until")) {
        ERR(c, v, "'sleep' takes a duration (30s) or {until: time}");
        *ok = 0;
        return;
    }
    int t = add_tmpl(c, v);
    if (t < 0) *ok = 0;
    json_object_set_new(step, "args", json_integer(t));
}

/* wait: a signal name, or {signal, timeout, on_timeout: fail|continue} */
static void compile_wait(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"signal", "timeout", "on_timeout"};
    const dsl_node *sig = v, *tmo = NULL, *ont = NULL;
    if (!is_scalar(v)) {
        need_map(c, v, "wait", ok);
        if (!*ok) return;
        check_keys(c, v, fields, COUNT(fields), "wait");
        sig = dsl_map_get(v, "signal");
        tmo = dsl_map_get(v, "timeout");
        ont = dsl_map_get(v, "on_timeout");
    }
    if (!sig || !is_scalar(sig) || !match_ident(sig->str, 1)) {
        ERR(c, sig ? sig : v, "'wait' needs a signal name matching [a-z][a-z0-9_-]*");
        *ok = 0;
        return;
    }
    json_object_set_new(step, "signal", json_string(sig->str));
    if (tmo) {
        int64_t ms = 0;
        std_err e = {0};
        if (!is_scalar(tmo) || std_duration_parse(tmo->str, &ms, &e) != 0) {
            ERR(c, tmo, "'timeout': %s", is_scalar(tmo) ? e.msg : "must be a duration like 1h");
            *ok = 0;
        }
        json_object_set_new(step, "wait_ms", json_integer(ms));
    }
    if (ont && !(is_scalar(ont) && (!strcmp(ont->str, "fail") || !strcmp(ont->str, "continue")))) {
        ERR(c, ont, "'on_timeout' must be 'fail' or 'continue'");
        *ok = 0;
    }
    json_object_set_new(step, "on_timeout", json_string(ont && is_scalar(ont) ? ont->str : "fail"));
    json_object_set_new(step, "args", json_integer(vm_add_tmpl(c->p, json_pack("[s, {s:s}]", "c", "signal", sig->str))));
}

/* continue_as_new: {input: value} */
static void compile_can(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"input"};
    if (is_scalar(v) && v->len == 0) {
        json_object_set_new(step, "args", json_integer(-1));
        return;
    }
    need_map(c, v, "continue_as_new", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "continue_as_new");
    int t = add_tmpl(c, v);
    if (t < 0) *ok = 0;
    json_object_set_new(step, "args", json_integer(t));
}


/* call: {workflow: FILE, input, id, detach}. The child file is compiled now
 * (relative to this file) and its program travels inside the step, so that
 * the parent pins the child's program as it pins its own. */
static void compile_call(C *c, const dsl_node *v, json_t *step, int *ok)
{
    static const char *const fields[] = {"workflow", "input", "id", "detach"};
    need_map(c, v, "call", ok);
    if (!*ok) return;
    check_keys(c, v, fields, COUNT(fields), "call");
    const dsl_node *wf = dsl_map_get(v, "workflow");
    if (!wf || !is_scalar(wf) || !wf->len) {
        ERR(c, wf ? wf : v, "'call' needs 'workflow': the file of the child workflow");
        *ok = 0;
        return;
    }
    json_object_set_new(step, "detach", json_boolean(bool_field(c, dsl_map_get(v, "detach"), "detach", 0)));
    char path[1024];
    const char *slash = strrchr(c->file, '/');
    if (wf->str[0] == '/' || !slash) snprintf(path, sizeof path, "%s", wf->str);
    else snprintf(path, sizeof path, "%.*s/%s", (int)(slash - c->file), c->file, wf->str);
    char *a = realpath(path, NULL), *b = realpath(c->file, NULL);
    if (!a) {
        ERR(c, wf, "cannot read workflow '%s' (%s)", wf->str, path);
        *ok = 0;
    } else if (b && !strcmp(a, b)) {
        json_object_set_new(step, "self", json_true()); /* a workflow calling itself */
    } else if (c->depth >= 8) {
        ERR(c, wf, "calls nested deeper than 8 files");
        *ok = 0;
    } else {
        std_diags d = {0};
        vm_program *child = NULL;
        if (dsl_compile_file_at(path, &child, &d, c->depth + 1) != 0) {
            ERR(c, wf, "workflow '%s' has %zu error%s:", wf->str, d.n, d.n == 1 ? "" : "s");
            for (size_t i = 0; i < d.n; i++) std_diag(c->d, c->file, wf->line, wf->col, "  %s", d.msgs[i]);
            *ok = 0;
        } else {
            char *text = vm_program_serialize(child);
            json_object_set_new(step, "program", json_string(text));
            free(text);
        }
        vm_program_free(child);
        std_diags_free(&d);
    }
    free(a);
    free(b);
    int bad = 0;
    json_t *t = json_object();
    const dsl_node *in = dsl_map_get(v, "input"), *id = dsl_map_get(v, "id");
    json_object_set_new(t, "input", in ? tmpl_of(c, in, &bad) : json_pack("[s, {}]", "c"));
    if (id) json_object_set_new(t, "id", tmpl_of(c, id, &bad));
    if (bad) {
        json_decref(t);
        *ok = 0;
        return;
    }
    json_object_set_new(step, "args", json_integer(vm_add_tmpl(c->p, fold_object(t))));
}

static void compile_step(C *c, const dsl_node *st, const char *path)
{
    if (!st || st->kind != DSL_MAP) {
        ERR(c, st, "a step must be a mapping with one kind key (lua, shell, set, ...), not %s",
            node_kind_name(st));
        return;
    }
    /* a dag task: its name is its id, and its task fields and `if` are
     * compiled by compile_dag */
    const char *task = c->task_name;
    c->task_name = NULL;
    /* find the kind */
    const char *kind = NULL;
    const dsl_node *kv = NULL, *kk = NULL;
    int ok = 1;
    for (size_t i = 0; i < st->n; i++) {
        const char *k = st->keys[i]->str;
        if (task && in_list(k, task_fields, COUNT(task_fields))) continue;
        if (task && !strcmp(k, "id")) {
            ERR(c, st->keys[i], "a dag task is named by its key under 'tasks': remove 'id'");
            ok = 0;
            continue;
        }
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
            const char *all[COUNT(kinds) + COUNT(common_fields) + COUNT(task_fields)];
            size_t n = 0;
            for (size_t j = 0; j < COUNT(kinds); j++) all[n++] = kinds[j];
            for (size_t j = 0; j < COUNT(common_fields); j++) all[n++] = common_fields[j];
            if (task)
                for (size_t j = 0; j < COUNT(task_fields); j++) all[n++] = task_fields[j];
            const char *hint = std_suggest(k, all, n);
            if (hint)
                ERR(c, st->keys[i], "unknown field '%s' in %s (did you mean '%s'?)", k, task ? "task" : "step", hint);
            else
                ERR(c, st->keys[i], "unknown field '%s' in %s", k, task ? "task" : "step");
            ok = 0;
        }
    }
    if (!kind) {
        if (ok)
            ERR(c, st, "%s has no kind: add one of lua, shell, http, set, switch, parallel, "
                       "foreach, loop, dag, try, saga, sleep, wait, call, fail, succeed, continue_as_new",
                task ? "task" : "step");
        return;
    }
    const dsl_node *id = task ? NULL : dsl_map_get(st, "id");
    if (id && !(is_scalar(id) && match_ident(id->str, 0))) {
        if (is_scalar(id) && id->len)
            ERR(c, id, "step id '%s' must match [a-z][a-z0-9_]*", id->str);
        else
            ERR(c, id, "step id must be a name matching [a-z][a-z0-9_]*, not %s",
                is_scalar(id) ? "empty" : node_kind_name(id));
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
    json_t *step = new_step(c, st, path, kind, task);
    const dsl_node *tmo = dsl_map_get(st, "timeout");
    if (tmo) {
        int64_t ms = 0;
        std_err e = {0};
        if (!is_scalar(tmo) || std_duration_parse(tmo->str, &ms, &e) != 0) {
            ERR(c, tmo, "'timeout': %s", is_scalar(tmo) ? e.msg : "must be a duration like 30s");
            ok = 0;
        } else if (strcmp(kind, "shell") != 0 && strcmp(kind, "http") != 0) {
            ERR(c, tmo, "'timeout' applies to shell and http steps (lua steps have an instruction limit)");
            ok = 0;
        } else {
            json_object_set_new(step, "timeout_ms", json_integer(ms));
        }
    } else if (c->def_timeout > 0 && (!strcmp(kind, "shell") || !strcmp(kind, "http"))) {
        json_object_set_new(step, "timeout_ms", json_integer(c->def_timeout));
    }
    const dsl_node *retry = dsl_map_get(st, "retry");
    static const char *const blocks[] = {"switch", "parallel", "foreach", "loop", "try", "saga", "dag"};
    if (retry && in_list(kind, blocks, COUNT(blocks))) {
        ERR(c, retry, "'retry' applies to the steps inside a '%s', not to the block itself", kind);
        ok = 0;
        retry = NULL;
    }
    json_t *pol = retry ? compile_retry_ref(c, retry)
                        : in_list(kind, blocks, COUNT(blocks)) ? NULL : json_incref(c->def_retry);
    if (pol) json_object_set_new(step, "retry", pol);
    else if (retry) ok = 0;
    /* `if` guards the whole step */
    const dsl_node *cond = task ? NULL : dsl_map_get(st, "if");
    int jf = -1;
    if (cond) {
        int k = compile_cond(c, cond, "if");
        if (k < 0) ok = 0;
        jf = vm_emit(c->p, VM_JMPF, k < 0 ? 0 : k, 0, cond->line, cond->col);
    }
    int index = vm_add_step(c->p, step);
    if (!strcmp(kind, "lua")) {
        /* see compile_cond; in a chunk, a bare final 'return' also takes '#...' */
        std_err le = {0};
        size_t L = is_scalar(kv) ? kv->len : 0;
        int bare_return = L >= 6 && !strcmp(kv->str + L - 6, "return") &&
                          (L == 6 || !(isalnum((unsigned char)kv->str[L - 7]) || kv->str[L - 7] == '_'));
        if (is_scalar(kv) && kv->cut_by_comment &&
            (L == 0 || bare_return || std_lua_syntax(kv->str, 0, &le) != 0)) {
            ERR(c, kv, "Lua chunk is cut by a YAML comment at ' #': use a block scalar (lua: |) or len()");
            ok = 0;
        } else if (!is_scalar(kv) || kv->len == 0) {
            ERR(c, kv, "'lua' must be a Lua chunk (a string with a 'return')");
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
    } else if (!strcmp(kind, "http")) {
        compile_http(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "parallel")) {
        compile_parallel(c, kv, index, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "foreach")) {
        compile_foreach(c, kv, index, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "dag")) {
        compile_dag(c, kv, index, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "loop")) {
        compile_loop(c, kv, vm_step_id(c->p, index) ? index : -1, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "try")) {
        compile_try(c, kv, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "saga")) {
        compile_saga(c, kv, vm_step_path(c->p, index), &ok);
    } else if (!strcmp(kind, "sleep")) {
        compile_sleep(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "wait")) {
        compile_wait(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "call")) {
        compile_call(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
    } else if (!strcmp(kind, "continue_as_new")) {
        compile_can(c, kv, step, &ok);
        vm_emit(c->p, VM_STEP, index, 0, st->line, st->col);
        vm_emit(c->p, VM_FINISH, -1, 0, st->line, st->col);
    }
    const dsl_node *comp = dsl_map_get(st, "compensate");
    if (comp) {
        if (c->in_comp) {
            ERR(c, comp, "a compensation step cannot have a 'compensate' of its own");
        } else if (!is_effect_kind(kind)) {
            ERR(c, comp, "'compensate' undoes an effect: put it on a shell or http step, not on '%s'", kind);
        } else {
            json_t *locals = c->locals ? json_incref(c->locals) : json_object();
            json_array_append_new(c->deferred, json_pack("[i, I, s, o]", index, (json_int_t)(uintptr_t)comp,
                                                         vm_step_path(c->p, index), locals));
        }
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
        if (!path[0]) snprintf(sub, sizeof sub, "%s[%zu]", field, i);
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
            else if (!is_scalar(type))
                ERR(c, type, "'type' must be one name (string, integer, number, boolean, object, "
                             "array or any), not %s", node_kind_name(type));
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

/* A trigger's input (node in, NULL when absent, value v) must fit the
 * workflow's input schema, as `wfdsl run --input` would check it: the error
 * points at the field's key (unknown), its value (wrong), or the input. A
 * missing required field is not an error of the file (`run --input` gives
 * it; importers write such files) but makes it undeployable. */
static void check_trigger_input(C *c, const dsl_node *tr, const dsl_node *in, json_t *v)
{
    std_err e = {0};
    char field[256];
    json_t *done = vm_input_check_as(c->p, v, "trigger input", field, sizeof field, &e);
    if (done) {
        json_decref(done);
        return;
    }
    const dsl_node *at = in ? in : tr;
    for (size_t i = 0; in && in->kind == DSL_MAP && field[0] && i < in->n; i++)
        if (!strcmp(in->keys[i]->str, field))
            at = strstr(e.msg, "unknown field") ? in->keys[i] : in->vals[i];
    if (!strstr(e.msg, ": missing required field")) {
        ERR(c, at, "%s", e.msg);
        return;
    }
    char pos[300];
    snprintf(pos, sizeof pos, "%s:%d:%d", c->file, at->line, at->col);
    if (!c->p->undeployable) c->p->undeployable = json_array();
    json_array_append_new(c->p->undeployable, json_pack("[s, s]", pos, e.msg));
}

/* triggers: [{cron | every, timezone, overlap, catchup, jitter, input,
 * start_at, end_at}], normalized into meta.triggers for `wfdsl deploy`. */
static void compile_triggers(C *c, const dsl_node *t)
{
    static const char *const fields[] = {"cron", "every", "timezone", "overlap", "catchup",
                                         "jitter", "input", "start_at", "end_at", "interval"};
    static const char *const overlaps[] = {"skip", "buffer_one", "buffer_all", "cancel_other",
                                           "terminate_other", "allow_all"};
    if (t->kind != DSL_SEQ) {
        ERR(c, t, "'triggers' must be a list of {cron: ...} or {every: ...}");
        return;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const dsl_node *tr = t->vals[i];
        if (!tr || tr->kind != DSL_MAP) {
            ERR(c, tr, "a trigger must be a mapping with 'cron' or 'every'");
            continue;
        }
        check_keys(c, tr, fields, COUNT(fields), "trigger");
        const dsl_node *cr = dsl_map_get(tr, "cron"), *ev = dsl_map_get(tr, "every");
        json_t *j = json_object();
        std_err e = {0};
        if (!!cr == !!ev) {
            ERR(c, tr, "a trigger needs exactly one of 'cron' or 'every'");
        } else if (cr) {
            std_cron *cx = NULL;
            if (!is_scalar(cr) || std_cron_parse(cr->str, &cx, &e) != 0)
                ERR(c, cr, "%s", is_scalar(cr) ? e.msg : "'cron' must be a string like \"0 9 * * MON-FRI\"");
            else json_object_set_new(j, "cron", json_string(cr->str));
            std_cron_free(cx);
        } else {
            int64_t ms = 0;
            if (!is_scalar(ev) || std_duration_parse(ev->str, &ms, &e) != 0 || ms < 1000)
                ERR(c, ev, "'every': %s", is_scalar(ev) && e.msg[0] ? e.msg : "must be a duration of at least 1s");
            else json_object_set_new(j, "every_ms", json_integer(ms));
        }
        const dsl_node *tz = dsl_map_get(tr, "timezone");
        if (tz && (!is_scalar(tz) || !std_tz_valid(tz->str)))
            ERR(c, tz, "unknown time zone '%s' (an IANA name like Europe/Berlin)", is_scalar(tz) ? tz->str : "");
        json_object_set_new(j, "timezone", json_string(tz && is_scalar(tz) ? tz->str : "UTC"));
        const dsl_node *ov = dsl_map_get(tr, "overlap");
        if (ov && !(is_scalar(ov) && in_list(ov->str, overlaps, COUNT(overlaps)))) {
            const char *hint = is_scalar(ov) ? std_suggest(ov->str, overlaps, COUNT(overlaps)) : NULL;
            ERR(c, ov, "unknown overlap policy '%s'%s%s%s", is_scalar(ov) ? ov->str : "",
                hint ? " (did you mean '" : " (use skip, buffer_one, buffer_all, cancel_other, terminate_other or allow_all", hint ? hint : "", hint ? "'?)" : ")");
        }
        json_object_set_new(j, "overlap", json_string(ov && is_scalar(ov) ? ov->str : "skip"));
        static const char *const durs[] = {"catchup", "jitter"};
        for (int k = 0; k < 2; k++) {
            const dsl_node *d = dsl_map_get(tr, durs[k]);
            int64_t ms = k == 0 ? 60000 : 0; /* catch-up: a minute by default */
            if (d && (!is_scalar(d) || std_duration_parse(d->str, &ms, &e) != 0))
                ERR(c, d, "'%s': %s", durs[k], is_scalar(d) ? e.msg : "must be a duration");
            json_object_set_new(j, k == 0 ? "catchup_ms" : "jitter_ms", json_integer(ms));
        }
        static const char *const times[] = {"start_at", "end_at"};
        for (int k = 0; k < 2; k++) {
            const dsl_node *d = dsl_map_get(tr, times[k]);
            int64_t ms = 0;
            if (d && (!is_scalar(d) || std_parse_time(d->str, &ms) != 0))
                ERR(c, d, "'%s' must be an RFC 3339 time like 2026-01-01T00:00:00Z", times[k]);
            if (d) json_object_set_new(j, k == 0 ? "start_at_ms" : "end_at_ms", json_integer(ms));
        }
        const dsl_node *iv = dsl_map_get(tr, "interval");
        if (iv && !(is_scalar(iv) && (!strcmp(iv->str, "data") || !strcmp(iv->str, "trigger"))))
            ERR(c, iv, "'interval' must be 'trigger' (a run covers its fire time) or 'data' (a run "
                       "covers the time since the previous slot and fires at its end)");
        else if (iv && !strcmp(iv->str, "data")) /* absent = trigger, keeping older programs' hashes */
            json_object_set_new(j, "interval", json_string("data"));
        const dsl_node *in = dsl_map_get(tr, "input");
        json_object_set_new(j, "input", in ? dsl_plain_value(in) : json_object());
        if (!c->input_bad) check_trigger_input(c, tr, in, json_object_get(j, "input"));
        json_array_append_new(out, j);
    }
    json_object_set_new(c->p->meta, "triggers", out);
}


/* secrets, retry_policies, defaults and the whole-run timeout */
static void compile_top_policies(C *c, const dsl_node *root)
{
    c->secrets = json_object();
    c->policies = json_object();
    const dsl_node *sec = dsl_map_get(root, "secrets");
    if (sec) {
        json_t *names = json_array();
        if (sec->kind != DSL_SEQ) ERR(c, sec, "'secrets' must be a list of environment variable names");
        for (size_t i = 0; sec->kind == DSL_SEQ && i < sec->n; i++) {
            const dsl_node *x = sec->vals[i];
            int good = is_scalar(x) && (isupper((unsigned char)x->str[0]) || x->str[0] == '_');
            for (const char *q = is_scalar(x) ? x->str : ""; good && *q; q++)
                good = isupper((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_';
            if (!good) {
                ERR(c, x, "secret names are environment variable names like PAYMENTS_TOKEN");
                continue;
            }
            json_object_set_new(c->secrets, x->str, json_true());
            json_array_append_new(names, json_string(x->str));
        }
        json_object_set_new(c->p->meta, "secrets", names);
    }
    const dsl_node *pols = dsl_map_get(root, "retry_policies");
    if (pols) {
        if (pols->kind != DSL_MAP) ERR(c, pols, "'retry_policies' must be a mapping of name: policy");
        for (size_t i = 0; pols->kind == DSL_MAP && i < pols->n; i++) {
            if (!match_ident(pols->keys[i]->str, 1))
                ERR(c, pols->keys[i], "policy name '%s' must match [a-z][a-z0-9_-]*", pols->keys[i]->str);
            json_t *p = compile_policy(c, pols->vals[i]);
            if (p) json_object_set_new(c->policies, pols->keys[i]->str, p);
        }
    }
    const dsl_node *defs = dsl_map_get(root, "defaults");
    if (defs) {
        static const char *const df[] = {"timeout", "retry"};
        if (defs->kind != DSL_MAP) {
            ERR(c, defs, "'defaults' must be a mapping with 'timeout' and/or 'retry'");
        } else {
            check_keys(c, defs, df, COUNT(df), "defaults");
            const dsl_node *t = dsl_map_get(defs, "timeout");
            std_err e = {0};
            if (t && (!is_scalar(t) || std_duration_parse(t->str, &c->def_timeout, &e) != 0))
                ERR(c, t, "'timeout': %s", is_scalar(t) ? e.msg : "must be a duration like 30s");
            const dsl_node *r = dsl_map_get(defs, "retry");
            if (r) c->def_retry = compile_retry_ref(c, r);
        }
    }
    const dsl_node *tmo = dsl_map_get(root, "timeout");
    if (tmo) {
        int64_t ms = 0;
        std_err e = {0};
        if (!is_scalar(tmo) || std_duration_parse(tmo->str, &ms, &e) != 0 || ms == 0)
            ERR(c, tmo, "'timeout': %s", is_scalar(tmo) && e.msg[0] ? e.msg : "must be a duration like 7d");
        else
            json_object_set_new(c->p->meta, "timeout_ms", json_integer(ms));
    }
}


static int compile_doc(const dsl_doc *doc, vm_program **out, std_diags *diags, int depth);

int dsl_compile(const dsl_doc *doc, vm_program **out, std_diags *diags)
{
    return compile_doc(doc, out, diags, 0);
}

static int compile_doc(const dsl_doc *doc, vm_program **out, std_diags *diags, int depth)
{
    *out = NULL;
    size_t before = diags->n;
    const dsl_node *root = doc->root;
    C c = {.doc = doc, .file = doc->file, .d = diags, .depth = depth};
    if (!root || root->kind != DSL_MAP) {
        std_diag(diags, doc->file, root ? root->line : 1, root ? root->col : 1,
                 "%s: a workflow must be a mapping with 'wfdsl', 'name' and 'steps'",
                 !root ? "the file is empty" : root->kind == DSL_SEQ ? "the file is a list"
                                                                      : "the file is a single value");
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

    /* the program names its file without the directory, so that the same
     * file reached by another path is the same program (same hash) */
    const char *slash = strrchr(doc->file, '/');
    c.p = vm_program_new(is_scalar(name) ? name->str : "", slash ? slash + 1 : doc->file);
    if (is_scalar(desc)) json_object_set_new(c.p->meta, "description", json_string(desc->str));
    c.ids = json_object();
    c.vars = json_object();

    const dsl_node *in = dsl_map_get(root, "input");
    if (in) {
        size_t n0 = diags->n;
        compile_input(&c, in);
        c.input_bad = diags->n > n0;
    }
    compile_top_policies(&c, root);
    const dsl_node *trig = dsl_map_get(root, "triggers");
    if (trig) compile_triggers(&c, trig);
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
    const dsl_node *onerr = dsl_map_get(root, "on_error");
    c.deferred = json_array();
    collect_ids(&c, steps);
    collect_ids(&c, onerr);
    /* an uncaught error runs the compensations first, then on_error */
    int oe = -1, rs = -1;
    if (onerr) {
        oe = vm_add_block(c.p, json_pack("{s:s}", "type", "onerr"));
        vm_emit(c.p, VM_ONERR, oe, 0, onerr->line, onerr->col);
    }
    if (c.has_comp) {
        rs = vm_add_block(c.p, json_pack("{s:s}", "type", "saga"));
        vm_emit(c.p, VM_SAGA, rs, 0, root->line, root->col);
    }
    if (!steps)
        ERR(&c, root, "missing 'steps' (the list of steps to run)");
    else
        compile_steps(&c, steps, "", "steps");
    if (rs >= 0) vm_emit(c.p, VM_SAGAEND, rs, 0, root->line, root->col);
    const dsl_node *output = dsl_map_get(root, "output");
    int t = -1;
    if (output) t = add_tmpl(&c, output);
    vm_emit(c.p, VM_END, t, 0, output ? output->line : root->line, output ? output->col : root->col);
    if (onerr) {
        json_object_set_new(vm_block(c.p, oe), "addr", json_integer((json_int_t)c.p->ncode));
        json_t *old = bind(&c, "err");
        compile_steps(&c, onerr, "", "on_error");
        unbind(&c, old);
        vm_emit(c.p, VM_ONEREND, oe, 0, onerr->line, onerr->col);
    }
    compile_deferred(&c);
    json_decref(c.deferred);

    json_decref(c.ids);
    json_decref(c.vars);
    json_decref(c.input);
    json_decref(c.secrets);
    json_decref(c.policies);
    json_decref(c.def_retry);
    json_decref(c.locals);
    if (diags->n > before) {
        vm_program_free(c.p);
        return -1;
    }
    *out = c.p;
    return 0;
}

/* Position of a "path:line:col: ..." message, as line * 2^20 + col. */
static long diag_pos(const char *msg, const char *path)
{
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) != 0 || msg[pl] != ':') return 0;
    char *end;
    long line = strtol(msg + pl + 1, &end, 10);
    long col = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
    return line * (1L << 20) + col;
}

/* The loader and the compiler find errors in their own orders: report them
 * in file order (a stable insertion sort of diags[from..]). */
static void sort_diags(std_diags *d, size_t from, const char *path)
{
    for (size_t i = from + 1; i < d->n; i++) {
        char *m = d->msgs[i];
        long pos = diag_pos(m, path);
        size_t j = i;
        for (; j > from && diag_pos(d->msgs[j - 1], path) > pos; j--) d->msgs[j] = d->msgs[j - 1];
        d->msgs[j] = m;
    }
}

int dsl_compile_file(const char *path, vm_program **out, char **source, std_diags *diags)
{
    return compile_file(path, out, source, diags, 0);
}

static int dsl_compile_file_at(const char *path, vm_program **out, std_diags *diags, int depth)
{
    return compile_file(path, out, NULL, diags, depth);
}

static int compile_file(const char *path, vm_program **out, char **source, std_diags *diags, int depth)
{
    size_t first_diag = diags->n;
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
        if (compile_doc(doc, &p, diags, depth) != 0) rc = -1;
        if (rc == 0) *out = p;
        else vm_program_free(p);
    } else if (rc == 0) {
        std_diag(diags, path, 1, 1, "empty file");
        rc = -1;
    }
    dsl_doc_free(doc);
    sort_diags(diags, first_diag, path);
    if (source && rc == 0) *source = text;
    else free(text);
    return rc;
}
