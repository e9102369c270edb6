/* yaml.c — the strict YAML loader: UTF-8 text -> dsl_node tree (see node.h).
 *
 * Does: drives libyaml's event parser with an explicit stack (nothing recurses
 * on the C stack per nesting level), builds nodes with 1-based positions in a
 * per-document arena, keeps scalars as strings with their length and style,
 * marks plain scalars that a " #" comment cut short (cut_by_comment), and
 * collects every error as "file:line:col: error: msg": anchors, aliases, tags,
 * a second document, duplicate keys, non-scalar keys and nesting deeper than
 * DSL_MAX_DEPTH (the too-deep collection is kept, empty, and its contents are
 * skipped). The parse goes on after those.
 * libyaml's own reader errors (invalid UTF-8, control characters) and syntax
 * errors stop the parse: libyaml cannot resume after them. The input is fed
 * to libyaml a byte at a time so that such an error does not hide the errors
 * found before it in the file.
 * Does not: resolve types (`~`, `null`, `yes`, `1.0` and an empty value stay
 * plain strings; the field decides), treat `<<` as a merge key, or accept
 * UTF-16/32 input.
 */
#include "node.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- arena --------------------------------------------------------------- */

/* A chunked bump allocator: chunks are never moved, all freed at once. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    max_align_t data[];
} arena_chunk;

struct dsl_arena {
    arena_chunk *head;
};

enum { ARENA_CHUNK = 16 * 1024 };

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return p;
}

static arena_chunk *chunk_new(size_t size)
{
    arena_chunk *c = xcalloc(1, sizeof *c + size);
    c->size = size;
    return c;
}

/* n zeroed bytes aligned for any type. */
static void *arena_alloc(dsl_arena *a, size_t n)
{
    const size_t al = alignof(max_align_t);
    if (n == 0) n = 1;
    if (n > SIZE_MAX - al) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    n = (n + al - 1) / al * al;
    arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        if (n > ARENA_CHUNK / 4) {
            /* a big block gets a chunk of its own, kept behind the head so
             * the head's free space is not lost */
            arena_chunk *big = chunk_new(n);
            big->used = n;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            return big->data;
        }
        c = chunk_new(ARENA_CHUNK);
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p; /* chunks come zeroed from calloc and are never reused */
}

static void arena_free(dsl_arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

/* ---- builder API --------------------------------------------------------- */

dsl_doc *dsl_doc_new(const char *file)
{
    dsl_arena *a = xcalloc(1, sizeof *a);
    dsl_doc *d = arena_alloc(a, sizeof *d);
    d->arena = a;
    d->file = dsl_strdup(d, file ? file : "<input>", strlen(file ? file : "<input>"));
    d->root = NULL;
    return d;
}

void dsl_doc_free(dsl_doc *d)
{
    if (!d) return;
    dsl_arena *a = d->arena; /* d itself lives in the arena */
    arena_free(a);
    free(a);
}

void *dsl_alloc(dsl_doc *d, size_t n) { return arena_alloc(d->arena, n); }

char *dsl_strdup(dsl_doc *d, const char *s, size_t n)
{
    char *p = arena_alloc(d->arena, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static dsl_node *node_new(dsl_doc *d, dsl_kind kind, int line, int col)
{
    dsl_node *n = arena_alloc(d->arena, sizeof *n);
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->style = DSL_PLAIN;
    if (kind != DSL_SCALAR) n->str = dsl_strdup(d, "", 0);
    return n;
}

dsl_node *dsl_new_scalar(dsl_doc *d, const char *s, int line, int col)
{
    dsl_node *n = node_new(d, DSL_SCALAR, line, col);
    if (!s) s = "";
    n->len = strlen(s);
    n->str = dsl_strdup(d, s, n->len);
    return n;
}

dsl_node *dsl_new_map(dsl_doc *d, int line, int col) { return node_new(d, DSL_MAP, line, col); }
dsl_node *dsl_new_seq(dsl_doc *d, int line, int col) { return node_new(d, DSL_SEQ, line, col); }

/* Arrays of children have no capacity field: the capacity is implied by n
 * (4, then the next power of two), so they must only grow through
 * dsl_map_add/dsl_seq_add. Growing copies into the arena (the old copy is
 * left there, at most doubling the space used). */
static dsl_node **grow(dsl_doc *d, dsl_node **arr, size_t n)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0)) return arr; /* still room */
    size_t cap = n == 0 ? 4 : n * 2;
    dsl_node **p = arena_alloc(d->arena, cap * sizeof *p);
    if (n) memcpy(p, arr, n * sizeof *p);
    return p;
}

void dsl_map_add(dsl_doc *d, dsl_node *map, dsl_node *key, dsl_node *val)
{
    map->keys = grow(d, map->keys, map->n);
    map->vals = grow(d, map->vals, map->n);
    map->keys[map->n] = key;
    map->vals[map->n] = val;
    map->n++;
}

void dsl_seq_add(dsl_doc *d, dsl_node *seq, dsl_node *val)
{
    seq->vals = grow(d, seq->vals, seq->n);
    seq->vals[seq->n++] = val;
}

dsl_node *dsl_map_get(const dsl_node *n, const char *key)
{
    if (!n || n->kind != DSL_MAP || !key) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < n->n; i++) {
        const dsl_node *k = n->keys[i];
        if (k && k->kind == DSL_SCALAR && k->len == len && memcmp(k->str, key, len) == 0)
            return n->vals[i];
    }
    return NULL;
}

/* ---- loader -------------------------------------------------------------- */

/* One open collection. For maps, a small hash set of the keys added so far
 * (indexes into node->keys, plus one; 0 is empty) finds duplicates. */
typedef struct frame {
    dsl_node *node;
    dsl_node *key;   /* map: the key waiting for its value */
    int has_key;     /* map: the next node is a value */
    int drop;        /* map: the pending pair is not added (bad or duplicate key) */
    uint32_t *slots;
    size_t nslots;
} frame;

/* Collections nested deeper than DSL_MAX_DEPTH are reported and kept empty;
 * nested deeper than this, loading stops and the document is dropped. */
#define STOP_DEPTH 10000

typedef struct loader {
    const char *file;
    const unsigned char *text;
    size_t len;
    size_t fed;        /* bytes handed to libyaml so far */
    size_t base;       /* 3 after a UTF-8 BOM: libyaml's index 0 */
    size_t ci, bo;     /* cursor: character index ci is at byte bo */
    dsl_doc *doc;
    std_diags *diags;
    int nerr;
    frame stack[DSL_MAX_DEPTH];
    int depth;
    long level;        /* open collections, skipped and ignored ones included */
    long skip;         /* > 0: open levels inside a collection nested too deep */
    dsl_node *skipped; /* that collection, kept empty */
    dsl_node *alias;   /* the "" scalar standing for the last alias */
} loader;

static void err(loader *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err(loader *ld, int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    std_diag(ld->diags, ld->file, line, col, "%s", msg);
    ld->nerr++;
}

static int read_handler(void *data, unsigned char *buf, size_t size, size_t *size_read)
{
    loader *ld = data;
    size_t n = ld->len - ld->fed;
    if (n > 1) n = 1;
    if (n > size) n = size;
    if (n) memcpy(buf, ld->text + ld->fed, n);
    ld->fed += n;
    *size_read = n;
    return 1;
}

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Byte offset of libyaml's mark index, which counts characters. The cursor
 * moves both ways; marks come nearly in order, so this is linear overall. */
static size_t byte_at(loader *ld, size_t ci)
{
    while (ld->ci < ci && ld->bo < ld->len) {
        ld->bo++;
        while (ld->bo < ld->len && is_cont(ld->text[ld->bo])) ld->bo++;
        ld->ci++;
    }
    while (ld->ci > ci && ld->bo > ld->base) {
        ld->bo--;
        while (ld->bo > ld->base && is_cont(ld->text[ld->bo])) ld->bo--;
        ld->ci--;
    }
    return ld->bo;
}

static int mline(yaml_mark_t m) { return (int)m.line + 1; }
static int mcol(yaml_mark_t m) { return (int)m.column + 1; }

/* Where the anchor ('&') and tag ('!') of a node start, read from the source
 * from the node's start mark; the tag's text goes to tag/taglen. Positions
 * stay 0 when not found. */
typedef struct props {
    int aline, acol, tline, tcol;
    const char *tag;
    size_t taglen;
} props;

static void scan_props(loader *ld, yaml_mark_t m, props *p)
{
    memset(p, 0, sizeof *p);
    const unsigned char *t = ld->text;
    size_t i = byte_at(ld, m.index), n = ld->len;
    int line = mline(m), col = mcol(m);
    for (int k = 0; k < 2 && i < n; k++) {
        /* whitespace, line breaks and comments may separate properties */
        for (;;) {
            if (i < n && (t[i] == ' ' || t[i] == '\t')) {
                i++, col++;
            } else if (i < n && (t[i] == '\n' || t[i] == '\r')) {
                if (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') i++;
                i++, line++, col = 1;
            } else if (i < n && t[i] == '#') {
                while (i < n && t[i] != '\n' && t[i] != '\r') i++;
            } else {
                break;
            }
        }
        if (i >= n || (t[i] != '&' && t[i] != '!')) break;
        int is_tag = t[i] == '!';
        size_t start = i;
        if (is_tag) {
            p->tline = line, p->tcol = col;
        } else {
            p->aline = line, p->acol = col;
        }
        int verbatim = is_tag && i + 1 < n && t[i + 1] == '<';
        while (i < n) {
            unsigned char c = t[i];
            if (verbatim) {
                if (c == '\n' || c == '\r') break;
                if (c == '>') { i++, col++; break; }
            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '{' ||
                       c == '}' || (!is_tag && (c == ',' || c == '[' || c == ']'))) {
                break;
            }
            i++;
            while (i < n && is_cont(t[i])) i++;
            col++;
        }
        if (is_tag) {
            p->tag = (const char *)t + start;
            p->taglen = i - start;
        }
    }
}

/* Errors for the anchor and tag of a node, if any. */
static void check_props(loader *ld, yaml_mark_t m, const yaml_char_t *anchor,
                        const yaml_char_t *tag)
{
    if (!anchor && !tag) return;
    props p;
    scan_props(ld, m, &p);
    int aline = p.aline ? p.aline : mline(m), acol = p.aline ? p.acol : mcol(m);
    int tline = p.tline ? p.tline : mline(m), tcol = p.tline ? p.tcol : mcol(m);
    /* in source order when there are both */
    int tag_first = tag && anchor && (tline < aline || (tline == aline && tcol < acol));
    for (int k = 0; k < 2; k++) {
        if ((k == 0) == tag_first) {
            if (!tag) continue;
            const char *s = p.tag ? p.tag : (const char *)tag;
            size_t len = p.tag ? p.taglen : strlen(s);
            if (len > 60) len = 60;
            err(ld, tline, tcol,
                "tags are not supported: '%.*s' (remove it; the field decides the type of a value)",
                (int)len, s);
        } else if (anchor) {
            err(ld, aline, acol, "anchors and aliases are not supported: write the value out");
        }
    }
}

/* Plain scalar followed, on its line, by spaces and a '#': YAML took the rest
 * of the line as a comment (a Lua length operator in an expression, say). */
static int cut_by_comment(loader *ld, yaml_mark_t end)
{
    size_t i = byte_at(ld, end.index), start = i;
    while (i < ld->len && (ld->text[i] == ' ' || ld->text[i] == '\t')) i++;
    return i > start && i < ld->len && ld->text[i] == '#';
}

static uint32_t hash_key(const dsl_node *k)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < k->len; i++) h = (h ^ (unsigned char)k->str[i]) * 16777619u;
    return h;
}

static int same_key(const dsl_node *a, const dsl_node *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* The earlier key equal to k in the map of f, or NULL. */
static dsl_node *find_key(const frame *f, const dsl_node *k)
{
    if (!f->nslots) return NULL;
    size_t mask = f->nslots - 1;
    for (size_t i = hash_key(k) & mask; f->slots[i]; i = (i + 1) & mask) {
        dsl_node *o = f->node->keys[f->slots[i] - 1];
        if (same_key(o, k)) return o;
    }
    return NULL;
}

/* Record the last key of f's map in its hash set. */
static void index_last_key(frame *f)
{
    size_t n = f->node->n;
    if (n * 2 > f->nslots) {
        size_t ns = f->nslots ? f->nslots * 2 : 16;
        free(f->slots);
        f->slots = xcalloc(ns, sizeof *f->slots);
        f->nslots = ns;
        for (size_t j = 0; j + 1 < n; j++) {
            size_t i = hash_key(f->node->keys[j]) & (ns - 1);
            while (f->slots[i]) i = (i + 1) & (ns - 1);
            f->slots[i] = (uint32_t)(j + 1);
        }
    }
    size_t mask = f->nslots - 1;
    size_t i = hash_key(f->node->keys[n - 1]) & mask;
    while (f->slots[i]) i = (i + 1) & mask;
    f->slots[i] = (uint32_t)n;
}

/* A complete node goes into its parent (or becomes the root). */
static void attach(loader *ld, dsl_node *node)
{
    if (ld->depth == 0) {
        if (!ld->doc->root) ld->doc->root = node;
        return;
    }
    frame *f = &ld->stack[ld->depth - 1];
    if (f->node->kind == DSL_SEQ) {
        dsl_seq_add(ld->doc, f->node, node);
        return;
    }
    if (!f->has_key) {
        f->has_key = 1;
        f->key = node;
        f->drop = 0;
        if (node->kind != DSL_SCALAR || node == ld->alias) {
            f->drop = 1; /* already reported */
        } else {
            dsl_node *first = find_key(f, node);
            if (first) {
                err(ld, node->line, node->col, "duplicate key '%s' (first at line %d)", node->str,
                    first->line);
                f->drop = 1;
            }
        }
        return;
    }
    if (!f->drop && f->node->n < UINT32_MAX - 1) {
        dsl_map_add(ld->doc, f->node, f->key, node);
        index_last_key(f);
    }
    f->has_key = 0;
    f->key = NULL;
}

/* A collection starts: report a non-scalar key, then open it (or skip it
 * when it is nested too deep). */
static void open_collection(loader *ld, dsl_kind kind, yaml_mark_t m)
{
    dsl_node *n = node_new(ld->doc, kind, mline(m), mcol(m));
    if (ld->depth > 0) {
        frame *p = &ld->stack[ld->depth - 1];
        if (p->node->kind == DSL_MAP && !p->has_key)
            err(ld, n->line, n->col, "mapping keys must be plain strings");
    }
    if (ld->depth == DSL_MAX_DEPTH) {
        err(ld, n->line, n->col, "nesting deeper than %d levels", DSL_MAX_DEPTH);
        ld->skip = 1;
        ld->skipped = n;
        return;
    }
    frame *f = &ld->stack[ld->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
}

static void close_collection(loader *ld)
{
    if (ld->depth == 0) return;
    frame *f = &ld->stack[--ld->depth];
    free(f->slots);
    f->slots = NULL;
    f->nslots = 0;
    attach(ld, f->node);
}

static void reader_error(loader *ld, const yaml_parser_t *p)
{
    /* libyaml gives a raw byte offset (BOM included), no mark */
    size_t off = p->problem_offset < ld->len ? p->problem_offset : ld->len;
    int line = 1, col = 1;
    for (size_t i = ld->base; i < off; i++) {
        unsigned char c = ld->text[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= ld->len || ld->text[i + 1] != '\n'))) {
            line++;
            col = 1;
        } else if (c != '\r' && !is_cont(c)) {
            col++;
        }
    }
    const char *what = p->problem ? p->problem : "cannot read the input";
    int v = p->problem_value;
    if (strstr(what, "octet sequence")) /* incomplete sequence at the end */
        err(ld, line, col, "invalid UTF-8: %s at the end of the file (the file must be UTF-8 text)",
            what);
    else if (strstr(what, "UTF-8") && v >= 0)
        err(ld, line, col, "invalid UTF-8: byte 0x%02X (%s); the file must be UTF-8 text", (unsigned)v,
            what);
    else if (v >= 0)
        err(ld, line, col, "%s (U+%04X)", what, (unsigned)v);
    else
        err(ld, line, col, "%s", what);
}

static void syntax_error(loader *ld, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        err(ld, 1, 1, "out of memory while parsing YAML");
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        reader_error(ld, p);
        return;
    }
    yaml_mark_t m = p->problem_mark;
    char ctx[256] = "";
    if (p->context) {
        yaml_mark_t c = p->context_mark;
        if (c.line != m.line || c.column != m.column)
            snprintf(ctx, sizeof ctx, " (%s at line %d col %d)", p->context, mline(c), mcol(c));
        else
            snprintf(ctx, sizeof ctx, " (%s)", p->context);
    }
    size_t b = byte_at(ld, m.index);
    const char *hint =
        b < ld->len && ld->text[b] == '\t' ? "; tabs cannot indent YAML: use spaces" : "";
    err(ld, mline(m), mcol(m), "%s%s%s", p->problem ? p->problem : "invalid YAML", ctx, hint);
}

int dsl_yaml_load(const char *file, const char *text, size_t len, dsl_doc **out,
                  std_diags *diags)
{
    *out = NULL;
    loader *ld = xcalloc(1, sizeof *ld); /* ~10 KB of frames: kept off the C stack */
    ld->file = file ? file : "<input>";
    ld->text = (const unsigned char *)(text ? text : "");
    ld->len = text ? len : 0;
    if (ld->len >= 3 && memcmp(ld->text, "\xEF\xBB\xBF", 3) == 0) ld->base = 3;
    ld->bo = ld->base;
    ld->diags = diags;
    ld->doc = dsl_doc_new(ld->file);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        err(ld, 1, 1, "out of memory while parsing YAML");
        dsl_doc_free(ld->doc);
        free(ld);
        return -1;
    }
    yaml_parser_set_input(&parser, read_handler, ld);

    int fatal = 0, docs = 0, ignore = 0;
    for (int done = 0; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(ld, &parser);
            fatal = 1;
            break;
        }
        yaml_mark_t m = ev.start_mark;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
            if (ev.data.stream_start.encoding != YAML_UTF8_ENCODING) {
                err(ld, 1, 1, "the file is UTF-16: it must be UTF-8 text");
                fatal = done = 1;
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (docs++ == 1) {
                err(ld, mline(m), mcol(m), "only one YAML document per file");
                ignore = 1;
            }
            break;
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_ALIAS_EVENT:
            if (ignore || ld->skip) break;
            err(ld, mline(m), mcol(m), "anchors and aliases are not supported: write the value out");
            ld->alias = dsl_new_scalar(ld->doc, "", mline(m), mcol(m));
            attach(ld, ld->alias);
            break;
        case YAML_SCALAR_EVENT: {
            if (ignore || ld->skip) break;
            check_props(ld, m, ev.data.scalar.anchor, ev.data.scalar.tag);
            dsl_node *n = node_new(ld->doc, DSL_SCALAR, mline(m), mcol(m));
            n->len = ev.data.scalar.length;
            n->str = dsl_strdup(ld->doc, (const char *)ev.data.scalar.value, n->len);
            switch (ev.data.scalar.style) {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE:
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: n->style = DSL_QUOTED; break;
            case YAML_LITERAL_SCALAR_STYLE:
            case YAML_FOLDED_SCALAR_STYLE: n->style = DSL_BLOCK; break;
            default: n->style = DSL_PLAIN; break;
            }
            if (n->style == DSL_PLAIN) n->cut_by_comment = cut_by_comment(ld, ev.end_mark);
            attach(ld, n);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            /* libyaml's scanner revisits every open flow level for each
             * token: time is quadratic in the depth (10000 '[' take 0.2 s,
             * 100000 a minute), so stop there */
            if (++ld->level > STOP_DEPTH) {
                if (!ld->skip)
                    err(ld, mline(m), mcol(m), "nesting deeper than %d levels", DSL_MAX_DEPTH);
                fatal = done = 1;
                break;
            }
            if (ignore) break;
            if (ld->skip) {
                ld->skip++;
                break;
            }
            if (ev.type == YAML_SEQUENCE_START_EVENT)
                check_props(ld, m, ev.data.sequence_start.anchor, ev.data.sequence_start.tag);
            else
                check_props(ld, m, ev.data.mapping_start.anchor, ev.data.mapping_start.tag);
            open_collection(ld, ev.type == YAML_SEQUENCE_START_EVENT ? DSL_SEQ : DSL_MAP, m);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            ld->level--;
            if (ignore) break;
            if (ld->skip) {
                if (--ld->skip == 0) attach(ld, ld->skipped);
                break;
            }
            close_collection(ld);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);

    for (int i = 0; i < ld->depth; i++) free(ld->stack[i].slots);
    int nerr = ld->nerr;
    if (fatal) dsl_doc_free(ld->doc);
    else *out = ld->doc;
    free(ld);
    return nerr ? -1 : 0;
}
