/* proc.h — child processes for `shell` steps, watched by the event loop.
 *
 * A process is spawned in its own process group with an explicit argv and
 * environment (never through a command line built from data), its stdout and
 * stderr captured up to a cap, optional stdin bytes written, and a pidfd
 * watched for its exit. On exit the done callback gets the result once.
 * It does not retry, time out or interpret exit codes: the engine does.
 */
#ifndef WF_PROC_H
#define WF_PROC_H

#include <stddef.h>
#include <sys/types.h>
#include "std.h"
#include "loop.h"

typedef struct std_proc std_proc;

typedef struct std_proc_spec {
    char *const *argv;      /* argv[0] is the program (PATH searched), NULL-terminated */
    char *const *env;       /* "K=V" strings, NULL-terminated: the whole environment */
    const char *cwd;        /* NULL: inherit */
    const char *stdin_data; /* NULL: /dev/null */
    size_t stdin_len;
    size_t out_cap;         /* bytes kept of stdout and of stderr each; more is dropped */
} std_proc_spec;

typedef struct std_proc_result {
    int exited;            /* 1 if it exited normally */
    int code;              /* exit code, or the signal number when !exited */
    std_buf out, err;      /* captured bytes (owned by the result) */
    int out_truncated, err_truncated;
} std_proc_result;

typedef void (*std_proc_done_cb)(std_proc *p, std_proc_result *r, void *ud);

/* Start a process; cb runs from the loop when it has exited and both pipes
 * are drained. The result passed to cb is freed after cb returns unless cb
 * moves its buffers out (zero them). The std_proc is freed after cb. */
int std_proc_spawn(std_loop *l, const std_proc_spec *spec, std_proc_done_cb cb, void *ud,
                   std_proc **out, std_err *e);
/* Send sig to the whole process group. */
int std_proc_kill(std_proc *p, int sig);
pid_t std_proc_pid(const std_proc *p);

#endif
