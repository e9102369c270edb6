/* sqlite.c — the SQLite backend of store.h: programs, runs and event
 * histories in one database file (WAL mode, schema version in user_version).
 *
 * It opens or creates the schema, maps SQLite errors to clear messages
 * (type "storage"; "exists" and "conflict" as store.h says) and keeps every
 * statement prepared once in the store for reuse: event appends are the hot
 * path. It does not interpret JSON, lease runs or retry on a busy database
 * beyond SQLite's busy timeout; several processes may share the file, so no
 * state that another process could change is cached in memory.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>

#define BUSY_TIMEOUT_MS 5000

/* Every statement the store runs more than once, prepared on first use:
 * X(id, what it is doing for error messages, SQL).
 * EVENT_APPEND inserts only when EVENT_PREV finds seq - 1 (a gap inserts
 * nothing) and the primary key refuses a duplicate; the engine appends in
 * BEGIN IMMEDIATE transactions, so the check and the insert are atomic
 * across processes.
 * RUNS_CLAIMABLE is three disjoint index searches (runs running and not
 * leased, runs parked and due, runs parked with a signal or a request: the
 * partial index runs_flagged) with no sort and no temporary table: it runs
 * on every claim of a worker, whatever the number of parked runs. */
#define RUN_COLS                                                                              \
    "workflow_id, run_id, name, program_hash, status, input, output, error, created_ms,"      \
    " updated_ms"
#define STORE_STMTS(X)                                                                        \
    X(BEGIN, "beginning a transaction", "BEGIN IMMEDIATE")                                    \
    X(COMMIT, "committing", "COMMIT")                                                         \
    X(ROLLBACK, "rolling back", "ROLLBACK")                                                   \
    X(SAVEPOINT, "beginning a savepoint", "SAVEPOINT part")                                   \
    X(RELEASE_SP, "releasing a savepoint", "RELEASE part")                                    \
    X(ROLLBACK_SP, "rolling back a savepoint", "ROLLBACK TO part")                            \
    X(PROGRAM_PUT, "storing a program",                                                       \
      "INSERT OR IGNORE INTO programs(hash, name, source_file, source, code, created_ms)"      \
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                                     \
    X(PROGRAM_GET, "loading a program", "SELECT code FROM programs WHERE hash = ?1")          \
    X(RUN_CREATE, "creating a run",                                                           \
      "INSERT INTO runs(run_id, workflow_id, name, program_hash, status, input, output,"      \
      " error, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")     \
    X(RUN_BY_ID, "loading a run", "SELECT " RUN_COLS " FROM runs WHERE run_id = ?1")          \
    X(RUN_BY_WORKFLOW, "loading a run",                                                       \
      "SELECT " RUN_COLS " FROM runs WHERE workflow_id = ?1"                                  \
      " ORDER BY created_ms DESC, rowid DESC LIMIT 1")                                        \
    X(RUN_FINISH, "finishing a run",                                                          \
      "UPDATE runs SET status = ?2, output = coalesce(?3, output),"                           \
      " error = coalesce(?4, error), updated_ms = ?5 WHERE run_id = ?1")                      \
    X(RUN_END, "finishing a run",                                                             \
      "UPDATE runs SET status = ?2, output = coalesce(?3, output),"                           \
      " error = coalesce(?4, error), updated_ms = ?5,"                                        \
      " lease_until = CASE WHEN owner = ?6 THEN NULL ELSE lease_until END,"                   \
      " owner = CASE WHEN owner = ?6 THEN NULL ELSE owner END WHERE run_id = ?1")             \
    X(RUN_SET_STATUS, "setting a run's status",                                               \
      "UPDATE runs SET status = ?2, updated_ms = ?3 WHERE run_id = ?1")                       \
    X(RUNS_ALL, "listing runs",                                                               \
      "SELECT " RUN_COLS " FROM runs ORDER BY created_ms DESC, rowid DESC LIMIT ?1")          \
    X(RUNS_STATUS, "listing runs",                                                            \
      "SELECT " RUN_COLS " FROM runs WHERE status = ?1"                                       \
      " ORDER BY created_ms DESC, rowid DESC LIMIT ?2")                                       \
    X(EVENT_APPEND, "appending an event",                                                     \
      "INSERT INTO events(run_id, seq, type, time_ms, payload) VALUES (?1, ?2, ?3, ?4, ?5)")  \
    X(EVENT_PREV, "appending an event",                                                       \
      "SELECT 1 FROM events WHERE run_id = ?1 AND seq = ?2")                                  \
    X(EVENT_LAST, "appending an event",                                                       \
      "SELECT coalesce(max(seq), 0) FROM events WHERE run_id = ?1")                           \
    X(EVENTS_LOAD, "loading events",                                                          \
      "SELECT seq, type, time_ms, payload FROM events WHERE run_id = ?1 ORDER BY seq")        \
    X(LEASE, "taking a run's lease",                                                          \
      "UPDATE runs SET owner = ?2, lease_until = ?3 WHERE run_id = ?1"                        \
      " AND (owner IS NULL OR owner = ?2 OR lease_until < ?4)")                               \
    X(LEASE_STEAL, "taking over a run's lease",                                               \
      "UPDATE runs SET owner = ?2, lease_until = ?3 WHERE run_id = ?1 AND owner = ?4")        \
    X(RELEASE, "releasing a run's lease",                                                     \
      "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ?1 AND owner = ?2")    \
    X(LEASE_INFO, "reading a run's lease",                                                    \
      "SELECT owner, lease_until FROM runs WHERE run_id = ?1")                                \
    X(REQUEST_SET, "requesting a cancellation",                                               \
      "UPDATE runs SET request = ?2 WHERE run_id = ?1")                                       \
    X(REQUEST_TAKE, "reading requests",                                                       \
      "SELECT run_id, request FROM runs WHERE owner = ?1 AND request IS NOT NULL")            \
    X(REQUEST_GET, "reading a request", "SELECT request FROM runs WHERE run_id = ?1")          \
    X(REQUEST_CLEAR, "clearing a request", "UPDATE runs SET request = NULL WHERE run_id = ?1")     \
    X(SIGNAL_SEND, "storing a signal",                                                        \
      "INSERT INTO signals(run_id, name, payload, sent_ms) VALUES (?1, ?2, ?3, ?4)")          \
    X(SIGNAL_FLAG, "storing a signal", "UPDATE runs SET signal_pending = 1 WHERE run_id = ?1")  \
    X(SIGNAL_TAKE, "reading signals",                                                         \
      "SELECT id, payload FROM signals WHERE run_id = ?1 AND name = ?2 AND consumed = 0"      \
      " AND id > ?3 ORDER BY id LIMIT 1")                                                     \
    X(SIGNAL_CONSUME, "consuming a signal", "UPDATE signals SET consumed = 1 WHERE id = ?1")  \
    X(RUN_PARK, "parking a run",                                                              \
      "UPDATE runs SET status = 'waiting', wake_at = ?2, owner = NULL, lease_until = NULL,"   \
      " updated_ms = ?3 WHERE run_id = ?1 AND owner = ?4")                                    \
    X(RUN_UNPARK, "claiming a run",                                                           \
      "UPDATE runs SET status = 'running', wake_at = NULL, signal_pending = 0, error = NULL"  \
      " WHERE run_id = ?1 AND status IN ('running', 'waiting', 'needs_attention')")           \
    X(RUNS_CLAIMABLE, "finding runs to execute",                                              \
      "SELECT run_id, owner FROM runs WHERE status = 'running'"                               \
      " AND (wake_at IS NULL OR wake_at <= ?1) AND (owner IS NULL OR lease_until < ?1)"       \
      " UNION ALL SELECT run_id, owner FROM runs WHERE status = 'waiting' AND wake_at <= ?1"  \
      " AND (owner IS NULL OR lease_until < ?1)"                                              \
      " UNION ALL SELECT run_id, owner FROM runs"                                             \
      " WHERE (signal_pending = 1 OR request IS NOT NULL) AND +status IN ('running', 'waiting')" \
      " AND (wake_at > ?1 OR (+status = 'waiting' AND wake_at IS NULL))"                      \
      " AND (owner IS NULL OR lease_until < ?1)"                                              \
      " LIMIT ?2")                                                                            \
    X(SCHEDULES_ALL, "listing schedules", "SELECT name, data FROM schedules ORDER BY name")    \
    X(RUNS_LEASED_LOCAL, "finding runs to execute",                                           \
      "SELECT run_id, owner FROM runs WHERE owner >= ?2 AND owner < ?3 AND owner <> ?4"       \
      " AND lease_until >= ?1 AND status IN ('running', 'waiting')"                           \
      " AND (status = 'running' OR wake_at <= ?1 OR signal_pending = 1 OR request IS NOT NULL)" \
      " ORDER BY created_ms")

enum {
#define X(id, what, sql) ST_##id,
    STORE_STMTS(X)
#undef X
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define X(id, what, sql) sql,
    STORE_STMTS(X)
#undef X
};

static const char *const stmt_what[ST_COUNT] = {
#define X(id, what, sql) what,
    STORE_STMTS(X)
#undef X
};

/* Runs with a signal or a request waiting: the claim finds them without
 * scanning every parked run. (Added to databases of version 2 that lack
 * it when they are opened; the schema version is unchanged.) */
#define RUNS_FLAGGED_SQL                                                                      \
    "CREATE INDEX IF NOT EXISTS runs_flagged ON runs(status)"                                 \
    " WHERE signal_pending = 1 OR request IS NOT NULL"

static const char schema_sql[] =
    "CREATE TABLE programs ("
    "  hash TEXT PRIMARY KEY,"
    "  name TEXT,"
    "  source_file TEXT,"
    "  source TEXT,"
    "  code BLOB,"
    "  created_ms INTEGER NOT NULL);"
    "CREATE TABLE runs ("
    "  run_id TEXT PRIMARY KEY,"
    "  workflow_id TEXT NOT NULL,"
    "  name TEXT,"
    "  program_hash TEXT,"
    "  status TEXT NOT NULL,"
    "  input TEXT,"
    "  output TEXT,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  owner TEXT,"         /* the process executing it (lease) */
    "  lease_until INTEGER,"
    "  request TEXT,"       /* a pending cancel/terminate request (JSON) */
    "  wake_at INTEGER,"    /* parked: when its first timer is due */
    "  signal_pending INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX runs_wake ON runs(status, wake_at);"
    RUNS_FLAGGED_SQL ";"
    "CREATE TABLE signals ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  run_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  payload TEXT,"
    "  sent_ms INTEGER NOT NULL,"
    "  consumed INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX signals_run ON signals(run_id, name, consumed, id);"
    "CREATE TABLE schedules (name TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE schedule_slots ("
    "  name TEXT NOT NULL,"
    "  slot_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL," /* fired | skipped | missed | buffered */
    "  run_id TEXT,"
    "  time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (name, slot_ms)) WITHOUT ROWID;"
    "CREATE TABLE schedule_log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  note TEXT);"
    "CREATE INDEX runs_owner ON runs(owner) WHERE owner IS NOT NULL;"
    "CREATE INDEX runs_workflow ON runs(workflow_id, created_ms);"
    "CREATE INDEX runs_status ON runs(status, created_ms);"
    "CREATE TABLE events ("
    "  run_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  payload TEXT,"
    "  PRIMARY KEY (run_id, seq)) WITHOUT ROWID;";

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    /* the last event appended in the open transaction: the next one of the
     * same run needs no look-up of its predecessor (no other process can
     * write while it is open) */
    char last_run[64];
    int64_t last_seq;
    int wal_frames;  /* pages in the WAL after the last commit (wal_hook) */
};

static char *dup_str(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return memcpy(p, s, n);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* Fill e from SQLite result code rc (call before resetting the statement,
 * which would keep sqlite3_errmsg but is clearer this way). */
/* The OS reason behind an I/O or open error, when SQLite kept one. */
static const char *os_reason(store *s)
{
    int err = s->db ? sqlite3_system_errno(s->db) : 0;
    if (err == ENOSPC || err == EDQUOT) return "the disk is full";
    if (err == EROFS || err == EACCES || err == EPERM) return "database is read-only (the file or its directory)";
    /* SQLite may have retried read-only and kept another errno: ask the OS */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", s->path ? s->path : ".");
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    if ((access(s->path, F_OK) == 0 && access(s->path, W_OK) != 0) || access(dir, W_OK) != 0)
        return (errno == EROFS || errno == EACCES || errno == EPERM) ? "database is read-only (the file or its directory)" : NULL;
    return NULL;
}

static int db_fail(store *s, std_err *e, int rc, const char *what)
{
    const char *why;
    if (((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN) && os_reason(s))
        return std_errf(e, "storage", "%s: %s (while %s)", s->path, os_reason(s), what);
    switch (rc & 0xff) {
    case SQLITE_FULL: why = "database is full"; break;
    case SQLITE_READONLY: why = "database is read-only"; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: why = "database is locked by another process"; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: why = "database file is corrupt"; break;
    default: why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc); break;
    }
    return std_errf(e, "storage", "%s: %s (while %s)", s->path, why, what);
}

/* The cached statement id, reset and ready to bind, or NULL with e filled. */
static sqlite3_stmt *stmt(store *s, int id, std_err *e)
{
    if (!s->st[id]) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->st[id], NULL);
        if (rc != SQLITE_OK) {
            db_fail(s, e, rc, stmt_what[id]);
            s->st[id] = NULL;
            return NULL;
        }
    }
    return s->st[id];
}

/* Report a failed step of statement id and reset it. */
static int step_fail(store *s, int id, int rc, std_err *e)
{
    db_fail(s, e, rc, stmt_what[id]);
    sqlite3_reset(s->st[id]);
    return -1;
}

/* Run a statement that returns no rows: 0 or -1. */
static int run_done(store *s, int id, std_err *e)
{
    int rc = sqlite3_step(s->st[id]);
    if (rc != SQLITE_DONE) return step_fail(s, id, rc, e);
    sqlite3_reset(s->st[id]);
    return 0;
}

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
    sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static char *col_text(sqlite3_stmt *q, int i)
{
    return dup_str((const char *)sqlite3_column_text(q, i));
}

/* ---- open / close --------------------------------------------------------- */

/* One-off statement returning a single value; text copied into buf if given. */
static int one_value(store *s, const char *sql, int64_t *ival, char *buf, size_t n, int *rcp)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            if (ival) *ival = sqlite3_column_int64(q, 0);
            if (buf) {
                const char *t = (const char *)sqlite3_column_text(q, 0);
                snprintf(buf, n, "%s", t ? t : "");
            }
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    *rcp = rc;
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q); /* keeps errmsg */
        return -1;
    }
    sqlite3_finalize(q);
    return 0;
}

static int exec(store *s, const char *sql, const char *what, std_err *e)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(s, e, rc, what);
}

/* The error for a database whose schema version is not ours. */
static int version_error(store *s, int64_t version, std_err *e)
{
    if (version > STORE_SCHEMA_VERSION)
        return std_errf(e, "storage",
                        "database %s has schema version %lld, newer than this wfdsl supports (%d)",
                        s->path, (long long)version, STORE_SCHEMA_VERSION);
    return std_errf(e, "storage",
                    "database %s has schema version %lld, older than this wfdsl supports (%d), "
                    "and there is no migration for it",
                    s->path, (long long)version, STORE_SCHEMA_VERSION);
}

/* Create the schema of a new database (version 0), or check the version of
 * an existing one. */
static int schema_check(store *s, int64_t version, std_err *e)
{
    if (version == STORE_SCHEMA_VERSION) {
        int64_t has = 1;
        int rc;
        if (one_value(s, "SELECT count(*) FROM sqlite_master WHERE name = 'runs_flagged'", &has, NULL, 0, &rc) == 0 &&
            has == 0) /* best effort: a read-only database works without it, slower */
            sqlite3_exec(s->db, RUNS_FLAGGED_SQL, NULL, NULL, NULL);
        return 0;
    }
    if (version != 0) return version_error(s, version, e);

    /* Decide again under the write lock: another process may be creating
     * the schema right now. */
    if (exec(s, "BEGIN IMMEDIATE", "creating the schema", e)) return -1;
    int64_t tables = 0;
    int rc;
    if (one_value(s, "PRAGMA user_version", &version, NULL, 0, &rc) ||
        one_value(s, "SELECT count(*) FROM sqlite_master", &tables, NULL, 0, &rc)) {
        db_fail(s, e, rc, "creating the schema");
        goto fail;
    }
    if (version == 0 && tables > 0) {
        std_errf(e, "storage",
                 "%s is not a wfdsl database (it has tables but no wfdsl schema version)",
                 s->path);
        goto fail;
    }
    if (version == 0) {
        char sql[sizeof schema_sql + 64];
        snprintf(sql, sizeof sql, "%sPRAGMA user_version = %d;", schema_sql,
                 STORE_SCHEMA_VERSION);
        if (exec(s, sql, "creating the schema", e)) goto fail;
        version = STORE_SCHEMA_VERSION;
    }
    if (exec(s, "COMMIT", "creating the schema", e)) goto fail;
    return version == STORE_SCHEMA_VERSION ? 0 : version_error(s, version, e);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames);

int store_open(const char *path, store_durability d, store **out, std_err *e)
{
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s) return std_errf(e, "storage", "out of memory");
    s->path = dup_str(path);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                               SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        const char *why = os_reason(s);
        std_errf(e, "storage", "cannot open database %s: %s", path,
                 why ? why : s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* Keep the -wal file when the last connection closes (after its
     * checkpoint, so the database file alone still holds everything): the
     * next process does not pay its unlink and creation. A WAL that a big
     * transaction made large is cut to nothing at close (store_close). */
    int persist = 1;
    sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);

    /* The first read of the file: tells a database from anything else. */
    int64_t version = 0;
    if (one_value(s, "PRAGMA user_version", &version, NULL, 0, &rc)) {
        if ((rc & 0xff) == SQLITE_NOTADB)
            std_errf(e, "storage", "%s is not a wfdsl database (%s)", path,
                     sqlite3_errmsg(s->db));
        else
            db_fail(s, e, rc, "opening the database");
        goto fail;
    }
    if (version > STORE_SCHEMA_VERSION) { /* refuse before changing anything */
        version_error(s, version, e);
        goto fail;
    }
    char mode[16];
    if (one_value(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof mode, &rc)) {
        db_fail(s, e, rc, "enabling WAL mode");
        goto fail;
    }
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
        std_errf(e, "storage", "%s: cannot use WAL mode (journal mode stays %s)", path, mode);
        goto fail;
    }
    /* a page cache (allocated as used) that holds a group commit of
     * thousands of events without spilling pages to the WAL mid-transaction */
    if (exec(s, d == STORE_DURABILITY_NORMAL ? "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192"
                                             : "PRAGMA synchronous = FULL; PRAGMA cache_size = -8192",
             "setting durability", e))
        goto fail;
    if (schema_check(s, version, e)) goto fail;
    sqlite3_wal_hook(s->db, wal_hook, s);
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

/* Checkpoints. SQLite's automatic checkpoint (1,000 pages) runs inside the
 * commit that crosses it, in the middle of a group commit of the engine; we
 * replace it: the owner of the store calls store_checkpoint when it has time
 * (the engine, every tick outside a transaction), and a commit only
 * checkpoints itself once the WAL holds WAL_CHECKPOINT_MAX pages. */
#define WAL_CHECKPOINT_IDLE 256
#define WAL_CHECKPOINT_MAX 16384

static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
    store *s = ud;
    s->wal_frames = frames;
    if (frames >= WAL_CHECKPOINT_MAX) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        s->wal_frames = 0;
    }
    return SQLITE_OK;
}

int store_checkpoint(store *s)
{
    if (!s || s->wal_frames < WAL_CHECKPOINT_IDLE || !sqlite3_get_autocommit(s->db)) return 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    s->wal_frames = 0;
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -1;
}

/* A kept -wal file larger than this is truncated when the store closes. */
#define WAL_KEEP_MAX (64LL << 20)

void store_close(store *s)
{
    if (!s) return;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
    char wal[4200];
    struct stat st;
    snprintf(wal, sizeof wal, "%s-wal", s->path ? s->path : "");
    if (s->db && stat(wal, &st) == 0 && st.st_size > WAL_KEEP_MAX) /* truncated by the close's checkpoint */
        sqlite3_exec(s->db, "PRAGMA journal_size_limit = 0", NULL, NULL, NULL);
    sqlite3_close(s->db); /* rolls back an open transaction */
    free(s->path);
    free(s);
}

/* ---- transactions ---------------------------------------------------------- */

int store_begin(store *s, std_err *e)
{
    s->last_seq = 0;
    if (!stmt(s, ST_BEGIN, e)) return -1;
    return run_done(s, ST_BEGIN, e);
}

int store_commit(store *s, std_err *e)
{
    s->last_seq = 0;
    if (!stmt(s, ST_COMMIT, e)) return -1;
    return run_done(s, ST_COMMIT, e);
}

void store_rollback(store *s)
{
    s->last_seq = 0;
    if (sqlite3_get_autocommit(s->db)) return; /* nothing open (or already rolled back) */
    if (stmt(s, ST_ROLLBACK, NULL)) {
        sqlite3_step(s->st[ST_ROLLBACK]);
        sqlite3_reset(s->st[ST_ROLLBACK]);
    }
    if (!sqlite3_get_autocommit(s->db)) /* e.g. a statement still pending */
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_in_txn(store *s) { return !sqlite3_get_autocommit(s->db); }

int store_savepoint(store *s, std_err *e)
{
    if (!stmt(s, ST_SAVEPOINT, e)) return -1;
    return run_done(s, ST_SAVEPOINT, e);
}

void store_savepoint_end(store *s, int keep)
{
    if (!keep && stmt(s, ST_ROLLBACK_SP, NULL)) {
        sqlite3_step(s->st[ST_ROLLBACK_SP]);
        sqlite3_reset(s->st[ST_ROLLBACK_SP]);
    }
    if (stmt(s, ST_RELEASE_SP, NULL)) {
        sqlite3_step(s->st[ST_RELEASE_SP]);
        sqlite3_reset(s->st[ST_RELEASE_SP]);
    }
}

/* ---- programs ---------------------------------------------------------------- */

int store_program_put(store *s, const char *hash, const char *name, const char *source_file,
                      const char *source, const char *code, size_t code_len, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_PROGRAM_PUT, e);
    if (!q) return -1;
    bind_text(q, 1, hash);
    bind_text(q, 2, name);
    bind_text(q, 3, source_file);
    bind_text(q, 4, source);
    if (code && code_len)
        sqlite3_bind_blob64(q, 5, code, code_len, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(q, 5, 0);
    sqlite3_bind_int64(q, 6, std_now_ms());
    return run_done(s, ST_PROGRAM_PUT, e);
}

int store_program_get(store *s, const char *hash, std_buf *code, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_PROGRAM_GET, e);
    if (!q) return -1;
    bind_text(q, 1, hash);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return 0;
    }
    if (rc != SQLITE_ROW) return step_fail(s, ST_PROGRAM_GET, rc, e);
    const void *p = sqlite3_column_blob(q, 0);
    int n = sqlite3_column_bytes(q, 0);
    std_buf_reset(code);
    std_buf_add(code, p ? p : "", p ? (size_t)n : 0);
    sqlite3_reset(q);
    return 1;
}

/* ---- runs ------------------------------------------------------------------------ */

int store_run_create(store *s, const store_run *r, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_CREATE, e);
    if (!q) return -1;
    int64_t created = r->created_ms > 0 ? r->created_ms : std_now_ms();
    bind_text(q, 1, r->run_id);
    bind_text(q, 2, r->workflow_id);
    bind_text(q, 3, r->name);
    bind_text(q, 4, r->program_hash);
    bind_text(q, 5, r->status ? r->status : "running");
    bind_text(q, 6, r->input);
    bind_text(q, 7, r->output);
    bind_text(q, 8, r->error);
    sqlite3_bind_int64(q, 9, created);
    sqlite3_bind_int64(q, 10, r->updated_ms > 0 ? r->updated_ms : created);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        sqlite3_reset(q);
        return std_errf(e, "exists", "run %s already exists", r->run_id);
    }
    if (rc != SQLITE_DONE) return step_fail(s, ST_RUN_CREATE, rc, e);
    sqlite3_reset(q);
    return 0;
}

/* Fill out from a row of RUN_COLS. */
static void run_from_row(sqlite3_stmt *q, store_run *out)
{
    out->workflow_id = col_text(q, 0);
    out->run_id = col_text(q, 1);
    out->name = col_text(q, 2);
    out->program_hash = col_text(q, 3);
    out->status = col_text(q, 4);
    out->input = col_text(q, 5);
    out->output = col_text(q, 6);
    out->error = col_text(q, 7);
    out->created_ms = sqlite3_column_int64(q, 8);
    out->updated_ms = sqlite3_column_int64(q, 9);
}

int store_run_get(store *s, const char *id, store_run *out, std_err *e)
{
    memset(out, 0, sizeof *out);
    static const int order[2] = {ST_RUN_BY_ID, ST_RUN_BY_WORKFLOW};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q = stmt(s, order[i], e);
        if (!q) return -1;
        bind_text(q, 1, id);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            run_from_row(q, out);
            sqlite3_reset(q);
            return 1;
        }
        if (rc != SQLITE_DONE) return step_fail(s, order[i], rc, e);
        sqlite3_reset(q);
    }
    return 0;
}

static int run_updated(store *s, const char *run_id, std_err *e)
{
    if (sqlite3_changes(s->db) == 0)
        return std_errf(e, "storage", "%s: no run %s", s->path, run_id);
    return 0;
}

int store_run_finish(store *s, const char *run_id, const char *status, const char *output,
                     const char *error, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_FINISH, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, status);
    bind_text(q, 3, output);
    bind_text(q, 4, error);
    sqlite3_bind_int64(q, 5, std_now_ms());
    if (run_done(s, ST_RUN_FINISH, e)) return -1;
    return run_updated(s, run_id, e);
}

int store_run_end(store *s, const char *run_id, const char *owner, const char *status,
                  const char *output, const char *error, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_END, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, status);
    bind_text(q, 3, output);
    bind_text(q, 4, error);
    sqlite3_bind_int64(q, 5, std_now_ms());
    bind_text(q, 6, owner);
    if (run_done(s, ST_RUN_END, e)) return -1;
    return run_updated(s, run_id, e);
}

int store_run_set_status(store *s, const char *run_id, const char *status, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_SET_STATUS, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, status);
    sqlite3_bind_int64(q, 3, std_now_ms());
    if (run_done(s, ST_RUN_SET_STATUS, e)) return -1;
    return run_updated(s, run_id, e);
}

int store_runs_list(store *s, const char *status, int limit, store_run **runs, size_t *n,
                    std_err *e)
{
    *runs = NULL;
    *n = 0;
    int id = status ? ST_RUNS_STATUS : ST_RUNS_ALL;
    sqlite3_stmt *q = stmt(s, id, e);
    if (!q) return -1;
    if (status) bind_text(q, 1, status);
    sqlite3_bind_int(q, status ? 2 : 1, limit > 0 ? limit : -1);
    store_run *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * sizeof *v);
        }
        run_from_row(q, &v[len++]);
    }
    if (rc != SQLITE_DONE) {
        store_runs_free(v, len);
        return step_fail(s, id, rc, e);
    }
    sqlite3_reset(q);
    *runs = v;
    *n = len;
    return 0;
}

void store_run_clear(store_run *r)
{
    if (!r) return;
    free(r->workflow_id);
    free(r->run_id);
    free(r->name);
    free(r->program_hash);
    free(r->status);
    free(r->input);
    free(r->output);
    free(r->error);
    memset(r, 0, sizeof *r);
}

void store_runs_free(store_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) store_run_clear(&runs[i]);
    free(runs);
}

/* ---- events ---------------------------------------------------------------------- */

int store_event_append(store *s, const char *run_id, int64_t seq, const char *type,
                       int64_t time_ms, const char *payload, std_err *e)
{
    /* the previous event must exist (a point lookup on the primary key; an
     * INSERT ... SELECT on the same table would materialize a temporary
     * table per event); a duplicate is caught by the primary key */
    if (seq < 1) goto conflict;
    int in_txn = !sqlite3_get_autocommit(s->db);
    int known = in_txn && s->last_seq > 0 && seq == s->last_seq + 1 && !strcmp(s->last_run, run_id);
    s->last_seq = 0;
    if (seq > 1 && !known) {
        sqlite3_stmt *p = stmt(s, ST_EVENT_PREV, e);
        if (!p) return -1;
        bind_text(p, 1, run_id);
        sqlite3_bind_int64(p, 2, seq - 1);
        int prc = sqlite3_step(p);
        sqlite3_reset(p);
        if (prc != SQLITE_ROW && prc != SQLITE_DONE) return step_fail(s, ST_EVENT_PREV, prc, e);
        if (prc == SQLITE_DONE) goto conflict;
    }
    sqlite3_stmt *q = stmt(s, ST_EVENT_APPEND, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    sqlite3_bind_int64(q, 2, seq);
    bind_text(q, 3, type);
    sqlite3_bind_int64(q, 4, time_ms);
    bind_text(q, 5, payload);
    int rc = sqlite3_step(q);
    if ((rc & 0xff) == SQLITE_CONSTRAINT && rc != SQLITE_CONSTRAINT_NOTNULL) {
        sqlite3_reset(q);
        goto conflict;
    }
    if (rc != SQLITE_DONE) return step_fail(s, ST_EVENT_APPEND, rc, e);
    sqlite3_reset(q);
    if (sqlite3_changes(s->db) == 1) {
        if (in_txn && strlen(run_id) < sizeof s->last_run) {
            strcpy(s->last_run, run_id);
            s->last_seq = seq;
        }
        return 0;
    }

conflict:
    /* Not the next seq: a duplicate or a gap. Say which (cold path). */
    q = stmt(s, ST_EVENT_LAST, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) return step_fail(s, ST_EVENT_LAST, rc, e);
    int64_t last = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return std_errf(e, "conflict", "event %lld of run %s %s (the last is %lld)", (long long)seq,
                    run_id, seq <= last ? "already exists" : "would leave a gap",
                    (long long)last);
}

int store_events_load(store *s, const char *run_id, store_event **evs, size_t *n, std_err *e)
{
    *evs = NULL;
    *n = 0;
    sqlite3_stmt *q = stmt(s, ST_EVENTS_LOAD, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    store_event *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            v = xrealloc(v, cap * sizeof *v);
        }
        store_event *ev = &v[len++];
        ev->seq = sqlite3_column_int64(q, 0);
        ev->type = col_text(q, 1);
        ev->time_ms = sqlite3_column_int64(q, 2);
        ev->payload = col_text(q, 3);
    }
    if (rc != SQLITE_DONE) {
        store_events_free(v, len);
        return step_fail(s, ST_EVENTS_LOAD, rc, e);
    }
    sqlite3_reset(q);
    *evs = v;
    *n = len;
    return 0;
}

void store_events_free(store_event *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(evs[i].type);
        free(evs[i].payload);
    }
    free(evs);
}

int store_run_lease(store *s, const char *run_id, const char *owner, int64_t until_ms,
                    std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_LEASE, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, owner);
    sqlite3_bind_int64(q, 3, until_ms);
    sqlite3_bind_int64(q, 4, std_now_ms());
    if (run_done(s, ST_LEASE, e)) return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

int store_run_release(store *s, const char *run_id, const char *owner, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RELEASE, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, owner);
    return run_done(s, ST_RELEASE, e) ? -1 : 0;
}

int store_run_lease_info(store *s, const char *run_id, char **owner, int64_t *until_ms,
                         std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_LEASE_INFO, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    *owner = NULL;
    *until_ms = 0;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *owner = col_text(q, 0);
        *until_ms = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return step_fail(s, ST_LEASE_INFO, rc, e);
    return rc == SQLITE_ROW ? 1 : 0;
}

int store_run_request(store *s, const char *run_id, const char *request, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_REQUEST_SET, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, request);
    if (run_done(s, ST_REQUEST_SET, e)) return -1;
    return run_updated(s, run_id, e);
}

int store_run_request_get(store *s, const char *run_id, char **request, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_REQUEST_GET, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    *request = NULL;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *request = col_text(q, 0);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return step_fail(s, ST_REQUEST_GET, rc, e);
    return 0;
}

int store_requests_take(store *s, const char *owner, void (*cb)(void *ud, const char *run_id,
                                                               const char *request),
                        void *ud, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_REQUEST_TAKE, e);
    if (!q) return -1;
    bind_text(q, 1, owner);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return step_fail(s, ST_REQUEST_TAKE, rc, e);
    return 0;
}

int store_run_request_clear(store *s, const char *run_id, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_REQUEST_CLEAR, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    return run_done(s, ST_REQUEST_CLEAR, e) ? -1 : 0;
}

int store_run_lease_steal(store *s, const char *run_id, const char *owner, int64_t until_ms,
                          const char *dead_owner, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_LEASE_STEAL, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, owner);
    sqlite3_bind_int64(q, 3, until_ms);
    bind_text(q, 4, dead_owner);
    if (run_done(s, ST_LEASE_STEAL, e)) return -1;
    return sqlite3_changes(s->db) > 0 ? 1 : 0;
}

int64_t store_signal_send(store *s, const char *run_id, const char *name, const char *payload,
                          std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_SIGNAL_SEND, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, name);
    bind_text(q, 3, payload);
    sqlite3_bind_int64(q, 4, std_now_ms());
    if (run_done(s, ST_SIGNAL_SEND, e)) return -1;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    q = stmt(s, ST_SIGNAL_FLAG, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    if (run_done(s, ST_SIGNAL_FLAG, e)) return -1;
    return id;
}

int store_signal_take(store *s, const char *run_id, const char *name, int64_t after_id,
                      int64_t *id, char **payload, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_SIGNAL_TAKE, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    bind_text(q, 2, name);
    sqlite3_bind_int64(q, 3, after_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        *payload = col_text(q, 1);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return step_fail(s, ST_SIGNAL_TAKE, rc, e);
    return rc == SQLITE_ROW ? 1 : 0;
}

int store_signal_consume(store *s, int64_t id, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_SIGNAL_CONSUME, e);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, id);
    return run_done(s, ST_SIGNAL_CONSUME, e) ? -1 : 0;
}

int store_run_park(store *s, const char *run_id, const char *owner, int64_t wake_at, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_PARK, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    if (wake_at > 0) sqlite3_bind_int64(q, 2, wake_at);
    else sqlite3_bind_null(q, 2);
    sqlite3_bind_int64(q, 3, std_now_ms());
    bind_text(q, 4, owner);
    return run_done(s, ST_RUN_PARK, e) ? -1 : 0;
}

int store_run_unpark(store *s, const char *run_id, std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUN_UNPARK, e);
    if (!q) return -1;
    bind_text(q, 1, run_id);
    return run_done(s, ST_RUN_UNPARK, e) ? -1 : 0;
}

int store_runs_claimable(store *s, int64_t now, int limit,
                         void (*cb)(void *ud, const char *run_id, const char *owner), void *ud,
                         std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUNS_CLAIMABLE, e);
    if (!q) return -1;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int(q, 2, limit);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return step_fail(s, ST_RUNS_CLAIMABLE, rc, e);
    return 0;
}

int store_runs_leased_by(store *s, int64_t now, const char *prefix, const char *self,
                         void (*cb)(void *ud, const char *run_id, const char *owner), void *ud,
                         std_err *e)
{
    sqlite3_stmt *q = stmt(s, ST_RUNS_LEASED_LOCAL, e);
    if (!q) return -1;
    /* owners in [prefix, prefix with its last byte + 1): an index range */
    size_t n = strlen(prefix);
    char *hi = dup_str(prefix);
    if (n) hi[n - 1]++;
    sqlite3_bind_int64(q, 1, now);
    bind_text(q, 2, prefix);
    sqlite3_bind_text(q, 3, hi, -1, SQLITE_TRANSIENT);
    bind_text(q, 4, self);
    free(hi);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) return step_fail(s, ST_RUNS_LEASED_LOCAL, rc, e);
    return 0;
}

/* ---- schedules (not on the hot path: statements prepared per call) ---- */

/* Prepare sql and bind args by fmt: 't' text, 'i' int64. */
static sqlite3_stmt *prep(store *s, const char *sql, const char *what, std_err *e, const char *fmt, ...)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) {
        db_fail(s, e, rc, what);
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 't') bind_text(q, i + 1, va_arg(ap, const char *));
        else sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    return q;
}

static int finish_stmt(store *s, sqlite3_stmt *q, const char *what, std_err *e)
{
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_fail(s, e, rc, what);
    return 0;
}

int store_schedule_put(store *s, const char *name, const char *data, std_err *e)
{
    sqlite3_stmt *q = prep(s, "INSERT OR REPLACE INTO schedules(name, data) VALUES (?1, ?2)",
                           "storing a schedule", e, "tt", name, data);
    return q ? finish_stmt(s, q, "storing a schedule", e) : -1;
}

int store_schedule_get(store *s, const char *name, char **data, std_err *e)
{
    sqlite3_stmt *q = prep(s, "SELECT data FROM schedules WHERE name = ?1", "reading a schedule", e, "t", name);
    if (!q) return -1;
    int rc = sqlite3_step(q);
    *data = rc == SQLITE_ROW ? col_text(q, 0) : NULL;
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(s, e, rc, "reading a schedule");
    return rc == SQLITE_ROW;
}

int store_schedule_delete(store *s, const char *name, std_err *e)
{
    sqlite3_stmt *q = prep(s, "DELETE FROM schedules WHERE name = ?1", "deleting a schedule", e, "t", name);
    if (!q || finish_stmt(s, q, "deleting a schedule", e)) return -1;
    return sqlite3_changes(s->db) > 0;
}

int store_schedules_all(store *s, void (*cb)(void *ud, const char *name, const char *data), void *ud,
                        std_err *e)
{
    /* (prepared once: every worker asks four times a second) */
    sqlite3_stmt *q = stmt(s, ST_SCHEDULES_ALL, e);
    if (!q) return -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    if (rc != SQLITE_DONE) return step_fail(s, ST_SCHEDULES_ALL, rc, e);
    sqlite3_reset(q);
    return 0;
}

int store_slot_claim(store *s, const char *name, int64_t slot_ms, const char *kind,
                     const char *run_id, std_err *e)
{
    sqlite3_stmt *q = prep(s,
                           "INSERT OR IGNORE INTO schedule_slots(name, slot_ms, kind, run_id, time_ms)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           "claiming a slot", e, "titti", name, slot_ms, kind, run_id, std_now_ms());
    if (!q || finish_stmt(s, q, "claiming a slot", e)) return -1;
    return sqlite3_changes(s->db) > 0;
}

int store_slot_update(store *s, const char *name, int64_t slot_ms, const char *kind,
                      const char *run_id, std_err *e)
{
    sqlite3_stmt *q = prep(s,
                           "UPDATE schedule_slots SET kind = ?3, run_id = ?4, time_ms = ?5 WHERE name = ?1"
                           " AND slot_ms = ?2 AND kind = 'buffered'",
                           "updating a slot", e, "titti", name, slot_ms, kind, run_id, std_now_ms());
    if (!q || finish_stmt(s, q, "updating a slot", e)) return -1;
    return sqlite3_changes(s->db) > 0;
}

int store_slots(store *s, const char *name, const char *kind, int limit,
                void (*cb)(void *ud, int64_t slot_ms, const char *kind, const char *run_id, int64_t time_ms),
                void *ud, std_err *e)
{
    sqlite3_stmt *q = prep(s,
                           "SELECT slot_ms, kind, run_id, time_ms FROM schedule_slots WHERE name = ?1"
                           " AND (?2 IS NULL OR kind = ?2) ORDER BY slot_ms DESC LIMIT ?3",
                           "listing slots", e, "tti", name, kind, (int64_t)limit);
    if (!q) return -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
           (const char *)sqlite3_column_text(q, 2), sqlite3_column_int64(q, 3));
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_fail(s, e, rc, "listing slots");
}

int store_schedule_log(store *s, const char *name, const char *action, const char *note, std_err *e)
{
    sqlite3_stmt *q = prep(s, "INSERT INTO schedule_log(name, time_ms, action, note) VALUES (?1, ?2, ?3, ?4)",
                           "recording a schedule action", e, "titt", name, std_now_ms(), action, note);
    return q ? finish_stmt(s, q, "recording a schedule action", e) : -1;
}

int store_schedule_log_list(store *s, const char *name, int limit,
                            void (*cb)(void *ud, int64_t time_ms, const char *action, const char *note),
                            void *ud, std_err *e)
{
    sqlite3_stmt *q = prep(s, "SELECT time_ms, action, note FROM schedule_log WHERE name = ?1 ORDER BY id DESC LIMIT ?2",
                           "reading the schedule log", e, "ti", name, (int64_t)limit);
    if (!q) return -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        cb(ud, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
           (const char *)sqlite3_column_text(q, 2));
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_fail(s, e, rc, "reading the schedule log");
}

int store_runs_active(store *s, const char *workflow_like, void (*cb)(void *ud, const char *run_id),
                      void *ud, std_err *e)
{
    sqlite3_stmt *q = prep(s,
                           "SELECT run_id FROM runs WHERE workflow_id LIKE ?1 AND status IN ('running', 'waiting')"
                           " ORDER BY created_ms",
                           "finding active runs", e, "t", workflow_like);
    if (!q) return -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) cb(ud, (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : db_fail(s, e, rc, "finding active runs");
}
