/* py_lex.h — the tokenizer of the Python-subset front end (py_lex.c), shared
 * with its parser (py_parse.c). Internal to dsl/py*.c.
 */
#ifndef WF_DSL_PY_LEX_H
#define WF_DSL_PY_LEX_H

#include "py.h"


enum { T_NAME = 1, T_NUM, T_STR, T_OP, T_NEWLINE, T_INDENT, T_DEDENT, T_END };
enum { SF_BYTES = 1, SF_RAW = 2, SF_FSTR = 4 };

typedef struct py_tok {
    int type;
    int line, col;
    size_t off, len;       /* source range */
    const char *op;        /* T_OP, T_NAME: interned text */
    char *sval;            /* T_STR: decoded value (or raw f-string body) */
    size_t slen;
    int sflags;
    size_t body_off;       /* T_STR: offset of the body in the source */
} py_tok;

typedef struct py_toks {
    py_tok *v;
    size_t n, cap;
} py_toks;

typedef struct lexer {
    const char *path, *src;
    size_t len, pos;
    int line;
    size_t line_start;
    py_arena *arena;
    py_toks *out;
    std_diags *diags;
    int depth;
    char brackets[PY_MAX_DEPTH + 1];
    int bline[PY_MAX_DEPTH + 1], bcol[PY_MAX_DEPTH + 1];
    int ind[101], alt[101], nind;
    int base_line, base_col;   /* sub-lexers of f-string fields */
    size_t col_line_start, col_off;   /* lex_col's last answer */
    int col_col;
} lexer;

/* Tokenize L->src[L->pos, L->len) into L->out; sub: an f-string field (no
 * NEWLINE/INDENT/DEDENT). 0, or -1 with a diagnostic in L->diags. */
int py_lex_run(lexer *L, int sub);
/* A diagnostic at offset off of the current line (fmt has one %s for arg); -1. */
int py_lex_err(lexer *L, size_t off, const char *fmt, const char *arg);
/* Decode the backslash escapes of a non-raw string body into b. */
void py_unescape(const char *s, size_t n, int bytes, std_buf *b);

#endif
