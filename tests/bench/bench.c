/* bench.c — `make bench`: what wfdsl costs on this machine, next to the
 * ceiling of the SQLite it writes to (docs/performance.md explains every
 * figure).
 *
 *   build/bench [--smoke] [--json PATH] [--dir DIR] [--only NAME,...] [--keep]
 *
 * Every scenario runs in this one process (workers are child processes), on
 * one database file in a temp directory (DIR/bench.db) opened with the
 * store's own settings: WAL, synchronous=FULL unless stated. The ceiling is
 * measured first on that file with raw SQLite: single-row commits per
 * second, and rows per second with 100 rows per commit. Then, through the
 * engine's API (the library objects, linked as the unit tests are):
 *   seq_lua     N runs one after another of a 3-step `lua` workflow, each
 *               vm_engine_start + vm_engine_run on one engine (and the same
 *               at --durability normal, for comparison)
 *   seq_http    the same with 3 `http` steps against tests/http_server.py,
 *               and the same requests one by one from a bare curl loop
 *   concurrent  1,000 runs of the lua workflow started, then driven together
 *               by one vm_engine_run (3 times, the median)
 *   fanout      a foreach of 1,000 `http` steps at concurrency 1,000, against
 *               the same 1,000 requests made by a bare curl-multi loop
 *               (stdlib/http.h): the difference per request, median of 7
 *               pairs
 *   replay      a real run of a foreach over 33,334 lua steps (100,004
 *               events), then vm_engine_resume + vm_engine_run of it in
 *               replay_only mode
 *   vm          a loop of 100,000 `set` steps of constants on the bare VM
 *               (vm_run_advance / vm_resolve: no engine, no store)
 *   startup     `wfdsl run samples/hello.yaml --db DIR/bench.db`, a whole
 *               process, median of 20 (and at --durability normal)
 *   parked      100,000 runs recorded (vm_record_run, one transaction), each
 *               taken to a 1 h sleep by `wfdsl worker --concurrency 1000`
 *               (FULL): the worker's peak RSS (VmHWM) once all are parked
 *   timers      10,000 runs sleeping until one absolute time, parked by a
 *               worker, then fired by a new worker (both FULL):
 *               completions per second from the due time
 *   asl         tests/bench/map1000.asl.json by `wfdsl run` (FULL), and by
 *               aws-local-stepfunctions in node when it is available
 * The binary for startup, parked and timers is $WFDSL (default ./wfdsl).
 * Prints one table and writes the same figures as flat JSON (default
 * bench-results.json); a figure that could not be measured is null.
 * --smoke: tiny counts, a few seconds (tests/cases/bench_smoke.sh).
 * --only: run only the named scenarios (for profiling one of them).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../dsl/compile.h"
#include "../../interpreter/engine.h"
#include "../../interpreter/vm.h"
#include "../../stdlib/http.h"
#include "../../stdlib/loop.h"
#include "../../storage/store.h"
#include "../unit/server.h"

/* ---- counts ----------------------------------------------------------------- */

typedef struct counts {
    int commits;        /* ceiling: single-row commits (at most) */
    int batches;        /* ceiling: commits of 100 rows (at most) */
    int seq_lua;        /* sequential lua runs (at most) */
    int seq_http;       /* sequential http runs (at most) */
    double seq_cap_s;   /* ... or this many seconds, whichever comes first */
    int concurrent;     /* runs in flight together */
    int conc_reps;      /* times; the median is kept */
    int fanout;         /* concurrent HTTP requests */
    int fanout_reps;    /* bare/engine pairs (odd, at most 9); medians are kept */
    int replay_items;   /* foreach items: 3 events each */
    int vm_iters;       /* loop iterations of a set step */
    int startup;        /* processes; the median is kept */
    int parked;         /* runs parked on a 1 h sleep */
    int timers;         /* runs woken by one due time */
    int asl;            /* ASL map1000 processes (odd, at most 9); the median is kept */
    double worker_cap_s; /* give up waiting on a worker after this long */
} counts;

static const counts FULL = {2000, 300, 3000, 400, 3.0, 1000, 3, 1000, 7, 33334, 100000, 20, 100000,
                            10000, 5, 120};
static const counts SMOKE = {30, 5, 30, 5, 1.0, 40, 1, 20, 1, 100, 2000, 3, 200, 50, 1, 30};

/* ---- figures ------------------------------------------------------------------ */

typedef struct figure {
    const char *key;     /* JSON key */
    const char *label;
    const char *unit;
    const char *target;  /* the target, "" if none */
    int better;          /* +1 higher is better, -1 lower is better, 0 no target */
    double goal;
    double v;            /* NAN: not measured */
    char note[160];
    int noisy;           /* its spread is wider than the target: no verdict */
} figure;

enum {
    F_COMMITS, F_BATCHED,
    F_SEQ_LUA, F_SEQ_LUA_STEPS, F_SEQ_LUA_NORMAL, F_SEQ_HTTP, F_SEQ_HTTP_STEPS, F_SEQ_HTTP_BARE,
    F_CONC, F_CONC_CPU, F_REPLAY, F_VM, F_STARTUP, F_STARTUP_NORMAL, F_PARKED, F_PARK_RATE, F_TIMERS, F_TIMERS_CPU,
    F_FANOUT, F_FANOUT_CPU, F_FANOUT_BARE, F_FANOUT_ENGINE, F_ASL, F_ASL_PEER, F_COUNT
};

/* key, label, unit, target, better, goal */
#define FIG(key, label, unit, target, better, goal) {key, label, unit, target, better, goal, NAN, "", 0}
static figure figs[F_COUNT] = {
    [F_COMMITS] = FIG("sqlite_full_commits_per_s", "SQLite: 1-row commits (FULL)", "commits/s",
                      "ceiling", 0, 0),
    [F_BATCHED] = FIG("sqlite_batched_rows_per_s", "SQLite: 100 rows per commit", "rows/s",
                      "ceiling", 0, 0),
    [F_SEQ_LUA] = FIG("sequential_lua_runs_per_s", "sequential 3-step lua runs", "runs/s",
                      ">= 2000", 1, 2000),
    [F_SEQ_LUA_STEPS] = FIG("sequential_lua_steps_per_s", "  the same in steps", "steps/s", "", 0, 0),
    [F_SEQ_LUA_NORMAL] = FIG("sequential_lua_runs_per_s_normal", "  the same, --durability normal",
                             "runs/s", "", 0, 0),
    [F_SEQ_HTTP] = FIG("sequential_http_runs_per_s", "sequential 3-step http runs", "runs/s", "", 0, 0),
    [F_SEQ_HTTP_STEPS] = FIG("sequential_http_steps_per_s", "  the same in steps", "steps/s", "", 0, 0),
    [F_SEQ_HTTP_BARE] = FIG("sequential_http_bare_runs_per_s", "  bare curl, 3 requests one by one",
                            "runs/s", "", 0, 0),
    [F_CONC] = FIG("concurrent_steps_per_s", "1,000 lua runs driven together", "steps/s",
                   ">= 50000", 1, 50000),
    [F_CONC_CPU] = FIG("concurrent_cpu_us_per_step", "  engine CPU per step", "us", "", 0, 0),
    [F_REPLAY] = FIG("replay_100k_events_s", "replay of a 100k-event history", "s", "< 0.5", -1, 0.5),
    [F_VM] = FIG("vm_ns_per_instruction", "VM, loop of constant set steps", "ns/instr", "", 0, 0),
    [F_STARTUP] = FIG("startup_ms", "wfdsl run samples/hello.yaml", "ms", "< 20", -1, 20),
    [F_STARTUP_NORMAL] = FIG("startup_normal_ms", "  the same, --durability normal", "ms", "", 0, 0),
    [F_PARKED] = FIG("parked_100k_rss_mb", "worker peak RSS, 100k parked", "MB", "< 100", -1, 100),
    [F_PARK_RATE] = FIG("parked_runs_per_s", "  runs taken to their sleep", "runs/s", "", 0, 0),
    [F_TIMERS] = FIG("timers_fired_per_s", "10k timers due at once", "runs/s", ">= 5000", 1, 5000),
    [F_TIMERS_CPU] = FIG("timers_worker_cpu_us_per_run", "  worker CPU per woken run", "us", "", 0, 0),
    [F_FANOUT] = FIG("http_overhead_us", "HTTP fan-out: engine overhead", "us/req", "< 50", -1, 50),
    [F_FANOUT_CPU] = FIG("http_overhead_cpu_us", "  engine CPU per request over bare", "us/req", "", 0, 0),
    [F_FANOUT_BARE] = FIG("http_fanout_bare_s", "  bare curl-multi, 1,000 requests", "s", "", 0, 0),
    [F_FANOUT_ENGINE] = FIG("http_fanout_engine_s", "  engine, foreach of 1,000 http", "s", "", 0, 0),
    [F_ASL] = FIG("asl_map1000_s", "ASL Map of 1,000 items (wfdsl run)", "s", "< 0.3", -1, 0.3),
    [F_ASL_PEER] = FIG("asl_map1000_peer_s", "  aws-local-stepfunctions (node)", "s", "", 0, 0),
};
#undef FIG

static const counts *K;
static char dir[256], db[300];
static const char *wfdsl_bin = "./wfdsl";
static char *only;

static int want(const char *name)
{
    if (!only) return 1;
    char buf[512];
    snprintf(buf, sizeof buf, ",%s,", only);
    char pat[64];
    snprintf(pat, sizeof pat, ",%s,", name);
    return strstr(buf, pat) != NULL;
}

static double now_s(void) { return (double)std_mono_ns() / 1e9; }

/* Profiling one timed region: with BENCH_PERF_CTL=FIFO, "enable" and
 * "disable" are written to it around the timed parts, for
 *   perf record --control fifo:FIFO -D -1 -g build/bench --only NAME
 * (docs/performance.md, "Profiling"). */
static void prof(int on)
{
    static int fd = -2;
    if (fd == -2) fd = getenv("BENCH_PERF_CTL") ? open(getenv("BENCH_PERF_CTL"), O_WRONLY) : -1;
    if (fd < 0) return;
    const char *m = on ? "enable\n" : "disable\n";
    if (write(fd, m, strlen(m)) < 0) fd = -1;
    usleep(10000); /* let perf act on it */
}

static void note(int f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(int f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(figs[f].note, sizeof figs[f].note, fmt, ap);
    va_end(ap);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- helpers -------------------------------------------------------------------- */

static vm_program *compile_text(const char *text)
{
    std_diags d = {0};
    dsl_doc *doc = NULL;
    vm_program *p = NULL;
    if (dsl_yaml_load("bench.yaml", text, strlen(text), &doc, &d) == 0) dsl_compile(doc, &p, &d);
    for (size_t i = 0; i < d.n; i++) fprintf(stderr, "%s\n", d.msgs[i]);
    dsl_doc_free(doc);
    std_diags_free(&d);
    return p;
}

static store *open_store_d(store_durability d)
{
    store *s = NULL;
    std_err e = {0};
    if (store_open(db, d, &s, &e) != 0) {
        say("cannot open %s: %s", db, e.msg);
        return NULL;
    }
    return s;
}

static sqlite3 *open_raw(void)
{
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        say("sqlite3_open %s: %s", db, h ? sqlite3_errmsg(h) : "?");
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 5000);
    return h;
}

static int64_t count_sql(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static long vm_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* The 1-minute load average: the machine may be shared. */
static double loadavg(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1) l = NAN;
    if (f) fclose(f);
    return l;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static store *open_store(void) { return open_store_d(STORE_DURABILITY_FULL); }

/* CPU seconds (user + system) of this process so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- a fast local HTTP responder ----------------------------------------------------- */

/* The fan-out compares the engine with a bare curl-multi loop making the same
 * requests; for the difference to be measurable the server must cost far less
 * than the engine does. tests/http_server.py (a Python thread per connection)
 * takes ~0.5 ms of CPU per request and varies by more than the whole overhead
 * measured, so the fan-out talks to this: one process, epoll, keep-alive,
 * every request (up to its blank line; no bodies) answered 200 with the same
 * small JSON body in one write. It dies with the bench. */
static char fast_base[64];
static pid_t fast_pid;

static void fast_serve(int lfd)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 15\r\n\r\n{\"status\": 200}";
    /* per fd: how many bytes of "\r\n\r\n" were matched so far */
    static unsigned char state[65536];
    struct epoll_event evs[256];
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= (int)sizeof state) {
                        close(c);
                        continue;
                    }
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    state[c] = 0;
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                close(fd); /* also leaves the epoll set */
                continue;
            }
            int answers = 0;
            for (ssize_t k = 0; k < r; k++) { /* count the requests' ends */
                static const char end[] = "\r\n\r\n";
                state[fd] = buf[k] == end[state[fd]] ? state[fd] + 1 : buf[k] == '\r' ? 1 : 0;
                if (state[fd] == 4) {
                    state[fd] = 0;
                    answers++;
                }
            }
            for (int a = 0; a < answers; a++)
                if (write(fd, resp, sizeof resp - 1) < 0) break;
        }
    }
}

static int fast_start(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        say("fast responder: %s", strerror(errno));
        if (lfd >= 0) close(lfd);
        return -1;
    }
    pid_t parent = getpid();
    fast_pid = fork();
    if (fast_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        fast_serve(lfd);
        _exit(0);
    }
    close(lfd);
    if (fast_pid < 0) return -1;
    snprintf(fast_base, sizeof fast_base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return 0;
}

static void fast_stop(void)
{
    if (fast_pid > 0) {
        kill(fast_pid, SIGKILL);
        waitpid(fast_pid, NULL, 0);
        fast_pid = 0;
    }
}

/* ---- ceiling: raw SQLite on the same file ------------------------------------------ */

/* Raw SQLite commits on the bench's file: rows shaped like the store's events
 * (WITHOUT ROWID, key (run_id, seq)), a payload the size of a step_completed;
 * `rows` rows per transaction, at most max commits or cap_s seconds.
 * Returns rows per second (NAN on an error). */
static double raw_commits(int rows, int max, double cap_s)
{
    sqlite3 *h = open_raw();
    if (!h) return NAN;
    char *err = NULL;
    if (sqlite3_exec(h,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                     "CREATE TABLE IF NOT EXISTS bench_events (run_id TEXT NOT NULL,"
                     " seq INTEGER NOT NULL, type TEXT NOT NULL, time_ms INTEGER NOT NULL,"
                     " payload TEXT, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;",
                     NULL, NULL, &err) != SQLITE_OK) {
        say("ceiling: %s", err);
        sqlite3_free(err);
        sqlite3_close(h);
        return NAN;
    }
    sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
    sqlite3_prepare_v2(h, "INSERT INTO bench_events VALUES (?1, ?2, 'step_completed', ?3, ?4)", -1, &ins,
                       NULL);
    sqlite3_prepare_v2(h, "BEGIN IMMEDIATE", -1, &begin, NULL);
    sqlite3_prepare_v2(h, "COMMIT", -1, &commit, NULL);
    const char *payload = "{\"seq\":3,\"attempt\":1,\"output\":3,\"duration_ms\":0}";
    char run_id[40];
    snprintf(run_id, sizeof run_id, "ceiling-%lld", (long long)std_mono_ns());
    int64_t seq = 0;
    int ok = 1, n = 0;
#define EXEC1(q) (sqlite3_step(q) == SQLITE_DONE ? (sqlite3_reset(q), 1) : (sqlite3_reset(q), 0))
    double t0 = now_s(), t = 0;
    while (n < max && ok) {
        ok &= EXEC1(begin);
        for (int r = 0; r < rows && ok; r++) {
            sqlite3_bind_text(ins, 1, run_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, ++seq);
            sqlite3_bind_int64(ins, 3, std_now_ms());
            sqlite3_bind_text(ins, 4, payload, -1, SQLITE_STATIC);
            ok &= EXEC1(ins);
        }
        ok &= EXEC1(commit);
        n++;
        t = now_s() - t0;
        if (t > cap_s && n >= 20) break;
    }
#undef EXEC1
    if (!ok) say("ceiling: %s", sqlite3_errmsg(h));
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_exec(h, "DROP TABLE IF EXISTS bench_events", NULL, NULL, NULL);
    sqlite3_close(h);
    return ok ? n * rows / t : NAN;
}

/* The time of a durable commit varies with the host's disk: the scenarios
 * bound by fsync measure it again right next to them (1 s of 1-row commits). */
static double probe_commits(const char *what)
{
    double r = raw_commits(1, K->commits, K == &SMOKE ? 0.1 : 1.0);
    say("ceiling next to %s: %.0f commits/s", what, r);
    return r;
}

static void bench_ceiling(void)
{
    figs[F_COMMITS].v = raw_commits(1, K->commits, 3.0);
    figs[F_BATCHED].v = raw_commits(100, K->batches, 3.0);
    say("ceiling: %.0f commits/s, %.0f rows/s in batches of 100", figs[F_COMMITS].v, figs[F_BATCHED].v);
}

/* ---- engine scenarios ------------------------------------------------------------- */

static const char *LUA3 = "wfdsl: 1\nname: bench-lua3\nsteps:\n"
                          "  - id: a\n    lua: return 1\n"
                          "  - id: b\n    lua: return steps.a + 1\n"
                          "  - id: c\n    lua: return steps.b + 1\n"
                          "output: ${ steps.c }\n";
static const char *HTTP3 = "wfdsl: 1\nname: bench-http3\ninput:\n  base: {type: string}\nsteps:\n"
                           "  - id: a\n    http: \"${input.base}/status/200\"\n"
                           "  - id: b\n    http: \"${input.base}/status/200\"\n"
                           "  - id: c\n    http: \"${input.base}/status/200\"\n"
                           "output: ${ steps.c.status }\n";

/* Sequential: one engine, runs one after another (start + run each), until
 * max runs or cap_s seconds. Compilation is done before the clock starts. */
static double sequential(const char *tag, const char *text, json_t *input, int max, int *nruns,
                         store_durability d)
{
    *nruns = 0;
    store *s = open_store_d(d);
    if (!s) return NAN;
    vm_engine *g = vm_engine_new(s, NULL);
    vm_program **progs = calloc((size_t)max, sizeof *progs);
    for (int i = 0; i < max; i++)
        if (!(progs[i] = compile_text(text))) break;
    std_err e = {0};
    int done = 0, n = 0, bad = 0;
    prof(1);
    double t0 = now_s(), t = 0;
    for (n = 0; n < max && progs[n]; n++) {
        char wid[64], rid[64];
        snprintf(wid, sizeof wid, "%s-%d", tag, n);
        vm_program *p = progs[n];
        progs[n] = NULL;
        if (vm_engine_start(g, p, text, wid, input, rid, &e) != 0 || vm_engine_run(g, &e) != 0) {
            say("%s: %s", tag, e.msg);
            bad = 1;
            break;
        }
        const char *st = vm_engine_result(g, rid, NULL, NULL);
        if (st && !strcmp(st, "completed")) done++;
        else if (!bad++) say("%s: run %d ended %s", tag, n, st ? st : "(unknown)");
        t = now_s() - t0;
        if (t > K->seq_cap_s && n >= 10) {
            n++;
            break;
        }
    }
    prof(0);
    for (int i = 0; i < max; i++) vm_program_free(progs[i]);
    free(progs);
    vm_engine_free(g);
    store_close(s);
    *nruns = done;
    say("%s: %d runs in %.3f s", tag, done, t);
    return bad || done == 0 ? NAN : done / t;
}

/* Start n runs of text in one engine (not timed), then drive them together:
 * returns the seconds vm_engine_run took, NAN if a run did not complete. */
static double together(const char *tag, const char *text, json_t *input, int n, double *cpu)
{
    store *s = open_store();
    if (!s) return NAN;
    vm_engine *g = vm_engine_new(s, NULL);
    char(*ids)[64] = calloc((size_t)n, 64);
    std_err e = {0};
    int ok = 1;
    double ts = now_s();
    for (int i = 0; i < n && ok; i++) {
        char wid[64];
        snprintf(wid, sizeof wid, "%s-%d-%lld", tag, i, (long long)std_mono_ns());
        vm_program *p = compile_text(text);
        if (!p || vm_engine_start(g, p, text, wid, input, ids[i], &e) != 0) {
            say("%s: start: %s", tag, e.msg);
            ok = 0;
        }
    }
    ts = now_s() - ts;
    prof(1);
    double t0 = now_s(), c0 = cpu_s();
    if (ok && vm_engine_run(g, &e) != 0) {
        say("%s: %s", tag, e.msg);
        ok = 0;
    }
    double t = now_s() - t0;
    *cpu = cpu_s() - c0;
    prof(0);
    int done = 0;
    for (int i = 0; ok && i < n; i++) {
        const char *st = vm_engine_result(g, ids[i], NULL, NULL);
        if (st && !strcmp(st, "completed")) done++;
    }
    free(ids);
    vm_engine_free(g);
    store_close(s);
    say("%s: %d runs started in %.3f s, driven to the end in %.3f s, %.3f s CPU (%d completed)", tag, n, ts, t,
        *cpu, done);
    return ok && done == n ? t : NAN;
}

static void bench_seq_lua(void)
{
    json_t *in = json_object();
    int n = 0;
    double c = probe_commits("seq_lua");
    double r = sequential("seq-lua", LUA3, in, K->seq_lua, &n, STORE_DURABILITY_FULL);
    int n2 = 0;
    figs[F_SEQ_LUA_NORMAL].v =
        sequential("seq-lua-normal", LUA3, in, K->seq_lua, &n2, STORE_DURABILITY_NORMAL);
    if (n2) note(F_SEQ_LUA_NORMAL, "%d runs", n2);
    json_decref(in);
    figs[F_SEQ_LUA].v = r;
    figs[F_SEQ_LUA_STEPS].v = r * 3;
    if (!isnan(r) && !isnan(c))
        note(F_SEQ_LUA, "%d runs; 1 run per %.1f commit times (%.0f commits/s then)", n, c / r, c);
}

/* Fan-out: n requests by a bare curl-multi loop, then n runs of one http
 * step in the engine; the best of reps pairs. */
typedef struct fan_ctx {
    int done, ok;
} fan_ctx;

static void fan_done(std_http_resp *r, void *ud)
{
    fan_ctx *c = ud;
    c->done++;
    if (r->outcome == STD_HTTP_OK && r->status == 200) c->ok++;
}

/* The same requests without the engine: n "runs" of 3 requests one after
 * another on one curl multi handle (connections reused, as the engine's). */
static double bare_sequential(int max)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    char url[128];
    snprintf(url, sizeof url, "%s/status/200", base);
    fan_ctx c = {0};
    std_err e = {0};
    int n = 0;
    double t0 = now_s(), t = 0;
    for (n = 0; n < max; n++) {
        for (int k = 0; k < 3; k++) {
            std_http_req q = {.method = "GET", .url = url, .timeout_ms = 60000};
            int want_done = c.done + 1;
            if (!std_http_start(h, &q, fan_done, &c, &e)) {
                say("seq-http: bare: %s", e.msg);
                c.done++;
            }
            while (c.done < want_done)
                if (std_loop_run_once(l, 1000) < 0) break;
        }
        t = now_s() - t0;
        if (t > K->seq_cap_s && n >= 10) {
            n++;
            break;
        }
    }
    std_http_free(h);
    std_loop_free(l);
    say("seq-http: bare curl, %d x 3 requests one after another (%d ok) in %.3f s", n, c.ok, t);
    return c.ok == 3 * n ? n / t : NAN;
}

static void bench_seq_http(void)
{
    json_t *in = json_pack("{s:s}", "base", base);
    int n = 0;
    double c = probe_commits("seq_http");
    double r = sequential("seq-http", HTTP3, in, K->seq_http, &n, STORE_DURABILITY_FULL);
    json_decref(in);
    figs[F_SEQ_HTTP].v = r;
    figs[F_SEQ_HTTP_STEPS].v = r * 3;
    if (!isnan(r)) note(F_SEQ_HTTP, "%d runs", n);
    figs[F_SEQ_HTTP_BARE].v = bare_sequential(K->seq_http);
    if (!isnan(r) && !isnan(figs[F_SEQ_HTTP_BARE].v))
        note(F_SEQ_HTTP, "%d runs; %.0f us/step over bare = %.1f commit times (%.0f commits/s then)", n,
             (1 / r - 1 / figs[F_SEQ_HTTP_BARE].v) * 1e6 / 3, (1 / r - 1 / figs[F_SEQ_HTTP_BARE].v) * c / 3, c);
}

static void bench_concurrent(void)
{
    json_t *in = json_object();
    double ts[5], cpu[5];
    int reps = K->conc_reps;
    for (int r = 0; r < reps; r++) {
        ts[r] = together("concurrent", LUA3, in, K->concurrent, &cpu[r]);
        if (isnan(ts[r])) {
            json_decref(in);
            return;
        }
    }
    json_decref(in);
    qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
    double t = ts[reps / 2], steps = 3.0 * K->concurrent;
    figs[F_CONC].v = steps / t;
    figs[F_CONC_CPU].v = cpu[reps / 2] * 1e6 / steps;
    note(F_CONC, "median of %d; %.0f events/s (10 per run)", reps, 10.0 * K->concurrent / t);
}

static double bare_fanout(const char *server, int n, double *cpu)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    char url[128];
    snprintf(url, sizeof url, "%s/status/200", server);
    fan_ctx c = {0};
    std_err e = {0};
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) {
        std_http_req q = {.method = "GET", .url = url, .timeout_ms = 60000};
        if (!std_http_start(h, &q, fan_done, &c, &e)) {
            say("fanout: %s", e.msg);
            c.done++;
        }
    }
    while (c.done < n)
        if (std_loop_run_once(l, 1000) < 0) break;
    double t = now_s() - t0;
    *cpu = cpu_s() - c0;
    std_http_free(h);
    std_loop_free(l);
    say("fanout: bare curl-multi, %d requests (%d ok) in %.3f s, %.3f s CPU", n, c.ok, t, *cpu);
    return c.ok == n ? t : NAN;
}

/* The engine's side of the fan-out: one run of a foreach over n items with
 * concurrency n, each one `http` step (started, then timed while driven). */
static double engine_fanout(const char *server, int n, double *cpu)
{
    char text[1024];
    snprintf(text, sizeof text,
             "wfdsl: 1\nname: bench-fanout\ninput:\n  base: {type: string}\nsteps:\n  - id: all\n"
             "    foreach:\n"
             "      items: \"(function() local t = {} for i = 1, %d do t[i] = i end return t end)()\"\n"
             "      concurrency: %d\n      steps:\n        - id: get\n"
             "          http: \"${input.base}/status/200\"\n      result: ${ steps.get.status }\n"
             "output: ${ len(steps.all) }\n",
             n, n);
    store *s = open_store();
    if (!s) return NAN;
    vm_engine *g = vm_engine_new(s, NULL);
    std_err e = {0};
    char rid[64] = "", wid[64];
    snprintf(wid, sizeof wid, "fanout-%lld", (long long)std_mono_ns());
    json_t *in = json_pack("{s:s}", "base", server);
    vm_program *p = compile_text(text);
    int rc = p ? vm_engine_start(g, p, text, wid, in, rid, &e) : -1;
    json_decref(in);
    prof(1);
    double t0 = now_s(), c0 = cpu_s();
    if (rc == 0) rc = vm_engine_run(g, &e);
    double t = now_s() - t0;
    *cpu = cpu_s() - c0;
    prof(0);
    json_t *out = NULL;
    const char *st = rc == 0 ? vm_engine_result(g, rid, &out, NULL) : NULL;
    int ok = st && !strcmp(st, "completed") && json_integer_value(out) == n;
    if (!ok) say("fanout: engine: %s", rc ? e.msg : st ? st : "no result");
    vm_engine_free(g);
    store_close(s);
    say("fanout: engine, a foreach of %d http steps in %.3f s, %.3f s CPU", n, t, *cpu);
    return ok ? t : NAN;
}

/* Pairs (bare, engine) one after the other; the medians of the differences. */
static void bench_fanout(void)
{
    int reps = K->fanout_reps, n = K->fanout;
    double d[9], dc[9], b[9], g[9];
    for (int r = 0; r < reps; r++) {
        double bc = 0, ec = 0;
        b[r] = bare_fanout(fast_base, n, &bc);
        g[r] = engine_fanout(fast_base, n, &ec);
        if (isnan(b[r]) || isnan(g[r])) return;
        d[r] = g[r] - b[r];
        dc[r] = ec - bc;
    }
    qsort(d, (size_t)reps, sizeof *d, cmp_double);
    qsort(dc, (size_t)reps, sizeof *dc, cmp_double);
    qsort(b, (size_t)reps, sizeof *b, cmp_double);
    qsort(g, (size_t)reps, sizeof *g, cmp_double);
    figs[F_FANOUT].v = d[reps / 2] * 1e6 / n;
    figs[F_FANOUT_CPU].v = dc[reps / 2] * 1e6 / n;
    figs[F_FANOUT_BARE].v = b[reps / 2];
    figs[F_FANOUT_ENGINE].v = g[reps / 2];
    note(F_FANOUT, "median of %d pairs; differences %.0f..%.0f us", reps, d[0] * 1e6 / n,
         d[reps - 1] * 1e6 / n);
    /* the test server's own variation can be far larger than the overhead */
    figs[F_FANOUT].noisy = reps > 1 && (d[reps - 1] - d[0]) * 1e6 / n > 2 * figs[F_FANOUT].goal;
}

/* Replay: a real run of a foreach over items lua steps (3 events each, plus
 * run_started and run_completed), then its replay in replay_only mode. */
static void bench_replay(void)
{
    char text[1024];
    snprintf(text, sizeof text,
             "wfdsl: 1\nname: bench-replay\nsteps:\n  - id: all\n    foreach:\n"
             "      items: \"(function() local t = {} for i = 1, %d do t[i] = i end return t end)()\"\n"
             "      concurrency: 1000\n      steps:\n        - id: sq\n          lua: return index * 2\n"
             "output: ${ len(steps.all) }\n",
             K->replay_items);
    store *s = open_store();
    if (!s) return;
    vm_engine *g = vm_engine_new(s, NULL);
    std_err e = {0};
    char rid[64] = "";
    json_t *in = json_object();
    vm_program *p = compile_text(text);
    double t0 = now_s();
    int rc = p ? vm_engine_start(g, p, text, "bench-replay", in, rid, &e) : -1;
    if (rc == 0) rc = vm_engine_run(g, &e);
    json_t *err = NULL;
    const char *st = rc == 0 ? vm_engine_result(g, rid, NULL, &err) : NULL;
    double tb = now_s() - t0;
    json_decref(in);
    if (rc != 0 || !st || strcmp(st, "completed")) {
        char *et = err ? json_dumps(err, JSON_COMPACT) : NULL;
        say("replay: building the run failed: %s %s", rc ? e.msg : st ? st : "?", et ? et : "");
        free(et);
        vm_engine_free(g);
        store_close(s);
        return;
    }
    vm_engine_free(g);
    store_event *evs = NULL;
    size_t nev = 0;
    if (store_events_load(s, rid, &evs, &nev, &e) == 0) store_events_free(evs, nev);
    say("replay: live run of %d lua steps (%zu events) in %.3f s", K->replay_items, nev, tb);
    vm_engine_opts o = {.replay_only = 1};
    g = vm_engine_new(s, &o);
    char rid2[64];
    prof(1);
    t0 = now_s();
    rc = vm_engine_resume(g, rid, rid2, &e);
    double tl = now_s() - t0;
    if (rc == 0) rc = vm_engine_run(g, &e);
    double t = now_s() - t0;
    prof(0);
    err = NULL;
    st = rc == 0 ? vm_engine_result(g, rid, NULL, &err) : NULL;
    if (rc != 0 || !st || strcmp(st, "completed")) {
        char *et = err ? json_dumps(err, JSON_COMPACT) : NULL;
        say("replay: %s %s", rc ? e.msg : st ? st : "no result", et ? et : "");
        free(et);
        vm_engine_free(g);
        store_close(s);
        return;
    }
    vm_engine_free(g);
    store_close(s);
    say("replay: %zu events in %.3f s (load + index %.3f s)", nev, t, tl);
    figs[F_REPLAY].v = t * 100000.0 / (double)nev; /* scaled to exactly 100k (smoke: far fewer) */
    note(F_REPLAY, "%zu events; resume (load+index) %.3f s; live run took %.1f s", nev, tl, tb);
}

/* VM: the bare VM (no engine, no store) through a loop of set steps whose
 * values are constants; every command is resolved at once with its args, as
 * the engine does for `set`. */
static void bench_vm(void)
{
    char text[512];
    snprintf(text, sizeof text,
             "wfdsl: 1\nname: bench-vm\nvars: {x: 0}\nsteps:\n  - id: spin\n    loop:\n"
             "      max_iterations: %d\n      steps:\n        - set: {x: 1}\n"
             "output: ${ vars.x }\n",
             K->vm_iters);
    vm_program *p = compile_text(text);
    if (!p) return;
    std_err e = {0};
    json_t *globals = json_pack("{s:{}, s:{s:s, s:s, s:s, s:s}, s:{}}", "input", "run", "id", "bench-vm",
                                "run_id", "bench-vm", "workflow", "bench-vm", "started_at",
                                "2026-01-01T00:00:00.000Z", "secrets");
    double t0 = now_s();
    vm_run *r = vm_run_new(p, globals, NULL, &e);
    double tnew = now_s() - t0;
    json_decref(globals);
    if (!r) {
        say("vm: %s", e.msg);
        vm_program_free(p);
        return;
    }
    uint64_t ncmds = 0;
    prof(1);
    t0 = now_s();
    while (vm_run_state(r) == VM_RUNNING) {
        if (vm_run_advance(r, &e) != 0) break;
        vm_cmd *cmds = NULL;
        size_t n = vm_take_cmds(r, &cmds);
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) {
            vm_resolve(r, cmds[i].seq, cmds[i].args ? cmds[i].args : json_null());
            vm_cmd_free(&cmds[i]);
        }
        free(cmds);
        ncmds += n;
    }
    double t = now_s() - t0;
    prof(0);
    uint64_t ni = vm_run_instructions(r);
    int ok = vm_run_state(r) == VM_DONE && ncmds == (uint64_t)K->vm_iters;
    vm_run_free(r);
    vm_program_free(p);
    if (!ok || ni == 0) {
        say("vm: the run did not finish as expected (%llu commands)", (unsigned long long)ncmds);
        return;
    }
    figs[F_VM].v = t * 1e9 / (double)ni;
    note(F_VM, "%llu instr, %llu set steps; %.2f us/step", (unsigned long long)ni,
         (unsigned long long)ncmds, t * 1e6 / (double)ncmds);
    say("vm: %llu instructions, %llu commands in %.3f s (sandbox created in %.3f ms)",
        (unsigned long long)ni, (unsigned long long)ncmds, t, tnew * 1e3);
}

/* ---- processes ---------------------------------------------------------------------- */

/* Run argv with stdin/stdout on /dev/null and stderr to log (or /dev/null). */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        int lf = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
        dup2(dn, 0);
        dup2(dn, 1);
        dup2(lf >= 0 ? lf : dn, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Median wall time of n processes of `wfdsl run samples/hello.yaml`. */
static double startup(const char *durability, int n, double *lo, double *hi)
{
    double *ms = calloc((size_t)n, sizeof *ms), med = NAN;
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        char *argv[] = {(char *)wfdsl_bin, "run", "samples/hello.yaml", "--db", db,
                        "--durability", (char *)durability, NULL};
        double t0 = now_s();
        pid_t pid = spawn(argv, NULL);
        int st = 0;
        waitpid(pid, &st, 0);
        ms[i] = (now_s() - t0) * 1e3;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            say("startup: %s run samples/hello.yaml exited %d", wfdsl_bin,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            ok = 0;
        }
    }
    if (ok) {
        qsort(ms, (size_t)n, sizeof *ms, cmp_double);
        med = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
        *lo = ms[0];
        *hi = ms[n - 1];
        say("startup (--durability %s): median %.2f ms of %d (min %.2f, max %.2f)", durability, med, n,
            ms[0], ms[n - 1]);
    }
    free(ms);
    return med;
}

static void bench_startup(void)
{
    double lo = 0, hi = 0;
    double c = probe_commits("startup");
    figs[F_STARTUP].v = startup("full", K->startup, &lo, &hi);
    if (!isnan(figs[F_STARTUP].v))
        note(F_STARTUP, "median of %d; min %.1f, max %.1f; a commit took %.1f ms then", K->startup, lo, hi,
             1e3 / c);
    figs[F_STARTUP_NORMAL].v = startup("normal", K->startup, &lo, &hi);
    if (!isnan(figs[F_STARTUP_NORMAL].v))
        note(F_STARTUP_NORMAL, "median of %d; min %.1f, max %.1f", K->startup, lo, hi);
}

/* ASL: tests/bench/map1000.asl.json (a copy of the peer's example: a Map of
 * 1,000 items, 3 Pass states each) run by `wfdsl run` as a whole process at
 * FULL, median of K->asl; and, when node and the peer runner are here
 * ($ASL_PEER, default ../shared/asl/peer, with its packages where run-asl.mjs
 * looks for them), the same definition executed by aws-local-stepfunctions
 * in memory inside node (its own --time: node's start-up excluded). */
static double run_timed(char *const argv[], const char *out_path, const char *err_path, int *ok)
{
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        int of = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int ef = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : dn;
        dup2(dn, 0);
        dup2(of, 1);
        dup2(ef, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    *ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    return now_s() - t0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    std_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) std_buf_add(&b, chunk, n);
    fclose(f);
    std_buf_add(&b, "", 1);
    return b.p;
}

/* The expected result of map1000: {"count":1000,"first":1,"last":1999}. */
static int map1000_ok(const char *path)
{
    json_t *v = json_load_file(path, 0, NULL);
    int ok = json_integer_value(json_object_get(v, "count")) == 1000 &&
             json_integer_value(json_object_get(v, "last")) == 1999;
    json_decref(v);
    return ok;
}

static void bench_asl(void)
{
    const char *def = "tests/bench/map1000.asl.json";
    char out[400], errp[400];
    snprintf(out, sizeof out, "%s/asl.out", dir);
    snprintf(errp, sizeof errp, "%s/asl.err", dir);
    int n = K->asl;
    double t[9], c = probe_commits("asl");
    for (int i = 0; i < n; i++) {
        char *argv[] = {(char *)wfdsl_bin, "run", (char *)def, "--db", db, "--quiet", NULL};
        int ok = 0;
        t[i] = run_timed(argv, out, errp, &ok);
        if (!ok || !map1000_ok(out)) {
            char *e = slurp(errp);
            say("asl: wfdsl run %s failed: %s", def, e ? e : "?");
            free(e);
            return;
        }
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    figs[F_ASL].v = t[n / 2];
    say("asl: wfdsl run map1000: median %.3f s (min %.3f, max %.3f)", t[n / 2], t[0], t[n - 1]);

    const char *peer = getenv("ASL_PEER") ? getenv("ASL_PEER") : "../shared/asl/peer";
    char runner[400];
    snprintf(runner, sizeof runner, "%s/run-asl.mjs", peer);
    double pt[9];
    int pn = 0;
    if (access(runner, R_OK) == 0) {
        for (int i = 0; i < n; i++) {
            char *argv[] = {"node", runner, (char *)def, "--time", NULL};
            int ok = 0;
            run_timed(argv, out, errp, &ok);
            char *e = slurp(errp);
            const char *m = e ? strstr(e, "execution took ") : NULL;
            if (!ok || !m || !map1000_ok(out)) {
                say("asl: the peer (node %s) did not run: %.200s", runner, e ? e : "?");
                free(e);
                break;
            }
            pt[pn++] = atof(m + strlen("execution took ")) / 1e3;
            free(e);
        }
    } else {
        say("asl: no peer runner at %s (set ASL_PEER)", runner);
    }
    if (pn == n) {
        qsort(pt, (size_t)n, sizeof *pt, cmp_double);
        figs[F_ASL_PEER].v = pt[n / 2];
        note(F_ASL, "median of %d; whole process, FULL; %.2fx the peer's time; %.0f commits/s then", n,
             t[n / 2] / pt[n / 2], c);
        note(F_ASL_PEER, "median of %d; in memory, node start-up excluded", n);
    } else {
        note(F_ASL, "median of %d; whole process, FULL; %.0f commits/s then", n, c);
        note(F_ASL_PEER, "not measured: node or the peer runner unavailable");
    }
}

/* Record n runs of text (one program) in one transaction, as test_parked.c. */
static int record_runs(const char *tag, const char *text, int n, json_t *input)
{
    store *s = open_store();
    if (!s) return -1;
    vm_program *p = compile_text(text);
    std_err e = {0};
    int rc = p ? store_begin(s, &e) : -1;
    for (int i = 0; rc == 0 && i < n; i++) {
        char wid[64], rid[64];
        snprintf(wid, sizeof wid, "%s-%d", tag, i);
        rc = vm_record_run(s, p, text, wid, input, NULL, rid, &e);
    }
    if (rc == 0) rc = store_commit(s, &e);
    if (rc != 0) {
        say("%s: recording runs: %s", tag, e.msg);
        store_rollback(s);
    }
    vm_program_free(p);
    store_close(s);
    return rc;
}

static char worker_log[320];

static pid_t start_worker(const char *durability)
{
    char *argv[] = {(char *)wfdsl_bin, "worker",        "--db",    db,  "--concurrency", "1000",
                    "--durability",    (char *)durability, "--quiet", NULL};
    return spawn(argv, worker_log);
}

static int stop_worker(pid_t pid)
{
    int st = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Wait until count >= n (polling every 50 ms), at most cap_s; tracks the
 * worker's VmHWM in *peak_kb when not NULL. Returns the last count. */
static int64_t wait_count(sqlite3 *h, const char *sql, int64_t n, double cap_s, pid_t *pid, long *peak_kb)
{
    double t0 = now_s();
    int64_t c = 0;
    while (now_s() - t0 < cap_s) {
        usleep(50000);
        if (peak_kb) {
            long kb = vm_hwm_kb(*pid);
            if (kb > *peak_kb) *peak_kb = kb;
        }
        c = count_sql(h, sql);
        if (c >= n) break;
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            say("the worker exited; see %s", worker_log);
            *pid = 0;
            break;
        }
    }
    return c;
}

static double park_rate = NAN; /* runs/s the parked scenario saw, for the timers' margin */

/* 100k runs to a 1 h sleep under one worker (FULL: a turn's runs are parked
 * in one transaction). */
static void bench_parked(void)
{
    const char *text = "wfdsl: 1\nname: bench-parked\nsteps:\n  - id: hello\n    lua: return 1\n"
                       "  - sleep: 1h\n  - lua: return 2\n";
    int n = K->parked;
    json_t *in = json_object();
    double t0 = now_s();
    int rc = record_runs("parked", text, n, in);
    json_decref(in);
    if (rc != 0) return;
    say("parked: %d runs recorded in %.2f s", n, now_s() - t0);
    sqlite3 *h = open_raw();
    if (!h) return;
    pid_t pid = start_worker("full");
    long peak = 0;
    t0 = now_s();
    int64_t waiting = wait_count(h,
                                 "SELECT count(*) FROM runs WHERE status = 'waiting' AND name = 'bench-parked'",
                                 n, K->worker_cap_s, &pid, &peak);
    double t = now_s() - t0;
    long kb = pid ? vm_hwm_kb(pid) : -1;
    if (kb > peak) peak = kb;
    int clean = pid ? stop_worker(pid) : 0;
    sqlite3_close(h);
    say("parked: %lld of %d parked in %.2f s; worker peak RSS %ld kB; clean exit %d", (long long)waiting,
        n, t, peak, clean);
    figs[F_PARK_RATE].v = park_rate = waiting / t;
    if (waiting < n) {
        note(F_PARKED, "only %lld of %d parked in %.0f s", (long long)waiting, n, t);
        return;
    }
    figs[F_PARKED].v = peak / 1024.0;
    note(F_PARKED, "FULL; %d parked in %.1f s", n, t);
}

/* 10k runs sleeping until one absolute time: parked by a worker, then fired
 * by a new worker (both FULL); completions per second from the due time. */
/* CPU seconds (user + system) a process has used so far. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return NAN;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void timers_on(const char *path);

/* On a database of its own (DIR/timers.db, same disk), so that counting
 * what is left is cheap for the poller and the 100k parked runs of the
 * previous scenario are not in the way. */
static void bench_timers(void)
{
    char saved[sizeof db], path[sizeof db];
    snprintf(saved, sizeof saved, "%s", db);
    snprintf(path, sizeof path, "%s/timers.db", dir);
    timers_on(path);
    snprintf(db, sizeof db, "%s", saved);
}

static void timers_on(const char *path)
{
    snprintf(db, sizeof db, "%s", path);
    const char *text = "wfdsl: 1\nname: bench-timer\ninput:\n  at: {type: number}\nsteps:\n"
                       "  - sleep: {until: \"${input.at}\"}\n";
    int n = K->timers;
    /* all must be parked before they are due: allow the time the parked
     * scenario took per run plus 20% (or 1 ms per run), and 3 s more (smoke: 1.5 s) */
    double rate = isnan(park_rate) || park_rate < 200 ? 1000 : park_rate;
    double t0 = now_s();
    int64_t due_ms = std_now_ms() + (int64_t)(1200.0 * n / rate) + (K == &SMOKE ? 1500 : 3000);
    json_t *in = json_pack("{s:f}", "at", due_ms / 1000.0);
    int rc = record_runs("timer", text, n, in);
    json_decref(in);
    if (rc != 0) return;
    say("timers: %d runs recorded in %.2f s, due in %.1f s", n, now_s() - t0, (due_ms - std_now_ms()) / 1e3);
    sqlite3 *h = open_raw();
    if (!h) return;
    pid_t pid = start_worker("full");
    int64_t parked = wait_count(h,
                                "SELECT count(*) FROM runs WHERE status = 'waiting' AND name = 'bench-timer'",
                                n, (due_ms - std_now_ms() - 1200) / 1e3, &pid, NULL);
    if (pid) stop_worker(pid);
    say("timers: %lld parked, %.1f s before the due time", (long long)parked, (due_ms - std_now_ms()) / 1e3);
    double c = due_ms - std_now_ms() > 1500 ? probe_commits("timers") : NAN;
    pid = start_worker("full");
    int64_t done = 0, first_ms = 0;
    double cpu0 = NAN, cpu1 = NAN;
    while (std_now_ms() < due_ms + (int64_t)(K->worker_cap_s * 1000)) {
        usleep(std_now_ms() < due_ms - 100 ? 50000 : 5000);
        if (std_now_ms() < due_ms) continue;
        if (isnan(cpu0)) cpu0 = proc_cpu_s(pid);
        /* (an index-only count of what is left: the poller stays cheap) */
        done = n - count_sql(h, "SELECT count(*) FROM runs WHERE status IN ('waiting', 'running')");
        cpu1 = proc_cpu_s(pid);
        if (done > 0 && !first_ms) first_ms = std_now_ms();
        if (done >= n) break;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            say("timers: the worker exited; see %s", worker_log);
            pid = 0;
            break;
        }
    }
    double secs = (std_now_ms() - due_ms) / 1e3;
    if (pid) stop_worker(pid);
    sqlite3_close(h);
    say("timers: %lld of %d completed %.3f s after the due time (the first after %.3f s)", (long long)done, n,
        secs, first_ms ? (first_ms - due_ms) / 1e3 : -1.0);
    if (done == 0) return;
    figs[F_TIMERS].v = done / secs;
    if (parked < n) note(F_TIMERS, "only %lld of %d parked before the due time", (long long)parked, n);
    else if (done < n) note(F_TIMERS, "only %lld of %d done in %.0f s", (long long)done, n, secs);
    else note(F_TIMERS, "all done %.2f s after; the first %.2f s; worker CPU %.0f us/run; %.0f commits/s then",
              secs, first_ms ? (first_ms - due_ms) / 1e3 : -1.0, (cpu1 - cpu0) * 1e6 / n, c);
    figs[F_TIMERS_CPU].v = (cpu1 - cpu0) * 1e6 / n;
}

/* ---- output --------------------------------------------------------------------------- */

static void fmt_value(double v, char *out, size_t n)
{
    if (isnan(v)) snprintf(out, n, "-");
    else if (fabs(v) >= 1000) snprintf(out, n, "%.0f", v);
    else if (fabs(v) >= 10) snprintf(out, n, "%.1f", v);
    else snprintf(out, n, "%.3f", v);
}

static void print_table(FILE *f)
{
    fprintf(f, "%-36s %12s %-10s %-14s %-7s %s\n", "figure", "value", "unit", "target", "", "notes");
    for (int i = 0; i < F_COUNT; i++) {
        figure *g = &figs[i];
        char v[32];
        fmt_value(g->v, v, sizeof v);
        const char *met = "";
        if (g->better && !isnan(g->v))
            met = g->noisy ? "NOISY" : (g->better > 0 ? g->v >= g->goal : g->v < g->goal) ? "MET" : "MISSED";
        fprintf(f, "%-36s %12s %-10s %-14s %-7s %s\n", g->label, v, g->unit, g->target, met, g->note);
    }
}

static double load_start = NAN, load_end = NAN;

static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        say("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n");
    fprintf(f, "  \"load_average_start\": %.2f,\n  \"load_average_end\": %.2f,\n", load_start, load_end);
    for (int i = 0; i < F_COUNT; i++) {
        if (isnan(figs[i].v) || isinf(figs[i].v)) fprintf(f, "  \"%s\": null", figs[i].key);
        else fprintf(f, "  \"%s\": %.6g", figs[i].key, figs[i].v);
        fprintf(f, i + 1 < F_COUNT ? ",\n" : "\n");
    }
    fprintf(f, "}\n");
    return fclose(f);
}

int main(int argc, char **argv)
{
    const char *json_path = "bench-results.json";
    const char *user_dir = NULL;
    int smoke = 0, keep = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = 1;
        else if (!strcmp(argv[i], "--keep")) keep = 1;
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) user_dir = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench [--smoke] [--json PATH] [--dir DIR] [--only NAME,...] [--keep]\n"
                            "names: ceiling seq_lua seq_http concurrent fanout replay vm startup parked timers asl\n");
            return 2;
        }
    }
    K = smoke ? &SMOKE : &FULL;
    if (getenv("WFDSL")) wfdsl_bin = getenv("WFDSL");
    signal(SIGPIPE, SIG_IGN);
    if (user_dir) {
        snprintf(dir, sizeof dir, "%s", user_dir);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "%s/wfdsl-bench.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
    }
    snprintf(db, sizeof db, "%s/bench.db", dir);
    snprintf(worker_log, sizeof worker_log, "%s/worker.log", dir);
    say("%s mode, database %s (WAL, synchronous=FULL), wfdsl binary %s", smoke ? "smoke" : "full", db,
        wfdsl_bin);
    double t_all = now_s();
    load_start = loadavg();
    store *s = open_store(); /* creates the schema before the raw ceiling uses the file */
    if (!s) return 1;
    store_close(s);

    if (want("ceiling")) bench_ceiling();
    if (want("seq_lua")) bench_seq_lua();
    int have_server = want("seq_http") && server_start() == 0;
    if (want("seq_http") && !have_server) say("cannot start tests/http_server.py");
    if (have_server) bench_seq_http();
    if (have_server) server_stop();
    if (want("concurrent")) bench_concurrent();
    if (want("fanout") && fast_start() == 0) {
        bench_fanout();
        fast_stop();
    }
    if (want("replay")) bench_replay();
    if (want("vm")) bench_vm();
    if (want("startup")) bench_startup();
    if (want("parked")) bench_parked();
    if (want("timers")) bench_timers();
    if (want("asl")) bench_asl();

    load_end = loadavg();
    printf("wfdsl bench (%s): %s, synchronous=FULL, WAL; %.0f s in all; load average %.2f at the start, "
           "%.2f at the end (%ld CPUs); SQLite %s\n",
           smoke ? "smoke" : "full", db, now_s() - t_all, load_start, load_end, sysconf(_SC_NPROCESSORS_ONLN),
           sqlite3_libversion());
    print_table(stdout);
    int rc = write_json(json_path) == 0 ? 0 : 1;
    if (!keep && !user_dir) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) say("could not remove %s", dir);
    }
    return rc;
}
