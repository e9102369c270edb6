/* test_engine.c — the engine driving many runs at once in one process: their
 * HTTP requests share one curl multi handle and their shell steps run as
 * concurrent children, all on one event loop, with every run recorded. */
#include <jansson.h>
#include <string.h>

#include "../../dsl/compile.h"
#include "../../interpreter/engine.h"
#include "../../storage/store.h"
#include "check.h"
#include "server.h"

static vm_program *compile_text(const char *text)
{
    std_diags d = {0};
    dsl_doc *doc = NULL;
    vm_program *p = NULL;
    if (dsl_yaml_load("inline.yaml", text, strlen(text), &doc, &d) == 0) dsl_compile(doc, &p, &d);
    for (size_t i = 0; i < d.n; i++) fprintf(stderr, "%s\n", d.msgs[i]);
    dsl_doc_free(doc);
    std_diags_free(&d);
    return p;
}

/* Start n runs of text with input, drive them all; returns the wall time in
 * ms and counts the completed runs in *completed. */
static int64_t run_many(const char *dbdir, const char *text, json_t *input, int n, int *completed)
{
    char db[256];
    snprintf(db, sizeof db, "%s/engine.db", dbdir);
    store *s = NULL;
    std_err e = {0};
    *completed = 0;
    if (store_open(db, STORE_DURABILITY_NORMAL, &s, &e) != 0) return -1;
    vm_engine *g = vm_engine_new(s, NULL);
    char (*ids)[64] = calloc((size_t)n, 64);
    for (int i = 0; i < n; i++) {
        char wid[64];
        snprintf(wid, sizeof wid, "many-%d-%d", n, i);
        vm_program *p = compile_text(text);
        if (!p || vm_engine_start(g, p, text, wid, input, ids[i], &e) != 0) break;
    }
    int64_t t0 = std_mono_ns();
    int rc = vm_engine_run(g, &e);
    int64_t ms = (std_mono_ns() - t0) / 1000000;
    for (int i = 0; rc == 0 && i < n; i++) {
        const char *st = vm_engine_result(g, ids[i], NULL, NULL);
        if (st && !strcmp(st, "completed")) (*completed)++;
    }
    free(ids);
    vm_engine_free(g);
    store_close(s);
    return rc == 0 ? ms : -1;
}

TEST(two_hundred_http_steps_in_flight)
{
    CHECK(server_start() == 0);
    const char *wf = "wfdsl: 1\nname: slow-call\ninput:\n  base: {type: string}\n"
                     "steps:\n  - id: call\n    http: \"${input.base}/delay/500\"\n"
                     "output: ${ steps.call.body.delayed }\n";
    json_t *in = json_pack("{s:s}", "base", base);
    int done = 0;
    int64_t ms = run_many(tmpdir, wf, in, 200, &done);
    fprintf(stderr, "200 runs with a 500 ms HTTP step each: %lld ms\n", (long long)ms);
    CHECK(done == 200);
    CHECK(ms >= 500 && ms < 5000); /* one after another would take 100 s */
    json_decref(in);
    server_stop();
}

TEST(fifty_shell_steps_at_once)
{
    char dir[] = "/tmp/wfdsl-engine.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *wf = "wfdsl: 1\nname: nap\nsteps:\n  - shell: sleep 0.5\n";
    json_t *in = json_object();
    int done = 0;
    int64_t ms = run_many(dir, wf, in, 50, &done);
    fprintf(stderr, "50 runs with a 0.5 s shell step each: %lld ms\n", (long long)ms);
    CHECK(done == 50);
    CHECK(ms >= 500 && ms < 4000); /* one after another would take 25 s */
    json_decref(in);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(two_hundred_http_steps_in_flight);
    RUN(fifty_shell_steps_at_once);
    CHECK_DONE();
}
