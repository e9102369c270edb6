/* test_py.c — the Python-subset front end of `wfdsl import airflow`:
 * the tokenizer and parser (dsl/py_parse.c) through an S-expression dump of
 * the AST, error messages with path:line:col, the nesting caps; the abstract
 * interpreter (dsl/py_eval.c) on small programs; the DAG corpus
 * tests/airflow/dags/NAME.py against its IR golden tests/airflow/ir/NAME.json
 * (UPDATE_GOLDEN=1 rewrites them) and the bad inputs tests/airflow/bad/NAME.py
 * against NAME.expected (their first diagnostic). */
#include "check.h"
#include "../../dsl/py.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ AST dump */

static void dump(std_buf *b, const py_node *n);

static void dump_list(std_buf *b, const py_list *l)
{
    for (int i = 0; i < l->n; i++) {
        std_buf_adds(b, " ");
        dump(b, l->v[i]);
    }
}

static void dump_str(std_buf *b, const char *s, size_t n)
{
    std_buf_adds(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') std_buf_adds(b, "\\n");
        else if (c == '"' || c == '\\') std_buf_addf(b, "\\%c", c);
        else if (c < 0x20) std_buf_addf(b, "\\x%02x", c);
        else std_buf_add(b, &s[i], 1);
    }
    std_buf_adds(b, "\"");
}

static void dump(std_buf *b, const py_node *n)
{
    if (!n) { std_buf_adds(b, "_"); return; }
    switch (n->kind) {
    case PE_NAME: std_buf_adds(b, n->s); return;
    case PE_INT: std_buf_addf(b, "%lld", (long long)n->ival); return;
    case PE_FLOAT: std_buf_addf(b, "%g", n->fval); return;
    case PE_BIGINT: std_buf_addf(b, "(bigint %s)", n->s); return;
    case PE_STR:
        if (n->ival) std_buf_adds(b, "b");
        dump_str(b, n->s, n->slen);
        return;
    case PE_FSTR: std_buf_adds(b, "(f"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_FMT:
        std_buf_adds(b, "(fmt ");
        dump(b, n->a);
        if (n->s) std_buf_addf(b, " !%s", n->s);
        if (n->b) { std_buf_adds(b, " :"); dump(b, n->b); }
        std_buf_adds(b, ")");
        return;
    case PE_CONST: std_buf_adds(b, n->ival == 0 ? "None" : n->ival == 1 ? "True" : "False"); return;
    case PE_ELLIPSIS: std_buf_adds(b, "..."); return;
    case PE_ATTR: std_buf_adds(b, "(. "); dump(b, n->a); std_buf_addf(b, " %s)", n->s); return;
    case PE_SUB: std_buf_adds(b, "(sub "); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b); std_buf_adds(b, ")"); return;
    case PE_SLICE:
        std_buf_adds(b, "(slice ");
        dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b); std_buf_adds(b, " "); dump(b, n->c);
        std_buf_adds(b, ")");
        return;
    case PE_CALL: std_buf_adds(b, "(call "); dump(b, n->a); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_KW: std_buf_addf(b, "(kw %s ", n->s); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_STAR: std_buf_adds(b, "(* "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_DSTAR: std_buf_adds(b, "(** "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_BIN:
    case PE_UNARY:
        std_buf_addf(b, "(%s ", n->op);
        dump(b, n->a);
        if (n->kind == PE_BIN) { std_buf_adds(b, " "); dump(b, n->b); }
        std_buf_adds(b, ")");
        return;
    case PE_NOT: std_buf_adds(b, "(not "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_BOOL: std_buf_addf(b, "(%s", n->op); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_CMP:
        std_buf_adds(b, "(cmp ");
        dump(b, n->kids.v[0]);
        for (int i = 1; i < n->kids.n; i++) {
            std_buf_addf(b, " %s ", n->ops[i - 1]);
            dump(b, n->kids.v[i]);
        }
        std_buf_adds(b, ")");
        return;
    case PE_IFEXP:
        std_buf_adds(b, "(ifexp "); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b);
        std_buf_adds(b, " "); dump(b, n->c); std_buf_adds(b, ")");
        return;
    case PE_LAMBDA: std_buf_adds(b, "(lambda ("); dump_list(b, &n->kids); std_buf_adds(b, ") "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_PARAM:
        std_buf_addf(b, "%s%s", n->ival == 1 ? "*" : n->ival == 2 ? "**" : "", n->s);
        if (n->a) { std_buf_adds(b, "="); dump(b, n->a); }
        return;
    case PE_LIST: std_buf_adds(b, "(list"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_TUPLE: std_buf_adds(b, "(tuple"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_SET: std_buf_adds(b, "(set"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_DICT: std_buf_adds(b, "(dict"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PE_COMP:
        std_buf_addf(b, "(comp%s ", n->op);
        dump(b, n->a);
        if (n->b) { std_buf_adds(b, " "); dump(b, n->b); }
        dump_list(b, &n->kids);
        std_buf_adds(b, ")");
        return;
    case PE_FOR:
        std_buf_adds(b, "(for "); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b);
        dump_list(b, &n->kids); std_buf_adds(b, ")");
        return;
    case PE_WALRUS: std_buf_adds(b, "(:= "); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b); std_buf_adds(b, ")"); return;
    case PE_YIELD: std_buf_adds(b, "(yield "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PE_AWAIT: std_buf_adds(b, "(await "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_EXPR: dump(b, n->a); return;
    case PS_ASSIGN: std_buf_adds(b, "(="); dump_list(b, &n->kids); std_buf_adds(b, " "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_AUG: std_buf_addf(b, "(%s ", n->op); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->b); std_buf_adds(b, ")"); return;
    case PS_ANN: std_buf_adds(b, "(ann "); dump(b, n->a); std_buf_adds(b, " "); dump(b, n->c); std_buf_adds(b, " "); dump(b, n->b); std_buf_adds(b, ")"); return;
    case PS_IMPORT: std_buf_adds(b, "(import"); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PS_FROM: std_buf_addf(b, "(from %d%s", (int)n->ival, n->s); dump_list(b, &n->kids); std_buf_adds(b, ")"); return;
    case PS_ALIAS: std_buf_addf(b, "%s%s%s", n->s, n->s2 ? "/" : "", n->s2 ? n->s2 : ""); return;
    case PS_DEF:
        std_buf_addf(b, "(def %s (", n->s);
        dump_list(b, &n->kids);
        std_buf_adds(b, ")");
        if (n->orelse.n) { std_buf_adds(b, " @("); dump_list(b, &n->orelse); std_buf_adds(b, ")"); }
        dump_list(b, &n->body);
        std_buf_adds(b, ")");
        return;
    case PS_RETURN: std_buf_adds(b, "(return "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_PASS: std_buf_adds(b, "pass"); return;
    case PS_BREAK: std_buf_adds(b, "break"); return;
    case PS_CONTINUE: std_buf_adds(b, "continue"); return;
    case PS_WITH: std_buf_adds(b, "(with ("); dump_list(b, &n->kids); std_buf_adds(b, ")"); dump_list(b, &n->body); std_buf_adds(b, ")"); return;
    case PS_WITHITEM: dump(b, n->a); if (n->b) { std_buf_adds(b, " as "); dump(b, n->b); } return;
    case PS_FOR:
    case PS_WHILE:
        std_buf_adds(b, n->kind == PS_FOR ? "(for " : "(while ");
        dump(b, n->a);
        if (n->kind == PS_FOR) { std_buf_adds(b, " in "); dump(b, n->b); }
        std_buf_adds(b, " :");
        dump_list(b, &n->body);
        if (n->orelse.n) { std_buf_adds(b, " else:"); dump_list(b, &n->orelse); }
        std_buf_adds(b, ")");
        return;
    case PS_IF:
        std_buf_adds(b, "(if "); dump(b, n->a); std_buf_adds(b, " :"); dump_list(b, &n->body);
        if (n->orelse.n) { std_buf_adds(b, " else:"); dump_list(b, &n->orelse); }
        std_buf_adds(b, ")");
        return;
    case PS_CLASS: std_buf_addf(b, "(class %s (", n->s); dump_list(b, &n->kids); std_buf_adds(b, ")"); dump_list(b, &n->body); std_buf_adds(b, ")"); return;
    case PS_TRY:
        std_buf_adds(b, "(try"); dump_list(b, &n->body);
        if (n->orelse.n) { std_buf_adds(b, " else:"); dump_list(b, &n->orelse); }
        if (n->extra.n) { std_buf_adds(b, " finally:"); dump_list(b, &n->extra); }
        std_buf_adds(b, ")");
        return;
    case PS_RAISE: std_buf_adds(b, "(raise "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_GLOBAL: std_buf_adds(b, "global"); return;
    case PS_DEL: std_buf_adds(b, "(del "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_ASSERT: std_buf_adds(b, "(assert "); dump(b, n->a); std_buf_adds(b, ")"); return;
    case PS_OTHER: std_buf_addf(b, "(other %s)", n->s); return;
    }
    std_buf_addf(b, "(?%d)", (int)n->kind);
}

/* Parse src as "t.py"; returns the dump of the module (statements separated by
 * "; ") followed by " | " and the diagnostics, in a static buffer. */
static const char *parse_n(const char *src, size_t len)
{
    static char *last;
    free(last);
    py_module m;
    std_diags d = {0};
    int errs = 0;
    std_buf b = {0};
    int rc = dsl_py_parse_module("t.py", src, len, &m, &d, &errs);
    if (rc == 0) {
        for (int i = 0; i < m.body.n; i++) {
            if (i) std_buf_adds(&b, "; ");
            dump(&b, m.body.v[i]);
        }
    }
    if (d.n) {
        std_buf_adds(&b, " | ");
        for (size_t i = 0; i < d.n; i++) {
            if (i) std_buf_adds(&b, " || ");
            std_buf_adds(&b, d.msgs[i]);
        }
    }
    if (rc != 0) std_buf_adds(&b, " [fatal]");
    else if (errs != (int)d.n) std_buf_addf(&b, " [errors %d != %zu]", errs, d.n);
    std_diags_free(&d);
    dsl_py_arena_free(m.arena);
    last = std_buf_take(&b);
    return last;
}
static const char *parse(const char *src) { return parse_n(src, strlen(src)); }

/* The first diagnostic of src, or "(none)". */
static const char *first_err(const char *src, size_t len)
{
    static char buf[512];
    py_module m;
    std_diags d = {0};
    int errs = 0;
    dsl_py_parse_module("t.py", src, len, &m, &d, &errs);
    snprintf(buf, sizeof buf, "%s", d.n ? d.msgs[0] : "(none)");
    std_diags_free(&d);
    dsl_py_arena_free(m.arena);
    return buf;
}
#define ERR(s) first_err((s), sizeof(s) - 1)

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
    size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
    char *s = malloc((la + lb) * (size_t)n + lm + 1), *p = s;
    for (int i = 0; i < n; i++, p += la) memcpy(p, a, la);
    memcpy(p, mid, lm), p += lm;
    for (int i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
    *p = 0;
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ parser tests */

TEST(tokens_numbers_names_ops)
{
    CHECK_STR(parse("x = 1_000 + 0x1F - 0o17 * 0b101\n"), "(= x (- (+ 1000 31) (* 15 5)))");
    CHECK_STR(parse("y = 1.5e3 + .25 + 2.\n"), "(= y (+ (+ 1500 0.25) 2))");
    CHECK_STR(parse("z = 99999999999999999999\n"), "(= z (bigint 99999999999999999999))");
    CHECK_STR(parse("a //= 2 ** -1\n"), "(//= a (** 2 (- 1)))");
    CHECK_STR(parse("a >> b << c\n"), "(<< (>> a b) c)");
    CHECK_STR(parse("a >> [b, c] >> d\n"), "(>> (>> a (list b c)) d)");
    CHECK_STR(parse("x = not a and b or c\n"), "(= x (or (and (not a) b) c))");
    CHECK_STR(parse("x = a < b <= c is not d not in e\n"), "(= x (cmp a < b <= c is not d not in e))");
    CHECK_STR(parse("x = a if b else c\n"), "(= x (ifexp b a c))");
    CHECK_STR(parse("f(a, *b, k=1, **d)\n"), "(call f a (* b) (kw k 1) (** d))");
    CHECK_STR(parse("x = a.b[1:2, ::3](c)[0]\n"), "(= x (sub (call (sub (. a b) (tuple (slice 1 2 _) (slice _ _ 3))) c) 0))");
    CHECK_STR(parse("x = lambda a, b=2, *c, **d: a\n"), "(= x (lambda ( a b=2 *c **d) a))");
    CHECK_STR(parse("x = {1: 2, **d}; y = {1, 2}; z = ()\n"), "(= x (dict 1 2 _ d)); (= y (set 1 2)); (= z (tuple))");
    CHECK_STR(parse("x = [i * 2 for i in range(3) if i]\n"), "(= x (comp[ (* i 2) (for i (call range 3) i)))");
    CHECK_STR(parse("x = {k: v for k, v in d.items()}\n"), "(= x (compd k v (for (tuple k v) (call (. d items)))))");
    CHECK_STR(parse("a, b = 1, 2\n"), "(= (tuple a b) (tuple 1 2))");
    CHECK_STR(parse("a = b = None\n"), "(= a b None)");
    CHECK_STR(parse("x: int = 3\n"), "(ann x int 3)");
    CHECK_STR(parse("import os, a.b as c\nfrom ..x import (y as z, w,)\nfrom m import *\n"),
              "(import os a.b/c); (from 2x y/z w); (from 0m *)");
    CHECK_STR(parse("x = ...\n"), "(= x ...)");
    CHECK_STR(parse("if (n := 3) > 2: pass\n"), "(if (cmp (:= n 3) > 2) : pass)");
    CHECK_STR(parse("x = 1; y = 2;\n"), "(= x 1); (= y 2)");
    CHECK_STR(parse("x = True, False, None\n"), "(= x (tuple True False None))");
}

TEST(strings_escapes_prefixes_concat)
{
    CHECK_STR(parse("s = 'a\\tb\\n' \"c\\\"d\"\n"), "(= s \"a\\x09b\\nc\\\"d\")");
    CHECK_STR(parse("s = r'\\d+' R\"\\n\"\n"), "(= s \"\\\\d+\\\\n\")");
    CHECK_STR(parse("s = b'\\x41\\101' rb'\\x'\n"), "(= s b\"AA\\\\x\")");
    CHECK_STR(parse("s = '\\u00e9\\U0001F600\\x41\\N{DASH}'\n"), "(= s \"\xc3\xa9\xf0\x9f\x98\x80" "A\\\\N{DASH}\")");
    CHECK_STR(parse("s = u'x' 'y'\n"), "(= s \"xy\")");
    CHECK_STR(parse("s = '''a\n'b'\nc''' \"\"\"d\"\"\"\n"), "(= s \"a\\n'b'\\ncd\")");
    CHECK_STR(parse("s = ('a'\n     'b'\n     'c')\n"), "(= s \"abc\")");
    CHECK_STR(parse("s = 'a\\\nb'\n"), "(= s \"ab\")");
    CHECK_STR(parse("s = 'x' b'y'\n"), " | t.py:1:5: error: cannot mix bytes and nonbytes literals");
}

TEST(fstrings)
{
    CHECK_STR(parse("s = f'a{b}c'\n"), "(= s (f \"a\" (fmt b) \"c\"))");
    CHECK_STR(parse("s = f'{x!r:>{w}}'\n"), "(= s (f (fmt x !r :(f \">\" (fmt w)))))");
    CHECK_STR(parse("s = f'{{lit}} {d[\"k\"]} {f(1, 2)}'\n"), "(= s (f \"{lit} \" (fmt (sub d \"k\")) \" \" (fmt (call f 1 2))))");
    CHECK_STR(parse("s = f'{x=}'\n"), "(= s (f \"x=\" (fmt x !r)))");
    CHECK_STR(parse("s = 'pre_' f'{i}' '_post'\n"), "(= s (f \"pre_\" (fmt i) \"_post\"))");
    CHECK_STR(parse("s = f'{a:%Y-%m-%d}'\n"), "(= s (f (fmt a :(f \"%Y-%m-%d\"))))");
    CHECK_STR(parse("s = f'{a!=b}'\n"), "(= s (f (fmt (cmp a != b))))");
    CHECK_STR(parse("s = f\"{'{'}\"\n"), "(= s (f (fmt \"{\")))");
    CHECK_STR(parse("s = rf'\\d{n}'\n"), "(= s (f \"\\\\d\" (fmt n)))");
    CHECK_STR(parse("s = f'''\n{a}\n'''\n"), "(= s (f \"\\n\" (fmt a) \"\\n\"))");
    /* errors inside an f-string point into the file */
    CHECK_STR(ERR("x = 1\ns = f'ab{}'\n"), "t.py:2:5: error: f-string: empty expression not allowed");
    CHECK_STR(ERR("s = f'a}'\n"), "t.py:1:5: error: f-string: single '}' is not allowed");
    CHECK_STR(ERR("s = f'{a'\n"), "t.py:1:5: error: f-string: expecting '}'");
    CHECK_STR(ERR("s = f'xx{a b}'\n"), "t.py:1:12: error: f-string: invalid syntax");
}

TEST(indent_dedent_blocks)
{
    CHECK_STR(parse("if a:\n    b = 1\n    if c:\n        d()\n    e()\nf()\n"),
              "(if a : (= b 1) (if c : (call d)) (call e)); (call f)");
    CHECK_STR(parse("for i in range(3):\n  x(i)\nelse:\n  y()\n"), "(for i in (call range 3) : (call x i) else: (call y))");
    CHECK_STR(parse("for k, v in d.items():\n  pass\n"), "(for (tuple k v) in (call (. d items)) : pass)");
    CHECK_STR(parse("for x in a, b:\n  pass\n"), "(for x in (tuple a b) : pass)");
    CHECK_STR(parse("if a: b()\nelif c: d()\nelse: e()\n"), "(if a : (call b) else: (if c : (call d) else: (call e)))");
    CHECK_STR(parse("while x:\n\tx -= 1\n"), "(while x : (-= x 1))");
    CHECK_STR(parse("with DAG('x') as dag, TaskGroup('g'):\n    t = Op()\n"),
              "(with ( (call DAG \"x\") as dag (call TaskGroup \"g\")) (= t (call Op)))");
    CHECK_STR(parse("with (A() as a, B() as b):\n    pass\n"), "(with ( (call A) as a (call B) as b) pass)");
    CHECK_STR(parse("@dag(schedule=None)\ndef f(x, y=2):\n    '''doc'''\n    return x\n"),
              "(def f ( x y=2) @( (call dag (kw schedule None))) \"doc\" (return x))");
    CHECK_STR(parse("@task\nasync def f(): pass\n"), "(def f () @( task) pass)");
    CHECK_STR(parse("try:\n  import a\nexcept ImportError as e:\n  a = None\nelse:\n  b()\nfinally:\n  c()\n"),
              "(try (import a) else: (call b) finally: (call c))");
    CHECK_STR(parse("class A(B, metaclass=M):\n  x = 1\n  def f(self): return 2\n"),
              "(class A ( B (kw metaclass M)) (= x 1) (def f ( self) (return 2)))");
    /* comments and blank lines do not change indentation; the file may lack a final newline */
    CHECK_STR(parse("if a:\n    # c\n\n  # d\n    b()\n# e\nc()"), "(if a : (call b)); (call c)");
    /* a match statement is kept as OTHER and its block skipped */
    CHECK_STR(parse("match x:\n    case 1:\n        pass\ny = 1\n"), "(other match statement); (= y 1)");
    CHECK_STR(parse("match = 3\n"), "(= match 3)");
    /* a UTF-8 BOM and CRLF line ends */
    CHECK_STR(parse("\xEF\xBB\xBFx = 1\r\nif x:\r\n    y = 2\r\n"), "(= x 1); (if x : (= y 2))");
}

TEST(bracket_joining_and_continuations)
{
    CHECK_STR(parse("t = Op(\n    task_id='a',\n        x=[1,\n  2],\n)\nu = 1\n"),
              "(= t (call Op (kw task_id \"a\") (kw x (list 1 2)))); (= u 1)");
    CHECK_STR(parse("a = 1 + \\\n    2\nb = 3\n"), "(= a (+ 1 2)); (= b 3)");
    CHECK_STR(parse("x = {\n  'a': 1,  # comment\n\n  'b': 2}\n"), "(= x (dict \"a\" 1 \"b\" 2))");
    CHECK_STR(parse("a >> (\n  b\n)\n"), "(>> a b)");
}

TEST(positions)
{
    py_module m;
    std_diags d = {0};
    int errs;
    const char *src = "x = 1\nif x:\n    t = Op(task_id='a')\n    a >> b\n";
    CHECK(dsl_py_parse_module("t.py", src, strlen(src), &m, &d, &errs) == 0);
    CHECK(m.body.n == 2);
    py_node *ifs = m.body.v[1];
    CHECK(ifs->line == 2 && ifs->col == 1);
    py_node *as = ifs->body.v[0];
    CHECK(as->kind == PS_ASSIGN && as->line == 3 && as->col == 5);
    py_node *call = as->a;
    CHECK(call->kind == PE_CALL && call->line == 3 && call->col == 9);
    CHECK(call->kids.v[0]->line == 3 && call->kids.v[0]->col == 12);
    py_node *sh = ifs->body.v[1]->a;
    CHECK(sh->kind == PE_BIN && sh->line == 4 && sh->col == 5);
    CHECK(!strncmp(src + call->start, "Op(task_id='a')", call->end - call->start) && call->end - call->start == 15);
    /* columns count characters, not bytes */
    std_diags_free(&d);
    dsl_py_arena_free(m.arena);
    CHECK_STR(ERR("s = '\xc3\xa9\xc3\xa9' +\n"), "t.py:1:11: error: invalid syntax: unexpected end of line");
    /* f-string fields: positions inside the file */
    CHECK(dsl_py_parse_module("t.py", "\nx = f'ab{cd}'\n", 14, &m, &d, &errs) == 0 && d.n == 0);
    py_node *fmt = m.body.v[0]->a->kids.v[1];
    CHECK(fmt->kind == PE_FMT && fmt->a->line == 2 && fmt->a->col == 10);
    std_diags_free(&d);
    dsl_py_arena_free(m.arena);
}

TEST(syntax_errors_with_positions)
{
    CHECK_STR(ERR("x = (1,\ny = 2\n"), "t.py:1:5: error: '(' was never closed");
    CHECK_STR(ERR("x = f(1,\n  y = = 2)\n"), "t.py:2:7: error: invalid syntax: unexpected '='");
    CHECK_STR(ERR("x = 1\ny = = 2\n"), "t.py:2:5: error: invalid syntax: unexpected '='");
    CHECK_STR(ERR("s = 'abc\n"), "t.py:1:5: error: unterminated string literal");
    CHECK_STR(ERR("x = 1\ns = '''abc\n\n"), "t.py:2:5: error: unterminated triple-quoted string literal");
    CHECK_STR(ERR("if a:\n    b\n  c\n"), "t.py:3:3: error: unindent does not match any outer indentation level");
    CHECK_STR(ERR("if a:\nb\n"), "t.py:2:1: error: expected an indented block");
    CHECK_STR(ERR("x = 1\n    y = 2\n"), "t.py:2:5: error: unexpected indent");
    CHECK_STR(ERR("x = (1, 2]\n"), "t.py:1:10: error: unmatched ']'");
    CHECK_STR(ERR("x = [1,\n  (2,\n"), "t.py:2:3: error: '(' was never closed");
    CHECK_STR(ERR("x = 1 $ 2\n"), "t.py:1:7: error: invalid character '$'");
    CHECK_STR(ERR("x = 1\nx = 1 \\ 2\n"), "t.py:2:7: error: unexpected character after line continuation character");
    CHECK_STR(ERR("x = 12abc\n"), "t.py:1:7: error: invalid number literal");
    CHECK_STR(ERR("a = 1\nb = 2\x00\n"), "t.py:2:6: error: source code cannot contain null bytes");
    CHECK_STR(ERR("if a:\n        b\n\tc\n"), "t.py:3:2: error: inconsistent use of tabs and spaces in indentation");
    CHECK_STR(ERR("else:\n  pass\n"), "t.py:1:1: error: invalid syntax: 'else' without a matching statement");
    CHECK_STR(ERR("@dag\nx = 1\n"), "t.py:2:1: error: invalid syntax: a decorator must precede 'def' or 'class'");
    CHECK_STR(ERR("def (x): pass\n"), "t.py:1:5: error: invalid syntax: expected a name, found '('");
    CHECK_STR(ERR("try:\n  pass\nx = 1\n"), "t.py:3:1: error: expected 'except' or 'finally' block");
    CHECK_STR(ERR("x = a if b\n"), "t.py:1:11: error: invalid syntax: expected 'else' after 'if' expression");
    CHECK_STR(ERR("x = 1\ny = 'caf\xe9'\n"), "t.py:2:9: error: the file is not valid UTF-8 (byte 0xe9)");
    CHECK_STR(ERR("s = '\xed\xa0\x80'\n"), "t.py:1:6: error: the file is not valid UTF-8 (byte 0xed)");
    CHECK_STR(ERR("s = '\xc0\x80'\n"), "t.py:1:6: error: the file is not valid UTF-8 (byte 0xc0)");
    CHECK_STR(parse("s = '\\ud800'\n"), "(= s \"\xef\xbf\xbd\")");
    CHECK_STR(ERR(""), "(none)");
}

TEST(recovery_reports_each_statement)
{
    /* each bad statement is reported and skipped; the others are kept */
    CHECK_STR(parse("a = = 1\nb = 2\nif x:\n    c = )\n    d = 4\ne = 5\n"),
              " | t.py:4:9: error: unmatched ')' [fatal]");
    CHECK_STR(parse("a = = 1\nb = 2\nif x:\n    c = ]\n"), " | t.py:4:9: error: unmatched ']' [fatal]");
    CHECK_STR(parse("a = = 1\nb = 2\nif x:\n    c = *\n    d = 4\ne = 5\n"),
              "(= b 2); (if x : (= d 4)); (= e 5) | t.py:1:5: error: invalid syntax: unexpected '=' || "
              "t.py:4:10: error: invalid syntax: unexpected end of line");
    CHECK_STR(parse("def f(1):\n    x = 1\n    y = 2\nz = 3\n"),
              "(= z 3) | t.py:1:7: error: invalid syntax: expected a name, found number");
}

TEST(nesting_caps_without_crash)
{
    double t0 = now_s();
    char *s = repeat("(", 10000, "1", ")");
    CHECK_STR(first_err(s, strlen(s)), "t.py:1:201: error: too many nested parentheses (more than 200)");
    free(s);
    s = repeat("[", 10000, "", "]");
    CHECK_STR(first_err(s, strlen(s)), "t.py:1:201: error: too many nested parentheses (more than 200)");
    free(s);
    s = repeat("-", 10000, "1", "");
    CHECK_STR(first_err(s, strlen(s)), "t.py:1:201: error: too deeply nested (more than 200 levels)");
    free(s);
    s = repeat("not ", 10000, "1", "");
    CHECK(strstr(first_err(s, strlen(s)), "error: too deeply nested (more than 200 levels)"));
    free(s);
    s = repeat("lambda: ", 10000, "1", "");
    CHECK(strstr(first_err(s, strlen(s)), "error: too deeply nested (more than 200 levels)"));
    free(s);
    s = repeat("f(", 90, "1", ")");
    CHECK_STR(first_err(s, strlen(s)), "(none)");
    free(s);
    s = repeat("f(", 150, "1", ")");
    CHECK(strstr(first_err(s, strlen(s)), "error: too deeply nested (more than 200 levels)"));
    free(s);
    s = repeat("x.y(", 190, "", ")");
    CHECK(strstr(first_err(s, strlen(s)), "too deeply nested") || !strcmp(first_err(s, strlen(s)), "(none)"));
    free(s);
    /* a chain of 10000 >> is a left-leaning tree: no recursion per operator */
    s = repeat("a >> ", 10000, "b", "");
    CHECK_STR(first_err(s, strlen(s)), "(none)");
    free(s);
    /* 1,000 nested blocks: indentation levels are capped at 100 */
    std_buf b = {0};
    for (int i = 0; i < 1000; i++) {
        for (int k = 0; k < i; k++) std_buf_adds(&b, " ");
        std_buf_adds(&b, "if x:\n");
    }
    for (int k = 0; k < 1000; k++) std_buf_adds(&b, " ");
    std_buf_adds(&b, "pass\n");
    CHECK_STR(first_err(b.p, b.len), "t.py:101:101: error: too many levels of indentation (more than 100)");
    std_buf_free(&b);
    /* 99 nested blocks parse, the block depth cap is reported */
    for (int i = 0; i < 99; i++) {
        for (int k = 0; k < i; k++) std_buf_adds(&b, " ");
        std_buf_adds(&b, "if x:\n");
    }
    for (int k = 0; k < 99; k++) std_buf_adds(&b, " ");
    std_buf_adds(&b, "pass\n");
    CHECK_STR(first_err(b.p, b.len), "(none)");
    std_buf_free(&b);
    /* f-strings nested in f-string specs */
    s = repeat("f'{x:{", 300, "y", "}}'");
    CHECK(strstr(first_err(s, strlen(s)), "error:"));
    free(s);
    CHECK(now_s() - t0 < 5.0 * time_scale());
}

/* ------------------------------------------------------------ evaluator */

/* The IR of a program (path "t.py"), dumped compactly; diagnostics included. */
static json_t *ir_of(const char *src)
{
    json_t *ir = NULL;
    std_diags d = {0};
    dsl_airflow_py_parse("t.py", src, strlen(src), &ir, &d);
    std_diags_free(&d);
    return ir;
}

/* The folded value of a Python expression (with a prelude of imports), as compact JSON. */
static const char *fold(const char *e)
{
    static char *last;
    free(last);
    std_buf b = {0};
    std_buf_addf(&b, "import os, pendulum, json\nfrom datetime import datetime, timedelta, time\n"
                     "from airflow import DAG\nfrom airflow.models import Variable\n"
                     "from airflow.utils.dates import days_ago\nfrom airflow.utils.trigger_rule import TriggerRule\n"
                     "from airflow.utils.weekday import WeekDay\nL = [3, 1, 2]\nD = {'a': 1, 'b': 2}\nS = 'ab'\n"
                     "with DAG('d', params={'v': %s}):\n    pass\n", e);
    json_t *ir = ir_of(b.p);
    std_buf_free(&b);
    json_t *v = json_object_get(json_object_get(json_object_get(json_array_get(json_object_get(ir, "dags"), 0), "args"), "params"), "v");
    json_t *x = json_is_object(v) ? json_object_get(v, "$") : NULL;
    if (x && json_is_string(x) && !strcmp(json_string_value(x), "expr"))
        last = strdup("EXPR");
    else
        last = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("(none)");
    json_decref(ir);
    return last;
}

TEST(fold_numbers_and_strings)
{
    CHECK_STR(fold("1 + 2 * 3 - 4 // 3 % 5"), "6");
    CHECK_STR(fold("-7 // 2"), "-4");
    CHECK_STR(fold("-7 % 3"), "2");
    CHECK_STR(fold("7 / 2"), "3.5");
    CHECK_STR(fold("2 ** 10"), "1024");
    CHECK_STR(fold("2 ** 64"), "1.8446744073709552e19");
    CHECK_STR(fold("9223372036854775807 + 1"), "9.2233720368547758e18");
    CHECK_STR(fold("1 / 0"), "EXPR");
    CHECK_STR(fold("'a' + 'b' * 3"), "\"abbb\"");
    CHECK_STR(fold("'%s-%05.1f-%d%%' % ('x', 2.25, 7)"), "\"x-002.2-7%\"");
    CHECK_STR(fold("'%(a)s/%(b)s' % {'a': 1, 'b': 'z'}"), "\"1/z\"");
    CHECK_STR(fold("'{}-{x}-{0}'.format(5, x='y')"), "\"5-y-5\"");
    CHECK_STR(fold("f'{1+1:03d}|{\"s\":>4}|{3.14159:.2f}|{L!r}|{None}|{True}'"), "\"002|   s|3.14|[3, 1, 2]|None|True\"");
    CHECK_STR(fold("' A b '.strip().upper().replace('B', 'c')"), "\"A c\"");
    CHECK_STR(fold("'-'.join(['a', 'b']) + 'x,y'.split(',')[1]"), "\"a-by\"");
    CHECK_STR(fold("S[1] + S[-2] + 'hello'[1:3]"), "\"bael\"");
    CHECK_STR(fold("str(12) + str(1.5) + str(2.0) + repr('q')"), "\"121.52.0'q'\"");
    CHECK_STR(fold("int('42') + len('été') + len(L)"), "48");
    CHECK_STR(fold("1 < 2 <= 2 and not (3 in L) is False"), "true");
    CHECK_STR(fold("'a' in D and 'z' not in S"), "true");
    CHECK_STR(fold("0 or '' or 'x'"), "\"x\"");
    CHECK_STR(fold("'yes' if len(L) > 2 else 'no'"), "\"yes\"");
    CHECK_STR(fold("unknown_name + 1"), "EXPR");
    CHECK_STR(fold("json.dumps({'a': [1, True, None]})"), "\"{\\\"a\\\": [1, true, null]}\"");
}

TEST(fold_collections)
{
    CHECK_STR(fold("L + [4] * 2"), "[3,1,2,4,4]");
    CHECK_STR(fold("sorted(L) + list(reversed(L))"), "[1,2,3,2,1,3]");
    CHECK_STR(fold("[x * 2 for x in L if x > 1]"), "[6,4]");
    CHECK_STR(fold("{k: v + 1 for k, v in D.items()}"), "{\"a\":2,\"b\":3}");
    CHECK_STR(fold("list(range(2, 10, 3)) + list(range(3))"), "[2,5,8,0,1,2]");
    CHECK_STR(fold("list(enumerate(['a', 'b'], 1))"), "[[1,\"a\"],[2,\"b\"]]");
    CHECK_STR(fold("list(zip(L, 'xy'))"), "[[3,\"x\"],[1,\"y\"]]");
    CHECK_STR(fold("{**D, 'c': 3, 1: 'one'}"), "{\"a\":1,\"b\":2,\"c\":3,\"1\":\"one\"}");
    CHECK_STR(fold("dict(D, z=0) | {'a': 9}"), "{\"a\":9,\"b\":2,\"z\":0}");
    CHECK_STR(fold("D.get('a') + D.get('q', 10) + D['b']"), "13");
    CHECK_STR(fold("(min(L), max(L), sum(L), abs(-2))"), "[1,3,6,2]");
    CHECK_STR(fold("[*L, *'ab']"), "[3,1,2,\"a\",\"b\"]");
    CHECK_STR(fold("list(range(100000))"), "EXPR");
}

TEST(fold_time_env_and_enums)
{
    CHECK_STR(fold("timedelta(days=1, hours=2, minutes=3, seconds=4)"), "{\"$\":\"timedelta\",\"seconds\":93784}");
    CHECK_STR(fold("timedelta(0, 90) * 2 + timedelta(milliseconds=500)"), "{\"$\":\"timedelta\",\"seconds\":180.5}");
    CHECK_STR(fold("pendulum.duration(hours=1) - timedelta(minutes=15)"), "{\"$\":\"timedelta\",\"seconds\":2700}");
    CHECK_STR(fold("datetime(2024, 2, 29, 13, 5)"), "{\"$\":\"datetime\",\"value\":\"2024-02-29T13:05:00\",\"tz\":null}");
    CHECK_STR(fold("datetime(2023, 2, 29)"), "EXPR");
    CHECK_STR(fold("pendulum.datetime(2024, 1, 1, tz='Asia/Tokyo')"), "{\"$\":\"datetime\",\"value\":\"2024-01-01T00:00:00\",\"tz\":\"Asia/Tokyo\"}");
    CHECK_STR(fold("datetime(2024, 1, 1, tzinfo=pendulum.timezone('UTC')) + timedelta(days=31)"),
              "{\"$\":\"datetime\",\"value\":\"2024-02-01T00:00:00\",\"tz\":\"UTC\"}");
    CHECK_STR(fold("datetime.strptime('2024-03-04 05:06', '%Y-%m-%d %H:%M')"), "{\"$\":\"datetime\",\"value\":\"2024-03-04T05:06:00\",\"tz\":null}");
    CHECK_STR(fold("time(7, 30)"), "{\"$\":\"time\",\"value\":\"07:30:00\"}");
    CHECK_STR(fold("days_ago(3)"), "{\"$\":\"relative_date\",\"expr\":\"days_ago(3)\",\"days\":-3}");
    CHECK_STR(fold("datetime.today() + timedelta(hours=12)"), "{\"$\":\"relative_date\",\"expr\":\"datetime.today() + timedelta(hours=12)\",\"days\":0.5}");
    CHECK_STR(fold("os.environ['HOME']"), "{\"$\":\"env\",\"name\":\"HOME\",\"default\":null}");
    CHECK_STR(fold("os.environ.get('X', 'd')"), "{\"$\":\"env\",\"name\":\"X\",\"default\":\"d\"}");
    CHECK_STR(fold("Variable.get('k', default_var=3)"), "{\"$\":\"variable\",\"name\":\"k\",\"default\":3}");
    CHECK_STR(fold("Variable.get('k') == 'x'"), "EXPR");
    CHECK_STR(fold("os.getenv('E') + 'x'"), "EXPR");
    CHECK_STR(fold("TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS"), "\"none_failed_min_one_success\"");
    CHECK_STR(fold("TriggerRule.ALL_DONE.value"), "\"all_done\"");
    CHECK_STR(fold("WeekDay.MONDAY"), "{\"$\":\"enum\",\"class\":\"WeekDay\",\"value\":\"MONDAY\"}");
    CHECK_STR(fold("some.module.call(1)"), "EXPR");
    /* paths: the file is t.py */
    CHECK_STR(fold("os.path.basename(__file__).replace('.py', '')"), "\"t\"");
    CHECK_STR(fold("os.path.splitext('a/b.c.py')"), "[\"a/b.c\",\".py\"]");
    CHECK_STR(fold("os.path.join('/x', 'y', 'z.sql') + os.path.dirname('a/b/c')"), "\"/x/y/z.sqla/b\"");
    CHECK_STR(fold("os.path.join('a', '/abs')"), "\"/abs\"");
}

/* The callable of task t of the first DAG: its "lua" and "returns". */
static const char *lua_of(const char *body)
{
    static char buf[1024];
    std_buf b = {0};
    std_buf_addf(&b, "from airflow import DAG\nfrom airflow.operators.python import BranchPythonOperator\n"
                     "import datetime\nMODE = 'x'\n%s\nwith DAG('d'):\n    BranchPythonOperator(task_id='t', python_callable=f)\n", body);
    json_t *ir = ir_of(b.p);
    std_buf_free(&b);
    json_t *t = json_array_get(json_object_get(json_array_get(json_object_get(ir, "dags"), 0), "tasks"), 0);
    json_t *cb = json_object_get(json_object_get(t, "kwargs"), "python_callable");
    json_t *lua = json_object_get(cb, "lua");
    snprintf(buf, sizeof buf, "%s", json_is_string(lua) ? json_string_value(lua) : "(none)");
    json_decref(ir);
    return buf;
}

TEST(callables_to_lua)
{
    CHECK_STR(lua_of("def f(): return 'a'"), "\"a\"");
    CHECK_STR(lua_of("f = lambda: ['a', 'b']"), "{\"a\", \"b\"}");
    CHECK_STR(lua_of("def f(**ctx):\n    return 'a' if ctx['ds'] > '2024-01-01' else 'b'"),
              "(function() if (time.format(vars.logical_date, \"%Y-%m-%d\") > \"2024-01-01\") then return \"a\" else return \"b\" end end)()");
    CHECK_STR(lua_of("def f(ds_nodash, **kw):\n    return 'x_' + ds_nodash"), "(\"x_\" .. time.format(vars.logical_date, \"%Y%m%d\"))");
    CHECK_STR(lua_of("def f(data_interval_end):\n    return data_interval_end.strftime('%H') == '00'"),
              "(time.format(vars.interval_end, \"%H\") == \"00\")");
    CHECK_STR(lua_of("def f():\n    return datetime.datetime.now().isoweekday() in (6, 7)"),
              "((tonumber(time.format(now(), \"%u\")) == 6 or tonumber(time.format(now(), \"%u\")) == 7))");
    CHECK_STR(lua_of("def f(**context):\n    if context['dag_run'].conf.get('mode') == MODE:\n        return 'a'\n    elif not context['params']['n'] > 3:\n        return 'b'\n    return 'c'"),
              "(function() if (input.mode == \"x\") then return \"a\" else if (not (input.n > 3)) then return \"b\" end end return \"c\" end)()");
    CHECK_STR(lua_of("def f(x):\n    return x"), "(none)");
    CHECK_STR(lua_of("def f(**c):\n    v = c['ti'].xcom_pull()\n    return v"), "(none)");
    CHECK_STR(lua_of("def f(**c):\n    return c['ds'] and 'a'"), "(none)");
    CHECK_STR(lua_of("def f(**c):\n    return not c['params']['flag']"), "(none)");
    CHECK_STR(lua_of("def f():\n    return unknown_call()"), "(none)");
}

TEST(dag_forms_and_edges)
{
    json_t *ir = ir_of("from airflow import DAG\nfrom airflow.operators.empty import EmptyOperator as E\n"
                       "d1 = DAG('one')\nwith DAG('two') as d2:\n    a = E(task_id='a')\n    b = E(task_id='b', dag=d1)\n"
                       "c = E(task_id='c', dag=d1)\nb >> c\na >> c\nx = E(task_id='x')\nc >> x\n");
    json_t *dags = json_object_get(ir, "dags");
    CHECK(json_array_size(dags) == 2);
    json_t *one = json_array_get(dags, 0), *two = json_array_get(dags, 1);
    CHECK_STR(json_string_value(json_object_get(one, "form")), "assign");
    CHECK_STR(json_string_value(json_object_get(two, "form")), "with");
    /* b and c are in 'one' (dag=), the orphan x is adopted by its edge, a >> c crosses DAGs */
    CHECK(json_array_size(json_object_get(one, "tasks")) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(one, "tasks"), 2), "task_id")), "x");
    CHECK(json_array_size(json_object_get(one, "edges")) == 2);
    CHECK(json_array_size(json_object_get(two, "tasks")) == 1);
    json_t *dg = json_array_get(json_object_get(ir, "diagnostics"), 0);
    CHECK(dg && strstr(json_string_value(json_object_get(dg, "message")), "between two DAGs"));
    CHECK(json_integer_value(json_object_get(dg, "line")) == 9);
    CHECK(json_integer_value(json_object_get(ir, "airflow_version")) == 2);
    json_decref(ir);
    /* duplicate ids, empty groups */
    ir = ir_of("from airflow.sdk import DAG, TaskGroup\nfrom airflow.providers.standard.operators.empty import EmptyOperator as E\n"
               "with DAG('d'):\n    a = E(task_id='a')\n    E(task_id='a')\n    with TaskGroup('g') as g:\n        pass\n    a >> g\n");
    json_t *diags = json_object_get(ir, "diagnostics");
    CHECK(json_array_size(diags) == 2);
    CHECK(strstr(json_string_value(json_object_get(json_array_get(diags, 0), "message")), "duplicate task id 'a'"));
    CHECK(strstr(json_string_value(json_object_get(json_array_get(diags, 1), "message")), "empty task group 'g'"));
    CHECK(json_integer_value(json_object_get(ir, "airflow_version")) == 3);
    json_decref(ir);
}

/* ------------------------------------------------------------ corpus */

static char *read_all(const char *path, size_t *len)
{
    std_err e = {0};
    return std_read_file(path, len, &e);
}

static int write_all(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(s, f);
    return fclose(f);
}

/* The names NAME of dir/NAME.ext, sorted; returns the count. */
static int list_dir(const char *dir, const char *ext, char names[][128], int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    size_t el = strlen(ext);
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > el && l - el < 128 && !strcmp(e->d_name + l - el, ext)) {
            memcpy(names[n], e->d_name, l - el);
            names[n][l - el] = 0;
            n++;
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[128];
            memcpy(t, names[j], 128);
            memcpy(names[j], names[j - 1], 128);
            memcpy(names[j - 1], t, 128);
        }
    return n;
}

static char *ir_text(const char *path, int *fatal)
{
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return NULL;
    json_t *ir = NULL;
    std_diags d = {0};
    *fatal = dsl_airflow_py_parse(path, text, len, &ir, &d) != 0 || d.n;
    char *s = ir ? json_dumps(ir, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ir);
    std_diags_free(&d);
    free(text);
    return s;
}

TEST(corpus_goldens)
{
    static char names[200][128];
    int n = list_dir("tests/airflow/dags", ".py", names, 200);
    int update = getenv("UPDATE_GOLDEN") != NULL;
    CHECK(n >= 30);
    for (int i = 0; i < n; i++) {
        char src[300], gold[300];
        snprintf(src, sizeof src, "tests/airflow/dags/%s.py", names[i]);
        snprintf(gold, sizeof gold, "tests/airflow/ir/%s.json", names[i]);
        int fatal = 0;
        char *got = ir_text(src, &fatal);
        if (!got) { CHECK(!"no IR"); printf("  %s: no IR\n", src); continue; }
        if (fatal) { printf("  %s: fatal diagnostics\n", src); CHECK(!fatal); }
        std_buf g = {0};
        std_buf_addf(&g, "%s\n", got);
        if (update) write_all(gold, g.p);
        size_t len;
        char *want = read_all(gold, &len);
        if (!want || strcmp(want, g.p)) {
            printf("  %s: IR differs from %s (UPDATE_GOLDEN=1 rewrites it)\n", src, gold);
            CHECK(!"golden differs");
        }
        free(want);
        free(got);
        std_buf_free(&g);
    }
}

/* The first diagnostic of a file: a fatal one, else the IR's first, as path:line:col: level: message. */
static char *first_diag(const char *path)
{
    size_t len;
    char *text = read_all(path, &len);
    if (!text) return NULL;
    json_t *ir = NULL;
    std_diags d = {0};
    dsl_airflow_py_parse(path, text, len, &ir, &d);
    std_buf b = {0};
    if (d.n) std_buf_adds(&b, d.msgs[0]);
    else {
        json_t *x = json_array_get(json_object_get(ir, "diagnostics"), 0);
        if (x)
            std_buf_addf(&b, "%s:%d:%d: %s: %s", path, (int)json_integer_value(json_object_get(x, "line")),
                         (int)json_integer_value(json_object_get(x, "col")), json_string_value(json_object_get(x, "level")),
                         json_string_value(json_object_get(x, "message")));
        else
            std_buf_adds(&b, "(no diagnostic)");
    }
    json_decref(ir);
    std_diags_free(&d);
    free(text);
    return std_buf_take(&b);
}

TEST(bad_inputs)
{
    static char names[100][128];
    int n = list_dir("tests/airflow/bad", ".py", names, 100);
    int update = getenv("UPDATE_GOLDEN") != NULL;
    CHECK(n >= 6);
    for (int i = 0; i < n; i++) {
        char src[300], exp[300];
        snprintf(src, sizeof src, "tests/airflow/bad/%s.py", names[i]);
        snprintf(exp, sizeof exp, "tests/airflow/bad/%s.expected", names[i]);
        double t0 = now_s();
        char *got = first_diag(src);
        CHECK(now_s() - t0 < 5.0 * time_scale());
        if (!got) { CHECK(!"unreadable"); continue; }
        std_buf g = {0};
        std_buf_addf(&g, "%s\n", got);
        if (update) write_all(exp, g.p);
        size_t len;
        char *want = read_all(exp, &len);
        if (!want || strcmp(want, g.p)) {
            printf("  %s: first diagnostic: %s", src, g.p);
            CHECK(!"expected diagnostic differs");
        }
        free(want);
        free(got);
        std_buf_free(&g);
    }
}

/* tests/fuzz/regressions/fuzz_py/: inputs that once failed the fuzz target, replayed
 * through the same entry point with the same invariants, each within 5 s. */
TEST(fuzz_regressions)
{
    static char names[100][128];
    int n = list_dir("tests/fuzz/regressions/fuzz_py", ".py", names, 100);
    CHECK(n >= 2);
    for (int i = 0; i < n; i++) {
        char src[300];
        snprintf(src, sizeof src, "tests/fuzz/regressions/fuzz_py/%s.py", names[i]);
        size_t len;
        char *text = read_all(src, &len);
        if (!text) { CHECK(!"unreadable"); continue; }
        double t0 = now_s();
        json_t *ir = NULL;
        std_diags d = {0};
        int rc = dsl_airflow_py_parse(src, text, len, &ir, &d);
        CHECK(now_s() - t0 < 5.0 * time_scale());
        CHECK(rc == 0 ? d.n == 0 && ir != NULL : d.n > 0);
        if (ir) {
            char *s = json_dumps(ir, 0);
            CHECK(s != NULL);
            free(s);
        }
        json_decref(ir);
        std_diags_free(&d);
        free(text);
    }
}

/* `test_py FILE...` prints the IR of each file (a debugging aid). */
static int print_ir(int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        std_err e = {0};
        size_t len;
        char *text = std_read_file(argv[i], &len, &e);
        if (!text) { fprintf(stderr, "%s\n", e.msg); rc = 1; continue; }
        json_t *ir = NULL;
        std_diags d = {0};
        dsl_airflow_py_parse(argv[i], text, len, &ir, &d);
        for (size_t k = 0; k < d.n; k++) fprintf(stderr, "%s\n", d.msgs[k]);
        if (ir) {
            char *s = json_dumps(ir, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
        }
        json_decref(ir);
        std_diags_free(&d);
        free(text);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1) return print_ir(argc, argv);
    RUN(tokens_numbers_names_ops);
    RUN(strings_escapes_prefixes_concat);
    RUN(fstrings);
    RUN(indent_dedent_blocks);
    RUN(bracket_joining_and_continuations);
    RUN(positions);
    RUN(syntax_errors_with_positions);
    RUN(recovery_reports_each_statement);
    RUN(nesting_caps_without_crash);
    RUN(fold_numbers_and_strings);
    RUN(fold_collections);
    RUN(fold_time_env_and_enums);
    RUN(callables_to_lua);
    RUN(dag_forms_and_edges);
    RUN(corpus_goldens);
    RUN(bad_inputs);
    RUN(fuzz_regressions);
    CHECK_DONE();
}
