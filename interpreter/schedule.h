/* schedule.h — cron and interval triggers of deployed workflows.
 *
 * `wfdsl deploy` stores a workflow's program and its triggers as a schedule
 * (named after the workflow). Every worker ticks the schedules: each due
 * nominal time (slot) is claimed once through the store — fired as a run
 * with the id "<workflow>@<slot, RFC 3339 UTC>", or recorded as skipped by
 * the overlap policy, buffered, or missed when it is older than the
 * catch-up window. The run sees its slot as run.scheduled_at.
 *
 * It does not execute runs: it records them for the worker's engine.
 */
#ifndef WF_SCHEDULE_H
#define WF_SCHEDULE_H

#include <jansson.h>
#include "../storage/store.h"
#include "program.h"

/* Register (or update) the schedule of p, whose meta.triggers must not be
 * empty; runs in flight keep their program. *next_ms gets the next slot. */
int vm_deploy(store *s, vm_program *p, const char *source, int64_t *next_ms, std_err *e);
int vm_undeploy(store *s, const char *name, std_err *e);

/* The first slot of triggers strictly after after_ms (0: none); *which gets
 * the index of the trigger that produces it when not NULL. */
int64_t vm_triggers_next(json_t *triggers, int64_t after_ms, int *which);
/* The slot of trigger t before slot (for data intervals), or 0. */
int64_t vm_trigger_prev(json_t *t, int64_t slot);

/* Handle every due slot of every schedule at now_ms; returns the number of
 * runs started, or -1 (also when a slot was refused because its trigger's
 * input does not fit the schema: e says which; the other slots went on). */
int vm_schedule_tick(store *s, int64_t now_ms, std_err *e);

/* Start a run of schedule `name` for slot_ms now, whatever its overlap
 * policy (manual trigger and backfill), with the input of the trigger that
 * fires at slot_ms, else of the first trigger. 1 started, 0 slot already
 * taken, -2 refused (the input does not fit the schema; e says why), -1. */
int vm_schedule_fire(store *s, const char *name, int64_t slot_ms, std_err *e);

/* The run id of a slot: "<workflow>@2026-11-25T14:00:00Z". */
void vm_slot_id(const char *name, int64_t slot_ms, char *out, size_t n);

#endif
