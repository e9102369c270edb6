/* test_store_batch.c — the store functions the engine uses to share commits:
 * savepoints inside an open transaction, event appends that skip the look-up
 * of their predecessor (and still refuse gaps and duplicates), finishing a
 * run and releasing its lease in one statement, the claim queries (parked
 * and due, flagged, not leased, leased by a dead local owner) and the
 * runs_flagged index added to an older database of the same version. */
#include "check.h"
#include "../../storage/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[128];

static int mk(store *s, const char *id, const char *status)
{
    store_run r = {.run_id = (char *)id, .workflow_id = (char *)id, .name = "w", .program_hash = "h",
                   .status = (char *)status, .input = "{}"};
    std_err e = {0};
    return store_run_create(s, &r, &e);
}

static void raw(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
}

static int64_t raw_int(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    sqlite3_open(path, &db);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

TEST(savepoints)
{
    store *s = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_in_txn(s));
    CHECK(mk(s, "kept", "running") == 0);
    CHECK(store_savepoint(s, &e) == 0);
    CHECK(mk(s, "undone", "running") == 0);
    store_savepoint_end(s, 0);
    CHECK(store_savepoint(s, &e) == 0);
    CHECK(mk(s, "kept2", "running") == 0);
    store_savepoint_end(s, 1);
    CHECK(store_in_txn(s));
    CHECK(store_commit(s, &e) == 0);
    CHECK(!store_in_txn(s));
    store_run r = {0};
    CHECK(store_run_get(s, "kept", &r, &e) == 1);
    store_run_clear(&r);
    CHECK(store_run_get(s, "kept2", &r, &e) == 1);
    store_run_clear(&r);
    CHECK(store_run_get(s, "undone", &r, &e) == 0);
    store_close(s);
}

TEST(appends_in_a_transaction)
{
    store *s = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    CHECK(mk(s, "ev", "running") == 0);
    CHECK(mk(s, "ev2", "running") == 0);
    CHECK(store_begin(s, &e) == 0);
    CHECK(store_event_append(s, "ev", 1, "run_started", 1, "{}", &e) == 0);
    CHECK(store_event_append(s, "ev", 2, "x", 1, "{}", &e) == 0);  /* follows the last: no look-up */
    CHECK(store_event_append(s, "ev", 2, "x", 1, "{}", &e) == -1); /* a duplicate is still refused */
    CHECK_STR(e.type, "conflict");
    e = (std_err){0};
    CHECK(store_event_append(s, "ev", 4, "x", 1, "{}", &e) == -1); /* and a gap */
    CHECK_STR(e.type, "conflict");
    CHECK(store_event_append(s, "ev2", 2, "x", 1, "{}", &e) == -1); /* another run: looked up */
    CHECK(store_event_append(s, "ev2", 1, "x", 1, "{}", &e) == 0);
    CHECK(store_event_append(s, "ev", 3, "x", 1, "{}", &e) == 0);  /* back to the first run */
    CHECK(store_commit(s, &e) == 0);
    /* after the commit nothing is remembered: a gap is found by the look-up */
    CHECK(store_event_append(s, "ev2", 3, "x", 1, "{}", &e) == -1);
    CHECK(store_event_append(s, "ev2", 2, "x", 1, "{}", &e) == 0);
    store_event *evs = NULL;
    size_t n = 0;
    CHECK(store_events_load(s, "ev", &evs, &n, &e) == 0 && n == 3);
    store_events_free(evs, n);
    store_close(s);
}

TEST(end_finishes_and_releases)
{
    store *s = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    CHECK(mk(s, "end1", "running") == 0);
    CHECK(mk(s, "end2", "running") == 0);
    CHECK(store_run_lease(s, "end1", "me", std_now_ms() + 60000, &e) == 1);
    CHECK(store_run_lease(s, "end2", "other", std_now_ms() + 60000, &e) == 1);
    CHECK(store_run_end(s, "end1", "me", "completed", "7", NULL, &e) == 0);
    CHECK(store_run_end(s, "end2", "me", "failed", NULL, "{}", &e) == 0);
    char *owner = NULL;
    int64_t until = 0;
    CHECK(store_run_lease_info(s, "end1", &owner, &until, &e) == 1 && owner == NULL && until == 0);
    CHECK(store_run_lease_info(s, "end2", &owner, &until, &e) == 1 && owner && !strcmp(owner, "other"));
    free(owner);
    store_run r = {0};
    CHECK(store_run_get(s, "end1", &r, &e) == 1 && !strcmp(r.status, "completed") && !strcmp(r.output, "7"));
    store_run_clear(&r);
    CHECK(store_run_end(s, "nope", "me", "completed", NULL, NULL, &e) == -1);
    store_close(s);
}

static void collect(void *ud, const char *run_id, const char *owner)
{
    char *buf = ud;
    strcat(buf, run_id);
    strcat(buf, " ");
}

TEST(claim_queries)
{
    char p2[160];
    snprintf(p2, sizeof p2, "%s/claim.db", dir);
    snprintf(path, sizeof path, "%s", p2);
    store *s = NULL;
    std_err e = {0};
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    int64_t now = std_now_ms();
    CHECK(mk(s, "new", "running") == 0);
    CHECK(mk(s, "held", "running") == 0);
    CHECK(mk(s, "expired", "running") == 0);
    CHECK(mk(s, "due", "running") == 0);
    CHECK(mk(s, "later", "running") == 0);
    CHECK(mk(s, "signalled", "running") == 0);
    CHECK(mk(s, "asked", "running") == 0);
    CHECK(mk(s, "local", "running") == 0);
    CHECK(store_run_lease(s, "held", "far/1/a", now + 60000, &e) == 1);
    CHECK(store_run_lease(s, "expired", "far/1/a", now - 1, &e) == 1);
    CHECK(store_run_lease(s, "local", "here/2/b", now + 60000, &e) == 1);
    const char *parks[] = {"due", "later", "signalled", "asked"};
    for (int i = 0; i < 4; i++) {
        CHECK(store_run_lease(s, parks[i], "me", now + 60000, &e) == 1);
        CHECK(store_run_park(s, parks[i], "me", i == 0 ? now - 5 : now + 3600000, &e) == 0);
    }
    CHECK(store_signal_send(s, "signalled", "go", "1", &e) > 0);
    CHECK(store_run_request(s, "asked", "{\"mode\":\"cancel\"}", &e) == 0);
    char got[512] = "";
    CHECK(store_runs_claimable(s, now, 100, collect, got, &e) == 0);
    CHECK(strstr(got, "new ") && strstr(got, "expired ") && strstr(got, "due ") && strstr(got, "signalled ") &&
          strstr(got, "asked "));
    CHECK(!strstr(got, "held ") && !strstr(got, "later ") && !strstr(got, "local "));
    /* each at most once, and the limit holds */
    CHECK(strstr(got, "due ") && !strstr(strstr(got, "due ") + 4, " due "));
    got[0] = 0;
    CHECK(store_runs_claimable(s, now, 2, collect, got, &e) == 0);
    int words = 0;
    for (char *q = got; *q; q++) words += *q == ' ';
    CHECK(words == 2);
    got[0] = 0;
    CHECK(store_runs_leased_by(s, now, "here/", "here/9/me", collect, got, &e) == 0);
    CHECK_STR(got, "local ");
    got[0] = 0;
    CHECK(store_runs_leased_by(s, now, "here/", "here/2/b", collect, got, &e) == 0);
    CHECK_STR(got, "");
    store_close(s);

    /* a database of this version made before runs_flagged gets it when opened */
    raw("DROP INDEX runs_flagged");
    CHECK(raw_int("SELECT count(*) FROM sqlite_master WHERE name = 'runs_flagged'") == 0);
    CHECK(store_open(path, STORE_DURABILITY_NORMAL, &s, &e) == 0);
    store_close(s);
    CHECK(raw_int("SELECT count(*) FROM sqlite_master WHERE name = 'runs_flagged'") == 1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/wfdsl-test-batch-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/batch.db", dir);
    RUN(savepoints);
    RUN(appends_in_a_transaction);
    RUN(end_finishes_and_releases);
    RUN(claim_queries);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    CHECK_DONE();
}
