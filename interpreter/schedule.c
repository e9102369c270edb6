/* schedule.c — deploying workflows with triggers and firing their slots
 * exactly once across workers. See schedule.h.
 *
 * A schedule document: {workflow, program, triggers, paused, note, next_ms,
 * buffered: [slot...]}. Slot times are nominal: jitter delays when a slot
 * fires, never its id. It does not run workflows; it records runs that a
 * worker's engine executes.
 */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stdlib/cron.h"
#include "engine.h"

void vm_slot_id(const char *name, int64_t slot_ms, char *out, size_t n)
{
    char ts[40];
    std_fmt_time(slot_ms, ts, sizeof ts);
    /* whole seconds: 2026-11-25T14:00:00Z */
    if (slot_ms % 1000 == 0) {
        char *dot = strchr(ts, '.');
        if (dot) strcpy(dot, "Z");
    }
    snprintf(out, n, "%s@%s", name, ts);
}

/* The first slot after after_ms, ignoring end_at and data intervals. */
static int64_t raw_next(json_t *t, int64_t after_ms)
{
    int64_t start = json_integer_value(json_object_get(t, "start_at_ms"));
    if (start > 0 && after_ms < start - 1) after_ms = start - 1;
    int64_t next = 0;
    json_int_t every = json_integer_value(json_object_get(t, "every_ms"));
    if (every > 0) {
        int64_t anchor = start > 0 ? start : 0;
        int64_t k = after_ms < anchor ? 0 : (after_ms - anchor) / every + 1;
        next = anchor + k * every;
    } else {
        std_cron *c = NULL;
        std_err e = {0};
        if (std_cron_parse(json_string_value(json_object_get(t, "cron")), &c, &e) != 0) return 0;
        int64_t after_s = after_ms >= 0 ? after_ms / 1000 : (after_ms - 999) / 1000;
        int64_t s = std_cron_next(c, json_string_value(json_object_get(t, "timezone")), after_s);
        std_cron_free(c);
        next = s > 0 ? s * 1000 : 0;
    }
    return next;
}

int64_t vm_trigger_prev(json_t *t, int64_t slot)
{
    json_int_t every = json_integer_value(json_object_get(t, "every_ms"));
    if (every > 0) return slot - every;
    /* the last fire time before slot: widen a window backwards until it
     * holds one (a cron expression fires at least once in 8 years) */
    for (int64_t w = 60000; w < 8 * 366 * 86400000LL; w *= 2) {
        int64_t prev = 0;
        for (int64_t x = raw_next(t, slot - w - 1); x > 0 && x < slot; x = raw_next(t, x)) prev = x;
        if (prev) return prev;
    }
    return 0;
}

static int64_t trigger_next(json_t *t, int64_t after_ms)
{
    int64_t start = json_integer_value(json_object_get(t, "start_at_ms"));
    int64_t end = json_integer_value(json_object_get(t, "end_at_ms"));
    int64_t next = raw_next(t, after_ms);
    /* data intervals: a slot fires at the end of the interval it covers, so
     * the first slot after start_at only opens the first interval */
    const char *iv = json_string_value(json_object_get(t, "interval"));
    if (next > 0 && start > 0 && iv && !strcmp(iv, "data") && vm_trigger_prev(t, next) < start)
        next = raw_next(t, next);
    if (end > 0 && next > end) return 0;
    return next;
}

int64_t vm_triggers_next(json_t *triggers, int64_t after_ms, int *which)
{
    int64_t best = 0;
    size_t i;
    json_t *t;
    json_array_foreach(triggers, i, t) {
        int64_t n = trigger_next(t, after_ms);
        if (n > 0 && (best == 0 || n < best)) {
            best = n;
            if (which) *which = (int)i;
        }
    }
    return best;
}

/* Jitter: a delay in [0, jitter] derived from the slot, the same in every
 * worker, so that the fire time is deterministic. */
static int64_t jitter_of(json_t *t, int64_t slot)
{
    json_int_t j = json_integer_value(json_object_get(t, "jitter_ms"));
    if (j <= 0) return 0;
    uint64_t h = (uint64_t)slot * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return (int64_t)(h % (uint64_t)(j + 1));
}

/* The first slot a new schedule handles: for a trigger whose start_at is
 * past, the slots since then that are still within its catch-up window
 * (Airflow's catchup=True: the missed intervals since start_date run);
 * else the first slot after now. */
static int64_t first_slot(json_t *triggers, int64_t now)
{
    int64_t best = 0;
    size_t i;
    json_t *t;
    json_array_foreach(triggers, i, t) {
        int64_t start = json_integer_value(json_object_get(t, "start_at_ms"));
        int64_t back = now - json_integer_value(json_object_get(t, "catchup_ms"));
        int64_t n = start > 0 && start < now ? trigger_next(t, (start > back ? start : back) - 1)
                                             : trigger_next(t, now);
        if (n > 0 && (best == 0 || n < best)) best = n;
    }
    return best;
}

int vm_deploy(store *s, vm_program *p, const char *source, int64_t *next_ms, std_err *e)
{
    json_t *triggers = json_object_get(p->meta, "triggers");
    if (json_array_size(triggers) == 0)
        return std_errf(e, "usage", "workflow %s has no triggers to deploy", p->name);
    char *code = vm_program_serialize(p);
    char *old = NULL;
    int rc = store_begin(s, e);
    if (rc == 0) rc = store_program_put(s, p->hash, p->name, p->file, source, code, strlen(code), e);
    if (rc == 0 && store_schedule_get(s, p->name, &old, e) < 0) rc = -1;
    json_t *doc = old ? json_loads(old, 0, NULL) : NULL;
    if (!doc) doc = json_pack("{s:b, s:[]}", "paused", 0, "buffered");
    int64_t now = std_now_ms();
    *next_ms = old ? vm_triggers_next(triggers, now, NULL) : first_slot(triggers, now);
    json_object_set_new(doc, "workflow", json_string(p->name));
    json_object_set_new(doc, "program", json_string(p->hash));
    json_object_set(doc, "triggers", triggers);
    json_object_set_new(doc, "next_ms", json_integer(*next_ms));
    char *text = json_dumps(doc, JSON_COMPACT);
    if (rc == 0) rc = store_schedule_put(s, p->name, text, e);
    if (rc == 0) rc = store_schedule_log(s, p->name, old ? "redeploy" : "deploy", p->hash, e);
    if (rc == 0) rc = store_commit(s, e);
    if (rc != 0) store_rollback(s);
    free(text);
    free(old);
    free(code);
    json_decref(doc);
    return rc;
}

int vm_undeploy(store *s, const char *name, std_err *e)
{
    int rc = store_schedule_delete(s, name, e);
    if (rc == 0) return std_errf(e, "notfound", "no schedule named '%s'", name);
    if (rc < 0) return -1;
    store_schedule_log(s, name, "undeploy", NULL, e);
    return 0;
}

/* A slot whose trigger input does not fit the schema (message in e) is
 * claimed as `refused` and logged, once: it is not retried. -2 (e names the
 * schedule and slot) for the caller that refused it, 0 if another did, -1. */
static int refuse_slot(store *s, const char *name, int64_t slot, const char *ts, int from_buffer,
                       std_err *e)
{
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    if (store_begin(s, e) != 0) return -1;
    /* the slot and its log line in one transaction: logged exactly once */
    int got = from_buffer ? store_slot_update(s, name, slot, "refused", NULL, e)
                          : store_slot_claim(s, name, slot, "refused", NULL, e);
    if (got > 0 && store_schedule_log(s, name, "refused", why, e) != 0) got = -1;
    if (got >= 0 && store_commit(s, e) != 0) got = -1;
    if (got < 0) {
        store_rollback(s);
        return -1;
    }
    if (got == 0) return 0;
    std_errf(e, "input", "schedule %s: no run for %s: %s", name, ts, why);
    return -2;
}

/* Record a run of the schedule for slot (claiming the slot as `kind` first
 * unless it is a buffered slot being released). 1 started, 0 taken, -2 the
 * slot is refused (its trigger's input does not fit), -1. */
static int start_slot(store *s, json_t *doc, const char *name, int64_t slot, json_t *trig,
                      int from_buffer, std_err *e)
{
    char id[300], run_id[64], ts[40];
    vm_slot_id(json_string_value(json_object_get(doc, "workflow")), slot, id, sizeof id);
    std_fmt_time(slot, ts, sizeof ts);
    std_buf code = {0};
    int got = store_program_get(s, json_string_value(json_object_get(doc, "program")), &code, e);
    if (got <= 0) return got == 0 ? std_errf(e, "storage", "program of schedule %s is missing", name) : -1;
    vm_program *p = vm_program_load(code.p, code.len, e);
    std_buf_free(&code);
    if (!p) return -1;
    /* the trigger's input, checked and completed by the schema (deploy
     * refuses a bad one; a schedule stored by an older build may have one) */
    json_t *in = vm_input_check_as(p, json_object_get(trig, "input"), "trigger input", NULL, 0, e);
    if (!in) {
        vm_program_free(p);
        return refuse_slot(s, name, slot, ts, from_buffer, e);
    }
    int rc = store_begin(s, e);
    int claimed = 0;
    if (rc == 0) {
        claimed = from_buffer ? store_slot_update(s, name, slot, "fired", id, e)
                              : store_slot_claim(s, name, slot, "fired", id, e);
        if (claimed < 0) rc = -1;
    }
    if (rc == 0 && claimed == 1) {
        const char *iv = json_string_value(json_object_get(trig, "interval"));
        char from[40];
        if (iv && !strcmp(iv, "data")) std_fmt_time(vm_trigger_prev(trig, slot), from, sizeof from);
        rc = vm_record_run_at(s, p, NULL, id, in, NULL, ts, iv && !strcmp(iv, "data") ? from : NULL,
                              run_id, e);
    }
    json_decref(in);
    if (rc == 0) rc = store_commit(s, e);
    if (rc != 0) store_rollback(s);
    vm_program_free(p);
    return rc != 0 ? -1 : claimed == 1;
}

typedef struct ids {
    json_t *a;
} ids;

static void add_id(void *ud, const char *run_id) { json_array_append_new(((ids *)ud)->a, json_string(run_id)); }

/* Runs of this schedule still running or waiting. */
static json_t *active_runs(store *s, json_t *doc, std_err *e)
{
    char like[300];
    snprintf(like, sizeof like, "%s@%%", json_string_value(json_object_get(doc, "workflow")));
    ids r = {json_array()};
    store_runs_active(s, like, add_id, &r, e);
    return r.a;
}

static void request_all(store *s, json_t *runs, const char *mode, std_err *e)
{
    size_t i;
    json_t *id;
    json_array_foreach(runs, i, id) {
        json_t *req = json_pack("{s:s, s:s}", "mode", mode, "reason", "a newer scheduled run replaces it");
        char *t = json_dumps(req, JSON_COMPACT);
        store_run_request(s, json_string_value(id), t, e);
        free(t);
        json_decref(req);
    }
}

/* One due slot of a schedule: fire, skip, buffer or record as missed. */
static int handle_slot(store *s, json_t *doc, const char *name, int64_t slot, json_t *trig,
                       int64_t now, std_err *e)
{
    /* catchup 0 = no catch-up after downtime; the slot due now still fires */
    json_int_t window = json_integer_value(json_object_get(trig, "catchup_ms"));
    if (now - slot > (window > 0 ? window : 2000))
        return store_slot_claim(s, name, slot, "missed", NULL, e) < 0 ? -1 : 0;
    const char *overlap = json_string_value(json_object_get(trig, "overlap"));
    json_t *active = active_runs(s, doc, e);
    int busy = json_array_size(active) > 0, rc = 0;
    if (!busy || !strcmp(overlap, "allow_all")) {
        rc = start_slot(s, doc, name, slot, trig, 0, e);
    } else if (!strcmp(overlap, "skip")) {
        rc = store_slot_claim(s, name, slot, "skipped", NULL, e) < 0 ? -1 : 0;
    } else if (!strcmp(overlap, "buffer_one") || !strcmp(overlap, "buffer_all")) {
        json_t *buf = json_object_get(doc, "buffered");
        int full = !strcmp(overlap, "buffer_one") && json_array_size(buf) > 0;
        int got = store_slot_claim(s, name, slot, full ? "skipped" : "buffered", NULL, e);
        if (got < 0) rc = -1;
        else if (got == 1 && !full) json_array_append_new(buf, json_integer(slot));
    } else { /* cancel_other, terminate_other: stop what runs, then start */
        request_all(s, active, !strcmp(overlap, "cancel_other") ? "cancel" : "terminate", e);
        rc = start_slot(s, doc, name, slot, trig, 0, e);
    }
    json_decref(active);
    return rc;
}

typedef struct tick_ctx {
    store *s;
    int64_t now;
    int started;
    int failed;
    std_err *e;
} tick_ctx;

static void tick_one(void *ud, const char *name, const char *data)
{
    tick_ctx *t = ud;
    json_t *doc = json_loads(data, 0, NULL);
    if (!doc || json_is_true(json_object_get(doc, "paused"))) {
        json_decref(doc);
        return;
    }
    json_t *triggers = json_object_get(doc, "triggers");
    int64_t next = json_integer_value(json_object_get(doc, "next_ms"));
    int changed = 0, guard = 0;
    while (next > 0 && guard++ < 10000) {
        int which = 0;
        vm_triggers_next(triggers, next - 1, &which); /* the trigger that made this slot */
        json_t *trig = json_array_get(triggers, (size_t)which);
        if (next + jitter_of(trig, next) > t->now) break;
        int rc = handle_slot(t->s, doc, name, next, trig, t->now, t->e);
        if (rc == -1) {
            t->failed = 1;
            break;
        }
        if (rc == -2) t->failed = 1; /* reported; the next slots go on */
        else t->started += rc;
        next = vm_triggers_next(triggers, next, NULL);
        changed = 1;
    }
    /* a buffered slot runs once nothing of the schedule runs any more */
    json_t *buf = json_object_get(doc, "buffered");
    if (json_array_size(buf) > 0) {
        json_t *active = active_runs(t->s, doc, t->e);
        if (json_array_size(active) == 0) {
            int64_t slot = json_integer_value(json_array_get(buf, 0));
            int which = 0;
            vm_triggers_next(triggers, slot - 1, &which);
            int rc = start_slot(t->s, doc, name, slot, json_array_get(triggers, (size_t)which), 1, t->e);
            if (rc == -2) t->failed = 1;
            if (rc >= 0 || rc == -2) {
                t->started += rc > 0;
                json_array_remove(buf, 0);
                changed = 1;
            }
        }
        json_decref(active);
    }
    if (changed) {
        /* re-read: a concurrent pause or redeploy keeps its own fields */
        char *cur = NULL;
        if (store_schedule_get(t->s, name, &cur, t->e) == 1) {
            json_t *d2 = json_loads(cur, 0, NULL);
            if (d2 && json_integer_value(json_object_get(d2, "next_ms")) <= next) {
                json_object_set_new(d2, "next_ms", json_integer(next));
                json_object_set(d2, "buffered", buf);
                char *text = json_dumps(d2, JSON_COMPACT);
                store_schedule_put(t->s, name, text, t->e);
                free(text);
            }
            json_decref(d2);
        }
        free(cur);
    }
    json_decref(doc);
}

int vm_schedule_tick(store *s, int64_t now_ms, std_err *e)
{
    tick_ctx t = {s, now_ms, 0, 0, e};
    if (store_schedules_all(s, tick_one, &t, e) != 0) return -1;
    return t.failed ? -1 : t.started;
}

int vm_schedule_fire(store *s, const char *name, int64_t slot_ms, std_err *e)
{
    char *data = NULL;
    int got = store_schedule_get(s, name, &data, e);
    if (got <= 0) return got == 0 ? std_errf(e, "notfound", "no schedule named '%s'", name) : -1;
    json_t *doc = json_loads(data, 0, NULL);
    free(data);
    /* the trigger this slot belongs to (its input and interval); a time no
     * trigger fires at (`schedule trigger`) takes the first */
    json_t *triggers = json_object_get(doc, "triggers");
    int which = 0;
    if (vm_triggers_next(triggers, slot_ms - 1, &which) != slot_ms) which = 0;
    json_t *trig = json_array_get(triggers, (size_t)which);
    int rc = start_slot(s, doc, name, slot_ms, trig, 0, e);
    json_decref(doc);
    return rc;
}
