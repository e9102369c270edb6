/* vm.h — the deterministic VM that executes one run of a program.
 *
 * A run is a set of fibers (one per parallel branch later; one today) over
 * the program's instructions, plus the run's Lua sandbox that holds the data
 * the expressions see (input, vars, steps, run). The VM never talks to the
 * outside world: a STEP instruction evaluates the step's arguments and
 * issues a command with a deterministic sequence number, and the fiber
 * blocks until the engine resolves that command — from the history during
 * replay, or by executing it live. Same program + same resolutions in the
 * same order = same commands in the same order; that is the whole replay
 * contract.
 *
 * Ownership: the run borrows the program (which must outlive it) and owns
 * its Lua sandbox. Commands taken with vm_take_cmds belong to the caller
 * (vm_cmd_free).
 */
#ifndef WF_VM_H
#define WF_VM_H

#include <jansson.h>
#include "program.h"
#include "../stdlib/lua.h"

typedef struct vm_run vm_run;

typedef enum vm_state {
    VM_RUNNING,        /* fibers blocked on commands */
    VM_DONE,           /* finished with an output */
    VM_FAILED,         /* finished with an error */
    VM_NEEDS_ATTENTION /* a compensation failed for good: a person must look */
} vm_state;

typedef struct vm_cmd {
    int64_t seq;     /* 1, 2, 3 ... in issue order */
    int step;        /* index in the program's step table */
    json_t *args;    /* evaluated arguments (NULL when eval_error is set) */
    std_err eval_error; /* set (type non-empty) when the arguments failed to evaluate */
    int scope;       /* the Lua scope of the issuing fiber (for vm_eval_chunk) */
} vm_cmd;

/* Create a run: a sandbox context in host (NULL: a host of its own) where
 * the program's chunks are compiled at their first use, the globals (an
 * object: input, run {id, run_id, workflow, started_at}, secrets) visible to
 * expressions. The initial values of vars are evaluated at the first
 * vm_run_advance (after vm_run_set_effects, so now() and uuid() work there);
 * an error in them fails the run then. */
vm_run *vm_run_new(const vm_program *p, json_t *globals, std_lua_host *host, std_err *e);
void vm_run_free(vm_run *r);

/* Run every fiber until it blocks or the run finishes. Issued commands are
 * queued for vm_take_cmds. Returns -1 only on an internal error. */
int vm_run_advance(vm_run *r, std_err *e);
/* Move the queued commands to the caller; returns how many. */
size_t vm_take_cmds(vm_run *r, vm_cmd **cmds);
void vm_cmd_free(vm_cmd *c);

/* Commands the VM gave up on (a sibling branch failed, the run was
 * cancelled): the engine stops their effects. Returns how many; the array
 * belongs to the caller (free). */
size_t vm_take_cancels(vm_run *r, int64_t **seqs);
/* How many of those are waiting to be taken. An outcome delivered at once
 * (a pure step) can make the VM give up on commands the engine has not
 * started yet; the engine takes the cancels before it starts another. */
size_t vm_cancels_pending(const vm_run *r);

/* Deliver the outcome of command seq: an output, or an error object
 * {type, message, ...} raised in the waiting fiber (try/catch, sagas and
 * on_error handle it; uncaught, it fails the run). Both take a reference of
 * their own. Returns -1 if no fiber waits for seq. */
int vm_resolve(vm_run *r, int64_t seq, json_t *output);
int vm_reject(vm_run *r, int64_t seq, json_t *error);

/* Cancel the run: every branch is stopped and {type: "cancelled"} is raised
 * in the main fiber, so that finally blocks, compensations and on_error
 * run. A no-op on a finished run. */
void vm_cancel(vm_run *r, const char *reason);

vm_state vm_run_state(const vm_run *r);
json_t *vm_run_output(const vm_run *r); /* borrowed; VM_DONE only */
json_t *vm_run_error(const vm_run *r);  /* borrowed; VM_FAILED only */

/* Evaluate a `lua` step's chunk in the run's sandbox, in the scope of the
 * fiber that issued it (vm_cmd.scope). */
int vm_eval_chunk(vm_run *r, int chunk, int scope, json_t **out, std_err *e);

/* Hook for now(), uuid() and random() in expressions and lua steps. */
void vm_run_set_effects(vm_run *r, std_lua_effect_fn fn, void *ud);
/* The sequence number the next command will get (keys side effects). */
int64_t vm_next_seq(const vm_run *r);

/* Number of VM instructions executed so far (for the benchmark). */
uint64_t vm_run_instructions(const vm_run *r);

#endif
