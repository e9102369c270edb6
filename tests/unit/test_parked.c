/* test_parked.c — 10,000 runs parked on a 1-hour sleep: a real `wfdsl worker`
 * process takes them all to their sleep, parks them in the store and keeps
 * its resident memory flat (peak RSS measured from /proc). The runs are
 * recorded through the engine's own API in one transaction; the binary
 * under test is $WFDSL (default ./wfdsl). */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../dsl/compile.h"
#include "../../interpreter/engine.h"
#include "../../storage/store.h"
#include "check.h"

#define NRUNS 10000

static long peak_rss_kb(pid_t pid)
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

static long count_waiting(store *s)
{
    store_run *runs = NULL;
    size_t n = 0;
    std_err e = {0};
    if (store_runs_list(s, "waiting", 0, &runs, &n, &e) != 0) return -1;
    store_runs_free(runs, n);
    return (long)n;
}

TEST(ten_thousand_parked_runs)
{
    char dir[] = "/tmp/wfdsl-parked.XXXXXX", db[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(db, sizeof db, "%s/parked.db", dir);
    const char *text = "wfdsl: 1\nname: parked\nsteps:\n  - id: hello\n    lua: return 1\n"
                       "  - sleep: 1h\n  - lua: return 2\n";
    store *s = NULL;
    std_err e = {0};
    CHECK(store_open(db, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    json_t *in = json_object();
    CHECK(store_begin(s, &e) == 0);
    for (int i = 0; i < NRUNS; i++) {
        std_diags d = {0};
        dsl_doc *doc = NULL;
        vm_program *p = NULL;
        if (dsl_yaml_load("parked.yaml", text, strlen(text), &doc, &d) == 0) dsl_compile(doc, &p, &d);
        dsl_doc_free(doc);
        std_diags_free(&d);
        char wid[32], rid[64];
        snprintf(wid, sizeof wid, "p%d", i);
        if (!p || vm_record_run(s, p, text, wid, in, NULL, rid, &e) != 0) {
            CHECK(!"recording a run");
            vm_program_free(p);
            break;
        }
        vm_program_free(p);
    }
    CHECK(store_commit(s, &e) == 0);
    json_decref(in);
    const char *bin = getenv("WFDSL") ? getenv("WFDSL") : "./wfdsl";
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        execl(bin, bin, "worker", "--db", db, "--concurrency", "1000", "--quiet",
              "--durability", "normal", (char *)NULL);
        _exit(127);
    }
    int64_t t0 = std_mono_ns();
    long waiting = 0, peak = 0;
    while ((std_mono_ns() - t0) / 1000000000 < 120) {
        usleep(200000);
        long rss = peak_rss_kb(pid);
        if (rss > peak) peak = rss;
        waiting = count_waiting(s);
        if (waiting == NRUNS) break;
    }
    double secs = (double)(std_mono_ns() - t0) / 1e9;
    long rss = peak_rss_kb(pid);
    if (rss > peak) peak = rss;
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    fprintf(stderr, "%d runs parked in %.1f s; worker peak RSS %ld kB\n", NRUNS, secs, peak);
    CHECK(waiting == NRUNS);
#if defined(__SANITIZE_ADDRESS__)
    CHECK(peak > 0 && peak < 1024 * 1024); /* AddressSanitizer's shadow memory inflates RSS */
#else
    CHECK(peak > 0 && peak < 100 * 1024);
#endif
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(ten_thousand_parked_runs);
    CHECK_DONE();
}
