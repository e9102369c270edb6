/* engine.h — the engine: one event loop that drives runs, records their
 * history in the store, replays it after a crash and executes effects.
 *
 * For every run in memory it feeds the VM the recorded outcomes of its
 * history in recorded order (replay), checks that the VM issues the same
 * commands the history holds (non-determinism otherwise), then executes
 * what the history does not have: pure steps inline, effects (shell, http,
 * child workflows) on the loop. Events of a turn, and the runs started
 * since the last commit, are written in one transaction (group commit), and
 * no effect starts before the events it depends on are committed. A worker
 * claims, unparks and parks runs in batches: one transaction each.
 *
 * It does not parse YAML or command lines (dsl/, main.c).
 */
#ifndef WF_ENGINE_H
#define WF_ENGINE_H

#include <jansson.h>
#include "program.h"
#include "../storage/store.h"

typedef struct vm_engine vm_engine;

typedef struct vm_engine_opts {
    int progress;      /* one line per step on stderr */
    int replay_only;   /* never execute: a run that needs an effect is an error */
    /* Crash tests: SIGKILL this process right after the commit that makes a
     * run's history reach this many events (0: never). */
    int64_t kill_after_event;
    int park;          /* worker: runs waiting only on timers/signals leave memory */
} vm_engine_opts;

vm_engine *vm_engine_new(store *s, const vm_engine_opts *o);
void vm_engine_free(vm_engine *g);

/* Record a new run of prog (the program is stored if it is new) and load it
 * into the engine; input must already be checked. run_id gets its id.
 * Takes ownership of prog. The record goes into the engine's write
 * transaction (opened here if needed, holding the database's write lock)
 * and is committed by the next flush of vm_engine_turn/vm_engine_run —
 * always before any effect of the run starts — or by vm_engine_free. */
int vm_engine_start(vm_engine *g, vm_program *prog, const char *source,
                    const char *workflow_id, json_t *input, char run_id[64], std_err *e);

/* Load an existing run (by run or workflow id) from the store, on its
 * stored program, and replay its history. */
int vm_engine_resume(vm_engine *g, const char *id, char run_id[64], std_err *e);
/* The same on another program (taking ownership of it): what a changed
 * workflow would do with the run's history. */
int vm_engine_resume_on(vm_engine *g, const char *id, vm_program *prog, char run_id[64], std_err *e);

/* Record a new run of prog in the store (program, run, run_started) inside
 * the caller's transaction, leased to owner when owner is not NULL. */
int vm_record_run(store *st, vm_program *prog, const char *source, const char *workflow_id,
                  json_t *input, const char *owner, char run_id[64], std_err *e);
/* The same for a run started by a trigger: scheduled_at (RFC 3339) is its
 * nominal fire time, seen as run.scheduled_at and run.interval_end;
 * interval_start (or NULL: scheduled_at) is the start of the data interval
 * it covers, seen as run.interval_start and run.logical_date. */
int vm_record_run_at(store *st, vm_program *prog, const char *source, const char *workflow_id,
                     json_t *input, const char *owner, const char *scheduled_at,
                     const char *interval_start, char run_id[64], std_err *e);

/* Drive every loaded run until none is left in memory. -1 on a storage or
 * internal error (e filled). */
int vm_engine_run(vm_engine *g, std_err *e);

/* One turn of the loop: drive runs, commit, start effects, wait at most
 * max_wait_ms (-1: until something happens, and return 0 once nothing is
 * left). Returns 1 while runs are live, 0 when idle, -1 on error. */
int vm_engine_turn(vm_engine *g, int64_t max_wait_ms, std_err *e);
/* Worker: take up to max due runs from the store (new, woken, orphaned);
 * their leases are taken in one transaction, committed before any is loaded. */
int vm_engine_claim(vm_engine *g, int max, std_err *e);
/* Runs in memory and not finished. */
int vm_engine_live(const vm_engine *g);
/* Commit what is pending and release the leases of the runs in memory. */
void vm_engine_release(vm_engine *g);

/* Outcome of a run that the engine finished: its status ("completed",
 * "failed", "nondeterministic", ...), and output or error (borrowed; valid
 * until vm_engine_free). NULL status if unknown. A run that continued as
 * new reports the outcome of the run it continued as. */
const char *vm_engine_result(vm_engine *g, const char *run_id, json_t **output, json_t **error);

/* Lease owners are "host/pid/nonce". True for an owner of this host whose
 * process is gone (its lease can be taken over before it expires). */
int vm_owner_is_dead(const char *owner);


#endif
