/* store.h — the one interface between the engine and its database.
 *
 * It speaks workflow ids, run ids, sequence numbers, JSON text and blobs; no
 * SQL crosses it, and only storage/sqlite.c includes sqlite3.h. A store is
 * used by one thread. Writes made between store_begin and store_commit are
 * one transaction (the engine's group commit); writes outside a transaction
 * commit on their own.
 *
 * Identity: a *workflow id* is the name the user gives a run (`--id`), a
 * *run id* is unique per execution. store_run_get accepts either and, for a
 * workflow id, returns its latest run.
 *
 * Ownership: strings inside store_run / store_event are malloc'd and freed
 * by store_run_clear / store_events_free.
 */
#ifndef WF_STORE_H
#define WF_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "../stdlib/std.h"

#define STORE_SCHEMA_VERSION 2

typedef struct store store;

typedef enum store_durability {
    STORE_DURABILITY_FULL = 0, /* synchronous=FULL: every commit is fsync'd */
    STORE_DURABILITY_NORMAL    /* synchronous=NORMAL: may lose the last commits on power loss */
} store_durability;

typedef struct store_run {
    char *workflow_id;
    char *run_id;
    char *name;          /* workflow (type) name */
    char *program_hash;  /* hex sha256 of the program it runs */
    char *status;        /* running | completed | failed | ... */
    char *input;         /* JSON text */
    char *output;        /* JSON text or NULL */
    char *error;         /* JSON text or NULL */
    int64_t created_ms, updated_ms;
} store_run;

typedef struct store_event {
    int64_t seq;      /* 1, 2, 3 ... per run, no gaps */
    char *type;       /* run_started, step_scheduled, step_completed, ... */
    int64_t time_ms;
    char *payload;    /* JSON text */
} store_event;

/* Open (creating if needed) the database at path: WAL mode, the given
 * durability, a busy timeout, and the schema created or checked. A database
 * of a newer schema version is refused with a message naming both versions. */
int store_open(const char *path, store_durability d, store **out, std_err *e);
void store_close(store *s);

int store_begin(store *s, std_err *e);
/* Copy the WAL back into the database file (SQLite's passive checkpoint)
 * when it has grown since the last one; nothing inside a transaction.
 * Commits checkpoint by themselves only once the WAL is large (64 MiB), so
 * an owner that never calls this still keeps the WAL bounded. */
int store_checkpoint(store *s);
int store_commit(store *s, std_err *e);
void store_rollback(store *s);
/* 1 while a transaction is open (SQLite ends one by itself on some I/O
 * errors: a caller that kept one open can tell). */
int store_in_txn(store *s);
/* A savepoint inside the open transaction: store_savepoint_end keeps what
 * was written since (keep) or undoes it, and ends the savepoint. */
int store_savepoint(store *s, std_err *e);
void store_savepoint_end(store *s, int keep);

/* Programs are stored once per hash; putting an existing hash is a no-op. */
int store_program_put(store *s, const char *hash, const char *name, const char *source_file,
                      const char *source, const char *code, size_t code_len, std_err *e);
/* 1 if found (code filled, caller frees with std_buf_free), 0 if not, -1 on error. */
int store_program_get(store *s, const char *hash, std_buf *code, std_err *e);

/* Create a run. Fails (-1, e->type "exists") when run_id already exists. */
int store_run_create(store *s, const store_run *r, std_err *e);
/* 1 if found, 0 if not, -1 on error. id is a run id or a workflow id. */
int store_run_get(store *s, const char *id, store_run *out, std_err *e);
/* Set status and, when not NULL, output and error (JSON text). */
int store_run_finish(store *s, const char *run_id, const char *status, const char *output,
                     const char *error, std_err *e);
/* store_run_finish and store_run_release (of owner's lease) in one statement. */
int store_run_end(store *s, const char *run_id, const char *owner, const char *status,
                  const char *output, const char *error, std_err *e);
int store_run_set_status(store *s, const char *run_id, const char *status, std_err *e);
/* Runs, newest first; status may be NULL for all; limit <= 0 for no limit. */
int store_runs_list(store *s, const char *status, int limit, store_run **runs, size_t *n,
                    std_err *e);
void store_run_clear(store_run *r);
void store_runs_free(store_run *runs, size_t n);

/* Leases: a run is executed only by the process holding its lease.
 * store_run_lease takes or renews it for owner until until_ms: 1 if taken,
 * 0 if another owner's lease has not expired. */
int store_run_lease(store *s, const char *run_id, const char *owner, int64_t until_ms,
                    std_err *e);
/* Take the lease from dead_owner (known dead) even before it expires. */
int store_run_lease_steal(store *s, const char *run_id, const char *owner, int64_t until_ms,
                          const char *dead_owner, std_err *e);
int store_run_release(store *s, const char *run_id, const char *owner, std_err *e);
/* 1 and the owner (malloc'd, NULL if none) and its expiry; 0 if no such run. */
int store_run_lease_info(store *s, const char *run_id, char **owner, int64_t *until_ms,
                         std_err *e);

/* Requests to the process executing a run (cancel, terminate), as JSON
 * text. Set by any process; the lease holder takes and clears them. */
int store_run_request(store *s, const char *run_id, const char *request, std_err *e);
int store_run_request_get(store *s, const char *run_id, char **request, std_err *e);
int store_requests_take(store *s, const char *owner,
                        void (*cb)(void *ud, const char *run_id, const char *request), void *ud,
                        std_err *e);
int store_run_request_clear(store *s, const char *run_id, std_err *e);

/* Signals: stored per run from the moment it exists, taken oldest first
 * per name. store_signal_send also flags the run so that a worker wakes it.
 * store_signal_take returns 1 and the oldest unconsumed signal `name` with
 * an id above after_id (its payload malloc'd), 0 if none. */
int64_t store_signal_send(store *s, const char *run_id, const char *name, const char *payload,
                          std_err *e);
int store_signal_take(store *s, const char *run_id, const char *name, int64_t after_id,
                      int64_t *id, char **payload, std_err *e);
int store_signal_consume(store *s, int64_t id, std_err *e);

/* Parking: a run waiting only on timers and signals leaves memory; its
 * status becomes 'waiting' with the time of its first timer (0: none) and
 * its lease is released. Unparking marks it running again (clearing the
 * error of a run a worker could not load: see vm_engine_claim). */
int store_run_park(store *s, const char *run_id, const char *owner, int64_t wake_at, std_err *e);
int store_run_unpark(store *s, const char *run_id, std_err *e);
/* Runs a worker may take now: running or waiting, not leased or with an
 * expired lease, and due (timer, signal or request); oldest due first. */
int store_runs_claimable(store *s, int64_t now, int limit,
                         void (*cb)(void *ud, const char *run_id, const char *owner), void *ud,
                         std_err *e);
/* Runs that would be claimable but for an unexpired lease held by an owner
 * that begins with prefix (another than self): for the caller to take over
 * when that owner is known dead. */
int store_runs_leased_by(store *s, int64_t now, const char *prefix, const char *self,
                         void (*cb)(void *ud, const char *run_id, const char *owner), void *ud,
                         std_err *e);

/* Schedules (cron and interval triggers of deployed workflows). A schedule
 * is a JSON document by name. A slot (schedule, nominal time) is claimed
 * once across every process: store_slot_claim returns 1 to the one caller
 * that recorded it (fired, skipped, missed or buffered) and 0 to the rest.
 * Manual actions go to an audit log. */
int store_schedule_put(store *s, const char *name, const char *data, std_err *e);
int store_schedule_get(store *s, const char *name, char **data, std_err *e);
int store_schedule_delete(store *s, const char *name, std_err *e);
int store_schedules_all(store *s, void (*cb)(void *ud, const char *name, const char *data), void *ud,
                        std_err *e);
int store_slot_claim(store *s, const char *name, int64_t slot_ms, const char *kind,
                     const char *run_id, std_err *e);
/* Release a buffered slot as `kind`: 1 for the one caller that did. */
int store_slot_update(store *s, const char *name, int64_t slot_ms, const char *kind,
                      const char *run_id, std_err *e);
/* Slots newest first, all kinds when kind is NULL. */
int store_slots(store *s, const char *name, const char *kind, int limit,
                void (*cb)(void *ud, int64_t slot_ms, const char *kind, const char *run_id, int64_t time_ms),
                void *ud, std_err *e);
int store_schedule_log(store *s, const char *name, const char *action, const char *note, std_err *e);
int store_schedule_log_list(store *s, const char *name, int limit,
                            void (*cb)(void *ud, int64_t time_ms, const char *action, const char *note),
                            void *ud, std_err *e);
/* Runs running or waiting whose workflow id matches a LIKE pattern. */
int store_runs_active(store *s, const char *workflow_like, void (*cb)(void *ud, const char *run_id),
                      void *ud, std_err *e);

/* Append event seq to a run's history; seq must be the next one (last + 1),
 * otherwise -1 with e->type "conflict". */
int store_event_append(store *s, const char *run_id, int64_t seq, const char *type,
                       int64_t time_ms, const char *payload, std_err *e);
/* The whole history in seq order. */
int store_events_load(store *s, const char *run_id, store_event **evs, size_t *n, std_err *e);
void store_events_free(store_event *evs, size_t n);

#endif
