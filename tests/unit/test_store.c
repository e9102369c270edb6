/* test_store.c — unit tests of the SQLite store (storage/sqlite.c) through
 * store.h: opening and schema checks, programs, runs, event histories and
 * transactions. Every database lives in one mkdtemp directory, removed at
 * the end. Raw sqlite3 is used only to fake foreign or future databases. */
#include "check.h"
#include "../../storage/store.h"

#include <dirent.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];
static int db_counter;

/* A fresh database path in the test directory. */
static const char *new_path(char *buf, size_t n)
{
    snprintf(buf, n, "%s/t%d.db", tmpdir, ++db_counter);
    return buf;
}

static store *open_new(char *path, size_t n)
{
    std_err e = {0};
    store *s = NULL;
    new_path(path, n);
    if (store_open(path, STORE_DURABILITY_NORMAL, &s, &e) != 0) {
        printf("# store_open %s: %s\n", path, e.msg);
        return NULL;
    }
    return s;
}

static int make_run(store *s, const char *run_id, const char *wf, const char *status,
                    int64_t created, std_err *e)
{
    store_run r = {0};
    r.run_id = (char *)run_id;
    r.workflow_id = (char *)wf;
    r.name = "order";
    r.program_hash = "abc123";
    r.status = (char *)status;
    r.input = "{\"n\":1}";
    r.created_ms = created;
    return store_run_create(s, &r, e);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
}

TEST(open_creates_schema)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    CHECK(s != NULL);
    store_close(s);
    CHECK(access(path, F_OK) == 0);

    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT count(*) FROM sqlite_master WHERE name IN "
                             "('programs','runs','events','runs_workflow','runs_status')",
                             -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == 5);
    sqlite3_finalize(q);
    sqlite3_close(db);

    /* Reopening an existing database of our version is fine, in both modes. */
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == 0);
    store_close(s);
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    store_close(s);
}

TEST(open_refuses_newer_schema)
{
    char path[128], want[512];
    store *s = open_new(path, sizeof path);
    CHECK(s != NULL);
    store_close(s);
    raw_exec(path, "PRAGMA user_version = 99");

    std_err e = {0};
    s = (store *)1;
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == -1);
    CHECK(s == NULL);
    CHECK_STR(e.type, "storage");
    snprintf(want, sizeof want,
             "database %s has schema version 99, newer than this wfdsl supports (%d)", path,
             STORE_SCHEMA_VERSION);
    CHECK_STR(e.msg, want);
}

TEST(open_refuses_non_database)
{
    char path[128], want[512];
    new_path(path, sizeof path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 200; i++) fputs("this is a text file, not a database\n", f);
    fclose(f);

    std_err e = {0};
    store *s = NULL;
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == -1);
    CHECK(s == NULL);
    CHECK_STR(e.type, "storage");
    snprintf(want, sizeof want, "%s is not a wfdsl database (file is not a database)", path);
    CHECK_STR(e.msg, want);
}

TEST(open_refuses_foreign_sqlite_database)
{
    char path[128], want[512];
    new_path(path, sizeof path);
    raw_exec(path, "CREATE TABLE t(x)");

    std_err e = {0};
    store *s = NULL;
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == -1);
    snprintf(want, sizeof want,
             "%s is not a wfdsl database (it has tables but no wfdsl schema version)", path);
    CHECK_STR(e.msg, want);
}

TEST(open_missing_directory)
{
    char path[192];
    snprintf(path, sizeof path, "%s/no/such/dir/x.db", tmpdir);
    std_err e = {0};
    store *s = NULL;
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == -1);
    CHECK(s == NULL);
    CHECK_STR(e.type, "storage");
    CHECK(strstr(e.msg, path) != NULL);
}

TEST(programs)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    const char code[] = {'W', 'F', 0, 1, 2, 0, (char)0xff};
    CHECK(store_program_put(s, "h1", "order", "order.yaml", "name: order", code, sizeof code,
                            &e) == 0);
    /* Same hash again: a no-op, even with other contents. */
    CHECK(store_program_put(s, "h1", "other", "x.yaml", "x", "zz", 2, &e) == 0);

    std_buf b = {0};
    CHECK(store_program_get(s, "h1", &b, &e) == 1);
    CHECK(b.len == sizeof code);
    CHECK(b.p && memcmp(b.p, code, sizeof code) == 0);
    CHECK(store_program_get(s, "nope", &b, &e) == 0);

    CHECK(store_program_put(s, "empty", "e", NULL, NULL, NULL, 0, &e) == 0);
    CHECK(store_program_get(s, "empty", &b, &e) == 1);
    CHECK(b.len == 0);
    std_buf_free(&b);
    store_close(s);
}

TEST(runs_create_and_get)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    CHECK(make_run(s, "r1", "wf-a", "completed", 1000, &e) == 0);
    CHECK(make_run(s, "r2", "wf-a", "running", 2000, &e) == 0);
    CHECK(make_run(s, "r3", "wf-b", "running", 1500, &e) == 0);
    /* Same created_ms as r2: the later insert is the latest. */
    CHECK(make_run(s, "r4", "wf-a", "running", 2000, &e) == 0);

    store_run r;
    CHECK(store_run_get(s, "r1", &r, &e) == 1);
    CHECK_STR(r.run_id, "r1");
    CHECK_STR(r.workflow_id, "wf-a");
    CHECK_STR(r.name, "order");
    CHECK_STR(r.program_hash, "abc123");
    CHECK_STR(r.status, "completed");
    CHECK_STR(r.input, "{\"n\":1}");
    CHECK(r.output == NULL && r.error == NULL);
    CHECK(r.created_ms == 1000 && r.updated_ms == 1000);
    store_run_clear(&r);

    CHECK(store_run_get(s, "wf-a", &r, &e) == 1);
    CHECK_STR(r.run_id, "r4");
    store_run_clear(&r);
    CHECK(store_run_get(s, "wf-b", &r, &e) == 1);
    CHECK_STR(r.run_id, "r3");
    store_run_clear(&r);
    CHECK(store_run_get(s, "missing", &r, &e) == 0);
    CHECK(r.run_id == NULL);

    /* A run id wins over a workflow id of the same spelling. */
    CHECK(make_run(s, "wf-b", "wf-c", "running", 3000, &e) == 0);
    CHECK(store_run_get(s, "wf-b", &r, &e) == 1);
    CHECK_STR(r.run_id, "wf-b");
    CHECK_STR(r.workflow_id, "wf-c");
    store_run_clear(&r);

    std_err_clear(&e);
    CHECK(make_run(s, "r1", "wf-z", "running", 5000, &e) == -1);
    CHECK_STR(e.type, "exists");
    CHECK_STR(e.msg, "run r1 already exists");
    store_close(s);
}

TEST(runs_finish_and_status)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    CHECK(make_run(s, "r1", "wf", "running", 1000, &e) == 0);
    CHECK(store_run_set_status(s, "r1", "waiting", &e) == 0);
    store_run r;
    CHECK(store_run_get(s, "r1", &r, &e) == 1);
    CHECK_STR(r.status, "waiting");
    CHECK(r.updated_ms > 1000);
    store_run_clear(&r);

    CHECK(store_run_finish(s, "r1", "completed", "{\"ok\":true}", NULL, &e) == 0);
    CHECK(store_run_get(s, "r1", &r, &e) == 1);
    CHECK_STR(r.status, "completed");
    CHECK_STR(r.output, "{\"ok\":true}");
    CHECK(r.error == NULL);
    store_run_clear(&r);

    /* NULL output keeps the stored one. */
    CHECK(store_run_finish(s, "r1", "failed", NULL, "{\"type\":\"x\"}", &e) == 0);
    CHECK(store_run_get(s, "r1", &r, &e) == 1);
    CHECK_STR(r.status, "failed");
    CHECK_STR(r.output, "{\"ok\":true}");
    CHECK_STR(r.error, "{\"type\":\"x\"}");
    store_run_clear(&r);

    CHECK(store_run_finish(s, "nope", "completed", NULL, NULL, &e) == -1);
    CHECK(strstr(e.msg, "no run nope") != NULL);
    CHECK(store_run_set_status(s, "nope", "completed", &e) == -1);
    store_close(s);
}

TEST(runs_list)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    store_run *v = NULL;
    size_t n = 99;
    CHECK(store_runs_list(s, NULL, 0, &v, &n, &e) == 0);
    CHECK(n == 0);
    store_runs_free(v, n);

    CHECK(make_run(s, "a", "w1", "completed", 100, &e) == 0);
    CHECK(make_run(s, "b", "w2", "running", 300, &e) == 0);
    CHECK(make_run(s, "c", "w3", "running", 200, &e) == 0);
    CHECK(make_run(s, "d", "w4", "failed", 400, &e) == 0);
    CHECK(make_run(s, "e", "w5", "running", 300, &e) == 0);

    CHECK(store_runs_list(s, NULL, 0, &v, &n, &e) == 0);
    CHECK(n == 5);
    if (n == 5) {
        CHECK_STR(v[0].run_id, "d");
        CHECK_STR(v[1].run_id, "e");
        CHECK_STR(v[2].run_id, "b");
        CHECK_STR(v[3].run_id, "c");
        CHECK_STR(v[4].run_id, "a");
    }
    store_runs_free(v, n);

    CHECK(store_runs_list(s, "running", 0, &v, &n, &e) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(v[0].run_id, "e");
        CHECK_STR(v[1].run_id, "b");
        CHECK_STR(v[2].run_id, "c");
        CHECK_STR(v[2].workflow_id, "w3");
    }
    store_runs_free(v, n);

    CHECK(store_runs_list(s, "running", 2, &v, &n, &e) == 0);
    CHECK(n == 2);
    store_runs_free(v, n);
    CHECK(store_runs_list(s, NULL, 1, &v, &n, &e) == 0);
    CHECK(n == 1 && strcmp(v[0].run_id, "d") == 0);
    store_runs_free(v, n);
    CHECK(store_runs_list(s, "cancelled", -1, &v, &n, &e) == 0);
    CHECK(n == 0);
    store_runs_free(v, n);
    store_close(s);
}

TEST(events)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    CHECK(make_run(s, "r1", "wf", "running", 1000, &e) == 0);
    CHECK(store_event_append(s, "r1", 1, "run_started", 10, "{\"input\":{}}", &e) == 0);
    CHECK(store_event_append(s, "r1", 2, "step_scheduled", 11, "{\"step\":\"a\"}", &e) == 0);
    CHECK(store_event_append(s, "r1", 3, "step_completed", 12, NULL, &e) == 0);
    /* Another run has its own numbering. */
    CHECK(store_event_append(s, "r2", 1, "run_started", 20, "{}", &e) == 0);

    std_err_clear(&e);
    CHECK(store_event_append(s, "r1", 3, "dup", 13, "{}", &e) == -1);
    CHECK_STR(e.type, "conflict");
    CHECK_STR(e.msg, "event 3 of run r1 already exists (the last is 3)");
    std_err_clear(&e);
    CHECK(store_event_append(s, "r1", 5, "gap", 13, "{}", &e) == -1);
    CHECK_STR(e.type, "conflict");
    CHECK_STR(e.msg, "event 5 of run r1 would leave a gap (the last is 3)");
    CHECK(store_event_append(s, "r3", 2, "gap", 13, "{}", &e) == -1);
    CHECK_STR(e.type, "conflict");
    CHECK(store_event_append(s, "r3", 0, "zero", 13, "{}", &e) == -1);
    CHECK_STR(e.type, "conflict");
    CHECK(store_event_append(s, "r1", 4, "step_completed", 14, "{}", &e) == 0);

    store_event *ev = NULL;
    size_t n = 0;
    CHECK(store_events_load(s, "r1", &ev, &n, &e) == 0);
    CHECK(n == 4);
    if (n == 4) {
        for (size_t i = 0; i < n; i++) CHECK(ev[i].seq == (int64_t)i + 1);
        CHECK_STR(ev[0].type, "run_started");
        CHECK_STR(ev[0].payload, "{\"input\":{}}");
        CHECK(ev[0].time_ms == 10);
        CHECK_STR(ev[1].type, "step_scheduled");
        CHECK_STR(ev[1].payload, "{\"step\":\"a\"}");
        CHECK(ev[2].payload == NULL);
        CHECK(ev[3].time_ms == 14);
    }
    store_events_free(ev, n);
    CHECK(store_events_load(s, "none", &ev, &n, &e) == 0);
    CHECK(n == 0);
    store_events_free(ev, n);
    store_close(s);
}

TEST(events_two_handles)
{
    /* Two stores on one file stand in for two processes. */
    char path[128];
    store *a = open_new(path, sizeof path), *b = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_FULL, &b, &e) == 0);
    CHECK(store_event_append(a, "r", 1, "run_started", 1, "{}", &e) == 0);
    CHECK(store_event_append(b, "r", 1, "run_started", 1, "{}", &e) == -1);
    CHECK_STR(e.type, "conflict");
    CHECK(store_event_append(b, "r", 2, "x", 2, "{}", &e) == 0);
    CHECK(store_event_append(a, "r", 2, "x", 2, "{}", &e) == -1);
    CHECK(store_event_append(a, "r", 3, "y", 3, "{}", &e) == 0);
    store_event *ev = NULL;
    size_t n = 0;
    CHECK(store_events_load(b, "r", &ev, &n, &e) == 0);
    CHECK(n == 3);
    store_events_free(ev, n);
    store_close(a);
    store_close(b);
}

TEST(transactions)
{
    char path[128];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    CHECK(make_run(s, "r1", "wf", "running", 1000, &e) == 0);
    CHECK(store_event_append(s, "r1", 1, "run_started", 1, "{}", &e) == 0);

    /* Rollback discards everything since begin, including the seq check. */
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_event_append(s, "r1", 2, "a", 2, "{}", &e) == 0);
    CHECK(store_event_append(s, "r1", 3, "b", 3, "{}", &e) == 0);
    CHECK(store_run_set_status(s, "r1", "waiting", &e) == 0);
    CHECK(make_run(s, "r2", "wf2", "running", 2000, &e) == 0);
    store_rollback(s);
    store_rollback(s); /* harmless when nothing is open */

    store_event *ev = NULL;
    size_t n = 0;
    CHECK(store_events_load(s, "r1", &ev, &n, &e) == 0);
    CHECK(n == 1);
    store_events_free(ev, n);
    store_run r;
    CHECK(store_run_get(s, "r1", &r, &e) == 1);
    CHECK_STR(r.status, "running");
    store_run_clear(&r);
    CHECK(store_run_get(s, "r2", &r, &e) == 0);

    /* Commit persists across close and reopen. */
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_event_append(s, "r1", 2, "c", 4, "{\"k\":2}", &e) == 0);
    CHECK(store_event_append(s, "r1", 3, "d", 5, "{\"k\":3}", &e) == 0);
    CHECK(store_run_finish(s, "r1", "completed", "42", NULL, &e) == 0);
    CHECK(store_commit(s, &e) == 0);
    store_close(s);

    s = NULL;
    CHECK(store_open(path, STORE_DURABILITY_FULL, &s, &e) == 0);
    CHECK(store_events_load(s, "r1", &ev, &n, &e) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(ev[1].type, "c");
        CHECK_STR(ev[2].payload, "{\"k\":3}");
    }
    store_events_free(ev, n);
    CHECK(store_run_get(s, "wf", &r, &e) == 1);
    CHECK_STR(r.status, "completed");
    CHECK_STR(r.output, "42");
    store_run_clear(&r);

    /* A conflict inside a transaction leaves it usable until rollback. */
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_event_append(s, "r1", 4, "e", 6, "{}", &e) == 0);
    CHECK(store_event_append(s, "r1", 4, "e", 6, "{}", &e) == -1);
    store_rollback(s);
    CHECK(store_events_load(s, "r1", &ev, &n, &e) == 0);
    CHECK(n == 3);
    store_events_free(ev, n);

    /* Nested begin is an error, not a silent merge. */
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_begin(s, &e) == -1);
    CHECK_STR(e.type, "storage");
    store_rollback(s);
    store_close(s);
}

TEST(locked_by_other_handle)
{
    /* A write while another handle holds the write lock fails after the busy
     * timeout with a clear message. Takes the full timeout (5 s), so main
     * runs it only when WFDSL_SLOW_TESTS is set. */
    char path[128];
    store *a = open_new(path, sizeof path), *b = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_FULL, &b, &e) == 0);
    CHECK(store_begin(a, &e) == 0);
    CHECK(store_event_append(a, "r", 1, "x", 1, "{}", &e) == 0);
    CHECK(store_event_append(b, "r", 1, "x", 1, "{}", &e) == -1);
    CHECK_STR(e.type, "storage");
    CHECK(strstr(e.msg, "database is locked by another process") != NULL);
    store_rollback(a);
    store_close(a);
    store_close(b);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Commits do not checkpoint the WAL by themselves (until it is large):
 * store_checkpoint copies it into the database file, outside transactions. */
TEST(checkpoint_on_request)
{
    char path[128], wal[140];
    store *s = open_new(path, sizeof path);
    std_err e = {0};
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK(make_run(s, "ck", "ck-wf", "running", 1, &e) == 0);
    char payload[600];
    memset(payload, 'x', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    long db0 = file_size(path);
    for (int i = 1; i <= 1500; i++) { /* 1,500 commits: past SQLite's own 1,000-page checkpoint */
        char js[700];
        snprintf(js, sizeof js, "\"%s\"", payload);
        CHECK(store_event_append(s, "ck", i, "step_completed", i, js, &e) == 0);
    }
    long db1 = file_size(path);
    CHECK(db1 == db0);
    CHECK(file_size(wal) > 1000L * 4096);
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_checkpoint(s) == 0); /* inside a transaction: nothing */
    CHECK(file_size(path) == db1);
    CHECK(store_commit(s, &e) == 0);
    CHECK(store_checkpoint(s) == 0);
    CHECK(file_size(path) > db1 + 1500L * 600);
    if (file_size(path) <= db1 + 1500L * 600) printf("  database %ld -> %ld bytes\n", db1, file_size(path));
    store_close(s);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wfdsl-test-store-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(open_creates_schema);
    RUN(open_refuses_newer_schema);
    RUN(open_refuses_non_database);
    RUN(open_refuses_foreign_sqlite_database);
    RUN(open_missing_directory);
    RUN(programs);
    RUN(runs_create_and_get);
    RUN(runs_finish_and_status);
    RUN(runs_list);
    RUN(events);
    RUN(events_two_handles);
    RUN(transactions);
    RUN(checkpoint_on_request);
    if (getenv("WFDSL_SLOW_TESTS")) RUN(locked_by_other_handle);
    remove_tmpdir();
    CHECK_DONE();
}
