/* vm.c — fibers over the program's instructions, templates evaluated in the
 * run's Lua sandbox, commands issued with deterministic sequence numbers.
 * See vm.h for the contract. It does not execute effects, touch the store
 * or read the clock: everything from outside arrives through vm_resolve and
 * vm_reject. */
#include "vm.h"
#include "../stdlib/asl_lib.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum fiber_state {
    F_READY,     /* runnable */
    F_WAIT_CMD,  /* blocked on command waiting_seq */
    F_WAIT_KIDS, /* blocked on its branches or iterations */
    F_DONE,      /* reached FEND (a child) */
    F_FREE       /* slot unused */
} fiber_state;

typedef enum frame_kind { FR_TRY, FR_SAGA, FR_COMP, FR_ONERR, FR_LOOP } frame_kind;
enum { TRY_BODY, TRY_CATCH, TRY_FINALLY };
/* A dag task's state. */
enum { T_PENDING, T_RUNNING, T_SUCCESS, T_FAILED, T_UPFAILED, T_SKIPPED };
static const char *const task_states[] = {"pending", "running", "success", "failed",
                                          "upstream_failed", "skipped"};


/* A handler on a fiber's stack; errors unwind through them innermost first. */
typedef struct frame {
    frame_kind kind;
    int block;
    int state;       /* try: TRY_*; onerr: 1 once its steps run */
    json_t *pending; /* the error being handled (owned) */
    int scope;       /* scope created for a catch/on_error/compensation (freed on exit) */
    int prev_scope;  /* the fiber's scope to restore on exit */
    int prev_steps;  /* and its steps scope */
    int saga;        /* FR_SAGA/FR_COMP: the saga */
    long iter;       /* FR_LOOP: iteration */
} frame;

typedef struct fiber {
    fiber_state state;
    int parent;          /* fiber index, -1 for the main fiber */
    int pc;
    int64_t waiting_seq;
    int waiting_step;
    json_t *last;        /* output of the last step this fiber ran (owned) */
    int scope;           /* Lua scope its expressions see (0: globals) */
    int own_scope;       /* it created `scope` and frees it */
    int steps_scope;     /* where its steps' outputs are published */
    int saga;            /* saga its completed steps register with, -1 none */
    frame *fr;
    size_t nfr, capfr;
    /* as the parent of a parallel or foreach */
    int join_block;
    json_t *results;     /* par: {branch: output}; foreach: [result...] */
    int kids;            /* children alive */
    json_t *kid_error;   /* first failure of a child (par without fail_fast) */
    json_t *items;       /* foreach: the items */
    size_t next_item;
    int *tstate;         /* dag: each task's T_* state */
    json_t *terrors;     /* dag: {task: error} of the failed tasks */
    /* as a child */
    json_t *key;         /* branch name or item index */
} fiber;

typedef struct saga {
    int parent;    /* enclosing saga or -1 */
    json_t *comps; /* [[addr, scope, step]...] in completion order */
} saga;

struct vm_run {
    const vm_program *p;
    std_lua *lua;
    int *handles; /* chunk index -> sandbox handle */
    fiber *fibers;
    size_t nfibers, capfibers;
    int *free_fibers;
    size_t nfree;
    saga *sagas;
    size_t nsagas;
    int64_t next_seq;
    vm_cmd *cmds;
    size_t ncmds, capcmds;
    int64_t *cancels;
    size_t ncancels, capcancels;
    vm_state state;
    json_t *output, *error;
    uint64_t ninstr;
    int vars_ready; /* the initial values of `vars` are evaluated (first advance) */
    size_t ready_lo; /* no fiber below this index is ready (set_ready lowers it) */
};

/* ---- templates --------------------------------------------------------- */

static json_t *eval_tmpl(vm_run *r, json_t *t, int scope, std_err *e);

static int interp_part(json_t *v, std_buf *b, std_err *e)
{
    switch (json_typeof(v)) {
    case JSON_STRING: std_buf_add(b, json_string_value(v), json_string_length(v)); return 0;
    case JSON_INTEGER: std_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); return 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 1e15) std_buf_addf(b, "%.1f", d);
        else std_buf_addf(b, "%.17g", d);
        return 0;
    }
    case JSON_TRUE: std_buf_adds(b, "true"); return 0;
    case JSON_FALSE: std_buf_adds(b, "false"); return 0;
    case JSON_NULL:
        return std_errf(e, "lua", "cannot interpolate nil into a string (use a default: x or '')");
    default:
        return std_errf(e, "lua", "cannot interpolate a table into a string (use json.encode)");
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static json_t *eval_tmpl(vm_run *r, json_t *t, int scope, std_err *e)
{
    const char *tag = json_string_value(json_array_get(t, 0));
    json_t *body = json_array_get(t, 1);
    switch (tag ? tag[0] : 0) {
    case 'c': return json_incref(body);
    case 'e': {
        json_t *v = NULL;
        if (vm_eval_chunk(r, (int)json_integer_value(body), scope, &v, e) != 0) return NULL;
        return v;
    }
    case 'i': {
        std_buf b = {0};
        size_t i;
        json_t *part;
        json_array_foreach(body, i, part) {
            if (json_is_string(part)) {
                std_buf_add(&b, json_string_value(part), json_string_length(part));
                continue;
            }
            json_t *v = NULL;
            if (vm_eval_chunk(r, (int)json_integer_value(part), scope, &v, e) != 0 ||
                interp_part(v, &b, e) != 0) {
                json_decref(v);
                std_buf_free(&b);
                return NULL;
            }
            json_decref(v);
        }
        json_t *s = json_stringn(b.p ? b.p : "", b.len);
        std_buf_free(&b);
        return s;
    }
    case 'o': {
        /* fields in key order: a program compiled from YAML keeps the file's
         * order, the same program loaded from the store has sorted keys, and
         * now()/uuid() in two fields must be asked in the same order by both */
        size_t n = json_object_size(body), i = 0;
        const char *small[16], **keys = n <= 16 ? small : malloc(n * sizeof *keys);
        if (!keys) abort();
        const char *k;
        json_t *sub;
        json_object_foreach(body, k, sub) keys[i++] = k;
        qsort(keys, n, sizeof *keys, cmp_str);
        json_t *o = json_object();
        for (i = 0; i < n && o; i++) {
            json_t *v = eval_tmpl(r, json_object_get(body, keys[i]), scope, e);
            if (v) {
                json_object_set_new(o, keys[i], v);
            } else {
                json_decref(o);
                o = NULL;
            }
        }
        if (keys != small) free(keys);
        return o;
    }
    case 'a': {
        json_t *a = json_array();
        size_t i;
        json_t *sub;
        json_array_foreach(body, i, sub) {
            json_t *v = eval_tmpl(r, sub, scope, e);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    default: std_errf(e, "internal", "bad template"); return NULL;
    }
}

static json_t *eval_tmpl_index(vm_run *r, int t, int scope, std_err *e)
{
    if (t < 0) return json_null();
    return eval_tmpl(r, json_array_get(r->p->tmpls, (size_t)t), scope, e);
}

/* A chunk is compiled at its first evaluation in the run (the host keeps
 * what it compiled for the next runs); its source is numbered as in the file. */
static int chunk_handle(vm_run *r, int chunk, std_err *e)
{
    if (r->handles[chunk] >= 0) return r->handles[chunk];
    json_t *ch = json_array_get(r->p->chunks, (size_t)chunk);
    char name[300];
    snprintf(name, sizeof name, "=%s", r->p->file);
    r->handles[chunk] = std_lua_compile_at(r->lua, name, (int)json_integer_value(json_object_get(ch, "line")),
                                           json_string_value(json_object_get(ch, "src")),
                                           json_is_true(json_object_get(ch, "expr")), e);
    return r->handles[chunk];
}

int vm_eval_chunk(vm_run *r, int chunk, int scope, json_t **out, std_err *e)
{
    if (chunk < 0 || (size_t)chunk >= json_array_size(r->p->chunks))
        return std_errf(e, "internal", "bad chunk %d", chunk);
    json_t *ch = json_array_get(r->p->chunks, (size_t)chunk);
    if (chunk_handle(r, chunk, e) < 0 || std_lua_call_in(r->lua, r->handles[chunk], scope, out, e) != 0) {
        /* name the YAML position of the failing expression */
        if (!e->line) {
            e->line = (int)json_integer_value(json_object_get(ch, "line"));
            e->col = (int)json_integer_value(json_object_get(ch, "col"));
        }
        return -1;
    }
    return 0;
}

/* ---- small helpers ----------------------------------------------------- */

static json_t *block_of(const vm_run *r, int b) { return vm_block(r->p, b); }

static json_int_t bint(json_t *b, const char *k) { return json_integer_value(json_object_get(b, k)); }

static json_t *error_obj(const std_err *e, const vm_program *p)
{
    json_t *err = json_pack("{s:s, s:s}", "type", e->type[0] ? e->type : "internal", "message",
                            e->msg);
    if (e->line) {
        char where[300];
        snprintf(where, sizeof where, "%s:%d", p->file, e->line);
        json_object_set_new(err, "where", json_string(where));
    }
    return err;
}

static json_t *simple_error(const char *type, const char *msg)
{
    return json_pack("{s:s, s:s}", "type", type, "message", msg);
}

static void push_cmd(vm_run *r, vm_cmd c)
{
    if (r->ncmds == r->capcmds) {
        r->capcmds = r->capcmds ? r->capcmds * 2 : 4;
        r->cmds = realloc(r->cmds, r->capcmds * sizeof *r->cmds);
        if (!r->cmds) abort();
    }
    r->cmds[r->ncmds++] = c;
}

static void push_cancel(vm_run *r, int64_t seq)
{
    if (r->ncancels == r->capcancels) {
        r->capcancels = r->capcancels ? r->capcancels * 2 : 4;
        r->cancels = realloc(r->cancels, r->capcancels * sizeof *r->cancels);
        if (!r->cancels) abort();
    }
    r->cancels[r->ncancels++] = seq;
}

static frame *push_frame(fiber *f, frame_kind k, int block)
{
    if (f->nfr == f->capfr) {
        f->capfr = f->capfr ? f->capfr * 2 : 4;
        f->fr = realloc(f->fr, f->capfr * sizeof *f->fr);
        if (!f->fr) abort();
    }
    frame *fr = &f->fr[f->nfr++];
    *fr = (frame){.kind = k, .block = block, .saga = -1, .prev_scope = f->scope,
                  .prev_steps = f->steps_scope};
    return fr;
}

static frame *top_frame(fiber *f) { return f->nfr ? &f->fr[f->nfr - 1] : NULL; }

static void finish(vm_run *r, vm_state st, json_t *value)
{
    if (r->state != VM_RUNNING) {
        json_decref(value);
        return;
    }
    r->state = st;
    if (st == VM_DONE) r->output = value;
    else r->error = value;
}

/* Publish a step's output under its id where this fiber's steps live. */
static void publish(vm_run *r, fiber *f, int step, json_t *out)
{
    const char *id = vm_step_id(r->p, step);
    if (!id) return;
    if (json_is_null(out)) out = NULL; /* nil, so that `steps.x or default` works */
    if (f->steps_scope > 0) std_lua_scope_set_field(r->lua, f->steps_scope, "steps", id, out);
    else std_lua_set_field(r->lua, "steps", id, out);
}

/* ---- fibers ------------------------------------------------------------ */

/* Make f runnable; vm_run_advance starts its passes at the lowest index
 * that may be ready. */
static void set_ready(vm_run *r, fiber *f)
{
    f->state = F_READY;
    size_t i = (size_t)(f - r->fibers);
    if (i < r->ready_lo) r->ready_lo = i;
}

static int new_fiber(vm_run *r, int parent, int pc)
{
    int i;
    if (r->nfree) {
        i = r->free_fibers[--r->nfree];
    } else {
        if (r->nfibers == r->capfibers) {
            r->capfibers = r->capfibers ? r->capfibers * 2 : 8;
            r->fibers = realloc(r->fibers, r->capfibers * sizeof *r->fibers);
            if (!r->fibers) abort();
        }
        i = (int)r->nfibers++;
    }
    fiber *f = &r->fibers[i];
    *f = (fiber){.state = F_READY, .parent = parent, .pc = pc, .last = json_null(), .saga = -1};
    if ((size_t)i < r->ready_lo) r->ready_lo = (size_t)i;
    if (parent >= 0) {
        fiber *p = &r->fibers[parent];
        f->scope = p->scope;
        f->steps_scope = p->steps_scope;
        f->saga = p->saga;
    }
    return i;
}

static void free_frames(vm_run *r, fiber *f)
{
    while (f->nfr) {
        frame *fr = &f->fr[--f->nfr];
        json_decref(fr->pending);
        if (fr->scope) std_lua_scope_free(r->lua, fr->scope);
    }
    free(f->fr);
    f->fr = NULL;
    f->capfr = 0;
}

static void release_fiber(vm_run *r, int i)
{
    fiber *f = &r->fibers[i];
    free_frames(r, f);
    if (f->own_scope && f->scope) std_lua_scope_free(r->lua, f->scope);
    json_decref(f->last);
    json_decref(f->results);
    json_decref(f->kid_error);
    json_decref(f->items);
    json_decref(f->key);
    free(f->tstate);
    json_decref(f->terrors);
    *f = (fiber){.state = F_FREE, .parent = -1};
    if (r->nfree % 16 == 0) {
        r->free_fibers = realloc(r->free_fibers, (r->nfree + 16) * sizeof *r->free_fibers);
        if (!r->free_fibers) abort();
    }
    r->free_fibers[r->nfree++] = i;
}

/* Stop fiber i and everything below it; their pending commands are
 * cancelled. No handler of theirs runs. */
static void cancel_fiber(vm_run *r, int i)
{
    for (size_t k = 0; k < r->nfibers; k++)
        if (r->fibers[k].state != F_FREE && r->fibers[k].parent == i) cancel_fiber(r, (int)k);
    fiber *f = &r->fibers[i];
    if (f->state == F_WAIT_CMD) push_cancel(r, f->waiting_seq);
    if (f->parent >= 0) r->fibers[f->parent].kids--;
    release_fiber(r, i);
}

static void cancel_kids(vm_run *r, int parent)
{
    for (size_t k = 0; k < r->nfibers; k++)
        if (r->fibers[k].state != F_FREE && r->fibers[k].parent == parent) cancel_fiber(r, (int)k);
}

static void raise_in(vm_run *r, int fi, json_t *err);
static void child_failed(vm_run *r, int child, json_t *err);

/* ---- errors ------------------------------------------------------------ */

static int patterns_match(json_t *pats, const char *type)
{
    size_t i;
    json_t *p;
    json_array_foreach(pats, i, p) {
        const char *s = json_string_value(p);
        /* a cancellation is caught only when named: a catch-all must not
         * turn a cancel into a run that goes on */
        if (!strcmp(type, "cancelled") && strcmp(s, "cancelled") != 0) continue;
        if (fnmatch(s, type, 0) == 0) return 1;
        size_t n = strlen(s);
        if (!strchr(s, '*') && !strncmp(s, type, n) && type[n] == '.') return 1;
    }
    return 0;
}

/* Leave the frame on top of f, restoring the fiber's scope. */
static void pop_frame(vm_run *r, fiber *f)
{
    frame *fr = top_frame(f);
    if (fr->scope) {
        f->scope = fr->prev_scope;
        std_lua_scope_free(r->lua, fr->scope);
    }
    json_decref(fr->pending);
    f->nfr--;
}

/* Run the next registered compensation of frame fr (FR_COMP), or finish
 * compensating and go on raising the saga's error. */
static void next_compensation(vm_run *r, int fi)
{
    fiber *f = &r->fibers[fi];
    frame *fr = top_frame(f);
    saga *sg = &r->sagas[fr->saga];
    if (fr->scope) {
        std_lua_scope_free(r->lua, fr->scope);
        fr->scope = 0;
    }
    size_t n = json_array_size(sg->comps);
    if (n > 0) {
        json_t *c = json_array_get(sg->comps, n - 1);
        f->pc = (int)json_integer_value(json_array_get(c, 0));
        fr->scope = (int)json_integer_value(json_array_get(c, 1));
        f->scope = fr->scope;
        f->steps_scope = fr->scope;
        json_array_remove(sg->comps, n - 1);
        set_ready(r, f);
        return;
    }
    json_t *err = json_incref(fr->pending);
    f->scope = fr->prev_scope;
    f->steps_scope = fr->prev_steps;
    f->saga = sg->parent;
    f->nfr--;
    json_decref(fr->pending);
    json_object_set_new(err, "compensated", json_true());
    raise_in(r, fi, err);
}

/* Raise err (stolen) in fiber fi: unwind its frames to a handler, or fail
 * the fiber (and tell its parent), or the run. */
static void raise_in(vm_run *r, int fi, json_t *err)
{
    fiber *f = &r->fibers[fi];
    const char *type = json_string_value(json_object_get(err, "type"));
    if (!type) type = "error";
    while (f->nfr) {
        frame *fr = top_frame(f);
        json_t *b = block_of(r, fr->block);
        switch (fr->kind) {
        case FR_LOOP: f->nfr--; continue;
        case FR_TRY:
            if (fr->state == TRY_BODY) {
                size_t i;
                json_t *cl;
                json_array_foreach(json_object_get(b, "catches"), i, cl) {
                    if (!patterns_match(json_object_get(cl, "errors"), type)) continue;
                    fr->state = TRY_CATCH;
                    fr->scope = std_lua_scope_new(r->lua, f->scope);
                    std_lua_scope_set(r->lua, fr->scope, json_string_value(json_object_get(cl, "as")), err);
                    f->scope = fr->scope;
                    f->pc = (int)bint(cl, "addr");
                    set_ready(r, f);
                    json_decref(err);
                    return;
                }
            }
            if (fr->scope) {
                f->scope = fr->prev_scope;
                std_lua_scope_free(r->lua, fr->scope);
                fr->scope = 0;
            }
            if (fr->state != TRY_FINALLY && bint(b, "finally") >= 0) {
                fr->state = TRY_FINALLY;
                json_decref(fr->pending);
                fr->pending = err;
                f->pc = (int)bint(b, "finally");
                set_ready(r, f);
                return;
            }
            pop_frame(r, f);
            continue;
        case FR_SAGA: {
            /* compensate what completed inside, newest first, then go on */
            fr->kind = FR_COMP;
            fr->pending = err;
            set_ready(r, f);
            next_compensation(r, fi);
            return;
        }
        case FR_COMP: {
            /* a compensation failed for good: stop, visibly */
            json_t *e = json_pack("{s:s, s:s, s:O, s:O}", "type", "compensation.failed", "message",
                                  "a compensation failed; the run needs attention", "error", err,
                                  "compensating", fr->pending);
            json_decref(err);
            finish(r, VM_NEEDS_ATTENTION, e);
            return;
        }
        case FR_ONERR:
            if (fr->state == 0) {
                fr->state = 1;
                fr->pending = json_incref(err);
                fr->scope = std_lua_scope_new(r->lua, f->scope);
                std_lua_scope_set(r->lua, fr->scope, "err", err);
                f->scope = fr->scope;
                f->pc = (int)bint(b, "addr");
                set_ready(r, f);
                json_decref(err);
                return;
            }
            /* on_error itself failed: the run fails with the original error */
            json_object_set_new(fr->pending, "on_error_failed", err);
            err = json_incref(fr->pending);
            pop_frame(r, f);
            continue;
        }
    }
    if (f->parent < 0) {
        finish(r, VM_FAILED, err);
        return;
    }
    child_failed(r, fi, err);
}

/* ---- joins ------------------------------------------------------------- */

static void start_iteration(vm_run *r, int pi)
{
    fiber *p = &r->fibers[pi];
    json_t *b = block_of(r, p->join_block);
    size_t i = p->next_item++;
    int ci = new_fiber(r, pi, (int)bint(b, "body"));
    p = &r->fibers[pi]; /* new_fiber may move the array */
    fiber *c = &r->fibers[ci];
    c->scope = std_lua_scope_new(r->lua, p->scope);
    c->own_scope = 1;
    c->steps_scope = c->scope;
    std_lua_scope_set(r->lua, c->scope, json_string_value(json_object_get(b, "as")),
                      json_array_get(p->items, i));
    json_t *idx = json_integer((json_int_t)i + 1);
    std_lua_scope_set(r->lua, c->scope, "index", idx);
    json_decref(idx);
    c->key = json_integer((json_int_t)i);
    p->kids++;
}

/* Drop what a parallel, foreach or dag block kept in its parent fiber: on
 * leaving it, and on entering one (an error that cut the last one short
 * went past it to a handler, and a loop or a retry may enter it again). */
static void clear_join(fiber *f)
{
    json_decref(f->results);
    json_decref(f->items);
    json_decref(f->kid_error);
    json_decref(f->terrors);
    free(f->tstate);
    f->results = f->items = f->kid_error = f->terrors = NULL;
    f->tstate = NULL;
}

/* The parent resumes after its block with output out (stolen). */
static void join_done(vm_run *r, int pi, json_t *out)
{
    fiber *p = &r->fibers[pi];
    json_t *b = block_of(r, p->join_block);
    int step = (int)bint(b, "step");
    if (step >= 0) publish(r, p, step, out);
    json_decref(p->last);
    p->last = out;
    clear_join(p);
    p->pc = (int)bint(b, "end");
    set_ready(r, p);
}

static void dag_task_end(vm_run *r, int ci, int st, json_t *err);

static void child_done(vm_run *r, int ci)
{
    fiber *c = &r->fibers[ci];
    int pi = c->parent;
    fiber *p = &r->fibers[pi];
    json_t *b = block_of(r, p->join_block);
    const char *type = json_string_value(json_object_get(b, "type"));
    if (!strcmp(type, "dag")) {
        dag_task_end(r, ci, T_SUCCESS, NULL);
        return;
    }
    if (!strcmp(type, "par")) {
        const char *name = json_string_value(c->key);
        json_object_set(p->results, name, c->last);
        p->kids--;
        if (!strcmp(json_string_value(json_object_get(b, "mode")), "any")) {
            json_t *out = json_pack("{s:O}", name, c->last);
            release_fiber(r, ci);
            cancel_kids(r, pi);
            join_done(r, pi, out);
            return;
        }
        release_fiber(r, ci);
        if (p->kids == 0) {
            if (p->kid_error) {
                json_t *err = p->kid_error;
                p->kid_error = NULL;
                raise_in(r, pi, err);
            } else {
                join_done(r, pi, json_incref(p->results));
            }
        }
        return;
    }
    /* foreach: the iteration's result at its index */
    json_int_t res = bint(b, "result");
    json_t *v = NULL;
    if (res >= 0) {
        std_err e = {0};
        if (!(v = eval_tmpl_index(r, (int)res, c->scope, &e))) {
            json_t *err = error_obj(&e, r->p);
            release_fiber(r, ci);
            p = &r->fibers[pi];
            p->kids--;
            cancel_kids(r, pi);
            raise_in(r, pi, err);
            return;
        }
    } else {
        v = json_incref(c->last);
    }
    json_array_set_new(p->results, (size_t)json_integer_value(c->key), v);
    release_fiber(r, ci);
    p = &r->fibers[pi];
    p->kids--;
    if (p->next_item < json_array_size(p->items)) start_iteration(r, pi);
    else if (p->kids == 0) join_done(r, pi, json_incref(p->results));
}

static void child_failed(vm_run *r, int ci, json_t *err)
{
    fiber *c = &r->fibers[ci];
    int pi = c->parent;
    json_t *b = block_of(r, r->fibers[pi].join_block);
    const char *type = json_string_value(json_object_get(b, "type"));
    if (!strcmp(type, "dag")) { /* an error of type `skipped` skips the task */
        const char *et = json_string_value(json_object_get(err, "type"));
        dag_task_end(r, ci, et && !strcmp(et, "skipped") ? T_SKIPPED : T_FAILED, err);
        return;
    }
    if (!strcmp(type, "par")) {
        json_object_set_new(err, "branch", json_incref(c->key));
        release_fiber(r, ci);
        fiber *p = &r->fibers[pi];
        p->kids--;
        int any = !strcmp(json_string_value(json_object_get(b, "mode")), "any");
        if (!any && json_is_true(json_object_get(b, "fail_fast"))) {
            json_decref(p->kid_error);
            p->kid_error = NULL;
            cancel_kids(r, pi);
            raise_in(r, pi, err);
            return;
        }
        if (!p->kid_error) p->kid_error = err;
        else json_decref(err);
        if (p->kids == 0) { /* all: a branch failed; any: every branch failed */
            err = p->kid_error;
            p->kid_error = NULL;
            raise_in(r, pi, err);
        }
        return;
    }
    json_object_set_new(err, "index", json_integer(json_integer_value(c->key) + 1));
    release_fiber(r, ci);
    r->fibers[pi].kids--;
    cancel_kids(r, pi);
    raise_in(r, pi, err);
}


/* ---- dags -------------------------------------------------------------- */


/* Airflow's trigger rules (TriggerRuleDep): what a pending task with n
 * upstream tasks, of which s succeeded, f failed, uf ended upstream_failed
 * and k were skipped, does now: T_RUNNING (start it), T_UPFAILED or
 * T_SKIPPED (settle it without running), or T_PENDING (wait). A task with
 * no upstream, and an `always` task, starts at once. Every outcome is the
 * same whatever order the upstream tasks end in. */
static int trigger_decide(const char *rule, int n, int s, int f, int uf, int k)
{
    int done = s + f + uf + k == n, F = f + uf;
    if (n == 0 || !strcmp(rule, "always")) return T_RUNNING;
    /* a skip waits for the other upstream tasks: a failure among them wins
     * (Airflow's precedence), whatever order they end in */
    if (!strcmp(rule, "all_success")) return F ? T_UPFAILED : k ? (done ? T_SKIPPED : T_PENDING)
                                                           : s == n ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "all_failed")) return s || k ? T_SKIPPED : F == n ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "all_done")) return done ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "all_done_min_one_success"))
        return k ? T_SKIPPED : !done ? T_PENDING : s ? T_RUNNING : T_UPFAILED;
    if (!strcmp(rule, "all_skipped")) return s || F ? T_SKIPPED : k == n ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "one_success")) return s ? T_RUNNING : !done ? T_PENDING : k == n ? T_SKIPPED : T_UPFAILED;
    if (!strcmp(rule, "one_failed")) return F ? T_RUNNING : done ? T_SKIPPED : T_PENDING;
    if (!strcmp(rule, "one_done")) return s || f ? T_RUNNING : done ? T_SKIPPED : T_PENDING;
    if (!strcmp(rule, "none_failed")) return F ? T_UPFAILED : s + k == n ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "none_failed_min_one_success"))
        return F ? T_UPFAILED : k == n ? T_SKIPPED : s + k == n ? T_RUNNING : T_PENDING;
    if (!strcmp(rule, "none_skipped")) return k ? T_SKIPPED : done ? T_RUNNING : T_PENDING;
    return T_PENDING; /* the compiler admits no other rule */
}

static json_t *dag_task(vm_run *r, int pi, size_t i)
{
    return json_array_get(json_object_get(block_of(r, r->fibers[pi].join_block), "tasks"), i);
}

/* Every task has ended: the dag's outcome becomes a command of the dag
 * step, {states} (and the error when it failed), so that the history and
 * `wfdsl show` have every task's state, skipped ones included. The parent
 * goes on when the engine resolves it (vm_resolve/vm_reject: dag_recorded). */
static void dag_finish(vm_run *r, int pi)
{
    fiber *p = &r->fibers[pi];
    json_t *b = block_of(r, p->join_block), *tasks = json_object_get(b, "tasks");
    json_t *out = json_object(), *states = json_object();
    std_buf bad = {0};
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        int st = p->tstate[i];
        json_t *o = json_object_get(p->results, name);
        json_object_set_new(out, name, json_pack("{s:s, s:O}", "state", task_states[st], "output",
                                                 o ? o : json_null()));
        json_object_set_new(states, name, json_string(task_states[st]));
        /* Airflow: the run succeeds iff every leaf ends success or skipped */
        if (json_array_size(json_object_get(t, "down")) == 0 && (st == T_FAILED || st == T_UPFAILED))
            std_buf_addf(&bad, "%s'%s' %s", bad.len ? ", " : "", name, task_states[st]);
    }
    json_decref(p->results);
    p->results = out; /* the dag's output, once recorded */
    vm_cmd c = {.seq = r->next_seq++, .step = (int)bint(b, "step"), .scope = p->scope};
    c.args = json_pack("{s:o}", "states", states);
    if (bad.len) {
        /* name the first task that failed on its own, the usual root cause */
        const char *fname = NULL;
        for (i = 0; i < json_array_size(tasks) && !fname; i++)
            if (p->tstate[i] == T_FAILED) fname = json_string_value(json_object_get(json_array_get(tasks, i), "name"));
        json_t *first = fname ? json_object_get(p->terrors, fname) : NULL;
        char msg[1024];
        snprintf(msg, sizeof msg, "dag failed: leaf task%s %s%s%s%s%s%s%s", strchr(bad.p, ',') ? "s" : "", bad.p,
                 first ? "; task '" : "", first ? fname : "", first ? "' failed: " : "",
                 first ? json_string_value(json_object_get(first, "type")) : "", first ? ": " : "",
                 first ? json_string_value(json_object_get(first, "message")) : "");
        json_t *err = simple_error("dag.failed", msg);
        json_object_set_new(err, "details", json_pack("{s:O, s:o, s:O}", "states", json_object_get(c.args, "states"),
                                                      "errors", p->terrors ? p->terrors : json_object(),
                                                      "tasks", out));
        p->terrors = NULL;
        json_object_set_new(c.args, "error", err);
    }
    std_buf_free(&bad);
    p->state = F_WAIT_CMD;
    p->waiting_seq = c.seq;
    p->waiting_step = c.step;
    push_cmd(r, c);
}

/* The dag's outcome is recorded: the parent leaves the block with its
 * output, or (err non-NULL, stolen) raises the dag's error. */
static void dag_recorded(vm_run *r, int pi, json_t *err)
{
    fiber *p = &r->fibers[pi];
    json_t *out = p->results;
    p->results = NULL;
    json_decref(p->terrors);
    p->terrors = NULL;
    free(p->tstate);
    p->tstate = NULL;
    set_ready(r, p);
    if (err) {
        json_decref(out);
        raise_in(r, pi, err);
    } else {
        join_done(r, pi, out);
    }
}

/* Settle and start what the trigger rules allow, until nothing changes;
 * finish the dag when every task is done. */
static void dag_settle(vm_run *r, int pi)
{
    json_t *tasks = json_object_get(block_of(r, r->fibers[pi].join_block), "tasks");
    size_t n = json_array_size(tasks);
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (r->fibers[pi].tstate[i] != T_PENDING) continue;
            json_t *t = json_array_get(tasks, i), *needs = json_object_get(t, "needs");
            int cnt[6] = {0};
            size_t j;
            json_t *u;
            json_array_foreach(needs, j, u) cnt[r->fibers[pi].tstate[json_integer_value(u)]]++;
            int d = trigger_decide(json_string_value(json_object_get(t, "trigger")), (int)json_array_size(needs),
                                   cnt[T_SUCCESS], cnt[T_FAILED], cnt[T_UPFAILED], cnt[T_SKIPPED]);
            if (d == T_PENDING) continue;
            r->fibers[pi].tstate[i] = d;
            if (d != T_RUNNING) {
                changed = 1;
                continue;
            }
            int ci = new_fiber(r, pi, (int)bint(t, "addr"));
            r->fibers[ci].key = json_integer((json_int_t)i);
            r->fibers[pi].kids++;
        }
    }
    fiber *p = &r->fibers[pi];
    for (size_t i = 0; i < n; i++)
        if (p->tstate[i] == T_PENDING || p->tstate[i] == T_RUNNING) {
            if (p->kids == 0) { /* cannot happen in an acyclic dag */
                raise_in(r, pi, simple_error("internal", "dag: tasks wait for nothing that runs"));
            }
            return;
        }
    dag_finish(r, pi);
}

/* Skip the pending tasks downstream of task i: its direct downstream tasks
 * except those named in keep (an array of names, or NULL), and with all
 * set, everything after them too. */
static void dag_skip_down(vm_run *r, int pi, size_t i, json_t *keep, int all)
{
    size_t j;
    json_t *d;
    json_array_foreach(json_object_get(dag_task(r, pi, i), "down"), j, d) {
        size_t di = (size_t)json_integer_value(d);
        const char *name = json_string_value(json_object_get(dag_task(r, pi, di), "name"));
        int kept = 0;
        size_t k;
        json_t *x;
        json_array_foreach(keep, k, x) kept |= json_is_string(x) && !strcmp(json_string_value(x), name);
        if (kept || r->fibers[pi].tstate[di] != T_PENDING) continue;
        r->fibers[pi].tstate[di] = T_SKIPPED;
        if (all) dag_skip_down(r, pi, di, NULL, 1);
    }
}

/* Task fiber ci ended in state st (T_SUCCESS with its output in c->last,
 * T_FAILED with err, or T_SKIPPED); err is stolen. */
static void dag_task_end(vm_run *r, int ci, int st, json_t *err)
{
    fiber *c = &r->fibers[ci];
    int pi = c->parent;
    size_t i = (size_t)json_integer_value(c->key);
    json_t *t = dag_task(r, pi, i), *out = json_incref(c->last);
    const char *name = json_string_value(json_object_get(t, "name"));
    release_fiber(r, ci);
    fiber *p = &r->fibers[pi];
    p->kids--;
    if (st == T_SUCCESS && json_is_true(json_object_get(t, "branch"))) {
        /* the output names the direct downstream tasks to follow */
        json_t *keep = json_is_string(out) ? json_pack("[O]", out) : json_is_null(out) ? json_array()
                                                                                  : json_incref(out);
        size_t k;
        json_t *x;
        std_buf bad = {0};
        json_array_foreach(keep, k, x) {
            int ok = 0;
            size_t j;
            json_t *d;
            json_array_foreach(json_object_get(t, "down"), j, d)
                ok |= json_is_string(x) && !strcmp(json_string_value(x), json_string_value(json_object_get(
                                                                              dag_task(r, pi, (size_t)json_integer_value(d)), "name")));
            if (!ok) std_buf_addf(&bad, "%s%s", bad.len ? ", " : "", json_is_string(x) ? json_string_value(x) : "(not a name)");
        }
        if (!json_is_array(keep) || bad.len) {
            char msg[512];
            snprintf(msg, sizeof msg, "branch task '%s' must return names of the tasks that need it%s%s",
                     name, bad.len ? "; not among them: " : "", bad.len ? bad.p : "");
            st = T_FAILED;
            err = simple_error("dag.branch", msg);
        } else {
            dag_skip_down(r, pi, i, keep, 0);
        }
        std_buf_free(&bad);
        json_decref(keep);
    }
    const char *sc = json_string_value(json_object_get(t, "sc"));
    if (st == T_SUCCESS && sc && *sc) {
        int falsy = json_is_null(out) || json_is_false(out) || (json_is_integer(out) && !json_integer_value(out)) ||
                    (json_is_real(out) && json_real_value(out) == 0) ||
                    (json_is_string(out) && !json_string_length(out)) ||
                    (json_is_array(out) && !json_array_size(out)) || (json_is_object(out) && !json_object_size(out));
        if (falsy) dag_skip_down(r, pi, i, NULL, !strcmp(sc, "downstream"));
    }
    p = &r->fibers[pi];
    p->tstate[i] = st;
    if (st == T_SUCCESS) json_object_set(p->results, name, out);
    if (st == T_FAILED) {
        if (!p->terrors) p->terrors = json_object();
        json_object_set_new(p->terrors, name, err);
    } else {
        json_decref(err);
    }
    json_decref(out);
    dag_settle(r, pi);
}

/* ---- runs -------------------------------------------------------------- */

vm_run *vm_run_new(const vm_program *p, json_t *globals, std_lua_host *host, std_err *e)
{
    vm_run *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->p = p;
    r->lua = host ? std_lua_open(host) : std_lua_new(NULL);
    if (!r->lua) {
        free(r);
        std_errf(e, "lua.limit", "out of memory creating the Lua sandbox");
        return NULL;
    }
    /* programs from the ASL front end (meta "lib": "asl") get the `asl` runtime */
    const char *lib = json_string_value(json_object_get(p->meta, "lib"));
    if (lib && !strcmp(lib, "asl") && std_lua_load_lib(r->lua, "asl", std_asl_lua_src, e) != 0) {
        vm_run_free(r);
        return NULL;
    }
    r->next_seq = 1;
    size_t nch = json_array_size(p->chunks);
    r->handles = malloc((nch ? nch : 1) * sizeof *r->handles);
    if (!r->handles) abort();
    for (size_t i = 0; i < nch; i++) r->handles[i] = -1;
    const char *name;
    json_t *value;
    json_object_foreach(globals, name, value) std_lua_set_global(r->lua, name, value);
    json_t *empty = json_object();
    std_lua_set_global(r->lua, "steps", empty);
    json_decref(empty);
    new_fiber(r, -1, 0);
    r->state = VM_RUNNING;
    return r;
}

void vm_cmd_free(vm_cmd *c)
{
    json_decref(c->args);
    c->args = NULL;
}

void vm_run_free(vm_run *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->ncmds; i++) vm_cmd_free(&r->cmds[i]);
    free(r->cmds);
    free(r->cancels);
    for (size_t i = 0; i < r->nfibers; i++)
        if (r->fibers[i].state != F_FREE) release_fiber(r, (int)i);
    free(r->fibers);
    free(r->free_fibers);
    for (size_t i = 0; i < r->nsagas; i++) json_decref(r->sagas[i].comps);
    free(r->sagas);
    free(r->handles);
    json_decref(r->output);
    json_decref(r->error);
    std_lua_free(r->lua);
    free(r);
}

size_t vm_take_cmds(vm_run *r, vm_cmd **cmds)
{
    *cmds = r->cmds;
    size_t n = r->ncmds;
    r->cmds = NULL;
    r->ncmds = r->capcmds = 0;
    return n;
}

size_t vm_take_cancels(vm_run *r, int64_t **seqs)
{
    *seqs = r->cancels;
    size_t n = r->ncancels;
    r->cancels = NULL;
    r->ncancels = r->capcancels = 0;
    return n;
}

size_t vm_cancels_pending(const vm_run *r) { return r->ncancels; }

static int eval_cond(vm_run *r, int fi, int chunk, int *truthy)
{
    std_err e = {0};
    json_t *v = NULL;
    if (vm_eval_chunk(r, chunk, r->fibers[fi].scope, &v, &e) != 0) {
        raise_in(r, fi, error_obj(&e, r->p));
        return -1;
    }
    *truthy = !(json_is_null(v) || json_is_false(v));
    json_decref(v);
    return 0;
}

/* Execute one instruction of fiber fi. */
static void step_fiber(vm_run *r, int fi)
{
    const vm_program *p = r->p;
    fiber *f = &r->fibers[fi];
    if (f->pc < 0 || (size_t)f->pc >= p->ncode) {
        std_err e;
        std_errf(&e, "internal", "pc %d out of the program", f->pc);
        finish(r, VM_FAILED, error_obj(&e, p));
        return;
    }
    const vm_ins *in = &p->code[f->pc];
    r->ninstr++;
    json_t *b = (vm_ops[in->op].operands[0] == 'b') ? block_of(r, in->a) : NULL;
    switch ((vm_op)in->op) {
    case VM_NOP: f->pc++; break;
    case VM_JMP: f->pc = in->a; break;
    case VM_JMPF: {
        int t = 0;
        if (eval_cond(r, fi, in->a, &t) == 0) r->fibers[fi].pc = t ? f->pc + 1 : in->b;
        break;
    }
    case VM_CLEAR:
        json_decref(f->last);
        f->last = json_null();
        f->pc++;
        break;
    case VM_SETOUT: publish(r, f, in->a, f->last); f->pc++; break;
    case VM_STEP: {
        vm_cmd c = {.seq = r->next_seq++, .step = in->a, .scope = f->scope};
        json_t *step = json_array_get(p->steps, (size_t)in->a);
        int t = (int)json_integer_value(json_object_get(step, "args"));
        json_t *ms = json_object_get(step, "ms");
        c.args = ms ? json_pack("{s:O}", "ms", ms) : eval_tmpl_index(r, t, f->scope, &c.eval_error);
        if (!c.args && !c.eval_error.type[0]) strcpy(c.eval_error.type, "lua");
        f->state = F_WAIT_CMD;
        f->waiting_seq = c.seq;
        f->waiting_step = in->a;
        push_cmd(r, c);
        break;
    }
    case VM_FINISH:
        finish(r, VM_DONE, json_incref(f->last));
        break;
    case VM_END: {
        std_err e = {0};
        json_t *out = eval_tmpl_index(r, in->a, f->scope, &e);
        if (!out) raise_in(r, fi, error_obj(&e, p));
        else finish(r, VM_DONE, out);
        break;
    }
    case VM_PAR: {
        clear_join(f);
        f->join_block = in->a;
        f->results = json_object();
        f->kids = 0;
        f->state = F_WAIT_KIDS;
        size_t i;
        json_t *br;
        json_array_foreach(json_object_get(b, "branches"), i, br) {
            int ci = new_fiber(r, fi, (int)json_integer_value(json_array_get(br, 1)));
            r->fibers[ci].key = json_incref(json_array_get(br, 0));
            r->fibers[fi].kids++;
        }
        break;
    }
    case VM_EACH: {
        std_err e = {0};
        json_t *items = NULL;
        if (vm_eval_chunk(r, (int)bint(b, "items"), f->scope, &items, &e) != 0) {
            raise_in(r, fi, error_obj(&e, p));
            break;
        }
        if (json_is_object(items) && json_object_size(items) == 0) {
            json_decref(items);
            items = json_array();
        }
        if (!json_is_array(items)) {
            json_decref(items);
            raise_in(r, fi, simple_error("lua", "foreach 'items' must be a list"));
            break;
        }
        clear_join(f);
        f->join_block = in->a;
        f->items = items;
        f->next_item = 0;
        f->kids = 0;
        f->results = json_array();
        for (size_t i = 0; i < json_array_size(items); i++) json_array_append_new(f->results, json_null());
        if (json_array_size(items) == 0) {
            join_done(r, fi, json_array());
            break;
        }
        f->state = F_WAIT_KIDS;
        json_int_t conc = bint(b, "concurrency");
        while (r->fibers[fi].kids < conc && r->fibers[fi].next_item < json_array_size(items))
            start_iteration(r, fi);
        break;
    }
    case VM_FEND:
        f->state = F_DONE;
        child_done(r, fi);
        break;
    case VM_DAG: {
        size_t n = json_array_size(json_object_get(b, "tasks"));
        clear_join(f);
        f->join_block = in->a;
        f->results = json_object();
        f->kids = 0;
        f->tstate = calloc(n ? n : 1, sizeof *f->tstate); /* T_PENDING */
        if (!f->tstate) abort();
        f->state = F_WAIT_KIDS;
        dag_settle(r, fi);
        break;
    }
    case VM_TSKIP:
        f->state = F_DONE;
        dag_task_end(r, fi, T_SKIPPED, NULL);
        break;
    case VM_LOOP: {
        frame *fr = push_frame(f, FR_LOOP, in->a);
        fr->iter = 1;
        f->pc++;
        break;
    }
    case VM_NEXT: {
        frame *fr = top_frame(f);
        json_int_t until = bint(b, "until"), max = bint(b, "max");
        int done = 0;
        if (until >= 0 && eval_cond(r, fi, (int)until, &done) != 0) break;
        f = &r->fibers[fi];
        fr = top_frame(f);
        if (done) {
            f->nfr--;
            f->pc = in->b;
        } else if (max > 0 && fr->iter >= max) {
            f->nfr--;
            if (until >= 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "'until' still false after %lld iterations", (long long)max);
                raise_in(r, fi, simple_error("loop.exhausted", msg));
            } else {
                f->pc = in->b;
            }
        } else {
            fr->iter++;
            f->pc++;
        }
        break;
    }
    case VM_TRY: push_frame(f, FR_TRY, in->a)->state = TRY_BODY; f->pc++; break;
    case VM_TRYEND: {
        frame *fr = top_frame(f);
        if (fr->scope) {
            f->scope = fr->prev_scope;
            std_lua_scope_free(r->lua, fr->scope);
            fr->scope = 0;
        }
        if (bint(b, "finally") >= 0) {
            fr->state = TRY_FINALLY;
            f->pc = (int)bint(b, "finally");
        } else {
            pop_frame(r, f);
            f->pc = (int)bint(b, "end");
        }
        break;
    }
    case VM_FINEND: {
        frame *fr = top_frame(f);
        json_t *err = fr->pending;
        fr->pending = NULL;
        pop_frame(r, f);
        f->pc = (int)bint(b, "end");
        if (err) raise_in(r, fi, err);
        break;
    }
    case VM_SAGA: {
        r->sagas = realloc(r->sagas, (r->nsagas + 1) * sizeof *r->sagas);
        if (!r->sagas) abort();
        r->sagas[r->nsagas] = (saga){.parent = f->saga, .comps = json_array()};
        frame *fr = push_frame(f, FR_SAGA, in->a);
        fr->saga = (int)r->nsagas;
        f->saga = (int)r->nsagas++;
        f->pc++;
        break;
    }
    case VM_SAGAEND: {
        frame *fr = top_frame(f);
        saga *sg = &r->sagas[fr->saga];
        if (sg->parent >= 0) { /* an enclosing saga still undoes them if it fails */
            json_array_extend(r->sagas[sg->parent].comps, sg->comps);
        } else {
            size_t i;
            json_t *c;
            json_array_foreach(sg->comps, i, c)
                std_lua_scope_free(r->lua, (int)json_integer_value(json_array_get(c, 1)));
        }
        json_array_clear(sg->comps);
        f->saga = sg->parent;
        f->nfr--;
        f->pc++;
        break;
    }
    case VM_COMPEND: next_compensation(r, fi); break;
    case VM_ONERR: push_frame(f, FR_ONERR, in->a); f->pc++; break;
    case VM_ONEREND: {
        frame *fr = top_frame(f);
        json_t *err = json_incref(fr->pending);
        pop_frame(r, f);
        finish(r, VM_FAILED, err);
        break;
    }
    default: {
        std_err e;
        std_errf(&e, "internal", "unknown opcode %d", in->op);
        finish(r, VM_FAILED, error_obj(&e, p));
        break;
    }
    }
}

/* The initial values of `vars`, evaluated at the first advance rather than in
 * vm_run_new, so that now(), uuid() and random() in them are recorded like
 * any other (the caller has set the effects by then). A failure fails the
 * run before its first step. */
static void init_vars(vm_run *r)
{
    r->vars_ready = 1;
    std_err e = {0};
    json_t *vars = eval_tmpl_index(r, r->p->vars_tmpl, 0, &e);
    if (!vars) {
        finish(r, VM_FAILED, error_obj(&e, r->p));
        return;
    }
    if (json_is_null(vars)) {
        json_decref(vars);
        vars = json_object();
    }
    std_lua_set_global(r->lua, "vars", vars);
    json_decref(vars);
}

int vm_run_advance(vm_run *r, std_err *e)
{
    if (!r->vars_ready && r->state == VM_RUNNING) init_vars(r);
    /* passes over the fibers in index order until none is ready; a pass
     * starts at the lowest index that may be ready (the order is the same as
     * from 0: below it no fiber is ready), so a turn that wakes one fiber of
     * thousands does not scan them all */
    int progress = 1;
    while (progress && r->state == VM_RUNNING) {
        progress = 0;
        size_t start = r->ready_lo;
        r->ready_lo = SIZE_MAX;
        for (size_t i = start; i < r->nfibers && r->state == VM_RUNNING; i++)
            while (r->state == VM_RUNNING && r->fibers[i].state == F_READY) {
                step_fiber(r, (int)i);
                progress = 1;
            }
    }
    return 0;
}

static int waiting_on(vm_run *r, int64_t seq)
{
    for (size_t i = 0; i < r->nfibers; i++)
        if (r->fibers[i].state == F_WAIT_CMD && r->fibers[i].waiting_seq == seq) return (int)i;
    return -1;
}

/* Does f wait for the command of its dag's outcome (dag_finish)? A fiber
 * whose dag was cut short by a cancel keeps its dag state until it enters
 * a block again, so the step must be the dag's own. */
static int is_dag_outcome(vm_run *r, const fiber *f)
{
    return f->tstate && f->waiting_step == (int)bint(block_of(r, f->join_block), "step");
}

int vm_resolve(vm_run *r, int64_t seq, json_t *output)
{
    int fi = waiting_on(r, seq);
    if (fi < 0) return -1;
    fiber *f = &r->fibers[fi];
    if (is_dag_outcome(r, f)) {
        dag_recorded(r, fi, NULL);
        return 0;
    }
    const vm_program *p = r->p;
    int step = f->waiting_step;
    json_t *st = json_array_get(p->steps, (size_t)step);
    if (!strcmp(vm_step_kind(p, step), "set") && json_is_object(output)) {
        const char *k;
        json_t *v;
        json_object_foreach(output, k, v) std_lua_set_field(r->lua, "vars", k, v);
    }
    publish(r, f, step, output);
    json_t *comp = json_object_get(st, "comp");
    if (comp && f->saga >= 0) { /* register the undo, with this fiber's names */
        int sc = std_lua_scope_new(r->lua, f->scope);
        json_array_append_new(r->sagas[f->saga].comps, json_pack("[O, i, i]", comp, sc, step));
    }
    json_decref(f->last);
    f->last = json_incref(output);
    set_ready(r, f);
    f->pc++;
    return 0;
}

int vm_reject(vm_run *r, int64_t seq, json_t *error)
{
    int fi = waiting_on(r, seq);
    if (fi < 0) return -1;
    if (is_dag_outcome(r, &r->fibers[fi])) {
        dag_recorded(r, fi, json_deep_copy(error));
        return 0;
    }
    set_ready(r, &r->fibers[fi]);
    raise_in(r, fi, json_deep_copy(error));
    return 0;
}

void vm_cancel(vm_run *r, const char *reason)
{
    if (r->state != VM_RUNNING) return;
    for (size_t i = 0; i < r->fibers[0].nfr; i++) /* compensating already: let it finish */
        if (r->fibers[0].fr[i].kind == FR_COMP) return;
    cancel_kids(r, 0);
    fiber *f = &r->fibers[0];
    if (f->state == F_WAIT_CMD) push_cancel(r, f->waiting_seq);
    f->kids = 0;
    set_ready(r, f);
    raise_in(r, 0, simple_error("cancelled", reason && *reason ? reason : "the run was cancelled"));
}

vm_state vm_run_state(const vm_run *r) { return r->state; }
json_t *vm_run_output(const vm_run *r) { return r->output; }
json_t *vm_run_error(const vm_run *r) { return r->error; }
uint64_t vm_run_instructions(const vm_run *r) { return r->ninstr; }

void vm_run_set_effects(vm_run *r, std_lua_effect_fn fn, void *ud) { std_lua_set_effects(r->lua, fn, ud); }
int64_t vm_next_seq(const vm_run *r) { return r->next_seq; }
