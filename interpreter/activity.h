/* activity.h — the effects a step can have on the world: a shell command
 * or an HTTP request, started on the engine's loop and reported back once.
 *
 * An activity turns a step's evaluated arguments into a process or a
 * request and its result into either an output or an error object
 * {type, message, status?, details?} (the engine adds step and attempt).
 * It knows nothing of runs, history or retries.
 */
#ifndef WF_ACTIVITY_H
#define WF_ACTIVITY_H

#include <jansson.h>
#include "../stdlib/http.h"
#include "../stdlib/loop.h"

typedef struct vm_act vm_act;

typedef struct vm_act_ctx {
    const char *run_id, *workflow_id, *step;
    const char *idempotency_key;
    int attempt;
    int64_t timeout_ms;  /* per attempt; 0: none */
    json_t *expect;      /* http: accepted statuses ["200", "2xx", ...] */
    size_t max_output;   /* cap of captured stdout/stderr or response body */
    int *live;           /* incremented while the activity exists, cancelled ones
                            included until their process is reaped; may be NULL */
} vm_act_ctx;

/* Exactly one of output and error is set (borrowed for the call).
 * retry_after_ms > 0 when the server asked for a delay (HTTP Retry-After). */
typedef void (*vm_act_cb)(void *ud, json_t *output, json_t *error, int64_t retry_after_ms);

/* Start a shell or http activity; cb is called exactly once, from the loop
 * (never from inside this call). Returns 0, or -1 with e filled when it
 * could not start (nothing will be called). */
int vm_act_shell(std_loop *l, json_t *args, const vm_act_ctx *ctx, vm_act_cb cb, void *ud,
                 vm_act **out, std_err *e);
int vm_act_http(std_loop *l, std_http *h, json_t *args, const vm_act_ctx *ctx, vm_act_cb cb,
                void *ud, vm_act **out, std_err *e);
/* Stop an activity in flight (kill its process group / abort the request);
 * its callback is not called. */
void vm_act_cancel(vm_act *a);

#endif
