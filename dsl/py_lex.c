/* py_lex.c — the tokenizer of the Python subset of Airflow DAG files, and the
 * arena the AST lives in (see py.h, py_lex.h).
 *
 * It follows Python 3: INDENT/DEDENT from an indentation stack (tabs are
 * checked for consistency with spaces as CPython does, at most 100 levels),
 * implicit line joining inside brackets (at most PY_MAX_DEPTH open), backslash
 * continuations, comments, every string prefix (r b u f and their pairs),
 * triple quotes, numbers with underscores, hex/octal/binary, floats and
 * exponents. An f-string keeps its raw body for the parser to split.
 * It does not parse or evaluate anything.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_lex.h"

/* ------------------------------------------------------------------ arena */

struct py_arena {
    struct py_block *head;
};
struct py_block {
    struct py_block *next;
    size_t used, cap;
    max_align_t data[];
};

py_arena *dsl_py_arena_new(void)
{
    py_arena *a = calloc(1, sizeof *a);
    if (!a) abort();
    return a;
}

void *dsl_py_alloc(py_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!a->head || a->head->used + n > a->head->cap) {
        size_t cap = n > 65536 ? n : 65536;
        struct py_block *b = malloc(sizeof *b + cap);
        if (!b) abort();
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *dsl_py_strndup(py_arena *a, const char *s, size_t n)
{
    char *p = dsl_py_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void dsl_py_arena_free(py_arena *a)
{
    if (!a) return;
    struct py_block *b = a->head;
    while (b) {
        struct py_block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}


static int lex_col(lexer *L, size_t off)
{
    /* columns count characters (UTF-8 continuation bytes do not count); counted
     * on from the last position asked on the same line, so a long line stays linear */
    size_t from = L->line_start;
    int c = 1;
    if (L->col_col > 0 && L->col_line_start == L->line_start && L->col_off >= from && L->col_off <= off) {
        from = L->col_off;
        c = L->col_col;
    }
    for (size_t i = from; i < off && i < L->len; i++)
        if (((unsigned char)L->src[i] & 0xC0) != 0x80) c++;
    L->col_line_start = L->line_start;
    L->col_off = off;
    L->col_col = c;
    return c;
}

int py_lex_err(lexer *L, size_t off, const char *fmt, const char *arg)
{
    int line = L->line, col = lex_col(L, off);
    if (L->base_line) {
        if (line == 1) col += L->base_col - 1;
        line += L->base_line - 1;
    }
    std_diag(L->diags, L->path, line, col, fmt, arg ? arg : "");
    return -1;
}

static py_tok *emit(lexer *L, int type, size_t off, size_t len)
{
    py_toks *t = L->out;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (!t->v) abort();
    }
    py_tok *k = &t->v[t->n++];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->line = L->line;
    k->col = lex_col(L, off);
    if (L->base_line) {
        if (k->line == 1) k->col += L->base_col - 1;
        k->line += L->base_line - 1;
    }
    k->off = off;
    k->len = len;
    return k;
}

static const char *const OPS3[] = {"**=", "//=", ">>=", "<<=", "...", NULL};
static const char *const OPS2[] = {"->", ":=", "**", "//", ">>", "<<", "<=", ">=", "==", "!=",
                                   "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", NULL};
static const char OPS1[] = "+-*/%@&|^~<>()[]{},:.;=";
static const char *const OPS1S[] = {"+", "-", "*", "/", "%", "@", "&", "|", "^", "~", "<", ">",
                                    "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "="};

static void utf8_put(std_buf *b, unsigned long cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp >= 0xD800 && cp <= 0xDFFF) { o[0] = (char)0xEF; o[1] = (char)0xBF; o[2] = (char)0xBD; n = 3; }   /* U+FFFD */
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else if (cp < 0x110000) {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    } else { o[0] = (char)0xEF; o[1] = (char)0xBF; o[2] = (char)0xBD; n = 3; }
    std_buf_add(b, o, n);
}

/* Decode backslash escapes of a non-raw string body. */
void py_unescape(const char *s, size_t n, int bytes, std_buf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) { std_buf_add(b, s + i, 1); continue; }
        char c = s[++i];
        switch (c) {
        case '\n': break;
        case 'n': std_buf_add(b, "\n", 1); break;
        case 't': std_buf_add(b, "\t", 1); break;
        case 'r': std_buf_add(b, "\r", 1); break;
        case 'a': std_buf_add(b, "\a", 1); break;
        case 'b': std_buf_add(b, "\b", 1); break;
        case 'f': std_buf_add(b, "\f", 1); break;
        case 'v': std_buf_add(b, "\v", 1); break;
        case '\\': case '\'': case '"': std_buf_add(b, &c, 1); break;
        case 'x': case 'u': case 'U': {
            int w = c == 'x' ? 2 : c == 'u' ? 4 : 8;
            if (bytes && c != 'x') { std_buf_add(b, s + i - 1, 2); break; }
            unsigned long cp = 0;
            int k = 0;
            while (k < w && i + 1 < n && isxdigit((unsigned char)s[i + 1])) {
                char h = s[++i];
                cp = cp * 16 + (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
                k++;
            }
            if (bytes) { char o = (char)cp; std_buf_add(b, &o, 1); }
            else utf8_put(b, cp);
            break;
        }
        case 'N': { /* \N{NAME}: kept as written */
            std_buf_add(b, s + i - 1, 2);
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                unsigned long cp = (unsigned long)(c - '0');
                for (int k = 0; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    cp = cp * 8 + (unsigned long)(s[++i] - '0');
                if (bytes) { char o = (char)cp; std_buf_add(b, &o, 1); }
                else utf8_put(b, cp);
            } else {
                std_buf_add(b, s + i - 1, 2);
            }
        }
    }
}

static int lex_string(lexer *L, size_t start, int flags)
{
    size_t p = L->pos;
    char q = L->src[p];
    int triple = p + 2 < L->len && L->src[p + 1] == q && L->src[p + 2] == q;
    size_t body = p + (triple ? 3 : 1), i = body;
    int sline = L->line;
    size_t sls = L->line_start;
    for (;;) {
        if (i >= L->len) {
            L->line = sline;
            L->line_start = sls;
            return py_lex_err(L, start, triple ? "unterminated triple-quoted string literal%s"
                                           : "unterminated string literal%s", "");
        }
        char c = L->src[i];
        if (c == '\\' && i + 1 < L->len) {
            if (L->src[i + 1] == '\n') { L->line++; L->line_start = i + 2; }
            i += 2;
            continue;
        }
        if (c == '\n') {
            if (!triple) {
                L->line = sline;
                L->line_start = sls;
                return py_lex_err(L, start, "unterminated string literal%s", "");
            }
            L->line++;
            L->line_start = i + 1;
        }
        if (c == q && (!triple || (i + 2 < L->len && L->src[i + 1] == q && L->src[i + 2] == q)))
            break;
        i++;
    }
    size_t bend = i;
    L->pos = i + (triple ? 3 : 1);
    int curline = L->line;
    size_t curls = L->line_start;
    L->line = sline;
    L->line_start = sls;
    py_tok *t = emit(L, T_STR, start, L->pos - start);
    L->line = curline;
    L->line_start = curls;
    t->sflags = flags;
    t->body_off = body;
    if (flags & (SF_RAW | SF_FSTR)) {
        t->sval = dsl_py_strndup(L->arena, L->src + body, bend - body);
        t->slen = bend - body;
    } else {
        std_buf b = {0};
        py_unescape(L->src + body, bend - body, flags & SF_BYTES, &b);
        t->slen = b.len;
        t->sval = dsl_py_strndup(L->arena, b.p ? b.p : "", b.len);
        std_buf_free(&b);
    }
    return 0;
}

static int lex_number(lexer *L)
{
    size_t s = L->pos, i = s;
    const char *c = L->src;
    if (c[i] == '0' && i + 1 < L->len && strchr("xXoObB", c[i + 1])) {
        i += 2;
        while (i < L->len && (isalnum((unsigned char)c[i]) || c[i] == '_')) i++;
    } else {
        while (i < L->len && (isdigit((unsigned char)c[i]) || c[i] == '_')) i++;
        if (i < L->len && c[i] == '.') {
            i++;
            while (i < L->len && (isdigit((unsigned char)c[i]) || c[i] == '_')) i++;
        }
        if (i < L->len && (c[i] == 'e' || c[i] == 'E')) {
            size_t j = i + 1;
            if (j < L->len && (c[j] == '+' || c[j] == '-')) j++;
            if (j < L->len && isdigit((unsigned char)c[j])) {
                i = j;
                while (i < L->len && (isdigit((unsigned char)c[i]) || c[i] == '_')) i++;
            }
        }
        if (i < L->len && (c[i] == 'j' || c[i] == 'J')) i++;
    }
    if (i < L->len && (isalpha((unsigned char)c[i]) || c[i] == '_'))
        return py_lex_err(L, i, "invalid number literal%s", "");
    emit(L, T_NUM, s, i - s);
    L->pos = i;
    return 0;
}

static const char *intern_op(const char *s, size_t n)
{
    for (int k = 0; OPS3[k]; k++) if (n == 3 && !memcmp(OPS3[k], s, 3)) return OPS3[k];
    for (int k = 0; OPS2[k]; k++) if (n == 2 && !memcmp(OPS2[k], s, 2)) return OPS2[k];
    if (n == 1) {
        const char *p = strchr(OPS1, s[0]);
        if (p && *p) return OPS1S[p - OPS1];
    }
    return NULL;
}

/* Indentation at a line start; returns 1 when the line is blank or a comment. */
static int lex_indent(lexer *L)
{
    int col = 0, alt = 0;
    size_t i = L->pos;
    while (i < L->len) {
        char c = L->src[i];
        if (c == ' ') { col++; alt++; }
        else if (c == '\t') { col = (col / 8 + 1) * 8; alt++; }
        else if (c == '\f') { col = alt = 0; }
        else break;
        i++;
    }
    L->pos = i;
    if (i >= L->len || L->src[i] == '#' || L->src[i] == '\n' || L->src[i] == '\r' ||
        (L->src[i] == '\\' && i + 1 < L->len && L->src[i + 1] == '\n'))
        return 1;
    int top = L->ind[L->nind - 1], atop = L->alt[L->nind - 1];
    if (col == top) {
        if (alt != atop) return py_lex_err(L, i, "inconsistent use of tabs and spaces in indentation%s", "") - 1;
    } else if (col > top) {
        if (alt <= atop) return py_lex_err(L, i, "inconsistent use of tabs and spaces in indentation%s", "") - 1;
        if (L->nind >= 100) return py_lex_err(L, i, "too many levels of indentation (more than 100)%s", "") - 1;
        L->ind[L->nind] = col;
        L->alt[L->nind++] = alt;
        emit(L, T_INDENT, i, 0);
    } else {
        while (L->nind > 1 && col < L->ind[L->nind - 1]) {
            L->nind--;
            emit(L, T_DEDENT, i, 0);
        }
        if (col != L->ind[L->nind - 1])
            return py_lex_err(L, i, "unindent does not match any outer indentation level%s", "") - 1;
        if (alt != L->alt[L->nind - 1])
            return py_lex_err(L, i, "inconsistent use of tabs and spaces in indentation%s", "") - 1;
    }
    return 0;
}

int py_lex_run(lexer *L, int sub)
{
    int at_start = !sub;
    L->ind[0] = L->alt[0] = 0;
    L->nind = 1;
    while (L->pos < L->len || at_start) {
        if (at_start) {
            at_start = 0;
            int r = lex_indent(L);
            if (r < 0) return -1;
            if (r == 1) {
                /* blank or comment line: skip it */
                while (L->pos < L->len && L->src[L->pos] != '\n') {
                    if (L->src[L->pos] == '\\' && L->pos + 1 < L->len && L->src[L->pos + 1] == '\n') break;
                    L->pos++;
                }
                if (L->pos < L->len && L->src[L->pos] == '\\') { L->pos += 2; L->line++; L->line_start = L->pos; at_start = 1; continue; }
                if (L->pos < L->len) { L->pos++; L->line++; L->line_start = L->pos; at_start = 1; }
                continue;
            }
        }
        if (L->pos >= L->len) break;
        size_t p = L->pos;
        unsigned char c = (unsigned char)L->src[p];
        if (c == ' ' || c == '\t' || c == '\f' || c == '\r') { L->pos++; continue; }
        if (c == '#') {
            while (L->pos < L->len && L->src[L->pos] != '\n') L->pos++;
            continue;
        }
        if (c == '\\') {
            size_t q = p + 1;
            if (q < L->len && L->src[q] == '\r') q++;
            if (q < L->len && L->src[q] == '\n') {
                L->pos = q + 1;
                L->line++;
                L->line_start = L->pos;
                continue;
            }
            return py_lex_err(L, p, "unexpected character after line continuation character%s", "");
        }
        if (c == '\n') {
            if (L->depth == 0 && !sub && L->out->n && L->out->v[L->out->n - 1].type != T_NEWLINE &&
                L->out->v[L->out->n - 1].type != T_INDENT && L->out->v[L->out->n - 1].type != T_DEDENT)
                emit(L, T_NEWLINE, p, 1);
            L->pos++;
            L->line++;
            L->line_start = L->pos;
            if (L->depth == 0 && !sub) at_start = 1;
            continue;
        }
        if (isalpha(c) || c == '_' || c >= 0x80) {
            size_t i = p;
            while (i < L->len && (isalnum((unsigned char)L->src[i]) || L->src[i] == '_' ||
                                  (unsigned char)L->src[i] >= 0x80))
                i++;
            if (i < L->len && (L->src[i] == '\'' || L->src[i] == '"') && i - p <= 2) {
                int flags = 0, ok = 1;
                for (size_t k = p; k < i; k++) {
                    char x = (char)tolower((unsigned char)L->src[k]);
                    if (x == 'r') flags |= SF_RAW;
                    else if (x == 'b') flags |= SF_BYTES;
                    else if (x == 'f') flags |= SF_FSTR;
                    else if (x == 'u' && i - p == 1) ;
                    else ok = 0;
                }
                if (ok && !((flags & SF_BYTES) && (flags & SF_FSTR))) {
                    L->pos = i;
                    if (lex_string(L, p, flags) < 0) return -1;
                    continue;
                }
            }
            py_tok *t = emit(L, T_NAME, p, i - p);
            t->sval = dsl_py_strndup(L->arena, L->src + p, i - p);
            t->slen = i - p;
            L->pos = i;
            continue;
        }
        if (isdigit(c) || (c == '.' && p + 1 < L->len && isdigit((unsigned char)L->src[p + 1]))) {
            if (lex_number(L) < 0) return -1;
            continue;
        }
        if (c == '\'' || c == '"') {
            if (lex_string(L, p, 0) < 0) return -1;
            continue;
        }
        const char *op = NULL;
        size_t n = 0;
        for (n = 3; n >= 1 && !op; n--)
            if (p + n <= L->len) op = intern_op(L->src + p, n);
        n++;
        if (!op) {
            char what[16];
            snprintf(what, sizeof what, c >= 0x20 && c < 0x7f ? "'%c'" : "0x%02x", c);
            return py_lex_err(L, p, "invalid character %s", what);
        }
        if (strchr("([{", op[0]) && n == 1) {
            if (L->depth >= PY_MAX_DEPTH)
                return py_lex_err(L, p, "too many nested parentheses (more than 200)%s", "");
            L->brackets[L->depth] = op[0];
            L->bline[L->depth] = L->line;
            L->bcol[L->depth] = lex_col(L, p);
            L->depth++;
        } else if (strchr(")]}", op[0]) && n == 1) {
            char want = op[0] == ')' ? '(' : op[0] == ']' ? '[' : '{';
            if (L->depth == 0 || L->brackets[L->depth - 1] != want) {
                char what[4] = {'\'', op[0], '\'', 0};
                return py_lex_err(L, p, "unmatched %s", what);
            }
            L->depth--;
        }
        py_tok *t = emit(L, T_OP, p, n);
        t->op = op;
        L->pos = p + n;
    }
    if (L->depth > 0) {
        char what[4] = {'\'', L->brackets[L->depth - 1], '\'', 0};
        L->line = L->bline[L->depth - 1];
        std_diag(L->diags, L->path, L->line + (L->base_line ? L->base_line - 1 : 0),
                 L->bcol[L->depth - 1], "%s was never closed", what);
        return -1;
    }
    if (!sub) {
        if (L->out->n && L->out->v[L->out->n - 1].type != T_NEWLINE &&
            L->out->v[L->out->n - 1].type != T_DEDENT)
            emit(L, T_NEWLINE, L->len, 0);
        while (L->nind > 1) {
            L->nind--;
            emit(L, T_DEDENT, L->len, 0);
        }
    }
    emit(L, T_END, L->len, 0);
    return 0;
}

