/* test_loop_proc.c — the event loop (timers, cancellation, fd watchers,
 * mutation during dispatch) and child processes (capture, exit codes,
 * signals, caps, stdin, env, cwd, exec failures, grandchildren, many at
 * once), ending with a check for leaked fds and zombies. proc.c requires
 * SIGPIPE ignored, so main() ignores it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../stdlib/loop.h"
#include "../../stdlib/proc.h"
#include "../../stdlib/std.h"
#include "check.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the DIR's own fd */
}

static int64_t mono_ms(void) { return std_mono_ns() / 1000000; }

/* ---- loop: timers ------------------------------------------------------ */

typedef struct trec {
    char order[64];
    int n;
    std_loop *l;
    uint64_t victim;  /* a timer to cancel from a callback */
    uint64_t self_id; /* the id of the running timer */
} trec;

typedef struct tctx {
    trec *r;
    char tag;
} tctx;

static void rec_cb(std_loop *l, void *ud)
{
    tctx *c = ud;
    c->r->order[c->r->n++] = c->tag;
    c->r->order[c->r->n] = 0;
}

static void run_all(std_loop *l, int64_t limit_ms)
{
    int64_t end = mono_ms() + limit_ms;
    while (std_loop_active(l) > 0 && mono_ms() < end) std_loop_run_once(l, 100);
}

TEST(timers_fire_in_order)
{
    std_loop *l = std_loop_new();
    trec r = {.l = l};
    tctx a = {&r, 'a'}, b = {&r, 'b'}, c = {&r, 'c'}, d = {&r, 'd'}, e = {&r, 'e'};
    int64_t now = std_now_ms();
    std_loop_timer(l, now + 60, rec_cb, &a);
    std_loop_timer(l, now + 20, rec_cb, &b);
    std_loop_timer(l, now + 40, rec_cb, &c);
    std_loop_timer(l, now + 20, rec_cb, &d); /* same due as b: creation order */
    std_loop_timer(l, now - 1000, rec_cb, &e); /* already due */
    CHECK(std_loop_active(l) == 5);
    int64_t t0 = mono_ms();
    run_all(l, 2000);
    int64_t took = mono_ms() - t0;
    CHECK_STR(r.order, "ebdca");
    CHECK(took >= 55 && took < 1000);
    CHECK(std_loop_active(l) == 0);
    std_loop_free(l);
}

static void cancel_victim_cb(std_loop *l, void *ud)
{
    tctx *c = ud;
    rec_cb(l, ud);
    std_loop_timer_cancel(l, c->r->victim);
}

TEST(timer_cancel)
{
    std_loop *l = std_loop_new();
    trec r = {.l = l};
    tctx a = {&r, 'a'}, b = {&r, 'b'}, c = {&r, 'c'}, x = {&r, 'x'}, y = {&r, 'y'};
    int64_t now = std_now_ms();
    std_loop_timer(l, now + 10, rec_cb, &a);
    uint64_t ib = std_loop_timer(l, now + 20, rec_cb, &b);
    std_loop_timer(l, now + 30, rec_cb, &c);
    CHECK(ib > 0);
    std_loop_timer_cancel(l, ib);
    std_loop_timer_cancel(l, ib);       /* twice: ignored */
    std_loop_timer_cancel(l, 0);        /* unknown ids: ignored */
    std_loop_timer_cancel(l, 1234567);
    CHECK(std_loop_active(l) == 2);
    /* a callback cancelling a timer due in the same round */
    std_loop_timer(l, now - 5, cancel_victim_cb, &x);
    r.victim = std_loop_timer(l, now - 5, rec_cb, &y);
    run_all(l, 2000);
    CHECK_STR(r.order, "xac");
    CHECK(std_loop_active(l) == 0);
    std_loop_timer_cancel(l, r.victim); /* already cancelled */
    std_loop_free(l);
}

static int rearm_count;
static void rearm_cb(std_loop *l, void *ud)
{
    /* re-arm "now" from inside a timer: must wait for the next round */
    if (++rearm_count < 3) std_loop_timer(l, std_now_ms() - 10, rearm_cb, ud);
}

TEST(timer_added_during_dispatch)
{
    std_loop *l = std_loop_new();
    rearm_count = 0;
    std_loop_timer(l, std_now_ms() - 1, rearm_cb, NULL);
    CHECK(std_loop_run_once(l, 0) == 1);
    CHECK(rearm_count == 1);
    CHECK(std_loop_active(l) == 1);
    CHECK(std_loop_run_once(l, 0) == 1);
    CHECK(std_loop_run_once(l, 0) == 1);
    CHECK(rearm_count == 3);
    CHECK(std_loop_active(l) == 0);
    CHECK(std_loop_run_once(l, 0) == 0);
    std_loop_free(l);
}

typedef struct many {
    int64_t last_due;
    int fired, bad_order;
    int64_t dues[2000];
} many;

typedef struct many_item {
    many *m;
    int i;
} many_item;

static void many_cb(std_loop *l, void *ud)
{
    many_item *it = ud;
    int64_t due = it->m->dues[it->i];
    if (due < it->m->last_due) it->m->bad_order = 1;
    it->m->last_due = due;
    it->m->fired++;
}

TEST(many_timers_heap_and_compaction)
{
    std_loop *l = std_loop_new();
    static many m;
    static many_item items[2000];
    static uint64_t ids[2000];
    memset(&m, 0, sizeof m);
    int64_t now = std_now_ms();
    unsigned seed = 12345;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        m.dues[i] = now - 100 + (int64_t)(seed >> 16) % 150;
        items[i] = (many_item){&m, i};
        ids[i] = std_loop_timer(l, m.dues[i], many_cb, &items[i]);
    }
    /* cancel 3 of every 4: forces compaction */
    for (int i = 0; i < 2000; i++)
        if (i % 4) std_loop_timer_cancel(l, ids[i]);
    CHECK(std_loop_active(l) == 500);
    run_all(l, 3000);
    CHECK(m.fired == 500);
    CHECK(!m.bad_order);
    std_loop_free(l);
}

TEST(run_once_waits)
{
    std_loop *l = std_loop_new();
    /* nothing active and no limit: returns at once instead of hanging */
    int64_t t0 = mono_ms();
    CHECK(std_loop_run_once(l, -1) == 0);
    CHECK(mono_ms() - t0 < 50);
    /* max_wait caps the wait when the next timer is further away */
    trec r = {.l = l};
    tctx a = {&r, 'a'};
    std_loop_timer(l, std_now_ms() + 300, rec_cb, &a);
    t0 = mono_ms();
    CHECK(std_loop_run_once(l, 30) == 0);
    int64_t took = mono_ms() - t0;
    CHECK(took >= 25 && took < 250);
    /* -1 waits for the timer */
    CHECK(std_loop_run_once(l, -1) == 1);
    CHECK_STR(r.order, "a");
    std_loop_free(l);
}

static void on_alarm(int sig) { (void)sig; }

static int never_calls;
static void never_cb(std_loop *l, int fd, int revents, void *ud) { never_calls++; }

TEST(eintr_is_not_an_error)
{
    std_loop *l = std_loop_new();
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {.it_value = {.tv_usec = 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    std_loop_io(l, p[0], POLLIN, never_cb, NULL); /* never ready */
    int64_t t0 = mono_ms();
    CHECK(std_loop_run_once(l, 2000) == 0);
    CHECK(mono_ms() - t0 < 1000);
    CHECK(never_calls == 0);
    sigaction(SIGALRM, &old, NULL);
    std_loop_io(l, p[0], 0, NULL, NULL);
    close(p[0]);
    close(p[1]);
    std_loop_free(l);
}

/* ---- loop: fd watchers ------------------------------------------------- */

typedef struct fdrec {
    int calls_a, calls_b, revents;
    int fa, fb;
    char got[32];
} fdrec;

static void read_remove_cb(std_loop *l, int fd, int revents, void *ud)
{
    fdrec *r = ud;
    r->calls_a++;
    r->revents = revents;
    ssize_t n = read(fd, r->got, sizeof r->got - 1);
    if (n > 0) r->got[n] = 0;
    std_loop_io(l, fd, 0, NULL, NULL); /* remove itself */
    std_loop_io(l, r->fb, 0, NULL, NULL); /* and the other ready one */
}

static void count_b_cb(std_loop *l, int fd, int revents, void *ud)
{
    fdrec *r = ud;
    r->calls_b++;
    char tmp[32];
    if (read(fd, tmp, sizeof tmp) <= 0) std_loop_io(l, fd, 0, NULL, NULL);
}

TEST(fd_watchers)
{
    std_loop *l = std_loop_new();
    int p1[2], p2[2];
    CHECK(pipe2(p1, O_CLOEXEC) == 0 && pipe2(p2, O_CLOEXEC) == 0);
    fdrec r = {.fa = p1[0], .fb = p2[0]};
    CHECK(std_loop_io(l, -1, POLLIN, count_b_cb, &r) == -1);
    CHECK(std_loop_io(l, p1[0], POLLIN, count_b_cb, &r) == 0);
    CHECK(std_loop_io(l, p1[0], POLLIN, read_remove_cb, &r) == 0); /* replaces */
    CHECK(std_loop_io(l, p2[0], POLLIN, count_b_cb, &r) == 0);
    CHECK(std_loop_active(l) == 2);
    /* nothing ready: times out */
    CHECK(std_loop_run_once(l, 10) == 0);
    CHECK(write(p1[1], "hello", 5) == 5);
    CHECK(write(p2[1], "x", 1) == 1);
    /* p1 is first in poll order; its callback removes both watchers, so the
     * second one, although ready, must not be called */
    CHECK(std_loop_run_once(l, 1000) == 1);
    CHECK(r.calls_a == 1 && r.calls_b == 0);
    CHECK(r.revents & POLLIN);
    CHECK_STR(r.got, "hello");
    CHECK(std_loop_active(l) == 0);
    /* re-add p2 and see EOF/hangup reported */
    CHECK(std_loop_io(l, p2[0], POLLIN, count_b_cb, &r) == 0);
    close(p2[1]);
    run_all(l, 1000);
    CHECK(r.calls_b == 2); /* the pending byte, then EOF */
    CHECK(std_loop_io(l, 99999, 0, NULL, NULL) == 0); /* removing unknown: fine */
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    std_loop_free(l);
}

/* ---- processes --------------------------------------------------------- */

typedef struct pres {
    int done_calls;
    int exited, code;
    std_buf out, err;
    int out_tr, err_tr;
    pid_t pid;
} pres;

static void done_cb(std_proc *p, std_proc_result *r, void *ud)
{
    pres *x = ud;
    x->done_calls++;
    x->pid = std_proc_pid(p);
    x->exited = r->exited;
    x->code = r->code;
    x->out = r->out; /* move the buffers out */
    x->err = r->err;
    memset(&r->out, 0, sizeof r->out);
    memset(&r->err, 0, sizeof r->err);
    x->out_tr = r->out_truncated;
    x->err_tr = r->err_truncated;
}

static void pres_free(pres *x)
{
    std_buf_free(&x->out);
    std_buf_free(&x->err);
}

static char *const std_env[] = {"PATH=/usr/bin:/bin", NULL};

/* Spawn and run the loop until done (or limit_ms). Returns the spawn result. */
static int run_spec(std_loop *l, const std_proc_spec *spec, pres *x, int64_t limit_ms)
{
    memset(x, 0, sizeof *x);
    std_err e = {0};
    std_proc *p = NULL;
    if (std_proc_spawn(l, spec, done_cb, x, &p, &e) != 0) {
        printf("  spawn failed: %s\n", e.msg);
        return -1;
    }
    int64_t end = mono_ms() + limit_ms;
    while (!x->done_calls && mono_ms() < end) std_loop_run_once(l, 100);
    return 0;
}

static int run_argv(std_loop *l, char *const *argv, pres *x)
{
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 1 << 20};
    return run_spec(l, &s, x, 10000);
}

TEST(proc_echo_stdout)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"echo", "hello", "world", NULL};
    CHECK(run_argv(l, argv, &x) == 0);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "hello world\n");
    CHECK_STR(x.err.p, "");
    CHECK(!x.out_tr && !x.err_tr);
    CHECK(x.pid > 0);
    CHECK(std_loop_active(l) == 0);
    pres_free(&x);
    std_loop_free(l);
}

TEST(proc_stderr_and_exit_code)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"sh", "-c", "echo out; echo oops >&2; exit 3", NULL};
    CHECK(run_argv(l, argv, &x) == 0);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 3);
    CHECK_STR(x.out.p, "out\n");
    CHECK_STR(x.err.p, "oops\n");
    pres_free(&x);
    char *argv2[] = {"sh", "-c", "exit 255", NULL};
    CHECK(run_argv(l, argv2, &x) == 0);
    CHECK(x.exited == 1 && x.code == 255);
    pres_free(&x);
    std_loop_free(l);
}

typedef struct killer {
    std_proc *p;
    int sig, rc;
} killer;

static void kill_cb(std_loop *l, void *ud)
{
    killer *k = ud;
    k->rc = std_proc_kill(k->p, k->sig);
}

static void run_killed(int sig, const char *script, pres *x, int64_t *took)
{
    std_loop *l = std_loop_new();
    memset(x, 0, sizeof *x);
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 4096};
    killer k = {.sig = sig, .rc = -99};
    int64_t t0 = mono_ms();
    CHECK(std_proc_spawn(l, &s, done_cb, x, &k.p, NULL) == 0);
    std_loop_timer(l, std_now_ms() + 100, kill_cb, &k);
    while (!x->done_calls && mono_ms() - t0 < 10000) std_loop_run_once(l, 100);
    *took = mono_ms() - t0;
    CHECK(k.rc == 0);
    std_loop_free(l);
}

TEST(proc_killed_by_signal)
{
    pres x;
    int64_t took;
    /* exec so that sh is replaced by sleep: the leader itself is killed */
    run_killed(SIGTERM, "exec sleep 30", &x, &took);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 0 && x.code == SIGTERM);
    CHECK(took < 2000);
    pres_free(&x);
    run_killed(SIGKILL, "exec sleep 30", &x, &took);
    CHECK(x.exited == 0 && x.code == SIGKILL);
    CHECK(took < 2000);
    pres_free(&x);
}

/* state of a pid: 0 gone, 'Z' zombie (orphans may wait for a lazy init), or
 * another state letter when alive */
static int pid_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' ? rp[2] : '?';
}

TEST(proc_kill_reaches_the_group)
{
    pres x;
    int64_t took;
    /* sh stays the leader and waits; its background child is in the group */
    run_killed(SIGTERM, "sleep 30 & echo $!; wait", &x, &took);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 0 && x.code == SIGTERM);
    CHECK(took < 2000);
    pid_t g = (pid_t)atoi(x.out.p ? x.out.p : "0");
    CHECK(g > 0);
    int st = 'R';
    for (int i = 0; i < 100 && (st = pid_state(g)) != 0 && st != 'Z'; i++) usleep(10000);
    CHECK(st == 0 || st == 'Z'); /* the grandchild died too */
    pres_free(&x);
}

TEST(proc_output_cap)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"head", "-c", "1000000", "/dev/zero", NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 1000};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 0); /* drained to the end: no SIGPIPE */
    CHECK(x.out.len == 1000 && x.out_tr == 1);
    CHECK(x.err.len == 0 && x.err_tr == 0);
    pres_free(&x);
    /* stderr capped independently; exact fit is not truncated */
    char *argv2[] = {"sh", "-c", "printf 0123456789 >&2; printf abcde", NULL};
    s = (std_proc_spec){.argv = argv2, .env = std_env, .out_cap = 5};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK_STR(x.out.p, "abcde");
    CHECK(!x.out_tr);
    CHECK_STR(x.err.p, "01234");
    CHECK(x.err_tr);
    pres_free(&x);
    std_loop_free(l);
}

TEST(proc_stdin)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"cat", NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 4096,
                       .stdin_data = "hello stdin\n", .stdin_len = 12};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "hello stdin\n");
    pres_free(&x);

    /* NULL stdin is /dev/null; empty stdin is immediate EOF */
    s.stdin_data = NULL;
    s.stdin_len = 0;
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0 && x.out.len == 0);
    pres_free(&x);
    s.stdin_data = "";
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0 && x.out.len == 0);
    pres_free(&x);

    /* 4 MiB through cat: both directions must flow at once */
    size_t big = 4u << 20;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++) data[i] = (char)('a' + i % 26);
    s = (std_proc_spec){.argv = argv, .env = std_env, .out_cap = big,
                        .stdin_data = data, .stdin_len = big};
    CHECK(run_spec(l, &s, &x, 20000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK(x.out.len == big && memcmp(x.out.p, data, big) == 0);
    pres_free(&x);

    /* a child that never reads its stdin: EPIPE, not a dead engine */
    char *argv2[] = {"true", NULL};
    s.argv = argv2;
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.done_calls == 1 && x.exited == 1 && x.code == 0);
    pres_free(&x);
    free(data);
    std_loop_free(l);
}

TEST(proc_env_only_given)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"env", NULL};
    char *env[] = {"A=1", "PATH=/usr/bin:/bin", NULL};
    std_proc_spec s = {.argv = argv, .env = env, .out_cap = 4096};
    setenv("WFDSL_TEST_LEAK", "yes", 1); /* must not reach the child */
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "A=1\nPATH=/usr/bin:/bin\n");
    pres_free(&x);
    unsetenv("WFDSL_TEST_LEAK");

    /* no PATH in env: the default path finds the program; env is empty */
    char *empty[] = {NULL};
    s.env = empty;
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "");
    pres_free(&x);
    std_loop_free(l);
}

TEST(proc_path_from_env)
{
    std_loop *l = std_loop_new();
    pres x;
    char dir[] = "/tmp/wfdsl-proc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char prog[128], noexec[128];
    snprintf(prog, sizeof prog, "%s/myprog", dir);
    snprintf(noexec, sizeof noexec, "%s/noexec", dir);
    FILE *f = fopen(prog, "w");
    fputs("#!/bin/sh\necho \"myprog $1\"\n", f);
    fclose(f);
    chmod(prog, 0755);
    f = fopen(noexec, "w");
    fputs("#!/bin/sh\necho no\n", f);
    fclose(f);
    chmod(noexec, 0644);

    char pathv[200];
    snprintf(pathv, sizeof pathv, "PATH=/nonexistent:%s:/usr/bin:/bin", dir);
    char *env[] = {pathv, NULL};
    char *argv[] = {"myprog", "arg", NULL};
    std_proc_spec s = {.argv = argv, .env = env, .out_cap = 4096};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "myprog arg\n");
    pres_free(&x);

    /* the engine's own PATH is not used */
    char *env2[] = {"PATH=/nonexistent", NULL};
    char *argv2[] = {"echo", "hi", NULL};
    s = (std_proc_spec){.argv = argv2, .env = env2, .out_cap = 4096};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 127);
    CHECK_STR(x.err.p, "echo: No such file or directory");
    pres_free(&x);

    /* found but not executable: 126 */
    char *argv3[] = {"noexec", NULL};
    s = (std_proc_spec){.argv = argv3, .env = env, .out_cap = 4096};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 126);
    CHECK_STR(x.err.p, "noexec: Permission denied");
    pres_free(&x);

    unlink(prog);
    unlink(noexec);
    rmdir(dir);
    std_loop_free(l);
}

TEST(proc_cwd)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"pwd", NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 4096, .cwd = "/usr"};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "/usr\n");
    pres_free(&x);
    s.cwd = "/nonexistent-wfdsl-dir";
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 127);
    CHECK_STR(x.err.p, "/nonexistent-wfdsl-dir: No such file or directory");
    pres_free(&x);
    std_loop_free(l);
}

TEST(proc_not_found)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"no-such-program-wfdsl", "x", NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 4096,
                       .stdin_data = "ignored", .stdin_len = 7};
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 127);
    CHECK_STR(x.out.p, "");
    CHECK_STR(x.err.p, "no-such-program-wfdsl: No such file or directory");
    pres_free(&x);
    char *argv2[] = {"/no/such/abs", NULL};
    s.argv = argv2;
    CHECK(run_spec(l, &s, &x, 10000) == 0);
    CHECK(x.exited == 1 && x.code == 127);
    CHECK_STR(x.err.p, "/no/such/abs: No such file or directory");
    pres_free(&x);
    /* bad spec: synchronous error */
    char *argv3[] = {NULL};
    std_err e = {0};
    s.argv = argv3;
    std_proc *p = (std_proc *)1;
    CHECK(std_proc_spawn(l, &s, done_cb, &x, &p, &e) == -1);
    CHECK(p == NULL);
    CHECK(e.msg[0] != 0);
    std_loop_free(l);
}

TEST(proc_child_is_clean)
{
    std_loop *l = std_loop_new();
    pres x;
    /* SIGPIPE is ignored here; the child must get default dispositions */
    char *argv[] = {"grep", "^SigIgn", "/proc/self/status", NULL};
    CHECK(run_argv(l, argv, &x) == 0);
    /* only the classic signals 1-31: glibc reserves 32 and 33 for itself and
     * a sanitizer runtime may leave them ignored, which no one can undo */
    unsigned long long ign = x.out.p ? strtoull(x.out.p + 7, NULL, 16) : 1;
    CHECK((ign & 0x7fffffffULL) == 0);
    pres_free(&x);
    /* an fd the engine leaked without CLOEXEC does not reach the child;
     * ls shows 0, 1, 2 and its own directory fd */
    int leak = open("/dev/null", O_RDONLY);
    char *argv2[] = {"sh", "-c", "ls /proc/self/fd | wc -l", NULL};
    CHECK(run_argv(l, argv2, &x) == 0);
    CHECK(atoi(x.out.p) == 4);
    pres_free(&x);
    close(leak);
    /* the child leads its own process group */
    char *argv3[] = {"sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$", NULL};
    CHECK(run_argv(l, argv3, &x) == 0);
    int pgid = 0, pid = 0;
    CHECK(sscanf(x.out.p, "%d %d", &pgid, &pid) == 2);
    CHECK(pgid == pid && pid == x.pid);
    pres_free(&x);
    std_loop_free(l);
}

TEST(proc_grandchild_holding_pipes)
{
    std_loop *l = std_loop_new();
    pres x;
    char *argv[] = {"sh", "-c", "sleep 5 & echo hi", NULL};
    int64_t t0 = mono_ms();
    CHECK(run_argv(l, argv, &x) == 0);
    int64_t took = mono_ms() - t0;
    CHECK(x.done_calls == 1);
    CHECK(x.exited == 1 && x.code == 0);
    CHECK_STR(x.out.p, "hi\n");
    CHECK(took < 1500);
    CHECK(std_loop_active(l) == 0);
    if (x.pid > 0) kill(-x.pid, SIGKILL); /* tidy up the sleeper */
    pres_free(&x);
    std_loop_free(l);
}

typedef struct chain {
    int left;
    int finished;
    std_loop *l;
} chain;

static void chain_done(std_proc *p, std_proc_result *r, void *ud)
{
    chain *c = ud;
    if (r->exited && r->code == 0 && strcmp(r->out.p, "link\n") == 0) c->finished++;
    if (--c->left > 0) { /* spawn the next from inside the callback */
        char *argv[] = {"echo", "link", NULL};
        std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 64};
        std_proc_spawn(c->l, &s, chain_done, c, NULL, NULL);
    }
}

TEST(proc_spawn_from_callback)
{
    std_loop *l = std_loop_new();
    chain c = {.left = 5, .l = l};
    char *argv[] = {"echo", "link", NULL};
    std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 64};
    CHECK(std_proc_spawn(l, &s, chain_done, &c, NULL, NULL) == 0);
    run_all(l, 10000);
    CHECK(c.finished == 5);
    std_loop_free(l);
}

TEST(proc_fifty_at_once)
{
    std_loop *l = std_loop_new();
    enum { N = 50 };
    static pres xs[N];
    char nums[N][8];
    int spawned = 0;
    for (int i = 0; i < N; i++) {
        memset(&xs[i], 0, sizeof xs[i]);
        snprintf(nums[i], sizeof nums[i], "%d", i);
        char *argv[] = {"sh", "-c", "sleep 0.2; echo out$1; echo err$1 >&2; exit $(($1 % 7))",
                        "sh", nums[i], NULL};
        std_proc_spec s = {.argv = argv, .env = std_env, .out_cap = 64};
        spawned += std_proc_spawn(l, &s, done_cb, &xs[i], NULL, NULL) == 0;
    }
    CHECK(spawned == N);
    int64_t t0 = mono_ms();
    run_all(l, 20000);
    CHECK(mono_ms() - t0 < 10000);
    for (int i = 0; i < N; i++) {
        char want[16];
        CHECK(xs[i].done_calls == 1);
        CHECK(xs[i].exited == 1 && xs[i].code == i % 7);
        snprintf(want, sizeof want, "out%d\n", i);
        CHECK_STR(xs[i].out.p, want);
        snprintf(want, sizeof want, "err%d\n", i);
        CHECK_STR(xs[i].err.p, want);
        pres_free(&xs[i]);
    }
    std_loop_free(l);
}

static int fds_at_start;

TEST(no_fd_leak_no_zombie)
{
    usleep(50000);
    CHECK(count_fds() == fds_at_start);
    errno = 0;
    pid_t r = waitpid(-1, NULL, WNOHANG);
    CHECK(r == -1 && errno == ECHILD);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* proc.c requires it */
    fds_at_start = count_fds();
    RUN(timers_fire_in_order);
    RUN(timer_cancel);
    RUN(timer_added_during_dispatch);
    RUN(many_timers_heap_and_compaction);
    RUN(run_once_waits);
    RUN(eintr_is_not_an_error);
    RUN(fd_watchers);
    RUN(proc_echo_stdout);
    RUN(proc_stderr_and_exit_code);
    RUN(proc_killed_by_signal);
    RUN(proc_kill_reaches_the_group);
    RUN(proc_output_cap);
    RUN(proc_stdin);
    RUN(proc_env_only_given);
    RUN(proc_path_from_env);
    RUN(proc_cwd);
    RUN(proc_not_found);
    RUN(proc_child_is_clean);
    RUN(proc_grandchild_holding_pipes);
    RUN(proc_spawn_from_callback);
    RUN(proc_fifty_at_once);
    RUN(no_fd_leak_no_zombie);
    CHECK_DONE();
}
