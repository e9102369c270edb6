/* main.c — the `wfdsl` command line: argument parsing, help texts, output
 * formats and exit codes. Each command is a thin layer over dsl/ (check,
 * explain), the engine (run, resume) and the store (list, show, history).
 *
 * Exit codes: 0 success, 1 the workflow failed, 2 bad usage, definition or
 * input, 3 storage or internal error. Results go to stdout, progress and
 * errors to stderr.
 */
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dsl/airflow.h"
#include "../dsl/asl.h"
#include "../dsl/compile.h"
#include "../storage/store.h"
#include "engine.h"
#include "graph.h"
#include "schedule.h"

#define WFDSL_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

/* ---- options ----------------------------------------------------------- */

typedef struct opt {
    const char *name; /* without "--" */
    int takes_value;
    const char *value; /* set when given; "1" for flags */
} opt;

typedef struct args {
    opt *opts;
    size_t nopts;
    const char *pos[64];
    size_t npos;
} args;

static const char *cmd_name;

static int parse_args(int argc, char **argv, args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (s[0] == '-' && s[1] == '-' && s[2]) {
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt *o = NULL;
            for (size_t k = 0; k < a->nopts; k++)
                if (strlen(a->opts[k].name) == len && !strncmp(a->opts[k].name, name, len))
                    o = &a->opts[k];
            if (!o) {
                fprintf(stderr, "wfdsl %s: unknown option '--%.*s' (see wfdsl %s --help)\n",
                        cmd_name, (int)len, name, cmd_name);
                return -1;
            }
            if (o->takes_value) {
                if (eq) o->value = eq + 1;
                else if (i + 1 < argc) o->value = argv[++i];
                else {
                    fprintf(stderr, "wfdsl %s: option '--%s' needs a value\n", cmd_name, o->name);
                    return -1;
                }
            } else {
                if (eq) {
                    fprintf(stderr, "wfdsl %s: option '--%s' takes no value\n", cmd_name, o->name);
                    return -1;
                }
                o->value = "1";
            }
        } else if (s[0] == '-' && s[1] && s[1] != '-' && strcmp(s, "-h") != 0) {
            fprintf(stderr, "wfdsl %s: unknown option '%s' (see wfdsl %s --help)\n", cmd_name, s,
                    cmd_name);
            return -1;
        } else if (!strcmp(s, "-h")) {
            for (size_t k = 0; k < a->nopts; k++)
                if (!strcmp(a->opts[k].name, "help")) a->opts[k].value = "1";
        } else {
            if (a->npos == 64) return -1;
            a->pos[a->npos++] = s;
        }
    }
    return 0;
}

static const char *optv(args *a, const char *name)
{
    for (size_t k = 0; k < a->nopts; k++)
        if (!strcmp(a->opts[k].name, name)) return a->opts[k].value;
    return NULL;
}

static const char *db_path(args *a)
{
    const char *p = optv(a, "db");
    if (p) return p;
    p = getenv("WFDSL_DB");
    return p && *p ? p : "wfdsl.db";
}

static int open_store(args *a, store **s)
{
    std_err e = {0};
    store_durability d = STORE_DURABILITY_FULL;
    const char *dur = optv(a, "durability");
    if (dur && !strcmp(dur, "normal")) d = STORE_DURABILITY_NORMAL;
    else if (dur && strcmp(dur, "full") != 0) {
        fprintf(stderr, "wfdsl %s: --durability must be 'full' or 'normal'\n", cmd_name);
        return EXIT_USAGE;
    }
    if (store_open(db_path(a), d, s, &e) != 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        return EXIT_INTERNAL;
    }
    return 0;
}

/* Engine options from the command line and the environment.
 * WFDSL_TEST_KILL_AFTER_EVENT=N makes the process SIGKILL itself right after
 * the commit that takes a history to N events: the crash tests use it to
 * die at exact step boundaries. */
static vm_engine_opts engine_opts(args *a)
{
    vm_engine_opts eo = {.progress = isatty(2) && !optv(a, "quiet")};
    const char *k = getenv("WFDSL_TEST_KILL_AFTER_EVENT");
    if (k) eo.kill_after_event = atoll(k);
    return eo;
}

static void print_json(FILE *f, json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fprintf(f, "%s\n", s ? s : "null");
    free(s);
}

/* ---- help -------------------------------------------------------------- */

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *help;
} command;

static const command *find_command(const char *name);

static int want_help(args *a, const command *c)
{
    if (!optv(a, "help")) return 0;
    printf("%s", c->help);
    return 1;
}

/* ---- check, explain ---------------------------------------------------- */

static void print_diags(std_diags *d)
{
    for (size_t i = 0; i < d->n; i++) fprintf(stderr, "%s\n", d->msgs[i]);
}

/* A workflow file: YAML, or ASL (*.asl.json) through dsl/asl.c. */
static int compile_any(const char *path, const char *resources, vm_program **p, char **source, std_diags *d)
{
    if (dsl_is_asl_file(path)) return dsl_asl_compile_file(path, resources, p, source, d);
    return dsl_compile_file(path, p, source, d);
}

/* Why `deploy` refuses p (a trigger's input lacks a required field), one
 * "file:line:col: SEVERITY: message" line each; their count. */
static size_t print_undeployable(const vm_program *p, const char *severity, const char *tail)
{
    size_t i;
    json_t *u;
    json_array_foreach(p->undeployable, i, u)
        fprintf(stderr, "%s: %s: %s%s\n", json_string_value(json_array_get(u, 0)), severity,
                json_string_value(json_array_get(u, 1)), tail);
    return json_array_size(p->undeployable);
}

static int cmd_check(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"resources", 1, 0}};
    args a = {o, 2, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("check"))) return 0;
    if (a.npos == 0) {
        fprintf(stderr, "wfdsl check: no file given (usage: wfdsl check FILE...)\n");
        return EXIT_USAGE;
    }
    int bad = 0;
    for (size_t i = 0; i < a.npos; i++) {
        std_diags d = {0};
        vm_program *p = NULL;
        if (compile_any(a.pos[i], optv(&a, "resources"), &p, NULL, &d) != 0) {
            print_diags(&d);
            fprintf(stderr, "%s: %zu error%s\n", a.pos[i], d.n, d.n == 1 ? "" : "s");
            bad = 1;
        } else {
            print_undeployable(p, "warning", " ('wfdsl deploy' refuses the file)");
            printf("%s: ok\n", a.pos[i]);
        }
        vm_program_free(p);
        std_diags_free(&d);
    }
    return bad ? EXIT_USAGE : EXIT_OK;
}

static int cmd_explain(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"resources", 1, 0}};
    args a = {o, 2, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("explain"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl explain: give one file (usage: wfdsl explain FILE)\n");
        return EXIT_USAGE;
    }
    std_diags d = {0};
    vm_program *p = NULL;
    if (compile_any(a.pos[0], optv(&a, "resources"), &p, NULL, &d) != 0) {
        print_diags(&d);
        std_diags_free(&d);
        return EXIT_USAGE;
    }
    char *text = vm_program_serialize(p);
    free(text);
    std_buf out = {0};
    vm_program_explain(p, &out);
    fputs(out.p, stdout);
    std_buf_free(&out);
    vm_program_free(p);
    return EXIT_OK;
}

static int cmd_graph(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"resources", 1, 0}, {"format", 1, 0}};
    args a = {o, 3, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("graph"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl graph: give one file (usage: wfdsl graph FILE [--format dot|mermaid|text])\n");
        return EXIT_USAGE;
    }
    const char *fmt = optv(&a, "format") ? optv(&a, "format") : "text";
    std_diags d = {0};
    vm_program *p = NULL;
    char *source = NULL;
    dsl_doc *doc = NULL;
    int rc = compile_any(a.pos[0], optv(&a, "resources"), &p, &source, &d);
    if (rc == 0) /* checked: now draw the tree it was compiled from */
        rc = dsl_is_asl_file(a.pos[0]) ? dsl_asl_load(a.pos[0], optv(&a, "resources"), &doc, &d)
                                       : dsl_yaml_load(a.pos[0], source, strlen(source), &doc, &d);
    vm_program_free(p);
    free(source);
    if (rc != 0) {
        print_diags(&d);
        std_diags_free(&d);
        dsl_doc_free(doc);
        return EXIT_USAGE;
    }
    std_buf out = {0};
    std_err e = {0};
    if (vm_graph(doc, fmt, &out, &e) != 0) {
        fprintf(stderr, "wfdsl graph: %s\n", e.msg);
        dsl_doc_free(doc);
        return EXIT_USAGE;
    }
    fwrite(out.p, 1, out.len, stdout);
    std_buf_free(&out);
    dsl_doc_free(doc);
    return EXIT_OK;
}

/* ---- run, resume ------------------------------------------------------- */

/* The largest run input accepted (it is stored in the history and held by
 * the run's Lua sandbox). */
#define MAX_INPUT_BYTES (16 * 1024 * 1024)

static json_t *read_input(const char *arg)
{
    if (!arg) return json_object();
    json_error_t je;
    json_t *v;
    if (arg[0] == '@') { /* read with the cap first: a pipe has no size to stat */
        std_err e = {0};
        size_t len = 0;
        char *text = std_read_file(arg + 1, &len, &e);
        if (!text) {
            if (strstr(e.msg, "too large"))
                fprintf(stderr, "wfdsl: --input is too large (the limit is %d bytes)\n", MAX_INPUT_BYTES);
            else
                fprintf(stderr, "wfdsl: --input %s: unable to open (%s)\n", arg, e.msg);
            return NULL;
        }
        if (len > MAX_INPUT_BYTES) {
            fprintf(stderr, "wfdsl: --input is too large (%zu bytes; the limit is %d bytes)\n", len, MAX_INPUT_BYTES);
            free(text);
            return NULL;
        }
        v = json_loadb(text, len, JSON_DECODE_ANY, &je);
        free(text);
        if (!v) fprintf(stderr, "wfdsl: --input %s: %s (line %d)\n", arg, je.text, je.line);
        return v;
    }
    if (strlen(arg) > MAX_INPUT_BYTES) {
        fprintf(stderr, "wfdsl: --input is too large (%zu bytes; the limit is %d bytes)\n", strlen(arg),
                MAX_INPUT_BYTES);
        return NULL;
    }
    v = json_loads(arg, JSON_DECODE_ANY, &je);
    if (!v) fprintf(stderr, "wfdsl: --input is not valid JSON: %s (column %d)\n", je.text, je.column);
    return v;
}

/* Running and waiting (parked) runs are alive; every other status is final. */
static int is_finished(const char *status)
{
    return strcmp(status, "running") != 0 && strcmp(status, "waiting") != 0;
}

/* Drive the engine and turn its outcome for run_id into output + exit code. */
static int finish_run(vm_engine *g, const char *run_id, const char *id)
{
    std_err e = {0};
    if (vm_engine_run(g, &e) != 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        fprintf(stderr, "wfdsl: the run is recorded up to its last commit; 'wfdsl resume %s' continues it\n", id);
        return EXIT_INTERNAL;
    }
    json_t *out = NULL, *err = NULL;
    const char *status = vm_engine_result(g, run_id, &out, &err);
    if (!status) {
        fprintf(stderr, "wfdsl: run %s did not finish\n", id);
        return EXIT_INTERNAL;
    }
    if (!strcmp(status, "completed")) {
        print_json(stdout, out);
        return EXIT_OK;
    }
    fprintf(stderr, "wfdsl: run %s %s: ", id, status);
    const char *type = json_string_value(json_object_get(err, "type"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *step = json_string_value(json_object_get(err, "step"));
    fprintf(stderr, "%s: %s", type ? type : "error", msg ? msg : "");
    if (step) fprintf(stderr, " (step %s)", step);
    fputc('\n', stderr);
    return EXIT_FAILED;
}

/* A workflow id: UTF-8 text without control characters, at most 200 bytes. */
static int valid_id(const char *id)
{
    size_t n = strlen(id);
    json_t *probe = json_stringn(id, n);
    int ok = probe && n > 0 && n <= 200;
    json_decref(probe);
    for (const char *q = id; ok && *q; q++) ok = (unsigned char)*q >= 0x20 && *q != 0x7f;
    if (!ok) fprintf(stderr, "wfdsl: invalid id: ids are 1-200 bytes of UTF-8 text without control characters\n");
    return ok;
}

/* Secrets and input of a new run of p; NULL (message printed) if unusable. */
static json_t *new_run_input(const vm_program *p, const char *arg)
{
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(p->meta, "secrets"), i, name) {
        if (!getenv(json_string_value(name))) {
            fprintf(stderr, "wfdsl: secret %s is not set in the environment\n", json_string_value(name));
            return NULL;
        }
    }
    json_t *raw = read_input(arg);
    if (!raw) return NULL;
    std_err e = {0};
    json_t *input = vm_input_check(p, raw, &e);
    json_decref(raw);
    if (!input) fprintf(stderr, "wfdsl: %s\n", e.msg);
    return input;
}

/* Exit code for an error of vm_engine_resume. */
static int resume_error(const std_err *e)
{
    fprintf(stderr, "wfdsl: %s\n", e->msg);
    return !strcmp(e->type, "notfound") || !strcmp(e->type, "leased") || !strcmp(e->type, "secret.missing")
               ? EXIT_USAGE
               : EXIT_INTERNAL;
}

static int cmd_run(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0},  {"id", 1, 0},         {"input", 1, 0}, {"db", 1, 0},
               {"new", 0, 0},   {"durability", 1, 0}, {"quiet", 0, 0}, {"resources", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("run"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl run: give one workflow file (usage: wfdsl run FILE [--input JSON])\n");
        return EXIT_USAGE;
    }
    std_diags d = {0};
    vm_program *p = NULL;
    char *source = NULL;
    if (compile_any(a.pos[0], optv(&a, "resources"), &p, &source, &d) != 0) {
        print_diags(&d);
        std_diags_free(&d);
        return EXIT_USAGE;
    }
    char *text = vm_program_serialize(p); /* fills p->hash */
    free(text);
    /* a new run's input is checked before the database is even opened;
     * with --id it may be a resume, which takes no input */
    json_t *input = NULL;
    if (!optv(&a, "id") && !(input = new_run_input(p, optv(&a, "input")))) {
        vm_program_free(p);
        free(source);
        return EXIT_USAGE;
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) {
        json_decref(input);
        vm_program_free(p);
        free(source);
        return rc;
    }
    std_err e = {0};
    const char *id = optv(&a, "id");
    if (id && !valid_id(id)) {
        json_decref(input);
        vm_program_free(p);
        free(source);
        store_close(s);
        return EXIT_USAGE;
    }
    char gen[128];
    if (!id) {
        char r[33];
        std_random_hex(r);
        snprintf(gen, sizeof gen, "%s-%.12s", p->name, r);
        id = gen;
    }
    store_run old = {0};
    int found = optv(&a, "id") ? store_run_get(s, id, &old, &e) : 0;
    vm_engine_opts eo = engine_opts(&a);
    vm_engine *g = vm_engine_new(s, &eo);
    char run_id[64] = "";
    if (found < 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        rc = EXIT_INTERNAL;
    } else if (found && !is_finished(old.status)) {
        /* an interrupted run: continue it on the program it started with */
        if (strcmp(old.program_hash, p->hash) != 0)
            fprintf(stderr,
                    "wfdsl: note: run %s started on program %.12s; %s has changed since (now "
                    "%.12s); continuing on the stored program\n",
                    id, old.program_hash, a.pos[0], p->hash);
        if (optv(&a, "input"))
            fprintf(stderr, "wfdsl: note: resuming run %s with the input it started with; --input is ignored\n", id);
        if (vm_engine_resume(g, id, run_id, &e) != 0) rc = resume_error(&e);
    } else if (found && !optv(&a, "new")) {
        fprintf(stderr, "wfdsl: run '%s' already finished (%s); use --new to start a new run with this id, or 'wfdsl show %s'\n",
                id, old.status, id);
        rc = EXIT_USAGE;
    } else if (!input && !(input = new_run_input(p, optv(&a, "input")))) {
        rc = EXIT_USAGE;
    } else {
        rc = vm_engine_start(g, p, source, id, input, run_id, &e) != 0 ? EXIT_INTERNAL : 0;
        if (rc) fprintf(stderr, "wfdsl: %s\n", e.msg);
        p = NULL; /* owned by the engine now */
    }
    if (!rc) {
        if (eo.progress) fprintf(stderr, "run %s (%s)\n", id, run_id);
        rc = finish_run(g, run_id, id);
    }
    store_run_clear(&old);
    vm_program_free(p);
    vm_engine_free(g);
    store_close(s);
    json_decref(input);
    free(source);
    return rc;
}

static int cmd_resume(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"durability", 1, 0}, {"quiet", 0, 0}, {"program", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("resume"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl resume: give one run id (usage: wfdsl resume ID)\n");
        return EXIT_USAGE;
    }
    vm_program *forced = NULL;
    if (optv(&a, "program")) { /* resume on another program: what an edit would do */
        std_diags d = {0};
        if (dsl_compile_file(optv(&a, "program"), &forced, NULL, &d) != 0) {
            print_diags(&d);
            std_diags_free(&d);
            return EXIT_USAGE;
        }
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) {
        vm_program_free(forced);
        return rc;
    }
    vm_engine_opts eo = engine_opts(&a);
    vm_engine *g = vm_engine_new(s, &eo);
    char run_id[64] = "";
    std_err e = {0};
    if (vm_engine_resume_on(g, a.pos[0], forced, run_id, &e) != 0) {
        rc = resume_error(&e);
    } else {
        rc = finish_run(g, run_id, a.pos[0]);
    }
    vm_engine_free(g);
    store_close(s);
    return rc;
}

/* ---- cancel, terminate ------------------------------------------------- */

static int request_stop(int argc, char **argv, const char *mode)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"reason", 1, 0}, {"quiet", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command(mode))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl %s: give one run id (usage: wfdsl %s ID [--reason TEXT])\n", mode, mode);
        return EXIT_USAGE;
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) return rc;
    store_run r = {0};
    std_err e = {0};
    int found = store_run_get(s, a.pos[0], &r, &e);
    if (found <= 0) {
        if (found == 0) fprintf(stderr, "wfdsl %s: no run with id '%s'\n", mode, a.pos[0]);
        else fprintf(stderr, "wfdsl: %s\n", e.msg);
        store_close(s);
        return found == 0 ? EXIT_USAGE : EXIT_INTERNAL;
    }
    if (is_finished(r.status)) {
        fprintf(stderr, "wfdsl %s: run '%s' already finished (%s)\n", mode, a.pos[0], r.status);
        store_run_clear(&r);
        store_close(s);
        return EXIT_USAGE;
    }
    const char *reason = optv(&a, "reason");
    json_t *req = json_pack("{s:s, s:s}", "mode", mode, "reason", reason ? reason : "");
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    rc = store_run_request(s, r.run_id, text, &e) ? EXIT_INTERNAL : 0;
    free(text);
    char *owner = NULL;
    int64_t until = 0;
    if (!rc && store_run_lease_info(s, r.run_id, &owner, &until, &e) < 0) rc = EXIT_INTERNAL;
    if (rc) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
    } else if (owner && until > std_now_ms() && !vm_owner_is_dead(owner)) {
        /* the process executing it applies the request within a moment */
        printf("%s requested for run %s; %s applies it\n", mode, r.workflow_id, owner);
    } else {
        /* nobody is executing it: apply the request here */
        vm_engine_opts eo = engine_opts(&a);
        vm_engine *g = vm_engine_new(s, &eo);
        char run_id[64] = "";
        if (vm_engine_resume(g, r.run_id, run_id, &e) != 0 || vm_engine_run(g, &e) != 0) {
            fprintf(stderr, "wfdsl: %s\n", e.msg);
            rc = EXIT_INTERNAL;
        } else {
            json_t *err = NULL;
            const char *st = vm_engine_result(g, run_id, NULL, &err);
            printf("run %s %s\n", r.workflow_id, st ? st : "did not finish");
            rc = st && (!strcmp(st, "cancelled") || !strcmp(st, "terminated")) ? EXIT_OK : EXIT_FAILED;
        }
        vm_engine_free(g);
    }
    free(owner);
    store_run_clear(&r);
    store_close(s);
    return rc;
}

static int cmd_cancel(int argc, char **argv) { return request_stop(argc, argv, "cancel"); }
static int cmd_terminate(int argc, char **argv) { return request_stop(argc, argv, "terminate"); }

/* ---- list, show, history ----------------------------------------------- */

static json_t *parse_or_null(const char *text)
{
    if (!text) return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static json_t *run_json(const store_run *r)
{
    char c[40], u[40];
    std_fmt_time(r->created_ms, c, sizeof c);
    std_fmt_time(r->updated_ms, u, sizeof u);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", r->workflow_id,
                     "run_id", r->run_id, "workflow", r->name, "status", r->status, "program",
                     r->program_hash, "created_at", c, "updated_at", u, "input",
                     parse_or_null(r->input), "output", parse_or_null(r->output), "error",
                     parse_or_null(r->error));
}

static int cmd_list(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"status", 1, 0}, {"limit", 1, 0}, {"json", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("list"))) return 0;
    if (a.npos) {
        fprintf(stderr, "wfdsl list: unexpected argument '%s'\n", a.pos[0]);
        return EXIT_USAGE;
    }
    int limit = 100;
    if (optv(&a, "limit")) {
        char *end;
        long l = strtol(optv(&a, "limit"), &end, 10);
        if (*end || l < 0) {
            fprintf(stderr, "wfdsl list: --limit must be a number (0 for all)\n");
            return EXIT_USAGE;
        }
        limit = (int)l;
    }
    static const char *const statuses[] = {"running",    "waiting",         "completed",
                                           "failed",     "cancelled",       "terminated",
                                           "continued",  "needs_attention", "nondeterministic"};
    const size_t nst = sizeof statuses / sizeof *statuses;
    const char *want = optv(&a, "status");
    if (want) {
        size_t k = 0;
        while (k < nst && strcmp(statuses[k], want)) k++;
        if (k == nst) {
            const char *hint = std_suggest(want, statuses, nst);
            fprintf(stderr, "wfdsl list: unknown status '%s'%s%s%s\n", want, hint ? " (did you mean '" : "",
                    hint ? hint : "", hint ? "'?)" : "");
            return EXIT_USAGE;
        }
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) return rc;
    store_run *runs = NULL;
    size_t n = 0;
    std_err e = {0};
    if (store_runs_list(s, optv(&a, "status"), limit, &runs, &n, &e) != 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        store_close(s);
        return EXIT_INTERNAL;
    }
    if (optv(&a, "json")) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *r = run_json(&runs[i]);
            json_object_del(r, "input");
            json_object_del(r, "output");
            json_object_del(r, "error");
            json_array_append_new(arr, r);
        }
        print_json(stdout, arr);
        json_decref(arr);
    } else {
        printf("%-36s %-14s %-20s %-16s %s\n", "ID", "RUN", "WORKFLOW", "STATUS", "STARTED");
        for (size_t i = 0; i < n; i++) {
            char c[40];
            std_fmt_time(runs[i].created_ms, c, sizeof c);
            printf("%-36s %-14.12s %-20s %-16s %s\n", runs[i].workflow_id, runs[i].run_id,
                   runs[i].name, runs[i].status, c);
        }
    }
    store_runs_free(runs, n);
    store_close(s);
    return EXIT_OK;
}

/* Load a run and its history, or print why not. */
static int load_run(args *a, store **s, store_run *r, store_event **evs, size_t *n)
{
    int rc = open_store(a, s);
    if (rc) return rc;
    std_err e = {0};
    int found = store_run_get(*s, a->pos[0], r, &e);
    if (found <= 0) {
        if (found == 0) fprintf(stderr, "wfdsl %s: no run with id '%s'\n", cmd_name, a->pos[0]);
        else fprintf(stderr, "wfdsl: %s\n", e.msg);
        store_close(*s);
        return found == 0 ? EXIT_USAGE : EXIT_INTERNAL;
    }
    if (store_events_load(*s, r->run_id, evs, n, &e) != 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        store_run_clear(r);
        store_close(*s);
        return EXIT_INTERNAL;
    }
    return 0;
}

/* Steps of a history, one object per command: path, kind, status, attempts,
 * duration, output or error. */
static json_t *steps_of(store_event *evs, size_t n)
{
    json_t *steps = json_array(), *byseq = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_loads(evs[i].payload, JSON_DECODE_ANY, NULL);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(p, "seq")));
        json_t *s = json_object_get(byseq, key);
        const char *t = evs[i].type;
        if (!strcmp(t, "step_scheduled")) {
            s = json_pack("{s:O, s:O, s:s, s:i}", "step", json_object_get(p, "step"), "kind",
                          json_object_get(p, "kind"), "status", "scheduled", "attempts", 0);
            json_t *states = json_object_get(json_object_get(p, "args"), "states");
            if (states && !strcmp(json_string_value(json_object_get(p, "kind")), "dag"))
                json_object_set(s, "tasks", states); /* every task's state, skipped ones too */
            json_object_set_new(byseq, key, s);
            json_array_append(steps, s);
        } else if (s && !strcmp(t, "step_started")) {
            json_object_set(s, "attempts", json_object_get(p, "attempt"));
            json_object_set_new(s, "status", json_string("running"));
        } else if (s && !strcmp(t, "step_completed")) {
            json_object_set_new(s, "status", json_string("completed"));
            json_object_del(s, "error"); /* of an earlier attempt */
            json_object_set(s, "duration_ms", json_object_get(p, "duration_ms"));
            json_object_set(s, "output", json_object_get(p, "output"));
        } else if (s && !strcmp(t, "step_cancelled")) {
            json_object_set_new(s, "status", json_string("cancelled"));
        } else if (s && !strcmp(t, "step_failed")) {
            json_object_set_new(s, "status", json_string(json_is_false(json_object_get(p, "final")) ? "retrying" : "failed"));
            json_object_set(s, "duration_ms", json_object_get(p, "duration_ms"));
            json_object_set(s, "error", json_object_get(p, "error"));
        }
        json_decref(p);
    }
    json_decref(byseq);
    return steps;
}

static void print_value(const char *label, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && strlen(s) > 200) strcpy(s + 197, "...");
    printf("%-9s %s\n", label, s ? s : "null");
    free(s);
}

static int cmd_show(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"json", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("show"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl show: give one run id (usage: wfdsl show ID)\n");
        return EXIT_USAGE;
    }
    store *s = NULL;
    store_run r = {0};
    store_event *evs = NULL;
    size_t n = 0;
    int rc = load_run(&a, &s, &r, &evs, &n);
    if (rc) return rc;
    json_t *run = run_json(&r);
    json_t *steps = steps_of(evs, n);
    if (is_finished(r.status)) { /* what was cut short */
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            const char *ss = json_string_value(json_object_get(st, "status"));
            if (!strcmp(ss, "running") || !strcmp(ss, "scheduled") || !strcmp(ss, "retrying"))
                json_object_set_new(st, "status", json_string("stopped"));
        }
    }
    if (optv(&a, "json")) {
        json_object_set(run, "steps", steps);
        print_json(stdout, run);
    } else {
        printf("%-9s %s\n%-9s %s\n%-9s %s\n%-9s %s\n%-9s %.12s\n%-9s %s\n", "id", r.workflow_id,
               "run", r.run_id, "workflow", r.name, "status", r.status, "program", r.program_hash,
               "started", json_string_value(json_object_get(run, "created_at")));
        print_value("input", json_object_get(run, "input"));
        if (r.output) print_value("output", json_object_get(run, "output"));
        if (r.error) print_value("error", json_object_get(run, "error"));
        printf("steps:\n");
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            printf("  %-28s %-8s %-10s attempts %-3lld", json_string_value(json_object_get(st, "step")),
                   json_string_value(json_object_get(st, "kind")),
                   json_string_value(json_object_get(st, "status")),
                   (long long)json_integer_value(json_object_get(st, "attempts")));
            json_t *dur = json_object_get(st, "duration_ms");
            if (dur) printf(" %lldms", (long long)json_integer_value(dur));
            json_t *err = json_object_get(st, "error");
            if (err)
                printf("  %s: %s", json_string_value(json_object_get(err, "type")),
                       json_string_value(json_object_get(err, "message")));
            printf("\n");
            const char *tk;
            json_t *tv;
            json_object_foreach(json_object_get(st, "tasks"), tk, tv)
                printf("    %-26s %s\n", tk, json_string_value(tv));
        }
    }
    json_decref(run);
    json_decref(steps);
    store_events_free(evs, n);
    store_run_clear(&r);
    store_close(s);
    return EXIT_OK;
}

static int cmd_history(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"json", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("history"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl history: give one run id (usage: wfdsl history ID)\n");
        return EXIT_USAGE;
    }
    store *s = NULL;
    store_run r = {0};
    store_event *evs = NULL;
    size_t n = 0;
    int rc = load_run(&a, &s, &r, &evs, &n);
    if (rc) return rc;
    json_t *arr = optv(&a, "json") ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        char t[40];
        std_fmt_time(evs[i].time_ms, t, sizeof t);
        if (arr) {
            json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)evs[i].seq,
                                                 "type", evs[i].type, "time", t, "payload",
                                                 parse_or_null(evs[i].payload)));
        } else {
            printf("%4lld  %s  %-15s %s\n", (long long)evs[i].seq, t, evs[i].type, evs[i].payload);
        }
    }
    if (arr) {
        print_json(stdout, arr);
        json_decref(arr);
    }
    store_events_free(evs, n);
    store_run_clear(&r);
    store_close(s);
    return EXIT_OK;
}

/* ---- start, signal, worker, replay ------------------------------------- */

/* A signal's payload from the command line: JSON, or null when absent. */
static json_t *signal_payload(const char *arg, const char *cmd)
{
    if (!arg) return json_null();
    json_error_t je;
    json_t *v = json_loads(arg, JSON_DECODE_ANY, &je);
    if (!v) fprintf(stderr, "wfdsl %s: the signal payload is not valid JSON: %s\n", cmd, je.text);
    return v;
}

static int cmd_start(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0},      {"id", 1, 0},          {"input", 1, 0},
               {"db", 1, 0},        {"signal", 1, 0},      {"if-running", 1, 0},
               {"if-finished", 1, 0}, {"durability", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("start"))) return 0;
    const char *sig = optv(&a, "signal");
    if (a.npos != (size_t)(1 + (sig && a.npos == 2))) {
        fprintf(stderr, "wfdsl start: usage: wfdsl start FILE [--id ID] [--input JSON] [--signal NAME [JSON]]\n");
        return EXIT_USAGE;
    }
    const char *ifr = optv(&a, "if-running"), *iff = optv(&a, "if-finished");
    if (!ifr) ifr = "fail";
    if (!iff) iff = "allow";
    if (strcmp(ifr, "fail") && strcmp(ifr, "use-existing") && strcmp(ifr, "terminate")) {
        fprintf(stderr, "wfdsl start: --if-running must be fail, use-existing or terminate\n");
        return EXIT_USAGE;
    }
    if (strcmp(iff, "allow") && strcmp(iff, "reject") && strcmp(iff, "allow-failed")) {
        fprintf(stderr, "wfdsl start: --if-finished must be allow, reject or allow-failed\n");
        return EXIT_USAGE;
    }
    json_t *payload = sig ? signal_payload(a.npos == 2 ? a.pos[1] : NULL, "start") : NULL;
    if (sig && !payload) return EXIT_USAGE;
    std_diags d = {0};
    vm_program *p = NULL;
    char *source = NULL;
    if (dsl_compile_file(a.pos[0], &p, &source, &d) != 0) {
        print_diags(&d);
        std_diags_free(&d);
        json_decref(payload);
        return EXIT_USAGE;
    }
    json_t *input = new_run_input(p, optv(&a, "input"));
    store *s = NULL;
    int rc = input ? open_store(&a, &s) : EXIT_USAGE;
    const char *id = optv(&a, "id");
    char gen[128], run_id[64] = "";
    if (!rc && id && !valid_id(id)) rc = EXIT_USAGE;
    if (!id) {
        char r[33];
        std_random_hex(r);
        snprintf(gen, sizeof gen, "%s-%.12s", p->name, r);
        id = gen;
    }
    std_err e = {0};
    store_run old = {0};
    if (!rc && store_begin(s, &e) != 0) rc = EXIT_INTERNAL;
    int found = rc ? 0 : store_run_get(s, id, &old, &e);
    if (!rc && found < 0) rc = EXIT_INTERNAL;
    const char *target = NULL; /* the run to signal */
    if (!rc && found && !is_finished(old.status)) {
        if (!strcmp(ifr, "fail")) {
            fprintf(stderr, "wfdsl start: run '%s' is already running (use --if-running use-existing)\n", id);
            rc = EXIT_USAGE;
        } else if (!strcmp(ifr, "use-existing")) {
            target = old.run_id;
        } else { /* terminate: the executing process (or the next to load it) ends it */
            json_t *req = json_pack("{s:s, s:s}", "mode", "terminate", "reason", "replaced by a new run");
            char *t = json_dumps(req, JSON_COMPACT);
            json_decref(req);
            if (store_run_request(s, old.run_id, t, &e) != 0) rc = EXIT_INTERNAL;
            free(t);
            found = 0;
        }
    } else if (!rc && found && (!strcmp(iff, "reject") ||
                                (!strcmp(iff, "allow-failed") && !strcmp(old.status, "completed")))) {
        fprintf(stderr, "wfdsl start: run '%s' already finished (%s) and --if-finished is %s\n", id,
                old.status, iff);
        rc = EXIT_USAGE;
    }
    if (!rc && !target) {
        if (vm_record_run(s, p, source, id, input, NULL, run_id, &e) != 0) rc = EXIT_INTERNAL;
        target = run_id;
    }
    char *ptext = sig ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!rc && sig && store_signal_send(s, target, sig, ptext, &e) < 0) rc = EXIT_INTERNAL;
    free(ptext);
    if (!rc && store_commit(s, &e) != 0) rc = EXIT_INTERNAL;
    if (rc && s) store_rollback(s);
    if (rc == EXIT_INTERNAL) fprintf(stderr, "wfdsl: %s\n", e.msg);
    if (!rc) printf("%s\n", id);
    store_run_clear(&old);
    store_close(s);
    vm_program_free(p);
    free(source);
    json_decref(input);
    json_decref(payload);
    return rc;
}

static int cmd_signal(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("signal"))) return 0;
    if (a.npos < 2 || a.npos > 3) {
        fprintf(stderr, "wfdsl signal: usage: wfdsl signal ID NAME [JSON]\n");
        return EXIT_USAGE;
    }
    json_t *payload = signal_payload(a.npos == 3 ? a.pos[2] : NULL, "signal");
    if (!payload) return EXIT_USAGE;
    store *s = NULL;
    int rc = open_store(&a, &s);
    store_run r = {0};
    std_err e = {0};
    int found = rc ? 0 : store_run_get(s, a.pos[0], &r, &e);
    if (!rc && found <= 0) {
        if (found == 0) fprintf(stderr, "wfdsl signal: no run with id '%s'\n", a.pos[0]);
        else fprintf(stderr, "wfdsl: %s\n", e.msg);
        rc = found == 0 ? EXIT_USAGE : EXIT_INTERNAL;
    } else if (!rc && is_finished(r.status)) {
        fprintf(stderr, "wfdsl signal: run '%s' already finished (%s); the signal was not delivered\n",
                a.pos[0], r.status);
        rc = EXIT_USAGE;
    } else if (!rc) {
        char *t = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
        if (store_signal_send(s, r.run_id, a.pos[1], t, &e) < 0) {
            fprintf(stderr, "wfdsl: %s\n", e.msg);
            rc = EXIT_INTERNAL;
        } else {
            printf("signal %s sent to %s\n", a.pos[1], r.workflow_id);
        }
        free(t);
    }
    store_run_clear(&r);
    store_close(s);
    json_decref(payload);
    return rc;
}

static int cmd_worker(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"concurrency", 1, 0}, {"durability", 1, 0},
               {"quiet", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("worker"))) return 0;
    int conc = 100;
    if (optv(&a, "concurrency")) {
        char *end;
        long c = strtol(optv(&a, "concurrency"), &end, 10);
        if (*end || c < 1 || c > 1000000) {
            fprintf(stderr, "wfdsl worker: --concurrency must be a number from 1 to 1000000\n");
            return EXIT_USAGE;
        }
        conc = (int)c;
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) return rc;
    /* SIGINT/SIGTERM are blocked and checked between turns: a clean stop */
    sigset_t stop, pending;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    vm_engine_opts eo = engine_opts(&a);
    eo.progress = 0;
    eo.park = 1;
    vm_engine *g = vm_engine_new(s, &eo);
    std_err e = {0};
    if (!optv(&a, "quiet")) fprintf(stderr, "wfdsl worker: executing runs of %s (up to %d at once)\n", db_path(&a), conc);
    int64_t next_tick = 0;
    for (;;) {
        sigpending(&pending);
        if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)) break;
        if (std_now_ms() >= next_tick) { /* cron and interval triggers */
            next_tick = std_now_ms() + 250;
            if (vm_schedule_tick(s, std_now_ms(), &e) < 0) fprintf(stderr, "wfdsl worker: schedules: %s\n", e.msg);
        }
        int live = vm_engine_live(g);
        if (live < conc && vm_engine_claim(g, conc - live, &e) < 0) {
            fprintf(stderr, "wfdsl worker: %s\n", e.msg);
            rc = EXIT_INTERNAL;
            break;
        }
        if (vm_engine_turn(g, 100, &e) < 0) {
            fprintf(stderr, "wfdsl worker: %s\n", e.msg);
            rc = EXIT_INTERNAL;
            break;
        }
    }
    vm_engine_release(g);
    if (!optv(&a, "quiet")) fprintf(stderr, "wfdsl worker: stopped; runs in flight resume by replay in the next worker\n");
    vm_engine_free(g);
    store_close(s);
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"program", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("replay"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl replay: usage: wfdsl replay ID [--program FILE]\n");
        return EXIT_USAGE;
    }
    vm_program *forced = NULL;
    if (optv(&a, "program")) {
        std_diags d = {0};
        if (dsl_compile_file(optv(&a, "program"), &forced, NULL, &d) != 0) {
            print_diags(&d);
            std_diags_free(&d);
            return EXIT_USAGE;
        }
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    if (rc) {
        vm_program_free(forced);
        return rc;
    }
    vm_engine_opts eo = {.replay_only = 1};
    vm_engine *g = vm_engine_new(s, &eo);
    char run_id[64] = "";
    std_err e = {0};
    if (vm_engine_resume_on(g, a.pos[0], forced, run_id, &e) != 0) {
        rc = resume_error(&e);
    } else if (vm_engine_run(g, &e) != 0) {
        fprintf(stderr, "wfdsl: %s\n", e.msg);
        rc = EXIT_INTERNAL;
    } else {
        json_t *err = NULL;
        const char *st = vm_engine_result(g, run_id, NULL, &err);
        if (st && !strcmp(st, "nondeterministic")) {
            fprintf(stderr, "wfdsl replay: run %s diverges from its history: %s\n", a.pos[0],
                    json_string_value(json_object_get(err, "message")));
            rc = EXIT_FAILED;
        } else {
            printf("run %s replays its history without divergence (%s)\n", a.pos[0],
                   st && !strcmp(st, "consistent") ? "the run is still in flight" : "to its recorded end");
        }
    }
    vm_engine_free(g);
    store_close(s);
    return rc;
}

/* ---- deploy, schedules ------------------------------------------------- */

static int parse_time_arg(const char *s, int64_t *ms, const char *what)
{
    if (std_parse_time(s, ms) == 0) return 0;
    fprintf(stderr, "wfdsl schedule: %s '%s' is not an RFC 3339 time like 2026-01-01T09:00:00Z\n", what, s);
    return -1;
}

static int cmd_deploy(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("deploy"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl deploy: usage: wfdsl deploy FILE\n");
        return EXIT_USAGE;
    }
    std_diags d = {0};
    vm_program *p = NULL;
    char *source = NULL;
    if (dsl_compile_file(a.pos[0], &p, &source, &d) != 0) {
        print_diags(&d);
        std_diags_free(&d);
        return EXIT_USAGE;
    }
    size_t nu = print_undeployable(p, "error", "");
    if (nu) { /* a scheduled run could not start: refused before anything is stored */
        fprintf(stderr, "%s: %zu error%s\n", a.pos[0], nu, nu == 1 ? "" : "s");
        vm_program_free(p);
        free(source);
        return EXIT_USAGE;
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    std_err e = {0};
    int64_t next = 0;
    if (!rc && vm_deploy(s, p, source, &next, &e) != 0) {
        fprintf(stderr, "wfdsl deploy: %s\n", e.msg);
        rc = !strcmp(e.type, "usage") ? EXIT_USAGE : EXIT_INTERNAL;
    } else if (!rc) {
        char ts[40];
        std_fmt_time(next, ts, sizeof ts);
        printf("deployed %s (program %.12s); next fire %s\n", p->name, p->hash, next ? ts : "never");
    }
    store_close(s);
    vm_program_free(p);
    free(source);
    return rc;
}

static int cmd_undeploy(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("undeploy"))) return 0;
    if (a.npos != 1) {
        fprintf(stderr, "wfdsl undeploy: usage: wfdsl undeploy NAME\n");
        return EXIT_USAGE;
    }
    store *s = NULL;
    int rc = open_store(&a, &s);
    std_err e = {0};
    if (!rc && vm_undeploy(s, a.pos[0], &e) != 0) {
        fprintf(stderr, "wfdsl undeploy: %s\n", e.msg);
        rc = !strcmp(e.type, "notfound") ? EXIT_USAGE : EXIT_INTERNAL;
    } else if (!rc) {
        printf("undeployed %s; runs in flight go on\n", a.pos[0]);
    }
    store_close(s);
    return rc;
}

static void collect_schedule(void *ud, const char *name, const char *data)
{
    json_t *doc = json_loads(data, 0, NULL);
    if (doc) json_object_set_new(doc, "name", json_string(name));
    json_array_append_new((json_t *)ud, doc ? doc : json_null());
}

static void collect_slot(void *ud, int64_t slot, const char *kind, const char *run_id, int64_t t)
{
    char a[40], b[40];
    std_fmt_time(slot, a, sizeof a);
    std_fmt_time(t, b, sizeof b);
    json_array_append_new((json_t *)ud, json_pack("{s:s, s:s, s:s, s:s?}", "nominal", a, "actual", b,
                                                  "kind", kind, "run", run_id));
}

static void collect_log(void *ud, int64_t t, const char *action, const char *note)
{
    char a[40];
    std_fmt_time(t, a, sizeof a);
    json_array_append_new((json_t *)ud, json_pack("{s:s, s:s, s:s?}", "time", a, "action", action, "note", note));
}

static json_t *next_fires(json_t *triggers, int64_t from, int n)
{
    json_t *a = json_array();
    int64_t t = from;
    for (int i = 0; i < n; i++) {
        t = vm_triggers_next(triggers, t, NULL);
        if (!t) break;
        char ts[40];
        std_fmt_time(t, ts, sizeof ts);
        if (t % 1000 == 0) strcpy(strchr(ts, '.'), "Z");
        json_array_append_new(a, json_string(ts));
    }
    return a;
}

static int cmd_schedule(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0}, {"db", 1, 0}, {"json", 0, 0}, {"note", 1, 0},
               {"from", 1, 0}, {"to", 1, 0},  {"n", 1, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    for (int i = 0; i < argc; i++) /* -n N */
        if (!strcmp(argv[i], "-n")) argv[i] = "--n";
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("schedule"))) return 0;
    const char *sub = a.npos ? a.pos[0] : "";
    static const char *const subs[] = {"list", "show", "pause", "unpause", "trigger", "backfill", "preview"};
    size_t k = 0;
    while (k < 7 && strcmp(subs[k], sub)) k++;
    if (k == 7 || (k != 0 && a.npos != 2) || (k == 0 && a.npos != 1)) {
        fprintf(stderr, "wfdsl schedule: usage: wfdsl schedule list | show NAME | pause NAME [--note TEXT] |\n"
                        "  unpause NAME | trigger NAME | backfill NAME --from T --to T | preview NAME|FILE [-n N] [--from T]\n");
        return EXIT_USAGE;
    }
    const char *name = a.npos > 1 ? a.pos[1] : NULL;
    int n = optv(&a, "n") ? atoi(optv(&a, "n")) : 10;
    int64_t from = std_now_ms();
    if (optv(&a, "from") && parse_time_arg(optv(&a, "from"), &from, "--from")) return EXIT_USAGE;
    std_err e = {0};
    json_t *triggers = NULL, *doc = NULL;
    store *s = NULL;
    int rc = 0;
    if (k == 6 && name && strchr(name, '.')) { /* preview of a file: no database needed */
        std_diags d = {0};
        vm_program *p = NULL;
        if (dsl_compile_file(name, &p, NULL, &d) != 0) {
            print_diags(&d);
            std_diags_free(&d);
            return EXIT_USAGE;
        }
        triggers = json_incref(json_object_get(p->meta, "triggers"));
        vm_program_free(p);
    } else {
        rc = open_store(&a, &s);
        if (rc) return rc;
        if (name) {
            char *data = NULL;
            int got = store_schedule_get(s, name, &data, &e);
            if (got <= 0) {
                fprintf(stderr, "wfdsl schedule: %s\n", got == 0 ? "no such schedule (see wfdsl schedule list)" : e.msg);
                store_close(s);
                return got == 0 ? EXIT_USAGE : EXIT_INTERNAL;
            }
            doc = json_loads(data, 0, NULL);
            free(data);
            triggers = json_incref(json_object_get(doc, "triggers"));
        }
    }
    const char *note = optv(&a, "note");
    if (k == 0) { /* list */
        json_t *all = json_array();
        rc = store_schedules_all(s, collect_schedule, all, &e) ? EXIT_INTERNAL : 0;
        if (optv(&a, "json")) {
            print_json(stdout, all);
        } else {
            printf("%-28s %-8s %-26s %s\n", "NAME", "STATE", "NEXT FIRE", "TRIGGERS");
            size_t i;
            json_t *d;
            json_array_foreach(all, i, d) {
                char ts[40] = "never";
                json_int_t nx = json_integer_value(json_object_get(d, "next_ms"));
                if (nx) std_fmt_time(nx, ts, sizeof ts);
                char *tr = json_dumps(json_object_get(d, "triggers"), JSON_COMPACT);
                printf("%-28s %-8s %-26s %.60s\n", json_string_value(json_object_get(d, "name")),
                       json_is_true(json_object_get(d, "paused")) ? "paused" : "active", ts, tr);
                free(tr);
            }
        }
        json_decref(all);
    } else if (k == 1) { /* show */
        json_t *slots = json_array(), *log = json_array();
        store_slots(s, name, NULL, 20, collect_slot, slots, &e);
        store_schedule_log_list(s, name, 20, collect_log, log, &e);
        json_t *counts = json_object();
        static const char *const kinds[] = {"fired", "skipped", "missed", "buffered", "refused"};
        for (int i = 0; i < 5; i++) {
            json_t *tmp = json_array();
            store_slots(s, name, kinds[i], 1000000, collect_slot, tmp, &e);
            json_object_set_new(counts, kinds[i], json_integer((json_int_t)json_array_size(tmp)));
            json_decref(tmp);
        }
        /* the status of each fired run */
        size_t i;
        json_t *sl;
        json_array_foreach(slots, i, sl) {
            const char *rid = json_string_value(json_object_get(sl, "run"));
            store_run r = {0};
            if (rid && store_run_get(s, rid, &r, &e) == 1) json_object_set_new(sl, "status", json_string(r.status));
            store_run_clear(&r);
        }
        json_t *out = json_pack("{s:s, s:b, s:O?, s:O, s:o, s:o, s:o, s:o}", "name", name, "paused",
                                json_is_true(json_object_get(doc, "paused")), "note",
                                json_object_get(doc, "note"), "triggers", triggers, "next",
                                next_fires(triggers, std_now_ms(), 5), "recent", slots, "counts", counts,
                                "log", log);
        if (optv(&a, "json")) {
            print_json(stdout, out);
        } else {
            printf("schedule %s (%s)\n", name, json_is_true(json_object_get(doc, "paused")) ? "paused" : "active");
            json_int_t refused = json_integer_value(json_object_get(counts, "refused"));
            char refused_text[80];
            snprintf(refused_text, sizeof refused_text, ", refused (trigger input) %lld", (long long)refused);
            printf("counts    fired %lld, skipped by overlap %lld, missed by catch-up %lld, buffered %lld%s\n",
                   (long long)json_integer_value(json_object_get(counts, "fired")),
                   (long long)json_integer_value(json_object_get(counts, "skipped")),
                   (long long)json_integer_value(json_object_get(counts, "missed")),
                   (long long)json_integer_value(json_object_get(counts, "buffered")),
                   refused ? refused_text : "");
            printf("next:\n");
            json_t *v;
            json_array_foreach(json_object_get(out, "next"), i, v) printf("  %s\n", json_string_value(v));
            printf("recent (nominal, actual, kind, run, status):\n");
            json_array_foreach(slots, i, v)
                printf("  %s  %s  %-8s %s %s\n", json_string_value(json_object_get(v, "nominal")),
                       json_string_value(json_object_get(v, "actual")), json_string_value(json_object_get(v, "kind")),
                       json_string_value(json_object_get(v, "run")) ? json_string_value(json_object_get(v, "run")) : "-",
                       json_string_value(json_object_get(v, "status")) ? json_string_value(json_object_get(v, "status")) : "");
            printf("log:\n");
            json_array_foreach(log, i, v)
                printf("  %s  %-9s %s\n", json_string_value(json_object_get(v, "time")),
                       json_string_value(json_object_get(v, "action")),
                       json_string_value(json_object_get(v, "note")) ? json_string_value(json_object_get(v, "note")) : "");
        }
        json_decref(out);
    } else if (k == 2 || k == 3) { /* pause, unpause */
        json_object_set_new(doc, "paused", json_boolean(k == 2));
        if (note) json_object_set_new(doc, "note", json_string(note));
        if (k == 3) { /* what was due while paused is not fired afterwards */
            json_object_set_new(doc, "next_ms", json_integer(vm_triggers_next(triggers, std_now_ms(), NULL)));
        }
        char *t = json_dumps(doc, JSON_COMPACT);
        if (store_schedule_put(s, name, t, &e) || store_schedule_log(s, name, subs[k], note, &e)) rc = EXIT_INTERNAL;
        free(t);
        if (!rc) printf("%s %sd\n", name, subs[k]);
    } else if (k == 4) { /* trigger */
        int64_t now = std_now_ms();
        int got = vm_schedule_fire(s, name, now, &e);
        if (got == -2) { /* its trigger's input does not fit the schema */
            fprintf(stderr, "wfdsl schedule trigger: %s\n", e.msg);
            rc = EXIT_USAGE;
        } else if (got < 0 || store_schedule_log(s, name, "trigger", note, &e)) rc = EXIT_INTERNAL;
        char id[300];
        vm_slot_id(json_string_value(json_object_get(doc, "workflow")), now, id, sizeof id);
        if (!rc) printf("%s\n", id);
    } else if (k == 5) { /* backfill */
        int64_t to = 0;
        if (!optv(&a, "from") || !optv(&a, "to")) {
            fprintf(stderr, "wfdsl schedule backfill: needs --from T and --to T\n");
            rc = EXIT_USAGE;
        } else if (parse_time_arg(optv(&a, "to"), &to, "--to")) {
            rc = EXIT_USAGE;
        } else {
            int started = 0;
            for (int64_t t = vm_triggers_next(triggers, from - 1, NULL); t && t <= to && !rc;
                 t = vm_triggers_next(triggers, t, NULL)) {
                int got = vm_schedule_fire(s, name, t, &e);
                if (got == -2) {
                    fprintf(stderr, "wfdsl schedule backfill: %s\n", e.msg);
                    rc = EXIT_USAGE;
                } else if (got < 0) {
                    rc = EXIT_INTERNAL;
                }
                started += got > 0;
            }
            char msg[200];
            snprintf(msg, sizeof msg, "%s .. %s%s%s", optv(&a, "from"), optv(&a, "to"), note ? ": " : "", note ? note : "");
            if (!rc && store_schedule_log(s, name, "backfill", msg, &e)) rc = EXIT_INTERNAL;
            if (!rc) printf("backfill of %s: %d runs started\n", name, started);
        }
    } else { /* preview */
        json_t *times = next_fires(triggers, from, n);
        if (optv(&a, "json")) print_json(stdout, times);
        else {
            size_t i;
            json_t *v;
            json_array_foreach(times, i, v) printf("%s\n", json_string_value(v));
        }
        json_decref(times);
    }
    if (rc == EXIT_INTERNAL) fprintf(stderr, "wfdsl: %s\n", e.msg);
    json_decref(triggers);
    json_decref(doc);
    store_close(s);
    return rc;
}

/* ---- import ------------------------------------------------------------ */

/* `import airflow` / `import dag-factory`: exit 0 all converted, 2 the YAML is
 * written but items need a person, 1 nothing written. */
static int import_airflow(args *a, const char *form)
{
    dsl_af_opts o = {.dag_id = optv(a, "dag"), .map = optv(a, "map")};
    const char *ver = optv(a, "airflow-version"), *rep = optv(a, "report");
    if (ver) {
        if (strcmp(ver, "2") && strcmp(ver, "3")) {
            fprintf(stderr, "wfdsl import: --airflow-version must be 2 or 3, not '%s'\n", ver);
            return DSL_AF_FATAL;
        }
        o.version = ver[0] - '0';
    }
    if (rep && strcmp(rep, "text") && strcmp(rep, "json")) {
        fprintf(stderr, "wfdsl import: --report must be text or json, not '%s'\n", rep);
        return DSL_AF_FATAL;
    }
    dsl_af_source kind = optv(a, "from-ir") ? DSL_AF_IR : !strcmp(form, "dag-factory") ? DSL_AF_DAGFACTORY : DSL_AF_PY;
    std_diags d = {0};
    std_buf out = {0};
    json_t *report = NULL;
    int rc = dsl_airflow_import(a->pos[1], kind, &o, optv(a, "ir") != NULL, &out, &report, &d);
    print_diags(&d);
    std_diags_free(&d);
    if (rc != DSL_AF_FATAL) fwrite(out.p, 1, out.len, stdout);
    std_buf_free(&out);
    if (report) {
        const char *rf = optv(a, "report-file");
        if (rf) {
            if (json_dump_file(report, rf, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
                fprintf(stderr, "wfdsl import: cannot write the report to %s\n", rf);
        }
        if (rep && !strcmp(rep, "json")) {
            json_dumpf(report, stderr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stderr);
        } else {
            std_buf t = {0};
            dsl_airflow_report_text(report, &t);
            if (t.len) fwrite(t.p, 1, t.len, stderr);
            std_buf_free(&t);
        }
        json_decref(report);
    }
    return rc;
}

static int cmd_import(int argc, char **argv)
{
    opt o[] = {{"help", 0, 0},           {"resources", 1, 0}, {"dag", 1, 0},     {"map", 1, 0},
               {"airflow-version", 1, 0}, {"report", 1, 0},    {"report-file", 1, 0}, {"ir", 0, 0},
               {"from-ir", 0, 0}};
    args a = {o, sizeof o / sizeof *o, {0}, 0};
    if (parse_args(argc, argv, &a)) return EXIT_USAGE;
    if (want_help(&a, find_command("import"))) return 0;
    if (a.npos == 2 && (!strcmp(a.pos[0], "airflow") || !strcmp(a.pos[0], "dag-factory"))) {
        if (optv(&a, "resources")) {
            fprintf(stderr, "wfdsl import: --resources is for stepfunctions; Airflow imports take --map\n");
            return DSL_AF_FATAL;
        }
        return import_airflow(&a, a.pos[0]);
    }
    if (a.npos != 2 || strcmp(a.pos[0], "stepfunctions") != 0) {
        fprintf(stderr, "wfdsl import: usage: wfdsl import stepfunctions FILE [--resources MAP]\n"
                        "       wfdsl import airflow|dag-factory FILE [--dag ID] [--map MAP] [--airflow-version 2|3]\n"
                        "                    [--report text|json] [--report-file PATH] [--ir]\n");
        return EXIT_USAGE;
    }
    for (size_t i = 2; i < a.nopts; i++)
        if (a.opts[i].value) {
            fprintf(stderr, "wfdsl import: --%s is for Airflow imports\n", a.opts[i].name);
            return EXIT_USAGE;
        }
    std_diags d = {0};
    std_buf out = {0};
    if (dsl_asl_import(a.pos[1], optv(&a, "resources"), &out, &d) != 0) {
        print_diags(&d);
        std_diags_free(&d);
        std_buf_free(&out);
        return EXIT_USAGE;
    }
    fwrite(out.p, 1, out.len, stdout);
    std_buf_free(&out);
    return EXIT_OK;
}

/* ---- table of commands ------------------------------------------------- */

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"run", cmd_run, "run a workflow to completion and print its output",
     "usage: wfdsl run FILE [--input JSON|@FILE] [--id ID] [--new] [--db PATH]\n"
     "\n"
     "Compile FILE, start a run and drive it to its end in the foreground; print the\n"
     "workflow's output as JSON on stdout. Every step is recorded in the database.\n"
     "\n"
     "  --input JSON|@FILE   the run's input (checked against the workflow's input schema)\n"
     "  --id ID              the workflow id; if a run with this id was interrupted, it is\n"
     "                       resumed (replayed, then continued) on the program it started with\n"
     "  --new                start a new run even if a run with --id has finished\n"
     "  --db PATH            database (default: $WFDSL_DB, else ./wfdsl.db)\n"
     "  --durability MODE    full (default: every commit fsync'd) or normal\n"
     "  --quiet              no progress lines on stderr\n"
     "  --resources MAP      for an ASL file (*.asl.json): the Task resource map\n"
     "\n"
     "Exit codes: 0 completed, 1 the workflow failed, 2 bad usage, definition or input,\n"
     "3 storage or internal error.\n"},
    {"resume", cmd_resume, "continue an interrupted run",
     "usage: wfdsl resume ID [--program FILE] [--db PATH]\n"
     "\n"
     "Replay the history of run ID (a workflow id or run id) on its stored program and\n"
     "continue at the first step without a recorded outcome. Completed steps are not run\n"
     "again. On a finished run, the replay checks that the program reproduces the recorded\n"
     "result without running anything, and prints the output. --program FILE resumes on\n"
     "FILE's program instead of the stored one: a change that alters the recorded\n"
     "commands stops the run as 'nondeterministic'.\n"
     "Exit codes as for 'run'.\n"},
    {"cancel", cmd_cancel, "cancel a run: stop its effects, run compensations and finally",
     "usage: wfdsl cancel ID [--reason TEXT] [--db PATH]\n"
     "\n"
     "Request the cancellation of run ID. Its effects in flight are stopped (HTTP requests\n"
     "aborted, shell process groups killed), then its finally blocks, the compensations of\n"
     "its completed steps and its on_error steps run; it ends as 'cancelled'. The request\n"
     "is recorded in the database: the process executing the run applies it; if no process\n"
     "is executing it, this command does.\n"
     "Exit codes: 0 requested or cancelled, 1 it ended otherwise, 2 unknown or finished run.\n"},
    {"terminate", cmd_terminate, "stop a run at once, running nothing more",
     "usage: wfdsl terminate ID [--reason TEXT] [--db PATH]\n"
     "\n"
     "Like cancel, but nothing of the workflow runs any more: no compensation, no finally,\n"
     "no on_error. The run ends as 'terminated'. Its attached child runs that have not\n"
     "finished (and theirs) are terminated with it, whichever process executes them;\n"
     "detached children are left alone.\n"},
    {"start", cmd_start, "record a new run for a worker and print its id",
     "usage: wfdsl start FILE [--id ID] [--input JSON|@FILE] [--signal NAME [JSON]]\n"
     "                  [--if-running fail|use-existing|terminate]\n"
     "                  [--if-finished allow|reject|allow-failed] [--db PATH]\n"
     "\n"
     "Record a run of FILE and print its workflow id at once; 'wfdsl worker' executes it.\n"
     "The workflow id is the idempotency boundary: a running run with this id makes start\n"
     "fail (default), or reuse it, or terminate it for a new run; a finished one allows a\n"
     "new run (default), or not, or only if it did not complete. --signal sends a signal\n"
     "in the same transaction (signal-with-start: starts the run if it does not exist).\n"},
    {"worker", cmd_worker, "execute runs, timers and signals until stopped",
     "usage: wfdsl worker [--concurrency N] [--db PATH]\n"
     "\n"
     "Execute started runs, wake runs whose timers are due or that got a signal, and take\n"
     "over runs whose executing process died (by replay). Runs waiting only on timers or\n"
     "signals leave memory. Several workers may share one database: a run is executed by\n"
     "the process holding its lease. SIGINT or SIGTERM stop it cleanly. N (default 100)\n"
     "bounds the runs in memory. A run it cannot load (damaged program or history, a\n"
     "secret not set) is marked needs_attention, with one line on stderr saying why.\n"},
    {"signal", cmd_signal, "send a signal to a run",
     "usage: wfdsl signal ID NAME [JSON] [--db PATH]\n"
     "\n"
     "Store signal NAME with its JSON payload (null when absent) for run ID. A 'wait' for\n"
     "NAME receives it, also when it was sent before the run reached the wait; several\n"
     "signals of one name are received in the order they were sent.\n"},
    {"replay", cmd_replay, "check a run's history against its program",
     "usage: wfdsl replay ID [--program FILE] [--db PATH]\n"
     "\n"
     "Re-run the history of run ID on its stored program (or on FILE) without executing\n"
     "anything or writing to the database, and report the first divergence.\n"
     "Exit codes: 0 no divergence, 1 divergence, 2 unknown run or bad FILE.\n"},
    {"deploy", cmd_deploy, "register a workflow's triggers for the workers",
     "usage: wfdsl deploy FILE [--db PATH]\n"
     "\n"
     "Store FILE's program and its cron/interval triggers as the schedule named after\n"
     "the workflow; re-deploying updates it (runs in flight keep their program). Every\n"
     "'wfdsl worker' fires its slots: one run per slot, id WORKFLOW@TIME (RFC 3339 UTC).\n"
     "A trigger whose input does not fit the workflow's input schema (a required field\n"
     "missing included) is refused with its file:line:col (exit 2).\n"},
    {"undeploy", cmd_undeploy, "remove a workflow's schedule",
     "usage: wfdsl undeploy NAME [--db PATH]\n"},
    {"schedule", cmd_schedule, "list, inspect, pause, trigger, backfill and preview schedules",
     "usage: wfdsl schedule list [--json]\n"
     "       wfdsl schedule show NAME [--json]        recent fires, next fires, counts, audit log\n"
     "       wfdsl schedule pause NAME [--note TEXT]  stop firing (recorded with the note)\n"
     "       wfdsl schedule unpause NAME [--note TEXT]\n"
     "       wfdsl schedule trigger NAME [--note TEXT] start a run now\n"
     "       wfdsl schedule backfill NAME --from T --to T [--note TEXT]  runs for past slots\n"
     "       wfdsl schedule preview NAME|FILE [-n N] [--from T] [--json]  the next fire times\n"
     "T is an RFC 3339 time (2026-01-01T09:00:00Z). --json prints JSON (preview: an array\n"
     "of RFC 3339 UTC times).\n"},
    {"check", cmd_check, "validate workflow files",
     "usage: wfdsl check FILE... [--resources MAP]\n"
     "\n"
     "Load and compile each FILE and report every error as file:line:col: error: message.\n"
     "An ASL file (*.asl.json) is validated and translated; MAP maps its Task resources.\n"
     "Exit codes: 0 all valid, 2 any error.\n"},
    {"explain", cmd_explain, "show the bytecode of a workflow",
     "usage: wfdsl explain FILE\n"
     "\n"
     "Print the compiled program, one instruction a line: address, opcode, operands and\n"
     "the YAML line it came from.\n"},
    {"graph", cmd_graph, "draw a workflow's steps and dag tasks",
     "usage: wfdsl graph FILE [--format text|dot|mermaid] [--resources MAP]\n"
     "\n"
     "Check FILE and draw its structure on stdout: steps in order, block steps as boxes\n"
     "around their steps, and each dag step's tasks joined by their 'needs', labelled\n"
     "with their trigger rule when it is not all_success. text (the default) is an\n"
     "indented outline, dot is for Graphviz (dot -Tsvg), mermaid for Markdown viewers.\n"
     "It draws what the file declares; what a run did is in 'wfdsl show'.\n"},
    {"import", cmd_import, "translate Step Functions, Airflow DAGs or dag-factory YAML to wfdsl YAML",
     "usage: wfdsl import stepfunctions FILE [--resources MAP]\n"
     "       wfdsl import airflow FILE.py [--dag ID] [--map MAP] [--airflow-version 2|3]\n"
     "                    [--report text|json] [--report-file PATH] [--ir] [--from-ir]\n"
     "       wfdsl import dag-factory FILE.yaml [same options]\n"
     "\n"
     "stepfunctions: validate the Amazon States Language file FILE (JSONPath mode) and print\n"
     "the equivalent wfdsl workflow as YAML. MAP (YAML or JSON) maps Task resources to steps:\n"
     "  resources: [{state: GLOB | match: ARN-GLOB, step: STEP, lambda_payload: true}]\n"
     "  waits: {STATE-GLOB: DURATION}    retry_waits: false\n"
     "In a mapped step, steps.task.input is the Task's input. 'wfdsl run FILE.asl.json'\n"
     "runs the file directly. Exit codes: 0 done, 2 invalid or unsupported definition.\n"
     "\n"
     "airflow, dag-factory: print one Airflow DAG as a workflow with a 'dag' step (tasks,\n"
     "needs, trigger rules), triggers from its schedule and a report on stderr, one line\n"
     "per item (FILE:LINE: kind: message): stubs, placeholder inputs, secrets,\n"
     "connections, relative dates, constructs not converted.\n"
     "  --dag ID               the DAG to import when the file holds several\n"
     "  --map MAP              operator map: operators: [{match: CLASS-GLOB, task: ID-GLOB,\n"
     "                         step: STEP with ${kwargs.NAME}, ${task_id}, ${dag_id} slots}]\n"
     "  --airflow-version 2|3  the semantics (default: inferred from the imports, else 2)\n"
     "  --report json          the report as one JSON document on stderr\n"
     "  --report-file PATH     also write the JSON report to PATH\n"
     "  --ir                   print the front end's intermediate form (JSON) instead\n"
     "  --from-ir              FILE is that intermediate form (a testing aid)\n"
     "Exit codes: 0 all converted, 2 written but stubs or placeholders remain (see the\n"
     "report), 1 nothing written (unreadable file, no or unknown DAG, bad map).\n"},
    {"list", cmd_list, "list runs",
     "usage: wfdsl list [--status STATUS] [--limit N] [--json] [--db PATH]\n"
     "\n"
     "Runs, newest first (100 unless --limit; 0 for all). STATUS is running, waiting\n"
     "(parked on timers or signals), completed, failed, cancelled, terminated, continued\n"
     "(as new), needs_attention (a compensation failed, or a worker could not load the\n"
     "run: 'wfdsl resume ID' continues it once the cause is fixed) or nondeterministic.\n"},
    {"show", cmd_show, "show a run: status, input, output or error, steps",
     "usage: wfdsl show ID [--json] [--db PATH]\n"
     "\n"
     "ID is a workflow id (its latest run) or a run id.\n"},
    {"history", cmd_history, "print every event of a run's history",
     "usage: wfdsl history ID [--json] [--db PATH]\n"},
    {"help", cmd_help, "help on a command", "usage: wfdsl help [COMMAND]\n"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "wfdsl %s — durable workflows from YAML files, recorded in SQLite\n\n"
               "usage: wfdsl COMMAND [ARGS] (wfdsl COMMAND --help for details)\n\ncommands:\n",
            WFDSL_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit codes: 0 success, 1 the workflow failed, 2 bad usage or definition,\n"
               "3 storage or internal error. Database: --db, else $WFDSL_DB, else ./wfdsl.db.\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("%s", find_command("help")->help); /* wfdsl help --help */
        return 0;
    }
    if (argc > 0) {
        const command *c = find_command(argv[0]);
        if (!c) {
            fprintf(stderr, "wfdsl help: unknown command '%s'\n", argv[0]);
            return EXIT_USAGE;
        }
        printf("%s", c->help);
        return 0;
    }
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("wfdsl %s\n", WFDSL_VERSION);
        return 0;
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        const char *names[NCOMMANDS];
        for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i].name;
        const char *hint = std_suggest(argv[1], names, NCOMMANDS);
        fprintf(stderr, "wfdsl: unknown command '%s'%s%s%s (see wfdsl --help)\n", argv[1],
                hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
        return EXIT_USAGE;
    }
    cmd_name = c->name;
    return c->fn(argc - 2, argv + 2);
}
