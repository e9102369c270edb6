/* test_yaml.c — the strict YAML loader (dsl/yaml.c): tree, positions, styles,
 * every error with its exact message, cut_by_comment, and the builder API. */
#include "check.h"
#include "../../dsl/node.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Load text as "t.yaml"; the diagnostics go to d (caller frees). */
static dsl_doc *load(const char *text, size_t len, std_diags *d, int *rc)
{
    dsl_doc *doc = NULL;
    *rc = dsl_yaml_load("t.yaml", text, len, &doc, d);
    return doc;
}
#define LOAD(s, d, rc) load((s), sizeof(s) - 1, (d), (rc))

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One string of n copies of a then n copies of b. */
static char *repeat2(const char *a, const char *b, int n, const char *tail)
{
    size_t la = strlen(a), lb = strlen(b), lt = strlen(tail);
    char *s = malloc((la + lb) * (size_t)n + lt + 1), *p = s;
    for (int i = 0; i < n; i++, p += la) memcpy(p, a, la);
    memcpy(p, tail, lt), p += lt;
    for (int i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
    *p = 0;
    return s;
}

TEST(tree_and_positions)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("# top\n"
                        "name: order-saga\n"
                        "steps:\n"
                        "  - id: charge\n"
                        "    http: {url: \"x\"}\n"
                        "  - lua: return 1\n"
                        "vars:\n"
                        "    limit: 90\n",
                        &d, &rc);
    CHECK(rc == 0 && d.n == 0 && doc);
    dsl_node *r = doc->root;
    CHECK(r->kind == DSL_MAP && r->n == 3 && r->line == 2 && r->col == 1);
    CHECK_STR(r->keys[0]->str, "name");
    CHECK(r->keys[0]->line == 2 && r->keys[0]->col == 1);
    dsl_node *name = dsl_map_get(r, "name");
    CHECK_STR(name->str, "order-saga");
    CHECK(name->len == 10 && name->line == 2 && name->col == 7 && name->style == DSL_PLAIN);
    dsl_node *steps = dsl_map_get(r, "steps");
    CHECK(steps->kind == DSL_SEQ && steps->n == 2 && steps->line == 4 && steps->col == 3);
    dsl_node *s0 = steps->vals[0];
    CHECK(s0->kind == DSL_MAP && s0->n == 2 && s0->line == 4 && s0->col == 5);
    CHECK(dsl_map_get(s0, "id")->line == 4 && dsl_map_get(s0, "id")->col == 9);
    dsl_node *http = dsl_map_get(s0, "http");
    CHECK(http->kind == DSL_MAP && http->line == 5 && http->col == 11);
    dsl_node *url = dsl_map_get(http, "url");
    CHECK(url->line == 5 && url->col == 17 && url->style == DSL_QUOTED);
    CHECK_STR(url->str, "x");
    dsl_node *lua = dsl_map_get(steps->vals[1], "lua");
    CHECK_STR(lua->str, "return 1");
    CHECK(lua->line == 6 && lua->col == 10);
    dsl_node *limit = dsl_map_get(dsl_map_get(r, "vars"), "limit");
    CHECK(limit->line == 8 && limit->col == 12);
    CHECK_STR(limit->str, "90");
    CHECK(dsl_map_get(r, "nope") == NULL && dsl_map_get(steps, "name") == NULL);
    CHECK(dsl_map_get(NULL, "x") == NULL && dsl_map_get(name, "x") == NULL);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(columns_count_characters)
{
    std_diags d = {0};
    int rc;
    /* libyaml counts columns in characters: "é" is one column, two bytes */
    dsl_doc *doc = LOAD("\xEF\xBB\xBF" "a: \xC3\xA9t\xC3\xA9 x\nb: len #c\n", &d, &rc);
    CHECK(rc == 0 && doc);
    dsl_node *a = dsl_map_get(doc->root, "a"), *b = dsl_map_get(doc->root, "b");
    CHECK_STR(a->str, "\xC3\xA9t\xC3\xA9 x");
    CHECK(a->line == 1 && a->col == 4 && !a->cut_by_comment);
    CHECK(b->line == 2 && b->col == 4 && b->cut_by_comment);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(styles_and_scalars)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("p: plain text\n"
                        "s: 'single ''q'''\n"
                        "d: \"a\\0b\\n\"\n"
                        "lit: |\n"
                        "  line one\n"
                        "    indented\n"
                        "  # not a comment\n"
                        "fold: >-\n"
                        "  a\n"
                        "  b\n"
                        "empty:\n"
                        "tilde: ~\n"
                        "nul: null\n"
                        "yes: on\n"
                        "num: 1.10\n",
                        &d, &rc);
    CHECK(rc == 0 && d.n == 0 && doc);
    dsl_node *r = doc->root, *n;
    n = dsl_map_get(r, "p");
    CHECK(n->style == DSL_PLAIN);
    CHECK_STR(n->str, "plain text");
    n = dsl_map_get(r, "s");
    CHECK(n->style == DSL_QUOTED && n->col == 4);
    CHECK_STR(n->str, "single 'q'");
    n = dsl_map_get(r, "d");
    CHECK(n->style == DSL_QUOTED && n->len == 4 && memcmp(n->str, "a\0b\n", 5) == 0);
    n = dsl_map_get(r, "lit");
    CHECK(n->style == DSL_BLOCK && n->line == 4 && n->col == 6);
    CHECK_STR(n->str, "line one\n  indented\n# not a comment\n");
    n = dsl_map_get(r, "fold");
    CHECK(n->style == DSL_BLOCK);
    CHECK_STR(n->str, "a b");
    n = dsl_map_get(r, "empty");
    CHECK(n && n->kind == DSL_SCALAR && n->style == DSL_PLAIN && n->len == 0 && !n->cut_by_comment);
    CHECK_STR(n->str, "");
    CHECK(n->line == 11 && n->col == 7); /* just after the ':' */
    n = dsl_map_get(r, "tilde");
    CHECK(n->style == DSL_PLAIN);
    CHECK_STR(n->str, "~");
    CHECK_STR(dsl_map_get(r, "nul")->str, "null");
    CHECK_STR(dsl_map_get(r, "yes")->str, "on");
    CHECK_STR(dsl_map_get(r, "num")->str, "1.10");
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(flow_style)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("{a: 1, b: [x, y]}", &d, &rc);
    CHECK(rc == 0 && doc);
    dsl_node *r = doc->root;
    CHECK(r->kind == DSL_MAP && r->n == 2 && r->line == 1 && r->col == 1);
    CHECK_STR(dsl_map_get(r, "a")->str, "1");
    dsl_node *b = dsl_map_get(r, "b");
    CHECK(b->kind == DSL_SEQ && b->n == 2 && b->col == 11);
    CHECK_STR(b->vals[0]->str, "x");
    CHECK_STR(b->vals[1]->str, "y");
    CHECK(b->vals[0]->col == 12 && b->vals[1]->col == 15);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(big_collections)
{
    /* 3000 keys and a 3000-item list: arrays and the duplicate index grow */
    std_buf b = {0};
    for (int i = 0; i < 3000; i++) std_buf_addf(&b, "k%d: %d\n", i, i);
    std_buf_adds(&b, "k1234: again\nlist:\n");
    for (int i = 0; i < 3000; i++) std_buf_addf(&b, "  - %d\n", i);
    std_diags d = {0};
    int rc;
    dsl_doc *doc = load(b.p, b.len, &d, &rc);
    CHECK(rc == -1 && d.n == 1 && doc);
    if (d.n) CHECK_STR(d.msgs[0], "t.yaml:3001:1: error: duplicate key 'k1234' (first at line 1235)");
    CHECK(doc->root->n == 3001);
    CHECK_STR(dsl_map_get(doc->root, "k2999")->str, "2999");
    CHECK_STR(dsl_map_get(doc->root, "k1234")->str, "1234");
    dsl_node *list = dsl_map_get(doc->root, "list");
    CHECK(list->n == 3000);
    CHECK_STR(list->vals[2999]->str, "2999");
    dsl_doc_free(doc);
    std_diags_free(&d);
    std_buf_free(&b);
}

/* Exactly one error, with this full text. */
static void one_error(const char *text, const char *want, int want_doc)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = load(text, strlen(text), &d, &rc);
    CHECK(rc == -1);
    CHECK(d.n == 1);
    if (d.n) CHECK_STR(d.msgs[0], want);
    CHECK(want_doc ? doc != NULL : doc == NULL);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(duplicate_key)
{
    one_error("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n",
              "t.yaml:5:3: error: duplicate key 'x' (first at line 3)", 1);
    /* quoted and plain spellings are the same key */
    one_error("name: a\n\"name\": b\n", "t.yaml:2:1: error: duplicate key 'name' (first at line 1)",
              1);
    one_error("{a: 1, a: 2}", "t.yaml:1:8: error: duplicate key 'a' (first at line 1)", 1);
    /* the first value is kept */
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("a: 1\na: 2\n", &d, &rc);
    CHECK(doc && doc->root->n == 1);
    CHECK_STR(dsl_map_get(doc->root, "a")->str, "1");
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(anchor_alias_tag)
{
    one_error("a: &x 1\n",
              "t.yaml:1:4: error: anchors and aliases are not supported: write the value out", 1);
    one_error("a: 1\nb: *x\n",
              "t.yaml:2:4: error: anchors and aliases are not supported: write the value out", 1);
    one_error("base: &b\n  x: 1\n",
              "t.yaml:1:7: error: anchors and aliases are not supported: write the value out", 1);
    one_error("a: !!str 1\n",
              "t.yaml:1:4: error: tags are not supported: '!!str' (remove it; the field decides "
              "the type of a value)", 1);
    one_error("a: !local [1]\n",
              "t.yaml:1:4: error: tags are not supported: '!local' (remove it; the field decides "
              "the type of a value)", 1);
    /* both on one node: two errors, in source order */
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("k: !!int &a 1\n", &d, &rc);
    CHECK(rc == -1 && d.n == 2 && doc);
    if (d.n == 2) {
        CHECK_STR(d.msgs[0], "t.yaml:1:4: error: tags are not supported: '!!int' (remove it; the "
                             "field decides the type of a value)");
        CHECK_STR(d.msgs[1],
                  "t.yaml:1:10: error: anchors and aliases are not supported: write the value out");
    }
    CHECK_STR(dsl_map_get(doc->root, "k")->str, "1");
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(multi_document)
{
    one_error("a: 1\n---\nb: 2\n---\nc: 3\n", "t.yaml:2:1: error: only one YAML document per file",
              1);
    /* a leading "---" and a closing "..." are one document */
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("---\na: 1\n...\n", &d, &rc);
    CHECK(rc == 0 && d.n == 0 && doc && dsl_map_get(doc->root, "a"));
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(non_scalar_key)
{
    one_error("? [a, b]\n: 1\nc: 2\n", "t.yaml:1:3: error: mapping keys must be plain strings", 1);
    one_error("{[a]: 1}", "t.yaml:1:2: error: mapping keys must be plain strings", 1);
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("? {x: 1}\n: 1\nc: 2\n", &d, &rc);
    CHECK(rc == -1 && d.n == 1);
    if (d.n) CHECK_STR(d.msgs[0], "t.yaml:1:3: error: mapping keys must be plain strings");
    /* the bad pair is dropped, the rest kept */
    CHECK(doc && doc->root->n == 1 && dsl_map_get(doc->root, "c"));
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(depth)
{
    /* 200 levels are fine, 201 are not */
    char *ok = repeat2("[", "]", DSL_MAX_DEPTH, "");
    std_diags d = {0};
    int rc;
    dsl_doc *doc = load(ok, strlen(ok), &d, &rc);
    CHECK(rc == 0 && d.n == 0 && doc);
    dsl_doc_free(doc);
    free(ok);
    char *bad = repeat2("[", "]", DSL_MAX_DEPTH + 1, "");
    one_error(bad, "t.yaml:1:201: error: nesting deeper than 200 levels", 1);
    free(bad);

    /* 10,000 levels, flow and block: one error, fast, no crash */
    double t0 = now_s();
    char *deep = repeat2("[", "]", 10000, "x");
    one_error(deep, "t.yaml:1:201: error: nesting deeper than 200 levels", 1);
    free(deep);
    deep = repeat2("- ", "", 10000, "x\n");
    one_error(deep, "t.yaml:1:401: error: nesting deeper than 200 levels", 1);
    free(deep);
    deep = repeat2("{a: ", "}", 10000, "x");
    one_error(deep, "t.yaml:1:801: error: nesting deeper than 200 levels", 1);
    free(deep);
    double t = now_s() - t0;
    CHECK(t < 2.0 * time_scale());

    /* the tree goes on after the too-deep part, which is kept empty */
    char *s = repeat2("[", "]", 300, "");
    std_buf b = {0};
    std_buf_addf(&b, "a: %s\nb: 1\nb: 2\n", s);
    free(s);
    doc = load(b.p, b.len, &d, &rc);
    CHECK(rc == -1 && d.n == 2 && doc);
    if (d.n == 2) {
        CHECK_STR(d.msgs[0], "t.yaml:1:203: error: nesting deeper than 200 levels");
        CHECK_STR(d.msgs[1], "t.yaml:3:1: error: duplicate key 'b' (first at line 2)");
    }
    dsl_node *n = dsl_map_get(doc->root, "a");
    int levels = 1;
    while (n && n->kind == DSL_SEQ && n->n == 1) n = n->vals[0], levels++;
    CHECK(levels == 200 && n && n->kind == DSL_SEQ && n->n == 0);
    CHECK_STR(dsl_map_get(doc->root, "b")->str, "1");
    dsl_doc_free(doc);
    std_diags_free(&d);
    std_buf_free(&b);
}

TEST(syntax_errors)
{
    one_error("a: 1\nb: [x, y\nc: 2\n",
              "t.yaml:3:2: error: did not find expected ',' or ']' (while parsing a flow sequence "
              "at line 2 col 4)", 0);
    one_error("a: 1\n b: 2\n",
              "t.yaml:2:3: error: mapping values are not allowed in this context", 0);
    one_error("a: @x\n", "t.yaml:1:4: error: found character that cannot start any token (while "
                         "scanning for the next token)", 0);
    one_error("a:\n\tb: 1\n", "t.yaml:2:1: error: found character that cannot start any token "
                              "(while scanning for the next token); tabs cannot indent YAML: "
                              "use spaces", 0);
    one_error("a: \"open\n", "t.yaml:2:1: error: found unexpected end of stream (while scanning "
                             "a quoted scalar at line 1 col 4)", 0);
}

TEST(invalid_utf8)
{
    one_error("a: 1\nb: x\xFFy\n", "t.yaml:2:5: error: invalid UTF-8: byte 0xFF (invalid leading "
                                   "UTF-8 octet); the file must be UTF-8 text", 0);
    one_error("a: \xC3\xA9\xC3(\n", "t.yaml:1:6: error: invalid UTF-8: byte 0x28 (invalid "
                                    "trailing UTF-8 octet); the file must be UTF-8 text", 0);
    one_error("a: x\xE2\x82", "t.yaml:1:5: error: invalid UTF-8: incomplete UTF-8 octet sequence "
                              "at the end of the file (the file must be UTF-8 text)", 0);
    one_error("a: x\x01\n", "t.yaml:1:5: error: control characters are not allowed (U+0001)", 0);
    const char nul[] = "a: x\0y\n";
    std_diags d = {0};
    int rc;
    dsl_doc *doc = load(nul, sizeof nul - 1, &d, &rc);
    CHECK(rc == -1 && d.n == 1 && !doc);
    if (d.n) CHECK_STR(d.msgs[0], "t.yaml:1:5: error: control characters are not allowed (U+0000)");
    std_diags_free(&d);
    const char u16[] = "\xFF\xFE" "a\0:\0 \0" "1\0\n\0";
    doc = load(u16, sizeof u16 - 1, &d, &rc);
    CHECK(rc == -1 && d.n == 1 && !doc);
    if (d.n) CHECK_STR(d.msgs[0], "t.yaml:1:1: error: the file is UTF-16: it must be UTF-8 text");
    std_diags_free(&d);
}

TEST(several_errors)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("name: a\n"
                        "vars: &v {x: 1}\n"
                        "name: b\n"
                        "steps:\n"
                        "  - lua: !!str x\n"
                        "    lua: y\n"
                        "  - {[1]: 2}\n"
                        "copy: *v\n"
                        "bad: \xFE\n",
                        &d, &rc);
    CHECK(rc == -1 && d.n == 7 && !doc);
    const char *want[] = {
        "t.yaml:2:7: error: anchors and aliases are not supported: write the value out",
        "t.yaml:3:1: error: duplicate key 'name' (first at line 1)",
        "t.yaml:5:10: error: tags are not supported: '!!str' (remove it; the field decides the "
        "type of a value)",
        "t.yaml:6:5: error: duplicate key 'lua' (first at line 5)",
        "t.yaml:7:6: error: mapping keys must be plain strings",
        "t.yaml:8:7: error: anchors and aliases are not supported: write the value out",
        "t.yaml:9:6: error: invalid UTF-8: byte 0xFE (invalid leading UTF-8 octet); the file "
        "must be UTF-8 text",
    };
    for (size_t i = 0; i < d.n && i < 7; i++) CHECK_STR(d.msgs[i], want[i]);
    std_diags_free(&d);

    /* without the fatal last line the tree is returned for further checks */
    doc = LOAD("a: 1\na: 2\nb: &x 3\nc: [*x]\n", &d, &rc);
    CHECK(rc == -1 && d.n == 3 && doc);
    CHECK(doc->root->n == 3);
    dsl_node *c = dsl_map_get(doc->root, "c");
    CHECK(c && c->kind == DSL_SEQ && c->n == 1 && c->vals[0]->kind == DSL_SCALAR);
    dsl_doc_free(doc);
    std_diags_free(&d);

    /* two aliases as keys: no spurious duplicate '' */
    doc = LOAD("*a : 1\n*b : 2\n", &d, &rc);
    CHECK(rc == -1 && d.n == 2 && doc && doc->root->n == 0);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(cut_by_comment)
{
    std_diags d = {0};
    int rc;
    dsl_doc *doc = LOAD("x: len #foo\n"
                        "y: \"a #b\"\n"
                        "z: a#b\n"
                        "w: a  # a real comment, also flagged\n"
                        "v: 'q' #c\n"
                        "f: [n #c\n"
                        "  , m]\n"
                        "if: #items > 0\n"
                        "u: plain\n",
                        &d, &rc);
    CHECK(rc == 0 && doc);
    dsl_node *r = doc->root;
    CHECK(dsl_map_get(r, "x")->cut_by_comment == 1);
    CHECK_STR(dsl_map_get(r, "x")->str, "len");
    CHECK(dsl_map_get(r, "y")->cut_by_comment == 0);
    CHECK_STR(dsl_map_get(r, "y")->str, "a #b");
    CHECK(dsl_map_get(r, "z")->cut_by_comment == 0);
    CHECK_STR(dsl_map_get(r, "z")->str, "a#b");
    CHECK(dsl_map_get(r, "w")->cut_by_comment == 1);
    CHECK(dsl_map_get(r, "v")->cut_by_comment == 0);
    dsl_node *f = dsl_map_get(r, "f");
    CHECK(f->vals[0]->cut_by_comment == 1 && f->vals[1]->cut_by_comment == 0);
    dsl_node *e = dsl_map_get(r, "if");
    CHECK(e->len == 0 && e->cut_by_comment == 1);
    CHECK(dsl_map_get(r, "u")->cut_by_comment == 0);
    CHECK(r->keys[0]->cut_by_comment == 0);
    dsl_doc_free(doc);
    std_diags_free(&d);
}

TEST(empty_file)
{
    const char *texts[] = {"", "\n\n", "# only a comment\n", "   \n# x\n"};
    for (size_t i = 0; i < 4; i++) {
        std_diags d = {0};
        int rc;
        dsl_doc *doc = load(texts[i], strlen(texts[i]), &d, &rc);
        CHECK(rc == 0 && d.n == 0 && doc && doc->root == NULL);
        if (doc) CHECK_STR(doc->file, "t.yaml");
        dsl_doc_free(doc);
        std_diags_free(&d);
    }
    std_diags d = {0};
    dsl_doc *doc = NULL;
    CHECK(dsl_yaml_load("t.yaml", NULL, 0, &doc, &d) == 0 && doc && !doc->root);
    dsl_doc_free(doc);
    dsl_doc_free(NULL);
}

TEST(builder_round_trip)
{
    dsl_doc *d = dsl_doc_new("imported.json");
    CHECK_STR(d->file, "imported.json");
    dsl_node *root = dsl_new_map(d, 1, 1);
    d->root = root;
    CHECK(root->kind == DSL_MAP && root->n == 0 && root->line == 1 && root->col == 1);
    dsl_node *list = dsl_new_seq(d, 2, 3);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "key%d", i);
        dsl_map_add(d, root, dsl_new_scalar(d, key, i + 1, 1), dsl_new_scalar(d, key + 3, i + 1, 6));
        dsl_seq_add(d, list, dsl_new_scalar(d, key, 0, 0));
    }
    dsl_map_add(d, root, dsl_new_scalar(d, "list", 200, 1), list);
    CHECK(root->n == 101 && list->n == 100);
    CHECK_STR(dsl_map_get(root, "key0")->str, "0");
    CHECK_STR(dsl_map_get(root, "key99")->str, "99");
    CHECK(dsl_map_get(root, "key57")->line == 58 && dsl_map_get(root, "key57")->col == 6);
    CHECK(dsl_map_get(root, "list") == list);
    CHECK_STR(list->vals[63]->str, "key63");
    dsl_node *s = dsl_new_scalar(d, "hello", 3, 4);
    CHECK(s->kind == DSL_SCALAR && s->len == 5 && s->style == DSL_PLAIN && !s->cut_by_comment);
    char *p = dsl_strdup(d, "a\0b", 3);
    CHECK(p[0] == 'a' && p[1] == 0 && p[2] == 'b' && p[3] == 0);
    unsigned char *z = dsl_alloc(d, 100000); /* bigger than a chunk, zeroed */
    int zero = 1;
    for (int i = 0; i < 100000; i++) zero &= z[i] == 0;
    CHECK(zero);
    long *l = dsl_alloc(d, sizeof *l);
    *l = 42;
    CHECK(((uintptr_t)l % _Alignof(max_align_t)) == 0 && *l == 42);
    dsl_doc_free(d);
}

int main(void)
{
    RUN(tree_and_positions);
    RUN(columns_count_characters);
    RUN(styles_and_scalars);
    RUN(flow_style);
    RUN(big_collections);
    RUN(duplicate_key);
    RUN(anchor_alias_tag);
    RUN(multi_document);
    RUN(non_scalar_key);
    RUN(depth);
    RUN(syntax_errors);
    RUN(invalid_utf8);
    RUN(several_errors);
    RUN(cut_by_comment);
    RUN(empty_file);
    RUN(builder_round_trip);
    CHECK_DONE();
}
