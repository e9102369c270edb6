/* engine.c — drives runs: replay from the history, live execution of
 * steps, group commit of events, effects on the event loop, timers and
 * signals, leases, cancellation, parking for the worker.
 *
 * History of a run (event types and payloads):
 *   run_started      {workflow, run_id, program, input, scheduled_at?}
 *   step_scheduled   {seq, step, kind, args}        args with secrets redacted
 *   step_started     {seq, attempt, fire_at?}       fire_at: end of a sleep/wait
 *   step_completed   {seq, attempt, output, duration_ms}
 *   step_failed      {seq, attempt, error, duration_ms, final, retry_at?}
 *   step_cancelled   {seq}                          the VM gave the step up
 *   side_effect      {key, kind, value}             now(), uuid(), random()
 *   cancel_requested {reason}                       delivered like an outcome
 *   run_completed {output} | run_failed {error, status} | run_terminated {error}
 * `seq` is the VM's command number; the event's own number (1, 2, 3 ...
 * without gaps) is the store's. Outcomes (completed, failed with final:
 * true, cancel_requested) are fed back to the VM in recorded order; a
 * non-final failure's retry_at and a sleep's fire_at make waits durable.
 *
 * A run is executed only by the process holding its lease (renewed every
 * few seconds; a dead local holder is taken over at once). It does not
 * parse YAML or command lines.
 */
#include "engine.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../stdlib/http.h"
#include "../stdlib/loop.h"
#include "../stdlib/duration.h"
#include "activity.h"
#include "vm.h"

/* Cap of what an activity may return: shell stdout/stderr each, HTTP body. */
#define OUTPUT_CAP (4 * 1024 * 1024)

typedef enum cmd_status {
    CMD_REPLAY,   /* its outcome is in the history, waiting to be delivered */
    CMD_LIVE,     /* to be executed once the replay is over */
    CMD_STARTING, /* effect: waiting for the commit of its step_started */
    CMD_RUNNING,  /* effect in flight */
    CMD_BACKOFF,  /* failed an attempt, waiting for its retry timer */
    CMD_DONE
} cmd_status;

/* A program loaded from the store, shared by the runs in memory that run
 * it (a worker resuming 1,000 runs of one workflow loads it once); freed
 * with its last run. Programs are never changed once loaded. */
typedef struct shared_prog {
    char hash[65];
    vm_program *p;
    int refs;
    struct shared_prog *next;
} shared_prog;

typedef struct exec exec;

typedef struct cmd {
    vm_cmd vc;
    cmd_status status;
    int attempt;        /* attempt being run (live) or last recorded */
    int in_history;     /* its step_scheduled is in the history already */
    int64_t started_ms;
    int64_t retry_at;   /* CMD_BACKOFF (or CMD_LIVE after a crash in one): when to retry */
    int64_t fire_at;    /* a sleep's recorded end, when resumed in the middle of it */
    vm_act *act;        /* effect in flight */
    uint64_t timer;     /* retry or sleep timer */
    int queued;         /* in the engine's to_start list */
    exec *child;        /* call: the child run it waits for */
    exec *x;
} cmd;

struct exec {
    vm_engine *g;
    char run_id[64];
    char *workflow_id;
    vm_program *prog;
    vm_run *vm;
    /* the history as loaded */
    store_event *hist;
    size_t nhist;
    json_t *hsched;     /* "seq" -> {step, kind, attempts} */
    size_t *res;        /* indexes in hist of step outcomes, in order */
    json_t **respay;    /* their payloads, parsed once by index_history */
    size_t nres, rpos;
    json_t *hfinal;     /* the recorded run_completed/run_failed payload, if any */
    int hterminated;    /* ... and it is a run_terminated's */
    int64_t last_event; /* last event number written (or loaded) */
    cmd **cmds;
    size_t ncmds, capcmds;
    size_t compact_at;  /* take_cancels drops finished commands once ncmds reaches this */
    int dirty;          /* needs driving */
    int done;
    int running;        /* effects in flight, timers pending and signal waits */
    int waits;          /* of which timers and signal waits: the run can be parked */
    int parked;         /* left memory (worker) */
    json_t *effects;    /* recorded side effects: "key#n" -> value */
    json_t *effect_n;   /* key -> count used so far */
    int64_t lua_seq;    /* a lua step running (its side effects are keyed by it) */
    json_t *sig_taken;  /* signal name -> last id taken by this run */
    json_t *can_input;  /* continue_as_new: the next run's input */
    json_t *started;    /* the run_started payload */
    cmd *parent_cmd;    /* a child run: the parent's call step waiting for it */
    int cancelled;      /* a cancel was applied */
    char *pending_request; /* found at resume; applied once the replay is over */
    json_t *secrets;    /* name -> value, read from the environment */
    uint64_t deadline_timer; /* whole-run timeout */
    int64_t deadline_ms;
    shared_prog *sp;    /* prog is shared (NULL: owned by this run) */
    exec *next;
};

typedef struct pending_event {
    exec *x;
    int64_t seq;
    const char *type;   /* a literal */
    int64_t time_ms;
    char *payload;
} pending_event;

struct vm_engine {
    store *st;
    vm_engine_opts o;
    std_loop *loop;
    std_http *http;
    exec *execs;
    pending_event *pev;
    size_t npev, cappev;
    json_t *finish_rows; /* runs to mark finished at the next flush: [[run_id, status, out, err]] */
    json_t *consumed;    /* signal ids consumed by events of this batch */
    json_t *unparks;     /* run ids claimed from the store: marked running at the next flush */
    shared_prog *progs;  /* programs loaded from the store, in use */
    json_t *continuations; /* continue_as_new: [[program text, workflow id, input]] */
    cmd **to_start;      /* effects waiting for the commit of their events */
    size_t nstart, capstart;
    json_t *results;     /* run_id -> {status, output, error} */
    std_lua_host *lua;   /* the Lua state every run of this engine is a context in */
    char owner[128];     /* this process, as a lease holder */
    int acts_live;       /* activities not yet freed (cancelled ones until reaped) */
    int txn;             /* the engine's write transaction is open (see txn_open) */
    int txn_starts;      /* runs recorded in it */
    int64_t txn_ms;      /* when it was opened */
    uint64_t tick;       /* the lease/request timer */
    int64_t next_sweep;  /* worker: when to look for runs of dead local processes */
    unsigned ticks;
    std_err fatal;
    int failed;
};

/* ---- recording --------------------------------------------------------- */

/* The engine's write transaction. A new run is recorded into it (not in a
 * transaction of its own) and the next flush commits it together with the
 * events of the turn: a run is durable, with its input, before any of its
 * effects starts (effects start only after a flush), and a run that has
 * only pure steps costs one commit. While it is open the engine holds the
 * database's write lock, so a drive flushes once it has been open for
 * TXN_HOLD_MS. */
#define TXN_HOLD_MS 250

static int txn_open(vm_engine *g, std_err *e)
{
    if (g->txn) return 0;
    if (store_begin(g->st, e) != 0) return -1;
    g->txn = 1;
    g->txn_starts = 0;
    g->txn_ms = std_now_ms();
    return 0;
}

static void record(exec *x, const char *type, json_t *payload)
{
    vm_engine *g = x->g;
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    json_decref(payload);
    if (g->npev == g->cappev) {
        g->cappev = g->cappev ? g->cappev * 2 : 64;
        g->pev = realloc(g->pev, g->cappev * sizeof *g->pev);
        if (!g->pev) abort();
    }
    g->pev[g->npev++] = (pending_event){x, ++x->last_event, type, std_now_ms(), text};
}

/* Write every pending event and run status in one transaction. */
static void drop_pending(vm_engine *g)
{
    for (size_t k = 0; k < g->npev; k++) {
        free(g->pev[k].payload);
    }
    g->npev = 0;
    json_array_clear(g->finish_rows);
    json_array_clear(g->consumed);
    json_array_clear(g->unparks);
}

static int cmp_pending(const void *a, const void *b)
{
    const pending_event *p = a, *q = b;
    if (p->x != q->x) return (uintptr_t)p->x < (uintptr_t)q->x ? -1 : 1;
    return p->seq < q->seq ? -1 : p->seq > q->seq;
}

static int flush(vm_engine *g)
{
    if (g->o.replay_only) { /* a replay checks; it never writes */
        drop_pending(g);
        return 0;
    }
    if (!g->txn && g->npev == 0 && json_array_size(g->finish_rows) == 0 &&
        json_array_size(g->consumed) == 0 && json_array_size(g->unparks) == 0)
        return 0;
    std_err *e = &g->fatal;
    int rc = txn_open(g, e);
    size_t i;
    json_t *row;
    /* first, so that a run finished in this batch ends finished */
    json_array_foreach(g->unparks, i, row) {
        if (rc != 0) break;
        rc = store_run_unpark(g->st, json_string_value(row), e);
    }
    /* each run's events together, in order: the store checks a run's
     * sequence once per batch, and the inserts follow the table's key */
    if (g->npev > 1) qsort(g->pev, g->npev, sizeof *g->pev, cmp_pending);
    for (i = 0; rc == 0 && i < g->npev; i++) {
        pending_event *p = &g->pev[i];
        rc = store_event_append(g->st, p->x->run_id, p->seq, p->type, p->time_ms, p->payload, e);
    }
    json_array_foreach(g->finish_rows, i, row) {
        if (rc != 0) break;
        const char *rid = json_string_value(json_array_get(row, 0));
        const char *status = json_string_value(json_array_get(row, 1));
        if (status)
            rc = store_run_end(g->st, rid, g->owner, status, json_string_value(json_array_get(row, 2)),
                               json_string_value(json_array_get(row, 3)), e);
        else /* a replayed run that was finished already: only release it */
            rc = store_run_release(g->st, rid, g->owner, e);
    }
    json_array_foreach(g->consumed, i, row) {
        if (rc != 0) break;
        rc = store_signal_consume(g->st, json_integer_value(row), e);
    }
    if (rc == 0) rc = store_commit(g->st, e);
    if (rc != 0) {
        store_rollback(g->st);
        g->failed = 1;
    }
    g->txn = 0;
    json_array_clear(g->consumed);
    json_array_clear(g->unparks);
    if (rc == 0 && g->o.kill_after_event > 0)
        for (size_t k = 0; k < g->npev; k++)
            if (g->pev[k].seq >= g->o.kill_after_event) raise(SIGKILL);
    for (size_t k = 0; k < g->npev; k++) {
        free(g->pev[k].payload);
    }
    g->npev = 0;
    json_array_clear(g->finish_rows);
    return rc;
}

/* ---- helpers ----------------------------------------------------------- */

static char *dump(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
}

/* x->cmds is in command order (the VM numbers its commands in the order it
 * issues them, and forgetting finished ones keeps the order): a binary search. */
static cmd *find_cmd(exec *x, int64_t seq)
{
    size_t lo = 0, hi = x->ncmds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t s = x->cmds[mid]->vc.seq;
        if (s == seq) return x->cmds[mid];
        if (s < seq) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static const char *step_path(exec *x, cmd *c) { return vm_step_path(x->prog, c->vc.step); }
static const char *step_kind(exec *x, cmd *c) { return vm_step_kind(x->prog, c->vc.step); }

static void progress(exec *x, cmd *c, const char *what, json_t *err)
{
    if (!x->g->o.progress) return;
    int64_t ms = std_now_ms() - c->started_ms;
    if (err)
        fprintf(stderr, "  %-6s %s (%s) %lldms: %s: %s\n", what, step_path(x, c), step_kind(x, c),
                (long long)ms, json_string_value(json_object_get(err, "type")),
                json_string_value(json_object_get(err, "message")));
    else
        fprintf(stderr, "  %-6s %s (%s) %lldms\n", what, step_path(x, c), step_kind(x, c),
                (long long)ms);
}

static json_t *redact(exec *x, json_t *v);
static void complete(exec *x, cmd *c, json_t *output);
static void fail(exec *x, cmd *c, json_t *error);

static void request_child(exec *x, cmd *c, const char *text);

/* Terminate the attached children of x's calls in flight (see
 * request_child), so that none of them, nor theirs, runs on once x has
 * ended: a terminate, or a run timeout. */
static void terminate_children(exec *x)
{
    char *text = NULL;
    for (size_t i = 0; i < x->ncmds; i++) {
        cmd *c = x->cmds[i];
        if (c->status == CMD_DONE || strcmp(step_kind(x, c), "call")) continue;
        if (!text) {
            char why[600];
            snprintf(why, sizeof why, "terminated with its parent run %s", x->workflow_id);
            json_t *req = json_pack("{s:s, s:s}", "mode", "terminate", "reason", why);
            text = dump(req);
            json_decref(req);
        }
        request_child(x, c, text);
    }
    free(text);
}

/* Finish x with a status; the VM's or the given output/error is recorded. */
static void finalize(exec *x, const char *status, json_t *output, json_t *error)
{
    vm_engine *g = x->g;
    if (strcmp(status, "nondeterministic") != 0) {
        terminate_children(x);
    } else { /* stuck, maybe to be resumed on a fixed program: its children are let go */
        for (size_t i = 0; i < x->ncmds; i++)
            if (x->cmds[i]->child) {
                x->cmds[i]->child->parent_cmd = NULL;
                x->cmds[i]->child = NULL;
            }
    }
    x->done = 1;
    for (size_t i = 0; i < x->ncmds; i++) { /* a run timeout can leave effects in flight */
        cmd *c = x->cmds[i];
        if (c->act) vm_act_cancel(c->act);
        if (c->timer) std_loop_timer_cancel(g->loop, c->timer);
        c->act = NULL;
        c->timer = 0;
    }
    x->running = 0;
    if (x->deadline_timer) std_loop_timer_cancel(g->loop, x->deadline_timer);
    x->deadline_timer = 0;
    if (output && x->can_input && !strcmp(status, "completed")) {
        status = "continued";
        char *text = vm_program_serialize(x->prog);
        json_array_append_new(g->continuations, json_pack("[s, s, O, s]", text, x->workflow_id,
                                                          x->can_input, x->run_id));
        free(text);
    }
    json_t *rout = redact(x, output), *rerr = redact(x, error);
    output = rout;
    error = rerr;
    if (!x->hfinal && !g->o.replay_only && strcmp(status, "nondeterministic") != 0) {
        if (output) record(x, "run_completed", json_pack("{s:O}", "output", output));
        else if (!strcmp(status, "terminated")) record(x, "run_terminated", json_pack("{s:O}", "error", error));
        else record(x, "run_failed", json_pack("{s:O, s:s}", "error", error, "status", status));
    }
    char *out = output ? dump(output) : NULL, *err = error ? dump(error) : NULL;
    int keep = x->hfinal && strcmp(status, "nondeterministic") != 0;
    json_array_append_new(g->finish_rows,
                          json_pack("[s, s?, s?, s?]", x->run_id, keep ? NULL : status, out, err));
    free(out);
    free(err);
    cmd *pc = x->parent_cmd;
    if (pc && pc->child == x) { /* a child: its parent's call step gets the outcome */
        pc->child = NULL;
        x->parent_cmd = NULL;
        pc->x->running--;
        if (pc->status == CMD_RUNNING) {
            if (output && !strcmp(status, "completed")) {
                complete(pc->x, pc, output);
            } else {
                json_t *ce = json_pack("{s:s, s:s, s:s, s:i, s:O?}", "type", "child.failed", "message",
                                       "the child workflow did not complete", "step",
                                       step_path(pc->x, pc), "attempt", pc->attempt, "details", error);
                json_object_set_new(ce, "child_status", json_string(status));
                fail(pc->x, pc, ce);
                json_decref(ce);
            }
        }
    }
    if (!g->o.park) /* a worker forgets finished runs; the store has them */
        json_object_set_new(g->results, x->run_id,
                            json_pack("{s:s, s:O?, s:O?}", "status", status, "output", output,
                                      "error", error));
    json_decref(rout);
    json_decref(rerr);
}

static void nondeterministic(exec *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nondeterministic(exec *x, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s}", "type", "nondeterminism", "message", msg);
    finalize(x, "nondeterministic", NULL, err);
    json_decref(err);
}

/* ---- secrets ----------------------------------------------------------- */

static json_t *redact_value(json_t *v, json_t *secrets)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        std_buf b = {0};
        const char *s = json_string_value(v);
        size_t len = json_string_length(v), i = 0;
        int changed = 0;
        while (i < len) {
            const char *name;
            json_t *sv;
            size_t hit = 0;
            json_object_foreach(secrets, name, sv) {
                size_t sl = json_string_length(sv);
                if (sl && sl <= len - i && !memcmp(s + i, json_string_value(sv), sl)) {
                    hit = sl;
                    break;
                }
            }
            if (hit) {
                std_buf_adds(&b, "***");
                i += hit;
                changed = 1;
            } else {
                std_buf_add(&b, s + i, 1);
                i++;
            }
        }
        json_t *r = changed ? json_stringn_nocheck(b.p, b.len) : json_incref(v);
        std_buf_free(&b);
        return r;
    }
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_object_set_new(o, k, redact_value(x, secrets));
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, redact_value(x, secrets));
        return a;
    }
    default: return json_incref(v);
    }
}

/* v with every secret value replaced by "***" (new reference): what may be
 * recorded, shown or fed back to the VM. */
static json_t *redact(exec *x, json_t *v)
{
    if (!v) return NULL;
    if (!x->secrets || json_object_size(x->secrets) == 0) return json_incref(v);
    return redact_value(v, x->secrets);
}

/* ---- outcomes ---------------------------------------------------------- */

static json_t *step_error(exec *x, cmd *c, const char *type, const char *msg)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "type", type, "message", msg, "step", step_path(x, c),
                     "attempt", c->attempt);
}

static json_t *step_entry(exec *x, cmd *c)
{
    return json_array_get(x->prog->steps, (size_t)c->vc.step);
}

static void complete(exec *x, cmd *c, json_t *output)
{
    int64_t ms = std_now_ms() - c->started_ms;
    json_t *out = redact(x, output);
    record(x, "step_completed", json_pack("{s:I, s:i, s:O, s:I}", "seq", (json_int_t)c->vc.seq,
                                          "attempt", c->attempt, "output", out, "duration_ms",
                                          (json_int_t)ms));
    progress(x, c, "ok", NULL);
    c->status = CMD_DONE;
    vm_resolve(x->vm, c->vc.seq, out);
    json_decref(out);
    x->dirty = 1;
}

/* Does error type `type` match pattern `pat`? A pattern is a glob
 * ("http.5*") or a dotted prefix ("http" matches "http.503"). */
static int type_matches(const char *pat, const char *type)
{
    if (fnmatch(pat, type, 0) == 0) return 1;
    size_t n = strlen(pat);
    return !strchr(pat, '*') && !strncmp(pat, type, n) && type[n] == '.';
}

static int any_match(json_t *pats, const char *type)
{
    size_t i;
    json_t *p;
    json_array_foreach(pats, i, p) if (type_matches(json_string_value(p), type)) return 1;
    return 0;
}

/* The wait before the next attempt, or -1 when the policy says stop. */
static int64_t retry_delay(json_t *pol, int attempt, const char *type, int64_t retry_after)
{
    if (!pol) return -1;
    json_int_t max = json_integer_value(json_object_get(pol, "max_attempts"));
    if (max > 0 && attempt >= max) return -1;
    if (!strcmp(type, "skipped")) return -1; /* a decision to skip, not a failure */
    if (!any_match(json_object_get(pol, "retry_on"), type) ||
        any_match(json_object_get(pol, "non_retryable"), type))
        return -1;
    double d = (double)json_integer_value(json_object_get(pol, "initial_ms"));
    double backoff = json_number_value(json_object_get(pol, "backoff"));
    double cap = (double)json_integer_value(json_object_get(pol, "max_ms"));
    for (int i = 1; i < attempt && d < cap; i++) d *= backoff;
    if (d > cap) d = cap;
    double jitter = json_number_value(json_object_get(pol, "jitter"));
    if (jitter > 0) {
        char hex[33];
        std_random_hex(hex);
        double r = (double)strtoull(hex + 16, NULL, 16) / 18446744073709551616.0;
        d *= 1.0 - jitter * r;
    }
    if (json_is_true(json_object_get(pol, "honor_retry_after")) && retry_after > d)
        d = (double)retry_after;
    return (int64_t)d;
}

static void run_attempt(exec *x, cmd *c);

static void retry_due(std_loop *l, void *ud)
{
    cmd *c = ud;
    c->timer = 0;
    c->x->running--;
    run_attempt(c->x, c);
}

/* Wait in CMD_BACKOFF until c->retry_at, then run the next attempt. */
static void backoff(exec *x, cmd *c)
{
    c->status = CMD_BACKOFF;
    x->running++;
    c->timer = std_loop_timer(x->g->loop, c->retry_at, retry_due, c);
}

static void fail_after(exec *x, cmd *c, json_t *error, int64_t retry_after)
{
    int64_t now = std_now_ms(), ms = now - c->started_ms;
    json_t *err = redact(x, error);
    const char *type = json_string_value(json_object_get(err, "type"));
    int64_t delay = retry_delay(json_object_get(step_entry(x, c), "retry"), c->attempt,
                                type ? type : "", retry_after);
    json_t *ev = json_pack("{s:I, s:i, s:O, s:I, s:b}", "seq", (json_int_t)c->vc.seq, "attempt",
                           c->attempt, "error", err, "duration_ms", (json_int_t)ms, "final",
                           delay < 0);
    if (delay >= 0) {
        c->retry_at = now + delay;
        json_object_set_new(ev, "retry_at", json_integer(c->retry_at));
        json_object_set_new(ev, "retry_in_ms", json_integer(delay));
    }
    record(x, "step_failed", ev);
    progress(x, c, delay < 0 ? "FAILED" : "retry", err);
    if (delay >= 0) {
        backoff(x, c);
    } else {
        c->status = CMD_DONE;
        vm_reject(x->vm, c->vc.seq, err);
        x->dirty = 1;
    }
    json_decref(err);
}

static void fail(exec *x, cmd *c, json_t *error) { fail_after(x, c, error, 0); }


/* ---- child workflows --------------------------------------------------- */

static exec *find_exec(vm_engine *g, const char *run_id)
{
    for (exec *x = g->execs; x; x = x->next)
        if (!strcmp(x->run_id, run_id)) return x;
    return NULL;
}

static int record_new(vm_engine *g, vm_program *prog, const char *source, const char *workflow_id,
                      json_t *input, const char *owner, char run_id[64], std_err *e);

/* The workflow id of call step c's child: its `id`, or one derived from the
 * parent's, the step and the command. */
static void call_child_id(exec *x, cmd *c, char *wid, size_t n)
{
    const char *given = json_string_value(json_object_get(c->vc.args, "id"));
    if (given) snprintf(wid, n, "%s", given);
    else snprintf(wid, n, "%s/%s#%lld", x->workflow_id, step_path(x, c), (long long)c->vc.seq);
}

/* Start (or find again, after a crash) the child run of call step c. Its
 * workflow id is derived from the parent's, the step and the command, so a
 * resumed parent finds the child it started instead of starting another. */
static void start_call(exec *x, cmd *c)
{
    vm_engine *g = x->g;
    json_t *st = step_entry(x, c), *args = c->vc.args;
    char wid[512];
    call_child_id(x, c, wid, sizeof wid);
    int detach = json_is_true(json_object_get(st, "detach"));
    std_err e = {0};
    store_run r = {0};
    int found = store_run_get(g->st, wid, &r, &e);
    char run_id[64] = "";
    if (found > 0 && strcmp(r.status, "running") && strcmp(r.status, "waiting")) {
        /* it finished while we were away */
        json_t *out = r.output ? json_loads(r.output, JSON_DECODE_ANY, NULL) : NULL;
        if (detach || !strcmp(r.status, "completed")) {
            json_t *v = detach ? json_pack("{s:s, s:s}", "id", wid, "run_id", r.run_id) : json_incref(out);
            complete(x, c, v ? v : json_null());
            json_decref(v);
        } else {
            json_t *err = step_error(x, c, "child.failed", "the child workflow did not complete");
            json_object_set_new(err, "child_status", json_string(r.status));
            fail(x, c, err);
            json_decref(err);
        }
        json_decref(out);
        store_run_clear(&r);
        return;
    }
    if (found > 0) snprintf(run_id, sizeof run_id, "%s", r.run_id);
    store_run_clear(&r);
    if (found == 0) {
        const char *text = json_string_value(json_object_get(st, "program"));
        char *self = text ? NULL : vm_program_serialize(x->prog);
        vm_program *p = vm_program_load(text ? text : self, strlen(text ? text : self), &e);
        free(self);
        std_err ie = {0};
        char what[200] = "";
        if (p) snprintf(what, sizeof what, "input of workflow '%s'", p->name);
        json_t *input = p ? vm_input_check_as(p, json_object_get(args, "input"), what, NULL, 0, &ie) : NULL;
        if (p && !input) { /* the child's input schema applies, defaults included; no run is recorded */
            vm_program_free(p);
            json_t *err = step_error(x, c, "input", ie.msg);
            fail(x, c, err);
            json_decref(err);
            return;
        }
        int rc = -1;
        if (p && detach) { /* recorded for a worker (by the next flush); not ours to drive */
            rc = record_new(g, p, NULL, wid, input, NULL, run_id, &e);
            vm_program_free(p);
        } else if (p) {
            rc = vm_engine_start(g, p, NULL, wid, input, run_id, &e);
        }
        json_decref(input);
        if (rc != 0) {
            json_t *err = step_error(x, c, "child.start", e.msg);
            fail(x, c, err);
            json_decref(err);
            return;
        }
    }
    if (detach) {
        json_t *v = json_pack("{s:s, s:s}", "id", wid, "run_id", run_id);
        complete(x, c, v);
        json_decref(v);
        return;
    }
    exec *child = find_exec(g, run_id);
    if (!child && vm_engine_resume(g, run_id, run_id, &e) == 0) child = find_exec(g, run_id);
    if (!child) {
        json_t *err = step_error(x, c, "child.start", e.msg[0] ? e.msg : "the child run could not be loaded");
        fail(x, c, err);
        json_decref(err);
        return;
    }
    c->child = child;
    child->parent_cmd = c;
    x->running++;
}

/* ---- live execution ---------------------------------------------------- */

static int is_effect(const char *kind)
{
    return !strcmp(kind, "shell") || !strcmp(kind, "http") || !strcmp(kind, "call");
}

static void start_call(exec *x, cmd *c);

/* sleep {until}: Unix seconds or RFC 3339 text, to ms. */
static int until_ms(json_t *v, int64_t *ms)
{
    if (json_is_number(v)) {
        *ms = (int64_t)(json_number_value(v) * 1000);
        return 0;
    }
    return json_is_string(v) ? std_parse_time(json_string_value(v), ms) : -1;
}

static void timer_fired(std_loop *l, void *ud)
{
    cmd *c = ud;
    exec *x = c->x;
    c->timer = 0;
    x->running--;
    x->waits--;
    if (!strcmp(step_kind(x, c), "wait")) { /* no signal in time */
        json_t *st = step_entry(x, c);
        if (!strcmp(json_string_value(json_object_get(st, "on_timeout")), "continue")) {
            complete(x, c, json_null());
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "no signal '%s' within %lldms",
                     json_string_value(json_object_get(st, "signal")),
                     (long long)json_integer_value(json_object_get(st, "wait_ms")));
            json_t *err = step_error(x, c, "signal.timeout", msg);
            c->retry_at = 0;
            fail(x, c, err);
            json_decref(err);
        }
        return;
    }
    complete(x, c, json_null());
}

/* A durable wait: its end time is in its step_started, so a resumed run
 * waits only what is left. */
static void start_timer(exec *x, cmd *c, int64_t fire_at)
{
    c->status = CMD_RUNNING;
    c->fire_at = fire_at;
    x->running++;
    x->waits++;
    c->timer = std_loop_timer(x->g->loop, fire_at, timer_fired, c);
}

/* Take the oldest unconsumed signal for a waiting c; 1 if it completed. */
static int take_signal(exec *x, cmd *c)
{
    const char *name = json_string_value(json_object_get(step_entry(x, c), "signal"));
    int64_t id = 0, after = json_integer_value(json_object_get(x->sig_taken, name));
    char *payload = NULL;
    std_err e = {0};
    if (store_signal_take(x->g->st, x->run_id, name, after, &id, &payload, &e) <= 0) return 0;
    json_object_set_new(x->sig_taken, name, json_integer(id));
    json_array_append_new(x->g->consumed, json_integer(id)); /* with the completion */
    json_t *v = payload ? json_loads(payload, JSON_DECODE_ANY, NULL) : NULL;
    free(payload);
    if (c->timer) {
        std_loop_timer_cancel(x->g->loop, c->timer);
        c->timer = 0;
    }
    if (c->status == CMD_RUNNING) { /* it was waiting */
        x->running--;
        x->waits--;
    }
    complete(x, c, v ? v : json_null());
    json_decref(v);
    return 1;
}

/* A `wait`: a signal already sent completes it now; otherwise it waits,
 * until fire_at when it has a timeout. */
static void start_wait(exec *x, cmd *c, int64_t fire_at)
{
    if (take_signal(x, c)) return;
    if (fire_at > 0) {
        start_timer(x, c, fire_at);
        return;
    }
    c->status = CMD_RUNNING;
    x->running++;
    x->waits++;
}

static void effect_done(void *ud, json_t *output, json_t *error, int64_t retry_after_ms)
{
    cmd *c = ud;
    exec *x = c->x;
    c->act = NULL;
    x->running--;
    if (output) {
        complete(x, c, output);
        return;
    }
    json_t *err = json_deep_copy(error);
    json_object_set_new(err, "step", json_string(step_path(x, c)));
    json_object_set_new(err, "attempt", json_integer(c->attempt));
    fail_after(x, c, err, retry_after_ms);
    json_decref(err);
}

/* Start an effect whose step_started is committed. */
static void start_effect(exec *x, cmd *c)
{
    char src[1024], key[65];
    snprintf(src, sizeof src, "%s/%s#%lld", x->run_id, step_path(x, c), (long long)c->vc.seq);
    std_sha256_hex(src, strlen(src), key);
    key[32] = 0;
    json_t *st = step_entry(x, c);
    vm_act_ctx ctx = {.run_id = x->run_id, .workflow_id = x->workflow_id, .step = step_path(x, c),
                      .idempotency_key = key, .attempt = c->attempt,
                      .timeout_ms = json_integer_value(json_object_get(st, "timeout_ms")),
                      .expect = json_object_get(st, "expect"), .max_output = OUTPUT_CAP,
                      .live = &x->g->acts_live};
    std_err e = {0};
    c->status = CMD_RUNNING;
    c->started_ms = std_now_ms();
    if (!strcmp(step_kind(x, c), "call")) {
        start_call(x, c);
        return;
    }
    int rc = !strcmp(step_kind(x, c), "http")
                 ? vm_act_http(x->g->loop, x->g->http, c->vc.args, &ctx, effect_done, c, &c->act, &e)
                 : vm_act_shell(x->g->loop, c->vc.args, &ctx, effect_done, c, &c->act, &e);
    if (rc != 0) {
        json_t *err = step_error(x, c, e.type[0] ? e.type : "shell.exit", e.msg);
        fail(x, c, err);
        json_decref(err);
        return;
    }
    x->running++;
}

/* Run the next attempt of c: pure kinds now, effects once committed. */
static void run_attempt(exec *x, cmd *c)
{
    const char *kind = step_kind(x, c);
    c->started_ms = std_now_ms();
    c->retry_at = 0;
    c->attempt++;
    json_t *started = json_pack("{s:I, s:i}", "seq", (json_int_t)c->vc.seq, "attempt", c->attempt);
    x->dirty = 1;
    if (!strcmp(kind, "sleep")) {
        int64_t fire_at = c->started_ms + json_integer_value(json_object_get(c->vc.args, "ms"));
        json_t *until = json_object_get(c->vc.args, "until");
        if (until && until_ms(until, &fire_at) != 0) {
            record(x, "step_started", started);
            json_t *err = step_error(x, c, "sleep.until", "'until' must be an RFC 3339 time or Unix seconds");
            fail(x, c, err);
            json_decref(err);
            return;
        }
        json_object_set_new(started, "fire_at", json_integer(fire_at));
        record(x, "step_started", started);
        start_timer(x, c, fire_at);
        return;
    }
    if (!strcmp(kind, "wait")) {
        json_int_t ms = json_integer_value(json_object_get(step_entry(x, c), "wait_ms"));
        int64_t fire_at = ms > 0 ? c->started_ms + ms : 0;
        if (fire_at) json_object_set_new(started, "fire_at", json_integer(fire_at));
        record(x, "step_started", started);
        start_wait(x, c, fire_at);
        return;
    }
    record(x, "step_started", started);
    if (is_effect(kind)) {
        vm_engine *g = x->g;
        c->status = CMD_STARTING;
        if (g->nstart == g->capstart) {
            g->capstart = g->capstart ? g->capstart * 2 : 16;
            g->to_start = realloc(g->to_start, g->capstart * sizeof *g->to_start);
            if (!g->to_start) abort();
        }
        g->to_start[g->nstart++] = c;
        c->queued = 1;
        return;
    }
    json_t *args = c->vc.args;
    if (!strcmp(kind, "lua")) {
        int chunk = (int)json_integer_value(json_object_get(step_entry(x, c), "chunk"));
        json_t *out = NULL;
        std_err e = {0};
        x->lua_seq = c->vc.seq;
        int rc = vm_eval_chunk(x->vm, chunk, c->vc.scope, &out, &e);
        x->lua_seq = 0;
        if (rc != 0) {
            json_t *err = step_error(x, c, e.type[0] ? e.type : "lua", e.msg);
            fail(x, c, err);
            json_decref(err);
        } else {
            complete(x, c, out);
            json_decref(out);
        }
    } else if (!strcmp(kind, "set")) {
        complete(x, c, args);
    } else if (!strcmp(kind, "dag")) { /* the tasks' states, decided by the VM */
        json_t *err = json_object_get(args, "error");
        if (err) fail(x, c, err);
        else complete(x, c, args);
    } else if (!strcmp(kind, "continue_as_new")) {
        /* the next run's input is checked (defaults filled) now: a bad one
         * fails this step, and the run goes on as after any failed step */
        json_t *in = json_object_get(args, "input");
        std_err ie = {0};
        json_t *next = vm_input_check_as(x->prog, in ? in : json_object_get(x->started, "input"),
                                         "input of the next run", NULL, 0, &ie);
        if (!next) {
            json_t *err = step_error(x, c, "input", ie.msg);
            fail(x, c, err);
            json_decref(err);
        } else {
            json_decref(x->can_input);
            x->can_input = next;
            complete(x, c, json_null());
        }
    } else if (!strcmp(kind, "succeed")) {
        json_t *out = json_object_get(args, "output");
        complete(x, c, out ? out : json_null());
    } else if (!strcmp(kind, "fail")) {
        json_t *type = json_object_get(args, "type");
        json_t *msg = json_object_get(args, "message");
        char *m = !msg ? strdup("failed") : json_is_string(msg) ? strdup(json_string_value(msg)) : dump(msg);
        json_t *err = step_error(x, c, json_is_string(type) ? json_string_value(type) : "error", m);
        free(m);
        json_t *details = json_object_get(args, "details");
        if (details) json_object_set(err, "details", details);
        fail(x, c, err);
        json_decref(err);
    } else {
        json_t *err = step_error(x, c, "internal", "step kind has no executor");
        fail(x, c, err);
        json_decref(err);
    }
}

/* Record that c is scheduled (unless the history has it) and run it. */
static void start_live(exec *x, cmd *c)
{
    if (!c->in_history) {
        json_t *args = redact(x, c->vc.args);
        record(x, "step_scheduled",
               json_pack("{s:I, s:s, s:s, s:O?}", "seq", (json_int_t)c->vc.seq, "step",
                         step_path(x, c), "kind", step_kind(x, c), "args", args));
        json_decref(args);
        c->in_history = 1;
    }
    c->started_ms = std_now_ms();
    if (c->vc.eval_error.type[0]) {
        json_t *err = step_error(x, c, c->vc.eval_error.type, c->vc.eval_error.msg);
        if (c->vc.eval_error.line) {
            char where[300];
            snprintf(where, sizeof where, "%s:%d", x->prog->file, c->vc.eval_error.line);
            json_object_set_new(err, "where", json_string(where));
        }
        c->status = CMD_DONE;
        record(x, "step_failed", json_pack("{s:I, s:i, s:O, s:i, s:b}", "seq", (json_int_t)c->vc.seq,
                                           "attempt", c->attempt, "error", err, "duration_ms", 0,
                                           "final", 1));
        progress(x, c, "FAILED", err);
        vm_reject(x->vm, c->vc.seq, err);
        x->dirty = 1;
        json_decref(err);
        return;
    }
    if (c->retry_at > 0) /* the process died during a backoff: wait what is left */
        backoff(x, c);
    else if (!strcmp(step_kind(x, c), "wait") && c->attempt > 0) /* ... or while waiting */
        start_wait(x, c, c->fire_at);
    else if (c->fire_at > 0) /* ... or during a sleep */
        start_timer(x, c, c->fire_at);
    else
        run_attempt(x, c);
}

/* ---- replay ------------------------------------------------------------ */

static int64_t payload_seq(json_t *p) { return json_integer_value(json_object_get(p, "seq")); }

/* Index the loaded history: scheduled commands and outcomes in order. */
static int index_history(exec *x, std_err *e)
{
    x->hsched = json_object();
    x->res = calloc(x->nhist + 1, sizeof *x->res);
    x->respay = calloc(x->nhist + 1, sizeof *x->respay);
    for (size_t i = 0; i < x->nhist; i++) {
        store_event *ev = &x->hist[i];
        if (ev->seq != (int64_t)i + 1)
            return std_errf(e, "load", "history of run %s has a gap at event %zu", x->run_id, i + 1);
        json_t *p = json_loads(ev->payload ? ev->payload : "null", JSON_DECODE_ANY, NULL);
        if (!p) return std_errf(e, "load", "history event %lld of run %s is not JSON", (long long)ev->seq, x->run_id);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)payload_seq(p));
        if (!strcmp(ev->type, "step_scheduled")) {
            json_object_set_new(p, "event", json_integer(ev->seq));
            json_object_set(x->hsched, key, p);
        } else if (!strcmp(ev->type, "step_started")) {
            json_t *s = json_object_get(x->hsched, key);
            if (s) json_object_set(s, "attempts", json_object_get(p, "attempt"));
            if (s) json_object_del(s, "retry_at");
            if (s && json_object_get(p, "fire_at")) json_object_set(s, "fire_at", json_object_get(p, "fire_at"));
        } else if (!strcmp(ev->type, "step_failed") && json_object_get(p, "retry_at")) {
            json_t *s = json_object_get(x->hsched, key);
            if (s) json_object_set(s, "retry_at", json_object_get(p, "retry_at"));
        } else if (!strcmp(ev->type, "step_completed") ||
                   (!strcmp(ev->type, "step_failed") && json_is_true(json_object_get(p, "final")))) {
            x->respay[x->nres] = json_incref(p);
            x->res[x->nres++] = i;
            json_t *s = json_object_get(x->hsched, key);
            if (s) json_object_set_new(s, "resolved", json_true());
        } else if (!strcmp(ev->type, "side_effect")) {
            if (!x->effects) x->effects = json_object();
            json_object_set(x->effects, json_string_value(json_object_get(p, "key")), p);
        } else if (!strcmp(ev->type, "step_cancelled")) {
            json_t *s = json_object_get(x->hsched, key);
            if (s) json_object_set_new(s, "cancelled", json_true());
        } else if (!strcmp(ev->type, "cancel_requested")) {
            x->respay[x->nres] = json_incref(p);
            x->res[x->nres++] = i; /* delivered in order, like an outcome */
        } else if (!strcmp(ev->type, "run_completed") || !strcmp(ev->type, "run_failed") ||
                   !strcmp(ev->type, "run_terminated")) {
            json_decref(x->hfinal);
            x->hfinal = json_incref(p);
            x->hterminated = !strcmp(ev->type, "run_terminated");
        }
        json_decref(p);
    }
    x->last_event = (int64_t)x->nhist;
    return 0;
}

/* Register the VM's new commands, checking each against the history. */
static int take_commands(exec *x)
{
    vm_cmd *vc = NULL;
    size_t n = vm_take_cmds(x->vm, &vc);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        cmd *c = calloc(1, sizeof *c);
        if (!c) abort();
        c->vc = vc[i];
        c->x = x;
        c->status = CMD_LIVE;
        if (x->ncmds == x->capcmds) {
            x->capcmds = x->capcmds ? x->capcmds * 2 : 8;
            x->cmds = realloc(x->cmds, x->capcmds * sizeof *x->cmds);
            if (!x->cmds) abort();
        }
        x->cmds[x->ncmds++] = c;
        if (!ok) continue;
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)c->vc.seq);
        json_t *h = json_object_get(x->hsched, key);
        if (!h) continue;
        const char *hs = json_string_value(json_object_get(h, "step"));
        const char *hk = json_string_value(json_object_get(h, "kind"));
        if (!hs || !hk || strcmp(hs, step_path(x, c)) || strcmp(hk, step_kind(x, c))) {
            nondeterministic(x,
                             "history event %lld recorded step '%s' (%s) as command %lld, but the "
                             "program now issues step '%s' (%s) there",
                             (long long)json_integer_value(json_object_get(h, "event")),
                             hs ? hs : "?", hk ? hk : "?", (long long)c->vc.seq, step_path(x, c),
                             step_kind(x, c));
            ok = 0;
            continue;
        }
        c->in_history = 1;
        c->attempt = (int)json_integer_value(json_object_get(h, "attempts"));
        /* scheduled but without an outcome: the process died while it ran;
         * it runs again, as the next attempt, once the replay is over */
        c->status = json_is_true(json_object_get(h, "resolved")) ? CMD_REPLAY : CMD_LIVE;
        c->retry_at = json_integer_value(json_object_get(h, "retry_at"));
        c->fire_at = json_integer_value(json_object_get(h, "fire_at"));
        if (json_is_true(json_object_get(h, "cancelled"))) c->status = CMD_DONE;
    }
    free(vc);
    return ok ? 0 : -1;
}

/* Deliver the next recorded outcome; 1 if one was delivered. */
static int replay_next(exec *x)
{
    if (x->rpos >= x->nres) return 0;
    json_t *p = x->respay[x->rpos];
    x->respay[x->rpos] = NULL;
    store_event *ev = &x->hist[x->res[x->rpos++]];
    if (!strcmp(ev->type, "cancel_requested")) {
        vm_cancel(x->vm, json_string_value(json_object_get(p, "reason")));
        json_decref(p);
        return 1;
    }
    int64_t seq = payload_seq(p);
    cmd *c = find_cmd(x, seq);
    if (!c || c->status != CMD_REPLAY) {
        nondeterministic(x,
                         "history event %lld (%s of command %lld) has no matching step: the program "
                         "did not issue command %lld",
                         (long long)ev->seq, ev->type, (long long)seq, (long long)seq);
        json_decref(p);
        return -1;
    }
    c->status = CMD_DONE;
    if (!strcmp(ev->type, "step_completed")) vm_resolve(x->vm, seq, json_object_get(p, "output"));
    else vm_reject(x->vm, seq, json_object_get(p, "error"));
    json_decref(p);
    return 1;
}

/* Stop the effects of the commands the VM gave up on, record that, and
 * forget the finished commands (memory stays within about twice what is in
 * flight, not the length of the run). */
static void take_cancels(exec *x)
{
    int64_t *seqs = NULL;
    size_t n = vm_take_cancels(x->vm, &seqs);
    for (size_t i = 0; i < n; i++) {
        cmd *c = find_cmd(x, seqs[i]);
        if (!c || c->status == CMD_DONE) continue;
        if (c->act) {
            vm_act_cancel(c->act);
            c->act = NULL;
            x->running--;
        }
        if (c->timer) {
            std_loop_timer_cancel(x->g->loop, c->timer);
            c->timer = 0;
            x->running--;
        }
        if (c->child) { /* cancelling a parent cancels its attached child */
            exec *ch = c->child;
            c->child = NULL;
            ch->parent_cmd = NULL;
            x->running--;
            if (!ch->done && !ch->cancelled) {
                ch->cancelled = 1;
                record(ch, "cancel_requested", json_pack("{s:s}", "reason", "the parent run was cancelled"));
                vm_cancel(ch->vm, "the parent run was cancelled");
                ch->dirty = 1;
            }
        } else { /* a child this engine has not loaded (the parent was resumed) */
            request_child(x, c, "{\"mode\":\"cancel\",\"reason\":\"the parent run was cancelled\"}");
        }
        if (c->in_history && !x->hfinal && !x->g->o.replay_only)
            record(x, "step_cancelled", json_pack("{s:I}", "seq", (json_int_t)c->vc.seq));
        c->status = CMD_DONE;
    }
    free(seqs);
    /* a pass over every command at each turn would make a run with many
     * in flight quadratic: pass again once the list has doubled since */
    if (x->ncmds < x->compact_at) return;
    size_t k = 0;
    for (size_t i = 0; i < x->ncmds; i++) {
        cmd *c = x->cmds[i];
        if (c->status == CMD_DONE && !c->queued) {
            vm_cmd_free(&c->vc);
            free(c);
        } else {
            x->cmds[k++] = c;
        }
    }
    x->ncmds = k;
    x->compact_at = k < 32 ? 64 : 2 * k;
}

static void apply_request(exec *x, const char *text);
static void run_timed_out(std_loop *l, void *ud);

/* Run x as far as it goes without waiting for an effect. */
static void drive(exec *x)
{
    std_err e = {0};
    x->dirty = 0;
    for (;;) {
        if (x->done) return;
        vm_run_advance(x->vm, &e);
        if (take_commands(x) != 0) return;
        take_cancels(x);
        vm_state st = vm_run_state(x->vm);
        if (st != VM_RUNNING) {
            json_t *out = st == VM_DONE ? vm_run_output(x->vm) : NULL;
            json_t *err = st != VM_DONE ? vm_run_error(x->vm) : NULL;
            if (x->rpos < x->nres) {
                nondeterministic(x, "the program finished, but the history has %zu more step "
                                    "outcomes from event %lld on",
                                 x->nres - x->rpos, (long long)x->hist[x->res[x->rpos]].seq);
                return;
            }
            if (x->hfinal) { /* replay of a finished run: it must end the same way */
                json_t *rec = json_object_get(x->hfinal, out ? "output" : "error");
                if (!rec || !json_equal(rec, out ? out : err)) {
                    nondeterministic(x, "replay ended with a different %s than the one recorded",
                                     out ? "output" : "error");
                    return;
                }
            }
            const char *type = err ? json_string_value(json_object_get(err, "type")) : NULL;
            finalize(x,
                     out                            ? "completed"
                     : st == VM_NEEDS_ATTENTION     ? "needs_attention"
                     : type && !strcmp(type, "cancelled") ? "cancelled"
                                                    : "failed",
                     out, err);
            return;
        }
        int r = replay_next(x);
        if (r < 0) return;
        if (r > 0) continue;
        if (x->hterminated) { /* a terminate stopped it here, wherever that was */
            finalize(x, "terminated", NULL, json_object_get(x->hfinal, "error"));
            return;
        }
        /* history consumed: execute what it does not have */
        if (x->pending_request) {
            char *req = x->pending_request;
            x->pending_request = NULL;
            apply_request(x, req);
            free(req);
            continue;
        }
        if (x->deadline_ms && std_now_ms() >= x->deadline_ms) { /* resumed too late */
            run_timed_out(x->g->loop, x);
            return;
        }
        int progressed = 0;
        for (size_t i = 0; i < x->ncmds && !x->done; i++) {
            cmd *c = x->cmds[i];
            if (c->status != CMD_LIVE) continue;
            if (x->g->o.replay_only && !x->hfinal) { /* a run in flight: consistent so far */
                finalize(x, "consistent", NULL, NULL);
                return;
            }
            if (x->hfinal) {
                nondeterministic(x, "the history ends before the program does: step '%s' (%s) "
                                    "has no recorded outcome", step_path(x, c), step_kind(x, c));
                return;
            }
            start_live(x, c);
            progressed = 1;
            /* a pure step's outcome is delivered at once; if it made the VM
             * give up on other commands (a failed iteration stops its
             * siblings), those must not start: take the cancels first, as
             * a replay does when it delivers this outcome */
            if (vm_cancels_pending(x->vm)) break;
        }
        if (!progressed) return;
        if (x->g->txn && std_now_ms() - x->g->txn_ms >= TXN_HOLD_MS) flush(x->g); /* see txn_open */
    }
}

/* ---- cancel and terminate ---------------------------------------------- */

/* Hand request text (JSON {mode, reason}) to the attached child of call c,
 * if it has one that has not finished. A child in this engine gets it once
 * its replay is over (at once if it has none left): it is unlinked from c
 * first, so its end does not resolve c. A child in the store gets it in its
 * request column: the process holding its lease applies it within a tick;
 * one nobody holds (its process died, or it waits parked) is loaded into
 * this engine, which applies it after its replay; one that cannot be
 * loaded keeps it for whoever loads it next. Either way the child passes a
 * terminate on to its own children when it applies it. */
static void request_child(exec *x, cmd *c, const char *text)
{
    vm_engine *g = x->g;
    if (g->o.replay_only || x->hfinal || strcmp(step_kind(x, c), "call") ||
        json_is_true(json_object_get(step_entry(x, c), "detach")))
        return;
    exec *ch = c->child;
    if (ch) {
        c->child = NULL;
        ch->parent_cmd = NULL;
        x->running--;
    } else if (!c->in_history) { /* never started: there is no child */
        return;
    }
    std_err e = {0};
    if (!ch) {
        char wid[512], run_id[64];
        store_run r = {0};
        call_child_id(x, c, wid, sizeof wid);
        if (store_run_get(g->st, wid, &r, &e) <= 0) return;
        int live = !strcmp(r.status, "running") || !strcmp(r.status, "waiting");
        snprintf(run_id, sizeof run_id, "%s", r.run_id);
        store_run_clear(&r);
        if (!live) return;
        ch = find_exec(g, run_id);
        if (!ch) { /* loaded with the request pending; a live holder refuses */
            char got[64];
            if (store_run_request(g->st, run_id, text, &e) == 0) vm_engine_resume(g, run_id, got, &e);
            return;
        }
    }
    if (ch->done) return;
    /* in the store too: should this process die before the child has
     * applied it, whoever loads the child next does */
    store_run_request(g->st, ch->run_id, text, &e);
    free(ch->pending_request);
    ch->pending_request = strdup(text);
    if (!ch->pending_request) abort();
    ch->dirty = 1;
}

/* Apply a request {mode: cancel|terminate, reason} to x. A cancel is an
 * event of the history, delivered to the VM like an outcome; a terminate
 * ends the run at once and runs nothing more. */
static void apply_request(exec *x, const char *text)
{
    json_t *req = json_loads(text, 0, NULL);
    const char *mode = json_string_value(json_object_get(req, "mode"));
    const char *reason = json_string_value(json_object_get(req, "reason"));
    std_err e = {0};
    store_run_request_clear(x->g->st, x->run_id, &e);
    if (!x->done && mode && !strcmp(mode, "terminate")) {
        json_t *err = json_pack("{s:s, s:s}", "type", "terminated", "message",
                                reason && *reason ? reason : "the run was terminated");
        finalize(x, "terminated", NULL, err);
        json_decref(err);
    } else if (!x->done && mode && !strcmp(mode, "cancel") && !x->cancelled) {
        x->cancelled = 1;
        record(x, "cancel_requested", json_pack("{s:s}", "reason", reason ? reason : ""));
        vm_cancel(x->vm, reason);
        x->dirty = 1;
    }
    json_decref(req);
}

static void on_request(void *ud, const char *run_id, const char *request)
{
    vm_engine *g = ud;
    for (exec *x = g->execs; x; x = x->next)
        if (!strcmp(x->run_id, run_id)) apply_request(x, request);
}

int vm_owner_is_dead(const char *owner)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    size_t hl = strlen(host);
    if (strncmp(owner, host, hl) != 0 || owner[hl] != '/') return 0;
    long pid = strtol(owner + hl + 1, NULL, 10);
    if (pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

#define TICK_MS 200
#define LEASE_MS 15000

/* Every tick: take requests for our runs; every few seconds: renew leases. */
static void tick(std_loop *l, void *ud)
{
    vm_engine *g = ud;
    std_err e = {0};
    g->tick = std_loop_timer(l, std_now_ms() + TICK_MS, tick, g);
    if (!g->txn) store_checkpoint(g->st); /* outside group commits (see store.h) */
    if (store_requests_take(g->st, g->owner, on_request, g, &e) != 0) return;
    for (exec *x = g->execs; x; x = x->next) { /* signals for runs waiting here */
        if (x->done || x->parked || x->waits == 0) continue;
        for (size_t i = 0; i < x->ncmds; i++) {
            cmd *c = x->cmds[i];
            if (c->status == CMD_RUNNING && !strcmp(step_kind(x, c), "wait")) take_signal(x, c);
        }
    }
    if (++g->ticks % 20 == 0 && g->execs && !g->txn) { /* one commit for every lease */
        int rc = store_begin(g->st, &e);
        for (exec *x = g->execs; x && rc == 0; x = x->next)
            if (!x->done && store_run_lease(g->st, x->run_id, g->owner, std_now_ms() + LEASE_MS, &e) < 0) rc = -1;
        if (rc == 0) rc = store_commit(g->st, &e);
        if (rc != 0) store_rollback(g->st);
    }
}

/* ---- runs -------------------------------------------------------------- */

static exec *new_exec(vm_engine *g, const char *run_id, const char *workflow_id, vm_program *prog)
{
    exec *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->g = g;
    snprintf(x->run_id, sizeof x->run_id, "%s", run_id);
    x->workflow_id = strdup(workflow_id);
    x->prog = prog;
    x->dirty = 1;
    x->next = g->execs;
    g->execs = x;
    return x;
}

static void free_exec(exec *x)
{
    for (size_t i = 0; i < x->ncmds; i++) {
        if (x->cmds[i]->act) vm_act_cancel(x->cmds[i]->act);
        if (x->cmds[i]->timer) std_loop_timer_cancel(x->g->loop, x->cmds[i]->timer);
        vm_cmd_free(&x->cmds[i]->vc);
        free(x->cmds[i]);
    }
    free(x->cmds);
    if (x->deadline_timer) std_loop_timer_cancel(x->g->loop, x->deadline_timer);
    vm_run_free(x->vm);
    if (x->sp) { /* the last run of a shared program frees it */
        if (--x->sp->refs == 0) {
            for (shared_prog **pp = &x->g->progs; *pp; pp = &(*pp)->next)
                if (*pp == x->sp) {
                    *pp = x->sp->next;
                    break;
                }
            vm_program_free(x->sp->p);
            free(x->sp);
        }
    } else {
        vm_program_free(x->prog);
    }
    store_events_free(x->hist, x->nhist);
    json_decref(x->hsched);
    json_decref(x->hfinal);
    json_decref(x->secrets);
    json_decref(x->effects);
    json_decref(x->effect_n);
    json_decref(x->sig_taken);
    json_decref(x->can_input);
    json_decref(x->started);
    free(x->pending_request);
    for (size_t i = 0; x->respay && i < x->nres; i++) json_decref(x->respay[i]);
    free(x->respay);
    free(x->res);
    free(x->workflow_id);
    free(x);
}

/* now(), uuid(), random(): the value recorded at this point of the run, or
 * a new one, recorded. A point is the lua step running, or else the next
 * command number: replay reaches the same points in the same order. */
static json_t *side_effect(void *ud, const char *kind)
{
    exec *x = ud;
    char key[64], k2[80];
    if (x->lua_seq) snprintf(key, sizeof key, "s%lld", (long long)x->lua_seq);
    else snprintf(key, sizeof key, "v%lld", (long long)vm_next_seq(x->vm));
    json_int_t n = json_integer_value(json_object_get(x->effect_n, key));
    json_object_set_new(x->effect_n, key, json_integer(n + 1));
    snprintf(k2, sizeof k2, "%s#%lld", key, (long long)n);
    json_t *rec = json_object_get(x->effects, k2);
    if (rec) return json_incref(json_object_get(rec, "value"));
    if (x->hfinal || x->g->o.replay_only) return NULL; /* a replay must not make new ones */
    json_t *v;
    if (!strcmp(kind, "now")) {
        char ts[40];
        std_fmt_time(std_now_ms(), ts, sizeof ts);
        v = json_string(ts);
    } else if (!strcmp(kind, "uuid")) {
        char h[33], u[40];
        std_random_hex(h);
        h[12] = '4';
        h[16] = "89ab"[h[16] % 4];
        snprintf(u, sizeof u, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
        v = json_string(u);
    } else {
        char h[33];
        std_random_hex(h);
        v = json_real((double)(strtoull(h + 16, NULL, 16) >> 11) / 9007199254740992.0);
    }
    json_object_set_new(x->effects, k2, json_pack("{s:s, s:O}", "kind", kind, "value", v));
    record(x, "side_effect", json_pack("{s:s, s:s, s:O}", "key", k2, "kind", kind, "value", v));
    return v;
}

/* Read the program's secrets from the environment; -1 if one is missing. */
static int load_secrets(exec *x, std_err *e)
{
    x->secrets = json_object();
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(x->prog->meta, "secrets"), i, name) {
        const char *v = getenv(json_string_value(name));
        if (!v)
            return std_errf(e, "secret.missing", "secret %s is not set in the environment",
                            json_string_value(name));
        json_object_set_new(x->secrets, json_string_value(name), json_string(v));
    }
    return 0;
}

static void run_timed_out(std_loop *l, void *ud);

/* Create the VM of x with its globals, and arm the whole-run timeout. */
static int boot(exec *x, json_t *input, int64_t started_ms, std_err *e)
{
    char ts[40];
    std_fmt_time(started_ms, ts, sizeof ts);
    json_t *globals = json_pack("{s:O, s:{s:s, s:s, s:s, s:s}, s:O}", "input", input, "run", "id",
                                x->workflow_id, "run_id", x->run_id, "workflow", x->prog->name,
                                "started_at", ts, "secrets", x->secrets);
    /* a scheduled run's slot; with data intervals it covers [interval_start,
     * scheduled_at) and its logical date is the start (Airflow 2) */
    json_t *sched = json_object_get(x->started, "scheduled_at"), *run = json_object_get(globals, "run");
    json_t *from = json_object_get(x->started, "interval_start");
    if (sched) json_object_set(run, "scheduled_at", sched);
    else sched = json_object_get(run, "started_at"); /* a run by hand covers its start */
    json_object_set(run, "interval_start", from ? from : sched);
    json_object_set(run, "interval_end", sched);
    json_object_set(run, "logical_date", from ? from : sched);
    x->vm = vm_run_new(x->prog, globals, x->g->lua, e);
    json_decref(globals);
    if (!x->effects) x->effects = json_object();
    x->effect_n = json_object();
    x->sig_taken = json_object();
    if (x->vm) vm_run_set_effects(x->vm, side_effect, x);
    json_int_t tmo = json_integer_value(json_object_get(x->prog->meta, "timeout_ms"));
    if (x->vm && tmo > 0) {
        x->deadline_ms = started_ms + tmo;
        x->deadline_timer = std_loop_timer(x->g->loop, x->deadline_ms, run_timed_out, x);
    }
    return x->vm ? 0 : -1;
}

/* The whole-run timeout: stop what is in flight and fail the run. */
static void run_timed_out(std_loop *l, void *ud)
{
    exec *x = ud;
    /* called by its timer, or directly by a run resumed past its deadline:
     * then the timer is still armed and must not fire later */
    if (x->deadline_timer) std_loop_timer_cancel(l, x->deadline_timer);
    x->deadline_timer = 0;
    if (x->done) return;
    char d[32], msg[128];
    std_duration_fmt(json_integer_value(json_object_get(x->prog->meta, "timeout_ms")), d, sizeof d);
    snprintf(msg, sizeof msg, "the run did not finish within its timeout of %s", d);
    json_t *err = json_pack("{s:s, s:s}", "type", "timeout", "message", msg);
    finalize(x, "failed", NULL, err);
    json_decref(err);
}

vm_engine *vm_engine_new(store *s, const vm_engine_opts *o)
{
    vm_engine *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->st = s;
    if (o) g->o = *o;
    g->loop = std_loop_new();
    g->http = std_http_new(g->loop);
    g->finish_rows = json_array();
    g->consumed = json_array();
    g->unparks = json_array();
    g->continuations = json_array();
    g->results = json_object();
    g->lua = std_lua_host_new(NULL);
    if (!g->lua) abort();
    char host[64] = "host", rnd[33];
    gethostname(host, sizeof host - 1);
    std_random_hex(rnd);
    snprintf(g->owner, sizeof g->owner, "%s/%d/%.8s", host, (int)getpid(), rnd);
    g->tick = std_loop_timer(g->loop, std_now_ms() + TICK_MS, tick, g);
    signal(SIGPIPE, SIG_IGN); /* a child that exits early must not kill us */
    return g;
}

void vm_engine_free(vm_engine *g)
{
    if (!g) return;
    if (g->txn) flush(g); /* runs started and never driven stay recorded */
    while (g->execs) {
        exec *x = g->execs;
        g->execs = x->next;
        free_exec(x);
    }
    for (size_t k = 0; k < g->npev; k++) {
        free(g->pev[k].payload);
    }
    free(g->pev);
    free(g->to_start);
    json_decref(g->finish_rows);
    json_decref(g->consumed);
    json_decref(g->unparks);
    json_decref(g->continuations);
    json_decref(g->results);
    if (g->tick) std_loop_timer_cancel(g->loop, g->tick);
    std_http_free(g->http);
    std_loop_free(g->loop);
    std_lua_host_free(g->lua);
    free(g);
}

int vm_record_run(store *st, vm_program *prog, const char *source, const char *workflow_id,
                  json_t *input, const char *owner, char run_id[64], std_err *e)
{
    return vm_record_run_at(st, prog, source, workflow_id, input, owner, NULL, NULL, run_id, e);
}

int vm_record_run_at(store *st, vm_program *prog, const char *source, const char *workflow_id,
                     json_t *input, const char *owner, const char *scheduled_at,
                     const char *interval_start, char run_id[64], std_err *e)
{
    char *code = vm_program_serialize(prog);
    /* 12 hex digits of the creation time in ms, then 20 random ones: runs
     * created together have neighbouring ids, so the rows of their events
     * (keyed by run id) share B-tree pages instead of dirtying one page each
     * in every group commit */
    char rid[33];
    std_random_hex(rid);
    int64_t now = std_now_ms();
    snprintf(run_id, 64, "%012llx%.20s", (unsigned long long)now & 0xffffffffffffULL, rid);
    char *in = dump(input);
    store_run r = {.workflow_id = (char *)workflow_id, .run_id = run_id, .name = prog->name,
                   .program_hash = prog->hash, .status = "running", .input = in,
                   .created_ms = now, .updated_ms = now};
    int rc = store_program_put(st, prog->hash, prog->name, prog->file, source, code, strlen(code), e);
    if (rc == 0) rc = store_run_create(st, &r, e);
    if (rc == 0 && owner && store_run_lease(st, run_id, owner, now + LEASE_MS, e) < 0) rc = -1;
    if (rc == 0) {
        json_t *p = json_pack("{s:s, s:s, s:s, s:O}", "workflow", prog->name, "run_id", run_id,
                              "program", prog->hash, "input", input);
        if (scheduled_at) json_object_set_new(p, "scheduled_at", json_string(scheduled_at));
        if (interval_start) json_object_set_new(p, "interval_start", json_string(interval_start));
        char *pt = dump(p);
        json_decref(p);
        rc = store_event_append(st, run_id, 1, "run_started", now, pt, e);
        free(pt);
    }
    free(code);
    free(in);
    return rc;
}

/* Record a new run into the engine's transaction (committed by the next
 * flush). A failure leaves the transaction as it was. */
static int record_new(vm_engine *g, vm_program *prog, const char *source, const char *workflow_id,
                      json_t *input, const char *owner, char run_id[64], std_err *e)
{
    int rc = txn_open(g, e);
    if (rc == 0 && (rc = store_savepoint(g->st, e)) == 0) {
        rc = vm_record_run(g->st, prog, source, workflow_id, input, owner, run_id, e);
        store_savepoint_end(g->st, rc == 0);
    }
    if (rc == 0) {
        g->txn_starts++;
    } else if (g->txn && !store_in_txn(g->st)) {
        /* SQLite ended the transaction itself (an I/O error): the runs
         * recorded in it are lost, which only the whole engine can report */
        g->txn = 0;
        if (g->txn_starts > 0 && !g->failed) {
            g->fatal = *e;
            g->failed = 1;
        }
    }
    return rc;
}

int vm_engine_start(vm_engine *g, vm_program *prog, const char *source,
                    const char *workflow_id, json_t *input, char run_id[64], std_err *e)
{
    int64_t now = std_now_ms();
    if (record_new(g, prog, source, workflow_id, input, g->owner, run_id, e) != 0) {
        vm_program_free(prog);
        return -1;
    }
    exec *x = new_exec(g, run_id, workflow_id, prog);
    x->last_event = 1;
    x->hsched = json_object();
    x->started = json_pack("{s:O}", "input", input);
    if (load_secrets(x, e) != 0 || boot(x, input, now, e) != 0) {
        json_t *err = json_pack("{s:s, s:s}", "type", e->type[0] ? e->type : "lua", "message", e->msg);
        finalize(x, "failed", NULL, err);
        json_decref(err);
    }
    return 0;
}

int vm_engine_resume(vm_engine *g, const char *id, char run_id[64], std_err *e)
{
    return vm_engine_resume_on(g, id, NULL, run_id, e);
}

static int load_run(vm_engine *g, exec *x, std_err *e);

/* Take (or renew) run_id's lease for g: 1 if taken, 0 if a live process
 * holds it, -1 on a storage error. A holder of this host whose process is
 * gone (kill -9, crash) is taken over at once. */
static int take_lease(vm_engine *g, const char *run_id, std_err *e)
{
    int leased = store_run_lease(g->st, run_id, g->owner, std_now_ms() + LEASE_MS, e);
    if (leased == 0) {
        char *owner = NULL;
        int64_t until = 0;
        store_run_lease_info(g->st, run_id, &owner, &until, e);
        if (owner && vm_owner_is_dead(owner))
            leased = store_run_lease_steal(g->st, run_id, g->owner, std_now_ms() + LEASE_MS, owner, e);
        free(owner);
    }
    return leased;
}

/* Load run r (its lease taken, or not needed for a replay) into g, on
 * forced or on its stored program: 0; -1 with e filled when the store
 * failed (busy, I/O: loading it again may work); -2 when the run cannot be
 * loaded as it is stored (its program is missing, damaged or not the one
 * its hash names, its history is damaged, a secret is not set, ...).
 * Nothing is left in g on failure (the lease is the caller's to release). */
static int load_exec(vm_engine *g, const store_run *r, vm_program *forced, std_err *e)
{
    vm_program *prog = forced;
    shared_prog *sp = NULL;
    if (!prog) {
        for (sp = g->progs; sp && strcmp(sp->hash, r->program_hash ? r->program_hash : ""); sp = sp->next) {}
    }
    if (!prog && !sp) {
        std_buf code = {0};
        int got = store_program_get(g->st, r->program_hash, &code, e);
        if (got <= 0) {
            if (got < 0) return -1;
            std_errf(e, "load", "program %.12s of run %s is missing", r->program_hash ? r->program_hash : "?",
                     r->run_id);
            return -2;
        }
        prog = vm_program_load(code.p, code.len, e);
        std_buf_free(&code);
        if (!prog) return -2;
        if (!r->program_hash || strcmp(prog->hash, r->program_hash)) {
            std_errf(e, "load", "the stored program of run %s is not the one it started on (its code "
                     "hashes to %.12s, the run names %.12s)", r->run_id, prog->hash,
                     r->program_hash ? r->program_hash : "?");
            vm_program_free(prog);
            return -2;
        }
        if (strlen(r->program_hash) < sizeof sp->hash) {
            sp = calloc(1, sizeof *sp);
            if (!sp) abort();
            snprintf(sp->hash, sizeof sp->hash, "%s", r->program_hash);
            sp->p = prog;
            sp->next = g->progs;
            g->progs = sp;
        }
    }
    if (sp) {
        prog = sp->p;
        sp->refs++;
    }
    exec *x = new_exec(g, r->run_id, r->workflow_id, prog);
    x->sp = sp;
    int rc = load_run(g, x, e);
    if (rc == 0) return 0;
    for (exec **pp = &g->execs; *pp; pp = &(*pp)->next) /* out of the engine's list */
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    free_exec(x);
    return rc;
}

int vm_engine_resume_on(vm_engine *g, const char *id, vm_program *forced, char run_id[64], std_err *e)
{
    store_run r = {0};
    int found = store_run_get(g->st, id, &r, e);
    if (found <= 0) {
        vm_program_free(forced);
        if (found == 0) std_errf(e, "notfound", "no run with id '%s'", id);
        return -1;
    }
    snprintf(run_id, 64, "%s", r.run_id);
    /* a replay only reads: no lease */
    int leased = g->o.replay_only ? 1 : take_lease(g, r.run_id, e);
    if (leased == 0) {
        char *owner = NULL;
        int64_t until = 0;
        store_run_lease_info(g->st, r.run_id, &owner, &until, e);
        std_errf(e, "leased",
                 "run %s is being executed by another process (%s); its lease expires in %llds "
                 "if that process is gone",
                 r.workflow_id, owner ? owner : "?", (long long)((until - std_now_ms()) / 1000 + 1));
        free(owner);
    }
    if (leased <= 0) {
        store_run_clear(&r);
        vm_program_free(forced);
        return -1;
    }
    int rc = load_exec(g, &r, forced, e);
    if (rc != 0 && !g->o.replay_only) { /* not loaded: lease released */
        std_err e2 = {0};
        store_run_release(g->st, r.run_id, g->owner, &e2);
    }
    exec *x = rc == 0 ? find_exec(g, r.run_id) : NULL;
    if (x && !x->hfinal && !g->o.replay_only && !strcmp(r.status, "needs_attention"))
        json_array_append_new(g->unparks, json_string(r.run_id)); /* a worker could not load it */
    store_run_clear(&r);
    return rc == 0 ? 0 : -1;
}

/* History, secrets and VM of a resumed run: 0, -1 (the store failed) or
 * -2 (it cannot be loaded as stored), like load_exec. */
static int load_run(vm_engine *g, exec *x, std_err *e)
{
    if (store_events_load(g->st, x->run_id, &x->hist, &x->nhist, e) != 0) return -1;
    if (index_history(x, e) != 0) return -2;
    if (x->nhist == 0 || strcmp(x->hist[0].type, "run_started") != 0 ||
        !(x->started = json_loads(x->hist[0].payload ? x->hist[0].payload : "", 0, NULL))) {
        std_errf(e, "load", "history of run %s does not begin with a run_started event", x->run_id);
        return -2;
    }
    if (load_secrets(x, e) != 0) return -2;
    if (boot(x, json_object_get(x->started, "input"), x->hist[0].time_ms, e) != 0) return -2;
    for (size_t i = 0; i < x->nres; i++) /* a cancel the history already has */
        if (!strcmp(x->hist[x->res[i]].type, "cancel_requested")) x->cancelled = 1;
    char *req = NULL;
    if (!x->hfinal && store_run_request_get(g->st, x->run_id, &req, e) == 0 && req) {
        /* a request made while no process ran it: applied after the replay */
        x->pending_request = req;
        req = NULL;
    }
    free(req);
    return 0;
}

/* A run whose next timer is closer than this stays in memory. */
#define PARK_MIN_MS 1000

/* When a run that waits only on timers and signals is next due (0: only
 * signals), or -1 when that is too soon to leave memory. */
static int64_t park_wake(exec *x)
{
    int64_t wake = 0;
    for (size_t i = 0; i < x->ncmds; i++) {
        cmd *c = x->cmds[i];
        int64_t t = c->status == CMD_BACKOFF ? c->retry_at : c->timer ? c->fire_at : 0;
        if (t > 0 && (wake == 0 || t < wake)) wake = t;
    }
    if (x->deadline_ms > 0 && (wake == 0 || x->deadline_ms < wake)) wake = x->deadline_ms;
    if (wake > 0 && wake - std_now_ms() < PARK_MIN_MS) return -1; /* due soon: stay */
    return wake;
}

/* Park the runs of this turn that wait only on timers and signals: they
 * leave memory, the store keeps when their first timer is due. One
 * transaction for all of them (their events are committed already). */
static void park_idle(vm_engine *g)
{
    int open = 0, rc = 0;
    std_err e = {0};
    if (g->txn) return; /* (a turn ends with it committed) */
    for (exec *x = g->execs; x && rc == 0; x = x->next) {
        if (x->done || x->parked || !(x->running > 0 && x->running == x->waits && x->rpos >= x->nres &&
                                      !x->parent_cmd && !x->pending_request))
            continue;
        int64_t wake = park_wake(x);
        if (wake < 0) continue;
        if (!open && (rc = store_begin(g->st, &e)) != 0) break;
        open = 1;
        rc = store_run_park(g->st, x->run_id, g->owner, wake, &e);
        x->parked = 1;
    }
    if (open && rc == 0) rc = store_commit(g->st, &e);
    if (open && rc != 0) { /* none parked: they stay in memory */
        store_rollback(g->st);
        for (exec *x = g->execs; x; x = x->next)
            if (!x->done) x->parked = 0;
    }
}

/* Unlink and free the runs that finished or parked (the worker keeps only
 * what is in flight in memory). */
static int drop_idle(vm_engine *g)
{
    int n = 0;
    for (exec **pp = &g->execs; *pp;) {
        exec *x = *pp;
        if (x->done || x->parked) {
            *pp = x->next;
            free_exec(x);
            n++;
        } else {
            pp = &x->next;
        }
    }
    return n;
}

/* Start the next runs of continue_as_new: same workflow id, new run id,
 * new input, empty history, the same program. */
static void start_continuations(vm_engine *g)
{
    while (json_array_size(g->continuations)) {
        json_t *c = json_incref(json_array_get(g->continuations, 0));
        json_array_remove(g->continuations, 0);
        const char *text = json_string_value(json_array_get(c, 0));
        std_err e = {0};
        vm_program *p = vm_program_load(text, strlen(text), &e);
        char run_id[64] = "";
        json_t *in = p ? vm_input_check(p, json_array_get(c, 2), &e) : NULL;
        if (!in) vm_program_free(p);
        if (in && vm_engine_start(g, p, NULL, json_string_value(json_array_get(c, 1)), in, run_id, &e) == 0)
            json_object_set_new(json_object_get(g->results, json_string_value(json_array_get(c, 3))),
                                "next", json_string(run_id));
        json_decref(in);
        json_decref(c);
    }
}

int vm_engine_turn(vm_engine *g, int64_t max_wait_ms, std_err *e)
{
    int dirty = 1;
    while (dirty) {
        dirty = 0;
        for (exec *x = g->execs; x; x = x->next)
            if (!x->done && x->dirty) drive(x);
        if (flush(g) != 0) break;
        /* effects start only after their events are committed */
        size_t n = g->nstart;
        g->nstart = 0;
        cmd **queued = g->to_start;
        g->to_start = NULL;
        g->capstart = 0;
        for (size_t i = 0; i < n; i++) {
            queued[i]->queued = 0;
            if (!queued[i]->x->done && queued[i]->status == CMD_STARTING)
                start_effect(queued[i]->x, queued[i]);
        }
        free(queued);
        start_continuations(g);
        dirty = g->txn && !g->failed; /* runs recorded since the flush: commit them this turn */
        for (exec *x = g->execs; x; x = x->next) dirty |= !x->done && x->dirty;
    }
    if (g->failed) {
        *e = g->fatal;
        return -1;
    }
    if (g->o.park) park_idle(g);
    int live = 0;
    for (exec *x = g->execs; x; x = x->next)
        if (!x->done && !x->parked) live += x->running > 0;
    /* finished runs leave memory (their results stay in g->results); when
     * some did, the caller may have room for more: no wait this time */
    if (drop_idle(g) > 0 && max_wait_ms > 0) max_wait_ms = 0;
    if (!live && g->acts_live == 0 && max_wait_ms < 0) return 0; /* nothing left to wait for */
    if (std_loop_run_once(g->loop, live || g->acts_live ? (max_wait_ms < 0 ? -1 : max_wait_ms)
                                                        : (max_wait_ms < 0 ? 0 : max_wait_ms)) < 0)
        return std_errf(e, "internal", "poll: %s", strerror(errno));
    return live || g->acts_live ? 1 : 0;
}

int vm_engine_run(vm_engine *g, std_err *e)
{
    int rc;
    while ((rc = vm_engine_turn(g, -1, e)) > 0) {}
    return rc < 0 ? -1 : 0;
}

/* ---- the worker's side ------------------------------------------------- */

typedef struct claim_ctx {
    vm_engine *g;
    json_t *ids;
    json_t *dead;  /* owner -> true/false, asked once per claim */
} claim_ctx;

static void on_claimable(void *ud, const char *run_id, const char *owner)
{
    claim_ctx *c = ud;
    if (find_exec(c->g, run_id)) return; /* ours already (an expired lease of our own) */
    json_array_append_new(c->ids, json_string(run_id));
}

/* A run leased by another process of this host: ours to take if it is gone. */
static void on_leased_local(void *ud, const char *run_id, const char *owner)
{
    claim_ctx *c = ud;
    json_t *d = json_object_get(c->dead, owner);
    if (!d) {
        d = json_boolean(vm_owner_is_dead(owner));
        json_object_set_new(c->dead, owner, d);
    }
    if (json_is_true(d) && !find_exec(c->g, run_id)) json_array_append_new(c->ids, json_string(run_id));
}

/* How often a worker looks for runs held by dead processes of its host. */
#define SWEEP_MS 1000

int vm_engine_claim(vm_engine *g, int max, std_err *e)
{
    if (max <= 0) return 0;
    if (g->txn && flush(g) != 0) {
        *e = g->fatal;
        return -1;
    }
    claim_ctx c = {g, json_array(), NULL};
    if (store_runs_claimable(g->st, std_now_ms(), max, on_claimable, &c, e) != 0) {
        json_decref(c.ids);
        return -1;
    }
    int64_t now = std_now_ms();
    if ((int)json_array_size(c.ids) < max && now >= g->next_sweep) {
        char host[80] = "host", prefix[100];
        gethostname(host, sizeof host - 1);
        snprintf(prefix, sizeof prefix, "%s/", host);
        g->next_sweep = now + SWEEP_MS;
        c.dead = json_object();
        int rc = store_runs_leased_by(g->st, now, prefix, g->owner, on_leased_local, &c, e);
        json_decref(c.dead);
        if (rc != 0) {
            json_decref(c.ids);
            return -1;
        }
        while ((int)json_array_size(c.ids) > max) json_array_remove(c.ids, json_array_size(c.ids) - 1);
    }
    /* The leases of the whole claim in one transaction: one commit however
     * many runs. Each lease is still a conditional update under the write
     * lock, so of two workers claiming the same run one gets it. Nothing of
     * a run is executed before its lease is committed. */
    json_t *taken = json_array();
    size_t i;
    json_t *id;
    std_err le = {0};
    int rc = json_array_size(c.ids) ? store_begin(g->st, &le) : 0;
    json_array_foreach(c.ids, i, id) {
        if (rc != 0) break;
        int l = take_lease(g, json_string_value(id), &le);
        if (l < 0) rc = -1;
        else if (l > 0) json_array_append(taken, id);
    }
    if (rc == 0 && json_array_size(c.ids)) rc = store_commit(g->st, &le);
    json_decref(c.ids);
    if (rc != 0) { /* e.g. busy past the timeout: nothing taken, the next claim tries again */
        store_rollback(g->st);
        json_decref(taken);
        return 0;
    }
    int n = 0;
    json_t *failed = json_array(), *broken = json_array();
    json_array_foreach(taken, i, id) {
        std_err e2 = {0};
        store_run r = {0};
        int lrc = store_run_get(g->st, json_string_value(id), &r, &e2) > 0 ? 1 : -1;
        /* another worker may have finished it between the select and the
         * lease: it is only released (unparked, it would be running again,
         * and claimed and replayed for ever) */
        if (lrc > 0 && (!strcmp(r.status, "running") || !strcmp(r.status, "waiting")))
            lrc = load_exec(g, &r, NULL, &e2);
        if (lrc == 0) {
            /* marked running by the next flush, before any event of it */
            json_array_append(g->unparks, id);
            n++;
        } else if (lrc == -2) { /* loading it again would fail again */
            json_array_append_new(broken, json_pack("[O, s, s, s]", id, r.workflow_id, e2.type, e2.msg));
        } else { /* -1 or 1 (finished) */
            json_array_append(failed, id);
        }
        store_run_clear(&r);
    }
    if (json_array_size(failed) || json_array_size(broken)) {
        /* a store failure or a finished run: the run stays as it is, for the
         * next claim if it is due; a run
         * that cannot be loaded leaves the claimable ones, visibly */
        std_err e2 = {0};
        int frc = store_begin(g->st, &e2);
        json_array_foreach(failed, i, id) if (frc == 0) frc = store_run_release(g->st, json_string_value(id), g->owner, &e2);
        json_t *b;
        json_array_foreach(broken, i, b) {
            const char *why = json_string_value(json_array_get(b, 3));
            json_t *err = json_pack("{s:s, s:s}", "type", "load", "message", why);
            char *et = dump(err);
            json_decref(err);
            if (frc == 0)
                frc = store_run_end(g->st, json_string_value(json_array_get(b, 0)), g->owner, "needs_attention",
                                    NULL, et, &e2);
            free(et);
        }
        if (frc == 0) frc = store_commit(g->st, &e2);
        if (frc != 0) store_rollback(g->st);
        json_array_foreach(broken, i, b) {
            if (frc == 0)
                fprintf(stderr, "wfdsl worker: run %s (%s) cannot be loaded: %s; it is marked "
                                "needs_attention ('wfdsl resume %s' continues it once the cause is fixed)\n",
                        json_string_value(json_array_get(b, 1)), json_string_value(json_array_get(b, 0)),
                        json_string_value(json_array_get(b, 3)), json_string_value(json_array_get(b, 1)));
        }
    }
    json_decref(failed);
    json_decref(broken);
    json_decref(taken);
    return n;
}

int vm_engine_live(const vm_engine *g)
{
    int n = 0;
    for (exec *x = g->execs; x; x = x->next) n += !x->done && !x->parked;
    return n;
}

void vm_engine_release(vm_engine *g)
{
    std_err e = {0};
    flush(g);
    for (exec *x = g->execs; x; x = x->next)
        if (!x->done && !x->parked) store_run_release(g->st, x->run_id, g->owner, &e);
}

const char *vm_engine_result(vm_engine *g, const char *run_id, json_t **output, json_t **error)
{
    json_t *r = json_object_get(g->results, run_id);
    for (int hops = 0; r && json_object_get(r, "next") && hops < 1000; hops++)
        r = json_object_get(g->results, json_string_value(json_object_get(r, "next")));
    if (!r) return NULL;
    if (output) *output = json_object_get(r, "output");
    if (error) *error = json_object_get(r, "error");
    return json_string_value(json_object_get(r, "status"));
}
