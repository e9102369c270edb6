/* py_parse.c — recursive-descent parser for the Python subset of Airflow DAG
 * files (see py.h for the AST).
 *
 * The tokens come from py_lex.c. An f-string token keeps its raw body; the
 * parser splits it and parses each replacement field with a sub-parser.
 *
 * The parser covers statements and expressions DAG files use; a syntax error
 * is reported with path:line:col and parsing resumes at the next statement.
 * Nesting (brackets, expressions, blocks) is capped at PY_MAX_DEPTH.
 * It does not build bytecode, check names or evaluate anything.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_lex.h"

/* ------------------------------------------------------------------ parser */

typedef struct parser {
    const char *path, *src;
    size_t srclen;
    py_arena *arena;
    py_tok *t;
    size_t n, i;
    std_diags *diags;
    int errors;
    int depth;
    jmp_buf *jb;
    int fline, fcol;      /* f-string field parsers: position of the field */
} parser;

static py_tok *cur(parser *P) { return &P->t[P->i]; }
static py_tok *peek(parser *P, size_t k) { return &P->t[P->i + k < P->n ? P->i + k : P->n - 1]; }

static _Noreturn void syntax(parser *P, py_tok *t, const char *fmt, const char *arg)
{
    std_diag(P->diags, P->path, t->line, t->col, fmt, arg ? arg : "");
    P->errors++;
    longjmp(*P->jb, 1);
}

static int is_op(parser *P, const char *op)
{
    py_tok *t = cur(P);
    return t->type == T_OP && !strcmp(t->op, op);
}

static int is_kw(parser *P, const char *kw)
{
    py_tok *t = cur(P);
    return t->type == T_NAME && !strcmp(t->sval, kw);
}

static int accept_op(parser *P, const char *op)
{
    if (!is_op(P, op)) return 0;
    P->i++;
    return 1;
}

static int accept_kw(parser *P, const char *kw)
{
    if (!is_kw(P, kw)) return 0;
    P->i++;
    return 1;
}

static const char *tok_desc(py_tok *t, char *buf, size_t n)
{
    switch (t->type) {
    case T_NEWLINE: return "end of line";
    case T_INDENT: return "indent";
    case T_DEDENT: return "dedent";
    case T_END: return "end of file";
    case T_STR: return "string";
    case T_NUM: return "number";
    default:
        snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->type == T_OP ? t->op : t->sval);
        return buf;
    }
}

static void expect_op(parser *P, const char *op)
{
    if (accept_op(P, op)) return;
    char b[64], m[128];
    snprintf(m, sizeof m, "expected '%s', found %s", op, tok_desc(cur(P), b, sizeof b));
    syntax(P, cur(P), "invalid syntax: %s", m);
}

static const char *const KEYWORDS[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", NULL};

static int is_keyword(const char *s)
{
    for (int k = 0; KEYWORDS[k]; k++) if (!strcmp(KEYWORDS[k], s)) return 1;
    return 0;
}

static char *expect_name(parser *P)
{
    py_tok *t = cur(P);
    if (t->type != T_NAME || is_keyword(t->sval)) {
        char b[64];
        syntax(P, t, "invalid syntax: expected a name, found %s", tok_desc(t, b, sizeof b));
    }
    P->i++;
    return t->sval;
}

static py_node *mk(parser *P, py_kind k, py_tok *t)
{
    py_node *n = dsl_py_alloc(P->arena, sizeof *n);
    n->kind = k;
    n->line = t->line;
    n->col = t->col;
    n->start = t->off;
    n->end = t->off + t->len;
    return n;
}

static void finish(parser *P, py_node *n)
{
    if (P->i > 0) {
        py_tok *p = &P->t[P->i - 1];
        if (p->off + p->len > n->end) n->end = p->off + p->len;
    }
}

static void list_add(py_arena *a, py_list *l, py_node *n)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        py_node **v = dsl_py_alloc(a, (size_t)cap * sizeof *v);
        if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

static void enter(parser *P)
{
    if (++P->depth > PY_MAX_DEPTH)
        syntax(P, cur(P), "too deeply nested (more than 200 levels)%s", "");
}

static py_node *p_test(parser *P);
static py_node *p_expr(parser *P);
static py_node *p_or(parser *P);
static py_node *p_star_or_test(parser *P);
static py_node *p_testlist(parser *P, int star);
static void p_block(parser *P, py_list *out);

static int64_t parse_int(const char *s, size_t n, int *overflow)
{
    int base = 10;
    size_t i = 0;
    if (n > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
        base = tolower((unsigned char)s[1]) == 'x' ? 16 : tolower((unsigned char)s[1]) == 'o' ? 8 : 2;
        i = 2;
    }
    uint64_t v = 0;
    *overflow = 0;
    for (; i < n; i++) {
        if (s[i] == '_') continue;
        int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10;
        if (d < 0 || d >= base) { *overflow = 1; return 0; }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) { *overflow = 1; return 0; }
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > INT64_MAX) { *overflow = 1; return 0; }
    return (int64_t)v;
}

static py_node *p_fstring(parser *P, py_tok *t, py_node *into);

static py_node *p_strings(parser *P)
{
    py_tok *first = cur(P);
    int any_f = 0, any_b = 0, any_s = 0;
    for (size_t k = P->i; k < P->n && P->t[k].type == T_STR; k++) {
        if (P->t[k].sflags & SF_FSTR) any_f = 1;
        if (P->t[k].sflags & SF_BYTES) any_b = 1;
        else any_s = 1;
    }
    if (any_b && any_s) syntax(P, first, "cannot mix bytes and nonbytes literals%s", "");
    py_node *n = mk(P, any_f ? PE_FSTR : PE_STR, first);
    std_buf b = {0};
    while (cur(P)->type == T_STR) {
        py_tok *t = cur(P);
        P->i++;
        if (!any_f) {
            std_buf_add(&b, t->sval, t->slen);
        } else if (t->sflags & SF_FSTR) {
            p_fstring(P, t, n);
        } else {
            py_node *s = mk(P, PE_STR, t);
            s->s = t->sval;
            s->slen = t->slen;
            list_add(P->arena, &n->kids, s);
        }
    }
    if (!any_f) {
        n->s = dsl_py_strndup(P->arena, b.p ? b.p : "", b.len);
        n->slen = b.len;
        n->ival = any_b;
    }
    std_buf_free(&b);
    finish(P, n);
    return n;
}

/* Position (line, col) of a source offset. */
static void pos_of(parser *P, size_t off, int *line, int *col)
{
    int l = 1;
    size_t ls = 0;
    for (size_t i = 0; i < off && i < P->srclen; i++)
        if (P->src[i] == '\n') { l++; ls = i + 1; }
    int c = 1;
    for (size_t i = ls; i < off && i < P->srclen; i++)
        if (((unsigned char)P->src[i] & 0xC0) != 0x80) c++;
    *line = l;
    *col = c;
}

/* Parse the expression text src[off, off+n) as a sub-module (one expression). */
static py_node *p_subexpr(parser *P, size_t off, size_t n, py_tok *at)
{
    py_toks toks = {0};
    lexer L = {0};
    L.path = P->path;
    L.src = P->src + off;
    L.len = n;
    L.line = 1;
    L.arena = P->arena;
    L.out = &toks;
    L.diags = P->diags;
    pos_of(P, off, &L.base_line, &L.base_col);
    if (py_lex_run(&L, 1) < 0) {
        free(toks.v);
        P->errors++;
        longjmp(*P->jb, 1);
    }
    /* tokens are relative to the field: shift offsets back to the file */
    for (size_t k = 0; k < toks.n; k++) { toks.v[k].off += off; toks.v[k].body_off += off; }
    py_tok *copy = dsl_py_alloc(P->arena, toks.n * sizeof *copy);
    memcpy(copy, toks.v, toks.n * sizeof *copy);
    free(toks.v);
    parser S = *P;
    S.t = copy;
    S.n = toks.n;
    S.i = 0;
    if (S.t[0].type == T_END) syntax(P, at, "f-string: empty expression not allowed%s", "");
    py_node *e = p_testlist(&S, 1);
    if (S.t[S.i].type != T_END) syntax(P, &S.t[S.i], "f-string: invalid syntax%s", "");
    P->errors = S.errors;
    return e;
}

/* Split an f-string body into literal and replacement-field parts. */
static py_node *p_fstring(parser *P, py_tok *t, py_node *into)
{
    const char *s = t->sval;
    size_t n = t->slen, i = 0;
    int raw = (t->sflags & SF_RAW) != 0;
    std_buf lit = {0};
    enter(P);
    while (i < n) {
        char c = s[i];
        if (c == '{' && i + 1 < n && s[i + 1] == '{') { std_buf_add(&lit, "{", 1); i += 2; continue; }
        if (c == '}' && i + 1 < n && s[i + 1] == '}') { std_buf_add(&lit, "}", 1); i += 2; continue; }
        if (c == '}') { std_buf_free(&lit); syntax(P, t, "f-string: single '}' is not allowed%s", ""); }
        if (c != '{') {
            size_t j = i;
            while (j < n && s[j] != '{' && s[j] != '}') j++;
            if (raw) std_buf_add(&lit, s + i, j - i);
            else py_unescape(s + i, j - i, 0, &lit);
            i = j;
            continue;
        }
        if (lit.len) {
            py_node *p = mk(P, PE_STR, t);
            p->s = dsl_py_strndup(P->arena, lit.p, lit.len);
            p->slen = lit.len;
            list_add(P->arena, &into->kids, p);
            std_buf_free(&lit);
        }
        /* a field: find its end at bracket depth 0, skipping nested strings */
        size_t e = i + 1;
        int d = 0;
        size_t conv = 0, spec = 0, eq = 0;
        while (e < n) {
            char x = s[e];
            if (x == '\'' || x == '"') {
                size_t q = e + 1;
                while (q < n && s[q] != x) q++;
                e = q + 1;
                continue;
            }
            if (x == '(' || x == '[' || x == '{') d++;
            else if ((x == ')' || x == ']' || x == '}') && d > 0) d--;
            else if (d == 0 && x == '}') break;
            else if (d == 0 && x == '!' && e + 1 < n && s[e + 1] != '=' && !conv) conv = e;
            else if (d == 0 && x == ':' && !spec) { spec = e; break; }
            else if (d == 0 && x == '=' && e + 1 < n && (s[e + 1] == '}' || s[e + 1] == '!' || s[e + 1] == ':') &&
                     e > 0 && !strchr("=!<>", s[e - 1]))
                eq = e;
            e++;
        }
        size_t fend = e;
        if (spec) {
            /* the spec runs to the matching '}' (it may hold nested fields) */
            int dd = 0;
            e = spec + 1;
            while (e < n && (s[e] != '}' || dd > 0)) {
                if (s[e] == '{') dd++;
                else if (s[e] == '}') dd--;
                e++;
            }
        }
        if (e >= n) { std_buf_free(&lit); syntax(P, t, "f-string: expecting '}'%s", ""); }
        size_t xend = conv ? conv : eq ? eq : spec ? spec : fend;
        py_node *f = mk(P, PE_FMT, t);
        f->a = p_subexpr(P, t->body_off + i + 1, xend - (i + 1), t);
        if (eq) {
            py_node *p = mk(P, PE_STR, t);
            p->s = dsl_py_strndup(P->arena, s + i + 1, eq + 1 - (i + 1));
            p->slen = eq + 1 - (i + 1);
            list_add(P->arena, &into->kids, p);
            if (!conv && !spec) f->s = "r";
        }
        if (conv) f->s = dsl_py_strndup(P->arena, s + conv + 1, (spec ? spec : fend) - conv - 1);
        if (spec) {
            py_tok sub = *t;
            sub.sval = (char *)s + spec + 1;
            sub.slen = e - spec - 1;
            sub.body_off = t->body_off + spec + 1;
            sub.sflags = t->sflags;
            py_node *sp = mk(P, PE_FSTR, t);
            p_fstring(P, &sub, sp);
            f->b = sp;
        }
        list_add(P->arena, &into->kids, f);
        i = e + 1;
    }
    if (lit.len) {
        py_node *p = mk(P, PE_STR, t);
        p->s = dsl_py_strndup(P->arena, lit.p, lit.len);
        p->slen = lit.len;
        list_add(P->arena, &into->kids, p);
    }
    std_buf_free(&lit);
    P->depth--;
    return into;
}

/* comp_for: 'for' targets 'in' or_test ('if' or_test)* ... */
static void p_compfor(parser *P, py_node *comp)
{
    while (is_kw(P, "for") || is_kw(P, "async")) {
        accept_kw(P, "async");
        py_tok *t = cur(P);
        accept_kw(P, "for");
        py_node *f = mk(P, PE_FOR, t);
        /* targets: a list of or-expressions (no 'in' comparison) */
        py_node *first = p_expr(P);
        if (is_op(P, ",")) {
            py_node *tu = mk(P, PE_TUPLE, t);
            list_add(P->arena, &tu->kids, first);
            while (accept_op(P, ",")) {
                if (is_kw(P, "in")) break;
                list_add(P->arena, &tu->kids, p_expr(P));
            }
            first = tu;
        }
        f->a = first;
        if (!accept_kw(P, "in")) syntax(P, cur(P), "invalid syntax: expected 'in'%s", "");
        f->b = p_or(P);
        while (is_kw(P, "if")) {
            P->i++;
            list_add(P->arena, &f->kids, p_or(P));
        }
        finish(P, f);
        list_add(P->arena, &comp->kids, f);
    }
}

static py_node *p_params(parser *P, py_list *out, const char *end, int annotations)
{
    while (!is_op(P, end)) {
        py_tok *t = cur(P);
        py_node *pa = mk(P, PE_PARAM, t);
        if (accept_op(P, "**")) pa->ival = 2;
        else if (accept_op(P, "*")) {
            pa->ival = 1;
            if (is_op(P, ",")) { P->i++; continue; }   /* bare * */
        } else if (accept_op(P, "/")) {
            if (!accept_op(P, ",")) break;
            continue;
        }
        pa->s = expect_name(P);
        if (annotations && accept_op(P, ":")) (void)p_test(P);
        if (accept_op(P, "=")) pa->a = p_test(P);
        finish(P, pa);
        list_add(P->arena, out, pa);
        if (!accept_op(P, ",")) break;
    }
    return NULL;
}

static py_node *p_atom(parser *P)
{
    py_tok *t = cur(P);
    py_node *n;
    switch (t->type) {
    case T_NUM: {
        P->i++;
        const char *s = P->src + t->off;
        size_t len = t->len;
        int isf = 0;
        if (!(len > 1 && s[0] == '0' && strchr("xXoObB", s[1])))
            for (size_t k = 0; k < len; k++) if (strchr(".eEjJ", s[k])) isf = 1;
        if (isf) {
            char buf[128];
            size_t o = 0;
            for (size_t k = 0; k < len && o < sizeof buf - 1; k++) if (s[k] != '_' && s[k] != 'j' && s[k] != 'J') buf[o++] = s[k];
            buf[o] = 0;
            n = mk(P, PE_FLOAT, t);
            n->fval = strtod(buf, NULL);
        } else {
            int ovf;
            int64_t v = parse_int(s, len, &ovf);
            if (ovf) {
                n = mk(P, PE_BIGINT, t);
                n->s = dsl_py_strndup(P->arena, s, len);
                n->slen = len;
            } else {
                n = mk(P, PE_INT, t);
                n->ival = v;
            }
        }
        return n;
    }
    case T_STR:
        return p_strings(P);
    case T_NAME:
        if (!strcmp(t->sval, "None") || !strcmp(t->sval, "True") || !strcmp(t->sval, "False")) {
            P->i++;
            n = mk(P, PE_CONST, t);
            n->ival = t->sval[0] == 'N' ? 0 : t->sval[0] == 'T' ? 1 : 2;
            return n;
        }
        if (!strcmp(t->sval, "await")) {
            P->i++;
            n = mk(P, PE_AWAIT, t);
            n->a = p_expr(P);
            finish(P, n);
            return n;
        }
        n = mk(P, PE_NAME, t);
        n->s = expect_name(P);
        return n;
    case T_OP:
        if (!strcmp(t->op, "...")) {
            P->i++;
            return mk(P, PE_ELLIPSIS, t);
        }
        if (!strcmp(t->op, "(")) {
            P->i++;
            enter(P);
            if (accept_op(P, ")")) {
                n = mk(P, PE_TUPLE, t);
            } else if (is_kw(P, "yield")) {
                P->i++;
                n = mk(P, PE_YIELD, t);
                if (!is_op(P, ")")) n->a = p_testlist(P, 1);
                expect_op(P, ")");
            } else {
                py_node *e = p_star_or_test(P);
                if (is_op(P, ":=")) {
                    P->i++;
                    py_node *w = mk(P, PE_WALRUS, t);
                    w->a = e;
                    w->b = p_test(P);
                    e = w;
                }
                if (is_kw(P, "for") || is_kw(P, "async")) {
                    n = mk(P, PE_COMP, t);
                    n->op = "(";
                    n->a = e;
                    p_compfor(P, n);
                } else if (is_op(P, ",")) {
                    n = mk(P, PE_TUPLE, t);
                    list_add(P->arena, &n->kids, e);
                    while (accept_op(P, ",")) {
                        if (is_op(P, ")")) break;
                        list_add(P->arena, &n->kids, p_star_or_test(P));
                    }
                } else {
                    n = e;
                    expect_op(P, ")");
                    P->depth--;
                    /* keep the inner line:col, and span the parentheses */
                    n->start = t->off;
                    finish(P, n);
                    return n;
                }
                expect_op(P, ")");
            }
            P->depth--;
            finish(P, n);
            return n;
        }
        if (!strcmp(t->op, "[")) {
            P->i++;
            enter(P);
            n = mk(P, PE_LIST, t);
            if (!is_op(P, "]")) {
                py_node *e = p_star_or_test(P);
                if (is_kw(P, "for") || is_kw(P, "async")) {
                    n->kind = PE_COMP;
                    n->op = "[";
                    n->a = e;
                    p_compfor(P, n);
                } else {
                    list_add(P->arena, &n->kids, e);
                    while (accept_op(P, ",")) {
                        if (is_op(P, "]")) break;
                        list_add(P->arena, &n->kids, p_star_or_test(P));
                    }
                }
            }
            expect_op(P, "]");
            P->depth--;
            finish(P, n);
            return n;
        }
        if (!strcmp(t->op, "{")) {
            P->i++;
            enter(P);
            n = mk(P, PE_DICT, t);
            if (!is_op(P, "}")) {
                py_node *k = NULL, *v = NULL;
                if (accept_op(P, "**")) v = p_expr(P);
                else {
                    k = p_star_or_test(P);
                    if (accept_op(P, ":")) v = p_test(P);
                    else n->kind = PE_SET;
                }
                if (is_kw(P, "for") || is_kw(P, "async")) {
                    if (n->kind == PE_DICT && !k) syntax(P, cur(P), "dict unpacking cannot be used in dict comprehension%s", "");
                    n->op = n->kind == PE_SET ? "{" : "d";
                    n->kind = PE_COMP;
                    n->a = k;
                    n->b = v;
                    p_compfor(P, n);
                } else if (n->kind == PE_SET) {
                    list_add(P->arena, &n->kids, k);
                    while (accept_op(P, ",")) {
                        if (is_op(P, "}")) break;
                        list_add(P->arena, &n->kids, p_star_or_test(P));
                    }
                } else {
                    list_add(P->arena, &n->kids, k);
                    list_add(P->arena, &n->kids, v);
                    while (accept_op(P, ",")) {
                        if (is_op(P, "}")) break;
                        if (accept_op(P, "**")) {
                            list_add(P->arena, &n->kids, NULL);
                            list_add(P->arena, &n->kids, p_expr(P));
                        } else {
                            list_add(P->arena, &n->kids, p_test(P));
                            expect_op(P, ":");
                            list_add(P->arena, &n->kids, p_test(P));
                        }
                    }
                }
            }
            expect_op(P, "}");
            P->depth--;
            finish(P, n);
            return n;
        }
        break;
    default:
        break;
    }
    char b[64];
    syntax(P, t, "invalid syntax: unexpected %s", tok_desc(t, b, sizeof b));
}

static py_node *p_subscript1(parser *P)
{
    py_tok *t = cur(P);
    py_node *lo = NULL;
    if (!is_op(P, ":")) {
        lo = p_star_or_test(P);
        if (!is_op(P, ":")) return lo;
    }
    py_node *s = mk(P, PE_SLICE, t);
    s->a = lo;
    P->i++;
    if (!is_op(P, "]") && !is_op(P, ",") && !is_op(P, ":")) s->b = p_test(P);
    if (accept_op(P, ":") && !is_op(P, "]") && !is_op(P, ",")) s->c = p_test(P);
    finish(P, s);
    return s;
}

static void p_args(parser *P, py_node *call)
{
    while (!is_op(P, ")")) {
        py_tok *t = cur(P);
        py_node *a;
        if (accept_op(P, "**")) {
            a = mk(P, PE_DSTAR, t);
            a->a = p_test(P);
        } else if (accept_op(P, "*")) {
            a = mk(P, PE_STAR, t);
            a->a = p_test(P);
        } else if (t->type == T_NAME && peek(P, 1)->type == T_OP && !strcmp(peek(P, 1)->op, "=")) {
            a = mk(P, PE_KW, t);
            a->s = expect_name(P);
            P->i++;
            a->a = p_test(P);
        } else {
            a = p_test(P);
            if (is_op(P, ":=")) {
                P->i++;
                py_node *w = mk(P, PE_WALRUS, t);
                w->a = a;
                w->b = p_test(P);
                a = w;
            }
            if (is_kw(P, "for") || is_kw(P, "async")) {
                py_node *g = mk(P, PE_COMP, t);
                g->op = "(";
                g->a = a;
                p_compfor(P, g);
                a = g;
            }
        }
        finish(P, a);
        list_add(P->arena, &call->kids, a);
        if (!accept_op(P, ",")) break;
    }
    expect_op(P, ")");
}

static py_node *p_primary(parser *P)
{
    py_node *n = p_atom(P);
    int levels = 0;
    for (;;) {
        py_tok *t = cur(P);
        if (t->type != T_OP) break;
        py_node *m;
        if (!strcmp(t->op, ".")) {
            P->i++;
            m = mk(P, PE_ATTR, t);
            m->s = expect_name(P);
        } else if (!strcmp(t->op, "(")) {
            P->i++;
            enter(P);
            levels++;
            m = mk(P, PE_CALL, t);
            m->a = n;
            p_args(P, m);
        } else if (!strcmp(t->op, "[")) {
            P->i++;
            enter(P);
            levels++;
            m = mk(P, PE_SUB, t);
            py_node *s = p_subscript1(P);
            if (is_op(P, ",")) {
                py_node *tu = mk(P, PE_TUPLE, t);
                list_add(P->arena, &tu->kids, s);
                while (accept_op(P, ",")) {
                    if (is_op(P, "]")) break;
                    list_add(P->arena, &tu->kids, p_subscript1(P));
                }
                s = tu;
            }
            m->b = s;
            expect_op(P, "]");
        } else {
            break;
        }
        m->a = n;
        /* the node spans from the start of its object */
        m->line = n->line;
        m->col = n->col;
        m->start = n->start;
        finish(P, m);
        n = m;
    }
    P->depth -= levels;
    return n;
}

static py_node *p_factor(parser *P);

static py_node *p_power(parser *P)
{
    py_node *n = p_primary(P);
    if (is_op(P, "**")) {
        py_tok *t = cur(P);
        P->i++;
        py_node *b = mk(P, PE_BIN, t);
        b->op = "**";
        b->a = n;
        b->b = p_factor(P);
        b->line = n->line; b->col = n->col; b->start = n->start;
        finish(P, b);
        return b;
    }
    return n;
}

static py_node *p_factor(parser *P)
{
    py_tok *t = cur(P);
    if (t->type == T_OP && (!strcmp(t->op, "-") || !strcmp(t->op, "+") || !strcmp(t->op, "~"))) {
        P->i++;
        enter(P);
        py_node *n = mk(P, PE_UNARY, t);
        n->op = t->op;
        n->a = p_factor(P);
        P->depth--;
        finish(P, n);
        return n;
    }
    return p_power(P);
}

static py_node *binary(parser *P, py_node *(*sub)(parser *), const char *const *ops)
{
    py_node *n = sub(P);
    for (;;) {
        py_tok *t = cur(P);
        const char *op = NULL;
        if (t->type == T_OP)
            for (int k = 0; ops[k]; k++) if (!strcmp(t->op, ops[k])) op = ops[k];
        if (!op) return n;
        P->i++;
        py_node *b = mk(P, PE_BIN, t);
        b->op = op;
        b->a = n;
        b->b = sub(P);
        b->line = n->line; b->col = n->col; b->start = n->start;
        finish(P, b);
        n = b;
    }
}

static const char *const TERM_OPS[] = {"*", "/", "//", "%", "@", NULL};
static const char *const ARITH_OPS[] = {"+", "-", NULL};
static const char *const SHIFT_OPS[] = {">>", "<<", NULL};
static const char *const BAND_OPS[] = {"&", NULL};
static const char *const BXOR_OPS[] = {"^", NULL};
static const char *const BOR_OPS[] = {"|", NULL};
static py_node *p_term(parser *P) { return binary(P, p_factor, TERM_OPS); }
static py_node *p_arith(parser *P) { return binary(P, p_term, ARITH_OPS); }
static py_node *p_shift(parser *P) { return binary(P, p_arith, SHIFT_OPS); }
static py_node *p_band(parser *P) { return binary(P, p_shift, BAND_OPS); }
static py_node *p_bxor(parser *P) { return binary(P, p_band, BXOR_OPS); }
static py_node *p_expr(parser *P) { return binary(P, p_bxor, BOR_OPS); }

static const char *cmp_op(parser *P)
{
    py_tok *t = cur(P);
    if (t->type == T_OP) {
        static const char *const c[] = {"<", ">", "==", ">=", "<=", "!=", NULL};
        for (int k = 0; c[k]; k++) if (!strcmp(t->op, c[k])) { P->i++; return c[k]; }
        return NULL;
    }
    if (is_kw(P, "in")) { P->i++; return "in"; }
    if (is_kw(P, "not") && peek(P, 1)->type == T_NAME && !strcmp(peek(P, 1)->sval, "in")) {
        P->i += 2;
        return "not in";
    }
    if (is_kw(P, "is")) {
        P->i++;
        if (accept_kw(P, "not")) return "is not";
        return "is";
    }
    return NULL;
}

static py_node *p_comparison(parser *P)
{
    py_node *n = p_expr(P);
    py_tok *t = cur(P);
    const char *op = cmp_op(P);
    if (!op) return n;
    py_node *c = mk(P, PE_CMP, t);
    c->line = n->line; c->col = n->col; c->start = n->start;
    list_add(P->arena, &c->kids, n);
    const char *opsbuf[64];
    int nops = 0;
    do {
        if (nops == 64) syntax(P, cur(P), "comparison chain too long%s", "");
        opsbuf[nops++] = op;
        list_add(P->arena, &c->kids, p_expr(P));
    } while ((op = cmp_op(P)));
    c->ops = dsl_py_alloc(P->arena, (size_t)nops * sizeof *c->ops);
    memcpy(c->ops, opsbuf, (size_t)nops * sizeof *c->ops);
    finish(P, c);
    return c;
}

static py_node *p_not(parser *P)
{
    py_tok *t = cur(P);
    if (accept_kw(P, "not")) {
        enter(P);
        py_node *n = mk(P, PE_NOT, t);
        n->a = p_not(P);
        P->depth--;
        finish(P, n);
        return n;
    }
    return p_comparison(P);
}

static py_node *boolop(parser *P, py_node *(*sub)(parser *), const char *kw)
{
    py_node *n = sub(P);
    if (!is_kw(P, kw)) return n;
    py_node *b = mk(P, PE_BOOL, cur(P));
    b->op = kw;
    b->line = n->line; b->col = n->col; b->start = n->start;
    list_add(P->arena, &b->kids, n);
    while (accept_kw(P, kw)) list_add(P->arena, &b->kids, sub(P));
    finish(P, b);
    return b;
}

static py_node *p_and(parser *P) { return boolop(P, p_not, "and"); }
static py_node *p_or(parser *P) { return boolop(P, p_and, "or"); }

static py_node *p_test(parser *P)
{
    py_tok *t = cur(P);
    enter(P);
    py_node *n;
    if (accept_kw(P, "lambda")) {
        n = mk(P, PE_LAMBDA, t);
        p_params(P, &n->kids, ":", 0);
        expect_op(P, ":");
        n->a = p_test(P);
    } else {
        n = p_or(P);
        if (is_kw(P, "if")) {
            P->i++;
            py_node *c = mk(P, PE_IFEXP, t);
            c->b = n;
            c->a = p_or(P);
            if (!accept_kw(P, "else")) syntax(P, cur(P), "invalid syntax: expected 'else' after 'if' expression%s", "");
            c->c = p_test(P);
            c->line = n->line; c->col = n->col; c->start = n->start;
            n = c;
        }
    }
    P->depth--;
    finish(P, n);
    return n;
}

static py_node *p_star_or_test(parser *P)
{
    py_tok *t = cur(P);
    if (accept_op(P, "*")) {
        py_node *s = mk(P, PE_STAR, t);
        s->a = p_expr(P);
        finish(P, s);
        return s;
    }
    return p_test(P);
}

/* testlist: a, b, c -> a tuple; a single item without a comma stays itself. */
static py_node *p_testlist(parser *P, int star)
{
    py_tok *t = cur(P);
    py_node *e = star ? p_star_or_test(P) : p_test(P);
    if (!is_op(P, ",")) return e;
    py_node *tu = mk(P, PE_TUPLE, t);
    list_add(P->arena, &tu->kids, e);
    while (accept_op(P, ",")) {
        py_tok *k = cur(P);
        if (k->type == T_NEWLINE || k->type == T_END || (k->type == T_OP && (!strcmp(k->op, "=") || !strcmp(k->op, ")") || !strcmp(k->op, ";") || !strcmp(k->op, ":"))) ||
            (k->type == T_NAME && !strcmp(k->sval, "in")))
            break;
        list_add(P->arena, &tu->kids, star ? p_star_or_test(P) : p_test(P));
    }
    finish(P, tu);
    return tu;
}

static void end_simple(parser *P)
{
    if (accept_op(P, ";")) return;
    py_tok *t = cur(P);
    if (t->type == T_NEWLINE) { P->i++; return; }
    if (t->type == T_END) return;
    char b[64];
    syntax(P, t, "invalid syntax: unexpected %s", tok_desc(t, b, sizeof b));
}

static char *dotted(parser *P)
{
    /* check the names first: a syntax error jumps out, and nothing is allocated yet */
    size_t first = P->i, len = 0;
    len += strlen(expect_name(P));
    while (is_op(P, ".")) {
        P->i++;
        len += 1 + strlen(expect_name(P));
    }
    char *s = dsl_py_alloc(P->arena, len + 1), *o = s;
    for (size_t k = first; k < P->i; k++) {
        const char *part = P->t[k].type == T_OP ? "." : P->t[k].sval;
        size_t n = strlen(part);
        memcpy(o, part, n);
        o += n;
    }
    *o = 0;
    return s;
}

static const char *const AUG_OPS[] = {"+=", "-=", "*=", "/=", "//=", "%=", "**=", ">>=", "<<=",
                                      "&=", "|=", "^=", "@=", NULL};

static py_node *p_small(parser *P)
{
    py_tok *t = cur(P);
    py_node *n;
    if (t->type == T_NAME) {
        const char *w = t->sval;
        if (!strcmp(w, "pass")) { P->i++; return mk(P, PS_PASS, t); }
        if (!strcmp(w, "break")) { P->i++; return mk(P, PS_BREAK, t); }
        if (!strcmp(w, "continue")) { P->i++; return mk(P, PS_CONTINUE, t); }
        if (!strcmp(w, "return")) {
            P->i++;
            n = mk(P, PS_RETURN, t);
            if (cur(P)->type != T_NEWLINE && !is_op(P, ";") && cur(P)->type != T_END) n->a = p_testlist(P, 1);
            return n;
        }
        if (!strcmp(w, "import")) {
            P->i++;
            n = mk(P, PS_IMPORT, t);
            do {
                py_node *al = mk(P, PS_ALIAS, cur(P));
                al->s = dotted(P);
                if (accept_kw(P, "as")) al->s2 = expect_name(P);
                list_add(P->arena, &n->kids, al);
            } while (accept_op(P, ","));
            return n;
        }
        if (!strcmp(w, "from")) {
            P->i++;
            n = mk(P, PS_FROM, t);
            for (;;) {
                if (accept_op(P, ".")) n->ival++;
                else if (accept_op(P, "...")) n->ival += 3;
                else break;
            }
            n->s = is_kw(P, "import") ? "" : dotted(P);
            if (!accept_kw(P, "import")) syntax(P, cur(P), "invalid syntax: expected 'import'%s", "");
            int paren = accept_op(P, "(");
            if (accept_op(P, "*")) {
                py_node *al = mk(P, PS_ALIAS, t);
                al->s = "*";
                list_add(P->arena, &n->kids, al);
            } else {
                do {
                    if (paren && is_op(P, ")")) break;
                    py_node *al = mk(P, PS_ALIAS, cur(P));
                    al->s = expect_name(P);
                    if (accept_kw(P, "as")) al->s2 = expect_name(P);
                    list_add(P->arena, &n->kids, al);
                } while (accept_op(P, ","));
            }
            if (paren) expect_op(P, ")");
            return n;
        }
        if (!strcmp(w, "global") || !strcmp(w, "nonlocal")) {
            P->i++;
            n = mk(P, PS_GLOBAL, t);
            do (void)expect_name(P); while (accept_op(P, ","));
            return n;
        }
        if (!strcmp(w, "del")) {
            P->i++;
            n = mk(P, PS_DEL, t);
            n->a = p_testlist(P, 0);
            return n;
        }
        if (!strcmp(w, "assert")) {
            P->i++;
            n = mk(P, PS_ASSERT, t);
            n->a = p_test(P);
            if (accept_op(P, ",")) n->b = p_test(P);
            return n;
        }
        if (!strcmp(w, "raise")) {
            P->i++;
            n = mk(P, PS_RAISE, t);
            if (cur(P)->type != T_NEWLINE && !is_op(P, ";") && cur(P)->type != T_END) {
                n->a = p_test(P);
                if (accept_kw(P, "from")) n->b = p_test(P);
            }
            return n;
        }
        if (!strcmp(w, "yield")) {
            P->i++;
            n = mk(P, PS_EXPR, t);
            n->a = mk(P, PE_YIELD, t);
            if (accept_kw(P, "from")) n->a->a = p_test(P);
            else if (cur(P)->type != T_NEWLINE && !is_op(P, ";")) n->a->a = p_testlist(P, 1);
            return n;
        }
    }
    py_node *e = p_testlist(P, 1);
    py_tok *o = cur(P);
    if (o->type == T_OP) {
        for (int k = 0; AUG_OPS[k]; k++) {
            if (!strcmp(o->op, AUG_OPS[k])) {
                P->i++;
                n = mk(P, PS_AUG, t);
                n->op = AUG_OPS[k];
                n->a = e;
                n->b = p_testlist(P, 1);
                return n;
            }
        }
        if (!strcmp(o->op, ":")) {
            P->i++;
            n = mk(P, PS_ANN, t);
            n->a = e;
            n->c = p_test(P);
            if (accept_op(P, "=")) n->b = p_testlist(P, 1);
            return n;
        }
        if (!strcmp(o->op, "=")) {
            n = mk(P, PS_ASSIGN, t);
            list_add(P->arena, &n->kids, e);
            py_node *v = NULL;
            while (accept_op(P, "=")) {
                if (v) list_add(P->arena, &n->kids, v);
                v = is_kw(P, "yield") ? (P->i++, mk(P, PE_YIELD, cur(P))) : p_testlist(P, 1);
                if (v->kind == PE_YIELD && cur(P)->type != T_NEWLINE) v->a = p_testlist(P, 1);
            }
            n->a = v;
            return n;
        }
        if (!strcmp(o->op, ":=")) syntax(P, o, "invalid syntax: ':=' needs parentheses here%s", "");
    }
    n = mk(P, PS_EXPR, t);
    n->a = e;
    return n;
}

static void p_simple_line(parser *P, py_list *out)
{
    for (;;) {
        py_node *s = p_small(P);
        finish(P, s);
        list_add(P->arena, out, s);
        if (accept_op(P, ";")) {
            if (cur(P)->type == T_NEWLINE || cur(P)->type == T_END) { if (cur(P)->type == T_NEWLINE) P->i++; return; }
            continue;
        }
        end_simple(P);
        return;
    }
}

static py_node *p_stmt(parser *P, py_list *out);

static void p_block(parser *P, py_list *out)
{
    expect_op(P, ":");
    if (cur(P)->type != T_NEWLINE) {
        p_simple_line(P, out);
        return;
    }
    P->i++;
    if (cur(P)->type != T_INDENT) syntax(P, cur(P), "expected an indented block%s", "");
    P->i++;
    enter(P);
    while (cur(P)->type != T_DEDENT && cur(P)->type != T_END) p_stmt(P, out);
    if (cur(P)->type == T_DEDENT) P->i++;
    P->depth--;
}

static py_node *p_compound(parser *P)
{
    py_tok *t = cur(P);
    const char *w = t->sval;
    py_node *n;
    if (!strcmp(w, "if") || !strcmp(w, "elif")) {
        P->i++;
        n = mk(P, PS_IF, t);
        n->a = p_test(P);
        if (is_op(P, ":=")) syntax(P, cur(P), "invalid syntax: ':=' needs parentheses here%s", "");
        p_block(P, &n->body);
        if (is_kw(P, "elif")) {
            py_node *e = p_compound(P);
            list_add(P->arena, &n->orelse, e);
        } else if (accept_kw(P, "else")) {
            p_block(P, &n->orelse);
        }
        return n;
    }
    if (!strcmp(w, "while")) {
        P->i++;
        n = mk(P, PS_WHILE, t);
        n->a = p_test(P);
        p_block(P, &n->body);
        if (accept_kw(P, "else")) p_block(P, &n->orelse);
        return n;
    }
    if (!strcmp(w, "for")) {
        P->i++;
        n = mk(P, PS_FOR, t);
        py_node *first = p_star_or_test(P);
        /* the target list stops at 'in': parse or-expressions */
        if (first->kind == PE_CMP && !strcmp(first->ops[first->kids.n - 2], "in")) {
            /* split: target is everything but the last operand */
            py_node *target = first->kids.v[0];
            if (first->kids.n > 2) syntax(P, t, "invalid syntax in for target%s", "");
            n->a = target;
            n->b = first->kids.v[1];
            if (is_op(P, ",")) {
                py_node *tu = mk(P, PE_TUPLE, cur(P));
                list_add(P->arena, &tu->kids, n->b);
                while (accept_op(P, ",")) {
                    if (is_op(P, ":")) break;
                    list_add(P->arena, &tu->kids, p_test(P));
                }
                n->b = tu;
            }
        } else if (is_op(P, ",")) {
            py_node *tu = mk(P, PE_TUPLE, t);
            list_add(P->arena, &tu->kids, first);
            for (;;) {
                if (!accept_op(P, ",")) break;
                py_node *e = p_star_or_test(P);
                if (e->kind == PE_CMP && !strcmp(e->ops[e->kids.n - 2], "in") && e->kids.n == 2) {
                    list_add(P->arena, &tu->kids, e->kids.v[0]);
                    n->b = e->kids.v[1];
                    break;
                }
                list_add(P->arena, &tu->kids, e);
                if (accept_kw(P, "in")) { n->b = p_testlist(P, 1); break; }
            }
            if (!n->b) syntax(P, cur(P), "invalid syntax: expected 'in'%s", "");
            if (is_op(P, ",")) {
                py_node *it = mk(P, PE_TUPLE, cur(P));
                list_add(P->arena, &it->kids, n->b);
                while (accept_op(P, ",")) {
                    if (is_op(P, ":")) break;
                    list_add(P->arena, &it->kids, p_test(P));
                }
                n->b = it;
            }
            n->a = tu;
        } else {
            if (!accept_kw(P, "in")) syntax(P, cur(P), "invalid syntax: expected 'in'%s", "");
            n->a = first;
            n->b = p_testlist(P, 1);
        }
        p_block(P, &n->body);
        if (accept_kw(P, "else")) p_block(P, &n->orelse);
        return n;
    }
    if (!strcmp(w, "with")) {
        P->i++;
        n = mk(P, PS_WITH, t);
        int paren = 0;
        /* with (a as b, c as d): */
        if (is_op(P, "(")) {
            size_t k = P->i + 1;
            int d = 1, has_as = 0;
            while (k < P->n && d > 0) {
                py_tok *x = &P->t[k];
                if (x->type == T_OP && strchr("([{", x->op[0]) && !x->op[1]) d++;
                else if (x->type == T_OP && strchr(")]}", x->op[0]) && !x->op[1]) d--;
                else if (d == 1 && x->type == T_NAME && !strcmp(x->sval, "as")) has_as = 1;
                k++;
            }
            if (has_as && k < P->n && P->t[k].type == T_OP && !strcmp(P->t[k].op, ":")) { paren = 1; P->i++; }
        }
        do {
            if (paren && is_op(P, ")")) break;
            py_node *it = mk(P, PS_WITHITEM, cur(P));
            it->a = p_test(P);
            if (accept_kw(P, "as")) it->b = p_expr(P);
            list_add(P->arena, &n->kids, it);
        } while (accept_op(P, ","));
        if (paren) expect_op(P, ")");
        p_block(P, &n->body);
        return n;
    }
    if (!strcmp(w, "try")) {
        P->i++;
        n = mk(P, PS_TRY, t);
        p_block(P, &n->body);
        int handlers = 0;
        while (is_kw(P, "except")) {
            P->i++;
            handlers++;
            accept_op(P, "*");
            if (!is_op(P, ":")) {
                (void)p_test(P);
                if (accept_kw(P, "as") || accept_op(P, ",")) (void)expect_name(P);
            }
            py_list ignored = {0};
            p_block(P, &ignored);
        }
        if (accept_kw(P, "else")) p_block(P, &n->orelse);
        if (accept_kw(P, "finally")) { handlers++; p_block(P, &n->extra); }
        if (!handlers) syntax(P, cur(P), "expected 'except' or 'finally' block%s", "");
        return n;
    }
    if (!strcmp(w, "def") || !strcmp(w, "async")) {
        if (accept_kw(P, "async") && !is_kw(P, "def")) syntax(P, cur(P), "invalid syntax: expected 'def'%s", "");
        P->i++;
        n = mk(P, PS_DEF, t);
        n->s = expect_name(P);
        expect_op(P, "(");
        p_params(P, &n->kids, ")", 1);
        expect_op(P, ")");
        if (accept_op(P, "->")) (void)p_test(P);
        p_block(P, &n->body);
        return n;
    }
    if (!strcmp(w, "class")) {
        P->i++;
        n = mk(P, PS_CLASS, t);
        n->s = expect_name(P);
        if (accept_op(P, "(")) {
            py_node *c = mk(P, PE_CALL, t);
            p_args(P, c);
            n->kids = c->kids;
        }
        p_block(P, &n->body);
        return n;
    }
    return NULL;
}

/* Skip to the start of the next statement after a syntax error. */
static void recover(parser *P)
{
    while (P->i < P->n) {
        py_tok *t = cur(P);
        if (t->type == T_END) return;
        if (t->type == T_NEWLINE) {
            P->i++;
            if (cur(P)->type == T_INDENT) {
                int d = 0;
                do {
                    if (cur(P)->type == T_INDENT) d++;
                    else if (cur(P)->type == T_DEDENT) d--;
                    else if (cur(P)->type == T_END) return;
                    P->i++;
                } while (d > 0);
            }
            return;
        }
        if (t->type == T_DEDENT) return;
        P->i++;
    }
}

static py_node *p_stmt(parser *P, py_list *out)
{
    jmp_buf jb, *saved = P->jb;
    int depth = P->depth;
    size_t start = P->i;
    P->jb = &jb;
    if (setjmp(jb)) {
        P->jb = saved;
        P->depth = depth;
        if (P->i == start && cur(P)->type != T_END) P->i++;
        recover(P);
        return NULL;
    }
    py_tok *t = cur(P);
    py_node *n = NULL;
    if (t->type == T_INDENT) syntax(P, t, "unexpected indent%s", "");
    if (t->type == T_OP && !strcmp(t->op, "@")) {
        py_list decos = {0};
        while (accept_op(P, "@")) {
            list_add(P->arena, &decos, p_test(P));
            if (cur(P)->type != T_NEWLINE) {
                char b[64];
                syntax(P, cur(P), "invalid syntax: unexpected %s after decorator", tok_desc(cur(P), b, sizeof b));
            }
            P->i++;
        }
        if (!is_kw(P, "def") && !is_kw(P, "class") && !is_kw(P, "async"))
            syntax(P, cur(P), "invalid syntax: a decorator must precede 'def' or 'class'%s", "");
        n = p_compound(P);
        n->orelse = n->kind == PS_DEF || n->kind == PS_CLASS ? decos : n->orelse;   /* n keeps the def's position */
    } else if (t->type == T_NAME && (!strcmp(t->sval, "if") || !strcmp(t->sval, "while") ||
                                     !strcmp(t->sval, "for") || !strcmp(t->sval, "with") ||
                                     !strcmp(t->sval, "try") || !strcmp(t->sval, "def") ||
                                     !strcmp(t->sval, "class") ||
                                     (!strcmp(t->sval, "async") && peek(P, 1)->type == T_NAME))) {
        if (!strcmp(t->sval, "async") && strcmp(peek(P, 1)->sval, "def")) {
            P->i++;   /* async for / async with: parsed as the plain form */
            t = cur(P);
        }
        n = p_compound(P);
    } else if (t->type == T_NAME && (!strcmp(t->sval, "elif") || !strcmp(t->sval, "else") ||
                                     !strcmp(t->sval, "except") || !strcmp(t->sval, "finally"))) {
        syntax(P, t, "invalid syntax: '%s' without a matching statement", t->sval);
    } else if (t->type == T_NAME && !strcmp(t->sval, "match") && peek(P, 1)->type != T_OP &&
               peek(P, 1)->type != T_NEWLINE) {
        /* match statement: unsupported, keep it as OTHER and skip its block */
        n = mk(P, PS_OTHER, t);
        n->s = "match statement";
        while (cur(P)->type != T_NEWLINE && cur(P)->type != T_END) P->i++;
        P->i++;
        if (cur(P)->type == T_INDENT) {
            int d = 0;
            do {
                if (cur(P)->type == T_INDENT) d++;
                else if (cur(P)->type == T_DEDENT) d--;
                else if (cur(P)->type == T_END) break;
                P->i++;
            } while (d > 0);
        }
    } else {
        p_simple_line(P, out);
        P->jb = saved;
        return NULL;
    }
    finish(P, n);
    list_add(P->arena, out, n);
    P->jb = saved;
    return n;
}

/* Offset of the first byte that is not valid UTF-8 (overlong forms, surrogates
 * and code points past U+10FFFF included), or len. */
static size_t utf8_invalid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || i + n > len) return i;
        unsigned long cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

int dsl_py_parse_module(const char *path, const char *text, size_t len, py_module *m,
                        std_diags *diags, int *syntax_errors)
{
    memset(m, 0, sizeof *m);
    m->arena = dsl_py_arena_new();
    *syntax_errors = 0;
    py_toks toks = {0};
    lexer L = {0};
    L.path = path;
    L.src = text;
    L.len = len;
    L.line = 1;
    L.arena = m->arena;
    L.out = &toks;
    L.diags = diags;
    /* a UTF-8 byte order mark is skipped */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { L.pos = 3; L.line_start = 3; }
    if (memchr(text, 0, len)) {
        const char *z = memchr(text, 0, len);
        L.pos = 0;
        for (const char *q = text; q < z; q++) if (*q == '\n') { L.line++; L.line_start = (size_t)(q - text) + 1; }
        py_lex_err(&L, (size_t)(z - text), "source code cannot contain null bytes%s", "");
        return -1;
    }
    size_t bad = utf8_invalid(text, len);
    if (bad < len) {
        for (size_t q = L.pos; q < bad; q++) if (text[q] == '\n') { L.line++; L.line_start = q + 1; }
        char what[8];
        snprintf(what, sizeof what, "0x%02x", (unsigned char)text[bad]);
        py_lex_err(&L, bad, "the file is not valid UTF-8 (byte %s)", what);
        return -1;
    }
    if (py_lex_run(&L, 0) < 0) {
        free(toks.v);
        return -1;
    }
    parser P = {0};
    P.path = path;
    P.src = text;
    P.srclen = len;
    P.arena = m->arena;
    P.t = toks.v;
    P.n = toks.n;
    P.diags = diags;
    while (cur(&P)->type != T_END) {
        if (cur(&P)->type == T_NEWLINE || cur(&P)->type == T_DEDENT) { P.i++; continue; }
        p_stmt(&P, &m->body);
    }
    free(toks.v);
    *syntax_errors = P.errors;
    return 0;
}
