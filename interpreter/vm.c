/* vm.c — fibers over the program's instructions, templates evaluated in the
 * run's Lua sandbox, commands issued with deterministic sequence numbers.
 * See vm.h for the contract. It does not execute effects, touch the store
 * or read the clock: everything from outside arrives through vm_resolve and
 * vm_reject. */
#include "vm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum fiber_state { FIBER_READY, FIBER_WAITING, FIBER_DONE } fiber_state;

typedef struct fiber {
    int pc;
    fiber_state state;
    int64_t waiting_seq;
    int waiting_step;
    json_t *last; /* output of the last step this fiber ran (owned) */
} fiber;

struct vm_run {
    const vm_program *p;
    std_lua *lua;
    int *handles; /* chunk index -> sandbox handle */
    fiber *fibers;
    size_t nfibers;
    int64_t next_seq;
    vm_cmd *cmds;
    size_t ncmds, capcmds;
    vm_state state;
    json_t *output, *error;
    uint64_t ninstr;
};

/* ---- templates --------------------------------------------------------- */

static json_t *eval_tmpl(vm_run *r, json_t *t, std_err *e);

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

static json_t *eval_tmpl(vm_run *r, json_t *t, std_err *e)
{
    const char *tag = json_string_value(json_array_get(t, 0));
    json_t *body = json_array_get(t, 1);
    switch (tag ? tag[0] : 0) {
    case 'c': return json_incref(body);
    case 'e': {
        json_t *v = NULL;
        if (vm_eval_chunk(r, (int)json_integer_value(body), &v, e) != 0) return NULL;
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
            if (vm_eval_chunk(r, (int)json_integer_value(part), &v, e) != 0 ||
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
        json_t *o = json_object();
        const char *k;
        json_t *sub;
        json_object_foreach(body, k, sub) {
            json_t *v = eval_tmpl(r, sub, e);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, k, v);
        }
        return o;
    }
    case 'a': {
        json_t *a = json_array();
        size_t i;
        json_t *sub;
        json_array_foreach(body, i, sub) {
            json_t *v = eval_tmpl(r, sub, e);
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

static json_t *eval_tmpl_index(vm_run *r, int t, std_err *e)
{
    if (t < 0) return json_null();
    return eval_tmpl(r, json_array_get(r->p->tmpls, (size_t)t), e);
}

int vm_eval_chunk(vm_run *r, int chunk, json_t **out, std_err *e)
{
    json_t *ch = json_array_get(r->p->chunks, (size_t)chunk);
    if (std_lua_call(r->lua, r->handles[chunk], out, e) != 0) {
        /* name the YAML position of the failing expression */
        if (!e->line) {
            e->line = (int)json_integer_value(json_object_get(ch, "line"));
            e->col = (int)json_integer_value(json_object_get(ch, "col"));
        }
        return -1;
    }
    return 0;
}

/* ---- runs -------------------------------------------------------------- */

vm_run *vm_run_new(const vm_program *p, json_t *globals, std_err *e)
{
    vm_run *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->p = p;
    r->lua = std_lua_new(NULL);
    r->next_seq = 1;
    size_t nch = json_array_size(p->chunks);
    r->handles = calloc(nch ? nch : 1, sizeof *r->handles);
    for (size_t i = 0; i < nch; i++) {
        json_t *ch = json_array_get(p->chunks, i);
        const char *src = json_string_value(json_object_get(ch, "src"));
        int line = (int)json_integer_value(json_object_get(ch, "line"));
        /* pad with newlines so that Lua's line numbers are the file's */
        std_buf b = {0};
        for (int k = 1; k < line && k < 100000; k++) std_buf_add(&b, "\n", 1);
        std_buf_adds(&b, src ? src : "");
        char name[300];
        snprintf(name, sizeof name, "=%s", p->file);
        r->handles[i] = std_lua_compile(r->lua, name, b.p, json_is_true(json_object_get(ch, "expr")), e);
        std_buf_free(&b);
        if (r->handles[i] < 0) {
            vm_run_free(r);
            return NULL;
        }
    }
    const char *name;
    json_t *value;
    json_object_foreach(globals, name, value) std_lua_set_global(r->lua, name, value);
    json_t *empty = json_object();
    std_lua_set_global(r->lua, "steps", empty);
    json_decref(empty);
    json_t *vars = eval_tmpl_index(r, p->vars_tmpl, e);
    if (!vars) {
        vm_run_free(r);
        return NULL;
    }
    if (json_is_null(vars)) {
        json_decref(vars);
        vars = json_object();
    }
    std_lua_set_global(r->lua, "vars", vars);
    json_decref(vars);
    r->fibers = calloc(1, sizeof *r->fibers);
    r->nfibers = 1;
    r->fibers[0] = (fiber){.pc = 0, .state = FIBER_READY, .last = json_null()};
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
    for (size_t i = 0; i < r->nfibers; i++) json_decref(r->fibers[i].last);
    free(r->fibers);
    free(r->handles);
    json_decref(r->output);
    json_decref(r->error);
    std_lua_free(r->lua);
    free(r);
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

size_t vm_take_cmds(vm_run *r, vm_cmd **cmds)
{
    *cmds = r->cmds;
    size_t n = r->ncmds;
    r->cmds = NULL;
    r->ncmds = r->capcmds = 0;
    return n;
}

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

static void finish(vm_run *r, vm_state st, json_t *value)
{
    r->state = st;
    if (st == VM_DONE) r->output = value;
    else r->error = value;
    for (size_t i = 0; i < r->nfibers; i++) r->fibers[i].state = FIBER_DONE;
}

/* Run fiber f until it blocks or ends. */
static void run_fiber(vm_run *r, fiber *f)
{
    const vm_program *p = r->p;
    while (f->state == FIBER_READY && r->state == VM_RUNNING) {
        if (f->pc < 0 || (size_t)f->pc >= p->ncode) {
            std_err e;
            std_errf(&e, "internal", "pc %d out of the program", f->pc);
            finish(r, VM_FAILED, error_obj(&e, p));
            return;
        }
        const vm_ins *in = &p->code[f->pc];
        r->ninstr++;
        switch ((vm_op)in->op) {
        case VM_NOP: f->pc++; break;
        case VM_JMP: f->pc = in->a; break;
        case VM_JMPF: {
            std_err e = {0};
            json_t *v = NULL;
            if (vm_eval_chunk(r, in->a, &v, &e) != 0) {
                finish(r, VM_FAILED, error_obj(&e, p));
                return;
            }
            int truthy = !(json_is_null(v) || json_is_false(v));
            json_decref(v);
            f->pc = truthy ? f->pc + 1 : in->b;
            break;
        }
        case VM_CLEAR:
            json_decref(f->last);
            f->last = json_null();
            f->pc++;
            break;
        case VM_SETOUT: {
            const char *id = vm_step_id(p, in->a);
            if (id) std_lua_set_field(r->lua, "steps", id, f->last);
            f->pc++;
            break;
        }
        case VM_STEP: {
            vm_cmd c = {.seq = r->next_seq++, .step = in->a};
            json_t *step = json_array_get(p->steps, (size_t)in->a);
            int t = (int)json_integer_value(json_object_get(step, "args"));
            c.args = eval_tmpl_index(r, t, &c.eval_error);
            if (!c.args && !c.eval_error.type[0]) strcpy(c.eval_error.type, "lua");
            f->state = FIBER_WAITING;
            f->waiting_seq = c.seq;
            f->waiting_step = in->a;
            push_cmd(r, c);
            return;
        }
        case VM_FINISH:
            finish(r, VM_DONE, in->a < 0 ? json_incref(f->last) : eval_tmpl_index(r, in->a, NULL));
            return;
        case VM_END: {
            std_err e = {0};
            json_t *out = eval_tmpl_index(r, in->a, &e);
            if (!out) finish(r, VM_FAILED, error_obj(&e, p));
            else finish(r, VM_DONE, out);
            return;
        }
        default: {
            std_err e;
            std_errf(&e, "internal", "unknown opcode %d", in->op);
            finish(r, VM_FAILED, error_obj(&e, p));
            return;
        }
        }
    }
}

int vm_run_advance(vm_run *r, std_err *e)
{
    int progress = 1;
    while (progress && r->state == VM_RUNNING) {
        progress = 0;
        for (size_t i = 0; i < r->nfibers && r->state == VM_RUNNING; i++)
            if (r->fibers[i].state == FIBER_READY) {
                run_fiber(r, &r->fibers[i]);
                progress = 1;
            }
    }
    return 0;
}

static fiber *waiting_on(vm_run *r, int64_t seq)
{
    for (size_t i = 0; i < r->nfibers; i++)
        if (r->fibers[i].state == FIBER_WAITING && r->fibers[i].waiting_seq == seq)
            return &r->fibers[i];
    return NULL;
}

int vm_resolve(vm_run *r, int64_t seq, json_t *output)
{
    fiber *f = waiting_on(r, seq);
    if (!f) return -1;
    const vm_program *p = r->p;
    int step = f->waiting_step;
    const char *kind = vm_step_kind(p, step);
    if (strcmp(kind, "set") == 0 && json_is_object(output)) {
        const char *k;
        json_t *v;
        json_object_foreach(output, k, v) std_lua_set_field(r->lua, "vars", k, v);
    }
    const char *id = vm_step_id(p, step);
    if (id) std_lua_set_field(r->lua, "steps", id, output);
    json_decref(f->last);
    f->last = json_incref(output);
    f->state = FIBER_READY;
    f->pc++;
    return 0;
}

int vm_reject(vm_run *r, int64_t seq, json_t *error)
{
    fiber *f = waiting_on(r, seq);
    if (!f) return -1;
    finish(r, VM_FAILED, json_incref(error));
    return 0;
}

vm_state vm_run_state(const vm_run *r) { return r->state; }
json_t *vm_run_output(const vm_run *r) { return r->output; }
json_t *vm_run_error(const vm_run *r) { return r->error; }
uint64_t vm_run_instructions(const vm_run *r) { return r->ninstr; }
