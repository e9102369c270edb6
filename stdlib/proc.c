/* proc.c — child processes for `shell` steps, driven by the event loop.
 *
 * What it does: fork + execve with an explicit argv and environment, in a new
 * process group, optional cwd; stdin fed from bytes through a non-blocking
 * pipe (or /dev/null); stdout and stderr read through non-blocking pipes and
 * kept up to out_cap bytes each (the rest is drained and dropped); exit seen
 * through a pidfd and reaped with waitpid. The done callback runs once, from
 * the loop, after the child exited and both pipes reached EOF — or, if
 * something else (a background grandchild) still holds the pipes open, a
 * short grace period after the exit, with whatever was read by then.
 * What it does not do: time out, retry, kill leftover grandchildren, or
 * interpret exit codes (the engine does).
 *
 * Requirements on the host process:
 *  - SIGPIPE must be ignored (signal(SIGPIPE, SIG_IGN)): writing stdin to a
 *    child that already exited must yield EPIPE, not kill the engine. Pipes
 *    have no MSG_NOSIGNAL. Children get every signal reset to default.
 *  - SIGCHLD must not be SIG_IGN (children would be auto-reaped, and their
 *    exit status lost: such a child is reported as exited=1 code=-1).
 *
 * Exec failures: the child reports errno over a CLOEXEC pipe that spawn
 * reads synchronously (it closes on successful exec). spawn does not fail
 * for them; the done callback reports, like a shell would, exited=1 with
 * code 127 (program not found, or a cwd/setup failure) or 126 (found but not
 * executable: EACCES, ENOEXEC, ...), and stderr "<prog>: <strerror>" (for a
 * bad cwd "<cwd>: <strerror>"). spawn itself fails only for resource errors
 * (pipe, fork, fds). There is no fallback to /bin/sh for ENOEXEC files.
 *
 * PATH search is done here, not by execvpe (which would use the engine's own
 * PATH): argv[0] without '/' is looked up in PATH from spec->env, else in
 * "/usr/local/bin:/usr/bin:/bin"; relative entries resolve against cwd.
 *
 * Exit detection needs pidfd_open (Linux 5.3); where it is unavailable a
 * 20 ms polling timer calling waitpid(WNOHANG) is used instead.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_GRACE_MS 100      /* after exit, how long to wait for pipe EOF */
#define PROC_POLL_MS 20        /* exit polling period without pidfd */
#define PROC_READ_CHUNK 65536
#define PROC_READS_PER_CB 16   /* bound one callback's work: fairness */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* What the child sends back when it cannot exec. */
enum { STAGE_CWD = 1, STAGE_SETUP = 2, STAGE_EXEC = 3 };
typedef struct child_fail {
    int stage;
    int err;
} child_fail;

struct std_proc {
    std_loop *loop;
    pid_t pid;
    int pidfd;               /* -1 when polling instead */
    uint64_t poll_timer;     /* exit polling timer when pidfd is unavailable */
    int in_fd, out_fd, err_fd; /* parent ends; -1 once closed */
    char *in_data;           /* copy of the stdin bytes */
    size_t in_len, in_off;
    size_t cap;
    std_proc_result res;
    int reaped;
    uint64_t grace_timer;
    child_fail fail;         /* stage 0: exec succeeded */
    char *prog, *cwd;        /* for failure messages */
    std_proc_done_cb cb;
    void *ud;
};

/* ---- small fd helpers -------------------------------------------------- */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Keep fds away from 0..2 so the child's dup2 onto stdio cannot clobber one
 * source with another (the engine may run with stdio closed). */
static int lift_fd(int *fd)
{
    if (*fd > 2) return 0;
    int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0) return -1;
    close(*fd);
    *fd = nfd;
    return 0;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    if (lift_fd(&p[0]) < 0 || lift_fd(&p[1]) < 0) {
        int err = errno;
        close_fd(&p[0]);
        close_fd(&p[1]);
        errno = err;
        return -1;
    }
    return 0;
}

/* ---- PATH resolution (in the parent: it allocates) --------------------- */

static const char *env_get(char *const *env, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=') return env[i] + kl + 1;
    return NULL;
}

/* Candidate paths for prog, NULL-terminated. */
static char **exec_candidates(const char *prog, char *const *env)
{
    if (strchr(prog, '/')) {
        char **c = calloc(2, sizeof *c);
        if (!c || !(c[0] = strdup(prog))) {
            free(c);
            return NULL;
        }
        return c;
    }
    const char *path = env_get(env, "PATH");
    if (!path) path = DEFAULT_PATH;
    size_t n = 1;
    for (const char *s = path; *s; s++) n += *s == ':';
    char **c = calloc(n + 1, sizeof *c);
    if (!c) return NULL;
    size_t k = 0;
    const char *s = path;
    for (;;) {
        const char *end = strchr(s, ':');
        size_t dl = end ? (size_t)(end - s) : strlen(s);
        std_buf b = {0};
        if (dl == 0) std_buf_adds(&b, "."); /* empty entry: current directory */
        else std_buf_add(&b, s, dl);
        std_buf_addf(&b, "/%s", prog);
        c[k++] = std_buf_take(&b);
        if (!end) break;
        s = end + 1;
    }
    return c;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}

/* ---- the child (async-signal-safe calls only) -------------------------- */

static _Noreturn void child_fail_exit(int errfd, int stage, int err)
{
    child_fail f = {stage, err};
    ssize_t w;
    do w = write(errfd, &f, sizeof f);
    while (w < 0 && errno == EINTR);
    _exit(127);
}

static int dup_to(int fd, int target)
{
    if (fd == target) /* dup2 would be a no-op and leave FD_CLOEXEC set */
        return fcntl(fd, F_SETFD, 0);
    int r;
    do r = dup2(fd, target);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : 0;
}

static _Noreturn void child_run(int in_fd, int out_fd, int err_fd, int errpipe,
                                const char *cwd, char *const *argv, char *const *env,
                                char **cands)
{
    /* Default dispositions for everything (ignored signals such as SIGPIPE
     * survive exec otherwise), then the empty mask: the parent blocked all
     * signals around fork so no engine handler runs in here. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &sa, NULL); /* fails harmlessly for some */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (setpgid(0, 0) < 0) child_fail_exit(errpipe, STAGE_SETUP, errno);
    if (dup_to(in_fd, 0) < 0 || dup_to(out_fd, 1) < 0 || dup_to(err_fd, 2) < 0)
        child_fail_exit(errpipe, STAGE_SETUP, errno);
    /* Whatever else the engine has open must not leak into the job. Best
     * effort: close_range needs Linux 5.11; our own fds are CLOEXEC anyway. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    if (cwd && chdir(cwd) < 0) child_fail_exit(errpipe, STAGE_CWD, errno);

    int err = ENOENT, seen_eacces = 0;
    for (size_t i = 0; cands[i]; i++) {
        execve(cands[i], argv, env);
        err = errno;
        if (err == EACCES) seen_eacces = 1;
        else if (err != ENOENT && err != ENOTDIR && err != ELOOP && err != ENAMETOOLONG)
            break; /* found but unusable (ENOEXEC, E2BIG, ...): stop, like execvp */
    }
    if (seen_eacces && (err == ENOENT || err == ENOTDIR)) err = EACCES;
    child_fail_exit(errpipe, STAGE_EXEC, err);
}

/* ---- completion -------------------------------------------------------- */

static void drop_watch(std_proc *p, int *fd)
{
    if (*fd < 0) return;
    std_loop_io(p->loop, *fd, 0, NULL, NULL);
    close_fd(fd);
}

static void finish(std_proc *p)
{
    std_loop_timer_cancel(p->loop, p->grace_timer);
    std_loop_timer_cancel(p->loop, p->poll_timer);
    drop_watch(p, &p->in_fd);
    drop_watch(p, &p->out_fd);
    drop_watch(p, &p->err_fd);
    drop_watch(p, &p->pidfd);

    if (p->fail.stage) {
        /* The child never ran the program: report it like a shell would. */
        std_proc_result *r = &p->res;
        std_buf_reset(&r->out);
        std_buf_reset(&r->err);
        r->out_truncated = r->err_truncated = 0;
        const char *what = p->fail.stage == STAGE_CWD ? (p->cwd ? p->cwd : "cwd") : p->prog;
        std_buf_addf(&r->err, "%s: %s", what, strerror(p->fail.err));
        r->exited = 1;
        int not_found = p->fail.err == ENOENT || p->fail.err == ENOTDIR;
        r->code = p->fail.stage == STAGE_EXEC && !not_found ? 126 : 127;
    }
    /* buffers are always valid strings for the callback */
    if (!p->res.out.p) std_buf_add(&p->res.out, "", 0);
    if (!p->res.err.p) std_buf_add(&p->res.err, "", 0);

    p->cb(p, &p->res, p->ud);

    std_buf_free(&p->res.out);
    std_buf_free(&p->res.err);
    free(p->in_data);
    free(p->prog);
    free(p->cwd);
    free(p);
}

static void maybe_finish(std_proc *p)
{
    if (p->reaped && p->out_fd < 0 && p->err_fd < 0) finish(p);
}

/* Read what is available from one output pipe, at most `limit` chunks (a
 * fast writer must not monopolise the loop). Returns 1 at EOF or error. */
static int drain(std_proc *p, int fd, std_buf *b, int *trunc, int limit)
{
    char chunk[PROC_READ_CHUNK];
    for (int i = 0; i < limit; i++) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return 1; /* treat a read error like EOF */
        }
        if (n == 0) return 1;
        size_t keep = b->len < p->cap ? p->cap - b->len : 0;
        if ((size_t)n > keep) *trunc = 1;
        else keep = (size_t)n;
        if (keep) std_buf_add(b, chunk, keep);
    }
    return 0;
}

static void on_grace(std_loop *l, void *ud)
{
    std_proc *p = ud;
    p->grace_timer = 0;
    /* take what is already in the pipes, then give up on EOF */
    if (p->out_fd >= 0) drain(p, p->out_fd, &p->res.out, &p->res.out_truncated, PROC_READS_PER_CB);
    if (p->err_fd >= 0) drain(p, p->err_fd, &p->res.err, &p->res.err_truncated, PROC_READS_PER_CB);
    drop_watch(p, &p->out_fd);
    drop_watch(p, &p->err_fd);
    finish(p);
}

static void on_output(std_loop *l, int fd, int revents, void *ud)
{
    std_proc *p = ud;
    int is_out = fd == p->out_fd;
    std_buf *b = is_out ? &p->res.out : &p->res.err;
    int *trunc = is_out ? &p->res.out_truncated : &p->res.err_truncated;
    if (drain(p, fd, b, trunc, PROC_READS_PER_CB)) {
        drop_watch(p, is_out ? &p->out_fd : &p->err_fd);
        maybe_finish(p);
    }
}

static void on_stdin(std_loop *l, int fd, int revents, void *ud)
{
    std_proc *p = ud;
    while (p->in_off < p->in_len) {
        ssize_t n = write(fd, p->in_data + p->in_off, p->in_len - p->in_off);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            break; /* EPIPE: the child closed its stdin; stop feeding it */
        }
        p->in_off += (size_t)n;
    }
    drop_watch(p, &p->in_fd); /* all written (or reader gone): send EOF */
}

/* Reap the child if it has exited. Returns 1 if it did (p may then be freed). */
static int try_reap(std_proc *p)
{
    int st = 0;
    pid_t r;
    do r = waitpid(p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return 0; /* not yet */
    if (r == p->pid) {
        if (WIFEXITED(st)) {
            p->res.exited = 1;
            p->res.code = WEXITSTATUS(st);
        } else {
            p->res.exited = 0;
            p->res.code = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        }
    } else { /* ECHILD: reaped behind our back (SIGCHLD ignored?) */
        p->res.exited = 1;
        p->res.code = -1;
    }
    p->reaped = 1;
    drop_watch(p, &p->pidfd);
    std_loop_timer_cancel(p->loop, p->poll_timer);
    p->poll_timer = 0;
    drop_watch(p, &p->in_fd); /* nobody left to read it */
    if (p->out_fd < 0 && p->err_fd < 0) {
        finish(p);
        return 1;
    }
    p->grace_timer = std_loop_timer(p->loop, std_now_ms() + PROC_GRACE_MS, on_grace, p);
    return 1;
}

static void on_pidfd(std_loop *l, int fd, int revents, void *ud)
{
    try_reap(ud);
}

static void on_poll_timer(std_loop *l, void *ud)
{
    std_proc *p = ud;
    p->poll_timer = 0;
    if (!try_reap(p))
        p->poll_timer = std_loop_timer(l, std_now_ms() + PROC_POLL_MS, on_poll_timer, p);
}

/* ---- spawn ------------------------------------------------------------- */

int std_proc_spawn(std_loop *l, const std_proc_spec *spec, std_proc_done_cb cb, void *ud,
                   std_proc **out, std_err *e)
{
    if (out) *out = NULL;
    if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0] || !cb)
        return std_errf(e, "shell", "spawn: empty argv");

    char *const empty_env[] = {NULL};
    char *const *env = spec->env ? spec->env : empty_env;
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, failp[2] = {-1, -1};
    char **cands = NULL;
    std_proc *p = calloc(1, sizeof *p);
    if (!p) return std_errf(e, "shell", "spawn: out of memory");
    p->loop = l;
    p->in_fd = p->out_fd = p->err_fd = p->pidfd = -1;
    p->cap = spec->out_cap;
    p->cb = cb;
    p->ud = ud;
    p->prog = strdup(spec->argv[0]);
    p->cwd = spec->cwd ? strdup(spec->cwd) : NULL;
    cands = exec_candidates(spec->argv[0], env);
    if (!p->prog || (spec->cwd && !p->cwd) || !cands) {
        std_errf(e, "shell", "spawn: out of memory");
        goto fail;
    }
    if (spec->stdin_data && spec->stdin_len) {
        p->in_data = malloc(spec->stdin_len);
        if (!p->in_data) {
            std_errf(e, "shell", "spawn: out of memory");
            goto fail;
        }
        memcpy(p->in_data, spec->stdin_data, spec->stdin_len);
        p->in_len = spec->stdin_len;
    }

    if (spec->stdin_data) {
        if (make_pipe(inp) < 0) goto sysfail;
    } else {
        inp[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (inp[0] < 0 || lift_fd(&inp[0]) < 0) goto sysfail;
    }
    if (make_pipe(outp) < 0 || make_pipe(errp) < 0 || make_pipe(failp) < 0) goto sysfail;

    /* Block every signal across fork so no engine handler runs in the child
     * before it resets dispositions. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_run(inp[0], outp[1], errp[1], failp[1], spec->cwd, spec->argv, env, cands);
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = fork_errno;
        goto sysfail;
    }
    p->pid = pid;
    /* Also set the group from here: whichever of the two runs first wins, and
     * std_proc_kill is then safe as soon as we return (EACCES after exec is
     * fine: the child did it itself). */
    setpgid(pid, pid);
    close_fd(&inp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    close_fd(&failp[1]);

    /* Wait for exec (the CLOEXEC pipe closes) or a failure report. */
    child_fail f = {0, 0};
    ssize_t n;
    do n = read(failp[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    close_fd(&failp[0]);
    if (n == (ssize_t)sizeof f) p->fail = f;
    free_strv(cands);
    cands = NULL;

    p->out_fd = outp[0];
    p->err_fd = errp[0];
    p->in_fd = inp[1];
    outp[0] = errp[0] = inp[1] = -1;
    /* From here on the child exists: errors below must not leave it behind
     * unwatched, so they degrade instead of failing. */
    set_nonblock(p->out_fd);
    set_nonblock(p->err_fd);
    std_loop_io(l, p->out_fd, POLLIN, on_output, p);
    std_loop_io(l, p->err_fd, POLLIN, on_output, p);
    if (p->in_fd >= 0) {
        if (p->in_len && !p->fail.stage) {
            set_nonblock(p->in_fd);
            std_loop_io(l, p->in_fd, POLLOUT, on_stdin, p);
        } else {
            close_fd(&p->in_fd); /* empty stdin: EOF right away */
        }
    }
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd >= 0) { /* pidfds are always CLOEXEC */
        std_loop_io(l, p->pidfd, POLLIN, on_pidfd, p);
    } else {
        p->pidfd = -1;
        p->poll_timer = std_loop_timer(l, std_now_ms() + PROC_POLL_MS, on_poll_timer, p);
    }
    if (out) *out = p;
    return 0;

sysfail:
    std_errf(e, "shell", "spawn %s: %s", spec->argv[0], strerror(errno));
fail:
    close_fd(&inp[0]);
    close_fd(&inp[1]);
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&failp[0]);
    close_fd(&failp[1]);
    free_strv(cands);
    free(p->in_data);
    free(p->prog);
    free(p->cwd);
    free(p);
    return -1;
}

/* Signal the process group. Before the child is reaped its pid cannot be
 * reused, so -pid is exactly its group. Between the exit and the callback
 * (the grace period) the group lives on while any member does. A group that
 * no longer exists (ESRCH) counts as success: nothing is left to signal. */
int std_proc_kill(std_proc *p, int sig)
{
    if (!p || p->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (kill(-p->pid, sig) < 0 && errno != ESRCH) return -1;
    return 0;
}

pid_t std_proc_pid(const std_proc *p) { return p ? p->pid : -1; }
